/* Reductions (reduce_*, argmax/argmin).
 *
 * attrs: has_axes (0: every axis), naxes/axes (0-based or negative from the
 * end), keepdims. argmax/argmin take one axis (default the first).
 *
 * A run turns the reduced-axis set into a plan (see rplan): size-1 dims are
 * dropped and adjacent dims that are both kept or both reduced are merged.
 * One reduced group with nothing kept after it is a set of contiguous rows
 * (last axis, every axis); one reduced group followed by kept dims sums rows
 * into a stack buffer of columns; anything else walks strided. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "vmath.h"
#include "parallel.h"

enum { R_CONTIG, R_COLS, R_GENERAL };

typedef struct rplan {
  int kind;
  int64_t outer, R, inner; /* R_CONTIG, R_COLS */
  int64_t count;           /* elements reduced into each output */
  int nk, nr;              /* R_GENERAL: kept and reduced groups */
  int64_t kshape[TSI_MAXDIM], kstride[TSI_MAXDIM];
  int64_t rshape[TSI_MAXDIM], rstride[TSI_MAXDIM];
} rplan;

typedef void (*reduce_fn)(const rplan *p, const void *x, void *o, int64_t nout);

typedef struct reduce_impl {
  tsi_kernels k; /* reduce_fn */
  int nonempty;  /* an empty reduced axis is an error (max, min) */
} reduce_impl;

#define CHUNK 256
#define TILE 32

/* Kernel NAME (named NAME_<dtype>, see ops.h) on T accumulating in ACC.
 * INIT(acc, first) (first is only read by ops with nonempty), STEP(acc, v),
 * COMBINE(acc, acc2), FIN(dst, acc, count). Contiguous rows accumulate in
 * LANES independent accumulators so that the loop vectorises. */
#define LANES 8
#define SHORT_ROWS_(RL, T, ACC, INIT, STEP, FIN)                        \
  for (int64_t o = 0; o < p->outer; o++) {                              \
    const T *restrict x = X + o * (RL);                                 \
    ACC acc;                                                            \
    INIT(acc, x[0]);                                                    \
    for (int r = 0; r < (RL); r++) { T v = x[r]; STEP(acc, v); }        \
    FIN(O[o], acc, cnt);                                                \
  }
/* The lanes' loop over a row's first R8 elements: lane l takes elements
 * l, l + LANES, ... For max and min, GCC vector types (the compiler does not
 * vectorise a float max that lets NaN win): per lane the same select as
 * STEP_MAX / STEP_MIN, so the same result to the bit, NaN and -0 included. */
#define LANES_SCALAR_(T, x, R8, lane, STEP)                                        \
  for (int64_t r = 0; r < (R8); r += LANES)                                        \
    for (int l = 0; l < LANES; l++) { T v = (x)[r + l]; STEP((lane)[l], v); }
#define LANES_VEC_(T, x, R8, lane, CMP)                                            \
  do {                                                                             \
    typedef T V_ __attribute__((vector_size(sizeof(T) * LANES)));                  \
    V_ a_, v_;                                                                     \
    memcpy(&a_, (lane), sizeof a_);                                                \
    for (int64_t r = 0; r < (R8); r += LANES) {                                    \
      memcpy(&v_, (x) + r, sizeof v_);                                             \
      __typeof__(v_ > v_) m_ = (v_ CMP a_) | (v_ != v_);                           \
      a_ = (V_)(((__typeof__(m_))v_ & m_) | ((__typeof__(m_))a_ & ~m_));           \
    }                                                                              \
    memcpy((lane), &a_, sizeof a_);                                                \
  } while (0)
