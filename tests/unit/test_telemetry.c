/* test_telemetry.c — the telemetry readers (onyx.h, "telemetry") against fake
 * sysfs/procfs trees built under a mkdtemp folder and named by
 * ONYX_SYSFS_ROOT: RAPL with two packages whose second counter wraps between
 * two samples (sub-zones, psys and the MMIO duplicate must not count),
 * amd-rapl zones, a counter that does not parse, cpufreq, the /proc/cpuinfo
 * fallback (a long line split by the reader's buffer included), thermal
 * zones and hwmon chips (a package sensor beats a hotter other one; without
 * one the hottest of all wins), and an empty tree where every source says it
 * is not available. Each expectation is computed from the values written,
 * so a reader that drops a file or misreads a unit fails a check. */
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onyx.h"
#include "test_util.h"

/* ---- fake trees ------------------------------------------------------------------- */

static char root[64];

/* A fresh, empty tree, and ONYX_SYSFS_ROOT pointing at it. */
static void tree_new(void) {
  snprintf(root, sizeof root, "/tmp/onyx_telemetryXXXXXX");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    exit(1);
  }
  setenv("ONYX_SYSFS_ROOT", root, 1);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void tree_free(void) {
  nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  unsetenv("ONYX_SYSFS_ROOT");
}

/* Writes text to root/rel, making the folders on the way. */
static void put(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    if (mkdir(path, 0755) && errno != EEXIST) perror(path);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f)) {
    perror(path);
    exit(1);
  }
}

static void putf(const char *rel, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld\n", v);
  put(rel, buf);
}

static bool has(const onyx_telemetry_avail *a, onyx_telemetry_source src) {
  return onyx_telemetry_unavailable_reason(a, src) == NULL && a->has[src];
}

static bool why_has(const onyx_telemetry_avail *a, onyx_telemetry_source src, const char *needle) {
  const char *why = onyx_telemetry_unavailable_reason(a, src);
  if (why && strstr(why, needle)) return true;
  fprintf(stderr, "  reason for source %d: '%s', expected it to contain '%s'\n", (int)src, why ? why : "(none)",
          needle);
  return false;
}

/* ---- energy ------------------------------------------------------------------------- */

#define RANGE 262143328850LL   /* a real max_energy_range_uj */

static void test_rapl_two_packages_wrap(void) {
  tree_new();
  const long long p0a = 1000000, p1a = RANGE - 328850;   /* package 1 is about to wrap */
  put("sys/class/powercap/intel-rapl:0/name", "package-0\n");
  putf("sys/class/powercap/intel-rapl:0/energy_uj", p0a);
  putf("sys/class/powercap/intel-rapl:0/max_energy_range_uj", RANGE);
  put("sys/class/powercap/intel-rapl:1/name", "package-1\n");
  putf("sys/class/powercap/intel-rapl:1/energy_uj", p1a);
  putf("sys/class/powercap/intel-rapl:1/max_energy_range_uj", RANGE);
  /* inside package 0's figure, or not the CPU package: never added */
  put("sys/class/powercap/intel-rapl:0:0/name", "core\n");
  putf("sys/class/powercap/intel-rapl:0:0/energy_uj", 777);
  putf("sys/class/powercap/intel-rapl:0:0/max_energy_range_uj", RANGE);
  put("sys/class/powercap/intel-rapl:2/name", "psys\n");
  putf("sys/class/powercap/intel-rapl:2/energy_uj", 999);
  putf("sys/class/powercap/intel-rapl:2/max_energy_range_uj", RANGE);
  put("sys/class/powercap/intel-rapl-mmio:0/name", "package-0\n");
  putf("sys/class/powercap/intel-rapl-mmio:0/energy_uj", 5555);
  putf("sys/class/powercap/intel-rapl-mmio:0/max_energy_range_uj", RANGE);

  onyx_telemetry_sample a, b;
  onyx_telemetry_sample_read(&a);
  CHECK(has(&a.avail, ONYX_TELEMETRY_ENERGY));
  CHECK(a.energy_uj == p0a + p1a);
  CHECK(a.n_packages == 2 && a.package_id[0] == 0 && a.package_id[1] == 1);
  CHECK(a.package_range_uj[0] == RANGE && a.package_range_uj[1] == RANGE);

  /* 2.5 J on package 0; package 1 goes through its range: 328850 to the
   * top, then 1000000 after the wrap */
  const long long p0b = p0a + 2500000, p1b = 1000000;
  putf("sys/class/powercap/intel-rapl:0/energy_uj", p0b);
  putf("sys/class/powercap/intel-rapl:1/energy_uj", p1b);
  onyx_telemetry_sample_read(&b);
  CHECK(b.energy_uj == p0b + p1b);
  onyx_telemetry_delta d;
  CHECK_OK(onyx_telemetry_delta_compute(&a, &b, &d));
  double want = (double)((p0b - p0a) + (p1b - p1a + RANGE)) * 1e-6;
  CHECK(has(&d.avail, ONYX_TELEMETRY_ENERGY));
  CHECK_NEAR(d.joules, want, 1e-9);
  CHECK_NEAR(want, 3.82885, 1e-9);   /* the numbers above, worked out by hand */
  CHECK(d.seconds >= 0 && b.wall_ns >= a.wall_ns);

  /* the samples in the wrong order: refused, *out untouched */
  onyx_telemetry_delta keep = d;
  b.wall_ns = a.wall_ns + 1;
  CHECK_ERR(onyx_telemetry_delta_compute(&b, &a, &d), ONYX_ERR_INVALID_ARGUMENT);
  CHECK(d.joules == keep.joules);

  /* a package that disappeared between the samples: no energy figure */
  onyx_telemetry_sample c = b;
  c.n_packages = 1;
  CHECK_OK(onyx_telemetry_delta_compute(&a, &c, &d));
  CHECK(!has(&d.avail, ONYX_TELEMETRY_ENERGY) && why_has(&d.avail, ONYX_TELEMETRY_ENERGY, "packages differ"));
  /* a counter that went back by more than its range is no figure either */
  c = b;
  c.package_range_uj[1] = 0;
  CHECK_OK(onyx_telemetry_delta_compute(&a, &c, &d));
  CHECK(why_has(&d.avail, ONYX_TELEMETRY_ENERGY, "package 1's counter went back"));
  tree_free();
}

