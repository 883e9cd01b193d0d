/* tensorslow: computational graphs and automatic differentiation for Lua 5.4.
 *
 * Public C API for programs that embed Lua. Every function here works on a
 * lua_State; the library keeps no global state, so any number of states may
 * use it at once, one thread each.
 *
 * Example: a host that links libtensorslow.a statically, hands a C array to
 * a Lua model without copying it and reads the answer back.
 *
 *   #include <lua.h>
 *   #include <lauxlib.h>
 *   #include <lualib.h>
 *   #include "tensorslow.h"
 *
 *   int main(void) {
 *     lua_State *L = luaL_newstate();
 *     luaL_openlibs(L);
 *     luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
 *     lua_pop(L, 1);
 *     if (luaL_dostring(L, "ts = require 'tensorslow'\n"
 *                          "return function(x) return (x * 2):sum() end"))
 *       return 1;
 *     double batch[4] = {1, 2, 3, 4};
 *     int64_t shape[2] = {2, 2};
 *     ts_pushtensor(L, TS_FLOAT64, 2, shape, batch, NULL, NULL); // no copy
 *     if (lua_pcall(L, 1, 1, 0) != LUA_OK) return 1;
 *     const double *y = ts_checktensor(L, -1)->data;                // 20
 *     lua_close(L);
 *   }
 *
 * Build: cc host.c -Isrc libtensorslow.a $(pkg-config --cflags --libs lua5.4)
 *          -lopenblas -lcjson -lz -lm -lpthread
 */
#ifndef TENSORSLOW_H
#define TENSORSLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TS_API __declspec(dllexport)
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

/* Opens the module "tensorslow.core" (for luaL_requiref when linked
 * statically). The Lua part, require "tensorslow", needs the files of lua/. */
TS_API int luaopen_tensorslow_core(struct lua_State *L);

/* Pushes a tensor over data without copying it. The host keeps data valid
 * until release(ud, data) is called (release may be NULL). The data must be
 * aligned for its dtype. Raises a Lua error on a bad dtype/shape. */
TS_API void ts_pushtensor(struct lua_State *L, ts_dtype dtype, int ndim,
                          const int64_t *shape, void *data, ts_Release release,
                          void *ud);
/* Pushes a new tensor holding a copy of data (may be NULL: zero-filled). */
TS_API void ts_pushtensorcopy(struct lua_State *L, ts_dtype dtype, int ndim,
                              const int64_t *shape, const void *data);
/* Returns a view of the tensor at idx, or NULL if it is not a tensor. */
TS_API const ts_TensorView *ts_totensor(struct lua_State *L, int idx);
/* Like ts_totensor but raises a Lua argument error if it is not a tensor. */
TS_API const ts_TensorView *ts_checktensor(struct lua_State *L, int idx);

/* Sets the allocator used for this state's tensor memory (NULL: the state's
 * own, lua_getallocf). Must be called before tensors are made. */
TS_API void ts_setallocator(struct lua_State *L, ts_Alloc f, void *ud);

#ifdef __cplusplus
}
#endif
#endif
