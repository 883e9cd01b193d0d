-- saver:save under MPI: rank 0 writes the file, the other ranks do not (and wait until it
-- is written); restore works on every rank; {all_ranks = true} writes on every rank.
-- arg[1] is a scratch directory.
local T = dofile("spec/mpi/common.lua")
local ts, mpi, r = T.ts, T.mpi, T.rank
local dir = assert(arg[1], "usage: saver.lua DIR")

local g = ts.Graph()
local v = ts.Variable(ts.tensor { 1, 2, 3 }, { graph = g, name = "v" })
local sess = ts.Session(g)
local saver = ts.train.Saver()
local path = dir .. "/model.safetensors"
if r == 1 then v:assign(ts.tensor { 7, 8, 9 }) end -- rank 0's values are the ones saved
T.check(saver:save(sess, path) == path, "save returns the path")
local f = io.open(path, "rb")
T.check(f ~= nil, "rank " .. r .. " sees the file after save")
f:close()
v:assign(ts.tensor { 0, 0, 0 })
saver:restore(sess, path)
T.close(v:value(), ts.tensor { 1, 2, 3 }, 0, "restored on rank " .. r)
-- every rank its own file
local own = ("%s/rank%d.safetensors"):format(dir, r)
saver:save(sess, own, { all_ranks = true })
mpi.barrier()
for q = 0, T.size - 1 do
  local h = io.open(("%s/rank%d.safetensors"):format(dir, q), "rb")
  T.check(h ~= nil, "all_ranks: rank " .. q .. "'s file")
  h:close()
end
local ok, err = pcall(saver.save, saver, sess, path, { every = true })
T.check(not ok and err:find("unknown option 'every'"), "save options: " .. tostring(err))
T.done()
