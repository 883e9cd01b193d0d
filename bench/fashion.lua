-- Fashion-MNIST MLP benchmark, tensorslow side: 784-256-256-10 ReLU, softmax cross-entropy
-- mean, plain SGD lr 0.1, batch 128, float32, batches in file order (the peers use the same
-- order). Prints "fashion_epoch <seconds>" (median of EPOCHS epochs after one warm-up epoch)
-- and "fashion_rss_mib <peak resident MiB of this process>".
local ts = require "tensorslow"
local EPOCHS = tonumber(os.getenv("EPOCHS")) or 5
local dir = os.getenv("FASHION_DIR") or "/usr/share/datasets/fashion-mnist"
local xs = ts.io.load_idx(dir .. "/train-images-idx3-ubyte.gz"):reshape { -1, 784 }
local ys = ts.io.load_idx(dir .. "/train-labels-idx1-ubyte.gz"):cast("int64") + 1
ts.seed(1)
local g = ts.Graph():as_default()
local x = ts.placeholder { shape = { -1, 784 }, dtype = "float32" }
local y = ts.placeholder { shape = { -1 }, dtype = "int64" }
local h1 = ts.layers.dense(x, 256, { activation = ts.relu, name = "h1", dtype = "float32" })
local h2 = ts.layers.dense(h1, 256, { activation = ts.relu, name = "h2", dtype = "float32" })
local logits = ts.layers.dense(h2, 10, { name = "out", dtype = "float32" })
local loss = ts.reduce_mean(ts.sparse_softmax_cross_entropy_with_logits { labels = y, logits = logits })
local step = ts.train.GradientDescentOptimizer(0.1):minimize(loss)
local s = ts.Session(g)
local function epoch()
  for xb, yb in ts.data.batches({ xs, ys }, 128, { dtype = "float32", scale = 1 / 255 }) do
    s:run({ loss, step }, { [x] = xb, [y] = yb })
  end
end
print(("fashion_epoch %.6f"):format(dofile("bench/median.lua")(epoch, EPOCHS)))
local rss = 0
for line in io.lines("/proc/self/status") do
  local v = line:match("^VmHWM:%s+(%d+)")
  if v then rss = tonumber(v) / 1024 end
end
print(("fashion_rss_mib %.1f"):format(rss))
