/* reduce.c — cpu kernels of the Reduce* ops, shared dtype conversion helpers
 * of the family, and the family's kernel table cpu_kernels_reduce (the other
 * ops of defs/reduce.def live in reduce_*.c, declared in reduce_kernels.h).
 *
 * A reduction is planned once per run: size-1 dims are dropped and adjacent
 * dims that are both kept or both reduced are merged, so the common cases
 * become one of two loops. If the last merged dim is reduced, each output is
 * a sum of contiguous runs (reduce the last axis, reduce spatial dims of
 * NCHW); if it is kept, each output row accumulates whole input rows (reduce
 * a middle axis). The offsets of the remaining reduced positions are listed
 * once. Work is split over the kept outer elements (and, when there are few
 * of them, over chunks of the kept row) with onyx_parallel_for. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/half.h"
#include "ops/reduce_ops.h"
#include "reduce_kernels.h"

typedef enum rkind {
  R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ
} rkind;

typedef struct rplan {
  int64_t blocks;          /* outputs (inner reduced) or output rows (inner kept) */
  int64_t inner;           /* length of the last merged dim (contiguous) */
  bool inner_reduced;
  int nko;                 /* kept outer dims, excluding the inner one */
  int64_t kdim[ONYX_MAX_RANK], kstride[ONYX_MAX_RANK];
  int64_t nred;            /* reduced positions besides the inner run */
  int64_t *roff;           /* their input offsets (owned) */
  int64_t count;           /* input elements per output */
} rplan;

static int64_t rplan_base(const rplan *p, int64_t b) {
  int64_t off = 0;
  for (int d = p->nko - 1; d >= 0; d--) {
    off += (b % p->kdim[d]) * p->kstride[d];
    b /= p->kdim[d];
  }
  return off;
}

/* Plans the reduction of a tensor of `rank` dims by mask (numel > 0). */
static onyx_status *rplan_build(int rank, const int64_t *dims, const bool *mask, rplan *p) {
  int64_t md[ONYX_MAX_RANK], ms[ONYX_MAX_RANK];
  bool mr[ONYX_MAX_RANK];
  int m = 0;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    if (m > 0 && mr[m - 1] == mask[d]) md[m - 1] *= dims[d];
    else {
      md[m] = dims[d];
      mr[m++] = mask[d];
    }
  }
  if (m == 0) {
    md[0] = 1;
    mr[m++] = true;
  }
  int64_t st = 1;
  for (int d = m - 1; d >= 0; d--) {
    ms[d] = st;
    st *= md[d];
  }
  memset(p, 0, sizeof *p);
  p->inner = md[m - 1];
  p->inner_reduced = mr[m - 1];
  p->blocks = 1;
  p->count = p->inner_reduced ? p->inner : 1;
  int64_t rd[ONYX_MAX_RANK], rs[ONYX_MAX_RANK];
  int nr = 0;
  p->nred = 1;
  for (int d = 0; d < m - 1; d++) {
    if (mr[d]) {
      rd[nr] = md[d];
      rs[nr++] = ms[d];
      p->nred *= md[d];
    } else {
      p->kdim[p->nko] = md[d];
      p->kstride[p->nko++] = ms[d];
      p->blocks *= md[d];
    }
  }
  p->count *= p->nred;
  p->roff = onyx_malloc((size_t)p->nred * sizeof *p->roff);
  if (!p->roff) return onyx_error_oom();
  int64_t idx[ONYX_MAX_RANK] = {0}, off = 0;
  for (int64_t r = 0; r < p->nred; r++) {
    p->roff[r] = off;
    for (int d = nr - 1; d >= 0; d--) {
      off += rs[d];
      if (++idx[d] < rd[d]) break;
      off -= rs[d] * rd[d];
      idx[d] = 0;
    }
  }
  return NULL;
}

/* exp for float LogSumExp, whose arguments are <= 0 (shifted by the max):
 * Cephes' polynomial after reduction by ln 2 (vmath_impl.h's, written here
 * for one element because reduce_tmpl.h's `omp simd` loops call it per
 * element, on lines that need not be contiguous); relative error below 1e-7.
 * libm's expf does not vectorise, and neither would float compares and
 * float->int conversion under the default -ftrapping-math, so the clamp to
 * -87 and the 2^n scale are done on the bit patterns (for negative floats a
 * larger magnitude is a larger unsigned pattern). Non-negative, infinite or
 * NaN arguments give a defined but meaningless value: they only occur on
 * lines whose max is not finite, whose result reduce_run replaces. */
