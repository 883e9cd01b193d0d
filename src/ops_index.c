/* Index ops: gathers and scatters by index tensors, top_k, cumsum, bands,
 * broadcast_to and reversals (lua/tensorslow/index.lua publishes them).
 *
 * Indices are int64 or uint8 and, as everywhere in tensorslow, 1-based with
 * negative ones counting from the end (-1 is the last); they are data, so
 * they are checked while running and an index out of range is an error
 * naming the op. Attributes (the Lua wrappers convert 1-based axes):
 *   gather_nd                (x, indices) i1 = batch_dims
 *   tensor_scatter_nd_<r>    (data, indices, updates) i1 = batch_dims;
 *                            r = update, add, mul, max, min; duplicate
 *                            indices are applied in order (update: last wins)
 *   gather_elements          (x, indices) axis (torch.gather)
 *   scatter_elements         (data, indices, updates) axis, i1 = reduction
 *                            (0 update, 1 add, 2 mul, 3 max, 4 min)
 *   top_k_indices            (x) i1 = k, axis, v1 = {largest, sorted}: int64
 *                            1-based positions of the k largest (smallest)
 *                            along axis, ties in index order, NaN largest;
 *                            k = -1: all of them (argsort)
 *   cumsum                   (x) axis, v1 = {exclusive, reverse}
 *   matrix_band_part         (x) v1 = {lo, hi}: keeps x[..., i, j] where
 *                            lo <= j - i <= hi, zeros elsewhere
 *   broadcast_to             (x) v1 = shape (NumPy broadcasting of both)
 *   reverse                  (x) axis (a list)
 *   reverse_sequence         (x, lengths) v1 = {seq_axis, batch_axis} 0-based:
 *                            the first lengths[b] entries along seq_axis of
 *                            each batch entry b reversed
 *   where_indices            (x) int64 [count, rank]: the 1-based positions
 *                            of x's nonzero entries in C order (TSI_OP_DYNAMIC)
 *   unique                   (x) axis (none: x flattened), v1 = {sorted},
 *                            i1 = the output: 0 the 1-based first position
 *                            of each unique slice along axis, 1 each slice's
 *                            1-based place among them, 2 their counts
 *                            (TSI_OP_DYNAMIC; the three nodes of ts.unique
 *                            each sort the slices) */
#include <string.h>

#include "ops.h"

#define IDX_DTYPES ((1u << TS_INT64) | (1u << TS_UINT8))

enum { RED_UPDATE, RED_ADD, RED_MUL, RED_MAX, RED_MIN, RED_COUNT };

/* combine_<dtype>: dst[i] = dst[i] (op) src[i] for i < n, every dtype. */
typedef void (*combine_fn)(void *dst, const void *src, int64_t n, int red);
#define DEF_COMBINE(E, T, S, ...)                                           \
  static void combine_##S(void *dv, const void *sv, int64_t n, int red) {  \
    T *restrict d = dv;                                                     \
    const T *restrict s = sv;                                               \
    switch (red) {                                                          \
    case RED_ADD: for (int64_t i = 0; i < n; i++) d[i] = (T)(d[i] + s[i]); break; \
    case RED_MUL: for (int64_t i = 0; i < n; i++) d[i] = (T)(d[i] * s[i]); break; \
    case RED_MAX: for (int64_t i = 0; i < n; i++) d[i] = s[i] > d[i] || s[i] != s[i] ? s[i] : d[i]; break; \
    case RED_MIN: for (int64_t i = 0; i < n; i++) d[i] = s[i] < d[i] || s[i] != s[i] ? s[i] : d[i]; break; \
    default: memcpy(d, s, (size_t)n * sizeof(T));                           \
    }                                                                       \
  }
TSI_DTYPES(DEF_COMBINE)
static const tsi_kernels k_combine = TSI_KERNELS_ALL(combine);

/* The index at j of ix (1-based, negative from the end) as a 0-based position
 * in [0, dim), or an error naming the op, the axis and its size. */
static int get_index(const tsi_node *n, const tsi_tensor *ix, int64_t j, int64_t dim, int axis,
                     int64_t *out, tsi_err *e) {
  char nb[128];
  int64_t k = tsi_get_i(ix, j);
  if (k >= 1 && k <= dim) *out = k - 1;
  else if (k < 0 && k >= -dim) *out = k + dim;
  else
    return tsi_fail(e, TSI_EARG,
                    "%s: index %lld is out of range for axis %d of size %lld (indices are "
                    "1-based, negative from the end)",
                    OPN(n), (long long)k, axis + 1, (long long)dim);
  return TSI_OK;
}

static int check_indices(const tsi_node *n, const tsi_tensor *ix, tsi_err *e) {
  char nb[128];
  if (ix->dtype == TS_INT64 || ix->dtype == TS_UINT8) return TSI_OK;
  return tsi_fail(e, TSI_EARG, "%s: indices must be int64 or uint8, got %s", OPN(n),
                  tsi_dtype_name(ix->dtype));
}

static int64_t attr_i1(const tsi_node *n) { return n->attrs ? n->attrs->i1 : 0; }

/* v1[i] when given, else def. */
static int64_t attr_v1(const tsi_node *n, int i, int64_t def) {
  return n->attrs && n->attrs->n1 > i ? n->attrs->v1[i] : def;
}

