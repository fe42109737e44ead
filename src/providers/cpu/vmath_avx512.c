/* vmath_avx512.c — vmath.h's rows at 16 lanes (CMake compiles *_avx512.c
 * with -mavx512f and friends); called only when onyx_cpu() reports
 * AVX-512F. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "vmath.h"

#define VM_LANES 16
#define VM_FMA(a, b, c) ((vm_f)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define VM_SUFFIX avx512
#include "vmath_impl.h"
#endif
