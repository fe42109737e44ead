/* conformance.c — runs ONNX's backend node tests against onyx.
 *
 * For each <node-dir>/test_* folder (sorted): load model.onnx, create a
 * session, and for every test_data_set_* feed input_*.pb, run, and compare
 * with output_*.pb (rtol 1e-3, atol 1e-7 as ONNX's runner: |a-b| <= atol +
 * rtol*|b|, NaN equals NaN; integers, bools and strings exactly; sequences
 * and optionals element by element; uint16 data standing for bfloat16 is read
 * as bfloat16, see retag). A test is SKIPPED when onyx answers
 * ONYX_ERR_NOT_IMPLEMENTED (an op, dtype or attribute it does not claim) and
 * FAILED on any other error or mismatch. A checked-in list of expected
 * failures (`test_name  # reason`) keeps known gaps visible without failing
 * the run; one that starts passing is reported as XPASS.
 *
 * So that the suite cannot weaken silently, skips are checked too: with
 * --expected-skips, a skip that the list does not name, or whose message
 * no longer contains the listed reason, fails the run (a kernel that starts
 * refusing a dtype turns red); --min-pass N fails a run that passes fewer
 * tests (say, test data that lost cases), and --min-placed N one where fewer
 * passing tests ran nodes off cpu (a provider that stopped taking nodes).
 *
 * Each test runs in a forked child (unless --no-fork), so a crash, hang or
 * sanitizer report in one kernel fails that test only and the rest still
 * run. The child reports its verdict through a pipe.
 *
 * --providers LIST runs every session on that provider list (e.g.
 * "dnnl,cpu"); passing tests then say how many of their nodes ran on a
 * provider other than cpu, so a provider's coverage of the suite shows.
 * "simdev" in the list is the simulated device of tests/simdev (a session
 * makes its own), so mixed device+cpu graphs are checked against the
 * suite's expected outputs. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/half.h"
#include "base/tensor.h"
#include "exec/session_internal.h"
#include "ir/ir.h"
#include "onyx.h"
#include "simdev.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_IO 64

typedef enum { R_PASS, R_FAIL, R_SKIP } verdict;

typedef struct options {
  const char *dir;
  const char *xfail_path, *xskip_path;
  int min_pass, min_placed;   /* 0: not checked */
  const char *filters[64];
  int n_filters;
  int threads;
  int timeout;
  const char *providers;   /* NULL: the library's default list */
  bool verbose, list_skips, fork, round_trip;
} options;

/* ---- helpers ------------------------------------------------------------------ */

/* snprintf for messages and paths where truncation is acceptable. */
__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, n, f, ap);
  va_end(ap);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of entries of `dir` starting with `prefix` (directories only
 * if want_dir). Returns the count; *out is malloc'd (free with free_list). */
static int list_dir(const char *dir, const char *prefix, bool want_dir, char ***out) {
  DIR *d = opendir(dir);
  *out = NULL;
  if (!d) return -1;
  int n = 0, cap = 0;
  char **v = NULL;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
    char path[4096];
    struct stat st;
    fmt(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) || (want_dir && !S_ISDIR(st.st_mode))) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
  *out = v;
  return n;
}

static void free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* ---- comparison ------------------------------------------------------------------ */

static bool close_enough(double got, double exp) {
  if (got != got || exp != exp) return got != got && exp != exp;
  if (got == exp) return true;
  return fabs(got - exp) <= ATOL + RTOL * fabs(exp);
}

static double elem_f(const onyx_tensor *t, int64_t i) {
  switch (t->dtype) {
    case ONYX_DTYPE_COMPLEX64: return ((const float *)t->data)[i];
    case ONYX_DTYPE_COMPLEX128: return ((const double *)t->data)[i];
    default: return onyx_tensor_get_f64(t, i);
  }
}

static bool is_float(onyx_dtype d) {
  return d == ONYX_DTYPE_FLOAT || d == ONYX_DTYPE_DOUBLE || d == ONYX_DTYPE_FLOAT16 ||
         d == ONYX_DTYPE_BFLOAT16 || d == ONYX_DTYPE_COMPLEX64 || d == ONYX_DTYPE_COMPLEX128;
}

