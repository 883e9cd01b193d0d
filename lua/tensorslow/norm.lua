-- Normalization ops (kernels in src/ops_norm.c): fused_batch_norm (TensorFlow 1.x's
-- tf.nn.fused_batch_norm), layer_normalization (tf.contrib.layers.layer_norm's axes) and
-- l2_normalize. Each is ts.NAME, ts.nn.NAME and a node/tensor method; their gradients
-- are declared with them. Loaded by tensorslow/init.lua as require("tensorslow.norm")(ts, I).
return function(ts, I)
  local op, apply, is_opts, raise = I.op, I.apply, I.is_opts, I.raise
  local is_node, is_tensor = I.is_node, I.is_tensor
  local need, attrs_of, node, int_of = I.need, I.attrs_of, I.node, I.int

  local function options(what, opts, known)
    if opts == nil then return {} end
    if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
      raise(("%s: options must be a table, got %s"):format(what,
        is_node(opts) and "a node" or is_tensor(opts) and "a tensor" or type(opts)))
    end
    I.op_options(what, opts, known)
    return opts
  end

  -- The input is checked before the options: a freed tensor is named as such (x:dim() raises).
  local function live(x)
    if is_tensor(x) then x:dim() end
    return x
  end

  local function epsilon(what, v, default)
    if v == nil then return default end
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      raise(("%s: epsilon must be a non-negative number, got %s"):format(what,
        type(v) == "number" and tostring(v) or type(v)))
    end
    return v
  end

  -- Row i (1-based) of a [k, C] value as a [C] vector.
  local function row(p, i, name)
    return ts.squeeze(ts.slice(p, { i, 1 }, { 1, -1 }), { 1 }, name and { name = name } or nil)
  end

  -- x as a node or tensor (it feeds two ops: a Lua table would become two constants),
  -- with the dtype and graph of the first node or tensor among the others.
  local function value_of(x, ...)
    if is_node(x) or is_tensor(x) then return x end
    local dt, g
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if is_node(v) or is_tensor(v) then
        dt = dt or v.dtype
        if is_node(v) then g = g or v.graph end
      end
    end
    if g then return ts.constant(x, { dtype = dt, graph = g }) end
    return ts.tensor(x, dt or "float64")
  end

  ------------------------------------------------------------ fused_batch_norm

  -- data_format -> channels first (the channel axis second) or last.
  local FORMATS = { NC = false, NWC = false, NHWC = false, NDHWC = false,
                    NCW = true, NCHW = true, NCDHW = true }
  -- TensorFlow raises a smaller epsilon to this (a cuDNN limit it kept on every device).
  local MIN_EPSILON = 1.001e-5

  --- fused_batch_norm(x, scale, offset [, {mean=, variance=, epsilon=0.001,
  -- data_format="NHWC", is_training=true, exponential_avg_factor=1, name=}]):
  -- y, batch_mean, batch_variance as tf.compat.v1.nn.fused_batch_norm. Training:
  -- the statistics of the batch over every axis but the channels; y uses the
  -- biased variance, batch_variance is the unbiased one (n / (n - 1)), and with
  -- exponential_avg_factor f ~= 1 the returned statistics are (1 - f) * given + f * batch.
  -- Inference: y uses mean and variance (required), returned as they are.
  op { name = "fused_batch_norm", nn = true, fn = function(x, scale, offset, opts)
    local what = "fused_batch_norm"
    live(x)
    opts = options(what, opts, { "data_format", "epsilon", "is_training", "exponential_avg_factor",
      "mean", "variance" })
    local name = opts.name
    -- x's rank when known (the C ops check it again at run time)
    local rank = (is_tensor(x) or is_node(x)) and x.shape and #x.shape
    if rank and rank < 2 then
      local dims = {}
      for i, d in ipairs(x.shape) do dims[i] = d < 0 and "?" or tostring(d) end
      raise(("%s%s: x must have rank 2 or more (batch, ..., channels), got x [%s]"):format(what,
        name and (" '" .. name .. "'") or "", table.concat(dims, ", ")))
    end
    if scale == nil or offset == nil then
      raise(what .. ": scale and offset are required (vectors of the channels)")
    end
    local fmt = opts.data_format
    if fmt == nil then fmt = "NHWC" end
    local cf = type(fmt) == "string" and FORMATS[fmt]
    if cf == nil then
      raise(("%s: unknown data_format %s (expected NHWC, NCHW, NC, NWC, NCW, NDHWC or NCDHW: "
        .. "the channels last or second)"):format(what,
        type(fmt) == "string" and ("%q"):format(fmt) or tostring(fmt)))
    end
    local eps = epsilon(what, opts.epsilon, 0.001)
    if eps < MIN_EPSILON then eps = MIN_EPSILON end
    local training = opts.is_training
    if training == nil then training = true end
    if type(training) ~= "boolean" then
      raise(("%s: is_training must be a boolean, got %s"):format(what, type(training)))
    end
    local f = opts.exponential_avg_factor
    if f == nil then f = 1 end
    if type(f) ~= "number" or f ~= f then
      raise(("%s: exponential_avg_factor must be a number, got %s"):format(what, type(f)))
    end
    local mean, var = opts.mean, opts.variance
    if (not training or f ~= 1) and (mean == nil or var == nil) then
      raise(("%s: mean and variance are required when %s"):format(what,
        training and "exponential_avg_factor is not 1" or "is_training is false"))
    end
    local attrs = { f1 = cf and 1 or 0, f2 = eps, i1 = training and 1 or 0, name = name }
    if not training then
      -- ts.apply turns Lua values among the inputs into constants or tensors in place
      local ins = { x, scale, offset, mean, var, n = 5 }
      local y = apply("fused_batch_norm", attrs, ins)
      return y, ins[4], ins[5]
    end
    x = value_of(x, scale, offset, mean, var)
    local stats = apply("fused_batch_norm_stats", { f1 = attrs.f1, name = name and name .. "/moments" },
      { x, n = 1 })
    local ins = { x, scale, offset, stats, n = 4 }
    if f ~= 1 then ins[5], ins[6], ins.n = mean, var, 6 end -- checked to be [C]
    local y = apply("fused_batch_norm", attrs, ins)
    if f == 1 then
      return y, row(stats, 1, name and name .. "/batch_mean"),
        row(stats, 3, name and name .. "/batch_variance")
    end
    mean, var = ins[5], ins[6]
    local bm = ts.add(mean * (1 - f), row(stats, 1) * f, name and { name = name .. "/batch_mean" })
    local bv = ts.add(var * (1 - f), row(stats, 3) * f, name and { name = name .. "/batch_variance" })
    return y, bm, bv
  end, grad = function(o, g)
    local at = attrs_of(o)
    local base = { f1 = at.f1, f2 = at.f2, i1 = at.i1 }
    local x, scale = o.inputs[1], o.inputs[2]
    local r = {}
    if at.i1 == 1 then
      -- dx takes in the path through the statistics (input 4, fused_batch_norm_stats(x));
      -- mean and variance (5, 6) are only blended into the returned statistics
      local stats = o.inputs[4]
      local sums = node("fused_batch_norm_sums", base, g, x, stats)
      r[1] = need(1) and node("fused_batch_norm_grad", base, g, x, scale, stats, sums) or nil
      r[2] = need(2) and row(sums, 1) or nil
      r[3] = need(3) and row(sums, 2) or nil
      return r
    end
    local mean, var = o.inputs[4], o.inputs[5]
    r[1] = need(1) and node("fused_batch_norm_grad", base, g, scale, var) or nil
    if need(2) or need(3) or need(4) or need(5) then
      local sums = node("fused_batch_norm_sums", base, g, x, mean, var)
      local dscale, doffset = row(sums, 1), row(sums, 2)
      r[2] = need(2) and dscale or nil
      r[3] = need(3) and doffset or nil
      if need(4) or need(5) then
        local a = scale * ts.rsqrt(var + at.f2)
        -- dscale = rstd sum(dy (x - mean)): dvariance = -scale rstd^3 sum(dy (x - mean)) / 2
        r[4] = need(4) and ts.negative(a * doffset) or nil
        r[5] = need(5) and a * ts.rsqrt(var + at.f2) * dscale * -0.5 or nil
      end
    end
    return r
  end }

  op { name = "fused_batch_norm_stats", public = false, grad = function(o, g)
    return { node("fused_batch_norm_stats_grad", { f1 = attrs_of(o).f1 }, o.inputs[1], o, g) }
  end }

  ------------------------------------------------------------ layer_normalization

  -- A 1-based axis option (negative from the end) as the core's 0-based one.
  local function axis_attr(what, key, v, default)
    if v == nil then v = default end
    local a = int_of(v)
    if not a then raise(("%s: %s must be an integer, got %s"):format(what, key, type(v))) end
    if a == 0 then
      raise(("%s: %s 0 is not valid (axes are 1-based; -1 is the last)"):format(what, key))
    end
    return a > 0 and a - 1 or a
  end

  --- layer_normalization(x [, {begin_norm_axis=-1, begin_params_axis=-1, gamma=, beta=,
  -- epsilon=1e-12, name=}]): x normalised over the axes begin_norm_axis..rank (mean 0,
  -- variance 1, the variance biased), times gamma plus beta, both of shape
  -- x.shape[begin_params_axis:] (either may be absent). Axes 1-based as in Lua
  -- (tf.contrib.layers.layer_norm's begin_norm_axis = 1 is 2 here); epsilon as that
  -- function's fixed variance_epsilon.
  op { name = "layer_normalization", nn = true, fn = function(x, opts)
    local what = "layer_normalization"
    live(x)
    opts = options(what, opts, { "begin_norm_axis", "begin_params_axis", "epsilon", "gamma", "beta" })
    local bna = axis_attr(what, "begin_norm_axis", opts.begin_norm_axis, -1)
    local bpa = axis_attr(what, "begin_params_axis", opts.begin_params_axis, -1)
    local eps = epsilon(what, opts.epsilon, 1e-12)
    local ins, flags = { x, n = 1 }, 0
    if opts.gamma ~= nil then ins[2], ins.n, flags = opts.gamma, 2, 1 end
    if opts.beta ~= nil then ins.n = ins.n + 1; ins[ins.n], flags = opts.beta, flags + 2 end
    return apply("layer_normalization", { v1 = { bna, bpa }, f1 = eps, i1 = flags, name = opts.name },
      ins)
  end, grad = function(o, g)
    local at = attrs_of(o)
    local x = o.inputs[1]
    local has_gamma, has_beta = at.i1 % 2 == 1, at.i1 >= 2
    local gamma = has_gamma and o.inputs[2] or nil
    local bi = has_gamma and 3 or 2 -- beta's input
    local r = {}
    if need(1) then
      local a = { v1 = at.v1, f1 = at.f1, i1 = has_gamma and 1 or 0 }
      r[1] = gamma and node("layer_normalization_grad", a, g, x, gamma)
        or node("layer_normalization_grad", a, g, x)
    end
    local wg, wb = has_gamma and need(2), has_beta and need(bi)
    if wg or wb then
      local p = node("layer_normalization_grad_params", { v1 = at.v1, f1 = at.f1, i1 = 0 }, g, x)
      if wg then r[2] = node("reshape_like", nil, ts.slice(p, { 1, 1 }, { 1, -1 }), gamma) end
      if wb then r[bi] = node("reshape_like", nil, ts.slice(p, { 2, 1 }, { 1, -1 }), o.inputs[bi]) end
    end
    return r
  end }

  ------------------------------------------------------------ l2_normalize

  --- l2_normalize(x [, axis] [, {axis=, epsilon=1e-12, name=}]): x / sqrt(max(sum(x^2), epsilon))
  -- over axis (1-based, a list, or every axis when nil), as tf.nn.l2_normalize.
  op { name = "l2_normalize", nn = true, fn = function(x, axis, opts)
    local what = "l2_normalize"
    live(x)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    opts = options(what, opts, { "axis", "epsilon" })
    if axis == nil then axis = opts.axis end
    local attrs = { f1 = epsilon(what, opts.epsilon, 1e-12), name = opts.name }
    if axis ~= nil then attrs.axis = I.int_list(axis, what .. ": axis", 3) end
    return apply("l2_normalize", attrs, { x, n = 1 })
  end, grad = function(o, g)
    local at = attrs_of(o)
    return { node("l2_normalize_grad", { axis = at.axis, f1 = at.f1 }, g, o.inputs[1]) }
  end }
end
