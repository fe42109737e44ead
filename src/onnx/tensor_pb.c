/* tensor_pb.c — TensorProto <-> onyx_tensor, external data, and the .pb files
 * of ONNX's test data (TensorProto, SequenceProto, OptionalProto).
 *
 * Every encoding ONNX allows is read: raw_data (little-endian), the typed
 * repeated fields (float_data, int32_data carrying the bit patterns of all
 * narrow types, int64_data, double_data, uint64_data, string_data) and
 * external files. Counts are checked against the shape before anything is
 * allocated, so a malformed file yields INVALID_MODEL naming the tensor, never
 * a huge allocation or an overread. Writing always uses raw_data (strings:
 * string_data). External data is read into owned memory or, for a model,
 * borrowed from a copy-on-write mapping of the file that the model keeps
 * (so weights of large models are not copied). SequenceProto/OptionalProto
 * are not in the system's onnx.proto, so they go through the small wire
 * codec of pb_util.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "ir/ir.h"
#include "onnx_private.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onyx reads raw_data as little-endian and supports little-endian hosts only"
#endif

/* ---- reading ------------------------------------------------------------------ */

/* Parses a non-negative decimal integer occupying all of s. */
static bool parse_size(const char *s, int64_t *v) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || *end || x < 0) return false;
  *v = x;
  return true;
}

/* A location is acceptable when relative and free of ".." components. */
static bool location_is_safe(const char *loc) {
  if (!*loc || loc[0] == '/') return false;
  for (const char *p = loc; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return false;
    p += n + (slash ? 1 : 0);
  }
  return true;
}

/* Fills t (a header without data) from its external file: borrowing the
 * model's mapping where possible, else reading into new memory. */
static onyx_status *read_external(const Onnx__TensorProto *tp, const char *dir, onyx_ext_files *ext,
                                  const char *what, size_t nbytes, onyx_tensor *t) {
  const char *loc = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    if (!e->key) continue;
    if (!strcmp(e->key, "location")) {
      loc = e->value;
    } else if ((!strcmp(e->key, "offset") && !parse_size(e->value, &offset)) ||
               (!strcmp(e->key, "length") && !parse_size(e->value, &length))) {
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: external data %s '%s' is not a byte count",
                        what, e->key, e->value ? e->value : "");
    }
  }
  if (!loc || !*loc)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: external data without a location", what);
  if (!location_is_safe(loc))
    return onyx_error(ONYX_ERR_INVALID_MODEL,
                      "%s: external data location '%s' must be a relative path inside the model's folder",
                      what, loc);
  if (!dir)
    return onyx_error(ONYX_ERR_INVALID_MODEL,
                      "%s: external data '%s' needs the model's folder, but none was given", what, loc);
  size_t plen = strlen(dir) + strlen(loc) + 2;
  char *path = onyx_malloc(plen);
  if (!path) return onyx_error_oom();
  snprintf(path, plen, "%s/%s", dir, loc);
  onyx_status *s = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    s = onyx_error(errno == ENOENT ? ONYX_ERR_NOT_FOUND : ONYX_ERR_IO,
                   "%s: external data file '%s': %s", what, path, strerror(errno));
    goto done;
  }
  /* A symlink may still lead outside the folder; compare resolved paths. */
  char rdir[PATH_MAX], rfile[PATH_MAX];
  if (!realpath(dir, rdir) || !realpath(path, rfile)) {
    s = onyx_error(ONYX_ERR_IO, "%s: cannot resolve '%s': %s", what, path, strerror(errno));
    goto done;
  }
  size_t dl = strlen(rdir);
  if (strncmp(rfile, rdir, dl) || (rfile[dl] != '/' && strcmp(rdir, "/"))) {
    s = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: external data '%s' resolves outside the model's folder",
                   what, loc);
    goto done;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s = onyx_error(ONYX_ERR_IO, "%s: external data '%s' is not a readable file", what, path);
    goto done;
  }
  if (length < 0) length = offset <= st.st_size ? st.st_size - offset : -1;
  if (length < 0 || offset > st.st_size || length > st.st_size - offset) {
    s = onyx_error(ONYX_ERR_INVALID_MODEL,
                   "%s: external data range offset %lld length %lld exceeds '%s' (%lld bytes)", what,
                   (long long)offset, (long long)length, path, (long long)st.st_size);
    goto done;
  }
  if ((uint64_t)length != nbytes) {
    s = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: external data holds %lld bytes, the shape needs %zu",
                   what, (long long)length, nbytes);
    goto done;
  }
  if (ext && nbytes && offset % 64 == 0) {
    if (!ext->path && !ext->model->map) {
      void *map = onyx_map_fd_cow(fd, (size_t)st.st_size);
      if (map && !(ext->path = onyx_strdup(rfile))) {
        onyx_unmap_file(map, (size_t)st.st_size);
        s = onyx_error_oom();
        goto done;
      }
      if (map) {
        ext->model->map = map;
        ext->model->map_len = (size_t)st.st_size;
      }
    }
    if (ext->path && !strcmp(ext->path, rfile)) {
      t->data = (char *)ext->model->map + offset;
      t->nbytes = nbytes;
      t->owns_data = false;
      goto done;
    }
  }
  if ((s = onyx_tensor_alloc(t, t->rank, NULL))) goto done;
  for (size_t got = 0; got < nbytes;) {
    ssize_t r = pread(fd, (char *)t->data + got, nbytes - got, (off_t)(offset + (int64_t)got));
    if (r <= 0) {
      s = onyx_error(ONYX_ERR_IO, "%s: reading '%s' failed: %s", what, path,
                     r < 0 ? strerror(errno) : "unexpected end of file");
      goto done;
    }
    got += (size_t)r;
  }
