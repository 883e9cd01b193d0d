/* The module opener, per-state data and the public C API of tensorslow.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "capi.h"

/* Registry key of the per-state data: the address of a constant object,
 * unique per process. */
static const char STATE_KEY = 's';

/* The state's __gc (at lua_close: it was marked for finalization before any
 * tensor, so it runs after theirs, and before the package library's, which
 * unloads core.so): no worker outlives it. */
static int state_gc(lua_State *L) {
  tsb_state *S = lua_touserdata(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
  if (S && lua_touserdata(L, -1) == S) { /* not a call by hand on junk */
    tsi_pool_close(&S->pool);
    tsi_cache_flush(&S->cache);
    S->cache.cap = 0; /* a tensor finalised after this frees its block */
    S->unarmed = 0;   /* and none arms a sentinel */
  }
  return 0;
}

/* Finalised at the end of each collection cycle, when it makes its
 * successor. A cycle ended by collectgarbage() (or by the host's lua_gc, no
 * Lua function running) empties the tensor cache, and the tensors finalised
 * after the sentinel in that cycle (it is the newest object with a finaliser,
 * so it goes first) free their blocks instead of keeping them (bypass, until
 * the next tensor allocation or a cycle the allocations drive): an explicit
 * collection gives memory back.
 * Cycles the allocations drive keep it. */
static int sentinel_gc(lua_State *L) {
  tsb_state *S = tsb_getstate(L);
  lua_Debug ar;
  int asked = 1;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "f", &ar)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushliteral(L, "collectgarbage");
    lua_rawget(L, -2);
    asked = lua_rawequal(L, -1, -3);
    lua_pop(L, 3);
  }
  if (asked) tsi_cache_flush(&S->cache);
  S->cache.bypass = asked;
  if (S->cache.cap) tsb_arm_sentinel(L, S);
  return 0;
}

static int arm(lua_State *L) {
  lua_newuserdatauv(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, sentinel_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  return 0;
}

/* Makes the next sentinel, in protected mode: its allocation can fail (under
 * a budget), in a finaliser, where an error is only a warning and would
 * leave no sentinel, and the cache would keep its blocks through every
 * collection. Then the cache keeps nothing (cap 0) until a tensor's block
 * (tsb_newtensor) arms one again. */
void tsb_arm_sentinel(lua_State *L, tsb_state *S) {
  lua_pushcfunction(L, arm);
  if (lua_pcall(L, 0, 0, 0) == LUA_OK) {
    S->unarmed = 0;
    S->cache.cap = TSB_CACHE_CAP;
    return;
  }
  lua_pop(L, 1);
  S->unarmed = 1;
  S->cache.cap = 0;
  tsi_cache_flush(&S->cache);
}

static tsb_state *make_state(lua_State *L) {
  tsb_state *S = lua_newuserdatauv(L, sizeof *S, 0);
  memset(S, 0, sizeof *S);
  S->blas.pool = &S->pool;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  S->alloc.f = lua_getallocf(L, &S->alloc.ud);
  S->alloc.cache = &S->cache;
  S->cache.alloc = (tsi_alloc){S->alloc.f, S->alloc.ud, NULL};
  S->cache.cap = TSB_CACHE_CAP;
  arm(L);
  tsi_rng_seed(&S->rng, 0);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  S->nthreads = cores > 0 ? (cores < 256 ? (int)cores : 256) : 1;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
  return S;
}

tsb_state *tsb_getstate(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
  tsb_state *S = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!S) S = make_state(L);
  return S;
}

void tsb_runctx(lua_State *L, tsi_runctx *ctx) { tsb_state_runctx(tsb_getstate(L), ctx); }

void tsb_state_runctx(tsb_state *S, tsi_runctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->alloc = S->alloc;
  ctx->rng = &S->rng;
  ctx->nthreads = S->nthreads;
  ctx->pool = &S->pool;
  ctx->blas = &S->blas;
}

void tsb_newmetatable(lua_State *L, const char *name, const luaL_Reg *methods,
                      const luaL_Reg *meta, lua_CFunction index) {
  const char *dot = strrchr(name, '.');
  const char *type = dot ? dot + 1 : name; /* "Graph" */
  char field[64];
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  int n = 0;
  while (methods[n].name) n++;
  lua_createtable(L, 0, n);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  snprintf(field, sizeof field, "%s_methods", type);
  field[0] = (char)tolower((unsigned char)field[0]);
  lua_setfield(L, -4, field); /* module.graph_methods */
  if (index) lua_pushcclosure(L, index, 1);
  lua_setfield(L, -2, "__index");
  snprintf(field, sizeof field, "%s_mt", type);
  lua_setfield(L, -2, field); /* module.Graph_mt */
}

