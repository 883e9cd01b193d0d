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
  for op, f in pairs(binary) do
    reg(op, function(n)
      local a, b = n.inputs[1], n.inputs[2]
      if n.opset < 7 and n:attr("broadcast", 0) == 1 and n:attr("axis") then
        n:fail("attribute axis (legacy broadcast) is not supported")
      end
      if op == "Pow" and a.dtype ~= b.dtype then b = ts.cast(b, a.dtype) end
      return f(a, b)
    end)
  end
  reg("Div", function(n)
    local a, b = n.inputs[1], n.inputs[2]
    return ts.divide(a, b)
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
    local alpha, gamma = n:attr("alpha", 1.67326319217681884765625), n:attr("gamma", 1.05070102214813232421875)
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
    return ts.where(ts.less(x, const_like(0, x)), ts.multiply(x, slope),
      ts.multiply(x, ts.ones_like(slope)))
  end)
  reg("Mish", function(n)
    local x = n.inputs[1]
    return ts.multiply(x, ts.tanh(ts.softplus(x)))
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
  -- MatMul with NumPy's rules: ranks 1..3 go to ts.matmul, higher ranks through a
  -- reshape to 3 (same batch shapes).
  local function matmul(n, a, b)
    local sa, sb = a.shape, b.shape
    if not sa or not sb then n:fail("MatMul needs the operands' ranks") end
    local ra, rb = #sa, #sb
    if ra <= 3 and rb <= 3 and (ra < 3 or rb < 3 or true) then
      if ra == 3 and rb == 2 then
        return ts.reshape(ts.matmul(ts.reshape(a, { -1, sa[3] }), b), { sa[1], sa[2], sb[2] })
      end
      if ra == 2 and rb == 3 then
        local bt = ts.transpose(b, { 2, 1, 3 }) -- k, B, m
        local r = ts.matmul(a, ts.reshape(bt, { sb[2], -1 })) -- n, B*m
        return ts.transpose(ts.reshape(r, { sa[1], sb[1], sb[3] }), { 2, 1, 3 })
      end
      return ts.matmul(a, b)
    end
    -- rank > 3: batch dims must be equal and known
    local rank = math.max(ra, rb)
    if ra ~= rb then n:fail("MatMul of ranks " .. ra .. " and " .. rb .. " is not supported") end
    local batch = 1
    for i = 1, rank - 2 do
      if sa[i] < 0 or sa[i] ~= sb[i] then n:fail("MatMul with broadcast batch dims is not supported") end
      batch = batch * sa[i]
    end
    local r = ts.matmul(ts.reshape(a, { batch, sa[ra - 1], sa[ra] }), ts.reshape(b, { batch, sb[rb - 1], sb[rb] }))
    local out = {}
    for i = 1, rank - 2 do out[i] = sa[i] end
    out[rank - 1], out[rank] = sa[ra - 1], sb[rb]
    return ts.reshape(r, out)
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
  local function reduce(f)
    return function(n)
      local x = n.inputs[1]
      local axes = n:attr("axes")
      if n.ninputs >= 2 and n.inputs[2] then axes = ints(n, 2, "axes") end
      local keep = n:attr("keepdims", 1) == 1
      if axes == nil or #axes == 0 then
        if n:attr("noop_with_empty_axes", 0) == 1 then return ts.identity(x) end
        local s = shape_of(n, 1)
        axes = {}
        for i = 1, #s do axes[i] = i - 1 end
      end
      if #axes == 0 then return f(x, nil, keep) end
      return f(x, axes_of(axes), keep)
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

  local function arg(f, g)
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
  reg("Reshape", function(n)
    local x = n.inputs[1]
    local shape
    if n.opset < 5 then shape = n:attr("shape") else shape = ints(n, 2, "shape") end
    local allowzero = n:attr("allowzero", 0) == 1
    local s = x.shape
    local out = {}
    for i, d in ipairs(shape) do
      if d == 0 and not allowzero then
        if not s or not s[i] or s[i] < 0 then n:fail("a 0 in shape copies an unknown dimension") end
        out[i] = s[i]
      else
        out[i] = d
      end
    end
    return ts.reshape(x, out)
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
  reg("Squeeze", function(n)
    local axes = n:attr("axes")
    if n.opset >= 13 and n.inputs[2] then axes = ints(n, 2, "axes") end
    if not axes or #axes == 0 then return ts.squeeze(n.inputs[1]) end
    return ts.squeeze(n.inputs[1], axes_of(axes))
  end)
  reg("Unsqueeze", function(n)
    local axes = n:attr("axes")
    if n.opset >= 13 then axes = ints(n, 2, "axes") end
    local x = n.inputs[1]
    local r = #shape_of(n, 1) + #axes
    local sorted = {}
    for i, a in ipairs(axes) do sorted[i] = norm_axis(a, r) end
    table.sort(sorted)
    for _, a in ipairs(sorted) do x = ts.expand_dims(x, a + 1) end
    return x
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
    if n.opset >= 13 and n.inputs[2] then split = ints(n, 2, "split") end
    local r
    if split then
      r = ts.split(x, split, ax(a))
    else
      r = ts.split(x, n.noutputs, ax(a))
    end
    return r
  end)
  reg("Slice", function(n)
    local x = n.inputs[1]
    local s = shape_of(n, 1)
    local starts, ends, axes, steps
    if n.opset < 10 then
      starts, ends, axes = n:attr("starts"), n:attr("ends"), n:attr("axes")
    else
      starts, ends = ints(n, 2, "starts"), ints(n, 3, "ends")
      if n.inputs[4] then axes = ints(n, 4, "axes") end
      if n.inputs[5] then steps = ints(n, 5, "steps") end
    end
    local begin, size = {}, {}
    for i = 1, #s do begin[i], size[i] = 0, -1 end
    for k, st in ipairs(starts) do
      local a = norm_axis(axes and axes[k] or k - 1, #s)
      local step = steps and steps[k] or 1
      if step ~= 1 then n:fail(("steps = %d is not supported"):format(step)) end
      local d = s[a + 1]
      if d < 0 then n:fail("Slice needs the sliced axes' sizes known") end
      local e = ends[k]
      if st < 0 then st = st + d end
      if e < 0 then e = e + d end
      st = math.max(0, math.min(st, d))
      e = math.max(0, math.min(e, d))
      begin[a + 1] = st
      size[a + 1] = math.max(0, e - st)
    end
    for i = 1, #s do begin[i] = begin[i] + 1 end
    return ts.slice(x, begin, size)
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
  reg("Tile", function(n) return ts.tile(n.inputs[1], ints(n, 2, "repeats")) end)
  reg("Expand", function(n)
    local x = n.inputs[1]
    local shape = ints(n, 2, "shape")
    return ts.multiply(x, ts.ones(shape, x.dtype))
  end)
  reg("Pad", function(n)
    local x = n.inputs[1]
    local mode = n:attr("mode", "constant")
    if mode ~= "constant" then n:fail(("attribute mode = %s is not supported"):format(mode)) end
    local pads, value
    if n.opset < 11 then
      pads, value = n:attr("pads"), n:attr("value", 0.0)
    else
      pads = ints(n, 2, "pads")
      local v = n.inputs[3] and n:need_const(3, "constant_value")
      value = v and v:reshape({ -1 }):totable()[1] or 0
    end
    local r = #pads // 2
    local p = {}
    for i = 1, r do
      if pads[i] < 0 or pads[i + r] < 0 then n:fail("negative pads are not supported") end
      p[i] = { pads[i], pads[i + r] }
    end
    return ts.pad(x, p, value)
  end)
  reg("Shape", function(n)
    local s = known_shape(n, 1, "Shape")
    local r = #s
    local st, en = n:attr("start", 0), n:attr("end", r)
    if st < 0 then st = st + r end
    if en < 0 then en = en + r end
    st, en = math.max(0, math.min(st, r)), math.max(0, math.min(en, r))
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
  reg("Cast", function(n)
    local to = n:attr("to")
    if type(to) == "string" then n:fail("attribute to as a string is not supported") end
    local dt = CAST[to]
    if not dt or dt == "bfloat16" or to == 10 then
      n:fail(("attribute to = %s is not supported"):format(tostring(to)))
    end
    local x = n.inputs[1]
    if to == 9 then return ts.cast(ts.not_equal(x, const_like(0, x)), "uint8") end
    if to == 2 or to == 3 or to == 4 or to == 5 or to == 6 or to == 12 then
      n:fail(("attribute to = %d (a narrow integer type) is not supported"):format(to))
    end
    return ts.cast(x, dt)
  end)
  reg("CastLike", function(n) return ts.cast(n.inputs[1], n.inputs[2].dtype) end)
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
    local shape = n.inputs[1] and ints(n, 1, "shape") or {}
    local v = n:attr("value")
    local dt, x = "float32", 0
    if v then
      dt = v.dtype
      x = v:reshape({ -1 }):totable()[1]
    end
    return ts.fill(shape, x, dt)
  end)
  reg("Range", function(n)
    local s, l, d = n:need_const(1, "start"), n:need_const(2, "limit"), n:need_const(3, "delta")
    local a, b, c = s:reshape({ -1 }):totable()[1], l:reshape({ -1 }):totable()[1], d:reshape({ -1 }):totable()[1]
    local count = math.max(math.ceil((b - a) / c), 0)
    if count == 0 then return ts.zeros({ 0 }, s.dtype) end
    local v = {}
    for i = 0, count - 1 do v[#v + 1] = a + i * c end
    return ts.tensor(v, s.dtype)
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
  reg("OneHot", function(n)
    local idx, values = n.inputs[1], n:need_const(3, "values")
    local depth = n:need_const(2, "depth"):reshape({ -1 }):totable()[1]
    depth = math.tointeger(depth) or math.floor(depth)
    local axis = n:attr("axis", -1)
    local vv = values:reshape({ -1 }):totable()
    local i64 = ts.cast(idx, "int64")
    -- negative indices count from the end
    i64 = ts.where(ts.less(i64, ts.constant(0, { dtype = "int64" })),
      ts.add(i64, ts.constant(depth, { dtype = "int64" })), i64)
    local oh = ts.one_hot(ts.add(i64, ts.constant(1, { dtype = "int64" })), depth, { dtype = values.dtype })
    local r = #shape_of(n, 1) + 1
    local y = ts.add(ts.multiply(oh, const_like(vv[2] - vv[1], oh)), const_like(vv[1], oh))
    local a = norm_axis(axis, r)
    if a ~= r - 1 then
      local perm = {}
      for i = 1, a do perm[#perm + 1] = i end
      perm[#perm + 1] = r
      for i = a + 1, r - 1 do perm[#perm + 1] = i end
      y = ts.transpose(y, perm)
    end
    return y
  end)
  reg("Dropout", function(n)
    local x = n.inputs[1]
    local training = n.inputs[3] and n:need_const(3, "training_mode")
    if training and training:reshape({ -1 }):totable()[1] ~= 0 then
      local ratio = n.inputs[2] and n:need_const(2, "ratio"):reshape({ -1 }):totable()[1] or 0.5
      if ratio ~= 0 then n:fail("training_mode with ratio > 0 is not supported") end
    end
    if n.opset < 7 and n:attr("is_test", 0) == 0 then
      n:fail("attribute is_test = 0 (training) is not supported")
    end
    local y = ts.identity(x)
    if n.noutputs >= 2 then return { y, ts.cast(ts.ones_like(x), "uint8") } end
    return y
  end)

  ----------------------------------------------------------- convolutions
  local function conv_padding(n, rank)
    local auto = n:attr("auto_pad", "NOTSET")
    if auto == "VALID" then return "VALID" end
    if auto == "SAME_UPPER" then return "SAME" end
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
      padding = conv_padding(n, rank), data_format = FORMAT[rank], groups = n:attr("group", 1) })
    if b then
      local shp = { 1, -1 }
      for i = 1, rank do shp[#shp + 1] = 1 end
      y = ts.add(y, ts.reshape(b, shp))
    end
    return y
  end)
  local function pool(f, avg)
    return function(n)
      local x = n.inputs[1]
      local k = n:attr("kernel_shape")
      local rank = #k
      if n.noutputs > 1 then n:fail("the Indices output is not supported") end
      local dil = n:attr("dilations")
      if dil then
        for _, d in ipairs(dil) do if d ~= 1 then n:fail("attribute dilations is not supported") end end
      end
      if n:attr("storage_order", 0) ~= 0 then n:fail("attribute storage_order = 1 is not supported") end
      return f(x, { ksize = k, strides = n:attr("strides") or 1, padding = conv_padding(n, rank),
        data_format = FORMAT[rank], ceil_mode = n:attr("ceil_mode", 0) == 1,
        count_include_pad = avg and n:attr("count_include_pad", 0) == 1 or nil })
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
    if n:attr("training_mode", 0) == 1 or n.noutputs > 1 then
      n:fail("training_mode (batch statistics) is not supported")
    end
    local s = shape_of(n, 1)
    local shp = { 1, -1 }
    for _ = 3, #s do shp[#shp + 1] = 1 end
    local eps = n:attr("epsilon", 1e-5)
    local inv = ts.rsqrt(ts.add(var, const_like(eps, var)))
    local k = ts.multiply(scale, inv)
    return ts.add(ts.multiply(ts.subtract(x, ts.reshape(mean, shp)), ts.reshape(k, shp)),
      ts.reshape(bias, shp))
  end)
  reg("LayerNormalization", function(n)
    local x, scale, bias = n.inputs[1], n.inputs[2], n.inputs[3]
    if n.noutputs > 1 then n:fail("the Mean and InvStdDev outputs are not supported") end
    local s = shape_of(n, 1)
    local a = norm_axis(n:attr("axis", -1), #s)
    local axes = {}
    for i = a + 1, #s do axes[#axes + 1] = i end
    local mean = ts.reduce_mean(x, axes, true)
    local d = ts.subtract(x, mean)
    local var = ts.reduce_mean(ts.square(d), axes, true)
    local y = ts.multiply(d, ts.rsqrt(ts.add(var, const_like(n:attr("epsilon", 1e-5), var))))
    y = ts.multiply(y, scale)
    if bias then y = ts.add(y, bias) end
    return y
  end)
end
