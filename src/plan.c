/* Planning (once per fetch/feed set) and execution (every run).
 * The traversal is iterative so that long chains cannot overflow the C stack. */
#include <string.h>
#include <time.h>

#include "parallel.h"
#include "plan.h"

#define MAX_PLANS 32

struct tsi_plan {
  tsi_plan *next;
  int busy;            /* runs in progress (re-entrant from custom ops): pinned */
  int nfetch, nfeed;
  int *fetch, *feed;   /* the cache key, as given */
  int nsteps;
  int *node;           /* node id of each step, in execution order */
  int *in_off, *in;    /* inputs of step i: in[in_off[i] .. in_off[i+1]) as step indices */
  int *fetch_step;     /* step of each fetch */
  int *feed_of;        /* per step: index into feeds, or -1 */
  unsigned char *snapshot; /* copy the source's value (read before an update) */
  tsi_tensor *val;     /* value of each step during a run */
  /* Buffers are shared by steps whose values are never alive at once: slot[i]
   * is step i's buffer (-1: a feed or a source's own value), buf/cap are
   * indexed by slot. Liveness runs at plan time; a buffer grows to the largest
   * of its steps' results, so a repeated run with the same shapes allocates
   * nothing. */
  int *slot;
  int nslots, ninplace;
  void **buf;
  size_t *cap;
  tsi_tensor *scratch; /* input views for one step */
  int maxin;
  /* Shapes of the last run's feeds: when a run is fed the same shapes, every
   * step's output shape and buffer are those of the last run, and inference
   * is skipped (unless an op's shape is only known while running). */
  int64_t *feed_shapes; /* nfeed * (2 + TSI_MAXDIM): ndim, dims */
  int shapes_valid, has_dynamic;
  double *prof_s;      /* per step, when profiled */
  int profiled;
  /* Fusion: chains of element-wise ops whose intermediates have one
   * consumer run as one pass over memory, in cache-sized blocks, at the
   * step of their last op (the root). gmem[goff[r] .. goff[r+1]) lists a
   * root's members in order (root last); other steps have none. */
  int *root, *goff, *gmem;
  unsigned char *fuse_ok; /* per root: the last run's shapes allowed the fused pass */
  int *fsrc; /* per step input (as p->in): position of the input in its group, or -1 */
};

/* Frees a zalloc block with the size it was allocated with (osize matters to
 * host allocators). */
#define PFREE(p, n) do { if (p) a->f(a->ud, (p), zsize(n), 0); } while (0)
static size_t zsize(size_t n) { return n ? n : 1; }

static void plan_free(const tsi_alloc *a, tsi_plan *p) {
  if (!p) return;
  size_t ns = (size_t)p->nsteps;
  if (p->buf)
    for (size_t i = 0; i < ns; i++) tsi_free(a, p->buf[i]);
  PFREE(p->fetch, sizeof(int) * (size_t)p->nfetch);
  PFREE(p->feed, sizeof(int) * (size_t)p->nfeed);
  PFREE(p->node, sizeof(int) * ns);
  if (p->in_off) PFREE(p->in, sizeof(int) * (size_t)p->in_off[ns]);
  if (p->in_off) PFREE(p->fsrc, sizeof(int) * (size_t)p->in_off[ns]);
  PFREE(p->in_off, sizeof(int) * (ns + 1));
  PFREE(p->fetch_step, sizeof(int) * (size_t)p->nfetch);
  PFREE(p->feed_of, sizeof(int) * ns);
  PFREE(p->snapshot, ns);
  PFREE(p->val, sizeof(tsi_tensor) * ns);
  PFREE(p->buf, sizeof(void *) * ns);
  PFREE(p->cap, sizeof(size_t) * ns);
  PFREE(p->slot, sizeof(int) * ns);
  PFREE(p->prof_s, sizeof(double) * ns);
  PFREE(p->root, sizeof(int) * ns);
  PFREE(p->goff, sizeof(int) * (ns + 1));
  PFREE(p->gmem, sizeof(int) * ns);
  PFREE(p->fuse_ok, ns);
  PFREE(p->scratch, sizeof(tsi_tensor) * (size_t)(p->maxin ? p->maxin : 1));
  PFREE(p->feed_shapes, sizeof(int64_t) * (2 + TSI_MAXDIM) * (size_t)(p->nfeed ? p->nfeed : 1));
  a->f(a->ud, p, sizeof *p, 0);
}

