--- tensorslow: computational graphs and automatic differentiation for Lua 5.4.
-- This module re-exports the C module tensorslow.core and adds what reads
-- better in Lua: graph/eager dispatch of ops, operators, constructors.
local core = require "tensorslow.core"

local ts = {}
for k, v in pairs(core) do
  if not k:match("_mt$") and not k:match("_methods$") then ts[k] = v end
end
ts.core = core

local Node_mt, Tensor_mt = core.Node_mt, core.Tensor_mt
local node_methods, tensor_methods = core.node_methods, core.tensor_methods
local graph_methods = core.graph_methods

local function is_node(v) return getmetatable(v) == Node_mt end
-- The tensor metatable is protected (getmetatable(t) gives a string).
local is_tensor = core.is_tensor
ts.is_node, ts.is_tensor = is_node, is_tensor

--- The integer value of v (a float with an exact integer value counts: 2^40),
-- or nil. Tables of integers are read with ts._int_list, raw (no __len/__index).
local function int_of(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v)
end
ts._int = int_of

--- Integer list v (or one integer) as a new table, read raw; what names the
-- function and argument in errors, raised at level.
function ts._int_list(v, what, level)
  level = (level or 2) + 1
  local i1 = int_of(v)
  if i1 then return { i1 } end
  if type(v) ~= "table" or is_node(v) or is_tensor(v) then
    error(("%s must be a table of integers, got %s"):format(what, type(v)), level)
  end
  local r = {}
  for i = 1, rawlen(v) do
    local x = rawget(v, i)
    r[i] = int_of(x)
    if not r[i] then
      error(("%s: entry %d must be an integer, got %s"):format(what, i,
        type(x) == "number" and tostring(x) or type(x)), level)
    end
  end
  return r
end

------------------------------------------------------------------ graphs

function graph_methods.as_default(g)
  core.set_default_graph(g)
  return g
end

--- The graph new nodes go to when none of their inputs says otherwise.
function ts.get_default_graph() return core.get_default_graph() end

------------------------------------------------------------- sources

local function opt_table(t, what)
  if t == nil then return {} end
  if type(t) ~= "table" or is_tensor(t) or is_node(t) then
    error(what .. ": options must be a table", 3)
  end
  return t
end

--- placeholder{shape=, dtype=, name=}: a value fed at run time.
function ts.placeholder(opts)
  opts = opt_table(opts, "placeholder")
  local g = opts.graph or core.get_default_graph()
  return core.source(g, "placeholder", opts.name, opts.dtype, opts.shape)
end

--- Variable(value [, {name=, dtype=}]): a node holding a value that training updates.
function ts.Variable(value, opts)
  opts = opt_table(opts, "Variable")
  if value == nil then error("Variable: a value is required", 2) end
  local g = opts.graph or core.get_default_graph()
  return core.source(g, "variable", opts.name, opts.dtype, nil, value)
end

--- constant(value [, {name=, dtype=}])
function ts.constant(value, opts)
  opts = opt_table(opts, "constant")
  if value == nil then error("constant: a value is required", 2) end
  local g = opts.graph or core.get_default_graph()
  return core.source(g, "constant", opts.name, opts.dtype, nil, value)
end

------------------------------------------------------------- op dispatch

-- The dtype Lua values adopt among these inputs: the first float node or
-- tensor's, else the first node or tensor's, else float64.
local function adopted_dtype(args, n)
  local first
  for i = 1, n do
    local a = args[i]
    if is_node(a) or is_tensor(a) then
      local d = a.dtype
      if d == "float32" or d == "float64" then return d end
      first = first or d
    end
  end
  return first or "float64"
end

-- Graph of the first node among the inputs, or nil (eager).
local function graph_of(args, n)
  for i = 1, n do
    if is_node(args[i]) then return args[i].graph end
  end
end

