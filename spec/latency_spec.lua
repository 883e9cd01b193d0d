-- Batch-1 inference (issue 19): a repeated run with unchanged feed shapes allocates nothing,
-- and the per-depth scratch it reuses neither keeps feeds alive nor mixes runs up.
local ts = require "tensorslow"

-- the 784-256-10 float32 MLP of bench/ts_bench.lua's batch1, random weights
local function mlp()
  ts.Graph():as_default()
  ts.seed(7)
  local x = ts.placeholder { shape = { 1, 784 }, dtype = "float32" }
  local W1 = ts.randn({ 784, 256 }, "float32") * 0.05
  local b1 = ts.randn({ 1, 256 }, "float32")
  local W2 = ts.randn({ 256, 10 }, "float32") * 0.05
  local b2 = ts.randn({ 1, 10 }, "float32")
  local y = ts.relu(x:matmul(ts.Variable(W1)) + ts.Variable(b1)):matmul(ts.Variable(W2))
    + ts.Variable(b2)
  -- the same product in Lua, row by row, in float64
  local function reference(xt)
    local h = {}
    for j = 1, 256 do
      local s = b1[1][j]
      for p = 1, 784 do s = s + xt[1][p] * W1[p][j] end
      h[j] = s > 0 and s or 0
    end
    local out = {}
    for j = 1, 10 do
      local s = b2[1][j]
      for p = 1, 256 do s = s + h[p] * W2[p][j] end
      out[j] = s
    end
    return out
  end
  return x, y, reference
end

local function close_to(t, want, tol)
  for j = 1, #want do
    local got = t[1][j]
    assert(math.abs(got - want[j]) <= tol * (1 + math.abs(want[j])),
      ("element %d: %.7g, expected %.7g"):format(j, got, want[j]))
  end
end

describe("batch-1 inference", function()
  it("a repeated run into an out= tensor allocates nothing, Lua objects or plan buffers", function()
    local x, y, reference = mlp()
    local s = ts.Session()
    local xt = ts.randn({ 1, 784 }, "float32")
    local feed = { [x] = xt }
    local out = ts.zeros({ 1, 10 }, "float32")
    local o = { out = out }
    s:run(y, feed, o)
    collectgarbage("collect")
    s:run(y, feed, o) -- the collection shrank the Lua stack: this run grows it back
    local a0 = s:stats().allocations
    collectgarbage("stop")
    local c0 = collectgarbage("count")
    for _ = 1, 200 do s:run(y, feed, o) end
    local c1 = collectgarbage("count")
    collectgarbage("restart")
    assert.are.equal(c0, c1)
    assert.are.equal(a0, s:stats().allocations)
    close_to(out, reference(xt), 1e-4)
    -- and the result equals a fresh run's, bit for bit
    assert.are.same(s:run(y, feed):totable(), out:totable())
  end)

  it("a new feed each run gives that feed's result, and the run keeps no feed alive", function()
    local x, y, reference = mlp()
    local s = ts.Session()
    local out = ts.zeros({ 1, 10 }, "float32")
    local weak = setmetatable({}, { __mode = "v" })
    for i = 1, 3 do
      local xt = ts.randn({ 1, 784 }, "float32")
      s:run(y, { [x] = xt }, { out = out })
      close_to(out, reference(xt), 1e-4)
      weak[i] = xt
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_nil(next(weak))
  end)

  it("a Lua table feed is converted to the placeholder's dtype each run", function()
    local x, y, reference = mlp()
    local s = ts.Session()
    local row = {}
    for p = 1, 784 do row[p] = ((p * 7) % 13 - 6) / 16 end
    local r = s:run(y, { [x] = { row } })
    assert.are.equal("float32", r.dtype)
    assert.are.same({ 1, 10 }, r.shape)
    close_to(r, reference(ts.tensor({ row }, "float32")), 1e-4)
  end)

  it("finalisers running the same session while a run collects its arguments do not mix runs", function()
    ts.Graph():as_default()
    local x = ts.placeholder { shape = { -1 } }
    local y = x * 2
    local s = ts.Session()
    local seen = {}
    local function litter(n)
      for i = 1, n do
        setmetatable({}, { __gc = function() seen[#seen + 1] = s:run(y, { [x] = { i } })[1] end })
      end
    end
    collectgarbage("incremental", 1, 1000) -- a collection step at almost every allocation
    for k = 1, 40 do
      litter(3)
      -- a Lua table feed and a fresh result: allocations, so finalisers run in between
      local r = s:run(y, { [x] = { k, k + 0.5, k + 0.25 } })
      assert.are.same({ 2 * k, 2 * k + 1, 2 * k + 0.5 }, r:totable())
    end
    collectgarbage("incremental", 200, 100)
    collectgarbage("collect")
    assert.is_true(#seen > 0)
    for _, v in ipairs(seen) do assert.is_true(v >= 2 and v <= 6 and v % 2 == 0) end
  end)
end)
