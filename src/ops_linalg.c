/* Linear algebra: matmul through CBLAS (2-D, vector right/left operands,
 * batched 3-D with a shared 2-D operand) and transpose. */
#include <string.h>

#include "blas.h"
#include "ops.h"
#include "vmath.h"

/* The logical (m, k) of a and (k, n) of b after the transpose flags; batch
 * sizes (meaningful when has_batch_a/b: a batch may be empty). */
typedef struct mm_dims {
  int64_t m, k, n, kb, batch_a, batch_b;
  int vec_a, vec_b;
  int has_batch_a, has_batch_b;
} mm_dims;

static int mm_shape(const tsi_node *n, const tsi_tensor *a, const tsi_tensor *b,
                    mm_dims *d, tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  int ta = n->attrs ? n->attrs->transpose_a : 0, tb = n->attrs ? n->attrs->transpose_b : 0;
  memset(d, 0, sizeof *d);
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3)
    return tsi_fail(e, TSI_EARG, "%s: operands must have rank 1, 2 or 3, got %s and %s",
                    tsi_opname(n, nb, sizeof nb), tsi_shape_str(a, sa, sizeof sa),
                    tsi_shape_str(b, sb, sizeof sb));
  if (a->ndim == 1) {
    d->vec_a = 1, d->m = 1, d->k = a->shape[0];
  } else {
    int r = a->ndim;
    d->m = ta ? a->shape[r - 1] : a->shape[r - 2];
    d->k = ta ? a->shape[r - 2] : a->shape[r - 1];
    if (r == 3) d->batch_a = a->shape[0], d->has_batch_a = 1;
  }
  if (b->ndim == 1) {
    d->vec_b = 1, d->kb = b->shape[0], d->n = 1;
  } else {
    int r = b->ndim;
    d->kb = tb ? b->shape[r - 1] : b->shape[r - 2];
    d->n = tb ? b->shape[r - 2] : b->shape[r - 1];
    if (r == 3) d->batch_b = b->shape[0], d->has_batch_b = 1;
  }
  if (d->k >= 0 && d->kb >= 0 && d->k != d->kb)
    return tsi_fail(e, TSI_EARG,
                    "%s: inner dimensions do not match: %s%s times %s%s (%lld vs %lld)",
                    tsi_opname(n, nb, sizeof nb), tsi_shape_str(a, sa, sizeof sa),
                    ta ? " transposed" : "", tsi_shape_str(b, sb, sizeof sb),
                    tb ? " transposed" : "", (long long)d->k, (long long)d->kb);
  if (d->has_batch_a && d->has_batch_b && d->batch_a >= 0 && d->batch_b >= 0 &&
      d->batch_a != d->batch_b)
    return tsi_fail(e, TSI_EARG, "%s: batch sizes differ: %s and %s",
                    tsi_opname(n, nb, sizeof nb), tsi_shape_str(a, sa, sizeof sa),
                    tsi_shape_str(b, sb, sizeof sb));
  int64_t shape[3];
  int nd = 0;
  if (a->ndim == 3 || b->ndim == 3)
    shape[nd++] = a->ndim == 3 && (d->batch_a >= 0 || !d->has_batch_b) ? d->batch_a : d->batch_b;
  if (!d->vec_a) shape[nd++] = d->m;
  if (!d->vec_b) shape[nd++] = d->n;
  out->dtype = a->dtype;
  return tsi_out_shape(n, out, nd, shape, e);
}

static int infer_matmul(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  int st;
  mm_dims d;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  if (ins[0].ndim < 0 || ins[1].ndim < 0) return tsi_unknown_rank(out, ins[0].dtype);
  return mm_shape(n, &ins[0], &ins[1], &d, out, e);
}

/* One product, C[m,n] = op(A) op(B), on row-major storage. Small products
 * (the tutorial's 100x2 by 2x2) run in a plain loop: a BLAS call costs more
 * than their arithmetic. The rest goes to OpenBLAS, loaded on first use. */
