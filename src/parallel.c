/* See parallel.h. */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include <time.h>

#include "parallel.h"

/* How long a worker (and a caller waiting for its parts) spins before it
 * sleeps on a condition variable: a wake-up from sleep costs 5-50 us, more
 * than a batch-1 product's whole arithmetic, and callers that run many small
 * jobs in a row (a batch-1 session run per request) find the workers awake. */
#define SPIN_NS 200000

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spins until (*w == v) is eq (*w read without the lock: its writers store it
 * atomically under the lock) or SPIN_NS pass; 1 if it came true. */
static int spin(const unsigned *w, unsigned v, int eq) {
  int64_t end = 0;
  for (unsigned i = 1;; i++) {
    if ((__atomic_load_n(w, __ATOMIC_ACQUIRE) == v) == eq) return 1;
    cpu_relax();
    if ((i & 63) == 0) {
      int64_t t = now_ns();
      if (!end) end = t + SPIN_NS;
      else if (t > end) return 0;
    }
  }
}

static void run_chunk(tsi_range_fn fn, void *arg, int64_t n, int64_t per, int c) {
  int64_t b = c * per, e = b + per < n ? b + per : n;
  fn(arg, b, e);
}

/* With p->mu held: runs the job's chunks until none is left to claim. */
static void take_chunks(tsi_pool *p) {
  while (p->next < p->parts) {
    int c = p->next++;
    tsi_range_fn fn = p->fn;
    void *arg = p->arg;
    int64_t n = p->n, per = p->per;
    pthread_mutex_unlock(&p->mu);
    run_chunk(fn, arg, n, per, c);
    pthread_mutex_lock(&p->mu);
    if (__atomic_sub_fetch(&p->left, 1, __ATOMIC_RELEASE) == 0) pthread_cond_signal(&p->done);
  }
}

static void *worker(void *arg) {
  tsi_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  unsigned seen = p->gen;
  for (;;) {
    if (!p->quit && p->gen == seen) { /* awake a while for the next job, then asleep */
      pthread_mutex_unlock(&p->mu);
      spin(&p->gen, seen, 0);
      pthread_mutex_lock(&p->mu);
      while (!p->quit && p->gen == seen) pthread_cond_wait(&p->wake, &p->mu);
    }
    if (p->quit) break;
    seen = p->gen;
    take_chunks(p);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Claims the pool for a job of parts chunks, starting workers up to parts - 1;
 * 0 (nothing claimed) if it is busy or cannot be set up. */
static int claim(tsi_pool *p, int parts) {
  if (!p->ok) {
    /* adaptive: a thread that finds mu taken spins a little before it sleeps
     * (every hold is a few instructions; a sleep and a wake-up cost
     * microseconds, a batch-1 product's whole budget) */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int bad = pthread_mutex_init(&p->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    if (bad) return 0;
    if (pthread_cond_init(&p->wake, NULL)) {
      pthread_mutex_destroy(&p->mu);
      return 0;
    }
    if (pthread_cond_init(&p->done, NULL)) {
      pthread_cond_destroy(&p->wake);
      pthread_mutex_destroy(&p->mu);
      return 0;
    }
    p->ok = 1;
  }
  pthread_mutex_lock(&p->mu);
  if (p->busy) {
    pthread_mutex_unlock(&p->mu);
    return 0;
  }
  p->busy = 1;
  while (p->nworkers < parts - 1 && !pthread_create(&p->tid[p->nworkers], NULL, worker, p))
    p->nworkers++;
  int ok = p->nworkers > 0;
  if (!ok) p->busy = 0;
  pthread_mutex_unlock(&p->mu);
  return ok;
}

static void split(tsi_pool *p, int parts, int64_t n, int64_t per, tsi_range_fn fn, void *arg) {
  if (parts <= 1 || !p || !claim(p, parts)) {
    for (int c = 0; c < parts; c++) run_chunk(fn, arg, n, per, c);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->arg = arg, p->n = n, p->per = per;
  p->parts = parts, p->next = 0;
  __atomic_store_n(&p->left, (unsigned)parts, __ATOMIC_RELAXED);
  __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&p->wake);
  take_chunks(p);
  if (p->left > 0) { /* the workers' parts: spin a while, then sleep */
    pthread_mutex_unlock(&p->mu);
    spin(&p->left, 0, 1);
    pthread_mutex_lock(&p->mu);
  }
  while (p->left > 0) pthread_cond_wait(&p->done, &p->mu);
  p->busy = 0;
  pthread_mutex_unlock(&p->mu);
}

void tsi_pool_close(tsi_pool *p) {
  if (!p->ok) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE); /* ends a worker's spin */
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nworkers; i++) pthread_join(p->tid[i], NULL);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  p->ok = 0, p->nworkers = 0, p->quit = 0, p->busy = 0;
}

void tsi_parallel_for(tsi_pool *pool, int nthreads, int64_t n, int64_t align, tsi_range_fn fn,
                      void *arg) {
  if (n <= 0) return;
  if (nthreads <= 1 || n < TSI_PAR_GRAIN) { /* one part (as below, without its divisions) */
    fn(arg, 0, n);
    return;
  }
  if (align < 1) align = 1;
  int64_t maxparts = n / (TSI_PAR_GRAIN / 2);
  int parts = nthreads < TSI_PAR_MAX ? nthreads : TSI_PAR_MAX;
  if (parts > maxparts) parts = (int)maxparts;
  if (parts < 1) parts = 1;
  int64_t per = (n + parts - 1) / parts;
  per = (per + align - 1) / align * align;
  split(pool, (int)((n + per - 1) / per), n, per, fn, arg);
}

void tsi_parallel_split(tsi_pool *pool, int parts, int64_t n, tsi_range_fn fn, void *arg) {
  if (n <= 0) return;
  if (parts > TSI_PAR_MAX) parts = TSI_PAR_MAX;
  if (parts > n) parts = (int)n;
  if (parts <= 1) {
    fn(arg, 0, n);
    return;
  }
  int64_t per = (n + parts - 1) / parts;
  split(pool, (int)((n + per - 1) / per), n, per, fn, arg);
}
