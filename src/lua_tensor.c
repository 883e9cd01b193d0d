/* The Tensor userdata: construction from Lua values, accessors, printing
 * and eager application of core ops. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

int tsb_raise_in(lua_State *L, const char *fn, const tsi_err *e) {
  const char *sep = fn ? ": " : "";
  if (!fn) fn = "";
  if (e->status == TSI_EMEM) {
    lua_pushfstring(L, "%s%s%s", fn, sep, e->msg);
    return lua_error(L);
  }
  return luaL_error(L, "%s%s%s", fn, sep, e->msg);
}

int tsb_raise(lua_State *L, const tsi_err *e) { return tsb_raise_in(L, NULL, e); }

/* ------------------------------------------------------------ creation */

static void check_dims(lua_State *L, int nd, const int64_t *shape, const char *what);

/* Sets the tensor metatable on the new inline tensor on top without
 * registering it for finalisation: its memory is its userdata's, so its
 * __gc would give nothing back (and a finaliser call per small result was
 * 7% of a small training step). Lua registers an object when its metatable
 * has __gc at the moment the metatable is set, so the field is taken out for
 * that moment. Nothing here allocates (the key keeps its slot in the table,
 * and no collection step runs in between to clear it), unless a script took
 * __gc out of core.Tensor_mt and a collection cleared its slot: putting it
 * back may then raise a memory error, which leaks nothing (the userdata is
 * Lua's). Such a tensor is freed when unreachable, like a table; __gc called
 * by hand still marks it freed. */
static const char TENSOR_MT = 'm'; /* the registry's key for {metatable, "__gc", tensor_gc} */
static void set_inline_metatable(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &TENSOR_MT); /* (no string to intern: cheaper) */
  lua_rawgeti(L, -1, 1); /* mt */
  lua_rawgeti(L, -2, 2); /* "__gc" */
  lua_pushnil(L);
  lua_rawset(L, -3); /* mt.__gc = nil */
  lua_setmetatable(L, -3);
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  lua_rawgeti(L, -3, 3); /* tensor_gc */
  lua_rawset(L, -3); /* mt.__gc back */
  lua_pop(L, 2);
}

void tsb_sync_view(tsb_tensor *u) {
  u->view.dtype = (ts_dtype)u->t.dtype;
  u->view.ndim = u->t.ndim;
  u->view.shape = u->t.shape;
  u->view.numel = u->t.numel;
  u->view.data = u->t.data;
}

tsb_tensor *tsb_newtensor(lua_State *L, int dtype, int ndim, const int64_t *shape) {
  tsi_err e;
  tsi_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  check_dims(L, ndim, shape, "tensor");
  if (tsi_set_shape(&t, ndim, shape, &e)) tsb_raise(L, &e);
  size_t nb = tsi_nbytes(&t);
  tsb_state *S = tsb_getstate(L);
  tsb_tensor *u;
  if (!S->host_alloc && nb < TSI_CACHE_MIN) {
    if (nb > SIZE_MAX - sizeof(tsb_tensor) - 64)
      luaL_error(L, "not enough memory for a tensor of %I elements", (lua_Integer)t.numel);
    luaL_checkstack(L, 4, "tensor"); /* set_inline_metatable's, before the userdata */
    u = lua_newuserdatauv(L, sizeof(tsb_tensor) + nb + 64, 0);
    memset(u, 0, sizeof *u);
    u->kind = TSB_INLINE;
    uintptr_t p = ((uintptr_t)(u + 1) + 63) & ~(uintptr_t)63;
    t.data = (void *)p;
  } else {
    /* Create the userdata first, then take the memory (nothing to leak). */
    u = lua_newuserdatauv(L, sizeof(tsb_tensor), 0);
    memset(u, 0, sizeof *u);
    u->kind = TSB_ALLOC;
    u->alloc = S->alloc;
    luaL_setmetatable(L, TSB_TENSOR);
    if (S->unarmed) tsb_arm_sentinel(L, S); /* the cache keeps blocks again */
    /* The collector learns of the block (and may finalise tensors whose
     * blocks the cache then hands out again) before it is taken. */
    lua_gc(L, LUA_GCSTEP, nb >> 10 < INT_MAX ? (int)(nb >> 10) : INT_MAX);
    t.data = tsi_cache_take(&S->cache, nb ? nb : 1);
    /* Lua's emergency collection does not run for a block taken from the
     * allocator directly: collect as it would, twice (a userdata with a
     * finaliser, as every tensor but an inline one is, is freed the cycle
     * after). The userdata is on the stack, so its own finaliser cannot run. */
    for (int i = 0; i < 2 && !t.data; i++) {
      lua_gc(L, LUA_GCCOLLECT, 0);
      t.data = tsi_cache_take(&S->cache, nb ? nb : 1);
    }
    if (!t.data && S->host_alloc)
      luaL_error(L, "not enough memory for a tensor of %I bytes", (lua_Integer)nb);
    if (!t.data) { /* Lua's own allocator: the error Lua raises when it fails */
      lua_pushliteral(L, "not enough memory");
      lua_error(L);
    }
  }
  u->t = t;
  tsb_sync_view(u);
  if (u->kind == TSB_INLINE) set_inline_metatable(L);
  return u;
}

/* A tensor whose __gc ran (by the collector, or called by hand) or a view
 * of one is an error wherever it is used: every path takes tensors here. */
int tsb_tensor_freed(lua_State *L, int idx, const tsb_tensor *u) {
  int dead = u->kind == TSB_FREED;
  if (!dead && u->kind == TSB_VIEW) {
    lua_getiuservalue(L, idx, 1);
    dead = lua_touserdata(L, -1) != u->base || u->base->kind == TSB_FREED;
    lua_pop(L, 1);
  }
  return dead;
}

static tsb_tensor *check_live(lua_State *L, int idx, tsb_tensor *u) {
  if (u && tsb_tensor_freed(L, idx, u)) {
    if (idx > 0) luaL_argerror(L, idx, "tensor has been freed");
    luaL_error(L, "tensor has been freed");
  }
  return u;
}