static inline float exp_shifted_f32(float x) {
  uint32_t xb;
  memcpy(&xb, &x, sizeof xb);
  xb = xb > 0xC2AE0000u ? 0xC2AE0000u : xb;  /* -87.0f */
  memcpy(&x, &xb, sizeof x);
  float t = x * 1.44269504f + 12582912.0f;   /* 1.5 * 2^23: n lands in the low bits */
  float n = t - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t tb;
  memcpy(&tb, &t, sizeof tb);
  uint32_t sb = (tb - 0x4B400000u + 127u) << 23;
  float scale;
  memcpy(&scale, &sb, sizeof scale);
  return p * scale;
}

#define RT float
#define RSFX f32
#define R_EXP exp_shifted_f32
#define R_LOG logf
#define R_SQRT sqrtf
#define R_LOWEST (-INFINITY)
#define R_HIGHEST INFINITY
#define R_NAN NAN
#define R_IS_INT 0
#include "reduce_tmpl.h"

#define RT double
#define RSFX f64
#define R_EXP exp
#define R_LOG log
#define R_SQRT sqrt
#define R_LOWEST (-INFINITY)
#define R_HIGHEST INFINITY
#define R_NAN NAN
#define R_IS_INT 0
#include "reduce_tmpl.h"

#define RT int64_t
#define RSFX i64
#define R_EXP(v) exp((double)(v))
#define R_LOG(v) log((double)(v))
#define R_SQRT(v) sqrt((double)(v))
#define R_LOWEST INT64_MIN
#define R_HIGHEST INT64_MAX
#define R_NAN 0
#define R_IS_INT 1
#include "reduce_tmpl.h"

/* ---- dtype conversion shared by the family --------------------------------- */

bool cpu_reduce_load_f64(onyx_dtype dt, const void *src, int64_t n, double *dst) {
  switch (dt) {
#define LOAD(T) for (int64_t i = 0; i < n; i++) dst[i] = (double)((const T *)src)[i]; return true
    case ONYX_DTYPE_FLOAT: LOAD(float);
    case ONYX_DTYPE_DOUBLE: LOAD(double);
    case ONYX_DTYPE_INT8: LOAD(int8_t);
    case ONYX_DTYPE_UINT8: LOAD(uint8_t);
    case ONYX_DTYPE_INT16: LOAD(int16_t);
    case ONYX_DTYPE_UINT16: LOAD(uint16_t);
    case ONYX_DTYPE_INT32: LOAD(int32_t);
    case ONYX_DTYPE_UINT32: LOAD(uint32_t);
    case ONYX_DTYPE_INT64: LOAD(int64_t);
    case ONYX_DTYPE_UINT64: LOAD(uint64_t);
#undef LOAD
    case ONYX_DTYPE_FLOAT16:
      for (int64_t i = 0; i < n; i++) dst[i] = onyx_f16_to_f32(((const uint16_t *)src)[i]);
      return true;
    case ONYX_DTYPE_BFLOAT16:
      for (int64_t i = 0; i < n; i++) dst[i] = onyx_bf16_to_f32(((const uint16_t *)src)[i]);
      return true;
    default: return false;
  }
}

bool cpu_reduce_store_f64(onyx_dtype dt, const double *src, int64_t n, void *dst) {
  switch (dt) {
#define STORE(T) for (int64_t i = 0; i < n; i++) ((T *)dst)[i] = (T)src[i]; return true
    case ONYX_DTYPE_FLOAT: STORE(float);
    case ONYX_DTYPE_DOUBLE: STORE(double);
    case ONYX_DTYPE_INT8: STORE(int8_t);
    case ONYX_DTYPE_UINT8: STORE(uint8_t);
    case ONYX_DTYPE_INT16: STORE(int16_t);
    case ONYX_DTYPE_UINT16: STORE(uint16_t);
    case ONYX_DTYPE_INT32: STORE(int32_t);
    case ONYX_DTYPE_UINT32: STORE(uint32_t);
    case ONYX_DTYPE_INT64: STORE(int64_t);
    case ONYX_DTYPE_UINT64: STORE(uint64_t);
#undef STORE
    case ONYX_DTYPE_FLOAT16:
      for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = onyx_f32_to_f16((float)src[i]);
      return true;
    case ONYX_DTYPE_BFLOAT16:
      for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = onyx_f32_to_bf16((float)src[i]);
      return true;
    default: return false;
  }
}

