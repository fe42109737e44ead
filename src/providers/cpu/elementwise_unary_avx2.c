/* elementwise_unary_avx2.c — float32 Exp and Sigmoid rows in AVX2+FMA
 * intrinsics (CMake adds -mavx2 -mfma for *_avx2.c files). They implement
 * the same algorithms as the portable versions in elementwise_fastmath.h
 * (which also handle each row's tail), eight lanes at a time: GCC 12 at -O2
 * does not if-convert the clamps and NaN selects of the portable code, so it
 * would stay scalar. Called only when onyx_cpu() reports AVX2 and FMA. */
#include <immintrin.h>

#include "elementwise.h"
#include "elementwise_fastmath.h"

static inline __m256 exp8(__m256 x) {
  /* max/min return their second operand for NaN: NaN becomes a finite lane
   * here and is put back at the end */
  __m256 xc = _mm256_max_ps(x, _mm256_set1_ps(-104.0f));
  xc = _mm256_min_ps(xc, _mm256_set1_ps(88.8f));
  __m256 fn = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i n = _mm256_cvtps_epi32(fn);
  __m256i h = _mm256_srai_epi32(n, 1);
  __m256i bias = _mm256_set1_epi32(127);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(n, h), bias), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()),
                       _mm256_cmp_ps(x, _mm256_set1_ps(88.7228394f), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static inline __m256 sigmoid8(__m256 x) {
  __m256 one = _mm256_set1_ps(1.0f);
  __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

#define AVX2_ROW(name, VEC, SCALAR)                                                           \
  void cpu_ew_##name##_f32__avx2(const void *ctx, void *yv, const void *const *xv,            \
                                 const int64_t *st, int64_t n) {                              \
    (void)ctx;                                                                                \
    (void)st;                                                                                 \
    float *y = yv;                                                                            \
    const float *x = xv[0];                                                                   \
    int64_t i = 0;                                                                            \
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, VEC(_mm256_loadu_ps(x + i)));          \
    for (; i < n; i++) y[i] = SCALAR(x[i]);                                                   \
  }
AVX2_ROW(exp, exp8, ew_fast_exp)
AVX2_ROW(sigmoid, sigmoid8, ew_fast_sigmoid)
