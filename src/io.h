/* File formats: IDX (MNIST), NumPy .npy, safetensors. Core part: no lua.h.
 *
 * Every file is untrusted: sizes and offsets are checked against the file's
 * length and against overflow before anything is allocated, and every
 * failure is a status plus a message naming the file. Loading is two-phase so
 * the binding can allocate the result (which may raise) between them:
 *
 *   tsi_reader r;  tsi_npy_info d;           // r lives in a Lua userdata box
 *   tsi_reader_init(&r);
 *   if (tsi_npy_open(&r, path, &d, &e)) ...  // header: dtype and shape
 *   out = <allocate d.out's dtype/shape>     // may raise: the box closes r
 *   if (tsi_npy_read(&r, &d, &out, &e)) ...
 *   tsi_reader_close(&r);                    // safe twice
 *
 * Writers are atomic: data goes to a temporary file in the target's
 * directory, which tsi_writer_commit syncs and renames over the target and
 * tsi_writer_abort removes. The temporary is nameless (O_TMPFILE) until the
 * commit links it as ".<name>.tmp-tensorslow" just before the rename, or is
 * created under that name where O_TMPFILE is missing; the name is fixed per
 * target, so a save killed before its rename leaves at most that file and the
 * next save to the target removes it. Only a missing target or a regular file
 * is replaced: a symbolic link, directory, device or FIFO is refused. */
#ifndef TS_IO_H
#define TS_IO_H

#include <stdint.h>
#include <stdio.h>

#include "core.h"

#define TSI_PATHMAX 4096

typedef struct tsi_reader {
  FILE *f;              /* plain reads (npy, safetensors) */
  void *gz;             /* gzFile (IDX: gzip or plain) */
  int64_t size;         /* bytes on disk */
  char path[TSI_PATHMAX];
} tsi_reader;

void tsi_reader_init(tsi_reader *r);
void tsi_reader_close(tsi_reader *r);

/* ------------------------------------------------------------------ IDX */

typedef struct tsi_idx_info {
  tsi_tensor out; /* dtype and shape of the result (data NULL) */
  int code;       /* the file's element type: 0x08 ... 0x0E */
  int64_t hdr;    /* bytes before the data */
} tsi_idx_info;

int tsi_idx_open(tsi_reader *r, const char *path, tsi_idx_info *d, tsi_err *e);
int tsi_idx_read(tsi_reader *r, const tsi_idx_info *d, tsi_tensor *out, tsi_err *e);

/* ------------------------------------------------------------------ npy */

typedef struct tsi_npy_info {
  tsi_tensor out;  /* dtype and shape of the result */
  char kind;       /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
  int esize;       /* bytes per element in the file */
  int bigendian;
  int fortran;
  int64_t hdr;     /* offset of the data */
} tsi_npy_info;

int tsi_npy_open(tsi_reader *r, const char *path, tsi_npy_info *d, tsi_err *e);
int tsi_npy_read(tsi_reader *r, const tsi_npy_info *d, tsi_tensor *out, tsi_err *e);

/* --------------------------------------------------------------- writing */

typedef struct tsi_writer {
  FILE *f;
  int done;                  /* committed or aborted */
  int named;                 /* tmp exists (else an O_TMPFILE not linked yet) */
  char path[TSI_PATHMAX];
  char tmp[TSI_PATHMAX];
} tsi_writer;

void tsi_writer_init(tsi_writer *w);
/* Checks the target (missing or a regular file) and creates the temporary. */
int tsi_writer_open(tsi_writer *w, const char *path, tsi_err *e);
int tsi_writer_write(tsi_writer *w, const void *p, size_t n, tsi_err *e);
/* fflush + fsync + rename over the target; on failure the temp is removed. */
int tsi_writer_commit(tsi_writer *w, tsi_err *e);
/* Closes and removes the temporary file; safe twice and after commit. */
void tsi_writer_abort(tsi_writer *w);

int tsi_npy_write(tsi_writer *w, const tsi_tensor *t, tsi_err *e);

/* ---------------------------------------------------------- safetensors */

typedef struct tsi_xtype tsi_xtype;
typedef struct tsi_st_entry {
  const char *name;  /* points into json */
  const tsi_xtype *x; /* the element type in the file */
  tsi_tensor info;
  uint64_t begin, end; /* relative to the data section */
} tsi_st_entry;

typedef struct tsi_st_file {
  tsi_reader r;
  void *json;            /* cJSON * of the header */
  int n;
  tsi_st_entry *entries; /* malloc'd, n of them, in header order */
  int nmeta;
  const char **meta;     /* malloc'd, 2 * nmeta: key, value (into json) */
  int64_t data;          /* file offset of the data section */
} tsi_st_file;

void tsi_st_init(tsi_st_file *f);
int tsi_st_open(tsi_st_file *f, const char *path, tsi_err *e);
int tsi_st_read(tsi_st_file *f, int i, tsi_tensor *out, tsi_err *e);
void tsi_st_close(tsi_st_file *f); /* safe twice */

/* names sorted by the caller or not: this sorts a copy of the order. */
int tsi_st_write(tsi_writer *w, int n, const char *const *names, const tsi_tensor *ts,
                 int nmeta, const char *const *meta, tsi_err *e);

/* External element types (ONNX TensorProto, safetensors): each loads as the
 * nearest dtype (float16/bfloat16 -> float32; int8..int32, uint16, uint32,
 * uint64 -> int64; bool -> uint8 0/1). Bytes are little-endian. */
struct tsi_xtype {
  const char *name; /* "float16" */
  const char *st;   /* safetensors name "F16", NULL: none */
  char kind;        /* f float, h half, g bfloat16, i signed, u unsigned, b bool */
  int esize;
  int dtype;        /* what it loads as */
};
const tsi_xtype *tsi_xtype_find(const char *name); /* NULL: unknown */
const char *tsi_xtype_names(void);
/* out (x->dtype, its shape) from len bytes of x elements; refuses a length
 * that is not out's element count and uint64 values above 2^63-1. */
int tsi_from_bytes(const tsi_xtype *x, const void *src, size_t len, tsi_tensor *out, tsi_err *e);
/* t's numel elements as x into dst (numel * esize bytes): floats round to
 * nearest even, integers out of x's range are refused. */
int tsi_to_bytes(const tsi_xtype *x, const tsi_tensor *t, void *dst, tsi_err *e);

#endif