bool cpu_reduce_numeric(onyx_dtype dt) {
  double d = 0;
  return cpu_reduce_load_f64(dt, &d, 0, &d);
}

onyx_status *cpu_reduce_ensure(onyx_tensor *out, int rank, const int64_t *dims) {
  if (out->data) return NULL;
  return onyx_tensor_alloc(out, rank, dims);
}

/* ---- Reduce* ------------------------------------------------------------------ */

static bool is_int(onyx_dtype dt) {
  switch (dt) {
    case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16:
    case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64:
      return true;
    default: return false;
  }
}

/* The compute type for input dtype dt and reduction k: float for float and
 * the 16-bit floats, double for double and for integers under L2/LogSum/
 * LogSumExp, int64 for the other integer reductions. */
static onyx_dtype compute_type(onyx_dtype dt, rkind k) {
  if (dt == ONYX_DTYPE_DOUBLE) return ONYX_DTYPE_DOUBLE;
  if (dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16) return ONYX_DTYPE_FLOAT;
  if (!is_int(dt)) return ONYX_DTYPE_UNDEFINED;
  return (k == R_L2 || k == R_LOGSUM || k == R_LOGSUMEXP) ? ONYX_DTYPE_DOUBLE : ONYX_DTYPE_INT64;
}

/* Integer <-> int64 copies, exact (wrapping on the way back like a C cast). */
static void ints_to_i64(onyx_dtype dt, const void *src, int64_t *dst, int64_t n) {
  switch (dt) {
#define CP(T) for (int64_t i = 0; i < n; i++) dst[i] = (int64_t)((const T *)src)[i]; break
    case ONYX_DTYPE_INT8: CP(int8_t);
    case ONYX_DTYPE_UINT8: CP(uint8_t);
    case ONYX_DTYPE_INT16: CP(int16_t);
    case ONYX_DTYPE_UINT16: CP(uint16_t);
    case ONYX_DTYPE_INT32: CP(int32_t);
    case ONYX_DTYPE_UINT32: CP(uint32_t);
    case ONYX_DTYPE_UINT64: CP(uint64_t);
    default: CP(int64_t);
#undef CP
  }
}

static void i64_to_ints(const int64_t *src, onyx_dtype dt, void *dst, int64_t n) {
  switch (dt) {
#define CP(T) for (int64_t i = 0; i < n; i++) ((T *)dst)[i] = (T)src[i]; break
    case ONYX_DTYPE_INT8: CP(int8_t);
    case ONYX_DTYPE_UINT8: CP(uint8_t);
    case ONYX_DTYPE_INT16: CP(int16_t);
    case ONYX_DTYPE_UINT16: CP(uint16_t);
    case ONYX_DTYPE_INT32: CP(int32_t);
    case ONYX_DTYPE_UINT32: CP(uint32_t);
    case ONYX_DTYPE_UINT64: CP(uint64_t);
    default: CP(int64_t);
#undef CP
  }
}

/* Copies n elements of dtype `from` to the compute type `to` or back. */
static void convert(onyx_dtype from, const void *src, onyx_dtype to, void *dst, int64_t n) {
  if (to == ONYX_DTYPE_INT64 && is_int(from)) {
    ints_to_i64(from, src, dst, n);
  } else if (from == ONYX_DTYPE_INT64 && is_int(to)) {
    i64_to_ints(src, to, dst, n);
  } else {
    double buf[256];
    size_t es_from = onyx_dtype_size(from), es_to = onyx_dtype_size(to);
    for (int64_t i = 0; i < n; i += 256) {
      int64_t m = n - i < 256 ? n - i : 256;
      cpu_reduce_load_f64(from, (const char *)src + (size_t)i * es_from, m, buf);
      cpu_reduce_store_f64(to, buf, m, (char *)dst + (size_t)i * es_to);
    }
  }
}

