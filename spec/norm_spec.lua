-- Normalization (src/ops_norm.c, lua/tensorslow/norm.lua): fused_batch_norm,
-- layer_normalization and l2_normalize against PyTorch (references computed in float64 by
-- spec/fixtures/make_norm.py), gradchecks, the threaded paths against composites of other
-- ops, the three forms, errors.
local ts = require "tensorslow"
local H = require "helpers"
local R = require "fixture_reader"

local fx = R.load("norm")
local TOL = R.TOL
local maxerr = {}

-- Runs one case in dtype: the op on placeholders (shapes known or not), its outputs and
-- the gradients of their weighted sum. Returns the worst error and where.
local function run_case(c, dtype, known)
  local g = ts.Graph()
  local feed = {}
  local function input(ref, shape)
    if not ref then return nil end
    local p = ts.placeholder { graph = g, dtype = dtype, shape = known and shape or nil }
    feed[p] = fx:tensor(ref, shape, dtype)
    return p
  end
  local function w(ref, shape) return fx:tensor(ref, shape, dtype) end
  local x = input(c.x, c.xshape)
  local outs, weights, refs, xs, drefs, shapes = {}, {}, {}, { x }, { "dx" }, { c.xshape }
  if c.kind == "fused_batch_norm" then
    local C = { c.C }
    local scale, offset = input(c.scale, C), input(c.offset, C)
    local mean, var = input(c.mean, C), input(c.variance, C)
    local y, bm, bv = ts.nn.fused_batch_norm(x, scale, offset, {
      mean = mean, variance = var, epsilon = c.epsilon, data_format = c.format,
      is_training = c.training, exponential_avg_factor = c.factor })
    outs, weights = { y, bm, bv }, { w(c.wy, c.xshape), w(c.wm, C), w(c.wv, C) }
    refs = { "y", "batch_mean", "batch_variance" }
    xs[2], xs[3], drefs[2], drefs[3], shapes[2], shapes[3] = scale, offset, "dscale", "doffset", C, C
    if mean then
      xs[4], xs[5], drefs[4], drefs[5], shapes[4], shapes[5] = mean, var, "dmean", "dvariance", C, C
    end
  elseif c.kind == "layer_normalization" then
    local gamma, beta = input(c.gamma, c.pshape), input(c.beta, c.pshape)
    outs[1] = ts.nn.layer_normalization(x, { begin_norm_axis = c.begin_norm_axis,
      begin_params_axis = c.begin_params_axis, gamma = gamma, beta = beta, epsilon = c.epsilon })
    weights[1], refs[1] = w(c.wy, c.xshape), "y"
    if gamma then xs[#xs + 1], drefs[#drefs + 1], shapes[#shapes + 1] = gamma, "dgamma", c.pshape end
    if beta then xs[#xs + 1], drefs[#drefs + 1], shapes[#shapes + 1] = beta, "dbeta", c.pshape end
  else
    outs[1] = ts.nn.l2_normalize(x, c.axis, { epsilon = c.epsilon })
    weights[1], refs[1] = w(c.wy, c.xshape), "y"
  end
  if known then assert.are.same(c.xshape, outs[1].shape) end
  local d = ts.gradients(outs, xs, weights)
  local fetch, names = {}, {}
  for i, o in ipairs(outs) do fetch[i], names[i] = o, refs[i] end
  for i = 1, #xs do
    -- no path (mean and variance given but unused): the reference is zeros
    fetch[#fetch + 1] = d[i] or ts.zeros_like(xs[i])
    names[#names + 1] = drefs[i]
  end
  local sess <close> = ts.Session(g)
  local got = sess:run(fetch, feed)
  local e, what = 0, nil
  for i, name in ipairs(names) do
    assert.are.equal(dtype, got[i].dtype)
    local ei = R.worst(R.flat(got[i]), fx:slice(c[name]), dtype)
    if ei > e then e, what = ei, name end
  end
  return e, what
end

-- The forward pass eagerly on float64 tensors.
local function eager_case(c)
  local function t(ref, shape) return ref and fx:tensor(ref, shape) or nil end
  local x = t(c.x, c.xshape)
  local got, names = {}, {}
  if c.kind == "fused_batch_norm" then
    local C = { c.C }
    local y, bm, bv = x:fused_batch_norm(t(c.scale, C), t(c.offset, C), {
      mean = t(c.mean, C), variance = t(c.variance, C), epsilon = c.epsilon, data_format = c.format,
      is_training = c.training, exponential_avg_factor = c.factor })
    got, names = { y, bm, bv }, { "y", "batch_mean", "batch_variance" }
  elseif c.kind == "layer_normalization" then
    got[1], names[1] = x:layer_normalization { begin_norm_axis = c.begin_norm_axis,
      begin_params_axis = c.begin_params_axis, gamma = t(c.gamma, c.pshape),
      beta = t(c.beta, c.pshape), epsilon = c.epsilon }, "y"
  else
    got[1], names[1] = x:l2_normalize(c.axis, { epsilon = c.epsilon }), "y"
  end
  assert.are.same(c.xshape, got[1].shape)
  local e = 0
  for i, name in ipairs(names) do
    assert.is_true(ts.is_tensor(got[i]))
    e = math.max(e, R.worst(R.flat(got[i]), fx:slice(c[name]), "float64"))
  end
  return e
end

local function describe_case(c)
  local parts = { c.kind, "x[" .. table.concat(c.xshape, ",") .. "]" }
  if c.kind == "fused_batch_norm" then
    parts[#parts + 1] = c.format
    parts[#parts + 1] = c.training and "training" or "inference"
    if c.factor ~= 1 then parts[#parts + 1] = "factor=" .. c.factor end
    if c.mean then parts[#parts + 1] = "mean,variance" end
  elseif c.kind == "layer_normalization" then
    parts[#parts + 1] = ("norm_axis=%d params_axis=%d"):format(c.begin_norm_axis, c.begin_params_axis)
    if c.gamma then parts[#parts + 1] = "gamma" end
    if c.beta then parts[#parts + 1] = "beta" end
  else
    local a = c.axis
    parts[#parts + 1] = "axis=" .. (a == nil and "nil" or type(a) == "table" and
      ("{" .. table.concat(a, ",") .. "}") or tostring(a))
    if c.clamped > 0 then parts[#parts + 1] = c.clamped .. " clamped" end
  end
  parts[#parts + 1] = "eps=" .. c.epsilon
  return table.concat(parts, " ")
end

describe("normalization against PyTorch (spec/fixtures/norm.*)", function()
  it("has the fixture: many cases of each op", function()
    local count = {}
    for _, c in ipairs(fx.spec.cases) do count[c.kind] = (count[c.kind] or 0) + 1 end
    assert.is_true(count.fused_batch_norm >= 100)
    assert.is_true(count.layer_normalization >= 60)
    assert.is_true(count.l2_normalize >= 50)
    assert.are.equal(fx.spec.n, #fx:data())
  end)

  for k, c in ipairs(fx.spec.cases) do
    local name = ("case %d: %s"):format(k, describe_case(c))
    it(name, function()
      for _, dtype in ipairs { "float64", "float32" } do
        local e, what = run_case(c, dtype, true)
        maxerr[c.kind .. " " .. dtype] = math.max(maxerr[c.kind .. " " .. dtype] or 0, e)
        if e > TOL[dtype] then
          error(("%s %s: error %.3g in %s (tolerance %g)"):format(name, dtype, e, what, TOL[dtype]))
        end
      end
      local e, what = run_case(c, "float64", false)
      if e > TOL.float64 then error(("%s, unknown shapes: error %.3g in %s"):format(name, e, what)) end
      e = eager_case(c)
      if e > TOL.float64 then error(("%s, eager: error %.3g"):format(name, e)) end
    end)
  end

  teardown(function()
    if os.getenv("TS_NORM_REPORT") then
      local keys = {}
      for k in pairs(maxerr) do keys[#keys + 1] = k end
      table.sort(keys)
      print(("\nnorm fixtures: %d cases"):format(#fx.spec.cases))
      for _, k in ipairs(keys) do print(("  %-32s max error %.3g"):format(k, maxerr[k])) end
    end
  end)
end)

local function rnd(shape, lo, hi)
  local t = ts.rand(shape, "float64")
  return t * ((hi or 1) - (lo or -1)) + (lo or -1)
end
local function check(f, inputs)
  local ok, err = ts.test.gradcheck(f, inputs, { tol = 1e-6 })
  assert(ok, err)
end
-- y, batch_mean and batch_variance as one vector, so one gradcheck covers the three.
local function all3(y, m, v) return ts.concat({ ts.reshape(y, { -1 }), m, v }, 1) end

describe("fused_batch_norm", function()
  it("gradchecks in training mode (every data format, rank 2 to 5)", function()
    for _, case in ipairs {
      { { 3, 2, 2, 3 }, "NHWC" }, { { 2, 3, 2, 3 }, "NCHW" }, { { 5, 3 }, "NC" },
      { { 2, 3, 2 }, "NWC" }, { { 2, 2, 3 }, "NCW" }, { { 2, 2, 1, 2, 2 }, "NDHWC" },
      { { 2, 2, 2, 1, 2 }, "NCDHW" }, { { 1, 1, 1, 2 }, "NHWC" } } do
      local shape, fmt = case[1], case[2]
      local C = (fmt:sub(2, 2) == "C" and #fmt > 2) and shape[2] or shape[#shape]
      check(function(x, s, o)
        return all3(ts.nn.fused_batch_norm(x, s, o, { data_format = fmt, epsilon = 0.01 }))
      end, { rnd(shape), rnd({ C }, 0.5, 2), rnd { C } })
    end
  end)

  it("gradchecks with exponential_avg_factor and given statistics", function()
    check(function(x, s, o, m, v)
      return all3(ts.nn.fused_batch_norm(x, s, o, { mean = m, variance = v, exponential_avg_factor = 0.3 }))
    end, { rnd { 3, 2, 3 }, rnd({ 3 }, 0.5, 2), rnd { 3 }, rnd { 3 }, rnd({ 3 }, 0.5, 2) })
  end)

  it("gradchecks in inference mode, for all five inputs", function()
    for _, fmt in ipairs { "NHWC", "NCHW" } do
      check(function(x, s, o, m, v)
        local y = ts.nn.fused_batch_norm(x, s, o, { mean = m, variance = v, is_training = false,
                                                     data_format = fmt, epsilon = 0.01 })
        return y
      end, { rnd { 2, 3, 2, 3 }, rnd({ 3 }, 0.5, 2), rnd { 3 }, rnd { 3 }, rnd({ 3 }, 0.5, 2) })
    end
  end)

  it("returns the unbiased batch variance (n / (n - 1)), as TensorFlow does", function()
    local x = ts.tensor({ { 1, 10 }, { 3, 20 }, { 8, 60 } })
    local y, m, v = ts.nn.fused_batch_norm(x, { 1, 1 }, { 0, 0 }, { data_format = "NC" })
    H.tensor(m, { 4, 30 }, "float64")
    H.tensor(v, { 13, 700 }, "float64") -- ((-3)^2 + 1 + 4^2) / 2, (400 + 100 + 900) / 2
    -- y uses the biased one: (x - mean) / sqrt(var * 2 / 3 + eps)
    H.tensor(y, { { -3 / math.sqrt(26 / 3 + 0.001), -20 / math.sqrt(1400 / 3 + 0.001) },
                  { -1 / math.sqrt(26 / 3 + 0.001), -10 / math.sqrt(1400 / 3 + 0.001) },
                  { 4 / math.sqrt(26 / 3 + 0.001), 30 / math.sqrt(1400 / 3 + 0.001) } }, "float64")
    -- one value per channel: the variance is 0 (n / max(n - 1, 1))
    local _, _, v1 = ts.nn.fused_batch_norm(ts.tensor { { 5, 7 } }, { 1, 1 }, { 0, 0 })
    H.tensor(v1, { 0, 0 }, "float64")
  end)

  it("blends the returned statistics with exponential_avg_factor", function()
    local x = ts.tensor({ { 1, 10 }, { 3, 20 }, { 8, 60 } })
    local _, m, v = ts.nn.fused_batch_norm(x, { 1, 1 }, { 0, 0 }, { mean = { 1, 2 }, variance = { 3, 4 },
                                                                   exponential_avg_factor = 0.25 })
    H.tensor(m, { 0.75 * 1 + 0.25 * 4, 0.75 * 2 + 0.25 * 30 }, "float64")
    H.tensor(v, { 0.75 * 3 + 0.25 * 13, 0.75 * 4 + 0.25 * 700 }, "float64")
  end)

  it("in inference mode uses and returns the given statistics", function()
    local x = ts.tensor({ { 1, 10 }, { 3, 20 } })
    local mean, var = ts.tensor { 2, 5 }, ts.tensor { 4, 0.25 }
    local y, m, v = ts.nn.fused_batch_norm(x, { 2, 1 }, { 1, -1 }, { mean = mean, variance = var,
                                                                     is_training = false, epsilon = 0.001 })
    local r1, r2 = 1 / math.sqrt(4.001), 1 / math.sqrt(0.251)
    H.tensor(y, { { 2 * -1 * r1 + 1, 5 * r2 - 1 }, { 2 * 1 * r1 + 1, 15 * r2 - 1 } }, "float64")
    assert.are.equal(mean, m)
    assert.are.equal(var, v)
  end)

  it("raises epsilon below 1.001e-5 to it, as TensorFlow does", function()
    local x = ts.randn({ 4, 3 }, "float64") * 1e-3
    local a = ts.nn.fused_batch_norm(x, { 1, 1, 1 }, { 0, 0, 0 }, { epsilon = 0 })
    local b = ts.nn.fused_batch_norm(x, { 1, 1, 1 }, { 0, 0, 0 }, { epsilon = 1.001e-5 })
    H.tensor(a, b:totable(), "float64", 0)
  end)

  it("keeps the variance accurate when the mean is large (float32)", function()
    -- 1000 + u with u in [-1, 1): E[x^2] - E[x]^2 in float32 would lose every digit
    local u = ts.rand({ 20000, 2 }, "float64") * 2 - 1
    local x = (u + 1000):cast("float32")
    local _, m, v = ts.nn.fused_batch_norm(x, ts.ones({ 2 }, "float32"), ts.zeros({ 2 }, "float32"))
    local um, uv = ts.nn.moments(u, { 1 })
    local n = 20000
    for c = 1, 2 do
      H.close(1000 + um:get(c), m:get(c), 1e-6)
      H.close(uv:get(c) * n / (n - 1), v:get(c), 1e-5)
    end
  end)

  it("takes empty inputs: NaN statistics of an empty batch (as TF), zero gradients", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 0, 3 } }
    local s = ts.placeholder { graph = g, shape = { 3 } }
    local y, m = ts.nn.fused_batch_norm(x, s, { 0, 0, 0 })
    local l = ts.nn.layer_normalization(x, { gamma = s })
    local n = ts.nn.l2_normalize(x, 1)
    local d = ts.gradients({ y, l, n }, { x, s })
    local r = H.run(g, { y, m, l, n, d[1], d[2] }, { [x] = ts.zeros { 0, 3 }, [s] = ts.ones { 3 } })
    for _, i in ipairs { 1, 3, 4, 5 } do assert.are.same({ 0, 3 }, r[i].shape) end
    local mean = r[2]:totable()
    assert.is_true(mean[1] ~= mean[1] and mean[3] ~= mean[3])
    H.tensor(r[6], { 0, 0, 0 }, "float64")
    local y0, m0 = ts.nn.fused_batch_norm(ts.zeros { 2, 0 }, ts.zeros { 0 }, ts.zeros { 0 })
    assert.are.same({ 2, 0 }, y0.shape)
    assert.are.same({ 0 }, m0.shape)
  end)

  it("folds the statistics' path into dx and adds the returned statistics' own", function()
    -- only batch_mean and batch_variance feed the loss: fused_batch_norm_stats_grad
    check(function(x)
      local _, m, v = ts.nn.fused_batch_norm(x, { 1, 2 }, { 0, 0 }, { data_format = "NCHW" })
      return m * 3 + v
    end, { rnd { 2, 2, 3, 1 } })
  end)
end)

describe("layer_normalization", function()
  it("gradchecks with and without gamma and beta, over various axes", function()
    check(function(x, gm, b)
      return ts.nn.layer_normalization(x, { gamma = gm, beta = b })
    end, { rnd { 3, 4 }, rnd({ 4 }, 0.5, 2), rnd { 4 } })
    check(function(x, gm, b)
      return ts.nn.layer_normalization(x, { begin_norm_axis = 2, begin_params_axis = -1, gamma = gm,
                                            beta = b, epsilon = 1e-5 })
    end, { rnd { 2, 3, 2 }, rnd({ 2 }, 0.5, 2), rnd { 2 } })
    check(function(x, gm)
      return ts.nn.layer_normalization(x, { begin_norm_axis = 3, begin_params_axis = 2, gamma = gm })
    end, { rnd { 2, 2, 3 }, rnd({ 2, 3 }, 0.5, 2) })
    check(function(x, b) return ts.nn.layer_normalization(x, { begin_norm_axis = 1, beta = b }) end,
      { rnd { 2, 3 }, rnd { 3 } })
    check(function(x) return ts.nn.layer_normalization(x, { epsilon = 1e-3 }) end, { rnd { 3, 5 } })
  end)

  it("defaults: the last axis, epsilon 1e-12 (tf.contrib.layers.layer_norm's)", function()
    local y = ts.nn.layer_normalization(ts.tensor { { 1, 3 }, { 2, 2 } })
    H.tensor(y, { { -1 / math.sqrt(1 + 1e-12), 1 / math.sqrt(1 + 1e-12) }, { 0, 0 } }, "float64")
  end)
end)

describe("l2_normalize", function()
  it("gradchecks over one axis, several, every axis, and below epsilon", function()
    check(function(x) return ts.nn.l2_normalize(x, 2) end, { rnd { 3, 4 } })
    check(function(x) return ts.nn.l2_normalize(x, { 1, 3 }) end, { rnd { 2, 3, 2 } })
    check(function(x) return ts.nn.l2_normalize(x) end, { rnd { 2, 3 } })
    check(function(x) return ts.nn.l2_normalize(x, -1, { epsilon = 0.01 }) end,
      { ts.tensor { { 0.01, -0.02, 0.03 }, { 1, 2, -0.5 } } })
  end)

  it("is x / sqrt(max(sum(x^2), epsilon))", function()
    H.tensor(ts.nn.l2_normalize(ts.tensor { { 3, 4 }, { 0, 0 }, { 1e-7, 0 } }, 2),
      { { 0.6, 0.8 }, { 0, 0 }, { 1e-7 / math.sqrt(1e-12), 0 } }, "float64")
    H.tensor(ts.l2_normalize(ts.tensor { 3, 4 }, { epsilon = 100 }), { 0.3, 0.4 }, "float64")
  end)
end)

describe("normalization forms", function()
  it("are ts.nn.NAME, ts.NAME, tensor:NAME and node:NAME", function()
    for _, name in ipairs { "fused_batch_norm", "layer_normalization", "l2_normalize" } do
      assert.are.equal(ts.nn[name], ts[name])
    end
    H.each_float(function(dt, tol)
      local x = ts.tensor({ { 3, 4 }, { 6, 8 } }, dt)
      H.tensor(x:l2_normalize(2), { { 0.6, 0.8 }, { 0.6, 0.8 } }, dt, tol)
      H.both(function(t) return t:l2_normalize(2) end, { x }, { { 0.6, 0.8 }, { 0.6, 0.8 } }, { 2, 2 }, dt,
        tol)
      H.both(function(t) return t:layer_normalization { epsilon = 0 } end, { x }, { { -1, 1 }, { -1, 1 } },
        { 2, 2 }, dt, tol)
      H.both(function(t)
        local y = t:fused_batch_norm({ 1, 1 }, { 0, 0 }, { epsilon = 1e-3 })
        return y
      end, { x }, { { -1.5 / math.sqrt(2.25 + 1e-3), -2 / math.sqrt(4 + 1e-3) },
                    { 1.5 / math.sqrt(2.25 + 1e-3), 2 / math.sqrt(4 + 1e-3) } }, { 2, 2 }, dt, 1e-6)
    end)
  end)

  it("names the nodes", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3 } }
    local y, m, v = ts.nn.fused_batch_norm(x, { 1, 1, 1 }, { 0, 0, 0 }, { name = "bn" })
    assert.are.equal("bn", y.name)
    assert.are.equal("bn/batch_mean", m.name)
    assert.are.equal("bn/batch_variance", v.name)
    assert.are.equal("ln", ts.nn.layer_normalization(x, { name = "ln" }).name)
    assert.are.equal("l2", ts.nn.l2_normalize(x, 1, { name = "l2" }).name)
  end)
end)

-- Large inputs reach the threaded paths (tsi_parallel_for splits work from 2^17 elements):
-- each op at 1 and 3 threads against a composite of other ops.
describe("normalization on several threads", function()
  local saved
  setup(function() saved = ts.get_num_threads() end)
  teardown(function() ts.set_num_threads(saved) end)

  local function run(g, fetch, feed)
    local sess <close> = ts.Session(g)
    return sess:run(fetch, feed)
  end
  local function agree(a, b, tol)
    local e = R.worst(R.flat(a), R.flat(b), "float64")
    assert(e <= tol, ("error %.3g > %g"):format(e, tol))
  end

  it("fused_batch_norm, both layouts, forward and gradients", function()
    for _, case in ipairs { { { 8, 24, 24, 32 }, "NHWC", { 1, 2, 3 }, { 1, 1, 1, 32 } },
                            { { 8, 32, 24, 24 }, "NCHW", { 1, 3, 4 }, { 1, 32, 1, 1 } },
                            { { 4096, 40 }, "NC", { 1 }, { 1, 40 } } } do
      local shape, fmt, axes, bshape = case[1], case[2], case[3], case[4]
      local C = fmt == "NCHW" and shape[2] or shape[#shape]
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, shape = shape }
      local s, o = ts.placeholder { graph = g, shape = { C } }, ts.placeholder { graph = g, shape = { C } }
      local y, m, v = ts.nn.fused_batch_norm(x, s, o, { data_format = fmt, epsilon = 1e-3 })
      local w = ts.placeholder { graph = g, shape = shape }
      local d = ts.gradients({ y, m }, { x, s, o }, { w, ts.ones({ C }, "float64") })
      -- the composite: moments and batch_normalization, with the same gradients
      local cm, cv = ts.nn.moments(x, axes, { keepdims = true })
      local cy = ts.nn.batch_normalization(x, cm, cv, ts.reshape(o, bshape), ts.reshape(s, bshape), 1e-3)
      local cd = ts.gradients({ cy, ts.reshape(cm, { -1 }) }, { x, s, o }, { w, ts.ones({ C }, "float64") })
      local n = #shape == 2 and shape[1] or shape[1] * shape[2] * shape[3] * shape[4] / C
      local feed = { [x] = ts.randn(shape, "float64") * 2 + 3, [s] = ts.rand({ C }, "float64") + 0.5,
                     [o] = ts.randn({ C }, "float64"), [w] = ts.randn(shape, "float64") }
      local outs = {}
      for _, nt in ipairs { 1, 3 } do
        ts.set_num_threads(nt)
        outs[nt] = run(g, { y, m, v, d[1], d[2], d[3], cy, ts.reshape(cm, { -1 }),
                            ts.reshape(cv, { -1 }) * (n / (n - 1)), cd[1], cd[2], cd[3] }, feed)
      end
      for i = 1, 6 do
        agree(outs[1][i], outs[3][i], 1e-12)
        agree(outs[3][i], outs[3][i + 6], 1e-10)
      end
    end
  end)

  it("layer_normalization and l2_normalize", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2048, 96 } }
    local gm, b = ts.placeholder { graph = g, shape = { 96 } }, ts.placeholder { graph = g, shape = { 96 } }
    local w = ts.placeholder { graph = g, shape = { 2048, 96 } }
    local y = ts.nn.layer_normalization(x, { gamma = gm, beta = b, epsilon = 1e-5 })
    local m, v = ts.nn.moments(x, { 2 }, { keepdims = true })
    local cy = (x - m) * ts.rsqrt(v + 1e-5) * gm + b
    local l2r = ts.nn.l2_normalize(x, 2)
    local l2c = ts.nn.l2_normalize(x, 1)
    local function l2ref(axis)
      return x * ts.rsqrt(ts.maximum(ts.reduce_sum(x * x, axis, true), 1e-12))
    end
    local c2r, c2c = l2ref(2), l2ref(1)
    local d = ts.gradients({ y, l2r, l2c }, { x, gm, b }, { w, w, w })
    local cd = ts.gradients({ cy, c2r, c2c }, { x, gm, b }, { w, w, w })
    local feed = { [x] = ts.randn({ 2048, 96 }, "float64") + 1, [gm] = ts.rand({ 96 }, "float64") + 0.5,
                   [b] = ts.randn({ 96 }, "float64"), [w] = ts.randn({ 2048, 96 }, "float64") }
    local outs = {}
    for _, nt in ipairs { 1, 3 } do
      ts.set_num_threads(nt)
      outs[nt] = run(g, { y, l2r, l2c, d[1], d[2], d[3], cy, c2r, c2c, cd[1], cd[2], cd[3] }, feed)
    end
    for i = 1, 6 do
      agree(outs[1][i], outs[3][i], 1e-12)
      agree(outs[3][i], outs[3][i + 6], 1e-10)
    end
  end)
end)

describe("normalization errors", function()
  local function ph(shape, dtype) return ts.placeholder { shape = shape, dtype = dtype or "float32" } end
  local s3 = function() return ph { 3 } end

  it("fused_batch_norm names the function, the node and the shapes", function()
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 5, 5, 3 }, ph { 4 }, s3(), { name = "bn1" }) end,
      "fused_batch_norm 'bn1': scale [4] does not match the 3 channels of x [2, 5, 5, 3] (channels last)")
    H.fails(function()
      ts.nn.fused_batch_norm(ph { 2, 5, 5, 3 }, ph { 5 }, s3(), { name = "bn2", data_format = "NCHW" })
    end,
      "fused_batch_norm 'bn2': offset [3] does not match the 5 channels of x [2, 5, 5, 3] (channels first)")
    H.fails(function()
      ts.nn.fused_batch_norm(ph { 2, 5, 5, 3 }, s3(), ph { 5 }, { name = "bn2b", data_format = "NCHW" })
    end, "fused_batch_norm 'bn2b': scale [3] does not match the 5 channels")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, ph { 3, 1 }, s3(), { name = "bn3" }) end,
      "fused_batch_norm 'bn3': scale must be a vector [channels], got scale [3, 1] (x [2, 3], channels last)")
    H.fails(function() ts.nn.fused_batch_norm(ph { 5 }, s3(), s3(), { name = "bn4" }) end,
      "fused_batch_norm 'bn4': x must have rank 2 or more (batch, ..., channels), got x [5]")
    H.fails(function() ts.nn.fused_batch_norm(ts.zeros { 3 }, { 1 }, { 0 }) end,
      "fused_batch_norm: x must have rank 2 or more (batch, ..., channels), got x [3]")
    H.fails(function()
      ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { name = "bn6", mean = ph { 2 }, variance = s3(),
                                                          is_training = false })
    end, "fused_batch_norm 'bn6': mean [2] does not match the 3 channels of x [2, 3]")
    H.fails(function()
      ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { mean = s3(), variance = ph { 4 },
                                                          exponential_avg_factor = 0.5 })
    end, "variance [4] does not match the 3 channels of x [2, 3]")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { data_format = "NHCW" }) end,
      'fused_batch_norm: unknown data_format "NHCW"')
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { epsilon = -1 }) end,
      "fused_batch_norm: epsilon must be a non-negative number, got -1")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { is_training = "yes" }) end,
      "fused_batch_norm: is_training must be a boolean, got string")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { is_training = false }) end,
      "fused_batch_norm: mean and variance are required when is_training is false")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), { exponential_avg_factor = 0.1 }) end,
      "fused_batch_norm: mean and variance are required when exponential_avg_factor is not 1")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), nil) end,
      "fused_batch_norm: scale and offset are required")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, s3(), s3(), ph { 3 }) end,
      "fused_batch_norm: options must be a table, got a node")
    H.fails(function() ts.nn.fused_batch_norm(ph { 2, 3 }, ph({ 3 }, "float64"), s3()) end,
      "dtypes float32 and float64 do not match")
    H.fails(function()
      ts.nn.fused_batch_norm(ts.tensor({ { 1, 2 } }, "int64"), ts.tensor({ 1, 1 }, "int64"),
        ts.tensor({ 0, 0 }, "int64"))
    end, "does not support dtype int64 (use cast to float32 or float64)")
  end)

  it("fused_batch_norm checks shapes unknown at build time when it runs", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local s = ts.placeholder { graph = g }
    local y = ts.nn.fused_batch_norm(x, s, { 0, 0, 0 }, { name = "late" })
    local sess <close> = ts.Session(g)
    H.fails(function() sess:run(y, { [x] = ts.zeros { 2, 3 }, [s] = ts.ones { 2 } }) end,
      "fused_batch_norm 'late': scale [2] does not match the 3 channels of x [2, 3]")
    H.fails(function() sess:run(y, { [x] = ts.zeros { 3 }, [s] = ts.ones { 3 } }) end,
      "fused_batch_norm_stats 'late/moments': x must have rank 2 or more (batch, ..., channels), got x [3]")
    local yi = ts.nn.fused_batch_norm(x, s, { 0, 0, 0 }, { name = "late2", mean = { 0, 0, 0 },
                                                             variance = { 1, 1, 1 }, is_training = false })
    H.fails(function() sess:run(yi, { [x] = ts.zeros { 3 }, [s] = ts.ones { 3 } }) end,
      "fused_batch_norm 'late2': x must have rank 2 or more (batch, ..., channels), got x [3]")
  end)

  it("layer_normalization", function()
    H.fails(function() ts.nn.layer_normalization(ph { 2, 3 }, { begin_norm_axis = 3, name = "ln1" }) end,
      "layer_normalization 'ln1': begin_norm_axis 3 is out of range for x [2, 3] (rank 2)")
    H.fails(function() ts.nn.layer_normalization(ph { 2, 3 }, { begin_params_axis = -3, name = "ln2" }) end,
      "layer_normalization 'ln2': begin_params_axis -3 is out of range for x [2, 3] (rank 2)")
    H.fails(function() ts.nn.layer_normalization(ph { 2, 3 }, { begin_norm_axis = 0 }) end,
      "layer_normalization: begin_norm_axis 0 is not valid (axes are 1-based; -1 is the last)")
    H.fails(function()
      ts.nn.layer_normalization(ph { 2, 3, 4 }, { begin_params_axis = 2, gamma = ph { 4 }, name = "ln3" })
    end,
      "layer_normalization 'ln3': gamma [4] must have x's shape from begin_params_axis 2 on, [3, 4] "
      .. "(x [2, 3, 4])")
    H.fails(function() ts.nn.layer_normalization(ph { 2, 3 }, { beta = ph { 2 }, name = "ln4" }) end,
      "layer_normalization 'ln4': beta [2] must have x's shape from begin_params_axis -1 on, [3] (x [2, 3])")
    H.fails(function() ts.nn.layer_normalization(ph { 2, 3 }, { epsilon = "small" }) end,
      "layer_normalization: epsilon must be a non-negative number, got string")
    H.fails(function() ts.nn.layer_normalization(ph {}, { name = "ln5" }) end,
      "layer_normalization 'ln5': x must have rank 1 or more, got a scalar")
  end)

  it("l2_normalize", function()
    H.fails(function() ts.nn.l2_normalize(ph { 2, 3 }, 3, { name = "n1" }) end,
      "l2_normalize 'n1': axis 3 is out of range for rank 2 (x [2, 3])")
    H.fails(function() ts.nn.l2_normalize(ph { 2, 3 }, { 1, -2 }, { name = "n2" }) end,
      "l2_normalize 'n2': axis 1 is given twice (x [2, 3])")
    H.fails(function() ts.nn.l2_normalize(ph { 2, 3 }, 0) end, "axis 0 is not valid")
    H.fails(function() ts.nn.l2_normalize(ph { 2, 3 }, 1, { epsilon = -0.5 }) end,
      "l2_normalize: epsilon must be a non-negative number, got -0.5")
    H.fails(function() ts.nn.l2_normalize(ph { 2, 3 }, "rows") end,
      "l2_normalize: axis must be a table of integers, got string")
  end)
end)
