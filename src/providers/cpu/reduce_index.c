/* reduce_index.c — cpu kernels that select or scan along one axis: ArgMax,
 * ArgMin, TopK and CumSum. Each views its input as [outer, n, inner] around
 * the axis and splits the (outer, inner) lines over threads. TopK orders ties
 * by index (smaller first), as the ONNX reference does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "reduce_kernels.h"

/* outer / n / inner around axis of x */
static void split_axis(const onyx_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = onyx_numel(axis, x->dims);
  *n = x->dims[axis];
  *inner = onyx_numel(x->rank - axis - 1, x->dims + axis + 1);
}

/* ---- ArgMax / ArgMin ------------------------------------------------------------ */

typedef struct argjob {
  const void *x;
  int64_t *y;
  int64_t n, inner;
  bool is_max, last;
} argjob;

/* One function per input type; v compares as T (or float for float16). */
#define DEFINE_ARG(SFX, T, CT, LOAD)                                                   \
  static void arg_##SFX(void *arg, size_t u0, size_t u1, int tid) {                    \
    (void)tid;                                                                         \
    const argjob *j = arg;                                                             \
    const T *x = j->x;                                                                 \
    for (size_t u = u0; u < u1; u++) {                                                 \
      int64_t o = (int64_t)u / j->inner, i = (int64_t)u % j->inner;                    \
      const T *p = x + o * j->n * j->inner + i;                                        \
      CT best = LOAD(p[0]);                                                            \
      int64_t bi = 0;                                                                  \
      for (int64_t k = 1; k < j->n; k++) {                                             \
        CT v = LOAD(p[k * j->inner]);                                                  \
        bool better = j->is_max ? (j->last ? v >= best : v > best)                     \
                                : (j->last ? v <= best : v < best);                    \
        if (better) {                                                                  \
          best = v;                                                                    \
          bi = k;                                                                      \
        }                                                                              \
      }                                                                                \
      j->y[u] = bi;                                                                    \
    }                                                                                  \
  }
#define LOAD_SAME(v) (v)
DEFINE_ARG(f32, float, float, LOAD_SAME)
DEFINE_ARG(f64, double, double, LOAD_SAME)
DEFINE_ARG(f16, uint16_t, float, onyx_f16_to_f32)
DEFINE_ARG(bf16, uint16_t, float, onyx_bf16_to_f32)
DEFINE_ARG(i8, int8_t, int8_t, LOAD_SAME)
DEFINE_ARG(u8, uint8_t, uint8_t, LOAD_SAME)
DEFINE_ARG(i16, int16_t, int16_t, LOAD_SAME)
DEFINE_ARG(u16, uint16_t, uint16_t, LOAD_SAME)
DEFINE_ARG(i32, int32_t, int32_t, LOAD_SAME)
DEFINE_ARG(u32, uint32_t, uint32_t, LOAD_SAME)
DEFINE_ARG(i64, int64_t, int64_t, LOAD_SAME)
DEFINE_ARG(u64, uint64_t, uint64_t, LOAD_SAME)

static onyx_status *arg_run(onyx_kernel_ctx *c, bool is_max) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  int axis;
  ONYX_TRY(onyx_norm_axis(nd, onyx_attr_int(nd, "axis", 0), x->rank, &axis));
  bool keep = onyx_attr_int(nd, "keepdims", 1) != 0;
  bool last = onyx_attr_int(nd, "select_last_index", 0) != 0;
  int64_t od[ONYX_MAX_RANK];
  int r = 0;
  for (int d = 0; d < x->rank; d++) {
    if (d != axis) od[r++] = x->dims[d];
    else if (keep) od[r++] = 1;
  }
  ONYX_TRY(cpu_reduce_ensure(y, r, od));
  int64_t outer, n, inner;
  split_axis(x, axis, &outer, &n, &inner);
  if (outer * inner == 0) return NULL;
  if (n == 0) return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "cannot select from an empty axis");
  onyx_range_fn fn;
  switch (x->dtype) {
    case ONYX_DTYPE_FLOAT: fn = arg_f32; break;
    case ONYX_DTYPE_DOUBLE: fn = arg_f64; break;
    case ONYX_DTYPE_FLOAT16: fn = arg_f16; break;
    case ONYX_DTYPE_BFLOAT16: fn = arg_bf16; break;
    case ONYX_DTYPE_INT8: fn = arg_i8; break;
    case ONYX_DTYPE_UINT8: fn = arg_u8; break;
    case ONYX_DTYPE_INT16: fn = arg_i16; break;
    case ONYX_DTYPE_UINT16: fn = arg_u16; break;
    case ONYX_DTYPE_INT32: fn = arg_i32; break;
    case ONYX_DTYPE_UINT32: fn = arg_u32; break;
    case ONYX_DTYPE_INT64: fn = arg_i64; break;
    case ONYX_DTYPE_UINT64: fn = arg_u64; break;
    default:
      return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                             onyx_dtype_name(x->dtype));
  }
  argjob j = {x->data, y->data, n, inner, is_max, last};
  size_t grain = n >= 16384 ? 1 : (size_t)(16384 / n);
  onyx_parallel_for(c->pool, (size_t)(outer * inner), grain, fn, &j);
  return NULL;
}

