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
  (void)nin;
  const tsi_tensor *x = &ins[0];
  int st = tsi_check_dtype(n, x->dtype, TSI_FLOATS, e);
  if (st) return st;
  if (x->ndim >= 0) {
    int64_t ax;
    char nb[128];
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

/* softmax (LOG 0) or log_softmax (LOG 1) of rows of length len with stride
 * inner, for each (outer, inner) position. */
#define DEF_SOFTMAX(T, EXP, LOG)                                                     \
  static void softmax_##T(const T *X, T *O, int64_t outer, int64_t len,             \
                          int64_t inner, int logsm) {                               \
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
DEF_SOFTMAX(float, tsi_expf, logf)
DEF_SOFTMAX(double, tsi_exp, log)

/* Rows contiguous in memory (softmax over the last axis): simple counted
 * loops the compiler vectorises, rows split over threads. */
#define DEF_SOFTMAX_ROWS(T, EXP, LOG)                                                \
  TSI_CLONES static void softmax_rows_##T(const T *restrict X, T *restrict O, int64_t r0, \
                               int64_t r1, int64_t len, int logsm) {                \
    if (len < 16) { /* short rows: the exps of a block of rows in one vector loop */ \
      T mm[256];                                                                    \
      const int64_t per = 256 / len;                                                \
      for (int64_t r = r0; r < r1; r += per) {                                      \
        const int64_t nr = r1 - r < per ? r1 - r : per, ne = nr * len;              \
        const T *restrict x = X + r * len;                                          \
        T *restrict y = O + r * len;                                                \
        for (int64_t b = 0; b < nr; b++) {                                          \
          T m = -INFINITY;                                                          \
          for (int64_t k = 0; k < len; k++) m = x[b * len + k] > m ? x[b * len + k] : m; \
          if (!(m > -INFINITY)) m = 0;                                              \
          for (int64_t k = 0; k < len; k++) mm[b * len + k] = m;                    \
        }                                                                           \
        for (int64_t i = 0; i < ne; i++) y[i] = EXP(x[i] - mm[i]);                  \
        for (int64_t b = 0; b < nr; b++) {                                          \
          T s = 0;                                                                  \
          for (int64_t k = 0; k < len; k++) s += y[b * len + k];                    \
          if (logsm) {                                                              \
            T ls = LOG(s);                                                          \
            for (int64_t k = 0; k < len; k++)                                       \
              y[b * len + k] = (x[b * len + k] - mm[b * len + k]) - ls;             \
          } else {                                                                  \
            T inv = 1 / s;                                                          \
            for (int64_t k = 0; k < len; k++) y[b * len + k] *= inv;                \
          }                                                                         \
        }                                                                           \
      }                                                                             \
      return;                                                                       \
    }                                                                               \
    for (int64_t r = r0; r < r1; r++) {                                             \
      const T *restrict x = X + r * len;                                            \
      T *restrict y = O + r * len;                                                  \
      T m = -INFINITY;                                                              \
      for (int64_t k = 0; k < len; k++) m = x[k] > m ? x[k] : m;                    \
      if (!(m > -INFINITY)) m = 0;                                                  \
      T s = 0;                                                                      \
      for (int64_t k = 0; k < len; k++) {                                           \
        T v = EXP(x[k] - m);                                                        \
        y[k] = v;                                                                   \
        s += v;                                                                     \
      }                                                                             \
      if (logsm) {                                                                  \
        T ls = LOG(s); /* (x - m) - ls keeps precision where x - (m + ls) would not */ \
        for (int64_t k = 0; k < len; k++) y[k] = (x[k] - m) - ls;                   \
      } else {                                                                      \
        T inv = 1 / s;                                                              \
        for (int64_t k = 0; k < len; k++) y[k] *= inv;                              \
      }                                                                             \
    }                                                                               \
  }
DEF_SOFTMAX_ROWS(float, tsi_expf, logf)
DEF_SOFTMAX_ROWS(double, tsi_exp, log)

typedef struct rows_job {
  const tsi_tensor *x;
  tsi_tensor *out;
  int64_t len;
  int logsm;
} rows_job;

static void softmax_rows_range(void *arg, int64_t r0, int64_t r1) {
  rows_job *j = arg;
  if (j->x->dtype == TS_FLOAT32)
    softmax_rows_float(j->x->data, j->out->data, r0, r1, j->len, j->logsm);
  else
    softmax_rows_double(j->x->data, j->out->data, r0, r1, j->len, j->logsm);
}

