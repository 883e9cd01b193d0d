local ts = require "tensorslow"
local H = require "helpers"
local run = H.run

local FLOATS = { float32 = 1e-5, float64 = 1e-12 }
local function each_float(f) H.each_float(f, FLOATS) end

-- Reference reduction of a flat array `vals` of shape `shape` over the axes
-- in `axes` (1-based set; nil = all): returns the nested table and shape.
local function ref_reduce(vals, shape, axes, keepdims, init, step, fin)
  local nd = #shape
  local red = {}
  if axes == nil then
    for i = 1, nd do red[i] = true end
  else
    for _, a in ipairs(axes) do red[a < 0 and a + nd + 1 or a] = true end
  end
  local oshape, oidx_dims = {}, {}
  for i = 1, nd do
    if not red[i] then
      oshape[#oshape + 1] = shape[i]
      oidx_dims[#oidx_dims + 1] = i
    end
  end
  local onum = 1
  for _, d in ipairs(oshape) do onum = onum * d end
  local acc, cnt = {}, {}
  for o = 1, onum do acc[o], cnt[o] = init, 0 end
  local idx = {}
  for i = 1, nd do idx[i] = 1 end
  local total = 1
  for _, d in ipairs(shape) do total = total * d end
  for f = 1, total do
    local o = 0
    for _, i in ipairs(oidx_dims) do o = o * shape[i] + (idx[i] - 1) end
    acc[o + 1] = step(acc[o + 1], vals[f])
    cnt[o + 1] = cnt[o + 1] + 1
    for i = nd, 1, -1 do
      idx[i] = idx[i] + 1
      if idx[i] <= shape[i] then break end
      idx[i] = 1
    end
  end
  local flat = {}
  for o = 1, onum do flat[o] = fin(acc[o], cnt[o]) end
  local kshape = {}
  for i = 1, nd do kshape[i] = red[i] and 1 or shape[i] end
  local function nest(s, off, d)
    if d > #s then return flat[off + 1], off + 1 end
    local t = {}
    for i = 1, s[d] do t[i], off = nest(s, off, d + 1) end
    return t, off
  end
  local rs = keepdims and kshape or oshape
  return (nest(rs, 0, 1)), rs
end

local REF = {
  reduce_sum = { 0, function(a, v) return a + v end, function(a) return a end },
  reduce_mean = { 0, function(a, v) return a + v end, function(a, c) return a / c end },
  reduce_max = { -math.huge, math.max, function(a) return a end },
  reduce_min = { math.huge, math.min, function(a) return a end },
  reduce_prod = { 1, function(a, v) return a * v end, function(a) return a end },
  reduce_logsumexp = { 0, function(a, v) return a + math.exp(v) end, function(a) return math.log(a) end },
}

-- 2 x 3 x 4 x 5 values in a small range (products stay moderate)
local SHAPE4 = { 2, 3, 4, 5 }
local VALS4 = {}
for i = 1, 120 do VALS4[i] = ((i * 37) % 23) / 10 - 1 end

local function tensor4(dt)
  return ts.tensor(VALS4, dt):reshape(SHAPE4)
end

describe("reductions", function()
  local axis_sets = {
    { nil }, { 1 }, { 2 }, { 4 }, { -1 }, { -4 }, { { 1, 2 } }, { { 3, 4 } }, { { 2, 3 } },
    { { 1, 3 } }, { { 2, 4 } }, { { 1, 2, 4 } }, { { 4, 1 } }, { { 1, 2, 3, 4 } }, { { -1, -3 } },
  }
  for name, r in pairs(REF) do
    it(name .. " agrees with a reference over every axis layout, both float dtypes", function()
      each_float(function(dt, tol)
        local t = tensor4(dt)
        for _, as in ipairs(axis_sets) do
          local axis = as[1]
          local axes = type(axis) == "number" and { axis } or axis
          for _, keep in ipairs { false, true } do
            local want, wshape = ref_reduce(VALS4, SHAPE4, axes, keep, r[1], r[2], r[3])
            local got = ts[name](t, axis, keep)
            assert.are.same(wshape, got.shape)
            if #wshape == 0 then
              H.close(want, got:item(), tol)
            else
              H.tensor(got, want, dt, tol)
            end
          end
        end
      end)
    end)
  end

  it("sums hand-computed values", function()
    each_float(function(dt, tol)
      local m = ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, dt)
      H.close(21, ts.reduce_sum(m):item(), tol)
      H.tensor(ts.reduce_sum(m, 1), { 5, 7, 9 }, dt, tol)
      H.tensor(ts.reduce_sum(m, 2), { 6, 15 }, dt, tol)
      H.tensor(ts.reduce_sum(m, -1, true), { { 6 }, { 15 } }, dt, tol)
      H.tensor(ts.reduce_mean(m, 1), { 2.5, 3.5, 4.5 }, dt, tol)
      H.tensor(ts.reduce_max(m, 2), { 3, 6 }, dt, tol)
      H.tensor(ts.reduce_min(m, -2), { 1, 2, 3 }, dt, tol)
      H.tensor(ts.reduce_prod(m, 2), { 6, 120 }, dt, tol)
      H.close(math.log(math.exp(1) + math.exp(2) + math.exp(3)),
        ts.reduce_logsumexp(m, 2):totable()[1], tol)
    end)
  end)

  it("takes options as a table and as methods, with sum/mean/max/min aliases", function()
    local m = ts.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    H.tensor(ts.reduce_sum(m, { axis = 2, keepdims = true }), { { 6 }, { 15 } })
    H.tensor(m:reduce_sum { axis = { 1, 2 } }, 21)
    H.tensor(m:sum(1), { 5, 7, 9 })
    H.tensor(m:mean(2), { 2, 5 })
    H.tensor(m:max(1), { 4, 5, 6 })
    H.close(1, m:min():item())
    assert.are.same({ 1, 1 }, m:sum(nil, true).shape)
    assert.are.same({ 1, 1 }, m:sum { keepdims = true }.shape)
    H.close(21, m:sum():item())
  end)

  it("an empty axis list reduces nothing; a positional {} is an error", function()
    local m = ts.tensor { { 1, 2 }, { 3, 4 } }
    local g = ts.Graph()
    local p = ts.placeholder { graph = g, shape = { 2, 2 } }
    for _, name in ipairs { "reduce_sum", "reduce_mean", "reduce_max", "reduce_min",
                            "reduce_prod", "reduce_logsumexp" } do
      local r = ts[name](m, { axis = {} })
      assert.are.same({ 2, 2 }, r.shape)
      H.tensor(r, { { 1, 2 }, { 3, 4 } }) -- the logsumexp of one element is itself
      H.tensor(ts[name](m, { axis = {}, keepdims = true }), { { 1, 2 }, { 3, 4 } })
      -- {} alone was "no options" (every axis) here but "no axes" inside {axis = {}}
      H.fails(function() ts[name](m, {}) end, name .. ": {} is ambiguous")
      H.fails(function() ts[name](p, {}, true) end, name .. ": {} is ambiguous")
    end
  end)

  it("sums long rows and wide columns (fast paths) exactly", function()
    each_float(function(dt)
      local n = 1000
      local t = ts.ones({ 3, n }, dt)
      H.tensor(t:sum(2), { n, n, n }, dt, 0)
      local c = ts.ones({ 7, 600 }, dt):sum(1):totable()
      assert.are.equal(600, #c)
      for i = 1, 600 do assert.are.equal(7, c[i]) end
      H.close(3 * n, t:sum():item(), 0)
      H.close(1, ts.ones({ 5, 300, 2 }, dt):mean { axis = { 1, 3 } }:totable()[300], 0)
    end)
  end)

  it("handles size-1 axes", function()
    local t = ts.tensor { { { 1, 2, 3 } } } -- [1, 1, 3]
    H.tensor(t:sum(1), { { 1, 2, 3 } })
    H.tensor(t:sum { 1, 2 }, { 1, 2, 3 })
    H.tensor(t:sum(3), { { 6 } })
    H.tensor(t:max { 2, 3 }, { 3 })
    H.tensor(t:reduce_prod(), 6)
  end)

  it("reduces a scalar to itself and uint8 comparisons with max and min", function()
    local s = ts.tensor(5)
    H.tensor(s:sum(), 5)
    assert.are.same({}, s:max(nil, true).shape)
    H.fails(function() return s:sum(1) end, "reduce_sum: axis 1 is out of range for rank 0")
    local c = ts.greater(ts.tensor { { 1, 2 }, { 3, 4 } }, 2)
    H.tensor(c:max(2), { 0, 1 }, "uint8", 0)
    H.tensor(c:min(), 0, "uint8", 0)
    H.fails(function() return c:sum() end, "reduce_sum does not support dtype uint8")
  end)

  it("reduces int64 with sum, max, min and prod", function()
    local t = ts.tensor({ { 1, -2, 3 }, { 4, 5, 6 } }, "int64")
    H.tensor(t:sum(), 17, "int64", 0)
    H.tensor(t:sum(1), { 5, 3, 9 }, "int64", 0)
    H.tensor(t:max(2), { 3, 6 }, "int64", 0)
    H.tensor(t:min(), -2, "int64", 0)
    H.tensor(t:reduce_prod(2), { -6, 120 }, "int64", 0)
  end)

  it("mean and logsumexp of int64 say to cast", function()
    local t = ts.tensor({ 1, 2 }, "int64")
    H.fails(function() return t:mean() end, "reduce_mean does not support dtype int64 (use cast")
    H.fails(function() return t:reduce_logsumexp() end, "reduce_logsumexp does not support dtype int64")
  end)

  it("logsumexp is stable", function()
    each_float(function(dt, tol)
      H.close(1000 + math.log(2), ts.reduce_logsumexp(ts.tensor({ 1000, 1000 }, dt)):item(), tol)
      H.close(-1000 + math.log(2), ts.reduce_logsumexp(ts.tensor({ -1000, -1000 }, dt)):item(), tol)
      H.tensor(ts.reduce_logsumexp(ts.tensor({ { 1000, 0 }, { -1000, -1000 } }, dt), 2),
        { 1000, -1000 + math.log(2) }, dt, tol)
      local ni = ts.reduce_logsumexp(ts.tensor({ -math.huge, -math.huge }, dt)):item()
      assert.are.equal(-math.huge, ni)
      assert.are.equal(math.huge, ts.reduce_logsumexp(ts.tensor({ math.huge, 1 }, dt)):item())
    end)
  end)

  it("max and min propagate NaN", function()
    local t = ts.tensor { 1, 0 / 0, 3 }
    local v = t:max():item()
    assert.is_true(v ~= v)
    v = t:min():item()
    assert.is_true(v ~= v)
    local long = {}
    for i = 1, 37 do long[i] = i end
    long[13] = 0 / 0
    for _, f in ipairs { "max", "min", "sum", "reduce_logsumexp" } do
      v = ts.tensor(long)[f](ts.tensor(long)):item()
      assert.is_true(v ~= v, f)
    end
  end)

  it("max and min along rows of 1-40: the extreme at every position, NaN at every position", function()
    -- the lanes' vector loop (8 lanes, a tail) for every dtype that has one
    for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
      for R = 1, 40 do
        local rows, nanrows = {}, {}
        for p = 1, R do -- row p: its maximum at p, its minimum at R + 1 - p
          local r = {}
          for j = 1, R do r[j] = 50 + (j * 7) % 13 end
          r[p], r[R + 1 - p] = 100, 10
          if p == R + 1 - p then r[p] = 100 end
          rows[p] = r
          if dt:sub(1, 5) == "float" then
            local n = {}
            for j = 1, R do n[j] = r[j] end
            n[p] = 0 / 0
            nanrows[p] = n
          end
        end
        local mx = ts.reduce_max(ts.tensor(rows, dt), 2):totable()
        local mn = ts.reduce_min(ts.tensor(rows, dt), 2):totable()
        for p = 1, R do
          local hi, lo = math.max(table.unpack(rows[p])), math.min(table.unpack(rows[p]))
          assert(mx[p] == hi, ("%s max of row %d of %d: %s, want %s"):format(dt, p, R, tostring(mx[p]), hi))
          assert(mn[p] == lo, ("%s min of row %d of %d: %s, want %s"):format(dt, p, R, tostring(mn[p]), lo))
        end
        if #nanrows > 0 then
          for _, op in ipairs { "reduce_max", "reduce_min" } do
            for p, v in ipairs(ts[op](ts.tensor(nanrows, dt), 2):totable()) do
              assert(v ~= v, ("%s %s with NaN at %d of %d: %s"):format(dt, op, p, R, tostring(v)))
            end
          end
        end
      end
    end
  end)

  it("long rows with infinities (accumulator lanes)", function()
    local long = {}
    for i = 1, 37 do long[i] = -math.huge end
    long[20] = 5
    H.close(5, ts.reduce_logsumexp(ts.tensor(long)):item(), 0)
    H.close(5, ts.reduce_max(ts.tensor(long)):item(), 0)
    long[30] = math.huge
    assert.are.equal(math.huge, ts.reduce_logsumexp(ts.tensor(long)):item())
    assert.are.equal(math.huge, ts.reduce_max(ts.tensor(long)):item())
    local big = {}
    for i = 1, 40 do big[i] = 1000 + (i % 2) end
    H.close(1000 + math.log(20 + 20 * math.exp(1)), ts.reduce_logsumexp(ts.tensor(big)):item(), 1e-12)
  end)

  describe("of empty tensors", function()
    it("sum is 0, prod is 1, mean is nan, logsumexp is -inf", function()
      each_float(function(dt)
        local z = ts.zeros({ 0, 3 }, dt)
        H.close(0, z:sum():item())
        H.tensor(z:sum(1), { 0, 0, 0 }, dt, 0)
        assert.are.same({ 0 }, z:sum(2).shape)
        assert.are.same({ 0, 1 }, z:sum(2, true).shape)
        H.tensor(z:reduce_prod(1), { 1, 1, 1 }, dt, 0)
        local m = z:mean():item()
        assert.is_true(m ~= m)
        assert.are.equal(-math.huge, z:reduce_logsumexp():item())
        -- max over the non-empty axis of an empty tensor is an empty tensor
        assert.are.same({ 0 }, z:max(2).shape)
      end)
    end)

    it("max and min of an empty axis are errors naming the op", function()
      local z = ts.zeros { 0, 3 }
      H.fails(function() return z:max() end, "reduce_max: cannot reduce an empty axis 1 of shape [0, 3]")
      H.fails(function() return z:min(1) end, "reduce_min: cannot reduce an empty axis 1")
      H.fails(function() return ts.argmax(z) end, "argmax: cannot reduce an empty axis 1")
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, shape = { -1, 3 } }
      local y = ts.reduce_max(x, { axis = 1, name = "mx" })
      H.fails(function() return run(g, y, { [x] = ts.zeros { 0, 3 } }) end,
        "reduce_max 'mx': cannot reduce an empty axis 1 of shape [0, 3]")
    end)
  end)

  describe("in graphs", function()
    it("infers shapes with unknown dims and runs them", function()
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, dtype = "float32", shape = { -1, 3 } }
      local s = ts.reduce_sum(x, 2)
      assert.are.same({ -1 }, s.shape)
      assert.are.equal("float32", s.dtype)
      local m = x:mean(1, true)
      assert.are.same({ 1, 3 }, m.shape)
      assert.are.same({}, x:max().shape)
      local r = run(g, { s, m }, { [x] = { { 1, 2, 3 }, { 4, 5, 6 } } })
      H.tensor(r[1], { 6, 15 }, "float32", 0)
      H.tensor(r[2], { { 2.5, 3.5, 4.5 } }, "float32", 0)
      local a = ts.argmax(x, 2)
      assert.are.same({ -1 }, a.shape)
      assert.are.equal("int64", a.dtype)
      H.tensor(run(g, a, { [x] = { { 1, 9, 3 }, { 7, 5, 6 } } }), { 2, 1 }, "int64", 0)
    end)

    it("an unknown rank gives an unknown rank", function()
      local g = ts.Graph()
      local x = ts.placeholder { graph = g }
      local s = ts.reduce_sum(x, -1)
      assert.is_nil(s.shape)
      H.tensor(run(g, s, { [x] = { { 1, 2 }, { 3, 4 } } }), { 3, 7 })
      H.tensor(run(g, s, { [x] = { 1, 2, 3 } }), 6)
      H.fails(function() return run(g, s, { [x] = 5 }) end, "axis -1 is out of range for rank 0")
    end)

    it("names the node when the axis is bad", function()
      local g = ts.Graph()
      local x = ts.placeholder { graph = g, shape = { 2, 3 } }
      H.fails(function() return ts.reduce_sum(x, 3, { name = "s" }) end,
        "reduce_sum 's': axis 3 is out of range for rank 2 (input shape [2, 3])")
      H.fails(function() return ts.reduce_mean(x, { -3 }) end, "reduce_mean: axis -3 is out of range")
    end)
  end)

  describe("errors", function()
    local m = ts.zeros { 2, 3 }
    it("bad axes", function()
      H.fails(function() return m:sum(3) end, "reduce_sum: axis 3 is out of range for rank 2")
      H.fails(function() return m:sum(0) end, "axis 0 is not valid")
      H.fails(function() return m:sum { 1, 1 } end, "reduce_sum: axis 1 is given twice")
      H.fails(function() return m:sum { 1, -2 } end, "axis 1 is given twice")
      H.fails(function() return m:sum(1.5) end, "reduce_sum: axis must be an integer")
      H.fails(function() return m:sum { axis = "x" } end, "reduce_sum: axis must be an integer")
    end)
  end)
end)

