-- Learning-rate schedules (ts.train.exponential_decay, piecewise_constant,
-- polynomial_decay, cosine_decay): graph nodes of the global step with
-- TensorFlow 1.x's formulas, usable as any optimizer's learning rate. Given a
-- number for the step instead of a node they compute a tensor at once.
-- Loaded by tensorslow/init.lua as require("tensorslow.schedules")(ts, I).
return function(ts, I)
  local train = ts.train
  local is_node, is_tensor, check_options = I.is_node, I.is_tensor, I.check_options

  local function kind(v)
    return is_node(v) and "a node" or is_tensor(v) and "a tensor" or tostring(v)
  end

  -- A scalar node or a number: the step (any numeric dtype) or a learning rate.
  local function scalar_arg(what, name, v)
    if type(v) == "number" then
      if v ~= v then error(("%s: %s is NaN"):format(what, name), 3) end
      return v
    end
    if is_node(v) or is_tensor(v) then
      local s, n = v.shape, 1
      for _, d in ipairs(s or {}) do n = d < 0 and n or n * d end
      if n == 1 then return v end
      error(("%s: %s must be a scalar, got shape [%s]"):format(what, name, table.concat(s, ", ")), 3)
    end
    error(("%s: %s must be a number or a scalar node, got %s"):format(what, name, kind(v)), 3)
  end

  local function positive(what, name, v)
    if type(v) ~= "number" or not (v > 0 and v < math.huge) then
      error(("%s: %s must be a positive number, got %s"):format(what, name, kind(v)), 3)
    end
    return v
  end

  local function number(what, name, v)
    if type(v) ~= "number" or v ~= v then
      error(("%s: %s must be a number, got %s"):format(what, name, kind(v)), 3)
    end
    return v
  end

  -- x as float64 (a number stays a number).
  local function f64(x)
    if type(x) == "number" then return x + 0.0 end
    return x.dtype == "float64" and x or ts.cast(x, "float64")
  end

  -- floor(x) of a float64 node or tensor, exact for |x| < 2^63: truncation by
  -- the cast to int64, less one where that went up (negative non-integers).
  local function floor(x)
    if type(x) == "number" then return math.floor(x) + 0.0 end
    local t = ts.cast(ts.cast(x, "int64"), "float64")
    return ts.where(ts.greater(t, x), t - 1, t)
  end
  local function ceil(x)
    if type(x) == "number" then return math.ceil(x) + 0.0 end
    return -floor(-x)
  end
  local function minimum(a, b)
    if type(a) == "number" and type(b) == "number" then return math.min(a, b) end
    return ts.minimum(a, b)
  end

  -- The result in the learning rate's dtype when it is a node or tensor
  -- (float64 for a number), named when asked.
  local function finish(r, lr, name)
    if type(r) == "number" then r = ts.tensor(r) end
    if (is_node(lr) or is_tensor(lr)) and lr.dtype ~= r.dtype then r = ts.cast(r, lr.dtype) end
    if name ~= nil and is_node(r) then r = ts.identity(r, { name = name }) end
    return r
  end

  local EXP_OPTS = { staircase = true, name = true }
  --- exponential_decay(learning_rate, global_step, decay_steps, decay_rate
  --   [, {staircase=false, name=}]):
  -- learning_rate decay_rate^(global_step / decay_steps), the exponent floored
  -- when staircase.
  function train.exponential_decay(lr, step, decay_steps, decay_rate, opts)
    local what = "exponential_decay"
    opts = check_options(what, opts, EXP_OPTS)
    lr = scalar_arg(what, "learning_rate", lr)
    step = scalar_arg(what, "global_step", step)
    decay_steps = positive(what, "decay_steps", decay_steps)
    decay_rate = number(what, "decay_rate", decay_rate)
    local p = f64(step) / decay_steps
    if opts.staircase then p = floor(p) end
    local r = type(p) == "number" and decay_rate ^ p or ts.pow(decay_rate, p)
    return finish(f64(lr) * r, lr, opts.name)
  end

  local PW_OPTS = { name = true }
  --- piecewise_constant(x, boundaries, values [, {name=}]): values[1] while x <=
  -- boundaries[1], values[i] while boundaries[i-1] < x <= boundaries[i], and
  -- values[#boundaries + 1] beyond. Boundaries increase; an integer x (the global
  -- step) takes integer boundaries. The result is float64.
  function train.piecewise_constant(x, boundaries, values, opts)
    local what = "piecewise_constant"
    opts = check_options(what, opts, PW_OPTS)
    x = scalar_arg(what, "x", x)
    if type(boundaries) ~= "table" or is_node(boundaries) or is_tensor(boundaries) then
      error(("%s: boundaries must be an array of numbers, got %s"):format(what, kind(boundaries)), 2)
    end
    if type(values) ~= "table" or is_node(values) or is_tensor(values) then
      error(("%s: values must be an array of numbers, got %s"):format(what, kind(values)), 2)
    end
    local nb, nv = rawlen(boundaries), rawlen(values)
    if nv ~= nb + 1 then
      error(("%s: values must have one entry more than boundaries (%d boundaries, %d values)")
        :format(what, nb, nv), 2)
    end
    local int_x = type(x) ~= "number" and (x.dtype == "int64" or x.dtype == "uint8")
    for i = 1, nb do
      local b = rawget(boundaries, i)
      if type(b) ~= "number" or b ~= b then
        error(("%s: boundaries[%d] must be a number, got %s"):format(what, i, kind(b)), 2)
      end
      if int_x and not math.tointeger(b) then
        error(("%s: boundaries[%d] is %s, not an integer, but x is %s"):format(what, i, tostring(b),
          x.dtype), 2)
      end
      if i > 1 and b <= rawget(boundaries, i - 1) then
        error(("%s: boundaries must increase: boundaries[%d] = %s after %s"):format(what, i,
          tostring(b), tostring(rawget(boundaries, i - 1))), 2)
      end
    end
    for i = 1, nv do
      if type(rawget(values, i)) ~= "number" then
        error(("%s: values[%d] must be a number, got %s"):format(what, i, kind(rawget(values, i))), 2)
      end
    end
    if type(x) == "number" then
      for i = 1, nb do
        if x <= boundaries[i] then return ts.tensor(values[i] + 0.0) end
      end
      return ts.tensor(values[nv] + 0.0)
    end
    -- innermost the last interval; each where picks an earlier value at or below its boundary
    local r = values[nv] + 0.0
    for i = nb, 1, -1 do
      r = ts.where(ts.less_equal(x, int_x and math.tointeger(boundaries[i]) or boundaries[i]),
        values[i] + 0.0, r)
    end
    if type(r) == "number" then -- no boundaries
      r = is_node(x) and ts.constant(r, { graph = x.graph }) or ts.tensor(r)
    end
    return finish(r, nil, opts.name)
  end

  local POLY_OPTS = { end_learning_rate = true, power = true, cycle = true, name = true }
  --- polynomial_decay(learning_rate, global_step, decay_steps [, {end_learning_rate=
  --   0.0001, power=1, cycle=false, name=}]):
  -- (learning_rate - end) (1 - s / decay_steps)^power + end with s = min(global_step,
  -- decay_steps); cycle: s = global_step over decay_steps ceil(global_step / decay_steps)
  -- (1 at step 0) instead.
  function train.polynomial_decay(lr, step, decay_steps, opts)
    local what = "polynomial_decay"
    opts = check_options(what, opts, POLY_OPTS)
    lr = scalar_arg(what, "learning_rate", lr)
    step = f64(scalar_arg(what, "global_step", step))
    decay_steps = positive(what, "decay_steps", decay_steps)
    local end_lr = number(what, "end_learning_rate", opts.end_learning_rate or 0.0001)
    local power = number(what, "power", opts.power or 1.0)
    local frac
    if opts.cycle then
      local mult = ceil(step / decay_steps)
      if type(mult) == "number" then
        mult = mult == 0 and 1 or mult
      else
        mult = ts.where(ts.equal(step, 0), 1, mult)
      end
      frac = step / (mult * decay_steps)
    else
      frac = minimum(step, decay_steps) / decay_steps
    end
    local base = 1 - frac
    local r = (f64(lr) - end_lr) * (type(base) == "number" and base ^ power or ts.pow(base, power))
      + end_lr
    return finish(r, lr, opts.name)
  end

  local COS_OPTS = { alpha = true, warmup_steps = true, warmup_from = true, name = true }
  --- cosine_decay(learning_rate, global_step, decay_steps [, {alpha=0, warmup_steps=0,
  --   warmup_from=0, name=}]):
  -- learning_rate ((1 - alpha) (1 + cos(pi s / decay_steps)) / 2 + alpha) with
  -- s = min(global_step, decay_steps) (TF1's cosine_decay). With warmup_steps = W
  -- > 0 a linear warm-up comes first: warmup_from + (learning_rate - warmup_from)
  -- global_step / W while global_step < W, then the cosine decay of global_step - W
  -- (so the schedule lasts W + decay_steps steps and reaches learning_rate at W).
  function train.cosine_decay(lr, step, decay_steps, opts)
    local what = "cosine_decay"
    opts = check_options(what, opts, COS_OPTS)
    lr = scalar_arg(what, "learning_rate", lr)
    step = f64(scalar_arg(what, "global_step", step))
    decay_steps = positive(what, "decay_steps", decay_steps)
    local alpha = number(what, "alpha", opts.alpha or 0)
    local warm = opts.warmup_steps or 0
    if type(warm) ~= "number" or not (warm >= 0 and warm < math.huge) then
      error(("%s: warmup_steps must be a number >= 0, got %s"):format(what, kind(warm)), 2)
    end
    local from = number(what, "warmup_from", opts.warmup_from or 0)
    local lr64 = f64(lr)
    local s = warm > 0 and step - warm or step
    if type(s) == "number" then s = math.max(s, 0) else s = ts.maximum(s, 0) end
    s = minimum(s, decay_steps)
    local c = s * (math.pi / decay_steps)
    local cos = type(c) == "number" and math.cos(c) or ts.cos(c)
    local r = lr64 * ((1 + cos) * 0.5 * (1 - alpha) + alpha)
    if warm > 0 then
      local ramp = (lr64 - from) * (step / warm) + from
      if type(step) == "number" then
        if step < warm then r = ramp end
      else
        r = ts.where(ts.less(step, warm), ramp, r)
      end
    end
    return finish(r, lr, opts.name)
  end
end
