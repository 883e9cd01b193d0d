/* Lazy loading of OpenBLAS; see blas.h. */
#include <dlfcn.h>

#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TS_VM_AVX2 1
#endif

#include "blas.h"
#include "parallel.h"

static const char *const libnames[] = {"libopenblas.so.0", "libopenblas.so", "libcblas.so.3",
                                       "libblas.so.3"};

int tsi_blas_ready(tsi_blas *b, tsi_err *e) {
  if (b->state == 0) {
    for (size_t i = 0; i < sizeof libnames / sizeof libnames[0] && !b->handle; i++)
      b->handle = dlopen(libnames[i], RTLD_NOW | RTLD_LOCAL);
    if (b->handle) {
      *(void **)&b->sgemm = dlsym(b->handle, "cblas_sgemm");
      *(void **)&b->dgemm = dlsym(b->handle, "cblas_dgemm");
      *(void **)&b->sgemv = dlsym(b->handle, "cblas_sgemv");
      *(void **)&b->dgemv = dlsym(b->handle, "cblas_dgemv");
      *(void **)&b->set_num_threads = dlsym(b->handle, "openblas_set_num_threads");
    }
    b->state = (b->sgemm && b->dgemm && b->sgemv && b->dgemv) ? 1 : -1;
  }
  if (b->state < 0)
    return tsi_fail(e, TSI_ERUN,
                    "cannot load OpenBLAS (libopenblas.so.0): install Debian's libopenblas0");
  if (b->set_num_threads && b->threads != 1) {
    b->set_num_threads(1);
    b->threads = 1;
    /* OpenBLAS started its workers when it loaded (one fewer than the cores);
     * at one thread they would spin on sched_yield for a while (2^28 cycles)
     * beside ours, then sleep for ever. Stop them now (OpenBLAS starts them
     * again itself if anyone in the process asks it for threads). */
    void (*shutdown)(void);
    *(void **)&shutdown = dlsym(b->handle, "blas_thread_shutdown_");
    if (shutdown) shutdown();
  }
  return TSI_OK;
}

/* Products below this many multiply-adds (about 50 us on one core) are not
 * split: starting a thread costs about 20 us. */
#define PAR_MNK ((int64_t)1 << 22)
/* The fewest rows (columns) of C a part gets. */
#define PAR_MIN 32

typedef struct gjob {
  const tsi_blas *bl;
  int dtype, ta, tb, beta, by_cols;
  int64_t m, n, k, lda, ldb, ldc;
  const char *A, *B;
  char *C;
} gjob;

/* Rows (by_cols: columns) [b, e) of C. */
static void gemm_part(void *arg, int64_t b, int64_t e) {
  const gjob *j = arg;
  size_t es = j->dtype == TS_FLOAT32 ? sizeof(float) : sizeof(double);
  const char *A = j->A, *B = j->B;
  char *C = j->C;
  int64_t m = j->m, n = j->n;
  if (j->by_cols) {
    B += (size_t)(j->tb ? b * j->ldb : b) * es;
    C += (size_t)b * es;
    n = e - b;
  } else {
    A += (size_t)(j->ta ? b : b * j->lda) * es;
    C += (size_t)(b * j->ldc) * es;
    m = e - b;
  }
  if (!j->bl->openblas_only &&
      tsi_gemm512(j->dtype, j->ta, j->tb, m, n, j->k, A, j->lda, B, j->ldb, j->beta, C, j->ldc))
    return;
  enum CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
  if (j->dtype == TS_FLOAT32)
    j->bl->sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, 1, (const float *)A, (int)j->lda,
                 (const float *)B, (int)j->ldb, (float)j->beta, (float *)C, (int)j->ldc);
  else
    j->bl->dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, 1, (const double *)A, (int)j->lda,
                 (const double *)B, (int)j->ldb, (double)j->beta, (double *)C, (int)j->ldc);
}

void tsi_gemm(const tsi_blas *bl, int dtype, int nthreads, int ta, int tb, int64_t m, int64_t n,
              int64_t k, const void *A, int64_t lda, const void *B, int64_t ldb, int beta,
              void *C, int64_t ldc) {
  size_t es = dtype == TS_FLOAT32 ? sizeof(float) : sizeof(double);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!beta)
      for (int64_t i = 0; i < m; i++) memset((char *)C + (size_t)(i * ldc) * es, 0, es * (size_t)n);
    return;
  }
  gjob j = {bl, dtype, ta, tb, beta, 0, m, n, k, lda, ldb, ldc, A, B, C};
  int64_t parts = nthreads;
  if ((double)m * (double)n * (double)k < (double)PAR_MNK) parts = 1;
  int64_t len = m;
  if (parts > 1 && m < parts * PAR_MIN && n > m) j.by_cols = 1, len = n;
  if (parts > len / PAR_MIN) parts = len / PAR_MIN;
  if (parts < 2) {
    gemm_part(&j, 0, j.by_cols ? n : m);
    return;
  }
  tsi_parallel_split(bl->pool, (int)parts, len, gemm_part, &j);
}

/* Products of a matrix and a vector with a matrix of at least this many bytes
 * are split: one core reads about 60 GB/s from its L2, so 512 KiB is about
 * 8 us, and with each part on the same thread every call, each core keeps its
 * part of the matrix in its own L2. */
#define PAR_GEMV_BYTES ((int64_t)512 << 10)
/* Parts of y are multiples of this many elements (a 64-byte line of float32). */
#define GEMV_ALIGN 16

typedef struct vjob {
  const tsi_blas *bl;
  int dtype, trans;
  int64_t rows, cols, ld, len;
  const char *M, *x;
  char *y;
} vjob;

