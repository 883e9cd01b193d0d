/* Runs that yield, driven from C: a host loop that interleaves two models'
 * runs (sess:run with yield_every inside coroutines made by the host),
 * resumed with lua_resume one slice at a time; the results equal a plain
 * run's bytes. Then runs left suspended: a coroutine dropped and collected,
 * and one still suspended at lua_close (ASan's leak check in
 * make asan-host-test: the pins, plans and graphs all come back). */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

static const char models[] =
    "local ts = require 'tensorslow'\n"
    "local function model(width, depth, seed)\n"
    "  local g = ts.Graph()\n"
    "  local x = ts.placeholder{graph = g, shape = {-1, width}, dtype = 'float32'}\n"
    "  local h = x\n"
    "  for l = 1, depth do\n"
    "    local w = {}\n"
    "    for i = 1, width do w[i] = {} for j = 1, width do\n"
    "      w[i][j] = math.sin(seed + l * 31 + i * 7 + j) / width end end\n"
    "    h = ts.tanh(ts.matmul(h, ts.constant(ts.tensor(w, 'float32'), {graph = g}))) + 0.1\n"
    "  end\n"
    "  local s = ts.Session(g)\n"
    "  local feed = {[x] = ts.fill({3, width}, 0.5, 'float32')}\n"
    "  return {s = s, y = h, feed = feed, want = s:run(h, feed)}\n"
    "end\n"
    "A, B = model(16, 6, 1), model(8, 9, 2)\n"
    "function start(m, n) return m.s:run(m.y, m.feed, {yield_every = n}) end\n"
    "function same(m, r)\n"
    "  local a, b = m.want:totable(), r:totable()\n"
    "  for i = 1, #a do for j = 1, #a[i] do\n"
    "    if string.pack('<f', a[i][j]) ~= string.pack('<f', b[i][j]) then return false end end end\n"
    "  return true\n"
    "end\n";

static int setup(lua_State *L) {
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  return 0;
}

/* A coroutine running start(model, n), left on L's stack. */
static lua_State *start(lua_State *L, const char *model, int n) {
  lua_State *co = lua_newthread(L);
  lua_getglobal(co, "start");
  lua_getglobal(co, model);
  lua_pushinteger(co, n);
  return co;
}

static int check(lua_State *L, const char *what, int ok) {
  if (!ok) fprintf(stderr, "yield: %s\n", what);
  (void)L;
  return !ok;
}

int main(void) {
  int bad = 0;
  lua_State *L = luaL_newstate();
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK || luaL_dostring(L, models) != LUA_OK) {
    fprintf(stderr, "yield: setup: %s\n", lua_tostring(L, -1));
    return 1;
  }
  /* The host loop: one slice of each model in turn until both are done. */
  lua_State *co[2] = {start(L, "A", 1), start(L, "B", 2)};
  int nargs[2] = {2, 2}, done[2] = {0, 0}, slices[2] = {0, 0};
  while (!done[0] || !done[1]) {
    for (int k = 0; k < 2; k++) {
      if (done[k]) continue;
      int nres, st = lua_resume(co[k], L, nargs[k], &nres);
      nargs[k] = 0;
      slices[k]++;
      if (st == LUA_YIELD) {
        bad |= check(L, "a yield gives no values", nres == 0);
        continue;
      }
      if (st != LUA_OK) {
        fprintf(stderr, "yield: model %d: %s\n", k, lua_tostring(co[k], -1));
        return 1;
      }
      done[k] = 1;
      lua_getglobal(L, "same");
      lua_getglobal(L, k ? "B" : "A");
      lua_xmove(co[k], L, 1);
      lua_call(L, 2, 1);
      bad |= check(L, "a yielding run's result differs from a plain run's", lua_toboolean(L, -1));
      lua_pop(L, 1);
    }
  }
  /* model A: 6 matmuls and 6 fused tanh + add groups, one step per slice */
  bad |= check(L, "model A ran in 12 slices", slices[0] == 12);
  bad |= check(L, "model B ran in 9 slices", slices[1] == 9);
  lua_pop(L, 2);
  /* A run suspended, then its coroutine dropped and collected: the pin goes. */
  lua_State *c = start(L, "A", 1);
  int nres;
  bad |= check(L, "suspends", lua_resume(c, L, 2, &nres) == LUA_YIELD);
  lua_pop(L, 1);
  lua_gc(L, LUA_GCCOLLECT);
  lua_gc(L, LUA_GCCOLLECT);
  bad |= check(L, "the pin is released",
               luaL_dostring(L, "assert(A.s:stats().pinned == 0 and A.s:stats().running == 0)")
                   == LUA_OK);
  /* One left suspended at lua_close. */
  c = start(L, "B", 1);
  bad |= check(L, "suspends", lua_resume(c, L, 2, &nres) == LUA_YIELD);
  lua_close(L);
  if (!bad) printf("yield: ok\n");
  return bad;
}
