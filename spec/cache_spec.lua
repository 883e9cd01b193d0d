-- The per-state cache of freed tensor blocks (tensor data of TSI_CACHE_MIN =
-- 128 KB and more): reuse, emptying, the cap, no block shared by two live
-- tensors, and a collector that still learns of every block.
local ts = require "tensorslow"
local core = require "tensorslow.core"

local gc = core.Tensor_mt.__gc -- frees a tensor now, as the collector would
local BIG = 1 << 16 -- float64 elements: 512 KB, cached when freed

local function rss_mib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")) / 1024
end

describe("the tensor cache", function()
  before_each(function() collectgarbage() end)

  it("keeps a freed block and hands it to the next tensor of its size class", function()
    local n0 = core.cache_info()
    assert.equal(0, n0)
    local t = ts.fill({ BIG }, 5)
    gc(t)
    local n, bytes = core.cache_info()
    assert.equal(1, n)
    assert.is_true(bytes >= BIG * 8 and bytes < BIG * 8 * 9 / 8)
    -- a slightly smaller float32 tensor is in the same class: it gets that block
    local u = ts.ones({ BIG * 2 - 1000 }, "float32")
    assert.equal(0, (core.cache_info()))
    assert.equal(BIG * 2 - 1000, ts.reduce_sum(u):item())
    -- a small tensor never comes from (nor goes to) the cache
    gc(u)
    local s = ts.ones({ 100 })
    gc(s)
    assert.equal(1, (core.cache_info()))
  end)

  it("is emptied by collectgarbage()", function()
    local a, b = ts.zeros({ BIG }), ts.zeros({ 3 * BIG })
    gc(a)
    gc(b)
    assert.equal(2, (core.cache_info()))
    collectgarbage()
    local n, bytes = core.cache_info()
    assert.equal(0, n)
    assert.equal(0, bytes)
  end)

  it("is empty after collectgarbage(), even of the tensors that collection finalised", function()
    -- the state's sentinel (the newest object with a finaliser) empties the cache first in
    -- the cycle; the tensors finalised after it must free their blocks, not keep them
    local keep = {}
    for i = 1, 6 do keep[i] = ts.zeros({ BIG * i }) end
    assert.equal(6, #keep)
    keep = nil -- luacheck: ignore 311
    collectgarbage()
    local n, bytes = core.cache_info()
    assert.equal(0, n)
    assert.equal(0, bytes)
    -- and the next allocation turns caching back on
    local t = ts.zeros({ BIG })
    gc(t)
    assert.equal(1, (core.cache_info()))
  end)

  it("keeps at most its cap", function()
    local keep = {}
    for i = 1, 40 do keep[i] = ts.zeros({ 4 * BIG }) end -- 2 MB each, 80 MB
    for i = 1, 40 do gc(keep[i]) end
    local n, bytes, cap = core.cache_info()
    assert.is_true(cap > 0)
    assert.is_true(bytes <= cap, bytes)
    assert.is_true(n <= 32 and n > 0, n)
  end)

  it("never gives a live tensor's block to another (random frees, views, results)", function()
    local rng = ts.Graph() -- unrelated object: the collector has other work too
    math.randomseed(18)
    local sizes = { BIG, BIG + 7, 2 * BIG, 3 * BIG - 5, 5 * BIG, 100 }
    local live, zombies = {}, {} -- live: { tensor, its value }; zombies: views of freed bases
    local function check(e)
      local t, v = e[1], e[2]
      local n = t:numel()
      assert.equal(v, t:get(1))
      assert.equal(v, t:get(n))
      assert.equal(v, t:get((n + 1) // 2))
    end
    for step = 1, 400 do
      local r = math.random()
      if r < 0.45 or #live == 0 then
        local n = sizes[math.random(#sizes)]
        local dt = math.random() < 0.5 and "float32" or "float64"
        local t = math.random() < 0.5 and ts.fill({ n }, step, dt) or ts.fill({ n }, step - 1, dt) + 1
        live[#live + 1] = { t, step }
      elseif r < 0.75 then
        local i = math.random(#live)
        gc(live[i][1])
        table.remove(live, i)
      elseif r < 0.8 then
        -- a base freed by hand while a view is left: its block is held until
        -- the view goes (views of a freed base are dead, never dangling)
        local i = math.random(#live)
        local t = live[i][1]
        local v = t:reshape({ 1, t:numel() })
        gc(t)
        assert.is_false(pcall(v.get, v, 1, 1))
        table.remove(live, i)
        zombies[#zombies + 1] = v
      elseif r < 0.85 and #zombies > 0 then
        gc(table.remove(zombies, math.random(#zombies)))
      elseif r < 0.9 then
        -- a view freed first: its live base keeps its block
        local e = live[math.random(#live)]
        gc(e[1]:reshape({ e[1]:numel(), 1 }))
      elseif r < 0.95 then
        local i = math.random(#live)
        table.remove(live, i) -- dropped: the collector frees it some time
      else
        collectgarbage("step", 1 << 10)
      end
      for _, e in ipairs(live) do check(e) end
      if step % 50 == 0 then
        for _, e in ipairs(live) do
          local t, v = e[1], e[2]
          assert.equal(v, ts.reduce_min(t):item())
          assert.equal(v, ts.reduce_max(t):item())
        end
      end
    end
    assert.is_not_nil(rng)
  end)

  it("lets the collector see dropped results (memory stays bounded)", function()
    local before = rss_mib()
    for i = 1, 150 do
      local t = ts.fill({ 1 << 20 }, i) -- 8 MB, 1.2 GB in all
      assert.equal(i, t:get(1 << 20))
    end
    local _, bytes, cap = core.cache_info()
    assert.is_true(bytes <= cap)
    local grown = rss_mib() - before
    assert.is_true(grown < 300, ("RSS grew by %.0f MiB"):format(grown))
  end)
end)