#define LANES_STEP_ADD LANES_SCALAR_
#define LANES_STEP_ADD_U LANES_SCALAR_
#define LANES_STEP_MUL LANES_SCALAR_
#define LANES_STEP_MUL_U LANES_SCALAR_
#define LANES_STEP_LSE LANES_SCALAR_
#define LANES_STEP_MAX(T, x, R8, lane, STEP) LANES_VEC_(T, x, R8, lane, >)
#define LANES_STEP_MIN(T, x, R8, lane, STEP) LANES_VEC_(T, x, R8, lane, <)
#define DEF_REDUCE(NAME, T, ACC, INIT, STEP, COMBINE, FIN)                              \
  TSI_CLONES static void NAME(const rplan *p, const void *xv, void *ov, int64_t nout) { \
    const T *restrict X = xv;                                                           \
    T *restrict O = ov;                                                                 \
    const int64_t cnt = p->count;                                                       \
    if (cnt == 0) {                                                                     \
      for (int64_t o = 0; o < nout; o++) {                                              \
        ACC acc;                                                                        \
        INIT(acc, (T)0);                                                                \
        FIN(O[o], acc, cnt);                                                            \
      }                                                                                 \
    } else if (p->kind == R_CONTIG && p->R <= 4 && p->outer > 1) {                      \
      /* rows of 2-4 (a softmax gradient on 100x2): the row length a constant */        \
      switch (p->R) {                                                                   \
      case 1: SHORT_ROWS_(1, T, ACC, INIT, STEP, FIN); break;                           \
      case 2: SHORT_ROWS_(2, T, ACC, INIT, STEP, FIN); break;                           \
      case 3: SHORT_ROWS_(3, T, ACC, INIT, STEP, FIN); break;                           \
      default: SHORT_ROWS_(4, T, ACC, INIT, STEP, FIN); break;                          \
      }                                                                                 \
    } else if (p->kind == R_CONTIG) {                                                   \
      const int64_t R = p->R, R8 = R - R % LANES;                                       \
      for (int64_t o = 0; o < p->outer; o++) {                                          \
        const T *restrict x = X + o * R;                                                \
        ACC acc, lane[LANES];                                                           \
        INIT(acc, x[0]);                                                                \
        if (R8) {                                                                       \
          for (int l = 0; l < LANES; l++) INIT(lane[l], x[0]);                          \
          LANES_##STEP(T, x, R8, lane, STEP);                                           \
          for (int l = 0; l < LANES; l++) COMBINE(acc, lane[l]);                        \
        }                                                                               \
        for (int64_t r = R8; r < R; r++) { T v = x[r]; STEP(acc, v); }                  \
        FIN(O[o], acc, cnt);                                                            \
      }                                                                                 \
    } else if (p->kind == R_COLS && p->inner > 0 && p->inner <= 16 &&                   \
               p->R >= 2 * (TILE / p->inner)) {                                         \
      /* few columns (a bias gradient on 100x2): TILE / inner rows at a time,  */       \
      /* one flat loop that vectorises, then the tile's rows combined          */       \
      const int64_t R = p->R, inner = p->inner, k = TILE / inner, L = k * inner;        \
      const int64_t Rk = R - R % k;                                                     \
      ACC acc[TILE];                                                                    \
      for (int64_t o = 0; o < p->outer; o++) {                                          \
        const T *restrict x = X + o * R * inner;                                        \
        /* (one flat loop: GCC made the nested one a rep stos per row, 30 cycles */   \
        /* each before any work, a third of a 100x2 bias gradient's time)        */   \
        for (int64_t i = 0, c = 0; i < L; i++, c = c + 1 == inner ? 0 : c + 1)        \
          INIT(acc[i], x[c]);                                                           \
        for (int64_t r = 0; r < Rk; r += k) {                                           \
          const T *restrict xr = x + r * inner;                                         \
          for (int64_t i = 0; i < L; i++) { T v = xr[i]; STEP(acc[i], v); }             \
        }                                                                               \
        for (int64_t r = Rk; r < R; r++)                                                \
          for (int64_t c = 0; c < inner; c++) { T v = x[r * inner + c]; STEP(acc[c], v); } \
        /* per column in a register, in the order of j (a loop over j outside  */     \
        /* kept acc[c] in memory: a store-to-load chain, half the kernel's time) */     \
        for (int64_t c = 0; c < inner; c++) {                                           \
          ACC s_ = acc[c];                                                              \
          for (int64_t j = 1; j < k; j++) COMBINE(s_, acc[j * inner + c]);             \
          FIN(O[o * inner + c], s_, cnt);                                               \
        }                                                                               \
      }                                                                                 \
    } else if (p->kind == R_COLS) {                                                     \
      const int64_t R = p->R, inner = p->inner;                                         \
      ACC acc[CHUNK];                                                                   \
      for (int64_t o = 0; o < p->outer; o++)                                            \
        for (int64_t i0 = 0; i0 < inner; i0 += CHUNK) {                                 \
          int64_t m = inner - i0 < CHUNK ? inner - i0 : CHUNK;                          \
          const T *restrict x = X + o * R * inner + i0;                                 \
          for (int64_t i = 0; i < m; i++) INIT(acc[i], x[i]);                           \
          for (int64_t r = 0; r < R; r++) {                                             \
            const T *restrict xr = x + r * inner;                                       \
            for (int64_t i = 0; i < m; i++) { T v = xr[i]; STEP(acc[i], v); }           \
          }                                                                             \
          T *restrict po = O + o * inner + i0;                                          \
          for (int64_t i = 0; i < m; i++) FIN(po[i], acc[i], cnt);                      \
        }                                                                               \
    } else {                                                                            \
      int64_t kidx[TSI_MAXDIM] = {0}, base = 0;                                         \
      const int nr = p->nr, last = p->nr - 1;                                           \
      const int64_t rn = p->rshape[last], rs = p->rstride[last];                        \
      for (int64_t o = 0; o < nout; o++) {                                              \
        ACC acc;                                                                        \
        INIT(acc, X[base]);                                                             \
        int64_t ridx[TSI_MAXDIM] = {0}, off = base;                                     \
        for (;;) {                                                                      \
          for (int64_t r = 0; r < rn; r++) { T v = X[off + r * rs]; STEP(acc, v); }     \
          int d = nr - 2;                                                               \
          for (; d >= 0; d--) {                                                         \
            off += p->rstride[d];                                                       \
            if (++ridx[d] < p->rshape[d]) break;                                        \
            off -= p->rstride[d] * p->rshape[d];                                        \
            ridx[d] = 0;                                                                \
          }                                                                             \
          if (d < 0) break;                                                             \
        }                                                                               \
        FIN(O[o], acc, cnt);                                                            \
        for (int k = p->nk - 1; k >= 0; k--) {                                          \
          base += p->kstride[k];                                                        \
          if (++kidx[k] < p->kshape[k]) break;                                          \
          base -= p->kstride[k] * p->kshape[k];                                         \
          kidx[k] = 0;                                                                  \
        }                                                                               \
      }                                                                                 \
    }                                                                                   \
  }

