/* Convolution and pooling over 1, 2 or 3 spatial dims (N-d: shorter ones are
 * run as 3-d with leading spatial dims of size 1).
 *
 *   conv(x, w)                        y: x convolved (cross-correlated) with w
 *   conv_backprop_input(dy, w, like)  dx, of like's shape (also conv_transpose)
 *   conv_backprop_filter(x, dy, like) dw, of like's shape
 *   max_pool(x), avg_pool(x)          y
 *   max_pool_grad(x, dy)              dx: dy routed to each window's first maximum
 *   max_pool_grad_grad(x, g)          g read at each window's first maximum (y's shape)
 *   avg_pool_grad(dy, like)           dx, of like's shape
 *
 * Attributes (the Lua wrappers in lua/tensorslow/conv.lua fill them):
 *   conv: v1 = strides ++ dilations, v2 = pads before ++ pads after, i1 = groups
 *   pool: v1 = ksize ++ strides,     v2 = pads before ++ pads after,
 *         i1 = flags: 1 ceil_mode, 2 count_include_pad (avg)
 *   both: f1 = 1 for channels first (NCHW, NCW, NCDHW; filters [out, in/groups,
 *         k...]), 0 for channels last (filters [k..., in/groups, out]);
 *         f2 = 1 for "SAME" padding (TF's: pads from the run-time input size,
 *         the extra one after; v2 ignored), 0 for the explicit pads of v2.
 *
 * The convolutions are im2col (col2im for the input gradient) + sgemm/dgemm
 * (tsi_gemm512 in place of BLAS on a CPU with AVX-512, small K included).
 * Channels last, the batch's rows (output positions) go in cache-sized
 * blocks (COL_BYTES of columns: rows x (kernel position, channel), the
 * filter's row order) through im2col and the gemm, threaded over blocks with
 * single-threaded BLAS; the forward product with K <= SMALL_K is our own
 * (no packing, no separate zeroing pass); depthwise (multiplier 1) has no
 * columns at all (with AVX-512, a position's taps summed in registers). Channels first, one image at a time ([in/groups x kernel,
 * output positions], the filter's column order); depthwise (multiplier 1)
 * plane by plane, split by channels, with no columns either. A 1x1 kernel with unit
 * strides and no padding multiplies the input in place. The column buffer is
 * the plan's work area (tsi_work_begin: kept between runs, counted as an
 * allocation; channels last it is small: about nthreads x COL_BYTES). */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "ops.h"
#include "parallel.h"
#include "vmath.h"

/* Channels last: elements per block of images (1x1 kernels, no columns);
 * bytes of columns per block of rows and the fewest rows in a block. */
#define COL_ELEMS ((int64_t)1 << 21)
#define COL_BYTES ((int64_t)1 << 18)
#define MIN_ROWS 16
/* Channels last, forward: K (kernel positions x channels per group) up to
 * which our own product replaces the gemm. */
#define SMALL_K 64
/* Attribute values (strides, pads, sizes) above this are refused. */
#define ATTR_MAX ((int64_t)1 << 30)

enum { K_CONV, K_BPI, K_BPF, K_MAXPOOL, K_AVGPOOL };

/* The geometry of one convolution or pooling, spatial dims padded to 3. */
typedef struct geo {
  int nsp, cf, same, ceil, incl;
  int64_t N, C, O, G, Cg, Og;
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pa[3];
  int64_t S, P, KS, K; /* input / output positions, kernel positions, KS * Cg */
} geo;

typedef struct shape_args {
  const tsi_tensor *x, *w, *y; /* y: the given output (gradients), or NULL */
} shape_args;

static int is_pool(int kind) { return kind >= K_MAXPOOL; }

/* Output size along one dim; -1 when the input size is unknown. */
static int dim_out(const tsi_node *n, geo *q, int i, const shape_args *a, tsi_err *e) {
  int64_t in = q->in[i], k = q->k[i], s = q->s[i], ek = (k - 1) * q->d[i] + 1;
  if (in < 0) {
    q->out[i] = -1;
    return TSI_OK;
  }
  if (q->same) {
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + ek - in;
    if (total < 0 || out == 0) total = 0;
    q->out[i] = out;
    q->pb[i] = total / 2;
    q->pa[i] = total - total / 2;
    return TSI_OK;
  }
  int64_t span = in + q->pb[i] + q->pa[i] - ek;
  if (span < 0) {
    char nb[128], sx[96], sw[96];
    int dim = i - (3 - q->nsp) + 1;
    if (a->w)
      return tsi_fail(e, TSI_EARG,
                      "%s: the kernel (%lld along spatial dim %d, %lld with dilation) is larger "
                      "than the padded input (%lld): input %s, filter %s",
                      OPN(n), (long long)k, dim, (long long)ek,
                      (long long)(in + q->pb[i] + q->pa[i]), SHP(a->x, sx), SHP(a->w, sw));
    return tsi_fail(e, TSI_EARG,
                    "%s: the window (%lld along spatial dim %d) is larger than the padded "
                    "input (%lld): input %s",
                    OPN(n), (long long)k, dim, (long long)(in + q->pb[i] + q->pa[i]),
                    SHP(a->x, sx));
  }
  int64_t out = (q->ceil ? (span + s - 1) / s : span / s) + 1;
  /* PyTorch's rule: the last window starts inside the input or its front padding. */
  if (q->ceil && (out - 1) * s >= in + q->pb[i]) out--;
  q->out[i] = out;
  return TSI_OK;
}

/* Reads attributes and shapes (x: the input, w: the filter or NULL for
 * pooling, either with unknown dims) into q; errors name the op and shapes. */
static int setup(const tsi_node *n, int kind, const shape_args *a, geo *q, tsi_err *e) {
  char nb[128], sx[96], sw[96];
  const tsi_attrs *at = n->attrs;
  const tsi_tensor *x = a->x, *w = a->w;
  memset(q, 0, sizeof *q);
  int nd = x->ndim;
  if (nd < 3 || nd > 5)
    return tsi_fail(e, TSI_EARG,
                    "%s: the input must have rank 3, 4 or 5 (batch, 1 to 3 spatial dims, "
                    "channels), got %s",
                    OPN(n), SHP(x, sx));
  int nsp = q->nsp = nd - 2;
  if (!at) return tsi_fail(e, TSI_EARG, "%s: attributes are missing", OPN(n));
  if (at->f[0] != 0 && at->f[0] != 1)
    return tsi_fail(e, TSI_EARG, "%s: unknown data_format code %g (f1: 0 channels last, 1 first)",
                    OPN(n), at->f[0]);
  if (at->f[1] != 0 && at->f[1] != 1)
    return tsi_fail(e, TSI_EARG, "%s: unknown padding code %g (f2: 0 explicit, 1 SAME)", OPN(n),
                    at->f[1]);
  q->cf = at->f[0] == 1;
  q->same = at->f[1] == 1;
  if (at->n1 != 2 * nsp)
    return tsi_fail(e, TSI_EARG, "%s: attribute v1 must hold %d %s, got %d entries for input %s",
                    OPN(n), 2 * nsp,
                    is_pool(kind) ? "window sizes and strides" : "strides and dilations", at->n1,
                    SHP(x, sx));
  if (!q->same && at->n2 != 2 * nsp)
    return tsi_fail(e, TSI_EARG,
                    "%s: attribute v2 must hold %d pads (before, then after), got %d for input %s",
                    OPN(n), 2 * nsp, at->n2, SHP(x, sx));
  if (is_pool(kind)) {
    if (at->i1 < 0 || at->i1 > 3)
      return tsi_fail(e, TSI_EARG, "%s: flags %lld out of range", OPN(n), (long long)at->i1);
    q->ceil = (at->i1 & 1) != 0;
    q->incl = (at->i1 & 2) != 0;
  }
  for (int i = 0; i < 3; i++) q->k[i] = q->s[i] = q->d[i] = q->in[i] = q->out[i] = 1;
  for (int j = 0; j < nsp; j++) {
    int i = 3 - nsp + j;
    int64_t v0 = at->v1[j], v1 = at->v1[nsp + j];
    const char *n0 = is_pool(kind) ? "window size" : "stride";
    const char *n1 = is_pool(kind) ? "stride" : "dilation";
    if (v0 < 1 || v0 > ATTR_MAX)
      return tsi_fail(e, TSI_EARG, "%s: %s %lld along spatial dim %d must be in 1..2^30 (input %s)",
                      OPN(n), n0, (long long)v0, j + 1, SHP(x, sx));
    if (v1 < 1 || v1 > ATTR_MAX)
      return tsi_fail(e, TSI_EARG, "%s: %s %lld along spatial dim %d must be in 1..2^30 (input %s)",
                      OPN(n), n1, (long long)v1, j + 1, SHP(x, sx));
    if (is_pool(kind)) q->k[i] = v0, q->s[i] = v1;
    else q->s[i] = v0, q->d[i] = v1;
    if (!q->same) {
      q->pb[i] = at->v2[j], q->pa[i] = at->v2[nsp + j];
      if (q->pb[i] < 0 || q->pb[i] > ATTR_MAX || q->pa[i] < 0 || q->pa[i] > ATTR_MAX)
        return tsi_fail(e, TSI_EARG, "%s: pads %lld, %lld along spatial dim %d must be in 0..2^30",
                        OPN(n), (long long)q->pb[i], (long long)q->pa[i], j + 1);
    }
  }
  int sp0 = q->cf ? 2 : 1; /* first spatial dim of x */
  q->N = x->shape[0];
  q->C = x->shape[q->cf ? 1 : nd - 1];
  for (int j = 0; j < nsp; j++) q->in[3 - nsp + j] = x->shape[sp0 + j];
  if (is_pool(kind)) {
    q->G = 1, q->O = q->C, q->Cg = q->C, q->Og = q->C;
  } else {
    if (at->i1 < 1 || at->i1 > ATTR_MAX)
      return tsi_fail(e, TSI_EARG, "%s: groups must be a positive integer, got %lld (input %s)",
                      OPN(n), (long long)at->i1, SHP(x, sx));
    q->G = at->i1;
    if (w->ndim != nd)
      return tsi_fail(e, TSI_EARG,
                      "%s: the filter must have rank %d for input %s (%s), got filter %s", OPN(n),
                      nd,
                      SHP(x, sx),
                      q->cf ? "[out, in/groups, k...]" : "[k..., in/groups, out]", SHP(w, sw));
    int wk0 = q->cf ? 2 : 0;
    for (int j = 0; j < nsp; j++) q->k[3 - nsp + j] = w->shape[wk0 + j];
    q->Cg = w->shape[q->cf ? 1 : nd - 2];
    q->O = w->shape[q->cf ? 0 : nd - 1];
    if (q->C >= 0 && q->C % q->G != 0)
      return tsi_fail(e, TSI_EARG, "%s: input channels %lld are not divisible by groups %lld: input %s",
                      OPN(n), (long long)q->C, (long long)q->G, SHP(x, sx));
    if (q->O >= 0 && q->O % q->G != 0)
      return tsi_fail(e, TSI_EARG,
                      "%s: output channels %lld are not divisible by groups %lld: filter %s",
                      OPN(n), (long long)q->O, (long long)q->G, SHP(w, sw));
    if (q->C >= 0 && q->Cg >= 0 && q->Cg * q->G != q->C)
      return tsi_fail(e, TSI_EARG,
                      "%s: channel mismatch: input %s has %lld channels, filter %s expects %lld "
                      "(in/groups %lld, groups %lld)",
                      OPN(n), SHP(x, sx), (long long)q->C, SHP(w, sw),
                      (long long)(q->Cg * q->G), (long long)q->Cg, (long long)q->G);
    q->Og = q->O >= 0 ? q->O / q->G : -1;
    for (int j = 0; j < nsp; j++)
      if (q->k[3 - nsp + j] == 0)
        return tsi_fail(e, TSI_EARG, "%s: the filter %s has an empty spatial dim", OPN(n),
                        SHP(w, sw));
  }
  int st;
  for (int i = 3 - nsp; i < 3; i++) {
    if (q->k[i] < 0) { /* unknown kernel size */
      q->out[i] = -1;
      continue;
    }
    if ((st = dim_out(n, q, i, a, e))) return st;
  }
  q->S = q->in[0] * q->in[1] * q->in[2];
  q->P = q->out[0] * q->out[1] * q->out[2];
  q->KS = q->k[0] * q->k[1] * q->k[2];
  q->K = q->KS * q->Cg;
  return TSI_OK;
}

