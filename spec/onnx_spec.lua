-- ts.onnx (import), tensorslow.onnx_pb (the protobuf-c module), core.from_bytes/to_bytes
-- and the external dtypes of ts.io.load_safetensors. Models are written here as tables
-- and encoded by onnx_pb.encode, so each hostile case changes exactly one thing.
local ts = require "tensorslow"
local core = require "tensorslow.core"
local pb = require "tensorslow.onnx_pb"
local H = require "spec.helpers"

local FLOAT, INT64, STRING = 1, 7, 8
local A_FLOAT, A_INTS = 1, 7
local TESTDATA = "/usr/share/libonnx-testdata/data"

local function f32(values) return core.to_bytes(ts.tensor(values, "float32")) end

-- equal values (NaN equals NaN) of two nested tables
local function same_values(want, got, path)
  if type(want) == "table" then
    assert.equal(#want, #got, path)
    for i = 1, #want do same_values(want[i], got[i], path .. "[" .. i .. "]") end
  elseif want ~= want then
    assert(got ~= got, path .. ": expected NaN, got " .. tostring(got))
  else
    assert(want == got, ("%s: expected %s, got %s"):format(path, tostring(want), tostring(got)))
  end
end

local function vi(name, elem, dims) return { name = name, elem_type = elem, dims = dims } end

-- y = relu(x W + b) with W [3, 2], b [2]; x [-1 ("batch"), 3]
local function gemm_model(over)
  over = over or {}
  local m = {
    ir_version = 8, producer_name = "spec", opset_import = { { domain = "", version = 13 } },
    graph = {
      name = "g",
      node = over.node or {
        { name = "fc", op_type = "Gemm", input = { "x", "W", "b" }, output = { "h" },
          attribute = { { name = "alpha", type = A_FLOAT, f = 1.0 } } },
        { name = "act", op_type = "Relu", input = { "h" }, output = { "y" } },
      },
      initializer = over.initializer or {
        { name = "W", data_type = FLOAT, dims = { 3, 2 }, bytes = f32 { 1, -1, 2, 0.5, -3, 1 } },
        { name = "b", data_type = FLOAT, dims = { 2 }, bytes = f32 { 0.5, -0.25 } },
      },
      input = { { name = "x", elem_type = FLOAT, dims = { -1, 3 }, dim_params = { "batch" } } },
      output = { vi("y", FLOAT, { -1, 2 }) },
    },
  }
  return m
end

local function run(m, x)
  local s = ts.Session(m.graph)
  local y = s:run(m.outputs[1], { [m.inputs[1]] = x })
  s:close()
  return y
end

describe("tensorslow.onnx_pb", function()
  it("decodes what it encodes (tables of the same shape)", function()
    local m = gemm_model()
    local d = pb.decode(pb.encode(m))
    assert.equal(8, d.ir_version)
    assert.equal("spec", d.producer_name)
    assert.equal(13, d.opset_import[1].version)
    assert.equal("Gemm", d.graph.node[1].op_type)
    assert.same({ "x", "W", "b" }, d.graph.node[1].input)
    assert.equal(A_FLOAT, d.graph.node[1].attribute[1].type)
    assert.equal(1.0, d.graph.node[1].attribute[1].f)
    assert.same({ 3, 2 }, d.graph.initializer[1].dims)
    assert.equal(f32 { 1, -1, 2, 0.5, -3, 1 }, d.graph.initializer[1].bytes)
    assert.same({ -1, 3 }, d.graph.input[1].dims)
    assert.equal("batch", d.graph.input[1].dim_params[1])
    assert.equal(pb.encode(m), pb.encode(d))
  end)

  it("gives typed tensor fields as little-endian bytes", function()
    if not io.open(TESTDATA .. "/node/test_relu/model.onnx") then return pending("no test data") end
    local f = assert(io.open(TESTDATA .. "/node/test_relu/test_data_set_0/input_0.pb", "rb"))
    local t = pb.decode_tensor(f:read("a"))
    f:close()
    assert.equal(FLOAT, t.data_type)
    assert.same({ 3, 4, 5 }, t.dims)
    assert.equal(3 * 4 * 5 * 4, #t.bytes)
  end)

  it("refuses truncated and corrupt bytes with an error", function()
    local s = pb.encode(gemm_model())
    for _, cut in ipairs { 1, 7, #s // 2, #s - 1 } do
      local ok, err = pcall(pb.decode, s:sub(1, cut))
      if not ok then assert.truthy(err:find("not a valid ONNX model", 1, true), err) end
    end
    H.fails(function() pb.decode("\255\255\255\255\255") end, "not a valid ONNX model")
    H.fails(function() pb.decode_tensor("\10\255") end, "not a valid ONNX tensor")
  end)
end)

describe("core.from_bytes and core.to_bytes", function()
  it("converts each external type to the nearest dtype", function()
    H.tensor(core.from_bytes("float16", { 4 }, string.pack("<I2I2I2I2", 0x3c00, 0xc000, 0x0001, 0x7bff)),
      { 1, -2, 2 ^ -24, 65504 }, "float32", 0)
    H.tensor(core.from_bytes("bfloat16", { 2 }, string.pack("<I2I2", 0x3f80, 0xc2f7)),
      { 1, -123.5 }, "float32", 0)
    H.tensor(core.from_bytes("int8", { 2, 2 }, "\1\255\127\128"), { { 1, -1 }, { 127, -128 } }, "int64", 0)
    H.tensor(core.from_bytes("uint16", { 2 }, string.pack("<I2I2", 65535, 7)), { 65535, 7 }, "int64", 0)
    H.tensor(core.from_bytes("int32", { 1 }, string.pack("<i4", -2 ^ 31)), { -2 ^ 31 }, "int64", 0)
    H.tensor(core.from_bytes("bool", { 3 }, "\0\7\1"), { 0, 1, 1 }, "uint8", 0)
    H.tensor(core.from_bytes("uint64", { 1 }, string.pack("<i8", math.maxinteger)),
      { math.maxinteger }, "int64", 0)
  end)

  it("round-trips float16 and bfloat16 with rounding to nearest even", function()
    local x = ts.tensor({ 1 + 2 ^ -11, 1 + 3 * 2 ^ -11, 1e-8, 70000, -0.0 }, "float32")
    local h = core.from_bytes("float16", { 5 }, core.to_bytes(x, "float16"))
    same_values({ 1, 1 + 2 ^ -9, 0, math.huge, 0 }, h:totable(), "float16")
    local b = core.from_bytes("bfloat16", { 2 }, core.to_bytes(ts.tensor({ 1 + 2 ^ -8, 1 + 3 * 2 ^ -8 },
      "float32"), "bfloat16"))
    same_values({ 1, 1 + 2 ^ -6 }, b:totable(), "bfloat16")
  end)

  it("refuses values out of range, wrong lengths and unknown types", function()
    H.fails(function() core.from_bytes("uint64", { 1 }, string.pack("<i8", -1)) end,
      "more than int64 holds")
    H.fails(function() core.from_bytes("float32", { 2 }, "abc") end, "do not hold 2 float32")
    H.fails(function() core.from_bytes("complex64", { 1 }, "12345678") end,
      "unknown element type 'complex64'")
    H.fails(function() core.to_bytes(ts.tensor({ 300 }, "int64"), "int8") end,
      "element 1 is 300, out of the range of int8")
    H.fails(function() core.to_bytes(ts.tensor({ 1.5 }), "int32") end, "cannot be written as int32")
  end)
end)

describe("ts.io.load_safetensors with the external dtypes", function()
  it("loads F16, BF16, I8, I16, I32, U16, U32 and BOOL as NumPy wrote them", function()
    local t = ts.io.load_safetensors("spec/fixtures/dtypes.safetensors")
    local want = { f16 = "float32", bf16 = "float32", i8 = "int64", i16 = "int64", i32 = "int64",
      u16 = "int64", u32 = "int64", bool = "uint8", scalar_i32 = "int64" }
    for name, dtype in pairs(want) do
      local got, exp = t[name], t[name .. ".expected"]
      assert.equal(dtype, got.dtype, name)
      assert.same(exp.shape, got.shape, name)
      same_values(exp:totable(), got:cast("float64"):totable(), name)
    end
  end)

  it("writes the same float16 bytes as NumPy (to_bytes of the values)", function()
    local f = assert(io.open("spec/fixtures/dtypes.safetensors", "rb"))
    local s = f:read("a")
    f:close()
    local hlen = string.unpack("<I8", s)
    local a, b = s:match('"f16": {"dtype": "F16", "shape": %[5, 10%], "data_offsets": %[(%d+), (%d+)%]}')
    local raw = s:sub(8 + hlen + tonumber(a) + 1, 8 + hlen + tonumber(b))
    local t = ts.io.load_safetensors("spec/fixtures/dtypes.safetensors")
    assert.equal(raw, core.to_bytes(t["f16.expected"]:cast("float32"), "float16"))
  end)
end)

describe("ts.onnx.load_string", function()
  it("imports placeholders, Variables, names, opset and producer; computes the model", function()
    local m = ts.onnx.load_string(pb.encode(gemm_model()))
    assert.equal(13, m.opset)
    assert.equal("spec", m.producer)
    assert.equal(m.inputs[1], m.inputs.x)
    assert.same({ -1, 3 }, m.inputs.x.shape)
    assert.equal("float32", m.inputs.x.dtype)
    assert.equal(2, #m.variables)
    assert.equal("variable", m.variables.W.op)
    assert.equal(m.outputs.y, m.graph:get("y"))
    assert.equal(1, #m.outputs)
    local s = ts.Session(m.graph)
    local ys = s:run(m.outputs, { [m.inputs.x] = ts.tensor({ { 1, 1, 1 } }, "float32") })
    H.tensor(ys[1], { { 0.5, 0.25 } }, "float32", 1e-6)
    local y = run(m, ts.tensor({ { 1, 2, 3 }, { -1, 0, 1 } }, "float32"))
    -- x W + b = {1*1+2*2+3*-3 + .5, -1+1+3-.25} = {-3.5, 2.75}; {-1-3+.5, 1+1-.25}
    H.tensor(y, { { 0, 2.75 }, { 0, 1.75 } }, "float32", 1e-6)
  end)

  it("trains: the initializers are Variables with gradients", function()
    local m = ts.onnx.load_string(pb.encode(gemm_model()))
    local loss = ts.reduce_sum(m.outputs.y)
    local g = ts.gradients(loss, { m.variables.b })[1]
    local s = ts.Session(m.graph)
    H.tensor(s:run(g, { [m.inputs.x] = ts.tensor({ { 1, 2, 3 } }, "float32") }), { 0, 1 }, "float32", 0)
  end)

  it("makes constants with trainable = false and binds inputs with bind", function()
    local m = ts.onnx.load_string(pb.encode(gemm_model()), { trainable = false })
    assert.equal(0, #m.variables)
    assert.equal("constant", m.graph:get("W").op)
    local b = ts.onnx.load_string(pb.encode(gemm_model()),
      { bind = { x = ts.tensor({ { 1, 1, 1 } }, "float32") } })
    local s = ts.Session(b.graph)
    H.tensor(s:run(b.outputs[1]), { { 0.5, 0.25 } }, "float32", 1e-6)
    H.fails(function() ts.onnx.load_string(pb.encode(gemm_model()), { shape = 1 }) end,
      "unknown option 'shape'")
  end)

  it("leaves out unknown ops and what depends on them with allow_missing", function()
    local m = gemm_model()
    m.graph.node[1].op_type = "FancyGemm"
    m.graph.output[2] = vi("h", FLOAT, { -1, 2 })
    m.graph.node[3] = { name = "neg", op_type = "Neg", input = { "x" }, output = { "z" } }
    m.graph.output[3] = vi("z", FLOAT, { -1, 3 })
    H.fails(function() ts.onnx.load_string(pb.encode(m)) end, "unknown op type FancyGemm")
    local r = ts.onnx.load_string(pb.encode(m), { allow_missing = true })
    assert.equal(1, #r.outputs)
    assert.is_nil(r.outputs.y)
    assert.equal(r.outputs[1], r.outputs.z)
    H.tensor(run(r, ts.tensor({ { 1, -2, 3 } }, "float32")), { { -1, 2, -3 } }, "float32", 0)
  end)

  it("reshapes by a shape read while running (PyTorch's x.view(x.size(0), -1))", function()
    local m = gemm_model {
      node = {
        { op_type = "Shape", input = { "x" }, output = { "s" } },
        { op_type = "Gather", input = { "s", "zero" }, output = { "b" } },
        { op_type = "Unsqueeze", input = { "b", "axes" }, output = { "b1" } },
        { op_type = "Concat", input = { "b1", "minus1" }, output = { "shape" },
          attribute = { { name = "axis", type = 2, i = 0 } } },
        { name = "flat", op_type = "Reshape", input = { "x", "shape" }, output = { "y" } },
      },
      initializer = {
        { name = "zero", data_type = INT64, dims = {}, bytes = string.pack("<i8", 0) },
        { name = "axes", data_type = INT64, dims = { 1 }, bytes = string.pack("<i8", 0) },
        { name = "minus1", data_type = INT64, dims = { 1 }, bytes = string.pack("<i8", -1) },
      },
    }
    m.graph.input[1].dims = { -1, 2, 3 }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { { 1, 2, 3 }, { 4, 5, 6 } }, { { 7, 8, 9 }, { 10, 11, 12 } } }, "float32")
    H.tensor(run(r, x), { { 1, 2, 3, 4, 5, 6 }, { 7, 8, 9, 10, 11, 12 } }, "float32", 0)
    H.tensor(run(r, x[1]:reshape({ 1, 2, 3 })), { { 1, 2, 3, 4, 5, 6 } }, "float32", 0)
    -- the gradient flows back through the run-time reshape
    local g = ts.gradients(ts.reduce_sum(ts.square(r.outputs.y)), { r.inputs.x })[1]
    local s = ts.Session(r.graph)
    H.tensor(s:run(g, { [r.inputs.x] = x }), { { { 2, 4, 6 }, { 8, 10, 12 } },
      { { 14, 16, 18 }, { 20, 22, 24 } } }, "float32", 0)
  end)

  it("follows Range, ConstantOfShape and Expand of values fed at run time", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Range", input = { "a", "b", "c" }, output = { "r" } },
        { op_type = "ConstantOfShape", input = { "sh" }, output = { "z" } },
        { op_type = "Expand", input = { "x", "sh" }, output = { "e" } } },
      input = { vi("a", INT64, {}), vi("b", INT64, {}), vi("c", INT64, {}), vi("sh", INT64, { 2 }),
        vi("x", FLOAT, { 1, 3 }) },
      output = { { name = "r" }, { name = "z" }, { name = "e" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local s = ts.Session(r.graph)
    local i64 = function(v) return ts.tensor(v, "int64") end
    local out = s:run(r.outputs, { [r.inputs.a] = i64(2), [r.inputs.b] = i64(9), [r.inputs.c] = i64(3),
      [r.inputs.sh] = i64 { 2, 3 }, [r.inputs.x] = ts.tensor({ { 1, 2, 3 } }, "float32") })
    H.tensor(out[1], { 2, 5, 8 }, "int64", 0)
    H.tensor(out[2], { { 0, 0, 0 }, { 0, 0, 0 } }, "float32", 0)
    H.tensor(out[3], { { 1, 2, 3 }, { 1, 2, 3 } }, "float32", 0)
  end)

  it("slices by starts and ends fed at run time, gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Slice", input = { "x", "st", "en", "ax" }, output = { "y" } } },
      input = { vi("x", FLOAT, { -1, 4 }), vi("st", INT64, { 1 }), vi("en", INT64, { 1 }) },
      initializer = { { name = "ax", data_type = INT64, dims = { 1 }, bytes = string.pack("<i8", 1) } },
      output = { { name = "y" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 } }, "float32")
    local feed = { [r.inputs.x] = x, [r.inputs.st] = ts.tensor({ 1 }, "int64"),
      [r.inputs.en] = ts.tensor({ -1 }, "int64") }
    local s = ts.Session(r.graph)
    H.tensor(s:run(r.outputs.y, feed), { { 2, 3 }, { 6, 7 } }, "float32", 0)
    local g = ts.gradients(ts.reduce_sum(ts.multiply(r.outputs.y, r.outputs.y)), { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 0, 4, 6, 0 }, { 0, 12, 14, 0 } }, "float32", 0)
  end)

  it("squeezes and unsqueezes by axes fed at run time, gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Unsqueeze", input = { "x", "ax" }, output = { "u" } },
        { op_type = "Squeeze", input = { "u", "ax" }, output = { "y" } } },
      input = { vi("x", FLOAT, { 2, 3 }), vi("ax", INT64, { 2 }) },
      output = { { name = "u" }, { name = "y" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "float32")
    local feed = { [r.inputs.x] = x, [r.inputs.ax] = ts.tensor({ 0, -1 }, "int64") }
    local s = ts.Session(r.graph)
    local out = s:run(r.outputs, feed)
    assert.same({ 1, 2, 3, 1 }, out[1].shape)
    H.tensor(out[2], x:totable(), "float32", 0)
    local g = ts.gradients(ts.reduce_sum(ts.multiply(r.outputs.u, r.outputs.u)), { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 2, 4, 6 }, { 8, 10, 12 } }, "float32", 0)
  end)

  it("sums over axes fed at run time (ReduceSum, opset 13), gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "ReduceSum", input = { "x", "ax" }, output = { "y" },
        attribute = { { name = "keepdims", type = 2, i = 0 } } } },
      input = { vi("x", FLOAT, { 2, 3 }), vi("ax", INT64, { 1 }) }, output = { { name = "y" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "float32")
    local s = ts.Session(r.graph)
    H.tensor(s:run(r.outputs.y, { [r.inputs.x] = x, [r.inputs.ax] = ts.tensor({ -1 }, "int64") }),
      { 6, 15 }, "float32", 0)
    local feed = { [r.inputs.x] = x, [r.inputs.ax] = ts.tensor({ 0 }, "int64") }
    H.tensor(s:run(r.outputs.y, feed), { 5, 7, 9 }, "float32", 0)
    local g = ts.gradients(ts.reduce_sum(ts.multiply(r.outputs.y, ts.constant(ts.tensor({ 1, 2, 3 },
      "float32"), { graph = r.graph }))), { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 1, 2, 3 }, { 1, 2, 3 } }, "float32", 0)
  end)

  it("pads by pads fed at run time, gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Pad", input = { "x", "p", "v" }, output = { "y" } } },
      input = { vi("x", FLOAT, { 1, 2 }), vi("p", INT64, { 4 }), vi("v", FLOAT, {}) },
      output = { { name = "y" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { 1, 2 } }, "float32")
    local feed = { [r.inputs.x] = x, [r.inputs.p] = ts.tensor({ 1, 0, 0, 1 }, "int64"),
      [r.inputs.v] = ts.tensor(9, "float32") }
    local s = ts.Session(r.graph)
    H.tensor(s:run(r.outputs.y, feed), { { 9, 9, 9 }, { 1, 2, 9 } }, "float32", 0)
    local g = ts.gradients(ts.reduce_sum(ts.multiply(r.outputs.y, r.outputs.y)), { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 2, 4 } }, "float32", 0)
  end)

  it("tiles and one-hots by values fed at run time, Tile's gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Tile", input = { "x", "rep" }, output = { "y" } },
        { op_type = "OneHot", input = { "i", "depth", "vals" }, output = { "h" } } },
      input = { vi("x", FLOAT, { 1, 2 }), vi("rep", INT64, { 2 }), vi("i", INT64, { 2 }),
        vi("depth", INT64, {}), vi("vals", FLOAT, { 2 }) },
      output = { { name = "y" }, { name = "h" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local x = ts.tensor({ { 1, 2 } }, "float32")
    local feed = { [r.inputs.x] = x, [r.inputs.rep] = ts.tensor({ 2, 2 }, "int64"),
      [r.inputs.i] = ts.tensor({ 0, -1 }, "int64"), [r.inputs.depth] = ts.tensor(3, "int64"),
      [r.inputs.vals] = ts.tensor({ -1, 5 }, "float32") }
    local s = ts.Session(r.graph)
    local out = s:run(r.outputs, feed)
    H.tensor(out[1], { { 1, 2, 1, 2 }, { 1, 2, 1, 2 } }, "float32", 0)
    H.tensor(out[2], { { 5, -1, -1 }, { -1, -1, 5 } }, "float32", 0)
    local g = ts.gradients(ts.reduce_sum(ts.multiply(r.outputs.y, r.outputs.y)), { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 8, 16 } }, "float32", 0)
  end)

  it("splits by sizes fed at run time, gradient included", function()
    local m = { opset_import = { { domain = "", version = 13 } }, graph = { name = "g",
      node = { { op_type = "Split", input = { "x", "sz" }, output = { "a", "b" },
        attribute = { { name = "axis", type = 2, i = 1 } } } },
      input = { vi("x", FLOAT, { 1, 3 }), vi("sz", INT64, { 2 }) },
      output = { { name = "a" }, { name = "b" } } } }
    local r = ts.onnx.load_string(pb.encode(m))
    local feed = { [r.inputs.x] = ts.tensor({ { 1, 2, 3 } }, "float32"),
      [r.inputs.sz] = ts.tensor({ 1, 2 }, "int64") }
    local s = ts.Session(r.graph)
    local out = s:run(r.outputs, feed)
    H.tensor(out[1], { { 1 } }, "float32", 0)
    H.tensor(out[2], { { 2, 3 } }, "float32", 0)
    local loss = ts.add(ts.reduce_sum(r.outputs.a), ts.reduce_sum(ts.multiply(r.outputs.b, r.outputs.b)))
    local g = ts.gradients(loss, { r.inputs.x })[1]
    H.tensor(s:run(g, feed), { { 1, 4, 6 } }, "float32", 0)
  end)

  it("runs a node test of the ONNX test data", function()
    local d = TESTDATA .. "/node/test_softmax_axis_1/"
    if not io.open(d .. "model.onnx") then return pending("no test data") end
    local m = ts.onnx.load(d .. "model.onnx")
    local y = run(m, ts.onnx.load_tensor(d .. "test_data_set_0/input_0.pb"))
    local want = ts.onnx.load_tensor(d .. "test_data_set_0/output_0.pb")
    H.tensor(y, want:totable(), "float32", 1e-5)
  end)
