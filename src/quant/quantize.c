/* quantize.c — the public quantization API: options (ORT's names and
 * defaults), the pipeline onyx_quantize runs (copy -> infer -> fold
 * BatchNormalization -> calibrate or read ranges -> rewrite -> check ->
 * measure), the report, observed runs by tensor name, and tensor error
 * statistics for accuracy comparisons. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "exec/session_internal.h"
#include "ops/ops.h"
#include "opt/opt.h"
#include "qgraph.h"

struct onyx_quant_options {
  bool dynamic;
  onyx_quant_format format;
  onyx_dtype activation_type, weight_type;
  bool per_channel, reduce_range, activation_symmetric;
  int weight_symmetric;   /* -1: by weight type */
  onyx_calib_method method;
  double percentile;
  char *op_types, *include_nodes, *exclude_nodes;
  char *table_in, *table_out;
  onyx_calibration_reader reader;
  void *reader_arg;
};

onyx_status *onyx_quant_options_create(onyx_quant_options **out) {
  onyx_quant_options *o = onyx_calloc(1, sizeof *o);
  if (!o) return onyx_error_oom();
  o->format = ONYX_QFORMAT_QDQ;
  o->activation_type = ONYX_DTYPE_UINT8;
  o->weight_type = ONYX_DTYPE_INT8;
  o->weight_symmetric = -1;
  o->method = ONYX_CALIB_MINMAX;
  o->percentile = 99.999;
  *out = o;
  return NULL;
}

void onyx_quant_options_destroy(onyx_quant_options *o) {
  if (!o) return;
  onyx_free(o->op_types);
  onyx_free(o->include_nodes);
  onyx_free(o->exclude_nodes);
  onyx_free(o->table_in);
  onyx_free(o->table_out);
  onyx_free(o);
}

void onyx_quant_options_set_calibration_reader(onyx_quant_options *o, onyx_calibration_reader read, void *arg) {
  o->reader = read;
  o->reader_arg = arg;
}

static bool parse_bool(const char *v, bool *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True")) return *out = true, true;
  if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "False")) return *out = false, true;
  return false;
}

static bool parse_qtype(const char *v, onyx_dtype *out) {
  if (!strcmp(v, "QUInt8") || !strcmp(v, "uint8")) return *out = ONYX_DTYPE_UINT8, true;
  if (!strcmp(v, "QInt8") || !strcmp(v, "int8")) return *out = ONYX_DTYPE_INT8, true;
  return false;
}

static onyx_status *set_string(char **dst, const char *v) {
  char *c = onyx_strdup(v);
  if (!c) return onyx_error_oom();
  onyx_free(*dst);
  *dst = c;
  return NULL;
}

