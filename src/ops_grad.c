/* Shape-agnostic helpers the gradient graphs are built from (their output
 * takes the run-time shape of a "like" input, so gradients work when shapes
 * are unknown at build time).
 *
 *   reduce_sum_like(g, x)   g summed over the axes along which x was broadcast
 *                           to g's shape: the result has x's shape (i1 = 1:
 *                           the mean instead)
 *   broadcast_like(g, x)    g broadcast to x's shape; with axis (and keepdims
 *                           false) g is a reduction of x over those axes and
 *                           size-1 axes are put back first; i1 = 1 divides by
 *                           numel(x) / numel(g) (the gradient of a mean)
 *   reshape_like(g, x)      g's data with x's shape
 *   slice_like(g, x)        the block of x's shape at v1 (0-based begin,
 *                           negative from the end) of g
 *   pad_like(g, x)          zeros of x's shape with g placed at v1
 *   tile_like(g, x)         g (a tiling of x) summed back to x's shape
 *   concat_part(g, x1..xn)  the part of g = concat(x1..xn, axis) that is x_i1
 *   gather_like(g, i, x)    zeros of x's shape, slices of g added at indices i
 *                           along axis (the gradient of gather)
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* ------------------------------------------------------ "like" helpers */

/* Output: g's dtype, x's (inferred or run-time) shape. */
static int infer_like(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  int st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e);
  if (st) return st;
  *out = ins[1];
  out->data = NULL;
  out->dtype = ins[0].dtype;
  return TSI_OK;
}

/* g viewed with rank nd (leading 1s added). */
static void pad_rank(const tsi_tensor *g, int nd, tsi_tensor *v) {
  *v = *g;
  int k = nd - g->ndim;
  v->ndim = nd;
  for (int i = nd - 1; i >= 0; i--) v->shape[i] = i - k >= 0 ? g->shape[i - k] : 1;
}

static int run_reduce_sum_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                               int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *g = &ins[0], *x = &ins[1];
  int nd = g->ndim > x->ndim ? g->ndim : x->ndim;
  tsi_tensor gv, xv;
  pad_rank(g, nd, &gv);
  pad_rank(x, nd, &xv);
  for (int i = 0; i < nd; i++)
    if (xv.shape[i] != 1 && xv.shape[i] != gv.shape[i])
      return tsi_fail(e, TSI_EARG, "%s: shape %s does not broadcast to the gradient's %s",
                      OPN(n), tsi_shape_str(x, sa, sizeof sa), tsi_shape_str(g, sb, sizeof sb));
  /* x's shape padded with ones is g's with the summed axes kept as ones: a
   * reduce_sum (mean) with keepdims, into out as laid out */
  unsigned char red[TSI_MAXDIM];
  int any = 0;
  for (int i = 0; i < nd; i++) any |= red[i] = xv.shape[i] == 1 && gv.shape[i] != 1;
  if (gv.numel <= 0) {
    if (tsi_nbytes(out)) memset(out->data, 0, tsi_nbytes(out));
    return TSI_OK;
  }
  if (!any) {
    memcpy(out->data, g->data, tsi_nbytes(out));
    return TSI_OK;
  }
  return tsi_reduce_sum_into(ctx, n, &gv, red, n->attrs && n->attrs->i1, out, e);
}

/* bcastlike_<S> (see ops.h): G broadcast into O by p, times scale */
typedef void (*bcastlike_fn)(const tsi_bcast *p, void *O, const void *G, double scale);
#define DEF_BCASTLIKE(E, T, S, ...)                                                    \
  static void bcastlike_##S(const tsi_bcast *p, void *Ov, const void *Gv, double sc) { \
    T *restrict O = Ov;                                                                \
    const T *restrict G = Gv;                                                          \
    const T scale = (T)sc;                                                             \
    TSI_BCAST_WALK(p, {                                                                \
      const T *restrict pg = G + oa; (void)ib;                                         \
      T *restrict po = O + oo;                                                         \
      if (ia)                                                                          \
        for (int64_t i = 0; i < n; i++) po[i] = pg[i] * scale;                         \
      else {                                                                           \
        T v = pg[0] * scale;                                                           \
        for (int64_t i = 0; i < n; i++) po[i] = v;                                     \
      }                                                                                \
    });                                                                                \
  }
