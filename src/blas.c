/* Lazy loading of OpenBLAS; see blas.h. */
#include <dlfcn.h>

#include "blas.h"

static const char *const libnames[] = {"libopenblas.so.0", "libopenblas.so", "libcblas.so.3",
                                       "libblas.so.3"};

int tsi_blas_ready(tsi_blas *b, int nthreads, tsi_err *e) {
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
  if (b->set_num_threads && b->threads != nthreads) {
    b->set_num_threads(nthreads);
    b->threads = nthreads;
  }
  return TSI_OK;
}

void tsi_blas_close(tsi_blas *b) {
  if (b->handle) dlclose(b->handle);
  b->handle = NULL;
  b->state = 0;
}
