/* cmd_compare.c — `onyx compare A.onnx B.onnx --data DIR`: runs two models
 * (typically a float model and its quantized version) on the same inputs and
 * prints, per output, the max abs error, MSE, cosine similarity and top-1
 * agreement of B against A, and accuracy against --labels. With
 * --per-tensor both run observed and every intermediate tensor of A is
 * matched in B by name, and with B's DequantizeLinear(QuantizeLinear(X))
 * output (X_DequantizeLinear_Output), to find the layers that lose the most
 * (ORT's qdq_loss_debug idea). Statistics over several sample batches: max
 * abs is the maximum, MSE and cosine the element-weighted means. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"
#include "samples.h"

static const char usage[] =
    "usage: onyx compare A.onnx B.onnx --data DIR [options]\n"
    "\n"
    "Runs both models on the samples in DIR (.npy; one input: DIR/*.npy, several:\n"
    "DIR/<input>/*.npy) and prints how far B's outputs are from A's.\n"
    "\n"
    "options:\n"
    "  --data DIR        the inputs (required)\n"
    "  --labels FILE     .npy of int class labels, one per sample: accuracy of both\n"
    "                    (argmax over the last dim of the first output)\n"
    "  --per-tensor      also the error of every intermediate tensor of A found in B\n"
    "                    (runs both on the cpu provider, which shows every tensor)\n"
    "  --limit N         use at most N samples\n"
    "  --threads N       intra-op threads (default 0: one per core)\n"
    "  -h, --help        show this help\n";

/* Error statistics of one matched pair over all batches. */
typedef struct stat_acc {
  char *name, *match;
  int64_t n;
  double max_abs, sq, cos_w, ref_max;
} stat_acc;

typedef struct stats {
  int n, cap;
  stat_acc *v;
} stats;

static stat_acc *stat_get(stats *s, const char *name, const char *match) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].name, name) && !strcmp(s->v[i].match, match)) return &s->v[i];
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 32;
    stat_acc *nv = realloc(s->v, (size_t)cap * sizeof *nv);
    if (!nv) return NULL;
    s->v = nv;
    s->cap = cap;
  }
  stat_acc *a = &s->v[s->n];
  memset(a, 0, sizeof *a);
  a->name = strdup(name);
  a->match = strdup(match);
  if (!a->name || !a->match) return NULL;
  s->n++;
  return a;
}

static onyx_status *stat_add(stats *s, const char *name, const char *match, const onyx_tensor *ref,
                             const onyx_tensor *x) {
  onyx_tensor_error e;
  onyx_status *st = onyx_tensor_error_get(ref, x, &e);
  if (st) return st;
  stat_acc *a = stat_get(s, name, match);
  if (!a) return onyx_status_create(ONYX_ERR_OUT_OF_MEMORY, "out of memory");
  a->max_abs = fmax(a->max_abs, e.max_abs);
  a->ref_max = fmax(a->ref_max, e.ref_max_abs);
  a->sq += e.mse * (double)e.n;
  a->cos_w += e.cosine * (double)e.n;
  a->n += e.n;
  return NULL;
}

static void stats_free(stats *s) {
  for (int i = 0; i < s->n; i++) free(s->v[i].name), free(s->v[i].match);
  free(s->v);
}

/* Tensors of one observed run of A, by name. */
typedef struct tensor_set {
  int n, cap;
  char **names;
  onyx_tensor **t;
} tensor_set;

static onyx_status *keep_tensor(void *arg, const char *name, const onyx_tensor *t) {
  tensor_set *ts = arg;
  if (onyx_tensor_dtype(t) != ONYX_DTYPE_FLOAT) return NULL;
  if (ts->n == ts->cap) {
    int cap = ts->cap ? 2 * ts->cap : 64;
    char **nn = realloc(ts->names, (size_t)cap * sizeof *nn);
    if (nn) ts->names = nn;
    onyx_tensor **nt = realloc(ts->t, (size_t)cap * sizeof *nt);
    if (nt) ts->t = nt;
    if (!nn || !nt) return onyx_status_create(ONYX_ERR_OUT_OF_MEMORY, "out of memory");
    ts->cap = cap;
  }
  int rank = onyx_tensor_rank(t);
  onyx_tensor *c;
  onyx_status *s = onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, onyx_tensor_dims(t), &c);
  if (s) return s;
  memcpy(onyx_tensor_data(c), onyx_tensor_data((onyx_tensor *)t), onyx_tensor_nbytes(c));
  ts->names[ts->n] = strdup(name);
  ts->t[ts->n++] = c;
  return NULL;
}

static void tensor_set_clear(tensor_set *ts) {
  for (int i = 0; i < ts->n; i++) free(ts->names[i]), onyx_tensor_free(ts->t[i]);
  ts->n = 0;
}

