/* cmd_run.c — `onyx run`: runs a model once (or --repeat times) on inputs
 * read from .npy / ONNX .pb files or filled with seeded random data, and
 * prints a summary of each output or writes it to a folder.
 *
 * The model is loaded first on its own so its declared inputs (kind, dtype,
 * symbolic dims) are known before the session is built; inputs.c, shared
 * with `onyx bench`, turns them and the -i/--dim options into tensors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "inputs.h"
#include "npy.h"

static const char usage[] =
    "usage: onyx run MODEL [options]\n"
    "\n"
    "Runs MODEL (.onnx) and prints one line per output: name, dtype, shape,\n"
    "min/max/mean. Inputs not given with -i are filled with random data of the\n"
    "declared dtype and shape (floats uniform in [0,1), integers in [0,10),\n"
    "bools 0/1).\n"
    "\n"
    "options:\n"
    "  -i, --input NAME=FILE  feed input NAME from FILE: .npy, or an ONNX\n"
    "                         TensorProto/SequenceProto/OptionalProto .pb\n"
    "  -o, --output-dir DIR   write each output to DIR/<name>.npy (or .pb when\n"
    "                         .npy cannot hold it: bfloat16, strings, sequences,\n"
    "                         optionals); characters outside [A-Za-z0-9._-] in\n"
    "                         names become '_'. Prints the paths written.\n"
    CLI_SESSION_FLAGS_HELP
    "  --dim NAME=VALUE       size of symbolic dim NAME for random inputs\n"
    "                         (default: as bound by -i inputs, else 1)\n"
    "  --seed N               seed of the random inputs (default 0)\n"
    "  --labels FILE.npy      int32/int64 class labels: print the accuracy of\n"
    "                         the argmax over the last dim of the first output\n"
    "  --repeat N             run N times and print the mean latency\n"
    "  --io-binding           run through an I/O binding (ORT's IoBinding): inputs\n"
    "                         bound once, outputs allocated by onyx and reused by\n"
    "                         every repeated run\n"
    "  --bind-device DEV      with --io-binding: put the inputs and outputs in\n"
    "                         memory space DEV (e.g. cuda:0; default cpu): inputs\n"
    "                         are copied there once, outputs copied back to print\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status 0 on success; on failure one line 'onyx: error: ...' on\n"
    "stderr and status 1 (2 for a bad command line).\n";

typedef struct run_args {
  const char *model, *outdir, *labels;
  cli_inputs in;
  cli_session_flags session;
  int64_t repeat;
  bool timed;
  bool io_binding;
  const char *bind_device;
} run_args;

static int parse_args(int argc, char **argv, run_args *a) {
  int rc = inputs_init(&a->in, argc);
  if (rc) return rc;
  a->repeat = 1;
  a->session = (cli_session_flags)CLI_SESSION_FLAGS_INIT;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL, *opt = argv[i];
    bool used;
    if ((rc = inputs_run_option(&a->in, &a->session, usage, argc, argv, &i, &used))) return rc;
    if (used) continue;
    if (cli_option(argc, argv, &i, "-o", &v) || cli_option(argc, argv, &i, "--output-dir", &v)) {
      if (!v) return cli_usage_error("%s needs a value", opt);
      a->outdir = v;
    } else if (cli_option(argc, argv, &i, "--repeat", &v)) {
      if (!cli_parse_int(v, 1, 1000000000, &a->repeat))
        return cli_usage_error("--repeat expects a positive integer, got '%s'", v ? v : "");
      a->timed = true;
    } else if (!strcmp(opt, "--io-binding")) {
      a->io_binding = true;
    } else if (cli_option(argc, argv, &i, "--bind-device", &v)) {
      if (!v) return cli_usage_error("--bind-device needs a memory space (e.g. cpu, cuda:0)");
      a->bind_device = v;
      a->io_binding = true;
    } else if (cli_option(argc, argv, &i, "--labels", &v)) {
      if (!v) return cli_usage_error("--labels needs a value");
      a->labels = v;
    } else if (opt[0] == '-' && opt[1]) {
      return cli_usage_error("unknown option '%s' (see onyx run --help)", opt);
    } else if (a->model) {
      return cli_usage_error("unexpected argument '%s' (the model is '%s')", opt, a->model);
    } else {
      a->model = opt;
    }
  }
  if (!a->model) return cli_usage_error("no model given (usage: onyx run MODEL [options])");
  return 0;
}

/* ---- outputs ------------------------------------------------------------------ */