/* The one axis of n (def when none) normalised for rank nd. */
static int one_axis(const tsi_node *n, int nd, int64_t def, int64_t *ax, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  if (at && at->has_axes && at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required, got %d", OPN(n), at->naxes);
  return tsi_norm_axis(n, at && at->has_axes ? at->axes[0] : def, nd, ax, e);
}

/* Copies the input's bytes to out unless they are the same buffer. */
static void copy_in(tsi_tensor *out, const tsi_tensor *x) {
  size_t nb = tsi_nbytes(x);
  if (nb && out->data != x->data) memcpy(out->data, x->data, nb);
}

/* ------------------------------------------------- gather_nd, scatter_nd */

/* The scatter ops' impl: the combine kernels, then the reduction. */
typedef struct scatter_impl {
  tsi_kernels k;
  int red;
} scatter_impl;

/* Checks x against indices (with batch dims b) and gives the shape of the
 * slices gathered: indices.shape[:-1] + x.shape[b + q:]. *unknown when the
 * ranks or q are not known yet. */
static int nd_shape(const tsi_node *n, const tsi_tensor *x, const tsi_tensor *ix, int *nd,
                    int64_t *shape, int *unknown, tsi_err *e) {
  char nb[128], sx[96], si[96];
  int st = check_indices(n, ix, e);
  if (st) return st;
  int64_t b = attr_i1(n);
  *unknown = 1;
  if (x->ndim < 0 || ix->ndim < 0) return TSI_OK;
  if (ix->ndim < 1)
    return tsi_fail(e, TSI_EARG, "%s: indices must have rank 1 or more, got shape %s", OPN(n),
                    SHP(ix, si));
  if (b < 0 || b >= ix->ndim || b > x->ndim)
    return tsi_fail(e, TSI_EARG, "%s: batch_dims %lld is out of range for indices %s and x %s",
                    OPN(n), (long long)b, SHP(ix, si), SHP(x, sx));
  int64_t q = ix->shape[ix->ndim - 1];
  if (q < 0) return TSI_OK;
  if (b + q > x->ndim)
    return tsi_fail(e, TSI_EARG,
                    "%s: index rows of %lld entries (indices %s) are too long for x of shape %s"
                    "%s",
                    OPN(n), (long long)q, SHP(ix, si), SHP(x, sx), b ? " after its batch dims" : "");
  for (int d = 0; d < b; d++)
    if (x->shape[d] >= 0 && ix->shape[d] >= 0 && x->shape[d] != ix->shape[d])
      return tsi_fail(e, TSI_EARG, "%s: batch dim %d differs: x %s, indices %s", OPN(n), d + 1,
                      SHP(x, sx), SHP(ix, si));
  int k = 0;
  if (ix->ndim - 1 + x->ndim - (int)(b + q) > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: the result would exceed the maximum rank %d", OPN(n),
                    TSI_MAXDIM);
  for (int d = 0; d < ix->ndim - 1; d++) shape[k++] = ix->shape[d];
  for (int d = (int)(b + q); d < x->ndim; d++) shape[k++] = x->shape[d];
  *nd = k;
  *unknown = 0;
  return TSI_OK;
}

/* The walk shared by gather_nd and the scatters: for each of rows = B * M
 * index rows, the element offset in x of the slice of T elements it names. */
typedef struct nd_walk {
  int64_t rows, T, q, b, per_batch, M;
  int64_t stride[TSI_MAXDIM];
} nd_walk;

static void nd_walk_make(const tsi_node *n, const tsi_tensor *x, const tsi_tensor *ix,
                         nd_walk *w) {
  w->b = attr_i1(n);
  w->q = ix->shape[ix->ndim - 1];
  w->T = tsi_prod(x->shape, (int)(w->b + w->q), x->ndim);
  w->per_batch = tsi_prod(x->shape, (int)w->b, x->ndim);
  w->M = tsi_prod(ix->shape, (int)w->b, ix->ndim - 1);
  w->rows = tsi_prod(ix->shape, 0, ix->ndim - 1);
  for (int j = (int)w->q - 1; j >= 0; j--)
    w->stride[j] = j == w->q - 1 ? w->T : w->stride[j + 1] * x->shape[w->b + j + 1];
}

static int nd_offset(const tsi_node *n, const tsi_tensor *x, const tsi_tensor *ix,
                     const nd_walk *w, int64_t r, int64_t *off, tsi_err *e) {
  int64_t o = w->M ? r / w->M * w->per_batch : 0;
  for (int64_t j = 0; j < w->q; j++) {
    int64_t p = 0;
    int ax = (int)(w->b + j);
    int st = get_index(n, ix, r * w->q + j, x->shape[ax], ax, &p, e);
    if (st) return st;
    o += p * w->stride[j];
  }
  *off = o;
  return TSI_OK;
}

static int infer_gather_nd(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                           tsi_err *e) {
  int64_t shape[TSI_MAXDIM];
  int nd, unknown, st = nd_shape(n, &ins[0], &ins[1], &nd, shape, &unknown, e);
  if (st) return st;
  if (unknown) return tsi_unknown_rank(out, ins[0].dtype);
  out->dtype = ins[0].dtype;
  return tsi_out_shape(n, out, nd, shape, e);
}

static int run_gather_nd(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                         tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0], *ix = &ins[1];
  nd_walk w;
  nd_walk_make(n, x, ix, &w);
  size_t es = tsi_dtype_size(x->dtype), row = (size_t)w.T * es;
  for (int64_t r = 0; r < w.rows; r++) {
    int64_t off;
    int st = nd_offset(n, x, ix, &w, r, &off, e);
    if (st) return st;
    if (row) memcpy((char *)out->data + (size_t)r * row, (const char *)x->data + (size_t)off * es, row);
  }
  return TSI_OK;
}

