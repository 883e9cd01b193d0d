local ts = require "tensorslow"
local H = require "helpers"

-- Mean, variance and largest magnitude of a tensor's values.
local function stats(t)
  local v = t:reshape({ t:numel() }):totable()
  local s, s2, big = 0, 0, 0
  for i = 1, #v do
    s, s2 = s + v[i], s2 + v[i] * v[i]
    big = math.max(big, math.abs(v[i]))
  end
  local mean = s / #v
  return mean, s2 / #v - mean * mean, big, #v
end

-- Asserts a draw's mean is 0 and its variance var within 5 standard errors
-- (kurtosis: the distribution's fourth moment over var^2).
local function check_draw(t, var, kurtosis)
  local mean, v, _, n = stats(t)
  assert(math.abs(mean) < 5 * math.sqrt(var / n), ("mean %g, variance %g"):format(mean, var))
  local se = var * math.sqrt((kurtosis - 1) / n)
  assert(math.abs(v - var) < 5 * se, ("variance %g, expected %g (standard error %g)"):format(v, var, se))
end

-- Kurtosis of the uniform and of the standard normal cut at +-2.
local UNIFORM_K = 9 / 5
local TRUNC_K = (function()
  -- moments of the normal cut at +-2, by numerical integration
  local m2, m4, z = 0, 0, 0
  for i = -20000, 20000 do
    local x = i / 10000
    local w = math.exp(-x * x / 2)
    z, m2, m4 = z + w, m2 + w * x * x, m4 + w * x ^ 4
  end
  return (m4 / z) / (m2 / z) ^ 2
end)()

describe("initializers", function()
  local conv = { 5, 5, 16, 32 } -- fan_in 400, fan_out 800

  it("he_uniform: uniform in +-sqrt(6 / fan_in), fan_in of a conv filter = h w in", function()
    ts.seed(1)
    local t = ts.initializers.he_uniform(conv, { dtype = "float64" })
    assert.same(conv, t.shape)
    local limit = math.sqrt(6 / 400)
    local _, _, big = stats(t)
    assert(big <= limit and big > 0.999 * limit, "max " .. big .. ", limit " .. limit)
    check_draw(t, limit * limit / 3, UNIFORM_K)
    assert.equal("float32", ts.initializers.he_uniform({ 3, 4 }, { dtype = "float32" }).dtype)
  end)

  it("lecun_uniform: uniform in +-sqrt(3 / fan_in)", function()
    ts.seed(2)
    local t = ts.initializers.lecun_uniform(conv)
    local limit = math.sqrt(3 / 400)
    local _, _, big = stats(t)
    assert(big <= limit and big > 0.999 * limit)
    check_draw(t, 1 / 400, UNIFORM_K)
  end)

  it("lecun_normal: truncated normal with variance 1 / fan_in, within 2 stddev of the untruncated", function()
    ts.seed(3)
    local t = ts.initializers.lecun_normal(conv)
    local _, _, big = stats(t)
    assert(big <= 2 * math.sqrt(1 / 400) / 0.87962566103423978)
    check_draw(t, 1 / 400, TRUNC_K)
  end)

  it("variance_scaling: modes (conv fans), distributions, scale", function()
    ts.seed(4)
    local vs = ts.initializers.variance_scaling
    -- fan_out = h w out = 800, fan_avg = 600
    local t = vs(conv, { scale = 2, mode = "fan_out", distribution = "uniform" })
    local _, _, big = stats(t)
    local limit = math.sqrt(3 * 2 / 800)
    assert(big <= limit and big > 0.999 * limit)
    check_draw(t, 2 / 800, UNIFORM_K)
    local init = vs { scale = 3, mode = "fan_avg", distribution = "untruncated_normal" }
    t = init(conv)
    check_draw(t, 3 / 600, 3)
    _, _, big = stats(t)
    assert(big > 2 * math.sqrt(3 / 600) / 0.87962566103423978) -- not truncated
    t = vs(conv) -- scale 1, fan_in, truncated
    check_draw(t, 1 / 400, TRUNC_K)
    -- dense [in, out] and vector shapes
    _, _, big = stats(vs({ 300, 100 }, { mode = "fan_in", distribution = "uniform" }))
    assert(big <= math.sqrt(3 / 300) and big > 0.9 * math.sqrt(3 / 300))
    _, _, big = stats(vs({ 3000 }, { mode = "fan_out", distribution = "uniform" }))
    assert(big <= math.sqrt(3 / 3000) and big > 0.99 * math.sqrt(3 / 3000))
  end)

  it("variance_scaling refuses an unknown mode, distribution or scale", function()
    H.fails(function() ts.initializers.variance_scaling({ 2, 2 }, { mode = "fan_sum" }) end,
      "initializers.variance_scaling: mode must be")
    H.fails(function() ts.initializers.variance_scaling { distribution = "cauchy" } { 2, 2 } end,
      "distribution must be")
    H.fails(function() ts.initializers.variance_scaling({ 2 }, { scale = -1 }) end,
      "scale must be a positive number")
  end)
end)

describe("layers.conv2d", function()
  it("makes <name>/kernel [h, w, in, out] and <name>/bias, SAME and VALID shapes", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 28, 28, 1 }, dtype = "float32" }
    local y = ts.layers.conv2d(x, 8, 5, { padding = "same", activation = ts.relu })
    assert.same({ -1, 28, 28, 8 }, y.shape)
    assert.same({ 5, 5, 1, 8 }, g:get("conv2d/kernel").shape)
    assert.same({ 8 }, g:get("conv2d/bias").shape)
    assert.equal("float32", g:get("conv2d/kernel").dtype)
    local z = ts.layers.conv2d(y, 4, { 3, 2 }, { strides = 2, use_bias = false })
    assert.same({ -1, 13, 14, 4 }, z.shape)
    assert.same({ 3, 2, 8, 4 }, g:get("conv2d_1/kernel").shape)
    assert.is_nil(g:get("conv2d_1/bias"))
  end)

  it("channels_first gives the same values as channels_last (kernel [out, in, h, w])", function()
    ts.seed(5)
    local xv = ts.randn({ 2, 6, 5, 3 }, "float64")
    local g = ts.Graph()
    local x1 = ts.placeholder { graph = g, shape = { 2, 6, 5, 3 } }
    local x2 = ts.placeholder { graph = g, shape = { 2, 3, 6, 5 } }
    local y1 = ts.layers.conv2d(x1, 4, 3, { padding = "same", name = "a",
      bias_initializer = ts.initializers.random_normal })
    local y2 = ts.layers.conv2d(x2, 4, 3, { padding = "same", data_format = "channels_first",
      name = "b" })
    assert.same({ 2, 4, 6, 5 }, y2.shape)
    assert.same({ 4, 3, 3, 3 }, g:get("b/kernel").shape)
    g:get("b/kernel"):assign(ts.transpose(g:get("a/kernel"):value(), { 4, 3, 1, 2 }))
    g:get("b/bias"):assign(g:get("a/bias"):value())
    local sess <close> = ts.Session(g)
    local r = sess:run({ y1, ts.transpose(y2, { 1, 3, 4, 2 }) },
      { [x1] = xv, [x2] = ts.transpose(xv, { 1, 4, 2, 3 }) })
    H.close(r[1]:totable(), r[2]:totable(), 1e-12)
  end)

  it("errors name the layer", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 8, 8, -1 } }
    H.fails(function() ts.layers.conv2d(x, 4, 3) end, "conv2d: x must have rank 4 and a known channel")
    local x2 = ts.placeholder { graph = g, shape = { -1, 8, 8, 2 } }
    H.fails(function() ts.layers.conv2d(x2, 0, 3) end, "conv2d: filters must be a positive integer")
    H.fails(function() ts.layers.conv2d(x2, 4, 3, { padding = "full" }) end,
      "conv2d: padding must be \"valid\" or \"same\"")
    H.fails(function() ts.layers.conv2d(x2, 4, 3, { data_format = "HWCN" }) end,
      "conv2d: unknown data_format \"HWCN\"")
    H.fails(function() ts.layers.conv2d(x2, 4, { 1, 2, 3 }) end,
      "conv2d: kernel_size must be a positive integer or two")
  end)