--- Converts op inputs for graph mode (constants in g) or eager mode (tensors).
-- dtypes[i], when given, forces the dtype of a Lua value at position i.
local function prepare(g, args, n, dtypes)
  local dt = adopted_dtype(args, n)
  for i = 1, n do
    local a = args[i]
    if g then
      if not is_node(a) then
        if a == nil then error("input " .. i .. " is nil", 4) end
        args[i] = core.source(g, "constant", nil,
          (not is_tensor(a)) and (dtypes and dtypes[i] or dt) or nil, nil, a)
      end
    elseif not is_tensor(a) then
      if a == nil then error("input " .. i .. " is nil", 4) end
      args[i] = ts.tensor(a, dtypes and dtypes[i] or dt)
    end
  end
end

-- The attribute table each node was built with (weak keys: nodes live as
-- long as their graph).
ts._node_attrs = setmetatable({}, { __mode = "k" })

--- Raises msg at the first stack level outside tensorslow's own Lua files, so
-- that an error points at the user's line whatever path led to it.
local function raise(msg)
  if type(msg) == "string" then
    msg = msg:gsub("^[^:]*tensorslow[/\\][%w_]+%.lua:%d+: ", "")
    local level = 2
    while true do
      local info = debug.getinfo(level, "S")
      if not info then break end
      if info.what ~= "C" and not info.source:find("tensorslow[/\\][%w_]+%.lua$") then break end
      level = level + 1
    end
    error(msg, level)
  end
  error(msg, 2)
end
ts._raise = raise

--- Applies op `name` with attributes to inputs: a node when any input is a
-- node, otherwise a tensor computed at once. Shared by every op wrapper.
function ts.apply(name, attrs, inputs, dtypes)
  if type(inputs) ~= "table" then
    raise(("apply: inputs of %s must be a table, got %s"):format(tostring(name), type(inputs)))
  end
  local n = rawget(inputs, "n") or rawlen(inputs)
  if math.type(n) ~= "integer" or n < 0 or n > 64 then
    raise(("apply: %s inputs given to %s (0 to 64)"):format(tostring(n), tostring(name)))
  end
  local g = graph_of(inputs, n)
  prepare(g, inputs, n, dtypes)
  if g then
    local ok, r = pcall(core.node, g, name, attrs and attrs.name, attrs, table.unpack(inputs, 1, n))
    if not ok then raise(r) end
    if attrs then ts._node_attrs[r] = attrs end -- read back by gradients
    return r
  end
  local ok, r = pcall(core.apply, name, attrs, table.unpack(inputs, 1, n))
  if not ok then
    if r == "not enough memory" then r = name .. ": not enough memory" end
    raise(r)
  end
  return r
end
local apply = ts.apply

-- Options table at the end of an op call: a plain table with a known key.
local function is_opts(t)
  return type(t) == "table" and not is_node(t) and not is_tensor(t) and t[1] == nil
    and next(t) ~= nil
end
ts._is_opts = is_opts

--- Defines ts.NAME, node:NAME and tensor:NAME for a binary op.
local function binary(name)
  local f = function(a, b, opts)
    local attrs = is_opts(opts) and { name = opts.name } or nil
    return apply(name, attrs, { a, b, n = 2 })
  end
  ts[name], node_methods[name], tensor_methods[name] = f, f, f
  return f
end

--- Defines a unary op; attrs_of(opts) maps user options to core attributes.
local function unary(name, attrs_of)
  local f = function(x, opts)
    local attrs = attrs_of and attrs_of(opts or {}) or (is_opts(opts) and {} or nil)
    if attrs and is_opts(opts) then attrs.name = opts.name end
    return apply(name, attrs, { x, n = 1 })
  end
  ts[name], node_methods[name], tensor_methods[name] = f, f, f
  return f
end
ts._binary, ts._unary = binary, unary

local add, sub, mul, div, pow = binary("add"), binary("subtract"), binary("multiply"),
  binary("divide"), binary("pow")
local neg = unary("negative")

