-- A rank that raises mid-training: rank 1 raises at step 5 while rank 0 goes on into
-- the next allreduce. lua5.4 prints rank 1's message and exits with 1; tensorslow.mpi's
-- exit handler then aborts the job, so rank 0 does not wait forever. The spec bounds the
-- run with a timeout and expects a non-zero status and the message.
-- arg[1] == "mismatch": both ranks raise (a failed allreduce: sizes differ);
-- "abort": rank 0 calls mpi.abort(message, 3).
local T = dofile("spec/mpi/common.lua")
local ts, mpi, r = T.ts, T.mpi, T.rank

local g = ts.Graph()
local x = ts.placeholder { dtype = "float64", shape = { -1, 2 }, graph = g }
local w = ts.Variable(ts.tensor { { 1 }, { 2 } }, { graph = g })
local loss = ts.reduce_mean(ts.square(ts.matmul(x, w)))
local step = mpi.DistributedOptimizer(ts.train.GradientDescentOptimizer(0.1)):minimize(loss)
local sess = ts.Session(g)
mpi.broadcast_variables(sess, 0)
for i = 1, 1000 do
  if arg[1] == "abort" and r == 0 and i == 2 then
    mpi.abort("rank 0 gives up", 3)
  elseif arg[1] == "mismatch" and i == 3 then
    mpi.allreduce(ts.zeros({ r + 2 }))
  elseif r == 1 and i == 5 then
    error("rank 1 fails at step 5 on purpose")
  end
  sess:run(step, { [x] = ts.tensor { { 1, 2 }, { 3, 4 } } })
end
print("rank " .. r .. " was not stopped")
