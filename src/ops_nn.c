/* Neural-network ops: float32 and float64 only (integer inputs are refused
 * with a hint to cast). Every kernel is numerically stable: exponentials
 * are taken of x - max, so logits of 1000 give finite results and no log(0).
 *
 *   softmax, log_softmax            axis (default: last)
 *   softmax_cross_entropy_with_logits(labels, logits)   per-row loss over the
 *                                   last axis: shape = logits' minus the last
 *   sparse_softmax_cross_entropy_with_logits(labels, logits)   labels int64
 *                                   or uint8, 1-based class indices (out of
 *                                   range: run-time error)
 *   sigmoid_cross_entropy_with_logits(labels, logits)   element-wise:
 *                                   max(x, 0) - x z + log1p(exp(-|x|))
 *   mean_squared_error(labels, predictions)   scalar mean (0 when empty)
 *   l2_loss(x)                      scalar sum(x^2) / 2
 *   dropout(x [, training])         f[0] = rate, i1 = active without a
 *                                   training input, seed = the node's seed;
 *                                   inverted: kept values scaled 1/(1-rate)
 *   bias_add(x, bias)               bias (1-D) along x's last axis
 *
 * Two helpers of the gradients (lua/tensorslow/grad.lua):
 *   one_hot_like(labels, logits)    the one-hot rows of the 1-based labels,
 *                                   with logits' dtype and (run-time) shape
 *   ensure_shape_like(g, x)         g, checked to have x's shape at run time
 *                                   (around user-written gradient functions) */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "parallel.h"
#include "vmath.h"

/* Two shapes that must agree (unknown dims tolerated); out gets the merge. */
static int same_shape(const tsi_node *n, const tsi_tensor *a, const tsi_tensor *b,
                      const char *an, const char *bn, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  if (a->ndim < 0 || b->ndim < 0) {
    *out = a->ndim < 0 ? *b : *a;
    out->data = NULL;
    return TSI_OK;
  }
  int ok = a->ndim == b->ndim;
  int64_t shape[TSI_MAXDIM];
  for (int d = 0; ok && d < a->ndim; d++) {
    ok = a->shape[d] < 0 || b->shape[d] < 0 || a->shape[d] == b->shape[d];
    shape[d] = a->shape[d] < 0 ? b->shape[d] : a->shape[d];
  }
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: %s of shape %s and %s of shape %s must have the same shape",
                    OPN(n), an, SHP(a, sa), bn, SHP(b, sb));
  return tsi_set_shape(out, a->ndim, shape, e);
}

/* ----------------------------------------------------------- softmax */

static int infer_softmax(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  const tsi_attrs *at = n->attrs;
  char nb[128];
  int st;
  if (!tsi_kernel(n, n->op->impl, x->dtype, e)) return e->status;
  if (at && at->has_axes && at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s takes exactly one axis, got %d", OPN(n), at->naxes);
  if (x->ndim >= 0) {
    int64_t ax;
    if (x->ndim == 0)
      return tsi_fail(e, TSI_EARG, "%s: needs at least one axis, got a scalar", OPN(n));
    if (n->attrs && n->attrs->has_axes &&
        (st = tsi_norm_axis(n, n->attrs->axes[0], x->ndim, &ax, e)))
      return st;
  }
  *out = *x;
  out->data = NULL;
  return TSI_OK;
}

/* softmax_<S> (see ops.h): softmax (logsm 0) or log_softmax (logsm 1) of rows
 * of length len with stride inner, for each (outer, inner) position; the sum
 * of the exps is a double, its log taken in double. */
typedef void (*softmax_fn)(const void *X, void *O, int64_t outer, int64_t len, int64_t inner,
                           int logsm);
#define DEF_SOFTMAX(S, T, EXP)                                                        \
  static void softmax_##S(const void *Xv, void *Ov, int64_t outer, int64_t len,      \
                          int64_t inner, int logsm) {                                \
    const T *X = Xv;                                                                 \
    T *O = Ov;                                                                       \
    for (int64_t o = 0; o < outer; o++)                                              \
      for (int64_t i = 0; i < inner; i++) {                                          \
        const T *x = X + o * len * inner + i;                                        \
        T *y = O + o * len * inner + i;                                              \
        T m = -INFINITY;                                                             \
        for (int64_t k = 0; k < len; k++)                                            \
          if (x[k * inner] > m) m = x[k * inner];                                    \
        if (!(m > -INFINITY)) m = 0; /* all -inf (or NaN): avoid inf - inf */        \
        double s = 0;                                                                \
        for (int64_t k = 0; k < len; k++) s += EXP(x[k * inner] - m);                \
        if (logsm) {                                                                 \
          T ls = (T)log(s);                                                          \
          for (int64_t k = 0; k < len; k++) y[k * inner] = x[k * inner] - m - ls;    \
        } else {                                                                     \
          for (int64_t k = 0; k < len; k++)                                          \
            y[k * inner] = (T)(EXP(x[k * inner] - m) / s);                           \
        }                                                                            \
      }                                                                              \
  }