#define SMALL_GEMM 4096 /* m * n * k */
#define SMALL_GEMV 512  /* a row (column) times a matrix of more elements: BLAS's gemv */
/* A row (m == 1) or a column (n == 1) times a matrix large enough for gemv. */
static int mm_gemv(const mm_dims *d) {
  if (d->vec_a || d->vec_b) return 0;
  return (d->m == 1 && d->n * d->k > SMALL_GEMV) || (d->n == 1 && d->m * d->k > SMALL_GEMV);
}
/* small_cols_<dtype>: C[m, n] = op(A) op(B) for n <= 4 columns (a constant
 * where it is inlined), B's rows contiguous (stride bp), element (i, p) of
 * op(A) at i * ai + p * ap: each row's n sums in registers, in the order of p
 * (the tutorial's 100x2 by 2x2 products, their gradients' 2x100 by 100x2).
 * Inlined with n, and k up to 4, constants: the loops unroll. */
#define SMALL_COLS(E, T, S, ...)                                                           \
  static inline __attribute__((always_inline)) void small_cols_##S(                        \
      const T *A, const T *B, T *C, int m, int k, int64_t ai, int64_t ap, int64_t bp, int n) { \
    for (int i = 0; i < m; i++) {                                                          \
      T c[4] = {0, 0, 0, 0};                                                               \
      const T *a_ = A + i * ai;                                                            \
      for (int p = 0; p < k; p++) {                                                        \
        const T a = a_[p * ap], *b = B + p * bp;                                           \
        for (int j = 0; j < n; j++) c[j] += a * b[j];                                      \
      }                                                                                    \
      T *cr = C + (int64_t)i * n;                                                          \
      for (int j = 0; j < n; j++) cr[j] = c[j];                                            \
    }                                                                                      \
  }
TSI_FLOAT_DTYPES(SMALL_COLS)
/* pairs22_<dtype>: C[m, 2] = A[m, 2] B[2, 2], all rows contiguous (the
 * tutorial's 100x2 by 2x2 products): two rows of A in one vector of 4, each
 * element of C as small_cols sums it, (0 + a0 b0) + a1 b1, so the same bits. */
#define PAIRS22(E, T, S, ...)                                                              \
  static inline __attribute__((always_inline)) void pairs22_##S(const T *A, const T *B,    \
                                                                T *C, int m) {             \
    typedef T V_ __attribute__((vector_size(sizeof(T) * 4)));                              \
    const V_ b0 = {B[0], B[1], B[0], B[1]}, b1 = {B[2], B[3], B[2], B[3]}, z = {0};         \
    int i = 0;                                                                             \
    for (; i + 2 <= m; i += 2) {                                                           \
      V_ x;                                                                                \
      memcpy(&x, A + 2 * (int64_t)i, sizeof x);                                            \
      const V_ a0 = __builtin_shufflevector(x, x, 0, 0, 2, 2);                             \
      const V_ a1 = __builtin_shufflevector(x, x, 1, 1, 3, 3);                             \
      const V_ c = (z + a0 * b0) + a1 * b1;                                                \
      memcpy(C + 2 * (int64_t)i, &c, sizeof c);                                            \
    }                                                                                      \
    if (i < m) small_cols_##S(A + 2 * (int64_t)i, B, C + 2 * (int64_t)i, m - i, 2, 2, 1, 2, 2); \
  }
TSI_FLOAT_DTYPES(PAIRS22)
/* pairs_mn22_<dtype>: C[2, 2] = A[k, 2]^T B[k, 2], rows contiguous (the
 * tutorial's weight gradients, 2x100 by 100x2): two rows of each in a vector
 * of 4, so each element of C is two partial sums, of the even and of the odd
 * p in the order of p, added at the end (a fixed order: the same bits on every
 * CPU and at any thread count). */
