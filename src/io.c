/* File formats, core part (see io.h). Files are untrusted: every size read
 * from one is checked against the file's length and against overflow before
 * it is used; messages start with the file's name. */
#include "io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK 65536
/* deflate never expands more than about 1032:1 */
#define GZ_MAX_RATIO 1032
#define NPY_MAX_HEADER (1 << 20)
#define ST_MAX_HEADER (100 << 20)
#define MAX_EXACT 9007199254740992.0 /* 2^53: integers JSON numbers hold exactly */

/* strerror is not thread-safe; the XSI strerror_r is (no _GNU_SOURCE here). */
typedef struct errbuf {
  char s[128];
} errbuf;
static const char *errstr(int err, errbuf *b) {
  if (strerror_r(err, b->s, sizeof b->s) != 0) snprintf(b->s, sizeof b->s, "error %d", err);
  return b->s;
}
#define ERRNO_STR (errstr(errno, &(errbuf){{0}}))

static int host_le(void) {
  const uint16_t x = 1;
  return *(const unsigned char *)&x;
}

/* ------------------------------------------------------------- readers */

void tsi_reader_init(tsi_reader *r) {
  memset(r, 0, sizeof *r);
}

void tsi_reader_close(tsi_reader *r) {
  if (r->f) fclose(r->f);
  if (r->gz) gzclose((gzFile)r->gz);
  r->f = NULL;
  r->gz = NULL;
}

static int set_path(tsi_reader *r, const char *path, tsi_err *e) {
  if (strlen(path) >= sizeof r->path)
    return tsi_fail(e, TSI_EARG, "file name is too long (%zu bytes)", strlen(path));
  strcpy(r->path, path);
  return TSI_OK;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
  return S_ISDIR(m)    ? "a directory"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISSOCK(m) ? "a socket"
         : S_ISLNK(m)  ? "a symbolic link"
                       : "a special file";
}

/* Opens path for reading only if it is a regular file. A FIFO or a device is
 * refused without blocking: stat first (no open at all in the common case),
 * then open with O_NONBLOCK (a FIFO's open returns at once) and fstat the
 * descriptor, which is what counts if the name changed in between. Returns
 * the descriptor (blocking again) or -1 with e set. */
static int open_regular(tsi_reader *r, const char *path, tsi_err *e) {
  if (set_path(r, path, e)) return -1;
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    tsi_fail(e, TSI_EARG, "'%s' is %s, not a regular file", path, file_kind(st.st_mode));
    return -1;
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    tsi_fail(e, TSI_EARG, "'%s': cannot open: %s", path, ERRNO_STR);
    return -1;
  }
  int bad = TSI_OK;
  if (fstat(fd, &st) != 0) bad = tsi_fail(e, TSI_EARG, "'%s': cannot stat: %s", path, ERRNO_STR);
  else if (!S_ISREG(st.st_mode))
    bad = tsi_fail(e, TSI_EARG, "'%s' is %s, not a regular file", path, file_kind(st.st_mode));
  if (bad) {
    close(fd);
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  r->size = (int64_t)st.st_size;
  return fd;
}

static int open_plain(tsi_reader *r, const char *path, tsi_err *e) {
  int fd = open_regular(r, path, e);
  if (fd < 0) return e->status;
  r->f = fdopen(fd, "rb");
  if (!r->f) {
    close(fd);
    return tsi_nomem(e, "a file stream");
  }
  return TSI_OK;
}

static int open_gz(tsi_reader *r, const char *path, tsi_err *e) {
  int fd = open_regular(r, path, e);
  if (fd < 0) return e->status;
  r->gz = gzdopen(fd, "rb");
  if (!r->gz) {
    close(fd);
    return tsi_nomem(e, "a gzip stream");
  }
  return TSI_OK;
}

/* Reads exactly n bytes; a short read is a truncated file. */
static int read_exact(tsi_reader *r, void *buf, size_t n, const char *what, tsi_err *e) {
  if (r->gz) {
    char *p = buf;
    while (n > 0) {
      unsigned want = n > (1u << 30) ? (1u << 30) : (unsigned)n;
      int got = gzread((gzFile)r->gz, p, want);
      if (got < 0) {
        int zerr;
        const char *m = gzerror((gzFile)r->gz, &zerr);
        return tsi_fail(e, TSI_EARG, "'%s': corrupt gzip data while reading %s: %s", r->path, what,
                        m ? m : "?");
      }
      if (got == 0) return tsi_fail(e, TSI_EARG, "'%s': truncated file while reading %s", r->path, what);
      p += got;
      n -= (size_t)got;
    }
    return TSI_OK;
  }
  if (n && fread(buf, 1, n, r->f) != n) {
    if (ferror(r->f))
      return tsi_fail(e, TSI_EARG, "'%s': read error while reading %s: %s", r->path, what,
                      ERRNO_STR);
    return tsi_fail(e, TSI_EARG, "'%s': truncated file while reading %s", r->path, what);
  }
  return TSI_OK;
}

static int seek_to(tsi_reader *r, int64_t off, tsi_err *e) {
  if (fseeko(r->f, (off_t)off, SEEK_SET) != 0)
    return tsi_fail(e, TSI_EARG, "'%s': cannot seek to %lld: %s", r->path, (long long)off,
                    ERRNO_STR);
  return TSI_OK;
}

