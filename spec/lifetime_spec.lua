-- Lifetimes and re-entrancy: nodes and sessions past their graph, finalisers
-- called by hand, sessions used from inside a custom op's compute.
local ts = require "tensorslow"
local H = require "helpers"
local core = require "tensorslow.core"

local Graph_mt, Session_mt = core.Graph_mt, core.Session_mt

-- Keeps what a finaliser resurrects: `make(keep)` builds objects and stores
-- them in keep; keep becomes garbage together with them, and its __gc hands
-- them back after the collector has finalised (freed) the graph.
local function resurrect(make)
  local got
  do
    local keep = setmetatable({}, { __gc = function(h) got = h end })
    make(keep)
  end
  collectgarbage()
  collectgarbage()
  return got
end

describe("a node outliving its graph", function()
  it("is a clean error everywhere (resurrected from a finaliser)", function()
    local got = resurrect(function(keep)
      local g = ts.Graph()
      keep.g = g
      keep.n = ts.placeholder { graph = g, name = "x", shape = { 2 } }
      keep.v = ts.Variable({ 1, 2 }, { graph = g, name = "w" })
      keep.s = ts.Session(g)
    end)
    assert.is_table(got)
    local n, v, s, g = got.n, got.v, got.s, got.g
    H.fails(function() return n.name end, "node 'x': its graph has been freed")
    H.fails(function() return n.shape end, "its graph has been freed")
    H.fails(function() return tostring(n) end, "node 'x': its graph has been freed")
    H.fails(function() return n.inputs end, "its graph has been freed")
    H.fails(function() return v:value() end, "node 'w': its graph has been freed")
    H.fails(function() return v:assign({ 3, 4 }) end, "node 'w': its graph has been freed")
    H.fails(function() return core.node(g, "negative", nil, nil, n) end, "graph has been freed")
    H.fails(function() return core.node(ts.Graph(), "negative", nil, nil, n) end,
      "node 'x': its graph has been freed")
    H.fails(function() return n + 1 end, "its graph has been freed")
    H.fails(function() return g:nodes() end, "graph has been freed")
    H.fails(function() return tostring(g) end, "graph has been freed")
    H.fails(function() return #g end, "graph has been freed")
    -- the collector finalised (closed) the session with the graph
    H.fails(function() return s:run(v) end, "run: the session is closed")
    H.fails(function() return s:plan_steps(v) end, "plan_steps: the session is closed")
    H.fails(function() return ts.Session(g) end, "graph has been freed")
    -- the session still closes, twice
    s:close()
    s:close()
    assert.truthy(tostring(s):find("closed", 1, true))
  end)

  it("the issue's repro: a placeholder kept by a finaliser", function()
    local got = resurrect(function(keep)
      local g = ts.Graph()
      keep.n = ts.placeholder { graph = g }
    end)
    H.fails(function() return tostring(got.n) end, "node 'placeholder': its graph has been freed")
  end)

  it("a node of a graph freed by hand, used as a fetch, a feed or an input", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, name = "px", shape = { 1 } }
    local g2 = ts.Graph()
    local s2 = ts.Session(g2)
    local y = ts.placeholder { graph = g2, name = "py", shape = { 1 } }
    Graph_mt.__gc(g)
    Graph_mt.__gc(g) -- twice is harmless
    H.fails(function() return s2:run(x) end, "node 'px': its graph has been freed")
    H.fails(function() return s2:run(y, { [x] = { 1 } }) end, "node 'px': its graph has been freed")
    H.fails(function() return s2:run({ x }) end, "node 'px': its graph has been freed")
    H.fails(function() return core.node(g2, "add", nil, nil, y, x) end,
      "node 'px': its graph has been freed")
    H.fails(function() return x.graph:size() end, "graph has been freed")
    H.tensor(s2:run(y, { [y] = { 5 } }), { 5 })
  end)
end)

describe("a tensor outliving a collection", function()
  -- Small tensors (their data inside the userdata, under 128 KiB) are not
  -- finalised: a finaliser that resurrects one gets it whole. A large one
  -- gave its block back to the cache when the collector finalised it, and a
  -- view (of either) was finalised too: both are then clean errors.
  it("small: kept whole; large: a clean 'tensor has been freed' error", function()
    local got = resurrect(function(keep)
      keep.small = ts.tensor({ { 1, 2 }, { 3, 4 } }, "float32")
      keep.view = keep.small[2]
      keep.big = ts.fill({ 256, 256 }, 7)
    end)
    assert.is_table(got)
    H.tensor(got.small, { { 1, 2 }, { 3, 4 } })
    assert.equal("float32", got.small.dtype)
    H.fails(function() return got.view:sum() end, "tensor has been freed")
    H.tensor(got.small + 1, { { 2, 3 }, { 4, 5 } })
    H.fails(function() return got.big:sum() end, "tensor has been freed")
    H.fails(function() return tostring(got.big) end, "tensor has been freed")
  end)

  it("small: __gc called by hand still frees it, twice harmlessly", function()
    local t = ts.tensor({ 1, 2, 3 })
    local gc = core.Tensor_mt.__gc
    gc(t)
    gc(t)
    H.fails(function() return t:sum() end, "tensor has been freed")
  end)
end)

