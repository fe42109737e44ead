/* qparams.c — scale and zero-point math and the offline quantization of
 * weights and biases.
 *
 * Everything follows ONNX Runtime's quant_utils.py so that the numbers in a
 * model quantized by onyx are the ones ORT would write for the same ranges:
 * the zero point is computed in double from the double scale, the scale is
 * then stored as float, values are divided by the float scale and rounded
 * half to even (numpy.round), and weights are quantized with their own
 * min/max, per tensor or per channel. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "quant.h"

void onyx_quant_qrange(onyx_dtype qtype, bool symmetric, bool reduce_range, int32_t *qmin,
                       int32_t *qmax) {
  if (qtype == ONYX_DTYPE_UINT8) {
    *qmin = 0;
    *qmax = reduce_range ? 127 : 255;
  } else if (reduce_range) {
    *qmin = -64;
    *qmax = 64;
  } else {
    *qmin = symmetric ? -127 : -128;
    *qmax = 127;
  }
}

onyx_qparams onyx_quant_params(float rmin, float rmax, onyx_dtype qtype, bool symmetric,
                               bool reduce_range) {
  int32_t qmin, qmax;
  onyx_quant_qrange(qtype, symmetric, reduce_range, &qmin, &qmax);
  if (!isfinite(rmin)) rmin = 0;
  if (!isfinite(rmax)) rmax = 0;
  rmin = fminf(rmin, 0.0f);
  rmax = fmaxf(rmax, 0.0f);
  if (symmetric) {
    float a = fmaxf(fabsf(rmin), fabsf(rmax));
    rmin = -a;
    rmax = a;
  }
  double scale = ((double)rmax - (double)rmin) / ((double)qmax - (double)qmin);
  onyx_qparams p = {1.0f, 0};
  if (scale < FLT_MIN) return p;   /* all-zero range: ORT's scale 1, zero point 0 */
  double zp = symmetric ? nearbyint((qmin + qmax) / 2.0) : nearbyint(qmin - rmin / scale);
  p.scale = (float)scale;
  p.zero_point = (int32_t)(zp < qmin ? qmin : zp > qmax ? qmax : zp);
  return p;
}

int32_t onyx_quant_value(float x, onyx_qparams p, int32_t qmin, int32_t qmax) {
  double q = (double)nearbyintf(x / p.scale) + p.zero_point;
  if (!(q >= qmin)) return qmin;   /* also NaN */
  return q > qmax ? qmax : (int32_t)q;
}

void onyx_qweight_free(onyx_qweight *w) {
  onyx_tensor_free(w->q);
  onyx_tensor_free(w->scale);
  onyx_tensor_free(w->zero_point);
  memset(w, 0, sizeof *w);
}

static void store_q(onyx_tensor *t, int64_t i, int32_t v) {
  if (t->dtype == ONYX_DTYPE_UINT8) ((uint8_t *)t->data)[i] = (uint8_t)v;
  else if (t->dtype == ONYX_DTYPE_INT8) ((int8_t *)t->data)[i] = (int8_t)v;
  else ((int32_t *)t->data)[i] = v;
}

onyx_status *onyx_quant_weight(const onyx_tensor *w, int axis, onyx_dtype qtype, bool symmetric,
                               bool reduce_range, onyx_qweight *out) {
  if (w->dtype != ONYX_DTYPE_FLOAT)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "weights of %s cannot be quantized",
                      onyx_dtype_name(w->dtype));
  if (axis >= w->rank)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "quantization axis %d of a rank-%d weight", axis,
                      w->rank);
  int64_t nch = axis < 0 ? 1 : w->dims[axis];
  int64_t outer = axis < 0 ? 1 : onyx_numel(axis, w->dims);
  int64_t inner = axis < 0 ? onyx_numel(w->rank, w->dims) : onyx_numel(w->rank - axis - 1, w->dims + axis + 1);
  onyx_qweight r = {.axis = axis < 0 ? -1 : axis};
  onyx_status *s;
  int64_t pd[1] = {nch};
  if ((s = onyx_tensor_create(qtype, w->rank, w->dims, &r.q)) ||
      (s = onyx_tensor_create(ONYX_DTYPE_FLOAT, axis < 0 ? 0 : 1, pd, &r.scale)) ||
      (s = onyx_tensor_create(qtype, axis < 0 ? 0 : 1, pd, &r.zero_point)))
    goto fail;
  int32_t qmin, qmax;
  onyx_quant_qrange(qtype, symmetric, reduce_range, &qmin, &qmax);
  const float *x = w->data;
  for (int64_t c = 0; c < nch; c++) {
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        float v = x[(o * nch + c) * inner + i];
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
      }
    onyx_qparams p = onyx_quant_params(lo, hi, qtype, symmetric, reduce_range);
    ((float *)r.scale->data)[c] = p.scale;
    store_q(r.zero_point, c, p.zero_point);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t k = (o * nch + c) * inner + i;
        store_q(r.q, k, onyx_quant_value(x[k], p, qmin, qmax));
      }
  }
  *out = r;
  return NULL;
fail:
  onyx_qweight_free(&r);
  return s;
}

onyx_status *onyx_quant_bias(const onyx_tensor *bias, float x_scale, const onyx_tensor *w_scale,
                             float beta, onyx_qweight *out) {
  int64_t n = onyx_numel(bias->rank, bias->dims), ns = onyx_numel(w_scale->rank, w_scale->dims);
  if (bias->dtype != ONYX_DTYPE_FLOAT || bias->rank != 1 || (ns != 1 && ns != n))
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "bias of %s with %lld values against %lld weight scales",
                      onyx_dtype_name(bias->dtype), (long long)n, (long long)ns);
  onyx_qweight r = {.axis = ns == 1 ? -1 : 0};
  onyx_status *s;
  if ((s = onyx_tensor_create(ONYX_DTYPE_INT32, 1, bias->dims, &r.q)) ||
      (s = onyx_tensor_create(ONYX_DTYPE_FLOAT, ns == 1 ? 0 : 1, &n, &r.scale)) ||
      (s = onyx_tensor_create(ONYX_DTYPE_INT32, ns == 1 ? 0 : 1, &n, &r.zero_point))) {
    onyx_qweight_free(&r);
    return s;
  }
  const float *b = bias->data, *ws = w_scale->data;
  float *bs = r.scale->data;
  for (int64_t i = 0; i < (ns == 1 ? 1 : n); i++) bs[i] = x_scale * ws[i] * beta;
  for (int64_t i = 0; i < n; i++) {
    float sc = bs[ns == 1 ? 0 : i];
    double q = sc > 0 ? (double)nearbyintf(b[i] / sc) : 0.0;
    q = q < -2147483648.0 ? -2147483648.0 : q > 2147483647.0 ? 2147483647.0 : q;
    ((int32_t *)r.q->data)[i] = (int32_t)q;
  }
  *out = r;
  return NULL;
}
