-- allreduce (sum, mean, max, min), allgather and broadcast, eager and as graph ops,
-- for each dtype and shapes including empty ones, against the values computed here
-- from every rank's (known) input; and the errors when ranks disagree.
local T = dofile("spec/mpi/common.lua")
local ts, mpi, r, p = T.ts, T.mpi, T.rank, T.size

local DTYPES = { "float32", "float64", "int64", "uint8" }
local SHAPES = { {}, { 0 }, { 5 }, { 2, 3 }, { 2, 0, 3 }, { 3, 1, 2 } }
local FLOAT = { float32 = true, float64 = true }

-- element i of rank q's input: distinct per rank, exact in every dtype
local function val(q, i, dtype)
  local v = (i * 7 + q * 3) % 11
  if FLOAT[dtype] then return v - 5 + 0.25 * q end
  if dtype == "int64" then return v - 5 - 1000000000000 * q end
  return v
end
local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end
local function input(q, shape, dtype)
  local n, v = numel(shape), {}
  for i = 1, n do v[i] = val(q, i, dtype) end
  return ts.tensor(v, dtype):reshape(shape)
end
local function expected(op, shape, dtype)
  local n, v = numel(shape), {}
  for i = 1, n do
    local acc = val(0, i, dtype)
    for q = 1, p - 1 do
      local x = val(q, i, dtype)
      if op == "max" then acc = math.max(acc, x)
      elseif op == "min" then acc = math.min(acc, x)
      else acc = acc + x end
    end
    v[i] = op == "mean" and acc / p or acc
  end
  return ts.tensor(v, dtype):reshape(shape)
end
local function same_meta(y, shape, dtype, what)
  T.check(y.dtype == dtype, what .. ": dtype " .. y.dtype)
  local s = y.shape
  T.check(#s == #shape, what .. ": rank")
  for i = 1, #shape do T.check(s[i] == shape[i], what .. ": dimension " .. i) end
end
local function run(node, ph, x)
  return ts.Session(node.graph):run(node, { [ph] = x })
end

for _, dtype in ipairs(DTYPES) do
  for _, shape in ipairs(SHAPES) do
    local what = ("%s [%s]"):format(dtype, table.concat(shape, ","))
    local x = input(r, shape, dtype)
    for _, op in ipairs { "sum", "mean", "max", "min" } do
      if op ~= "mean" or FLOAT[dtype] then
        local y = mpi.allreduce(x, { op = op })
        same_meta(y, shape, dtype, "allreduce " .. op .. " " .. what)
        T.close(y, expected(op, shape, dtype), 0, "allreduce " .. op .. " " .. what)
        local g = ts.Graph()
        local ph = ts.placeholder { dtype = dtype, shape = shape, graph = g }
        local yn = run(mpi.allreduce(ph, { op = op }), ph, x)
        same_meta(yn, shape, dtype, "allreduce node " .. op .. " " .. what)
        T.close(yn, y, 0, "allreduce node " .. op .. " " .. what)
      end
    end
    if #shape >= 1 then
      -- rank q contributes q + 1 copies of its rows' pattern (first dimensions differ)
      local rows = shape[1] * (r + 1)
      local s = { table.unpack(shape) }
      s[1] = rows
      local xg = input(r, s, dtype)
      local y = mpi.allgather(xg)
      local parts, total = {}, 0
      for q = 0, p - 1 do
        local sq = { table.unpack(shape) }
        sq[1] = shape[1] * (q + 1)
        total = total + sq[1]
        parts[#parts + 1] = input(q, sq, dtype)
      end
      local want = { table.unpack(shape) }
      want[1] = total
      same_meta(y, want, dtype, "allgather " .. what)
      local flat = {}
      for _, t in ipairs(parts) do for _, v in ipairs(T.flat(t)) do flat[#flat + 1] = v end end
      T.close(y, ts.tensor(flat, dtype):reshape(want), 0, "allgather " .. what)
      local g = ts.Graph()
      local ps = { table.unpack(s) }
      ps[1] = -1
      local ph = ts.placeholder { dtype = dtype, shape = ps, graph = g }
      T.close(run(mpi.allgather(ph), ph, xg), y, 0, "allgather node " .. what)
    end
    for root = 0, p - 1 do
      local y = mpi.broadcast(x, root)
      same_meta(y, shape, dtype, "broadcast " .. what)
      T.close(y, input(root, shape, dtype), 0, "broadcast " .. what)
      local g = ts.Graph()
      local ph = ts.placeholder { dtype = dtype, shape = shape, graph = g }
      T.close(run(mpi.broadcast(ph, root), ph, x), y, 0, "broadcast node " .. what)
    end
  end
end

-- disagreements raise the same error on every rank (no hang, no corruption)
local function fails(f, pattern, what)
  local ok, err = pcall(f)
  T.check(not ok, what .. ": no error")
  T.check(tostring(err):find(pattern), what .. ": message " .. tostring(err))
end
fails(function() return mpi.allreduce(ts.zeros({ r + 1 })) end, "differ in size: 1 to 2 elements",
  "allreduce sizes")
fails(function() return mpi.allreduce(ts.zeros({ 2 }, r == 0 and "float32" or "float64")) end,
  "differ in dtype", "allreduce dtypes")
fails(function() return mpi.broadcast(ts.zeros({ 2, r + 1 }), 0) end, "differ from root 0's",
  "broadcast shapes")
fails(function() return mpi.allgather(ts.zeros({ 2, r + 1 })) end, "dimension past the first",
  "allgather shapes")
fails(function() return mpi.allreduce(ts.tensor({ 1 }, "int64"), { op = "mean" }) end,
  "needs a float", "mean of int64")
fails(function() return mpi.allreduce(ts.zeros({ 1 }), { op = "prod" }) end,
  "op must be sum, mean, max or min", "unknown op")
fails(function() return mpi.broadcast(ts.zeros({ 1 }), p) end, "root 2 is not a rank", "root")
fails(function() return mpi.allgather(ts.tensor(1)) end, "scalar", "allgather scalar")
fails(function() return mpi.allreduce(ts.zeros({ 1 }), { bogus = 1 }) end, "unknown option 'bogus'",
  "options")
fails(function() return mpi.broadcast_variables(ts.placeholder { shape = { 1 } }, 0) end,
  "expected a session, got a node", "broadcast_variables")
fails(function() return mpi.broadcast_variables(ts.Session(), 1.5) end, "root must be an integer",
  "broadcast_variables root")
fails(function() return mpi.DistributedOptimizer({}) end, "expected an optimizer", "DistributedOptimizer")
fails(function()
  return mpi.DistributedOptimizer(ts.train.GradientDescentOptimizer(0.1), { fusion_bytes = -1 })
end, "fusion_bytes must be an integer >= 0", "fusion_bytes")
-- and the job goes on after them
T.close(mpi.allreduce(ts.tensor { 1, 2 }), ts.tensor { p, 2 * p }, 0, "allreduce after errors")
T.done()
