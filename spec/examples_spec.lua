-- The two Fashion-MNIST example scripts, run as a user runs them (io.popen), on a small
-- made-up data set in IDX files (--data), so the spec needs no download and stays fast:
-- --help, usage errors (exit status 2), no checkpoint unless asked, the report, the
-- pictures and summaries, --restore, and a live line that fits the terminal.
local H = require "helpers"

local S = H.scratch()
local ROOT = assert(io.popen("pwd")):read("l")
local CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  "Sneaker", "Bag", "Ankle boot" }

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The spec's own module paths (busted's --cpath included), made absolute for another cwd.
local function absolute(paths)
  local out = {}
  for p in paths:gmatch("[^;]+") do out[#out + 1] = p:sub(1, 1) == "/" and p or ROOT .. "/" .. p end
  return table.concat(out, ";")
end
local ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(q(absolute(package.path)), q(absolute(package.cpath)))
if os.getenv("LD_PRELOAD") then ENV = ENV .. " LD_PRELOAD=" .. q(os.getenv("LD_PRELOAD")) end

-- An IDX file: uint8 data of the given shape.
local function idx(path, shape, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(string.pack(">I4", 0x0800 + #shape))
  for _, d in ipairs(shape) do f:write(string.pack(">I4", d)) end
  f:write(bytes)
  f:close()
end

-- n images whose class k (0..9) lights up a block of its own: learnable in a few steps.
local function dataset(dir, n_train, n_test)
  os.execute("mkdir -p " .. q(dir))
  local seed = 1
  local function rnd()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed
  end
  for _, part in ipairs { { "train", n_train }, { "t10k", n_test } } do
    local n, imgs, labels = part[2], {}, {}
    for i = 1, n do
      local k = (i * 7) % 10
      labels[i] = string.char(k)
      local px = {}
      for p = 1, 784 do
        local row = (p - 1) // 28
        px[p] = string.char((row // 3 == k and 200 or 0) + rnd() % 40)
      end
      imgs[i] = table.concat(px)
    end
    idx(dir .. "/" .. part[1] .. "-images-idx3-ubyte", { n, 28, 28 }, table.concat(imgs))
    idx(dir .. "/" .. part[1] .. "-labels-idx1-ubyte", { n }, table.concat(labels))
  end
end

-- Runs a script in cwd with args; returns stdout, stderr, exit status. `tty`: under
-- script(1), a terminal COLUMNS wide (stdout and stderr then come together).
local function run(script, args, cwd, tty)
  local cmd = ("cd %s && %s lua5.4 %s/examples/%s %s"):format(q(cwd), ENV, q(ROOT), script,
    table.concat(args, " "))
  local err = S.path("stderr.txt")
  if tty then
    cmd = ("%sCOLUMNS=%d script -qec %s /dev/null </dev/null 2>%s"):format(H.CLEAN, tty, q(cmd), q(err))
  else
    cmd = cmd .. " </dev/null 2>" .. q(err)
  end
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, status = p:close()
  local e = S.slurp(err)
  os.remove(err)
  return out:gsub("\r\n", "\n"), e, status
end

local function listing(dir)
  local p = assert(io.popen(H.CLEAN .. "ls -A " .. q(dir)))
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  table.sort(names)
  return table.concat(names, " ")
end

-- The confusion matrix printed by the report, as rows of numbers.
local function printed_matrix(out)
  local rows = {}
  local block = out:match("confusion matrix %(rows: true class, columns: predicted class%):\n.-\n(.*)")
  assert(block, "no confusion matrix in:\n" .. out)
  for i, name in ipairs(CLASSES) do
    local line = block:match("[^\n]*", 1)
    assert(line:sub(1, #name) == name, ("row %d is %q"):format(i, line))
    local r = {}
    for v in line:sub(13):gmatch("%d+") do r[#r + 1] = tonumber(v) end
    assert(#r == 10, line)
    rows[i] = r
    block = block:sub(#line + 2)
  end
  return rows
end

for _, ex in ipairs {
  { script = "fashion_mnist.lua", name = "fashion_mnist", train = { "--batch", "32" } },
  { script = "fashion_mnist_cnn.lua", name = "fashion_mnist_cnn", train = { "--batch", "16" },
    errors = { { { "--model", "big" }, "--model must be bn or deep, got 'big'" },
      { { "--data-format", "NCHW" },
        "--data-format must be channels_last or channels_first, got 'NCHW'" } } },
} do
  describe("examples/" .. ex.script, function()
    before_each(S.setup)
    after_each(S.teardown)

    it("--help prints every option and exits 0", function()
      for _, h in ipairs { "--help", "-h" } do
        local out, err, status = run(ex.script, { h }, S.dir)
        assert.are.equal(0, status)
        assert.are.equal("", err)
        assert.truthy(out:find("^usage: lua5.4 examples/" .. ex.script:gsub("%.", "%%.")))
        for _, o in ipairs { "--epochs N", "--batch N", "--lr X", "--seed N", "--limit N",
          "--test-limit N", "--threads N", "--data DIR", "--checkpoint PATH", "--restore",
          "--plots DIR", "--no-plots", "--logdir DIR", "-h, --help" } do
          assert.truthy(out:find("\n  " .. o:gsub("%-", "%%-"), 1), o)
        end
        for line in out:gmatch("[^\n]+") do assert.is_true(#line <= 80, line) end
      end
      assert.are.equal("", listing(S.dir))
    end)

    it("bad options are usage errors: exit status 2, a message naming the option", function()
      for _, case in ipairs {
        { { "--epochs" }, "--epochs needs a value" },
        { { "--epochs", "abc" }, "--epochs needs a positive integer, got 'abc'" },
        { { "--epochs=abc" }, "--epochs needs a positive integer, got 'abc'" },
        { { "--epochs", "0" }, "--epochs needs a positive integer, got '0'" },
        { { "--epochs", "1.5" }, "--epochs needs a positive integer, got '1.5'" },
        { { "--epochs", "--batch", "3" }, "--epochs needs a value" },
        { { "--batch", "-4" }, "--batch needs a positive integer, got '-4'" },
        { { "--limit", "x" }, "--limit needs an integer >= 0, got 'x'" },
        { { "--lr", "fast" }, "--lr needs a positive number, got 'fast'" },
        { { "--lr", "0" }, "--lr needs a positive number, got '0'" },
        { { "--checkpoint" }, "--checkpoint needs a value" },
        { { "--restore=yes" }, "--restore takes no value" },
        { { "--epoch", "3" }, "unknown argument --epoch" },
        { { "stray" }, "unknown argument stray" },
        table.unpack(ex.errors or {})
      } do
        local out, err, status = run(ex.script, case[1], S.dir)
        local what = table.concat(case[1], " ")
        assert.are.equal(2, status, what)
        assert.are.equal("", out, what)
        assert.are.equal(ex.script .. ": " .. case[2] .. "\ntry --help for the options\n", err, what)
      end
    end)

    it("trains, reports, draws; writes no checkpoint unless asked; the live line fits", function()
      local data = S.path("data")
      dataset(data, 64, 40)
      local work = S.path("work")
      os.execute("mkdir " .. q(work))
      local args = { "--data", q(data), "--epochs", "2", "--test-limit", "30", "--logdir", "logs" }
      for _, a in ipairs(ex.train) do args[#args + 1] = a end
      local out, _, status = run(ex.script, args, work, 50)
      assert.are.equal(0, status, out)
      -- no checkpoint: only the pictures (default: the current directory) and the summaries
      assert.are.equal(("%s_confusion.svg %s_training.svg logs"):format(ex.name, ex.name), listing(work))
      assert.is_nil(out:find("checkpoint", 1, true))

      -- the live line: at least one per epoch, each within 49 columns (COLUMNS 50)
      local live = 0
      for line in out:gmatch("[^\n]+") do
        for seg in line:gmatch("\r\27%[K([^\r]*)") do
          if seg:match("^epoch %d/%d ") then
            live = live + 1
            assert.is_true(#seg <= 49, ("%d columns: %q"):format(#seg, seg))
          end
        end
      end
      assert.is_true(live >= 2, out)

      -- the report: one line per epoch, per-class accuracy, the confusion matrix
      local accs = {}
      for a in out:gmatch("epoch %d/2: loss [%d.]+, test accuracy ([%d.]+)%%") do
        accs[#accs + 1] = tonumber(a)
      end
      assert.are.equal(2, #accs, out)
      local cm = printed_matrix(out)
      local total, right = 0, 0
      for i = 1, 10 do
        local n = 0
        for j = 1, 10 do n = n + cm[i][j] end
        total, right = total + n, right + cm[i][i]
        local pct, k, of = out:match("\n  " .. CLASSES[i]:gsub("%-", "%%-")
          .. " +([%d.]+)%%  %((%d+) of (%d+)%)")
        assert.truthy(pct, CLASSES[i])
        assert.are.equal(cm[i][i], tonumber(k))
        assert.are.equal(n, tonumber(of))
        H.close(n > 0 and 100 * cm[i][i] / n or 0, tonumber(pct), 0.006)
      end
      assert.are.equal(30, total)
      H.close(100 * right / 30, accs[2], 0.006)

      -- the pictures: SVG naming the series and the classes
      local training = S.slurp(work .. "/" .. ex.name .. "_training.svg")
      assert.truthy(training:find("^<svg "))
      for _, s in ipairs { "loss per step", "loss, smoothed", "test accuracy", "epoch",
        "training loss", "test accuracy (%)" } do
        assert.truthy(training:find(">" .. s:gsub("%p", "%%%0") .. "</text>"), s)
      end
      local confusion = S.slurp(work .. "/" .. ex.name .. "_confusion.svg")
      for _, c in ipairs(CLASSES) do
        assert.truthy(confusion:find(">" .. c:gsub("%p", "%%%0") .. "</text>"), c)
      end

      -- the summaries: a loss per step, the accuracy per epoch, a histogram per variable
      local logs = work .. "/logs"
      local file = logs .. "/" .. listing(logs)
      local steps = 2 * math.ceil(64 / tonumber(ex.train[2]))
      local n_loss, acc, hist = 0, {}, 0
      for line in io.lines(file) do
        if line:find('"tag":"train/loss","type":"scalar"', 1, true) then n_loss = n_loss + 1 end
        local a = line:match('"tag":"test/accuracy","type":"scalar","value":([%d.e-]+)}')
        if a then acc[#acc + 1] = tonumber(a) end
        if line:find('"type":"histogram"', 1, true) then hist = hist + 1 end
      end
      assert.are.equal(steps, n_loss)
      assert.are.equal(2, #acc)
      H.close(accs[2], 100 * acc[2], 0.006)
      assert.is_true(hist >= 4 and hist % 2 == 0, tostring(hist))
    end)

    it("--checkpoint PATH saves; --restore evaluates the same weights; --no-plots draws nothing", function()
      local data = S.path("data")
      dataset(data, 48, 20)
      local work = S.path("work")
      os.execute("mkdir " .. q(work))
      local args = { "--data", q(data), "--epochs", "1", "--checkpoint", "w.safetensors", "--no-plots" }
      for _, a in ipairs(ex.train) do args[#args + 1] = a end
      local out, err, status = run(ex.script, args, work)
      assert.are.equal(0, status, err)
      assert.truthy(out:find("\ncheckpoint saved to w.safetensors\n", 1, true), out)
      assert.are.equal("w.safetensors", listing(work))
      local trained = assert(out:match("epoch 1/1: loss [%d.]+, test accuracy ([%d.]+)%%"))
      local cm = printed_matrix(out)

      local rargs = { "--data", q(data), "--restore", "--checkpoint", "w.safetensors" }
      for _, a in ipairs(ex.train) do rargs[#rargs + 1] = a end
      local rout, rerr, rstatus = run(ex.script, rargs, work)
      assert.are.equal(0, rstatus, rerr)
      assert.are.equal(trained, rout:match("restored w%.safetensors: test accuracy ([%d.]+)%%"), rout)
      assert.are.same(cm, printed_matrix(rout))
      assert.are.equal("w.safetensors", listing(work))

      -- --restore without a checkpoint file fails (the default name, which nothing wrote)
      local _, _, status3 = run(ex.script, { "--data", q(data), "--restore" }, work)
      assert.are_not.equal(0, status3)
    end)
  end)
end
