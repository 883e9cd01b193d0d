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

  -- A node, a live tensor (a freed one raises here, before its kept shape is read) or a Lua
  -- value as a tensor
  local function operand(x)
    if ts.is_node(x) then return x end
    if ts.is_tensor(x) then
      x:numel()
      return x
    end
    return ts.tensor(x)
  end
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
    x = operand(x)
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
    x = operand(x)
    local name, fmt, mode, h, w, c = block_opts("depth_to_space", x, bs, opts)
    if bs > c or c % (bs * bs) ~= 0 then -- (bs > c first: bs * bs could wrap)
      error(("depth_to_space: %d channels are not a multiple of block_size^2 (block_size %d)")
        :format(c, bs), 2)
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
    x = operand(x)
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
    -- a window past every channel adds only the padding's zeros
    lo, hi = math.min(lo, math.max(c - 1, 0)), math.min(hi, math.max(c - 1, 0))
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
    x = operand(x)
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
    x = operand(x)
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

  ------------------------------------------------------------ resizing

  -- The taps of one axis resized from inw to outw (ONNX's Resize, one axis at a time;
  -- o: mode, ctm (coordinate transformation), nearest, a (cubic), exclude, extrapolation,
  -- roi = {start, end} for tf_crop_and_resize): per output position, the input indices
  -- (0-based) with their weights, and an added constant (the extrapolation value where the
  -- crop falls outside).
  local function nearest_pick(ratio, mode)
    if ratio == 1 then return 2 end
    if mode == "round_prefer_floor" then return ratio <= 0.5 and 1 or 2 end
    if mode == "round_prefer_ceil" then return ratio < 0.5 and 1 or 2 end
    if mode == "floor" then return 1 end
    return 2 -- ceil
  end
  local function cubic(r, A)
    local r1, q = r + 1, 1 - r
    local q1 = q + 1
    return { ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
             ((A + 2) * q - (A + 3)) * q * q + 1, ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A }
  end
  local function taps(inw, outw, scale, o)
    local idx, wt, extra = {}, {}, {}
    for x = 0, outw - 1 do
      local ctm = o.ctm
      local xo
      local out_extent = scale * inw
      if ctm == "align_corners" then
        xo = out_extent == 1 and 0 or x * (inw - 1) / (out_extent - 1)
      elseif ctm == "asymmetric" then
        xo = x / scale
      elseif ctm == "tf_half_pixel_for_nn" then
        xo = (x + 0.5) / scale
      elseif ctm == "pytorch_half_pixel" then
        xo = out_extent == 1 and -0.5 or (x + 0.5) / scale - 0.5
      elseif ctm == "tf_crop_and_resize" then
        local r0, r1 = o.roi[1], o.roi[2]
        xo = out_extent == 1 and (r1 - r0) * (inw - 1) / 2 or x * (r1 - r0) * (inw - 1) / (out_extent - 1)
        xo = xo + r0 * (inw - 1)
      else -- half_pixel
        xo = (x + 0.5) / scale - 0.5
      end
      local row_i, row_w, add = {}, {}, 0
      if ctm == "tf_crop_and_resize" and (xo < 0 or xo > inw - 1) then
        add = o.extrapolation
      else
        local base = math.floor(xo)
        local ratio = xo == base and 1 or xo - base
        local coeffs
        if o.mode == "nearest" then
          coeffs = { 0, 0 }
          coeffs[nearest_pick(ratio, o.nearest)] = 1
        elseif o.mode == "linear" then
          coeffs = { 1 - ratio, ratio }
        else
          coeffs = cubic(ratio, o.a)
        end
        local nt = #coeffs
        -- the nt indices nearest to xo, ties to the smaller: base - nt/2 + 1 .. base + nt/2,
        -- or one lower at an integer xo (ratio 1)
        local first = base - nt // 2 + 1 - (xo == base and 1 or 0)
        local total = 0
        for k = 1, nt do
          local i = first + k - 1
          local c = coeffs[k]
          if o.exclude and (i < 0 or i >= inw) then c = 0 end
          row_i[k], row_w[k] = math.min(math.max(i, 0), inw - 1), c
          total = total + c
        end
        if o.exclude then for k = 1, nt do row_w[k] = row_w[k] / total end end
      end
      idx[x + 1], wt[x + 1], extra[x + 1] = row_i, row_w, add
    end
    return idx, wt, extra
  end

  -- x resized along every axis i with out[i] ~= nil (out[i], scale[i]), innermost first, as
  -- ONNX's reference nests them. Private: the ONNX converter calls it with its attributes.
  function I.resize(x, out, scale, o, name)
    local s = x.shape
    local r = #s
    local y = x
    for ax = r, 1, -1 do
      if out[ax] and (out[ax] ~= s[ax] or scale[ax] ~= 1 or o.ctm == "tf_crop_and_resize") then
        local inw, outw = s[ax], out[ax]
        local idx, wt, extra = taps(inw, outw, scale[ax], { mode = o.mode, ctm = o.ctm,
          nearest = o.nearest, a = o.a, exclude = o.exclude, extrapolation = o.extrapolation,
          roi = o.roi and o.roi[ax] })
        local bshape = {}
        for i = 1, r do bshape[i] = i == ax and outw or 1 end
        local nt = 0
        for j = 1, outw do nt = math.max(nt, #idx[j]) end
        local acc
        if o.mode == "nearest" and not o.roi then
          local pick = {}
          for j = 1, outw do
            local w = wt[j]
            pick[j] = idx[j][w[1] == 1 and 1 or 2] + 1
          end
          acc = ts.gather(y, ts.tensor(pick, "int64"), ax)
        else
          for k = 1, nt do
            local ik, wk = {}, {}
            for j = 1, outw do
              ik[j], wk[j] = (idx[j][k] or 0) + 1, wt[j][k] or 0
            end
            local term = ts.gather(y, ts.tensor(ik, "int64"), ax) * ts.tensor(wk, y.dtype):reshape(bshape)
            acc = acc and acc + term or term
          end
          local any = false
          for j = 1, outw do any = any or extra[j] ~= 0 end
          if any then acc = acc + ts.tensor(extra, y.dtype):reshape(bshape) end
          if not acc then acc = ts.tensor(extra, y.dtype):reshape(bshape) + ts.zeros_like(y) end
        end
        y = acc
      end
    end
    return ts.identity(y, name and { name = name } or nil)
  end

  local METHODS = { nearest = "nearest", bilinear = "linear", linear = "linear", bicubic = "cubic",
    cubic = "cubic" }
  local CTMS = I.keys { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
    "tf_half_pixel_for_nn" }
  local NEAREST = I.keys { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" }
  ts.image = ts.image or {}
  --- image.resize(images, size [, {method = "bilinear", align_corners=, half_pixel_centers=,
  -- coordinate_transformation_mode=, nearest_mode=, cubic_coeff_a = -0.75, exclude_outside=,
  -- name=}]): images [N, H, W, C] (or [H, W, C]) resized to size = {height, width}; TF1's
  -- coordinates by default (asymmetric; align_corners; half_pixel_centers), ONNX's by name.
  function ts.image.resize(images, size, opts)
    local o = I.options("image.resize", opts, { "method", "align_corners", "half_pixel_centers",
      "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside", "name" })
    local x = operand(images)
    local r = rank_of("image.resize", x)
    if r ~= 3 and r ~= 4 then
      error(("image.resize: images must be [N, H, W, C] or [H, W, C], got rank %d"):format(r), 2)
    end
    local sz = I.int_list(size, "image.resize: size")
    if #sz ~= 2 or sz[1] < 1 or sz[2] < 1 then
      error("image.resize: size must be {height, width}, both positive", 2)
    end
    local method = METHODS[o.method or "bilinear"]
    if not method then error(("image.resize: unknown method %s"):format(tostring(o.method)), 2) end
    local ctm = o.coordinate_transformation_mode
    if ctm == nil then
      ctm = o.align_corners and "align_corners" or (o.half_pixel_centers and
        (method == "nearest" and "tf_half_pixel_for_nn" or "half_pixel") or "asymmetric")
    elseif not CTMS[ctm] then
      error(("image.resize: unknown coordinate_transformation_mode %s"):format(tostring(ctm)), 2)
    end
    local nearest = o.nearest_mode
    if nearest == nil then
      nearest = ctm == "align_corners" and "round_prefer_ceil" or "floor"
    elseif not NEAREST[nearest] then
      error(("image.resize: unknown nearest_mode %s"):format(tostring(nearest)), 2)
    end
    local out, scale = {}, {}
    local h = r - 2
    for k = 0, 1 do
      local ax = h + k
      local inw = dim("image.resize", x, ax)
      out[ax], scale[ax] = sz[k + 1], sz[k + 1] / inw
    end
    return I.resize(x, out, scale, { mode = method, ctm = ctm, nearest = nearest,
      a = o.cubic_coeff_a or -0.75, exclude = o.exclude_outside and true or false,
      extrapolation = 0 }, o.name)
  end

  ------------------------------------------------------------ einsum

  -- The terms of an einsum equation: inputs (arrays of labels, "..." expanded into the
  -- labels "1", "2", ... of the ellipsis' dims, right-aligned) and the output's.
  local function einsum_terms(eq, xs)
    eq = eq:gsub("%s", "")
    local lhs, rhs = eq:match("^(.-)%->(.*)$")
    if not lhs then lhs = eq end
    local terms = {}
    for t in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = t end
    if #terms ~= #xs then
      error(("einsum: the equation has %d operands, got %d inputs"):format(#terms, #xs), 3)
    end
    local ell = 0
    local parsed = {}
    for k, t in ipairs(terms) do
      local r = rank_of("einsum", xs[k])
      local pre, post = t:match("^(.-)%.%.%.(.*)$")
      local letters = pre and (pre .. post) or t
      if letters:find("[^%a]") then error(("einsum: bad term %q"):format(t), 3) end
      local e = r - #letters
      if e < 0 or (e > 0 and not pre) then
        error(("einsum: term %q does not match an input of rank %d"):format(t, r), 3)
      end
      ell = math.max(ell, e)
      parsed[k] = { pre = pre or t, post = post or "", e = e }
    end
    local ins = {}
    for k, p in ipairs(parsed) do
      local l = {}
      for c in p.pre:gmatch(".") do l[#l + 1] = c end
      for i = ell - p.e + 1, ell do l[#l + 1] = tostring(i) end
      for c in p.post:gmatch(".") do l[#l + 1] = c end
      ins[k] = l
    end
    local out = {}
    if rhs then
      local pre, post = rhs:match("^(.-)%.%.%.(.*)$")
      for c in (pre or rhs):gmatch(".") do out[#out + 1] = c end
      if pre then for i = 1, ell do out[#out + 1] = tostring(i) end end
      for c in (post or ""):gmatch(".") do out[#out + 1] = c end
    else -- implicit: the ellipsis, then the letters used once, sorted
      local count = {}
      for _, l in ipairs(ins) do for _, c in ipairs(l) do count[c] = (count[c] or 0) + 1 end end
      for i = 1, ell do out[#out + 1] = tostring(i) end
      local once = {}
      for c, n in pairs(count) do if n == 1 and c:match("%a") then once[#once + 1] = c end end
      table.sort(once)
      for _, c in ipairs(once) do out[#out + 1] = c end
    end
    return ins, out
  end

  -- x with labels l: each repeated label's diagonal taken, so every label appears once
  local function einsum_diag(x, l)
    local i = 1
    while i <= #l do
      local j
      for k = i + 1, #l do if l[k] == l[i] then j = k break end end
      if j then
        local n = dim("einsum", x, i)
        if dim("einsum", x, j) ~= n then
          error(("einsum: label %s has sizes %d and %d"):format(l[i], n, x.shape[j]), 4)
        end
        local ms = {}
        for k = 1, #l do ms[k] = (k == i or k == j) and n or 1 end
        local eye = ts.eye(n, n, x.dtype):reshape(ms)
        x = ts.reduce_sum(x * eye, j)
        table.remove(l, j)
      else
        i = i + 1
      end
    end
    return x
  end

  -- Two operands as one (batched) matmul: labels of one operand alone and not in the output
  -- summed first; batch (both, output), contracted (both, not output), kept (one, output).
  -- nil for integers or when a label is broadcast (sizes 1 and n): the general path.
  local function einsum_matmul(a, la, b, lb, out)
    if a.dtype ~= "float32" and a.dtype ~= "float64" then return nil end -- matmul is float only
    local function sum_alone(x, l, other)
      local axes, keep = {}, {}
      for i, c in ipairs(l) do
        local used = false
        for _, d in ipairs(other) do used = used or d == c end
        for _, d in ipairs(out) do used = used or d == c end
        if used then keep[#keep + 1] = c else axes[#axes + 1] = i end
      end
      if #axes > 0 then x = ts.reduce_sum(x, axes) end
      return x, keep
    end
    a, la = sum_alone(a, la, lb)
    b, lb = sum_alone(b, lb, la)
    local ia, ib, io = {}, {}, {}
    for i, c in ipairs(la) do ia[c] = i end
    for i, c in ipairs(lb) do ib[c] = i end
    for i, c in ipairs(out) do io[c] = i end
    local batch, contr, akeep, bkeep = {}, {}, {}, {}
    for _, c in ipairs(la) do
      if ib[c] then
        if a.shape[ia[c]] ~= b.shape[ib[c]] then return nil end
        if io[c] then batch[#batch + 1] = c else contr[#contr + 1] = c end
      else
        akeep[#akeep + 1] = c
      end
    end
    for _, c in ipairs(lb) do if not ia[c] then bkeep[#bkeep + 1] = c end end
    local function size(x, idx, labels)
      local n, dims = 1, {}
      for k, c in ipairs(labels) do dims[k] = x.shape[idx[c]]; n = n * dims[k] end
      return n, dims
    end
    local function arrange(x, idx, groups)
      local perm = {}
      for _, g in ipairs(groups) do for _, c in ipairs(g) do perm[#perm + 1] = idx[c] end end
      if #perm > 1 then x = ts.transpose(x, perm) end
      return x
    end
    local nb, bdims = size(a, ia, batch)
    local m, mdims = size(a, ia, akeep)
    local k = size(a, ia, contr)
    local n, ndims = size(b, ib, bkeep)
    local am = ts.reshape(arrange(a, ia, { batch, akeep, contr }), #batch > 0 and { nb, m, k } or { m, k })
    local bm = ts.reshape(arrange(b, ib, { batch, contr, bkeep }), #batch > 0 and { nb, k, n } or { k, n })
    local y = ts.matmul(am, bm)
    local labels, dims = {}, {}
    for _, g in ipairs { { batch, bdims }, { akeep, mdims }, { bkeep, ndims } } do
      for i, c in ipairs(g[1]) do labels[#labels + 1] = c; dims[#dims + 1] = g[2][i] end
    end
    y = ts.reshape(y, dims)
    local pl, perm = {}, {}
    for i, c in ipairs(labels) do pl[c] = i end
    for i, c in ipairs(out) do perm[i] = pl[c] end
    if #perm > 1 then y = ts.transpose(y, perm) end
    return y
  end

  --- einsum(equation, x1, x2, ... [, {name=}]): the sum of products the equation names
  -- ("ij,jk->ik", "bij,bjk->bik", "i,i", "ij->ji", "...ii->...i"; implicit output as
  -- NumPy's). Two operands: one (batched) matmul between transposes and reshapes; else
  -- (three or more, or a label broadcast from size 1) a broadcast product of all operands
  -- summed over the contracted labels. Shapes must be known.
  op { name = "einsum", method = false, fn = function(eq, ...)
    local xs = { ... }
    local name
    if #xs > 0 and is_opts(xs[#xs]) then
      name = name_of("einsum", table.remove(xs))
    end
    if type(eq) ~= "string" then error("einsum: the equation must be a string", 2) end
    if #xs == 0 then error("einsum: needs at least one input", 2) end
    for k, x in ipairs(xs) do xs[k] = operand(x) end
    local ins, out = einsum_terms(eq, xs)
    local size = {}
    for k, x in ipairs(xs) do
      xs[k] = einsum_diag(x, ins[k])
      for a, c in ipairs(ins[k]) do
        local d = dim("einsum", xs[k], a)
        if size[c] and size[c] ~= d and size[c] ~= 1 and d ~= 1 then
          error(("einsum: label %s has sizes %d and %d"):format(c, size[c], d), 2)
        end
        size[c] = math.max(size[c] or d, d)
      end
    end
    local in_out = {}
    for _, c in ipairs(out) do
      if not size[c] then error(("einsum: output label %s is not in any input"):format(c), 2) end
      in_out[c] = true
    end
    -- every label: the output's first, then those summed over
    local order, pos = {}, {}
    for _, c in ipairs(out) do order[#order + 1] = c end
    for _, l in ipairs(ins) do
      for _, c in ipairs(l) do
        if not in_out[c] and not pos[c] then pos[c] = true; order[#order + 1] = c end
      end
    end
    for a, c in ipairs(order) do pos[c] = a end
    if #xs == 2 then
      local y = einsum_matmul(xs[1], ins[1], xs[2], ins[2], out)
      if y then return ts.identity(y, name and { name = name } or nil) end
    end
    -- each operand transposed to that order, size-1 axes where it lacks a label
    local prod
    for k, x in ipairs(xs) do
      local l, perm, shape = ins[k], {}, {}
      local has = {}
      for a, c in ipairs(l) do has[c] = a end
      for _, c in ipairs(order) do if has[c] then perm[#perm + 1] = has[c] end end
      if #perm > 1 then x = ts.transpose(x, perm) end
      for a, c in ipairs(order) do shape[a] = has[c] and xs[k].shape[has[c]] or 1 end
      if #shape > 0 then x = ts.reshape(x, shape) end
      prod = prod and prod * x or x
    end
    local summed = {}
    for a = #out + 1, #order do summed[#summed + 1] = a end
    local y = #summed > 0 and ts.reduce_sum(prod, summed) or prod
    return ts.identity(y, name and { name = name } or nil)
  end }
end
