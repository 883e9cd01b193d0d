-- ONNX import converters of the math, nn and image ops (issue 15): each ONNX node
-- becomes tensorslow ops (lua/tensorslow/math2.lua and the older ones). Required by
-- tensorslow/onnx.lua after onnx_map.lua and onnx_map_index.lua; registered only where
-- the converter covers every attribute value opset <= 17 allows (else n:fail).
return function(reg, ts, I)
  -- ONNX's 0-based axis as tensorslow's 1-based (negative stays)
  local function axis1(a) return a >= 0 and a + 1 or a end
  local function shape_of(n, x)
    local s = x.shape
    if not s then n:fail("the input's rank must be known") end
    return s
  end

  ------------------------------------------------------------ element-wise

  -- f of x (and more) computed in float64 when x is an integer tensor (ONNX's Erf, Shrink and
  -- PRelu take every numeric type; the tensorslow ops are float), cast back
  local function in_float(x, f, ...)
    if x.dtype == "float32" or x.dtype == "float64" then return f(x, ...) end
    local rest = { ... }
    for i, v in ipairs(rest) do
      if (ts.is_node(v) or ts.is_tensor(v)) and v.dtype == x.dtype then rest[i] = ts.cast(v, "float64") end
    end
    return ts.cast(f(ts.cast(x, "float64"), table.unpack(rest)), x.dtype)
  end

  reg("Erf", function(n) return in_float(n.inputs[1], ts.erf) end)
  for onnx, name in pairs { Floor = "floor", Ceil = "ceil", Round = "round",
    Acos = "acos", Asin = "asin", Atan = "atan", Cosh = "cosh", Sinh = "sinh", Tan = "tan",
    Acosh = "acosh", Asinh = "asinh", Atanh = "atanh", IsNaN = "is_nan", Not = "logical_not",
    HardSwish = "hard_swish" } do
    reg(onnx, function(n) return ts[name](n.inputs[1]) end)
  end
  for onnx, name in pairs { And = "logical_and", Or = "logical_or", Xor = "logical_xor" } do
    reg(onnx, function(n) return ts[name](n.inputs[1], n.inputs[2]) end)
  end

  -- before opset 7 the slope is one value or one per channel (axis 1); then it broadcasts
  reg("PRelu", function(n)
    local x, slope = n.inputs[1], n.inputs[2]
    local ss = slope.shape
    if n.opset < 7 and ss and #ss == 1 and ss[1] ~= 1 then
      local s = shape_of(n, x)
      local shape = { -1 }
      for _ = 3, #s do shape[#shape + 1] = 1 end
      slope = ts.reshape(slope, shape)
    end
    return in_float(x, ts.prelu, slope)
  end)

  reg("IsInf", function(n)
    local x = n.inputs[1]
    local pos, neg = n:attr("detect_positive", 1) ~= 0, n:attr("detect_negative", 1) ~= 0
    local inf = ts.is_inf(x)
    if pos and neg then return inf end
    if pos then return ts.logical_and(inf, ts.greater(x, 0)) end
    if neg then return ts.logical_and(inf, ts.less(x, 0)) end
    return ts.logical_and(inf, 0)
  end)

  reg("Mod", function(n)
    local fmod = n:attr("fmod", 0)
    if fmod ~= 0 and fmod ~= 1 then n:fail(("attribute fmod = %d is not supported"):format(fmod)) end
    return (fmod == 1 and ts.truncatemod or ts.floormod)(n.inputs[1], n.inputs[2])
  end)

  reg("BitShift", function(n)
    local dir = n:attr("direction")
    if dir == "LEFT" then return ts.left_shift(n.inputs[1], n.inputs[2]) end
    if dir == "RIGHT" then return ts.right_shift(n.inputs[1], n.inputs[2]) end
    n:fail(("attribute direction = %s is not supported"):format(tostring(dir)))
  end)

  -- the defaults are ONNX's (float32 values)
  reg("Selu", function(n)
    return ts.selu(n.inputs[1], { alpha = n:attr("alpha", 1.67326319217681884765625),
                                  gamma = n:attr("gamma", 1.05070102214813232421875) })
  end)
  reg("Celu", function(n) return ts.celu(n.inputs[1], { alpha = n:attr("alpha", 1.0) }) end)
  reg("HardSigmoid", function(n)
    return ts.hard_sigmoid(n.inputs[1], { alpha = n:attr("alpha", 0.2), beta = n:attr("beta", 0.5) })
  end)
  reg("Shrink", function(n)
    return in_float(n.inputs[1], ts.shrink, { lambd = n:attr("lambd", 0.5), bias = n:attr("bias", 0.0) })
  end)
  reg("ThresholdedRelu", function(n)
    return ts.thresholded_relu(n.inputs[1], { alpha = n:attr("alpha", 1.0) })
  end)

  ------------------------------------------------------------ hardmax

  reg("Hardmax", function(n)
    local x = n.inputs[1]
    if n.opset >= 13 then return ts.hardmax(x, { axis = axis1(n:attr("axis", -1)) }) end
    -- before opset 13: x as a matrix [d1 .. d(axis-1), d(axis) ..], over its rows
    local s = shape_of(n, x)
    local a = n:attr("axis", 1)
    if a < 0 then a = a + #s end
    local rows, cols = 1, 1
    for i = 1, #s do
      if s[i] < 0 then n:fail("the input's shape must be known") end
      if i <= a then rows = rows * s[i] else cols = cols * s[i] end
    end
    return ts.reshape(ts.hardmax(ts.reshape(x, { rows, cols })), s)
  end)

  ------------------------------------------------------------ reductions

  -- ReduceL1, ReduceL2, ReduceLogSum, ReduceSumSquare (axes an attribute through opset 17)
  local function reduce_with(f, post)
    return function(n)
      local axes = n:attr("axes")
      local keep = n:attr("keepdims", 1) ~= 0
      local ax
      if axes and #axes > 0 then
        ax = {}
        for i, a in ipairs(axes) do ax[i] = axis1(a) end
      end
      local y = ts.reduce_sum(f(n.inputs[1]), { axis = ax, keepdims = keep })
      return post and post(y) or y
    end
  end
  reg("ReduceL1", reduce_with(ts.abs))
  reg("ReduceL2", reduce_with(ts.square, ts.sqrt))
  reg("ReduceLogSum", reduce_with(function(x) return x end, ts.log))
  reg("ReduceSumSquare", reduce_with(ts.square))

  ------------------------------------------------------------ normalization

  reg("InstanceNormalization", function(n)
    return ts.instance_normalization(n.inputs[1], n.inputs[2], n.inputs[3],
      { epsilon = n:attr("epsilon", 1e-5), data_format = "NCHW" })
  end)

  reg("LRN", function(n)
    local size = n:attr("size")
    if not size or size < 1 then n:fail("attribute size must be a positive integer") end
    local x = n.inputs[1]
    shape_of(n, x)
    return I.lrn(x, 2, (size - 1) // 2, size // 2, n:attr("bias", 1.0),
      n:attr("alpha", 1e-4) / size, n:attr("beta", 0.75))
  end)

  -- (x - mean) / (sqrt(mean(x^2) - mean^2) + 1e-9) over axes (ONNX's definition)
  reg("MeanVarianceNormalization", function(n)
    local x = n.inputs[1]
    local ax = {}
    for i, a in ipairs(n:attr("axes", { 0, 2, 3 })) do ax[i] = axis1(a) end
    local mean = ts.reduce_mean(x, { axis = ax, keepdims = true })
    local sq = ts.reduce_mean(ts.square(x), { axis = ax, keepdims = true })
    return (x - mean) / (ts.sqrt(sq - ts.square(mean)) + 1e-9)
  end)

  ------------------------------------------------------------ losses

  -- NegativeLogLikelihoodLoss of log-probabilities lp [N, C, d...] and int64 targets
  -- [N, d...]: -lp[n, t, d...] * weight[t], 0 where t == ignore_index; reduced by
  -- sum, mean (divided by the sum of the weights taken) or none.
  local function nll(n, lp, target, weight)
    local s = shape_of(n, lp)
    local c = s[2]
    if not c or c < 0 then n:fail("the class dimension (2) must be known") end
    local reduction = n:attr("reduction", "mean")
    if reduction ~= "mean" and reduction ~= "sum" and reduction ~= "none" then
      n:fail(("attribute reduction = %s is not supported"):format(reduction))
    end
    local idx = target + 1 -- one_hot's indices are 1-based; 0 gives a row of zeros
    local ii = n:attr("ignore_index")
    if ii then idx = ts.where(ts.equal(target, ii), 0, idx) end
    local hot = ts.one_hot(idx, c, { dtype = lp.dtype })
    local perm = { 1 }
    for i = 3, #s do perm[#perm + 1] = i end
    perm[#perm + 1] = 2
    local picked = ts.reduce_sum(ts.transpose(lp, perm) * hot, -1)
    local w = weight and ts.reduce_sum(hot * weight, -1) or ts.reduce_sum(hot, -1)
    local loss = -(picked * w)
    if reduction == "none" then return loss end
    if reduction == "sum" then return ts.reduce_sum(loss) end
    return ts.reduce_sum(loss) / ts.reduce_sum(w)
  end

  reg("NegativeLogLikelihoodLoss", function(n)
    return nll(n, n.inputs[1], n.inputs[2], n.inputs[3])
  end)
  reg("SoftmaxCrossEntropyLoss", function(n)
    local lp = ts.log_softmax(n.inputs[1], 2)
    local loss = nll(n, lp, n.inputs[2], n.inputs[3])
    if n.noutputs >= 2 then return { loss, lp } end
    return loss
  end)

  ------------------------------------------------------------ space and depth

  reg("DepthToSpace", function(n)
    local mode = n:attr("mode", "DCR")
    if mode ~= "DCR" and mode ~= "CRD" then n:fail(("attribute mode = %s is not supported"):format(mode)) end
    return ts.depth_to_space(n.inputs[1], n:attr("blocksize"), { data_format = "NCHW", mode = mode })
  end)
  reg("SpaceToDepth", function(n)
    return ts.space_to_depth(n.inputs[1], n:attr("blocksize"), { data_format = "NCHW" })
  end)

  ------------------------------------------------------------ resizing

  local function values(t) return t:reshape({ t:numel() }):cast("float64"):totable() end

  -- Resize (opsets 10 to 13+) and Upsample: scales or sizes must be known at import.
  local function resize(n, scales_at, roi_at, attr_scales)
    local x = n.inputs[1]
    local s = shape_of(n, x)
    for i = 1, #s do if s[i] < 0 then n:fail("the input's shape must be known") end end
    local mode = n:attr("mode", "nearest")
    if mode ~= "nearest" and mode ~= "linear" and mode ~= "cubic" then
      n:fail(("attribute mode = %s is not supported"):format(mode))
    end
    local ctm, nearest = "asymmetric", "floor" -- Upsample and Resize-10
    if n.op_type == "Resize" and n.opset >= 11 then
      ctm = n:attr("coordinate_transformation_mode", "half_pixel")
      nearest = n:attr("nearest_mode", "round_prefer_floor")
    end
    local out, scale = {}, {}
    local sc = attr_scales and ts.tensor(attr_scales)
      or scales_at and n.inputs[scales_at] and n:need_const(scales_at, "scales")
    local sizes = n.op_type == "Resize" and n.opset >= 11 and n.inputs[4] and n:need_const(4, "sizes")
    if sc and sc:numel() > 0 then
      if sc:numel() ~= #s then n:fail(("scales has %d values for rank %d"):format(sc:numel(), #s)) end
      local v = values(sc)
      for i = 1, #s do
        if v[i] <= 0 then n:fail(("scale %g is not positive"):format(v[i])) end
        out[i], scale[i] = math.floor(v[i] * s[i]), v[i]
      end
    elseif sizes then
      if sizes:numel() ~= #s then n:fail(("sizes has %d values for rank %d"):format(sizes:numel(), #s)) end
      local v = values(sizes)
      for i = 1, #s do out[i], scale[i] = math.tointeger(v[i]), v[i] / s[i] end
    else
      n:fail("needs scales or sizes")
    end
    for i = 1, #s do -- (the taps are computed in Lua, one per output position)
      if not out[i] or out[i] < 1 or out[i] > 1 << 24 then
        n:fail(("output size %s along axis %d is out of range [1, 2^24]"):format(tostring(out[i]), i - 1))
      end
    end
    local roi
    if ctm == "tf_crop_and_resize" then
      local rv = roi_at and n.inputs[roi_at] and values(n:need_const(roi_at, "roi"))
      if not rv or #rv ~= 2 * #s then n:fail("tf_crop_and_resize needs a roi of 2 * rank values") end
      roi = {}
      for i = 1, #s do roi[i] = { rv[i], rv[#s + i] } end
    elseif ctm ~= "half_pixel" and ctm ~= "pytorch_half_pixel" and ctm ~= "align_corners"
        and ctm ~= "asymmetric" and ctm ~= "tf_half_pixel_for_nn" then
      n:fail(("attribute coordinate_transformation_mode = %s is not supported"):format(ctm))
    end
    if nearest ~= "round_prefer_floor" and nearest ~= "round_prefer_ceil" and nearest ~= "floor"
        and nearest ~= "ceil" then
      n:fail(("attribute nearest_mode = %s is not supported"):format(nearest))
    end
    return I.resize(x, out, scale, { mode = mode, ctm = ctm, nearest = nearest,
      a = n:attr("cubic_coeff_a", -0.75), exclude = n:attr("exclude_outside", 0) ~= 0,
      extrapolation = n:attr("extrapolation_value", 0.0), roi = roi })
  end
  reg("Resize", function(n)
    if n.opset < 11 then return resize(n, 2) end
    return resize(n, 3, 2)
  end)
  reg("Upsample", function(n)
    if n.opset < 9 then -- scales an attribute
      local sc = n:attr("scales")
      if not sc then n:fail("attribute scales is missing") end
      return resize(n, nil, nil, sc)
    end
    return resize(n, 2)
  end)

  reg("Einsum", function(n)
    local eq = n:attr("equation")
    if not eq then n:fail("attribute equation is missing") end
    local xs = {}
    for i = 1, n.ninputs do xs[i] = n.inputs[i] end
    return ts.einsum(eq, table.unpack(xs, 1, n.ninputs))
  end)
end
