/* oneDNN (Debian libdnnl-dev) at bench/conv.lua's convolutions, for issue 14's side-by-side
 * ("measure oneDNN against your own kernel at the benchmark shapes"). Standalone: not linked
 * with tensorslow. float32, batch 64, SAME padding, stride 1, same keys as bench/conv.lua:
 *
 *   dnnl:<key>_fwd             forward_inference on the user layout itself (no format_tag_any)
 *   dnnl:<key>_fwd_blocked     forward_inference on dnnl's preferred layouts (format_tag_any),
 *                              the reorders user -> blocked (x, w) and blocked -> user (y) timed
 *   dnnl:<key>_fwd_prim        the same primitive alone on blocked memory (no reorder timed)
 *   dnnl:<key>_fwd_wblocked    x and y in the user layout, filters in dnnl's (format_tag_any),
 *                              their reorder timed (what a plain-layout library could keep)
 *   dnnl:<key>_fwdbwd[...]     forward_training + backward data + backward weights (y, dx, dw,
 *                              what conv.lua's fwdbwd fetches), the same four variants
 *
 * User layouts are tensorslow's: NHWC x [N,H,W,C] with filters [kh,kw,in,out] (dnnl nhwc/hwio;
 * depthwise [kh,kw,C,1], hwigo) and NCHW x [N,C,H,W] with filters [out,in,kh,kw] (nchw/oihw;
 * depthwise [C,1,kh,kw], goihw). dy is a buffer of ones filled once (d sum(y)/dy, not timed).
 * Median of REPS (default 7) runs after one warm-up; TS_THREADS (default 2) threads, set through
 * the runtime libdnnl was built with. Argument: keep only keys containing it (like conv.lua).
 * Each variant's user outputs are spot-checked against direct sums (exit 1 on a mismatch).
 *
 *   make bench-dnnl            (or: cc -O2 -fopenmp bench/dnnl_conv.c -o dnnl_conv -ldnnl)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

#define CHECK(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
  fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, dnnl_status2str(st_)); \
  exit(2); } } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* A user tensor: its plain-layout memory and the blocked copies primitives asked for. */
#define MAXALT 4
typedef struct {
  dnnl_memory_desc_t md;
  dnnl_memory_t mem;
  float *data;
  size_t n;
  int nalt;
  dnnl_memory_t alt[MAXALT];
} tensor;

/* One execution: a primitive and its arguments. */
#define MAXARGS 8
typedef struct {
  dnnl_primitive_t p;
  int nargs;
  dnnl_exec_arg_t args[MAXARGS];
} step;

#define MAXSTEPS 16
typedef struct {
  step in[MAXSTEPS], prim[MAXSTEPS], out[MAXSTEPS]; /* reorders to blocked, primitives, back */
  int nin, nprim, nout;
  dnnl_primitive_t owned[3 * MAXSTEPS];
  dnnl_primitive_desc_t pds[MAXSTEPS];
  int nowned, npds;
} plan;

static void tensor_init(tensor *t, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
  memset(t, 0, sizeof *t);
  CHECK(dnnl_memory_desc_init_by_tag(&t->md, ndims, dims, dnnl_f32, tag));
  size_t bytes = dnnl_memory_desc_get_size(&t->md);
  t->n = bytes / sizeof(float);
  t->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!t->data) { fprintf(stderr, "out of memory\n"); exit(2); }
  CHECK(dnnl_memory_create(&t->mem, &t->md, eng, t->data));
}

static void tensor_free(tensor *t)
{
  for (int i = 0; i < t->nalt; i++) dnnl_memory_destroy(t->alt[i]);
  dnnl_memory_destroy(t->mem);
  free(t->data);
}

static void add_step(step *s, int *n, dnnl_primitive_t p)
{
  if (*n >= MAXSTEPS) { fprintf(stderr, "too many steps\n"); exit(2); }
  s[*n].p = p;
  s[*n].nargs = 0;
  (*n)++;
}

static void add_arg(step *s, int arg, dnnl_memory_t m)
{
  s->args[s->nargs].arg = arg;
  s->args[s->nargs].memory = m;
  s->nargs++;
}