DEF_SOFTMAX(float32, float, tsi_expf)
DEF_SOFTMAX(float64, double, tsi_exp)

#define ROW_LANES 16
/* softmax_rows_<S>: rows contiguous in memory (softmax over the last axis):
 * simple counted loops the compiler vectorises, rows split over threads. */
typedef void (*softmax_rows_fn)(const void *X, void *O, int64_t r0, int64_t r1, int64_t len,
                                int logsm);
/* Short rows: the exps of a block of rows in one vector loop. Inlined with
 * len a constant for rows of 2, 3 and 4 (the tutorial's 100x2 softmax), so
 * the per-row loops unroll instead of each setting up a vector loop. */
#define DEF_SOFTMAX_SHORT(S, T, EXP, LOG)                                                \
  static inline __attribute__((always_inline)) void softmax_short_##S(                   \
      const T *restrict X, T *restrict O, int64_t r0, int64_t r1, int64_t len, int logsm) { \
    T mm[256];                                                                           \
    const int64_t per = 256 / len;                                                       \
    for (int64_t r = r0; r < r1; r += per) {                                             \
      const int64_t nr = r1 - r < per ? r1 - r : per, ne = nr * len;                     \
      const T *restrict x = X + r * len;                                                 \
      T *restrict y = O + r * len;                                                       \
      for (int64_t b = 0; b < nr; b++) {                                                 \
        T m = -INFINITY;                                                                 \
        for (int64_t k = 0; k < len; k++) m = x[b * len + k] > m ? x[b * len + k] : m;   \
        if (!(m > -INFINITY)) m = 0;                                                     \
        for (int64_t k = 0; k < len; k++) mm[b * len + k] = m;                           \
      }                                                                                  \
      for (int64_t i = 0; i < ne; i++) y[i] = EXP(x[i] - mm[i]);                         \
      for (int64_t b = 0; b < nr; b++) {                                                 \
        T s = 0;                                                                         \
        for (int64_t k = 0; k < len; k++) s += y[b * len + k];                           \
        if (logsm) {                                                                     \
          T ls = LOG(s);                                                                 \
          for (int64_t k = 0; k < len; k++)                                              \
            y[b * len + k] = (x[b * len + k] - mm[b * len + k]) - ls;                    \
        } else {                                                                         \
          T inv = 1 / s;                                                                 \
          for (int64_t k = 0; k < len; k++) y[b * len + k] *= inv;                       \
        }                                                                                \
      }                                                                                  \
    }                                                                                    \
  }
