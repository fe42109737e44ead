/* test_simdev.c — the device framework on the simulated device of
 * tests/simdev: mixed simdev+cpu graphs compute what cpu alone does (also
 * with slow, asynchronous kernels and inside If branches that read device
 * values), copies are the planned ones and no more, shape inputs stay on
 * the host, I/O binding avoids copies and allocations, profiling takes
 * device times, run options cancel, device memory exhausted while planning
 * falls back, a device lost at run N is survived by 8 concurrent threads,
 * set_providers is safe during runs, and host code touching device memory
 * faults. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "exec/session_internal.h"
#include "opt_builder.h"
#include "simdev.h"
#include "test_util.h"

#define IN 8
#define OUT 8

/* x[2,8] -> MatMul(w) -> Add(b) -> Relu -> r ; Sigmoid(r) -> s (cpu: simdev
 * has no Sigmoid) ; Mul(r, s) -> m -> Reshape(m, [4,4]) -> y. */
static onyx_model *mixed_model(void) {
  gb b = gb_new(13);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, (int64_t[]){2, IN});
  gb_const_rand(&b, "w", 2, (int64_t[]){IN, OUT}, 7, 0.5f, 0);
  gb_const_rand(&b, "bias", 1, (int64_t[]){OUT}, 8, 0.5f, 0);
  gb_i64(&b, "shape", 2, (int64_t[]){4, 4});
  gb_node(&b, "MatMul", "x,w", "mm");
  gb_node(&b, "Add", "mm,bias", "a");
  gb_node(&b, "Relu", "a", "r");
  gb_node(&b, "Sigmoid", "r", "s");
  gb_node(&b, "Mul", "r,s", "m");
  gb_node(&b, "Reshape", "m,shape", "y");
  gb_output(&b, "y");
  return b.m;
}

/* y = Relu(x + w) * w2, all on simdev. */
static onyx_model *device_model(void) {
  gb b = gb_new(13);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, (int64_t[]){4, 16});
  gb_const_rand(&b, "w", 2, (int64_t[]){4, 16}, 3, 1, 0);
  gb_const_rand(&b, "w2", 2, (int64_t[]){4, 16}, 4, 1, 0);
  gb_node(&b, "Add", "x,w", "a");
  gb_node(&b, "Relu", "a", "r");
  gb_node(&b, "Mul", "r,w2", "y");
  gb_output(&b, "y");
  return b.m;
}

/* r = Relu(x) on simdev; If(c): r + r (simdev, inside the branch) else
 * r * r: the branches read r from the enclosing graph. */
static onyx_model *if_model(void) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  int x, c, r, y;
  onyx_graph_value(g, "x", &x);
  onyx_graph_value(g, "c", &c);
  onyx_graph_value(g, "r", &r);
  onyx_graph_value(g, "y", &y);
  g->values[x].dtype = ONYX_DTYPE_FLOAT;
  g->values[x].rank = 1;
  g->values[x].dims[0] = 6;
  g->values[c].dtype = ONYX_DTYPE_BOOL;
  g->values[c].rank = 0;
  onyx_graph_set_inputs(g, 2, (int[]){x, c});
  onyx_graph_add_node(g, "relu", "Relu", "", 1, &x, 1, &r, NULL);
  onyx_graph_add_node(g, "if", "If", "", 1, &c, 1, &y, NULL);
  onyx_graph_set_outputs(g, 1, &y);
  const char *ops[2] = {"Add", "Mul"}, *attrs[2] = {"then_branch", "else_branch"};
  for (int k = 0; k < 2; k++) {
    onyx_graph *br;
    onyx_graph_new(m, g, &br);
    int in, out;
    onyx_graph_value(br, "r", &in);
    br->values[in].is_outer = true;   /* as the loader marks names the branch does not define */
    onyx_graph_value(br, k ? "e" : "t", &out);
    br->values[out].dtype = ONYX_DTYPE_FLOAT;
    br->values[out].rank = 1;
    br->values[out].dims[0] = 6;
    onyx_graph_add_node(br, k ? "mul" : "add", ops[k], "", 2, (int[]){in, in}, 1, &out, NULL);
    onyx_graph_set_outputs(br, 1, &out);
    tu_set(&g->nodes[1], attrs[k], ONYX_ATTR_GRAPH)->g = br;
  }
  return m;
}

