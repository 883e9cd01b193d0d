local ts = require "tensorslow"
local H = require "helpers"

local gradcheck = ts.test.gradcheck

-- Marks the running test pending when an op it needs is not merged yet.
local function needs(...)
  for _, name in ipairs { ... } do
    if ts[name] == nil then
      pending(("ts.%s is not available yet (its branch is not merged)"):format(name))
      return false
    end
  end
  return true
end

local function check(f, inputs, opts)
  local ok, err = gradcheck(f, inputs, opts)
  assert(ok, err)
end

-- Random inputs: normal, or uniform in [lo, hi).
local function randn(shape) return ts.randn(shape, "float64") end
local function uniform(shape, lo, hi) return ts.rand(shape, "float64") * (hi - lo) + lo end
-- Normal values kept away from 0 (kinks of abs, relu, ...).
local function away(shape)
  local t = randn(shape)
  local v = t:reshape({ t:numel() }):totable()
  for i = 1, #v do v[i] = v[i] + (v[i] < 0 and -0.1 or 0.1) end
  return ts.tensor(v, "float64"):reshape(shape)
end

describe("ts.gradients", function()
  before_each(function() ts.seed(42) end)

  it("differentiates the affine graph and sums a node with several consumers", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3 } }
    local b = ts.Variable({ 1, 2, 3 }, { graph = g })
    local y = x * b + b / x - x -- b used twice, x three times
    local gx, gb = table.unpack(ts.gradients(y, { x, b }), 1, 2)
    local sess <close> = ts.Session(g)
    local xv = { { 1, 2, 3 }, { 4, 5, 6 } }
    local r = sess:run({ gx, gb }, { [x] = xv })
    local ex, eb = {}, { 0, 0, 0 }
    for i = 1, 2 do
      ex[i] = {}
      for j = 1, 3 do
        local xi, bj = xv[i][j], j
        ex[i][j] = bj - bj / (xi * xi) - 1
        eb[j] = eb[j] + xi + 1 / xi
      end
    end
    H.tensor(r[1], ex, "float64", 1e-14)
    H.tensor(r[2], eb, "float64", 1e-14)
  end)

  it("returns nil for an x the ys do not depend on, and nodes in the same graph", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local z = ts.placeholder { graph = g }
    local y = x * 3
    local r = ts.gradients(y, { x, z })
    assert.is_nil(r[2])
    assert.equal(2, r.n)
    assert.equal(g, r[1].graph)
    assert.truthy(r[1].name:find("^gradients/"))
    assert.equal("multiply", (x * 2).name:match("^multiply")) -- naming restored afterwards
  end)

  it("weights ys by grad_ys and sums several ys", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2 } }
    local r = ts.gradients({ x * 2, x * x }, { x }, { ts.constant({ 1, 10 }, { graph = g }), nil })
    local sess <close> = ts.Session(g)
    H.tensor(sess:run(r[1], { [x] = { 3, 4 } }), { 2 + 6, 20 + 8 })
  end)

  it("undoes broadcasting when shapes are unknown at build time", function()
    local g = ts.Graph()
    local a = ts.placeholder { graph = g } -- unknown rank
    local b = ts.placeholder { graph = g }
    local gr = ts.gradients(a * b, { a, b })
    local sess <close> = ts.Session(g)
    local r = sess:run(gr, { [a] = { { 1, 2, 3 }, { 4, 5, 6 } }, [b] = { { 10 }, { 20 } } })
    H.tensor(r[1], { { 10, 10, 10 }, { 20, 20, 20 } })
    H.tensor(r[2], { { 6 }, { 15 } })
    -- the same graph with other shapes
    r = sess:run(gr, { [a] = { 1, 2 }, [b] = 5 })
    H.tensor(r[1], { 5, 5 })
    H.tensor(r[2], 3)
  end)

  it("builds shape-agnostic gradients of reductions, concat and slices", function()
    local g = ts.Graph()
    local a = ts.placeholder { graph = g }
    local b = ts.placeholder { graph = g }
    local y = ts.reduce_sum(ts.concat({ a, b }, 2) * 2, 2) + ts.reduce_max(ts.slice(a, { 1, 1 }, { 1, -1 }))
    local gr = ts.gradients(y, { a, b })
    local sess <close> = ts.Session(g)
    local r = sess:run(gr, { [a] = { { 1, 5 }, { 3, 4 } }, [b] = { { 1 }, { 2 } } })
    H.tensor(r[1], { { 2, 4 }, { 2, 2 } }) -- the max is broadcast over both rows
    H.tensor(r[2], { { 2 }, { 2 } })
    r = sess:run(gr, { [a] = { { 7 } }, [b] = { { 1, 2, 3 } } })
    H.tensor(r[1], { { 3 } })
    H.tensor(r[2], { { 2, 2, 2 } })
  end)

  it("handles a long chain without recursion", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local y = x
    for _ = 1, 5000 do y = y + x * 0.001 end
    local gx = ts.gradients(y, { x })[1]
    local sess <close> = ts.Session(g)
    H.close(1 + 5000 * 0.001, sess:run(gx, { [x] = 2 }):item(), 1e-12)
  end)

  it("refuses integer ys and names an op without a gradient", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "int64" }
    H.fails(function() ts.gradients(x * 2, { x }) end, "only float tensors")
    local f = ts.placeholder { graph = g }
    local c = ts.Operation { type = "mystery", inputs = { f }, compute = function(t) return t end }
    H.fails(function() ts.gradients(c, { f }) end, "no gradient is defined for op type 'mystery'")
  end)

  it("second derivatives of multiply, divide and matmul", function()
    check(function(a) return ts.gradients(a * a * a, { a })[1] end, { randn { 3 } })
    check(function(a, b) return ts.gradients(a / b, { b })[1] end,
      { randn { 2, 3 }, uniform({ 3 }, 0.5, 2) })
    check(function(a, b)
      local p = ts.matmul(a, b)
      return ts.gradients(p * p, { a })[1]
    end, { randn { 2, 3 }, randn { 3, 2 } })
    check(function(a, b)
      local p = ts.matmul(a, b, { transpose_b = true })
      return ts.gradients(p * p * a:matmul(b, { transpose_b = true }), { b })[1]
    end, { randn { 2, 3 }, randn { 4, 3 } })
  end)
