/* ts.io: file formats (IDX, .npy, safetensors) and the row gather behind
 * ts.data.batches. Open files and temporary files live in userdata boxes
 * marked to-be-closed, so an error anywhere (even out of memory while the
 * result is being made) closes them; the explicit closes below are the same
 * idempotent functions. */
#include <stdio.h>
#include <string.h>

#include "binding.h"
#include "io.h"

#define READER_BOX "tensorslow.io.Reader"
#define WRITER_BOX "tensorslow.io.Writer"
#define ST_BOX "tensorslow.io.Safetensors"

static int reader_close(lua_State *L) {
  tsi_reader_close(luaL_checkudata(L, 1, READER_BOX));
  return 0;
}

static int writer_close(lua_State *L) {
  tsi_writer_abort(luaL_checkudata(L, 1, WRITER_BOX));
  return 0;
}

static int st_close(lua_State *L) {
  tsi_st_close(luaL_checkudata(L, 1, ST_BOX));
  return 0;
}

static tsi_reader *new_reader(lua_State *L) {
  tsi_reader *r = lua_newuserdatauv(L, sizeof *r, 0);
  tsi_reader_init(r);
  luaL_setmetatable(L, READER_BOX);
  lua_toclose(L, -1);
  return r;
}

static tsi_writer *new_writer(lua_State *L) {
  tsi_writer *w = lua_newuserdatauv(L, sizeof *w, 0);
  tsi_writer_init(w);
  luaL_setmetatable(L, WRITER_BOX);
  lua_toclose(L, -1);
  return w;
}

/* A string the C side uses as a C string: an embedded NUL would cut it
 * silently (a file "x\0evil" written as "x"), so it is refused. */
static void check_nul(lua_State *L, const char *s, size_t n, const char *fn, const char *what) {
  size_t k = strlen(s);
  if (k != n)
    luaL_error(L, "%s: %s contains a NUL byte at position %d (after '%s')", fn, what, (int)k + 1,
               s);
}

static const char *check_path(lua_State *L, int idx, const char *fn) {
  size_t n;
  const char *s = luaL_checklstring(L, idx, &n);
  check_nul(L, s, n, fn, "file name");
  return s;
}

/* load_idx(path) -> tensor */
static int l_load_idx(lua_State *L) {
  const char *path = check_path(L, 1, "load_idx");
  tsi_reader *r = new_reader(L);
  tsi_idx_info d;
  tsi_err e;
  if (tsi_idx_open(r, path, &d, &e)) return tsb_raise_in(L, "load_idx", &e);
  tsb_tensor *u = tsb_newtensor(L, d.out.dtype, d.out.ndim, d.out.shape);
  if (tsi_idx_read(r, &d, &u->t, &e)) return tsb_raise_in(L, "load_idx", &e);
  tsi_reader_close(r);
  return 1;
}

/* load_npy(path) -> tensor */
static int l_load_npy(lua_State *L) {
  const char *path = check_path(L, 1, "load_npy");
  tsi_reader *r = new_reader(L);
  tsi_npy_info d;
  tsi_err e;
  if (tsi_npy_open(r, path, &d, &e)) return tsb_raise_in(L, "load_npy", &e);
  tsb_tensor *u = tsb_newtensor(L, d.out.dtype, d.out.ndim, d.out.shape);
  if (tsi_npy_read(r, &d, &u->t, &e)) return tsb_raise_in(L, "load_npy", &e);
  tsi_reader_close(r);
  return 1;
}

/* save_npy(path, tensor) */
static int l_save_npy(lua_State *L) {
  const char *path = check_path(L, 1, "save_npy");
  tsb_tensor *u = tsb_checktensor(L, 2);
  tsi_writer *w = new_writer(L);
  tsi_err e;
  if (tsi_writer_open(w, path, &e) || tsi_npy_write(w, &u->t, &e) || tsi_writer_commit(w, &e)) {
    tsi_writer_abort(w);
    return tsb_raise_in(L, "save_npy", &e);
  }
  return 0;
}

