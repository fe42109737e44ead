/* cmd_report.c — `onyx report`: the whole performance validation of one
 * model, written as one self-contained HTML page with inline SVG plots and a
 * REPORT.json beside it holding every number (report_write.c writes both).
 *
 * How it measures. Timings are `onyx bench`'s own: each sweep is a call of
 * cmd_bench with --json, read back with report_json.c, so the report and the
 * bench command can never disagree on what a percentile or a peak RSS is.
 * Every measurement runs in a forked child of a parent that itself never
 * creates a session: each variant's peak RSS is its own process's, OpenMP
 * and CUDA are only ever started after the fork (neither survives one), and
 * a crash in one measurement is reported instead of taking the report with
 * it. The children are:
 *   - `onyx info` and `onyx info --json` (cmd_info), captured as text: the
 *     machine section shows exactly what that command prints;
 *   - with --quantize, onyx_quantize_model on the loaded model (static mode
 *     calibrated through samples.c), saved for the INT8 child to load;
 *   - the batch sweep (bench --sweep batch=...) and the thread sweep (bench
 *     --sweep threads=...), -O3;
 *   - one bench point per variant: FP32 at -O0, FP32 at -O3, INT8 at -O3;
 *   - one evaluation per variant: the first output on --data (samples.c),
 *     else on the seeded random inputs inputs.c makes, sent back through a
 *     pipe; the parent scores it against --labels and against FP32 -O0;
 *   - the sustained run: 10 back-to-back bench --telemetry slices, giving
 *     throughput, frequency, temperature and energy over time.
 * Progress goes to stderr, one line per measurement (-q turns it off). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "inputs.h"
#include "npy.h"
#include "report.h"
#include "samples.h"

#define MAX_PASS 64   /* session and input flags handed on to each bench child */

static const char usage[] =
    "usage: onyx report MODEL -o REPORT.html [options]\n"
    "\n"
    "Measures MODEL (.onnx) and writes one self-contained HTML page (inline SVG\n"
    "plots, no JavaScript, nothing fetched) and REPORT.json beside it (-o r.html\n"
    "writes r.json) with every number: latency percentiles and throughput vs\n"
    "batch size and vs threads (with scaling efficiency); FP32 at -O0 and -O3\n"
    "and INT8 side by side (latency, throughput, peak RSS, planned arena, model\n"
    "size); accuracy or output error vs latency; energy, frequency and\n"
    "temperature over a sustained run where the machine exposes them; the\n"
    "machine (onyx info), providers, node placement, version and options.\n"
    "Timings are onyx bench's (see onyx bench --help); each measurement runs in\n"
    "its own process, so peak RSS figures are per variant.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      the HTML page (required); the JSON goes next to it\n"
    "  --quantize static|dynamic  also measure an INT8 model, quantized in memory\n"
    "                         (onyx quantize's defaults: QDQ, int8 weights)\n"
    "  --calibration DIR|FILE.npy  samples for --quantize static, as onyx quantize\n"
    "                         --calibration takes them, or one .npy file of a batch\n"
    "                         for a one-input model\n"
    "  --data DIR|FILE.npy    inputs for the accuracy / output error (same forms;\n"
    "                         default: seeded random inputs, one run)\n"
    "  --labels FILE.npy      int32/int64 class labels of --data: accuracy of the\n"
    "                         argmax over the first output's last dim\n"
    "  --threads LIST         thread counts of the thread sweep (default 1,2); the\n"
    "                         largest also runs the batch sweep and the variants\n"
    "  --batch LIST           batch sizes of the batch sweep (default 1,8,32;\n"
    "                         skipped when the model fixes its batch)\n"
    "  --point-duration SEC   timed runs of each measurement (default 0.5)\n"
    "  --duration SEC         the sustained run, in 10 slices (default 3)\n"
    "  --compare OLD.json     overlay an earlier report's numbers (before/after)\n"
    "  --providers LIST, --affinity SPEC, --numa-node N, --disable LIST,\n"
    "  --provider-option P:K=V  as onyx bench (applied to every session)\n"
    "  -i, --input NAME=FILE, --dim NAME=VALUE, --seed N\n"
    "                         inputs of the timed runs, as onyx bench\n"
    "  -q, --quiet            no progress lines on stderr\n"
    "  -h, --help             show this help\n"
    "\n"
    "Optimization levels are the report's to choose (-O0 and -O3); -O is refused.\n";

/* The command's state: the report being filled, and what the children need. */
typedef struct ctx {
  report r;
  cli_inputs in;
  bool quiet;
  int n_pass;
  const char *pass[MAX_PASS];   /* session/input flags for bench, borrowed from argv */
  char tmp[64];                 /* scratch folder for bench's JSON and the INT8 model */
  char json_tmp[96], csv_tmp[96], int8_path[96];
  const char *calib_dir, *data_dir;   /* what samples.c reads: a folder or one .npy file (borrowed) */
  onyx_tensor *labels;
  int step, steps;              /* progress */
  float *eval[REPORT_VARIANTS]; /* first output of each variant (owned) */
  int64_t eval_n[REPORT_VARIANTS], eval_classes[REPORT_VARIANTS];
} ctx;

