/* cmd_run.c — `onyx run`: runs a model once (or --repeat times) on inputs
 * read from .npy / ONNX .pb files or filled with seeded random data, and
 * prints a summary of each output or writes it to a folder.
 *
 * The model is loaded first on its own so its declared inputs (kind, dtype,
 * symbolic dims) are known before the session is built; symbolic dims of
 * random inputs come from --dim, else from the inputs given in files, else
 * 1, so a model whose inputs share a "batch" dim runs without any flags.
 * Input names are checked up front (so the message lists the real ones);
 * dtype and shape checks are left to the library, whose message is what the
 * user sees. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../src/base/half.h" /* header-only fp16/bf16 conversion, shared with the library */
#include "cli.h"
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
    "  --threads N            intra-op threads (default 0: one per core)\n"
    "  --providers LIST       execution providers in priority order, e.g. dnnl,cpu\n"
    "                         (default: all available; see onyx info)\n"
    "  --opt-level N          graph optimization level 0-3 (default 3)\n"
    "  --dim NAME=VALUE       size of symbolic dim NAME for random inputs\n"
    "                         (default: as bound by -i inputs, else 1)\n"
    "  --seed N               seed of the random inputs (default 0)\n"
    "  --labels FILE.npy      int32/int64 class labels: print the accuracy of\n"
    "                         the argmax over the last dim of the first output\n"
    "  --repeat N             run N times and print the mean latency\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status 0 on success; on failure one line 'onyx: error: ...' on\n"
    "stderr and status 1 (2 for a bad command line).\n";

typedef struct feed {
  const char *name, *path;
} feed;

/* A symbolic dim's size: from --dim (user) or bound by a fed input. */
typedef struct sym_dim {
  const char *name;
  int64_t value;
  bool from_user;
} sym_dim;

typedef struct run_args {
  const char *model, *outdir, *labels, *providers;
  int n_feeds, n_syms, cap_syms;
  feed *feeds;
  sym_dim *syms;
  int64_t threads, repeat, seed, opt_level;
  bool timed;
} run_args;

static sym_dim *find_sym(run_args *a, const char *name) {
  for (int i = 0; i < a->n_syms; i++)
    if (!strcmp(a->syms[i].name, name)) return &a->syms[i];
  return NULL;
}

/* Splits "NAME=VALUE" at the first '='; false when there is none or NAME is empty. */
static bool split_eq(char *s, const char **name, const char **value) {
  char *eq = strchr(s, '=');
  if (!eq || eq == s) return false;
  *eq = '\0';
  *name = s;
  *value = eq + 1;
  return true;
}

