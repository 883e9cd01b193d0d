/* libFuzzer target: Lua values to tensors, and op attribute parsing.
 *
 * The input is a small stack-machine program: each byte is an instruction
 * (push an integer, float or string from a list of edge cases or from raw
 * bytes, make a table, append, set a field, give a table a metatable whose
 * __len/__index lie or raise, nest, make a cycle, duplicate, swap, pick a
 * prepared tensor/node/op name, call a target). Targets are the Lua entry
 * points that turn Lua values into shapes, tensors and attributes: ts.tensor,
 * ts.zeros/ones/fill/eye/arange, t:reshape/get/set/cast, ts.constant,
 * ts.placeholder, ts.Variable, core.source, core.apply, core.node, ts.apply
 * and sess:run. Every call is a pcall: a Lua error is fine, a crash or a
 * sanitizer report is a finding. */
#define FUZZ_WITH_LUA
/* Small: every tensor the program may make is also filled, and under
 * -fsanitize=fuzzer every element's loop test is traced: at 24 MB a third of
 * the time went to __sanitizer_cov_trace_cmp8 in kernels. 4 MB runs 1.7x the
 * executions per second with the same coverage (3299 edges against 3310 on the
 * same corpus); larger requests still reach the out-of-memory paths. */
#define FUZZ_LUA_MEM ((size_t)4 << 20)
#include "fuzz_common.h"
#include "ops.h"

#define MAX_STACK 48

static const char setup[] =
    "ts = require 'tensorslow'\n"
    "local core = require 'tensorslow.core'\n"
    "local maxi, mini = math.maxinteger, math.mininteger\n"
    "INTS = {0, 1, -1, 2, 3, 4, -2, 8, 9, 255, 256, 65536, 2^31 // 1 - 1, 2^31 // 1,\n"
    "  2^32 // 1, 2^32 // 1 + 1, 2^40 // 1, 2^53 // 1, 2^53 // 1 + 1, 2^62 // 1, maxi, mini,\n"
    "  -2^31 // 1, -2^32 // 1, maxi - 1, 7, 24, -24}\n"
    "FLOATS = {0.0, -0.0, 0.5, 1.0, 2.0, 1.5, -1.5, 0/0, 1/0, -1/0, 1e308, -1e308, 5e-324,\n"
    "  2.0^31, 2.0^63, -2.0^63, 2.0^64, 1e19, 3.0, 255.0, 256.0, 2.0^53, -0.5, 1e-300}\n"
    "STRS = {'float32', 'float64', 'int64', 'uint8', '', 'x', 'bogus', 'axis', '1', '-1',\n"
    "  '0x10', 'nan', '1e400', '  3  ', 'float32\\0x', 'a/b', '2', 'SAME', 'VALID'}\n"
    "KEYS = {'axis', 'keepdims', 'transpose_a', 'transpose_b', 'dtype', 'v1', 'v2', 'i1',\n"
    "  'f1', 'f2', 'f3', 'f4', 'seed', 'shape', 'name', 'n', 'graph', 'out', 1, 2, 3, 0, -1,\n"
    "  9, 2^40 // 1, 1.5, true, 'padding', 'strides', 'ksize', 'depth', 'perm'}\n"
    "OPNAMES = {}\n"
    "function MT(kind, v)\n"
    "  kind = kind % 8\n"
    "  if kind == 0 then return {__len = function() return v end}\n"
    "  elseif kind == 1 then return {__len = function() error('len refused') end}\n"
    "  elseif kind == 2 then return {__index = function() return v end}\n"
    "  elseif kind == 3 then return {__index = function() error('index refused') end}\n"
    "  elseif kind == 4 then return {__index = v}\n"
    "  elseif kind == 5 then\n"
    "    return {__len = function() return v end, __index = function() return v end}\n"
    "  elseif kind == 6 then\n"
    "    local n = 0\n"
    "    return {__len = function() n = n + 1; return n end}\n"
    "  else return {__metatable = 'locked', __len = function() return v end} end\n"
    "end\n"
    "local function method(name)\n"
    "  return function(t, ...) return t[name](t, ...) end\n"
    "end\n"
    "function BEGIN()\n"
    /* the default graph too, or every input's ts.placeholder{} and
     * ts.constant(...) pile up in the first one for the whole run */
    "  G = ts.Graph():as_default()\n"
    "  SESS = ts.Session(G)\n"
    "  POOL = {ts.tensor{1, 2, 3}, ts.tensor({{1, 2}, {3, 4}}, 'float32'), ts.zeros{2, 3},\n"
    "    ts.tensor({0, 1, 2}, 'int64'), ts.tensor({1, 2, 255}, 'uint8'), ts.tensor(2.5),\n"
    "    ts.zeros{0, 3}, ts.arange(24):reshape{2, 3, 4}, G, ts.placeholder{graph = G},\n"
    "    ts.placeholder{graph = G, shape = {2, 3}}, ts.constant({1, 2, 3}, {graph = G}),\n"
    "    ts.Variable({{1, 2}, {3, 4}}, {graph = G}),\n"
    "    ts.placeholder{graph = G, shape = {-1, 3}, dtype = 'float32'}, SESS}\n"
    "end\n"
    /* after each input: nothing of it stays reachable (a variable's value in
     * G can be most of the cap: kept until the next BEGIN had replaced G, it
     * made BEGIN fail even after full collections) */
    "local EMPTY = ts.Graph()\n"
    "function END()\n"
    "  G, SESS, POOL = nil, nil, nil\n"
    "  ts.set_default_graph(EMPTY)\n"
    "end\n"
    "TARGETS = {\n"
    "  function(a, b) return ts.tensor(a, b) end,\n"
    "  function(a, b) return ts.zeros(a, b) end,\n"
    "  function(a, b) return ts.ones(a, b) end,\n"
    "  function(a, b, c) return ts.fill(a, b, c) end,\n"
    "  method('reshape'),\n"
    "  function(op, attrs, ...) return core.apply(op, attrs, ...) end,\n"
    "  function(op, name, attrs, ...) return core.node(G, op, name, attrs, ...) end,\n"
    "  function(a, b, c) return ts.eye(a, b, c) end,\n"
    "  function(a, b, c, d) return ts.arange(a, b, c, d) end,\n"
    "  method('get'),\n"
    "  method('set'),\n"
    "  function(a, b) return ts.constant(a, {graph = G, dtype = b}) end,\n"
    "  function(a, b) return ts.placeholder{graph = G, shape = a, dtype = b} end,\n"
    "  method('cast'),\n"
    "  function(op, attrs, a, b) return ts.apply(op, attrs, {a, b, n = 2}) end,\n"
    "  function(a, b) return ts.Variable(a, {graph = G, dtype = b}) end,\n"
    "  function(n, d, s, v) return core.source(G, 'constant', n, d, s, v) end,\n"
    "  function(f, feed) return SESS:run(f, feed) end,\n"
    "  function(op, attrs, a) return ts.apply(op, attrs, {a, n = 1}) end,\n"
    "}\n";

