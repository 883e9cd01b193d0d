/* Memory a host can budget: sess:plan_memory / ts_plan_memory against the
 * peak a host allocator (ts_setallocator) measures during the run, for an
 * MLP and a small CNN (within 5%); then ts_setbudget: a run whose plan needs
 * more than the budget has left fails before computing anything, naming the
 * need and the budget, and the state stays usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

typedef struct counter {
  size_t used, peak, limit;
} counter;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counter *c = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    c->used -= osize;
    free(ptr);
    return NULL;
  }
  if (nsize > osize && c->used + (nsize - osize) > c->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  c->used = c->used - osize + nsize;
  if (c->used > c->peak) c->peak = c->used;
  return p;
}

static size_t left(void *ud) {
  const counter *c = ud;
  return c->limit - c->used;
}

static int setup(lua_State *L) {
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  return 0;
}

/* Globals s (session), y (fetch), shapes ({[x] = dims}), feed ({[x] = t}). */
static const char models[] =
    "local ts = require 'tensorslow'\n"
    "function mlp(batch)\n"
    "  local g = ts.Graph()\n"
    "  local x = ts.placeholder{graph = g, shape = {-1, 784}, dtype = 'float32'}\n"
    "  local w1 = ts.Variable(ts.fill({784, 256}, 0.01, 'float32'), {graph = g})\n"
    "  local b1 = ts.Variable(ts.fill({256}, 0.1, 'float32'), {graph = g})\n"
    "  local w2 = ts.Variable(ts.fill({256, 10}, 0.02, 'float32'), {graph = g})\n"
    "  y = ts.softmax(ts.matmul(ts.relu(ts.matmul(x, w1) + b1), w2))\n"
    "  s = ts.Session(g)\n"
    "  shapes = {[x] = {batch, 784}}\n"
    "  feed = {[x] = ts.fill({batch, 784}, 0.5, 'float32')}\n"
    "end\n"
    "function cnn(batch)\n"
    "  local g = ts.Graph()\n"
    "  local x = ts.placeholder{graph = g, shape = {-1, 28, 28, 1}, dtype = 'float32'}\n"
    "  local f1 = ts.Variable(ts.fill({5, 5, 1, 16}, 0.04, 'float32'), {graph = g})\n"
    "  local f2 = ts.Variable(ts.fill({5, 5, 16, 32}, 0.01, 'float32'), {graph = g})\n"
    "  local w = ts.Variable(ts.fill({7 * 7 * 32, 10}, 0.001, 'float32'), {graph = g})\n"
    "  local h = ts.max_pool(ts.relu(ts.conv2d(x, f1, {strides = {1, 1, 1, 1}, padding = 'SAME'})),\n"
    "                        {1, 2, 2, 1}, {1, 2, 2, 1}, 'VALID')\n"
    "  h = ts.max_pool(ts.relu(ts.conv2d(h, f2, {strides = {1, 1, 1, 1}, padding = 'SAME'})),\n"
    "                  {1, 2, 2, 1}, {1, 2, 2, 1}, 'VALID')\n"
    "  y = ts.softmax(ts.matmul(ts.reshape(h, {-1, 7 * 7 * 32}), w))\n"
    "  s = ts.Session(g)\n"
    "  shapes = {[x] = {batch, 28, 28, 1}}\n"
    "  feed = {[x] = ts.fill({batch, 28, 28, 1}, 0.5, 'float32')}\n"
    "end\n";

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 0;
  fprintf(stderr, "plan_memory: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

/* The estimate for model(batch) against the run's measured peak. */
static int measure(lua_State *L, counter *c, const char *model, int batch) {
  char code[128];
  snprintf(code, sizeof code, "%s(%d); collectgarbage(); collectgarbage()", model, batch);
  if (run(L, code)) return 1;
  lua_getglobal(L, "s");
  lua_getglobal(L, "y");
  lua_getglobal(L, "shapes");
  size_t est = ts_plan_memory(L, -3, -2, -1);
  lua_pop(L, 3);
  lua_gc(L, LUA_GCSTOP);
  size_t base = c->used;
  c->peak = base;
  if (run(L, "r = s:run(y, feed)")) return 1;
  size_t got = c->peak - base;
  lua_gc(L, LUA_GCRESTART);
  double err = got ? ((double)est - (double)got) / (double)got : 1;
  printf("plan_memory: %s batch %d: estimate %zu bytes, measured peak %zu (%+.2f%%)\n", model,
         batch, est, got, 100 * err);
  if (err > 0.05 || err < -0.05) {
    fprintf(stderr, "plan_memory: %s batch %d: off by more than 5%%\n", model, batch);
    return 1;
  }
  return run(L, "r = nil; s:close(); collectgarbage(); collectgarbage()");
}

int main(void) {
  int bad = 0;
  counter c = {0, 0, (size_t)1 << 40};
  lua_State *L = luaL_newstate();
  ts_setallocator(L, count_alloc, &c);
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK || run(L, models)) return 1;
  bad |= measure(L, &c, "mlp", 1);
  bad |= measure(L, &c, "mlp", 64);
  bad |= measure(L, &c, "cnn", 1);
  bad |= measure(L, &c, "cnn", 32);
  /* A budget the plan does not fit in: refused up front, nothing computed. */
  bad |= run(L, "cnn(64)");
  lua_getglobal(L, "s");
  lua_getglobal(L, "y");
  lua_getglobal(L, "shapes");
  size_t need = ts_plan_memory(L, -3, -2, -1);
  lua_pop(L, 3);
  c.limit = c.used + need / 2;
  ts_setbudget(L, left, &c);
  bad |= run(L, "local ok, err = pcall(s.run, s, y, feed)\n"
                "assert(not ok, 'the run fitted')\n"
                "assert(err:find('not enough memory for this run: its plan needs %d+ bytes more'), err)\n"
                "assert(err:find('the memory budget has %d+ left'), err)\n"
                "assert(s:stats().allocations == 0, 'buffers were allocated')\n"
                "assert(s:stats().pinned == 0)\n");
  /* the same run fits once the budget allows it */
  c.limit = c.used + need + need / 10;
  bad |= run(L, "local r = s:run(y, feed); assert(r.shape[1] == 64)");
  ts_setbudget(L, NULL, NULL);
  c.limit = (size_t)1 << 40;
  bad |= run(L, "s:close(); s = nil; collectgarbage()");
  lua_close(L);
  if (c.used) fprintf(stderr, "plan_memory: %zu bytes left after lua_close\n", c.used), bad = 1;
  if (!bad) printf("plan_memory: ok\n");
  return bad;
}
