/* test_quant_params.c — scale/zero-point math of the quantizer against
 * formulas written out here (ORT's quant_utils): symmetric and asymmetric,
 * int8 and uint8, reduce_range, degenerate ranges, rounding, per-tensor and
 * per-channel weights, int32 biases. */
#include <float.h>

#include "quant/quant.h"
#include "test_util.h"

/* Reference of compute_scale_zp written independently (double throughout). */
static void ref_params(double lo, double hi, int qmin, int qmax, bool sym, double *scale, int *zp) {
  lo = lo < 0 ? lo : 0;
  hi = hi > 0 ? hi : 0;
  if (sym) {
    double a = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    lo = -a, hi = a;
  }
  *scale = (hi - lo) / (qmax - qmin);
  if (*scale < FLT_MIN) {
    *scale = 1, *zp = 0;
    return;
  }
  *zp = sym ? (int)nearbyint((qmin + qmax) / 2.0) : (int)nearbyint(qmin - lo / *scale);
}

static void check_params(float lo, float hi, onyx_dtype t, bool sym, bool rr, int qmin, int qmax) {
  int32_t a, b;
  onyx_quant_qrange(t, sym, rr, &a, &b);
  CHECK(a == qmin && b == qmax);
  double s;
  int z;
  ref_params(lo, hi, qmin, qmax, sym, &s, &z);
  onyx_qparams p = onyx_quant_params(lo, hi, t, sym, rr);
  CHECK_NEAR(p.scale, s, 1e-7 * s);
  CHECK(p.zero_point == z);
  /* the range's ends land on (or within one step of) the integer range's ends */
  if (s != 1.0) {
    int32_t qlo = onyx_quant_value(lo < 0 ? lo : 0, p, qmin, qmax), qhi = onyx_quant_value(hi > 0 ? hi : 0, p, qmin, qmax);
    CHECK(qlo >= qmin && qhi <= qmax);
    CHECK(onyx_quant_value(0.0f, p, qmin, qmax) == p.zero_point);   /* 0 is exact */
  }
}

