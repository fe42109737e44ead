/* sgemm_avx2.c — the AVX2+FMA float32 GEMM micro-kernel: a 6x16 tile of C in
 * 12 ymm accumulators (6 rows x 2 vectors), fed per K step by two vector
 * loads of the B panel and six broadcasts of the A panel. 12 independent
 * FMA chains cover two FMA pipes of 4-5 cycles latency. Compiled with
 * -mavx2 -mfma (file name); called only when cpuid says the CPU has them. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>

#define MR 6
#define NR 16

#define ROW_FMA(i)                              \
  do {                                          \
    __m256 av = _mm256_broadcast_ss(a + (i));   \
    c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0); \
    c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1); \
  } while (0)

#define STEP(off)                                \
  do {                                           \
    __m256 b0 = _mm256_loadu_ps(b + (off) * NR); \
    __m256 b1 = _mm256_loadu_ps(b + (off) * NR + 8); \
    const float *a_ = a;                         \
    a += (off) * MR;                             \
    ROW_FMA(0); ROW_FMA(1); ROW_FMA(2);          \
    ROW_FMA(3); ROW_FMA(4); ROW_FMA(5);          \
    a = a_;                                      \
  } while (0)

/* C row i = alpha * acc + beta * C (C not read when beta == 0) */
#define ROW_STORE(i)                                                          \
  do {                                                                        \
    float *ci = c + (i) * ldc;                                                \
    __m256 r0 = _mm256_mul_ps(va, c##i##0), r1 = _mm256_mul_ps(va, c##i##1);  \
    if (beta != 0.0f) {                                                       \
      r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);                      \
      r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);                  \
    }                                                                         \
    _mm256_storeu_ps(ci, r0);                                                 \
    _mm256_storeu_ps(ci + 8, r1);                                             \
  } while (0)

#define ROW_SAVE(i)                                \
  do {                                             \
    _mm256_storeu_ps(tmp[i], c##i##0);             \
    _mm256_storeu_ps(tmp[i] + 8, c##i##1);         \
  } while (0)

void cpu_sgemm_ukernel_6x16__avx2(size_t kc, const float *a, const float *b, float *c,
                                  size_t ldc, size_t m, size_t n, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  /* C is written after the loop: start its lines on their way now */
  for (size_t i = 0; i < m; i++) {
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
  size_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    STEP(0);
    STEP(1);
    STEP(2);
    STEP(3);
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; p < kc; p++) {
    STEP(0);
    a += MR;
    b += NR;
  }
  if (m == MR && n == NR) {
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    ROW_STORE(0); ROW_STORE(1); ROW_STORE(2);
    ROW_STORE(3); ROW_STORE(4); ROW_STORE(5);
    return;
  }
  float tmp[MR][NR];
  ROW_SAVE(0); ROW_SAVE(1); ROW_SAVE(2);
  ROW_SAVE(3); ROW_SAVE(4); ROW_SAVE(5);
  for (size_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    if (beta == 0.0f)
      for (size_t j = 0; j < n; j++) ci[j] = alpha * tmp[i][j];
    else
      for (size_t j = 0; j < n; j++) ci[j] = alpha * tmp[i][j] + beta * ci[j];
  }
}
#endif
