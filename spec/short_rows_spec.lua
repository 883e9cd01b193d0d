-- Binary element-wise kernels and reductions on their short paths: up to 4 elements (no broadcast walk)
-- and 2-D results with rows shorter than 8 (a bias on 100x2: plain loops instead of a
-- vector set-up per row). Random shapes, each side broadcast or not along each axis, every
-- dtype, compared element by element with the same arithmetic done in Lua.
local ts = require "tensorslow"

local function rnd_value(dt)
  if dt == "int64" then return math.random(-9, 9) end
  if dt == "uint8" then return math.random(0, 12) end
  return (math.random() - 0.5) * 8
end

local function make(shape, dt)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local flat = {}
  for i = 1, n do flat[i] = rnd_value(dt) end
  return ts.tensor(flat, dt):reshape(shape), flat
end

-- element (r, c) (1-based) of a tensor of shape s broadcast to rows x cols
local function at(flat, s, r, c)
  if #s == 1 then return flat[s[1] == 1 and 1 or c] end
  return flat[((s[1] == 1 and 1 or r) - 1) * s[2] + (s[2] == 1 and 1 or c)]
end

local function f32(v) return string.unpack("f", string.pack("f", v)) end

local OPS = {
  { "add", function(x, y) return x + y end },
  { "subtract", function(x, y) return x - y end },
  { "multiply", function(x, y) return x * y end },
  { "maximum", function(x, y) return math.max(x, y) end },
  { "minimum", function(x, y) return math.min(x, y) end },
  { "less", function(x, y) return x < y and 1 or 0 end, true },
  { "equal", function(x, y) return x == y and 1 or 0 end, true },
}

