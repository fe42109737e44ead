/* quantize_avx2.c — AVX2 line kernels of QuantizeLinear, DequantizeLinear
 * and DynamicQuantizeLinear for float32 <-> 8-bit, and of the fused
 * QLinearAdd (qlinear_add_pool.c), eight lanes at a time.
 * Each lane takes exactly the float steps of the scalar reference in
 * reduce_quant.c (x / scale with a true division, round half to even, add
 * the zero point, clamp, NaN -> 0), so results match bit for bit.
 * Compiled with -mavx2 (file name); reduce_quant.c calls these only when
 * cpuid reports AVX2. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8 bytes at p, u8 or s8, minus z, as float */
static inline __m256 load8_minus(const uint8_t *p, bool sgn, __m256i vz) {
  __m128i b = _mm_loadl_epi64((const __m128i *)p);
  __m256i v = sgn ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(v, vz));
}

/* round(f) + z clamped to [lo, hi], NaN -> 0, as int32 lanes */
static inline __m256i quant8(__m256 f, __m256 vz, __m256 vlo, __m256 vhi) {
  f = _mm256_add_ps(_mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
  __m256 nan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
  f = _mm256_andnot_ps(nan, _mm256_min_ps(_mm256_max_ps(f, vlo), vhi));
  return _mm256_cvttps_epi32(f);
}

/* Stores the 16 int32 lanes of q0, q1 (already in range) as u8 or s8. */
static inline void store16(uint8_t *p, __m256i q0, __m256i q1, bool sgn) {
  /* packs work per 128-bit lane: reorder to 0..15 afterwards */
  __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xd8);
  __m128i a = _mm256_castsi256_si128(s16), b = _mm256_extracti128_si256(s16, 1);
  _mm_storeu_si128((__m128i *)p, sgn ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b));
}

/* The scalar tail's element: f clamped to [lo, hi], NaN -> 0, into y[i]. */
static inline void store1(void *y, size_t i, float f, float lo, float hi, bool sgn) {
  f = f < lo ? lo : f > hi ? hi : f;
  if (f != f) f = 0;
  if (sgn) ((int8_t *)y)[i] = (int8_t)f;
  else ((uint8_t *)y)[i] = (uint8_t)f;
}

/* y[i] = sat(round(x[i] / s) + z) into u8 (lo 0, hi 255) or s8 */
void cpu_quantize_f32__avx2(const float *x, size_t n, float s, float z, bool out_signed, void *y) {
  const float lo = out_signed ? -128.0f : 0.0f, hi = out_signed ? 127.0f : 255.0f;
  const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(z);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    store16((uint8_t *)y + i, quant8(_mm256_div_ps(_mm256_loadu_ps(x + i), vs), vz, vlo, vhi),
            quant8(_mm256_div_ps(_mm256_loadu_ps(x + i + 8), vs), vz, vlo, vhi), out_signed);
  for (; i < n; i++) store1(y, i, nearbyintf(x[i] / s) + z, lo, hi, out_signed);
}

/* y[i] = (float)(x[i] - z) * s for u8 or s8 x */
void cpu_dequantize_f32__avx2(const void *x, bool in_signed, size_t n, int32_t z, float s,
                              float *y) {
  const __m256 vs = _mm256_set1_ps(s);
  const __m256i vz = _mm256_set1_epi32(z);
  const uint8_t *xb = x;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(load8_minus(xb + i, in_signed, vz), vs));
  for (; i < n; i++) {
    int32_t v = in_signed ? ((const int8_t *)x)[i] : xb[i];
    y[i] = (float)(v - z) * s;
  }
}

/* *lo = min(0, x...), *hi = max(0, x...), NaN ignored (as the scalar loop:
 * a NaN never compares smaller or larger) */
void cpu_minmax_f32__avx2(const float *x, size_t n, float *lo, float *hi) {
  __m256 vlo = _mm256_setzero_ps(), vhi = vlo;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    /* min/max return the second operand when the first is NaN */
    vlo = _mm256_min_ps(v, vlo);
    vhi = _mm256_max_ps(v, vhi);
  }
  float l[8], h[8];
  _mm256_storeu_ps(l, vlo);
  _mm256_storeu_ps(h, vhi);
  float a = 0, b = 0;
  for (int t = 0; t < 8; t++) {
    a = l[t] < a ? l[t] : a;
    b = h[t] > b ? h[t] : b;
  }
  for (; i < n; i++) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *lo = a;
  *hi = b;
}

/* y[i] = sat(round(((a[i] - az) * as + (b[i] - bz) * bs) / cs) + cz),
 * clamped to [lo, hi], NaN -> 0: DequantizeLinear twice, Add, QuantizeLinear */
void cpu_qlinear_add_u8__avx2(const void *a, bool a_signed, int32_t az, float as, const void *b,
                              bool b_signed, int32_t bz, float bs, size_t n, float cs, float cz,
                              float lo, float hi, bool c_signed, void *y) {
  const uint8_t *pa = a, *pb = b;
  const __m256i vaz = _mm256_set1_epi32(az), vbz = _mm256_set1_epi32(bz);
  const __m256 vas = _mm256_set1_ps(as), vbs = _mm256_set1_ps(bs), vcs = _mm256_set1_ps(cs);
  const __m256 vcz = _mm256_set1_ps(cz), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i q[2];
    for (int h = 0; h < 2; h++) {
      __m256 fa = _mm256_mul_ps(load8_minus(pa + i + 8 * h, a_signed, vaz), vas);
      __m256 fb = _mm256_mul_ps(load8_minus(pb + i + 8 * h, b_signed, vbz), vbs);
      q[h] = quant8(_mm256_div_ps(_mm256_add_ps(fa, fb), vcs), vcz, vlo, vhi);
    }
    store16((uint8_t *)y + i, q[0], q[1], c_signed);
  }
  for (; i < n; i++) {
    int32_t va = a_signed ? ((const int8_t *)a)[i] : pa[i], vb = b_signed ? ((const int8_t *)b)[i] : pb[i];
    store1(y, i, nearbyintf(((float)(va - az) * as + (float)(vb - bz) * bs) / cs) + cz, lo, hi, c_signed);
  }
}
#endif