static onyx_session *session(onyx_model *m, onyx_provider *sim, const char *list, int level, bool profile) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 1);
  onyx_options_set_optimization_level(o, level);
  onyx_options_enable_profiling(o, profile);
  if (sim) CHECK_OK(onyx_options_add_provider(o, sim));
  CHECK_OK(onyx_options_set_providers(o, list));
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(m, o, &s));
  onyx_options_destroy(o);
  return s;
}

static onyx_tensor *rand_input(int rank, const int64_t *dims, unsigned seed) {
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, dims, &t);
  tu_fill_random(onyx_tensor_data(t), (size_t)onyx_tensor_numel(t), seed);
  return t;
}

/* Runs s on x ("x" only, or with bool c) and returns output 0 (NULL on error, code in *code). */
static onyx_tensor *run1(onyx_session *s, onyx_tensor *x, onyx_tensor *c, int *code) {
  const char *names[2] = {"x", "c"};
  onyx_tensor *in[2] = {x, c}, *y = NULL;
  onyx_status *st = onyx_session_run(s, c ? 2 : 1, names, in, 1, NULL, &y);
  if (code) *code = onyx_status_code(st);
  else if (st) fprintf(stderr, "run: %s\n", onyx_status_message(st));
  onyx_status_free(st);
  return y;
}

static bool same(const onyx_tensor *a, const onyx_tensor *b) {
  return a && b && a->nbytes == b->nbytes && a->rank == b->rank && !memcmp(a->dims, b->dims, (size_t)a->rank * 8) &&
         !strcmp(onyx_tensor_device(a), "cpu") && !memcmp(a->data, b->data, a->nbytes);
}

/* The mixed model on simdev,cpu and on cpu alone, one input and the cpu
 * session's output for it. */
typedef struct fixture {
  onyx_provider *sim;
  onyx_session *cpu, *s;
  onyx_tensor *x, *ref;
} fixture;

/* fail_alloc_at > 0 fails that device allocation while the session is made. */
static fixture fixture_new(int delay_us, int fail_alloc_at, bool profile, unsigned seed) {
  fixture f = {0};
  CHECK_OK(simdev_create(64, &f.sim));
  simdev_set_kernel_delay(f.sim, delay_us);
  simdev_fail_alloc_at(f.sim, fail_alloc_at);
  f.cpu = session(mixed_model(), NULL, "cpu", 0, false);
  f.s = session(mixed_model(), f.sim, "simdev,cpu", 0, profile);
  f.x = rand_input(2, (int64_t[]){2, IN}, seed);
  f.ref = run1(f.cpu, f.x, NULL, NULL);
  return f;
}

static void fixture_free(fixture *f) {
  onyx_tensor_free(f->x);
  onyx_tensor_free(f->ref);
  onyx_session_destroy(f->cpu);
  onyx_session_destroy(f->s);
  simdev_destroy(f->sim);
}

static int count_on(onyx_session *s, const char *prov) {
  int n = 0;
  for (int i = 0; i < onyx_session_node_count(s); i++) {
    onyx_node_info ni;
    if (!onyx_session_node_info(s, i, &ni) && !strcmp(ni.provider, prov)) n++;
  }
  return n;
}