static int parse_args(int argc, char **argv, run_args *a) {
  a->feeds = calloc((size_t)argc, sizeof *a->feeds);
  a->syms = calloc((size_t)argc, sizeof *a->syms);
  if (!a->feeds || !a->syms) return cli_fail("out of memory");
  a->cap_syms = argc;
  a->repeat = 1;
  a->opt_level = -1;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL, *opt = argv[i];
    if (cli_is_help(opt)) {
      fputs(usage, stdout);
      return -1;
    }
    bool is_in = cli_option(argc, argv, &i, "-i", &v) || cli_option(argc, argv, &i, "--input", &v);
    bool is_out = !is_in && (cli_option(argc, argv, &i, "-o", &v) ||
                             cli_option(argc, argv, &i, "--output-dir", &v));
    if (is_in || is_out) {
      if (!v) return cli_usage_error("%s needs a value", opt);
      if (is_out) {
        a->outdir = v;
        continue;
      }
      feed *f = &a->feeds[a->n_feeds];
      if (!split_eq((char *)v, &f->name, &f->path) || !*f->path)
        return cli_usage_error("%s expects NAME=FILE, got '%s'", opt, v);
      for (int k = 0; k < a->n_feeds; k++)
        if (!strcmp(a->feeds[k].name, f->name))
          return cli_usage_error("input '%s' is given twice", f->name);
      a->n_feeds++;
    } else if (cli_option(argc, argv, &i, "--dim", &v)) {
      const char *name, *val;
      int64_t n;
      if (!v || !split_eq((char *)v, &name, &val) || !cli_parse_int(val, 0, INT32_MAX, &n))
        return cli_usage_error("--dim expects NAME=VALUE with VALUE a non-negative integer, got '%s'",
                               v ? v : "");
      if (find_sym(a, name)) return cli_usage_error("--dim '%s' is given twice", name);
      a->syms[a->n_syms++] = (sym_dim){name, n, true};
    } else if (cli_option(argc, argv, &i, "--threads", &v)) {
      if (!cli_parse_int(v, 0, 4096, &a->threads))
        return cli_usage_error("--threads expects an integer in 0..4096, got '%s'", v ? v : "");
    } else if (cli_option(argc, argv, &i, "--providers", &v)) {
      if (!v || !*v) return cli_usage_error("--providers needs a comma-separated list");
      a->providers = v;
    } else if (cli_option(argc, argv, &i, "--opt-level", &v)) {
      if (!cli_parse_int(v, 0, 3, &a->opt_level))
        return cli_usage_error("--opt-level expects 0, 1, 2 or 3, got '%s'", v ? v : "");
    } else if (cli_option(argc, argv, &i, "--seed", &v)) {
      if (!cli_parse_int(v, 0, INT64_MAX, &a->seed))
        return cli_usage_error("--seed expects a non-negative integer, got '%s'", v ? v : "");
    } else if (cli_option(argc, argv, &i, "--repeat", &v)) {
      if (!cli_parse_int(v, 1, 1000000000, &a->repeat))
        return cli_usage_error("--repeat expects a positive integer, got '%s'", v ? v : "");
      a->timed = true;
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

/* ---- inputs ------------------------------------------------------------------ */

/* Reads FILE as .npy when it has the .npy magic, else as an ONNX .pb. */
static int load_feed(const feed *f, onyx_tensor **out) {
  FILE *fp = fopen(f->path, "rb");
  if (!fp) return cli_fail("input '%s': cannot open '%s': %s", f->name, f->path, strerror(errno));
  unsigned char head[6];
  size_t n = fread(head, 1, sizeof head, fp);
  fclose(fp);
  char err[512];
  if (npy_has_magic(head, n)) {
    if (!npy_load(f->path, out, err, sizeof err)) return cli_fail("input '%s': %s", f->name, err);
    return 0;
  }
  onyx_status *s = onyx_tensor_load_pb(f->path, out, NULL);
  if (s) {
    cli_fail("input '%s': %s", f->name, onyx_status_message(s));
    onyx_status_free(s);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

/* splitmix64: small, seedable, good enough for test inputs. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Fills t with random values. Floats are built from as many random bits as
 * the format holds exactly, so they stay below 1 after rounding. */
static bool fill_random(onyx_tensor *t, uint64_t *rng) {
  int64_t n = onyx_tensor_numel(t);
  void *p = onyx_tensor_data(t);
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = next_random(rng);
    uint64_t small = r % 10;
    switch (onyx_tensor_dtype(t)) {
      case ONYX_DTYPE_FLOAT: ((float *)p)[i] = (float)(r >> 40) * 0x1p-24f; break;
      case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = (double)(r >> 11) * 0x1p-53; break;
      case ONYX_DTYPE_FLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_f16((float)(r >> 53) * 0x1p-11f); break;
      case ONYX_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_bf16((float)(r >> 56) * 0x1p-8f); break;
      case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)small; break;
      case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)small; break;
      case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)small; break;
      case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: ((uint64_t *)p)[i] = small; break;
      case ONYX_DTYPE_BOOL: ((uint8_t *)p)[i] = (uint8_t)(r >> 63); break;
      default: return false;
    }
  }
  return true;
}

/* Binds the symbolic dims of a fed input to its actual sizes, unless --dim
 * or an earlier input already did (the library checks they agree). */
static int bind_syms(run_args *a, const onyx_model_value_info *info, onyx_tensor *t) {
  if (onyx_tensor_kind(t) != ONYX_VALUE_TENSOR || info->rank != onyx_tensor_rank(t)) return 0;
  for (int d = 0; d < info->rank; d++) {
    if (!info->dim_names[d] || find_sym(a, info->dim_names[d])) continue;
    if (a->n_syms == a->cap_syms) {
      sym_dim *p = realloc(a->syms, (size_t)(a->cap_syms * 2) * sizeof *p);
      if (!p) return cli_fail("out of memory");
      a->syms = p;
      a->cap_syms *= 2;
    }
    a->syms[a->n_syms++] = (sym_dim){info->dim_names[d], onyx_tensor_dims(t)[d], false};
  }
  return 0;
}

