/* qgemm_avx512.c — the 512-bit 8-bit GEMM micro-kernels: an 8x32 tile in 16
 * zmm accumulators (8 rows x 2 vectors of 16 columns), fed per group of four
 * K steps by two loads of the X panel and eight 32-bit broadcasts of the W
 * panel. AVX-512 VNNI uses vpdpbusd (four u8 x s8 products accumulated in
 * int32, no intermediate saturation); AVX-512BW uses vpmaddubsw + vpmaddwd,
 * whose s16 pair sums saturate for some weight pairs, which qgemm.c splits
 * at packing time. Partial tiles store through lane masks. Requantization
 * uses the AVX2 routine (the ISA descriptors point at it).
 *
 * Compiled with -mavx512f -mavx512bw -mavx512vnni... (file name); called only
 * when cpuid reports them. Not runnable on the AVX2-only development
 * machine: test_int8.c compiles this file against plain-C emulations of the
 * intrinsics it uses and checks it against the scalar kernel. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MR 8
#define NR 32

static inline __m512i bcast4_512(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

#define DOT_BW(acc, b, w) _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(b, w), one))
#define DOT_VNNI(acc, b, w) _mm512_dpbusd_epi32(acc, b, w)

#define ROW(i, DOT)                      \
  do {                                   \
    __m512i w = bcast4_512(a + 4 * (i)); \
    c##i##0 = DOT(c##i##0, b0, w);       \
    c##i##1 = DOT(c##i##1, b1, w);       \
  } while (0)

#define STEP(DOT)                                      \
  do {                                                 \
    __m512i b0 = _mm512_loadu_si512((const void *)b);  \
    __m512i b1 = _mm512_loadu_si512((const void *)(b + 64)); \
    ROW(0, DOT); ROW(1, DOT); ROW(2, DOT); ROW(3, DOT); \
    ROW(4, DOT); ROW(5, DOT); ROW(6, DOT); ROW(7, DOT); \
    a += 4 * MR;                                       \
    b += 4 * NR;                                       \
  } while (0)

/* row i of C through masks k0/k1 (C read only when accumulating) */
#define ROW_STORE(i)                                                           \
  do {                                                                         \
    if ((i) < m) {                                                             \
      int32_t *ci = c + (i) * ldc;                                             \
      if (accumulate) {                                                        \
        c##i##0 = _mm512_add_epi32(c##i##0, _mm512_maskz_loadu_epi32(k0, ci));      \
        c##i##1 = _mm512_add_epi32(c##i##1, _mm512_maskz_loadu_epi32(k1, ci + 16)); \
      }                                                                        \
      _mm512_mask_storeu_epi32(ci, k0, c##i##0);                               \
      _mm512_mask_storeu_epi32(ci + 16, k1, c##i##1);                          \
    }                                                                          \
  } while (0)

#define DEFINE_UKERNEL(NAME, DOT)                                                               \
  void NAME(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c, size_t ldc, size_t m,      \
            size_t n, bool accumulate) {                                                        \
    const __m512i one = _mm512_set1_epi16(1);                                                   \
    (void)one;                                                                                  \
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00; \
    __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                   \
    __m512i c60 = c00, c61 = c00, c70 = c00, c71 = c00;                                         \
    for (size_t p = 0; p < kc; p += 4) STEP(DOT);                                               \
    __mmask16 k0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);                               \
    __mmask16 k1 = (__mmask16)(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);          \
    ROW_STORE(0); ROW_STORE(1); ROW_STORE(2); ROW_STORE(3);                                     \
    ROW_STORE(4); ROW_STORE(5); ROW_STORE(6); ROW_STORE(7);                                     \
  }

DEFINE_UKERNEL(cpu_qgemm_ukernel_8x32__avx512bw, DOT_BW)
DEFINE_UKERNEL(cpu_qgemm_ukernel_8x32__avx512vnni, DOT_VNNI)
#endif
