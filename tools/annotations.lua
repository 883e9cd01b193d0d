-- Regenerates the op methods of library/tensorslow.lua (Tensor:NAME and
-- Node:NAME) from its ts.NAME stubs, so that an op is annotated once:
--   lua5.4 tools/annotations.lua      (from the repository root, after make)
-- spec/api_spec.lua fails when the file is stale. Which ts.NAME become methods
-- (and their aliases, such as sum) is read from the loaded module: what I.op
-- published. Rules: the first parameter is self; for Tensor, ts.input becomes
-- ts.value, a trailing `opts? ts.name_opts` is dropped (tensors have no
-- names) and results are tensors; a first parameter that is a list (concat,
-- stack) becomes self plus `others`.
local M = {}

M.FILE = "library/tensorslow.lua"
local BEGIN = "-- <generated: %s op methods from the ts.NAME stubs (lua5.4 tools/annotations.lua)>"
local END = "-- </generated>"

-- The ts.NAME stubs in file order: {name=, params={...}, doc={...}, tags={...}, heading=}.
local function stubs(text)
  local out, block, heading = {}, {}, nil
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local name, params = line:match("^function ts%.([%w_]+)%((.-)%) end$")
    if name then
      local doc, tags = {}, {}
      for _, l in ipairs(block) do
        if l:match("^%-%-%-@") then tags[#tags + 1] = l else doc[#doc + 1] = l end
      end
      local p = {}
      for q in params:gmatch("[^,%s]+") do p[#p + 1] = q end
      out[#out + 1] = { name = name, params = p, doc = doc, tags = tags, heading = heading }
      block, heading = {}, nil
    elseif line:match("^%-%-%-") then
      block[#block + 1] = line
    elseif line:match("^%-%- ") and #block == 0 then
      heading = line
    else
      block, heading = {}, (line ~= "" and line:match("^%-%- ")) and line or nil
    end
  end
  return out
end

-- One method stub (lines) of class cls ("Tensor" or "Node") from ts stub s.
local function method(s, cls, mname, alias_of)
  local tensor = cls == "Tensor"
  local lines = {}
  if alias_of then
    lines[1] = ("--- Alias of %s (methods only)."):format(alias_of)
  else
    for _, l in ipairs(s.doc) do lines[#lines + 1] = l end
  end
  local first = s.params[1]
  local params = {}
  for _, t in ipairs(s.tags) do
    local pname, rest = t:match("^%-%-%-@param ([%w_?]+) (.*)$")
    if pname then
      local bare = pname:gsub("%?$", "")
      if bare == first then
        if rest:match("^ts%.input%[%]") then
          params[#params + 1] = "others"
          lines[#lines + 1] = ("---@param others %s the inputs after this one"):format(
            tensor and "ts.value|ts.value[]" or "ts.input|ts.input[]")
        end
      elseif not (tensor and pname == "opts?" and rest == "ts.name_opts") then
        if tensor then rest = rest:gsub("|ts%.name_opts", ""):gsub("ts%.input", "ts.value") end
        params[#params + 1] = bare
        lines[#lines + 1] = ("---@param %s %s"):format(pname, rest)
      end
    else
      local ret = t:match("^%-%-%-@return (.*)$")
      if ret then
        local many = ret:match("%[%]") ~= nil
        local r = (tensor and "ts.Tensor" or "ts.Node") .. (many and "[]" or "")
        lines[#lines + 1] = "---@return " .. r
      else
        lines[#lines + 1] = t
      end
    end
  end
  lines[#lines + 1] = ("function %s:%s(%s) end"):format(cls, mname, table.concat(params, ", "))
  return lines
end

--- The generated block of class cls: methods[name] == ts[name] for each ts stub.
function M.block(text, cls, ts, methods)
  local names_of = {}
  for m, f in pairs(methods) do
    names_of[f] = names_of[f] or {}
    table.insert(names_of[f], m)
  end
  local lines = { BEGIN:format(cls) }
  for _, s in ipairs(stubs(text)) do
    local f = ts[s.name]
    if f ~= nil and methods[s.name] == f then
      if s.heading then
        if #lines > 1 then lines[#lines + 1] = "" end
        lines[#lines + 1] = s.heading
      end
      for _, l in ipairs(method(s, cls, s.name)) do lines[#lines + 1] = l end
      local aliases = names_of[f]
      table.sort(aliases)
      for _, a in ipairs(aliases) do
        if a ~= s.name then
          for _, l in ipairs(method(s, cls, a, s.name)) do lines[#lines + 1] = l end
        end
      end
    end
  end
  lines[#lines + 1] = END
  return table.concat(lines, "\n")
end

--- text with both generated blocks rewritten (each must already be marked).
function M.generate(text, ts, core)
  for cls, methods in pairs { Tensor = core.tensor_methods, Node = core.node_methods } do
    local b = BEGIN:format(cls)
    local i = assert(text:find(b, 1, true), "no generated block for " .. cls)
    local j = assert(text:find(END, i, true), "unterminated generated block for " .. cls)
    text = text:sub(1, i - 1) .. M.block(text, cls, ts, methods) .. text:sub(j + #END)
  end
  return text
end

if arg and arg[0] and arg[0]:match("annotations%.lua$") then
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = (os.getenv("BUILD") or "build") .. "/?.so;" .. package.cpath
  local ts = require "tensorslow"
  local f = assert(io.open(M.FILE, "rb"))
  local text = f:read("a")
  f:close()
  local new = M.generate(text, ts, require "tensorslow.core")
  if new ~= text then
    f = assert(io.open(M.FILE, "wb"))
    f:write(new)
    f:close()
    print("updated " .. M.FILE)
  else
    print(M.FILE .. " is up to date")
  end
end

return M