describe("finalisers called by hand", function()
  it("a graph's __gc makes its sessions and nodes clean errors", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, name = "x", shape = { 2 } }
    local y = ts.exp(x)
    local s = ts.Session(g)
    H.tensor(s:run(y, { [x] = { 0, 0 } }), { 1, 1 })
    Graph_mt.__gc(g)
    H.fails(function() return s:run(y, { [x] = { 0, 0 } }) end, "run: the session's graph has been freed")
    H.fails(function() return s:plan_steps(y) end, "plan_steps: the session's graph has been freed")
    H.fails(function() return y.op end, "node 'exp': its graph has been freed")
    H.fails(function() return g:get("x") end, "graph has been freed")
    H.fails(function() return ts.placeholder { graph = g } end, "graph has been freed")
    H.fails(function()
      return ts.Operation { type = "t", inputs = { x }, compute = function(a) return a end }
    end, "its graph has been freed")
    s:close()
  end)

  it("a session's __gc is close: idempotent, later runs are clean errors", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 1 } }
    local s = ts.Session(g)
    H.tensor(s:run(-x, { [x] = { 2 } }), { -2 })
    Session_mt.__gc(s)
    Session_mt.__gc(s)
    Session_mt.__close(s)
    H.fails(function() return s:run(-x, { [x] = { 2 } }) end, "run: the session is closed")
    assert.same(0, s:stats().plans)
  end)
end)

-- A graph with a custom op whose compute calls hook (when set) before
-- answering x + 1; the op feeds a fused chain.
local function hooked()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, name = "x", shape = { 4 } }
  local env = { g = g, x = x }
  env.op = ts.Operation { type = "hooked", name = "hook", inputs = { x }, shape = { 4 },
                          compute = function(t)
                            if env.hook then env.hook(t) end
                            return t + 1
                          end }
  env.y = ts.exp(ts.negative(env.op) * 2 + 1) -- a fused group after the op
  env.s = ts.Session(g)
  return env
end
local X = { 0, 1, 2, 3 }
local function expect_y(t)
  local r = {}
  for i, v in ipairs(X) do r[i] = math.exp(-(v + 1) * 2 + 1) end
  H.tensor(t, r, "float64", 1e-12)
end

describe("re-entrancy from a custom op", function()
  it("close inside a compute is deferred until the run returns", function()
    local env = hooked()
    env.hook = function() env.s:close() end
    expect_y(env.s:run(env.y, { [env.x] = X }))
    H.fails(function() return env.s:run(env.y, { [env.x] = X }) end, "run: the session is closed")
    assert.same(0, env.s:stats().plans)
  end)

  it("__gc of the session and of the graph inside a compute", function()
    local env = hooked()
    env.hook = function()
      Session_mt.__gc(env.s)
      Graph_mt.__gc(env.g)
      -- the graph is gone for everything else at once
      H.fails(function() return env.x.name end, "its graph has been freed")
    end
    expect_y(env.s:run(env.y, { [env.x] = X }))
    H.fails(function() return env.s:run(env.y, { [env.x] = X }) end, "run: the session is closed")
    H.fails(function() return tostring(env.g) end, "graph has been freed")
  end)

  it("the same session run again inside a compute (same and other fetches)", function()
    local env = hooked()
    local inner = {}
    local others = {}
    for i = 1, 40 do others[i] = env.x * i end -- more plans than the cache keeps
    env.hook = function(t)
      env.hook = nil -- one level
      inner[1] = env.s:run(env.y, { [env.x] = { 9, 9, 9, 9 } })
      for i = 1, 40 do inner[i + 1] = env.s:run(others[i], { [env.x] = t }) end
    end
    expect_y(env.s:run(env.y, { [env.x] = X }))
    H.close(math.exp(-20 + 1), inner[1]:totable()[1], 1e-12)
    for i = 1, 40 do H.tensor(inner[i + 1], { 0 * i, 1 * i, 2 * i, 3 * i }) end
    -- and again, from the cache, the results are still right
    expect_y(env.s:run(env.y, { [env.x] = X }))
  end)

  it("a recursive run without end is a clean error and the session is usable after", function()
    local env = hooked()
    env.hook = function() env.s:run(env.y, { [env.x] = X }) end
    H.fails(function() env.s:run(env.y, { [env.x] = X }) end, "op 'hook' failed")
    env.hook = nil
    expect_y(env.s:run(env.y, { [env.x] = X }))
  end)

  it("coroutine.yield across a compute is a clean error, the session works after", function()
    local env = hooked()
    env.hook = function() coroutine.yield(1) end
    local co = coroutine.create(function() return env.s:run(env.y, { [env.x] = X }) end)
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("yield across a C-call boundary", 1, true))
    env.hook = nil
    expect_y(env.s:run(env.y, { [env.x] = X }))
  end)

  it("an error in a compute before a fused group; a rerun is right", function()
    local env = hooked()
    local n = 0
    env.hook = function() n = n + 1; if n == 1 then error("first time") end end
    H.fails(function() env.s:run(env.y, { [env.x] = X }) end, "first time")
    expect_y(env.s:run(env.y, { [env.x] = X }))
    expect_y(env.s:run(env.y, { [env.x] = X }))
  end)

  it("collectgarbage inside a compute, with garbage sessions and graphs about", function()
    local env = hooked()
    env.hook = function()
      for _ = 1, 5 do
        local g = ts.Graph()
        local s = ts.Session(g)
        s:run(ts.constant(1, { graph = g }) + 1)
      end
      collectgarbage()
      collectgarbage()
    end
    for _ = 1, 3 do expect_y(env.s:run(env.y, { [env.x] = X })) end
  end)

  it("a finaliser running the session while results are copied", function()
    local env = hooked()
    local big = env.x * 1 -- results are copied after the run
    local hits = 0
    for _ = 1, 20 do
      setmetatable({}, { __gc = function()
        hits = hits + 1
        pcall(env.s.run, env.s, { big, env.y }, { [env.x] = { 7, 7, 7, 7 } })
        pcall(env.s.close, env.s)
      end })
      local ok, r = pcall(env.s.run, env.s, { env.y, big }, { [env.x] = X })
      if ok then
        expect_y(r[1])
        H.tensor(r[2], X)
      else
        assert.truthy(tostring(r):find("session is closed", 1, true))
      end
      collectgarbage()
    end
    assert.is_true(hits > 0)
  end)
