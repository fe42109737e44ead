/* reduce_quant.c — cpu kernels of the linear quantization ops:
 * DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear (per-tensor,
 * per-axis and, from opset 21, blocked scales), QLinearMatMul and QLinearConv.
 *
 * Rounding is to nearest even (nearbyint in the default rounding mode) and
 * the scale arithmetic is done in float, as the ONNX reference and ONNX
 * Runtime do, so results match bit for bit. QLinearMatMul and QLinearConv are
 * reference loops over int32 accumulators (zero points subtracted up front);
 * fast int8 paths belong to the dnnl provider. */
#include <math.h>
#include <string.h>

#include "base/half.h"
#include "ops/reduce_ops.h"
#include "reduce_kernels.h"
#include "ops/linalg.h"

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }

static bool qtype(onyx_dtype dt) {
  return is_q8(dt) || dt == ONYX_DTYPE_UINT16 || dt == ONYX_DTYPE_INT16 || dt == ONYX_DTYPE_INT32;
}

/* Element i of an integer tensor buffer of dtype dt (one of qtype). */
static int32_t qget(onyx_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case ONYX_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case ONYX_DTYPE_INT8: return ((const int8_t *)p)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
  }
}

/* Stores v (already rounded, zero point added) saturated to dt's range. */
static void qput(onyx_dtype dt, void *p, int64_t i, float v) {
  float lo, hi;
  switch (dt) {
    case ONYX_DTYPE_UINT8: lo = 0, hi = 255; break;
    case ONYX_DTYPE_INT8: lo = -128, hi = 127; break;
    case ONYX_DTYPE_UINT16: lo = 0, hi = 65535; break;
    case ONYX_DTYPE_INT16: lo = -32768, hi = 32767; break;
    default: lo = -2147483648.0f, hi = 2147483520.0f; break;  /* largest float below 2^31 */
  }
  v = v < lo ? lo : v > hi ? hi : v;
  if (v != v) v = 0;
  switch (dt) {
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

onyx_status *cpu_dynamic_quantize_run(cpu_ctx *c) {
  const onyx_tensor *x = c->in[0];
  if (x->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                           onyx_dtype_name(x->dtype));
  int64_t zero = 0;
  ONYX_TRY(cpu_reduce_ensure(c->out[0], x->rank, x->dims));
  if (c->n_out > 1 && c->out[1]) ONYX_TRY(cpu_reduce_ensure(c->out[1], 0, &zero));
  if (c->n_out > 2 && c->out[2]) ONYX_TRY(cpu_reduce_ensure(c->out[2], 0, &zero));
  int64_t n = onyx_numel(x->rank, x->dims);
  const float *xv = x->data;
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; i++) {
    lo = xv[i] < lo ? xv[i] : lo;
    hi = xv[i] > hi ? xv[i] : hi;
  }
  float scale = (hi - lo) / 255.0f;
  float zpf = scale > 0 ? nearbyintf(fminf(fmaxf(0.0f - lo / scale, 0.0f), 255.0f)) : 0.0f;
  for (int64_t i = 0; i < n; i++)
    qput(ONYX_DTYPE_UINT8, c->out[0]->data, i, scale > 0 ? nearbyintf(xv[i] / scale) + zpf : 0.0f);
  if (c->n_out > 1 && c->out[1]) *(float *)c->out[1]->data = scale;
  if (c->n_out > 2 && c->out[2]) *(uint8_t *)c->out[2]->data = (uint8_t)zpf;
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

static void qrun(cpu_ctx *c, const qlayout *q, const onyx_tensor *zp, onyx_range_fn fn) {
  qjob jb = {q, c->in[0], c->in[1], zp, c->out[0], q->inner, 1};
  if (q->inner > 16384) {
    jb.chunk = 16384;
    jb.nchunk = (q->inner + 16383) / 16384;
  }
  size_t grain = jb.chunk >= 16384 ? 1 : (size_t)(16384 / (jb.chunk ? jb.chunk : 1));
  onyx_parallel_for(c->pool, (size_t)(q->outer * q->n * jb.nchunk), grain, fn, &jb);
}

onyx_status *cpu_quantize_run(cpu_ctx *c) {
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
  qrun(c, &q, zp, quant_fn);
  return NULL;
}

onyx_status *cpu_dequantize_run(cpu_ctx *c) {
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
  qrun(c, &q, zp, dequant_fn);
  return NULL;
}

/* ---- QLinearMatMul -------------------------------------------------------------------- */

/* Checks that a scale / zero-point pair is per-tensor or has `n` values. */
static onyx_status *qparams(const onyx_node *nd, const onyx_tensor *s, const onyx_tensor *z, int64_t n,
                            const char *what) {
  int64_t ns = onyx_numel(s->rank, s->dims);
  if (!ftype(s->dtype) || (z && !qtype(z->dtype)))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s: scale/zero point dtypes not supported", what);
  if ((ns != 1 && ns != n) || (z && onyx_numel(z->rank, z->dims) != ns))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s: scale has %lld values, expected 1 or %lld", what,
                           (long long)ns, (long long)n);
  return NULL;
}

static float pval(const onyx_tensor *s, int64_t i) {
  return fget(s->dtype, s->data, onyx_numel(s->rank, s->dims) == 1 ? 0 : i);
}

static int32_t zval(const onyx_tensor *z, int64_t i) {
  if (!z) return 0;
  return qget(z->dtype, z->data, onyx_numel(z->rank, z->dims) == 1 ? 0 : i);
}

onyx_status *cpu_qlinear_matmul_run(cpu_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *a = c->in[0], *as = c->in[1], *az = c->in[2], *b = c->in[3], *bs = c->in[4], *bz = c->in[5];
  const onyx_tensor *ys = c->in[6], *yz = c->in[7];
  onyx_tensor *y = c->out[0];
  if (!is_q8(a->dtype) || !is_q8(b->dtype) || !is_q8(y->dtype) || a->rank < 1 || b->rank < 1)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "expects 8-bit integer tensors of rank >= 1");
  int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1, K = a->dims[a->rank - 1];
  int64_t Kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0], N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  if (K != Kb) return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "inner dims differ: %lld vs %lld",
                                      (long long)K, (long long)Kb);
  ONYX_TRY(qparams(nd, as, az, M, "a"));
  ONYX_TRY(qparams(nd, bs, bz, N, "b"));
  ONYX_TRY(qparams(nd, ys, yz, 1, "y"));
  /* batch dims broadcast */
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0, r;
  int64_t bd[ONYX_MAX_RANK], od[ONYX_MAX_RANK];
  ONYX_TRY(onyx_broadcast_shape(nd, ra, a->dims, rb, b->dims, &r, bd));
  memcpy(od, bd, (size_t)r * sizeof *od);
  int orank = r;
  if (a->rank >= 2) od[orank++] = M;
  if (b->rank >= 2) od[orank++] = N;
  ONYX_TRY(cpu_reduce_ensure(y, orank, od));
  int64_t nbatch = onyx_numel(r, bd);
  float ysc = pval(ys, 0);
  float yzp = (float)zval(yz, 0);
  for (int64_t bt = 0; bt < nbatch; bt++) {
    /* offsets of this batch in a and b (size-1 dims broadcast) */
    int64_t oa = 0, ob = 0, rem = bt, sa = M * K, sb = K * N;
    for (int d = r - 1; d >= 0; d--) {
      int64_t i = rem % bd[d];
      rem /= bd[d];
      int da = d - (r - ra), db = d - (r - rb);
      if (da >= 0) {
        if (a->dims[da] != 1) oa += i * sa;
        sa *= a->dims[da];
      }
      if (db >= 0) {
        if (b->dims[db] != 1) ob += i * sb;
        sb *= b->dims[db];
      }
    }
    for (int64_t m = 0; m < M; m++) {
      int32_t za = zval(az, m);
      float sam = pval(as, m);
      for (int64_t n = 0; n < N; n++) {
        int32_t zb = zval(bz, n);
        int64_t acc = 0;  /* int64: long K cannot overflow */
        for (int64_t k = 0; k < K; k++)
          acc += (qget(a->dtype, a->data, oa + m * K + k) - za) * (qget(b->dtype, b->data, ob + k * N + n) - zb);
        float mult = sam * pval(bs, n) / ysc;
        qput(y->dtype, y->data, (bt * M + m) * N + n, nearbyintf((float)acc * mult) + yzp);
      }
    }
  }
  return NULL;
}