static int infer_scatter_nd(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                            tsi_err *e) {
  char nb[128], su[96], sw[96];
  const tsi_tensor *x = &ins[0], *u = &ins[2];
  int st = tsi_same_dtype(n, (const tsi_tensor[]){*x, *u}, 2, e);
  if (st) return st;
  if (!tsi_kernel(n, &k_combine, x->dtype, e)) return e->status;
  int64_t shape[TSI_MAXDIM];
  int nd, unknown;
  if ((st = nd_shape(n, x, &ins[1], &nd, shape, &unknown, e))) return st;
  if (!unknown && u->ndim >= 0) {
    int ok = u->ndim == nd;
    for (int d = 0; ok && d < nd; d++)
      ok = u->shape[d] < 0 || shape[d] < 0 || u->shape[d] == shape[d];
    if (!ok) {
      tsi_tensor want = {0};
      tsi_set_shape(&want, nd, shape, e);
      return tsi_fail(e, TSI_EARG, "%s: updates have shape %s, the indices and data need %s",
                      OPN(n), SHP(u, su), SHP(&want, sw));
    }
  }
  *out = *x;
  out->data = NULL;
  return TSI_OK;
}

static int run_scatter_nd(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0], *ix = &ins[1], *u = &ins[2];
  int red = ((const scatter_impl *)n->op->impl)->red;
  combine_fn f = (combine_fn)tsi_kernel(n, &k_combine, x->dtype, e);
  if (!f) return e->status;
  nd_walk w;
  nd_walk_make(n, x, ix, &w);
  if (u->numel != w.rows * w.T) {
    char nb[128], su[96];
    return tsi_fail(e, TSI_EARG, "%s: updates of shape %s do not match the indices and data",
                    OPN(n), SHP(u, su));
  }
  /* every index is checked before out is written */
  for (int64_t r = 0; r < w.rows; r++) {
    int64_t off;
    int st = nd_offset(n, x, ix, &w, r, &off, e);
    if (st) return st;
  }
  copy_in(out, x);
  size_t es = tsi_dtype_size(x->dtype);
  for (int64_t r = 0; r < w.rows && w.T; r++) {
    int64_t off = 0;
    nd_offset(n, x, ix, &w, r, &off, e);
    f((char *)out->data + (size_t)off * es, (const char *)u->data + (size_t)(r * w.T) * es, w.T,
      red);
  }
  return TSI_OK;
}

/* ----------------------------------------- gather_elements, scatter_elements */

/* indices of x's rank whose dims fit x's outside axis (torch.gather's rule). */
static int check_elements(const tsi_node *n, const tsi_tensor *x, const tsi_tensor *ix,
                          int64_t ax, tsi_err *e) {
  char nb[128], sx[96], si[96];
  if (ix->ndim != x->ndim)
    return tsi_fail(e, TSI_EARG, "%s: indices %s and x %s must have the same rank", OPN(n),
                    SHP(ix, si), SHP(x, sx));
  for (int d = 0; d < x->ndim; d++)
    if (d != ax && x->shape[d] >= 0 && ix->shape[d] > x->shape[d])
      return tsi_fail(e, TSI_EARG, "%s: indices %s are larger than x %s on axis %d", OPN(n),
                      SHP(ix, si), SHP(x, sx), d + 1);
  return TSI_OK;
}

static int infer_gather_elements(const tsi_node *n, const tsi_tensor *ins, int nin,
                                 tsi_tensor *out, tsi_err *e) {
  char nb[128];
  const tsi_tensor *x = &ins[0], *ix = &ins[1];
  int st = check_indices(n, ix, e);
  if (st) return st;
  if (x->ndim < 0 || ix->ndim < 0) return tsi_unknown_rank(out, x->dtype);
  if (x->ndim == 0) return tsi_fail(e, TSI_EARG, "%s: cannot gather from a scalar", OPN(n));
  int64_t ax;
  if ((st = one_axis(n, x->ndim, 0, &ax, e)) || (st = check_elements(n, x, ix, ax, e))) return st;
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, ix->ndim, ix->shape, e);
}

/* Walks the elements of ix (rank nd) in order: for element j, the offset in
 * x of the element it names (axis replaced by the index). Calls BODY with
 * j and xo, or returns the index error. */
#define ELEMENTS_WALK(N, X, IX, AX, E, ...)                                   \
  do {                                                                        \
    int64_t xs_[TSI_MAXDIM], c_[TSI_MAXDIM] = {0}, base_ = 0, s_ = 1;         \
    int nd_ = (X)->ndim;                                                      \
    for (int d_ = nd_ - 1; d_ >= 0; d_--) xs_[d_] = s_, s_ *= (X)->shape[d_]; \
    for (int64_t j = 0; j < (IX)->numel; j++) {                               \
      int64_t p_ = 0;                                                          \
      int st_ = get_index(N, IX, j, (X)->shape[AX], (int)(AX), &p_, E);       \
      if (st_) return st_;                                                    \
      int64_t xo = base_ + p_ * xs_[AX];                                      \
      __VA_ARGS__;                                                            \
      for (int d_ = nd_ - 1; d_ >= 0; d_--) {                                 \
        if (d_ != (AX)) base_ += xs_[d_];                                     \
        if (++c_[d_] < (IX)->shape[d_]) break;                                \
        if (d_ != (AX)) base_ -= xs_[d_] * c_[d_];                            \
        c_[d_] = 0;                                                           \
      }                                                                       \
    }                                                                         \
  } while (0)