/* The dtypes onyx_tensor_get_f64 reads. */
static bool is_numeric(onyx_dtype dt) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: case ONYX_DTYPE_DOUBLE: case ONYX_DTYPE_FLOAT16:
    case ONYX_DTYPE_BFLOAT16: case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL:
    case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16: case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32:
    case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: return true;
    default: return false;
  }
}

static void print_shape(FILE *f, const onyx_tensor *t) {
  fputc('[', f);
  for (int d = 0; d < onyx_tensor_rank(t); d++)
    fprintf(f, d ? ",%lld" : "%lld", (long long)onyx_tensor_dims(t)[d]);
  fputc(']', f);
}

/* "float32 [1,10] min=... max=... mean=..." for one tensor (no newline). */
static void print_tensor_summary(onyx_tensor *t) {
  onyx_dtype dt = onyx_tensor_dtype(t);
  printf("%s ", onyx_dtype_name(dt));
  print_shape(stdout, t);
  int64_t n = onyx_tensor_numel(t);
  if (!n || !is_numeric(dt)) return;
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  int64_t nans = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = onyx_tensor_get_f64(t, i);
    if (isnan(v)) {
      nans++;
      continue;
    }
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    sum += v;
  }
  if (nans < n) printf(" min=%.6g max=%.6g mean=%.6g", lo, hi, sum / (double)(n - nans));
  if (nans) printf(" nan=%lld", (long long)nans);
}

/* A value of any kind; sequence elements go on their own lines, indented
 * by depth (an optional may hold a sequence). */
static void print_value(onyx_tensor *t, int depth) {
  int n = onyx_tensor_elem_count(t);
  switch (onyx_tensor_kind(t)) {
    case ONYX_VALUE_TENSOR: print_tensor_summary(t); break;
    case ONYX_VALUE_OPTIONAL:
      printf("optional ");
      if (n) print_value(onyx_tensor_elem(t, 0), depth);
      else printf("(empty)");
      break;
    case ONYX_VALUE_SEQUENCE:
      printf("sequence of %d", n);
      for (int i = 0; i < n; i++) {
        printf("\n%*s[%d] ", 2 * (depth + 1), "", i);
        print_value(onyx_tensor_elem(t, i), depth + 1);
      }
      break;
  }
}

static void print_output(const char *name, onyx_tensor *t) {
  printf("%s: ", name);
  print_value(t, 0);
  putchar('\n');
}

/* mkdir -p */
static int make_dir(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return cli_fail("output folder path is too long");
  for (char *p = buf + 1;; p++) {
    bool last = !*p;
    if (*p != '/' && !last) continue;
    *p = '\0';
    if (mkdir(buf, 0777) && errno != EEXIST)
      return cli_fail("cannot create folder '%s': %s", buf, strerror(errno));
    if (last) break;
    *p = '/';
  }
  struct stat st;
  if (stat(path, &st) || !S_ISDIR(st.st_mode)) return cli_fail("'%s' is not a folder", path);
  return 0;
}

#define STEM_MAX 200

/* File stems for the outputs: names with unsafe characters replaced (so no
 * name can leave the folder), made unique by appending _<index> to a stem
 * an earlier output already took. */
static void output_stems(const char *const *names, int n, char (*stems)[STEM_MAX + 16]) {
  for (int i = 0; i < n; i++) {
    char *buf = stems[i];
    snprintf(buf, STEM_MAX + 1, "%s", *names[i] ? names[i] : "output");
    for (char *p = buf; *p; p++)
      if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-'))
        *p = '_';
    for (int k = 0; k < i; k++)
      if (!strcmp(stems[k], buf)) {
        size_t len = strlen(buf);
        snprintf(buf + len, STEM_MAX + 16 - len, "_%d", i);
        break;
      }
  }
}

