-- Memory a host can budget (issue 19): sess:plan_memory(fetch, feed_shapes)
-- gives the bytes a run needs before running it. The allocator's own peak is
-- compared in tests/plan_memory.c (a counting host allocator: exact for the
-- MLP and the CNN); here, the figures against what the plans hold after the
-- run (sess:stats().bytes) and the results' sizes.
local ts = require "tensorslow"
local H = require "helpers"

local HEADER = 128 -- each block's alignment header (tsi_malloc)

local function mlp()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, name = "x", shape = { -1, 784 }, dtype = "float32" }
  local w1 = ts.Variable(ts.fill({ 784, 256 }, 0.01, "float32"), { graph = g })
  local b1 = ts.Variable(ts.fill({ 256 }, 0.1, "float32"), { graph = g })
  local w2 = ts.Variable(ts.fill({ 256, 10 }, 0.02, "float32"), { graph = g })
  local y = ts.softmax(ts.matmul(ts.relu(ts.matmul(x, w1) + b1), w2))
  return g, x, y, 784
end

local function cnn()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, name = "img", shape = { -1, 28, 28, 1 }, dtype = "float32" }
  local f1 = ts.Variable(ts.fill({ 5, 5, 1, 16 }, 0.04, "float32"), { graph = g })
  local f2 = ts.Variable(ts.fill({ 5, 5, 16, 32 }, 0.01, "float32"), { graph = g })
  local w = ts.Variable(ts.fill({ 7 * 7 * 32, 10 }, 0.001, "float32"), { graph = g })
  local same = { strides = { 1, 1, 1, 1 }, padding = "SAME" }
  local h = ts.max_pool(ts.relu(ts.conv2d(x, f1, same)), { 1, 2, 2, 1 }, { 1, 2, 2, 1 }, "VALID")
  h = ts.max_pool(ts.relu(ts.conv2d(h, f2, same)), { 1, 2, 2, 1 }, { 1, 2, 2, 1 }, "VALID")
  local y = ts.softmax(ts.matmul(ts.reshape(h, { -1, 7 * 7 * 32 }), w))
  return g, x, y, { 28, 28, 1 }
end

local function dims(batch, rest)
  local d = { batch }
  if type(rest) == "number" then d[2] = rest else for i, v in ipairs(rest) do d[i + 1] = v end end
  return d
end

describe("sess:plan_memory", function()
  for name, model in pairs { mlp = mlp, cnn = cnn } do
    for _, batch in ipairs { 1, 32 } do
      it(("matches what a run allocates (%s, batch %d)"):format(name, batch), function()
        local g, x, y, rest = model()
        local s = ts.Session(g)
        local total, m = s:plan_memory(y, { [x] = dims(batch, rest) })
        assert.equal(m.total, total)
        assert.equal(m.buffers + m.work + m.results, total)
        assert.equal(0, s:stats().bytes) -- the plan is built, nothing allocated yet
        local r = s:run(y, { [x] = ts.fill(dims(batch, rest), 0.5, "float32") })
        assert.equal(m.buffers + m.work, s:stats().bytes)
        assert.equal(r:numel() * 4 + HEADER, m.results)
        if name == "cnn" then assert.is_true(m.work > 0) end
        -- the same again (the plan's buffers are there): the same figure
        assert.equal(total, (s:plan_memory(y, { [x] = dims(batch, rest) })))
      end)
    end
  end

  it("grows with the batch and takes tensors as shapes", function()
    local g, x, y = mlp()
    local s = ts.Session(g)
    local small = s:plan_memory(y, { [x] = { 1, 784 } })
    local big = s:plan_memory(y, { [x] = { 100, 784 } })
    assert.is_true(big > 50 * small / 2)
    assert.equal(big, (s:plan_memory(y, { [x] = ts.zeros({ 100, 784 }, "float32") })))
    assert.equal(big, (s:plan_memory({ y }, { [x] = { 100, 784 } })))
  end)

  it("counts every fetch's result and reads sources' own shapes", function()
    local g = ts.Graph()
    local v = ts.Variable(ts.zeros { 10, 10 }, { graph = g })
    local y = ts.exp(v) * 2
    local s = ts.Session(g)
    local total, m = s:plan_memory({ y, v })
    assert.equal(2 * (800 + HEADER), m.results)
    assert.equal(m.buffers + m.work + m.results, total)
  end)

  it("errors name the problem", function()
    local g, x, y = mlp()
    local s = ts.Session(g)
    H.fails(function() return s:plan_memory(y, { [x] = { 2, 3 } }) end,
            "placeholder 'x' expects shape [?, 784], was fed shape [2, 3]")
    H.fails(function() return s:plan_memory(y, { [x] = { 2, -1 } }) end, "plan_memory")
    H.fails(function() return s:plan_memory(y, { x = { 2, 784 } }) end,
            "plan_memory: feed_shapes keys must be placeholder nodes, got string")
    H.fails(function() return s:plan_memory(y) end, "placeholder 'x'")
    s:close()
    H.fails(function() return s:plan_memory(y, { [x] = { 2, 784 } }) end,
            "plan_memory: the session is closed")
  end)

  it("custom ops: their declared shape, or an error when it is not whole", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, name = "x", shape = { 5 } }
    local known = ts.Operation { type = "k", name = "known", inputs = { x }, shape = { 5 },
                                 compute = function(t) return t * 2 end }
    local open = ts.Operation { type = "u", name = "open", inputs = { x }, shape = { -1 },
                                compute = function(t) return t * 2 end }
    local s = ts.Session(g)
    local total, m = s:plan_memory(ts.exp(known), { [x] = { 5 } })
    assert.equal(m.buffers + m.work + m.results, total)
    s:run(ts.exp(known), { [x] = { 1, 2, 3, 4, 5 } })
    H.fails(function() return s:plan_memory(ts.exp(open), { [x] = { 5 } }) end,
            "plan_memory: custom 'open': its output shape is known only while running")
  end)
end)
