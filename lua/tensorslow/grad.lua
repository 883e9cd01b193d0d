-- The gradient machinery: ts.gradients, ts.RegisterGradient, ts.Operation,
-- ts.test.gradcheck. Each op's gradient is declared beside the op (I.op in
-- math.lua, shape.lua, nn.lua, conv.lua, train.lua) into I.grads.
-- Reverse mode builds new nodes in the same graph, so a gradient is itself a
-- graph that can be differentiated again.
-- Loaded on first use by tensorslow/init.lua as require("tensorslow.grad")(ts, I);
-- returns the functions init.lua's stubs call.
return function(ts, I)
  local core = I.core
  local is_node, is_tensor = I.is_node, I.is_tensor
  local registry = I.grads                          -- op type -> gradient function | false
  local by_user = {}                                -- op types given by ts.RegisterGradient
  local per_node = setmetatable({}, { __mode = "k" }) -- custom op node -> gradient function
  local same_known_shape, broadcast_like = I.same_known_shape, I.broadcast_like
  local G = {}

  --- RegisterGradient(op_type, function(op, grad) return {grad_input1, ...} end)
  -- defines or replaces the gradient of an op type; false marks it as not
  -- differentiable (its inputs get no gradient through it).
  function G.RegisterGradient(op_type, f)
    if type(op_type) ~= "string" then error("RegisterGradient: op_type must be a string", 2) end
    if f ~= false and type(f) ~= "function" then
      error("RegisterGradient: expected a function (or false) for '" .. op_type .. "'", 2)
    end
    registry[op_type] = f
    by_user[op_type] = true
  end

  ------------------------------------------------------------ ts.gradients

  local function shape_str(s)
    if not s then return "<unknown>" end
    local parts = {}
    for i = 1, #s do parts[i] = s[i] < 0 and "?" or tostring(s[i]) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local function fully_known(s)
    if not s then return false end
    for i = 1, #s do if s[i] < 0 then return false end end
    return true
  end

  -- A user-written gradient gi of node n's input i (x) must have x's dtype and
  -- shape: checked now when both shapes are known, else by an
  -- ensure_shape_like node at run time (built-in gradients are trusted).
  local function checked(gi, n, i, x)
    local what = ("the gradient of '%s' (op %s) for input %d"):format(n.name, n.op, i)
    if gi.dtype ~= x.dtype then
      error(("gradients: %s has dtype %s, the input %s"):format(what, gi.dtype, x.dtype), 0)
    end
    if same_known_shape(gi, x) then return gi end
    if fully_known(gi.shape) and fully_known(x.shape) then
      error(("gradients: %s has shape %s, the input %s"):format(
        what, shape_str(gi.shape), shape_str(x.shape)), 0)
    end
    return core.node(gi.graph, "ensure_shape_like",
      ("gradients/%s/shape_of_input_%d"):format(n.name, i), nil, gi, x)
  end

  local float = { float32 = true, float64 = true }

  local function as_list(v, what)
    if is_node(v) then return { v } end
    if type(v) ~= "table" then
      error(("gradients: %s must be a node or an array of nodes"):format(what), 3)
    end
    for i = 1, #v do
      if not is_node(v[i]) then
        error(("gradients: %s[%d] is not a node (got %s)"):format(what, i, type(v[i])), 3)
      end
    end
    return v
  end

  -- Sum of a list of contributions (nil if none).
  local function add_all(list)
    if not list then return nil end
    local s = list[1]
    for i = 2, #list do s = ts.add(s, list[i]) end
    return s
  end

  local function build_gradients(ys, xs, grad_ys)
    local ylist = as_list(ys, "ys")
    local xlist = as_list(xs, "xs")
    if #ylist == 0 then error("gradients: ys is empty", 2) end
    if is_node(grad_ys) or is_tensor(grad_ys) then grad_ys = { grad_ys } end
    local graph = ylist[1].graph
    for _, v in ipairs(xlist) do
      if v.graph ~= graph then error(("gradients: '%s' belongs to another graph"):format(v.name), 2) end
    end
    local nodes = graph:nodes()
    -- ancestors of ys (iteratively); ids are a topological order
    local anc, stack = {}, {}
    for _, y in ipairs(ylist) do
      if y.graph ~= graph then error(("gradients: '%s' belongs to another graph"):format(y.name), 2) end
      stack[#stack + 1] = y
    end
    local lo = math.huge
    while #stack > 0 do
      local n = table.remove(stack)
      if not anc[n.id] then
        anc[n.id] = true
        if n.id < lo then lo = n.id end
        for _, i in ipairs(n.inputs) do
          if not anc[i.id] then stack[#stack + 1] = i end
        end
      end
    end
    -- which of them depend on an x
    local is_x, dep = {}, {}
    for _, x in ipairs(xlist) do is_x[x.id] = true end
    local hi = 0
    for id in pairs(anc) do if id > hi then hi = id end end
    local inputs_of = {}
    for id = lo, hi do
      if anc[id] then
        local d = is_x[id] or false
        local ins = nodes[id].inputs
        inputs_of[id] = ins
        for _, i in ipairs(ins) do d = d or dep[i.id] or false end
        dep[id] = d
      end
    end
    -- seed the ys
    local acc = {}
    local function contribute(id, g)
      local l = acc[id]
      if not l then l = {}; acc[id] = l end
      l[#l + 1] = g
    end
    for k, y in ipairs(ylist) do
      if dep[y.id] then
        if not float[y.dtype] then
          error(("gradients: '%s' has dtype %s; only float tensors have gradients")
            :format(y.name, y.dtype), 2)
        end
        local gy = grad_ys and grad_ys[k]
        if gy == nil then
          gy = broadcast_like(ts.constant(1, { dtype = y.dtype, graph = graph }), y)
        elseif not is_node(gy) then
          gy = ts.constant(gy, { dtype = y.dtype, graph = graph })
        end
        contribute(y.id, gy)
      end
    end
    -- reverse sweep
    local result = {}
    for id = hi, lo, -1 do
      local l = acc[id]
      if l and dep[id] then
        local g = add_all(l)
        acc[id] = { g }
        local n = nodes[id]
        local ins = inputs_of[id]
        local want, any = {}, false
        for i, x in ipairs(ins) do
          want[i] = dep[x.id] and float[x.dtype] or false
          any = any or want[i]
        end
        if any then
          local f, users = per_node[n], true
          if f == nil then f, users = registry[n.op], by_user[n.op] end
          if f == nil then
            error(("gradients: no gradient is defined for op type '%s' (node '%s'); "
              .. "use ts.RegisterGradient"):format(n.op, n.name), 2)
          end
          if f then
            local saved = I.needed
            I.needed = want
            local ok, gs = pcall(f, n, g)
            I.needed = saved
            if not ok then
              error(("gradients: building the gradient of '%s': %s"):format(n.name, tostring(gs)), 2)
            end
            if type(gs) ~= "table" or is_node(gs) then gs = { gs } end
            for i, x in ipairs(ins) do
              local gi = gs[i]
              if gi ~= nil and gi ~= false and want[i] then
                if not is_node(gi) then
                  error(("gradients: the gradient of '%s' for input %d is not a node"):format(n.name, i), 2)
                end
                if users then
                  local ok2, c = pcall(checked, gi, n, i, x)
                  if not ok2 then error(c, 2) end
                  gi = c
                end
                contribute(x.id, gi)
              end
            end
          end
        end
      end
    end
    for i, x in ipairs(xlist) do
      local l = acc[x.id]
      result[i] = l and add_all(l) or nil
    end
    result.n = #xlist
    return result
  end

  --- gradients(ys, xs [, grad_ys]): d(sum of ys)/d x for each x, as new nodes
  -- of the graph (nil for an x the ys do not depend on). grad_ys weights each y
  -- (default: ones). Nodes made on the way without a name of their own are
  -- named "gradients/<op>" (grouped by ts.dot).
  function G.gradients(ys, xs, grad_ys)
    local raw_node, raw_source = core.node, core.source
    core.node = function(g, op, name, ...) return raw_node(g, op, name or ("gradients/" .. op), ...) end
    core.source = function(g, kind, name, ...)
      return raw_source(g, kind, name or ("gradients/" .. kind), ...)
    end
    local ok, r = pcall(build_gradients, ys, xs, grad_ys)
    core.node, core.source = raw_node, raw_source
    if not ok then error(r, 2) end
    return r
  end

  ------------------------------------------------------------ custom ops

  --- Operation{type=, inputs=, compute=function(a, b, ...) return tensor end
  --   [, shape=function(shape_a, ...) return shape end] [, dtype=] [, name=]
  --   [, gradient=function(op, grad) return {grads...} end]}
  function G.Operation(spec)
    if type(spec) ~= "table" then error("Operation: expected a table", 2) end
    local typ, inputs, compute = spec.type, spec.inputs or {}, spec.compute
    if type(typ) ~= "string" then error("Operation: type must be a string", 2) end
    if type(compute) ~= "function" then error("Operation '" .. typ .. "': compute must be a function", 2) end
    if is_node(inputs) then inputs = { inputs } end
    local graph = spec.graph
    for i = 1, #inputs do
      if not is_node(inputs[i]) then
        error(("Operation '%s': input %d is not a node"):format(typ, i), 2)
      end
      graph = graph or inputs[i].graph
    end
    graph = graph or ts.get_default_graph()
    local dtype = spec.dtype or (inputs[1] and inputs[1].dtype) or "float64"
    local shape
    if type(spec.shape) == "function" then
      local shapes = {}
      for i = 1, #inputs do shapes[i] = inputs[i].shape or false end
      shape = spec.shape(table.unpack(shapes, 1, #inputs))
    elseif type(spec.shape) == "table" then
      shape = spec.shape
    end
    local n = core.custom(graph, typ, spec.name, dtype, shape, compute, table.unpack(inputs))
    if spec.gradient ~= nil then per_node[n] = spec.gradient end
    return n
  end

  ------------------------------------------------------------ gradcheck

  -- A value as {shape, flat array of numbers} in float64.
  local function flat(v)
    local t = is_tensor(v) and v:cast("float64") or ts.tensor(v, "float64")
    return { shape = t.shape, data = t:reshape({ t:numel() }):totable() }
  end
  local function unflat(f) return ts.tensor(f.data, "float64"):reshape(f.shape) end

  --- test.gradcheck(f, inputs [, {eps=1e-6, tol=1e-6, feed=}]): compares ts.gradients
  -- with central differences in float64. f is a function of placeholder nodes
  -- (one per entry of inputs, a tensor or nested table) returning a node;
  -- or f is a node and inputs maps placeholders or variables to values.
  -- feed: more placeholders fed on every run (not differentiated).
  -- The output is weighted by fixed random numbers and summed. Returns
  -- true, max_error or false, message.
  function G.gradcheck(f, inputs, opts)
    opts = I.check_options("test.gradcheck", opts, { eps = true, tol = true, feed = true })
    local eps, tol = opts.eps or 1e-6, opts.tol or 1e-6
    local graph, y, keys, values
    keys, values = {}, {}
    if is_node(f) then
      y, graph = f, f.graph
      for k in pairs(inputs) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return a.id < b.id end)
      for i, k in ipairs(keys) do values[i] = flat(inputs[k]) end
    else
      graph = ts.Graph()
      for i, v in ipairs(inputs) do
        values[i] = flat(v)
        keys[i] = ts.placeholder { graph = graph, dtype = "float64", shape = values[i].shape,
                                   name = "x" .. i }
      end
      y = f(table.unpack(keys, 1, #keys))
      if not is_node(y) then error("gradcheck: the function must return a node", 2) end
    end
    local sess <close> = ts.Session(graph)
    local function feeds()
      local fd = {}
      for k, v in pairs(opts.feed or {}) do fd[k] = v end -- fed, not checked
      for i, k in ipairs(keys) do
        if k.op == "placeholder" then fd[k] = unflat(values[i]) else k:assign(unflat(values[i])) end
      end
      return fd
    end
    local y0 = sess:run(y, feeds())
    if y0.dtype ~= "float64" then error("gradcheck: the output must be float64, got " .. y0.dtype, 2) end
    local w = ts.rand(y0.shape, "float64") + 0.5
    local loss = I.node("reduce_sum_like", nil, y * w, ts.constant(0, { graph = graph, dtype = "float64" }))
    local grads = ts.gradients(loss, keys)
    local worst, where = 0, "none"
    for i, v in ipairs(values) do
      local analytic
      if grads[i] then
        analytic = flat(sess:run(grads[i], feeds())).data
        if #analytic ~= #v.data then
          return false, ("gradcheck: the gradient of input %d has %d elements, the input %d"):format(
            i, #analytic, #v.data)
        end
      else
        analytic = {}
      end
      for j = 1, #v.data do
        local x0 = v.data[j]
        v.data[j] = x0 + eps
        local lp = sess:run(loss, feeds()):item()
        v.data[j] = x0 - eps
        local lm = sess:run(loss, feeds()):item()
        v.data[j] = x0
        local num = (lp - lm) / (2 * eps)
        local an = analytic[j] or 0
        local err = math.abs(num - an) / math.max(1, math.abs(num))
        if err > worst or err ~= err then
          worst, where = err, ("input %d element %d: analytic %.10g, numeric %.10g"):format(i, j, an, num)
        end
      end
    end
    feeds()
    if worst > tol or worst ~= worst then
      return false, ("gradcheck: error %.3g > %.3g at %s"):format(worst, tol, where)
    end
    return true, worst
  end
  return G
end
