-- Shared helpers for the specs.
local ts = require "tensorslow"
local M = {}

--- Asserts two numbers or nested tables agree to rel/abs tolerance.
function M.close(expected, actual, tol, path)
  tol = tol or 1e-12
  path = path or "value"
  if type(expected) == "table" then
    assert(type(actual) == "table", path .. ": expected a table, got " .. type(actual))
    assert(#expected == #actual, ("%s: expected %d elements, got %d"):format(path, #expected, #actual))
    for i = 1, #expected do M.close(expected[i], actual[i], tol, path .. "[" .. i .. "]") end
    return
  end
  local diff = math.abs(expected - actual)
  local scale = math.max(1, math.abs(expected))
  local both_nan = expected ~= expected and actual ~= actual
  if diff > tol * scale or (diff ~= diff and not both_nan) then
    error(("%s: expected %.17g, got %.17g"):format(path, expected, actual), 2)
  end
end

--- Asserts a tensor's values (nested table), shape and dtype.
function M.tensor(t, values, dtype, tol)
  assert(ts.is_tensor(t), "expected a tensor, got " .. tostring(t))
  if dtype and dtype ~= t.dtype then error(("expected dtype %s, got %s"):format(dtype, t.dtype), 2) end
  M.close(values, t:totable(), tol)
end

--- Runs f, which must fail with a message containing pattern (plain text).
function M.fails(f, text)
  local ok, err = pcall(f)
  assert(not ok, "expected an error containing: " .. text)
  err = tostring(err)
  assert(err:find(text, 1, true), ("error %q does not contain %q"):format(err, text))
  return err
end

return M