/* mixed graphs: same outputs as cpu, planned copies only, shape on host */
static void test_mixed(void) {
  fixture f = fixture_new(0, 0, true, 11);
  onyx_provider *sim = f.sim;
  onyx_session *s = f.s;
  onyx_tensor *x = f.x, *ref = f.ref;
  CHECK(count_on(s, "simdev") == 5 && count_on(s, "cpu") == 1);
  /* copies: x in, r out (to Sigmoid), s in (to Mul); w and bias once; the
   * shape stays on the host; y goes out when delivered */
  CHECK(onyx_session_copy_count(s) == 5);
  const char *want[5][3] = {{"x", "cpu", "simdev:0"}, {"r", "simdev:0", "cpu"}, {"s", "cpu", "simdev:0"},
                            {"w", "cpu", "simdev:0"}, {"bias", "cpu", "simdev:0"}};
  int64_t bytes[5] = {2 * IN * 4, 2 * OUT * 4, 2 * OUT * 4, IN * OUT * 4, OUT * 4};
  for (int i = 0; i < 5; i++) {
    onyx_copy_info ci;
    CHECK_OK(onyx_session_copy_info(s, i, &ci));
    bool ok = !strcmp(ci.value, want[i][0]) && !strcmp(ci.from, want[i][1]) && !strcmp(ci.to, want[i][2]) &&
              ci.bytes == bytes[i];
    if (!ok) fprintf(stderr, "copy %d: %s %s -> %s %lld bytes\n", i, ci.value, ci.from, ci.to, (long long)ci.bytes);
    CHECK(ok);
  }
  simdev_counts c0, c1;
  for (int delay = 0; delay <= 300; delay += 300) {
    simdev_set_kernel_delay(sim, delay);   /* slow kernels: a missing sync reads stale data */
    simdev_get_counts(sim, &c0);
    onyx_tensor *y = run1(s, x, NULL, NULL);
    simdev_get_counts(sim, &c1);
    CHECK(same(y, ref));
    CHECK(c1.kernels - c0.kernels == 4);        /* MatMul, Add, Relu, Mul (Reshape copies on device) */
    CHECK(c1.copies_in - c0.copies_in == 2);    /* x, s */
    CHECK(c1.copies_out - c0.copies_out == 2);  /* r, and y delivered to the host */
    CHECK(c1.copies_on - c0.copies_on == 1);    /* Reshape */
    onyx_tensor_free(y);
  }
  /* profiling: simdev steps timed on the device */
  int dev_events = 0;
  for (int64_t i = 0; i < onyx_session_profile_count(s); i++) {
    onyx_profile_entry e;
    CHECK_OK(onyx_session_profile_get(s, i, &e));
    if (!strcmp(e.provider, "simdev")) dev_events += e.device && e.dur_ns >= 0;
    else CHECK(!e.device);
  }
  CHECK(dev_events == 2 * 5);
  /* level 3: the optimizer leaves simdev's nodes alone; same numbers */
  onyx_session *s3 = session(mixed_model(), sim, "simdev,cpu", 3, false);
  onyx_tensor *y3 = run1(s3, x, NULL, NULL);
  CHECK(y3 && ref && fabs(onyx_tensor_get_f64(y3, 5) - onyx_tensor_get_f64(ref, 5)) < 1e-6);
  onyx_tensor_free(y3);
  onyx_session_destroy(s3);
  /* run options: a terminate flag cancels, the session stays usable */
  onyx_run_options *ro;
  CHECK_OK(onyx_run_options_create(&ro));
  CHECK_OK(onyx_run_options_set_tag(ro, "cancelled-run"));
  onyx_run_options_set_terminate(ro, 1);
  const char *nm = "x";
  onyx_tensor *yc = NULL;
  CHECK_ERR(onyx_session_run_with_options(s, ro, 1, &nm, &x, 1, NULL, &yc), ONYX_ERR_CANCELLED);
  onyx_run_options_set_terminate(ro, 0);
  CHECK_OK(onyx_session_run_with_options(s, ro, 1, &nm, &x, 1, NULL, &yc));
  CHECK(same(yc, ref));
  onyx_tensor_free(yc);
  onyx_run_options_destroy(ro);
  onyx_memory_info mi;
  CHECK_OK(onyx_session_memory_info(s, 1, &mi));
  CHECK(!strcmp(mi.device, "simdev:0") && mi.peak > 0);
  fixture_free(&f);
}

