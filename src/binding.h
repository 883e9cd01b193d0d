/* Shared declarations of the Lua binding (lua_*.c). Only these files include
 * lua.h; they turn core statuses into Lua errors. Statics are named after the
 * Lua function they implement; shared functions use the prefix tsb_. */
#ifndef TS_BINDING_H
#define TS_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "core.h"
#include "blas.h"
#include "parallel.h"
#include "plan.h"

#define TSB_TENSOR "tensorslow.Tensor"
#define TSB_NODE "tensorslow.Node"
#define TSB_GRAPH "tensorslow.Graph"
#define TSB_SESSION "tensorslow.Session"
/* Registry fields: the graph new nodes go to unless told otherwise, and the
 * Lua function (init.lua) that turns a profiled run's rows into the profile
 * sess:run returns. */
#define TSB_DEFAULT_GRAPH "tensorslow.default_graph"
#define TSB_PROFILE_BUILDER "tensorslow.profile_builder"

/* Per-lua_State data, kept in the registry. */
typedef struct tsb_state {
  tsi_alloc alloc;  /* where tensor, graph and plan memory comes from */
  int host_alloc;   /* set by ts_setallocator: tensor data lives outside Lua */
  tsi_rng rng;
  int nthreads;
  tsi_blas blas;
  tsi_pool pool; /* joined by the state's __gc, before lua_close unloads core.so */
  /* Tensor data of TSI_CACHE_MIN bytes and more (all of it under a host
   * allocator) is a block from alloc, not inline: freed ones are kept here
   * (TSB_CACHE_CAP bytes at most) and emptied by an explicit
   * collectgarbage(), an allocation that fails and the state's __gc. */
  tsi_cache cache;
  int unarmed; /* no sentinel: its allocation failed, the cache keeps nothing */
} tsb_state;
#define TSB_CACHE_CAP ((size_t)64 << 20)

tsb_state *tsb_getstate(lua_State *L);
void tsb_arm_sentinel(lua_State *L, tsb_state *S);
/* A run context for the state's allocator, generator, threads and BLAS;
 * everything else zero. */
void tsb_runctx(lua_State *L, tsi_runctx *ctx);
void tsb_state_runctx(tsb_state *S, tsi_runctx *ctx); /* the same from the state */
/* With the module table on top: creates the metatable name ("tensorslow.X")
 * with the metamethods meta, publishes it as module.X_mt and the methods as
 * module.x_methods (the table Lua code extends). __index is the methods
 * table, or index (a C closure with the methods as upvalue 1) when given.
 * Leaves the stack as it was. */
void tsb_newmetatable(lua_State *L, const char *name, const luaL_Reg *methods,
                      const luaL_Reg *meta, lua_CFunction index);

/* TSB_VIEW shares the data of the tensor in its user value (t:reshape).
 * TSB_FREED: __gc ran (maybe called by hand); tsb_checktensor raises. */
enum { TSB_INLINE = 0, TSB_HOST = 1, TSB_ALLOC = 2, TSB_VIEW = 3, TSB_FREED = 4 };

/* The Tensor userdata. view is what the public API hands out.
 * A base counts its views (views: those whose __gc has not run). Its __gc
 * (maybe called by hand) with views left only marks it freed and keeps the
 * data in held (held_kind: TSB_HOST or TSB_ALLOC); the last view's __gc gives
 * it back, so the host's release never runs while a view still points at the
 * data. A view's base is its user value 1, which must be base (a user value
 * replaced through the debug library makes the view dead, never a dangling
 * read). */
typedef struct tsb_tensor {
  ts_TensorView view;
  tsi_tensor t;
  int kind;
  int views;                /* a base: live views of it */
  struct tsb_tensor *base;  /* TSB_VIEW */
  ts_Release release;
  void *release_ud;
  tsi_alloc alloc; /* TSB_ALLOC */
  void *held;
  int held_kind;
} tsb_tensor;