static void test_rapl_amd_and_errors(void) {
  /* amd-rapl zones where intel-rapl has none */
  tree_new();
  put("sys/class/powercap/amd-rapl:0/name", "package-0\n");
  putf("sys/class/powercap/amd-rapl:0/energy_uj", 123456789);
  putf("sys/class/powercap/amd-rapl:0/max_energy_range_uj", RANGE);
  onyx_telemetry_sample s;
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_ENERGY) && s.energy_uj == 123456789 && s.n_packages == 1);
  /* both: the intel-rapl view only, never the same package twice */
  put("sys/class/powercap/intel-rapl:0/name", "package-0\n");
  putf("sys/class/powercap/intel-rapl:0/energy_uj", 1000);
  putf("sys/class/powercap/intel-rapl:0/max_energy_range_uj", RANGE);
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_ENERGY) && s.energy_uj == 1000 && s.n_packages == 1);
  /* a counter that does not parse: not available, and the reason names it */
  put("sys/class/powercap/intel-rapl:0/energy_uj", "12ab\n");
  onyx_telemetry_sample_read(&s);
  CHECK(!has(&s.avail, ONYX_TELEMETRY_ENERGY) && s.energy_uj == -1);
  CHECK(why_has(&s.avail, ONYX_TELEMETRY_ENERGY, "intel-rapl:0/energy_uj"));
  /* zones without a package among them */
  put("sys/class/powercap/intel-rapl:0/name", "psys\n");
  put("sys/class/powercap/amd-rapl:0/name", "dram\n");
  onyx_telemetry_sample_read(&s);
  CHECK(why_has(&s.avail, ONYX_TELEMETRY_ENERGY, "no RAPL package zones"));
  tree_free();
}

/* ---- frequency ---------------------------------------------------------------------- */

static void test_cpufreq(void) {
  tree_new();
  putf("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", 1000000);   /* kHz */
  putf("sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", 2000000);
  putf("sys/devices/system/cpu/cpu2/cpufreq/scaling_cur_freq", 3500000);
  put("sys/devices/system/cpu/cpu3/online", "1\n");                         /* no cpufreq: not counted */
  putf("sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", 9000000);  /* not a cpuN */
  put("proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: 9999.000\n");           /* cpufreq comes first */
  onyx_telemetry_sample s;
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_FREQ));
  CHECK_NEAR(s.freq_mhz, (1000.0 + 2000.0 + 3500.0) / 3, 1e-9);
  CHECK(s.freq_cpus == 3 && s.freq_source && !strcmp(s.freq_source, "cpufreq"));
  tree_free();
}

