/* test_system_info.c — machine facts: the cpuid cache decoders on the
 * registers of CPUs the tests do not run on (an Intel leaf 4, an AMD
 * 0x8000001D with topology extensions, AMD's legacy 0x80000005/6 leaves),
 * then cpuid and onyx_system_info_get on this machine, which must know its
 * L1d and L2 whether or not sysfs lists caches. The register values are
 * written out by hand from the vendors' layouts, so a decoder that reads a
 * field wrong gives a size the checks refuse. */
#include "base/cpu_features.h"
#include "test_util.h"

static void test_intel_leaf4(void) {
  /* A Skylake client: 32 KiB 8-way L1d and L1i, 256 KiB 4-way L2, 8 MiB
   * 16-way L3, 64-byte lines; then the type-0 sub-leaf that ends the list
   * and garbage after it that must not be read. */
  const onyx_cpuid_regs sub[] = {
      {0x1C004121, 0x01C0003F, 0x0000003F, 0x0},   /* L1d: 8 ways x 64 B x 64 sets */
      {0x1C004122, 0x01C0003F, 0x0000003F, 0x0},   /* L1i: skipped */
      {0x1C004143, 0x00C0003F, 0x000003FF, 0x0},   /* L2: 4 ways x 64 B x 1024 sets */
      {0x1C03C163, 0x03C0003F, 0x00001FFF, 0x6},   /* L3: 16 ways x 64 B x 8192 sets */
      {0x00000000, 0x00000000, 0x00000000, 0x0},
      {0x1C004163, 0x03C0003F, 0x0000FFFF, 0x0},   /* after the end: ignored */
  };
  onyx_cpu_caches c;
  onyx_cpu_caches_decode(sub, 6, &c);
  CHECK(c.l1d_kb == 32 && c.l2_kb == 256 && c.l3_kb == 8192);
  /* n bounds the list: no L2 or L3 in the first two sub-leaves */
  onyx_cpu_caches_decode(sub, 2, &c);
  CHECK(c.l1d_kb == 32 && c.l2_kb == 0 && c.l3_kb == 0);
  onyx_cpu_caches_decode(sub, 0, &c);
  CHECK(c.l1d_kb == 0 && c.l2_kb == 0 && c.l3_kb == 0);
}

static void test_amd_8000001d(void) {
  /* A Zen 5 core: 48 KiB 12-way L1d, 32 KiB L1i, 1 MiB 16-way L2, and an
   * L3 given as 2 partitions of 16 ways x 64 B x 16384 sets = 32 MiB (the
   * partition field is 1 on shipping parts; 2 checks it is multiplied in). */
  const onyx_cpuid_regs sub[] = {
      {0x00004121, 0x02C0003F, 0x0000003F, 0x0},
      {0x00004122, 0x01C0003F, 0x0000003F, 0x0},
      {0x00004143, 0x03C0003F, 0x000003FF, 0x2},
      {0x0003C163, 0x03C0103F, 0x00003FFF, 0x1},
      {0x00000000, 0x00000000, 0x00000000, 0x0},
  };
  onyx_cpu_caches c;
  onyx_cpu_caches_decode(sub, 5, &c);
  CHECK(c.l1d_kb == 48 && c.l2_kb == 1024 && c.l3_kb == 32768);
  if (c.l1d_kb != 48 || c.l2_kb != 1024 || c.l3_kb != 32768)
    fprintf(stderr, "  amd decoded L1d %d, L2 %d, L3 %d KiB\n", c.l1d_kb, c.l2_kb, c.l3_kb);
}

static void test_amd_legacy(void) {
  /* 0x80000005 ECX: L1d 32 KiB, 8-way, 64 B lines; 0x80000006 ECX: L2
   * 512 KiB; EDX: L3 32 x 512 KiB = 16 MiB. */
  const onyx_cpuid_regs l5 = {0xFF40FF18, 0xFF40FF30, 0x20080140, 0x20080140};
  const onyx_cpuid_regs l6 = {0x26006400, 0x66006400, 0x02006140, 0x00806140};
  onyx_cpu_caches c;
  onyx_cpu_caches_decode_amd_legacy(&l5, &l6, &c);
  CHECK(c.l1d_kb == 32 && c.l2_kb == 512 && c.l3_kb == 16384);
}

static void test_this_machine(void) {
  onyx_system_info si;
  onyx_system_info_get(&si);
  printf("system info: L1d %d KiB, L2 %d KiB, L3 %d KiB\n", si.l1d_kb, si.l2_kb, si.l3_kb);
  CHECK(si.l1d_kb > 0 && si.l2_kb > 0);
#if defined(__x86_64__) || defined(__i386__)
  /* the fallback itself, whatever sysfs holds here */
  onyx_cpu_caches c;
  onyx_cpu_caches_detect(&c);
  printf("cpuid:       L1d %d KiB, L2 %d KiB, L3 %d KiB\n", c.l1d_kb, c.l2_kb, c.l3_kb);
  CHECK(c.l1d_kb >= 16 && c.l2_kb >= 128 && c.l2_kb >= c.l1d_kb);
  onyx_cpuid_regs r;
  CHECK(onyx_cpuid(0, 0, &r) && r.eax >= 1);        /* leaf 0: the highest basic leaf */
  CHECK(!onyx_cpuid(r.eax + 1, 0, &r));             /* above it: refused */
#endif
}

int main(void) {
  test_intel_leaf4();
  test_amd_8000001d();
  test_amd_legacy();
  test_this_machine();
  return tu_done("test_system_info");
}
