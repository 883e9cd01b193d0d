-- The element-wise ops added for ONNX import (issue 15; kernels at the end of the unary
-- and binary sections of src/ops_arith.c) and the ops composed of others: erf,
-- rounding, inverse and hyperbolic trigonometry, modulo, the logical and bit ops,
-- NaN/inf tests, ONNX's activations, hardmax, depth_to_space/space_to_depth.
-- Loaded by tensorslow/init.lua as require("tensorslow.math2")(ts, I).
return function(ts, I)
  local op, is_opts = I.op, I.is_opts

  -- 1 where cond (uint8) holds, else 0, in x's dtype
  local function mask(cond, x) return ts.cast(cond, x.dtype) end
  local function one_minus(y) return ts.subtract(1, y) end

  ------------------------------------------------------------ unary maps

  op { name = "erf", kind = "unary", dx = function(x, _, g)
    return g * ts.exp(-(x * x)) * (2 / math.sqrt(math.pi))
  end }
  -- piecewise constant: no gradient, as TF1's Floor, Ceil and Round
  op { name = "floor", kind = "unary", grad = false }
  op { name = "ceil", kind = "unary", grad = false }
  op { name = "round", kind = "unary", grad = false }
  op { name = "acos", kind = "unary", dx = function(x, _, g) return -(g * ts.rsqrt(one_minus(x * x))) end }
  op { name = "asin", kind = "unary", dx = function(x, _, g) return g * ts.rsqrt(one_minus(x * x)) end }
  op { name = "atan", kind = "unary", dx = function(x, _, g) return g / (x * x + 1) end }
  op { name = "cosh", kind = "unary", dx = function(x, _, g) return g * ts.sinh(x) end }
  op { name = "sinh", kind = "unary", dx = function(x, _, g) return g * ts.cosh(x) end }
  op { name = "tan", kind = "unary", dx = function(x, _, g)
    local c = ts.reciprocal(ts.cos(x))
    return g * c * c
  end }
  op { name = "acosh", kind = "unary", dx = function(_, y, g) return g / ts.sinh(y) end }
  op { name = "asinh", kind = "unary", dx = function(_, y, g) return g / ts.cosh(y) end }
  op { name = "atanh", kind = "unary", dx = function(x, _, g) return g / one_minus(x * x) end }

  -- An activation's options as core attributes f1, f2 (defaults given; every
  -- value a number).
  local function params(name, names, defaults, check)
    return function(opts)
      local at = {}
      for i, k in ipairs(names) do
        local v = opts[k]
        if v == nil then v = defaults[i] end
        if type(v) ~= "number" then
          error(("%s: %s must be a number, got %s"):format(name, k, tostring(v)), 4)
        end
        at["f" .. i] = v
      end
      if check then check(at) end
      return at
    end
  end

  -- selu(x [, {alpha=, gamma=, name=}]): gamma (x > 0 ? x : alpha (e^x - 1)), the
  -- self-normalising constants by default.
  local SELU_A, SELU_G = 1.6732632423543772848, 1.0507009873554804934
  op { name = "selu", kind = "unary", nn = true, options = { "alpha", "gamma" },
    attrs = params("selu", { "alpha", "gamma" }, { SELU_A, SELU_G }),
    dx = function(x, _, g, at)
      local s = mask(ts.greater(x, 0), x)
      local alpha, gamma = at.f1 or SELU_A, at.f2 or SELU_G
      return g * (s + one_minus(s) * ts.exp(ts.minimum(x, 0)) * alpha) * gamma
    end }
  -- celu(x [, {alpha=1, name=}]): max(0, x) + min(0, alpha (e^(x / alpha) - 1))
  op { name = "celu", kind = "unary", options = { "alpha" },
    attrs = params("celu", { "alpha" }, { 1.0 }, function(at)
      if at.f1 == 0 then error("celu: alpha must not be 0", 5) end
    end),
    dx = function(x, _, g, at)
      local s = mask(ts.greater(x, 0), x)
      return g * (s + one_minus(s) * ts.exp(ts.minimum(x, 0) / (at.f1 or 1)))
    end }
  -- hard_sigmoid(x [, {alpha=0.2, beta=0.5, name=}]): max(0, min(1, alpha x + beta))
  op { name = "hard_sigmoid", kind = "unary", options = { "alpha", "beta" },
    attrs = params("hard_sigmoid", { "alpha", "beta" }, { 0.2, 0.5 }),
    dx = function(x, _, g, at)
      local alpha = at.f1 or 0.2
      local v = x * alpha + (at.f2 or 0.5)
      return g * mask(ts.logical_and(ts.greater(v, 0), ts.less(v, 1)), x) * alpha
    end }
  -- hard_swish(x): x relu6(x + 3) / 6
  op { name = "hard_swish", kind = "unary", dx = function(x, _, g)
    local mid = mask(ts.logical_and(ts.greater(x, -3), ts.less(x, 3)), x)
    return g * (mid * (x * 2 + 3) * (1 / 6) + mask(ts.greater_equal(x, 3), x))
  end }
  -- shrink(x [, {lambd=0.5, bias=0, name=}]): x + bias below -lambd, x - bias above lambd, else 0
  op { name = "shrink", kind = "unary", options = { "lambd", "bias" },
    attrs = params("shrink", { "lambd", "bias" }, { 0.5, 0.0 }),
    dx = function(x, _, g, at)
      return g * mask(ts.greater(ts.abs(x), at.f1 or 0.5), x)
    end }
  -- thresholded_relu(x [, {alpha=1, name=}]): x above alpha, else 0
  op { name = "thresholded_relu", kind = "unary", options = { "alpha" },
    attrs = params("thresholded_relu", { "alpha" }, { 1.0 }),
    dx = function(x, _, g, at) return g * mask(ts.greater(x, at.f1 or 1), x) end }

  -- Tests and bit maps: nothing to differentiate.
  op { name = "is_nan", kind = "unary", grad = false }
  op { name = "is_inf", kind = "unary", grad = false }
  op { name = "logical_not", kind = "unary", grad = false }
  op { name = "bitwise_invert", kind = "unary", grad = false }

  ------------------------------------------------------------ binary ops

  -- floormod: x - floor(x / y) y (the divisor's sign); TF1's gradient
  op { name = "floormod", kind = "binary", da = function(_, _, _, g) return g end,
    db = function(a, b, _, g) return -(g * ts.floor(a / b)) end }
  -- truncatemod: C's fmod (the dividend's sign); TF1 has no gradient
  op { name = "truncatemod", kind = "binary", grad = false }
  for _, name in ipairs { "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
    "bitwise_xor", "left_shift", "right_shift" } do
    op { name = name, kind = "binary", grad = false }
  end
  -- prelu(x, slope): slope x below 0, else x (slope broadcast against x)
  op { name = "prelu", kind = "binary",
    da = function(a, b, _, g) return g * ts.where(ts.less(a, 0), b, 1) end,
    db = function(a, _, _, g) return g * ts.where(ts.less(a, 0), a, 0) end }

  ------------------------------------------------------------ composed of other ops
  -- (their gradients are those of the ops they are made of)

  -- A static dim of x (1-based axis), or an error naming the function
  local function dim(what, x, axis)
    local s = x.shape
    local d = s and s[axis]
    if not d or d < 0 then
      error(("%s: needs a known size along axis %d (shape %s)"):format(what, axis,
        s and ("[" .. table.concat(s, ",") .. "]") or "unknown"), 4)
    end
    return d
  end
  local function rank_of(what, x, want)
    local s = x.shape
    if not s or (want and #s ~= want) then
      error(("%s: needs an input of %s rank, got %s"):format(what, want and ("known " .. want) or "known",
        s and ("shape [" .. table.concat(s, ",") .. "]") or "an unknown shape"), 4)
    end
    return #s
  end
  local function name_of(what, opts, known)
    I.op_options(what, opts, known)
    return is_opts(opts) and opts.name or nil
  end

  --- hardmax(x [, {axis = -1, dtype=, name=}]): 1 at the first maximum along axis, else 0.
  op { name = "hardmax", fn = function(x, opts)
    local name = name_of("hardmax", opts, { "axis" })
    x = ts.is_node(x) and x or (ts.is_tensor(x) and x or ts.tensor(x))
    local r = rank_of("hardmax", x)
    local axis = is_opts(opts) and opts.axis or -1
    if not I.int(axis) or axis == 0 or axis > r or axis < -r then
      error(("hardmax: axis %s is out of range for rank %d"):format(tostring(axis), r), 2)
    end
    if axis < 0 then axis = axis + r + 1 end
    local depth = dim("hardmax", x, axis)
    local perm, back = {}, {}
    for i = 1, r do if i ~= axis then perm[#perm + 1] = i end end
    perm[r] = axis
    for i = 1, r do back[perm[i]] = i end
    local hot = ts.one_hot(ts.argmax(ts.transpose(x, perm), -1), depth, { dtype = x.dtype })
    return ts.transpose(hot, back, { name = name })
  end }

  -- depth_to_space / space_to_depth: reshape, transpose, reshape (the batch may be unknown).
  local function block_opts(what, x, block_size, opts)
    local name = name_of(what, opts, { "data_format", "mode" })
    rank_of(what, x, 4)
    if not I.int(block_size) or block_size < 1 then
      error(("%s: block_size must be a positive integer, got %s"):format(what, tostring(block_size)), 3)
    end
    local fmt = is_opts(opts) and opts.data_format or "NHWC"
    local mode = is_opts(opts) and opts.mode or "DCR"
    if fmt ~= "NHWC" and fmt ~= "NCHW" then
      error(("%s: data_format must be \"NHWC\" or \"NCHW\", got %s"):format(what, tostring(fmt)), 3)
    end
    if mode ~= "DCR" and mode ~= "CRD" then
      error(("%s: mode must be \"DCR\" or \"CRD\", got %s"):format(what, tostring(mode)), 3)
    end
    local h, w, c
    if fmt == "NHWC" then
      h, w, c = dim(what, x, 2), dim(what, x, 3), dim(what, x, 4)
    else
      c, h, w = dim(what, x, 2), dim(what, x, 3), dim(what, x, 4)
    end
    return name, fmt, mode, h, w, c
  end

  --- depth_to_space(x, block_size [, {data_format = "NHWC", mode = "DCR", name=}]): moves
  -- blocks of channels into block_size x block_size spatial blocks (TF1; ONNX's modes:
  -- DCR takes the block position from the channel's high part, CRD from its low part).
  op { name = "depth_to_space", fn = function(x, bs, opts)
    x = ts.is_node(x) and x or (ts.is_tensor(x) and x or ts.tensor(x))
    local name, fmt, mode, h, w, c = block_opts("depth_to_space", x, bs, opts)
    if c % (bs * bs) ~= 0 then
      error(("depth_to_space: %d channels are not a multiple of block_size^2 = %d"):format(c, bs * bs), 2)
    end
    local oc = c // (bs * bs)
    local y
    if fmt == "NHWC" then
      if mode == "DCR" then
        y = ts.transpose(ts.reshape(x, { -1, h, w, bs, bs, oc }), { 1, 2, 4, 3, 5, 6 })
      else
        y = ts.transpose(ts.reshape(x, { -1, h, w, oc, bs, bs }), { 1, 2, 5, 3, 6, 4 })
      end
      return ts.reshape(y, { -1, h * bs, w * bs, oc }, { name = name })
    end
    if mode == "DCR" then
      y = ts.transpose(ts.reshape(x, { -1, bs, bs, oc, h, w }), { 1, 4, 5, 2, 6, 3 })
    else
      y = ts.transpose(ts.reshape(x, { -1, oc, bs, bs, h, w }), { 1, 2, 5, 3, 6, 4 })
    end
    return ts.reshape(y, { -1, oc, h * bs, w * bs }, { name = name })
  end }

  --- space_to_depth(x, block_size [, {data_format = "NHWC", mode = "DCR", name=}]): the
  -- inverse of depth_to_space.
  op { name = "space_to_depth", fn = function(x, bs, opts)
    x = ts.is_node(x) and x or (ts.is_tensor(x) and x or ts.tensor(x))
    local name, fmt, mode, h, w, c = block_opts("space_to_depth", x, bs, opts)
    if h % bs ~= 0 or w % bs ~= 0 then
      error(("space_to_depth: height %d and width %d must be multiples of block_size %d"):format(h, w, bs), 2)
    end
    local oh, ow = h // bs, w // bs
    local y
    if fmt == "NHWC" then
      y = ts.reshape(x, { -1, oh, bs, ow, bs, c })
      y = mode == "DCR" and ts.transpose(y, { 1, 2, 4, 3, 5, 6 }) or ts.transpose(y, { 1, 2, 4, 6, 3, 5 })
      return ts.reshape(y, { -1, oh, ow, c * bs * bs }, { name = name })
    end
    y = ts.reshape(x, { -1, c, oh, bs, ow, bs })
    y = mode == "DCR" and ts.transpose(y, { 1, 4, 6, 2, 3, 5 }) or ts.transpose(y, { 1, 2, 4, 6, 3, 5 })
    return ts.reshape(y, { -1, c * bs * bs, oh, ow }, { name = name })
  end }

  -- Sums of x^2 over the window [c - lo, c + hi] along axis (1-based, known size), then
  -- x / (bias + alpha * sum)^beta: TF1's local response normalization (lo = hi) and
  -- ONNX's LRN (lo = floor((size - 1) / 2), hi = ceil, alpha / size). Private: the ONNX
  -- converter calls it too.
  function I.lrn(x, axis, lo, hi, bias, alpha, beta, name)
    local r = #x.shape
    local c = dim("local_response_normalization", x, axis)
    local pads, begin, size = {}, {}, {}
    for i = 1, r do
      pads[i] = i == axis and { lo, hi } or { 0, 0 }
      begin[i], size[i] = 1, i == axis and c or -1
    end
    local sq = ts.pad(ts.square(x), pads)
    local sum
    for k = 0, lo + hi do
      begin[axis] = k + 1
      local part = ts.slice(sq, begin, size)
      sum = sum and sum + part or part
    end
    return ts.divide(x, ts.pow(sum * alpha + bias, beta), name and { name = name } or nil)
  end

  --- local_response_normalization(x [, {depth_radius = 5, bias = 1, alpha = 1, beta = 0.5,
  -- name=}]): x / (bias + alpha * sum of x^2 over the channels within depth_radius)^beta,
  -- along the last axis (TF1's tf.nn.local_response_normalization, NHWC).
  op { name = "local_response_normalization", nn = true, fn = function(x, opts)
    local name = name_of("local_response_normalization", opts, { "depth_radius", "bias", "alpha", "beta" })
    x = ts.is_node(x) and x or (ts.is_tensor(x) and x or ts.tensor(x))
    local o = is_opts(opts) and opts or {}
    local radius = o.depth_radius or 5
    if not I.int(radius) or radius < 0 then
      error(("local_response_normalization: depth_radius must be a non-negative integer, got %s")
        :format(tostring(radius)), 2)
    end
    for _, k in ipairs { "bias", "alpha", "beta" } do
      if o[k] ~= nil and type(o[k]) ~= "number" then
        error(("local_response_normalization: %s must be a number, got %s"):format(k, tostring(o[k])), 2)
      end
    end
    local r = rank_of("local_response_normalization", x)
    return I.lrn(x, r, radius, radius, o.bias or 1, o.alpha or 1, o.beta or 0.5, name)
  end }

  --- instance_normalization(x, scale, offset [, {epsilon = 1e-5, data_format = "NHWC", name=}]):
  -- each sample's each channel normalized over its spatial axes (biased variance), then
  -- scale * . + offset per channel (scale, offset: nil or of the channel count).
  op { name = "instance_normalization", fn = function(x, scale, offset, opts)
    local name = name_of("instance_normalization", opts, { "epsilon", "data_format" })
    x = ts.is_node(x) and x or (ts.is_tensor(x) and x or ts.tensor(x))
    local o = is_opts(opts) and opts or {}
    local eps, fmt = o.epsilon or 1e-5, o.data_format or "NHWC"
    if type(eps) ~= "number" then error("instance_normalization: epsilon must be a number", 2) end
    if fmt ~= "NHWC" and fmt ~= "NCHW" then
      error(("instance_normalization: data_format must be \"NHWC\" or \"NCHW\", got %s")
        :format(tostring(fmt)), 2)
    end
    local r = rank_of("instance_normalization", x)
    if r < 3 then error(("instance_normalization: needs rank 3 or more, got %d"):format(r), 2) end
    local axes, cshape = {}, {}
    local caxis = fmt == "NHWC" and r or 2
    for i = 2, r do if i ~= caxis then axes[#axes + 1] = i end end
    for i = 1, r do cshape[i] = i == caxis and -1 or 1 end
    local mean, var = ts.nn.moments(x, axes, { keepdims = true })
    local y = (x - mean) * ts.rsqrt(var + eps)
    if scale ~= nil then y = y * ts.reshape(scale, cshape) end
    if offset ~= nil then y = y + ts.reshape(offset, cshape) end
    return ts.identity(y, name and { name = name } or nil)
  end }
end
