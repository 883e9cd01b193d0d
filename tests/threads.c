/* Many lua_States, one thread each, running the same training-like script at
 * once with different seeds: each result must be bitwise the one the script
 * gives when run alone. ThreadSanitizer runs this in .ci/run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

enum { NTHREADS = 6, N = 48, STEPS = 200 };

/* Random data from ts.seed/ts.randn, a graph whose Variables W and b are
 * updated by matmul/add/multiply steps and assigned back, b with a shift the
 * host passes without a copy; returns W's final value plus a sum computed on
 * three threads of the state's pool. */
static const char script[] =
    "local ts = require 'tensorslow'\n"
    "local seed, n, steps, shift = ...\n"
    "ts.seed(seed)\n"
    "local g = ts.Graph()\n"
    "local W = ts.Variable(ts.randn({n, n}) * 0.1, {graph = g, name = 'W'})\n"
    "local b = ts.Variable(ts.zeros({1, n}), {graph = g, name = 'b'})\n"
    "local x = ts.placeholder{graph = g, name = 'x', shape = {-1, n}}\n"
    "local y = ts.matmul(x, W) + b\n"
    "local W_next = W - ts.matmul(x, y, {transpose_a = true}) * 0.001\n"
    "local b_next = (b + shift) * 0.5\n"
    "local sess <close> = ts.Session(g)\n"
    "for _ = 1, steps do\n"
    "  local xb = ts.randn({n, n})\n"
    "  local r = sess:run({W_next, b_next}, {[x] = xb})\n"
    "  W:assign(r[1])\n"
    "  b:assign(r[2])\n"
    "end\n"
    "ts.set_num_threads(3)\n" /* the state's pool: element-wise, reduction, tsi_gemm */
    "local big, m = ts.randn({1 << 16}), ts.randn({256, 256})\n"
    "local acc = ts.reduce_sum(ts.matmul(m, m)) * 1e-9\n"
    "for _ = 1, 4 do acc = acc + ts.reduce_sum(ts.exp(big * 0.01) * big) * 1e-6 end\n"
    "return W:value() + acc\n";

typedef struct job {
  long long seed;
  double shift[N]; /* the host's buffer, seen by Lua through ts_pushtensor */
  double out[N * N];
  int released;
  char err[256];
} job;

static void release(void *ud, void *data) {
  job *j = ud;
  if (data == j->shift) j->released++;
}

static void *run_job(void *arg) {
  job *j = arg;
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(j->err, sizeof j->err, "no state");
    return NULL;
  }
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  int rc = luaL_loadstring(L, script);
  if (rc == LUA_OK) {
    lua_pushinteger(L, j->seed);
    lua_pushinteger(L, N);
    lua_pushinteger(L, STEPS);
    for (int i = 0; i < N; i++) j->shift[i] = 0.01 * (double)((j->seed + i) % 7);
    int64_t shape[2] = {1, N};
    ts_pushtensor(L, TS_FLOAT64, 2, shape, j->shift, release, j);
    rc = lua_pcall(L, 4, 1, 0);
  }
  if (rc != LUA_OK) {
    snprintf(j->err, sizeof j->err, "%s", lua_tostring(L, -1));
  } else {
    const ts_TensorView *v = ts_totensor(L, -1);
    if (!v || v->dtype != TS_FLOAT64 || v->numel != N * N)
      snprintf(j->err, sizeof j->err, "result is not a %dx%d float64 tensor", N, N);
    else
      memcpy(j->out, v->data, sizeof j->out);
  }
  lua_close(L);
  if (j->released != 1 && !j->err[0])
    snprintf(j->err, sizeof j->err, "release called %d times", j->released);
  return NULL;
}

int main(void) {
  job *alone = calloc(NTHREADS, sizeof *alone), *together = calloc(NTHREADS, sizeof *together);
  pthread_t th[NTHREADS];
  int bad = 0;
  for (int i = 0; i < NTHREADS; i++) {
    alone[i].seed = together[i].seed = 1000 + 17 * i;
    run_job(&alone[i]);
  }
  for (int i = 0; i < NTHREADS; i++)
    if (pthread_create(&th[i], NULL, run_job, &together[i])) {
      fprintf(stderr, "threads: pthread_create failed\n");
      return 1;
    }
  for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NTHREADS; i++) {
    if (alone[i].err[0] || together[i].err[0]) {
      fprintf(stderr, "threads: seed %lld: %s%s\n", alone[i].seed, alone[i].err,
              together[i].err);
      bad = 1;
    } else if (memcmp(alone[i].out, together[i].out, sizeof alone[i].out) != 0) {
      fprintf(stderr, "threads: seed %lld: concurrent result differs from the lone run\n",
              alone[i].seed);
      bad = 1;
    }
    /* different seeds must give different results (the seed is per state) */
    if (i > 0 && memcmp(alone[i].out, alone[0].out, sizeof alone[i].out) == 0) {
      fprintf(stderr, "threads: seeds %lld and %lld gave the same result\n", alone[0].seed,
              alone[i].seed);
      bad = 1;
    }
  }
  free(alone);
  free(together);
  if (bad) return 1;
  printf("threads: %d states in %d threads match their lone runs bitwise\n", NTHREADS, NTHREADS);
  return 0;
}
