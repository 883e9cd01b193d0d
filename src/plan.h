/* Plans (the ordered steps for one set of fetches and feeds, with their
 * buffers) and the session that caches them and runs them. Planning is in
 * plan.c, execution in exec.c; plan_int.h is private to the two. */
#ifndef TS_PLAN_H
#define TS_PLAN_H

#include "ops.h"

typedef struct tsi_plan tsi_plan;

typedef struct tsi_session {
  tsi_graph *g;
  tsi_alloc alloc;
  tsi_plan *plans; /* most recently used first */
  int nplans;
  size_t nallocs;  /* buffers plans have allocated, for specs and stats */
} tsi_session;

void tsi_session_init(tsi_session *s, tsi_graph *g, const tsi_alloc *a);
/* Frees every plan not pinned by a run in progress (those stay cached). */
void tsi_session_clear(tsi_session *s);

/* Runs the fetches. feeds[i] is the value of placeholder feed_ids[i] (the
 * caller keeps it alive during the call). *pin is set (even on failure) to
 * the plan run, or NULL: it stays pinned (its values and buffers unchanged,
 * never evicted or freed) until tsi_session_unpin. A run made while a plan is
 * pinned (from a custom op, re-entrantly) uses or builds another plan. On
 * success outs[i] views the value of fetch[i] (valid while pinned); data is
 * NULL for an op that yields nothing. dests (NULL, or one per fetch, data NULL for none)
 * are caller buffers: a computed fetch of exactly dests[i]'s dtype and shape,
 * whose memory overlaps no feed, is written there directly (outs[i].data ==
 * dests[i].data); the caller copies the others. */
int tsi_session_run(tsi_session *s, tsi_runctx *ctx, int nfetch, const int *fetch,
                    int nfeed, const int *feed_ids, const tsi_tensor *feeds,
                    const tsi_tensor *dests, tsi_tensor *outs, tsi_plan **pin, tsi_err *e);
void tsi_session_unpin(tsi_session *s, tsi_plan *p);

/* The same run in slices (a host that yields between steps). start pins the
 * plan (*pin, as above) and checks nothing else; resume runs up to `steps`
 * more computing steps (<= 0: all) or stops after the first step that ends
 * past `deadline` (tsi_now() seconds, 0: none), and sets *done. While not
 * done the plan stays pinned and its position is kept on it (p->pos), so the
 * caller may return to its own loop and call resume again with the same
 * feeds and dests; once done (or on an error) outs are as tsi_session_run's.
 * budget (SIZE_MAX: none): the bytes the allocator has left; a run with new
 * feed shapes whose plan needs more (tsi_plan_mem.total, counting only what
 * is not allocated yet) fails up front with TSI_EMEM, the plan pinned. */
int tsi_session_start(tsi_session *s, tsi_runctx *ctx, int nfetch, const int *fetch, int nfeed,
                      const int *feed_ids, const tsi_tensor *feeds, size_t budget,
                      tsi_plan **pin, tsi_err *e);
int tsi_session_resume(tsi_session *s, tsi_plan *p, tsi_runctx *ctx, const tsi_tensor *feeds,
                       const tsi_tensor *dests, tsi_tensor *outs, long steps, double deadline,
                       int *done, tsi_err *e);
/* Memory a run of a plan needs (bytes as the allocator sees them: each
 * block with its alignment header). */
typedef struct tsi_plan_mem {
  size_t total;    /* buffers + work + results: the peak a run adds */
  size_t buffers;  /* the slot buffers (kept with the plan between runs) */
  int nbuffers;
  size_t work;     /* the kernels' work area (conv's columns, pool windows) */
  size_t results;  /* the fetched values, copied out of the plan */
  size_t stack;    /* per worker thread, on its stack: a fused pass's block */
} tsi_plan_mem;
/* The memory a run of the plan for these fetches needs with feeds of these
 * shapes and dtypes (their data may be NULL), before running it: the plan
 * is built (and cached) and every step's shape inferred. nthreads: the
 * run's (conv's columns are per worker). TSI_EARG when a step's shape is
 * only known while running. */
int tsi_session_plan_memory(tsi_session *s, int nthreads, int nfetch, const int *fetch, int nfeed,
                            const int *feed_ids, const tsi_tensor *feeds, tsi_plan_mem *m,
                            tsi_err *e);

/* Bytes the cached plans hold in buffers and work areas (allocation
 * headers included): what tsi_plan_mem's buffers + work become after runs. */
size_t tsi_session_bytes(const tsi_session *s);

/* Cached plans pinned by runs in progress (suspended ones included). */
int tsi_session_pinned(const tsi_session *s);
/* Monotonic seconds. */
double tsi_now(void);

/* When the cached plan for these fetches will reuse its last run's shapes
 * (the feeds have the same shapes and dtypes), fills shapes[i] with the
 * dtype and shape fetch i will have (dtype -1: a fed value, a source or
 * nothing, never written to a dest) and returns 1; else returns 0. Lets the
 * caller allocate results up front and pass them as dests (no copy). */
int tsi_session_expect(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                       const int *feed_ids, const tsi_tensor *feeds, tsi_tensor *shapes);

/* Number of steps the cached plan for these fetches has (-1 if none): for
 * specs that check caching and pruning. */
int tsi_session_plan_steps(tsi_session *s, int nfetch, const int *fetch, int nfeed,
                           const int *feed_ids);

/* Steps of the cached plans that compute in place over an input's buffer. */
int tsi_session_in_place(const tsi_session *s);

/* Profile of plan p's last run if made with ctx->profile (p pinned by the
 * caller): the step count, and per step its node, seconds and output bytes. */
int tsi_session_profile_steps(const tsi_session *s, const tsi_plan *p);
const tsi_node *tsi_session_profile_step(const tsi_session *s, const tsi_plan *p, int i,
                                         double *seconds, size_t *bytes);

#endif