TSI_FLOAT_DTYPES(DEF_BCASTLIKE)
static const tsi_kernels k_bcastlike = TSI_KERNELS_FLOAT(bcastlike);

static int run_broadcast_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                              int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *g = &ins[0], *x = &ins[1];
  const tsi_attrs *at = n->attrs;
  int nd = x->ndim, st;
  tsi_tensor gv = *g;
  if (at && at->has_axes && !at->keepdims) {
    int red[TSI_MAXDIM] = {0};
    for (int i = 0; i < at->naxes; i++) {
      int64_t ax;
      if ((st = tsi_norm_axis(n, at->axes[i], nd, &ax, e))) return st;
      red[ax] = 1;
    }
    int j = 0;
    gv.ndim = nd;
    for (int d = 0; d < nd; d++) gv.shape[d] = red[d] ? 1 : (j < g->ndim ? g->shape[j++] : -1);
    if (j != g->ndim) gv.ndim = -1;
  } else if (!(at && at->keepdims) && g->numel == 1) {
    gv.ndim = nd;
    for (int d = 0; d < nd; d++) gv.shape[d] = 1;
  } else if (g->ndim <= nd) {
    pad_rank(g, nd, &gv);
  } else {
    gv.ndim = -1;
  }
  int ok = gv.ndim == nd;
  for (int d = 0; ok && d < nd; d++) ok = gv.shape[d] == 1 || gv.shape[d] == x->shape[d];
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: gradient of shape %s does not broadcast to %s", OPN(n),
                    tsi_shape_str(g, sa, sizeof sa), tsi_shape_str(x, sb, sizeof sb));
  if (out->numel <= 0) return TSI_OK;
  double scale = 1;
  if (at && at->i1 && g->numel > 0) scale = (double)g->numel / (double)out->numel;
  bcastlike_fn f = (bcastlike_fn)tsi_kernel(n, &k_bcastlike, g->dtype, e);
  if (!f) return e->status;
  tsi_bcast p;
  tsi_bcast_make(&gv, out, out, &p);
  f(&p, out->data, g->data, scale);
  return TSI_OK;
}

/* broadcast_like(g, x): its axes must be axes of x. */
static int infer_broadcast_like(const tsi_node *n, const tsi_tensor *ins, int nin,
                                tsi_tensor *out, tsi_err *e) {
  char nb[128];
  int st = infer_like(n, ins, nin, out, e);
  if (st) return st;
  const tsi_attrs *at = n->attrs;
  if (!at || !at->has_axes) return TSI_OK;
  if (at->naxes < 0 || at->naxes > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: %d axes", OPN(n), at->naxes);
  for (int i = 0; i < at->naxes && ins[1].ndim >= 0; i++) {
    int64_t ax;
    if ((st = tsi_norm_axis(n, at->axes[i], ins[1].ndim, &ax, e))) return st;
  }
  return TSI_OK;
}

static int run_reshape_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                            int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  if (ins[0].numel != out->numel)
    return tsi_fail(e, TSI_EARG, "%s: cannot reshape %s to %s", OPN(n),
                    tsi_shape_str(&ins[0], sa, sizeof sa), tsi_shape_str(out, sb, sizeof sb));
  if (tsi_nbytes(out)) memcpy(out->data, ins[0].data, tsi_nbytes(out));
  return TSI_OK;
}

/* Calls BODY(go, bo) for each element of the block of shape bshape placed at
 * begin inside a tensor of shape full: go = offset in the block, bo = in full. */
