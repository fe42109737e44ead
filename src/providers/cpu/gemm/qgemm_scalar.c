/* qgemm_scalar.c — the portable 8-bit GEMM micro-kernel (4x8) and
 * requantizer, the fallback for CPUs without AVX2 and for non-x86 builds,
 * and the reference semantics the vector versions reproduce. Exact: sums of
 * u8 x s8 products go straight into int32 (wrapping, as the hardware does). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MR 4
#define NR 8

void cpu_qgemm_ukernel_4x8__scalar(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                   size_t ldc, size_t m, size_t n, bool accumulate) {
  uint32_t acc[MR][NR] = {{0}};
  for (size_t p = 0; p < kc; p += 4, a += 4 * MR, b += 4 * NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        for (int t = 0; t < 4; t++) acc[i][j] += (uint32_t)((int32_t)a[4 * i + t] * b[4 * j + t]);
  for (size_t i = 0; i < m; i++) {
    uint32_t *ci = (uint32_t *)c + i * ldc;
    for (size_t j = 0; j < n; j++) ci[j] = accumulate ? ci[j] + acc[i][j] : acc[i][j];
  }
}

void cpu_qgemm_requant__scalar(const int32_t *acc, size_t n, const float *mult, size_t mult_step,
                               const int32_t *bias, size_t bias_step, float zp, float lo, float hi,
                               bool out_signed, void *y) {
  for (size_t j = 0; j < n; j++) {
    int32_t v = (int32_t)((uint32_t)acc[j] + (uint32_t)(bias ? bias[j * bias_step] : 0));
    float f = nearbyintf((float)v * mult[j * mult_step]) + zp;
    f = f < lo ? lo : f > hi ? hi : f;
    if (f != f) f = 0;
    if (out_signed) ((int8_t *)y)[j] = (int8_t)f;
    else ((uint8_t *)y)[j] = (uint8_t)f;
  }
}
