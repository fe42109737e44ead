/* tensor.c — tensor lifetime, shape helpers and element access. */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "half.h"
#include "status.h"

int64_t onyx_mul_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

int64_t onyx_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0) return 0;
    n = onyx_mul_sat(n, dims[i]);
  }
  return n;
}

bool onyx_dims_fit(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (dims[i] >= 0) n = onyx_mul_sat(n, dims[i]);
  return n <= ONYX_MAX_NUMEL || onyx_numel(rank, dims) == 0;
}

size_t onyx_dtype_size(onyx_dtype t) {
  switch (t) {
    case ONYX_DTYPE_FLOAT: case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: return 4;
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_INT8: case ONYX_DTYPE_BOOL:
    case ONYX_DTYPE_FLOAT8E4M3FN: case ONYX_DTYPE_FLOAT8E4M3FNUZ:
    case ONYX_DTYPE_FLOAT8E5M2: case ONYX_DTYPE_FLOAT8E5M2FNUZ: return 1;
    case ONYX_DTYPE_UINT16: case ONYX_DTYPE_INT16: case ONYX_DTYPE_FLOAT16:
    case ONYX_DTYPE_BFLOAT16: return 2;
    case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: case ONYX_DTYPE_DOUBLE:
    case ONYX_DTYPE_COMPLEX64: return 8;
    case ONYX_DTYPE_COMPLEX128: return 16;
    case ONYX_DTYPE_STRING: return sizeof(char *);
    default: return 0;
  }
}

size_t onyx_dtype_bytes(onyx_dtype dtype, int64_t numel) {
  if (dtype == ONYX_DTYPE_INT4 || dtype == ONYX_DTYPE_UINT4) return numel / 2 + (numel & 1);
  size_t r;
  return __builtin_mul_overflow((size_t)numel, onyx_dtype_size(dtype), &r) ? SIZE_MAX : r;
}

const char *onyx_dtype_name(onyx_dtype t) {
  static const char *names[] = {
      "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
      "string", "bool", "float16", "float64", "uint32", "uint64", "complex64",
      "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
      "float8e5m2fnuz", "uint4", "int4"};
  if ((int)t < 0 || t >= ONYX_DTYPE_COUNT_) return "unknown";
  return names[t];
}

static onyx_status *check_shape(int rank, const int64_t *dims) {
  if (rank < 0 || rank > ONYX_MAX_RANK)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "rank %d outside 0..%d", rank, ONYX_MAX_RANK);
  for (int i = 0; i < rank; i++)
    if (dims[i] < 0)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "dim %d is negative (%lld)", i,
                        (long long)dims[i]);
  if (!onyx_dims_fit(rank, dims))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "shape has more elements than onyx can hold (over %lld)",
                      (long long)ONYX_MAX_NUMEL);
  return NULL;
}

onyx_status *onyx_tensor_new_empty(onyx_dtype dtype, int rank, const int64_t *dims,
                                   onyx_tensor **out) {
  ONYX_TRY(check_shape(rank, dims));
  onyx_tensor *t = onyx_calloc(1, sizeof *t);
  if (!t) return onyx_error_oom();
  t->dtype = dtype;
  t->rank = rank;
  if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
  *out = t;
  return NULL;
}

onyx_status *onyx_tensor_alloc(onyx_tensor *t, int rank, const int64_t *dims) {
  return onyx_tensor_alloc_async(t, rank, dims, NULL);
}

onyx_status *onyx_tensor_alloc_async(onyx_tensor *t, int rank, const int64_t *dims, void *run_state) {
  if (t->data) return onyx_error(ONYX_ERR_RUNTIME, "tensor already has data");
  if (dims) {
    ONYX_TRY(check_shape(rank, dims));
    t->rank = rank;
    if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
  }
  size_t n = onyx_dtype_bytes(t->dtype, onyx_numel(t->rank, t->dims));
  onyx_allocator *a = onyx_tensor_allocator(t);
  if (t->dtype == ONYX_DTYPE_STRING && !a->host)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "string tensors live on the host, not on %s", a->name);
  t->data = t->dtype == ONYX_DTYPE_STRING ? onyx_calloc(1, n) : onyx_allocator_alloc_async(a, n, run_state);
  if (!t->data)
    return a->host ? onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes", n)
                   : onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: out of memory allocating %zu bytes", a->name, n);
  t->nbytes = n;
  t->owns_data = true;
  return NULL;
}

onyx_status *onyx_tensor_create(onyx_dtype dtype, int rank, const int64_t *dims,
                                onyx_tensor **out) {
  if (dtype <= ONYX_DTYPE_UNDEFINED || dtype >= ONYX_DTYPE_COUNT_)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_new_empty(dtype, rank, dims, &t));
  onyx_status *s = onyx_tensor_alloc(t, rank, dims);
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  if (dtype != ONYX_DTYPE_STRING) memset(t->data, 0, t->nbytes);
  *out = t;
  return NULL;
}

