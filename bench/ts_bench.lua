-- tensorslow's side of `make bench`: prints "key seconds" lines (median of REPS runs after a
-- warm-up). Keys match bench/peers.py so bench/run.lua can set them side by side.
local ts = require "tensorslow"
local REPS = tonumber(os.getenv("REPS")) or 7
local only = arg[1]
ts.set_num_threads(tonumber(os.getenv("TS_THREADS")) or ts.get_num_threads())

local median_of = dofile("bench/median.lua")
local function median(f, reps) return median_of(f, reps or REPS) end

local function emit(key, v) print(("%s %.9g"):format(key, v)) end
local function want(name) return not only or name:find(only, 1, true) end

if want("startup") then
  -- one shell runs the 20 starts (os.execute of a big process would time its fork)
  local req = "lua5.4 -e 'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path;"
    .. "package.cpath=\"build/?.so;\"..package.cpath; require \"tensorslow\"'"
  local function run(c)
    local t0 = ts.clock()
    os.execute("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do " .. c .. "; done")
    return (ts.clock() - t0) / 20
  end
  local function med(c)
    local t = {}
    for r = 1, 7 do t[r] = run(c) end
    table.sort(t)
    return t[4]
  end
  emit("startup", med(req))
  emit("startup_bare_lua", med("lua5.4 -e ''"))
end


if want("overhead") then
  local g = ts.Graph():as_default()
  local x = ts.placeholder { shape = {} }
  local one = ts.constant(1)
  local y = x
  for _ = 1, 1000 do y = y + one end
  local s = ts.Session(g)
  local feed = { [x] = ts.tensor(0) }
  emit("overhead_chain1000x100", median(function() for _ = 1, 100 do s:run(y, feed) end end))
end

if want("gemm") then
  local only_n = tonumber(os.getenv("GEMM_N"))
  for _, n in ipairs(only_n and { only_n } or { 256, 512, 1024, 2048 }) do
    for _, dt in ipairs { "float32", "float64" } do
      local g = ts.Graph():as_default()
      local a = ts.placeholder { shape = { n, n }, dtype = dt }
      local b = ts.placeholder { shape = { n, n }, dtype = dt }
      local c = ts.matmul(a, b)
      local s = ts.Session(g)
      local ta = ts.fill({ n, n }, 0.25, dt)
      local feed = { [a] = ta, [b] = ta }
      -- into a caller tensor, as cblas writes into its C buffer: no copy, no allocation
      local opts = { out = ts.zeros({ n, n }, dt) }
      local k = n == 256 and 16 or n == 512 and 4 or 1 -- calls per timed repetition, every side
      emit(("gemm_%s_%d"):format(dt, n),
        median(function() for _ = 1, k do s:run(c, feed, opts) end end, 5) / k)
      emit(("gemm_fresh_%s_%d"):format(dt, n),
        median(function() for _ = 1, k do s:run(c, feed) end end, 5) / k)
    end
  end
end

if want("elementwise") then
  -- each timed repetition is 10 runs (steady state: Lua's collector, like NumPy's
  -- reference counts, then recycles the results' memory); the peers do the same
  local function ten(f) return median(function() for _ = 1, 10 do f() end end) / 10 end
  local n = 1 << 20
  local g = ts.Graph():as_default()
  local x = ts.placeholder { shape = { n }, dtype = "float32" }
  local y = ts.placeholder { shape = { n }, dtype = "float32" }
  local z = ts.placeholder { shape = { n }, dtype = "float32" }
  local e = ts.exp(x) * y + z
  local s = ts.Session(g)
  ts.seed(0)
  local feed = { [x] = ts.randn({ n }, "float32"), [y] = ts.randn({ n }, "float32"),
    [z] = ts.randn({ n }, "float32") }
  emit("ew_exp_mul_add", ten(function() s:run(e, feed) end))
  local eopts = { out = ts.zeros({ n }, "float32") }
  emit("ew_exp_mul_add_out", ten(function() s:run(e, feed, eopts) end))
  local m = ts.placeholder { shape = { 1024, 1024 }, dtype = "float32" }
  local sm = ts.softmax(m, -1)
  local mfeed = { [m] = ts.randn({ 1024, 1024 }, "float32") }
  emit("ew_softmax", ten(function() s:run(sm, mfeed) end))
  local sopts = { out = ts.zeros({ 1024, 1024 }, "float32") }
  emit("ew_softmax_out", ten(function() s:run(sm, mfeed, sopts) end))
end

if want("mlp") then
  -- The tutorial's MLP (the spec fixture): 1000 steps of loss + minimize, float64.
  local fx = dofile("spec/fixtures/tensorslow_mlp.lua")
  local function run_mlp()
    local g = ts.Graph():as_default()
    local X = ts.placeholder { name = "X" }
    local c = ts.placeholder { name = "c" }
    local Wh = ts.Variable(fx.initial.W_hidden)
    local bh = ts.Variable(fx.initial.b_hidden)
    local Wo = ts.Variable(fx.initial.W_output)
    local bo = ts.Variable(fx.initial.b_output)
    local p = ts.softmax(ts.sigmoid(X:matmul(Wh) + bh):matmul(Wo) + bo)
    local J = -ts.reduce_sum(c * ts.log(p))
    local step = ts.train.GradientDescentOptimizer(fx.learning_rate):minimize(J)
    local s = ts.Session(g)
    local feed = { [X] = ts.tensor(fx.X), [c] = ts.tensor(fx.c) }
    local fetch = { J, step }
    return function()
      for _ = 1, fx.steps do s:run(fetch, feed) end
    end
  end
  local f = run_mlp()
  emit("mlp_1000_steps", median(f, 5))
end

if want("batch1") then
  -- Batch-1 inference (issue 19): bench/batch1.lua's model, seconds per call at TS_THREADS
  local call = dofile("bench/batch1.lua")()
  local K = 2000
  emit("batch1_mlp", median(function() for _ = 1, K do call() end end) / K)
end
