/* The host contract of tensorslow.h (issue 19), as a C host meets it; run
 * under AddressSanitizer by `make asan-host-test`, so a use after free or a
 * leak fails it:
 * - __gc called by hand (debug.getmetatable, core.Tensor_mt) on a zero-copy
 *   tensor while reshape views of it live: the host's release waits for the
 *   last view and runs exactly once (the buffer is freed by the release, so
 *   a read after an early release is an ASan report); the same for tensors
 *   from a host allocator; a graph freed by hand under its nodes;
 * - a custom op's error reaches the host's lua_pcall whole: a 5000-byte
 *   message, a table error object as the same table;
 * - ts_checktensor_dtype and negative indices: `bad argument` messages that
 *   name the function (or leave out an unknown one), dtype and rank;
 * - no symbol clashes: this file defines functions named like tensorslow's
 *   internals (tsi_*, tsb_*) and still links with libtensorslow.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

static int failures;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                           \
    }                                                                       \
  } while (0)

/* Named like internals of the library (src/core.h, src/binding.h): with
 * those exported, linking this file with libtensorslow.a would fail with
 * "multiple definition". */
int tsi_numel(int a) { return a + 1; }
const char *tsb_getstate(void) { return "host's own tsb_getstate"; }
int tsi_fail(void) { return 7; }

/* The release frees the host's buffer: a read through a view after an early
 * release is a heap-use-after-free. */
typedef struct owner {
  int calls;
  void *last;
} owner;

static void release_free(void *ud, void *data) {
  owner *o = ud;
  o->calls++;
  o->last = data;
  free(data);
}

static lua_State *open_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  if (luaL_dostring(L, "ts = require 'tensorslow'; core = require 'tensorslow.core'") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  return L;
}

