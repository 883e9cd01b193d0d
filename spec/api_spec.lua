-- The public face: library/tensorslow.lua annotates exactly the names the
-- module exports (ts and its tables, the methods of tensors, nodes, graphs and
-- sessions), and its generated op methods are up to date.
local ts = require "tensorslow"
local core = require "tensorslow.core"
local gen = dofile "tools/annotations.lua"

local read = require("helpers").read_file
local text = read(gen.FILE)

local function sorted(set)
  local r = {}
  for k in pairs(set) do r[#r + 1] = k end
  table.sort(r)
  return r
end

-- "names missing from the annotations: ...; annotated but absent: ..."
local function same(live, annotated, what)
  local missing, extra = {}, {}
  for _, k in ipairs(sorted(live)) do if not annotated[k] then missing[#missing + 1] = k end end
  for _, k in ipairs(sorted(annotated)) do if not live[k] then extra[#extra + 1] = k end end
  if #missing > 0 or #extra > 0 then
    error(("%s: not annotated in %s: {%s}; annotated but not exported: {%s}"):format(what,
      gen.FILE, table.concat(missing, ", "), table.concat(extra, ", ")), 2)
  end
end

describe("the public API", function()
  it("ts and its tables export exactly the annotated names", function()
    local live = {}
    for k, v in pairs(ts) do
      live[k] = true
      if type(v) == "table" then
        for k2 in pairs(v) do live[k .. "." .. k2] = true end
      end
    end
    local annotated = {}
    for name in text:gmatch("\nfunction ts%.([%w_.]+)%(") do annotated[name] = true end
    for line in text:gmatch("[^\n]+") do -- ts.a, ts.b = ...
      local lhs = line:match("^(ts%.[%w_., ]-) = ")
      if lhs then
        for name in lhs:gmatch("ts%.([%w_.]+)") do annotated[name] = true end
      end
    end
    local fields = text:match("\n%-%-%-@class tensorslow\n(.-)\nlocal ts = {}")
    for name in fields:gmatch("%-%-%-@field ([%w_]+)") do annotated[name] = true end
    same(live, annotated, "ts")
  end)

  it("no internal name is reachable from ts", function()
    for _, k in ipairs { "core", "node", "source", "custom", "set_profile_builder", "_node_attrs",
      "_raise", "_is_opts", "_binary", "_unary", "_not_trainable", "_int", "_int_list", "_data" } do
      assert.is_nil(rawget(ts, k), k)
    end
  end)

  it("tensor, node, graph and session methods are exactly the annotated ones", function()
    for cls, methods in pairs { Tensor = core.tensor_methods, Node = core.node_methods,
      Graph = core.graph_methods, Session = core.session_methods } do
      local annotated = {}
      for name in text:gmatch("\nfunction " .. cls .. ":([%w_]+)%(") do annotated[name] = true end
      same(methods, annotated, cls)
    end
  end)

  it("the generated op methods are up to date (else: lua5.4 tools/annotations.lua)", function()
    local fresh = gen.generate(text, ts, core)
    if fresh ~= text then
      local a, b = {}, {}
      for l in text:gmatch("[^\n]*") do a[#a + 1] = l end
      for l in fresh:gmatch("[^\n]*") do b[#b + 1] = l end
      local i = 1
      while a[i] == b[i] do i = i + 1 end
      error(("%s is stale from line %d: has %q, the ts.NAME stubs give %q; run lua5.4 "
        .. "tools/annotations.lua"):format(gen.FILE, i, a[i] or "", b[i] or ""))
    end
  end)
end)
