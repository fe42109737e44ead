/* select.c — cpu kernels that select by value or position: NonZero,
 * Compress and Unique (whose output sizes depend on the data, so they
 * allocate their outputs here), Trilu and ReverseSequence. */
#include <string.h>

#include "base/half.h"
#include "ops/tensor_params.h"
#include "tensor_kernels.h"

static bool nonzero_at(const onyx_tensor *t, int64_t i) {
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: return ((const float *)t->data)[i] != 0.0f;
    case ONYX_DTYPE_BOOL: case ONYX_DTYPE_UINT8: case ONYX_DTYPE_INT8: return ((const uint8_t *)t->data)[i] != 0;
    case ONYX_DTYPE_INT32: return ((const int32_t *)t->data)[i] != 0;
    case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: return ((const int64_t *)t->data)[i] != 0;
    default: return onyx_tensor_get_f64(t, i) != 0.0;
  }
}

static onyx_status *check_numeric(const onyx_node *n, onyx_dtype dt) {
  if (dt == ONYX_DTYPE_STRING || !onyx_dtype_size(dt) || dt == ONYX_DTYPE_COMPLEX64 || dt == ONYX_DTYPE_COMPLEX128)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(dt));
  return NULL;
}

onyx_status *cpu_non_zero_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  ONYX_TRY(check_numeric(c->node, x->dtype));
  int64_t n = onyx_numel(x->rank, x->dims), nnz = 0;
  for (int64_t i = 0; i < n; i++) nnz += nonzero_at(x, i);
  int r = x->rank ? x->rank : 1;
  int64_t dims[2] = {r, nnz};
  ONYX_TRY(cpu_out_alloc(o, 2, dims));
  int64_t *p = o->data, k = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!nonzero_at(x, i)) continue;
    int64_t rem = i;
    for (int d = x->rank - 1; d >= 0; d--) {
      p[d * nnz + k] = rem % x->dims[d];
      rem /= x->dims[d];
    }
    if (!x->rank) p[k] = 0;
    k++;
  }
  return NULL;
}

onyx_status *cpu_compress_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *cond = c->in[1];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  const onyx_attr *ax = onyx_node_attr(c->node, "axis");
  int axis = 0;
  int64_t outer = 1, dim = onyx_numel(x->rank, x->dims), inner = 1;
  if (ax) {
    ONYX_TRY(onyx_norm_axis(c->node, ax->i, x->rank, &axis));
    outer = onyx_numel(axis, x->dims);
    dim = x->dims[axis];
    inner = onyx_numel(x->rank - axis - 1, x->dims + axis + 1);
  }
  int64_t len = onyx_numel(cond->rank, cond->dims), cnt = 0;
  if (len > dim)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "condition has %lld values, the axis %lld",
                           (long long)len, (long long)dim);
  for (int64_t i = 0; i < len; i++) cnt += nonzero_at(cond, i);
  int64_t dims[ONYX_MAX_RANK];
  int rank = 1;
  dims[0] = cnt;
  if (ax) {
    rank = x->rank;
    memcpy(dims, x->dims, (size_t)rank * sizeof dims[0]);
    dims[axis] = cnt;
  }
  ONYX_TRY(cpu_out_alloc(o, rank, dims));
  size_t blk = (size_t)inner * esz;
  char *d = o->data;
  for (int64_t a = 0; a < outer; a++)
    for (int64_t i = 0; i < len; i++)
      if (nonzero_at(cond, i)) {
        memcpy(d, (const char *)x->data + (size_t)(a * dim + i) * blk, blk);
        d += blk;
      }
  return cpu_strings_own(o);
}

/* ---- Unique ---------------------------------------------------------------- */

typedef struct unique_ctx {
  const onyx_tensor *x;
  int64_t outer, dim, inner;   /* slices: x viewed as [outer, dim, inner], slice k = x[:, k, :] */
} unique_ctx;

