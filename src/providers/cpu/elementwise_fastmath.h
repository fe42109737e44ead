/* elementwise_fastmath.h — float32 exp and sigmoid without libm, the
 * portable versions of the AVX2 rows in elementwise_unary_avx2.c (same
 * algorithms, so results agree across machines up to FMA rounding). They
 * serve float32/float16/bfloat16 rows on CPUs without AVX2 and the tails of
 * AVX2 rows; Exp and Sigmoid dominate LSTM/GRU gates. (tanh is vmath.h's.)
 *
 * exp: Cephes' range reduction x = n ln2 + r with a degree-6 polynomial for
 * e^r (<= 2 ulp), and 2^n applied in two halves so results down to the
 * denormal range come out right; overflow gives inf, NaN stays NaN.
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

#endif
