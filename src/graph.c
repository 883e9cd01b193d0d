/* The graph: nodes recorded by Lua calls, with their inferred dtype/shape. */
#include <string.h>

#include "core.h"

static void *gmalloc(tsi_graph *g, size_t n) { return tsi_alloc_call(&g->alloc, NULL, 0, n); }
static void gfree(tsi_graph *g, void *p, size_t n) {
  if (p) g->alloc.f(g->alloc.ud, p, n, 0);
}

tsi_graph *tsi_graph_new(const tsi_alloc *a) {
  tsi_graph *g = tsi_alloc_call(a, NULL, 0, sizeof *g);
  if (!g) return NULL;
  memset(g, 0, sizeof *g);
  g->alloc = *a;
  return g;
}

static void node_free(tsi_graph *g, tsi_node *n) {
  if (!n) return;
  if (n->name) gfree(g, n->name, strlen(n->name) + 1); /* NULL when its allocation failed */
  gfree(g, n->inputs, sizeof(int) * (size_t)n->ninputs);
  gfree(g, n->consumers, sizeof(int) * (size_t)n->capconsumers);
  gfree(g, n->attrs, sizeof *n->attrs);
  if (n->value) {
    tsi_free(&g->alloc, n->value->data);
    gfree(g, n->value, sizeof *n->value);
  }
  gfree(g, n, sizeof *n);
}

void tsi_graph_free(tsi_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n; i++) node_free(g, g->nodes[i]);
  gfree(g, g->nodes, sizeof(tsi_node *) * (size_t)g->cap);
  gfree(g, g, sizeof *g);
}

static int grow(tsi_graph *g, void **arr, int *cap, int need, size_t elt) {
  if (need <= *cap) return 1;
  int nc = *cap ? *cap : 8;
  while (nc < need) {
    if (nc > (1 << 28)) return 0;
    nc *= 2;
  }
  void *na = tsi_alloc_call(&g->alloc, *arr, elt * (size_t)*cap, elt * (size_t)nc);
  if (!na) return 0;
  *arr = na;
  *cap = nc;
  return 1;
}

static tsi_tensor *copy_value(tsi_graph *g, const tsi_tensor *v, tsi_err *e) {
  tsi_tensor *t = gmalloc(g, sizeof *t);
  if (!t) {
    tsi_nomem(e, "a value");
    return NULL;
  }
  *t = *v;
  if (tsi_tensor_alloc(&g->alloc, t, e)) {
    gfree(g, t, sizeof *t);
    return NULL;
  }
  if (tsi_nbytes(v)) memcpy(t->data, v->data, tsi_nbytes(v));
  return t;
}

int tsi_graph_add(tsi_graph *g, const tsi_opdef *op, const char *name, int nin,
                  const int *inputs, const tsi_attrs *attrs, const tsi_tensor *info,
                  const tsi_tensor *value, tsi_err *e) {
  if (nin < op->nin_min || (op->nin_max >= 0 && nin > op->nin_max)) {
    if (op->nin_min == op->nin_max)
      return tsi_fail(e, TSI_EARG, "%s takes %d input%s, got %d", op->name, op->nin_min,
                      op->nin_min == 1 ? "" : "s", nin), -1;
    return tsi_fail(e, TSI_EARG, "%s takes at least %d inputs, got %d", op->name,
                    op->nin_min, nin), -1;
  }
  for (int i = 0; i < nin; i++)
    if (inputs[i] < 0 || inputs[i] >= g->n)
      return tsi_fail(e, TSI_EARG, "%s: input %d is not a node of this graph", op->name,
                      i + 1), -1;
  /* Shape/dtype inference before anything is allocated. */
  tsi_tensor out;
  memset(&out, 0, sizeof out);
  if (info) {
    out = *info;
    out.data = NULL;
  } else if (op->infer) {
    tsi_tensor ins[16] = {{0}};
    tsi_tensor *insp = ins;
    if (nin > 16) {
      insp = gmalloc(g, sizeof(tsi_tensor) * (size_t)nin);
      if (!insp) return tsi_nomem(e, "a node"), -1;
    }
    for (int i = 0; i < nin; i++) insp[i] = g->nodes[inputs[i]]->info;
    tsi_node tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.op = op;
    tmp.name = (char *)name;
    tmp.attrs = (tsi_attrs *)attrs;
    tmp.ninputs = nin;
    int st = op->infer(&tmp, insp, nin, &out, e);
    if (insp != ins) gfree(g, insp, sizeof(tsi_tensor) * (size_t)nin);
    if (st) return -1;
  }
  out.data = NULL;

  if (!grow(g, (void **)&g->nodes, &g->cap, g->n + 1, sizeof(tsi_node *)))
    return tsi_nomem(e, "a node"), -1;
  tsi_node *n = gmalloc(g, sizeof *n);
  if (!n) return tsi_nomem(e, "a node"), -1;
  memset(n, 0, sizeof *n);
  n->op = op;
  n->info = out;
  n->id = g->n;
  size_t nl = strlen(name) + 1;
  n->name = gmalloc(g, nl);
  if (!n->name) goto nomem;
  memcpy(n->name, name, nl);
  if (nin) {
    n->inputs = gmalloc(g, sizeof(int) * (size_t)nin);
    if (!n->inputs) goto nomem;
    memcpy(n->inputs, inputs, sizeof(int) * (size_t)nin);
    n->ninputs = nin;
  }
  if (attrs) {
    n->attrs = gmalloc(g, sizeof *n->attrs);
    if (!n->attrs) goto nomem;
    *n->attrs = *attrs;
  }
  if (value) {
    n->value = copy_value(g, value, e);
    if (!n->value) {
      node_free(g, n);
      return -1;
    }
  }
  /* Reserve consumer slots first so that linking cannot fail halfway. */
  for (int i = 0; i < nin; i++) {
    tsi_node *in = g->nodes[inputs[i]];
    if (!grow(g, (void **)&in->consumers, &in->capconsumers, in->nconsumers + nin,
              sizeof(int)))
      goto nomem;
  }
  for (int i = 0; i < nin; i++) {
    tsi_node *in = g->nodes[inputs[i]];
    int dup = 0;
    for (int j = 0; j < i; j++) dup |= inputs[j] == inputs[i];
    if (!dup) in->consumers[in->nconsumers++] = n->id;
  }
  g->nodes[g->n++] = n;
  g->version++;
  return n->id;
nomem:
  node_free(g, n);
  return tsi_nomem(e, "a node"), -1;
}

int tsi_graph_assign(tsi_graph *g, int id, const tsi_tensor *v, tsi_err *e) {
  tsi_node *n = g->nodes[id];
  char a[96], b[96];
  if (v->dtype != n->info.dtype)
    return tsi_fail(e, TSI_EARG, "cannot assign a %s value to variable '%s' of dtype %s",
                    tsi_dtype_name(v->dtype), n->name, tsi_dtype_name(n->info.dtype));
  if (!tsi_same_shape(v, n->value))
    return tsi_fail(e, TSI_EARG, "cannot assign a value of shape %s to variable '%s' of shape %s",
                    tsi_shape_str(v, a, sizeof a), n->name,
                    tsi_shape_str(n->value, b, sizeof b));
  if (tsi_nbytes(v)) memmove(n->value->data, v->data, tsi_nbytes(v));
  return TSI_OK;
}
