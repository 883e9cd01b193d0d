-- The element-wise ops added for ONNX import (issue 15; kernels at the end of the unary
-- and binary sections of src/ops_arith.c) and the ops composed of others: erf,
-- rounding, inverse and hyperbolic trigonometry, modulo, the logical and bit ops,
-- NaN/inf tests, ONNX's activations, hardmax, depth_to_space/space_to_depth.
-- Loaded by tensorslow/init.lua as require("tensorslow.math2")(ts, I).
return function(ts, I)
  local op, apply, is_opts = I.op, I.apply, I.is_opts
  local need, sum_like = I.need, I.sum_like

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
end
