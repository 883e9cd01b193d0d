-- The ONNX backend conformance tests (Debian's libonnx-testdata) against ts.onnx:
-- every test of node/, pytorch-converted/, pytorch-operator/, simple/ is loaded,
-- fed each test_data_set_*/input_*.pb and its outputs compared with output_*.pb
-- (rtol 1e-3, atol 1e-7 for floats, exact for integers and booleans, NaN equals NaN).
-- A test whose model uses an op type with no converter is skipped (listed by op type);
-- an error while loading or running is a failure. Run by `make onnx-test` (mk/onnx.mk).
-- Usage: lua5.4 tools/onnx_test.lua [filter] [-v]   (filter: a Lua pattern on "dir/test")
--
-- Binding: the node tests feed the inputs that decide an output's shape (Reshape's shape,
-- Slice's starts, the axes of the reductions, TopK's k...) as graph inputs, while
-- tensorslow's ops take those as attributes. Such an input (by the op's schema: SHAPE_INPUTS
-- below, not by test name) is bound to the test data's value with
-- ts.onnx.load(path, {bind = ...}), which makes it a constant, and the test is counted as
-- "bound" in the closing lines; a value computed from graph inputs that decides a shape binds
-- those inputs. Everything else is fed at run time. A test whose graph inputs or outputs are
-- strings, complex numbers, sequences, maps or optionals is skipped, named by that type.
local ts = require "tensorslow"
local pb = require "tensorslow.onnx_pb"

local ROOT = os.getenv("ONNX_TESTDATA") or "/usr/share/libonnx-testdata/data"
local DIRS = { "node", "pytorch-converted", "pytorch-operator", "simple" }
local RTOL, ATOL = 1e-3, 1e-7

-- Inputs (1-based positions) whose values decide the shape of an op's output.
local SHAPE_INPUTS = {
  ReduceMean = { 2 }, ReduceMax = { 2 }, ReduceMin = { 2 }, ReduceProd = { 2 }, ReduceL1 = { 2 },
  ReduceL2 = { 2 }, ReduceLogSum = { 2 }, ReduceLogSumExp = { 2 }, ReduceSumSquare = { 2 },
  TopK = { 2 }, Resize = { 2, 3, 4 }, Upsample = { 2 },
  CumSum = { 2 }, Trilu = { 2 }, CenterCropPad = { 2 }, Compress = { 2 }, MaxUnpool = { 3 },
  DFT = { 2 }, STFT = { 2, 4 }, BlackmanWindow = { 1 }, HannWindow = { 1 }, HammingWindow = { 1 },
}
-- Reshape, Expand, ConstantOfShape, Range, Slice, Squeeze, Unsqueeze, ReduceSum, Pad, Tile,
-- OneHot and Split take their shape inputs at run time (Lua ops when the value is not known at
-- import): fed like any other input.

local args = { ... }
local filter, verbose
for _, a in ipairs(args) do
  if a == "-v" then verbose = true else filter = a end
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function list(dir)
  local r = {}
  local p = io.popen('ls -1 "' .. dir .. '" 2>/dev/null')
  for l in p:lines() do r[#r + 1] = l end
  p:close()
  return r
end

-- A test data file's tensor. ONNX 1.12 wrote bfloat16 test values as uint16 tensors (their
-- bits), so a file of uint16 for a value the graph declares bfloat16 is read as bfloat16.
local core = require "tensorslow.core"
local function load_data(file, declared)
  if declared == 16 then
    local t = pb.decode_tensor(read(file))
    if t.data_type == 4 then return core.from_bytes("bfloat16", t.dims, t.bytes) end
  end
  return ts.onnx.load_tensor(file)
end

local NO_TYPE = { [8] = "string", [14] = "complex64", [15] = "complex128" }

-- Tests whose expected outputs come from NumPy's random generator (np.random.seed(0)):
-- no other generator can reproduce them. Listed by name with the reason, counted apart.
local RANDOM = { test_training_dropout = true, test_training_dropout_default = true,
  test_training_dropout_default_mask = true, test_training_dropout_mask = true }

local implemented = {}
for _, op in ipairs(ts.onnx.ops()) do implemented[op] = true end

