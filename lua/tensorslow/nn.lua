-- Neural-network op wrappers (kernels in src/ops_nn.c). Each op is ts.OP,
-- node:OP and tensor:OP (first argument the main input) and also ts.nn.OP.
-- Float dtypes only: integer inputs are refused with a hint to cast.
-- Their gradients are declared with them.
-- Loaded by tensorslow/init.lua as require("tensorslow.nn")(ts, I).
return function(ts, I)
  local op, apply, is_opts, with_name = I.op, I.apply, I.is_opts, I.with_name
  local is_node, is_tensor = I.is_node, I.is_tensor
  local need, sum_like, attrs_of, node = I.need, I.sum_like, I.attrs_of, I.node

  local function last_axis(o) return attrs_of(o).axis or -1 end

  --- softmax(x [, axis = -1] [, {axis=, name=}]) and log_softmax: stable (x - max).
  local function softmax_op(name, grad)
    op { name = name, nn = true, grad = grad, fn = function(x, axis, opts)
      if opts == nil and is_opts(axis) then axis, opts = axis.axis, axis end
      if axis ~= nil and math.type(axis) ~= "integer" then
        error(name .. ": axis must be an integer", 2)
      end
      return apply(name, with_name({ axis = axis or -1 }, opts, name, { "axis" }), { x, n = 1 })
    end }
  end
  softmax_op("softmax", function(o, g)
    return { o * (g - ts.reduce_sum(g * o, last_axis(o), true)) }
  end)
  softmax_op("log_softmax", function(o, g)
    return { g - ts.exp(o) * ts.reduce_sum(g, last_axis(o), true) }
  end)

  local function labels_logits(name, args, dtypes)
    if type(args) ~= "table" or is_node(args) or is_tensor(args) or args.labels == nil
      or args.logits == nil then
      error(name .. ": expected {labels=, logits=}", 3)
    end
    return apply(name, { name = args.name }, { args.labels, args.logits, n = 2 }, dtypes)
  end

  --- softmax_cross_entropy_with_logits{labels=, logits=}: per-row loss
  -- -sum(labels * log_softmax(logits)) over the last axis.
  op { name = "softmax_cross_entropy_with_logits", nn = true, method = false, fn = function(args)
    return labels_logits("softmax_cross_entropy_with_logits", args)
  end, grad = function(o, g)
    local labels, logits = o.inputs[1], o.inputs[2]
    local ge = ts.expand_dims(g, -1)
    -- d/dlogits = sum(labels) softmax - labels: labels need not sum to 1
    local total = need(2) and node("reduce_sum", { axis = -1, keepdims = true }, labels)
    return { need(1) and ge * -ts.log_softmax(logits) or nil,
             need(2) and ge * (total * ts.softmax(logits) - labels) or nil }
  end }

  --- sparse_softmax_cross_entropy_with_logits{labels=, logits=}: labels are
  -- 1-based class indices (int64 or uint8; Lua tables become int64).
  op { name = "sparse_softmax_cross_entropy_with_logits", nn = true, method = false,
    fn = function(args)
      return labels_logits("sparse_softmax_cross_entropy_with_logits", args, { "int64" })
    end, grad = function(o, g)
      local labels, logits = o.inputs[1], o.inputs[2]
      -- the class count comes from the logits at run time
      local hot = node("one_hot_like", nil, labels, logits)
      return { nil, ts.expand_dims(g, -1) * (ts.softmax(logits) - hot) }
    end }
  op { name = "one_hot_like", public = false, grad = false }

  --- sigmoid_cross_entropy_with_logits{labels=, logits=}: element-wise,
  -- max(x, 0) - x z + log1p(exp(-|x|)).
  op { name = "sigmoid_cross_entropy_with_logits", nn = true, method = false, fn = function(args)
    return labels_logits("sigmoid_cross_entropy_with_logits", args)
  end, grad = function(o, g)
    local z, x = o.inputs[1], o.inputs[2]
    return { need(1) and sum_like(g * -x, z) or nil,
             need(2) and sum_like(g * (ts.sigmoid(x) - z), x) or nil }
  end }

  --- mean_squared_error(labels, predictions): the scalar mean of the squared
  -- differences (0 for empty inputs).
  op { name = "mean_squared_error", nn = true, fn = function(labels, predictions, opts)
    return apply("mean_squared_error", with_name({}, opts, "mean_squared_error"),
      { labels, predictions, n = 2 })
  end, grad = function(o, g)
    local l, p = o.inputs[1], o.inputs[2]
    local diff = p - l
    local d = I.broadcast_like(g, diff, { i1 = 1 }) * diff * 2
    return { need(1) and sum_like(-d, l) or nil, need(2) and sum_like(d, p) or nil }
  end }

  --- l2_loss(x): sum(x^2) / 2.
  op { name = "l2_loss", nn = true, fn = function(x, opts)
    return apply("l2_loss", with_name({}, opts, "l2_loss"), { x, n = 1 })
  end, grad = function(o, g) return { g * o.inputs[1] } end }

  --- bias_add(x, bias): bias (1-D) added along x's last axis.
  op { name = "bias_add", nn = true, fn = function(x, bias, opts)
    return apply("bias_add", with_name({}, opts, "bias_add"), { x, bias, n = 2 })
  end, grad = function(o, g)
    return { g, need(2) and sum_like(g, o.inputs[2]) or nil }
  end }

  -- A node seed drawn from ts's generator: deterministic given ts.seed.
  local function draw_seed()
    return math.floor(ts.rand({}):item() * 2 ^ 53)
  end

  --- random_normal(shape [, {mean=0, stddev=1, dtype="float64", seed=, name=, graph=}]),
  -- truncated_normal (draws beyond 2 stddev drawn again), random_uniform(shape
  -- [, {minval=0, maxval=1, ...}]): graph ops with no inputs drawing new values at
  -- every run, reproducible given ts.seed (seeded per node like dropout).
  for name, params in pairs { random_normal = { "mean", "stddev", 0, 1 },
                              truncated_normal = { "mean", "stddev", 0, 1 },
                              random_uniform = { "minval", "maxval", 0, 1 } } do
    local known = I.keys { params[1], params[2], "dtype", "seed", "name", "graph" }
    op { name = name, method = false, grad = false, fn = function(shape, opts)
      opts = I.check_options(name, opts, known)
      local s = I.int_list(shape, name .. ": shape", 2)
      local a, b = opts[params[1]], opts[params[2]]
      if a == nil then a = params[3] end
      if b == nil then b = params[4] end
      if type(a) ~= "number" or type(b) ~= "number" then
        error(("%s: %s and %s must be numbers"):format(name, params[1], params[2]), 2)
      end
      local seed = opts.seed
      if seed == nil then seed = draw_seed() end
      if math.type(seed) ~= "integer" then error(name .. ": seed must be an integer", 2) end
      local attrs = { v1 = s, dtype = opts.dtype or "float64", f1 = a, f2 = b, seed = seed }
      local g = opts.graph or I.core.get_default_graph()
      local ok, n = pcall(I.core.node, g, name, opts.name, attrs)
      if not ok then I.raise(n) end
      I.node_attrs[n] = attrs
      return n
    end }
  end

  --- dropout(x, rate [, {training=, seed=, name=}]): inverted dropout (kept
  -- values scaled by 1/(1-rate)), active only when training is true or is a
  -- node/tensor (scalar, e.g. a fed uint8 placeholder) whose value is non-zero.
  -- The mask is new at every run and reproducible given ts.seed.
  op { name = "dropout", nn = true, fn = function(x, rate, opts)
    if type(rate) ~= "number" or not (rate >= 0 and rate < 1) then
      error("dropout: rate must be a number in [0, 1)", 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
      error("dropout: options must be a table", 2)
    end
    I.op_options("dropout", opts, { "training", "seed" })
    local seed = opts.seed
    if seed == nil then seed = draw_seed() end
    if math.type(seed) ~= "integer" then error("dropout: seed must be an integer", 2) end
    local attrs = { f1 = rate, seed = seed, name = opts.name }
    local training = opts.training
    if is_node(training) or is_tensor(training) then
      return apply("dropout", attrs, { x, training, n = 2 })
    end
    if training ~= nil and type(training) ~= "boolean" then
      error("dropout: training must be a boolean, a node or a tensor", 2)
    end
    attrs.i1 = training and 1 or 0
    return apply("dropout", attrs, { x, n = 1 })
  end, grad = function(o, g)
    -- the kept-and-scaled mask is y / x (x == 0 gives 0: no mask is known there)
    local x = o.inputs[1]
    local zero = ts.subtract(1, ts.sign(ts.abs(x)))
    return { g * o / (x + zero) }
  end }
end
