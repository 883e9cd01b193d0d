/* Helpers shared by the op families (ops_*.c): the run context, inference
 * helpers and the broadcasting walker used by element-wise kernels. */
#ifndef TS_OPS_H
#define TS_OPS_H

#include <stdio.h>

#include "core.h"

/* What a kernel may use while a plan runs. */
struct tsi_runctx {
  tsi_alloc alloc;
  tsi_graph *g;
  tsi_rng *rng;     /* the state's generator (dropout) */
  int training;     /* dropout active */
  int nthreads;
  struct tsi_pool *pool; /* the state's workers (parallel.h) */
  int profile;      /* time every step */
  struct tsi_blas *blas; /* the state's OpenBLAS entry points, loaded on first use */
  /* Custom ops: the binding computes the value into a temporary view. */
  int (*custom)(void *ud, const tsi_node *n, const tsi_tensor *ins, int nin,
                tsi_tensor *result, tsi_err *e);
  void *custom_ud;
  /* Gives out (shape and dtype set) a buffer, for ops whose output shape is
   * only known while running (TSI_OP_DYNAMIC). */
  int (*alloc_out)(tsi_runctx *ctx, tsi_tensor *out, tsi_err *e);
  void *alloc_out_ud; /* the running plan step alloc_out serves */
  /* The running plan's work area of at least n bytes (kept between runs,
   * grown as needed, freed with the plan); NULL outside a plan. Kernels use
   * tsi_work_begin/tsi_work_end, which fall back to a fresh block. */
  void *(*work)(tsi_runctx *ctx, size_t n, tsi_err *e);
};

/* n bytes of scratch for the running kernel (conv's columns): the plan's
 * work area, or outside a plan a new block, given back by tsi_work_end
 * (*fresh says which). NULL with e set when out of memory. The area is the
 * kernel's until it returns: steps run one at a time. */
void *tsi_work_begin(tsi_runctx *ctx, size_t n, void **fresh, tsi_err *e);
void tsi_work_end(tsi_runctx *ctx, void *fresh);

/* Op families; each table ends with an entry whose name is NULL. */
extern const tsi_opdef tsi_ops_source[];
extern const tsi_opdef tsi_ops_arith[];
extern const tsi_opdef tsi_ops_linalg[];
extern const tsi_opdef tsi_ops_reduce[];
extern const tsi_opdef tsi_ops_shape[];
extern const tsi_opdef tsi_ops_nn[];
extern const tsi_opdef tsi_ops_grad[];  /* helpers of the gradients */
extern const tsi_opdef tsi_ops_optim[]; /* group, optimizer steps */
/* Every family, in lookup order; ends with NULL. */
extern const tsi_opdef *const tsi_op_families[];

/* Kernels: every family picks its kernel by dtype the same way, from a
 * tsi_kernels table: one entry per dtype (indexed by ts_dtype), NULL where
 * the op has none. An op's impl starts with its table (n->op->impl is then a
 * const tsi_kernels *). Kernels are named NAME_<dtype name> (add_float32,
 * add_float64, add_int64, max_uint8) and stamped by macros taking core.h's
 * X-macro arguments (E, T, S, ...): TSI_FLOAT_DTYPES(DEF_X, NAME) defines
 * NAME_float32 and NAME_float64. The TSI_KERNELS_* initialisers collect
 * NAME_<dtype> for the float dtypes, those and int64, or every dtype. */
typedef void (*tsi_kfn)(void); /* any kernel: cast back to its family's type */
typedef struct tsi_kernels {
  tsi_kfn k[TS_NDTYPES];
} tsi_kernels;
#define TSI_KENTRY_(E, T, S, NAME) [E] = (tsi_kfn)NAME##_##S,
#define TSI_KERNELS_FLOAT(NAME) {{TSI_FLOAT_DTYPES(TSI_KENTRY_, NAME)}}
#define TSI_KERNELS_NUMERIC(NAME) {{TSI_NUMERIC_DTYPES(TSI_KENTRY_, NAME)}}
#define TSI_KERNELS_ALL(NAME) {{TSI_DTYPES(TSI_KENTRY_, NAME)}}

/* The kernel of tab for dtype, or NULL with an error naming the op and the
 * dtype (with a hint to cast where tab has only float kernels). */
tsi_kfn tsi_kernel(const tsi_node *n, const tsi_kernels *tab, int dtype, tsi_err *e);

/* "op 'name'" for messages. */
const char *tsi_opname(const tsi_node *n, char *buf, size_t len);

