/* The Session: runs fetches with feeds through the core's cached plans.
 * User values: 1 = its graph, 2 = the last custom-op result (kept alive
 * while the core copies it), 3 = the run guards by nesting depth.
 * Re-entrancy: a custom op's compute (Lua) runs in the middle of a run and
 * may run this session again, close it, free its graph or tensors by hand,
 * or collect garbage (finalisers run any Lua code at any allocation). So a
 * run pins its plan (the core never evicts or frees a pinned plan; a nested
 * run with the same fetches builds another), holds its graph (a graph __gc
 * meanwhile is deferred, the graph is dead to every check at once), and a
 * close meanwhile takes effect at once for new runs but frees the plans when
 * the outermost run returns. The hold ends through a to-be-closed guard, so
 * also when the run raises. Feeds and out tensors are checked again after
 * any Lua code ran, before their memory is read or written. */
#include <stdint.h>
#include <string.h>

#include "binding.h"

#define TSB_RUNGUARD "tensorslow.RunGuard"

/* session_run's upvalues (tsb_open_session): the tensor, node and session
 * metatables, so that its type checks look nothing up in the registry by
 * name. Helpers take such an index as tmt / nmt (0: by name). */
#define UV_TENSOR lua_upvalueindex(1)
#define UV_NODE lua_upvalueindex(2)
#define UV_SESSION lua_upvalueindex(3)

typedef struct tsb_session {
  tsi_session s;
  tsb_state *S; /* the state's (in the registry for the state's life) */
  int open;
  int depth; /* runs in progress (nested from custom ops) */
} tsb_session;

/* The session at idx; anything else (sess.run(x) with a dot for a colon) is an
 * error naming the method and the way to call it. */
static tsb_session *check_session_at(lua_State *L, int idx, int mt) {
  tsb_session *s = mt ? tsb_testudata_at(L, idx, mt) : luaL_testudata(L, idx, TSB_SESSION);
  if (!s) {
    lua_Debug ar;
    const char *name = lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) ? ar.name : NULL;
    if (name)
      luaL_error(L, "Session.%s: call it as a method, sess:%s(...) (argument %d is a %s, not a session)",
                 name, name, idx, luaL_typename(L, idx));
    luaL_error(L, "a Session method: call it with a colon, sess:method(...) (argument %d is a %s, "
               "not a session)", idx, luaL_typename(L, idx));
  }
  return s;
}

static tsb_session *check_session(lua_State *L, int idx) { return check_session_at(L, idx, 0); }

/* Raises unless the session s (at idx, its type already checked) is open
 * and its graph alive. Allocates nothing. */
static void check_still_live(lua_State *L, int idx, const tsb_session *s, const char *what) {
  if (!s->open) luaL_error(L, "%s: the session is closed", what);
  lua_getiuservalue(L, idx, 1);
  const tsb_graph *g = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!g || !g->g || g->g != s->s.g) luaL_error(L, "%s: the session's graph has been freed", what);
}

/* An open session whose graph is alive. Allocates nothing. */
static tsb_session *check_live_session_at(lua_State *L, int idx, const char *what, int mt) {
  tsb_session *s = check_session_at(L, idx, mt);
  if (!s->open) luaL_error(L, "%s: the session is closed", what);
  lua_getiuservalue(L, idx, 1);
  const tsb_graph *g = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!g || !g->g || g->g != s->s.g) luaL_error(L, "%s: the session's graph has been freed", what);
  return s;
}

static tsb_session *check_live_session(lua_State *L, int idx, const char *what) {
  return check_live_session_at(L, idx, what, 0);
}

/* What a run holds until it returns or raises (see the top), and its
 * scratch: the fetch and feed ids, the feeds' and out tensors' views and the
 * results' views (outs), in mem. User values: 1 the session (its memory
 * outlives the guard's __gc), 2 the anchor (the feeds' tensors, kept alive
 * by the run) and 3 the out tensors (a table each, reused by the next run at
 * the same depth: their first nanchor / nouts entries are cleared at close,
 * so a run keeps nothing alive after it). */
typedef struct run_guard {
  tsb_session *s;
  tsb_graph *g;
  tsi_plan *p;
  int armed;
  int busy;          /* pushed for a run that has not closed it yet */
  int cap, cap_feed; /* room for fetches and feeds */
  int nanchor, nouts;
  int *fetch, *feed_ids;
  tsi_tensor *feeds, *dests, *outs;
  tsi_tensor mem[];
} run_guard;

static void run_end(run_guard *r) {
  if (!r->armed) return;
  r->armed = 0;
  tsi_session_unpin(&r->s->s, r->p);
  if (--r->s->depth == 0 && !r->s->open) tsi_session_clear(&r->s->s); /* a deferred close */
  tsb_graph_unhold(r->g);
}

