/* vmath.h — vectorized float32 exp, sigmoid, erf, tanh and GELU rows for the
 * cpu kernels.
 *
 * glibc's expf, erff and tanhf are scalar calls (erff and tanhf of 10-20 ns
 * each); GELU after the first FFN MatMul of a transformer applies one to
 * every element of a [tokens, 4 * hidden] tensor (4.7 M calls per BERT-base
 * inference at 128 tokens), Sigmoid and Tanh every LSTM/GRU gate. These rows
 * compute 8 (AVX2) or 16 (AVX-512F) lanes at a time,
 * picked by onyx_cpu() at each call (so ONYX_ISA is honoured), with a
 * 4-lane portable fallback; AVX2 and AVX-512 give identical results (both
 * use FMA), the portable rows differ in the last bit at times. Accuracy:
 * erf within 1.3 ulp of double-precision erf, exp and sigmoid within a few
 * ulp, tanh < 1e-6 relative
 * (algorithms and figures in vmath_impl.h, checked in test_vmath.c).
 *
 * Each computes y[i] = f(x[i] + bias[i]) for i < n; bias may be NULL, x and
 * y may be the same array (in place), else they must not overlap. Thread
 * safe: no state. */
#ifndef ONYX_CPU_VMATH_H
#define ONYX_CPU_VMATH_H

#include <stdint.h>

/* e^x for every float (0 below -104, inf above 88.72, denormals right) */
void cpu_vm_exp_f32(const float *x, const float *bias, float *y, int64_t n);
/* 1 / (1 + e^-x) */
void cpu_vm_sigmoid_f32(const float *x, const float *bias, float *y, int64_t n);
void cpu_vm_erf_f32(const float *x, const float *bias, float *y, int64_t n);
void cpu_vm_tanh_f32(const float *x, const float *bias, float *y, int64_t n);
/* GELU, erf form: 0.5 v (1 + erf(v / sqrt 2)) */
void cpu_vm_gelu_f32(const float *x, const float *bias, float *y, int64_t n);
/* GELU, tanh form: 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))) */
void cpu_vm_gelu_tanh_f32(const float *x, const float *bias, float *y, int64_t n);

/* The per-ISA rows behind them, for tests and benchmarks. __avx2 and
 * __avx512 exist on x86-64 only and need the CPU features in their name. */
#define CPU_VM_DECLARE(isa)                                                            \
  void cpu_vm_exp_f32__##isa(const float *x, const float *bias, float *y, int64_t n);  \
  void cpu_vm_sigmoid_f32__##isa(const float *x, const float *bias, float *y, int64_t n); \
  void cpu_vm_erf_f32__##isa(const float *x, const float *bias, float *y, int64_t n);  \
  void cpu_vm_tanh_f32__##isa(const float *x, const float *bias, float *y, int64_t n); \
  void cpu_vm_gelu_f32__##isa(const float *x, const float *bias, float *y, int64_t n); \
  void cpu_vm_gelu_tanh_f32__##isa(const float *x, const float *bias, float *y, int64_t n);
CPU_VM_DECLARE(portable)
#if defined(__x86_64__)
CPU_VM_DECLARE(avx2)
CPU_VM_DECLARE(avx512)
#endif
#undef CPU_VM_DECLARE

#endif
