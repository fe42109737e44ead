/* npy.c — the .npy reader and writer behind `onyx run` (see npy.h).
 *
 * The header is a Python dict literal, so it is parsed with a small bounded
 * cursor rather than sscanf: keys may come in any order, strings may use
 * either quote, old files write shape ints with an 'L' suffix, and a
 * malformed or truncated header must produce a message, never a read past
 * the end. Data is copied as is: onyx tensors are little-endian C order,
 * exactly the layout accepted here. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies data as little-endian; port it before building on a big-endian host"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* The dtypes both numpy and onyx know, with numpy's descr letter and size. */
static const struct {
  char kind;
  unsigned size;
  onyx_dtype dtype;
  const char *descr;   /* what npy_save writes */
} dtypes[] = {
    {'f', 2, ONYX_DTYPE_FLOAT16, "<f2"}, {'f', 4, ONYX_DTYPE_FLOAT, "<f4"},
    {'f', 8, ONYX_DTYPE_DOUBLE, "<f8"},  {'i', 1, ONYX_DTYPE_INT8, "|i1"},
    {'i', 2, ONYX_DTYPE_INT16, "<i2"},   {'i', 4, ONYX_DTYPE_INT32, "<i4"},
    {'i', 8, ONYX_DTYPE_INT64, "<i8"},   {'u', 1, ONYX_DTYPE_UINT8, "|u1"},
    {'u', 2, ONYX_DTYPE_UINT16, "<u2"},  {'u', 4, ONYX_DTYPE_UINT32, "<u4"},
    {'u', 8, ONYX_DTYPE_UINT64, "<u8"},  {'b', 1, ONYX_DTYPE_BOOL, "|b1"},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])
#define SUPPORTED_LIST "float16/32/64, int8/16/32/64, uint8/16/32/64, bool"

static bool fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return false;
}

bool npy_has_magic(const void *buf, size_t len) {
  return len >= sizeof npy_magic && !memcmp(buf, npy_magic, sizeof npy_magic);
}

bool npy_dtype_supported(onyx_dtype dtype) {
  for (size_t i = 0; i < N_DTYPES; i++)
    if (dtypes[i].dtype == dtype) return true;
  return false;
}

/* ---- header dict parsing -------------------------------------------------- */

typedef struct cursor {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static bool eat(cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

static bool peek(cursor *c, char ch) {
  skip_ws(c);
  return c->p < c->end && *c->p == ch;
}

/* A quoted string without escapes (numpy never writes any in the keys or
 * descrs onyx accepts), copied into buf. */
static bool parse_str(cursor *c, char *buf, size_t cap) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
  char q = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != q) c->p++;
  if (c->p >= c->end) return false;
  size_t n = (size_t)(c->p - start);
  c->p++;
  if (n >= cap) n = cap - 1;   /* long strings are cut; they match nothing valid */
  memcpy(buf, start, n);
  buf[n] = '\0';
  return true;
}

static bool parse_word(cursor *c, const char *w) {
  skip_ws(c);
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n)) return false;
  c->p += n;
  return true;
}

