/* Element-wise arithmetic: binary ops with NumPy broadcasting and unary maps.
 * Each kernel body is written once; the macros stamp it out per dtype. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "parallel.h"
#include "vmath.h"

/* elements in the tile of a short row repeated (DEF_BINARY) */
#define BTILE 32

typedef void (*binary_fn)(const tsi_bcast *p, const void *a, const void *b, void *o);
typedef void (*unary_fn)(int64_t n, const void *a, void *o, const tsi_attrs *at);

/* Binary kernel NAME for element type T, output type TO: contiguous rows
 * with stride 1 or 0 on each side, so the compiler vectorises each case. */
#define DEF_BINARY(NAME, T, TO, EXPR)                                                         \
  TSI_CLONES static void NAME(const tsi_bcast *p, const void *av, const void *bv, void *ov) { \
    const T *restrict A = av;                                                                 \
    const T *restrict B = bv;                                                                 \
    TO *restrict O = ov;                                                                      \
    if (p->ndim == 1 && p->shape[0] <= 4) { /* a few elements (a chain of scalars): no walk */ \
      int64_t ia = p->sa[0], ib = p->sb[0];                                                   \
      for (int64_t i = 0; i < p->shape[0]; i++) {                                             \
        T x = A[i * ia], y = B[i * ib];                                                       \
        O[i] = (TO)(EXPR);                                                                    \
      }                                                                                       \
      return;                                                                                 \
    }                                                                                         \
    if (p->ndim == 2 && p->shape[1] < 8) { /* short rows (a bias on 100x2): plain loops, */    \
      const int64_t R = p->shape[0], n = p->shape[1]; /* no vector set-up per row */          \
      const int64_t sa0 = p->sa[0], sb0 = p->sb[0], ia = p->sa[1], ib = p->sb[1];             \
      if (R <= 0 || n <= 0) return; /* empty: [2^63 - 1, 0] would loop, BTILE / 0 trap */    \
      if (ia == 1 && ib == 1 && R >= 2 * (BTILE / n) && (sa0 == 0) != (sb0 == 0) &&           \
          (sa0 | sb0) == n) { /* a row against whole rows: the row repeated into a tile */    \
        const int64_t k = BTILE / n, L = k * n, N = R * n; /* of k rows, then flat loops */   \
        const T *restrict row = sa0 ? B : A;                                                  \
        T tile[BTILE];                                                                        \
        for (int64_t r = 0; r < k; r++)                                                       \
          for (int64_t i = 0; i < n; i++) tile[r * n + i] = row[i];                           \
        for (int64_t off = 0; off < N; off += L) {                                            \
          const int64_t m = N - off < L ? N - off : L;                                        \
          const T *restrict pa = sa0 ? A + off : tile, *restrict pb = sa0 ? tile : B + off;   \
          TO *restrict po = O + off;                                                          \
          for (int64_t i = 0; i < m; i++) { T x = pa[i], y = pb[i]; po[i] = (TO)(EXPR); }     \
        }                                                                                     \
        return;                                                                               \
      }                                                                                       \
      for (int64_t r = 0; r < R; r++)                                                         \
        for (int64_t i = 0; i < n; i++) {                                                     \
          T x = A[r * sa0 + i * ia], y = B[r * sb0 + i * ib];                                 \
          O[r * n + i] = (TO)(EXPR);                                                          \
        }                                                                                     \
      return;                                                                                 \
    }                                                                                         \
    TSI_BCAST_WALK(p, {                                                                       \
      const T *restrict pa = A + oa;                                                          \
      const T *restrict pb = B + ob;                                                          \
      TO *restrict po = O + oo;                                                               \
      if (ia && ib)                                                                           \
        for (int64_t i = 0; i < n; i++) { T x = pa[i], y = pb[i]; po[i] = (TO)(EXPR); }       \
      else if (ia) {                                                                          \
        T y = pb[0];                                                                          \
        for (int64_t i = 0; i < n; i++) { T x = pa[i]; po[i] = (TO)(EXPR); }                  \
      } else if (ib) {                                                                        \
        T x = pa[0];                                                                          \
        for (int64_t i = 0; i < n; i++) { T y = pb[i]; po[i] = (TO)(EXPR); }                  \
      } else {                                                                                \
        T x = pa[0], y = pb[0];                                                               \
        for (int64_t i = 0; i < n; i++) po[i] = (TO)(EXPR);                                   \
      }                                                                                       \
    });                                                                                       \
  }