typedef struct prog {
  const uint8_t *p, *end;
} prog;

static int next(prog *g) {
  return g->p < g->end ? *g->p++ : -1;
}

/* Pushes list[k] of the global table name (1-based, k taken modulo its length). */
static void push_from(lua_State *L, const char *name, int k) {
  lua_getglobal(L, name);
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  lua_rawgeti(L, -1, 1 + k % n);
  lua_remove(L, -2);
}

/* Runs the program in the input (its bytes are upvalue-free: arguments 1-2
 * are a light userdata and a length). Values live on the Lua stack above 2. */
static int run(lua_State *L) {
  prog g = {lua_touserdata(L, 1), (const uint8_t *)lua_touserdata(L, 1) + lua_tointeger(L, 2)};
  const int base = 2;
  int op;
  luaL_checkstack(L, MAX_STACK + 16, "fuzz");
  while ((op = next(&g)) >= 0) {
    int top = lua_gettop(L) - base, k = next(&g);
    if (k < 0) break;
    int full = top >= MAX_STACK;
    switch (op % 16) {
    case 0: /* integer */
      if (full) break;
      if (k < 200) push_from(L, "INTS", k);
      else lua_pushinteger(L, (lua_Integer)(int8_t)next(&g) * (k - 199));
      break;
    case 1: { /* float, or raw bits */
      if (full) break;
      if (k < 200) {
        push_from(L, "FLOATS", k);
      } else {
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | (uint8_t)next(&g);
        double d;
        memcpy(&d, &bits, sizeof d);
        lua_pushnumber(L, d);
      }
      break;
    }
    case 2: /* string, or raw bytes (NULs included) */
      if (full) break;
      if (k < 200) {
        push_from(L, "STRS", k);
      } else {
        size_t n = (size_t)(k - 200) % 16;
        if ((size_t)(g.end - g.p) < n) n = (size_t)(g.end - g.p);
        lua_pushlstring(L, (const char *)g.p, n);
        g.p += n;
      }
      break;
    case 3: /* nil, booleans, a prepared value, an op name */
      if (full) break;
      switch (k % 5) {
      case 0: lua_pushnil(L); break;
      case 1: lua_pushboolean(L, k & 8); break;
      case 2: lua_getglobal(L, "POOL"); lua_rawgeti(L, -1, 1 + (k >> 3) % (int)lua_rawlen(L, -1));
              lua_remove(L, -2); break;
      default: push_from(L, "OPNAMES", k >> 2); break;
      }
      break;
    case 4: /* new table */
      if (!full) lua_createtable(L, 0, 0);
      break;
    case 5: /* append the top value to the table below it */
      if (top >= 2 && lua_type(L, -2) == LUA_TTABLE) {
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1 + (k == 255 ? 1 : 0));
      }
      break;
    case 6: /* t[key] = v */
      if (top >= 2 && lua_type(L, -2) == LUA_TTABLE) {
        push_from(L, "KEYS", k);
        lua_insert(L, -2);
        lua_rawset(L, -3);
      }
      break;
    case 7: /* setmetatable(t, MT(k, v)) with v popped */
      if (top >= 2 && lua_type(L, -2) == LUA_TTABLE) {
        if (lua_getmetatable(L, -2)) {
          lua_pop(L, 2); /* has one already: drop it and v */
          break;
        }
        lua_getglobal(L, "MT");
        lua_pushinteger(L, k);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);
        lua_setmetatable(L, -3);
        lua_pop(L, 1);
      }
      break;
    case 8: /* duplicate */
      if (top >= 1 && !full) lua_pushvalue(L, -1 - k % top);
      break;
    case 9: { /* call TARGETS[k] with up to 4 of the top values */
      int nargs = top < 4 ? top : (k >> 5) % 5;
      if (nargs > top) nargs = top;
      lua_getglobal(L, "TARGETS");
      lua_rawgeti(L, -1, 1 + k % (int)lua_rawlen(L, -1));
      lua_remove(L, -2);
      lua_insert(L, -1 - nargs);
      if (lua_pcall(L, nargs, 1, 0) != LUA_OK) lua_pop(L, 1);
      break;
    }
    case 10: /* pop */
      if (top >= 1) lua_pop(L, 1);
      break;
    case 11: /* swap */
      if (top >= 2) lua_insert(L, -2);
      break;
    case 12: /* a table of n copies of the top value (nesting grows fast) */
      if (top >= 1) {
        int n = k % 6;
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) {
          lua_pushvalue(L, -2);
          lua_rawseti(L, -2, i);
        }
        lua_remove(L, -2);
      }
      break;
    case 13: /* a cycle: t[#t + 1] = t */
      if (top >= 1 && lua_type(L, -1) == LUA_TTABLE) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      }
      break;
    case 14: /* garbage collection between calls */
      lua_gc(L, k & 1 ? LUA_GCCOLLECT : LUA_GCSTEP, 0);
      break;
    default: /* rotate the values, bringing an old one to the top */
      if (top > 1) {
        lua_rotate(L, base + 1, -(k % top));
      }
      break;
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (!L) {
    L = fuzz_lua(setup);
    lua_getglobal(L, "OPNAMES");
    int n = 0;
    for (const tsi_opdef *const *f = tsi_op_families; *f; f++)
      for (const tsi_opdef *d = *f; d->name; d++) {
        lua_pushstring(L, d->name);
        lua_rawseti(L, -2, ++n);
      }
    lua_settop(L, 0);
  }
  lua_getglobal(L, "BEGIN");
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    /* Under the small cap, the garbage of earlier inputs (each ends with
     * END and a collection step only) can leave too little for BEGIN's
     * graph: two full collections free it (a userdata with a finaliser, as
     * every tensor is, goes in the cycle after its finaliser ran). Failing
     * again is a leak: a finding. (It found harness bugs: the first default
     * graph kept every input's nodes, until BEGIN took G as default; G kept
     * its variables' values until the next BEGIN, until END.) */
    static long retried;
    void *ud;
    lua_getallocf(L, &ud);
    fprintf(stderr, "BEGIN: %s with %zu bytes in use: collecting (%ld)\n", lua_tostring(L, -1),
            ((fuzz_mem *)ud)->used, ++retried);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_getglobal(L, "BEGIN");
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      fprintf(stderr, "BEGIN: %s with %zu bytes in use (after two full collections)\n",
              lua_tostring(L, -1), ((fuzz_mem *)ud)->used);
      abort();
    }
  }
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  lua_pcall(L, 2, 0, 0); /* an error from the machine itself (out of memory) is fine too */
  lua_settop(L, 0);
  lua_getglobal(L, "END");
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "END: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
