-- Lifetime/re-entrancy fuzzer: seeded random programs over graphs, nodes,
-- sessions, tensors, views and custom ops that drop references, collect,
-- resurrect objects from finalisers, call finalisers by hand, and run, close
-- and free things from inside custom ops, in every order. Each step either
-- succeeds or raises a clean Lua error (a string); a run that succeeds
-- returns the values a plain Lua model of the graph computes. Under the ASan
-- suite this is where a use after free would show.
local ts = require "tensorslow"
local H = require "helpers"

local core = require "tensorslow.core"
local Graph_mt, Session_mt, Tensor_mt = core.Graph_mt, core.Session_mt, core.Tensor_mt
local PROGRAMS = tonumber(os.getenv("TS_LIFETIME_PROGRAMS") or "") or 200
local STEPS = 40

-- One program. rnd(n) is 1..n from the program's seed.
local function program(seed)
  local rng = { s = seed }
  local function rnd(n)
    rng.s = (rng.s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (rng.s >> 20) % n + 1
  end
  local function pick(t)
    if #t == 0 then return nil end
    return t[rnd(#t)]
  end
  local function drop(t)
    if #t > 0 then table.remove(t, rnd(#t)) end
  end
  local function vals() return { rnd(7) - 4, rnd(7) - 4, rnd(5) - 1, 0.5 * rnd(4) } end

  -- Pools of records; a node record is {n=node, g=graph record, ev=function(feeds)}
  -- (ev: its value as 4 Lua numbers, for the feeds given by placeholder record).
  local P = { graphs = {}, nodes = {}, sessions = {}, tensors = {}, zombies = {} }
  local checked, errors = 0, 0

  local function nodes_of(gr)
    local r = {}
    for _, n in ipairs(P.nodes) do if n.g == gr then r[#r + 1] = n end end
    return r
  end

  -- Hostile things a compute or a finaliser does (errors caught: a finaliser's
  -- would only be a warning, a compute's is checked by the run's own pcall).
  local hostile
  local function run_one()
    local s, n = pick(P.sessions), pick(P.nodes)
    if s and n then pcall(s.s.run, s.s, n.n) end
  end
  local hostile_acts = {
    function() end,
    function() end,
    run_one,
    function() local s = pick(P.sessions); if s then s.s:close() end end,
    function() collectgarbage() end,
    function() collectgarbage("step", 10) end,
    function() local g = pick(P.graphs); if g then Graph_mt.__gc(g.g) end end,
    function() local s = pick(P.sessions); if s then Session_mt.__gc(s.s) end end,
    function() local t = pick(P.tensors); if t then pcall(Tensor_mt.__gc, t) end end,
    function() drop(P.nodes); drop(P.sessions); drop(P.graphs) end,
  }
  hostile = function()
    local k = rnd(3 * #hostile_acts) -- mostly nothing
    if k <= #hostile_acts then hostile_acts[k]() end
  end

  local function make_graph()
    local gr = { g = ts.Graph(), ph = {} }
    P.graphs[#P.graphs + 1] = gr
    return gr
  end

  local function add_node(gr, n, ev) P.nodes[#P.nodes + 1] = { n = n, g = gr, ev = ev } end

  local actions = {
    make_graph,
    function() -- placeholder
      local gr = pick(P.graphs) or make_graph()
      local x = ts.placeholder { graph = gr.g, shape = { 4 } }
      gr.ph[#gr.ph + 1] = x
      add_node(gr, x, function(f) return f[x] end)
    end,
    function() -- variable / constant
      local gr = pick(P.graphs) or make_graph()
      local v = vals()
      local n = rnd(2) == 1 and ts.Variable(v, { graph = gr.g }) or ts.constant(v, { graph = gr.g })
      add_node(gr, n, function() return v end)
    end,
    function() -- binary op (the operands may belong to different graphs)
      local a, b = pick(P.nodes), pick(P.nodes)
      if not a or not b then return end
      local op = rnd(2)
      local n = op == 1 and a.n + b.n or a.n * b.n
      add_node(a.g, n, function(f)
        local x, y, r = a.ev(f), b.ev(f), {}
        if not x or not y then return nil end -- a lying op upstream: the run fails
        for i = 1, 4 do r[i] = op == 1 and x[i] + y[i] or x[i] * y[i] end
        return r
      end)
    end,
    function() -- a fused chain
      local a = pick(P.nodes)
      if not a then return end
      local n = ts.negative(a.n) * 2 + 1
      add_node(a.g, n, function(f)
        local x, r = a.ev(f), {}
        if not x then return nil end
        for i, v in ipairs(x) do r[i] = -v * 2 + 1 end
        return r
      end)
    end,
    function() -- custom op doing hostile things, maybe returning a lie
      local a = pick(P.nodes)
      if not a then return end
      local lie = rnd(8) == 1
      local n = ts.Operation { type = "fuzz", inputs = { a.n }, shape = { 4 },
                               compute = function(t)
                                 hostile()
                                 if lie then return ts.ones { 1 } end
                                 return t + 1
                               end }
      add_node(a.g, n, function(f)
        local x, r = a.ev(f), {}
        if lie or not x then return nil end
        for i, v in ipairs(x) do r[i] = v + 1 end
        return r
      end)
    end,
    function() -- session
      local gr = pick(P.graphs)
      if gr then P.sessions[#P.sessions + 1] = { s = ts.Session(gr.g), g = gr } end
    end,
    function() -- run, checking values against the model
      local s = pick(P.sessions)
      if not s or rnd(4) == 1 then -- a fresh session, often
        local gr = pick(P.graphs)
        if not gr then return end
        s = { s = ts.Session(gr.g), g = gr }
        P.sessions[#P.sessions + 1] = s
      end
      local ns = nodes_of(s.g)
      local fetch = {}
      for i = 1, rnd(3) do fetch[i] = pick(ns) end
      if #fetch == 0 then return end
      local feeds, model = {}, {}
      for _, x in ipairs(s.g.ph) do
        local v = vals()
        model[x] = v
        local how = rnd(3)
        if how == 1 then
          feeds[x] = v
        else
          local t = ts.tensor({ { v[1], v[2] }, { v[3], v[4] } })
          P.tensors[#P.tensors + 1] = t
          feeds[x] = how == 2 and t:reshape { 4 } or ts.tensor(v)
          P.tensors[#P.tensors + 1] = feeds[x]
        end
      end
      local want = {}
      for i, f in ipairs(fetch) do want[i] = f.ev(model) end
      local nodes = {}
      for i, f in ipairs(fetch) do nodes[i] = f.n end
      local r = s.s:run(nodes, feeds)
      for i = 1, #fetch do -- outside the step's pcall: a wrong value fails the spec
        if not want[i] then P.bad = "a run with a lying custom op succeeded" end
        local ok, err = pcall(H.tensor, r[i], want[i], "float64", 1e-12)
        if not ok then P.bad = err end
        checked = checked + 1
      end
    end,
    function() local s = pick(P.sessions); if s then s.s:close() end end,
    function() drop(P.nodes) end,
    function() drop(P.graphs) end,
    function() drop(P.sessions) end,
    function() drop(P.tensors) end,
    function() collectgarbage() end,
    function() -- an object resurrecting records (and acting) from its finaliser
      local keep = { n = pick(P.nodes), s = pick(P.sessions), g = pick(P.graphs), t = pick(P.tensors) }
      setmetatable(keep, { __gc = function(h)
        P.zombies[#P.zombies + 1] = h
        if rnd(2) == 1 then pcall(hostile, 1) end
      end })
      drop(P.nodes); drop(P.sessions); drop(P.graphs)
    end,
    function() -- bring the resurrected back into the pools
      local z = pick(P.zombies)
      if not z then return end
      if z.n then P.nodes[#P.nodes + 1] = z.n end
      if z.s then P.sessions[#P.sessions + 1] = z.s end
      if z.g then P.graphs[#P.graphs + 1] = z.g end
      if z.t then P.tensors[#P.tensors + 1] = z.t end
    end,
    function() local g = pick(P.graphs); if g then Graph_mt.__gc(g.g) end end,
    function() local s = pick(P.sessions); if s then Session_mt.__gc(s.s) end end,
    function() local t = pick(P.tensors); if t then Tensor_mt.__gc(t) end end,
    function() -- read a node every way
      local n = pick(P.nodes)
      if not n then return end
      local x = n.n
      local r = { x.name, x.shape, x.op, x.dtype, x.inputs, x.consumers, tostring(x) }
      assert(#r >= 0)
    end,
    function() -- a variable's value and assign
      local n = pick(P.nodes)
      if n and n.n.op == "variable" then
        local v = vals()
        n.n:assign(v)
        n.ev = function() return v end
        local ok, err = pcall(H.tensor, n.n:value(), v)
        if not ok then P.bad = err end
      end
    end,
    function() -- graph listings
      local g = pick(P.graphs)
      if g then
        local r = { g.g:nodes(), g.g:placeholders(), #g.g, tostring(g.g) }
        assert(#r >= 0)
      end
    end,
    function() -- a view, read
      local t = pick(P.tensors)
      if t then P.tensors[#P.tensors + 1] = t:reshape { -1 }; local _ = tostring(t) end
    end,
  }

  -- building and running are more frequent than destroying
  local weighted = {}
  for i, act in ipairs(actions) do
    local WEIGHTS = { 1, 3, 3, 4, 3, 3, 2, 10 } -- graph .. run; the rest 1
    for _ = 1, WEIGHTS[i] or 1 do weighted[#weighted + 1] = act end
  end
  for _ = 1, STEPS do
    local act = weighted[rnd(#weighted)]
    local ok, err = pcall(act)
    if not ok then
      errors = errors + 1
      if os.getenv("TS_FUZZ_DEBUG") then io.stderr:write(tostring(err), "\n") end
      assert(type(err) == "string", "seed " .. seed .. ": an error that is not a message: " .. tostring(err))
      -- only the library raises: the program's own Lua never indexes nil
      assert(not err:find("lifetime_fuzz_spec.lua:%d+: attempt to"), "seed " .. seed .. ": " .. err)
    end
    if P.bad then error("seed " .. seed .. ": " .. P.bad) end
  end
  -- the state is usable afterwards
  collectgarbage()
  local g = ts.Graph()
  local x = ts.placeholder { graph = g, shape = { 4 } }
  local s <close> = ts.Session(g)
  H.tensor(s:run(ts.exp(x) * 0 + x, { [x] = { 1, 2, 3, 4 } }), { 1, 2, 3, 4 })
  return checked, errors
end

describe("lifetime fuzzer", function()
  it(("%d seeded programs never crash, runs that succeed are right"):format(PROGRAMS), function()
    local checked, errors = 0, 0
    for seed = 1, PROGRAMS do
      local c, e = program(seed)
      checked, errors = checked + c, errors + e
      if os.getenv("TS_FUZZ_DEBUG") then io.stderr:write("checked ", c, " errors ", e, "\n") end
      collectgarbage()
    end
    -- the programs do both: check values and hit errors
    assert.is_true(checked > PROGRAMS)
    assert.is_true(errors > PROGRAMS / 4)
  end)
end)
