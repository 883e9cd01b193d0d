/* See parallel.h. */
#include <pthread.h>

#include "parallel.h"

#define MAX_THREADS 64

typedef struct chunk {
  tsi_range_fn fn;
  void *arg;
  int64_t begin, end;
} chunk;

static void *run_chunk(void *p) {
  chunk *c = p;
  c->fn(c->arg, c->begin, c->end);
  return NULL;
}

static void split(int parts, int64_t n, int64_t align, tsi_range_fn fn, void *arg) {
  if (parts <= 1) {
    if (n > 0) fn(arg, 0, n);
    return;
  }
  chunk c[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS];
  int64_t per = (n + parts - 1) / parts;
  per = (per + align - 1) / align * align;
  int k = 0;
  for (int64_t b = 0; b < n && k < parts; b += per, k++) {
    c[k].fn = fn, c[k].arg = arg, c[k].begin = b, c[k].end = b + per < n ? b + per : n;
  }
  for (int i = 1; i < k; i++) started[i] = pthread_create(&tid[i], NULL, run_chunk, &c[i]) == 0;
  run_chunk(&c[0]);
  for (int i = 1; i < k; i++) {
    if (started[i]) pthread_join(tid[i], NULL);
    else run_chunk(&c[i]);
  }
}

void tsi_parallel_for(int nthreads, int64_t n, int64_t align, tsi_range_fn fn, void *arg) {
  if (align < 1) align = 1;
  int64_t maxparts = n / (TSI_PAR_GRAIN / 2);
  int parts = nthreads < MAX_THREADS ? nthreads : MAX_THREADS;
  if (parts > maxparts) parts = (int)maxparts;
  split(parts, n, align, fn, arg);
}

void tsi_parallel_split(int parts, int64_t n, tsi_range_fn fn, void *arg) {
  if (parts > MAX_THREADS) parts = MAX_THREADS;
  if (parts > n) parts = (int)n;
  split(parts, n, 1, fn, arg);
}
