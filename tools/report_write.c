/* report_write.c — writes what `onyx report` measured (report.h) twice:
 * REPORT.json with every number, and one self-contained HTML page (inline
 * CSS and SVG, no script, nothing fetched) for people.
 *
 * The two are tied by JSON paths: every figure the page shows — a table
 * cell, a summary card, a plotted point or bar — carries data-key (its path
 * in REPORT.json, e.g. "variants.1.latency_ms.p50"), data-value (the number
 * exactly as the JSON writes it, "%.6g", or "null") and, for table cells and
 * cards, data-scale (the factor between data-value and the text shown, for
 * units such as MiB or %). The report's test checks the page against the JSON
 * through them. Both writers build the paths with the same functions below,
 * so they cannot drift apart. Figures from --compare's older report are
 * looked up by what they measured (batch size, thread count, variant key),
 * not by position, and shown as "before" columns and dashed series. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_svg.h"

#define KEY_LEN 96

/* ---- shared: figures and their JSON paths ------------------------------------- */

/* The figures of a report_point, in the order both writers use. */
typedef struct point_field {
  const char *path;   /* below the point's own path */
  size_t offset;
} point_field;

#define PF(path, member) {path, offsetof(report_point, member)}
static const point_field point_fields[] = {
    PF("threads", threads),         PF("batch", batch),
    PF("runs", runs),               PF("wall_s", wall_s),
    PF("latency_ms.p50", p50),      PF("latency_ms.p90", p90),
    PF("latency_ms.p99", p99),      PF("latency_ms.mean", mean),
    PF("throughput_per_s", runs_per_s), PF("samples_per_s", samples_per_s),
    PF("cpu_efficiency", cpu_efficiency), PF("peak_rss_bytes", peak_rss),
    PF("arena_bytes", arena_bytes), PF("weight_bytes", weight_bytes),
};
#define N_POINT_FIELDS (int)(sizeof point_fields / sizeof point_fields[0])

static double field(const report_point *p, const char *path) {
  for (int i = 0; i < N_POINT_FIELDS; i++)
    if (!strcmp(point_fields[i].path, path)) return *(const double *)((const char *)p + point_fields[i].offset);
  return NAN;
}

/* The JSON paths of the report's arrays. */
static void key_batch(char *k, int i, const char *f) { snprintf(k, KEY_LEN, "batch_sweep.points.%d.%s", i, f); }
static void key_thread(char *k, int i, const char *f) { snprintf(k, KEY_LEN, "thread_sweep.points.%d.%s", i, f); }
static void key_variant(char *k, int i, const char *f) { snprintf(k, KEY_LEN, "variants.%d.%s", i, f); }
static void key_slice(char *k, int i, const char *f) { snprintf(k, KEY_LEN, "sustained.slices.%d.%s", i, f); }

static int n_variants(const report *r) {
  int n = 0;
  while (n < REPORT_VARIANTS && r->var[n].measured) n++;
  return n;
}

/* ---- the older report (--compare) -------------------------------------------- */

/* The element of old array `array_path` whose `match` field equals value. */
static const json_value *old_match(const report *r, const char *array_path, const char *match, double value) {
  const json_value *a = json_path(r->old, array_path);
  for (int i = 0; a && a->type == JSON_ARRAY && i < a->n; i++)
    if (json_number(json_path(&a->items[i], match)) == value) return &a->items[i];
  return NULL;
}

static const json_value *old_variant(const report *r, const char *key) {
  const json_value *a = json_path(r->old, "variants");
  for (int i = 0; a && a->type == JSON_ARRAY && i < a->n; i++) {
    const char *k = json_string(json_path(&a->items[i], "key"));
    if (k && !strcmp(k, key)) return &a->items[i];
  }
  return NULL;
}

/* ---- JSON ---------------------------------------------------------------------- */

static void jnum(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.6g", v);
  else fputs("null", f);
}

static void jstr(FILE *f, const char *s) {
  if (s) cli_json_string(f, s);
  else fputs("null", f);
}

static void json_point(FILE *f, const report_point *p, bool scaling) {
  fputc('{', f);
  const char *group = NULL;
  for (int i = 0; i < N_POINT_FIELDS; i++) {
    const char *path = point_fields[i].path, *dot = strchr(path, '.');
    double v = *(const double *)((const char *)p + point_fields[i].offset);
    if (group && (!dot || strncmp(path, group, (size_t)(dot - path)))) fputc('}', f), group = NULL;
    fputs(i ? ", " : "", f);
    if (dot && !group) {
      fprintf(f, "\"%.*s\": {", (int)(dot - path), path);
      group = path;
    }
    fprintf(f, "\"%s\": ", dot ? dot + 1 : path);
    jnum(f, v);
  }
  if (group) fputc('}', f);
  if (scaling) {
    fputs(", \"speedup\": ", f);
    jnum(f, p->speedup);
    fputs(", \"scaling_efficiency\": ", f);
    jnum(f, p->scaling_efficiency);
  }
  fputc('}', f);
}

static const char *const telemetry_names[ONYX_TELEMETRY_SOURCES] = {"energy", "frequency", "temperature"};

/* TODO(#19): GPU telemetry (NVML utilization, memory, power, energy,
 * temperature, SM clock, throttle reasons) comes with the cuda provider's
 * sampling thread; until then the report says so. One reason serves both
 * writers. */
static const char gpu_telemetry_missing[] =
    "GPU telemetry (NVML) is not collected by this build yet: it arrives with the cuda provider's sampling";

/* What the quantized model holds: onyx quantize's default static format,
 * or the dynamic rewrite. */
static const char *quant_format(const report_quant *q) {
  return strcmp(q->mode, "static") ? "DynamicQuantizeLinear + integer ops" : "QDQ";
}

