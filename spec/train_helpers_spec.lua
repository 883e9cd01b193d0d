-- Training helpers (issue 17): the global step, learning-rate schedules (as any
-- optimizer's learning rate), clipping, AdamW against PyTorch, regularizers.
local ts = require "tensorslow"
local H = require "helpers"

local function run(g, fetch, feed)
  local sess <close> = ts.Session(g)
  return sess:run(fetch, feed or {})
end

-- loss = sum(c w^2): gradient 2 c w
local C = { 1, 3 }
local W0 = { 1, -2 }
local function setup(dtype)
  local g = ts.Graph()
  local w = ts.Variable(W0, { graph = g, name = "w", dtype = dtype })
  local c = ts.constant(C, { graph = g, dtype = dtype })
  return g, w, ts.reduce_sum(c * w * w)
end

describe("the global step", function()
  it("is an int64 scalar variable, not trainable, one per graph", function()
    local g, w = setup()
    assert.is_nil(ts.train.get_global_step(g))
    local gs = ts.train.get_or_create_global_step(g)
    assert.equal("global_step", gs.name)
    assert.equal("variable", gs.op)
    assert.equal("int64", gs.dtype)
    assert.same({}, gs.shape)
    H.tensor(gs:value(), 0, "int64")
    assert.equal(gs, ts.train.get_or_create_global_step(g))
    assert.equal(gs, ts.train.get_global_step(g))
    assert.same({ w }, ts.trainable_variables(g))
    local other = ts.Graph()
    assert.are_not.equal(gs, ts.train.get_or_create_global_step(other))
    -- the default graph's by default
    local d = ts.Graph():as_default()
    assert.equal(d, ts.train.get_or_create_global_step().graph)
  end)

  it("is incremented by minimize on every run, after the learning rate read it", function()
    local g, w, loss = setup()
    local gs = ts.train.get_or_create_global_step(g)
    local lr = ts.train.piecewise_constant(gs, { 0, 1 }, { 0.1, 0.01, 0.001 })
    local step = ts.train.GradientDescentOptimizer(lr):minimize(loss)
    local sess <close> = ts.Session(g)
    local wv = { W0[1], W0[2] }
    for k = 0, 3 do
      local r = sess:run({ gs, lr, step })
      H.tensor(r[1], k, "int64") -- fetched beside the step: the value before it
      local want = k == 0 and 0.1 or k == 1 and 0.01 or 0.001
      H.tensor(r[2], want)
      for i = 1, 2 do wv[i] = wv[i] - want * 2 * C[i] * wv[i] end
      H.tensor(w:value(), wv, "float64", 1e-15)
    end
    H.tensor(gs:value(), 4, "int64")
  end)

  it("minimize: global_step = false leaves it, another scalar variable can be given", function()
    local g, _, loss = setup()
    local gs = ts.train.get_or_create_global_step(g)
    local mine = ts.Variable(ts.tensor(10, "int64"), { graph = g, name = "my_step" })
    local opt = ts.train.GradientDescentOptimizer(0.01)
    local plain = opt:minimize(loss, { global_step = false })
    local other = opt:minimize(loss, nil, { global_step = mine })
    run(g, plain)
    H.tensor(gs:value(), 0, "int64")
    run(g, other)
    run(g, other)
    H.tensor(gs:value(), 0, "int64")
    H.tensor(mine:value(), 12, "int64")
  end)

  it("apply_gradients increments it only when given (TF1)", function()
    local g, _, loss = setup()
    local gs = ts.train.get_or_create_global_step(g)
    local opt = ts.train.MomentumOptimizer(0.01, 0.9)
    local without = opt:apply_gradients(opt:compute_gradients(loss))
    local with = opt:apply_gradients(opt:compute_gradients(loss), { global_step = gs })
    local positional = opt:apply_gradients(opt:compute_gradients(loss), gs)
    run(g, without)
    H.tensor(gs:value(), 0, "int64")
    run(g, with)
    run(g, positional)
    H.tensor(gs:value(), 2, "int64")
  end)

  it("a graph without one: minimize builds no increment", function()
    local g, _, loss = setup()
    local step = ts.train.GradientDescentOptimizer(0.1):minimize(loss)
    for _, n in ipairs(step.inputs) do assert.are_not.equal("custom", n.op) end
    assert.is_nil(ts.train.get_global_step(g))
  end)

  it("is saved and restored by the Saver", function()
    local path = os.tmpname()
    local function build()
      local g, _, loss = setup()
      local gs = ts.train.get_or_create_global_step(g)
      return g, gs, ts.train.AdamOptimizer(0.1):minimize(loss)
    end
    local g1, gs1, step1 = build()
    for _ = 1, 3 do run(g1, step1) end
    H.tensor(gs1:value(), 3, "int64")
    ts.train.Saver():save(ts.Session(g1), path)
    local g2, gs2 = build()
    ts.train.Saver():restore(ts.Session(g2), path)
    H.tensor(gs2:value(), 3, "int64")
    os.remove(path)
  end)

  it("adopts an int64 scalar variable named global_step; errors name the function", function()
    local g = ts.Graph()
    local mine = ts.Variable(ts.tensor(5, "int64"), { graph = g, name = "global_step" })
    assert.equal(mine, ts.train.get_or_create_global_step(g))
    local g2 = ts.Graph()
    ts.Variable(1.5, { graph = g2, name = "global_step" })
    H.fails(function() ts.train.get_or_create_global_step(g2) end,
      "get_or_create_global_step: the graph's node 'global_step' is a float64 variable, not an int64")
    H.fails(function() ts.train.get_or_create_global_step(42) end,
      "get_or_create_global_step: expected a graph, got number")
    local g3, w, loss = setup()
    local opt = ts.train.GradientDescentOptimizer(0.1)
    H.fails(function() opt:minimize(loss, { global_step = w }) end,
      "GradientDescent.minimize: global_step must be a scalar variable")
    H.fails(function() opt:minimize(loss, { global_stepp = true }) end,
      "GradientDescent.minimize: unknown option 'global_stepp' (options are global_step, var_list)")
    H.fails(function() opt:apply_gradients(opt:compute_gradients(loss), { step = 1 }) end,
      "GradientDescent.apply_gradients: unknown option 'step'")
    local foreign = ts.train.get_or_create_global_step(ts.Graph())
    H.fails(function() opt:minimize(loss, { global_step = foreign }) end, "belongs to another graph")
    H.fails(function() opt.minimize(loss) end, "minimize: call it as a method, opt:minimize(...)")
    assert.truthy(g3)
  end)
end)

------------------------------------------------------------------------ schedules

-- Feeds steps 0..n (int64) to f(step node) and compares with ref(step).
local function schedule_values(f, ref, n, tol)
  local g = ts.Graph()
  local step = ts.placeholder { graph = g, dtype = "int64", shape = {} }
  local lr = f(step)
  assert.equal("float64", lr.dtype)
  assert.same({}, lr.shape)
  local sess <close> = ts.Session(g)
  for k = 0, n do
    local got = sess:run(lr, { [step] = ts.tensor(k, "int64") }):item()
    H.close(ref(k), got, tol or 1e-15, "step " .. k)
    -- a number for the step: a tensor at once, the same value
    H.close(ref(k), f(k):item(), tol or 1e-15, "eager step " .. k)
  end
end

describe("learning-rate schedules", function()
  it("exponential_decay, smooth and staircase", function()
    schedule_values(function(s) return ts.train.exponential_decay(0.1, s, 4, 0.5) end,
      function(k) return 0.1 * 0.5 ^ (k / 4) end, 12)
    schedule_values(function(s) return ts.train.exponential_decay(0.1, s, 4, 0.5, { staircase = true }) end,
      function(k) return 0.1 * 0.5 ^ (k // 4) end, 12)
    -- decay_steps need not divide: floor(7 / 2.5) = 2
    H.close(0.3 * 0.9 ^ 2, ts.train.exponential_decay(0.3, 7, 2.5, 0.9, { staircase = true }):item(), 1e-15)
  end)

  it("piecewise_constant: values[i] up to and including boundaries[i]", function()
    local b, v = { 2, 5, 9 }, { 1.0, 0.5, 0.25, 0.125 }
    schedule_values(function(s) return ts.train.piecewise_constant(s, b, v) end, function(k)
      for i = 1, #b do if k <= b[i] then return v[i] end end
      return v[#v]
    end, 12, 0)
    -- a float x and fractional boundaries
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = {} }
    local p = ts.train.piecewise_constant(x, { 0.5, 1.5 }, { 3, 2, 1 })
    local sess <close> = ts.Session(g)
    for _, c in ipairs { { 0.5, 3 }, { 0.51, 2 }, { 1.5, 2 }, { 1.6, 1 }, { -7, 3 } } do
      H.tensor(sess:run(p, { [x] = c[1] }), c[2], "float64", 0)
    end
    -- no boundaries: the one value
    H.tensor(ts.train.piecewise_constant(3, {}, { 0.7 }), 0.7)
  end)

  it("polynomial_decay, with and without cycle", function()
    local lr, e, n = 0.1, 0.001, 5
    for _, power in ipairs { 1, 0.5, 2 } do
      schedule_values(function(s)
        return ts.train.polynomial_decay(lr, s, n, { end_learning_rate = e, power = power })
      end, function(k)
        local p = math.min(k, n) / n
        return (lr - e) * (1 - p) ^ power + e
      end, 12, 1e-15)
      schedule_values(function(s)
        return ts.train.polynomial_decay(lr, s, n, { end_learning_rate = e, power = power, cycle = true })
      end, function(k)
        local mult = k == 0 and 1 or math.ceil(k / n)
        local p = k / (n * mult)
        return (lr - e) * (1 - p) ^ power + e
      end, 12, 1e-15)
    end
    -- TF1's default end_learning_rate 0.0001, power 1
    H.close(0.0001, ts.train.polynomial_decay(0.1, 50, 10):item(), 1e-15)
  end)

  it("cosine_decay, with alpha and with a linear warm-up", function()
    local lr, n = 0.2, 8
    schedule_values(function(s) return ts.train.cosine_decay(lr, s, n, { alpha = 0.1 }) end, function(k)
      local c = 0.5 * (1 + math.cos(math.pi * math.min(k, n) / n))
      return lr * ((1 - 0.1) * c + 0.1)
    end, 12, 1e-15)
    local w, from = 3, 0.02
    schedule_values(function(s)
      return ts.train.cosine_decay(lr, s, n, { warmup_steps = w, warmup_from = from })
    end, function(k)
      if k < w then return from + (lr - from) * k / w end
      return lr * 0.5 * (1 + math.cos(math.pi * math.min(k - w, n) / n))
    end, 14, 1e-15)
    -- the warm-up starts at 0 by default and reaches lr at warmup_steps
    H.close(0, ts.train.cosine_decay(lr, 0, n, { warmup_steps = 4 }):item(), 0)
    H.close(lr, ts.train.cosine_decay(lr, 4, n, { warmup_steps = 4 }):item(), 1e-15)
  end)

  it("take the learning rate's dtype and a name", function()
    local g = ts.Graph()
    local gs = ts.train.get_or_create_global_step(g)
    local base = ts.constant(0.5, { graph = g, dtype = "float32" })
    local lr = ts.train.exponential_decay(base, gs, 10, 0.1, { name = "lr" })
    assert.equal("float32", lr.dtype)
    assert.equal("lr", lr.name)
    H.tensor(run(g, lr), 0.5, "float32")
  end)

  it("errors name the function and the value", function()
    local g = ts.Graph()
    local s = ts.placeholder { graph = g, dtype = "int64", shape = {} }
    H.fails(function() ts.train.exponential_decay(0.1, s, 0, 0.5) end,
      "exponential_decay: decay_steps must be a positive number, got 0")
    H.fails(function() ts.train.exponential_decay(0.1, s, 10, 0.5, { stair = true }) end,
      "exponential_decay: unknown option 'stair' (options are name, staircase)")
    H.fails(function() ts.train.exponential_decay(0.1, "now", 10, 0.5) end,
      "exponential_decay: global_step must be a number or a scalar node, got now")
    local vec = ts.placeholder { graph = g, shape = { 2 } }
    H.fails(function() ts.train.exponential_decay(0.1, vec, 10, 0.5) end,
      "exponential_decay: global_step must be a scalar, got shape [2]")
    H.fails(function() ts.train.piecewise_constant(s, { 1, 2 }, { 1, 2 }) end,
      "piecewise_constant: values must have one entry more than boundaries (2 boundaries, 2 values)")
    H.fails(function() ts.train.piecewise_constant(s, { 5, 2 }, { 1, 2, 3 }) end,
      "piecewise_constant: boundaries must increase: boundaries[2] = 2 after 5")
    H.fails(function() ts.train.piecewise_constant(s, { 1.5 }, { 1, 2 }) end,
      "piecewise_constant: boundaries[1] is 1.5, not an integer, but x is int64")
    H.fails(function() ts.train.piecewise_constant(s, { 1 }, { 1, "x" }) end,
      "piecewise_constant: values[2] must be a number, got x")
    H.fails(function() ts.train.polynomial_decay(0.1, s, -3) end,
      "polynomial_decay: decay_steps must be a positive number, got -3")
    H.fails(function() ts.train.polynomial_decay(0.1, s, 3, { power = "2" }) end,
      "polynomial_decay: power must be a number, got 2")
    H.fails(function() ts.train.cosine_decay(0.1, s, 10, { warmup_steps = -1 }) end,
      "cosine_decay: warmup_steps must be a number >= 0, got -1")
    H.fails(function() ts.train.cosine_decay(0.1, s, 10, { warmup = 5 }) end,
      "cosine_decay: unknown option 'warmup' (options are alpha, name, warmup_from, warmup_steps)")
  end)
end)

describe("a scalar node as the learning rate", function()
  -- lr_k = 0.1, 0.05, 0.02 at steps 0, 1, 2 (a schedule of the global step)
  local LR = { 0.1, 0.05, 0.02 }
  local function check(make, by_hand, tol)
    local g, w, loss = setup()
    local gs = ts.train.get_or_create_global_step(g)
    local lr = ts.train.piecewise_constant(gs, { 0, 1 }, LR)
    local opt = make(lr)
    assert.equal(lr, opt.learning_rate)
    local step = opt:minimize(loss)
    local sess <close> = ts.Session(g)
    local wv, state = { W0[1], W0[2] }, {}
    for k = 1, 3 do
      sess:run(step)
      for i = 1, 2 do wv[i] = by_hand(i, wv[i], 2 * C[i] * wv[i], LR[k], state) end
      H.tensor(w:value(), wv, "float64", tol or 1e-14)
    end
    H.tensor(gs:value(), 3, "int64")
  end

  it("GradientDescentOptimizer", function()
    check(ts.train.GradientDescentOptimizer, function(_, w, gr, lr) return w - lr * gr end)
  end)

  it("MomentumOptimizer", function()
    check(function(lr) return ts.train.MomentumOptimizer(lr, 0.9) end, function(i, w, gr, lr, s)
      s[i] = (s[i] or 0) * 0.9 + gr
      return w - lr * s[i]
    end)
  end)

  it("AdamOptimizer", function()
    check(function(lr) return ts.train.AdamOptimizer { learning_rate = lr } end, function(i, w, gr, lr, s)
      s[i] = s[i] or { m = 0, v = 0, t = 0 }
      local st = s[i]
      st.t = st.t + 1
      st.m = 0.9 * st.m + 0.1 * gr
      st.v = 0.999 * st.v + 0.001 * gr * gr
      return w - lr * math.sqrt(1 - 0.999 ^ st.t) / (1 - 0.9 ^ st.t) * st.m / (math.sqrt(st.v) + 1e-8)
    end, 1e-13)
  end)

  it("RMSPropOptimizer", function()
    check(function(lr) return ts.train.RMSPropOptimizer(lr, { momentum = 0.5 }) end, function(i, w, gr, lr, s)
      s[i] = s[i] or { ms = 1, mom = 0 }
      local st = s[i]
      st.ms = 0.9 * st.ms + 0.1 * gr * gr
      st.mom = 0.5 * st.mom + lr * gr / math.sqrt(st.ms + 1e-10)
      return w - st.mom
    end)
  end)

  it("AdagradOptimizer", function()
    check(ts.train.AdagradOptimizer, function(i, w, gr, lr, s)
      s[i] = (s[i] or 0.1) + gr * gr
      return w - lr * gr / math.sqrt(s[i])
    end)
  end)

  it("AdamWOptimizer (also against PyTorch below)", function()
    check(function(lr) return ts.train.AdamWOptimizer { learning_rate = lr, weight_decay = 0.3 } end,
      function(i, w, gr, lr, s)
        s[i] = s[i] or { m = 0, v = 0, t = 0 }
        local st = s[i]
        st.t = st.t + 1
        st.m = 0.9 * st.m + 0.1 * gr
        st.v = 0.999 * st.v + 0.001 * gr * gr
        local denom = math.sqrt(st.v) / math.sqrt(1 - 0.999 ^ st.t) + 1e-8
        return w * (1 - lr * 0.3) - lr / (1 - 0.9 ^ st.t) * st.m / denom
      end, 1e-13)
  end)

  it("float32 variables with a float64 schedule; a non-scalar node is refused", function()
    local g, w, loss = setup("float32")
    local gs = ts.train.get_or_create_global_step(g)
    local lr = ts.train.exponential_decay(0.25, gs, 1, 0.5)
    local step = ts.train.GradientDescentOptimizer(lr):minimize(loss)
    run(g, step)
    H.tensor(w:value(), { 0.5, 1 }, "float32") -- lr 0.25
    run(g, step)
    H.tensor(w:value(), { 0.5 - 0.125 * 1, 1 - 0.125 * 6 }, "float32") -- lr 0.125
    local v = ts.placeholder { graph = g, shape = { 3 } }
    for _, make in ipairs { ts.train.GradientDescentOptimizer, ts.train.AdamOptimizer,
                            ts.train.RMSPropOptimizer, ts.train.AdagradOptimizer,
                            ts.train.AdamWOptimizer,
                            function(rate) return ts.train.MomentumOptimizer(rate, 0.9) end } do
      H.fails(function() make(v) end, "Optimizer: the learning rate must be a scalar node, got '")
    end
  end)
end)

------------------------------------------------------------------------ clipping

describe("clip_by_value", function()
  it("clamps to [min, max] on tensors and nodes, NaN stays NaN", function()
    local v = { -3, -1, -0.5, 0, 0.5, 1, 4, 0 / 0 }
    local want = {}
    for i, x in ipairs(v) do want[i] = x ~= x and x or math.min(math.max(x, -1), 0.5) end
    H.each_float(function(dt, tol)
      H.both(function(t) return ts.clip_by_value(t, -1, 0.5) end, { ts.tensor(v, dt) }, want, { #v }, dt, tol)
    end)
    -- bounds broadcast against t
    H.tensor(ts.clip_by_value(ts.tensor { { 1, 5 }, { -2, 3 } }, ts.tensor { 0, 4 }, ts.tensor { 2, 4.5 }),
      { { 1, 4.5 }, { 0, 4 } })
  end)

  it("the gradient passes where min <= t <= max, ends included (TF), to the bounds elsewhere", function()
    local g = ts.Graph()
    local t = ts.placeholder { graph = g, shape = { 5 } }
    local lo = ts.placeholder { graph = g, shape = {} }
    local hi = ts.placeholder { graph = g, shape = {} }
    local y = ts.clip_by_value(t, lo, hi)
    local gr = ts.gradients(ts.reduce_sum(y * ts.constant({ 1, 2, 3, 4, 5 }, { graph = g })), { t, lo, hi })
    local r = run(g, gr, { [t] = { -2, -1, 0, 1, 2 }, [lo] = -1, [hi] = 1 })
    H.tensor(r[1], { 0, 2, 3, 4, 0 })
    H.tensor(r[2], 1)
    H.tensor(r[3], 5)
    assert(ts.test.gradcheck(function(x) return ts.clip_by_value(x, -1, 1) end,
      { { -1.7, -0.3, 0.2, 0.9, 3 } }))
  end)

  it("errors name the function and the value", function()
    H.fails(function() ts.clip_by_value(ts.tensor { 1 }, 2, 1) end,
      "clip_by_value: clip_value_min 2 is greater than clip_value_max 1")
    H.fails(function() ts.clip_by_value(ts.tensor({ 1 }, "int64"), 0, 1) end,
      "clip_by_value: t must be float32 or float64, got int64")
    H.fails(function() ts.clip_by_value("x", 0, 1) end,
      "clip_by_value: t must be a node or a tensor, got string")
    H.fails(function() ts.clip_by_value(ts.tensor { 1 }, 0, 1, { nmae = "c" }) end,
      "clip_by_value: unknown option 'nmae' (options are name)")
  end)
end)

describe("clip_by_norm", function()
  it("scales t to norm clip_norm when above, leaves it below; zero stays zero", function()
    H.each_float(function(dt, tol)
      local function clip(c) return function(t) return ts.clip_by_norm(t, c) end end
      H.both(clip(1), { ts.tensor({ 3, 4 }, dt) }, { 0.6, 0.8 }, { 2 }, dt, tol)
      H.both(clip(10), { ts.tensor({ 3, 4 }, dt) }, { 3, 4 }, { 2 }, dt, tol)
      H.both(clip(2), { ts.tensor({ 0, 0 }, dt) }, { 0, 0 }, { 2 }, dt, tol)
    end)
  end)

  it("over axes: each slice on its own", function()
    local m = { { 3, 4 }, { 0.3, 0.4 }, { 0, 0 } }
    -- rows (axis 2 reduced): norms 5, 0.5, 0
    H.tensor(ts.clip_by_norm(ts.tensor(m), 1, { axes = { 2 } }), { { 0.6, 0.8 }, { 0.3, 0.4 }, { 0, 0 } })
    -- columns: norms sqrt(9.09) and sqrt(16.16)
    local c1, c2 = math.sqrt(9 + 0.09), math.sqrt(16 + 0.16)
    H.tensor(ts.clip_by_norm(ts.tensor(m), 2, { axes = -2 }),
      { { 6 / c1, 8 / c2 }, { 0.6 / c1, 0.8 / c2 }, { 0, 0 } })
  end)

  it("gradients as TF's composition, finite at a zero norm", function()
    assert(ts.test.gradcheck(function(x) return ts.clip_by_norm(x, 1) end, { { 0.5, -2, 1 } }))
    assert(ts.test.gradcheck(function(x) return ts.clip_by_norm(x, 10) end, { { 0.5, -2, 1 } }))
    assert(ts.test.gradcheck(function(x) return ts.clip_by_norm(x, 1, { axes = 1 }) end,
      { { { 0.5, 0.1 }, { -2, 0.2 } } }))
    local g = ts.Graph()
    local t = ts.placeholder { graph = g, shape = { 2 } }
    local gr = ts.gradients(ts.reduce_sum(ts.clip_by_norm(t, 1)), { t })
    H.tensor(run(g, gr[1], { [t] = { 0, 0 } }), { 1, 1 })
    -- above the clip: d/dt sum(t / |t|) = (1 - t sum(t) / |t|^2) / |t|
    local r = run(g, gr[1], { [t] = { 3, 4 } })
    H.tensor(r, { (1 - 3 * 7 / 25) / 5, (1 - 4 * 7 / 25) / 5 })
  end)

  it("errors name the function and the value", function()
    H.fails(function() ts.clip_by_norm(ts.tensor { 1 }, 0) end,
      "clip_by_norm: clip_norm must be positive, got 0")
    H.fails(function() ts.clip_by_norm(ts.tensor { 1 }, 1, { axes = { 3 } }) end,
      "clip_by_norm: axes[1] = 3 is not an axis of t (rank 1; axes are 1-based)")
    H.fails(function() ts.clip_by_norm(ts.tensor { 1 }, 1, { axis = 1 }) end,
      "clip_by_norm: unknown option 'axis' (options are axes, name)")
    H.fails(function() ts.clip_by_norm(ts.tensor { 1 }, ts.tensor { 1, 2 }) end,
      "clip_by_norm: clip_norm must be a scalar, got shape [2]")
  end)
end)

describe("clip_by_global_norm", function()
  it("scales every entry by clip / max(global norm, clip); nil entries stay nil", function()
    local list, norm = ts.clip_by_global_norm({ ts.tensor { 3, 4 }, nil, ts.tensor { 12 }, n = 3 }, 6.5)
    assert.equal(3, list.n)
    H.tensor(norm, 13)
    H.tensor(list[1], { 1.5, 2 })
    assert.is_nil(list[2])
    H.tensor(list[3], { 6 })
    -- below the clip: unchanged; a hole found without n
    local same, n2 = ts.clip_by_global_norm({ [1] = ts.tensor { 3, 4 }, [3] = ts.tensor { 12 } }, 20)
    assert.equal(3, same.n)
    H.tensor(n2, 13)
    H.tensor(same[1], { 3, 4 })
    H.tensor(same[3], { 12 })
  end)

  it("a zero norm leaves the list, an infinite one makes it NaN (TF1)", function()
    local z, zn = ts.clip_by_global_norm({ ts.tensor { 0, 0 }, ts.tensor { 0 } }, 1)
    H.tensor(zn, 0)
    H.tensor(z[1], { 0, 0 })
    H.tensor(z[2], { 0 })
    local inf, ninf = ts.clip_by_global_norm({ ts.tensor { 1, math.huge }, ts.tensor { 2 } }, 1)
    assert.equal(math.huge, ninf:item())
    for _, t in ipairs(inf) do
      for _, x in ipairs(t:totable()) do assert.is_true(x ~= x) end
    end
  end)

  it("on nodes, float32, with use_norm", function()
    local g = ts.Graph()
    local a = ts.placeholder { graph = g, dtype = "float32", shape = { 2 } }
    local b = ts.placeholder { graph = g, dtype = "float32", shape = {} }
    local list, norm = ts.clip_by_global_norm({ a, b }, 1)
    local r = run(g, { list[1], list[2], norm }, { [a] = ts.tensor({ 1, 2 }, "float32"),
                                                   [b] = ts.tensor(2, "float32") })
    H.tensor(r[1], { 1 / 3, 2 / 3 }, "float32", 1e-7)
    H.tensor(r[2], 2 / 3, "float32", 1e-7)
    H.tensor(r[3], 3, "float32")
    local fixed, used = ts.clip_by_global_norm({ ts.tensor { 3, 4 } }, 1, { use_norm = 10 })
    assert.equal(10, used)
    H.tensor(fixed[1], { 0.3, 0.4 })
  end)

  it("between compute_gradients and apply_gradients, on the {grad, var} pairs", function()
    local g, w, loss = setup()
    local unused = ts.Variable({ 7 }, { graph = g, name = "unused" })
    local opt = ts.train.GradientDescentOptimizer(0.1)
    local gv = opt:compute_gradients(loss, { w, unused })
    assert.is_nil(gv[2][1])
    local clipped, norm = ts.clip_by_global_norm(gv, 1)
    assert.equal(w, clipped[1][2])
    assert.equal(unused, clipped[2][2])
    assert.is_nil(clipped[2][1])
    local step = opt:apply_gradients(clipped)
    local sess <close> = ts.Session(g)
    local r = sess:run({ norm, step })
    -- gradient (2, -12), norm sqrt(148): the step is lr * gradient / norm
    local n = math.sqrt(148)
    H.tensor(r[1], n)
    H.tensor(w:value(), { 1 - 0.1 * 2 / n, -2 + 0.1 * 12 / n })
    H.tensor(unused:value(), { 7 })
  end)

  it("gradients flow through it", function()
    assert(ts.test.gradcheck(function(x, y)
      local l = ts.clip_by_global_norm({ x, y }, 1)
      return ts.reduce_sum(l[1]) + ts.reduce_sum(l[2] * l[2])
    end, { { 0.5, -2 }, { 1, 0.25 } }))
  end)

  it("errors name the function and the entry", function()
    H.fails(function() ts.clip_by_global_norm(ts.tensor { 1 }, 1) end,
      "clip_by_global_norm: expected an array of nodes or tensors (nil entries allowed), got a tensor")
    H.fails(function() ts.clip_by_global_norm({ ts.tensor { 1 }, "g" }, 1) end,
      "clip_by_global_norm: entry 2 is string, not a node or a tensor")
    H.fails(function() ts.clip_by_global_norm({ ts.tensor { 1 } }, -1) end,
      "clip_by_global_norm: clip_norm must be positive, got -1")
    H.fails(function() ts.clip_by_global_norm({ ts.tensor({ 1 }, "int64") }, 1) end,
      "clip_by_global_norm: entry 1 has dtype int64; clipping needs float32 or float64")
  end)
end)

------------------------------------------------------------------------ AdamW

describe("AdamWOptimizer", function()
  local F = dofile("spec/fixtures/adamw.lua")

  -- Replays a fixture case: loss before each step, W and b after it.
  local function replay(case, tol)
    local dt = case.dtype
    local g = ts.Graph()
    local x = ts.constant(F.x, { graph = g, dtype = dt })
    local y = ts.constant(F.y, { graph = g, dtype = dt })
    local W = ts.Variable(F.W0, { graph = g, dtype = dt, name = "W" })
    local b = ts.Variable(F.b0, { graph = g, dtype = dt, name = "b" })
    local d = ts.tanh(ts.matmul(x, W) + b) - y
    local loss = ts.reduce_sum(d * d) / 4
    local lr = case.lr
    if case.schedule then -- torch's lr_k = lr 0.5^(k / 3)
      lr = ts.train.exponential_decay(lr, ts.train.get_or_create_global_step(g), 3, 0.5)
    end
    local opt = ts.train.AdamWOptimizer { learning_rate = lr, weight_decay = case.wd, beta1 = case.beta1,
      beta2 = case.beta2, epsilon = case.eps, decay_var_list = not case.decay_bias and { W } or nil }
    local step = opt:minimize(loss)
    local sess <close> = ts.Session(g)
    for k = 1, F.steps do
      local r = sess:run({ loss, step })
      H.close(case.loss[k], r[1]:item(), tol, "loss " .. k)
      H.close(case.W[k], W:value():reshape { 6 }:totable(), tol, "W after step " .. k)
      H.close(case.b[k], b:value():totable(), tol, "b after step " .. k)
    end
    return g
  end

  it("follows torch.optim.AdamW step for step (float64)", function()
    local g = replay(F.cases.default, 1e-13)
    H.tensor(g:get("W/AdamW_2"):value(), F.steps)
    assert.same({ 3, 2 }, g:get("W/AdamW"):value().shape)
    assert.same({ 3, 2 }, g:get("W/AdamW_1"):value().shape)
    assert.equal(2, #ts.trainable_variables(g))
  end)

  it("with a learning-rate schedule, a large epsilon and decay on W only", function()
    replay(F.cases.schedule, 1e-13)
  end)

  it("in float32", function()
    replay(F.cases.float32, 2e-6)
  end)

  it("weight_decay = 0 is PyTorch's Adam; the decay shrinks a variable without gradient", function()
    local g, w, loss = setup()
    local step = ts.train.AdamWOptimizer(0.1, { weight_decay = 0 }):minimize(loss)
    run(g, step)
    -- first step of Adam (torch's epsilon placement): lr m / (sqrt(v) / sqrt(1 - b2) + eps) / (1 - b1)
    local want = {}
    for i = 1, 2 do
      local gr = 2 * C[i] * W0[i]
      local m, v = 0.1 * gr, 0.001 * gr * gr
      want[i] = W0[i] - 0.1 / 0.1 * m / (math.sqrt(v) / math.sqrt(0.001) + 1e-8)
    end
    H.tensor(w:value(), want, "float64", 1e-14)
    -- a zero gradient: only the decay acts, var (1 - lr wd) per step
    local g2 = ts.Graph()
    local u = ts.Variable({ 2, -4 }, { graph = g2 })
    local opt = ts.train.AdamWOptimizer { learning_rate = 0.5, weight_decay = 0.2 }
    local s2 = opt:minimize(ts.reduce_sum(u * 0))
    run(g2, s2)
    run(g2, s2)
    H.tensor(u:value(), { 2 * 0.9 * 0.9, -4 * 0.9 * 0.9 }, "float64", 1e-15)
  end)

  it("errors name the option and the value", function()
    H.fails(function() ts.train.AdamWOptimizer { learning_rate = 0.1, weight_decy = 0.1 } end,
      "AdamWOptimizer: unknown option 'weight_decy' (options are beta1, beta2, decay_var_list, epsilon, "
      .. "learning_rate, weight_decay)")
    H.fails(function() ts.train.AdamWOptimizer { beta1 = 1 } end,
      "AdamWOptimizer: beta1 must be a number in [0, 1), got 1")
    H.fails(function() ts.train.AdamWOptimizer { weight_decay = -0.1 } end,
      "AdamWOptimizer: weight_decay must be a number >= 0, got -0.1")
    H.fails(function() ts.train.AdamWOptimizer { decay_var_list = { 3 } } end,
      "AdamWOptimizer: decay_var_list[1] is not a variable")
    H.fails(function() ts.train.AdamWOptimizer("fast") end,
      "AdamWOptimizer: the learning rate must be a number")
    local g, _, loss = setup()
    local foreign = ts.placeholder { graph = ts.Graph(), shape = {} }
    H.fails(function() ts.train.AdamWOptimizer(foreign):minimize(loss) end,
      "AdamW: the learning rate node belongs to another graph")
    assert.truthy(g)
  end)
end)

------------------------------------------------------------------------ regularizers

describe("regularizers and ts.losses.get_regularization_loss", function()
  local function sum_sq(t)
    local s = 0
    for _, x in ipairs(t:reshape({ t:numel() }):totable()) do s = s + x * x end
    return s
  end

  it("l2(scale) is scale sum(w^2) / 2, l1(scale) scale sum(|w|)", function()
    local w = ts.tensor { { 1, -2 }, { 3, 0.5 } }
    H.tensor(ts.regularizers.l2(0.1)(w), 0.1 * (1 + 4 + 9 + 0.25) / 2, "float64", 1e-15)
    H.tensor(ts.regularizers.l1(0.1)(w), 0.1 * 6.5, "float64", 1e-15)
    assert.is_nil(ts.regularizers.l2(0)(w))
  end)

  it("dense and conv2d kernel_regularizer losses are collected per graph and summed", function()
    local g = ts.Graph()
    assert.equal(0, ts.losses.get_regularization_loss(g))
    assert.same({}, ts.losses.get_regularization_losses(g))
    local x = ts.placeholder { graph = g, shape = { -1, 4, 4, 2 } }
    local c = ts.layers.conv2d(x, 3, 2, { kernel_regularizer = ts.regularizers.l2(0.01) })
    local f = ts.layers.flatten(c)
    local h = ts.layers.dense(f, 5, { kernel_regularizer = ts.regularizers.l1(0.02) })
    ts.layers.dense(h, 2, { kernel_regularizer = function(k) return ts.reduce_sum(k) * 3 end })
    ts.layers.dense(h, 2) -- none
    assert.equal(3, #ts.losses.get_regularization_losses(g))
    local total = ts.losses.get_regularization_loss(g)
    local k1, k2 = g:get("conv2d/kernel"):value(), g:get("dense/kernel"):value()
    local k3 = g:get("dense_1/kernel"):value()
    local l1 = 0
    for _, v in ipairs(k2:reshape({ k2:numel() }):totable()) do l1 = l1 + math.abs(v) end
    local s3 = 0
    for _, v in ipairs(k3:reshape({ k3:numel() }):totable()) do s3 = s3 + v end
    H.tensor(run(g, total), 0.01 * sum_sq(k1) / 2 + 0.02 * l1 + 3 * s3, "float64", 1e-13)
    -- the default graph has none of them
    assert.equal(0, ts.losses.get_regularization_loss(ts.Graph()))
  end)

  it("trains: the l2 term adds scale * kernel to the gradient", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = ts.layers.dense(x, 2, { kernel_regularizer = ts.regularizers.l2(0.5) })
    local k = g:get("dense/kernel")
    local k0 = k:value():totable()
    local loss = ts.reduce_sum(y) + ts.losses.get_regularization_loss(g)
    local step = ts.train.GradientDescentOptimizer(0.1):minimize(loss)
    -- x = 0: the data term gives the kernel no gradient, so k -= 0.1 * 0.5 k
    run(g, step, { [x] = { { 0, 0, 0 } } })
    local want = {}
    for i, row in ipairs(k0) do
      want[i] = {}
      for j, v in ipairs(row) do want[i][j] = v * (1 - 0.05) end
    end
    H.tensor(k:value(), want, "float64", 1e-15)
  end)

  it("float32 layers, and a loss of another dtype is cast to the first's", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { -1, 2 } }
    ts.layers.dense(x, 2, { kernel_regularizer = ts.regularizers.l2(1) })
    local x64 = ts.placeholder { graph = g, dtype = "float64", shape = { -1, 2 } }
    ts.layers.dense(x64, 2, { kernel_regularizer = ts.regularizers.l2(1) })
    local total = ts.losses.get_regularization_loss(g)
    assert.equal("float32", total.dtype)
    local want = (sum_sq(g:get("dense/kernel"):value()) + sum_sq(g:get("dense_1/kernel"):value())) / 2
    H.tensor(run(g, total), want, "float32", 1e-6)
  end)

  it("errors name the layer and the value", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 2 } }
    H.fails(function() ts.layers.dense(x, 2, { kernel_regularizer = 0.01 }) end,
      "dense: kernel_regularizer: the regularizer must be a function of the variable")
    H.fails(function() ts.layers.dense(x, 2, { kernel_regularizer = function(k) return k * 2 end }) end,
      "dense: kernel_regularizer: the regularizer of 'dense_1/kernel' must return a scalar node of its graph "
      .. "(or nil), got")
    local img = ts.placeholder { graph = g, shape = { -1, 3, 3, 1 } }
    H.fails(function() ts.layers.conv2d(img, 1, 2, { kernel_regularizer = "l2" }) end,
      "conv2d: kernel_regularizer: the regularizer must be a function")
    H.fails(function() ts.regularizers.l2(-1) end,
      "regularizers.l2: scale must be a finite number >= 0, got -1")
    H.fails(function() ts.losses.get_regularization_loss("g") end,
      "losses.get_regularization_loss: expected a graph, got string")
  end)
end)
