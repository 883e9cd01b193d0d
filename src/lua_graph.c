/* Graph and Node userdata. A graph's user values: 1 = array of its node
 * userdata (so a node is always the same Lua object), 2 = name counters,
 * 3 = custom-op compute functions. A node's user values: 1 = its graph,
 * 2 = its name (for errors once the graph is freed).
 * Lifetimes: a finaliser may resurrect a node after its graph's __gc ran, and
 * __gc may be called by hand, so every use of a graph or node goes through
 * tsb_checkgraph / tsb_tonode / tsb_checknode, which raise when the graph is
 * freed; and any Lua call that allocates may run a finaliser that frees it,
 * so a tsi_graph or tsi_node pointer is fetched again after such a call. */
#include <stdio.h>
#include <string.h>

#include "binding.h"

enum { GU_NODES = 1, GU_NAMES = 2, GU_CUSTOM = 3 };

tsb_graph *tsb_checkgraph(lua_State *L, int idx) {
  tsb_graph *g = luaL_checkudata(L, idx, TSB_GRAPH);
  if (!g->g) luaL_error(L, "graph has been freed");
  return g;
}

/* n (the node at idx) if its graph is alive, else an error naming it. */
static tsb_node *node_live(lua_State *L, int idx, tsb_node *n) {
  if (!n) return NULL;
  const tsb_graph *g = n->gu; /* alive: the node holds it */
  if (g && g->g && g->g == n->g) return n;
  lua_getiuservalue(L, idx, 2);
  const char *name = lua_tostring(L, -1);
  luaL_error(L, "node '%s': its graph has been freed", name ? name : "?");
  return NULL;
}

tsb_node *tsb_tonode(lua_State *L, int idx) {
  return node_live(L, idx, luaL_testudata(L, idx, TSB_NODE));
}
tsb_node *tsb_tonode_at(lua_State *L, int idx, int mt) {
  if (!mt) return tsb_tonode(L, idx);
  return node_live(L, idx, tsb_testudata_at(L, idx, mt));
}
tsb_node *tsb_checknode(lua_State *L, int idx) {
  return node_live(L, idx, luaL_checkudata(L, idx, TSB_NODE));
}

/* The checked node at idx (arg 1 of a method) in its graph. */
static tsi_node *node_at(lua_State *L, int idx) {
  tsb_node *u = tsb_checknode(L, idx);
  return u->g->nodes[u->id];
}

static int l_graph(lua_State *L) {
  tsb_state *S = tsb_getstate(L);
  tsb_graph *g = lua_newuserdatauv(L, sizeof *g, 3);
  memset(g, 0, sizeof *g);
  luaL_setmetatable(L, TSB_GRAPH);
  for (int i = 1; i <= 3; i++) {
    lua_newtable(L);
    lua_setiuservalue(L, -2, i);
  }
  g->g = tsi_graph_new(&S->alloc);
  if (!g->g) return luaL_error(L, "not enough memory for a graph");
  return 1;
}

/* __gc; safe twice. While sessions run on it the graph is dead to every
 * check at once but freed by the last run's tsb_graph_unhold. */
static int graph_gc(lua_State *L) {
  tsb_graph *g = luaL_checkudata(L, 1, TSB_GRAPH);
  if (g->runs > 0) {
    if (g->g) g->dead = g->g;
  } else {
    tsi_graph_free(g->g);
  }
  g->g = NULL;
  return 0;
}

void tsb_graph_unhold(tsb_graph *g) {
  if (--g->runs == 0 && g->dead) {
    tsi_graph_free(g->dead);
    g->dead = NULL;
  }
}

void tsb_pushnode(lua_State *L, int gidx, int id) {
  gidx = lua_absindex(L, gidx);
  lua_getiuservalue(L, gidx, GU_NODES);
  if (lua_rawgeti(L, -1, id + 1) == LUA_TNIL) {
    lua_pop(L, 1);
    tsb_graph *g = lua_touserdata(L, gidx);
    if (!g->g) luaL_error(L, "graph has been freed");
    lua_pushstring(L, g->g->nodes[id]->name);
    tsb_node *n = lua_newuserdatauv(L, sizeof *n, 2);
    n->g = g->g; /* NULL if a finaliser freed it just now: then born dead */
    n->gu = g;
    n->id = id;
    luaL_setmetatable(L, TSB_NODE);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, 2);
    lua_pushvalue(L, gidx);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, id + 1);
  }
  lua_remove(L, -2);
}

