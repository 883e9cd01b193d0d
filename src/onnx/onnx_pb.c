/* tensorslow.onnx_pb: ONNX protobuf <-> Lua tables, nothing more. The parser
 * is protobuf-c's, from the code protoc-c generates out of Debian's
 * onnx.proto (mk/onnx.mk); what a table holds is described at decode_model.
 * Model files are untrusted: protobuf-c's unpack never reads past the bytes,
 * and every count used here comes from the unpacked message, so it is bounded
 * by them; nesting (subgraphs) is limited to MAX_DEPTH. The unpacked message
 * and the encoder's memory live in userdata boxes (to-be-closed), so an error
 * while tables are built (out of memory included) leaks nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "onnx.pb-c.h"

#define MSG_BOX "tensorslow.onnx_pb.Message"
#define ARENA_BOX "tensorslow.onnx_pb.Arena"
#define MAX_DEPTH 32

/* ------------------------------------------------------------ decoding */

typedef struct msg_box {
  ProtobufCMessage *m;
} msg_box;

static int msg_close(lua_State *L) {
  msg_box *b = luaL_checkudata(L, 1, MSG_BOX);
  if (b->m) protobuf_c_message_free_unpacked(b->m, NULL);
  b->m = NULL;
  return 0;
}

static void set_str(lua_State *L, const char *k, const char *s) {
  if (!s) return;
  lua_pushstring(L, s);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_strings(lua_State *L, size_t n, char **s) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, s[i] ? s[i] : "");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_ints(lua_State *L, size_t n, const int64_t *v) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* Element sizes of the ONNX data types (0: none fixed: string, undefined). */
static int elem_size(int dt) {
  switch (dt) {
  case 1: case 6: case 12: return 4;  /* float, int32, uint32 */
  case 2: case 3: case 9: return 1;   /* uint8, int8, bool */
  case 4: case 5: case 10: case 16: return 2; /* uint16, int16, float16, bfloat16 */
  case 7: case 11: case 13: case 14: return 8; /* int64, double, uint64, complex64 */
  case 15: return 16;                 /* complex128 */
  default: return 0;
  }
}

/* The tensor's values as little-endian bytes from raw_data or the typed
 * field its data type uses (each int32_data/uint64_data entry narrowed to
 * the element size); pushes the string or nil when there is no data. */
static void push_tensor_bytes(lua_State *L, const Onnx__TensorProto *t) {
  int dt = t->has_data_type ? t->data_type : 0, es = elem_size(dt);
  if (t->has_raw_data) {
    lua_pushlstring(L, (const char *)t->raw_data.data, t->raw_data.len);
    return;
  }
  size_t n = 0, from = 0; /* values and the size of one in the typed field */
  const void *src = NULL;
  if (t->n_float_data) n = t->n_float_data, src = t->float_data, from = 4;
  else if (t->n_int32_data) n = t->n_int32_data, src = t->int32_data, from = 4;
  else if (t->n_int64_data) n = t->n_int64_data, src = t->int64_data, from = 8;
  else if (t->n_double_data) n = t->n_double_data, src = t->double_data, from = 8;
  else if (t->n_uint64_data) n = t->n_uint64_data, src = t->uint64_data, from = 8;
  if (!src || es == 0) {
    if (src || dt == 8) lua_pushnil(L);
    else lua_pushliteral(L, "");
    return;
  }
  /* complex numbers are two floats (doubles) per element */
  size_t per = dt == 14 ? 4 : dt == 15 ? 8 : (size_t)es;
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n * per); /* n <= the message's bytes */
  for (size_t i = 0; i < n; i++) {
    uint64_t v = 0;
    memcpy(&v, (const char *)src + i * from, from); /* little-endian host */
    memcpy(p + i * per, &v, per < 8 ? per : 8);
  }
  luaL_pushresultsize(&b, n * per);
}

