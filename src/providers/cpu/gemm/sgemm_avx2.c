/* sgemm_avx2.c — the AVX2+FMA float32 GEMM micro-kernel: a 6x16 tile of C in
 * 12 ymm accumulators (6 rows x 2 vectors), fed per K step by two vector
 * loads of the B panel and six broadcasts of the A panel. 12 independent
 * FMA chains cover two FMA pipes of 4-5 cycles latency. Compiled with
 * -mavx2 -mfma (file name); called only when cpuid says the CPU has them.
 *
 * The K loop is inline assembly (GNU extended asm, x86-64 only). Written
 * with intrinsics, GCC 12 allocates the 12 accumulators, 2 B vectors and
 * the broadcasts (15 of the 16 ymm registers) badly once the loop is
 * unrolled: it spills accumulators to the stack and shuffles registers
 * inside the loop, which cost ~10% of the kernel's throughput (84 vs 93
 * GFLOP/s of a 96 peak on Zen 3). The assembly pins each accumulator to a
 * register and unrolls K by 4; the tile then goes through a small buffer to
 * the alpha/beta store written in C. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>

#define MR 6
#define NR 16

#define STR_(x) #x
#define STR(x) STR_(x)

/* One K step for the first three rows: A floats at byte offset AO of %[a],
 * B floats at BO of %[b]; ymm4..ymm9 are rows 0..2 x (columns 0-7, 8-15).
 * Alone it serves tiles of at most 3 rows. */
#define STEP3(AO, BO)                                \
  "vmovups " STR(BO) "(%[b]), %%ymm0\n\t"            \
  "vmovups " STR(BO) "+32(%[b]), %%ymm1\n\t"         \
  "vbroadcastss " STR(AO) "(%[a]), %%ymm2\n\t"       \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"           \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"           \
  "vbroadcastss " STR(AO) "+4(%[a]), %%ymm3\n\t"     \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"           \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"           \
  "vbroadcastss " STR(AO) "+8(%[a]), %%ymm2\n\t"     \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"           \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"

/* One K step for all six rows: STEP3, then rows 3..5 into ymm10..ymm15. */
#define STEP(AO, BO)                                 \
  STEP3(AO, BO)                                      \
  "vbroadcastss " STR(AO) "+12(%[a]), %%ymm3\n\t"    \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"          \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"          \
  "vbroadcastss " STR(AO) "+16(%[a]), %%ymm2\n\t"    \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"          \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"          \
  "vbroadcastss " STR(AO) "+20(%[a]), %%ymm3\n\t"    \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"          \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"

#define ZERO(R) "vxorps %%" R ", %%" R ", %%" R "\n\t"
#define SAVE(R, OFF) "vmovaps %%" R ", " STR(OFF) "(%[t])\n\t"

/* acc = sum over kc steps of a[p] b[p]^T (a: kc x MR, b: kc x NR) */
static void accumulate(size_t kc, const float *a, const float *b, float acc[MR][NR]) {
  size_t k4 = kc / 4, k1 = kc % 4;
  __asm__ volatile(
      ZERO("ymm4") ZERO("ymm5") ZERO("ymm6") ZERO("ymm7") ZERO("ymm8") ZERO("ymm9")
      ZERO("ymm10") ZERO("ymm11") ZERO("ymm12") ZERO("ymm13") ZERO("ymm14") ZERO("ymm15")
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      "prefetcht0 384(%[a])\n\t"   /* A streams from L2: 4 steps ahead */
      STEP(0, 0) STEP(24, 64) STEP(48, 128) STEP(72, 192)
      "add $96, %[a]\n\t"
      "add $256, %[b]\n\t"
      "dec %[k4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      STEP(0, 0)
      "add $24, %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[k1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
      SAVE("ymm4", 0) SAVE("ymm5", 32) SAVE("ymm6", 64) SAVE("ymm7", 96)
      SAVE("ymm8", 128) SAVE("ymm9", 160) SAVE("ymm10", 192) SAVE("ymm11", 224)
      SAVE("ymm12", 256) SAVE("ymm13", 288) SAVE("ymm14", 320) SAVE("ymm15", 352)
      : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1)
      : [t] "r"(&acc[0][0])
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* acc rows 0-2 only: half the FMAs, for the short last row tile of C (M =
 * 128 leaves 2 rows after 21 full tiles) */
static void accumulate3(size_t kc, const float *a, const float *b, float acc[MR][NR]) {
  size_t k4 = kc / 4, k1 = kc % 4;
  __asm__ volatile(
      ZERO("ymm4") ZERO("ymm5") ZERO("ymm6") ZERO("ymm7") ZERO("ymm8") ZERO("ymm9")
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      STEP3(0, 0) STEP3(24, 64) STEP3(48, 128) STEP3(72, 192)
      "add $96, %[a]\n\t"
      "add $256, %[b]\n\t"
      "dec %[k4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      STEP3(0, 0)
      "add $24, %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[k1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
      SAVE("ymm4", 0) SAVE("ymm5", 32) SAVE("ymm6", 64) SAVE("ymm7", 96)
      SAVE("ymm8", 128) SAVE("ymm9", 160)
      : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1)
      : [t] "r"(&acc[0][0])
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9");
}

void cpu_sgemm_ukernel_6x16__avx2(size_t kc, const float *a, const float *b, float *c,
                                  size_t ldc, size_t m, size_t n, float alpha, float beta) {
  _Alignas(32) float acc[MR][NR];
  /* C is written after the loop: start its lines on their way now */
  for (size_t i = 0; i < m; i++) {
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
  if (m <= 3) accumulate3(kc, a, b, acc);
  else accumulate(kc, a, b, acc);
  if (m == MR && n == NR) {
    /* C row i = alpha * acc + beta * C (C not read when beta == 0) */
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (size_t i = 0; i < MR; i++) {
      float *ci = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, _mm256_load_ps(acc[i]));
      __m256 r1 = _mm256_mul_ps(va, _mm256_load_ps(acc[i] + 8));
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  for (size_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    if (beta == 0.0f)
      for (size_t j = 0; j < n; j++) ci[j] = alpha * acc[i][j];
    else
      for (size_t j = 0; j < n; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
  }
}
#endif
