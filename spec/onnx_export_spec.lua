-- ts.onnx.save / save_string (lua/tensorslow/onnx_export.lua): every op the exporter maps,
-- at random shapes and values, exported and loaded back (ts.onnx.load_string) computes
-- what the original graph computes: the same dtype and shape, equal within 1e-12 in
-- float64 (most are bit-identical; compositions such as log1p = Log(1 + x) round once
-- more). python3-onnx's checker (full_check: types and shapes inferred) accepts every
-- exported model. Errors name the op and the node.
local ts = require "tensorslow"
local H = require "helpers"

local S = H.scratch()

-- A small LCG of its own, so the cases do not depend on math.random's state.
local function rng(seed)
  local s = seed
  return function()
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (s >> 11) / 2 ^ 52
  end
end
local R = rng(20261130)
local function dim(lo, hi) return lo + math.floor(R() * (hi - lo + 1)) end

-- The cases: {op, ins = {{shape, dtype [, kind]}...}, make = function(inputs...) -> node}.
-- kind: "pos" (0.2 .. 2.2), "small" (integers -2..2, so comparisons see ties), "indexN"
-- (1..N), default uniform in [-2, 2) (uint8: 0 or 1).
local function cases()
  local C = {}
  local function add(op, ins, make) C[#C + 1] = { op = op, ins = ins, make = make } end
  local f = "float64"
  local a, b = dim(1, 4), dim(1, 5)
  for _, op in ipairs { "add", "subtract", "multiply", "divide", "maximum", "minimum",
    "squared_difference" } do
    add(op, { { { a, b }, f }, { { b }, f } }, function(x, y) return ts[op](x, y) end)
  end
  add("pow", { { { a, b }, f, "pos" }, { { a, b }, f } }, function(x, y) return ts.pow(x, y) end)
  for _, op in ipairs { "equal", "not_equal", "less", "less_equal", "greater", "greater_equal" } do
    add(op, { { { dim(1, 3), b }, f, "small" }, { { b }, f, "small" } },
      function(x, y) return ts[op](x, y) end)
  end
  add("where", { { { a, b }, "uint8" }, { { a, b }, f }, { { a, b }, f } },
    function(c, x, y) return ts.where(c, x, y) end)
  local s3 = { dim(1, 3), dim(1, 3), dim(1, 4) }
  for _, op in ipairs { "negative", "abs", "sign", "square", "exp", "sin", "cos", "tanh", "sigmoid", "relu",
    "softplus", "softsign", "identity", "stop_gradient", "zeros_like", "ones_like", "gelu" } do
    add(op, { { s3, f } }, function(x) return ts[op](x) end)
  end
  for _, op in ipairs { "log", "log1p", "sqrt", "rsqrt", "reciprocal" } do
    add(op, { { { a, b }, f, "pos" } }, function(x) return ts[op](x) end)
  end
  -- ONNX stores alpha and epsilon as float32: values it holds exactly keep float64 exact
  add("leaky_relu", { { { a, b }, f } }, function(x) return ts.leaky_relu(x, { alpha = 0.125 }) end)
  add("elu", { { { a, b }, f } }, function(x) return ts.elu(x, { alpha = 0.5 }) end)
  local k = dim(1, 4)
  add("matmul", { { { a, k }, f }, { { k, b }, f } }, function(x, y) return ts.matmul(x, y) end)
  add("matmul", { { { 2, k, a }, f }, { { 2, b, k }, f } },
    function(x, y) return ts.matmul(x, y, { transpose_a = true, transpose_b = true }) end)
  add("transpose", { { s3, f } }, function(x) return ts.transpose(x, { 3, 1, 2 }) end)
  add("transpose", { { s3, f } }, function(x) return ts.transpose(x) end)
  add("reshape", { { { 2, a, b }, f } }, function(x) return ts.reshape(x, { b, -1 }) end)
  add("squeeze", { { { a, 1, b, 1 }, f } }, function(x) return ts.squeeze(x, { 2 }) end)
  add("squeeze", { { { 2, 1, b, 1 }, f } }, function(x) return ts.squeeze(x) end)
  add("expand_dims", { { { a, b }, f } }, function(x) return ts.expand_dims(x, 2) end)
  add("expand_dims", { { { a, b }, f } }, function(x) return ts.expand_dims(x, -1) end)
  add("concat", { { { a, b }, f }, { { a, 2 }, f } }, function(x, y) return ts.concat({ x, y }, 2) end)
  add("stack", { { { a, b }, f }, { { a, b }, f } }, function(x, y) return ts.stack({ x, y }, -1) end)
  add("slice", { { { 4, 5 }, f } }, function(x) return ts.slice(x, { 2, -3 }, { 2, -1 }) end)
  add("slice", { { { 4, 5 }, f } }, function(x) return ts.slice(x, { 1, -2 }, { -1, 2 }) end)
  add("gather", { { { 5, b }, f }, { { dim(1, 6) }, "int64", "index5" } },
    function(x, i) return ts.gather(x, i) end)
  add("gather", { { { a, 5 }, f }, { { 2, 2 }, "int64", "index5" } },
    function(x, i) return ts.gather(x, i, 2) end)
  add("tile", { { { a, b }, f } }, function(x) return ts.tile(x, { 2, 1 }) end)
  add("pad", { { { a, b }, f } }, function(x) return ts.pad(x, { { 1, 0 }, { 2, 1 } }, 0.5) end)
  add("cast", { { { a, b }, f } }, function(x) return ts.cast(x, "float32") end)
  add("cast", { { { a, b }, f, "small" } }, function(x) return ts.cast(x, "int64") end)
  add("one_hot", { { { dim(1, 6) }, "int64", "index6" } }, function(i) return ts.one_hot(i, 5) end)
  for _, op in ipairs { "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
    "reduce_logsumexp" } do
    add(op, { { s3, f } }, function(x) return ts[op](x, 2) end)
    add(op, { { s3, f } }, function(x) return ts[op](x, { 1, -1 }, true) end)
    add(op, { { s3, f } }, function(x) return ts[op](x) end)
  end
  add("argmax", { { { a, b }, f } }, function(x) return ts.argmax(x, 2) end)
  add("argmin", { { { a, b }, f } }, function(x) return ts.argmin(x, 1) end)
  add("softmax", { { { a, b }, f } }, function(x) return ts.softmax(x) end)
  add("log_softmax", { { { a, b }, f } }, function(x) return ts.log_softmax(x, 1) end)
  add("softmax_cross_entropy_with_logits", { { { a, 4 }, f, "pos" }, { { a, 4 }, f } },
    function(l, x) return ts.nn.softmax_cross_entropy_with_logits { labels = l, logits = x } end)
  add("sparse_softmax_cross_entropy_with_logits", { { { a }, "int64", "index4" }, { { a, 4 }, f } },
    function(l, x) return ts.nn.sparse_softmax_cross_entropy_with_logits { labels = l, logits = x } end)
  add("sigmoid_cross_entropy_with_logits", { { { a, b }, f, "pos" }, { { a, b }, f } },
    function(l, x) return ts.nn.sigmoid_cross_entropy_with_logits { labels = l, logits = x } end)
  add("mean_squared_error", { { { a, b }, f }, { { a, b }, f } },
    function(l, p) return ts.mean_squared_error(l, p) end)
  add("l2_loss", { { { a, b }, f } }, function(x) return ts.nn.l2_loss(x) end)
  add("bias_add", { { { a, b }, f }, { { b }, f } }, function(x, y) return ts.nn.bias_add(x, y) end)
  add("dropout", { { { a, b }, f } }, function(x) return ts.nn.dropout(x, 0.5, { training = false }) end)
  local h, w = dim(4, 8), dim(4, 8)
  add("conv", { { { 2, h, w, 3 }, f }, { { 3, 2, 3, 4 }, f } },
    function(x, kk) return ts.nn.conv2d(x, kk, { strides = 2, padding = "SAME" }) end)
  add("conv", { { { 2, 3, h, w }, f }, { { 4, 3, 3, 2 }, f } }, function(x, kk)
    return ts.nn.conv2d(x, kk, { padding = { { 1, 0 }, { 2, 1 } }, dilations = { 1, 2 },
                                 data_format = "NCHW" })
  end)
  add("conv", { { { 2, h, 4 }, f }, { { 3, 2, 4 }, f } },
    function(x, kk) return ts.nn.conv1d(x, kk, { groups = 2 }) end)
  add("max_pool", { { { 2, h, w, 3 }, f } },
    function(x) return ts.nn.max_pool2d(x, { ksize = 3, strides = 2, padding = "SAME" }) end)
  add("avg_pool", { { { 2, 3, h, w }, f } },
    function(x) return ts.nn.avg_pool2d(x, { ksize = 2, strides = 2, data_format = "NCHW" }) end)
  add("avg_pool", { { { 2, h, w, 3 }, f } },
    function(x) return ts.nn.avg_pool2d(x, { ksize = 3, strides = 1, padding = "SAME" }) end)
  add("fused_batch_norm",
    { { { 2, 3, 3, 4 }, f }, { { 4 }, f }, { { 4 }, f }, { { 4 }, f }, { { 4 }, f, "pos" } },
    function(x, sc, o, m, v)
      return (ts.nn.fused_batch_norm(x, sc, o,
        { mean = m, variance = v, is_training = false, epsilon = 2 ^ -10 }))
    end)
  add("layer_normalization", { { { a, 4, 5 }, f }, { { 5 }, f }, { { 5 }, f } },
    function(x, g, be) return ts.nn.layer_normalization(x, { gamma = g, beta = be }) end)
  add("layer_normalization", { { { a, 4, 5 }, f }, { { 5 }, f } },
    function(x, g) return ts.nn.layer_normalization(x, { begin_norm_axis = 2, gamma = g }) end)
  add("l2_normalize", { { { a, b }, f } }, function(x) return ts.nn.l2_normalize(x, 2) end)
  return C
end

local function value(spec)
  local shape, dtype, kind = spec[1], spec[2], spec[3]
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local v = {}
  for i = 1, n do
    if kind == "pos" then v[i] = 0.2 + 2 * R()
    elseif kind == "small" then v[i] = math.floor(R() * 5) - 2
    elseif kind and kind:match("^index") then v[i] = 1 + math.floor(R() * tonumber(kind:match("%d+")))
    elseif dtype == "uint8" then v[i] = R() < 0.5 and 0 or 1
    else v[i] = 4 * R() - 2 end
  end
  return ts.tensor(v, dtype):reshape(shape)
end

-- Builds case c in a new graph; returns the model's bytes, the original's output, the inputs.
local function export(c)
  local g = ts.Graph()
  local ps, feed, vals = {}, {}, {}
  for i, s in ipairs(c.ins) do
    ps[i] = ts.placeholder { shape = s[1], dtype = s[2], name = "in" .. i, graph = g }
    vals[i] = value(s)
    feed[ps[i]] = vals[i]
  end
  local y = c.make(table.unpack(ps))
  local sess <close> = ts.Session(g)
  return ts.onnx.save_string { inputs = ps, outputs = { y } }, sess:run(y, feed), vals
end

-- max |a - b| / max(1, |b|) over the elements, as float64
local function diff(a, b)
  local x, y = ts.cast(a, "float64"), ts.cast(b, "float64")
  return ts.reduce_max(ts.abs(x - y) / ts.maximum(ts.abs(y), 1)):item()
end

--- The output of model bytes run on inputs (in the model's input order).
local function reimport(bytes, vals)
  local m = ts.onnx.load_string(bytes)
  local feed = {}
  for i, p in ipairs(m.inputs) do feed[p] = vals[i] end
  local sess <close> = ts.Session(m.graph)
  return sess:run(m.outputs[1], feed), m
end

-- Runs python3-onnx's checker (full_check) on every file; returns {name = "ok" | message}.
local function check_files(paths)
  local script = S.write("check.py", table.concat({
    "import sys, onnx",
    "for p in sys.argv[1:]:",
    "    try:",
    "        onnx.checker.check_model(onnx.load(p), full_check=True)",
    "        print(p, 'ok')",
    "    except Exception as e:",
    "        print(p, str(e).replace(chr(10), ' ')[:300])",
  }, "\n"))
  local args = {}
  for i, p in ipairs(paths) do args[i] = "'" .. p .. "'" end
  local pipe = assert(io.popen(("%s/usr/bin/python3 %s %s 2>&1"):format(H.CLEAN, script,
    table.concat(args, " "))))
  local out = {}
  for line in pipe:lines() do
    local p, rest = line:match("^(%S+) (.*)$")
    if p then out[p] = rest end
  end
  pipe:close()
  return out
end

describe("ts.onnx.save: single ops", function()
  before_each(S.setup)
  after_each(S.teardown)

  it("every mapped op, exported and loaded back, computes the same values", function()
    local seen = {}
    for i, c in ipairs(cases()) do
      local bytes, want, vals = export(c)
      local got = reimport(bytes, vals)
      local what = ("case %d (%s)"):format(i, c.op)
      assert.are.equal(want.dtype, got.dtype, what)
      assert.are.same(want.shape, got.shape, what)
      assert.is_true(diff(got, want) <= 1e-12, what .. ": differs by " .. diff(got, want))
      seen[c.op] = true
    end
    -- every op of the exporter's table has a case
    local map = require("tensorslow.onnx_export")
    assert.is_function(map)
    for _, op in ipairs { "add", "conv", "max_pool", "avg_pool", "fused_batch_norm", "gather", "one_hot",
      "reduce_logsumexp", "sparse_softmax_cross_entropy_with_logits", "layer_normalization", "gelu" } do
      assert.is_true(seen[op], op)
    end
  end)

  it("python3-onnx's checker (full_check) accepts every exported model", function()
    local paths = {}
    for i, c in ipairs(cases()) do
      paths[i] = S.write(("op%03d_%s.onnx"):format(i, c.op), (export(c)))
    end
    local res = check_files(paths)
    for _, p in ipairs(paths) do assert.are.equal("ok", res[p], p) end
  end)

  it("declares the opset asked for (13 to 17) and the producer", function()
    local x = ts.placeholder { shape = { 2 }, dtype = "float64", name = "x", graph = ts.Graph() }
    for _, opset in ipairs { 13, 17 } do
      local m = ts.onnx.load_string(ts.onnx.save_string { inputs = { x }, outputs = { ts.exp(x) },
        opset = opset, producer = "spec" })
      assert.are.equal(opset, m.opset)
      assert.are.equal("spec", m.producer)
    end
  end)
end)

describe("ts.onnx.save: graphs", function()
  before_each(S.setup)
  after_each(S.teardown)

  it("inputs keep dtype and shape (-1 named), variables become initializers, names are kept", function()
    local g = ts.Graph()
    local x = ts.placeholder { shape = { -1, 3 }, dtype = "float32", name = "features", graph = g }
    local W = ts.Variable(ts.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, "float32"), { name = "W", graph = g })
    local y = ts.matmul(x, W, { name = "scores" })
    local path = ts.onnx.save(S.path("m.onnx"), { inputs = { x }, outputs = { y } })
    assert.are.equal(S.path("m.onnx"), path)
    local m = ts.onnx.load(path)
    assert.are.equal("features", m.inputs[1].name)
    assert.are.same({ -1, 3 }, m.inputs[1].shape)
    assert.are.equal("float32", m.inputs[1].dtype)
    assert.are.equal(1, #m.variables)
    assert.are.equal("W", m.variables[1].name)
    H.tensor(m.variables.W:value(), { { 1, 2 }, { 3, 4 }, { 5, 6 } }, "float32")
    assert.is_not_nil(m.outputs.scores)
    local sess <close> = ts.Session(m.graph)
    H.tensor(sess:run(m.outputs[1], { [m.inputs[1]] = ts.tensor({ { 1, 0, 1 } }, "float32") }), { { 6, 8 } })
  end)

  it("names renames inputs and outputs; several outputs, an output that is an input", function()
    local g = ts.Graph()
    local x = ts.placeholder { shape = { 2 }, dtype = "float64", name = "x", graph = g }
    local y = ts.exp(x)
    local m = ts.onnx.load_string(ts.onnx.save_string { inputs = { x }, outputs = { y, x, y },
      names = { [x] = "image", [y] = "probs" } })
    assert.are.equal("image", m.inputs[1].name)
    assert.are.equal(3, #m.outputs)
    local sess <close> = ts.Session(m.graph)
    local r = sess:run({ m.outputs[1], m.outputs[2], m.outputs[3] }, { [m.inputs[1]] = ts.tensor { 0, 1 } })
    H.tensor(r[1], { 1, math.exp(1) })
    H.tensor(r[2], { 0, 1 })
    H.tensor(r[3], { 1, math.exp(1) })
  end)

  it("feed fixes a placeholder: where and dropout choosing on it are simplified", function()
    local g = ts.Graph()
    local x = ts.placeholder { shape = { -1, 4 }, dtype = "float64", name = "x", graph = g }
    local training = ts.placeholder { shape = {}, dtype = "uint8", name = "training", graph = g }
    local y = ts.where(training, x * 2, x + 1)
    y = ts.nn.dropout(y, 0.5, { training = training })
    local bytes = ts.onnx.save_string { inputs = { x }, outputs = { y }, feed = { [training] = 0 } }
    local got = reimport(bytes, { ts.tensor { { 1, 2, 3, 4 } } })
    H.tensor(got, { { 2, 3, 4, 5 } })
    assert.is_nil(bytes:find("Dropout", 1, true))
    -- given as an input instead, the choice and the dropout stay in the model
    local both = ts.onnx.save_string { inputs = { x, training }, outputs = { y } }
    assert.is_not_nil(both:find("Dropout", 1, true))
    assert.is_not_nil(both:find("Where", 1, true))
  end)

  it("a model without inputs: variables and constants only", function()
    local g = ts.Graph()
    local v = ts.Variable(ts.tensor { 1, 2, 3 }, { name = "v", graph = g })
    local y = ts.reduce_sum(v * ts.constant(ts.tensor { 2, 2, 2 }, { graph = g }))
    local got = reimport(ts.onnx.save_string { outputs = { y } }, {})
    H.tensor(got, 12, "float64", 0)
  end)

  it("refuses what has no ONNX form, naming the op and the node", function()
    local g = ts.Graph()
    local x = ts.placeholder { shape = { 2, 3 }, dtype = "float64", name = "x", graph = g }
    local other = ts.placeholder { shape = { 2, 3 }, dtype = "float64", name = "other", graph = g }
    local noise = ts.random_normal({ 2, 3 }, { name = "noise", graph = g, seed = 1 })
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x + noise } } end,
      "onnx.save: random_normal 'noise': op random_normal has no ONNX equivalent")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x + other } } end,
      "placeholder 'other' is needed by the outputs but is not among the inputs")
    local drop = ts.nn.dropout(x, 0.5, { training = true, name = "drop" })
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { drop } } end,
      "onnx.save: dropout 'drop': an active dropout (training) has no deterministic ONNX form")
    local bn = ts.nn.fused_batch_norm(x, ts.ones({ 3 }, "float64"), ts.zeros({ 3 }, "float64"),
      { name = "bn" })
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { bn } } end,
      "batch normalization in training mode (batch statistics) cannot be exported")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x }, opset = 12 } end,
      "onnx.save: opset must be an integer from 13 to 17, got 12")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x }, opset = 18 } end,
      "opset must be an integer from 13 to 17, got 18")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x }, colour = 1 } end, "colour")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = {} } end,
      "onnx.save: outputs is empty")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { 3 } } end,
      "onnx.save: outputs[1] is not a node")
    H.fails(function() ts.onnx.save_string { inputs = { x, x }, outputs = { x } } end,
      "input 'x' is given twice")
    H.fails(function() ts.onnx.save_string { inputs = { x }, outputs = { x }, feed = { [x + 1] = 1 } } end,
      "feed must map placeholders to values")
    H.fails(function() ts.onnx.save(3, { inputs = { x }, outputs = { x } }) end,
      "onnx.save: path must be a string")
  end)
end)
