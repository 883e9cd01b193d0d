-- softsign(x) = x / (1 + |x|): values, the three forms, fusion, gradients.
local ts = require "tensorslow"
local H = require "helpers"

local XS = { -1e6, -3, -1, -0.25, 0, 0.5, 2, 1e6 }
local function softsign(x) return x / (1 + math.abs(x)) end
local function dsoftsign(x) return 1 / (1 + math.abs(x)) ^ 2 end
local function map(t, f)
  local r = {}
  for i, v in ipairs(t) do r[i] = f(v) end
  return r
end

describe("softsign", function()
  it("computes x / (1 + |x|) as ts.softsign, tensor:softsign and node:softsign", function()
    H.each_float(function(dt, tol)
      local t = ts.tensor(XS, dt)
      local want = map(XS, softsign)
      H.tensor(ts.softsign(t), want, dt, tol)
      H.tensor(t:softsign(), want, dt, tol)
      H.both(function(x) return x:softsign() end, { t }, want, { #XS }, dt, tol)
      H.tensor(ts.softsign(XS), want, "float64") -- a Lua table becomes float64
    end)
  end)

  it("fuses with its element-wise neighbours and keeps its node name", function()
    H.each_float(function(dt, tol)
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, dtype = dt, shape = { #XS } }
      local y = ts.softsign(x * 2, { name = "ss" }) + 1
      assert.equal("ss", y.inputs[1].name)
      assert.equal("softsign", y.inputs[1].op)
      local v = H.run(g, y, { [x] = ts.tensor(XS, dt) })
      H.tensor(v, map(XS, function(a) return softsign(2 * a) + 1 end), dt, tol)
    end)
  end)

  it("has the gradient g / (1 + |x|)^2", function()
    local ok, err = ts.test.gradcheck(function(x) return ts.softsign(x) end,
      { { -3, -0.5, 0.25, 1, 4 } })
    assert(ok, err)
    H.each_float(function(dt, tol)
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, dtype = dt, shape = { #XS } }
      local dx = ts.gradients(ts.reduce_sum(ts.softsign(x)), x)[1]
      H.tensor(H.run(g, dx, { [x] = ts.tensor(XS, dt) }), map(XS, dsoftsign), dt, tol)
    end)
  end)

  it("refuses integer inputs", function()
    H.fails(function() return ts.softsign(ts.tensor({ 1, 2 }, "int64")) end, "softsign")
  end)
end)
