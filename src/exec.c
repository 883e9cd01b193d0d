/* Execution, every run: buffers, the steps and fused groups, threads and
 * profiling, over a plan built by plan.c. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "parallel.h"
#include "plan_int.h"

int tsi_exec_alloc(const tsi_alloc *a, tsi_plan *p, tsi_err *e) {
  size_t ns = (size_t)p->nsteps;
  p->val = zalloc(a, sizeof(tsi_tensor) * ns);
  p->buf = zalloc(a, sizeof(void *) * ns);
  p->cap = zalloc(a, sizeof(size_t) * ns);
  p->scratch = zalloc(a, sizeof(tsi_tensor) * (size_t)(p->maxin ? p->maxin : 1));
  p->feed_shapes =
      zalloc(a, sizeof(int64_t) * (2 + TSI_MAXDIM) * (size_t)(p->nfeed ? p->nfeed : 1));
  p->fuse_ok = zalloc(a, ns);
  if (!p->val || !p->buf || !p->cap || !p->scratch || !p->feed_shapes || !p->fuse_ok)
    return tsi_nomem(e, "a plan");
  return TSI_OK;
}

void tsi_exec_free(const tsi_alloc *a, tsi_plan *p) {
  size_t ns = (size_t)p->nsteps;
  if (p->buf)
    for (size_t i = 0; i < ns; i++) tsi_free(a, p->buf[i]);
  PFREE(p->val, sizeof(tsi_tensor) * ns);
  PFREE(p->buf, sizeof(void *) * ns);
  PFREE(p->cap, sizeof(size_t) * ns);
  PFREE(p->scratch, sizeof(tsi_tensor) * (size_t)(p->maxin ? p->maxin : 1));
  PFREE(p->feed_shapes, sizeof(int64_t) * (2 + TSI_MAXDIM) * (size_t)(p->nfeed ? p->nfeed : 1));
  PFREE(p->fuse_ok, ns);
  PFREE(p->prof_s, sizeof(double) * ns);
  tsi_free(a, p->work);
}

/* Gives step i's buffer at least the bytes out needs. */
static int step_buffer(tsi_session *s, tsi_plan *p, int i, tsi_tensor *out, tsi_err *e) {
  const tsi_alloc *a = &s->alloc;
  size_t nb = tsi_nbytes(out);
  int k = p->slot[i];
  if (k < 0) return tsi_fail(e, TSI_EARG, "internal: step %d has no buffer", i);
  if (nb > p->cap[k] || !p->buf[k]) {
    tsi_free(a, p->buf[k]);
    p->buf[k] = NULL;
    p->cap[k] = 0;
    void *b = tsi_malloc(a, nb ? nb : 1);
    if (!b) return tsi_nomem(e, "a result");
    s->nallocs++;
    p->buf[k] = b;
    p->cap[k] = nb;
  }
  out->data = p->buf[k];
  return TSI_OK;
}

/* The step a TSI_OP_DYNAMIC op is running, for ctx->alloc_out (its
 * alloc_out_ud): the op learns its output shape only in run. */
typedef struct dynamic_step {
  tsi_session *s;
  tsi_plan *p;
  int step;
} dynamic_step;

static int alloc_dynamic(tsi_runctx *ctx, tsi_tensor *out, tsi_err *e) {
  dynamic_step *d = ctx->alloc_out_ud;
  return step_buffer(d->s, d->p, d->step, out, e);
}

/* ctx->work: the plan's work area, grown to n bytes (counted as an
 * allocation, like a step's buffer). */
