/* tensor_pb.h — for tests of the TensorProto decoder: writes a TensorProto
 * built through the protobuf-c structs to a temporary .pb file and reads it
 * back with onyx_tensor_load_pb. Include after test_util.h and onnx.pb-c.h. */
#ifndef ONYX_TEST_TENSOR_PB_H
#define ONYX_TEST_TENSOR_PB_H

#include <unistd.h>

#include "base/tensor.h"

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

#endif
