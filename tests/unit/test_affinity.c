/* test_affinity.c — thread placement options: CPU affinity specs and NUMA
 * binding (base/affinity.h through the session options).
 *
 * A fake provider "probe" runs an Identity node whose kernel spreads an
 * onyx_parallel_for over the session's threads and records, in each worker,
 * the CPUs the thread may run on (sched_getaffinity) and its memory policy
 * (get_mempolicy), so the checks see what the kernels really run under;
 * before that it opens a smaller OpenMP region, as oneDNN does, so OpenMP
 * ends workers and the probe's region must place the ones it restarts. The
 * pinning checks need two usable CPUs and the NUMA checks a node0 in sysfs;
 * the memory-policy check needs libnuma. What cannot run here is reported
 * as "skipped" on stdout. */
#include <linux/mempolicy.h>
#include <omp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/affinity.h"
#include "base/parallel.h"
#include "exec/session_internal.h"
#include "test_util.h"

#define MAX_T 256   /* more than the threads of any machine the tests run on */

/* What each worker of the last probe run saw. */
static struct {
  int nthreads;
  cpu_set_t cpus[MAX_T];
  int mode[MAX_T];
  unsigned long nodes[MAX_T][16];
} seen;

static void probe_range(void *arg, size_t b, size_t e, int tid) {
  (void)arg;
  (void)b;
  (void)e;
  if (tid >= MAX_T) return;
  sched_getaffinity(0, sizeof seen.cpus[tid], &seen.cpus[tid]);
  if (syscall(SYS_get_mempolicy, &seen.mode[tid], seen.nodes[tid], 8 * sizeof seen.nodes[tid], NULL, 0))
    seen.mode[tid] = -1;
  /* workers race here: an atomic max, so a late small tid cannot lower it */
  int cur = __atomic_load_n(&seen.nthreads, __ATOMIC_RELAXED);
  while (tid + 1 > cur &&
         !__atomic_compare_exchange_n(&seen.nthreads, &cur, tid + 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

static void nothing(void *arg, size_t b, size_t e, int tid) {
  (void)arg;
  (void)b;
  (void)e;
  (void)tid;
}

/* A smaller OpenMP region first, as a oneDNN primitive with little work
 * makes: libgomp then ends the surplus threads, and onyx's full region
 * starts new ones, which it must place. */
static onyx_status *probe_run(onyx_kernel_ctx *c) {
  int half = (c->pool->nthreads + 1) / 2;
#pragma omp parallel num_threads(half)
  nothing(NULL, 0, 0, omp_get_thread_num());
  memset(&seen, 0, sizeof seen);
  onyx_parallel_for(c->pool, (size_t)c->pool->nthreads, 1, probe_range, NULL);
  memcpy(c->out[0]->data, c->in[0]->data, onyx_tensor_nbytes(c->in[0]));
  return NULL;
}

static const onyx_kernel probe_kernel = {.op = 0, .run = probe_run};

static onyx_status *probe_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  (void)n;
  return NULL;
}

static const onyx_kernel *probe_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  (void)n;
  return &probe_kernel;
}

static const onyx_provider_iface probe_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION, .supports = probe_supports, .kernel_for = probe_kernel_for};
static onyx_provider probe = {.iface = &probe_iface, .name = "probe"};

#define PROBE_N (1 << 20)   /* 4 MiB: the output gets pages of its own */

static onyx_model *identity_model(void) {
  tu_node t = tu_node_new("Identity", 13, 1, 1);
  int64_t d = PROBE_N;
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 1, &d);
  return t.m;
}

/* A probe session with these placement options; NULL on failure (the
 * status goes to *err when err is given, else fails a check). */
static onyx_session *probe_session(int threads, const char *cfg_key, const char *spec, int numa_node,
                                   onyx_status **err) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  onyx_options_set_optimization_level(o, 0);
  CHECK_OK(onyx_options_add_provider(o, &probe));
  CHECK_OK(onyx_options_set_providers(o, "probe"));
  if (spec) CHECK_OK(onyx_options_set_config(o, cfg_key, spec));
  CHECK_OK(onyx_options_set_numa_node(o, numa_node));
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_model(identity_model(), o, &s);
  onyx_options_destroy(o);
  if (err) *err = st;
  else CHECK_OK(st);
  return s;
}

