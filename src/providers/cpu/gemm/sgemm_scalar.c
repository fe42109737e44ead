/* sgemm_scalar.c — the portable 4x8 float32 GEMM micro-kernel, the fallback
 * for CPUs without AVX2+FMA and for non-x86 builds. Plain C over a small
 * accumulator array; compilers keep it in (SSE/NEON) registers. */
#include <stddef.h>

#define MR 4
#define NR 8

void cpu_sgemm_ukernel_4x8__scalar(size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, size_t m, size_t n, float alpha, float beta) {
  float acc[MR][NR] = {{0}};
  for (size_t p = 0; p < kc; p++, a += MR, b += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
  for (size_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    if (beta == 0.0f)
      for (size_t j = 0; j < n; j++) ci[j] = alpha * acc[i][j];
    else
      for (size_t j = 0; j < n; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
  }
}