static uint64_t load_uint(const unsigned char *p, int n, int big) {
  uint64_t v = 0;
  if (big)
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
  else
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* IEEE half and bfloat16 to float32, exactly (every value is representable). */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (ex == 0x1f) {
    u = sign | 0x7f800000u | (man << 13); /* inf, NaN (payload kept) */
  } else if (ex) {
    u = sign | ((ex + 112) << 23) | (man << 13);
  } else if (!man) {
    u = sign;
  } else { /* subnormal: normalise */
    int sh = 0;
    while (!(man & 0x400)) {
      man <<= 1;
      sh++;
    }
    u = sign | ((uint32_t)(113 - sh) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static float bf16_to_float(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* float32 to half / bfloat16, rounding to nearest even; NaN stays NaN. */
static uint16_t float_to_half(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, ex = (u >> 23) & 0xff, man = u & 0x7fffffu;
  if (ex == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
  int32_t e = (int32_t)ex - 112;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - e), r = man >> shift, rem = man & ((1u << shift) - 1),
             halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++; /* may carry into inf: right */
  return (uint16_t)(sign | r);
}

static uint16_t float_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

/* Stores k file elements (kind f/i/u/b, h half, g bfloat16, esize bytes, byte order) into out
 * from element `at` on. The result dtype was chosen to hold every value. */
static void decode(const unsigned char *s, int64_t k, char kind, int esize, int big,
                   tsi_tensor *out, int64_t at) {
  size_t osz = tsi_dtype_size(out->dtype);
  char *o = (char *)out->data + (size_t)at * osz;
  if ((size_t)esize == osz && (esize == 1 || big != host_le()) && kind != 'b' &&
      (kind == 'f') == tsi_is_float(out->dtype)) {
    memcpy(o, s, (size_t)k * osz);
    return;
  }
  for (int64_t i = 0; i < k; i++) {
    uint64_t v = load_uint(s + i * esize, esize, big);
    if (kind == 'h' || kind == 'g') {
      ((float *)o)[i] = kind == 'h' ? half_to_float((uint16_t)v) : bf16_to_float((uint16_t)v);
      continue;
    }
    if (kind == 'f') {
      if (esize == 4) {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        ((float *)o)[i] = f;
      } else {
        double d;
        memcpy(&d, &v, 8);
        ((double *)o)[i] = d;
      }
      continue;
    }
    int64_t x;
    if (kind == 'b') {
      x = v != 0;
    } else if (kind == 'i' && esize < 8) {
      uint64_t sign = (uint64_t)1 << (8 * esize - 1);
      x = (int64_t)((v ^ sign) - sign); /* sign extension without shifts */
    } else {
      x = (int64_t)v;
    }
    if (out->dtype == TS_INT64) ((int64_t *)o)[i] = x;
    else ((uint8_t *)o)[i] = (uint8_t)x;
  }
}

/* Reads numel elements of esize bytes from the current position into out. */
static int read_elements(tsi_reader *r, int64_t numel, char kind, int esize, int big,
                         tsi_tensor *out, tsi_err *e) {
  unsigned char buf[CHUNK];
  int64_t per = CHUNK / esize, done = 0;
  while (done < numel) {
    int64_t k = numel - done < per ? numel - done : per;
    if (read_exact(r, buf, (size_t)(k * esize), "the data", e)) return e->status;
    decode(buf, k, kind, esize, big, out, done);
    done += k;
  }
  return TSI_OK;
}

/* ------------------------------------------- external element types */

/* ONNX and safetensors element types and the dtype each loads as (the table
 * in the README, "Models from elsewhere"); st is the safetensors name. */
static const tsi_xtype xtypes[] = {
    {"float32", "F32", 'f', 4, TS_FLOAT32},  {"float64", "F64", 'f', 8, TS_FLOAT64},
    {"float16", "F16", 'h', 2, TS_FLOAT32},  {"bfloat16", "BF16", 'g', 2, TS_FLOAT32},
    {"int8", "I8", 'i', 1, TS_INT64},        {"int16", "I16", 'i', 2, TS_INT64},
    {"int32", "I32", 'i', 4, TS_INT64},      {"int64", "I64", 'i', 8, TS_INT64},
    {"uint8", "U8", 'u', 1, TS_UINT8},       {"uint16", "U16", 'u', 2, TS_INT64},
    {"uint32", "U32", 'u', 4, TS_INT64},     {"uint64", NULL, 'u', 8, TS_INT64},
    {"bool", "BOOL", 'b', 1, TS_UINT8},      {NULL, NULL, 0, 0, 0}};

const tsi_xtype *tsi_xtype_find(const char *name) {
  for (const tsi_xtype *x = xtypes; x->name; x++)
    if (strcmp(x->name, name) == 0) return x;
  return NULL;
}

const char *tsi_xtype_names(void) {
  return "float32, float64, float16, bfloat16, int8, int16, int32, int64, uint8, uint16, uint32, "
         "uint64, bool";
}

int tsi_from_bytes(const tsi_xtype *x, const void *src, size_t len, tsi_tensor *out, tsi_err *e) {
  char sb[96];
  if (out->dtype != x->dtype || (uint64_t)len / (uint64_t)x->esize != (uint64_t)out->numel ||
      len % (size_t)x->esize)
    return tsi_fail(e, TSI_EARG, "%zu bytes do not hold %s %s (%lld bytes)", len, x->name,
                    tsi_shape_str(out, sb, sizeof sb), (long long)out->numel * x->esize);
  const unsigned char *s = src;
  if (x->kind == 'u' && x->esize == 8)
    for (int64_t i = 0; i < out->numel; i++)
      if (s[8 * i + 7] & 0x80)
        return tsi_fail(e, TSI_EARG, "uint64 element %lld is %llu, more than int64 holds",
                        (long long)i + 1, (unsigned long long)load_uint(s + 8 * i, 8, 0));
  decode(s, out->numel, x->kind, x->esize, 0, out, 0);
  return TSI_OK;
}

/* Element i of t as an integer, or as a double (floats). */
#define ELEM_INT(t, i) \
  ((t)->dtype == TS_INT64 ? ((const int64_t *)(t)->data)[i] : ((const uint8_t *)(t)->data)[i])
#define ELEM_DBL(t, i) \
  ((t)->dtype == TS_FLOAT32 ? (double)((const float *)(t)->data)[i] : ((const double *)(t)->data)[i])

int tsi_to_bytes(const tsi_xtype *x, const tsi_tensor *t, void *dst, tsi_err *e) {
  int flt = x->kind == 'f' || x->kind == 'h' || x->kind == 'g';
  if (flt != tsi_is_float(t->dtype))
    return tsi_fail(e, TSI_EARG, "a %s tensor cannot be written as %s", tsi_dtype_name(t->dtype),
                    x->name);
  unsigned char *o = dst;
  for (int64_t i = 0; i < t->numel; i++, o += x->esize) {
    if (flt) {
      double d = ELEM_DBL(t, i);
      if (x->kind == 'f' && x->esize == 8) {
        memcpy(o, &d, 8);
      } else {
        float f = (float)d;
        if (x->kind == 'f') {
          memcpy(o, &f, 4);
        } else {
          uint16_t h = x->kind == 'h' ? float_to_half(f) : float_to_bf16(f);
          memcpy(o, &h, 2);
        }
      }
      continue;
    }
    int64_t v = ELEM_INT(t, i);
    if (x->kind == 'b') v = v != 0;
    int bits = 8 * x->esize;
    int ok = x->kind == 'u' ? v >= 0 && (bits == 64 || v < (int64_t)1 << bits)
             : bits == 64   ? 1
                            : v >= -((int64_t)1 << (bits - 1)) && v < (int64_t)1 << (bits - 1);
    if (!ok)
      return tsi_fail(e, TSI_EARG, "element %lld is %lld, out of the range of %s", (long long)i + 1,
                      (long long)v, x->name);
    uint64_t u = (uint64_t)v;
    for (int b = 0; b < x->esize; b++) o[b] = (unsigned char)(u >> (8 * b));
  }
  return TSI_OK;
}

/* ----------------------------------------------------------------- IDX */

int tsi_idx_open(tsi_reader *r, const char *path, tsi_idx_info *d, tsi_err *e) {
  unsigned char h[4], dims[4 * 255];
  memset(d, 0, sizeof *d);
  if (open_gz(r, path, e)) return e->status;
  if (read_exact(r, h, 4, "the IDX header", e)) return e->status;
  if (h[0] || h[1])
    return tsi_fail(e, TSI_EARG, "'%s': not an IDX file (magic %02x %02x, expected 00 00)", path,
                    h[0], h[1]);
  d->code = h[2];
  switch (d->code) {
  case 0x08: d->out.dtype = TS_UINT8; break;
  case 0x09: case 0x0B: case 0x0C: d->out.dtype = TS_INT64; break;
  case 0x0D: d->out.dtype = TS_FLOAT32; break;
  case 0x0E: d->out.dtype = TS_FLOAT64; break;
  default:
    return tsi_fail(e, TSI_EARG, "'%s': unknown IDX element type 0x%02X", path, d->code);
  }
  int nd = h[3];
  if (nd > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "'%s': IDX rank %d exceeds the maximum of %d", path, nd, TSI_MAXDIM);
  if (read_exact(r, dims, (size_t)nd * 4, "the IDX dimensions", e)) return e->status;
  int64_t shape[TSI_MAXDIM];
  for (int i = 0; i < nd; i++) shape[i] = (int64_t)load_uint(dims + 4 * i, 4, 1);
  if (tsi_set_shape(&d->out, nd, shape, e))
    return tsi_fail(e, TSI_EARG, "'%s': IDX shape has too many elements", path);
  d->hdr = 4 + 4 * (int64_t)nd;
  int es = d->code == 0x0B ? 2 : d->code == 0x0C || d->code == 0x0D ? 4 : d->code == 0x0E ? 8 : 1;
  uint64_t need = (uint64_t)d->out.numel * (uint64_t)es; /* numel <= SIZE_MAX / 8 */
  char sb[96];
  int direct = gzdirect((gzFile)r->gz);
  uint64_t have = (uint64_t)(r->size - d->hdr);
  if (direct && need > have)
    return tsi_fail(e, TSI_EARG,
                    "'%s': header claims %llu bytes of data for shape %s but the file holds only "
                    "%llu (truncated file?)",
                    path, (unsigned long long)need, tsi_shape_str(&d->out, sb, sizeof sb),
                    (unsigned long long)have);
  if (direct && need < have)
    return tsi_fail(e, TSI_EARG, "'%s': %llu unexpected bytes after the data of shape %s", path,
                    (unsigned long long)(have - need), tsi_shape_str(&d->out, sb, sizeof sb));
  if (!direct && need / GZ_MAX_RATIO > (uint64_t)r->size)
    return tsi_fail(e, TSI_EARG,
                    "'%s': header claims %llu bytes of data, more than a gzip file of %lld bytes "
                    "can hold",
                    path, (unsigned long long)need, (long long)r->size);
  return TSI_OK;
}

int tsi_idx_read(tsi_reader *r, const tsi_idx_info *d, tsi_tensor *out, tsi_err *e) {
  char kind = d->code == 0x08 ? 'u' : d->code == 0x0D || d->code == 0x0E ? 'f' : 'i';
  int es = d->code == 0x0B ? 2 : d->code == 0x0C || d->code == 0x0D ? 4 : d->code == 0x0E ? 8 : 1;
  if (read_elements(r, out->numel, kind, es, 1, out, e)) return e->status;
  if (!gzdirect((gzFile)r->gz)) {
    char extra; /* reading past the end also checks the gzip CRC */
    int got = gzread((gzFile)r->gz, &extra, 1);
    if (got > 0)
      return tsi_fail(e, TSI_EARG, "'%s': unexpected data after the end of the IDX data", r->path);
    if (got < 0) {
      int zerr;
      const char *m = gzerror((gzFile)r->gz, &zerr);
      return tsi_fail(e, TSI_EARG, "'%s': corrupt gzip data: %s", r->path, m ? m : "?");
    }
  }
  return TSI_OK;
}

/* ----------------------------------------------------------------- npy */

typedef struct parser {
  const char *p, *end;
} parser;

static void skip_ws(parser *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int accept(parser *s, char c) {
  skip_ws(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return 1;
  }
  return 0;
}

/* A quoted Python string into buf (no escapes in .npy headers). */
static int parse_str(parser *s, char *buf, size_t n) {
  skip_ws(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return 0;
  char q = *s->p++;
  size_t k = 0;
  while (s->p < s->end && *s->p != q) {
    if (k + 1 >= n) return 0;
    buf[k++] = *s->p++;
  }
  if (s->p >= s->end) return 0;
  s->p++;
  buf[k] = 0;
  return 1;
}

static int parse_word(parser *s, const char *w) {
  skip_ws(s);
  size_t n = strlen(w);
  if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
    s->p += n;
    return 1;
  }
  return 0;
}

static int parse_shape(parser *s, int *nd, int64_t *shape, const char *path, tsi_err *e) {
  if (!accept(s, '(')) return tsi_fail(e, TSI_EARG, "'%s': .npy shape is not a tuple", path);
  *nd = 0;
  while (!accept(s, ')')) {
    skip_ws(s);
    int64_t v = 0;
    int digits = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
      if (v > (INT64_MAX - 9) / 10)
        return tsi_fail(e, TSI_EARG, "'%s': .npy shape dimension is too large", path);
      v = v * 10 + (*s->p++ - '0');
      digits++;
    }
    if (!digits) return tsi_fail(e, TSI_EARG, "'%s': .npy shape has a non-integer entry", path);
    if (s->p < s->end && *s->p == 'L') s->p++; /* Python 2 longs */
    if (*nd >= TSI_MAXDIM)
      return tsi_fail(e, TSI_EARG, "'%s': .npy rank exceeds the maximum of %d", path, TSI_MAXDIM);
    shape[(*nd)++] = v;
    if (!accept(s, ',')) {
      if (!accept(s, ')')) return tsi_fail(e, TSI_EARG, "'%s': malformed .npy shape", path);
      break;
    }
  }
  return TSI_OK;
}

/* '<f4' etc. into kind/esize/byte order and the result dtype. */
static int parse_descr(const char *ds, tsi_npy_info *d, const char *path, tsi_err *e) {
  char order = ds[0], kind = ds[0] ? ds[1] : 0;
  char *endp;
  long size = kind ? strtol(ds + 2, &endp, 10) : 0;
  if (!kind || ds[2] < '0' || ds[2] > '9' || *endp || !strchr("<>|=", order) || size <= 0)
    return tsi_fail(e, TSI_EARG, "'%s': unsupported .npy dtype '%s'", path, ds);
  d->kind = kind;
  d->esize = (int)size;
  d->bigendian = order == '>' || (order == '=' && !host_le());
  int dt = -1;
  if (kind == 'f' && size == 4) dt = TS_FLOAT32;
  else if (kind == 'f' && size == 8) dt = TS_FLOAT64;
  else if (kind == 'i' && (size == 1 || size == 2 || size == 4 || size == 8)) dt = TS_INT64;
  else if ((kind == 'u' || kind == 'b') && size == 1) dt = TS_UINT8;
  else if (kind == 'u' && (size == 2 || size == 4)) dt = TS_INT64;
  if (dt < 0)
    return tsi_fail(e, TSI_EARG,
                    "'%s': unsupported .npy dtype '%s' (supported: float32, float64, signed "
                    "integers, uint8/16/32, bool)",
                    path, ds);
  if (order == '|' && size != 1)
    return tsi_fail(e, TSI_EARG, "'%s': .npy dtype '%s' has no byte order", path, ds);
  d->out.dtype = dt;
  return TSI_OK;
}

static int parse_npy_header(const char *h, size_t n, tsi_npy_info *d, const char *path,
                            tsi_err *e) {
  parser s = {h, h + n};
  char key[64], descr[64];
  int have_descr = 0, have_order = 0, have_shape = 0, nd = 0;
  int64_t shape[TSI_MAXDIM];
  if (!accept(&s, '{')) return tsi_fail(e, TSI_EARG, "'%s': .npy header is not a dict", path);
  while (!accept(&s, '}')) {
    if (!parse_str(&s, key, sizeof key) || !accept(&s, ':'))
      return tsi_fail(e, TSI_EARG, "'%s': malformed .npy header", path);
    if (strcmp(key, "descr") == 0) {
      skip_ws(&s);
      if (s.p < s.end && *s.p == '[')
        return tsi_fail(e, TSI_EARG, "'%s': structured .npy dtypes are not supported", path);
      if (!parse_str(&s, descr, sizeof descr))
        return tsi_fail(e, TSI_EARG, "'%s': malformed .npy descr", path);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (parse_word(&s, "True")) d->fortran = 1;
      else if (parse_word(&s, "False")) d->fortran = 0;
      else return tsi_fail(e, TSI_EARG, "'%s': malformed .npy fortran_order", path);
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (parse_shape(&s, &nd, shape, path, e)) return e->status;
      have_shape = 1;
    } else {
      return tsi_fail(e, TSI_EARG, "'%s': unknown key '%s' in the .npy header", path, key);
    }
    if (!accept(&s, ',')) {
      if (!accept(&s, '}')) return tsi_fail(e, TSI_EARG, "'%s': malformed .npy header", path);
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    return tsi_fail(e, TSI_EARG, "'%s': .npy header lacks '%s'", path,
                    !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  if (parse_descr(descr, d, path, e)) return e->status;
  if (tsi_set_shape(&d->out, nd, shape, e))
    return tsi_fail(e, TSI_EARG, "'%s': .npy shape has too many elements", path);
  return TSI_OK;
}

int tsi_npy_open(tsi_reader *r, const char *path, tsi_npy_info *d, tsi_err *e) {
  unsigned char m[12];
  memset(d, 0, sizeof *d);
  if (open_plain(r, path, e)) return e->status;
  if (read_exact(r, m, 8, "the .npy magic", e)) return e->status;
  if (memcmp(m, "\x93NUMPY", 6) != 0)
    return tsi_fail(e, TSI_EARG, "'%s': not a .npy file (bad magic)", path);
  int major = m[6], minor = m[7], lenbytes;
  if (major == 1) lenbytes = 2;
  else if (major == 2 || major == 3) lenbytes = 4;
  else return tsi_fail(e, TSI_EARG, "'%s': unsupported .npy version %d.%d", path, major, minor);
  if (read_exact(r, m + 8, (size_t)lenbytes, "the .npy header length", e)) return e->status;
  uint64_t hlen = load_uint(m + 8, lenbytes, 0);
  d->hdr = 8 + lenbytes;
  if (hlen > (uint64_t)(r->size - d->hdr))
    return tsi_fail(e, TSI_EARG, "'%s': header claims %llu bytes but the file holds only %lld", path,
                    (unsigned long long)hlen, (long long)(r->size - d->hdr));
  if (hlen > NPY_MAX_HEADER)
    return tsi_fail(e, TSI_EARG, "'%s': .npy header of %llu bytes is too large", path,
                    (unsigned long long)hlen);
  char *h = malloc(hlen ? hlen : 1);
  if (!h) return tsi_nomem(e, "a .npy header");
  int st = read_exact(r, h, hlen, "the .npy header", e);
  if (!st) st = parse_npy_header(h, hlen, d, path, e);
  free(h);
  if (st) return st;
  d->hdr += (int64_t)hlen;
  uint64_t need = (uint64_t)d->out.numel * (uint64_t)d->esize, have = (uint64_t)(r->size - d->hdr);
  if (d->out.numel > 0 && need / (uint64_t)d->esize != (uint64_t)d->out.numel)
    return tsi_fail(e, TSI_EARG, "'%s': .npy shape has too many elements", path);
  char sb[96];
  if (need > have)
    return tsi_fail(e, TSI_EARG,
                    "'%s': header claims %llu bytes of data for shape %s but the file holds only "
                    "%llu (truncated file?)",
                    path, (unsigned long long)need, tsi_shape_str(&d->out, sb, sizeof sb),
                    (unsigned long long)have);
  if (need < have)
    return tsi_fail(e, TSI_EARG, "'%s': %llu unexpected bytes after the data of shape %s", path,
                    (unsigned long long)(have - need), tsi_shape_str(&d->out, sb, sizeof sb));
  return TSI_OK;
}

int tsi_npy_read(tsi_reader *r, const tsi_npy_info *d, tsi_tensor *out, tsi_err *e) {
  if (seek_to(r, d->hdr, e)) return e->status;
  /* Empty: nothing to reorder (and its dims' products may not fit: (0, 2^40, 2^40)). */
  if (!d->fortran || out->ndim < 2 || out->numel == 0)
    return read_elements(r, out->numel, d->kind, d->esize, d->bigendian, out, e);
  /* Fortran order: read into a scratch tensor, then transpose into out. */
  tsi_tensor tmp = *out;
  size_t es = tsi_dtype_size(out->dtype), nb = tsi_nbytes(out);
  tmp.data = malloc(nb ? nb : 1);
  if (!tmp.data) return tsi_nomem(e, "reordering a Fortran-order .npy");
  if (read_elements(r, out->numel, d->kind, d->esize, d->bigendian, &tmp, e)) {
    free(tmp.data);
    return e->status;
  }
  int64_t idx[TSI_MAXDIM] = {0}, cstride[TSI_MAXDIM];
  int nd = out->ndim;
  cstride[nd - 1] = 1;
  for (int k = nd - 2; k >= 0; k--) cstride[k] = cstride[k + 1] * out->shape[k + 1];
  for (int64_t p = 0; p < out->numel; p++) { /* p walks the file (first index fastest) */
    int64_t off = 0;
    for (int k = 0; k < nd; k++) off += idx[k] * cstride[k];
    memcpy((char *)out->data + (size_t)off * es, (char *)tmp.data + (size_t)p * es, es);
    for (int k = 0; k < nd; k++) {
      if (++idx[k] < out->shape[k]) break;
      idx[k] = 0;
    }
  }
  free(tmp.data);
  return TSI_OK;
}

/* ------------------------------------------------------------- writers */

void tsi_writer_init(tsi_writer *w) {
  memset(w, 0, sizeof *w);
  w->done = 1;
}

/* Glibc defines O_TMPFILE only under _GNU_SOURCE (which would also change
 * strerror_r); its per-architecture value is __O_TMPFILE. */
#if !defined(O_TMPFILE) && defined(__O_TMPFILE)
#define O_TMPFILE __O_TMPFILE
#endif

/* The target may be missing or a regular file; anything else (a symbolic
 * link, a device, a FIFO, a directory) is refused rather than replaced.
 * Sets *mode to the target's permissions, or -1 when it does not exist. */
static int check_target(const char *path, int *mode, tsi_err *e) {
  struct stat st;
  *mode = -1;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return TSI_OK;
    return tsi_fail(e, TSI_EARG, "'%s': cannot stat: %s", path, ERRNO_STR);
  }
  if (!S_ISREG(st.st_mode))
    return tsi_fail(e, TSI_EARG, "'%s' is %s, not a regular file: not replaced", path,
                    file_kind(st.st_mode));
  *mode = (int)(st.st_mode & 0777);
  return TSI_OK;
}

int tsi_writer_open(tsi_writer *w, const char *path, tsi_err *e) {
  size_t len = strlen(path);
  if (len + sizeof ".tmp-tensorslow" + 1 >= sizeof w->tmp)
    return tsi_fail(e, TSI_EARG, "file name is too long (%zu bytes)", len);
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return tsi_fail(e, TSI_EARG, "'%s' does not name a file", path);
  int mode;
  if (check_target(path, &mode, e)) return e->status;
  strcpy(w->path, path);
  /* One fixed temporary name per target, so a save killed before its rename
   * leaves at most this file, which the next save to the target removes. */
  int dirlen = (int)(base - path);
  snprintf(w->tmp, sizeof w->tmp, "%.*s.%s.tmp-tensorslow", dirlen, path, base);
  int fd = -1;
  w->named = 0;
#if defined(O_TMPFILE) && !defined(TS_NO_O_TMPFILE) /* (-DTS_NO_O_TMPFILE tests the fallback) */
  /* Preferred: a nameless file, linked in only once it is complete and synced
   * (tsi_writer_commit); a process killed while writing leaves nothing. */
  if (access("/proc/self/fd", X_OK) == 0) {
    char dir[TSI_PATHMAX];
    snprintf(dir, sizeof dir, "%.*s", dirlen ? dirlen : 1, dirlen ? path : ".");
    fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  }
#endif
  if (fd < 0) { /* no O_TMPFILE (kernel or file system): the named file */
    if (unlink(w->tmp) != 0 && errno != ENOENT)
      return tsi_fail(e, TSI_EARG, "'%s': cannot remove the stale temporary file '%s': %s", path,
                      w->tmp, ERRNO_STR);
    fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0666);
    if (fd < 0)
      return tsi_fail(e, TSI_EARG, "'%s': cannot create a temporary file beside it: %s", path,
                      ERRNO_STR);
    w->named = 1;
  }
  w->done = 0;
  if (mode >= 0) fchmod(fd, (mode_t)mode);
  w->f = fdopen(fd, "wb");
  if (!w->f) {
    close(fd);
    tsi_writer_abort(w);
    return tsi_nomem(e, "a file stream");
  }
  return TSI_OK;
}

int tsi_writer_write(tsi_writer *w, const void *p, size_t n, tsi_err *e) {
  if (n && fwrite(p, 1, n, w->f) != n)
    return tsi_fail(e, TSI_EARG, "'%s': write failed: %s", w->path, ERRNO_STR);
  return TSI_OK;
}

void tsi_writer_abort(tsi_writer *w) {
  if (w->f) fclose(w->f);
  w->f = NULL;
  if (!w->done && w->named) unlink(w->tmp);
  w->done = 1;
}

/* Gives the nameless temporary file its name (removing a stale one). */
static int link_tmp(tsi_writer *w) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(w->f));
  for (int tries = 0; tries < 3; tries++) {
    if (unlink(w->tmp) != 0 && errno != ENOENT) return -1;
    if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp, AT_SYMLINK_FOLLOW) == 0) {
      w->named = 1;
      return 0;
    }
    if (errno != EEXIST) return -1;
  }
  return -1;
}

int tsi_writer_commit(tsi_writer *w, tsi_err *e) {
  const char *what = "flush";
  int mode, ok = fflush(w->f) == 0;
  if (ok) what = "fsync", ok = fsync(fileno(w->f)) == 0;
  /* Again just before replacing it: the target may have changed meanwhile. */
  if (ok && check_target(w->path, &mode, e)) {
    tsi_writer_abort(w);
    return e->status;
  }
  if (ok && !w->named) what = "link", ok = link_tmp(w) == 0;
  if (ok) {
    what = "close";
    ok = fclose(w->f) == 0;
    w->f = NULL;
  }
  if (ok) what = "rename", ok = rename(w->tmp, w->path) == 0;
  if (!ok) {
    int err = errno;
    tsi_writer_abort(w);
    errbuf b;
    return tsi_fail(e, TSI_EARG, "'%s': %s failed: %s", w->path, what, errstr(err, &b));
  }
  w->done = 1;
  /* Best effort: make the rename itself durable. */
  char dir[TSI_PATHMAX];
  const char *slash = strrchr(w->path, '/');
  if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - w->path) + 1, w->path);
  else snprintf(dir, sizeof dir, ".");
  int dfd = open(dir, O_RDONLY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return TSI_OK;
}