/* The output shape of the forward op from q. */
static void fwd_shape(const geo *q, int nd, int64_t *shape) {
  int sp0 = q->cf ? 2 : 1;
  shape[0] = q->N;
  shape[q->cf ? 1 : nd - 1] = q->O;
  for (int j = 0; j < q->nsp; j++) shape[sp0 + j] = q->out[3 - q->nsp + j];
}

/* The given output gradient must have the forward output's shape. */
static int check_y(const tsi_node *n, const geo *q, const shape_args *a, tsi_err *e) {
  int nd = a->x->ndim;
  int64_t shape[TSI_MAXDIM];
  fwd_shape(q, nd, shape);
  int ok = a->y->ndim == nd;
  for (int i = 0; ok && i < nd; i++)
    if (shape[i] >= 0 && a->y->shape[i] >= 0 && shape[i] != a->y->shape[i]) ok = 0;
  if (ok) return TSI_OK;
  char nb[128], sy[96], sx[96], sw[96], so[96];
  tsi_tensor t;
  memset(&t, 0, sizeof t);
  t.ndim = nd;
  memcpy(t.shape, shape, sizeof(int64_t) * (size_t)nd);
  if (a->w)
    return tsi_fail(e, TSI_EARG,
                    "%s: the gradient %s does not match the convolution's output %s (input %s, "
                    "filter %s)",
                    OPN(n), SHP(a->y, sy), SHP(&t, so), SHP(a->x, sx), SHP(a->w, sw));
  return tsi_fail(e, TSI_EARG, "%s: the gradient %s does not match the pooling's output %s (input %s)",
                  OPN(n), SHP(a->y, sy), SHP(&t, so), SHP(a->x, sx));
}

/* Which inputs are x, w and y for each op, and what the output is like. */
static void args_of(int kind, const tsi_tensor *ins, shape_args *a) {
  memset(a, 0, sizeof *a);
  switch (kind) {
    case K_CONV: a->x = &ins[0], a->w = &ins[1]; break;
    case K_BPI: a->y = &ins[0], a->w = &ins[1], a->x = &ins[2]; break;
    case K_BPF: a->x = &ins[0], a->y = &ins[1], a->w = &ins[2]; break;
    default: a->x = &ins[0]; break;
  }
}

/* The output shape, the op named in errors. */
static int out_shape(const tsi_node *n, tsi_tensor *out, int nd, const int64_t *shape, tsi_err *e) {
  if (tsi_set_shape(out, nd, shape, e) == TSI_OK) return TSI_OK;
  char nb[128], msg[sizeof e->msg];
  memcpy(msg, e->msg, sizeof msg);
  return tsi_fail(e, e->status, "%s: %s", OPN(n), msg);
}

/* Equal ranks and no known dims that differ. */
static int same_known(const tsi_tensor *a, const tsi_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] >= 0 && b->shape[i] >= 0 && a->shape[i] != b->shape[i]) return 0;
  return 1;
}

typedef struct conv_impl {
  int kind; /* K_* */
  int grad; /* pooling: 0 forward, 1 gradient (x-shaped), 2 max_pool_grad_grad (y-shaped) */
} conv_impl;

static int infer_conv(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                      tsi_err *e) {
  const conv_impl *im = n->op->impl;
  int st, kind = im->kind;
  shape_args a;
  geo q;
  args_of(kind, ins, &a);
  if ((st = tsi_same_dtype(n, ins, nin < 2 ? nin : 2, e))) return st;
  if ((st = tsi_check_dtype(n, ins[0].dtype, TSI_FLOATS, e))) return st;
  out->dtype = ins[0].dtype;
  for (int i = 0; i < nin; i++)
    if (ins[i].ndim < 0) {
      if (kind == K_BPI || kind == K_BPF) {
        const tsi_tensor *like = &ins[2];
        if (like->ndim < 0) return tsi_unknown_rank(out, out->dtype);
        return out_shape(n, out, like->ndim, like->shape, e);
      }
      return tsi_unknown_rank(out, out->dtype);
    }
  if (is_pool(kind) && im->grad == 1 && kind == K_AVGPOOL) {
    /* avg_pool_grad(dy, like): x is the like input */
    a.x = &ins[1], a.y = &ins[0];
  } else if (is_pool(kind) && im->grad == 1) {
    a.y = &ins[1];
  }
  if ((st = setup(n, kind, &a, &q, e))) return st;
  if (a.y && (st = check_y(n, &q, &a, e))) return st;
  if (is_pool(kind) && im->grad == 2 && !same_known(&ins[0], &ins[1])) {
    char nb[128], sx[96], sg[96];
    return tsi_fail(e, TSI_EARG, "%s: the gradient %s does not match the input %s", OPN(n),
                    SHP(&ins[1], sg), SHP(&ins[0], sx));
  }
  int64_t shape[TSI_MAXDIM];
  switch (kind) {
    case K_CONV: fwd_shape(&q, a.x->ndim, shape); break;
    case K_BPI: return out_shape(n, out, a.x->ndim, a.x->shape, e);
    case K_BPF: return out_shape(n, out, a.w->ndim, a.w->shape, e);
    default:
      if (im->grad == 1) return out_shape(n, out, a.x->ndim, a.x->shape, e);
      fwd_shape(&q, a.x->ndim, shape);
  }
  return out_shape(n, out, a.x->ndim, shape, e);
}

/* ---------------------------------------------------------------- kernels */

typedef struct cjob {
  const geo *q;
  int64_t g;     /* group */
  const void *x; /* image block (channels last) or image (channels first) */
  void *col;
  void *dx;
} cjob;

/* Channels last, rows [r0, r1) of the batch's column matrix (row r: image
 * r / P, output position r % P) into col (row r at col + (r - r0) * K), or,
 * ADD, col added back into dx (col2im). With dilation 1 along the last dim
 * and one group, a kernel row's (kw, C) patch is one contiguous run of the
 * input: copied whole, its padded ends zeroed. */