onyx_status *onyx_quant_options_set(onyx_quant_options *o, const char *name, const char *value) {
  bool b, ok = true;
  if (!name || !value) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "quantization option needs a name and a value");
  if (!strcmp(name, "mode")) {
    ok = !strcmp(value, "static") || !strcmp(value, "dynamic");
    o->dynamic = !strcmp(value, "dynamic");
  } else if (!strcmp(name, "quant_format")) {
    if (!strcmp(value, "QDQ") || !strcmp(value, "qdq")) o->format = ONYX_QFORMAT_QDQ;
    else if (!strcmp(value, "QOperator") || !strcmp(value, "qoperator")) o->format = ONYX_QFORMAT_QOPERATOR;
    else ok = false;
  } else if (!strcmp(name, "activation_type")) {
    ok = parse_qtype(value, &o->activation_type);
  } else if (!strcmp(name, "weight_type")) {
    ok = parse_qtype(value, &o->weight_type);
  } else if (!strcmp(name, "per_channel")) {
    if ((ok = parse_bool(value, &b))) o->per_channel = b;
  } else if (!strcmp(name, "reduce_range")) {
    if ((ok = parse_bool(value, &b))) o->reduce_range = b;
  } else if (!strcmp(name, "ActivationSymmetric")) {
    if ((ok = parse_bool(value, &b))) o->activation_symmetric = b;
  } else if (!strcmp(name, "WeightSymmetric")) {
    if ((ok = parse_bool(value, &b))) o->weight_symmetric = b;
  } else if (!strcmp(name, "calibrate_method")) {
    if (!strcmp(value, "MinMax") || !strcmp(value, "minmax")) o->method = ONYX_CALIB_MINMAX;
    else if (!strcmp(value, "Entropy") || !strcmp(value, "entropy")) o->method = ONYX_CALIB_ENTROPY;
    else if (!strcmp(value, "Percentile") || !strcmp(value, "percentile")) o->method = ONYX_CALIB_PERCENTILE;
    else ok = false;
  } else if (!strcmp(name, "CalibPercentile")) {
    char *end;
    double p = strtod(value, &end);
    ok = *value && !*end && p > 0 && p <= 100;
    if (ok) o->percentile = p;
  } else if (!strcmp(name, "op_types_to_quantize")) {
    return set_string(&o->op_types, value);
  } else if (!strcmp(name, "nodes_to_quantize")) {
    return set_string(&o->include_nodes, value);
  } else if (!strcmp(name, "nodes_to_exclude")) {
    return set_string(&o->exclude_nodes, value);
  } else if (!strcmp(name, "calibration_table_in")) {
    return set_string(&o->table_in, value);
  } else if (!strcmp(name, "calibration_table_out")) {
    return set_string(&o->table_out, value);
  } else {
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown quantization option '%s'", name);
  }
  return ok ? NULL : onyx_error(ONYX_ERR_INVALID_ARGUMENT, "bad value '%s' for quantization option '%s'", value, name);
}

/* "a,b,c" -> NULL-terminated owned array (NULL for a NULL list). */
static onyx_status *split_list(const char *s, char ***out) {
  *out = NULL;
  if (!s) return NULL;
  int n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  char **v = onyx_calloc((size_t)n + 1, sizeof *v);
  if (!v) return onyx_error_oom();
  int k = 0;
  for (const char *p = s;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len && !(v[k++] = onyx_strndup(p, len))) {
      for (int i = 0; i < k; i++) onyx_free(v[i]);
      onyx_free(v);
      return onyx_error_oom();
    }
    if (!e) break;
    p = e + 1;
  }
  *out = v;
  return NULL;
}

static void free_list(char **v) {
  for (int i = 0; v && v[i]; i++) onyx_free(v[i]);
  onyx_free(v);
}

/* ---- notes ------------------------------------------------------------------ */

void onyx_quant_report_destroy(onyx_quant_report *r) {
  if (!r) return;
  for (int i = 0; i < r->n_nodes; i++) {
    onyx_free((char *)r->nodes[i].name);
    onyx_free((char *)r->nodes[i].op_type);
    onyx_free((char *)r->nodes[i].note);
  }
  onyx_free(r->nodes);
  onyx_free(r);
}

/* ---- the rewrite driver -------------------------------------------------------- */

onyx_status *onyx_quant_rewrite(onyx_model *m, const onyx_quant_config *cfg, const onyx_calib_table *table,
                                onyx_quant_notes *notes) {
  qctx c;
  onyx_status *s = qctx_init(&c, m, cfg, table);
  if (!s) s = onyx_quant_rewrite_gather(&c);
  if (!s) s = cfg->dynamic ? onyx_quant_rewrite_dynamic(&c) : onyx_quant_rewrite_static(&c);
  for (int i = 0; i < c.n_orig && !s && notes; i++) {
    const onyx_node *n = &c.g->nodes[i];
    s = onyx_quant_note_add(notes, n, c.quantized[i], "%s", c.done[i] ? c.why[i] : "left float");
  }
  if (!s) {
    bool *remove = onyx_calloc((size_t)c.g->n_nodes + 1, sizeof *remove);
    if (!remove) s = onyx_error_oom();
    else {
      memcpy(remove, c.remove, (size_t)c.n_orig * sizeof *remove);
      onyx_graph_remove_nodes(c.g, remove);
      onyx_free(remove);
      qg_drop_unused(c.g);
      if (!(s = onyx_graph_toposort(c.g)) && !(s = onyx_graph_validate(c.g))) s = onyx_graph_infer(c.g);
      if (s) s = onyx_error_wrap(s, "the quantized graph is invalid");
    }
  }
  qctx_deinit(&c);
  return s;
}

