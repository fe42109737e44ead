/* cmd_quantize.c — `onyx quantize`: INT8 quantization of a model, dynamic
 * or static (calibrated on .npy or .npz samples), through onyx_quantize.
 * The flags map one to one onto the library's options (ORT's names); this
 * file adds the sample folder reader and prints the report: sizes before
 * and after, and per op type how many nodes were quantized or left float,
 * with the reasons for the ones left float. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "samples.h"

static const char usage[] =
    "usage: onyx quantize MODEL -o OUT --mode dynamic|static [options]\n"
    "\n"
    "Quantizes MODEL (.onnx) to INT8 and writes OUT (.onnx), standard ONNX that\n"
    "ONNX Runtime also runs. Static mode calibrates activation ranges by running\n"
    "the float model on sample inputs; dynamic mode quantizes weights only and\n"
    "activations at run time (DynamicQuantizeLinear + MatMulInteger/ConvInteger).\n"
    "Conv followed by BatchNormalization is folded first.\n"
    "\n"
    "options (ONNX Runtime's defaults):\n"
    "  -o, --output OUT            the quantized model (required)\n"
    "  --mode dynamic|static       (default static)\n"
    "  --format qdq|qoperator      static output format (default qdq)\n"
    "  --weight-type int8|uint8    (default int8)\n"
    "  --activation-type uint8|int8  static activations (default uint8)\n"
    "  --per-channel               one scale per output channel of each weight\n"
    "  --symmetric-weights         (default for int8 weights)\n"
    "  --asymmetric-weights        (default for uint8 weights)\n"
    "  --symmetric-activations\n"
    "  --asymmetric-activations    (default)\n"
    "  --reduce-range              7-bit weights (CPUs without VNNI)\n"
    "  --op-types A,B,...          quantize only these op types\n"
    "  --include-nodes A,B,...     quantize only these nodes\n"
    "  --exclude-nodes A,B,...     never quantize these nodes\n"
    "  --calibration DIR           samples: DIR/*.npz (np.savez, an array per input\n"
    "                              name), or .npy (one input: DIR/*.npy; several:\n"
    "                              DIR/<input>/*.npy matched by sorted name); a file\n"
    "                              holds one sample or a batch\n"
    "  --calibration-size N        use at most N samples\n"
    "  --method minmax|entropy|percentile  range calibration (default minmax)\n"
    "  --percentile P              for --method percentile (default 99.999)\n"
    "  --calibration-table-out FILE.json   save the ranges (tensor -> min, max,\n"
    "                              scale, zero_point)\n"
    "  --calibration-table-in FILE.json    use these ranges instead of calibrating\n"
    "  -v, --verbose               print every node with what was done and why\n"
    "  -h, --help                  show this help\n";

typedef struct flag_map {
  const char *flag, *option, *value;   /* value NULL: the flag takes one */
} flag_map;

static const flag_map flags[] = {
    {"--mode", "mode", NULL},
    {"--format", "quant_format", NULL},
    {"--weight-type", "weight_type", NULL},
    {"--activation-type", "activation_type", NULL},
    {"--per-channel", "per_channel", "1"},
    {"--symmetric-weights", "WeightSymmetric", "1"},
    {"--asymmetric-weights", "WeightSymmetric", "0"},
    {"--symmetric-activations", "ActivationSymmetric", "1"},
    {"--asymmetric-activations", "ActivationSymmetric", "0"},
    {"--reduce-range", "reduce_range", "1"},
    {"--op-types", "op_types_to_quantize", NULL},
    {"--include-nodes", "nodes_to_quantize", NULL},
    {"--exclude-nodes", "nodes_to_exclude", NULL},
    {"--method", "calibrate_method", NULL},
    {"--percentile", "CalibPercentile", NULL},
    {"--calibration-table-out", "calibration_table_out", NULL},
    {"--calibration-table-in", "calibration_table_in", NULL},
};
#define N_FLAGS (int)(sizeof flags / sizeof flags[0])

