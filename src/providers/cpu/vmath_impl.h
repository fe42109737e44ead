/* vmath_impl.h — the float32 exp, sigmoid, erf, tanh and GELU rows of vmath.h, written
 * once on GCC vector extensions and compiled at three widths: 4 lanes in
 * vmath.c (x86-64's SSE2 baseline, or NEON), 8 in vmath_avx2.c and 16 in
 * vmath_avx512.c (CMake gives those files their -m flags). The includer
 * defines VM_LANES, VM_SUFFIX and VM_FMA(a, b, c) = a * b + c on vm_f
 * vectors: the ISA's fused multiply-add where there is one (polynomials in
 * FMA steps run ~1.7x faster than in multiply-then-add, whose two roundings
 * GCC does not contract in ISO C mode), else the two operations. Lanes are
 * independent, so the AVX2 and AVX-512 rows give identical results; tests
 * run the 16-lane code with a per-lane fmaf() as VM_FMA on any CPU and
 * compare it with the AVX2 rows bit for bit.
 *
 * erf(x), |x| = a, all lanes computing every branch and selecting:
 *   a < 0.921875:  x + x * P(x^2), P of degree 5 fitted to erf(x)/x - 1
 *                  (adding the small correction to x keeps it < 1.2 ulp);
 *   a < 3.925:     1 - e^Q(a), Q of degree 7 fitted to log(erfc(a));
 *   otherwise:     1 (erfc(3.925) = 2.8e-8 is below half an ulp of 1).
 * The coefficients are weighted least-squares fits against double erf on
 * Chebyshev nodes; e^ is Cephes' polynomial (vm_exp_reduced), which also
 * serves the Exp and Sigmoid rows (< 2 ulp plus the final scaling).
 * Measured against double-precision erf: < 1.3 ulp over all floats checked
 * (tests/unit/test_vmath.c). tanh is Eigen's rational approximation of
 * degree 13/6 on [-7.9, 7.9] (outside it tanh is +-1 in float), < 1e-6
 * relative error; it serves the Tanh op, GELU-tanh, fused activations and
 * the RNN gates. NaN stays NaN, erf(+-inf) = +-1, the sign of -0 is kept. */
#include <stdint.h>
#include <string.h>

#define VM_CAT_(a, b) a##__##b
#define VM_CAT(a, b) VM_CAT_(a, b)
#define VM_FN(name) VM_CAT(name, VM_SUFFIX)

/* The helpers below pass vectors by value; they are static and inlined, so
 * the warning that a wider vector than the ISA's changes the calling
 * convention (the 16-lane code compiled without AVX-512, in tests) does not
 * apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float vm_f __attribute__((vector_size(VM_LANES * 4)));
typedef int32_t vm_i __attribute__((vector_size(VM_LANES * 4)));

/* every lane v (built from the bits: 0 + v would turn -0 into +0) */
static inline vm_f vm_splat(float v) {
  int32_t b;
  memcpy(&b, &v, sizeof b);
  return (vm_f)((vm_i){0} + b);
}
/* m ? a : b per lane, m being a comparison result (all ones or zero) */
static inline vm_f vm_sel(vm_i m, vm_f a, vm_f b) { return (vm_f)((m & (vm_i)a) | (~m & (vm_i)b)); }
static inline vm_f vm_abs(vm_f x) { return (vm_f)((vm_i)x & 0x7fffffff); }
static inline vm_f vm_copysign(vm_f mag, vm_f s) {
  return (vm_f)(((vm_i)mag & 0x7fffffff) | ((vm_i)s & (int32_t)0x80000000));
}
static inline vm_f vm_min(vm_f a, vm_f b) { return vm_sel(a < b, a, b); }
static inline vm_f vm_max(vm_f a, vm_f b) { return vm_sel(a > b, a, b); }

/* Cephes' e^x for |x| <= 104: x = n ln2 + r (n = round(x / ln2), returned
 * in *fn as a float), and e^r by a degree-6 polynomial (<= 2 ulp). */
