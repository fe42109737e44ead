/* qgemm_avx2.c — the 256-bit 8-bit GEMM micro-kernels and the vector
 * requantizer.
 *
 * Tile 6x16: 12 ymm accumulators (6 rows x 2 vectors of 8 columns). Per group
 * of four K steps, two loads of the X panel (16 columns x 4 u8) and six
 * 32-bit broadcasts of the W panel (4 s8 of one row). The compiler spills a
 * few accumulators; measured, 6x16 still beats 4x16 (no spills) by ~10-25%
 * on Zen 3, where the multiply ports, not loads, are the limit. AVX2 multiplies with
 * vpmaddubsw (u8 x s8 pairs into s16) and widens with vpmaddwd against ones,
 * which costs two multiply-port instructions per 32 products but is, on this
 * class of CPU, the fastest route to int32: widening to s16 first and using
 * vpmaddwd alone measured no faster than float FMA.
 *
 * The s16 pair sum saturates when two neighbouring weights are large and of
 * one sign (255 * (100 + 100) > 32767). Weight matrices without such pairs
 * (always so for 7-bit weights) use the plain kernel. The others use the
 * sign variant (the XNNPACK/ORT s8 x s8 trick): X is taken as x - 128 in s8,
 * and vpmaddubsw gets |x - 128| (at most 128, as u8) against w * sign(x - 128)
 * (vpsignb), so a pair sum is at most 2 * 128 * 127: exact for any weights in
 * [-127, 127], at two extra cheap instructions per step; qgemm.c adds back
 * 128 * rowsum(W) and handles any -128 weight as a residual. AVX-VNNI
 * (vpdpbusd, VEX) does four products and the accumulation in one instruction
 * without intermediate saturation. The kernels share one body.
 *
 * Compiled with -mavx2 -mfma (file name); the AVX-VNNI kernel adds its own
 * target attribute. Called only when cpuid reports the features. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MR 6
#define NR 16

static inline __m256i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

/* acc += dot4(b (u8), w (s8)) per 32-bit lane */
#define DOT_AVX2(acc, b, w) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w), one))
#define DOT_VNNI(acc, b, w) _mm256_dpbusd_avx_epi32(acc, b, w)

#define ROW(i, DOT)                 \
  do {                              \
    __m256i w = bcast4(a + 4 * (i)); \
    c##i##0 = DOT(c##i##0, b0, w);  \
    c##i##1 = DOT(c##i##1, b1, w);  \
  } while (0)

#define STEP(DOT)                                                  \
  do {                                                             \
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b);           \
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));    \
    ROW(0, DOT); ROW(1, DOT); ROW(2, DOT); ROW(3, DOT); ROW(4, DOT); ROW(5, DOT);            \
    a += 4 * MR;                                                   \
    b += 4 * NR;                                                   \
  } while (0)

/* sign variant: x' = x - 128 (s8), products formed as |x'| * (w * sign(x')) so
 * that no s16 pair sum can leave range while |w| <= 127 */
#define ROW_SIGN(i)                                                                         \
  do {                                                                                      \
    __m256i w = bcast4(a + 4 * (i));                                                        \
    c##i##0 = _mm256_add_epi32(c##i##0,                                                     \
                               _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(w, b0)), one)); \
    c##i##1 = _mm256_add_epi32(c##i##1,                                                     \
                               _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(w, b1)), one)); \
  } while (0)

#define STEP_SIGN()                                                                      \
  do {                                                                                   \
    __m256i b0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b), flip);         \
    __m256i b1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 32)), flip);  \
    __m256i u0 = _mm256_abs_epi8(b0), u1 = _mm256_abs_epi8(b1);                          \
    ROW_SIGN(0); ROW_SIGN(1); ROW_SIGN(2); ROW_SIGN(3); ROW_SIGN(4); ROW_SIGN(5);                                  \
    a += 4 * MR;                                                                         \
    b += 4 * NR;                                                                         \
  } while (0)