int report_write_json(const report *r) {
  FILE *f = fopen(r->json_path, "w");
  if (!f) return cli_fail("cannot write '%s': %s", r->json_path, strerror(errno));
  fprintf(f, "{\n  \"report_version\": 1,\n  \"onyx_version\": \"%s\",\n  \"created\": \"%s\",\n  \"command\": [",
          ONYX_VERSION_STRING, r->created);
  fputs("\"onyx\"", f);
  for (int i = 0; i < r->argc; i++) fputs(", ", f), cli_json_string(f, r->argv[i]);
  fputs("],\n  \"model\": {\"path\": ", f);
  jstr(f, r->model);
  fputs(", \"bytes\": ", f);
  jnum(f, r->model_bytes);
  fputs(", \"fixed_batch\": ", f);
  jnum(f, r->fixed_batch > 0 ? (double)r->fixed_batch : NAN);
  fputs("},\n  \"options\": {\"threads\": [", f);
  for (int i = 0; i < r->n_threads; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)r->threads[i]);
  fputs("], \"batch\": [", f);
  for (int i = 0; i < r->n_batch; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)r->batch[i]);
  fprintf(f, "], \"main_threads\": %lld, \"point_duration_s\": %.6g, \"duration_s\": %.6g, \"quantize\": ",
          (long long)r->main_threads, r->point_duration, r->duration);
  jstr(f, r->quantize);
  fputs(", \"calibration\": ", f);
  jstr(f, r->calibration);
  fputs(", \"data\": ", f);
  jstr(f, r->data);
  fputs(", \"labels\": ", f);
  jstr(f, r->labels);
  fputs(", \"providers\": ", f);
  jstr(f, r->session.providers);
  fputs(", \"compare\": ", f);
  jstr(f, r->compare);
  fputs(", \"variant_inputs\": ", f);
  jstr(f, r->input_batch_note);
  fputs(", \"eval_inputs\": ", f);
  jstr(f, r->eval_source);
  fprintf(f, "},\n  \"machine\": %s,\n  \"machine_text\": ", r->machine_json);
  jstr(f, r->machine_text);

  fprintf(f, ",\n  \"batch_sweep\": {\"threads\": %lld, \"opt_level\": 3, \"points\": [", (long long)r->main_threads);
  for (int i = 0; i < r->n_batch_pts; i++) fputs(i ? ",\n    " : "\n    ", f), json_point(f, &r->batch_pts[i], false);
  fputs("]},\n  \"thread_sweep\": {\"opt_level\": 3, \"points\": [", f);
  for (int i = 0; i < r->n_thread_pts; i++) fputs(i ? ",\n    " : "\n    ", f), json_point(f, &r->thread_pts[i], true);

  fputs("]},\n  \"variants\": [", f);
  for (int k = 0; k < n_variants(r); k++) {
    const report_variant *v = &r->var[k];
    fprintf(f, "%s\n    {\"key\": \"%s\", \"name\": \"%s\", \"precision\": \"%s\", \"opt_level\": %d, \"model\": ",
            k ? "," : "", v->key, v->name, v->int8 ? "int8" : "fp32", v->opt_level);
    jstr(f, v->int8 ? "(quantized in memory)" : r->model);
    fputs(",\n     \"point\": ", f);
    json_point(f, &v->pt, false);
    fputs(",\n     \"model_bytes\": ", f);
    jnum(f, v->model_bytes);
    fputs(", \"accuracy_pct\": ", f);
    jnum(f, v->accuracy);
    fputs(", \"correct\": ", f);
    jnum(f, v->correct);
    fputs(", \"total\": ", f);
    jnum(f, v->total);
    fputs(", \"max_abs_error\": ", f);
    jnum(f, v->max_abs_error);
    fputs(", \"eval_rows\": ", f);
    jnum(f, v->eval_rows);
    fputs(", \"nodes_per_provider\": {", f);
    for (int p = 0; p < v->nodes.n; p++) {
      fputs(p ? ", " : "", f);
      cli_json_string(f, v->nodes.name[p]);
      fprintf(f, ": %d", v->nodes.nodes[p]);
    }
    fputs("}}", f);
  }
  fputs("\n  ],\n  \"quantization\": ", f);
  if (r->quant.done) {
    const report_quant *q = &r->quant;
    fprintf(f, "{\"mode\": \"%s\", \"format\": \"%s\", \"bytes_before\": ", q->mode, quant_format(q));
    jnum(f, q->bytes_before);
    fputs(", \"bytes_after\": ", f);
    jnum(f, q->bytes_after);
    fputs(", \"weight_bytes_before\": ", f);
    jnum(f, q->weight_bytes_before);
    fputs(", \"weight_bytes_after\": ", f);
    jnum(f, q->weight_bytes_after);
    fputs(", \"nodes_quantized\": ", f);
    jnum(f, q->nodes_quantized);
    fputs(", \"nodes_float\": ", f);
    jnum(f, q->nodes_float);
    fputs(", \"calibration_samples\": ", f);
    jnum(f, q->calibration_samples);
    fputs(", \"bn_folded\": ", f);
    jnum(f, q->bn_folded);
    fputc('}', f);
  } else {
    fputs("null", f);
  }
  fputs(",\n  \"sustained\": {\"duration_s\": ", f);
  jnum(f, r->sustained_s);
  fputs(", \"slices\": [", f);
  for (int i = 0; i < r->n_slices; i++) {
    const report_slice *s = &r->slices[i];
    fprintf(f, "%s\n    {\"t_end_s\": ", i ? "," : "");
    jnum(f, s->t_end_s);
    fputs(", \"point\": ", f);
    json_point(f, &s->pt, false);
    const double v[] = {s->joules, s->energy_per_inference_j, s->power_w, s->freq_mhz, s->temp_c, s->cpu_utilization};
    const char *n[] = {"energy_j", "energy_per_inference_j", "power_w", "freq_mhz", "temp_c", "cpu_utilization"};
    for (int k = 0; k < 6; k++) fprintf(f, ", \"%s\": ", n[k]), jnum(f, v[k]);
    fputc('}', f);
  }
  fputs("],\n    \"energy_per_inference_j\": ", f);
  jnum(f, r->energy_per_inference_j);
  fputs(", \"inferences_per_j\": ", f);
  jnum(f, r->inferences_per_j);
  fputs(", \"first_slice_throughput_per_s\": ", f);
  jnum(f, r->first_runs_per_s);
  fputs(", \"last_slice_throughput_per_s\": ", f);
  jnum(f, r->last_runs_per_s);
  fputs(", \"first_slice_freq_mhz\": ", f);
  jnum(f, r->first_freq_mhz);
  fputs(", \"last_slice_freq_mhz\": ", f);
  jnum(f, r->last_freq_mhz);
  fputs(", \"not_available\": {", f);
  int shown = 0;
  for (int s = 0; s < ONYX_TELEMETRY_SOURCES; s++) {
    if (!r->why_missing[s][0]) continue;
    fprintf(f, "%s\"%s\": ", shown++ ? ", " : "", telemetry_names[s]);
    cli_json_string(f, r->why_missing[s]);
  }
  fputs("}},\n  \"gpu_telemetry\": {\"available\": false, \"reason\": ", f);
  cli_json_string(f, gpu_telemetry_missing);
  fputs("}\n}\n", f);
  if (fclose(f)) return cli_fail("error writing '%s'", r->json_path);
  return 0;
}

