// A C++17 host: the lua_pcall wrapper pattern of tensorslow.h ("Errors are
// longjmps"), whose code (predict and run) is cut out of the header's comment
// into header_cxx.inc by the Makefile. Lua errors, raised by tensorslow or by
// the model, never cross a frame with a destructor: they end at lua_pcall and
// come back as C++ exceptions thrown by run; the state stays usable.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <lua.hpp>

#include "tensorslow.h"

#include "header_cxx.inc"

static int failures;
#define CHECK(c)                                                                 \
  do {                                                                           \
    if (!(c)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                                \
    }                                                                            \
  } while (0)

// predict(x) = 2x + 1 in float32; a negative first entry raises a table, a
// first entry of 100 returns a float64 tensor (ts_checktensor_dtype refuses).
static const char model[] =
    "local ts = require 'tensorslow'\n"
    "function predict(x)\n"
    "  local first = x:get(1)\n"
    "  if first < 0 then error({code = 7}) end\n"
    "  if first == 100 then return x:cast('float64') end\n"
    "  return x * 2 + 1\n"
    "end\n";

struct Counted {  // counts destructor calls of objects around the calls
  int *n;
  ~Counted() { ++*n; }
};

static std::string run_error(lua_State *L, const std::vector<float> &x, int *destroyed) {
  try {
    Counted c{destroyed};
    std::vector<float> y = run(L, x);
    (void)c;
    return "";
  } catch (const std::runtime_error &e) {
    return e.what();
  }
}

int main() {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  if (luaL_dostring(L, model) != LUA_OK) {
    std::fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  std::vector<float> y = run(L, {1, 2, 3.5f});
  CHECK(y.size() == 3 && y[0] == 3 && y[1] == 5 && y[2] == 8);

  int destroyed = 0;
  // an error raised by tensorslow (the typed accessor): an exception here
  std::string m = run_error(L, {100, 1}, &destroyed);
  CHECK(m.find("float32 tensor of rank 1 expected, got float64 tensor of rank 1") !=
        std::string::npos);
  CHECK(destroyed == 1);
  // a table error object raised by the model: not a string
  m = run_error(L, {-1, 1}, &destroyed);
  CHECK(m == "(error object is not a string)");
  CHECK(destroyed == 2);
  // an empty input: the model's x:get(1) is out of range
  m = run_error(L, {}, &destroyed);
  CHECK(m.find("get: index 1 is out of range") != std::string::npos);
  CHECK(destroyed == 3);
  // the state is still usable, nothing is left on its stack
  CHECK(lua_gettop(L) == 0);
  y = run(L, {0.5f, -0.25f});
  CHECK(y.size() == 2 && y[0] == 2 && y[1] == 0.5f);
  lua_close(L);
  if (failures) {
    std::fprintf(stderr, "cxx_host: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("cxx_host: C++ host, Lua errors back as exceptions, state usable\n");
  return 0;
}