/* Writes a tensor's data little-endian. */
static int write_le(tsi_writer *w, const tsi_tensor *t, tsi_err *e) {
  size_t es = tsi_dtype_size(t->dtype), nb = tsi_nbytes(t);
  if (host_le() || es == 1) return tsi_writer_write(w, t->data, nb, e);
  unsigned char buf[CHUNK];
  const unsigned char *s = t->data;
  for (size_t done = 0; done < nb;) {
    size_t k = nb - done < CHUNK ? nb - done : CHUNK;
    for (size_t i = 0; i < k; i += es)
      for (size_t b = 0; b < es; b++) buf[i + b] = s[done + i + es - 1 - b];
    if (tsi_writer_write(w, buf, k, e)) return e->status;
    done += k;
  }
  return TSI_OK;
}

int tsi_npy_write(tsi_writer *w, const tsi_tensor *t, tsi_err *e) {
  static const char *const descr[] = {"<f4", "<f8", "<i8", "|u1"};
  char h[512], shape[256];
  size_t k = 0;
  k += (size_t)snprintf(shape + k, sizeof shape - k, "(");
  for (int i = 0; i < t->ndim; i++)
    k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", i ? ", " : "",
                          (long long)t->shape[i]);
  snprintf(shape + k, sizeof shape - k, t->ndim == 1 ? ",)" : ")");
  int n = snprintf(h + 10, sizeof h - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   descr[t->dtype], shape);
  size_t total = 10 + (size_t)n + 1;
  size_t padded = (total + 63) / 64 * 64;
  memcpy(h, "\x93NUMPY\x01\x00", 8);
  size_t hlen = padded - 10;
  h[8] = (char)(hlen & 0xff);
  h[9] = (char)(hlen >> 8);
  memset(h + 10 + n, ' ', padded - 10 - (size_t)n - 1);
  h[padded - 1] = '\n';
  if (tsi_writer_write(w, h, padded, e)) return e->status;
  return write_le(w, t, e);
}