/* ---- HTML: pieces ------------------------------------------------------------------ */

/* 3-4 significant digits, no exponent for everyday magnitudes; whole
 * numbers (counts) without decimals. */
static void fmt_shown(char *buf, size_t len, double v) {
  double a = fabs(v);
  if (a >= 100 || (v == floor(v) && a < 1e15)) snprintf(buf, len, "%.0f", v);
  else if (a >= 10) snprintf(buf, len, "%.1f", v);
  else if (a >= 1) snprintf(buf, len, "%.2f", v);
  else snprintf(buf, len, "%.3g", v);
}

/* A figure as a table cell (tag "td") or an inline element: data-key,
 * data-value and data-scale as the file comment says; "n/a" for NAN. */
static void figure(FILE *f, const char *tag, const char *key, double v, double scale, const char *unit) {
  fprintf(f, "<%s class=\"fig%s\" data-key=\"%s\" data-value=\"", tag, isfinite(v) ? "" : " na", key);
  jnum(f, v);
  fprintf(f, "\" data-scale=\"%.9g\">", scale);
  if (isfinite(v)) {
    char b[48];
    fmt_shown(b, sizeof b, v * scale);
    fprintf(f, "%s%s%s%s", b, unit && *unit ? "&nbsp;<small>" : "", unit ? unit : "", unit && *unit ? "</small>" : "");
  } else {
    fputs("n/a", f);
  }
  fprintf(f, "</%s>", tag);
}

/* An older report's figure (--compare) and the change to the new one. */
static void before_cells(FILE *f, const report *r, double old, double now, double scale) {
  if (!r->old) return;
  char b[48] = "n/a";
  if (isfinite(old)) fmt_shown(b, sizeof b, old * scale);
  fprintf(f, "<td class=\"before\" data-old-value=\"");
  jnum(f, old);
  fprintf(f, "\">%s</td>", b);
  if (isfinite(old) && isfinite(now) && old != 0) fprintf(f, "<td class=\"delta\">%+.1f%%</td>", 100 * (now - old) / old);
  else fputs("<td class=\"delta\">–</td>", f);
}

static void before_head(FILE *f, const report *r) {
  if (r->old) fputs("<th>before</th><th>change</th>", f);
}

/* A byte count's display unit, chosen for the largest value. */
static void byte_unit(double max, const char **unit, double *scale) {
  if (max >= 10 * 1048576.0) *unit = "MiB", *scale = 1.0 / 1048576;
  else if (max >= 10 * 1024.0) *unit = "KiB", *scale = 1.0 / 1024;
  else *unit = "bytes", *scale = 1;
}

static void esc(FILE *f, const char *s) { svg_text(f, s); }

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}"
    "main{max-width:1140px;margin:0 auto;padding:20px 24px 48px}"
    "h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:34px 0 8px;border-bottom:2px solid #d8dbe0;"
    "padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}"
    ".sub{color:#555;margin:0 0 12px}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));"
    "gap:10px;margin:16px 0}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 12px}"
    ".card .label{font-size:12px;color:#555}.card .fig{display:block;font-size:22px;font-weight:600;margin-top:2px}"
    ".card .note{font-size:11px;color:#666}.fig small{font-size:62%;font-weight:400}.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(530px,1fr));"
    "gap:12px}svg.plot{background:#fff;border:1px solid #dde;border-radius:8px;max-width:100%;height:auto}"
    "table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:13px}th,td{border:1px solid #dde;"
    "padding:4px 8px}th{background:#eef0f4;text-align:left}td.fig,td.before,td.delta{text-align:right;"
    "font-variant-numeric:tabular-nums}td.before{color:#666}td.na,.na{color:#999}"
    "p.explain{color:#444;max-width:880px;font-size:14px}.missing{background:#fff7e6;border:1px solid #f0d9a8;"
    "border-radius:6px;padding:8px 12px;font-size:14px;max-width:880px}"
    "pre{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px;font-size:12px;overflow-x:auto}"
    "code{font-size:12px}";

/* ---- HTML: sections ------------------------------------------------------------------- */

