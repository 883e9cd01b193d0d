-- Trains a 784-256-256-10 ReLU network on Fashion-MNIST, shows progress, reports test
-- accuracy after each epoch, then the per-class accuracy and the confusion matrix, and
-- draws the training (fashion_mnist_training.svg) and the confusion matrix
-- (fashion_mnist_confusion.svg). `--help` lists the options (USAGE below).
--
-- Defaults: 10 epochs of Adam (learning rate 1e-3), batch 128, float32, data from
-- /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). No checkpoint is
-- written unless --checkpoint PATH is given; --restore evaluates the checkpoint
-- (--checkpoint PATH, default fashion_mnist.safetensors) instead of training.
local ts = require "tensorslow"

local NAME = "fashion_mnist"
local USAGE = [[
usage: lua5.4 examples/fashion_mnist.lua [options]
  --epochs N         training epochs (default 10)
  --batch N          batch size (default 128)
  --lr X             Adam's learning rate (default 0.001)
  --seed N           seed of the initial weights and the shuffling (default 1)
  --limit N          train on the first N images only (default 0: all 60000)
  --test-limit N     evaluate on the first N test images (default 0: all 10000)
  --threads N        worker threads (default: one per core)
  --data DIR         the dataset (default /usr/share/datasets/fashion-mnist)
  --checkpoint PATH  save the trained weights to PATH (default: none saved)
  --restore          only evaluate the weights in --checkpoint PATH
                     (default fashion_mnist.safetensors)
  --plots DIR        write fashion_mnist_training.svg and
                     fashion_mnist_confusion.svg into DIR (default: .)
  --no-plots         draw nothing
  --logdir DIR       write summaries (ts.summary.writer) as JSON lines there
  --mpi              data-parallel over mpirun's ranks (tensorslow.mpi): --batch
                     is the global batch, each rank takes batch/ranks rows of
                     its shard; rank 0 alone evaluates, prints and draws
  -h, --help         print this and exit
]]

---------------------------------------------------------------- options
-- Each option's kind: a value checked as it is read (a bad or missing one is a usage
-- error, exit status 2), or a flag.
local KINDS = {
  epochs = "count", batch = "count", lr = "rate", seed = "integer", limit = "count0",
  test_limit = "count0", threads = "count", data = "text", checkpoint = "text", plots = "text",
  logdir = "text", restore = "flag", mpi = "flag", no_plots = "flag", help = "flag",
}
local opts = {
  epochs = 10, batch = 128, lr = 1e-3, seed = 1, limit = 0, test_limit = 0,
  data = "/usr/share/datasets/fashion-mnist", plots = ".",
}

local function usage_error(msg)
  io.stderr:write(("%s.lua: %s\ntry --help for the options\n"):format(NAME, msg))
  os.exit(2)
end

local function parse_value(flag, kind, v)
  if v == nil or v:match("^%-%-") then
    usage_error(flag .. " needs a value")
  end
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
if opts.threads then ts.set_num_threads(opts.threads) end

-- With --mpi: every rank trains on its shard with averaged gradients; the others are quiet.
local mpi = opts.mpi and require "tensorslow.mpi"
local rank, ranks = mpi and mpi.rank() or 0, mpi and mpi.size() or 1
local print = rank == 0 and print or function() end
if opts.batch % ranks ~= 0 then
  usage_error(("--batch %d is not a multiple of the %d ranks"):format(opts.batch, ranks))
end
local rank_batch = opts.batch // ranks

---------------------------------------------------------------- data

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
  io.stderr:write(("%s.lua: cannot find %s under %s (give --data DIR)\n"):format(NAME, name, opts.data))
  os.exit(1)
end