/* ---- arguments ------------------------------------------------------------------ */

/* Options that take a value: where it goes. */
static int take(int argc, char **argv, int *i, const char *name, const char *what, const char **dst, bool *used) {
  const char *v;
  if (*used || !cli_option(argc, argv, i, name, &v)) return 0;
  *used = true;
  if (!v || !*v) return cli_usage_error("%s needs %s", name, what);
  *dst = v;
  return 0;
}

static int parse_args(int argc, char **argv, ctx *c) {
  report *r = &c->r;
  int rc = inputs_init(&c->in, argc);
  if (rc) return rc;
  r->argc = argc, r->argv = argv;
  r->session = (cli_session_flags)CLI_SESSION_FLAGS_INIT;
  r->point_duration = 0.5, r->duration = 3;
  const char *threads = "1,2", *batch = "1,8,32";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    bool used = false;
    if (cli_is_help(a)) {
      fputs(usage, stdout);
      return -1;
    }
    if ((rc = take(argc, argv, &i, "-o", "a file name", &r->html_path, &used)) ||
        (rc = take(argc, argv, &i, "--output", "a file name", &r->html_path, &used)) ||
        (rc = take(argc, argv, &i, "--quantize", "static or dynamic", &r->quantize, &used)) ||
        (rc = take(argc, argv, &i, "--calibration", "a folder or .npy file", &r->calibration, &used)) ||
        (rc = take(argc, argv, &i, "--data", "a folder or .npy file", &r->data, &used)) ||
        (rc = take(argc, argv, &i, "--labels", "a .npy file", &r->labels, &used)) ||
        (rc = take(argc, argv, &i, "--compare", "a REPORT.json", &r->compare, &used)) ||
        (rc = take(argc, argv, &i, "--threads", "a list", &threads, &used)) ||
        (rc = take(argc, argv, &i, "--batch", "a list", &batch, &used)))
      return rc;
    if (used) continue;
    if (cli_option(argc, argv, &i, "--point-duration", &v)) {
      if (!cli_parse_seconds(v, 0.01, 86400, &r->point_duration))
        return cli_usage_error("--point-duration expects seconds >= 0.01, got '%s'", v ? v : "");
      continue;
    }
    if (cli_option(argc, argv, &i, "--duration", &v)) {
      if (!cli_parse_seconds(v, 0.1, 86400, &r->duration))
        return cli_usage_error("--duration expects seconds >= 0.1, got '%s'", v ? v : "");
      continue;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      c->quiet = true;
      continue;
    }
    int64_t level;
    int first = i;
    if ((rc = cli_level_option(argc, argv, &i, &level, &used))) return rc;
    if (used) return cli_usage_error("%s: the report measures -O0 and -O3 itself", argv[first]);
    if ((rc = inputs_option(&c->in, argc, argv, &i, &used))) return rc;
    if (!used && (rc = cli_session_option(&r->session, argc, argv, &i, &used))) return rc;
    if (used) {
      for (int k = first; k <= i; k++) {
        if (c->n_pass == MAX_PASS) return cli_usage_error("too many options");
        c->pass[c->n_pass++] = argv[k];
      }
      continue;
    }
    if (a[0] == '-' && a[1]) return cli_usage_error("unknown option '%s' (see onyx report --help)", a);
    if (r->model) return cli_usage_error("unexpected argument '%s' (the model is '%s')", a, r->model);
    r->model = a;
  }
  if (!r->model) return cli_usage_error("no model given (usage: onyx report MODEL -o REPORT.html [options])");
  if (!r->html_path) return cli_usage_error("no output given: -o REPORT.html");
  if (!cli_parse_int_list(threads, 1, 4096, REPORT_MAX_LIST, r->threads, &r->n_threads))
    return cli_usage_error("--threads expects distinct integers in 1..4096 separated by commas (at most %d), got '%s'",
                           REPORT_MAX_LIST, threads);
  if (!cli_parse_int_list(batch, 1, 1 << 20, REPORT_MAX_LIST, r->batch, &r->n_batch))
    return cli_usage_error("--batch expects distinct positive integers separated by commas (at most %d), got '%s'",
                           REPORT_MAX_LIST, batch);
  if (r->quantize && strcmp(r->quantize, "static") && strcmp(r->quantize, "dynamic"))
    return cli_usage_error("--quantize expects static or dynamic, got '%s'", r->quantize);
  if (r->quantize && !strcmp(r->quantize, "static") && !r->calibration)
    return cli_usage_error("--quantize static needs --calibration DIR|FILE.npy (samples to calibrate on)");
  if (r->calibration && !(r->quantize && !strcmp(r->quantize, "static")))
    return cli_usage_error("--calibration is for --quantize static");
  if (r->labels && !r->data) return cli_usage_error("--labels needs --data (the inputs the labels are for)");
  r->main_threads = 0;
  for (int k = 0; k < r->n_threads; k++)
    if (r->threads[k] > r->main_threads) r->main_threads = r->threads[k];
  size_t n = strlen(r->html_path);
  const char *dot = strrchr(r->html_path, '.'), *slash = strrchr(r->html_path, '/');
  size_t stem = dot && (!slash || dot > slash) && (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) ? (size_t)(dot - r->html_path) : n;
  if (!(r->json_path = malloc(stem + 6))) return cli_fail("out of memory");
  snprintf(r->json_path, stem + 6, "%.*s.json", (int)stem, r->html_path);
  return 0;
}

