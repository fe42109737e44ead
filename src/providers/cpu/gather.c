/* gather.c — cpu kernels that read or write through index tensors: Gather,
 * GatherElements, GatherND, Scatter/ScatterElements, ScatterND (with the
 * add/mul/max/min reductions) and OneHot. Indices are checked against their
 * dim before any data moves, so a bad index is an error naming the node
 * rather than an out-of-bounds access. Negative indices count from the end. */
#include <string.h>

#include "base/half.h"
#include "tensor_kernels.h"

/* Makes a string output own its elements also when the kernel stopped
 * half-way with error s (which is returned in preference). */
static onyx_status *own_after(onyx_tensor *o, onyx_status *s) {
  onyx_status *s2 = cpu_strings_own(o);
  if (s) {
    onyx_status_free(s2);
    return s;
  }
  return s2;
}

/* Normalises index v against dim n; false when out of range. */
static bool norm_index(int64_t *v, int64_t n) {
  if (*v < 0) *v += n;
  return *v >= 0 && *v < n;
}

static onyx_status *bad_index(const onyx_node *n, int64_t v, int64_t dim, int axis) {
  return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "index %lld is out of range for dim %d of size %lld",
                         (long long)v, axis, (long long)dim);
}

static onyx_status *check_indices(const onyx_node *n, const onyx_tensor *idx) {
  if (idx->dtype != ONYX_DTYPE_INT32 && idx->dtype != ONYX_DTYPE_INT64)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices are %s, expected int32 or int64",
                           onyx_dtype_name(idx->dtype));
  return NULL;
}

/* The element size of data input 0, the checked indices (input 1) and the
 * normalized `axis` attribute: what Gather and GatherElements start from. */
static onyx_status *gather_args(onyx_kernel_ctx *c, size_t *esz, int *axis) {
  ONYX_TRY(cpu_elem_size(c->node, c->in[0]->dtype, esz));
  ONYX_TRY(check_indices(c->node, c->in[1]));
  return onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 0), c->in[0]->rank, axis);
}

/* ---- Gather --------------------------------------------------------------- */

typedef struct gather_job {
  const char *src;
  char *dst;
  const onyx_tensor *idx;
  int64_t n_idx, dim, inner_bytes;
} gather_job;

static void gather_units(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const gather_job *j = arg;
  for (size_t u = begin; u < end; u++) {
    int64_t o = (int64_t)u / j->n_idx, k = (int64_t)u % j->n_idx;
    int64_t v = cpu_index_at(j->idx, k);
    if (v < 0) v += j->dim;
    memcpy(j->dst + (int64_t)u * j->inner_bytes, j->src + (o * j->dim + v) * j->inner_bytes,
           (size_t)j->inner_bytes);
  }
}

onyx_status *cpu_gather_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *idx = c->in[1];
  onyx_tensor *o = c->out[0];
  size_t esz;
  int axis;
  ONYX_TRY(gather_args(c, &esz, &axis));
  int64_t n_idx = onyx_numel(idx->rank, idx->dims), dim = x->dims[axis];
  for (int64_t k = 0; k < n_idx; k++) {
    int64_t v = cpu_index_at(idx, k);
    if (!norm_index(&v, dim)) return bad_index(c->node, cpu_index_at(idx, k), dim, axis);
  }
  int64_t outer = onyx_numel(axis, x->dims), inner = onyx_numel(x->rank - axis - 1, x->dims + axis + 1);
  gather_job j = {x->data, o->data, idx, n_idx, dim, inner * (int64_t)esz};
  int64_t grain = (1 << 14) / (j.inner_bytes + 1) + 1;
  onyx_parallel_for(c->pool, (size_t)(outer * n_idx), (size_t)grain, gather_units, &j);
  return cpu_strings_own(o);
}

/* ---- GatherElements / ScatterElements ------------------------------------ */

/* Walks every element of `idx` (row-major) and calls fn with the element's
 * position in idx and the offset (in elements) it addresses in a tensor of
 * dims `dims` along `axis`. Stops with an error at the first bad index. */
typedef void (*elem_fn)(void *arg, int64_t i, int64_t off);

