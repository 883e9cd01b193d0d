-- Convolution and pooling (src/ops_conv.c, lua/tensorslow/conv.lua): values,
-- gradients and mixed second derivatives against PyTorch (references computed
-- in float64 by spec/fixtures/make_conv.py and stored in spec/fixtures/),
-- gradchecks, errors.
local ts = require "tensorslow"
local H = require "helpers"

local FIX = "spec/fixtures/"
local fixture = dofile(FIX .. "conv.lua")
local data -- flat float64 values of conv.npy

local function slice(ref)
  local t = {}
  for i = 1, ref[2] do t[i] = data[ref[1] + i - 1] end
  return t
end

local function tensor_of(ref, shape, dtype)
  return ts.tensor(slice(ref), dtype or "float64"):reshape(shape)
end

local function flat(t) return t:reshape({ t:numel() }):cast("float64"):totable() end

-- The op of a case applied to x and w (nodes or tensors).
local function build(c, x, w)
  local o = { data_format = c.format }
  for k, v in pairs(c.opts) do o[k] = v end
  if c.kind == "conv" then
    return ts.nn["conv" .. c.nsp .. "d"](x, w, o)
  elseif c.kind == "depthwise" then
    return ts.nn.depthwise_conv2d(x, w, o)
  elseif c.kind == "transpose" then
    return ts.nn["conv" .. c.nsp .. "d_transpose"](x, w, c.output_shape, o)
  else
    return ts.nn[c.kind .. c.nsp .. "d"](x, o)
  end
end

