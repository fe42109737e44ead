/* telemetry.c — the telemetry readers of onyx.h: RAPL energy counters under
 * /sys/class/powercap, core frequency from cpufreq or /proc/cpuinfo, and
 * temperatures from /sys/class/thermal and /sys/class/hwmon, all below the
 * root ONYX_SYSFS_ROOT names (default "/"), plus the process and wall
 * clocks. Each reader either fills its figure or says in the sample why it
 * could not: a VM typically has no powercap, thermal or hwmon entries at
 * all, and RAPL counters are root-only on kernels since 5.10. */
#include "onyx.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "status.h"

/* Where the files are: root is ONYX_SYSFS_ROOT without trailing slashes
 * ("" for the real root), so paths read "<root>/sys/...". */
typedef struct tree {
  const char *root;
  int len;
} tree;

static tree tree_get(void) {
  const char *r = getenv("ONYX_SYSFS_ROOT");
  tree t = {r ? r : "", r ? (int)strlen(r) : 0};
  while (t.len && t.root[t.len - 1] == '/') t.len--;
  return t;
}

/* root + the formatted rest (which starts with '/') into buf[PATH_MAX];
 * false when it does not fit. */
static bool path_of(char *buf, const tree *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool path_of(char *buf, const tree *t, const char *fmt, ...) {
  int n = snprintf(buf, PATH_MAX, "%.*s", t->len, t->root);
  if (n < 0 || n >= PATH_MAX) return false;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, (size_t)(PATH_MAX - n), fmt, ap);
  va_end(ap);
  return m >= 0 && m < PATH_MAX - n;
}

/* Reads the small file at path into buf[cap], trailing whitespace dropped.
 * Returns 0 or the errno value of the failure. */
static int read_text(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return errno;
  errno = 0;
  size_t n = fread(buf, 1, cap - 1, f);
  int err = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (err) return err;
  while (n && isspace((unsigned char)buf[n - 1])) n--;
  buf[n] = '\0';
  return 0;
}

/* Reads a file holding one decimal integer. 0, or an errno value (EINVAL
 * when the text is not a whole integer). */
static int read_i64(const char *path, int64_t *out) {
  char buf[64];
  int err = read_text(path, buf, sizeof buf);
  if (err) return err;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || end == buf || *end) return EINVAL;
  *out = v;
  return 0;
}

/* N when name is prefix, decimal N, suffix exactly; else -1. */
static int numbered(const char *name, const char *prefix, const char *suffix) {
  size_t p = strlen(prefix);
  if (strncmp(name, prefix, p) || !isdigit((unsigned char)name[p])) return -1;
  char *end;
  long v = strtol(name + p, &end, 10);
  return strcmp(end, suffix) || v > INT_MAX ? -1 : (int)v;
}

static void set_why(onyx_telemetry_avail *a, onyx_telemetry_source src, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(onyx_telemetry_avail *a, onyx_telemetry_source src, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->why[src], sizeof a->why[src], fmt, ap);
  va_end(ap);
  a->has[src] = false;
}

static int cmp_int(const void *x, const void *y) { return (*(const int *)x > *(const int *)y) - (*(const int *)x < *(const int *)y); }

/* ---- energy: RAPL through powercap ------------------------------------------ */

/* Package zones are the top-level intel-rapl:N (amd-rapl:N where a kernel
 * names them so) whose name is "package-N"; their sub-zones (core, uncore,
 * dram: intel-rapl:N:M) are inside the package figure and psys covers more
 * than the CPU, so neither is added. */