end)

describe("ts.RegisterGradient and ts.Operation", function()
  it("a custom op computes in Lua and uses its own gradient", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 3 } }
    local cube = ts.Operation {
      type = "cube", inputs = { x },
      compute = function(t) return t * t * t end,
      shape = function(s) return s end,
      gradient = function(op, grad) local a = op.inputs[1]; return { grad * a * a * 3 } end,
    }
    assert.same({ 3 }, cube.shape)
    assert.equal("cube", cube.op)
    local gx = ts.gradients(cube, { x })[1]
    local sess <close> = ts.Session(g)
    local r = sess:run({ cube, gx }, { [x] = { 1, 2, 3 } })
    H.tensor(r[1], { 1, 8, 27 })
    H.tensor(r[2], { 3, 12, 27 })
    check(cube, { [x] = { 0.5, -1, 2 } })
  end)

  it("RegisterGradient defines the gradient of an op type", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local sq = ts.Operation { type = "my_square", inputs = { x }, compute = function(t) return t * t end }
    ts.RegisterGradient("my_square", function(op, grad) return { grad * op.inputs[1] * 2 } end)
    local sess <close> = ts.Session(g)
    H.close(6, sess:run(ts.gradients(sq, { x })[1], { [x] = 3 }):item())
    -- override: false marks it not differentiable
    ts.RegisterGradient("my_square", false)
    assert.is_nil(ts.gradients(sq, { x })[1])
    H.fails(function() ts.RegisterGradient("my_square", 3) end, "expected a function")
  end)

  it("an error in compute surfaces from sess:run naming the op", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local bad = ts.Operation { type = "bad", name = "broken", inputs = { x },
                               compute = function() error("no luck") end }
    local sess <close> = ts.Session(g)
    local err = H.fails(function() sess:run(bad, { [x] = 1 }) end, "op 'broken' failed")
    assert.truthy(err:find("no luck", 1, true))
  end)
end)