typedef struct match_ctx {
  tensor_set *a;
  stats *st;
} match_ctx;

static const char dq_suffix[] = "_DequantizeLinear_Output";

static onyx_status *match_tensor(void *arg, const char *name, const onyx_tensor *t) {
  match_ctx *m = arg;
  if (onyx_tensor_dtype(t) != ONYX_DTYPE_FLOAT) return NULL;
  size_t len = strlen(name), sl = strlen(dq_suffix);
  bool dq = len > sl && !strcmp(name + len - sl, dq_suffix);
  for (int i = 0; i < m->a->n; i++) {
    const char *an = m->a->names[i];
    bool same = !strcmp(an, name), via_dq = dq && strlen(an) == len - sl && !strncmp(an, name, len - sl);
    if (same || via_dq) return stat_add(m->st, an, same ? "same name" : "DQ(Q(x))", m->a->t[i], t);
  }
  return NULL;
}

static onyx_status *make_session(const char *path, int threads, bool per_tensor, onyx_session **out) {
  onyx_options *o;
  onyx_status *s = onyx_options_create(&o);
  if (s) return s;
  onyx_options_set_intra_op_threads(o, threads);
  onyx_options_set_optimization_level(o, 0);   /* keep every tensor under its own name */
  /* fused partitions (dnnl) show only their boundary tensors to observers */
  if (per_tensor && (s = onyx_options_set_providers(o, "cpu"))) {
    onyx_options_destroy(o);
    return s;
  }
  s = onyx_session_create(path, o, out);
  onyx_options_destroy(o);
  return s;
}