void *tsb_testudata_at(lua_State *L, int idx, int mt) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  int same = lua_rawequal(L, -1, mt);
  lua_pop(L, 1);
  return same ? p : NULL;
}

tsb_tensor *tsb_totensor(lua_State *L, int idx) {
  return check_live(L, idx, luaL_testudata(L, idx, TSB_TENSOR));
}

tsb_tensor *tsb_totensor_at(lua_State *L, int idx, int mt) {
  if (!mt) return tsb_totensor(L, idx);
  return check_live(L, idx, tsb_testudata_at(L, idx, mt));
}

tsb_tensor *tsb_checktensor(lua_State *L, int idx) {
  return check_live(L, idx, luaL_checkudata(L, idx, TSB_TENSOR));
}

/* Gives back the data a base owned: the host's release (once), or the
 * state's cache (blocks of the allocator it serves) or allocator. */
static void give_back(lua_State *L, tsb_tensor *u, int kind, void *data) {
  if (kind == TSB_HOST && u->release) {
    ts_Release r = u->release;
    u->release = NULL;
    r(u->release_ud, data);
  } else if (kind == TSB_ALLOC && data) {
    tsi_cache *c = &tsb_getstate(L)->cache;
    if (c->alloc.f == u->alloc.f && c->alloc.ud == u->alloc.ud)
      tsi_cache_give(c, data);
    else
      tsi_free(&u->alloc, data);
  }
}

/* __gc (and any direct call of it): the tensor is then TSB_FREED, which
 * tsb_checktensor turns into an error. A base gives its data back at once,
 * or, while views of it are left, when the last of them goes (they keep the
 * base userdata alive; the collector finalises views before their base, but a
 * script may call __gc by hand in any order). */
static int tensor_gc(lua_State *L) {
  tsb_tensor *u = luaL_checkudata(L, 1, TSB_TENSOR);
  if (u->kind == TSB_FREED) return 0;
  if (u->kind == TSB_VIEW) {
    lua_getiuservalue(L, 1, 1);
    tsb_tensor *b = lua_touserdata(L, -1) == u->base ? u->base : NULL;
    lua_pop(L, 1);
    if (b && --b->views == 0 && b->kind == TSB_FREED) {
      give_back(L, b, b->held_kind, b->held);
      b->held = NULL;
    }
  } else if (u->views > 0) {
    u->held = u->t.data;
    u->held_kind = u->kind;
  } else {
    give_back(L, u, u->kind, u->t.data);
  }
  u->kind = TSB_FREED;
  u->t.data = NULL;
  u->t.numel = 0;
  u->view.data = NULL;
  u->view.numel = 0;
  return 0;
}

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, TSB_TENSOR) != NULL);
  return 1;
}

int tsb_checkdtype(lua_State *L, int idx, int def) {
  if (lua_isnoneornil(L, idx)) return def;
  const char *s = luaL_checkstring(L, idx);
  int d = tsi_dtype_from_name(s);
  if (d < 0)
    return luaL_error(L, "unknown dtype '%s' (expected float32, float64, int64 or uint8)", s);
  return d;
}

/* ------------------------------------------- reading Lua values */
/* Every integer, integer list, shape and axis list the binding reads from Lua
 * goes through tsb_checkint / tsb_checkints; tables are read raw
 * (lua_rawlen, lua_rawgeti: __len and __index are never called), so a table
 * with a lying metatable gives its raw contents. A float with an exact
 * integer value (2^40) is an integer. */
lua_Integer tsb_checkint(lua_State *L, int idx, const char *what) {
  int ok = 0;
  lua_Integer v = 0;
  int ty = lua_type(L, idx);
  if (ty == LUA_TNUMBER) v = lua_tointegerx(L, idx, &ok);
  if (!ok) {
    if (ty == LUA_TNUMBER)
      luaL_error(L, "%s must be an integer, got %f", what, (double)lua_tonumber(L, idx));
    luaL_error(L, "%s must be an integer, got %s", what, luaL_typename(L, idx));
  }
  return v;
}

int tsb_checkints(lua_State *L, int idx, int64_t *v, int max, const char *what) {
  char buf[160];
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER) {
    v[0] = tsb_checkint(L, idx, what);
    return 1;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "%s must be an integer or a table of integers, got %s", what,
               luaL_typename(L, idx));
  lua_Unsigned n = lua_rawlen(L, idx);
  if (n > (lua_Unsigned)max)
    luaL_error(L, "%s has %I entries, more than the maximum of %d", what, (lua_Integer)n, max);
  for (int i = 0; i < (int)n; i++) {
    lua_rawgeti(L, idx, i + 1);
    snprintf(buf, sizeof buf, "%s entry %d", what, i + 1);
    v[i] = tsb_checkint(L, -1, buf);
    lua_pop(L, 1);
  }
  return (int)n;
}

int tsb_checkshape(lua_State *L, int idx, int64_t *shape, const char *what) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s: shape", what);
  return tsb_checkints(L, idx, shape, TSI_MAXDIM, buf);
}

/* Raises unless every dimension is >= 0 (what names the function). */
static void check_dims(lua_State *L, int nd, const int64_t *shape, const char *what) {
  for (int i = 0; i < nd; i++)
    if (shape[i] < 0)
      luaL_error(L, "%s: invalid dimension %I in shape (entry %d)", what, (lua_Integer)shape[i],
                 i + 1);
}

static const char *pos_str(const int64_t *idx, int depth, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < depth && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "[%lld]", (long long)idx[i] + 1);
  if (depth == 0) snprintf(buf, n, "the top level");
  return buf;
}

/* Stores the Lua number at vidx into element i; an error names it by label,
 * or when label is NULL by idx[0..depth), its position in a nested table
 * (formatted only for the error: a table of a million numbers formats none). */