#define DEF_ROWS_LAST(NAME, T, ADD)                                                \
  static void NAME(const geo *q, int64_t g, T *x, T *restrict col, int64_t r0,     \
                   int64_t r1) {                                                   \
    int64_t K = q->K, Cg = q->Cg, C = q->C, P = q->P;                              \
    int64_t out0 = q->out[0], out1 = q->out[1], out2 = q->out[2];                  \
    int64_t in1 = q->in[1], in2 = q->in[2], kw = q->k[2], s2 = q->s[2];            \
    int64_t d2 = q->d[2], pb2 = q->pb[2], span = kw * Cg;                          \
    int run = d2 == 1 && Cg == C;                                                  \
    int64_t img = r0 / P, p = r0 % P;                                              \
    int64_t o2 = p % out2, o1 = p / out2 % out1, o0 = p / (out1 * out2);           \
    for (int64_t r = r0; r < r1; r++) {                                            \
      T *restrict dst = col + (r - r0) * K;                                        \
      T *xi = x + img * q->S * C + g * Cg;                                         \
      int64_t base = o2 * s2 - pb2;                                                \
      for (int64_t k0 = 0; k0 < q->k[0]; k0++) {                                   \
        int64_t i0 = o0 * q->s[0] - q->pb[0] + k0 * q->d[0];                       \
        int ok0 = (uint64_t)i0 < (uint64_t)q->in[0];                               \
        for (int64_t k1 = 0; k1 < q->k[1]; k1++, dst += span) {                    \
          int64_t i1 = o1 * q->s[1] - q->pb[1] + k1 * q->d[1];                     \
          if (!ok0 || (uint64_t)i1 >= (uint64_t)in1) {                             \
            if (!ADD) for (int64_t c = 0; c < span; c++) dst[c] = 0;               \
            continue;                                                              \
          }                                                                        \
          T *xr = xi + (i0 * in1 + i1) * in2 * C;                                  \
          if (run) {                                                               \
            int64_t a = base < 0 ? -base : 0, b = in2 - base;                      \
            if (a > kw) a = kw;                                                    \
            if (b > kw) b = kw;                                                    \
            if (b < a) b = a;                                                      \
            T *restrict src = xr + (base + a) * C;                                 \
            T *restrict d = dst + a * C;                                           \
            int64_t len = (b - a) * C;                                             \
            if (ADD) {                                                             \
              for (int64_t c = 0; c < len; c++) src[c] += d[c];                    \
            } else {                                                               \
              for (int64_t c = 0; c < a * C; c++) dst[c] = 0;                      \
              for (int64_t c = 0; c < len; c++) d[c] = src[c];                     \
              for (int64_t c = b * C; c < span; c++) dst[c] = 0;                   \
            }                                                                      \
            continue;                                                              \
          }                                                                        \
          for (int64_t k2 = 0; k2 < kw; k2++) {                                    \
            int64_t i2 = base + k2 * d2;                                           \
            T *restrict d = dst + k2 * Cg;                                         \
            if ((uint64_t)i2 < (uint64_t)in2) {                                    \
              T *restrict src = xr + i2 * C;                                       \
              if (ADD) for (int64_t c = 0; c < Cg; c++) src[c] += d[c];            \
              else for (int64_t c = 0; c < Cg; c++) d[c] = src[c];                 \
            } else if (!ADD) {                                                     \
              for (int64_t c = 0; c < Cg; c++) d[c] = 0;                           \
            }                                                                      \
          }                                                                        \
        }                                                                          \
      }                                                                            \
      if (++o2 == out2) {                                                          \
        o2 = 0;                                                                    \
        if (++o1 == out1) {                                                        \
          o1 = 0;                                                                  \
          if (++o0 == out0) o0 = 0, img++;                                         \
        }                                                                          \
      }                                                                            \
    }                                                                              \
  }

/* y[r][o] = sum_k col[r][k] * w[k][o] for rows [0, rows): the forward
 * product when K is small (SMALL_K), where sgemm's packing and its separate
 * pass zeroing y (beta = 0) cost more than the product; columns of y in
 * blocks of 16 kept in registers (GCC vectors), the sum in k order. */
#define DEF_SMALL_GEMM(NAME, T)                                                    \
  typedef T NAME##_v __attribute__((vector_size(32)));                             \
  TSI_CLONES static void NAME(int64_t rows, int64_t K, int64_t Og,                 \
                              const T *restrict col, const T *restrict w,          \
                              int64_t ldw, T *restrict y, int64_t ldy) {           \
    typedef NAME##_v V;                                                            \
    enum { LANES = 32 / sizeof(T), NV = 16 / LANES };                              \
    int64_t r = 0;                                                                 \
    for (; r + 2 <= rows; r += 2) { /* two rows: independent sums */              \
      const T *restrict a0 = col + r * K, *restrict a1 = a0 + K;                   \
      int64_t o0 = 0;                                                              \
      for (; o0 + 16 <= Og; o0 += 16) {                                            \
        V s0[NV], s1[NV];                                                          \
        memset(s0, 0, sizeof s0);                                                  \
        memset(s1, 0, sizeof s1);                                                  \
        for (int64_t k = 0; k < K; k++) {                                          \
          const T *wk = w + k * ldw + o0;                                          \
          V b0 = (V){0} + a0[k], b1 = (V){0} + a1[k];                              \
          for (int v = 0; v < NV; v++) {                                           \
            V wv;                                                                  \
            memcpy(&wv, wk + v * LANES, sizeof wv);                                \
            s0[v] += b0 * wv;                                                      \
            s1[v] += b1 * wv;                                                      \
          }                                                                        \
        }                                                                          \
        memcpy(y + r * ldy + o0, s0, sizeof s0);                                   \
        memcpy(y + (r + 1) * ldy + o0, s1, sizeof s1);                             \
      }                                                                            \
      for (int64_t o = o0; o < Og; o++) {                                          \
        T t0 = 0, t1 = 0;                                                          \
        for (int64_t k = 0; k < K; k++) {                                          \
          t0 += a0[k] * w[k * ldw + o];                                            \
          t1 += a1[k] * w[k * ldw + o];                                            \
        }                                                                          \
        y[r * ldy + o] = t0, y[(r + 1) * ldy + o] = t1;                            \
      }                                                                            \
    }                                                                              \
    for (; r < rows; r++)                                                          \
      for (int64_t o = 0; o < Og; o++) {                                           \
        T t = 0;                                                                   \
        for (int64_t k = 0; k < K; k++) t += col[r * K + k] * w[k * ldw + o];      \
        y[r * ldy + o] = t;                                                        \
      }                                                                            \
  }

/* Channels last, one group: the rows of the batch (N * P) in blocks of rb
 * rows whose column block (and output block) stay in cache between im2col
 * and the gemm. Worker slot i of nw (a TSI_PAR_GRAIN-sized range of the
 * parallel loop, one per thread) takes rows [i * nr / nw, (i+1) * nr / nw),
 * whole images for the input gradient (col2im adds across a block's rows),
 * its own column block at col + i * (rb * K + K * Og), and for the filter
 * gradient its own K x Og sum right after it (slot 0 sums into w). */
typedef struct ljob {
  const geo *q;
  const tsi_blas *bl;
  int kind;
  int64_t g, rb, nw;
  void *x, *w, *y, *col;
} ljob;

#define DEF_CONV_LAST(NAME, T, ROWS, ADD_ROWS, GEMM, SMALL)                                 \
  static void NAME(void *arg, int64_t b, int64_t e) {                              \
    const ljob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    int64_t K = q->K, O = q->O, Og = q->Og, g = j->g, rb = j->rb, P = q->P;        \
    int64_t nimg = q->N, nr = nimg * P;                                            \
    T *x = j->x, *w = j->w, *y = j->y;                                             \
    for (int64_t i = b / TSI_PAR_GRAIN; i < (e + TSI_PAR_GRAIN - 1) / TSI_PAR_GRAIN; i++) { \
      int64_t lo, hi;                                                              \
      if (j->kind == K_BPI)                                                        \
        lo = nimg * i / j->nw * P, hi = nimg * (i + 1) / j->nw * P;                \
      else                                                                         \
        lo = nr * i / j->nw, hi = nr * (i + 1) / j->nw;                            \
      T *col = (T *)j->col + i * (rb * K + K * Og);                                \
      T *part = col + rb * K, *wg = w + g * Og;                                    \
      int64_t ldw = O;                                                             \
      if (j->kind == K_BPF && i > 0) {                                             \
        memset(part, 0, sizeof(T) * (size_t)(K * Og));                             \
        wg = part, ldw = Og;                                                       \
      }                                                                            \
      for (int64_t r0 = lo; r0 < hi; r0 += rb) {                                   \
        int64_t r1 = r0 + rb < hi ? r0 + rb : hi, rows = r1 - r0;                  \
        T *yb = y + r0 * O + g * Og;                                               \
        if (j->kind == K_BPI) {                                                    \
          GEMM(j->bl, 0, 1, rows, K, Og, yb, O, w + g * Og, O, 0, col, K);         \
          ADD_ROWS(q, g, x, col, r0, r1);                                          \
          continue;                                                                \
        }                                                                          \
        ROWS(q, g, x, col, r0, r1);                                                \
        if (j->kind == K_CONV && K <= SMALL_K) {                                   \
          if (j->bl->openblas_only ||                                              \
              !tsi_gemm512(sizeof(T) == 4 ? TS_FLOAT32 : TS_FLOAT64, 0, 0, rows, Og, K, \
                           col, K, w + g * Og, O, 0, yb, O))                       \
            SMALL(rows, K, Og, col, w + g * Og, O, yb, O);                         \
        } else if (j->kind == K_CONV)                                              \
          GEMM(j->bl, 0, 0, rows, Og, K, col, K, w + g * Og, O, 0, yb, O);         \
        else                                                                       \
          GEMM(j->bl, 1, 0, K, Og, rows, col, K, yb, O, 1, wg, ldw);               \
      }                                                                            \
    }                                                                              \
  }

/* Channels first, one image: rows [b, e) (elements / P) of
 * col[c * KS + kpos][p] = x[g * Cg + c][position]; ADD: dx += col (then
 * [b, e) covers whole channels). */