#define PAIRS_MN22(E, T, S, ...)                                                           \
  static inline __attribute__((always_inline)) void pairs_mn22_##S(                        \
      const T *A, const T *B, T *C, int k) {                                               \
    typedef T V_ __attribute__((vector_size(sizeof(T) * 4)));                              \
    V_ c0 = {0}, c1 = {0};                                                                 \
    int p = 0;                                                                             \
    for (; p + 2 <= k; p += 2) {                                                           \
      V_ x, y;                                                                             \
      memcpy(&x, A + 2 * (int64_t)p, sizeof x);                                            \
      memcpy(&y, B + 2 * (int64_t)p, sizeof y);                                            \
      c0 += __builtin_shufflevector(x, x, 0, 0, 2, 2) * y;                                 \
      c1 += __builtin_shufflevector(x, x, 1, 1, 3, 3) * y;                                 \
    }                                                                                      \
    T r[4] = {c0[0] + c0[2], c0[1] + c0[3], c1[0] + c1[2], c1[1] + c1[3]};                 \
    if (p < k) { /* an odd k: the last p */                                                \
      const T *a = A + 2 * (int64_t)p, *b = B + 2 * (int64_t)p;                            \
      r[0] += a[0] * b[0], r[1] += a[0] * b[1], r[2] += a[1] * b[0], r[3] += a[1] * b[1];  \
    }                                                                                      \
    memcpy(C, r, sizeof r);                                                                \
  }
TSI_FLOAT_DTYPES(PAIRS_MN22)
/* small_mn_<dtype>: C[m, n] for m, n <= 4 (constants where inlined) and any
 * k, in one pass over p with the m x n sums in registers (a gradient's 2x100
 * by 100x2: A read once, not once per row of C); each sum in the order of p,
 * as small_cols. */
#define SMALL_MN(E, T, S, ...)                                                              \
  static inline __attribute__((always_inline)) void small_mn_##S(                           \
      const T *A, const T *B, T *C, int m, int n, int k, int64_t ai, int64_t ap, int64_t bp) { \
    T c[4][4] = {{0}};                                                                      \
    for (int p = 0; p < k; p++) {                                                           \
      const T *a_ = A + p * ap, *b = B + p * bp;                                            \
      for (int i = 0; i < m; i++) {                                                         \
        const T a = a_[i * ai];                                                             \
        for (int j = 0; j < n; j++) c[i][j] += a * b[j];                                    \
      }                                                                                     \
    }                                                                                       \
    for (int i = 0; i < m; i++)                                                             \
      for (int j = 0; j < n; j++) C[i * n + j] = c[i][j];                                   \
  }
TSI_FLOAT_DTYPES(SMALL_MN)

/* gemm_<dtype> (see ops.h): products through tsi_gemm (threaded by rows or
 * columns of C), matrix-vector ones through tsi_gemv (split by parts of y) */
typedef void (*gemm_fn)(const tsi_blas *bl, int nthreads, const mm_dims *d, int ta, int tb,
                        const void *A, const void *B, void *C);