static dnnl_primitive_t make_prim(plan *pl, const_dnnl_primitive_desc_t pd)
{
  dnnl_primitive_t p;
  CHECK(dnnl_primitive_create(&p, pd));
  pl->owned[pl->nowned++] = p;
  return p;
}

/* The memory a primitive reads or writes for user tensor t in layout `want`: t's own when the
 * layouts are equal, else a blocked copy (made once per layout) with its reorder added to the
 * plan's input (before) or output (after) reorders. */
static dnnl_memory_t bind(plan *pl, tensor *t, const dnnl_memory_desc_t *want, int output)
{
  if (dnnl_memory_desc_equal(&t->md, want)) return t->mem;
  for (int i = 0; i < t->nalt; i++) {
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(t->alt[i], &md));
    if (dnnl_memory_desc_equal(md, want)) return t->alt[i];
  }
  if (t->nalt >= MAXALT) { fprintf(stderr, "too many layouts\n"); exit(2); }
  dnnl_memory_t m;
  CHECK(dnnl_memory_create(&m, want, eng, DNNL_MEMORY_ALLOCATE));
  t->alt[t->nalt++] = m;
  dnnl_primitive_desc_t rpd;
  if (output) CHECK(dnnl_reorder_primitive_desc_create(&rpd, want, eng, &t->md, eng, NULL));
  else CHECK(dnnl_reorder_primitive_desc_create(&rpd, &t->md, eng, want, eng, NULL));
  dnnl_primitive_t r = make_prim(pl, rpd);
  dnnl_primitive_desc_destroy(rpd);
  if (output) {
    add_step(pl->out, &pl->nout, r);
    add_arg(&pl->out[pl->nout - 1], DNNL_ARG_FROM, m);
    add_arg(&pl->out[pl->nout - 1], DNNL_ARG_TO, t->mem);
  } else {
    add_step(pl->in, &pl->nin, r);
    add_arg(&pl->in[pl->nin - 1], DNNL_ARG_FROM, t->mem);
    add_arg(&pl->in[pl->nin - 1], DNNL_ARG_TO, m);
  }
  return m;
}

static void run_steps(const step *s, int n)
{
  for (int i = 0; i < n; i++) CHECK(dnnl_primitive_execute(s[i].p, strm, s[i].nargs, s[i].args));
}

