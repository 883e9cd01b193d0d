/* The op registry, the source ops and the helpers every op family uses. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

extern const tsi_opdef tsi_ops_conv[]; /* ops_conv.c */
extern const tsi_opdef tsi_ops_norm[]; /* ops_norm.c */
extern const tsi_opdef tsi_ops_random[]; /* ops_random.c */
extern const tsi_opdef tsi_ops_index[]; /* ops_index.c */

const tsi_opdef *const tsi_op_families[] = {
    tsi_ops_source,
    tsi_ops_arith,
    tsi_ops_linalg,
    tsi_ops_reduce,
    tsi_ops_shape,
    tsi_ops_nn,
    tsi_ops_grad,
    tsi_ops_optim,
    tsi_ops_conv,
    tsi_ops_norm,
    tsi_ops_random,
    tsi_ops_index,
    NULL,
};

const tsi_opdef *tsi_op_find(const char *name) {
  for (const tsi_opdef *const *f = tsi_op_families; *f; f++)
    for (const tsi_opdef *d = *f; d->name; d++)
      if (strcmp(d->name, name) == 0) return d;
  return NULL;
}

const char *tsi_opname(const tsi_node *n, char *buf, size_t len) {
  if (n->name && strcmp(n->name, n->op->name) != 0)
    snprintf(buf, len, "%s '%s'", n->op->name, n->name);
  else
    snprintf(buf, len, "%s", n->op->name);
  return buf;
}

int tsi_check_dtype(const tsi_node *n, int dtype, unsigned mask, tsi_err *e) {
  char nb[128];
  if (dtype >= 0 && dtype < TS_NDTYPES && (mask & (1u << dtype))) return TSI_OK;
  if ((mask & TSI_FLOATS) == mask && !tsi_is_float(dtype))
    return tsi_fail(e, TSI_EARG, "%s does not support dtype %s (use cast to float32 or float64)",
                    tsi_opname(n, nb, sizeof nb), tsi_dtype_name(dtype));
  return tsi_fail(e, TSI_EARG, "%s does not support dtype %s", tsi_opname(n, nb, sizeof nb),
                  tsi_dtype_name(dtype));
}

tsi_kfn tsi_kernel(const tsi_node *n, const tsi_kernels *tab, int dtype, tsi_err *e) {
  unsigned mask = 0;
  if (dtype >= 0 && dtype < TS_NDTYPES && tab->k[dtype]) return tab->k[dtype];
  for (int d = 0; d < TS_NDTYPES; d++)
    if (tab->k[d]) mask |= 1u << d;
  tsi_check_dtype(n, dtype, mask, e);
  return NULL;
}

int tsi_same_dtype(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_err *e) {
  char nb[128];
  for (int i = 1; i < nin; i++)
    if (ins[i].dtype != ins[0].dtype)
      return tsi_fail(e, TSI_EARG, "%s: dtypes %s and %s do not match (use cast)",
                      tsi_opname(n, nb, sizeof nb), tsi_dtype_name(ins[0].dtype),
                      tsi_dtype_name(ins[i].dtype));
  return TSI_OK;
}