void tsi_session_init(tsi_session *s, tsi_graph *g, const tsi_alloc *a) {
  memset(s, 0, sizeof *s);
  s->g = g;
  s->alloc = *a;
}

void tsi_session_clear(tsi_session *s) {
  tsi_plan **pp = &s->plans;
  while (*pp) {
    tsi_plan *p = *pp;
    if (p->busy) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    plan_free(&s->alloc, p);
    s->nplans--;
  }
}

static void *zalloc(const tsi_alloc *a, size_t n) {
  void *p = a->f(a->ud, NULL, 0, zsize(n));
  if (p) memset(p, 0, zsize(n));
  return p;
}

static int same_ints(const int *a, const int *b, int n) {
  return n == 0 || memcmp(a, b, sizeof(int) * (size_t)n) == 0;
}

/* The cached plan for this key (skipping pinned ones when idle is set). */
static tsi_plan *plan_lookup(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                             const int *feed, int idle) {
  tsi_plan *prev = NULL;
  for (tsi_plan *p = s->plans; p; prev = p, p = p->next) {
    if (!(idle && p->busy) && p->nfetch == nfetch && p->nfeed == nfeed && same_ints(p->fetch, fetch, nfetch) &&
        same_ints(p->feed, feed, nfeed)) {
      if (prev) { /* move to front */
        prev->next = p->next;
        p->next = s->plans;
        s->plans = p;
      }
      return p;
    }
  }
  return NULL;
}

#define FUSE_MAX 16   /* ops in one fused group */
#define FUSE_BLOCK 512 /* elements per block: 4 KB of float64 per op */

/* Groups element-wise steps (see tsi_plan). A step joins its consumer's
 * group when both have a block kernel and it has no other use. */
static int plan_fuse(tsi_plan *p, tsi_graph *g, const tsi_alloc *a, tsi_err *e) {
  int ns = p->nsteps;
  int *uses = zalloc(a, sizeof(int) * (size_t)ns), *size = zalloc(a, sizeof(int) * (size_t)ns);
  p->root = zalloc(a, sizeof(int) * (size_t)ns);
  p->goff = zalloc(a, sizeof(int) * ((size_t)ns + 1));
  p->gmem = zalloc(a, sizeof(int) * (size_t)ns);
  p->fuse_ok = zalloc(a, (size_t)ns);
  if (!uses || !size || !p->root || !p->goff || !p->gmem || !p->fuse_ok) {
    PFREE(uses, sizeof(int) * (size_t)ns);
    PFREE(size, sizeof(int) * (size_t)ns);
    return tsi_nomem(e, "a plan");
  }
  for (int i = 0; i < ns; i++)
    for (int j = p->in_off[i]; j < p->in_off[i + 1]; j++) uses[p->in[j]]++;
  for (int f = 0; f < p->nfetch; f++) uses[p->fetch_step[f]] += 2; /* fetched: kept */
  for (int i = 0; i < ns; i++) p->root[i] = -1;
  for (int i = ns - 1; i >= 0; i--) {
    if (p->root[i] < 0) p->root[i] = i, size[i] = 1;
    int r = p->root[i];
    if (!g->nodes[p->node[i]]->op->block || p->feed_of[i] >= 0) continue;
    for (int j = p->in_off[i]; j < p->in_off[i + 1]; j++) {
      int q = p->in[j];
      const tsi_node *qn = g->nodes[p->node[q]];
      if (p->root[q] < 0 && qn->op->block && uses[q] == 1 && p->feed_of[q] < 0 &&
          !p->snapshot[q] && size[r] < FUSE_MAX) {
        p->root[q] = r;
        size[r]++;
      }
    }
  }
  /* member lists by counting sort on the root, members in step order */
  int k = 0;
  for (int r = 0; r < ns; r++) {
    p->goff[r] = k;
    if (p->root[r] == r && size[r] >= 2) k += size[r];
  }
  p->goff[ns] = k;
  for (int r = 0; r < ns; r++) size[r] = 0; /* fill cursor */
  for (int i = 0; i < ns; i++) {
    int r = p->root[i];
    if (p->goff[r + 1] - p->goff[r] >= 2) p->gmem[p->goff[r] + size[r]++] = i;
  }
  p->fsrc = zalloc(a, sizeof(int) * (size_t)p->in_off[ns]);
  if (!p->fsrc) {
    PFREE(uses, sizeof(int) * (size_t)ns);
    PFREE(size, sizeof(int) * (size_t)ns);
    return tsi_nomem(e, "a plan");
  }
  for (int i = 0; i < ns; i++) {
    int r = p->root[i];
    for (int j = p->in_off[i]; j < p->in_off[i + 1]; j++) {
      int q = p->in[j];
      p->fsrc[j] = -1;
      if (p->root[q] == r && p->goff[r + 1] - p->goff[r] >= 2)
        for (int u = p->goff[r]; u < p->goff[r + 1]; u++)
          if (p->gmem[u] == q) p->fsrc[j] = u - p->goff[r];
    }
  }
  PFREE(uses, sizeof(int) * (size_t)ns);
  PFREE(size, sizeof(int) * (size_t)ns);
  return TSI_OK;
}

