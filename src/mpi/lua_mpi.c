/* tensorslow.mpi_core: Open MPI's collectives on tensors, for
 * lua/tensorslow/mpi.lua (require "tensorslow.mpi"). A module of its own,
 * linked with libmpi, built only where Open MPI is installed (mk/mpi.mk).
 *
 * Tensors are reached through the table of function pointers core.so
 * publishes as require("tensorslow.core")._capi (src/capi.h): core.so
 * exports luaopen_tensorslow_core alone.
 *
 * MPI is process-wide state (it can be initialised once per process), so it
 * is initialised on the first call that needs it and finalised when the
 * process exits, not when a lua_State closes: an on_exit handler finalises
 * after a zero exit status and calls MPI_Abort after any other, so a rank
 * whose script raised (lua5.4 exits with 1) takes the whole job down instead
 * of leaving the others blocked in a collective. No writable C globals: MPI
 * itself answers "initialised?" and "finalised?".
 *
 * Every collective first agrees on the dtype and size across ranks (one small
 * collective), so a mismatch raises the same Lua error on every rank instead
 * of corrupting memory or hanging. */
#define _GNU_SOURCE /* on_exit */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <mpi.h>

#include "../capi.h"

#define MAXDIM 16   /* header slots; tensorslow's own limit is lower */
#define CHUNK (1 << 30) /* elements per MPI call: counts are C ints */

static const ts_CApi *capi(lua_State *L) {
  return (const ts_CApi *)lua_touserdata(L, lua_upvalueindex(1));
}

static const char *const DTYPE_NAMES[] = { "float32", "float64", "int64", "uint8" };

static MPI_Datatype mpi_type(ts_dtype d) {
  switch (d) {
  case TS_FLOAT32: return MPI_FLOAT;
  case TS_FLOAT64: return MPI_DOUBLE;
  case TS_INT64: return MPI_INT64_T;
  default: return MPI_UINT8_T;
  }
}

static size_t dtype_size(ts_dtype d) {
  return d == TS_FLOAT32 ? 4 : d == TS_UINT8 ? 1 : 8;
}

static int mpi_fail(lua_State *L, const char *what, const char *call, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
  return luaL_error(L, "%s: %s failed: %s", what, call, len ? msg : "unknown MPI error");
}

/* After exit(status) or a return from main: finalise after success, abort
 * the job after a failure (the failing rank has printed its message). */
static void at_exit(int status, void *arg) {
  (void)arg;
  int fin = 0, init = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return;
  if (status == 0) {
    MPI_Finalize();
    return;
  }
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "tensorslow.mpi: rank %d exits with status %d: aborting the job\n", rank, status);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, status);
}

/* Lua loads C modules with RTLD_LOCAL, so libmpi's symbols would stay hidden
 * from the plugins Open MPI dlopens during MPI_Init (mca_*.so, which expect
 * to find them globally): opening libmpi again with RTLD_GLOBAL promotes it. */
static int libmpi_global(void) {
  void *main = dlopen(NULL, RTLD_NOW); /* the global scope alone, not this module's own */
  int found = main && dlsym(main, "ompi_mpi_comm_world") != NULL;
  if (main) dlclose(main);
  return found;
}

/* Returns whether libmpi was global when MPI_Init ran (-1: initialised before). */
static int ensure_init(lua_State *L) {
  int init = 0;
  MPI_Initialized(&init);
  if (init) return -1;
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) luaL_error(L, "tensorslow.mpi: MPI has been finalised in this process");
  if (!getenv("TS_MPI_NO_GLOBAL")) { /* the variable exists for the spec that shows why */
    void *h = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (!h) h = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
    if (!h) luaL_error(L, "tensorslow.mpi: cannot open libmpi with RTLD_GLOBAL: %s", dlerror());
  }
  /* at_exit runs after lua_close has unloaded the C modules: keep this one */
  Dl_info self;
  if (!dladdr((void *)at_exit, &self) || !self.dli_fname ||
      !dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
    luaL_error(L, "tensorslow.mpi: cannot pin its own module in memory: %s", dlerror());
  int global = libmpi_global();
  int rc = MPI_Init(NULL, NULL);
  if (rc != MPI_SUCCESS) mpi_fail(L, "tensorslow.mpi", "MPI_Init", rc);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (on_exit(at_exit, NULL)) luaL_error(L, "tensorslow.mpi: on_exit failed");
  return global;
}

/* init(): true when this call initialised MPI with libmpi global (false:
 * without, -1 → nil: MPI was initialised already). */
static int l_init(lua_State *L) {
  int g = ensure_init(L);
  if (g < 0) lua_pushnil(L);
  else lua_pushboolean(L, g);
  return 1;
}

static int l_initialized(lua_State *L) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  lua_pushboolean(L, init && !fin);
  return 1;
}