static void summary_cards(FILE *f, const report *r) {
  char k[KEY_LEN];
  fputs("<section class=\"cards\">\n", f);
  const report_variant *o3 = &r->var[1], *i8 = &r->var[2];
  fputs("<div class=\"card\"><span class=\"label\">p50 latency, FP32 -O3</span>", f);
  key_variant(k, 1, "point.latency_ms.p50");
  figure(f, "span", k, o3->pt.p50, 1, "ms");
  fprintf(f, "<span class=\"note\">%s</span></div>\n", r->input_batch_note);
  int best = -1;
  for (int i = 0; i < r->n_batch_pts; i++)
    if (best < 0 || r->batch_pts[i].samples_per_s > r->batch_pts[best].samples_per_s) best = i;
  fputs("<div class=\"card\"><span class=\"label\">best throughput (batch sweep)</span>", f);
  if (best >= 0) {
    key_batch(k, best, "samples_per_s");
    figure(f, "span", k, r->batch_pts[best].samples_per_s, 1, "samples/s");
    fprintf(f, "<span class=\"note\">at batch %g, %lld threads</span></div>\n", r->batch_pts[best].batch,
            (long long)r->main_threads);
  } else {
    fputs("<span class=\"fig na\">n/a</span><span class=\"note\">the model fixes its batch</span></div>\n", f);
  }
  if (i8->measured) {
    fprintf(f, "<div class=\"card\"><span class=\"label\">INT8 speedup vs FP32 -O3 (p50)</span><span class=\"fig\">"
               "%.2f&times;</span><span class=\"note\">from the two p50 latencies</span></div>\n",
            o3->pt.p50 / i8->pt.p50);
    fputs("<div class=\"card\"><span class=\"label\">INT8 model size</span>", f);
    key_variant(k, 2, "model_bytes");
    const char *u;
    double s;
    byte_unit(i8->model_bytes, &u, &s);
    figure(f, "span", k, i8->model_bytes, s, u);
    fprintf(f, "<span class=\"note\">%.0f%% smaller than FP32</span></div>\n",
            100 * (1 - i8->model_bytes / r->var[0].model_bytes));
  }
  for (int v = 1; v < n_variants(r); v += 1) {
    if (!isfinite(r->var[v].accuracy)) continue;
    fprintf(f, "<div class=\"card\"><span class=\"label\">accuracy, %s</span>", r->var[v].name);
    key_variant(k, v, "accuracy_pct");
    figure(f, "span", k, r->var[v].accuracy, 1, "%");
    fprintf(f, "<span class=\"note\">%.0f of %.0f correct</span></div>\n", r->var[v].correct, r->var[v].total);
  }
  fputs("<div class=\"card\"><span class=\"label\">peak RSS, FP32 -O3</span>", f);
  key_variant(k, 1, "point.peak_rss_bytes");
  figure(f, "span", k, o3->pt.peak_rss, 1.0 / 1048576, "MiB");
  fputs("<span class=\"note\">whole process, its own</span></div>\n", f);
  fputs("<div class=\"card\"><span class=\"label\">energy per inference</span>", f);
  figure(f, "span", "sustained.energy_per_inference_j", r->energy_per_inference_j, 1e3, "mJ");
  fprintf(f, "<span class=\"note\">%s</span></div>\n",
          isfinite(r->energy_per_inference_j) ? "sustained run, RAPL package energy" : "not available on this machine");
  fputs("</section>\n", f);
}

/* A series of an older report: the figure at `path` of each old element
 * matched by x. */
static void old_series(const report *r, const char *array, const char *match, const double *x, int n,
                       const char *path, double *out) {
  for (int i = 0; i < n; i++) out[i] = json_number(json_path(old_match(r, array, match, x[i]), path));
}

