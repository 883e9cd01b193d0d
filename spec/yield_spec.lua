-- Runs that yield (issue 19): sess:run(fetch, feed, {yield_every = n} or
-- {yield_after_us = t}) inside a coroutine yields (no values) between plan
-- steps and resumes where it stopped; the results are the same bytes as a run
-- that never yields.
local ts = require "tensorslow"
local H = require "helpers"
local Session_mt = require("tensorslow.core").Session_mt
local Graph_mt = require("tensorslow.core").Graph_mt

local function values(n, k)
  local t = {}
  for i = 1, n do t[i] = math.sin(i * 0.37 + k) end
  return t
end

local function matrix(r, c, k, dtype)
  local t = {}
  for i = 1, r do t[i] = values(c, k + i) end
  return ts.tensor(t, dtype or "float32")
end

-- The bytes of a tensor (every element packed), to compare runs exactly.
local function bytes(t)
  local fmt = t.dtype == "float64" and "<d" or "<f"
  local out = {}
  local function walk(v)
    if type(v) == "table" then
      for _, x in ipairs(v) do walk(x) end
    else
      out[#out + 1] = string.pack(fmt, v)
    end
  end
  walk(t:totable())
  return table.concat(out)
end

-- Runs f in a coroutine to the end, counting the yields (each must yield nothing).
local function drive(f)
  local co = coroutine.create(f)
  local yields = 0
  while true do
    local res = table.pack(coroutine.resume(co))
    assert(res[1], res[2])
    if coroutine.status(co) == "dead" then return res[2], yields, res[3] end
    assert.equal(1, res.n, "a yield gives no values")
    yields = yields + 1
  end
end

-- An MLP (matmul, bias and relu: fused chains) and a small CNN.
local function mlp()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, name = "x", shape = { -1, 16 }, dtype = "float32" }
  local h = x
  for l = 1, 3 do
    local w = ts.constant(matrix(16, 16, l), { graph = g })
    local b = ts.constant(ts.tensor(values(16, l * 5), "float32"), { graph = g })
    h = ts.relu(ts.matmul(h, w) + b) * 0.5 + 0.25
  end
  return g, x, h, { [x] = matrix(5, 16, 9) }
end

local function cnn()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, name = "img", shape = { -1, 8, 8, 2 }, dtype = "float32" }
  local f = {}
  for a = 1, 3 do
    f[a] = {}
    for b = 1, 3 do
      f[a][b] = {}
      for c = 1, 2 do f[a][b][c] = values(4, a * 9 + b * 3 + c) end
    end
  end
  local y = ts.relu(ts.conv2d(x, ts.constant(ts.tensor(f, "float32"), { graph = g }),
                                 { strides = { 1, 1, 1, 1 }, padding = "SAME" }))
  y = ts.max_pool(y, { 1, 2, 2, 1 }, { 1, 2, 2, 1 }, "VALID")
  y = ts.reduce_mean(y, { 2, 3 })
  local img = {}
  for n = 1, 2 do
    img[n] = {}
    for i = 1, 8 do
      img[n][i] = {}
      for j = 1, 8 do img[n][i][j] = { math.sin(n + i * 0.5 + j), math.cos(n * i - j) } end
    end
  end
  return g, x, y, { [x] = ts.tensor(img, "float32") }
end