int cmd_compare(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL, *data = NULL, *labels = NULL, *v;
  bool per_tensor = false;
  int64_t limit = 0, threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(usage, stdout);
      return 0;
    }
    if (cli_option(argc, argv, &i, "--data", &v)) {
      if (!(data = v)) return cli_usage_error("--data needs a folder");
    } else if (cli_option(argc, argv, &i, "--labels", &v)) {
      if (!(labels = v)) return cli_usage_error("--labels needs a file");
    } else if (cli_option(argc, argv, &i, "--limit", &v)) {
      if (!cli_parse_int(v, 1, INT64_MAX, &limit)) return cli_usage_error("--limit needs a count >= 1");
    } else if (cli_option(argc, argv, &i, "--threads", &v)) {
      if (!cli_parse_int(v, 0, 4096, &threads)) return cli_usage_error("--threads needs a count >= 0");
    } else if (!strcmp(a, "--per-tensor")) {
      per_tensor = true;
    } else if (a[0] == '-') {
      return cli_usage_error("unknown option '%s' (see onyx compare --help)", a);
    } else if (!pa) {
      pa = a;
    } else if (!pb) {
      pb = a;
    } else {
      return cli_usage_error("more than two models given");
    }
  }
  if (!pa || !pb || !data) return cli_usage_error("usage: onyx compare A.onnx B.onnx --data DIR [options]");
  onyx_session *sa = NULL, *sb = NULL;
  onyx_tensor *lab = NULL, **in = NULL, **oa = NULL, **ob = NULL;
  const char **in_names = NULL, **out_names = NULL;
  samples sp = {0};
  stats outs = {0}, tens = {0};
  tensor_set ts = {0};
  int64_t rows = 0, agree = 0, correct_a = 0, correct_b = 0;
  int rc = 0, n_in = 0, n_out = 0;
  onyx_status *st;
  if ((st = make_session(pa, (int)threads, per_tensor, &sa)) || (st = make_session(pb, (int)threads, per_tensor, &sb))) {
    rc = cli_fail_status(st);
    goto done;
  }
  if ((rc = samples_open(&sp, data, sa, limit, 64))) goto done;
  if (labels) {
    char err[512];
    if (!npy_load(labels, &lab, err, sizeof err)) {
      rc = cli_fail("--labels: %s", err);
      goto done;
    }
    if (onyx_tensor_dtype(lab) != ONYX_DTYPE_INT64 && onyx_tensor_dtype(lab) != ONYX_DTYPE_INT32) {
      rc = cli_fail("--labels: '%s' holds %s; expected int64 or int32", labels, onyx_dtype_name(onyx_tensor_dtype(lab)));
      goto done;
    }
  }
  n_in = onyx_session_input_count(sa);
  n_out = onyx_session_output_count(sa);
  in = calloc((size_t)n_in + 1, sizeof *in);
  oa = calloc((size_t)n_out + 1, sizeof *oa);
  ob = calloc((size_t)n_out + 1, sizeof *ob);
  in_names = calloc((size_t)n_in + 1, sizeof *in_names);
  out_names = calloc((size_t)n_out + 1, sizeof *out_names);
  if (!in || !oa || !ob || !in_names || !out_names) {
    rc = cli_fail("out of memory");
    goto done;
  }
  for (int i = 0; i < n_in; i++) in_names[i] = sp.in[i].name;
  for (int i = 0; i < n_out; i++) {
    onyx_value_info vi;
    if ((st = onyx_session_output_info(sa, i, &vi))) {
      rc = cli_fail_status(st);
      goto done;
    }
    out_names[i] = vi.name;
  }
  for (;;) {
    int fin;
    if ((st = samples_next(&sp, in, &fin))) {
      rc = cli_fail_status(st);
      goto done;
    }
    if (fin) break;
    match_ctx mc = {&ts, &tens};
    st = onyx_session_run_observe(sa, n_in, in_names, in, per_tensor ? keep_tensor : NULL, &ts, n_out, out_names, oa);
    if (!st)
      st = onyx_session_run_observe(sb, n_in, in_names, in, per_tensor ? match_tensor : NULL, &mc, n_out, out_names, ob);
    for (int i = 0; i < n_out && !st; i++) st = stat_add(&outs, out_names[i], "output", oa[i], ob[i]);
    /* top-1 over the first output's last dim */
    if (!st && onyx_tensor_dtype(oa[0]) == ONYX_DTYPE_FLOAT && onyx_tensor_dtype(ob[0]) == ONYX_DTYPE_FLOAT &&
        onyx_tensor_rank(oa[0]) >= 1) {
      int64_t width = onyx_tensor_dims(oa[0])[onyx_tensor_rank(oa[0]) - 1];
      int64_t nrows = width ? onyx_tensor_numel(oa[0]) / width : 0;
      for (int64_t r = 0; r < nrows; r++, rows++) {
        int64_t ka = cli_argmax_row(oa[0], r, width), kb = cli_argmax_row(ob[0], r, width);
        agree += ka == kb;
        if (lab && rows < onyx_tensor_numel(lab)) {
          int64_t y = cli_label(lab, rows);
          correct_a += ka == y;
          correct_b += kb == y;
        }
      }
    }
    for (int i = 0; i < n_in; i++) onyx_tensor_free(in[i]), in[i] = NULL;
    for (int i = 0; i < n_out; i++) onyx_tensor_free(oa[i]), onyx_tensor_free(ob[i]), oa[i] = ob[i] = NULL;
    tensor_set_clear(&ts);
    if (st) {
      rc = cli_fail_status(st);
      goto done;
    }
  }
  printf("compared %s (A) and %s (B) on %lld samples\n", pa, pb, (long long)sp.given);
  printf("%-32s %12s %12s %10s\n", "output", "max_abs", "mse", "cosine");
  for (int i = 0; i < outs.n; i++)
    printf("%-32s %12.6g %12.6g %10.6f\n", outs.v[i].name, outs.v[i].max_abs,
           outs.v[i].n ? outs.v[i].sq / (double)outs.v[i].n : 0, outs.v[i].n ? outs.v[i].cos_w / (double)outs.v[i].n : 1);
  if (rows) printf("top-1 agreement: %.2f%% (%lld/%lld)\n", 100.0 * (double)agree / (double)rows, (long long)agree, (long long)rows);
  if (lab) {
    int64_t nl = onyx_tensor_numel(lab) < rows ? onyx_tensor_numel(lab) : rows;
    if (nl != rows) printf("note: %lld labels for %lld rows\n", (long long)onyx_tensor_numel(lab), (long long)rows);
    printf("accuracy A: %.2f%% (%lld/%lld)\n", nl ? 100.0 * (double)correct_a / (double)nl : 0, (long long)correct_a, (long long)nl);
    printf("accuracy B: %.2f%% (%lld/%lld)\n", nl ? 100.0 * (double)correct_b / (double)nl : 0, (long long)correct_b, (long long)nl);
  }
  if (per_tensor) {
    printf("\nper tensor (A's tensor vs B's):\n%-40s %-10s %12s %12s %10s %10s\n", "tensor", "B's", "max_abs", "mse",
           "cosine", "rel_max");
    for (int i = 0; i < tens.n; i++) {
      const stat_acc *a = &tens.v[i];
      printf("%-40s %-10s %12.6g %12.6g %10.6f %10.4g\n", a->name, a->match, a->max_abs,
             a->n ? a->sq / (double)a->n : 0, a->n ? a->cos_w / (double)a->n : 1,
             a->ref_max > 0 ? a->max_abs / a->ref_max : 0);
    }
  }
done:
  tensor_set_clear(&ts);
  free(ts.names);
  free(ts.t);
  stats_free(&outs);
  stats_free(&tens);
  for (int i = 0; in && i < n_in; i++) onyx_tensor_free(in[i]);
  free(in);
  free(oa);
  free(ob);
  free(in_names);
  free(out_names);
  onyx_tensor_free(lab);
  samples_close(&sp);
  onyx_session_destroy(sa);
  onyx_session_destroy(sb);
  return rc;
}
