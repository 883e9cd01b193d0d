/* The public C API: zero-copy tensors and their release callback (exactly
 * once, on collection or at lua_close), copies, views and argument errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "tensorslow.h"

static int failures;
#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                  \
    }                                                              \
  } while (0)

typedef struct counter {
  int calls;
  void *last;
} counter;

static void release(void *ud, void *data) {
  counter *c = ud;
  c->calls++;
  c->last = data;
}

static lua_State *open_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
  lua_pop(L, 1);
  if (luaL_dostring(L, "ts = require 'tensorslow'") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  return L;
}

static int dostring(lua_State *L, const char *s) {
  int rc = luaL_dostring(L, s);
  if (rc != LUA_OK) fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
  return rc;
}

/* Runs f(L) protected; returns the error message (static copy) or NULL. */
static char errbuf[512];
static const char *protect(lua_State *L, lua_CFunction f) {
  lua_pushcfunction(L, f);
  if (lua_pcall(L, 0, 0, 0) == LUA_OK) return NULL;
  snprintf(errbuf, sizeof errbuf, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return errbuf;
}

static double g_data[6] = {1, 2, 3, 4, 5, 6};

static int push_bad_dtype(lua_State *L) {
  int64_t s[1] = {6};
  ts_pushtensor(L, (ts_dtype)9, 1, s, g_data, NULL, NULL);
  return 0;
}
static int push_bad_shape(lua_State *L) {
  int64_t s[2] = {2, -3};
  ts_pushtensor(L, TS_FLOAT64, 2, s, g_data, NULL, NULL);
  return 0;
}
static int push_misaligned(lua_State *L) {
  int64_t s[1] = {2};
  ts_pushtensor(L, TS_FLOAT64, 1, s, (char *)g_data + 1, NULL, NULL);
  return 0;
}
static int check_number(lua_State *L) {
  lua_pushnumber(L, 1);
  ts_checktensor(L, -1);
  return 0;
}
static int push_unopened(lua_State *L) {
  int64_t s[1] = {6};
  ts_pushtensor(L, TS_FLOAT64, 1, s, g_data, NULL, NULL);
  return 0;
}

int main(void) {
  /* Zero copy: Lua sees and changes the host's buffer; release once on GC. */
  {
    lua_State *L = open_state();
    counter c = {0, NULL};
    double *buf = malloc(6 * sizeof *buf);
    for (int i = 0; i < 6; i++) buf[i] = i + 1;
    int64_t shape[2] = {2, 3};
    ts_pushtensor(L, TS_FLOAT64, 2, shape, buf, release, &c);
    const ts_TensorView *v = ts_checktensor(L, -1);
    CHECK(v->data == buf && v->dtype == TS_FLOAT64 && v->ndim == 2);
    CHECK(v->shape[0] == 2 && v->shape[1] == 3 && v->numel == 6);
    lua_setglobal(L, "x");
    CHECK(dostring(L, "x:set(1, 1, 10); y = (x * 2):totable(); assert(y[2][3] == 12)") == 0);
    CHECK(buf[0] == 10);
    CHECK(dostring(L, "collectgarbage(); collectgarbage()") == 0);
    CHECK(c.calls == 0); /* still referenced by x */
    CHECK(dostring(L, "x = nil; collectgarbage(); collectgarbage()") == 0);
    CHECK(c.calls == 1 && c.last == buf);
    lua_close(L);
    CHECK(c.calls == 1);
    free(buf);
  }
  /* Still alive at lua_close: released there, once; an explicit __gc call
   * from Lua before that does not make it twice. */
  {
    lua_State *L = open_state();
    counter c = {0, NULL}, d = {0, NULL};
    int64_t shape[1] = {6};
    ts_pushtensor(L, TS_FLOAT64, 1, shape, g_data, release, &c);
    lua_setglobal(L, "keep");
    ts_pushtensor(L, TS_FLOAT64, 1, shape, g_data, release, &d);
    lua_setglobal(L, "twice");
    CHECK(dostring(L, "debug.getmetatable(twice).__gc(twice)") == 0);
    CHECK(d.calls == 1);
    lua_close(L);
    CHECK(c.calls == 1 && c.last == g_data);
    CHECK(d.calls == 1);
  }
  /* Copies, zero-filled tensors, ts_totensor, other dtypes. */
  {
    lua_State *L = open_state();
    float f[4] = {1.5f, 2.5f, 3.5f, 4.5f};
    int64_t shape[2] = {2, 2};
    ts_pushtensorcopy(L, TS_FLOAT32, 2, shape, f);
    const ts_TensorView *v = ts_totensor(L, -1);
    CHECK(v && v->data != (void *)f && v->dtype == TS_FLOAT32);
    f[0] = 100;
    CHECK(((float *)v->data)[0] == 1.5f);
    lua_setglobal(L, "c");
    CHECK(dostring(L, "assert(c.dtype == 'float32' and c:get(2, 2) == 4.5)") == 0);
    ts_pushtensorcopy(L, TS_INT64, 1, shape, NULL);
    v = ts_totensor(L, -1);
    CHECK(v && v->numel == 2 && ((int64_t *)v->data)[1] == 0);
    ts_pushtensorcopy(L, TS_UINT8, 0, NULL, NULL); /* a scalar */
    v = ts_totensor(L, -1);
    CHECK(v && v->ndim == 0 && v->numel == 1);
    lua_pushinteger(L, 3);
    CHECK(ts_totensor(L, -1) == NULL);
    /* a tensor freed by hand, and a view of it: NULL, no error raised */
    CHECK(dostring(L, "freed = ts.ones{4}; view = freed:reshape{2, 2}; "
                      "debug.getmetatable(freed).__gc(freed)") == 0);
    lua_getglobal(L, "freed");
    CHECK(ts_totensor(L, -1) == NULL);
    lua_getglobal(L, "view");
    CHECK(ts_totensor(L, -1) == NULL);
    lua_settop(L, 0);
    /* a result computed by Lua, read back through the view */
    CHECK(dostring(L, "return ts.matmul(ts.tensor{{1, 2}, {3, 4}}, ts.tensor{{1}, {1}})") == 0);
    v = ts_totensor(L, -1);
    CHECK(v && v->ndim == 2 && v->shape[0] == 2 && v->shape[1] == 1);
    CHECK(v && ((double *)v->data)[0] == 3 && ((double *)v->data)[1] == 7);
    lua_close(L);
  }
  /* Bad arguments are Lua errors, never crashes. */
  {
    lua_State *L = open_state();
    const char *m;
    CHECK((m = protect(L, push_bad_dtype)) && strstr(m, "bad dtype"));
    CHECK((m = protect(L, push_bad_shape)) && strstr(m, "negative"));
    CHECK((m = protect(L, push_misaligned)) && strstr(m, "aligned"));
    CHECK((m = protect(L, check_number)) && strstr(m, "tensorslow.Tensor expected"));
    lua_close(L);
    lua_State *L2 = luaL_newstate(); /* core not opened: no tensor without __gc */
    CHECK((m = protect(L2, push_unopened)) && strstr(m, "not open"));
    lua_close(L2);
  }
  if (failures) {
    fprintf(stderr, "api: %d check(s) failed\n", failures);
    return 1;
  }
  printf("api: all checks passed\n");
  return 0;
}
