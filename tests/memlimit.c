/* Memory limits: a state whose allocator refuses allocations past a budget
 * (lua_newstate) and a host allocator for tensor data (ts_setallocator).
 * Running out is a catchable Lua error "not enough memory ...", the state
 * stays usable, and after lua_close every byte came back (the budget's count
 * here, AddressSanitizer's leak check in .ci/run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

typedef struct budget {
  size_t used, limit;
  long refused, nalloc, nfree;
  long fail_at; /* > 0: refuse the fail_at-th growing allocation from now on */
  long refuse;  /* refuse the next so many growing allocations */
} budget;

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  budget *b = ud;
  if (!ptr) osize = 0; /* osize then encodes a type, not a size */
  if (nsize == 0) {
    if (ptr) b->nfree++;
    b->used -= osize;
    free(ptr);
    return NULL;
  }
  if (nsize > osize && ((b->refuse > 0 && b->refuse--) || (b->fail_at > 0 && --b->fail_at == 0))) {
    b->refused++;
    return NULL;
  }
  if (nsize > osize && (nsize - osize > b->limit || b->used + (nsize - osize) > b->limit)) {
    b->refused++;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  if (!ptr) b->nalloc++;
  b->used = b->used - osize + nsize;
  return p;
}

static int memleft(lua_State *L) {
  budget *b = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushinteger(L, (lua_Integer)(b->limit - b->used));
  return 1;
}

static int refuse(lua_State *L) {
  budget *b = lua_touserdata(L, lua_upvalueindex(1));
  b->refuse = (long)luaL_checkinteger(L, 1);
  return 0;
}

static int setup(lua_State *L) {
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  return 0;
}

static int run(lua_State *L, const char *what, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 0;
  fprintf(stderr, "memlimit: %s: %s\n", what, luaL_tolstring(L, -1, NULL));
  lua_pop(L, 1);
  return 1;
}

/* Growing tensors until the budget says no, eagerly and through a session's
 * plan, then ordinary work in the same state. */
static const char grow[] =
    "local ts = require 'tensorslow'\n"
    "local keep, n, ok, err = {}, 1024\n"
    "repeat\n"
    "  ok, err = pcall(ts.zeros, {n})\n"
    "  keep[#keep + 1] = ok and err or nil\n"
    "  n = n * 2\n"
    "until not ok\n"
    "assert(tostring(err):find('not enough memory'), err)\n"
    "assert(#keep > 5, 'failed too early')\n"
    "keep = nil\n"
    "collectgarbage(); collectgarbage() -- finalized, then freed\n"
    "-- an eager op whose result does not fit\n"
    "local x = ts.zeros({memleft() // 8 * 6 // 10})\n"
    "ok, err = pcall(function() return x + 1 end)\n"
    "assert(not ok and tostring(err):find('not enough memory'), err)\n"
    "-- a plan step buffer that does not fit\n"
    "local g = ts.Graph()\n"
    "local p = ts.placeholder{graph = g, name = 'p'}\n"
    "local y = p * 2 + 1\n"
    "local sess <close> = ts.Session(g)\n"
    "ok, err = pcall(sess.run, sess, y, {[p] = x})\n"
    "assert(not ok and tostring(err):find('not enough memory'), err)\n"
    "x = nil\n"
    "collectgarbage(); collectgarbage()\n"
    "-- the state and the session still work\n"
    "local r = sess:run(y, {[p] = ts.tensor{1, 2, 3}})\n"
    "assert(r:get(1) == 3 and r:get(3) == 7)\n"
    "local m = ts.matmul(ts.tensor{{1, 2}, {3, 4}}, ts.tensor{{1}, {1}})\n"
    "assert(m:get(1, 1) == 3 and m:get(2, 1) == 7)\n"
    "-- and the big tensor fits again\n"
    "local z = ts.zeros({memleft() // 8 * 6 // 10})\n"
    "assert(z:numel() > 1000)\n";

