/* affinity.c — CPU pinning and NUMA binding of the intra-op threads: spec
 * parsing, placement orders from the sysfs topology, libnuma loaded on
 * demand, and applying a placement to the caller and its OpenMP team (see
 * affinity.h for why it works this way). */
#include "affinity.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "log.h"

#define NODE_BITS (8 * sizeof ((onyx_placement_scope *)0)->nodes)

/* ---- cpulists ------------------------------------------------------------------ */

static bool read_num(const char **p, const char *end, long *v) {
  if (*p == end || !isdigit((unsigned char)**p)) return false;
  long x = 0;
  for (; *p < end && isdigit((unsigned char)**p); ++*p) x = x < 1000000 ? x * 10 + (**p - '0') : x;
  *v = x;
  return true;
}

onyx_status *onyx_cpulist_parse(const char *s, size_t len, cpu_set_t *out) {
  const char *p = s, *end = s + len;
  CPU_ZERO(out);
  if (p == end) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "empty CPU list");
  while (p < end) {
    long a, b;
    if (!read_num(&p, end, &a))
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%.*s' is not a CPU list (numbers and ranges, e.g. 0,2-3)",
                        (int)len, s);
    b = a;
    if (p < end && *p == '-') {
      p++;
      if (!read_num(&p, end, &b))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%.*s': a range needs an end, e.g. 2-3", (int)len, s);
    }
    if (b < a) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%.*s': range %ld-%ld is backwards", (int)len, s, a, b);
    if (b >= CPU_SETSIZE)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%.*s': cpu %ld is out of range (at most %d)", (int)len, s, b,
                        CPU_SETSIZE - 1);
    for (long c = a; c <= b; c++) CPU_SET((int)c, out);
    if (p < end && (*p != ',' || ++p == end))
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%.*s' is not a CPU list (numbers and ranges, e.g. 0,2-3)",
                        (int)len, s);
  }
  return NULL;
}

void onyx_cpulist_format(const cpu_set_t *set, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, set)) continue;
    int e = c;
    while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set)) e++;
    char item[32];
    if (e > c) snprintf(item, sizeof item, "%s%d-%d", n ? "," : "", c, e);
    else snprintf(item, sizeof item, "%s%d", n ? "," : "", c);
    if (n + strlen(item) + 4 > cap) {
      if (n + 4 <= cap) strcpy(buf + n, "...");
      return;
    }
    strcpy(buf + n, item);
    n += strlen(item);
    c = e;
  }
}

onyx_status *onyx_numa_node_cpus(int node, cpu_set_t *out) {
  char path[96], buf[4096];
  snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", node);
  FILE *f = node >= 0 ? fopen(path, "r") : NULL;
  if (!f) return onyx_error(ONYX_ERR_NOT_FOUND, "NUMA node %d does not exist (no %s)", node, path);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  while (n && isspace((unsigned char)buf[n - 1])) n--;
  CPU_ZERO(out);
  return n ? onyx_cpulist_parse(buf, n, out) : NULL;   /* empty: a node of memory only */
}

/* ---- libnuma, loaded on first use ---------------------------------------------- */

static struct {
  bool ok;
  int (*max_node)(void);
  long (*get_mempolicy)(int *mode, unsigned long *nodes, unsigned long maxnode, void *addr, unsigned flags);
  long (*set_mempolicy)(int mode, const unsigned long *nodes, unsigned long maxnode);
} numa;
static pthread_once_t numa_once = PTHREAD_ONCE_INIT;

static void numa_load(void) {
  void *h = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  int (*available)(void);
  /* dlsym returns data pointers; POSIX guarantees they convert */
  *(void **)&available = dlsym(h, "numa_available");
  *(void **)&numa.max_node = dlsym(h, "numa_max_node");
  *(void **)&numa.get_mempolicy = dlsym(h, "get_mempolicy");
  *(void **)&numa.set_mempolicy = dlsym(h, "set_mempolicy");
  numa.ok = available && numa.max_node && numa.get_mempolicy && numa.set_mempolicy && available() >= 0;
  if (!numa.ok) dlclose(h);   /* otherwise kept for the life of the process */
}

bool onyx_numa_lib_available(void) {
  pthread_once(&numa_once, numa_load);
  return numa.ok;
}

/* ---- placement orders ------------------------------------------------------------ */

typedef struct cpu_pos {
  int cpu, pkg, core, smt, core_rank;
} cpu_pos;