/* ---- progress ---------------------------------------------------------------------- */

static void progress(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const ctx *c, const char *fmt, ...) {
  if (c->quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "onyx report: [%d/%d] ", c->step, c->steps);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- children -------------------------------------------------------------------- */

static bool write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n, len -= (size_t)n;
  }
  return true;
}

typedef int (*child_fn)(ctx *c, void *arg, int fd);

/* Runs fn in a forked child whose stdout goes to /dev/null and whose
 * stderr is ours (its error line is the command's). What fn writes to fd
 * comes back in *out (malloc'd, NUL-terminated; may be NULL). Returns the
 * child's exit status (it printed the error line), or prints one itself
 * when the child could not run or died of a signal. */
static int in_child(ctx *c, child_fn fn, void *arg, char **out, size_t *out_len) {
  int p[2];
  if (out) *out = NULL, *out_len = 0;
  if (pipe(p)) return cli_fail("cannot create a pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]), close(p[1]);
    return cli_fail("cannot fork a measurement process: %s", strerror(errno));
  }
  if (pid == 0) {
    close(p[0]);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO), close(null);
    int rc = fn(c, arg, p[1]);
    close(p[1]);
    fflush(stderr);
    /* _exit: the parent's atexit handlers and buffers are the parent's */
    _exit(rc);
  }
  close(p[1]);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  bool oom = false;
  for (;;) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!nb) {
        oom = true;
        break;
      }
      buf = nb;
    }
    ssize_t n = read(p[0], buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  int rc = 0;
  if (WIFSIGNALED(status)) rc = cli_fail("a measurement process died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WEXITSTATUS(status)) rc = WEXITSTATUS(status);
  else if (oom) rc = cli_fail("out of memory");
  if (rc || !out) {
    free(buf);
    return rc;
  }
  if (buf) buf[len] = '\0';
  *out = buf, *out_len = len;
  return 0;
}

/* `onyx info --json`, a NUL, then `onyx info`: through cmd_info itself. */
static int child_info(ctx *c, void *arg, int fd) {
  (void)c, (void)arg;
  if (dup2(fd, STDOUT_FILENO) < 0) return cli_fail("cannot capture onyx info: %s", strerror(errno));
  char *json_args[] = {"info", "--json", NULL}, *text_args[] = {"info", NULL};
  int rc = cmd_info(2, json_args);
  fflush(stdout);
  if (!rc && !write_all(fd, "", 1)) rc = cli_fail("cannot pass on onyx info's output");
  if (!rc) rc = cmd_info(1, text_args);
  fflush(stdout);
  return rc;
}

/* A bench command line under construction (strings owned). */
typedef struct bench_cmd {
  int n;
  char *v[MAX_PASS + 32];
} bench_cmd;

static void cmd_add(bench_cmd *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cmd_add(bench_cmd *b, const char *fmt, ...) {
  if (b->n + 1 >= (int)(sizeof b->v / sizeof b->v[0])) return;   /* sized for every caller */
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&b->v[b->n], fmt, ap) >= 0) b->n++;
  va_end(ap);
}

static void cmd_free(bench_cmd *b) {
  for (int i = 0; i < b->n; i++) free(b->v[i]);
  b->n = 0;
}

static int child_bench(ctx *c, void *arg, int fd) {
  (void)c, (void)fd;
  bench_cmd *b = arg;
  b->v[b->n] = NULL;
  return cmd_bench(b->n, b->v);
}

/* The start of every bench command: model, level, the user's session and
 * input flags, the JSON file, timed runs of `seconds`. */
static void bench_begin(ctx *c, bench_cmd *b, const char *model, int level, double seconds) {
  cmd_add(b, "bench");
  cmd_add(b, "%s", model);
  cmd_add(b, "-O%d", level);
  cmd_add(b, "--duration=%.6g", seconds);
  cmd_add(b, "--json=%s", c->json_tmp);
  for (int i = 0; i < c->n_pass; i++) cmd_add(b, "%s", c->pass[i]);
}

/* Runs bench (b is consumed) and parses its JSON into *out. */
static int run_bench(ctx *c, bench_cmd *b, json_value **out) {
  *out = NULL;
  int rc = in_child(c, child_bench, b, NULL, NULL);
  cmd_free(b);
  if (rc) return rc;
  char err[512];
  if (!json_parse_file(c->json_tmp, out, err, sizeof err)) return cli_fail("reading onyx bench's figures: %s", err);
  return 0;
}

