-- Optimizers, initializers (ts.train, ts.initializers).
-- An optimizer's step is one stateful C op per variable (src/ops_optim.c)
-- updating the variable and its slots in place, grouped into one node; the
-- plan runs stateful ops after every pure node, so a loss fetched beside the
-- step is computed from the values before the update.
-- Loaded by tensorslow/init.lua as require("tensorslow.train")(ts, I).
return function(ts, I)
  local core = I.core
  local is_node, is_tensor = I.is_node, I.is_tensor

  local train = {}
  ts.train = train

  -- Variables made by optimizers (slots): not trainable.
  local not_trainable = setmetatable({}, { __mode = "k" })
  I.not_trainable = not_trainable

  -- The update steps (stateful ops, src/ops_optim.c): no gradient flows through them.
  for _, name in ipairs { "apply_gradient_descent", "apply_momentum", "apply_adam",
    "apply_rmsprop", "apply_adagrad" } do
    I.op { name = name, public = false, grad = false }
  end

  --- trainable_variables([graph]): the graph's variables except optimizer slots.
  function ts.trainable_variables(graph)
    graph = graph or ts.get_default_graph()
    local r = {}
    for _, v in ipairs(graph:variables()) do
      if not not_trainable[v] then r[#r + 1] = v end
    end
    return r
  end

  ------------------------------------------------------------ optimizers

  local Optimizer = {}
  Optimizer.__index = Optimizer

  local function new_optimizer(kind, lr, fields)
    if not (type(lr) == "number" or is_node(lr)) then
      error(kind .. ": the learning rate must be a number or a scalar node", 3)
    end
    local o = setmetatable(fields or {}, Optimizer)
    o.kind, o.learning_rate = kind, lr
    o._slots = setmetatable({}, { __mode = "k" })
    return o
  end

  function Optimizer:__tostring()
    return self.kind .. "(learning_rate=" .. tostring(self.learning_rate) .. ")"
  end

  --- compute_gradients(loss [, var_list]) -> { {grad, var}, ... } (grad nil
  -- when the loss does not depend on var).
  function Optimizer:compute_gradients(loss, var_list)
    if not is_node(loss) then error(self.kind .. ".compute_gradients: loss must be a node", 2) end
    var_list = var_list or ts.trainable_variables(loss.graph)
    for i, v in ipairs(var_list) do
      if not is_node(v) or v.op ~= "variable" then
        error(("%s.compute_gradients: var_list[%d] is not a variable"):format(self.kind, i), 2)
      end
    end
    local grads = ts.gradients(loss, var_list)
    local r = {}
    for i, v in ipairs(var_list) do r[i] = { grads[i], v } end
    return r
  end

  -- The learning rate as a node of v's graph.
  function Optimizer:_lr(v)
    local lr = self.learning_rate
    if is_node(lr) then
      if lr.graph ~= v.graph then
        error(self.kind .. ": the learning rate node belongs to another graph", 4)
      end
      return lr
    end
    return ts.constant(lr, { graph = v.graph, dtype = v.dtype, name = self.kind .. "/learning_rate" })
  end

  function Optimizer:_update_name(v) return self.kind .. "/update_" .. v.name end

  -- The slot variables of v, made on first use: "<var>/<Kind>", "<var>/<Kind>_1", ...
  function Optimizer:_get_slots(v, inits)
    local s = self._slots[v]
    if s then return s end
    s = {}
    local value = v:value()
    for i, init in ipairs(inits) do
      local t
      if init == "step" then
        t = ts.tensor(0, "float64")
      else
        t = ts.fill(value.shape, init, v.dtype)
      end
      s[i] = ts.Variable(t, { graph = v.graph, name = v.name .. "/" .. self.slot_name })
      not_trainable[s[i]] = true
    end
    self._slots[v] = s
    return s
  end

  --- apply_gradients({ {grad, var}, ... }): one node that updates every var
  -- with a gradient when run.
  function Optimizer:apply_gradients(grads_and_vars)
    if type(grads_and_vars) ~= "table" then
      error(self.kind .. ".apply_gradients: expected { {grad, var}, ... }", 2)
    end
    local ops, graph = {}, nil
    for i, gv in ipairs(grads_and_vars) do
      local g, v = gv[1], gv[2]
      if not is_node(v) or v.op ~= "variable" then
        error(("%s.apply_gradients: entry %d has no variable"):format(self.kind, i), 2)
      end
      graph = graph or v.graph
      if g ~= nil then
        if not is_node(g) then
          error(("%s.apply_gradients: the gradient of '%s' is not a node"):format(self.kind, v.name), 2)
        end
        ops[#ops + 1] = self:_apply(g, v)
      end
    end
    if #ops == 0 then
      error(self.kind .. ": no variable has a gradient (does the loss depend on the variables?)", 2)
    end
    -- the step also updates the moving statistics of the batch normalization
    -- layers the gradients depend on (no UPDATE_OPS to collect by hand)
    for _, u in ipairs(I.layer_updates(graph, grads_and_vars)) do ops[#ops + 1] = u end
    return core.node(graph, "group", self.kind, nil, table.unpack(ops))
  end

  --- minimize(loss [, var_list]): compute_gradients then apply_gradients.
  function Optimizer:minimize(loss, var_list)
    return self:apply_gradients(self:compute_gradients(loss, var_list))
  end

  local function opts_of(kind, lr, opts)
    if type(lr) == "table" and not is_node(lr) then opts, lr = lr, lr.learning_rate end
    opts = opts or {}
    if type(opts) ~= "table" then error(kind .. ": options must be a table", 3) end
    return lr, opts
  end

  --- GradientDescentOptimizer(learning_rate): var -= lr * grad
  function train.GradientDescentOptimizer(lr)
    lr = opts_of("GradientDescentOptimizer", lr)
    local o = new_optimizer("GradientDescent", lr)
    function o._apply(self, g, v)
      return core.node(v.graph, "apply_gradient_descent", self:_update_name(v), nil, v, g, self:_lr(v))
    end
    return o
  end

  --- MomentumOptimizer(learning_rate, momentum [, {use_nesterov=}]):
  -- accum = momentum * accum + grad; var -= lr * accum
  -- (Nesterov: var -= lr * grad + lr * momentum * accum)
  function train.MomentumOptimizer(lr, momentum, opts)
    if type(lr) == "table" and not is_node(lr) then
      opts, lr, momentum = lr, lr.learning_rate, lr.momentum
    end
    opts = opts or {}
    if type(momentum) ~= "number" then error("MomentumOptimizer: momentum must be a number", 2) end
    local o = new_optimizer("Momentum", lr, { momentum = momentum, use_nesterov = opts.use_nesterov })
    o.slot_name = "Momentum"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { 0 })
      return core.node(v.graph, "apply_momentum", self:_update_name(v),
        { f1 = self.momentum, i1 = self.use_nesterov and 1 or 0 }, v, s[1], g, self:_lr(v))
    end
    return o
  end

  --- AdamOptimizer{learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8}:
  -- t += 1; lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);
  -- m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
  -- var -= lr_t m / (sqrt(v) + epsilon). Slots: "<var>/Adam" (m),
  -- "<var>/Adam_1" (v), "<var>/Adam_2" (the step count t, a float64 scalar).
  function train.AdamOptimizer(lr, opts)
    lr, opts = opts_of("AdamOptimizer", lr, opts)
    local o = new_optimizer("Adam", lr or 0.001, {
      beta1 = opts.beta1 or 0.9, beta2 = opts.beta2 or 0.999, epsilon = opts.epsilon or 1e-8 })
    o.slot_name = "Adam"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { 0, 0, "step" })
      local at = { f1 = self.beta1, f2 = self.beta2, f3 = self.epsilon }
      return core.node(v.graph, "apply_adam", self:_update_name(v), at,
        v, s[1], s[2], s[3], g, self:_lr(v))
    end
    return o
  end

  --- RMSPropOptimizer{learning_rate=, decay=0.9, momentum=0, epsilon=1e-10}:
  -- ms = decay ms + (1 - decay) g^2; mom = momentum mom + lr g / sqrt(ms + epsilon);
  -- var -= mom. Slots "<var>/RMSProp" (ms, starts at 1 as in TensorFlow) and
  -- "<var>/RMSProp_1" (mom).
  function train.RMSPropOptimizer(lr, opts)
    lr, opts = opts_of("RMSPropOptimizer", lr, opts)
    local o = new_optimizer("RMSProp", lr, {
      decay = opts.decay or 0.9, momentum = opts.momentum or 0, epsilon = opts.epsilon or 1e-10 })
    o.slot_name = "RMSProp"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { 1, 0 })
      local at = { f1 = self.decay, f2 = self.momentum, f3 = self.epsilon }
      return core.node(v.graph, "apply_rmsprop", self:_update_name(v), at, v, s[1], s[2], g, self:_lr(v))
    end
    return o
  end

  --- AdagradOptimizer(learning_rate [, {initial_accumulator_value=0.1}]):
  -- accum += g^2; var -= lr g / sqrt(accum). Slot "<var>/Adagrad".
  function train.AdagradOptimizer(lr, opts)
    lr, opts = opts_of("AdagradOptimizer", lr, opts)
    local o = new_optimizer("Adagrad", lr,
      { initial_accumulator_value = opts.initial_accumulator_value or 0.1 })
    o.slot_name = "Adagrad"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { self.initial_accumulator_value })
      return core.node(v.graph, "apply_adagrad", self:_update_name(v), nil, v, s[1], g, self:_lr(v))
    end
    return o
  end

  --- group(ops...) or group{ops}: one node that runs all of them.
  I.op { name = "group", method = false, grad = false, fn = function(...)
    local list = select("#", ...) == 1 and not is_node(...) and ... or { ... }
    if #list == 0 then error("group: nothing to group", 2) end
    return core.node(list[1].graph, "group", nil, nil, table.unpack(list))
  end }

  ------------------------------------------------------------ initializers

  local init = {}
  ts.initializers = init

  local function fans(shape)
    local n = #shape
    if n == 0 then return 1, 1 end
    if n == 1 then return shape[1], shape[1] end
    local receptive = 1
    for i = 1, n - 2 do receptive = receptive * shape[i] end
    return shape[n - 1] * receptive, shape[n] * receptive
  end

  local function map(t, f)
    local shape = t.shape
    local v = t:reshape({ t:numel() }):totable()
    for i = 1, #v do v[i] = f(v[i]) end
    return ts.tensor(v, t.dtype):reshape(shape)
  end

  -- Normal samples, those beyond 2 standard deviations drawn again.
  local function truncated(shape, dtype, mean, stddev)
    local t = ts.randn(shape, dtype)
    return map(t, function(z)
      while z > 2 or z < -2 do z = ts.randn({ 1 }, "float64"):get(1) end
      return mean + stddev * z
    end)
  end

  local makers = {
    zeros = function(shape, o) return ts.zeros(shape, o.dtype) end,
    ones = function(shape, o) return ts.ones(shape, o.dtype) end,
    constant = function(shape, o) return ts.fill(shape, o.value or 0, o.dtype) end,
    random_normal = function(shape, o)
      return ts.randn(shape, o.dtype) * (o.stddev or 1) + (o.mean or 0)
    end,
    truncated_normal = function(shape, o)
      return truncated(shape, o.dtype, o.mean or 0, o.stddev or 1)
    end,
    random_uniform = function(shape, o)
      local lo, hi = o.minval or 0, o.maxval or 1
      return ts.rand(shape, o.dtype) * (hi - lo) + lo
    end,
    glorot_uniform = function(shape, o)
      local fi, fo = fans(shape)
      local limit = math.sqrt(6 / (fi + fo))
      return ts.rand(shape, o.dtype) * (2 * limit) - limit
    end,
    glorot_normal = function(shape, o)
      local fi, fo = fans(shape)
      return truncated(shape, o.dtype, 0, math.sqrt(2 / (fi + fo)) / 0.87962566103423978)
    end,
    he_normal = function(shape, o)
      local fi = fans(shape)
      return truncated(shape, o.dtype, 0, math.sqrt(2 / fi) / 0.87962566103423978)
    end,
  }

  -- TensorFlow's VarianceScaling: variance scale / n, n the fan (at least 1)
  -- chosen by mode; a truncated normal's stddev is divided by the stddev of
  -- a standard normal cut at +-2 (0.8796...) so the variance is as asked.
  local MODES = { fan_in = true, fan_out = true, fan_avg = true }
  local DISTRIBUTIONS = { truncated_normal = true, normal = true, untruncated_normal = true,
                          uniform = true }
  local function variance_scaling(shape, o, what)
    local scale, mode, dist = o.scale or 1, o.mode or "fan_in", o.distribution or "truncated_normal"
    if type(scale) ~= "number" or scale ~= scale or scale <= 0 then
      error(("initializers.%s: scale must be a positive number"):format(what), 2)
    end
    if not MODES[mode] then
      error(("initializers.%s: mode must be \"fan_in\", \"fan_out\" or \"fan_avg\", got %s")
        :format(what, tostring(mode)), 2)
    end
    if not DISTRIBUTIONS[dist] then
      error(("initializers.%s: distribution must be \"truncated_normal\", \"untruncated_normal\" "
        .. "or \"uniform\", got %s"):format(what, tostring(dist)), 2)
    end
    local fi, fo = fans(shape)
    local n = mode == "fan_in" and fi or mode == "fan_out" and fo or (fi + fo) / 2
    local var = scale / math.max(1, n)
    if dist == "uniform" then
      local limit = math.sqrt(3 * var)
      return ts.rand(shape, o.dtype) * (2 * limit) - limit
    elseif dist == "untruncated_normal" then
      return ts.randn(shape, o.dtype) * math.sqrt(var)
    end
    return truncated(shape, o.dtype, 0, math.sqrt(var) / 0.87962566103423978)
  end
  makers.variance_scaling = function(shape, o) return variance_scaling(shape, o, "variance_scaling") end
  for name, d in pairs {
    he_uniform = { scale = 2, distribution = "uniform" },
    lecun_normal = { scale = 1, distribution = "truncated_normal" },
    lecun_uniform = { scale = 1, distribution = "uniform" },
  } do
    makers[name] = function(shape, o)
      return variance_scaling(shape, { scale = d.scale, distribution = d.distribution, dtype = o.dtype },
        name)
    end
  end

  -- init.NAME{2, 3} or init.NAME({2, 3}, opts): a tensor of that shape;
  -- init.NAME{mean=...} (no shape): an initializer, a function of a shape.
  for name, make in pairs(makers) do
    local function initializer(opts)
      return function(shape, more)
        local o = {}
        for k, v in pairs(opts) do o[k] = v end
        for k, v in pairs(more or {}) do o[k] = v end
        o.dtype = o.dtype or "float64"
        local s = {}
        for i = 1, #shape do
          if math.type(shape[i]) ~= "integer" or shape[i] < 0 then
            error(("initializers.%s: dimension %d of the shape is not a size"):format(name, i), 2)
          end
          s[i] = shape[i]
        end
        return make(s, o)
      end
    end
    init[name] = function(arg, opts)
      if type(arg) == "table" and not is_tensor(arg) and not is_node(arg) then
        if arg[1] ~= nil or next(arg) == nil and opts then
          local o = {}
          for k, v in pairs(arg) do if type(k) ~= "number" then o[k] = v end end
          return initializer(o)(arg, opts)
        end
        return initializer(arg)
      end
      if math.type(arg) == "integer" then return initializer({})({ arg }, opts) end
      if arg == nil then return initializer({}) end
      error(("initializers.%s: expected a shape or an options table"):format(name), 2)
    end
  end
  init.zeros_initializer, init.ones_initializer = init.zeros, init.ones
end