/* load_safetensors(path) -> {name = tensor}, {key = value} */
static int l_load_safetensors(lua_State *L) {
  const char *path = check_path(L, 1, "load_safetensors");
  tsi_st_file *f = lua_newuserdatauv(L, sizeof *f, 0);
  tsi_st_init(f);
  luaL_setmetatable(L, ST_BOX);
  lua_toclose(L, -1);
  tsi_err e;
  if (tsi_st_open(f, path, &e)) return tsb_raise_in(L, "load_safetensors", &e);
  lua_createtable(L, 0, f->n);
  int tidx = lua_gettop(L);
  for (int i = 0; i < f->n; i++) {
    const tsi_tensor *info = &f->entries[i].info;
    tsb_tensor *u = tsb_newtensor(L, info->dtype, info->ndim, info->shape);
    if (tsi_st_read(f, i, &u->t, &e)) return tsb_raise_in(L, "load_safetensors", &e);
    lua_setfield(L, tidx, f->entries[i].name);
  }
  lua_createtable(L, 0, f->nmeta);
  for (int i = 0; i < f->nmeta; i++) {
    lua_pushstring(L, f->meta[2 * i + 1]);
    lua_setfield(L, -2, f->meta[2 * i]);
  }
  tsi_st_close(f);
  return 2;
}

/* Counts the entries of the table at idx, checking keys (and values) are
 * strings or tensors as asked. */
static int count_entries(lua_State *L, int idx, int tensors, const char *what) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "save_safetensors: %s keys must be strings, got %s", what,
                 luaL_typename(L, -2));
    size_t klen, vlen;
    const char *k = lua_tolstring(L, -2, &klen);
    check_nul(L, k, klen, "save_safetensors", tensors ? "tensor name" : "metadata key");
    if (tensors && !tsb_totensor(L, -1))
      luaL_error(L, "save_safetensors: value for '%s' is not a tensor (got %s)", k,
                 luaL_typename(L, -1));
    if (tensors && strcmp(k, "__metadata__") == 0)
      luaL_error(L, "save_safetensors: '__metadata__' cannot name a tensor");
    if (!tensors && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "save_safetensors: metadata value for '%s' must be a string, got %s", k,
                 luaL_typename(L, -1));
    if (!tensors) {
      char vwhat[96];
      snprintf(vwhat, sizeof vwhat, "metadata value for '%.60s'", k);
      const char *v = lua_tolstring(L, -1, &vlen);
      check_nul(L, v, vlen, "save_safetensors", vwhat);
    }
    if (n == 1 << 24) luaL_error(L, "save_safetensors: too many %s", what);
    n++;
    lua_pop(L, 1);
  }
  return n;
}

/* save_safetensors(path, {name = tensor, ...} [, {key = "value"}]) */
static int l_save_safetensors(lua_State *L) {
  const char *path = check_path(L, 1, "save_safetensors");
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  tsi_writer *w = new_writer(L);
  tsi_err e;
  if (tsi_writer_open(w, path, &e)) return tsb_raise_in(L, "save_safetensors", &e);
  /* From here on an error closes the writer box, which removes the temp. */
  int n = count_entries(L, 2, 1, "tensor");
  int nmeta = lua_isnil(L, 3) ? 0 : count_entries(L, 3, 0, "metadata");
  const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 2 * nmeta + 1), 0);
  const char **meta = names + n;
  tsi_tensor *ts = lua_newuserdatauv(L, sizeof(tsi_tensor) * (size_t)(n + 1), 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) { /* the table anchors its keys and values */
    names[i] = lua_tostring(L, -2);
    ts[i++] = tsb_totensor(L, -1)->t;
    lua_pop(L, 1);
  }
  i = 0;
  if (nmeta) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      meta[2 * i] = lua_tostring(L, -2);
      meta[2 * i++ + 1] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  if (tsi_st_write(w, n, names, ts, nmeta, meta, &e) || tsi_writer_commit(w, &e)) {
    tsi_writer_abort(w);
    return tsb_raise_in(L, "save_safetensors", &e);
  }
  return 0;
}

/* -------------------------------------------------------- batch helpers */

/* gather_rows(dst, src, perm|nil, start, count [, scale]): rows
 * perm[start .. start+count-1] (0-based, int64) of src, or rows start.. in
 * order, converted into dst, whose first dimension becomes count. dst may
 * only shrink: its memory is reused. */