static double num(const json_value *v, const char *path) { return json_number(json_path(v, path)); }

static void point_from(const json_value *v, report_point *p) {
  *p = (report_point){
      .threads = num(v, "threads"), .batch = num(v, "batch"), .runs = num(v, "runs"), .wall_s = num(v, "wall_s"),
      .p50 = num(v, "latency_ms.p50"), .p90 = num(v, "latency_ms.p90"), .p99 = num(v, "latency_ms.p99"),
      .mean = num(v, "latency_ms.mean"), .runs_per_s = num(v, "throughput_per_s"),
      .samples_per_s = num(v, "samples_per_s"), .cpu_efficiency = num(v, "cpu_efficiency"),
      .peak_rss = num(v, "peak_rss_bytes"), .arena_bytes = num(v, "arena_bytes"),
      .weight_bytes = num(v, "weight_bytes"), .speedup = NAN, .scaling_efficiency = NAN};
}

static void nodes_from(const json_value *v, cli_provider_nodes *n) {
  const json_value *o = json_path(v, "nodes_per_provider");
  n->n = 0;
  for (int k = 0; o && o->type == JSON_OBJECT && k < o->n && n->n < CLI_MAX_PROVIDERS; k++) {
    snprintf(n->name[n->n], sizeof n->name[0], "%s", o->keys[k]);
    n->nodes[n->n++] = (int)json_number(&o->items[k]);
  }
}

/* ---- quantization ------------------------------------------------------------------ */

static int child_quantize(ctx *c, void *arg, int fd) {
  (void)arg;
  report *r = &c->r;
  onyx_quant_options *o = NULL;
  onyx_session *cal = NULL;
  onyx_model *m = NULL, *q = NULL;
  onyx_quant_report *qr = NULL;
  samples sp = {0};
  int rc = 0;
  onyx_status *st = onyx_quant_options_create(&o);
  if (!st) st = onyx_quant_options_set(o, "mode", r->quantize);
  if (!st && c->calib_dir) {
    /* the sample reader needs the model's input names and shapes, as in onyx quantize */
    onyx_options *so = NULL;
    if (!(st = onyx_options_create(&so))) {
      onyx_options_set_optimization_level(so, 0);
      st = onyx_session_create(r->model, so, &cal);
    }
    onyx_options_destroy(so);
    if (!st && (rc = samples_open(&sp, c->calib_dir, cal, 0, 64))) goto done;
    if (!st) onyx_quant_options_set_calibration_reader(o, samples_reader, &sp);
  }
  if (!st) st = onyx_model_load(r->model, &m);
  if (!st) st = onyx_quantize_model(m, o, &q, &qr);
  if (!st) st = onyx_model_save(q, c->int8_path);
  if (st) {
    rc = cli_fail_status(st);
    goto done;
  }
  report_quant out = {.done = true, .bytes_before = (double)qr->bytes_before, .bytes_after = (double)qr->bytes_after,
                      .weight_bytes_before = (double)qr->weight_bytes_before,
                      .weight_bytes_after = (double)qr->weight_bytes_after,
                      .calibration_samples = qr->calibration_samples, .bn_folded = qr->bn_folded};
  for (int i = 0; i < qr->n_nodes; i++) qr->nodes[i].quantized ? out.nodes_quantized++ : out.nodes_float++;
  if (!write_all(fd, &out, sizeof out)) rc = cli_fail("cannot pass on the quantization report");
done:
  onyx_quant_report_destroy(qr);
  onyx_model_destroy(q);
  onyx_model_destroy(m);
  samples_close(&sp);
  onyx_session_destroy(cal);
  onyx_quant_options_destroy(o);
  return rc;
}

/* ---- evaluation: the first output of a variant ------------------------------------ */

typedef struct eval_job {
  const char *model;
  int level;
} eval_job;

/* Sends the first output's float data after a header {classes, count}, or
 * classes = -1 when that output is not a float tensor. */
