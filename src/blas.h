/* OpenBLAS, loaded on first use (dlopen) so that require "tensorslow" stays
 * fast: loading and initialising OpenBLAS costs about 5 ms. The table of
 * entry points is per lua_State (no writable globals). */
#ifndef TS_BLAS_H
#define TS_BLAS_H

#include <cblas.h>

#include "core.h"

struct tsi_blas {
  int state; /* 0 not loaded, 1 loaded, -1 failed */
  void *handle;
  __typeof__(cblas_sgemm) *sgemm;
  __typeof__(cblas_dgemm) *dgemm;
  __typeof__(cblas_sgemv) *sgemv;
  __typeof__(cblas_dgemv) *dgemv;
  void (*set_num_threads)(int);
  int threads; /* what this state last asked for */
  int openblas_only; /* products to OpenBLAS even where tsi_gemm512 or vm_f32/vm_f64 would run
                        (ts.set_matmul_kernel) */
  struct tsi_pool *pool; /* the state's workers, which tsi_gemm splits products over */
};
typedef struct tsi_blas tsi_blas;

/* Loads the library if needed. OpenBLAS itself always runs single-threaded
 * (set once at load): tensorslow's own threads split the products (tsi_gemm),
 * so no OpenBLAS worker spins beside them and states in different threads
 * may call it at the same time. */
int tsi_blas_ready(tsi_blas *b, tsi_err *e);

/* C = op(A) op(B) + beta C (beta 0 or 1), row-major, dtype TS_FLOAT32 or
 * TS_FLOAT64, over up to nthreads threads: C's rows (or its columns when it
 * has few rows) split into parts each one single-threaded BLAS call. Small
 * products run on the caller; empty sizes are handled here (BLAS wants
 * leading dimensions >= 1). The library must be ready. */
void tsi_gemm(const tsi_blas *bl, int dtype, int nthreads, int ta, int tb, int64_t m, int64_t n,
              int64_t k, const void *A, int64_t lda, const void *B, int64_t ldb, int beta,
              void *C, int64_t ldc);
/* y = op(M) x, M row-major rows x cols (leading dimension ld), op(M) = M^T
 * when trans; y has cols (trans) or rows elements, both sizes >= 1. A matrix
 * of 512 KiB or more is split over up to nthreads threads by parts of y, the
 * same part on the same thread from call to call (batch-1 inference: each
 * core keeps its part of the weights in its cache). */
void tsi_gemv(const tsi_blas *bl, int dtype, int nthreads, int trans, int64_t rows, int64_t cols,
              const void *M, int64_t ld, const void *x, void *y);
/* The same product on one thread with our own AVX-512 kernels (gemm512.c),
 * beta 0 or 1, sizes >= 1: returns 0 without computing anything when the
 * CPU has no AVX-512F/VL or the build has no clones (TS_NO_CLONES, TSan,
 * not x86-64), and the caller goes to BLAS. */
int tsi_gemm512(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *A,
                int64_t lda, const void *B, int64_t ldb, int beta, void *C, int64_t ldc);
/* 1 when the CPU has AVX-512F/VL and the build has its kernels. */
int tsi_have512(void);
/* With tsi_have512() only, dtype TS_FLOAT32 or TS_FLOAT64: y[c] = the sum
 * over t < nt of xs[t][c] * ws[t][c] for c < C, each product and sum rounded
 * in t order as a plain loop would (the depthwise convolution's taps). */
void tsi_taps512(int dtype, int64_t C, int nt, const void *const *xs, const void *const *ws,
                 void *y);
void tsi_blas_close(tsi_blas *b);

#endif