#define POS(idx, depth) (label ? label : pos_str(idx, depth, pos, sizeof pos))
static void store_at(lua_State *L, tsi_tensor *t, int64_t i, int vidx, const char *label,
                     const int64_t *idx, int depth) {
  char pos[128];
  if (lua_type(L, vidx) != LUA_TNUMBER)
    luaL_error(L, "expected a number at %s, got %s", POS(idx, depth),
               luaL_typename(L, vidx));
  int isint;
  lua_Integer iv = lua_tointegerx(L, vidx, &isint);
  if (t->dtype == TS_INT64 || t->dtype == TS_UINT8) {
    if (!isint)
      luaL_error(L, "number %f at %s has no %s representation", (double)lua_tonumber(L, vidx),
                 POS(idx, depth), tsi_dtype_name(t->dtype));
    if (t->dtype == TS_UINT8 && (iv < 0 || iv > 255))
      luaL_error(L, "number %I at %s is out of range for uint8 (0..255)", iv, POS(idx, depth));
    tsi_set_i(t, i, iv);
  } else {
    tsi_set_f(t, i, (double)lua_tonumber(L, vidx));
  }
}
#undef POS
static void store_number(lua_State *L, tsi_tensor *t, int64_t i, int vidx, const char *label) {
  store_at(L, t, i, vidx, label, NULL, 0);
}

/* Shape of a nested table by following first elements, then a full walk
 * that checks raggedness and fills the data (depth <= TSI_MAXDIM). Read raw
 * like every Lua table (see tsb_checkints). */
static int table_shape(lua_State *L, int idx, int64_t *shape) {
  int nd = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (nd >= TSI_MAXDIM) luaL_error(L, "nested table is deeper than the maximum rank %d", TSI_MAXDIM);
    shape[nd++] = (int64_t)lua_rawlen(L, -1);
    if (shape[nd - 1] == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return nd;
}

static void fill_table(lua_State *L, int tidx, tsi_tensor *t, int depth, int64_t *pos,
                       int64_t *k) {
  char pb[128];
  lua_Integer n = (lua_Integer)lua_rawlen(L, tidx);
  if (depth < t->ndim && n != t->shape[depth])
    luaL_error(L, "ragged nested table at %s: expected %I elements, got %I",
               pos_str(pos, depth, pb, sizeof pb), (lua_Integer)t->shape[depth], n);
  for (lua_Integer i = 1; i <= n; i++) {
    pos[depth] = i - 1;
    lua_rawgeti(L, tidx, i);
    if (depth + 1 < t->ndim) {
      if (!lua_istable(L, -1))
        luaL_error(L, "ragged nested table at %s: expected a table, got %s",
                   pos_str(pos, depth + 1, pb, sizeof pb), luaL_typename(L, -1));
      fill_table(L, lua_gettop(L), t, depth + 1, pos, k);
    } else {
      if (lua_istable(L, -1))
        luaL_error(L, "ragged nested table at %s: expected a number, got a table",
                   pos_str(pos, depth + 1, pb, sizeof pb));
      store_at(L, t, (*k)++, lua_gettop(L), NULL, pos, depth + 1);
    }
    lua_pop(L, 1);
  }
}

tsb_tensor *tsb_value_to_tensor(lua_State *L, int idx, int dtype, const char *what) {
  idx = lua_absindex(L, idx);
  tsb_tensor *src = tsb_totensor(L, idx);
  if (src) {
    if (dtype < 0 || dtype == src->t.dtype) {
      lua_pushvalue(L, idx);
      return src;
    }
    tsb_tensor *u = tsb_newtensor(L, dtype, src->t.ndim, src->t.shape);
    tsi_convert(&u->t, &src->t);
    return u;
  }
  if (dtype < 0) dtype = TS_FLOAT64;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    tsb_tensor *u = tsb_newtensor(L, dtype, 0, NULL);
    store_number(L, &u->t, 0, idx, "the top level");
    return u;
  }
  if (lua_istable(L, idx)) {
    int64_t shape[TSI_MAXDIM], pos[TSI_MAXDIM];
    int nd = table_shape(L, idx, shape);
    tsb_tensor *u = tsb_newtensor(L, dtype, nd, shape);
    int64_t k = 0;
    fill_table(L, idx, &u->t, 0, pos, &k);
    return u;
  }
  luaL_error(L, "%s: expected a tensor, a number or a nested table, got %s", what,
             luaL_typename(L, idx));
  return NULL;
}

static int l_tensor(lua_State *L) {
  luaL_checkany(L, 1);
  int dtype = tsb_checkdtype(L, 2, -1);
  tsb_tensor *src = tsb_totensor(L, 1);
  tsb_value_to_tensor(L, 1, dtype, "tensor");
  if (src && lua_rawequal(L, -1, 1)) { /* ts.tensor(t) copies */
    tsb_tensor *u = tsb_newtensor(L, src->t.dtype, src->t.ndim, src->t.shape);
    tsi_convert(&u->t, &src->t);
  }
  return 1;
}

/* Raises unless a tensor of this shape can be counted and sized. */
static void check_numel(lua_State *L, int nd, const int64_t *shape, int dtype, const char *what) {
  tsi_tensor t;
  char sb[160];
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.ndim = nd;
  memcpy(t.shape, shape, sizeof(int64_t) * (size_t)nd);
  int64_t n = tsi_numel(nd, shape);
  if (n == -2 || (n > 0 && (uint64_t)n > SIZE_MAX / 8))
    luaL_error(L, "%s: shape %s has too many elements", what, tsi_shape_str(&t, sb, sizeof sb));
}

static tsb_tensor *new_shaped(lua_State *L, int sidx, int didx, const char *what) {
  int64_t shape[TSI_MAXDIM];
  int nd = tsb_checkshape(L, sidx, shape, what);
  int dtype = tsb_checkdtype(L, didx, TS_FLOAT64);
  check_dims(L, nd, shape, what);
  check_numel(L, nd, shape, dtype, what);
  return tsb_newtensor(L, dtype, nd, shape);
}