static void read_energy(const tree *t, onyx_telemetry_sample *s) {
  static const char *const kinds[] = {"intel-rapl:", "amd-rapl:"};
  char dir[PATH_MAX], path[PATH_MAX], name[64];
  int ids[2][ONYX_TELEMETRY_MAX_PACKAGES], n[2] = {0, 0};
  bool too_many = false;
  s->energy_uj = -1;
  s->n_packages = 0;
  if (!path_of(dir, t, "/sys/class/powercap")) {
    set_why(&s->avail, ONYX_TELEMETRY_ENERGY, "the path of the powercap folder is too long");
    return;
  }
  DIR *d = opendir(dir);
  if (!d) {
    set_why(&s->avail, ONYX_TELEMETRY_ENERGY, "no RAPL: %s: %s", dir, strerror(errno));
    return;
  }
  for (struct dirent *e; (e = readdir(d));) {
    for (int k = 0; k < 2; k++) {
      int id = numbered(e->d_name, kinds[k], "");
      if (id < 0 || !path_of(path, t, "/sys/class/powercap/%s/name", e->d_name) ||
          read_text(path, name, sizeof name) || strncmp(name, "package", 7))
        continue;
      if (n[k] == ONYX_TELEMETRY_MAX_PACKAGES) too_many = true;
      else ids[k][n[k]++] = id;
    }
  }
  closedir(d);
  int k = n[0] ? 0 : 1;   /* amd-rapl only where intel-rapl has no packages: never count one twice */
  if (too_many) {
    set_why(&s->avail, ONYX_TELEMETRY_ENERGY, "more than %d RAPL packages", ONYX_TELEMETRY_MAX_PACKAGES);
    return;
  }
  if (!n[k]) {
    set_why(&s->avail, ONYX_TELEMETRY_ENERGY, "no RAPL package zones (intel-rapl:N, amd-rapl:N) in %s", dir);
    return;
  }
  qsort(ids[k], (size_t)n[k], sizeof ids[k][0], cmp_int);
  int64_t sum = 0;
  for (int i = 0; i < n[k]; i++) {
    static const char *const files[] = {"energy_uj", "max_energy_range_uj"};
    int64_t v[2];
    for (int f = 0; f < 2; f++) {
      int err = path_of(path, t, "/sys/class/powercap/%s%d/%s", kinds[k], ids[k][i], files[f])
                    ? read_i64(path, &v[f]) : ENAMETOOLONG;
      if (!err && v[f] < 0) err = EINVAL;
      if (err) {
        set_why(&s->avail, ONYX_TELEMETRY_ENERGY, "%s: %s%s", path, strerror(err),
                err == EACCES ? " (RAPL counters are root-only since Linux 5.10)" : "");
        return;
      }
    }
    s->package_id[i] = ids[k][i];
    s->package_uj[i] = v[0];
    s->package_range_uj[i] = v[1];
    sum += v[0];
  }
  s->n_packages = n[k];
  s->energy_uj = sum;
  s->avail.has[ONYX_TELEMETRY_ENERGY] = true;
}

/* ---- frequency: cpufreq, else /proc/cpuinfo --------------------------------- */

/* The mean of the "cpu MHz" lines of cpuinfo; 0 when there are none. */
static double cpuinfo_mhz(const char *path, int *n) {
  FILE *f = fopen(path, "r");
  *n = 0;
  if (!f) return 0;
  char line[512];
  double sum = 0;
  bool at_start = true;   /* long lines (flags) come in several pieces */
  while (fgets(line, sizeof line, f)) {
    bool start = at_start;
    at_start = strchr(line, '\n') != NULL;
    double mhz;
    const char *colon = strchr(line, ':');
    if (start && !strncmp(line, "cpu MHz", 7) && colon && sscanf(colon + 1, "%lf", &mhz) == 1 && mhz > 0) {
      sum += mhz;
      ++*n;
    }
  }
  fclose(f);
  return *n ? sum / *n : 0;
}

