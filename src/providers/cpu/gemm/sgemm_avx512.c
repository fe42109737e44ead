/* sgemm_avx512.c — the AVX-512F float32 GEMM micro-kernel: a 12x32 tile of C
 * in 24 zmm accumulators (12 rows x 2 vectors), plus the two B vectors and
 * the A broadcasts. Tiles of at most 4 or 8 rows run a K loop over those
 * rows only; partial tiles store through lane masks. Compiled with
 * -mavx512f (file name); called only when cpuid says so.
 *
 * 12 rows, not 14: with 28 accumulators GCC 12 kept one of them on the
 * stack inside the K loop (a load, FMA and store per step), and 14-row tiles
 * cover 128-token transformer GEMMs (M = 128) in 10 tiles of which 9% is
 * padding, against 11 tiles and 3% for 12 rows (and the last tile, 8 rows,
 * skips the padding's FMAs). MLAS and BLIS use 12x32
 * (24 accumulators) on AVX-512 too. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>

#define MR 12
#define NR 32

#define ROW_FMA(i, ii)                             \
  do {                                             \
    __m512 av = _mm512_set1_ps(a[(i)]);            \
    c##ii##0 = _mm512_fmadd_ps(av, b0, c##ii##0);  \
    c##ii##1 = _mm512_fmadd_ps(av, b1, c##ii##1);  \
  } while (0)

/* One K step over the first 4, 8 or 12 rows (the A panel keeps MR floats
 * per step whatever the tile's height). */
#define ROWS4() ROW_FMA(0, 0); ROW_FMA(1, 1); ROW_FMA(2, 2); ROW_FMA(3, 3)
#define ROWS8() ROWS4(); ROW_FMA(4, 4); ROW_FMA(5, 5); ROW_FMA(6, 6); ROW_FMA(7, 7)
#define ROWS12() ROWS8(); ROW_FMA(8, 8); ROW_FMA(9, 9); ROW_FMA(10, a); ROW_FMA(11, b)
#define STEP(ROWS)                                                    \
  do {                                                                \
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);     \
    ROWS();                                                           \
    a += MR;                                                          \
    b += NR;                                                          \
  } while (0)

/* The K loop, unrolled by two. */
#define K_LOOP(ROWS)                  \
  do {                                \
    size_t p = 0;                     \
    for (; p + 2 <= kc; p += 2) {     \
      STEP(ROWS);                     \
      STEP(ROWS);                     \
    }                                 \
    if (p < kc) STEP(ROWS);           \
  } while (0)

/* row i of C through masks k0/k1: alpha * acc + beta * C (C unread if beta == 0) */
#define ROW_STORE(i, ii)                                                         \
  do {                                                                           \
    if ((i) < m) {                                                               \
      float *ci = c + (i) * ldc;                                                 \
      __m512 r0 = _mm512_mul_ps(va, c##ii##0), r1 = _mm512_mul_ps(va, c##ii##1); \
      if (beta != 0.0f) {                                                        \
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, ci), r0);             \
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, ci + 16), r1);        \
      }                                                                          \
      _mm512_mask_storeu_ps(ci, k0, r0);                                         \
      _mm512_mask_storeu_ps(ci + 16, k1, r1);                                    \
    }                                                                            \
  } while (0)

void cpu_sgemm_ukernel_12x32__avx512(size_t kc, const float *a, const float *b, float *c,
                                     size_t ldc, size_t m, size_t n, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
  __m512 c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
  /* short tiles (the last rows of M = 128 are 8 of 12; conv layers with 64
   * output channels end on 4) skip the FMAs of their missing rows */
  if (m <= 4) K_LOOP(ROWS4);
  else if (m <= 8) K_LOOP(ROWS8);
  else K_LOOP(ROWS12);
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 k0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
  __mmask16 k1 = (__mmask16)(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
  ROW_STORE(0, 0); ROW_STORE(1, 1); ROW_STORE(2, 2); ROW_STORE(3, 3);
  ROW_STORE(4, 4); ROW_STORE(5, 5); ROW_STORE(6, 6); ROW_STORE(7, 7);
  ROW_STORE(8, 8); ROW_STORE(9, 9); ROW_STORE(10, a); ROW_STORE(11, b);
}
#endif