#define DEF_SOFTMAX_ROWS(S, T, EXP, LOG)                                                 \
  DEF_SOFTMAX_SHORT(S, T, EXP, LOG)                                                      \
  TSI_CLONES static void softmax_rows_##S(const void *Xv, void *Ov, int64_t r0,          \
                                          int64_t r1, int64_t len, int logsm) {          \
    const T *restrict X = Xv;                                                            \
    T *restrict O = Ov;                                                                  \
    if (len < 16) {                                                                      \
      switch (len) {                                                                     \
      case 2: softmax_short_##S(X, O, r0, r1, 2, logsm); break;                          \
      case 3: softmax_short_##S(X, O, r0, r1, 3, logsm); break;                          \
      case 4: softmax_short_##S(X, O, r0, r1, 4, logsm); break;                          \
      default: softmax_short_##S(X, O, r0, r1, len, logsm); break;                       \
      }                                                                                  \
      return;                                                                            \
    }                                                                                    \
    for (int64_t r = r0; r < r1; r++) {                                                  \
      const T *restrict x = X + r * len;                                                 \
      T *restrict y = O + r * len;                                                       \
      /* max and sum in ROW_LANES lanes: one accumulator is a chain the compiler \
       * may not reorder, so it would not vectorise */                                  \
      T l_[ROW_LANES], m = -INFINITY, s = 0;                                             \
      const int64_t e_ = len - len % ROW_LANES;                                          \
      for (int l = 0; l < ROW_LANES; l++) l_[l] = -INFINITY;                             \
      for (int64_t b = 0; b < e_; b += ROW_LANES)                                        \
        for (int l = 0; l < ROW_LANES; l++) l_[l] = x[b + l] > l_[l] ? x[b + l] : l_[l];  \
      for (int64_t k = e_; k < len; k++) m = x[k] > m ? x[k] : m;                        \
      for (int l = 0; l < ROW_LANES; l++) m = l_[l] > m ? l_[l] : m;                     \
      if (!(m > -INFINITY)) m = 0;                                                       \
      for (int64_t k = 0; k < len; k++) y[k] = EXP(x[k] - m);                            \
      for (int l = 0; l < ROW_LANES; l++) l_[l] = 0;                                     \
      for (int64_t b = 0; b < e_; b += ROW_LANES)                                        \
        for (int l = 0; l < ROW_LANES; l++) l_[l] += y[b + l];                           \
      for (int64_t k = e_; k < len; k++) l_[k - e_] += y[k];                             \
      for (int h = ROW_LANES / 2; h > 0; h /= 2)                                         \
        for (int l = 0; l < h; l++) l_[l] += l_[l + h];                                  \
      s = l_[0];                                                                         \
      if (logsm) {                                                                       \
        T ls = LOG(s); /* (x - m) - ls keeps precision where x - (m + ls) would not */   \
        for (int64_t k = 0; k < len; k++) y[k] = (x[k] - m) - ls;                        \
      } else {                                                                           \
        T inv = 1 / s;                                                                   \
        for (int64_t k = 0; k < len; k++) y[k] *= inv;                                   \
      }                                                                                  \
    }                                                                                    \
  }
DEF_SOFTMAX_ROWS(float32, float, tsi_expf, logf)
DEF_SOFTMAX_ROWS(float64, double, tsi_exp, log)

typedef struct softmax_impl {
  tsi_kernels k;    /* softmax_fn */
  tsi_kernels rows; /* softmax_rows_fn */
  int logsm;
} softmax_impl;
static const softmax_impl k_softmax = {TSI_KERNELS_FLOAT(softmax), TSI_KERNELS_FLOAT(softmax_rows),
                                       0};
static const softmax_impl k_log_softmax = {TSI_KERNELS_FLOAT(softmax),
                                           TSI_KERNELS_FLOAT(softmax_rows), 1};

typedef struct rows_job {
  softmax_rows_fn f;
  const tsi_tensor *x;
  tsi_tensor *out;
  int64_t len;
  int logsm;
} rows_job;

static void softmax_rows_range(void *arg, int64_t r0, int64_t r1) {
  rows_job *j = arg;
  j->f(j->x->data, j->out->data, r0, r1, j->len, j->logsm);
}

/* tsi_parallel_for works in elements; chunks are whole rows (align = rows * len). */
static void softmax_rows_elems(void *arg, int64_t b, int64_t e) {
  rows_job *j = arg;
  softmax_rows_range(arg, b / j->len, (e + j->len - 1) / j->len);
}

