--- tensorslow: computational graphs and automatic differentiation for Lua 5.4.
-- `ts` (this module's value) holds only documented names: library/tensorslow.lua
-- annotates each and spec/api_spec.lua checks the exact set. What the area
-- modules share lives in I, a private table passed to each one:
-- require("tensorslow." .. area)(ts, I). Ops are declared with I.op (below).
local core = require "tensorslow.core"

local ts, I = {}, {}

-- The area modules load from bytecode when make has compiled their present source (compiling
-- the 400 KB of Lua was 10 of require "tensorslow"'s 13 ms): build/tensorslow/lua/<m>-<hash>.luac
-- beside core.so, <hash> core.source_hash of the source file package.path finds, so a changed
-- source never meets an old compile. Anything missing or unloadable: the source, by require.
local bcdir = (package.searchpath("tensorslow.core", package.cpath) or ""):match("^(.*/)core%.so$")
function I.require(name)
  local mod = package.loaded[name]
  if mod ~= nil then return mod end
  local src = bcdir and package.searchpath(name, package.path)
  local hash = src and core.source_hash(src)
  local f = hash and loadfile(("%slua/%s-%s.luac"):format(bcdir, name:gsub("^tensorslow%.", ""),
    hash), "b")
  if not f then return require(name) end
  mod = f(name, src)
  if mod == nil then mod = true end
  package.loaded[name] = mod
  return mod
end
local require = I.require
for _, k in ipairs { "_VERSION", "tensor", "zeros", "ones", "fill", "eye", "arange", "rand",
  "randn", "seed", "set_num_threads", "get_num_threads", "set_matmul_kernel", "get_matmul_kernel",
  "clock", "is_tensor", "Graph",
  "set_default_graph", "Session" } do
  ts[k] = core[k]
end

local Node_mt = core.Node_mt
local node_methods, tensor_methods = core.node_methods, core.tensor_methods
local graph_methods = core.graph_methods
I.core, I.node_methods, I.tensor_methods, I.graph_methods = core, node_methods, tensor_methods,
  graph_methods

local function is_node(v) return getmetatable(v) == Node_mt end
-- The tensor metatable is protected (getmetatable(t) gives a string).
local is_tensor = core.is_tensor
ts.is_node = is_node
I.is_node, I.is_tensor = is_node, is_tensor

--- The integer value of v (a float with an exact integer value counts: 2^40),
-- or nil. Tables of integers are read with I.int_list, raw (no __len/__index).
local function int_of(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v)
end
I.int = int_of

--- Integer list v (or one integer) as a new table, read raw; what names the
-- function and argument in errors, raised at level.
function I.int_list(v, what, level)
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

--- opts (nil: {}) after checking it is a table whose keys are all in the
-- set `known`; errors name the function `what`, raised at `level` above the caller.
function I.check_options(what, opts, known, level)
  level = (level or 2) + 1
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
    error(("%s: options must be a table, got %s"):format(what, is_node(opts) and "a node"
      or is_tensor(opts) and "a tensor" or type(opts)), level)
  end
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      error(("%s: unknown option %s (options are %s)"):format(what,
        type(k) == "string" and "'" .. k .. "'" or tostring(k), table.concat(names, ", ")), level)
    end
  end
  return opts
end
local check_options = I.check_options

--- A set from a list of names: I.keys{"name", "axis"} -> {name = true, axis = true}.
function I.keys(list)
  local r = {}
  for _, k in ipairs(list) do r[k] = true end
  return r
end

--- The options table t of function `what` ({} when nil), its keys checked
-- against `known` (a set or a list of names) when given; an error points at
-- the caller of the function that asks.
local function options(what, t, known)
  if known then
    if known[1] then known = I.keys(known) end
    return check_options(what, t, known, 3)
  end
  if t == nil then return {} end
  if type(t) ~= "table" or is_tensor(t) or is_node(t) then
    error(what .. ": options must be a table", 3)
  end
  return t
end
I.options = options

local PLACEHOLDER_OPTS = I.keys { "shape", "dtype", "name", "graph" }
--- placeholder{shape=, dtype=, name=, graph=}: a value fed at run time.
function ts.placeholder(opts, extra)
  if (opts ~= nil and type(opts) ~= "table") or extra ~= nil then
    error(("placeholder takes one options table, placeholder{dtype = \"float32\", shape = {-1, 784}"
      .. "[, name =, graph =]}; got %s%s"):format(type(opts), extra ~= nil and ", " .. type(extra)
      or ""), 2)
  end
  opts = check_options("placeholder", opts, PLACEHOLDER_OPTS)
  local g = opts.graph or core.get_default_graph()
  return core.source(g, "placeholder", opts.name, opts.dtype, opts.shape)
end

local SOURCE_OPTS = I.keys { "name", "dtype", "graph" }
-- A source node holding a value given at build time.
local function value_source(kind, what)
  return function(value, opts)
    if value == nil then error(what .. ": a value is required", 2) end
    if type(value) == "table" and not is_tensor(value) and not is_node(value)
        and rawlen(value) == 0 and next(value) ~= nil then
      local k = next(value)
      error(("%s(value [, {name=, dtype=, graph=}]): the first argument is the value (a number, "
        .. "a table of numbers or a tensor), got a table with key %s; for a shape use %s(ts.zeros(shape))")
        :format(what, type(k) == "string" and "'" .. k .. "'" or tostring(k), what), 2)
    end
    opts = check_options(what, opts, SOURCE_OPTS)
    local g = opts.graph or core.get_default_graph()
    return core.source(g, kind, opts.name, opts.dtype, nil, value)
  end
end
--- Variable(value [, {name=, dtype=, graph=}]): a node holding a value that training updates.
ts.Variable = value_source("variable", "Variable")
--- constant(value [, {name=, dtype=, graph=}])
ts.constant = value_source("constant", "constant")

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
-- long as their graph); read back by gradients.
local node_attrs = setmetatable({}, { __mode = "k" })
I.node_attrs = node_attrs

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
I.raise = raise

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
    if attrs then node_attrs[r] = attrs end
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
I.apply = apply

-- Options table at the end of an op call: a plain table with a known key.
local function is_opts(t)
  return type(t) == "table" and not is_node(t) and not is_tensor(t) and t[1] == nil
    and next(t) ~= nil
end
I.is_opts = is_opts

--- Checks the keys of an op's trailing options table (when it is one): name,
-- plus the names in the list `extra`; an unknown key is an error naming it and
-- the op `what`, at the user's line.
local NAME_ONLY = {}
function I.op_options(what, opts, extra)
  if not is_opts(opts) then return end
  for k in pairs(opts) do
    local known = k == "name"
    for _, e in ipairs(extra or NAME_ONLY) do known = known or k == e end
    if not known then
      local names = { "name", table.unpack(extra or NAME_ONLY) }
      table.sort(names)
      raise(("%s: unknown option %s (options are %s)"):format(what,
        type(k) == "string" and "'" .. k .. "'" or tostring(k), table.concat(names, ", ")))
    end
  end
end
local op_options = I.op_options

--- attrs with the node name from a trailing options table (when it is one),
-- whose keys are checked (op_options) when the op's name `what` is given.
function I.with_name(attrs, opts, what, extra)
  if what then op_options(what, opts, extra) end
  if is_opts(opts) then attrs.name = opts.name end
  return attrs
end

------------------------------------------------------------- gradient helpers
-- Used by the gradients declared beside each op (the machinery, ts.gradients,
-- is lua/tensorslow/grad.lua).

--- The attributes node op was built with ({} when none).
function I.attrs_of(op) return node_attrs[op] or {} end
--- Whether the gradient being built is wanted for input i (ts.gradients sets
-- I.needed around each gradient function).
function I.need(i) return I.needed == nil or I.needed[i] end
--- A node of op type op_name, in the graph of its first input, with raw C attributes.
function I.node(op_name, attrs, ...)
  local first = ...
  local n = core.node(first.graph, op_name, nil, attrs, ...)
  if attrs then node_attrs[n] = attrs end
  return n
end
function I.same_known_shape(a, b)
  local sa, sb = a.shape, b.shape
  if not sa or not sb or #sa ~= #sb then return false end
  for i = 1, #sa do
    if sa[i] < 0 or sa[i] ~= sb[i] then return false end
  end
  return true
end
--- g summed back to x's shape (undoes broadcasting).
function I.sum_like(g, x)
  if g == nil then return nil end
  if I.same_known_shape(g, x) then return g end
  return I.node("reduce_sum_like", nil, g, x)
end
--- g broadcast to x's shape (attributes: those of the reduction it undoes).
function I.broadcast_like(g, x, at)
  return I.node("broadcast_like", at, g, x)
end

------------------------------------------------------------- declaring ops

-- op type -> gradient function(op, g) returning one gradient per input, or
-- false (nothing flows through it). Filled by I.op and ts.RegisterGradient.
I.grads = {}

--- How the published function of each kind reads its arguments: kind ->
-- function(declaration) returning it (math.lua adds "reduce").
I.kinds = {}
-- f(x [, opts]); d.attrs(opts) maps the options to core attributes.
function I.kinds.unary(d)
  local name, attrs_of = d.name, d.attrs
  return function(x, opts)
    op_options(name, opts, d.options)
    local attrs = attrs_of and attrs_of(opts or {}) or (is_opts(opts) and {} or nil)
    if attrs and is_opts(opts) then attrs.name = opts.name end
    return apply(name, attrs, { x, n = 1 })
  end
end
-- f(a, b [, opts])
function I.kinds.binary(d)
  local name = d.name
  return function(a, b, opts)
    op_options(name, opts)
    local attrs = is_opts(opts) and { name = opts.name } or nil
    return apply(name, attrs, { a, b, n = 2 })
  end
end

local function publish(d, f)
  local name, nn = d.name, d.nn
  if nn then
    ts.nn = ts.nn or {}
    ts.nn[name] = f
  end
  if nn == "only" then return end
  if ts[name] ~= nil then error("I.op: ts." .. name .. " is declared twice", 3) end
  ts[name] = f
  if d.method == false then return end
  for _, m in ipairs { name, table.unpack(d.aliases or {}) } do
    node_methods[m] = f
    -- a C tensor method of the same name (reshape, cast) is kept
    if tensor_methods[m] == nil then tensor_methods[m] = f end
  end
end

local function gradient_of(d)
  if d.grad ~= nil then return d.grad end
  local need, sum_like, attrs_of = I.need, I.sum_like, I.attrs_of
  local dx, da, db = d.dx, d.da, d.db
  if dx then
    return function(op, g) return { dx(op.inputs[1], op, g, attrs_of(op)) } end
  end
  if da then
    return function(op, g)
      local a, b = op.inputs[1], op.inputs[2]
      return { need(1) and sum_like(da(a, b, op, g), a) or nil,
               need(2) and sum_like(db(a, b, op, g), b) or nil }
    end
  end
end

--- I.op{name=, ...}: the one declaration of an op on the Lua side. It publishes
-- ts.NAME, node:NAME and tensor:NAME (first argument the main input) and
-- attaches the gradient of op type `name`. Fields:
--   kind = "unary" | "binary" | "reduce" (I.kinds) or fn = the whole function
--     (it calls I.apply itself); attrs = function(opts) (unary: core attributes),
--     options = {...}: the option names it reads besides name (checked)
--   nn = true: also ts.nn.NAME; nn = "only": ts.nn.NAME alone
--   method = false: no node/tensor methods; aliases = {...}: more method names
--   public = false: nothing published (an internal op: only its gradient)
--   grad = function(op, g) return {grad of input 1, ...} end (I.need(i): is it
--     wanted), or false: no gradient flows through it; shorthands:
--   dx = function(x, y, g, attrs) (one input), da, db = function(a, b, y, g)
--     (two inputs; each summed back to its input's shape).
-- Returns the published function.
function I.op(d)
  local name = d.name
  local grad = gradient_of(d)
  if grad ~= nil then
    if I.grads[name] ~= nil then error("I.op: the gradient of " .. name .. " is declared twice", 2) end
    I.grads[name] = grad
  end
  if d.public == false then return nil end
  local f = d.fn or assert(I.kinds[d.kind], "I.op: unknown kind")(d)
  publish(d, f)
  return f
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
for _, m in ipairs { "math", "shape", "nn", "conv", "norm", "scopes", "train", "schedules", "clip",
  "layers", "metrics", "io", "data", "viz", "summary", "saver", "index" } do
  require("tensorslow." .. m)(ts, I)
end
-- the ops added for ONNX import (issue 15)
require("tensorslow.math2")(ts, I)

-- ts.plot loads on first use, as the gradients do: plot.lua is the largest area and most
-- scripts never draw (it would add about 15% to require "tensorslow"). The stubs tail-call
-- the real functions, which replace them (plot.lua sets ts.plot).
do
  local loaded = false
  local stub = {}
  for _, n in ipairs { "lines", "heatmap" } do
    stub[n] = function(...)
      if not loaded then
        loaded = true
        require("tensorslow.plot")(ts, I)
      end
      return ts.plot[n](...)
    end
  end
  ts.plot = stub
end

-- ts.onnx loads on first use too (onnx.lua and its C module tensorslow.onnx_pb, built by
-- mk/onnx.mk): the stubs load it and tail-call the real functions, which replace them.
do
  local loaded = false
  local stub = {}
  for _, n in ipairs { "load", "load_string", "load_tensor", "ops", "save", "save_string" } do
    stub[n] = function(...)
      if not loaded then
        loaded = true
        require("tensorslow.onnx")(ts, I)
      end
      return ts.onnx[n](...)
    end
  end
  ts.onnx = stub
end

-- The gradient machinery loads on first use, which keeps require "tensorslow"
-- fast for scripts and hosts that only run graphs. The stubs tail-call the
-- real functions, so errors still point at the caller.
do
  local G
  local function grad()
    if not G then G = require("tensorslow.grad")(ts, I) end
    return G
  end
  function ts.gradients(...) return grad().gradients(...) end
  function ts.RegisterGradient(...) return grad().RegisterGradient(...) end
  function ts.Operation(...) return grad().Operation(...) end
  ts.test = {}
  function ts.test.gradcheck(...) return grad().gradcheck(...) end
end

return ts