#ifdef TS_VM_AVX2
/* y[0, n) = x M for n a multiple of 64 (float32) or 32 (float64) columns of
 * row-major M: per block of columns, eight 256-bit sums kept in registers
 * over every row (OpenBLAS's sgemv for this layout reads M a third slower:
 * it is bound by the cache's bandwidth, and this loop reaches it). */
__attribute__((target("avx2,fma"))) static void vm_f32(const float *x, const float *M, float *y,
                                                      int64_t k, int64_t n, int64_t ld) {
  for (int64_t j = 0; j + 64 <= n; j += 64) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const float *w = M + j;
    for (int64_t p = 0; p < k; p++, w += ld) {
      __m256 b = _mm256_broadcast_ss(x + p);
      a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w), a0);
      a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 8), a1);
      a2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 16), a2);
      a3 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 24), a3);
      a4 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 32), a4);
      a5 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 40), a5);
      a6 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 48), a6);
      a7 = _mm256_fmadd_ps(b, _mm256_loadu_ps(w + 56), a7);
    }
    _mm256_storeu_ps(y + j, a0), _mm256_storeu_ps(y + j + 8, a1);
    _mm256_storeu_ps(y + j + 16, a2), _mm256_storeu_ps(y + j + 24, a3);
    _mm256_storeu_ps(y + j + 32, a4), _mm256_storeu_ps(y + j + 40, a5);
    _mm256_storeu_ps(y + j + 48, a6), _mm256_storeu_ps(y + j + 56, a7);
  }
}
__attribute__((target("avx2,fma"))) static void vm_f64(const double *x, const double *M,
                                                      double *y, int64_t k, int64_t n,
                                                      int64_t ld) {
  for (int64_t j = 0; j + 32 <= n; j += 32) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const double *w = M + j;
    for (int64_t p = 0; p < k; p++, w += ld) {
      __m256d b = _mm256_broadcast_sd(x + p);
      a0 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w), a0);
      a1 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 4), a1);
      a2 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 8), a2);
      a3 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 12), a3);
      a4 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 16), a4);
      a5 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 20), a5);
      a6 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 24), a6);
      a7 = _mm256_fmadd_pd(b, _mm256_loadu_pd(w + 28), a7);
    }
    _mm256_storeu_pd(y + j, a0), _mm256_storeu_pd(y + j + 4, a1);
    _mm256_storeu_pd(y + j + 8, a2), _mm256_storeu_pd(y + j + 12, a3);
    _mm256_storeu_pd(y + j + 16, a4), _mm256_storeu_pd(y + j + 20, a5);
    _mm256_storeu_pd(y + j + 24, a6), _mm256_storeu_pd(y + j + 28, a7);
  }
}
#endif

/* Elements [b, e) of y, in units of GEMV_ALIGN. */
static void gemv_part(void *arg, int64_t b, int64_t e) {
  const vjob *j = arg;
  size_t es = j->dtype == TS_FLOAT32 ? sizeof(float) : sizeof(double);
  b *= GEMV_ALIGN, e *= GEMV_ALIGN;
  if (e > j->len) e = j->len;
#ifdef TS_VM_AVX2
  /* x M with M's rows contiguous: whole blocks of columns here, the rest to BLAS */
  if (j->trans && !j->bl->openblas_only && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    int64_t blk = j->dtype == TS_FLOAT32 ? 64 : 32, whole = (e - b) / blk * blk;
    if (j->dtype == TS_FLOAT32)
      vm_f32((const float *)j->x, (const float *)j->M + b, (float *)j->y + b, j->rows, whole,
             j->ld);
    else
      vm_f64((const double *)j->x, (const double *)j->M + b, (double *)j->y + b, j->rows, whole,
             j->ld);
    b += whole;
    if (b == e) return;
  }
#endif
  int64_t rows = j->rows, cols = j->cols;
  const char *M = j->M;
  if (j->trans) M += (size_t)b * es, cols = e - b; /* y = M^T x: columns [b, e) */
  else M += (size_t)(b * j->ld) * es, rows = e - b; /* y = M x: rows [b, e) */
  enum CBLAS_TRANSPOSE t = j->trans ? CblasTrans : CblasNoTrans;
  if (j->dtype == TS_FLOAT32)
    j->bl->sgemv(CblasRowMajor, t, (int)rows, (int)cols, 1, (const float *)M, (int)j->ld,
                 (const float *)j->x, 1, 0, (float *)j->y + b, 1);
  else
    j->bl->dgemv(CblasRowMajor, t, (int)rows, (int)cols, 1, (const double *)M, (int)j->ld,
                 (const double *)j->x, 1, 0, (double *)j->y + b, 1);
}

void tsi_gemv(const tsi_blas *bl, int dtype, int nthreads, int trans, int64_t rows, int64_t cols,
              const void *M, int64_t ld, const void *x, void *y) {
  vjob j = {bl, dtype, trans, rows, cols, ld, trans ? cols : rows, M, x, y};
  int64_t units = (j.len + GEMV_ALIGN - 1) / GEMV_ALIGN;
  size_t es = dtype == TS_FLOAT32 ? sizeof(float) : sizeof(double);
  if (nthreads < 2 || units < 2 || rows * cols * (int64_t)es < PAR_GEMV_BYTES) {
    gemv_part(&j, 0, units);
    return;
  }
  tsi_parallel_split(bl->pool, nthreads, units, gemv_part, &j);
}

void tsi_blas_close(tsi_blas *b) {
  if (b->handle) dlclose(b->handle);
  b->handle = NULL;
  b->state = 0;
}
