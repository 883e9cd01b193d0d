-- Trains a convolutional network on Fashion-MNIST, shows progress, reports test
-- accuracy after each epoch and saves a checkpoint.
--
--   lua5.4 examples/fashion_mnist_cnn.lua [--model bn|deep] [--data_format channels_last|
--                                         channels_first] [--epochs N] [--batch N] [--lr X]
--                                         [--limit N] [--test_limit N] [--data DIR]
--                                         [--checkpoint PATH] [--restore] [--threads N] [--seed N]
--
-- --model bn (default): conv 5x5 32 -> batch norm -> relu -> max_pool 2 -> conv 5x5 64 ->
-- batch norm -> relu -> max_pool 2 -> dense 256 -> relu -> dropout 0.5 -> dense 10.
-- --model deep: TensorFlow 1.x's "Deep MNIST for experts" network: conv 5x5 32 -> relu ->
-- max_pool 2 -> conv 5x5 64 -> relu -> max_pool 2 -> dense 1024 -> relu -> dropout 0.5 ->
-- dense 10.
-- Images are NHWC (channels last, TensorFlow's default; --data_format channels_first for
-- NCHW); the model is examples/cnn_model.lua. Adam (learning
-- rate 1e-3), batch 128, float32, 5 epochs, data from /usr/share/datasets/fashion-mnist
-- (Debian's dataset-fashion-mnist), checkpoint fashion_mnist_cnn.safetensors. --limit N
-- trains on the first N images only (--test_limit: evaluates on the first N). One graph
-- serves training and evaluation: the uint8 placeholder `training` switches dropout and
-- batch normalization; the optimizer's step also updates the batch normalization layers'
-- moving statistics. --restore loads the checkpoint and only evaluates.
local ts = require "tensorslow"

local opts = {
  model = "bn", data_format = "channels_last", epochs = 5, batch = 128, lr = 1e-3, seed = 1,
  limit = 0, test_limit = 0,
  data = "/usr/share/datasets/fashion-mnist",
  checkpoint = "fashion_mnist_cnn.safetensors",
}
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local key = a:match("^%-%-(.+)$")
    if key then key = key:gsub("%-", "_") end
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
if opts.model ~= "bn" and opts.model ~= "deep" then
  io.stderr:write("--model must be bn or deep\n")
  os.exit(2)
end
if opts.data_format ~= "channels_last" and opts.data_format ~= "channels_first" then
  io.stderr:write("--data_format must be channels_last or channels_first\n")
  os.exit(2)
end
if opts.threads then ts.set_num_threads(opts.threads) end

local function load(name, limit)
  for _, suffix in ipairs { ".gz", "" } do
    local path = opts.data .. "/" .. name .. suffix
    local f = io.open(path, "rb")
    if f then
      f:close()
      local t = ts.io.load_idx(path)
      if limit > 0 and limit < #t then
        local begin, size = {}, { limit }
        for d = 1, t:dim() do begin[d], size[d] = 1, size[d] or -1 end
        t = ts.slice(t, begin, size)
      end
      return t
    end
  end
  error("cannot find " .. name .. " under " .. opts.data .. " (give --data DIR)")
end

local t0 = ts.clock()
local image = opts.data_format == "channels_first" and { -1, 1, 28, 28 } or { -1, 28, 28, 1 }
local train_x = load("train-images-idx3-ubyte", opts.limit):reshape(image)
local train_y = load("train-labels-idx1-ubyte", opts.limit):cast("int64") + 1 -- classes 1..10
local test_x = load("t10k-images-idx3-ubyte", opts.test_limit):reshape(image)
local test_y = load("t10k-labels-idx1-ubyte", opts.test_limit):cast("int64") + 1
print(("Fashion-MNIST: %d training and %d test images (kept as uint8)"):format(#train_x, #test_x))

-- The model.
ts.seed(opts.seed)
local g = ts.Graph():as_default()
local m = dofile((arg[0]:match("^(.*)/") or ".") .. "/cnn_model.lua") {
  model = opts.model, data_format = opts.data_format,
}
local x, y, training, loss, correct = m.x, m.y, m.training, m.loss, m.correct
print((ts.summary(g)))
local train_op = ts.train.AdamOptimizer { learning_rate = opts.lr }:minimize(loss)

local sess <close> = ts.Session(g)
local saver = ts.train.Saver()
local ON, OFF = ts.tensor(1, "uint8"), ts.tensor(0, "uint8")

local function accuracy()
  local right = 0
  for xb, yb in ts.data.batches({ test_x, test_y }, 500, { dtype = "float32", scale = 1 / 255 }) do
    right = right + sess:run(correct, { [x] = xb, [y] = yb, [training] = OFF }):item()
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
    local r = sess:run({ loss, train_op }, { [x] = xb, [y] = yb, [training] = ON })
    sum, n = sum + r[1]:item(), n + 1
    if tty and (n % 5 == 0 or n == steps) then
      local el = clock() - e0
      local width = 30
      local done = math.floor(width * n / steps)
      io.write(("\r\27[Kepoch %d/%d [%s%s] %3d%% %6.2f s/step  loss %.4f  %4.1fs elapsed, %4.1fs left")
        :format(epoch, opts.epochs, string.rep("=", done), string.rep(" ", width - done),
          100 * n // steps, el / n, sum / n, el, el / n * (steps - n)))
      io.flush()
    end
  end
  local el = clock() - e0
  local a0 = clock()
  local acc = accuracy()
  if tty then io.write("\r\27[K") end
  print(("epoch %d/%d  %d steps  %.3f s/step  loss %.4f  %.1fs  test accuracy %.2f%% (%.1fs)")
    :format(epoch, opts.epochs, n, el / n, sum / n, el, 100 * acc, clock() - a0))
end
print(("trained in %.1fs (%.1fs with loading)"):format(clock() - start, clock() - t0))
saver:save(sess, opts.checkpoint)
print("checkpoint saved to " .. opts.checkpoint)