describe("ts.test.gradcheck", function()
  it("reports a wrong gradient", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local wrong = ts.Operation { type = "wrong_sq", inputs = { x }, compute = function(t) return t * t end,
                                 gradient = function(_, grad) return { grad * 3 } end }
    local ok, err = gradcheck(wrong, { [x] = { 1, 2 } })
    assert.is_false(ok)
    assert.truthy(err:find("analytic", 1, true))
  end)

  it("accepts a graph with variables", function()
    local g = ts.Graph()
    local w = ts.Variable({ { 1, 2 }, { 3, 4 } }, { graph = g })
    local x = ts.placeholder { graph = g, shape = { 2, 1 } }
    check(ts.matmul(w, x) * x, { [w] = { { 0.5, 1 }, { -1, 2 } }, [x] = { { 1 }, { -2 } } })
    H.tensor(w:value(), { { 0.5, 1 }, { -1, 2 } })
  end)
end)

------------------------------------------------------------------ every op

describe("gradcheck of every differentiable op", function()
  before_each(function() ts.seed(7) end)

  local pos = function(shape) return uniform(shape, 0.5, 2) end
  local unit = function(shape) return uniform(shape, -0.9, 0.9) end
  local unary = {
    { "negative", randn }, { "abs", away }, { "exp", randn }, { "log", pos }, { "log1p", pos },
    { "sqrt", pos }, { "rsqrt", pos }, { "square", randn }, { "reciprocal", pos },
    { "sin", randn }, { "cos", randn }, { "tanh", randn }, { "sigmoid", randn }, { "relu", away },
    { "leaky_relu", away }, { "elu", away }, { "softplus", randn }, { "gelu", away },
    { "identity", randn }, { "sign", away }, { "softmax", randn }, { "log_softmax", randn },
    { "l2_loss", randn },
  }
  for _, c in ipairs(unary) do
    local name, gen = c[1], c[2]
    it(name .. " and its second derivative", function()
      if not needs(name) then return end
      check(function(x) return ts[name](x) end, { gen { 2, 3 } })
      if name == "sign" then return end -- no gradient to differentiate again
      check(function(x) return ts.gradients(ts[name](x) * ts[name](x), { x })[1] end, { gen { 3, 2 } },
        { tol = 1e-5 })
    end)
  end

  it("leaky_relu and elu with their alpha", function()
    check(function(x) return ts.leaky_relu(x, 0.1) end, { away { 2, 3 } })
    check(function(x) return ts.elu(x, { alpha = 0.5 }) end, { away { 2, 3 } })
    check(function(x) return ts.gradients(ts.elu(x, 0.5) ^ 2, { x })[1] end, { away { 2, 3 } })
  end)

  it("dropout: the gradient is the run's mask (kept and scaled, or 0)", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 200 } }
    local y = ts.dropout(x, 0.25, { training = true })
    local gx = ts.gradients(y, { x })[1]
    local sess <close> = ts.Session(g)
    local r = sess:run({ y, gx }, { [x] = uniform({ 200 }, 0.5, 2) })
    local yv, gv, kept = r[1]:totable(), r[2]:totable(), 0
    for i = 1, 200 do
      if yv[i] == 0 then assert.equal(0, gv[i]) else H.close(1 / 0.75, gv[i]); kept = kept + 1 end
    end
    assert(kept > 100 and kept < 200)
    local off = ts.dropout(x, 0.25)
    H.tensor(sess:run(ts.gradients(off, { x })[1], { [x] = uniform({ 200 }, 0.5, 2) }),
      ts.ones({ 200 }):totable())
  end)

  it("float32 gradients", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { 2, 2 } }
    local w = ts.Variable({ { 1, 2 }, { 3, 4 } }, { graph = g, dtype = "float32" })
    local y = ts.reduce_mean(ts.sigmoid(ts.matmul(x, w)) * 2 + ts.square(x))
    local gr = ts.gradients(y, { x, w })
    assert.equal("float32", gr[1].dtype)
    local sess <close> = ts.Session(g)
    local r = sess:run(gr, { [x] = { { 0.1, 0.2 }, { 0.3, 0.4 } } })
    assert.equal("float32", r[2].dtype)
    assert.same({ 2, 2 }, r[2].shape)
  end)

  local binary = {
    { "add", randn, randn }, { "subtract", randn, randn }, { "multiply", randn, randn },
    { "divide", randn, pos }, { "pow", pos, randn, "log" }, { "maximum", randn, randn },
    { "minimum", randn, randn }, { "squared_difference", randn, randn },
  }
  local shapes = { { { 2, 3 }, { 2, 3 } }, { { 2, 3 }, { 3 } }, { { 2, 1 }, { 1, 3 } }, { {}, { 2, 3 } },
                   { { 4, 1, 3 }, { 2, 1 } } }
  for _, c in ipairs(binary) do
    local name, ga, gb = c[1], c[2], c[3]
    it(name .. " with broadcasting, and its second derivative", function()
      if not needs(name, c[4]) then return end
      for _, s in ipairs(shapes) do
        check(function(a, b) return ts[name](a, b) end, { ga(s[1]), gb(s[2]) })
      end
      check(function(a, b) return ts.gradients(ts[name](a, b) * ts[name](a, b), { a, b })[2] end,
        { ga { 2, 3 }, gb { 3 } }, { tol = 1e-5 })
    end)
  end

  it("matmul: plain, transposed, vectors and batched", function()
    for _, ta in ipairs { false, true } do
      for _, tb in ipairs { false, true } do
        local a = ta and randn { 3, 2 } or randn { 2, 3 }
        local b = tb and randn { 4, 3 } or randn { 3, 4 }
        check(function(x, y) return ts.matmul(x, y, { transpose_a = ta, transpose_b = tb }) end, { a, b })
      end
    end
    check(function(x, y) return ts.matmul(x, y) end, { randn { 5, 2, 3 }, randn { 3, 4 } })
    check(function(x, y) return ts.matmul(x, y) end, { randn { 2, 3 }, randn { 5, 3, 4 } })
    check(function(x, y) return ts.matmul(x, y) end, { randn { 5, 2, 3 }, randn { 5, 3, 4 } })
  end)

  it("matmul with vector operands (needs expand_dims)", function()
    if not needs("expand_dims") then return end
    check(function(x, y) return ts.matmul(x, y) end, { randn { 2, 3 }, randn { 3 } })
    check(function(x, y) return ts.matmul(x, y, { transpose_a = true }) end, { randn { 3, 2 }, randn { 3 } })
    check(function(x, y) return ts.matmul(x, y) end, { randn { 3 }, randn { 3, 4 } })
    check(function(x, y) return ts.matmul(x, y, { transpose_b = true }) end, { randn { 3 }, randn { 4, 3 } })
    check(function(x, y) return ts.matmul(x, y) end, { randn { 3 }, randn { 3 } })
  end)

  local reductions = { "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                       "reduce_logsumexp" }
  for _, name in ipairs(reductions) do
    it(name .. " over each axis, with and without keepdims", function()
      if not needs(name) then return end
      local gen = name == "reduce_prod" and pos or randn
      for _, axis in ipairs { false, 1, 2, 3, -1, { 1, 3 } } do
        for _, keep in ipairs { false, true } do
          check(function(x) return ts[name](x, axis or nil, keep) end, { gen { 2, 3, 4 } })
        end
      end
      check(function(x) return ts.gradients(ts[name](x, 2) * ts[name](x, 2), { x })[1] end,
        { gen { 2, 3 } }, { tol = 1e-5 })
    end)
  end

  it("where", function()
    if not needs("where", "greater") then return end
    check(function(a, b) return ts.where(ts.greater(a, b), a * 2, b) end, { randn { 2, 3 }, randn { 2, 3 } })
    check(function(a, b) return ts.where(ts.greater(b, 0), a, b) end, { randn { 2, 1 }, randn { 3 } })
  end)

  it("shape ops", function()
    if not needs("transpose", "reshape", "squeeze", "expand_dims", "concat", "stack", "slice", "tile",
      "pad", "cast") then return end
    local function d3(y, x) return ts.gradients(y ^ 3, { x })[1] end
    check(function(x) return ts.transpose(x, { 2, 3, 1 }) end, { randn { 2, 3, 4 } })
    check(function(x) return ts.transpose(x) end, { randn { 2, 3 } })
    check(function(x) return ts.reshape(x, { 3, -1 }) end, { randn { 2, 3 } })
    check(function(x) return ts.squeeze(x) end, { randn { 2, 1, 3 } })
    check(function(x) return ts.expand_dims(x, 2) end, { randn { 2, 3 } })
    check(function(a, b) return ts.concat({ a, b }, 2) end, { randn { 2, 3 }, randn { 2, 2 } })
    check(function(a, b) return ts.concat({ a, b }, 1) end, { randn { 2, 3 }, randn { 1, 3 } })
    check(function(a, b, c) return ts.concat({ a, b, c }, -1) end,
      { randn { 2, 1 }, randn { 2, 3 }, randn { 2, 2 } })
    check(function(a, b) return d3(ts.concat({ a, b }, 2), b) end, { randn { 2, 1 }, randn { 2, 3 } })
    check(function(a, b) return ts.stack({ a, b }, 2) end, { randn { 2, 3 }, randn { 2, 3 } })
    check(function(x) return ts.slice(x, { 2, 1 }, { 1, 2 }) end, { randn { 3, 4 } })
    check(function(x)
      local parts = ts.split(x, { 1, -1 }, 2)
      return parts[1] * 2 + ts.reduce_sum(parts[2] ^ 2, 2, true)
    end, { randn { 3, 4 } })
    check(function(x) return ts.slice(x, { -2, 2 }, { -1, -1 }) end, { randn { 3, 4 } })
    check(function(x) return ts.tile(x, { 2, 3 }) end, { randn { 2, 3 } })
    check(function(x) return ts.gradients(ts.tile(x, { 1, 2 }) ^ 3, { x })[1] end, { randn { 2, 3 } })
    check(function(x) return d3(ts.slice(x, { 2, 1 }, { 1, 2 }), x) end, { randn { 3, 4 } })
    check(function(x) return d3(ts.pad(x, { { 1, 0 }, { 0, 1 } }), x) end, { randn { 2, 2 } })
    check(function(x) return ts.gradients(ts.reshape(x, { -1 }) ^ 3, { x })[1] end, { randn { 2, 2 } })
    check(function(x) return ts.gradients(ts.transpose(x) ^ 3, { x })[1] end, { randn { 2, 3 } })
    check(function(x) return ts.pad(x, { { 1, 2 }, { 0, 1 } }) end, { randn { 2, 3 } })
    check(function(x) return ts.cast(ts.cast(x, "float32"), "float64") end, { randn { 2 } },
      { eps = 1e-2, tol = 1e-3 })
  end)

  it("gather", function()
    if not needs("gather") then return end
    check(function(x) return ts.gather(x, { 3, 1, 3 }, 1) end, { randn { 3, 2 } })
    check(function(x) return ts.gather(x, { 2, 2 }, 2) end, { randn { 3, 2 } })
    check(function(x) return ts.gather(x, ts.tensor({ { 1, 2 }, { 2, 2 } }, "int64"), -1) end,
      { randn { 2, 2 } })
    check(function(x) return ts.gradients(ts.gather(x, { 1, 1 }) ^ 2, { x })[1] end, { randn { 3 } })
  end)

  it("losses", function()
    if not needs("softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
      "sigmoid_cross_entropy_with_logits", "mean_squared_error", "bias_add", "softmax") then return end
    local labels = ts.tensor { { 0.2, 0.3, 0.5 }, { 1, 0, 0 } }
    check(function(l, x) return ts.softmax_cross_entropy_with_logits { labels = l, logits = x } end,
      { labels, randn { 2, 3 } })
    check(function(x)
      return ts.sparse_softmax_cross_entropy_with_logits { labels = ts.tensor({ 3, 1 }, "int64"), logits = x }
    end, { randn { 2, 3 } })
    check(function(z, x) return ts.sigmoid_cross_entropy_with_logits { labels = z, logits = x } end,
      { uniform({ 2, 3 }, 0, 1), randn { 2, 3 } })
    check(function(l, p) return ts.mean_squared_error(l, p) end, { randn { 2, 3 }, randn { 2, 3 } })
    check(function(x, b) return ts.bias_add(x, b) end, { randn { 2, 3 }, randn { 3 } })
    check(function(x) return ts.gradients(ts.softmax(x) * ts.softmax(x), { x })[1] end, { unit { 2, 3 } },
      { tol = 1e-5 })
    check(function(x) return ts.softmax(x, 1) end, { randn { 3, 2 } })
    check(function(x) return ts.log_softmax(x, 1) end, { randn { 3, 2 } })
    check(function(x) return ts.softmax(x, 2) end, { randn { 2, 3, 2 } })
  end)

  it("non-differentiable ops give no gradient", function()
    if not needs("greater", "argmax", "stop_gradient") then return end
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 3 } }
    assert.is_nil(ts.gradients(ts.stop_gradient(x) * 2, { x })[1])
    assert.is_nil(ts.gradients(ts.cast(ts.greater(x, 0), "float64"), { x })[1])
    assert.is_nil(ts.gradients(ts.cast(ts.argmax(x), "float64"), { x })[1])
  end)