void tsb_pushcustom(lua_State *L, int gidx, int ref) {
  lua_getiuservalue(L, gidx, GU_CUSTOM);
  lua_rawgeti(L, -1, ref);
  lua_remove(L, -2);
}

/* Pushes a unique name from base: base, base_1, base_2, ... */
static const char *unique_name(lua_State *L, int gidx, const char *base) {
  lua_getiuservalue(L, gidx, GU_NAMES);
  int names = lua_gettop(L);
  if (lua_getfield(L, names, base) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushinteger(L, 1);
    lua_setfield(L, names, base);
    lua_pushstring(L, base);
  } else {
    lua_Integer k = lua_tointeger(L, -1);
    lua_pop(L, 1);
    for (;;) {
      lua_pushfstring(L, "%s_%I", base, (LUA_INTEGER)k);
      k++;
      if (lua_getfield(L, names, lua_tostring(L, -1)) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      lua_pop(L, 2);
    }
    lua_pushinteger(L, k);
    lua_setfield(L, names, base);
    lua_pushinteger(L, 1);
    lua_setfield(L, names, lua_tostring(L, -2));
  }
  lua_remove(L, names);
  return lua_tostring(L, -1);
}

/* Node of the graph at gidx for the value at idx, or an error naming both
 * graphs when it belongs to another. */
static int input_id(lua_State *L, int gidx, int idx, const char *opname, int k) {
  tsb_node *n = tsb_tonode(L, idx);
  tsb_graph *g = lua_touserdata(L, gidx);
  if (!n) luaL_error(L, "%s: input %d is not a node (got %s)", opname, k, luaL_typename(L, idx));
  if (n->g != g->g)
    luaL_error(L, "%s: input %d ('%s') belongs to another graph than the op's", opname, k,
               n->g->nodes[n->id]->name);
  return n->id;
}

/* core.node(graph, op, name|nil, attrs|nil, inputs...) */
static int l_node(lua_State *L) {
  tsb_graph *g = tsb_checkgraph(L, 1);
  const char *opname = luaL_checkstring(L, 2);
  const tsi_opdef *op = tsi_op_find(opname);
  if (!op || (op->flags & TSI_OP_SOURCE) || op == &tsi_op_custom)
    return luaL_error(L, "unknown op '%s'", opname);
  const char *base = luaL_optstring(L, 3, opname);
  tsi_attrs at;
  tsb_attrs(L, 4, &at);
  int nin = lua_gettop(L) - 4;
  int ids[64];
  if (nin > 64) return luaL_error(L, "%s: more than 64 inputs", opname);
  for (int i = 0; i < nin; i++) ids[i] = input_id(L, 1, i + 5, opname, i + 1);
  const char *name = unique_name(L, 1, base);
  g = tsb_checkgraph(L, 1); /* a finaliser may have freed it meanwhile */
  tsi_err e;
  int id = tsi_graph_add(g->g, op, name, nin, ids, lua_isnoneornil(L, 4) ? NULL : &at, NULL,
                         NULL, &e);
  if (id < 0) return tsb_raise(L, &e);
  tsb_pushnode(L, 1, id);
  return 1;
}

/* core.source(graph, kind, name, dtype, shape|nil, value|nil) */
static int l_source(lua_State *L) {
  tsb_graph *g = tsb_checkgraph(L, 1);
  static const char *const kinds[] = {"placeholder", "variable", "constant", NULL};
  int kind = luaL_checkoption(L, 2, NULL, kinds);
  const char *base = luaL_optstring(L, 3, kinds[kind]);
  int dtype = tsb_checkdtype(L, 4, -1);
  tsi_tensor info;
  memset(&info, 0, sizeof info);
  tsi_err e;
  tsb_tensor *v = NULL;
  if (kind == 0) {
    info.dtype = dtype < 0 ? TS_FLOAT64 : dtype;
    if (lua_isnoneornil(L, 5)) {
      info.ndim = -1;
      info.numel = -1;
    } else {
      int64_t shape[TSI_MAXDIM];
      int nd = tsb_checkshape(L, 5, shape, "placeholder");
      for (int i = 0; i < nd; i++)
        if (shape[i] < -1) return luaL_error(L, "placeholder: invalid dimension %d", (int)shape[i]);
      if (tsi_set_shape(&info, nd, shape, &e)) return tsb_raise(L, &e);
    }
  } else {
    luaL_checkany(L, 6);
    v = tsb_value_to_tensor(L, 6, dtype, kinds[kind]);
    info = v->t;
    info.data = NULL;
  }
  const char *name = unique_name(L, 1, base);
  g = tsb_checkgraph(L, 1);
  const tsi_opdef *op = kind == 0 ? &tsi_op_placeholder
                        : kind == 1 ? &tsi_op_variable
                                    : &tsi_op_constant;
  int id = tsi_graph_add(g->g, op, name, 0, NULL, NULL, &info, v ? &v->t : NULL, &e);
  if (id < 0) return tsb_raise(L, &e);
  tsb_pushnode(L, 1, id);
  return 1;
}

/* core.custom(graph, type, name|nil, dtype|nil, shape|nil, compute, inputs...) */
static int l_custom(lua_State *L) {
  tsb_graph *g = tsb_checkgraph(L, 1);
  const char *type = luaL_checkstring(L, 2);
  const char *base = luaL_optstring(L, 3, type);
  int dtype = tsb_checkdtype(L, 4, TS_FLOAT64);
  luaL_checktype(L, 6, LUA_TFUNCTION);
  tsi_tensor info;
  memset(&info, 0, sizeof info);
  tsi_err e;
  info.dtype = dtype;
  info.ndim = -1;
  info.numel = -1;
  if (!lua_isnoneornil(L, 5)) {
    int64_t shape[TSI_MAXDIM];
    int nd = tsb_checkshape(L, 5, shape, type);
    if (tsi_set_shape(&info, nd, shape, &e)) return tsb_raise(L, &e);
  }
  int nin = lua_gettop(L) - 6;
  int ids[64];
  if (nin > 64) return luaL_error(L, "%s: more than 64 inputs", type);
  for (int i = 0; i < nin; i++) ids[i] = input_id(L, 1, i + 7, type, i + 1);
  lua_getiuservalue(L, 1, GU_CUSTOM);
  int ref = (int)luaL_len(L, -1) + 1;
  lua_createtable(L, 2, 0); /* {compute, type} */
  lua_pushvalue(L, 6);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, ref);
  lua_pop(L, 1);
  const char *name = unique_name(L, 1, base);
  g = tsb_checkgraph(L, 1);
  int id = tsi_graph_add(g->g, &tsi_op_custom, name, nin, ids, NULL, &info, NULL, &e);
  if (id < 0) return tsb_raise(L, &e);
  g->g->nodes[id]->custom = ref;
  tsb_pushnode(L, 1, id);
  return 1;
}