static void read_freq(const tree *t, onyx_telemetry_sample *s) {
  char dir[PATH_MAX], path[PATH_MAX], info[PATH_MAX];
  double sum = 0;
  int n = 0;
  s->freq_mhz = -1;
  s->freq_cpus = 0;
  s->freq_source = NULL;
  DIR *d = path_of(dir, t, "/sys/devices/system/cpu") ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    int64_t khz;
    if (numbered(e->d_name, "cpu", "") >= 0 &&
        path_of(path, t, "/sys/devices/system/cpu/%s/cpufreq/scaling_cur_freq", e->d_name) &&
        !read_i64(path, &khz) && khz > 0) {
      sum += (double)khz / 1000;
      n++;
    }
  }
  if (d) closedir(d);
  if (n) {
    s->freq_mhz = sum / n;
    s->freq_source = "cpufreq";
  } else if (path_of(info, t, "/proc/cpuinfo") && (s->freq_mhz = cpuinfo_mhz(info, &n)) > 0) {
    s->freq_source = "/proc/cpuinfo";
  } else {
    s->freq_mhz = -1;
    set_why(&s->avail, ONYX_TELEMETRY_FREQ, "no cpufreq scaling_cur_freq under %s and no \"cpu MHz\" in %s", dir,
            info);
    return;
  }
  s->freq_cpus = n;
  s->avail.has[ONYX_TELEMETRY_FREQ] = true;
}

/* ---- temperature: thermal zones and hwmon ------------------------------------ */

/* The reading kept so far: a package sensor beats any other, then the
 * hotter one wins. */
typedef struct hottest {
  bool any, package;
  double c;
  char sensor[96];
} hottest;

static void consider(hottest *h, double c, bool package, const char *sensor) {
  if (h->any && (h->package > package || (h->package == package && h->c >= c))) return;
  *h = (hottest){true, package, c, ""};
  snprintf(h->sensor, sizeof h->sensor, "%s", sensor);
}

static bool package_name(const char *name) {
  return strcasestr(name, "package") || strcasestr(name, "pkg") || !strcmp(name, "coretemp") ||
         !strcmp(name, "k10temp");
}

static void read_thermal_zones(const tree *t, hottest *h) {
  char dir[PATH_MAX], path[PATH_MAX], type[64], sensor[96];
  DIR *d = path_of(dir, t, "/sys/class/thermal") ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    int64_t milli;
    if (numbered(e->d_name, "thermal_zone", "") < 0 ||
        !path_of(path, t, "/sys/class/thermal/%s/temp", e->d_name) || read_i64(path, &milli))
      continue;
    if (!path_of(path, t, "/sys/class/thermal/%s/type", e->d_name) || read_text(path, type, sizeof type))
      type[0] = '\0';
    snprintf(sensor, sizeof sensor, "%.48s (%.40s)", e->d_name, type[0] ? type : "no type");
    consider(h, (double)milli / 1000, package_name(type), sensor);
  }
  if (d) closedir(d);
}

/* hwmonN/tempK_input with tempK_label where the driver gives one: coretemp
 * labels "Package id 0" and "Core 3", k10temp "Tctl" and "Tccd1". */
static void read_hwmon_chip(const tree *t, const char *chip, hottest *h) {
  char dir[PATH_MAX], path[PATH_MAX], name[64], label[64], sensor[96];
  if (!path_of(path, t, "/sys/class/hwmon/%s/name", chip) || read_text(path, name, sizeof name)) name[0] = '\0';
  DIR *d = path_of(dir, t, "/sys/class/hwmon/%s", chip) ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    int64_t milli;
    int k = numbered(e->d_name, "temp", "_input");
    if (k < 0 || !path_of(path, t, "/sys/class/hwmon/%s/%s", chip, e->d_name) || read_i64(path, &milli)) continue;
    if (!path_of(path, t, "/sys/class/hwmon/%s/temp%d_label", chip, k) || read_text(path, label, sizeof label))
      label[0] = '\0';
    snprintf(sensor, sizeof sensor, "%.16s %.24s temp%d%s%.24s%s", chip, name[0] ? name : "(no name)", k,
             label[0] ? " (" : "", label, label[0] ? ")" : "");
    consider(h, (double)milli / 1000, package_name(name) || package_name(label), sensor);
  }
  if (d) closedir(d);
}

