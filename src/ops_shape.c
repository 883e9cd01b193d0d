/* Shape ops: they move bytes, so every one works for all four dtypes
 * (except the numeric work of cast and one_hot).
 *
 * Attributes (the Lua wrappers in lua/tensorslow/shape.lua convert 1-based
 * things to what is stored here):
 *   reshape      v1 = target shape (one entry may be -1)
 *   squeeze      axis (optional: all size-1 axes)
 *   expand_dims  axis in [-(rank+1), rank] (0-based, negative from the end)
 *   concat/stack axis (stack: in [-(rank+1), rank]); any number of inputs
 *   slice        v1 = begin (0-based; negative counts from the end),
 *                v2 = size (-1: to the end)
 *   gather       axis; input 2 = indices (int64 or uint8, 1-based)
 *   tile         v1 = multiples
 *   pad          v1 = before, v2 = after, f[0] = constant value
 *   cast         dtype
 *   one_hot      i1 = depth, dtype = output dtype (float64 when absent);
 *                input: int64/uint8 1-based indices; 0 or > depth gives a
 *                row of zeros
 *   identity, stop_gradient (same kernel), zeros_like, ones_like */
#include <string.h>

#include "ops.h"

/* fill_<dtype> (see ops.h), every dtype: n elements set to v converted to T */
typedef void (*fill_fn)(void *p, int64_t n, double v);
#define DEF_FILL(E, T, S, ...)                                    \
  static void fill_##S(void *pv, int64_t n, double v) {           \
    T *restrict p = pv;                                           \
    T x = (T)v;                                                   \
    for (int64_t i = 0; i < n; i++) p[i] = x;                     \
  }
TSI_DTYPES(DEF_FILL)
static const tsi_kernels k_fill = TSI_KERNELS_ALL(fill);

/* Fills t (n's output) with v converted to its dtype. */
static int fill_const(const tsi_node *n, tsi_tensor *t, double v, tsi_err *e) {
  if (t->numel <= 0) return TSI_OK;
  if (v == 0) {
    memset(t->data, 0, tsi_nbytes(t));
    return TSI_OK;
  }
  fill_fn f = (fill_fn)tsi_kernel(n, &k_fill, t->dtype, e);
  if (!f) return e->status;
  f(t->data, t->numel, v);
  return TSI_OK;
}

/* Copies a box of extent box[] from src (shape ss, starting at so[]) to dst
 * (shape ds, starting at dof[]); rows along the last axis are memcpy'd. */
static void copy_box(char *dst, const int64_t *ds, const int64_t *dof, const char *src,
                     const int64_t *ss, const int64_t *so, const int64_t *box, int nd,
                     size_t es) {
  if (nd == 0) {
    memcpy(dst, src, es);
    return;
  }
  for (int d = 0; d < nd; d++)
    if (box[d] == 0) return;
  int64_t dst_st[TSI_MAXDIM], src_st[TSI_MAXDIM], idx[TSI_MAXDIM] = {0};
  int64_t a = 1, b = 1;
  for (int d = nd - 1; d >= 0; d--) {
    dst_st[d] = a, src_st[d] = b;
    a *= ds[d], b *= ss[d];
  }
  int64_t rows = tsi_prod(box, 0, nd - 1);
  size_t row = (size_t)box[nd - 1] * es;
  for (int64_t r = 0; r < rows; r++) {
    int64_t od = 0, os = 0;
    for (int d = 0; d < nd; d++) {
      int64_t i = d == nd - 1 ? 0 : idx[d];
      od += (dof[d] + i) * dst_st[d];
      os += (so[d] + i) * src_st[d];
    }
    memcpy(dst + (size_t)od * es, src + (size_t)os * es, row);
    for (int d = nd - 2; d >= 0; d--) {
      if (++idx[d] < box[d]) break;
      idx[d] = 0;
    }
  }
}

static int run_copy(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  size_t nbytes = tsi_nbytes(&ins[0]);
  if (nbytes) memcpy(out->data, ins[0].data, nbytes);
  return TSI_OK;
}

/* ------------------------------------------------------- unary family */

static int infer_same(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  *out = ins[0];
  out->data = NULL;
  return TSI_OK;
}