describe("binary kernels on short rows", function()
  for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
    it(dt .. ": 300 random 2-D and tiny cases against Lua arithmetic", function()
      math.randomseed(20261130)
      for case = 1, 300 do
        local rows, cols = math.random(1, 40), math.random(1, 7)
        if case % 5 == 0 then rows, cols = 1, math.random(1, 4) end -- a few elements
        local sa = { math.random() < 0.3 and 1 or rows, math.random() < 0.3 and 1 or cols }
        local sb = { math.random() < 0.3 and 1 or rows, math.random() < 0.3 and 1 or cols }
        if math.random() < 0.2 then sb = { sb[2] } end -- a row vector against a matrix
        sa[1], sb[#sb] = rows, cols                     -- the result is rows x cols
        local a, fa = make(sa, dt)
        local b, fb = make(sb, dt)
        -- uint8 has no arithmetic (add, subtract, multiply): the last four ops only
        local op = dt == "uint8" and OPS[case % 4 + 4] or OPS[case % #OPS + 1]
        do
          local r = ts[op[1]](a, b)
          assert.same({ rows, cols }, r.shape)
          assert.equal(op[3] and "uint8" or dt, r.dtype)
          for i = 1, rows do
            for j = 1, cols do
              local x, y = at(fa, sa, i, j), at(fb, sb, i, j)
              if dt == "float32" then x, y = f32(x), f32(y) end
              local want = op[2](x, y)
              if dt == "float32" and not op[3] then want = f32(want) end
              local got = r:get(i, j)
              if got ~= want then
                error(("%s %s case %d: a %s, b %s: (%d, %d) is %s, want %s"):format(dt, op[1],
                  case, table.concat(sa, "x"), table.concat(sb, "x"), i, j, got, want))
              end
            end
          end
        end
      end
    end)
  end
end)

-- A row against whole rows (a bias on 100x2), long enough that the row is repeated into a
-- tile and the rows run as one flat loop: every row length 1..7, row counts around the
-- tile's size (whole tiles, a partial last one), the row on either side.
describe("binary kernels: a short row against many rows", function()
  for _, dt in ipairs { "float64", "float32", "int64", "uint8" } do
    it(dt, function()
      math.randomseed(41)
      local n = 0
      for cols = 1, 7 do
        local k = 32 // cols
        for _, rows in ipairs { 2 * k - 1, 2 * k, 2 * k + 1, 3 * k + 2, 100 } do
          for side = 1, 2 do
            local pick = rows + cols + side
            local op = dt == "uint8" and OPS[pick % 4 + 4] or OPS[pick % #OPS + 1]
            local sfull, srow = { rows, cols }, (rows + side) % 2 == 0 and { cols } or { 1, cols }
            local full, ffull = make(sfull, dt)
            local row, frow = make(srow, dt)
            local a, b, sa, sb, fa, fb = full, row, sfull, srow, ffull, frow
            if side == 2 then a, b, sa, sb, fa, fb = row, full, srow, sfull, frow, ffull end
            local r = ts[op[1]](a, b)
            assert.same({ rows, cols }, r.shape)
            local got = r:reshape { rows * cols }:totable()
            for i = 1, rows do
              for j = 1, cols do
                local x, y = at(fa, sa, i, j), at(fb, sb, i, j)
                if dt == "float32" then x, y = f32(x), f32(y) end
                local want = op[2](x, y)
                if dt == "float32" and not op[3] then want = f32(want) end
                local g = got[(i - 1) * cols + j]
                if g ~= want then
                  error(("%s %s %dx%d side %d: (%d, %d) is %s, want %s"):format(dt, op[1], rows,
                    cols, side, i, j, g, want))
                end
                n = n + 1
              end
            end
          end
        end
      end
      assert.is_true(n > 5000)
    end)
  end
end)

-- Empty results of two dimensions: nothing to compute, however many rows (a row length of
-- 0 divided the tile's size: a division by zero trap; 2^63 - 1 rows of 0 looped for ever).
describe("binary kernels on empty rows", function()
  it("return empty results of the broadcast shape, even with 2^63 - 1 rows", function()
    local M = math.maxinteger
    local cases = { -- a, b, the result's shape
      { { 40, 0 }, { 0 }, { 40, 0 } }, { { 40, 0 }, { 1, 0 }, { 40, 0 } },
      { { 1, 0 }, { 40, 0 }, { 40, 0 } }, { { 40, 1 }, { 40, 0 }, { 40, 0 } },
      { { 0, 3 }, { 3 }, { 0, 3 } }, { { M, 0 }, { 1, 0 }, { M, 0 } }, { { 0 }, { M, 0 }, { M, 0 } },
    }
    for _, c in ipairs(cases) do
      local a, b = ts.zeros(c[1], "float32"), ts.zeros(c[2], "float32")
      for _, op in ipairs { "add", "less", "maximum" } do
        local r = ts[op](a, b)
        assert.same(c[3], r.shape)
        assert.equal(0, r:numel())
      end
    end
    local rows = ts.zeros({ 40, 0 }, "float64")
    assert.same({ 0 }, ts.reduce_sum(rows, 1).shape)
    assert.same({ 40 }, ts.reduce_sum(rows, 2).shape)
    assert.equal(0, ts.reduce_sum(rows, 2):get(40))
  end)
end)

-- Reductions and how Lua computes them: {name, step, initial value, finish: true for the
-- mean, "lse" for logsumexp}. Max and min let NaN win, as the kernels do.
local REDS = {
  { "reduce_sum", function(acc, v) return acc + v end, 0 },
  { "reduce_prod", function(acc, v) return acc * v end, 1 },
  { "reduce_max", function(acc, v) return (v > acc or v ~= v) and v or acc end, -math.huge },
  { "reduce_min", function(acc, v) return (v < acc or v ~= v) and v or acc end, math.huge },
  { "reduce_mean", function(acc, v) return acc + v end, 0, true },
  { "reduce_logsumexp", function(acc, v) return acc + math.exp(v) end, 0, "lse" },
}

-- Reduces flat (rows x cols, dtype dt) with red along axis (1: down the columns, -1: along
-- the rows) and compares every output with the same reduction in Lua.
local function check_reduction(red, flat, dt, rows, cols, axis)
  local got = ts[red[1]](ts.tensor(flat, dt):reshape { rows, cols }, axis):totable()
  local nout, nin = axis == 1 and cols or rows, axis == 1 and rows or cols
  assert.equal(nout, #got)
  for o = 1, nout do
    local acc = red[3]
    for i = 1, nin do
      local v = axis == 1 and flat[(i - 1) * cols + o] or flat[(o - 1) * cols + i]
      if dt == "float32" then v = f32(v) end
      acc = red[2](acc, v)
    end
    if red[4] == true then acc = acc / nin elseif red[4] == "lse" then acc = math.log(acc) end
    local g, ok = got[o]
    if acc ~= acc then ok = g ~= g
    elseif dt == "int64" then ok = g == acc
    else
      local tol = dt == "float32" and 1e-5 or 1e-12
      ok = math.abs(g - acc) <= tol * math.max(1, math.abs(acc))
    end
    assert(ok, ("%s %s %dx%d axis %d, output %d: %s, want %s"):format(dt, red[1], rows, cols,
      axis, o, g, acc))
  end
end

-- Random values for a reduction: small integers, values near 1 for products, NaN (or 7 for
-- int64) at one place for max and min.
local function red_values(ri, dt, n)
  local flat = {}
  for i = 1, n do
    flat[i] = dt == "int64" and math.random(-3, 3)
      or ri == 2 and 0.9 + math.random() * 0.2 or (math.random() - 0.5) * 4
  end
  if ri == 3 or ri == 4 then flat[math.random(n)] = dt ~= "int64" and 0 / 0 or 7 end
  return flat
end

-- Reductions over the first axis of [R, c] with c <= 16 columns (a bias gradient): a tile
-- of 32 // c rows at a time in one flat loop, the tile's rows combined at the end. Every
-- column count, row counts around the tile, every reduction, NaN for max and min.
describe("reductions over many short rows", function()
  for _, dt in ipairs { "float64", "float32", "int64" } do
    it(dt, function()
      math.randomseed(43)
      for cols = 2, 17 do
        local k = 32 // cols
        for _, rows in ipairs { 2 * k, 2 * k + 1, 3 * k - 1, 100 } do
          for ri, red in ipairs(REDS) do
            if dt ~= "int64" or ri <= 4 then
              check_reduction(red, red_values(ri, dt, rows * cols), dt, rows, cols, 1)
            end
          end
        end
      end
    end)
  end
end)

-- Reductions over the last axis of rows of 1 to 4 (a softmax gradient on 100x2): the row
-- length a constant in the kernel.
describe("reductions along rows of 1 to 4", function()
  for _, dt in ipairs { "float64", "float32", "int64" } do
    it(dt, function()
      math.randomseed(47)
      for len = 1, 4 do
        for _, rows in ipairs { 2, 3, 37, 100 } do
          for ri, red in ipairs(REDS) do
            if dt ~= "int64" or ri <= 4 then
              check_reduction(red, red_values(ri, dt, rows * len), dt, rows, len, -1)
            end
          end
        end
      end
    end)
  end
end)

-- softmax and log_softmax over rows of 1 to 15 (rows of 2, 3 and 4 have their own
-- unrolled path), blocks of rows crossing the kernel's 256-element block, with
-- -inf, NaN and large logits, against the same formula in Lua's doubles.
describe("softmax on short rows", function()
  local function ref_row(row, logsm)
    local m = -math.huge
    for _, v in ipairs(row) do if v > m then m = v end end
    if not (m > -math.huge) then m = 0 end -- luacheck: ignore 581 (NaN)
    local s = 0
    for _, v in ipairs(row) do s = s + math.exp(v - m) end
    local out = {}
    for k, v in ipairs(row) do out[k] = logsm and (v - m) - math.log(s) or math.exp(v - m) / s end
    return out
  end
  for _, dt in ipairs { "float64", "float32" } do
    for _, logsm in ipairs { false, true } do
      local name = logsm and "log_softmax" or "softmax"
      it(("%s %s"):format(name, dt), function()
        math.randomseed(7)
        for len = 1, 15 do
          local rows = math.random(1, 300)
          local flat = {}
          for i = 1, rows * len do
            local u = math.random()
            flat[i] = u < 0.03 and -math.huge or u < 0.05 and 0 / 0
              or u < 0.1 and (math.random() - 0.5) * 2000 or (math.random() - 0.5) * 12
          end
          local x = ts.tensor(flat, dt):reshape { rows, len }
          local xin = x:reshape { rows * len }:totable()
          local got = ts[name](x):reshape { rows * len }:totable()
          local tol = dt == "float32" and 2e-6 or 1e-14
          for r = 1, rows do
            local row = table.move(xin, (r - 1) * len + 1, r * len, 1, {})
            local want = ref_row(row, logsm)
            for k = 1, len do
              local g, w = got[(r - 1) * len + k], want[k]
              local ok
              if w ~= w then ok = g ~= g
              elseif w == -math.huge or w == math.huge then ok = g == w
              else ok = math.abs(g - w) <= tol * math.max(1, math.abs(w)) end
              assert(ok, ("%s %s len %d row %d col %d: %s, want %s"):format(name, dt, len, r, k, g, w))
            end
          end
        end
      end)
    end
  end
end)
