/* fuzz_quantize.c — libFuzzer target for the quantizer: a model loaded from
 * the bytes is quantized dynamically (per channel, every op onyx can
 * quantize) and the result serialized, so the quantizer's graph rewrites and
 * weight math meet hostile weights, shapes and attributes. Build and run:
 * see tests/fuzz/README.md. */
#include <stdint.h>

#include "onyx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  onyx_model *m = NULL, *q = NULL;
  onyx_quant_options *o = NULL;
  onyx_quant_report *r = NULL;
  onyx_status *s = onyx_model_load_from_buffer(data, size, NULL, &m);
  if (!s) s = onyx_quant_options_create(&o);
  if (!s) s = onyx_quant_options_set(o, "mode", "dynamic");
  if (!s) s = onyx_quant_options_set(o, "per_channel", (size & 1) ? "1" : "0");
  if (!s) s = onyx_quantize_model(m, o, &q, &r);
  void *buf = NULL;
  size_t len = 0;
  if (!s) s = onyx_model_save_to_buffer(q, &buf, &len);
  onyx_buffer_free(buf);
  onyx_status_free(s);
  onyx_quant_report_destroy(r);
  onyx_quant_options_destroy(o);
  onyx_model_destroy(q);
  onyx_model_destroy(m);
  return 0;
}
