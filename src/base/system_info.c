/* system_info.c — machine facts for `onyx info` and reports: cpu features
 * (from cpu_features.c), cores, NUMA nodes and their CPUs and cache sizes
 * (from sysfs, else from cpuid: some VMs have no sysfs cache entries). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "affinity.h"
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

#define MAX_NODES 1024

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The node numbers sysfs lists, ascending, into ids[0..MAX_NODES); returns
 * how many (0 without NUMA information). */
static int numa_node_ids(int *ids) {
  DIR *d = opendir("/sys/devices/system/node");
  if (!d) return 0;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_NODES;) {
    char *end;
    if (strncmp(e->d_name, "node", 4) || e->d_name[4] < '0' || e->d_name[4] > '9') continue;
    long id = strtol(e->d_name + 4, &end, 10);
    if (!*end && id < MAX_NODES) ids[n++] = (int)id;
  }
  closedir(d);
  qsort(ids, (size_t)n, sizeof *ids, cmp_int);
  return n;
}

static int numa_nodes(void) {
  int ids[MAX_NODES], n = numa_node_ids(ids);
  return n ? n : 1;
}

onyx_status *onyx_system_numa_node(int i, onyx_numa_node_info *out) {
  int ids[MAX_NODES], n = numa_node_ids(ids);
  if (i < 0 || i >= n)
    return onyx_error(ONYX_ERR_NOT_FOUND, "NUMA node index %d: sysfs lists %d node%s", i, n, n == 1 ? "" : "s");
  cpu_set_t cpus;
  ONYX_TRY(onyx_numa_node_cpus(ids[i], &cpus));
  out->id = ids[i];
  out->n_cpus = CPU_COUNT(&cpus);
  onyx_cpulist_format(&cpus, out->cpus, sizeof out->cpus);
  return NULL;
}

int onyx_numa_available(void) { return onyx_numa_lib_available(); }

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
  if (!out->l1d_kb || !out->l2_kb || !out->l3_kb) {
    onyx_cpu_caches c;
    onyx_cpu_caches_detect(&c);
    if (!out->l1d_kb) out->l1d_kb = c.l1d_kb;
    if (!out->l2_kb) out->l2_kb = c.l2_kb;
    if (!out->l3_kb) out->l3_kb = c.l3_kb;
  }
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