static int run_zeros_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                          int nin, tsi_tensor *out, tsi_err *e) {
  return fill_const(n, out, 0, e);
}

static int run_ones_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                         int nin, tsi_tensor *out, tsi_err *e) {
  return fill_const(n, out, 1, e);
}

/* ------------------------------------------------------------ reshape */

static int infer_reshape(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  char nb[128], sb[96];
  const tsi_attrs *at = n->attrs;
  if (!at || at->n1 < 0) return tsi_fail(e, TSI_EARG, "%s: a target shape is required", OPN(n));
  if (at->n1 > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: rank %d exceeds the maximum of %d", OPN(n), at->n1,
                    TSI_MAXDIM);
  int64_t shape[TSI_MAXDIM];
  int nd = at->n1, hole = -1;
  int64_t known = 1;
  for (int i = 0; i < nd; i++) {
    shape[i] = at->v1[i];
    if (shape[i] == -1) {
      if (hole >= 0)
        return tsi_fail(e, TSI_EARG, "%s: only one dimension of the target shape may be -1",
                        OPN(n));
      hole = i;
    } else if (shape[i] < 0) {
      return tsi_fail(e, TSI_EARG, "%s: invalid dimension %lld in the target shape", OPN(n),
                      (long long)shape[i]);
    } else {
      if (shape[i] > 0 && known > INT64_MAX / shape[i])
        return tsi_fail(e, TSI_EARG, "%s: the target shape is too large", OPN(n));
      known *= shape[i];
    }
  }
  out->dtype = ins[0].dtype;
  int64_t numel = ins[0].ndim < 0 ? -1 : tsi_numel(ins[0].ndim, ins[0].shape);
  if (numel >= 0) {
    if (hole >= 0) {
      if (known == 0 || numel % known)
        return tsi_fail(e, TSI_EARG,
                        "%s: cannot reshape a tensor of shape %s (%lld elements) with a -1 "
                        "into %lld-element blocks",
                        OPN(n), SHP(&ins[0], sb), (long long)numel, (long long)known);
      shape[hole] = numel / known;
    } else if (known != numel) {
      return tsi_fail(e, TSI_EARG,
                      "%s: cannot reshape a tensor of shape %s (%lld elements) into %lld "
                      "elements",
                      OPN(n), SHP(&ins[0], sb), (long long)numel, (long long)known);
    }
  }
  return tsi_out_shape(n, out, nd, shape, e);
}

/* ------------------------------------------------- squeeze, expand_dims */

static int infer_squeeze(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  char nb[128], sb[96];
  const tsi_tensor *x = &ins[0];
  const tsi_attrs *at = n->attrs;
  if (x->ndim < 0) return tsi_unknown_rank(out, x->dtype);
  int drop[TSI_MAXDIM] = {0};
  if (at && at->has_axes) {
    if (at->naxes > TSI_MAXDIM)
      return tsi_fail(e, TSI_EARG, "%s: %d axes given", OPN(n), at->naxes);
    for (int i = 0; i < at->naxes; i++) {
      int64_t a;
      int st = tsi_norm_axis(n, at->axes[i], x->ndim, &a, e);
      if (st) return st;
      if (x->shape[a] != 1 && x->shape[a] >= 0)
        return tsi_fail(e, TSI_EARG, "%s: cannot squeeze axis %lld of size %lld in shape %s",
                        OPN(n), (long long)a + 1, (long long)x->shape[a], SHP(x, sb));
      drop[a] = 1;
    }
  } else {
    for (int i = 0; i < x->ndim; i++) {
      if (x->shape[i] < 0) /* may or may not be 1 */
        return tsi_unknown_rank(out, x->dtype);
      drop[i] = x->shape[i] == 1;
    }
  }
  int64_t shape[TSI_MAXDIM];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!drop[i]) shape[nd++] = x->shape[i];
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, nd, shape, e);
}