/* Empties the first n entries of the guard's (at 1) user value uv; allocates nothing. */
static void guard_clear(lua_State *L, int uv, int n) {
  if (n <= 0 || lua_getiuservalue(L, 1, uv) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (int i = 1; i <= n; i++) {
    lua_pushnil(L);
    lua_rawseti(L, -2, i);
  }
  lua_pop(L, 1);
}

static int guard_close(lua_State *L) { /* upvalue 1: the guards' metatable */
  run_guard *r = tsb_testudata_at(L, 1, lua_upvalueindex(1));
  if (!r) luaL_typeerror(L, 1, TSB_RUNGUARD);
  run_end(r);
  guard_clear(L, 2, r->nanchor);
  guard_clear(L, 3, r->nouts);
  r->nanchor = r->nouts = 0;
  r->busy = 0;
  return 0;
}

/* A new guard with room for cap fetches and cap_feed feeds, pushed. */
static run_guard *new_guard(lua_State *L, int sidx, int cap, int cap_feed) {
  cap = cap < 4 ? 4 : cap;
  cap_feed = cap_feed < 4 ? 4 : cap_feed;
  size_t ids = (sizeof(int) * (size_t)(cap + cap_feed) + sizeof(tsi_tensor) - 1) /
               sizeof(tsi_tensor);
  run_guard *r = lua_newuserdatauv(
      L, sizeof *r + sizeof(tsi_tensor) * ((size_t)cap * 2 + (size_t)cap_feed + ids), 3);
  memset(r, 0, sizeof *r);
  r->cap = cap, r->cap_feed = cap_feed;
  r->outs = r->mem;
  r->dests = r->outs + cap;
  r->feeds = r->dests + cap;
  r->fetch = (int *)(r->feeds + cap_feed);
  r->feed_ids = r->fetch + cap;
  luaL_setmetatable(L, TSB_RUNGUARD);
  lua_pushvalue(L, sidx);
  lua_setiuservalue(L, -2, 1);
  lua_createtable(L, cap_feed, 0);
  lua_setiuservalue(L, -2, 2);
  lua_createtable(L, cap, 0);
  lua_setiuservalue(L, -2, 3);
  return r;
}

/* Pushes the guard for a run at nesting depth `depth` of the session at sidx
 * (disarmed, busy, room for nfetch fetches and nfeed feeds). Runs that cannot
 * yield are strictly nested (a compute cannot yield), so one guard per depth,
 * kept in the session's user value 3, serves every run at that depth: no
 * allocation per run. A run that may yield (depth -1) gets a guard of its
 * own, and a cached guard still busy (a finaliser running the session while
 * this run collects its arguments, or a suspended run resumed and finished
 * from a compute, which changed the depth) is replaced. */
static run_guard *push_guard(lua_State *L, int sidx, int depth, int nfetch, int nfeed) {
  run_guard *r = NULL;
  if (depth < 0) { /* a run that may yield: a guard of its own (see run_state) */
    r = new_guard(L, sidx, nfetch, nfeed);
  } else {
    if (lua_getiuservalue(L, sidx, 3) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, sidx, 3);
    }
    if (lua_rawgeti(L, -1, depth + 1) == LUA_TUSERDATA) r = lua_touserdata(L, -1);
    if (!r || r->cap < nfetch || r->cap_feed < nfeed || r->busy) {
      lua_pop(L, 1);
      r = new_guard(L, sidx, nfetch, nfeed);
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, depth + 1);
    }
    lua_remove(L, -2);
  }
  r->armed = 0;
  r->busy = 1;
  r->nanchor = r->nouts = 0;
  return r;
}

/* The run's feeds (anchor: the converted tensors, in feed order) and out
 * tensors (outtab, 0 if none) are still the memory captured in feeds/dests:
 * a script may have freed one by hand meanwhile. Raises otherwise. */
static void check_intact(lua_State *L, int anchor, const tsi_tensor *feeds, int nfeed,
                         int outtab, const tsi_tensor *dests, int nfetch, int tmt) {
  for (int k = 0; k < nfeed; k++) {
    lua_rawgeti(L, anchor, k + 1);
    const tsb_tensor *t = tsb_totensor_at(L, -1, tmt); /* raises when freed */
    if (!t || t->t.data != feeds[k].data)
      luaL_error(L, "run: feed %d was freed or changed during the run", k + 1);
    lua_pop(L, 1);
  }
  for (int i = 0; outtab && dests && i < nfetch; i++) {
    if (!dests[i].data) continue;
    lua_rawgeti(L, outtab, i + 1);
    const tsb_tensor *t = tsb_totensor_at(L, -1, tmt);
    if (!t || t->t.data != dests[i].data)
      luaL_error(L, "run: the out tensor for fetch %d was freed or changed during the run", i + 1);
    lua_pop(L, 1);
  }
}

/* Session([graph]) */
static int l_session(lua_State *L) {
  lua_settop(L, 1);
  if (lua_isnil(L, 1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, TSB_DEFAULT_GRAPH);
    lua_replace(L, 1);
  }
  tsb_graph *g = tsb_checkgraph(L, 1);
  tsb_session *s = lua_newuserdatauv(L, sizeof *s, 3);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, TSB_SESSION);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  s->S = tsb_getstate(L);
  tsi_session_init(&s->s, g->g, &s->S->alloc);
  s->open = 1;
  return 1;
}

/* __gc, __close and :close() alike; safe twice and on a half-built session.
 * During a run (from a custom op) the running plans are freed when the
 * outermost run returns (run_end); new runs are refused at once. */
static int session_close(lua_State *L) {
  tsb_session *s = check_session(L, 1);
  s->open = 0;
  tsi_session_clear(&s->s); /* leaves pinned plans */
  return 0;
}

typedef struct cb_ctx {
  lua_State *L;
  int gidx, sidx, anchor, outtab;
  int errslot; /* where a failed compute leaves its error object for session_run */
  int failed;  /* set with it (the object may be nil) */
  const tsi_tensor *feeds, *dests;
  int nfeed, nfetch;
} cb_ctx;

/* Protected part of a custom op: (node, inputs, nin, graph, ctx, anchor,
 * outtab) -> tensor. Inputs are copied out first: they may view feeds, which
 * the compute (or a finaliser run by any allocation) could free by hand. */
