-- The batch-1 inference model (issue 19), shared by bench/ts_bench.lua's batch1 and the C
-- host bench/host_bench.c: a 784-256-10 float32 MLP (relu), one input row per call, the
-- result into an out= tensor. Weights from bench/peers.py's recipe: a fixed pattern every
-- side computes the same way. Returns call(), one run.
local ts = require "tensorslow"
return function()
  ts.Graph():as_default()
  local function pattern(r, c, k)
    local t = {}
    for i = 1, r do
      local row = {}
      for j = 1, c do row[j] = ((i * 7 + j * 13 + k) % 17 - 8) / 64 end
      t[i] = row
    end
    return ts.tensor(t, "float32")
  end
  local x = ts.placeholder { shape = { 1, 784 }, dtype = "float32" }
  local W1, b1 = ts.Variable(pattern(784, 256, 1)), ts.Variable(pattern(1, 256, 2))
  local W2, b2 = ts.Variable(pattern(256, 10, 3)), ts.Variable(pattern(1, 10, 4))
  local y = ts.relu(x:matmul(W1) + b1):matmul(W2) + b2
  local s = ts.Session()
  local feed = { [x] = pattern(1, 784, 5) }
  local o = { out = ts.zeros({ 1, 10 }, "float32") }
  return function() return s:run(y, feed, o) end
end