onyx_status *onyx_tensor_borrow(onyx_dtype dtype, int rank, const int64_t *dims, void *data,
                                size_t nbytes, onyx_tensor **out) {
  if (dtype <= ONYX_DTYPE_UNDEFINED || dtype >= ONYX_DTYPE_COUNT_)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
  ONYX_TRY(check_shape(rank, dims));
  size_t need = onyx_dtype_bytes(dtype, onyx_numel(rank, dims));
  if (nbytes < need)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "buffer of %zu bytes is smaller than the %zu the shape needs",
                      nbytes, need);
  if (!data && need) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "data is NULL");
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_new_empty(dtype, rank, dims, &t));
  static char empty;
  t->data = data ? data : &empty;
  t->nbytes = need;
  t->owns_data = false;
  *out = t;
  return NULL;
}

void onyx_tensor_clear(onyx_tensor *t) {
  if (t->owns_data && t->data) {
    if (t->dtype == ONYX_DTYPE_STRING) {
      char **s = t->data;
      size_t n = t->nbytes / sizeof(char *);
      for (size_t i = 0; i < n; i++) onyx_free(s[i]);
      onyx_free(t->data);
    } else {
      onyx_allocator_free(onyx_tensor_allocator(t), t->data, t->nbytes, NULL);
    }
  }
  for (int i = 0; i < t->n_elems; i++) onyx_tensor_free(t->elems[i]);
  onyx_free(t->elems);
  t->data = NULL;
  t->nbytes = 0;
  t->owns_data = false;
  t->elems = NULL;
  t->n_elems = 0;
}

void onyx_tensor_free(onyx_tensor *t) {
  if (!t) return;
  onyx_tensor_clear(t);
  onyx_free(t);
}

onyx_status *onyx_tensor_clone_to(const onyx_tensor *t, onyx_allocator *to, onyx_tensor **out) {
  if (!to) to = &onyx_host_allocator;
  if (t->kind != ONYX_KIND_TENSOR && !to->host)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "sequences and optionals live on the host, not on %s", to->name);
  onyx_tensor *c;
  ONYX_TRY(onyx_tensor_new_empty(t->dtype, t->rank, t->dims, &c));
  c->kind = t->kind;
  c->alloc = to->host ? NULL : to;
  onyx_status *s = NULL;
  if (t->kind != ONYX_KIND_TENSOR) {
    if (t->n_elems) {
      c->elems = onyx_calloc((size_t)t->n_elems, sizeof *c->elems);
      if (!c->elems) s = onyx_error_oom();
      for (int i = 0; !s && i < t->n_elems; i++) {
        s = onyx_tensor_clone_to(t->elems[i], NULL, &c->elems[i]);
        if (!s) c->n_elems = i + 1;
      }
    }
  } else if (t->data) {
    s = onyx_tensor_alloc(c, t->rank, t->dims);
    if (!s && t->dtype == ONYX_DTYPE_STRING) {
      char **src = t->data, **dst = c->data;
      size_t n = t->nbytes / sizeof(char *);
      for (size_t i = 0; !s && i < n; i++)
        if (src[i] && !(dst[i] = onyx_strdup(src[i]))) s = onyx_error_oom();
    } else if (!s) {
      s = onyx_tensor_copy_data(c, t, NULL);
    }
  }
  if (s) {
    onyx_tensor_free(c);
    return s;
  }
  *out = c;
  return NULL;
}

onyx_status *onyx_tensor_clone(const onyx_tensor *t, onyx_tensor **out) {
  return onyx_tensor_clone_to(t, onyx_tensor_allocator(t), out);
}

onyx_status *onyx_tensor_copy_data(onyx_tensor *dst, const onyx_tensor *src, void *run_state) {
  if (dst->kind != ONYX_KIND_TENSOR || src->kind != ONYX_KIND_TENSOR || dst->dtype != src->dtype ||
      dst->dtype == ONYX_DTYPE_STRING || dst->nbytes != src->nbytes || (dst->nbytes && (!dst->data || !src->data)))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "copy between tensors of different dtype or size (%s %zu bytes -> %s %zu bytes)",
                      onyx_dtype_name(src->dtype), src->nbytes, onyx_dtype_name(dst->dtype), dst->nbytes);
  onyx_allocator *sa = onyx_tensor_allocator(src), *da = onyx_tensor_allocator(dst);
  size_t n = src->nbytes;
  if (!n || dst->data == src->data) return NULL;
  if (sa->host && da->host) {
    memcpy(dst->data, src->data, n);
    return NULL;
  }
  if (sa->host) return onyx_allocator_copy(da, dst->data, src->data, n, ONYX_COPY_TO_DEVICE, run_state);
  if (da->host) return onyx_allocator_copy(sa, dst->data, src->data, n, ONYX_COPY_TO_HOST, run_state);
  if (sa == da) return onyx_allocator_copy(da, dst->data, src->data, n, ONYX_COPY_ON_DEVICE, run_state);
  /* two device spaces: through a host buffer, synchronously (the run state
   * belongs to one side only) */
  void *tmp = onyx_malloc_aligned(n);
  if (!tmp) return onyx_error_oom();
  onyx_status *s = onyx_allocator_copy(sa, tmp, src->data, n, ONYX_COPY_TO_HOST, NULL);
  if (!s) s = onyx_allocator_copy(da, dst->data, tmp, n, ONYX_COPY_TO_DEVICE, NULL);
  onyx_free_aligned(tmp);
  return s;
}

