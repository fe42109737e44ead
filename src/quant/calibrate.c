/* calibrate.c — static-quantization calibration: run the float model in an
 * onyx session on sample inputs with an observer on every tensor, collect
 * ranges, and keep them in a calibration table that can be saved and loaded
 * as JSON (the GPU engine reads the same file).
 *
 * The session is made from a copy of the model with the cpu provider and no
 * graph optimization, so every value the observer sees keeps the name it has
 * in the model being quantized (fused partitions would hide intermediates). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "exec/session_internal.h"
#include "quant.h"

/* ---- table ------------------------------------------------------------------ */

onyx_status *onyx_calib_table_init(onyx_calib_table *t) {
  memset(t, 0, sizeof *t);
  if (!(t->by_name = onyx_strmap_new())) return onyx_error_oom();
  return NULL;
}

void onyx_calib_table_deinit(onyx_calib_table *t) {
  for (int i = 0; i < t->n; i++) onyx_free(t->e[i].name);
  onyx_free(t->e);
  onyx_strmap_free(t->by_name);
  memset(t, 0, sizeof *t);
}

onyx_status *onyx_calib_table_set(onyx_calib_table *t, const char *name, float min, float max) {
  int i = onyx_strmap_get(t->by_name, name);
  if (i < 0) {
    if (t->n == t->cap) {
      int cap = t->cap ? 2 * t->cap : 64;
      onyx_calib_entry *e = onyx_realloc(t->e, (size_t)cap * sizeof *e);
      if (!e) return onyx_error_oom();
      t->e = e;
      t->cap = cap;
    }
    memset(&t->e[t->n], 0, sizeof t->e[t->n]);
    if (!(t->e[t->n].name = onyx_strdup(name))) return onyx_error_oom();
    if (!onyx_strmap_put(t->by_name, name, t->n)) {
      onyx_free(t->e[t->n].name);
      return onyx_error_oom();
    }
    i = t->n++;
  }
  t->e[i].min = min;
  t->e[i].max = max;
  return NULL;
}

const onyx_calib_entry *onyx_calib_table_get(const onyx_calib_table *t, const char *name) {
  int i = onyx_strmap_get(t->by_name, name);
  return i < 0 ? NULL : &t->e[i];
}

