-- Figures for doc/SCALING.md: run as
--   mpirun --allow-run-as-root --oversubscribe -np 2 lua5.4 bench/mpi.lua
-- (eval "$(make -s env)" first). Measures, on rank 0's clock:
--   compute per step of the Fashion-MNIST MLP (784-256-256-10, Adam, float32) at the
--   per-rank batches 128 and 64, without any allreduce (one thread per rank);
--   allreduce of its 269,322 gradients (float32): fused into one buffer and per variable
--   (six allreduces), and the fused allreduce alone at sizes from 4 bytes to 4 MB,
--   from which the latency and bandwidth of the ring model are fitted.
local ts = require "tensorslow"
local mpi = require "tensorslow.mpi"
local rank = mpi.rank()
ts.set_num_threads(1)
local function say(...) if rank == 0 then print(string.format(...)) end end

local function timeit(f, reps)
  f()
  mpi.barrier()
  local t0 = mpi.wtime()
  for _ = 1, reps do f() end
  local t = (mpi.wtime() - t0) / reps
  return mpi.allreduce(ts.tensor { t }, { op = "max" }):get(1) -- the slowest rank's
end

-- the MLP without MPI: compute per step
ts.seed(1)
local g = ts.Graph():as_default()
local x = ts.placeholder { shape = { -1, 784 }, dtype = "float32" }
local y = ts.placeholder { shape = { -1 }, dtype = "int64" }
local h1 = ts.layers.dense(x, 256, { activation = ts.relu })
local h2 = ts.layers.dense(h1, 256, { activation = ts.relu })
local logits = ts.layers.dense(h2, 10)
local loss = ts.reduce_mean(ts.sparse_softmax_cross_entropy_with_logits { labels = y, logits = logits })
local step = ts.train.AdamOptimizer { learning_rate = 1e-3 }:minimize(loss)
local sess = ts.Session(g)
local vars, params = ts.trainable_variables(g), 0
for _, v in ipairs(vars) do params = params + v:value():numel() end
say("MLP: %d parameters in %d variables", params, #vars)
for _, b in ipairs { 128, 64 } do
  local xb = ts.rand({ b, 784 }, "float32")
  local yb = ts.tensor((function() local t = {} for i = 1, b do t[i] = i % 10 + 1 end return t end)(), "int64")
  local t = timeit(function() sess:run(step, { [x] = xb, [y] = yb }) end, 40)
  say("compute per step, batch %d per rank (both ranks at once): %.2f ms", b, 1e3 * t)
end

-- allreduce of the gradients: fused vs per variable
local grads = {}
for i, v in ipairs(vars) do grads[i] = ts.rand(v.shape, "float32") end
local flat = ts.rand({ params }, "float32")
local fused = timeit(function() mpi.allreduce(flat, { op = "mean" }) end, 100)
local per_var = timeit(function()
  for _, t in ipairs(grads) do mpi.allreduce(t, { op = "mean" }) end
end, 100)
say("allreduce of %d float32 (%.2f MB): fused %.3f ms, per variable (%d allreduces) %.3f ms",
  params, params * 4 / 1e6, 1e3 * fused, #grads, 1e3 * per_var)

-- sizes: latency (smallest) and bandwidth (largest) for the model
for _, n in ipairs { 1, 256, 4096, 65536, 269322, 1048576 } do
  local t = ts.rand({ n }, "float32")
  local s = timeit(function() mpi.allreduce(t) end, n > 100000 and 50 or 500)
  say("allreduce %8d float32 (%9d bytes): %8.1f us", n, 4 * n, 1e6 * s)
end
