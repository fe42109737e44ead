/* signal_fft.c — the FFT of signal_fft.h: an iterative radix-2 transform
 * (bit-reversal permutation, then butterflies with tabulated twiddles) and
 * Bluestein's chirp-z algorithm on top of it for other lengths. Everything is
 * in double: the kernels convert from and to the tensor dtype at the edges,
 * so float32 results are correctly rounded to within a few ulps. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "signal_fft.h"

static bool pow2(size_t n) { return (n & (n - 1)) == 0; }

/* Forward radix-2 transform of length m (a power of two) in place; the
 * inverse is obtained by the caller through conjugation. */
static void radix2(const double *tw, size_t m, double *x) {
  for (size_t i = 1, j = 0; i < m; i++) {
    size_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      double r = x[2 * i], im = x[2 * i + 1];
      x[2 * i] = x[2 * j];
      x[2 * i + 1] = x[2 * j + 1];
      x[2 * j] = r;
      x[2 * j + 1] = im;
    }
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    size_t half = len >> 1, step = m / len;
    for (size_t s = 0; s < m; s += len)
      for (size_t k = 0; k < half; k++) {
        double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
        double *a = x + 2 * (s + k), *b = x + 2 * (s + k + half);
        double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
        b[0] = a[0] - br;
        b[1] = a[1] - bi;
        a[0] += br;
        a[1] += bi;
      }
  }
}

static void conjugate(double *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[2 * i + 1] = -x[2 * i + 1];
}

onyx_status *cpu_fft_init(cpu_fft *f, size_t n) {
  *f = (cpu_fft){.n = n, .m = n};
  if (!pow2(n)) {
    f->m = 1;
    while (f->m < 2 * n - 1) f->m <<= 1;
  }
  size_t m = f->m;
  f->tw = onyx_malloc((m / 2 + 1) * 2 * sizeof *f->tw);
  if (!f->tw) goto oom;
  for (size_t k = 0; k < m / 2; k++) {
    double a = -2.0 * M_PI * (double)k / (double)m;
    f->tw[2 * k] = cos(a);
    f->tw[2 * k + 1] = sin(a);
  }
  if (m == n) return NULL;
  f->chirp = onyx_malloc(2 * n * sizeof *f->chirp);
  f->filter = onyx_calloc(2 * m, sizeof *f->filter);
  if (!f->chirp || !f->filter) goto oom;
  for (size_t k = 0; k < n; k++) {
    /* k^2 mod 2n keeps the angle exact for large k (the chirp has period 2n) */
    unsigned long long k2 = (unsigned long long)k * k % (2ull * n);
    double a = -M_PI * (double)k2 / (double)n;
    f->chirp[2 * k] = cos(a);
    f->chirp[2 * k + 1] = sin(a);
  }
  /* filter b_j = conj(chirp_j) for j in (-n, n), wrapped modulo m */
  for (size_t k = 0; k < n; k++) {
    f->filter[2 * k] = f->chirp[2 * k];
    f->filter[2 * k + 1] = -f->chirp[2 * k + 1];
    if (k) {
      f->filter[2 * (m - k)] = f->chirp[2 * k];
      f->filter[2 * (m - k) + 1] = -f->chirp[2 * k + 1];
    }
  }
  radix2(f->tw, m, f->filter);
  return NULL;
oom:
  cpu_fft_deinit(f);
  return onyx_error_oom();
}

void cpu_fft_deinit(cpu_fft *f) {
  onyx_free(f->tw);
  onyx_free(f->chirp);
  onyx_free(f->filter);
  *f = (cpu_fft){0};
}

size_t cpu_fft_scratch(const cpu_fft *f) { return f->m == f->n ? 0 : 2 * f->m; }

/* Forward transform, any length. */
static void forward(const cpu_fft *f, double *x, double *scratch) {
  size_t n = f->n, m = f->m;
  if (m == n) {
    radix2(f->tw, m, x);
    return;
  }
  /* X_k = chirp_k * sum_j (x_j chirp_j) conj(chirp_(k-j)): a convolution */
  double *a = scratch;
  const double *w = f->chirp, *b = f->filter;
  for (size_t j = 0; j < n; j++) {
    a[2 * j] = x[2 * j] * w[2 * j] - x[2 * j + 1] * w[2 * j + 1];
    a[2 * j + 1] = x[2 * j] * w[2 * j + 1] + x[2 * j + 1] * w[2 * j];
  }
  memset(a + 2 * n, 0, 2 * (m - n) * sizeof *a);
  radix2(f->tw, m, a);
  /* pointwise product, conjugated so that a forward transform inverts it */
  for (size_t k = 0; k < m; k++) {
    double r = a[2 * k] * b[2 * k] - a[2 * k + 1] * b[2 * k + 1];
    double i = a[2 * k] * b[2 * k + 1] + a[2 * k + 1] * b[2 * k];
    a[2 * k] = r;
    a[2 * k + 1] = -i;
  }
  radix2(f->tw, m, a);
  double inv_m = 1.0 / (double)m;
  for (size_t k = 0; k < n; k++) {
    double cr = a[2 * k] * inv_m, ci = -a[2 * k + 1] * inv_m;
    x[2 * k] = cr * w[2 * k] - ci * w[2 * k + 1];
    x[2 * k + 1] = cr * w[2 * k + 1] + ci * w[2 * k];
  }
}

void cpu_fft_run(const cpu_fft *f, double *x, bool inverse, double *scratch) {
  /* inverse(x) = conj(forward(conj(x))) */
  if (inverse) conjugate(x, f->n);
  forward(f, x, scratch);
  if (inverse) conjugate(x, f->n);
}