void onyx_calib_table_params(onyx_calib_table *t, onyx_dtype qtype, bool symmetric) {
  for (int i = 0; i < t->n; i++) {
    onyx_qparams p = onyx_quant_params(t->e[i].min, t->e[i].max, qtype, symmetric, false);
    t->e[i].scale = p.scale;
    t->e[i].zero_point = p.zero_point;
  }
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

onyx_status *onyx_calib_table_write(const onyx_calib_table *t, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return onyx_error(ONYX_ERR_IO, "cannot write calibration table '%s': %s", path, strerror(errno));
  fputs("{\n", f);
  for (int i = 0; i < t->n; i++) {
    const onyx_calib_entry *e = &t->e[i];
    fputs("  ", f);
    json_string(f, e->name);
    fprintf(f, ": {\"min\": %.9g, \"max\": %.9g, \"scale\": %.9g, \"zero_point\": %d}%s\n", e->min,
            e->max, e->scale, e->zero_point, i + 1 < t->n ? "," : "");
  }
  fputs("}\n", f);
  if (fclose(f))
    return onyx_error(ONYX_ERR_IO, "cannot write calibration table '%s': %s", path, strerror(errno));
  return NULL;
}

/* A small JSON reader for the table: an object of objects of numbers.
 * Values of other keys (any JSON) are skipped. */
typedef struct jreader {
  const char *base, *p, *end, *path;
} jreader;

static void ws(jreader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

static onyx_status *jerr(jreader *r, const char *what) {
  return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "calibration table '%s': %s at byte %lld", r->path,
                    what, (long long)(r->p - r->base));
}

static bool eat(jreader *r, char ch) {
  ws(r);
  if (r->p < r->end && *r->p == ch) {
    r->p++;
    return true;
  }
  return false;
}

/* Reads a string into a new buffer (escapes \" \\ \/ \n \t \uXXXX < 0x80). */
static onyx_status *jstring(jreader *r, char **out) {
  if (!eat(r, '"')) return jerr(r, "expected a string");
  size_t cap = 16, n = 0;
  char *s = onyx_malloc(cap);
  if (!s) return onyx_error_oom();
  while (r->p < r->end && *r->p != '"') {
    char ch = *r->p++;
    if (ch == '\\' && r->p < r->end) {
      char e = *r->p++;
      ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
      if (e == 'u') {
        unsigned v = 0;
        for (int k = 0; k < 4 && r->p < r->end; k++, r->p++) {
          char h = *r->p;
          v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
        }
        ch = (char)(v < 0x80 ? v : '?');
      }
    }
    if (n + 2 > cap) {
      char *t = onyx_realloc(s, cap *= 2);
      if (!t) {
        onyx_free(s);
        return onyx_error_oom();
      }
      s = t;
    }
    s[n++] = ch;
  }
  s[n] = '\0';
  if (!eat(r, '"')) {
    onyx_free(s);
    return jerr(r, "unterminated string");
  }
  *out = s;
  return NULL;
}

static onyx_status *jskip(jreader *r, int depth) {
  ws(r);
  if (r->p >= r->end) return jerr(r, "unexpected end");
  if (depth > 64) return jerr(r, "nesting too deep");
  char ch = *r->p;
  if (ch == '"') {
    char *s;
    ONYX_TRY(jstring(r, &s));
    onyx_free(s);
    return NULL;
  }
  if (ch == '{' || ch == '[') {
    char close = ch == '{' ? '}' : ']';
    r->p++;
    if (eat(r, close)) return NULL;
    do {
      if (ch == '{') {
        char *k;
        ONYX_TRY(jstring(r, &k));
        onyx_free(k);
        if (!eat(r, ':')) return jerr(r, "expected ':'");
      }
      ONYX_TRY(jskip(r, depth + 1));
    } while (eat(r, ','));
    return eat(r, close) ? NULL : jerr(r, "unterminated object or array");
  }
  while (r->p < r->end && !strchr(",}] \n\r\t", *r->p)) r->p++;   /* number, true, false, null */
  return NULL;
}

static onyx_status *jnumber(jreader *r, double *v) {
  ws(r);
  char *e;
  errno = 0;
  *v = strtod(r->p, &e);
  if (e == r->p) return jerr(r, "expected a number");
  r->p = e;
  return NULL;
}

static onyx_status *parse_table(jreader *r, onyx_calib_table *t) {
  if (!eat(r, '{')) return jerr(r, "expected '{'");
  if (eat(r, '}')) return NULL;
  do {
    char *name = NULL;
    ONYX_TRY(jstring(r, &name));
    onyx_status *s = NULL;
    double mn = NAN, mx = NAN;
    if (!eat(r, ':') || !eat(r, '{')) {
      s = jerr(r, "expected an object of min and max");
      goto done;
    }
    if (!eat(r, '}')) {
      do {
        char *k = NULL;
        double v;
        if ((s = jstring(r, &k))) goto done;
        bool is_min = !strcmp(k, "min"), is_max = !strcmp(k, "max");
        onyx_free(k);
        if (!eat(r, ':')) s = jerr(r, "expected ':'");
        else if (is_min || is_max) {
          if (!(s = jnumber(r, &v))) *(is_min ? &mn : &mx) = v;
        } else s = jskip(r, 1);
        if (s) goto done;
      } while (eat(r, ','));
      if (!eat(r, '}')) {
        s = jerr(r, "unterminated object");
        goto done;
      }
    }
    if (isnan(mn) || isnan(mx))
      s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "calibration table '%s': tensor '%s' lacks min or max",
                     r->path, name);
    else s = onyx_calib_table_set(t, name, (float)mn, (float)mx);
  done:
    onyx_free(name);
    if (s) return s;
  } while (eat(r, ','));
  if (!eat(r, '}')) return jerr(r, "expected '}'");
  ws(r);
  return r->p == r->end ? NULL : jerr(r, "trailing data");
}

onyx_status *onyx_calib_table_read(onyx_calib_table *t, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return onyx_error(ONYX_ERR_NOT_FOUND, "cannot open calibration table '%s': %s", path, strerror(errno));
  onyx_status *s = NULL;
  char *buf = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    s = onyx_error(ONYX_ERR_IO, "cannot read calibration table '%s'", path);
    goto done;
  }
  if (!(buf = onyx_malloc((size_t)len + 1))) {
    s = onyx_error_oom();
    goto done;
  }
  if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
    s = onyx_error(ONYX_ERR_IO, "cannot read calibration table '%s'", path);
    goto done;
  }
  buf[len] = '\0';
  jreader r = {buf, buf, buf + len, path};
  s = parse_table(&r, t);
done:
  onyx_free(buf);
  fclose(f);
  return s;
}

/* ---- running the model -------------------------------------------------------- */

typedef struct calib_run {
  int n_values;
  int *slot;               /* session value -> collector index, or -1 */
  int n_coll;
  onyx_collector *coll;
  char **names;            /* collector -> tensor name (borrowed from the session graph) */
} calib_run;

