/* signal_fft.h — complex FFT of any length, in double precision, for the
 * cpu signal kernels (DFT, STFT).
 *
 * Lengths that are powers of two run an iterative radix-2 transform; any other
 * length n goes through Bluestein's algorithm (a chirp-z convolution done
 * with radix-2 transforms of a power of two m >= 2n - 1), so every length
 * costs O(n log n). A plan holds the twiddles and chirps for one length; it
 * is read-only once made, so several threads may run it at once, each with
 * its own scratch. Data is interleaved complex: re, im, re, im, ... */
#ifndef ONYX_CPU_SIGNAL_FFT_H
#define ONYX_CPU_SIGNAL_FFT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

typedef struct cpu_fft {
  size_t n;           /* transform length */
  size_t m;           /* radix-2 length: n for powers of two, else >= 2n - 1 */
  double *tw;         /* m/2 complex twiddles e^(-2 pi i k / m) (owned) */
  double *chirp;      /* Bluestein only: n complex e^(-pi i k^2 / n), else NULL */
  double *filter;     /* Bluestein only: transform of the m-point conjugate chirp */
} cpu_fft;

/* Makes a plan for length n >= 1 into *f (caller storage). */
onyx_status *cpu_fft_init(cpu_fft *f, size_t n);
/* Releases a plan's tables; accepts a zeroed plan. */
void cpu_fft_deinit(cpu_fft *f);
/* Doubles of scratch one cpu_fft_run call needs (0 for powers of two). */
size_t cpu_fft_scratch(const cpu_fft *f);
/* In place: x (n complex values) becomes sum_j x_j e^(-+2 pi i jk/n), with
 * the + sign when inverse (no 1/n scaling). scratch: cpu_fft_scratch(f)
 * doubles, or NULL when that is 0. */
void cpu_fft_run(const cpu_fft *f, double *x, bool inverse, double *scratch);

#endif