onyx_status *cpu_argmax_run(onyx_kernel_ctx *c) { return arg_run(c, true); }
onyx_status *cpu_argmin_run(onyx_kernel_ctx *c) { return arg_run(c, false); }

/* ---- TopK ------------------------------------------------------------------------- */

typedef struct kv {
  double v;
  int64_t i;
} kv;

/* Value order with NaN above +inf (as numpy sorts), so the comparators are
 * consistent whatever the data. */
static bool greater(double a, double b) { return isnan(a) ? !isnan(b) : a > b; }
static bool same(double a, double b) { return isnan(a) ? isnan(b) : a == b; }

/* a comes before b in the output: larger (or smaller) value, then smaller index */
static bool before_largest(const kv *a, const kv *b) {
  return greater(a->v, b->v) || (same(a->v, b->v) && a->i < b->i);
}
static bool before_smallest(const kv *a, const kv *b) {
  return greater(b->v, a->v) || (same(a->v, b->v) && a->i < b->i);
}
static int cmp_largest(const void *a, const void *b) { return before_largest(a, b) ? -1 : 1; }
static int cmp_smallest(const void *a, const void *b) { return before_smallest(a, b) ? -1 : 1; }

typedef struct topkjob {
  const onyx_tensor *x;
  onyx_tensor *vals;
  int64_t *idx;
  int64_t n, inner, k;
  bool largest;
  kv *buf;   /* n entries per thread */
} topkjob;

/* Keeps in h[0..k) a heap whose root is the entry that comes last, so a new
 * entry replaces it when it comes before it. */
static void sift_down(kv *h, int64_t k, int64_t i, bool (*before)(const kv *, const kv *)) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < k && before(&h[w], &h[l])) w = l;
    if (r < k && before(&h[w], &h[r])) w = r;
    if (w == i) return;
    kv t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

static void topk_fn(void *arg, size_t u0, size_t u1, int tid) {
  const topkjob *j = arg;
  kv *b = j->buf + (size_t)tid * (size_t)j->n;
  size_t es = onyx_dtype_size(j->x->dtype);
  bool (*before)(const kv *, const kv *) = j->largest ? before_largest : before_smallest;
  for (size_t u = u0; u < u1; u++) {
    int64_t o = (int64_t)u / j->inner, in = (int64_t)u % j->inner;
    int64_t base = o * j->n * j->inner + in, obase = o * j->k * j->inner + in;
    for (int64_t t = 0; t < j->n; t++) {
      cpu_reduce_load_f64(j->x->dtype, (const char *)j->x->data + (size_t)(base + t * j->inner) * es, 1,
                          &b[t].v);
      b[t].i = t;
    }
    if (j->k * 8 < j->n) {
      for (int64_t i = j->k / 2 - 1; i >= 0; i--) sift_down(b, j->k, i, before);
      for (int64_t i = j->k; i < j->n; i++)
        if (j->k > 0 && before(&b[i], &b[0])) {
          b[0] = b[i];
          sift_down(b, j->k, 0, before);
        }
    }
    qsort(b, (size_t)(j->k * 8 < j->n ? j->k : j->n), sizeof *b, j->largest ? cmp_largest : cmp_smallest);
    for (int64_t t = 0; t < j->k; t++) {
      int64_t dst = obase + t * j->inner;
      j->idx[dst] = b[t].i;
      memcpy((char *)j->vals->data + (size_t)dst * es,
             (const char *)j->x->data + (size_t)(base + b[t].i * j->inner) * es, es);
    }
  }
}

onyx_status *cpu_topk_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0];
  int axis;
  ONYX_TRY(onyx_norm_axis(nd, onyx_attr_int(nd, "axis", -1), x->rank, &axis));
  int64_t k;
  if (nd->opset < 10) k = onyx_attr_int(nd, "k", -1);
  else if (c->n_in > 1 && c->in[1] && onyx_numel(c->in[1]->rank, c->in[1]->dims) == 1)
    k = onyx_tensor_get_i64(c->in[1], 0);
  else return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input 'K' must hold one value");
  if (k < 0 || k > x->dims[axis])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "k = %lld is out of range for axis of %lld",
                           (long long)k, (long long)x->dims[axis]);
  if (!cpu_reduce_numeric(x->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                           onyx_dtype_name(x->dtype));
  int64_t od[ONYX_MAX_RANK];
  memcpy(od, x->dims, (size_t)x->rank * sizeof *od);
  od[axis] = k;
  ONYX_TRY(cpu_reduce_ensure(c->out[0], x->rank, od));
  ONYX_TRY(cpu_reduce_ensure(c->out[1], x->rank, od));
  int64_t outer, n, inner;
  split_axis(x, axis, &outer, &n, &inner);
  if (outer * inner * k == 0) return NULL;
  int nt = c->pool ? c->pool->nthreads : 1;
  topkjob j = {x, c->out[0], c->out[1]->data, n, inner, k, onyx_attr_int(nd, "largest", 1) != 0, NULL};
  j.buf = onyx_malloc((size_t)nt * (size_t)n * sizeof *j.buf);
  if (!j.buf) return onyx_error_oom();
  size_t grain = n >= 4096 ? 1 : (size_t)(4096 / n);
  onyx_parallel_for(c->pool, (size_t)(outer * inner), grain, topk_fn, &j);
  onyx_free(j.buf);
  return NULL;
}

