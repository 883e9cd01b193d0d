/* tensorslow: computational graphs and automatic differentiation for Lua 5.4.
 *
 * Public C API for programs that embed Lua. Every function here works on a
 * lua_State; the library keeps no writable global state, so any number of
 * states may use it at once, one thread each.
 *
 * Example: a host linking libtensorslow.a statically hands a C array to a
 * Lua model without copying it and reads the answer through a data pointer.
 * Work that can raise runs under lua_pcall, as lua.c's own main does.
 *
 *   #include <stdio.h>
 *   #include <lauxlib.h>
 *   #include <lua.h>
 *   #include <lualib.h>
 *   #include "tensorslow.h"
 *
 *   static const char model[] =
 *       "local ts = require 'tensorslow'\n"
 *       "local W = ts.tensor({{1, 1}, {0, 1}})\n"
 *       "return function(x) return ts.matmul(x, W) + 0.5 end\n";
 *
 *   static int run(lua_State *L) {
 *     double *x = lua_touserdata(L, 1);
 *     luaL_openlibs(L);
 *     luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
 *     lua_pop(L, 1);
 *     if (luaL_dostring(L, model) != LUA_OK) return lua_error(L);
 *     int64_t shape[2] = {2, 2};
 *     ts_pushtensor(L, TS_FLOAT64, 2, shape, x, NULL, NULL); // no copy
 *     lua_call(L, 1, 1);
 *     const ts_TensorView *y = ts_checktensor(L, -1);
 *     const double *v = y->data;
 *     printf("%g %g %g %g\n", v[0], v[1], v[2], v[3]);  // 1.5 3.5 3.5 7.5
 *     return 0;
 *   }
 *
 *   int main(void) {
 *     double x[4] = {1, 2, 3, 4};  // a batch of two rows, owned by the host
 *     lua_State *L = luaL_newstate();
 *     if (!L) return 1;
 *     lua_pushcfunction(L, run);
 *     lua_pushlightuserdata(L, x);
 *     int rc = lua_pcall(L, 1, 0, 0);
 *     if (rc != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
 *     lua_close(L);
 *     return rc != LUA_OK;
 *   }
 *
 * Build (the header is the only project file the host includes):
 *   cc host.c -I src build/libtensorslow.a $(pkg-config --cflags --libs lua5.4)
 *      -lopenblas -lcjson -lz -lm -lpthread
 * Run with the Lua part on the path, e.g. LUA_PATH='lua/?.lua;lua/?/init.lua;;'
 * (nothing to set after `make install`).
 */
#ifndef TENSORSLOW_H
#define TENSORSLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TS_API marks what the library exports. The objects are compiled with
 * hidden visibility, so only these names leave the Lua module core.so; a
 * static link (libtensorslow.a) sees them all the same. On Windows define
 * TS_BUILD_DLL when building a DLL and TS_DLL when using one. */
#if defined(_WIN32) && defined(TS_BUILD_DLL)
#define TS_API __declspec(dllexport)
#elif defined(_WIN32) && defined(TS_DLL)
#define TS_API __declspec(dllimport)
#elif defined(__GNUC__)
#define TS_API __attribute__((visibility("default")))
#else
#define TS_API
#endif

struct lua_State;

typedef enum ts_dtype {
  TS_FLOAT32 = 0,
  TS_FLOAT64 = 1,
  TS_INT64 = 2,
  TS_UINT8 = 3,
  TS_NDTYPES = 4
} ts_dtype;

/* Same contract as lua_Alloc: nsize == 0 frees ptr and returns NULL. */
typedef void *(*ts_Alloc)(void *ud, void *ptr, size_t osize, size_t nsize);

/* Called exactly once when a tensor made over a host buffer is collected. */
typedef void (*ts_Release)(void *ud, void *data);

/* A tensor as the host sees it: contiguous C-order data. */
typedef struct ts_TensorView {
  ts_dtype dtype;
  int ndim;
  const int64_t *shape; /* ndim entries, valid while the tensor lives */
  int64_t numel;
  void *data;
} ts_TensorView;

/* Opens the module "tensorslow.core": require finds it in core.so, or a
 * static host registers it with luaL_requiref(L, "tensorslow.core",
 * luaopen_tensorslow_core, 0). require "tensorslow" then loads the Lua part
 * (the files of lua/tensorslow) through package.path. */
TS_API int luaopen_tensorslow_core(struct lua_State *L);

/* Pushes a tensor over data without copying it (shape is copied). The host
 * keeps data valid until release(ud, data) is called: exactly once, when the
 * tensor is collected or at lua_close (release may be NULL: then the data
 * must outlive the state or the tensor). data must be aligned for its dtype;
 * Lua code may write into it (t:set).
 * Raises a Lua error on a bad dtype, shape or alignment or when memory runs
 * out; release is then not called and data stays the host's. */
TS_API void ts_pushtensor(struct lua_State *L, ts_dtype dtype, int ndim,
                          const int64_t *shape, void *data, ts_Release release,
                          void *ud);
/* Pushes a new tensor holding a copy of data (NULL: zero-filled); raises
 * like ts_pushtensor. */
TS_API void ts_pushtensorcopy(struct lua_State *L, ts_dtype dtype, int ndim,
                              const int64_t *shape, const void *data);
/* Returns a view of the tensor at idx, or NULL if it is not a tensor or was
 * freed (its __gc called by hand, or a view of such a tensor); never raises.
 * The view and its data stay valid while the tensor is reachable from Lua. */
TS_API const ts_TensorView *ts_totensor(struct lua_State *L, int idx);
/* Like ts_totensor but raises a Lua argument error if it is not a tensor
 * ("tensor has been freed" for a freed one). */
TS_API const ts_TensorView *ts_checktensor(struct lua_State *L, int idx);

/* Sets where the memory of tensors, graphs and plans made from now on comes
 * from: f (a host allocator; tensor data then lives outside the Lua heap) or,
 * with f NULL, the state's own allocator (lua_getallocf), the default. Each
 * object frees through the allocator it was made with, so f and ud must stay
 * valid until lua_close. Call it before luaopen_tensorslow_core to cover the
 * default graph too. A failed allocation raises "not enough memory ...". */
TS_API void ts_setallocator(struct lua_State *L, ts_Alloc f, void *ud);

#ifdef __cplusplus
}
#endif
#endif
