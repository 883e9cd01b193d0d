/* The Tensor userdata: construction from Lua values, accessors, printing
 * and eager application of core ops. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

int tsb_raise(lua_State *L, const tsi_err *e) {
  if (e->status == TSI_EMEM) {
    lua_pushfstring(L, "%s", e->msg);
    return lua_error(L);
  }
  return luaL_error(L, "%s", e->msg);
}

/* ------------------------------------------------------------ creation */

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
  if (tsi_set_shape(&t, ndim, shape, &e)) tsb_raise(L, &e);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0) luaL_error(L, "invalid dimension %d in shape", (int)shape[i]);
  size_t nb = tsi_nbytes(&t);
  tsb_state *S = tsb_getstate(L);
  tsb_tensor *u;
  if (!S->host_alloc) {
    if (nb > SIZE_MAX - sizeof(tsb_tensor) - 64)
      luaL_error(L, "not enough memory for a tensor of %I elements", (lua_Integer)t.numel);
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
    t.data = tsi_malloc(&S->alloc, nb ? nb : 1);
    if (!t.data) luaL_error(L, "not enough memory for a tensor of %I bytes", (lua_Integer)nb);
    lua_gc(L, LUA_GCSTEP, (int)(nb >> 10));
  }
  u->t = t;
  tsb_sync_view(u);
  if (u->kind == TSB_INLINE) luaL_setmetatable(L, TSB_TENSOR);
  return u;
}

tsb_tensor *tsb_totensor(lua_State *L, int idx) {
  return luaL_testudata(L, idx, TSB_TENSOR);
}

tsb_tensor *tsb_checktensor(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, TSB_TENSOR);
}

static int tensor_gc(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  if (u->kind == TSB_HOST && u->release) {
    ts_Release r = u->release;
    u->release = NULL;
    r(u->release_ud, u->t.data);
  } else if (u->kind == TSB_ALLOC && u->t.data) {
    tsi_free(&u->alloc, u->t.data);
  }
  u->t.data = NULL;
  u->view.data = NULL;
  u->t.numel = 0;
  return 0;
}

int tsb_checkdtype(lua_State *L, int idx, int def) {
  if (lua_isnoneornil(L, idx)) return def;
  const char *s = luaL_checkstring(L, idx);
  int d = tsi_dtype_from_name(s);
  if (d < 0)
    return luaL_error(L, "unknown dtype '%s' (expected float32, float64, int64 or uint8)", s);
  return d;
}

int tsb_checkshape(lua_State *L, int idx, int64_t *shape, const char *what) {
  idx = lua_absindex(L, idx);
  if (lua_isinteger(L, idx)) {
    shape[0] = lua_tointeger(L, idx);
    if (shape[0] < 0) luaL_error(L, "%s: dimension %d is negative", what, (int)shape[0]);
    return 1;
  }
  if (!lua_istable(L, idx)) luaL_error(L, "%s: shape must be a table of sizes, got %s", what,
                                       luaL_typename(L, idx));
  lua_Integer n = luaL_len(L, idx);
  if (n > TSI_MAXDIM) luaL_error(L, "%s: rank %d exceeds the maximum of %d", what, (int)n, TSI_MAXDIM);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    int isnum;
    lua_Integer d = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "%s: shape entry %d is not an integer", what, i + 1);
    shape[i] = d;
    lua_pop(L, 1);
  }
  return (int)n;
}

/* Stores Lua number v (at a position described by pos) into element i. */
static void store_number(lua_State *L, tsi_tensor *t, int64_t i, int vidx, const char *pos) {
  int isint;
  lua_Integer iv = lua_tointegerx(L, vidx, &isint);
  if (!lua_isnumber(L, vidx) || lua_type(L, vidx) == LUA_TSTRING)
    luaL_error(L, "expected a number at %s, got %s", pos, luaL_typename(L, vidx));
  if (t->dtype == TS_INT64 || t->dtype == TS_UINT8) {
    if (!isint) {
      luaL_error(L, "number %s at %s has no %s representation", lua_tostring(L, vidx), pos,
                 tsi_dtype_name(t->dtype));
    }
    if (t->dtype == TS_UINT8 && (iv < 0 || iv > 255))
      luaL_error(L, "number %d at %s is out of range for uint8 (0..255)", (int)iv, pos);
    tsi_set_i(t, i, iv);
  } else {
    tsi_set_f(t, i, (double)lua_tonumber(L, vidx));
  }
}

static const char *pos_str(const int64_t *idx, int depth, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < depth && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "[%lld]", (long long)idx[i] + 1);
  if (depth == 0) snprintf(buf, n, "the top level");
  return buf;
}