static int l_gather_rows(lua_State *L) {
  tsb_tensor *du = tsb_checktensor(L, 1), *su = tsb_checktensor(L, 2);
  tsb_tensor *pu = lua_isnil(L, 3) ? NULL : tsb_checktensor(L, 3);
  lua_Integer start = luaL_checkinteger(L, 4), count = luaL_checkinteger(L, 5);
  int has_scale = !lua_isnoneornil(L, 6);
  double scale = has_scale ? luaL_checknumber(L, 6) : 1;
  tsi_tensor *d = &du->t;
  const tsi_tensor *s = &su->t;
  if (s->ndim < 1 || d->ndim != s->ndim)
    return luaL_error(L, "gather_rows: source and destination ranks differ");
  for (int k = 1; k < s->ndim; k++)
    if (d->shape[k] != s->shape[k]) return luaL_error(L, "gather_rows: row shapes differ");
  if (has_scale && !tsi_is_float(d->dtype))
    return luaL_error(L, "gather_rows: scale needs a float destination");
  int64_t nrows = pu ? pu->t.numel : s->shape[0];
  if (pu && (pu->t.dtype != TS_INT64 || pu->t.ndim != 1))
    return luaL_error(L, "gather_rows: the order must be a 1-D int64 tensor");
  if (start < 0 || count < 0 || start > nrows || count > nrows - start)
    return luaL_error(L, "gather_rows: rows %d..%d are out of range", (int)start,
                      (int)(start + count));
  int64_t rowlen = 1;
  for (int k = 1; k < s->ndim; k++) rowlen *= s->shape[k];
  size_t des = tsi_dtype_size(d->dtype), ses = tsi_dtype_size(s->dtype);
  if ((uint64_t)count * (uint64_t)rowlen * des > tsi_nbytes(d))
    return luaL_error(L, "gather_rows: %d rows do not fit the destination", (int)count);
  const int64_t *perm = pu ? pu->t.data : NULL;
  for (int64_t r = 0; r < count; r++) {
    int64_t sr = perm ? perm[start + r] : start + r;
    if (sr < 0 || sr >= s->shape[0])
      return luaL_error(L, "gather_rows: row %d is out of range", (int)sr);
  }
  d->shape[0] = count;
  d->numel = count * rowlen;
  tsb_sync_view(du);
  for (int64_t r = 0; r < count; r++) {
    int64_t sr = perm ? perm[start + r] : start + r;
    char *dp = (char *)d->data + (size_t)(r * rowlen) * des;
    const char *sp = (const char *)s->data + (size_t)(sr * rowlen) * ses;
    if (d->dtype == s->dtype && !has_scale) {
      memcpy(dp, sp, (size_t)rowlen * des);
    } else if (s->dtype == TS_UINT8 && d->dtype == TS_FLOAT32) {
      float *o = (float *)dp, sc = (float)scale;
      for (int64_t k = 0; k < rowlen; k++) o[k] = (float)((const uint8_t *)sp)[k] * sc;
    } else {
      tsi_tensor dv = *d, sv = *s;
      dv.data = dp;
      sv.data = (void *)sp;
      for (int64_t k = 0; k < rowlen; k++) {
        if (tsi_is_float(d->dtype)) tsi_set_f(&dv, k, tsi_get_f(&sv, k) * scale);
        else tsi_set_i(&dv, k, tsi_get_i(&sv, k));
      }
    }
  }
  lua_settop(L, 1);
  return 1;
}

/* permutation(n [, seed]) -> int64 tensor of 0..n-1 in a random order, from
 * a generator of its own seeded by seed (or by ts.seed's generator). */
static int l_permutation(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0) return luaL_error(L, "permutation: negative size");
  tsi_rng rng;
  uint64_t seed = lua_isnoneornil(L, 2) ? tsi_rng_next(&tsb_getstate(L)->rng)
                                        : (uint64_t)luaL_checkinteger(L, 2);
  tsi_rng_seed(&rng, seed);
  int64_t shape[1] = {n};
  tsb_tensor *u = tsb_newtensor(L, TS_INT64, 1, shape);
  int64_t *p = u->t.data;
  for (int64_t i = 0; i < n; i++) p[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates, unbiased by rejection */
    uint64_t m = (uint64_t)i + 1, lim = UINT64_MAX - UINT64_MAX % m, x;
    do x = tsi_rng_next(&rng);
    while (x >= lim);
    int64_t j = (int64_t)(x % m), t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return 1;
}