end)

describe("custom op results", function()
  it("a result of another shape than declared is an error naming the op", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 3 } }
    local c = ts.Operation { type = "liar", name = "liar", inputs = { x }, shape = { 3 },
                             compute = function() return ts.ones { 1 } end }
    local y = ts.exp(ts.negative(c + ts.constant({ 1, 2, 3 }, { graph = g })) * 2)
    local s <close> = ts.Session(g)
    H.fails(function() s:run(y, { [x] = { 1, 2, 3 } }) end,
      "custom op 'liar': returned float64 [1], declared float64 [3]")
  end)

  it("and of another dtype", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2 }, dtype = "float32" }
    local c = ts.Operation { type = "liar", name = "liar32", inputs = { x },
                             compute = function() return ts.ones({ 2 }, "float64") end }
    local s <close> = ts.Session(g)
    H.fails(function() s:run(c, { [x] = { 1, 2 } }) end,
      "custom op 'liar32': returned float64 [2], declared float32")
  end)

  it("unknown dimensions take any size; a Lua table takes the declared dtype", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32" }
    local c = ts.Operation { type = "free", inputs = { x }, shape = { -1, 2 },
                             compute = function() return { { 1, 2 }, { 3, 4 }, { 5, 6 } } end }
    local s <close> = ts.Session(g)
    H.tensor(s:run(c * 2, { [x] = { 1 } }), { { 2, 4 }, { 6, 8 }, { 10, 12 } }, "float32")
    local d = ts.Operation { type = "rank", name = "rank", inputs = { x }, shape = { -1, 2 },
                             compute = function() return { 1, 2 } end }
    H.fails(function() s:run(d, { [x] = { 1 } }) end,
      "custom op 'rank': returned float32 [2], declared float32 [?, 2]")
  end)
end)

describe("run's fetch table", function()
  it("mixing array and string keys is an error", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 1 } }
    local s <close> = ts.Session(g)
    H.fails(function() s:run({ x, y = -x }, { [x] = { 1 } }) end,
      "run: a fetch table must be an array or have string keys, not both")
    H.fails(function() s:run({ x, [3] = -x }, { [x] = { 1 } }) end,
      "run: a fetch table must be an array or have string keys, not both")
    local r = s:run({ a = x, b = -x }, { [x] = { 1 } })
    H.tensor(r.b, { -1 })
  end)

  it("a fetch table's __len and __index are not consulted", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 1 } }
    local s <close> = ts.Session(g)
    local t = setmetatable({ x }, { __len = function() return 1e9 end,
                                    __index = function() return x end })
    local r = s:run(t, { [x] = { 4 } })
    assert.same(1, #r)
    H.tensor(r[1], { 4 })
  end)
end)