/* sums and products: float32 accumulates in double, int64 wraps */
#define INIT_ZERO(acc, first) ((acc) = 0)
#define INIT_ONE(acc, first) ((acc) = 1)
#define INIT_FIRST(acc, first) ((acc) = (first))
#define STEP_ADD(acc, v) ((acc) += (v))
#define STEP_MUL(acc, v) ((acc) *= (v))
#define STEP_ADD_U(acc, v) ((acc) += (uint64_t)(v))
#define STEP_MUL_U(acc, v) ((acc) *= (uint64_t)(v))
#define STEP_MAX(acc, v) ((acc) = ((v) > (acc) || (v) != (v)) ? (v) : (acc))
#define STEP_MIN(acc, v) ((acc) = ((v) < (acc) || (v) != (v)) ? (v) : (acc))
#define FIN_F32(dst, acc, cnt) ((dst) = (float)(acc))
#define FIN_F64(dst, acc, cnt) ((dst) = (double)(acc))
#define FIN_I64(dst, acc, cnt) ((dst) = (int64_t)(acc))
#define FIN_U8(dst, acc, cnt) ((dst) = (uint8_t)(acc))
#define FIN_MEAN_F32(dst, acc, cnt) ((dst) = (float)((acc) / (double)(cnt)))
#define FIN_MEAN_F64(dst, acc, cnt) ((dst) = (acc) / (double)(cnt))

