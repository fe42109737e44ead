/* test_vmath.c — the vectorized exp, sigmoid, erf, tanh and GELU rows (providers/cpu/
 * vmath.h) against double-precision libm over dense ranges of floats, for
 * every width this CPU runs, plus the 16-lane code compiled here with a
 * per-lane fmaf() as its FMA: that is what AVX-512 machines run, checked on
 * any CPU, and it must agree bit for bit with the AVX2 rows where they run
 * (vmath_impl.h promises that lanes are independent). */
#include <math.h>
#include <stdint.h>

#include "base/cpu_features.h"
#include "providers/cpu/vmath.h"
#include "test_util.h"

#define VM_LANES 16
#define VM_SUFFIX emu16
#define VM_FMA(a, b, c)                                                   \
  __extension__({                                                         \
    __typeof__(a) a_ = (a), b_ = (b), c_ = (c);                           \
    for (int l_ = 0; l_ < VM_LANES; l_++) a_[l_] = fmaf(a_[l_], b_[l_], c_[l_]); \
    a_;                                                                   \
  })
#include "providers/cpu/vmath_impl.h"

typedef void (*row_fn)(const float *x, const float *bias, float *y, int64_t n);

typedef struct impl {
  const char *name;
  row_fn erf, tanh, gelu, gelu_tanh, exp, sigmoid;
} impl;