done:
  if (fd >= 0) close(fd);
  onyx_free(path);
  return s;
}

/* Number of values the typed field for dtype must hold for numel elements,
 * and which field that is (for messages); the count found is written to *have. */
static size_t typed_count(const Onnx__TensorProto *tp, onyx_dtype dt, int64_t numel,
                          size_t *have, const char **field) {
  size_t n = (size_t)numel;
  switch (dt) {
    case ONYX_DTYPE_FLOAT: *have = tp->n_float_data; *field = "float_data"; return n;
    case ONYX_DTYPE_COMPLEX64: *have = tp->n_float_data; *field = "float_data"; return 2 * n;
    case ONYX_DTYPE_DOUBLE: *have = tp->n_double_data; *field = "double_data"; return n;
    case ONYX_DTYPE_COMPLEX128: *have = tp->n_double_data; *field = "double_data"; return 2 * n;
    case ONYX_DTYPE_INT64: *have = tp->n_int64_data; *field = "int64_data"; return n;
    case ONYX_DTYPE_UINT32: case ONYX_DTYPE_UINT64:
      *have = tp->n_uint64_data; *field = "uint64_data"; return n;
    case ONYX_DTYPE_STRING: *have = tp->n_string_data; *field = "string_data"; return n;
    case ONYX_DTYPE_INT4: case ONYX_DTYPE_UINT4:
      *have = tp->n_int32_data; *field = "int32_data"; return (n + 1) / 2;
    default: *have = tp->n_int32_data; *field = "int32_data"; return n;
  }
}

/* Copies the typed field into t->data (counts already checked). */
static onyx_status *fill_typed(const Onnx__TensorProto *tp, onyx_tensor *t, size_t count) {
  void *d = t->data;
  if (!count) return NULL;
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: case ONYX_DTYPE_COMPLEX64:
      memcpy(d, tp->float_data, count * sizeof(float));
      break;
    case ONYX_DTYPE_DOUBLE: case ONYX_DTYPE_COMPLEX128:
      memcpy(d, tp->double_data, count * sizeof(double));
      break;
    case ONYX_DTYPE_INT64:
      memcpy(d, tp->int64_data, count * sizeof(int64_t));
      break;
    case ONYX_DTYPE_UINT64:
      memcpy(d, tp->uint64_data, count * sizeof(uint64_t));
      break;
    case ONYX_DTYPE_UINT32:
      for (size_t i = 0; i < count; i++) ((uint32_t *)d)[i] = (uint32_t)tp->uint64_data[i];
      break;
    case ONYX_DTYPE_INT32:
      memcpy(d, tp->int32_data, count * sizeof(int32_t));
      break;
    case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16: case ONYX_DTYPE_FLOAT16:
    case ONYX_DTYPE_BFLOAT16:
      for (size_t i = 0; i < count; i++) ((uint16_t *)d)[i] = (uint16_t)tp->int32_data[i];
      break;
    case ONYX_DTYPE_BOOL:
      for (size_t i = 0; i < count; i++) ((uint8_t *)d)[i] = tp->int32_data[i] != 0;
      break;
    case ONYX_DTYPE_STRING: {
      char **s = d;
      for (size_t i = 0; i < count; i++) {
        const ProtobufCBinaryData *b = &tp->string_data[i];
        if (!(s[i] = onyx_strndup(b->data ? (const char *)b->data : "", b->len))) return onyx_error_oom();
      }
      break;
    }
    default: /* one byte per value: int8, uint8, float8 kinds, packed int4 pairs */
      for (size_t i = 0; i < count; i++) ((uint8_t *)d)[i] = (uint8_t)tp->int32_data[i];
      break;
  }
  return NULL;
}

