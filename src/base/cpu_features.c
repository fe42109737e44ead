/* cpu_features.c — cpuid-based ISA detection (x86-64; all zero elsewhere). */
#include "cpu_features.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}
#endif

static onyx_cpu_features feats;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  int osxsave = (c >> 27) & 1;
  int avx = (c >> 28) & 1;
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  int ymm_os = (xcr0 & 6) == 6;
  int zmm_os = (xcr0 & 0xe6) == 0xe6;
  int amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
  feats.fma = avx && ymm_os && ((c >> 12) & 1);
  feats.f16c = avx && ymm_os && ((c >> 29) & 1);
  if (__get_cpuid_max(0, NULL) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    feats.avx2 = avx && ymm_os && ((b >> 5) & 1);
    feats.avx512f = zmm_os && ((b >> 16) & 1);
    feats.avx512bw = feats.avx512f && ((b >> 30) & 1);
    feats.avx512vl = feats.avx512f && ((b >> 31) & 1);
    feats.avx512_vnni = feats.avx512f && ((c >> 11) & 1);
    feats.avx512_fp16 = feats.avx512f && ((d >> 23) & 1);
    feats.amx_bf16 = amx_os && ((d >> 22) & 1);
    feats.amx_tile = amx_os && ((d >> 24) & 1);
    feats.amx_int8 = amx_os && ((d >> 25) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    feats.avx_vnni = feats.avx2 && ((a >> 4) & 1);
    feats.avx512_bf16 = feats.avx512f && ((a >> 5) & 1);
  }
  unsigned brand[12];
  if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
    for (unsigned i = 0; i < 3; i++)
      __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                  &brand[4 * i + 3]);
    memcpy(feats.brand, brand, 48);
    feats.brand[48] = 0;
  }
  const char *cap = getenv("ONYX_ISA");
  if (cap && (!strcmp(cap, "scalar") || !strcmp(cap, "avx2"))) {
    int keep_avx2 = !strcmp(cap, "avx2");
    onyx_cpu_features z = {0};
    memcpy(z.brand, feats.brand, sizeof z.brand);
    if (keep_avx2) { z.avx2 = feats.avx2; z.fma = feats.fma; z.f16c = feats.f16c; z.avx_vnni = feats.avx_vnni; }
    feats = z;
  }
#endif
}

const onyx_cpu_features *onyx_cpu(void) {
  pthread_once(&once, detect);
  return &feats;
}