/* If branches on simdev reading a value the device made in the parent */
static void test_if(void) {
  onyx_provider *sim;
  CHECK_OK(simdev_create(64, &sim));
  simdev_set_kernel_delay(sim, 200);
  onyx_session *cpu = session(if_model(), NULL, "cpu", 0, false);
  onyx_session *s = session(if_model(), sim, "simdev,cpu", 0, false);
  CHECK(count_on(s, "simdev") == 1);
  onyx_tensor *x = rand_input(1, (int64_t[]){6}, 5), *c;
  onyx_tensor_create(ONYX_DTYPE_BOOL, 0, NULL, &c);
  for (int k = 0; k < 2; k++) {
    *(uint8_t *)onyx_tensor_data(c) = (uint8_t)k;
    simdev_counts c0, c1;
    simdev_get_counts(sim, &c0);
    onyx_tensor *ref = run1(cpu, x, c, NULL), *y = run1(s, x, c, NULL);
    simdev_get_counts(sim, &c1);
    CHECK(same(y, ref));
    CHECK(c1.kernels - c0.kernels == 2);   /* Relu, and the branch's Add or Mul */
    onyx_tensor_free(ref);
    onyx_tensor_free(y);
  }
  onyx_tensor_free(x);
  onyx_tensor_free(c);
  onyx_session_destroy(cpu);
  onyx_session_destroy(s);
  simdev_destroy(sim);
}

/* I/O binding: no copies for device-bound inputs and outputs, no
 * allocations over 100 runs */