/* An op's kernels, NAME_<dtype> (see ops.h): BIN_FLOAT defines NAME_float32
 * and NAME_float64; BIN_INT NAME_int64; BIN_U8 NAME_uint8; BIN_CMP all four,
 * with uint8 results. */
#define BIN_SAME_(E, T, S, NAME, EXPR) DEF_BINARY(NAME##_##S, T, T, EXPR)
#define BIN_CMP_(E, T, S, NAME, EXPR) DEF_BINARY(NAME##_##S, T, uint8_t, EXPR)
#define BIN_FLOAT(NAME, EXPR) TSI_FLOAT_DTYPES(BIN_SAME_, NAME, EXPR)
#define BIN_INT(NAME, EXPR) DEF_BINARY(NAME##_int64, int64_t, int64_t, EXPR)
#define BIN_U8(NAME, EXPR) DEF_BINARY(NAME##_uint8, uint8_t, uint8_t, EXPR)
#define BIN_CMP(NAME, EXPR) TSI_DTYPES(BIN_CMP_, NAME, EXPR)

BIN_FLOAT(add, x + y)
BIN_INT(add, (int64_t)((uint64_t)x + (uint64_t)y))
BIN_FLOAT(sub, x - y)
BIN_INT(sub, (int64_t)((uint64_t)x - (uint64_t)y))
BIN_FLOAT(mul, x * y)
BIN_INT(mul, (int64_t)((uint64_t)x * (uint64_t)y))
BIN_FLOAT(div, x / y)
DEF_BINARY(pow_float32, float, float, powf(x, y))
DEF_BINARY(pow_float64, double, double, pow(x, y))
/* maximum/minimum propagate NaN like NumPy (x != x is false for integers) */
#define MAX_EXPR ((x > y || x != x) ? x : y)
#define MIN_EXPR ((x < y || x != x) ? x : y)
BIN_FLOAT(max, MAX_EXPR)
BIN_INT(max, MAX_EXPR)
BIN_U8(max, MAX_EXPR)
BIN_FLOAT(min, MIN_EXPR)
BIN_INT(min, MIN_EXPR)
BIN_U8(min, MIN_EXPR)
BIN_FLOAT(sqd, (x - y) * (x - y))
BIN_INT(sqd, (int64_t)(((uint64_t)x - (uint64_t)y) * ((uint64_t)x - (uint64_t)y)))
BIN_CMP(eq, x == y)
BIN_CMP(ne, x != y)
BIN_CMP(lt, x < y)
BIN_CMP(le, x <= y)
BIN_CMP(gt, x > y)
BIN_CMP(ge, x >= y)

typedef struct binary_impl {
  tsi_kernels k; /* binary_fn */
  int cmp;       /* output uint8 */
} binary_impl;

static const binary_impl k_add = {TSI_KERNELS_NUMERIC(add), 0};
static const binary_impl k_sub = {TSI_KERNELS_NUMERIC(sub), 0};
static const binary_impl k_mul = {TSI_KERNELS_NUMERIC(mul), 0};
static const binary_impl k_div = {TSI_KERNELS_FLOAT(div), 0};
static const binary_impl k_pow = {TSI_KERNELS_FLOAT(pow), 0};
static const binary_impl k_max = {TSI_KERNELS_ALL(max), 0};
static const binary_impl k_min = {TSI_KERNELS_ALL(min), 0};
static const binary_impl k_sqd = {TSI_KERNELS_NUMERIC(sqd), 0};
static const binary_impl k_eq = {TSI_KERNELS_ALL(eq), 1};
static const binary_impl k_ne = {TSI_KERNELS_ALL(ne), 1};
static const binary_impl k_lt = {TSI_KERNELS_ALL(lt), 1};
static const binary_impl k_le = {TSI_KERNELS_ALL(le), 1};
static const binary_impl k_gt = {TSI_KERNELS_ALL(gt), 1};
static const binary_impl k_ge = {TSI_KERNELS_ALL(ge), 1};

/* ---- issue 15 (ONNX import) binary ops. Integer modulo by 0 gives 0 (as
 * NumPy; no SIGFPE), by -1 0 (INT64_MIN % -1 would trap); floormod takes the
 * divisor's sign (Python's %), truncatemod the dividend's (C's fmod, %). */