static int dostring(lua_State *L, const char *s) {
  int rc = luaL_dostring(L, s);
  if (rc != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return rc;
}

/* Runs s, which must fail; returns whether its message contains text. */
static int fails_with(lua_State *L, const char *s, const char *text) {
  if (luaL_dostring(L, s) == LUA_OK) {
    fprintf(stderr, "expected an error containing '%s' from: %s\n", text, s);
    lua_settop(L, 0);
    return 0;
  }
  const char *m = lua_tostring(L, -1);
  int ok = m && strstr(m, text) != NULL;
  if (!ok) fprintf(stderr, "error '%s' does not contain '%s'\n", m ? m : "(not a string)", text);
  lua_pop(L, 1);
  return ok;
}

/* Pushes a 2x3 float64 tensor over a fresh malloc'd buffer (1..6) whose
 * release (o) frees it, as global name; returns the buffer. */
static double *push_owned(lua_State *L, owner *o, const char *name) {
  double *buf = malloc(6 * sizeof *buf);
  for (int i = 0; i < 6; i++) buf[i] = i + 1;
  int64_t shape[2] = {2, 3};
  ts_pushtensor(L, TS_FLOAT64, 2, shape, buf, release_free, o);
  lua_setglobal(L, name);
  return buf;
}

static double sum6(const double *v) {
  double s = 0;
  for (int i = 0; i < 6; i++) s += v[i];
  return s;
}

static void views_of_host_buffers(void) {
  /* The base freed by hand (through debug.getmetatable) while two views
   * live: no release until the last view goes, once. */
  {
    lua_State *L = open_state();
    owner o = {0, NULL};
    double *buf = push_owned(L, &o, "x");
    CHECK(dostring(L, "v = x:reshape{3, 2}; vv = v:reshape{6}") == 0);
    lua_getglobal(L, "vv");
    const double *seen = ts_checktensor(L, -1)->data; /* what a host kept */
    lua_pop(L, 1);
    CHECK(seen == buf);
    CHECK(dostring(L, "debug.getmetatable(x).__gc(x)") == 0);
    CHECK(o.calls == 0);
    CHECK(sum6(seen) == 21); /* still the host's live buffer */
    /* Lua refuses the freed base and its views; the C API too */
    CHECK(fails_with(L, "return x:get(1, 1)", "tensor has been freed"));
    CHECK(fails_with(L, "return v:get(1, 1)", "tensor has been freed"));
    CHECK(fails_with(L, "return vv + 1", "tensor has been freed"));
    lua_getglobal(L, "v");
    CHECK(ts_totensor(L, -1) == NULL);
    lua_pop(L, 1);
    CHECK(dostring(L, "debug.getmetatable(x).__gc(x)") == 0); /* twice: nothing */
    CHECK(dostring(L, "x = nil; v = nil; collectgarbage(); collectgarbage()") == 0);
    CHECK(o.calls == 0); /* vv is left */
    CHECK(sum6(seen) == 21);
    CHECK(dostring(L, "vv = nil; collectgarbage(); collectgarbage()") == 0);
    CHECK(o.calls == 1 && o.last == buf);
    lua_close(L);
    CHECK(o.calls == 1);
  }
  /* Views freed by hand first (core.Tensor_mt.__gc), then the base: the
   * release runs at the base's call, once, and never again. */
  {
    lua_State *L = open_state();
    owner o = {0, NULL};
    double *buf = push_owned(L, &o, "x");
    CHECK(dostring(L, "local gc = core.Tensor_mt.__gc; v = x:reshape{6}; w = v:reshape{3, 2}; "
                      "gc(w); gc(v); gc(w); assert(x:get(2, 3) == 6)") == 0);
    CHECK(o.calls == 0);
    CHECK(buf[5] == 6);
    CHECK(dostring(L, "core.Tensor_mt.__gc(x)") == 0);
    CHECK(o.calls == 1 && o.last == buf);
    CHECK(dostring(L, "core.Tensor_mt.__gc(x); core.Tensor_mt.__gc(v); collectgarbage()") == 0);
    CHECK(o.calls == 1);
    lua_close(L);
    CHECK(o.calls == 1);
  }
  /* Base freed by hand, a view left at lua_close: released there, once;
   * and a base collected normally with its views (no hand call). */
  {
    lua_State *L = open_state();
    owner o = {0, NULL}, p = {0, NULL};
    double *buf = push_owned(L, &o, "x");
    push_owned(L, &p, "y");
    CHECK(dostring(L, "keep = x:reshape{6}") == 0);
    lua_getglobal(L, "keep");
    const double *seen = ts_checktensor(L, -1)->data;
    lua_pop(L, 1);
    CHECK(dostring(L, "core.Tensor_mt.__gc(x); x = nil; collectgarbage(); collectgarbage()") == 0);
    CHECK(o.calls == 0);
    CHECK(sum6(seen) == 21);
    CHECK(dostring(L, "local a, b = y:reshape{6}, y:reshape{3, 2}; y = nil; a, b = nil, nil; "
                      "collectgarbage(); collectgarbage()") == 0);
    CHECK(p.calls == 1);
    lua_close(L);
    CHECK(o.calls == 1 && o.last == buf);
    CHECK(p.calls == 1);
  }
  /* Finalisers that run in the same cycle in any order, with a view
   * resurrected by another finaliser: once, no read after the release. */
  {
    lua_State *L = open_state();
    owner o = {0, NULL};
    push_owned(L, &o, "x");
    CHECK(dostring(L, "do local v = x:reshape{6}; setmetatable({}, {__gc = function() "
                      "saved = v end}) end; x = nil; collectgarbage(); collectgarbage()") == 0);
    CHECK(o.calls == 1);
    CHECK(fails_with(L, "return saved:get(1)", "tensor has been freed"));
    lua_close(L);
    CHECK(o.calls == 1);
  }
  /* A view whose base user value was replaced (debug.setuservalue) is dead,
   * never a read through a stale pointer. */
  {
    lua_State *L = open_state();
    owner o = {0, NULL};
    push_owned(L, &o, "x");
    CHECK(dostring(L, "v = x:reshape{6}; debug.setuservalue(v, ts.ones{6}, 1)") == 0);
    CHECK(fails_with(L, "return v:get(1)", "tensor has been freed"));
    lua_getglobal(L, "v");
    CHECK(ts_totensor(L, -1) == NULL);
    lua_pop(L, 1);
    CHECK(dostring(L, "debug.setuservalue(v, x, 1); assert(v:get(6) == 6)") == 0);
    lua_close(L);
    CHECK(o.calls == 1);
  }
}

/* A host allocator: tensor data outside the Lua heap (TSB_ALLOC). */
typedef struct counted {
  long live;
} counted;

static void *counted_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counted *c = ud;
  (void)osize;
  if (nsize == 0) {
    if (ptr) c->live--;
    free(ptr);
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p && !ptr) c->live++;
  return p;
}