/* Normalises an insertion axis in [-(rank+1), rank] to [0, rank]. */
static int insert_axis(const tsi_node *n, int rank, int64_t *a, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  if (!at || !at->has_axes || at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required", OPN(n));
  if (rank + 1 > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: the result would exceed the maximum rank %d", OPN(n),
                    TSI_MAXDIM);
  return tsi_norm_axis(n, at->axes[0], rank + 1, a, e);
}

static int infer_expand_dims(const tsi_node *n, const tsi_tensor *ins, int nin,
                             tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  if (x->ndim < 0) return tsi_unknown_rank(out, x->dtype);
  int64_t a, shape[TSI_MAXDIM];
  int st = insert_axis(n, x->ndim, &a, e);
  if (st) return st;
  for (int i = 0, k = 0; i <= x->ndim; i++) shape[i] = i == a ? 1 : x->shape[k++];
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, x->ndim + 1, shape, e);
}

/* ------------------------------------------------------ concat, stack */

/* The inputs of concat and stack share a dtype; *ref is the first of known
 * rank (NULL when there is none: out gets an unknown rank). */
static int first_known(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       const tsi_tensor **ref, tsi_err *e) {
  int st = tsi_same_dtype(n, ins, nin, e);
  *ref = NULL;
  if (st) return st;
  for (int i = 0; i < nin && !*ref; i++)
    if (ins[i].ndim >= 0) *ref = &ins[i];
  return *ref ? TSI_OK : tsi_unknown_rank(out, ins[0].dtype);
}