static int custom_body(lua_State *L) {
  const tsi_node *n = lua_touserdata(L, 1);
  const tsi_tensor *ins = lua_touserdata(L, 2);
  int nin = (int)lua_tointeger(L, 3);
  const cb_ctx *c = lua_touserdata(L, 5);
  luaL_checkstack(L, nin + 4, "too many inputs");
  tsb_pushcustom(L, 4, n->custom);
  lua_rawgeti(L, -1, 1);
  for (int i = 0; i < nin; i++) {
    tsb_tensor *t = tsb_newtensor(L, ins[i].dtype, ins[i].ndim, ins[i].shape);
    check_intact(L, 6, c->feeds, c->nfeed, lua_isnil(L, 7) ? 0 : 7, c->dests, c->nfetch, 0);
    if (tsi_nbytes(&ins[i])) memcpy(t->t.data, ins[i].data, tsi_nbytes(&ins[i]));
  }
  lua_call(L, nin, 1);
  if (lua_isnil(L, -1)) return luaL_error(L, "compute returned nil, expected a tensor");
  tsb_value_to_tensor(L, -1, tsb_totensor(L, -1) ? -1 : n->info.dtype, "compute's result");
  check_intact(L, 6, c->feeds, c->nfeed, lua_isnil(L, 7) ? 0 : 7, c->dests, c->nfetch, 0);
  return 1;
}

/* custom_body, its error named after the op: a string error becomes
 * "op 'name' failed: <the whole message>" (built here, still protected, as
 * it allocates); any other error object (a table, ...) goes on unchanged.
 * n stays valid: the run holds its graph. */
static int custom_call(lua_State *L) {
  const tsi_node *n = lua_touserdata(L, 1);
  lua_pushcfunction(L, custom_body);
  lua_insert(L, 1);
  if (lua_pcall(L, 7, 1, 0) == LUA_OK) return 1;
  if (lua_type(L, -1) == LUA_TSTRING)
    lua_pushfstring(L, "op '%s' failed: %s", n->name, lua_tostring(L, -1));
  return lua_error(L);
}

/* The result agrees with the op's declared dtype and (known) dimensions:
 * the plan shares buffers by the declared shapes, so a lie is never used. */
static int check_result(const tsi_node *n, const tsi_tensor *r, tsi_err *e) {
  const tsi_tensor *want = &n->info;
  int ok = r->dtype == want->dtype && (want->ndim < 0 || r->ndim == want->ndim);
  for (int d = 0; ok && want->ndim >= 0 && d < want->ndim; d++)
    ok = want->shape[d] < 0 || want->shape[d] == r->shape[d];
  if (ok) return TSI_OK;
  char a[96], b[96];
  return tsi_fail(e, TSI_ERUN, "custom op '%s': returned %s %s, declared %s %s", n->name,
                  tsi_dtype_name(r->dtype), tsi_shape_str(r, a, sizeof a),
                  tsi_dtype_name(want->dtype),
                  want->ndim < 0 ? "(any shape)" : tsi_shape_str(want, b, sizeof b));
}

static int custom_cb(void *ud, const tsi_node *n, const tsi_tensor *ins, int nin,
                     tsi_tensor *result, tsi_err *e) {
  cb_ctx *c = ud;
  lua_State *L = c->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 10)) return tsi_nomem(e, "a custom op call");
  lua_pushcfunction(L, custom_call);
  lua_pushlightuserdata(L, (void *)n);
  lua_pushlightuserdata(L, (void *)ins);
  lua_pushinteger(L, nin);
  lua_pushvalue(L, c->gidx);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, c->anchor);
  if (c->outtab) lua_pushvalue(L, c->outtab);
  else lua_pushnil(L);
  if (lua_pcall(L, 7, 1, 0) != LUA_OK) {
    /* The error object, whole and of any type, is what session_run raises
     * once the run has unwound; the core gets a short note. Nothing here
     * allocates (lua_replace copies a stack slot). */
    lua_replace(L, c->errslot);
    c->failed = 1;
    tsi_fail(e, TSI_ERUN, "op '%s' failed", n->name);
    lua_settop(L, top);
    return TSI_ERUN;
  }
  *result = ((tsb_tensor *)lua_touserdata(L, -1))->t;
  lua_setiuservalue(L, c->sidx, 2); /* keeps it alive while the core copies */
  lua_settop(L, top);
  return check_result(n, result, e);
}

/* Node id of the value at idx, checked against the session's graph. */
static int session_node(lua_State *L, int idx, tsi_graph *g, const char *what, int nmt) {
  tsb_node *n = tsb_tonode_at(L, idx, nmt);
  if (!n) luaL_error(L, "run: %s must be a node, got %s", what, luaL_typename(L, idx));
  if (n->g != g)
    luaL_error(L, "run: %s '%s' belongs to another graph than the session's", what,
               n->g->nodes[n->id]->name);
  return n->id;
}

/* How the fetches were given, which is how the results are returned. */
typedef enum fetch_form {
  FETCH_NODE,  /* one node: one result */
  FETCH_ARRAY, /* an array of nodes: an array of results */
  FETCH_KEYED  /* a table of string keys: results under the same keys */
} fetch_form;

/* The number of fetches at arg 2 and their form; raises on a malformed
 * fetch table. Allocates nothing. */
static int count_fetches(lua_State *L, fetch_form *form, int nmt) {
  if (lua_type(L, 2) == LUA_TUSERDATA && tsb_tonode_at(L, 2, nmt)) {
    *form = FETCH_NODE;
    return 1;
  }
  if (!lua_istable(L, 2))
    luaL_error(L, "run: fetch must be a node, an array of nodes or a table of nodes, got %s",
               luaL_typename(L, 2));
  /* raw length and access: a __len or __index is not asked */
  size_t len = lua_rawlen(L, 2);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (n >= 1 << 20) luaL_error(L, "run: too many fetches");
    n++;
    lua_pop(L, 1);
  }
  if (len > 0) {
    *form = FETCH_ARRAY;
    lua_pushliteral(L, "n"); /* table.pack's (and ts.gradients') count is allowed */
    if (lua_rawget(L, 2) == LUA_TNUMBER && lua_isinteger(L, -1) &&
        (size_t)lua_tointeger(L, -1) == len)
      n--;
    lua_pop(L, 1);
    if ((size_t)n != len) /* other keys than 1..len: they would be dropped */
      luaL_error(L, "run: a fetch table must be an array or have string keys, not both");
    return n;
  }
  *form = FETCH_KEYED;
  if (n == 0) luaL_error(L, "run: nothing to fetch (empty table)");
  return n;
}

