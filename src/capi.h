/* The public C API of tensorslow.h as a table of function pointers, for a
 * second C module loaded beside core.so (src/mpi/lua_mpi.c): core.so exports
 * luaopen_tensorslow_core alone, so such a module cannot link against the
 * ts_* functions; require("tensorslow.core")._capi is a light userdata
 * pointing to this table instead. Append fields only (version counts them). */
#ifndef TS_CAPI_H
#define TS_CAPI_H
#include "tensorslow.h"

#define TS_CAPI_VERSION 1

typedef struct ts_CApi {
  int version;
  const ts_TensorView *(*totensor)(struct lua_State *L, int idx);
  const ts_TensorView *(*checktensor)(struct lua_State *L, int idx);
  void (*pushtensorcopy)(struct lua_State *L, ts_dtype dtype, int ndim, const int64_t *shape,
                         const void *data);
} ts_CApi;

#endif