/* Fills n outputs of a reduction over nothing (a reduced dim of size 0). */
static void fill_empty(rkind k, onyx_dtype ct, void *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (ct == ONYX_DTYPE_FLOAT) ((float *)y)[i] = post_f32(k, init_f32(k), 0, 0);
    else if (ct == ONYX_DTYPE_DOUBLE) ((double *)y)[i] = post_f64(k, init_f64(k), 0, 0);
    else ((int64_t *)y)[i] = post_i64(k, init_i64(k), 0, 0);
  }
}

static void run_typed(const rplan *p, rkind k, onyx_dtype ct, const void *x, void *y, const void *s,
                      const onyx_threadpool *pool) {
  if (ct == ONYX_DTYPE_FLOAT) reduce_f32(p, k, x, y, s, pool);
  else if (ct == ONYX_DTYPE_DOUBLE) reduce_f64(p, k, x, y, s, pool);
  else reduce_i64(p, k, x, y, s, pool);
}

static onyx_status *reduce_run(onyx_kernel_ctx *c, rkind k) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  const onyx_tensor *axes = onyx_reduce_axes_from_input(n) && c->n_in > 1 ? c->in[1] : NULL;
  bool mask[ONYX_MAX_RANK], noop;
  ONYX_TRY(onyx_reduce_axes(n, axes, x->rank, mask, &noop));
  bool keep = onyx_attr_int(n, "keepdims", 1) != 0;
  int64_t od[ONYX_MAX_RANK];
  int orank = 0;
  for (int d = 0; d < x->rank; d++) {
    if (!mask[d]) od[orank++] = x->dims[d];
    else if (keep) od[orank++] = 1;
  }
  ONYX_TRY(cpu_reduce_ensure(y, orank, od));
  int64_t nx = onyx_numel(x->rank, x->dims), ny = onyx_numel(orank, od);
  onyx_dtype ct = compute_type(x->dtype, k);
  if (ct == ONYX_DTYPE_UNDEFINED || x->dtype != y->dtype)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(x->dtype));
  if (noop) {
    memcpy(y->data, x->data, onyx_dtype_bytes(x->dtype, nx));
    return NULL;
  }
  size_t es = onyx_dtype_size(ct);
  void *xt = NULL, *yt = NULL, *st = NULL, *mx = NULL;
  rplan p = {0};
  onyx_status *s = NULL;
  const void *xc = x->data;
  void *yc = y->data;
  if (ct != x->dtype) {
    xt = onyx_malloc_aligned((size_t)nx * es + 1);
    yt = onyx_malloc_aligned((size_t)ny * es + 1);
    if (!xt || !yt) {
      s = onyx_error_oom();
      goto done;
    }
    convert(x->dtype, x->data, ct, xt, nx);
    xc = xt;
    yc = yt;
  }
  if (nx == 0) {
    fill_empty(k, ct, yc, ny);
  } else {
    if ((s = rplan_build(x->rank, x->dims, mask, &p))) goto done;
    if (k == R_LOGSUMEXP) {
      /* shift by the max so exp cannot overflow; infinities shift by 0 */
      st = onyx_malloc_aligned((size_t)ny * es + 1);
      mx = onyx_malloc_aligned((size_t)ny * es + 1);
      if (!st || !mx) {
        s = onyx_error_oom();
        goto done;
      }
      run_typed(&p, R_MAX, ct, xc, mx, NULL, c->pool);
      memcpy(st, mx, (size_t)ny * es);
      for (int64_t i = 0; i < ny; i++) {
        if (ct == ONYX_DTYPE_FLOAT && !isfinite(((float *)st)[i])) ((float *)st)[i] = 0;
        if (ct == ONYX_DTYPE_DOUBLE && !isfinite(((double *)st)[i])) ((double *)st)[i] = 0;
      }
    }
    run_typed(&p, k, ct, xc, yc, st, c->pool);
    /* LogSumExp of a line whose max is +-inf or NaN is that max */
    for (int64_t i = 0; mx && i < ny; i++) {
      if (ct == ONYX_DTYPE_FLOAT && !isfinite(((float *)mx)[i])) ((float *)yc)[i] = ((float *)mx)[i];
      if (ct == ONYX_DTYPE_DOUBLE && !isfinite(((double *)mx)[i])) ((double *)yc)[i] = ((double *)mx)[i];
    }
  }
  if (yc != y->data) convert(ct, yc, y->dtype, y->data, ny);