#define ROW_STORE(i)                                                              \
  do {                                                                            \
    __m256i *ci = (__m256i *)(c + (i) * ldc);                                     \
    if (accumulate) {                                                             \
      c##i##0 = _mm256_add_epi32(c##i##0, _mm256_loadu_si256(ci));                \
      c##i##1 = _mm256_add_epi32(c##i##1, _mm256_loadu_si256(ci + 1));            \
    }                                                                             \
    _mm256_storeu_si256(ci, c##i##0);                                             \
    _mm256_storeu_si256(ci + 1, c##i##1);                                         \
  } while (0)

#define ROW_SAVE(i)                                      \
  do {                                                   \
    _mm256_storeu_si256((__m256i *)tmp[i], c##i##0);     \
    _mm256_storeu_si256((__m256i *)(tmp[i] + 8), c##i##1); \
  } while (0)

#define DEFINE_UKERNEL(NAME, ATTR, STEP_)                                                     \
  ATTR void NAME(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c, size_t ldc, size_t m, \
                 size_t n, bool accumulate) {                                                 \
    const __m256i one = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(-128);                  \
    (void)one;                                                                                \
    (void)flip;                                                                               \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;                    \
    __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00; \
    size_t p = 0;                                                                             \
    for (; p + 8 <= kc; p += 8) {                                                             \
      STEP_;                                                                                  \
      STEP_;                                                                                  \
    }                                                                                         \
    if (p < kc) STEP_;                                                                        \
    if (m == MR && n == NR) {                                                                 \
      ROW_STORE(0); ROW_STORE(1); ROW_STORE(2); ROW_STORE(3); ROW_STORE(4); ROW_STORE(5);                                 \
      return;                                                                                 \
    }                                                                                         \
    int32_t tmp[MR][NR];                                                                      \
    ROW_SAVE(0); ROW_SAVE(1); ROW_SAVE(2); ROW_SAVE(3); ROW_SAVE(4); ROW_SAVE(5);                                       \
    for (size_t i = 0; i < m; i++) {                                                          \
      uint32_t *ci = (uint32_t *)c + i * ldc;                                                 \
      for (size_t j = 0; j < n; j++)                                                          \
        ci[j] = accumulate ? ci[j] + (uint32_t)tmp[i][j] : (uint32_t)tmp[i][j];               \
    }                                                                                         \
  }

DEFINE_UKERNEL(cpu_qgemm_ukernel_6x16__avx2, , STEP(DOT_AVX2))
DEFINE_UKERNEL(cpu_qgemm_ukernel_6x16_sign__avx2, , STEP_SIGN())
DEFINE_UKERNEL(cpu_qgemm_ukernel_6x16__avxvnni, __attribute__((target("avxvnni"))), STEP(DOT_VNNI))

/* Interleaves four rows of n bytes into NR-wide panels (nr a multiple of
 * 16): column j goes to dst + (j / nr) * panel_stride + (j % nr) * 4 as
 * r0[j], r1[j], r2[j], r3[j]; colsum[j] (when non-NULL) gains their sum.
 * Columns past n are zero-filled up to the next multiple of nr. */
void cpu_qgemm_interleave4__avx2(const uint8_t *const r[4], size_t n, size_t nr,
                                 size_t panel_stride, uint8_t *dst, int32_t *colsum) {
  const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m128i a = _mm_loadu_si128((const __m128i *)(r[0] + j));
    __m128i b = _mm_loadu_si128((const __m128i *)(r[1] + j));
    __m128i c = _mm_loadu_si128((const __m128i *)(r[2] + j));
    __m128i d = _mm_loadu_si128((const __m128i *)(r[3] + j));
    __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    __m128i q[4] = {_mm_unpacklo_epi16(ab0, cd0), _mm_unpackhi_epi16(ab0, cd0),
                    _mm_unpacklo_epi16(ab1, cd1), _mm_unpackhi_epi16(ab1, cd1)};
    __m128i *o = (__m128i *)(dst + (j / nr) * panel_stride + (j % nr) * 4);
    for (int t = 0; t < 4; t++) _mm_storeu_si128(o + t, q[t]);
    if (colsum)
      for (int t = 0; t < 4; t++) {
        __m128i s = _mm_madd_epi16(_mm_maddubs_epi16(q[t], ones8), ones16);
        __m128i *cs = (__m128i *)(colsum + j + 4 * t);
        _mm_storeu_si128(cs, _mm_add_epi32(_mm_loadu_si128(cs), s));
      }
  }
  size_t end = (n + nr - 1) / nr * nr;
  for (; j < end; j++) {
    uint8_t *o = dst + (j / nr) * panel_stride + (j % nr) * 4;
    for (int t = 0; t < 4; t++) o[t] = j < n ? r[t][j] : 0;
    if (colsum && j < n) colsum[j] += r[0][j] + r[1][j] + r[2][j] + r[3][j];
  }
}

/* y[j] = sat(round((acc[j] + bias) * mult) + zp) clamped to [lo, hi]; NaN -> 0.
 * The float steps are those of the scalar reference, lane by lane. */
void cpu_qgemm_requant__avx2(const int32_t *acc, size_t n, const float *mult, size_t mult_step,
                             const int32_t *bias, size_t bias_step, float zp, float lo, float hi,
                             bool out_signed, void *y) {
  const __m256 vzp = _mm256_set1_ps(zp), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256 m0 = _mm256_set1_ps(mult[0]);
  const __m256i b0 = _mm256_set1_epi32(bias ? bias[0] : 0);
  uint8_t *yb = y;
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(acc + j));
    v = _mm256_add_epi32(v, bias && bias_step ? _mm256_loadu_si256((const __m256i *)(bias + j)) : b0);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), mult_step ? _mm256_loadu_ps(mult + j) : m0);
    f = _mm256_add_ps(_mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vzp);
    __m256 nan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
    f = _mm256_andnot_ps(nan, _mm256_min_ps(_mm256_max_ps(f, vlo), vhi));
    __m256i q = _mm256_cvttps_epi32(f);
    __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    __m128i q8 = out_signed ? _mm_packs_epi16(s16, s16) : _mm_packus_epi16(s16, s16);
    _mm_storel_epi64((__m128i *)(yb + j), q8);
  }
  for (; j < n; j++) {
    int32_t v = (int32_t)((uint32_t)acc[j] + (uint32_t)(bias ? bias[j * bias_step] : 0));
    float f = nearbyintf((float)v * mult[j * mult_step]) + zp;
    f = f < lo ? lo : f > hi ? hi : f;
    if (f != f) f = 0;
    if (out_signed) ((int8_t *)y)[j] = (int8_t)f;
    else yb[j] = (uint8_t)f;
  }
}
#endif