static int run_gather_elements(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                               int nin, tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0], *ix = &ins[1];
  int64_t ax;
  int st = one_axis(n, x->ndim, 0, &ax, e);
  if (st || (st = check_elements(n, x, ix, ax, e))) return st;
  size_t es = tsi_dtype_size(x->dtype);
  char *o = out->data;
  const char *src = x->data;
  ELEMENTS_WALK(n, x, ix, ax, e, memcpy(o + (size_t)j * es, src + (size_t)xo * es, es));
  return TSI_OK;
}

static int infer_scatter_elements(const tsi_node *n, const tsi_tensor *ins, int nin,
                                  tsi_tensor *out, tsi_err *e) {
  char nb[128], si[96], su[96];
  const tsi_tensor *x = &ins[0], *ix = &ins[1], *u = &ins[2];
  int st = check_indices(n, ix, e);
  if (st || (st = tsi_same_dtype(n, (const tsi_tensor[]){*x, *u}, 2, e))) return st;
  if (!tsi_kernel(n, &k_combine, x->dtype, e)) return e->status;
  int64_t red = attr_i1(n);
  if (red < 0 || red >= RED_COUNT)
    return tsi_fail(e, TSI_EARG, "%s: unknown reduction %lld", OPN(n), (long long)red);
  *out = *x;
  out->data = NULL;
  if (x->ndim < 0 || ix->ndim < 0) return TSI_OK;
  int64_t ax;
  if ((st = one_axis(n, x->ndim, 0, &ax, e)) || (st = check_elements(n, x, ix, ax, e))) return st;
  int ok = u->ndim < 0 || u->ndim == ix->ndim;
  for (int d = 0; ok && u->ndim >= 0 && d < u->ndim; d++)
    ok = u->shape[d] < 0 || ix->shape[d] < 0 || u->shape[d] == ix->shape[d];
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: updates %s and indices %s must have the same shape",
                    OPN(n), SHP(u, su), SHP(ix, si));
  return TSI_OK;
}

static int run_scatter_elements(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                                int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128], si[96], su[96];
  const tsi_tensor *x = &ins[0], *ix = &ins[1], *u = &ins[2];
  int64_t ax;
  int st = one_axis(n, x->ndim, 0, &ax, e);
  if (st || (st = check_elements(n, x, ix, ax, e))) return st;
  if (!tsi_same_shape(u, ix))
    return tsi_fail(e, TSI_EARG, "%s: updates %s and indices %s must have the same shape",
                    OPN(n), SHP(u, su), SHP(ix, si));
  combine_fn f = (combine_fn)tsi_kernel(n, &k_combine, x->dtype, e);
  if (!f) return e->status;
  int red = (int)attr_i1(n);
  ELEMENTS_WALK(n, x, ix, ax, e, (void)xo); /* every index checked before writing */
  copy_in(out, x);
  size_t es = tsi_dtype_size(x->dtype);
  char *o = out->data;
  const char *src = u->data;
  ELEMENTS_WALK(n, x, ix, ax, e, f(o + (size_t)xo * es, src + (size_t)j * es, 1, red));
  return TSI_OK;
}

/* --------------------------------------------------------------- top_k */

/* topk_<dtype>: sorts the dim positions of the row x[0], x[st], ... (stable
 * merge sort into idx, tmp as scratch): largest first (else smallest), NaN
 * counted largest, ties in index order. */
typedef void (*topk_fn)(const void *x, int64_t dim, int64_t st, int largest, int64_t *idx,
                        int64_t *tmp);
#define DEF_TOPK(E, T, S, ...)                                                          \
  static void topk_##S(const void *xv, int64_t dim, int64_t st, int largest, int64_t *idx, \
                       int64_t *tmp) {                                                  \
    const T *x = xv;                                                                    \
    for (int64_t i = 0; i < dim; i++) idx[i] = i;                                       \
    for (int64_t w = 1; w < dim; w *= 2) {                                              \
      for (int64_t lo = 0; lo < dim; lo += 2 * w) {                                     \
        int64_t mid = lo + w < dim ? lo + w : dim, hi = lo + 2 * w < dim ? lo + 2 * w : dim; \
        int64_t a = lo, b = mid, k = lo;                                                \
        while (a < mid && b < hi) {                                                     \
          T u = x[idx[b] * st], v = x[idx[a] * st];                                     \
          int before = largest ? (u > v || (u != u && v == v)) : (u < v || (v != v && u == u)); \
          tmp[k++] = before ? idx[b++] : idx[a++];                                      \
        }                                                                               \
        while (a < mid) tmp[k++] = idx[a++];                                            \
        while (b < hi) tmp[k++] = idx[b++];                                             \
      }                                                                                 \
      memcpy(idx, tmp, (size_t)dim * sizeof *idx);                                      \
    }                                                                                   \
  }
TSI_DTYPES(DEF_TOPK)
static const tsi_kernels k_topk = TSI_KERNELS_ALL(topk);

static int topk_k(const tsi_node *n, int64_t dim, int64_t *k, tsi_err *e) {
  char nb[128];
  *k = attr_i1(n) == -1 ? dim : attr_i1(n); /* -1: all of them (argsort) */
  if ((*k < 0 && dim >= 0) || (dim >= 0 && *k > dim))
    return tsi_fail(e, TSI_EARG, "%s: k = %lld is out of range for an axis of size %lld", OPN(n),
                    (long long)*k, (long long)dim);
  return TSI_OK;
}

static int infer_top_k(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  char nb[128];
  const tsi_tensor *x = &ins[0];
  if (!tsi_kernel(n, &k_topk, x->dtype, e)) return e->status;
  if (x->ndim < 0) return tsi_unknown_rank(out, TS_INT64);
  if (x->ndim == 0) return tsi_fail(e, TSI_EARG, "%s: x must have rank 1 or more", OPN(n));
  int64_t ax, k, shape[TSI_MAXDIM];
  int st = one_axis(n, x->ndim, -1, &ax, e);
  if (st || (st = topk_k(n, x->shape[ax], &k, e))) return st;
  memcpy(shape, x->shape, sizeof shape);
  shape[ax] = k;
  out->dtype = TS_INT64;
  return tsi_out_shape(n, out, x->ndim, shape, e);
}

