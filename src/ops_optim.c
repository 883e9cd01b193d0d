/* Optimizer steps and group: stateful ops the plan runs after every pure node.
 *
 *   group(...)                         nothing: runs its inputs
 *   apply_*(var, slots..., grad, lr)   in-place optimizer steps; var and slots
 *                                      are variables, updated in the graph's
 *                                      own value.
 */
#include <math.h>
#include <stdio.h>

#include "ops.h"

/* ------------------------------------------------------------ group */

static int infer_none(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  out->dtype = -1;
  out->ndim = 0;
  out->numel = 0;
  return TSI_OK;
}

static int run_none(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  return TSI_OK;
}

/* ------------------------------------------------------------ optimizers */

/* Each optimizer: nvars variables (var, then its slots), then grad, then lr.
 * Its kernels update n elements of the variables v[] from g. */
typedef void (*opt_fn)(int64_t n, void **v, const void *g, double lr, const tsi_attrs *at,
                       double t);
typedef struct opt_impl {
  tsi_kernels k; /* opt_fn */
  int nvars;
  int has_step; /* last variable is a float64 scalar step count */
} opt_impl;

static int infer_opt(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                     tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const opt_impl *k = n->op->impl;
  int nv = k->nvars;
  if (!tsi_kernel(n, &k->k, ins[0].dtype, e)) return e->status;
  const tsi_tensor *g = &ins[nv];
  for (int i = 1; i <= nv; i++) {
    if (k->has_step && i == nv - 1) continue;
    const tsi_tensor *t = i < nv ? &ins[i] : g;
    if (t->dtype != ins[0].dtype)
      return tsi_fail(e, TSI_EARG, "%s: input %d has dtype %s, the variable %s", OPN(n), i + 1,
                      tsi_dtype_name(t->dtype), tsi_dtype_name(ins[0].dtype));
    int same = t->ndim < 0 || ins[0].ndim < 0 || t->ndim == ins[0].ndim;
    for (int d = 0; same && t->ndim >= 0 && ins[0].ndim >= 0 && d < t->ndim; d++)
      same = t->shape[d] < 0 || ins[0].shape[d] < 0 || t->shape[d] == ins[0].shape[d];
    if (!same)
      return tsi_fail(e, TSI_EARG, "%s: input %d has shape %s, the variable %s", OPN(n), i + 1,
                      tsi_shape_str(t, sa, sizeof sa), tsi_shape_str(&ins[0], sb, sizeof sb));
  }
  if (ins[nin - 1].numel > 1)
    return tsi_fail(e, TSI_EARG, "%s: the learning rate must be a scalar, got shape %s", OPN(n),
                    tsi_shape_str(&ins[nin - 1], sa, sizeof sa));
  return infer_none(n, ins, nin, out, e);
}

static int run_opt(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                   tsi_tensor *out, tsi_err *e) {
  char nb[128], sa[96], sb[96];
  const opt_impl *k = n->op->impl;
  int nv = k->nvars;
  opt_fn f = (opt_fn)tsi_kernel(n, &k->k, ins[0].dtype, e);
  if (!f) return e->status;
  void *vp[4];
  tsi_tensor *vars[4];
  for (int i = 0; i < nv; i++) {
    tsi_node *vn = ctx->g ? ctx->g->nodes[n->inputs[i]] : NULL;
    if (!vn || vn->op != &tsi_op_variable)
      return tsi_fail(e, TSI_EARG, "%s: input %d must be a variable", OPN(n), i + 1);
    vars[i] = vn->value;
    vp[i] = vn->value->data;
    if (i < nv - (k->has_step ? 1 : 0) && !tsi_same_shape(vars[i], &ins[nv]))
      return tsi_fail(e, TSI_EARG, "%s: gradient of shape %s for '%s' of shape %s", OPN(n),
                      tsi_shape_str(&ins[nv], sa, sizeof sa), vn->name,
                      tsi_shape_str(vars[i], sb, sizeof sb));
  }
  if (ins[nin - 1].numel != 1)
    return tsi_fail(e, TSI_EARG, "%s: the learning rate must be a scalar", OPN(n));
  double lr = tsi_get_f(&ins[nin - 1], 0), t = 0;
  if (k->has_step) {
    tsi_tensor *ts = vars[nv - 1];
    if (ts->numel != 1 || !tsi_is_float(ts->dtype))
      return tsi_fail(e, TSI_EARG, "%s: the step count must be a float scalar", OPN(n));
    t = tsi_get_f(ts, 0) + 1;
    tsi_set_f(ts, 0, t);
  }
  f(ins[nv].numel, vp, ins[nv].data, lr, n->attrs, t);
  return TSI_OK;
}

#define ATTR(i, def) (at ? at->f[i] : (def))

/* Every DEF_ macro below defines NAME_<S> (see ops.h) for T; the variables
 * and the gradient arrive as void pointers (opt_fn). */
#define OPT_ARGS(T)                                                                   \
  T *const *v = (T *const *)vv;                                                       \
  const T *g = gv /* may be a variable itself */
/* var -= lr * g */
#define DEF_SGD(S, T)                                                                 \
  static void sgd_##S(int64_t n, void **vv, const void *gv, double lr,                \
                      const tsi_attrs *at, double t) {                                \
    OPT_ARGS(T);                                                                      \
    T *restrict w = v[0];                                                             \
    T a = (T)lr;                                                                      \
    for (int64_t i = 0; i < n; i++) w[i] -= a * g[i];                                 \
  }
