-- Matrix products at the edges of the product kernels' blocks (src/gemm512.c on a CPU with
-- AVX-512, OpenBLAS elsewhere): rows around the 6-row blocks, columns around the 16- and
-- 64-column panels (8 and 32 in float64), inner sizes around the 64 and 512 blocks, every
-- transpose flag. Inputs are small integers, so every sum is exact in float32 and float64
-- and the results must equal the Lua reference exactly, whatever the order of the sums.
local ts = require "tensorslow"

local MS = { 5, 6, 7, 12, 13, 97 }
local NS = { 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129 }
local KS = { 1, 5, 63, 64, 65, 127, 511, 512, 513, 600 }

local function ints(rows, cols, rng)
  local t = {}
  for i = 1, rows do
    local r = {}
    for j = 1, cols do r[j] = rng(-4, 4) end
    t[i] = r
  end
  return t
end

local function transpose(a)
  local t = {}
  for j = 1, #a[1] do
    t[j] = {}
    for i = 1, #a do t[j][i] = a[i][j] end
  end
  return t
end

-- The reference: c[i][j] = sum_p a[i][p] * b[p][j] (a, b as the product sees them).
local function product(a, b)
  local m, k, n = #a, #b, #b[1]
  local c = {}
  for i = 1, m do
    local ai, ci = a[i], {}
    for j = 1, n do ci[j] = 0 end
    for p = 1, k do
      local x, bp = ai[p], b[p]
      if x ~= 0 then
        for j = 1, n do ci[j] = ci[j] + x * bp[j] end
      end
    end
    c[i] = ci
  end
  return c
end

local function first_difference(got, want)
  for i = 1, #want do
    for j = 1, #want[i] do
      if got[i][j] ~= want[i][j] then
        return ("[%d][%d]: got %s, want %s"):format(i, j, tostring(got[i][j]), tostring(want[i][j]))
      end
    end
  end
end