DEF_REDUCE(sum_float32, float, double, INIT_ZERO, STEP_ADD, STEP_ADD, FIN_F32)
DEF_REDUCE(sum_float64, double, double, INIT_ZERO, STEP_ADD, STEP_ADD, FIN_F64)
DEF_REDUCE(sum_int64, int64_t, uint64_t, INIT_ZERO, STEP_ADD_U, STEP_ADD, FIN_I64)
DEF_REDUCE(prod_float32, float, double, INIT_ONE, STEP_MUL, STEP_MUL, FIN_F32)
DEF_REDUCE(prod_float64, double, double, INIT_ONE, STEP_MUL, STEP_MUL, FIN_F64)
DEF_REDUCE(prod_int64, int64_t, uint64_t, INIT_ONE, STEP_MUL_U, STEP_MUL, FIN_I64)
DEF_REDUCE(mean_float32, float, double, INIT_ZERO, STEP_ADD, STEP_ADD, FIN_MEAN_F32)
DEF_REDUCE(mean_float64, double, double, INIT_ZERO, STEP_ADD, STEP_ADD, FIN_MEAN_F64)
DEF_REDUCE(max_float32, float, float, INIT_FIRST, STEP_MAX, STEP_MAX, FIN_F32)
DEF_REDUCE(max_float64, double, double, INIT_FIRST, STEP_MAX, STEP_MAX, FIN_F64)
DEF_REDUCE(max_int64, int64_t, int64_t, INIT_FIRST, STEP_MAX, STEP_MAX, FIN_I64)
DEF_REDUCE(max_uint8, uint8_t, uint8_t, INIT_FIRST, STEP_MAX, STEP_MAX, FIN_U8)
DEF_REDUCE(min_float32, float, float, INIT_FIRST, STEP_MIN, STEP_MIN, FIN_F32)
DEF_REDUCE(min_float64, double, double, INIT_FIRST, STEP_MIN, STEP_MIN, FIN_F64)
DEF_REDUCE(min_int64, int64_t, int64_t, INIT_FIRST, STEP_MIN, STEP_MIN, FIN_I64)
DEF_REDUCE(min_uint8, uint8_t, uint8_t, INIT_FIRST, STEP_MIN, STEP_MIN, FIN_U8)

/* logsumexp in one pass: running maximum m and sum s of exp(v - m). */
typedef struct lse_acc {
  double m, s;
} lse_acc;

/* NaN wins over everything (in any order), then +inf; -inf adds nothing. */
static inline void lse_step(lse_acc *a, double v) {
  if (a->m != a->m || v == -INFINITY) return;
  if (v != v || v == INFINITY || a->m == INFINITY) {
    if (v != v || v == INFINITY) a->m = v;
    return;
  }
  if (v <= a->m) {
    a->s += exp(v - a->m);
  } else {
    a->s = a->s * exp(a->m - v) + 1.0;
    a->m = v;
  }
}

static inline double lse_fin(const lse_acc *a) {
  if (a->m != a->m || a->m == INFINITY || a->m == -INFINITY) return a->m;
  return a->m + log(a->s);
}

static inline void lse_combine(lse_acc *a, const lse_acc *b) {
  if (a->m != a->m || b->m == -INFINITY) return;
  if (b->m != b->m || b->m == INFINITY || a->m == -INFINITY) {
    *a = *b;
    return;
  }
  if (a->m == INFINITY) return;
  if (b->m <= a->m) {
    a->s += b->s * exp(b->m - a->m);
  } else {
    a->s = a->s * exp(a->m - b->m) + b->s;
    a->m = b->m;
  }
}

#define COMBINE_LSE(acc, acc2) lse_combine(&(acc), &(acc2))
#define INIT_LSE(acc, first) ((acc).m = -INFINITY, (acc).s = 0.0)
#define STEP_LSE(acc, v) lse_step(&(acc), (double)(v))
#define FIN_LSE_F32(dst, acc, cnt) ((dst) = (float)lse_fin(&(acc)))
#define FIN_LSE_F64(dst, acc, cnt) ((dst) = lse_fin(&(acc)))
DEF_REDUCE(lse_float32, float, lse_acc, INIT_LSE, STEP_LSE, COMBINE_LSE, FIN_LSE_F32)
DEF_REDUCE(lse_float64, double, lse_acc, INIT_LSE, STEP_LSE, COMBINE_LSE, FIN_LSE_F64)

