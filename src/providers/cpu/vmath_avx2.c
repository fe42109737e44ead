/* vmath_avx2.c — vmath.h's rows at 8 lanes (CMake compiles *_avx2.c with
 * -mavx2 -mfma); called only when onyx_cpu() reports AVX2 and FMA. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "vmath.h"

#define VM_LANES 8
#define VM_FMA(a, b, c) ((vm_f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define VM_SUFFIX avx2
#include "vmath_impl.h"
#endif