static onyx_status *walk_elements(const onyx_node *n, const onyx_tensor *idx, int rank, const int64_t *dims,
                                  int axis, elem_fn fn, void *arg) {
  if (idx->rank != rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices have rank %d, data rank %d", idx->rank, rank);
  for (int d = 0; d < rank; d++)
    if (d != axis && idx->dims[d] > dims[d])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices dim %d (%lld) exceeds data's (%lld)", d,
                             (long long)idx->dims[d], (long long)dims[d]);
  int64_t st[ONYX_MAX_RANK], coord[ONYX_MAX_RANK] = {0}, base = 0;
  cpu_strides(rank, dims, st);
  int64_t total = onyx_numel(idx->rank, idx->dims);
  for (int64_t i = 0; i < total; i++) {
    int64_t v = cpu_index_at(idx, i);
    if (!norm_index(&v, dims[axis])) return bad_index(n, cpu_index_at(idx, i), dims[axis], axis);
    fn(arg, i, base + v * st[axis]);
    for (int d = rank - 1; d >= 0; d--) {   /* odometer over idx dims */
      if (++coord[d] < idx->dims[d]) {
        if (d != axis) base += st[d];
        break;
      }
      if (d != axis) base -= (coord[d] - 1) * st[d];
      coord[d] = 0;
    }
  }
  return NULL;
}

typedef struct move_arg {
  char *dst;
  const char *src;
  size_t esz;
  onyx_dtype dtype;
  int red;   /* reduction: 0 none, 1 add, 2 mul, 3 max, 4 min */
} move_arg;

static void gather_elem(void *arg, int64_t i, int64_t off) {
  const move_arg *m = arg;
  memcpy(m->dst + i * (int64_t)m->esz, m->src + off * (int64_t)m->esz, m->esz);
}

onyx_status *cpu_gather_elements_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *idx = c->in[1];
  onyx_tensor *o = c->out[0];
  size_t esz;
  int axis;
  ONYX_TRY(gather_args(c, &esz, &axis));
  move_arg m = {o->data, x->data, esz, x->dtype, 0};
  return own_after(o, walk_elements(c->node, idx, x->rank, x->dims, axis, gather_elem, &m));
}

/* dst = reduce(dst, src) for one element. */
static void reduce_elem(onyx_dtype dt, int red, void *dst, const void *src) {
#define RED(T, GET, PUT)                                                              \
  do {                                                                                \
    T a = GET(*(T *)dst), b = GET(*(const T *)src);                                   \
    a = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (b > a ? b : a) : (b < a ? b : a); \
    *(T *)dst = PUT(a);                                                               \
  } while (0)
#define ID(v) (v)
  switch (dt) {
    case ONYX_DTYPE_FLOAT: RED(float, ID, ID); break;
    case ONYX_DTYPE_DOUBLE: RED(double, ID, ID); break;
    case ONYX_DTYPE_INT8: RED(int8_t, ID, (int8_t)); break;
    case ONYX_DTYPE_UINT8: RED(uint8_t, ID, (uint8_t)); break;
    case ONYX_DTYPE_INT16: RED(int16_t, ID, (int16_t)); break;
    case ONYX_DTYPE_UINT16: RED(uint16_t, ID, (uint16_t)); break;
    case ONYX_DTYPE_INT32: RED(int32_t, ID, ID); break;
    case ONYX_DTYPE_UINT32: RED(uint32_t, ID, ID); break;
    case ONYX_DTYPE_INT64: RED(int64_t, ID, ID); break;
    case ONYX_DTYPE_UINT64: RED(uint64_t, ID, ID); break;
    case ONYX_DTYPE_FLOAT16: {
      float a = onyx_f16_to_f32(*(uint16_t *)dst), b = onyx_f16_to_f32(*(const uint16_t *)src);
      a = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (b > a ? b : a) : (b < a ? b : a);
      *(uint16_t *)dst = onyx_f32_to_f16(a);
      break;
    }
    case ONYX_DTYPE_BFLOAT16: {
      float a = onyx_bf16_to_f32(*(uint16_t *)dst), b = onyx_bf16_to_f32(*(const uint16_t *)src);
      a = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (b > a ? b : a) : (b < a ? b : a);
      *(uint16_t *)dst = onyx_f32_to_bf16(a);
      break;
    }
    default: break;
  }
#undef ID
#undef RED
}

