/* proto_util.h — for tests that build ONNX messages through the protobuf-c
 * structs and hand them to onyx's decoders. Include after test_util.h and
 * onnx.pb-c.h. */
#ifndef ONYX_TEST_PROTO_UTIL_H
#define ONYX_TEST_PROTO_UTIL_H

#include <unistd.h>

#include "base/tensor.h"

/* Writes tp to a temporary .pb file and reads it back with onyx_tensor_load_pb. */
static inline onyx_status *tu_decode_tensor_proto(Onnx__TensorProto *tp, onyx_tensor **t) {
  size_t n = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *buf = malloc(n + 1);
  onnx__tensor_proto__pack(tp, buf);
  char path[] = "/tmp/onyx_tensor_pbXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0 && write(fd, buf, n) == (ssize_t)n);
  close(fd);
  free(buf);
  onyx_status *s = onyx_tensor_load_pb(path, t, NULL);
  unlink(path);
  return s;
}

/* Serialises mp and loads it (external data relative to dir, may be NULL);
 * the model goes to *out, or is destroyed when out is NULL. */
static inline onyx_status *tu_load_model_proto(const Onnx__ModelProto *mp, const char *dir, onyx_model **out) {
  size_t len = onnx__model_proto__get_packed_size(mp);
  uint8_t *buf = malloc(len + 1);
  onnx__model_proto__pack(mp, buf);
  onyx_model *m = NULL;
  onyx_status *s = onyx_model_load_from_buffer(buf, len, dir, &m);
  free(buf);
  if (out) *out = m;
  else onyx_model_destroy(m);
  return s;
}

#endif