static int infer_concat(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *ref;
  int st = first_known(n, ins, nin, out, &ref, e);
  if (st || !ref) return st;
  if (ref->ndim == 0)
    return tsi_fail(e, TSI_EARG, "%s: cannot concatenate scalars (use stack)", OPN(n));
  const tsi_attrs *at = n->attrs;
  int64_t ax = 0;
  if (at && at->has_axes && at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required, got %d", OPN(n), at->naxes);
  if (at && at->has_axes && (st = tsi_norm_axis(n, at->axes[0], ref->ndim, &ax, e))) return st;
  int64_t shape[TSI_MAXDIM];
  memcpy(shape, ref->shape, sizeof shape);
  shape[ax] = 0;
  for (int i = 0; i < nin; i++) {
    const tsi_tensor *x = &ins[i];
    if (x->ndim < 0) {
      shape[ax] = -1;
      continue;
    }
    if (x->ndim != ref->ndim)
      return tsi_fail(e, TSI_EARG, "%s: input %d has shape %s, input 1 has shape %s "
                      "(ranks differ)", OPN(n), i + 1, SHP(x, sa), SHP(&ins[0], sb));
    for (int d = 0; d < x->ndim; d++) {
      if (d == ax) continue;
      if (x->shape[d] >= 0 && shape[d] >= 0 && x->shape[d] != shape[d])
        return tsi_fail(e, TSI_EARG,
                        "%s: input %d has shape %s, which differs from %s outside axis %lld",
                        OPN(n), i + 1, SHP(x, sa), SHP(ref, sb), (long long)ax + 1);
      if (shape[d] < 0) shape[d] = x->shape[d];
    }
    if (shape[ax] >= 0) shape[ax] = x->shape[ax] < 0 ? -1 : shape[ax] + x->shape[ax];
  }
  out->dtype = ins[0].dtype;
  return tsi_out_shape(n, out, ref->ndim, shape, e);
}

/* Concatenation of blocks: for each of `outer` steps every input gives
 * blk[i] bytes in turn. Shared by concat and stack. */
static void join(const tsi_tensor *ins, int nin, tsi_tensor *out, int64_t outer,
                 const size_t *blk) {
  char *o = out->data;
  for (int64_t r = 0; r < outer; r++)
    for (int i = 0; i < nin; i++) {
      if (blk[i]) memcpy(o, (const char *)ins[i].data + (size_t)r * blk[i], blk[i]);
      o += blk[i];
    }
}

static int run_concat(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  size_t blk[64], es = tsi_dtype_size(out->dtype);
  int64_t ax = 0;
  if (n->attrs && n->attrs->has_axes) tsi_norm_axis(n, n->attrs->axes[0], out->ndim, &ax, e);
  int64_t outer = tsi_prod(out->shape, 0, (int)ax);
  for (int i = 0; i < nin; i++)
    blk[i] = (size_t)tsi_prod(ins[i].shape, (int)ax, ins[i].ndim) * es;
  if (out->numel > 0) join(ins, nin, out, outer, blk);
  return TSI_OK;
}

static int infer_stack(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *ref;
  int st = first_known(n, ins, nin, out, &ref, e);
  if (st || !ref) return st;
  int64_t shape[TSI_MAXDIM], res[TSI_MAXDIM], ax;
  memcpy(shape, ref->shape, sizeof shape);
  for (int i = 0; i < nin; i++) {
    const tsi_tensor *x = &ins[i];
    if (x->ndim < 0) continue;
    int ok = x->ndim == ref->ndim;
    for (int d = 0; ok && d < x->ndim; d++) {
      ok = x->shape[d] < 0 || shape[d] < 0 || x->shape[d] == shape[d];
      if (shape[d] < 0) shape[d] = x->shape[d];
    }
    if (!ok)
      return tsi_fail(e, TSI_EARG, "%s: input %d has shape %s, input 1 has shape %s "
                      "(stacked tensors must have the same shape)",
                      OPN(n), i + 1, SHP(x, sa), SHP(&ins[0], sb));
  }
  if ((st = insert_axis(n, ref->ndim, &ax, e))) return st;
  for (int i = 0, k = 0; i <= ref->ndim; i++) res[i] = i == ax ? nin : shape[k++];
  out->dtype = ins[0].dtype;
  return tsi_out_shape(n, out, ref->ndim + 1, res, e);
}

static int run_stack(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  size_t blk[64], es = tsi_dtype_size(out->dtype);
  int64_t ax;
  int st = insert_axis(n, out->ndim - 1, &ax, e);
  if (st) return st;
  int64_t outer = tsi_prod(out->shape, 0, (int)ax);
  for (int i = 0; i < nin; i++) blk[i] = (size_t)tsi_prod(out->shape, (int)ax + 1, out->ndim) * es;
  if (out->numel > 0) join(ins, nin, out, outer, blk);
  return TSI_OK;
}

/* -------------------------------------------------------------- slice */

/* Concrete begin/size of a slice of x (dims may be unknown: -1). */
static int slice_box(const tsi_node *n, const tsi_tensor *x, int64_t *begin, int64_t *size,
                     tsi_err *e) {
  char nb[128], sb[96], pb[24];
  const tsi_attrs *at = n->attrs;
  if (!at || at->n1 < 0)
    return tsi_fail(e, TSI_EARG, "%s: begin is required", OPN(n));
  if (at->n1 != x->ndim || (at->n2 >= 0 && at->n2 != x->ndim))
    return tsi_fail(e, TSI_EARG, "%s: begin and size need %d entries for shape %s, got %d and %d",
                    OPN(n), x->ndim, SHP(x, sb), at->n1, at->n2 < 0 ? at->n1 : at->n2);
  for (int d = 0; d < x->ndim; d++) {
    int64_t dim = x->shape[d], b = at->v1[d], s = at->n2 >= 0 ? at->v2[d] : -1;
    if (s < -1)
      return tsi_fail(e, TSI_EARG, "%s: size %lld on axis %d is invalid (use -1 for \"to the end\")",
                      OPN(n), (long long)s, d + 1);
    if (dim < 0) { /* unknown: checked at run time */
      begin[d] = b;
      size[d] = s;
      continue;
    }
    int64_t bb = b < 0 ? b + dim : b;
    if (bb < 0 || bb > dim)
      return tsi_fail(e, TSI_EARG, "%s: begin %s on axis %d is out of range for shape %s",
                      OPN(n), tsi_lua_pos(b, pb, sizeof pb), d + 1, SHP(x, sb));
    if (s == -1) s = dim - bb;
    if (s > dim - bb)
      return tsi_fail(e, TSI_EARG,
                      "%s: begin %s with size %lld on axis %d goes past the end of shape %s",
                      OPN(n), tsi_lua_pos(b, pb, sizeof pb), (long long)s, d + 1, SHP(x, sb));
    begin[d] = bb;
    size[d] = s;
  }
  return TSI_OK;
}

static int infer_slice(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  int64_t begin[TSI_MAXDIM], size[TSI_MAXDIM];
  if (ins[0].ndim < 0) return tsi_unknown_rank(out, ins[0].dtype);
  int st = slice_box(n, &ins[0], begin, size, e);
  if (st) return st;
  out->dtype = ins[0].dtype;
  return tsi_out_shape(n, out, ins[0].ndim, size, e);
}

static int run_slice(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  int64_t begin[TSI_MAXDIM], size[TSI_MAXDIM], zero[TSI_MAXDIM] = {0};
  int st = slice_box(n, &ins[0], begin, size, e);
  if (st) return st;
  copy_box(out->data, out->shape, zero, ins[0].data, ins[0].shape, begin, size, out->ndim,
           tsi_dtype_size(out->dtype));
  return TSI_OK;
}

/* ------------------------------------------------------------- gather */

static int infer_gather(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  char nb[128], sb[96], sx[96];
  const tsi_tensor *x = &ins[0], *ix = &ins[1];
  if (ix->dtype != TS_INT64 && ix->dtype != TS_UINT8)
    return tsi_fail(e, TSI_EARG, "%s: indices must be int64 or uint8, got %s", OPN(n),
                    tsi_dtype_name(ix->dtype));
  if (x->ndim < 0 || ix->ndim < 0) return tsi_unknown_rank(out, x->dtype);
  if (x->ndim == 0) return tsi_fail(e, TSI_EARG, "%s: cannot gather from a scalar", OPN(n));
  int64_t ax = 0;
  int st;
  if (n->attrs && n->attrs->has_axes && n->attrs->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s: one axis is required, got %d", OPN(n), n->attrs->naxes);
  if (n->attrs && n->attrs->has_axes &&
      (st = tsi_norm_axis(n, n->attrs->axes[0], x->ndim, &ax, e)))
    return st;
  int nd = x->ndim - 1 + ix->ndim;
  if (nd > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: gathering %s indices from %s exceeds the maximum rank %d",
                    OPN(n), SHP(ix, sb), SHP(x, sx), TSI_MAXDIM);
  int64_t shape[TSI_MAXDIM];
  int k = 0;
  for (int d = 0; d < ax; d++) shape[k++] = x->shape[d];
  for (int d = 0; d < ix->ndim; d++) shape[k++] = ix->shape[d];
  for (int d = (int)ax + 1; d < x->ndim; d++) shape[k++] = x->shape[d];
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, nd, shape, e);
}

static int run_gather(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  char nb[128], sb[96];
  const tsi_tensor *x = &ins[0], *ix = &ins[1];
  int64_t ax = 0;
  if (n->attrs && n->attrs->has_axes) tsi_norm_axis(n, n->attrs->axes[0], x->ndim, &ax, e);
  int64_t dim = x->shape[ax], m = ix->numel;
  for (int64_t j = 0; j < m; j++) {
    int64_t k = tsi_get_i(ix, j);
    if (k < 1 || k > dim)
      return tsi_fail(e, TSI_EARG,
                      "%s: index %lld is out of range for axis %lld of size %lld in shape %s "
                      "(indices are 1-based)",
                      OPN(n), (long long)k, (long long)ax + 1, (long long)dim, SHP(x, sb));
  }
  size_t es = tsi_dtype_size(x->dtype);
  int64_t outer = tsi_prod(x->shape, 0, (int)ax);
  size_t inner = (size_t)tsi_prod(x->shape, (int)ax + 1, x->ndim) * es;
  if (!inner) return TSI_OK;
  char *o = out->data;
  const char *src = x->data;
  for (int64_t r = 0; r < outer; r++)
    for (int64_t j = 0; j < m; j++) {
      int64_t k = tsi_get_i(ix, j) - 1;
      memcpy(o, src + ((size_t)r * (size_t)dim + (size_t)k) * inner, inner);
      o += inner;
    }
  return TSI_OK;
}

/* --------------------------------------------------------------- tile */

/* The prelude of tile and pad: v1 (pairs: and v2 as long) given, else
 * "<need> are required"; one entry per axis of x, else "<count> <what>
 * given for shape ... (one <per> axis)". *unknown is set when x's rank is. */
static int per_axis(const tsi_node *n, const tsi_tensor *x, int pairs, const char *need,
                    const char *what, tsi_tensor *out, int *unknown, tsi_err *e) {
  char nb[128], sb[96];
  const tsi_attrs *at = n->attrs;
  *unknown = 0;
  if (!at || at->n1 < 0 || (pairs && at->n2 != at->n1))
    return tsi_fail(e, TSI_EARG, "%s: %s are required", OPN(n), need);
  if (x->ndim < 0) {
    *unknown = 1;
    return tsi_unknown_rank(out, x->dtype);
  }
  if (at->n1 != x->ndim)
    return tsi_fail(e, TSI_EARG, "%s: %d %s given for shape %s (one %sper axis)", OPN(n), at->n1,
                    what, SHP(x, sb), pairs ? "pair " : "");
  return TSI_OK;
}

static int infer_tile(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  char nb[128];
  const tsi_tensor *x = &ins[0];
  const tsi_attrs *at = n->attrs;
  int unknown, st = per_axis(n, x, 0, "multiples", "multiples", out, &unknown, e);
  if (st || unknown) return st;
  int64_t shape[TSI_MAXDIM];
  for (int d = 0; d < x->ndim; d++) {
    if (at->v1[d] < 0)
      return tsi_fail(e, TSI_EARG, "%s: multiple %lld on axis %d is negative", OPN(n),
                      (long long)at->v1[d], d + 1);
    if (x->shape[d] > 0 && at->v1[d] > INT64_MAX / x->shape[d])
      return tsi_fail(e, TSI_EARG, "%s: multiple %lld on axis %d is too large", OPN(n),
                      (long long)at->v1[d], d + 1);
    shape[d] = x->shape[d] < 0 ? -1 : x->shape[d] * at->v1[d];
  }
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, x->ndim, shape, e);
}

