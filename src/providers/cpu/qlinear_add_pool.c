/* qlinear_add_pool.c — cpu kernels of two ai.onyx integer ops the QDQ fusion
 * makes (ops/defs/fused.def): QLinearAdd (a residual add of two quantized
 * tensors into a third) and QLinearGlobalAveragePool (the classifier-head
 * pooling of a quantized tensor).
 *
 * QLinearAdd takes, per element, exactly the float steps of the graph it
 * replaces, DequantizeLinear (x - z) * s on both inputs, a float Add, then
 * QuantizeLinear (true division, round half to even, add the zero point,
 * saturate), so the fused graph gives the same bytes as the unfused one; a
 * fused Relu clamps at the output zero point. The same-shape case runs
 * eight lanes at a time (quantize_avx2.c); broadcasting goes through the
 * elementwise iterator. QLinearGlobalAveragePool sums each plane in
 * integers (exact), then scales once: mean = (sum - S z_x) * s_x / S,
 * requantized; the unfused float graph sums rounded floats, so the two can
 * differ by one step where the mean falls near a rounding boundary. */
#include <math.h>
#include <string.h>

#include "base/cpu_features.h"
#include "elementwise.h"
#include "linalg.h"

#if defined(__x86_64__)
void cpu_qlinear_add_u8__avx2(const void *a, bool a_signed, int32_t az, float as, const void *b,
                              bool b_signed, int32_t bz, float bs, size_t n, float cs, float cz,
                              float lo, float hi, bool c_signed, void *y);
#endif

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }

/* One scalar of scale input i (float), or an error naming it. */
static onyx_status *scalar_scale(const onyx_kernel_ctx *c, int i, const char *what, float *out) {
  const onyx_tensor *t = c->in[i];
  if (!t || onyx_numel(t->rank, t->dims) != 1 ||
      (t->dtype != ONYX_DTYPE_FLOAT && t->dtype != ONYX_DTYPE_DOUBLE && t->dtype != ONYX_DTYPE_FLOAT16 &&
       t->dtype != ONYX_DTYPE_BFLOAT16))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "%s must be one floating-point value", what);
  *out = (float)onyx_tensor_get_f64(t, 0);
  return NULL;
}

/* Zero point input i of data tensor x: one value of x's dtype, or absent (0). */
static onyx_status *scalar_zero(const onyx_kernel_ctx *c, int i, onyx_dtype dt, const char *what, int32_t *out) {
  const onyx_tensor *t = i < c->n_in ? c->in[i] : NULL;
  *out = 0;
  if (!t || !onyx_tensor_nbytes(t)) return NULL;
  if (t->dtype != dt || onyx_numel(t->rank, t->dims) != 1)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "%s must be one %s value", what,
                           onyx_dtype_name(dt));
  *out = dt == ONYX_DTYPE_INT8 ? *(const int8_t *)t->data : *(const uint8_t *)t->data;
  return NULL;
}

/* The fused `activation`: "" or "Relu". */
static onyx_status *relu_attr(const onyx_node *n, bool *relu) {
  const char *a = onyx_attr_string(n, "activation", "");
  *relu = !strcmp(a, "Relu");
  if (!*relu && a[0])
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "activation '%s' is not supported (only Relu)", a);
  return NULL;
}

/* ---- QLinearAdd ---------------------------------------------------------------------- */

typedef struct qadd {
  bool a_s8, b_s8, c_s8;
  int32_t az, bz;
  float as, bs, cs, cz, lo, hi;
} qadd;

