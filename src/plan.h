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