int main(void) {
  /* integer ranges and parameters for each type / symmetry / reduce_range */
  check_params(-1.0f, 3.0f, ONYX_DTYPE_UINT8, false, false, 0, 255);
  check_params(-1.0f, 3.0f, ONYX_DTYPE_INT8, false, false, -128, 127);
  check_params(-2.0f, 1.0f, ONYX_DTYPE_INT8, true, false, -127, 127);
  check_params(-2.0f, 1.0f, ONYX_DTYPE_UINT8, true, false, 0, 255);
  check_params(-2.0f, 1.0f, ONYX_DTYPE_INT8, true, true, -64, 64);
  check_params(-2.0f, 1.0f, ONYX_DTYPE_INT8, false, true, -64, 64);
  check_params(-2.0f, 1.0f, ONYX_DTYPE_UINT8, false, true, 0, 127);
  check_params(0.5f, 6.0f, ONYX_DTYPE_UINT8, false, false, 0, 255);    /* widened to hold 0 */
  check_params(-6.0f, -0.5f, ONYX_DTYPE_UINT8, false, false, 0, 255);
  /* concrete values: [-1, 3] uint8 -> scale 4/255, zero point round(63.75) = 64 */
  onyx_qparams p = onyx_quant_params(-1.0f, 3.0f, ONYX_DTYPE_UINT8, false, false);
  CHECK_NEAR(p.scale, 4.0 / 255, 1e-9);
  CHECK(p.zero_point == 64);
  /* symmetric uint8 puts zero at 128 (numpy rounds 127.5 to even), int8 at 0 */
  CHECK(onyx_quant_params(-1, 1, ONYX_DTYPE_UINT8, true, false).zero_point == 128);
  CHECK(onyx_quant_params(-1, 1, ONYX_DTYPE_INT8, true, false).zero_point == 0);
  CHECK(onyx_quant_params(-1, 1, ONYX_DTYPE_UINT8, true, true).zero_point == 64);   /* round(63.5) */
  /* Relu-like ranges: zero point at the bottom, so quantization clamps at 0 */
  p = onyx_quant_params(0.0f, 5.0f, ONYX_DTYPE_UINT8, false, false);
  CHECK(p.zero_point == 0);
  CHECK(onyx_quant_value(-3.0f, p, 0, 255) == 0);
  p = onyx_quant_params(0.0f, 5.0f, ONYX_DTYPE_INT8, false, false);
  CHECK(p.zero_point == -128);
  /* degenerate ranges: all zero, and non-finite bounds */
  p = onyx_quant_params(0.0f, 0.0f, ONYX_DTYPE_UINT8, false, false);
  CHECK(p.scale == 1.0f && p.zero_point == 0);
  p = onyx_quant_params(0.0f, 0.0f, ONYX_DTYPE_INT8, true, false);
  CHECK(p.scale == 1.0f && p.zero_point == 0);
  p = onyx_quant_params(NAN, INFINITY, ONYX_DTYPE_UINT8, false, false);
  CHECK(p.scale == 1.0f && p.zero_point == 0);
  /* rounding half to even, saturation, NaN */
  onyx_qparams u = {1.0f, 0};
  CHECK(onyx_quant_value(2.5f, u, -128, 127) == 2);
  CHECK(onyx_quant_value(3.5f, u, -128, 127) == 4);
  CHECK(onyx_quant_value(-2.5f, u, -128, 127) == -2);
  CHECK(onyx_quant_value(1000.0f, u, -128, 127) == 127);
  CHECK(onyx_quant_value(-1000.0f, u, -128, 127) == -128);
  CHECK(onyx_quant_value(NAN, u, -128, 127) == -128);

  /* per-tensor weight: each element within half a step of its value */
  {
    int64_t d[2] = {3, 4};
    float w[12];
    tu_fill_random(w, 12, 7);
    w[5] = 2.0f;   /* widen channel 1 only */
    onyx_tensor *t = tu_f32(2, d, w);
    onyx_qweight q;
    CHECK_OK(onyx_quant_weight(t, -1, ONYX_DTYPE_INT8, true, false, &q));
    float s = *(float *)onyx_tensor_data(q.scale);
    CHECK_NEAR(s, 2.0 / 127, 1e-7);
    CHECK(onyx_tensor_rank(q.scale) == 0 && onyx_tensor_dtype(q.zero_point) == ONYX_DTYPE_INT8);
    const int8_t *qv = onyx_tensor_data(q.q);
    for (int i = 0; i < 12; i++) CHECK(fabs(qv[i] * s - w[i]) <= s / 2 + 1e-6);
    onyx_qweight_free(&q);
    /* per channel along axis 0 (Conv): channel 1 has its own larger scale */
    CHECK_OK(onyx_quant_weight(t, 0, ONYX_DTYPE_INT8, true, false, &q));
    CHECK(onyx_tensor_numel(q.scale) == 3);
    const float *sc = onyx_tensor_data(q.scale);
    for (int c = 0; c < 3; c++) {
      float a = 0;
      for (int k = 0; k < 4; k++) a = fmaxf(a, fabsf(w[c * 4 + k]));
      CHECK_NEAR(sc[c], a / 127.0, 1e-7);
      for (int k = 0; k < 4; k++) CHECK(fabs(((int8_t *)onyx_tensor_data(q.q))[c * 4 + k] * sc[c] - w[c * 4 + k]) <= sc[c] / 2 + 1e-6);
    }
    onyx_qweight_free(&q);
    /* per channel along axis 1 (MatMul [K, N]): 4 columns, asymmetric uint8 */
    CHECK_OK(onyx_quant_weight(t, 1, ONYX_DTYPE_UINT8, false, false, &q));
    CHECK(onyx_tensor_numel(q.scale) == 4 && onyx_tensor_dtype(q.zero_point) == ONYX_DTYPE_UINT8);
    for (int n = 0; n < 4; n++) {
      float lo = 0, hi = 0;
      for (int k = 0; k < 3; k++) lo = fminf(lo, w[k * 4 + n]), hi = fmaxf(hi, w[k * 4 + n]);
      double s2;
      int z;
      ref_params(lo, hi, 0, 255, false, &s2, &z);
      CHECK_NEAR(((float *)onyx_tensor_data(q.scale))[n], s2, 1e-7);
      CHECK(((uint8_t *)onyx_tensor_data(q.zero_point))[n] == z);
      for (int k = 0; k < 3; k++) {
        int qq = ((uint8_t *)onyx_tensor_data(q.q))[k * 4 + n];
        CHECK(fabs((qq - z) * s2 - w[k * 4 + n]) <= s2 / 2 + 1e-6);
      }
    }
    onyx_qweight_free(&q);
    /* reduce_range: 7-bit weights */
    CHECK_OK(onyx_quant_weight(t, -1, ONYX_DTYPE_INT8, true, true, &q));
    CHECK_NEAR(*(float *)onyx_tensor_data(q.scale), 4.0 / 128, 1e-7);
    for (int i = 0; i < 12; i++) CHECK(abs(((int8_t *)onyx_tensor_data(q.q))[i]) <= 64);
    onyx_qweight_free(&q);
    onyx_tensor_free(t);
  }
  /* an all-zero channel: scale 1, zero point 0, all-zero data */
  {
    int64_t d[2] = {2, 3};
    float w[6] = {0, 0, 0, 1, -2, 0.5f};
    onyx_tensor *t = tu_f32(2, d, w);
    onyx_qweight q;
    CHECK_OK(onyx_quant_weight(t, 0, ONYX_DTYPE_INT8, true, false, &q));
    CHECK(((float *)onyx_tensor_data(q.scale))[0] == 1.0f);
    CHECK(((int8_t *)onyx_tensor_data(q.zero_point))[0] == 0);
    for (int i = 0; i < 3; i++) CHECK(((int8_t *)onyx_tensor_data(q.q))[i] == 0);
    onyx_qweight_free(&q);
    CHECK_ERR(onyx_quant_weight(t, 2, ONYX_DTYPE_INT8, true, false, &q), ONYX_ERR_INVALID_ARGUMENT);
    onyx_tensor_free(t);
  }
  /* int32 bias: scale x_scale * w_scale[i] * beta, value round(b / scale) */
  {
    int64_t d[1] = {3};
    float b[3] = {0.5f, -1.25f, 1e9f}, ws[3] = {0.01f, 0.02f, 1e-6f};
    onyx_tensor *bt = tu_f32(1, d, b), *wt = tu_f32(1, d, ws);
    onyx_qweight q;
    CHECK_OK(onyx_quant_bias(bt, 0.1f, wt, 2.0f, &q));
    const float *sc = onyx_tensor_data(q.scale);
    const int32_t *qv = onyx_tensor_data(q.q);
    CHECK(onyx_tensor_dtype(q.q) == ONYX_DTYPE_INT32 && q.axis == 0);
    for (int i = 0; i < 3; i++) CHECK_NEAR(sc[i], 0.1 * ws[i] * 2.0, 1e-9);
    CHECK(qv[0] == 250 && qv[1] == -312);   /* 0.5 / 0.002 = 250; -1.25 / 0.004 = -312.5 -> -312 */
    CHECK(qv[2] == INT32_MAX);               /* saturates */
    onyx_qweight_free(&q);
    onyx_tensor_free(bt);
    onyx_tensor_free(wt);
  }
  return tu_done("test_quant_params");
}