describe("matrix products at the kernels' block edges", function()
  for _, dt in ipairs { "float32", "float64" } do
    for _, threads in ipairs { 1, 2 } do
      it(("are exact for every transpose flag (%s, %d thread%s)"):format(dt, threads,
        threads > 1 and "s" or ""), function()
        local saved = ts.get_num_threads()
        ts.set_num_threads(threads)
        local rng = math.random
        math.randomseed(20261201 + threads + #dt)
        for case = 1, 40 do
          local m, n, k = MS[rng(#MS)], NS[rng(#NS)], KS[rng(#KS)]
          local ta, tb = rng(0, 1) == 1, rng(0, 1) == 1
          if case <= 4 then m, n, k = 97, 129, 600 end -- split over threads, every block size
          if case <= 4 then ta, tb = case % 2 == 0, case > 2 end
          local a, b = ints(m, k, rng), ints(k, n, rng)
          local want = product(a, b)
          local ta_ = ta and ts.tensor(transpose(a), dt) or ts.tensor(a, dt)
          local tb_ = tb and ts.tensor(transpose(b), dt) or ts.tensor(b, dt)
          local got = ts.matmul(ta_, tb_, { transpose_a = ta, transpose_b = tb })
          assert.are.same({ m, n }, got.shape)
          assert.are.equal(dt, got.dtype)
          local diff = first_difference(got:totable(), want)
          assert(diff == nil, ("m=%d n=%d k=%d ta=%s tb=%s %s"):format(m, n, k, tostring(ta),
            tostring(tb), tostring(diff)))
        end
        ts.set_num_threads(saved)
      end)
    end

    it("carries infinities and NaN to the rows and columns they reach (" .. dt .. ")", function()
      local m, n, k = 7, 33, 70
      local a, b = ints(m, k, math.random), ints(k, n, math.random)
      for p = 1, k do a[3][p] = 1 end
      a[3][5] = math.huge -- row 3 meets b's row 5
      for j = 1, n do b[5][j] = 1 end
      b[9][20] = 0 / 0 -- column 20 meets a's column 9
      for i = 1, m do a[i][9] = 1 end
      local got = ts.matmul(ts.tensor(a, dt), ts.tensor(b, dt)):totable()
      for i = 1, m do
        for j = 1, n do
          local v = got[i][j]
          if j == 20 then
            assert(v ~= v, ("[%d][20] should be NaN, is %s"):format(i, tostring(v)))
          elseif i == 3 then
            assert.are.equal(math.huge, v)
          else
            assert(v == v and v > -math.huge and v < math.huge, ("[%d][%d] = %s"):format(i, j, tostring(v)))
          end
        end
      end
    end)
  end
end)

-- Products of two columns (the tutorial's 100x2 by 2x2 and its gradients' 2x100 by 100x2) run
-- two rows at a time in vectors of 4: every row count and inner size around the pairs, each
-- transpose flag, integers (exact), reals (against the Lua sum) and the sign of zero.
describe("products with two columns", function()
  local dtype
  local function reals(rows, cols) -- values the dtype holds exactly
    local t = {}
    for i = 1, rows do
      t[i] = {}
      for j = 1, cols do
        local v = (math.random() - 0.5) * 6
        t[i][j] = dtype == "float32" and string.unpack("f", string.pack("f", v)) or v
      end
    end
    return t
  end
  local function check(a, b, ta, tb, dt, exact)
    local want = product(a, b)
    local ta_ = ta and ts.tensor(transpose(a), dt) or ts.tensor(a, dt)
    local tb_ = tb and ts.tensor(transpose(b), dt) or ts.tensor(b, dt)
    local got = ts.matmul(ta_, tb_, { transpose_a = ta, transpose_b = tb }):totable()
    -- rounding: at most k roundings of the sum of the terms' magnitudes
    local eps = exact and 0 or (dt == "float32" and 2 ^ -24 or 2 ^ -53) * (#b + 1)
    for i = 1, #want do
      for j = 1, #want[i] do
        local g, w, mag = got[i][j], want[i][j], 0
        for p = 1, #b do mag = mag + math.abs(a[i][p] * b[p][j]) end
        assert(math.abs(g - w) <= eps * mag,
          ("%s %dx%d by %dx%d ta=%s tb=%s [%d][%d]: got %s, want %s"):format(dt, #a, #a[1], #b,
            #b[1], tostring(ta), tostring(tb), i, j, tostring(g), tostring(w)))
      end
    end
  end
  for _, dt in ipairs { "float32", "float64" } do
    it(dt, function()
      math.randomseed(20261201)
      dtype = dt
      local sizes = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101 }
      for _, r in ipairs(sizes) do
        for _, exact in ipairs { true, false } do
          local gen = exact and function(x, y) return ints(x, y, math.random) end or reals
          for flags = 0, 3 do
            local ta, tb = flags % 2 == 1, flags >= 2
            check(gen(r, 2), gen(2, 2), ta, tb, dt, exact)      -- [r, 2] by [2, 2]
            check(gen(2, r), gen(r, 2), ta, tb, dt, exact)      -- [2, r] by [r, 2]
          end
        end
      end
      -- a product of only negative zeros sums to +0, as 0 + (-0) + (-0) does
      local z = ts.matmul(ts.tensor({ { -1, -1 }, { -1, -1 }, { -1, -1 } }, dt), ts.zeros({ 2, 2 }, dt))
      for _, row in ipairs(z:totable()) do
        for _, v in ipairs(row) do assert.are.equal(math.huge, 1 / v) end
      end
      local zt = ts.matmul(ts.tensor({ { -1, -1 }, { -1, -1 }, { -1, -1 } }, dt), ts.zeros({ 3, 2 }, dt),
        { transpose_a = true })
      for _, row in ipairs(zt:totable()) do
        for _, v in ipairs(row) do assert.are.equal(math.huge, 1 / v) end
      end
    end)
  end
end)

describe("ts.set_matmul_kernel", function()
  after_each(function() ts.set_matmul_kernel("auto") end)

  it("says which kernel runs, and switches to OpenBLAS and back", function()
    local own = ts.get_matmul_kernel()
    assert.is_true(own == "tensorslow" or own == "openblas")
    ts.set_matmul_kernel("openblas")
    assert.are.equal("openblas", ts.get_matmul_kernel())
    ts.set_matmul_kernel("auto")
    assert.are.equal(own, ts.get_matmul_kernel())
  end)

  it("gives exact products and the same convolutions either way", function()
    math.randomseed(5)
    for _, dt in ipairs { "float32", "float64" } do
      -- (1 x 784 by 784 x 256: a row times 800 KB of matrix, the split row-times-matrix path)
      for _, sz in ipairs { { 13, 65, 70 }, { 97, 33, 513 }, { 2, 2, 100 }, { 1, 256, 784 } } do
        local m, n, k = table.unpack(sz)
        local a, b = ints(m, k, math.random), ints(k, n, math.random)
        local want = product(a, b)
        for _, kern in ipairs { "auto", "openblas" } do
          ts.set_matmul_kernel(kern)
          local got = ts.matmul(ts.tensor(a, dt), ts.tensor(b, dt)):totable()
          local diff = first_difference(got, want)
          assert(diff == nil, ("%s %s %dx%dx%d: %s"):format(kern, dt, m, n, k, tostring(diff)))
        end
      end
    end
    local x = ts.randn({ 4, 9, 9, 8 }, "float32")
    local w = ts.randn({ 3, 3, 8, 16 }, "float32")
    ts.set_matmul_kernel("auto")
    local y1 = ts.nn.conv2d(x, w, { padding = "SAME" })
    ts.set_matmul_kernel("openblas")
    local y2 = ts.nn.conv2d(x, w, { padding = "SAME" })
    local d = ts.reduce_max(ts.abs(y1 - y2)):item()
    assert(d < 1e-4, "the two kernels' convolutions differ by " .. d)
  end)

  it("takes effect: the two kernels round a large float32 product differently", function()
    if ts.get_matmul_kernel() ~= "tensorslow" then return end -- one kernel only on this CPU
    local a, b = ts.randn({ 256, 512 }, "float32"), ts.randn({ 512, 256 }, "float32")
    local own = ts.matmul(a, b)
    ts.set_matmul_kernel("openblas")
    local blas = ts.matmul(a, b)
    local d = ts.reduce_max(ts.abs(own - blas)):item()
    assert(d > 0, "the products are bit for bit the same: the setting changed nothing")
    assert(d < 1e-3, "the two kernels differ by " .. d)
  end)

  it("names the allowed values", function()
    local ok, err = pcall(ts.set_matmul_kernel, "mkl")
    assert.is_false(ok)
    assert.truthy(err:find("set_matmul_kernel: 'mkl' is not one of 'auto', 'openblas'", 1, true), err)
    ok, err = pcall(ts.set_matmul_kernel)
    assert.is_false(ok)
    assert.truthy(err:find("string expected", 1, true), err)
  end)
end)

describe("OpenBLAS, once loaded", function()
  it("leaves no worker thread of its own in the process", function()
    -- a fresh process, so that this is the first product: the library loads OpenBLAS, which
    -- starts its workers; tensorslow runs it at one thread and stops them
    local script = [[
      local ts = require "tensorslow"
      ts.set_num_threads(1)
      local function threads() return io.open("/proc/self/status"):read("a"):match("Threads:%s*(%d+)") end
      local before = threads()
      local a = ts.randn({ 64, 64 })
      local y = ts.matmul(ts.randn({ 1, 64 }), a):matmul(a)
      io.write(before, " ", threads(), " ", y.shape[2])
    ]]
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q lua5.4 -e %q 2>&1"):format(package.path, package.cpath, script)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    local before, after, n = out:match("^(%d+) (%d+) (%d+)$")
    assert(before, "unexpected output: " .. out)
    assert.are.equal("64", n)
    assert.are.equal(before, after)
  end)
end)
