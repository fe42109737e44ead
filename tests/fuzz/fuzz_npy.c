/* fuzz_npy.c — libFuzzer target for the CLI's .npy reader (tools/npy.c),
 * which reads the arrays users feed `onyx run`, `quantize` and `report`.
 * Build and run: see tests/fuzz/README.md. */
#include <stdint.h>

#include "npy.h"
#include "onyx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  onyx_tensor *t = NULL;
  char err[256];
  if (npy_to_tensor(data, size, &t, err, sizeof err)) onyx_tensor_free(t);
  return 0;
}
