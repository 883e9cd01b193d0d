-- median(f, reps): runs f once as a warm-up, then reps timed times; returns the
-- median wall-clock seconds (ts.clock). Shared by the tensorslow benchmarks.
local ts = require "tensorslow"
return function(f, reps)
  f()
  local t = {}
  for r = 1, reps do
    local t0 = ts.clock()
    f()
    t[r] = ts.clock() - t0
  end
  table.sort(t)
  return t[(reps + 1) // 2]
end
