-- Values and gradients compared with PyTorch (reference values computed in
-- float64 by spec/fixtures/make_numerics.py and stored in spec/fixtures/), and
-- the wrong results that comparison found, each pinned by its own case.
local ts = require "tensorslow"
local H = require "helpers"

local FIX = "spec/fixtures/"

-- float32 values are rounded; tensorslow computes in float32, so a float32
-- case allows 1e-5 relative (the references are correctly rounded float64
-- results), a float64 case 1e-10.
local TOL = { float32 = 1e-5, float64 = 1e-10 }
-- Below these, values are compared absolutely: a float32 subnormal has few
-- significant bits.
local TINY = { float32 = 1e-43, float64 = 1e-300 }
local NORMAL = { float32 = 2 ^ -126, float64 = 2 ^ -1022 } -- the report leaves out subnormals

local function isnan(v) return v ~= v end

-- The largest finite |value| of arrays.
local function maxabs(...)
  local m = 0
  for _, a in ipairs { ... } do
    for _, r in ipairs(a) do
      if r == r and math.abs(r) ~= math.huge and math.abs(r) > m then m = math.abs(r) end
    end
  end
  return m
end

-- Compares arrays element-wise: NaN where the reference has NaN, the same
-- infinities, else |got - ref| <= tol * (|ref| + floor) + tiny. floor is 0
-- for element-wise functions (each value to tol), else the scale of the
-- terms the values are sums of (values of mixed sign cancel: softmax
-- gradients, cross-entropies): the largest |ref| of the array, or of the
-- upstream weights. Returns the worst error relative to |ref| + floor (of
-- normal numbers).
local function compare(what, ref, got, dtype, floor)
  assert(#ref == #got, ("%s: %d values, expected %d"):format(what, #got, #ref))
  local tol, tiny = TOL[dtype], TINY[dtype]
  local worst = 0
  for i, r in ipairs(ref) do
    local v = got[i]
    if isnan(r) or isnan(v) then
      if isnan(r) ~= isnan(v) then
        error(("%s[%d]: expected %.17g, got %.17g"):format(what, i, r, v), 0)
      end
    elseif math.abs(r) == math.huge or math.abs(v) == math.huge then
      if r ~= v then error(("%s[%d]: expected %.17g, got %.17g"):format(what, i, r, v), 0) end
    else
      local err = math.abs(v - r)
      if err > tol * (math.abs(r) + floor) + tiny then
        error(("%s[%d]: expected %.17g, got %.17g (error %.3g)"):format(what, i, r, v, err), 0)
      end
      local rel = err / (math.abs(r) + floor)
      if math.abs(r) + floor >= NORMAL[dtype] and rel > worst then worst = rel end
    end
  end
  return worst
end

local fixture = dofile(FIX .. "numerics.lua")
local data -- flat float64 values of numerics.npy

local function slice(ref)
  local t = {}
  for i = 1, ref[2] do t[i] = data[ref[1] + i - 1] end
  return t
end

local function tensor_of(ref, shape, dtype)
  return ts.tensor(slice(ref), dtype):reshape(shape)
end

local function flat(t)
  if t:dim() == 0 then return { t:item() } end
  return t:reshape({ t:numel() }):totable()
end

-- The tensorslow op of a case, applied to nodes.
local function build(c, ins)
  local op, at = c.op, c.attrs
  if c.kind == "reduce" then
    if at.axis == nil and not at.keepdims then return ts[op](ins[1]) end
    return ts[op](ins[1], { axis = at.axis, keepdims = at.keepdims })
  elseif op == "softmax" or op == "log_softmax" then
    return ts[op](ins[1], at.axis)
  elseif op:find("cross_entropy") then
    return ts[op] { labels = ins[1], logits = ins[2] }
  else
    return ts[op](ins[1])
  end
end

-- Runs one case (shapes known at build time, or not); returns its worst errors.
local function run_case(k, c, known)
  local g = ts.Graph()
  local phs, feed, diff = {}, {}, {}
  local sparse = c.op == "sparse_softmax_cross_entropy_with_logits"
  for i, inp in ipairs(c.inputs) do
    local dt = (sparse and i == 1) and "int64" or c.dtype
    local v = tensor_of(inp.x, inp.shape, "float64")
    if dt == "int64" then
      local vals = slice(inp.x)
      for j = 1, #vals do vals[j] = math.tointeger(vals[j]) end
      v = ts.tensor(vals, "int64"):reshape(inp.shape)
    else
      v = v:cast(dt)
    end
    phs[i] = ts.placeholder { graph = g, dtype = dt, shape = known and inp.shape or nil }
    feed[phs[i]] = v
    if inp.dx then diff[#diff + 1] = i end
  end
  local y = build(c, phs)
  local w = tensor_of(c.w, c.yshape, c.dtype)
  local xs = {}
  for j, i in ipairs(diff) do xs[j] = phs[i] end
  local dxs = ts.gradients(y, xs, { w })
  local fetch = { y }
  for j in ipairs(xs) do fetch[#fetch + 1] = dxs[j] or ts.zeros_like(xs[j]) end
  -- second derivatives: d sum(v * dx) / dx, as PyTorch's create_graph
  local second = {}
  for j, i in ipairs(diff) do
    local inp = c.inputs[i]
    if inp.ddx then
      local v = tensor_of(inp.v, inp.shape, c.dtype)
      local dd = dxs[j] and ts.gradients(dxs[j], { xs[j] }, { v })[1]
      second[#second + 1] = { i = i, at = #fetch + 1 }
      fetch[#fetch + 1] = dd or ts.zeros_like(xs[j])
    end
  end
  local sess <close> = ts.Session(g)
  local out = sess:run(fetch, feed)
  local name = ("case %d (%s %s, %s)"):format(k, c.op, c.dtype, known and "known shapes" or
    "shapes unknown at build time")
  assert.are.same(c.yshape, out[1].shape, name .. ": result shape")
  -- element-wise values to tol each; gelu' = Phi(x) + x phi(x) (terms up to
  -- about 1) has a root near x = -0.75 where it cancels, so it is scaled by w
  local scaled = c.kind ~= "unary"
  local yref, wref = slice(c.y), slice(c.w)
  local e = { y = compare(name .. " y", yref, flat(out[1]), c.dtype, scaled and maxabs(yref) or 0),
              dx = 0, ddx = 0 }
  for j, i in ipairs(diff) do
    local ref = slice(c.inputs[i].dx)
    local r = compare(("%s d/dinput%d"):format(name, i), ref, flat(out[1 + j]), c.dtype,
      (scaled or c.op == "gelu") and maxabs(ref, wref) or 0)
    if r > e.dx then e.dx = r end
  end
  for _, s in ipairs(second) do
    local inp = c.inputs[s.i]
    local ref = slice(inp.ddx)
    local r = compare(("%s second derivative, input %d"):format(name, s.i), ref, flat(out[s.at]),
      c.dtype, maxabs(ref, slice(inp.dx), wref))
    if r > e.ddx then e.ddx = r end
  end
  return e
end

describe("comparison with PyTorch (spec/fixtures/numerics.*)", function()
  setup(function()
    local t = ts.io.load_npy(FIX .. "numerics.npy")
    assert.are.equal(fixture.n, t:numel())
    data = t:totable()
  end)

  it("has cases of every op and both dtypes", function()
    local seen = {}
    for _, c in ipairs(fixture.cases) do seen[c.op .. " " .. c.dtype] = true end
    for _, op in ipairs { "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
      "reduce_logsumexp", "softmax", "log_softmax", "softmax_cross_entropy_with_logits",
      "sparse_softmax_cross_entropy_with_logits", "exp", "sigmoid", "softplus", "gelu", "tanh",
      "elu" } do
      for _, dt in ipairs { "float32", "float64" } do
        assert.is_true(seen[op .. " " .. dt], op .. " " .. dt)
      end
    end
  end)

  -- one `it` per op and dtype, each case with shapes known and unknown
  local groups, order = {}, {}
  for k, c in ipairs(fixture.cases) do
    local key = c.op .. " (" .. c.dtype .. ")"
    if not groups[key] then groups[key] = {}; order[#order + 1] = key end
    table.insert(groups[key], k)
  end
  for _, key in ipairs(order) do
    it(key .. ": values, gradients and second derivatives", function()
      local worst = { y = 0, dx = 0, ddx = 0 }
      for _, k in ipairs(groups[key]) do
        for _, known in ipairs { true, false } do
          local e = run_case(k, fixture.cases[k], known)
          for f, v in pairs(e) do if v > worst[f] then worst[f] = v end end
        end
      end
      if os.getenv("TS_NUMERICS_REPORT") then
        io.stderr:write(("%-50s %3d cases  max rel. error y %.2g  dx %.2g  ddx %.2g\n"):format(
          key, #groups[key], worst.y, worst.dx, worst.ddx))
      end
    end)
  end
end)

-- The wrong results of issue 12, each with its reference (PyTorch float64 or
-- 100-bit mpmath, rounded).
describe("numerics: the cases found by the comparison", function()
  local function f32(v) return ts.tensor(v, "float32") end

  it("float32 exp covers the whole float32 range: subnormals and up to 88.72", function()
    H.close(6.05460149e-39, ts.exp(f32 { -88 }):item(), 2e-7)
    H.close(3.3931806e+38 / 1e38, ts.exp(f32 { 88.72 }):item() / 1e38, 2e-7)
    local big = ts.exp(f32 { 88.7228, 88.723, -103.9, -104, -1 / 0, 1 / 0, 0 / 0 }):totable()
    assert.is_true(big[1] < math.huge and big[1] > 3.4e38)
    assert.are.equal(math.huge, big[2])
    assert.is_true(big[3] > 0 and big[3] < 2e-45) -- the smallest subnormal
    assert.are.same({ 0, 0, math.huge }, { big[4], big[5], big[6] })
    assert.is_true(big[7] ~= big[7])
    H.close(3.67230161e-39, ts.sigmoid(f32 { -88.5 }):item(), 2e-7)
    H.close(3.67230161e-39, ts.softmax(f32 { 0, -88.5 }):totable()[2], 2e-7)
  end)

  it("gelu uses the erfc form: no cancellation in the negative tail", function()
    H.close(-0.000126684972, ts.gelu(f32 { -4 }):item(), 1e-6 * 1e-4) -- erf form: -0.00012672
    assert.is_true(math.abs(ts.gelu(f32 { -4 }):item() + 0.000126684972) < 1e-6 * 0.000126684972)
    local y = ts.gelu(ts.tensor { -10 }):item()
    assert.is_true(math.abs(y + 7.6198530241605263e-23) < 1e-12 * 7.62e-23, tostring(y))
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 3 } }
    local dx = ts.gradients(ts.gelu(x), { x })[1]
    local d = H.run(g, dx, { [x] = ts.tensor { -10, -1 / 0, 1 / 0 } }):totable()
    assert.is_true(math.abs(d[1] + 7.6184000964648144e-22) < 1e-10 * 7.62e-22, tostring(d[1]))
    assert.are.same({ 0, 1 }, { d[2], d[3] })
  end)

  it("reduce_logsumexp: NaN wins over inf in any order", function()
    for _, dt in ipairs { "float32", "float64" } do
      for _, v in ipairs { { 1 / 0, 0 / 0 }, { 0 / 0, 1 / 0 }, { 1, 0 / 0, 1 / 0, 2 },
        { 1 / 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 / 0 } } do
        local r = ts.reduce_logsumexp(ts.tensor(v, dt)):item()
        assert.is_true(r ~= r, dt .. " " .. table.concat(v, ", ") .. " gave " .. r)
      end
      -- as max and min do (NumPy/PyTorch amax, amin)
      for _, v in ipairs { { 1 / 0, 0 / 0 }, { 0 / 0, 1 / 0 }, { 1, 2, 3, 4, 5, 6, 7, 8, 0 / 0, 9 } } do
        local t = ts.tensor(v, dt)
        assert.is_true(t:max():item() ~= t:max():item())
        assert.is_true(t:min():item() ~= t:min():item())
      end
      assert.are.equal(math.huge, ts.reduce_logsumexp(ts.tensor({ 1, 1 / 0, -1 / 0 }, dt)):item())
    end
  end)
end)