static int run_tile(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  size_t es = tsi_dtype_size(x->dtype);
  int nd = out->ndim;
  if (out->numel <= 0) return TSI_OK;
  if (nd == 0) {
    memcpy(out->data, x->data, es);
    return TSI_OK;
  }
  /* walk output rows; the source row repeats along the last axis */
  int64_t xst[TSI_MAXDIM], idx[TSI_MAXDIM] = {0}, s = 1;
  for (int d = nd - 1; d >= 0; d--) xst[d] = s, s *= x->shape[d];
  int64_t rows = tsi_prod(out->shape, 0, nd - 1);
  int64_t xl = x->shape[nd - 1], reps = out->shape[nd - 1] / xl;
  size_t row = (size_t)xl * es;
  char *o = out->data;
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = 0;
    for (int d = 0; d + 1 < nd; d++) off += (idx[d] % x->shape[d]) * xst[d];
    const char *src = (const char *)x->data + (size_t)off * es;
    for (int64_t k = 0; k < reps; k++, o += row) memcpy(o, src, row);
    for (int d = nd - 2; d >= 0; d--) {
      if (++idx[d] < out->shape[d]) break;
      idx[d] = 0;
    }
  }
  return TSI_OK;
}

/* ---------------------------------------------------------------- pad */

static int infer_pad(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                     tsi_err *e) {
  char nb[128], sb[96];
  const tsi_tensor *x = &ins[0];
  const tsi_attrs *at = n->attrs;
  int unknown, st = per_axis(n, x, 1, "paddings {{before, after}, ...}", "paddings", out,
                             &unknown, e);
  if (st || unknown) return st;
  double v = at->f[0];
  double lo = x->dtype == TS_INT64 ? -9.2e18 : 0, hi = x->dtype == TS_INT64 ? 9.2e18 : 255;
  if (!tsi_is_float(x->dtype) && (!(v >= lo && v <= hi) || v != (double)(int64_t)v))
    return tsi_fail(e, TSI_EARG, "%s: constant value %g does not fit dtype %s", OPN(n), v,
                    tsi_dtype_name(x->dtype));
  int64_t shape[TSI_MAXDIM];
  for (int d = 0; d < x->ndim; d++) {
    int64_t b = at->v1[d], a = at->v2[d], sz;
    if (b < 0 || a < 0)
      return tsi_fail(e, TSI_EARG, "%s: negative padding on axis %d ({%lld, %lld})", OPN(n),
                      d + 1, (long long)b, (long long)a);
    if (__builtin_add_overflow(b, a, &sz) ||
        (x->shape[d] >= 0 && __builtin_add_overflow(sz, x->shape[d], &sz)))
      return tsi_fail(e, TSI_EARG, "%s: padding {%lld, %lld} on axis %d is too large for shape %s",
                      OPN(n), (long long)b, (long long)a, d + 1, SHP(x, sb));
    shape[d] = x->shape[d] < 0 ? -1 : sz;
  }
  out->dtype = x->dtype;
  return tsi_out_shape(n, out, x->ndim, shape, e);
}