static int read_topology(int cpu, const char *what, int dflt) {
  char path[128];
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, what);
  FILE *f = fopen(path, "r");
  int v;
  if (!f) return dflt;
  if (fscanf(f, "%d", &v) != 1) v = dflt;
  fclose(f);
  return v;
}

/* compact: fill a core's hardware threads, then the next core, package by
 * package. scatter: one thread per core, alternating packages, before any
 * core gets a second. */
static int cmp_compact(const void *x, const void *y) {
  const cpu_pos *a = x, *b = y;
  if (a->pkg != b->pkg) return a->pkg - b->pkg;
  if (a->core_rank != b->core_rank) return a->core_rank - b->core_rank;
  if (a->smt != b->smt) return a->smt - b->smt;
  return a->cpu - b->cpu;
}

static int cmp_scatter(const void *x, const void *y) {
  const cpu_pos *a = x, *b = y;
  if (a->smt != b->smt) return a->smt - b->smt;
  if (a->core_rank != b->core_rank) return a->core_rank - b->core_rank;
  if (a->pkg != b->pkg) return a->pkg - b->pkg;
  return a->cpu - b->cpu;
}

/* The CPUs of `usable` in placement order; *n receives their count. */
static cpu_pos *placement_order(const cpu_set_t *usable, bool scatter, int *n) {
  int cnt = CPU_COUNT(usable), k = 0;
  cpu_pos *pos = onyx_calloc((size_t)cnt + 1, sizeof *pos);
  if (!pos) return NULL;
  for (int c = 0; c < CPU_SETSIZE && k < cnt; c++)
    if (CPU_ISSET(c, usable))
      pos[k++] = (cpu_pos){c, read_topology(c, "physical_package_id", 0), read_topology(c, "core_id", c), 0, 0};
  for (int i = 0; i < cnt; i++)
    for (int j = 0; j < cnt; j++)
      if (pos[j].pkg == pos[i].pkg && pos[j].core == pos[i].core && pos[j].cpu < pos[i].cpu) pos[i].smt++;
  for (int i = 0; i < cnt; i++)
    for (int j = 0; j < cnt; j++)
      if (pos[j].pkg == pos[i].pkg && pos[j].smt == 0 && pos[j].core < pos[i].core) pos[i].core_rank++;
  qsort(pos, (size_t)cnt, sizeof *pos, scatter ? cmp_scatter : cmp_compact);
  *n = cnt;
  return pos;
}

/* ---- specs ------------------------------------------------------------------------ */

typedef enum { AFF_NONE, AFF_COMPACT, AFF_SCATTER, AFF_LIST } aff_mode;

static aff_mode spec_mode(const char *spec, bool ort_form) {
  if (!spec || !*spec || (!ort_form && !strcmp(spec, "none"))) return AFF_NONE;
  if (!ort_form && !strcmp(spec, "compact")) return AFF_COMPACT;
  if (!ort_form && !strcmp(spec, "scatter")) return AFF_SCATTER;
  return AFF_LIST;
}

/* Parses the ';'-separated groups of a list into sets[0..cap) (sets may be
 * NULL to count only); *n receives the number of groups. ORT's numbers
 * count from 1 and are shifted to Linux's. */