/* ------------------------------------------------------------ node fields */

static void push_info_shape(lua_State *L, tsi_tensor info) { /* a copy: the table allocates */
  const tsi_tensor *t = &info;
  if (t->ndim < 0) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int node_index(lua_State *L) {
  tsi_node *n = node_at(L, 1);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  if (strcmp(k, "name") == 0) return lua_pushstring(L, n->name), 1;
  if (strcmp(k, "op") == 0) {
    if (n->op != &tsi_op_custom) return lua_pushstring(L, n->op->name), 1;
    lua_getiuservalue(L, 1, 1);
    tsb_pushcustom(L, lua_gettop(L), n->custom);
    lua_rawgeti(L, -1, 2);
    return 1;
  }
  if (strcmp(k, "dtype") == 0) return lua_pushstring(L, tsi_dtype_name(n->info.dtype)), 1;
  if (strcmp(k, "shape") == 0) return push_info_shape(L, n->info), 1;
  if (strcmp(k, "id") == 0) return lua_pushinteger(L, n->id + 1), 1;
  if (strcmp(k, "graph") == 0) return lua_getiuservalue(L, 1, 1), 1;
  if (strcmp(k, "inputs") == 0 || strcmp(k, "consumers") == 0) {
    int is_in = k[0] == 'i';
    lua_getiuservalue(L, 1, 1);
    int gidx = lua_gettop(L);
    lua_createtable(L, is_in ? n->ninputs : n->nconsumers, 0);
    for (int i = 0;; i++) {
      n = node_at(L, 1); /* again: pushing a node may run a finaliser */
      if (i >= (is_in ? n->ninputs : n->nconsumers)) break;
      tsb_pushnode(L, gidx, is_in ? n->inputs[i] : n->consumers[i]);
      lua_rawseti(L, -2, i + 1);
    }
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

static int node_tostring(lua_State *L) {
  tsi_node *n = node_at(L, 1);
  char sb[96];
  lua_pushfstring(L, "Node(%s: %s, shape=%s, dtype=%s)", n->name, n->op->name,
                  tsi_shape_str(&n->info, sb, sizeof sb), tsi_dtype_name(n->info.dtype));
  return 1;
}

/* node:value() for variables and constants: a copy of the current value. */
static int node_value(lua_State *L) {
  tsi_node *n = node_at(L, 1);
  if (!n->value)
    return luaL_error(L, "value: '%s' is a %s; only variables and constants hold a value",
                      n->name, n->op->name);
  tsb_tensor *t = tsb_newtensor(L, n->value->dtype, n->value->ndim, n->value->shape);
  n = node_at(L, 1);
  if (tsi_nbytes(n->value)) memcpy(t->t.data, n->value->data, tsi_nbytes(n->value));
  return 1;
}

static int node_assign(lua_State *L) {
  tsi_node *n = node_at(L, 1);
  if (n->op != &tsi_op_variable)
    return luaL_error(L, "assign: '%s' is a %s, not a variable", n->name, n->op->name);
  luaL_checkany(L, 2);
  tsb_tensor *v = tsb_value_to_tensor(L, 2, n->info.dtype, "assign");
  tsb_node *u = tsb_checknode(L, 1); /* converting may have run a finaliser */
  tsi_err e;
  if (tsi_graph_assign(u->g, u->id, &v->t, &e)) return tsb_raise(L, &e);
  lua_settop(L, 1);
  return 1;
}

/* ------------------------------------------------------------ graph */

static int graph_list(lua_State *L, int which) {
  tsb_checkgraph(L, 1);
  lua_newtable(L);
  int k = 0;
  for (int i = 0; i < tsb_checkgraph(L, 1)->g->n; i++) { /* checked again: pushing allocates */
    const tsi_opdef *op = tsb_checkgraph(L, 1)->g->nodes[i]->op;
    int is = which == 0   ? !(op->flags & TSI_OP_SOURCE)
             : which == 1 ? op == &tsi_op_placeholder
             : which == 2 ? op == &tsi_op_variable
                          : 1;
    if (!is) continue;
    tsb_pushnode(L, 1, i);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static int graph_operations(lua_State *L) { return graph_list(L, 0); }
static int graph_placeholders(lua_State *L) { return graph_list(L, 1); }
static int graph_variables(lua_State *L) { return graph_list(L, 2); }
static int graph_nodes(lua_State *L) { return graph_list(L, 3); }

static int graph_get(lua_State *L) {
  tsb_graph *g = tsb_checkgraph(L, 1);
  const char *name = luaL_checkstring(L, 2);
  for (int i = 0; i < g->g->n; i++)
    if (strcmp(g->g->nodes[i]->name, name) == 0) {
      tsb_pushnode(L, 1, i);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

static int graph_size(lua_State *L) {
  lua_pushinteger(L, tsb_checkgraph(L, 1)->g->n);
  return 1;
}

static int graph_tostring(lua_State *L) {
  tsb_graph *g = tsb_checkgraph(L, 1);
  lua_pushfstring(L, "Graph(%d nodes)", g->g->n);
  return 1;
}

static const luaL_Reg graph_methods[] = {
    {"operations", graph_operations}, {"placeholders", graph_placeholders},
    {"variables", graph_variables},   {"nodes", graph_nodes},
    {"get", graph_get},               {"size", graph_size},
    {NULL, NULL}};

static const luaL_Reg graph_meta[] = {
    {"__gc", graph_gc}, {"__tostring", graph_tostring}, {"__len", graph_size}, {NULL, NULL}};

static const luaL_Reg node_methods[] = {{"value", node_value}, {"assign", node_assign}, {NULL, NULL}};

static const luaL_Reg node_meta[] = {
    {"__tostring", node_tostring}, {NULL, NULL}};

static const luaL_Reg graph_funcs[] = {
    {"Graph", l_graph}, {"node", l_node}, {"source", l_source}, {"custom", l_custom}, {NULL, NULL}};

void tsb_open_graph(lua_State *L) {
  luaL_setfuncs(L, graph_funcs, 0);
  tsb_newmetatable(L, TSB_GRAPH, graph_methods, graph_meta, NULL);
  tsb_newmetatable(L, TSB_NODE, node_methods, node_meta, node_index);
}
