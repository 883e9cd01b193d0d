-- Element-wise, comparison and reduction op wrappers.
-- Loaded by tensorslow/init.lua as require("tensorslow.math")(ts).
--
-- Every op exists as ts.NAME(x, ...), node:NAME(...) and tensor:NAME(...):
-- on nodes it builds a graph node, on tensors it computes at once (the same
-- C kernel either way).
return function(ts)
  local core = ts.core
  local node_methods, tensor_methods = core.node_methods, core.tensor_methods
  local is_node, is_tensor, is_opts = ts.is_node, ts.is_tensor, ts._is_opts

  local function method(name, f)
    node_methods[name], tensor_methods[name] = f, f
  end

  ------------------------------------------------------------ unary maps

  for _, name in ipairs {
    "abs", "sign", "square", "exp", "log", "log1p", "sqrt", "rsqrt", "reciprocal",
    "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "gelu",
  } do
    ts._unary(name)
  end

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
  ts._unary("leaky_relu", with_alpha(0.2))
  ts._unary("elu", with_alpha(1.0))

  ----------------------------------------------------------- binary ops

  for _, name in ipairs {
    "maximum", "minimum", "squared_difference",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
  } do
    ts._binary(name)
  end

  --- where(cond, a, b [, {name=}]): a where cond is nonzero, else b.
  -- cond is uint8 (a comparison; Lua values become uint8); a and b share a
  -- dtype (Lua values adopt the other's, else float64); all three broadcast.
  function ts.where(cond, a, b, opts)
    local dt = "float64"
    for _, v in ipairs { a, b } do
      if is_node(v) or is_tensor(v) then
        dt = v.dtype
        break
      end
    end
    local attrs = is_opts(opts) and { name = opts.name } or nil
    return ts.apply("where", attrs, { cond, a, b, n = 3 }, { "uint8", dt, dt })
  end
  method("where", ts.where)

  ------------------------------------------------------------ reductions

  local function check_axis(name, axis)
    if axis == nil or ts._int(axis) then return end
    if type(axis) == "table" and not is_node(axis) and not is_tensor(axis) then
      for i = 1, rawlen(axis) do
        if not ts._int(rawget(axis, i)) then
          error(("%s: axis entry %d is not an integer (got %s)"):format(name, i,
            tostring(rawget(axis, i))), 4)
        end
      end
      return
    end
    error(("%s: axis must be an integer or a table of integers, got %s"):format(
      name, tostring(axis)), 4)
  end

  -- Options of f(x, axis, keepdims) or f(x, {axis=, keepdims=, name=}).
  local function reduce_attrs(name, axis, keepdims)
    local attrs
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
  for _, name in ipairs {
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
    "reduce_logsumexp", "argmax", "argmin",
  } do
    local f = function(x, axis, keepdims)
      return ts.apply(name, reduce_attrs(name, axis, keepdims), { x, n = 1 })
    end
    ts[name] = f
    method(name, f)
  end
  method("sum", ts.reduce_sum)
  method("mean", ts.reduce_mean)
  method("max", ts.reduce_max)
  method("min", ts.reduce_min)
end