static onyx_status *parse_groups(const char *spec, bool ort_form, cpu_set_t *sets, int cap, int *n) {
  int k = 0;
  for (const char *g = spec;; k++) {
    const char *semi = strchr(g, ';');
    size_t len = semi ? (size_t)(semi - g) : strlen(g);
    cpu_set_t set;
    onyx_status *s = onyx_cpulist_parse(g, len, &set);
    if (!s && ort_form && CPU_ISSET(0, &set))
      s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cpu 0 in '%.*s' (ORT's processor numbers count from 1)", (int)len, g);
    if (s)
      return onyx_error_wrap(s, "affinity '%s' (expected none, compact, scatter or CPU groups like 0;1 or 0-3;4-7)",
                             spec);
    if (sets && k < cap) {
      CPU_ZERO(&sets[k]);
      for (int c = ort_form ? 1 : 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) CPU_SET(ort_form ? c - 1 : c, &sets[k]);
    }
    if (!semi) break;
    g = semi + 1;
  }
  *n = k + 1;
  return NULL;
}

onyx_status *onyx_affinity_check(const char *spec, bool ort_form) {
  int n;
  return spec_mode(spec, ort_form) == AFF_LIST ? parse_groups(spec, ort_form, NULL, 0, &n) : NULL;
}

/* ---- placements ------------------------------------------------------------------------ */

static _Atomic uint64_t next_binding_id = 1;

/* The CPUs the placement may use: this thread's, restricted to the node. */
static onyx_status *usable_cpus(int numa_node, cpu_set_t *usable) {
  if (sched_getaffinity(0, sizeof *usable, usable))
    return onyx_error(ONYX_ERR_RUNTIME, "cannot read the CPU affinity of this thread: %s", strerror(errno));
  if (numa_node < 0) return NULL;
  if (!onyx_numa_lib_available())
    return onyx_error(ONYX_ERR_NOT_FOUND, "NUMA node %d: placement to a NUMA node needs libnuma (libnuma.so.1, "
                      "Debian package libnuma1), which could not be loaded", numa_node);
  int max = numa.max_node();
  if (numa_node > max || numa_node >= (int)NODE_BITS)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "NUMA node %d does not exist (the highest node here is %d)",
                      numa_node, max);
  cpu_set_t node;
  onyx_status *s = onyx_numa_node_cpus(numa_node, &node);
  if (s) {
    onyx_status_free(s);
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "NUMA node %d does not exist (not in /sys/devices/system/node)",
                      numa_node);
  }
  char have[256];
  onyx_cpulist_format(usable, have, sizeof have);
  CPU_AND(usable, usable, &node);
  if (!CPU_COUNT(usable))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "NUMA node %d has no CPU this process may run on (it may use %s)",
                      numa_node, have);
  return NULL;
}

onyx_status *onyx_placement_init(onyx_placement *b, const char *spec, bool ort_form, int numa_node, int *nthreads) {
  memset(b, 0, sizeof *b);
  b->numa_node = -1;
  aff_mode mode = spec_mode(spec, ort_form);
  if (mode == AFF_NONE && numa_node < 0) return NULL;
  int groups = 0;
  if (mode == AFF_LIST) ONYX_TRY(parse_groups(spec, ort_form, NULL, 0, &groups));
  cpu_set_t usable;
  ONYX_TRY(usable_cpus(numa_node, &usable));
  int want = *nthreads, n = want ? want : CPU_COUNT(&usable);
  if (mode == AFF_LIST) {
    n = groups + (ort_form ? 1 : 0);
    if (want && want != n)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "affinity '%s' lists %d CPU group%s, for %d thread%s%s, but the "
                        "session is set to %d intra-op thread%s", spec, groups, groups == 1 ? "" : "s", n,
                        n == 1 ? "" : "s", ort_form ? " (the caller thread has none in ORT's form)" : "", want,
                        want == 1 ? "" : "s");
  }
  b->cpus = onyx_calloc((size_t)n, sizeof *b->cpus);
  if (!b->cpus) return onyx_error_oom();
  onyx_status *s = NULL;
  char have[256];
  onyx_cpulist_format(&usable, have, sizeof have);
  if (mode == AFF_NONE) {
    for (int t = 0; t < n; t++) b->cpus[t] = usable;
  } else if (mode == AFF_LIST) {
    int off = ort_form ? 1 : 0;
    b->cpus[0] = usable;
    s = parse_groups(spec, ort_form, b->cpus + off, groups, &groups);
    for (int t = off; t < n && !s; t++) {
      cpu_set_t extra;
      CPU_XOR(&extra, &b->cpus[t], &usable);
      CPU_AND(&extra, &extra, &b->cpus[t]);
      for (int c = 0; c < CPU_SETSIZE && !s; c++)
        if (CPU_ISSET(c, &extra))
          s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "affinity '%s': cpu %d (thread %d) is not one this process may "
                         "run on%s (usable: %s)", spec, c, t, numa_node >= 0 ? " on its NUMA node" : "", have);
    }
  } else {
    int cnt;
    cpu_pos *order = placement_order(&usable, mode == AFF_SCATTER, &cnt);
    if (!order) {
      s = onyx_error_oom();
    } else {
      if (n > cnt)
        onyx_log(ONYX_LOG_WARNING, "affinity %s: %d threads on %d CPUs (%s); some share a CPU", spec, n, cnt, have);
      for (int t = 0; t < n; t++) {
        CPU_ZERO(&b->cpus[t]);
        CPU_SET(order[t % cnt].cpu, &b->cpus[t]);
      }
      onyx_free(order);
    }
  }
  if (s) {
    onyx_placement_deinit(b);
    return s;
  }
  b->nthreads = n;
  b->numa_node = numa_node;
  b->pin_caller = !ort_form;
  b->id = atomic_fetch_add(&next_binding_id, 1);
  *nthreads = n;
  return NULL;
}

