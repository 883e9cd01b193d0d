/* Normalization: fused batch normalization (TensorFlow's FusedBatchNorm as
 * single-output nodes), layer normalization and l2_normalize. Float32 and
 * float64; every sum and statistic accumulates in double.
 *
 * Batch normalization sees x per channel as [A, C, B]: channels last (f1 = 0:
 * NHWC, NWC, NDHWC, NC) A is the product of every dim but the last and B = 1;
 * channels first (f1 = 1: NCHW, NCW, NCDHW) A is the batch and B the product
 * of the spatial dims. Each channel has n = A * B values.
 *
 *   fused_batch_norm_stats(x)        [3, C]: the mean, the variance (biased: / n)
 *                                    and the variance * n / max(n - 1, 1) (Bessel's,
 *                                    what TF returns as batch_variance)
 *   fused_batch_norm(x, scale, offset, stats [, mean, variance])   i1 = 1, training:
 *                                    y = (x - mean) * scale / sqrt(var + eps) + offset
 *                                    with stats' mean and biased variance. stats must
 *                                    be fused_batch_norm_stats(x): the gradient folds
 *                                    the path through it into dx. mean and variance
 *                                    (given when the Lua wrapper blends them into the
 *                                    returned statistics) are only checked to be [C].
 *   fused_batch_norm(x, scale, offset, mean, variance)   i1 = 0, inference
 *   fused_batch_norm_sums(dy, x, stats | mean, variance)   [2, C]: sum(dy * xhat) and
 *                                    sum(dy) per channel (the gradients of scale, offset)
 *   fused_batch_norm_grad(dy, x, scale, stats, sums)   i1 = 1: dx = scale * rstd *
 *                                    (dy - mean(dy) - xhat * mean(dy * xhat))
 *   fused_batch_norm_grad(dy, scale, variance)         i1 = 0: dx = dy * scale * rstd
 *   fused_batch_norm_stats_grad(x, stats, g)   dx of the sum of stats' rows weighted by g
 * attrs: f1 = 1 channels first, 0 last; f2 = epsilon (>= 0); i1 as above.
 *
 * Passes over memory: the statistics read x once (each cache-sized block twice
 * while it is in cache: its mean, then its squared deviations; blocks merged by
 * Chan, Golub and LeVeque's pairwise update, so the variance is as accurate as
 * a two-pass one, never E[x^2] - E[x]^2), y is one pass; backward, the sums
 * read dy and x once and dx once more. Threaded over rows (channels last) or
 * (image, channel) planes: one partial per piece of work, merged in order.
 *
 *   layer_normalization(x [, gamma] [, beta])   per row of the dims [v1[0], rank):
 *                                    (x - mean) * rstd * gamma + beta; gamma and beta
 *                                    have x.shape[v1[1]:] (broadcast over the rest)
 *   layer_normalization_grad(dy, x [, gamma])   dx
 *   layer_normalization_grad_params(dy, x)      [2, P]: the sums over rows of dy * xhat
 *                                    and of dy, P = numel(x.shape[v1[1]:])
 * attrs: v1 = {begin_norm_axis, begin_params_axis} (0-based, negative from the
 * end), f1 = epsilon, i1 = 1 (gamma given) + 2 (beta given). A row is
 * normalised while it is in cache; the backward ops recompute its statistics.
 *
 *   l2_normalize(x)                  x / sqrt(max(sum(x^2), eps)) over axis (every
 *                                    axis when absent)
 *   l2_normalize_grad(g, x)          dx; where sum(x^2) >= eps the gradient flows
 *                                    through the sum (TF's maximum and torch's clamp
 *                                    agree), below it the scale is a constant
 * attrs: axis, f1 = epsilon. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"
#include "parallel.h"
#include "vmath.h"

/* Elements of a block whose statistics are taken in cache. */
#define BLK 4096
/* l2_normalize over strided columns: columns per block. */
#define CB 256

/* s = the sum over i in [0, len) of the expression E, in LANES independent double
 * lanes added pairwise at the end, so that the loop vectorises (one
 * accumulator is a chain of dependent additions the compiler may not reorder)
 * and the order of the additions is the same on every instruction set.
 * LANE_SUM2 makes two sums in two such loops: one loop with two sets of
 * lanes does not vectorise (GCC 12), two loops over a row in cache do. */
#define LANES 16
#define LANE_SUM(s, len, i, E)                                                     \
  do {                                                                             \
    double a_[LANES] = {0};                                                        \
    const int64_t n_ = (len), e_ = n_ - n_ % LANES;                                \
    for (int64_t b_ = 0; b_ < e_; b_ += LANES)                                     \
      for (int64_t i = b_; i < b_ + LANES; i++) a_[i - b_] += (E);                 \
    for (int64_t i = e_; i < n_; i++) a_[i - e_] += (E);                           \
    for (int h_ = LANES / 2; h_ > 0; h_ /= 2)                                      \
      for (int l_ = 0; l_ < h_; l_++) a_[l_] += a_[l_ + h_];                       \
    s = a_[0];                                                                     \
  } while (0)
#define LANE_SUM2(s1, s2, len, i, E1, E2) \
  do {                                    \
    LANE_SUM(s1, len, i, E1);             \
    LANE_SUM(s2, len, i, E2);             \
  } while (0)

/* Work split into np pieces of per units (rows or planes) of ue elements, each
 * piece with its own partial sums. The pieces are the chunks tsi_parallel_for
 * makes with align = per * ue, so a thread never writes another's partials. */
typedef struct split {
  int64_t units, ue, per, np;
} split;

static void split_make(split *s, int nthreads, int64_t units, int64_t ue) {
  int64_t n = units * ue, np = nthreads < 64 ? nthreads : 64;
  if (np > n / (TSI_PAR_GRAIN / 2)) np = n / (TSI_PAR_GRAIN / 2);
  if (np > units) np = units;
  if (np < 1) np = 1;
  s->units = units, s->ue = ue;
  s->per = units > 0 ? (units + np - 1) / np : 1;
  s->np = units > 0 ? (units + s->per - 1) / s->per : 1;
}

/* Units [*u0, *u1) of piece p. */
static void piece(const split *s, int64_t p, int64_t *u0, int64_t *u1) {
  *u0 = p * s->per;
  *u1 = *u0 + s->per < s->units ? *u0 + s->per : s->units;
}

/* count doubles of zeroed scratch (the plan's work area: tsi_work_begin, given
 * back by tsi_work_end(ctx, *fresh)); NULL with e set. */
static double *scratch(tsi_runctx *ctx, const tsi_node *n, int64_t count, void **fresh,
                       tsi_err *e) {
  char nb[128];
  size_t bytes;
  if (count < 0 || !tsi_mulsize((size_t)count, sizeof(double), &bytes))
    return tsi_nomem(e, "normalization scratch"), NULL;
  double *p = tsi_work_begin(ctx, bytes, fresh, e);
  if (!p) {
    tsi_fail(e, TSI_EMEM, "%s: not enough memory for %zu bytes of scratch", OPN(n), bytes);
    return NULL;
  }
  memset(p, 0, bytes);
  return p;
}

/* ============================================================ batch norm */

typedef struct chan {
  int64_t A, C, B, n;
} chan;