/* Liveness and buffer sharing. A step runs at its position, a fused group's
 * members at their root's; a value dies after the last position that reads
 * it (fetched values live on). At each position the outputs take free slots
 * first, then the values dying there give theirs back, so no step writes a
 * buffer it reads; except in place: an element-wise step (or fused root)
 * whose input of the same, fully known shape and dtype dies there takes that
 * input's buffer (each element is read before it is written). */
/* Both shapes fully known at build time, equal, and of one dtype: then the
 * run-time shapes are equal too. */
static int same_known(const tsi_tensor *a, const tsi_tensor *b) {
  if (a->ndim < 0 || a->dtype != b->dtype || !tsi_same_shape(a, b)) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] < 0) return 0;
  return 1;
}

static int plan_slots(tsi_plan *p, tsi_graph *g, const tsi_alloc *a, tsi_err *e) {
  int ns = p->nsteps, st = TSI_OK;
  int *pos = zalloc(a, sizeof(int) * (size_t)ns), *last = zalloc(a, sizeof(int) * (size_t)ns);
  int *freel = zalloc(a, sizeof(int) * (size_t)ns);
  unsigned char *gone = zalloc(a, (size_t)ns);
  p->slot = zalloc(a, sizeof(int) * (size_t)ns);
  if (!pos || !last || !freel || !gone || !p->slot) {
    st = tsi_nomem(e, "a plan");
    goto done;
  }
  for (int i = 0; i < ns; i++) {
    pos[i] = p->goff[p->root[i] + 1] - p->goff[p->root[i]] >= 2 ? p->root[i] : i;
    last[i] = -1;
  }
  for (int i = 0; i < ns; i++)
    for (int j = p->in_off[i]; j < p->in_off[i + 1]; j++)
      if (last[p->in[j]] < pos[i]) last[p->in[j]] = pos[i];
  for (int f = 0; f < p->nfetch; f++) last[p->fetch_step[f]] = ns;
  int nfree = 0;
  p->nslots = 0;
  for (int i = 0; i < ns; i++) {
    const tsi_node *n = g->nodes[p->node[i]];
    int own = p->feed_of[i] < 0 && (!(n->op->flags & TSI_OP_SOURCE) || p->snapshot[i]);
    p->slot[i] = -1;
    int lo = p->goff[i + 1] - p->goff[i] >= 2 ? p->goff[i] : -1;
    int hi = lo >= 0 ? p->goff[i + 1] : -1;
    if (own && pos[i] == i && n->op->block) { /* in place over an input dying here? */
      for (int u = lo >= 0 ? lo : 0; (lo >= 0 ? u < hi : u < 1) && p->slot[i] < 0; u++) {
        int m = lo >= 0 ? p->gmem[u] : i;
        for (int j = p->in_off[m]; j < p->in_off[m + 1]; j++) {
          int q = p->in[j];
          if (lo >= 0 && p->root[q] == i) continue; /* inside the group */
          if (last[q] == i && !gone[q] && p->slot[q] >= 0 &&
              !(g->nodes[p->node[q]]->op->flags & TSI_OP_SOURCE) &&
              same_known(&g->nodes[p->node[q]]->info, &n->info)) {
            p->slot[i] = p->slot[q];
            gone[q] = 1; /* its buffer passes to i */
            p->ninplace++;
            break;
          }
        }
      }
    }
    if (own && p->slot[i] < 0) p->slot[i] = nfree ? freel[--nfree] : p->nslots++;
    if (pos[i] != i) continue; /* a fused member: its inputs die at its root */
    for (int u = lo >= 0 ? lo : 0; lo >= 0 ? u < hi : u < 1; u++) {
      int m = lo >= 0 ? p->gmem[u] : i;
      for (int j = p->in_off[m]; j <= p->in_off[m + 1]; j++) {
        int q = j < p->in_off[m + 1] ? p->in[j] : m; /* its inputs, then m itself */
        if (last[q] == i && !gone[q] && p->slot[q] >= 0) {
          gone[q] = 1;
          freel[nfree++] = p->slot[q];
        }
      }
    }
  }
done:
  PFREE(pos, sizeof(int) * (size_t)ns);
  PFREE(last, sizeof(int) * (size_t)ns);
  PFREE(freel, sizeof(int) * (size_t)ns);
  PFREE(gone, (size_t)ns);
  return st;
}