static int run_softmax(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  const softmax_impl *k = n->op->impl;
  int64_t ax = x->ndim - 1;
  int st;
  softmax_fn f = (softmax_fn)tsi_kernel(n, &k->k, x->dtype, e);
  softmax_rows_fn rows = (softmax_rows_fn)tsi_kernel(n, &k->rows, x->dtype, e);
  if (!f || !rows) return e->status;
  if (n->attrs && n->attrs->has_axes &&
      (st = tsi_norm_axis(n, n->attrs->axes[0], x->ndim, &ax, e)))
    return st;
  int logsm = k->logsm;
  int64_t outer = tsi_prod(x->shape, 0, (int)ax), len = x->shape[ax];
  int64_t inner = tsi_prod(x->shape, (int)ax + 1, x->ndim);
  if (x->numel <= 0) return TSI_OK;
  if (inner == 1 && len > 0) {
    rows_job j = {rows, x, out, len, logsm};
    /* split by rows: a chunk of `per` rows covers per * len elements */
    int threads = x->numel >= TSI_PAR_GRAIN ? ctx->nthreads : 1;
    int64_t rows_per = (outer + threads - 1) / (threads > 0 ? threads : 1);
    if (threads <= 1 || outer < 2) {
      softmax_rows_range(&j, 0, outer);
    } else {
      tsi_parallel_for(ctx->pool, threads, outer * len, rows_per * len, softmax_rows_elems, &j);
    }
    return TSI_OK;
  }
  f(x->data, out->data, outer, len, inner, logsm);
  return TSI_OK;
}

/* ---------------------------------------------------- cross-entropies */

/* Output shape: logits' minus the last axis. */
static int drop_last(const tsi_node *n, const tsi_tensor *logits, tsi_tensor *out,
                     tsi_err *e) {
  char nb[128], sb[96];
  out->dtype = logits->dtype;
  if (logits->ndim < 0) return tsi_unknown_rank(out, logits->dtype);
  if (logits->ndim == 0)
    return tsi_fail(e, TSI_EARG, "%s: logits of shape %s need a class axis", OPN(n),
                    SHP(logits, sb));
  return tsi_set_shape(out, logits->ndim - 1, logits->shape, e);
}

static int infer_softmax_ce(const tsi_node *n, const tsi_tensor *ins, int nin,
                            tsi_tensor *out, tsi_err *e) {
  int st;
  tsi_tensor merged;
  memset(&merged, 0, sizeof merged);
  if (!tsi_kernel(n, n->op->impl, ins[1].dtype, e)) return e->status;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if ((st = same_shape(n, &ins[0], &ins[1], "labels", "logits", &merged, e))) return st;
  merged.dtype = ins[1].dtype;
  return drop_last(n, &merged, out, e);
}

/* lse_<S>: log(sum(exp(x))) of a row, stable (in double); softmax_ce_<S>:
 * the rows' cross-entropies; sparse_ce_<S>: the same with 1-based labels z
 * (checked by the caller). */
typedef void (*softmax_ce_fn)(const void *Z, const void *X, void *O, int64_t rows, int64_t len);
typedef void (*sparse_ce_fn)(const tsi_tensor *z, const void *X, void *O, int64_t rows,
                             int64_t len);