static void block_walk(int nd, const int64_t *full, const int64_t *begin,
                       const int64_t *bshape, size_t esz, char *blk, char *big, int to_big) {
  int64_t numel = 1;
  for (int d = 0; d < nd; d++) numel *= bshape[d];
  if (numel <= 0) return;
  int64_t st[TSI_MAXDIM], s = 1, idx[TSI_MAXDIM] = {0}, off = 0;
  for (int d = nd - 1; d >= 0; d--) st[d] = s, s *= full[d];
  for (int d = 0; d < nd; d++) off += begin[d] * st[d];
  int64_t inner = nd ? bshape[nd - 1] : 1, rows = numel / inner;
  for (int64_t r = 0; r < rows; r++) {
    if (to_big) memcpy(big + (size_t)off * esz, blk, (size_t)inner * esz);
    else memcpy(blk, big + (size_t)off * esz, (size_t)inner * esz);
    blk += (size_t)inner * esz;
    for (int d = nd - 2; d >= 0; d--) {
      off += st[d];
      if (++idx[d] < bshape[d]) break;
      off -= st[d] * bshape[d];
      idx[d] = 0;
    }
  }
}

/* The begin offsets (v1) of a block of shape small inside big. */
static int block_begin(const tsi_node *n, const tsi_tensor *small, const tsi_tensor *big,
                       int64_t *begin, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_attrs *at = n->attrs;
  int nd = big->ndim, ok = small->ndim == nd;
  if (at && at->n1 > nd)
    return tsi_fail(e, TSI_EARG, "%s: v1 has %d entries for shape %s (rank %d)", OPN(n), at->n1,
                    tsi_shape_str(big, sb, sizeof sb), nd);
  for (int d = 0; ok && d < nd; d++) {
    int64_t b = at && d < at->n1 ? at->v1[d] : 0;
    if (b < 0) b += big->shape[d]; /* no overflow: shape >= 0 */
    begin[d] = b;
    /* b + small <= big without the sum (which may overflow) */
    ok = b >= 0 && b <= big->shape[d] && small->shape[d] <= big->shape[d] - b;
  }
  if (!ok) {
    char vb[200] = "{";
    size_t k = 1;
    for (int d = 0; at && d < at->n1 && k < sizeof vb; d++)
      k += (size_t)snprintf(vb + k, sizeof vb - k, "%s%lld", d ? ", " : "", (long long)at->v1[d]);
    if (k < sizeof vb) snprintf(vb + k, sizeof vb - k, "}");
    return tsi_fail(e, TSI_EARG, "%s: a block of shape %s does not fit in %s at begin v1 = %s",
                    OPN(n), tsi_shape_str(small, sa, sizeof sa), tsi_shape_str(big, sb, sizeof sb),
                    vb);
  }
  return TSI_OK;
}

/* slice_like(g, x) / pad_like(g, x): v1 must fit the block in the larger
 * tensor; checked here when the shapes are known, again at run time. */
static int block_known(const tsi_tensor *t) {
  if (t->ndim < 0) return 0;
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] < 0) return 0;
  return 1;
}

static int infer_block_like(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                            int slice, tsi_err *e) {
  char nb[128];
  int st = infer_like(n, ins, nin, out, e);
  if (st) return st;
  const tsi_attrs *at = n->attrs;
  if (at && (at->n1 > TSI_MAXDIM || at->n2 >= 0 || at->has_axes))
    return tsi_fail(e, TSI_EARG, "%s takes only v1 (the begin offsets)", OPN(n));
  const tsi_tensor *small = slice ? &ins[1] : &ins[0], *big = slice ? &ins[0] : &ins[1];
  int64_t begin[TSI_MAXDIM];
  if (block_known(small) && block_known(big)) return block_begin(n, small, big, begin, e);
  if (at && big->ndim >= 0 && at->n1 > big->ndim)
    return block_begin(n, small, big, begin, e); /* reports the count */
  return TSI_OK;
}

static int infer_slice_like(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                            tsi_err *e) {
  return infer_block_like(n, ins, nin, out, 1, e);
}

static int infer_pad_like(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                          tsi_err *e) {
  return infer_block_like(n, ins, nin, out, 0, e);
}

static int run_slice_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  int64_t begin[TSI_MAXDIM];
  int st = block_begin(n, out, &ins[0], begin, e);
  if (st) return st;
  block_walk(out->ndim, ins[0].shape, begin, out->shape, tsi_dtype_size(out->dtype), out->data,
             ins[0].data, 0);
  return TSI_OK;
}

