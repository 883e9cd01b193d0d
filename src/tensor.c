/* Tensors as views, shapes, dtypes, aligned memory and the random generator. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

int tsi_fail(tsi_err *e, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  e->status = status;
  return status;
}

int tsi_nomem(tsi_err *e, const char *what) {
  return tsi_fail(e, TSI_EMEM, "not enough memory for %s", what);
}

int tsi_mulsize(size_t n, size_t m, size_t *out) {
  if (m != 0 && n > SIZE_MAX / m) return 0;
  *out = n * m;
  return 1;
}

void *tsi_alloc_call(const tsi_alloc *a, void *p, size_t osize, size_t nsize) {
  void *r = a->f(a->ud, p, osize, nsize);
  if (!r && nsize > 0 && a->cache && a->cache->n > 0) {
    tsi_cache_flush(a->cache);
    r = a->f(a->ud, p, osize, nsize);
  }
  return r;
}

/* Blocks carry their raw pointer and size just below the aligned address. */
#define TSI_ALIGN 64
void *tsi_malloc(const tsi_alloc *a, size_t n) {
  size_t total;
  if (n > SIZE_MAX - 2 * TSI_ALIGN) return NULL;
  total = n + 2 * TSI_ALIGN;
  char *raw = tsi_alloc_call(a, NULL, 0, total);
  if (!raw) return NULL;
  uintptr_t p = ((uintptr_t)raw + TSI_ALIGN + TSI_ALIGN - 1) & ~(uintptr_t)(TSI_ALIGN - 1);
  void **hdr = (void **)p;
  hdr[-1] = raw;
  hdr[-2] = (void *)(uintptr_t)total;
  return (void *)p;
}

void tsi_free(const tsi_alloc *a, void *p) {
  if (!p) return;
  void **hdr = p;
  a->f(a->ud, hdr[-1], (size_t)(uintptr_t)hdr[-2], 0);
}

/* The usable bytes of a tsi_malloc block. */
static size_t block_size(void *p) {
  return (size_t)(uintptr_t)((void **)p)[-2] - 2 * TSI_ALIGN;
}

static size_t size_class(size_t n) {
  if (n < TSI_CACHE_MIN) return n;
  int b = 63 - __builtin_clzll((unsigned long long)n);
  size_t step = (size_t)1 << (b - 3);
  return n > SIZE_MAX - step ? n : (n + step - 1) & ~(step - 1);
}

void *tsi_cache_take(tsi_cache *c, size_t n) {
  size_t want = size_class(n);
  c->bypass = 0; /* an allocation: the explicit collection's finalisers are over */
  for (int i = c->n - 1; i >= 0 && want >= TSI_CACHE_MIN; i--) {
    void *p = c->blk[i];
    if (block_size(p) != want) continue;
    c->blk[i] = c->blk[--c->n];
    c->bytes -= want;
    return p;
  }
  void *p = tsi_malloc(&c->alloc, want);
  if (!p && c->n > 0) {
    tsi_cache_flush(c);
    p = tsi_malloc(&c->alloc, want);
  }
  return p;
}

void tsi_cache_give(tsi_cache *c, void *p) {
  if (!p) return;
  size_t n = block_size(p);
  if (c->bypass || n < TSI_CACHE_MIN || n > c->cap - c->bytes || c->bytes > c->cap ||
      c->n == TSI_CACHE_SLOTS) {
    tsi_free(&c->alloc, p);
    return;
  }
  c->blk[c->n++] = p;
  c->bytes += n;
}

void tsi_cache_flush(tsi_cache *c) {
  while (c->n > 0) tsi_free(&c->alloc, c->blk[--c->n]);
  c->bytes = 0;
}

static const struct {
  const char *name;
  size_t size;
} dtypes[TS_NDTYPES] = {
    {"float32", 4}, {"float64", 8}, {"int64", 8}, {"uint8", 1}};

size_t tsi_dtype_size(int d) { return dtypes[d].size; }
const char *tsi_dtype_name(int d) {
  return (d >= 0 && d < TS_NDTYPES) ? dtypes[d].name : "none";
}
int tsi_dtype_from_name(const char *s) {
  for (int i = 0; i < TS_NDTYPES; i++)
    if (strcmp(s, dtypes[i].name) == 0) return i;
  return -1;
}
int tsi_is_float(int d) { return d == TS_FLOAT32 || d == TS_FLOAT64; }

int64_t tsi_numel(int ndim, const int64_t *shape) {
  if (ndim < 0) return -1;
  int64_t n = 1;
  int unknown = 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) { unknown = 1; continue; }
    if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -2;
    n *= shape[i];
  }
  return unknown ? -1 : n;
}

int tsi_set_shape(tsi_tensor *t, int ndim, const int64_t *shape, tsi_err *e) {
  if (ndim > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "rank %d exceeds the maximum of %d", ndim, TSI_MAXDIM);
  t->ndim = ndim;
  for (int i = 0; i < ndim && i < TSI_MAXDIM; i++) t->shape[i] = shape[i];
  t->numel = tsi_numel(ndim, t->shape);
  if (t->numel == -2 || (t->numel > 0 && (uint64_t)t->numel > SIZE_MAX / 8)) {
    char sb[200];
    return tsi_fail(e, TSI_EARG, "shape %s has too many elements", tsi_shape_str(t, sb, sizeof sb));
  }
  return TSI_OK;
}