end)

describe("ts.onnx.load of hostile models", function()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local function write(name, bytes)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(bytes)
    f:close()
    return dir .. "/" .. name
  end
  -- the error names the file, then each text
  local function refuses(name, model_or_bytes, ...)
    local bytes = type(model_or_bytes) == "table" and pb.encode(model_or_bytes) or model_or_bytes
    local path = write(name, bytes)
    local err = H.fails(function() ts.onnx.load(path) end, "'" .. path .. "'")
    for _, text in ipairs { ... } do assert.truthy(err:find(text, 1, true), err) end
    return err
  end

  it("truncated bytes", function()
    local s = pb.encode(gemm_model())
    refuses("trunc.onnx", s:sub(1, #s - 3), "not a valid ONNX model", "truncated or corrupt")
  end)

  it("an unknown op type", function()
    local m = gemm_model()
    m.graph.node[2].op_type = "FancyOp"
    refuses("unknown.onnx", m, "node 'act' (FancyOp)", "unknown op type FancyOp")
  end)

  it("a bad attribute type", function()
    local m = gemm_model()
    m.graph.node[1].attribute[1] = { name = "alpha", type = A_INTS, ints = { 1, 2 } }
    refuses("attr.onnx", m, "node 'fc' (Gemm)", "attribute alpha has type ints, expected a number")
  end)

  it("a dangling input name", function()
    local m = gemm_model()
    m.graph.node[2].input[1] = "nowhere"
    refuses("dangling.onnx", m, "node 'act' (Relu)", "input 'nowhere' is not a graph input")
  end)

  it("a cycle", function()
    local m = gemm_model()
    m.graph.node[1].input[1] = "y"
    refuses("cycle.onnx", m, "(a cycle)")
  end)

  it("a wrong initializer size", function()
    local m = gemm_model()
    m.graph.initializer[2].bytes = f32 { 1, 2, 3 }
    refuses("size.onnx", m, "initializer 2 'b'", "needs 8 bytes of data, the file holds 12")
  end)

  it("huge dims", function()
    local m = gemm_model()
    m.graph.initializer[1].dims = { 1 << 40, 1 << 40 }
    refuses("huge.onnx", m, "initializer 1 'W'", "hold too many elements")
    m.graph.initializer[1].dims = { -3, 2 }
    refuses("negative.onnx", m, "initializer 1 'W'", "dimension 1 is -3")
  end)

  it("an input of rank 9", function()
    local m = gemm_model()
    m.graph.input[1].dims = { 1, 1, 1, 1, 1, 1, 1, 1, 3 }
    refuses("rank.onnx", m, "graph input 'x'", "rank")
  end)

  it("string and complex data", function()
    local m = gemm_model()
    m.graph.initializer[2] = { name = "b", data_type = STRING, dims = { 1 }, strings = { "x" } }
    refuses("string.onnx", m, "initializer 2 'b'", "data type string is not supported")
  end)

  it("external data only from files beside the model", function()
    local data = f32 { 9, 9, 0.5, -0.25 }
    write("weights.bin", data)
    local m = gemm_model()
    m.graph.initializer[2] = { name = "b", data_type = FLOAT, dims = { 2 },
      external = { location = "weights.bin", offset = "8", length = "8" } }
    local ok = ts.onnx.load(write("ext.onnx", pb.encode(m)))
    H.tensor(run(ok, ts.tensor({ { 1, 2, 3 } }, "float32")), { { 0, 2.75 } }, "float32", 1e-6)
    for _, loc in ipairs { "../weights.bin", "/etc/passwd", "sub/../../x" } do
      m.graph.initializer[2].external.location = loc
      refuses("extbad.onnx", m, "initializer 2 'b'", "'" .. loc .. "' is refused")
    end
    m.graph.initializer[2].external = { location = "weights.bin", offset = "12", length = "8" }
    refuses("extshort.onnx", m, "initializer 2 'b'", "holds 16 bytes")
    m.graph.initializer[2].external = { location = "weights.bin" }
    H.fails(function() ts.onnx.load_string(pb.encode(m)) end, "needs the model's file")
  end)

  it("an unsupported attribute value names the node", function()
    local m = gemm_model()
    m.graph.node[2] = { name = "pad", op_type = "Pad", input = { "h", "p" }, output = { "y" },
      attribute = { { name = "mode", type = 3, s = "wrap" } } }
    m.graph.initializer[3] = { name = "p", data_type = INT64, dims = { 4 },
      bytes = core.to_bytes(ts.tensor({ 0, 1, 0, 1 }, "int64")) }
    refuses("pad.onnx", m, "node 'pad' (Pad)", "attribute mode = wrap is not supported")
  end)

  it("deeply nested subgraphs (protobuf-c's unpack would recurse once a level)", function()
    local function varint(v)
      local t = {}
      repeat
        local b = v & 0x7f
        v = v >> 7
        t[#t + 1] = string.char(v > 0 and b | 0x80 or b)
      until v == 0
      return table.concat(t)
    end
    local function wrap(field, p) return varint(field << 3 | 2) .. varint(#p) .. p end
    local function nested(levels) -- graph.node.attribute.g, levels times, in a model
      local g = ""
      for _ = 1, levels do g = wrap(1, wrap(5, wrap(6, g))) end
      return wrap(7, g)
    end
    assert.equal("table", type(pb.decode(nested(20)).graph.node[1].attribute[1].g))
    refuses("deep.onnx", nested(40), "messages nested deeper than 100")
    refuses("deep2.onnx", nested(3000), "messages nested deeper than 100")
  end)

  it("a model with no graph, a missing file", function()
    refuses("nograph.onnx", { ir_version = 8 }, "the model has no graph")
    H.fails(function() ts.onnx.load(dir .. "/missing.onnx") end, "No such file")
    H.fails(function() ts.onnx.load(dir) end, "could not be read")
  end)

  it("random bytes never crash", function()
    local s = pb.encode(gemm_model())
    math.randomseed(15)
    for _ = 1, 300 do
      local b = {}
      for i = 1, #s do
        local c = s:byte(i)
        if math.random() < 0.02 then c = math.random(0, 255) end
        b[i] = string.char(c)
      end
      local ok, err = pcall(ts.onnx.load_string, table.concat(b))
      assert.truthy(ok or type(err) == "string")
    end
  end)
end)