static void read_temp(const tree *t, onyx_telemetry_sample *s) {
  char dir[PATH_MAX], thermal[PATH_MAX];
  hottest h = {0};
  read_thermal_zones(t, &h);
  DIR *d = path_of(dir, t, "/sys/class/hwmon") ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));)
    if (numbered(e->d_name, "hwmon", "") >= 0) read_hwmon_chip(t, e->d_name, &h);
  if (d) closedir(d);
  s->temp_c = NAN;
  s->temp_sensor[0] = '\0';
  if (!h.any) {
    path_of(thermal, t, "/sys/class/thermal");
    set_why(&s->avail, ONYX_TELEMETRY_TEMP, "no readable thermal_zone*/temp in %s nor hwmon*/temp*_input in %s",
            thermal, dir);
    return;
  }
  s->temp_c = h.c;
  snprintf(s->temp_sensor, sizeof s->temp_sensor, "%s", h.sensor);
  s->avail.has[ONYX_TELEMETRY_TEMP] = true;
}

/* ---- samples and deltas -------------------------------------------------------- */

void onyx_telemetry_sample_read(onyx_telemetry_sample *out) {
  tree t = tree_get();
  memset(&out->avail, 0, sizeof out->avail);
  read_energy(&t, out);
  read_freq(&t, out);
  read_temp(&t, out);
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  out->cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  out->wall_ns = onyx_now_ns();
}

onyx_status *onyx_telemetry_delta_compute(const onyx_telemetry_sample *a, const onyx_telemetry_sample *b,
                                          onyx_telemetry_delta *out) {
  if (b->wall_ns < a->wall_ns)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                      "telemetry delta: the second sample (%lld ns) was taken before the first (%lld ns)",
                      (long long)b->wall_ns, (long long)a->wall_ns);
  onyx_telemetry_delta d = {0};
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++) {
    const onyx_telemetry_sample *lacking = !a->avail.has[src] ? a : !b->avail.has[src] ? b : NULL;
    d.avail.has[src] = !lacking;
    if (lacking) memcpy(d.avail.why[src], lacking->avail.why[src], sizeof d.avail.why[src]);
  }
  d.seconds = (double)(b->wall_ns - a->wall_ns) * 1e-9;
  d.cpu_seconds = (double)(b->cpu_ns - a->cpu_ns) * 1e-9;
  d.cpu_utilization = d.seconds > 0 ? d.cpu_seconds / d.seconds : NAN;
  if (d.avail.has[ONYX_TELEMETRY_ENERGY]) {
    bool same = a->n_packages == b->n_packages &&
                !memcmp(a->package_id, b->package_id, (size_t)a->n_packages * sizeof a->package_id[0]);
    int64_t uj = 0;
    for (int i = 0; same && i < a->n_packages; i++) {
      int64_t step = b->package_uj[i] - a->package_uj[i];
      if (step < 0) step += b->package_range_uj[i];   /* the counter wrapped (once) */
      if (step < 0) {
        set_why(&d.avail, ONYX_TELEMETRY_ENERGY, "RAPL package %d's counter went back by more than its range",
                a->package_id[i]);
        break;
      }
      uj += step;
    }
    if (!same) set_why(&d.avail, ONYX_TELEMETRY_ENERGY, "the RAPL packages differ between the two samples");
    if (d.avail.has[ONYX_TELEMETRY_ENERGY]) d.joules = (double)uj * 1e-6;
  }
  if (d.avail.has[ONYX_TELEMETRY_FREQ]) {
    d.freq_mhz = (a->freq_mhz + b->freq_mhz) / 2;
    d.freq_source = b->freq_source;
  }
  if (d.avail.has[ONYX_TELEMETRY_TEMP]) {
    const onyx_telemetry_sample *hot = a->temp_c > b->temp_c ? a : b;
    d.temp_c = hot->temp_c;
    memcpy(d.temp_sensor, hot->temp_sensor, sizeof d.temp_sensor);
  }
  *out = d;
  return NULL;
}

const char *onyx_telemetry_unavailable_reason(const onyx_telemetry_avail *avail, onyx_telemetry_source src) {
  return avail->has[src] ? NULL : avail->why[src];
}
