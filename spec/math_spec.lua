local ts = require "tensorslow"
local H = require "helpers"
local each_float = H.each_float
local run = H.run

local function erf(x) -- Abramowitz-Stegun 7.1.26 is too coarse; use a series
  local sum, term, n = x, x, 0
  repeat
    n = n + 1
    term = -term * x * x / n
    local add = term / (2 * n + 1)
    sum = sum + add
  until math.abs(add) < 1e-17
  return 2 / math.sqrt(math.pi) * sum
end

local function map(t, f)
  local r = {}
  for i, v in ipairs(t) do r[i] = f(v) end
  return r
end

local XS = { -2.5, -1, -0.25, 0, 0.5, 1, 3 }
local POS = { 0.25, 0.5, 1, 2, 9 }

describe("unary maps", function()
  local cases = {
    { "negative", XS, function(x) return -x end },
    { "abs", XS, math.abs },
    { "sign", XS, function(x) return x > 0 and 1 or (x < 0 and -1 or 0) end },
    { "square", XS, function(x) return x * x end },
    { "exp", XS, math.exp },
    { "log", POS, math.log },
    { "log1p", POS, function(x) return math.log(1 + x) end },
    { "sqrt", POS, math.sqrt },
    { "rsqrt", POS, function(x) return 1 / math.sqrt(x) end },
    { "reciprocal", POS, function(x) return 1 / x end },
    { "sin", XS, math.sin },
    { "cos", XS, math.cos },
    { "tanh", XS, function(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end },
    { "sigmoid", XS, function(x) return 1 / (1 + math.exp(-x)) end },
    { "relu", XS, function(x) return math.max(x, 0) end },
    { "leaky_relu", XS, function(x) return x < 0 and 0.2 * x or x end },
    { "elu", XS, function(x) return x < 0 and math.exp(x) - 1 or x end },
    { "softplus", XS, function(x) return math.log(1 + math.exp(x)) end },
    { "gelu", XS, function(x) return 0.5 * x * (1 + erf(x / math.sqrt(2))) end },
  }
  for _, c in ipairs(cases) do
    local name, xs, f = c[1], c[2], c[3]
    it(name .. " matches the closed form in float32 and float64, eagerly", function()
      each_float(function(dt, tol)
        local t = ts.tensor(xs, dt)
        H.tensor(ts[name](t), map(xs, f), dt, tol)
        H.tensor(t[name](t), map(xs, f), dt, tol)
      end)
    end)
    it(name .. " builds a node that a Session runs", function()
      each_float(function(dt, tol)
        local g = ts.Graph()
        local x = ts.placeholder { graph = g, dtype = dt, shape = { -1 } }
        local y = x[name](x)
        assert.are.equal(dt, y.dtype)
        assert.are.same({ -1 }, y.shape)
        H.tensor(run(g, y, { [x] = xs }), map(xs, f), dt, tol)
      end)
    end)
  end

  it("keeps the shape of a rank-2 input and of a scalar", function()
    local r = ts.exp(ts.tensor { { 0, 1 }, { 2, 3 } })
    assert.are.same({ 2, 2 }, r.shape)
    local s = ts.sqrt(ts.tensor(4))
    assert.are.same({}, s.shape)
    H.close(2, s:item())
  end)

  it("maps an empty tensor to an empty tensor", function()
    local r = ts.exp(ts.zeros { 0, 3 })
    assert.are.same({ 0, 3 }, r.shape)
  end)

  it("negative, abs, sign and square work on int64", function()
    local t = ts.tensor({ -3, 0, 2 }, "int64")
    H.tensor(ts.negative(t), { 3, 0, -2 }, "int64", 0)
    H.tensor(ts.abs(t), { 3, 0, 2 }, "int64", 0)
    H.tensor(ts.sign(t), { -1, 0, 1 }, "int64", 0)
    H.tensor(ts.square(t), { 9, 0, 4 }, "int64", 0)
    H.tensor(-t, { 3, 0, -2 }, "int64", 0)
  end)

  it("math needing floats on an int64 tensor says to cast", function()
    local t = ts.tensor({ 1, 2 }, "int64")
    H.fails(function() return ts.exp(t) end, "exp does not support dtype int64 (use cast")
    H.fails(function() return t:sigmoid() end, "sigmoid does not support dtype int64")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "int64", shape = { 2 } }
    H.fails(function() return ts.log(x, { name = "mylog" }) end,
      "log 'mylog' does not support dtype int64 (use cast")
  end)

  it("leaky_relu and elu take alpha as a number or an option", function()
    each_float(function(dt, tol)
      local t = ts.tensor({ -2, 3 }, dt)
      H.tensor(ts.leaky_relu(t, 0.5), { -1, 3 }, dt, tol)
      H.fails(function() return ts.leaky_relu(t, "x") end, "alpha must be a number, got x")
      H.tensor(t:leaky_relu { alpha = 0.1 }, { -0.2, 3 }, dt, tol)
      H.tensor(ts.elu(t, { alpha = 2 }), { 2 * (math.exp(-2) - 1), 3 }, dt, tol)
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, dtype = dt }
      local y = ts.leaky_relu(x, { alpha = 0.5, name = "lr" })
      assert.are.equal("lr", y.name)
      H.tensor(run(g, y, { [x] = { -2, 3 } }), { -1, 3 }, dt, tol)
      H.tensor(run(g, ts.leaky_relu(x), { [x] = { -2, 3 } }), { -0.4, 3 }, dt, tol)
    end)
  end)

  it("is numerically stable at large magnitudes", function()
    each_float(function(dt)
      local t = ts.tensor({ -1000, 1000 }, dt)
      H.tensor(ts.sigmoid(t), { 0, 1 }, dt, 0)
      H.tensor(ts.softplus(t), { 0, 1000 }, dt, 0)
      H.tensor(ts.tanh(t), { -1, 1 }, dt, 0)
      H.tensor(ts.elu(t), { -1, 1000 }, dt, 0)
      H.tensor(ts.gelu(t), { 0, 1000 }, dt, 0)
    end)
  end)

  it("float64 sigmoid and softmax agree with math.exp to a few ulp over the whole range", function()
    local xs, want, sm = {}, {}, {}
    for i = 0, 400 do
      local x = -745 + i * 3.7
      xs[#xs + 1] = x
      want[#want + 1] = x >= 0 and 1 / (1 + math.exp(-x)) or math.exp(x) / (1 + math.exp(x))
    end
    local got = ts.sigmoid(ts.tensor(xs)):totable()
    for i, w in ipairs(want) do
      local err = math.abs(got[i] - w)
      assert.is_true(err <= 4e-16 * math.abs(w), ("sigmoid(%g): %.17g, want %.17g"):format(xs[i], got[i], w))
    end
    -- subnormal results are kept, not flushed: sigmoid(-740) = exp(-740) / (1 + exp(-740))
    assert.is_true(got[2] > 0)
    local row = { -3, 0.5, 2, 700 }
    local m = 700
    local s = 0
    for _, v in ipairs(row) do s = s + math.exp(v - m) end
    for i, v in ipairs(row) do sm[i] = math.exp(v - m) / s end
    local p = ts.softmax(ts.tensor { row }):totable()[1]
    for i = 1, 4 do
      assert.is_true(math.abs(p[i] - sm[i]) <= 4e-16 * sm[i] + 1e-300,
        ("softmax %d: %.17g vs %.17g"):format(i, p[i], sm[i]))
    end
    local nan = ts.sigmoid(ts.tensor { 0 / 0 }):item()
    assert.is_true(nan ~= nan)
  end)

  -- got[i] against want[i] (mpmath, rounded to dt) to ulps units in the last place of want[i]:
  -- NaN for NaN, the same infinity, the sign of a zero
  local function check_ulps(what, dt, xs, got, want, ulps)
    local bits, emin = 52, -1022
    if dt == "float32" then bits, emin = 23, -126 end
    for i, w in ipairs(want) do
      local v = got[i]
      local msg = ("%s %s(%.17g) = %.17g, want %.17g"):format(dt, what, xs[i], v, w)
      if w ~= w then
        assert(v ~= v, msg)
      elseif math.abs(w) == math.huge then
        assert(v == w, msg)
      else
        local e = w == 0 and emin or math.max(math.floor(math.log(math.abs(w), 2)), emin)
        assert(math.abs(v - w) <= ulps * 2 ^ (e - bits), msg)
        if w == 0 then assert(1 / w == 1 / v, msg .. " (the sign of zero)") end
      end
    end
  end

  it("tanh agrees with mpmath to 1 ulp over the whole range, signed zeros and specials too", function()
    -- spec/fixtures/tanh.lua (make_tanh.py): 4118 cases, { x, tanh(x) float64, x float32,
    -- tanh float32 }, magnitudes 1e-40 to 400, both sides of the 0.625 switch, -0, inf, NaN
    local rows = dofile("spec/fixtures/tanh.lua")
    for _, dt in ipairs { "float64", "float32" } do
      local xs, want = {}, {}
      for i, r in ipairs(rows) do
        xs[i], want[i] = r[dt == "float64" and 1 or 3], r[dt == "float64" and 2 or 4]
      end
      check_ulps("tanh", dt, xs, ts.tanh(ts.tensor(xs, dt)):totable(), want, 1)
    end
  end)

  it("elu, selu and celu: expm1 within 1 ulp of mpmath over x <= 0, -0, -inf and NaN", function()
    -- spec/fixtures/expm1.lua and expm1_64.lua (make_expm1.py): 4088 cases each, { x, expm1(x) }
    local selu_scale = 1.6732632423543772 * 1.0507009873554805
    for _, f in ipairs { { "expm1.lua", "float32" }, { "expm1_64.lua", "float64" } } do
      local dt, xs, want = f[2], {}, {}
      for i, r in ipairs(dofile("spec/fixtures/" .. f[1])) do xs[i], want[i] = r[1], r[2] end
      local x = ts.tensor(xs, dt)
      local function scaled(k)
        local t = {}
        for i, w in ipairs(want) do t[i] = w * k end
        return t
      end
      check_ulps("elu", dt, xs, ts.elu(x):totable(), want, 1)
      check_ulps("celu", dt, xs, ts.celu(x * 2, { alpha = 2 }):totable(), scaled(2), 1)
      -- selu: two more roundings (the scale)
      check_ulps("selu", dt, xs, ts.selu(x):totable(), scaled(selu_scale), 3)
    end
  end)

  it("float32 log1p and softplus within 1 ulp of mpmath over their whole range", function()
    -- spec/fixtures/log1p.lua (make_log1p.py): 3761 log1p cases (x > -1, 1e-40 to 1e30, near
    -- -1 and 2^-29, -1, -2, +-inf, NaN) and 4010 softplus cases (|x| up to 120, both tails)
    local fx = dofile("spec/fixtures/log1p.lua")
    for _, name in ipairs { "log1p", "softplus" } do
      local xs, want = {}, {}
      for i, r in ipairs(fx[name]) do xs[i], want[i] = r[1], r[2] end
      check_ulps(name, "float32", xs, ts[name](ts.tensor(xs, "float32")):totable(), want, 1)
    end
  end)

  it("log agrees with math.log over the whole range (float64 1 ulp, float32 the rounded double)", function()
    local xs = { 1, 0.5, 2, 0.7071067811865476, 1.4142135623730951, 1 - 2 ^ -53, 1 + 2 ^ -52,
      5e-324, 2 ^ -1022, 2 ^ -1022 * 0.75, 1e-310, 1.7976931348623157e308, 2 ^ -149, 3.4e38 }
    local seed = 12345
    local function rand() -- a fixed LCG: the same cases on every run
      seed = (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
      return (seed >> 11) / 2 ^ 52
    end
    for _ = 1, 3000 do xs[#xs + 1] = (0.5 + rand()) * 2 ^ math.floor(rand() * 2098 - 1074) end
    for _ = 1, 1000 do xs[#xs + 1] = 0.5 + rand() end -- near 1, where cancellation would show
    local got = ts.log(ts.tensor(xs)):totable()
    for i, x in ipairs(xs) do
      local want = math.log(x)
      local ulp = want == 0 and 0 or 2 ^ (math.floor(math.log(math.abs(want), 2)) - 52)
      assert.is_true(math.abs(got[i] - want) <= ulp,
        ("log(%.17g): %.17g, want %.17g"):format(x, got[i], want))
    end
    local t32 = ts.tensor(xs, "float32")
    local in32, got32 = t32:totable(), ts.log(t32):totable()
    for i, x in ipairs(in32) do
      local want = string.unpack("f", string.pack("f", x > 0 and math.log(x) or -math.huge))
      if x > 0 then
        assert.are.equal(want, got32[i], ("float32 log(%.9g)"):format(x))
      end
    end
    for _, dt in ipairs { "float64", "float32" } do
      local sp = ts.log(ts.tensor({ 0, -0.0, -1, math.huge, -math.huge, 0 / 0, 1 }, dt)):totable()
      assert.are.same({ -math.huge, -math.huge }, { sp[1], sp[2] })
      assert.is_true(sp[3] ~= sp[3] and sp[5] ~= sp[5] and sp[6] ~= sp[6], dt)
      assert.are.equal(math.huge, sp[4])
      assert.are.equal(0, sp[7])
    end
  end)

  it("relu and sign let NaN through", function()
    local nan = 0 / 0
    local r = ts.relu(ts.tensor { nan, -1 }):totable()
    assert.is_true(r[1] ~= r[1])
    assert.are.equal(0, r[2])
    local s = ts.sign(ts.tensor { nan }):totable()
    assert.is_true(s[1] ~= s[1])
  end)
end)

describe("binary ops", function()
  it("maximum, minimum and squared_difference in both float dtypes", function()
    each_float(function(dt, tol)
      local a, b = ts.tensor({ 1, 5, -2 }, dt), ts.tensor({ 3, 4, -2 }, dt)
      H.tensor(ts.maximum(a, b), { 3, 5, -2 }, dt, tol)
      H.tensor(a:minimum(b), { 1, 4, -2 }, dt, tol)
      H.tensor(ts.squared_difference(a, b), { 4, 1, 0 }, dt, tol)
    end)
  end)

  it("maximum and minimum work on int64 and propagate NaN", function()
    local a, b = ts.tensor({ 1, 5 }, "int64"), ts.tensor({ 3, 4 }, "int64")
    H.tensor(ts.maximum(a, b), { 3, 5 }, "int64", 0)
    H.tensor(ts.minimum(a, b), { 1, 4 }, "int64", 0)
    H.tensor(ts.squared_difference(a, b), { 4, 1 }, "int64", 0)
    local m = ts.maximum(ts.tensor { 0 / 0, 1 }, ts.tensor { 1, 0 / 0 }):totable()
    assert.is_true(m[1] ~= m[1] and m[2] ~= m[2])
  end)

  it("broadcasts a scalar, a row, a column and a lower-rank operand", function()
    each_float(function(dt, tol)
      local m = ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, dt)
      H.tensor(ts.maximum(m, 3.5), { { 3.5, 3.5, 3.5 }, { 4, 5, 6 } }, dt, tol)
      H.tensor(ts.minimum(2, m), { { 1, 2, 2 }, { 2, 2, 2 } }, dt, tol)
      local row = ts.tensor({ { 10, 0, 10 } }, dt)
      H.tensor(ts.maximum(m, row), { { 10, 2, 10 }, { 10, 5, 10 } }, dt, tol)
      local col = ts.tensor({ { 2 }, { 5 } }, dt)
      H.tensor(ts.squared_difference(m, col), { { 1, 0, 1 }, { 1, 0, 1 } }, dt, tol)
      local vec = ts.tensor({ 3, 2, 1 }, dt)
      local r = ts.minimum(ts.tensor({ { { 1, 2, 3 } }, { { 4, 5, 6 } } }, dt), vec)
      assert.are.same({ 2, 1, 3 }, r.shape)
      H.tensor(r, { { { 1, 2, 1 } }, { { 3, 2, 1 } } }, dt, tol)
      -- column against row: outer broadcast
      H.tensor(ts.maximum(col, ts.tensor({ 1, 3, 6 }, dt)), { { 2, 3, 6 }, { 5, 5, 6 } }, dt, tol)
    end)
  end)

  it("builds nodes with broadcast shapes, unknown dims included", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = ts.placeholder { graph = g, shape = { 3 } }
    local z = ts.maximum(x, y)
    assert.are.same({ -1, 3 }, z.shape)
    local u = ts.placeholder { graph = g }
    assert.is_nil(ts.minimum(x, u).shape)
    H.tensor(run(g, z, { [x] = { { 1, 5, 0 } }, [y] = { 2, 2, 2 } }), { { 2, 5, 2 } })
  end)

  it("mixing float32 and float64 is an error", function()
    H.fails(function() return ts.maximum(ts.tensor({ 1 }, "float32"), ts.tensor { 1 }) end,
      "maximum: dtypes float32 and float64 do not match")
    local g = ts.Graph()
    local a = ts.placeholder { graph = g, dtype = "float32" }
    local b = ts.placeholder { graph = g, dtype = "float64" }
    H.fails(function() return ts.less(a, b) end, "less: dtypes float32 and float64 do not match")
  end)

  it("a Lua number adopts the other operand's dtype", function()
    H.tensor(ts.maximum(ts.tensor({ 1, 4 }, "float32"), 2), { 2, 4 }, "float32", 0)
    H.tensor(ts.minimum(2, ts.tensor({ 1, 4 }, "int64")), { 1, 2 }, "int64", 0)
  end)

  it("incompatible shapes name both shapes", function()
    H.fails(function() return ts.maximum(ts.zeros { 2, 3 }, ts.zeros { 4 }) end,
      "maximum: shapes [2, 3] and [4] cannot be broadcast together")
    local g = ts.Graph()
    local a = ts.placeholder { graph = g, shape = { 2, 3 } }
    local b = ts.placeholder { graph = g, shape = { 2 } }
    H.fails(function() return ts.squared_difference(a, b, { name = "sd" }) end,
      "squared_difference 'sd': shapes [2, 3] and [2] cannot be broadcast together")
  end)

  it("shape mismatch found at run time names the shapes", function()
    local g = ts.Graph()
    local a = ts.placeholder { graph = g, shape = { -1 } }
    local b = ts.placeholder { graph = g, shape = { -1 } }
    local c = ts.maximum(a, b)
    H.fails(function() return run(g, c, { [a] = { 1, 2 }, [b] = { 1, 2, 3 } }) end,
      "shapes [2] and [3] cannot be broadcast together")
  end)

  it("works on empty tensors", function()
    local r = ts.maximum(ts.zeros { 0, 3 }, ts.zeros { 3 })
    assert.are.same({ 0, 3 }, r.shape)
  end)
end)

describe("comparisons", function()
  local ops = {
    equal = { 0, 1, 0 },
    not_equal = { 1, 0, 1 },
    less = { 1, 0, 0 },
    less_equal = { 1, 1, 0 },
    greater = { 0, 0, 1 },
    greater_equal = { 0, 1, 1 },
  }
  for name, want in pairs(ops) do
    it(name .. " returns uint8 0/1 for every dtype", function()
      for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
        local a, b = ts.tensor({ 1, 2, 3 }, dt), ts.tensor({ 2, 2, 2 }, dt)
        H.tensor(ts[name](a, b), want, "uint8", 0)
        H.tensor(a[name](a, 2), want, "uint8", 0)
      end
    end)
  end

  it("broadcasts and runs in a graph", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { 2, -1 } }
    local c = ts.greater(x, ts.constant({ { 1 }, { 4 } }, { graph = g, dtype = "float32" }))
    assert.are.equal("uint8", c.dtype)
    assert.are.same({ 2, -1 }, c.shape)
    H.tensor(run(g, c, { [x] = { { 0, 2 }, { 5, 3 } } }), { { 0, 1 }, { 1, 0 } }, "uint8", 0)
  end)

  it("NaN is unequal to everything", function()
    local n = ts.tensor { 0 / 0 }
    H.tensor(ts.equal(n, n), { 0 }, "uint8", 0)
    H.tensor(ts.not_equal(n, n), { 1 }, "uint8", 0)
    H.tensor(ts.less(n, 1), { 0 }, "uint8", 0)
  end)
end)

describe("where", function()
  it("picks from a or b element-wise in both float dtypes", function()
    each_float(function(dt, tol)
      local a, b = ts.tensor({ 1, 2, 3 }, dt), ts.tensor({ -1, -2, -3 }, dt)
      local c = ts.greater(a, 1.5)
      H.tensor(ts.where(c, a, b), { -1, 2, 3 }, dt, tol)
      H.tensor(c:where(a, b), { -1, 2, 3 }, dt, tol)
    end)
  end)

  it("broadcasts cond, a and b three ways", function()
    local cond = ts.tensor({ { 1 }, { 0 } }, "uint8")     -- [2, 1]
    local a = ts.tensor { 1, 2, 3 }                       -- [3]
    local b = ts.tensor { { { 10 } }, { { 20 } } }        -- [2, 1, 1]
    local r = ts.where(cond, a, b)
    assert.are.same({ 2, 2, 3 }, r.shape)
    H.tensor(r, { { { 1, 2, 3 }, { 10, 10, 10 } }, { { 1, 2, 3 }, { 20, 20, 20 } } })
    H.tensor(ts.where(ts.tensor({ 1, 0 }, "uint8"), 5, 7), { 5, 7 }, "float64", 0)
    H.tensor(ts.where({ 0, 1 }, ts.tensor({ 1, 2 }, "int64"), 0), { 0, 2 }, "int64", 0)
  end)

  it("runs in a graph with the dtype of a and b", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { -1 } }
    local y = ts.where(ts.less(x, 0), ts.negative(x), x)
    assert.are.equal("float32", y.dtype)
    assert.are.same({ -1 }, y.shape)
    H.tensor(run(g, y, { [x] = { -2, 3 } }), { 2, 3 }, "float32", 0)
  end)

  it("rejects a non-uint8 condition, mixed dtypes and bad shapes", function()
    H.fails(function() return ts.where(ts.tensor { 1, 0 }, ts.tensor { 1, 2 }, ts.tensor { 3, 4 }) end,
      "where: the condition must be uint8")
    H.fails(function()
      return ts.where(ts.tensor({ 1 }, "uint8"), ts.tensor({ 1 }, "float32"), ts.tensor { 1 })
    end, "dtypes float32 and float64 do not match")
    H.fails(function()
      return ts.where(ts.tensor({ 1, 0, 1 }, "uint8"), ts.zeros { 2 }, ts.zeros { 2 })
    end, "shapes [3] and [2] cannot be broadcast together")
  end)
end)