/* Raises a Lua error from a core error (after the caller freed what it holds). */
int tsb_raise(lua_State *L, const tsi_err *e);
/* The same, the message prefixed with "fn: " (fn NULL: none). */
int tsb_raise_in(lua_State *L, const char *fn, const tsi_err *e);

/* Tensors */
/* Copies u->t's dtype, shape, count and data into the public view. */
void tsb_sync_view(tsb_tensor *u);
tsb_tensor *tsb_newtensor(lua_State *L, int dtype, int ndim, const int64_t *shape);
tsb_tensor *tsb_checktensor(lua_State *L, int idx);
tsb_tensor *tsb_totensor(lua_State *L, int idx);
/* luaL_testudata given the metatable's index mt (an upvalue of a hot
 * function, or an absolute index): no registry lookup by name. The _at
 * forms of tsb_totensor / tsb_tonode take it (0: look it up by name). */
void *tsb_testudata_at(lua_State *L, int idx, int mt);
tsb_tensor *tsb_totensor_at(lua_State *L, int idx, int mt);
/* Whether the tensor u at idx was freed (its __gc ran) or is a view of one. */
int tsb_tensor_freed(lua_State *L, int idx, const tsb_tensor *u);
/* Converts the value at idx (tensor, number, nested table) to a tensor of
 * dtype (-1: keep a tensor's dtype, float64 for Lua values); pushes it. */
tsb_tensor *tsb_value_to_tensor(lua_State *L, int idx, int dtype, const char *what);
/* Lua values are read only through these (raw length and raw access: a
 * table's __len and __index are never called; 2.0 counts as 2). what names
 * the function and the argument ("reshape: shape") in errors. */
lua_Integer tsb_checkint(lua_State *L, int idx, const char *what);
/* An integer or a table of at most max integers into v; returns the count. */
int tsb_checkints(lua_State *L, int idx, int64_t *v, int max, const char *what);
/* Reads a shape table {2, 3} (or a number) at idx (entries may be negative). */
int tsb_checkshape(lua_State *L, int idx, int64_t *shape, const char *what);
int tsb_checkdtype(lua_State *L, int idx, int def);
/* Parses an attribute table at idx into at (axis given 1-based). */
void tsb_attrs(lua_State *L, int idx, tsi_attrs *at);
/* The same, naming op in errors. */
void tsb_opattrs(lua_State *L, int idx, tsi_attrs *at, const char *op);

/* Graphs and nodes. g is NULL once the graph is freed (its __gc, maybe
 * called by hand); while sessions run on it (runs > 0) freeing is deferred
 * (dead keeps it) until the last run returns. A node's user value 1 is its
 * graph userdata, 2 its name: a node is usable only while that graph's g is
 * the node's g. */
typedef struct tsb_graph {
  tsi_graph *g;
  tsi_graph *dead;
  int runs;
} tsb_graph;
typedef struct tsb_node {
  tsi_graph *g;
  const struct tsb_graph *gu; /* the graph userdata it holds (user value 1, never changed) */
  int id;
} tsb_node;
/* Raise "graph has been freed" (or a type error); never return a dead one. */
tsb_graph *tsb_checkgraph(lua_State *L, int idx);
tsb_node *tsb_checknode(lua_State *L, int idx);
/* NULL when idx is not a node; raises when it is one whose graph is freed. */
tsb_node *tsb_tonode(lua_State *L, int idx);
tsb_node *tsb_tonode_at(lua_State *L, int idx, int mt);
/* Ends one run's hold on the graph (frees it if its __gc ran meanwhile). */
void tsb_graph_unhold(tsb_graph *g);
/* Pushes the node userdata of id in the graph at gidx. */
void tsb_pushnode(lua_State *L, int gidx, int id);
/* Pushes a graph's custom-op compute function for ref. */
void tsb_pushcustom(lua_State *L, int gidx, int ref);

void tsb_open_tensor(lua_State *L);
void tsb_open_graph(lua_State *L);
void tsb_open_session(lua_State *L);
void tsb_open_io(lua_State *L);

#endif