void onyx_placement_deinit(onyx_placement *b) {
  onyx_free(b->cpus);
  memset(b, 0, sizeof *b);
  b->numa_node = -1;
}

/* Places the calling thread: CPUs (NULL: left alone) and preferred node
 * (-1: left alone). Returns 0 or an errno. */
static int place_self(const cpu_set_t *cpus, int node) {
  int e;
  if (cpus && (e = pthread_setaffinity_np(pthread_self(), sizeof *cpus, cpus))) return e;
  if (node >= 0) {
    unsigned long mask[sizeof ((onyx_placement_scope *)0)->nodes / sizeof(unsigned long)] = {0};
    mask[node / (8 * sizeof *mask)] |= 1UL << (node % (8 * sizeof *mask));
    if (numa.set_mempolicy(MPOL_PREFERRED, mask, NODE_BITS + 1)) return errno;
  }
  return 0;
}

/* What this thread was last placed as: placement id and team thread number. */
static _Thread_local uint64_t placed_id;
static _Thread_local int placed_tid;
/* The placement this thread is inside, for onyx_parallel_for. */
static _Thread_local const onyx_placement *current;

const onyx_placement *onyx_placement_current(void) { return current; }

int onyx_placement_place_worker(const onyx_placement *b, int tid) {
  if (!b->cpus || tid <= 0 || tid >= b->nthreads || (placed_id == b->id && placed_tid == tid)) return 0;
  int e = place_self(&b->cpus[tid], b->numa_node);
  if (!e) {
    placed_id = b->id;
    placed_tid = tid;
  }
  return e;
}

onyx_status *onyx_placement_enter(const onyx_placement *b, onyx_placement_scope *sc) {
  sc->active = sc->cpus_saved = sc->policy_saved = false;
  if (!b->cpus) return NULL;
  if (b->pin_caller && pthread_getaffinity_np(pthread_self(), sizeof sc->cpus, &sc->cpus) == 0)
    sc->cpus_saved = true;
  if (b->numa_node >= 0 && numa.get_mempolicy(&sc->mode, sc->nodes, NODE_BITS, NULL, 0) == 0)
    sc->policy_saved = true;
  if ((b->pin_caller && !sc->cpus_saved) || (b->numa_node >= 0 && !sc->policy_saved)) {
    onyx_placement_leave(sc);
    return onyx_error(ONYX_ERR_RUNTIME, "cannot read the placement of the calling thread");
  }
  int err = place_self(b->pin_caller ? &b->cpus[0] : NULL, b->numa_node), err_tid = 0;
#ifdef _OPENMP
  /* every call: OpenMP may have ended and restarted workers since (see
   * affinity.h); the threads already placed only compare their tag */
  if (!err && b->nthreads > 1 && !omp_in_parallel()) {
    _Atomic int first_err = 0, first_tid = 0;
#pragma omp parallel num_threads(b->nthreads)
    {
      int t = omp_get_thread_num(), e = onyx_placement_place_worker(b, t), none = 0;
      if (e && atomic_compare_exchange_strong(&first_err, &none, e)) first_tid = t;
    }
    err = first_err;
    err_tid = first_tid;
  }
#endif
  if (err) {
    onyx_placement_leave(sc);
    char cpus[128];
    onyx_cpulist_format(&b->cpus[err_tid], cpus, sizeof cpus);
    return onyx_error(ONYX_ERR_RUNTIME, "cannot place intra-op thread %d on cpus %s%s: %s", err_tid, cpus,
                      b->numa_node >= 0 ? " and its NUMA node" : "", strerror(err));
  }
  sc->outer = current;
  sc->active = true;
  current = b;
  return NULL;
}

void onyx_placement_leave(onyx_placement_scope *sc) {
  if (sc->active) current = sc->outer;
  if (sc->cpus_saved) pthread_setaffinity_np(pthread_self(), sizeof sc->cpus, &sc->cpus);
  if (sc->policy_saved) numa.set_mempolicy(sc->mode, sc->nodes, NODE_BITS + 1);
  sc->active = sc->cpus_saved = sc->policy_saved = false;
}
