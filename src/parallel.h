/* Splitting a loop over threads. Each lua_State keeps a pool of workers
 * (tsi_pool, in its per-state data), started on first need; between jobs a
 * worker spins for 0.2 ms (a caller running many small jobs in a row finds it
 * awake) and then sleeps on a condition variable, so work from TSI_PAR_GRAIN
 * elements up is worth splitting. */
#ifndef TS_PARALLEL_H
#define TS_PARALLEL_H

#include <pthread.h>
#include <stdint.h>

/* Elements below which a loop runs on the calling thread alone. */
#define TSI_PAR_GRAIN ((int64_t)1 << 14)
/* The most parts a loop is split into (the caller and 63 workers). */
#define TSI_PAR_MAX 64

typedef void (*tsi_range_fn)(void *arg, int64_t begin, int64_t end);

/* Workers and the job they share; everything after ok is guarded by mu. A
 * chunk is claimed under the lock together with the job's generation, so a
 * worker waking late never runs a chunk of the next job with the last one's
 * function. Zeroed memory is a pool with no worker, not yet initialised. */
typedef struct tsi_pool {
  int ok; /* mu and the conditions are initialised */
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  int nworkers, quit, busy;
  unsigned gen; /* also read atomically, without mu, by spinning threads */
  tsi_range_fn fn;
  void *arg;
  int64_t n, per;
  int parts, next;
  unsigned left; /* as gen */
  pthread_t tid[TSI_PAR_MAX - 1];
} tsi_pool;

/* Stops and joins the workers (none runs afterwards); the pool may be used
 * again (it starts new ones). */
void tsi_pool_close(tsi_pool *p);

/* Calls fn(arg, begin, end) over [0, n) in up to nthreads contiguous chunks,
 * each a multiple of align elements (but the last); returns when all are done.
 * pool NULL, a pool already running a job (a chunk calling back in) or no
 * worker to be had: the chunks run on the caller. */
void tsi_parallel_for(tsi_pool *pool, int nthreads, int64_t n, int64_t align, tsi_range_fn fn,
                      void *arg);

/* Calls fn over [0, n) in exactly min(parts, n) contiguous chunks of about
 * the same size, whatever n (the caller judged the work worth the threads). */
void tsi_parallel_split(tsi_pool *pool, int parts, int64_t n, tsi_range_fn fn, void *arg);

#endif
