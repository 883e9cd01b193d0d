/* The machine's limit for element-wise work: a STREAM-style triad
 * a[i] = b[i] + s * c[i] on n float32 (default 2^20, the element-wise rows'
 * size) over T threads (each a fixed contiguous part, the threads started
 * once and met at a barrier per repetition, as tensorslow's pool does).
 * Prints "triad_t<T> <seconds>" (median of reps of 10 triads after a
 * warm-up) and "triad_bytes <bytes one triad moves>".
 * Usage: bench_triad threads [n [reps]]. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct part {
  float *a, *b, *c;
  long lo, hi, rounds;
  pthread_barrier_t *bar;
} part;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *x, const void *y) {
  double u = *(const double *)x, v = *(const double *)y;
  return (u > v) - (u < v);
}

static void triad(float *restrict a, const float *restrict b, const float *restrict c, long lo,
                  long hi) {
  const float s = 3.0f;
  for (long i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
}

static void *worker(void *arg) {
  part *p = arg;
  for (long r = 0; r < p->rounds; r++) {
    pthread_barrier_wait(p->bar);
    triad(p->a, p->b, p->c, p->lo, p->hi);
    pthread_barrier_wait(p->bar);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int T = argc > 1 ? atoi(argv[1]) : 1;
  long n = argc > 2 ? atol(argv[2]) : 1L << 20;
  int reps = argc > 3 ? atoi(argv[3]) : 15, inner = 10;
  if (T < 1 || T > 64 || n < T || reps < 1) return 2;
  float *a = aligned_alloc(64, (size_t)n * 4), *b = aligned_alloc(64, (size_t)n * 4),
        *c = aligned_alloc(64, (size_t)n * 4);
  if (!a || !b || !c) return 1;
  for (long i = 0; i < n; i++) a[i] = 0, b[i] = (float)i, c[i] = 1;
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)T);
  long rounds = (long)(reps + 1) * inner;
  part parts[64];
  pthread_t tid[64];
  for (int t = 0; t < T; t++) {
    parts[t] = (part){a, b, c, n * t / T, n * (t + 1) / T, rounds, &bar};
    if (t > 0 && pthread_create(&tid[t], NULL, worker, &parts[t])) return 1;
  }
  double times[256];
  for (int r = 0; r <= reps && r < 256; r++) {
    double t0 = now();
    for (int k = 0; k < inner; k++) {
      pthread_barrier_wait(&bar);
      triad(a, b, c, parts[0].lo, parts[0].hi);
      pthread_barrier_wait(&bar);
    }
    if (r > 0) times[r - 1] = (now() - t0) / inner;
  }
  for (int t = 1; t < T; t++) pthread_join(tid[t], NULL);
  qsort(times, (size_t)reps, sizeof times[0], cmp);
  printf("triad_t%d %.9g\ntriad_bytes %ld\n", T, times[(reps - 1) / 2], 3 * n * 4);
  if (a[n - 1] != (float)(n - 1) + 3.0f) return 1;
  free(a), free(b), free(c);
  return 0;
}