end)

describe("pooling, flatten, dropout layers", function()
  it("max_pooling2d / average_pooling2d: strides default to pool_size", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 1, 4, 4, 1 } }
    local m = ts.layers.max_pooling2d(x, 2)
    local a = ts.layers.average_pooling2d(x, 2, 1, { padding = "same" })
    local c = ts.layers.max_pooling2d(ts.transpose(x, { 1, 4, 2, 3 }), { 2, 2 },
      { data_format = "channels_first" })
    assert.same({ 1, 2, 2, 1 }, m.shape)
    assert.same({ 1, 4, 4, 1 }, a.shape)
    assert.same({ 1, 1, 2, 2 }, c.shape)
    local xv = ts.arange(1, 17, 1, "float64"):reshape { 1, 4, 4, 1 }
    local sess <close> = ts.Session(g)
    local r = sess:run({ m, a, c }, { [x] = xv })
    H.close({ 6, 8, 14, 16 }, r[1]:reshape { 4 }:totable())
    -- same padding averages the values inside only: the last corner is 16
    H.close(16, r[2]:reshape { 16 }:totable()[16])
    H.close({ 6, 8, 14, 16 }, r[3]:reshape { 4 }:totable())
  end)

  it("flatten keeps the batch dimension", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3, 4, 5 } }
    assert.same({ -1, 60 }, ts.layers.flatten(x).shape)
    H.fails(function() ts.layers.flatten(ts.placeholder { graph = g, shape = { -1, -1, 2 } }) end,
      "flatten: dimension 2 of x must be known")
  end)

  it("dropout: identity when not training, drops about rate when training (also fed)", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 10000 } }
    local training = ts.placeholder { graph = g, shape = {}, dtype = "uint8" }
    local off = ts.layers.dropout(x)
    local on = ts.layers.dropout(x, { rate = 0.25, training = true, seed = 7 })
    local fed = ts.layers.dropout(x, 0.5, { training = training })
    local sess <close> = ts.Session(g)
    local xv = ts.ones({ 10000 })
    local r = sess:run({ off, on }, { [x] = xv })
    H.close(10000, r[1]:reduce_sum():item())
    local kept = r[2]:greater(0):cast("float64"):reduce_sum():item()
    assert(math.abs(kept - 7500) < 5 * math.sqrt(10000 * 0.25 * 0.75))
    H.close(4 / 3, r[2]:reduce_max():item())
    H.close(10000, sess:run(fed, { [x] = xv, [training] = ts.tensor(0, "uint8") }):reduce_sum():item())
    local dropped = sess:run(fed, { [x] = xv, [training] = ts.tensor(1, "uint8") })
    assert(math.abs(dropped:greater(0):cast("float64"):reduce_sum():item() - 5000) < 250)
    H.fails(function() ts.layers.dropout(x, { rate = 1 }) end, "dropout: rate must be a number in [0, 1)")
  end)
