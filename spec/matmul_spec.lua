local ts = require "tensorslow"
local H = require "helpers"
local both = H.both

local FLOATS = H.FLOATS

local A = { { 1, 2 }, { 3, 4 } }
local B = { { 5, 6 }, { 7, 8 } }
local I = { { 1, 0 }, { 0, 1 } }
local A2 = { { 2, 4 }, { 6, 8 } }
local X = { { 1, 2, 3 }, { 4, 5, 6 } }

for dt, tol in pairs(FLOATS) do
  describe("matmul (" .. dt .. ")", function()
    local a, b, x = ts.tensor(A, dt), ts.tensor(B, dt), ts.tensor(X, dt)
    local mm = function(p, q, o) return ts.matmul(p, q, o) end

    it("multiplies 2-D operands with each transpose flag", function()
      both(function(p, q) return mm(p, q) end, { a, b }, { { 19, 22 }, { 43, 50 } }, { 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q, { transpose_a = true }) end, { a, b },
        { { 26, 30 }, { 38, 44 } }, { 2, 2 }, dt, tol)
      both(function(p, q) return p:matmul(q, { transpose_b = true }) end, { a, b },
        { { 17, 23 }, { 39, 53 } }, { 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q, { transpose_a = true, transpose_b = true }) end, { a, b },
        { { 23, 31 }, { 34, 46 } }, { 2, 2 }, dt, tol)
    end)

    it("uses the transposed shapes of non-square operands", function()
      both(function(p) return mm(p, p, { transpose_a = true }) end, { x },
        { { 17, 22, 27 }, { 22, 29, 36 }, { 27, 36, 45 } }, { 3, 3 }, dt, tol)
      both(function(p) return mm(p, p, { transpose_b = true }) end, { x }, { { 14, 32 }, { 32, 77 } },
        { 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { x, ts.tensor({ { 1 }, { 0 }, { -1 } }, dt) },
        { { -2 }, { -2 } }, { 2, 1 }, dt, tol)
    end)

    it("multiplies matrices and vectors", function()
      local v = ts.tensor({ 1, 1 }, dt)
      both(function(p, q) return mm(p, q) end, { a, v }, { 3, 7 }, { 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { v, a }, { 4, 6 }, { 2 }, dt, tol)
      both(function(p, q) return mm(p, q, { transpose_a = true }) end, { a, v }, { 4, 6 }, { 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { v, v }, 2, {}, dt, tol)
    end)

    it("batches 3-D operands, with a shared 2-D operand on either side", function()
      local a3 = ts.tensor({ A, A2 }, dt)
      local b3 = ts.tensor({ B, I }, dt)
      both(function(p, q) return mm(p, q) end, { a3, b },
        { { { 19, 22 }, { 43, 50 } }, { { 38, 44 }, { 86, 100 } } }, { 2, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { a3, b3 },
        { { { 19, 22 }, { 43, 50 } }, A2 }, { 2, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { a, b3 }, { { { 19, 22 }, { 43, 50 } }, A },
        { 2, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q, { transpose_a = true }) end, { a3, b },
        { { { 26, 30 }, { 38, 44 } }, { { 52, 60 }, { 76, 88 } } }, { 2, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q, { transpose_b = true }) end, { a3, b3 },
        { { { 17, 23 }, { 39, 53 } }, A2 }, { 2, 2, 2 }, dt, tol)
      -- [2, 2, 3] x [3] -> [2, 2]
      both(function(p, q) return mm(p, q) end, { ts.tensor({ X, X }, dt), ts.tensor({ 1, 0, 1 }, dt) },
        { { 4, 10 }, { 4, 10 } }, { 2, 2 }, dt, tol)
    end)

    it("handles empty operands", function()
      both(function(p, q) return mm(p, q) end, { ts.zeros({ 0, 2 }, dt), b }, {}, { 0, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { ts.zeros({ 2, 0 }, dt), ts.zeros({ 0, 3 }, dt) },
        { { 0, 0, 0 }, { 0, 0, 0 } }, { 2, 3 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { ts.zeros({ 0, 2, 2 }, dt), b }, {}, { 0, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { a, ts.zeros({ 0, 2, 2 }, dt) }, {}, { 0, 2, 2 }, dt, tol)
      both(function(p, q) return mm(p, q) end, { ts.zeros({ 0, 2, 3 }, dt), ts.zeros({ 0, 3, 1 }, dt) }, {},
        { 0, 2, 1 }, dt, tol)
      H.fails(function() mm(ts.zeros({ 0, 2, 2 }, dt), ts.zeros({ 3, 2, 2 }, dt)) end, "batch sizes differ")
    end)

    it("reports mismatched shapes naming the op and both shapes", function()
      H.fails(function() mm(x, x) end, "inner dimensions do not match: [2, 3] times [2, 3]")
      H.fails(function() mm(x, x, { transpose_a = true, transpose_b = true }) end,
        "[2, 3] transposed times [2, 3] transposed")
      H.fails(function() mm(ts.zeros({ 2, 2, 2 }, dt), ts.zeros({ 3, 2, 2 }, dt)) end,
        "batch sizes differ: [2, 2, 2] and [3, 2, 2]")
      H.fails(function() mm(ts.zeros({ 1, 1, 1, 1 }, dt), a) end, "rank 1, 2 or 3")
      local g = ts.Graph()
      local p = ts.placeholder { graph = g, dtype = dt, shape = { -1, 3 } }
      H.fails(function() ts.matmul(p, a, { name = "mm" }) end, "matmul 'mm': inner dimensions")
      local pb = ts.placeholder { graph = g, dtype = dt, shape = { -1, 2, 2 } }
      assert.are.same({ -1, 2, 2 }, ts.matmul(pb, a).shape)
      assert.are.same({ -1, 2, 2 }, ts.matmul(a, pb).shape)
      local q = ts.placeholder { graph = g, dtype = dt }
      local y = ts.matmul(q, a, { name = "late" })
      local sess <close> = ts.Session(g)
      H.fails(function() sess:run(y, { [q] = x }) end, "matmul 'late': inner dimensions do not match")
    end)
  end)
end

describe("matmul dtypes", function()
  it("refuses integers with a hint and mixed float dtypes", function()
    H.fails(function() ts.matmul(ts.tensor({ { 1 } }, "int64"), ts.tensor({ { 1 } }, "int64")) end,
      "use cast to float32 or float64")
    H.fails(function() ts.matmul(ts.tensor({ { 1 } }, "float32"), ts.tensor { { 1 } }) end,
      "dtypes float32 and float64 do not match")
  end)
end)

describe("matmul through BLAS (products above the small-size loop)", function()
  local function naive(a, b, ta, tb)
    local AT, BT = a:totable(), b:totable()
    local m = ta and #AT[1] or #AT
    local k = ta and #AT or #AT[1]
    local n = tb and #BT or #BT[1]
    local C = {}
    for i = 1, m do
      C[i] = {}
      for j = 1, n do
        local s = 0
        for p = 1, k do
          s = s + (ta and AT[p][i] or AT[i][p]) * (tb and BT[j][p] or BT[p][j])
        end
        C[i][j] = s
      end
    end
    return C
  end

  for _, dt in ipairs { "float64", "float32" } do
    it("agrees with a plain product in " .. dt .. " with every transpose", function()
      ts.seed(3)
      local tol = dt == "float64" and 1e-12 or 1e-4
      for _, flags in ipairs { { false, false }, { true, false }, { false, true }, { true, true } } do
        local ta, tb = flags[1], flags[2]
        local a = ts.randn(ta and { 40, 30 } or { 30, 40 }, dt)
        local b = ts.randn(tb and { 50, 40 } or { 40, 50 }, dt)
        local c = ts.matmul(a, b, { transpose_a = ta, transpose_b = tb })
        assert.are.same({ 30, 50 }, c.shape)
        H.close(naive(a, b, ta, tb), c:totable(), tol)
      end
    end)
  end

  it("matrix times a long vector", function()
    local a = ts.ones { 100, 100 }
    local v = ts.arange(100)
    local r = a:matmul(v)
    assert.are.same({ 100 }, r.shape)
    assert.are.equal(4950, r:get(1))
    assert.are.equal(4950, r:get(100))
  end)
end)

describe("small products (the plain-loop paths)", function()
  -- every transpose combination, 1 to 6 columns, short and long inner dimension
  local function ref(a, b, ta, tb)
    local at, bt = a:totable(), b:totable()
    local function av(i, p) return ta and at[p][i] or at[i][p] end
    local function bv(p, j) return tb and bt[j][p] or bt[p][j] end
    local m = ta and #at[1] or #at
    local k = ta and #at or #at[1]
    local n = tb and #bt or #bt[1]
    local c = {}
    for i = 1, m do
      c[i] = {}
      for j = 1, n do
        local s = 0
        for p = 1, k do s = s + av(i, p) * bv(p, j) end
        c[i][j] = s
      end
    end
    return c
  end
  it("agree with a plain Lua loop", function()
    ts.seed(3)
    for _, dt in ipairs { "float64", "float32" } do
      local sizes = { { 7, 1, 3 }, { 5, 2, 2 }, { 3, 3, 40 }, { 2, 4, 100 }, { 4, 5, 6 }, { 9, 6, 1 } }
      -- every inner dimension and column count up to 4 (both unrolled: 100x2 by 2x2)
      for k = 1, 4 do
        for n = 1, 4 do sizes[#sizes + 1] = { ({ 1, 3, 8, 13 })[(k + n) % 4 + 1], n, k } end
      end
      -- up to 4 rows and columns with a long inner dimension (a gradient's 2x100 by 100x2:
      -- one pass over k with every sum in registers)
      for m = 1, 4 do
        for n = 1, 4 do sizes[#sizes + 1] = { m, n, ({ 5, 17, 100, 33 })[(m * n) % 4 + 1] } end
      end
      for _, mnk in ipairs(sizes) do
        local m, n, k = mnk[1], mnk[2], mnk[3]
        for _, ta in ipairs { false, true } do
          for _, tb in ipairs { false, true } do
            local a = ts.randn(ta and { k, m } or { m, k }, dt)
            local b = ts.randn(tb and { n, k } or { k, n }, dt)
            local got = ts.matmul(a, b, { transpose_a = ta, transpose_b = tb })
            assert.are.same({ m, n }, got.shape)
            H.close(ref(a, b, ta, tb), got:totable(), FLOATS[dt] * k)
          end
        end
      end
    end
  end)
end)

-- Products large enough to be split over threads (rows of C, or its columns when it has
-- few rows), each part a single-threaded BLAS call: every transpose flag and split agrees
-- with a float64 product computed in Lua.
describe("matmul split over threads, and row/column products", function()
  -- element (i, j) of op(a) op(b), summed in Lua in float64
  local function entry(at, bt, ta, tb, k, i, j)
    local s = 0
    for p = 1, k do
      s = s + (ta and at[p][i] or at[i][p]) * (tb and bt[j][p] or bt[p][j])
    end
    return s
  end
  local saved
  before_each(function() saved = ts.get_num_threads() end)
  after_each(function() ts.set_num_threads(saved) end)
  -- {m, n, k}: rows split (m large), columns split (m small, n large); a row or a column
  -- times a matrix (batch-1 inference: gemv), split by parts of the result from 512 KiB of
  -- matrix up (a part a multiple of 16 elements, the last one short: 257, 331)
  for _, s in ipairs { { 130, 97, 400 }, { 5, 1500, 600 }, { 1, 300, 200 }, { 300, 1, 200 },
    { 1, 10, 256 }, { 1, 257, 520 }, { 331, 1, 420 } } do
    local m, n, k = s[1], s[2], s[3]
    for _, dt in ipairs { "float32", "float64" } do
      it(("%dx%dx%d %s, 1 to 3 threads, every transpose flag"):format(m, n, k, dt), function()
        ts.seed(7)
        for _, f in ipairs { { false, false }, { true, false }, { false, true }, { true, true } } do
          local ta, tb = f[1], f[2]
          local a = ts.randn(ta and { k, m } or { m, k }, dt)
          local b = ts.randn(tb and { n, k } or { k, n }, dt)
          local at, bt = a:totable(), b:totable()
          for threads = 1, 3 do
            ts.set_num_threads(threads)
            local c = ts.matmul(a, b, { transpose_a = ta, transpose_b = tb })
            assert.same({ m, n }, c.shape)
            local worst = 0
            for i = 1, m, 7 do
              for j = 1, n, 3 do
                local w = entry(at, bt, ta, tb, k, i, j)
                local d = math.abs(c:get(i, j) - w) / (1 + math.abs(w))
                if d > worst then worst = d end
              end
            end
            assert.is_true(worst < (dt == "float32" and 1e-4 or 1e-12),
              ("ta=%s tb=%s threads=%d: relative error %g"):format(ta, tb, threads, worst))
          end
        end
      end)
    end
  end
  it("a vector times a matrix of 512 KiB and more, and a matrix times a vector, 1 to 3 threads",
    function()
      ts.seed(11)
      for _, dt in ipairs { "float32", "float64" } do
        local k, n = 700, 333
        local v, w = ts.randn({ k }, dt), ts.randn({ n }, dt)
        local M = ts.randn({ k, n }, dt)
        local vt, wt, Mt = v:totable(), w:totable(), M:totable()
        for threads = 1, 3 do
          ts.set_num_threads(threads)
          local r, c = ts.matmul(v, M), ts.matmul(M, w)
          assert.same({ n }, r.shape)
          assert.same({ k }, c.shape)
          local worst = 0
          for j = 1, n, 5 do
            local e = 0
            for p = 1, k do e = e + vt[p] * Mt[p][j] end
            worst = math.max(worst, math.abs(r:get(j) - e) / (1 + math.abs(e)))
          end
          for i = 1, k, 5 do
            local e = 0
            for p = 1, n do e = e + Mt[i][p] * wt[p] end
            worst = math.max(worst, math.abs(c:get(i) - e) / (1 + math.abs(e)))
          end
          assert.is_true(worst < (dt == "float32" and 1e-4 or 1e-12),
            ("%s threads=%d: relative error %g"):format(dt, threads, worst))
        end
      end
    end)
end)