/* A non-negative integer (optional Python 2 'L' suffix) that fits int64. */
static bool parse_dim(cursor *c, int64_t *out) {
  skip_ws(c);
  if (c->p >= c->end || *c->p < '0' || *c->p > '9') return false;
  int64_t v = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    int digit = *c->p++ - '0';
    if (v > (INT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (c->p < c->end && *c->p == 'L') c->p++;
  *out = v;
  return true;
}

/* "(2, 3)", "(5,)" or "()" (a bare "(5)" is accepted as well). */
static bool parse_shape(cursor *c, npy_header *h, char *err, size_t errlen) {
  if (!eat(c, '(')) return fail(err, errlen, "malformed .npy header: 'shape' is not a tuple");
  h->rank = 0;
  while (!eat(c, ')')) {
    if (h->rank == ONYX_MAX_RANK)
      return fail(err, errlen, ".npy array has more than %d dims", ONYX_MAX_RANK);
    if (!parse_dim(c, &h->dims[h->rank]))
      return fail(err, errlen, "malformed .npy header: 'shape' holds something other than "
                               "non-negative integers");
    h->rank++;
    if (!eat(c, ',') && !peek(c, ')'))
      return fail(err, errlen, "malformed .npy header: expected ',' or ')' in 'shape'");
  }
  return true;
}

static bool map_descr(const char *descr, npy_header *h, char *err, size_t errlen) {
  const char *p = descr;
  char order = '|';
  if (*p == '<' || *p == '>' || *p == '|' || *p == '=') order = *p++;
  char kind = *p ? *p++ : '\0';
  char *end = (char *)p;
  errno = 0;
  unsigned long size = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : 0;
  bool clean = size && !errno && !*end;
  for (size_t i = 0; clean && i < N_DTYPES; i++) {
    if (dtypes[i].kind != kind || dtypes[i].size != size) continue;
    if (order == '>' && size > 1)
      return fail(err, errlen, ".npy data is big-endian ('%s'); onyx reads little-endian only "
                               "(convert with a.astype(a.dtype.newbyteorder('<')))", descr);
    if (order == '|' && size > 1) break;   /* '|' means "no byte order": invalid here */
    h->dtype = dtypes[i].dtype;
    return true;
  }
  return fail(err, errlen, ".npy dtype '%s' is not supported (onyx reads " SUPPORTED_LIST ")",
              descr);
}

bool npy_parse(const void *buf, size_t len, npy_header *h, char *err, size_t errlen) {
  const unsigned char *b = buf;
  if (!npy_has_magic(buf, len)) return fail(err, errlen, "not a .npy file (bad magic)");
  if (len < 10) return fail(err, errlen, ".npy header is truncated");
  unsigned major = b[6], minor = b[7];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return fail(err, errlen, ".npy header is truncated");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hstart = 12;
  } else {
    return fail(err, errlen, ".npy format version %u.%u is not supported (onyx reads 1.0, 2.0, 3.0)",
                major, minor);
  }
  if (hlen > len - hstart)
    return fail(err, errlen, ".npy header is truncated (%zu bytes declared, %zu present)", hlen,
                len - hstart);

  npy_header r = {0};
  cursor c = {(const char *)b + hstart, (const char *)b + hstart + hlen};
  char descr[64] = "", key[64];
  bool has_descr = false, has_order = false, has_shape = false, fortran = false;
  if (!eat(&c, '{')) return fail(err, errlen, "malformed .npy header: expected '{'");
  while (!eat(&c, '}')) {
    if (!parse_str(&c, key, sizeof key))
      return fail(err, errlen, "malformed .npy header: expected a quoted key");
    if (!eat(&c, ':')) return fail(err, errlen, "malformed .npy header: expected ':' after '%s'", key);
    bool *seen;
    if (!strcmp(key, "descr")) {
      seen = &has_descr;
      if (peek(&c, '['))
        return fail(err, errlen, ".npy structured dtypes (records) are not supported");
      if (!parse_str(&c, descr, sizeof descr))
        return fail(err, errlen, "malformed .npy header: 'descr' is not a string");
    } else if (!strcmp(key, "fortran_order")) {
      seen = &has_order;
      if (parse_word(&c, "True")) fortran = true;
      else if (parse_word(&c, "False")) fortran = false;
      else return fail(err, errlen, "malformed .npy header: 'fortran_order' is not True/False");
    } else if (!strcmp(key, "shape")) {
      seen = &has_shape;
      if (!parse_shape(&c, &r, err, errlen)) return false;
    } else {
      return fail(err, errlen, "malformed .npy header: unknown key '%s'", key);
    }
    if (*seen) return fail(err, errlen, "malformed .npy header: key '%s' appears twice", key);
    *seen = true;
    if (!eat(&c, ',') && !peek(&c, '}'))
      return fail(err, errlen, "malformed .npy header: expected ',' or '}' after '%s'", key);
  }
  skip_ws(&c);
  if (c.p != c.end) return fail(err, errlen, "malformed .npy header: bytes after the closing '}'");
  if (!has_descr || !has_order || !has_shape)
    return fail(err, errlen, "malformed .npy header: missing '%s'",
                !has_descr ? "descr" : !has_order ? "fortran_order" : "shape");
  if (!map_descr(descr, &r, err, errlen)) return false;
  if (fortran && r.rank >= 2)
    return fail(err, errlen, ".npy array is in Fortran order (fortran_order: True); onyx reads C "
                             "order only (save np.ascontiguousarray(a))");

  /* numel, refusing any product that overflows even if a later dim is 0, so
   * no consumer ever multiplies these dims into an overflow. */
  size_t elem = 0;
  for (size_t i = 0; i < N_DTYPES; i++)
    if (dtypes[i].dtype == r.dtype) elem = dtypes[i].size;
  uint64_t prod = 1;
  bool empty = false;
  for (int d = 0; d < r.rank; d++) {
    uint64_t v = (uint64_t)r.dims[d];
    if (!v) {
      empty = true;
      continue;
    }
    if (prod > (uint64_t)INT64_MAX / v || prod * v > SIZE_MAX / elem)
      return fail(err, errlen, ".npy shape is too large");
    prod *= v;
  }
  r.data_offset = hstart + hlen;
  r.data_bytes = empty ? 0 : (size_t)prod * elem;
  if (r.data_bytes > len - r.data_offset)
    return fail(err, errlen, ".npy data is truncated: the shape needs %zu bytes, the file has %zu",
                r.data_bytes, len - r.data_offset);
  *h = r;
  return true;
}

/* ---- tensors and files ------------------------------------------------------ */

bool npy_to_tensor(const void *buf, size_t len, onyx_tensor **out, char *err, size_t errlen) {
  npy_header h;
  if (!npy_parse(buf, len, &h, err, errlen)) return false;
  onyx_tensor *t;
  onyx_status *s = onyx_tensor_create(h.dtype, h.rank, h.dims, &t);
  if (s) {
    fail(err, errlen, "%s", onyx_status_message(s));
    onyx_status_free(s);
    return false;
  }
  unsigned char *dst = onyx_tensor_data(t);
  if (h.data_bytes) memcpy(dst, (const unsigned char *)buf + h.data_offset, h.data_bytes);
  if (h.dtype == ONYX_DTYPE_BOOL)
    for (size_t i = 0; i < h.data_bytes; i++) dst[i] = dst[i] != 0;
  *out = t;
  return true;
}

/* The whole file at path in a new buffer (caller frees). */
static bool read_file(const char *path, unsigned char **out, size_t *out_len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, "cannot open '%s': %s", path, strerror(errno));
  bool ok = false;
  unsigned char *buf = NULL;
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    fail(err, errlen, "'%s' is not a regular file", path);
    goto done;
  }
  size_t len = (size_t)st.st_size;
  buf = malloc(len ? len : 1);
  if (!buf) {
    fail(err, errlen, "'%s': out of memory reading %zu bytes", path, len);
    goto done;
  }
  if (fread(buf, 1, len, f) != len) {
    fail(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    goto done;
  }
  *out = buf;
  *out_len = len;
  buf = NULL;
  ok = true;
done:
  free(buf);
  fclose(f);
  return ok;
}