static void print_report(const onyx_quant_report *r, bool verbose) {
  double pct = r->bytes_before ? 100.0 * (double)(r->bytes_before - r->bytes_after) / (double)r->bytes_before : 0;
  printf("size: %lld -> %lld bytes (%.1f%% smaller)\n", (long long)r->bytes_before, (long long)r->bytes_after, pct);
  double wpct = r->weight_bytes_before
                    ? 100.0 * (double)(r->weight_bytes_before - r->weight_bytes_after) / (double)r->weight_bytes_before
                    : 0;
  printf("weights: %lld -> %lld bytes (%.1f%% smaller)\n", (long long)r->weight_bytes_before,
         (long long)r->weight_bytes_after, wpct);
  if (r->bn_folded) printf("folded %d BatchNormalization node%s into Conv\n", r->bn_folded, r->bn_folded > 1 ? "s" : "");
  if (r->calibration_samples)
    printf("calibrated %d tensors on %d sample batch%s\n", r->calibrated_tensors, r->calibration_samples,
           r->calibration_samples > 1 ? "es" : "");
  /* per op type: quantized / float counts, in order of first appearance */
  printf("%-24s %9s %7s\n", "op type", "quantized", "float");
  bool *seen = calloc((size_t)r->n_nodes + 1, sizeof *seen);
  for (int i = 0; seen && i < r->n_nodes; i++) {
    if (seen[i]) continue;
    int q = 0, f = 0;
    for (int j = i; j < r->n_nodes; j++)
      if (!strcmp(r->nodes[j].op_type, r->nodes[i].op_type)) {
        seen[j] = true;
        r->nodes[j].quantized ? q++ : f++;
      }
    printf("%-24s %9d %7d\n", r->nodes[i].op_type, q, f);
  }
  int shown = 0;
  if (verbose) {
    for (int i = 0; i < r->n_nodes; i++) {
      const onyx_quant_node_report *n = &r->nodes[i];
      if (!shown++) printf("nodes:\n");
      printf("  %s %s '%s': %s\n", n->quantized ? "int8 " : "float", n->op_type, n->name, n->note);
    }
  } else if (seen) {
    /* float nodes grouped by (op type, reason): a BERT has hundreds of them */
    memset(seen, 0, (size_t)r->n_nodes * sizeof *seen);
    for (int i = 0; i < r->n_nodes; i++) {
      const onyx_quant_node_report *n = &r->nodes[i];
      if (n->quantized || seen[i]) continue;
      int count = 0;
      for (int j = i; j < r->n_nodes; j++) {
        const onyx_quant_node_report *m = &r->nodes[j];
        if (m->quantized || strcmp(m->op_type, n->op_type) || strcmp(m->note, n->note)) continue;
        seen[j] = true;
        count++;
      }
      if (!shown++) printf("left float:\n");
      if (count == 1) printf("  float %s '%s': %s\n", n->op_type, n->name, n->note);
      else printf("  float %s '%s' and %d more: %s\n", n->op_type, n->name, count - 1, n->note);
    }
  }
  free(seen);
}

int cmd_quantize(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *calib = NULL, *v = NULL;
  int64_t calib_size = 0;
  bool verbose = false, dynamic = false;
  onyx_quant_options *o = NULL;
  onyx_status *st = onyx_quant_options_create(&o);
  if (st) return cli_fail_status(st);
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(usage, stdout);
      onyx_quant_options_destroy(o);
      return 0;
    }
    if (cli_option(argc, argv, &i, "-o", &v) || cli_option(argc, argv, &i, "--output", &v)) {
      if (!v) rc = cli_usage_error("%s needs a value", a);
      out = v;
      continue;
    }
    if (cli_option(argc, argv, &i, "--calibration", &v)) {
      if (!v) rc = cli_usage_error("--calibration needs a folder");
      calib = v;
      continue;
    }
    if (cli_option(argc, argv, &i, "--calibration-size", &v)) {
      if (!cli_parse_int(v, 1, INT64_MAX, &calib_size)) rc = cli_usage_error("--calibration-size needs a count >= 1");
      continue;
    }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      verbose = true;
      continue;
    }
    int k = 0;
    for (; k < N_FLAGS; k++) {
      if (flags[k].value ? strcmp(a, flags[k].flag) : !cli_option(argc, argv, &i, flags[k].flag, &v)) continue;
      const char *val = flags[k].value ? flags[k].value : v;
      if (!val) {
        rc = cli_usage_error("%s needs a value", a);
        break;
      }
      if (!strcmp(flags[k].option, "mode")) dynamic = !strcmp(val, "dynamic");
      if ((st = onyx_quant_options_set(o, flags[k].option, val))) {
        onyx_status_free(st);
        rc = cli_usage_error("bad value '%s' for %s (see onyx quantize --help)", val, flags[k].flag);
      }
      break;
    }
    if (k < N_FLAGS || rc) continue;
    if (a[0] == '-') rc = cli_usage_error("unknown option '%s' (see onyx quantize --help)", a);
    else if (model) rc = cli_usage_error("more than one model given ('%s', '%s')", model, a);
    else model = a;
  }
  if (!rc && (!model || !out)) rc = cli_usage_error("usage: onyx quantize MODEL -o OUT --mode dynamic|static [options]");
  samples sp = {0};
  onyx_session *sess = NULL;
  if (!rc && calib && !dynamic) {
    /* the sample reader needs the model's input names and shapes */
    onyx_options *so = NULL;
    if (!(st = onyx_options_create(&so))) {
      onyx_options_set_optimization_level(so, 0);
      st = onyx_session_create(model, so, &sess);
    }
    onyx_options_destroy(so);
    if (st) rc = cli_fail_status(st);
    else if (!(rc = samples_open(&sp, calib, sess, calib_size, 64)))
      onyx_quant_options_set_calibration_reader(o, samples_reader, &sp);
  }
  onyx_quant_report *r = NULL;
  if (!rc && (st = onyx_quantize(model, o, out, &r))) rc = cli_fail_status(st);
  if (!rc) {
    printf("quantized %s -> %s (%s)\n", model, out, dynamic ? "dynamic" : "static");
    print_report(r, verbose);
  }
  onyx_quant_report_destroy(r);
  samples_close(&sp);
  onyx_session_destroy(sess);
  onyx_quant_options_destroy(o);
  return rc;
}
