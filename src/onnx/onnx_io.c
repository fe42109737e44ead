/* onnx_io.c — placeholder until the protobuf loader lands. */
#include <sys/mman.h>

#include "base/status.h"
#include "ir/ir.h"

void onyx_unmap_file(void *p, size_t n) { munmap(p, n); }

onyx_status *onyx_model_load(const char *path, onyx_model **out) {
  (void)out;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: loader not written yet", path);
}
onyx_status *onyx_model_load_from_buffer(const void *data, size_t len, const char *dir, onyx_model **out) {
  (void)data; (void)len; (void)dir; (void)out;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "loader not written yet");
}
onyx_status *onyx_model_save(const onyx_model *m, const char *path) {
  (void)m;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: saver not written yet", path);
}
onyx_status *onyx_model_save_to_buffer(const onyx_model *m, void **data, size_t *len) {
  (void)m; (void)data; (void)len;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "saver not written yet");
}
void onyx_buffer_free(void *p) { (void)p; }
onyx_status *onyx_tensor_load_pb(const char *path, onyx_tensor **out, char **name) {
  (void)out; (void)name;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: not written yet", path);
}
onyx_status *onyx_tensor_save_pb(const onyx_tensor *t, const char *name, const char *path) {
  (void)t; (void)name;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: not written yet", path);
}