bool npy_load(const char *path, onyx_tensor **out, char *err, size_t errlen) {
  unsigned char *buf;
  size_t len;
  if (!read_file(path, &buf, &len, err, errlen)) return false;
  char msg[512];
  bool ok = npy_to_tensor(buf, len, out, msg, sizeof msg);
  if (!ok) fail(err, errlen, "'%s': %s", path, msg);
  free(buf);
  return ok;
}

bool npy_save(const char *path, onyx_tensor *t, char *err, size_t errlen) {
  const char *descr = NULL;
  for (size_t i = 0; i < N_DTYPES; i++)
    if (dtypes[i].dtype == onyx_tensor_dtype(t)) descr = dtypes[i].descr;
  if (onyx_tensor_kind(t) != ONYX_VALUE_TENSOR || !descr)
    return fail(err, errlen, "'%s': .npy cannot hold a %s %s", path,
                onyx_tensor_kind(t) == ONYX_VALUE_TENSOR ? "tensor of" : "value of kind",
                onyx_tensor_kind(t) == ONYX_VALUE_TENSOR ? onyx_dtype_name(onyx_tensor_dtype(t))
                : onyx_tensor_kind(t) == ONYX_VALUE_SEQUENCE ? "sequence" : "optional");
  /* Header: magic, version 1.0, length, dict padded with spaces to a 64-byte
   * multiple and ended by '\n' (what numpy writes). ONYX_MAX_RANK dims of at
   * most 20 digits keep it far below version 1.0's 65535-byte limit. */
  char hdr[640];
  int rank = onyx_tensor_rank(t);
  const int64_t *dims = onyx_tensor_dims(t);
  size_t n = 10;
  n += (size_t)snprintf(hdr + n, sizeof hdr - n, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                        descr);
  for (int d = 0; d < rank; d++)
    n += (size_t)snprintf(hdr + n, sizeof hdr - n, d ? ", %lld" : "%lld", (long long)dims[d]);
  n += (size_t)snprintf(hdr + n, sizeof hdr - n, rank == 1 ? ",), }" : "), }");
  while ((n + 1) % 64) hdr[n++] = ' ';
  hdr[n++] = '\n';
  memcpy(hdr, npy_magic, sizeof npy_magic);
  hdr[6] = 1;
  hdr[7] = 0;
  hdr[8] = (char)((n - 10) & 0xff);
  hdr[9] = (char)((n - 10) >> 8);

  FILE *f = fopen(path, "wb");
  if (!f) return fail(err, errlen, "cannot create '%s': %s", path, strerror(errno));
  size_t nbytes = onyx_tensor_nbytes(t);
  bool ok = fwrite(hdr, 1, n, f) == n &&
            (!nbytes || fwrite(onyx_tensor_data(t), 1, nbytes, f) == nbytes);
  int saved = errno;
  if (fclose(f)) ok = false, saved = errno;
  if (!ok) return fail(err, errlen, "cannot write '%s': %s", path, strerror(saved));
  return true;
}