end)

describe("gradients compared with PyTorch (issue 12)", function()
  local function grad_of(f, value, w)
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = value.dtype }
    local y = f(x)
    local dx = ts.gradients(y, { x }, w and { w } or nil)[1]
    return H.run(g, dx, { [x] = value })
  end

  it("reduce_max/min{axis = {}} pass the gradient through (not divided by the count)", function()
    local v = ts.tensor { { 1, 5 }, { 3, 3 } }
    for _, name in ipairs { "reduce_max", "reduce_min" } do
      H.tensor(grad_of(function(x) return ts[name](x, { axis = {} }) end, v), { { 1, 1 }, { 1, 1 } })
      H.tensor(grad_of(function(x) return ts[name](x, { axis = {}, keepdims = true }) end, v),
        { { 1, 1 }, { 1, 1 } })
    end
    -- ties share (PyTorch amax); an infinite maximum gets its gradient
    H.tensor(grad_of(function(x) return ts.reduce_max(x, 2) end, v), { { 0, 1 }, { 0.5, 0.5 } })
    H.tensor(grad_of(function(x) return ts.reduce_max(x) end, ts.tensor { 1, 1 / 0 }), { 0, 1 })
  end)

  it("second derivatives through reduce_logsumexp and reduce_prod with {axis = {}}", function()
    for _, name in ipairs { "reduce_logsumexp", "reduce_prod", "reduce_sum", "reduce_mean" } do
      local ok, err = ts.test.gradcheck(function(x)
        local dx = ts.gradients(ts[name](x * x, { axis = {} }), { x })[1]
        return dx * dx
      end, { { { 0.5, -1.5 }, { 2, 0.25 } } })
      assert.is_true(ok, name .. ": " .. tostring(err))
    end
  end)

  it("reduce_prod at zeros: the product of the others (PyTorch)", function()
    H.tensor(grad_of(function(x) return ts.reduce_prod(x) end, ts.tensor { 2, 0, 3 }), { 0, 6, 0 })
    H.tensor(grad_of(function(x) return ts.reduce_prod(x) end, ts.tensor { 0, 0, 3 }), { 0, 0, 0 })
    local ok, err = ts.test.gradcheck(function(x)
      local dx = ts.gradients(ts.reduce_prod(x, 2), { x })[1]
      return dx * dx
    end, { { { 0, 2, 3 }, { 0, 0, 5 } } })
    assert.is_true(ok, err)
  end)

  it("softmax_cross_entropy: labels need not sum to 1", function()
    -- PyTorch: -(labels * log_softmax(logits)).sum(-1) and its autograd
    local g = ts.Graph()
    local z = ts.placeholder { graph = g, shape = { 1, 3 } }
    local x = ts.placeholder { graph = g, shape = { 1, 3 } }
    local l = ts.softmax_cross_entropy_with_logits { labels = z, logits = x }
    local d = ts.gradients(l, { z, x })
    local sess <close> = ts.Session(g)
    local r = sess:run({ l, d[1], d[2] }, { [z] = ts.tensor { { 0.5, 1.0, 0.25 } },
      [x] = ts.tensor { { 1.0, 2.0, -1.0 } } })
    H.tensor(r[1], { 1.8607713793443259 })
    H.tensor(r[2], { { 1.3490122167681864, 0.34901221676818633, 3.3490122167681862 } })
    H.tensor(r[3], { { -0.045881194400766517, 0.23442289722192211, -0.18854170282115548 } })
    local ok, err = ts.test.gradcheck(function(lab, lo)
      return ts.softmax_cross_entropy_with_logits { labels = lab, logits = lo }
    end, { { { 0.5, 1.0, 0.25 }, { -1, 2, 0 } }, { { 1.0, 2.0, -1.0 }, { 0.5, 0, 3 } } })
    assert.is_true(ok, err)
  end)

  it("sparse_softmax_cross_entropy: gradients with the class count unknown at build time", function()
    local g = ts.Graph()
    local lab = ts.placeholder { graph = g, dtype = "int64" }
    local x = ts.placeholder { graph = g }
    local l = ts.sparse_softmax_cross_entropy_with_logits { labels = lab, logits = x }
    local dx = ts.gradients(l, { x })[1]
    local sess <close> = ts.Session(g)
    local r = sess:run(dx, { [lab] = ts.tensor({ 2, 1 }, "int64"),
      [x] = ts.tensor { { 1.0, 2.0, -1.0 }, { 0, 0, 0 } } })
    -- PyTorch: softmax - one_hot
    H.tensor(r, { { 0.25949646034241913, -0.29461548730175879, 0.03511902695933973 },
      { -0.66666666666666674, 0.33333333333333331, 0.33333333333333331 } })
    r = sess:run(dx, { [lab] = ts.tensor({ 4 }, "int64"), [x] = ts.tensor { { 0, 0, 0, 0 } } })
    H.tensor(r, { { 0.25, 0.25, 0.25, -0.75 } })
    H.fails(function()
      sess:run(dx, { [lab] = ts.tensor({ 4 }, "int64"), [x] = ts.tensor { { 0, 0, 0 } } })
    end, "label 4 (row 1) is out of range for 3 classes")
  end)

  it("a user gradient of the wrong shape is an error naming the op and both shapes", function()
    local g = ts.Graph()
    local a = ts.placeholder { graph = g, shape = { 2 } }
    local bad = ts.Operation { type = "bad_grad", inputs = { a }, compute = function(t) return t end,
      gradient = function() return { ts.constant({ 1, 2, 3 }, { graph = g }) } end }
    H.fails(function() ts.gradients(bad, { a }) end,
      "the gradient of 'bad_grad' (op bad_grad) for input 1 has shape [3], the input [2]")
    -- shapes unknown at build time: checked at run time
    local u = ts.placeholder { graph = g }
    local n = ts.placeholder { graph = g }
    local op = ts.Operation { type = "bad_grad2", inputs = { u }, compute = function(t) return t end,
      gradient = function() return { n } end }
    local du = ts.gradients(op, { u })[1]
    local sess <close> = ts.Session(g)
    H.tensor(sess:run(du, { [u] = ts.tensor { 1, 2 }, [n] = ts.tensor { 5, 6 } }), { 5, 6 })
    local err = H.fails(function()
      sess:run(du, { [u] = ts.tensor { 1, 2 }, [n] = ts.tensor { 5, 6, 7 } })
    end, "a gradient of shape [3] for an input of shape [2]")
    assert.truthy(err:find("bad_grad2", 1, true), err)
    -- the same through RegisterGradient
    ts.RegisterGradient("bad_grad3", function() return { n } end)
    local op3 = ts.Operation { type = "bad_grad3", inputs = { u }, compute = function(t) return t end }
    local du3 = ts.gradients(op3, { u })[1]
    H.fails(function()
      sess:run(du3, { [u] = ts.tensor { 1, 2 }, [n] = ts.tensor { 1 } })
    end, "a gradient of shape [1] for an input of shape [2]")
    -- built-in gradients get no check node
    local before = #g:nodes()
    ts.gradients(ts.exp(u), { u })
    for i = before + 1, #g:nodes() do
      assert.are_not.equal("ensure_shape_like", g:nodes()[i].op)
    end
  end)
end)
