-- The area modules load from the bytecode make compiles beside core.so (mk/bytecode.lua,
-- init.lua's I.require): only a compile named by the hash of the very source package.path
-- finds is used; a changed source, a missing or a corrupt file falls back to the source.
local core = require "tensorslow.core"
-- the build this run loads (build/ or build-asan/)
local coredir = assert(package.searchpath("tensorslow.core", package.cpath)):match("^(.*/)")

local function run(dir, code)
  local cmd = ("LUA_PATH='%s/src/?.lua;%s/src/?/init.lua' LUA_CPATH='%s/lib/?.so' lua5.4 -e %q 2>&1")
    :format(dir, dir, dir, code)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  assert(f:write(bytes))
  assert(f:close())
end

local read = require("helpers").read_file

describe("area modules from bytecode", function()
  it("make compiled every area module under its source's hash (mk/bytecode.lua's = core's)", function()
    local p = assert(io.popen("ls lua/tensorslow/*.lua"))
    local n = 0
    for src in p:lines() do
      local m = src:match("([^/]+)%.lua$")
      if m ~= "init" then
        n = n + 1
        local bc = ("%slua/%s-%s.luac"):format(coredir, m, core.source_hash(src))
        assert(io.open(bc, "rb"), "no bytecode for " .. src .. ": " .. bc):close()
      end
    end
    p:close()
    assert.is_true(n >= 20, n)
  end)

  it("source_hash changes with one byte and with the length, nil for a missing file", function()
    local path = os.tmpname()
    write(path, ("x"):rep(1000))
    local h1 = core.source_hash(path)
    write(path, ("x"):rep(999) .. "y")
    local h2 = core.source_hash(path)
    write(path, ("x"):rep(1001))
    local h3 = core.source_hash(path)
    os.remove(path)
    assert.are.equal(16, #h1)
    assert.is_true(h1 ~= h2 and h1 ~= h3 and h2 ~= h3)
    assert.is_nil(core.source_hash(path))
  end)

  it("uses the compile whose name matches, the source once it changes, and survives a bad file", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute(("mkdir -p %s/lib/tensorslow/lua %s/src"):format(dir, dir)))
    assert(os.execute(("cp %score.so %s/lib/tensorslow/"):format(coredir, dir)))
    assert(os.execute(("cp -r lua/tensorslow %s/src/"):format(dir)))
    local src = dir .. "/src/tensorslow/clip.lua"
    local text = read(src)
    local bc = ("%s/lib/tensorslow/lua/clip-%s.luac"):format(dir, core.source_hash(src))
    -- a compile that is not the source's: it marks the state
    write(bc, string.dump(assert(load("TS_MARK = 'bytecode'\n" .. text, "@" .. src))))
    local probe = "local ts = require 'tensorslow'; "
      .. "io.write(tostring(TS_MARK), ' ', tostring(ts.clip_by_value ~= nil))"
    assert.are.equal("bytecode true", run(dir, probe))
    write(bc, "\27Lua garbage, not a chunk")
    assert.are.equal("nil true", run(dir, probe))
    write(bc, string.dump(assert(load("TS_MARK = 'bytecode'\n" .. text, "@" .. src))))
    write(src, text .. "\n-- changed\n")
    assert.are.equal("nil true", run(dir, probe))
    os.execute("rm -rf " .. dir)
  end)
end)
