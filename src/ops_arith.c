/* Element-wise arithmetic: binary ops with NumPy broadcasting and unary maps.
 * Each kernel body is written once; the macros stamp it out per dtype. */
#include <math.h>
#include <string.h>

#include "ops.h"

typedef void (*binary_fn)(const tsi_bcast *p, const void *a, const void *b, void *o);
typedef void (*unary_fn)(int64_t n, const void *a, void *o, const tsi_attrs *at);

/* Binary kernel for element type T, output type TO: contiguous rows with
 * stride 1 or 0 on each side, so the compiler vectorises each case. */
#define DEF_BINARY(NAME, T, TO, EXPR)                                              \
  static void NAME(const tsi_bcast *p, const void *av, const void *bv, void *ov) { \
    const T *restrict A = av;                                                      \
    const T *restrict B = bv;                                                      \
    TO *restrict O = ov;                                                           \
    TSI_BCAST_WALK(p, {                                                            \
      const T *restrict pa = A + oa;                                               \
      const T *restrict pb = B + ob;                                               \
      TO *restrict po = O + oo;                                                    \
      if (ia && ib)                                                                \
        for (int64_t i = 0; i < n; i++) { T x = pa[i], y = pb[i]; po[i] = (TO)(EXPR); } \
      else if (ia) {                                                               \
        T y = pb[0];                                                               \
        for (int64_t i = 0; i < n; i++) { T x = pa[i]; po[i] = (TO)(EXPR); }      \
      } else if (ib) {                                                             \
        T x = pa[0];                                                               \
        for (int64_t i = 0; i < n; i++) { T y = pb[i]; po[i] = (TO)(EXPR); }      \
      } else {                                                                     \
        T x = pa[0], y = pb[0];                                                    \
        for (int64_t i = 0; i < n; i++) po[i] = (TO)(EXPR);                        \
      }                                                                            \
    });                                                                            \
  }

/* Stamps an op's kernels: float ones always, integer ones where asked. */
#define BIN_FLOAT(NAME, EXPR)                   \
  DEF_BINARY(NAME##_f32, float, float, EXPR)    \
  DEF_BINARY(NAME##_f64, double, double, EXPR)
#define BIN_INT(NAME, EXPR) DEF_BINARY(NAME##_i64, int64_t, int64_t, EXPR)
#define BIN_CMP(NAME, EXPR)                            \
  DEF_BINARY(NAME##_f32, float, uint8_t, EXPR)         \
  DEF_BINARY(NAME##_f64, double, uint8_t, EXPR)        \
  DEF_BINARY(NAME##_i64, int64_t, uint8_t, EXPR)       \
  DEF_BINARY(NAME##_u8, uint8_t, uint8_t, EXPR)

BIN_FLOAT(add, x + y)
BIN_INT(add, (int64_t)((uint64_t)x + (uint64_t)y))
BIN_FLOAT(sub, x - y)
BIN_INT(sub, (int64_t)((uint64_t)x - (uint64_t)y))
BIN_FLOAT(mul, x * y)
BIN_INT(mul, (int64_t)((uint64_t)x * (uint64_t)y))
BIN_FLOAT(div, x / y)
DEF_BINARY(pow_f32, float, float, powf(x, y))
DEF_BINARY(pow_f64, double, double, pow(x, y))

/* kernels indexed by dtype; NULL where the dtype is not supported */
typedef struct binary_kernels {
  binary_fn k[TS_NDTYPES];
  int cmp; /* output uint8 */
} binary_kernels;

static const binary_kernels k_add = {{add_f32, add_f64, add_i64, NULL}, 0};
static const binary_kernels k_sub = {{sub_f32, sub_f64, sub_i64, NULL}, 0};
static const binary_kernels k_mul = {{mul_f32, mul_f64, mul_i64, NULL}, 0};
static const binary_kernels k_div = {{div_f32, div_f64, NULL, NULL}, 0};
static const binary_kernels k_pow = {{pow_f32, pow_f64, NULL, NULL}, 0};


static unsigned mask_of(const binary_kernels *k) {
  unsigned m = 0;
  for (int d = 0; d < TS_NDTYPES; d++)
    if (k->k[d]) m |= 1u << d;
  return m;
}

static int infer_binary(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  (void)nin;
  const binary_kernels *k = n->op->impl;
  int st;
  if ((st = tsi_same_dtype(n, ins, 2, e))) return st;
  if ((st = tsi_check_dtype(n, ins[0].dtype, mask_of(k), e))) return st;
  if ((st = tsi_broadcast_infer(n, &ins[0], &ins[1], out, e))) return st;
  out->dtype = k->cmp ? TS_UINT8 : ins[0].dtype;
  return TSI_OK;
}

static int run_binary(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)nin, (void)e;
  const binary_kernels *k = n->op->impl;
  tsi_bcast p;
  tsi_bcast_make(&ins[0], &ins[1], out, &p);
  k->k[ins[0].dtype](&p, ins[0].data, ins[1].data, out->data);
  return TSI_OK;
}

/* ------------------------------------------------------------- unary */

#define DEF_UNARY(NAME, T, EXPR)                                                   \
  static void NAME(int64_t n, const void *av, void *ov, const tsi_attrs *at) {     \
    const T *restrict A = av;                                                      \
    T *restrict O = ov;                                                            \
    (void)at;                                                                      \
    for (int64_t i = 0; i < n; i++) { T x = A[i]; O[i] = (EXPR); }                 \
  }

DEF_UNARY(neg_f32, float, -x)
DEF_UNARY(neg_f64, double, -x)
DEF_UNARY(neg_i64, int64_t, (int64_t)(0 - (uint64_t)x))

typedef struct unary_kernels {
  unary_fn k[TS_NDTYPES];
} unary_kernels;

static const unary_kernels k_neg = {{neg_f32, neg_f64, neg_i64, NULL}};


static int infer_unary(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  (void)nin;
  const unary_kernels *k = n->op->impl;
  unsigned m = 0;
  for (int d = 0; d < TS_NDTYPES; d++)
    if (k->k[d]) m |= 1u << d;
  int st = tsi_check_dtype(n, ins[0].dtype, m, e);
  if (st) return st;
  *out = ins[0];
  out->data = NULL;
  return TSI_OK;
}

static int run_unary(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *out, tsi_err *e) {
  (void)ctx, (void)nin, (void)e;
  ((const unary_kernels *)n->op->impl)->k[ins[0].dtype](ins[0].numel, ins[0].data, out->data, n->attrs);
  return TSI_OK;
}

#define BINARY(NAME, K) {NAME, 2, 2, TSI_OP_ELEMENTWISE, infer_binary, run_binary, &K}
#define UNARY(NAME, K) {NAME, 1, 1, TSI_OP_ELEMENTWISE, infer_unary, run_unary, &K}

const tsi_opdef tsi_ops_arith[] = {
    BINARY("add", k_add),
    BINARY("subtract", k_sub),
    BINARY("multiply", k_mul),
    BINARY("divide", k_div),
    BINARY("pow", k_pow),
    UNARY("negative", k_neg),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