/* Node ids of the n fetches at arg 2 (counted by count_fetches) into ids;
 * for FETCH_KEYED, returns the index of a table of the keys in order (pushed). */
static int collect_fetches(lua_State *L, tsi_graph *g, int *ids, fetch_form form, int n,
                           int nmt) {
  if (form == FETCH_NODE) {
    ids[0] = session_node(L, 2, g, "fetch", nmt);
    return 0;
  }
  if (form == FETCH_ARRAY) {
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 2, i + 1);
      ids[i] = session_node(L, -1, g, "fetch", nmt);
      lua_pop(L, 1);
    }
    return 0;
  }
  lua_createtable(L, n, 0);
  int keys = lua_gettop(L);
  int k = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "run: a fetch table must be an array or have string keys (got a %s key)",
                 luaL_typename(L, -2));
    if (k >= n) luaL_error(L, "run: the fetch table changed while it was read");
    ids[k] = session_node(L, -1, g, "fetch", nmt);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++k);
  }
  if (k != n) luaL_error(L, "run: the fetch table changed while it was read");
  return keys;
}

/* The fetches at arg 2 counted and collected into a box (pushed, then the
 * keys' table for FETCH_KEYED): for the methods that plan without running. */
static int fetch_box(lua_State *L, tsi_graph *g, int **ids, fetch_form *form, int *keys) {
  int n = count_fetches(L, form, 0);
  *ids = lua_newuserdatauv(L, sizeof(int) * (size_t)n, 0);
  *keys = collect_fetches(L, g, *ids, *form, n, 0);
  return n;
}

/* Whether t's data lies in one of the n feeds' memory (a fetched feed, or a
 * view of one): such a result is read from the feed's tensor. */
static int views_feed(const tsi_tensor *t, const tsi_tensor *feeds, int n) {
  uintptr_t d = (uintptr_t)t->data;
  for (int k = 0; k < n; k++) {
    uintptr_t b = (uintptr_t)feeds[k].data;
    if (b && d >= b && d - b < tsi_nbytes(&feeds[k])) return 1;
  }
  return 0;
}

/* Pushes fetch i's result: a fresh tensor, or the caller's out tensor (at
 * index i of the table at outtab, when there is one) holding it. t may view
 * a feed: checked after each allocation (a finaliser may free it by hand);
 * the plan's own memory stays while the run holds it. */
static void push_result(lua_State *L, const tsi_tensor *t, int outtab, int strict, int i,
                        const cb_ctx *c, int tmt) {
  if (t->dtype < 0) { /* an op that yields nothing */
    lua_pushnil(L);
    return;
  }
  tsb_tensor *o = NULL;
  if (outtab) {
    lua_rawgeti(L, outtab, i + 1);
    o = tsb_totensor_at(L, -1, tmt);
    if (!o) lua_pop(L, 1);
  }
  if (!o) {
    tsb_tensor *r = tsb_newtensor(L, t->dtype, t->ndim, t->shape);
    if (views_feed(t, c->feeds, c->nfeed))
      check_intact(L, c->anchor, c->feeds, c->nfeed, 0, NULL, 0, tmt);
    if (tsi_nbytes(t)) memcpy(r->t.data, t->data, tsi_nbytes(t));
    return;
  }
  int fits = o->t.dtype == t->dtype && tsi_same_shape(&o->t, t);
  if (fits && o->t.data == t->data) return; /* written in place by the plan */
  if (!strict && !fits) {
    lua_pop(L, 1); /* a result allocated up front that did not fit after all */
    tsb_tensor *r = tsb_newtensor(L, t->dtype, t->ndim, t->shape);
    check_intact(L, c->anchor, c->feeds, c->nfeed, 0, NULL, 0, tmt);
    if (tsi_nbytes(t)) memcpy(r->t.data, t->data, tsi_nbytes(t));
    return;
  }
  if (!fits) {
    char a[96], b[96];
    luaL_error(L, "run: the out tensor for fetch %d is %s %s, the result is %s %s", i + 1,
               tsi_dtype_name(o->t.dtype), tsi_shape_str(&o->t, a, sizeof a),
               tsi_dtype_name(t->dtype), tsi_shape_str(t, b, sizeof b));
  }
  check_intact(L, c->anchor, c->feeds, c->nfeed, 0, NULL, 0, tmt);
  if (tsi_nbytes(t)) memmove(o->t.data, t->data, tsi_nbytes(t));
}

/* Results of at least this many bytes are allocated before the run when
 * their shapes are known (a repeated run), and the plan writes them there:
 * no copy. */
#define PREALLOC_BYTES 65536

/* sh: room for nfetch tensors that outlives the run (they become the dests). */
static int preallocate(lua_State *L, tsb_session *s, int nfetch, const int *fetch, int nfeed,
                       const int *feed_ids, const tsi_tensor *feeds, tsi_tensor *sh,
                       tsi_tensor **dests) {
  if (!tsi_session_expect(&s->s, nfetch, fetch, nfeed, feed_ids, feeds, sh)) return 0;
  int any = 0;
  for (int i = 0; i < nfetch; i++) any |= sh[i].dtype >= 0 && tsi_nbytes(&sh[i]) >= PREALLOC_BYTES;
  if (!any) return 0;
  *dests = sh;
  lua_createtable(L, nfetch, 0);
  int tab = lua_gettop(L);
  for (int i = 0; i < nfetch; i++) {
    if (sh[i].dtype < 0 || tsi_nbytes(&sh[i]) < PREALLOC_BYTES) {
      sh[i].data = NULL;
      continue;
    }
    tsb_tensor *t = tsb_newtensor(L, sh[i].dtype, sh[i].ndim, sh[i].shape);
    sh[i].data = t->t.data;
    lua_rawseti(L, tab, i + 1);
  }
  return tab;
}

