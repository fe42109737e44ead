/* reduce_quant.c — cpu kernels of the linear quantization ops:
 * DynamicQuantizeLinear, QuantizeLinear and DequantizeLinear (per-tensor,
 * per-axis and, from opset 21, blocked scales and int4/uint4, packed two to a
 * byte as in ONNX). The integer matmul/conv ops that consume their outputs
 * are in qlinear.c.
 *
 * Rounding is to nearest even (nearbyint in the default rounding mode) and
 * the scale arithmetic is done in float, as the ONNX reference and ONNX
 * Runtime do, so results match bit for bit. The common case, float32 <->
 * 8-bit with a float32 scale per tensor or per axis, runs through line
 * kernels (AVX2 in quantize_avx2.c, else typed scalar loops); every other
 * dtype and the blocked layout go through the generic per-element loops. */
#include <math.h>
#include <string.h>

#include "base/cpu_features.h"
#include "base/half.h"
#include "ops/reduce_ops.h"
#include "reduce_kernels.h"

#if defined(__x86_64__)
void cpu_quantize_f32__avx2(const float *x, size_t n, float s, float z, bool out_signed, void *y);
void cpu_dequantize_f32__avx2(const void *x, bool in_signed, size_t n, int32_t z, float s,
                              float *y);
void cpu_minmax_f32__avx2(const float *x, size_t n, float *lo, float *hi);
#endif

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }
static bool is_q4(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT4 || dt == ONYX_DTYPE_INT4; }

static bool qtype(onyx_dtype dt) {
  return is_q8(dt) || is_q4(dt) || dt == ONYX_DTYPE_UINT16 || dt == ONYX_DTYPE_INT16 || dt == ONYX_DTYPE_INT32;
}

/* Element i of an integer tensor buffer of dtype dt (one of qtype); 4-bit
 * types are packed two to a byte, element 2k in the low nibble of byte k. */
static int32_t qget(onyx_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case ONYX_DTYPE_UINT4: return onyx_nibble_get(p, i, false);
    case ONYX_DTYPE_INT4: return onyx_nibble_get(p, i, true);
    case ONYX_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case ONYX_DTYPE_INT8: return ((const int8_t *)p)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
  }
}

/* Stores v (already rounded, zero point added) saturated to dt's range. A
 * 4-bit store rewrites a whole byte, so two threads must never store into
 * neighbouring elements of a 4-bit buffer (qrun runs those serially). */
static void qput(onyx_dtype dt, void *p, int64_t i, float v) {
  float lo, hi;
  switch (dt) {
    case ONYX_DTYPE_UINT4: lo = 0, hi = 15; break;
    case ONYX_DTYPE_INT4: lo = -8, hi = 7; break;
    case ONYX_DTYPE_UINT8: lo = 0, hi = 255; break;
    case ONYX_DTYPE_INT8: lo = -128, hi = 127; break;
    case ONYX_DTYPE_UINT16: lo = 0, hi = 65535; break;
    case ONYX_DTYPE_INT16: lo = -32768, hi = 32767; break;
    default: lo = -2147483648.0f, hi = 2147483520.0f; break;  /* largest float below 2^31 */
  }
  v = v < lo ? lo : v > hi ? hi : v;
  if (v != v) v = 0;
  switch (dt) {
    case ONYX_DTYPE_UINT4: case ONYX_DTYPE_INT4: onyx_nibble_set(p, i, (int)v); break;
    case ONYX_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case ONYX_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case ONYX_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case ONYX_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: ((int32_t *)p)[i] = (int32_t)v; break;
  }
}

/* Float element i of a float-like tensor buffer. */
static float fget(onyx_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: return ((const float *)p)[i];
    case ONYX_DTYPE_DOUBLE: return (float)((const double *)p)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return (float)((const int32_t *)p)[i];
  }
}

static bool ftype(onyx_dtype dt) {
  return dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_DOUBLE || dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16;
}

static void fput(onyx_dtype dt, void *p, int64_t i, float v) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: ((float *)p)[i] = v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_f16(v); break;
    default: ((uint16_t *)p)[i] = onyx_f32_to_bf16(v); break;
  }
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------ */