static int run_top_k(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int64_t ax, k;
  int st = one_axis(n, x->ndim, -1, &ax, e);
  if (st || (st = topk_k(n, x->shape[ax], &k, e))) return st;
  topk_fn f = (topk_fn)tsi_kernel(n, &k_topk, x->dtype, e);
  if (!f) return e->status;
  int64_t dim = x->shape[ax], outer = tsi_prod(x->shape, 0, (int)ax),
          inner = tsi_prod(x->shape, (int)ax + 1, x->ndim);
  if (out->numel <= 0) return TSI_OK;
  void *fresh;
  int64_t *idx = tsi_work_begin(ctx, (size_t)dim * 2 * sizeof(int64_t), &fresh, e);
  if (!idx) return e->status;
  size_t es = tsi_dtype_size(x->dtype);
  int64_t *o = out->data;
  int largest = (int)attr_v1(n, 0, 1);
  for (int64_t r = 0; r < outer; r++)
    for (int64_t c = 0; c < inner; c++) {
      f((const char *)x->data + (size_t)(r * dim * inner + c) * es, dim, inner, largest, idx,
        idx + dim);
      for (int64_t i = 0; i < k; i++) o[(r * k + i) * inner + c] = idx[i] + 1;
    }
  tsi_work_end(ctx, fresh);
  return TSI_OK;
}

/* -------------------------------------------------------------- cumsum */

/* cumsum_<dtype>: along the middle of (outer, dim, inner), every dtype. */
typedef void (*cumsum_fn)(const void *x, void *y, int64_t outer, int64_t dim, int64_t inner,
                          int exclusive, int reverse);
#define DEF_CUMSUM(E, T, S, ...)                                                       \
  static void cumsum_##S(const void *xv, void *yv, int64_t outer, int64_t dim,          \
                         int64_t inner, int exclusive, int reverse) {                   \
    const T *x = xv;                                                                    \
    T *y = yv;                                                                          \
    for (int64_t r = 0; r < outer; r++)                                                 \
      for (int64_t c = 0; c < inner; c++) {                                             \
        T acc = 0;                                                                      \
        for (int64_t i0 = 0; i0 < dim; i0++) {                                          \
          int64_t i = reverse ? dim - 1 - i0 : i0, p = (r * dim + i) * inner + c;       \
          T v = x[p];                                                                   \
          if (!exclusive) acc = (T)(acc + v);                                           \
          y[p] = acc;                                                                   \
          if (exclusive) acc = (T)(acc + v);                                            \
        }                                                                               \
      }                                                                                 \
  }
TSI_DTYPES(DEF_CUMSUM)
static const tsi_kernels k_cumsum = TSI_KERNELS_ALL(cumsum);

static int infer_cumsum(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  char nb[128];
  const tsi_tensor *x = &ins[0];
  if (!tsi_kernel(n, &k_cumsum, x->dtype, e)) return e->status;
  *out = *x;
  out->data = NULL;
  if (x->ndim < 0) return TSI_OK;
  if (x->ndim == 0) return tsi_fail(e, TSI_EARG, "%s: x must have rank 1 or more", OPN(n));
  int64_t ax;
  return one_axis(n, x->ndim, 0, &ax, e);
}

static int run_cumsum(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int64_t ax;
  int st = one_axis(n, x->ndim, 0, &ax, e);
  if (st) return st;
  cumsum_fn f = (cumsum_fn)tsi_kernel(n, &k_cumsum, x->dtype, e);
  if (!f) return e->status;
  if (out->numel > 0)
    f(x->data, out->data, tsi_prod(x->shape, 0, (int)ax), x->shape[ax],
      tsi_prod(x->shape, (int)ax + 1, x->ndim), (int)attr_v1(n, 0, 0), (int)attr_v1(n, 1, 0));
  return TSI_OK;
}

/* ---------------------------------------------------- matrix_band_part */

static int infer_band(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  char nb[128], sb[96];
  const tsi_tensor *x = &ins[0];
  if (!n->attrs || n->attrs->n1 != 2)
    return tsi_fail(e, TSI_EARG, "%s: the band {lo, hi} is required", OPN(n));
  if (x->ndim >= 0 && x->ndim < 2)
    return tsi_fail(e, TSI_EARG, "%s: x must have rank 2 or more, got shape %s", OPN(n),
                    SHP(x, sb));
  *out = *x;
  out->data = NULL;
  return TSI_OK;
}

static int run_band(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int64_t lo = n->attrs->v1[0], hi = n->attrs->v1[1];
  int64_t R = x->shape[x->ndim - 2], C = x->shape[x->ndim - 1];
  int64_t mats = tsi_prod(x->shape, 0, x->ndim - 2);
  size_t es = tsi_dtype_size(x->dtype);
  char *o = out->data;
  const char *s = x->data;
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < R; i++)
      for (int64_t j = 0; j < C; j++) {
        size_t p = (size_t)((m * R + i) * C + j) * es;
        int64_t d = j - i;
        if (d >= lo && d <= hi) memcpy(o + p, s + p, es);
        else memset(o + p, 0, es);
      }
  return TSI_OK;
}

/* -------------------------------------------------------- broadcast_to */