#define DEF_COLS_FIRST(NAME, T, ADD)                                               \
  static void NAME(void *arg, int64_t b, int64_t e) {                              \
    const cjob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    int64_t P = q->P, KS = q->KS, K12 = q->k[1] * q->k[2];                          \
    int64_t in1 = q->in[1], in2 = q->in[2], out2 = q->out[2];                      \
    for (int64_t row = b / P; row < e / P; row++) {                                \
      int64_t c = row / KS, kp = row % KS;                                         \
      int64_t k0 = kp / K12, k1 = kp % K12 / q->k[2], k2 = kp % q->k[2];           \
      int64_t xc = (j->g * q->Cg + c) * q->S;                                      \
      T *restrict dst = (T *)j->col + row * P;                                     \
      for (int64_t o0 = 0; o0 < q->out[0]; o0++) {                                 \
        int64_t i0 = o0 * q->s[0] - q->pb[0] + k0 * q->d[0];                       \
        int ok0 = (uint64_t)i0 < (uint64_t)q->in[0];                               \
        for (int64_t o1 = 0; o1 < q->out[1]; o1++, dst += out2) {                  \
          int64_t i1 = o1 * q->s[1] - q->pb[1] + k1 * q->d[1];                     \
          int ok = ok0 && (uint64_t)i1 < (uint64_t)in1;                            \
          int64_t off = xc + (i0 * in1 + i1) * in2 - q->pb[2] + k2 * q->d[2];      \
          int64_t s2 = q->s[2], c0 = k2 * q->d[2] - q->pb[2];                      \
          if (ok && s2 == 1) { /* o2 in [lo, hi) read x[off + o2]: one run */      \
            int64_t lo = c0 < 0 ? -c0 : 0, hi = in2 - c0 < out2 ? in2 - c0 : out2;   \
            if (lo > out2) lo = out2;                                              \
            if (hi < lo) hi = lo;                                                  \
            if (ADD) {                                                             \
              T *restrict dx = j->dx;                                              \
              for (int64_t o2 = lo; o2 < hi; o2++) dx[off + o2] += dst[o2];        \
            } else {                                                               \
              const T *restrict X = j->x;                                          \
              for (int64_t o2 = 0; o2 < lo; o2++) dst[o2] = 0;                     \
              for (int64_t o2 = lo; o2 < hi; o2++) dst[o2] = X[off + o2];          \
              for (int64_t o2 = hi; o2 < out2; o2++) dst[o2] = 0;                  \
            }                                                                      \
            continue;                                                              \
          }                                                                        \
          if (ADD) {                                                               \
            if (!ok) continue;                                                     \
            T *restrict dx = j->dx;                                                \
            for (int64_t o2 = 0; o2 < out2; o2++) {                                \
              int64_t i2 = o2 * s2 - q->pb[2] + k2 * q->d[2];                      \
              if ((uint64_t)i2 < (uint64_t)in2) dx[off + o2 * s2] += dst[o2];      \
            }                                                                      \
          } else if (!ok) {                                                        \
            for (int64_t o2 = 0; o2 < out2; o2++) dst[o2] = 0;                     \
          } else {                                                                 \
            const T *restrict X = j->x;                                            \
            for (int64_t o2 = 0; o2 < out2; o2++) {                                \
              int64_t i2 = o2 * s2 - q->pb[2] + k2 * q->d[2];                      \
              dst[o2] = (uint64_t)i2 < (uint64_t)in2 ? X[off + o2 * s2] : 0;       \
            }                                                                      \
          }                                                                        \
        }                                                                          \
      }                                                                            \
    }                                                                              \
  }

/* C = op(A) op(B) (+ C when acc), row-major, with empty sizes handled here
 * (BLAS wants leading dimensions >= 1). */
#define DEF_GEMM(NAME, T, FN)                                                      \
  static void NAME(const tsi_blas *bl, int ta, int tb, int64_t m, int64_t n,       \
                   int64_t k, const T *A, int64_t lda, const T *B, int64_t ldb,    \
                   int acc, T *C, int64_t ldc) {                                   \
    if (m == 0 || n == 0) return;                                                  \
    if (k == 0) {                                                                  \
      if (!acc)                                                                    \
        for (int64_t i = 0; i < m; i++) memset(C + i * ldc, 0, sizeof(T) * (size_t)n); \
      return;                                                                      \
    }                                                                              \
    if (!bl->openblas_only &&                                                      \
        tsi_gemm512(sizeof(T) == 4 ? TS_FLOAT32 : TS_FLOAT64, ta, tb, m, n, k, A, lda, B, ldb, \
                    acc, C, ldc))                                                  \
      return;                                                                      \
    bl->FN(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, \
           (int)m, (int)n, (int)k, 1, A, (int)lda, B, (int)ldb, acc ? 1 : 0, C, (int)ldc); \
  }

/* Channels last, depthwise (one channel per group, multiplier 1: filter
 * [k..., 1, C]): no columns, each kernel position a loop along the contiguous
 * channels. Worker slots and row ranges as in ljob; the filter gradient's
 * sums of workers past the first at col + (i - 1) * K * C. */
/* For DEF_DW_LAST: the body, for each kernel position kp (counted from 0)
 * whose input position is inside, with xp its channels' row in image xi. */
#define DW_LAST_TAPS(T, ...)                                                       \
  for (int64_t k0 = 0, kp = 0; k0 < q->k[0]; k0++) {                               \
    int64_t i0 = o0 * q->s[0] - q->pb[0] + k0 * q->d[0];                           \
    int ok0 = (uint64_t)i0 < (uint64_t)q->in[0];                                   \
    for (int64_t k1 = 0; k1 < q->k[1]; k1++) {                                     \
      int64_t i1 = o1 * q->s[1] - q->pb[1] + k1 * q->d[1];                         \
      int ok1 = ok0 && (uint64_t)i1 < (uint64_t)in1;                               \
      for (int64_t k2 = 0; k2 < q->k[2]; k2++, kp++) {                             \
        int64_t i2 = o2 * q->s[2] - q->pb[2] + k2 * q->d[2];                       \
        if (!ok1 || (uint64_t)i2 >= (uint64_t)in2) continue;                       \
        T *restrict xp = xi + ((i0 * in1 + i1) * in2 + i2) * C;                    \
        __VA_ARGS__                                                                \
      }                                                                            \
    }                                                                              \
  }
/* Kernel positions up to which the forward sums a position's taps in
 * registers (tsi_taps512) rather than adding each tap's row into y. */
#define DW_TAPS 64
#define DEF_DW_LAST(NAME, T)                                                       \
  TSI_CLONES static void NAME(void *arg, int64_t b, int64_t e) {                   \
    const ljob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    int64_t C = q->C, P = q->P, K = q->K, nimg = q->N, nr = nimg * P;              \
    int64_t out0 = q->out[0], out1 = q->out[1], out2 = q->out[2];                  \
    int64_t in1 = q->in[1], in2 = q->in[2];                                        \
    int kind = j->kind;                                                            \
    T *x = j->x, *y = j->y;                                                        \
    const T *xs[DW_TAPS], *ws[DW_TAPS];                                            \
    int taps = kind == K_CONV && K <= DW_TAPS && tsi_have512();                    \
    for (int64_t i = b / TSI_PAR_GRAIN; i < (e + TSI_PAR_GRAIN - 1) / TSI_PAR_GRAIN; i++) { \
      int64_t lo, hi;                                                              \
      if (kind == K_BPI)                                                           \
        lo = nimg * i / j->nw * P, hi = nimg * (i + 1) / j->nw * P;                \
      else                                                                         \
        lo = nr * i / j->nw, hi = nr * (i + 1) / j->nw;                            \
      T *w = j->w;                                                                 \
      if (kind == K_BPF && i > 0) {                                                \
        w = (T *)j->col + (i - 1) * K * C;                                         \
        memset(w, 0, sizeof(T) * (size_t)(K * C));                                 \
      }                                                                            \
      int64_t img = lo / P, p = lo % P;                                            \
      int64_t o2 = p % out2, o1 = p / out2 % out1, o0 = p / (out1 * out2);         \
      for (int64_t r = lo; r < hi; r++) {                                          \
        T *restrict yr = y + r * C;                                                \
        T *xi = x + img * q->S * C;                                                \
        if (taps) { /* the valid taps' rows, summed in registers (AVX-512) */      \
          int nt = 0;                                                              \
          DW_LAST_TAPS(T, xs[nt] = xp, ws[nt++] = w + kp * C;)                     \
          tsi_taps512(sizeof(T) == 4 ? TS_FLOAT32 : TS_FLOAT64, C, nt,             \
                      (const void *const *)xs, (const void *const *)ws, yr);       \
          goto next;                                                               \
        }                                                                          \
        if (kind == K_CONV) memset(yr, 0, sizeof(T) * (size_t)C);                  \
        DW_LAST_TAPS(T, T *restrict wk = w + kp * C;                               \
                     if (kind == K_CONV)                                           \
                       for (int64_t c = 0; c < C; c++) yr[c] += xp[c] * wk[c];     \
                     else if (kind == K_BPI)                                       \
                       for (int64_t c = 0; c < C; c++) xp[c] += yr[c] * wk[c];     \
                     else                                                          \
                       for (int64_t c = 0; c < C; c++) wk[c] += xp[c] * yr[c];)    \
      next:                                                                        \
        if (++o2 == out2) {                                                        \
          o2 = 0;                                                                  \
          if (++o1 == out1) {                                                      \
            o1 = 0;                                                                \
            if (++o0 == out0) o0 = 0, img++;                                       \
          }                                                                        \
        }                                                                          \
      }                                                                            \
    }                                                                              \
  }

/* Channels first, depthwise (multiplier 1: filter [C, 1, k...]): each plane
 * (image, channel) with its channel's kernel directly, no columns and no
 * products (a 7x7 plane made 64 x 512 calls of a 1 x 49 x 9 gemm). Channels
 * [b, e) for every image: a channel alone writes its planes of y (conv), of x
 * (input gradient) and its filter row (filter gradient), so the split needs
 * no scratch and the sums' order does not depend on the threads. For each
 * kernel position, rows of the output with the contiguous range of o2 whose
 * input is inside. */
