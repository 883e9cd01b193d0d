-- How cost grows (issue 18): tensorslow's side of bench/RESULTS.md's "How cost grows" section.
-- Prints "key value" lines like bench/ts_bench.lua; bench/growth_peer.py prints PyTorch's.
--   lua5.4 bench/growth.lua mlp      MLP training step (784-H-10, float32, softmax cross-entropy,
--                                    gradient descent) against batch size and hidden width
--   lua5.4 bench/growth.lua graph    building, planning (first run) and gradient construction of
--                                    chains and random DAGs of 1k ... 1M nodes, seconds per node
--   lua5.4 bench/growth.lua memory   peak RSS of a run against the planner's figures (MLP, CNN)
-- GROWTH_MAX_NODES caps the graph sizes (default 1e6).
local ts = require "tensorslow"
local median_of = dofile("bench/median.lua")
local what = arg[1] or "mlp"
ts.set_num_threads(tonumber(os.getenv("TS_THREADS")) or ts.get_num_threads())

local function emit(key, v) print(("%s %.9g"):format(key, v)) end

-- The MLP of this section: 784 -> hidden (relu) -> 10, float32, one training step
-- per call; the same recipe as growth_peer.py (weights from a seeded normal, inputs fixed).
local function mlp_step(batch, hidden, parts)
  local g = ts.Graph():as_default()
  ts.seed(1)
  local X = ts.placeholder { shape = { batch, 784 }, dtype = "float32" }
  local Y = ts.placeholder { shape = { batch, 10 }, dtype = "float32" }
  local W1 = ts.Variable(ts.randn({ 784, hidden }, "float32") * 0.05)
  local b1 = ts.Variable(ts.zeros({ hidden }, "float32"))
  local W2 = ts.Variable(ts.randn({ hidden, 10 }, "float32") * 0.05)
  local b2 = ts.Variable(ts.zeros({ 10 }, "float32"))
  local logits = ts.relu(X:matmul(W1) + b1):matmul(W2) + b2
  local loss = ts.reduce_mean(ts.softmax_cross_entropy_with_logits { labels = Y, logits = logits })
  local step = ts.train.GradientDescentOptimizer(0.01):minimize(loss)
  local s = ts.Session(g)
  local labels = {}
  for i = 1, batch do
    local row = {}
    for j = 1, 10 do row[j] = (j == (i % 10) + 1) and 1 or 0 end
    labels[i] = row
  end
  local feed = { [X] = ts.rand({ batch, 784 }, "float32"), [Y] = ts.tensor(labels, "float32") }
  if parts then return s, step, feed end
  return function() s:run(step, feed) end
end

if what == "mlp" then
  -- calls per timed repetition so that each repetition lasts about 20 ms or more
  local function per_step(batch, hidden)
    local f = mlp_step(batch, hidden)
    local t0 = ts.clock()
    f()
    f()
    local one = math.max((ts.clock() - t0) / 2, 1e-7)
    local k = math.max(1, math.floor(0.02 / one))
    return median_of(function() for _ = 1, k do f() end end, 5) / k
  end
  for _, b in ipairs { 1, 8, 64, 512, 4096 } do
    emit(("growth_mlp_b%d_h256"):format(b), per_step(b, 256))
  end
  for _, h in ipairs { 16, 64, 256, 1024, 4096 } do
    emit(("growth_mlp_b64_h%d"):format(h), per_step(64, h))
  end
end