#define DEF_LSE(S, T)                                                                    \
  static double lse_##S(const T *x, int64_t len) {                                       \
    double m = -INFINITY, s = 0;                                                         \
    for (int64_t k = 0; k < len; k++)                                                    \
      if (x[k] > m) m = x[k];                                                            \
    if (!(m > -INFINITY)) return m;                                                      \
    for (int64_t k = 0; k < len; k++) s += exp(x[k] - m);                                \
    return m + log(s);                                                                   \
  }                                                                                      \
  static void softmax_ce_##S(const void *Zv, const void *Xv, void *Ov, int64_t rows,     \
                             int64_t len) {                                              \
    const T *X = Xv, *Z = Zv;                                                            \
    T *O = Ov;                                                                           \
    for (int64_t r = 0; r < rows; r++) {                                                 \
      const T *x = X + r * len, *z = Z + r * len;                                        \
      double l = lse_##S(x, len), s = 0;                                                 \
      for (int64_t k = 0; k < len; k++)                                                  \
        if (z[k] != 0) s += (double)z[k] * (l - (double)x[k]);                           \
      O[r] = (T)s;                                                                       \
    }                                                                                    \
  }                                                                                      \
  static void sparse_ce_##S(const tsi_tensor *z, const void *Xv, void *Ov, int64_t rows, \
                            int64_t len) {                                               \
    const T *X = Xv;                                                                     \
    T *O = Ov;                                                                           \
    for (int64_t r = 0; r < rows; r++) {                                                 \
      const T *xr = X + r * len;                                                         \
      O[r] = (T)(lse_##S(xr, len) - xr[tsi_get_i(z, r) - 1]);                            \
    }                                                                                    \
  }
DEF_LSE(float32, float)
DEF_LSE(float64, double)
static const tsi_kernels k_softmax_ce = TSI_KERNELS_FLOAT(softmax_ce);
static const tsi_kernels k_sparse_ce = TSI_KERNELS_FLOAT(sparse_ce);

/* The 1-based labels z of rows rows of len classes are in range. */
static int check_labels(const tsi_node *n, const tsi_tensor *z, int64_t rows, int64_t len,
                        tsi_err *e) {
  char nb[128];
  for (int64_t r = 0; r < rows; r++) {
    int64_t k = tsi_get_i(z, r);
    if (k < 1 || k > len)
      return tsi_fail(e, TSI_EARG,
                      "%s: label %lld (row %lld) is out of range for %lld classes "
                      "(labels are 1-based)",
                      OPN(n), (long long)k, (long long)r + 1, (long long)len);
  }
  return TSI_OK;
}

static int run_softmax_ce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = out->numel;
  softmax_ce_fn f = (softmax_ce_fn)tsi_kernel(n, n->op->impl, x->dtype, e);
  if (!f) return e->status;
  if (rows <= 0) return TSI_OK;
  f(ins[0].data, x->data, out->data, rows, len);
  return TSI_OK;
}

static int infer_sparse_ce(const tsi_node *n, const tsi_tensor *ins, int nin,
                           tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int st;
  if (!tsi_kernel(n, &k_sparse_ce, x->dtype, e)) return e->status;
  if (z->dtype != TS_INT64 && z->dtype != TS_UINT8)
    return tsi_fail(e, TSI_EARG, "%s: labels must be int64 or uint8 class indices, got %s",
                    OPN(n), tsi_dtype_name(z->dtype));
  if ((st = drop_last(n, x, out, e))) return st;
  if (z->ndim < 0 || out->ndim < 0) return TSI_OK;
  int ok = z->ndim == out->ndim;
  for (int d = 0; ok && d < z->ndim; d++) {
    ok = z->shape[d] < 0 || out->shape[d] < 0 || z->shape[d] == out->shape[d];
    if (out->shape[d] < 0) out->shape[d] = z->shape[d];
  }
  if (!ok)
    return tsi_fail(e, TSI_EARG,
                    "%s: labels of shape %s do not match logits of shape %s minus the last axis",
                    OPN(n), SHP(z, sa), SHP(x, sb));
  out->numel = tsi_numel(out->ndim, out->shape);
  return TSI_OK;
}

static int run_sparse_ce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                         tsi_tensor *out, tsi_err *e) {
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = out->numel;
  sparse_ce_fn f = (sparse_ce_fn)tsi_kernel(n, &k_sparse_ce, x->dtype, e);
  if (!f) return e->status;
  int st = check_labels(n, z, rows, len, e);
  if (st) return st;
  f(z, x->data, out->data, rows, len);
  return TSI_OK;
}

/* one_hot_like(labels, logits): labels are checked as by the sparse loss. */
static int infer_one_hot_like(const tsi_node *n, const tsi_tensor *ins, int nin,
                              tsi_tensor *out, tsi_err *e) {
  tsi_tensor rows;
  int st = infer_sparse_ce(n, ins, nin, &rows, e);
  if (st) return st;
  *out = ins[1];
  out->data = NULL;
  return TSI_OK;
}

static int run_one_hot_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                            tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = tsi_prod(x->shape, 0, x->ndim - 1);
  if (z->numel != rows)
    return tsi_fail(e, TSI_EARG, "%s: labels of shape %s do not match logits of shape %s",
                    OPN(n), SHP(z, sa), SHP(x, sb));
  int st = check_labels(n, z, rows, len, e);
  if (st) return st;
  if (tsi_nbytes(out)) memset(out->data, 0, tsi_nbytes(out));
  for (int64_t r = 0; r < rows; r++) tsi_set_f(out, r * len + tsi_get_i(z, r) - 1, 1.0);
  return TSI_OK;
}