static int run_pad(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                   tsi_tensor *out, tsi_err *e) {
  int64_t zero[TSI_MAXDIM] = {0};
  int st = fill_const(n, out, n->attrs->f[0], e);
  if (st) return st;
  copy_box(out->data, out->shape, n->attrs->v1, ins[0].data, ins[0].shape, zero, ins[0].shape,
           out->ndim, tsi_dtype_size(out->dtype));
  return TSI_OK;
}

/* ---------------------------------------------------- cast, one_hot */

static int infer_cast(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  char nb[128];
  if (!n->attrs || n->attrs->dtype < 0 || n->attrs->dtype >= TS_NDTYPES)
    return tsi_fail(e, TSI_EARG, "%s: a target dtype is required", OPN(n));
  *out = ins[0];
  out->data = NULL;
  out->dtype = n->attrs->dtype;
  return TSI_OK;
}

static int run_cast(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  if (out->numel > 0) tsi_convert(out, &ins[0]);
  return TSI_OK;
}

static int infer_one_hot(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  char nb[128];
  const tsi_tensor *ix = &ins[0];
  const tsi_attrs *at = n->attrs;
  if (ix->dtype != TS_INT64 && ix->dtype != TS_UINT8)
    return tsi_fail(e, TSI_EARG, "%s: indices must be int64 or uint8, got %s", OPN(n),
                    tsi_dtype_name(ix->dtype));
  if (!at || at->i1 < 0)
    return tsi_fail(e, TSI_EARG, "%s: depth %lld is negative", OPN(n), (long long)(at ? at->i1 : -1));
  if (at->dtype >= TS_NDTYPES)
    return tsi_fail(e, TSI_EARG, "%s: unknown dtype %d", OPN(n), at->dtype);
  int dtype = at->dtype < 0 ? TS_FLOAT64 : at->dtype;
  if (ix->ndim < 0) return tsi_unknown_rank(out, dtype);
  if (ix->ndim + 1 > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "%s: the result would exceed the maximum rank %d", OPN(n),
                    TSI_MAXDIM);
  int64_t shape[TSI_MAXDIM];
  memcpy(shape, ix->shape, sizeof(int64_t) * (size_t)ix->ndim);
  shape[ix->ndim] = at->i1;
  out->dtype = dtype;
  return tsi_out_shape(n, out, ix->ndim + 1, shape, e);
}