static int l_rank(lua_State *L) {
  int r;
  ensure_init(L);
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  lua_pushinteger(L, r);
  return 1;
}

static int l_size(lua_State *L) {
  int n;
  ensure_init(L);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  lua_pushinteger(L, n);
  return 1;
}

static int l_barrier(lua_State *L) {
  ensure_init(L);
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "barrier", "MPI_Barrier", rc);
  return 0;
}

static int l_wtime(lua_State *L) {
  lua_pushnumber(L, MPI_Wtime());
  return 1;
}

/* abort(message [, code]): prints the message with the rank, ends every rank. */
static int l_abort(lua_State *L) {
  const char *msg = luaL_checkstring(L, 1);
  lua_Integer code = luaL_optinteger(L, 2, 1);
  ensure_init(L);
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "tensorslow.mpi: rank %d: %s\n", rank, msg);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code > 0 && code < 256 ? (int)code : 1);
  return 0;
}

/* Whether libmpi's symbols are visible to code dlopened later (its plugins). */
static int l_libmpi_global(lua_State *L) {
  lua_pushboolean(L, libmpi_global());
  return 1;
}

static int l_library_version(lua_State *L) {
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  lua_pushlstring(L, v, (size_t)len);
  return 1;
}

/* Every rank's (dtype, numel) must agree: one MAX allreduce of (x, -x). */
static void agree(lua_State *L, const char *what, const ts_TensorView *v) {
  int64_t in[4] = { v->dtype, -(int64_t)v->dtype, v->numel, -v->numel }, out[4];
  int rc = MPI_Allreduce(in, out, 4, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, what, "MPI_Allreduce", rc);
  if (out[0] != -out[1])
    luaL_error(L, "%s: the ranks' tensors differ in dtype (this rank's: %s)", what,
               DTYPE_NAMES[v->dtype]);
  if (out[2] != -out[3])
    luaL_error(L, "%s: the ranks' tensors differ in size: %I to %I elements (this rank's: %I)",
               what, (lua_Integer)-out[3], (lua_Integer)out[2], (lua_Integer)v->numel);
}

static const char *const OPS[] = { "sum", "mean", "max", "min", NULL };

/* allreduce(t [, op]): a new tensor of t's shape, the op over every rank's t. */
static int l_allreduce(lua_State *L) {
  const ts_CApi *api = capi(L);
  const ts_TensorView *x = api->checktensor(L, 1);
  int op = luaL_checkoption(L, 2, "sum", OPS);
  if (op == 1 && x->dtype != TS_FLOAT32 && x->dtype != TS_FLOAT64)
    luaL_error(L, "allreduce: op 'mean' needs a float tensor, got %s", DTYPE_NAMES[x->dtype]);
  ensure_init(L);
  agree(L, "allreduce", x);
  api->pushtensorcopy(L, x->dtype, x->ndim, x->shape, x->data);
  const ts_TensorView *y = api->totensor(L, -1);
  MPI_Op mop = op <= 1 ? MPI_SUM : op == 2 ? MPI_MAX : MPI_MIN;
  char *p = y->data;
  for (int64_t done = 0; done < y->numel; done += CHUNK) {
    int n = (int)(y->numel - done < CHUNK ? y->numel - done : CHUNK);
    int rc = MPI_Allreduce(MPI_IN_PLACE, p + (size_t)done * dtype_size(y->dtype), n,
                           mpi_type(y->dtype), mop, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) mpi_fail(L, "allreduce", "MPI_Allreduce", rc);
  }
  if (op == 1) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (y->dtype == TS_FLOAT32) {
      float *f = y->data;
      for (int64_t i = 0; i < y->numel; i++) f[i] /= (float)size;
    } else {
      double *d = y->data;
      for (int64_t i = 0; i < y->numel; i++) d[i] /= (double)size;
    }
  }
  return 1;
}

/* allgather(t): every rank's t concatenated along the first axis, in rank
 * order (the first dimensions may differ, the others and the dtype not);
 * also returns the list of each rank's first dimension. */
