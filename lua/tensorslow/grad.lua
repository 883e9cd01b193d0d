-- Symbolic gradients (ts.gradients, ts.RegisterGradient, ts.Operation,
-- ts.test.gradcheck).
-- Reverse mode builds new nodes in the same graph, so a gradient is itself a
-- graph that can be differentiated again. Every gradient below is written
-- with graph ops only; shapes may be unknown at build time: the helper ops of
-- src/ops_train.c (reduce_sum_like, broadcast_like, reshape_like, slice_like,
-- pad_like, tile_like) take their output shape from a "like" input at run time.
-- Loaded by tensorslow/init.lua as require("tensorslow.grad")(ts).
return function(ts)
  local core = ts.core
  local is_node, is_tensor = ts.is_node, ts.is_tensor

  local registry = {}                               -- op type -> gradient function | false
  local by_user = {}                                -- op types given by ts.RegisterGradient
  local per_node = setmetatable({}, { __mode = "k" }) -- custom op node -> gradient function
  local needed                                      -- inputs the current op needs (array of booleans)

  local function attrs_of(op) return ts._node_attrs[op] or {} end
  local function need(i) return needed == nil or needed[i] end
  local function node(op_name, attrs, ...)
    local first = ...
    local n = core.node(first.graph, op_name, nil, attrs, ...)
    if attrs then ts._node_attrs[n] = attrs end
    return n
  end

  --- RegisterGradient(op_type, function(op, grad) return {grad_input1, ...} end)
  -- defines or replaces the gradient of an op type; false marks it as not
  -- differentiable (its inputs get no gradient through it).
  function ts.RegisterGradient(op_type, f)
    if type(op_type) ~= "string" then error("RegisterGradient: op_type must be a string", 2) end
    if f ~= false and type(f) ~= "function" then
      error("RegisterGradient: expected a function (or false) for '" .. op_type .. "'", 2)
    end
    registry[op_type] = f
    by_user[op_type] = true
  end
  local function reg(names, f)
    for name in names:gmatch("[%w_]+") do registry[name] = f end
  end

  ------------------------------------------------------------ helpers

  local function same_known_shape(a, b)
    local sa, sb = a.shape, b.shape
    if not sa or not sb or #sa ~= #sb then return false end
    for i = 1, #sa do
      if sa[i] < 0 or sa[i] ~= sb[i] then return false end
    end
    return true
  end

  -- g summed back to x's shape (undoes broadcasting).
  local function sum_like(g, x)
    if g == nil then return nil end
    if same_known_shape(g, x) then return g end
    return node("reduce_sum_like", nil, g, x)
  end
  local function broadcast_like(g, x, at)
    return node("broadcast_like", at, g, x)
  end
  -- Attributes of a reduction as broadcast_like reads them.
  local function red_attrs(op, mean)
    local at = attrs_of(op)
    return { axis = at.axis, keepdims = at.keepdims, i1 = mean and 1 or nil }
  end
  local function one_minus(y) return ts.subtract(1, y) end
  local function step(x) return ts.sign(ts.relu(x)) end -- 1 where x > 0, else 0

  local function unary(names, f)
    reg(names, function(op, g) return { f(op.inputs[1], op, g, attrs_of(op)) } end)
  end
  local function binary(names, fa, fb)
    reg(names, function(op, g)
      local a, b = op.inputs[1], op.inputs[2]
      return { need(1) and sum_like(fa(a, b, op, g), a) or nil,
               need(2) and sum_like(fb(a, b, op, g), b) or nil }
    end)
  end

  ------------------------------------------------------------ element-wise

  binary("add", function(_, _, _, g) return g end, function(_, _, _, g) return g end)
  binary("subtract", function(_, _, _, g) return g end, function(_, _, _, g) return -g end)
  binary("multiply", function(_, b, _, g) return g * b end, function(a, _, _, g) return g * a end)
  binary("divide", function(_, b, _, g) return g / b end,
    function(a, b, _, g) return -(g * a) / (b * b) end)
  binary("pow", function(a, b, _, g) return g * b * ts.pow(a, b - 1) end,
    function(a, _, y, g) return g * y * ts.log(a) end)
  binary("squared_difference", function(a, b, _, g) return g * (a - b) * 2 end,
    function(a, b, _, g) return -(g * (a - b) * 2) end)
  -- 1 where a wins, 0 where b wins, 1/2 each at a tie.
  local function wins(a, b) return (ts.sign(a - b) + 1) * 0.5 end
  binary("maximum", function(a, b, _, g) return g * wins(a, b) end,
    function(a, b, _, g) return g * wins(b, a) end)
  binary("minimum", function(a, b, _, g) return g * wins(b, a) end,
    function(a, b, _, g) return g * wins(a, b) end)

  unary("negative", function(_, _, g) return -g end)
  unary("identity", function(_, _, g) return g end)
  unary("abs", function(x, _, g) return g * ts.sign(x) end)
  unary("exp", function(_, y, g) return g * y end)
  unary("log", function(x, _, g) return g / x end)
  unary("log1p", function(x, _, g) return g / (x + 1) end)
  unary("sqrt", function(_, y, g) return g / (y * 2) end)
  unary("rsqrt", function(_, y, g) return g * y * y * y * -0.5 end)
  unary("square", function(x, _, g) return g * x * 2 end)
  unary("reciprocal", function(_, y, g) return -(g * y * y) end)
  unary("sin", function(x, _, g) return g * ts.cos(x) end)
  unary("cos", function(x, _, g) return -(g * ts.sin(x)) end)
  -- 1 - y^2 and y (1 - y) would cancel to 0 where y rounds to +-1 or 1 (from
  -- |x| = 9 in float32): 1 - tanh(x)^2 = 4 sigmoid(2x) sigmoid(-2x) instead.
  unary("tanh", function(x, _, g)
    local x2 = x * 2
    return g * ts.sigmoid(x2) * ts.sigmoid(-x2) * 4
  end)
  unary("sigmoid", function(x, y, g) return g * y * ts.sigmoid(-x) end)
  unary("relu", function(_, y, g) return g * ts.sign(y) end)
  unary("leaky_relu", function(x, _, g, at)
    local alpha = at.f1 or at.alpha or 0.2
    return g * (step(x) * (1 - alpha) + alpha)
  end)
  -- alpha expm1(x) below 0: the derivative alpha exp(x) (not y + alpha,
  -- which cancels to 0 far below 0)
  unary("elu", function(x, _, g, at)
    local s = step(x)
    return g * (s + one_minus(s) * ts.exp(ts.minimum(x, 0)) * (at.f1 or 1))
  end)
  unary("softplus", function(x, _, g) return g * ts.sigmoid(x) end)
  -- gelu(x) = x Phi(x) (exact form): the derivative is Phi(x) + x phi(x).
  -- There is no erf op, so Phi(x) is taken as gelu(x) / x (1/2 at x == 0), of
  -- x clamped to +-40 (Phi is 0 or 1 beyond) so that +-inf give 1 and 0.
  unary("gelu", function(x, _, g)
    local xc = ts.maximum(ts.minimum(x, 40), -40)
    local at_zero = one_minus(ts.sign(ts.abs(xc)))
    local cdf = ts.gelu(xc) / (xc + at_zero) + at_zero * 0.5
    local pdf = ts.exp(xc * xc * -0.5) * (1 / math.sqrt(2 * math.pi))
    return g * (cdf + xc * pdf)
  end)

  -- where(cond, a, b): cond gets none
  reg("where", function(op, g)
    local cond, a, b = op.inputs[1], op.inputs[2], op.inputs[3]
    local z = ts.zeros_like(g)
    return { nil, need(2) and sum_like(ts.where(cond, g, z), a) or nil,
             need(3) and sum_like(ts.where(cond, z, g), b) or nil }
  end)

  ------------------------------------------------------------ linear algebra

  local function mm(a, b, ta, tb)
    return ts.matmul(a, b, (ta or tb) and { transpose_a = ta or nil, transpose_b = tb or nil } or nil)
  end
  local function outer(u, v) return ts.expand_dims(u, -1) * ts.expand_dims(v, 1) end
  reg("matmul", function(op, g)
    local a, b = op.inputs[1], op.inputs[2]
    local at = attrs_of(op)
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
  end)

  ------------------------------------------------------------ reductions

  reg("reduce_sum", function(op, g) return { broadcast_like(g, op.inputs[1], red_attrs(op)) } end)
  reg("reduce_mean", function(op, g)
    return { broadcast_like(g, op.inputs[1], red_attrs(op, true)) }
  end)
  -- A reduction with a reduction's attributes as they are (nil axis: every
  -- axis, {}: none), not through ts.reduce_*'s argument forms.
  local function reduce(name, x, axis, keepdims)
    return node(name, { axis = axis, keepdims = keepdims or nil }, x)
  end
  -- g shared equally among the elements equal to the extreme (as PyTorch's
  -- amax/amin); a NaN extreme gives NaN.
  local function extreme(op, g)
    local x, at = op.inputs[1], red_attrs(op)
    local y = broadcast_like(op, x, at)
    local mask = ts.cast(ts.equal(x, y), x.dtype) -- none at a NaN: 0/0 below
    local a = attrs_of(op)
    local count = reduce("reduce_sum", mask, a.axis, a.keepdims)
    return { mask * broadcast_like(g / count, x, at) }
  end
  reg("reduce_max reduce_min", extreme)
  -- d prod / d x_i = the product of the others: y / x_i where x_i ~= 0. At a
  -- zero: P, the product of the non-zeros, if it is the only zero; with two,
  -- P (s - x_i), s the sum of the zeros: 0, with the right derivative (P)
  -- with respect to the other zero; with more, 0.
  reg("reduce_prod", function(op, g)
    local x, at, a = op.inputs[1], red_attrs(op), attrs_of(op)
    local function red(name, v) return broadcast_like(reduce(name, v, a.axis, a.keepdims), x, at) end
    local zero = ts.equal(x, 0)
    local nz = ts.where(zero, 1, x)
    local zeros, p = red("reduce_sum", ts.cast(zero, x.dtype)), red("reduce_prod", nz)
    local s = red("reduce_sum", ts.where(zero, x, 0))
    local at_zero = ts.where(ts.equal(zeros, 1), p, ts.where(ts.equal(zeros, 2), p * (s - x), 0))
    local d = ts.where(zero, at_zero, broadcast_like(op, x, at) / nz)
    return { d * broadcast_like(g, x, at) }
  end)
  reg("reduce_logsumexp", function(op, g)
    local x, at = op.inputs[1], red_attrs(op)
    return { broadcast_like(g, x, at) * ts.exp(x - broadcast_like(op, x, at)) }
  end)

  ------------------------------------------------------------ shapes

  reg("reshape squeeze expand_dims", function(op, g)
    return { node("reshape_like", nil, g, op.inputs[1]) }
  end)
  reg("transpose", function(op, g)
    local perm = attrs_of(op).v1
    if not perm then return { ts.transpose(g) } end
    local inv = {}
    for i = 1, #perm do inv[perm[i] + 1] = i end
    return { ts.transpose(g, inv) }
  end)
  -- tile_like keeps the multiples (v1) for its own gradient
  reg("tile", function(op, g) return { node("tile_like", { v1 = attrs_of(op).v1 }, g, op.inputs[1]) } end)
  reg("tile_like", function(op, g)
    local m = attrs_of(op).v1
    if not m then error("gradient of tile_like: the multiples are not known", 0) end
    return { need(1) and ts.tile(g, m) or nil }
  end)
  reg("slice", function(op, g)
    return { node("pad_like", { v1 = attrs_of(op).v1 }, g, op.inputs[1]) }
  end)
  reg("pad", function(op, g)
    return { node("slice_like", { v1 = attrs_of(op).v1 }, g, op.inputs[1]) }
  end)
  -- concat: each input's part of g, its offset taken from the inputs' run-time shapes
  reg("concat", function(op, g)
    local xs, axis = op.inputs, attrs_of(op).axis or 1
    local out = {}
    for k in ipairs(xs) do
      out[k] = need(k) and node("concat_part", { i1 = k, axis = axis }, g, table.unpack(xs)) or nil
    end
    return out
  end)
  reg("concat_part", function(op, g)
    if not need(1) then return {} end
    local at, parts = attrs_of(op), {}
    for j = 2, #op.inputs do
      parts[j - 1] = j - 1 == at.i1 and g or ts.zeros_like(op.inputs[j])
    end
    return { ts.concat(parts, at.axis) }
  end)
  reg("stack", function(op, g)
    local axis = attrs_of(op).axis or 1
    local out = {}
    for k, x in ipairs(op.inputs) do
      out[k] = need(k) and node("reshape_like", nil, ts.gather(g, { k }, axis), x) or nil
    end
    return out
  end)
  reg("gather", function(op, g)
    local x, idx = op.inputs[1], op.inputs[2]
    return { node("gather_like", { axis = attrs_of(op).axis }, g, idx, x) }
  end)
  reg("gather_like", function(op, g)
    return { need(1) and ts.gather(g, op.inputs[2], attrs_of(op).axis) or nil }
  end)
  reg("cast", function(op, g)
    local x = op.inputs[1]
    local float = { float32 = true, float64 = true }
    if not float[x.dtype] or not float[op.dtype] then return {} end
    return { x.dtype == g.dtype and g or ts.cast(g, x.dtype) }
  end)

  ------------------------------------------------------------ neural networks

  local function last_axis(op) return attrs_of(op).axis or -1 end
  reg("softmax", function(op, g)
    local y, axis = op, last_axis(op)
    return { y * (g - ts.reduce_sum(g * y, axis, true)) }
  end)
  reg("log_softmax", function(op, g)
    local axis = last_axis(op)
    return { g - ts.exp(op) * ts.reduce_sum(g, axis, true) }
  end)
  reg("softmax_cross_entropy_with_logits", function(op, g)
    local labels, logits = op.inputs[1], op.inputs[2]
    local ge = ts.expand_dims(g, -1)
    -- d/dlogits = sum(labels) softmax - labels: labels need not sum to 1
    local total = need(2) and reduce("reduce_sum", labels, -1, true)
    return { need(1) and ge * -ts.log_softmax(logits) or nil,
             need(2) and ge * (total * ts.softmax(logits) - labels) or nil }
  end)
  reg("sparse_softmax_cross_entropy_with_logits", function(op, g)
    local labels, logits = op.inputs[1], op.inputs[2]
    -- the class count comes from the logits at run time
    local hot = node("one_hot_like", nil, labels, logits)
    return { nil, ts.expand_dims(g, -1) * (ts.softmax(logits) - hot) }
  end)
  reg("sigmoid_cross_entropy_with_logits", function(op, g)
    local z, x = op.inputs[1], op.inputs[2]
    return { need(1) and sum_like(g * -x, z) or nil,
             need(2) and sum_like(g * (ts.sigmoid(x) - z), x) or nil }
  end)
  reg("mean_squared_error", function(op, g)
    local l, p = op.inputs[1], op.inputs[2]
    local diff = p - l
    local d = broadcast_like(g, diff, { i1 = 1 }) * diff * 2
    return { need(1) and sum_like(-d, l) or nil, need(2) and sum_like(d, p) or nil }
  end)
  reg("l2_loss", function(op, g) return { g * op.inputs[1] } end)
  reg("dropout", function(op, g)
    -- the kept-and-scaled mask is y / x (x == 0 gives 0: no mask is known there)
    local x = op.inputs[1]
    local zero = one_minus(ts.sign(ts.abs(x)))
    return { g * op / (x + zero) }
  end)
  reg("bias_add", function(op, g)
    return { g, need(2) and sum_like(g, op.inputs[2]) or nil }
  end)

  ------------------------------------------------------------ the helpers' own

  -- The "like" input (the second) of these gets no gradient.
  reg("reduce_sum_like", function(op, g)
    return { need(1) and broadcast_like(g, op.inputs[1], { i1 = attrs_of(op).i1 }) or nil }
  end)
  reg("broadcast_like", function(op, g)
    if not need(1) then return {} end
    local x, at = op.inputs[1], attrs_of(op)
    if at.axis ~= nil and not at.keepdims then
      return { reduce(at.i1 and "reduce_mean" or "reduce_sum", g, at.axis) }
    end
    return { node("reduce_sum_like", { i1 = at.i1 }, g, x) }
  end)
  reg("ensure_shape_like", function(_, g) return { g } end)
  reg("reshape_like", function(op, g)
    return { need(1) and node("reshape_like", nil, g, op.inputs[1]) or nil }
  end)
  reg("slice_like", function(op, g)
    return { need(1) and node("pad_like", { v1 = attrs_of(op).v1 }, g, op.inputs[1]) or nil }
  end)
  reg("pad_like", function(op, g)
    return { need(1) and node("slice_like", { v1 = attrs_of(op).v1 }, g, op.inputs[1]) or nil }
  end)

  -- Ops through which nothing flows.
  reg([[equal not_equal less less_equal greater greater_equal logical_and logical_or
        logical_not argmax argmin one_hot one_hot_like stop_gradient zeros_like ones_like sign
        group apply_gradient_descent apply_momentum apply_adam apply_rmsprop apply_adagrad]],
    false)

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
            local saved = needed
            needed = want
            local ok, gs = pcall(f, n, g)
            needed = saved
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
  function ts.gradients(ys, xs, grad_ys)
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
  function ts.Operation(spec)
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

  ts.test = ts.test or {}

  -- A value as {shape, flat array of numbers} in float64.
  local function flat(v)
    local t = is_tensor(v) and v:cast("float64") or ts.tensor(v, "float64")
    return { shape = t.shape, data = t:reshape({ t:numel() }):totable() }
  end
  local function unflat(f) return ts.tensor(f.data, "float64"):reshape(f.shape) end

  --- test.gradcheck(f, inputs [, {eps=1e-6, tol=1e-6}]): compares ts.gradients
  -- with central differences in float64. f is a function of placeholder nodes
  -- (one per entry of inputs, a tensor or nested table) returning a node;
  -- or f is a node and inputs maps placeholders or variables to values.
  -- The output is weighted by fixed random numbers and summed. Returns
  -- true, max_error or false, message.
  function ts.test.gradcheck(f, inputs, opts)
    opts = opts or {}
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
      for i, k in ipairs(keys) do
        if k.op == "placeholder" then fd[k] = unflat(values[i]) else k:assign(unflat(values[i])) end
      end
      return fd
    end
    local y0 = sess:run(y, feeds())
    if y0.dtype ~= "float64" then error("gradcheck: the output must be float64, got " .. y0.dtype, 2) end
    local w = ts.rand(y0.shape, "float64") + 0.5
    local loss = node("reduce_sum_like", nil, y * w, ts.constant(0, { graph = graph, dtype = "float64" }))
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
end