static void batch_section(FILE *f, const report *r) {
  fprintf(f, "<h2 id=\"batch\">Batch size</h2>\n<p class=\"explain\">FP32 at -O3 on %lld threads, one fresh session "
             "per batch size, random inputs; each point is %.3g s of timed runs after warm-up. Latency is per run "
             "(one batch); throughput counts samples.</p>\n",
          (long long)r->main_threads, r->point_duration);
  if (!r->n_batch_pts) {
    fprintf(f, "<p class=\"missing\">No batch sweep: the model fixes its batch size at %lld.</p>\n",
            (long long)r->fixed_batch);
    return;
  }
  int n = r->n_batch_pts;
  double x[REPORT_MAX_LIST], y[5][REPORT_MAX_LIST], old[2][REPORT_MAX_LIST];
  char keys[5][REPORT_MAX_LIST][KEY_LEN];
  const char *kp[5][REPORT_MAX_LIST];
  static const char *const lat[3] = {"latency_ms.p50", "latency_ms.p90", "latency_ms.p99"};
  for (int i = 0; i < n; i++) {
    x[i] = r->batch_pts[i].batch;
    for (int s = 0; s < 3; s++) {
      y[s][i] = field(&r->batch_pts[i], lat[s]);
      key_batch(keys[s][i], i, lat[s]);
      kp[s][i] = keys[s][i];
    }
    y[3][i] = r->batch_pts[i].samples_per_s;
    key_batch(keys[3][i], i, "samples_per_s");
    kp[3][i] = keys[3][i];
  }
  old_series(r, "batch_sweep.points", "batch", x, n, "latency_ms.p50", old[0]);
  old_series(r, "batch_sweep.points", "batch", x, n, "samples_per_s", old[1]);
  svg_series lat_s[4] = {{"p50", n, x, y[0], kp[0], 0, false, false}, {"p90", n, x, y[1], kp[1], 1, false, false},
                         {"p99", n, x, y[2], kp[2], 4, false, false}, {"p50 before", n, x, old[0], NULL, 0, true, false}};
  svg_plot p = {"batch-latency", "Latency vs batch size", "batch size (samples per run, log scale)", "latency per run (ms)",
                "samples", "ms", 1, true, true, r->old ? 4 : 3, lat_s};
  fputs("<div class=\"plots\">\n", f);
  svg_plot_write(f, &p);
  svg_series thr_s[2] = {{"samples/s", n, x, y[3], kp[3], 2, false, false},
                         {"samples/s before", n, x, old[1], NULL, 2, true, false}};
  svg_plot q = {"batch-throughput", "Throughput vs batch size", "batch size (samples per run, log scale)",
                "throughput (samples/s)", "samples", "samples/s", 1, true, true, r->old ? 2 : 1, thr_s};
  svg_plot_write(f, &q);
  fputs("</div>\n<table><tr><th>batch</th><th>runs</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>"
        "<th>samples/s</th>", f);
  before_head(f, r);
  fputs("<th>peak RSS MiB</th><th>arena KiB</th><th>CPU efficiency</th></tr>\n", f);
  for (int i = 0; i < n; i++) {
    const report_point *pt = &r->batch_pts[i];
    char k[KEY_LEN];
    fputs("<tr>", f);
    key_batch(k, i, "batch"), figure(f, "td", k, pt->batch, 1, NULL);
    key_batch(k, i, "runs"), figure(f, "td", k, pt->runs, 1, NULL);
    for (int s = 0; s < 3; s++) key_batch(k, i, lat[s]), figure(f, "td", k, field(pt, lat[s]), 1, NULL);
    key_batch(k, i, "samples_per_s"), figure(f, "td", k, pt->samples_per_s, 1, NULL);
    before_cells(f, r, old[1][i], pt->samples_per_s, 1);
    key_batch(k, i, "peak_rss_bytes"), figure(f, "td", k, pt->peak_rss, 1.0 / 1048576, NULL);
    key_batch(k, i, "arena_bytes"), figure(f, "td", k, pt->arena_bytes, 1.0 / 1024, NULL);
    key_batch(k, i, "cpu_efficiency"), figure(f, "td", k, pt->cpu_efficiency, 100, "%");
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void thread_section(FILE *f, const report *r) {
  fprintf(f, "<h2 id=\"threads\">Threads</h2>\n<p class=\"explain\">FP32 at -O3, %s, one session per intra-op thread "
             "count. Speedup is throughput over the first point's; scaling efficiency is speedup per thread added "
             "(100%% = linear); CPU efficiency is process CPU time / (wall time &times; threads), which counts "
             "spinning threads as busy.</p>\n",
          r->input_batch_note);
  int n = r->n_thread_pts;
  double x[REPORT_MAX_LIST], thr[REPORT_MAX_LIST], ideal[REPORT_MAX_LIST], eff[REPORT_MAX_LIST],
      cpu[REPORT_MAX_LIST], hundred[REPORT_MAX_LIST], old_thr[REPORT_MAX_LIST], old_eff[REPORT_MAX_LIST];
  char keys[3][REPORT_MAX_LIST][KEY_LEN];
  const char *kp[3][REPORT_MAX_LIST];
  for (int i = 0; i < n; i++) {
    const report_point *pt = &r->thread_pts[i];
    x[i] = pt->threads;
    thr[i] = pt->runs_per_s;
    ideal[i] = r->thread_pts[0].runs_per_s * pt->threads / r->thread_pts[0].threads;
    eff[i] = pt->scaling_efficiency;
    cpu[i] = pt->cpu_efficiency;
    hundred[i] = 1;
    key_thread(keys[0][i], i, "throughput_per_s");
    key_thread(keys[1][i], i, "scaling_efficiency");
    key_thread(keys[2][i], i, "cpu_efficiency");
    for (int s = 0; s < 3; s++) kp[s][i] = keys[s][i];
  }
  old_series(r, "thread_sweep.points", "threads", x, n, "throughput_per_s", old_thr);
  old_series(r, "thread_sweep.points", "threads", x, n, "scaling_efficiency", old_eff);
  svg_series ts[3] = {{"runs/s", n, x, thr, kp[0], 0, false, false},
                      {"linear scaling", n, x, ideal, NULL, 7, false, true},
                      {"runs/s before", n, x, old_thr, NULL, 0, true, false}};
  svg_plot p = {"threads-throughput", "Throughput vs threads", "intra-op threads (log scale)", "throughput (runs/s)",
                "threads", "runs/s", 1, true, true, r->old ? 3 : 2, ts};
  fputs("<div class=\"plots\">\n", f);
  svg_plot_write(f, &p);
  svg_series es[4] = {{"scaling efficiency", n, x, eff, kp[1], 2, false, false},
                      {"CPU efficiency", n, x, cpu, kp[2], 3, false, false},
                      {"ideal (100%)", n, x, hundred, NULL, 7, false, true},
                      {"scaling efficiency before", n, x, old_eff, NULL, 2, true, false}};
  svg_plot q = {"threads-efficiency", "Efficiency vs threads", "intra-op threads (log scale)", "efficiency (%)",
                "threads", "%", 100, true, true, r->old ? 4 : 3, es};
  svg_plot_write(f, &q);
  fputs("</div>\n<table><tr><th>threads</th><th>runs</th><th>p50 ms</th><th>p99 ms</th><th>runs/s</th>", f);
  before_head(f, r);
  fputs("<th>speedup</th><th>scaling efficiency</th><th>CPU efficiency</th></tr>\n", f);
  for (int i = 0; i < n; i++) {
    const report_point *pt = &r->thread_pts[i];
    char k[KEY_LEN];
    fputs("<tr>", f);
    key_thread(k, i, "threads"), figure(f, "td", k, pt->threads, 1, NULL);
    key_thread(k, i, "runs"), figure(f, "td", k, pt->runs, 1, NULL);
    key_thread(k, i, "latency_ms.p50"), figure(f, "td", k, pt->p50, 1, NULL);
    key_thread(k, i, "latency_ms.p99"), figure(f, "td", k, pt->p99, 1, NULL);
    key_thread(k, i, "throughput_per_s"), figure(f, "td", k, pt->runs_per_s, 1, NULL);
    before_cells(f, r, old_thr[i], pt->runs_per_s, 1);
    key_thread(k, i, "speedup"), figure(f, "td", k, pt->speedup, 1, "&times;");
    key_thread(k, i, "scaling_efficiency"), figure(f, "td", k, pt->scaling_efficiency, 100, "%");
    key_thread(k, i, "cpu_efficiency"), figure(f, "td", k, pt->cpu_efficiency, 100, "%");
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

/* One bar chart of the variants: the figure at `path` below each variant,
 * in `unit`, or for byte counts (unit NULL) in bytes, KiB or MiB. */
static void variant_bars(FILE *f, const report *r, const char *id, const char *title, const char *path,
                         const char *quantity, const char *unit) {
  int n = n_variants(r);
  double now[REPORT_VARIANTS], old[REPORT_VARIANTS], max = 0, scale = 1;
  char keys[REPORT_VARIANTS][KEY_LEN];
  const char *kp[REPORT_VARIANTS], *cats[REPORT_VARIANTS];
  for (int k = 0; k < n; k++) {
    key_variant(keys[k], k, path);
    kp[k] = keys[k];
    cats[k] = r->var[k].name;
    now[k] = !strncmp(path, "point.", 6) ? field(&r->var[k].pt, path + 6) : r->var[k].model_bytes;
    old[k] = json_number(json_path(old_variant(r, r->var[k].key), path));
    if (isfinite(now[k])) max = fmax(max, now[k]);
  }
  if (!unit) byte_unit(max, &unit, &scale);
  char y_label[64];
  snprintf(y_label, sizeof y_label, "%s (%s)", quantity, unit);
  svg_series s[2] = {{"this run", n, NULL, now, kp, 0, false, false}, {"before", n, NULL, old, NULL, 0, true, false}};
  svg_plot p = {id, title, "variant", y_label, NULL, unit, scale, false, false, r->old ? 2 : 1, s};
  svg_bars_write(f, &p, n, cats);
}

static void variants_section(FILE *f, const report *r) {
  int n = n_variants(r);
  fprintf(f, "<h2 id=\"variants\">FP32 vs optimized vs INT8</h2>\n<p class=\"explain\">Each variant is measured in "
             "its own process on %lld threads with %s: FP32 without graph optimization (-O0), FP32 fully optimized "
             "(-O3)%s. Peak RSS is that process's high-water mark; the arena is the activation memory the session "
             "planned; model size is the ONNX file the session loads.</p>\n<div class=\"plots\">\n",
          (long long)r->main_threads, r->input_batch_note,
          r->var[2].measured ? " and the model quantized to INT8 in memory, then optimized (-O3)" : "");
  variant_bars(f, r, "variants-latency", "p50 latency", "point.latency_ms.p50", "latency per run", "ms");
  variant_bars(f, r, "variants-throughput", "Throughput", "point.throughput_per_s", "throughput", "runs/s");
  variant_bars(f, r, "variants-rss", "Peak RSS", "point.peak_rss_bytes", "peak resident memory", NULL);
  variant_bars(f, r, "variants-arena", "Planned activation arena", "point.arena_bytes", "arena", NULL);
  variant_bars(f, r, "variants-size", "Model size", "model_bytes", "serialized model", NULL);
  fputs("</div>\n<table><tr><th>variant</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>runs/s</th>", f);
  before_head(f, r);
  fputs("<th>peak RSS MiB</th><th>arena KiB</th><th>weights KiB</th><th>model KiB</th><th>accuracy %</th>"
        "<th>max abs error</th></tr>\n", f);
  for (int v = 0; v < n; v++) {
    const report_variant *va = &r->var[v];
    char k[KEY_LEN];
    fprintf(f, "<tr><th>%s</th>", va->name);
    key_variant(k, v, "point.latency_ms.p50"), figure(f, "td", k, va->pt.p50, 1, NULL);
    key_variant(k, v, "point.latency_ms.p90"), figure(f, "td", k, va->pt.p90, 1, NULL);
    key_variant(k, v, "point.latency_ms.p99"), figure(f, "td", k, va->pt.p99, 1, NULL);
    key_variant(k, v, "point.throughput_per_s"), figure(f, "td", k, va->pt.runs_per_s, 1, NULL);
    before_cells(f, r, json_number(json_path(old_variant(r, va->key), "point.throughput_per_s")), va->pt.runs_per_s, 1);
    key_variant(k, v, "point.peak_rss_bytes"), figure(f, "td", k, va->pt.peak_rss, 1.0 / 1048576, NULL);
    key_variant(k, v, "point.arena_bytes"), figure(f, "td", k, va->pt.arena_bytes, 1.0 / 1024, NULL);
    key_variant(k, v, "point.weight_bytes"), figure(f, "td", k, va->pt.weight_bytes, 1.0 / 1024, NULL);
    key_variant(k, v, "model_bytes"), figure(f, "td", k, va->model_bytes, 1.0 / 1024, NULL);
    key_variant(k, v, "accuracy_pct"), figure(f, "td", k, va->accuracy, 1, NULL);
    key_variant(k, v, "max_abs_error"), figure(f, "td", k, va->max_abs_error, 1, NULL);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
  if (r->quant.done) {
    const report_quant *q = &r->quant;
    fputs("<p class=\"explain\">Quantization: ", f);
    esc(f, q->mode);
    fprintf(f, " (%s), int8 weights", quant_format(q));
    if (r->calibration) fputs(", calibrated on ", f), esc(f, r->calibration);
    fputs(". ", f);
    figure(f, "span", "quantization.nodes_quantized", q->nodes_quantized, 1, NULL);
    fputs(" nodes quantized, ", f);
    figure(f, "span", "quantization.nodes_float", q->nodes_float, 1, NULL);
    fputs(" left float; ", f);
    figure(f, "span", "quantization.bn_folded", q->bn_folded, 1, NULL);
    fputs(" BatchNormalization folded; weights ", f);
    figure(f, "span", "quantization.weight_bytes_before", q->weight_bytes_before, 1.0 / 1024, "KiB");
    fputs(" &rarr; ", f);
    figure(f, "span", "quantization.weight_bytes_after", q->weight_bytes_after, 1.0 / 1024, "KiB");
    fputs(".</p>\n", f);
  }
}

static void accuracy_section(FILE *f, const report *r) {
  int n = n_variants(r);
  bool acc = isfinite(r->var[0].accuracy);
  fputs("<h2 id=\"accuracy\">Accuracy vs speed</h2>\n<p class=\"explain\">", f);
  if (acc) {
    fputs("Accuracy is the argmax of the first output's last dim against ", f);
    esc(f, r->labels);
    fputs(" on ", f);
    esc(f, r->data);
  } else {
    fputs("Without --labels the quality axis is the largest absolute difference of the first output from FP32 -O0's "
          "on ", f);
    esc(f, r->eval_source);
  }
  fputs("; latency is each variant's p50 above. Up and to the left is better.</p>\n<div class=\"plots\">\n", f);
  double x[REPORT_VARIANTS][1], y[REPORT_VARIANTS][1], ox[REPORT_VARIANTS][1], oy[REPORT_VARIANTS][1];
  char keys[REPORT_VARIANTS][KEY_LEN];
  const char *kp[REPORT_VARIANTS][1];
  svg_series s[2 * REPORT_VARIANTS];
  const char *q_path = acc ? "accuracy_pct" : "max_abs_error";
  int ns = 0;
  char before_names[REPORT_VARIANTS][48];
  for (int k = 0; k < n; k++) {
    x[k][0] = r->var[k].pt.p50;
    y[k][0] = acc ? r->var[k].accuracy : r->var[k].max_abs_error;
    key_variant(keys[k], k, q_path);
    kp[k][0] = keys[k];
    s[ns++] = (svg_series){r->var[k].name, 1, x[k], y[k], kp[k], k, false, false};
  }
  for (int k = 0; k < n && r->old; k++) {
    const json_value *o = old_variant(r, r->var[k].key);
    ox[k][0] = json_number(json_path(o, "point.latency_ms.p50"));
    oy[k][0] = json_number(json_path(o, q_path));
    snprintf(before_names[k], sizeof before_names[k], "%s before", r->var[k].name);
    s[ns++] = (svg_series){before_names[k], 1, ox[k], oy[k], NULL, k, true, false};
  }
  svg_plot p = {"accuracy-speed", acc ? "Accuracy vs latency" : "Output error vs latency", "p50 latency per run (ms)",
                acc ? "accuracy (%)" : "max abs error vs FP32 -O0", "ms", acc ? "%" : "", 1, false, false, ns, s};
  svg_plot_write(f, &p);
  fputs("</div>\n", f);
}

static void missing(FILE *f, const char *what, const char *why) {
  fprintf(f, "<p class=\"missing\"><b>%s:</b> not available on this machine (", what);
  esc(f, why);
  fputs(").</p>\n", f);
}

/* The sustained run's figures over time; the plots of the sources the
 * machine does not expose are replaced by the reason. */
static void sustained_section(FILE *f, const report *r) {
  int n = r->n_slices;
  fprintf(f, "<h2 id=\"sustained\">Energy and temperature over a sustained run</h2>\n<p class=\"explain\">FP32 -O3 "
             "on %lld threads for %.3g s, as %d back-to-back slices of timed runs; package energy (RAPL), core "
             "frequency and the hottest package temperature are sampled around each slice. A falling throughput "
             "or frequency from the first slice to the last is the sign of thermal throttling.</p>\n",
          (long long)r->main_threads, r->duration, n);
  double t[REPORT_MAX_SLICES], y[4][REPORT_MAX_SLICES];
  char keys[4][REPORT_MAX_SLICES][KEY_LEN];
  const char *kp[4][REPORT_MAX_SLICES];
  static const char *const paths[4] = {"point.throughput_per_s", "freq_mhz", "temp_c", "power_w"};
  for (int i = 0; i < n; i++) {
    const report_slice *s = &r->slices[i];
    t[i] = s->t_end_s;
    y[0][i] = s->pt.runs_per_s, y[1][i] = s->freq_mhz, y[2][i] = s->temp_c, y[3][i] = s->power_w;
    for (int k = 0; k < 4; k++) key_slice(keys[k][i], i, paths[k]), kp[k][i] = keys[k][i];
  }
  static const char *const titles[4] = {"Throughput over time", "Core frequency over time",
                                        "Package temperature over time", "Package power over time"};
  static const char *const ids[4] = {"sustained-throughput", "sustained-frequency", "sustained-temperature",
                                     "sustained-power"};
  static const char *const labels[4] = {"throughput (runs/s)", "average core frequency (MHz)", "temperature (°C)",
                                        "package power (W)"};
  static const char *const units[4] = {"runs/s", "MHz", "°C", "W"};
  static const int source[4] = {-1, ONYX_TELEMETRY_FREQ, ONYX_TELEMETRY_TEMP, ONYX_TELEMETRY_ENERGY};
  double old[REPORT_MAX_SLICES];
  for (int i = 0; i < n; i++) {
    char p[KEY_LEN];
    key_slice(p, i, paths[0]);
    old[i] = json_number(json_path(r->old, p));
  }
  fputs("<div class=\"plots\">\n", f);
  for (int k = 0; k < 4; k++) {
    if (source[k] >= 0 && r->why_missing[source[k]][0]) continue;
    svg_series s[2] = {{units[k], n, t, y[k], kp[k], k, false, false}, {"before", n, t, old, NULL, k, true, false}};
    svg_plot p = {ids[k], titles[k], "time since the run began (s)", labels[k], "s", units[k], 1, false, true,
                  k == 0 && r->old ? 2 : 1, s};
    svg_plot_write(f, &p);
  }
  fputs("</div>\n", f);
  static const char *const what[ONYX_TELEMETRY_SOURCES] = {"Energy per inference (RAPL)", "Core frequency",
                                                           "Temperature"};
  for (int s = 0; s < ONYX_TELEMETRY_SOURCES; s++)
    if (r->why_missing[s][0]) missing(f, what[s], r->why_missing[s]);
  fputs("<table><tr><th></th><th>first slice</th><th>last slice</th><th>whole run</th></tr>\n<tr><th>throughput "
        "runs/s</th>", f);
  figure(f, "td", "sustained.first_slice_throughput_per_s", r->first_runs_per_s, 1, NULL);
  figure(f, "td", "sustained.last_slice_throughput_per_s", r->last_runs_per_s, 1, NULL);
  fputs("<td></td></tr>\n<tr><th>core frequency MHz</th>", f);
  figure(f, "td", "sustained.first_slice_freq_mhz", r->first_freq_mhz, 1, NULL);
  figure(f, "td", "sustained.last_slice_freq_mhz", r->last_freq_mhz, 1, NULL);
  fputs("<td></td></tr>\n<tr><th>energy per inference mJ</th><td></td><td></td>", f);
  figure(f, "td", "sustained.energy_per_inference_j", r->energy_per_inference_j, 1e3, NULL);
  fputs("</tr>\n<tr><th>inferences per joule</th><td></td><td></td>", f);
  figure(f, "td", "sustained.inferences_per_j", r->inferences_per_j, 1, NULL);
  fputs("</tr>\n</table>\n", f);
}

/* GPU rows slot in here. Today: the GPUs `onyx info` lists, and why there
 * are no NVML figures (gpu_telemetry_missing); once the cuda provider
 * samples NVML, its utilization/power/temperature series join the sustained
 * run's plots and this table gets a row per GPU. */
static void gpu_section(FILE *f, const report *r) {
  fputs("<h3>GPUs</h3>\n", f);
  char err[64];
  json_value *m = NULL;
  const json_value *gpus = NULL;
  if (json_parse(r->machine_json, strlen(r->machine_json), &m, err, sizeof err)) gpus = json_path(m, "gpus");
  if (!gpus || gpus->type != JSON_ARRAY || !gpus->n) {
    fputs("<p class=\"explain\">No GPU seen by this build (see the machine above).</p>\n", f);
  } else {
    fputs("<table><tr><th>GPU</th><th>name</th><th>memory GiB</th></tr>\n", f);
    for (int i = 0; i < gpus->n; i++) {
      fprintf(f, "<tr><td>%d</td><td>", i);
      esc(f, json_string(json_path(&gpus->items[i], "name")));
      fprintf(f, "</td><td>%.1f</td></tr>\n", json_number(json_path(&gpus->items[i], "memory_bytes")) / 1073741824.0);
    }
    fputs("</table>\n", f);
  }
  json_free(m);
  missing(f, "GPU utilization, power and temperature", gpu_telemetry_missing);
}

static void machine_section(FILE *f, const report *r) {
  fputs("<h2 id=\"machine\">Machine, providers and options</h2>\n<h3>onyx info</h3>\n<pre>", f);
  esc(f, r->machine_text);
  fputs("</pre>\n<h3>Node placement (nodes per provider)</h3>\n<table><tr><th>variant</th><th>placement</th></tr>\n", f);
  for (int v = 0; v < n_variants(r); v++) {
    fprintf(f, "<tr><th>%s</th><td>", r->var[v].name);
    for (int p = 0; p < r->var[v].nodes.n; p++) {
      char k[KEY_LEN], sub[64];
      snprintf(sub, sizeof sub, "nodes_per_provider.%s", r->var[v].nodes.name[p]);
      key_variant(k, v, sub);
      fputs(p ? ", " : "", f);
      esc(f, r->var[v].nodes.name[p]);
      fputs(" ", f);
      figure(f, "span", k, r->var[v].nodes.nodes[p], 1, NULL);
    }
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
  gpu_section(f, r);
  fputs("<h3>Options</h3>\n<table>\n<tr><th>command</th><td><code>onyx", f);
  for (int i = 0; i < r->argc; i++) fputc(' ', f), esc(f, r->argv[i]);
  fprintf(f, "</code></td></tr>\n<tr><th>onyx version</th><td>%s</td></tr>\n<tr><th>created</th><td>%s</td></tr>\n"
             "<tr><th>providers requested</th><td>",
          ONYX_VERSION_STRING, r->created);
  esc(f, r->session.providers ? r->session.providers : "the library's default");
  fprintf(f, "</td></tr>\n<tr><th>timed runs per measurement</th><td>%.3g s after 3 warm-up runs</td></tr>\n"
             "<tr><th>threads of batch sweep, variants, sustained run</th><td>%lld</td></tr>\n"
             "<tr><th>inputs of variants and thread sweep</th><td>%s</td></tr>\n"
             "<tr><th>inputs of the accuracy / error</th><td>",
          r->point_duration, (long long)r->main_threads, r->input_batch_note);
  esc(f, r->data ? r->data : r->eval_source);
  fputs("</td></tr>\n", f);
  if (r->compare) fputs("<tr><th>compared with</th><td>", f), esc(f, r->compare), fputs("</td></tr>\n", f);
  fputs("</table>\n", f);
}

int report_write_html(const report *r) {
  FILE *f = fopen(r->html_path, "w");
  if (!f) return cli_fail("cannot write '%s': %s", r->html_path, strerror(errno));
  const char *base = strrchr(r->model, '/');
  base = base ? base + 1 : r->model;
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\">\n<title>onyx report: ", f);
  esc(f, base);
  fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>Performance report: ", css);
  esc(f, base);
  fprintf(f, "</h1>\n<p class=\"sub\">onyx %s &middot; %s &middot; ", ONYX_VERSION_STRING, r->created);
  const char *cpu = strstr(r->machine_text, "cpu:");
  if (cpu) {
    cpu += 4;
    while (*cpu == ' ') cpu++;
    fprintf(f, "%.*s &middot; ", (int)strcspn(cpu, "\n"), cpu);
  }
  fprintf(f, "model %s", r->model);
  if (r->compare) fputs(" &middot; dashed / hollow: before (", f), esc(f, r->compare), fputc(')', f);
  fputs("</p>\n", f);
  fputs("<p class=\"sub\">Sections: <a href=\"#batch\">batch size</a> &middot; <a href=\"#threads\">threads</a> "
        "&middot; <a href=\"#variants\">FP32 vs INT8</a> &middot; <a href=\"#accuracy\">accuracy vs speed</a> &middot; "
        "<a href=\"#sustained\">energy and temperature</a> &middot; <a href=\"#machine\">machine and options</a>. "
        "Hover a point or bar for its value; every number is also in ", f);
  const char *jbase = strrchr(r->json_path, '/');
  esc(f, jbase ? jbase + 1 : r->json_path);
  fputs(".</p>\n", f);
  summary_cards(f, r);
  batch_section(f, r);
  thread_section(f, r);
  variants_section(f, r);
  accuracy_section(f, r);
  sustained_section(f, r);
  machine_section(f, r);
  fputs("</main></body></html>\n", f);
  if (fclose(f)) return cli_fail("error writing '%s'", r->html_path);
  return 0;
}