/* ---- QLinearConv ---------------------------------------------------------------------- */

typedef struct qconvjob {
  const int32_t *x, *w;     /* zero points already subtracted */
  const onyx_tensor *bias, *ws, *y;
  float xs, ys, yzp;
  const onyx_conv_geom *g;
  int64_t C, M, in_sp[ONYX_MAX_RANK], in_n, out_n, k_n;
  int64_t (*kidx)[ONYX_MAX_RANK];  /* kernel tap t's index per spatial dim */
} qconvjob;

static void qconv_fn(void *arg, size_t u0, size_t u1, int tid) {
  (void)tid;
  const qconvjob *j = arg;
  const onyx_conv_geom *g = j->g;
  int64_t cg = j->C / g->group, mg = j->M / g->group;
  for (size_t u = u0; u < u1; u++) {
    int64_t n = (int64_t)u / j->M, m = (int64_t)u % j->M, grp = m / mg;
    int64_t bias = j->bias ? ((const int32_t *)j->bias->data)[m] : 0;
    float mult = j->xs * pval(j->ws, m) / j->ys;
    int64_t o[ONYX_MAX_RANK] = {0};
    for (int64_t op = 0; op < j->out_n; op++) {
      int64_t acc = bias;
      for (int64_t t = 0; t < j->k_n; t++) {
        int64_t off = 0;
        bool in = true;
        for (int d = 0; d < g->nsp && in; d++) {
          int64_t p = o[d] * g->stride[d] - g->pad_begin[d] + j->kidx[t][d] * g->dilation[d];
          in = p >= 0 && p < j->in_sp[d];
          off = off * j->in_sp[d] + p;
        }
        if (!in) continue;
        for (int64_t ci = 0; ci < cg; ci++)
          acc += (int64_t)j->x[(n * j->C + grp * cg + ci) * j->in_n + off] * j->w[(m * cg + ci) * j->k_n + t];
      }
      qput(j->y->dtype, j->y->data, (n * j->M + m) * j->out_n + op, nearbyintf((float)acc * mult) + j->yzp);
      for (int d = g->nsp - 1; d >= 0; d--) {
        if (++o[d] < g->out[d]) break;
        o[d] = 0;
      }
    }
  }
}