static void run_plan(const plan *pl, int with_reorders)
{
  if (with_reorders) run_steps(pl->in, pl->nin);
  run_steps(pl->prim, pl->nprim);
  if (with_reorders) run_steps(pl->out, pl->nout);
  CHECK(dnnl_stream_wait(strm));
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of reps timed runs after one warm-up (bench/median.lua's rule). */
static double median(const plan *pl, int with_reorders, int reps)
{
  double t[64];
  if (reps > 64) reps = 64;
  run_plan(pl, with_reorders);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    run_plan(pl, with_reorders);
    t[r] = now() - t0;
  }
  qsort(t, reps, sizeof t[0], cmp_double);
  return t[(reps - 1) / 2];
}


/* "aBcd8b"-style name of a memory layout (dnnl's own notation; the place of a dimension of
 * size 1 is arbitrary: its stride ties with a neighbour's). */
static void fmt_name(const dnnl_memory_desc_t *md, char *buf, size_t len)
{
  if (md->format_kind != dnnl_blocked) { snprintf(buf, len, "%s", dnnl_fmt_kind2str(md->format_kind)); return; }
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  int order[DNNL_MAX_NDIMS], nd = md->ndims;
  for (int i = 0; i < nd; i++) order[i] = i;
  for (int i = 0; i < nd; i++) /* outer dims by decreasing stride (stable) */
    for (int j = i + 1; j < nd; j++)
      if (b->strides[order[j]] > b->strides[order[i]]) { int x = order[i]; order[i] = order[j]; order[j] = x; }
  size_t k = 0;
  for (int i = 0; i < nd && k + 1 < len; i++) {
    int d = order[i], blocked = 0;
    for (int j = 0; j < b->inner_nblks; j++) blocked |= b->inner_idxs[j] == d;
    buf[k++] = (char)((blocked ? 'A' : 'a') + d);
  }
  buf[k] = 0;
  for (int j = 0; j < b->inner_nblks; j++)
    k += (size_t)snprintf(buf + k, len > k ? len - k : 0, "%d%c", (int)b->inner_blks[j], (int)('a' + b->inner_idxs[j]));
}

static void describe(const char *key, const char *what, const_dnnl_primitive_desc_t pd,
                     const dnnl_query_t *q, const char *const *names, int nq)
{
  const char *impl = NULL;
  CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
  printf("# %s %s: %s", key, what, impl);
  for (int i = 0; i < nq; i++) {
    char f[64];
    fmt_name(dnnl_primitive_desc_query_md(pd, q[i], 0), f, sizeof f);
    printf(" %s=%s", names[i], f);
  }
  printf("\n");
}

/* ---- the problem ---- */
typedef struct {
  const char *name;
  int h, ci, co, k, dw;
} shape;

static const shape SHAPES[] = {
  { "28x28x1-32k5", 28, 1, 32, 5, 0 },
  { "14x14x32-64k5", 14, 32, 64, 5, 0 },
  { "56x56x64-64k3", 56, 64, 64, 3, 0 },
  { "56x56x64-256k1", 56, 64, 256, 1, 0 },
  { "7x7x512-512k3dw", 7, 512, 512, 3, 1 },
};
enum { N = 64 };

typedef struct {
  const shape *s;
  int nhwc;
  tensor x, w, y, dy, dx, dw;
  int wnd;
  dnnl_dims_t wdims;
} problem;

static size_t xi(const problem *p, int c, int n, int ch, int h, int w)
{
  int H = p->s->h;
  if (p->nhwc) return (((size_t)n * H + h) * H + w) * c + ch;
  return (((size_t)n * c + ch) * H + h) * H + w;
}

/* filter element (o, i, kh, kw); for depthwise o == i is the channel */
static size_t wi(const problem *p, int o, int i, int kh, int kw)
{
  const shape *s = p->s;
  int K = s->k;
  if (s->dw) return p->nhwc ? ((size_t)kh * K + kw) * s->ci + o : ((size_t)o * K + kh) * K + kw;
  if (p->nhwc) return (((size_t)kh * K + kw) * s->ci + i) * s->co + o;
  return (((size_t)o * s->ci + i) * K + kh) * K + kw;
}

static unsigned long long rng_state = 88172645463325252ULL;
static float frand(void) /* uniform in [-1, 1) */
{
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static void problem_init(problem *p, const shape *s, int nhwc)
{
  memset(p, 0, sizeof *p);
  p->s = s;
  p->nhwc = nhwc;
  dnnl_dims_t xd = { N, s->ci, s->h, s->h }, yd = { N, s->co, s->h, s->h };
  dnnl_format_tag_t dt = nhwc ? dnnl_nhwc : dnnl_nchw;
  tensor_init(&p->x, 4, xd, dt);
  tensor_init(&p->dx, 4, xd, dt);
  tensor_init(&p->y, 4, yd, dt);
  tensor_init(&p->dy, 4, yd, dt);
  dnnl_format_tag_t wt;
  if (s->dw) {
    p->wnd = 5;
    dnnl_dims_t d = { s->ci, 1, 1, s->k, s->k };
    memcpy(p->wdims, d, sizeof d);
    wt = nhwc ? dnnl_hwigo : dnnl_goihw;
  } else {
    p->wnd = 4;
    dnnl_dims_t d = { s->co, s->ci, s->k, s->k };
    memcpy(p->wdims, d, sizeof d);
    wt = nhwc ? dnnl_hwio : dnnl_oihw;
  }
  tensor_init(&p->w, p->wnd, p->wdims, wt);
  tensor_init(&p->dw, p->wnd, p->wdims, wt);
  for (size_t i = 0; i < p->x.n; i++) p->x.data[i] = frand();
  for (size_t i = 0; i < p->w.n; i++) p->w.data[i] = 0.1f * frand();
  for (size_t i = 0; i < p->dy.n; i++) p->dy.data[i] = 1.0f;
}

static void problem_free(problem *p)
{
  tensor *t[] = { &p->x, &p->w, &p->y, &p->dy, &p->dx, &p->dw };
  for (int i = 0; i < 6; i++) tensor_free(t[i]);
}

static void clear_outputs(problem *p)
{
  memset(p->y.data, 0, p->y.n * sizeof(float));
  memset(p->dx.data, 0, p->dx.n * sizeof(float));
  memset(p->dw.data, 0, p->dw.n * sizeof(float));
}

/* Frees the plan's primitives and the blocked copies of p's tensors it made. */
static void plan_free(plan *pl, problem *p)
{
  for (int i = 0; i < pl->nowned; i++) dnnl_primitive_destroy(pl->owned[i]);
  for (int i = 0; i < pl->npds; i++) dnnl_primitive_desc_destroy(pl->pds[i]);
  memset(pl, 0, sizeof *pl);
  tensor *t[] = { &p->x, &p->w, &p->y, &p->dy, &p->dx, &p->dw };
  for (int i = 0; i < 6; i++) {
    for (int j = 0; j < t[i]->nalt; j++) dnnl_memory_destroy(t[i]->alt[j]);
    t[i]->nalt = 0;
  }
}

/* Builds the plan: forward (training when bwd) and, when bwd, backward data and weights.
 * layouts: USER (the user layouts), ANY (format_tag_any for every tensor) or WANY (user layouts
 * for x, y, dy, dx; format_tag_any for w and dw). Returns 0 when dnnl has no implementation. */
enum { USER, ANY, WANY };
static int build(plan *pl, problem *p, int layouts, int bwd, const char *key)
{
  const shape *s = p->s;
  memset(pl, 0, sizeof *pl);
  dnnl_memory_desc_t xa, wa, ya;
  const dnnl_memory_desc_t *xm = &p->x.md, *wm = &p->w.md, *ym = &p->y.md;
  int any = layouts == ANY;
  if (layouts != USER) {
    CHECK(dnnl_memory_desc_init_by_tag(&wa, p->wnd, p->wdims, dnnl_f32, dnnl_format_tag_any));
    wm = &wa;
  }
  if (any) {
    dnnl_dims_t xd = { N, s->ci, s->h, s->h }, yd = { N, s->co, s->h, s->h };
    CHECK(dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any));
    xm = &xa; ym = &ya;
  }
  int pad = (s->k - 1) / 2; /* SAME, stride 1, odd k */
  dnnl_dims_t strides = { 1, 1 }, padl = { pad, pad }, padr = { pad, pad };
  dnnl_convolution_desc_t fd, bdd, bwd_d;
  CHECK(dnnl_convolution_forward_desc_init(&fd, bwd ? dnnl_forward_training : dnnl_forward_inference,
                                           dnnl_convolution_direct, xm, wm, NULL, ym, strides, padl, padr));
  dnnl_primitive_desc_t fpd;
  dnnl_status_t st = dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL);
  if (st == dnnl_unimplemented) return 0;
  CHECK(st);
  pl->pds[pl->npds++] = fpd;
  static const dnnl_query_t fq[] = { dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md };
  static const char *const fn[] = { "src", "wei", "dst" };
  describe(key, bwd ? "fwd_training" : "fwd_inference", fpd, fq, fn, 3);
  const dnnl_memory_desc_t *fx = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *fw = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *fy = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
  step *st_f;
  add_step(pl->prim, &pl->nprim, make_prim(pl, fpd));
  st_f = &pl->prim[pl->nprim - 1];
  add_arg(st_f, DNNL_ARG_SRC, bind(pl, &p->x, fx, 0));
  add_arg(st_f, DNNL_ARG_WEIGHTS, bind(pl, &p->w, fw, 0));
  add_arg(st_f, DNNL_ARG_DST, bind(pl, &p->y, fy, 1));
  if (!bwd) return 1;

  const dnnl_memory_desc_t *dxm = any ? &xa : &p->dx.md, *dym = any ? &ya : &p->dy.md;
  const dnnl_memory_desc_t *dwm = layouts != USER ? &wa : &p->dw.md;
  CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, dxm, wm, dym,
                                                 strides, padl, padr));
  dnnl_primitive_desc_t dpd;
  st = dnnl_primitive_desc_create(&dpd, &bdd, NULL, eng, fpd);
  if (st == dnnl_unimplemented) return 0;
  CHECK(st);
  pl->pds[pl->npds++] = dpd;
  static const dnnl_query_t dq[] = { dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md };
  static const char *const dn[] = { "diff_dst", "wei", "diff_src" };
  describe(key, "bwd_data", dpd, dq, dn, 3);
  add_step(pl->prim, &pl->nprim, make_prim(pl, dpd));
  step *sd = &pl->prim[pl->nprim - 1];
  add_arg(sd, DNNL_ARG_DIFF_DST, bind(pl, &p->dy, dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0), 0));
  add_arg(sd, DNNL_ARG_WEIGHTS, bind(pl, &p->w, dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0), 0));
  add_arg(sd, DNNL_ARG_DIFF_SRC, bind(pl, &p->dx, dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0), 1));

  CHECK(dnnl_convolution_backward_weights_desc_init(&bwd_d, dnnl_convolution_direct, xm, dwm, NULL, dym,
                                                    strides, padl, padr));
  dnnl_primitive_desc_t wpd;
  st = dnnl_primitive_desc_create(&wpd, &bwd_d, NULL, eng, fpd);
  if (st == dnnl_unimplemented) return 0;
  CHECK(st);
  pl->pds[pl->npds++] = wpd;
  static const dnnl_query_t wq[] = { dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md };
  static const char *const wn[] = { "src", "diff_dst", "diff_wei" };
  describe(key, "bwd_weights", wpd, wq, wn, 3);
  add_step(pl->prim, &pl->nprim, make_prim(pl, wpd));
  step *sw = &pl->prim[pl->nprim - 1];
  add_arg(sw, DNNL_ARG_SRC, bind(pl, &p->x, dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0), 0));
  add_arg(sw, DNNL_ARG_DIFF_DST, bind(pl, &p->dy, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0), 0));
  add_arg(sw, DNNL_ARG_DIFF_WEIGHTS, bind(pl, &p->dw, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0), 1));
  return 1;
}