onyx_status *onyx_tensor_from_proto(const Onnx__TensorProto *tp, const char *dir,
                                    onyx_ext_files *ext, const char *what, onyx_tensor **out) {
  int dt = tp->has_data_type ? tp->data_type : 0;
  if (dt == 0) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: tensor has no data type", what);
  if (dt < 0 || dt >= ONYX_DTYPE_COUNT_)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: tensor data type %d is not supported", what, dt);
  if (tp->n_dims > ONYX_MAX_RANK)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: tensor has %zu dims, more than the %d supported",
                      what, tp->n_dims, ONYX_MAX_RANK);
  if (tp->segment)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: segmented tensors are not supported", what);
  int64_t numel = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    int64_t d = tp->dims[i];
    if (d < 0)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: dim %zu is negative (%lld)", what, i, (long long)d);
    if (d && numel > (INT64_MAX / 16) / d)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: shape is too large", what);
    numel *= d;
  }
  onyx_dtype dtype = (onyx_dtype)dt;
  size_t nbytes = onyx_dtype_bytes(dtype, numel);
  bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  size_t want = 0, have = 0;
  const char *field = "raw_data";
  if (external || dtype == ONYX_DTYPE_STRING || !tp->has_raw_data) {
    if (external && dtype == ONYX_DTYPE_STRING)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: string tensors cannot use external data", what);
    if (!external) want = typed_count(tp, dtype, numel, &have, &field);
  } else if (tp->raw_data.len != nbytes) {
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: raw_data has %zu bytes, a %s tensor of %lld elements needs %zu",
                      what, tp->raw_data.len, onyx_dtype_name(dtype), (long long)numel, nbytes);
  }
  if (want != have)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: %s holds %zu values, a %s tensor of %lld elements needs %zu",
                      what, field, have, onyx_dtype_name(dtype), (long long)numel, want);
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_new_empty(dtype, (int)tp->n_dims, tp->dims, &t));
  onyx_status *s = NULL;
  if (external) {
    s = read_external(tp, dir, ext, what, nbytes, t);
  } else if (!(s = onyx_tensor_alloc(t, t->rank, NULL))) {
    if (dtype != ONYX_DTYPE_STRING && tp->has_raw_data) {
      if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
      if (dtype == ONYX_DTYPE_BOOL)
        for (size_t i = 0; i < nbytes; i++) ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    } else {
      s = fill_typed(tp, t, want);
    }
  }
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  *out = t;
  return NULL;
}

/* ---- writing -------------------------------------------------------------------- */

onyx_status *onyx_tensor_to_proto(const onyx_tensor *t, const char *name, onyx_arena *a,
                                  Onnx__TensorProto *tp) {
  if (t->kind != ONYX_KIND_TENSOR || (!t->data && onyx_numel(t->rank, t->dims)))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "tensor '%s' is not a dense tensor with data",
                      name ? name : "");
  tp->n_dims = (size_t)t->rank;
  tp->dims = (int64_t *)t->dims;
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  tp->name = (char *)name;
  if (t->dtype == ONYX_DTYPE_STRING) {
    size_t n = (size_t)onyx_numel(t->rank, t->dims);
    tp->string_data = onyx_arena_alloc(a, n + 1, sizeof *tp->string_data);
    if (!tp->string_data) return onyx_error_oom();
    char *const *s = t->data;
    for (size_t i = 0; i < n; i++) {
      tp->string_data[i].data = (uint8_t *)(s[i] ? s[i] : "");
      tp->string_data[i].len = s[i] ? strlen(s[i]) : 0;
    }
    tp->n_string_data = n;
  } else {
    tp->has_raw_data = 1;
    tp->raw_data.data = t->data;
    tp->raw_data.len = onyx_dtype_bytes(t->dtype, onyx_numel(t->rank, t->dims));
  }
  return NULL;
}

/* ---- test-data files ------------------------------------------------------------- */

/* SequenceProto / OptionalProto field numbers (onnx-data.proto); both
 * messages share them, and their elem_type values. */
enum { F_NAME = 1, F_ELEM_TYPE = 2, F_TENSOR = 3, F_SPARSE = 4, F_SEQUENCE = 5, F_MAP = 6, F_OPTIONAL = 7 };
enum { ELEM_UNDEFINED = 0, ELEM_TENSOR = 1, ELEM_SEQUENCE = 3, ELEM_OPTIONAL = 5 };
#define MAX_NESTING 32