local t0 = ts.clock()
local train_x = load("train-images-idx3-ubyte", opts.limit):reshape { -1, 784 }
local train_y = load("train-labels-idx1-ubyte", opts.limit):cast("int64") + 1 -- classes 1..10
local test_x = load("t10k-images-idx3-ubyte", opts.test_limit):reshape { -1, 784 }
local test_y = load("t10k-labels-idx1-ubyte", opts.test_limit):cast("int64") + 1
print(("Fashion-MNIST: %d training and %d test images (kept as uint8)"):format(#train_x, #test_x))
local CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  "Sneaker", "Bag", "Ankle boot" }

-- The model.
ts.seed(opts.seed)
local g = ts.Graph():as_default()
local x = ts.placeholder { shape = { -1, 784 }, dtype = "float32", name = "x" }
local y = ts.placeholder { shape = { -1 }, dtype = "int64", name = "y" }
local h1 = ts.layers.dense(x, 256, { activation = ts.relu, name = "hidden1" })
local h2 = ts.layers.dense(h1, 256, { activation = ts.relu, name = "hidden2" })
local logits = ts.layers.dense(h2, 10, { name = "output" })
local loss = ts.reduce_mean(ts.sparse_softmax_cross_entropy_with_logits { labels = y, logits = logits })
local predicted = ts.argmax(logits, -1)
print((ts.summary(g)))
local optimizer = ts.train.AdamOptimizer { learning_rate = opts.lr }
if mpi then optimizer = mpi.DistributedOptimizer(optimizer) end
local train_op = optimizer:minimize(loss)

local sess <close> = ts.Session(g)
local saver = ts.train.Saver()
if mpi then
  mpi.broadcast_variables(sess, 0)
  print(("data-parallel on %d ranks: %d rows per rank and step, global batch %d"):format(ranks,
    rank_batch, opts.batch))
end

---------------------------------------------------------------- evaluation and report

-- Test accuracy and the confusion matrix (rows: true class, columns: predicted).
local function evaluate()
  local cm = {}
  for i = 1, 10 do cm[i] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
  local right = 0
  for xb, yb in ts.data.batches({ test_x, test_y }, 1000, { dtype = "float32", scale = 1 / 255 }) do
    local p, t = sess:run(predicted, { [x] = xb }):totable(), yb:totable()
    for k = 1, #t do
      cm[t[k]][p[k]] = cm[t[k]][p[k]] + 1
      if t[k] == p[k] then right = right + 1 end
    end
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

---------------------------------------------------------------- progress

-- A live line on a terminal (as wide as the terminal allows: COLUMNS, else `tput cols`,
-- else 80), one plain line per epoch otherwise.
local tty = rank == 0 and os.execute("test -t 1") == true
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

-- "epoch 3/10 [=====     ]  45% loss 0.4123 1850 steps/s   12s left", cut to fit the
-- terminal: the bar shrinks first, then the speed goes, then the bar. Fixed-width fields
-- keep the bar's length steady.
local function progress_line(epoch, n, steps, loss_avg, el)
  local head = ("epoch %d/%d"):format(epoch, opts.epochs)
  local tail = { ("%3d%%"):format(100 * n // steps), ("loss %.4f"):format(loss_avg),
    ("%4.0f steps/s"):format(n / math.max(el, 1e-9)), ("%5s left"):format(duration(el / n * (steps - n))) }
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

---------------------------------------------------------------- training

local writer = opts.logdir and rank == 0 and ts.summary.writer(opts.logdir)
if writer then print("summaries: " .. writer.path) end
local variables = ts.trainable_variables(g)

local clock = ts.clock
local steps = (#train_x // ranks + rank_batch - 1) // rank_batch
local history = { step = {}, loss = {}, smooth = {}, epoch = {}, accuracy = {} }
local ema, step, BETA = 0, 0, 0.98
local start = clock()
local cm
for epoch = 1, opts.epochs do
  local e0, sum, n = clock(), 0, 0
  local batches = ts.data.batches({ train_x, train_y }, rank_batch,
    { shuffle = true, seed = opts.seed + epoch, dtype = "float32", scale = 1 / 255,
      shard = mpi and { rank, ranks } or nil })
  for xb, yb in batches do
    local r = sess:run({ loss, train_op }, { [x] = xb, [y] = yb })
    local l = r[1]:item()
    sum, n, step = sum + l, n + 1, step + 1
    -- the smoothed loss: a moving average with its start-up bias removed (as Adam's moments)
    ema = BETA * ema + (1 - BETA) * l
    history.step[step], history.loss[step] = step / steps, l
    history.smooth[step] = ema / (1 - BETA ^ step)
    if writer then writer:scalar("train/loss", l, step) end
    if tty and (n % 20 == 0 or n == steps) then
      io.write("\r\27[K", progress_line(epoch, n, steps, sum / n, clock() - e0))
      io.flush()
    end
  end
  local el = clock() - e0
  local acc = 0
  if rank == 0 then acc, cm = evaluate() end
  history.epoch[epoch], history.accuracy[epoch] = epoch, 100 * acc
  if writer then
    writer:scalar("test/accuracy", acc, step)
    for _, v in ipairs(variables) do writer:histogram(v.name, sess:run(v), step) end
  end
  if tty then io.write("\r\27[K") end
  print(("epoch %d/%d: loss %.4f, test accuracy %.2f%% (%d steps, %.1fs, %.0f steps/s)")
    :format(epoch, opts.epochs, sum / n, 100 * acc, n, el, n / el))
end
if writer then writer:close() end
print(("trained in %.1fs (%.1fs with loading)"):format(clock() - start, clock() - t0))
if cm then report(cm) end
if opts.checkpoint then
  saver:save(sess, opts.checkpoint)
  print("checkpoint saved to " .. opts.checkpoint)
end

---------------------------------------------------------------- pictures

if not opts.no_plots and cm then
  local training_svg = ("%s/%s_training.svg"):format(opts.plots, NAME)
  local confusion = ("%s/%s_confusion.svg"):format(opts.plots, NAME)
  -- The loss panel shows every step after the first epoch; the first steps' larger
  -- losses leave it at the top.
  local top
  for k = steps + 1, #history.loss do top = math.max(top or 0, history.loss[k]) end
  ts.plot.lines {
    title = ("Fashion-MNIST, MLP 784-256-256-10: %d epochs of Adam"):format(opts.epochs),
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