static int child_eval(ctx *c, void *arg, int fd) {
  const eval_job *job = arg;
  onyx_model *m = NULL;
  onyx_options *opts = NULL;
  onyx_session *s = NULL;
  samples sp = {0};
  onyx_tensor **in = NULL, *out = NULL;
  const char **names = NULL;
  float *acc = NULL;
  int64_t n = 0, cap = 0, classes = 0;
  int rc = 0;
  onyx_status *st = onyx_model_load(job->model, &m);
  if (!st) st = onyx_options_create(&opts);
  if (st) goto done;
  if ((rc = cli_session_apply(&c->r.session, c->r.main_threads, opts))) goto done;
  onyx_options_set_optimization_level(opts, job->level);
  st = onyx_session_create_from_model(m, opts, &s);
  m = NULL;   /* the session owns it now, also on failure */
  if (st) goto done;
  int n_in = onyx_session_input_count(s);
  onyx_value_info vi;
  if ((st = onyx_session_output_info(s, 0, &vi))) goto done;
  const char *out_name = vi.name;
  if (!c->data_dir) {
    if ((rc = inputs_make_random(&c->in))) goto done;
  } else {
    if ((rc = samples_open(&sp, c->data_dir, s, 0, 64))) goto done;
    in = calloc((size_t)n_in + 1, sizeof *in);
    names = calloc((size_t)n_in + 1, sizeof *names);
    if (!in || !names) {
      rc = cli_fail("out of memory");
      goto done;
    }
    for (int i = 0; i < n_in; i++) names[i] = sp.in[i].name;
  }
  for (;;) {
    int fin = 0;
    if (c->data_dir) {
      for (int i = 0; i < n_in; i++) onyx_tensor_free(in[i]), in[i] = NULL;
      if ((st = samples_next(&sp, in, &fin))) goto done;
      if (fin) break;
      st = onyx_session_run(s, n_in, names, in, 1, &out_name, &out);
    } else {
      st = onyx_session_run(s, c->in.n, c->in.names, c->in.tensors, 1, &out_name, &out);
    }
    if (st) goto done;
    if (onyx_tensor_kind(out) != ONYX_VALUE_TENSOR || onyx_tensor_dtype(out) != ONYX_DTYPE_FLOAT ||
        onyx_tensor_rank(out) < 1) {
      classes = -1;
      break;
    }
    int64_t k = onyx_tensor_numel(out);
    classes = onyx_tensor_dims(out)[onyx_tensor_rank(out) - 1];
    if (n + k > cap) {
      cap = (n + k) * 2;
      float *na = realloc(acc, (size_t)cap * sizeof *na);
      if (!na) {
        rc = cli_fail("out of memory");
        goto done;
      }
      acc = na;
    }
    if (k) memcpy(acc + n, onyx_tensor_data(out), (size_t)k * sizeof *acc);
    n += k;
    onyx_tensor_free(out);
    out = NULL;
    if (!c->data_dir) break;
  }
  int64_t head[2] = {classes, classes < 0 ? 0 : n};
  if (!write_all(fd, head, sizeof head) || (head[1] && !write_all(fd, acc, (size_t)n * sizeof *acc)))
    rc = cli_fail("cannot pass on the evaluation's outputs");
done:
  if (st) rc = cli_fail_status(st);
  free(acc);
  onyx_tensor_free(out);
  for (int i = 0; in && i < onyx_session_input_count(s); i++) onyx_tensor_free(in[i]);
  free(in);
  free(names);
  samples_close(&sp);
  onyx_session_destroy(s);
  onyx_options_destroy(opts);
  onyx_model_destroy(m);
  return rc;
}

/* Scores variant k's outputs: accuracy against --labels, max abs error
 * against FP32 -O0 (variant 0). */
static int score(ctx *c, int k) {
  report_variant *v = &c->r.var[k];
  int64_t classes = c->eval_classes[k], n = c->eval_n[k];
  v->accuracy = v->correct = v->total = v->max_abs_error = v->eval_rows = NAN;
  if (classes <= 0) return 0;
  int64_t rows = n / classes;
  v->eval_rows = (double)rows;
  if (c->eval_n[0] == n && c->eval_classes[0] == classes) {
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs((double)c->eval[k][i] - (double)c->eval[0][i]));
    v->max_abs_error = e;
  }
  if (!c->labels) return 0;
  if (onyx_tensor_numel(c->labels) != rows)
    return cli_fail("--labels: '%s' has %lld labels, but the first output has %lld rows on --data '%s'", c->r.labels,
                    (long long)onyx_tensor_numel(c->labels), (long long)rows, c->r.data);
  int64_t dims[2] = {rows, classes};
  onyx_tensor *scores = NULL;
  onyx_status *st = onyx_tensor_borrow(ONYX_DTYPE_FLOAT, 2, dims, c->eval[k], (size_t)(rows * classes) * sizeof(float),
                                       &scores);
  if (st) return cli_fail_status(st);
  int64_t correct = cli_count_correct(scores, classes, rows, c->labels);
  onyx_tensor_free(scores);
  v->correct = (double)correct, v->total = (double)rows;
  v->accuracy = rows ? 100.0 * (double)correct / (double)rows : NAN;
  return 0;
}

/* ---- scratch files ------------------------------------------------------------------ */

static void remove_scratch(ctx *c) {
  if (!c->tmp[0]) return;
  unlink(c->json_tmp);
  unlink(c->csv_tmp);
  unlink(c->int8_path);
  rmdir(c->tmp);
}

/* ---- the measurements ---------------------------------------------------------------- */

static const char *const variant_keys[REPORT_VARIANTS] = {"fp32_O0", "fp32_O3", "int8_O3"};
static const char *const variant_names[REPORT_VARIANTS] = {"FP32 -O0", "FP32 -O3", "INT8 -O3"};