onyx_status *onyx_quant_note_add(onyx_quant_notes *notes, const onyx_node *n, bool quantized, const char *fmt, ...) {
  if (notes->n == notes->cap) {
    int cap = notes->cap ? 2 * notes->cap : 32;
    onyx_quant_note *v = onyx_realloc(notes->v, (size_t)cap * sizeof *v);
    if (!v) return onyx_error_oom();
    notes->v = v;
    notes->cap = cap;
  }
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  onyx_quant_note *e = &notes->v[notes->n];
  e->name = onyx_strdup(n->name);
  e->op_type = onyx_strdup(n->op_type);
  e->why = onyx_strdup(buf);
  e->quantized = quantized;
  if (!e->name || !e->op_type || !e->why) {
    onyx_free(e->name);
    onyx_free(e->op_type);
    onyx_free(e->why);
    return onyx_error_oom();
  }
  notes->n++;
  return NULL;
}

void onyx_quant_notes_deinit(onyx_quant_notes *notes) {
  for (int i = 0; i < notes->n; i++) {
    onyx_free(notes->v[i].name);
    onyx_free(notes->v[i].op_type);
    onyx_free(notes->v[i].why);
  }
  onyx_free(notes->v);
  memset(notes, 0, sizeof *notes);
}

/* ---- onyx_quantize ------------------------------------------------------------- */

static onyx_status *copy_model(const onyx_model *m, onyx_model **out, int64_t *bytes) {
  void *buf;
  size_t len;
  ONYX_TRY(onyx_model_save_to_buffer(m, &buf, &len));
  onyx_status *s = onyx_model_load_from_buffer(buf, len, m->dir, out);
  onyx_buffer_free(buf);
  *bytes = (int64_t)len;
  return s;
}

static int64_t weight_bytes(const onyx_graph *g) {
  int64_t n = 0;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].init) n += (int64_t)g->values[v].init->nbytes;
  return n;
}

static onyx_status *calibration_reader_shim(void *arg, int n, const char *const *names, onyx_tensor **in, int *done) {
  const onyx_quant_options *o = arg;
  return o->reader(o->reader_arg, n, names, in, done);
}

/* Folds BatchNormalization nodes that follow a Conv with constant weights
 * into that Conv, as ORT's quant_pre_process does through its optimizer, so
 * that calibration and quantization see one node: the optimizer's
 * conv_bn_folding pass alone. Writes how many were folded. */
static onyx_status *fold_bn(onyx_model *m, int *folded) {
  opt_config cfg = {.level = 1, .only = "conv_bn_folding"};
  onyx_optimize_stats st;
  ONYX_TRY(opt_run(m->graph, &cfg, &st));
  int64_t n = 0;
  for (int i = 0; i < st.n_passes; i++) n += st.passes[i].folded;
  *folded = (int)n;
  return NULL;
}