static int l_allgather(lua_State *L) {
  const ts_CApi *api = capi(L);
  const ts_TensorView *x = api->checktensor(L, 1);
  if (x->ndim < 1) luaL_error(L, "allgather: expected a tensor of rank >= 1, got a scalar");
  ensure_init(L);
  int size, rank;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  /* per rank: dtype, ndim, dims; then the counts and displacements */
  size_t rec = 2 + MAXDIM;
  int64_t *hdr = lua_newuserdatauv(L, sizeof(int64_t) * rec * ((size_t)size + 1), 0);
  int *cnt = lua_newuserdatauv(L, sizeof(int) * 2 * (size_t)size, 0);
  int *disp = cnt + size;
  int64_t *mine = hdr + rec * (size_t)size;
  memset(mine, 0, sizeof(int64_t) * rec);
  mine[0] = x->dtype;
  mine[1] = x->ndim;
  for (int i = 0; i < x->ndim; i++) mine[2 + i] = x->shape[i];
  int rc = MPI_Allgather(mine, (int)rec, MPI_INT64_T, hdr, (int)rec, MPI_INT64_T, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "allgather", "MPI_Allgather", rc);
  int64_t rows = 0, inner = x->numel / (x->shape[0] ? x->shape[0] : 1);
  if (x->shape[0] == 0) { /* inner size from the other dimensions */
    inner = 1;
    for (int i = 1; i < x->ndim; i++) inner *= x->shape[i];
  }
  for (int r = 0; r < size; r++) {
    const int64_t *h = hdr + rec * (size_t)r;
    int same = h[0] == mine[0] && h[1] == mine[1];
    for (int i = 3; same && i < 2 + x->ndim; i++) same = h[i] == mine[i];
    if (!same)
      luaL_error(L, "allgather: rank %d's tensor differs from rank %d's in dtype, rank or a "
                    "dimension past the first", r, rank);
    rows += h[2];
    if (inner && (rows > INT_MAX / inner)) luaL_error(L, "allgather: the result is too large");
    cnt[r] = (int)(h[2] * inner);
    disp[r] = r ? disp[r - 1] + cnt[r - 1] : 0;
  }
  int64_t shape[MAXDIM];
  memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
  shape[0] = rows;
  api->pushtensorcopy(L, x->dtype, x->ndim, shape, NULL);
  const ts_TensorView *y = api->totensor(L, -1);
  rc = MPI_Allgatherv(x->data, cnt[rank], mpi_type(x->dtype), y->data, cnt, disp,
                      mpi_type(x->dtype), MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "allgather", "MPI_Allgatherv", rc);
  lua_createtable(L, size, 0);
  for (int r = 0; r < size; r++) {
    lua_pushinteger(L, (lua_Integer)hdr[rec * (size_t)r + 2]);
    lua_rawseti(L, -2, r + 1);
  }
  return 2;
}

/* broadcast(t, root): a new tensor holding root's t (root 0-based, as MPI
 * ranks); every rank's t must have root's dtype and shape. */
static int l_broadcast(lua_State *L) {
  const ts_CApi *api = capi(L);
  const ts_TensorView *x = api->checktensor(L, 1);
  lua_Integer root = luaL_checkinteger(L, 2);
  ensure_init(L);
  int size, rank;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (root < 0 || root >= size)
    luaL_error(L, "broadcast: root %I is not a rank (0..%d)", root, size - 1);
  int64_t hdr[2 + MAXDIM] = { x->dtype, x->ndim };
  for (int i = 0; i < x->ndim; i++) hdr[2 + i] = x->shape[i];
  int rc = MPI_Bcast(hdr, 2 + MAXDIM, MPI_INT64_T, (int)root, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "broadcast", "MPI_Bcast", rc);
  int bad = hdr[0] != x->dtype || hdr[1] != x->ndim, anybad = 0;
  for (int i = 0; !bad && i < x->ndim; i++) bad = hdr[2 + i] != x->shape[i];
  rc = MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "broadcast", "MPI_Allreduce", rc);
  if (anybad)
    luaL_error(L, "broadcast: the ranks' tensors differ from root %I's in dtype or shape%s", root,
               bad ? " (this rank's does)" : "");
  api->pushtensorcopy(L, x->dtype, x->ndim, x->shape, x->data);
  const ts_TensorView *y = api->totensor(L, -1);
  char *p = y->data;
  for (int64_t done = 0; done < y->numel; done += CHUNK) {
    int n = (int)(y->numel - done < CHUNK ? y->numel - done : CHUNK);
    rc = MPI_Bcast(p + (size_t)done * dtype_size(y->dtype), n, mpi_type(y->dtype), (int)root,
                   MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) mpi_fail(L, "broadcast", "MPI_Bcast", rc);
  }
  return 1;
}

static const luaL_Reg funcs[] = {
  { "init", l_init },           { "initialized", l_initialized },
  { "rank", l_rank },           { "size", l_size },
  { "barrier", l_barrier },     { "wtime", l_wtime },
  { "abort", l_abort },         { "library_version", l_library_version },
  { "libmpi_global", l_libmpi_global },
  { "allreduce", l_allreduce }, { "allgather", l_allgather },
  { "broadcast", l_broadcast }, { NULL, NULL },
};

int luaopen_tensorslow_mpi_core(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "tensorslow.core");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "_capi");
  const ts_CApi *api = lua_touserdata(L, -1);
  if (!api || api->version < TS_CAPI_VERSION)
    luaL_error(L, "tensorslow.mpi: tensorslow.core is too old (no _capi table version %d)",
               TS_CAPI_VERSION);
  lua_newtable(L);
  lua_pushlightuserdata(L, (void *)api);
  luaL_setfuncs(L, funcs, 1);
  return 1;
}