static void list_text(char *buf, size_t len, const int64_t *v, int n) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && k < len; i++) k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)v[i]);
}

static int measure_batch_sweep(ctx *c) {
  report *r = &c->r;
  char list[256];
  list_text(list, sizeof list, r->batch, r->n_batch);
  c->step++;
  if (r->fixed_batch > 0) {
    progress(c, "batch sweep skipped: the model fixes its batch at %lld", (long long)r->fixed_batch);
    return 0;
  }
  progress(c, "batch sweep %s at %lld threads, -O3", list, (long long)r->main_threads);
  bench_cmd b = {0};
  bench_begin(c, &b, r->model, 3, r->point_duration);
  cmd_add(&b, "--threads=%lld", (long long)r->main_threads);
  cmd_add(&b, "--sweep=batch=%s", list);
  cmd_add(&b, "--csv=%s", c->csv_tmp);
  json_value *j;
  int rc = run_bench(c, &b, &j);
  if (rc) return rc;
  const json_value *pts = json_path(j, "points");
  for (int i = 0; pts && i < pts->n && i < REPORT_MAX_LIST; i++) {
    point_from(&pts->items[i], &r->batch_pts[r->n_batch_pts]);
    const report_point *p = &r->batch_pts[r->n_batch_pts++];
    progress(c, "  batch %g: p50 %.3f ms, %.1f samples/s", p->batch, p->p50, p->samples_per_s);
  }
  json_free(j);
  return 0;
}

static int measure_thread_sweep(ctx *c) {
  report *r = &c->r;
  char list[256];
  list_text(list, sizeof list, r->threads, r->n_threads);
  c->step++;
  progress(c, "thread sweep %s, -O3", list);
  bench_cmd b = {0};
  bench_begin(c, &b, r->model, 3, r->point_duration);
  cmd_add(&b, "--sweep=threads=%s", list);
  cmd_add(&b, "--csv=%s", c->csv_tmp);
  json_value *j;
  int rc = run_bench(c, &b, &j);
  if (rc) return rc;
  const json_value *pts = json_path(j, "points");
  for (int i = 0; pts && i < pts->n && i < REPORT_MAX_LIST; i++) {
    report_point *p = &r->thread_pts[r->n_thread_pts++];
    point_from(&pts->items[i], p);
    /* scaling against the first point, per thread added */
    const report_point *p0 = &r->thread_pts[0];
    p->speedup = p->runs_per_s / p0->runs_per_s;
    p->scaling_efficiency = p->speedup * p0->threads / p->threads;
    progress(c, "  %g threads: p50 %.3f ms, %.1f runs/s, speedup %.2fx, scaling efficiency %.0f%%", p->threads,
             p->p50, p->runs_per_s, p->speedup, 100 * p->scaling_efficiency);
  }
  json_free(j);
  return 0;
}

static int measure_variant(ctx *c, int k) {
  report *r = &c->r;
  report_variant *v = &r->var[k];
  const char *model = v->int8 ? c->int8_path : r->model;
  c->step++;
  progress(c, "%s at %lld threads", v->name, (long long)r->main_threads);
  bench_cmd b = {0};
  bench_begin(c, &b, model, v->opt_level, r->point_duration);
  cmd_add(&b, "--threads=%lld", (long long)r->main_threads);
  json_value *j;
  int rc = run_bench(c, &b, &j);
  if (rc) return rc;
  point_from(j, &v->pt);
  nodes_from(j, &v->nodes);
  json_free(j);
  struct stat sb;
  v->model_bytes = stat(model, &sb) ? NAN : (double)sb.st_size;
  v->measured = true;
  progress(c, "  p50 %.3f ms, %.1f runs/s, peak RSS %.1f MiB, arena %.0f bytes", v->pt.p50, v->pt.runs_per_s,
           v->pt.peak_rss / 1048576, v->pt.arena_bytes);

  c->step++;
  progress(c, "%s: outputs on %s", v->name, c->data_dir ? r->data : "seeded random inputs");
  eval_job job = {model, v->opt_level};
  char *buf;
  size_t len;
  if ((rc = in_child(c, child_eval, &job, &buf, &len))) return rc;
  int64_t head[2];
  if (len < sizeof head) {
    free(buf);
    return cli_fail("the evaluation of %s sent no outputs", v->name);
  }
  memcpy(head, buf, sizeof head);
  if (head[1] < 0 || len != sizeof head + (size_t)head[1] * sizeof(float)) {
    free(buf);
    return cli_fail("the evaluation of %s sent a truncated output", v->name);
  }
  c->eval_classes[k] = head[0], c->eval_n[k] = head[1];
  c->eval[k] = malloc((size_t)head[1] * sizeof(float) + 1);
  if (!c->eval[k]) {
    free(buf);
    return cli_fail("out of memory");
  }
  if (head[1]) memcpy(c->eval[k], buf + sizeof head, (size_t)head[1] * sizeof(float));
  free(buf);
  if ((rc = score(c, k))) return rc;
  if (isfinite(v->accuracy))
    progress(c, "  accuracy %.2f%% (%.0f/%.0f), max abs error vs FP32 -O0 %.3g", v->accuracy, v->correct, v->total,
             v->max_abs_error);
  else if (isfinite(v->max_abs_error))
    progress(c, "  max abs error of the first output vs FP32 -O0: %.3g", v->max_abs_error);
  return 0;
}