static inline vm_f vm_exp_reduced(vm_f x, vm_f *fn) {
  *fn = VM_FMA(x, vm_splat(1.44269504088896341f), vm_splat(12582912.0f)) - 12582912.0f; /* rounded */
  vm_f r = VM_FMA(*fn, vm_splat(-0.693359375f), x);
  r = VM_FMA(*fn, vm_splat(2.12194440e-4f), r);
  vm_f p = vm_splat(1.9875691500e-4f);
  p = VM_FMA(p, r, vm_splat(1.3981999507e-3f));
  p = VM_FMA(p, r, vm_splat(8.3334519073e-3f));
  p = VM_FMA(p, r, vm_splat(4.1665795894e-2f));
  p = VM_FMA(p, r, vm_splat(1.6666665459e-1f));
  p = VM_FMA(p, r, vm_splat(5.0000001201e-1f));
  return VM_FMA(p * r, r, r + 1.0f);
}
/* 2^n for integral n in [-126, 127], in the exponent bits */
static inline vm_f vm_pow2(vm_f fn) { return (vm_f)((__builtin_convertvector(fn, vm_i) + 127) << 23); }

/* e^x for x in [-87, 0] (erf's range): no overflow, no denormal results. */
static inline vm_f vm_exp_neg(vm_f x) {
  vm_f fn, p = vm_exp_reduced(vm_max(x, vm_splat(-87.0f)), &fn);
  return p * vm_pow2(fn);
}

/* e^x for every float: 0 below -104, inf above 88.72, NaN stays NaN; 2^n is
 * applied in two halves so results down to the denormals come out right. */
static inline vm_f vm_exp(vm_f x) {
  /* the clamps also turn NaN into a number (vm_max/vm_min pick b when
   * unordered); it is put back at the end */
  vm_f fn, xc = vm_min(vm_max(x, vm_splat(-104.0f)), vm_splat(88.8f));
  vm_f p = vm_exp_reduced(xc, &fn);
  vm_i n = __builtin_convertvector(fn, vm_i), h = n >> 1;   /* n in [-150, 128] */
  vm_f y = p * (vm_f)((h + 127) << 23) * (vm_f)((n - h + 127) << 23);
  y = vm_sel(x > vm_splat(88.7228394f), vm_splat(__builtin_inff()), y);
  return vm_sel(x != x, x, y);
}

static inline vm_f vm_sigmoid(vm_f x) { return 1.0f / (1.0f + vm_exp(-x)); }

static inline vm_f vm_erf(vm_f x) {
  vm_f a = vm_abs(x);
  /* |x| < 0.921875 */
  vm_f t = a * a;
  vm_f p = vm_splat(-5.962882423773408e-4f);
  p = VM_FMA(p, t, vm_splat(4.9867648631334305e-3f));
  p = VM_FMA(p, t, vm_splat(-2.6761317625641823e-2f));
  p = VM_FMA(p, t, vm_splat(1.1281628161668777e-1f));
  p = VM_FMA(p, t, vm_splat(-3.7612468004226685e-1f));
  p = VM_FMA(p, t, vm_splat(1.2837913632392883e-1f));
  vm_f small = VM_FMA(a, p, a);
  /* 0.921875 <= |x| < 3.925, with the argument clamped into that range */
  vm_f u = vm_min(vm_max(a, vm_splat(0.921875f)), vm_splat(3.925f));
  vm_f q = vm_splat(-2.1123099941178225e-5f);
  q = VM_FMA(q, u, vm_splat(4.3479204759933054e-4f));
  q = VM_FMA(q, u, vm_splat(-4.172683227807283e-3f));
  q = VM_FMA(q, u, vm_splat(2.5123752653598785e-2f));
  q = VM_FMA(q, u, vm_splat(-1.0828686505556107e-1f));
  q = VM_FMA(q, u, vm_splat(-6.333406567573547e-1f));
  q = VM_FMA(q, u, vm_splat(-1.1295180320739746f));
  q = VM_FMA(q, u, vm_splat(1.7533489153720438e-4f));
  vm_f big = 1.0f - vm_exp_neg(q);
  vm_f y = vm_sel(a < vm_splat(0.921875f), small, vm_sel(a < vm_splat(3.925f), big, vm_splat(1.0f)));
  y = vm_copysign(y, x);
  return vm_sel(x != x, x, y);
}