static const reduce_impl k_sum = {TSI_KERNELS_NUMERIC(sum), 0};
static const reduce_impl k_prod = {TSI_KERNELS_NUMERIC(prod), 0};
static const reduce_impl k_mean = {TSI_KERNELS_FLOAT(mean), 0};
static const reduce_impl k_max = {TSI_KERNELS_ALL(max), 1};
static const reduce_impl k_min = {TSI_KERNELS_ALL(min), 1};
static const reduce_impl k_lse = {TSI_KERNELS_FLOAT(lse), 0};

static int with_shape(int st, const tsi_tensor *x, tsi_err *e);

/* Marks the reduced axes of a rank-nd input in red[]; checks range and
 * duplicates. */
static int reduced_axes(const tsi_node *n, const tsi_tensor *x, int nd, unsigned char *red,
                        tsi_err *e) {
  const tsi_attrs *at = n->attrs;
  memset(red, 0, TSI_MAXDIM);
  if (!at || !at->has_axes) {
    memset(red, 1, (size_t)nd);
    return TSI_OK;
  }
  for (int i = 0; i < at->naxes; i++) {
    int64_t a;
    int st = tsi_norm_axis(n, at->axes[i], nd, &a, e);
    if (st) return with_shape(st, x, e);
    if (red[a]) {
      char nb[128], sb[96];
      return tsi_fail(e, TSI_EARG, "%s: axis %lld is given twice (input shape %s)",
                      tsi_opname(n, nb, sizeof nb), (long long)(a + 1),
                      tsi_shape_str(x, sb, sizeof sb));
    }
    red[a] = 1;
  }
  return TSI_OK;
}

/* Appends the input's shape to an axis error. */
static int with_shape(int st, const tsi_tensor *x, tsi_err *e) {
  char sb[96];
  size_t l = strlen(e->msg);
  if (l < sizeof e->msg)
    snprintf(e->msg + l, sizeof e->msg - l, " (input shape %s)", tsi_shape_str(x, sb, sizeof sb));
  return st;
}

static int keepdims_of(const tsi_node *n) { return n->attrs ? n->attrs->keepdims : 0; }

/* Output shape with the reduced axes removed (or 1 with keepdims). */
static int reduce_shape(const tsi_node *n, const tsi_tensor *x, const unsigned char *red,
                        int nonempty, tsi_tensor *out, tsi_err *e) {
  int64_t shape[TSI_MAXDIM];
  int nd = 0, keep = keepdims_of(n);
  for (int i = 0; i < x->ndim; i++) {
    if (red[i] && x->shape[i] == 0 && nonempty) {
      char nb[128], sb[96];
      return tsi_fail(e, TSI_EARG, "%s: cannot reduce an empty axis %d of shape %s",
                      tsi_opname(n, nb, sizeof nb), i + 1, tsi_shape_str(x, sb, sizeof sb));
    }
    if (!red[i]) shape[nd++] = x->shape[i];
    else if (keep) shape[nd++] = 1;
  }
  return tsi_set_shape(out, nd, shape, e);
}

static int infer_reduce(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  const reduce_impl *k = n->op->impl;
  int st;
  if (!tsi_kernel(n, &k->k, ins[0].dtype, e)) return e->status;
  out->dtype = ins[0].dtype;
  if (ins[0].ndim < 0) return tsi_unknown_rank(out, out->dtype);
  unsigned char red[TSI_MAXDIM];
  if ((st = reduced_axes(n, &ins[0], ins[0].ndim, red, e))) return st;
  return reduce_shape(n, &ins[0], red, k->nonempty, out, e);
}

