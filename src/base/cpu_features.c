/* cpu_features.c — cpuid-based ISA detection and cache geometry (x86-64;
 * all zero elsewhere). onyx_cpuid is the one cpuid wrapper of the library. */
#include "cpu_features.h"

#include <limits.h>
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

bool onyx_cpuid(unsigned leaf, unsigned subleaf, onyx_cpuid_regs *out) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  /* checks leaf against the maximum of its range first */
  if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) return false;
  *out = (onyx_cpuid_regs){a, b, c, d};
  return true;
#else
  (void)leaf, (void)subleaf, (void)out;
  return false;
#endif
}

static onyx_cpu_features feats;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  onyx_cpuid_regs r;
  if (!onyx_cpuid(1, 0, &r)) return;
  unsigned c = r.ecx;
  int osxsave = (c >> 27) & 1;
  int avx = (c >> 28) & 1;
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  int ymm_os = (xcr0 & 6) == 6;
  int zmm_os = (xcr0 & 0xe6) == 0xe6;
  int amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
  feats.fma = avx && ymm_os && ((c >> 12) & 1);
  feats.f16c = avx && ymm_os && ((c >> 29) & 1);
  if (onyx_cpuid(7, 0, &r)) {
    unsigned b = r.ebx, d = r.edx;
    c = r.ecx;
    feats.avx2 = avx && ymm_os && ((b >> 5) & 1);
    feats.avx512f = zmm_os && ((b >> 16) & 1);
    feats.avx512bw = feats.avx512f && ((b >> 30) & 1);
    feats.avx512vl = feats.avx512f && ((b >> 31) & 1);
    feats.avx512_vnni = feats.avx512f && ((c >> 11) & 1);
    feats.avx512_fp16 = feats.avx512f && ((d >> 23) & 1);
    feats.amx_bf16 = amx_os && ((d >> 22) & 1);
    feats.amx_tile = amx_os && ((d >> 24) & 1);
    feats.amx_int8 = amx_os && ((d >> 25) & 1);
    onyx_cpuid(7, 1, &r);
    feats.avx_vnni = feats.avx2 && ((r.eax >> 4) & 1);
    feats.avx512_bf16 = feats.avx512f && ((r.eax >> 5) & 1);
  }
  if (onyx_cpuid(0x80000004, 0, &r)) {
    for (unsigned i = 0; i < 3; i++) {
      onyx_cpuid(0x80000002 + i, 0, &r);
      unsigned regs[4] = {r.eax, r.ebx, r.ecx, r.edx};
      memcpy(feats.brand + 16 * i, regs, 16);
    }
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

/* ---- cache geometry ------------------------------------------------------------- */

void onyx_cpu_caches_decode(const onyx_cpuid_regs *sub, int n, onyx_cpu_caches *out) {
  *out = (onyx_cpu_caches){0, 0, 0};
  for (int i = 0; i < n; i++) {
    unsigned type = sub[i].eax & 0x1f, level = (sub[i].eax >> 5) & 7;   /* 1 data, 2 instruction, 3 unified */
    if (!type) break;                                                   /* no more caches */
    if (type == 2) continue;
    unsigned long long ways = (sub[i].ebx >> 22) + 1, partitions = ((sub[i].ebx >> 12) & 0x3ff) + 1,
                       line = (sub[i].ebx & 0xfff) + 1, sets = (unsigned long long)sub[i].ecx + 1;
    unsigned long long kb = ways * partitions * line * sets / 1024;
    int v = kb > INT_MAX ? INT_MAX : (int)kb;
    if (level == 1) out->l1d_kb = v;
    else if (level == 2) out->l2_kb = v;
    else if (level == 3) out->l3_kb = v;
  }
}

void onyx_cpu_caches_decode_amd_legacy(const onyx_cpuid_regs *l5, const onyx_cpuid_regs *l6,
                                       onyx_cpu_caches *out) {
  out->l1d_kb = (int)(l5->ecx >> 24);
  out->l2_kb = (int)(l6->ecx >> 16);
  out->l3_kb = (int)(l6->edx >> 18) * 512;
}

/* The cache list of a deterministic-cache-parameters leaf; more sub-leaves
 * than any CPU has levels and types. */
#define MAX_CACHE_SUBLEAVES 16

void onyx_cpu_caches_detect(onyx_cpu_caches *out) {
  *out = (onyx_cpu_caches){0, 0, 0};
  onyx_cpuid_regs r, sub[MAX_CACHE_SUBLEAVES];
  if (!onyx_cpuid(0, 0, &r)) return;
  char vendor[13];
  unsigned id[3] = {r.ebx, r.edx, r.ecx};
  memcpy(vendor, id, 12);
  vendor[12] = 0;
  bool amd = !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
  /* 0x80000001 ECX[22]: topology extensions, which bring leaf 0x8000001D */
  bool topoext = amd && onyx_cpuid(0x80000001, 0, &r) && ((r.ecx >> 22) & 1);
  if (!amd || topoext) {
    unsigned leaf = amd ? 0x8000001D : 4;
    int n = 0;
    while (n < MAX_CACHE_SUBLEAVES && onyx_cpuid(leaf, (unsigned)n, &sub[n]) && (sub[n].eax & 0x1f)) n++;
    onyx_cpu_caches_decode(sub, n, out);
  }
  /* AMD without topology extensions, or a hypervisor that leaves 0x8000001D empty */
  onyx_cpuid_regs l5, l6;
  if (amd && !out->l1d_kb && !out->l2_kb && !out->l3_kb && onyx_cpuid(0x80000005, 0, &l5) &&
      onyx_cpuid(0x80000006, 0, &l6))
    onyx_cpu_caches_decode_amd_legacy(&l5, &l6, out);
}
