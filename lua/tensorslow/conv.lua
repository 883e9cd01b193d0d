-- Convolution, pooling and normalization (kernels in src/ops_conv.c): ts.nn.conv1d/2d/3d,
-- conv2d_transpose (and 1d/3d), depthwise_conv2d, max_pool/avg_pool (1d/2d/3d),
-- moments, batch_normalization; their gradients. TensorFlow 1.x semantics: data_format
-- "NHWC" (default; filters [h, w, in/groups, out]) or "NCHW" (filters [out, in/groups,
-- h, w]); padding "SAME", "VALID" or explicit {{top, bottom}, {left, right}}.
-- Loaded by tensorslow/init.lua as require("tensorslow.conv")(ts, I).
return function(ts, I)
  local apply, is_opts = I.apply, I.is_opts
  local is_node, is_tensor = I.is_node, I.is_tensor
  local int_of = I.int

  -- data_format -> channels first, per number of spatial dims.
  local FORMATS = {
    { NWC = false, NCW = true },
    { NHWC = false, NCHW = true },
    { NDHWC = false, NCDHW = true },
  }
  local DEFAULT = { "NWC", "NHWC", "NDHWC" }

  local function fail(what, msg) error(what .. ": " .. msg, 4) end

  local function options(what, opts, known)
    if opts == nil then return {} end
    if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
      fail(what, "options must be a table")
    end
    I.op_options(what, opts, known)
    return opts
  end
  local CONV_OPTS = { "strides", "padding", "dilations", "dilation_rate", "data_format", "groups" }
  local POOL_OPTS = { "ksize", "strides", "padding", "data_format", "ceil_mode", "count_include_pad" }

  -- The number of spatial dims: nsp, else from the data_format, else the rank of like.
  local function spatial_dims(what, nsp, fmt, like)
    if nsp then return nsp end
    local n = type(fmt) == "string" and #fmt - 2 or (like.shape and #like.shape - 2)
    if not n or n < 1 or n > 3 then fail(what, "cannot tell the number of spatial dims") end
    return n
  end

  local function channels_first(what, nsp, fmt)
    fmt = fmt or DEFAULT[nsp]
    local cf = type(fmt) == "string" and FORMATS[nsp][fmt]
    if cf == nil then
      local names = {}
      for k, v in pairs(FORMATS[nsp]) do names[v and 2 or 1] = k end
      fail(what, ("unknown data_format %s (expected %q or %q)"):format(
        type(fmt) == "string" and ("%q"):format(fmt) or tostring(fmt), names[1], names[2]))
    end
    return cf
  end

  -- A per-spatial-dim list from a number, nsp numbers, or nsp + 2 numbers
  -- (TF's [1, s..., 1] / [1, 1, s...] with the batch and channel entries 1).
  local function spatial(what, name, v, nsp, cf, default)
    if v == nil then v = default end
    local i1 = int_of(v)
    local r = {}
    if i1 then
      for i = 1, nsp do r[i] = i1 end
      return r
    end
    if type(v) ~= "table" or is_node(v) or is_tensor(v) then
      fail(what, ("%s must be an integer or a table of integers, got %s"):format(name, type(v)))
    end
    local n = rawlen(v)
    local first = 1
    if n == nsp + 2 then
      first = cf and 3 or 2
      if int_of(rawget(v, 1)) ~= 1 or int_of(rawget(v, cf and 2 or n)) ~= 1 then
        fail(what, ("%s: the batch and channel entries must be 1"):format(name))
      end
    elseif n ~= nsp then
      fail(what, ("%s must have %d entries (or %d), got %d"):format(name, nsp, nsp + 2, n))
    end
    for i = 1, nsp do
      r[i] = int_of(rawget(v, first + i - 1))
      if not r[i] then fail(what, ("%s: entry %d must be an integer"):format(name, i)) end
    end
    return r
  end

  -- padding -> same (boolean), pads (before..., after...).
  local function paddings(what, p, nsp, cf)
    if p == nil then p = "VALID" end
    if p == "SAME" then return true, {} end
    local pads = {}
    if p == "VALID" then
      for i = 1, 2 * nsp do pads[i] = 0 end
      return false, pads
    end
    local i1 = int_of(p)
    if i1 then
      for i = 1, 2 * nsp do pads[i] = i1 end
      return false, pads
    end
    if type(p) ~= "table" or is_node(p) or is_tensor(p) then
      fail(what, ("padding must be \"SAME\", \"VALID\", an integer or {{before, after}, ...}, got %s")
        :format(type(p) == "string" and ("%q"):format(p) or type(p)))
    end
    local n = rawlen(p)
    local first = 1
    if n == nsp + 2 then first = cf and 3 or 2
    elseif n ~= nsp then
      fail(what, ("padding must have %d pairs (or %d), got %d"):format(nsp, nsp + 2, n))
    end
    for i = 1, nsp do
      local pair = rawget(p, first + i - 1)
      local b = type(pair) == "table" and int_of(rawget(pair, 1))
      local a = type(pair) == "table" and int_of(rawget(pair, 2))
      if not b or not a then
        fail(what, ("padding: entry %d must be a pair of integers {before, after}"):format(i))
      end
      pads[i], pads[nsp + i] = b, a
    end
    return false, pads
  end

  local function concat(a, b)
    local r = {}
    for i = 1, #a do r[i] = a[i] end
    for i = 1, #b do r[#a + i] = b[i] end
    return r
  end

  local function conv_attrs(what, nsp, opts)
    local cf = channels_first(what, nsp, opts.data_format)
    local strides = spatial(what, "strides", opts.strides, nsp, cf, 1)
    local dil = spatial(what, "dilations", opts.dilations or opts.dilation_rate, nsp, cf, 1)
    local same, pads = paddings(what, opts.padding, nsp, cf)
    local groups = opts.groups or 1
    if not int_of(groups) then fail(what, "groups must be an integer") end
    return { v1 = concat(strides, dil), v2 = pads, i1 = groups, f1 = cf and 1 or 0,
             f2 = same and 1 or 0, name = opts.name }
  end

  -- ts.NAME and ts.nn.NAME (no methods); the ops' gradients are at the end.
  local function define(name, f)
    I.op { name = name, fn = f, nn = true, method = false }
  end

  --- convolution(x, filters [, {strides=, padding=, dilations=, data_format=, groups=, name=}]):
  -- 1 to 3 spatial dims, from the data_format (default: the filter's rank).
  local function conv_nd(nsp, name)
    return function(x, filters, opts)
      local what = name
      opts = options(what, opts, CONV_OPTS)
      local n = spatial_dims(what, nsp, opts.data_format, filters)
      return apply("conv", conv_attrs(what, n, opts), { x, filters, n = 2 })
    end
  end
  define("conv1d", conv_nd(1, "conv1d"))
  define("conv2d", conv_nd(2, "conv2d"))
  define("conv3d", conv_nd(3, "conv3d"))
  define("convolution", conv_nd(nil, "convolution"))

  -- A value of the given shape for the "like" input of conv_backprop_input:
  -- a node or tensor is used as is, a table of integers becomes zeros.
  local function like_of(what, shape, dtype_of)
    if is_node(shape) or is_tensor(shape) then return shape end
    local s = I.int_list(shape, what .. ": output_shape", 4)
    local dt = dtype_of.dtype or "float64"
    if is_node(dtype_of) then return ts.constant(ts.zeros(s, dt), { graph = dtype_of.graph }) end
    return ts.zeros(s, dt)
  end

  --- conv2d_transpose(value, filters, output_shape [, opts]): the gradient of
  -- conv2d with respect to its input (TF's conv2d_backprop_input): filters as
  -- for conv2d from output_shape to value ([h, w, output_channels, in_channels]
  -- in NHWC). output_shape: a table or a node/tensor of that shape.
  local function transpose_nd(nsp, name)
    return function(value, filters, output_shape, opts)
      opts = options(name, opts, CONV_OPTS)
      local like = like_of(name, output_shape, value)
      return apply("conv_backprop_input", conv_attrs(name, nsp, opts),
        { value, filters, like, n = 3 })
    end
  end
  define("conv1d_transpose", transpose_nd(1, "conv1d_transpose"))
  define("conv2d_transpose", transpose_nd(2, "conv2d_transpose"))
  define("conv3d_transpose", transpose_nd(3, "conv3d_transpose"))

  --- depthwise_conv2d(x, filter [, opts]): filter [h, w, in, multiplier] (TF's
  -- layout in both data formats); output channel c * multiplier + m.
  define("depthwise_conv2d", function(x, filter, opts)
    local what = "depthwise_conv2d"
    opts = options(what, opts, CONV_OPTS)
    local s = filter.shape
    if not s or #s ~= 4 or s[3] < 0 or s[4] < 0 then
      fail(what, "the filter must have a known shape [h, w, in, multiplier]")
    end
    local attrs = conv_attrs(what, 2, opts)
    attrs.i1 = s[3]
    local f = ts.reshape(filter, { s[1], s[2], 1, s[3] * s[4] })
    if attrs.f1 == 1 then f = ts.transpose(f, { 4, 3, 1, 2 }) end
    return apply("conv", attrs, { x, f, n = 2 })
  end)

  ------------------------------------------------------------ pooling

  -- pool(x, {ksize=, strides=, padding=, data_format=, ceil_mode=,
  -- count_include_pad=, name=}) or pool(x, ksize, strides, padding [, opts]).
  local function pool_nd(op, nsp, name)
    return function(x, ksize, strides, padding, opts)
      local what = name
      if is_opts(ksize) and strides == nil then opts = options(what, ksize, POOL_OPTS)
      else
        opts = options(what, opts, POOL_OPTS)
        local o = {}
        for k, v in pairs(opts) do o[k] = v end
        o.ksize, o.strides, o.padding = ksize, strides, padding
        opts = o
      end
      local n = spatial_dims(what, nsp, opts.data_format, x)
      if opts.ksize == nil then fail(what, "ksize is required") end
      local cf = channels_first(what, n, opts.data_format)
      local k = spatial(what, "ksize", opts.ksize, n, cf)
      local s = spatial(what, "strides", opts.strides or k, n, cf)
      local same, pads = paddings(what, opts.padding, n, cf)
      local flags = (opts.ceil_mode and 1 or 0) + (opts.count_include_pad and 2 or 0)
      return apply(op, { v1 = concat(k, s), v2 = pads, i1 = flags, f1 = cf and 1 or 0,
                         f2 = same and 1 or 0, name = opts.name }, { x, n = 1 })
    end
  end
  for _, op in ipairs { "max_pool", "avg_pool" } do
    define(op, pool_nd(op, nil, op))
    for nsp = 1, 3 do define(op .. nsp .. "d", pool_nd(op, nsp, op .. nsp .. "d")) end
  end

  ------------------------------------------------------------ normalization

  --- moments(x, axes [, {keepdims=, name=}]): mean and variance over axes
  -- (1-based), the variance as the mean of squared deviations.
  I.op { name = "moments", nn = "only", fn = function(x, axes, opts)
    opts = options("moments", opts, { "keepdims" })
    local mean = ts.reduce_mean(x, axes, true)
    local var = ts.reduce_mean(ts.squared_difference(x, ts.stop_gradient(mean)), axes, true)
    if not opts.keepdims then
      mean, var = ts.squeeze(mean, axes), ts.squeeze(var, axes)
    end
    return mean, var
  end }

  --- batch_normalization(x, mean, variance, offset, scale, variance_epsilon):
  -- (x - mean) * scale / sqrt(variance + eps) + offset; offset and scale may be nil.
  I.op { name = "batch_normalization", nn = "only", fn = function(x, mean, variance, offset, scale, eps)
    if type(eps) ~= "number" then fail("batch_normalization", "variance_epsilon must be a number") end
    local inv = ts.rsqrt(variance + eps)
    if scale ~= nil then inv = inv * scale end
    local y = (x - mean) * inv
    if offset ~= nil then y = y + offset end
    return y
  end }

  ------------------------------------------------------------ gradients

  local function attrs_of(op)
    local a = I.node_attrs[op]
    local r = {}
    for k, v in pairs(a) do if k ~= "name" then r[k] = v end end
    return r
  end
  local function reg(name, f) I.op { name = name, public = false, grad = f } end
  reg("conv", function(op, g)
    local x, w, at = op.inputs[1], op.inputs[2], attrs_of(op)
    return { apply("conv_backprop_input", at, { g, w, x, n = 3 }),
             apply("conv_backprop_filter", at, { x, g, w, n = 3 }) }
  end)
  -- conv_backprop_input(dy, w, like) is linear in dy and in w.
  reg("conv_backprop_input", function(op, g)
    local dy, w, at = op.inputs[1], op.inputs[2], attrs_of(op)
    return { apply("conv", at, { g, w, n = 2 }),
             apply("conv_backprop_filter", at, { g, dy, w, n = 3 }) }
  end)
  reg("conv_backprop_filter", function(op, g)
    local x, dy, at = op.inputs[1], op.inputs[2], attrs_of(op)
    return { apply("conv_backprop_input", at, { dy, g, x, n = 3 }),
             apply("conv", at, { x, g, n = 2 }) }
  end)
  reg("max_pool", function(op, g)
    return { apply("max_pool_grad", attrs_of(op), { op.inputs[1], g, n = 2 }) }
  end)
  -- max_pool_grad(x, dy) is piecewise constant in x, linear in dy.
  reg("max_pool_grad", function(op, g)
    return { nil, apply("max_pool_grad_grad", attrs_of(op), { op.inputs[1], g, n = 2 }) }
  end)
  reg("max_pool_grad_grad", function(op, g)
    return { nil, apply("max_pool_grad", attrs_of(op), { op.inputs[1], g, n = 2 }) }
  end)
  reg("avg_pool", function(op, g)
    return { apply("avg_pool_grad", attrs_of(op), { g, op.inputs[1], n = 2 }) }
  end)
  reg("avg_pool_grad", function(op, g)
    return { apply("avg_pool", attrs_of(op), { g, n = 1 }) }
  end)
end
