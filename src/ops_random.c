/* Random ops (TensorFlow's tf.random_normal, tf.random_uniform,
 * tf.truncated_normal): no inputs, a new draw at every run.
 *
 *   random_normal      v1 = shape, dtype, f[0] = mean, f[1] = stddev, seed
 *   random_uniform     v1 = shape, dtype, f[0] = minval, f[1] = maxval, seed
 *   truncated_normal   as random_normal; draws beyond 2 stddev are drawn again
 *
 * Like dropout, each run seeds its own generator with the node's seed mixed
 * with one draw of the state's generator: new values every run, the same
 * sequence for the same ts.seed. */
#include <string.h>

#include "ops.h"

enum { RND_NORMAL, RND_UNIFORM, RND_TRUNCATED };

typedef struct {
  tsi_kernels k; /* first, as every family's impl */
  int kind;
} random_impl;

static int infer_random(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                        tsi_err *e) {
  char nb[128];
  const tsi_attrs *at = n->attrs;
  (void)ins;
  (void)nin;
  if (!at || at->n1 < 0) return tsi_fail(e, TSI_EARG, "%s: a shape is required", OPN(n));
  if (at->dtype >= TS_NDTYPES)
    return tsi_fail(e, TSI_EARG, "%s: unknown dtype %d", OPN(n), at->dtype);
  int dtype = at->dtype < 0 ? TS_FLOAT64 : at->dtype;
  if (!tsi_kernel(n, n->op->impl, dtype, e)) return e->status;
  for (int i = 0; i < at->n1; i++)
    if (at->v1[i] < 0)
      return tsi_fail(e, TSI_EARG, "%s: dimension %d of the shape is %lld (sizes are known and >= 0)",
                      OPN(n), i + 1, (long long)at->v1[i]);
  const random_impl *im = n->op->impl;
  if (im->kind != RND_UNIFORM && !(at->f[1] >= 0))
    return tsi_fail(e, TSI_EARG, "%s: stddev must be >= 0, got %g", OPN(n), at->f[1]);
  if (im->kind == RND_UNIFORM && !(at->f[0] <= at->f[1]))
    return tsi_fail(e, TSI_EARG, "%s: minval %g is above maxval %g", OPN(n), at->f[0], at->f[1]);
  out->dtype = dtype;
  return tsi_out_shape(n, out, at->n1, at->v1, e);
}

/* random_<S>: n values of kind k from r, scaled by a and b */
typedef void (*random_fn)(tsi_rng *r, void *O, int64_t n, int k, double a, double b);
#define DEF_RANDOM(E, T, S, ...)                                                           \
  static void random_##S(tsi_rng *r, void *Ov, int64_t n, int k, double a, double b) {     \
    T *O = Ov;                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                      \
      double z;                                                                            \
      if (k == RND_UNIFORM) {                                                              \
        z = a + (b - a) * tsi_rng_uniform(r);                                              \
      } else {                                                                             \
        z = tsi_rng_normal(r);                                                             \
        while (k == RND_TRUNCATED && (z > 2 || z < -2)) z = tsi_rng_normal(r);             \
        z = a + b * z;                                                                     \
      }                                                                                    \
      O[i] = (T)z;                                                                         \
    }                                                                                      \
  }
TSI_FLOAT_DTYPES(DEF_RANDOM)

static const random_impl k_normal = {TSI_KERNELS_FLOAT(random), RND_NORMAL};
static const random_impl k_uniform = {TSI_KERNELS_FLOAT(random), RND_UNIFORM};
static const random_impl k_truncated = {TSI_KERNELS_FLOAT(random), RND_TRUNCATED};

static int run_random(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  const tsi_attrs *at = n->attrs;
  const random_impl *im = n->op->impl;
  (void)ins;
  (void)nin;
  random_fn f = (random_fn)tsi_kernel(n, &im->k, out->dtype, e);
  if (!f) return e->status;
  if (out->numel <= 0) return TSI_OK;
  tsi_rng r;
  tsi_rng_seed(&r, at->seed ^ (ctx->rng ? tsi_rng_next(ctx->rng) : 0));
  f(&r, out->data, out->numel, im->kind, at->f[0], at->f[1]);
  return TSI_OK;
}

#define OP(NAME, IMPL) {NAME, 0, 0, 0, infer_random, run_random, IMPL}

const tsi_opdef tsi_ops_random[] = {
    OP("random_normal", &k_normal),
    OP("random_uniform", &k_uniform),
    OP("truncated_normal", &k_truncated),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