static void views_of_allocated_tensors(void) {
  lua_State *L = luaL_newstate();
  counted c = {0};
  ts_setallocator(L, counted_alloc, &c);
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  CHECK(dostring(L, "ts = require 'tensorslow'; core = require 'tensorslow.core'; "
                    "collectgarbage(); collectgarbage()") == 0);
  long before = c.live;
  CHECK(dostring(L, "a = ts.arange(1, 7); v = a:reshape{2, 3}") == 0);
  CHECK(c.live == before + 1);
  lua_getglobal(L, "v");
  const double *seen = ts_checktensor(L, -1)->data;
  lua_pop(L, 1);
  CHECK(dostring(L, "core.Tensor_mt.__gc(a); a = nil; collectgarbage(); collectgarbage()") == 0);
  CHECK(c.live == before + 1); /* kept for v */
  CHECK(sum6(seen) == 21);
  CHECK(dostring(L, "v = nil; collectgarbage(); collectgarbage()") == 0);
  CHECK(c.live == before);
  lua_close(L);
  CHECK(c.live == 0);
}

static void graphs_freed_by_hand(void) {
  lua_State *L = open_state();
  /* a node's name, op, string form and use in a session after its graph's
   * __gc was called by hand (debug.getmetatable and core.Graph_mt) */
  CHECK(dostring(L, "g = ts.Graph(); x = ts.placeholder{dtype = 'float64', shape = {2}, "
                    "graph = g, name = 'input_x'}; y = x * 2; s = ts.Session(g); "
                    "assert(s:run(y, {[x] = {1, 2}}):get(2) == 4); "
                    "debug.getmetatable(g).__gc(g); core.Graph_mt.__gc(g)") == 0);
  CHECK(fails_with(L, "return x.name", "node 'input_x': its graph has been freed"));
  CHECK(fails_with(L, "return tostring(x)", "node 'input_x': its graph has been freed"));
  CHECK(fails_with(L, "return y.op", "its graph has been freed"));
  CHECK(fails_with(L, "return y.inputs", "its graph has been freed"));
  CHECK(fails_with(L, "return s:run(y, {[x] = {1, 2}})", "graph has been freed"));
  CHECK(fails_with(L, "return x + 1", "its graph has been freed"));
  CHECK(fails_with(L, "return g:nodes()", "graph has been freed"));
  /* the graph object itself collected later: the nodes kept it; nothing to
   * free twice */
  CHECK(dostring(L, "g = nil; s = nil; collectgarbage(); collectgarbage(); "
                    "assert(not pcall(function() return x.name end))") == 0);
  CHECK(dostring(L, "x, y = nil, nil; collectgarbage(); collectgarbage()") == 0);
  lua_close(L);
}

/* ------------------------------------------------------- errors */

static const char custom_model[] =
    "local obj, long = ...\n"
    "local g = ts.Graph()\n"
    "local x = ts.placeholder{dtype = 'float64', shape = {2}, graph = g}\n"
    "local function op(name, err)\n"
    "  return ts.Operation{type = name, name = name, inputs = {x}, shape = {2},\n"
    "    compute = function() error(err, 0) end}\n"
    "end\n"
    "local s = ts.Session(g)\n"
    "local t, l = op('table_op', obj), op('long_op', long)\n"
    "return function(which) return s:run(which == 1 and t or l, {[x] = {1, 2}}) end\n";

static void errors_reach_the_host(void) {
  lua_State *L = open_state();
  char long_msg[5001];
  for (int i = 0; i < 5000; i++) long_msg[i] = (char)('a' + i % 26);
  long_msg[4999] = '!';
  long_msg[5000] = 0;
  CHECK(luaL_loadstring(L, custom_model) == LUA_OK);
  lua_newtable(L);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushstring(L, long_msg);
  CHECK(lua_pcall(L, 2, 1, 0) == LUA_OK);
  int fn = lua_gettop(L);
  /* a table error object: the same table at the host's lua_pcall */
  lua_pushvalue(L, fn);
  lua_pushinteger(L, 1);
  CHECK(lua_pcall(L, 1, 1, 0) == LUA_ERRRUN);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  CHECK(lua_type(L, -2) == LUA_TTABLE && lua_rawequal(L, -1, -2));
  lua_pop(L, 2);
  /* a 5000-byte message, whole */
  lua_pushvalue(L, fn);
  lua_pushinteger(L, 2);
  CHECK(lua_pcall(L, 1, 1, 0) == LUA_ERRRUN);
  size_t len = 0;
  const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : "";
  const char *prefix = "op 'long_op' failed: ";
  CHECK(len == strlen(prefix) + 5000);
  CHECK(strncmp(m, prefix, strlen(prefix)) == 0 && strcmp(m + strlen(prefix), long_msg) == 0);
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  lua_close(L);
}

