/* A C host embedding tensorslow: tensorslow.core linked statically, a Lua
 * perceptron (model.lua) scoring a batch that lives in a C array, handed over
 * without a copy; the scores are read back through the tensor's data pointer.
 * Then two instances of the model run interleaved step by step, as an event
 * loop would run them between its other work: each run in a coroutine
 * (sess:run with yield_every), resumed one slice at a time.
 *
 *   host [LUADIR [MODEL]]   LUADIR holds tensorslow/init.lua (default TS_LUA_DIR)
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

#ifndef TS_LUA_DIR
#define TS_LUA_DIR "lua"
#endif
#ifndef TS_MODEL
#define TS_MODEL "examples/embed/model.lua"
#endif

enum { NSAMPLES = 4, NFEATURES = 3 };

typedef struct host {
  const char *luadir, *model;
  double batch[NSAMPLES][NFEATURES];
  int released; /* ts_pushtensor's release callback count */
} host;

static void release_batch(void *ud, void *data) {
  host *h = ud;
  (void)data;
  h->released++;
}

/* Runs under lua_pcall: every Lua error comes back to main as a message. */
static int run(lua_State *L) {
  host *h = lua_touserdata(L, 1);
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  /* package.path = LUADIR/?.lua;LUADIR/?/init.lua;<default> */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", h->luadir, h->luadir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);

  if (luaL_dofile(L, h->model) != LUA_OK) return lua_error(L); /* pushes predict, start */
  int start = lua_gettop(L);
  lua_pushvalue(L, start - 1);
  int64_t shape[2] = {NSAMPLES, NFEATURES};
  ts_pushtensor(L, TS_FLOAT64, 2, shape, h->batch, release_batch, h);
  if (ts_checktensor(L, -1)->data != (void *)h->batch) return luaL_error(L, "the batch was copied");
  lua_call(L, 1, 1);

  const ts_TensorView *y = ts_checktensor(L, -1);
  if (y->dtype != TS_FLOAT64 || y->ndim != 2 || y->shape[0] != NSAMPLES)
    return luaL_error(L, "unexpected scores");
  const double *s = y->data;
  int64_t nclass = y->shape[1];
  for (int i = 0; i < NSAMPLES; i++) {
    int best = 0;
    printf("sample %d:", i + 1);
    for (int64_t c = 0; c < nclass; c++) {
      printf(" %8.4f", s[i * nclass + c]);
      if (s[i * nclass + c] > s[i * nclass + best]) best = (int)c;
    }
    printf("  -> class %d\n", best + 1);
  }

  /* Models A (this one) and B (a second instance: its own graph and session)
   * on one sample each, interleaved: one slice of each in turn. */
  if (luaL_dofile(L, h->model) != LUA_OK) return lua_error(L);
  int start_b = lua_gettop(L);
  static const double sample[2][NFEATURES] = {{1, 2, 3}, {1, 1, 1}};
  int64_t one[2] = {1, NFEATURES};
  lua_State *co[2];
  int nargs[2] = {1, 1}, done[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    co[k] = lua_newthread(L); /* kept on L's stack */
    lua_pushvalue(L, k ? start_b : start);
    lua_xmove(L, co[k], 1);
    ts_pushtensorcopy(co[k], TS_FLOAT64, 2, one, sample[k]);
  }
  while (!done[0] || !done[1])
    for (int k = 0; k < 2; k++) {
      if (done[k]) continue;
      int nres, st = lua_resume(co[k], L, nargs[k], &nres);
      nargs[k] = 0;
      if (st == LUA_YIELD) {
        printf("model %c: one step, yielded\n", 'A' + k);
        continue;
      }
      if (st != LUA_OK) {
        lua_xmove(co[k], L, 1);
        return lua_error(L);
      }
      const double *r = ts_checktensor(co[k], -1)->data;
      printf("model %c: done, scores %8.4f %8.4f\n", 'A' + k, r[0], r[1]);
      done[k] = 1;
    }
  return 0;
}

int main(int argc, char **argv) {
  host h = {argc > 1 ? argv[1] : TS_LUA_DIR,
            argc > 2 ? argv[2] : TS_MODEL,
            {{1, 2, 3}, {0, 1, -1}, {2, 0, 0.5}, {-1, -1, 1}},
            0};
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &h);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK) fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
  lua_close(L); /* collects the batch tensor: release runs now at the latest */
  printf("release called %d time(s)\n", h.released);
  return rc != LUA_OK || h.released != 1;
}