/* ensure_shape_like(g, x): g as it is; a build-time error when both shapes are
 * known and differ, else a run-time one. */
static int check_like(const tsi_node *n, const tsi_tensor *g, const tsi_tensor *x, int run,
                      tsi_err *e) {
  char nb[128], sa[96], sb[96];
  int ok = 1;
  if (g->dtype != x->dtype)
    return tsi_fail(e, TSI_EARG, "%s: a gradient of dtype %s for an input of dtype %s", OPN(n),
                    tsi_dtype_name(g->dtype), tsi_dtype_name(x->dtype));
  if (g->ndim >= 0 && x->ndim >= 0) {
    ok = g->ndim == x->ndim;
    for (int d = 0; ok && d < g->ndim; d++)
      ok = (!run && (g->shape[d] < 0 || x->shape[d] < 0)) || g->shape[d] == x->shape[d];
  }
  if (!ok)
    return tsi_fail(e, TSI_EARG, "%s: a gradient of shape %s for an input of shape %s", OPN(n),
                    SHP(g, sa), SHP(x, sb));
  return TSI_OK;
}

static int infer_ensure_shape_like(const tsi_node *n, const tsi_tensor *ins, int nin,
                                   tsi_tensor *out, tsi_err *e) {
  int st = check_like(n, &ins[0], &ins[1], 0, e);
  if (st) return st;
  tsi_tensor merged;
  memset(&merged, 0, sizeof merged);
  if ((st = same_shape(n, &ins[0], &ins[1], "gradient", "input", &merged, e))) return st;
  *out = merged;
  out->dtype = ins[0].dtype;
  out->data = NULL;
  return TSI_OK;
}

static int run_ensure_shape_like(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins,
                                 int nin, tsi_tensor *out, tsi_err *e) {
  int st = check_like(n, &ins[0], &ins[1], 1, e);
  if (st) return st;
  if (tsi_nbytes(out) && out->data != ins[0].data)
    memcpy(out->data, ins[0].data, tsi_nbytes(out));
  return TSI_OK;
}

static int infer_pair(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  int st;
  int is_mse = strcmp(n->op->name, "mean_squared_error") == 0;
  if (!tsi_kernel(n, n->op->impl, ins[1].dtype, e)) return e->status;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if ((st = same_shape(n, &ins[0], &ins[1], "labels", is_mse ? "predictions" : "logits", out,
                       e)))
    return st;
  out->dtype = ins[1].dtype;
  if (is_mse) return tsi_set_shape(out, 0, NULL, e);
  return TSI_OK;
}

/* sigmoid_ce_<S> (element-wise losses) and sqdiff_<S> (sum of squared
 * differences, in double) */
typedef void (*sigmoid_ce_fn)(const void *Z, const void *X, void *O, int64_t n);
typedef double (*sqdiff_fn)(const void *Z, const void *P, int64_t n);
#define DEF_PAIR(S, T, LOG1P, EXP, FABS)                                             \
  static void sigmoid_ce_##S(const void *Zv, const void *Xv, void *Ov, int64_t n) {  \
    const T *restrict Z = Zv, *restrict X = Xv;                                      \
    T *restrict O = Ov;                                                              \
    for (int64_t i = 0; i < n; i++) {                                                \
      T x = X[i];                                                                    \
      O[i] = (x > 0 ? x : 0) - x * Z[i] + LOG1P(EXP(-FABS(x)));                      \
    }                                                                                \
  }                                                                                  \
  static double sqdiff_##S(const void *Zv, const void *Pv, int64_t n) {              \
    const T *restrict Z = Zv, *restrict P = Pv;                                      \
    double s = 0;                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                \
      double d = (double)P[i] - (double)Z[i];                                        \
      s += d * d;                                                                    \
    }                                                                                \
    return s;                                                                        \
  }