/* tsi_parallel_for works in elements; chunks are whole rows (align = rows * len). */
static void softmax_rows_elems(void *arg, int64_t b, int64_t e) {
  rows_job *j = arg;
  softmax_rows_range(arg, b / j->len, (e + j->len - 1) / j->len);
}

static int run_softmax(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  (void)nin;
  const tsi_tensor *x = &ins[0];
  int64_t ax = x->ndim - 1;
  int st;
  if (n->attrs && n->attrs->has_axes &&
      (st = tsi_norm_axis(n, n->attrs->axes[0], x->ndim, &ax, e)))
    return st;
  int logsm = strcmp(n->op->name, "log_softmax") == 0;
  int64_t outer = tsi_prod(x->shape, 0, (int)ax), len = x->shape[ax];
  int64_t inner = tsi_prod(x->shape, (int)ax + 1, x->ndim);
  if (x->numel <= 0) return TSI_OK;
  if (inner == 1 && len > 0) {
    rows_job j = {x, out, len, logsm};
    /* split by rows: a chunk of `per` rows covers per * len elements */
    int threads = x->numel >= TSI_PAR_GRAIN ? ctx->nthreads : 1;
    int64_t rows_per = (outer + threads - 1) / (threads > 0 ? threads : 1);
    if (threads <= 1 || outer < 2) {
      softmax_rows_range(&j, 0, outer);
    } else {
      tsi_parallel_for(threads, outer * len, rows_per * len, softmax_rows_elems, &j);
    }
    return TSI_OK;
  }
  if (x->dtype == TS_FLOAT32) softmax_float(x->data, out->data, outer, len, inner, logsm);
  else softmax_double(x->data, out->data, outer, len, inner, logsm);
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
  (void)nin;
  int st;
  tsi_tensor merged;
  memset(&merged, 0, sizeof merged);
  if ((st = tsi_check_dtype(n, ins[1].dtype, TSI_FLOATS, e))) return st;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if ((st = same_shape(n, &ins[0], &ins[1], "labels", "logits", &merged, e))) return st;
  merged.dtype = ins[1].dtype;
  return drop_last(n, &merged, out, e);
}

#define DEF_LSE(T)                                                                   \
  /* log(sum(exp(x))) of a row, stable; m gets the row maximum. */                  \
  static double lse_##T(const T *x, int64_t len) {                                  \
    double m = -INFINITY, s = 0;                                                     \
    for (int64_t k = 0; k < len; k++)                                                \
      if (x[k] > m) m = x[k];                                                        \
    if (!(m > -INFINITY)) return m;                                                  \
    for (int64_t k = 0; k < len; k++) s += exp(x[k] - m);                            \
    return m + log(s);                                                               \
  }                                                                                  \
  static void softmax_ce_##T(const T *Z, const T *X, T *O, int64_t rows, int64_t len) { \
    for (int64_t r = 0; r < rows; r++) {                                             \
      const T *x = X + r * len, *z = Z + r * len;                                    \
      double l = lse_##T(x, len), s = 0;                                             \
      for (int64_t k = 0; k < len; k++)                                              \
        if (z[k] != 0) s += (double)z[k] * (l - (double)x[k]);                       \
      O[r] = (T)s;                                                                   \
    }                                                                                \
  }
DEF_LSE(float)
DEF_LSE(double)

static int run_softmax_ce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)n, (void)nin, (void)e;
  const tsi_tensor *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = out->numel;
  if (rows <= 0) return TSI_OK;
  if (x->dtype == TS_FLOAT32) softmax_ce_float(ins[0].data, x->data, out->data, rows, len);
  else softmax_ce_double(ins[0].data, x->data, out->data, rows, len);
  return TSI_OK;
}

