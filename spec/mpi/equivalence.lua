-- Data-parallel training equals one process on the concatenated batch: a small dense
-- net (float64) trained for 50 steps by GradientDescent and by Adam, each rank with
-- batch B of its shard (ts.data.batches shard), gradients averaged by
-- DistributedOptimizer (fused, and one allreduce per variable), weights started by
-- broadcast_variables from rank 0 (rank 1 starts elsewhere); the reference is trained
-- here too, without MPI, on batches of B * size. Weights must agree to 1e-12.
local T = dofile("spec/mpi/common.lua")
local ts, mpi, r, p = T.ts, T.mpi, T.rank, T.size

local B, STEPS, NIN, NH, NOUT = 4, 50, 5, 8, 3
local N = B * p * STEPS

-- deterministic data (the same on every rank)
local function lcg(seed)
  local s = seed
  return function()
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return ((s >> 11) % 1000000) / 1000000 - 0.5
  end
end
local rnd = lcg(42)
local xs, ys = {}, {}
for i = 1, N do
  xs[i], ys[i] = {}, {}
  for j = 1, NIN do xs[i][j] = rnd() end
  for j = 1, NOUT do ys[i][j] = rnd() end
end
local X, Y = ts.tensor(xs), ts.tensor(ys)

local function init(seed)
  local g = lcg(seed)
  local function mat(a, b)
    local t = {}
    for i = 1, a do t[i] = {} for j = 1, b do t[i][j] = g() end end
    return ts.tensor(t)
  end
  return { mat(NIN, NH), mat(1, NH):reshape({ NH }), mat(NH, NOUT), mat(1, NOUT):reshape({ NOUT }) }
end

-- builds the net in a graph of its own; returns graph, x, y, loss, variables
local function net(values)
  local g = ts.Graph()
  local x = ts.placeholder { dtype = "float64", shape = { -1, NIN }, graph = g }
  local y = ts.placeholder { dtype = "float64", shape = { -1, NOUT }, graph = g }
  local v = {}
  for i, t in ipairs(values) do v[i] = ts.Variable(t, { graph = g, name = "w" .. i }) end
  local h = ts.tanh(ts.matmul(x, v[1]) + v[2])
  local out = ts.matmul(h, v[3]) + v[4]
  local loss = ts.reduce_mean(ts.square(out - y))
  return g, x, y, loss, v
end

local function train(make_opt, distributed, fusion)
  -- rank 1 starts from other weights: broadcast_variables must fix that
  local g, x, y, loss, vars = net(init(distributed and r > 0 and 7 or 1))
  local opt = make_opt()
  if distributed then opt = mpi.DistributedOptimizer(opt, { fusion_bytes = fusion }) end
  local step = opt:minimize(loss)
  local sess = ts.Session(g)
  if distributed then mpi.broadcast_variables(sess, 0) end
  local opts = { shuffle = true, seed = 5 }
  if distributed then opts.shard = { r, p } end
  local steps = 0
  for bx, by in ts.data.batches({ X, Y }, distributed and B or B * p, opts) do
    sess:run(step, { [x] = bx, [y] = by })
    steps = steps + 1
  end
  T.check(steps == STEPS, ("%d steps, expected %d"):format(steps, STEPS))
  local out = {}
  for i, v in ipairs(vars) do out[i] = v:value() end
  return out, opt
end

local OPTS = {
  GradientDescent = function() return ts.train.GradientDescentOptimizer(0.2) end,
  Adam = function() return ts.train.AdamOptimizer { learning_rate = 0.01 } end,
}
for _, name in ipairs { "GradientDescent", "Adam" } do
  local ref = train(OPTS[name], false)
  for _, fusion in ipairs { 64 * 1024 * 1024, 0 } do
    local got, opt = train(OPTS[name], true, fusion)
    T.check(opt.allreduce_count == (fusion == 0 and 4 or 1),
      ("%s: %s allreduces"):format(name, tostring(opt.allreduce_count)))
    local moved = 0
    for i = 1, #ref do
      T.close(got[i], ref[i], 1e-12, ("%s (fusion_bytes %d): variable %d"):format(name, fusion, i))
      local init1 = init(1)[i]
      moved = math.max(moved, (ref[i] - init1):abs():reduce_max():get())
    end
    T.check(moved > 1e-3, name .. ": training moved the weights by " .. moved)
  end
end
if r == 0 then print("trained " .. STEPS .. " steps") end
T.done()