end)

describe("layers.batch_normalization", function()
  -- Per-channel (last axis) mean and biased variance of an [n, c] table.
  local function col_stats(rows)
    local n, c = #rows, #rows[1]
    local m, v = {}, {}
    for j = 1, c do
      local s = 0
      for i = 1, n do s = s + rows[i][j] end
      m[j] = s / n
      local s2 = 0
      for i = 1, n do s2 = s2 + (rows[i][j] - m[j]) ^ 2 end
      v[j] = s2 / n
    end
    return m, v
  end

  it("inference mode uses the moving statistics; they are not trainable", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 2 } }
    local y = ts.layers.batch_normalization(x, { epsilon = 0.01 })
    local mm, mv = g:get("batch_normalization/moving_mean"), g:get("batch_normalization/moving_variance")
    mm:assign { 1, -2 }
    mv:assign { 4, 0.25 }
    g:get("batch_normalization/gamma"):assign { 2, 3 }
    g:get("batch_normalization/beta"):assign { 0.5, 0 }
    local trainable = {}
    for _, v in ipairs(ts.trainable_variables(g)) do trainable[#trainable + 1] = v.name end
    assert.same({ "batch_normalization/gamma", "batch_normalization/beta" }, trainable)
    local r = H.run(g, y, { [x] = ts.tensor { { 3, 0 }, { 1, -2 } } })
    H.close({ { 2 * 2 / math.sqrt(4.01) + 0.5, 3 * 2 / math.sqrt(0.26) }, { 0.5, 0 } }, r:totable())
  end)

  it("training mode: batch statistics; each optimizer step updates the moving ones", function()
    ts.seed(6)
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = ts.layers.batch_normalization(x, { training = true, momentum = 0.9, epsilon = 1e-3 })
    local loss = ts.reduce_sum(ts.square(y - 1)) -- depends on gamma and beta
    local step = ts.train.GradientDescentOptimizer(0.01):minimize(loss)
    local sess <close> = ts.Session(g)
    local mm, mv = { 0, 0, 0 }, { 1, 1, 1 }
    for k = 1, 5 do
      local xv = ts.randn({ 8, 3 }, "float64") * k + k
      local rows = xv:totable()
      local m, v = col_stats(rows)
      if k == 1 then
        -- the output is normalized with the batch's statistics (gamma 1, beta 0 at first)
        local out = sess:run(y, { [x] = xv }):totable()
        for i = 1, 8 do
          for j = 1, 3 do H.close((rows[i][j] - m[j]) / math.sqrt(v[j] + 1e-3), out[i][j], 1e-10) end
        end
        -- fetching the output alone updates nothing
        H.close(mm, g:get("batch_normalization/moving_mean"):value():totable())
      end
      sess:run({ loss, step }, { [x] = xv })
      for j = 1, 3 do
        mm[j] = 0.9 * mm[j] + 0.1 * m[j]
        mv[j] = 0.9 * mv[j] + 0.1 * v[j] * 8 / 7 -- the unbiased variance, as TF's fused layer and torch
      end
      H.close(mm, g:get("batch_normalization/moving_mean"):value():totable(), 1e-12)
      H.close(mv, g:get("batch_normalization/moving_variance"):value():totable(), 1e-12)
    end
  end)

  it("training as a fed placeholder: one graph for training and evaluation", function()
    ts.seed(7)
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 2, 3, 3 } } -- NCHW
    local training = ts.placeholder { graph = g, shape = {}, dtype = "uint8", name = "training" }
    local y = ts.layers.batch_normalization(x, { axis = 2, training = training, momentum = 0.5 })
    local loss = ts.reduce_mean(ts.square(y))
    local step = ts.train.AdamOptimizer(0.01):minimize(loss)
    local sess <close> = ts.Session(g)
    local mm = g:get("batch_normalization/moving_mean")
    local mv = g:get("batch_normalization/moving_variance")
    local xv = ts.randn({ 4, 2, 3, 3 }, "float64") * 2 + 3
    local T, F = ts.tensor(1, "uint8"), ts.tensor(0, "uint8")
    -- evaluation: moving statistics (0, 1), nothing updated even by the step
    local r = sess:run({ y, step }, { [x] = xv, [training] = F })
    H.close(xv:totable(), (r[1] * math.sqrt(1 + 1e-3)):totable(), 1e-9)
    H.close({ 0, 0 }, mm:value():totable())
    H.close({ 1, 1 }, mv:value():totable())
    -- training: the batch's statistics over N, H, W per channel, then the update
    local m = ts.reduce_mean(xv, { 1, 3, 4 }):totable()
    local v = ts.reduce_mean(ts.square(xv - ts.reduce_mean(xv, { 1, 3, 4 }, true)), { 1, 3, 4 }):totable()
    local beta = g:get("batch_normalization/beta"):value():totable() -- trained by the first step
    r = sess:run({ y, step }, { [x] = xv, [training] = T })
    H.close(beta, ts.reduce_mean(r[1], { 1, 3, 4 }):totable(), 1e-9)
    H.close({ 0.5 * m[1], 0.5 * m[2] }, mm:value():totable(), 1e-12)
    -- the moving variance follows the unbiased one (36 values per channel)
    H.close({ 0.5 + 0.5 * v[1] * 36 / 35, 0.5 + 0.5 * v[2] * 36 / 35 }, mv:value():totable(), 1e-12)
  end)

  it("the Saver saves and restores the moving statistics", function()
    local path = os.tmpname()
    local function build()
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, shape = { -1, 2 } }
      local y = ts.layers.batch_normalization(x, { training = true })
      local step = ts.train.GradientDescentOptimizer(0.1):minimize(ts.reduce_sum(ts.square(y - 1)))
      return g, x, step
    end
    local g, x, step = build()
    local sess <close> = ts.Session(g)
    sess:run(step, { [x] = ts.tensor { { 1, 2 }, { 3, 7 } } })
    local saved = g:get("batch_normalization/moving_mean"):value():totable()
    H.close({ 0.02, 0.045 }, saved)
    ts.train.Saver():save(sess, path)
    local g2 = build()
    local sess2 <close> = ts.Session(g2)
    ts.train.Saver():restore(sess2, path)
    os.remove(path)
    H.close(saved, g2:get("batch_normalization/moving_mean"):value():totable())
    H.close(g:get("batch_normalization/moving_variance"):value():totable(),
      g2:get("batch_normalization/moving_variance"):value():totable())
  end)

  it("gradients flow in training mode (gradcheck, float64)", function()
    ts.seed(8)
    local xv = ts.randn({ 5, 3 }, "float64") * 2 + 1
    local ok, err = ts.test.gradcheck(function(x)
      return ts.layers.batch_normalization(x, { training = true, epsilon = 1e-2 })
    end, { xv })
    assert(ok, err)
    -- with respect to gamma and beta too, on 4-d channels_first input
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3, 2, 2 } }
    local y = ts.layers.batch_normalization(x, { axis = 2, training = true })
    local gamma, beta = g:get("batch_normalization/gamma"), g:get("batch_normalization/beta")
    ok, err = ts.test.gradcheck(y, { [x] = ts.randn({ 2, 3, 2, 2 }, "float64"),
      [gamma] = ts.tensor { 0.5, 1, 2 }, [beta] = ts.tensor { 1, 0, -1 } })
    assert(ok, err)
  end)

  it("gradients flow with training fed, through the batch statistics or the moving ones", function()
    ts.seed(9)
    for _, case in ipairs { { 2, { 2, 3, 2, 2 } }, { -1, { 3, 2, 2, 3 } }, { 2, { 4, 3 } } } do
      local axis, shape = case[1], case[2]
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, shape = shape }
      local training = ts.placeholder { graph = g, shape = {}, dtype = "uint8" }
      local y = ts.layers.batch_normalization(x, { axis = axis, training = training, epsilon = 1e-2 })
      local gamma = g:get("batch_normalization/gamma")
      local mv = g:get("batch_normalization/moving_variance")
      mv:assign(ts.fill({ shape[axis > 0 and axis or #shape] }, 0.7))
      -- a loss whose gradient through the statistics is not zero
      local loss = ts.reduce_sum(ts.square(y) * ts.randn(shape, "float64"))
      for _, on in ipairs { 1, 0 } do
        local ok, err = ts.test.gradcheck(loss, { [x] = ts.randn(shape, "float64") * 2 + 1,
          [gamma] = ts.tensor { 0.5, 1, 2 } }, { feed = { [training] = ts.tensor(on, "uint8") } })
        assert(ok, ("axis %d training %d: %s"):format(axis, on, err))
      end
    end
  end)

  it("errors name the layer", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 2 } }
    H.fails(function() ts.layers.batch_normalization(x, { axis = 3 }) end,
      "batch_normalization: axis must be an integer in [-2, 2]")
    H.fails(function() ts.layers.batch_normalization(x, { axis = 1 }) end,
      "batch_normalization: dimension 1 of x (the axis) must be known")
    H.fails(function() ts.layers.batch_normalization(x, { training = "yes" }) end,
      "training must be a boolean or a scalar node")
  end)
end)
