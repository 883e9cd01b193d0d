-- Optimizers, the global step, regularizers, initializers (ts.train,
-- ts.regularizers, ts.losses, ts.initializers).
-- An optimizer's step is one stateful C op per variable (src/ops_optim.c)
-- updating the variable and its slots in place, grouped into one node; the
-- plan runs stateful ops after every pure node, so a loss fetched beside the
-- step is computed from the values before the update. AdamW is composed: its
-- new values are pure nodes, stored by apply_gradient_descent steps.
-- Loaded by tensorslow/init.lua as require("tensorslow.train")(ts, I).
return function(ts, I)
  local core = I.core
  local is_node, is_tensor = I.is_node, I.is_tensor

  local train = {}
  ts.train = train

  -- Variables made by optimizers (slots): not trainable.
  local not_trainable = setmetatable({}, { __mode = "k" })
  I.not_trainable = not_trainable
  -- Local variables (the metrics' accumulators): not trainable, not saved.
  local local_variables = setmetatable({}, { __mode = "k" })
  I.local_variables = local_variables
  local check_options = I.check_options

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

  --- global_variables([graph]): the graph's variables except local ones (the
  -- metrics'): what a Saver saves by default.
  function ts.global_variables(graph)
    graph = graph or ts.get_default_graph()
    local r = {}
    for _, v in ipairs(graph:variables()) do
      if not local_variables[v] then r[#r + 1] = v end
    end
    return r
  end

  -- Each variable's value at creation, for global_variables_initializer (weak
  -- keys: they die with their graph). Every variable is made by core.source.
  local initial = setmetatable({}, { __mode = "k" })
  local source = core.source
  core.source = function(g, kind, ...)
    local n = source(g, kind, ...)
    if kind == "variable" then initial[n] = n:value():copy() end
    return n
  end

  --- global_variables_initializer([graph]): an op that assigns every global variable
  -- of the graph (at run time) its value at creation. Variables hold their value
  -- from creation on: running it is needed only to reset them.
  function ts.global_variables_initializer(graph)
    graph = graph or ts.get_default_graph()
    if getmetatable(graph) ~= getmetatable(ts.get_default_graph()) then
      error("global_variables_initializer: graph must be a graph", 2)
    end
    local reset = core.custom(graph, "initialize_variables", "init_all_vars", "float64", {}, function()
      for _, v in ipairs(ts.global_variables(graph)) do
        if initial[v] then v:assign(initial[v]) end
      end
      return ts.tensor(0.0)
    end)
    return core.node(graph, "group", "init", nil, reset)
  end

  --- local_variables([graph]): the metrics' accumulators (not trainable, not saved).
  function ts.local_variables(graph)
    graph = graph or ts.get_default_graph()
    local r = {}
    for _, v in ipairs(graph:variables()) do
      if local_variables[v] then r[#r + 1] = v end
    end
    return r
  end

  ------------------------------------------------------------ the global step

  -- graph -> its global step (weak: dies with the graph)
  local global_steps = setmetatable({}, { __mode = "k" })

  local function graph_arg(what, graph)
    if graph == nil then return ts.get_default_graph() end
    if getmetatable(graph) ~= core.Graph_mt then
      error(("%s: expected a graph, got %s"):format(what, is_node(graph) and "a node" or type(graph)), 3)
    end
    return graph
  end

  local function is_step_variable(n)
    if not (is_node(n) and n.op == "variable") then return false end
    local s = n.shape
    return n.dtype == "int64" and s and #s == 0
  end

  --- get_global_step([graph]): the graph's global step, or nil.
  function train.get_global_step(graph)
    graph = graph_arg("get_global_step", graph)
    local gs = global_steps[graph]
    if gs then return gs end
    gs = graph:get("global_step") -- one made by hand (or by a restored script) is adopted
    if is_step_variable(gs) then
      global_steps[graph] = gs
      not_trainable[gs] = true
      return gs
    end
    return nil
  end

  --- get_or_create_global_step([graph]): the int64 scalar variable "global_step"
  -- (not trainable, saved by the Saver), made at 0 on first call. Every
  -- optimizer's minimize on that graph built afterwards increments it by one per run.
  function train.get_or_create_global_step(graph)
    graph = graph_arg("get_or_create_global_step", graph)
    local gs = train.get_global_step(graph)
    if gs then return gs end
    local other = graph:get("global_step")
    if other then
      error(("get_or_create_global_step: the graph's node 'global_step' is a %s %s, not an int64 "
        .. "scalar variable"):format(other.dtype, other.op), 2)
    end
    gs = I.unscoped(ts.Variable, ts.tensor(0, "int64"), { graph = graph, name = "global_step" })
    not_trainable[gs] = true
    global_steps[graph] = gs
    return gs
  end

  -- A node that adds 1 to the scalar variable gs when run, after the given nodes
  -- (the learning rates read before it). No C op writes an integer variable, so
  -- this is a custom op assigning the new value (it runs among the pure nodes,
  -- after its inputs: a node computed from the global step and fetched in the
  -- same run as the step but not an input here may see either value).
  local function increment(gs, name, after)
    local inputs = { gs }
    for _, n in ipairs(after) do
      if is_node(n) and n.graph == gs.graph and n ~= gs then inputs[#inputs + 1] = n end
    end
    return core.custom(gs.graph, "increment_global_step", name, gs.dtype, {}, function(step)
      local nxt = step + 1
      gs:assign(nxt)
      return nxt
    end, table.unpack(inputs))
  end

  ------------------------------------------------------------ optimizers

  local Optimizer = {}
  Optimizer.__index = Optimizer

  local function new_optimizer(kind, lr, fields)
    if not (type(lr) == "number" or is_node(lr)) then
      error(("%sOptimizer: the learning rate must be a number or a scalar node, got %s"):format(kind,
        is_tensor(lr) and "a tensor" or type(lr)), 3)
    end
    if is_node(lr) then
      local s, n = lr.shape, 1
      for _, d in ipairs(s or {}) do n = d < 0 and n or n * d end
      if n ~= 1 then
        error(("%sOptimizer: the learning rate must be a scalar node, got '%s' of shape [%s]"):format(
          kind, lr.name, table.concat(s, ", ")), 3)
      end
    end
    local o = setmetatable(fields or {}, Optimizer)
    o.kind, o.learning_rate = kind, lr
    o._slots = setmetatable({}, { __mode = "k" })
    return o
  end

  function Optimizer:__tostring()
    return self.kind .. "(learning_rate=" .. tostring(self.learning_rate) .. ")"
  end

  -- opt.method(...) instead of opt:method(...) gives a message saying so.
  local function check_self(self, method)
    if getmetatable(self) ~= Optimizer then
      error(("%s: call it as a method, opt:%s(...)"):format(method, method), 3)
    end
  end

  --- compute_gradients(loss [, var_list]) -> { {grad, var}, ... } (grad nil
  -- when the loss does not depend on var).
  function Optimizer:compute_gradients(loss, var_list)
    check_self(self, "compute_gradients")
    if not is_node(loss) then I.raise(self.kind .. ".compute_gradients: loss must be a node") end
    var_list = var_list or ts.trainable_variables(loss.graph)
    for i, v in ipairs(var_list) do
      if not is_node(v) or v.op ~= "variable" then
        I.raise(("%s.compute_gradients: var_list[%d] is not a variable"):format(self.kind, i))
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
        I.raise(self.kind .. ": the learning rate node belongs to another graph")
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
      s[i] = I.unscoped(ts.Variable, t, { graph = v.graph, name = v.name .. "/" .. self.slot_name })
      not_trainable[s[i]] = true
    end
    self._slots[v] = s
    return s
  end

  -- The global step option: nil (default), false (none) or a scalar variable.
  local function step_option(what, gs, graph, default)
    if gs == nil then return default end
    if gs == false then return nil end
    if not (is_node(gs) and gs.op == "variable" and gs.shape and #gs.shape == 0) then
      I.raise(("%s: global_step must be a scalar variable (ts.train.get_or_create_global_step()) or "
        .. "false, got %s"):format(what, is_node(gs) and ("'%s', a %s"):format(gs.name, gs.op)
        or tostring(gs)))
    end
    if graph and gs.graph ~= graph then
      I.raise(("%s: global_step '%s' belongs to another graph than the variables"):format(what, gs.name))
    end
    return gs
  end

  local APPLY_OPTS = { global_step = true }
  --- apply_gradients({ {grad, var}, ... } [, global_step | {global_step=}]): one
  -- node that updates every var with a gradient when run (and adds 1 to
  -- global_step, when given).
  function Optimizer:apply_gradients(grads_and_vars, opts)
    check_self(self, "apply_gradients")
    if is_node(opts) then opts = { global_step = opts } end
    opts = check_options(self.kind .. ".apply_gradients", opts, APPLY_OPTS)
    return self:_apply_all(grads_and_vars, ".apply_gradients", opts.global_step, nil)
  end

  function Optimizer:_apply_all(grads_and_vars, what, gs_opt, gs_default)
    if type(grads_and_vars) ~= "table" then
      I.raise(self.kind .. ".apply_gradients: expected { {grad, var}, ... }")
    end
    local ops, graph = {}, nil
    for i, gv in ipairs(grads_and_vars) do
      local g, v = gv[1], gv[2]
      if not is_node(v) or v.op ~= "variable" then
        I.raise(("%s.apply_gradients: entry %d has no variable"):format(self.kind, i))
      end
      graph = graph or v.graph
      if g ~= nil then
        if not is_node(g) then
          I.raise(("%s.apply_gradients: the gradient of '%s' is not a node"):format(self.kind, v.name))
        end
        ops[#ops + 1] = self:_apply(g, v)
      end
    end
    if #ops == 0 then
      I.raise(self.kind .. ": no variable has a gradient (does the loss depend on the variables?)")
    end
    -- the step also updates the moving statistics of the batch normalization
    -- layers the gradients depend on (no UPDATE_OPS to collect by hand)
    for _, u in ipairs(I.layer_updates(graph, grads_and_vars)) do ops[#ops + 1] = u end
    local gs = step_option(self.kind .. what, gs_opt, graph, gs_default)
    if gs then
      ops[#ops + 1] = increment(gs, self.kind .. "/increment_global_step", { self.learning_rate })
    end
    return core.node(graph, "group", self.kind, nil, table.unpack(ops))
  end

  local MINIMIZE_OPTS = { global_step = true, var_list = true }
  --- minimize(loss [, var_list] [, {global_step=, var_list=}]): compute_gradients
  -- then apply_gradients. The graph's global step (when made before) is
  -- incremented unless global_step = false; another scalar variable can be given.
  function Optimizer:minimize(loss, var_list, opts)
    check_self(self, "minimize")
    if opts == nil and type(var_list) == "table" and not is_node(var_list) and var_list[1] == nil
      and next(var_list) ~= nil then
      var_list, opts = nil, var_list
    end
    opts = check_options(self.kind .. ".minimize", opts, MINIMIZE_OPTS)
    var_list = var_list or opts.var_list
    local gv = self:compute_gradients(loss, var_list)
    local default = is_node(loss) and train.get_global_step(loss.graph) or nil
    return self:_apply_all(gv, ".minimize", opts.global_step, default or false)
  end

  -- (lr, opts) or ({learning_rate=, ...}): the learning rate and the options,
  -- whose keys are checked against the list `known` (learning_rate besides).
  local function opts_of(kind, lr, opts, known)
    if type(lr) == "table" and not is_node(lr) then opts, lr = lr, lr.learning_rate end
    opts = opts or {}
    if type(opts) ~= "table" then error(kind .. ": options must be a table", 3) end
    known = I.keys(known or {})
    known.learning_rate = true
    check_options(kind, opts, known, 3)
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
    opts = check_options("MomentumOptimizer", opts,
      { learning_rate = true, momentum = true, use_nesterov = true })
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
    lr, opts = opts_of("AdamOptimizer", lr, opts, { "beta1", "beta2", "epsilon" })
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
    lr, opts = opts_of("RMSPropOptimizer", lr, opts, { "decay", "momentum", "epsilon" })
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
    lr, opts = opts_of("AdagradOptimizer", lr, opts, { "initial_accumulator_value" })
    local o = new_optimizer("Adagrad", lr,
      { initial_accumulator_value = opts.initial_accumulator_value or 0.1 })
    o.slot_name = "Adagrad"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { self.initial_accumulator_value })
      return core.node(v.graph, "apply_adagrad", self:_update_name(v), nil, v, s[1], g, self:_lr(v))
    end
    return o
  end

  local ADAMW_OPTS = { learning_rate = true, weight_decay = true, beta1 = true, beta2 = true,
                       epsilon = true, decay_var_list = true }

  -- v, a number >= 0 and below `below` (nil: finite)
  local function number_opt(what, name, v, below)
    if type(v) ~= "number" or not (v >= 0 and v < (below or math.huge)) then
      error(("%s: %s must be a number %s, got %s"):format(what, name,
        below and ("in [0, " .. below .. ")") or ">= 0", tostring(v)), 3)
    end
    return v
  end

  --- AdamWOptimizer{learning_rate=0.001, weight_decay=0.01, beta1=0.9, beta2=0.999,
  --   epsilon=1e-8, decay_var_list=}: Adam with decoupled weight decay, step for
  -- step torch.optim.AdamW's (Loshchilov & Hutter):
  --   t += 1; m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
  --   var = var (1 - lr weight_decay) - lr / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
  -- The decay is scaled by the learning rate (and so follows a schedule), as in
  -- PyTorch; tf.contrib's AdamWOptimizer subtracts weight_decay var unscaled (its
  -- weight_decay = ours times lr). decay_var_list: the variables decayed (default
  -- every one). Slots "<var>/AdamW" (m), "<var>/AdamW_1" (v), "<var>/AdamW_2" (t).
  function train.AdamWOptimizer(lr, opts)
    local what = "AdamWOptimizer"
    if type(lr) == "table" and not is_node(lr) then
      if opts ~= nil then error("AdamWOptimizer: give the options as one table", 2) end
      opts = check_options(what, lr, ADAMW_OPTS)
      lr = opts.learning_rate
    else
      opts = check_options(what, opts, ADAMW_OPTS)
      if opts.learning_rate ~= nil then
        error("AdamWOptimizer: learning_rate given twice (argument and option)", 2)
      end
    end
    local decay_set
    if opts.decay_var_list ~= nil then
      if type(opts.decay_var_list) ~= "table" or is_node(opts.decay_var_list) then
        error("AdamWOptimizer: decay_var_list must be an array of variables", 2)
      end
      decay_set = {}
      for i, v in ipairs(opts.decay_var_list) do
        if not (is_node(v) and v.op == "variable") then
          error(("AdamWOptimizer: decay_var_list[%d] is not a variable"):format(i), 2)
        end
        decay_set[v] = true
      end
    end
    local o = new_optimizer("AdamW", lr or 0.001, {
      weight_decay = number_opt(what, "weight_decay", opts.weight_decay or 0.01),
      beta1 = number_opt(what, "beta1", opts.beta1 or 0.9, 1),
      beta2 = number_opt(what, "beta2", opts.beta2 or 0.999, 1),
      epsilon = number_opt(what, "epsilon", opts.epsilon or 1e-8),
      decay_set = decay_set })
    o.slot_name = "AdamW"
    function o._apply(self, g, v)
      local s = self:_get_slots(v, { 0, 0, "step" })
      local m, sq, t = s[1], s[2], s[3]
      local graph, dtype = v.graph, v.dtype
      local b1, b2 = self.beta1, self.beta2
      local lr64 = self.learning_rate -- a number or a node (of v's graph), in float64
      if is_node(lr64) then
        lr64 = self:_lr(v)
        if lr64.dtype ~= "float64" then lr64 = ts.cast(lr64, "float64") end
      end
      local t1 = t + 1
      local step_size = lr64 / (1 - ts.pow(b1, t1))
      local bc2_sqrt = ts.sqrt(1 - ts.pow(b2, t1))
      local function as_var(x) return dtype == "float64" and x or ts.cast(x, dtype) end
      -- the new values, in torch's order of operations
      local m1 = m * b1 + g * (1 - b1)
      local sq1 = sq * b2 + g * g * (1 - b2)
      local denom = ts.sqrt(sq1) / as_var(bc2_sqrt) + self.epsilon
      local w = v
      if self.weight_decay ~= 0 and (not self.decay_set or self.decay_set[v]) then
        local keep = 1 - lr64 * self.weight_decay
        w = v * (type(keep) == "number" and keep or as_var(keep))
      end
      local v1 = w - m1 / denom * as_var(step_size)
      -- stored by x -= 1 (x - new): exactly new when x and new are within a factor 2
      local one = ts.constant(1, { graph = graph, dtype = "float64" })
      local name = self:_update_name(v)
      local function store(x, new, suffix)
        return core.node(graph, "apply_gradient_descent", name .. suffix, nil, x, x - new, one)
      end
      return core.node(graph, "group", name, nil, store(m, m1, "/m"), store(sq, sq1, "/v"),
        store(t, t1, "/t"), store(v, v1, "/var"))
    end
    return o
  end

  ------------------------------------------------------------ regularizers

  local regularizers = {}
  ts.regularizers = regularizers
  -- graph -> { loss nodes } (weak: dies with the graph)
  local reg_losses = setmetatable({}, { __mode = "k" })

  local function scale_arg(what, scale)
    if type(scale) ~= "number" or scale ~= scale or scale < 0 or scale == math.huge then
      error(("regularizers.%s: scale must be a finite number >= 0, got %s"):format(what,
        tostring(scale)), 3)
    end
    return scale
  end

  --- regularizers.l2(scale): function(w) -> scale sum(w^2) / 2 (= scale ts.nn.l2_loss(w),
  -- TF1's tf.contrib.layers.l2_regularizer; Keras's l2(l) is l sum(w^2), so l2(2 l)).
  -- scale 0 regularizes nothing (the function returns nil).
  function regularizers.l2(scale)
    scale = scale_arg("l2", scale)
    return function(w)
      if scale == 0 then return nil end
      return ts.l2_loss(w) * scale
    end
  end

  --- regularizers.l1(scale): function(w) -> scale sum(|w|).
  function regularizers.l1(scale)
    scale = scale_arg("l1", scale)
    return function(w)
      if scale == 0 then return nil end
      return ts.reduce_sum(ts.abs(w)) * scale
    end
  end

  --- I.add_regularizer(what, var, reg, level): adds reg(var) (a scalar node, or
  -- nil: nothing) to var's graph's regularization losses; errors name `what`.
  function I.add_regularizer(what, var, reg, level)
    level = (level or 2) + 1
    if type(reg) ~= "function" then
      error(("%s: the regularizer must be a function of the variable (e.g. ts.regularizers.l2(1e-4)), "
        .. "got %s"):format(what, type(reg)), level)
    end
    local loss = reg(var)
    if loss == nil then return nil end
    local s = is_node(loss) and loss.shape
    if not is_node(loss) or loss.graph ~= var.graph or (s and #s > 0) then
      error(("%s: the regularizer of '%s' must return a scalar node of its graph (or nil), got %s")
        :format(what, var.name, is_node(loss) and ("'%s' of shape [%s]"):format(loss.name,
          table.concat(s or {}, ", ")) or type(loss)), level)
    end
    local list = reg_losses[var.graph] or {}
    reg_losses[var.graph] = list
    list[#list + 1] = loss
    return loss
  end

  local losses = {}
  ts.losses = losses

  --- losses.get_regularization_losses([graph]): the regularization loss nodes (layers'
  -- kernel_regularizer, get_variable's regularizer), in the order they were made.
  function losses.get_regularization_losses(graph)
    graph = graph_arg("losses.get_regularization_losses", graph)
    local r = {}
    for i, l in ipairs(reg_losses[graph] or {}) do r[i] = l end
    return r
  end

  --- losses.get_regularization_loss([graph]): their sum (in the first one's dtype),
  -- or the number 0 when there is none (so loss + it works for any loss dtype).
  function losses.get_regularization_loss(graph)
    graph = graph_arg("losses.get_regularization_loss", graph)
    local list = reg_losses[graph]
    if not list or #list == 0 then return 0 end
    local total = list[1]
    for i = 2, #list do
      local l = list[i]
      total = total + (l.dtype == total.dtype and l or ts.cast(l, total.dtype))
    end
    return total
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
  local INIT_OPTS = { zeros = {}, ones = {}, constant = { "value" },
    random_normal = { "mean", "stddev" }, truncated_normal = { "mean", "stddev" },
    random_uniform = { "minval", "maxval" }, variance_scaling = { "scale", "mode", "distribution" } }
  for name, make in pairs(makers) do
    local known = I.keys(INIT_OPTS[name] or {})
    known.dtype = true
    local function initializer(opts)
      check_options("initializers." .. name, opts, known, 3)
      return function(shape, more)
        check_options("initializers." .. name, more, known)
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