static int measure_sustained(ctx *c) {
  report *r = &c->r;
  static const char *const sources[ONYX_TELEMETRY_SOURCES] = {"energy", "frequency", "temperature"};
  double slice = r->duration / REPORT_MAX_SLICES, t0 = NAN, joules = 0, runs_e = 0;
  bool has[ONYX_TELEMETRY_SOURCES] = {false};
  c->step++;
  progress(c, "sustained run: %.3g s in %d slices, FP32 -O3 at %lld threads, with telemetry", r->duration,
           REPORT_MAX_SLICES, (long long)r->main_threads);
  for (int k = 0; k < REPORT_MAX_SLICES; k++) {
    bench_cmd b = {0};
    bench_begin(c, &b, r->model, 3, slice);
    cmd_add(&b, "--threads=%lld", (long long)r->main_threads);
    cmd_add(&b, "--telemetry");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (k == 0) t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    json_value *j;
    int rc = run_bench(c, &b, &j);
    if (rc) return rc;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    report_slice *s = &r->slices[r->n_slices++];
    point_from(j, &s->pt);
    s->t_end_s = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
    s->joules = num(j, "telemetry.energy_j");
    s->energy_per_inference_j = num(j, "telemetry.energy_per_inference_j");
    s->power_w = s->joules / s->pt.wall_s;
    s->freq_mhz = num(j, "telemetry.freq_mhz");
    s->temp_c = num(j, "telemetry.temp_c");
    s->cpu_utilization = num(j, "telemetry.cpu_utilization");
    for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++) {
      char path[64];
      snprintf(path, sizeof path, "telemetry.not_available.%s", sources[src]);
      const char *why = json_string(json_path(j, path));
      if (!why) has[src] = true;
      else if (!r->why_missing[src][0]) snprintf(r->why_missing[src], sizeof r->why_missing[src], "%s", why);
    }
    if (isfinite(s->joules)) joules += s->joules, runs_e += s->pt.runs;
    json_free(j);
  }
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++)
    if (has[src]) r->why_missing[src][0] = '\0';   /* some slices had it: show those */
  r->sustained_s = r->slices[r->n_slices - 1].t_end_s;
  r->energy_per_inference_j = runs_e > 0 && joules > 0 ? joules / runs_e : NAN;
  r->inferences_per_j = runs_e > 0 && joules > 0 ? runs_e / joules : NAN;
  r->first_runs_per_s = r->slices[0].pt.runs_per_s;
  r->last_runs_per_s = r->slices[r->n_slices - 1].pt.runs_per_s;
  r->first_freq_mhz = r->slices[0].freq_mhz;
  r->last_freq_mhz = r->slices[r->n_slices - 1].freq_mhz;
  progress(c, "  first slice %.1f runs/s, last %.1f runs/s; energy %s, frequency %s, temperature %s",
           r->first_runs_per_s, r->last_runs_per_s, has[0] ? "measured" : "not available",
           has[1] ? "measured" : "not available", has[2] ? "measured" : "not available");
  return 0;
}

/* Loads the model once in this process (no session: nothing that starts
 * threads) to check it, its inputs and -i/--dim early, and to learn whether
 * it leaves the batch free. */
static int check_model(ctx *c) {
  report *r = &c->r;
  onyx_model *m = NULL;
  onyx_status *st = onyx_model_load(r->model, &m);
  if (st) return cli_fail_status(st);
  int rc = inputs_load(&c->in, m);
  onyx_model_value_info vi;
  if (!rc && onyx_model_input_count(m) > 0 && !(st = onyx_model_input_info(m, 0, &vi)) && vi.rank > 0 &&
      vi.dims[0] > 0)
    r->fixed_batch = vi.dims[0];
  onyx_status_free(st);
  onyx_model_destroy(m);
  struct stat sb;
  r->model_bytes = stat(r->model, &sb) ? NAN : (double)sb.st_size;
  return rc;
}