static void fill_value(tsi_tensor *t, double v) {
  for (int64_t i = 0; i < t->numel; i++) tsi_set_f(t, i, v);
}

static int l_zeros(lua_State *L) {
  tsb_tensor *u = new_shaped(L, 1, 2, "zeros");
  if (tsi_nbytes(&u->t)) memset(u->t.data, 0, tsi_nbytes(&u->t));
  return 1;
}

static int l_ones(lua_State *L) {
  tsb_tensor *u = new_shaped(L, 1, 2, "ones");
  fill_value(&u->t, 1);
  return 1;
}

static int l_fill(lua_State *L) {
  luaL_checknumber(L, 2);
  tsb_tensor *u = new_shaped(L, 1, 3, "fill");
  for (int64_t i = 0; i < u->t.numel; i++) store_number(L, &u->t, i, 2, "fill's value");
  return 1;
}

static int l_eye(lua_State *L) {
  lua_Integer n = tsb_checkint(L, 1, "eye: size"), m = n;
  int didx = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) m = tsb_checkint(L, 2, "eye: size"), didx = 3;
  if (n < 0 || m < 0) return luaL_error(L, "eye: size %I is negative", n < 0 ? n : m);
  int64_t shape[2] = {n, m};
  int dtype = tsb_checkdtype(L, didx, TS_FLOAT64);
  check_numel(L, 2, shape, dtype, "eye");
  tsb_tensor *u = tsb_newtensor(L, dtype, 2, shape);
  if (tsi_nbytes(&u->t)) memset(u->t.data, 0, tsi_nbytes(&u->t));
  for (lua_Integer i = 0; i < n && i < m; i++) tsi_set_f(&u->t, i * m + i, 1);
  return 1;
}

/* arange([start,] stop [, step] [, dtype]): NumPy's half-open range. For
 * int64 and uint8 every value must be representable, as in ts.tensor. */
static int l_arange(lua_State *L) {
  int nargs = lua_gettop(L);
  int dtype = TS_FLOAT64;
  if (nargs > 0 && lua_type(L, nargs) == LUA_TSTRING) dtype = tsb_checkdtype(L, nargs--, 0);
  double start = 0, stop, step = 1;
  if (nargs == 1) stop = luaL_checknumber(L, 1);
  else {
    start = luaL_checknumber(L, 1);
    stop = luaL_checknumber(L, 2);
    if (nargs >= 3) step = luaL_checknumber(L, 3);
  }
  if (isnan(start) || isnan(stop) || isnan(step))
    return luaL_error(L, "arange: start, stop and step must not be nan (got %f, %f, %f)", start,
                      stop, step);
  if (step == 0 || isinf(step))
    return luaL_error(L, "arange: step must be a non-zero number, got %f", step);
  if (isinf(start) || isinf(stop))
    return luaL_error(L, "arange: start and stop must be finite (got %f, %f)", start, stop);
  double cnt = ceil((stop - start) / step);
  if (cnt < 0) cnt = 0;
  if (cnt > 1e12) return luaL_error(L, "arange: %f elements are too many", cnt);
  int64_t n = (int64_t)cnt;
  tsb_tensor *u = tsb_newtensor(L, dtype, 1, &n);
  for (int64_t i = 0; i < n; i++) {
    double v = start + (double)i * step;
    if (!tsi_is_float(dtype)) {
      if (v != floor(v) || !(v >= -0x1p63 && v < 0x1p63))
        return luaL_error(L, "arange: value %f has no %s representation", v,
                          tsi_dtype_name(dtype));
      if (dtype == TS_UINT8 && (v < 0 || v > 255))
        return luaL_error(L, "arange: value %I is out of range for uint8 (0..255)",
                          (lua_Integer)v);
    }
    tsi_set_f(&u->t, i, v);
  }
  return 1;
}

/* rand / randn: a float tensor of draws from the state's generator. */
static int random_tensor(lua_State *L, const char *what, double (*draw)(tsi_rng *)) {
  tsb_tensor *u = new_shaped(L, 1, 2, what);
  if (!tsi_is_float(u->t.dtype))
    return luaL_error(L, "%s: dtype must be float32 or float64", what);
  tsb_state *S = tsb_getstate(L);
  for (int64_t i = 0; i < u->t.numel; i++) tsi_set_f(&u->t, i, draw(&S->rng));
  return 1;
}

static int l_rand(lua_State *L) { return random_tensor(L, "rand", tsi_rng_uniform); }
static int l_randn(lua_State *L) { return random_tensor(L, "randn", tsi_rng_normal); }

static int l_seed(lua_State *L) {
  tsi_rng_seed(&tsb_getstate(L)->rng, (uint64_t)tsb_checkint(L, 1, "seed: the seed"));
  return 0;
}

/* ------------------------------------------------------------ accessors */

static void push_elem(lua_State *L, const tsi_tensor *t, int64_t i) {
  if (tsi_is_float(t->dtype)) lua_pushnumber(L, tsi_get_f(t, i));
  else lua_pushinteger(L, tsi_get_i(t, i));
}

