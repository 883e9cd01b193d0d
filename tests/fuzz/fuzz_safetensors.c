/* libFuzzer target: the safetensors loader (src/io.c) on arbitrary bytes,
 * every tensor of an accepted header read. */
#include "fuzz_common.h"
#include "io.h"

#define MAX_OUT ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  tsi_st_file f;
  tsi_err e;
  tsi_st_init(&f);
  if (tsi_st_open(&f, path, &e) == TSI_OK) {
    for (int i = 0; i < f.n; i++) {
      tsi_tensor out = f.entries[i].info;
      size_t nb = tsi_nbytes(&out);
      out.data = nb <= MAX_OUT ? malloc(nb ? nb : 1) : NULL;
      if (!out.data) continue;
      tsi_st_read(&f, i, &out, &e);
      free(out.data);
    }
  }
  tsi_st_close(&f);
  tsi_st_close(&f); /* safe twice */
  return 0;
}
