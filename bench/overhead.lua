-- Per-node overhead: a chain of 1000 scalar float64 add nodes, run 100 times.
local ts = require "tensorslow"
local g = ts.Graph():as_default()
local x = ts.placeholder { name = "x", shape = {} }
local one = ts.constant(1)
local y = x
for _ = 1, 1000 do y = y + one end
local s = ts.Session(g)
local feed = { [x] = ts.tensor(0) }
s:run(y, feed)
local times = {}
for r = 1, 7 do
  local t0 = os.clock()
  for _ = 1, 100 do s:run(y, feed) end
  times[r] = (os.clock() - t0) / (100 * 1000) * 1e9
end
table.sort(times)
print(("overhead: %.1f ns per node (median of 7)"):format(times[4]))