onyx_status *onyx_quantize_model(const onyx_model *src, const onyx_quant_options *opts, onyx_model **out,
                                 onyx_quant_report **report) {
  onyx_quant_options *defaults = NULL;
  if (!opts) {
    ONYX_TRY(onyx_quant_options_create(&defaults));
    opts = defaults;
  }
  onyx_status *s = NULL;
  onyx_model *m = NULL;
  onyx_calib_table table = {0};
  onyx_quant_notes notes = {0};
  onyx_quant_report *r = NULL;
  bool *declared = NULL;
  int n_declared = 0;
  onyx_quant_config cfg = {
      .dynamic = opts->dynamic,
      .format = opts->dynamic ? ONYX_QFORMAT_QOPERATOR : opts->format,
      .activation_type = opts->dynamic ? ONYX_DTYPE_UINT8 : opts->activation_type,
      .weight_type = opts->weight_type,
      .per_channel = opts->per_channel,
      .reduce_range = opts->reduce_range,
      .weight_symmetric = opts->weight_symmetric < 0 ? opts->weight_type == ONYX_DTYPE_INT8 : opts->weight_symmetric,
      .activation_symmetric = opts->activation_symmetric,
  };
  if ((s = split_list(opts->op_types, &cfg.op_types)) || (s = split_list(opts->include_nodes, &cfg.include_nodes)) ||
      (s = split_list(opts->exclude_nodes, &cfg.exclude_nodes)))
    goto done;
  if (!(r = onyx_calloc(1, sizeof *r))) {
    s = onyx_error_oom();
    goto done;
  }
  if ((s = copy_model(src, &m, &r->bytes_before))) goto done;
  r->weight_bytes_before = weight_bytes(m->graph);
  /* values the model declares a type for (value_info) keep it in the output;
   * the types inference adds are not written (a reader infers them again) */
  n_declared = m->graph->n_values;
  if (!(declared = onyx_calloc((size_t)n_declared + 1, sizeof *declared))) {
    s = onyx_error_oom();
    goto done;
  }
  for (int v = 0; v < n_declared; v++) declared[v] = m->graph->values[v].dtype != ONYX_DTYPE_UNDEFINED;
  if ((s = onyx_model_check(m))) goto done;
  if ((s = fold_bn(m, &r->bn_folded))) goto done;
  if (!opts->dynamic) {
    if ((s = onyx_calib_table_init(&table))) goto done;
    if (opts->table_in) {
      s = onyx_calib_table_read(&table, opts->table_in);
    } else if (opts->reader) {
      s = onyx_calibrate(m, calibration_reader_shim, (void *)opts, opts->method, opts->percentile,
                         opts->activation_symmetric, &table, &r->calibration_samples);
    } else {
      s = onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                     "static quantization needs calibration data (a reader) or a calibration table");
    }
    if (s) goto done;
    r->calibrated_tensors = table.n;
    onyx_calib_table_params(&table, cfg.activation_type, cfg.activation_symmetric);
    if (opts->table_out && (s = onyx_calib_table_write(&table, opts->table_out))) goto done;
  }
  if ((s = onyx_quant_rewrite(m, &cfg, opts->dynamic ? NULL : &table, &notes))) goto done;
  for (int v = 0; v < m->graph->n_values; v++) {
    onyx_value *val = &m->graph->values[v];
    if (val->producer >= 0 && !val->is_output && !val->init && (v >= n_declared || !declared[v])) {
      val->dtype = ONYX_DTYPE_UNDEFINED;
      val->rank = -1;
    }
  }
  if (!(r->nodes = onyx_calloc((size_t)notes.n + 1, sizeof *r->nodes))) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < notes.n; i++) {   /* ownership of the strings moves to the report */
    r->nodes[i] = (onyx_quant_node_report){notes.v[i].name, notes.v[i].op_type, notes.v[i].quantized, notes.v[i].why};
    notes.v[i].name = notes.v[i].op_type = notes.v[i].why = NULL;
  }
  r->n_nodes = notes.n;
  r->weight_bytes_after = weight_bytes(m->graph);
  {
    void *buf;
    size_t len;
    if ((s = onyx_model_save_to_buffer(m, &buf, &len))) goto done;
    onyx_buffer_free(buf);
    r->bytes_after = (int64_t)len;
  }
  *out = m;
  m = NULL;
  if (report) {
    *report = r;
    r = NULL;
  }
