/* elementwise_fastmath.h — float32 exp, sigmoid and tanh without libm, the
 * portable versions of the AVX2 rows in elementwise_unary_avx2.c (same
 * algorithms, so results agree across machines up to FMA rounding). They
 * serve float32/float16/bfloat16 rows on CPUs without AVX2 and the tails of
 * AVX2 rows. glibc's tanhf is several times slower than these; Exp, Sigmoid
 * and Tanh dominate LSTM/GRU gates and tanh-GELU.
 *
 * exp: Cephes' range reduction x = n ln2 + r with a degree-6 polynomial for
 * e^r (<= 2 ulp), and 2^n applied in two halves so results down to the
 * denormal range come out right; overflow gives inf, NaN stays NaN.
 * tanh: Eigen's rational approximation of degree 13/6 on [-7.9, 7.9]
 * (outside it tanh is +-1 in float), < 1e-6 relative error.
 * Checked against double-precision libm in tests/unit/test_elementwise.c. */
#ifndef ONYX_CPU_ELEMENTWISE_FASTMATH_H
#define ONYX_CPU_ELEMENTWISE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float ew_bits_to_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline float ew_fast_exp(float x) {
  /* clamp: below -104 the result is 0 in float, above 88.73 inf; the
   * comparisons also turn NaN into a number so the int conversion is defined */
  float xc = x > -104.0f ? x : -104.0f;
  xc = xc < 88.8f ? xc : 88.8f;
  /* n = round(x / ln2) with the 1.5 * 2^23 trick (no libm rint) */
  float fn = xc * 1.44269504088896341f + 12582912.0f;
  fn -= 12582912.0f;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* 2^n as two factors 2^(n/2) * 2^(n - n/2), each a normal float */
  int32_t n = (int32_t)fn;
  int32_t h = n / 2;
  float s1 = ew_bits_to_f32((uint32_t)(h + 127) << 23);
  float s2 = ew_bits_to_f32((uint32_t)(n - h + 127) << 23);
  float y = p * s1 * s2;
  y = x > 88.7228394f ? __builtin_inff() : y;
  return x != x ? x : y;
}

static inline float ew_fast_sigmoid(float x) { return 1.0f / (1.0f + ew_fast_exp(-x)); }

static inline float ew_fast_tanh(float x) {
  float xc = x < -7.90531110763549805f ? -7.90531110763549805f : x;
  xc = xc > 7.90531110763549805f ? 7.90531110763549805f : xc;
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float y = p / q;
  /* tiny |x|: tanh(x) == x in float, and keeps the sign of -0 */
  y = fabsf(x) < 0.0004f ? x : y;
  return x != x ? x : y;
}

#endif
