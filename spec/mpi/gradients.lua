-- Gradients through allreduce (sum, mean, max, min), allgather and broadcast, checked
-- against central differences of the global loss (the sum of every rank's loss, the
-- convention the gradients follow): each input element of each rank is perturbed in
-- turn (every rank runs the same forward passes, only rank q perturbs), float64.
local T = dofile("spec/mpi/common.lua")
local ts, mpi, r, p = T.ts, T.mpi, T.rank, T.size

local EPS, TOL = 1e-6, 1e-7

local function check_grad(what, build, shape)
  local g = ts.Graph()
  local x = ts.placeholder { dtype = "float64", shape = shape, graph = g }
  local y = build(x)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  -- rank-dependent input (distinct values: no ties for max/min) and loss weights
  local xv, wv = {}, {}
  for i = 1, n do xv[i] = ((i * 5 + r * 3) % 7) * 0.5 + 0.1 * r + 0.01 * i end
  local sess = ts.Session(g)
  local yv = sess:run(y, { [x] = ts.tensor(xv):reshape(shape) })
  local m = yv:numel()
  for i = 1, m do wv[i] = ((i * 3 + r * 7) % 5) - 2 + 0.5 * r end
  local w = ts.constant(ts.tensor(wv):reshape(yv.shape), { graph = g })
  local loss = ts.reduce_sum(y * w)
  local grad = ts.gradients(loss, { x })[1]
  local x0 = ts.tensor(xv):reshape(shape)
  local analytic = T.flat(sess:run(grad, { [x] = x0 }))
  local function global_loss(q, i, delta)
    local v = { table.unpack(xv) }
    if r == q and i <= n then v[i] = v[i] + delta end
    local l = sess:run(loss, { [x] = ts.tensor(v):reshape(shape) })
    return mpi.allreduce(l):get()
  end
  -- every rank runs as many forward passes (their sizes may differ)
  local nmax = mpi.allreduce(ts.tensor({ n }, "int64"), { op = "max" }):get(1)
  for q = 0, p - 1 do
    for i = 1, nmax do
      local fd = (global_loss(q, i, EPS) - global_loss(q, i, -EPS)) / (2 * EPS)
      if r == q and i <= n then
        T.check(math.abs(fd - analytic[i]) <= TOL * math.max(1, math.abs(fd)),
          ("%s: d loss / d x[%d] on rank %d is %.10g, central differences %.10g"):format(what, i, q,
            analytic[i], fd))
      end
    end
  end
end

for _, op in ipairs { "sum", "mean", "max", "min" } do
  check_grad("allreduce " .. op, function(x) return mpi.allreduce(x, { op = op }) * 1.5 end, { 2, 3 })
end
check_grad("allgather", function(x) return ts.tanh(mpi.allgather(x)) end, { 2, 2 })
-- rank q has q + 1 rows: each rank's gradient is its own rows of the summed gradient
check_grad("allgather, rows differ", function(x) return ts.tanh(mpi.allgather(x)) end, { r + 1, 2 })
check_grad("broadcast from 1", function(x) return mpi.broadcast(x, 1) * mpi.broadcast(x, 1) end, { 3 })
check_grad("broadcast from 0", function(x) return mpi.broadcast(x, 0) end, { 2, 2 })
-- a chain: allgather then allreduce
check_grad("allgather then allreduce", function(x)
  return mpi.allreduce(mpi.allgather(x) * 2, { op = "mean" })
end, { 1, 3 })
T.done()