/* opts.out: the caller's result tensors, gathered per fetch into the guard's
 * (at gslot) table of out tensors (pushed; its index returned) and into its
 * dests; 0 without opts.out. */
static int collect_outs(lua_State *L, int opts, int nfetch, fetch_form form, int keys,
                        int gslot, run_guard *r, int tmt) {
  lua_getfield(L, opts, "out");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  int out = lua_gettop(L);
  if (form == FETCH_NODE ? !tsb_totensor_at(L, out, tmt) : !lua_istable(L, out))
    luaL_error(L, "run: out must be %s like the fetches, got %s",
               form == FETCH_NODE ? "a tensor" : "a table of tensors", luaL_typename(L, out));
  memset(r->dests, 0, sizeof(tsi_tensor) * (size_t)nfetch);
  lua_getiuservalue(L, gslot, 3);
  int tab = lua_gettop(L);
  for (int i = 0; i < nfetch; i++) {
    if (form == FETCH_NODE) lua_pushvalue(L, out);
    else if (form == FETCH_ARRAY) lua_rawgeti(L, out, i + 1);
    else {
      lua_rawgeti(L, keys, i + 1);
      lua_rawget(L, out);
    }
    if (!lua_isnil(L, -1)) {
      tsb_tensor *t = tsb_totensor_at(L, -1, tmt);
      if (!t) luaL_error(L, "run: out entry for fetch %d must be a tensor, got %s", i + 1,
                         luaL_typename(L, -1));
      r->dests[i] = t->t;
    }
    lua_rawseti(L, tab, i + 1);
    r->nouts = i + 1;
  }
  return tab;
}

/* The profile of the last run: an array of {name=, op=, seconds=, bytes=}
 * in execution order, handed to the Lua builder (init.lua) when set. */
static void push_profile(lua_State *L, tsb_session *s, const tsi_plan *p) {
  int n = tsi_session_profile_steps(&s->s, p);
  lua_getfield(L, LUA_REGISTRYINDEX, TSB_PROFILE_BUILDER);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    double sec;
    size_t bytes;
    const tsi_node *nd = tsi_session_profile_step(&s->s, p, i, &sec, &bytes);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, nd->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, nd->op->name);
    lua_setfield(L, -2, "op");
    lua_pushnumber(L, sec);
    lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_setfield(L, -2, "bytes");
    lua_rawseti(L, -2, i + 1);
  }
  if (lua_isfunction(L, -2)) lua_call(L, 1, 1);
  else lua_remove(L, -2);
}

/* The host's memory budget (ts_setbudget): a function telling how many
 * bytes its allocator has left, kept in the registry per state. */
typedef struct run_budget {
  size_t (*left)(void *ud);
  void *ud;
} run_budget;
static const char BUDGET_KEY = 'b';

/* Bytes the host's budget has left, SIZE_MAX without one. Allocates nothing. */
static size_t budget_left(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &BUDGET_KEY);
  const run_budget *b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return b && b->left ? b->left(b->ud) : SIZE_MAX;
}

TS_API void ts_setbudget(lua_State *L, size_t (*left)(void *ud), void *ud) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &BUDGET_KEY);
  run_budget *b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!b) {
    if (!left) return;
    b = lua_newuserdatauv(L, sizeof *b, 0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &BUDGET_KEY);
  }
  b->left = left;
  b->ud = ud;
}

/* A run's state between its slices: on the C stack for a run that cannot
 * yield, in a userdata on the run's Lua stack for one that may (the C stack
 * is gone while the coroutine is suspended). The pointers are into userdata
 * held on that Lua stack; the indices are of that stack. */
typedef struct run_state {
  tsb_session *s;
  run_guard *r;
  int *fetch, *feed_ids;
  tsi_tensor *feeds, *dests;
  int nfetch, nfeed, keys, gidx, anchor, outtab, strict, errslot, profile, top;
  fetch_form form;
  long every;     /* yield after this many computing steps (0: never) */
  double slice_s; /* yield after a step ending this long after the slice began (0: never) */
} run_state;

/* The positive integer option `name` of run, its value on the top. */
static lua_Integer run_count_opt(lua_State *L, const char *name) {
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok || v < 1) luaL_error(L, "run: %s must be a positive integer, got %s", name,
                               luaL_tolstring(L, -1, NULL));
  return v;
}

static int run_slice(lua_State *L, run_state *rs, const tsi_runctx *base);

/* The feeds and out tensors of a resumed run are intact (called protected:
 * a freed one raises). */
static int resume_intact(lua_State *L) {
  const run_state *rs = lua_touserdata(L, 1); /* 2: the feeds' anchor, 3: the outs or nil */
  check_intact(L, 2, rs->feeds, rs->nfeed, lua_isnil(L, 3) ? 0 : 3, rs->dests, rs->nfetch, 0);
  return 0;
}

/* The continuation of a suspended run (lua_yieldk): whatever was passed to
 * coroutine.resume is dropped; the session must still be open, its graph
 * alive and the feeds and out tensors intact. */
static int run_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  run_state *rs = lua_touserdata(L, (int)k);
  lua_settop(L, rs->top);
  /* A coroutine that raises keeps its stack (the guard is closed only by
   * coroutine.close or its collection): end the run before raising. */
  const char *why = NULL;
  if (!rs->s->open) why = "run: the session was closed while the run was suspended";
  else {
    lua_getiuservalue(L, 1, 1);
    const tsb_graph *g = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!g || !g->g || g->g != rs->s->s.g)
      why = "run (resumed): the session's graph has been freed";
  }
  if (why) {
    run_end(rs->r);
    return luaL_error(L, "%s", why);
  }
  lua_pushcfunction(L, resume_intact);
  lua_pushlightuserdata(L, rs);
  lua_pushvalue(L, rs->anchor);
  if (rs->outtab) lua_pushvalue(L, rs->outtab);
  else lua_pushnil(L);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    run_end(rs->r);
    return lua_error(L);
  }
  return run_slice(L, rs, NULL);
}

