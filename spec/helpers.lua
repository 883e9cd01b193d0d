-- Shared helpers for the specs.
local ts = require "tensorslow"
local luassert = require "luassert"
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

--- Tolerances of the float dtypes.
M.FLOATS = { float32 = 1e-6, float64 = 1e-12 }

--- Runs f(dtype, tol) for both float dtypes (tolerances from tols or FLOATS).
function M.each_float(f, tols)
  for dt, tol in pairs(tols or M.FLOATS) do f(dt, tol) end
end

--- Runs node in a fresh session of graph g with feeds.
function M.run(g, node, feeds)
  local sess <close> = ts.Session(g)
  return sess:run(node, feeds or {})
end

--- Runs f eagerly on the tensors ins, then as a graph fed through placeholders
--- of known and of unknown shape; every result must be `expected` with `shape`
--- (and dtype, to tol: default 1e-6). Returns the eager result.
function M.both(f, ins, expected, shape, dtype, tol)
  tol = tol or 1e-6
  local r = f(table.unpack(ins))
  luassert.are.same(shape, r.shape)
  M.tensor(r, expected, dtype, tol)
  for _, known in ipairs { true, false } do
    local g = ts.Graph()
    local phs, feed = {}, {}
    for i, t in ipairs(ins) do
      phs[i] = ts.placeholder { graph = g, dtype = t.dtype, shape = known and t.shape or nil }
      feed[phs[i]] = t
    end
    local node = f(table.unpack(phs))
    luassert.is_true(ts.is_node(node))
    if known then luassert.are.same(shape, node.shape) end
    local v = M.run(g, node, feed)
    luassert.are.same(shape, v.shape)
    M.tensor(v, expected, dtype, tol)
  end
  return r
end

-- Programs a spec runs (sh, ls, python) go without the AddressSanitizer
-- preload of `make asan`.
M.CLEAN = "env -u LD_PRELOAD "

--- A scratch directory with file helpers: S.dir, S.path(name), S.write(name,
-- bytes) (returns the path), S.slurp(path), S.listing() (the sorted names,
-- space-separated). The spec file makes it fresh for each test with
-- `before_each(S.setup); after_each(S.teardown)` (busted's hooks are globals
-- of spec files only).
function M.scratch()
  local S = {}
  function S.setup()
    S.dir = os.tmpname()
    os.remove(S.dir)
    assert(os.execute(M.CLEAN .. "mkdir '" .. S.dir .. "'"))
  end
  function S.teardown() os.execute(M.CLEAN .. "rm -rf '" .. S.dir .. "'") end
  function S.path(name) return S.dir .. "/" .. name end
  function S.write(name, bytes)
    local f = assert(io.open(S.path(name), "wb"))
    f:write(bytes)
    f:close()
    return S.path(name)
  end
  S.slurp = M.read_file
  function S.listing()
    local p = assert(io.popen(M.CLEAN .. "ls -A '" .. S.dir .. "'"))
    local names = {}
    for l in p:lines() do names[#names + 1] = l end
    p:close()
    table.sort(names)
    return table.concat(names, " ")
  end
  return S
end

--- The whole of a file's bytes (asserts it opens).
function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

return M