done:
  onyx_free(p.roff);
  onyx_free_aligned(xt);
  onyx_free_aligned(yt);
  onyx_free_aligned(st);
  onyx_free_aligned(mx);
  return s;
}

static onyx_status *reduce_sum_run(onyx_kernel_ctx *c) { return reduce_run(c, R_SUM); }
static onyx_status *reduce_mean_run(onyx_kernel_ctx *c) { return reduce_run(c, R_MEAN); }
static onyx_status *reduce_max_run(onyx_kernel_ctx *c) { return reduce_run(c, R_MAX); }
static onyx_status *reduce_min_run(onyx_kernel_ctx *c) { return reduce_run(c, R_MIN); }
static onyx_status *reduce_prod_run(onyx_kernel_ctx *c) { return reduce_run(c, R_PROD); }
static onyx_status *reduce_l1_run(onyx_kernel_ctx *c) { return reduce_run(c, R_L1); }
static onyx_status *reduce_l2_run(onyx_kernel_ctx *c) { return reduce_run(c, R_L2); }
static onyx_status *reduce_logsum_run(onyx_kernel_ctx *c) { return reduce_run(c, R_LOGSUM); }
static onyx_status *reduce_logsumexp_run(onyx_kernel_ctx *c) { return reduce_run(c, R_LOGSUMEXP); }
static onyx_status *reduce_sumsquare_run(onyx_kernel_ctx *c) { return reduce_run(c, R_SUMSQ); }

const onyx_kernel cpu_kernels_reduce[] = {
    {.op = onyx_op_ReduceSum, .run = reduce_sum_run},
    {.op = onyx_op_ReduceMean, .run = reduce_mean_run},
    {.op = onyx_op_ReduceMax, .run = reduce_max_run},
    {.op = onyx_op_ReduceMin, .run = reduce_min_run},
    {.op = onyx_op_ReduceProd, .run = reduce_prod_run},
    {.op = onyx_op_ReduceL1, .run = reduce_l1_run},
    {.op = onyx_op_ReduceL2, .run = reduce_l2_run},
    {.op = onyx_op_ReduceLogSum, .run = reduce_logsum_run},
    {.op = onyx_op_ReduceLogSumExp, .run = reduce_logsumexp_run},
    {.op = onyx_op_ReduceSumSquare, .run = reduce_sumsquare_run},
    {.op = onyx_op_ArgMax, .run = cpu_argmax_run},
    {.op = onyx_op_ArgMin, .run = cpu_argmin_run},
    {.op = onyx_op_TopK, .run = cpu_topk_run},
    {.op = onyx_op_CumSum, .run = cpu_cumsum_run},
    {.op = onyx_op_Einsum, .run = cpu_einsum_run},
    {.op = onyx_op_Det, .run = cpu_det_run},
    {.op = onyx_op_NonMaxSuppression, .run = cpu_nms_run},
    {.op = onyx_op_RoiAlign, .run = cpu_roialign_run},
    {.op = onyx_op_GridSample, .run = cpu_gridsample_run},
    {.op = onyx_op_RandomNormal, .run = cpu_random_normal_run},
    {.op = onyx_op_RandomUniform, .run = cpu_random_uniform_run},
    {.op = onyx_op_RandomNormalLike, .run = cpu_random_normal_run},
    {.op = onyx_op_RandomUniformLike, .run = cpu_random_uniform_run},
    {.op = onyx_op_Bernoulli, .run = cpu_bernoulli_run},
    {.op = onyx_op_Multinomial, .run = cpu_multinomial_run},
    {.op = onyx_op_DynamicQuantizeLinear, .run = cpu_dynamic_quantize_run},
    {.op = onyx_op_QuantizeLinear, .run = cpu_quantize_run},
    {.op = onyx_op_DequantizeLinear, .run = cpu_dequantize_run},
    {.op = -1},
};