/* Runs the next slice of the run (all of it unless it may yield); yields
 * between slices, and pushes the results once done. */
static int run_slice(lua_State *L, run_state *rs, const tsi_runctx *base) {
  tsb_session *s = rs->s;
  run_guard *r = rs->r;
  tsi_tensor *outs = r->outs;
  cb_ctx cb = {L,          rs->gidx,     1,         rs->anchor, rs->outtab, rs->errslot, 0,
               rs->feeds, rs->dests,    rs->nfeed, rs->nfetch};
  tsi_runctx ctx; /* the run's start's (base), or the state's for a resumed run */
  if (base) ctx = *base;
  else tsb_runctx(L, &ctx);
  ctx.profile = rs->profile;
  ctx.custom = custom_cb;
  ctx.custom_ud = &cb;
  tsi_err e;
  int done;
  double deadline = rs->slice_s > 0 ? tsi_now() + rs->slice_s : 0;
  if (tsi_session_resume(&s->s, r->p, &ctx, rs->feeds, rs->dests, outs, rs->every, deadline,
                         &done, &e)) {
    run_end(r);
    if (cb.failed) { /* a compute's error object, passed on as it was */
      lua_pushvalue(L, rs->errslot);
      return lua_error(L);
    }
    return tsb_raise(L, &e);
  }
  if (!done) {
    rs->top = lua_gettop(L);
    return lua_yieldk(L, 0, (lua_KContext)(rs->errslot + 1), run_k); /* rs's box */
  }
  /* Results are copied out while the plan stays pinned and the graph held;
   * a fetched feed is read from its tensor, checked first (a finaliser run by
   * copying may have freed it by hand). */
  int outtab = rs->outtab, strict = rs->strict, nfetch = rs->nfetch, keys = rs->keys;
  if (rs->form == FETCH_NODE) {
    push_result(L, &outs[0], outtab, strict, 0, &cb, UV_TENSOR);
  } else {
    lua_createtable(L, rs->form == FETCH_ARRAY ? nfetch : 0, rs->form == FETCH_KEYED ? nfetch : 0);
    for (int i = 0; i < nfetch; i++) {
      if (rs->form == FETCH_KEYED) lua_rawgeti(L, keys, i + 1);
      push_result(L, &outs[i], outtab, strict, i, &cb, UV_TENSOR);
      if (rs->form == FETCH_ARRAY) lua_rawseti(L, -2, i + 1);
      else lua_rawset(L, -3);
    }
  }
  if (rs->profile) push_profile(L, s, r->p);
  run_end(r);
  return rs->profile ? 2 : 1;
}