/* Shape of a nested table by following first elements, then a full walk
 * that checks raggedness and fills the data (depth <= TSI_MAXDIM). */
static int table_shape(lua_State *L, int idx, int64_t *shape) {
  int nd = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (nd >= TSI_MAXDIM) luaL_error(L, "nested table is deeper than the maximum rank %d", TSI_MAXDIM);
    shape[nd++] = (int64_t)luaL_len(L, -1);
    if (shape[nd - 1] == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return nd;
}

static void fill_table(lua_State *L, int tidx, tsi_tensor *t, int depth, int64_t *pos,
                       int64_t *k) {
  char pb[128];
  lua_Integer n = luaL_len(L, tidx);
  if (depth < t->ndim && n != t->shape[depth])
    luaL_error(L, "ragged nested table at %s: expected %d elements, got %d",
               pos_str(pos, depth, pb, sizeof pb), (int)t->shape[depth], (int)n);
  for (lua_Integer i = 1; i <= n; i++) {
    pos[depth] = i - 1;
    lua_geti(L, tidx, i);
    if (depth + 1 < t->ndim) {
      if (!lua_istable(L, -1))
        luaL_error(L, "ragged nested table at %s: expected a table, got %s",
                   pos_str(pos, depth + 1, pb, sizeof pb), luaL_typename(L, -1));
      fill_table(L, lua_gettop(L), t, depth + 1, pos, k);
    } else {
      if (lua_istable(L, -1))
        luaL_error(L, "ragged nested table at %s: expected a number, got a table",
                   pos_str(pos, depth + 1, pb, sizeof pb));
      store_number(L, t, (*k)++, lua_gettop(L), pos_str(pos, depth + 1, pb, sizeof pb));
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

static tsb_tensor *new_shaped(lua_State *L, int sidx, int didx, const char *what) {
  int64_t shape[TSI_MAXDIM];
  int nd = tsb_checkshape(L, sidx, shape, what);
  int dtype = tsb_checkdtype(L, didx, TS_FLOAT64);
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
  lua_Integer n = luaL_checkinteger(L, 1), m = n;
  int didx = 2;
  if (lua_isinteger(L, 2)) m = lua_tointeger(L, 2), didx = 3;
  if (n < 0 || m < 0) return luaL_error(L, "eye: sizes must not be negative");
  int64_t shape[2] = {n, m};
  tsb_tensor *u = tsb_newtensor(L, tsb_checkdtype(L, didx, TS_FLOAT64), 2, shape);
  if (tsi_nbytes(&u->t)) memset(u->t.data, 0, tsi_nbytes(&u->t));
  for (lua_Integer i = 0; i < n && i < m; i++) tsi_set_f(&u->t, i * m + i, 1);
  return 1;
}

/* arange([start,] stop [, step] [, dtype]): NumPy's half-open range. */
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
  if (step == 0 || isnan(step) || isnan(start) || isnan(stop))
    return luaL_error(L, "arange: step must be a non-zero number");
  double cnt = ceil((stop - start) / step);
  if (cnt < 0) cnt = 0;
  if (cnt > 1e12) return luaL_error(L, "arange: too many elements");
  int64_t n = (int64_t)cnt;
  tsb_tensor *u = tsb_newtensor(L, dtype, 1, &n);
  for (int64_t i = 0; i < n; i++) tsi_set_f(&u->t, i, start + (double)i * step);
  return 1;
}

static int l_rand(lua_State *L) {
  tsb_tensor *u = new_shaped(L, 1, 2, "rand");
  if (!tsi_is_float(u->t.dtype)) return luaL_error(L, "rand: dtype must be float32 or float64");
  tsb_state *S = tsb_getstate(L);
  for (int64_t i = 0; i < u->t.numel; i++) tsi_set_f(&u->t, i, tsi_rng_uniform(&S->rng));
  return 1;
}

static int l_randn(lua_State *L) {
  tsb_tensor *u = new_shaped(L, 1, 2, "randn");
  if (!tsi_is_float(u->t.dtype)) return luaL_error(L, "randn: dtype must be float32 or float64");
  tsb_state *S = tsb_getstate(L);
  for (int64_t i = 0; i < u->t.numel; i++) tsi_set_f(&u->t, i, tsi_rng_normal(&S->rng));
  return 1;
}

static int l_seed(lua_State *L) {
  tsi_rng_seed(&tsb_getstate(L)->rng, (uint64_t)luaL_checkinteger(L, 1));
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

static int t_index(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
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
  int64_t k = 0;
  if (u->t.ndim == 0) push_elem(L, &u->t, 0);
  else totable_rec(L, &u->t, 0, &k);
  return 1;
}

static int t_item(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  char sb[96];
  if (u->t.numel != 1)
    return luaL_error(L, "item: tensor of shape %s has %d elements, not one",
                      tsi_shape_str(&u->t, sb, sizeof sb), (int)u->t.numel);
  push_elem(L, &u->t, 0);
  return 1;
}

/* Flat offset of 1-based indices at stack positions first..first+ndim-1. */
static int64_t flat_index(lua_State *L, tsb_tensor *u, int first, const char *what) {
  char sb[96];
  int nargs = lua_gettop(L) - first + 1;
  if (nargs < u->t.ndim)
    luaL_error(L, "%s: tensor of shape %s needs %d indices, got %d", what,
               tsi_shape_str(&u->t, sb, sizeof sb), u->t.ndim, nargs);
  int64_t off = 0;
  for (int d = 0; d < u->t.ndim; d++) {
    lua_Integer i = luaL_checkinteger(L, first + d);
    int64_t n = u->t.shape[d];
    if (i < 0) i += n + 1;
    if (i < 1 || i > n)
      luaL_error(L, "%s: index %d is out of range for axis %d of size %d (indices are 1-based)",
                 what, (int)luaL_checkinteger(L, first + d), d + 1, (int)n);
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
  char sa[96];
  int nd;
  if (lua_istable(L, 2)) nd = tsb_checkshape(L, 2, shape, "reshape");
  else {
    nd = lua_gettop(L) - 1;
    if (nd > TSI_MAXDIM) return luaL_error(L, "reshape: rank %d exceeds the maximum", nd);
    for (int i = 0; i < nd; i++) shape[i] = luaL_checkinteger(L, i + 2);
  }
  int unknown = -1;
  int64_t known = 1;
  for (int i = 0; i < nd; i++) {
    if (shape[i] == -1) {
      if (unknown >= 0) return luaL_error(L, "reshape: only one dimension may be -1");
      unknown = i;
    } else if (shape[i] < 0) {
      return luaL_error(L, "reshape: invalid dimension %d", (int)shape[i]);
    } else {
      known *= shape[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || u->t.numel % known)
      return luaL_error(L, "reshape: cannot reshape a tensor of shape %s (%d elements) with a -1",
                        tsi_shape_str(&u->t, sa, sizeof sa), (int)u->t.numel);
    shape[unknown] = u->t.numel / known;
    known = u->t.numel;
  }
  if (known != u->t.numel)
    return luaL_error(L, "reshape: cannot reshape a tensor of shape %s (%d elements) into %d elements",
                      tsi_shape_str(&u->t, sa, sizeof sa), (int)u->t.numel, (int)known);
  /* A view: the new userdata shares u's data and keeps u alive. */
  tsb_tensor *r = lua_newuserdatauv(L, sizeof(tsb_tensor), 1);
  memset(r, 0, sizeof *r);
  r->kind = TSB_VIEW;
  r->t = u->t;
  tsi_err e;
  if (tsi_set_shape(&r->t, nd, shape, &e)) return tsb_raise(L, &e);
  tsb_sync_view(r);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, TSB_TENSOR);
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
/* Is index i of an axis of size n printed (the middle is elided)? */
static int shown(int64_t i, int64_t n, int elide) {
  return !elide || n <= 2 * EDGE || i < EDGE || i >= n - EDGE;
}

static void print_rec(luaL_Buffer *b, const tsi_tensor *t, const fmt *f, int d, int64_t off,
                      int elide, int indent) {
  char buf[64];
  int64_t n = t->shape[d], stride = 1;
  for (int k = d + 1; k < t->ndim; k++) stride *= t->shape[k];
  luaL_addchar(b, '[');
  for (int64_t i = 0; i < n; i++) {
    if (!shown(i, n, elide)) {
      if (i == EDGE) {
        if (d + 1 == t->ndim) luaL_addstring(b, " ...,");
        else {
          luaL_addchar(b, '\n');
          for (int s = 0; s < indent + 1; s++) luaL_addchar(b, ' ');
          luaL_addstring(b, "...,");
        }
      }
      continue;
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

static int t_tostring(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  const tsi_tensor *t = &u->t;
  luaL_Buffer b;
  char buf[64], sb[96];
  int elide = t->numel > 1000;
  fmt f = {1, 0, 0};
  double amax = 0, amin = INFINITY;
  int any = 0;
  /* choose a format from the printed elements */
  for (int64_t i = 0; i < t->numel; i++) {
    if (!tsi_is_float(t->dtype)) break;
    double v = tsi_get_f(t, i);
    if (!isfinite(v)) continue;
    if (v != floor(v) || fabs(v) >= 1e15) f.isint = 0;
    double a = fabs(v);
    if (a > amax) amax = a;
    if (a > 0 && a < amin) amin = a;
    any = 1;
  }
  if (!f.isint && any && (amax >= 1e8 || amin < 1e-4)) f.sci = 1;
  for (int64_t i = 0; i < t->numel; i++) {
    int len = fmt_elem(t, i, &f, buf, sizeof buf);
    if (len > f.width) f.width = len;
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

static int64_t lua_axis(lua_State *L, int idx) {
  lua_Integer a = luaL_checkinteger(L, idx);
  if (a == 0) luaL_error(L, "axis 0 is not valid (axes are 1-based; -1 is the last)");
  return a > 0 ? a - 1 : a;
}

static int read_ints(lua_State *L, int idx, int64_t *v, const char *what) {
  if (lua_isinteger(L, idx)) {
    v[0] = lua_tointeger(L, idx);
    return 1;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > TSI_MAXDIM) luaL_error(L, "%s has more than %d entries", what, TSI_MAXDIM);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    int ok;
    v[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: entry %d is not an integer", what, i + 1);
    lua_pop(L, 1);
  }
  return (int)n;
}

void tsb_attrs(lua_State *L, int idx, tsi_attrs *at) {
  memset(at, 0, sizeof *at);
  at->n1 = at->n2 = -1;
  at->dtype = -1;
  if (lua_isnoneornil(L, idx)) return;
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "axis") != LUA_TNIL) {
    at->has_axes = 1;
    if (lua_istable(L, -1)) {
      at->naxes = (int)luaL_len(L, -1);
      if (at->naxes > TSI_MAXDIM) luaL_error(L, "too many axes");
      for (int i = 0; i < at->naxes; i++) {
        lua_geti(L, -1, i + 1);
        at->axes[i] = lua_axis(L, -1);
        lua_pop(L, 1);
      }
    } else {
      at->naxes = 1;
      at->axes[0] = lua_axis(L, -1);
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "keepdims");
  at->keepdims = lua_toboolean(L, -1);
  lua_getfield(L, idx, "transpose_a");
  at->transpose_a = lua_toboolean(L, -1);
  lua_getfield(L, idx, "transpose_b");
  at->transpose_b = lua_toboolean(L, -1);
  lua_pop(L, 3);
  if (lua_getfield(L, idx, "dtype") != LUA_TNIL) at->dtype = tsb_checkdtype(L, -1, 0);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "v1") != LUA_TNIL) at->n1 = read_ints(L, lua_gettop(L), at->v1, "v1");
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "v2") != LUA_TNIL) at->n2 = read_ints(L, lua_gettop(L), at->v2, "v2");
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "i1") != LUA_TNIL) at->i1 = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  static const char *const fk[4] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) {
    if (lua_getfield(L, idx, fk[i]) != LUA_TNIL) at->f[i] = luaL_checknumber(L, -1);
    lua_pop(L, 1);
  }
  if (lua_getfield(L, idx, "seed") != LUA_TNIL) at->seed = (uint64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
}

static int alloc_dyn_eager(tsi_runctx *ctx, tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)out;
  return tsi_fail(e, TSI_EARG, "this op cannot run eagerly");
}

/* core.apply(opname, attrs, t1, t2, ...): runs one op on tensors now. */
static int l_apply(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const tsi_opdef *op = tsi_op_find(name);
  if (!op || (op->flags & (TSI_OP_SOURCE | TSI_OP_DYNAMIC | TSI_OP_STATEFUL)))
    return luaL_error(L, "unknown op '%s'", name);
  tsi_attrs at;
  tsb_attrs(L, 2, &at);
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
  tsb_state *S = tsb_getstate(L);
  tsi_runctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.alloc = S->alloc;
  ctx.rng = &S->rng;
  ctx.nthreads = S->nthreads;
  ctx.blas = &S->blas;
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
    {"__gc", tensor_gc}, {"__len", t_len}, {"__tostring", t_tostring}, {NULL, NULL}};

static const luaL_Reg tensor_funcs[] = {
    {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones},   {"fill", l_fill},
    {"eye", l_eye},       {"arange", l_arange}, {"rand", l_rand}, {"randn", l_randn},
    {"seed", l_seed},     {"apply", l_apply},   {NULL, NULL}};

/* Expects the module table on top; adds the functions and
 * module.tensor_methods (the table Lua code extends). */
void tsb_open_tensor(lua_State *L) {
  luaL_setfuncs(L, tensor_funcs, 0);
  luaL_newmetatable(L, TSB_TENSOR);
  luaL_setfuncs(L, tensor_meta, 0);
  luaL_newlib(L, tensor_methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -4, "tensor_methods");
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, "Tensor");
  lua_setfield(L, -2, "__name_short");
  lua_setfield(L, -2, "Tensor_mt");
}