/* {name=, data_type=, dims=, bytes=, strings=, external=} */
static void push_tensor(lua_State *L, const Onnx__TensorProto *t) {
  luaL_checkstack(L, 8, "ONNX tensor");
  lua_createtable(L, 0, 6);
  set_str(L, "name", t->name);
  set_int(L, "data_type", t->has_data_type ? t->data_type : 0);
  push_ints(L, t->n_dims, t->dims);
  lua_setfield(L, -2, "dims");
  push_tensor_bytes(L, t);
  lua_setfield(L, -2, "bytes");
  if (t->n_string_data) {
    lua_createtable(L, (int)t->n_string_data, 0);
    for (size_t i = 0; i < t->n_string_data; i++) {
      lua_pushlstring(L, (const char *)t->string_data[i].data, t->string_data[i].len);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "strings");
  }
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    lua_createtable(L, 0, (int)t->n_external_data);
    for (size_t i = 0; i < t->n_external_data; i++) {
      const Onnx__StringStringEntryProto *kv = t->external_data[i];
      if (!kv->key) continue;
      lua_pushstring(L, kv->value ? kv->value : "");
      lua_setfield(L, -2, kv->key);
    }
    lua_setfield(L, -2, "external");
  }
}

/* {name=, elem_type=, dims=} (dims: -1 for a symbolic or missing size, its
 * name in dim_params[i]; no dims: unknown rank); kind names a non-tensor type. */
static void push_value_info(lua_State *L, const Onnx__ValueInfoProto *v) {
  lua_createtable(L, 0, 4);
  set_str(L, "name", v->name);
  const Onnx__TypeProto *tp = v->type;
  if (!tp) return;
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    static const char *const kinds[] = {"none", "tensor", "", "", "sequence", "map", "", "",
                                        "sparse_tensor", "optional"};
    int c = (int)tp->value_case;
    lua_pushstring(L, c >= 0 && c <= 9 ? kinds[c] : "unknown");
    lua_setfield(L, -2, "kind");
    return;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  set_int(L, "elem_type", tt->has_elem_type ? tt->elem_type : 0);
  if (!tt->shape) return;
  size_t n = tt->shape->n_dim;
  lua_createtable(L, (int)n, 0);
  lua_createtable(L, 0, 0);
  for (size_t i = 0; i < n; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                d->dim_value >= 0;
    lua_pushinteger(L, known ? d->dim_value : -1);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param) {
      lua_pushstring(L, d->dim_param);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  }
  lua_setfield(L, -3, "dim_params");
  lua_setfield(L, -2, "dims");
}

static void push_graph(lua_State *L, const Onnx__GraphProto *g, int depth);