static onyx_status *observe(void *arg, int value, const onyx_tensor *t) {
  calib_run *cr = arg;
  if (value < 0 || value >= cr->n_values || cr->slot[value] < 0) return NULL;
  if (t->kind != ONYX_KIND_TENSOR || t->dtype != ONYX_DTYPE_FLOAT || !t->data) return NULL;
  onyx_collector_add(&cr->coll[cr->slot[value]], t->data, onyx_numel(t->rank, t->dims));
  return NULL;
}

onyx_status *onyx_calibrate(const onyx_model *m, onyx_quant_sample_fn next, void *next_arg,
                            onyx_calib_method method, double percentile, bool symmetric,
                            onyx_calib_table *table, int *n_samples) {
  onyx_status *s = NULL;
  void *buf = NULL;
  size_t len = 0;
  onyx_options *o = NULL;
  onyx_model *copy = NULL;
  onyx_session *sess = NULL;
  calib_run cr = {0};
  onyx_tensor *inputs[64] = {0};
  const char *names[64];
  int samples = 0;
  if ((s = onyx_model_save_to_buffer(m, &buf, &len))) goto done;
  if ((s = onyx_options_create(&o)) || (s = onyx_options_set_providers(o, "cpu"))) goto done;
  onyx_options_set_optimization_level(o, 0);
  if ((s = onyx_model_load_from_buffer(buf, len, m->dir, &copy))) goto done;
  s = onyx_session_create_from_model(copy, o, &sess);   /* takes the copy, also on failure */
  if (s) goto done;
  const onyx_graph *g = onyx_session_graph(sess);
  if (g->n_inputs > 64) {
    s = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "calibration of models with %d inputs (at most 64)", g->n_inputs);
    goto done;
  }
  cr.n_values = g->n_values;
  if (!(cr.slot = onyx_malloc((size_t)g->n_values * sizeof *cr.slot)) ||
      !(cr.coll = onyx_calloc((size_t)g->n_values + 1, sizeof *cr.coll)) ||
      !(cr.names = onyx_calloc((size_t)g->n_values + 1, sizeof *cr.names))) {
    s = onyx_error_oom();
    goto done;
  }
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    cr.slot[v] = -1;
    if (val->init || val->dtype != ONYX_DTYPE_FLOAT || val->kind != ONYX_KIND_TENSOR) continue;
    if (val->producer < 0 && !val->is_input) continue;
    if ((s = onyx_collector_init(&cr.coll[cr.n_coll], method != ONYX_CALIB_MINMAX))) goto done;
    cr.names[cr.n_coll] = val->name;
    cr.slot[v] = cr.n_coll++;
  }
  for (int i = 0; i < g->n_inputs; i++) names[i] = g->values[g->inputs[i]].name;
  for (;;) {
    int done_flag = 0;
    if ((s = next(next_arg, g->n_inputs, names, inputs, &done_flag))) goto done;
    if (done_flag) break;
    for (int i = 0; i < g->n_inputs; i++)
      if ((s = observe(&cr, g->inputs[i], inputs[i]))) goto done;
    onyx_tensor **outs = onyx_calloc((size_t)g->n_outputs + 1, sizeof *outs);
    if (!outs) {
      s = onyx_error_oom();
      goto done;
    }
    s = onyx_session_run_observed(sess, g->n_inputs, names, inputs, observe, &cr, g->n_outputs, NULL, outs);
    for (int i = 0; i < g->n_outputs; i++) onyx_tensor_free(outs[i]);
    onyx_free(outs);
    for (int i = 0; i < g->n_inputs; i++) {
      onyx_tensor_free(inputs[i]);
      inputs[i] = NULL;
    }
    if (s) {
      s = onyx_error_wrap(s, "calibration sample %d", samples);
      goto done;
    }
    samples++;
  }
  if (!samples) {
    s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "calibration needs at least one sample");
    goto done;
  }
  for (int k = 0; k < cr.n_coll; k++) {
    if (!cr.coll[k].count) continue;
    float lo, hi;
    onyx_collector_range(&cr.coll[k], method, percentile, symmetric, &lo, &hi);
    if ((s = onyx_calib_table_set(table, cr.names[k], lo, hi))) goto done;
  }
  *n_samples = samples;
done:
  for (int i = 0; i < 64; i++) onyx_tensor_free(inputs[i]);
  for (int k = 0; k < cr.n_coll; k++) onyx_collector_deinit(&cr.coll[k]);
  onyx_free(cr.coll);
  onyx_free(cr.slot);
  onyx_free(cr.names);
  onyx_session_destroy(sess);
  onyx_options_destroy(o);
  onyx_buffer_free(buf);
  return s;
}