/* ---- CumSum ------------------------------------------------------------------------ */

typedef struct cumjob {
  const void *x;
  void *y;
  int64_t n, inner, chunk, nchunk;
  bool exclusive, reverse;
} cumjob;

#define DEFINE_CUMSUM(SFX, T, U)                                                          \
  static void cumsum_##SFX(void *arg, size_t u0, size_t u1, int tid) {                   \
    (void)tid;                                                                           \
    const cumjob *j = arg;                                                               \
    for (size_t u = u0; u < u1; u++) {                                                   \
      int64_t o = (int64_t)u / j->nchunk, i0 = ((int64_t)u % j->nchunk) * j->chunk;      \
      int64_t m = j->inner - i0 < j->chunk ? j->inner - i0 : j->chunk;                   \
      const T *x = (const T *)j->x + o * j->n * j->inner + i0;                           \
      T *y = (T *)j->y + o * j->n * j->inner + i0;                                       \
      for (int64_t s = 0; s < j->n; s++) {                                               \
        int64_t k = j->reverse ? j->n - 1 - s : s, prev = j->reverse ? k + 1 : k - 1;    \
        T *yk = y + k * j->inner;                                                        \
        const T *xs = x + (j->exclusive ? prev : k) * j->inner;                          \
        if (s == 0) {                                                                    \
          for (int64_t i = 0; i < m; i++) yk[i] = j->exclusive ? (T)0 : xs[i];           \
        } else {                                                                         \
          const T *yp = y + prev * j->inner;                                             \
          for (int64_t i = 0; i < m; i++) yk[i] = (T)((U)yp[i] + (U)xs[i]);              \
        }                                                                                \
      }                                                                                  \
    }                                                                                    \
  }
/* U: the type the sum is formed in (unsigned for integers: overflow wraps) */
DEFINE_CUMSUM(f32, float, float)
DEFINE_CUMSUM(f64, double, double)
DEFINE_CUMSUM(i32, int32_t, uint32_t)
DEFINE_CUMSUM(u32, uint32_t, uint32_t)
DEFINE_CUMSUM(i64, int64_t, uint64_t)
DEFINE_CUMSUM(u64, uint64_t, uint64_t)

onyx_status *cpu_cumsum_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *ax = c->in[1];
  onyx_tensor *y = c->out[0];
  if (!ax || onyx_numel(ax->rank, ax->dims) != 1)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input 'axis' must hold one value");
  int axis;
  ONYX_TRY(onyx_norm_axis(nd, onyx_tensor_get_i64(ax, 0), x->rank, &axis));
  ONYX_TRY(cpu_reduce_ensure(y, x->rank, x->dims));
  onyx_range_fn fn;
  switch (x->dtype) {
    case ONYX_DTYPE_FLOAT: fn = cumsum_f32; break;
    case ONYX_DTYPE_DOUBLE: fn = cumsum_f64; break;
    case ONYX_DTYPE_INT32: fn = cumsum_i32; break;
    case ONYX_DTYPE_UINT32: fn = cumsum_u32; break;
    case ONYX_DTYPE_INT64: fn = cumsum_i64; break;
    case ONYX_DTYPE_UINT64: fn = cumsum_u64; break;
    default:
      return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                             onyx_dtype_name(x->dtype));
  }
  int64_t outer, n, inner;
  split_axis(x, axis, &outer, &n, &inner);
  if (outer * n * inner == 0) return NULL;
  cumjob j = {x->data, y->data, n, inner, inner, 1, onyx_attr_int(nd, "exclusive", 0) != 0,
              onyx_attr_int(nd, "reverse", 0) != 0};
  if (inner > 4096) {
    j.chunk = 1024;
    j.nchunk = (inner + 1023) / 1024;
  }
  int64_t per = n * j.chunk;
  onyx_parallel_for(c->pool, (size_t)(outer * j.nchunk), per >= 16384 ? 1 : (size_t)(16384 / per), fn, &j);
  return NULL;
}