/* Compares got against exp; on mismatch writes why. */
static bool compare(const onyx_tensor *got, const onyx_tensor *exp, const char *label, char *why,
                    size_t wn) {
  if (!got) {
    fmt(why, wn, "%s: no value", label);
    return false;
  }
  bool got_c = got->kind != ONYX_KIND_TENSOR, exp_c = exp->kind != ONYX_KIND_TENSOR;
  if (got_c != exp_c || (got->kind != exp->kind && exp->n_elems > 1)) {
    fmt(why, wn, "%s: got a value of kind %d, expected kind %d", label, (int)got->kind, (int)exp->kind);
    return false;
  }
  if (exp_c) {
    if (got->n_elems != exp->n_elems) {
      fmt(why, wn, "%s: got %d elements, expected %d", label, got->n_elems, exp->n_elems);
      return false;
    }
    for (int i = 0; i < exp->n_elems; i++) {
      char sub[256];
      fmt(sub, sizeof sub, "%s[%d]", label, i);
      if (!compare(got->elems[i], exp->elems[i], sub, why, wn)) return false;
    }
    return true;
  }
  char a[256], b[256];
  if (got->dtype != exp->dtype) {
    fmt(why, wn, "%s: got dtype %s, expected %s", label, onyx_dtype_name(got->dtype),
             onyx_dtype_name(exp->dtype));
    return false;
  }
  if (got->rank != exp->rank || memcmp(got->dims, exp->dims, (size_t)exp->rank * sizeof *exp->dims)) {
    fmt(why, wn, "%s: got shape %s, expected %s", label, onyx_shape_str(got->rank, got->dims, a, sizeof a),
             onyx_shape_str(exp->rank, exp->dims, b, sizeof b));
    return false;
  }
  int64_t n = onyx_numel(exp->rank, exp->dims);
  if (n && (!got->data || !exp->data)) {
    fmt(why, wn, "%s: missing data", label);
    return false;
  }
  if (exp->dtype == ONYX_DTYPE_STRING) {
    char *const *gs = got->data, *const *es = exp->data;
    for (int64_t i = 0; i < n; i++)
      if (strcmp(gs[i] ? gs[i] : "", es[i] ? es[i] : "")) {
        fmt(why, wn, "%s element %lld: got '%.80s', expected '%.80s'", label, (long long)i,
                 gs[i] ? gs[i] : "", es[i] ? es[i] : "");
        return false;
      }
    return true;
  }
  if (is_float(exp->dtype)) {
    int64_t m = exp->dtype == ONYX_DTYPE_COMPLEX64 || exp->dtype == ONYX_DTYPE_COMPLEX128 ? 2 * n : n;
    for (int64_t i = 0; i < m; i++) {
      double g = elem_f(got, i), e = elem_f(exp, i);
      if (!close_enough(g, e)) {
        fmt(why, wn, "%s element %lld: got %.9g, expected %.9g", label, (long long)i, g, e);
        return false;
      }
    }
    return true;
  }
  size_t es = onyx_dtype_size(exp->dtype);
  if (!es) return memcmp(got->data, exp->data, exp->nbytes) == 0 ||
                (fmt(why, wn, "%s: packed data differs", label), false);
  for (int64_t i = 0; i < n; i++) {
    const char *gp = (const char *)got->data + i * (int64_t)es, *ep = (const char *)exp->data + i * (int64_t)es;
    bool same = exp->dtype == ONYX_DTYPE_BOOL ? (*gp != 0) == (*ep != 0) : !memcmp(gp, ep, es);
    if (!same) {
      if (exp->dtype == ONYX_DTYPE_UINT64)
        fmt(why, wn, "%s element %lld: got %llu, expected %llu", label, (long long)i,
                 (unsigned long long)((const uint64_t *)got->data)[i],
                 (unsigned long long)((const uint64_t *)exp->data)[i]);
      else
        fmt(why, wn, "%s element %lld: got %lld, expected %lld", label, (long long)i,
                 (long long)onyx_tensor_get_i64(got, i), (long long)onyx_tensor_get_i64(exp, i));
      return false;
    }
  }
  return true;
}