if what == "graph" then
  local max_nodes = tonumber(os.getenv("GROWTH_MAX_NODES")) or 1e6
  -- one graph per size and shape: build, first run (plan + run), a second run (run only),
  -- gradient construction; the plan's cost is the first run less the second
  local function measure(kind, n)
    collectgarbage()
    local g = ts.Graph():as_default()
    local t0 = ts.clock()
    local x = ts.placeholder { shape = {}, dtype = "float64" }
    local y
    if kind == "chain" then
      local one = ts.constant(1.0)
      y = x
      for _ = 1, n do y = y + one end
    else
      -- a random DAG: each node adds or multiplies two earlier nodes (a fixed LCG, so every
      -- run and the PyTorch side build the same graph); the output sums the last 16
      local nodes, seed = { x, ts.constant(0.5) }, 12345
      local function rnd(m)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % m + 1
      end
      for i = 1, n do
        local k = #nodes
        -- mostly near predecessors (a DAG of bounded width), sometimes anywhere
        local a = nodes[k - (rnd(8) - 1)] or nodes[1]
        local b = nodes[rnd(k)]
        nodes[k + 1] = (i % 3 == 0) and a * 0.5 + b * 0.25 or a + b * 0.5
      end
      y = nodes[#nodes]
      for j = 1, 15 do y = y + nodes[#nodes - j] end
    end
    local t_build = ts.clock() - t0
    local built = #g
    local s = ts.Session(g)
    local feed = { [x] = ts.tensor(0.001, "float64") }
    t0 = ts.clock()
    s:run(y, feed)
    local t_first = ts.clock() - t0
    t0 = ts.clock()
    s:run(y, feed)
    local t_run = ts.clock() - t0
    t0 = ts.clock()
    local gx = ts.gradients(y, { x })[1]
    local t_grad = ts.clock() - t0
    local grad_nodes = #g - built
    t0 = ts.clock()
    s:run(gx, feed)
    local t_grad_first = ts.clock() - t0
    s:close()
    local tag = ("growth_graph_%s_%d"):format(kind, n)
    -- per node of the forward graph (gradient construction walks it; the nodes it adds are
    -- printed too: a chain of adds of a constant needs only 2); the gradient's first run
    -- per node of both
    emit(tag .. "_nodes", built)
    emit(tag .. "_grad_nodes", grad_nodes)
    emit(tag .. "_build_per_node", t_build / built)
    emit(tag .. "_plan_per_node", math.max(t_first - t_run, 0) / built)
    emit(tag .. "_run_per_node", t_run / built)
    emit(tag .. "_grad_per_node", t_grad / built)
    emit(tag .. "_grad_first_run_per_node", t_grad_first / (built + grad_nodes))
  end
  for _, kind in ipairs { "chain", "dag" } do
    local n = 1000
    while n <= max_nodes do
      measure(kind, n)
      n = n * 10
    end
  end
end

if what == "memory" then
  -- peak RSS of this process (VmHWM) during training steps of one model, against the planner's
  -- peak bytes for that plan (sess:plan_memory, before running) and the live tensors: the
  -- variables, the fed inputs and the plans' buffers (sess:stats().bytes). One model per
  -- process (bench/run.lua runs each in a fresh one); RSS before the model is subtracted.
  local function vm(field)
    for line in io.lines("/proc/self/status") do
      local v = line:match("^" .. field .. ":%s+(%d+) kB")
      if v then return tonumber(v) * 1024 end
    end
  end
  local function nbytes(t) return t:numel() * (t.dtype == "float64" and 8 or t.dtype == "int64" and 8
    or t.dtype == "uint8" and 1 or 4) end
  local model = arg[2] or "mlp"
  collectgarbage()
  local rss0 = vm("VmRSS")
  local s, step, feed, shapes
  if model == "mlp" then
    s, step, feed = mlp_step(512, 1024, true)
  else
    ts.Graph():as_default()
    local m = dofile("examples/cnn_model.lua") { model = "bn" }
    local step_op = ts.train.AdamOptimizer(1e-3):minimize(m.loss)
    s = ts.Session()
    local batch = 128
    local y = {}
    for i = 1, batch do y[i] = i % 10 + 1 end
    feed = { [m.x] = ts.rand({ batch, 28, 28, 1 }, "float32"), [m.y] = ts.tensor(y, "int64"),
             [m.training] = ts.tensor(1, "uint8") }
    step = step_op
  end
  shapes = {}
  local fed = 0
  for k, t in pairs(feed) do shapes[k] = t; fed = fed + nbytes(t) end
  local vars = 0
  for _, v in ipairs(ts.global_variables()) do vars = vars + nbytes(s:run(v)) end
  local need = s:plan_memory(step, shapes)
  collectgarbage()
  local built = vm("VmRSS") - rss0
  for _ = 1, 5 do s:run(step, feed) end
  collectgarbage()
  local peak = vm("VmHWM") - rss0
  local tag = "growth_mem_" .. model
  emit(tag .. "_peak_rss_bytes", peak)
  emit(tag .. "_built_rss_bytes", built)
  emit(tag .. "_plan_bytes", need)
  emit(tag .. "_plan_cached_bytes", s:stats().bytes)
  emit(tag .. "_variables_bytes", vars)
  emit(tag .. "_feed_bytes", fed)
end
