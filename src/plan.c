/* Planning, once per fetch/feed set: the order of the steps, fusion of
 * element-wise chains, liveness and buffer slots; and the session's cache of
 * plans. Running a plan is exec.c's. The traversal is iterative so that long
 * chains cannot overflow the C stack. */
#include <string.h>

#include "plan_int.h"

#define MAX_PLANS 32

static void plan_free(const tsi_alloc *a, tsi_plan *p) {
  if (!p) return;
  size_t ns = (size_t)p->nsteps;
  tsi_exec_free(a, p);
  PFREE(p->fetch, sizeof(int) * (size_t)p->nfetch);
  PFREE(p->feed, sizeof(int) * (size_t)p->nfeed);
  PFREE(p->node, sizeof(int) * ns);
  if (p->in_off) PFREE(p->in, sizeof(int) * (size_t)p->in_off[ns]);
  if (p->in_off) PFREE(p->fsrc, sizeof(int) * (size_t)p->in_off[ns]);
  PFREE(p->in_off, sizeof(int) * (ns + 1));
  PFREE(p->fetch_step, sizeof(int) * (size_t)p->nfetch);
  PFREE(p->feed_of, sizeof(int) * ns);
  PFREE(p->snapshot, ns);
  PFREE(p->slot, sizeof(int) * ns);
  PFREE(p->root, sizeof(int) * ns);
  PFREE(p->goff, sizeof(int) * (ns + 1));
  PFREE(p->gmem, sizeof(int) * ns);
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

static int same_ints(const int *a, const int *b, int n) {
  return n == 0 || memcmp(a, b, sizeof(int) * (size_t)n) == 0;
}

tsi_plan *tsi_plan_lookup(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                          const int *feed, int idle) {
  tsi_plan *prev = NULL;
  for (tsi_plan *p = s->plans; p; prev = p, p = p->next) {
    if (!(idle && p->busy) && p->nfetch == nfetch && p->nfeed == nfeed &&
        same_ints(p->fetch, fetch, nfetch) && same_ints(p->feed, feed, nfeed)) {
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

/* Groups element-wise steps (see tsi_plan). A step joins its consumer's
 * group when both have a block kernel and it has no other use. */
static int plan_fuse(tsi_plan *p, tsi_graph *g, const tsi_alloc *a, tsi_err *e) {
  int ns = p->nsteps;
  int *uses = zalloc(a, sizeof(int) * (size_t)ns), *size = zalloc(a, sizeof(int) * (size_t)ns);
  p->root = zalloc(a, sizeof(int) * (size_t)ns);
  p->goff = zalloc(a, sizeof(int) * ((size_t)ns + 1));
  p->gmem = zalloc(a, sizeof(int) * (size_t)ns);
  if (!uses || !size || !p->root || !p->goff || !p->gmem) {
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
  p->fetch = zalloc(a, sizeof(int) * (size_t)nfetch);
  p->feed = zalloc(a, sizeof(int) * (size_t)nfeed);
  p->fetch_step = zalloc(a, sizeof(int) * (size_t)nfetch);
  p->nfetch = nfetch, p->nfeed = nfeed;
  if (!p->node || !p->in_off || !p->feed_of || !p->snapshot || !p->fetch || !p->feed ||
      !p->fetch_step) {
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
  if (!p->in) {
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
  st = tsi_exec_alloc(a, p, e);
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

int tsi_plan_get(tsi_session *s, int nfetch, const int *fetch, int nfeed, const int *feed,
                 tsi_plan **out, tsi_err *e) {
  tsi_graph *g = s->g;
  for (int i = 0; i < nfeed; i++) {
    const tsi_node *n = g->nodes[feed[i]];
    if (n->op != &tsi_op_placeholder)
      return tsi_fail(e, TSI_EARG, "cannot feed '%s': it is a %s, not a placeholder", n->name,
                      n->op->name);
  }
  tsi_plan *p = tsi_plan_lookup(s, nfetch, fetch, nfeed, feed, 1);
  if (!p) {
    int st = plan_build(s, nfetch, fetch, nfeed, feed, &p, e);
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
  *out = p;
  return TSI_OK;
}

int tsi_session_pinned(const tsi_session *s) {
  int n = 0;
  for (const tsi_plan *p = s->plans; p; p = p->next) n += p->busy > 0;
  return n;
}

void tsi_session_unpin(tsi_session *s, tsi_plan *p) {
  if (p && p->busy > 0) p->busy--;
}

int tsi_session_plan_steps(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                           const int *feed_ids) {
  tsi_plan *p = tsi_plan_lookup(s, nfetch, fetch, nfeed, feed_ids, 0);
  return p ? p->nsteps : -1;
}

int tsi_session_in_place(const tsi_session *s) {
  int k = 0;
  for (const tsi_plan *p = s->plans; p; p = p->next) k += p->ninplace;
  return k;
}
