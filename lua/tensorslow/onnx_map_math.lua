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

  for onnx, name in pairs { Erf = "erf", Floor = "floor", Ceil = "ceil", Round = "round",
    Acos = "acos", Asin = "asin", Atan = "atan", Cosh = "cosh", Sinh = "sinh", Tan = "tan",
    Acosh = "acosh", Asinh = "asinh", Atanh = "atanh", IsNaN = "is_nan", Not = "logical_not",
    HardSwish = "hard_swish" } do
    reg(onnx, function(n) return ts[name](n.inputs[1]) end)
  end
  for onnx, name in pairs { And = "logical_and", Or = "logical_or", Xor = "logical_xor",
    PRelu = "prelu" } do
    reg(onnx, function(n) return ts[name](n.inputs[1], n.inputs[2]) end)
  end

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
    return ts.shrink(n.inputs[1], { lambd = n:attr("lambd", 0.5), bias = n:attr("bias", 0.0) })
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
end
