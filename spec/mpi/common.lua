-- Shared by the cases spec/mpi_spec.lua starts under mpirun: each case checks its own
-- results (a failed check raises, so that rank exits non-zero and the job aborts) and
-- ends with one line per rank, "rank R: N checks ok", which the spec asserts on.
local ts = require "tensorslow"
local mpi = require "tensorslow.mpi"
local T = { ts = ts, mpi = mpi, rank = mpi.rank(), size = mpi.size(), checks = 0 }

function T.check(cond, msg)
  if not cond then error(msg, 2) end
  T.checks = T.checks + 1
end

-- flat values of a tensor
function T.flat(t) return t:reshape({ t:numel() }):totable() end

function T.close(a, b, tol, what)
  local fa, fb = T.flat(a), T.flat(b)
  T.check(#fa == #fb, ("%s: %d elements, expected %d"):format(what, #fa, #fb))
  for i = 1, #fa do
    local ok = math.abs(fa[i] - fb[i]) <= tol
    if not ok then error(("%s: element %d is %.17g, expected %.17g"):format(what, i, fa[i], fb[i]), 2) end
  end
  T.checks = T.checks + 1
end

function T.done() print(("rank %d: %d checks ok"):format(T.rank, T.checks)) end

return T
