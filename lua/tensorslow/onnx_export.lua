-- ts.onnx.save / ts.onnx.save_string: a tensorslow graph as an ONNX model.
-- Loaded by tensorslow/onnx.lua on first use: require("tensorslow.onnx_export")(ts, I)
-- returns {save =, save_string =}.
--
-- The nodes between the given inputs and outputs become ONNX nodes (each op maps to one
-- or several, see MAP below), variables become initializers (their current values);
-- constants, fed placeholders and the ops' parameters (axes, pads...) Constant nodes (an
-- importer knows them at load time); placeholders given as inputs become graph inputs
-- (-1 dims named by dim_params). tensorslow's 1-based values (argmax, gather, one_hot,
-- labels) and axes are turned into ONNX's 0-based ones here; comparisons give uint8 as in
-- tensorslow (Where on the bool).
return function(ts, I)
  local core = I.core
  local pb -- the protobuf module, loaded at the first save

  local KIND = { float32 = 1, uint8 = 2, int64 = 7, float64 = 11 } -- TensorProto.DataType
  local BOOL = 9
  local A_FLOAT, A_INT, A_STRING, A_INTS = 1, 2, 3, 7 -- AttributeProto.AttributeType
  local INT64_MAX = math.maxinteger
  local MIN_OPSET, MAX_OPSET = 13, 17

  local function attr_i(name, v) return { name = name, type = A_INT, i = v } end
  local function attr_f(name, v) return { name = name, type = A_FLOAT, f = v } end
  local function attr_s(name, v) return { name = name, type = A_STRING, s = v } end
  local function attr_ints(name, v) return { name = name, type = A_INTS, ints = v } end

  -- A 1-based Lua axis (negative from the end) as ONNX's 0-based one.
  local function axis0(a) return a > 0 and a - 1 or a end
  local function axes0(list)
    if type(list) ~= "table" then list = { list } end
    local r = {}
    for i, a in ipairs(list) do r[i] = axis0(a) end
    return r
  end

  -- The value attribute of a Constant node holding tensor t.
  local function constant_attr(t)
    return { name = "value", type = 4, t = { name = "", data_type = KIND[t.dtype], dims = t.shape,
                                             bytes = core.to_bytes(t) } }
  end

  ----------------------------------------------------------------- the writer
  -- One export: the ONNX nodes, initializers and value names made so far.
  local W = {}
  W.__index = W

  local raise = I.raise
  local function fail(_, n, msg) raise(("onnx.save: %s '%s': %s"):format(n.op, n.name, msg)) end
  W.fail = fail

  --- A name no other value of the model has, from hint.
  function W:fresh(hint)
    local name, k = hint, 1
    while self.used[name] do
      name = ("%s_%d"):format(hint, k)
      k = k + 1
    end
    self.used[name] = true
    return name
  end

  --- Adds an ONNX node; outs are names (strings) or a count of fresh names from the
  -- current node's name. Returns the output names.
  function W:emit(op_type, inputs, attrs, outs)
    local base = self.current and self.current.name or op_type
    if type(outs) ~= "table" then
      local list = {}
      for i = 1, outs or 1 do list[i] = self:fresh(base .. "/" .. op_type) end
      outs = list
    end
    local nodes = self.model.graph.node
    nodes[#nodes + 1] = { name = self:fresh(base .. "/" .. op_type .. "_node"), op_type = op_type,
                          domain = "", input = inputs, output = outs, attribute = attrs or {} }
    return table.unpack(outs)
  end

  --- A Constant node holding tensor t (a list: of dtype kind, default float64); returns its
  -- output's name. Constant nodes rather than initializers: importers make initializers
  -- variables, and an op's parameters (pads, axes, values) must be known when loading.
  function W:const(t, hint, kind)
    if not ts.is_tensor(t) then t = ts.tensor(t, kind or "float64") end
    local name = self:fresh((self.current and self.current.name or "const") .. "/" .. (hint or "const"))
    return self:emit("Constant", {}, { constant_attr(t) }, { name })
  end
  function W:ints(list, hint) return self:const(ts.tensor(list, "int64"), hint) end
  --- A scalar of node n's dtype (or dtype) with value v.
  function W:scalar(v, dtype, hint) return self:const(ts.tensor(v, dtype), hint) end

  -- uint8 <-> bool around ONNX's logical ops
  function W:to_bool(x) return self:emit("Cast", { x }, { attr_i("to", BOOL) }) end
  -- (Where rather than a Cast to uint8, which importers may refuse as a narrowing cast)
  function W:from_bool(x, out)
    return self:emit("Where", { x, self:scalar(1, "uint8", "true"), self:scalar(0, "uint8", "false") },
      nil, out)
  end

  ------------------------------------------------------------------ the ops
  -- MAP[op](w, n, x, out): emits the ONNX nodes computing node n from x (its inputs'
  -- names), the last one writing out (n's value name).
  local MAP = {}

  local function at(n) return I.attrs_of(n) end
  local function rank(w, n, node)
    local s = (node or n).shape
    if not s then fail(w, n, "the rank of " .. (node and "its input" or "its value") .. " must be known") end
    return #s
  end

  local SAME = { add = "Add", subtract = "Sub", multiply = "Mul", divide = "Div", pow = "Pow",
                 maximum = "Max", minimum = "Min", negative = "Neg", abs = "Abs", sign = "Sign",
                 exp = "Exp", log = "Log", sqrt = "Sqrt", reciprocal = "Reciprocal", sin = "Sin",
                 cos = "Cos", tanh = "Tanh", sigmoid = "Sigmoid", relu = "Relu",
                 softplus = "Softplus", softsign = "Softsign", identity = "Identity",
                 stop_gradient = "Identity", bias_add = "Add" }
  for op, onnx in pairs(SAME) do
    MAP[op] = function(w, _, x, out) w:emit(onnx, x, nil, { out }) end
  end
  for op, onnx in pairs { equal = "Equal", less = "Less", less_equal = "LessOrEqual",
                          greater = "Greater", greater_equal = "GreaterOrEqual" } do
    MAP[op] = function(w, _, x, out) w:from_bool(w:emit(onnx, x), { out }) end
  end
  function MAP.not_equal(w, _, x, out)
    w:emit("Where", { w:emit("Equal", x), w:scalar(0, "uint8", "false"), w:scalar(1, "uint8", "true") },
      nil, { out })
  end
  function MAP.where(w, _, x, out) w:emit("Where", { w:to_bool(x[1]), x[2], x[3] }, nil, { out }) end
  function MAP.square(w, _, x, out) w:emit("Mul", { x[1], x[1] }, nil, { out }) end
  function MAP.squared_difference(w, _, x, out)
    local d = w:emit("Sub", x)
    w:emit("Mul", { d, d }, nil, { out })
  end
  function MAP.log1p(w, n, x, out)
    w:emit("Log", { w:emit("Add", { x[1], w:scalar(1, n.dtype, "one") }) }, nil, { out })
  end
  function MAP.rsqrt(w, _, x, out) w:emit("Reciprocal", { w:emit("Sqrt", x) }, nil, { out }) end
  function MAP.leaky_relu(w, n, x, out)
    local a = at(n)
    w:emit("LeakyRelu", x, { attr_f("alpha", a.f1 or a.alpha or 0.2) }, { out })
  end
  function MAP.elu(w, n, x, out)
    local a = at(n)
    local alpha = a.f1 or a.alpha or 1.0
    if alpha < 0 then fail(w, n, "elu with a negative alpha has no ONNX equivalent") end
    w:emit("Elu", x, { attr_f("alpha", alpha) }, { out })
  end
  function MAP.gelu(w, n, x, out) -- 0.5 x (1 + erf(x / sqrt 2)); Gelu is opset 20
    local e = w:emit("Erf", { w:emit("Mul", { x[1], w:scalar(math.sqrt(0.5), n.dtype, "rsqrt2") }) })
    local h = w:emit("Mul", { x[1], w:scalar(0.5, n.dtype, "half") })
    w:emit("Mul", { h, w:emit("Add", { e, w:scalar(1, n.dtype, "one") }) }, nil, { out })
  end
  for op, v in pairs { zeros_like = 0, ones_like = 1 } do
    MAP[op] = function(w, n, x, out)
      w:emit("ConstantOfShape", { w:emit("Shape", x) }, { constant_attr(ts.tensor({ v }, n.dtype)) }, { out })
    end
  end

  function MAP.matmul(w, n, x, out)
    local a = at(n)
    local ins = { x[1], x[2] }
    for k, flag in ipairs { a.transpose_a, a.transpose_b } do
      if flag then
        local r = rank(w, n, n.inputs[k])
        local perm = {}
        for i = 1, r do perm[i] = i - 1 end
        perm[r - 1], perm[r] = r - 1, r - 2
        ins[k] = w:emit("Transpose", { ins[k] }, { attr_ints("perm", perm) })
      end
    end
    w:emit("MatMul", ins, nil, { out })
  end
  function MAP.transpose(w, n, x, out)
    local perm = at(n).v1
    w:emit("Transpose", x, perm and { attr_ints("perm", perm) } or nil, { out })
  end

  function MAP.reshape(w, n, x, out)
    local shape = at(n).v1
    local attrs
    for _, d in ipairs(shape) do
      if d == 0 then
        if w.opset < 14 then fail(w, n, "a 0 in the shape needs opset 14 or later (allowzero)") end
        attrs = { attr_i("allowzero", 1) }
      end
    end
    w:emit("Reshape", { x[1], w:ints(shape, "shape") }, attrs, { out })
  end
  function MAP.squeeze(w, n, x, out)
    local axis = at(n).axis
    w:emit("Squeeze", axis and { x[1], w:ints(axes0(axis), "axes") } or x, nil, { out })
  end
  function MAP.expand_dims(w, n, x, out)
    w:emit("Unsqueeze", { x[1], w:ints(axes0(at(n).axis), "axes") }, nil, { out })
  end
  function MAP.concat(w, n, x, out)
    w:emit("Concat", x, { attr_i("axis", axis0(at(n).axis or 1)) }, { out })
  end
  function MAP.stack(w, n, x, out)
    local axes = w:ints(axes0(at(n).axis or 1), "axes")
    local parts = {}
    for i, xi in ipairs(x) do parts[i] = w:emit("Unsqueeze", { xi, axes }) end
    w:emit("Concat", parts, { attr_i("axis", axis0(at(n).axis or 1)) }, { out })
  end
  function MAP.slice(w, n, x, out)
    local a = at(n)
    local begin, size = a.v1, a.v2
    local starts, ends, axes = {}, {}, {}
    for i, b in ipairs(begin) do
      local s = size and size[i] or -1
      starts[i], axes[i] = b, i - 1
      if s == -1 or (b < 0 and b + s == 0) then ends[i] = INT64_MAX else ends[i] = b + s end
    end
    w:emit("Slice", { x[1], w:ints(starts, "starts"), w:ints(ends, "ends"), w:ints(axes, "axes") },
      nil, { out })
  end
  -- 1-based int64/uint8 indices as 0-based int64
  local function index0(w, name, node)
    if node.dtype ~= "int64" then name = w:emit("Cast", { name }, { attr_i("to", KIND.int64) }) end
    return w:emit("Sub", { name, w:scalar(1, "int64", "one") })
  end
  function MAP.gather(w, n, x, out)
    w:emit("Gather", { x[1], index0(w, x[2], n.inputs[2]) },
      { attr_i("axis", axis0(at(n).axis or 1)) }, { out })
  end
  function MAP.tile(w, n, x, out) w:emit("Tile", { x[1], w:ints(at(n).v1, "repeats") }, nil, { out }) end
  function MAP.pad(w, n, x, out)
    local a = at(n)
    local pads = {}
    for i, b in ipairs(a.v1) do pads[i], pads[#a.v1 + i] = b, a.v2[i] end
    w:emit("Pad", { x[1], w:ints(pads, "pads"), w:scalar(a.f1 or 0, n.dtype, "value") },
      { attr_s("mode", "constant") }, { out })
  end
  function MAP.cast(w, n, x, out) w:emit("Cast", x, { attr_i("to", KIND[n.dtype]) }, { out }) end
  function MAP.one_hot(w, n, x, out) -- rows of zeros outside 1..depth, as tensorslow
    local depth = at(n).i1
    local classes = {}
    for i = 1, depth do classes[i] = i end
    local idx = x[1]
    if n.inputs[1].dtype ~= "int64" then idx = w:emit("Cast", { idx }, { attr_i("to", KIND.int64) }) end
    local hot = w:emit("Equal", { w:emit("Unsqueeze", { idx, w:ints({ -1 }, "axes") }),
                                  w:ints(classes, "classes") })
    w:emit("Cast", { hot }, { attr_i("to", KIND[n.dtype]) }, { out })
  end

  local REDUCE = { reduce_sum = "ReduceSum", reduce_mean = "ReduceMean", reduce_max = "ReduceMax",
                   reduce_min = "ReduceMin", reduce_prod = "ReduceProd",
                   reduce_logsumexp = "ReduceLogSumExp" }
  local function reduce(w, onnx, x, axis, keepdims, out)
    local attrs = { attr_i("keepdims", keepdims and 1 or 0) }
    local ins = { x }
    if axis ~= nil then
      if onnx == "ReduceSum" then ins[2] = w:ints(axes0(axis), "axes")
      else attrs[2] = attr_ints("axes", axes0(axis)) end
    end
    return w:emit(onnx, ins, attrs, out and { out } or nil)
  end
  for op, onnx in pairs(REDUCE) do
    MAP[op] = function(w, n, x, out)
      local a = at(n)
      reduce(w, onnx, x[1], a.axis, a.keepdims, out)
    end
  end
  for op, onnx in pairs { argmax = "ArgMax", argmin = "ArgMin" } do
    MAP[op] = function(w, n, x, out)
      local a = at(n)
      local axis = a.axis
      if type(axis) == "table" then axis = axis[1] end
      local i = w:emit(onnx, x, { attr_i("axis", axis0(axis or 1)),
                                  attr_i("keepdims", a.keepdims and 1 or 0) })
      w:emit("Add", { i, w:scalar(1, "int64", "one") }, nil, { out })
    end
  end

  function MAP.softmax(w, n, x, out)
    w:emit("Softmax", x, { attr_i("axis", axis0(at(n).axis or -1)) }, { out })
  end
  function MAP.log_softmax(w, n, x, out)
    w:emit("LogSoftmax", x, { attr_i("axis", axis0(at(n).axis or -1)) }, { out })
  end
  function MAP.softmax_cross_entropy_with_logits(w, _, x, out)
    local lp = w:emit("LogSoftmax", { x[2] }, { attr_i("axis", -1) })
    local s = reduce(w, "ReduceSum", w:emit("Mul", { x[1], lp }), { -1 }, false)
    w:emit("Neg", { s }, nil, { out })
  end
  function MAP.sparse_softmax_cross_entropy_with_logits(w, n, x, out)
    local lp = w:emit("LogSoftmax", { x[2] }, { attr_i("axis", -1) })
    local s = n.inputs[2].shape
    local depth = s and s[#s] or -1
    local labels = x[1]
    if n.inputs[1].dtype ~= "int64" then labels = w:emit("Cast", { labels }, { attr_i("to", KIND.int64) }) end
    local picked
    if depth >= 0 then -- the row's entry at the label, as a sum of it and zeros
      local classes = {}
      for i = 1, depth do classes[i] = i end
      local hot = w:emit("Equal", { w:emit("Unsqueeze", { labels, w:ints({ -1 }, "axes") }),
                                    w:ints(classes, "classes") })
      local terms = w:emit("Where", { hot, lp, w:scalar(0, n.dtype, "zero") })
      picked = reduce(w, "ReduceSum", terms, { -1 }, false)
    else
      local idx = w:emit("Unsqueeze", { index0(w, x[1], n.inputs[1]), w:ints({ -1 }, "axes") })
      picked = w:emit("Squeeze", { w:emit("GatherElements", { lp, idx }, { attr_i("axis", -1) }),
                                   w:ints({ -1 }, "axes") })
    end
    w:emit("Neg", { picked }, nil, { out })
  end
  function MAP.sigmoid_cross_entropy_with_logits(w, n, x, out) -- max(x, 0) - x z + log1p(exp(-|x|))
    local z, l = x[1], x[2]
    local soft = w:emit("Log", { w:emit("Add", { w:scalar(1, n.dtype, "one"),
      w:emit("Exp", { w:emit("Neg", { w:emit("Abs", { l }) }) }) }) })
    w:emit("Add", { w:emit("Sub", { w:emit("Relu", { l }), w:emit("Mul", { l, z }) }), soft }, nil, { out })
  end
  function MAP.mean_squared_error(w, _, x, out)
    local d = w:emit("Sub", { x[2], x[1] })
    reduce(w, "ReduceMean", w:emit("Mul", { d, d }), nil, false, out)
  end
  function MAP.l2_loss(w, n, x, out)
    local s = reduce(w, "ReduceSum", w:emit("Mul", { x[1], x[1] }), nil, false)
    w:emit("Mul", { s, w:scalar(0.5, n.dtype, "half") }, nil, { out })
  end
  function MAP.dropout(w, n, x, out)
    local a = at(n)
    if #x == 1 then
      if a.i1 == 1 then fail(w, n, "an active dropout (training) has no deterministic ONNX form") end
      return w:emit("Identity", x, nil, { out })
    end
    local ratio = w:scalar(a.f1 or 0, n.dtype, "ratio")
    local mode = w:emit("Cast", { x[2] }, { attr_i("to", BOOL) })
    w:emit("Dropout", { x[1], ratio, mode }, { attr_i("seed", (a.seed or 0) % 2 ^ 31) }, { out })
  end

  -- Channels last to first and back around an ONNX op that wants NC...
  local function to_first(r) local p = { 0, r - 1 } for i = 1, r - 2 do p[i + 2] = i end return p end
  local function to_last(r) local p = { 0 } for i = 2, r - 1 do p[i] = i end p[r] = 1 return p end
  local function spatial_op(w, n, out, onnx, ins, attrs)
    local a = at(n)
    local r = rank(w, n, n.inputs[1])
    if (a.f1 or 0) == 1 then return w:emit(onnx, ins, attrs, { out }) end
    ins[1] = w:emit("Transpose", { ins[1] }, { attr_ints("perm", to_first(r)) })
    local y = w:emit(onnx, ins, attrs)
    return w:emit("Transpose", { y }, { attr_ints("perm", to_last(r)) }, { out })
  end
  -- SAME as explicit pads when the input's spatial dims are known (TF's: the odd one
  -- after), else auto_pad SAME_UPPER; kernel: the window, dil: the dilations.
  local function pads_attrs(n, a, nsp, kernel, strides, dil, attrs)
    if (a.f2 or 0) ~= 1 then
      attrs[#attrs + 1] = attr_ints("pads", a.v2 or {})
      return attrs
    end
    local s, cf = n.inputs[1].shape, (a.f1 or 0) == 1
    local pads = {}
    for i = 1, nsp do
      local d = s and s[cf and i + 2 or i + 1] or -1
      if d < 0 then
        attrs[#attrs + 1] = attr_s("auto_pad", "SAME_UPPER")
        return attrs
      end
      local out = (d + strides[i] - 1) // strides[i]
      local total = math.max((out - 1) * strides[i] + (kernel[i] - 1) * (dil and dil[i] or 1) + 1 - d, 0)
      pads[i], pads[nsp + i] = total // 2, total - total // 2
    end
    attrs[#attrs + 1] = attr_ints("pads", pads)
    return attrs
  end
  function MAP.conv(w, n, x, out)
    local a = at(n)
    local nsp = #a.v1 // 2
    local strides, dil = table.move(a.v1, 1, nsp, 1, {}), table.move(a.v1, nsp + 1, 2 * nsp, 1, {})
    local filt = x[2]
    if (a.f1 or 0) == 0 then -- [k..., in, out] -> [out, in, k...]
      local perm = { nsp + 1, nsp }
      for i = 1, nsp do perm[i + 2] = i - 1 end
      filt = w:emit("Transpose", { filt }, { attr_ints("perm", perm) })
    end
    local k = n.inputs[2].shape or {}
    local kernel = (a.f1 or 0) == 1 and { table.unpack(k, 3) } or { table.unpack(k, 1, nsp) }
    spatial_op(w, n, out, "Conv", { x[1], filt }, pads_attrs(n, a, nsp, kernel, strides, dil, {
      attr_ints("strides", strides), attr_ints("dilations", dil), attr_i("group", a.i1 or 1) }))
  end
  local function pool(onnx)
    return function(w, n, x, out)
      local a = at(n)
      local nsp = #a.v1 // 2
      local flags = a.i1 or 0
      local kernel, strides = table.move(a.v1, 1, nsp, 1, {}), table.move(a.v1, nsp + 1, 2 * nsp, 1, {})
      local attrs = pads_attrs(n, a, nsp, kernel, strides, nil, {
        attr_ints("kernel_shape", kernel), attr_ints("strides", strides),
        attr_i("ceil_mode", flags & 1) })
      if onnx == "AveragePool" then attrs[#attrs + 1] = attr_i("count_include_pad", (flags & 2) >> 1) end
      spatial_op(w, n, out, onnx, { x[1] }, attrs)
    end
  end
  MAP.max_pool, MAP.avg_pool = pool("MaxPool"), pool("AveragePool")

  local TRAINING = "batch normalization in training mode (batch statistics) cannot be exported: "
    .. "build the graph with training = false or fix the training placeholder with feed"
  function MAP.fused_batch_norm_stats(w, n) fail(w, n, TRAINING) end
  function MAP.fused_batch_norm(w, n, x, out)
    local a = at(n)
    if a.i1 == 1 or #x ~= 5 then fail(w, n, TRAINING) end
    local r = rank(w, n, n.inputs[1])
    local attrs = { attr_f("epsilon", a.f2 or 0.001) }
    if r == 2 then return w:emit("BatchNormalization", x, attrs, { out }) end
    local ins = { x[1], x[2], x[3], x[4], x[5] }
    spatial_op(w, n, out, "BatchNormalization", ins, attrs)
  end
  function MAP.layer_normalization(w, n, x, out)
    local a = at(n)
    local r = rank(w, n, n.inputs[1])
    local function norm(v) return v < 0 and v + r or v end
    local bna, bpa = norm(a.v1[1]), norm(a.v1[2])
    local flags = a.i1 or 0
    local eps = a.f1 or 1e-12
    local gamma, beta = flags & 1 == 1 and x[2] or nil, flags & 2 == 2 and x[flags & 1 == 1 and 3 or 2] or nil
    if w.opset >= 17 and gamma and bna == bpa then
      return w:emit("LayerNormalization", { x[1], gamma, beta },
        { attr_i("axis", bna), attr_f("epsilon", eps) }, { out })
    end
    local axes = {}
    for i = bna, r - 1 do axes[#axes + 1] = i + 1 end
    local d = w:emit("Sub", { x[1], reduce(w, "ReduceMean", x[1], axes, true) })
    local var = reduce(w, "ReduceMean", w:emit("Mul", { d, d }), axes, true)
    local sd = w:emit("Sqrt", { w:emit("Add", { var, w:scalar(eps, n.dtype, "epsilon") }) })
    local y = w:emit("Div", { d, sd })
    if gamma then y = w:emit("Mul", { y, gamma }) end
    if beta then y = w:emit("Add", { y, beta }) end
    w:emit("Identity", { y }, nil, { out })
  end
  function MAP.l2_normalize(w, n, x, out)
    local a = at(n)
    local s = reduce(w, "ReduceSum", w:emit("Mul", { x[1], x[1] }), a.axis, true)
    local m = w:emit("Max", { s, w:scalar(a.f1 or 1e-12, n.dtype, "epsilon") })
    w:emit("Div", { x[1], w:emit("Sqrt", { m }) }, nil, { out })
  end

  ------------------------------------------------------------- the graph walk
  local KNOWN = { inputs = true, outputs = true, opset = true, producer = true, names = true,
                  feed = true }

  local function node_list(v, what, may_be_empty)
    if ts.is_node(v) then return { v } end
    if type(v) ~= "table" then raise(("onnx.save: %s must be a node or an array of nodes"):format(what)) end
    local r = {}
    for i = 1, rawlen(v) do
      local n = rawget(v, i)
      if not ts.is_node(n) then raise(("onnx.save: %s[%d] is not a node"):format(what, i)) end
      r[i] = n
    end
    if #r == 0 and not may_be_empty then raise(("onnx.save: %s is empty"):format(what)) end
    return r
  end

  -- The value of a fed placeholder, as a tensor of its dtype.
  local function fed(feed, n)
    local v = feed[n]
    if v == nil then return nil end
    return ts.is_tensor(v) and v or ts.tensor(v, n.dtype)
  end

  -- Where a node's value comes from once fed placeholders are fixed: where(c, a, b) with a
  -- known scalar c is a or b, dropout with a known training flag off is its input.
  local function resolve(n, feed)
    while true do
      local c = n.inputs[1]
      if n.op == "where" and c.op == "placeholder" and feed[c] and fed(feed, c):numel() == 1 then
        n = fed(feed, c):item() ~= 0 and n.inputs[2] or n.inputs[3]
      elseif n.op == "dropout" and #n.inputs == 2 and n.inputs[2].op == "placeholder"
        and feed[n.inputs[2]] and fed(feed, n.inputs[2]):item() == 0 then
        n = c
      else
        return n
      end
    end
  end

  -- A ValueInfo: -1 dims named (dim_params) after the value and the axis; no dims for an
  -- unknown rank.
  local function value_info(name, n)
    local vi = { name = name, elem_type = KIND[n.dtype] }
    if n.shape then
      vi.dims, vi.dim_params = n.shape, {}
      for i, d in ipairs(n.shape) do
        if d < 0 then vi.dim_params[i] = ("%s_dim%d"):format(name, i) end
      end
    end
    return vi
  end

  local function build(opts)
    opts = I.check_options("onnx.save", opts, KNOWN)
    local inputs = node_list(opts.inputs or {}, "inputs", true) -- none: a model of variables alone
    local outputs = node_list(opts.outputs, "outputs")
    local opset = opts.opset or MAX_OPSET
    if math.type(opset) ~= "integer" or opset < MIN_OPSET or opset > MAX_OPSET then
      raise(("onnx.save: opset must be an integer from %d to %d, got %s"):format(MIN_OPSET, MAX_OPSET,
        tostring(opset)))
    end
    local names, feed = opts.names or {}, opts.feed or {}
    for k, v in pairs(names) do
      if not ts.is_node(k) or type(v) ~= "string" then
        raise("onnx.save: names must map nodes to strings")
      end
    end
    for k in pairs(feed) do
      if not ts.is_node(k) or k.op ~= "placeholder" then
        raise("onnx.save: feed must map placeholders to values")
      end
    end
    local w = setmetatable({ used = {}, opset = opset, value = {}, model = {
      ir_version = 8, producer_name = opts.producer or "tensorslow", producer_version = "",
      opset_import = { { domain = "", version = opset } },
      graph = { name = "tensorslow", node = {}, initializer = {}, input = {}, output = {},
                value_info = {} } } }, W)
    local g = w.model.graph
    local is_input = {}
    for _, n in ipairs(inputs) do
      if is_input[n] then raise(("onnx.save: input '%s' is given twice"):format(n.name)) end
      is_input[n] = true
      w.value[n] = w:fresh(names[n] or n.name)
      g.input[#g.input + 1] = value_info(w.value[n], n)
    end
    -- the nodes the outputs need, in id order (a topological order: nodes are appended)
    local seen, list, stack = {}, {}, {}
    for i = #outputs, 1, -1 do stack[#stack + 1] = resolve(outputs[i], feed) end
    while #stack > 0 do
      local n = table.remove(stack)
      if not seen[n] then
        seen[n] = true
        if not is_input[n] then
          list[#list + 1] = n
          for _, i in ipairs(n.inputs) do stack[#stack + 1] = resolve(i, feed) end
        end
      end
    end
    table.sort(list, function(a, b) return a.id < b.id end)
    for _, n in ipairs(list) do w.value[n] = w:fresh(names[n] or n.name) end
    for _, n in ipairs(list) do
      w.current = n
      local name = w.value[n]
      if n.op == "variable" then
        local t = n:value()
        local inits = g.initializer
        inits[#inits + 1] = { name = name, data_type = KIND[t.dtype], dims = t.shape,
                              bytes = core.to_bytes(t) }
      elseif n.op == "constant" or (n.op == "placeholder" and feed[n]) then
        w:emit("Constant", {}, { constant_attr(n.op == "placeholder" and fed(feed, n) or n:value()) },
          { name })
      elseif n.op == "placeholder" then
        raise(("onnx.save: placeholder '%s' is needed by the outputs but is not among the inputs "
          .. "(add it to inputs, or fix its value with feed)"):format(n.name))
      else
        local f = MAP[n.op]
        if not f then fail(w, n, "op " .. n.op .. " has no ONNX equivalent") end
        local x = {}
        for i, v in ipairs(n.inputs) do x[i] = w.value[resolve(v, feed)] end
        f(w, n, x, name)
      end
    end
    -- an output that is an input, an initializer, another output or a node resolved away
    -- gets an Identity of its own
    local out_used = {}
    for _, n in ipairs(outputs) do
      local r = resolve(n, feed)
      local name = w.value[r]
      if r ~= n or is_input[r] or out_used[name] or r.op == "variable" or r.op == "constant"
        or r.op == "placeholder" then
        w.current = n
        name = w:emit("Identity", { name }, nil, { w:fresh(names[n] or n.name) })
      end
      out_used[name] = true
      g.output[#g.output + 1] = value_info(name, n)
    end
    return w.model
  end

  local M = {}
  --- save_string(opts): the model's bytes.
  function M.save_string(opts)
    if type(opts) ~= "table" then error("onnx.save_string: expected an options table", 2) end
    local model = build(opts)
    pb = pb or require "tensorslow.onnx_pb"
    return pb.encode(model)
  end
  --- save(path, opts): writes the model to path; returns path.
  function M.save(path, opts)
    if type(path) ~= "string" then error("onnx.save: path must be a string", 2) end
    if type(opts) ~= "table" then error("onnx.save: expected an options table", 2) end
    local bytes = M.save_string(opts)
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    f:close()
    return path
  end
  M.build = build
  M.MAP = MAP
  return M
end