/* A small plane (1-D or 2-D, stride 1, its padded input of at most DW_FLAT
 * positions) goes through a zero-padded copy of its input, Hp x Wp: the
 * output kept at the padded width Wp, each kernel position is one flat loop
 * of L = (out1 - 1) Wp + out2 elements at offset k1 d1 Wp + k2 d2 (the extra
 * columns are zero, or dropped), instead of rows of out2 with bounds per
 * row (a 7x7 plane spent its time in the loops' set-up). */
#define DW_FLAT 2048
/* The flat path's filter gradient sums each tap's products in this many
 * partial sums (one vector register of floats with AVX-512), combined in
 * order at the end: the same bits on every CPU. */
#define DW_LANES 16
typedef struct dwjob {
  const geo *q;
  int kind;
  void *x, *w, *y;
} dwjob;
#define DEF_DW_FIRST(NAME, T)                                                      \
  TSI_CLONES static void NAME(void *arg, int64_t b, int64_t e) {                   \
    const dwjob *j = arg;                                                          \
    const geo *q = j->q;                                                           \
    int64_t C = q->C, S = q->S, P = q->P, K = q->K;                                \
    int64_t out1 = q->out[1], out2 = q->out[2], in1 = q->in[1], in2 = q->in[2];    \
    int64_t s2 = q->s[2];                                                          \
    int kind = j->kind;                                                            \
    const int64_t pb1 = q->pb[1], pb2 = q->pb[2], d1 = q->d[1], d2 = q->d[2];      \
    const int64_t Hp = out1 + (q->k[1] - 1) * d1, Wp = out2 + (q->k[2] - 1) * d2;  \
    const int64_t L = (out1 - 1) * Wp + out2;                                      \
    const int flat = q->in[0] == 1 && q->out[0] == 1 && q->k[0] == 1 && q->s[1] == 1 && \
                     s2 == 1 && pb1 >= 0 && pb2 >= 0 && out1 > 0 && out2 > 0 &&     \
                     Hp * Wp <= DW_FLAT;                                           \
    /* flat: the input's rows [r0, r1) of the padded copy, at columns           */ \
    /* [lead, lead + nin); the rest zero, as dy's extra columns                  */ \
    const int64_t lead = pb2 < Wp ? pb2 : Wp, nin = Wp - lead < in2 ? Wp - lead : in2; \
    const int64_t r0 = pb1 < Hp ? pb1 : Hp, r1 = pb1 + in1 < Hp ? pb1 + in1 : Hp;  \
    T xp_[DW_FLAT], yp_[DW_FLAT];                                                  \
    if (flat) {                                                                    \
      memset(xp_, 0, sizeof(T) * (size_t)(Hp * Wp));                               \
      memset(yp_, 0, sizeof(T) * (size_t)(Hp * Wp));                               \
    }                                                                              \
    for (int64_t img = 0; img < q->N; img++) /* planes in memory order */        \
      for (int64_t c = b; c < e; c++) {                                            \
        T *xc = (T *)j->x + (img * C + c) * S, *yc = (T *)j->y + (img * C + c) * P; \
        T *wc = (T *)j->w + c * K;                                                 \
        if (flat) { /* a small plane, stride 1: see DW_FLAT */                     \
          if (kind == K_BPI) {                                                     \
            memset(xp_, 0, sizeof(T) * (size_t)(Hp * Wp));                         \
          } else { /* the interior rows: the borders stay zero */                  \
            for (int64_t i1 = r0 - pb1; i1 < r1 - pb1; i1++)                       \
              memcpy(xp_ + (i1 + pb1) * Wp + lead, xc + i1 * in2, sizeof(T) * (size_t)nin); \
          }                                                                        \
          if (kind != K_CONV) /* dy at the padded width, the extra columns zero */ \
            for (int64_t o1 = 0; o1 < out1; o1++)                                  \
              memcpy(yp_ + o1 * Wp, yc + o1 * out2, sizeof(T) * (size_t)out2);     \
          int64_t kp = 0;                                                          \
          for (int64_t k1 = 0; k1 < q->k[1]; k1++)                                 \
            for (int64_t k2 = 0; k2 < q->k[2]; k2++, kp++) {                       \
              T *restrict a = xp_ + k1 * d1 * Wp + k2 * d2;                        \
              T *restrict yv = yp_;                                                \
              const T wk = wc[kp];                                                 \
              if (kind == K_CONV && kp == 0)                                       \
                for (int64_t t = 0; t < L; t++) yv[t] = wk * a[t];                 \
              else if (kind == K_CONV)                                             \
                for (int64_t t = 0; t < L; t++) yv[t] += wk * a[t];                \
              else if (kind == K_BPI)                                              \
                for (int64_t t = 0; t < L; t++) a[t] += wk * yv[t];                \
              else { /* DW_LANES partial sums (vectorised), then in order */      \
                T part[DW_LANES] = {0}, acc = 0;                                   \
                int64_t t = 0;                                                     \
                for (; t + DW_LANES <= L; t += DW_LANES)                           \
                  for (int l = 0; l < DW_LANES; l++) part[l] += a[t + l] * yv[t + l]; \
                for (int l = 0; l < DW_LANES; l++) acc += part[l];                 \
                for (; t < L; t++) acc += a[t] * yv[t];                            \
                wc[kp] += acc;                                                     \
              }                                                                    \
            }                                                                      \
          if (kind == K_CONV && Wp == out2) {                                      \
            memcpy(yc, yp_, sizeof(T) * (size_t)P);                                \
          } else if (kind == K_CONV) {                                             \
            for (int64_t o1 = 0; o1 < out1; o1++)                                  \
              memcpy(yc + o1 * out2, yp_ + o1 * Wp, sizeof(T) * (size_t)out2);     \
          } else if (kind == K_BPI) {                                              \
            for (int64_t i1 = 0; i1 < in1 && i1 + pb1 < Hp; i1++)                  \
              for (int64_t i2 = 0; i2 < in2 && i2 + pb2 < Wp; i2++)                \
                xc[i1 * in2 + i2] += xp_[(i1 + pb1) * Wp + i2 + pb2];              \
          }                                                                        \
          continue;                                                                \
        }                                                                          \
        if (kind == K_CONV) memset(yc, 0, sizeof(T) * (size_t)P);                  \
        int64_t kp = 0;                                                            \
        for (int64_t k0 = 0; k0 < q->k[0]; k0++)                                   \
          for (int64_t k1 = 0; k1 < q->k[1]; k1++)                                 \
            for (int64_t k2 = 0; k2 < q->k[2]; k2++, kp++) {                       \
              /* o2 in [lo, hi): i2 = o2 s2 - t in [0, in2) */                     \
              int64_t t = q->pb[2] - k2 * q->d[2], u = in2 - 1 + t;                \
              int64_t lo = t <= 0 ? 0 : (t + s2 - 1) / s2;                         \
              int64_t hi = u < 0 ? 0 : u / s2 + 1;                                 \
              if (hi > out2) hi = out2;                                            \
              if (lo >= hi) continue;                                              \
              T wk = wc[kp], acc = 0;                                              \
              for (int64_t o0 = 0; o0 < q->out[0]; o0++) {                         \
                int64_t i0 = o0 * q->s[0] - q->pb[0] + k0 * q->d[0];               \
                if ((uint64_t)i0 >= (uint64_t)q->in[0]) continue;                  \
                for (int64_t o1 = 0; o1 < out1; o1++) {                            \
                  int64_t i1 = o1 * q->s[1] - q->pb[1] + k1 * q->d[1];             \
                  if ((uint64_t)i1 >= (uint64_t)in1) continue;                     \
                  T *restrict yr = yc + (o0 * out1 + o1) * out2;                   \
                  T *restrict xr = xc + (i0 * in1 + i1) * in2 - t;                 \
                  if (kind == K_CONV)                                              \
                    for (int64_t o2 = lo; o2 < hi; o2++) yr[o2] += wk * xr[o2 * s2]; \
                  else if (kind == K_BPI)                                          \
                    for (int64_t o2 = lo; o2 < hi; o2++) xr[o2 * s2] += wk * yr[o2]; \
                  else                                                             \
                    for (int64_t o2 = lo; o2 < hi; o2++) acc += xr[o2 * s2] * yr[o2]; \
                }                                                                  \
              }                                                                    \
              if (kind == K_BPF) wc[kp] += acc;                                    \
            }                                                                      \
      }                                                                            \
  }

/* Channels first: elements of one worker slot's scratch: an image's columns
 * (none for the direct 1x1 path), then for the filter gradient its own sum
 * (slot 0's is unused: it sums into w). */
static int64_t fslot(const geo *q, int kind, int direct) {
  return (direct ? 0 : q->K * q->P) + (kind == K_BPF ? q->O * q->K : 0);
}

/* Channels first: worker slots [b, e) of nw, slot i taking images
 * [N i / nw, N (i+1) / nw) one at a time (columns [in/groups x kernel,
 * output positions], the filter's column order) with single-threaded BLAS. */
typedef struct fjob {
  const geo *q;
  const tsi_blas *bl;
  int kind, direct, gt; /* gt: threads of each product and im2col (nw == 1) */
  int64_t nw;
  void *x, *w, *y, *col;
} fjob;