static int run_pad_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                        tsi_tensor *out, tsi_err *e) {
  int64_t begin[TSI_MAXDIM];
  int st = block_begin(n, &ins[0], out, begin, e);
  if (st) return st;
  if (tsi_nbytes(out)) memset(out->data, 0, tsi_nbytes(out));
  block_walk(out->ndim, out->shape, begin, ins[0].shape, tsi_dtype_size(out->dtype),
             ins[0].data, out->data, 1);
  return TSI_OK;
}

/* concat_part(g, x_1, ..., x_n) with i1 = k (1-based) and axis: the part of
 * g (a concatenation of the x's along axis) that came from x_k. */
static int infer_concat_part(const tsi_node *n, const tsi_tensor *ins, int nin,
                             tsi_tensor *out, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  int64_t k = at ? at->i1 : 0;
  if (k < 1 || k > nin - 1)
    return tsi_fail(e, TSI_EARG, "%s: part %lld of %d", OPN(n), (long long)k, nin - 1);
  int st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e);
  if (st) return st;
  if (at->has_axes && at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required, got %d", OPN(n), at->naxes);
  int64_t ax;
  if (at->has_axes && ins[0].ndim >= 0 &&
      (st = tsi_norm_axis(n, at->axes[0], ins[0].ndim, &ax, e)))
    return st;
  if (ins[0].ndim == 0) return tsi_fail(e, TSI_EARG, "%s: a scalar is no concatenation", OPN(n));
  *out = ins[k];
  out->data = NULL;
  out->dtype = ins[0].dtype;
  return TSI_OK;
}

static int run_concat_part(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                           tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  int64_t k = n->attrs->i1, ax = 0, off = 0;
  int nd = ins[0].ndim, st;
  if (n->attrs->has_axes && (st = tsi_norm_axis(n, n->attrs->axes[0], nd, &ax, e))) return st;
  int ok = out->ndim == nd && nd > 0;
  for (int j = 1; ok && j < k && j < nin; j++)
    if (ins[j].ndim == nd) ok = !__builtin_add_overflow(off, ins[j].shape[ax], &off);
  int64_t begin[TSI_MAXDIM] = {0};
  begin[ax] = off;
  for (int d = 0; ok && d < nd; d++)
    ok = begin[d] <= ins[0].shape[d] && out->shape[d] <= ins[0].shape[d] - begin[d];
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: part of shape %s does not fit in %s", OPN(n),
                    tsi_shape_str(out, sa, sizeof sa), tsi_shape_str(&ins[0], sb, sizeof sb));
  block_walk(nd, ins[0].shape, begin, out->shape, tsi_dtype_size(out->dtype), out->data,
             ins[0].data, 0);
  return TSI_OK;
}

static int run_tile_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                         tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *g = &ins[0];
  int nd = out->ndim, ok = g->ndim == nd;
  for (int d = 0; ok && d < nd; d++)
    ok = out->shape[d] > 0 ? g->shape[d] % out->shape[d] == 0 : g->shape[d] == 0;
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: %s is not a tiling of %s", OPN(n),
                    tsi_shape_str(g, sa, sizeof sa), tsi_shape_str(out, sb, sizeof sb));
  for (int64_t i = 0; i < out->numel; i++) tsi_set_f(out, i, 0);
  int64_t idx[TSI_MAXDIM] = {0};
  for (int64_t i = 0; i < g->numel; i++) {
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o = o * out->shape[d] + idx[d] % out->shape[d];
    tsi_set_f(out, o, tsi_get_f(out, o) + tsi_get_f(g, i));
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < g->shape[d]) break;
      idx[d] = 0;
    }
  }
  return TSI_OK;
}

/* gather_like(g, indices, x): the gradient of gather(x, indices, axis):
 * zeros of x's shape with each slice of g added at its (1-based) index. */
static int infer_gather_like(const tsi_node *n, const tsi_tensor *ins, int nin,
                             tsi_tensor *out, tsi_err *e) {
  char nb[128];
  int st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e);
  if (st) return st;
  if (ins[1].dtype != TS_INT64 && ins[1].dtype != TS_UINT8)
    return tsi_fail(e, TSI_EARG, "%s: indices must be int64 or uint8, got %s", OPN(n),
                    tsi_dtype_name(ins[1].dtype));
  const tsi_attrs *at = n->attrs;
  if (at && at->has_axes && at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required, got %d", OPN(n), at->naxes);
  int64_t ax;
  if (at && at->has_axes && ins[2].ndim >= 0 &&
      (st = tsi_norm_axis(n, at->axes[0], ins[2].ndim, &ax, e)))
    return st;
  *out = ins[2];
  out->data = NULL;
  out->dtype = ins[0].dtype;
  return TSI_OK;
}