int tsi_norm_axis(const tsi_node *n, int64_t axis, int ndim, int64_t *out, tsi_err *e) {
  char nb[128];
  char ab[24];
  if (axis < -ndim || axis >= ndim)
    return tsi_fail(e, TSI_EARG, "%s: axis %s is out of range for rank %d",
                    tsi_opname(n, nb, sizeof nb), tsi_lua_pos(axis, ab, sizeof ab), ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return TSI_OK;
}

int tsi_broadcast_infer(const tsi_node *n, const tsi_tensor *a, const tsi_tensor *b,
                        tsi_tensor *out, tsi_err *e) {
  out->dtype = a->dtype;
  if (a->ndim < 0 || b->ndim < 0) return tsi_unknown_rank(out, out->dtype);
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  int64_t shape[TSI_MAXDIM];
  for (int i = 0; i < nd; i++) {
    int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    int64_t d;
    if (da == db) d = da;
    else if (da == 1) d = db;
    else if (db == 1) d = da;
    else if (da < 0) d = db;       /* unknown: must turn out equal or 1 */
    else if (db < 0) d = da;
    else {
      char nb[128], sa[96], sb[96];
      return tsi_fail(e, TSI_EARG, "%s: shapes %s and %s cannot be broadcast together",
                      tsi_opname(n, nb, sizeof nb), tsi_shape_str(a, sa, sizeof sa),
                      tsi_shape_str(b, sb, sizeof sb));
    }
    shape[i] = d;
  }
  return tsi_out_shape(n, out, nd, shape, e);
}

void tsi_bcast_make(const tsi_tensor *a, const tsi_tensor *b, const tsi_tensor *out,
                    tsi_bcast *p) {
  int nd = out->ndim;
  int64_t sa[TSI_MAXDIM], sb[TSI_MAXDIM];
  int64_t ra = 1, rb = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    sa[i] = (da == 1) ? 0 : ra;
    sb[i] = (db == 1) ? 0 : rb;
    ra *= da;
    rb *= db;
  }
  /* Merge dim i into i+1 when both operands step through them the same way. */
  p->ndim = 0;
  for (int i = 0; i < nd; i++) {
    if (out->shape[i] == 1) continue;
    int k = p->ndim;
    if (k > 0 && ((sa[i] == 0) == (p->sa[k - 1] == 0)) &&
        ((sb[i] == 0) == (p->sb[k - 1] == 0))) {
      p->shape[k - 1] *= out->shape[i];
      p->sa[k - 1] = sa[i] ? 1 : 0;
      p->sb[k - 1] = sb[i] ? 1 : 0;
      /* strides of the merged outer dim are recomputed below */
      continue;
    }
    p->shape[k] = out->shape[i];
    p->sa[k] = sa[i];
    p->sb[k] = sb[i];
    p->ndim++;
  }
  /* Recompute element strides for the merged dims (contiguous operands). */
  int64_t ca = 1, cb = 1;
  for (int k = p->ndim - 1; k >= 0; k--) {
    int bra = p->sa[k] == 0, brb = p->sb[k] == 0;
    p->sa[k] = bra ? 0 : ca;
    p->sb[k] = brb ? 0 : cb;
    if (!bra) ca *= p->shape[k];
    if (!brb) cb *= p->shape[k];
  }
}

/* ------------------------------------------------------------ sources */

static int infer_given(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
                       tsi_err *e) {
  return TSI_OK; /* the binding passes the info explicitly */
}

const tsi_opdef tsi_op_placeholder = {"placeholder", 0, 0, TSI_OP_SOURCE, infer_given, NULL, NULL};
const tsi_opdef tsi_op_variable = {"variable", 0, 0, TSI_OP_SOURCE, infer_given, NULL, NULL};
const tsi_opdef tsi_op_constant = {"constant", 0, 0, TSI_OP_SOURCE, infer_given, NULL, NULL};

static int run_custom(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
                      tsi_tensor *out, tsi_err *e) {
  tsi_tensor r;
  int st = ctx->custom(ctx->custom_ud, n, ins, nin, &r, e);
  if (st) return st;
  out->dtype = r.dtype;
  if ((st = tsi_set_shape(out, r.ndim, r.shape, e))) return st;
  if ((st = ctx->alloc_out(ctx, out, e))) return st;
  if (tsi_nbytes(&r)) memcpy(out->data, r.data, tsi_nbytes(&r));
  return TSI_OK;
}

const tsi_opdef tsi_op_custom = {"custom", 0, -1, TSI_OP_DYNAMIC, infer_given, run_custom, NULL};

const tsi_opdef tsi_ops_source[] = {{NULL, 0, 0, 0, NULL, NULL, NULL}};

int tsi_out_shape(const tsi_node *n, tsi_tensor *out, int nd, const int64_t *shape, tsi_err *e) {
  if (tsi_set_shape(out, nd, shape, e) == TSI_OK) return TSI_OK;
  char nb[128], msg[sizeof e->msg];
  memcpy(msg, e->msg, sizeof msg);
  return tsi_fail(e, e->status, "%s: %s", tsi_opname(n, nb, sizeof nb), msg);
}

void *tsi_work_begin(tsi_runctx *ctx, size_t n, void **fresh, tsi_err *e) {
  *fresh = NULL;
  if (ctx->work) return ctx->work(ctx, n, e);
  void *b = tsi_malloc(&ctx->alloc, n ? n : 1);
  if (!b) {
    tsi_nomem(e, "scratch memory");
    return NULL;
  }
  *fresh = b;
  return b;
}

void tsi_work_end(tsi_runctx *ctx, void *fresh) {
  if (fresh) tsi_free(&ctx->alloc, fresh);
}