static int make_random(run_args *a, const onyx_model_value_info *info, uint64_t *rng,
                       onyx_tensor **out) {
  if (info->kind != ONYX_VALUE_TENSOR)
    return cli_fail("input '%s' is %s; onyx cannot make one up, give it with -i %s=FILE",
                    info->name, info->kind == ONYX_VALUE_SEQUENCE ? "a sequence" : "an optional",
                    info->name);
  if (info->dtype == ONYX_DTYPE_UNDEFINED || info->rank < 0)
    return cli_fail("input '%s' has no declared %s; give it with -i %s=FILE", info->name,
                    info->rank < 0 ? "shape" : "dtype", info->name);
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0; d < info->rank; d++) {
    const sym_dim *s = info->dim_names[d] ? find_sym(a, info->dim_names[d]) : NULL;
    dims[d] = info->dims[d] >= 0 ? info->dims[d] : s ? s->value : 1;
  }
  onyx_status *st = onyx_tensor_create(info->dtype, info->rank, dims, out);
  if (st) return cli_fail_status(st);
  if (!fill_random(*out, rng)) {
    onyx_tensor_free(*out);
    *out = NULL;
    return cli_fail("input '%s' has dtype %s, which onyx cannot fill with random data; give it "
                    "with -i %s=FILE", info->name, onyx_dtype_name(info->dtype), info->name);
  }
  return 0;
}

/* Every --dim must name a symbolic dim of some input: a typo should not
 * silently run with the default. */
static int check_user_dims(const run_args *a, const onyx_model_value_info *infos, int n) {
  for (int k = 0; k < a->n_syms; k++) {
    bool found = false;
    for (int i = 0; i < n && !found; i++)
      for (int d = 0; d < infos[i].rank && !found; d++)
        found = infos[i].dim_names[d] && !strcmp(infos[i].dim_names[d], a->syms[k].name);
    if (!found) return cli_fail("--dim '%s' names no symbolic dim of the model's inputs", a->syms[k].name);
  }
  return 0;
}

/* A -i name that is no input would otherwise surface only after random data
 * was made for the real inputs, possibly failing there first; say it now,
 * listing the names the model has. */
static int check_feed_names(const run_args *a, const onyx_model_value_info *infos, int n) {
  for (int f = 0; f < a->n_feeds; f++) {
    bool found = false;
    for (int i = 0; i < n && !found; i++) found = !strcmp(infos[i].name, a->feeds[f].name);
    if (found) continue;
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list; i++)
      len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", infos[i].name);
    return cli_fail("'%s' is not an input of the model (its inputs: %s)", a->feeds[f].name,
                    n ? list : "none");
  }
  return 0;
}

/* ---- outputs ------------------------------------------------------------------ */

static double elem_f64(onyx_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: return ((const float *)p)[i];
    case ONYX_DTYPE_DOUBLE: return ((const double *)p)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_INT8: return ((const int8_t *)p)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)p)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)p)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case ONYX_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case ONYX_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return NAN;
  }
}

/* The dtypes elem_f64 reads. */
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
  const void *p = onyx_tensor_data(t);
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  int64_t nans = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = elem_f64(dt, p, i);
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
    const void *p = onyx_tensor_data(out), *l = onyx_tensor_data(lab);
    int64_t correct = 0;
    for (int64_t r = 0; r < rows; r++) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; c++)
        if (elem_f64(od, p, r * classes + c) > elem_f64(od, p, r * classes + best)) best = c;
      correct += (int64_t)elem_f64(ld, l, r) == best;
    }
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