#define GEMM(E, T, S)                                                                \
  TSI_CLONES static void gemm_##S(const tsi_blas *bl, int nthreads, const mm_dims *d, int ta, \
                       int tb, const void *Av, const void *Bv, void *Cv) {            \
    const T *A = Av, *B = Bv;                                                         \
    T *C = Cv;                                                                        \
    int m = (int)d->m, n = (int)d->n, k = (int)d->k;                                  \
    if (m == 0 || n == 0) return;                                                     \
    if (k == 0) {                                                                     \
      memset(C, 0, sizeof(T) * (size_t)m * (size_t)n);                                \
      return;                                                                         \
    }                                                                                 \
    /* a row times a matrix (batch-1 inference): gemv, no packing of B */           \
    if (mm_gemv(d) && m == 1) {                                                       \
      tsi_gemv(bl, E, nthreads, !tb, tb ? n : k, tb ? k : n, B, tb ? k : n, A, C);    \
      return;                                                                         \
    }                                                                                 \
    if (mm_gemv(d)) {                                                                 \
      tsi_gemv(bl, E, nthreads, ta, ta ? k : m, ta ? m : k, A, ta ? m : k, B, C);     \
      return;                                                                         \
    }                                                                                 \
    if ((int64_t)m * n * k <= SMALL_GEMM || (d->vec_a && d->vec_b)) {                 \
      /* element (i, p) of op(A) and (p, j) of op(B) */                               \
      int64_t ai = ta ? 1 : k, ap = ta ? m : 1, bp = tb ? 1 : n, bj = tb ? k : 1;     \
      if (d->vec_a) ai = 0, ap = 1;                                                   \
      if (d->vec_b) bp = 1, bj = 0;                                                   \
      T bt[1024]; /* a small op(B) with strided rows, made contiguous */              \
      if (bj != 1 && !d->vec_a && !d->vec_b && (int64_t)k * n <= 1024) {              \
        for (int p = 0; p < k; p++)                                                   \
          for (int j = 0; j < n; j++) bt[p * n + j] = B[p * bp + j * bj];             \
        B = bt, bp = n, bj = 1;                                                       \
      }                                                                               \
      if (bj == 1 && !d->vec_a && n <= 4 && k <= 4) { /* and a few rows of B too */  \
        switch (k * 8 + n) { /* k and n constants: both loops unroll (100x2 by 2x2) */ \
        case 8 + 1: small_cols_##S(A, B, C, m, 1, ai, ap, bp, 1); break;              \
        case 8 + 2: small_cols_##S(A, B, C, m, 1, ai, ap, bp, 2); break;              \
        case 16 + 1: small_cols_##S(A, B, C, m, 2, ai, ap, bp, 1); break;             \
        case 16 + 2:                                                                  \
          if (ai == 2 && ap == 1 && bp == 2) pairs22_##S(A, B, C, m);                 \
          else small_cols_##S(A, B, C, m, 2, ai, ap, bp, 2);                          \
          break;                                                                      \
        case 16 + 3: small_cols_##S(A, B, C, m, 2, ai, ap, bp, 3); break;             \
        case 16 + 4: small_cols_##S(A, B, C, m, 2, ai, ap, bp, 4); break;             \
        case 24 + 2: small_cols_##S(A, B, C, m, 3, ai, ap, bp, 2); break;             \
        case 24 + 3: small_cols_##S(A, B, C, m, 3, ai, ap, bp, 3); break;             \
        case 32 + 2: small_cols_##S(A, B, C, m, 4, ai, ap, bp, 2); break;             \
        case 32 + 4: small_cols_##S(A, B, C, m, 4, ai, ap, bp, 4); break;             \
        default: k = -k; break; /* not one of these: n alone a constant, below */     \
        }                                                                             \
        if (k > 0) return;                                                            \
        k = -k;                                                                       \
      }                                                                               \
      if (bj == 1 && !d->vec_a && n <= 4 && m <= 4) { /* a few rows and columns */   \
        switch (m * 8 + n) { /* m and n constants: the loops over them unroll */      \
        case 8 + 1: small_mn_##S(A, B, C, 1, 1, k, ai, ap, bp); return;               \
        case 8 + 2: small_mn_##S(A, B, C, 1, 2, k, ai, ap, bp); return;               \
        case 16 + 1: small_mn_##S(A, B, C, 2, 1, k, ai, ap, bp); return;              \
        case 16 + 2:                                                                  \
          if (ai == 1 && ap == 2 && bp == 2) pairs_mn22_##S(A, B, C, k);              \
          else small_mn_##S(A, B, C, 2, 2, k, ai, ap, bp);                            \
          return;                                                                     \
        case 24 + 3: small_mn_##S(A, B, C, 3, 3, k, ai, ap, bp); return;              \
        case 32 + 4: small_mn_##S(A, B, C, 4, 4, k, ai, ap, bp); return;              \
        default: break;                                                               \
        }                                                                             \
      }                                                                               \
      if (bj == 1 && !d->vec_a && n <= 4) { /* a few columns: sums in registers */    \
        switch (n) { /* n a constant in each: the column loops unroll */              \
        case 1: small_cols_##S(A, B, C, m, k, ai, ap, bp, 1); break;                  \
        case 2: small_cols_##S(A, B, C, m, k, ai, ap, bp, 2); break;                  \
        case 3: small_cols_##S(A, B, C, m, k, ai, ap, bp, 3); break;                  \
        default: small_cols_##S(A, B, C, m, k, ai, ap, bp, 4); break;                 \
        }                                                                             \
        return;                                                                       \
      }                                                                               \
      if (bj == 1 && !d->vec_a) { /* rows of B contiguous: C[i,:] += a(i,p) B[p,:] */ \
        memset(C, 0, sizeof(T) * (size_t)m * (size_t)n);                              \
        for (int p = 0; p < k; p++) {                                                 \
          const T *restrict bp_ = B + p * bp;                                         \
          for (int i = 0; i < m; i++) {                                               \
            T a = A[i * ai + p * ap], *restrict c = C + (int64_t)i * n;               \
            for (int j = 0; j < n; j++) c[j] += a * bp_[j];                           \
          }                                                                           \
        }                                                                             \
        return;                                                                       \
      }                                                                               \
      for (int i = 0; i < m; i++)                                                     \
        for (int j = 0; j < n; j++) {                                                 \
          T s = 0;                                                                    \
          for (int p = 0; p < k; p++) s += A[i * ai + p * ap] * B[p * bp + j * bj];   \
          C[(int64_t)i * n + j] = s;                                                  \
        }                                                                             \
      return;                                                                         \
    }                                                                                 \
    if (d->vec_b) { /* y = op(A) x */                                                 \
      tsi_gemv(bl, E, nthreads, ta, ta ? k : m, ta ? m : k, A, ta ? m : k, B, C);     \
      return;                                                                         \
    }                                                                                 \
    if (d->vec_a) { /* y = op(B)^T x */                                               \
      tsi_gemv(bl, E, nthreads, !tb, tb ? n : k, tb ? k : n, B, tb ? k : n, A, C);    \
      return;                                                                         \
    }                                                                                 \
    tsi_gemm(bl, E, nthreads, ta, tb, m, n, k, A, ta ? m : k, B, tb ? k : n, 0, C, n); \
  }
