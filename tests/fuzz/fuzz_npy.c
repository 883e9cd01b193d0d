/* libFuzzer target: the .npy loader (src/io.c) on arbitrary bytes. */
#include "fuzz_common.h"
#include "io.h"

#define MAX_OUT ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  tsi_reader r;
  tsi_npy_info d;
  tsi_err e;
  tsi_reader_init(&r);
  if (tsi_npy_open(&r, path, &d, &e) == TSI_OK) {
    tsi_tensor out = d.out;
    size_t nb = tsi_nbytes(&out);
    out.data = nb <= MAX_OUT ? malloc(nb ? nb : 1) : NULL;
    if (out.data) {
      tsi_npy_read(&r, &d, &out, &e);
      free(out.data);
    }
  }
  tsi_reader_close(&r);
  tsi_reader_close(&r); /* safe twice */
  return 0;
}