/* sess:run(fetch [, feed [, {profile=true, out=, yield_every=n, yield_after_us=t}]]) */
static int session_run(lua_State *L) {
  tsb_session *s = check_live_session_at(L, 1, "run", UV_SESSION);
  lua_settop(L, 4);
  int profile = 0, has_out = 0;
  lua_Integer every = 0, after_us = 0;
  if (!lua_isnil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 4)) { /* one pass; a misspelt option would otherwise do nothing */
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (k && !strcmp(k, "out")) has_out = 1;
      else if (k && !strcmp(k, "profile")) profile = lua_toboolean(L, -1);
      else if (k && !strcmp(k, "yield_every")) every = run_count_opt(L, k);
      else if (k && !strcmp(k, "yield_after_us")) after_us = run_count_opt(L, k);
      else
        return luaL_error(L, "run: unknown option %s (options are profile, out, "
                             "yield_every and yield_after_us)",
                          k ? k : luaL_typename(L, -2));
      lua_pop(L, 1);
    }
    if ((every || after_us) && !lua_isyieldable(L))
      return luaL_error(L, "run: %s needs a coroutine to yield from (sess:run was called "
                           "outside one, or through a C function that cannot yield)",
                        every ? "yield_every" : "yield_after_us");
    if (every > (lua_Integer)1 << 30) every = (lua_Integer)1 << 30;
  }
  int yields = every || after_us;
  tsi_graph *g = s->s.g;
  lua_getiuservalue(L, 1, 1);
  int gidx = lua_gettop(L);
  fetch_form form;
  int nfetch = count_fetches(L, &form, UV_NODE);
  int nfeed = 0;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      nfeed++;
      lua_pop(L, 1);
    }
  }
  luaL_checkstack(L, 16, "run"); /* the guard, its tables, the slot, the results */
  /* the guard and its scratch (no allocation when a run at this depth had as much) */
  run_guard *r = push_guard(L, 1, yields ? -1 : s->depth, nfetch, nfeed);
  lua_toclose(L, -1);
  int gslot = lua_gettop(L);
  int *fetch = r->fetch, *feed_ids = r->feed_ids;
  tsi_tensor *feeds = r->feeds;
  int keys = collect_fetches(L, g, fetch, form, nfetch, UV_NODE);
  /* feeds: ids, views, and the tensors kept alive in the guard's anchor */
  lua_getiuservalue(L, gslot, 2);
  int anchor = lua_gettop(L);
  int converted_any = 0; /* a feed converted from a Lua value: an allocation after the first */
  if (nfeed) {
    int k = 0, converted = 1; /* (the checks since the last allocation) */
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      int id = -1;
      if (k >= nfeed) luaL_error(L, "run: the feed table changed while it was read");
      if (lua_type(L, -2) == LUA_TSTRING) { /* a placeholder's name in the session's graph */
        check_still_live(L, 1, s, "run");
        const char *name = lua_tostring(L, -2);
        for (int i = 0; i < g->n && id < 0; i++)
          if (strcmp(g->nodes[i]->name, name) == 0) id = i;
        if (id < 0)
          luaL_error(L, "run: cannot feed '%s': the session's graph has no node of that name", name);
      } else {
        tsb_node *n = tsb_tonode_at(L, -2, UV_NODE);
        if (!n)
          luaL_error(L, "run: feed keys must be placeholder nodes or their names, got %s",
                     luaL_typename(L, -2));
        /* converting the last feed may have run a finaliser */
        if (converted) check_still_live(L, 1, s, "run");
        if (n->g != g)
          luaL_error(L, "run: cannot feed '%s': it belongs to another graph than the session's",
                     n->g->nodes[n->id]->name);
        id = n->id;
      }
      const tsi_node *pn = g->nodes[id];
      for (int j = 0; j < k; j++)
        if (feed_ids[j] == id) luaL_error(L, "run: '%s' is fed twice (by node and by name)", pn->name);
      if (pn->op != &tsi_op_placeholder)
        luaL_error(L, "run: cannot feed '%s': it is a %s, not a placeholder", pn->name,
                   pn->op->name);
      tsb_tensor *t = tsb_totensor_at(L, -1, UV_TENSOR); /* a tensor is fed as it is */
      converted = !t;
      converted_any |= converted;
      if (t) {
        lua_pushvalue(L, -1);
      } else { /* a Lua value becomes a tensor of the placeholder's dtype */
        lua_pushfstring(L, "feed for '%s'", pn->name);
        t = tsb_value_to_tensor(L, -2, pn->info.dtype, lua_tostring(L, -1));
        lua_remove(L, -2);
      }
      feeds[k] = t->t;
      feed_ids[k] = id;
      lua_rawseti(L, anchor, ++k);
      r->nanchor = k;
      lua_pop(L, 1);
    }
    if (k != nfeed) luaL_error(L, "run: the feed table changed while it was read");
  }
  tsi_tensor *dests = NULL;
  int outtab = has_out ? collect_outs(L, 4, nfetch, form, keys, gslot, r, UV_TENSOR) : 0;
  int strict = outtab != 0;
  if (outtab) dests = r->dests;
  else {
    check_still_live(L, 1, s, "run"); /* expect reads the graph */
    outtab = preallocate(L, s, nfetch, fetch, nfeed, feed_ids, feeds, r->dests, &dests);
  }
  lua_pushnil(L); /* the error slot of a failing custom op (cb_ctx) */
  int errslot = lua_gettop(L);
  run_state local, *rs = &local;
  if (yields) rs = lua_newuserdatauv(L, sizeof *rs, 0); /* the last allocation before the run */
  check_still_live(L, 1, s, "run"); /* finalisers may have run: nothing allocates from here on */
  /* The feeds were read with nothing allocated since, unless one was
   * converted, results were allocated up front (outtab) or the run state was */
  if (converted_any || outtab || yields)
    check_intact(L, anchor, feeds, nfeed, outtab, dests, nfetch, UV_TENSOR);
  *rs = (run_state){s,      r,      fetch,  feed_ids, feeds,   dests,
                    nfetch, nfeed,  keys,   gidx,     anchor,  outtab,
                    strict, errslot, profile, 0,      form,    (long)every,
                    1e-6 * (double)after_us};
  r->s = s;
  r->g = lua_touserdata(L, gidx);
  r->g->runs++;
  s->depth++;
  r->armed = 1;
  tsi_runctx ctx;
  tsb_state_runctx(s->S, &ctx);
  ctx.profile = profile;
  tsi_err e;
  if (tsi_session_start(&s->s, &ctx, nfetch, fetch, nfeed, feed_ids, feeds, budget_left(L),
                        &r->p, &e)) {
    run_end(r);
    return tsb_raise(L, &e);
  }
  return run_slice(L, rs, &ctx);
}

/* sess:stats(): {allocations=, plans=, in_place=, running=, pinned=, bytes=}
 * (buffers the plans have allocated, cached plans, their steps computed in
 * place, runs in progress (suspended ones included), plans they pin, bytes
 * the plans hold in buffers and work areas). */
static int session_stats(lua_State *L) {
  tsb_session *s = check_session(L, 1);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, s->depth);
  lua_setfield(L, -2, "running");
  lua_pushinteger(L, tsi_session_pinned(&s->s));
  lua_setfield(L, -2, "pinned");
  lua_pushinteger(L, s->open ? (lua_Integer)tsi_session_bytes(&s->s) : 0);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)s->s.nallocs);
  lua_setfield(L, -2, "allocations");
  lua_pushinteger(L, s->open ? s->s.nplans : 0);
  lua_setfield(L, -2, "plans");
  lua_pushinteger(L, s->open ? tsi_session_in_place(&s->s) : 0);
  lua_setfield(L, -2, "in_place");
  return 1;
}

static int session_graph(lua_State *L) {
  check_session(L, 1);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* sess:plan_steps(fetch): steps of the cached plan for these fetches and
 * feeds (nil if none): lets specs check pruning and caching. */
static int session_plan_steps(lua_State *L) {
  tsb_session *s = check_live_session(L, 1, "plan_steps");
  lua_settop(L, 3);
  int *fetch, keys;
  fetch_form form;
  int nfetch = fetch_box(L, s->s.g, &fetch, &form, &keys);
  int nfeed = 0;
  int ids[256];
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3) && nfeed < 256) {
      tsb_node *n = tsb_tonode(L, -2);
      if (n) ids[nfeed++] = n->id;
      lua_pop(L, 1);
    }
  }
  check_live_session(L, 1, "plan_steps");
  int n = tsi_session_plan_steps(&s->s, nfetch, fetch, nfeed, ids);
  if (n < 0) lua_pushnil(L);
  else lua_pushinteger(L, n);
  return 1;
}

