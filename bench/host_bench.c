/* The batch-1 benchmark from a C host (issue 19): bench/batch1.lua's model,
 * each call a lua_pcall of its run function from C, as a host that runs one
 * inference per frame or request does; beside it, in the same process, the
 * same calls from a Lua loop. Prints "host:batch1_mlp <s>" and
 * "host:batch1_mlp_lualoop <s>" (seconds per call, median of REPS timed
 * repetitions of K calls after a warm-up) at TS_THREADS threads. Run from
 * the repository root with LUA_PATH and LUA_CPATH set as for bench/run.lua. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

#define K 2000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void fail(lua_State *L) {
  fprintf(stderr, "host_bench: %s\n", lua_tostring(L, -1));
  lua_close(L);
  exit(1);
}

/* K calls of the run function (at index fn) through lua_pcall */
static void from_c(lua_State *L, int fn) {
  for (int i = 0; i < K; i++) {
    lua_pushvalue(L, fn);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) fail(L);
    lua_pop(L, 1);
  }
}

/* K calls from a Lua loop (the function at index loop, given the run function) */
static void from_lua(lua_State *L, int loop, int fn) {
  lua_pushvalue(L, loop);
  lua_pushvalue(L, fn);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) fail(L);
}

/* Medians of reps timed repetitions of each side, taken in turns (so that
 * the machine's drift does not land on one side only), after a warm-up. */
static void medians(lua_State *L, int reps, int loop, int fn, double *c, double *l) {
  double tc[64], tl[64];
  if (reps > 64) reps = 64;
  from_c(L, fn);
  from_lua(L, loop, fn);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    from_c(L, fn);
    double t1 = now();
    from_lua(L, loop, fn);
    tl[r] = (now() - t1) / K;
    tc[r] = (t1 - t0) / K;
  }
  qsort(tc, (size_t)reps, sizeof tc[0], cmp);
  qsort(tl, (size_t)reps, sizeof tl[0], cmp);
  *c = tc[(reps - 1) / 2];
  *l = tl[(reps - 1) / 2];
}

int main(void) {
  const char *r = getenv("REPS"), *th = getenv("TS_THREADS");
  int reps = r ? atoi(r) : 7;
  if (reps < 1) reps = 1;
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0); /* the static library's */
  lua_pop(L, 1);
  lua_pushfstring(L, "local ts = require 'tensorslow'\n"
                     "ts.set_num_threads(%d)\n"
                     "local call = dofile('bench/batch1.lua')()\n"
                     "local function loop(f) for _ = 1, %d do f() end end\n"
                     "return call, loop",
                  th ? atoi(th) : 1, K);
  if (luaL_loadstring(L, lua_tostring(L, -1)) != LUA_OK || lua_pcall(L, 0, 2, 0) != LUA_OK)
    fail(L);
  int fn = lua_gettop(L) - 1, loop = lua_gettop(L);
  double c, l;
  medians(L, reps, loop, fn, &c, &l);
  printf("host:batch1_mlp %.9g\nhost:batch1_mlp_lualoop %.9g\n", c, l);
  lua_close(L);
  return 0;
}