/* ---- float32 <-> 8-bit line kernels ------------------------------------------------- */

static bool have_avx2(void) {
#if defined(__x86_64__)
  return onyx_cpu()->avx2 != 0;
#else
  return false;
#endif
}

/* y[i] = sat(round(x[i] / s) + z) into u8 or s8, NaN -> 0 */
static void quantize_line(const float *x, size_t n, float s, float z, bool out_signed, void *y) {
#if defined(__x86_64__)
  if (have_avx2()) {
    cpu_quantize_f32__avx2(x, n, s, z, out_signed, y);
    return;
  }
#endif
  onyx_dtype dt = out_signed ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8;
  for (size_t i = 0; i < n; i++) qput(dt, y, (int64_t)i, nearbyintf(x[i] / s) + z);
}

/* y[i] = (x[i] - z) * s for u8 or s8 x */
static void dequantize_line(const void *x, bool in_signed, size_t n, int32_t z, float s, float *y) {
#if defined(__x86_64__)
  if (have_avx2()) {
    cpu_dequantize_f32__avx2(x, in_signed, n, z, s, y);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++)
    y[i] = (float)((in_signed ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i]) - z) * s;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------ */

typedef struct dql_job {
  const float *x;
  uint8_t *y;
  int64_t n;
  float scale, zp;
} dql_job;

#define DQL_CHUNK 16384

static void dql_fn(void *arg, size_t u0, size_t u1, int tid) {
  (void)tid;
  const dql_job *j = arg;
  for (size_t u = u0; u < u1; u++) {
    int64_t i0 = (int64_t)u * DQL_CHUNK, len = j->n - i0 < DQL_CHUNK ? j->n - i0 : DQL_CHUNK;
    if (j->scale > 0) quantize_line(j->x + i0, (size_t)len, j->scale, j->zp, false, j->y + i0);
    else memset(j->y + i0, 0, (size_t)len);
  }
}

void cpu_dynamic_quantize_u8(const float *x, int64_t n, uint8_t *y, float *scale, uint8_t *zero,
                             const onyx_threadpool *pool) {
  float lo = 0, hi = 0;
#if defined(__x86_64__)
  if (have_avx2()) cpu_minmax_f32__avx2(x, (size_t)n, &lo, &hi);
  else
#endif
    for (int64_t i = 0; i < n; i++) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
  float s = (hi - lo) / 255.0f;
  float zpf = s > 0 ? nearbyintf(fminf(fmaxf(0.0f - lo / s, 0.0f), 255.0f)) : 0.0f;
  dql_job j = {x, y, n, s, zpf};
  onyx_parallel_for(pool, (size_t)((n + DQL_CHUNK - 1) / DQL_CHUNK), 4, dql_fn, &j);
  *scale = s;
  *zero = (uint8_t)zpf;
}

onyx_status *cpu_dynamic_quantize_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  if (x->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                           onyx_dtype_name(x->dtype));
  int64_t zero = 0;
  ONYX_TRY(cpu_reduce_ensure(c->out[0], x->rank, x->dims));
  if (c->n_out > 1 && c->out[1]) ONYX_TRY(cpu_reduce_ensure(c->out[1], 0, &zero));
  if (c->n_out > 2 && c->out[2]) ONYX_TRY(cpu_reduce_ensure(c->out[2], 0, &zero));
  float scale;
  uint8_t zp;
  cpu_dynamic_quantize_u8(x->data, onyx_numel(x->rank, x->dims), c->out[0]->data, &scale, &zp, c->pool);
  if (c->n_out > 1 && c->out[1]) *(float *)c->out[1]->data = scale;
  if (c->n_out > 2 && c->out[2]) *(uint8_t *)c->out[2]->data = zp;
  return NULL;
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------------------- */

/* Where each element finds its scale and zero point: element (o, j, i) of x
 * viewed as [outer, n, inner] around the axis uses index
 *   per-tensor: 0;  per-axis: j;  blocked: (o * nblk + j / block) * inner + i. */
typedef struct qlayout {
  int64_t outer, n, inner;
  int mode;            /* 0 per-tensor, 1 per-axis, 2 blocked */
  int64_t block, nblk;
} qlayout;

