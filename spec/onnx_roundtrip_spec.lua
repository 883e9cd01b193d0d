-- Round trips through ONNX:
-- * a small CNN trained in PyTorch on Fashion-MNIST and exported by torch.onnx.export
--   (spec/fixtures/make_onnx_cnn.py) loads with ts.onnx.load and gives PyTorch's logits of
--   the first 1,000 test images (within 1e-4, the same argmax for every one);
-- * models trained or built in tensorslow, saved with ts.onnx.save and loaded back, give
--   the same outputs: the tutorial MLP after its 1000 steps and the Fashion-MNIST MLP's
--   checkpoint (bit-identical: the same ops come back), a float64 CNN (channels last: ONNX's
--   convolutions are channels first, so the model gains transposes; within 1e-12), the
--   CNN example's network with its training flag fixed (float32, within 1e-6);
--   python3-onnx's checker (full_check) accepts each file.
local ts = require "tensorslow"
local H = require "helpers"

local S = H.scratch()
local DATA = "/usr/share/datasets/fashion-mnist/"
local FIX = "spec/fixtures/"
local ROOT = assert(io.popen("pwd")):read("l")

-- The spec's own module paths made absolute, for a script run by the spec.
local function absolute(paths)
  local out = {}
  for p in paths:gmatch("[^;]+") do out[#out + 1] = p:sub(1, 1) == "/" and p or ROOT .. "/" .. p end
  return table.concat(out, ";")
end
local ENV = ("LUA_PATH_5_4='%s' LUA_CPATH_5_4='%s'"):format(absolute(package.path), absolute(package.cpath))
if os.getenv("LD_PRELOAD") then ENV = ENV .. " LD_PRELOAD='" .. os.getenv("LD_PRELOAD") .. "'" end

local function max_diff(a, b)
  return ts.reduce_max(ts.abs(ts.cast(a, "float64") - ts.cast(b, "float64"))):item()
end

-- The first n test images, [n, 28, 28] float32 in [0, 1].
local function test_images(n)
  local x = ts.io.load_idx(DATA .. "t10k-images-idx3-ubyte.gz")
  return ts.slice(x, { 1, 1, 1 }, { n, -1, -1 }):cast("float32") * (1 / 255)
end

local function check(path)
  local p = assert(io.popen(H.CLEAN .. "/usr/bin/python3 -c 'import sys, onnx\n"
    .. "onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint(\"ok\")' '"
    .. path .. "' 2>&1"))
  local out = p:read("a")
  p:close()
  assert.are.equal("ok\n", out, path)
end

-- Saves outputs of a graph, checks the file, loads it back and compares the outputs for the
-- feed (by the inputs' order); returns the largest difference and the loaded model.
local function round_trip(name, opts, feed, sess)
  local path = ts.onnx.save(S.path(name .. ".onnx"), opts)
  check(path)
  local m = ts.onnx.load(path)
  local f2 = {}
  for i, x in ipairs(opts.inputs) do f2[m.inputs[i]] = feed[x] end
  local back <close> = ts.Session(m.graph)
  local worst = 0
  for i, y in ipairs(opts.outputs) do
    local want, got = sess:run(y, feed), back:run(m.outputs[i], f2)
    assert.are.equal(want.dtype, got.dtype)
    assert.are.same(want.shape, got.shape)
    worst = math.max(worst, max_diff(got, want))
  end
  return worst, m
end

describe("ONNX round trips", function()
  before_each(S.setup)
  after_each(S.teardown)

  it("a PyTorch-trained CNN gives PyTorch's logits of 1,000 test images", function()
    local m = ts.onnx.load(FIX .. "onnx_cnn.onnx")
    assert.are.equal(13, m.opset)
    assert.are.equal("pytorch", m.producer)
    assert.are.same({ -1, 1, 28, 28 }, m.inputs[1].shape)
    local sess <close> = ts.Session(m.graph)
    local y = sess:run(m.outputs[1], { [m.inputs[1]] = test_images(1000):reshape { 1000, 1, 28, 28 } })
    local ref = ts.io.load_npy(FIX .. "onnx_cnn_logits.npy")
    assert.are.same({ 1000, 10 }, y.shape)
    assert.are.equal("float32", y.dtype)
    assert.is_true(max_diff(y, ref) <= 1e-4, "logits differ by " .. max_diff(y, ref))
    local same = ts.reduce_sum(ts.cast(ts.equal(ts.argmax(y, 2), ts.argmax(ref, 2)), "int64")):item()
    assert.are.equal(1000, same)
  end)

  it("the tutorial MLP, trained 1000 steps, comes back bit-identical", function()
    local ref = dofile(FIX .. "tensorslow_mlp.lua")
    local g = ts.Graph()
    local X = ts.placeholder { name = "X", shape = { -1, 2 }, graph = g }
    local c = ts.placeholder { name = "c", shape = { -1, 2 }, graph = g }
    local Wh = ts.Variable(ref.initial.W_hidden, { name = "W_hidden", graph = g })
    local bh = ts.Variable(ref.initial.b_hidden, { name = "b_hidden", graph = g })
    local Wo = ts.Variable(ref.initial.W_output, { name = "W_output", graph = g })
    local bo = ts.Variable(ref.initial.b_output, { name = "b_output", graph = g })
    local p = ts.softmax(ts.matmul(ts.sigmoid(ts.matmul(X, Wh) + bh), Wo) + bo)
    local J = -ts.reduce_sum(ts.reduce_sum(c * ts.log(p), 2))
    local step = ts.train.GradientDescentOptimizer(ref.learning_rate):minimize(J)
    local sess <close> = ts.Session(g)
    local feed = { [X] = ref.X, [c] = ref.c }
    for _ = 1, ref.steps do sess:run(step, feed) end
    local worst, m = round_trip("mlp", { inputs = { X, c }, outputs = { p, J } }, {
      [X] = ts.tensor(ref.X), [c] = ts.tensor(ref.c) }, sess)
    assert.are.equal(0, worst)
    assert.are.equal(4, #m.variables)
    H.tensor(m.variables.W_hidden:value(), Wh:value():totable(), "float64", 0)
  end)

  it("the Fashion-MNIST MLP's checkpoint comes back bit-identical", function()
    -- the example trains briefly and writes its checkpoint; the same network restores it
    local ckpt = S.path("mlp.safetensors")
    local cmd = ("%s lua5.4 examples/fashion_mnist.lua --epochs 1 --limit 1000 --test-limit 100 "
      .. "--no-plots --threads 1 --checkpoint '%s' > /dev/null"):format(ENV, ckpt)
    assert.is_true(os.execute(cmd))
    local g = ts.Graph()
    g:as_default()
    local x = ts.placeholder { shape = { -1, 784 }, dtype = "float32", name = "x" }
    local h1 = ts.layers.dense(x, 256, { activation = ts.relu, name = "hidden1" })
    local h2 = ts.layers.dense(h1, 256, { activation = ts.relu, name = "hidden2" })
    local logits = ts.layers.dense(h2, 10, { name = "output" })
    local sess <close> = ts.Session(g)
    ts.train.Saver({ g:get("hidden1/kernel"), g:get("hidden1/bias"), g:get("hidden2/kernel"),
      g:get("hidden2/bias"), g:get("output/kernel"), g:get("output/bias") }):restore(sess, ckpt)
    local worst = round_trip("fashion_mlp", { inputs = { x }, outputs = { logits, ts.softmax(logits) } },
      { [x] = test_images(200):reshape { 200, 784 } }, sess)
    assert.are.equal(0, worst)
  end)

  it("a float64 CNN built with tensorslow (channels last) comes back within 1e-12", function()
    ts.seed(5)
    local g = ts.Graph()
    g:as_default()
    local L = ts.layers
    local x = ts.placeholder { shape = { -1, 12, 12, 2 }, dtype = "float64", name = "x" }
    local h = L.conv2d(x, 4, 3, { padding = "same", activation = ts.relu, name = "c1", dtype = "float64" })
    -- epsilon a float32 can hold: ONNX stores attributes such as epsilon as float32
    h = L.batch_normalization(h, { training = false, name = "bn1", epsilon = 2 ^ -10 })
    h = L.max_pooling2d(h, 2, 2)
    h = L.conv2d(h, 6, 3, { strides = 2, padding = "valid", name = "c2", dtype = "float64" })
    h = ts.nn.avg_pool2d(ts.tanh(h), { ksize = 2, strides = 1, padding = "SAME" })
    local logits = L.dense(L.flatten(h), 5, { name = "out", dtype = "float64" })
    local probs = ts.softmax(logits)
    local sess <close> = ts.Session(g)
    -- batch norm's moving statistics away from 0 and 1, so that they matter
    for _, name in ipairs { "bn1/moving_mean", "bn1/moving_variance", "bn1/gamma", "bn1/beta" } do
      g:get(name):assign(ts.rand({ 4 }, "float64") + 0.5)
    end
    local xs = ts.rand({ 3, 12, 12, 2 }, "float64")
    local worst = round_trip("cnn64", { inputs = { x }, outputs = { logits, probs, ts.argmax(probs, 2) } },
      { [x] = xs }, sess)
    assert.is_true(worst <= 1e-12, "differs by " .. worst)
  end)

  it("the CNN example's network with training fixed to 0 comes back within 1e-6", function()
    ts.seed(9)
    local g = ts.Graph()
    g:as_default()
    local m = dofile("examples/cnn_model.lua") { model = "bn" }
    local sess <close> = ts.Session(g)
    local xs = test_images(16):reshape { 16, 28, 28, 1 }
    local feed = { [m.x] = xs, [m.training] = ts.tensor(0, "uint8") }
    local worst, back = round_trip("cnn_example", { inputs = { m.x }, outputs = { m.logits },
      feed = { [m.training] = 0 } }, feed, sess)
    assert.is_true(worst <= 1e-6, "differs by " .. worst)
    assert.are.equal(1, #back.inputs)
  end)
end)