static int cmp_elem(onyx_dtype dt, const void *base, int64_t a, int64_t b) {
#define CMP(T) do { T u = ((const T *)base)[a], v = ((const T *)base)[b]; return (u > v) - (u < v); } while (0)
  switch (dt) {
    case ONYX_DTYPE_FLOAT: CMP(float);
    case ONYX_DTYPE_DOUBLE: CMP(double);
    case ONYX_DTYPE_INT8: CMP(int8_t);
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: CMP(uint8_t);
    case ONYX_DTYPE_INT16: CMP(int16_t);
    case ONYX_DTYPE_UINT16: CMP(uint16_t);
    case ONYX_DTYPE_INT32: CMP(int32_t);
    case ONYX_DTYPE_UINT32: CMP(uint32_t);
    case ONYX_DTYPE_INT64: CMP(int64_t);
    case ONYX_DTYPE_UINT64: CMP(uint64_t);
    case ONYX_DTYPE_FLOAT16: case ONYX_DTYPE_BFLOAT16: {
      const uint16_t *p = base;
      float u = dt == ONYX_DTYPE_FLOAT16 ? onyx_f16_to_f32(p[a]) : onyx_bf16_to_f32(p[a]);
      float v = dt == ONYX_DTYPE_FLOAT16 ? onyx_f16_to_f32(p[b]) : onyx_bf16_to_f32(p[b]);
      return (u > v) - (u < v);
    }
    case ONYX_DTYPE_STRING: {
      int r = strcmp(((char *const *)base)[a], ((char *const *)base)[b]);
      return (r > 0) - (r < 0);
    }
    default: return 0;
  }
#undef CMP
}

/* Lexicographic comparison of slices ka and kb. */
static int cmp_slice(const unique_ctx *u, int64_t ka, int64_t kb) {
  for (int64_t o = 0; o < u->outer; o++)
    for (int64_t i = 0; i < u->inner; i++) {
      int64_t base = o * u->dim * u->inner + i;
      int r = cmp_elem(u->x->dtype, u->x->data, base + ka * u->inner, base + kb * u->inner);
      if (r) return r;
    }
  return 0;
}

/* Stable merge sort of idx[0..n) by slice; tmp has n entries. */
static void sort_slices(const unique_ctx *u, int64_t *idx, int64_t *tmp, int64_t n) {
  if (n < 2) return;
  int64_t h = n / 2;
  sort_slices(u, idx, tmp, h);
  sort_slices(u, idx + h, tmp, n - h);
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = cmp_slice(u, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

onyx_status *cpu_unique_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  if (x->dtype == ONYX_DTYPE_COMPLEX64 || x->dtype == ONYX_DTYPE_COMPLEX128 || esz > 8)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(x->dtype));
  const onyx_attr *ax = onyx_node_attr(c->node, "axis");
  bool sorted = onyx_attr_int(c->node, "sorted", 1) != 0;
  unique_ctx u = {x, 1, onyx_numel(x->rank, x->dims), 1};
  int axis = 0;
  if (ax) {
    ONYX_TRY(onyx_norm_axis(c->node, ax->i, x->rank, &axis));
    u.outer = onyx_numel(axis, x->dims);
    u.dim = x->dims[axis];
    u.inner = onyx_numel(x->rank - axis - 1, x->dims + axis + 1);
  }
  int64_t n = u.dim;
  onyx_status *s = NULL;
  /* order: slices sorted (stable); group: group id per slice; first/count per group */
  int64_t *order = onyx_malloc((size_t)(5 * n + 1) * sizeof *order);
  if (!order) return onyx_error_oom();
  int64_t *tmp = order + n, *group = tmp + n, *first = group + n, *count = first + n;
  for (int64_t k = 0; k < n; k++) order[k] = k;
  sort_slices(&u, order, tmp, n);
  int64_t ng = 0;
  for (int64_t k = 0; k < n; k++) {
    if (!k || cmp_slice(&u, order[k - 1], order[k])) {
      first[ng] = order[k];   /* stable sort: the earliest occurrence comes first */
      count[ng++] = 0;
    }
    group[order[k]] = ng - 1;
    count[ng - 1]++;
  }
  /* rank[g]: output position of group g (sorted order, or first occurrence) */
  int64_t *rank = tmp;
  if (sorted) {
    for (int64_t g = 0; g < ng; g++) rank[g] = g;
  } else {
    int64_t next = 0;
    for (int64_t g = 0; g < ng; g++) rank[g] = -1;
    for (int64_t k = 0; k < n; k++)
      if (rank[group[k]] < 0) rank[group[k]] = next++;
  }
  int64_t dims[ONYX_MAX_RANK];
  int r = 1;
  dims[0] = ng;
  if (ax) {
    r = x->rank;
    memcpy(dims, x->dims, (size_t)r * sizeof dims[0]);
    dims[axis] = ng;
  }
  onyx_tensor *y = c->out[0];
  int64_t one[1] = {ng}, nin[1] = {n};
  if ((s = cpu_out_alloc(y, r, dims))) goto done;
  for (int i = 1; i < c->n_out; i++)
    if (c->out[i] && (s = cpu_out_alloc(c->out[i], 1, i == 2 ? nin : one))) goto done;
  size_t blk = (size_t)u.inner * esz;
  for (int64_t g = 0; g < ng; g++)
    for (int64_t o = 0; o < u.outer; o++)
      memcpy((char *)y->data + (size_t)(o * ng + rank[g]) * blk,
             (const char *)x->data + (size_t)(o * u.dim + first[g]) * blk, blk);
  if (c->n_out > 1 && c->out[1])
    for (int64_t g = 0; g < ng; g++) ((int64_t *)c->out[1]->data)[rank[g]] = first[g];
  if (c->n_out > 2 && c->out[2])
    for (int64_t k = 0; k < n; k++) ((int64_t *)c->out[2]->data)[k] = rank[group[k]];
  if (c->n_out > 3 && c->out[3])
    for (int64_t g = 0; g < ng; g++) ((int64_t *)c->out[3]->data)[rank[g]] = count[g];
  s = cpu_strings_own(y);
done:
  onyx_free(order);
  return s;
}