static onyx_status *qlayout_of(const onyx_node *nd, const onyx_tensor *x, const onyx_tensor *scale,
                               const onyx_tensor *zp, qlayout *q) {
  memset(q, 0, sizeof *q);
  int64_t ns = onyx_numel(scale->rank, scale->dims);
  if (zp && onyx_numel(zp->rank, zp->dims) != ns)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "scale and zero point differ in size");
  q->block = onyx_attr_int(nd, "block_size", 0);
  q->outer = 1;
  q->n = 1;
  q->inner = onyx_numel(x->rank, x->dims);
  if (ns == 1 && q->block == 0 && scale->rank <= 1) return NULL;
  if (x->rank == 0)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "scale must be a scalar for a scalar input");
  int axis;
  ONYX_TRY(onyx_norm_axis(nd, onyx_attr_int(nd, "axis", 1), x->rank, &axis));
  q->outer = onyx_numel(axis, x->dims);
  q->n = x->dims[axis];
  q->inner = onyx_numel(x->rank - axis - 1, x->dims + axis + 1);
  if (q->block > 0) {
    q->mode = 2;
    q->nblk = (q->n + q->block - 1) / q->block;
    bool ok = scale->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++) ok = scale->dims[d] == (d == axis ? q->nblk : x->dims[d]);
    if (!ok) return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "scale shape does not fit block_size %lld",
                                    (long long)q->block);
    return NULL;
  }
  if (scale->rank != 1 || ns != q->n)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "per-axis scale has %lld values for axis of %lld",
                           (long long)ns, (long long)q->n);
  q->mode = 1;
  return NULL;
}

static int64_t qindex(const qlayout *q, int64_t o, int64_t j, int64_t i) {
  if (q->mode == 0) return 0;
  if (q->mode == 1) return j;
  return (o * q->nblk + j / q->block) * q->inner + i;
}

typedef struct qjob {
  const qlayout *q;
  const onyx_tensor *x, *scale, *zp;
  onyx_tensor *y;
  int64_t chunk, nchunk;
} qjob;

/* Runs lines (o, j) of x in chunks of the inner dim; BODY does one element
 * e with its scale s and zero point z. */
#define DEFINE_QLOOP(NAME, BODY)                                                         \
  static void NAME(void *arg, size_t u0, size_t u1, int tid) {                           \
    (void)tid;                                                                           \
    const qjob *jb = arg;                                                                \
    const qlayout *q = jb->q;                                                            \
    for (size_t u = u0; u < u1; u++) {                                                   \
      int64_t line = (int64_t)u / jb->nchunk, i0 = ((int64_t)u % jb->nchunk) * jb->chunk; \
      int64_t o = line / q->n, j = line % q->n;                                          \
      int64_t i1 = q->inner - i0 < jb->chunk ? q->inner : i0 + jb->chunk;                \
      for (int64_t i = i0; i < i1; i++) {                                                \
        int64_t e = line * q->inner + i, si = qindex(q, o, j, i);                        \
        float s = fget(jb->scale->dtype, jb->scale->data, si);                           \
        int32_t z = jb->zp ? qget(jb->zp->dtype, jb->zp->data, si) : 0;                  \
        BODY;                                                                            \
      }                                                                                  \
    }                                                                                    \
  }
DEFINE_QLOOP(quant_fn, qput(jb->y->dtype, jb->y->data, e,
                            nearbyintf(fget(jb->x->dtype, jb->x->data, e) / s) + (float)z))
DEFINE_QLOOP(dequant_fn, fput(jb->y->dtype, jb->y->data, e, (float)(qget(jb->x->dtype, jb->x->data, e) - z) * s))

/* The same walk for float32 <-> 8-bit with a float32 scale per tensor or per
 * axis (one scale and zero point per line): whole line chunks at once. */
