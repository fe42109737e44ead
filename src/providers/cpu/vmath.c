/* vmath.c — vmath.h's portable 4-lane rows (multiply and add, no FMA:
 * within 1.2 ulp as well, not bit-identical to the FMA rows) and the
 * dispatch to the widest rows this CPU runs (AVX-512F, else AVX2+FMA, else
 * these). */
#include "vmath.h"

#include "base/cpu_features.h"

#define VM_LANES 4
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#define VM_SUFFIX portable
#include "vmath_impl.h"

#if defined(__x86_64__)
#define VM_DISPATCH(name)                                                       \
  void name(const float *x, const float *bias, float *y, int64_t n) {           \
    const onyx_cpu_features *f = onyx_cpu();                                    \
    if (f->avx512f) name##__avx512(x, bias, y, n);                              \
    else if (f->avx2 && f->fma) name##__avx2(x, bias, y, n);                    \
    else name##__portable(x, bias, y, n);                                       \
  }
#else
#define VM_DISPATCH(name)                                                       \
  void name(const float *x, const float *bias, float *y, int64_t n) { name##__portable(x, bias, y, n); }
#endif

VM_DISPATCH(cpu_vm_exp_f32)
VM_DISPATCH(cpu_vm_sigmoid_f32)
VM_DISPATCH(cpu_vm_erf_f32)
VM_DISPATCH(cpu_vm_tanh_f32)
VM_DISPATCH(cpu_vm_gelu_f32)
VM_DISPATCH(cpu_vm_gelu_tanh_f32)
