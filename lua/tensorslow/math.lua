-- Element-wise, comparison, matrix and reduction ops with their gradients
-- (kernels in src/ops_arith.c, ops_linalg.c, ops_reduce.c).
-- Loaded by tensorslow/init.lua as require("tensorslow.math")(ts, I).
--
-- Every op exists as ts.NAME(x, ...), node:NAME(...) and tensor:NAME(...):
-- on nodes it builds a graph node, on tensors it computes at once (the same
-- C kernel either way). Gradients are written with graph ops only, so they
-- can be differentiated again.
return function(ts, I)
  local op, apply, is_node, is_tensor, is_opts = I.op, I.apply, I.is_node, I.is_tensor, I.is_opts
  local need, sum_like, broadcast_like, attrs_of = I.need, I.sum_like, I.broadcast_like, I.attrs_of
  local node = I.node

  local function one_minus(y) return ts.subtract(1, y) end
  local function step(x) return ts.sign(ts.relu(x)) end -- 1 where x > 0, else 0

  ------------------------------------------------------------ arithmetic

  local function pass(_, _, _, g) return g end
  local add = op { name = "add", kind = "binary", da = pass, db = pass }
  local sub = op { name = "subtract", kind = "binary", da = pass,
    db = function(_, _, _, g) return -g end }
  local mul = op { name = "multiply", kind = "binary",
    da = function(_, b, _, g) return g * b end, db = function(a, _, _, g) return g * a end }
  local div = op { name = "divide", kind = "binary", da = function(_, b, _, g) return g / b end,
    db = function(a, b, _, g) return -(g * a) / (b * b) end }
  local pow = op { name = "pow", kind = "binary",
    da = function(a, b, _, g) return g * b * ts.pow(a, b - 1) end,
    db = function(a, _, y, g) return g * y * ts.log(a) end }
  local neg = op { name = "negative", kind = "unary", dx = function(_, _, g) return -g end }

  -- Operators on nodes and tensors (a node on either side builds a node).
  for _, mt in ipairs { I.core.Node_mt, I.core.Tensor_mt } do
    mt.__add = function(a, b) return add(a, b) end
    mt.__sub = function(a, b) return sub(a, b) end
    mt.__mul = function(a, b) return mul(a, b) end
    mt.__div = function(a, b) return div(a, b) end
    mt.__pow = function(a, b) return pow(a, b) end
    mt.__unm = function(a) return neg(a) end
  end

  ------------------------------------------------------------ unary maps

  op { name = "abs", kind = "unary", dx = function(x, _, g) return g * ts.sign(x) end }
  op { name = "sign", kind = "unary", grad = false }
  op { name = "square", kind = "unary", dx = function(x, _, g) return g * x * 2 end }
  op { name = "exp", kind = "unary", dx = function(_, y, g) return g * y end }
  op { name = "log", kind = "unary", dx = function(x, _, g) return g / x end }
  op { name = "log1p", kind = "unary", dx = function(x, _, g) return g / (x + 1) end }
  op { name = "sqrt", kind = "unary", dx = function(_, y, g) return g / (y * 2) end }
  op { name = "rsqrt", kind = "unary", dx = function(_, y, g) return g * y * y * y * -0.5 end }
  op { name = "reciprocal", kind = "unary", dx = function(_, y, g) return -(g * y * y) end }
  op { name = "sin", kind = "unary", dx = function(x, _, g) return g * ts.cos(x) end }
  op { name = "cos", kind = "unary", dx = function(x, _, g) return -(g * ts.sin(x)) end }
  -- 1 - y^2 and y (1 - y) would cancel to 0 where y rounds to +-1 or 1 (from
  -- |x| = 9 in float32): 1 - tanh(x)^2 = 4 sigmoid(2x) sigmoid(-2x) instead.
  op { name = "tanh", kind = "unary", nn = true, dx = function(x, _, g)
    local x2 = x * 2
    return g * ts.sigmoid(x2) * ts.sigmoid(-x2) * 4
  end }
  op { name = "sigmoid", kind = "unary", nn = true, dx = function(x, y, g) return g * y * ts.sigmoid(-x) end }
  op { name = "relu", kind = "unary", nn = true, dx = function(_, y, g) return g * ts.sign(y) end }
  op { name = "softplus", kind = "unary", nn = true, dx = function(x, _, g) return g * ts.sigmoid(x) end }
  -- gelu(x) = x Phi(x) (exact form): the derivative is Phi(x) + x phi(x).
  -- There is no erf op, so Phi(x) is taken as gelu(x) / x (1/2 at x == 0), of
  -- x clamped to +-40 (Phi is 0 or 1 beyond) so that +-inf give 1 and 0.
  op { name = "gelu", kind = "unary", nn = true, dx = function(x, _, g)
    local xc = ts.maximum(ts.minimum(x, 40), -40)
    local at_zero = one_minus(ts.sign(ts.abs(xc)))
    local cdf = ts.gelu(xc) / (xc + at_zero) + at_zero * 0.5
    local pdf = ts.exp(xc * xc * -0.5) * (1 / math.sqrt(2 * math.pi))
    return g * (cdf + xc * pdf)
  end }

  op { name = "softsign", kind = "unary", nn = true, dx = function(x, _, g)
    local d = ts.abs(x) + 1
    return g / (d * d)
  end }

  -- leaky_relu(x [, alpha | {alpha=, name=}]) (alpha 0.2); elu (alpha 1).
  local function with_alpha(default)
    return function(opts)
      local alpha = default
      if type(opts) == "number" then
        alpha = opts
      elseif type(opts) == "table" then
        if opts.alpha ~= nil then alpha = opts.alpha end
      else
        alpha = opts
      end
      if type(alpha) ~= "number" then error("alpha must be a number, got " .. tostring(alpha), 3) end
      return { f1 = alpha }
    end
  end
  op { name = "leaky_relu", kind = "unary", nn = true, attrs = with_alpha(0.2), options = { "alpha" },
    dx = function(x, _, g, at)
    local alpha = at.f1 or at.alpha or 0.2
    return g * (step(x) * (1 - alpha) + alpha)
  end }
  -- alpha expm1(x) below 0: the derivative alpha exp(x) (not y + alpha,
  -- which cancels to 0 far below 0)
  op { name = "elu", kind = "unary", nn = true, attrs = with_alpha(1.0), options = { "alpha" },
    dx = function(x, _, g, at)
    local s = step(x)
    return g * (s + one_minus(s) * ts.exp(ts.minimum(x, 0)) * (at.f1 or 1))
  end }

  ----------------------------------------------------------- binary ops

  op { name = "squared_difference", kind = "binary",
    da = function(a, b, _, g) return g * (a - b) * 2 end,
    db = function(a, b, _, g) return -(g * (a - b) * 2) end }
  -- 1 where a wins, 0 where b wins, 1/2 each at a tie.
  local function wins(a, b) return (ts.sign(a - b) + 1) * 0.5 end
  op { name = "maximum", kind = "binary", da = function(a, b, _, g) return g * wins(a, b) end,
    db = function(a, b, _, g) return g * wins(b, a) end }
  op { name = "minimum", kind = "binary", da = function(a, b, _, g) return g * wins(b, a) end,
    db = function(a, b, _, g) return g * wins(a, b) end }
  for _, name in ipairs { "equal", "not_equal", "less", "less_equal", "greater", "greater_equal" } do
    op { name = name, kind = "binary", grad = false }
  end

  --- where(cond, a, b [, {name=}]): a where cond is nonzero, else b.
  -- cond is uint8 (a comparison; Lua values become uint8); a and b share a
  -- dtype (Lua values adopt the other's, else float64); all three broadcast.
  op { name = "where", fn = function(cond, a, b, opts)
    if b == nil and (a == nil or is_opts(a)) then return I.where_indices(cond, a) end -- index.lua
    local dt = "float64"
    for _, v in ipairs { a, b } do
      if is_node(v) or is_tensor(v) then
        dt = v.dtype
        break
      end
    end
    I.op_options("where", opts)
    local attrs = is_opts(opts) and { name = opts.name } or nil
    return apply("where", attrs, { cond, a, b, n = 3 }, { "uint8", dt, dt })
  end, grad = function(o, g) -- cond gets none
    local cond, a, b = o.inputs[1], o.inputs[2], o.inputs[3]
    local z = ts.zeros_like(g)
    return { nil, need(2) and sum_like(ts.where(cond, g, z), a) or nil,
             need(3) and sum_like(ts.where(cond, z, g), b) or nil }
  end }

  ------------------------------------------------------------ linear algebra

  local function mm(a, b, ta, tb)
    return ts.matmul(a, b, (ta or tb) and { transpose_a = ta or nil, transpose_b = tb or nil } or nil)
  end
  local function outer(u, v) return ts.expand_dims(u, -1) * ts.expand_dims(v, 1) end

  --- matmul(a, b [, {transpose_a=, transpose_b=, name=}])
  op { name = "matmul", fn = function(a, b, opts)
    local attrs
    I.op_options("matmul", opts, { "transpose_a", "transpose_b" })
    if is_opts(opts) then
      attrs = { transpose_a = opts.transpose_a, transpose_b = opts.transpose_b, name = opts.name }
    end
    return apply("matmul", attrs, { a, b, n = 2 })
  end, grad = function(o, g)
    local a, b = o.inputs[1], o.inputs[2]
    local at = attrs_of(o)
    local ta, tb = at.transpose_a and true or false, at.transpose_b and true or false
    local ra, rb = a.shape and #a.shape, b.shape and #b.shape
    local da, db
    if ra == 1 and rb == 1 then
      da, db = need(1) and g * b, need(2) and g * a
    elseif rb == 1 then -- y = op(A) x
      da = need(1) and (ta and outer(b, g) or outer(g, b))
      db = need(2) and mm(a, g, not ta, false)
    elseif ra == 1 then -- y = op(B)^T x
      da = need(1) and mm(b, g, tb, false)
      db = need(2) and (tb and outer(g, a) or outer(a, g))
    elseif not ta and not tb then
      da, db = need(1) and mm(g, b, false, true), need(2) and mm(a, g, true, false)
    elseif not ta and tb then
      da, db = need(1) and mm(g, b, false, false), need(2) and mm(g, a, true, false)
    elseif ta and not tb then
      da, db = need(1) and mm(b, g, false, true), need(2) and mm(a, g, false, false)
    else
      da, db = need(1) and mm(b, g, true, true), need(2) and mm(g, a, true, true)
    end
    -- batched products: sum over the batch of a shared 2-D operand
    return { da and sum_like(da, a) or nil, db and sum_like(db, b) or nil }
  end }

  ------------------------------------------------------------ reductions

  local function check_axis(name, axis)
    if axis == nil or I.int(axis) then return end
    if type(axis) == "table" and not is_node(axis) and not is_tensor(axis) then
      for i = 1, rawlen(axis) do
        if not I.int(rawget(axis, i)) then
          error(("%s: axis entry %d is not an integer (got %s)"):format(name, i,
            tostring(rawget(axis, i))), 4)
        end
      end
      return
    end
    error(("%s: axis must be an integer or a table of integers, got %s"):format(
      name, tostring(axis)), 4)
  end

  local REDUCE_OPTS = { "axis", "keepdims" }
  -- Options of f(x, axis, keepdims) or f(x, {axis=, keepdims=, name=}).
  local function reduce_attrs(name, axis, keepdims)
    local attrs
    I.op_options(name, axis, REDUCE_OPTS)
    I.op_options(name, keepdims, REDUCE_OPTS)
    if is_opts(axis) then
      attrs = { axis = axis.axis, keepdims = axis.keepdims, name = axis.name }
    elseif type(axis) == "table" and not is_node(axis) and not is_tensor(axis)
        and next(axis) == nil then
      -- {} could be an empty axis list (reduce nothing) or empty options (every axis)
      error(("%s: {} is ambiguous: {axis = {}} reduces nothing, no argument every axis")
        :format(name), 3)
    else
      attrs = { axis = axis, keepdims = keepdims }
      if is_opts(keepdims) then
        attrs.keepdims, attrs.name = keepdims.keepdims, keepdims.name
      end
    end
    check_axis(name, attrs.axis)
    return attrs
  end

  --- reduce_NAME(x [, axis [, keepdims]]) or reduce_NAME(x, {axis=, keepdims=, name=}):
  -- axis nil = every axis, an integer or a table of integers (1-based,
  -- negative from the end).
  function I.kinds.reduce(d)
    local name = d.name
    return function(x, axis, keepdims)
      return apply(name, reduce_attrs(name, axis, keepdims), { x, n = 1 })
    end
  end

  -- Attributes of a reduction as broadcast_like reads them.
  local function red_attrs(o, mean)
    local at = attrs_of(o)
    return { axis = at.axis, keepdims = at.keepdims, i1 = mean and 1 or nil }
  end
  -- A reduction with a reduction's attributes as they are (nil axis: every
  -- axis, {}: none), not through ts.reduce_*'s argument forms.
  local function reduce(name, x, axis, keepdims)
    return node(name, { axis = axis, keepdims = keepdims or nil }, x)
  end
  -- g shared equally among the elements equal to the extreme (as PyTorch's
  -- amax/amin); a NaN extreme gives NaN.
  local function extreme(o, g)
    local x, at = o.inputs[1], red_attrs(o)
    local y = broadcast_like(o, x, at)
    local mask = ts.cast(ts.equal(x, y), x.dtype) -- none at a NaN: 0/0 below
    local a = attrs_of(o)
    local count = reduce("reduce_sum", mask, a.axis, a.keepdims)
    return { mask * broadcast_like(g / count, x, at) }
  end

  op { name = "reduce_sum", kind = "reduce", aliases = { "sum" },
    grad = function(o, g) return { broadcast_like(g, o.inputs[1], red_attrs(o)) } end }
  op { name = "reduce_mean", kind = "reduce", aliases = { "mean" },
    grad = function(o, g) return { broadcast_like(g, o.inputs[1], red_attrs(o, true)) } end }
  op { name = "reduce_max", kind = "reduce", aliases = { "max" }, grad = extreme }
  op { name = "reduce_min", kind = "reduce", aliases = { "min" }, grad = extreme }
  -- d prod / d x_i = the product of the others: y / x_i where x_i ~= 0. At a
  -- zero: P, the product of the non-zeros, if it is the only zero; with two,
  -- P (s - x_i), s the sum of the zeros: 0, with the right derivative (P)
  -- with respect to the other zero; with more, 0.
  op { name = "reduce_prod", kind = "reduce", grad = function(o, g)
    local x, at, a = o.inputs[1], red_attrs(o), attrs_of(o)
    local function red(name, v) return broadcast_like(reduce(name, v, a.axis, a.keepdims), x, at) end
    local zero = ts.equal(x, 0)
    local nz = ts.where(zero, 1, x)
    local zeros, p = red("reduce_sum", ts.cast(zero, x.dtype)), red("reduce_prod", nz)
    local s = red("reduce_sum", ts.where(zero, x, 0))
    local at_zero = ts.where(ts.equal(zeros, 1), p, ts.where(ts.equal(zeros, 2), p * (s - x), 0))
    local d = ts.where(zero, at_zero, broadcast_like(o, x, at) / nz)
    return { d * broadcast_like(g, x, at) }
  end }
  op { name = "reduce_logsumexp", kind = "reduce", grad = function(o, g)
    local x, at = o.inputs[1], red_attrs(o)
    return { broadcast_like(g, x, at) * ts.exp(x - broadcast_like(o, x, at)) }
  end }
  op { name = "argmax", kind = "reduce", grad = false }
  op { name = "argmin", kind = "reduce", grad = false }

  -- The gradient helpers of reductions and broadcasting (src/ops_grad.c):
  -- the "like" input (the second) gets no gradient.
  op { name = "reduce_sum_like", public = false, grad = function(o, g)
    return { need(1) and broadcast_like(g, o.inputs[1], { i1 = attrs_of(o).i1 }) or nil }
  end }
  op { name = "broadcast_like", public = false, grad = function(o, g)
    if not need(1) then return {} end
    local x, at = o.inputs[1], attrs_of(o)
    if at.axis ~= nil and not at.keepdims then
      return { reduce(at.i1 and "reduce_mean" or "reduce_sum", g, at.axis) }
    end
    return { node("reduce_sum_like", { i1 = at.i1 }, g, x) }
  end }
end