static onyx_status *tensor_from_bytes(const uint8_t *p, size_t len, const char *dir, const char *what,
                                      onyx_tensor **out, char **name) {
  onyx_pb_alloc pa;
  onyx_pb_alloc_init(&pa);
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pa.base, len, p);
  if (!tp)
    return pa.failed ? onyx_error_oom() : onyx_error(ONYX_ERR_INVALID_MODEL, "%s: not a valid TensorProto", what);
  /* Nothing writes segments; one here means the bytes are a SequenceProto. */
  onyx_status *s = tp->segment ? onyx_error(ONYX_ERR_INVALID_MODEL, "%s: not a TensorProto", what)
                               : onyx_tensor_from_proto(tp, dir, NULL, what, out);
  if (!s && name && !(*name = onyx_strdup(tp->name ? tp->name : ""))) {
    onyx_tensor_free(*out);
    s = onyx_error_oom();
  }
  onnx__tensor_proto__free_unpacked(tp, &pa.base);
  return s;
}

/* Decodes a SequenceProto or OptionalProto. kind: the kind the enclosing
 * field implies, or -1 at top level where the two are told apart only by
 * shape: several values make a sequence, none with elem_type UNDEFINED an
 * optional; one value is ambiguous and reads as a sequence. */
static onyx_status *container_from_bytes(const uint8_t *p, size_t len, const char *dir,
                                         const char *what, int kind, int depth,
                                         onyx_tensor **out, char **name) {
  if (depth > MAX_NESTING)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: sequences nested too deeply", what);
  const uint8_t *q = p, *end = p + len;
  onyx_wire_field f;
  int n = 0;
  uint64_t elem_type = ELEM_UNDEFINED;
  const uint8_t *name_data = NULL;
  size_t name_len = 0;
  while (q < end) {
    if (!onyx_wire_next(&q, end, &f))
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: malformed protobuf", what);
    if (f.number == F_NAME && f.wire_type == 2) {
      name_data = f.data;
      name_len = f.len;
    } else if (f.number == F_ELEM_TYPE && f.wire_type == 0) {
      elem_type = f.value;
    } else if (f.number >= F_TENSOR && f.number <= F_OPTIONAL && f.wire_type == 2) {
      if (f.number == F_SPARSE || f.number == F_MAP)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: sparse tensors and maps are not supported", what);
      n++;
    } else if (f.number <= F_OPTIONAL) {
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: field %u has the wrong wire type", what, f.number);
    }
  }
  if (kind < 0) kind = n == 0 && elem_type == ELEM_UNDEFINED ? ONYX_KIND_OPTIONAL : ONYX_KIND_SEQUENCE;
  if (kind == ONYX_KIND_OPTIONAL && n > 1)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: optional holds %d values", what, n);
  onyx_tensor *t = onyx_calloc(1, sizeof *t);
  if (!t) return onyx_error_oom();
  t->kind = (onyx_kind)kind;
  onyx_status *s = NULL;
  if (n && !(t->elems = onyx_calloc((size_t)n, sizeof *t->elems))) s = onyx_error_oom();
  for (q = p; !s && q < end;) {
    onyx_wire_next(&q, end, &f);
    if (f.number < F_TENSOR || f.number > F_OPTIONAL || f.wire_type != 2) continue;
    onyx_tensor **e = &t->elems[t->n_elems];
    if (f.number == F_TENSOR)
      s = tensor_from_bytes(f.data, f.len, dir, what, e, NULL);
    else
      s = container_from_bytes(f.data, f.len, dir, what,
                               f.number == F_SEQUENCE ? ONYX_KIND_SEQUENCE : ONYX_KIND_OPTIONAL,
                               depth + 1, e, NULL);
    if (s) break;
    if (t->n_elems == 0) t->dtype = (*e)->dtype;
    t->n_elems++;
  }
  if (!s && name && !(*name = onyx_strndup(name_data ? (const char *)name_data : "", name_len)))
    s = onyx_error_oom();
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  *out = t;
  return NULL;
}

/* The highest field number at the top level of a message (0 when empty or
 * malformed: the decoders report malformed bytes themselves). */
static uint32_t max_field(const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  onyx_wire_field f;
  uint32_t top = 0;
  while (p < end) {
    if (!onyx_wire_next(&p, end, &f)) return 0;
    if (f.number > top) top = f.number;
  }
  return top;
}