onyx_status *cpu_qlinear_conv_run(cpu_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *xs = c->in[1], *xz = c->in[2], *w = c->in[3], *ws = c->in[4], *wz = c->in[5];
  const onyx_tensor *ys = c->in[6], *yz = c->in[7], *bias = c->n_in > 8 ? c->in[8] : NULL;
  onyx_tensor *y = c->out[0];
  if (!is_q8(x->dtype) || !is_q8(w->dtype) || !is_q8(y->dtype) || x->rank < 3 || w->rank != x->rank)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "expects 8-bit integer x, w of equal rank >= 3");
  if (bias && bias->dtype != ONYX_DTYPE_INT32)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "bias must be int32");
  int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0];
  onyx_conv_geom g;
  ONYX_TRY(onyx_conv_geometry(nd, false, x->rank, x->dims, w->dims, &g));
  if (g.group < 1 || C % g.group || M % g.group || w->dims[1] != C / g.group)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "channels %lld / group %lld do not match weights",
                           (long long)C, (long long)g.group);
  for (int d = 0; d < g.nsp; d++)
    if (g.kernel[d] != w->dims[2 + d])
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "kernel_shape does not match the weights");
  ONYX_TRY(qparams(nd, xs, xz, 1, "x"));
  ONYX_TRY(qparams(nd, ws, wz, M, "w"));
  ONYX_TRY(qparams(nd, ys, yz, 1, "y"));
  if (bias && onyx_numel(bias->rank, bias->dims) != M)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "bias must have %lld values", (long long)M);
  int64_t od[ONYX_MAX_RANK] = {N, M};
  memcpy(od + 2, g.out, (size_t)g.nsp * sizeof *od);
  ONYX_TRY(cpu_reduce_ensure(y, x->rank, od));
  qconvjob j = {0};
  j.bias = bias;
  j.ws = ws;
  j.y = y;
  j.xs = pval(xs, 0);
  j.ys = pval(ys, 0);
  j.yzp = (float)zval(yz, 0);
  j.g = &g;
  j.C = C;
  j.M = M;
  memcpy(j.in_sp, x->dims + 2, (size_t)g.nsp * sizeof *j.in_sp);
  j.in_n = onyx_numel(g.nsp, x->dims + 2);
  j.out_n = onyx_numel(g.nsp, g.out);
  j.k_n = onyx_numel(g.nsp, g.kernel);
  int64_t nx = onyx_numel(x->rank, x->dims), nw = onyx_numel(w->rank, w->dims);
  int32_t *xb = onyx_malloc((size_t)nx * sizeof *xb + 1), *wb = onyx_malloc((size_t)nw * sizeof *wb + 1);
  int64_t(*kidx)[ONYX_MAX_RANK] = onyx_malloc((size_t)j.k_n * sizeof *kidx + 1);
  onyx_status *s = NULL;
  if (!xb || !wb || !kidx) {
    s = onyx_error_oom();
    goto done;
  }
  int32_t zx = zval(xz, 0);
  for (int64_t i = 0; i < nx; i++) xb[i] = qget(x->dtype, x->data, i) - zx;
  int64_t per_m = nw / M;
  for (int64_t i = 0; i < nw; i++) wb[i] = qget(w->dtype, w->data, i) - zval(wz, i / per_m);
  int64_t idx[ONYX_MAX_RANK] = {0};
  for (int64_t t = 0; t < j.k_n; t++) {
    memcpy(kidx[t], idx, sizeof idx);
    for (int d = g.nsp - 1; d >= 0; d--) {
      if (++idx[d] < g.kernel[d]) break;
      idx[d] = 0;
    }
  }
  j.x = xb;
  j.w = wb;
  j.kidx = kidx;
  int64_t work = j.out_n * j.k_n * (C / g.group);
  onyx_parallel_for(c->pool, (size_t)(N * M), work >= 65536 ? 1 : (size_t)(65536 / (work + 1)), qconv_fn, &j);
done:
  onyx_free(xb);
  onyx_free(wb);
  onyx_free(kidx);
  return s;
}