static inline vm_f vm_tanh(vm_f x) {
  const float lim = 7.90531110763549805f;
  vm_f xc = vm_min(vm_max(x, vm_splat(-lim)), vm_splat(lim));
  vm_f x2 = xc * xc;
  vm_f p = vm_splat(-2.76076847742355e-16f);
  p = VM_FMA(p, x2, vm_splat(2.00018790482477e-13f));
  p = VM_FMA(p, x2, vm_splat(-8.60467152213735e-11f));
  p = VM_FMA(p, x2, vm_splat(5.12229709037114e-08f));
  p = VM_FMA(p, x2, vm_splat(1.48572235717979e-05f));
  p = VM_FMA(p, x2, vm_splat(6.37261928875436e-04f));
  p = VM_FMA(p, x2, vm_splat(4.89352455891786e-03f));
  p = p * xc;
  vm_f q = vm_splat(1.19825839466702e-06f);
  q = VM_FMA(q, x2, vm_splat(1.18534705686654e-04f));
  q = VM_FMA(q, x2, vm_splat(2.26843463243900e-03f));
  q = VM_FMA(q, x2, vm_splat(4.89352518554385e-03f));
  vm_f y = p / q;
  y = vm_sel(vm_abs(x) < vm_splat(0.0004f), x, y);   /* tanh(x) == x in float; keeps -0 */
  return vm_sel(x != x, x, y);
}

/* 0.5 v (1 + erf(v / sqrt 2)) */
static inline vm_f vm_gelu(vm_f v) {
  vm_f h = 0.5f * v;
  return VM_FMA(h, vm_erf(v * 0.70710678118654752f), h);
}
/* 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))) */
static inline vm_f vm_gelu_tanh(vm_f v) {
  vm_f h = 0.5f * v;
  return VM_FMA(h, vm_tanh(0.7978845608028654f * VM_FMA(0.044715f * v * v, v, v)), h);
}

/* The row loops, y = F(x + bias): whole vectors, then the tail through a
 * zero-padded vector. bias may be NULL (then -0 is added: the identity,
 * -0 included); x and y may be the same array. */
#define VM_ROW(NAME, F)                                                                    \
  void VM_FN(NAME)(const float *x, const float *bias, float *y, int64_t n) {               \
    int64_t i = 0;                                                                         \
    for (; i + VM_LANES <= n; i += VM_LANES) {                                             \
      vm_f v, b = vm_splat(-0.0f);                                                         \
      memcpy(&v, x + i, sizeof v);                                                         \
      if (bias) memcpy(&b, bias + i, sizeof b);                                            \
      v = F(v + b);                                                                        \
      memcpy(y + i, &v, sizeof v);                                                         \
    }                                                                                      \
    if (i == n) return;                                                                    \
    float tx[VM_LANES] = {0}, tb[VM_LANES];                                                \
    for (int k = 0; k < VM_LANES; k++) tb[k] = -0.0f;                                      \
    memcpy(tx, x + i, (size_t)(n - i) * sizeof *tx);                                       \
    if (bias) memcpy(tb, bias + i, (size_t)(n - i) * sizeof *tb);                          \
    vm_f v, b;                                                                             \
    memcpy(&v, tx, sizeof v);                                                              \
    memcpy(&b, tb, sizeof b);                                                              \
    v = F(v + b);                                                                          \
    memcpy(tx, &v, sizeof v);                                                              \
    memcpy(y + i, tx, (size_t)(n - i) * sizeof *tx);                                       \
  }

VM_ROW(cpu_vm_exp_f32, vm_exp)
VM_ROW(cpu_vm_sigmoid_f32, vm_sigmoid)
VM_ROW(cpu_vm_erf_f32, vm_erf)
VM_ROW(cpu_vm_tanh_f32, vm_tanh)
VM_ROW(cpu_vm_gelu_f32, vm_gelu)
VM_ROW(cpu_vm_gelu_tanh_f32, vm_gelu_tanh)