/* ---- .npz archives ---------------------------------------------------------- */

/* Little-endian fields of zip records (bounds checked by the callers). */
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

#define ZIP_EOCD 0x06054b50u      /* end of central directory */
#define ZIP_CENTRAL 0x02014b50u   /* central directory entry */
#define ZIP_LOCAL 0x04034b50u     /* local file header */
#define ZIP_EOCD_LEN 22
#define ZIP_CENTRAL_LEN 46
#define ZIP_LOCAL_LEN 30

/* CRC-32 (the zip polynomial, reflected), table built per call: a member is
 * checked once, and the table costs less than a few KiB of data. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* Sizes and offset of a central directory entry: fields at 0xffffffff are
 * in its ZIP64 extra field (id 1), in the order size, csize, offset. */
static bool zip64_fields(const unsigned char *extra, size_t len, uint64_t *usize, uint64_t *csize,
                         uint64_t *offset) {
  for (size_t at = 0; at + 4 <= len;) {
    uint32_t id = le16(extra + at), sz = le16(extra + at + 2);
    if (at + 4 + sz > len) return false;
    if (id == 1) {
      const unsigned char *f = extra + at + 4, *end = f + sz;
      uint64_t *fields[3] = {usize, csize, offset};
      for (int i = 0; i < 3; i++) {
        if (*fields[i] != 0xffffffffu) continue;
        if (end - f < 8) return false;
        *fields[i] = le64(f);
        f += 8;
      }
      return true;
    }
    at += 4 + sz;
  }
  return *usize != 0xffffffffu && *csize != 0xffffffffu && *offset != 0xffffffffu;
}

void npz_close(npz *z) {
  for (int i = 0; z->m && i < z->n; i++) free(z->m[i].name);
  free(z->m);
  free(z->owned);
  memset(z, 0, sizeof *z);
}