static void push_shape(lua_State *L, const tsi_tensor *t) {
  lua_createtable(L, t->ndim > 0 ? t->ndim : 0, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Pushes a view of the tensor at uidx (absolute): shape nd/shape, its data
 * starting `first` elements in. The new userdata shares the data of the base
 * tensor (u, or u's own base when u is a view) and keeps it alive. */
static tsb_tensor *new_view(lua_State *L, int uidx, int nd, const int64_t *shape, int64_t first) {
  tsb_tensor *r = lua_newuserdatauv(L, sizeof(tsb_tensor), 1);
  memset(r, 0, sizeof *r);
  tsb_tensor *u = tsb_checktensor(L, uidx); /* a finaliser run by the allocation may have freed it */
  r->kind = TSB_VIEW;
  r->t = u->t;
  tsi_err e;
  if (tsi_set_shape(&r->t, nd, shape, &e)) tsb_raise(L, &e);
  r->t.data = (char *)u->t.data + (size_t)first * tsi_dtype_size(u->t.dtype);
  tsb_sync_view(r);
  r->base = u->kind == TSB_VIEW ? u->base : u;
  if (u->kind == TSB_VIEW) lua_getiuservalue(L, uidx, 1);
  else lua_pushvalue(L, uidx);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, TSB_TENSOR); /* allocates nothing: the count below matches the __gc */
  r->base->views++;
  return r;
}

/* t[i] (Torch7's convention): the 0-based position of 1-based index i (at
 * kidx; negative from the end) along t's first axis. */
static int64_t first_axis_index(lua_State *L, tsb_tensor *u, int kidx, const char *what) {
  char sb[96];
  if (u->t.ndim == 0)
    luaL_error(L, "%s: a scalar tensor (shape []) has no first axis to index (t:item() gives its "
               "value)", what);
  lua_Integer i0 = tsb_checkint(L, kidx, "tensor index"), i = i0;
  int64_t n = u->t.shape[0];
  if (i < 0) i += n + 1;
  if (i < 1 || i > n)
    luaL_error(L, "%s: index %I is out of range for the first axis of size %I (tensor of shape %s; "
               "indices are 1-based, negative from the end)", what, i0, (lua_Integer)n,
               tsi_shape_str(&u->t, sb, sizeof sb));
  return (int64_t)(i - 1);
}

/* The i-th slice of u along its first axis, as a view struct (no userdata). */
static tsi_tensor row_of(const tsb_tensor *u, int64_t i) {
  tsi_tensor r = u->t;
  int64_t row = u->t.numel / u->t.shape[0];
  r.ndim = u->t.ndim - 1;
  for (int d = 0; d < r.ndim; d++) r.shape[d] = u->t.shape[d + 1];
  r.numel = row;
  r.data = (char *)u->t.data + (size_t)(i * row) * tsi_dtype_size(u->t.dtype);
  return r;
}

/* t[i] = v: a number (every element of the slice) or a tensor or table of the
 * slice's shape (converted to t's dtype). */
static int t_newindex(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  char sa[96], sb[96];
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "tensor: cannot set field %s (tensors have no fields; t[i] = v assigns "
                      "the i-th slice)", lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2)
                      : luaL_typename(L, 2));
  int64_t i = first_axis_index(L, u, 2, "t[i] = v");
  if (lua_type(L, 3) == LUA_TNUMBER) {
    tsi_tensor r = row_of(u, i);
    if (r.numel == 0) return 0;
    store_number(L, &r, 0, 3, "t[i] = v");
    size_t es = tsi_dtype_size(r.dtype);
    for (int64_t k = 1; k < r.numel; k++) memcpy((char *)r.data + (size_t)k * es, r.data, es);
    return 0;
  }
  if (!lua_istable(L, 3) && !tsb_totensor(L, 3))
    return luaL_error(L, "t[i] = v: v must be a number, a tensor or a table, got %s",
                      luaL_typename(L, 3));
  tsb_tensor *src = tsb_value_to_tensor(L, 3, u->t.dtype, "t[i] = v");
  u = tsb_checktensor(L, 1); /* re-checked after the allocation */
  src = tsb_checktensor(L, -1);
  tsi_tensor r = row_of(u, i);
  int same = src->t.ndim == r.ndim;
  for (int d = 0; same && d < r.ndim; d++) same = src->t.shape[d] == r.shape[d];
  if (!same)
    return luaL_error(L, "t[%I] = v: v has shape %s, the slice has shape %s", (lua_Integer)(i + 1),
                      tsi_shape_str(&src->t, sa, sizeof sa), tsi_shape_str(&r, sb, sizeof sb));
  if (r.numel) memmove(r.data, src->t.data, (size_t)r.numel * tsi_dtype_size(r.dtype));
  return 0;
}

static int t_index(lua_State *L) {
  /* dtype and shape stay readable once freed; methods check for themselves */
  tsb_tensor *u = luaL_checkudata(L, 1, TSB_TENSOR);
  if (lua_type(L, 2) == LUA_TNUMBER) { /* t[i]: a view of the i-th slice, a number in 1-D */
    u = tsb_checktensor(L, 1);
    int64_t i = first_axis_index(L, u, 2, "t[i]");
    if (u->t.ndim == 1) return push_elem(L, &u->t, i), 1;
    int64_t row = u->t.numel / u->t.shape[0];
    new_view(L, 1, u->t.ndim - 1, u->t.shape + 1, i * row);
    return 1;
  }
  const char *k = lua_tostring(L, 2);
  if (k && lua_type(L, 2) == LUA_TSTRING) {
    if (strcmp(k, "shape") == 0) return push_shape(L, &u->t), 1;
    if (strcmp(k, "dtype") == 0) return lua_pushstring(L, tsi_dtype_name(u->t.dtype)), 1;
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, tsb_checktensor(L, 1)->t.ndim);
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, tsb_checktensor(L, 1)->t.numel);
  return 1;
}

static int t_len(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  if (u->t.ndim == 0) return luaL_error(L, "# of a scalar tensor (rank 0) has no first axis");
  lua_pushinteger(L, u->t.shape[0]);
  return 1;
}

/* Nested tables (not elements) a walk of t makes, saturating above cap:
 * what makes printing and totable of a tensor of shape (2^40, 0) costly. */
static int64_t subarrays(const tsi_tensor *t, int64_t cap) {
  int64_t p = 1, s = 0;
  for (int d = 0; d + 1 < t->ndim; d++) {
    int64_t n = t->shape[d];
    if (n == 0) break;
    if (p > cap / n) return cap + 1;
    p *= n;
    s += p;
    if (s > cap) return cap + 1;
  }
  return s;
}

/* totable makes at most this many Lua values (tables and numbers). */
#define TOTABLE_MAX ((int64_t)1 << 27)