local function first_line(s)
  s = tostring(s)
  return (s:match("^[^\n]*"))
end

local function flat(t) return t:reshape({ -1 }):totable() end

-- nil when equal, else a message.
local function compare(got, want, k)
  if not ts.is_tensor(got) then return ("output %d: not a tensor"):format(k) end
  if got.dtype ~= want.dtype then
    return ("output %d: dtype %s, expected %s"):format(k, got.dtype, want.dtype)
  end
  local gs, ws = got.shape, want.shape
  local same = #gs == #ws
  for i = 1, #ws do same = same and gs[i] == ws[i] end
  if not same then
    return ("output %d: shape {%s}, expected {%s}"):format(k, table.concat(gs, ","),
      table.concat(ws, ","))
  end
  local a, b = flat(got), flat(want)
  local isf = want.dtype == "float32" or want.dtype == "float64"
  for i = 1, #b do
    local x, y = a[i], b[i]
    if isf then
      if y ~= y then
        if x == x then return ("output %d: element %d is %g, expected NaN"):format(k, i, x) end
      elseif x ~= x or (y == math.huge or y == -math.huge) and x ~= y
          or math.abs(x - y) > ATOL + RTOL * math.abs(y) then
        return ("output %d: element %d is %.9g, expected %.9g"):format(k, i, x, y)
      end
    elseif x ~= y then
      return ("output %d: element %d is %s, expected %s"):format(k, i, tostring(x), tostring(y))
    end
  end
  return nil
end

local byop = {}   -- op type -> {passed, failed, skipped}
local skipped_ops = {} -- op type -> tests skipped for it
local totals = { passed = 0, failed = 0, skipped = 0, bound = 0 }
local lines, failures, randoms = {}, {}, {}
local t0 = os.clock()

local function count(ops, what)
  for op in pairs(ops) do
    byop[op] = byop[op] or { passed = 0, failed = 0, skipped = 0 }
    byop[op][what] = byop[op][what] + 1
  end
end