void onyx_tensor_move(onyx_tensor *dst, onyx_tensor *src) {
  onyx_tensor old = *dst;
  *dst = *src;
  *src = old;
  onyx_tensor_free(src);
}

onyx_status *onyx_tensor_view(const onyx_tensor *t, int rank, const int64_t *dims,
                              onyx_tensor **out) {
  if (onyx_numel(rank, dims) != onyx_numel(t->rank, t->dims))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "view changes element count");
  onyx_tensor *v;
  ONYX_TRY(onyx_tensor_new_empty(t->dtype, rank, dims, &v));
  v->data = t->data;
  v->nbytes = t->nbytes;
  v->owns_data = false;
  v->alloc = t->alloc;
  *out = v;
  return NULL;
}

double onyx_tensor_get_f64(const onyx_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: return ((const float *)p)[i];
    case ONYX_DTYPE_DOUBLE: return ((const double *)p)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_INT8: return ((const int8_t *)p)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)p)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)p)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case ONYX_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case ONYX_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return 0;
  }
}

/* v as an integer: truncated toward zero and saturated to int64's range
 * (NaN: 0), since a C cast of an out-of-range double is undefined. The
 * narrower integer types then take its low bits, as a conversion from
 * int64 does. */
static int64_t f64_to_i64(double v) {
  if (!(v == v)) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

void onyx_tensor_set_f64(onyx_tensor *t, int64_t i, double v) {
  void *p = t->data;
  int64_t n = f64_to_i64(v);
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_f16((float)v); break;
    case ONYX_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_bf16((float)v); break;
    case ONYX_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)n; break;
    case ONYX_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)n; break;
    case ONYX_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case ONYX_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)n; break;
    case ONYX_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)n; break;
    case ONYX_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)n; break;
    case ONYX_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)n; break;
    case ONYX_DTYPE_INT64: ((int64_t *)p)[i] = (int64_t)n; break;
    case ONYX_DTYPE_UINT64: ((uint64_t *)p)[i] = v >= 9223372036854775808.0 && v < 18446744073709551616.0 ? (uint64_t)v : (uint64_t)n; break;
    default: break;
  }
}

const char *onyx_tensor_device(const onyx_tensor *t) { return onyx_tensor_allocator(t)->name; }

onyx_status *onyx_tensor_copy(onyx_tensor *dst, const onyx_tensor *src) {
  if (!dst || !src) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_copy: NULL tensor");
  return onyx_tensor_copy_data(dst, src, NULL);
}

int64_t onyx_tensor_get_i64(const onyx_tensor *t, int64_t i) {
  switch (t->dtype) {
    case ONYX_DTYPE_INT64: return ((const int64_t *)t->data)[i];
    case ONYX_DTYPE_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return f64_to_i64(onyx_tensor_get_f64(t, i));   /* a float "shape" from a hostile model */
  }
}

onyx_status *onyx_sequence_new(onyx_dtype elem_dtype, int n, onyx_tensor **elems,
                               onyx_tensor **out) {
  onyx_tensor *t = onyx_calloc(1, sizeof *t);
  onyx_tensor **e = n ? onyx_calloc((size_t)n, sizeof *e) : NULL;
  if (!t || (n && !e)) {
    onyx_free(t);
    onyx_free(e);
    return onyx_error_oom();
  }
  t->kind = ONYX_KIND_SEQUENCE;
  t->dtype = elem_dtype;
  if (n) memcpy(e, elems, (size_t)n * sizeof *e);
  t->elems = e;
  t->n_elems = n;
  *out = t;
  return NULL;
}

char *onyx_shape_str(int rank, const int64_t *dims, char *buf, size_t len) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, len - o, "[");
  for (int i = 0; i < rank && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

onyx_dtype onyx_tensor_dtype(const onyx_tensor *t) { return t->dtype; }
int onyx_tensor_rank(const onyx_tensor *t) { return t->rank; }
const int64_t *onyx_tensor_dims(const onyx_tensor *t) { return t->dims; }
int64_t onyx_tensor_numel(const onyx_tensor *t) { return onyx_numel(t->rank, t->dims); }
void *onyx_tensor_data(onyx_tensor *t) { return t->data; }
size_t onyx_tensor_nbytes(const onyx_tensor *t) { return t->nbytes; }
