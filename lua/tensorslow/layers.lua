-- ts.layers: dense, convolution, pooling, flatten, dropout and batch
-- normalization layers (TensorFlow 1.x tf.layers semantics).
-- Loaded by tensorslow/init.lua as require("tensorslow.layers")(ts, I).
return function(ts, I)
  local layers = {}
  ts.layers = layers
  local is_node = I.is_node

  local VAR_SUFFIXES = { "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance" }
  -- base, base_1, base_2, ... : the first with none of "<name>/kernel", "<name>/bias", ... taken.
  local function free_name(graph, base)
    local name, k = base, 0
    local function taken()
      for _, s in ipairs(VAR_SUFFIXES) do
        if graph:get(I.scoped_name(name .. "/" .. s)) then return true end -- inside ts.name_scope
      end
      return false
    end
    while taken() do
      k = k + 1
      name = base .. "_" .. k
    end
    return name
  end

  --- dense(x, units [, {activation=, name="dense", dtype=, use_bias=true,
  --   kernel_initializer=glorot_uniform, bias_initializer=zeros, kernel_regularizer=}]):
  -- activation(x kernel + bias), with variables "<name>/kernel" (in x units)
  -- and "<name>/bias" (units). x's last dimension must be known.
  -- kernel_regularizer(kernel) (e.g. ts.regularizers.l2(1e-4)): a scalar loss added
  -- to ts.losses.get_regularization_loss() of the graph.
  -- Keras's activation names (those with an op here); linear is none.
  local ACTIVATIONS = { "elu", "gelu", "linear", "relu", "selu", "sigmoid", "softmax", "softplus",
    "softsign", "tanh" }

  --- The activation function of option value a (a function, a name or nil).
  local function activation_of(what, a)
    if a == nil or type(a) == "function" then return a end
    if type(a) == "string" then
      if a == "linear" then return nil end
      for _, n in ipairs(ACTIVATIONS) do
        if n == a and ts[a] then return ts[a] end
      end
    end
    local names = {}
    for _, n in ipairs(ACTIVATIONS) do
      if n == "linear" or ts[n] then names[#names + 1] = '"' .. n .. '"' end
    end
    error(("%s: activation must be a function or one of %s, got %s"):format(what,
      table.concat(names, ", "), type(a) == "string" and '"' .. a .. '"' or tostring(a)), 3)
  end

  local DENSE_OPTS = I.keys { "activation", "name", "dtype", "use_bias", "kernel_initializer",
    "bias_initializer", "kernel_regularizer" }
  function layers.dense(x, units, opts)
    opts = I.check_options("dense", opts, DENSE_OPTS)
    local activation = activation_of("dense", opts.activation)
    if not ts.is_node(x) then error("dense: x must be a node", 2) end
    if math.type(units) ~= "integer" or units < 1 then error("dense: units must be a positive integer", 2) end
    local shape = x.shape
    local n_in = shape and shape[#shape]
    if not n_in or n_in < 0 then
      error("dense: the last dimension of x must be known (give the placeholder a shape)", 2)
    end
    local dtype = opts.dtype or x.dtype
    local graph = x.graph
    local name = free_name(graph, opts.name or "dense")
    local kinit = opts.kernel_initializer or ts.initializers.glorot_uniform
    local binit = opts.bias_initializer or ts.initializers.zeros
    local kernel = ts.Variable(kinit({ n_in, units }, { dtype = dtype }),
      { graph = graph, name = name .. "/kernel", dtype = dtype })
    if opts.kernel_regularizer ~= nil then
      I.add_regularizer("dense: kernel_regularizer", kernel, opts.kernel_regularizer, 2)
    end
    local y = ts.matmul(x, kernel)
    if opts.use_bias ~= false then
      local bias = ts.Variable(binit({ units }, { dtype = dtype }),
        { graph = graph, name = name .. "/bias", dtype = dtype })
      y = y + bias
    end
    if activation then y = activation(y) end
    return y
  end

  ------------------------------------------------------------ helpers

  local options = I.options

  local function check_node(what, x)
    if not is_node(x) then error(what .. ": x must be a node", 3) end
  end

  -- data_format: "channels_last"/"NHWC" (default) -> false, "channels_first"/"NCHW" -> true.
  local function channels_first(what, fmt)
    if fmt == nil or fmt == "channels_last" or fmt == "NHWC" then return false end
    if fmt == "channels_first" or fmt == "NCHW" then return true end
    error(("%s: unknown data_format %s (expected \"channels_last\", \"NHWC\", \"channels_first\" or "
      .. "\"NCHW\")"):format(what, type(fmt) == "string" and ("%q"):format(fmt) or tostring(fmt)), 3)
  end

  -- padding: "valid" (default) or "same", any case.
  local function padding_of(what, p)
    if p == nil then return "VALID" end
    local u = type(p) == "string" and p:upper()
    if u == "SAME" or u == "VALID" then return u end
    error(("%s: padding must be \"valid\" or \"same\", got %s"):format(what,
      type(p) == "string" and ("%q"):format(p) or tostring(p)), 3)
  end

  -- A positive integer or two: {height, width}.
  local function pair(what, name, v)
    local i1 = I.int(v)
    if i1 then v = { i1, i1 } end
    local r = I.int_list(v, what .. ": " .. name, 3)
    if #r ~= 2 or r[1] < 1 or r[2] < 1 then
      error(("%s: %s must be a positive integer or two"):format(what, name), 3)
    end
    return r
  end

  ------------------------------------------------------------ convolution, pooling

  --- conv2d(x, filters, kernel_size [, {strides=1, padding="valid", data_format=
  --   "channels_last", dilation_rate=1, activation=, use_bias=true, name="conv2d",
  --   dtype=, kernel_initializer=glorot_uniform, bias_initializer=zeros, kernel_regularizer=}]):
  -- activation(conv2d(x, kernel) + bias) with variables "<name>/kernel" and
  -- "<name>/bias" (filters). The kernel is [h, w, in, filters] in channels_last,
  -- [filters, in, h, w] in channels_first (ts.nn.conv2d's layouts); its initializer
  -- always sees [h, w, in, filters], so the fans are TensorFlow's. x's channel
  -- dimension must be known.
  function layers.conv2d(x, filters, kernel_size, opts)
    local what = "conv2d"
    check_node(what, x)
    if math.type(filters) ~= "integer" or filters < 1 then
      error("conv2d: filters must be a positive integer", 2)
    end
    local k = pair(what, "kernel_size", kernel_size)
    opts = options(what, opts, { "strides", "padding", "data_format", "dilation_rate", "activation",
      "use_bias", "name", "dtype", "kernel_initializer", "bias_initializer", "kernel_regularizer" })
    local activation = activation_of(what, opts.activation)
    local cf = channels_first(what, opts.data_format)
    local shape = x.shape
    local n_in = shape and #shape == 4 and shape[cf and 2 or 4]
    if not n_in or n_in < 0 then
      error("conv2d: x must have rank 4 and a known channel dimension (give the placeholder a shape)", 2)
    end
    local conv_opts = { strides = pair(what, "strides", opts.strides or 1),
                        dilations = pair(what, "dilation_rate", opts.dilation_rate or 1),
                        padding = padding_of(what, opts.padding),
                        data_format = cf and "NCHW" or "NHWC" }
    local dtype = opts.dtype or x.dtype
    local graph = x.graph
    local name = free_name(graph, opts.name or "conv2d")
    local kinit = opts.kernel_initializer or ts.initializers.glorot_uniform
    local binit = opts.bias_initializer or ts.initializers.zeros
    local value = kinit({ k[1], k[2], n_in, filters }, { dtype = dtype })
    if cf then value = ts.transpose(value, { 4, 3, 1, 2 }) end
    local kernel = ts.Variable(value, { graph = graph, name = name .. "/kernel", dtype = dtype })
    if opts.kernel_regularizer ~= nil then
      I.add_regularizer("conv2d: kernel_regularizer", kernel, opts.kernel_regularizer, 2)
    end
    local y = ts.nn.conv2d(x, kernel, conv_opts)
    if opts.use_bias ~= false then
      local bias = ts.Variable(binit({ filters }, { dtype = dtype }),
        { graph = graph, name = name .. "/bias", dtype = dtype })
      y = y + (cf and ts.reshape(bias, { filters, 1, 1 }) or bias)
    end
    if activation then y = activation(y) end
    return y
  end

  -- pooling(x, pool_size [, strides] [, {padding="valid", data_format=, name=}]):
  -- strides default to pool_size.
  local function pooling(op, what)
    return function(x, pool_size, strides, opts)
      check_node(what, x)
      if opts == nil and type(strides) == "table" and not is_node(strides) and strides[1] == nil then
        strides, opts = nil, strides
      end
      opts = options(what, opts, { "padding", "data_format", "name" })
      local k = pair(what, "pool_size", pool_size)
      return ts.nn[op](x, { ksize = k, strides = strides and pair(what, "strides", strides) or k,
                            padding = padding_of(what, opts.padding),
                            data_format = channels_first(what, opts.data_format) and "NCHW" or "NHWC",
                            name = opts.name })
    end
  end
  --- max_pooling2d(x, pool_size [, strides] [, opts]): maximum over each window.
  layers.max_pooling2d = pooling("max_pool2d", "max_pooling2d")
  --- average_pooling2d(x, pool_size [, strides] [, opts]): mean over each window
  -- (with "same" padding, of the values inside x only, as TensorFlow).
  layers.average_pooling2d = pooling("avg_pool2d", "average_pooling2d")

  --- flatten(x [, {name=}]): x as [batch, everything else]; every dimension but
  -- the first must be known.
  function layers.flatten(x, opts)
    check_node("flatten", x)
    opts = options("flatten", opts, { "name" })
    local s = x.shape
    if not s or #s < 1 then error("flatten: x must have a known rank of at least 1", 2) end
    local n = 1
    for i = 2, #s do
      if s[i] < 0 then
        error(("flatten: dimension %d of x must be known (x has shape [%s])"):format(i,
          table.concat(s, ", ")), 2)
      end
      n = n * s[i]
    end
    return ts.reshape(x, { -1, n }, opts.name and { name = opts.name } or nil)
  end

  --- dropout(x [, rate] [, {rate=0.5, training=false, seed=, name=}]): ts.nn.dropout,
  -- active when training is true or a scalar node (fed) whose value is non-zero.
  function layers.dropout(x, rate, opts)
    check_node("dropout", x)
    if opts == nil and type(rate) == "table" then rate, opts = nil, rate end
    opts = options("dropout", opts, { "rate", "training", "seed", "name" })
    rate = rate or opts.rate or 0.5
    if type(rate) ~= "number" or not (rate >= 0 and rate < 1) then
      error("dropout: rate must be a number in [0, 1)", 2)
    end
    local training = opts.training
    if training ~= nil and type(training) ~= "boolean" and not is_node(training) then
      error("dropout: training must be a boolean or a node", 2)
    end
    return ts.nn.dropout(x, rate, { training = training or false, seed = opts.seed, name = opts.name })
  end

  ------------------------------------------------------------ batch normalization

  -- graph -> { {marks = {node ids}, ops = {update nodes}}, ... }: the moving-average
  -- updates of the batch normalization layers built in training mode.
  local updates = setmetatable({}, { __mode = "k" })

  --- I.layer_updates(graph, grads_and_vars): the update nodes of the layers whose
  -- batch statistics or output some gradient depends on; optimizers add them to
  -- their step, so the moving statistics follow training without a user
  -- collecting them (TensorFlow 1.x's UPDATE_OPS trap).
  function I.layer_updates(graph, grads_and_vars)
    local list, r = updates[graph], {}
    if not list then return r end
    local seen, stack = {}, {}
    for _, gv in ipairs(grads_and_vars) do
      if is_node(gv[1]) then stack[#stack + 1] = gv[1] end
    end
    while #stack > 0 do
      local n = table.remove(stack)
      if not seen[n.id] then
        seen[n.id] = true
        for _, i in ipairs(n.inputs) do
          if not seen[i.id] then stack[#stack + 1] = i end
        end
      end
    end
    for _, u in ipairs(list) do
      for _, id in ipairs(u.marks) do
        if seen[id] then
          for _, op in ipairs(u.ops) do r[#r + 1] = op end
          break
        end
      end
    end
    return r
  end

  --- batch_normalization(x [, {axis=-1, momentum=0.99, epsilon=0.001, center=true,
  --   scale=true, training=false, name="batch_normalization", dtype=,
  --   beta_initializer=zeros, gamma_initializer=ones, moving_mean_initializer=zeros,
  --   moving_variance_initializer=ones}]):
  -- gamma (x - mean) / sqrt(variance + epsilon) + beta per channel (axis, 1-based;
  -- 2 for channels_first images). Variables "<name>/gamma", "<name>/beta" and the
  -- not trainable "<name>/moving_mean", "<name>/moving_variance" (saved by the
  -- Saver). training = true: the batch's mean and (biased) variance over every
  -- other axis, and each optimizer step whose gradients depend on the layer also
  -- updates moving = momentum moving + (1 - momentum) batch, with the batch's unbiased
  -- variance (n / (n - 1)) when the axis is the last or the second (the fused kernels,
  -- as TensorFlow's fused layer and PyTorch), its biased one for other axes (as TF1's
  -- non-fused layer). training = false: the
  -- moving statistics. training = a scalar uint8 node (a fed placeholder): chosen
  -- at run time, the update scaled by it being non-zero, so one graph serves both.
  function layers.batch_normalization(x, opts)
    local what = "batch_normalization"
    check_node(what, x)
    opts = options(what, opts, { "axis", "momentum", "epsilon", "center", "scale", "training",
      "name", "dtype", "beta_initializer", "gamma_initializer", "moving_mean_initializer",
      "moving_variance_initializer" })
    local s = x.shape
    if not s or #s < 1 then error("batch_normalization: x must have a known rank", 2) end
    local r = #s
    local axis = I.int(opts.axis or -1)
    if not axis or axis == 0 or axis < -r or axis > r then
      error(("batch_normalization: axis must be an integer in [-%d, %d] other than 0, got %s")
        :format(r, r, tostring(opts.axis)), 2)
    end
    if axis < 0 then axis = r + 1 + axis end
    local c = s[axis]
    if c < 0 then
      error(("batch_normalization: dimension %d of x (the axis) must be known"):format(axis), 2)
    end
    local momentum, eps = opts.momentum or 0.99, opts.epsilon or 1e-3
    if type(momentum) ~= "number" or not (momentum >= 0 and momentum <= 1) then
      error("batch_normalization: momentum must be a number in [0, 1]", 2)
    end
    if type(eps) ~= "number" or eps ~= eps or eps < 0 then
      error("batch_normalization: epsilon must be a non-negative number", 2)
    end
    local training = opts.training
    if training == nil then training = false end
    if type(training) ~= "boolean" and not is_node(training) then
      error("batch_normalization: training must be a boolean or a scalar node", 2)
    end
    local dtype = opts.dtype or x.dtype
    local graph = x.graph
    local name = free_name(graph, opts.name or "batch_normalization")
    local init = ts.initializers
    local function var(suffix, initializer, trainable)
      local v = ts.Variable(initializer({ c }, { dtype = dtype }),
        { graph = graph, name = name .. "/" .. suffix, dtype = dtype })
      if not trainable then I.not_trainable[v] = true end
      return v
    end
    local gamma = opts.scale ~= false and var("gamma", opts.gamma_initializer or init.ones, true) or nil
    local beta = opts.center ~= false and var("beta", opts.beta_initializer or init.zeros, true) or nil
    local moving_mean = var("moving_mean", opts.moving_mean_initializer or init.zeros, false)
    local moving_var = var("moving_variance", opts.moving_variance_initializer or init.ones, false)
    -- a [c] vector broadcast along axis
    local bshape = {}
    for i = 1, r do bshape[i] = i == axis and c or 1 end
    local function along(v)
      if v == nil or axis == r then return v end
      return ts.reshape(v, bshape)
    end
    -- Channels last or second (rank >= 2): the fused C kernels (ts.nn.fused_batch_norm's);
    -- any other axis: composed of ops (moments, batch_normalization).
    local fused = r >= 2 and (axis == r or axis == 2)
    local fmt = axis == r and "NHWC" or "NCHW"
    if fused then
      -- the fused op wants scale and offset: constants when the layer has none
      local one = gamma or ts.constant(ts.ones({ c }, dtype), { graph = graph })
      local zero = beta or ts.constant(ts.zeros({ c }, dtype), { graph = graph })
      local function fbn(mean, variance, is_training)
        return ts.nn.fused_batch_norm(x, one, zero, { mean = mean, variance = variance,
          epsilon = eps, data_format = fmt, is_training = is_training })
      end
      if training == false then return (fbn(moving_mean, moving_var, false)) end
      local y, batch_mean, batch_var
      if training == true then
        y, batch_mean, batch_var = fbn(nil, nil, true)
      else
        -- chosen at run time: the batch's statistics ([3, c]: mean, biased and unbiased
        -- variance, see src/ops_norm.c) or the moving ones, then the inference kernel,
        -- whose gradient reaches x through the statistics too
        local stats = I.apply("fused_batch_norm_stats", { f1 = fmt == "NCHW" and 1 or 0 }, { x, n = 1 })
        local function stat(i) return ts.reshape(ts.slice(stats, { i, 1 }, { 1, c }), { c }) end
        batch_mean, batch_var = stat(1), stat(3)
        y = fbn(ts.where(training, batch_mean, moving_mean), ts.where(training, stat(2), moving_var),
          false)
      end
      local rate = 1 - momentum
      if is_node(training) then
        rate = ts.cast(ts.not_equal(training, 0), dtype) * rate
      else
        rate = ts.constant(rate, { graph = graph, dtype = dtype })
      end
      local function update(v, batch)
        local delta = v - ts.stop_gradient(batch)
        return I.core.node(graph, "apply_gradient_descent", v.name .. "/update", nil, v, delta, rate)
      end
      updates[graph] = updates[graph] or {}
      local list = updates[graph]
      list[#list + 1] = { marks = { y.id, batch_mean.id, batch_var.id },
                          ops = { update(moving_mean, batch_mean), update(moving_var, batch_var) } }
      return y
    end
    if training == false then
      return ts.nn.batch_normalization(x, along(moving_mean), along(moving_var), along(beta),
        along(gamma), eps)
    end
    local axes = {}
    for i = 1, r do if i ~= axis then axes[#axes + 1] = i end end
    local mean, variance = ts.nn.moments(x, axes, { keepdims = true })
    local use_mean, use_var, rate = mean, variance, 1 - momentum
    if is_node(training) then
      use_mean = ts.where(training, mean, ts.reshape(moving_mean, bshape))
      use_var = ts.where(training, variance, ts.reshape(moving_var, bshape))
      rate = ts.cast(ts.not_equal(training, 0), dtype) * rate
    else
      rate = ts.constant(rate, { graph = graph, dtype = dtype })
    end
    local y = ts.nn.batch_normalization(x, use_mean, use_var, along(beta), along(gamma), eps)
    -- moving -= rate (moving - batch), one stateful step each
    local function update(v, batch)
      local delta = v - ts.reshape(ts.stop_gradient(batch), { c })
      return I.core.node(graph, "apply_gradient_descent", v.name .. "/update", nil, v, delta, rate)
    end
    updates[graph] = updates[graph] or {}
    local list = updates[graph]
    list[#list + 1] = { marks = { y.id, mean.id, variance.id },
                        ops = { update(moving_mean, mean), update(moving_var, variance) } }
    return y
  end
end