/* accum = m accum + g; var -= lr accum, or with Nesterov lr (g + m accum) */
#define DEF_MOMENTUM(S, T)                                                            \
  static void momentum_##S(int64_t n, void **vv, const void *gv, double lr,           \
                      const tsi_attrs *at, double t) {                                \
    OPT_ARGS(T);                                                                      \
    T *restrict w = v[0], *restrict acc = v[1];                                       \
    T a = (T)lr, m = (T)ATTR(0, 0);                                                   \
    int nesterov = at ? (int)at->i1 : 0;                                              \
    for (int64_t i = 0; i < n; i++) {                                                 \
      acc[i] = acc[i] * m + g[i];                                                     \
      if (nesterov) w[i] -= g[i] * a + acc[i] * m * a;                                \
      else w[i] -= a * acc[i];                                                        \
    }                                                                                 \
  }
/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * var -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps) */
#define DEF_ADAM(S, T, SQRT)                                                          \
  static void adam_##S(int64_t n, void **vv, const void *gv, double lr,               \
                      const tsi_attrs *at, double t) {                                \
    OPT_ARGS(T);                                                                      \
    T *restrict w = v[0], *restrict m = v[1], *restrict s = v[2];                     \
    double b1 = ATTR(0, 0.9), b2 = ATTR(1, 0.999);                                    \
    T eps = (T)ATTR(2, 1e-8);                                                         \
    T lrt = (T)(lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)));                        \
    T c1 = (T)(1 - b1), c2 = (T)(1 - b2);                                             \
    for (int64_t i = 0; i < n; i++) {                                                 \
      m[i] += (g[i] - m[i]) * c1;                                                     \
      s[i] += (g[i] * g[i] - s[i]) * c2;                                              \
      w[i] -= lrt * m[i] / (SQRT(s[i]) + eps);                                        \
    }                                                                                 \
  }
/* ms = d ms + (1-d) g^2; mom = mu mom + lr g / sqrt(ms + eps); var -= mom */
#define DEF_RMSPROP(S, T, SQRT)                                                       \
  static void rmsprop_##S(int64_t n, void **vv, const void *gv, double lr,            \
                      const tsi_attrs *at, double t) {                                \
    OPT_ARGS(T);                                                                      \
    T *restrict w = v[0], *restrict ms = v[1], *restrict mom = v[2];                  \
    T d = (T)ATTR(0, 0.9), mu = (T)ATTR(1, 0), eps = (T)ATTR(2, 1e-10), a = (T)lr;    \
    for (int64_t i = 0; i < n; i++) {                                                 \
      ms[i] += (g[i] * g[i] - ms[i]) * (1 - d);                                       \
      mom[i] = mom[i] * mu + a * g[i] / SQRT(ms[i] + eps);                            \
      w[i] -= mom[i];                                                                 \
    }                                                                                 \
  }
/* accum += g^2; var -= lr g / sqrt(accum) */
#define DEF_ADAGRAD(S, T, SQRT)                                                       \
  static void adagrad_##S(int64_t n, void **vv, const void *gv, double lr,            \
                      const tsi_attrs *at, double t) {                                \
    OPT_ARGS(T);                                                                      \
    T *restrict w = v[0], *restrict acc = v[1];                                       \
    T a = (T)lr;                                                                      \
    for (int64_t i = 0; i < n; i++) {                                                 \
      acc[i] += g[i] * g[i];                                                          \
      w[i] -= a * g[i] / SQRT(acc[i]);                                                \
    }                                                                                 \
  }

DEF_SGD(float32, float)
DEF_SGD(float64, double)
DEF_MOMENTUM(float32, float)
DEF_MOMENTUM(float64, double)
DEF_ADAM(float32, float, sqrtf)
DEF_ADAM(float64, double, sqrt)
DEF_RMSPROP(float32, float, sqrtf)
DEF_RMSPROP(float64, double, sqrt)
DEF_ADAGRAD(float32, float, sqrtf)
DEF_ADAGRAD(float64, double, sqrt)

static const opt_impl k_sgd = {TSI_KERNELS_FLOAT(sgd), 1, 0};
static const opt_impl k_momentum = {TSI_KERNELS_FLOAT(momentum), 2, 0};
static const opt_impl k_adam = {TSI_KERNELS_FLOAT(adam), 4, 1};
static const opt_impl k_rmsprop = {TSI_KERNELS_FLOAT(rmsprop), 3, 0};
static const opt_impl k_adagrad = {TSI_KERNELS_FLOAT(adagrad), 2, 0};

#define OPT(NAME, K, NIN) \
  {NAME, NIN, NIN, TSI_OP_STATEFUL | TSI_OP_NOOUTPUT, infer_opt, run_opt, &K}

const tsi_opdef tsi_ops_optim[] = {
    {"group", 0, -1, TSI_OP_STATEFUL | TSI_OP_NOOUTPUT, infer_none, run_none, NULL},
    OPT("apply_gradient_descent", k_sgd, 3),
    OPT("apply_momentum", k_momentum, 4),
    OPT("apply_adam", k_adam, 6),
    OPT("apply_rmsprop", k_rmsprop, 5),
    OPT("apply_adagrad", k_adagrad, 4),
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