static int run_one_hot(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  int64_t depth = n->attrs->i1;
  int st = fill_const(n, out, 0, e);
  if (st) return st;
  for (int64_t j = 0; j < ins[0].numel; j++) {
    int64_t k = tsi_get_i(&ins[0], j);
    if (k >= 1 && k <= depth) tsi_set_i(out, j * depth + k - 1, 1);
  }
  return TSI_OK;
}

#define OP(NAME, NMIN, NMAX, INFER, RUN) {NAME, NMIN, NMAX, 0, INFER, RUN, NULL}

const tsi_opdef tsi_ops_shape[] = {
    OP("reshape", 1, 1, infer_reshape, run_copy),
    OP("squeeze", 1, 1, infer_squeeze, run_copy),
    OP("expand_dims", 1, 1, infer_expand_dims, run_copy),
    OP("concat", 1, 64, infer_concat, run_concat),
    OP("stack", 1, 64, infer_stack, run_stack),
    OP("slice", 1, 1, infer_slice, run_slice),
    OP("gather", 2, 2, infer_gather, run_gather),
    OP("tile", 1, 1, infer_tile, run_tile),
    OP("pad", 1, 1, infer_pad, run_pad),
    OP("cast", 1, 1, infer_cast, run_cast),
    OP("one_hot", 1, 1, infer_one_hot, run_one_hot),
    OP("identity", 1, 1, infer_same, run_copy),
    OP("stop_gradient", 1, 1, infer_same, run_copy),
    OP("zeros_like", 1, 1, infer_same, run_zeros_like),
    OP("ones_like", 1, 1, infer_same, run_ones_like),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
