/* Private to planning (plan.c) and execution (exec.c): the plan's layout and
 * what the two sides call of each other. Nothing else includes this. */
#ifndef TS_PLAN_INT_H
#define TS_PLAN_INT_H

#include <string.h>

#include "plan.h"

#define FUSE_MAX 16    /* ops in one fused group */
#define FUSE_BLOCK 512 /* elements per block: 4 KB of float64 per op */
#define FUSE_SMALL 4   /* and a fused pass for groups of at most this many elements */

struct tsi_plan {
  /* The session's cache: its list (plan.c) and the pins runs hold (exec.c). */
  tsi_plan *next;
  int busy;            /* runs in progress (re-entrant from custom ops): pinned */

  /* Built by planning (plan.c), read-only afterwards. */
  int nfetch, nfeed;
  int *fetch, *feed;   /* the cache key, as given */
  int nsteps;
  int *node;           /* node id of each step, in execution order */
  int *in_off, *in;    /* inputs of step i: in[in_off[i] .. in_off[i+1]) as step indices */
  int maxin;           /* most inputs of one step */
  int *fetch_step;     /* step of each fetch */
  int *feed_of;        /* per step: index into feeds, or -1 */
  unsigned char *snapshot; /* copy the source's value (read before an update) */
  int has_dynamic;     /* a step's shape is only known while running */
  /* Fusion: chains of element-wise ops whose intermediates have one
   * consumer run as one pass over memory, in cache-sized blocks, at the
   * step of their last op (the root). gmem[goff[r] .. goff[r+1]) lists a
   * root's members in order (root last); other steps have none. */
  int *root, *goff, *gmem;
  int *fsrc; /* per step input (as in): position of the input in its group, or -1 */
  /* Buffers are shared by steps whose values are never alive at once: slot[i]
   * is step i's buffer (-1: a feed or a source's own value), buf/cap are
   * indexed by slot. Liveness runs at plan time. */
  int *slot;
  int nslots, ninplace;

  /* Written by execution (exec.c) on every run; allocated with the plan. */
  tsi_tensor *val;     /* value of each step during a run */
  /* A slot's buffer grows to the largest of its steps' results, so a
   * repeated run with the same shapes allocates nothing. */
  void **buf;
  size_t *cap;
  tsi_tensor *scratch; /* input views for one step (maxin of them) */
  /* Shapes of the last run's feeds: when a run is fed the same shapes, every
   * step's output shape and buffer are those of the last run, and inference
   * is skipped (unless an op's shape is only known while running). */
  int64_t *feed_shapes; /* nfeed * (2 + TSI_MAXDIM): ndim, dims */
  int shapes_valid;
  unsigned char *fuse_ok; /* per root: the last run's shapes allowed the fused pass */
  double *prof_s;      /* per step, when profiled (allocated by the first profiled run) */
  /* Scratch of the kernels (ctx->work: conv's columns), the largest any step
   * asked for; steps run one at a time, so they share it. */
  void *work;
  size_t work_cap;
  int profiled;
  /* A run in progress (it may be suspended between steps, tsi_session_resume):
   * the next step to run, and whether the last run's shapes hold again. */
  int pos;
  int run_same;
};

/* Zeroed memory from a (at least one byte); PFREE gives such a block back
 * with the size it was allocated with (osize matters to host allocators). */
static inline size_t zsize(size_t n) { return n ? n : 1; }
static inline void *zalloc(const tsi_alloc *a, size_t n) {
  void *p = a->f(a->ud, NULL, 0, zsize(n));
  if (p) memset(p, 0, zsize(n));
  return p;
}
#define PFREE(p, n) do { if (p) a->f(a->ud, (p), zsize(n), 0); } while (0)

/* The cached plan for this key, moved to the front (skipping pinned ones
 * when idle is set); NULL if none. */
tsi_plan *tsi_plan_lookup(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                          const int *feed, int idle);
/* The cached idle plan for this key, or a new one built and cached (which
 * may evict the least recently used idle plan). Checks that the feeds are
 * placeholders. */
int tsi_plan_get(tsi_session *s, int nfetch, const int *fetch, int nfeed, const int *feed,
                 tsi_plan **out, tsi_err *e);

/* Bytes of the work area a convolution or pooling step (n with inputs ins)
 * asks for with nthreads workers; 0 for any other op. In ops_conv.c, beside
 * the kernels whose geometry it repeats. */
size_t tsi_conv_work_bytes(const tsi_node *n, const tsi_tensor *ins, int nthreads);

/* Execution's per-run arrays of a plan built as far as its slots (planning
 * calls these; tsi_exec_free also frees what runs allocated). */
int tsi_exec_alloc(const tsi_alloc *a, tsi_plan *p, tsi_err *e);
void tsi_exec_free(const tsi_alloc *a, tsi_plan *p);

#endif