size_t tsi_nbytes(const tsi_tensor *t) {
  return t->numel > 0 ? (size_t)t->numel * tsi_dtype_size(t->dtype) : 0;
}

const char *tsi_shape_str(const tsi_tensor *t, char *buf, size_t n) {
  if (t->ndim < 0) {
    snprintf(buf, n, "<unknown>");
    return buf;
  }
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < t->ndim && k < n; i++) {
    if (t->shape[i] < 0)
      k += (size_t)snprintf(buf + k, n - k, "%s?", i ? ", " : "");
    else
      k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

int tsi_same_shape(const tsi_tensor *a, const tsi_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

double tsi_get_f(const tsi_tensor *t, int64_t i) {
  switch (t->dtype) {
    case TS_FLOAT32: return ((const float *)t->data)[i];
    case TS_FLOAT64: return ((const double *)t->data)[i];
    case TS_INT64: return (double)((const int64_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
  }
}

int64_t tsi_get_i(const tsi_tensor *t, int64_t i) {
  switch (t->dtype) {
    case TS_FLOAT32: return (int64_t)((const float *)t->data)[i];
    case TS_FLOAT64: return (int64_t)((const double *)t->data)[i];
    case TS_INT64: return ((const int64_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
  }
}

void tsi_set_f(tsi_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case TS_FLOAT32: ((float *)t->data)[i] = (float)v; break;
    case TS_FLOAT64: ((double *)t->data)[i] = v; break;
    case TS_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)(int64_t)v; break;
  }
}

void tsi_set_i(tsi_tensor *t, int64_t i, int64_t v) {
  switch (t->dtype) {
    case TS_FLOAT32: ((float *)t->data)[i] = (float)v; break;
    case TS_FLOAT64: ((double *)t->data)[i] = (double)v; break;
    case TS_INT64: ((int64_t *)t->data)[i] = v; break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
  }
}

/* One loop per (dst, src) pair: TSI_DTYPES picks dst, SRC_DTYPES src (the
 * same list twice: a macro cannot expand itself inside its expansion). */
#define SRC_DTYPES(X) \
  X(TS_FLOAT32, float) X(TS_FLOAT64, double) X(TS_INT64, int64_t) X(TS_UINT8, uint8_t)

/* Float to integer saturates (NaN gives 0): a C cast of an out-of-range
 * float is undefined behaviour. Integer to integer wraps like C. */
static inline int64_t sat_int64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775808.0) return INT64_MAX;
  if (v < -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}
static inline uint8_t sat_uint8(double v) {
  if (!(v > -1.0)) return 0; /* NaN too */
  if (v >= 255.0) return 255;
  return (uint8_t)v;
}
#define TO_INT64(x) _Generic((x), float: sat_int64(x), double: sat_int64(x), default: (int64_t)(x))
#define TO_UINT8(x) _Generic((x), float: sat_uint8(x), double: sat_uint8(x), default: (uint8_t)(x))
#define CONVERT_ONE(d, x) _Generic((d), int64_t *: TO_INT64(x), uint8_t *: TO_UINT8(x), default: (x))

#define CONVERT_FROM(SD, ST)                                        \
  case SD: {                                                        \
    const ST *restrict s = src->data;                               \
    for (int64_t i = 0; i < n; i++) d[i] = (DT)CONVERT_ONE(d, s[i]); \
  } break;

#define CONVERT_TO(DD, DTYPE, ...)                                  \
  case DD: {                                                        \
    typedef DTYPE DT;                                               \
    DT *restrict d = dst->data;                                     \
    switch (src->dtype) { SRC_DTYPES(CONVERT_FROM) }                \
  } break;

void tsi_convert(tsi_tensor *dst, const tsi_tensor *src) {
  int64_t n = src->numel;
  if (dst->dtype == src->dtype) {
    if (n > 0 && dst->data != src->data) memcpy(dst->data, src->data, tsi_nbytes(src));
    return;
  }
  switch (dst->dtype) { TSI_DTYPES(CONVERT_TO) }
}

int tsi_tensor_alloc(const tsi_alloc *a, tsi_tensor *t, tsi_err *e) {
  size_t nb = tsi_nbytes(t);
  t->data = tsi_malloc(a, nb ? nb : 1);
  if (!t->data) return tsi_nomem(e, "a tensor");
  return TSI_OK;
}

/* ---------------------------------------------------------------- rng */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void tsi_rng_seed(tsi_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tsi_rng_next(tsi_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double tsi_rng_uniform(tsi_rng *r) {
  return (double)(tsi_rng_next(r) >> 11) * 0x1.0p-53;
}

double tsi_rng_normal(tsi_rng *r) {
  double u, v, s;
  do {
    u = 2.0 * tsi_rng_uniform(r) - 1.0;
    v = 2.0 * tsi_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return u * sqrt(-2.0 * log(s) / s);
}
