/* cpu_features.h — instruction-set features read once from cpuid/xgetbv.
 * Kernels dispatch on these at prepare time, never on compile-time flags. */
#ifndef ONYX_BASE_CPU_FEATURES_H
#define ONYX_BASE_CPU_FEATURES_H

typedef struct onyx_cpu_features {
  int avx2, fma, f16c;
  int avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16;
  int avx_vnni;
  int amx_tile, amx_int8, amx_bf16;
  char brand[64];
} onyx_cpu_features;

/* Detected once (thread-safe); the pointer is static. ONYX_ISA=scalar|avx2
 * in the environment caps what is reported, to test fallbacks. */
const onyx_cpu_features *onyx_cpu(void);

#endif