static int infer_sparse_ce(const tsi_node *n, const tsi_tensor *ins, int nin,
                           tsi_tensor *out, tsi_err *e) {
  (void)nin;
  char nb[128], sa[96], sb[96];
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int st;
  if ((st = tsi_check_dtype(n, x->dtype, TSI_FLOATS, e))) return st;
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
  (void)ctx, (void)nin;
  char nb[128];
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = out->numel;
  for (int64_t r = 0; r < rows; r++) {
    int64_t k = tsi_get_i(z, r);
    if (k < 1 || k > len)
      return tsi_fail(e, TSI_EARG,
                      "%s: label %lld (row %lld) is out of range for %lld classes "
                      "(labels are 1-based)",
                      OPN(n), (long long)k, (long long)r + 1, (long long)len);
    if (x->dtype == TS_FLOAT32) {
      const float *xr = (const float *)x->data + r * len;
      ((float *)out->data)[r] = (float)(lse_float(xr, len) - xr[k - 1]);
    } else {
      const double *xr = (const double *)x->data + r * len;
      ((double *)out->data)[r] = lse_double(xr, len) - xr[k - 1];
    }
  }
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
  (void)ctx, (void)nin;
  char nb[128], sa[96], sb[96];
  const tsi_tensor *z = &ins[0], *x = &ins[1];
  int64_t len = x->shape[x->ndim - 1], rows = tsi_prod(x->shape, 0, x->ndim - 1);
  if (z->numel != rows)
    return tsi_fail(e, TSI_EARG, "%s: labels of shape %s do not match logits of shape %s",
                    OPN(n), SHP(z, sa), SHP(x, sb));
  if (tsi_nbytes(out)) memset(out->data, 0, tsi_nbytes(out));
  for (int64_t r = 0; r < rows; r++) {
    int64_t k = tsi_get_i(z, r);
    if (k < 1 || k > len)
      return tsi_fail(e, TSI_EARG,
                      "%s: label %lld (row %lld) is out of range for %lld classes "
                      "(labels are 1-based)",
                      OPN(n), (long long)k, (long long)r + 1, (long long)len);
    tsi_set_f(out, r * len + k - 1, 1.0);
  }
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
  (void)ctx, (void)nin;
  int st = check_like(n, &ins[0], &ins[1], 1, e);
  if (st) return st;
  if (tsi_nbytes(out) && out->data != ins[0].data)
    memcpy(out->data, ins[0].data, tsi_nbytes(out));
  return TSI_OK;
}

static int infer_pair(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  (void)nin;
  int st;
  int is_mse = strcmp(n->op->name, "mean_squared_error") == 0;
  if ((st = tsi_check_dtype(n, ins[1].dtype, TSI_FLOATS, e))) return st;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if ((st = same_shape(n, &ins[0], &ins[1], "labels", is_mse ? "predictions" : "logits", out,
                       e)))
    return st;
  out->dtype = ins[1].dtype;
  if (is_mse) return tsi_set_shape(out, 0, NULL, e);
  return TSI_OK;
}

#define DEF_PAIR(T, LOG1P, EXP, FABS)                                                \
  static void sigmoid_ce_##T(const T *restrict Z, const T *restrict X, T *restrict O, \
                             int64_t n) {                                            \
    for (int64_t i = 0; i < n; i++) {                                                \
      T x = X[i];                                                                    \
      O[i] = (x > 0 ? x : 0) - x * Z[i] + LOG1P(EXP(-FABS(x)));                      \
    }                                                                                \
  }                                                                                  \
  static double sqdiff_##T(const T *restrict Z, const T *restrict P, int64_t n) {   \
    double s = 0;                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                \
      double d = (double)P[i] - (double)Z[i];                                        \
      s += d * d;                                                                    \
    }                                                                                \
    return s;                                                                        \
  }
DEF_PAIR(float, log1pf, expf, fabsf)
DEF_PAIR(double, log1p, exp, fabs)

static int run_sigmoid_ce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                          tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)n, (void)nin, (void)e;
  if (out->numel <= 0) return TSI_OK;
  if (out->dtype == TS_FLOAT32) sigmoid_ce_float(ins[0].data, ins[1].data, out->data, out->numel);
  else sigmoid_ce_double(ins[0].data, ins[1].data, out->data, out->numel);
  return TSI_OK;
}

static int run_mse(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                   tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)n, (void)nin, (void)e;
  int64_t m = ins[1].numel;
  double s = 0;
  if (m > 0)
    s = (ins[1].dtype == TS_FLOAT32 ? sqdiff_float(ins[0].data, ins[1].data, m)
                                    : sqdiff_double(ins[0].data, ins[1].data, m)) /
        (double)m;
  tsi_set_f(out, 0, s);
  return TSI_OK;
}

