/* libFuzzer target: the Saver restore path (lua/tensorslow/saver.lua over
 * ts.io.load_safetensors) on arbitrary bytes. One lua_State holds a graph of
 * four variables (each dtype) and a session; each input is restored into it
 * with pcall. A Lua error is the expected outcome of most inputs; a crash or
 * a sanitizer report is a finding. The variables must keep their shapes and
 * dtypes whatever the file says (checked after every input). */
#define FUZZ_WITH_LUA
#include "fuzz_common.h"

static const char setup[] =
    "local ts = require 'tensorslow'\n"
    "local g = ts.Graph()\n"
    "local w = ts.Variable({{1, 2, 3}, {4, 5, 6}}, {graph = g, name = 'w', dtype = 'float32'})\n"
    "local b = ts.Variable({0.5, 1.5, 2.5}, {graph = g, name = 'layer/b'})\n"
    "local n = ts.Variable(7, {graph = g, name = 'step', dtype = 'int64'})\n"
    "local m = ts.Variable({{1, 0}, {0, 1}}, {graph = g, name = 'mask', dtype = 'uint8'})\n"
    "local sess = ts.Session(g)\n"
    "local saver = ts.train.Saver()\n"
    "local vars = {w, b, n, m}\n"
    "local want = {}\n"
    "for i, v in ipairs(vars) do want[i] = {v.dtype, table.concat(v.shape, 'x')} end\n"
    "function RESTORE(path)\n"
    "  local ok = pcall(saver.restore, saver, sess, path)\n"
    "  for i, v in ipairs(vars) do\n"
    "    local t = v:value()\n"
    "    assert(t.dtype == want[i][1] and table.concat(t.shape, 'x') == want[i][2],\n"
    "      'variable ' .. v.name .. ' changed shape or dtype')\n"
    "  end\n"
    "  return ok\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (!L) L = fuzz_lua(setup);
  const char *path = fuzz_file(data, size);
  lua_getglobal(L, "RESTORE");
  lua_pushstring(L, path);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "RESTORE: %s\n", lua_tostring(L, -1));
    abort(); /* the invariant check failed */
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