static int target_of(const tsi_node *n, const tsi_tensor *x, tsi_tensor *t, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  if (!at || at->n1 < 0) return tsi_fail(e, TSI_EARG, "%s: a shape is required", OPN(n));
  for (int i = 0; i < at->n1; i++)
    if (at->v1[i] < 0)
      return tsi_fail(e, TSI_EARG, "%s: dimension %lld of the shape is negative", OPN(n),
                      (long long)at->v1[i]);
  *t = (tsi_tensor){.dtype = x->dtype};
  return tsi_out_shape(n, t, at->n1, at->v1, e);
}

static int infer_broadcast_to(const tsi_node *n, const tsi_tensor *ins, int nin,
                              tsi_tensor *out, tsi_err *e) {
  tsi_tensor t;
  int st = target_of(n, &ins[0], &t, e);
  if (st) return st;
  return tsi_broadcast_infer(n, &ins[0], &t, out, e);
}

/* out (numel > 0) filled with x broadcast to its shape. */
static void broadcast_copy(const tsi_tensor *x, tsi_tensor *out) {
  size_t es = tsi_dtype_size(x->dtype);
  char *o = out->data;
  const char *s = x->data;
  tsi_bcast p;
  tsi_bcast_make(x, x, out, &p);
  TSI_BCAST_WALK(&p, {
    (void)ib;
    (void)ob;
    if (ia) memcpy(o + (size_t)oo * es, s + (size_t)oa * es, (size_t)n * es);
    else
      for (int64_t i = 0; i < n; i++) memcpy(o + (size_t)(oo + i) * es, s + (size_t)oa * es, es);
  });
}

static int run_broadcast_to(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                            int nin, tsi_tensor *out, tsi_err *e) {
  if (out->numel > 0) broadcast_copy(&ins[0], out);
  return TSI_OK;
}

/* ------------------------------------------------- reverse, reverse_sequence */

/* Copies x to out element by element, the source of each output position c
 * (a multi-index) given by MAP, which may change c_src. */
#define MAP_WALK(X, OUT, ...)                                                  \
  do {                                                                         \
    int nd_ = (X)->ndim;                                                       \
    int64_t xs_[TSI_MAXDIM], c[TSI_MAXDIM] = {0}, src[TSI_MAXDIM], s_ = 1;     \
    size_t es_ = tsi_dtype_size((X)->dtype);                                   \
    for (int d_ = nd_ - 1; d_ >= 0; d_--) xs_[d_] = s_, s_ *= (X)->shape[d_];  \
    for (int64_t j_ = 0; j_ < (X)->numel; j_++) {                              \
      int64_t off_ = 0;                                                        \
      for (int d_ = 0; d_ < nd_; d_++) src[d_] = c[d_];                        \
      __VA_ARGS__;                                                             \
      for (int d_ = 0; d_ < nd_; d_++) off_ += src[d_] * xs_[d_];              \
      memcpy((char *)(OUT)->data + (size_t)j_ * es_,                           \
             (const char *)(X)->data + (size_t)off_ * es_, es_);               \
      for (int d_ = nd_ - 1; d_ >= 0; d_--) {                                  \
        if (++c[d_] < (X)->shape[d_]) break;                                   \
        c[d_] = 0;                                                             \
      }                                                                        \
    }                                                                          \
  } while (0)

static int reverse_axes(const tsi_node *n, int nd, int *rev, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  for (int d = 0; d < nd; d++) rev[d] = 0;
  if (!at || !at->has_axes) return tsi_fail(e, TSI_EARG, "%s: axes are required", OPN(n));
  for (int i = 0; i < at->naxes; i++) {
    int64_t a;
    int st = tsi_norm_axis(n, at->axes[i], nd, &a, e);
    if (st) return st;
    if (rev[a]) return tsi_fail(e, TSI_EARG, "%s: axis %lld is given twice", OPN(n), (long long)a + 1);
    rev[a] = 1;
  }
  return TSI_OK;
}

static int infer_reverse(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  int rev[TSI_MAXDIM];
  *out = ins[0];
  out->data = NULL;
  return ins[0].ndim < 0 ? TSI_OK : reverse_axes(n, ins[0].ndim, rev, e);
}

static int run_reverse(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int rev[TSI_MAXDIM];
  int st = reverse_axes(n, x->ndim, rev, e);
  if (st) return st;
  MAP_WALK(x, out, {
    for (int d = 0; d < nd_; d++)
      if (rev[d]) src[d] = x->shape[d] - 1 - c[d];
  });
  return TSI_OK;
}

static int seq_axes(const tsi_node *n, const tsi_tensor *x, const tsi_tensor *len, int64_t *sa,
                    int64_t *ba, tsi_err *e) {
  char nb[128], sl[96], sx[96];
  const tsi_attrs *at = n->attrs;
  if (!at || at->n1 != 2) return tsi_fail(e, TSI_EARG, "%s: seq_axis and batch_axis are required", OPN(n));
  int st = tsi_norm_axis(n, at->v1[0], x->ndim, sa, e);
  if (st || (st = tsi_norm_axis(n, at->v1[1], x->ndim, ba, e))) return st;
  if (*sa == *ba)
    return tsi_fail(e, TSI_EARG, "%s: seq_axis and batch_axis are both %lld", OPN(n),
                    (long long)*sa + 1);
  if (len->ndim >= 0 && (len->ndim != 1 || (len->shape[0] >= 0 && x->shape[*ba] >= 0 &&
                                              len->shape[0] != x->shape[*ba])))
    return tsi_fail(e, TSI_EARG, "%s: lengths %s must be a vector of x's batch size (x %s)",
                    OPN(n), SHP(len, sl), SHP(x, sx));
  return TSI_OK;
}