/* scatter_<S> (see ops.h): slices of g added into o at the 1-based indices ix */
typedef void (*scatter_fn)(void *o, const void *g, int64_t outer, int64_t m, int64_t dim,
                           int64_t inner, const tsi_tensor *ix);
#define DEF_SCATTER(E, T, S, ...)                                                     \
  static void scatter_##S(void *ov, const void *gv, int64_t outer, int64_t m,         \
                          int64_t dim, int64_t inner, const tsi_tensor *ix) {         \
    T *restrict o = ov;                                                               \
    const T *restrict g = gv;                                                         \
    for (int64_t r = 0; r < outer; r++)                                               \
      for (int64_t j = 0; j < m; j++) {                                               \
        T *restrict dst = o + (r * dim + tsi_get_i(ix, j) - 1) * inner;               \
        for (int64_t i = 0; i < inner; i++) dst[i] += g[i];                           \
        g += inner;                                                                   \
      }                                                                               \
  }
TSI_FLOAT_DTYPES(DEF_SCATTER)
static const tsi_kernels k_scatter = TSI_KERNELS_FLOAT(scatter);

static int run_gather_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                           int nin, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *g = &ins[0], *ix = &ins[1];
  int64_t ax = 0;
  int st;
  if (out->ndim < 1) return tsi_fail(e, TSI_EARG, "%s: cannot scatter into a scalar", OPN(n));
  if (n->attrs && n->attrs->has_axes &&
      (st = tsi_norm_axis(n, n->attrs->axes[0], out->ndim, &ax, e)))
    return st;
  int64_t dim = out->shape[ax], m = ix->numel, outer = 1, inner = 1;
  int over = 0;
  for (int d = 0; d < ax; d++) over |= __builtin_mul_overflow(outer, out->shape[d], &outer);
  for (int d = (int)ax + 1; d < out->ndim; d++)
    over |= __builtin_mul_overflow(inner, out->shape[d], &inner);
  int64_t want;
  over |= __builtin_mul_overflow(outer, m, &want);
  over |= __builtin_mul_overflow(want, inner, &want);
  if (over || g->numel != want)
    return tsi_fail(e, TSI_EARG, "%s: gradient of shape %s does not match gathering from %s",
                    OPN(n), tsi_shape_str(g, sa, sizeof sa), tsi_shape_str(out, sb, sizeof sb));
  for (int64_t j = 0; j < m; j++) {
    int64_t k = tsi_get_i(ix, j);
    if (k < 1 || k > dim)
      return tsi_fail(e, TSI_EARG, "%s: index %lld is out of range for size %lld", OPN(n),
                      (long long)k, (long long)dim);
  }
  scatter_fn f = (scatter_fn)tsi_kernel(n, &k_scatter, out->dtype, e);
  if (!f) return e->status;
  if (tsi_nbytes(out)) memset(out->data, 0, tsi_nbytes(out));
  f(out->data, g->data, outer, m, dim, inner, ix);
  return TSI_OK;
}

#define LIKE(NAME, RUN) {NAME, 2, 2, 0, infer_like, RUN, NULL}

const tsi_opdef tsi_ops_grad[] = {
    LIKE("reduce_sum_like", run_reduce_sum_like),
    {"broadcast_like", 2, 2, 0, infer_broadcast_like, run_broadcast_like, NULL},
    LIKE("reshape_like", run_reshape_like),
    {"slice_like", 2, 2, 0, infer_slice_like, run_slice_like, NULL},
    {"pad_like", 2, 2, 0, infer_pad_like, run_pad_like, NULL},
    LIKE("tile_like", run_tile_like),
    {"gather_like", 3, 3, 0, infer_gather_like, run_gather_like, NULL},
    {"concat_part", 2, -1, 0, infer_concat_part, run_concat_part, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
