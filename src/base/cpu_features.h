/* cpu_features.h — instruction-set features read once from cpuid/xgetbv,
 * and the cache sizes cpuid describes. Kernels dispatch on the features at
 * prepare time, never on compile-time flags. The cache decoders are pure
 * functions of register values so that tests can feed them the registers of
 * CPUs they do not run on. */
#ifndef ONYX_BASE_CPU_FEATURES_H
#define ONYX_BASE_CPU_FEATURES_H

#include <stdbool.h>

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

/* What one cpuid query returns. */
typedef struct onyx_cpuid_regs {
  unsigned eax, ebx, ecx, edx;
} onyx_cpuid_regs;

/* Runs cpuid `leaf`, sub-leaf `subleaf`, into *out. False, *out untouched,
 * where the leaf is above the highest one of its range (basic or extended)
 * the CPU reports, or the machine is not x86. Thread-safe. */
bool onyx_cpuid(unsigned leaf, unsigned subleaf, onyx_cpuid_regs *out);

/* Per-instance cache sizes in KiB; 0 when unknown. */
typedef struct onyx_cpu_caches {
  int l1d_kb, l2_kb, l3_kb;
} onyx_cpu_caches;

/* Decodes the sub-leaves of the deterministic cache parameters, sub[0..n):
 * Intel's leaf 4 and AMD's 0x8000001D share the layout (EAX[4:0] type,
 * EAX[7:5] level, EBX ways/partitions/line size minus one, ECX sets minus
 * one). A sub-leaf of type 0 ends the list. Size = ways x partitions x
 * line size x sets; L1 counts only a data (or unified) cache, L2 and L3 a
 * unified (or data) one. Levels not listed stay 0 in *out. Pure. */
void onyx_cpu_caches_decode(const onyx_cpuid_regs *sub, int n, onyx_cpu_caches *out);

/* Decodes AMD's legacy leaves, for CPUs without topology extensions:
 * 0x80000005 (ECX[31:24] L1d KiB) and 0x80000006 (ECX[31:16] L2 KiB,
 * EDX[31:18] L3 in units of 512 KiB). Pure. */
void onyx_cpu_caches_decode_amd_legacy(const onyx_cpuid_regs *l5, const onyx_cpuid_regs *l6,
                                       onyx_cpu_caches *out);

/* This CPU's cache sizes from cpuid: leaf 4 on Intel and others that have
 * it, 0x8000001D on AMD and Hygon with topology extensions, else (or when
 * that leaf lists nothing) AMD's legacy leaves. Zeros where cpuid says
 * nothing (and off x86). For when sysfs has no cache entries (some VMs).
 * Thread-safe. */
void onyx_cpu_caches_detect(onyx_cpu_caches *out);

#endif