/* ------------------------------------------------------- accessors */

/* f(t): a float32 matrix, read through the typed accessor. */
static int host_f(lua_State *L) {
  const ts_TensorView *v = ts_checktensor_dtype(L, 1, TS_FLOAT32, 2);
  lua_pushnumber(L, ((const float *)v->data)[v->numel - 1]);
  return 1;
}

/* Any float64 tensor, checked at a negative index. */
static int host_any_rank(lua_State *L) {
  ts_checktensor_dtype(L, -1, TS_FLOAT64, -1);
  return 0;
}

/* Called from C by lua_pcall (no name): checks what it pushed itself at -2,
 * which is stack position 2. */
static int unnamed(lua_State *L) {
  lua_pushinteger(L, 1);
  lua_pushnumber(L, 2.5);
  lua_pushinteger(L, 3);
  ts_checktensor(L, -2);
  return 0;
}

static int unnamed_typed(lua_State *L) {
  int64_t shape[1] = {3};
  ts_pushtensorcopy(L, TS_INT64, 1, shape, NULL);
  ts_checktensor_dtype(L, -1, TS_FLOAT32, 2);
  return 0;
}

static int bad_rank_arg(lua_State *L) {
  ts_pushtensorcopy(L, TS_INT64, 0, NULL, NULL);
  ts_checktensor_dtype(L, -1, TS_INT64, 9);
  return 0;
}

static int bad_dtype_arg(lua_State *L) {
  ts_pushtensorcopy(L, TS_INT64, 0, NULL, NULL);
  ts_checktensor_dtype(L, -1, (ts_dtype)7, -1);
  return 0;
}