--- matmul(a, b [, {transpose_a=, transpose_b=, name=}])
function ts.matmul(a, b, opts)
  local attrs
  if is_opts(opts) then
    attrs = { transpose_a = opts.transpose_a, transpose_b = opts.transpose_b, name = opts.name }
  end
  return apply("matmul", attrs, { a, b, n = 2 })
end
node_methods.matmul, tensor_methods.matmul = ts.matmul, ts.matmul

-- Operators on nodes and tensors (a node on either side builds a node).
for _, mt in ipairs { Node_mt, Tensor_mt } do
  mt.__add = function(a, b) return add(a, b) end
  mt.__sub = function(a, b) return sub(a, b) end
  mt.__mul = function(a, b) return mul(a, b) end
  mt.__div = function(a, b) return div(a, b) end
  mt.__pow = function(a, b) return pow(a, b) end
  mt.__unm = function(a) return neg(a) end
end

------------------------------------------------------------- sessions

local Session = core.Session
ts.Session = Session

-- sess:run(fetch, feed, {profile = true}) returns the values and a profile:
-- per node and per op type, time and bytes, sorted by cost (like TF's RunMetadata).
local Profile = {}
Profile.__index = Profile
function Profile.__tostring(p)
  local lines = { ("%-28s %-16s %12s %8s %12s"):format("node", "op", "ms", "%", "bytes") }
  local total = p.total > 0 and p.total or 1
  for i = 1, math.min(#p.nodes, 20) do
    local n = p.nodes[i]
    lines[#lines + 1] = ("%-28s %-16s %12.4f %7.1f%% %12d"):format(n.name, n.op, n.seconds * 1e3,
      100 * n.seconds / total, n.bytes)
  end
  if #p.nodes > 20 then lines[#lines + 1] = ("... %d more nodes"):format(#p.nodes - 20) end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("%-28s %-16s %12s %8s %12s"):format("op type", "count", "ms", "%", "bytes")
  for _, o in ipairs(p.ops) do
    lines[#lines + 1] = ("%-28s %-16d %12.4f %7.1f%% %12d"):format(o.op, o.count, o.seconds * 1e3,
      100 * o.seconds / total, o.bytes)
  end
  lines[#lines + 1] = ("total %.4f ms in %d steps"):format(p.total * 1e3, #p.nodes)
  return table.concat(lines, "\n")
end
core.set_profile_builder(function(steps)
  local by_op, ops, total = {}, {}, 0
  local nodes = {}
  for i, s in ipairs(steps) do
    nodes[i] = s
    total = total + s.seconds
    local o = by_op[s.op]
    if not o then
      o = { op = s.op, count = 0, seconds = 0, bytes = 0 }
      by_op[s.op] = o
      ops[#ops + 1] = o
    end
    o.count, o.seconds, o.bytes = o.count + 1, o.seconds + s.seconds, o.bytes + s.bytes
  end
  table.sort(nodes, function(a, b) return a.seconds > b.seconds end)
  table.sort(ops, function(a, b) return a.seconds > b.seconds end)
  return setmetatable({ steps = steps, nodes = nodes, ops = ops, total = total }, Profile)
end)

-- The rest of the API, one file per area; each extends ts.
for _, m in ipairs { "math", "shape", "nn", "conv", "train", "layers", "io", "data", "viz", "saver" } do
  require("tensorslow." .. m)(ts)
end

-- The gradient code (the largest file) loads on first use, which keeps
-- require "tensorslow" fast for scripts and hosts that only run graphs. The
-- stubs tail-call the real functions, so errors still point at the caller.
do
  local loaded = false
  local function grad()
    if not loaded then
      loaded = true
      require("tensorslow.grad")(ts)
    end
    return ts
  end
  ts.test = setmetatable({}, { __index = function(t, k)
    grad()
    return rawget(t, k)
  end })
  function ts.gradients(...) return grad().gradients(...) end
  function ts.RegisterGradient(...) return grad().RegisterGradient(...) end
  function ts.Operation(...) return grad().Operation(...) end
end

return ts
