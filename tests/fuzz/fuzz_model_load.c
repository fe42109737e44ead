/* fuzz_model_load.c — libFuzzer target for the ONNX model loader.
 *
 * Feeds arbitrary bytes to onyx_model_load_from_buffer; whatever loads must
 * also save and load again (the writer accepts everything the reader
 * produces). Crashes, sanitizer reports and leaks are the findings.
 * Build (clang): cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang
 *   -DONYX_SANITIZE=ON -DONYX_FUZZ=ON && cmake --build build-fuzz --target fuzz_model_load
 * Run: build-fuzz/tests/fuzz_model_load -max_total_time=60 corpus/ seeds/
 * (seeds: any .onnx files, e.g. the node tests' model.onnx). */
#include <stdint.h>
#include <stdlib.h>

#include "onyx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  onyx_model *m = NULL, *m2 = NULL;
  onyx_status *s = onyx_model_load_from_buffer(data, size, NULL, &m);
  if (s) {
    onyx_status_free(s);
    return 0;
  }
  void *buf = NULL;
  size_t len = 0;
  s = onyx_model_save_to_buffer(m, &buf, &len);
  if (!s) s = onyx_model_load_from_buffer(buf, len, NULL, &m2);
  if (s) abort();   /* a loaded model must survive save + load */
  onyx_buffer_free(buf);
  onyx_model_destroy(m);
  onyx_model_destroy(m2);
  return 0;
}