static void totable_rec(lua_State *L, const tsi_tensor *t, int d, int64_t *k) {
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    if (d + 1 < t->ndim) totable_rec(L, t, d + 1, k);
    else push_elem(L, t, (*k)++);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  char sb[96];
  int64_t k = 0, tabs = subarrays(&u->t, TOTABLE_MAX);
  if (tabs > TOTABLE_MAX || u->t.numel > TOTABLE_MAX - tabs)
    return luaL_error(L, "totable: a tensor of shape %s (%I elements) would make more than %I Lua "
                      "values", tsi_shape_str(&u->t, sb, sizeof sb), (lua_Integer)u->t.numel,
                      (lua_Integer)TOTABLE_MAX);
  luaL_checkstack(L, u->t.ndim + 4, "totable");
  if (u->t.ndim == 0) push_elem(L, &u->t, 0);
  else totable_rec(L, &u->t, 0, &k);
  return 1;
}

static int t_item(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  char sb[96];
  if (u->t.numel != 1)
    return luaL_error(L, "item: tensor of shape %s has %I elements, not one",
                      tsi_shape_str(&u->t, sb, sizeof sb), (lua_Integer)u->t.numel);
  push_elem(L, &u->t, 0);
  return 1;
}

/* Flat offset of 1-based indices at stack positions first..first+ndim-1. */
static int64_t flat_index(lua_State *L, tsb_tensor *u, int first, const char *what) {
  char sb[96], wb[64];
  int nargs = lua_gettop(L) - first + 1;
  if (nargs < u->t.ndim)
    luaL_error(L, "%s: tensor of shape %s needs %d indices, got %d", what,
               tsi_shape_str(&u->t, sb, sizeof sb), u->t.ndim, nargs);
  int64_t off = 0;
  for (int d = 0; d < u->t.ndim; d++) {
    snprintf(wb, sizeof wb, "%s: index %d", what, d + 1);
    lua_Integer i0 = tsb_checkint(L, first + d, wb), i = i0;
    int64_t n = u->t.shape[d];
    if (i < 0) i += n + 1;
    if (i < 1 || i > n)
      luaL_error(L, "%s: index %I is out of range for axis %d of size %I (indices are 1-based)",
                 what, i0, d + 1, (lua_Integer)n);
    off = off * n + (i - 1);
  }
  return off;
}

static int t_get(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  int64_t off = flat_index(L, u, 2, "get");
  push_elem(L, &u->t, off);
  return 1;
}

static int t_set(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  int nargs = lua_gettop(L) - 1;
  if (nargs != u->t.ndim + 1)
    return luaL_error(L, "set: expected %d indices and a value, got %d arguments", u->t.ndim,
                      nargs);
  int64_t off = flat_index(L, u, 2, "set");
  store_number(L, &u->t, off, lua_gettop(L), "set's value");
  lua_settop(L, 1);
  return 1;
}