static char errbuf[512];
static const char *protect(lua_State *L, lua_CFunction f) {
  lua_pushcfunction(L, f);
  if (lua_pcall(L, 0, 0, 0) == LUA_OK) return "(no error)";
  snprintf(errbuf, sizeof errbuf, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return errbuf;
}

/* Runs s, which must fail with exactly the message want, after the position
 * of the Lua caller (chunk line 1) when the caller is Lua code, as
 * luaL_argerror gives it. */
static int fails_exactly(lua_State *L, const char *s, const char *want) {
  if (luaL_dostring(L, s) == LUA_OK) {
    fprintf(stderr, "expected the error '%s' from: %s\n", want, s);
    lua_settop(L, 0);
    return 0;
  }
  const char *m = lua_tostring(L, -1);
  const char *at = m ? strstr(m, "\"]:1: ") : NULL;
  int ok = m && (strcmp(m, want) == 0 ||
                 (strncmp(m, "[string \"", 9) == 0 && at && strcmp(at + 6, want) == 0));
  if (!ok) fprintf(stderr, "got the error '%s', expected '%s'\n", m ? m : "?", want);
  lua_pop(L, 1);
  return ok;
}

/* hostmod.g(t): a float64 matrix. */
static int host_g(lua_State *L) {
  ts_checktensor_dtype(L, 1, TS_FLOAT64, 2);
  return 0;
}

static int open_hostmod(lua_State *L) {
  static const luaL_Reg fs[] = {{"g", host_g}, {NULL, NULL}};
  luaL_newlib(L, fs);
  return 1;
}

static void typed_accessors(void) {
  lua_State *L = open_state();
  lua_register(L, "f", host_f);
  lua_register(L, "any_rank", host_any_rank);
  luaL_requiref(L, "hostmod", open_hostmod, 1);
  lua_pop(L, 1);
  CHECK(dostring(L, "assert(f(ts.tensor({{1, 2}, {3, 4}}, 'float32')) == 4)") == 0);
  CHECK(fails_exactly(L, "f(ts.tensor{1, 2})",
                      "bad argument #1 to 'f' (float32 tensor of rank 2 expected, got float64 "
                      "tensor of rank 1)"));
  CHECK(fails_exactly(L, "f(ts.tensor({1, 2}, 'float32'))",
                      "bad argument #1 to 'f' (float32 tensor of rank 2 expected, got float32 "
                      "tensor of rank 1)"));
  CHECK(fails_exactly(L, "f(3)",
                      "bad argument #1 to 'f' (float32 tensor of rank 2 expected, got number)"));
  CHECK(fails_exactly(L, "f(ts.Graph())", "bad argument #1 to 'f' (float32 tensor of rank 2 "
                                          "expected, got tensorslow.Graph)"));
  CHECK(fails_exactly(L, "f()",
                      "bad argument #1 to 'f' (float32 tensor of rank 2 expected, got no value)"));
  CHECK(fails_exactly(L, "local t = ts.ones({2, 2}, 'float32'); core.Tensor_mt.__gc(t); f(t)",
                      "bad argument #1 to 'f' (tensor has been freed)"));
  /* a method: self is not counted, as luaL_argerror does */
  CHECK(fails_exactly(L, "local o = {f = f}; o:f(1)",
                      "calling 'f' on bad self (float32 tensor of rank 2 expected, got table)"));
  CHECK(fails_exactly(L, "local o = {m = f}; o.m(ts.zeros{2, 2})",
                      "bad argument #1 to 'm' (float32 tensor of rank 2 expected, got float64 "
                      "tensor of rank 2)"));
  /* negative index: the absolute position */
  CHECK(dostring(L, "any_rank(ts.zeros{2, 3, 4}); any_rank(1, ts.tensor(5))") == 0);
  CHECK(fails_exactly(L, "any_rank(ts.ones({2}, 'int64'))",
                      "bad argument #1 to 'any_rank' (float64 tensor expected, got int64 tensor "
                      "of rank 1)"));
  CHECK(fails_exactly(L, "any_rank(ts.ones{2}, 'x')",
                      "bad argument #2 to 'any_rank' (float64 tensor expected, got string)"));
  /* no name from the call: the one a loaded module gives it, or none */
  const char *m;
  CHECK(fails_exactly(L, "local ok, e = pcall(hostmod.g, 1); error(e, 0)",
                      "bad argument #1 to 'hostmod.g' (float64 tensor of rank 2 expected, got "
                      "number)"));
  CHECK(fails_exactly(L, "local ok, e = pcall(f, 1); error(e, 0)",
                      "bad argument #1 to 'f' (float32 tensor of rank 2 expected, got number)"));
  m = protect(L, unnamed);
  CHECK(strcmp(m, "bad argument #2 (tensorslow.Tensor expected, got number)") == 0);
  m = protect(L, unnamed_typed);
  CHECK(strcmp(m, "bad argument #1 (float32 tensor of rank 2 expected, got int64 tensor of "
                  "rank 1)") == 0);
  if (strstr(m, "#-") || strstr(m, "'?'")) fprintf(stderr, "message: %s\n", m);
  m = protect(L, bad_rank_arg);
  CHECK(strstr(m, "ts_checktensor_dtype: rank 9"));
  m = protect(L, bad_dtype_arg);
  CHECK(strstr(m, "ts_checktensor_dtype: bad dtype 7"));
  /* straight from main, no function running at all */
  lua_pushnumber(L, 1);
  ts_pushtensorcopy(L, TS_FLOAT32, 0, NULL, NULL);
  CHECK(ts_checktensor_dtype(L, -1, TS_FLOAT32, 0) != NULL);
  CHECK(ts_checktensor_dtype(L, -1, TS_FLOAT32, -1)->ndim == 0);
  lua_settop(L, 0);
  lua_close(L);
}

int main(void) {
  CHECK(tsi_numel(1) == 2 && tsi_fail() == 7 && strstr(tsb_getstate(), "host"));
  views_of_host_buffers();
  views_of_allocated_tensors();
  graphs_freed_by_hand();
  errors_reach_the_host();
  typed_accessors();
  if (failures) {
    fprintf(stderr, "contract: %d check(s) failed\n", failures);
    return 1;
  }
  printf("contract: all checks passed\n");
  return 0;
}
