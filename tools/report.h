/* report.h — what `onyx report` measured, shared by the file that measures
 * (cmd_report.c) and the one that writes REPORT.json and the HTML page
 * (report_write.c). Every figure is a double that is NAN when it was not
 * measured or the machine does not expose it, so the writers print "n/a"
 * or JSON null and never a zero that looks like a result. */
#ifndef ONYX_TOOLS_REPORT_H
#define ONYX_TOOLS_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "onyx.h"
#include "report_json.h"

#define REPORT_MAX_LIST 16   /* values of --threads and --batch */
#define REPORT_VARIANTS 3    /* FP32 -O0, FP32 -O3, INT8 -O3 */
#define REPORT_MAX_SLICES 10 /* the sustained run, in back-to-back slices */

/* One timed measurement, as `onyx bench --json` reported it. */
typedef struct report_point {
  double threads, batch, runs, wall_s;
  double p50, p90, p99, mean;            /* latency of one run, ms */
  double runs_per_s, samples_per_s;
  double cpu_efficiency;                 /* process CPU time / (wall time x threads) */
  double peak_rss, arena_bytes, weight_bytes;
  double speedup, scaling_efficiency;    /* thread sweep: vs its first point */
} report_point;

typedef struct report_variant {
  const char *key, *name;   /* "fp32_O3", "FP32 -O3" (static) */
  int opt_level;
  bool int8;
  bool measured;            /* INT8 only with --quantize */
  report_point pt;
  double model_bytes;       /* the serialized model the session loads */
  double accuracy;          /* %, with --labels */
  double correct, total;
  double max_abs_error;     /* of the first output, vs FP32 -O0 on the same inputs */
  double eval_rows;         /* rows of the first output the figures above cover */
  cli_provider_nodes nodes;
} report_variant;

/* A slice of the sustained run: the figures between its two telemetry
 * samples. */
typedef struct report_slice {
  double t_end_s;           /* since the run began */
  report_point pt;
  double joules, energy_per_inference_j, power_w, freq_mhz, temp_c, cpu_utilization;
} report_slice;

typedef struct report_quant {
  bool done;
  const char *mode;         /* "static" | "dynamic" */
  double bytes_before, bytes_after, weight_bytes_before, weight_bytes_after;
  double nodes_quantized, nodes_float, calibration_samples, bn_folded;
} report_quant;

typedef struct report {
  /* the command line (borrowed from argv) */
  int argc;
  char **argv;
  const char *model, *html_path, *quantize, *calibration, *labels, *data, *compare;
  char *json_path;          /* the HTML's path with .json (owned) */
  cli_session_flags session;
  int n_threads, n_batch;
  int64_t threads[REPORT_MAX_LIST], batch[REPORT_MAX_LIST];
  int64_t main_threads;     /* of the batch sweep, variants and sustained run */
  double point_duration, duration;
  char created[32];         /* UTC, ISO 8601 */

  /* the machine: `onyx info` and `onyx info --json` as printed (owned) */
  char *machine_text, *machine_json;
  double model_bytes;
  int64_t fixed_batch;      /* > 0: the model fixes its batch (no batch sweep) */
  const char *input_batch_note;   /* static: how variants pick their batch */

  report_point batch_pts[REPORT_MAX_LIST], thread_pts[REPORT_MAX_LIST];
  int n_batch_pts, n_thread_pts;
  report_variant var[REPORT_VARIANTS];
  report_quant quant;
  const char *eval_source;  /* static description of the inputs the errors use */

  int n_slices;
  report_slice slices[REPORT_MAX_SLICES];
  double sustained_s, energy_per_inference_j, inferences_per_j;
  double first_runs_per_s, last_runs_per_s, first_freq_mhz, last_freq_mhz;
  char why_missing[ONYX_TELEMETRY_SOURCES][192];   /* "" where the source gave figures */

  json_value *old;          /* --compare: the earlier REPORT.json (owned) */
} report;

/* Writes r as REPORT.json to r->json_path and as the HTML page to
 * r->html_path. Returns 0, or prints the error line and returns the exit
 * status. */
int report_write_json(const report *r);
int report_write_html(const report *r);

#endif