static int run_all(ctx *c) {
  report *r = &c->r;
  int rc = check_model(c);
  if (rc) return rc;
  if (r->compare) {
    char err[512];
    if (!json_parse_file(r->compare, &r->old, err, sizeof err)) return cli_fail("--compare: %s", err);
    if (!json_path(r->old, "variants")) return cli_fail("--compare: '%s' is not an onyx report's JSON", r->compare);
  }
  if (r->labels) {
    char err[512];
    if (!npy_load(r->labels, &c->labels, err, sizeof err)) return cli_fail("--labels: %s", err);
    onyx_dtype d = onyx_tensor_dtype(c->labels);
    if (d != ONYX_DTYPE_INT64 && d != ONYX_DTYPE_INT32)
      return cli_fail("--labels: '%s' holds %s; expected int64 or int32 class labels", r->labels, onyx_dtype_name(d));
  }
  const char *tmpdir = getenv("TMPDIR");
  snprintf(c->tmp, sizeof c->tmp, "%s/onyx-report-XXXXXX", tmpdir && *tmpdir && strlen(tmpdir) < 40 ? tmpdir : "/tmp");
  if (!mkdtemp(c->tmp)) {
    c->tmp[0] = '\0';
    return cli_fail("cannot create a scratch folder: %s", strerror(errno));
  }
  snprintf(c->json_tmp, sizeof c->json_tmp, "%s/bench.json", c->tmp);
  snprintf(c->csv_tmp, sizeof c->csv_tmp, "%s/bench.csv", c->tmp);
  snprintf(c->int8_path, sizeof c->int8_path, "%s/int8.onnx", c->tmp);
  const char *paths[2] = {r->calibration, r->data}, *opts[2] = {"--calibration", "--data"};
  for (int k = 0; k < 2; k++)
    if (paths[k] && !samples_path_ok(paths[k]))
      return cli_fail("%s: '%s' is neither a folder of .npy or .npz files nor a .npy file", opts[k], paths[k]);
  c->calib_dir = r->calibration;
  c->data_dir = r->data;

  int n_var = r->quantize ? 3 : 2;
  c->steps = 1 + (r->quantize ? 1 : 0) + 2 + 2 * n_var + 1;
  for (int k = 0; k < REPORT_VARIANTS; k++)
    r->var[k] = (report_variant){.key = variant_keys[k], .name = variant_names[k], .opt_level = k ? 3 : 0,
                                 .int8 = k == 2, .model_bytes = NAN, .accuracy = NAN, .correct = NAN, .total = NAN,
                                 .max_abs_error = NAN, .eval_rows = NAN};
  r->eval_source = c->data_dir ? "--data" : "seeded random inputs (one run)";
  r->input_batch_note = r->fixed_batch > 0 ? "the model's fixed batch" : "the inputs as given (batch 1 unless --dim sets it)";

  c->step++;
  progress(c, "machine (onyx info)");
  char *info;
  size_t len;
  if ((rc = in_child(c, child_info, NULL, &info, &len))) return rc;
  size_t json_len = info ? strnlen(info, len) : len;
  if (!info || json_len == len) {
    free(info);
    return cli_fail("onyx info printed nothing");
  }
  r->machine_text = strdup(info + json_len + 1);
  info[json_len] = '\0';
  r->machine_json = info;
  if (!r->machine_text) return cli_fail("out of memory");

  if (r->quantize) {
    c->step++;
    progress(c, "quantizing to INT8 (%s%s%s)", r->quantize, c->calib_dir ? ", calibration " : "",
             c->calib_dir ? r->calibration : "");
    char *q;
    if ((rc = in_child(c, child_quantize, NULL, &q, &len))) return rc;
    if (len != sizeof r->quant) {
      free(q);
      return cli_fail("the quantization sent no report");
    }
    memcpy(&r->quant, q, sizeof r->quant);
    free(q);
    r->quant.mode = !strcmp(r->quantize, "static") ? "static" : "dynamic";
    progress(c, "  %.0f -> %.0f bytes; %.0f nodes quantized, %.0f left float", r->quant.bytes_before,
             r->quant.bytes_after, r->quant.nodes_quantized, r->quant.nodes_float);
  }
  if ((rc = measure_batch_sweep(c)) || (rc = measure_thread_sweep(c))) return rc;
  for (int k = 0; k < n_var; k++)
    if ((rc = measure_variant(c, k))) return rc;
  return measure_sustained(c);
}

int cmd_report(int argc, char **argv) {
  ctx *c = calloc(1, sizeof *c);
  if (!c) return cli_fail("out of memory");
  int rc = parse_args(argc, argv, c);
  if (rc) {
    rc = rc < 0 ? 0 : rc;
    goto done;
  }
  time_t now = time(NULL);
  struct tm tm;
  strftime(c->r.created, sizeof c->r.created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  if ((rc = run_all(c)) || (rc = report_write_json(&c->r)) || (rc = report_write_html(&c->r))) goto done;
  if (!c->quiet) fprintf(stderr, "onyx report: done\n");
  printf("wrote %s\nwrote %s\n", c->r.html_path, c->r.json_path);

done:
  remove_scratch(c);
  for (int k = 0; k < REPORT_VARIANTS; k++) free(c->eval[k]);
  onyx_tensor_free(c->labels);
  free(c->r.json_path);
  free(c->r.machine_text);
  free(c->r.machine_json);
  json_free(c->r.old);
  inputs_deinit(&c->in);
  free(c);
  return rc;
}