static bool reducible(onyx_dtype dt) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: case ONYX_DTYPE_DOUBLE: case ONYX_DTYPE_FLOAT16: case ONYX_DTYPE_BFLOAT16:
    case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16:
    case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64:
      return true;
    default:
      return false;
  }
}

/* The "reduction" attribute of ScatterElements/ScatterND as 0..4. */
static onyx_status *read_reduction(const onyx_node *n, onyx_dtype dt, int *red) {
  const char *r = onyx_attr_string(n, "reduction", "none");
  static const char *names[] = {"none", "add", "mul", "max", "min"};
  int since[] = {0, 16, 16, 18, 18};
  for (int i = 0; i < 5; i++)
    if (!strcmp(r, names[i]) && n->opset >= since[i]) {
      if (i && !reducible(dt))
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "reduction '%s' on %s is not supported", r,
                               onyx_dtype_name(dt));
      *red = i;
      return NULL;
    }
  return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "reduction '%s' is not supported", r);
}

static void scatter_elem(void *arg, int64_t i, int64_t off) {
  const move_arg *m = arg;
  char *d = m->dst + off * (int64_t)m->esz;
  const char *s = m->src + i * (int64_t)m->esz;
  if (m->red) reduce_elem(m->dtype, m->red, d, s);
  else memcpy(d, s, m->esz);
}

/* Copies data into the output (the scatter target). */
static onyx_status *copy_data(onyx_kernel_ctx *c, size_t *esz) {
  const onyx_tensor *x = c->in[0];
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, esz));
  if (x->nbytes) memcpy(c->out[0]->data, x->data, (size_t)onyx_numel(x->rank, x->dims) * *esz);
  return NULL;
}

onyx_status *cpu_scatter_elements_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *idx = c->in[1], *upd = c->in[2];
  onyx_tensor *o = c->out[0];
  size_t esz;
  int red = 0, axis;
  ONYX_TRY(check_indices(c->node, idx));
  ONYX_TRY(read_reduction(c->node, x->dtype, &red));
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 0), x->rank, &axis));
  if (upd->rank != idx->rank || memcmp(upd->dims, idx->dims, (size_t)idx->rank * sizeof idx->dims[0]))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "updates and indices differ in shape");
  ONYX_TRY(copy_data(c, &esz));
  move_arg m = {o->data, upd->data, esz, x->dtype, red};
  return own_after(o, walk_elements(c->node, idx, x->rank, x->dims, axis, scatter_elem, &m));
}

/* ---- GatherND / ScatterND ----------------------------------------------- */

/* Offsets (in elements of data) addressed by each index tuple: tuple t of
 * batch b starts at b * batch_stride + sum idx * stride. Written to offs. */
static onyx_status *nd_offsets(const onyx_node *n, const onyx_tensor *x, const onyx_tensor *idx, int b,
                               int64_t *offs, int64_t *n_tuples, int64_t *slice) {
  if (idx->dtype != ONYX_DTYPE_INT64 && idx->dtype != ONYX_DTYPE_INT32)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices must be int64");
  int q = idx->rank;
  int64_t k = idx->dims[q - 1];
  int64_t xs[ONYX_MAX_RANK];
  cpu_strides(x->rank, x->dims, xs);
  int64_t tuples = onyx_numel(q - 1, idx->dims), per_batch = onyx_numel(q - 1 - b, idx->dims + b);
  int64_t batch_stride = onyx_numel(x->rank - b, x->dims + b);
  for (int64_t t = 0; t < tuples; t++) {
    int64_t off = (per_batch ? t / per_batch : 0) * batch_stride;
    for (int64_t j = 0; j < k; j++) {
      int64_t v = cpu_index_at(idx, t * k + j), dim = x->dims[b + j];
      if (!norm_index(&v, dim)) return bad_index(n, cpu_index_at(idx, t * k + j), dim, (int)(b + j));
      off += v * xs[b + j];
    }
    offs[t] = off;
  }
  *n_tuples = tuples;
  *slice = onyx_numel(x->rank - b - (int)k, x->dims + b + k);
  return NULL;
}