static void test_cpuinfo_fallback(void) {
  tree_new();
  put("sys/devices/system/cpu/cpu0/online", "1\n");
  /* a flags line longer than the reader's buffer, with "cpu MHz" where the
   * buffer splits it: not the start of a line, so not a reading */
  char flags[1024], info[2048];
  int n = snprintf(flags, sizeof flags, "flags\t\t: ");
  memset(flags + n, 'x', (size_t)(511 - n));   /* the buffer holds 511 characters and the NUL */
  snprintf(flags + 511, sizeof flags - 511, "cpu MHz : 99999.0\n");
  snprintf(info, sizeof info, "processor\t: 0\ncpu MHz\t\t: 2400.000\n%sprocessor\t: 1\ncpu MHz\t\t: 3600.500\n"
           "bogomips\t: 4800.00\n", flags);
  put("proc/cpuinfo", info);
  onyx_telemetry_sample s;
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_FREQ));
  CHECK_NEAR(s.freq_mhz, (2400.0 + 3600.5) / 2, 1e-9);
  CHECK(s.freq_cpus == 2 && s.freq_source && !strcmp(s.freq_source, "/proc/cpuinfo"));
  tree_free();
}

/* ---- temperature -------------------------------------------------------------------- */

static void test_thermal_and_hwmon(void) {
  tree_new();
  put("sys/class/thermal/thermal_zone0/type", "acpitz\n");
  putf("sys/class/thermal/thermal_zone0/temp", 90000);        /* hotter, but not the package */
  put("sys/class/thermal/thermal_zone1/type", "x86_pkg_temp\n");
  putf("sys/class/thermal/thermal_zone1/temp", 55000);
  put("sys/class/thermal/cooling_device0/type", "Processor\n");
  onyx_telemetry_sample s;
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_TEMP));
  CHECK_NEAR(s.temp_c, 55.0, 1e-9);
  CHECK(!strcmp(s.temp_sensor, "thermal_zone1 (x86_pkg_temp)"));
  /* coretemp's package sensor is hotter than x86_pkg_temp here */
  put("sys/class/hwmon/hwmon0/name", "coretemp\n");
  putf("sys/class/hwmon/hwmon0/temp1_input", 61000);
  put("sys/class/hwmon/hwmon0/temp1_label", "Package id 0\n");
  putf("sys/class/hwmon/hwmon0/temp2_input", 58000);
  put("sys/class/hwmon/hwmon0/temp2_label", "Core 0\n");
  put("sys/class/hwmon/hwmon0/temp3_input", "garbage\n");     /* skipped */
  put("sys/class/hwmon/hwmon1/name", "nvme\n");
  putf("sys/class/hwmon/hwmon1/temp1_input", 70000);
  onyx_telemetry_sample_read(&s);
  CHECK_NEAR(s.temp_c, 61.0, 1e-9);
  CHECK(strstr(s.temp_sensor, "hwmon0 coretemp temp1 (Package id 0)") != NULL);

  /* k10temp, whose labels say Tctl: hotter than coretemp's package here */
  put("sys/class/hwmon/hwmon2/name", "k10temp\n");
  putf("sys/class/hwmon/hwmon2/temp1_input", 72500);
  put("sys/class/hwmon/hwmon2/temp1_label", "Tctl\n");
  onyx_telemetry_sample_read(&s);
  CHECK_NEAR(s.temp_c, 72.5, 1e-9);
  CHECK(strstr(s.temp_sensor, "k10temp temp1 (Tctl)") != NULL);
  tree_free();

  /* no package sensor: the hottest of all */
  tree_new();
  put("sys/class/thermal/thermal_zone0/type", "acpitz\n");
  putf("sys/class/thermal/thermal_zone0/temp", 47000);
  put("sys/class/thermal/thermal_zone3/type", "iwlwifi_1\n");
  putf("sys/class/thermal/thermal_zone3/temp", 52250);
  put("sys/class/hwmon/hwmon4/name", "nvme\n");
  putf("sys/class/hwmon/hwmon4/temp1_input", 38000);
  onyx_telemetry_sample_read(&s);
  CHECK(has(&s.avail, ONYX_TELEMETRY_TEMP));
  CHECK_NEAR(s.temp_c, 52.25, 1e-9);
  CHECK(!strcmp(s.temp_sensor, "thermal_zone3 (iwlwifi_1)"));
  tree_free();
}

/* ---- nothing there, and the clocks ---------------------------------------------------- */