bool npz_parse(const void *data, size_t len, npz *z, char *err, size_t errlen) {
  const unsigned char *buf = data;
  memset(z, 0, sizeof *z);
  z->buf = buf;
  z->len = len;
  /* the end record is the last 22 bytes plus a comment of at most 64 KiB */
  size_t eocd = len, lo = len > ZIP_EOCD_LEN + 65535 ? len - ZIP_EOCD_LEN - 65535 : 0;
  for (size_t at = len - ZIP_EOCD_LEN; len >= ZIP_EOCD_LEN; at--) {
    if (le32(buf + at) == ZIP_EOCD) {
      eocd = at;
      break;
    }
    if (at == lo) break;
  }
  if (eocd == len) return fail(err, errlen, "not a zip archive (no end of central directory record)");
  uint32_t count = le16(buf + eocd + 10), cd_size = le32(buf + eocd + 12), cd_off = le32(buf + eocd + 16);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
    return fail(err, errlen, "ZIP64 archives (over 65535 arrays or 4 GiB) are not supported");
  if (le16(buf + eocd + 4) != 0 || le16(buf + eocd + 6) != 0 || le16(buf + eocd + 8) != count)
    return fail(err, errlen, "multi-volume zip archives are not supported");
  if (cd_off > eocd || cd_size > eocd - cd_off)
    return fail(err, errlen, "corrupt zip archive (central directory outside the file)");
  if (!(z->m = calloc((size_t)count + 1, sizeof *z->m))) return fail(err, errlen, "out of memory");
  size_t at = cd_off, end = cd_off + cd_size;
  for (uint32_t i = 0; i < count; i++) {
    if (end - at < ZIP_CENTRAL_LEN || le32(buf + at) != ZIP_CENTRAL) {
      fail(err, errlen, "corrupt zip archive (central directory entry %u)", i);
      goto bad;
    }
    const unsigned char *e = buf + at;
    size_t name_len = le16(e + 28), extra_len = le16(e + 30), comment_len = le16(e + 32);
    if (end - at - ZIP_CENTRAL_LEN < name_len + extra_len + comment_len) {
      fail(err, errlen, "corrupt zip archive (central directory entry %u)", i);
      goto bad;
    }
    const char *name = (const char *)e + ZIP_CENTRAL_LEN;
    uint64_t csize = le32(e + 20), usize = le32(e + 24), off = le32(e + 42);
    if (!zip64_fields(e + ZIP_CENTRAL_LEN + name_len, extra_len, &usize, &csize, &off)) {
      fail(err, errlen, "corrupt zip archive (ZIP64 sizes of member '%.*s')", (int)name_len, name);
      goto bad;
    }
    if (le16(e + 8) & 1) {
      fail(err, errlen, "member '%.*s' is encrypted", (int)name_len, name);
      goto bad;
    }
    /* the data follows the member's local header, whose own name and extra
     * field lengths may differ from the central directory's */
    if (off > len || len - off < ZIP_LOCAL_LEN || le32(buf + off) != ZIP_LOCAL) {
      fail(err, errlen, "corrupt zip archive (local header of member '%.*s')", (int)name_len, name);
      goto bad;
    }
    uint64_t data_off = off + ZIP_LOCAL_LEN + le16(buf + off + 26) + le16(buf + off + 28);
    if (data_off > len || csize > len - data_off) {
      fail(err, errlen, "corrupt zip archive (member '%.*s' runs past the end of the file)", (int)name_len, name);
      goto bad;
    }
    npz_member *m = &z->m[z->n];
    size_t keep = name_len >= 4 && !memcmp(name + name_len - 4, ".npy", 4) ? name_len - 4 : name_len;
    if (!(m->name = malloc(keep + 1))) {
      fail(err, errlen, "out of memory");
      goto bad;
    }
    memcpy(m->name, name, keep);
    m->name[keep] = '\0';
    z->n++;
    m->method = (int)le16(e + 10);
    m->crc = le32(e + 16);
    m->offset = (size_t)data_off;
    m->size = (size_t)csize;
    m->usize = usize;
    at += ZIP_CENTRAL_LEN + name_len + extra_len + comment_len;
  }
  return true;
bad:
  npz_close(z);
  return false;
}

bool npz_open(const char *path, npz *z, char *err, size_t errlen) {
  unsigned char *buf;
  size_t len;
  memset(z, 0, sizeof *z);
  if (!read_file(path, &buf, &len, err, errlen)) return false;
  char msg[512];
  if (!npz_parse(buf, len, z, msg, sizeof msg)) {
    free(buf);
    return fail(err, errlen, "'%s': %s", path, msg);
  }
  z->owned = buf;
  return true;
}

bool npz_get(const npz *z, const char *name, onyx_tensor **out, char *err, size_t errlen) {
  const npz_member *m = NULL;
  for (int i = 0; i < z->n && !m; i++)
    if (!strcmp(z->m[i].name, name)) m = &z->m[i];
  if (!m) {
    char have[256] = "";
    size_t n = 0;
    for (int i = 0; i < z->n && n < sizeof have; i++)
      n += (size_t)snprintf(have + n, sizeof have - n, "%s'%s'", i ? ", " : "", z->m[i].name);
    return fail(err, errlen, "no array '%s' (it holds %s)", name, z->n ? have : "none");
  }
  if (m->method == 8)
    return fail(err, errlen, "array '%s' is deflate-compressed (np.savez_compressed); onyx reads "
                "uncompressed .npz files (np.savez)", name);
  if (m->method != 0)
    return fail(err, errlen, "array '%s' uses zip compression method %d; onyx reads uncompressed "
                ".npz files (np.savez)", name, m->method);
  if (m->usize != m->size)
    return fail(err, errlen, "corrupt zip archive (stored array '%s' has two sizes)", name);
  const unsigned char *data = z->buf + m->offset;
  if (crc32_of(data, m->size) != m->crc)
    return fail(err, errlen, "corrupt zip archive (CRC mismatch in array '%s')", name);
  char msg[400];
  if (!npy_to_tensor(data, m->size, out, msg, sizeof msg))
    return fail(err, errlen, "array '%s': %s", name, msg);
  return true;
}