static void make_plan(const tsi_tensor *x, const unsigned char *red, rplan *p) {
  int64_t gs[TSI_MAXDIM];
  unsigned char gr[TSI_MAXDIM];
  int ng = 0;
  memset(p, 0, sizeof *p);
  p->count = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (red[i]) p->count *= x->shape[i];
    if (x->shape[i] == 1) continue;
    if (ng > 0 && gr[ng - 1] == red[i]) {
      gs[ng - 1] *= x->shape[i];
    } else {
      gs[ng] = x->shape[i];
      gr[ng] = red[i];
      ng++;
    }
  }
  int nred = 0, first = -1;
  for (int g = 0; g < ng; g++)
    if (gr[g]) {
      nred++;
      if (first < 0) first = g;
    }
  if (nred <= 1) {
    p->outer = 1, p->R = 1, p->inner = 1;
    for (int g = 0; g < ng; g++) {
      if (first < 0 || g < first) p->outer *= gs[g];
      else if (g == first) p->R = gs[g];
      else p->inner *= gs[g];
    }
    p->kind = p->inner == 1 ? R_CONTIG : R_COLS;
    return;
  }
  p->kind = R_GENERAL;
  int64_t stride = 1;
  int64_t st[TSI_MAXDIM];
  for (int g = ng - 1; g >= 0; g--) {
    st[g] = stride;
    stride *= gs[g];
  }
  for (int g = 0; g < ng; g++) {
    if (gr[g]) {
      p->rshape[p->nr] = gs[g];
      p->rstride[p->nr++] = st[g];
    } else {
      p->kshape[p->nk] = gs[g];
      p->kstride[p->nk++] = st[g];
    }
  }
}

typedef struct reduce_job {
  const rplan *p;
  reduce_fn fn;
  const void *x;
  void *o;
  size_t es;
} reduce_job;

/* The outer rows within input elements [b, e) (whole rows: the split is
 * aligned to a row's elements) of a contiguous or column plan. */
static void reduce_range(void *arg, int64_t b, int64_t e) {
  const reduce_job *j = arg;
  rplan sub = *j->p;
  const int64_t row = sub.R * sub.inner, o0 = b / row, o1 = (e + row - 1) / row;
  sub.outer = o1 - o0;
  const char *x = (const char *)j->x + (size_t)(o0 * sub.R * sub.inner) * j->es;
  char *o = (char *)j->o + (size_t)(o0 * sub.inner) * j->es;
  j->fn(&sub, x, o, sub.outer * sub.inner);
}

/* Reduces x over the axes marked in red with kernel fn into out (x's kept
 * elements in order, so any shape of that size): rows or column blocks are
 * split over threads when x is large. */
static void reduce_with(tsi_runctx *ctx, reduce_fn fn, const tsi_tensor *x,
                        const unsigned char *red, tsi_tensor *out) {
  if (out->numel == 0) return;
  rplan p;
  make_plan(x, red, &p);
  if (p.kind != R_GENERAL && p.count > 0 && p.outer > 1 && ctx->nthreads > 1 &&
      x->numel >= TSI_PAR_GRAIN) {
    reduce_job j = {&p, fn, x->data, out->data, tsi_dtype_size(x->dtype)};
    tsi_parallel_for(ctx->pool, ctx->nthreads, x->numel, p.R * p.inner, reduce_range, &j);
    return;
  }
  fn(&p, x->data, out->data, out->numel);
}

int tsi_reduce_sum_into(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *x,
                        const unsigned char *red, int mean, tsi_tensor *out, tsi_err *e) {
  reduce_fn f = (reduce_fn)tsi_kernel(n, mean ? &k_mean.k : &k_sum.k, x->dtype, e);
  if (!f) return e->status;
  reduce_with(ctx, f, x, red, out);
  return TSI_OK;
}