/* ---- one test ---------------------------------------------------------------------- */

/* Turns a status into a verdict: NOT_IMPLEMENTED skips, anything else fails. */
static verdict status_verdict(onyx_status *s, const char *what, char *why, size_t wn) {
  verdict v = onyx_status_code(s) == ONYX_ERR_NOT_IMPLEMENTED ? R_SKIP : R_FAIL;
  fmt(why, wn, "%s: %s: %s", what, onyx_code_name(onyx_status_code(s)), onyx_status_message(s));
  onyx_status_free(s);
  return v;
}

/* The .pb encoding cannot tell a one-element sequence from an optional; the
 * model's declared kind decides. And ONNX 1.12's test data stores bfloat16
 * tensors (Cast/CastLike tests) as uint16 holding the same bits, so a uint16
 * tensor where the model declares bfloat16 is reinterpreted; the bits are
 * unchanged, so an input reaches onyx exactly as the test meant it and an
 * expected output is compared as the bfloat16 values it stands for. */
static void retag(onyx_tensor *t, onyx_kind want, onyx_dtype want_dtype) {
  if (t->kind != ONYX_KIND_TENSOR && want != ONYX_KIND_TENSOR && t->n_elems <= 1) t->kind = want;
  if (t->kind == ONYX_KIND_TENSOR && t->dtype == ONYX_DTYPE_UINT16 && want_dtype == ONYX_DTYPE_BFLOAT16)
    t->dtype = ONYX_DTYPE_BFLOAT16;
}

static verdict run_data_set(onyx_session *sess, const char *ds, const onyx_kind *in_kind,
                            const onyx_kind *out_kind, const onyx_dtype *in_dtype,
                            const onyx_dtype *out_dtype, const options *o, char *why, size_t wn) {
  int n_in = onyx_session_input_count(sess), n_out = onyx_session_output_count(sess);
  onyx_tensor *in[MAX_IO] = {0}, *exp[MAX_IO] = {0}, *got[MAX_IO] = {0};
  const char *names[MAX_IO];
  char *pb_names[MAX_IO] = {0};
  int n_in_files = 0, n_out_files = 0;
  verdict v = R_PASS;
  onyx_status *s;
  char path[4096];
  if (n_in > MAX_IO || n_out > MAX_IO) {
    fmt(why, wn, "more than %d inputs or outputs", MAX_IO);
    return R_FAIL;
  }
  for (; n_in_files < MAX_IO; n_in_files++) {
    fmt(path, sizeof path, "%s/input_%d.pb", ds, n_in_files);
    if (!file_exists(path)) break;
    if (n_in_files >= n_in) {
      fmt(why, wn, "data set has more inputs than the model's %d", n_in);
      v = R_FAIL;
      goto done;
    }
    if ((s = onyx_tensor_load_pb(path, &in[n_in_files], &pb_names[n_in_files]))) {
      v = status_verdict(s, path, why, wn);
      goto done;
    }
  }
  for (; n_out_files < n_out; n_out_files++) {
    fmt(path, sizeof path, "%s/output_%d.pb", ds, n_out_files);
    if (!file_exists(path)) break;
    if ((s = onyx_tensor_load_pb(path, &exp[n_out_files], NULL))) {
      v = status_verdict(s, path, why, wn);
      goto done;
    }
    retag(exp[n_out_files], out_kind[n_out_files], out_dtype[n_out_files]);
  }
  /* Bind by the proto's name when it names a model input, else by position. */
  for (int i = 0; i < n_in_files; i++) {
    onyx_value_info info;
    onyx_session_input_info(sess, i, &info);
    names[i] = info.name;
    onyx_kind k = in_kind[i];
    onyx_dtype dt = in_dtype[i];
    for (int j = 0; j < n_in && pb_names[i][0]; j++) {
      onyx_session_input_info(sess, j, &info);
      if (!strcmp(info.name, pb_names[i])) {
        names[i] = info.name;
        k = in_kind[j];
        dt = in_dtype[j];
      }
    }
    retag(in[i], k, dt);
  }
  if ((s = onyx_session_run(sess, n_in_files, names, in, n_out, NULL, got))) {
    v = status_verdict(s, "run", why, wn);
    goto done;
  }
  for (int i = 0; i < n_out_files; i++) {
    onyx_value_info info;
    onyx_session_output_info(sess, i, &info);
    char label[512];
    fmt(label, sizeof label, "output '%s'", info.name);
    if (!compare(got[i], exp[i], label, why, wn)) {
      v = R_FAIL;
      break;
    }
  }
  if (o->verbose && v == R_PASS) printf("  %s: %d inputs, %d outputs match\n", ds, n_in_files, n_out_files);
done:
  for (int i = 0; i < MAX_IO; i++) {
    onyx_tensor_free(in[i]);
    onyx_tensor_free(exp[i]);
    onyx_tensor_free(got[i]);
    onyx_buffer_free(pb_names[i]);
  }
  if (v != R_PASS) {
    char tmp[4096];
    const char *slash = strrchr(ds, '/');
    fmt(tmp, sizeof tmp, "%s: %s", slash ? slash + 1 : ds, why);
    fmt(why, wn, "%s", tmp);
  }
  return v;
}

