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
};
typedef struct tsi_blas tsi_blas;

/* Loads the library if needed and applies the thread count. */
int tsi_blas_ready(tsi_blas *b, int nthreads, tsi_err *e);
void tsi_blas_close(tsi_blas *b);

#endif
