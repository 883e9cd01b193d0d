/* The machine's limit for element-wise work: a STREAM-style triad
 * a[i] = b[i] + s * c[i] on n float32 (default 2^20, the element-wise rows'
 * size) over T threads (each a fixed contiguous part, the threads started
 * once and met at a barrier per repetition, as tensorslow's pool does).
 * Prints "triad_t<T> <seconds>" (median of reps of 10 triads after a
 * warm-up) and "triad_bytes <bytes one triad moves>".
 * Usage: bench_triad threads [n [reps]].
 *
 * bench_triad read threads: the batch-1 rows' limit, reading the 784x256
 * float32 weights of bench/batch1.lua (800 KB) once per call, split into
 * fixed parts as tsi_gemv splits them, the threads met at a spinning
 * barrier; prints "read:batch1_mlp_t<T> <seconds per read>", the best of
 * 40 rounds of 500 reads. */
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

/* The read mode: a spinning barrier (a pthread barrier's sleep and wake-up
 * would cost more than a 400 KB read) and a sum the compiler cannot drop. */
typedef struct rpart {
  const float *w;
  long n, rounds;
  int T;
  unsigned *arrived;
  float sum;
} rpart;

static void spin_barrier(unsigned *arrived, int T, long round) {
  __atomic_add_fetch(arrived, 1, __ATOMIC_ACQ_REL);
  while (__atomic_load_n(arrived, __ATOMIC_ACQUIRE) < (unsigned)(T * (round + 1))) {
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
static float read_part(const float *w, long n) {
  float s[16] = {0};
  for (long i = 0; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) s[j] += w[i + j];
  float t = 0;
  for (int j = 0; j < 16; j++) t += s[j];
  return t;
}

static void *reader(void *arg) {
  rpart *p = arg;
  for (long r = 0; r < p->rounds; r++) {
    p->sum += read_part(p->w, p->n);
    spin_barrier(p->arrived, p->T, r);
  }
  return NULL;
}

static int read_mode(int T) {
  long n = 784L * 256, inner = 500, best_of = 40;
  float *w = aligned_alloc(64, (size_t)n * 4);
  if (!w || T < 1 || T > 64) return 2;
  for (long i = 0; i < n; i++) w[i] = (float)(i % 17);
  unsigned arrived = 0;
  rpart parts[64];
  pthread_t tid[64];
  long rounds = best_of * inner;
  for (int t = 0; t < T; t++) {
    parts[t] = (rpart){w + n * t / T, n * (t + 1) / T - n * t / T, rounds, T, &arrived, 0};
    if (t > 0 && pthread_create(&tid[t], NULL, reader, &parts[t])) return 1;
  }
  double best = 1e9;
  for (long b = 0, r = 0; b < best_of; b++) {
    double t0 = now();
    for (long k = 0; k < inner; k++, r++) {
      parts[0].sum += read_part(parts[0].w, parts[0].n);
      spin_barrier(&arrived, T, r);
    }
    double t = (now() - t0) / inner;
    if (t < best) best = t;
  }
  for (int t = 1; t < T; t++) pthread_join(tid[t], NULL);
  printf("read:batch1_mlp_t%d %.9g\n", T, best);
  free(w);
  return parts[0].sum < 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && argv[1][0] == 'r') return read_mode(atoi(argv[2]));
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
