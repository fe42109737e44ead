/* depthwise_avx2.c — one output row of a depthwise (one channel per group)
 * 2-D convolution with AVX2+FMA: eight outputs per vector, all kh x kw taps
 * accumulated in a register before a single store (the portable path in
 * conv.c makes one pass over the row per tap instead). Strides 1 and 2 are
 * vectorized (stride 2 by de-interleaving two loads); others go scalar.
 * Compiled with -mavx2 -mfma (file name); conv.c calls it only when cpuid
 * reports both. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

/* x: the input row at the top-left tap of output column 0 (rows wp apart,
 * at least (ow - 1) * sw + (kw - 1) * dw + 1 readable per row); w: kh x kw
 * taps; y: ow outputs. */
void cpu_dwconv_row_f32__avx2(const float *x, int64_t wp, const float *w, int64_t kh, int64_t kw,
                              int64_t dh, int64_t dw, int64_t sw, float bias, float *y,
                              int64_t ow) {
  int64_t q = 0;
  /* a stride-2 vector reads 16 inputs; the last one may lie past the row */
  int64_t last_in = (ow - 1) * sw + (kw - 1) * dw; /* last readable offset */
  if (sw == 1 || sw == 2) {
    for (; q + 8 <= ow && (sw == 1 || (q + 7) * 2 + 1 + (kw - 1) * dw <= last_in); q += 8) {
      __m256 acc = _mm256_set1_ps(bias);
      for (int64_t a = 0; a < kh; a++) {
        const float *xr = x + a * dh * wp + q * sw;
        for (int64_t e = 0; e < kw; e++) {
          __m256 v;
          if (sw == 1) {
            v = _mm256_loadu_ps(xr + e * dw);
          } else {
            __m256 lo = _mm256_loadu_ps(xr + e * dw), hi = _mm256_loadu_ps(xr + e * dw + 8);
            __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
          }
          acc = _mm256_fmadd_ps(_mm256_set1_ps(w[a * kw + e]), v, acc);
        }
      }
      _mm256_storeu_ps(y + q, acc);
    }
  }
  for (; q < ow; q++) {
    float acc = bias;
    for (int64_t a = 0; a < kh; a++)
      for (int64_t e = 0; e < kw; e++) acc += w[a * kw + e] * x[a * dh * wp + q * sw + e * dw];
    y[q] = acc;
  }
}
#endif