/* sess:plan_memory(fetch [, feed_shapes]) -> total, {total=, buffers=,
 * nbuffers=, work=, results=, stack=}: the bytes a run of the plan for these
 * fetches needs with feeds of these shapes ({[placeholder] = {dims...} or a
 * tensor (its shape and dtype)}), before running it. */
static int session_plan_memory(lua_State *L) {
  tsb_session *s = check_live_session(L, 1, "plan_memory");
  lua_settop(L, 3);
  tsi_graph *g = s->s.g;
  int *fetch, keys;
  fetch_form form;
  int nfetch = fetch_box(L, g, &fetch, &form, &keys);
  int nfeed = 0;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (++nfeed > 1 << 20) luaL_error(L, "plan_memory: too many feeds");
      lua_pop(L, 1);
    }
  }
  int *ids = lua_newuserdatauv(L, sizeof(int) * (size_t)(nfeed ? nfeed : 1), 0);
  tsi_tensor *feeds = lua_newuserdatauv(L, sizeof(tsi_tensor) * (size_t)(nfeed ? nfeed : 1), 0);
  int k = 0;
  if (nfeed) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      tsb_node *n = tsb_tonode(L, -2);
      if (!n)
        luaL_error(L, "plan_memory: feed_shapes keys must be placeholder nodes, got %s",
                   luaL_typename(L, -2));
      check_still_live(L, 1, s, "plan_memory");
      if (n->g != g)
        luaL_error(L, "plan_memory: '%s' belongs to another graph than the session's",
                   n->g->nodes[n->id]->name);
      const tsi_node *pn = g->nodes[n->id];
      tsi_tensor *f = &feeds[k];
      memset(f, 0, sizeof *f);
      const tsb_tensor *t = tsb_totensor(L, -1);
      tsi_err e;
      if (t) {
        *f = t->t;
      } else {
        char what[160];
        int64_t shape[TSI_MAXDIM];
        snprintf(what, sizeof what, "plan_memory: feed_shapes for '%s'", pn->name);
        int nd = tsb_checkshape(L, -1, shape, what);
        f->dtype = pn->info.dtype;
        if (tsi_set_shape(f, nd, shape, &e)) luaL_error(L, "%s: %s", what, e.msg);
      }
      f->data = NULL;
      ids[k++] = n->id;
      lua_pop(L, 1);
    }
  }
  check_still_live(L, 1, s, "plan_memory");
  tsi_runctx ctx;
  tsb_runctx(L, &ctx);
  tsi_plan_mem m;
  tsi_err e;
  if (tsi_session_plan_memory(&s->s, ctx.nthreads, nfetch, fetch, k, ids, feeds, &m, &e))
    return tsb_raise_in(L, "plan_memory", &e);
  lua_pushinteger(L, (lua_Integer)m.total);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)m.total);
  lua_setfield(L, -2, "total");
  lua_pushinteger(L, (lua_Integer)m.buffers);
  lua_setfield(L, -2, "buffers");
  lua_pushinteger(L, m.nbuffers);
  lua_setfield(L, -2, "nbuffers");
  lua_pushinteger(L, (lua_Integer)m.work);
  lua_setfield(L, -2, "work");
  lua_pushinteger(L, (lua_Integer)m.results);
  lua_setfield(L, -2, "results");
  lua_pushinteger(L, (lua_Integer)m.stack);
  lua_setfield(L, -2, "stack");
  return 2;
}

TS_API size_t ts_plan_memory(lua_State *L, int sess, int fetch, int feed_shapes) {
  sess = lua_absindex(L, sess);
  fetch = lua_absindex(L, fetch);
  feed_shapes = feed_shapes ? lua_absindex(L, feed_shapes) : 0;
  lua_pushcfunction(L, session_plan_memory);
  lua_pushvalue(L, sess);
  lua_pushvalue(L, fetch);
  if (feed_shapes) lua_pushvalue(L, feed_shapes);
  else lua_pushnil(L);
  lua_call(L, 3, 1);
  size_t n = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n;
}

static int session_tostring(lua_State *L) {
  tsb_session *s = check_session(L, 1);
  lua_pushfstring(L, "Session(%s, %d cached plans)", s->open ? "open" : "closed",
                  s->open ? s->s.nplans : 0);
  return 1;
}

static const luaL_Reg session_methods[] = {{"run", session_run},
                                           {"close", session_close},
                                           {"graph", session_graph},
                                           {"plan_steps", session_plan_steps},
                                           {"plan_memory", session_plan_memory},
                                           {"stats", session_stats},
                                           {NULL, NULL}};

static const luaL_Reg session_meta[] = {{"__gc", session_close},
                                        {"__close", session_close},
                                        {"__tostring", session_tostring},
                                        {NULL, NULL}};

void tsb_open_session(lua_State *L) {
  luaL_newmetatable(L, TSB_RUNGUARD);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, guard_close, 1);
  lua_setfield(L, -2, "__close");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, guard_close, 1); /* a suspended run whose coroutine is collected */
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_session);
  lua_setfield(L, -2, "Session");
  tsb_newmetatable(L, TSB_SESSION, session_methods, session_meta, NULL);
  lua_getfield(L, -1, "session_methods"); /* run with its upvalues (UV_TENSOR ...) */
  luaL_getmetatable(L, TSB_TENSOR);
  luaL_getmetatable(L, TSB_NODE);
  luaL_getmetatable(L, TSB_SESSION);
  lua_pushcclosure(L, session_run, 3);
  lua_setfield(L, -2, "run");
  lua_pop(L, 1);
}