static int write_output(const char *dir, const char *name, const char *stem, onyx_tensor *t) {
  char path[4400];
  bool npy = onyx_tensor_kind(t) == ONYX_VALUE_TENSOR && npy_dtype_supported(onyx_tensor_dtype(t));
  snprintf(path, sizeof path, "%s/%s.%s", dir, stem, npy ? "npy" : "pb");
  if (npy) {
    char err[512];
    if (!npy_save(path, t, err, sizeof err)) return cli_fail("output '%s': %s", name, err);
  } else {
    onyx_status *s = onyx_tensor_save_pb(t, name, path);
    if (s) {
      cli_fail("output '%s': %s", name, onyx_status_message(s));
      onyx_status_free(s);
      return CLI_EXIT_FAILURE;
    }
  }
  printf("%s\n", path);
  return 0;
}

/* accuracy of argmax over the last dim of `out` against labels. */
static int report_accuracy(const char *labels_path, const char *out_name, onyx_tensor *out) {
  char err[512];
  onyx_tensor *lab = NULL;
  if (!npy_load(labels_path, &lab, err, sizeof err)) return cli_fail("--labels: %s", err);
  int rc = 0;
  onyx_dtype ld = onyx_tensor_dtype(lab), od = onyx_tensor_dtype(out);
  int rank = onyx_tensor_kind(out) == ONYX_VALUE_TENSOR ? onyx_tensor_rank(out) : 0;
  int64_t classes = rank ? onyx_tensor_dims(out)[rank - 1] : 0;
  int64_t rows = classes ? onyx_tensor_numel(out) / classes : 0;
  if (ld != ONYX_DTYPE_INT64 && ld != ONYX_DTYPE_INT32) {
    rc = cli_fail("--labels: '%s' holds %s; expected int64 or int32 class labels", labels_path,
                  onyx_dtype_name(ld));
  } else if (!rank || !classes || !is_numeric(od)) {
    rc = cli_fail("--labels: output '%s' is not a numeric tensor with a non-empty last dim",
                  out_name);
  } else if (onyx_tensor_numel(lab) != rows) {
    rc = cli_fail("--labels: '%s' has %lld labels, but output '%s' has %lld rows", labels_path,
                  (long long)onyx_tensor_numel(lab), out_name, (long long)rows);
  } else {
    int64_t correct = cli_count_correct(out, classes, rows, lab);
    printf("accuracy: %.2f%% (%lld/%lld)\n", rows ? 100.0 * (double)correct / (double)rows : 0.0,
           (long long)correct, (long long)rows);
  }
  onyx_tensor_free(lab);
  return rc;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- the command ---------------------------------------------------------------- */

/* Binds the inputs (copied once into the --bind-device space, else as they
 * are) and every output (allocated by onyx in that space, default cpu). */
static int bind(onyx_session *s, const run_args *a, int n_out, const char **out_names, onyx_io_binding **b,
                onyx_tensor **bound_in) {
  const char *dev = a->bind_device ? a->bind_device : "cpu";
  onyx_status *st = onyx_io_binding_create(s, b);
  for (int i = 0; !st && i < a->in.n; i++) {
    onyx_tensor *t = a->in.tensors[i];
    if (strcmp(dev, onyx_tensor_device(t))) {
      st = onyx_session_tensor_create(s, dev, onyx_tensor_dtype(t), onyx_tensor_rank(t), onyx_tensor_dims(t),
                                      &bound_in[i]);
      if (!st) st = onyx_tensor_copy(bound_in[i], t);
      if (!st) t = bound_in[i];
    }
    if (!st) st = onyx_io_binding_bind_input(*b, a->in.names[i], t);
  }
  for (int i = 0; !st && i < n_out; i++) st = onyx_io_binding_bind_output_to_device(*b, out_names[i], dev);
  return st ? cli_fail_status(st) : 0;
}

int cmd_run(int argc, char **argv) {
  run_args a = {0};
  onyx_io_binding *binding = NULL;
  onyx_tensor **bound_in = NULL;
  onyx_model *model = NULL;
  onyx_session *sess = NULL;
  onyx_options *opts = NULL;
  onyx_tensor **outputs = NULL;
  const char **out_names = NULL;
  char (*stems)[STEM_MAX + 16] = NULL;
  int n_out = 0, rc;
  onyx_status *st;

  if ((rc = parse_args(argc, argv, &a))) {
    rc = rc < 0 ? 0 : rc;
    goto done;
  }
  if ((st = onyx_model_load(a.model, &model))) {
    rc = cli_fail_status(st);
    goto done;
  }
  if ((rc = inputs_load(&a.in, model))) goto done;

  if ((st = onyx_options_create(&opts))) {
    rc = cli_fail_status(st);
    goto done;
  }
  if ((rc = cli_session_apply(&a.session, a.session.threads, opts))) goto done;
  st = onyx_session_create_from_model(model, opts, &sess);
  model = NULL;   /* the session owns it now, also on failure */
  if (st) {
    rc = cli_fail_status(st);
    goto done;
  }

  /* Inputs not given: seeded random data, made once the session exists so
   * its errors (unsupported ops) come first. */
  if ((rc = inputs_make_random(&a.in))) goto done;

  n_out = onyx_session_output_count(sess);
  outputs = calloc((size_t)n_out + 1, sizeof *outputs);
  out_names = calloc((size_t)n_out + 1, sizeof *out_names);
  stems = calloc((size_t)n_out + 1, sizeof *stems);
  bound_in = calloc((size_t)a.in.n + 1, sizeof *bound_in);
  if (!outputs || !out_names || !stems || !bound_in) {
    rc = cli_fail("out of memory");
    goto done;
  }
  for (int i = 0; i < n_out; i++) {
    onyx_value_info vi;
    if ((st = onyx_session_output_info(sess, i, &vi))) {
      rc = cli_fail_status(st);
      goto done;
    }
    out_names[i] = vi.name;
  }

  double total = 0, best = INFINITY, worst = 0;
  if (a.io_binding && (rc = bind(sess, &a, n_out, out_names, &binding, bound_in))) goto done;
  for (int64_t r = 0; r < a.repeat; r++) {
    for (int i = 0; i < n_out; i++) {
      onyx_tensor_free(outputs[i]);
      outputs[i] = NULL;
    }
    double t0 = now_ms();
    st = binding ? onyx_session_run_with_binding(sess, NULL, binding)
                 : onyx_session_run(sess, a.in.n, a.in.names, a.in.tensors, n_out, NULL, outputs);
    double dt = now_ms() - t0;
    if (st) {
      rc = cli_fail_status(st);
      goto done;
    }
    total += dt;
    best = dt < best ? dt : best;
    worst = dt > worst ? dt : worst;
  }
  /* the binding's outputs, wherever they live, as host tensors to print */
  for (int i = 0; binding && i < n_out; i++) {
    onyx_tensor *b = onyx_io_binding_output(binding, i);
    if ((st = onyx_session_tensor_create(sess, "cpu", onyx_tensor_dtype(b), onyx_tensor_rank(b), onyx_tensor_dims(b),
                                         &outputs[i])) ||
        (st = onyx_tensor_copy(outputs[i], b))) {
      rc = cli_fail_status(st);
      goto done;
    }
  }

  if (a.outdir && (rc = make_dir(a.outdir))) goto done;
  output_stems(out_names, n_out, stems);
  for (int i = 0; i < n_out; i++) {
    if (!a.outdir) print_output(out_names[i], outputs[i]);
    else if ((rc = write_output(a.outdir, out_names[i], stems[i], outputs[i]))) goto done;
  }
  if (a.labels) {
    if (!n_out) {
      rc = cli_fail("--labels: the model has no outputs");
      goto done;
    }
    if ((rc = report_accuracy(a.labels, out_names[0], outputs[0]))) goto done;
  }
  if (a.timed)
    printf("latency: mean %.3f ms, min %.3f ms, max %.3f ms over %lld runs\n",
           total / (double)a.repeat, best, worst, (long long)a.repeat);

done:
  onyx_io_binding_destroy(binding);
  for (int i = 0; bound_in && i < a.in.n; i++) onyx_tensor_free(bound_in[i]);
  free(bound_in);
  for (int i = 0; outputs && i < n_out; i++) onyx_tensor_free(outputs[i]);
  free(outputs);
  free(out_names);
  free(stems);
  onyx_session_destroy(sess);
  onyx_options_destroy(opts);
  onyx_model_destroy(model);
  inputs_deinit(&a.in);
  return rc;
}
