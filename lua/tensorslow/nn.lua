-- Neural-network op wrappers (kernels in src/ops_nn.c). Each op is ts.OP,
-- node:OP and tensor:OP (first argument the main input) and also ts.nn.OP.
-- Float dtypes only: integer inputs are refused with a hint to cast.
-- Loaded by tensorslow/init.lua as require("tensorslow.nn")(ts).
return function(ts)
  local apply, is_opts = ts.apply, ts._is_opts
  local node_methods, tensor_methods = ts.core.node_methods, ts.core.tensor_methods
  local is_node, is_tensor = ts.is_node, ts.is_tensor
  ts.nn = ts.nn or {}

  local function define(name, f, no_method)
    ts[name] = f
    ts.nn[name] = f
    if not no_method then node_methods[name], tensor_methods[name] = f, f end
  end

  local function with_name(attrs, opts)
    if is_opts(opts) then attrs.name = opts.name end
    return attrs
  end

  --- softmax(x [, axis = -1] [, {axis=, name=}]) and log_softmax: stable (x - max).
  for _, name in ipairs { "softmax", "log_softmax" } do
    define(name, function(x, axis, opts)
      if opts == nil and is_opts(axis) then axis, opts = axis.axis, axis end
      if axis ~= nil and math.type(axis) ~= "integer" then
        error(name .. ": axis must be an integer", 2)
      end
      return apply(name, with_name({ axis = axis or -1 }, opts), { x, n = 1 })
    end)
  end

  local function labels_logits(name, args, dtypes)
    if type(args) ~= "table" or is_node(args) or is_tensor(args) or args.labels == nil
      or args.logits == nil then
      error(name .. ": expected {labels=, logits=}", 3)
    end
    return apply(name, { name = args.name }, { args.labels, args.logits, n = 2 }, dtypes)
  end

  --- softmax_cross_entropy_with_logits{labels=, logits=}: per-row loss
  -- -sum(labels * log_softmax(logits)) over the last axis.
  define("softmax_cross_entropy_with_logits", function(args)
    return labels_logits("softmax_cross_entropy_with_logits", args)
  end, true)

  --- sparse_softmax_cross_entropy_with_logits{labels=, logits=}: labels are
  -- 1-based class indices (int64 or uint8; Lua tables become int64).
  define("sparse_softmax_cross_entropy_with_logits", function(args)
    return labels_logits("sparse_softmax_cross_entropy_with_logits", args, { "int64" })
  end, true)

  --- sigmoid_cross_entropy_with_logits{labels=, logits=}: element-wise,
  -- max(x, 0) - x z + log1p(exp(-|x|)).
  define("sigmoid_cross_entropy_with_logits", function(args)
    return labels_logits("sigmoid_cross_entropy_with_logits", args)
  end, true)

  --- mean_squared_error(labels, predictions): the scalar mean of the squared
  -- differences (0 for empty inputs).
  define("mean_squared_error", function(labels, predictions, opts)
    return apply("mean_squared_error", with_name({}, opts), { labels, predictions, n = 2 })
  end)

  --- l2_loss(x): sum(x^2) / 2.
  define("l2_loss", function(x, opts)
    return apply("l2_loss", with_name({}, opts), { x, n = 1 })
  end)

  --- bias_add(x, bias): bias (1-D) added along x's last axis.
  define("bias_add", function(x, bias, opts)
    return apply("bias_add", with_name({}, opts), { x, bias, n = 2 })
  end)

  -- A node seed drawn from ts's generator: deterministic given ts.seed.
  local function draw_seed()
    return math.floor(ts.rand({}):item() * 2 ^ 53)
  end

  --- dropout(x, rate [, {training=, seed=, name=}]): inverted dropout (kept
  -- values scaled by 1/(1-rate)), active only when training is true or is a
  -- node/tensor (scalar, e.g. a fed uint8 placeholder) whose value is non-zero.
  -- The mask is new at every run and reproducible given ts.seed.
  define("dropout", function(x, rate, opts)
    if type(rate) ~= "number" or not (rate >= 0 and rate < 1) then
      error("dropout: rate must be a number in [0, 1)", 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
      error("dropout: options must be a table", 2)
    end
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
  end)
end
