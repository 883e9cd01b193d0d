-- The ONNX converters of lua/tensorslow/onnx_map_math.lua on models written here as tables:
-- what they build (against the tensorslow ops called directly, and gradients through the
-- imported graph) and the attribute values they refuse, named with the node. The ONNX
-- backend node tests of these op types run in `make onnx-test`.
local ts = require "tensorslow"
local core = require "tensorslow.core"
local pb = require "tensorslow.onnx_pb"
local H = require "spec.helpers"

local FLOAT, INT64 = 1, 7
local A_FLOAT, A_INT, A_STRING, A_INTS = 1, 2, 3, 7

local function attr(name, v)
  if type(v) == "string" then return { name = name, type = A_STRING, s = v } end
  if type(v) == "table" then return { name = name, type = A_INTS, ints = v } end
  if math.type(v) == "integer" then return { name = name, type = A_INT, i = v } end
  return { name = name, type = A_FLOAT, f = v }
end

-- One node op_type(x [, y]) -> out, attributes from attrs (name -> value); inputs float32
-- [2, 3] unless given; initializers: name -> tensor.
local function model(op_type, attrs, opts)
  opts = opts or {}
  local a = {}
  for k, v in pairs(attrs or {}) do a[#a + 1] = attr(k, v) end
  table.sort(a, function(p, q) return p.name < q.name end)
  local inputs, init = {}, {}
  for i, spec in ipairs(opts.inputs or { { "x", FLOAT, { 2, 3 } } }) do
    inputs[i] = { name = spec[1], elem_type = spec[2], dims = spec[3] }
  end
  for name, t in pairs(opts.init or {}) do
    init[#init + 1] = { name = name, data_type = t.dtype == "int64" and INT64 or FLOAT, dims = t.shape,
                        bytes = core.to_bytes(t) }
  end
  local names = opts.node_inputs or { "x" }
  return pb.encode {
    ir_version = 8, producer_name = "spec", opset_import = { { domain = "", version = opts.opset or 13 } },
    graph = {
      name = "g",
      node = { { name = "n1", op_type = op_type, input = names, output = opts.outputs or { "y" },
                 attribute = a } },
      initializer = init, input = inputs,
      output = { { name = (opts.outputs or { "y" })[1], elem_type = FLOAT,
                   dims = opts.out_dims or { 2, 3 } } },
    },
  }
end

local function run(bytes, feed, load_opts)
  local m = ts.onnx.load_string(bytes, load_opts)
  local s <close> = ts.Session(m.graph)
  local f = {}
  for k, v in pairs(feed) do f[m.inputs[k]] = v end
  return s:run(m.outputs[1], f), m
end

local X = ts.tensor({ { -2.5, -0.5, 0.25 }, { 0.5, 1.5, 3 } }, "float32")

describe("ONNX math converters", function()
  it("map onto the tensorslow ops with ONNX's attributes and defaults", function()
    local cases = {
      { "Erf", {}, ts.erf(X) },
      { "Round", {}, ts.round(X) },
      { "Selu", {}, ts.selu(X, { alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875 }) },
      { "Selu", { alpha = 2.0, gamma = 0.5 }, ts.selu(X, { alpha = 2, gamma = 0.5 }) },
      { "HardSigmoid", { alpha = 0.5 }, ts.hard_sigmoid(X, { alpha = 0.5, beta = 0.5 }) },
      { "Shrink", { lambd = 1.0, bias = 0.25 }, ts.shrink(X, { lambd = 1, bias = 0.25 }) },
      { "ThresholdedRelu", {}, ts.thresholded_relu(X) },
      { "Celu", { alpha = 2.0 }, ts.celu(X, { alpha = 2 }) },
      { "Hardmax", { axis = 0 }, ts.hardmax(X, { axis = 1 }) },
    }
    for _, c in ipairs(cases) do
      local y = run(model(c[1], c[2]), { X })
      H.tensor(y, c[3]:totable(), "float32", 1e-6)
    end
  end)

  it("Erf, Shrink and PRelu of integers compute in float64 and cast back (ONNX allows them)", function()
    local xi = ts.tensor({ { -3, -1, 0 }, { 1, 2, 5 } }, "int64")
    local opts = { inputs = { { "x", INT64, { 2, 3 } } } }
    local y = run(model("Shrink", { lambd = 1.5, bias = 1.0 }, opts), { xi })
    H.tensor(y, { { -2, 0, 0 }, { 0, 1, 4 } }, "int64")
    y = run(model("Erf", {}, opts), { xi })
    H.tensor(y, { { 0, 0, 0 }, { 0, 0, 0 } }, "int64") -- |erf| < 1 truncates to 0
    local slope = ts.tensor({ 2, 3, 4 }, "int64")
    y = run(model("PRelu", {}, { inputs = opts.inputs, init = { s = slope }, node_inputs = { "x", "s" } }),
      { xi })
    H.tensor(y, { { -6, -3, 0 }, { 1, 2, 5 } }, "int64")
  end)

  it("Mod: fmod chooses floormod or truncatemod", function()
    local init = { d = ts.tensor({ 2, -2, 2 }, "float32") }
    local opts = { init = init, node_inputs = { "x", "d" } }
    H.tensor(run(model("Mod", { fmod = 1 }, opts), { X }), ts.truncatemod(X, init.d):totable(), "float32")
    H.tensor(run(model("Mod", {}, opts), { X }), ts.floormod(X, init.d):totable(), "float32")
  end)

  it("Resize builds a graph that differentiates (gathers of constant taps)", function()
    local x = ts.tensor({ { { { 1, 2 }, { 3, 4 } } } }, "float32")
    local bytes = model("Resize", { mode = "linear" }, {
      inputs = { { "x", FLOAT, { 1, 1, 2, 2 } } }, node_inputs = { "x", "", "s" },
      init = { s = ts.tensor({ 1, 1, 2, 2 }, "float32") }, out_dims = { 1, 1, 4, 4 } })
    local y, m = run(bytes, { x }, { trainable = false }) -- the scales: a constant
    assert.are.same({ 1, 1, 4, 4 }, y.shape)
    H.tensor(y[1][1][1], { 1, 1.25, 1.75, 2 }, "float32", 1e-6)
    local dx = ts.gradients(ts.reduce_sum(m.outputs[1]), m.inputs[1])[1]
    local s <close> = ts.Session(m.graph)
    -- every input pixel's weights sum to 4 (16 outputs over 4 inputs, rows and columns alike)
    H.tensor(s:run(dx, { [m.inputs[1]] = x }), { { { { 4, 4 }, { 4, 4 } } } }, "float32", 1e-6)
  end)

  it("refuse the attribute values they do not implement, naming the node", function()
    local init = { d = ts.tensor({ 2, -2, 2 }, "float32") }
    local two = { init = init, node_inputs = { "x", "d" } }
    for _, c in ipairs {
      { "Mod", { fmod = 2 }, two, "attribute fmod = 2 is not supported" },
      { "BitShift", { direction = "UP" }, two, "attribute direction = UP is not supported" },
      { "DepthToSpace", { blocksize = 1, mode = "XYZ" }, nil, "attribute mode = XYZ is not supported" },
      { "Resize", { mode = "area" }, { node_inputs = { "x", "", "d" }, init = init },
        "attribute mode = area is not supported" },
      { "LRN", { size = 0 }, nil, "attribute size must be a positive integer" },
      { "Einsum", {}, nil, "attribute equation is missing" },
    } do
      local err = H.fails(function() ts.onnx.load_string(model(c[1], c[2], c[3])) end, c[4])
      assert.truthy(err:find("n1", 1, true), err)
      assert.truthy(err:find(c[1], 1, true), err)
    end
  end)

  it("NegativeLogLikelihoodLoss: reduction none, sum, mean with weights and ignore_index", function()
    local lp = ts.tensor({ { -1, -2, -3 }, { -0.5, -1.5, -2.5 } }, "float32")
    local t = ts.tensor({ 2, 0 }, "int64")
    local w = ts.tensor({ 0.5, 1, 2 }, "float32")
    local function nll(attrs, weights, dims)
      local opts = { inputs = { { "x", FLOAT, { 2, 3 } } }, init = { t = t, w = w },
                     node_inputs = { "x", "t", weights and "w" or nil }, out_dims = dims }
      return run(model("NegativeLogLikelihoodLoss", attrs, opts), { lp })
    end
    H.tensor(nll({ reduction = "none" }, false, { 2 }), { 3, 0.5 }, "float32")
    H.tensor(nll({ reduction = "sum" }, true, {}), 3 * 2 + 0.5 * 0.5, "float32")
    H.tensor(nll({}, true, {}), (3 * 2 + 0.5 * 0.5) / 2.5, "float32", 1e-6)
    H.tensor(nll({ ignore_index = 2 }, true, {}), 0.5, "float32", 1e-6)
    H.fails(function() nll({ reduction = "avg" }, false, {}) end,
      "attribute reduction = avg is not supported")
  end)
end)