static int32_t q8_at(const void *p, bool s8, int64_t i) {
  return s8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

static void qadd_row(const void *ctx, void *y, const void *const *x, const int64_t *st, int64_t n) {
  const qadd *q = ctx;
#if defined(__x86_64__)
  if (st[0] == 1 && st[1] == 1 && onyx_cpu()->avx2) {
    cpu_qlinear_add_u8__avx2(x[0], q->a_s8, q->az, q->as, x[1], q->b_s8, q->bz, q->bs, (size_t)n, q->cs, q->cz,
                             q->lo, q->hi, q->c_s8, y);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++) {
    float va = (float)(q8_at(x[0], q->a_s8, i * st[0]) - q->az) * q->as;
    float vb = (float)(q8_at(x[1], q->b_s8, i * st[1]) - q->bz) * q->bs;
    float f = nearbyintf((va + vb) / q->cs) + q->cz;
    f = f < q->lo ? q->lo : f > q->hi ? q->hi : f;
    if (f != f) f = 0;
    if (q->c_s8) ((int8_t *)y)[i] = (int8_t)f;
    else ((uint8_t *)y)[i] = (uint8_t)f;
  }
}

onyx_status *cpu_qlinear_add_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  if (c->n_in < 7 || !c->in[0] || !c->in[3])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "needs A, A_scale, A_zero_point, B, B_scale, "
                           "B_zero_point and C_scale");
  const onyx_tensor *a = c->in[0], *b = c->in[3];
  onyx_tensor *y = c->out[0];
  if (!is_q8(a->dtype) || !is_q8(b->dtype) || !is_q8(y->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s + %s -> %s is not supported",
                           onyx_dtype_name(a->dtype), onyx_dtype_name(b->dtype), onyx_dtype_name(y->dtype));
  qadd q = {a->dtype == ONYX_DTYPE_INT8, b->dtype == ONYX_DTYPE_INT8, y->dtype == ONYX_DTYPE_INT8,
            0, 0, 0, 0, 0, 0, 0, 0};
  int32_t cz;
  bool relu;
  ONYX_TRY(scalar_scale(c, 1, "A_scale", &q.as));
  ONYX_TRY(scalar_scale(c, 4, "B_scale", &q.bs));
  ONYX_TRY(scalar_scale(c, 6, "C_scale", &q.cs));
  ONYX_TRY(scalar_zero(c, 2, a->dtype, "A_zero_point", &q.az));
  ONYX_TRY(scalar_zero(c, 5, b->dtype, "B_zero_point", &q.bz));
  ONYX_TRY(scalar_zero(c, 7, y->dtype, "C_zero_point", &cz));
  ONYX_TRY(relu_attr(nd, &relu));
  q.cz = (float)cz;
  q.lo = q.c_s8 ? -128.0f : 0.0f;
  q.hi = q.c_s8 ? 127.0f : 255.0f;
  if (relu && q.cz > q.lo) q.lo = q.cz;
  int rank;
  int64_t dims[ONYX_MAX_RANK];
  ONYX_TRY(onyx_broadcast_shape(nd, a->rank, a->dims, b->rank, b->dims, &rank, dims));
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, rank, dims));
  const onyx_tensor *xs[2] = {a, b};
  ew_iter it;
  ew_iter_init(&it, y, 2, xs);
  ew_iter_run(&it, c->pool, qadd_row, &q);
  return NULL;
}

/* ---- QLinearGlobalAveragePool ---------------------------------------------------------- */

typedef struct qgap {
  const uint8_t *x;
  uint8_t *y;
  bool x_s8, y_s8;
  int64_t plane;
  double mult;          /* s_x / (S * s_y) */
  int32_t xz;
  float yz, lo, hi;
} qgap;

static void qgap_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const qgap *j = arg;
  for (size_t p = begin; p < end; p++) {
    const uint8_t *x = j->x + p * (size_t)j->plane;
    int64_t sum = 0;
    if (j->x_s8)
      for (int64_t i = 0; i < j->plane; i++) sum += (int8_t)x[i];
    else
      for (int64_t i = 0; i < j->plane; i++) sum += x[i];
    sum -= j->plane * (int64_t)j->xz;
    float f = (float)nearbyint((double)sum * j->mult) + j->yz;
    f = f < j->lo ? j->lo : f > j->hi ? j->hi : f;
    if (j->y_s8) ((int8_t *)j->y)[p] = (int8_t)f;
    else j->y[p] = (uint8_t)f;
  }
}

onyx_status *cpu_qlinear_global_average_pool_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  if (c->n_in < 4 || !c->in[0])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "needs X, x_scale, x_zero_point and y_scale");
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (!is_q8(x->dtype) || !is_q8(y->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s -> %s is not supported", onyx_dtype_name(x->dtype),
                           onyx_dtype_name(y->dtype));
  if (onyx_attr_int(nd, "channels_last", 0))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "channels_last 1 is not supported");
  if (x->rank < 3)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected >= 3", x->rank);
  float xs = 0, ys = 0;
  int32_t yz;
  qgap j = {x->data, NULL, x->dtype == ONYX_DTYPE_INT8, y->dtype == ONYX_DTYPE_INT8,
            onyx_numel(x->rank - 2, x->dims + 2), 0, 0, 0, 0, 0};
  ONYX_TRY(scalar_scale(c, 1, "x_scale", &xs));
  ONYX_TRY(scalar_scale(c, 3, "y_scale", &ys));
  ONYX_TRY(scalar_zero(c, 2, x->dtype, "x_zero_point", &j.xz));
  ONYX_TRY(scalar_zero(c, 4, y->dtype, "y_zero_point", &yz));
  if (j.plane == 0) return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "average over an empty spatial extent");
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = d < 2 ? x->dims[d] : 1;
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, dims));
  j.y = y->data;
  j.mult = (double)xs / ((double)j.plane * (double)ys);
  j.yz = (float)yz;
  j.lo = j.y_s8 ? -128.0f : 0.0f;
  j.hi = j.y_s8 ? 127.0f : 255.0f;
  size_t planes = (size_t)(x->dims[0] * x->dims[1]);
  onyx_parallel_for(c->pool, planes, (size_t)(16384 / j.plane + 1), qgap_planes, &j);
  return NULL;
}