#define DEF_CONV_FIRST(NAME, E, T, COLS, ADD_COLS)                                 \
  static void NAME(void *arg, int64_t b, int64_t e) {                              \
    const fjob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    int64_t N = q->N, C = q->C, O = q->O, G = q->G, Cg = q->Cg, Og = q->Og;         \
    int64_t S = q->S, P = q->P, K = q->K, KP = K * P;                              \
    int kind = j->kind, direct = j->direct;                                        \
    T *x = j->x, *y = j->y;                                                        \
    for (int64_t i = b; i < e; i++) {                                              \
      T *col = (T *)j->col + i * fslot(q, kind, direct), *w = j->w;                \
      if (kind == K_BPF && i > 0) {                                                \
        w = col + (direct ? 0 : KP);                                               \
        memset(w, 0, sizeof(T) * (size_t)(O * K));                                 \
      }                                                                            \
      for (int64_t img = N * i / j->nw; img < N * (i + 1) / j->nw; img++)          \
        for (int64_t g = 0; g < G; g++) {                                          \
          T *xi = x + img * C * S, *yg = y + (img * O + g * Og) * P, *wg = w + g * Og * K; \
          T *B = direct ? xi + g * Cg * S : col;                                   \
          cjob cj = {q, g, xi, col, xi};                                           \
          int gt = j->gt;                                                          \
          if (kind != K_BPI && !direct) tsi_parallel_for(j->bl->pool, gt, KP, P, COLS, &cj);    \
          if (kind == K_CONV)                                                      \
            tsi_gemm(j->bl, E, gt, 0, 0, Og, P, K, wg, K, B, P, 0, yg, P);         \
          else if (kind == K_BPF)                                                  \
            tsi_gemm(j->bl, E, gt, 0, 1, Og, K, P, yg, P, B, P, 1, wg, K);         \
          else {                                                                   \
            tsi_gemm(j->bl, E, gt, 1, 0, K, P, Og, wg, K, yg, P, 0, B, P);         \
            if (!direct) tsi_parallel_for(j->bl->pool, gt, KP, q->KS * P, ADD_COLS, &cj);       \
          }                                                                        \
        }                                                                          \
    }                                                                              \
  }

/* One convolution (kind K_CONV, K_BPI, K_BPF) on the whole batch:
 * x, w, y are the input, filter and output of the forward convolution, one of
 * them the result. */