GEMM(TS_FLOAT32, float, float32)
GEMM(TS_FLOAT64, double, float64)
static const tsi_kernels k_matmul = TSI_KERNELS_FLOAT(gemm);

static int run_matmul(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  mm_dims d;
  tsi_tensor o2;
  char nb[128];
  gemm_fn gemm = (gemm_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  if (!gemm) return e->status;
  int st = mm_shape(n, &ins[0], &ins[1], &d, &o2, e);
  if (st) return st;
  if (d.m > INT32_MAX || d.n > INT32_MAX || d.k > INT32_MAX)
    return tsi_fail(e, TSI_EARG, "%s: dimensions above 2^31 are not supported by BLAS",
                    tsi_opname(n, nb, sizeof nb));
  if (((d.m * d.n * d.k > SMALL_GEMM && !(d.vec_a && d.vec_b)) || mm_gemv(&d)) &&
      (st = tsi_blas_ready(ctx->blas, e)))
    return st;
  int ta = n->attrs ? n->attrs->transpose_a : 0, tb = n->attrs ? n->attrs->transpose_b : 0;
  int64_t batch = d.has_batch_a ? d.batch_a : d.has_batch_b ? d.batch_b : 1;
  int64_t sa = d.has_batch_a ? d.m * d.k : 0, sb = d.has_batch_b ? d.k * d.n : 0;
  int64_t sc = d.m * d.n;
  size_t es = tsi_dtype_size(out->dtype);
  for (int64_t i = 0; i < batch; i++)
    gemm(ctx->blas, ctx->nthreads, &d, ta, tb, (const char *)ins[0].data + (size_t)(i * sa) * es,
         (const char *)ins[1].data + (size_t)(i * sb) * es, (char *)out->data + (size_t)(i * sc) * es);
  return TSI_OK;
}

/* ---------------------------------------------------------- transpose */
/* transpose: v1 = perm (0-based; the Lua wrapper converts from 1-based);
 * without v1 the axes are reversed. Moves bytes: every dtype. */

static int transpose_perm(const tsi_node *n, const tsi_tensor *x, int64_t *perm, tsi_err *e) {
  char nb[128], sb[96], pb[24];
  const tsi_attrs *at = n->attrs;
  int nd = x->ndim;
  if (!at || at->n1 < 0) {
    for (int i = 0; i < nd; i++) perm[i] = nd - 1 - i;
    return TSI_OK;
  }
  if (at->n1 != nd)
    return tsi_fail(e, TSI_EARG, "%s: perm has %d entries, shape %s has rank %d",
                    tsi_opname(n, nb, sizeof nb), at->n1, tsi_shape_str(x, sb, sizeof sb), nd);
  int seen[TSI_MAXDIM] = {0};
  for (int i = 0; i < nd; i++) {
    int64_t p = at->v1[i];
    if (p < 0 || p >= nd || seen[p])
      return tsi_fail(e, TSI_EARG, "%s: perm is not a permutation of 1..%d (entry %d is %s)",
                      tsi_opname(n, nb, sizeof nb), nd, i + 1, tsi_lua_pos(p, pb, sizeof pb));
    seen[p] = 1;
    perm[i] = p;
  }
  return TSI_OK;
}

static int infer_transpose(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                           tsi_err *e) {
  const tsi_tensor *x = &ins[0];
  int64_t perm[TSI_MAXDIM], shape[TSI_MAXDIM];
  out->dtype = x->dtype;
  if (x->ndim < 0) return tsi_unknown_rank(out, out->dtype);
  int st = transpose_perm(n, x, perm, e);
  if (st) return st;
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
  return tsi_out_shape(n, out, x->ndim, shape, e);
}

/* transpose_<dtype> (see ops.h), every dtype: walks the output in order; the
 * source offset follows the permuted strides. */
typedef void (*transpose_fn)(const tsi_tensor *x, tsi_tensor *out, const int64_t *perm);
#define DEF_TRANSPOSE(E, T, S, ...)                                                      \
  static void transpose_##S(const tsi_tensor *x, tsi_tensor *out, const int64_t *perm) { \
    const T *restrict X = x->data;                                                       \
    T *restrict O = out->data;                                                           \
    int nd = out->ndim;                                                                  \
    int64_t xst[TSI_MAXDIM], st[TSI_MAXDIM], idx[TSI_MAXDIM] = {0}, s = 1;               \
    for (int d = nd - 1; d >= 0; d--) xst[d] = s, s *= x->shape[d];                      \
    for (int d = 0; d < nd; d++) st[d] = xst[perm[d]];                                   \
    int64_t inner = out->shape[nd - 1], is = st[nd - 1], off = 0;                        \
    int64_t rows = out->numel / inner;                                                   \
    for (int64_t r = 0; r < rows; r++) {                                                 \
      for (int64_t i = 0; i < inner; i++) O[i] = X[off + i * is];                        \
      O += inner;                                                                        \
      for (int d = nd - 2; d >= 0; d--) {                                                \
        off += st[d];                                                                    \
        if (++idx[d] < out->shape[d]) break;                                             \
        off -= st[d] * out->shape[d];                                                    \
        idx[d] = 0;                                                                      \
      }                                                                                  \
    }                                                                                    \
  }
TSI_DTYPES(DEF_TRANSPOSE)
static const tsi_kernels k_transpose = TSI_KERNELS_ALL(transpose);

static int run_transpose(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                         tsi_tensor *out, tsi_err *e) {
  int64_t perm[TSI_MAXDIM];
  transpose_fn f = (transpose_fn)tsi_kernel(n, n->op->impl, out->dtype, e);
  if (!f) return e->status;
  int st = transpose_perm(n, &ins[0], perm, e);
  if (st) return st;
  if (out->numel <= 0) return TSI_OK;
  if (out->ndim == 0) {
    memcpy(out->data, ins[0].data, tsi_dtype_size(out->dtype));
    return TSI_OK;
  }
  f(&ins[0], out, perm);
  return TSI_OK;
}

const tsi_opdef tsi_ops_linalg[] = {
    {"matmul", 2, 2, 0, infer_matmul, run_matmul, &k_matmul},
    {"transpose", 1, 1, 0, infer_transpose, run_transpose, &k_transpose},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