static void *plan_work(tsi_runctx *ctx, size_t n, tsi_err *e) {
  dynamic_step *d = ctx->alloc_out_ud;
  tsi_plan *p = d->p;
  if (n > p->work_cap || !p->work) {
    const tsi_alloc *a = &d->s->alloc;
    tsi_free(a, p->work);
    p->work_cap = 0;
    if (!(p->work = tsi_malloc(a, n ? n : 1))) {
      tsi_nomem(e, "a kernel's scratch memory");
      return NULL;
    }
    d->s->nallocs++;
    p->work_cap = n;
  }
  return p->work;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------ fusion */

typedef struct fused_job {
  const tsi_plan *p;
  const tsi_graph *g;
  const int *mem;
  int k, r;
} fused_job;

/* Runs a fused group over elements [b0, b1) block by block: intermediates
 * live in a scratch block on this thread's stack and never reach memory. */
static void fused_range(void *arg, int64_t b0, int64_t b1) {
  const fused_job *J = arg;
  const tsi_plan *p = J->p;
  const tsi_tensor *o = &p->val[J->r];
  size_t es = tsi_dtype_size(o->dtype);
  int64_t bl = b1 - b0 < FUSE_BLOCK ? b1 - b0 : FUSE_BLOCK;
  double scratch[J->k][bl]; /* small for small tensors */
  for (int64_t blk = b0; blk < b1; blk += FUSE_BLOCK) {
    int64_t len = b1 - blk < FUSE_BLOCK ? b1 - blk : FUSE_BLOCK;
    /* The block's inputs of the later members, asked for now: their loads
     * overlap the first member's pass (exp(x) * y + z: y and z arrive while
     * exp computes; without, the mul and add passes each wait on memory). */
    for (int t = 1; t < J->k && len * (int64_t)es >= 256; t++) {
      int m = J->mem[t];
      for (int j = p->in_off[m]; j < p->in_off[m + 1]; j++) {
        const tsi_tensor *v = &p->val[p->in[j]];
        if (p->fsrc[j] >= 0 || v->numel == 1) continue;
        const char *a = (const char *)v->data + (size_t)blk * es;
        for (size_t q = 0; q < (size_t)len * es; q += 64) __builtin_prefetch(a + q, 0, 3);
      }
    }
    for (int t = 0; t < J->k; t++) {
      int m = J->mem[t];
      const tsi_node *n = J->g->nodes[p->node[m]];
      int ni = p->in_off[m + 1] - p->in_off[m];
      const void *in[4];
      unsigned char sc[4];
      for (int j = 0; j < ni && j < 4; j++) {
        int pos = p->fsrc[p->in_off[m] + j];
        if (pos >= 0) {
          in[j] = scratch[pos];
          sc[j] = 0;
        } else {
          const tsi_tensor *v = &p->val[p->in[p->in_off[m] + j]];
          sc[j] = v->numel == 1 && o->numel != 1;
          in[j] = (const char *)v->data + (sc[j] ? 0 : (size_t)blk * es);
        }
      }
      void *out = m == J->r ? (char *)o->data + (size_t)blk * es : (void *)scratch[t];
      n->op->block(n, o->dtype, len, in, sc, out);
    }
  }
}

/* The caller buffer step i may write its result into directly: a dest given
 * for a fetch of step i, of the same dtype and shape as the result about to
 * be computed, overlapping no feed (a later step may still read the feeds)
 * and no other fetch's dest (one step's result must not clobber another's). */
static const tsi_tensor *direct_dest(const tsi_plan *p, int i, const tsi_tensor *val,
                                     const tsi_tensor *dests, const tsi_tensor *feeds) {
  if (!dests) return NULL;
  for (int f = 0; f < p->nfetch; f++) {
    const tsi_tensor *d = &dests[f];
    if (p->fetch_step[f] != i || !d->data) continue;
    if (d->dtype != val->dtype || !tsi_same_shape(d, val)) return NULL;
    const char *a = d->data;
    size_t nb = tsi_nbytes(d);
    for (int k = 0; k < p->nfeed; k++) {
      const char *b = feeds[k].data;
      if (b && a < b + tsi_nbytes(&feeds[k]) && b < a + nb) return NULL;
    }
    for (int k = 0; k < p->nfetch; k++) { /* nor another fetch's dest: copied after */
      const char *b = dests[k].data;
      if (k != f && b && a < b + tsi_nbytes(&dests[k]) && b < a + nb) return NULL;
    }
    return d;
  }
  return NULL;
}

/* The shapes of fused group r's members (p->val) and whether the fused pass
 * applies to them (p->fuse_ok[r]); allocates nothing. */
static int group_infer(const tsi_graph *g, tsi_plan *p, int r, tsi_err *e) {
  const int *mem = p->gmem + p->goff[r];
  int k = p->goff[r + 1] - p->goff[r], st;
  const tsi_tensor *o = &p->val[r];
  for (int t = 0; t < k; t++) {
    int m = mem[t], ni = p->in_off[m + 1] - p->in_off[m];
    const tsi_node *n = g->nodes[p->node[m]];
    for (int j = 0; j < ni; j++) p->scratch[j] = p->val[p->in[p->in_off[m] + j]];
    memset(&p->val[m], 0, sizeof p->val[m]);
    if ((st = n->op->infer(n, p->scratch, ni, &p->val[m], e))) return st;
  }
  int ok = 1;
  for (int t = 0; t < k && ok; t++) {
    int m = mem[t];
    ok = ok && tsi_same_shape(&p->val[m], o) && p->val[m].dtype == o->dtype;
    for (int j = p->in_off[m]; j < p->in_off[m + 1] && ok; j++) {
      const tsi_tensor *v = &p->val[p->in[j]];
      if (p->root[p->in[j]] != r)
        ok = (tsi_same_shape(v, o) || v->numel == 1) && v->dtype == o->dtype;
    }
    ok = ok && p->in_off[m + 1] - p->in_off[m] <= 4;
  }
  /* below a block, op-by-op kernels are cheaper than the fused loop's setup, but for
   * tiny tensors (the 1000-add chain of scalars: 365 -> 310 instructions per op, callgrind) */
  p->fuse_ok[r] = (unsigned char)(ok && (o->numel >= FUSE_BLOCK || o->numel <= FUSE_SMALL));
  return TSI_OK;
}

/* Step r is the root of a fused group: infer its members (when shapes
 * changed), then one fused pass, or op by op when broadcasting of
 * non-scalars makes a fused pass impossible. */
static int exec_group(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, int r, int same,
                      const tsi_tensor *dests, const tsi_tensor *feeds, tsi_err *e) {
  tsi_graph *g = s->g;
  const int *mem = p->gmem + p->goff[r];
  int k = p->goff[r + 1] - p->goff[r], st;
  tsi_tensor *o = &p->val[r];
  if (!same) {
    if ((st = group_infer(g, p, r, e))) return st;
    for (int t = 0; t < k; t++)
      if ((!p->fuse_ok[r] || mem[t] == r) &&
          (st = step_buffer(s, p, mem[t], &p->val[mem[t]], e)))
        return st;
  }
  else
    for (int t = 0; t < k; t++)
      if (!p->fuse_ok[r] || mem[t] == r) p->val[mem[t]].data = p->buf[p->slot[mem[t]]];
  const tsi_tensor *dest = direct_dest(p, r, o, dests, feeds);
  if (dest) o->data = dest->data;
  if (!p->fuse_ok[r]) {
    for (int t = 0; t < k; t++) {
      int m = mem[t], ni = p->in_off[m + 1] - p->in_off[m];
      const tsi_node *n = g->nodes[p->node[m]];
      for (int j = 0; j < ni; j++) p->scratch[j] = p->val[p->in[p->in_off[m] + j]];
      if ((st = n->op->run(ctx, n, p->scratch, ni, &p->val[m], e))) return st;
    }
    return TSI_OK;
  }
  fused_job job = {p, g, mem, k, r};
  int threads = o->numel >= TSI_PAR_GRAIN ? ctx->nthreads : 1;
  tsi_parallel_for(ctx->pool, threads, o->numel, FUSE_BLOCK, fused_range, &job);
  return TSI_OK;
}

static int check_feed(const tsi_node *n, const tsi_tensor *v, tsi_err *e) {
  char a[96], b[96];
  const tsi_tensor *want = &n->info;
  if (v->dtype != want->dtype)
    return tsi_fail(e, TSI_EARG, "placeholder '%s' expects dtype %s, was fed %s", n->name,
                    tsi_dtype_name(want->dtype), tsi_dtype_name(v->dtype));
  if (want->ndim < 0) return TSI_OK;
  int ok = v->ndim == want->ndim;
  for (int i = 0; ok && i < want->ndim; i++)
    ok = want->shape[i] < 0 || want->shape[i] == v->shape[i];
  if (!ok)
    return tsi_fail(e, TSI_EARG, "placeholder '%s' expects shape %s, was fed shape %s",
                    n->name, tsi_shape_str(want, a, sizeof a), tsi_shape_str(v, b, sizeof b));
  return TSI_OK;
}


/* The feeds have the shapes and dtypes of the last successful run, whose
 * inferred shapes then hold again. */
static int feeds_same(const tsi_plan *p, const tsi_tensor *feeds) {
  if (!p->shapes_valid || p->has_dynamic) return 0;
  for (int f = 0; f < p->nfeed; f++) {
    const int64_t *fs = p->feed_shapes + (size_t)f * (2 + TSI_MAXDIM);
    const tsi_tensor *v = &feeds[f];
    if (fs[0] != v->ndim || fs[1] != v->dtype) return 0;
    for (int d = 0; d < v->ndim; d++)
      if (fs[2 + d] != v->shape[d]) return 0;
  }
  return 1;
}

int tsi_session_expect(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                       const int *feed_ids, const tsi_tensor *feeds, tsi_tensor *shapes) {
  tsi_plan *p = tsi_plan_lookup(s, nfetch, fetch, nfeed, feed_ids, 1);
  if (!p || !feeds_same(p, feeds)) return 0;
  for (int f = 0; f < nfetch; f++) {
    int i = p->fetch_step[f];
    const tsi_node *n = s->g->nodes[p->node[i]];
    shapes[f] = p->val[i];
    shapes[f].data = NULL;
    if (p->feed_of[i] >= 0 || (n->op->flags & (TSI_OP_SOURCE | TSI_OP_NOOUTPUT)))
      shapes[f].dtype = -1;
  }
  return 1;
}

static int plan_need(tsi_session *s, tsi_plan *p, int nthreads, const tsi_tensor *feeds,
                     int grow, tsi_plan_mem *m, tsi_err *e);

/* A run's start: the profile, and whether the last run's shapes hold again
 * (p->run_same). Then exec_steps from step 0. */
static int exec_begin(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, const tsi_tensor *feeds,
                      tsi_err *e) {
  p->profiled = 0;
  if (ctx->profile) {
    if (!p->prof_s && !(p->prof_s = zalloc(&s->alloc, sizeof(double) * (size_t)p->nsteps)))
      return tsi_nomem(e, "a profile");
    memset(p->prof_s, 0, sizeof(double) * (size_t)p->nsteps);
  }
  /* Same feed shapes as last time: reuse the inferred shapes and buffers. */
  p->run_same = feeds_same(p, feeds);
  for (int f = 0; f < p->nfeed; f++) {
    int64_t *fs = p->feed_shapes + (size_t)f * (2 + TSI_MAXDIM);
    const tsi_tensor *v = &feeds[f];
    fs[0] = v->ndim;
    fs[1] = v->dtype;
    for (int d = 0; d < v->ndim; d++) fs[2 + d] = v->shape[d];
  }
  p->shapes_valid = 0; /* set again only if the whole run succeeds */
  p->pos = 0;
  return TSI_OK;
}

/* Runs the plan's steps from p->pos on. A step that computes something (a
 * kernel, a fused group, a snapshot) counts against `budget` (<= 0: no
 * limit); after `budget` of them, or after the first once `deadline`
 * (monotonic seconds, 0: none) has passed, it stops with p->pos at the next
 * step and *done 0. Nothing of the run lives on the C stack between calls. */
static int exec_steps(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, const tsi_tensor *feeds,
                      const tsi_tensor *dests, long budget, double deadline, int *done,
                      tsi_err *e) {
  tsi_graph *g = s->g;
  dynamic_step dyn = {s, p, 0};
  int same = p->run_same;
  long ran = 0;
  ctx->alloc_out_ud = &dyn;
  ctx->alloc_out = alloc_dynamic;
  ctx->work = plan_work;
  ctx->g = g;
  *done = 0;
  for (int i = p->pos; i < p->nsteps; i++) {
    if (p->root[i] != i) continue; /* a fused group's member (never a feed or a source): runs
                                      with its root; first, before the node is even read */
    if (ran > 0 && ((budget > 0 && ran >= budget) || (deadline > 0 && now_s() >= deadline))) {
      p->pos = i;
      return TSI_OK;
    }
    const tsi_node *n = g->nodes[p->node[i]];
    tsi_tensor *out = &p->val[i];
    int st;
    if (p->feed_of[i] >= 0) {
      const tsi_tensor *v = &feeds[p->feed_of[i]];
      if ((st = check_feed(n, v, e))) return st;
      *out = *v;
      continue;
    }
    if (n->op->flags & TSI_OP_SOURCE) {
      *out = *n->value;
      if (p->snapshot[i]) {
        if ((st = step_buffer(s, p, i, out, e))) return st;
        if (tsi_nbytes(out)) memcpy(out->data, n->value->data, tsi_nbytes(out));
        ran++;
      }
      continue;
    }
    if (p->goff[i + 1] - p->goff[i] >= 2) { /* a fused group's root */
      double t0 = ctx->profile ? now_s() : 0;
      if ((st = exec_group(s, p, ctx, i, same, dests, feeds, e))) return st;
      if (ctx->profile) p->prof_s[i] = now_s() - t0;
      ran++;
      continue;
    }
    ran++;
    int ni = p->in_off[i + 1] - p->in_off[i];
    tsi_tensor *ins = p->scratch;
    for (int j = 0; j < ni; j++) ins[j] = p->val[p->in[p->in_off[i] + j]];
    if (same) {
      /* out still holds last run's shape; its buffer may have been grown since
       * by a later step sharing it */
      if (out->data) out->data = p->buf[p->slot[i]];
    } else if (n->op->flags & TSI_OP_DYNAMIC) {
      memset(out, 0, sizeof *out);
      dyn.step = i;
    } else {
      memset(out, 0, sizeof *out);
      if (n->op->infer && (st = n->op->infer(n, ins, ni, out, e))) return st;
      if (n->op->flags & TSI_OP_NOOUTPUT) {
        out->data = NULL;
        out->dtype = -1;
      } else if ((st = step_buffer(s, p, i, out, e))) {
        return st;
      }
    }
    if (dests && !(n->op->flags & (TSI_OP_DYNAMIC | TSI_OP_NOOUTPUT))) {
      const tsi_tensor *d = direct_dest(p, i, out, dests, feeds);
      if (d) out->data = d->data;
    }
    if (ctx->profile) {
      double t0 = now_s();
      if (n->op->run && (st = n->op->run(ctx, n, ins, ni, out, e))) return st;
      p->prof_s[i] = now_s() - t0;
    } else if (n->op->run && (st = n->op->run(ctx, n, ins, ni, out, e))) {
      return st;
    }
  }
  p->pos = p->nsteps;
  p->profiled = ctx->profile;
  p->shapes_valid = 1;
  *done = 1;
  return TSI_OK;
}

int tsi_session_start(tsi_session *s, tsi_runctx *ctx, int nfetch, const int *fetch, int nfeed,
                      const int *feed_ids, const tsi_tensor *feeds, size_t budget,
                      tsi_plan **pin, tsi_err *e) {
  tsi_plan *p;
  *pin = NULL;
  int st = tsi_plan_get(s, nfetch, fetch, nfeed, feed_ids, &p, e);
  if (st) return st;
  p->busy++;
  *pin = p;
  if (budget != SIZE_MAX && !feeds_same(p, feeds)) { /* new shapes: buffers may grow */
    tsi_plan_mem m;
    tsi_err e2;
    /* a step whose shape is known only while running: nothing to check up front */
    if (plan_need(s, p, ctx->nthreads, feeds, 1, &m, &e2) == TSI_OK && m.total > budget)
      return tsi_fail(e, TSI_EMEM,
                      "not enough memory for this run: its plan needs %zu bytes more (buffers "
                      "%zu, kernels' work area %zu, results %zu), the memory budget has %zu left",
                      m.total, m.buffers, m.work, m.results, budget);
  }
  return exec_begin(s, p, ctx, feeds, e);
}

int tsi_session_resume(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, const tsi_tensor *feeds,
                       const tsi_tensor *dests, tsi_tensor *outs, long steps, double deadline,
                       int *done, tsi_err *e) {
  tsi_graph *g = s->g;
  int st = exec_steps(s, p, ctx, feeds, dests, steps, deadline, done, e);
  if (!st && !*done) return TSI_OK; /* suspended: dests keep what was written there */
  if (!st)
    for (int f = 0; f < p->nfetch; f++) outs[f] = p->val[p->fetch_step[f]];
  if (dests) /* the steps written into caller buffers own theirs again */
    for (int f = 0; f < p->nfetch; f++) {
      int i = p->fetch_step[f];
      if (p->slot[i] >= 0 && p->val[i].data && p->feed_of[i] < 0 &&
          !(g->nodes[p->node[i]]->op->flags & TSI_OP_SOURCE))
        p->val[i].data = p->buf[p->slot[i]];
    }
  *done = 1;
  return st;
}

int tsi_session_run(tsi_session *s, tsi_runctx *ctx, int nfetch, const int *fetch,
                    int nfeed, const int *feed_ids, const tsi_tensor *feeds,
                    const tsi_tensor *dests, tsi_tensor *outs, tsi_plan **pin, tsi_err *e) {
  int done;
  int st = tsi_session_start(s, ctx, nfetch, fetch, nfeed, feed_ids, feeds, SIZE_MAX, pin, e);
  if (st) return st;
  return tsi_session_resume(s, *pin, ctx, feeds, dests, outs, 0, 0, &done, e);
}

double tsi_now(void) { return now_s(); }

/* ------------------------------------------------------------ memory */

/* What tsi_malloc takes for n bytes (its alignment header included). */
static size_t block_bytes(size_t n) { return (n ? n : 1) + 128; } /* tsi_malloc adds 2 * 64 (tensor.c) */

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* The memory a run of p with these feeds (shapes and dtypes; data may be
 * NULL) needs, by inferring every step's shape as a run would, without
 * running a kernel. `grow`: only what the plan has not allocated yet (a slot
 * or the work area already as large costs nothing). Leaves p->val and
 * fuse_ok as inferred and invalidates the last run's shapes: call it on an
 * idle or just-pinned plan, before exec_begin. TSI_EARG when a step's shape
 * is only known while running (TSI_OP_DYNAMIC) or a feed does not fit. */
static int plan_need(tsi_session *s, tsi_plan *p, int nthreads, const tsi_tensor *feeds,
                     int grow, tsi_plan_mem *m, tsi_err *e) {
  const tsi_graph *g = s->g;
  const tsi_alloc *a = &s->alloc;
  size_t *need = zalloc(a, sizeof(size_t) * (size_t)p->nsteps);
  if (!need) return tsi_nomem(e, "a memory estimate");
  int st = TSI_OK;
  size_t work = 0;
  memset(m, 0, sizeof *m);
  p->shapes_valid = 0;
  for (int i = 0; i < p->nsteps && !st; i++) {
    const tsi_node *n = g->nodes[p->node[i]];
    tsi_tensor *out = &p->val[i];
    if (p->feed_of[i] >= 0) {
      const tsi_tensor *v = &feeds[p->feed_of[i]];
      if ((st = check_feed(n, v, e))) break;
      *out = *v;
      continue;
    }
    if (n->op->flags & TSI_OP_SOURCE) {
      *out = *n->value;
      if (p->snapshot[i] && p->slot[i] >= 0 && tsi_nbytes(out) > need[p->slot[i]])
        need[p->slot[i]] = tsi_nbytes(out);
      continue;
    }
    if (n->op->flags & TSI_OP_DYNAMIC) { /* a custom op: its declared shape, if whole */
      int known = n->info.ndim >= 0;
      for (int d = 0; known && d < n->info.ndim; d++) known = n->info.shape[d] >= 0;
      if (!known) {
        char nb[128];
        st = tsi_fail(e, TSI_EARG, "%s: its output shape is known only while running",
                      tsi_opname(n, nb, sizeof nb));
        break;
      }
      *out = n->info;
      out->data = NULL;
      if (p->slot[i] >= 0 && tsi_nbytes(out) > need[p->slot[i]]) need[p->slot[i]] = tsi_nbytes(out);
      continue;
    }
    int fused = p->goff[p->root[i] + 1] - p->goff[p->root[i]] >= 2;
    if (fused && p->root[i] != i) continue;
    if (fused) {
      if ((st = group_infer(g, p, i, e))) break;
      const int *mem = p->gmem + p->goff[i];
      for (int t = 0; t < p->goff[i + 1] - p->goff[i]; t++) {
        int q = mem[t];
        if ((!p->fuse_ok[i] || q == i) && p->slot[q] >= 0 && tsi_nbytes(&p->val[q]) > need[p->slot[q]])
          need[p->slot[q]] = tsi_nbytes(&p->val[q]);
      }
      continue;
    }
    int ni = p->in_off[i + 1] - p->in_off[i];
    tsi_tensor *ins = p->scratch;
    for (int j = 0; j < ni; j++) ins[j] = p->val[p->in[p->in_off[i] + j]];
    memset(out, 0, sizeof *out);
    if (n->op->infer && (st = n->op->infer(n, ins, ni, out, e))) break;
    if (n->op->flags & TSI_OP_NOOUTPUT) {
      out->dtype = -1;
      continue;
    }
    if (p->slot[i] >= 0 && tsi_nbytes(out) > need[p->slot[i]]) need[p->slot[i]] = tsi_nbytes(out);
    size_t w = tsi_conv_work_bytes(n, ins, nthreads);
    if (w > work) work = w;
  }
  if (!st) {
    for (int k = 0; k < p->nsteps; k++) {
      if (!need[k] || (grow && p->buf[k] && p->cap[k] >= need[k])) continue;
      m->buffers = add_sat(m->buffers, block_bytes(need[k]));
      m->nbuffers++;
    }
    if (work && !(grow && p->work && p->work_cap >= work)) m->work = block_bytes(work);
    for (int f = 0; f < p->nfetch; f++) {
      const tsi_tensor *v = &p->val[p->fetch_step[f]];
      if (v->dtype >= 0) m->results = add_sat(m->results, block_bytes(tsi_nbytes(v)));
    }
    m->total = add_sat(add_sat(m->buffers, m->work), m->results);
    /* fused passes keep their intermediates on each worker's stack */
    for (int r = 0; r < p->nsteps; r++) {
      int k = p->goff[r + 1] - p->goff[r];
      if (k >= 2 && p->fuse_ok[r]) {
        size_t sb = (size_t)k * FUSE_BLOCK * sizeof(double);
        if (sb > m->stack) m->stack = sb;
      }
    }
  }
  PFREE(need, sizeof(size_t) * (size_t)p->nsteps);
  return st;
}

size_t tsi_session_bytes(const tsi_session *s) {
  size_t n = 0;
  for (const tsi_plan *p = s->plans; p; p = p->next) {
    for (int k = 0; k < p->nsteps; k++)
      if (p->buf[k]) n = add_sat(n, block_bytes(p->cap[k]));
    if (p->work) n = add_sat(n, block_bytes(p->work_cap));
  }
  return n;
}

int tsi_session_plan_memory(tsi_session *s, int nthreads, int nfetch, const int *fetch, int nfeed,
                            const int *feed_ids, const tsi_tensor *feeds, tsi_plan_mem *m,
                            tsi_err *e) {
  tsi_plan *p;
  int st = tsi_plan_get(s, nfetch, fetch, nfeed, feed_ids, &p, e);
  if (st) return st;
  p->busy++; /* nothing runs meanwhile, but planning must not evict it */
  st = plan_need(s, p, nthreads, feeds, 0, m, e);
  p->busy--;
  return st;
}

int tsi_session_profile_steps(const tsi_session *s, const tsi_plan *p) {
  return p && p->profiled ? p->nsteps : 0;
}

const tsi_node *tsi_session_profile_step(const tsi_session *s, const tsi_plan *p, int i,
                                         double *seconds, size_t *bytes) {
  *seconds = p->prof_s[i];
  *bytes = p->val[i].dtype >= 0 ? tsi_nbytes(&p->val[i]) : 0;
  return s->g->nodes[p->node[i]];
}