static int t_reshape(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  int64_t shape[TSI_MAXDIM];
  char sa[96], wb[64];
  int nd;
  if (lua_istable(L, 2)) nd = tsb_checkshape(L, 2, shape, "reshape");
  else {
    nd = lua_gettop(L) - 1;
    if (nd > TSI_MAXDIM)
      return luaL_error(L, "reshape: rank %d exceeds the maximum of %d", nd, TSI_MAXDIM);
    for (int i = 0; i < nd; i++) {
      snprintf(wb, sizeof wb, "reshape: size %d", i + 1);
      shape[i] = tsb_checkint(L, i + 2, wb);
    }
  }
  int unknown = -1;
  int64_t known = 1;
  for (int i = 0; i < nd; i++) {
    if (shape[i] == -1) {
      if (unknown >= 0) return luaL_error(L, "reshape: only one dimension may be -1");
      unknown = i;
    } else if (shape[i] < 0) {
      return luaL_error(L, "reshape: invalid dimension %I", (lua_Integer)shape[i]);
    } else {
      if (shape[i] > 0 && known > INT64_MAX / shape[i])
        return luaL_error(L, "reshape: the target shape has too many elements (size %I of "
                          "entry %d overflows)", (lua_Integer)shape[i], i + 1);
      known *= shape[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || u->t.numel % known)
      return luaL_error(L, "reshape: cannot reshape a tensor of shape %s (%I elements) with a -1",
                        tsi_shape_str(&u->t, sa, sizeof sa), (lua_Integer)u->t.numel);
    shape[unknown] = u->t.numel / known;
    known = u->t.numel;
  }
  if (known != u->t.numel)
    return luaL_error(L, "reshape: cannot reshape a tensor of shape %s (%I elements) into %I "
                      "elements", tsi_shape_str(&u->t, sa, sizeof sa), (lua_Integer)u->t.numel,
                      (lua_Integer)known);
  new_view(L, 1, nd, shape, 0);
  return 1;
}

static int t_copy(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  tsb_tensor *r = tsb_newtensor(L, u->t.dtype, u->t.ndim, u->t.shape);
  tsi_convert(&r->t, &u->t);
  return 1;
}

static int t_cast(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  if (lua_isnoneornil(L, 2))
    return luaL_error(L, "cast: a target dtype is required (float32, float64, int64 or uint8)");
  int d = tsb_checkdtype(L, 2, 0);
  tsb_tensor *r = tsb_newtensor(L, d, u->t.ndim, u->t.shape);
  tsi_convert(&r->t, &u->t);
  return 1;
}

/* ------------------------------------------------------------ printing */

typedef struct fmt {
  int isint, sci;
  int width;
} fmt;

static int fmt_elem(const tsi_tensor *t, int64_t i, const fmt *f, char *buf, size_t n) {
  if (!tsi_is_float(t->dtype)) return snprintf(buf, n, "%lld", (long long)tsi_get_i(t, i));
  double v = tsi_get_f(t, i);
  if (isnan(v)) return snprintf(buf, n, "nan");
  if (isinf(v)) return snprintf(buf, n, v > 0 ? "inf" : "-inf");
  if (f->isint) return snprintf(buf, n, "%.0f", v);
  if (f->sci) return snprintf(buf, n, "%.4e", v);
  return snprintf(buf, n, "%.4f", v);
}

#define EDGE 3
/* The next printed index of an axis of size n after i (the middle of a long
 * axis is skipped, not walked, when eliding). */
static int64_t next_shown(int64_t i, int64_t n, int elide) {
  if (elide && n > 2 * EDGE && i == EDGE - 1) return n - EDGE;
  return i + 1;
}

/* Elements below axis d (0 when the tensor is empty: nothing is read). */
static int64_t stride_of(const tsi_tensor *t, int d) {
  return t->numel > 0 ? tsi_prod(t->shape, d + 1, t->ndim) : 0;
}

/* Pass 0 over the printed elements decides integer/scientific, pass 1 the
 * column width. */
static void measure_elem(const tsi_tensor *t, int64_t o, fmt *f, int pass, double *amax,
                         double *amin, int *any) {
  char buf[64];
  if (pass == 1) {
    int len = fmt_elem(t, o, f, buf, sizeof buf);
    if (len > f->width) f->width = len;
    return;
  }
  if (!tsi_is_float(t->dtype)) return;
  double v = tsi_get_f(t, o);
  if (!isfinite(v)) return;
  if (v != floor(v) || fabs(v) >= 1e15) f->isint = 0;
  double a = fabs(v);
  if (a > *amax) *amax = a;
  if (a > 0 && a < *amin) *amin = a;
  *any = 1;
}

static void measure_rec(const tsi_tensor *t, fmt *f, int pass, int d, int64_t off, int elide,
                        double *amax, double *amin, int *any) {
  int64_t n = t->shape[d], stride = stride_of(t, d);
  for (int64_t i = 0; i < n; i = next_shown(i, n, elide)) {
    if (d + 1 < t->ndim) measure_rec(t, f, pass, d + 1, off + i * stride, elide, amax, amin, any);
    else measure_elem(t, off + i * stride, f, pass, amax, amin, any);
  }
}

static void print_rec(luaL_Buffer *b, const tsi_tensor *t, const fmt *f, int d, int64_t off,
                      int elide, int indent) {
  char buf[64];
  int64_t n = t->shape[d], stride = stride_of(t, d);
  luaL_addchar(b, '[');
  for (int64_t i = 0; i < n; i = next_shown(i, n, elide)) {
    if (elide && n > 2 * EDGE && i == n - EDGE) {
      if (d + 1 == t->ndim) luaL_addstring(b, " ...,");
      else {
        luaL_addchar(b, '\n');
        for (int s = 0; s < indent + 1; s++) luaL_addchar(b, ' ');
        luaL_addstring(b, "...,");
      }
    }
    if (d + 1 == t->ndim) {
      int len = fmt_elem(t, off + i * stride, f, buf, sizeof buf);
      for (int s = len; s < f->width; s++) luaL_addchar(b, ' ');
      if (i) luaL_addchar(b, ' ');
      luaL_addlstring(b, buf, (size_t)len);
      if (i + 1 < n) luaL_addchar(b, ',');
    } else {
      if (i) {
        for (int k = d + 1; k < t->ndim; k++) luaL_addchar(b, '\n');
        for (int s = 0; s < indent + 1; s++) luaL_addchar(b, ' ');
      }
      print_rec(b, t, f, d + 1, off + i * stride, elide, indent + 1);
      if (i + 1 < n) luaL_addchar(b, ',');
    }
  }
  luaL_addchar(b, ']');
}

/* Large tensors print their first and last EDGE entries along every axis:
 * when there are over 1000 elements or over 1000 nested rows (an empty
 * tensor of shape (2^40, 0)), so printing does bounded work. */
static int t_tostring(lua_State *L) {
  tsb_tensor *u = luaL_checkudata(L, 1, TSB_TENSOR);
  if (tsb_tensor_freed(L, 1, u)) return luaL_error(L, "tostring: tensor has been freed");
  const tsi_tensor *t = &u->t;
  luaL_Buffer b;
  char buf[64], sb[96];
  int elide = t->numel > 1000 || subarrays(t, 1000) > 1000;
  fmt f = {1, 0, 0};
  double amax = 0, amin = INFINITY;
  int any = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !f.isint && any && (amax >= 1e8 || amin < 1e-4)) f.sci = 1;
    if (t->ndim == 0) measure_elem(t, 0, &f, pass, &amax, &amin, &any);
    else measure_rec(t, &f, pass, 0, 0, elide, &amax, &amin, &any);
  }
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "tensor(");
  if (t->ndim == 0) {
    fmt_elem(t, 0, &f, buf, sizeof buf);
    luaL_addstring(&b, buf);
  } else {
    print_rec(&b, t, &f, 0, 0, elide, 7);
  }
  luaL_addstring(&b, ", shape=");
  luaL_addstring(&b, tsi_shape_str(t, sb, sizeof sb));
  luaL_addstring(&b, ", dtype=");
  luaL_addstring(&b, tsi_dtype_name(t->dtype));
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* ------------------------------------------------------------ eager ops */

/* Pushes t[k] without metamethods; returns its type. */
static int rawfield(lua_State *L, int t, const char *k) {
  lua_pushstring(L, k);
  return lua_rawget(L, t);
}

