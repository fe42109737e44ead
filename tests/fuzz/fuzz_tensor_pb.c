/* fuzz_tensor_pb.c — libFuzzer target for the .pb tensor reader (ONNX's test
 * data format: TensorProto, SequenceProto, OptionalProto), through the public
 * onyx_tensor_load_pb on a file in a private temporary folder; whatever loads
 * as a tensor is saved again. Build and run: see tests/fuzz/README.md. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "onyx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/onyx-fuzz-pb-XXXXXX", in[64], out[64];

static void cleanup(void) {
  remove(in);
  remove(out);
  remove(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool made;
  if (!made) {
    if (!mkdtemp(dir)) return 0;
    made = true;
    snprintf(in, sizeof in, "%s/in.pb", dir);
    snprintf(out, sizeof out, "%s/out.pb", dir);
    atexit(cleanup);
  }
  FILE *f = fopen(in, "wb");
  if (!f) return 0;
  size_t w = size ? fwrite(data, 1, size, f) : 0;
  if (fclose(f) || w != size) return 0;
  onyx_tensor *t = NULL;
  char *name = NULL;
  onyx_status *s = onyx_tensor_load_pb(in, &t, &name);
  if (!s && onyx_tensor_kind(t) == ONYX_VALUE_TENSOR) s = onyx_tensor_save_pb(t, name, out);
  onyx_status_free(s);
  onyx_buffer_free(name);
  onyx_tensor_free(t);
  return 0;
}