static int run_reduce(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  unsigned char red[TSI_MAXDIM];
  reduce_fn f = (reduce_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  if (!f) return e->status;
  int st = reduced_axes(n, &ins[0], ins[0].ndim, red, e);
  if (st) return st;
  reduce_with(ctx, f, &ins[0], red, out);
  return TSI_OK;
}

/* ---------------------------------------------------------- argmax/argmin */

/* The one axis of argmax/argmin (default the first), normalised. */
static int arg_axis(const tsi_node *n, int ndim, int64_t *axis, tsi_err *e) {
  const tsi_attrs *at = n->attrs;
  char nb[128];
  if (ndim == 0)
    return tsi_fail(e, TSI_EARG, "%s: the input is a scalar (rank 0): there is no axis",
                    tsi_opname(n, nb, sizeof nb));
  if (!at || !at->has_axes) {
    *axis = 0;
    return TSI_OK;
  }
  if (at->naxes != 1)
    return tsi_fail(e, TSI_EARG, "%s takes exactly one axis, got %d",
                    tsi_opname(n, nb, sizeof nb), at->naxes);
  return tsi_norm_axis(n, at->axes[0], ndim, axis, e);
}

static int infer_arg(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                     tsi_err *e) {
  int st;
  if ((st = tsi_check_dtype(n, ins[0].dtype, TSI_ALL, e))) return st;
  out->dtype = TS_INT64;
  if (ins[0].ndim < 0) return tsi_unknown_rank(out, out->dtype);
  int64_t axis;
  if ((st = arg_axis(n, ins[0].ndim, &axis, e))) return ins[0].ndim ? with_shape(st, &ins[0], e) : st;
  unsigned char red[TSI_MAXDIM] = {0};
  red[axis] = 1;
  if ((st = reduce_shape(n, &ins[0], red, 1, out, e))) return st;
  out->dtype = TS_INT64;
  return TSI_OK;
}

/* NAME_<dtype> (see ops.h), every dtype: the index (1-based) of the first
 * maximum (CMP >) or minimum (CMP <); NaN wins. */
#define DEF_ARG(E, T, S, NAME, CMP)                                                 \
  static void NAME##_##S(const void *xv, int64_t *restrict O, int64_t outer,        \
                         int64_t R, int64_t inner) {                                \
    const T *restrict X = xv;                                                       \
    for (int64_t o = 0; o < outer; o++)                                             \
      for (int64_t i = 0; i < inner; i++) {                                         \
        const T *restrict x = X + o * R * inner + i;                                \
        T best = x[0];                                                              \
        int64_t bi = 0;                                                             \
        if (best == best)                                                           \
          for (int64_t r = 1; r < R; r++) {                                         \
            T v = x[r * inner];                                                     \
            if (v CMP best || v != v) {                                             \
              best = v, bi = r;                                                     \
              if (v != v) break;                                                    \
            }                                                                       \
          }                                                                         \
        O[o * inner + i] = bi + 1;                                                  \
      }                                                                             \
  }
TSI_DTYPES(DEF_ARG, argmax, >)
TSI_DTYPES(DEF_ARG, argmin, <)

typedef void (*arg_fn)(const void *x, int64_t *o, int64_t outer, int64_t R, int64_t inner);
static const tsi_kernels k_argmax = TSI_KERNELS_ALL(argmax);
static const tsi_kernels k_argmin = TSI_KERNELS_ALL(argmin);

static int run_arg(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                   tsi_tensor *out, tsi_err *e) {
  int64_t axis;
  arg_fn f = (arg_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  if (!f) return e->status;
  int st = arg_axis(n, ins[0].ndim, &axis, e);
  if (st) return st;
  if (out->numel == 0) return TSI_OK;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= ins[0].shape[i];
  for (int i = (int)axis + 1; i < ins[0].ndim; i++) inner *= ins[0].shape[i];
  f(ins[0].data, out->data, outer, ins[0].shape[axis], inner);
  return TSI_OK;
}

#define REDUCE(NAME, K) {NAME, 1, 1, 0, infer_reduce, run_reduce, &K}

const tsi_opdef tsi_ops_reduce[] = {
    REDUCE("reduce_sum", k_sum),
    REDUCE("reduce_mean", k_mean),
    REDUCE("reduce_max", k_max),
    REDUCE("reduce_min", k_min),
    REDUCE("reduce_prod", k_prod),
    REDUCE("reduce_logsumexp", k_lse),
    {"argmax", 1, 1, 0, infer_arg, run_arg, &k_argmax},
    {"argmin", 1, 1, 0, infer_arg, run_arg, &k_argmin},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