static onyx_status *nd_check(const onyx_node *n, const onyx_tensor *x, const onyx_tensor *idx, int64_t b) {
  if (idx->rank < 1 || b < 0 || b >= idx->rank || b >= x->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "batch_dims %lld does not fit", (long long)b);
  int64_t k = idx->dims[idx->rank - 1];
  if (k < 1 || b + k > x->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices' last dim %lld does not fit data rank %d",
                           (long long)k, x->rank);
  for (int d = 0; d < b; d++)
    if (idx->dims[d] != x->dims[d])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "batch dim %d differs between data and indices", d);
  return NULL;
}

onyx_status *cpu_gather_nd_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *idx = c->in[1];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int64_t b = onyx_attr_int(c->node, "batch_dims", 0);
  ONYX_TRY(nd_check(c->node, x, idx, b));
  int64_t tuples = onyx_numel(idx->rank - 1, idx->dims), slice, nt;
  int64_t *offs = onyx_malloc((size_t)tuples * sizeof *offs);
  if (!offs) return onyx_error_oom();
  onyx_status *s = nd_offsets(c->node, x, idx, (int)b, offs, &nt, &slice);
  if (!s) {
    size_t bytes = (size_t)slice * esz;
    for (int64_t t = 0; t < nt; t++)
      memcpy((char *)o->data + (size_t)t * bytes, (const char *)x->data + offs[t] * (int64_t)esz, bytes);
    s = cpu_strings_own(o);
  }
  onyx_free(offs);
  return s;
}

onyx_status *cpu_scatter_nd_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *idx = c->in[1], *upd = c->in[2];
  onyx_tensor *o = c->out[0];
  size_t esz;
  int red = 0;
  ONYX_TRY(read_reduction(c->node, x->dtype, &red));
  ONYX_TRY(nd_check(c->node, x, idx, 0));
  ONYX_TRY(copy_data(c, &esz));
  int64_t tuples = onyx_numel(idx->rank - 1, idx->dims), slice, nt;
  int64_t *offs = onyx_malloc((size_t)tuples * sizeof *offs);
  if (!offs) return onyx_error_oom();
  onyx_status *s = nd_offsets(c->node, x, idx, 0, offs, &nt, &slice);
  if (!s && onyx_numel(upd->rank, upd->dims) != nt * slice)
    s = onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "updates have %lld elements, expected %lld",
                        (long long)onyx_numel(upd->rank, upd->dims), (long long)(nt * slice));
  for (int64_t t = 0; !s && t < nt; t++) {
    char *d = (char *)o->data + offs[t] * (int64_t)esz;
    const char *u = (const char *)upd->data + t * slice * (int64_t)esz;
    if (!red) {
      memcpy(d, u, (size_t)slice * esz);
      continue;
    }
    for (int64_t e = 0; e < slice; e++) reduce_elem(x->dtype, red, d + e * (int64_t)esz, u + e * (int64_t)esz);
  }
  onyx_free(offs);
  return own_after(o, s);
}

/* ---- OneHot --------------------------------------------------------------- */

onyx_status *cpu_one_hot_run(onyx_kernel_ctx *c) {
  const onyx_tensor *idx = c->in[0], *vals = c->in[2];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, o->dtype, &esz));
  if (onyx_numel(vals->rank, vals->dims) != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "values must hold 2 elements [off, on]");
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", -1), o->rank, &axis));
  int64_t depth = o->dims[axis];
  int64_t outer = onyx_numel(axis, o->dims), inner = onyx_numel(o->rank - axis - 1, o->dims + axis + 1);
  const char *off = vals->data, *on = off + esz;
  char *d = o->data;
  int64_t total = onyx_numel(o->rank, o->dims);
  for (int64_t i = 0; i < total; i++) memcpy(d + i * (int64_t)esz, off, esz);
  for (int64_t a = 0; a < outer; a++)
    for (int64_t b = 0; b < inner; b++) {
      int64_t v = (int64_t)onyx_tensor_get_f64(idx, a * inner + b);
      if (norm_index(&v, depth)) memcpy(d + ((a * depth + v) * inner + b) * (int64_t)esz, on, esz);
    }
  return cpu_strings_own(o);
}