static const tsi_xtype *check_xtype(lua_State *L, int idx, const char *fn) {
  const char *name = luaL_checkstring(L, idx);
  const tsi_xtype *x = tsi_xtype_find(name);
  if (!x) luaL_error(L, "%s: unknown element type '%s' (%s)", fn, name, tsi_xtype_names());
  return x;
}

/* from_bytes(kind, shape, bytes) -> tensor of kind's nearest dtype (io.h) */
static int l_from_bytes(lua_State *L) {
  const tsi_xtype *x = check_xtype(L, 1, "from_bytes");
  int64_t shape[TSI_MAXDIM];
  int nd = tsb_checkshape(L, 2, shape, "from_bytes: shape");
  size_t len;
  const char *b = luaL_checklstring(L, 3, &len);
  tsi_tensor info = {.dtype = x->dtype};
  tsi_err e;
  for (int i = 0; i < nd; i++)
    if (shape[i] < 0) return luaL_error(L, "from_bytes: dimension %d is %I", i + 1, (lua_Integer)shape[i]);
  if (tsi_set_shape(&info, nd, shape, &e)) return tsb_raise_in(L, "from_bytes", &e);
  if ((uint64_t)info.numel * (uint64_t)x->esize != len)
    return luaL_error(L, "from_bytes: %I bytes do not hold %I %s elements", (lua_Integer)len,
                      (lua_Integer)info.numel, x->name);
  tsb_tensor *u = tsb_newtensor(L, x->dtype, nd, shape);
  if (tsi_from_bytes(x, b, len, &u->t, &e)) return tsb_raise_in(L, "from_bytes", &e);
  return 1;
}

/* to_bytes(t [, kind]) -> string of t's elements as kind (default: t's dtype) */
static int l_to_bytes(lua_State *L) {
  tsb_tensor *u = tsb_checktensor(L, 1);
  const tsi_xtype *x = lua_isnoneornil(L, 2) ? tsi_xtype_find(tsi_dtype_name(u->t.dtype))
                                              : check_xtype(L, 2, "to_bytes");
  luaL_Buffer b;
  size_t n = (size_t)u->t.numel * (size_t)x->esize;
  char *p = luaL_buffinitsize(L, &b, n);
  u = tsb_checktensor(L, 1); /* fetched again after an allocation */
  tsi_err e;
  if (tsi_to_bytes(x, &u->t, p, &e)) return tsb_raise_in(L, "to_bytes", &e);
  luaL_pushresultsize(&b, n);
  return 1;
}

static const luaL_Reg io_funcs[] = {{"load_idx", l_load_idx},
                                    {"load_npy", l_load_npy},
                                    {"save_npy", l_save_npy},
                                    {"load_safetensors", l_load_safetensors},
                                    {"save_safetensors", l_save_safetensors},
                                    {NULL, NULL}};

static const luaL_Reg data_funcs[] = {
    {"gather_rows", l_gather_rows}, {"permutation", l_permutation}, {NULL, NULL}};

static void box_meta(lua_State *L, const char *name, lua_CFunction close) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
}

/* Expects the module table on top: adds module.io and module._data. */
void tsb_open_io(lua_State *L) {
  box_meta(L, READER_BOX, reader_close);
  box_meta(L, WRITER_BOX, writer_close);
  box_meta(L, ST_BOX, st_close);
  lua_pushcfunction(L, l_from_bytes);
  lua_setfield(L, -2, "from_bytes");
  lua_pushcfunction(L, l_to_bytes);
  lua_setfield(L, -2, "to_bytes");
  luaL_newlib(L, io_funcs);
  lua_setfield(L, -2, "io");
  luaL_newlib(L, data_funcs);
  lua_setfield(L, -2, "_data");
}
