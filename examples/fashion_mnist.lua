-- Trains a 784-256-256-10 ReLU network on Fashion-MNIST, shows progress, reports test
-- accuracy after each epoch and saves a checkpoint.
--
--   lua5.4 examples/fashion_mnist.lua [--epochs N] [--batch N] [--lr X] [--data DIR]
--                                     [--checkpoint PATH] [--restore] [--threads N]
--
-- Defaults: 10 epochs of Adam (learning rate 1e-3), batch 128, float32, data from
-- /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), checkpoint
-- fashion_mnist.safetensors. --restore loads the checkpoint and only evaluates.
local ts = require "tensorslow"

local opts = {
  epochs = 10, batch = 128, lr = 1e-3, seed = 1,
  data = "/usr/share/datasets/fashion-mnist",
  checkpoint = "fashion_mnist.safetensors",
}
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local key = a:match("^%-%-(.+)$")
    if key == "restore" then
      opts.restore = true
    elseif key and opts[key] ~= nil or key == "threads" then
      i = i + 1
      opts[key] = tonumber(arg[i]) or arg[i]
    else
      io.stderr:write("unknown argument " .. a .. "\n")
      os.exit(2)
    end
    i = i + 1
  end
end
if opts.threads then ts.set_num_threads(opts.threads) end

local function load(name)
  for _, suffix in ipairs { ".gz", "" } do
    local path = opts.data .. "/" .. name .. suffix
    local f = io.open(path, "rb")
    if f then
      f:close()
      return ts.io.load_idx(path)
    end
  end
  error("cannot find " .. name .. " under " .. opts.data .. " (give --data DIR)")
end

local t0 = ts.clock()
local train_x = load("train-images-idx3-ubyte"):reshape { -1, 784 }
local train_y = load("train-labels-idx1-ubyte"):cast("int64") + 1 -- classes 1..10
local test_x = load("t10k-images-idx3-ubyte"):reshape { -1, 784 }
local test_y = load("t10k-labels-idx1-ubyte"):cast("int64") + 1
print(("Fashion-MNIST: %d training and %d test images (kept as uint8)"):format(#train_x, #test_x))

-- The model.
ts.seed(opts.seed)
local g = ts.Graph():as_default()
local x = ts.placeholder { shape = { -1, 784 }, dtype = "float32", name = "x" }
local y = ts.placeholder { shape = { -1 }, dtype = "int64", name = "y" }
local h1 = ts.layers.dense(x, 256, { activation = ts.relu, name = "hidden1" })
local h2 = ts.layers.dense(h1, 256, { activation = ts.relu, name = "hidden2" })
local logits = ts.layers.dense(h2, 10, { name = "output" })
local loss = ts.reduce_mean(ts.sparse_softmax_cross_entropy_with_logits { labels = y, logits = logits })
local correct = ts.reduce_sum(ts.cast(ts.equal(ts.argmax(logits, -1), y), "float32"))
print((ts.summary(g)))
local train_op = ts.train.AdamOptimizer { learning_rate = opts.lr }:minimize(loss)

local sess <close> = ts.Session(g)
local saver = ts.train.Saver()

local function accuracy()
  local right = 0
  for xb, yb in ts.data.batches({ test_x, test_y }, 1000, { dtype = "float32", scale = 1 / 255 }) do
    right = right + sess:run(correct, { [x] = xb, [y] = yb }):item()
  end
  return right / #test_x
end

if opts.restore then
  saver:restore(sess, opts.checkpoint)
  print(("restored %s: test accuracy %.2f%%"):format(opts.checkpoint, 100 * accuracy()))
  return
end

-- A live line on a terminal, one plain line per epoch otherwise.
local tty = os.execute("test -t 1") == true
local clock = ts.clock

local steps = (#train_x + opts.batch - 1) // opts.batch
local start = clock()
for epoch = 1, opts.epochs do
  local e0, sum, n = clock(), 0, 0
  local batches = ts.data.batches({ train_x, train_y }, opts.batch,
    { shuffle = true, seed = opts.seed + epoch, dtype = "float32", scale = 1 / 255 })
  for xb, yb in batches do
    local r = sess:run({ loss, train_op }, { [x] = xb, [y] = yb })
    sum, n = sum + r[1]:item(), n + 1
    if tty and (n % 20 == 0 or n == steps) then
      local el = clock() - e0
      local width = 30
      local done = math.floor(width * n / steps)
      io.write(("\r\27[Kepoch %d/%d [%s%s] %3d%% %6.1f steps/s  loss %.4f  %4.1fs elapsed, %4.1fs left")
        :format(epoch, opts.epochs, string.rep("=", done), string.rep(" ", width - done),
          100 * n // steps, n / el, sum / n, el, el / n * (steps - n)))
      io.flush()
    end
  end
  local el = clock() - e0
  local acc = accuracy()
  if tty then io.write("\r\27[K") end
  print(("epoch %d/%d  %d steps  %.1f steps/s  loss %.4f  %.1fs  test accuracy %.2f%%")
    :format(epoch, opts.epochs, n, n / el, sum / n, el, 100 * acc))
end
print(("trained in %.1fs (%.1fs with loading)"):format(clock() - start, clock() - t0))
saver:save(sess, opts.checkpoint)
print("checkpoint saved to " .. opts.checkpoint)