/* ---------------------------------------------------------- l2_loss */

static int infer_l2(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                    tsi_err *e) {
  (void)nin;
  int st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e);
  if (st) return st;
  out->dtype = ins[0].dtype;
  return tsi_set_shape(out, 0, NULL, e);
}

static int run_l2(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                  tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)n, (void)nin, (void)e;
  double s = 0;
  int64_t m = ins[0].numel;
  if (ins[0].dtype == TS_FLOAT32) {
    const float *x = ins[0].data;
    for (int64_t i = 0; i < m; i++) s += (double)x[i] * x[i];
  } else {
    const double *x = ins[0].data;
    for (int64_t i = 0; i < m; i++) s += x[i] * x[i];
  }
  tsi_set_f(out, 0, s / 2);
  return TSI_OK;
}

/* ---------------------------------------------------------- dropout */

static int infer_dropout(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                         tsi_err *e) {
  char nb[128], sb[96];
  int st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e);
  if (st) return st;
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

#define DEF_DROPOUT(T)                                                               \
  static void dropout_##T(tsi_rng *r, const T *X, T *O, int64_t n, double rate) {   \
    T scale = (T)(1.0 / (1.0 - rate));                                               \
    for (int64_t i = 0; i < n; i++) O[i] = tsi_rng_uniform(r) >= rate ? X[i] * scale : 0; \
  }
DEF_DROPOUT(float)
DEF_DROPOUT(double)

static int run_dropout(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                       tsi_tensor *out, tsi_err *e) {
  (void)e;
  const tsi_attrs *at = n->attrs;
  double rate = at ? at->f[0] : 0;
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
  if (out->dtype == TS_FLOAT32) dropout_float(&r, ins[0].data, out->data, out->numel, rate);
  else dropout_double(&r, ins[0].data, out->data, out->numel, rate);
  return TSI_OK;
}

/* ---------------------------------------------------------- bias_add */

static int infer_bias_add(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                          tsi_err *e) {
  (void)nin;
  char nb[128], sa[96], sb[96];
  const tsi_tensor *x = &ins[0], *b = &ins[1];
  int st;
  if ((st = tsi_check_dtype(n, x->dtype, TSI_FLOATS, e))) return st;
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

#define DEF_BIAS(T)                                                                   \
  static void bias_##T(const T *restrict X, const T *restrict B, T *restrict O,      \
                       int64_t rows, int64_t len) {                                   \
    for (int64_t r = 0; r < rows; r++)                                                \
      for (int64_t k = 0; k < len; k++) O[r * len + k] = X[r * len + k] + B[k];       \
  }
DEF_BIAS(float)
DEF_BIAS(double)

static int run_bias_add(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                        tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)n, (void)nin, (void)e;
  int64_t len = out->shape[out->ndim - 1];
  if (out->numel <= 0) return TSI_OK;
  int64_t rows = out->numel / len;
  if (out->dtype == TS_FLOAT32) bias_float(ins[0].data, ins[1].data, out->data, rows, len);
  else bias_double(ins[0].data, ins[1].data, out->data, rows, len);
  return TSI_OK;
}

#define OP(NAME, NMIN, NMAX, INFER, RUN) {NAME, NMIN, NMAX, 0, INFER, RUN, NULL}

const tsi_opdef tsi_ops_nn[] = {
    OP("softmax", 1, 1, infer_softmax, run_softmax),
    OP("log_softmax", 1, 1, infer_softmax, run_softmax),
    OP("softmax_cross_entropy_with_logits", 2, 2, infer_softmax_ce, run_softmax_ce),
    OP("sparse_softmax_cross_entropy_with_logits", 2, 2, infer_sparse_ce, run_sparse_ce),
    OP("sigmoid_cross_entropy_with_logits", 2, 2, infer_pair, run_sigmoid_ce),
    OP("mean_squared_error", 2, 2, infer_pair, run_mse),
    OP("l2_loss", 1, 1, infer_l2, run_l2),
    OP("dropout", 1, 2, infer_dropout, run_dropout),
    OP("bias_add", 2, 2, infer_bias_add, run_bias_add),
    OP("one_hot_like", 2, 2, infer_one_hot_like, run_one_hot_like),
    OP("ensure_shape_like", 2, 2, infer_ensure_shape_like, run_ensure_shape_like),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
