-- The CNN example's training step (examples/cnn_model.lua, "bn" model, channels_last, Adam
-- 1e-3, batch 128, float32) on Fashion-MNIST's first images. Prints "cnn_step <seconds>"
-- (median of STEPS steps after 3 warm-up steps), "cnn_epoch <seconds>" (469 steps, one
-- epoch of 60000 images, times that median) and "cnn_rss_mib <peak resident MiB>".
-- bench/cnn_peer.py prints the same keys for PyTorch.
local ts = require "tensorslow"
local STEPS = tonumber(os.getenv("STEPS")) or 30
local dir = os.getenv("FASHION_DIR") or "/usr/share/datasets/fashion-mnist"
local xs = ts.io.load_idx(dir .. "/train-images-idx3-ubyte.gz"):reshape { -1, 28, 28, 1 }
local ys = ts.io.load_idx(dir .. "/train-labels-idx1-ubyte.gz"):cast("int64") + 1
ts.seed(1)
ts.Graph():as_default()
local m = dofile("examples/cnn_model.lua") { model = "bn" }
local step = ts.train.AdamOptimizer { learning_rate = 1e-3 }:minimize(m.loss)
local s = ts.Session()
local ON = ts.tensor(1, "uint8")
local batches = {}
for xb, yb in ts.data.batches({ xs, ys }, 128, { dtype = "float32", scale = 1 / 255 }) do
  batches[#batches + 1] = { xb, yb }
  if #batches == 20 then break end
end
local i = 0
local function one()
  i = i % #batches + 1
  s:run({ m.loss, step }, { [m.x] = batches[i][1], [m.y] = batches[i][2], [m.training] = ON })
end
for _ = 1, 3 do one() end
local t = {}
for k = 1, STEPS do
  local t0 = ts.clock()
  one()
  t[k] = ts.clock() - t0
end
table.sort(t)
local med = t[(STEPS + 1) // 2]
print(("cnn_step %.6f"):format(med))
print(("cnn_epoch %.6f"):format(med * 469))
local rss = 0
for line in io.lines("/proc/self/status") do
  local v = line:match("^VmHWM:%s+(%d+)")
  if v then rss = tonumber(v) / 1024 end
end
print(("cnn_rss_mib %.1f"):format(rss))
