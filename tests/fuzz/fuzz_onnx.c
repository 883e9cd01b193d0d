/* libFuzzer target: ts.onnx.load on arbitrary bytes (the protobuf-c parser of
 * tensorslow.onnx_pb, then the import: initializers, graph checks, converters).
 * A Lua error is the expected outcome of most inputs; a crash or a sanitizer
 * report is a finding. A model that loads is run once when every input has a
 * known shape of at most 4096 elements (fed zeros), so converters' graphs are
 * executed too. Built by mk/onnx.mk (make fuzz-onnx). */
#define FUZZ_WITH_LUA
#include "fuzz_common.h"

int luaopen_tensorslow_onnx_pb(lua_State *L);

static const char setup[] =
    "local ts = require 'tensorslow'\n"
    "local function run(m)\n"
    "  local feed = {}\n"
    "  for _, p in ipairs(m.inputs) do\n"
    "    local n = 1\n"
    "    for _, d in ipairs(p.shape or {-1}) do n = d < 0 and math.huge or n * d end\n"
    "    if n > 4096 then return end\n"
    "    feed[p] = ts.zeros(p.shape, p.dtype)\n"
    "  end\n"
    "  local s = ts.Session(m.graph)\n"
    "  pcall(s.run, s, table.move(m.outputs, 1, #m.outputs, 1, {}), feed)\n"
    "  s:close()\n"
    "end\n"
    "function LOAD(path)\n"
    "  local ok, m = pcall(ts.onnx.load, path)\n"
    "  if ok then pcall(run, m) end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (!L) {
    lua_State *S = fuzz_lua("");
    lua_getglobal(S, "package");
    lua_getfield(S, -1, "preload");
    lua_pushcfunction(S, luaopen_tensorslow_onnx_pb);
    lua_setfield(S, -2, "tensorslow.onnx_pb");
    lua_settop(S, 0);
    if (luaL_dostring(S, setup) != LUA_OK) {
      fprintf(stderr, "fuzz setup failed: %s\n", lua_tostring(S, -1));
      abort();
    }
    L = S;
  }
  const char *path = fuzz_file(data, size);
  lua_getglobal(L, "LOAD");
  lua_pushstring(L, path);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "LOAD: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