static verdict run_test(const char *test_dir, const options *o, char *why, size_t wn) {
  char path[4096];
  fmt(path, sizeof path, "%s/model.onnx", test_dir);
  onyx_model *m;
  onyx_status *s = onyx_model_load(path, &m);
  if (s) return status_verdict(s, "load", why, wn);
  if (o->round_trip) {
    /* Run what the writer produced: saving must not change results. */
    void *buf;
    size_t len;
    onyx_model *m2 = NULL;
    s = onyx_model_save_to_buffer(m, &buf, &len);
    if (!s) {
      s = onyx_model_load_from_buffer(buf, len, test_dir, &m2);
      onyx_buffer_free(buf);
    }
    onyx_model_destroy(m);
    if (s) return status_verdict(s, "round trip", why, wn);
    m = m2;
  }
  onyx_kind in_kind[MAX_IO] = {0}, out_kind[MAX_IO] = {0};
  onyx_dtype in_dtype[MAX_IO] = {0}, out_dtype[MAX_IO] = {0};
  const onyx_graph *g = m->graph;
  for (int i = 0; i < g->n_inputs && i < MAX_IO; i++) {
    in_kind[i] = g->values[g->inputs[i]].kind;
    in_dtype[i] = g->values[g->inputs[i]].dtype;
  }
  for (int i = 0; i < g->n_outputs && i < MAX_IO; i++) {
    out_kind[i] = g->values[g->outputs[i]].kind;
    out_dtype[i] = g->values[g->outputs[i]].dtype;
  }
  onyx_options *opts;
  if ((s = onyx_options_create(&opts))) {
    onyx_model_destroy(m);
    return status_verdict(s, "options", why, wn);
  }
  onyx_options_set_intra_op_threads(opts, o->threads);
  onyx_provider *sim = NULL;
  if (o->providers && strstr(o->providers, "simdev") && !(s = simdev_create(0, &sim)))
    s = onyx_options_add_provider(opts, sim);
  if (!s && o->providers) s = onyx_options_set_providers(opts, o->providers);
  if (s) {
    onyx_options_destroy(opts);
    onyx_model_destroy(m);
    simdev_destroy(sim);
    return status_verdict(s, "options", why, wn);
  }
  onyx_session *sess;
  s = onyx_session_create_from_model(m, opts, &sess);
  onyx_options_destroy(opts);
  if (s) {
    simdev_destroy(sim);
    return status_verdict(s, "session", why, wn);
  }
  /* placement note for a passing test: nodes that did not run on cpu */
  char placed[256] = "";
  int off_cpu = 0, n_nodes = onyx_session_node_count(sess);
  const char *where = NULL;
  for (int i = 0; i < n_nodes; i++) {
    onyx_node_info ni;
    if (onyx_session_node_info(sess, i, &ni) == NULL && strcmp(ni.provider, "cpu")) {
      off_cpu++;
      where = ni.provider;
    }
  }
  if (off_cpu) fmt(placed, sizeof placed, "%s: %d/%d nodes", where, off_cpu, n_nodes);
  char **sets;
  int n = list_dir(test_dir, "test_data_set_", true, &sets);
  verdict v = R_PASS;
  if (n <= 0) {
    fmt(why, wn, "no test_data_set_* folders");
    v = R_FAIL;
  }
  for (int i = 0; i < n && v == R_PASS; i++) {
    char ds[4096];
    fmt(ds, sizeof ds, "%s/%s", test_dir, sets[i]);
    v = run_data_set(sess, ds, in_kind, out_kind, in_dtype, out_dtype, o, why, wn);
  }
  free_list(sets, n);
  onyx_session_destroy(sess);
  simdev_destroy(sim);
  if (v == R_PASS) fmt(why, wn, "%s", placed);
  return v;
}