#define DEFINE_QLINES(NAME, BODY)                                                        \
  static void NAME(void *arg, size_t u0, size_t u1, int tid) {                           \
    (void)tid;                                                                           \
    const qjob *jb = arg;                                                                \
    const qlayout *q = jb->q;                                                            \
    for (size_t u = u0; u < u1; u++) {                                                   \
      int64_t line = (int64_t)u / jb->nchunk, i0 = ((int64_t)u % jb->nchunk) * jb->chunk; \
      int64_t si = q->mode == 0 ? 0 : line % q->n;                                       \
      int64_t i1 = q->inner - i0 < jb->chunk ? q->inner : i0 + jb->chunk;                \
      int64_t e = line * q->inner + i0;                                                  \
      size_t len = (size_t)(i1 - i0);                                                    \
      float s = ((const float *)jb->scale->data)[si];                                    \
      int32_t z = jb->zp ? qget(jb->zp->dtype, jb->zp->data, si) : 0;                    \
      BODY;                                                                              \
    }                                                                                    \
  }
DEFINE_QLINES(quant_lines, quantize_line((const float *)jb->x->data + e, len, s, (float)z,
                                         jb->y->dtype == ONYX_DTYPE_INT8, (uint8_t *)jb->y->data + e))
DEFINE_QLINES(dequant_lines, dequantize_line((const uint8_t *)jb->x->data + e, jb->x->dtype == ONYX_DTYPE_INT8,
                                             len, z, s, (float *)jb->y->data + e))

static void qrun(onyx_kernel_ctx *c, const qlayout *q, const onyx_tensor *zp, onyx_range_fn fn) {
  qjob jb = {q, c->in[0], c->in[1], zp, c->out[0], q->inner, 1};
  if (q->inner > 16384) {
    jb.chunk = 16384;
    jb.nchunk = (q->inner + 16383) / 16384;
  }
  size_t grain = jb.chunk >= 16384 ? 1 : (size_t)(16384 / (jb.chunk ? jb.chunk : 1));
  /* 4-bit outputs: lines may share a byte (see qput), so one thread writes */
  onyx_parallel_for(is_q4(jb.y->dtype) ? NULL : c->pool, (size_t)(q->outer * q->n * jb.nchunk), grain, fn, &jb);
}

onyx_status *cpu_quantize_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *scale = c->in[1];
  const onyx_tensor *zp = c->n_in > 2 && c->in[2] && onyx_tensor_nbytes(c->in[2]) ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0];
  if ((!ftype(x->dtype) && x->dtype != ONYX_DTYPE_INT32) || !ftype(scale->dtype) || !qtype(y->dtype) ||
      y->dtype == ONYX_DTYPE_INT32 || (zp && zp->dtype != y->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s -> %s quantization is not supported",
                           onyx_dtype_name(x->dtype), onyx_dtype_name(y->dtype));
  ONYX_TRY(cpu_reduce_ensure(y, x->rank, x->dims));
  qlayout q;
  ONYX_TRY(qlayout_of(nd, x, scale, zp, &q));
  if (is_q4(y->dtype)) memset(y->data, 0, onyx_dtype_bytes(y->dtype, onyx_numel(y->rank, y->dims)));   /* the padding nibble of an odd count stays 0 */
  bool lines = x->dtype == ONYX_DTYPE_FLOAT && scale->dtype == ONYX_DTYPE_FLOAT && is_q8(y->dtype) && q.mode < 2;
  qrun(c, &q, zp, lines ? quant_lines : quant_fn);
  return NULL;
}

onyx_status *cpu_dequantize_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *scale = c->in[1];
  const onyx_tensor *zp = c->n_in > 2 && c->in[2] && onyx_tensor_nbytes(c->in[2]) ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0];
  if (!qtype(x->dtype) || !ftype(scale->dtype) || !ftype(y->dtype) || (zp && zp->dtype != x->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s -> %s dequantization is not supported",
                           onyx_dtype_name(x->dtype), onyx_dtype_name(y->dtype));
  ONYX_TRY(cpu_reduce_ensure(y, x->rank, x->dims));
  qlayout q;
  ONYX_TRY(qlayout_of(nd, x, scale, zp, &q));
  bool lines = is_q8(x->dtype) && scale->dtype == ONYX_DTYPE_FLOAT && y->dtype == ONYX_DTYPE_FLOAT && q.mode < 2;
  qrun(c, &q, zp, lines ? dequant_lines : dequant_fn);
  return NULL;
}