describe("sess:run with yield_every", function()
  for name, model in pairs { mlp = mlp, cnn = cnn } do
    it("gives the same bytes as a run that never yields (" .. name .. ")", function()
      local g, _, y, feed = model()
      local s = ts.Session(g)
      local want = bytes(s:run(y, feed))
      for _, n in ipairs { 1, 2, 3, 100 } do
        local r, yields = drive(function() return s:run(y, feed, { yield_every = n }) end)
        assert.equal(want, bytes(r))
        if n == 1 then assert.is_true(yields >= 3) end
        if n == 100 then assert.equal(0, yields) end
      end
      -- a second run over the cached plan, shapes unchanged
      local r = drive(function() return s:run(y, feed, { yield_every = 1 }) end)
      assert.equal(want, bytes(r))
      assert.same(0, s:stats().pinned)
      assert.same(0, s:stats().running)
    end)
  end

  it("yields once per n computing steps", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 3, 3 } }
    local y = x
    for _ = 1, 6 do y = ts.matmul(y, x) end -- 6 steps that compute, none fused
    local s = ts.Session(g)
    local feed = { [x] = { { 1, 0, 0 }, { 0, 2, 0 }, { 0, 0, 1 } } }
    local _, yields = drive(function() return s:run(y, feed, { yield_every = 1 }) end)
    assert.equal(5, yields)
    _, yields = drive(function() return s:run(y, feed, { yield_every = 2 }) end)
    assert.equal(2, yields)
    _, yields = drive(function() return s:run(y, feed, { yield_every = 6 }) end)
    assert.equal(0, yields)
  end)

  it("with yield_after_us, a time slice", function()
    local g, _, y, feed = mlp()
    local s = ts.Session(g)
    local want = bytes(s:run(y, feed))
    local r = drive(function() return s:run(y, feed, { yield_after_us = 1 }) end)
    assert.equal(want, bytes(r))
    local _, yields = drive(function() return s:run(y, feed, { yield_after_us = 10000000 }) end)
    assert.equal(0, yields)
  end)

  it("keeps the other options: profile, out, several fetches", function()
    local g, x, y, feed = mlp()
    local s = ts.Session(g)
    local want = bytes(s:run(y, feed))
    local out = ts.zeros({ 5, 16 }, "float32")
    local r = drive(function()
      return s:run({ a = y, b = x }, feed, { yield_every = 1, out = { a = out } })
    end)
    assert.equal(out, r.a)
    assert.equal(want, bytes(out))
    local res, _, prof = drive(function() return s:run(y, feed, { yield_every = 2, profile = true }) end)
    assert.equal(want, bytes(res))
    assert.is_true(#prof.steps > 0)
  end)

  it("is an error outside a coroutine, naming the option", function()
    local g, _, y, feed = mlp()
    local s = ts.Session(g)
    H.fails(function() return s:run(y, feed, { yield_every = 1 }) end,
            "run: yield_every needs a coroutine to yield from")
    H.fails(function() return s:run(y, feed, { yield_after_us = 5 }) end,
            "run: yield_after_us needs a coroutine to yield from")
    -- a C function in between cannot yield either
    local co = coroutine.wrap(function()
      return pcall(table.sort, { 1, 2 }, function() s:run(y, feed, { yield_every = 1 }) end)
    end)
    local ok, err = co()
    assert.is_false(ok)
    assert.matches("yield_every needs a coroutine", err)
    H.fails(function() return s:run(y, feed, { yield_every = 0 }) end,
            "run: yield_every must be a positive integer, got 0")
    H.fails(function() return s:run(y, feed, { yield_every = 1.5 }) end,
            "run: yield_every must be a positive integer, got 1.5")
    assert.same(0, s:stats().pinned)
  end)

  it("runs custom ops, which may run sessions themselves, between yields", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, name = "x", shape = { 4 } }
    local inner_g = ts.Graph()
    local ix = ts.placeholder { graph = inner_g, shape = { 4 } }
    local inner = ts.Session(inner_g)
    local iy = ts.exp(ix) * 2
    local op = ts.Operation { type = "nested", name = "nested", inputs = { ts.sqrt(x) }, shape = { 4 },
                              compute = function(t) return inner:run(iy, { [ix] = t }) + 1 end }
    local y = ts.tanh(op * 0.1) + ts.matmul(ts.reshape(x, { 1, 4 }), ts.reshape(x, { 4, 1 }))
    local s = ts.Session(g)
    local feed = { [x] = { 1, 2, 3, 4 } }
    local want = bytes(s:run(y, feed))
    local r, yields = drive(function() return s:run(y, feed, { yield_every = 1 }) end)
    assert.equal(want, bytes(r))
    assert.is_true(yields >= 3)
  end)

  it("a custom op's error ends a suspended run and releases its pin", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2 } }
    local fail = false
    local op = ts.Operation { type = "maybe", inputs = { ts.exp(x) }, shape = { 2 },
                              compute = function(t)
                                if fail then error({ code = 7 }) end
                                return t
                              end }
    local y = ts.sqrt(op) * 3
    local s = ts.Session(g)
    local co = coroutine.create(function() return s:run(y, { [x] = { 1, 2 } }, { yield_every = 1 }) end)
    assert.is_true(coroutine.resume(co))
    fail = true
    local ok, err
    repeat ok, err = coroutine.resume(co) until not ok or coroutine.status(co) == "dead"
    assert.is_false(ok)
    assert.same({ code = 7 }, err)
    assert.same(0, s:stats().pinned)
    assert.same(0, s:stats().running)
  end)
end)

