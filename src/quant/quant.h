/* quant.h — the pieces of onyx's INT8 quantizer, for the files of src/quant
 * and its unit tests: quantization-parameter math, range collectors,
 * calibration over a running session, calibration tables, and the graph
 * rewrites (static QDQ, static QOperator, dynamic). The public entry points
 * (onyx_quantize, options, report) are in include/onyx.h.
 *
 * The math follows ONNX Runtime's quantization tool (quant_utils.py,
 * calibrate.py) so that a model quantized by onyx and one quantized by ORT
 * with the same options and ranges carry the same scales and zero points. */
#ifndef ONYX_QUANT_H
#define ONYX_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "base/tensor.h"
#include "ir/ir.h"

/* ---- quantization parameters ------------------------------------------------ */

/* Integer range of a quantized type (ORT's get_qmin_qmax_for_qType):
 * uint8 [0,255] ([0,127] with reduce_range); int8 [-128,127], [-127,127]
 * when symmetric, [-64,64] with reduce_range. qtype: UINT8 or INT8. */
void onyx_quant_qrange(onyx_dtype qtype, bool symmetric, bool reduce_range, int32_t *qmin,
                       int32_t *qmax);

typedef struct onyx_qparams {
  float scale;
  int32_t zero_point;
} onyx_qparams;

/* Scale and zero point mapping real range [rmin, rmax] onto qtype (ORT's
 * compute_scale_zp): the range is first widened to hold 0; symmetric makes
 * it [-a, a] and puts the zero point in the middle of the integer range;
 * a degenerate range (scale below FLT_MIN: all-zero tensors) gives scale 1
 * and zero point 0. Non-finite bounds are treated as 0. */
onyx_qparams onyx_quant_params(float rmin, float rmax, onyx_dtype qtype, bool symmetric,
                               bool reduce_range);

/* round(x / scale) + zero_point saturated to [qmin, qmax], rounding half to
 * even as numpy and the ONNX QuantizeLinear do. */
int32_t onyx_quant_value(float x, onyx_qparams p, int32_t qmin, int32_t qmax);

/* A float weight quantized offline: data (qtype, the weight's shape), scale
 * (float) and zero point (qtype), both scalars (axis < 0) or 1-D with one
 * entry per slice along `axis`. All three are new tensors the caller owns. */
typedef struct onyx_qweight {
  onyx_tensor *q, *scale, *zero_point;
  int axis;   /* -1: per tensor */
} onyx_qweight;

/* Quantizes float tensor w per tensor (axis < 0) or per channel along axis
 * (ORT's quantize_data / quantize_weight_per_channel: each slice's own
 * min/max). */
onyx_status *onyx_quant_weight(const onyx_tensor *w, int axis, onyx_dtype qtype, bool symmetric,
                               bool reduce_range, onyx_qweight *out);
void onyx_qweight_free(onyx_qweight *w);

/* Quantizes a float bias [N] to int32 with scale x_scale * w_scale[i] * beta
 * (w_scale: 1 or N entries) and zero point 0, as ORT's
 * quantize_bias_static does; values saturate to int32. Writes new tensors:
 * q (int32 [N]), scale (float, scalar when w_scale is, else [N]), zero point
 * (int32, same shape as scale). */
onyx_status *onyx_quant_bias(const onyx_tensor *bias, float x_scale, const onyx_tensor *w_scale,
                             float beta, onyx_qweight *out);

/* ---- range collectors ------------------------------------------------------- */

typedef enum onyx_calib_method {
  ONYX_CALIB_MINMAX = 0,
  ONYX_CALIB_ENTROPY,
  ONYX_CALIB_PERCENTILE,
} onyx_calib_method;

#define ONYX_CALIB_BINS 2048          /* histogram bins (ORT's default num_bins) */
#define ONYX_CALIB_QUANT_BINS 128     /* entropy: quantized bins (ORT's num_quantized_bins) */

/* Running statistics of one tensor over the calibration samples: min/max
 * and, for the histogram methods, a histogram of the values over
 * [-range, range] in ONYX_CALIB_BINS bins. When a new batch exceeds the
 * range, the range doubles (as often as needed) and pairs of bins merge, so
 * earlier batches are re-binned exactly. */
typedef struct onyx_collector {
  double min, max;
  int64_t count;       /* finite values seen */
  bool histogram;
  double range;        /* half-width of the histogram; 0 until the first non-zero value */
  uint64_t *bins;      /* ONYX_CALIB_BINS counts, or NULL (minmax) */
} onyx_collector;