/* Writes path's folder (or ".") into a new string. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return onyx_strdup(".");
  return onyx_strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

onyx_status *onyx_tensor_load_pb(const char *path, onyx_tensor **out, char **name) {
  void *data;
  size_t len;
  ONYX_TRY(onyx_map_file(path, &data, &len));
  char *dir = dir_of(path);
  onyx_status *s = NULL;
  if (!dir) {
    s = onyx_error_oom();
    goto done;
  }
  /* The file does not say which message it holds, and the wire formats
   * overlap: a container's name (field 1) reads as a TensorProto's packed dims,
   * its elem_type (2) as data_type and its values (3-7) as segment or typed
   * data. So try the tensor first and fall back to a container when that
   * fails: a container misread as a tensor fails the count checks, shows a
   * segment, or, when its name is longer than ONYX_MAX_RANK bytes, has "too
   * many dims" (NOT_IMPLEMENTED). That last error is also what a real tensor
   * of high rank gives, so then the container is taken only if it decodes and
   * the file has no field beyond the containers' last (7): TensorProto files
   * carry name (8) or raw_data (9). */
  s = tensor_from_bytes(data, len, dir, path, out, name);
  onyx_code code = onyx_status_code(s);
  if (code == ONYX_ERR_INVALID_MODEL || (code == ONYX_ERR_NOT_IMPLEMENTED && max_field(data, len) <= F_OPTIONAL)) {
    onyx_status *s2 = container_from_bytes(data, len, dir, path, -1, 0, out, name);
    if (!s2 || (code == ONYX_ERR_INVALID_MODEL && onyx_status_code(s2) != ONYX_ERR_INVALID_MODEL)) {
      onyx_status_free(s);
      s = s2;
    } else {
      onyx_status_free(s2);
    }
  }
done:
  onyx_free(dir);
  onyx_unmap_file(data, len);
  return s;
}

/* Appends t (any kind) to b as field `field` of its parent, or, with
 * field 0, as the top-level message. */
static onyx_status *encode_value(const onyx_tensor *t, const char *name, uint32_t field,
                                 onyx_wbuf *b, int depth) {
  if (depth > MAX_NESTING) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "sequences nested too deeply");
  onyx_wbuf own = {0};
  onyx_status *s = NULL;
  if (t->kind == ONYX_KIND_TENSOR) {
    onyx_arena *a = onyx_arena_new();
    if (!a) return onyx_error_oom();
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    s = onyx_tensor_to_proto(t, name, a, &tp);
    if (!s) {
      own.cap = own.len = onnx__tensor_proto__get_packed_size(&tp);
      own.data = onyx_malloc(own.len);
      if (own.data) onnx__tensor_proto__pack(&tp, own.data);
      else s = onyx_error_oom();
    }
    onyx_arena_free(a);
  } else {
    if (name) onyx_wbuf_bytes(&own, F_NAME, name, strlen(name));
    int elem = ELEM_UNDEFINED;
    if (t->n_elems) {
      onyx_kind k = t->elems[0]->kind;
      elem = k == ONYX_KIND_TENSOR ? ELEM_TENSOR : k == ONYX_KIND_SEQUENCE ? ELEM_SEQUENCE : ELEM_OPTIONAL;
    } else if (t->kind == ONYX_KIND_SEQUENCE) {
      elem = ELEM_TENSOR;
    }
    onyx_wbuf_varint(&own, F_ELEM_TYPE, (uint64_t)elem);
    for (int i = 0; !s && i < t->n_elems; i++) {
      onyx_kind k = t->elems[i]->kind;
      uint32_t fno = k == ONYX_KIND_TENSOR ? F_TENSOR : k == ONYX_KIND_SEQUENCE ? F_SEQUENCE : F_OPTIONAL;
      s = encode_value(t->elems[i], NULL, fno, &own, depth + 1);
    }
  }
  if (!s && own.oom) s = onyx_error_oom();
  if (!s) {
    if (field) {
      onyx_wbuf_bytes(b, field, own.data, own.len);
    } else {
      *b = own;
      own.data = NULL;
    }
  }
  onyx_free(own.data);
  return s;
}

onyx_status *onyx_tensor_save_pb(const onyx_tensor *t, const char *name, const char *path) {
  onyx_wbuf b = {0};
  onyx_status *s = encode_value(t, name, 0, &b, 0);
  if (!s) s = onyx_write_file(path, b.data, b.len);
  onyx_free(b.data);
  if (s && onyx_status_code(s) != ONYX_ERR_IO) s = onyx_error_wrap(s, "%s", path);
  return s;
}