int cmd_run(int argc, char **argv) {
  run_args a = {0};
  onyx_model *model = NULL;
  onyx_session *sess = NULL;
  onyx_options *opts = NULL;
  onyx_model_value_info *infos = NULL;
  onyx_tensor **inputs = NULL, **outputs = NULL;
  const char **in_names = NULL, **out_names = NULL;
  char (*stems)[STEM_MAX + 16] = NULL;
  int n_in = 0, n_out = 0, n_fed = 0, rc;
  onyx_status *st;

  if ((rc = parse_args(argc, argv, &a))) {
    rc = rc < 0 ? 0 : rc;
    goto done;
  }
  if ((st = onyx_model_load(a.model, &model))) {
    rc = cli_fail_status(st);
    goto done;
  }
  /* Declared inputs, read before the session takes the model. The strings
   * they borrow live in the model, which the session keeps. */
  n_in = onyx_model_input_count(model);
  infos = calloc((size_t)n_in + 1, sizeof *infos);
  inputs = calloc((size_t)(n_in + a.n_feeds) + 1, sizeof *inputs);
  in_names = calloc((size_t)(n_in + a.n_feeds) + 1, sizeof *in_names);
  if (!infos || !inputs || !in_names) {
    rc = cli_fail("out of memory");
    goto done;
  }
  for (int i = 0; i < n_in; i++)
    if ((st = onyx_model_input_info(model, i, &infos[i]))) {
      rc = cli_fail_status(st);
      goto done;
    }
  if ((rc = check_feed_names(&a, infos, n_in)) || (rc = check_user_dims(&a, infos, n_in)))
    goto done;
  for (int f = 0; f < a.n_feeds; f++) {
    if ((rc = load_feed(&a.feeds[f], &inputs[n_fed]))) goto done;
    in_names[n_fed++] = a.feeds[f].name;
    for (int i = 0; i < n_in; i++)
      if (!strcmp(infos[i].name, a.feeds[f].name) &&
          (rc = bind_syms(&a, &infos[i], inputs[n_fed - 1])))
        goto done;
  }

  if ((st = onyx_options_create(&opts))) {
    rc = cli_fail_status(st);
    goto done;
  }
  onyx_options_set_intra_op_threads(opts, (int)a.threads);
  if (a.opt_level >= 0) onyx_options_set_optimization_level(opts, (int)a.opt_level);
  if (a.providers && (st = onyx_options_set_providers(opts, a.providers))) {
    rc = cli_fail_status(st);
    goto done;
  }
  st = onyx_session_create_from_model(model, opts, &sess);
  model = NULL;   /* the session owns it now, also on failure */
  if (st) {
    rc = cli_fail_status(st);
    goto done;
  }

  /* Inputs not given: seeded random data. */
  uint64_t rng = (uint64_t)a.seed;
  int n_given = n_fed;
  for (int i = 0; i < n_in; i++) {
    bool given = false;
    for (int f = 0; f < n_given && !given; f++) given = !strcmp(in_names[f], infos[i].name);
    if (given) continue;
    if ((rc = make_random(&a, &infos[i], &rng, &inputs[n_fed]))) goto done;
    in_names[n_fed++] = infos[i].name;
  }

  n_out = onyx_session_output_count(sess);
  outputs = calloc((size_t)n_out + 1, sizeof *outputs);
  out_names = calloc((size_t)n_out + 1, sizeof *out_names);
  stems = calloc((size_t)n_out + 1, sizeof *stems);
  if (!outputs || !out_names || !stems) {
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
  for (int64_t r = 0; r < a.repeat; r++) {
    for (int i = 0; i < n_out; i++) {
      onyx_tensor_free(outputs[i]);
      outputs[i] = NULL;
    }
    double t0 = now_ms();
    st = onyx_session_run(sess, n_fed, in_names, inputs, n_out, NULL, outputs);
    double dt = now_ms() - t0;
    if (st) {
      rc = cli_fail_status(st);
      goto done;
    }
    total += dt;
    best = dt < best ? dt : best;
    worst = dt > worst ? dt : worst;
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
  for (int i = 0; outputs && i < n_out; i++) onyx_tensor_free(outputs[i]);
  for (int i = 0; inputs && i < n_fed; i++) onyx_tensor_free(inputs[i]);
  free(outputs);
  free(out_names);
  free(stems);
  free(inputs);
  free(in_names);
  free(infos);
  onyx_session_destroy(sess);
  onyx_options_destroy(opts);
  onyx_model_destroy(model);
  free(a.feeds);
  free(a.syms);
  return rc;
}
