local ts = require "tensorslow"
local H = require "helpers"

-- loss = sum(c * w^2): grad = 2 c w, no reduction op needed (gradients sums ys).
local C = { 1, 3 }
local W0 = { 1, -2 }
local function setup(dtype)
  local g = ts.Graph()
  local w = ts.Variable(W0, { graph = g, name = "w", dtype = dtype })
  local c = ts.constant(C, { graph = g, dtype = dtype })
  return g, w, c * w * w
end
local function grad(w) return { 2 * C[1] * w[1], 2 * C[2] * w[2] } end

-- Runs two steps and compares each with step(w, g, state) done by hand.
local function two_steps(opt, by_hand, tol)
  local g, w, loss = setup()
  local train = opt:minimize(loss)
  local sess <close> = ts.Session(g)
  local wv, state = { W0[1], W0[2] }, {}
  for _ = 1, 2 do
    local r = sess:run({ loss, train })
    H.close({ C[1] * wv[1] ^ 2, C[2] * wv[2] ^ 2 }, r[1]:totable(), 1e-14) -- before the update
    assert.is_nil(r[2])
    local gr = grad(wv)
    for i = 1, 2 do wv[i] = by_hand(i, wv[i], gr[i], state) end
    H.tensor(w:value(), wv, "float64", tol or 1e-14)
  end
  return g, w
end