describe("a suspended run", function()
  local function suspended(opts)
    local g, x, y, feed = mlp()
    local s = ts.Session(g)
    local want = bytes(s:run(y, feed))
    local co = coroutine.create(function() return s:run(y, feed, opts or { yield_every = 1 }) end)
    assert.is_true(coroutine.resume(co))
    assert.equal("suspended", coroutine.status(co))
    return { g = g, x = x, y = y, feed = feed, s = s, want = want, co = co }
  end

  local function finish(co)
    local ok, r
    repeat ok, r = coroutine.resume(co) until not ok or coroutine.status(co) == "dead"
    return ok, r
  end

  it("pins its plan: another run with the same fetches uses another plan", function()
    local e = suspended()
    assert.same(1, e.s:stats().pinned)
    assert.same(1, e.s:stats().running)
    -- the same fetches again, plain and yielding, while it is suspended
    assert.equal(e.want, bytes(e.s:run(e.y, e.feed)))
    assert.equal(e.want, bytes(drive(function() return e.s:run(e.y, e.feed, { yield_every = 2 }) end)))
    assert.same(2, e.s:stats().plans)
    local ok, r = finish(e.co)
    assert.is_true(ok, r)
    assert.equal(e.want, bytes(r))
    assert.same(0, e.s:stats().pinned)
    assert.same(0, e.s:stats().running)
  end)

  it("two suspended runs of one session interleaved step by step", function()
    local e = suspended()
    local co2 = coroutine.create(function() return e.s:run(e.y, e.feed, { yield_every = 1 }) end)
    local r1, r2
    repeat
      if coroutine.status(e.co) ~= "dead" then
        local ok, v = coroutine.resume(e.co)
        assert(ok, v)
        r1 = v or r1
      end
      if coroutine.status(co2) ~= "dead" then
        local ok, v = coroutine.resume(co2)
        assert(ok, v)
        r2 = v or r2
      end
    until coroutine.status(e.co) == "dead" and coroutine.status(co2) == "dead"
    assert.equal(e.want, bytes(r1))
    assert.equal(e.want, bytes(r2))
    assert.same(0, e.s:stats().pinned)
  end)

  it("the graph may grow meanwhile (the plan names existing nodes only)", function()
    local e = suspended()
    local z = ts.square(e.y) + 1 -- new nodes in the running graph
    assert.equal(e.g, z.graph)
    local ok, r = finish(e.co)
    assert.is_true(ok, r)
    assert.equal(e.want, bytes(r))
    assert.is_not_nil(e.s:run(z, e.feed))
  end)

  it("closing its session is an error at the next resume, and frees the plans", function()
    local e = suspended()
    e.s:close()
    H.fails(function() return e.s:run(e.y, e.feed) end, "run: the session is closed")
    local ok, err = coroutine.resume(e.co)
    assert.is_false(ok)
    assert.matches("run: the session was closed while the run was suspended", err)
    assert.same(0, e.s:stats().running)
    assert.same(0, e.s:stats().plans)
  end)

  it("its graph freed by hand is an error at the next resume", function()
    local e = suspended()
    Graph_mt.__gc(e.g)
    local ok, err = coroutine.resume(e.co)
    assert.is_false(ok)
    assert.matches("run %(resumed%): the session's graph has been freed", err)
    assert.same(0, e.s:stats().running)
  end)

  it("a feed freed by hand is an error at the next resume", function()
    local e = suspended()
    local t = ts.tensor({ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } }, "float32")
    local co = coroutine.create(function() return e.s:run(e.y, { [e.x] = t }, { yield_every = 1 }) end)
    assert.is_true(coroutine.resume(co))
    require("tensorslow.core").Tensor_mt.__gc(t)
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.matches("freed", err)
    finish(e.co)
    assert.same(0, e.s:stats().pinned)
  end)

  it("coroutine.close ends it and releases the pin", function()
    local e = suspended()
    assert.is_true(coroutine.close(e.co))
    assert.same(0, e.s:stats().pinned)
    assert.same(0, e.s:stats().running)
    assert.equal(e.want, bytes(e.s:run(e.y, e.feed)))
  end)

  it("a coroutine never resumed again and collected releases the pin", function()
    local e = suspended()
    e.co = nil
    collectgarbage()
    collectgarbage()
    assert.same(0, e.s:stats().pinned)
    assert.same(0, e.s:stats().running)
    assert.equal(e.want, bytes(e.s:run(e.y, e.feed)))
    -- session, graph and coroutine collected together
    local weak = setmetatable({ suspended() }, { __mode = "v" })
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
  end)

  it("resumed with values ignores them", function()
    local e = suspended()
    local ok, r
    repeat ok, r = coroutine.resume(e.co, "x", 1, {}) until not ok or coroutine.status(e.co) == "dead"
    assert.is_true(ok, r)
    assert.equal(e.want, bytes(r))
  end)

  it("a session's __gc called by hand meanwhile", function()
    local e = suspended()
    Session_mt.__gc(e.s)
    local ok, err = coroutine.resume(e.co)
    assert.is_false(ok)
    assert.matches("the session was closed while the run was suspended", err)
    assert.same(0, e.s:stats().running)
  end)
end)
