/* A C host running an ONNX model through the Lua API: the first test images of
 * Fashion-MNIST, read by the host (zlib) into its own float array, handed to
 * Lua without a copy (ts_pushtensor) and classified by the CNN that PyTorch
 * trained and exported (spec/fixtures/onnx_cnn.onnx), loaded by ts.onnx.load in
 * onnx_model.lua; the probabilities are read back through the tensor's data
 * pointer. tensorslow.core is linked statically; ts.onnx's parser, the module
 * tensorslow.onnx_pb, is found through package.cpath (CDIR).
 *
 *   onnx_host [LUADIR [CDIR [MODEL.onnx [DATADIR]]]]
 */
#include <stdio.h>
#include <zlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

#ifndef TS_LUA_DIR
#define TS_LUA_DIR "lua"
#endif
#ifndef TS_C_DIR
#define TS_C_DIR "build"
#endif
#ifndef TS_SCRIPT
#define TS_SCRIPT "examples/embed/onnx_model.lua"
#endif
#ifndef TS_ONNX_MODEL
#define TS_ONNX_MODEL "spec/fixtures/onnx_cnn.onnx"
#endif
#define DATA_DIR "/usr/share/datasets/fashion-mnist"

enum { NIMAGES = 6, SIDE = 28, NCLASSES = 10 };
static const char *const CLASSES[NCLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                              "Ankle boot"};

typedef struct host {
  const char *luadir, *cdir, *model, *data;
  float images[NIMAGES][1][SIDE][SIDE]; /* the batch, NCHW, in [0, 1] */
  unsigned char labels[NIMAGES];
  int released;
} host;

static void release_images(void *ud, void *data) {
  host *h = ud;
  (void)data;
  h->released++;
}

/* Reads n bytes after a header of skip bytes from the gzip'd IDX file name. */
static int read_idx(const char *dir, const char *name, long skip, unsigned char *out, int n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  gzFile f = gzopen(path, "rb");
  if (!f) return -1;
  unsigned char header[16];
  int ok = gzread(f, header, (unsigned)skip) == skip && gzread(f, out, (unsigned)n) == n;
  gzclose(f);
  return ok ? 0 : -1;
}

/* Runs under lua_pcall: every Lua error comes back to main as a message. */
static int run(lua_State *L) {
  host *h = lua_touserdata(L, 1);
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  /* package.path = LUADIR/?.lua;LUADIR/?/init.lua;<default>, package.cpath = CDIR/?.so;<default> */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", h->luadir, h->luadir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_getfield(L, -2, "cpath");
  lua_pushfstring(L, "%s/?.so;%s", h->cdir, lua_tostring(L, -1));
  lua_setfield(L, -4, "cpath");
  lua_pop(L, 3);

  if (luaL_loadfile(L, TS_SCRIPT) != LUA_OK) return lua_error(L);
  lua_pushstring(L, h->model);
  lua_call(L, 1, 1); /* classify */

  int64_t shape[4] = {NIMAGES, 1, SIDE, SIDE};
  ts_pushtensor(L, TS_FLOAT32, 4, shape, h->images, release_images, h);
  if (ts_checktensor(L, -1)->data != (void *)h->images) return luaL_error(L, "the batch was copied");
  lua_call(L, 1, 1);

  const ts_TensorView *p = ts_checktensor_dtype(L, -1, TS_FLOAT32, 2);
  if (p->shape[0] != NIMAGES || p->shape[1] != NCLASSES)
    return luaL_error(L, "unexpected probabilities");
  const float *prob = p->data;
  for (int i = 0; i < NIMAGES; i++) {
    const float *r = prob + i * NCLASSES;
    int top[3] = {-1, -1, -1};
    for (int k = 0; k < 3; k++)
      for (int c = 0; c < NCLASSES; c++)
        if (c != top[0] && c != top[1] && (top[k] < 0 || r[c] > r[top[k]])) top[k] = c;
    printf("image %d (%s):", i + 1, CLASSES[h->labels[i]]);
    for (int k = 0; k < 3; k++)
      printf(" %s %.0f%%%s", CLASSES[top[k]], 100.0 * r[top[k]], k < 2 ? "," : "\n");
  }
  return 0;
}

int main(int argc, char **argv) {
  static host h; /* 19 KB of images: not on the stack */
  h.luadir = argc > 1 ? argv[1] : TS_LUA_DIR;
  h.cdir = argc > 2 ? argv[2] : TS_C_DIR;
  h.model = argc > 3 ? argv[3] : TS_ONNX_MODEL;
  h.data = argc > 4 ? argv[4] : DATA_DIR;
  unsigned char pixels[NIMAGES * SIDE * SIDE];
  if (read_idx(h.data, "t10k-images-idx3-ubyte.gz", 16, pixels, (int)sizeof pixels) ||
      read_idx(h.data, "t10k-labels-idx1-ubyte.gz", 8, h.labels, NIMAGES)) {
    fprintf(stderr, "onnx_host: cannot read the Fashion-MNIST test set under %s\n", h.data);
    return 1;
  }
  for (int i = 0; i < NIMAGES; i++)
    for (int y = 0; y < SIDE; y++)
      for (int x = 0; x < SIDE; x++)
        h.images[i][0][y][x] = pixels[(i * SIDE + y) * SIDE + x] / 255.0f;
  for (int i = 0; i < NIMAGES; i++)
    if (h.labels[i] >= NCLASSES) return 1;

  lua_State *L = luaL_newstate();
  if (!L) return 1;
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &h);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK) fprintf(stderr, "onnx_host: %s\n", lua_tostring(L, -1));
  lua_close(L); /* collects the batch tensor: release runs now at the latest */
  printf("release called %d time(s)\n", h.released);
  return rc != LUA_OK || h.released != 1;
}
