/* libFuzzer target: the IDX loader (src/io.c) on arbitrary bytes, which zlib
 * reads as gzip when they start with the gzip magic, else as they are
 * (FUZZ_IDX_GZ: the bytes are gzip-compressed first, so the mutations reach
 * the IDX parser behind a valid gzip stream). */
#include <zlib.h>

#include "fuzz_common.h"
#include "io.h"

#define MAX_OUT ((size_t)64 << 20)

static void load(const char *path) {
  tsi_reader r;
  tsi_idx_info d;
  tsi_err e;
  tsi_reader_init(&r);
  if (tsi_idx_open(&r, path, &d, &e) == TSI_OK) {
    tsi_tensor out = d.out;
    size_t nb = tsi_nbytes(&out);
    out.data = nb <= MAX_OUT ? malloc(nb ? nb : 1) : NULL;
    if (out.data) {
      tsi_idx_read(&r, &d, &out, &e);
      free(out.data);
    }
  }
  tsi_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef FUZZ_IDX_GZ
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  uLong cap = deflateBound(&z, (uLong)size) + 32;
  uint8_t *gz = malloc(cap);
  if (!gz) abort();
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)size;
  z.next_out = gz;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
  size_t n = cap - z.avail_out;
  deflateEnd(&z);
  load(fuzz_file(gz, n));
  free(gz);
#else
  load(fuzz_file(data, size));
#endif
  return 0;
}