static int infer_reverse_sequence(const tsi_node *n, const tsi_tensor *ins, int nin,
                                  tsi_tensor *out, tsi_err *e) {
  int st = check_indices(n, &ins[1], e);
  if (st) return st;
  *out = ins[0];
  out->data = NULL;
  int64_t sa, ba;
  return ins[0].ndim < 0 ? TSI_OK : seq_axes(n, &ins[0], &ins[1], &sa, &ba, e);
}

static int run_reverse_sequence(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                                int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128];
  const tsi_tensor *x = &ins[0], *len = &ins[1];
  int64_t sa, ba;
  int st = seq_axes(n, x, len, &sa, &ba, e);
  if (st) return st;
  for (int64_t b = 0; b < len->numel; b++) {
    int64_t l = tsi_get_i(len, b);
    if (l < 0 || l > x->shape[sa])
      return tsi_fail(e, TSI_EARG, "%s: length %lld of batch entry %lld is out of range for a "
                      "sequence axis of size %lld", OPN(n), (long long)l, (long long)b + 1,
                      (long long)x->shape[sa]);
  }
  MAP_WALK(x, out, {
    int64_t l = tsi_get_i(len, c[ba]);
    if (c[sa] < l) src[sa] = l - 1 - c[sa];
  });
  return TSI_OK;
}

/* ------------------------------------------------------- where_indices */

/* The output's shape is known only while running (TSI_OP_DYNAMIC): [?, rank]. */
static int infer_where_indices(const tsi_node *n, const tsi_tensor *ins, int nin,
                               tsi_tensor *out, tsi_err *e) {
  if (ins[0].ndim < 0) return tsi_unknown_rank(out, TS_INT64);
  out->dtype = TS_INT64;
  return tsi_out_shape(n, out, 2, (const int64_t[]){-1, ins[0].ndim}, e);
}

static int run_where_indices(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                             int nin, tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int nd = x->ndim;
  int64_t count = 0;
  for (int64_t j = 0; j < x->numel; j++) count += tsi_get_f(x, j) != 0;
  out->dtype = TS_INT64;
  int st = tsi_out_shape(n, out, 2, (const int64_t[]){count, nd}, e);
  if (st || (st = ctx->alloc_out(ctx, out, e))) return st;
  int64_t *o = out->data, c[TSI_MAXDIM] = {0};
  for (int64_t j = 0; j < x->numel; j++) {
    if (tsi_get_f(x, j) != 0)
      for (int d = 0; d < nd; d++) *o++ = c[d] + 1;
    for (int d = nd - 1; d >= 0; d--) {
      if (++c[d] < x->shape[d]) break;
      c[d] = 0;
    }
  }
  return TSI_OK;
}

/* -------------------------------------------------------------- unique */

/* ucmp_<dtype>: compares slices a and b of x seen as (outer, n, inner), entry
 * by entry in C order: -1, 0 or 1. */
typedef int (*ucmp_fn)(const void *x, int64_t a, int64_t b, int64_t outer, int64_t n,
                       int64_t inner);
#define DEF_UCMP(E, T, S, ...)                                                          \
  static int ucmp_##S(const void *xv, int64_t a, int64_t b, int64_t outer, int64_t n,   \
                      int64_t inner) {                                                  \
    const T *x = xv;                                                                    \
    for (int64_t o = 0; o < outer; o++)                                                 \
      for (int64_t i = 0; i < inner; i++) {                                             \
        T u = x[(o * n + a) * inner + i], v = x[(o * n + b) * inner + i];               \
        if (u < v) return -1;                                                           \
        if (u > v) return 1;                                                            \
      }                                                                                 \
    return 0;                                                                           \
  }
TSI_DTYPES(DEF_UCMP)
static const tsi_kernels k_ucmp = TSI_KERNELS_ALL(ucmp);

/* x as (outer, n, inner) around the axis, or (1, numel, 1) without one. */
static int unique_dims(const tsi_node *n, const tsi_tensor *x, int64_t *outer, int64_t *len,
                       int64_t *inner, tsi_err *e) {
  char nb[128];
  if (!n->attrs || !n->attrs->has_axes) {
    *outer = *inner = 1;
    *len = x->ndim < 0 ? -1 : tsi_numel(x->ndim, x->shape);
    return TSI_OK;
  }
  if (x->ndim == 0) return tsi_fail(e, TSI_EARG, "%s: x must have rank 1 or more", OPN(n));
  int64_t ax;
  int st = one_axis(n, x->ndim, 0, &ax, e);
  if (st) return st;
  *outer = tsi_prod(x->shape, 0, (int)ax);
  *len = x->shape[ax];
  *inner = tsi_prod(x->shape, (int)ax + 1, x->ndim);
  return TSI_OK;
}

static int infer_unique(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  char nb[128];
  if (!tsi_kernel(n, &k_ucmp, ins[0].dtype, e)) return e->status;
  int64_t which = attr_i1(n), outer, len = -1, inner;
  if (which < 0 || which > 2) return tsi_fail(e, TSI_EARG, "%s: unknown output %lld", OPN(n), (long long)which);
  if (ins[0].ndim >= 0) {
    int st = unique_dims(n, &ins[0], &outer, &len, &inner, e);
    if (st) return st;
  }
  out->dtype = TS_INT64;
  return tsi_out_shape(n, out, 1, (const int64_t[]){which == 1 ? len : -1}, e);
}

/* Sorts the slices (stable merge sort, as topk_ does), groups equal ones and
 * writes n's output: the 1-based first position of each unique slice (i1 0),
 * each slice's 1-based place among the unique ones (1) or their counts (2);
 * the unique slices sorted, or (v1[0] == 0) in order of first occurrence. */