/* Builds the plan: post-order DFS with an explicit stack, then stateful
 * nodes (and what depends on them) moved after every pure node. */
static int plan_build(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                      const int *feed, tsi_plan **out, tsi_err *e) {
  const tsi_alloc *a = &s->alloc;
  tsi_graph *g = s->g;
  size_t gn = (size_t)g->n;
  int st = TSI_OK;
  /* mark: 0 unseen, 1 on stack, 2 done; step index of each node afterwards */
  int *mark = zalloc(a, sizeof(int) * gn);
  int *stack = zalloc(a, sizeof(int) * 2 * gn);  /* (node, next input) pairs */
  int *order = zalloc(a, sizeof(int) * gn);
  int *feedidx = zalloc(a, sizeof(int) * gn);
  unsigned char *late = zalloc(a, gn);
  tsi_plan *p = zalloc(a, sizeof *p);
  if (!mark || !stack || !order || !feedidx || !late || !p) {
    st = tsi_nomem(e, "a plan");
    goto done;
  }
  for (size_t i = 0; i < gn; i++) feedidx[i] = -1;
  for (int i = 0; i < nfeed; i++) feedidx[feed[i]] = i;
  int norder = 0;
  for (int f = 0; f < nfetch; f++) {
    if (mark[fetch[f]]) continue;
    int sp = 0;
    stack[0] = fetch[f], stack[1] = 0, sp = 1;
    mark[fetch[f]] = 1;
    while (sp > 0) {
      int id = stack[2 * (sp - 1)], k = stack[2 * (sp - 1) + 1];
      tsi_node *n = g->nodes[id];
      if (feedidx[id] < 0 && k < n->ninputs) {
        stack[2 * (sp - 1) + 1] = k + 1;
        int in = n->inputs[k];
        if (!mark[in]) {
          mark[in] = 1;
          stack[2 * sp] = in, stack[2 * sp + 1] = 0;
          sp++;
        }
        continue;
      }
      sp--;
      mark[id] = 2;
      if (n->op == &tsi_op_placeholder && feedidx[id] < 0) {
        /* name the consumer that needs it, if any on the path */
        const char *by = sp > 0 ? g->nodes[stack[2 * (sp - 1)]]->name : NULL;
        if (by)
          st = tsi_fail(e, TSI_EARG, "placeholder '%s' must be fed a value (needed by '%s')",
                        n->name, by);
        else
          st = tsi_fail(e, TSI_EARG, "placeholder '%s' must be fed a value", n->name);
        goto done;
      }
      int isl = (n->op->flags & TSI_OP_STATEFUL) != 0;
      if (feedidx[id] < 0)
        for (int j = 0; j < n->ninputs && !isl; j++) isl = late[n->inputs[j]];
      late[id] = (unsigned char)isl;
      order[norder++] = id;
    }
  }
  /* stable partition: pure nodes first */
  int ns = norder, k = 0, any_late = 0;
  p->nsteps = ns;
  p->node = zalloc(a, sizeof(int) * (size_t)ns);
  p->in_off = zalloc(a, sizeof(int) * ((size_t)ns + 1));
  p->feed_of = zalloc(a, sizeof(int) * (size_t)ns);
  p->snapshot = zalloc(a, (size_t)ns);
  p->val = zalloc(a, sizeof(tsi_tensor) * (size_t)ns);
  p->buf = zalloc(a, sizeof(void *) * (size_t)ns);
  p->cap = zalloc(a, sizeof(size_t) * (size_t)ns);
  p->fetch = zalloc(a, sizeof(int) * (size_t)nfetch);
  p->feed = zalloc(a, sizeof(int) * (size_t)nfeed);
  p->fetch_step = zalloc(a, sizeof(int) * (size_t)nfetch);
  p->feed_shapes = zalloc(a, sizeof(int64_t) * (2 + TSI_MAXDIM) * (size_t)(nfeed ? nfeed : 1));
  p->nfetch = nfetch, p->nfeed = nfeed;
  if (!p->feed_shapes || !p->node || !p->in_off || !p->feed_of || !p->snapshot || !p->val || !p->buf ||
      !p->cap || !p->fetch || !p->feed || !p->fetch_step) {
    st = tsi_nomem(e, "a plan");
    goto done;
  }
  for (int i = 0; i < norder; i++)
    if (!late[order[i]]) p->node[k++] = order[i];
  for (int i = 0; i < norder; i++)
    if (late[order[i]]) p->node[k++] = order[i], any_late = 1;
  size_t nin = 0;
  int maxin = 0;
  for (int i = 0; i < ns; i++) {
    tsi_node *n = g->nodes[p->node[i]];
    mark[n->id] = i; /* node -> step */
    p->feed_of[i] = feedidx[n->id];
    int ni = p->feed_of[i] >= 0 ? 0 : n->ninputs;
    p->in_off[i] = (int)nin;
    nin += (size_t)ni;
    if (ni > maxin) maxin = ni;
    if (n->op->flags & TSI_OP_DYNAMIC) p->has_dynamic = 1;
  }
  p->in_off[ns] = (int)nin;
  p->in = zalloc(a, sizeof(int) * nin);
  p->maxin = maxin;
  p->scratch = zalloc(a, sizeof(tsi_tensor) * (size_t)(maxin ? maxin : 1));
  if (!p->in || !p->scratch) {
    st = tsi_nomem(e, "a plan");
    goto done;
  }
  for (int i = 0; i < ns; i++) {
    tsi_node *n = g->nodes[p->node[i]];
    for (int j = 0; j < p->in_off[i + 1] - p->in_off[i]; j++)
      p->in[p->in_off[i] + j] = mark[n->inputs[j]];
  }
  for (int f = 0; f < nfetch; f++) {
    p->fetch[f] = fetch[f];
    p->fetch_step[f] = mark[fetch[f]];
    /* a variable fetched beside an update is read before the update */
    if (any_late && g->nodes[fetch[f]]->op == &tsi_op_variable)
      p->snapshot[mark[fetch[f]]] = 1;
  }
  for (int i = 0; i < nfeed; i++) p->feed[i] = feed[i];
  if ((st = plan_fuse(p, g, a, e))) goto done;
  if ((st = plan_slots(p, g, a, e))) goto done;
done:
  if (st) {
    plan_free(a, p);
    p = NULL;
  }
  PFREE(mark, sizeof(int) * gn);
  PFREE(stack, sizeof(int) * 2 * gn);
  PFREE(order, sizeof(int) * gn);
  PFREE(feedidx, sizeof(int) * gn);
  PFREE(late, gn);
  *out = p;
  return st;
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

typedef struct dyn_ctx {
  tsi_plan *p;
  int step;
  tsi_session *s;
} dyn_ctx;

static int alloc_dynamic(tsi_runctx *ctx, tsi_tensor *out, tsi_err *e) {
  dyn_ctx *d = ctx->plan;
  return step_buffer(d->s, d->p, d->step, out, e);
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

static int step_buffer(tsi_session *s, tsi_plan *p, int i, tsi_tensor *out, tsi_err *e);

/* Step r is the root of a fused group: infer its members (when shapes
 * changed), then one fused pass, or op by op when broadcasting of
 * non-scalars makes a fused pass impossible. */
static const tsi_tensor *direct_dest(const tsi_plan *p, int i, const tsi_tensor *val,
                                     const tsi_tensor *dests, const tsi_tensor *feeds);

static int exec_group(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, int r, int same,
                      const tsi_tensor *dests, const tsi_tensor *feeds, tsi_err *e) {
  tsi_graph *g = s->g;
  const int *mem = p->gmem + p->goff[r];
  int k = p->goff[r + 1] - p->goff[r], st;
  tsi_tensor *o = &p->val[r];
  if (!same) {
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
    /* below a block, op-by-op kernels are cheaper than the fused loop's setup */
    p->fuse_ok[r] = (unsigned char)(ok && o->numel >= FUSE_BLOCK);
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
  tsi_parallel_for(threads, o->numel, FUSE_BLOCK, fused_range, &job);
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
  tsi_plan *p = plan_lookup(s, nfetch, fetch, nfeed, feed_ids, 1);
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

static int plan_exec(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, const tsi_tensor *feeds,
                     const tsi_tensor *dests, tsi_err *e) {
  tsi_graph *g = s->g;
  dyn_ctx dc = {p, 0, s};
  p->profiled = 0;
  if (ctx->profile) {
    if (!p->prof_s && !(p->prof_s = zalloc(&s->alloc, sizeof(double) * (size_t)p->nsteps)))
      return tsi_nomem(e, "a profile");
    memset(p->prof_s, 0, sizeof(double) * (size_t)p->nsteps);
  }
  ctx->plan = &dc;
  ctx->alloc_out = alloc_dynamic;
  ctx->g = g;
  /* Same feed shapes as last time: reuse the inferred shapes and buffers. */
  int same = feeds_same(p, feeds);
  for (int f = 0; f < p->nfeed; f++) {
    int64_t *fs = p->feed_shapes + (size_t)f * (2 + TSI_MAXDIM);
    const tsi_tensor *v = &feeds[f];
    fs[0] = v->ndim;
    fs[1] = v->dtype;
    for (int d = 0; d < v->ndim; d++) fs[2 + d] = v->shape[d];
  }
  p->shapes_valid = 0; /* set again only if the whole run succeeds */
  for (int i = 0; i < p->nsteps; i++) {
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
      }
      continue;
    }
    if (p->goff[p->root[i] + 1] - p->goff[p->root[i]] >= 2) { /* fused */
      if (p->root[i] != i) continue; /* runs with its root */
      double t0 = ctx->profile ? now_s() : 0;
      if ((st = exec_group(s, p, ctx, i, same, dests, feeds, e))) return st;
      if (ctx->profile) p->prof_s[i] = now_s() - t0;
      continue;
    }
    int ni = p->in_off[i + 1] - p->in_off[i];
    tsi_tensor *ins = p->scratch;
    for (int j = 0; j < ni; j++) ins[j] = p->val[p->in[p->in_off[i] + j]];
    if (same) {
      /* out still holds last run's shape; its buffer may have been grown since
       * by a later step sharing it */
      if (out->data) out->data = p->buf[p->slot[i]];
    } else if (n->op->flags & TSI_OP_DYNAMIC) {
      memset(out, 0, sizeof *out);
      dc.step = i;
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
  p->profiled = ctx->profile;
  p->shapes_valid = 1;
  return TSI_OK;
}

int tsi_session_run(tsi_session *s, tsi_runctx *ctx, int nfetch, const int *fetch,
                    int nfeed, const int *feed_ids, const tsi_tensor *feeds,
                    const tsi_tensor *dests, tsi_tensor *outs, tsi_plan **pin, tsi_err *e) {
  tsi_graph *g = s->g;
  *pin = NULL;
  for (int i = 0; i < nfeed; i++) {
    const tsi_node *n = g->nodes[feed_ids[i]];
    if (n->op != &tsi_op_placeholder)
      return tsi_fail(e, TSI_EARG, "cannot feed '%s': it is a %s, not a placeholder", n->name,
                      n->op->name);
  }
  tsi_plan *p = plan_lookup(s, nfetch, fetch, nfeed, feed_ids, 1);
  if (!p) {
    int st = plan_build(s, nfetch, fetch, nfeed, feed_ids, &p, e);
    if (st) return st;
    if (s->nplans >= MAX_PLANS) { /* drop the least recently used idle plan */
      tsi_plan **pp = &s->plans, **lru = NULL;
      for (; *pp; pp = &(*pp)->next)
        if (!(*pp)->busy) lru = pp;
      if (lru) {
        tsi_plan *q = *lru;
        *lru = q->next;
        plan_free(&s->alloc, q);
        s->nplans--;
      }
    }
    p->next = s->plans;
    s->plans = p;
    s->nplans++;
  }
  p->busy++;
  *pin = p;
  int st = plan_exec(s, p, ctx, feeds, dests, e);
  if (!st)
    for (int f = 0; f < nfetch; f++) outs[f] = p->val[p->fetch_step[f]];
  if (dests) /* the steps written into caller buffers own theirs again */
    for (int f = 0; f < nfetch; f++) {
      int i = p->fetch_step[f];
      if (p->slot[i] >= 0 && p->val[i].data && p->feed_of[i] < 0 &&
          !(g->nodes[p->node[i]]->op->flags & TSI_OP_SOURCE))
        p->val[i].data = p->buf[p->slot[i]];
    }
  return st;
}

void tsi_session_unpin(tsi_session *s, tsi_plan *p) {
  (void)s;
  if (p && p->busy > 0) p->busy--;
}

int tsi_session_plan_steps(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                           const int *feed_ids) {
  tsi_plan *p = plan_lookup(s, nfetch, fetch, nfeed, feed_ids, 0);
  return p ? p->nsteps : -1;
}

int tsi_session_in_place(const tsi_session *s) {
  int k = 0;
  for (const tsi_plan *p = s->plans; p; p = p->next) k += p->ninplace;
  return k;
}

int tsi_session_profile_steps(const tsi_session *s, const tsi_plan *p) {
  (void)s;
  return p && p->profiled ? p->nsteps : 0;
}

const tsi_node *tsi_session_profile_step(const tsi_session *s, const tsi_plan *p, int i,
                                         double *seconds, size_t *bytes) {
  *seconds = p->prof_s[i];
  *bytes = p->val[i].dtype >= 0 ? tsi_nbytes(&p->val[i]) : 0;
  return s->g->nodes[p->node[i]];
}