static void test_binding(void) {
  onyx_provider *sim;
  CHECK_OK(simdev_create(64, &sim));
  onyx_session *cpu = session(device_model(), NULL, "cpu", 0, false);
  onyx_session *s = session(device_model(), sim, "simdev,cpu", 0, false);
  CHECK(count_on(s, "simdev") == 3);
  int64_t dims[2] = {4, 16};
  onyx_tensor *xh = rand_input(2, dims, 9), *xd, *ref = run1(cpu, xh, NULL, NULL);
  CHECK_OK(onyx_session_tensor_create(s, "simdev:0", ONYX_DTYPE_FLOAT, 2, dims, &xd));
  CHECK(!strcmp(onyx_tensor_device(xd), "simdev:0"));
  CHECK_OK(onyx_tensor_copy(xd, xh));
  CHECK_ERR(onyx_session_tensor_create(s, "cuda:0", ONYX_DTYPE_FLOAT, 2, dims, &xd), ONYX_ERR_INVALID_ARGUMENT);
  onyx_io_binding *b;
  CHECK_OK(onyx_io_binding_create(s, &b));
  CHECK_ERR(onyx_session_run_with_binding(s, NULL, b), ONYX_ERR_INVALID_ARGUMENT);   /* nothing bound */
  CHECK_OK(onyx_io_binding_bind_input(b, "x", xd));
  CHECK_ERR(onyx_io_binding_bind_input(b, "nope", xd), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_OK(onyx_io_binding_bind_output_to_device(b, "y", "simdev:0"));
  /* warm-up: the first run plans the arena, the second takes it */
  for (int i = 0; i < 3; i++) CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  onyx_tensor *yd = onyx_io_binding_output(b, 0);
  CHECK(yd && !strcmp(onyx_tensor_device(yd), "simdev:0") && !strcmp(onyx_io_binding_output_name(b, 0), "y"));
  simdev_counts c0, c1;
  simdev_get_counts(sim, &c0);
  int64_t host0 = onyx_alloc_count();
  for (int i = 0; i < 100; i++) CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  int64_t host_allocs = onyx_alloc_count() - host0;
  simdev_get_counts(sim, &c1);
  CHECK(onyx_io_binding_output(b, 0) == yd);       /* kept and rewritten, not reallocated */
  CHECK(c1.copies_in == c0.copies_in && c1.copies_out == c0.copies_out && c1.copies_on == c0.copies_on);
  CHECK(c1.allocs == c0.allocs);
  CHECK(c1.kernels - c0.kernels == 300);
  if (host_allocs) fprintf(stderr, "bound runs made %lld host allocations\n", (long long)host_allocs);
  CHECK(host_allocs == 0);
  onyx_tensor *y;
  CHECK_OK(onyx_session_tensor_create(s, "cpu", ONYX_DTYPE_FLOAT, 2, dims, &y));
  CHECK_OK(onyx_tensor_copy(y, yd));
  CHECK(same(y, ref));
  /* a caller's device tensor as the output: the last kernel writes into it */
  onyx_tensor *ud;
  CHECK_OK(onyx_session_tensor_create(s, "simdev:0", ONYX_DTYPE_FLOAT, 2, dims, &ud));
  CHECK_OK(onyx_io_binding_bind_output(b, "y", ud));
  CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  simdev_get_counts(sim, &c0);
  CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  simdev_get_counts(sim, &c1);
  CHECK(c1.copies_on == c0.copies_on && c1.copies_out == c0.copies_out && onyx_io_binding_output(b, 0) == ud);
  memset(onyx_tensor_data(y), 0, onyx_tensor_nbytes(y));
  CHECK_OK(onyx_tensor_copy(y, ud));
  CHECK(same(y, ref));
  /* a host output: one copy out per run, none in */
  CHECK_OK(onyx_io_binding_bind_output_to_device(b, "y", "cpu"));
  CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  simdev_get_counts(sim, &c0);
  CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  simdev_get_counts(sim, &c1);
  CHECK(c1.copies_in == c0.copies_in && c1.copies_out - c0.copies_out == 1);
  CHECK(same(onyx_io_binding_output(b, 0), ref));
  /* a host input to a device graph: copied in */
  onyx_io_binding_clear_inputs(b);
  CHECK_ERR(onyx_session_run_with_binding(s, NULL, b), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_OK(onyx_io_binding_bind_input(b, "x", xh));
  simdev_get_counts(sim, &c0);
  CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  simdev_get_counts(sim, &c1);
  CHECK(c1.copies_in - c0.copies_in == 1 && same(onyx_io_binding_output(b, 0), ref));
  /* a caller's output of the wrong shape: an error naming it */
  onyx_tensor *bad;
  CHECK_OK(onyx_session_tensor_create(s, "cpu", ONYX_DTYPE_FLOAT, 1, (int64_t[]){3}, &bad));
  CHECK_OK(onyx_io_binding_bind_output(b, "y", bad));
  CHECK_ERR_MSG(onyx_session_run_with_binding(s, NULL, b), ONYX_ERR_INVALID_ARGUMENT, "output 'y'");
  onyx_io_binding_clear_outputs(b);
  onyx_io_binding_destroy(b);
  onyx_tensor_free(bad);
  onyx_tensor_free(ud);
  onyx_tensor_free(y);
  onyx_tensor_free(xd);
  onyx_tensor_free(xh);
  onyx_tensor_free(ref);
  onyx_session_destroy(cpu);
  onyx_session_destroy(s);
  simdev_destroy(sim);
}

/* device memory exhausted while planning: the nodes reading the weights
 * that did not fit fall back to cpu, with the reason recorded */
static void test_plan_oom(void) {
  fixture f = fixture_new(0, 2, false, 12);   /* w fits, bias does not */
  onyx_session *s = f.s;
  onyx_node_info ni;
  CHECK_OK(onyx_session_node_info(s, 1, &ni));   /* Add(mm, bias) */
  CHECK(!strcmp(ni.op_type, "Add") && !strcmp(ni.provider, "cpu") && ni.fallback_reason &&
        strstr(ni.fallback_reason, "copying initializer 'bias' to simdev:0 failed"));
  CHECK(count_on(s, "simdev") == 4);
  char line[512];
  CHECK(onyx_session_fallback_count(s) == 1 && !onyx_session_fallback_entry(s, 0, line, sizeof line) &&
        strstr(line, "bias"));
  onyx_tensor *y = run1(s, f.x, NULL, NULL);
  CHECK(same(y, f.ref));
  onyx_tensor_free(y);
  /* device memory exhausted during a run: that run fails, the next works */
  simdev_fail_alloc_at(f.sim, 1);
  int code = 0;
  y = run1(s, f.x, NULL, &code);
  CHECK(!y && code == ONYX_ERR_OUT_OF_MEMORY);
  y = run1(s, f.x, NULL, NULL);
  CHECK(same(y, f.ref));
  onyx_tensor_free(y);
  fixture_free(&f);
}

/* ---- a device lost while 8 threads run --------------------------------------------- */

typedef struct worker_arg {
  onyx_session *s;
  const onyx_tensor *x, *ref;
  int runs;
  atomic_int *ok, *lost, *bad;
} worker_arg;

static void *worker(void *p) {
  worker_arg *a = p;
  for (int i = 0; i < a->runs; i++) {
    bool replanned = onyx_session_fallback_count(a->s) > 0;
    int code = 0;
    onyx_tensor *y = run1(a->s, (onyx_tensor *)a->x, NULL, &code);
    if (y && same(y, a->ref)) atomic_fetch_add(a->ok, 1);
    else if (!y && code == ONYX_ERR_DEVICE && !replanned) atomic_fetch_add(a->lost, 1);
    else atomic_fetch_add(a->bad, 1);   /* wrong numbers, another error, or a failure after the re-plan */
    onyx_tensor_free(y);
  }
  return NULL;
}

static void test_device_lost(void) {
  fixture f = fixture_new(50, 0, false, 13);
  simdev_lose_device_at(f.sim, 4 * 20);   /* about the 20th run: 4 kernels each */
  atomic_int ok = 0, lost = 0, bad = 0;
  pthread_t th[8];
  worker_arg wa = {f.s, f.x, f.ref, 25, &ok, &lost, &bad};
  for (int t = 0; t < 8; t++) pthread_create(&th[t], NULL, worker, &wa);
  for (int t = 0; t < 8; t++) pthread_join(th[t], NULL);
  fprintf(stderr, "device lost: %d runs ok, %d lost with the device, %d wrong\n", ok, lost, bad);
  CHECK(lost >= 1 && bad == 0 && ok + lost == 8 * 25);
  CHECK(count_on(f.s, "simdev") == 0);
  char line[512];
  CHECK(onyx_session_fallback_count(f.s) == 1 && !onyx_session_fallback_entry(f.s, 0, line, sizeof line) &&
        strstr(line, "provider simdev lost its device"));
  onyx_tensor *y = run1(f.s, f.x, NULL, NULL);
  CHECK(same(y, f.ref));
  onyx_tensor_free(y);
  fixture_free(&f);
}

/* set_providers while 4 threads run: each run uses the plan it started with */
static void test_switch_under_load(void) {
  fixture f = fixture_new(20, 0, false, 14);
  atomic_int ok = 0, lost = 0, bad = 0;
  pthread_t th[4];
  worker_arg wa = {f.s, f.x, f.ref, 30, &ok, &lost, &bad};
  for (int t = 0; t < 4; t++) pthread_create(&th[t], NULL, worker, &wa);
  for (int i = 0; i < 10; i++) CHECK_OK(onyx_session_set_providers(f.s, i % 2 ? "simdev,cpu" : "cpu"));
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  CHECK(ok == 4 * 30 && lost == 0 && bad == 0);
  fixture_free(&f);
}

/* host code reading device memory faults: what makes the tests above able
 * to catch a missing copy */
static void on_segv(int sig) {
  (void)sig;
  _exit(42);
}

static void test_host_touch_faults(void) {
  onyx_provider *sim;
  CHECK_OK(simdev_create(16, &sim));
  onyx_session *s = session(device_model(), sim, "simdev,cpu", 0, false);
  onyx_tensor *d;
  CHECK_OK(onyx_session_tensor_create(s, "simdev:0", ONYX_DTYPE_FLOAT, 1, (int64_t[]){4}, &d));
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, on_segv);
    volatile float v = ((volatile float *)onyx_tensor_data(d))[0];
    (void)v;
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
  /* the device's own view of the same memory reads fine (zero-filled) */
  CHECK(((float *)simdev_view(sim, onyx_tensor_data(d)))[0] == 0.0f);
  onyx_tensor_free(d);
  onyx_session_destroy(s);
  simdev_destroy(sim);
}

int main(void) {
  test_mixed();
  test_if();
  test_binding();
  test_plan_oom();
  test_device_lost();
  test_switch_under_load();
  test_host_touch_faults();
  return tu_done("test_simdev");
}
