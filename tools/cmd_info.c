/* cmd_info.c — `onyx info`: the machine as onyx sees it (CPU, cores, NUMA
 * nodes and their CPUs, caches, ISA features in use), the providers compiled
 * in, those usable here and why the others are not, the GPUs (name, SMs,
 * memory, compute capability, CUDA versions), and the library versions:
 * what a benchmark report needs beside its numbers, and what --affinity /
 * --numa-node / device_id can use. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* NUMA nodes as sysfs lists them: a JSON array, or "node0 cpus 0-3 (4), ...". */
static void print_numa(int json, int n_nodes) {
  int shown = 0;
  for (int i = 0; i < n_nodes; i++) {
    onyx_numa_node_info ni;
    onyx_status *s = onyx_system_numa_node(i, &ni);
    if (s) {   /* no sysfs NUMA information: nothing to list */
      onyx_status_free(s);
      break;
    }
    if (json) printf("%s{\"id\":%d,\"cpus\":\"%s\",\"n_cpus\":%d}", shown ? "," : "", ni.id, ni.cpus, ni.n_cpus);
    else printf("%snode%d cpus %s (%d)", shown ? ", " : "", ni.id, ni.n_cpus ? ni.cpus : "none", ni.n_cpus);
    shown++;
  }
  if (!json && !shown) printf("no node information in /sys/devices/system/node");
}

/* Each provider compiled in but not usable here, and why. */
static void print_unusable(int json) {
  char list[256];
  snprintf(list, sizeof list, "%s", onyx_compiled_providers());
  int k = 0;
  for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
    const char *why = onyx_provider_unusable_reason(p);
    if (!why) continue;
    if (json) {
      printf("%s", k++ ? "," : "");
      cli_json_string(stdout, p);
      printf(":");
      cli_json_string(stdout, why);
    } else {
      printf("%-11s %s\n", p, why);
    }
  }
}

/* The GPUs the cuda provider sees. */
static void print_gpus(int json) {
  int n = onyx_gpu_count();
  for (int i = 0; i < n; i++) {
    onyx_gpu_info g;
    onyx_status *st = onyx_gpu_info_get(i, &g);
    if (st) {
      onyx_status_free(st);
      continue;
    }
    if (json) {
      printf("%s{\"index\":%d,\"name\":", i ? "," : "", g.index);
      cli_json_string(stdout, g.name);
      printf(",\"sm_count\":%d,\"compute_capability\":\"%d.%d\",\"memory_bytes\":%lld,\"free_bytes\":%lld,"
             "\"driver\":%d,\"runtime\":%d,\"cublas\":%d,\"cudnn\":%d,\"usable\":",
             g.sm_count, g.cc_major, g.cc_minor, (long long)g.total_memory, (long long)g.free_memory,
             g.driver_version, g.runtime_version, g.cublas_version, g.cudnn_version);
      if (g.usable[0]) cli_json_string(stdout, g.usable);
      else printf("true");
      printf("}");
    } else {
      printf("gpu %d:      %s, %d SMs, compute %d.%d, %.1f GiB (%.1f free); CUDA driver %d.%d, runtime %d.%d, "
             "cuBLASLt %d%s%s\n",
             g.index, g.name, g.sm_count, g.cc_major, g.cc_minor, (double)g.total_memory / (1 << 30),
             (double)g.free_memory / (1 << 30), g.driver_version / 1000, g.driver_version % 1000 / 10,
             g.runtime_version / 1000, g.runtime_version % 1000 / 10, g.cublas_version,
             g.usable[0] ? "; not usable: " : "", g.usable);
    }
  }
}

int cmd_info(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: onyx info [--json]\n  CPU, cores, NUMA nodes (their CPUs; whether libnuma is there\n"
             "  for --numa-node), caches, ISA features, providers (compiled in,\n"
             "  usable here, why not), GPUs and library versions.\n");
      return 0;
    } else {
      return cli_usage_error("unknown argument '%s' (see onyx info --help)", argv[i]);
    }
  }
  onyx_system_info si;
  onyx_system_info_get(&si);
  struct { const char *name; int on; } isa[] = {
      {"avx2", si.avx2}, {"fma", si.fma}, {"f16c", si.f16c}, {"avx512f", si.avx512f},
      {"avx512bw", si.avx512bw}, {"avx512_vnni", si.avx512_vnni}, {"avx512_bf16", si.avx512_bf16},
      {"avx512_fp16", si.avx512_fp16}, {"avx_vnni", si.avx_vnni}, {"amx_tile", si.amx_tile},
      {"amx_int8", si.amx_int8}, {"amx_bf16", si.amx_bf16}};
  size_t n_isa = sizeof isa / sizeof isa[0];
  if (json) {
    printf("{\"version\":\"%s\",\"cpu\":\"%s\",\"cores\":%d,\"numa_nodes\":%d,"
           "\"cache_kb\":{\"l1d\":%d,\"l2\":%d,\"l3\":%d},\"isa\":{",
           ONYX_VERSION_STRING, si.cpu_brand, si.cores, si.numa_nodes, si.l1d_kb, si.l2_kb, si.l3_kb);
    for (size_t i = 0; i < n_isa; i++) printf("%s\"%s\":%s", i ? "," : "", isa[i].name, isa[i].on ? "true" : "false");
    printf("},\"numa\":{\"libnuma\":%s,\"nodes\":[", onyx_numa_available() ? "true" : "false");
    print_numa(1, si.numa_nodes);
    printf("]},\"providers\":\"%s\",\"compiled_providers\":\"%s\",\"unusable_providers\":{",
           onyx_available_providers(), onyx_compiled_providers());
    print_unusable(1);
    printf("},\"gpus\":[");
    print_gpus(1);
    printf("],\"libraries\":\"%s\"}\n", onyx_library_versions());
    return 0;
  }
  printf("onyx %s\n", ONYX_VERSION_STRING);
  printf("cpu:        %s\n", si.cpu_brand[0] ? si.cpu_brand : "(unknown)");
  printf("cores:      %d usable, %d NUMA node%s\n", si.cores, si.numa_nodes, si.numa_nodes == 1 ? "" : "s");
  printf("numa:       ");
  print_numa(0, si.numa_nodes);
  printf("; libnuma %s\n", onyx_numa_available() ? "found" : "not found (--numa-node needs libnuma1)");
  printf("caches:     L1d %d KiB, L2 %d KiB, L3 %d KiB\n", si.l1d_kb, si.l2_kb, si.l3_kb);
  printf("isa:       ");
  int any = 0;
  for (size_t i = 0; i < n_isa; i++)
    if (isa[i].on) printf(" %s", isa[i].name), any = 1;
  printf("%s\n", any ? "" : " (scalar only)");
  printf("providers:  %s (usable here; compiled in: %s)\n", onyx_available_providers(),
         onyx_compiled_providers());
  print_unusable(0);
  print_gpus(0);
  printf("libraries:  %s\n", onyx_library_versions());
  return 0;
}