/* ---- Trilu, ReverseSequence ---------------------------------------------- */

onyx_status *cpu_trilu_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  if (x->rank < 2) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected >= 2", x->rank);
  int64_t k = c->n_in > 1 && c->in[1] && !onyx_tensor_absent(c->in[1]) ? onyx_tensor_get_i64(c->in[1], 0) : 0;
  bool upper = onyx_attr_int(c->node, "upper", 1) != 0;
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  int64_t mats = onyx_numel(x->rank - 2, x->dims);
  int64_t total = onyx_numel(x->rank, x->dims);
  if (total) memcpy(o->data, x->data, (size_t)total * esz);
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++) {
      char *row = (char *)o->data + (size_t)((m * rows + i) * cols) * esz;
      /* zero columns j with j - i < k (upper) or j - i > k (lower) */
      int64_t lo = upper ? 0 : i + k + 1, hi = upper ? i + k : cols;
      lo = lo < 0 ? 0 : lo > cols ? cols : lo;
      hi = hi < 0 ? 0 : hi > cols ? cols : hi;
      if (hi > lo) memset(row + (size_t)lo * esz, 0, (size_t)(hi - lo) * esz);
    }
  return cpu_strings_own(o);
}

onyx_status *cpu_reverse_sequence_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *lens = c->in[1];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int ba, ta;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "batch_axis", 1), x->rank, &ba));
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "time_axis", 0), x->rank, &ta));
  if (ba == ta || x->rank < 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "batch_axis and time_axis must differ");
  int64_t nb = x->dims[ba], nt = x->dims[ta];
  if (onyx_numel(lens->rank, lens->dims) != nb)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "sequence_lens has %lld values for batch %lld",
                           (long long)onyx_numel(lens->rank, lens->dims), (long long)nb);
  for (int64_t b = 0; b < nb; b++) {
    int64_t len = onyx_tensor_get_i64(lens, b);
    if (len < 0 || len > nt)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld exceeds time %lld",
                             (long long)b, (long long)len, (long long)nt);
  }
  int64_t st[ONYX_MAX_RANK], dims[ONYX_MAX_RANK];
  cpu_strides(x->rank, x->dims, st);
  memcpy(dims, x->dims, (size_t)x->rank * sizeof dims[0]);
  dims[ba] = dims[ta] = 1;   /* one (batch, time) slab per copy */
  int64_t e = (int64_t)esz;
  for (int64_t b = 0; b < nb; b++) {
    int64_t len = onyx_tensor_get_i64(lens, b);
    for (int64_t t = 0; t < nt; t++) {
      int64_t src_t = t < len ? len - 1 - t : t;
      cpu_copy_strided(NULL, (char *)o->data + (b * st[ba] + t * st[ta]) * e,
                       (const char *)x->data + (b * st[ba] + src_t * st[ta]) * e, esz, x->rank, dims, st, st);
    }
  }
  return cpu_strings_own(o);
}