/* The inputs' dtypes must agree (float32 and float64 never mix). */
int tsi_same_dtype(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_err *e);
/* Checks the dtype is one of the mask's bits (1 << TS_FLOAT32 | ...). */
int tsi_check_dtype(const tsi_node *n, int dtype, unsigned mask, tsi_err *e);
#define TSI_FLOATS ((1u << TS_FLOAT32) | (1u << TS_FLOAT64))
#define TSI_NUMERIC (TSI_FLOATS | (1u << TS_INT64))
#define TSI_ALL (TSI_NUMERIC | (1u << TS_UINT8))

/* NumPy broadcasting of two shapes (unknown dims allowed) into out. */
int tsi_broadcast_infer(const tsi_node *n, const tsi_tensor *a, const tsi_tensor *b,
                        tsi_tensor *out, tsi_err *e);

/* Element strides of a and b against out's shape, with adjacent dims merged
 * where possible so the innermost loop is as long as can be. */
typedef struct tsi_bcast {
  int ndim;
  int64_t shape[TSI_MAXDIM];
  int64_t sa[TSI_MAXDIM], sb[TSI_MAXDIM];
} tsi_bcast;
void tsi_bcast_make(const tsi_tensor *a, const tsi_tensor *b, const tsi_tensor *out,
                    tsi_bcast *p);

/* Walks the outer dims of a broadcast; for each innermost row calls
 * BODY with: n (row length), ia/ib (0 or 1: row strides), oa/ob/oo (offsets). */
#define TSI_BCAST_WALK(P, ...)                                             \
  do {                                                                     \
    const tsi_bcast *p_ = (P);                                             \
    int nd_ = p_->ndim;                                                    \
    int64_t n = nd_ ? p_->shape[nd_ - 1] : 1;                              \
    int64_t ia = nd_ ? p_->sa[nd_ - 1] : 0, ib = nd_ ? p_->sb[nd_ - 1] : 0; \
    int64_t idx_[TSI_MAXDIM] = {0};                                        \
    int64_t oa = 0, ob = 0, oo = 0, rows_ = 1;                             \
    for (int d_ = 0; d_ + 1 < nd_; d_++) rows_ *= p_->shape[d_];           \
    if (n == 0) rows_ = 0;                                                 \
    for (int64_t r_ = 0; r_ < rows_; r_++) {                               \
      __VA_ARGS__;                                                         \
      oo += n;                                                             \
      for (int d_ = nd_ - 2; d_ >= 0; d_--) {                              \
        oa += p_->sa[d_];                                                  \
        ob += p_->sb[d_];                                                  \
        if (++idx_[d_] < p_->shape[d_]) break;                             \
        oa -= p_->sa[d_] * p_->shape[d_];                                  \
        ob -= p_->sb[d_] * p_->shape[d_];                                  \
        idx_[d_] = 0;                                                      \
      }                                                                    \
    }                                                                      \
  } while (0)

/* A 0-based index or axis v as the user wrote it (v + 1, or v when
 * negative), without overflow at INT64_MAX; into buf (24 bytes suffice). */
static inline const char *tsi_lua_pos(int64_t v, char *buf, size_t n) {
  if (v >= 0) snprintf(buf, n, "%llu", (unsigned long long)v + 1);
  else snprintf(buf, n, "%lld", (long long)v);
  return buf;
}

/* The output shape of n: tsi_set_shape with the op named in errors. */
int tsi_out_shape(const tsi_node *n, tsi_tensor *out, int nd, const int64_t *shape, tsi_err *e);

/* Message helpers for a function with `char nb[128]` (and shape buffers). */
#define OPN(n) tsi_opname(n, nb, sizeof nb)
#define SHP(t, b) tsi_shape_str(t, b, sizeof b)

/* Inference with an input of unknown rank: out has dtype and unknown rank. */
static inline int tsi_unknown_rank(tsi_tensor *out, int dtype) {
  out->dtype = dtype;
  out->ndim = -1;
  out->numel = -1;
  return TSI_OK;
}

/* Product of shape[lo..hi). */
static inline int64_t tsi_prod(const int64_t *shape, int lo, int hi) {
  int64_t p = 1;
  for (int i = lo; i < hi; i++) p *= shape[i];
  return p;
}

/* Sums (mean: averages) x over the axes marked in red (x->ndim flags) into
 * out, which holds x's kept elements in order (any shape of that size): the
 * kernels of reduce_sum/reduce_mean, threads included (ops_reduce.c). A dtype
 * they do not support is an error naming n. */
int tsi_reduce_sum_into(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *x,
                        const unsigned char *red, int mean, tsi_tensor *out, tsi_err *e);

/* Normalises a 1-based Lua axis (negative from the end) already turned
 * 0-based by the binding: axis in [-ndim, ndim) to [0, ndim). */
int tsi_norm_axis(const tsi_node *n, int64_t axis, int ndim, int64_t *out, tsi_err *e);

#endif