static inline float floormodf_(float x, float y) {
  float r = fmodf(x, y);
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline double floormod_(double x, double y) {
  double r = fmod(x, y);
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline int64_t floormodi_(int64_t x, int64_t y) {
  if (y == 0 || y == -1) return 0;
  int64_t r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline int64_t truncmodi_(int64_t x, int64_t y) { return (y == 0 || y == -1) ? 0 : x % y; }
/* shifts by a negative count or by the width or more: every bit shifted out
 * (right shifts of int64 are arithmetic, as TF's) */
static inline int64_t shl_(int64_t x, int64_t y) {
  return (y < 0 || y > 63) ? 0 : (int64_t)((uint64_t)x << y);
}
static inline int64_t shr_(int64_t x, int64_t y) {
  return (y < 0 || y > 63) ? (x < 0 ? -1 : 0) : (x < 0 ? ~(~x >> y) : x >> y);
}
DEF_BINARY(floormod_float32, float, float, floormodf_(x, y))
DEF_BINARY(floormod_float64, double, double, floormod_(x, y))
BIN_INT(floormod, floormodi_(x, y))
BIN_U8(floormod, y == 0 ? 0 : x % y)
DEF_BINARY(truncatemod_float32, float, float, fmodf(x, y))
DEF_BINARY(truncatemod_float64, double, double, fmod(x, y))
BIN_INT(truncatemod, truncmodi_(x, y))
BIN_U8(truncatemod, y == 0 ? 0 : x % y)
BIN_U8(land, x && y)
BIN_U8(lor, x || y)
BIN_U8(lxor, !x != !y)
BIN_INT(band, x & y)
BIN_U8(band, x & y)
BIN_INT(bor, x | y)
BIN_U8(bor, x | y)
BIN_INT(bxor, x ^ y)
BIN_U8(bxor, x ^ y)
BIN_INT(shl, shl_(x, y))
BIN_U8(shl, y > 7 ? 0 : x << y)
BIN_INT(shr, shr_(x, y))
BIN_U8(shr, y > 7 ? 0 : x >> y)
/* prelu(x, slope): slope * x below 0 */
BIN_FLOAT(prelu, x < 0 ? y * x : x)
#define BK_INTS(NAME) {{[TS_INT64] = (tsi_kfn)NAME##_int64, [TS_UINT8] = (tsi_kfn)NAME##_uint8}}
static const binary_impl k_floormod = {TSI_KERNELS_ALL(floormod), 0};
static const binary_impl k_truncatemod = {TSI_KERNELS_ALL(truncatemod), 0};
static const binary_impl k_land = {{{[TS_UINT8] = (tsi_kfn)land_uint8}}, 0};
static const binary_impl k_lor = {{{[TS_UINT8] = (tsi_kfn)lor_uint8}}, 0};
static const binary_impl k_lxor = {{{[TS_UINT8] = (tsi_kfn)lxor_uint8}}, 0};
static const binary_impl k_band = {BK_INTS(band), 0};
static const binary_impl k_bor = {BK_INTS(bor), 0};
static const binary_impl k_bxor = {BK_INTS(bxor), 0};
static const binary_impl k_shl = {BK_INTS(shl), 0};
static const binary_impl k_shr = {BK_INTS(shr), 0};
static const binary_impl k_prelu = {TSI_KERNELS_FLOAT(prelu), 0};

static int infer_binary(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  const binary_impl *k = n->op->impl;
  int st;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if (!tsi_kernel(n, &k->k, ins[0].dtype, e)) return e->status;
  if ((st = tsi_broadcast_infer(n, &ins[0], &ins[1], out, e))) return st;
  out->dtype = k->cmp ? TS_UINT8 : ins[0].dtype;
  return TSI_OK;
}

/* A contiguous run of len outputs from full or scalar operands. */
static void block_binary(const tsi_node *n, int dtype, int64_t len, const void *const *ins,
                         const unsigned char *scalar, void *out) {
  const tsi_kernels *k = n->op->impl; /* infer checked the dtype */
  tsi_bcast p; /* one dimension: the rest is never read (and not zeroed, 190 bytes) */
  p.ndim = 1, p.shape[0] = len, p.sa[0] = scalar[0] ? 0 : 1, p.sb[0] = scalar[1] ? 0 : 1;
  ((binary_fn)k->k[dtype])(&p, ins[0], ins[1], out);
}

typedef struct binary_job {
  const tsi_node *n;
  const tsi_tensor *ins;
  tsi_tensor *out;
  unsigned char scalar[2];
} binary_job;

static void binary_range(void *arg, int64_t b, int64_t end) {
  binary_job *j = arg;
  size_t es = tsi_dtype_size(j->ins[0].dtype);
  const void *in[2];
  for (int i = 0; i < 2; i++)
    in[i] = (const char *)j->ins[i].data + (j->scalar[i] ? 0 : (size_t)b * es);
  block_binary(j->n, j->ins[0].dtype, end - b, in, j->scalar,
               (char *)j->out->data + (size_t)b * tsi_dtype_size(j->out->dtype));
}

static int run_binary(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  binary_fn f = (binary_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  int simple = 1;
  if (!f) return e->status;
  if (out->numel == 0) return TSI_OK; /* nothing to compute, whatever the dims */
  binary_job j = {n, ins, out, {0, 0}};
  for (int i = 0; i < 2; i++) {
    j.scalar[i] = ins[i].numel == 1 && out->numel != 1;
    simple &= j.scalar[i] || tsi_same_shape(&ins[i], out);
  }
  if (simple && out->numel >= TSI_PAR_GRAIN && ctx->nthreads > 1) {
    tsi_parallel_for(ctx->pool, ctx->nthreads, out->numel, 64, binary_range, &j);
    return TSI_OK;
  }
  if (simple) { /* whole or scalar operands: one flat run, no broadcast plan */
    const void *in[2] = {ins[0].data, ins[1].data};
    block_binary(n, ins[0].dtype, out->numel, in, j.scalar, out->data);
    return TSI_OK;
  }
  tsi_bcast p;
  tsi_bcast_make(&ins[0], &ins[1], out, &p);
  f(&p, ins[0].data, ins[1].data, out->data);
  return TSI_OK;
}

/* ------------------------------------------------------------- unary */

/* Unary kernel NAME on type T. EXPR sees x (the element) and al (the op's
 * alpha attribute as T: attrs->f[0], or DEF when the node has none). */
#define DEF_UNARY_A(NAME, T, DEF, EXPR)                                                   \
  TSI_CLONES static void NAME(int64_t n, const void *av, void *ov, const tsi_attrs *at) { \
    const T *restrict A = av;                                                             \
    T *restrict O = ov;                                                                   \
    const T al = (T)(at ? at->f[0] : (DEF));                                              \
    (void)al;                                                                             \
    _Pragma("omp simd")                                                                   \
    for (int64_t i = 0; i < n; i++) { T x = A[i]; O[i] = (T)(EXPR); }                     \
  }
#define DEF_UNARY(NAME, T, EXPR) DEF_UNARY_A(NAME, T, 0, EXPR)

/* Float kernels NAME_float32 (EXPR_F, with <math.h>'s float functions) and
 * NAME_float64 (EXPR_D). */
#define UN_FLOAT_A(NAME, DEF, EXPR_F, EXPR_D)       \
  DEF_UNARY_A(NAME##_float32, float, DEF, EXPR_F)   \
  DEF_UNARY_A(NAME##_float64, double, DEF, EXPR_D)
#define UN_FLOAT(NAME, EXPR_F, EXPR_D) UN_FLOAT_A(NAME, 0, EXPR_F, EXPR_D)

UN_FLOAT(neg, -x, -x)
DEF_UNARY(neg_int64, int64_t, (int64_t)(0 - (uint64_t)x))
UN_FLOAT(abs, fabsf(x), fabs(x))
DEF_UNARY(abs_int64, int64_t, x < 0 ? (int64_t)(0 - (uint64_t)x) : x)
/* sign keeps 0, -0 and NaN as they are */
UN_FLOAT(sign, x > 0 ? 1.0f : (x < 0 ? -1.0f : x), x > 0 ? 1.0 : (x < 0 ? -1.0 : x))
DEF_UNARY(sign_int64, int64_t, (x > 0) - (x < 0))
UN_FLOAT(square, x * x, x * x)
DEF_UNARY(square_int64, int64_t, (int64_t)((uint64_t)x * (uint64_t)x))
UN_FLOAT(exp, tsi_expf(x), exp(x))
UN_FLOAT(log, tsi_logf(x), tsi_log(x))
UN_FLOAT(log1p, tsi_log1pf(x), log1p(x))
UN_FLOAT(sqrt, sqrtf(x), sqrt(x))
UN_FLOAT(rsqrt, 1.0f / sqrtf(x), 1.0 / sqrt(x))
UN_FLOAT(recip, 1.0f / x, 1.0 / x)
UN_FLOAT(sin, sinf(x), sin(x))
UN_FLOAT(cos, cosf(x), cos(x))
UN_FLOAT(tanh, tsi_tanhf(x), tsi_tanh(x))
/* One exp, of a non-positive number only: no overflow, sigmoid(-1000) = 0 */
static inline float sigmoidf_(float x) {
  float e = tsi_expf(-fabsf(x)), r = 1.0f / (1.0f + e);
  return x >= 0 ? r : e * r;
}
static inline double sigmoid_(double x) {
  double e = tsi_exp(-fabs(x)), r = 1.0 / (1.0 + e);
  return x >= 0 ? r : e * r;
}
UN_FLOAT(sigmoid, sigmoidf_(x), sigmoid_(x))
/* x < 0 rather than x > 0 so that NaN goes through */
UN_FLOAT(relu, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
UN_FLOAT_A(lrelu, 0.2, x < 0 ? al * x : x, x < 0 ? al * x : x)
UN_FLOAT_A(elu, 1.0, x < 0 ? al * tsi_expm1f(x) : x, x < 0 ? al * tsi_expm1(x) : x)
/* max(x, 0) + log1p(exp(-|x|)): softplus(1000) = 1000 */
UN_FLOAT(softplus, (x > 0 ? x : 0.0f) + tsi_log1pf(tsi_expf(-fabsf(x))),
         (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))))
/* exact form x Phi(x) = x erfc(-x / sqrt 2) / 2: 1 + erf(x / sqrt 2) would
 * cancel in the negative tail (-0 below x = -8.3); float32 in double, as
 * erfcf(-x / sqrt 2) is subnormal (few digits) where gelu is still normal;
 * -0 where Phi underflows (gelu(-inf) = -0, not -inf * 0) */
UN_FLOAT(gelu, x < -40.0f ? -0.0f : (float)(0.5 * x * erfc(x * -0.70710678118654752440)),
         x < -40.0 ? -0.0 : 0.5 * x * erfc(x * -0.70710678118654752440))
/* x / (1 + |x|) */
UN_FLOAT(softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))

#define UK_F(NAME) TSI_KERNELS_FLOAT(NAME)
#define UK_I(NAME) TSI_KERNELS_NUMERIC(NAME)
/* unary_fn tables */
static const tsi_kernels k_neg = UK_I(neg), k_abs = UK_I(abs), k_sign = UK_I(sign),
                           k_square = UK_I(square), k_exp = UK_F(exp), k_log = UK_F(log),
                           k_log1p = UK_F(log1p), k_sqrt = UK_F(sqrt), k_rsqrt = UK_F(rsqrt),
                           k_recip = UK_F(recip), k_sin = UK_F(sin), k_cos = UK_F(cos),
                           k_tanh = UK_F(tanh), k_sigmoid = UK_F(sigmoid), k_relu = UK_F(relu),
                           k_lrelu = UK_F(lrelu), k_elu = UK_F(elu),
                           k_softplus = UK_F(softplus), k_gelu = UK_F(gelu);
static const tsi_kernels k_softsign = UK_F(softsign);

/* ---- issue 15 (ONNX import) maps: erf, rounding, trigonometry, activations.
 * DEF_UNARY_AB: as DEF_UNARY_A with be, the op's second attribute
 * (attrs->f[1], or DEFB). */
#define DEF_UNARY_AB(NAME, T, DEFA, DEFB, EXPR)                                           \
  TSI_CLONES static void NAME(int64_t n, const void *av, void *ov, const tsi_attrs *at) { \
    const T *restrict A = av;                                                             \
    T *restrict O = ov;                                                                   \
    const T al = (T)(at ? at->f[0] : (DEFA)), be = (T)(at ? at->f[1] : (DEFB));           \
    (void)al;                                                                             \
    (void)be;                                                                             \
    _Pragma("omp simd")                                                                   \
    for (int64_t i = 0; i < n; i++) { T x = A[i]; O[i] = (T)(EXPR); }                     \
  }
#define UN_FLOAT_AB(NAME, DEFA, DEFB, EXPR_F, EXPR_D)      \
  DEF_UNARY_AB(NAME##_float32, float, DEFA, DEFB, EXPR_F) \
  DEF_UNARY_AB(NAME##_float64, double, DEFA, DEFB, EXPR_D)
UN_FLOAT(erf, erff(x), erf(x))
UN_FLOAT(floor, floorf(x), floor(x))
UN_FLOAT(ceil, ceilf(x), ceil(x))
/* half to even (the default rounding mode), as NumPy and ONNX round */
UN_FLOAT(round, nearbyintf(x), nearbyint(x))
UN_FLOAT(acos, acosf(x), acos(x))
UN_FLOAT(asin, asinf(x), asin(x))
UN_FLOAT(atan, atanf(x), atan(x))
UN_FLOAT(cosh, coshf(x), cosh(x))
UN_FLOAT(sinh, sinhf(x), sinh(x))
UN_FLOAT(tan, tanf(x), tan(x))
UN_FLOAT(acosh, acoshf(x), acosh(x))
UN_FLOAT(asinh, asinhf(x), asinh(x))
UN_FLOAT(atanh, atanhf(x), atanh(x))
/* selu: be (gamma) * (x > 0 ? x : al (alpha) * expm1(x)); x <= 0 so NaN goes through */
UN_FLOAT_AB(selu, 1.6732632423543772848, 1.0507009873554804934,
            be * (x <= 0 ? al * tsi_expm1f(x) : x), be * (x <= 0 ? al * tsi_expm1(x) : x))
/* celu: max(0, x) + min(0, al expm1(x / al)) */
UN_FLOAT_A(celu, 1.0, x <= 0 ? al * tsi_expm1f(x / al) : x, x <= 0 ? al * tsi_expm1(x / al) : x)
/* clamp to [0, hi], NaN through (as np.clip) */
#define CLAMP_(V, HI) ((V) < 0 ? 0 : ((V) > (HI) ? (HI) : (V)))
/* hard_sigmoid: max(0, min(1, al x + be)) */
UN_FLOAT_AB(hard_sigmoid, 0.2, 0.5, CLAMP_(al * x + be, 1.0f), CLAMP_(al * x + be, 1.0))
/* hard_swish: x * relu6(x + 3) / 6 */
UN_FLOAT(hard_swish, x * CLAMP_(x + 3.0f, 6.0f) / 6.0f, x * CLAMP_(x + 3.0, 6.0) / 6.0)
/* shrink: x + be (bias) below -al (lambd), x - be above al, else 0 */
UN_FLOAT_AB(shrink, 0.5, 0.0, x < -al ? x + be : (x > al ? x - be : 0.0f),
            x < -al ? x + be : (x > al ? x - be : 0.0))
UN_FLOAT_A(thresholded_relu, 1.0, x > al ? x : 0.0f, x > al ? x : 0.0)
/* bitwise_invert on the integer dtypes, logical_not on uint8 booleans */
DEF_UNARY(invert_int64, int64_t, ~x)
DEF_UNARY(invert_uint8, uint8_t, (uint8_t)~x)
DEF_UNARY(lnot_uint8, uint8_t, x == 0)
static const tsi_kernels k_erf = UK_F(erf), k_floor = UK_F(floor), k_ceil = UK_F(ceil),
                           k_round = UK_F(round), k_acos = UK_F(acos), k_asin = UK_F(asin),
                           k_atan = UK_F(atan), k_cosh = UK_F(cosh), k_sinh = UK_F(sinh),
                           k_tan = UK_F(tan), k_acosh = UK_F(acosh), k_asinh = UK_F(asinh),
                           k_atanh = UK_F(atanh), k_selu = UK_F(selu), k_celu = UK_F(celu),
                           k_hard_sigmoid = UK_F(hard_sigmoid), k_hard_swish = UK_F(hard_swish),
                           k_shrink = UK_F(shrink), k_thresholded_relu = UK_F(thresholded_relu),
                           k_invert = {{[TS_INT64] = (tsi_kfn)invert_int64,
                                        [TS_UINT8] = (tsi_kfn)invert_uint8}},
                           k_lnot = {{[TS_UINT8] = (tsi_kfn)lnot_uint8}};

/* is_nan, is_inf: float in, uint8 out (not fusable: the fused groups keep one dtype) */
#define DEF_TEST(NAME, T, EXPR)                                                           \
  static void NAME(int64_t n, const void *av, void *ov, const tsi_attrs *at) {            \
    const T *restrict A = av;                                                             \
    uint8_t *restrict O = ov;                                                             \
    for (int64_t i = 0; i < n; i++) { T x = A[i]; O[i] = (uint8_t)(EXPR); }               \
  }
DEF_TEST(isnan_float32, float, isnan(x) != 0)
DEF_TEST(isnan_float64, double, isnan(x) != 0)
DEF_TEST(isinf_float32, float, isinf(x) != 0)
DEF_TEST(isinf_float64, double, isinf(x) != 0)
static const tsi_kernels k_isnan = UK_F(isnan), k_isinf = UK_F(isinf);

static int infer_test(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  *out = ins[0];
  out->data = NULL;
  out->dtype = TS_UINT8;
  return TSI_OK;
}

static int run_test(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  unary_fn f = (unary_fn)tsi_kernel(n, n->op->impl, ins[0].dtype, e);
  if (!f) return e->status;
  f(ins[0].numel, ins[0].data, out->data, n->attrs);
  return TSI_OK;
}

static int infer_unary(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  if (!tsi_kernel(n, n->op->impl, ins[0].dtype, e)) return e->status;
  *out = ins[0];
  out->data = NULL;
  return TSI_OK;
}

static void block_unary(const tsi_node *n, int dtype, int64_t len, const void *const *ins,
                        const unsigned char *scalar, void *out) {
  /* a unary op's input has its output's shape (no scalar); infer checked dtype */
  ((unary_fn)((const tsi_kernels *)n->op->impl)->k[dtype])(len, ins[0], out, n->attrs);
}

typedef struct unary_job {
  const tsi_node *n;
  const tsi_tensor *in;
  tsi_tensor *out;
} unary_job;

static void unary_range(void *arg, int64_t b, int64_t end) {
  unary_job *j = arg;
  size_t es = tsi_dtype_size(j->in->dtype);
  const void *in = (const char *)j->in->data + (size_t)b * es;
  block_unary(j->n, j->in->dtype, end - b, &in, NULL, (char *)j->out->data + (size_t)b * es);
}

static int run_unary(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  unary_job j = {n, &ins[0], out};
  tsi_parallel_for(ctx->pool, ctx->nthreads, ins[0].numel, 64, unary_range, &j);
  return TSI_OK;
}

/* ------------------------------------------------------------- where */

/* where(cond, a, b): cond (uint8, nonzero = true) broadcast with a and b;
 * the result has a's (= b's) dtype. */
static int infer_where(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  char nb[128];
  int st;
  if (ins[0].dtype != TS_UINT8)
    return tsi_fail(e, TSI_EARG, "%s: the condition must be uint8 (a comparison), got %s",
                    tsi_opname(n, nb, sizeof nb), tsi_dtype_name(ins[0].dtype));
  if ((st = tsi_same_dtype(n, ins + 1, 2, e))) return st;
  tsi_tensor ab;
  memset(&ab, 0, sizeof ab);
  if ((st = tsi_broadcast_infer(n, &ins[1], &ins[2], &ab, e))) return st;
  if ((st = tsi_broadcast_infer(n, &ins[0], &ab, out, e))) return st;
  out->dtype = ins[1].dtype;
  return TSI_OK;
}

/* Element strides of t against an output of rank nd (0 where broadcast). */
static void bstrides(const tsi_tensor *t, const tsi_tensor *out, int64_t *s) {
  int nd = out->ndim;
  int64_t r = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int it = i - (nd - t->ndim);
    int64_t d = it >= 0 ? t->shape[it] : 1;
    s[i] = d == 1 ? 0 : r;
    r *= d;
  }
}

/* where_<dtype> (see ops.h) for every dtype */
typedef void (*where_fn)(const tsi_tensor *ins, tsi_tensor *out);
#define DEF_WHERE(E, T, S, ...)                                                           \
  static void where_##S(const tsi_tensor *ins, tsi_tensor *out) {                         \
    const uint8_t *C = ins[0].data;                                                       \
    const T *A = ins[1].data, *B = ins[2].data;                                           \
    T *restrict O = out->data;                                                            \
    if (out->numel == 0) return;                                                          \
    if (ins[0].numel == out->numel && ins[1].numel == out->numel &&                       \
        ins[2].numel == out->numel) {                                                     \
      for (int64_t i = 0; i < out->numel; i++) O[i] = C[i] ? A[i] : B[i];                 \
      return;                                                                             \
    }                                                                                     \
    int nd = out->ndim;                                                                   \
    int64_t sc[TSI_MAXDIM] = {0}, sa[TSI_MAXDIM] = {0}, sb[TSI_MAXDIM] = {0};             \
    int64_t idx[TSI_MAXDIM] = {0};                                                        \
    bstrides(&ins[0], out, sc);                                                           \
    bstrides(&ins[1], out, sa);                                                           \
    bstrides(&ins[2], out, sb);                                                           \
    int64_t n = nd ? out->shape[nd - 1] : 1;                                              \
    int64_t ic = nd ? sc[nd - 1] : 0, ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0; \
    int64_t oc = 0, oa = 0, ob = 0;                                                       \
    for (int64_t oo = 0; oo < out->numel; oo += n) {                                      \
      for (int64_t i = 0; i < n; i++)                                                     \
        O[oo + i] = C[oc + i * ic] ? A[oa + i * ia] : B[ob + i * ib];                     \
      for (int d = nd - 2; d >= 0; d--) {                                                 \
        oc += sc[d], oa += sa[d], ob += sb[d];                                            \
        if (++idx[d] < out->shape[d]) break;                                              \
        oc -= sc[d] * out->shape[d], oa -= sa[d] * out->shape[d];                         \
        ob -= sb[d] * out->shape[d];                                                      \
        idx[d] = 0;                                                                       \
      }                                                                                   \
    }                                                                                     \
  }
TSI_DTYPES(DEF_WHERE)
static const tsi_kernels k_where = TSI_KERNELS_ALL(where);

static int run_where(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  where_fn f = (where_fn)tsi_kernel(n, n->op->impl, out->dtype, e);
  if (!f) return e->status;
  f(ins, out);
  return TSI_OK;
}

#define BINARY(NAME, K) \
  {NAME, 2, 2, TSI_OP_ELEMENTWISE, infer_binary, run_binary, &K, block_binary}
#define COMPARE(NAME, K) {NAME, 2, 2, TSI_OP_ELEMENTWISE, infer_binary, run_binary, &K, NULL}
#define UNARY(NAME, K) {NAME, 1, 1, TSI_OP_ELEMENTWISE, infer_unary, run_unary, &K, block_unary}

const tsi_opdef tsi_ops_arith[] = {
    BINARY("add", k_add),
    BINARY("subtract", k_sub),
    BINARY("multiply", k_mul),
    BINARY("divide", k_div),
    BINARY("pow", k_pow),
    BINARY("maximum", k_max),
    BINARY("minimum", k_min),
    BINARY("squared_difference", k_sqd),
    COMPARE("equal", k_eq),
    COMPARE("not_equal", k_ne),
    COMPARE("less", k_lt),
    COMPARE("less_equal", k_le),
    COMPARE("greater", k_gt),
    COMPARE("greater_equal", k_ge),
    {"where", 3, 3, TSI_OP_ELEMENTWISE, infer_where, run_where, &k_where, NULL},
    UNARY("negative", k_neg),
    UNARY("abs", k_abs),
    UNARY("sign", k_sign),
    UNARY("square", k_square),
    UNARY("exp", k_exp),
    UNARY("log", k_log),
    UNARY("log1p", k_log1p),
    UNARY("sqrt", k_sqrt),
    UNARY("rsqrt", k_rsqrt),
    UNARY("reciprocal", k_recip),
    UNARY("sin", k_sin),
    UNARY("cos", k_cos),
    UNARY("tanh", k_tanh),
    UNARY("sigmoid", k_sigmoid),
    UNARY("relu", k_relu),
    UNARY("leaky_relu", k_lrelu),
    UNARY("elu", k_elu),
    UNARY("softplus", k_softplus),
    UNARY("gelu", k_gelu),
    UNARY("softsign", k_softsign),
    /* issue 15 (ONNX import) */
    BINARY("floormod", k_floormod),
    BINARY("truncatemod", k_truncatemod),
    BINARY("logical_and", k_land),
    BINARY("logical_or", k_lor),
    BINARY("logical_xor", k_lxor),
    BINARY("bitwise_and", k_band),
    BINARY("bitwise_or", k_bor),
    BINARY("bitwise_xor", k_bxor),
    BINARY("left_shift", k_shl),
    BINARY("right_shift", k_shr),
    BINARY("prelu", k_prelu),
    UNARY("erf", k_erf),
    UNARY("floor", k_floor),
    UNARY("ceil", k_ceil),
    UNARY("round", k_round),
    UNARY("acos", k_acos),
    UNARY("asin", k_asin),
    UNARY("atan", k_atan),
    UNARY("cosh", k_cosh),
    UNARY("sinh", k_sinh),
    UNARY("tan", k_tan),
    UNARY("acosh", k_acosh),
    UNARY("asinh", k_asinh),
    UNARY("atanh", k_atanh),
    UNARY("selu", k_selu),
    UNARY("celu", k_celu),
    UNARY("hard_sigmoid", k_hard_sigmoid),
    UNARY("hard_swish", k_hard_swish),
    UNARY("shrink", k_shrink),
    UNARY("thresholded_relu", k_thresholded_relu),
    UNARY("bitwise_invert", k_invert),
    UNARY("logical_not", k_lnot),
    {"is_nan", 1, 1, 0, infer_test, run_test, &k_isnan, NULL},
    {"is_inf", 1, 1, 0, infer_test, run_test, &k_isinf, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL, NULL},
};
