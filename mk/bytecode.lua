-- make's compile of the area modules (lua/tensorslow/*.lua but init.lua) to bytecode:
-- lua5.4 mk/bytecode.lua OUTDIR SRC... writes OUTDIR/<m>-<hash>.luac for each source, <hash>
-- the hash core.source_hash (src/lua_module.c) gives its bytes, computed here the same way
-- (no core.so needed: an ASan build's cannot load into a plain lua5.4), as init.lua's
-- I.require looks for it. Debug information is kept: tracebacks and error positions name
-- the source's lines as before.
local function source_hash(s)
  local h, n = 0x243f6a8885a308d3, #s
  local words = n - n % 8
  for i = 1, words, 8 do
    h = (h ~ string.unpack("<i8", s, i)) * 0x9e3779b97f4a7c15
    h = h ~ (h >> 29)
  end
  for i = words + 1, n do h = (h ~ s:byte(i)) * 0x100000001b3 end
  h = (h ~ n) * 0x9e3779b97f4a7c15
  h = h ~ (h >> 32)
  return ("%016x"):format(h)
end

local outdir = assert(arg[1], "usage: bytecode.lua OUTDIR SRC...")
for i = 2, #arg do
  local src = arg[i]
  local m = assert(src:match("([^/]+)%.lua$"), src)
  local fh = assert(io.open(src, "rb"))
  local text = fh:read("a")
  fh:close()
  local f = assert(load(text, "@" .. src))
  local out = ("%s/%s-%s.luac"):format(outdir, m, source_hash(text))
  local tmp = out .. ".tmp"
  local o = assert(io.open(tmp, "wb"))
  assert(o:write(string.dump(f)))
  assert(o:close())
  assert(os.rename(tmp, out))
end