/* Direct sums at a few points of y (and, with bwd, dx and dw for dy = 1), against the user
 * outputs the last run wrote. */
static int check(const problem *p, int bwd, const char *key)
{
  const shape *s = p->s;
  int K = s->k, H = s->h, pad = (K - 1) / 2, bad = 0;
  for (int t = 0; t < 6; t++) {
    int n = (int)((frand() + 1) * 0.5f * N) % N, o = (int)((frand() + 1) * 0.5f * s->co) % s->co;
    int h = t == 0 ? 0 : (int)((frand() + 1) * 0.5f * H) % H, w = t == 1 ? H - 1 : (int)((frand() + 1) * 0.5f * H) % H;
    double ref = 0, mag = 0;
    for (int i = s->dw ? o : 0; i < (s->dw ? o + 1 : s->ci); i++)
      for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++) {
          int ih = h + kh - pad, iw = w + kw - pad;
          if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
          double v = (double)p->x.data[xi(p, s->ci, n, i, ih, iw)] * p->w.data[wi(p, o, i, kh, kw)];
          ref += v; mag += fabs(v);
        }
    double got = p->y.data[xi(p, s->co, n, o, h, w)];
    if (fabs(got - ref) > 1e-4 * mag + 1e-6) { printf("# %s: y[%d,%d,%d,%d] %g, direct sum %g\n", key, n, o, h, w, got, ref); bad = 1; }
    if (!bwd) continue;
    /* dx[n, i=o', h, w] = sum over filters reaching (h, w) */
    int i = o % s->ci;
    ref = 0; mag = 0;
    for (int oo = s->dw ? i : 0; oo < (s->dw ? i + 1 : s->co); oo++)
      for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++) {
          int oh = h - kh + pad, ow = w - kw + pad;
          if (oh < 0 || oh >= H || ow < 0 || ow >= H) continue;
          double v = p->w.data[wi(p, oo, i, kh, kw)];
          ref += v; mag += fabs(v);
        }
    got = p->dx.data[xi(p, s->ci, n, i, h, w)];
    if (fabs(got - ref) > 1e-4 * mag + 1e-6) { printf("# %s: dx[%d,%d,%d,%d] %g, direct sum %g\n", key, n, i, h, w, got, ref); bad = 1; }
    /* dw[o, i, kh, kw] = sum of x over the positions it touches */
    int kh = (int)((frand() + 1) * 0.5f * K) % K, kw = (int)((frand() + 1) * 0.5f * K) % K;
    int wi_in = s->dw ? o : (int)((frand() + 1) * 0.5f * s->ci) % s->ci;
    ref = 0; mag = 0;
    for (int nn = 0; nn < N; nn++)
      for (int oh = 0; oh < H; oh++)
        for (int ow = 0; ow < H; ow++) {
          int ih = oh + kh - pad, iw = ow + kw - pad;
          if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
          double v = p->x.data[xi(p, s->ci, nn, wi_in, ih, iw)];
          ref += v; mag += fabs(v);
        }
    got = p->dw.data[wi(p, o, wi_in, kh, kw)];
    if (fabs(got - ref) > 1e-4 * mag + 1e-6) { printf("# %s: dw[%d,%d,%d,%d] %g, direct sum %g\n", key, o, wi_in, kh, kw, got, ref); bad = 1; }
  }
  return bad;
}