static int l_get_default_graph(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, TSB_DEFAULT_GRAPH);
  return 1;
}

static int l_set_default_graph(lua_State *L) {
  tsb_checkgraph(L, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, TSB_DEFAULT_GRAPH);
  lua_settop(L, 1);
  return 1;
}

static int l_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1 || n > 256) return luaL_error(L, "set_num_threads: %d is not in 1..256", (int)n);
  tsb_getstate(L)->nthreads = (int)n;
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, tsb_getstate(L)->nthreads);
  return 1;
}

/* ts.set_matmul_kernel("auto" | "openblas"): per state, which kernel runs
 * matrix products (matmul, the convolutions' blocks, a row times a matrix):
 * "auto" is tensorslow's own kernels where the CPU has them (AVX-512F/VL;
 * AVX2+FMA for a row times a matrix), OpenBLAS elsewhere; "openblas" is
 * OpenBLAS everywhere. Products of at most 4096 multiply-adds stay in
 * tensorslow's small loops either way. */
static int l_set_matmul_kernel(lua_State *L) {
  static const char *const names[] = {"auto", "openblas", NULL};
  const char *s = luaL_checkstring(L, 1);
  int i = 0;
  while (names[i] && strcmp(names[i], s) != 0) i++;
  if (!names[i])
    return luaL_error(L, "set_matmul_kernel: '%s' is not one of 'auto', 'openblas'", s);
  tsb_getstate(L)->blas.openblas_only = i == 1;
  return 0;
}

/* ts.get_matmul_kernel(): "tensorslow" (our AVX-512 kernel runs the products)
 * or "openblas". */
static int l_get_matmul_kernel(lua_State *L) {
  int own = !tsb_getstate(L)->blas.openblas_only && tsi_have512();
  lua_pushstring(L, own ? "tensorslow" : "openblas");
  return 1;
}

/* core.cache_info(): blocks and bytes the state's tensor cache keeps (specs). */
static int l_cache_info(lua_State *L) {
  tsb_state *S = tsb_getstate(L);
  lua_pushinteger(L, S->cache.n);
  lua_pushinteger(L, (lua_Integer)S->cache.bytes);
  lua_pushinteger(L, (lua_Integer)S->cache.cap);
  return 3;
}

static int l_set_profile_builder(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, TSB_PROFILE_BUILDER);
  return 0;
}

/* ts.clock(): seconds from a monotonic clock, for progress lines and benchmarks. */
static int l_clock(lua_State *L) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  lua_pushnumber(L, (lua_Number)t.tv_sec + (lua_Number)t.tv_nsec * 1e-9);
  return 1;
}

/* core.source_hash(path): a 16-hex-digit hash of the file's bytes and length
 * (8 bytes at a time: multiply and shift), or nil when it cannot be read:
 * names the bytecode make compiled from that source (init.lua's loader), so
 * a changed source never meets an old compile. */
static int l_source_hash(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint64_t h = 0x243f6a8885a308d3ull, n = 0;
  unsigned char buf[16384];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    size_t i = 0;
    for (; i + 8 <= got; i += 8) {
      uint64_t w;
      memcpy(&w, buf + i, sizeof w);
      h = (h ^ w) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 29;
    }
    for (; i < got; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
    n += got;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return 0;
  h = (h ^ n) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 32;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  lua_pushstring(L, hex);
  return 1;
}

static const luaL_Reg module_funcs[] = {{"set_profile_builder", l_set_profile_builder},
                                        {"source_hash", l_source_hash},
                                        {"get_default_graph", l_get_default_graph},
                                        {"clock", l_clock},
                                        {"set_default_graph", l_set_default_graph},
                                        {"set_num_threads", l_set_num_threads},
                                        {"get_num_threads", l_get_num_threads},
                                        {"set_matmul_kernel", l_set_matmul_kernel},
                                        {"get_matmul_kernel", l_get_matmul_kernel},
                                        {"cache_info", l_cache_info},
                                        {NULL, NULL}};

/* The table require("tensorslow.core")._capi points to (capi.h). */
static const ts_CApi capi = { TS_CAPI_VERSION, ts_totensor, ts_checktensor, ts_pushtensorcopy };

TS_API int luaopen_tensorslow_core(lua_State *L) {
  tsb_getstate(L);
  lua_newtable(L);
  luaL_setfuncs(L, module_funcs, 0);
  tsb_open_tensor(L);
  tsb_open_graph(L);
  tsb_open_session(L);
  tsb_open_io(L);
  lua_getfield(L, LUA_REGISTRYINDEX, TSB_DEFAULT_GRAPH);
  int has = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!has) { /* one default graph exists as soon as the module loads */
    lua_getfield(L, -1, "Graph");
    lua_call(L, 0, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, TSB_DEFAULT_GRAPH);
  }
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "_VERSION");
  lua_pushlightuserdata(L, (void *)&capi);
  lua_setfield(L, -2, "_capi");
  return 1;
}