void tsb_opattrs(lua_State *L, int idx, tsi_attrs *at, const char *op) {
  char wb[128];
  memset(at, 0, sizeof *at);
  at->n1 = at->n2 = -1;
  at->dtype = -1;
  if (lua_isnoneornil(L, idx)) return;
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: attributes must be a table, got %s", op, luaL_typename(L, idx));
  if (rawfield(L, idx, "axis") != LUA_TNIL) {
    snprintf(wb, sizeof wb, "%s: axis", op);
    at->has_axes = 1;
    at->naxes = tsb_checkints(L, -1, at->axes, TSI_MAXDIM, wb);
    for (int i = 0; i < at->naxes; i++) {
      if (at->axes[i] == 0)
        luaL_error(L, "%s: axis 0 is not valid (axes are 1-based; -1 is the last)", op);
      if (at->axes[i] > 0) at->axes[i]--;
    }
  }
  lua_pop(L, 1);
  rawfield(L, idx, "keepdims");
  at->keepdims = lua_toboolean(L, -1);
  rawfield(L, idx, "transpose_a");
  at->transpose_a = lua_toboolean(L, -1);
  rawfield(L, idx, "transpose_b");
  at->transpose_b = lua_toboolean(L, -1);
  lua_pop(L, 3);
  int ty = rawfield(L, idx, "dtype");
  if (ty != LUA_TNIL) {
    if (ty != LUA_TSTRING) luaL_error(L, "%s: dtype must be a string, got %s", op, luaL_typename(L, -1));
    at->dtype = tsb_checkdtype(L, -1, 0);
  }
  lua_pop(L, 1);
  static const char *const vk[2] = {"v1", "v2"};
  for (int i = 0; i < 2; i++) {
    if (rawfield(L, idx, vk[i]) != LUA_TNIL) {
      snprintf(wb, sizeof wb, "%s: attribute %s", op, vk[i]);
      int n = tsb_checkints(L, -1, i ? at->v2 : at->v1, TSI_MAXDIM, wb);
      if (i) at->n2 = n;
      else at->n1 = n;
    }
    lua_pop(L, 1);
  }
  if (rawfield(L, idx, "i1") != LUA_TNIL) {
    snprintf(wb, sizeof wb, "%s: attribute i1", op);
    at->i1 = tsb_checkint(L, -1, wb);
  }
  lua_pop(L, 1);
  static const char *const fk[4] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) {
    if (rawfield(L, idx, fk[i]) != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "%s: attribute %s must be a number, got %s", op, fk[i], luaL_typename(L, -1));
      at->f[i] = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
  }
  if (rawfield(L, idx, "seed") != LUA_TNIL) {
    snprintf(wb, sizeof wb, "%s: seed", op);
    at->seed = (uint64_t)tsb_checkint(L, -1, wb);
  }
  lua_pop(L, 1);
}

void tsb_attrs(lua_State *L, int idx, tsi_attrs *at) { tsb_opattrs(L, idx, at, "attributes"); }

static int alloc_dyn_eager(tsi_runctx *ctx, tsi_tensor *out, tsi_err *e) {
  return tsi_fail(e, TSI_EARG, "this op cannot run eagerly");
}

/* core.apply(opname, attrs, t1, t2, ...): runs one op on tensors now. */
static int l_apply(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const tsi_opdef *op = tsi_op_find(name);
  if (!op || (op->flags & (TSI_OP_SOURCE | TSI_OP_DYNAMIC | TSI_OP_STATEFUL)))
    return luaL_error(L, "unknown op '%s'", name);
  tsi_attrs at;
  tsb_opattrs(L, 2, &at, name);
  int nin = lua_gettop(L) - 2;
  if (nin > 64) return luaL_error(L, "%s: too many inputs", name);
  tsi_tensor ins[64];
  for (int i = 0; i < nin; i++) ins[i] = tsb_checktensor(L, i + 3)->t;
  tsi_node n;
  memset(&n, 0, sizeof n);
  n.op = op;
  n.name = (char *)name;
  n.attrs = &at;
  n.ninputs = nin;
  tsi_err e;
  tsi_tensor out;
  memset(&out, 0, sizeof out);
  if (nin < op->nin_min || (op->nin_max >= 0 && nin > op->nin_max))
    return luaL_error(L, "%s: wrong number of inputs (%d)", name, nin);
  if (op->infer(&n, ins, nin, &out, &e)) return tsb_raise(L, &e);
  tsb_tensor *r;
  if (op->flags & TSI_OP_NOOUTPUT) {
    r = NULL;
  } else {
    r = tsb_newtensor(L, out.dtype, out.ndim, out.shape);
    out.data = r->t.data;
  }
  tsi_runctx ctx;
  tsb_runctx(L, &ctx);
  ctx.alloc_out = alloc_dyn_eager;
  if (op->run(&ctx, &n, ins, nin, &out, &e)) return tsb_raise(L, &e);
  return r ? 1 : 0;
}

static const luaL_Reg tensor_methods[] = {
    {"dim", t_dim},       {"numel", t_numel},     {"totable", t_totable},
    {"item", t_item},     {"get", t_get},         {"set", t_set},
    {"reshape", t_reshape}, {"copy", t_copy},     {"cast", t_cast},
    {NULL, NULL}};

static const luaL_Reg tensor_meta[] = {
    {"__gc", tensor_gc},           {"__len", t_len}, {"__tostring", t_tostring},
    {"__newindex", t_newindex},    {NULL, NULL}};

static const luaL_Reg tensor_funcs[] = {
    {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones},   {"fill", l_fill},
    {"eye", l_eye},       {"arange", l_arange}, {"rand", l_rand}, {"randn", l_randn},
    {"seed", l_seed},     {"apply", l_apply},   {"is_tensor", l_is_tensor},
    {NULL, NULL}};

/* Expects the module table on top; adds the functions and
 * module.tensor_methods (the table Lua code extends). */
void tsb_open_tensor(lua_State *L) {
  luaL_setfuncs(L, tensor_funcs, 0);
  tsb_newmetatable(L, TSB_TENSOR, tensor_methods, tensor_meta, t_index);
  luaL_getmetatable(L, TSB_TENSOR);
  lua_pushstring(L, "Tensor");
  lua_setfield(L, -2, "__name_short");
  /* getmetatable(t) gives this string: scripts cannot reach __gc. */
  lua_pushstring(L, TSB_TENSOR);
  lua_setfield(L, -2, "__metatable");
  lua_createtable(L, 3, 0); /* for set_inline_metatable */
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_pushliteral(L, "__gc");
  lua_rawseti(L, -2, 2);
  lua_pushcfunction(L, tensor_gc);
  lua_rawseti(L, -2, 3);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &TENSOR_MT);
  lua_pop(L, 1);
}