#define DEF_CONV(E, T, SFX, GEMM_FN)                                                  \
  DEF_ROWS_LAST(rows_last_##SFX, T, 0)                                             \
  DEF_ROWS_LAST(add_rows_last_##SFX, T, 1)                                         \
  DEF_COLS_FIRST(cols_first_##SFX, T, 0)                                           \
  DEF_COLS_FIRST(add_cols_first_##SFX, T, 1)                                       \
  DEF_GEMM(gemm_##SFX, T, GEMM_FN)                                                 \
  DEF_SMALL_GEMM(small_gemm_##SFX, T)                                              \
  DEF_DW_LAST(dw_last_##SFX, T)                                                    \
  DEF_DW_FIRST(dw_first_##SFX, T)                                                  \
  DEF_CONV_LAST(last_##SFX, T, rows_last_##SFX, add_rows_last_##SFX, gemm_##SFX,   \
                small_gemm_##SFX)                                                  \
  DEF_CONV_FIRST(first_##SFX, E, T, cols_first_##SFX, add_cols_first_##SFX)         \
  static void conv_##SFX(tsi_runctx *ctx, int kind, const geo *q, int direct,      \
                         T *x, T *w, T *y, T *col, int64_t nb, int64_t nw) {       \
    const tsi_blas *bl = ctx->blas;                                                \
    int64_t N = q->N, C = q->C, O = q->O, G = q->G, Cg = q->Cg, Og = q->Og;         \
    int64_t S = q->S, P = q->P, K = q->K;                                          \
    int nt = ctx->nthreads;                                                        \
    if (kind == K_BPI) memset(x, 0, sizeof(T) * (size_t)(N * S * C));              \
    if (kind == K_BPF) memset(w, 0, sizeof(T) * (size_t)(O * K));                  \
    if (!q->cf && !direct && Cg == 1 && Og == 1) {                                 \
      ljob lj = {q, bl, kind, 0, nb, nw, x, w, y, col};                            \
      if (nw > 1)                                                                  \
        tsi_parallel_for(ctx->pool, (int)nw, nw * TSI_PAR_GRAIN, TSI_PAR_GRAIN, dw_last_##SFX, &lj); \
      else                                                                         \
        dw_last_##SFX(&lj, 0, TSI_PAR_GRAIN);                                      \
      for (int64_t i = 1; kind == K_BPF && i < nw; i++) {                          \
        const T *part = col + (i - 1) * K * O;                                     \
        for (int64_t c = 0; c < K * O; c++) w[c] += part[c];                       \
      }                                                                            \
      return;                                                                      \
    }                                                                              \
    if (!q->cf && !direct) {                                                       \
      ljob lj = {q, bl, kind, 0, nb, nw, x, w, y, col};                            \
      for (int64_t g = 0; g < G; g++) {                                            \
        lj.g = g;                                                                  \
        if (nw > 1)                                                                \
          tsi_parallel_for(ctx->pool, (int)nw, nw * TSI_PAR_GRAIN, TSI_PAR_GRAIN, last_##SFX, &lj); \
        else                                                                       \
          last_##SFX(&lj, 0, TSI_PAR_GRAIN);                                       \
        for (int64_t i = 1; kind == K_BPF && i < nw; i++) {                        \
          const T *part = col + i * (nb * K + K * Og) + nb * K;                    \
          for (int64_t r = 0; r < K; r++)                                          \
            for (int64_t c = 0; c < Og; c++) w[r * O + g * Og + c] += part[r * Og + c]; \
        }                                                                          \
      }                                                                            \
      return;                                                                      \
    }                                                                              \
    if (!q->cf) {                                                                  \
      for (int64_t b0 = 0; b0 < N; b0 += nb) {                                     \
        int64_t rows = (N - b0 < nb ? N - b0 : nb) * P;                            \
        T *xb = x + b0 * S * C, *yb = y + b0 * P * O;                              \
        for (int64_t g = 0; g < G; g++) {                                          \
          T *A = xb + g * Cg;                                                      \
          int64_t lda = C;                                                         \
          if (kind == K_CONV)                                                      \
            tsi_gemm(bl, E, nt, 0, 0, rows, Og, K, A, lda, w + g * Og, O, 0, yb + g * Og, O); \
          else if (kind == K_BPF)                                                  \
            tsi_gemm(bl, E, nt, 1, 0, K, Og, rows, A, lda, yb + g * Og, O, 1, w + g * Og, O); \
          else                                                                     \
            tsi_gemm(bl, E, nt, 0, 1, rows, K, Og, yb + g * Og, O, w + g * Og, O, 0, A, lda); \
        }                                                                          \
      }                                                                            \
      return;                                                                      \
    }                                                                              \
    if (Cg == 1 && Og == 1) { /* depthwise: planes, no columns (dwjob) */          \
      dwjob dj = {q, kind, x, w, y};                                               \
      int64_t parts = nt < C ? nt : C;                                             \
      if (parts > 1 && N * C * (P + S) * K >= TSI_PAR_GRAIN)                       \
        tsi_parallel_split(ctx->pool, (int)parts, C, dw_first_##SFX, &dj);         \
      else                                                                         \
        dw_first_##SFX(&dj, 0, C);                                                 \
      return;                                                                      \
    }                                                                              \
    fjob fj = {q, bl, kind, direct, nw > 1 ? 1 : nt, nw, x, w, y, col};            \
    if (nw > 1) tsi_parallel_split(ctx->pool, (int)nw, nw, first_##SFX, &fj);                  \
    else first_##SFX(&fj, 0, 1);                                                   \
    for (int64_t i = 1; kind == K_BPF && i < nw; i++) {                            \
      const T *part = col + i * fslot(q, kind, direct) + (direct ? 0 : K * P);      \
      for (int64_t c = 0; c < O * K; c++) w[c] += part[c];                         \
    }                                                                              \
  }

DEF_CONV(TS_FLOAT32, float, f32, sgemm)
DEF_CONV(TS_FLOAT64, double, f64, dgemm)

/* Channels last, depthwise: workers over the rows (no column blocks to
 * share out), at least MIN_ROWS rows each, whole images for the input
 * gradient; one for less than TSI_PAR_GRAIN multiply-adds. */
static int64_t dw_last_workers(const geo *q, int kind, int nthreads) {
  int64_t nw = nthreads, nr = q->N * q->P;
  if (nw > nr / MIN_ROWS) nw = nr / MIN_ROWS;
  if ((double)nr * (double)q->C * (double)q->K < (double)TSI_PAR_GRAIN) nw = 1;
  if (kind == K_BPI && nw > q->N) nw = q->N;
  return nw < 1 ? 1 : nw;
}

static int run_conv(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  (void)nin;
  const conv_impl *im = n->op->impl;
  int kind = im->kind, st;
  shape_args a;
  geo q;
  char nb[128];
  args_of(kind, ins, &a);
  if ((st = setup(n, kind, &a, &q, e))) return st;
  void *x = kind == K_BPI ? out->data : a.x->data;
  void *w = kind == K_BPF ? out->data : a.w->data;
  void *y = kind == K_CONV ? out->data : a.y->data;
  int direct = q.KS == 1;
  for (int i = 0; i < 3; i++)
    if (q.s[i] != 1 || q.pb[i] || q.pa[i]) direct = 0;
  size_t es = tsi_dtype_size(out->dtype), nbytes = 0;
  /* Channels first: nw workers over the images, each with one image's
   * columns and a filter-gradient sum (see fjob). Channels last: the direct
   * (1x1) path multiplies blocks of nblk images; the column path blocks of
   * nblk rows (about COL_BYTES of columns) over nw workers, each with its own
   * column block and filter-gradient sum (see ljob). */
  int64_t per = q.P * q.K, nblk = 1, nw = 1, nr = q.N * q.P, ncol = 0;
  if (q.cf) {
    nw = ctx->nthreads < q.N ? ctx->nthreads : q.N;
    if (nw < 1) nw = 1;
    if ((q.K > 0 && q.P > INT64_MAX / 4 / q.K) || (q.O > 0 && q.K > INT64_MAX / 4 / q.O))
      return tsi_nomem(e, "conv column buffer");
    int64_t slot = fslot(&q, kind, direct);
    if (slot > (int64_t)(SIZE_MAX / 16) / nw) return tsi_nomem(e, "conv column buffer");
    ncol = q.Cg == 1 && q.Og == 1 ? 0 : nw * slot; /* depthwise: planes, no columns */
  } else if (direct) {
    nblk = per > 0 ? COL_ELEMS / per : q.N;
    if (nblk < 1) nblk = 1;
    if (nblk > q.N) nblk = q.N > 0 ? q.N : 1;
  } else if (!q.cf) {
    nblk = q.K > 0 ? COL_BYTES / ((int64_t)es * q.K) : nr;
    if (nblk < MIN_ROWS) nblk = MIN_ROWS;
    if (nblk > nr) nblk = nr > 0 ? nr : 1;
    int64_t nblocks = nblk > 0 ? (nr + nblk - 1) / nblk : 0;
    nw = ctx->nthreads < nblocks ? ctx->nthreads : nblocks;
    if (kind == K_BPI && nw > q.N) nw = q.N;
    if (nw < 1) nw = 1;
    ncol = 0;
    if (q.K > 0 && nblk + (q.Og > 0 ? q.Og : 0) > (int64_t)(SIZE_MAX / 2) / q.K / nw)
      return tsi_nomem(e, "conv column buffer");
    ncol = nw * (nblk * q.K + q.K * q.Og);
    if (q.Cg == 1 && q.Og == 1) { /* depthwise */
      if (q.O > 0 && q.K > (INT64_MAX / 256) / q.O) return tsi_nomem(e, "conv column buffer");
      nw = dw_last_workers(&q, kind, ctx->nthreads);
      ncol = (kind == K_BPF ? nw - 1 : 0) * q.K * q.O;
    }
  }
  int64_t rows = q.cf ? q.K : direct ? nblk * q.P : nblk;
  if (q.C > INT_MAX || q.O > INT_MAX || q.K > INT_MAX || q.P > INT_MAX || rows > INT_MAX ||
      (q.cf && per > INT_MAX))
    return tsi_fail(e, TSI_EARG, "%s: dimensions above 2^31 are not supported by BLAS", OPN(n));
  if (ncol < 0 || !tsi_mulsize((size_t)ncol, es, &nbytes)) return tsi_nomem(e, "conv column buffer");
  if (q.N == 0 || q.O == 0 || q.P == 0) {
    if (kind == K_BPI || kind == K_BPF) memset(out->data, 0, tsi_nbytes(out));
    return TSI_OK;
  }
  if ((st = tsi_blas_ready(ctx->blas, e))) return st;
  void *col = NULL, *fresh = NULL;
  if (nbytes && !(col = tsi_work_begin(ctx, nbytes, &fresh, e)))
    return tsi_fail(e, TSI_EMEM, "%s: not enough memory for the column buffer (%zu bytes)",
                    OPN(n), nbytes);
  if (out->dtype == TS_FLOAT32) conv_f32(ctx, kind, &q, direct, x, w, y, col, nblk, nw);
  else conv_f64(ctx, kind, &q, direct, x, w, y, col, nblk, nw);
  tsi_work_end(ctx, fresh);
  return TSI_OK;
}

/* ---------------------------------------------------------------- pooling */

/* Each output index's window along each dim, computed once per run: input
 * range [lo, hi) (padding cut off) and span (the window with padding: the
 * count_include_pad divisor). */
typedef struct pwin {
  int64_t *lo[3], *hi[3], *span[3];
} pwin;

typedef struct pjob {
  const geo *q;
  const pwin *w;
  int kind, grad;
  const void *x, *y; /* x: the input; y: dy (gradients), g (max_pool_grad_grad) */
  void *out;
} pjob;

/* The window of output position (o0, o1, o2): bounds and element counts. */
#define POOL_WINDOW(W, q, o0, o1, o2)                                              \
  int64_t l0 = W->lo[0][o0], h0 = W->hi[0][o0], l1 = W->lo[1][o1], h1 = W->hi[1][o1]; \
  int64_t l2 = W->lo[2][o2], h2 = W->hi[2][o2];                                    \
  int64_t cnt = (h0 > l0 ? h0 - l0 : 0) * (h1 > l1 ? h1 - l1 : 0) * (h2 > l2 ? h2 - l2 : 0); \
  int64_t div = q->incl ? W->span[0][o0] * W->span[1][o1] * W->span[2][o2] : cnt

/* Channels first: planes (image, channel) [b, e) / P, each contiguous. */
#define DEF_POOL(NAME, T)                                                          \
  TSI_CLONES static void NAME(void *arg, int64_t b, int64_t e) {                   \
    const pjob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    const pwin *W = j->w;                                                          \
    int64_t S = q->S, P = q->P, in1 = q->in[1], in2 = q->in[2];                    \
    int kind = j->kind, grad = j->grad;                                            \
    for (int64_t pl = b / P; pl < e / P; pl++) {                                   \
      const T *restrict X = (const T *)j->x + pl * S;                              \
      const T *restrict Y = j->y;                                                  \
      T *restrict R = j->out;                                                      \
      int64_t p = pl * P;                                                          \
      for (int64_t o0 = 0; o0 < q->out[0]; o0++)                                   \
        for (int64_t o1 = 0; o1 < q->out[1]; o1++)                                 \
          for (int64_t o2 = 0; o2 < q->out[2]; o2++, p++) {                        \
            POOL_WINDOW(W, q, o0, o1, o2);                                         \
            if (kind == K_MAXPOOL && grad == 0) { /* the value only: NaN wins */   \
              T m = -INFINITY;                                                     \
              int nan = 0;                                                         \
              for (int64_t i0 = l0; i0 < h0; i0++)                                 \
                for (int64_t i1 = l1; i1 < h1; i1++) {                             \
                  const T *xr = X + (i0 * in1 + i1) * in2;                         \
                  for (int64_t i2 = l2; i2 < h2; i2++) {                           \
                    T v = xr[i2];                                                  \
                    m = v > m ? v : m;                                             \
                    nan |= v != v;                                                 \
                  }                                                                \
                }                                                                  \
              R[p] = nan ? (T)NAN : m;                                             \
            } else if (kind == K_MAXPOOL) {                                        \
              T m = -INFINITY;                                                     \
              int64_t at = -1;                                                     \
              for (int64_t i0 = l0; i0 < h0; i0++)                                 \
                for (int64_t i1 = l1; i1 < h1; i1++) {                             \
                  const T *xr = X + (i0 * in1 + i1) * in2;                         \
                  for (int64_t i2 = l2; i2 < h2; i2++) {                           \
                    T v = xr[i2];                                                  \
                    /* branch-free: the first maximum, NaN wins (its first) */     \
                    int64_t better = (at < 0) | (v > m) | ((v != v) & (m == m));   \
                    int64_t mask = -better, idx = (xr + i2) - X;                   \
                    at = (at & ~mask) | (idx & mask);                              \
                    m = better ? v : m;                                            \
                  }                                                                \
                }                                                                  \
              if (grad == 1) { if (at >= 0) R[pl * S + at] += Y[p]; }              \
              else R[p] = at >= 0 ? Y[pl * S + at] : 0;                            \
            } else if (grad == 0) {                                                \
              T s = 0;                                                             \
              for (int64_t i0 = l0; i0 < h0; i0++)                                 \
                for (int64_t i1 = l1; i1 < h1; i1++) {                             \
                  const T *xr = X + (i0 * in1 + i1) * in2;                         \
                  for (int64_t i2 = l2; i2 < h2; i2++) s += xr[i2];                \
                }                                                                  \
              R[p] = div > 0 ? s / (T)div : 0;                                     \
            } else if (div > 0) { /* avg_pool_grad: X is unused, R is dx */        \
              T g = Y[p] / (T)div;                                                 \
              for (int64_t i0 = l0; i0 < h0; i0++)                                 \
                for (int64_t i1 = l1; i1 < h1; i1++) {                             \
                  T *rr = R + pl * S + (i0 * in1 + i1) * in2;                      \
                  for (int64_t i2 = l2; i2 < h2; i2++) rr[i2] += g;                \
                }                                                                  \
            }                                                                      \
          }                                                                        \
    }                                                                              \
  }
DEF_POOL(pool_f32, float)
DEF_POOL(pool_f64, double)

/* Channels last: whole images [b, e) / (P C) (gradients write x-shaped
 * images, so a thread never shares one); each output position a loop along
 * the contiguous channels per window element, in chunks of CCH channels
 * whose running maximum and its offset stay on the stack (the same
 * first-maximum and NaN rule as DEF_POOL). */
#define CCH 256
#define DEF_POOL_LAST(NAME, T)                                                     \
  TSI_CLONES static void NAME(void *arg, int64_t b, int64_t e) {                   \
    const pjob *j = arg;                                                           \
    const geo *q = j->q;                                                           \
    const pwin *W = j->w;                                                          \
    int64_t C = q->C, P = q->P, S = q->S, in1 = q->in[1], in2 = q->in[2];          \
    int kind = j->kind, grad = j->grad;                                            \
    for (int64_t img = b / (P * C); img < e / (P * C); img++) {                    \
      const T *restrict X = (const T *)j->x + img * S * C;                         \
      const T *restrict Y = (const T *)j->y + img * (grad == 2 ? S : P) * C;       \
      T *restrict R = (T *)j->out + img * (grad == 1 ? S : P) * C;                 \
      int64_t p = 0;                                                               \
      for (int64_t o0 = 0; o0 < q->out[0]; o0++)                                   \
        for (int64_t o1 = 0; o1 < q->out[1]; o1++)                                 \
          for (int64_t o2 = 0; o2 < q->out[2]; o2++, p++) {                        \
            POOL_WINDOW(W, q, o0, o1, o2);                                         \
            for (int64_t c0 = 0; c0 < C; c0 += CCH) {                              \
              int64_t nc = C - c0 < CCH ? C - c0 : CCH;                            \
              T acc[CCH];                                                          \
              int64_t at[CCH];                                                     \
              int first = 1;                                                       \
              if (kind == K_AVGPOOL && grad == 1) { /* R is dx, Y is dy */         \
                if (div <= 0) continue;                                            \
                for (int64_t c = 0; c < nc; c++) acc[c] = Y[p * C + c0 + c] / (T)div; \
              }                                                                    \
              for (int64_t c = 0; c < nc; c++) acc[c] = kind == K_MAXPOOL ? -INFINITY : grad ? acc[c] : 0; \
              for (int64_t c = 0; c < nc; c++) at[c] = -1;                         \
              for (int64_t i0 = l0; i0 < h0; i0++)                                 \
                for (int64_t i1 = l1; i1 < h1; i1++)                               \
                  for (int64_t i2 = l2; i2 < h2; i2++) {                           \
                    int64_t off = ((i0 * in1 + i1) * in2 + i2) * C + c0;           \
                    const T *restrict xv = X + off;                                \
                    if (kind == K_AVGPOOL && grad == 1) {                          \
                      T *restrict rv = R + off;                                    \
                      for (int64_t c = 0; c < nc; c++) rv[c] += acc[c];            \
                    } else if (kind == K_AVGPOOL) {                                \
                      for (int64_t c = 0; c < nc; c++) acc[c] += xv[c];            \
                    } else if (first) {                                            \
                      for (int64_t c = 0; c < nc; c++) acc[c] = xv[c], at[c] = off + c; \
                    } else {                                                       \
                      for (int64_t c = 0; c < nc; c++) {                           \
                        T v = xv[c], m = acc[c];                                   \
                        int better = v > m || (v != v && m == m);                  \
                        acc[c] = better ? v : m;                                   \
                        at[c] = better ? off + c : at[c];                          \
                      }                                                            \
                    }                                                              \
                    first = 0;                                                     \
                  }                                                                \
              T *restrict rp = R + p * C + c0;                                     \
              const T *restrict yp = Y + p * C + c0;                               \
              if (kind == K_AVGPOOL) {                                             \
                if (grad == 0)                                                     \
                  for (int64_t c = 0; c < nc; c++) rp[c] = div > 0 ? acc[c] / (T)div : 0; \
              } else if (grad == 0) {                                              \
                for (int64_t c = 0; c < nc; c++) rp[c] = acc[c];                   \
              } else if (grad == 1) {                                              \
                if (!first)                                                        \
                  for (int64_t c = 0; c < nc; c++) R[at[c]] += yp[c];              \
              } else {                                                             \
                for (int64_t c = 0; c < nc; c++) rp[c] = first ? 0 : Y[at[c]];     \
              }                                                                    \
            }                                                                      \
          }                                                                        \
    }                                                                              \
  }
DEF_POOL_LAST(pool_last_f32, float)
DEF_POOL_LAST(pool_last_f64, double)

static int run_pool(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                    tsi_tensor *out, tsi_err *e) {
  (void)nin;
  const conv_impl *im = n->op->impl;
  shape_args a;
  geo q;
  int st;
  pjob j;
  pwin w;
  char nb[128];
  memset(&a, 0, sizeof a);
  memset(&j, 0, sizeof j);
  j.kind = im->kind, j.grad = im->grad, j.out = out->data;
  if (im->kind == K_AVGPOOL && im->grad) a.x = &ins[1], j.y = ins[0].data;
  else a.x = &ins[0], j.x = ins[0].data, j.y = im->grad ? ins[1].data : NULL;
  if ((st = setup(n, im->kind, &a, &q, e))) return st;
  j.q = &q, j.w = &w;
  if (im->grad == 1) memset(out->data, 0, tsi_nbytes(out));
  int64_t planes = q.N * q.C;
  if (planes == 0 || q.P == 0) return TSI_OK;
  int64_t nwin = q.out[0] + q.out[1] + q.out[2];
  void *fresh;
  int64_t *tab = tsi_work_begin(ctx, sizeof(int64_t) * 3 * (size_t)nwin, &fresh, e);
  if (!tab) return tsi_fail(e, TSI_EMEM, "%s: not enough memory for the window table", OPN(n));
  for (int64_t i = 0, at = 0; i < 3; i++) {
    w.lo[i] = tab + at, w.hi[i] = tab + nwin + at, w.span[i] = tab + 2 * nwin + at;
    for (int64_t o = 0; o < q.out[i]; o++) {
      int64_t s0 = o * q.s[i] - q.pb[i], en = s0 + q.k[i];
      if (en > q.in[i] + q.pa[i]) en = q.in[i] + q.pa[i];
      w.span[i][o] = en - s0;
      w.lo[i][o] = s0 < 0 ? 0 : s0;
      w.hi[i][o] = en < q.in[i] ? en : q.in[i];
    }
    at += q.out[i];
  }
  if (!q.cf) /* whole images per thread */
    tsi_parallel_for(ctx->pool, ctx->nthreads, planes * q.P, q.P * q.C,
                     out->dtype == TS_FLOAT32 ? pool_last_f32 : pool_last_f64, &j);
  else
    tsi_parallel_for(ctx->pool, ctx->nthreads, planes * q.P, q.P,
                     out->dtype == TS_FLOAT32 ? pool_f32 : pool_f64, &j);
  tsi_work_end(ctx, fresh);
  return TSI_OK;
}

static const conv_impl i_conv = {K_CONV, 0}, i_bpi = {K_BPI, 0}, i_bpf = {K_BPF, 0},
                       i_max = {K_MAXPOOL, 0}, i_maxg = {K_MAXPOOL, 1},
                       i_maxgg = {K_MAXPOOL, 2}, i_avg = {K_AVGPOOL, 0},
                       i_avgg = {K_AVGPOOL, 1};

const tsi_opdef tsi_ops_conv[] = {
    {"conv", 2, 2, 0, infer_conv, run_conv, &i_conv, NULL},
    {"conv_backprop_input", 3, 3, 0, infer_conv, run_conv, &i_bpi, NULL},
    {"conv_backprop_filter", 3, 3, 0, infer_conv, run_conv, &i_bpf, NULL},
    {"max_pool", 1, 1, 0, infer_conv, run_pool, &i_max, NULL},
    {"max_pool_grad", 2, 2, 0, infer_conv, run_pool, &i_maxg, NULL},
    {"max_pool_grad_grad", 2, 2, 0, infer_conv, run_pool, &i_maxgg, NULL},
    {"avg_pool", 1, 1, 0, infer_conv, run_pool, &i_avg, NULL},
    {"avg_pool_grad", 2, 2, 0, infer_conv, run_pool, &i_avgg, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL, NULL}};

/* The bytes of work area run_conv or run_pool ask for with these inputs and
 * nthreads workers (plan memory estimates, exec.c); 0 for any other op.
 * Repeats their sizing: keep the two in step (spec/plan_memory_spec.lua and
 * tests/plan_memory.c compare the estimate with a run). */
size_t tsi_conv_work_bytes(const tsi_node *n, const tsi_tensor *ins, int nthreads) {
  if (n->op->run != run_conv && n->op->run != run_pool) return 0;
  const conv_impl *im = n->op->impl;
  shape_args a;
  geo q;
  tsi_err e;
  if (n->op->run == run_pool) {
    memset(&a, 0, sizeof a);
    a.x = im->kind == K_AVGPOOL && im->grad ? &ins[1] : &ins[0];
    if (setup(n, im->kind, &a, &q, &e) || q.N * q.C == 0 || q.P == 0) return 0;
    return sizeof(int64_t) * 3 * (size_t)(q.out[0] + q.out[1] + q.out[2]);
  }
  int kind = im->kind;
  args_of(kind, ins, &a);
  if (setup(n, kind, &a, &q, &e) || q.N == 0 || q.O == 0 || q.P == 0) return 0;
  int direct = q.KS == 1;
  for (int i = 0; i < 3; i++)
    if (q.s[i] != 1 || q.pb[i] || q.pa[i]) direct = 0;
  size_t es = tsi_dtype_size(a.x->dtype);
  int64_t per = q.P * q.K, nblk = 1, nw = 1, nr = q.N * q.P, ncol = 0;
  if (q.cf) {
    nw = nthreads < q.N ? nthreads : q.N;
    if (nw < 1) nw = 1;
    ncol = q.Cg == 1 && q.Og == 1 ? 0 : nw * fslot(&q, kind, direct);
  } else if (!direct) {
    nblk = q.K > 0 ? COL_BYTES / ((int64_t)es * q.K) : nr;
    if (nblk < MIN_ROWS) nblk = MIN_ROWS;
    if (nblk > nr) nblk = nr > 0 ? nr : 1;
    int64_t nblocks = nblk > 0 ? (nr + nblk - 1) / nblk : 0;
    nw = nthreads < nblocks ? nthreads : nblocks;
    if (kind == K_BPI && nw > q.N) nw = q.N;
    if (nw < 1) nw = 1;
    ncol = nw * (nblk * q.K + q.K * q.Og);
    if (q.Cg == 1 && q.Og == 1) {
      nw = dw_last_workers(&q, kind, nthreads);
      ncol = (kind == K_BPF ? nw - 1 : 0) * q.K * q.O;
    }
  }
  (void)per;
  return ncol > 0 ? (size_t)ncol * es : 0;
}