/* Runs one test in a child process; a crash or timeout there is a failure. */
static verdict run_isolated(const char *test_dir, const options *o, char *why, size_t wn) {
  if (!o->fork) return run_test(test_dir, o, why, wn);
  int fds[2];
  if (pipe(fds)) {
    fmt(why, wn, "pipe: %s", strerror(errno));
    return R_FAIL;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    fmt(why, wn, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return R_FAIL;
  }
  if (pid == 0) {
    close(fds[0]);
    if (o->timeout > 0) alarm((unsigned)o->timeout);
    char msg[4096] = "";
    verdict v = run_test(test_dir, o, msg, sizeof msg);
    char c = (char)('0' + v);
    ssize_t ignored = write(fds[1], &c, 1);
    ignored = write(fds[1], msg, strlen(msg));
    (void)ignored;
    close(fds[1]);
    fflush(stdout);
    exit(0);   /* exit, not _exit: sanitizers report leaks at exit */
  }
  close(fds[1]);
  char buf[4097];
  size_t got = 0;
  for (ssize_t r; got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) != 0;) {
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += (size_t)r;
  }
  buf[got] = 0;
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGALRM) fmt(why, wn, "timed out after %d s", o->timeout);
    else fmt(why, wn, "crashed (signal %d, %s)", sig, strsignal(sig));
    return R_FAIL;
  }
  if (got == 0 || buf[0] < '0' || buf[0] > '2') {
    fmt(why, wn, "test process exited with status %d without a verdict", WEXITSTATUS(status));
    return R_FAIL;
  }
  fmt(why, wn, "%s", buf + 1);
  verdict v = (verdict)(buf[0] - '0');
  if (WEXITSTATUS(status) != 0) {
    fmt(why, wn, "test process exited with status %d (sanitizer report?)%s%s", WEXITSTATUS(status),
             v == R_PASS ? "" : "; ", v == R_PASS ? "" : buf + 1);
    return R_FAIL;
  }
  return v;
}

/* ---- expected failures and skip summary --------------------------------------------- */

typedef struct xfail {
  char *name, *reason;
  bool seen;
} xfail;

static int load_xfails(const char *path, xfail **out) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, cap = 0;
  xfail *v = NULL;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    char *hash = strchr(line, '#');
    char *reason = hash ? hash + 1 : (char *)"";
    if (hash) *hash = 0;
    char name[512];
    if (sscanf(line, "%511s", name) != 1) continue;
    while (*reason == ' ') reason++;
    reason[strcspn(reason, "\r\n")] = 0;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      xfail *nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[n].name = strdup(name);
    v[n].reason = strdup(reason);
    v[n].seen = false;
    n++;
  }
  fclose(f);
  *out = v;
  return n;
}

typedef struct skip_count {
  char key[128];
  int n;
} skip_count;

/* The op a skip reason names ("operator Op ..." or "node 'x' (Op)"), or the
 * reason's start. */
static void skip_key(const char *why, char *key, size_t kn) {
  const char *p = strstr(why, "operator ");
  if (p && strncmp(p + 9, "domain", 6)) {
    p += 9;
    fmt(key, kn, "%.*s", (int)strcspn(p, " :,"), p);
    return;
  }
  p = strstr(why, "node '");
  if (p && (p = strstr(p, "' (")) != NULL) {
    p += 3;
    fmt(key, kn, "%.*s", (int)strcspn(p, ")"), p);
    return;
  }
  fmt(key, kn, "other: %.60s", why);
}

