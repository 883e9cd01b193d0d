-- ONNX converters for the ops tensorslow already has (onnx.lua's registry; the node
-- object `n` is described there and in DEVELOPERS.md, "ONNX import"). ONNX axes are
-- 0-based: ax() turns a non-negative axis a into a + 1, negative ones stay. A converter
-- handles every attribute value ONNX allows up to opset 17, or fails naming the value.
return function(reg, ts, I)
  local function ax(a) return a >= 0 and a + 1 or a end
  local function axes_of(list)
    local r = {}
    for i, a in ipairs(list) do r[i] = ax(a) end
    return r
  end
  -- input i's static shape (entries -1 when unknown); fails when the rank is unknown.
  local function shape_of(n, i)
    local s = n.inputs[i].shape
    if not s then n:fail(("input %d has an unknown rank"):format(i)) end
    return s
  end
  local matmul_nd
  local function known_shape(n, i, what)
    local s = shape_of(n, i)
    for _, d in ipairs(s) do
      if d < 0 then n:fail(("%s needs input %d's shape known when the model is loaded, got {%s}")
        :format(what, i, table.concat(s, ", "))) end
    end
    return s
  end
  -- a constant input's values as a Lua list of integers
  local function ints(n, i, what)
    local t = n:need_const(i, what)
    return t:reshape({ -1 }):totable()
  end
  local function const_like(v, x) return ts.constant(v, { dtype = x.dtype }) end
  local function norm_axis(a, rank) return a < 0 and a + rank or a end -- 0-based, ONNX

  ----------------------------------------------------------- element-wise
  local unary = { Neg = ts.negative, Abs = ts.abs, Sign = ts.sign, Exp = ts.exp, Log = ts.log,
    Sqrt = ts.sqrt, Reciprocal = ts.reciprocal, Sin = ts.sin, Cos = ts.cos, Tanh = ts.tanh,
    Sigmoid = ts.sigmoid, Relu = ts.relu, Softplus = ts.softplus, Softsign = ts.softsign }
  for op, f in pairs(unary) do
    reg(op, function(n) return f(n.inputs[1]) end)
  end
  local binary = { Add = ts.add, Sub = ts.subtract, Mul = ts.multiply, Pow = ts.pow,
    Equal = ts.equal, Less = ts.less, LessOrEqual = ts.less_equal, Greater = ts.greater,
    GreaterOrEqual = ts.greater_equal }
  -- Before opset 7, broadcast=1 with axis: b's dims line up with a's from axis on.
  local function legacy_b(n, b)
    if n.opset >= 7 or n:attr("broadcast", 0) ~= 1 then return b end
    local sa, sb = shape_of(n, 1), shape_of(n, 2)
    local axis = n:attr("axis")
    if not axis then return b end
    axis = norm_axis(axis, #sa)
    local shp = {}
    for i, d in ipairs(sb) do shp[i] = d end
    for _ = 1, #sa - axis - #sb do shp[#shp + 1] = 1 end
    if #shp == #sb then return b end
    return ts.reshape(b, shp)
  end
  local NARROW = { uint8 = true }
  for op, f in pairs(binary) do
    reg(op, function(n)
      local a, b = n.inputs[1], n.inputs[2]
      b = legacy_b(n, b)
      if op == "Pow" then
        -- the result has the base's type; integers go through float64
        if a.dtype == "float32" or a.dtype == "float64" then
          if b.dtype ~= a.dtype then b = ts.cast(b, a.dtype) end
          return f(a, b)
        end
        return ts.cast(f(ts.cast(a, "float64"), ts.cast(b, "float64")), a.dtype)
      end
      -- uint8 arithmetic wraps around (through int64; the cast back is modular)
      if NARROW[a.dtype] and (op == "Add" or op == "Sub" or op == "Mul") then
        return ts.cast(f(ts.cast(a, "int64"), ts.cast(b, "int64")), a.dtype)
      end
      return f(a, b)
    end)
  end
  reg("Div", function(n)
    local a, b = n.inputs[1], n.inputs[2]
    b = legacy_b(n, b)
    if a.dtype == "float32" or a.dtype == "float64" then return ts.divide(a, b) end
    -- integers: truncated toward zero, as C (and the ONNX reference) divide
    return ts.cast(ts.divide(ts.cast(a, "float64"), ts.cast(b, "float64")), a.dtype)
  end)
  local function variadic(f, finish)
    return function(n)
      local r = n.inputs[1]
      for i = 2, n.ninputs do r = f(r, n.inputs[i]) end
      if finish then r = finish(r, n) end
      return n.ninputs == 1 and ts.identity(r) or r
    end
  end
  reg("Sum", variadic(ts.add))
  reg("Max", variadic(ts.maximum))
  reg("Min", variadic(ts.minimum))
  reg("Mean", variadic(ts.add, function(r, n) return ts.divide(r, const_like(n.ninputs, r)) end))

  reg("LeakyRelu", function(n) return ts.leaky_relu(n.inputs[1], n:attr("alpha", 0.01)) end)
  reg("Elu", function(n) return ts.elu(n.inputs[1], n:attr("alpha", 1.0)) end)
  reg("Selu", function(n)
    local x = n.inputs[1]
    local alpha = n:attr("alpha", 1.67326319217681884765625)
    local gamma = n:attr("gamma", 1.05070102214813232421875)
    return ts.multiply(ts.elu(x, alpha), const_like(gamma, x))
  end)
  reg("Celu", function(n)
    local x = n.inputs[1]
    local alpha = n:attr("alpha", 1.0)
    -- max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    local e = ts.multiply(const_like(alpha, x),
      ts.subtract(ts.exp(ts.divide(x, const_like(alpha, x))), const_like(1, x)))
    return ts.add(ts.relu(x), ts.minimum(e, const_like(0, x)))
  end)
  reg("ThresholdedRelu", function(n)
    local x = n.inputs[1]
    local alpha = n:attr("alpha", 1.0)
    return ts.where(ts.greater(x, const_like(alpha, x)), x, const_like(0, x))
  end)
  reg("HardSigmoid", function(n)
    local x = n.inputs[1]
    local y = ts.add(ts.multiply(x, const_like(n:attr("alpha", 0.2), x)), const_like(n:attr("beta", 0.5), x))
    return ts.minimum(ts.maximum(y, const_like(0, x)), const_like(1, x))
  end)
  reg("HardSwish", function(n)
    local x = n.inputs[1]
    local y = ts.add(ts.multiply(x, const_like(1 / 6, x)), const_like(0.5, x))
    return ts.multiply(x, ts.minimum(ts.maximum(y, const_like(0, x)), const_like(1, x)))
  end)
  reg("PRelu", function(n)
    local x, slope = n.inputs[1], n.inputs[2]
    local sx, ss = shape_of(n, 1), shape_of(n, 2)
    -- a 1-D slope of the channel count (older exports) lines up with axis 2
    if #ss == 1 and #sx > 2 and ss[1] == sx[2] and ss[1] ~= sx[#sx] and ss[1] > 1 then
      local shp = { ss[1] }
      for _ = 3, #sx do shp[#shp + 1] = 1 end
      slope = ts.reshape(slope, shp)
    end
    return ts.where(ts.less(x, const_like(0, x)), ts.multiply(x, slope),
      ts.multiply(x, ts.ones_like(slope)))
  end)
  reg("Mish", function(n)
    local x = n.inputs[1]
    return ts.multiply(x, ts.tanh(ts.softplus(x)))
  end)
  reg("Shrink", function(n)
    local x = n.inputs[1]
    local lambd, bias = n:attr("lambd", 0.5), n:attr("bias", 0.0)
    local xf = (x.dtype == "float32" or x.dtype == "float64") and x or ts.cast(x, "float64")
    local function c(v) return const_like(v, xf) end
    local y = ts.where(ts.less(xf, c(-lambd)), ts.add(xf, c(bias)),
      ts.where(ts.greater(xf, c(lambd)), ts.subtract(xf, c(bias)), ts.zeros_like(xf)))
    return xf == x and y or ts.cast(y, x.dtype)
  end)
  reg("MeanVarianceNormalization", function(n)
    local x = n.inputs[1]
    local axes = axes_of(n:attr("axes", { 0, 2, 3 }))
    local mean = ts.reduce_mean(x, axes, true)
    local d = ts.subtract(x, mean)
    local var = ts.reduce_mean(ts.square(d), axes, true)
    return ts.divide(d, ts.add(ts.sqrt(var), const_like(1e-9, var)))
  end)
  reg("Where", function(n)
    local c, a, b = n.inputs[1], n.inputs[2], n.inputs[3]
    -- ts.where broadcasts a and b; the condition broadcasts too when multiplied out
    return ts.where(c, a, b)
  end)
  reg("Clip", function(n)
    local x = n.inputs[1]
    local lo, hi
    if n.opset < 11 then
      lo, hi = n:attr("min"), n:attr("max")
      lo = lo and const_like(lo, x)
      hi = hi and const_like(hi, x)
    else
      lo, hi = n.inputs[2], n.inputs[3]
    end
    local r = x
    if lo then r = ts.maximum(r, lo) end
    if hi then r = ts.minimum(r, hi) end
    return r == x and ts.identity(x) or r
  end)

  ----------------------------------------------------------------- linear
  -- MatMul with NumPy's rules through ts.matmul (ranks 1 to 3): a 1-D operand gets a unit
  -- axis (dropped after), batch dims broadcast and fold into one.
  local function matmul(n, a, b)
    local sa, sb = shape_of(n, 1), shape_of(n, 2)
    local ra, rb = #sa, #sb
    if ra <= 2 and rb <= 2 then return ts.matmul(a, b) end
    if ra == 1 then
      local y = matmul_nd(n, ts.reshape(a, { 1, sa[1] }), b, { 1, sa[1] }, sb)
      return ts.squeeze(y, -2)
    end
    if rb == 1 then
      local y = matmul_nd(n, a, ts.reshape(b, { sb[1], 1 }), sa, { sb[1], 1 })
      return ts.squeeze(y, -1)
    end
    return matmul_nd(n, a, b, sa, sb)
  end
  function matmul_nd(n, a, b, sa, sb)
    local ra, rb = #sa, #sb
    local m, k, nn = sa[ra - 1], sa[ra], sb[rb]
    if rb == 2 then -- fold a's batch into its rows
      local out = { table.unpack(sa, 1, ra - 1) }
      out[#out + 1] = nn
      local unknown = 0
      for _, d in ipairs(out) do if d < 0 then unknown = unknown + 1 end end
      if k < 0 or unknown > 1 then n:fail("MatMul needs the operands' shapes known") end
      return ts.reshape(ts.matmul(ts.reshape(a, { -1, k }), b), out)
    end
    for _, d in ipairs(sa) do if d < 0 then n:fail("MatMul needs the operands' shapes known") end end
    for _, d in ipairs(sb) do if d < 0 then n:fail("MatMul needs the operands' shapes known") end end
    local r = math.max(ra, rb)
    local batch, total = {}, 1
    for i = 1, r - 2 do
      local da = sa[i - (r - ra)] or 1
      local db = sb[i - (r - rb)] or 1
      if da ~= db and da ~= 1 and db ~= 1 then
        n:fail(("MatMul batch dims %d and %d do not broadcast"):format(da, db))
      end
      batch[i] = math.max(da, db)
      total = total * batch[i]
    end
    local function full(x, s, rows, cols)
      local want = { table.unpack(batch) }
      want[#want + 1], want[#want + 2] = rows, cols
      local same = #s == #want
      for i = 1, #want do same = same and s[i] == want[i] end
      if not same then x = ts.multiply(x, ts.ones(want, x.dtype)) end
      return ts.reshape(x, { total, rows, cols })
    end
    local y = ts.matmul(full(a, sa, m, k), full(b, sb, sb[rb - 1], nn))
    local out = { table.unpack(batch) }
    out[#out + 1], out[#out + 2] = m, nn
    return ts.reshape(y, out)
  end
  reg("MatMul", function(n) return matmul(n, n.inputs[1], n.inputs[2]) end)
  reg("Gemm", function(n)
    local a, b, c = n.inputs[1], n.inputs[2], n.inputs[3]
    local alpha, beta = n:attr("alpha", 1.0), n:attr("beta", 1.0)
    if n.opset < 7 and n:attr("broadcast", 0) == 0 and c then
      -- opset 6 without broadcast: c must have the result's shape (it then adds the same)
      local _ = c
    end
    local y = ts.matmul(a, b, { transpose_a = n:attr("transA", 0) == 1,
      transpose_b = n:attr("transB", 0) == 1 })
    if alpha ~= 1 then y = ts.multiply(y, const_like(alpha, y)) end
    if c then
      if beta ~= 1 then c = ts.multiply(c, const_like(beta, c)) end
      y = ts.add(y, c)
    end
    return y
  end)

  ------------------------------------------------------------- reductions
  -- axes from the attribute or (ReduceSum from opset 13, the others from 18) input 2
  -- f over ONNX axes (empty: all, or none with noop_with_empty_axes)
  local function reduce_over(f, x, axes, keep, noop)
    if axes == nil or #axes == 0 then
      if noop then return ts.identity(x) end
      axes = {}
      for i = 1, #x.shape do axes[i] = i - 1 end
    end
    if #axes == 0 then return f(x, nil, keep) end
    return f(x, axes_of(axes), keep)
  end
  local function reduce(f)
    return function(n)
      local x = n.inputs[1]
      local axes = n:attr("axes")
      local keep = n:attr("keepdims", 1) == 1
      local noop = n:attr("noop_with_empty_axes", 0) == 1
      shape_of(n, 1)
      if n.ninputs >= 2 and n.inputs[2] then
        if not n:const(2) and f == ts.reduce_sum then
          -- ReduceSum's axes fed at run time: a Lua op; its gradient broadcasts g back
          local decl = {}
          for i = 1, #x.shape do decl[i] = -1 end
          return ts.Operation { type = "onnx_reduce_sum", inputs = { x, n.inputs[2] },
            dtype = x.dtype, shape = keep and decl or nil,
            compute = function(t, a)
              return reduce_over(f, t, a:reshape({ -1 }):totable(), keep, noop)
            end,
            gradient = function(op, g)
              return { ts.Operation { type = "onnx_reduce_sum_grad", dtype = x.dtype,
                shape = x.shape, inputs = { op.inputs[1], g, op.inputs[2] }, gradient = false,
                compute = function(t, gt, a)
                  local keepshape = reduce_over(f, t, a:reshape({ -1 }):totable(), true, noop).shape
                  return ts.multiply(gt:reshape(keepshape), ts.ones(t.shape, t.dtype))
                end } }
            end }
        end
        axes = ints(n, 2, "axes")
      end
      return reduce_over(f, x, axes, keep, noop)
    end
  end
  reg("ReduceSum", reduce(ts.reduce_sum))
  reg("ReduceMean", reduce(ts.reduce_mean))
  reg("ReduceMax", reduce(ts.reduce_max))
  reg("ReduceMin", reduce(ts.reduce_min))
  reg("ReduceProd", reduce(ts.reduce_prod))
  reg("ReduceLogSumExp", reduce(ts.reduce_logsumexp))
  reg("ReduceL1", reduce(function(x, a, k) return ts.reduce_sum(ts.abs(x), a, k) end))
  reg("ReduceL2", reduce(function(x, a, k) return ts.sqrt(ts.reduce_sum(ts.square(x), a, k)) end))
  reg("ReduceSumSquare", reduce(function(x, a, k) return ts.reduce_sum(ts.square(x), a, k) end))
  reg("ReduceLogSum", reduce(function(x, a, k) return ts.log(ts.reduce_sum(x, a, k)) end))

  local function arg(f)
    return function(n)
      local x = n.inputs[1]
      local axis = n:attr("axis", 0)
      local keep = n:attr("keepdims", 1) == 1
      local y
      if n:attr("select_last_index", 0) == 1 then
        -- the last index: argmax of the reversed axis, mapped back
        local s = known_shape(n, 1, "select_last_index")
        local a = norm_axis(axis, #s)
        local idx = {}
        for i = s[a + 1], 1, -1 do idx[#idx + 1] = i end
        local rev = ts.gather(x, ts.tensor(idx, "int64"), a + 1)
        y = ts.subtract(ts.constant(s[a + 1] - 1, { dtype = "int64" }), ts.subtract(f(rev, a + 1, keep),
          ts.constant(1, { dtype = "int64" })))
        return y
      end
      y = f(x, ax(axis), keep)
      return ts.subtract(y, ts.constant(1, { dtype = "int64" }))
    end
  end
  reg("ArgMax", arg(ts.argmax))
  reg("ArgMin", arg(ts.argmin))

  -- Softmax family: opset 13 is one axis (default -1); before, the input is seen as 2-D
  -- [prod(dims before axis), prod(dims from axis)] (axis default 1).
  local function softmax(f)
    return function(n)
      local x = n.inputs[1]
      if n.opset >= 13 then return f(x, ax(n:attr("axis", -1))) end
      local s = known_shape(n, 1, n.op_type .. " before opset 13")
      local a = norm_axis(n:attr("axis", 1), #s)
      local inner = 1
      for i = a + 1, #s do inner = inner * s[i] end
      return ts.reshape(f(ts.reshape(x, { -1, inner }), -1), s)
    end
  end
  reg("Softmax", softmax(ts.softmax))
  reg("LogSoftmax", softmax(ts.log_softmax))

  ------------------------------------------------------------------ shape
  reg("Identity", function(n) return ts.identity(n.inputs[1]) end)
  reg("Transpose", function(n)
    local perm = n:attr("perm")
    if not perm then return ts.transpose(n.inputs[1]) end
    return ts.transpose(n.inputs[1], axes_of(perm))
  end)
  -- ONNX's target shape: 0 copies x's dimension (unless allowzero)
  local function target_shape(shape, s, allowzero, fail)
    local out = {}
    for i, d in ipairs(shape) do
      if d == 0 and not allowzero then
        if not s or not s[i] or s[i] < 0 then fail("a 0 in shape copies an unknown dimension") end
        out[i] = s[i]
      else
        out[i] = d
      end
    end
    return out
  end
  reg("Reshape", function(n)
    local x = n.inputs[1]
    local allowzero = n:attr("allowzero", 0) == 1
    local shape
    if n.opset < 5 then shape = n:attr("shape")
    elseif n:const(2) then shape = ints(n, 2, "shape")
    else
      -- a shape computed while running (from Shape of a dynamic batch, say): a Lua op
      local k = shape_of(n, 2)[1]
      if not k or k < 0 then n:fail("the shape input's length must be known") end
      local decl = {}
      for i = 1, k do decl[i] = -1 end
      return ts.Operation { type = "onnx_reshape", inputs = { x, n.inputs[2] }, dtype = x.dtype,
        shape = decl,
        compute = function(t, sh)
          local out = target_shape(sh:reshape({ -1 }):totable(), t.shape, allowzero, error)
          return ts.identity(t:reshape(out))
        end,
        gradient = function(op, g) return { I.node("reshape_like", nil, g, op.inputs[1]) } end }
    end
    return ts.reshape(x, target_shape(shape, x.shape, allowzero, function(m) n:fail(m) end))
  end)
  reg("Flatten", function(n)
    local x = n.inputs[1]
    local s = shape_of(n, 1)
    local a = norm_axis(n:attr("axis", 1), #s)
    local outer = 1
    for i = 1, a do
      if s[i] < 0 then
        local inner = 1
        for j = a + 1, #s do
          if s[j] < 0 then n:fail("Flatten needs the dims on one side of axis known") end
          inner = inner * s[j]
        end
        return ts.reshape(x, { -1, inner })
      end
      outer = outer * s[i]
    end
    return ts.reshape(x, { outer, -1 })
  end)
  -- Squeeze/Unsqueeze with axes fed at run time: a Lua op reshaping x (gradient reshape_like)
  local function runtime_reshape(n, type, rank, compute)
    local decl = {}
    for i = 1, rank do decl[i] = -1 end
    return ts.Operation { type = type, inputs = { n.inputs[1], n.inputs[2] },
      dtype = n.inputs[1].dtype, shape = rank >= 0 and decl or nil, compute = compute,
      gradient = function(op, g) return { I.node("reshape_like", nil, g, op.inputs[1]) } end }
  end
  local function squeeze(x, axes)
    if not axes or #axes == 0 then return ts.squeeze(x) end
    return ts.squeeze(x, axes_of(axes))
  end
  local function unsqueeze(x, axes, rank)
    local r = rank + #axes
    local sorted = {}
    for i, a in ipairs(axes) do sorted[i] = norm_axis(a, r) end
    table.sort(sorted)
    for _, a in ipairs(sorted) do x = ts.expand_dims(x, a + 1) end
    return x
  end
  reg("Squeeze", function(n)
    local axes = n:attr("axes")
    if n.opset >= 13 and n.inputs[2] then
      if not n:const(2) then
        local k = shape_of(n, 2)[1]
        local rank = k and k >= 0 and #shape_of(n, 1) - k or -1
        return runtime_reshape(n, "onnx_squeeze", rank, function(t, a)
          return ts.identity(squeeze(t, a:reshape({ -1 }):totable()))
        end)
      end
      axes = ints(n, 2, "axes")
    end
    return squeeze(n.inputs[1], axes)
  end)
  reg("Unsqueeze", function(n)
    local axes = n:attr("axes")
    local rank = #shape_of(n, 1)
    if n.opset >= 13 then
      if not n:const(2) then
        local k = shape_of(n, 2)[1]
        return runtime_reshape(n, "onnx_unsqueeze", k and k >= 0 and rank + k or -1,
          function(t, a) return ts.identity(unsqueeze(t, a:reshape({ -1 }):totable(), #t.shape)) end)
      end
      axes = ints(n, 2, "axes")
    end
    return unsqueeze(n.inputs[1], axes, rank)
  end)
  reg("Concat", function(n)
    local list = {}
    for i = 1, n.ninputs do list[#list + 1] = n.inputs[i] end
    return ts.concat(list, ax(n:attr("axis", n.opset < 4 and 1 or 0)))
  end)
  reg("Split", function(n)
    local x = n.inputs[1]
    local a = n:attr("axis", 0)
    local split = n:attr("split")
    if n.opset >= 13 and n.inputs[2] and not n:const(2) then
      -- sizes fed at run time: one Lua op per piece (gradient: g_k padded back at its offset)
      local rank = #shape_of(n, 1)
      local axis = norm_axis(a, rank) + 1
      local decl = {}
      for i = 1, rank do decl[i] = -1 end
      local function span(sizes, k) -- offset (0-based) and size of piece k
        local off = 0
        for i = 1, k - 1 do off = off + sizes[i] end
        return off, sizes[k]
      end
      local outs = {}
      for k = 1, n.noutputs do
        outs[k] = ts.Operation { type = "onnx_split", inputs = { x, n.inputs[2] }, dtype = x.dtype,
          shape = decl,
          compute = function(t, sz)
            local sizes = sz:reshape({ -1 }):totable()
            if #sizes ~= n.noutputs then error(("%d sizes for %d outputs"):format(#sizes, n.noutputs)) end
            local off, len = span(sizes, k)
            local begin, size = {}, {}
            for i = 1, #t.shape do begin[i], size[i] = 1, -1 end
            begin[axis], size[axis] = off + 1, len
            return ts.slice(t, begin, size)
          end,
          gradient = function(op, g)
            return { ts.Operation { type = "onnx_split_grad", dtype = x.dtype, shape = x.shape,
              inputs = { op.inputs[1], g, op.inputs[2] }, gradient = false,
              compute = function(t, gt, sz)
                local off, len = span(sz:reshape({ -1 }):totable(), k)
                local p = {}
                for i = 1, #t.shape do p[i] = { 0, 0 } end
                p[axis] = { off, t.shape[axis] - off - len }
                return ts.pad(gt, p, 0)
              end } }
          end }
      end
      return outs
    end
    if n.opset >= 13 and n.inputs[2] then split = ints(n, 2, "split") end
    local r
    if split then
      r = ts.split(x, split, ax(a))
    else
      r = ts.split(x, n.noutputs, ax(a))
    end
    return r
  end)
  -- Slice: begin/size for ts.slice (1-based) and, for steps other than 1, the source indices
  -- gathered along an axis (NumPy's clamping); s is x's shape (the sliced axes known)
  local function slice_plan(s, starts, ends, axes, steps, fail)
    local begin, size, gathers = {}, {}, {}
    for i = 1, #s do begin[i], size[i] = 1, -1 end
    for k, st in ipairs(starts) do
      local a = norm_axis(axes and axes[k] or k - 1, #s)
      local step = steps and steps[k] or 1
      local d, e = s[a + 1], ends[k]
      if step == 0 then fail("a step of 0") end
      if not d or d < 0 then fail("the sliced axes' sizes must be known") end
      if st < 0 then st = st + d end
      if e < 0 then e = e + d end
      if step ~= 1 then
        local idx = {}
        if step > 0 then
          st, e = math.max(0, math.min(st, d)), math.max(0, math.min(e, d))
          for j = st, e - 1, step do idx[#idx + 1] = j + 1 end
        else
          st, e = math.max(-1, math.min(st, d - 1)), math.max(-1, math.min(e, d - 1))
          for j = st, e + 1, step do idx[#idx + 1] = j + 1 end
        end
        gathers[#gathers + 1] = { a + 1, idx }
      else
        st, e = math.max(0, math.min(st, d)), math.max(0, math.min(e, d))
        begin[a + 1], size[a + 1] = st + 1, math.max(0, e - st)
      end
    end
    return begin, size, gathers
  end
  local function apply_slice(x, begin, size, gathers)
    local y = ts.slice(x, begin, size)
    for _, gi in ipairs(gathers) do
      if #gi[2] == 0 then
        local shp = y.shape
        shp[gi[1]] = 0
        y = ts.zeros(shp, y.dtype)
      else
        y = ts.gather(y, ts.tensor(gi[2], "int64"), gi[1])
      end
    end
    return y
  end
  local function list_of(t) return t and t:reshape({ -1 }):totable() end
  reg("Slice", function(n)
    local x = n.inputs[1]
    local s = shape_of(n, 1)
    local fail = function(m) n:fail(m) end
    if n.opset < 10 then
      return apply_slice(x, slice_plan(s, n:attr("starts"), n:attr("ends"), n:attr("axes"), nil, fail))
    end
    local known = n:const(2) and n:const(3) and (not n.inputs[4] or n:const(4)) and
      (not n.inputs[5] or n:const(5))
    local starts, ends = list_of(n:const(2)), list_of(n:const(3))
    local axes, steps = list_of(n:const(4)), list_of(n:const(5))
    if known then
      for k in ipairs(starts) do
        local a = norm_axis(axes and axes[k] or k - 1, #s)
        known = known and s[a + 1] and s[a + 1] >= 0
      end
    end
    if known then return apply_slice(x, slice_plan(s, starts, ends, axes, steps, fail)) end
    -- starts/ends/axes/steps or the sliced sizes known only while running: a Lua op (and one
    -- for its gradient: g padded back into x's shape; not for steps other than 1)
    local ins, at = { x, n.inputs[2], n.inputs[3] }, {}
    for k = 4, 5 do
      if n.inputs[k] then
        ins[#ins + 1] = n.inputs[k]
        at[k] = #ins
      end
    end
    local function plan(shape, a)
      return slice_plan(shape, list_of(a[2]), list_of(a[3]), at[4] and list_of(a[at[4]]),
        at[5] and list_of(a[at[5]]), error)
    end
    local decl = {}
    for i = 1, #s do decl[i] = -1 end
    return ts.Operation { type = "onnx_slice", inputs = ins, dtype = x.dtype, shape = decl,
      compute = function(...)
        local a = { ... }
        return apply_slice(a[1], plan(a[1].shape, a))
      end,
      gradient = function(op, g)
        local gins = { op.inputs[1], g }
        for k = 2, #ins do gins[#gins + 1] = op.inputs[k] end
        local dx = ts.Operation { type = "onnx_slice_grad", inputs = gins, dtype = x.dtype,
          shape = s, gradient = false,
          compute = function(t, gt, ...)
            local a = { t, ... }
            local begin, size, gathers = plan(t.shape, a)
            if #gathers > 0 then error("the gradient of a Slice with steps is not supported") end
            local p = {}
            for i, d in ipairs(t.shape) do
              local len = size[i] < 0 and d - begin[i] + 1 or size[i]
              p[i] = { begin[i] - 1, d - (begin[i] - 1) - len }
            end
            return ts.pad(gt, p, 0)
          end }
        return { dx }
      end }
  end)
  reg("Gather", function(n)
    local x, idx = n.inputs[1], n.inputs[2]
    local s = shape_of(n, 1)
    local a = norm_axis(n:attr("axis", 0), #s)
    local d = s[a + 1]
    local c = n:const(2)
    if c then
      local v = c:cast("int64"):reshape({ -1 }):totable()
      for i, k in ipairs(v) do
        if k < 0 then
          if d < 0 then n:fail("negative indices need the axis size known") end
          k = k + d
        end
        v[i] = k + 1
      end
      local shp = c.shape
      idx = ts.tensor(#shp == 0 and v[1] or v, "int64")
      if #shp > 1 then idx = idx:reshape(shp) end
    else
      idx = ts.cast(idx, "int64")
      if d < 0 then
        idx = ts.add(idx, ts.constant(1, { dtype = "int64" }))
      else
        idx = ts.where(ts.less(idx, ts.constant(0, { dtype = "int64" })),
          ts.add(idx, ts.constant(d + 1, { dtype = "int64" })),
          ts.add(idx, ts.constant(1, { dtype = "int64" })))
      end
    end
    return ts.gather(x, idx, a + 1)
  end)
  -- Expand: x broadcast with ones of the shape (uint8 through int64: no uint8 multiply)
  local function expand(x, shape)
    if x.dtype == "uint8" then
      return ts.cast(ts.multiply(ts.cast(x, "int64"), ts.ones(shape, "int64")), "uint8")
    end
    return ts.multiply(x, ts.ones(shape, x.dtype))
  end
  reg("Expand", function(n)
    local x = n.inputs[1]
    if n:const(2) then return expand(x, ints(n, 2, "shape")) end
    local k = shape_of(n, 2)[1]
    if not k or k < 0 then n:fail("the shape input's length must be known") end
    local decl = {}
    for i = 1, math.max(k, #shape_of(n, 1)) do decl[i] = -1 end
    return ts.Operation { type = "onnx_expand", inputs = { x, n.inputs[2] }, dtype = x.dtype,
      shape = decl,
      compute = function(t, sh) return expand(t, sh:reshape({ -1 }):totable()) end,
      gradient = function(op, g) return { I.sum_like(g, op.inputs[1]) } end }
  end)
  -- Pad of x (shape s, needed for edge and reflect) by ONNX pads with a number value; works on
  -- nodes and on tensors (the run-time op below)
  local function pad_values(x, s, pads, mode, value, fail)
    local r = #pads // 2
    for i = 1, r do
      if pads[i] < 0 or pads[i + r] < 0 then fail("negative pads are not supported") end
    end
    if mode == "edge" or mode == "reflect" then
      -- one gather per padded axis with the source index of every output position
      local y = x
      for i = 1, r do
        local b, a, d = pads[i], pads[i + r], s[i]
        if b > 0 or a > 0 then
          if d < 0 then fail("Pad mode " .. mode .. " needs the padded axes' sizes known") end
          if mode == "reflect" and (b >= d or a >= d) then
            fail(("reflect pads of %d and %d on an axis of %d"):format(b, a, d))
          end
          local idx = {}
          for k = -b, d - 1 + a do
            local j = k
            if mode == "edge" then j = math.max(0, math.min(d - 1, k))
            elseif k < 0 then j = -k
            elseif k >= d then j = 2 * (d - 1) - k end
            idx[#idx + 1] = j + 1
          end
          y = ts.gather(y, ts.tensor(idx, "int64"), i)
        end
      end
      return y == x and ts.identity(x) or y
    end
    if mode ~= "constant" then fail(("attribute mode = %s is not supported"):format(mode)) end
    local p = {}
    for i = 1, r do p[i] = { pads[i], pads[i + r] } end
    return ts.pad(x, p, value)
  end
  reg("Pad", function(n)
    local x = n.inputs[1]
    local mode = n:attr("mode", "constant")
    local fail = function(m) n:fail(m) end
    if n.opset < 11 then
      return pad_values(x, shape_of(n, 1), n:attr("pads"), mode, n:attr("value", 0.0), fail)
    end
    local v = n.inputs[3] and n:const(3)
    if not n:const(2) then
      -- pads fed at run time: a Lua op; its gradient (constant mode) slices g back
      if mode ~= "constant" and mode ~= "edge" and mode ~= "reflect" then
        n:fail(("attribute mode = %s is not supported"):format(mode))
      end
      local ins = { x, n.inputs[2], n.inputs[3] }
      local rank = #shape_of(n, 1)
      local decl = {}
      for i = 1, rank do decl[i] = -1 end
      return ts.Operation { type = "onnx_pad", inputs = ins, dtype = x.dtype, shape = decl,
        compute = function(t, pd, val)
          local value = val and val:reshape({ -1 }):totable()[1] or 0
          return pad_values(t, t.shape, pd:reshape({ -1 }):totable(), mode, value, error)
        end,
        gradient = function(op, g)
          return { ts.Operation { type = "onnx_pad_grad", dtype = x.dtype, shape = x.shape,
            inputs = { op.inputs[1], g, op.inputs[2] }, gradient = false,
            compute = function(t, gt, pd)
              if mode ~= "constant" then error("the gradient of Pad mode " .. mode .. " is not supported") end
              local pads, begin = pd:reshape({ -1 }):totable(), {}
              for i = 1, #t.shape do begin[i] = pads[i] + 1 end
              return ts.slice(gt, begin, t.shape)
            end } }
        end }
    end
    local pads = ints(n, 2, "pads")
    if n.inputs[3] and not v then
      -- a value known only at run time: zeros padded, plus value where the padding is
      if mode ~= "constant" then return pad_values(x, shape_of(n, 1), pads, mode, 0, fail) end
      local mask = pad_values(ts.zeros_like(x), shape_of(n, 1), pads, mode, 1, fail)
      return ts.add(pad_values(x, shape_of(n, 1), pads, mode, 0, fail),
        ts.multiply(mask, ts.reshape(n.inputs[3], {})))
    end
    return pad_values(x, shape_of(n, 1), pads, mode, v and v:reshape({ -1 }):totable()[1] or 0, fail)
  end)
  reg("Shape", function(n)
    local s = shape_of(n, 1)
    local r = #s
    local st, en = n:attr("start", 0), n:attr("end", r)
    if st < 0 then st = st + r end
    if en < 0 then en = en + r end
    st, en = math.max(0, math.min(st, r)), math.max(0, math.min(en, r))
    local known = true
    for i = st + 1, en do known = known and s[i] >= 0 end
    if not known then -- read at run time (a dynamic batch dimension)
      return ts.Operation { type = "onnx_shape", inputs = { n.inputs[1] }, dtype = "int64",
        shape = { en - st }, gradient = false,
        compute = function(t)
          local v = {}
          for i = st + 1, en do v[#v + 1] = t.shape[i] end
          return ts.tensor(v, "int64")
        end }
    end
    local v = {}
    for i = st + 1, en do v[#v + 1] = s[i] end
    if #v == 0 then return ts.zeros({ 0 }, "int64") end
    return ts.tensor(v, "int64")
  end)
  reg("Size", function(n)
    local s = known_shape(n, 1, "Size")
    local k = 1
    for _, d in ipairs(s) do k = k * d end
    return ts.tensor(k, "int64")
  end)

  --------------------------------------------------------- constants, casts
  local CAST = { [1] = "float32", [2] = "uint8", [3] = "int64", [4] = "int64", [5] = "int64",
    [6] = "int64", [7] = "int64", [9] = "uint8", [10] = "float32", [11] = "float64",
    [12] = "int64", [13] = "int64", [16] = "bfloat16" }
  -- float32 values rounded toward zero to bfloat16's 8 significant bits (what ONNX 1.12's
  -- reference and test data do), computed in float64: q = trunc(|x| / ulp) with ulp =
  -- 2^(floor(log2 |x|) - 7) corrected by a factor of 2 when log2 rounds across a power of two.
  local function to_bf16(x)
    local d = ts.cast(x, "float64")
    local mag = ts.abs(d)
    local function c(v) return ts.constant(v, { dtype = "float64" }) end
    local finite = ts.cast(ts.multiply(ts.cast(ts.less(mag, c(math.huge)), "float64"),
      ts.cast(ts.greater(mag, c(0)), "float64")), "uint8")
    local safe = ts.where(finite, mag, c(1))
    local l2 = ts.divide(ts.log(safe), c(math.log(2)))
    local t = ts.cast(ts.cast(l2, "int64"), "float64")
    local e = ts.subtract(t, ts.cast(ts.less(l2, t), "float64")) -- floor
    local ulp = ts.maximum(ts.pow(c(2), ts.subtract(e, c(7))), c(2 ^ -133))
    local q = ts.divide(safe, ulp)
    ulp = ts.where(ts.greater_equal(q, c(256)), ts.multiply(ulp, c(2)),
      ts.where(ts.less(q, c(128)), ts.maximum(ts.divide(ulp, c(2)), c(2 ^ -133)), ulp))
    local r = ts.multiply(ts.cast(ts.cast(ts.divide(safe, ulp), "int64"), "float64"), ulp)
    r = ts.where(ts.less(d, c(0)), ts.negative(r), r)
    return ts.cast(ts.where(finite, r, d), "float32")
  end

  reg("Cast", function(n)
    local to = n:attr("to")
    if type(to) == "string" then n:fail("attribute to as a string is not supported") end
    local dt = CAST[to]
    local x = n.inputs[1]
    if dt == "bfloat16" then
      return to_bf16(x.dtype == "float32" and x or ts.cast(x, "float32"))
    end
    if not dt then n:fail(("attribute to = %s is not supported"):format(tostring(to))) end
    if to == 9 then return ts.cast(ts.not_equal(x, const_like(0, x)), "uint8") end
    -- int8/16/32 and uint16/32 are held as int64 (the dtype table): values are kept, not
    -- wrapped to the narrow type's range
    return ts.cast(x, dt)
  end)
  reg("CastLike", function(n)
    if n:elem(2) == "bfloat16" then
      local x = n.inputs[1]
      return to_bf16(x.dtype == "float32" and x or ts.cast(x, "float32"))
    end
    return ts.cast(n.inputs[1], n.inputs[2].dtype)
  end)
  reg("Constant", function(n)
    local v = n:attr("value")
    if v then return v end
    local f = n:attr("value_float")
    if f then return ts.tensor(f, "float32") end
    local fs = n:attr("value_floats")
    if fs then return #fs == 0 and ts.zeros({ 0 }, "float32") or ts.tensor(fs, "float32") end
    local i = n:attr("value_int")
    if i then return ts.tensor(i, "int64") end
    local is = n:attr("value_ints")
    if is then return #is == 0 and ts.zeros({ 0 }, "int64") or ts.tensor(is, "int64") end
    n:fail("only value, value_float(s) and value_int(s) are supported")
  end)
  reg("ConstantOfShape", function(n)
    local v = n:attr("value")
    local dt, x = "float32", 0
    if v then
      dt = v.dtype
      x = v:reshape({ -1 }):totable()[1]
    end
    if not n.inputs[1] or n:const(1) then
      return ts.fill(n.inputs[1] and ints(n, 1, "shape") or {}, x, dt)
    end
    local k = shape_of(n, 1)[1]
    if not k or k < 0 then n:fail("the shape input's length must be known") end
    local decl = {}
    for i = 1, k do decl[i] = -1 end
    return ts.Operation { type = "onnx_constant_of_shape", inputs = { n.inputs[1] }, dtype = dt,
      shape = decl, gradient = false,
      compute = function(sh) return ts.fill(sh:reshape({ -1 }):totable(), x, dt) end }
  end)
  local function first(t) return t:reshape({ -1 }):totable()[1] end
  local function range(a, b, c, dtype)
    local count = math.max(math.ceil((b - a) / c), 0)
    if count == 0 then return ts.zeros({ 0 }, dtype) end
    local v = {}
    for i = 0, count - 1 do v[#v + 1] = a + i * c end
    return ts.tensor(v, dtype)
  end
  reg("Range", function(n)
    local s, l, d = n:const(1), n:const(2), n:const(3)
    if s and l and d then return range(first(s), first(l), first(d), s.dtype) end
    local dt = n.inputs[1].dtype
    return ts.Operation { type = "onnx_range", inputs = { n.inputs[1], n.inputs[2], n.inputs[3] },
      dtype = dt, shape = { -1 }, gradient = false,
      compute = function(a, b, c) return range(first(a), first(b), first(c), dt) end }
  end)
  reg("EyeLike", function(n)
    local x = n.inputs[1]
    local s = known_shape(n, 1, "EyeLike")
    local k = n:attr("k", 0)
    local dt = n:attr("dtype") and CAST[n:attr("dtype")] or x.dtype
    local v = {}
    for i = 1, s[1] do
      local row = {}
      for j = 1, s[2] do row[j] = (j - i == k) and 1 or 0 end
      v[i] = row
    end
    return ts.tensor(v, dt)
  end)
  -- OneHot of idx (rank r - 1) with depth classes and values {off, on}; nodes or tensors
  local function one_hot(idx, depth, values, axis, r)
    local i64 = ts.cast(idx, "int64")
    -- negative indices count from the end
    i64 = ts.where(ts.less(i64, ts.tensor(0, "int64")), ts.add(i64, ts.tensor(depth, "int64")), i64)
    local oh = ts.one_hot(ts.add(i64, ts.tensor(1, "int64")), depth, { dtype = values.dtype })
    local off = ts.reshape(ts.slice(values, { 1 }, { 1 }), {})
    local on = ts.reshape(ts.slice(values, { 2 }, { 1 }), {})
    local y = ts.add(ts.multiply(oh, ts.subtract(on, off)), off)
    local a = norm_axis(axis, r)
    if a ~= r - 1 then
      local perm = {}
      for i = 1, a do perm[#perm + 1] = i end
      perm[#perm + 1] = r
      for i = a + 1, r - 1 do perm[#perm + 1] = i end
      y = ts.transpose(y, perm)
    end
    return y
  end
  local function depth_of(t)
    local d = t:reshape({ -1 }):totable()[1]
    return math.tointeger(d) or math.floor(d)
  end
  reg("OneHot", function(n)
    local idx, values = n.inputs[1], n.inputs[3]
    local axis, r = n:attr("axis", -1), #shape_of(n, 1) + 1
    if n:const(2) then return one_hot(idx, depth_of(n:const(2)), values, axis, r) end
    -- depth fed at run time: a Lua op (no gradient: ONNX gives none for the indices)
    local decl = {}
    for i = 1, r do decl[i] = -1 end
    return ts.Operation { type = "onnx_one_hot", inputs = { idx, n.inputs[2], values },
      dtype = values.dtype, shape = decl, gradient = false,
      compute = function(t, d, v) return one_hot(t, depth_of(d), v, axis, r) end }
  end)
  -- Tile with repeats fed at run time: a Lua op; its gradient sums g's tiles
  reg("Tile", function(n)
    local x = n.inputs[1]
    if n:const(2) then return ts.tile(x, ints(n, 2, "repeats")) end
    local decl = {}
    for i = 1, #shape_of(n, 1) do decl[i] = -1 end
    return ts.Operation { type = "onnx_tile", inputs = { x, n.inputs[2] }, dtype = x.dtype,
      shape = decl,
      compute = function(t, rep) return ts.tile(t, rep:reshape({ -1 }):totable()) end,
      gradient = function(op, g)
        return { ts.Operation { type = "onnx_tile_grad", dtype = x.dtype, shape = x.shape,
          inputs = { op.inputs[1], g, op.inputs[2] }, gradient = false,
          compute = function(t, gt, rep)
            local reps, split, axes = rep:reshape({ -1 }):totable(), {}, {}
            for i, d in ipairs(t.shape) do
              split[2 * i - 1], split[2 * i] = reps[i], d
              axes[i] = 2 * i - 1
            end
            if #axes == 0 then return gt end
            return ts.reduce_sum(gt:reshape(split), axes)
          end } }
      end }
  end)
  -- Dropout: inference (the default) passes x through, mask all true. Training mode (opset 12:
  -- input 3, known or fed at run time; ratio input 2, default 0.5) keeps each element where a
  -- uniform draw is >= ratio and scales by 1 / (1 - ratio), as ONNX specifies; the draws are
  -- tensorslow's, so they match no other generator.
  reg("Dropout", function(n)
    local x = n.inputs[1]
    if n.opset < 7 and n:attr("is_test", 0) == 0 then
      n:fail("attribute is_test = 0 (training) is not supported")
    end
    local ones = ts.cast(ts.ones_like(x), "uint8")
    local t = n.inputs[3]
    local tc = n:const(3)
    if not t or (tc and tc:reshape({ -1 }):totable()[1] == 0) then
      local y = ts.identity(x)
      if n.noutputs >= 2 then return { y, ones } end
      return y
    end
    local ratio = n.inputs[2]
    if ratio then ratio = ts.cast(ts.reshape(ratio, {}), x.dtype)
    else ratio = const_like(n.opset < 12 and n:attr("ratio", 0.5) or 0.5, x) end
    local s = known_shape(n, 1, "Dropout in training mode")
    local seed = n:attr("seed")
    local u = ts.random_uniform(s, { dtype = x.dtype, seed = seed })
    local keep = ts.greater_equal(u, ratio)
    local scaled = ts.divide(ts.multiply(x, ts.cast(keep, x.dtype)),
      ts.subtract(const_like(1, x), ratio))
    -- ratio 0 keeps everything (1 / (1 - 0) = 1); training_mode false passes x
    local on = ts.cast(ts.reshape(t, {}), "uint8")
    local y = ts.where(on, scaled, x)
    if n.noutputs >= 2 then return { y, ts.where(on, ts.cast(keep, "uint8"), ones) } end
    return y
  end)

  ----------------------------------------------------------- convolutions
  -- explicit {{before, after}...} from pads or auto_pad (SAME_*: the total padding that
  -- gives ceil(in / stride) outputs, the odd one after for SAME_UPPER, before for SAME_LOWER)
  local function conv_padding(n, rank, kernel)
    local auto = n:attr("auto_pad", "NOTSET")
    if auto == "VALID" then return "VALID" end
    if auto == "SAME_UPPER" or auto == "SAME_LOWER" then
      local s = known_shape(n, 1, "auto_pad " .. auto)
      local strides, dil = n:attr("strides"), n:attr("dilations")
      local p = {}
      for i = 1, rank do
        local st, dl, d = strides and strides[i] or 1, dil and dil[i] or 1, s[i + 2]
        local k = (kernel[i] - 1) * dl + 1
        local total = math.max(0, (math.ceil(d / st) - 1) * st + k - d)
        local lo = auto == "SAME_UPPER" and total // 2 or total - total // 2
        p[i] = { lo, total - lo }
      end
      return p
    end
    if auto ~= "NOTSET" then n:fail(("attribute auto_pad = %s is not supported"):format(auto)) end
    local pads = n:attr("pads")
    local p = {}
    for i = 1, rank do p[i] = pads and { pads[i], pads[i + rank] } or { 0, 0 } end
    return p
  end
  local FORMAT = { "NCW", "NCHW", "NCDHW" }
  reg("Conv", function(n)
    local x, w, b = n.inputs[1], n.inputs[2], n.inputs[3]
    local s = shape_of(n, 2)
    local rank = #s - 2
    if rank < 1 or rank > 3 then n:fail(("a %d-D convolution is not supported"):format(rank)) end
    local y = ts.convolution(x, w, { strides = n:attr("strides"), dilations = n:attr("dilations"),
      padding = conv_padding(n, rank, n:attr("kernel_shape") or { table.unpack(s, 3) }),
      data_format = FORMAT[rank], groups = n:attr("group", 1) })
    if b then
      local shp = { 1, -1 }
      for _ = 1, rank do shp[#shp + 1] = 1 end
      y = ts.add(y, ts.reshape(b, shp))
    end
    return y
  end)
  -- ConvTranspose: the gradient of the convolution with W as its filter ([C, M/group, k...]
  -- is a conv's [out, in/groups, k...] from the M-channel result to the C-channel input).
  local TRANSPOSE = { ts.conv1d_transpose, ts.conv2d_transpose, ts.conv3d_transpose }
  reg("ConvTranspose", function(n)
    local x, w, b = n.inputs[1], n.inputs[2], n.inputs[3]
    local sx, sw = known_shape(n, 1, "ConvTranspose"), known_shape(n, 2, "ConvTranspose")
    local rank = #sw - 2
    if rank < 1 or rank > 3 then n:fail(("a %d-D convolution is not supported"):format(rank)) end
    local group = n:attr("group", 1)
    local strides, dil = n:attr("strides") or {}, n:attr("dilations") or {}
    local opad, oshape = n:attr("output_padding") or {}, n:attr("output_shape")
    local pads = n:attr("pads") or {}
    local auto = n:attr("auto_pad", "NOTSET")
    local out, p = { sx[1], sw[2] * group }, {}
    for i = 1, rank do
      local st, dl, op = strides[i] or 1, dil[i] or 1, opad[i] or 0
      local keff = (sw[i + 2] - 1) * dl + 1
      local full = st * (sx[i + 2] - 1) + op + keff
      local o, lo, hi
      if oshape or auto == "SAME_UPPER" or auto == "SAME_LOWER" then
        o = oshape and oshape[#oshape - rank + i] or sx[i + 2] * st
        local total = math.max(0, full - o)
        if auto == "SAME_UPPER" then lo = total // 2 else lo = total - total // 2 end
        hi = total - lo
      elseif auto == "VALID" or auto == "NOTSET" then
        lo, hi = pads[i] or 0, pads[i + rank] or 0
        o = full - lo - hi
      else
        n:fail(("attribute auto_pad = %s is not supported"):format(auto))
      end
      out[i + 2], p[i] = o, { lo, hi }
    end
    local y = TRANSPOSE[rank](x, w, out, { strides = strides[1] and strides or 1,
      dilations = dil[1] and dil or 1, padding = p, data_format = FORMAT[rank], groups = group })
    if b then
      local shp = { 1, -1 }
      for _ = 1, rank do shp[#shp + 1] = 1 end
      y = ts.add(y, ts.reshape(b, shp))
    end
    return y
  end)

  -- MaxPool with dilations: the maximum over the kernel's offsets of strided gathers
  -- from x padded with -inf (every axis's source indices computed here).
  local function dilated_max_pool(n, x, k, dil, with_indices)
    local col_major = n:attr("storage_order", 0) == 1
    local s = known_shape(n, 1, "MaxPool with dilations")
    local rank = #k
    local strides = n:attr("strides") or {}
    local pad = conv_padding(n, rank, k)
    local ceil = n:attr("ceil_mode", 0) == 1
    local outs, pads = {}, {}
    for i = 1, rank do
      local lo, hi = 0, 0
      if pad ~= "VALID" then lo, hi = pad[i][1], pad[i][2] end
      local st, keff = strides[i] or 1, (k[i] - 1) * dil[i] + 1
      local span = s[i + 2] + lo + hi - keff
      local o = (ceil and math.ceil(span / st) or span // st) + 1
      if ceil and (o - 1) * st >= s[i + 2] + lo then o = o - 1 end
      outs[i] = o
      pads[i] = { lo, math.max(hi, (o - 1) * st + keff - s[i + 2] - lo) }
    end
    local p = { { 0, 0 }, { 0, 0 } }
    for i = 1, rank do p[i + 2] = pads[i] end
    local xp = ts.pad(x, p, -math.huge)
    local result, indices
    local offs = {}
    -- with_indices: each window element's flat index into x (N, C and the spatial dims,
    -- row-major), for the Indices output; the first maximum in kernel order wins
    local function flat_indices()
      local count = s[1] * s[2]
      for a = 1, rank do count = count * outs[a] end
      local v, pos = {}, {}
      for i = 1, count do
        local r = i - 1
        for a = rank, 1, -1 do
          pos[a] = r % outs[a]
          r = r // outs[a]
        end
        local src, sp = {}, 1
        for a = 1, rank do
          src[a] = pos[a] * (strides[a] or 1) + offs[a] * dil[a] - pads[a][1]
          sp = sp * s[a + 2]
        end
        local flat = 0 -- storage_order 0: row-major; 1: column-major over the spatial dims
        if col_major then
          for a = rank, 1, -1 do flat = flat * s[a + 2] + src[a] end
        else
          for a = 1, rank do flat = flat * s[a + 2] + src[a] end
        end
        v[i] = r * sp + flat -- r = n * C + c
      end
      local shp = { s[1], s[2] }
      for a = 1, rank do shp[a + 2] = outs[a] end
      return ts.tensor(v, "int64"):reshape(shp)
    end
    local function visit(i)
      if i > rank then
        local y = xp
        for a = 1, rank do
          local idx = {}
          for o = 0, outs[a] - 1 do idx[#idx + 1] = o * (strides[a] or 1) + offs[a] * dil[a] + 1 end
          y = ts.gather(y, ts.tensor(idx, "int64"), a + 2)
        end
        if with_indices then
          local fi = flat_indices()
          if result then
            local better = ts.greater(y, result)
            indices = ts.where(better, fi, indices)
            result = ts.where(better, y, result)
          else
            result, indices = y, fi
          end
          return
        end
        result = result and ts.maximum(result, y) or y
        return
      end
      for o = 0, k[i] - 1 do
        offs[i] = o
        visit(i + 1)
      end
    end
    visit(1)
    if with_indices then return { result, indices } end
    return result
  end

  local function pool(f, avg)
    return function(n)
      local x = n.inputs[1]
      local k = n:attr("kernel_shape")
      local rank = #k
      local dil = n:attr("dilations")
      local dilated = false
      for _, d in ipairs(dil or {}) do dilated = dilated or d ~= 1 end
      if dilated or n.noutputs > 1 then
        if avg then n:fail("attribute dilations is not supported") end
        if not dil then
          dil = {}
          for i = 1, rank do dil[i] = 1 end
        end
        return dilated_max_pool(n, x, k, dil, n.noutputs > 1)
      end
      local dt = x.dtype
      if dt ~= "float32" and dt ~= "float64" then x = ts.cast(x, "float64") end
      local y = f(x, { ksize = k, strides = n:attr("strides") or 1,
        padding = conv_padding(n, rank, k), data_format = FORMAT[rank],
        ceil_mode = n:attr("ceil_mode", 0) == 1,
        count_include_pad = avg and n:attr("count_include_pad", 0) == 1 or nil })
      return y.dtype ~= dt and ts.cast(y, dt) or y
    end
  end
  reg("MaxPool", pool(ts.max_pool, false))
  reg("AveragePool", pool(ts.avg_pool, true))
  local function global(f)
    return function(n)
      local s = shape_of(n, 1)
      local axes = {}
      for i = 3, #s do axes[#axes + 1] = i end
      return f(n.inputs[1], axes, true)
    end
  end
  reg("GlobalAveragePool", global(ts.reduce_mean))
  reg("GlobalMaxPool", global(ts.reduce_max))
  reg("BatchNormalization", function(n)
    local x, scale, bias, mean, var = table.unpack(n.inputs, 1, 5)
    local s = shape_of(n, 1)
    local shp = { 1, -1 }
    for _ = 3, #s do shp[#shp + 1] = 1 end
    local eps = n:attr("epsilon", 1e-5)
    local training = n:attr("training_mode", 0) == 1 or (n.opset < 14 and n.noutputs > 1)
    if n.opset < 9 and n:attr("spatial", 1) ~= 1 then n:fail("attribute spatial = 0 is not supported") end
    if training then
      -- the batch's statistics (biased variance); running ones by momentum
      local axes = { 1 }
      for i = 3, #s do axes[#axes + 1] = i end
      local bm = ts.reduce_mean(x, axes, true)
      local bv = ts.reduce_mean(ts.square(ts.subtract(x, bm)), axes, true)
      local y = ts.add(ts.multiply(ts.multiply(ts.subtract(x, bm), ts.rsqrt(ts.add(bv,
        const_like(eps, bv)))), ts.reshape(scale, shp)), ts.reshape(bias, shp))
      if n.noutputs == 1 then return y end
      local mom = n:attr("momentum", 0.9)
      local m1, v1 = ts.reshape(bm, { -1 }), ts.reshape(bv, { -1 })
      local rm = ts.add(ts.multiply(mean, const_like(mom, mean)), ts.multiply(m1, const_like(1 - mom, m1)))
      local rv = ts.add(ts.multiply(var, const_like(mom, var)), ts.multiply(v1, const_like(1 - mom, v1)))
      return { y, rm, rv }
    end
    local inv = ts.rsqrt(ts.add(var, const_like(eps, var)))
    local k = ts.multiply(scale, inv)
    return ts.add(ts.multiply(ts.subtract(x, ts.reshape(mean, shp)), ts.reshape(k, shp)),
      ts.reshape(bias, shp))
  end)
  -- LRN: the sum of squares over a window of channels (floor((size-1)/2) before, ceil after),
  -- as the sum of shifted slices of the zero-padded squares
  reg("LRN", function(n)
    local x = n.inputs[1]
    local s = known_shape(n, 1, "LRN")
    local size = n:attr("size")
    if not size then n:fail("attribute size is required") end
    local alpha, beta, bias = n:attr("alpha", 0.0001), n:attr("beta", 0.75), n:attr("bias", 1.0)
    local before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    local p = {}
    for i = 1, #s do p[i] = { 0, 0 } end
    p[2] = { before, after }
    local sq = ts.pad(ts.square(x), p, 0)
    local sum
    for k = 0, size - 1 do
      local begin, len = {}, {}
      for i = 1, #s do begin[i], len[i] = 1, -1 end
      begin[2], len[2] = k + 1, s[2]
      local part = ts.slice(sq, begin, len)
      sum = sum and ts.add(sum, part) or part
    end
    local den = ts.pow(ts.add(ts.multiply(sum, const_like(alpha / size, x)), const_like(bias, x)),
      const_like(beta, x))
    return ts.divide(x, den)
  end)

  reg("LayerNormalization", function(n)
    local x, scale, bias = n.inputs[1], n.inputs[2], n.inputs[3]
    local s = shape_of(n, 1)
    local a = norm_axis(n:attr("axis", -1), #s)
    local axes = {}
    for i = a + 1, #s do axes[#axes + 1] = i end
    local mean = ts.reduce_mean(x, axes, true)
    local d = ts.subtract(x, mean)
    local var = ts.reduce_mean(ts.square(d), axes, true)
    local inv = ts.rsqrt(ts.add(var, const_like(n:attr("epsilon", 1e-5), var)))
    local y = ts.multiply(ts.multiply(d, inv), scale)
    if bias then y = ts.add(y, bias) end
    if n.noutputs > 1 then return { y, mean, inv } end
    return y
  end)
end