onyx_status *onyx_collector_init(onyx_collector *c, bool histogram);
void onyx_collector_deinit(onyx_collector *c);
/* Adds n float values (non-finite ones are skipped). */
void onyx_collector_add(onyx_collector *c, const float *x, int64_t n);

/* The range to quantize with, by method: minmax gives [min, max]; entropy
 * the threshold pair whose 128-bin quantization of the histogram has the
 * least KL divergence from it (ORT's get_entropy_threshold, TensorRT's
 * calibrator); percentile cuts (100 - percentile)% of the values: from |x|
 * when symmetric, half from each tail otherwise. The histogram results are
 * clipped to the observed [min, max]. */
void onyx_collector_range(const onyx_collector *c, onyx_calib_method method, double percentile,
                          bool symmetric, float *rmin, float *rmax);

/* ---- calibration tables ------------------------------------------------------- */

/* Tensor name -> range (and the parameters the range gave, for export). */
typedef struct onyx_calib_entry {
  char *name;
  float min, max;
  float scale;
  int32_t zero_point;
} onyx_calib_entry;

typedef struct onyx_calib_table {
  int n, cap;
  onyx_calib_entry *e;
  onyx_strmap *by_name;
} onyx_calib_table;

onyx_status *onyx_calib_table_init(onyx_calib_table *t);
void onyx_calib_table_deinit(onyx_calib_table *t);
/* Adds or replaces the entry for name. */
onyx_status *onyx_calib_table_set(onyx_calib_table *t, const char *name, float min, float max);
/* The entry for name, or NULL. */
const onyx_calib_entry *onyx_calib_table_get(const onyx_calib_table *t, const char *name);
/* Fills scale/zero_point of every entry for the activation type. */
void onyx_calib_table_params(onyx_calib_table *t, onyx_dtype qtype, bool symmetric);
/* JSON object {"tensor": {"min": .., "max": .., "scale": .., "zero_point": ..}, ...}.
 * Reading needs min and max; other keys are ignored. */
onyx_status *onyx_calib_table_write(const onyx_calib_table *t, const char *path);
onyx_status *onyx_calib_table_read(onyx_calib_table *t, const char *path);

/* Runs the float model m (borrowed; copied for the session) on every sample
 * `next` supplies, with an observer on every float tensor, and writes each
 * tensor's range by `method` into table. n_samples receives the number of
 * samples run. */
typedef onyx_status *(*onyx_quant_sample_fn)(void *arg, int n_inputs, const char *const *names,
                                             onyx_tensor **inputs, int *done);
onyx_status *onyx_calibrate(const onyx_model *m, onyx_quant_sample_fn next, void *next_arg,
                            onyx_calib_method method, double percentile, bool symmetric,
                            onyx_calib_table *table, int *n_samples);

/* ---- graph rewriting ------------------------------------------------------------ */

typedef enum onyx_quant_format { ONYX_QFORMAT_QDQ = 0, ONYX_QFORMAT_QOPERATOR } onyx_quant_format;

/* The settled options the rewrites read (the public options parsed). */
typedef struct onyx_quant_config {
  bool dynamic;
  onyx_quant_format format;
  onyx_dtype activation_type, weight_type;   /* UINT8 or INT8 */
  bool per_channel, reduce_range;
  bool weight_symmetric, activation_symmetric;
  char **op_types;      /* NULL: the defaults of the mode; else NULL-terminated */
  char **include_nodes; /* NULL: all nodes */
  char **exclude_nodes;
} onyx_quant_config;

/* What happened to one node of the float model. */
typedef struct onyx_quant_note {
  char *name, *op_type;
  bool quantized;
  char *why;   /* how (quantized) or why not (left float) */
} onyx_quant_note;

typedef struct onyx_quant_notes {
  int n, cap;
  onyx_quant_note *v;
} onyx_quant_notes;

onyx_status *onyx_quant_note_add(onyx_quant_notes *notes, const onyx_node *n, bool quantized,
                                 const char *fmt, ...) ONYX_PRINTF(4, 5);
void onyx_quant_notes_deinit(onyx_quant_notes *notes);

/* Rewrites m (inferred, sorted) in place. Static modes read activation
 * ranges from table; dynamic mode ignores it (may be NULL). Notes receive one
 * entry per node of m as it was. The result is sorted, validated and
 * inferred. */
onyx_status *onyx_quant_rewrite(onyx_model *m, const onyx_quant_config *cfg,
                                const onyx_calib_table *table, onyx_quant_notes *notes);

#endif