static int cmp_skip(const void *a, const void *b) {
  const skip_count *x = a, *y = b;
  return x->n != y->n ? y->n - x->n : strcmp(x->key, y->key);
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: conformance <node-dir> [options]\n"
          "Runs ONNX backend node tests (<node-dir>/test_*/) through onyx.\n"
          "  --expected-failures FILE  lines 'test_name  # reason'; such failures do not fail the run\n"
          "  --expected-skips FILE     lines 'test_name  # reason': the only skips allowed, each with a\n"
          "                            message containing its reason\n"
          "  --min-pass N              fail when fewer than N tests pass\n"
          "  --min-placed N            fail when fewer than N passing tests ran nodes off cpu\n"
          "  --filter SUBSTRING        run tests whose name contains it (repeatable: any matches)\n"
          "  --threads N               intra-op threads per session (default 1)\n"
          "  --providers LIST          execution providers in priority order (default: the library's)\n"
          "  --timeout SEC             per-test time limit when forking (default 120)\n"
          "  --no-fork                 run tests in this process (for debugging)\n"
          "  --round-trip              run each model after saving and reloading it\n"
          "  --verbose                 print per-data-set detail\n"
          "  --list-skips              summarise skip reasons by op\n"
          "  --help                    this text\n"
          "Exit status 1 when any test fails unexpectedly.\n");
}

static bool parse_args(int argc, char **argv, options *o) {
  *o = (options){.threads = 1, .timeout = 120, .fork = true};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--expected-failures") && more) {
      o->xfail_path = argv[++i];
    } else if (!strcmp(a, "--expected-skips") && more) {
      o->xskip_path = argv[++i];
    } else if (!strcmp(a, "--min-pass") && more) {
      o->min_pass = atoi(argv[++i]);
    } else if (!strcmp(a, "--min-placed") && more) {
      o->min_placed = atoi(argv[++i]);
    } else if (!strcmp(a, "--filter") && more) {
      if (o->n_filters == (int)(sizeof o->filters / sizeof *o->filters)) return false;
      o->filters[o->n_filters++] = argv[++i];
    } else if (!strcmp(a, "--threads") && more) {
      o->threads = atoi(argv[++i]);
    } else if (!strcmp(a, "--providers") && more) {
      o->providers = argv[++i];
    } else if (!strcmp(a, "--timeout") && more) {
      o->timeout = atoi(argv[++i]);
    } else if (!strcmp(a, "--round-trip")) {
      o->round_trip = true;
    } else if (!strcmp(a, "--no-fork")) {
      o->fork = false;
    } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
      o->verbose = true;
    } else if (!strcmp(a, "--list-skips")) {
      o->list_skips = true;
    } else if (a[0] != '-' && !o->dir) {
      o->dir = a;
    } else {
      fprintf(stderr, "conformance: bad argument '%s'\n", a);
      return false;
    }
  }
  return o->dir != NULL;
}