local function run_test(dir, name)
  local path = ROOT .. "/" .. dir .. "/" .. name
  local model_path = path .. "/model.onnx"
  local bytes = read(model_path)
  if not bytes then return nil end
  local ok, m = pcall(pb.decode, bytes)
  local ops, missing = {}, {}
  if ok and m.graph then
    for _, nd in ipairs(m.graph.node) do
      ops[nd.op_type] = true
      local dom = nd.domain or ""
      if not implemented[nd.op_type] or (dom ~= "" and dom ~= "ai.onnx") then
        missing[nd.op_type] = true
      end
    end
  end
  -- values of a type tensorslow has no equivalent of (graph inputs and outputs): skipped too,
  -- named by the type
  if ok and m.graph then
    for _, vis in ipairs { m.graph.input, m.graph.output } do
      for _, vi in ipairs(vis) do
        local kind = vi.kind or NO_TYPE[vi.elem_type]
        if kind then missing["<" .. kind .. " values>"] = true end
      end
    end
  end
  if next(missing) then
    for op in pairs(missing) do skipped_ops[op] = (skipped_ops[op] or 0) + 1 end
    count(ops, "skipped")
    return "skipped"
  end
  local function fail(msg)
    failures[#failures + 1] = ("%s/%s: %s"):format(dir, name, first_line(msg))
    count(ops, "failed")
    return "failed"
  end
  if not ok then return fail(m) end
  -- graph inputs fed by the data (those not also initializers), in order
  local inits, feeds, types = {}, {}, {}
  for _, t in ipairs(m.graph.initializer) do inits[t.name] = true end
  for _, vi in ipairs(m.graph.input) do
    if not inits[vi.name] then
      feeds[#feeds + 1] = vi.name
      types[#feeds] = vi.elem_type
    end
  end
  -- the values that decide a shape, and every value they are computed from
  local shape_input, producer = {}, {}
  for _, nd in ipairs(m.graph.node) do
    for _, o in ipairs(nd.output) do producer[o] = nd end
  end
  local function mark(value)
    if value == "" or shape_input[value] then return end
    shape_input[value] = true
    local nd = producer[value]
    -- Shape and Size read only shapes, which the import knows
    if nd and nd.op_type ~= "Shape" and nd.op_type ~= "Size" then
      for _, i in ipairs(nd.input) do mark(i) end
    end
  end
  for _, nd in ipairs(m.graph.node) do
    for _, k in ipairs(SHAPE_INPUTS[nd.op_type] or {}) do
      if nd.input[k] then mark(nd.input[k]) end
    end
  end
  local sets = {}
  for _, s in ipairs(list(path)) do
    if s:match("^test_data_set_%d+$") then sets[#sets + 1] = s end
  end
  if #sets == 0 then return fail("no test data") end
  local used_bind = false
  for _, s in ipairs(sets) do
    local inputs, bind = {}, nil
    for k, fname in ipairs(feeds) do
      local file = ("%s/%s/input_%d.pb"):format(path, s, k - 1)
      if read(file) then
        local okt, t = pcall(load_data, file, types[k])
        if not okt then return fail(t) end
        inputs[k] = t
        if shape_input[fname] then
          bind = bind or {}
          bind[fname] = t
          used_bind = true
        end
      end
    end
    local okl, model = pcall(ts.onnx.load, model_path, { bind = bind })
    if not okl then return fail(model) end
    local feed = {}
    for k, fname in ipairs(feeds) do
      local p = model.inputs[fname]
      if p and inputs[k] and not (bind and bind[fname]) then feed[p] = inputs[k] end
    end
    local sess = ts.Session(model.graph)
    local okr, out = pcall(sess.run, sess, model.outputs, feed)
    sess:close()
    if not okr then return fail(out) end
    for k = 1, #model.outputs do
      local file = ("%s/%s/output_%d.pb"):format(path, s, k - 1)
      if read(file) then
        local okt, want = pcall(load_data, file, m.graph.output[k] and m.graph.output[k].elem_type)
        if not okt then return fail(want) end
        local msg = compare(out[k], want, k)
        if msg then return fail(s .. ": " .. msg) end
      end
    end
  end
  if used_bind then totals.bound = totals.bound + 1 end
  count(ops, "passed")
  return "passed"
end

for _, dir in ipairs(DIRS) do
  local d = { passed = 0, failed = 0, skipped = 0 }
  for _, name in ipairs(list(ROOT .. "/" .. dir)) do
    if RANDOM[name] and (not filter or (dir .. "/" .. name):find(filter)) then
      totals.random = (totals.random or 0) + 1
      randoms[#randoms + 1] = name
    elseif not filter or (dir .. "/" .. name):find(filter) then
      local r = run_test(dir, name)
      if r then
        d[r] = d[r] + 1
        totals[r] = totals[r] + 1
        if verbose then print(r, dir .. "/" .. name) end
      end
    end
  end
  lines[#lines + 1] = ("%-18s %4d passed, %4d failed, %4d skipped"):format(dir .. ":", d.passed,
    d.failed, d.skipped)
end

local ops = {}
for op in pairs(byop) do ops[#ops + 1] = op end
table.sort(ops)
print(("%-28s %6s %6s %7s"):format("op type", "passed", "failed", "skipped"))
for _, op in ipairs(ops) do
  local c = byop[op]
  if c.passed + c.failed > 0 or verbose then
    print(("%-28s %6d %6d %7d"):format(op, c.passed, c.failed, c.skipped))
  end
end
local sk = {}
for op, c in pairs(skipped_ops) do sk[#sk + 1] = { op, c } end
table.sort(sk, function(a, b) return a[2] > b[2] or a[2] == b[2] and a[1] < b[1] end)
local parts = {}
for _, p in ipairs(sk) do parts[#parts + 1] = ("%s %d"):format(p[1], p[2]) end
print("skipped op types (tests): " .. table.concat(parts, ", "))
for _, f in ipairs(failures) do print("FAIL " .. f) end
if #randoms > 0 then
  print(("not comparable (outputs drawn by NumPy's random generator), not run: %s")
    :format(table.concat(randoms, ", ")))
end
for _, l in ipairs(lines) do print(l) end
print(("%d tests used a binding of shape-deciding inputs; %.1f s"):format(totals.bound,
  os.clock() - t0))
print(("%d passed, %d failed, %d skipped"):format(totals.passed, totals.failed, totals.skipped))
os.exit(totals.failed == 0 and 0 or 1)