static void push_attribute(lua_State *L, const Onnx__AttributeProto *a, int depth) {
  luaL_checkstack(L, 8, "ONNX attribute");
  lua_createtable(L, 0, 4);
  set_str(L, "name", a->name);
  set_int(L, "type", a->has_type ? (lua_Integer)a->type : 0);
  if (a->has_f) {
    lua_pushnumber(L, a->f);
    lua_setfield(L, -2, "f");
  }
  if (a->has_i) set_int(L, "i", a->i);
  if (a->has_s) {
    lua_pushlstring(L, (const char *)a->s.data, a->s.len);
    lua_setfield(L, -2, "s");
  }
  if (a->t) {
    push_tensor(L, a->t);
    lua_setfield(L, -2, "t");
  }
  if (a->g) {
    push_graph(L, a->g, depth + 1);
    lua_setfield(L, -2, "g");
  }
  if (a->n_floats || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS) {
    lua_createtable(L, (int)a->n_floats, 0);
    for (size_t i = 0; i < a->n_floats; i++) {
      lua_pushnumber(L, a->floats[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "floats");
  }
  if (a->n_ints || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
    push_ints(L, a->n_ints, a->ints);
    lua_setfield(L, -2, "ints");
  }
  if (a->n_strings || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS) {
    lua_createtable(L, (int)a->n_strings, 0);
    for (size_t i = 0; i < a->n_strings; i++) {
      lua_pushlstring(L, (const char *)a->strings[i].data, a->strings[i].len);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "strings");
  }
  if (a->n_tensors) {
    lua_createtable(L, (int)a->n_tensors, 0);
    for (size_t i = 0; i < a->n_tensors; i++) {
      push_tensor(L, a->tensors[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "tensors");
  }
  if (a->n_graphs) {
    lua_createtable(L, (int)a->n_graphs, 0);
    for (size_t i = 0; i < a->n_graphs; i++) {
      push_graph(L, a->graphs[i], depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "graphs");
  }
}

static void push_node(lua_State *L, const Onnx__NodeProto *n, int depth) {
  luaL_checkstack(L, 8, "ONNX node");
  lua_createtable(L, 0, 6);
  set_str(L, "name", n->name);
  set_str(L, "op_type", n->op_type);
  set_str(L, "domain", n->domain);
  push_strings(L, n->n_input, n->input);
  lua_setfield(L, -2, "input");
  push_strings(L, n->n_output, n->output);
  lua_setfield(L, -2, "output");
  lua_createtable(L, (int)n->n_attribute, 0);
  for (size_t i = 0; i < n->n_attribute; i++) {
    push_attribute(L, n->attribute[i], depth);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "attribute");
}

#define PUSH_LIST(L, n, items, push, ...)                \
  do {                                                   \
    lua_createtable(L, (int)(n), 0);                     \
    for (size_t i_ = 0; i_ < (n); i_++) {                \
      push(L, (items)[i_] __VA_ARGS__);                  \
      lua_rawseti(L, -2, (lua_Integer)i_ + 1);           \
    }                                                    \
  } while (0)

static void push_graph(lua_State *L, const Onnx__GraphProto *g, int depth) {
  if (depth > MAX_DEPTH) luaL_error(L, "subgraphs nested deeper than %d", MAX_DEPTH);
  luaL_checkstack(L, 8, "ONNX graph");
  lua_createtable(L, 0, 6);
  set_str(L, "name", g->name);
  PUSH_LIST(L, g->n_node, g->node, push_node, , depth);
  lua_setfield(L, -2, "node");
  PUSH_LIST(L, g->n_initializer, g->initializer, push_tensor);
  lua_setfield(L, -2, "initializer");
  PUSH_LIST(L, g->n_input, g->input, push_value_info);
  lua_setfield(L, -2, "input");
  PUSH_LIST(L, g->n_output, g->output, push_value_info);
  lua_setfield(L, -2, "output");
  PUSH_LIST(L, g->n_value_info, g->value_info, push_value_info);
  lua_setfield(L, -2, "value_info");
  if (g->n_sparse_initializer) set_int(L, "sparse_initializers", (lua_Integer)g->n_sparse_initializer);
}

/* protobuf-c's unpack recurses once per nested message, without a limit: a
 * file of nested subgraphs (a few bytes a level) would exhaust the C stack.
 * This walks the wire format first, iteratively, following only the fields
 * the descriptors say are messages, and refuses nesting deeper than
 * MAX_WIRE_DEPTH; anything malformed is left for unpack to refuse. */
#define MAX_WIRE_DEPTH 100

static int read_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *at < n; shift += 7) {
    uint8_t b = p[(*at)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 1;
  }
  return 0;
}

static int too_deep(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n) {
  struct {
    const ProtobufCMessageDescriptor *d;
    size_t end;
  } st[MAX_WIRE_DEPTH + 1];
  int depth = 0;
  size_t at = 0;
  st[0].d = d;
  st[0].end = n;
  for (;;) {
    while (depth > 0 && at >= st[depth].end) depth--;
    if (at >= st[depth].end) return 0;
    uint64_t key, v;
    if (!read_varint(p, st[depth].end, &at, &key)) return 0;
    switch (key & 7) {
    case 0:
      if (!read_varint(p, st[depth].end, &at, &v)) return 0;
      break;
    case 1: at += 8; break;
    case 5: at += 4; break;
    case 2: {
      if (!read_varint(p, st[depth].end, &at, &v) || v > st[depth].end - at) return 0;
      const ProtobufCFieldDescriptor *f =
          key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(st[depth].d, (unsigned)(key >> 3))
                                 : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
        if (depth == MAX_WIRE_DEPTH) return 1;
        depth++;
        st[depth].d = f->descriptor;
        st[depth].end = at + (size_t)v;
      } else {
        at += (size_t)v;
      }
      break;
    }
    default: return 0;
    }
  }
}

static ProtobufCMessage *unpack(lua_State *L, const ProtobufCMessageDescriptor *d,
                                const char *what) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (too_deep(d, (const uint8_t *)s, len))
    luaL_error(L, "not a valid ONNX %s: messages nested deeper than %d", what, MAX_WIRE_DEPTH);
  msg_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->m = NULL;
  luaL_setmetatable(L, MSG_BOX);
  lua_toclose(L, -1);
  b->m = protobuf_c_message_unpack(d, NULL, len, (const uint8_t *)s);
  if (!b->m)
    luaL_error(L, "not a valid ONNX %s (protobuf parse failed on %d bytes: truncated or corrupt)",
               what, (int)len);
  return b->m;
}

/* decode(bytes) -> {ir_version=, opset_import={{domain=, version=}...},
 * producer_name=, producer_version=, graph=<graph>}; graph = {name=,
 * node={{name=, op_type=, domain=, input={...}, output={...}, attribute={{name=,
 * type=<enum int>, f=, i=, s=, t=, g=, floats=, ints=, strings=}...}}...},
 * initializer={<tensor>...}, input/output/value_info={{name=, elem_type=,
 * dims=}...}}; tensor = {name=, data_type=<enum int>, dims=, bytes=, external=}. */
static int l_decode(lua_State *L) {
  const Onnx__ModelProto *m =
      (const Onnx__ModelProto *)unpack(L, &onnx__model_proto__descriptor, "model");
  lua_createtable(L, 0, 6);
  if (m->has_ir_version) set_int(L, "ir_version", m->ir_version);
  lua_createtable(L, (int)m->n_opset_import, 0);
  for (size_t i = 0; i < m->n_opset_import; i++) {
    lua_createtable(L, 0, 2);
    set_str(L, "domain", m->opset_import[i]->domain);
    if (m->opset_import[i]->has_version) set_int(L, "version", m->opset_import[i]->version);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "opset_import");
  set_str(L, "producer_name", m->producer_name);
  set_str(L, "producer_version", m->producer_version);
  set_str(L, "domain", m->domain);
  if (m->has_model_version) set_int(L, "model_version", m->model_version);
  set_str(L, "doc_string", m->doc_string);
  if (m->graph) {
    push_graph(L, m->graph, 0);
    lua_setfield(L, -2, "graph");
  }
  if (m->n_functions) set_int(L, "functions", (lua_Integer)m->n_functions);
  lua_pushvalue(L, -1);
  lua_replace(L, 1);
  lua_settop(L, 2); /* closes the box */
  lua_settop(L, 1);
  return 1;
}

/* decode_tensor(bytes) -> <tensor>, a bare TensorProto (test data .pb files) */
static int l_decode_tensor(lua_State *L) {
  const Onnx__TensorProto *t =
      (const Onnx__TensorProto *)unpack(L, &onnx__tensor_proto__descriptor, "tensor");
  push_tensor(L, t);
  lua_replace(L, 1);
  lua_settop(L, 2);
  lua_settop(L, 1);
  return 1;
}

/* ------------------------------------------------------------ encoding */

/* Every block the encoder allocates, freed together by the box's __gc. */
typedef struct arena_block {
  struct arena_block *next;
  max_align_t data[];
} arena_block;

typedef struct arena {
  arena_block *head;
} arena;

static int arena_close(lua_State *L) {
  arena *a = luaL_checkudata(L, 1, ARENA_BOX);
  while (a->head) {
    arena_block *b = a->head;
    a->head = b->next;
    free(b);
  }
  return 0;
}

typedef struct enc {
  lua_State *L;
  arena *a;
  int depth;
} enc;

static void *enc_alloc(enc *E, size_t n, size_t size) {
  if (n && size > (SIZE_MAX - sizeof(arena_block)) / n)
    luaL_error(E->L, "encode: %d items are too many", (int)n);
  arena_block *b = calloc(1, sizeof *b + (n * size > 0 ? n * size : 1));
  if (!b) luaL_error(E->L, "encode: out of memory");
  b->next = E->a->head;
  E->a->head = b;
  return b->data;
}

/* t[k] of the table at idx (raw), pushed; its type returned. */
static int field(lua_State *L, int idx, const char *k) {
  lua_pushstring(L, k);
  return lua_rawget(L, idx < 0 ? idx - 1 : idx);
}

static char *enc_string(enc *E, int idx, const char *k, int required) {
  lua_State *L = E->L;
  int t = field(L, idx, k);
  if (t == LUA_TNIL && !required) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TSTRING) luaL_error(L, "encode: field '%s' must be a string, got %s", k, lua_typename(L, t));
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  char *r = enc_alloc(E, n + 1, 1);
  memcpy(r, s, n);
  lua_pop(L, 1);
  return r;
}

static int enc_int(enc *E, int idx, const char *k, int64_t *v) {
  lua_State *L = E->L;
  int t = field(L, idx, k);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  int ok;
  lua_Integer i = lua_tointegerx(L, -1, &ok);
  if (!ok) luaL_error(L, "encode: field '%s' must be an integer", k);
  *v = i;
  lua_pop(L, 1);
  return 1;
}

/* The array field k at idx pushed (nil when absent: count 0); returns its length. */
static size_t enc_array(enc *E, int idx, const char *k) {
  lua_State *L = E->L;
  int t = field(L, idx, k);
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TTABLE) luaL_error(L, "encode: field '%s' must be a table, got %s", k, lua_typename(L, t));
  return (size_t)lua_rawlen(L, -1);
}

