-- The ONNX import converters of the index ops (lua/tensorslow/onnx_map_index.lua): small
-- models written as tables and encoded by onnx_pb.encode; 0-based and negative ONNX
-- indices, outputs back in ONNX's convention, run-time index errors naming the op, and the
-- attribute values that are refused. (The ONNX node tests, `make onnx-test`, cover the rest.)
local ts = require "tensorslow"
local core = require "tensorslow.core"
local pb = require "tensorslow.onnx_pb"
local H = require "helpers"

local FLOAT, INT64, BOOL = 1, 7, 9
local A_INT, A_STRING = 2, 3

local function vi(name, elem, dims) return { name = name, elem_type = elem, dims = dims } end

-- A one-node model: inputs (value infos), outputs, optional initializers.
local function model(op, attrs, inputs, outputs, inits, opset)
  local ins, outs = {}, {}
  for i, v in ipairs(inputs) do ins[i] = v.name end
  for i, v in ipairs(outputs) do outs[i] = v.name end
  for _, t in ipairs(inits or {}) do ins[#ins + 1] = t.name end
  return ts.onnx.load_string(pb.encode {
    ir_version = 8, producer_name = "spec", opset_import = { { domain = "", version = opset or 16 } },
    graph = {
      name = "g",
      node = { { name = "n1", op_type = op, input = ins, output = outs, attribute = attrs or {} } },
      initializer = inits or {},
      input = inputs, output = outputs,
    },
  })
end
local function i64(name, dims, values)
  return { name = name, data_type = INT64, dims = dims, bytes = core.to_bytes(ts.tensor(values, "int64")) }
end
local function run(m, feeds, which)
  local sess <close> = ts.Session(m.graph)
  local f = {}
  for i, v in ipairs(feeds) do f[m.inputs[i]] = v end
  return sess:run(m.outputs[which or 1], f)
end

describe("ONNX index converters", function()
  it("take 0-based and negative indices (GatherND, GatherElements, ScatterND)", function()
    local x = ts.tensor({ { 1, 2 }, { 3, 4 } }, "float32")
    local m = model("GatherND", nil, { vi("x", FLOAT, { 2, 2 }), vi("i", INT64, { 2, 2 }) },
      { vi("y", FLOAT, { 2 }) })
    H.tensor(run(m, { x, ts.tensor({ { 0, 1 }, { -1, 0 } }, "int64") }), { 2, 3 }, "float32")
    m = model("GatherElements", { { name = "axis", type = A_INT, i = 1 } },
      { vi("x", FLOAT, { 2, 2 }), vi("i", INT64, { 2, 1 }) }, { vi("y", FLOAT, { 2, 1 }) })
    H.tensor(run(m, { x, ts.tensor({ { 1 }, { -2 } }, "int64") }), { { 2 }, { 3 } })
    m = model("ScatterND", { { name = "reduction", type = A_STRING, s = "add" } },
      { vi("x", FLOAT, { 2, 2 }), vi("i", INT64, { 2, 1 }), vi("u", FLOAT, { 2, 2 }) },
      { vi("y", FLOAT, { 2, 2 }) })
    H.tensor(run(m, { x, ts.tensor({ { 0 }, { 0 } }, "int64"), ts.ones({ 2, 2 }, "float32") }),
      { { 3, 4 }, { 3, 4 } })
  end)

  it("refuse an index out of range when the model runs, naming the op", function()
    local m = model("GatherND", nil, { vi("x", FLOAT, { 2, 2 }), vi("i", INT64, { 1, 2 }) },
      { vi("y", FLOAT, { 1 }) })
    H.fails(function() run(m, { ts.zeros({ 2, 2 }, "float32"), ts.tensor({ { 0, 2 } }, "int64") }) end,
      "gather_nd 'n1': index 3 is out of range for axis 2 of size 2")
    H.fails(function() run(m, { ts.zeros({ 2, 2 }, "float32"), ts.tensor({ { -3, 0 } }, "int64") }) end,
      "index -3 is out of range")
    m = model("ScatterElements", nil,
      { vi("x", FLOAT, { 2 }), vi("i", INT64, { 1 }), vi("u", FLOAT, { 1 }) }, { vi("y", FLOAT, { 2 }) })
    H.fails(function()
      run(m, { ts.zeros({ 2 }, "float32"), ts.tensor({ 7 }, "int64"), ts.ones({ 1 }, "float32") })
    end, "scatter_elements 'n1': index 8 is out of range")
  end)

  it("give TopK's indices and Unique's outputs 0-based", function()
    local m = model("TopK", { { name = "largest", type = A_INT, i = 0 } }, { vi("x", FLOAT, { 5 }) },
      { vi("v", FLOAT, { 2 }), vi("i", INT64, { 2 }) }, { i64("k", { 1 }, { 2 }) })
    local x = ts.tensor({ 3, 1, 4, 1, 5 }, "float32")
    H.tensor(run(m, { x }, 1), { 1, 1 }, "float32")
    H.tensor(run(m, { x }, 2), { 1, 3 }, "int64")
    m = model("Unique", { { name = "sorted", type = A_INT, i = 0 } }, { vi("x", FLOAT, { 5 }) },
      { vi("y", FLOAT, { -1 }), vi("first", INT64, { -1 }), vi("inv", INT64, { 5 }), vi("n", INT64, { -1 }) })
    local sess <close> = ts.Session(m.graph)
    local o = m.outputs
    local r = sess:run({ o[1], o[2], o[3], o[4] }, { [m.inputs[1]] = x })
    H.tensor(r[1], { 3, 1, 4, 5 }, "float32")
    H.tensor(r[2], { 0, 1, 2, 4 }, "int64")
    H.tensor(r[3], { 0, 1, 2, 1, 3 }, "int64")
    H.tensor(r[4], { 1, 2, 1, 1 }, "int64")
  end)

  it("pad a short Compress condition and bind Trilu's k", function()
    local m = model("Compress", nil, { vi("x", FLOAT, { 2, 3 }) }, { vi("y", FLOAT, { -1 }) },
      { { name = "c", data_type = BOOL, dims = { 4 }, bytes = "\1\0\0\1" } })
    H.tensor(run(m, { ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "float32") }), { 1, 4 }, "float32")
    m = model("Trilu", { { name = "upper", type = A_INT, i = 0 } }, { vi("x", FLOAT, { 2, 3 }) },
      { vi("y", FLOAT, { 2, 3 }) }, { i64("k", {}, { -1 }) })
    H.tensor(run(m, { ts.ones({ 2, 3 }, "float32") }), { { 0, 0, 0 }, { 1, 0, 0 } }, "float32")
  end)

  it("expand to a shape fed at run time, with a gradient", function()
    local m = model("Expand", nil, { vi("x", FLOAT, { 3, 1 }), vi("s", INT64, { 2 }) },
      { vi("y", FLOAT, { -1, -1 }) })
    local x = ts.tensor({ { 1 }, { 2 }, { 3 } }, "float32")
    H.tensor(run(m, { x, ts.tensor({ 3, 2 }, "int64") }), { { 1, 1 }, { 2, 2 }, { 3, 3 } }, "float32")
    local dx = ts.gradients(ts.reduce_sum(m.outputs[1]), m.inputs[1])[1]
    local sess <close> = ts.Session(m.graph)
    H.tensor(sess:run(dx, { [m.inputs[1]] = x, [m.inputs[2]] = ts.tensor({ 1, 4 }, "int64") }),
      { { 4 }, { 4 }, { 4 } })
  end)

  it("refuse what they do not support by name", function()
    H.fails(function()
      model("ScatterND", { { name = "reduction", type = A_STRING, s = "sum" } },
        { vi("x", FLOAT, { 2 }), vi("i", INT64, { 1, 1 }), vi("u", FLOAT, { 1 }) }, { vi("y", FLOAT, { 2 }) })
    end, "attribute reduction = sum is not supported")
    H.fails(function()
      model("TopK", nil, { vi("x", FLOAT, { 5 }), vi("k", INT64, { 1 }) },
        { vi("v", FLOAT, { -1 }), vi("i", INT64, { -1 }) })
    end, "(TopK)")
    H.fails(function()
      model("Compress", nil, { vi("x", FLOAT, { 2, 3 }), vi("c", BOOL, { -1 }) }, { vi("y", FLOAT, { -1 }) })
    end, "the sizes of the condition and of the input's axis must be known")
    H.fails(function()
      model("TopK", nil, { vi("x", FLOAT, { 5 }) }, { vi("v", FLOAT, { 9 }), vi("i", INT64, { 9 }) },
        { i64("k", { 1 }, { 9 }) })
    end, "k = 9 is out of range for an axis of size 5")
  end)
end)