DEF_PAIR(float32, float, log1pf, expf, fabsf)
DEF_PAIR(float64, double, log1p, exp, fabs)
static const tsi_kernels k_sigmoid_ce = TSI_KERNELS_FLOAT(sigmoid_ce);
static const tsi_kernels k_mse = TSI_KERNELS_FLOAT(sqdiff);

static int run_sigmoid_ce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  sigmoid_ce_fn f = (sigmoid_ce_fn)tsi_kernel(n, n->op->impl, out->dtype, e);
  if (!f) return e->status;
  if (out->numel <= 0) return TSI_OK;
  f(ins[0].data, ins[1].data, out->data, out->numel);
  return TSI_OK;
}

static int run_mse(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                   tsi_tensor *out, tsi_err *e) {
  int64_t m = ins[1].numel;
  double s = 0;
  sqdiff_fn f = (sqdiff_fn)tsi_kernel(n, n->op->impl, ins[1].dtype, e);
  if (!f) return e->status;
  if (m > 0) s = f(ins[0].data, ins[1].data, m) / (double)m;
  tsi_set_f(out, 0, s);
  return TSI_OK;
}

/* ---------------------------------------------------------- l2_loss */

static int infer_l2(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                    tsi_err *e) {
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  out->dtype = ins[0].dtype;
  return tsi_set_shape(out, 0, NULL, e);
}

/* l2_<S>: the sum of squares, in double */
typedef double (*l2_fn)(const void *X, int64_t n);
#define DEF_L2(E, T, S, ...)                                                          \
  static double l2_##S(const void *Xv, int64_t n) {                                   \
    const T *X = Xv;                                                                  \
    double s = 0;                                                                     \
    for (int64_t i = 0; i < n; i++) s += (double)X[i] * X[i];                         \
    return s;                                                                         \
  }
TSI_FLOAT_DTYPES(DEF_L2)
static const tsi_kernels k_l2 = TSI_KERNELS_FLOAT(l2);

static int run_l2(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                  tsi_tensor *out, tsi_err *e) {
  l2_fn f = (l2_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  if (!f) return e->status;
  tsi_set_f(out, 0, f(ins[0].data, ins[0].numel) / 2);
  return TSI_OK;
}

/* ---------------------------------------------------------- dropout */

static int infer_dropout(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  char nb[128], sb[96];
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  double rate = n->attrs ? n->attrs->f[0] : 0;
  if (!(rate >= 0 && rate < 1))
    return tsi_fail(e, TSI_EARG, "%s: rate must be in [0, 1), got %g", OPN(n), rate);
  if (nin == 2 && ins[1].ndim >= 0 && ins[1].numel != 1 && ins[1].numel != -1)
    return tsi_fail(e, TSI_EARG, "%s: training must be a scalar, got shape %s", OPN(n),
                    SHP(&ins[1], sb));
  *out = ins[0];
  out->data = NULL;
  return TSI_OK;
}

/* dropout_<S>: inverted dropout, kept values scaled by 1 / (1 - rate) */
typedef void (*dropout_fn)(tsi_rng *r, const void *X, void *O, int64_t n, double rate);
#define DEF_DROPOUT(E, T, S, ...)                                                         \
  static void dropout_##S(tsi_rng *r, const void *Xv, void *Ov, int64_t n, double rate) { \
    const T *X = Xv;                                                                      \
    T *O = Ov;                                                                            \
    T scale = (T)(1.0 / (1.0 - rate));                                                    \
    for (int64_t i = 0; i < n; i++) O[i] = tsi_rng_uniform(r) >= rate ? X[i] * scale : 0; \
  }
TSI_FLOAT_DTYPES(DEF_DROPOUT)
static const tsi_kernels k_dropout = TSI_KERNELS_FLOAT(dropout);