describe("optimizers", function()
  it("GradientDescentOptimizer: var -= lr grad", function()
    two_steps(ts.train.GradientDescentOptimizer(0.1), function(_, w, gr) return w - 0.1 * gr end)
  end)

  it("MomentumOptimizer, plain and Nesterov", function()
    local g = two_steps(ts.train.MomentumOptimizer(0.1, 0.9), function(i, w, gr, s)
      s[i] = (s[i] or 0) * 0.9 + gr
      return w - 0.1 * s[i]
    end)
    assert.truthy(g:get("w/Momentum"))
    assert.equal("apply_momentum", g:get("Momentum/update_w").op)
    two_steps(ts.train.MomentumOptimizer(0.1, 0.9, { use_nesterov = true }), function(i, w, gr, s)
      s[i] = (s[i] or 0) * 0.9 + gr
      return w - (gr * 0.1 + s[i] * 0.9 * 0.1)
    end)
  end)

  it("AdamOptimizer with slots <var>/Adam, <var>/Adam_1 and a step count", function()
    local b1, b2, eps, lr = 0.8, 0.99, 1e-3, 0.05
    local g = two_steps(ts.train.AdamOptimizer { learning_rate = lr, beta1 = b1, beta2 = b2, epsilon = eps },
      function(i, w, gr, s)
        s[i] = s[i] or { m = 0, v = 0, t = 0 }
        local st = s[i]
        st.t = st.t + 1
        local lr_t = lr * math.sqrt(1 - b2 ^ st.t) / (1 - b1 ^ st.t)
        st.m = b1 * st.m + (1 - b1) * gr
        st.v = b2 * st.v + (1 - b2) * gr * gr
        return w - lr_t * st.m / (math.sqrt(st.v) + eps)
      end, 1e-13)
    local m, v, t = g:get("w/Adam"), g:get("w/Adam_1"), g:get("w/Adam_2")
    assert.truthy(m and v and t)
    H.tensor(t:value(), 2)
    assert.same({ 2 }, m:value().shape)
    -- slots are not trainable
    for _, var in ipairs(ts.trainable_variables(g)) do assert.equal("w", var.name) end
  end)

  it("RMSPropOptimizer (ms starts at 1), with momentum", function()
    local lr, decay, mu, eps = 0.01, 0.9, 0.5, 1e-10
    local g = two_steps(ts.train.RMSPropOptimizer { learning_rate = lr, momentum = mu },
      function(i, w, gr, s)
        s[i] = s[i] or { ms = 1, mom = 0 }
        local st = s[i]
        st.ms = decay * st.ms + (1 - decay) * gr * gr
        st.mom = mu * st.mom + lr * gr / math.sqrt(st.ms + eps)
        return w - st.mom
      end)
    assert.truthy(g:get("w/RMSProp") and g:get("w/RMSProp_1"))
  end)

  it("AdagradOptimizer", function()
    two_steps(ts.train.AdagradOptimizer(0.1, { initial_accumulator_value = 0.2 }), function(i, w, gr, s)
      s[i] = (s[i] or 0.2) + gr * gr
      return w - 0.1 * gr / math.sqrt(s[i])
    end)
  end)

  it("learning rate from a placeholder; compute_gradients and apply_gradients", function()
    local g, w, loss = setup()
    local lr = ts.placeholder { graph = g, shape = {} }
    local opt = ts.train.GradientDescentOptimizer(lr)
    local gv = opt:compute_gradients(loss)
    assert.equal(1, #gv)
    assert.equal(w, gv[1][2])
    local step = opt:apply_gradients(gv)
    local sess <close> = ts.Session(g)
    sess:run(step, { [lr] = 0.5 })
    H.tensor(w:value(), { 1 - 0.5 * 2, -2 + 0.5 * 12 })
    sess:run(step, { [lr] = 0 })
    H.tensor(w:value(), { 0, 4 })
  end)

  it("a variable fetched beside the step is read before the update", function()
    local g, w, loss = setup()
    local step = ts.train.GradientDescentOptimizer(0.1):minimize(loss, { w })
    local sess <close> = ts.Session(g)
    local r = sess:run({ w, step })
    H.tensor(r[1], W0)
    H.tensor(w:value(), { 1 - 0.2, -2 + 1.2 })
  end)

  it("float32 variables", function()
    local g, w, loss = setup("float32")
    local step = ts.train.GradientDescentOptimizer(0.25):minimize(loss)
    local sess <close> = ts.Session(g)
    sess:run(step)
    H.tensor(w:value(), { 0.5, 1 }, "float32")
    for _, opt in ipairs { ts.train.AdamOptimizer(0.1), ts.train.RMSPropOptimizer(0.1),
                           ts.train.MomentumOptimizer(0.1, 0.5), ts.train.AdagradOptimizer(0.1) } do
      local g2, w2, loss2 = setup("float32")
      local step2 = opt:minimize(loss2)
      local s2 <close> = ts.Session(g2)
      local before = s2:run(loss2):totable()
      for _ = 1, 20 do s2:run(step2) end
      local after = s2:run(loss2):totable()
      assert(after[1] < before[1] and after[2] < before[2], opt.kind)
      assert.equal("float32", w2:value().dtype)
    end
  end)

  it("errors: no gradient, not a variable, bad learning rate", function()
    local g = ts.Graph()
    local w = ts.Variable({ 1 }, { graph = g })
    local x = ts.placeholder { graph = g }
    H.fails(function() ts.train.GradientDescentOptimizer(0.1):minimize(x * 2, { w }) end,
      "no variable has a gradient")
    H.fails(function() ts.train.GradientDescentOptimizer(0.1):minimize(x * w, { x }) end, "not a variable")
    H.fails(function() ts.train.GradientDescentOptimizer("fast") end, "learning rate")
    local other = ts.placeholder { graph = ts.Graph() }
    H.fails(function() ts.gradients(x * w, { other }) end, "another graph")
    H.fails(function() ts.train.GradientDescentOptimizer(other):minimize(x * w) end, "another graph")
  end)
end)

describe("checkpoints of optimizer state", function()
  it("a Saver saves and restores the Adam slots, so training resumes exactly", function()
    local path = os.tmpname()
    local function build()
      local g, w, loss = setup()
      return g, w, ts.train.AdamOptimizer(0.1):minimize(loss)
    end
    local g1, w1, step1 = build()
    local s1 <close> = ts.Session(g1)
    s1:run(step1)
    s1:run(step1)
    ts.train.Saver():save(s1, path)
    s1:run(step1)
    local g2, w2, step2 = build()
    local s2 <close> = ts.Session(g2)
    ts.train.Saver():restore(s2, path)
    H.tensor(g2:get("w/Adam_2"):value(), 2)
    s2:run(step2)
    H.tensor(w2:value(), w1:value():totable(), "float64", 0)
    os.remove(path)
  end)
end)

describe("ts.group", function()
  it("runs every update it groups", function()
    local g = ts.Graph()
    local a = ts.Variable({ 1 }, { graph = g })
    local b = ts.Variable({ 2 }, { graph = g })
    local opt = ts.train.GradientDescentOptimizer(1)
    local both = ts.group(opt:minimize(a * 1, { a }), opt:minimize(b * 2, { b }))
    local sess <close> = ts.Session(g)
    assert.is_nil(sess:run(both))
    H.tensor(a:value(), { 0 })
    H.tensor(b:value(), { 0 })
  end)
end)

describe("initializers", function()
  local I = ts.initializers

  it("make tensors of a shape, usable as Variable values", function()
    local g = ts.Graph()
    ts.seed(3)
    local v = ts.Variable(I.glorot_uniform { 784, 256 }, { graph = g })
    assert.same({ 784, 256 }, v.shape)
    H.tensor(I.zeros { 2, 3 }, { { 0, 0, 0 }, { 0, 0, 0 } })
    H.tensor(I.ones { 2 }, { 1, 1 })
    assert.equal("float32", I.zeros({ 2 }, { dtype = "float32" }).dtype)
  end)

  it("are seeded by ts.seed", function()
    for _, name in ipairs { "random_normal", "truncated_normal", "random_uniform", "glorot_uniform",
      "glorot_normal", "he_normal" } do
      ts.seed(11)
      local a = I[name] { 3, 4 }
      ts.seed(11)
      local b = I[name] { 3, 4 }
      H.close(a:totable(), b:totable(), 0)
    end
  end)

  it("respect their ranges and options", function()
    ts.seed(5)
    local limit = math.sqrt(6 / (20 + 30))
    for _, x in ipairs(I.glorot_uniform({ 20, 30 }):reshape({ 600 }):totable()) do
      assert(x >= -limit and x <= limit)
    end
    local u = I.random_uniform { minval = 2, maxval = 3 }
    for _, x in ipairs(u({ 100 }):totable()) do assert(x >= 2 and x < 3) end
    local tn = I.truncated_normal { mean = 10, stddev = 0.5 }
    for _, x in ipairs(tn({ 500 }):totable()) do assert(x >= 9 and x <= 11) end
    local sum, n = 0, 4000
    for _, x in ipairs(I.random_normal({ mean = 5, stddev = 2 })({ n }):totable()) do sum = sum + x end
    H.close(5, sum / n, 0.03)
    local sd = math.sqrt(2 / 50) / 0.87962566103423978
    for _, x in ipairs(I.he_normal({ 50, 10 }):reshape({ 500 }):totable()) do
      assert(math.abs(x) <= 2 * sd)
    end
  end)
end)