static void chan_of(const tsi_tensor *x, int cf, chan *g) {
  int nd = x->ndim;
  if (cf && nd > 2) {
    g->A = x->shape[0], g->C = x->shape[1], g->B = tsi_prod(x->shape, 2, nd);
  } else {
    g->A = tsi_prod(x->shape, 0, nd - 1), g->C = x->shape[nd - 1], g->B = 1;
  }
  g->n = g->A * g->B;
}

static const char *layout(int cf) { return cf ? "channels first" : "channels last"; }

/* f1 (layout), f2 (epsilon), i1 (training) of a batch-norm op. */
static int bn_attrs(const tsi_node *n, int *cf, double *eps, int *training, tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  *cf = *training = 0, *eps = 0;
  if (!at) return tsi_fail(e, TSI_EARG, "%s: attributes are missing", OPN(n));
  if (at->f[0] != 0 && at->f[0] != 1)
    return tsi_fail(e, TSI_EARG, "%s: unknown data_format code %g (f1: 0 channels last, 1 first)",
                    OPN(n), at->f[0]);
  if (!(at->f[1] >= 0) || isinf(at->f[1]))
    return tsi_fail(e, TSI_EARG, "%s: epsilon must be a finite number >= 0, got %g", OPN(n),
                    at->f[1]);
  if (at->i1 != 0 && at->i1 != 1)
    return tsi_fail(e, TSI_EARG, "%s: i1 (training) must be 0 or 1, got %lld", OPN(n),
                    (long long)at->i1);
  *cf = at->f[0] == 1;
  *eps = at->f[1];
  *training = at->i1 == 1;
  return TSI_OK;
}

/* The channel count of x (-1 when unknown); x's rank must be at least 2. */
static int bn_channels(const tsi_node *n, const tsi_tensor *x, int cf, int64_t *C, tsi_err *e) {
  char nb[128], sx[96];
  *C = -1;
  if (x->ndim < 0) return TSI_OK;
  if (x->ndim < 2)
    return tsi_fail(e, TSI_EARG,
                    "%s: x must have rank 2 or more (batch, ..., channels), got x %s", OPN(n),
                    SHP(x, sx));
  *C = x->shape[cf ? 1 : x->ndim - 1];
  return TSI_OK;
}

/* t must be a vector of the C channels of x. */
static int bn_vector(const tsi_node *n, const tsi_tensor *t, const char *what, int64_t C,
                     const tsi_tensor *x, int cf, tsi_err *e) {
  char nb[128], st[96], sx[96];
  if (t->ndim < 0) return TSI_OK;
  if (t->ndim != 1)
    return tsi_fail(e, TSI_EARG, "%s: %s must be a vector [channels], got %s %s (x %s, %s)",
                    OPN(n), what, what, SHP(t, st), SHP(x, sx), layout(cf));
  if (C >= 0 && t->shape[0] >= 0 && t->shape[0] != C)
    return tsi_fail(e, TSI_EARG, "%s: %s %s does not match the %lld channels of x %s (%s)",
                    OPN(n), what, SHP(t, st), (long long)C, SHP(x, sx), layout(cf));
  return TSI_OK;
}

/* t must be [rows, C] (statistics or sums). */
static int bn_rows(const tsi_node *n, const tsi_tensor *t, const char *what, int rows, int64_t C,
                   const tsi_tensor *x, tsi_err *e) {
  char nb[128], st[96], sx[96];
  if (t->ndim < 0) return TSI_OK;
  if (t->ndim != 2 || (t->shape[0] >= 0 && t->shape[0] != rows) ||
      (C >= 0 && t->shape[1] >= 0 && t->shape[1] != C))
    return tsi_fail(e, TSI_EARG, "%s: %s must be [%d, channels], got %s (x %s)", OPN(n), what,
                    rows, SHP(t, st), SHP(x, sx));
  return TSI_OK;
}

/* Inputs of one dtype, one the op's kernel table has (float32, float64). */
static int float_inputs(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_err *e) {
  int st = tsi_same_dtype(n, ins, nin, e);
  if (st) return st;
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  return TSI_OK;
}

/* a and b have the same rank and no known dims that differ. */
static int same_known(const tsi_tensor *a, const tsi_tensor *b) {
  if (a->ndim < 0 || b->ndim < 0) return 1;
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] >= 0 && b->shape[i] >= 0 && a->shape[i] != b->shape[i]) return 0;
  return 1;
}

static int grad_shape(const tsi_node *n, const tsi_tensor *g, const tsi_tensor *x, tsi_err *e) {
  char nb[128], s1[96], s2[96];
  if (same_known(g, x)) return TSI_OK;
  return tsi_fail(e, TSI_EARG, "%s: the gradient %s does not match x %s", OPN(n), SHP(g, s1),
                  SHP(x, s2));
}

static int out_rows(const tsi_node *n, tsi_tensor *out, int dtype, int64_t rows, int64_t C,
                    tsi_err *e) {
  int64_t shape[2] = {rows, C};
  out->dtype = dtype;
  return tsi_out_shape(n, out, 2, shape, e);
}

static int out_like(tsi_tensor *out, const tsi_tensor *x) {
  *out = *x;
  out->data = NULL;
  return TSI_OK;
}

enum { BN_STATS, BN_APPLY, BN_SUMS, BN_GRAD, BN_STATS_GRAD };

/* Every op's impl starts with its kernel table (tsi_range_fn kernels). */
typedef struct bn_impl {
  tsi_kernels k;
  int kind;
} bn_impl;

static int infer_bn(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                    tsi_err *e) {
  const bn_impl *im = n->op->impl;
  char nb[128];
  int cf, training, st;
  double eps;
  int64_t C;
  if ((st = bn_attrs(n, &cf, &eps, &training, e))) return st;
  if ((st = float_inputs(n, ins, nin, e))) return st;
  switch (im->kind) {
    case BN_STATS:
      if ((st = bn_channels(n, &ins[0], cf, &C, e))) return st;
      return out_rows(n, out, ins[0].dtype, 3, C, e);
    case BN_APPLY: {
      const tsi_tensor *x = &ins[0];
      if (training ? nin != 4 && nin != 6 : nin != 5)
        return tsi_fail(e, TSI_EARG, "%s: %d inputs for %s mode", OPN(n), nin,
                        training ? "training" : "inference");
      if ((st = bn_channels(n, x, cf, &C, e))) return st;
      if ((st = bn_vector(n, &ins[1], "scale", C, x, cf, e))) return st;
      if ((st = bn_vector(n, &ins[2], "offset", C, x, cf, e))) return st;
      if (training && (st = bn_rows(n, &ins[3], "the statistics", 3, C, x, e))) return st;
      int m = training ? 4 : 3;
      if (nin > m && (st = bn_vector(n, &ins[m], "mean", C, x, cf, e))) return st;
      if (nin > m && (st = bn_vector(n, &ins[m + 1], "variance", C, x, cf, e))) return st;
      return out_like(out, x);
    }
    case BN_SUMS: {
      const tsi_tensor *dy = &ins[0], *x = &ins[1];
      if (training ? nin != 3 : nin != 4)
        return tsi_fail(e, TSI_EARG, "%s: %d inputs for %s mode", OPN(n), nin,
                        training ? "training" : "inference");
      if ((st = grad_shape(n, dy, x, e))) return st;
      if ((st = bn_channels(n, x, cf, &C, e))) return st;
      if (training && (st = bn_rows(n, &ins[2], "the statistics", 3, C, x, e))) return st;
      if (!training && ((st = bn_vector(n, &ins[2], "mean", C, x, cf, e)) ||
                        (st = bn_vector(n, &ins[3], "variance", C, x, cf, e))))
        return st;
      return out_rows(n, out, x->dtype, 2, C, e);
    }
    case BN_GRAD: {
      const tsi_tensor *dy = &ins[0];
      if (training ? nin != 5 : nin != 3)
        return tsi_fail(e, TSI_EARG, "%s: %d inputs for %s mode", OPN(n), nin,
                        training ? "training" : "inference");
      if ((st = bn_channels(n, dy, cf, &C, e))) return st;
      if (training) {
        if ((st = bn_vector(n, &ins[2], "scale", C, dy, cf, e)) ||
            (st = bn_rows(n, &ins[3], "the statistics", 3, C, dy, e)) ||
            (st = bn_rows(n, &ins[4], "the sums", 2, C, dy, e)))
          return st;
      } else if ((st = bn_vector(n, &ins[1], "scale", C, dy, cf, e)) ||
                 (st = bn_vector(n, &ins[2], "variance", C, dy, cf, e))) {
        return st;
      }
      return out_like(out, dy);
    }
    default: /* BN_STATS_GRAD */
      if ((st = bn_channels(n, &ins[0], cf, &C, e))) return st;
      if ((st = bn_rows(n, &ins[1], "the statistics", 3, C, &ins[0], e)) ||
          (st = bn_rows(n, &ins[2], "the gradient", 3, C, &ins[0], e)))
        return st;
      return out_like(out, &ins[0]);
  }
}