/* --------------------------------------------------------- safetensors */

static const char *const st_names[] = {"F32", "F64", "I64", "U8"};

void tsi_st_init(tsi_st_file *f) {
  memset(f, 0, sizeof *f);
  tsi_reader_init(&f->r);
}

void tsi_st_close(tsi_st_file *f) {
  tsi_reader_close(&f->r);
  if (f->json) cJSON_Delete((cJSON *)f->json);
  free(f->entries);
  free(f->meta);
  f->json = NULL;
  f->entries = NULL;
  f->meta = NULL;
  f->n = f->nmeta = 0;
}

static int by_begin(const void *a, const void *b) {
  const tsi_st_entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int st_uint(const cJSON *j, uint64_t *v) {
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0 && d <= MAX_EXACT) || d != (double)(uint64_t)d) return 0;
  *v = (uint64_t)d;
  return 1;
}

static int st_entry(tsi_st_file *f, const cJSON *j, tsi_st_entry *t, uint64_t datalen,
                    tsi_err *e) {
  const char *path = f->r.path, *name = j->string;
  char sb[96];
  t->name = name;
  if (!cJSON_IsObject(j))
    return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' is not described by an object", path, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
    return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' lacks dtype, shape or data_offsets", path, name);
  t->x = NULL;
  for (const tsi_xtype *x = xtypes; x->name; x++)
    if (x->st && strcmp(dt->valuestring, x->st) == 0) t->x = x;
  if (!t->x)
    return tsi_fail(e, TSI_EARG,
                    "'%s': tensor '%s' has unsupported dtype '%s' (F32, F64, F16, BF16, I8, I16, "
                    "I32, I64, U8, U16, U32, BOOL)",
                    path, name, dt->valuestring);
  t->info.dtype = t->x->dtype;
  int nd = cJSON_GetArraySize(sh);
  if (nd > TSI_MAXDIM)
    return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' has rank %d, more than %d", path, name, nd,
                    TSI_MAXDIM);
  int64_t shape[TSI_MAXDIM];
  uint64_t v;
  for (int i = 0; i < nd; i++) {
    if (!st_uint(cJSON_GetArrayItem(sh, i), &v))
      return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' has an invalid shape", path, name);
    shape[i] = (int64_t)v;
  }
  if (tsi_set_shape(&t->info, nd, shape, e))
    return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' has too many elements", path, name);
  if (cJSON_GetArraySize(off) != 2 || !st_uint(cJSON_GetArrayItem(off, 0), &t->begin) ||
      !st_uint(cJSON_GetArrayItem(off, 1), &t->end) || t->begin > t->end)
    return tsi_fail(e, TSI_EARG, "'%s': tensor '%s' has invalid data_offsets", path, name);
  uint64_t need = (uint64_t)t->info.numel * (uint64_t)t->x->esize; /* numel <= SIZE_MAX / 8 */
  if (t->end - t->begin != need)
    return tsi_fail(e, TSI_EARG,
                    "'%s': tensor '%s': data_offsets [%llu, %llu] span %llu bytes but %s %s needs "
                    "%llu",
                    path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)(t->end - t->begin), dt->valuestring,
                    tsi_shape_str(&t->info, sb, sizeof sb), (unsigned long long)need);
  if (t->end > datalen)
    return tsi_fail(e, TSI_EARG,
                    "'%s': tensor '%s': data_offsets [%llu, %llu] are out of range: the data "
                    "section holds %llu bytes (truncated file?)",
                    path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)datalen);
  return TSI_OK;
}

