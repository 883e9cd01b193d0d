/* Baseline for the matmul benchmark: cblas_?gemm called directly on
 * 64-byte aligned row-major buffers, median of reps after a warm-up.
 * Prints "gemm_<dtype>_<n> <seconds>" lines. Usage: bench_gemm [reps [n]]. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  int sizes[] = {256, 512, 1024, 2048};
  int only = argc > 2 ? atoi(argv[2]) : 0; /* one size, or all */
  for (int s = 0; s < 4; s++) {
    int n = sizes[s];
    if (only && n != only) continue;
    size_t bytes = (size_t)n * (size_t)n * 8;
    void *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes), *c = aligned_alloc(64, bytes);
    for (int dt = 0; dt < 2; dt++) {
      double times[32];
      for (size_t i = 0; i < (size_t)n * (size_t)n; i++) {
        if (dt == 0) ((float *)a)[i] = ((float *)b)[i] = (float)((i % 7) * 0.25);
        else ((double *)a)[i] = ((double *)b)[i] = (double)((i % 7) * 0.25);
      }
      int k = n == 256 ? 16 : n == 512 ? 4 : 1; /* calls per timed repetition, every side */
      for (int r = -1; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < k; i++) {
          if (dt == 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
          else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        }
        if (r >= 0) times[r] = (now() - t0) / k;
      }
      qsort(times, (size_t)reps, sizeof(double), cmp);
      printf("gemm_%s_%d %.9f\n", dt == 0 ? "float32" : "float64", n, times[reps / 2]);
    }
    free(a), free(b), free(c);
  }
  return 0;
}