static float f32_of(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static uint32_t bits_of(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* |y - ref| in units of the spacing of floats at ref (the denormal spacing
 * below FLT_MIN) */
static double ulps(float y, double ref) {
  float r = (float)ref;
  double sp = fabs((double)nextafterf(fabsf(r), INFINITY) - (double)fabsf(r));
  if (sp == 0 || isinf(sp)) sp = ldexp(1.0, -149);
  return fabs((double)y - ref) / sp;
}

#define BATCH 4099 /* odd: every call also runs a tail */

/* erf over every `stride`-th float of [0, 6] and their negatives; returns
 * the largest error in ulps */
static double check_erf_dense(const impl *im, uint32_t stride) {
  static float x[BATCH], y[BATCH];
  const uint32_t hi = bits_of(6.0f);
  double worst = 0;
  uint32_t b = 0;
  for (int sign = 0; sign < 2; sign++)
    for (b = 0; b <= hi;) {
      int n = 0;
      for (; n < BATCH && b <= hi; n++, b += stride) x[n] = sign ? -f32_of(b) : f32_of(b);
      im->erf(x, NULL, y, n);
      for (int i = 0; i < n; i++) {
        double e = ulps(y[i], erf((double)x[i]));
        if (e > worst) worst = e;
      }
    }
  return worst;
}

/* a and b (same FMA semantics) agree bit for bit on every function over
 * every 97th float of [-9, 9], with biases, in rows of 4099 */
static void check_same(const impl *a, const impl *b) {
  static float x[BATCH], bias[BATCH], ya[BATCH], yb[BATCH];
  const uint32_t hi = bits_of(9.0f);
  int mismatches = 0;
  for (int i = 0; i < BATCH; i++) bias[i] = (float)(i % 11 - 5) * 0.05f;
  for (int sign = 0; sign < 2; sign++)
    for (uint32_t u = 0; u <= hi;) {
      int n = 0;
      for (; n < BATCH && u <= hi; n++, u += 97) x[n] = sign ? -f32_of(u) : f32_of(u);
      const row_fn fa[6] = {a->erf, a->tanh, a->gelu, a->gelu_tanh, a->exp, a->sigmoid};
      const row_fn fb[6] = {b->erf, b->tanh, b->gelu, b->gelu_tanh, b->exp, b->sigmoid};
      for (int f = 0; f < 6; f++) {
        fa[f](x, f >= 2 ? bias : NULL, ya, n);
        fb[f](x, f >= 2 ? bias : NULL, yb, n);
        for (int i = 0; i < n; i++) mismatches += bits_of(ya[i]) != bits_of(yb[i]);
      }
    }
  CHECK(mismatches == 0);
  if (mismatches) fprintf(stderr, "%s and %s differ on %d values\n", a->name, b->name, mismatches);
}

/* exp and sigmoid over every `stride`-th float of [-105, 105] (both signs;
 * denormal, overflow and underflow results of exp included) against double
 * libm, and the special values */
static void check_exp(const impl *im, uint32_t stride) {
  static float x[BATCH], y[BATCH], s[BATCH];
  const uint32_t hi = bits_of(105.0f);
  double worst_exp = 0, worst_sig = 0;
  for (int sign = 0; sign < 2; sign++)
    for (uint32_t b = 0; b <= hi;) {
      int n = 0;
      for (; n < BATCH && b <= hi; n++, b += stride) x[n] = sign ? -f32_of(b) : f32_of(b);
      im->exp(x, NULL, y, n);
      im->sigmoid(x, NULL, s, n);
      for (int i = 0; i < n; i++) {
        double r = exp((double)x[i]);
        if (r < 3.4028234663852886e38) {   /* else inf expected, checked below */
          double e = ulps(y[i], r);
          if (e > worst_exp) worst_exp = e;
        } else {
          CHECK(isinf(y[i]));
        }
        /* below FLT_MIN sigmoid flushes to 0: e^-x overflows first */
        double rs = 1.0 / (1.0 + exp(-(double)x[i]));
        double e = rs < 1.17549435e-38 ? (fabs(s[i] - rs) <= 1.17549435e-38 ? 0 : 1e9) : ulps(s[i], rs);
        if (e > worst_sig) worst_sig = e;
      }
    }
  printf("test_vmath: %s: exp within %.2f ulp, sigmoid within %.2f ulp of double\n", im->name, worst_exp, worst_sig);
  CHECK(worst_exp <= 2.0);
  CHECK(worst_sig <= 3.5);
  float v[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 88.72f, 88.73f, -103.9f, -104.5f, -200.0f};
  enum { N = sizeof v / sizeof v[0] };
  float e[N], g[N];
  im->exp(v, NULL, e, N);
  im->sigmoid(v, NULL, g, N);
  CHECK(isnan(e[0]) && isnan(g[0]));
  CHECK(isinf(e[1]) && e[2] == 0.0f && g[1] == 1.0f && g[2] == 0.0f);
  CHECK(e[3] == 1.0f && e[4] == 1.0f && g[3] == 0.5f);
  CHECK(isfinite(e[5]) && isinf(e[6]));
  CHECK(e[7] > 0.0f && e[8] == 0.0f && e[9] == 0.0f);   /* e^-103.9 is a denormal */
}

static void check_erf_special(const impl *im) {
  float x[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, f32_of(1), -f32_of(1), f32_of(0x007fffff),
               0.921875f, nextafterf(0.921875f, 0), 3.925f, nextafterf(3.925f, 0), 3.9f, -3.9f, 10.0f,
               -1e30f, 1e-30f};
  enum { N = sizeof x / sizeof x[0] };
  float y[N];
  im->erf(x, NULL, y, N);
  CHECK(y[0] == 0.0f && !signbit(y[0]));
  CHECK(y[1] == 0.0f && signbit(y[1]));
  CHECK(y[2] == 1.0f && y[3] == -1.0f);
  CHECK(isnan(y[4]));
  for (int i = 5; i < N; i++) {
    double e = ulps(y[i], erf((double)x[i]));
    CHECK(e <= 2.0);
    if (e > 2.0) fprintf(stderr, "%s: erf(%g) = %.9g, %.2f ulp off\n", im->name, x[i], y[i], e);
  }
}

/* tanh, GELU (both forms) with a bias, in place, and rows of every length
 * up to 40 (all tail lengths of every width) */
static void check_others(const impl *im) {
  enum { N = 40 };
  float x[N], bias[N], y[N], z[N];
  double worst_tanh = 0, worst_gelu = 0, worst_gt = 0;
  int bad_inplace = 0;
  for (int len = 0; len <= N; len++)
    for (int round = 0; round < 200; round++) {
      for (int i = 0; i < len; i++) {
        x[i] = (float)((i * 37 + round * 101) % 2001 - 1000) * 0.009f;   /* [-9, 9] */
        bias[i] = (float)((i * 13 + round) % 7 - 3) * 0.1f;
      }
      im->tanh(x, NULL, y, len);
      for (int i = 0; i < len; i++) {
        double r = tanh((double)x[i]), e = fabs(y[i] - r) / fmax(fabs(r), 1e-30);
        if (e > worst_tanh) worst_tanh = e;
      }
      im->gelu(x, bias, y, len);
      for (int i = 0; i < len; i++) {
        double v = (double)(x[i] + bias[i]), r = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        double e = fabs(y[i] - r) / (1e-7 * (1.0 + fabs(v)) + 1e-6 * fabs(r));
        if (e > worst_gelu) worst_gelu = e;
      }
      im->gelu_tanh(x, bias, y, len);
      for (int i = 0; i < len; i++) {
        double v = (double)(x[i] + bias[i]);
        double r = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
        /* tanh's 3e-7 relative error shows where 1 + tanh cancels (v < 0) */
        double e = fabs(y[i] - r) / (3e-7 * (1.0 + fabs(v)) + 1e-6 * fabs(r));
        if (e > worst_gt) worst_gt = e;
      }
      memcpy(z, x, sizeof z);
      im->gelu(z, bias, z, len);
      im->gelu(x, bias, y, len);
      bad_inplace += memcmp(y, z, (size_t)len * sizeof *y) != 0;
    }
  printf("test_vmath: %s: tanh rel err %.2g, gelu err %.2f and gelu_tanh err %.2f of tolerance\n", im->name,
         worst_tanh, worst_gelu, worst_gt);
  CHECK(worst_tanh < 2e-6);
  CHECK(worst_gelu <= 1.0);
  CHECK(worst_gt <= 1.0);
  CHECK(bad_inplace == 0);
}

int main(void) {
  const onyx_cpu_features *f = onyx_cpu();
  impl impls[5];   /* portable, 16 lanes, avx2, avx512, dispatched */
  int n = 0;
  impls[n++] = (impl){"portable", cpu_vm_erf_f32__portable, cpu_vm_tanh_f32__portable,
                      cpu_vm_gelu_f32__portable, cpu_vm_gelu_tanh_f32__portable, cpu_vm_exp_f32__portable,
                      cpu_vm_sigmoid_f32__portable};
  impls[n++] = (impl){"16 lanes (fmaf)", cpu_vm_erf_f32__emu16, cpu_vm_tanh_f32__emu16,
                      cpu_vm_gelu_f32__emu16, cpu_vm_gelu_tanh_f32__emu16, cpu_vm_exp_f32__emu16,
                      cpu_vm_sigmoid_f32__emu16};
#if defined(__x86_64__)
  if (f->avx2 && f->fma)
    impls[n++] = (impl){"avx2", cpu_vm_erf_f32__avx2, cpu_vm_tanh_f32__avx2, cpu_vm_gelu_f32__avx2,
                        cpu_vm_gelu_tanh_f32__avx2, cpu_vm_exp_f32__avx2, cpu_vm_sigmoid_f32__avx2};
  else
    printf("test_vmath: avx2 not available here, skipped\n");
  if (f->avx512f)
    impls[n++] = (impl){"avx512", cpu_vm_erf_f32__avx512, cpu_vm_tanh_f32__avx512, cpu_vm_gelu_f32__avx512,
                        cpu_vm_gelu_tanh_f32__avx512, cpu_vm_exp_f32__avx512, cpu_vm_sigmoid_f32__avx512};
  else
    printf("test_vmath: avx512 not available here, skipped\n");
#else
  (void)f;
#endif
  impls[n++] = (impl){"dispatched", cpu_vm_erf_f32, cpu_vm_tanh_f32, cpu_vm_gelu_f32, cpu_vm_gelu_tanh_f32,
                      cpu_vm_exp_f32, cpu_vm_sigmoid_f32};
  for (int i = 2; i < n - 1; i++) check_same(&impls[1], &impls[i]);   /* avx2, avx512 vs fmaf lanes */
  for (int i = 0; i < n; i++) {
    /* against libm over ~4M floats (portable, 16 lanes) or ~250k (the others) */
    double worst = check_erf_dense(&impls[i], i <= 1 ? 257 : 4099);
    printf("test_vmath: %s: erf within %.3f ulp of double erf\n", impls[i].name, worst);
    CHECK(worst <= 1.5);
    check_erf_special(&impls[i]);
    check_exp(&impls[i], i <= 1 ? 1021 : 8191);
    check_others(&impls[i]);
  }
  return tu_done("test_vmath");
}