static int run_dropout(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  const tsi_attrs *at = n->attrs;
  double rate = at ? at->f[0] : 0;
  dropout_fn f = (dropout_fn)tsi_kernel(n, n->op->impl, out->dtype, e);
  if (!f) return e->status;
  int active = nin == 2 ? tsi_get_f(&ins[1], 0) != 0 : ((at && at->i1) || ctx->training);
  if (out->numel <= 0) return TSI_OK;
  if (!active || rate == 0) {
    memcpy(out->data, ins[0].data, tsi_nbytes(out));
    return TSI_OK;
  }
  /* the node's seed mixed with one draw of the state's generator: a new
   * mask every run, the same sequence for the same ts.seed */
  tsi_rng r;
  tsi_rng_seed(&r, (at ? at->seed : 0) ^ (ctx->rng ? tsi_rng_next(ctx->rng) : 0));
  f(&r, ins[0].data, out->data, out->numel, rate);
  return TSI_OK;
}

/* ---------------------------------------------------------- bias_add */

static int infer_bias_add(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                          tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const tsi_tensor *x = &ins[0], *b = &ins[1];
  int st;
  if (!tsi_kernel(n, n->op->impl, x->dtype, e)) return e->status;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if (x->ndim == 0 || (b->ndim >= 0 && b->ndim != 1) ||
      (x->ndim > 0 && b->ndim == 1 && x->shape[x->ndim - 1] >= 0 && b->shape[0] >= 0 &&
       x->shape[x->ndim - 1] != b->shape[0]))
    return tsi_fail(e, TSI_EARG,
                    "%s: bias must be 1-D with the size of x's last axis: x %s, bias %s",
                    OPN(n), SHP(x, sa), SHP(b, sb));
  *out = *x;
  out->data = NULL;
  return TSI_OK;
}

/* bias_<S>: X (rows x len) plus B (len) on every row */
typedef void (*bias_fn)(const void *X, const void *B, void *O, int64_t rows, int64_t len);
#define DEF_BIAS(E, T, S, ...)                                                        \
  static void bias_##S(const void *Xv, const void *Bv, void *Ov, int64_t rows,        \
                       int64_t len) {                                                 \
    const T *restrict X = Xv, *restrict B = Bv;                                       \
    T *restrict O = Ov;                                                               \
    for (int64_t r = 0; r < rows; r++)                                                \
      for (int64_t k = 0; k < len; k++) O[r * len + k] = X[r * len + k] + B[k];       \
  }
TSI_FLOAT_DTYPES(DEF_BIAS)
static const tsi_kernels k_bias_add = TSI_KERNELS_FLOAT(bias);

static int run_bias_add(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                        tsi_tensor *out, tsi_err *e) {
  bias_fn f = (bias_fn)tsi_kernel(n, n->op->impl, out->dtype, e);
  if (!f) return e->status;
  int64_t len = out->shape[out->ndim - 1];
  if (out->numel <= 0) return TSI_OK;
  int64_t rows = out->numel / len;
  f(ins[0].data, ins[1].data, out->data, rows, len);
  return TSI_OK;
}

/* IMPL: the op's kernel table (or a struct starting with one), or NULL */
#define OP(NAME, NMIN, NMAX, INFER, RUN, IMPL) {NAME, NMIN, NMAX, 0, INFER, RUN, IMPL}

const tsi_opdef tsi_ops_nn[] = {
    OP("softmax", 1, 1, infer_softmax, run_softmax, &k_softmax),
    OP("log_softmax", 1, 1, infer_softmax, run_softmax, &k_log_softmax),
    OP("softmax_cross_entropy_with_logits", 2, 2, infer_softmax_ce, run_softmax_ce,
       &k_softmax_ce),
    OP("sparse_softmax_cross_entropy_with_logits", 2, 2, infer_sparse_ce, run_sparse_ce,
       &k_sparse_ce),
    OP("sigmoid_cross_entropy_with_logits", 2, 2, infer_pair, run_sigmoid_ce, &k_sigmoid_ce),
    OP("mean_squared_error", 2, 2, infer_pair, run_mse, &k_mse),
    OP("l2_loss", 1, 1, infer_l2, run_l2, &k_l2),
    OP("dropout", 1, 2, infer_dropout, run_dropout, &k_dropout),
    OP("bias_add", 2, 2, infer_bias_add, run_bias_add, &k_bias_add),
    OP("one_hot_like", 2, 2, infer_one_hot_like, run_one_hot_like, NULL),
    OP("ensure_shape_like", 2, 2, infer_ensure_shape_like, run_ensure_shape_like, NULL),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