/* Runs the probe session once; y (may be NULL) receives the output. */
static void probe_once(onyx_session *s, onyx_tensor **y) {
  int64_t d = PROBE_N;
  onyx_tensor *x = tu_f32(1, &d, NULL), *out = NULL;
  float *px = onyx_tensor_data(x);
  for (int i = 0; i < PROBE_N; i++) px[i] = (float)i;
  const char *nm = "x0";
  CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &out));
  CHECK(out && ((float *)onyx_tensor_data(out))[PROBE_N - 1] == (float)(PROBE_N - 1));
  onyx_tensor_free(x);
  if (y) *y = out;
  else onyx_tensor_free(out);
}

static bool only_cpu(const cpu_set_t *set, int cpu) { return CPU_COUNT(set) == 1 && CPU_ISSET(cpu, set); }

/* The first two CPUs this thread may use; false when there are fewer. */
static bool two_cpus(int *c0, int *c1) {
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  int k = 0;
  for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
    if (CPU_ISSET(c, &set)) *(k++ ? c1 : c0) = c;
  return k == 2;
}

static void test_specs(void) {
  onyx_options *o;
  onyx_options_create(&o);
  CHECK_OK(onyx_options_set_thread_affinity(o, "none"));
  CHECK_OK(onyx_options_set_thread_affinity(o, "compact"));
  CHECK_OK(onyx_options_set_thread_affinity(o, "scatter"));
  CHECK_OK(onyx_options_set_thread_affinity(o, "0;1"));
  CHECK_OK(onyx_options_set_thread_affinity(o, "0-3,8;4-7"));
  const char *bad[] = {"garbage", "0;;1", "3-1", "0,", "1;", "-1", "0;x", "4096", "compact;0", ""};
  for (size_t i = 0; i + 1 < sizeof bad / sizeof *bad; i++) {
    onyx_status *s = onyx_options_set_thread_affinity(o, bad[i]);
    CHECK(onyx_status_code(s) == ONYX_ERR_INVALID_ARGUMENT);
    if (onyx_status_code(s) != ONYX_ERR_INVALID_ARGUMENT) fprintf(stderr, "spec '%s' accepted\n", bad[i]);
    CHECK(strstr(onyx_status_message(s), "affinity") != NULL);
    onyx_status_free(s);
  }
  onyx_status *s = onyx_options_set_thread_affinity(o, "garbage");
  CHECK(strstr(onyx_status_message(s), "'garbage'") != NULL);
  onyx_status_free(s);
  CHECK_OK(onyx_options_set_thread_affinity(o, ""));   /* "" is "none" */
  /* ORT's form counts CPUs from 1 */
  CHECK_ERR(onyx_options_set_config(o, "session.intra_op_thread_affinities", "0"), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_OK(onyx_options_set_config(o, "session.intra_op_thread_affinities", "1;2-3"));
  CHECK_ERR(onyx_options_set_config(o, "session.no_such_key", "1"), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_ERR(onyx_options_set_config(o, "session.numa_node", "x"), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_ERR(onyx_options_set_numa_node(o, -2), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_OK(onyx_options_set_config(o, "session.numa_node", "-1"));
  onyx_options_destroy(o);

  /* cpulists round-trip */
  cpu_set_t set;
  char buf[64];
  CHECK_OK(onyx_cpulist_parse("0-2,5,7-8", 9, &set));
  onyx_cpulist_format(&set, buf, sizeof buf);
  CHECK(!strcmp(buf, "0-2,5,7-8"));
  CHECK(CPU_COUNT(&set) == 6);
}

static void test_pinning(void) {
  int c0, c1;
  if (!two_cpus(&c0, &c1)) {
    printf("test_affinity: pinning checks skipped: fewer than 2 usable CPUs\n");
    return;
  }
  cpu_set_t before, after;
  sched_getaffinity(0, sizeof before, &before);
  char list[32], rev[32];
  snprintf(list, sizeof list, "%d;%d", c0, c1);
  snprintf(rev, sizeof rev, "%d;%d", c1, c0);

  /* an explicit list sets the thread count; each thread sees one CPU */
  onyx_session *a = probe_session(0, "session.thread_affinity", list, -1, NULL);
  onyx_session *b = probe_session(2, "session.thread_affinity", rev, -1, NULL);
  if (a && b) {
    probe_once(a, NULL);
    CHECK(seen.nthreads == 2);
    CHECK(only_cpu(&seen.cpus[0], c0));
    CHECK(only_cpu(&seen.cpus[1], c1));
    /* another session on the same caller thread re-places the team */
    probe_once(b, NULL);
    CHECK(only_cpu(&seen.cpus[0], c1));
    CHECK(only_cpu(&seen.cpus[1], c0));
    probe_once(a, NULL);
    CHECK(only_cpu(&seen.cpus[0], c0));
    CHECK(only_cpu(&seen.cpus[1], c1));
  }
  onyx_session_destroy(a);
  onyx_session_destroy(b);
  /* the caller's own placement is put back after each call */
  sched_getaffinity(0, sizeof after, &after);
  CHECK(CPU_EQUAL(&before, &after));

  /* four threads on two CPUs: the threads OpenMP starts anew get placed too */
  char four[64];
  snprintf(four, sizeof four, "%d;%d;%d;%d", c0, c1, c1, c0);
  a = probe_session(0, "session.thread_affinity", four, -1, NULL);
  if (a) {
    probe_once(a, NULL);
    CHECK(seen.nthreads == 4);
    CHECK(only_cpu(&seen.cpus[0], c0) && only_cpu(&seen.cpus[1], c1));
    CHECK(only_cpu(&seen.cpus[2], c1) && only_cpu(&seen.cpus[3], c0));
  }
  onyx_session_destroy(a);

  /* compact with two threads: one CPU each, the first two usable */
  onyx_session *s = probe_session(2, "session.thread_affinity", "compact", -1, NULL);
  if (s) {
    probe_once(s, NULL);
    CHECK(seen.nthreads == 2 && only_cpu(&seen.cpus[0], c0) && only_cpu(&seen.cpus[1], c1));
  }
  onyx_session_destroy(s);

  /* ORT's form: the caller thread keeps its CPUs, thread 1 gets the group */
  char ort[16];
  snprintf(ort, sizeof ort, "%d", c1 + 1);
  s = probe_session(0, "session.intra_op_thread_affinities", ort, -1, NULL);
  if (s) {
    probe_once(s, NULL);
    CHECK(seen.nthreads == 2);
    CHECK(CPU_EQUAL(&seen.cpus[0], &before));
    CHECK(only_cpu(&seen.cpus[1], c1));
  }
  onyx_session_destroy(s);

  /* a CPU this process may not use, a count that disagrees */
  onyx_status *err = NULL;
  char off[32];
  int missing = CPU_SETSIZE - 1;
  while (missing > 0 && CPU_ISSET(missing, &before)) missing--;
  snprintf(off, sizeof off, "%d;%d", c0, missing);
  s = probe_session(0, "session.thread_affinity", off, -1, &err);
  CHECK(!s && onyx_status_code(err) == ONYX_ERR_INVALID_ARGUMENT);
  snprintf(off, sizeof off, "cpu %d", missing);
  CHECK(strstr(onyx_status_message(err), off) != NULL);
  onyx_status_free(err);
  s = probe_session(3, "session.thread_affinity", list, -1, &err);
  CHECK(!s && onyx_status_code(err) == ONYX_ERR_INVALID_ARGUMENT);
  CHECK(strstr(onyx_status_message(err), "3 intra-op threads") != NULL);
  onyx_status_free(err);
}

/* A MatMul on the cpu kernels at 2 threads, with and without pinning: the
 * same numbers bit for bit (placement must not change the work split). */
static onyx_tensor *matmul(const char *affinity) {
  tu_node t = tu_node_new("MatMul", 13, 2, 1);
  int64_t da[2] = {96, 128}, db[2] = {128, 80};
  float *a = malloc(96 * 128 * sizeof *a), *b = malloc(128 * 80 * sizeof *b);
  tu_fill_random(a, 96 * 128, 1);
  tu_fill_random(b, 128 * 80, 2);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, da);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 2, db, b);
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 2);
  onyx_options_set_providers(o, "cpu");
  CHECK_OK(onyx_options_set_thread_affinity(o, affinity));
  onyx_session *s = NULL;
  onyx_tensor *x = tu_f32(2, da, a), *y = NULL;
  CHECK_OK(onyx_session_create_from_model(t.m, o, &s));
  const char *nm = "x0";
  if (s) CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
  onyx_session_destroy(s);
  onyx_options_destroy(o);
  onyx_tensor_free(x);
  free(a);
  free(b);
  return y;
}

static void test_results_unchanged(void) {
  int c0, c1;
  if (!two_cpus(&c0, &c1)) return;
  char rev[32];
  snprintf(rev, sizeof rev, "%d;%d", c1, c0);
  onyx_tensor *ref = matmul("none"), *p1 = matmul("compact"), *p2 = matmul(rev);
  CHECK(ref && p1 && p2);
  if (ref && p1 && p2) {
    CHECK(!memcmp(onyx_tensor_data(ref), onyx_tensor_data(p1), onyx_tensor_nbytes(ref)));
    CHECK(!memcmp(onyx_tensor_data(ref), onyx_tensor_data(p2), onyx_tensor_nbytes(ref)));
  }
  onyx_tensor_free(ref);
  onyx_tensor_free(p1);
  onyx_tensor_free(p2);
}

static void test_numa(void) {
  cpu_set_t node0;
  onyx_status *st = onyx_numa_node_cpus(0, &node0);
  if (st) {
    printf("test_affinity: NUMA checks skipped: %s\n", onyx_status_message(st));
    onyx_status_free(st);
    return;
  }
  onyx_status *err = NULL;
  onyx_session *s = probe_session(0, NULL, NULL, 0, &err);
  if (!onyx_numa_lib_available()) {
    CHECK(!s && onyx_status_code(err) == ONYX_ERR_NOT_FOUND && strstr(onyx_status_message(err), "libnuma"));
    onyx_status_free(err);
    printf("test_affinity: NUMA memory binding checks skipped: libnuma.so.1 is not installed\n");
    return;
  }
  CHECK_OK(err);
  int mode_before = -1;
  unsigned long nodes_before[16];
  syscall(SYS_get_mempolicy, &mode_before, nodes_before, 8 * sizeof nodes_before, NULL, 0);
  if (s) {
    onyx_tensor *y = NULL;
    probe_once(s, &y);
    cpu_set_t usable;
    sched_getaffinity(0, sizeof usable, &usable);
    CPU_AND(&usable, &usable, &node0);
    CHECK(seen.nthreads == CPU_COUNT(&usable));   /* 0 threads: one per CPU of the node */
    for (int t = 0; t < seen.nthreads && t < MAX_T; t++) {
      CHECK(CPU_EQUAL(&seen.cpus[t], &usable));     /* restricted to the node, not pinned */
      CHECK(seen.mode[t] == MPOL_PREFERRED && seen.nodes[t][0] == 1);
    }
    /* the output was allocated during the run: its pages are on node 0 */
    int node = -1;
    CHECK(y && syscall(SYS_get_mempolicy, &node, NULL, 0, onyx_tensor_data(y), MPOL_F_NODE | MPOL_F_ADDR) == 0);
    CHECK(node == 0);
    onyx_tensor_free(y);
    /* the caller's memory policy is put back */
    int mode_after = -2;
    syscall(SYS_get_mempolicy, &mode_after, NULL, 0, NULL, 0);
    CHECK(mode_after == mode_before);
  }
  onyx_session_destroy(s);
  /* with an affinity: pinned within the node */
  int c0, c1;
  if (CPU_COUNT(&node0) >= 2 && two_cpus(&c0, &c1) && CPU_ISSET(c0, &node0) && CPU_ISSET(c1, &node0)) {
    s = probe_session(2, "session.thread_affinity", "compact", 0, NULL);
    if (s) {
      probe_once(s, NULL);
      CHECK(only_cpu(&seen.cpus[0], c0) && only_cpu(&seen.cpus[1], c1));
      CHECK(seen.mode[1] == MPOL_PREFERRED);
    }
    onyx_session_destroy(s);
  }
  /* a node that does not exist */
  s = probe_session(0, NULL, NULL, 999, &err);
  CHECK(!s && onyx_status_code(err) == ONYX_ERR_INVALID_ARGUMENT && strstr(onyx_status_message(err), "999"));
  onyx_status_free(err);
}

int main(void) {
  test_specs();
  test_pinning();
  test_results_unchanged();
  test_numa();
  return tu_done("test_affinity");
}