/* ------------------------------------------------------------ public API */

/* The Tensor metatable must exist before a tensor is made: without it the
 * userdata would have no __gc and a host release would never run. */
static void check_core_loaded(lua_State *L, const char *what) {
  if (luaL_getmetatable(L, TSB_TENSOR) != LUA_TTABLE)
    luaL_error(L, "%s: tensorslow.core is not open (call luaopen_tensorslow_core first)", what);
  lua_pop(L, 1);
}

static void check_args(lua_State *L, ts_dtype dtype, int ndim, const int64_t *shape,
                       const char *what) {
  if ((int)dtype < 0 || dtype >= TS_NDTYPES) luaL_error(L, "%s: bad dtype %d", what, (int)dtype);
  if (ndim < 0 || ndim > TSI_MAXDIM)
    luaL_error(L, "%s: rank %d is not in 0..%d", what, ndim, TSI_MAXDIM);
  if (ndim > 0 && !shape) luaL_error(L, "%s: shape is NULL", what);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0) luaL_error(L, "%s: dimension %d is negative", what, i + 1);
  check_core_loaded(L, what);
}

TS_API void ts_pushtensor(lua_State *L, ts_dtype dtype, int ndim, const int64_t *shape,
                          void *data, ts_Release release, void *ud) {
  tsi_err e;
  tsi_tensor t;
  memset(&t, 0, sizeof t);
  check_args(L, dtype, ndim, shape, "ts_pushtensor");
  t.dtype = dtype;
  if (tsi_set_shape(&t, ndim, shape, &e)) tsb_raise(L, &e);
  if (!data && t.numel > 0) luaL_error(L, "ts_pushtensor: data is NULL");
  if ((uintptr_t)data % tsi_dtype_size(dtype))
    luaL_error(L, "ts_pushtensor: data is not aligned for %s", tsi_dtype_name(dtype));
  /* Only this can raise now (memory): release is not called then. */
  tsb_tensor *u = lua_newuserdatauv(L, sizeof(tsb_tensor), 0);
  memset(u, 0, sizeof *u);
  u->kind = TSB_HOST;
  t.data = data;
  u->t = t;
  u->release = release;
  u->release_ud = ud;
  tsb_sync_view(u);
  luaL_setmetatable(L, TSB_TENSOR);
}

TS_API void ts_pushtensorcopy(lua_State *L, ts_dtype dtype, int ndim, const int64_t *shape,
                              const void *data) {
  check_args(L, dtype, ndim, shape, "ts_pushtensorcopy");
  tsb_tensor *u = tsb_newtensor(L, dtype, ndim, shape);
  size_t nb = tsi_nbytes(&u->t);
  if (nb) {
    if (data) memcpy(u->t.data, data, nb);
    else memset(u->t.data, 0, nb);
  }
}

TS_API const ts_TensorView *ts_totensor(lua_State *L, int idx) {
  tsb_tensor *u = luaL_testudata(L, idx, TSB_TENSOR); /* never raises for a freed one */
  return u && !tsb_tensor_freed(L, idx, u) ? &u->view : NULL;
}

/* Pushes "mod.f" when the running function is field f of a loaded module
 * (what luaL_argerror looks up for a function called without a name, e.g.
 * through pcall); returns 0, pushing nothing, otherwise. */