int main(int argc, char **argv) {
  options o;
  if (!parse_args(argc, argv, &o)) {
    usage(stderr);
    return 2;
  }
  xfail *xf = NULL, *xs = NULL;
  int n_xf = 0, n_xs = 0;
  if (o.xfail_path && (n_xf = load_xfails(o.xfail_path, &xf)) < 0) {
    fprintf(stderr, "conformance: cannot read %s\n", o.xfail_path);
    return 2;
  }
  if (o.xskip_path && (n_xs = load_xfails(o.xskip_path, &xs)) < 0) {
    fprintf(stderr, "conformance: cannot read %s\n", o.xskip_path);
    return 2;
  }
  char **tests;
  int n_tests = list_dir(o.dir, "test_", true, &tests);
  if (n_tests < 0) {
    fprintf(stderr, "conformance: cannot read %s: %s\n", o.dir, strerror(errno));
    return 2;
  }
  int pass = 0, fail = 0, skip = 0, xfailed = 0, xpassed = 0, placed = 0;
  skip_count *skips = calloc((size_t)n_tests + 1, sizeof *skips);
  int n_skips = 0;
  for (int t = 0; t < n_tests; t++) {
    const char *name = tests[t];
    bool match = o.n_filters == 0;
    for (int f = 0; f < o.n_filters && !match; f++) match = strstr(name, o.filters[f]) != NULL;
    if (!match) continue;
    xfail *x = NULL;
    for (int i = 0; i < n_xf && !x; i++)
      if (!strcmp(xf[i].name, name)) x = &xf[i];
    if (x) x->seen = true;
    xfail *xk = NULL;
    for (int i = 0; i < n_xs && !xk; i++)
      if (!strcmp(xs[i].name, name)) xk = &xs[i];
    if (xk) xk->seen = true;
    char path[4096], why[4096] = "";
    fmt(path, sizeof path, "%s/%s", o.dir, name);
    verdict v = run_isolated(path, &o, why, sizeof why);
    if (v == R_PASS && x) {
      printf("XPASS %s (listed as expected failure: %s)\n", name, x->reason);
      xpassed++;
      pass++;
    } else if (v == R_PASS) {
      printf("PASS %s%s%s%s\n", name, why[0] ? " (" : "", why, why[0] ? ")" : "");
      pass++;
      placed += why[0] != 0;
    } else if (v == R_SKIP && o.xskip_path && (!xk || !strstr(why, xk->reason))) {
      printf("FAIL %s: skipped (%s), %s\n", name, why,
             xk ? "expected-skips lists another reason" : "and expected-skips does not list it");
      fail++;
    } else if (v == R_SKIP) {
      printf("SKIP %s: %s\n", name, why);
      skip++;
      if (skips) {
        char key[128];
        skip_key(why, key, sizeof key);
        int i = 0;
        while (i < n_skips && strcmp(skips[i].key, key)) i++;
        if (i == n_skips) fmt(skips[n_skips++].key, sizeof skips->key, "%s", key);
        skips[i].n++;
      }
    } else if (x) {
      printf("XFAIL %s: %s (expected: %s)\n", name, why, x->reason);
      xfailed++;
    } else {
      printf("FAIL %s: %s\n", name, why);
      fail++;
    }
    fflush(stdout);
  }
  if (o.list_skips && n_skips) {
    qsort(skips, (size_t)n_skips, sizeof *skips, cmp_skip);
    printf("skips by op:\n");
    for (int i = 0; i < n_skips; i++) printf("  %4d  %s\n", skips[i].n, skips[i].key);
  }
  if (o.n_filters == 0) {
    for (int i = 0; i < n_xf; i++)
      if (!xf[i].seen) printf("note: expected failure '%s' names no test\n", xf[i].name);
    for (int i = 0; i < n_xs; i++)
      if (!xs[i].seen) printf("note: expected skip '%s' names no test\n", xs[i].name);
  }
  printf("expected failures: %d (%d now pass)\n", xfailed, xpassed);
  if (o.providers) printf("passing tests with nodes off cpu (providers %s): %d\n", o.providers, placed);
  printf("conformance: %d passed, %d failed, %d skipped\n", pass, fail, skip);
  /* a run that found nothing to test must not look green */
  bool none = pass + fail + skip + xfailed + xpassed == 0;
  if (none) fprintf(stderr, "conformance: no test found under %s\n", o.dir);
  bool few = pass < o.min_pass || placed < o.min_placed;
  if (pass < o.min_pass) fprintf(stderr, "conformance: %d tests passed, the baseline is %d\n", pass, o.min_pass);
  if (placed < o.min_placed)
    fprintf(stderr, "conformance: %d passing tests ran nodes off cpu, the baseline is %d\n", placed, o.min_placed);
  free(skips);
  for (int i = 0; i < n_xf; i++) {
    free(xf[i].name);
    free(xf[i].reason);
  }
  free(xf);
  for (int i = 0; i < n_xs; i++) {
    free(xs[i].name);
    free(xs[i].reason);
  }
  free(xs);
  free_list(tests, n_tests);
  return fail || none || few ? 1 : 0;
}