/* ---------------------------------------------------------- statistics */

typedef struct njob {
  chan g;
  split s;
  const void *x, *dy;
  const double *mean; /* sums: per channel */
  double *part;       /* per piece partials */
} njob;

/* Chan et al.: (n, mean, m2) += a block of nb values with mean mb, m2 qb. */
static inline void chan_merge(double *n, double *mean, double *m2, double nb, double mb,
                              double qb) {
  double nt = *n + nb, d = mb - *mean;
  if (nb == 0) return;
  *mean += d * (nb / nt);
  *m2 += qb + d * d * (*n * nb / nt);
  *n = nt;
}

/* bn_stats_<S>: pieces [b, e) / (per * ue) into part: per piece and channel
 * the count, mean and sum of squared deviations (5 C doubles a piece, two
 * of them the current block's). */
#define DEF_BN_STATS(E, T, S, ...)                                                       \
  TSI_CLONES static void bn_stats_##S(void *arg, int64_t b, int64_t e) {               \
    const njob *j = arg;                                                               \
    const int64_t C = j->g.C, B = j->g.B, al = j->s.per * j->s.ue;                     \
    const T *X = j->x;                                                                 \
    for (int64_t p = b / al; p * al < e; p++) {                                        \
      double *restrict cnt = j->part + p * 5 * C, *restrict mean = cnt + C;            \
      double *restrict m2 = mean + C, *restrict bs = m2 + C, *restrict bq = bs + C;    \
      int64_t u0, u1;                                                                  \
      piece(&j->s, p, &u0, &u1);                                                       \
      if (B == 1) { /* rows of C: blocks of rows, a vector of channels */              \
        int64_t br = BLK / C > 0 ? BLK / C : 1;                                        \
        double na = 0;                                                                 \
        for (int64_t r = u0; r < u1; r += br) {                                        \
          const int64_t nr = u1 - r < br ? u1 - r : br;                                \
          const T *restrict x = X + r * C;                                             \
          for (int64_t c = 0; c < C; c++) bs[c] = 0, bq[c] = 0;                        \
          for (int64_t i = 0; i < nr; i++)                                             \
            for (int64_t c = 0; c < C; c++) bs[c] += (double)x[i * C + c];             \
          const double inv = 1.0 / (double)nr;                                         \
          for (int64_t c = 0; c < C; c++) bs[c] *= inv;                                \
          for (int64_t i = 0; i < nr; i++)                                             \
            for (int64_t c = 0; c < C; c++) {                                          \
              double d = (double)x[i * C + c] - bs[c];                                 \
              bq[c] += d * d;                                                          \
            }                                                                          \
          const double nb = (double)nr, nt = na + nb, f1 = nb / nt, f2 = na * nb / nt; \
          for (int64_t c = 0; c < C; c++) {                                            \
            double d = bs[c] - mean[c];                                                \
            mean[c] += d * f1;                                                         \
            m2[c] += bq[c] + d * d * f2;                                               \
          }                                                                            \
          na = nt;                                                                     \
        }                                                                              \
        for (int64_t c = 0; c < C; c++) cnt[c] = na;                                   \
      } else { /* planes of B: blocks of a plane */                                    \
        for (int64_t q = u0; q < u1; q++) {                                            \
          const int64_t c = q % C;                                                     \
          const T *restrict x = X + q * B;                                             \
          for (int64_t k0 = 0; k0 < B; k0 += BLK) {                                    \
            const int64_t len = B - k0 < BLK ? B - k0 : BLK;                           \
            const T *restrict xb = x + k0;                                             \
            double s, s2;                                                              \
            LANE_SUM(s, len, k, (double)xb[k]);                                        \
            const double m = s / (double)len;                                          \
            LANE_SUM(s2, len, k, ((double)xb[k] - m) * ((double)xb[k] - m));           \
            chan_merge(&cnt[c], &mean[c], &m2[c], (double)len, m, s2);                 \
          }                                                                            \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }
TSI_FLOAT_DTYPES(DEF_BN_STATS)

/* bn_sums_<S>: per piece and channel sum(dy * (x - mean)) and sum(dy). */
#define DEF_BN_SUMS(E, T, S, ...)                                                        \
  TSI_CLONES static void bn_sums_##S(void *arg, int64_t b, int64_t e) {                \
    const njob *j = arg;                                                               \
    const int64_t C = j->g.C, B = j->g.B, al = j->s.per * j->s.ue;                     \
    const T *X = j->x, *DY = j->dy;                                                    \
    const double *restrict mean = j->mean;                                             \
    for (int64_t p = b / al; p * al < e; p++) {                                        \
      double *restrict sx = j->part + p * 2 * C, *restrict sd = sx + C;                \
      int64_t u0, u1;                                                                  \
      piece(&j->s, p, &u0, &u1);                                                       \
      if (B == 1) {                                                                    \
        for (int64_t r = u0; r < u1; r++) {                                            \
          const T *restrict x = X + r * C, *restrict dy = DY + r * C;                  \
          for (int64_t c = 0; c < C; c++) {                                            \
            double d = (double)dy[c];                                                  \
            sd[c] += d;                                                                \
            sx[c] += d * ((double)x[c] - mean[c]);                                     \
          }                                                                            \
        }                                                                              \
      } else {                                                                         \
        for (int64_t q = u0; q < u1; q++) {                                            \
          const int64_t c = q % C;                                                     \
          const T *restrict x = X + q * B, *restrict dy = DY + q * B;                  \
          const double m = mean[c];                                                    \
          double s1, s2;                                                               \
          LANE_SUM2(s1, s2, B, k, (double)dy[k], (double)dy[k] * ((double)x[k] - m)); \
          sd[c] += s1;                                                                 \
          sx[c] += s2;                                                                 \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }
TSI_FLOAT_DTYPES(DEF_BN_SUMS)

/* ------------------------------------------- per-channel element-wise maps */

/* y = a[c] (u - p[c]) + b[c] (v - q[c]) + o[c] (without v: the first and last
 * terms): y of the forward pass, dx of the backward ones. */
typedef struct mjob {
  int64_t C, B;
  const void *u, *v;
  const void *coef; /* T[5][C]: a, p, b, q, o */
  void *y;
} mjob;

#define DEF_CHAN_MAP(E, T, S, ...)                                                       \
  TSI_CLONES static void chan_map_##S(void *arg, int64_t b, int64_t e) {               \
    const mjob *j = arg;                                                               \
    const int64_t C = j->C, B = j->B;                                                  \
    const T *restrict U = j->u, *restrict V = j->v, *restrict K = j->coef;             \
    const T *restrict a = K, *restrict p = K + C, *restrict bb = K + 2 * C;            \
    const T *restrict q = K + 3 * C, *restrict o = K + 4 * C;                          \
    T *restrict Y = j->y;                                                              \
    if (B == 1) {                                                                      \
      for (int64_t r = b / C; r < e / C; r++) {                                        \
        const T *restrict u = U + r * C;                                               \
        T *restrict y = Y + r * C;                                                     \
        if (V) {                                                                       \
          const T *restrict v = V + r * C;                                             \
          for (int64_t c = 0; c < C; c++)                                              \
            y[c] = a[c] * (u[c] - p[c]) + bb[c] * (v[c] - q[c]) + o[c];                \
        } else {                                                                       \
          for (int64_t c = 0; c < C; c++) y[c] = a[c] * (u[c] - p[c]) + o[c];          \
        }                                                                              \
      }                                                                                \
    } else {                                                                           \
      for (int64_t pl = b / B; pl < e / B; pl++) {                                     \
        const int64_t c = pl % C;                                                      \
        const T *restrict u = U + pl * B;                                              \
        T *restrict y = Y + pl * B;                                                    \
        const T ac = a[c], pc = p[c], oc = o[c];                                       \
        if (V) {                                                                       \
          const T *restrict v = V + pl * B;                                            \
          const T bc = bb[c], qc = q[c];                                               \
          for (int64_t k = 0; k < B; k++) y[k] = ac * (u[k] - pc) + bc * (v[k] - qc) + oc; \
        } else {                                                                       \
          for (int64_t k = 0; k < B; k++) y[k] = ac * (u[k] - pc) + oc;                \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }
TSI_FLOAT_DTYPES(DEF_CHAN_MAP)

/* Per-channel coefficients in double, made T for the map. */
typedef struct coefs {
  double *a, *p, *b, *q, *o; /* 5 C doubles */
} coefs;

static void run_map(tsi_runctx *ctx, tsi_range_fn f, const chan *g, int dtype, const coefs *k,
                    void *kt, const void *u, const void *v, void *y) {
  int64_t C = g->C;
  if (dtype == TS_FLOAT32) {
    float *t = kt;
    for (int64_t i = 0; i < 5 * C; i++) t[i] = (float)k->a[i];
  } else {
    memcpy(kt, k->a, sizeof(double) * (size_t)(5 * C));
  }
  mjob j = {C, g->B, u, v, kt, y};
  tsi_parallel_for(ctx->pool, ctx->nthreads, g->A * C * g->B, g->B == 1 ? C : g->B, f, &j);
}

/* Element i of a float tensor as a double. */
static double at_f(const tsi_tensor *t, int64_t i) {
  return t->dtype == TS_FLOAT32 ? (double)((const float *)t->data)[i]
                                : ((const double *)t->data)[i];
}

static int run_bn(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                  tsi_tensor *out, tsi_err *e) {
  const bn_impl *im = n->op->impl;
  int cf, training, st, dt = ins[0].dtype;
  double eps;
  if ((st = bn_attrs(n, &cf, &eps, &training, e))) return st;
  tsi_range_fn f = (tsi_range_fn)tsi_kernel(n, &im->k, dt, e);
  if (!f) return e->status;
  const tsi_tensor *x = im->kind == BN_SUMS || im->kind == BN_GRAD ? &ins[im->kind == BN_SUMS]
                                                                    : &ins[0];
  chan g;
  chan_of(x, cf, &g);
  const int64_t C = g.C;
  const double nn = (double)g.n, nm1 = g.n > 1 ? (double)(g.n - 1) : 1.0;
  if (C == 0) return TSI_OK;
  if (im->kind == BN_STATS || im->kind == BN_SUMS) {
    split s;
    int per_piece = im->kind == BN_STATS ? 5 : 2;
    if (g.B == 1) split_make(&s, ctx->nthreads, g.A, C);
    else split_make(&s, ctx->nthreads, g.A * C, g.B);
    void *fresh;
    double *part = scratch(ctx, n, s.np * per_piece * C + 2 * C, &fresh, e);
    if (!part) return e->status;
    double *mean = part + s.np * per_piece * C, *rstd = mean + C;
    njob j = {g, s, x->data, NULL, mean, part};
    if (im->kind == BN_STATS) {
      if (g.n > 0)
        tsi_parallel_for(ctx->pool, ctx->nthreads, g.A * C * g.B, s.per * s.ue, f, &j);
      for (int64_t c = 0; c < C; c++) {
        double cn = 0, m = 0, m2 = 0;
        for (int64_t p = 0; p < s.np; p++) {
          const double *pp = part + p * 5 * C;
          chan_merge(&cn, &m, &m2, pp[c], pp[C + c], pp[2 * C + c]);
        }
        double v = g.n > 0 ? m2 / nn : NAN;
        if (g.n == 0) m = NAN;
        tsi_set_f(out, c, m);
        tsi_set_f(out, C + c, v);
        tsi_set_f(out, 2 * C + c, g.n > 0 ? m2 / nm1 : NAN);
      }
    } else {
      const tsi_tensor *m = training ? &ins[2] : &ins[2], *v = training ? &ins[2] : &ins[3];
      int64_t vo = training ? C : 0; /* the biased variance: row 2 of the statistics */
      for (int64_t c = 0; c < C; c++) {
        mean[c] = at_f(m, c);
        rstd[c] = 1.0 / sqrt(at_f(v, vo + c) + eps);
      }
      j.dy = ins[0].data;
      if (g.n > 0)
        tsi_parallel_for(ctx->pool, ctx->nthreads, g.A * C * g.B, s.per * s.ue, f, &j);
      for (int64_t c = 0; c < C; c++) {
        double sx = 0, sd = 0;
        for (int64_t p = 0; p < s.np; p++) sx += part[p * 2 * C + c], sd += part[p * 2 * C + C + c];
        tsi_set_f(out, c, g.n > 0 ? sx * rstd[c] : 0); /* (an empty batch's rstd is NaN) */
        tsi_set_f(out, C + c, sd);
      }
    }
    tsi_work_end(ctx, fresh);
    return TSI_OK;
  }
  /* the maps: coefficients in double, then as T */
  if (g.n == 0) return TSI_OK;
  void *fresh;
  double *k = scratch(ctx, n, 10 * C, &fresh, e);
  if (!k) return e->status;
  coefs cs = {k, k + C, k + 2 * C, k + 3 * C, k + 4 * C};
  const void *u = NULL, *v = NULL;
  for (int64_t c = 0; c < C; c++) {
    switch (im->kind) {
      case BN_APPLY: { /* x, scale, offset, stats | mean, variance */
        double m = at_f(&ins[3], c), var = at_f(&ins[training ? 3 : 4], training ? C + c : c);
        cs.a[c] = at_f(&ins[1], c) / sqrt(var + eps);
        cs.p[c] = m;
        cs.o[c] = at_f(&ins[2], c);
        u = ins[0].data;
        break;
      }
      case BN_GRAD:
        if (training) { /* dy, x, scale, stats, sums */
          double r = 1.0 / sqrt(at_f(&ins[3], C + c) + eps), a = at_f(&ins[2], c) * r;
          cs.a[c] = a;
          cs.p[c] = at_f(&ins[4], C + c) / nn;
          cs.b[c] = -a * r * at_f(&ins[4], c) / nn;
          cs.q[c] = at_f(&ins[3], c);
          u = ins[0].data, v = ins[1].data;
        } else { /* dy, scale, variance */
          cs.a[c] = at_f(&ins[1], c) / sqrt(at_f(&ins[2], c) + eps);
          u = ins[0].data;
        }
        break;
      default: /* BN_STATS_GRAD: x, stats, g */
        cs.a[c] = 2 * (at_f(&ins[2], C + c) / nn + at_f(&ins[2], 2 * C + c) / nm1);
        cs.p[c] = at_f(&ins[1], c);
        cs.o[c] = at_f(&ins[2], c) / nn;
        u = ins[0].data;
        break;
    }
  }
  run_map(ctx, f, &g, dt, &cs, k + 5 * C, u, v, out->data);
  tsi_work_end(ctx, fresh);
  return TSI_OK;
}

/* ============================================================ layer norm */

typedef struct lgeo {
  int bna, bpa;
  int64_t R, L, P;
  double eps;
  int flags; /* 1 gamma, 2 beta */
} lgeo;

/* Reads the attributes against x (R, L, P are -1 when unknown). */
static int ln_setup(const tsi_node *n, const tsi_tensor *x, lgeo *q, tsi_err *e) {
  char nb[128], sx[96], ab[24];
  const tsi_attrs *at = n->attrs;
  memset(q, 0, sizeof *q);
  q->R = q->L = q->P = -1;
  if (!at) return tsi_fail(e, TSI_EARG, "%s: attributes are missing", OPN(n));
  if (at->n1 != 2)
    return tsi_fail(e, TSI_EARG, "%s: attribute v1 must hold {begin_norm_axis, begin_params_axis}",
                    OPN(n));
  if (!(at->f[0] >= 0) || isinf(at->f[0]))
    return tsi_fail(e, TSI_EARG, "%s: epsilon must be a finite number >= 0, got %g", OPN(n),
                    at->f[0]);
  if (at->i1 < 0 || at->i1 > 3)
    return tsi_fail(e, TSI_EARG, "%s: flags %lld out of range", OPN(n), (long long)at->i1);
  q->eps = at->f[0];
  q->flags = (int)at->i1;
  if (x->ndim < 0) return TSI_OK;
  int nd = x->ndim;
  if (nd == 0)
    return tsi_fail(e, TSI_EARG, "%s: x must have rank 1 or more, got a scalar", OPN(n));
  static const char *const names[2] = {"begin_norm_axis", "begin_params_axis"};
  for (int i = 0; i < 2; i++) {
    int64_t a = at->v1[i];
    if (a < -nd || a >= nd)
      return tsi_fail(e, TSI_EARG, "%s: %s %s is out of range for x %s (rank %d)", OPN(n),
                      names[i], tsi_lua_pos(a, ab, sizeof ab), SHP(x, sx), nd);
    if (i == 0) q->bna = (int)(a < 0 ? a + nd : a);
    else q->bpa = (int)(a < 0 ? a + nd : a);
  }
  q->R = tsi_numel(q->bna, x->shape);
  q->L = tsi_numel(nd - q->bna, x->shape + q->bna);
  q->P = tsi_numel(nd - q->bpa, x->shape + q->bpa);
  return TSI_OK;
}

/* gamma or beta must have x.shape[begin_params_axis:]. */
static int ln_param(const tsi_node *n, const tsi_tensor *t, const char *what, const tsi_tensor *x,
                    const lgeo *q, tsi_err *e) {
  char nb[128], st[96], sx[96], ab[24];
  if (t->ndim < 0 || x->ndim < 0) return TSI_OK;
  int ok = t->ndim == x->ndim - q->bpa;
  for (int i = 0; ok && i < t->ndim; i++) {
    int64_t a = t->shape[i], b = x->shape[q->bpa + i];
    ok = a < 0 || b < 0 || a == b;
  }
  if (ok) return TSI_OK;
  tsi_tensor want;
  memset(&want, 0, sizeof want);
  want.ndim = x->ndim - q->bpa;
  memcpy(want.shape, x->shape + q->bpa, sizeof(int64_t) * (size_t)want.ndim);
  char sw[96];
  return tsi_fail(e, TSI_EARG,
                  "%s: %s %s must have x's shape from begin_params_axis %s on, %s (x %s)", OPN(n),
                  what, SHP(t, st), tsi_lua_pos(n->attrs->v1[1], ab, sizeof ab), SHP(&want, sw),
                  SHP(x, sx));
}

enum { LN_FWD, LN_GRAD, LN_PARAMS };

typedef struct ln_impl {
  tsi_kernels k; /* tsi_range_fn */
  int kind;
} ln_impl;

static int infer_ln(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                    tsi_err *e) {
  const ln_impl *im = n->op->impl;
  char nb[128];
  int st;
  lgeo q;
  const tsi_tensor *x = &ins[im->kind == LN_FWD ? 0 : 1];
  if ((st = float_inputs(n, ins, nin, e))) return st;
  if ((st = ln_setup(n, x, &q, e))) return st;
  int ng = q.flags & 1, nbeta = (q.flags >> 1) & 1;
  int want = im->kind == LN_FWD ? 1 + ng + nbeta : im->kind == LN_GRAD ? 2 + ng : 2;
  if (nin != want)
    return tsi_fail(e, TSI_EARG, "%s: %d inputs, expected %d for flags %d", OPN(n), nin, want,
                    q.flags);
  if (im->kind != LN_FWD && (st = grad_shape(n, &ins[0], x, e))) return st;
  if (im->kind == LN_FWD) {
    if (ng && (st = ln_param(n, &ins[1], "gamma", x, &q, e))) return st;
    if (nbeta && (st = ln_param(n, &ins[1 + ng], "beta", x, &q, e))) return st;
  } else if (im->kind == LN_GRAD && ng && (st = ln_param(n, &ins[2], "gamma", x, &q, e))) {
    return st;
  }
  if (im->kind == LN_PARAMS) return out_rows(n, out, x->dtype, 2, q.P, e);
  return out_like(out, x);
}

typedef struct ljob {
  lgeo q;
  split s;
  const void *x, *dy, *gamma, *beta;
  void *y;
  double *part;
} ljob;

/* Row r's parameters: segments of seg elements starting at gamma offset go
 * (P <= L: every P elements of the row start again at 0; P > L: row r uses
 * the L elements at (r mod P / L) * L). */
#define LN_SEGMENTS(q, r, seg, go)                                    \
  const int64_t seg = (q)->P <= (q)->L ? (q)->P : (q)->L;             \
  const int64_t go = (q)->P <= (q)->L ? 0 : ((r) % ((q)->P / (q)->L)) * (q)->L

/* The mean and 1 / sqrt(variance + eps) of a row, two passes. */
#define LN_STATS(T, x, L, eps, m, rs)                                 \
  double m, rs;                                                       \
  do {                                                                \
    double s_, v_;                                                    \
    LANE_SUM(s_, L, k, (double)x[k]);                                 \
    m = s_ / (double)L;                                               \
    LANE_SUM(v_, L, k, ((double)x[k] - m) * ((double)x[k] - m));      \
    rs = 1.0 / sqrt(v_ / (double)L + (eps));                          \
  } while (0)

#define DEF_LN(E, T, S, ...)                                                             \
  TSI_CLONES static void ln_fwd_##S(void *arg, int64_t b, int64_t e) {                 \
    const ljob *j = arg;                                                               \
    const lgeo *q = &j->q;                                                             \
    const int64_t L = q->L;                                                            \
    const T *restrict G = j->gamma, *restrict Bt = j->beta;                            \
    for (int64_t r = b / L; r < e / L; r++) {                                          \
      const T *restrict x = (const T *)j->x + r * L;                                   \
      T *restrict y = (T *)j->y + r * L;                                               \
      LN_STATS(T, x, L, q->eps, m, rs);                                                \
      LN_SEGMENTS(q, r, seg, go);                                                      \
      for (int64_t k0 = 0; k0 < L; k0 += seg) {                                        \
        const T *restrict xs = x + k0, *restrict gs = G ? G + go : G;                 \
        const T *restrict bs = Bt ? Bt + go : Bt;                                      \
        T *restrict ys = y + k0;                                                       \
        if (G && Bt)                                                                   \
          for (int64_t i = 0; i < seg; i++)                                            \
            ys[i] = (T)(((double)xs[i] - m) * rs) * gs[i] + bs[i];                     \
        else if (G)                                                                    \
          for (int64_t i = 0; i < seg; i++) ys[i] = (T)(((double)xs[i] - m) * rs) * gs[i]; \
        else if (Bt)                                                                   \
          for (int64_t i = 0; i < seg; i++) ys[i] = (T)(((double)xs[i] - m) * rs) + bs[i]; \
        else                                                                           \
          for (int64_t i = 0; i < seg; i++) ys[i] = (T)(((double)xs[i] - m) * rs);     \
      }                                                                                \
    }                                                                                  \
  }                                                                                    \
  /* dx = rstd (gd - mean(gd) - xhat mean(gd xhat)), gd = dy gamma */                  \
  TSI_CLONES static void ln_grad_##S(void *arg, int64_t b, int64_t e) {                \
    const ljob *j = arg;                                                               \
    const lgeo *q = &j->q;                                                             \
    const int64_t L = q->L;                                                            \
    const T *restrict G = j->gamma;                                                    \
    for (int64_t r = b / L; r < e / L; r++) {                                          \
      const T *restrict x = (const T *)j->x + r * L;                                   \
      const T *restrict dy = (const T *)j->dy + r * L;                                 \
      T *restrict dx = (T *)j->y + r * L;                                              \
      LN_STATS(T, x, L, q->eps, m, rs);                                                \
      LN_SEGMENTS(q, r, seg, go);                                                      \
      double s1 = 0, s2 = 0;                                                           \
      for (int64_t k0 = 0; k0 < L; k0 += seg) {                                        \
        const T *restrict xs = x + k0, *restrict ds = dy + k0;                         \
        double t1, t2;                                                                 \
        if (G)                                                                         \
          LANE_SUM2(t1, t2, seg, i, (double)ds[i] * (double)G[go + i],                 \
                    (double)ds[i] * (double)G[go + i] * ((double)xs[i] - m));          \
        else                                                                           \
          LANE_SUM2(t1, t2, seg, i, (double)ds[i], (double)ds[i] * ((double)xs[i] - m)); \
        s1 += t1, s2 += t2;                                                            \
      }                                                                                \
      const double m1 = s1 / (double)L, c2 = s2 * rs * rs / (double)L;                 \
      for (int64_t k0 = 0; k0 < L; k0 += seg) {                                        \
        const T *restrict xs = x + k0, *restrict ds = dy + k0;                         \
        T *restrict os = dx + k0;                                                      \
        if (G)                                                                         \
          for (int64_t i = 0; i < seg; i++)                                            \
            os[i] = (T)(rs * ((double)ds[i] * (double)G[go + i] - m1 -                 \
                              ((double)xs[i] - m) * c2));                              \
        else                                                                           \
          for (int64_t i = 0; i < seg; i++)                                            \
            os[i] = (T)(rs * ((double)ds[i] - m1 - ((double)xs[i] - m) * c2));         \
      }                                                                                \
    }                                                                                  \
  }                                                                                    \
  /* per piece: sums over its rows of dy * xhat and dy, by parameter */                \
  TSI_CLONES static void ln_params_##S(void *arg, int64_t b, int64_t e) {              \
    const ljob *j = arg;                                                               \
    const lgeo *q = &j->q;                                                             \
    const int64_t L = q->L, P = q->P, al = j->s.per * j->s.ue;                         \
    for (int64_t p = b / al; p * al < e; p++) {                                        \
      double *restrict dg = j->part + p * 2 * P, *restrict db = dg + P;                \
      int64_t r0, r1;                                                                  \
      piece(&j->s, p, &r0, &r1);                                                       \
      for (int64_t r = r0; r < r1; r++) {                                              \
        const T *restrict x = (const T *)j->x + r * L;                                 \
        const T *restrict dy = (const T *)j->dy + r * L;                               \
        LN_STATS(T, x, L, q->eps, m, rs);                                              \
        LN_SEGMENTS(q, r, seg, go);                                                    \
        for (int64_t k0 = 0; k0 < L; k0 += seg)                                        \
          for (int64_t i = 0; i < seg; i++) {                                          \
            double d = (double)dy[k0 + i];                                             \
            dg[go + i] += d * ((double)x[k0 + i] - m) * rs;                            \
            db[go + i] += d;                                                           \
          }                                                                            \
      }                                                                                \
    }                                                                                  \
  }
TSI_FLOAT_DTYPES(DEF_LN)

static int run_ln(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                  tsi_tensor *out, tsi_err *e) {
  const ln_impl *im = n->op->impl;
  const tsi_tensor *x = &ins[im->kind == LN_FWD ? 0 : 1];
  int st;
  lgeo q;
  tsi_range_fn f = (tsi_range_fn)tsi_kernel(n, &im->k, x->dtype, e);
  if (!f) return e->status;
  if ((st = ln_setup(n, x, &q, e))) return st;
  int ng = q.flags & 1, nbeta = (q.flags >> 1) & 1;
  ljob j;
  memset(&j, 0, sizeof j);
  j.q = q, j.x = x->data, j.y = out->data;
  int64_t numel = q.R * q.L;
  switch (im->kind) {
    case LN_FWD:
      j.gamma = ng ? ins[1].data : NULL;
      j.beta = nbeta ? ins[1 + ng].data : NULL;
      if (numel > 0)
        tsi_parallel_for(ctx->pool, ctx->nthreads, numel, q.L, f, &j);
      return TSI_OK;
    case LN_GRAD:
      j.dy = ins[0].data;
      j.gamma = ng ? ins[2].data : NULL;
      if (numel > 0)
        tsi_parallel_for(ctx->pool, ctx->nthreads, numel, q.L, f, &j);
      return TSI_OK;
    default: {
      j.dy = ins[0].data;
      split_make(&j.s, ctx->nthreads, q.R, q.L);
      int64_t P = q.P;
      void *fresh;
      double *part = scratch(ctx, n, j.s.np * 2 * P, &fresh, e);
      if (!part) return e->status;
      j.part = part;
      if (numel > 0)
        tsi_parallel_for(ctx->pool, ctx->nthreads, numel, j.s.per * q.L, f, &j);
      for (int64_t i = 0; i < 2 * P; i++) {
        double s = 0;
        for (int64_t p = 0; p < j.s.np; p++) s += part[p * 2 * P + i];
        tsi_set_f(out, i, s);
      }
      tsi_work_end(ctx, fresh);
      return TSI_OK;
    }
  }
}

/* ============================================================ l2_normalize */

/* The reduced dims as groups: size-1 dims dropped, neighbours alike merged.
 * One reduced group (or none) is [outer, len, inner]; else the general walk. */
typedef struct l2geo {
  int general;
  int64_t outer, len, inner;
  int ng;
  int64_t gshape[TSI_MAXDIM], kstride[TSI_MAXDIM]; /* kstride 0: reduced */
  int64_t nkept;
  double eps;
} l2geo;

static int l2_setup(const tsi_node *n, const tsi_tensor *x, l2geo *q, tsi_err *e) {
  char nb[128], sx[96];
  const tsi_attrs *at = n->attrs;
  memset(q, 0, sizeof *q);
  if (!at) return tsi_fail(e, TSI_EARG, "%s: attributes are missing", OPN(n));
  if (!(at->f[0] >= 0) || isinf(at->f[0]))
    return tsi_fail(e, TSI_EARG, "%s: epsilon must be a finite number >= 0, got %g", OPN(n),
                    at->f[0]);
  q->eps = at->f[0];
  if (x->ndim < 0) return TSI_OK;
  int nd = x->ndim;
  unsigned char red[TSI_MAXDIM];
  memset(red, 0, sizeof red);
  if (!at->has_axes) memset(red, 1, sizeof red);
  for (int i = 0; at->has_axes && i < at->naxes; i++) {
    int64_t a;
    int st = tsi_norm_axis(n, at->axes[i], nd, &a, e);
    if (st) {
      size_t l = strlen(e->msg);
      if (l < sizeof e->msg) snprintf(e->msg + l, sizeof e->msg - l, " (x %s)", SHP(x, sx));
      return st;
    }
    if (red[a])
      return tsi_fail(e, TSI_EARG, "%s: axis %lld is given twice (x %s)", OPN(n),
                      (long long)(a + 1), SHP(x, sx));
    red[a] = 1;
  }
  int gred[TSI_MAXDIM];
  q->ng = 0;
  for (int i = 0; i < nd; i++) {
    if (x->shape[i] == 1) continue;
    if (q->ng > 0 && gred[q->ng - 1] == red[i]) {
      q->gshape[q->ng - 1] *= x->shape[i];
      continue;
    }
    gred[q->ng] = red[i];
    q->gshape[q->ng++] = x->shape[i];
  }
  int nred = 0, at_red = -1;
  for (int i = 0; i < q->ng; i++)
    if (gred[i]) nred++, at_red = i;
  q->outer = 1, q->len = 1, q->inner = 1;
  if (nred <= 1) {
    for (int i = 0; i < q->ng; i++) {
      if (at_red < 0 || i < at_red) q->outer *= q->gshape[i];
      else if (i == at_red) q->len = q->gshape[i];
      else q->inner *= q->gshape[i];
    }
    return TSI_OK;
  }
  q->general = 1;
  int64_t s = 1;
  for (int i = q->ng - 1; i >= 0; i--) {
    q->kstride[i] = gred[i] ? 0 : s;
    if (!gred[i]) s *= q->gshape[i];
  }
  q->nkept = s;
  return TSI_OK;
}

typedef struct l2job {
  const l2geo *q;
  const void *x, *g;
  void *y;
  int64_t w; /* elements per unit */
} l2job;

/* y = x * inv, or (g given) dx = g * inv - x * c, from s = sum(x^2), d = sum(g x). */
#define L2_SCALE(s, eps, inv) double inv = 1.0 / sqrt((s) > (eps) ? (s) : (eps))
#define L2_C(s, d, eps, inv) ((s) >= (eps) ? (inv) * (d) / (s) : 0.0)

#define DEF_L2(E, T, S, ...)                                                             \
  /* units of [outer, len, inner]: rows (inner 1) or (outer, column block) */          \
  TSI_CLONES static void l2_units_##S(void *arg, int64_t b, int64_t e) {               \
    const l2job *j = arg;                                                              \
    const l2geo *q = j->q;                                                             \
    const int64_t len = q->len, inner = q->inner, nb = (inner + CB - 1) / CB;          \
    const double eps = q->eps;                                                         \
    const T *X = j->x, *Gr = j->g;                                                     \
    T *Y = j->y;                                                                       \
    for (int64_t u = b / j->w; u < e / j->w; u++) {                                    \
      if (inner == 1) {                                                                \
        const T *restrict x = X + u * len;                                             \
        T *restrict y = Y + u * len;                                                   \
        double s, d;                                                                   \
        LANE_SUM(s, len, k, (double)x[k] * (double)x[k]);                              \
        L2_SCALE(s, eps, inv);                                                         \
        if (!Gr) {                                                                     \
          for (int64_t k = 0; k < len; k++) y[k] = (T)((double)x[k] * inv);            \
          continue;                                                                    \
        }                                                                              \
        const T *restrict g = Gr + u * len;                                            \
        LANE_SUM(d, len, k, (double)g[k] * (double)x[k]);                              \
        const double c = L2_C(s, d, eps, inv);                                         \
        for (int64_t k = 0; k < len; k++)                                              \
          y[k] = (T)((double)g[k] * inv - (double)x[k] * c);                           \
        continue;                                                                      \
      }                                                                                \
      const int64_t o = u / nb, i0 = (u % nb) * CB;                                    \
      const int64_t m = inner - i0 < CB ? inner - i0 : CB;                             \
      double s[CB], d[CB];                                                             \
      for (int64_t i = 0; i < m; i++) s[i] = 0, d[i] = 0;                              \
      const int64_t base = o * len * inner + i0;                                       \
      for (int64_t r = 0; r < len; r++) {                                              \
        const T *restrict x = X + base + r * inner;                                    \
        for (int64_t i = 0; i < m; i++) s[i] += (double)x[i] * (double)x[i];           \
        if (Gr) {                                                                      \
          const T *restrict g = Gr + base + r * inner;                                 \
          for (int64_t i = 0; i < m; i++) d[i] += (double)g[i] * (double)x[i];         \
        }                                                                              \
      }                                                                                \
      for (int64_t i = 0; i < m; i++) {                                                \
        L2_SCALE(s[i], eps, inv);                                                      \
        d[i] = Gr ? L2_C(s[i], d[i], eps, inv) : 0;                                    \
        s[i] = inv;                                                                    \
      }                                                                                \
      for (int64_t r = 0; r < len; r++) {                                              \
        const T *restrict x = X + base + r * inner;                                    \
        T *restrict y = Y + base + r * inner;                                          \
        if (Gr) {                                                                      \
          const T *restrict g = Gr + base + r * inner;                                 \
          for (int64_t i = 0; i < m; i++)                                              \
            y[i] = (T)((double)g[i] * s[i] - (double)x[i] * d[i]);                     \
        } else {                                                                       \
          for (int64_t i = 0; i < m; i++) y[i] = (T)((double)x[i] * s[i]);             \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }                                                                                    \
  /* any reduced set: walks every element (one thread); s, d: nkept doubles each */    \
  static void l2_general_##S(const l2geo *q, const void *Xv, const void *Gv, void *Yv,  \
                             double *s, double *d) {                                   \
    const T *X = Xv, *Gr = Gv;                                                         \
    T *Y = Yv;                                                                         \
    const int ng = q->ng;                                                              \
    const int64_t last = q->gshape[ng - 1], ks = q->kstride[ng - 1];                   \
    int64_t idx[TSI_MAXDIM] = {0}, outer = 1;                                          \
    for (int i = 0; i < ng - 1; i++) outer *= q->gshape[i];                            \
    for (int pass = 0; pass < 2; pass++) {                                             \
      int64_t koff = 0, off = 0;                                                       \
      memset(idx, 0, sizeof idx);                                                      \
      for (int64_t r = 0; r < outer; r++, off += last) {                               \
        for (int64_t k = 0; k < last; k++) {                                           \
          const int64_t ko = koff + k * ks;                                            \
          const double xv = (double)X[off + k];                                        \
          if (pass == 0) {                                                             \
            s[ko] += xv * xv;                                                          \
            if (Gr) d[ko] += (double)Gr[off + k] * xv;                                 \
          } else {                                                                     \
            Y[off + k] = Gr ? (T)((double)Gr[off + k] * s[ko] - xv * d[ko]) : (T)(xv * s[ko]); \
          }                                                                            \
        }                                                                              \
        for (int i = ng - 2; i >= 0; i--) {                                            \
          koff += q->kstride[i];                                                       \
          if (++idx[i] < q->gshape[i]) break;                                          \
          koff -= q->kstride[i] * q->gshape[i];                                        \
          idx[i] = 0;                                                                  \
        }                                                                              \
      }                                                                                \
      if (pass == 0)                                                                   \
        for (int64_t i = 0; i < q->nkept; i++) {                                       \
          L2_SCALE(s[i], q->eps, inv);                                                 \
          d[i] = Gr ? L2_C(s[i], d[i], q->eps, inv) : 0;                               \
          s[i] = inv;                                                                  \
        }                                                                              \
    }                                                                                  \
  }
TSI_FLOAT_DTYPES(DEF_L2)

typedef void (*l2_general_fn)(const l2geo *q, const void *x, const void *g, void *y, double *s,
                              double *d);
typedef struct l2_impl {
  tsi_kernels k;       /* tsi_range_fn over [outer, len, inner] units */
  tsi_kernels general; /* l2_general_fn */
  int grad;
} l2_impl;

static int infer_l2(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                    tsi_err *e) {
  const l2_impl *im = n->op->impl;
  int st;
  l2geo q;
  const tsi_tensor *x = &ins[im->grad];
  if ((st = float_inputs(n, ins, nin, e))) return st;
  if ((st = l2_setup(n, x, &q, e))) return st;
  if (im->grad && (st = grad_shape(n, &ins[0], x, e))) return st;
  return out_like(out, x);
}

static int run_l2(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                  tsi_tensor *out, tsi_err *e) {
  const l2_impl *im = n->op->impl;
  const tsi_tensor *x = &ins[im->grad];
  int st;
  l2geo q;
  tsi_range_fn f = (tsi_range_fn)tsi_kernel(n, &im->k, x->dtype, e);
  l2_general_fn gf = (l2_general_fn)tsi_kernel(n, &im->general, x->dtype, e);
  if (!f || !gf) return e->status;
  if ((st = l2_setup(n, x, &q, e))) return st;
  if (x->numel <= 0) return TSI_OK;
  const void *g = im->grad ? ins[0].data : NULL;
  if (q.general) {
    void *fresh;
    double *s = scratch(ctx, n, 2 * q.nkept, &fresh, e);
    if (!s) return e->status;
    gf(&q, x->data, g, out->data, s, s + q.nkept);
    tsi_work_end(ctx, fresh);
    return TSI_OK;
  }
  int64_t units, w;
  if (q.inner == 1) units = q.outer, w = q.len;
  else units = q.outer * ((q.inner + CB - 1) / CB), w = q.len * (q.inner < CB ? q.inner : CB);
  l2job j = {&q, x->data, g, out->data, w};
  tsi_parallel_for(ctx->pool, ctx->nthreads, units * w, w, f, &j);
  return TSI_OK;
}

/* ============================================================ the family */

static const bn_impl i_stats = {TSI_KERNELS_FLOAT(bn_stats), BN_STATS},
                     i_apply = {TSI_KERNELS_FLOAT(chan_map), BN_APPLY},
                     i_sums = {TSI_KERNELS_FLOAT(bn_sums), BN_SUMS},
                     i_grad = {TSI_KERNELS_FLOAT(chan_map), BN_GRAD},
                     i_stats_grad = {TSI_KERNELS_FLOAT(chan_map), BN_STATS_GRAD};
static const ln_impl i_ln = {TSI_KERNELS_FLOAT(ln_fwd), LN_FWD},
                     i_ln_grad = {TSI_KERNELS_FLOAT(ln_grad), LN_GRAD},
                     i_ln_params = {TSI_KERNELS_FLOAT(ln_params), LN_PARAMS};
static const l2_impl i_l2 = {TSI_KERNELS_FLOAT(l2_units), TSI_KERNELS_FLOAT(l2_general), 0},
                     i_l2_grad = {TSI_KERNELS_FLOAT(l2_units), TSI_KERNELS_FLOAT(l2_general), 1};

const tsi_opdef tsi_ops_norm[] = {
    {"fused_batch_norm_stats", 1, 1, 0, infer_bn, run_bn, &i_stats, NULL},
    {"fused_batch_norm", 4, 6, 0, infer_bn, run_bn, &i_apply, NULL},
    {"fused_batch_norm_sums", 3, 4, 0, infer_bn, run_bn, &i_sums, NULL},
    {"fused_batch_norm_grad", 3, 5, 0, infer_bn, run_bn, &i_grad, NULL},
    {"fused_batch_norm_stats_grad", 3, 3, 0, infer_bn, run_bn, &i_stats_grad, NULL},
    {"layer_normalization", 1, 3, 0, infer_ln, run_ln, &i_ln, NULL},
    {"layer_normalization_grad", 2, 3, 0, infer_ln, run_ln, &i_ln_grad, NULL},
    {"layer_normalization_grad_params", 2, 2, 0, infer_ln, run_ln, &i_ln_params, NULL},
    {"l2_normalize", 1, 1, 0, infer_l2, run_l2, &i_l2, NULL},
    {"l2_normalize_grad", 2, 2, 0, infer_l2, run_l2, &i_l2_grad, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL, NULL}};