static void test_empty_tree(void) {
  tree_new();
  onyx_telemetry_sample a, b;
  onyx_telemetry_sample_read(&a);
  CHECK(!has(&a.avail, ONYX_TELEMETRY_ENERGY) && a.energy_uj == -1 && a.n_packages == 0);
  CHECK(!has(&a.avail, ONYX_TELEMETRY_FREQ) && a.freq_mhz < 0 && a.freq_source == NULL);
  CHECK(!has(&a.avail, ONYX_TELEMETRY_TEMP) && isnan(a.temp_c));
  /* the reasons name the paths looked at, under the fake root */
  char want[128];
  snprintf(want, sizeof want, "%s/sys/class/powercap", root);
  CHECK(why_has(&a.avail, ONYX_TELEMETRY_ENERGY, want));
  snprintf(want, sizeof want, "%s/proc/cpuinfo", root);
  CHECK(why_has(&a.avail, ONYX_TELEMETRY_FREQ, want));
  snprintf(want, sizeof want, "%s/sys/class/thermal", root);
  CHECK(why_has(&a.avail, ONYX_TELEMETRY_TEMP, want));

  /* burn some CPU between the samples: utilisation is CPU time over wall
   * time, at most 1 on this one thread */
  volatile double x = 0;
  for (int i = 0; i < 20000000; i++) x += i * 1e-9;
  onyx_telemetry_sample_read(&b);
  onyx_telemetry_delta d;
  CHECK_OK(onyx_telemetry_delta_compute(&a, &b, &d));
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++)
    CHECK(!has(&d.avail, (onyx_telemetry_source)src) && !strcmp(d.avail.why[src], a.avail.why[src]));
  CHECK(d.seconds > 0 && d.cpu_seconds > 0);
  CHECK_NEAR(d.seconds, (double)(b.wall_ns - a.wall_ns) * 1e-9, 1e-12);
  CHECK_NEAR(d.cpu_seconds, (double)(b.cpu_ns - a.cpu_ns) * 1e-9, 1e-12);
  CHECK_NEAR(d.cpu_utilization, d.cpu_seconds / d.seconds, 1e-12);
  CHECK(d.cpu_utilization > 0 && d.cpu_utilization <= 1.05);
  tree_free();
}

/* A delta is only as available as the poorer of its two samples; frequency
 * is their mean and temperature their maximum. */
static void test_delta_mixing(void) {
  onyx_telemetry_sample a = {0}, b = {0};
  a.wall_ns = 1000000000, b.wall_ns = 3000000000;
  a.cpu_ns = 0, b.cpu_ns = 3000000000;   /* 1.5 cores busy */
  a.avail.has[ONYX_TELEMETRY_FREQ] = b.avail.has[ONYX_TELEMETRY_FREQ] = true;
  a.freq_mhz = 2000, b.freq_mhz = 3000;
  a.avail.has[ONYX_TELEMETRY_TEMP] = b.avail.has[ONYX_TELEMETRY_TEMP] = true;
  a.temp_c = 71.5, b.temp_c = 64;
  a.avail.has[ONYX_TELEMETRY_ENERGY] = true;   /* b has none: */
  snprintf(b.avail.why[ONYX_TELEMETRY_ENERGY], sizeof b.avail.why[0], "gone");
  onyx_telemetry_delta d;
  CHECK_OK(onyx_telemetry_delta_compute(&a, &b, &d));
  CHECK_NEAR(d.seconds, 2.0, 1e-12);
  CHECK_NEAR(d.cpu_utilization, 1.5, 1e-12);
  CHECK(has(&d.avail, ONYX_TELEMETRY_FREQ) && d.freq_mhz == 2500);
  CHECK(has(&d.avail, ONYX_TELEMETRY_TEMP) && d.temp_c == 71.5);
  CHECK(why_has(&d.avail, ONYX_TELEMETRY_ENERGY, "gone"));
}

/* The real machine: whatever it has, each source is a figure or a reason. */
static void test_this_machine(void) {
  onyx_telemetry_sample s;
  onyx_telemetry_sample_read(&s);
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++) {
    const char *why = onyx_telemetry_unavailable_reason(&s.avail, (onyx_telemetry_source)src);
    CHECK(s.avail.has[src] ? why == NULL : why && *why);
    if (why) printf("this machine: source %d not available: %s\n", src, why);
  }
  CHECK(s.avail.has[ONYX_TELEMETRY_ENERGY] ? s.energy_uj >= 0 : s.energy_uj == -1);
  CHECK(s.avail.has[ONYX_TELEMETRY_FREQ] ? s.freq_mhz > 0 : s.freq_mhz < 0);
  CHECK(s.avail.has[ONYX_TELEMETRY_TEMP] ? !isnan(s.temp_c) : isnan(s.temp_c));
}

int main(void) {
  test_rapl_two_packages_wrap();
  test_rapl_amd_and_errors();
  test_cpufreq();
  test_cpuinfo_fallback();
  test_thermal_and_hwmon();
  test_empty_tree();
  test_delta_mixing();
  test_this_machine();
  return tu_done("test_telemetry");
}