static char **enc_strings(enc *E, int idx, const char *k, size_t *n) {
  lua_State *L = E->L;
  *n = enc_array(E, idx, k);
  char **r = enc_alloc(E, *n, sizeof *r);
  for (size_t i = 0; i < *n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s || lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "encode: '%s'[%d] must be a string", k, (int)i + 1);
    r[i] = enc_alloc(E, len + 1, 1);
    memcpy(r[i], s, len);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return r;
}

static int64_t *enc_ints(enc *E, int idx, const char *k, size_t *n) {
  lua_State *L = E->L;
  *n = enc_array(E, idx, k);
  int64_t *r = enc_alloc(E, *n, sizeof *r);
  for (size_t i = 0; i < *n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    int ok;
    r[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "encode: '%s'[%d] must be an integer", k, (int)i + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return r;
}

static Onnx__TensorProto *enc_tensor(enc *E, int idx) {
  lua_State *L = E->L;
  luaL_checkstack(L, 8, "encode");
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "encode: a tensor must be a table");
  Onnx__TensorProto *t = enc_alloc(E, 1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = enc_string(E, idx, "name", 0);
  int64_t dt = 0;
  if (enc_int(E, idx, "data_type", &dt)) {
    t->has_data_type = 1;
    t->data_type = (int32_t)dt;
  }
  t->dims = enc_ints(E, idx, "dims", &t->n_dims);
  if (field(L, idx, "bytes") == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    t->has_raw_data = 1;
    t->raw_data.len = n;
    t->raw_data.data = enc_alloc(E, n, 1);
    memcpy(t->raw_data.data, s, n);
  }
  lua_pop(L, 1);
  size_t ns = enc_array(E, idx, "strings");
  if (ns) {
    t->n_string_data = ns;
    t->string_data = enc_alloc(E, ns, sizeof *t->string_data);
    for (size_t i = 0; i < ns; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      if (!s) luaL_error(L, "encode: strings[%d] must be a string", (int)i + 1);
      t->string_data[i].len = n;
      t->string_data[i].data = enc_alloc(E, n, 1);
      memcpy(t->string_data[i].data, s, n);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (field(L, idx, "external") == LUA_TTABLE) {
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      n++;
      lua_pop(L, 1);
    }
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = n;
    t->external_data = enc_alloc(E, n, sizeof *t->external_data);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (i >= n || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "encode: external must map strings to strings");
      Onnx__StringStringEntryProto *kv = enc_alloc(E, 1, sizeof *kv);
      onnx__string_string_entry_proto__init(kv);
      size_t kn, vn;
      const char *ks = lua_tolstring(L, -2, &kn), *vs = lua_tolstring(L, -1, &vn);
      kv->key = enc_alloc(E, kn + 1, 1);
      memcpy(kv->key, ks, kn);
      kv->value = enc_alloc(E, vn + 1, 1);
      memcpy(kv->value, vs, vn);
      t->external_data[i++] = kv;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return t;
}

static Onnx__ValueInfoProto *enc_value_info(enc *E, int idx) {
  lua_State *L = E->L;
  luaL_checkstack(L, 8, "encode");
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "encode: a value info must be a table");
  Onnx__ValueInfoProto *v = enc_alloc(E, 1, sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = enc_string(E, idx, "name", 1);
  int64_t et = 0;
  if (!enc_int(E, idx, "elem_type", &et)) return v;
  Onnx__TypeProto *tp = enc_alloc(E, 1, sizeof *tp);
  onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = enc_alloc(E, 1, sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)et;
  v->type = tp;
  if (field(L, idx, "dims") == LUA_TNIL) {
    lua_pop(L, 1);
    return v;
  }
  lua_pop(L, 1);
  size_t n;
  int64_t *dims = enc_ints(E, idx, "dims", &n);
  Onnx__TensorShapeProto *sh = enc_alloc(E, 1, sizeof *sh);
  onnx__tensor_shape_proto__init(sh);
  sh->n_dim = n;
  sh->dim = enc_alloc(E, n, sizeof *sh->dim);
  int params = field(L, idx, "dim_params") == LUA_TTABLE;
  for (size_t i = 0; i < n; i++) {
    Onnx__TensorShapeProto__Dimension *d = enc_alloc(E, 1, sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    const char *p = NULL;
    size_t pn = 0;
    if (params && lua_rawgeti(L, -1, (lua_Integer)i + 1) == LUA_TSTRING) p = lua_tolstring(L, -1, &pn);
    if (params) lua_pop(L, 1); /* p stays valid: the dim_params table holds the string */
    if (p) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = enc_alloc(E, pn + 1, 1);
      memcpy(d->dim_param, p, pn);
    } else if (dims[i] >= 0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = dims[i];
    }
    sh->dim[i] = d;
  }
  lua_pop(L, 1);
  tt->shape = sh;
  return v;
}

static Onnx__GraphProto *enc_graph(enc *E, int idx);

static Onnx__AttributeProto *enc_attribute(enc *E, int idx) {
  lua_State *L = E->L;
  luaL_checkstack(L, 8, "encode");
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "encode: an attribute must be a table");
  Onnx__AttributeProto *a = enc_alloc(E, 1, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = enc_string(E, idx, "name", 1);
  int64_t v;
  if (enc_int(E, idx, "type", &v)) {
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)v;
  }
  if (field(L, idx, "f") != LUA_TNIL) {
    a->has_f = 1;
    a->f = (float)luaL_checknumber(L, -1);
  }
  lua_pop(L, 1);
  if (enc_int(E, idx, "i", &v)) a->has_i = 1, a->i = v;
  if (field(L, idx, "s") == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    a->has_s = 1;
    a->s.len = n;
    a->s.data = enc_alloc(E, n, 1);
    memcpy(a->s.data, s, n);
  }
  lua_pop(L, 1);
  if (field(L, idx, "t") == LUA_TTABLE) a->t = enc_tensor(E, lua_gettop(L));
  lua_pop(L, 1);
  if (field(L, idx, "g") == LUA_TTABLE) a->g = enc_graph(E, lua_gettop(L));
  lua_pop(L, 1);
  a->n_floats = enc_array(E, idx, "floats");
  a->floats = enc_alloc(E, a->n_floats, sizeof *a->floats);
  for (size_t i = 0; i < a->n_floats; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    a->floats[i] = (float)luaL_checknumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  a->ints = enc_ints(E, idx, "ints", &a->n_ints);
  a->strings = NULL;
  size_t ns = enc_array(E, idx, "strings");
  a->n_strings = ns;
  a->strings = enc_alloc(E, ns, sizeof *a->strings);
  for (size_t i = 0; i < ns; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s) luaL_error(L, "encode: strings[%d] must be a string", (int)i + 1);
    a->strings[i].len = n;
    a->strings[i].data = enc_alloc(E, n, 1);
    memcpy(a->strings[i].data, s, n);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return a;
}

static Onnx__NodeProto *enc_node(enc *E, int idx) {
  lua_State *L = E->L;
  luaL_checkstack(L, 8, "encode");
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "encode: a node must be a table");
  Onnx__NodeProto *n = enc_alloc(E, 1, sizeof *n);
  onnx__node_proto__init(n);
  n->name = enc_string(E, idx, "name", 0);
  n->op_type = enc_string(E, idx, "op_type", 1);
  n->domain = enc_string(E, idx, "domain", 0);
  n->input = enc_strings(E, idx, "input", &n->n_input);
  n->output = enc_strings(E, idx, "output", &n->n_output);
  n->n_attribute = enc_array(E, idx, "attribute");
  n->attribute = enc_alloc(E, n->n_attribute, sizeof *n->attribute);
  for (size_t i = 0; i < n->n_attribute; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    n->attribute[i] = enc_attribute(E, lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

#define ENC_LIST(E, idx, k, nfield, field_, fn)                    \
  do {                                                             \
    (nfield) = enc_array(E, idx, k);                               \
    (field_) = enc_alloc(E, (nfield), sizeof *(field_));           \
    for (size_t i_ = 0; i_ < (nfield); i_++) {                     \
      lua_rawgeti((E)->L, -1, (lua_Integer)i_ + 1);                \
      (field_)[i_] = fn(E, lua_gettop((E)->L));                    \
      lua_pop((E)->L, 1);                                          \
    }                                                              \
    lua_pop((E)->L, 1);                                            \
  } while (0)

static Onnx__GraphProto *enc_graph(enc *E, int idx) {
  if (++E->depth > MAX_DEPTH) luaL_error(E->L, "encode: subgraphs nested deeper than %d", MAX_DEPTH);
  Onnx__GraphProto *g = enc_alloc(E, 1, sizeof *g);
  onnx__graph_proto__init(g);
  g->name = enc_string(E, idx, "name", 0);
  ENC_LIST(E, idx, "node", g->n_node, g->node, enc_node);
  ENC_LIST(E, idx, "initializer", g->n_initializer, g->initializer, enc_tensor);
  ENC_LIST(E, idx, "input", g->n_input, g->input, enc_value_info);
  ENC_LIST(E, idx, "output", g->n_output, g->output, enc_value_info);
  ENC_LIST(E, idx, "value_info", g->n_value_info, g->value_info, enc_value_info);
  E->depth--;
  return g;
}

static Onnx__OperatorSetIdProto *enc_opset(enc *E, int idx) {
  Onnx__OperatorSetIdProto *o = enc_alloc(E, 1, sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = enc_string(E, idx, "domain", 0);
  int64_t v;
  if (enc_int(E, idx, "version", &v)) o->has_version = 1, o->version = v;
  return o;
}

static arena *new_arena(lua_State *L) {
  arena *a = lua_newuserdatauv(L, sizeof *a, 0);
  a->head = NULL;
  luaL_setmetatable(L, ARENA_BOX);
  lua_toclose(L, -1);
  return a;
}

static int pack(lua_State *L, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  luaL_Buffer b;
  uint8_t *p = (uint8_t *)luaL_buffinitsize(L, &b, n);
  protobuf_c_message_pack(m, p);
  luaL_pushresultsize(&b, n);
  return 1;
}

/* encode(model table) -> bytes: decode's inverse (the same table shape). */
static int l_encode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  enc E = {L, new_arena(L), 0};
  Onnx__ModelProto *m = enc_alloc(&E, 1, sizeof *m);
  onnx__model_proto__init(m);
  int64_t v;
  if (enc_int(&E, 1, "ir_version", &v)) m->has_ir_version = 1, m->ir_version = v;
  ENC_LIST(&E, 1, "opset_import", m->n_opset_import, m->opset_import, enc_opset);
  m->producer_name = enc_string(&E, 1, "producer_name", 0);
  m->producer_version = enc_string(&E, 1, "producer_version", 0);
  m->domain = enc_string(&E, 1, "domain", 0);
  if (enc_int(&E, 1, "model_version", &v)) m->has_model_version = 1, m->model_version = v;
  m->doc_string = enc_string(&E, 1, "doc_string", 0);
  if (field(L, 1, "graph") == LUA_TTABLE) m->graph = enc_graph(&E, lua_gettop(L));
  lua_pop(L, 1);
  return pack(L, &m->base);
}

/* encode_tensor(tensor table) -> bytes of a bare TensorProto */
static int l_encode_tensor(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  enc E = {L, new_arena(L), 0};
  Onnx__TensorProto *t = enc_tensor(&E, 1);
  return pack(L, &t->base);
}

static const luaL_Reg funcs[] = {{"decode", l_decode},
                                 {"decode_tensor", l_decode_tensor},
                                 {"encode", l_encode},
                                 {"encode_tensor", l_encode_tensor},
                                 {NULL, NULL}};

static void box_meta(lua_State *L, const char *name, lua_CFunction close) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
}

__attribute__((visibility("default"))) int luaopen_tensorslow_onnx_pb(lua_State *L) {
  box_meta(L, MSG_BOX, msg_close);
  box_meta(L, ARENA_BOX, arena_close);
  luaL_newlib(L, funcs);
  return 1;
}