static int run_unique(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int64_t outer, len, inner, which = attr_i1(n);
  int st = unique_dims(n, x, &outer, &len, &inner, e);
  if (st) return st;
  ucmp_fn cmp = (ucmp_fn)tsi_kernel(n, &k_ucmp, x->dtype, e);
  if (!cmp) return e->status;
  void *fresh;
  int64_t *w = tsi_work_begin(ctx, (size_t)(len > 0 ? len : 1) * 5 * sizeof(int64_t), &fresh, e);
  if (!w) return e->status;
  int64_t *ord = w, *tmp = w + len, *grp = w + 2 * len, *first = w + 3 * len, *place = w + 4 * len;
  if (outer * inner == 0) outer = inner = 0; /* empty slices are all equal */
  for (int64_t i = 0; i < len; i++) ord[i] = i;
  for (int64_t wd = 1; wd < len; wd *= 2) {
    for (int64_t lo = 0; lo < len; lo += 2 * wd) {
      int64_t mid = lo + wd < len ? lo + wd : len, hi = lo + 2 * wd < len ? lo + 2 * wd : len;
      int64_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi)
        tmp[k++] = cmp(x->data, ord[b], ord[a], outer, len, inner) < 0 ? ord[b++] : ord[a++];
      while (a < mid) tmp[k++] = ord[a++];
      while (b < hi) tmp[k++] = ord[b++];
    }
    memcpy(ord, tmp, (size_t)len * sizeof *ord);
  }
  /* groups in sorted order: first[g] its first position, grp[slice] its group */
  int64_t u = 0;
  for (int64_t i = 0; i < len; i++) {
    if (i == 0 || cmp(x->data, ord[i - 1], ord[i], outer, len, inner) != 0) first[u++] = ord[i];
    grp[ord[i]] = u - 1;
  }
  /* place[g]: the group's position in the output order */
  int sorted = (int)attr_v1(n, 0, 1);
  for (int64_t g = 0; g < u; g++) place[g] = g;
  if (!sorted) { /* by first occurrence: scan the slices in order */
    int64_t next = 0;
    for (int64_t g = 0; g < u; g++) place[g] = -1;
    for (int64_t i = 0; i < len; i++)
      if (place[grp[i]] < 0) place[grp[i]] = next++;
  }
  out->dtype = TS_INT64;
  if ((st = tsi_out_shape(n, out, 1, (const int64_t[]){which == 1 ? len : u}, e)) ||
      (st = ctx->alloc_out(ctx, out, e))) {
    tsi_work_end(ctx, fresh);
    return st;
  }
  int64_t *o = out->data;
  if (which == 0)
    for (int64_t g = 0; g < u; g++) o[place[g]] = first[g] + 1;
  else if (which == 1)
    for (int64_t i = 0; i < len; i++) o[i] = place[grp[i]] + 1;
  else {
    for (int64_t g = 0; g < u; g++) o[g] = 0;
    for (int64_t i = 0; i < len; i++) o[place[grp[i]]]++;
  }
  tsi_work_end(ctx, fresh);
  return TSI_OK;
}

/* -------------------------------------------------------------- table */

static const scatter_impl scatter_update = {TSI_KERNELS_ALL(combine), RED_UPDATE};
static const scatter_impl scatter_add = {TSI_KERNELS_ALL(combine), RED_ADD};
static const scatter_impl scatter_mul = {TSI_KERNELS_ALL(combine), RED_MUL};
static const scatter_impl scatter_max = {TSI_KERNELS_ALL(combine), RED_MAX};
static const scatter_impl scatter_min = {TSI_KERNELS_ALL(combine), RED_MIN};

#define OP(NAME, NMIN, NMAX, INFER, RUN, IMPL) {NAME, NMIN, NMAX, 0, INFER, RUN, IMPL}
#define SCATTER_ND(NAME, IMPL) OP(NAME, 3, 3, infer_scatter_nd, run_scatter_nd, &IMPL)

const tsi_opdef tsi_ops_index[] = {
    OP("gather_nd", 2, 2, infer_gather_nd, run_gather_nd, NULL),
    SCATTER_ND("tensor_scatter_nd_update", scatter_update),
    SCATTER_ND("tensor_scatter_nd_add", scatter_add),
    SCATTER_ND("tensor_scatter_nd_mul", scatter_mul),
    SCATTER_ND("tensor_scatter_nd_max", scatter_max),
    SCATTER_ND("tensor_scatter_nd_min", scatter_min),
    OP("gather_elements", 2, 2, infer_gather_elements, run_gather_elements, NULL),
    OP("scatter_elements", 3, 3, infer_scatter_elements, run_scatter_elements, &k_combine),
    OP("top_k_indices", 1, 1, infer_top_k, run_top_k, &k_topk),
    OP("cumsum", 1, 1, infer_cumsum, run_cumsum, &k_cumsum),
    OP("matrix_band_part", 1, 1, infer_band, run_band, NULL),
    OP("broadcast_to", 1, 1, infer_broadcast_to, run_broadcast_to, NULL),
    OP("reverse", 1, 1, infer_reverse, run_reverse, NULL),
    OP("reverse_sequence", 2, 2, infer_reverse_sequence, run_reverse_sequence, NULL),
    {"where_indices", 1, 1, TSI_OP_DYNAMIC, infer_where_indices, run_where_indices, NULL},
    {"unique", 1, 1, TSI_OP_DYNAMIC, infer_unique, run_unique, &k_ucmp},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