static int loaded_name(lua_State *L, lua_Debug *ar) {
  int top = lua_gettop(L);
  if (!lua_getinfo(L, "f", ar)) return 0;
  int fn = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, fn + 1)) { /* module name, module */
      if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) { /* field, value */
          if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
            const char *mod = lua_tostring(L, -4);
            const char *f = lua_tostring(L, -2);
            if (strcmp(mod, LUA_GNAME) == 0) lua_pushstring(L, f);
            else lua_pushfstring(L, "%s.%s", mod, f);
            lua_replace(L, top + 1);
            lua_settop(L, top + 1);
            return 1;
          }
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
  return 0;
}

/* luaL_argerror for argument arg (an absolute index), without its
 * "bad argument #N to '?'" when the function has no name: then "bad
 * argument #N (msg)", or the name it has in a loaded module. */
static int arg_error(lua_State *L, int arg, const char *msg) {
  lua_Debug ar;
  if (arg <= LUA_REGISTRYINDEX) return luaL_error(L, "%s", msg); /* a pseudo-index */
  if (!lua_getstack(L, 0, &ar)) return luaL_error(L, "bad argument #%d (%s)", arg, msg);
  lua_getinfo(L, "n", &ar);
  if (ar.name) return luaL_argerror(L, arg, msg); /* names it, minds methods' self */
  if (loaded_name(L, &ar))
    return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, lua_tostring(L, -1), msg);
  return luaL_error(L, "bad argument #%d (%s)", arg, msg);
}

/* The tensor at idx of the dtype (-1: any) and rank (-1: any), or a `bad
 * argument` error naming what was expected and what was there. */
static const ts_TensorView *check_view(lua_State *L, int idx, int dtype, int ndim) {
  int arg = lua_absindex(L, idx);
  tsb_tensor *u = luaL_testudata(L, arg, TSB_TENSOR);
  if (u && tsb_tensor_freed(L, arg, u)) return arg_error(L, arg, "tensor has been freed"), NULL;
  if (u && (dtype < 0 || u->t.dtype == dtype) && (ndim < 0 || u->t.ndim == ndim))
    return &u->view;
  /* what is there, first: arg may be past the top (no value) */
  int t;
  if (u) lua_pushfstring(L, "%s tensor of rank %d", tsi_dtype_name(u->t.dtype), u->t.ndim);
  else if ((t = luaL_getmetafield(L, arg, "__name")) != LUA_TSTRING) {
    if (t != LUA_TNIL) lua_pop(L, 1);
    lua_pushstring(L, lua_type(L, arg) == LUA_TLIGHTUSERDATA ? "light userdata"
                                                             : luaL_typename(L, arg));
  }
  if (dtype < 0 && ndim < 0) lua_pushstring(L, TSB_TENSOR);
  else if (ndim < 0) lua_pushfstring(L, "%s tensor", tsi_dtype_name(dtype));
  else if (dtype < 0) lua_pushfstring(L, "tensor of rank %d", ndim);
  else lua_pushfstring(L, "%s tensor of rank %d", tsi_dtype_name(dtype), ndim);
  return arg_error(L, arg, lua_pushfstring(L, "%s expected, got %s", lua_tostring(L, -1),
                                           lua_tostring(L, -2))),
         NULL;
}

TS_API const ts_TensorView *ts_checktensor(lua_State *L, int idx) {
  return check_view(L, idx, -1, -1);
}

TS_API const ts_TensorView *ts_checktensor_dtype(lua_State *L, int idx, ts_dtype dtype,
                                                 int ndim) {
  if ((int)dtype < 0 || dtype >= TS_NDTYPES)
    luaL_error(L, "ts_checktensor_dtype: bad dtype %d", (int)dtype);
  if (ndim < -1 || ndim > TSI_MAXDIM)
    luaL_error(L, "ts_checktensor_dtype: rank %d is not -1 (any) or in 0..%d", ndim, TSI_MAXDIM);
  return check_view(L, idx, (int)dtype, ndim);
}

TS_API void ts_setallocator(lua_State *L, ts_Alloc f, void *ud) {
  tsb_state *S = tsb_getstate(L);
  if (f) {
    S->alloc.f = f;
    S->alloc.ud = ud;
    S->host_alloc = 1;
  } else {
    S->alloc.f = lua_getallocf(L, &S->alloc.ud);
    S->host_alloc = 0;
  }
  tsi_cache_flush(&S->cache); /* its blocks came from the allocator before */
  S->alloc.cache = &S->cache;
  S->cache.alloc = (tsi_alloc){S->alloc.f, S->alloc.ud, NULL};
}