/* Duplicate tensor names: an open-addressing set of entry indices (+1, 0 is
 * empty) keyed by an FNV-1a hash, so a header of n entries costs O(n), not
 * O(n^2) (the 100 MB header limit allows millions of entries). */
typedef struct name_set {
  int *slot;
  size_t mask;
} name_set;

static uint64_t name_hash(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Adds entry i of es; returns the index of an earlier entry of that name, or -1. */
static int name_set_add(name_set *set, const tsi_st_entry *es, int i) {
  size_t k = (size_t)name_hash(es[i].name) & set->mask;
  while (set->slot[k]) {
    int j = set->slot[k] - 1;
    if (strcmp(es[j].name, es[i].name) == 0) return j;
    k = (k + 1) & set->mask;
  }
  set->slot[k] = i + 1;
  return -1;
}

static int st_entries(tsi_st_file *f, const cJSON *root, name_set *set, uint64_t datalen,
                      tsi_err *e) {
  const char *path = f->r.path;
  for (const cJSON *j = root->child; j; j = j->next) {
    if (!j->string) return tsi_fail(e, TSI_EARG, "'%s': malformed safetensors header", path);
    if (strcmp(j->string, "__metadata__") == 0) {
      if (!cJSON_IsObject(j) || f->meta)
        return tsi_fail(e, TSI_EARG, "'%s': __metadata__ is not a single object", path);
      int nm = cJSON_GetArraySize(j);
      f->meta = malloc(sizeof *f->meta * 2 * (size_t)(nm ? nm : 1));
      if (!f->meta) return tsi_nomem(e, "safetensors metadata");
      for (const cJSON *m = j->child; m; m = m->next) {
        if (!cJSON_IsString(m) || f->nmeta >= nm)
          return tsi_fail(e, TSI_EARG, "'%s': metadata value for '%s' is not a string", path,
                          m->string ? m->string : "?");
        f->meta[2 * f->nmeta] = m->string;
        f->meta[2 * f->nmeta + 1] = m->valuestring;
        f->nmeta++;
      }
      continue;
    }
    tsi_st_entry *t = &f->entries[f->n];
    memset(t, 0, sizeof *t);
    if (st_entry(f, j, t, datalen, e)) return e->status;
    if (name_set_add(set, f->entries, f->n) >= 0)
      return tsi_fail(e, TSI_EARG, "'%s': tensor name '%s' appears twice", path, t->name);
    f->n++;
  }
  return TSI_OK;
}

/* Whether the JSON text holds the escape \u0000 (a backslash preceded by an
 * even number of backslashes, then u0000): cJSON would cut that string there,
 * and two names could become one. */
static int has_nul_escape(const char *h, size_t n) {
  size_t run = 0; /* backslashes just before i */
  for (size_t i = 0; i < n; i++) {
    if (h[i] != '\\') {
      run = 0;
      continue;
    }
    if (run % 2 == 0 && n - i >= 6 && h[i + 1] == 'u' && memcmp(h + i + 2, "0000", 4) == 0)
      return 1;
    run++;
  }
  return 0;
}

static int st_parse(tsi_st_file *f, const char *h, size_t n, uint64_t datalen, tsi_err *e) {
  const char *path = f->r.path;
  if (has_nul_escape(h, n))
    return tsi_fail(e, TSI_EARG, "'%s': safetensors header holds a NUL character (\\u0000), "
                    "which tensorslow does not accept in names", path);
  cJSON *root = cJSON_ParseWithLength(h, n);
  if (!root) return tsi_fail(e, TSI_EARG, "'%s': safetensors header is not valid JSON", path);
  f->json = root;
  if (!cJSON_IsObject(root))
    return tsi_fail(e, TSI_EARG, "'%s': safetensors header is not a JSON object", path);
  int count = cJSON_GetArraySize(root);
  f->entries = malloc(sizeof *f->entries * (size_t)(count ? count : 1));
  if (!f->entries) return tsi_nomem(e, "a safetensors header");
  name_set set;
  for (set.mask = 1; set.mask < (size_t)count * 2; set.mask <<= 1) continue;
  set.slot = calloc(set.mask, sizeof *set.slot);
  set.mask--;
  if (!set.slot) return tsi_nomem(e, "a safetensors header");
  int st = st_entries(f, root, &set, datalen, e);
  free(set.slot);
  if (st) return st;
  /* As the reference implementation: the data is covered exactly, no overlap, no gap. */
  qsort(f->entries, (size_t)f->n, sizeof *f->entries, by_begin);
  uint64_t at = 0;
  for (int i = 0; i < f->n; i++) {
    if (f->entries[i].begin < at)
      return tsi_fail(e, TSI_EARG, "'%s': data of tensors '%s' and '%s' overlap", path,
                      f->entries[i - 1].name, f->entries[i].name);
    if (f->entries[i].begin > at)
      return tsi_fail(e, TSI_EARG, "'%s': %llu bytes of the data section before tensor '%s' "
                      "belong to no tensor", path, (unsigned long long)(f->entries[i].begin - at),
                      f->entries[i].name);
    at = f->entries[i].end;
  }
  if (at != datalen)
    return tsi_fail(e, TSI_EARG, "'%s': %llu unexpected bytes after the last tensor's data", path,
                    (unsigned long long)(datalen - at));
  return TSI_OK;
}

int tsi_st_open(tsi_st_file *f, const char *path, tsi_err *e) {
  unsigned char m[8];
  if (open_plain(&f->r, path, e)) return e->status;
  if (f->r.size < 8)
    return tsi_fail(e, TSI_EARG, "'%s': file of %lld bytes is too short for safetensors", path,
                    (long long)f->r.size);
  if (read_exact(&f->r, m, 8, "the header length", e)) return e->status;
  uint64_t n = load_uint(m, 8, 0), have = (uint64_t)(f->r.size - 8);
  if (n > have)
    return tsi_fail(e, TSI_EARG,
                    "'%s': header claims %llu bytes but the file holds only %llu after its length "
                    "(truncated file?)",
                    path, (unsigned long long)n, (unsigned long long)have);
  if (n > ST_MAX_HEADER)
    return tsi_fail(e, TSI_EARG, "'%s': safetensors header of %llu bytes is too large", path,
                    (unsigned long long)n);
  char *h = malloc(n ? n : 1);
  if (!h) return tsi_nomem(e, "a safetensors header");
  int st = read_exact(&f->r, h, n, "the header", e);
  f->data = 8 + (int64_t)n;
  if (!st) st = st_parse(f, h, n, have - n, e);
  free(h);
  return st;
}

int tsi_st_read(tsi_st_file *f, int i, tsi_tensor *out, tsi_err *e) {
  const tsi_st_entry *t = &f->entries[i];
  if (seek_to(&f->r, f->data + (int64_t)t->begin, e)) return e->status;
  return read_elements(&f->r, out->numel, t->x->kind, t->x->esize, 0, out, e);
}

typedef struct st_order {
  const char *name;
  int i;
} st_order;

static int by_name(const void *a, const void *b) {
  return strcmp(((const st_order *)a)->name, ((const st_order *)b)->name);
}

static int add_raw_uint(cJSON *arr, uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
  cJSON *r = cJSON_CreateRaw(buf);
  return r && cJSON_AddItemToArray(arr, r);
}

/* Builds the JSON header; NULL on allocation failure. */
static char *st_header(int n, const st_order *ord, const tsi_tensor *ts, int nmeta,
                       const char *const *meta) {
  cJSON *root = cJSON_CreateObject();
  int ok = root != NULL;
  if (ok && nmeta > 0) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    ok = m != NULL;
    for (int i = 0; ok && i < nmeta; i++)
      ok = cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]) != NULL;
  }
  uint64_t off = 0;
  for (int k = 0; ok && k < n; k++) {
    const tsi_tensor *t = &ts[ord[k].i];
    cJSON *o = cJSON_AddObjectToObject(root, ord[k].name);
    cJSON *sh = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
    cJSON *of = sh ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
    ok = of && cJSON_AddStringToObject(o, "dtype", st_names[t->dtype]);
    for (int d = 0; ok && d < t->ndim; d++) ok = add_raw_uint(sh, (uint64_t)t->shape[d]);
    uint64_t end = off + tsi_nbytes(t);
    ok = ok && add_raw_uint(of, off) && add_raw_uint(of, end);
    off = end;
  }
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  return s;
}

int tsi_st_write(tsi_writer *w, int n, const char *const *names, const tsi_tensor *ts,
                 int nmeta, const char *const *meta, tsi_err *e) {
  st_order *ord = malloc(sizeof *ord * (size_t)(n ? n : 1));
  if (!ord) return tsi_nomem(e, "writing safetensors");
  for (int i = 0; i < n; i++) ord[i].name = names[i], ord[i].i = i;
  qsort(ord, (size_t)n, sizeof *ord, by_name);
  char *h = st_header(n, ord, ts, nmeta, meta);
  if (!h) {
    free(ord);
    return tsi_nomem(e, "a safetensors header");
  }
  size_t len = strlen(h), padded = (len + 7) / 8 * 8;
  unsigned char m[8];
  for (int b = 0; b < 8; b++) m[b] = (unsigned char)((uint64_t)padded >> (8 * b));
  static const char spaces[8] = "        ";
  int st = tsi_writer_write(w, m, 8, e);
  if (!st) st = tsi_writer_write(w, h, len, e);
  if (!st) st = tsi_writer_write(w, spaces, padded - len, e);
  for (int k = 0; !st && k < n; k++) st = write_le(w, &ts[ord[k].i], e);
  cJSON_free(h);
  free(ord);
  return st;
}