int main(int argc, char **argv)
{
  const char *only = argc > 1 && argv[1][0] ? argv[1] : NULL;
  const char *e = getenv("REPS");
  int reps = e && atoi(e) > 0 ? atoi(e) : 7;
  e = getenv("TS_THREADS");
  int threads = e && atoi(e) > 0 ? atoi(e) : 2;
  const dnnl_version_t *v = dnnl_version();
  printf("dnnl:threads %d\n", threads);
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(threads);
  printf("# threads: libdnnl's CPU runtime is OpenMP (libgomp): omp_set_num_threads(%d), "
         "omp_get_max_threads() = %d, OMP_NUM_THREADS=%s\n",
         threads, omp_get_max_threads(), getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "(unset)");
#else
  printf("# threads: libdnnl's CPU runtime is %s, not OpenMP: set its thread count by hand\n",
         dnnl_runtime2str(v->cpu_runtime));
#endif
  printf("# OPENBLAS_CORETYPE=%s oneDNN %d.%d.%d (hash %s) cpu runtime %s, ISA %s, float32, batch %d, REPS %d\n",
         getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)",
         v->major, v->minor, v->patch, v->hash ? v->hash : "-", dnnl_runtime2str(v->cpu_runtime),
         dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()), N, reps);
  fflush(stdout);
  CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));

  int bad = 0;
  for (int f = 0; f < 2; f++) {
    int nhwc = f == 0;
    for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
      char base[64];
      snprintf(base, sizeof base, "%s_%s", nhwc ? "nhwc" : "nchw", SHAPES[si].name);
      if (only && !strstr(base, only)) continue;
      problem p;
      problem_init(&p, &SHAPES[si], nhwc);
      for (int bwd = 0; bwd < 2; bwd++) {
        char key[80];
        snprintf(key, sizeof key, "%s_%s", base, bwd ? "fwdbwd" : "fwd");
        plan pl;
        /* (a) the user layouts themselves */
        clear_outputs(&p);
        if (build(&pl, &p, USER, bwd, key)) {
          printf("dnnl:%s %.9g\n", key, median(&pl, 0, reps));
          bad |= check(&p, bwd, key);
        } else {
          printf("# %s: no oneDNN implementation on the user layouts\n", key);
        }
        plan_free(&pl, &p);
        /* (b) dnnl's layouts, reorders timed; (c) the primitives alone */
        if (!build(&pl, &p, ANY, bwd, key)) { fprintf(stderr, "%s: no oneDNN implementation\n", key); exit(2); }
        clear_outputs(&p);
        printf("dnnl:%s_blocked %.9g\n", key, median(&pl, 1, reps));
        bad |= check(&p, bwd, key);
        printf("dnnl:%s_prim %.9g\n", key, median(&pl, 0, reps));
        fflush(stdout);
        plan_free(&pl, &p);
        /* (d) user layouts for the activations, dnnl's for the filters (their reorders timed) */
        clear_outputs(&p);
        if (build(&pl, &p, WANY, bwd, key)) {
          printf("dnnl:%s_wblocked %.9g\n", key, median(&pl, 1, reps));
          bad |= check(&p, bwd, key);
        } else {
          printf("# %s: no oneDNN implementation on the user layouts with blocked filters\n", key);
        }
        fflush(stdout);
        plan_free(&pl, &p);
      }
      problem_free(&p);
    }
  }
  dnnl_stream_destroy(strm);
  dnnl_engine_destroy(eng);
  if (bad) { printf("# dnnl_conv: a spot check failed\n"); return 1; }
  return 0;
}
