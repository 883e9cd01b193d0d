-- Reads the reference fixtures that spec/fixtures/make_*.py write: NAME.lua (the cases,
-- each array as {first, count}) and NAME.npy (every array, flat, float64), and measures
-- errors against them the way the fixture specs agree on.
local ts = require "tensorslow"

local M = {}

M.DIR = "spec/fixtures/"
--- Tolerances: float64 relative above 1 (absolute below); float32 relative to the largest
--- reference value of the tensor, absolute when that is below 1 (a tensor that is zero up to
--- rounding, such as the layer norm of one value, has no scale of its own).
M.TOL = { float64 = 1e-12, float32 = 1e-5 }

--- A tensor's values, flat, as float64 Lua numbers.
function M.flat(t) return t:reshape({ t:numel() }):cast("float64"):totable() end

local Fixture = {}
Fixture.__index = Fixture

--- The fixture NAME: its cases (fx.cases) and data (read once, on first use).
function M.load(name)
  return setmetatable({ name = name, spec = dofile(M.DIR .. name .. ".lua") }, Fixture)
end

function Fixture:data()
  if not self.values then
    self.values = M.flat(ts.io.load_npy(M.DIR .. self.name .. ".npy"))
    assert(#self.values == self.spec.n, ("%s.npy holds %d numbers, %s.lua says %d"):format(
      self.name, #self.values, self.name, self.spec.n))
  end
  return self.values
end

--- The numbers of array ref ({first, count}) as a Lua array.
function Fixture:slice(ref)
  local d, t = self:data(), {}
  for i = 1, ref[2] do t[i] = d[ref[1] + i - 1] end
  return t
end

--- Array ref as a tensor of shape and dtype (default float64).
function Fixture:tensor(ref, shape, dtype)
  return ts.tensor(self:slice(ref), dtype or "float64"):reshape(shape)
end

--- The largest error of got (numbers) against ref (numbers) in dtype; NaN counts as infinite.
function M.worst(got, ref, dtype)
  assert(#got == #ref, ("expected %d values, got %d"):format(#ref, #got))
  local scale = 0
  for i = 1, #ref do scale = math.max(scale, math.abs(ref[i])) end
  local e = 0
  for i = 1, #ref do
    local d = math.abs(got[i] - ref[i])
    if d ~= d then return math.huge end
    if dtype == "float64" then d = d / math.max(1, math.abs(ref[i]))
    else d = d / math.max(scale, 1) end
    e = math.max(e, d)
  end
  return e
end

return M
