/* cmd_info.c — `onyx info`: the machine as onyx sees it (CPU, cores, NUMA
 * nodes and their CPUs, caches, ISA features in use), the providers compiled
 * in and those usable here, and the library versions: what a benchmark
 * report needs beside its numbers, and what --affinity / --numa-node can
 * use. */
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

int cmd_info(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: onyx info [--json]\n  CPU, cores, NUMA nodes (their CPUs; whether libnuma is there\n"
             "  for --numa-node), caches, ISA features, providers (compiled in,\n"
             "  usable here) and library versions.\n");
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
    printf("]},\"providers\":\"%s\",\"compiled_providers\":\"%s\",\"libraries\":\"%s\"}\n",
           onyx_available_providers(), onyx_compiled_providers(), onyx_library_versions());
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
  printf("libraries:  %s\n", onyx_library_versions());
  return 0;
}