local function describe_case(c)
  local o = {}
  for k, v in pairs(c.opts) do
    if type(v) == "table" then
      local parts = {}
      for i, e in ipairs(v) do parts[i] = type(e) == "table" and ("{" .. table.concat(e, ",") .. "}") or e end
      v = "{" .. table.concat(parts, ",") .. "}"
    end
    o[#o + 1] = k .. "=" .. tostring(v)
  end
  table.sort(o)
  return ("%s%dd %s x[%s]%s %s"):format(c.kind, c.nsp, c.format, table.concat(c.xshape, ","),
    c.wshape and (" w[" .. table.concat(c.wshape, ",") .. "]") or "", table.concat(o, " "))
end

-- Largest error of got against ref: float64 as H.close (relative above 1,
-- absolute below); float32 relative to the tensor's largest reference value.
local function worst(got, ref, dtype)
  local scale = 0
  for i = 1, #ref do scale = math.max(scale, math.abs(ref[i])) end
  local e = 0
  assert(#got == #ref, ("expected %d values, got %d"):format(#ref, #got))
  for i = 1, #ref do
    local d = math.abs(got[i] - ref[i])
    if d ~= d then return math.huge end
    if dtype == "float64" then d = d / math.max(1, math.abs(ref[i]))
    else d = d / math.max(scale, 1e-30) end
    e = math.max(e, d)
  end
  return e
end

local TOL = { float64 = 1e-12, float32 = 1e-5 }
local maxerr = { float64 = 0, float32 = 0 }

-- Runs case c in dtype (placeholders of known shapes, or unknown when known
-- is false); returns the worst error over every compared tensor and its name.
local function run_case(c, dtype, known)
  local g = ts.Graph()
  local conv = c.wshape ~= nil
  local x = ts.placeholder { graph = g, dtype = dtype, shape = known and c.xshape or nil }
  local w = conv and ts.placeholder { graph = g, dtype = dtype, shape = c.wshape } or nil
  local y = build(c, x, w)
  if known then assert.are.same(c.yshape, y.shape) end
  local wy = tensor_of(c.wy, c.yshape, dtype)
  local xs = conv and { x, w } or { x }
  local d = ts.gradients(y, xs, { wy })
  local fetch, refs = { y, d[1] }, { { "y", c.y }, { "dx", c.dx } }
  if conv then
    fetch[3], refs[3] = d[2], { "dw", c.dw }
    local v, u = tensor_of(c.v, c.xshape, dtype), tensor_of(c.u, c.wshape, dtype)
    local ddw = ts.gradients(ts.reduce_sum(d[1] * v), { w })[1]
    local ddx = ts.gradients(ts.reduce_sum(d[2] * u), { x })[1]
    fetch[4], refs[4] = ddw or ts.zeros_like(w), { "ddw", c.ddw }
    fetch[5], refs[5] = ddx or ts.zeros_like(x), { "ddx", c.ddx }
  end
  local feed = { [x] = tensor_of(c.x, c.xshape, dtype) }
  if conv then feed[w] = tensor_of(c.w, c.wshape, dtype) end
  local sess <close> = ts.Session(g)
  local out = sess:run(fetch, feed)
  local e, what = 0, nil
  for i, r in ipairs(refs) do
    assert.are.equal(dtype, out[i].dtype)
    local ei = worst(flat(out[i]), slice(r[2]), dtype)
    if ei > e then e, what = ei, r[1] end
  end
  return e, what
end

describe("conv and pooling against PyTorch (spec/fixtures/conv.*)", function()
  setup(function() data = flat(ts.io.load_npy(FIX .. "conv.npy")) end)

  it("has the fixture", function()
    assert.are.equal(fixture.n, #data)
    assert.is_true(#fixture.cases >= 80)
  end)

  for k, c in ipairs(fixture.cases) do
    local name = ("case %d: %s"):format(k, describe_case(c))
    it(name, function()
      for _, dtype in ipairs { "float64", "float32" } do
        local e, what = run_case(c, dtype, true)
        maxerr[dtype] = math.max(maxerr[dtype], e)
        if e > TOL[dtype] then
          error(("%s %s: error %.3g in %s (tolerance %g)"):format(name, dtype, e, what, TOL[dtype]))
        end
      end
      -- shapes unknown at build time: the gradients take theirs at run time
      local e, what = run_case(c, "float64", false)
      if e > TOL.float64 then error(("%s, unknown shapes: error %.3g in %s"):format(name, e, what)) end
      -- eager
      local x = tensor_of(c.x, c.xshape)
      local y = build(c, x, c.wshape and tensor_of(c.w, c.wshape) or nil)
      assert.are.same(c.yshape, y.shape)
      assert.is_true(worst(flat(y), slice(c.y), "float64") <= TOL.float64)
    end)
  end

  teardown(function()
    if os.getenv("TS_CONV_REPORT") then
      print(("\nconv fixtures: %d cases, max error float64 %.3g, float32 %.3g (relative)")
        :format(#fixture.cases, maxerr.float64, maxerr.float32))
    end
  end)
end)

describe("conv gradcheck (float64)", function()
  local function check(f, inputs)
    local ok, err = ts.test.gradcheck(f, inputs, { tol = 1e-6 })
    assert(ok, err)
  end
  local function rnd(shape) return ts.randn(shape, "float64") end

  it("conv2d NHWC, SAME, strides 2, groups 2", function()
    check(function(x, w) return ts.nn.conv2d(x, w, { strides = 2, padding = "SAME", groups = 2 }) end,
      { rnd { 2, 5, 4, 4 }, rnd { 3, 2, 2, 4 } })
  end)
  it("conv2d NCHW, explicit pads, dilations 2", function()
    check(function(x, w)
      return ts.nn.conv2d(x, w, { padding = { { 1, 0 }, { 2, 1 } }, dilations = 2, data_format = "NCHW" })
    end, { rnd { 1, 2, 5, 4 }, rnd { 3, 2, 2, 2 } })
  end)
  it("conv1d and conv3d", function()
    check(function(x, w) return ts.nn.conv1d(x, w, { strides = 2, padding = "SAME" }) end,
      { rnd { 2, 7, 2 }, rnd { 3, 2, 3 } })
    check(function(x, w) return ts.nn.conv3d(x, w, { padding = "SAME", data_format = "NCDHW" }) end,
      { rnd { 1, 2, 3, 3, 2 }, rnd { 2, 2, 2, 2, 1 } })
  end)
  it("depthwise_conv2d and conv2d_transpose", function()
    check(function(x, w) return ts.nn.depthwise_conv2d(x, w, { padding = "SAME" }) end,
      { rnd { 1, 4, 4, 2 }, rnd { 2, 2, 2, 2 } })
    check(function(x, w)
      return ts.nn.conv2d_transpose(x, w, { 1, 5, 5, 2 }, { strides = 2, padding = "SAME" })
    end,
      { rnd { 1, 3, 3, 3 }, rnd { 3, 3, 2, 3 } })
  end)
  it("max_pool and avg_pool", function()
    check(function(x) return ts.nn.max_pool2d(x, 3, 2, "SAME") end, { rnd { 1, 5, 5, 2 } })
    check(function(x)
      return ts.nn.avg_pool2d(x, { ksize = 3, strides = 2, padding = { { 1, 1 }, { 1, 1 } }, ceil_mode = true,
                                   data_format = "NCHW" })
    end, { rnd { 1, 2, 6, 6 } })
    check(function(x) return ts.nn.avg_pool1d(x, 2, 1, "SAME", { count_include_pad = true }) end,
      { rnd { 2, 5, 2 } })
  end)
  it("second derivatives of conv2d", function()
    -- d/dx and d/dw of sum(y^2) depend on both x and w
    check(function(x, w)
      local y = ts.nn.conv2d(x, w, { strides = 2, padding = "SAME" })
      local d = ts.gradients(ts.reduce_sum(y * y), { x, w })
      return ts.reduce_sum(d[1] * d[1]) + ts.reduce_sum(d[2] * d[2])
    end, { rnd { 1, 4, 3, 2 }, rnd { 2, 2, 2, 2 } })
  end)
  it("second derivatives of max_pool and avg_pool", function()
    check(function(x)
      local y = ts.nn.max_pool2d(x, 2, 2, "VALID")
      local d = ts.gradients(ts.reduce_sum(y * y * y), { x })[1]
      return d * d
    end, { rnd { 1, 4, 4, 1 } })
    check(function(x)
      local y = ts.nn.avg_pool2d(x, 2, 1, "SAME")
      local d = ts.gradients(ts.reduce_sum(y * y * y), { x })[1]
      return d * d
    end, { rnd { 1, 3, 3, 2 } })
  end)
end)

describe("moments and batch_normalization", function()
  it("match the definitions and have gradients", function()
    local x = ts.randn({ 4, 3, 2, 5 }, "float64")
    local m, v = ts.nn.moments(x, { 1, 2, 3 })
    assert.are.same({ 5 }, m.shape)
    local xt = x:reshape({ 24, 5 }):totable()
    for j = 1, 5 do
      local s, s2 = 0, 0
      for i = 1, 24 do s = s + xt[i][j] end
      local mean = s / 24
      for i = 1, 24 do s2 = s2 + (xt[i][j] - mean) ^ 2 end
      H.close(mean, m:totable()[j])
      H.close(s2 / 24, v:totable()[j])
    end
    local mk = ts.nn.moments(x, { 1, 2, 3 }, { keepdims = true })
    assert.are.same({ 1, 1, 1, 5 }, mk.shape)
    local ok, err = ts.test.gradcheck(function(xx, off, sc)
      local mean, var = ts.nn.moments(xx, { 1, 2 })
      return ts.nn.batch_normalization(xx, mean, var, off, sc, 1e-3)
    end, { ts.randn({ 3, 4, 2 }, "float64"), ts.randn({ 2 }, "float64"), ts.randn({ 2 }, "float64") })
    assert(ok, err)
  end)
end)

describe("conv errors", function()
  local function ph(shape, dtype) return ts.placeholder { shape = shape, dtype = dtype or "float32" } end
  it("name the op, the node and both shapes", function()
    local err = H.fails(function()
      ts.nn.conv2d(ph { 1, 5, 5, 3 }, ph { 3, 3, 2, 4 }, { name = "c1" })
    end, "conv 'c1': channel mismatch")
    assert.truthy(err:find("[1, 5, 5, 3]", 1, true) and err:find("[3, 3, 2, 4]", 1, true))
    err = H.fails(function()
      ts.nn.conv2d(ph { 1, 4, 4, 1 }, ph { 5, 3, 1, 2 }, { name = "c2" })
    end, "conv 'c2': the kernel (5 along spatial dim 1, 5 with dilation) is larger than the padded input (4)")
    assert.truthy(err:find("[1, 4, 4, 1]", 1, true) and err:find("[5, 3, 1, 2]", 1, true))
    H.fails(function()
      ts.nn.conv2d(ph { 1, 4, 4, 1 }, ph { 3, 3, 1, 2 }, { strides = { 0, 1 }, name = "c3" })
    end, "conv 'c3': stride 0 along spatial dim 1 must be in 1..2^30 (input [1, 4, 4, 1])")
    err = H.fails(function()
      ts.nn.conv2d(ph { 1, 4, 4, 1 }, ph { 3, 1, 2 }, { name = "c4" })
    end, "conv 'c4': the filter must have rank 4 for input [1, 4, 4, 1]")
    assert.truthy(err:find("[3, 1, 2]", 1, true))
    H.fails(function() ts.nn.conv2d(ph { 1, 4, 4, 1 }, ph { 3, 3, 1, 2 }, { data_format = "NHCW" }) end,
      'conv2d: unknown data_format "NHCW" (expected "NHWC" or "NCHW")')
    H.fails(function() ts.nn.max_pool2d(ph { 1, 3, 3, 1 }, 4, 1, "VALID", { name = "p" }) end,
      "max_pool 'p': the window (4 along spatial dim 1) is larger than the padded input (3)")
    H.fails(function() ts.nn.conv2d(ph { 1, 4, 4, 1 }, ph({ 3, 3, 1, 2 }, "float64")) end,
      "dtypes float32 and float64 do not match")
    H.fails(function()
      ts.nn.conv2d(ts.zeros({ 1, 4, 4, 4 }), ts.zeros({ 3, 3, 2, 3 }), { groups = 2 })
    end, "conv: output channels 3 are not divisible by groups 2: filter [3, 3, 2, 3]")
  end)
  it("checks the gradient's shape at run time", function()
    H.fails(function()
      ts.apply("conv_backprop_input", { v1 = { 1, 1, 1, 1 }, v2 = { 0, 0, 0, 0 }, i1 = 1, f1 = 0, f2 = 0 },
        { ts.zeros { 1, 3, 3, 2 }, ts.zeros { 2, 2, 1, 2 }, ts.zeros { 1, 5, 5, 1 }, n = 3 })
    end, "the gradient [1, 3, 3, 2] does not match the convolution's output [1, 4, 4, 2]")
  end)
end)

describe("max pooling's maximum: first of ties, NaN wins", function()
  -- a 1x4x4x1 image (NHWC) with ties and a NaN; 2x2 windows, stride 2
  local NaN = 0 / 0
  local img = {
    { 1, 3, 2, 2 },
    { 3, 0, 2, 2 },
    { 5, NaN, 7, 1 },
    { 4, NaN, 7, 6 },
  }
  local function nhwc(rows)
    local t = {}
    for i, r in ipairs(rows) do
      t[i] = {}
      for j, v in ipairs(r) do t[i][j] = { v } end
    end
    return { t }
  end
  for _, fmt in ipairs { "NHWC", "NCHW" } do
    for _, dt in ipairs { "float32", "float64" } do
      it(fmt .. " " .. dt, function()
        local x = ts.tensor(nhwc(img), dt)
        if fmt == "NCHW" then x = ts.transpose(x, { 1, 4, 2, 3 }) end
        local g = ts.Graph()
        local xp = ts.placeholder { graph = g, shape = x.shape, dtype = dt }
        local y = ts.nn.max_pool2d(xp, 2, 2, "VALID", { data_format = fmt })
        local dy = ts.placeholder { graph = g, shape = y.shape, dtype = dt }
        local gx = ts.gradients(y, { xp }, { dy })[1]
        local s = ts.Session(g)
        local up = ts.tensor({ { { { 10 }, { 20 } }, { { 30 }, { 40 } } } }, dt)
        if fmt == "NCHW" then up = ts.transpose(up, { 1, 4, 2, 3 }) end
        local r = s:run({ y, gx }, { [xp] = x, [dy] = up })
        local yv, gv = r[1]:reshape { 4 }:totable(), r[2]:reshape { 16 }:totable()
        assert.same({ 3, 2 }, { yv[1], yv[2] })
        assert.is_true(yv[3] ~= yv[3], "NaN wins its window")
        assert.equal(7, yv[4])
        -- first maximum (row-major within the window) gets the gradient; the NaN gets its own
        assert.same({ 0, 10, 20, 0, 0, 0, 0, 0, 0, 30, 40, 0, 0, 0, 0, 0 }, gv)
      end)
    end
  end
end)

describe("conv scratch", function()
  it("comes from the plan: repeated training steps allocate nothing", function()
    for _, fmt in ipairs { "NHWC", "NCHW" } do
      local g = ts.Graph()
      local xs = fmt == "NHWC" and { 4, 9, 9, 3 } or { 4, 3, 9, 9 }
      local x = ts.placeholder { graph = g, shape = xs }
      local w = ts.Variable(ts.randn(fmt == "NHWC" and { 3, 3, 3, 5 } or { 5, 3, 3, 3 }), { graph = g })
      local y = ts.nn.conv2d(x, w, { padding = "SAME", data_format = fmt, strides = 2 })
      local p = ts.nn.max_pool2d(y, 2, 1, "VALID", { data_format = fmt })
      local loss = ts.reduce_sum(p * p)
      local gx, gw = table.unpack(ts.gradients(loss, { x, w }))
      local s = ts.Session(g)
      local feed = { [x] = ts.randn(xs) }
      local first = s:run({ loss, gx, gw }, feed)
      local n = s:stats().allocations
      for _ = 1, 3 do
        local again = s:run({ loss, gx, gw }, feed)
        assert.equal(first[1]:item(), again[1]:item())
      end
      assert.equal(n, s:stats().allocations, fmt)
    end
  end)
end)