describe("argmax and argmin", function()
  it("return 1-based int64 indices along one axis, first occurrence on ties", function()
    for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
      local m = ts.tensor({ { 1, 9, 3 }, { 7, 5, 7 } }, dt)
      H.tensor(ts.argmax(m, 2), { 2, 1 }, "int64", 0)
      H.tensor(ts.argmin(m, 2), { 1, 2 }, "int64", 0)
      H.tensor(m:argmax(1), { 2, 1, 2 }, "int64", 0)
      H.tensor(m:argmin(-2), { 1, 2, 1 }, "int64", 0)
      H.tensor(m:argmax(), { 2, 1, 2 }, "int64", 0) -- default: the first axis
      H.tensor(m:argmax(2, true), { { 2 }, { 1 } }, "int64", 0)
      H.tensor(m:argmax { axis = -1, keepdims = true }, { { 2 }, { 1 } }, "int64", 0)
    end
  end)

  it("works on a rank-3 middle axis and on vectors", function()
    local t = ts.tensor { { { 1, 8 }, { 5, 2 }, { 3, 4 } } } -- [1, 3, 2]
    H.tensor(t:argmax(2), { { 2, 1 } }, "int64", 0)
    H.tensor(t:argmin(2), { { 1, 2 } }, "int64", 0)
    H.tensor(ts.argmax(ts.tensor { 3, 1, 4, 1, 5 }), 5, "int64", 0)
  end)

  it("takes exactly one axis and no scalar", function()
    local m = ts.zeros { 2, 2 }
    H.fails(function() return m:argmax { 1, 2 } end, "argmax takes exactly one axis, got 2")
    H.fails(function() return m:argmin(3) end,
      "argmin: axis 3 is out of range for rank 2 (input shape [2, 2])")
    H.fails(function() return ts.argmin(ts.tensor(1)) end, "argmin: the input is a scalar")
  end)
end)
