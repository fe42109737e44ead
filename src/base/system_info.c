/* system_info.c — machine facts for `onyx info` and reports: cpu features
 * (from cpu_features.c), cores, NUMA nodes and cache sizes (from sysfs). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cpu_features.h"
#include "onyx.h"
#include "parallel.h"

/* Reads a sysfs cache size like "48K" for cpu0 cache `index`; 0 if absent. */
static int cache_kb(const char *level, const char *type) {
  char path[128], buf[32];
  for (int i = 0; i < 8; i++) {
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) break;
    int ok = fgets(buf, sizeof buf, f) && !strncmp(buf, level, strlen(level));
    fclose(f);
    if (!ok) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    if (!(f = fopen(path, "r"))) continue;
    ok = fgets(buf, sizeof buf, f) && (!strncmp(buf, type, strlen(type)) || !strncmp(buf, "Unified", 7));
    fclose(f);
    if (!ok) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    if (!(f = fopen(path, "r"))) continue;
    int kb = 0;
    char unit = 'K';
    if (fscanf(f, "%d%c", &kb, &unit) < 1) kb = 0;
    fclose(f);
    return unit == 'M' ? kb * 1024 : kb;
  }
  return 0;
}

static int numa_nodes(void) {
  DIR *d = opendir("/sys/devices/system/node");
  if (!d) return 1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (!strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9') n++;
  closedir(d);
  return n ? n : 1;
}

void onyx_system_info_get(onyx_system_info *out) {
  const onyx_cpu_features *f = onyx_cpu();
  memset(out, 0, sizeof *out);
  memcpy(out->cpu_brand, f->brand, sizeof out->cpu_brand);
  out->cpu_brand[sizeof out->cpu_brand - 1] = 0;
  out->cores = onyx_available_cores();
  out->numa_nodes = numa_nodes();
  out->l1d_kb = cache_kb("1", "Data");
  out->l2_kb = cache_kb("2", "Unified");
  out->l3_kb = cache_kb("3", "Unified");
  out->avx2 = f->avx2;
  out->fma = f->fma;
  out->f16c = f->f16c;
  out->avx512f = f->avx512f;
  out->avx512bw = f->avx512bw;
  out->avx512_vnni = f->avx512_vnni;
  out->avx512_bf16 = f->avx512_bf16;
  out->avx512_fp16 = f->avx512_fp16;
  out->avx_vnni = f->avx_vnni;
  out->amx_tile = f->amx_tile;
  out->amx_int8 = f->amx_int8;
  out->amx_bf16 = f->amx_bf16;
}

