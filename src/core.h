/* Internal types shared by the core files (tensors, ops, graph, plan, kernels).
 * Nothing here includes lua.h: the core reports failures as a status plus a
 * message in a tsi_err and never longjmps or aborts on user input.
 * Internal names use the prefix tsi_ (public ones, in tensorslow.h, use ts_). */
#ifndef TS_CORE_H
#define TS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "tensorslow.h"

#define TSI_MAXDIM 8

enum {
  TSI_OK = 0,
  TSI_EARG,    /* bad argument: shape, dtype, attribute */
  TSI_EMEM,    /* allocation failed */
  TSI_ERUN     /* error raised while running (custom op, ...) */
};

typedef struct tsi_err {
  int status;
  char msg[480];
} tsi_err;

int tsi_fail(tsi_err *e, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int tsi_nomem(tsi_err *e, const char *what);

/* Allocator with lua_Alloc's contract: nsize == 0 frees. cache: the state's
 * tensor cache (or NULL), emptied when an allocation through f fails, which
 * is then tried once more: the blocks it keeps must not make a graph, a plan
 * or a tensor fail under a host's budget (the cache's own alloc has none). */
typedef struct tsi_alloc {
  ts_Alloc f;
  void *ud;
  struct tsi_cache *cache;
} tsi_alloc;

/* a->f(a->ud, p, osize, nsize), with the retry above when it fails. */
void *tsi_alloc_call(const tsi_alloc *a, void *p, size_t osize, size_t nsize);
/* 64-byte aligned blocks through the allocator; NULL on failure. */
void *tsi_malloc(const tsi_alloc *a, size_t n);
void tsi_free(const tsi_alloc *a, void *p);
/* Freed blocks of TSI_CACHE_MIN bytes and more, kept for the next block of
 * their size class (sizes rounded up to 1/8 of their power of two) so that a
 * fresh result does not fault its pages in again: up to TSI_CACHE_SLOTS
 * blocks and cap bytes, all from alloc (they stay in its counts). A block is
 * in the cache or handed out, never both. Zeroed memory is an empty cache
 * with cap 0 (keeps nothing). */
#define TSI_CACHE_MIN ((size_t)1 << 17)
#define TSI_CACHE_SLOTS 32
typedef struct tsi_cache {
  tsi_alloc alloc;
  size_t bytes, cap;
  int n;
  int bypass; /* give frees instead of keeping: set by an explicit collection,
               * cleared by the next take or a cycle the allocations drive */
  void *blk[TSI_CACHE_SLOTS];
} tsi_cache;
/* A block of at least n bytes (tsi_malloc's alignment), cached or new; a
 * failed allocation empties the cache and tries once more; NULL then. */
void *tsi_cache_take(tsi_cache *c, size_t n);
/* Gives a block of tsi_cache_take (or tsi_malloc from c->alloc) back: kept,
 * or freed when small, the cache is full or c->bypass is set. */
void tsi_cache_give(tsi_cache *c, void *p);
/* Frees every kept block. */
void tsi_cache_flush(tsi_cache *c);
/* Checked n * m in size_t: sets *out and returns 1, or returns 0 on overflow. */
int tsi_mulsize(size_t n, size_t m, size_t *out);

/* A tensor view: dtype, shape and a pointer to contiguous C-order data.
 * Ownership is kept by whoever holds the view (userdata, graph, plan).
 * ndim == -1 means unknown rank; a dimension of -1 is unknown (shapes only). */
typedef struct tsi_tensor {
  int dtype; /* ts_dtype */
  int ndim;
  int64_t numel;
  int64_t shape[TSI_MAXDIM];
  void *data;
} tsi_tensor;

/* X-macros over the dtypes: X(enum, C type, name, ...) where name is the
 * dtype's name, the suffix of its kernels (add_float32); arguments after X
 * are passed on to it. The float dtypes; those and int64; every dtype. */
#define TSI_FLOAT_DTYPES(X, ...) \
  X(TS_FLOAT32, float, float32, __VA_ARGS__) X(TS_FLOAT64, double, float64, __VA_ARGS__)
#define TSI_NUMERIC_DTYPES(X, ...) \
  TSI_FLOAT_DTYPES(X, __VA_ARGS__) X(TS_INT64, int64_t, int64, __VA_ARGS__)
#define TSI_DTYPES(X, ...) TSI_NUMERIC_DTYPES(X, __VA_ARGS__) X(TS_UINT8, uint8_t, uint8, __VA_ARGS__)

size_t tsi_dtype_size(int dtype);
const char *tsi_dtype_name(int dtype);
int tsi_dtype_from_name(const char *s); /* -1 if unknown */
int tsi_is_float(int dtype);

/* Sets ndim/shape and numel (-1 if any dim unknown). Checks rank and overflow. */
int tsi_set_shape(tsi_tensor *t, int ndim, const int64_t *shape, tsi_err *e);
int64_t tsi_numel(int ndim, const int64_t *shape); /* -1 if unknown, -2 overflow */
size_t tsi_nbytes(const tsi_tensor *t);
/* "[2, 3]" or "[?, 3]" or "<unknown>" into buf. */
const char *tsi_shape_str(const tsi_tensor *t, char *buf, size_t n);
int tsi_same_shape(const tsi_tensor *a, const tsi_tensor *b);

/* Element access as double / int64 (for printing, conversions, small loops). */
double tsi_get_f(const tsi_tensor *t, int64_t i);
int64_t tsi_get_i(const tsi_tensor *t, int64_t i);
void tsi_set_f(tsi_tensor *t, int64_t i, double v);
void tsi_set_i(tsi_tensor *t, int64_t i, int64_t v);
/* Converts src into dst (same numel). Integer to integer wraps like a C
 * conversion; float to integer truncates toward zero and saturates at the
 * dtype's range (NaN gives 0: a C cast would be undefined). */
void tsi_convert(tsi_tensor *dst, const tsi_tensor *src);

/* Random generator (xoshiro256**, seeded by splitmix64): bit-identical
 * uniform numbers on every platform. One per lua_State, kept by the binding. */
typedef struct tsi_rng {
  uint64_t s[4];
} tsi_rng;
void tsi_rng_seed(tsi_rng *r, uint64_t seed);
uint64_t tsi_rng_next(tsi_rng *r);
double tsi_rng_uniform(tsi_rng *r); /* [0, 1) with 53 random bits */
double tsi_rng_normal(tsi_rng *r);  /* Marsaglia polar method */

/* ------------------------------------------------------------------ ops */

/* Attributes of a node, interpreted by its op (see each op's comment). */
typedef struct tsi_attrs {
  int has_axes;            /* 0: axis = nil (all axes) */
  int naxes;
  int64_t axes[TSI_MAXDIM]; /* 0-based after normalisation */
  int keepdims;
  int transpose_a, transpose_b;
  int dtype;               /* cast target, output dtype */
  int n1, n2;              /* lengths of v1 / v2 (-1: not given) */
  int64_t v1[TSI_MAXDIM];  /* reshape/tile/perm/begin/pad-before ... */
  int64_t v2[TSI_MAXDIM];  /* size/pad-after ... */
  int64_t i1;              /* depth of one_hot, ... */
  double f[4];             /* alpha, value, rate, optimizer hyper-parameters */
  uint64_t seed;
} tsi_attrs;

typedef struct tsi_node tsi_node;
typedef struct tsi_runctx tsi_runctx;

enum {
  TSI_OP_SOURCE = 1,      /* placeholder, variable, constant: no kernel */
  TSI_OP_STATEFUL = 2,    /* updates a variable: runs after every pure node */
  TSI_OP_NOOUTPUT = 4,    /* yields no value (group, optimizer steps) */
  TSI_OP_ELEMENTWISE = 8, /* same-shape map of its inputs (fusable) */
  TSI_OP_DYNAMIC = 16     /* output shape known only while running: run() sets it
                           * and gets its buffer from ctx->alloc_out */
};

typedef struct tsi_opdef {
  const char *name;
  int nin_min, nin_max;  /* nin_max -1: any number */
  unsigned flags;
  /* Output dtype and shape from the inputs' (possibly partly unknown) ones. */
  int (*infer)(const tsi_node *n, const tsi_tensor *ins, int nin, tsi_tensor *out,
               tsi_err *e);
  /* Compute out (allocated with the inferred concrete shape) from ins. */
  int (*run)(tsi_runctx *ctx, const tsi_node *n, const tsi_tensor *ins, int nin,
             tsi_tensor *out, tsi_err *e);
  const void *impl; /* the family's per-op data, e.g. its kernels per dtype */
  /* Element-wise ops the plan may fuse: computes len contiguous output
   * elements from inputs that are either len contiguous elements or, where
   * scalar[i], one element. All of one dtype. NULL: not fusable. */
  void (*block)(const tsi_node *n, int dtype, int64_t len, const void *const *ins,
                const unsigned char *scalar, void *out);
} tsi_opdef;

/* Looks an op up by name; NULL if there is none. */
const tsi_opdef *tsi_op_find(const char *name);
extern const tsi_opdef tsi_op_placeholder, tsi_op_variable, tsi_op_constant,
    tsi_op_custom;

/* ---------------------------------------------------------------- graph */

struct tsi_node {
  int id;
  const tsi_opdef *op;
  char *name;
  int ninputs;
  int *inputs;
  int nconsumers, capconsumers;
  int *consumers;
  tsi_attrs *attrs;   /* NULL when the op takes none */
  tsi_tensor info;    /* inferred dtype and shape (data NULL) */
  tsi_tensor *value;  /* variables and constants: owned by the graph */
  int custom;         /* custom ops: the binding's reference to its callbacks */
};

typedef struct tsi_graph {
  tsi_alloc alloc;
  int n, cap;
  tsi_node **nodes;
  unsigned version;   /* bumped when a node is added */
} tsi_graph;

tsi_graph *tsi_graph_new(const tsi_alloc *a);
void tsi_graph_free(tsi_graph *g);
/* Adds a node; inputs are node ids. attrs is copied (may be NULL). For
 * sources, value (may be NULL) is copied into graph-owned memory.
 * Infers the output; on error nothing is added. Returns the id or -1. */
int tsi_graph_add(tsi_graph *g, const tsi_opdef *op, const char *name, int nin,
                  const int *inputs, const tsi_attrs *attrs, const tsi_tensor *info,
                  const tsi_tensor *value, tsi_err *e);
/* Replaces a variable's value (shape may change only if the declared shape
 * allows it). */
int tsi_graph_assign(tsi_graph *g, int id, const tsi_tensor *v, tsi_err *e);

/* Allocates a tensor of t's shape/dtype with memory from a; t->data set. */
int tsi_tensor_alloc(const tsi_alloc *a, tsi_tensor *t, tsi_err *e);

#endif