done:
  onyx_free(declared);
  onyx_quant_report_destroy(r);
  onyx_quant_notes_deinit(&notes);
  if (table.by_name) onyx_calib_table_deinit(&table);
  free_list(cfg.op_types);
  free_list(cfg.include_nodes);
  free_list(cfg.exclude_nodes);
  onyx_model_destroy(m);
  onyx_quant_options_destroy(defaults);
  return s;
}

onyx_status *onyx_quantize(const char *model_path, const onyx_quant_options *o, const char *output_path,
                           onyx_quant_report **report) {
  onyx_model *in = NULL, *out = NULL;
  onyx_quant_report *r = NULL;
  ONYX_TRY(onyx_model_load(model_path, &in));
  onyx_status *s = onyx_quantize_model(in, o, &out, &r);
  if (!s) s = onyx_model_save(out, output_path);
  struct stat st;
  if (!s && r) {
    if (!stat(model_path, &st)) r->bytes_before = st.st_size;
    if (!stat(output_path, &st)) r->bytes_after = st.st_size;
  }
  onyx_model_destroy(in);
  onyx_model_destroy(out);
  if (!s && report) *report = r;
  else onyx_quant_report_destroy(r);
  return s;
}

onyx_status *onyx_status_create(onyx_code code, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return onyx_error(code == ONYX_OK ? ONYX_ERR_RUNTIME : code, "%s", buf);
}

/* ---- observed runs and error statistics --------------------------------------- */

typedef struct observe_shim {
  const onyx_graph *g;
  onyx_tensor_observer fn;
  void *arg;
} observe_shim;

static onyx_status *observe_by_name(void *arg, int value, const onyx_tensor *t) {
  observe_shim *sh = arg;
  return sh->fn(sh->arg, sh->g->values[value].name, t);
}

onyx_status *onyx_session_run_observe(onyx_session *s, int n_inputs, const char *const *in_names,
                                      onyx_tensor *const *inputs, onyx_tensor_observer observe, void *arg,
                                      int n_outputs, const char *const *out_names, onyx_tensor **out) {
  observe_shim sh = {onyx_session_graph(s), observe, arg};
  for (int i = 0; i < n_inputs && observe; i++) ONYX_TRY(observe(arg, in_names[i], inputs[i]));
  return onyx_session_run_observed(s, n_inputs, in_names, inputs, observe ? observe_by_name : NULL, &sh,
                                   n_outputs, out_names, out);
}

onyx_status *onyx_tensor_error_get(const onyx_tensor *ref, const onyx_tensor *x, onyx_tensor_error *out) {
  int64_t n = onyx_numel(ref->rank, ref->dims);
  if (ref->kind != ONYX_KIND_TENSOR || x->kind != ONYX_KIND_TENSOR || n != onyx_numel(x->rank, x->dims) ||
      ref->dtype == ONYX_DTYPE_STRING || x->dtype == ONYX_DTYPE_STRING)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cannot compare a %s tensor of %lld elements with a %s one of %lld",
                      onyx_dtype_name(ref->dtype), (long long)n, onyx_dtype_name(x->dtype),
                      (long long)onyx_numel(x->rank, x->dims));
  onyx_tensor_error e = {.n = n};
  double dot = 0, nr = 0, nx = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = onyx_tensor_get_f64(ref, i), b = onyx_tensor_get_f64(x, i), d = fabs(a - b);
    e.max_abs = d > e.max_abs || d != d ? d : e.max_abs;
    e.ref_max_abs = fmax(e.ref_max_abs, fabs(a));
    e.mse += d * d;
    dot += a * b, nr += a * a, nx += b * b;
  }
  e.mse = n ? e.mse / (double)n : 0;
  e.cosine = nr == 0 && nx == 0 ? 1.0 : nr == 0 || nx == 0 ? 0.0 : dot / sqrt(nr * nx);
  *out = e;
  return NULL;
}