int main(void) {
  int bad = 0;
  /* 1. The whole state under a budget: Lua, tensors, graphs and plans. */
  {
    budget b = {0, 64u << 20, 0, 0, 0, 0, 0};
    lua_State *L = lua_newstate(budget_alloc, &b);
    if (!L) return 1;
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      fprintf(stderr, "memlimit: setup: %s\n", lua_tostring(L, -1));
      return 1;
    }
    lua_pushlightuserdata(L, &b);
    lua_pushcclosure(L, memleft, 1);
    lua_setglobal(L, "memleft");
    lua_pushlightuserdata(L, &b);
    lua_pushcclosure(L, refuse, 1);
    lua_setglobal(L, "refuse");
    bad |= run(L, "budgeted state", grow);
    /* 800 MB of 8 MB results dropped at once: the collector must learn of
     * each block (tensor data of 128 KB and more is not inline) to give them
     * back, or to the cache, in time. */
    bad |= run(L, "dropped results",
               "local ts = require 'tensorslow'\n"
               "collectgarbage()\n"
               "for i = 1, 100 do local t = ts.fill({1 << 20}, i); assert(t:get(7) == i) end\n");
    /* A large tensor (its block taken from the allocator directly, where
     * Lua's emergency collection does not run) must collect before it fails:
     * it failed with 60 MB of garbage in a 64 MB budget. The garbage is small
     * tensors (under 128 KB, inside their userdata) left uncollected. */
    bad |= run(L, "garbage before a large tensor",
               "local ts = require 'tensorslow'\n"
               "collectgarbage()\n"
               "collectgarbage('stop')\n"
               "do\n"
               "  local held = {}\n"
               "  while memleft() > 1 << 20 do held[#held + 1] = ts.zeros({15000}) end\n"
               "end\n"
               "collectgarbage('restart')\n"
               "assert(memleft() < 16 << 20, memleft()) -- the 32 MB below need the garbage\n"
               "local t = ts.fill({4 << 20}, 3)\n"
               "assert(t:get(4 << 20) == 3)\n"
               "t = nil\n"
               "do\n"
               "  local held = {}\n"
               "  while memleft() > 1 << 20 do held[#held + 1] = ts.zeros({15000}) end\n"
               "end\n"
               "assert(memleft() < 16 << 20, memleft())\n"
               "t = ts.tensor({{1, 2}, {3, 4}}):reshape({4}) + ts.zeros({1 << 20, 1})\n"
               "assert(t.shape[1] == 1 << 20 and t:get(1 << 20, 4) == 4)\n");
    /* collectgarbage() empties the tensor cache through a sentinel object
     * that each cycle's finaliser makes anew. Its allocation, refused here
     * (finalisers run newest first: the one that refuses, then the sentinel;
     * twice, as Lua collects and tries again), was an error in a finaliser,
     * only a warning: the sentinel was gone, and the cache kept up to 64 MB
     * through every later collection. */
    bad |= run(L, "the cache's sentinel out of memory",
               "local ts = require 'tensorslow'\n"
               "local core = require 'tensorslow.core'\n"
               "collectgarbage()\n"
               "setmetatable({}, {__gc = function() refuse(2) end})\n"
               "collectgarbage()\n"
               "refuse(0)\n"
               "for i = 1, 3 do\n"
               "  local t = ts.fill({1 << 20}, i)\n"
               "  assert(t:get(1) == i)\n"
               "  t = nil\n"
               "  collectgarbage()\n"
               "  assert(core.cache_info() == 0, 'kept ' .. core.cache_info() .. ' blocks')\n"
               "end\n");
    if (b.refused == 0) bad |= 1, fprintf(stderr, "memlimit: the budget never refused\n");
    lua_close(L);
    if (b.used != 0 || b.nalloc != b.nfree) {
      fprintf(stderr, "memlimit: %zu bytes (%ld blocks) not given back after lua_close\n", b.used,
              b.nalloc - b.nfree);
      bad = 1;
    }
  }
  /* 2. Tensor data from a host allocator (ts_setallocator), Lua on its own. */
  {
    budget h = {0, 16u << 20, 0, 0, 0, 0, 0};
    lua_State *L = luaL_newstate();
    ts_setallocator(L, budget_alloc, &h); /* before opening: the default graph too */
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      fprintf(stderr, "memlimit: setup: %s\n", lua_tostring(L, -1));
      return 1;
    }
    size_t before = h.used;
    bad |= run(L, "host allocator",
               "ts = require 'tensorslow'\n"
               "t = ts.ones({1000}) * 3\n"
               "assert(t:get(1000) == 3)\n");
    if (h.used < before + 2 * 8000) { /* ones and the product */
      fprintf(stderr, "memlimit: tensor data did not come from the host allocator\n");
      bad = 1;
    }
    bad |= run(L, "host allocator limit",
               "local ok, err = pcall(ts.zeros, {4 * 1024 * 1024})\n"
               "assert(not ok and err:find('not enough memory'), err)\n"
               "local g = ts.Graph()\n"
               "local v = ts.Variable(ts.ones({3}), {graph = g})\n"
               "local s <close> = ts.Session(g)\n"
               "assert(s:run(v * 2):get(3) == 2)\n"
               "t = nil; collectgarbage(); collectgarbage()\n");
    /* The tensor cache keeps freed blocks in the host's counts: an allocation
     * of a graph that fails while the cache holds blocks must empty it and
     * try again, not fail (it did: "not enough memory for a node"). */
    lua_pushlightuserdata(L, &h);
    lua_pushcclosure(L, memleft, 1);
    lua_setglobal(L, "hostleft");
    bad |= run(L, "graph memory from the cache's blocks",
               "local core = require 'tensorslow.core'\n"
               "collectgarbage()\n"
               "local held = {}\n"
               "while hostleft() > 3 << 20 do held[#held + 1] = ts.zeros({256 * 1024}) end\n"
               "for i = 1, #held do debug.getmetatable(held[i]).__gc(held[i]) end\n"
               "local blocks, bytes = core.cache_info()\n"
               "assert(blocks == #held and blocks >= 4 and hostleft() < 3 << 20, blocks)\n"
               "local g = ts.Graph()\n"
               "local y = ts.placeholder {graph = g}\n"
               "local start, n = hostleft() + bytes, 0\n"
               "while start - hostleft() - select(2, core.cache_info()) < 6 << 20 do\n"
               "  y = y + 1; n = n + 1\n"
               "end\n"
               "assert(core.cache_info() == 0, 'the cache was not emptied')\n"
               "assert(n > 1000, n)\n"
               "g = nil; y = nil; collectgarbage()\n");
    size_t after_gc = h.used;
    lua_close(L);
    if (h.refused == 0 || after_gc >= before + 2 * 8000 || h.used != 0 || h.nalloc != h.nfree) {
      fprintf(stderr, "memlimit: host allocator: refused %ld, %zu bytes left after close\n",
              h.refused, h.used);
      bad = 1;
    }
  }
  /* 3. Every allocation of a graph build and run failing in turn: each
   * failure is an error, never a crash or a leak. Mode 0: all of the state's
   * memory; mode 1: only what tensorslow takes from a host allocator. */
  for (int mode = 0; mode < 2; mode++) {
    int k, done = 0;
    for (k = 1; k < 5000 && !done && !bad; k++) {
      budget b = {0, 64u << 20, 0, 0, 0, 0, 0};
      lua_State *L = mode == 0 ? lua_newstate(budget_alloc, &b) : luaL_newstate();
      if (!L) return 1;
      if (mode == 1) ts_setallocator(L, budget_alloc, &b);
      lua_pushcfunction(L, setup);
      if (lua_pcall(L, 0, 0, 0) != LUA_OK) return 1;
      if (luaL_dostring(L, "ts = require 'tensorslow'") != LUA_OK) return 1;
      b.fail_at = k;
      int rc = luaL_dostring(L,
                             "local g = ts.Graph()\n"
                             "local W = ts.Variable({{1, 2}, {3, 4}}, {graph = g, name = 'W'})\n"
                             "local x = ts.placeholder{graph = g, shape = {-1, 2}}\n"
                             "local y = ts.matmul(x, W) * 2 - 1\n"
                             "local s <close> = ts.Session(g)\n"
                             "local r = s:run({y, W}, {[x] = ts.ones({3, 2})})\n"
                             "W:assign(r[2] + 1)\n"
                             "assert(s:run(y, {[x] = {{1, 0}}}):get(1, 2) == 5)\n");
      if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (!m || !strstr(m, "not enough memory")) {
          fprintf(stderr, "memlimit: failing allocation %d: unexpected error: %s\n", k,
                  m ? m : "(not a string)");
          bad = 1;
        }
      } else {
        done = b.fail_at > 0; /* the script needed fewer than k allocations */
      }
      lua_close(L);
      if (b.used != 0 || b.nalloc != b.nfree) {
        fprintf(stderr, "memlimit: failing allocation %d: %zu bytes left after close\n", k,
                b.used);
        bad = 1;
      }
    }
    if (!done && !bad) {
      fprintf(stderr, "memlimit: fault injection did not reach the end\n");
      bad = 1;
    }
    if (!bad)
      printf("memlimit: each of the script's %d allocations (%s) failed in turn\n", k - 2,
             mode == 0 ? "state allocator" : "host allocator");
  }
  if (bad) return 1;
  printf("memlimit: out-of-memory errors caught, states usable, nothing left allocated\n");
  return 0;
}
