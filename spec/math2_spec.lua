-- The element-wise ops added for ONNX import (lua/tensorslow/math2.lua, kernels in
-- src/ops_arith.c): values against PyTorch/NumPy (spec/fixtures/make_math2.py), eager
-- and graph, float32 and float64, special values; gradients against PyTorch and by
-- gradcheck; the errors.
local ts = require "tensorslow"
local H = require "helpers"
local R = require "fixture_reader"

local fx = R.load("math2")
local TOL = { float64 = 1e-12, float32 = 2e-6 }

-- Largest error of got against ref: NaN must meet NaN, an infinity the same
-- infinity; others relative above 1, absolute below.
local function worst(got, ref)
  assert(#got == #ref, ("expected %d values, got %d"):format(#ref, #got))
  local e = 0
  for i = 1, #ref do
    local g, r = got[i], ref[i]
    if r ~= r then
      if g == g then return math.huge, i end
    elseif r == math.huge or r == -math.huge then
      if g ~= r then return math.huge, i end
    else
      local d = math.abs(g - r) / math.max(1, math.abs(r))
      if d ~= d then return math.huge, i end
      if d > e then e = d end
    end
  end
  return e
end

-- int64 values from the fixture's high and low halves (exact past 2^53)
local function ints(c, k)
  local hi, lo = fx:slice(c[k .. "_hi"]), fx:slice(c[k .. "_lo"])
  local t = {}
  for i = 1, #hi do t[i] = (math.tointeger(hi[i]) << 32) | math.tointeger(lo[i]) end
  return t
end
local function itensor(c, k, shape)
  return ts.tensor(ints(c, k), c.dtype):reshape(shape)
end

-- f(inputs...) eagerly and as a graph of placeholders with known shapes
local function both_forms(f, ins)
  local r = { f(table.unpack(ins)) }
  local g = ts.Graph()
  local phs, feed = {}, {}
  for i, t in ipairs(ins) do
    phs[i] = ts.placeholder { graph = g, dtype = t.dtype, shape = t.shape }
    feed[phs[i]] = t
  end
  local y = f(table.unpack(phs))
  assert.is_true(ts.is_node(y))
  r[2] = H.run(g, y, feed)
  return r
end

local function call(c, ...)
  local args = { ... }
  if c.opts then args[#args + 1] = c.opts end
  return ts[c.op](table.unpack(args))
end

local function describe_case(c)
  local parts = { c.op, c.dtype or "float" }
  if c.shape then parts[#parts + 1] = "[" .. table.concat(c.shape, ",") .. "]" end
  if c.ashape then
    parts[#parts + 1] = ("[%s] [%s]"):format(table.concat(c.ashape, ","), table.concat(c.bshape, ","))
  end
  if c.opts then
    local o = {}
    for k, v in pairs(c.opts) do
      o[#o + 1] = ("%s=%s"):format(k, type(v) == "number" and ("%.4g"):format(v) or v)
    end
    table.sort(o)
    parts[#parts + 1] = table.concat(o, " ")
  end
  if c.inputs then parts[#parts + 1] = "[" .. table.concat(c.inputs[1][2], ",") .. "]" end
  if c.equation then parts[#parts + 1] = c.equation end
  if c.arg then
    parts[#parts + 1] = "arg=" .. (type(c.arg) == "table" and table.concat(c.arg, "x") or c.arg)
  end
  if c.dx or c.da or c.grads then parts[#parts + 1] = "grad" end
  return table.concat(parts, " ")
end

local function float_case(c)
  for _, dt in ipairs { "float64", "float32" } do
    local ins = c.kind == "unary" and { fx:tensor(c.x, c.shape, dt) }
      or { fx:tensor(c.a, c.ashape, dt), fx:tensor(c.b, c.bshape, dt) }
    local ref = fx:slice(dt == "float64" and c.y64 or c.y32)
    for form, y in ipairs(both_forms(function(...) return call(c, ...) end, ins)) do
      local want = (c.op == "is_nan" or c.op == "is_inf") and "uint8" or dt
      assert.are.equal(want, y.dtype)
      local e, at = worst(R.flat(y), ref)
      if e > TOL[dt] then
        error(("%s, %s: error %.3g (at %s)"):format(form == 1 and "eager" or "graph", dt, e,
          tostring(at)))
      end
    end
  end
  if c.dx or c.da then -- the float64 gradient of sum(w y)
    local g = ts.Graph()
    local phs, feed = {}, {}
    local ins = c.kind == "unary" and { { c.x, c.shape } } or { { c.a, c.ashape }, { c.b, c.bshape } }
    for i, v in ipairs(ins) do
      phs[i] = ts.placeholder { graph = g, dtype = "float64", shape = v[2] }
      feed[phs[i]] = fx:tensor(v[1], v[2])
    end
    local y = call(c, table.unpack(phs))
    local w = ts.constant(fx:tensor(c.w, y.shape), { graph = g })
    local grads = ts.gradients(ts.reduce_sum(y * w), phs)
    local refs = c.dx and { c.dx } or { c.da, c.db }
    for i, d in ipairs(grads) do
      local e, at = worst(R.flat(H.run(g, d, feed)), fx:slice(refs[i]))
      if e > 1e-10 then error(("gradient of input %d: error %.3g (at %s)"):format(i, e, tostring(at))) end
    end
  end
end

-- hardmax, depth_to_space, ...: the op's inputs, block size and options in its order
local function composed_call(c, ins)
  if c.equation then return ts.einsum(c.equation, table.unpack(ins)) end
  local args = { table.unpack(ins) }
  if c.arg then args[#args + 1] = c.arg end
  if c.opts then args[#args + 1] = c.opts end
  local f = ts
  for part in c.op:gmatch("[^.]+") do f = f[part] end -- image.resize
  return f(table.unpack(args, 1, #ins + (c.arg and 1 or 0) + (c.opts and 1 or 0)))
end

local function composed_case(c)
  for _, dt in ipairs { "float64", "float32" } do
    local ins = {}
    for i, v in ipairs(c.inputs) do ins[i] = fx:tensor(v[1], v[2], dt) end
    for form, y in ipairs(both_forms(function(...) return composed_call(c, { ... }) end, ins)) do
      assert.are.equal(dt, y.dtype)
      assert.are.same(c.yshape, y.shape)
      local e, at = worst(R.flat(y), fx:slice(c.y))
      if e > (dt == "float64" and 1e-12 or 1e-5) then
        error(("%s, %s: error %.3g (at %s)"):format(form == 1 and "eager" or "graph", dt, e, tostring(at)))
      end
    end
  end
  if c.grads then
    local g = ts.Graph()
    local phs, feed = {}, {}
    for i, v in ipairs(c.inputs) do
      phs[i] = ts.placeholder { graph = g, dtype = "float64", shape = v[2] }
      feed[phs[i]] = fx:tensor(v[1], v[2])
    end
    local y = composed_call(c, phs)
    local w = ts.constant(fx:tensor(c.w, c.yshape), { graph = g })
    for i, d in ipairs(ts.gradients(ts.reduce_sum(y * w), phs)) do
      local e, at = worst(R.flat(H.run(g, d, feed)), fx:slice(c.grads[i]))
      if e > 1e-10 then error(("gradient of input %d: error %.3g (at %s)"):format(i, e, tostring(at))) end
    end
  end
end

local function int_case(c)
  local ins, shape
  if c.kind == "unary" then
    ins, shape = { itensor(c, "x", c.shape) }, c.shape
  else
    ins = { itensor(c, "a", c.ashape), itensor(c, "b", c.bshape) }
  end
  local want = ints(c, "y")
  for form, y in ipairs(both_forms(function(...) return ts[c.op](...) end, ins)) do
    assert.are.equal(c.dtype, y.dtype)
    if shape then assert.are.same(shape, y.shape) end
    local got = y:reshape({ y:numel() }):totable()
    for i = 1, #want do
      if got[i] ~= want[i] then
        error(("%s: element %d is %s, want %s"):format(form == 1 and "eager" or "graph", i,
          tostring(got[i]), tostring(want[i])))
      end
    end
  end
end

describe("math2 ops against PyTorch and NumPy (spec/fixtures/math2.*)", function()
  it("has the fixture: cases of every op, gradients among them", function()
    local count, grads = {}, 0
    for _, c in ipairs(fx.spec.cases) do
      count[c.op] = (count[c.op] or 0) + 1
      if c.dx or c.da then grads = grads + 1 end
    end
    for _, op in ipairs { "erf", "floor", "ceil", "round", "acos", "asin", "atan", "cosh", "sinh",
      "tan", "acosh", "asinh", "atanh", "selu", "celu", "hard_sigmoid", "hard_swish", "shrink",
      "thresholded_relu", "is_nan", "is_inf", "floormod", "truncatemod", "prelu", "logical_and",
      "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
      "bitwise_invert", "left_shift", "right_shift", "hardmax", "depth_to_space", "space_to_depth",
      "local_response_normalization", "instance_normalization", "image.resize", "einsum" } do
      assert(count[op] and count[op] >= 6, op)
    end
    assert.is_true(grads >= 80)
    assert.are.equal(fx.spec.n, #fx:data())
  end)

  for k, c in ipairs(fx.spec.cases) do
    it(("case %d: %s"):format(k, describe_case(c)), function()
      if c.kind == "composed" then composed_case(c)
      elseif c.dtype then int_case(c) else float_case(c) end
    end)
  end
end)

describe("math2 ops", function()
  local function rnd(shape, lo, hi)
    return ts.rand(shape, "float64") * (hi - lo) + lo
  end
  local function check(f, inputs)
    local ok, err = ts.test.gradcheck(f, inputs, { tol = 1e-6 })
    assert(ok, err)
  end

  it("gradcheck: erf, the trigonometric maps and the activations", function()
    for _, c in ipairs {
      { "erf", -2, 2 }, { "acos", -0.9, 0.9 }, { "asin", -0.9, 0.9 }, { "atan", -3, 3 },
      { "cosh", -2, 2 }, { "sinh", -2, 2 }, { "tan", -1.2, 1.2 }, { "acosh", 1.2, 4 },
      { "asinh", -3, 3 }, { "atanh", -0.9, 0.9 }, { "hard_swish", -5, 5 } } do
      check(function(x) return ts[c[1]](x) end, { rnd({ 3, 4 }, c[2], c[3]) })
    end
    check(function(x) return ts.selu(x) end, { rnd({ 7 }, -2, 2) })
    check(function(x) return ts.selu(x, { alpha = 2, gamma = 0.5 }) end, { rnd({ 7 }, -2, 2) })
    check(function(x) return ts.celu(x, { alpha = 0.7 }) end, { rnd({ 7 }, -2, 2) })
    check(function(x) return ts.hard_sigmoid(x, { alpha = 0.3, beta = 0.4 }) end, { rnd({ 7 }, -4, 4) })
    check(function(x) return ts.shrink(x, { lambd = 0.3, bias = 0.2 }) end, { rnd({ 7 }, -2, 2) })
    check(function(x) return ts.thresholded_relu(x, { alpha = 0.5 }) end, { rnd({ 7 }, -2, 2) })
  end)

  it("gradcheck: floormod and prelu, both inputs, broadcast", function()
    check(function(a, b) return ts.floormod(a, b) end,
      { rnd({ 3, 4 }, -5, 5), ts.tensor({ { 1.3 }, { -2.1 }, { 0.7 } }) })
    check(function(a, b) return ts.prelu(a, b) end, { rnd({ 2, 3, 4 }, -2, 2), rnd({ 3, 1 }, -1, 1) })
  end)

  it("gradcheck: depth_to_space, space_to_depth, local_response_normalization and instance norm", function()
    for _, fmt in ipairs { "NHWC", "NCHW" } do
      for _, mode in ipairs { "DCR", "CRD" } do
        local o = { data_format = fmt, mode = mode }
        check(function(x) return ts.depth_to_space(x, 2, o) end,
          { rnd(fmt == "NHWC" and { 1, 2, 1, 8 } or { 1, 8, 2, 1 }, -1, 1) })
        check(function(x) return ts.space_to_depth(x, 2, o) end,
          { rnd(fmt == "NHWC" and { 1, 2, 4, 2 } or { 1, 2, 2, 4 }, -1, 1) })
      end
    end
    check(function(x) return ts.local_response_normalization(x, { depth_radius = 2, alpha = 0.5 }) end,
      { rnd({ 2, 2, 6 }, -2, 2) })
    check(function(x, s, o) return ts.instance_normalization(x, s, o, { epsilon = 0.01 }) end,
      { rnd({ 2, 3, 2, 3 }, -2, 2), rnd({ 3 }, 0.5, 2), rnd({ 3 }, -1, 1) })
  end)

  it("refuses bad block sizes, shapes and options of the composed ops", function()
    local x = ts.zeros({ 1, 2, 2, 8 })
    H.fails(function() return ts.depth_to_space(x, 3) end, "depth_to_space: 8 channels are not a multiple")
    H.fails(function() return ts.depth_to_space(x, 0) end, "block_size must be a positive integer")
    H.fails(function() return ts.depth_to_space(x, 1 << 40) end, "not a multiple of block_size^2")
    H.tensor(ts.local_response_normalization(ts.tensor { { 1, 2 } }, { depth_radius = 1 << 40 }),
      { { 1 / math.sqrt(6), 2 / math.sqrt(6) } }, "float64")
    H.fails(function() return ts.depth_to_space(x, 2, { mode = "XYZ" }) end, "mode must be")
    H.fails(function() return ts.space_to_depth(x, 4) end, "must be multiples of block_size 4")
    H.fails(function() return ts.space_to_depth(ts.zeros({ 2, 2 }), 2) end, "known 4 rank")
    H.fails(function() return ts.hardmax(x, { axis = 5 }) end, "hardmax: axis 5 is out of range")
    H.fails(function() return ts.local_response_normalization(x, { depth_radius = -1 }) end, "depth_radius")
    H.fails(function() return ts.instance_normalization(ts.zeros({ 2, 3 })) end, "rank 3 or more")
    H.fails(function() return ts.image.resize(x, { 0, 2 }) end, "size must be {height, width}")
    H.fails(function() return ts.image.resize(x, { 2, 2 }, { method = "area" }) end, "unknown method area")
    H.fails(function() return ts.image.resize(x, { 2, 2 }, { nearest_mode = "up" }) end,
      "unknown nearest_mode")
    H.fails(function() return ts.image.resize(x, { 2, 2 }, { antialias = true }) end, "unknown option")
    H.fails(function() return ts.image.resize(ts.zeros({ 2, 2 }), { 2, 2 }) end, "rank 2")
    local m = ts.zeros({ 2, 3 })
    H.fails(function() return ts.einsum("ij,jk->ik", m) end, "einsum: the equation has 2 operands, got 1")
    H.fails(function() return ts.einsum("ijk->i", m) end, "does not match an input of rank 2")
    H.fails(function() return ts.einsum("ij,ij->i", m, ts.zeros({ 3, 2 })) end, "label i has sizes 2 and 3")
    H.fails(function() return ts.einsum("ij->k", m) end, "output label k is not in any input")
    H.fails(function() return ts.einsum("i1->i", m) end, "bad term")
    local g = ts.Graph()
    local p = ts.placeholder { graph = g, dtype = "float32", shape = { 1, -1, 2, 8 } }
    H.fails(function() return ts.depth_to_space(p, 2) end, "needs a known size along axis 2")
  end)

  it("has no gradient for the piecewise constant and integer ops", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float64", shape = { 3 } }
    for _, f in ipairs { ts.floor, ts.ceil, ts.round } do
      local d = ts.gradients(ts.reduce_sum(f(x) + x), x)[1]
      H.tensor(H.run(g, d, { [x] = ts.tensor { 0.3, 1.5, -2.5 } }), { 1, 1, 1 }, "float64")
    end
  end)

  it("fuses with element-wise neighbours and keeps the node names", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { 4 } }
    local y = ts.erf(ts.selu(x * 2, { name = "s" }), { name = "e" }) + 1
    assert.equal("e", y.inputs[1].name)
    assert.equal("selu", y.inputs[1].inputs[1].op)
    local v = H.run(g, y, { [x] = ts.tensor({ -1, 0, 0.5, 2 }, "float32") })
    H.tensor(v, { 1 + ts.erf(ts.selu(ts.tensor { -2, 0, 1, 4 })):totable()[1],
                  1, 1 + ts.erf(ts.tensor { 1.0507009873554804934 }):totable()[1],
                  1 + ts.erf(ts.tensor { 4 * 1.0507009873554804934 }):totable()[1] }, "float32", 1e-6)
  end)

  it("is_nan and is_inf give 1 for every NaN and infinity", function()
    local x = { -math.huge, math.huge, 0 / 0, -(0 / 0), 1, -0.0 }
    H.each_float(function(dt)
      H.tensor(ts.is_inf(ts.tensor(x, dt)), { 1, 1, 0, 0, 0, 0 }, "uint8")
      H.tensor(ts.is_nan(ts.tensor(x, dt)), { 0, 0, 1, 1, 0, 0 }, "uint8")
    end)
  end)

  it("einsum on int64 takes the general path (matmul is float only)", function()
    local a = ts.tensor({ { 1, 2 }, { 3, 4 } }, "int64")
    H.tensor(ts.einsum("ij,jk->ik", a, a), { { 7, 10 }, { 15, 22 } }, "int64")
    H.tensor(ts.einsum("ii->i", a), { 1, 4 }, "int64")
  end)

  it("round takes halves to even; integer modulo by 0 and -1 gives 0", function()
    H.tensor(ts.round(ts.tensor { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 }), { -2, -2, 0, 0, 2, 2 }, "float64")
    local big = math.mininteger
    H.tensor(ts.floormod(ts.tensor({ 7, big, -7 }, "int64"), ts.tensor({ 0, -1, 2 }, "int64")),
      { 0, 0, 1 }, "int64")
    H.tensor(ts.truncatemod(ts.tensor({ 7, big, -7 }, "int64"), ts.tensor({ 0, -1, 2 }, "int64")),
      { 0, 0, -1 }, "int64")
  end)

  it("shifts by counts outside [0, bits) shift every bit out", function()
    H.tensor(ts.left_shift(ts.tensor({ 5, 5, 5 }, "int64"), ts.tensor({ 64, -1, 63 }, "int64")),
      { 0, 0, math.mininteger }, "int64")
    H.tensor(ts.right_shift(ts.tensor({ -5, 5, -5 }, "int64"), ts.tensor({ 64, 70, 1 }, "int64")),
      { -1, 0, -3 }, "int64")
    H.tensor(ts.left_shift(ts.tensor({ 1, 3 }, "uint8"), ts.tensor({ 8, 7 }, "uint8")), { 0, 128 }, "uint8")
    H.tensor(ts.right_shift(ts.tensor({ 255, 255 }, "uint8"), ts.tensor({ 8, 7 }, "uint8")),
      { 0, 1 }, "uint8")
  end)

  it("refuses the wrong dtypes and options, naming the op", function()
    H.fails(function() return ts.erf(ts.tensor({ 1 }, "int64")) end, "erf")
    H.fails(function() return ts.is_nan(ts.tensor({ 1 }, "uint8")) end, "is_nan")
    H.fails(function() return ts.logical_and(ts.tensor { 1 }, ts.tensor { 1 }) end, "logical_and")
    H.fails(function() return ts.bitwise_xor(ts.tensor { 1 }, ts.tensor { 1 }) end, "bitwise_xor")
    H.fails(function() return ts.bitwise_invert(ts.tensor { 1 }) end, "bitwise_invert")
    H.fails(function() return ts.prelu(ts.tensor { 1 }, ts.tensor({ 1 }, "float32")) end, "prelu")
    H.fails(function() return ts.celu(ts.tensor { 1 }, { alpha = 0 }) end, "celu: alpha must not be 0")
    H.fails(function() return ts.selu(ts.tensor { 1 }, { alpha = "x" }) end, "selu: alpha must be a number")
    H.fails(function() return ts.shrink(ts.tensor { 1 }, { lambda = 1 }) end, "unknown option 'lambda'")
    H.fails(function() return ts.floormod(ts.tensor { 1, 2 }, ts.tensor { 1, 2, 3 }) end, "floormod")
  end)
end)
