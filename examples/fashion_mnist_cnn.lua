-- Trains a convolutional network on Fashion-MNIST, shows progress, reports test
-- accuracy after each epoch, then the per-class accuracy and the confusion matrix, and
-- draws the training (fashion_mnist_cnn_training.svg) and the confusion matrix
-- (fashion_mnist_cnn_confusion.svg). `--help` lists the options (USAGE below).
--
-- --model bn (default): conv 5x5 32 -> batch norm -> relu -> max_pool 2 -> conv 5x5 64 ->
-- batch norm -> relu -> max_pool 2 -> dense 256 -> relu -> dropout 0.5 -> dense 10.
-- --model deep: TensorFlow 1.x's "Deep MNIST for experts" network: conv 5x5 32 -> relu ->
-- max_pool 2 -> conv 5x5 64 -> relu -> max_pool 2 -> dense 1024 -> relu -> dropout 0.5 ->
-- dense 10.
-- Images are NHWC (channels last, TensorFlow's default; --data_format channels_first for
-- NCHW); the model is examples/cnn_model.lua. Adam (learning
-- rate 1e-3), batch 128, float32, 8 epochs, data from /usr/share/datasets/fashion-mnist
-- (Debian's dataset-fashion-mnist); no checkpoint is written unless --checkpoint PATH is
-- given. --limit N trains on the first N images only (--test-limit: evaluates on the
-- first N). One graph
-- serves training and evaluation: the uint8 placeholder `training` switches dropout and
-- batch normalization; the optimizer's step also updates the batch normalization layers'
-- moving statistics. --restore evaluates --checkpoint PATH (default
-- fashion_mnist_cnn.safetensors) instead of training.
local ts = require "tensorslow"

local NAME = "fashion_mnist_cnn"
local USAGE = [[
usage: lua5.4 examples/fashion_mnist_cnn.lua [options]
  --model bn|deep    the network (default bn; see the script's header)
  --data-format F    channels_last (default, NHWC) or channels_first (NCHW)
  --epochs N         training epochs (default 8)
  --batch N          batch size (default 128)
  --lr X             Adam's learning rate (default 0.001), falling to 0 along a
                     cosine over the run
  --constant-lr      keep the learning rate at --lr
  --seed N           seed of the weights, dropout and shuffling (default 1)
  --limit N          train on the first N images only (default 0: all 60000)
  --test-limit N     evaluate on the first N test images (default 0: all 10000)
  --threads N        worker threads (default: one per core)
  --data DIR         the dataset (default /usr/share/datasets/fashion-mnist)
  --checkpoint PATH  save the trained weights to PATH (default: none saved)
  --restore          only evaluate the weights in --checkpoint PATH
                     (default fashion_mnist_cnn.safetensors)
  --plots DIR        write fashion_mnist_cnn_training.svg and
                     fashion_mnist_cnn_confusion.svg into DIR (default: .)
  --no-plots         draw nothing
  --logdir DIR       write summaries (ts.summary.writer) as JSON lines there
  -h, --help         print this and exit
]]

-- Each option's kind: a value checked as it is read (a bad or missing one is a usage
-- error, exit status 2), or a flag.
local KINDS = {
  model = "text", data_format = "text", epochs = "count", batch = "count", lr = "rate",
  seed = "integer", limit = "count0", test_limit = "count0", threads = "count", data = "text",
  checkpoint = "text", plots = "text", logdir = "text", restore = "flag", no_plots = "flag",
  constant_lr = "flag",
  help = "flag",
}
local opts = {
  model = "bn", data_format = "channels_last", epochs = 8, batch = 128, lr = 1e-3, seed = 1,
  limit = 0, test_limit = 0, data = "/usr/share/datasets/fashion-mnist", plots = ".",
}

local function usage_error(msg)
  io.stderr:write(("%s.lua: %s\ntry --help for the options\n"):format(NAME, msg))
  os.exit(2)
end

local function parse_value(flag, kind, v)
  if v == nil or v:match("^%-%-") then usage_error(flag .. " needs a value") end
  if kind == "text" then
    if v == "" then usage_error(flag .. " needs a non-empty value") end
    return v
  end
  local n = tonumber(v)
  local int = n and math.tointeger(n)
  if kind == "rate" then
    if not n or n ~= n or n <= 0 or n == math.huge then
      usage_error(("%s needs a positive number, got '%s'"):format(flag, v))
    end
    return n
  end
  local want = { count = "a positive integer", count0 = "an integer >= 0", integer = "an integer" }
  if not int or (kind == "count" and int < 1) or (kind == "count0" and int < 0) then
    usage_error(("%s needs %s, got '%s'"):format(flag, want[kind], v))
  end
  return int
end

do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local key, value = a:match("^%-%-([%w%-_]+)=(.*)$")
    key = key or a:match("^%-%-([%w%-_]+)$")
    if a == "-h" then key = "help" end
    if key then key = key:gsub("%-", "_") end
    local kind = key and KINDS[key]
    if not kind then usage_error("unknown argument " .. a) end
    if kind == "flag" then
      if value then usage_error(a:match("^[^=]+") .. " takes no value") end
      opts[key] = true
    else
      if not value then
        i = i + 1
        value = arg[i]
      end
      opts[key] = parse_value("--" .. key:gsub("_", "-"), kind, value)
    end
    i = i + 1
  end
end
if opts.help then
  io.write(USAGE)
  os.exit(0)
end
if opts.model ~= "bn" and opts.model ~= "deep" then
  usage_error(("--model must be bn or deep, got '%s'"):format(opts.model))
end
if opts.data_format ~= "channels_last" and opts.data_format ~= "channels_first" then
  usage_error(("--data-format must be channels_last or channels_first, got '%s'")
    :format(opts.data_format))
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
-- The learning rate falls from --lr to 0 along a cosine over the whole run (--constant-lr:
-- it stays); the global step counts the optimizer's steps.
local lr = opts.lr
if not opts.constant_lr then
  local total = opts.epochs * ((#train_x + opts.batch - 1) // opts.batch)
  lr = ts.train.cosine_decay(opts.lr, ts.train.get_or_create_global_step(), total)
end
local train_op = ts.train.AdamOptimizer { learning_rate = lr }:minimize(loss)

local sess <close> = ts.Session(g)
local saver = ts.train.Saver()
local ON, OFF = ts.tensor(1, "uint8"), ts.tensor(0, "uint8")

local CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  "Sneaker", "Bag", "Ankle boot" }
local predicted = ts.argmax(m.logits, -1)

-- Test accuracy and the confusion matrix (rows: true class, columns: predicted).
local function evaluate()
  local cm = {}
  for i = 1, 10 do cm[i] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
  local right = 0
  for xb, yb in ts.data.batches({ test_x, test_y }, opts.batch, { dtype = "float32", scale = 1 / 255 }) do
    local r = sess:run({ correct, predicted }, { [x] = xb, [y] = yb, [training] = OFF })
    right = right + r[1]:item()
    local p, t = r[2]:totable(), yb:totable()
    for k = 1, #t do cm[t[k]][p[k]] = cm[t[k]][p[k]] + 1 end
  end
  return right / #test_x, cm
end

local function report(cm)
  print("per-class test accuracy:")
  for i, name in ipairs(CLASSES) do
    local n = 0
    for j = 1, 10 do n = n + cm[i][j] end
    print(("  %-12s %6.2f%%  (%d of %d)"):format(name, n > 0 and 100 * cm[i][i] / n or 0, cm[i][i], n))
  end
  print("confusion matrix (rows: true class, columns: predicted class):")
  local head = { ("%-12s"):format("") }
  for j, name in ipairs(CLASSES) do head[j + 1] = ("%5s"):format(name:sub(1, 5)) end
  print(table.concat(head, " "))
  for i, name in ipairs(CLASSES) do
    local row = { ("%-12s"):format(name) }
    for j = 1, 10 do row[j + 1] = ("%5d"):format(cm[i][j]) end
    print(table.concat(row, " "))
  end
end

if opts.restore then
  local path = opts.checkpoint or NAME .. ".safetensors"
  saver:restore(sess, path)
  local acc, cm = evaluate()
  print(("restored %s: test accuracy %.2f%%"):format(path, 100 * acc))
  report(cm)
  return
end

-- A live line on a terminal (as wide as the terminal allows: COLUMNS, else `tput cols`,
-- else 80), one plain line per epoch otherwise.
local tty = os.execute("test -t 1") == true
local columns = 80
if tty then
  local c = math.tointeger(tonumber(os.getenv("COLUMNS") or ""))
  if not c then
    local p = io.popen("tput cols 2>/dev/null")
    if p then
      c = math.tointeger(tonumber(p:read("a"):match("%d+") or ""))
      p:close()
    end
  end
  if c and c >= 20 then columns = c end
end

local function duration(s)
  if s >= 60 then return ("%dm%02ds"):format(s // 60, math.floor(s % 60)) end
  return ("%.0fs"):format(s)
end

-- "epoch 3/5 [=====     ]  45% loss 0.4123 0.21 s/step 1m12s left", cut to fit the
-- terminal: the bar shrinks first, then the speed goes, then the bar. Fixed-width fields
-- keep the bar's length steady.
local function progress_line(epoch, n, steps, loss_avg, el)
  local head = ("epoch %d/%d"):format(epoch, opts.epochs)
  local tail = { ("%3d%%"):format(100 * n // steps), ("loss %.4f"):format(loss_avg),
    ("%5.2f s/step"):format(el / n), ("%5s left"):format(duration(el / n * (steps - n))) }
  local room = columns - 1
  local function fit(parts)
    local text = head .. " " .. table.concat(parts, " ")
    local bar = math.min(30, room - #text - 3)
    if bar >= 5 then
      local done = math.floor(bar * n / steps)
      return ("%s [%s%s] %s"):format(head, ("="):rep(done), (" "):rep(bar - done), table.concat(parts, " "))
    end
    if #text <= room then return text end
  end
  local line = fit(tail)
  if not line then
    table.remove(tail, 3)
    line = fit(tail) or (head .. " " .. table.concat(tail, " ")):sub(1, room)
  end
  return line
end

local writer = opts.logdir and ts.summary.writer(opts.logdir)
if writer then print("summaries: " .. writer.path) end
local variables = ts.trainable_variables(g)

local clock = ts.clock
local steps = (#train_x + opts.batch - 1) // opts.batch
local history = { step = {}, loss = {}, smooth = {}, epoch = {}, accuracy = {} }
local ema, step, BETA = 0, 0, 0.95
local start = clock()
local cm
for epoch = 1, opts.epochs do
  local e0, sum, n = clock(), 0, 0
  local batches = ts.data.batches({ train_x, train_y }, opts.batch,
    { shuffle = true, seed = opts.seed + epoch, dtype = "float32", scale = 1 / 255 })
  for xb, yb in batches do
    local r = sess:run({ loss, train_op }, { [x] = xb, [y] = yb, [training] = ON })
    local l = r[1]:item()
    sum, n, step = sum + l, n + 1, step + 1
    -- the smoothed loss: a moving average with its start-up bias removed (as Adam's moments)
    ema = BETA * ema + (1 - BETA) * l
    history.step[step], history.loss[step] = step / steps, l
    history.smooth[step] = ema / (1 - BETA ^ step)
    if writer then writer:scalar("train/loss", l, step) end
    if tty and (n % 5 == 0 or n == steps) then
      io.write("\r\27[K", progress_line(epoch, n, steps, sum / n, clock() - e0))
      io.flush()
    end
  end
  local el = clock() - e0
  local a0 = clock()
  local acc
  acc, cm = evaluate()
  history.epoch[epoch], history.accuracy[epoch] = epoch, 100 * acc
  if writer then
    writer:scalar("test/accuracy", acc, step)
    for _, v in ipairs(variables) do writer:histogram(v.name, sess:run(v), step) end
  end
  if tty then io.write("\r\27[K") end
  print(("epoch %d/%d: loss %.4f, test accuracy %.2f%% (%d steps, %.1fs, %.3f s/step; test %.1fs)")
    :format(epoch, opts.epochs, sum / n, 100 * acc, n, el, el / n, clock() - a0))
end
if writer then writer:close() end
print(("trained in %.1fs (%.1fs with loading)"):format(clock() - start, clock() - t0))
if cm then report(cm) end
if opts.checkpoint then
  saver:save(sess, opts.checkpoint)
  print("checkpoint saved to " .. opts.checkpoint)
end

if not opts.no_plots and cm then
  local training_svg = ("%s/%s_training.svg"):format(opts.plots, NAME)
  local confusion = ("%s/%s_confusion.svg"):format(opts.plots, NAME)
  -- The loss panel shows every step after the first epoch; the first steps' larger
  -- losses leave it at the top.
  local top
  for k = steps + 1, #history.loss do top = math.max(top or 0, history.loss[k]) end
  ts.plot.lines {
    title = ("Fashion-MNIST, CNN (--model %s): %d epochs of Adam"):format(opts.model, opts.epochs),
    xlabel = "epoch", xlim = { 0, opts.epochs }, height = 620,
    panels = {
      { ylabel = "training loss", ylim = top and { 0, top * 1.05 },
        series = {
          { name = "loss per step", x = history.step, y = history.loss, line_width = 1, opacity = 0.3 },
          { name = "loss, smoothed", x = history.step, y = history.smooth },
        } },
      { ylabel = "test accuracy (%)",
        series = { { name = "test accuracy", x = history.epoch, y = history.accuracy, marker = true,
          color = "#2ca02c" } } },
    },
    file = training_svg,
  }
  ts.plot.heatmap {
    matrix = cm, labels = CLASSES, scale = "sqrt",
    title = ("Fashion-MNIST test set (%d images): confusion matrix"):format(#test_x),
    xlabel = "predicted class", ylabel = "true class", file = confusion,
  }
  print(("pictures: %s, %s"):format(training_svg, confusion))
end
