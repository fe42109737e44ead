/* fuzz_session.c — libFuzzer target for the whole path a served model takes:
 * load from bytes, optimize at level 3, create a session on the default
 * providers (one intra-op thread), and run it once on small inputs made from
 * the data (symbolic dims bound to 1 or 2, at most 64K elements an input).
 * Hostile shapes, attributes and edges reach shape inference, the
 * optimizer's passes, the planner and the kernels; every one must answer
 * with a status. Build and run: see tests/fuzz/README.md. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "onyx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUTS 16
#define MAX_ELEMS (1 << 16)

/* A small deterministic generator seeded from the input bytes. */
static uint64_t mix(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  onyx_model *m = NULL;
  onyx_status *s = onyx_model_load_from_buffer(data, size, NULL, &m);
  if (s) {
    onyx_status_free(s);
    return 0;
  }
  onyx_options *o = NULL;
  onyx_session *sess = NULL;
  if ((s = onyx_options_create(&o))) {
    onyx_model_destroy(m);
    onyx_status_free(s);
    return 0;
  }
  onyx_options_set_intra_op_threads(o, 1);
  onyx_options_set_log_level(o, ONYX_LOG_NONE);
  s = onyx_session_create_from_model(m, o, &sess);   /* takes m */
  onyx_options_destroy(o);
  if (s) {
    onyx_status_free(s);
    return 0;
  }
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
  for (size_t i = 0; i < size && i < 64; i++) seed = seed * 31 + data[i];
  if (!seed) seed = 1;
  int n = onyx_session_input_count(sess);
  onyx_tensor *in[MAX_INPUTS] = {0};
  const char *names[MAX_INPUTS];
  bool ok = n <= MAX_INPUTS;
  for (int i = 0; ok && i < n; i++) {
    onyx_value_info vi;
    ok = !(s = onyx_session_input_info(sess, i, &vi)) && vi.rank >= 0 && vi.dtype != ONYX_DTYPE_STRING &&
         onyx_dtype_size(vi.dtype) > 0;
    int64_t dims[ONYX_MAX_RANK], numel = 1;
    for (int d = 0; ok && d < vi.rank; d++) {
      dims[d] = vi.dims[d] >= 0 ? vi.dims[d] : (int64_t)(1 + mix(&seed) % 2);
      numel *= dims[d];
      ok = numel <= MAX_ELEMS;
    }
    if (ok) ok = !(s = onyx_tensor_create(vi.dtype, vi.rank, dims, &in[i]));
    /* small values, valid as indices too; never negative for unsigned types,
     * where they would wrap to sizes of gigabytes (a model that asks for
     * that much is legitimate, and only slow) */
    bool is_unsigned = vi.dtype == ONYX_DTYPE_UINT8 || vi.dtype == ONYX_DTYPE_UINT16 ||
                       vi.dtype == ONYX_DTYPE_UINT32 || vi.dtype == ONYX_DTYPE_UINT64;
    for (int64_t k = 0; ok && k < numel; k++)
      onyx_tensor_set_f64(in[i], k, (double)(int64_t)(mix(&seed) % 17) - (is_unsigned ? 0 : 8));
    names[i] = vi.name;
    onyx_status_free(s);
    s = NULL;
  }
  if (ok) {
    int n_out = onyx_session_output_count(sess);
    onyx_tensor **out = n_out > 0 ? calloc((size_t)n_out, sizeof *out) : NULL;
    if (out) {
      onyx_status_free(onyx_session_run(sess, n, names, in, n_out, NULL, out));
      for (int k = 0; k < n_out; k++) onyx_tensor_free(out[k]);
      free(out);
    }
  }
  for (int i = 0; i < n && i < MAX_INPUTS; i++) onyx_tensor_free(in[i]);
  onyx_session_destroy(sess);
  return 0;
}
