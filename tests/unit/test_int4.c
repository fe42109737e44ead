/* test_int4.c — int4/uint4 (opset 21) end to end: packing (two to a byte,
 * low nibble first, as ONNX stores them), TensorProto reading in both
 * encodings (raw_data and one packed byte per int32_data value), a model
 * save/load round trip of an int4 initializer with an odd count,
 * QuantizeLinear to and DequantizeLinear from 4 bits per tensor, per axis
 * and blocked, and Cast both ways. Expected values are worked out by hand
 * from the spec's formulas (saturate, round half to even), written out
 * here, never taken from the kernels. */
#include <stdint.h>
#include <unistd.h>

#include "base/tensor.h"
#include "onnx.pb-c.h"
#include "test_util.h"
#include "proto_util.h"

static onyx_tensor *mk(onyx_dtype dt, int rank, const int64_t *dims, const void *data) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  memcpy(onyx_tensor_data(t), data, onyx_tensor_nbytes(t));
  return t;
}

/* Element i of a packed 4-bit buffer, decoded here independently of base/tensor.h. */
static int nib(const void *p, int i, bool sgn) {
  int b = ((const uint8_t *)p)[i / 2];
  int v = i % 2 ? b >> 4 : b & 15;
  return sgn && v >= 8 ? v - 16 : v;
}

static void test_layout(void) {
  int64_t d5 = 5;
  CHECK(onyx_dtype_bytes(ONYX_DTYPE_INT4, 5) == 3 && onyx_dtype_bytes(ONYX_DTYPE_UINT4, 4) == 2);
  CHECK(onyx_dtype_size(ONYX_DTYPE_INT4) == 0);
  onyx_tensor *t;
  CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT4, 1, &d5, &t));
  CHECK(onyx_tensor_nbytes(t) == 3);
  /* 1, 2, 3, 5, -1 -> 0x21 0x53 0x0F */
  int v[5] = {1, 2, 3, 5, -1};
  for (int i = 0; i < 5; i++) onyx_nibble_set(onyx_tensor_data(t), i, v[i]);
  const uint8_t *b = onyx_tensor_data(t);
  CHECK(b[0] == 0x21 && b[1] == 0x53 && b[2] == 0x0F);
  for (int i = 0; i < 5; i++) CHECK(onyx_nibble_get(b, i, true) == v[i]);
  CHECK(onyx_nibble_get(b, 4, false) == 15);
  onyx_tensor_free(t);
}

static void test_tensor_proto(void) {
  int64_t dims[2] = {1, 5};
  /* int32_data: one packed byte per value, ceil(5 / 2) of them (onnx.helper's encoding) */
  int32_t packed[3] = {0x21, 0x53, 0x0F};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  tp.n_dims = 2;
  tp.dims = dims;
  tp.has_data_type = 1;
  tp.data_type = ONYX_DTYPE_INT4;
  tp.n_int32_data = 3;
  tp.int32_data = packed;
  onyx_tensor *t = NULL;
  CHECK_OK(tu_decode_tensor_proto(&tp, &t));
  int want[5] = {1, 2, 3, 5, -1};
  for (int i = 0; t && i < 5; i++) CHECK(nib(onyx_tensor_data(t), i, true) == want[i]);
  CHECK(t && onyx_tensor_nbytes(t) == 3);
  onyx_tensor_free(t);
  tp.n_int32_data = 5;   /* one value per element is not the encoding */
  CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL);
  /* raw_data: the same 3 bytes; 5 is one too many */
  uint8_t raw[5] = {0x21, 0x53, 0x0F};
  tp.n_int32_data = 0;
  tp.data_type = ONYX_DTYPE_UINT4;
  tp.has_raw_data = 1;
  tp.raw_data.data = raw;
  tp.raw_data.len = 3;
  t = NULL;
  CHECK_OK(tu_decode_tensor_proto(&tp, &t));
  CHECK(t && onyx_tensor_dtype(t) == ONYX_DTYPE_UINT4 && nib(onyx_tensor_data(t), 4, false) == 15);
  onyx_tensor_free(t);
  tp.raw_data.len = 5;
  CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL);
  /* a .pb written by onyx reads back equal */
  t = NULL;
  tp.raw_data.len = 3;
  CHECK_OK(tu_decode_tensor_proto(&tp, &t));
  char path[] = "/tmp/onyx_int4_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  onyx_tensor *back = NULL;
  if (t) CHECK_OK(onyx_tensor_save_pb(t, "w", path));
  CHECK_OK(onyx_tensor_load_pb(path, &back, NULL));
  CHECK(t && back && onyx_tensor_nbytes(back) == 3 && !memcmp(onyx_tensor_data(back), raw, 3));
  unlink(path);
  onyx_tensor_free(t);
  onyx_tensor_free(back);
}

/* A model y = DequantizeLinear(w, scale, zp) with an int4 initializer w of
 * 5 elements, saved, reloaded and run. */
static void test_model_round_trip(void) {
  onyx_model *m = tu_model_new(21);
  m->ir_version = 10;   /* int4 */
  onyx_graph *g = m->graph;
  int in[3], out, node;
  onyx_graph_value(g, "w", &in[0]);
  onyx_graph_value(g, "scale", &in[1]);
  onyx_graph_value(g, "zp", &in[2]);
  onyx_graph_value(g, "y", &out);
  int64_t d5 = 5, one = 1;
  uint8_t w[3] = {0x21, 0x53, 0x0F}, zp = 0x0F;   /* 1 2 3 5 -1; zero point -1 */
  float scale = 2;
  onyx_tensor *inits[3] = {mk(ONYX_DTYPE_INT4, 1, &d5, w), mk(ONYX_DTYPE_FLOAT, 0, &one, &scale),
                           mk(ONYX_DTYPE_INT4, 0, &one, &zp)};
  for (int i = 0; i < 3; i++) {
    onyx_value *v = &g->values[in[i]];
    v->init = inits[i];
    v->dtype = inits[i]->dtype;
    v->rank = inits[i]->rank;
    memcpy(v->dims, inits[i]->dims, sizeof v->dims);
  }
  onyx_graph_add_node(g, "dq", "DequantizeLinear", "", 3, in, 1, &out, &node);
  onyx_graph_set_outputs(g, 1, &out);
  void *buf = NULL;
  size_t len = 0;
  CHECK_OK(onyx_model_save_to_buffer(m, &buf, &len));
  onyx_model_destroy(m);
  m = NULL;
  if (buf) CHECK_OK(onyx_model_load_from_buffer(buf, len, NULL, &m));
  onyx_buffer_free(buf);
  if (!m) return;
  const onyx_tensor *wt = m->graph->values[onyx_graph_find(m->graph, "w")].init;
  CHECK(wt && wt->dtype == ONYX_DTYPE_INT4 && wt->rank == 1 && wt->dims[0] == 5 && wt->nbytes == 3 &&
        !memcmp(wt->data, w, 3));
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(m, o, &s));
  onyx_options_destroy(o);
  onyx_tensor *y = NULL;
  if (s) CHECK_OK(onyx_session_run(s, 0, NULL, NULL, 1, NULL, &y));
  /* (w - (-1)) * 2 */
  float want[5] = {4, 6, 8, 12, 0};
  CHECK(y && onyx_tensor_dtype(y) == ONYX_DTYPE_FLOAT && !memcmp(onyx_tensor_data(y), want, sizeof want));
  onyx_tensor_free(y);
  onyx_session_destroy(s);
}

/* Runs QuantizeLinear (opset 21) of x [3, 4] with scale/zp per `sd`. */
static onyx_tensor *quantize(onyx_dtype qt, const float *x, int srank, const int64_t *sd, const float *sc,
                             const uint8_t *zp_packed, int64_t axis, int64_t block) {
  int64_t d[2] = {3, 4};
  tu_node t = tu_node_new("QuantizeLinear", 21, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, srank, sd, sc);
  tu_const(&t, 2, qt, srank, sd, zp_packed);
  tu_attr_int(&t, "axis", axis);
  if (block) tu_attr_int(&t, "block_size", block);
  onyx_tensor *xt = mk(ONYX_DTYPE_FLOAT, 2, d, x), *q = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &xt, 1, &q));
  onyx_tensor_free(xt);
  CHECK(q && onyx_tensor_dtype(q) == qt && onyx_tensor_nbytes(q) == 6);
  return q;
}

static void test_quantize(void) {
  /* per axis 0, int4 and uint4 */
  const float x[12] = {0.0f, 2.5f, 4.8f, 8.6f, -30, -20, 6, 9, 12, 15, 16, 40};
  const float sc[3] = {2, 3, 4};
  int64_t sd[1] = {3};
  uint8_t zp_i4[2] = {0xA1, 0x07};   /* 1, -6, 7 */
  const int want_i4[12] = {1, 2, 3, 5, -8, -8, -4, -3, 7, 7, 7, 7};
  onyx_tensor *q = quantize(ONYX_DTYPE_INT4, x, 1, sd, sc, zp_i4, 0, 0);
  for (int i = 0; q && i < 12; i++) CHECK(nib(onyx_tensor_data(q), i, true) == want_i4[i]);
  onyx_tensor_free(q);
  uint8_t zp_u4[2] = {0x21, 0x03};   /* 1, 2, 3 */
  const int want_u4[12] = {1, 2, 3, 5, 0, 0, 4, 5, 6, 7, 7, 13};
  q = quantize(ONYX_DTYPE_UINT4, x, 1, sd, sc, zp_u4, 0, 0);
  for (int i = 0; q && i < 12; i++) CHECK(nib(onyx_tensor_data(q), i, false) == want_u4[i]);
  onyx_tensor_free(q);
  /* no zero point: output_dtype (opset 21) picks uint4; per tensor, scale 4 */
  {
    int64_t d[2] = {3, 4}, one = 1;
    float s4 = 4;
    tu_node t = tu_node_new("QuantizeLinear", 21, 2, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 0, &one, &s4);
    tu_attr_int(&t, "output_dtype", ONYX_DTYPE_UINT4);
    onyx_tensor *xt = mk(ONYX_DTYPE_FLOAT, 2, d, x);
    q = NULL;
    CHECK_OK(tu_run(&t, 1, 1, &xt, 1, &q));
    onyx_tensor_free(xt);
    /* rint(x / 4) saturated to [0, 15]: 0, rint(0.625), rint(1.2), rint(2.15), 0, 0, rint(1.5), rint(2.25),
     * 3, rint(3.75), 4, 10 */
    const int want[12] = {0, 1, 1, 2, 0, 0, 2, 2, 3, 4, 4, 10};
    CHECK(q && onyx_tensor_dtype(q) == ONYX_DTYPE_UINT4);
    for (int i = 0; q && i < 12; i++) CHECK(nib(onyx_tensor_data(q), i, false) == want[i]);
    onyx_tensor_free(q);
  }
  /* blocked along axis 1, blocks of 2: scale [3, 2] */
  const float sb[6] = {1, 2, 4, 8, 0.5f, 10};
  int64_t sbd[2] = {3, 2};
  uint8_t zb[3] = {0x10, 0x0F, 0x00};   /* 0, 1 | -1, 0 | 0, 0 */
  /* row 0: 0/1, rint(2.5) = 2 (half to even), rint(2.4) + 1 = 3, rint(4.3) + 1 = 5
   * row 1: rint(-7.5) - 1 = -9 -> -8, -5 - 1 = -6, rint(0.75) = 1, rint(1.125) = 1
   * row 2: 24 -> 7, 30 -> 7, rint(1.6) = 2, 4 */
  const int want_b[12] = {0, 2, 3, 5, -8, -6, 1, 1, 7, 7, 2, 4};
  q = quantize(ONYX_DTYPE_INT4, x, 2, sbd, sb, zb, 1, 2);
  for (int i = 0; q && i < 12; i++) CHECK(nib(onyx_tensor_data(q), i, true) == want_b[i]);
  onyx_tensor_free(q);
}

static void test_dequantize(void) {
  /* per tensor, odd count: (x - zp) * s with x = 0 1 7 -8 -1, zp = -1, s = 2 */
  int64_t d5 = 5, one = 1;
  uint8_t xp[3] = {0x10, 0x87, 0x0F}, zp = 0x0F;
  float s = 2;
  tu_node t = tu_node_new("DequantizeLinear", 21, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_INT4, 1, &d5);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 0, &one, &s);
  tu_const(&t, 2, ONYX_DTYPE_INT4, 0, &one, &zp);
  onyx_tensor *x = mk(ONYX_DTYPE_INT4, 1, &d5, xp), *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  const float want[5] = {2, 4, 16, -14, 0};
  CHECK(y && !memcmp(onyx_tensor_data(y), want, sizeof want));
  onyx_tensor_free(x);
  onyx_tensor_free(y);
  /* uint4, per axis 1 of [2, 3], no zero point: x = 0 15 7 / 1 2 3, s = 1 0.5 0.25 */
  int64_t d[2] = {2, 3}, sd[1] = {3};
  uint8_t xu[3] = {0xF0, 0x17, 0x32};
  float su[3] = {1, 0.5f, 0.25f};
  t = tu_node_new("DequantizeLinear", 21, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_UINT4, 2, d);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, sd, su);
  tu_attr_int(&t, "axis", 1);
  x = mk(ONYX_DTYPE_UINT4, 2, d, xu);
  y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  const float want_u[6] = {0, 7.5f, 1.75f, 1, 1, 0.75f};
  CHECK(y && !memcmp(onyx_tensor_data(y), want_u, sizeof want_u));
  onyx_tensor_free(x);
  onyx_tensor_free(y);
  /* int4, blocked along axis 1 (blocks of 2) of [2, 4]: scales [2, 2], zero points [2, 2] */
  int64_t db[2] = {2, 4}, sbd[2] = {2, 2};
  uint8_t xb[4] = {0x21, 0xE3, 0x0F, 0x87};   /* 1 2 3 -2 / -1 0 7 -8 */
  float sb[4] = {1, 0.5f, 2, 4};
  uint8_t zb[2] = {0x01, 0xF0};               /* 1 0 / 0 -1 */
  t = tu_node_new("DequantizeLinear", 21, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_INT4, 2, db);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 2, sbd, sb);
  tu_const(&t, 2, ONYX_DTYPE_INT4, 2, sbd, zb);
  tu_attr_int(&t, "axis", 1);
  tu_attr_int(&t, "block_size", 2);
  x = mk(ONYX_DTYPE_INT4, 2, db, xb);
  y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  /* (1-1)*1 (2-1)*1 (3-0)*.5 (-2-0)*.5 / (-1-0)*2 (0-0)*2 (7+1)*4 (-8+1)*4 */
  const float want_b[8] = {0, 1, 1.5f, -1, -2, 0, 32, -28};
  CHECK(y && !memcmp(onyx_tensor_data(y), want_b, sizeof want_b));
  onyx_tensor_free(x);
  onyx_tensor_free(y);
}

static onyx_tensor *cast(onyx_dtype from, onyx_dtype to, int64_t n, const void *data) {
  tu_node t = tu_node_new("Cast", 21, 1, 1);
  tu_input(&t, 0, from, 1, &n);
  tu_attr_int(&t, "to", to);
  onyx_tensor *x = mk(from, 1, &n, data), *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  onyx_tensor_free(x);
  CHECK(y && onyx_tensor_dtype(y) == to);
  return y;
}

static void test_cast(void) {
  /* float -> int4: saturate, then round half to even */
  const float f[11] = {-10, -8.5f, -7.5f, -0.5f, 0.5f, 1.5f, 2.5f, 6.6f, 7.5f, 100, -2.4f};
  const int want_i4[11] = {-8, -8, -8, 0, 0, 2, 2, 7, 7, 7, -2};
  onyx_tensor *y = cast(ONYX_DTYPE_FLOAT, ONYX_DTYPE_INT4, 11, f);
  for (int i = 0; y && i < 11; i++) CHECK(nib(onyx_tensor_data(y), i, true) == want_i4[i]);
  CHECK(y && ((uint8_t *)onyx_tensor_data(y))[5] >> 4 == 0);   /* padding nibble */
  onyx_tensor_free(y);
  const float fu[6] = {-3, 0.5f, 1.5f, 14.5f, 15.5f, 20};
  const int want_u4[6] = {0, 0, 2, 14, 15, 15};
  y = cast(ONYX_DTYPE_FLOAT, ONYX_DTYPE_UINT4, 6, fu);
  for (int i = 0; y && i < 6; i++) CHECK(nib(onyx_tensor_data(y), i, false) == want_u4[i]);
  onyx_tensor_free(y);
  /* int8 -> int4 saturates too */
  const int8_t i8[3] = {100, -100, -3};
  y = cast(ONYX_DTYPE_INT8, ONYX_DTYPE_INT4, 3, i8);
  CHECK(y && nib(onyx_tensor_data(y), 0, true) == 7 && nib(onyx_tensor_data(y), 1, true) == -8 &&
        nib(onyx_tensor_data(y), 2, true) == -3);
  onyx_tensor_free(y);
  /* int4 -> float / int64, uint4 -> int32 / int4 */
  const uint8_t p[3] = {0x87, 0xF1, 0x0A};   /* int4: 7 -8 1 -1 -6; uint4: 7 8 1 15 10 */
  y = cast(ONYX_DTYPE_INT4, ONYX_DTYPE_FLOAT, 5, p);
  const float want_f[5] = {7, -8, 1, -1, -6};
  CHECK(y && !memcmp(onyx_tensor_data(y), want_f, sizeof want_f));
  onyx_tensor_free(y);
  y = cast(ONYX_DTYPE_INT4, ONYX_DTYPE_INT64, 5, p);
  const int64_t want_l[5] = {7, -8, 1, -1, -6};
  CHECK(y && !memcmp(onyx_tensor_data(y), want_l, sizeof want_l));
  onyx_tensor_free(y);
  y = cast(ONYX_DTYPE_UINT4, ONYX_DTYPE_INT32, 5, p);
  const int32_t want_i[5] = {7, 8, 1, 15, 10};
  CHECK(y && !memcmp(onyx_tensor_data(y), want_i, sizeof want_i));
  onyx_tensor_free(y);
  y = cast(ONYX_DTYPE_UINT4, ONYX_DTYPE_INT4, 5, p);
  const int want_c[5] = {7, 7, 1, 7, 7};
  for (int i = 0; y && i < 5; i++) CHECK(nib(onyx_tensor_data(y), i, true) == want_c[i]);
  onyx_tensor_free(y);
}

int main(void) {
  test_layout();
  test_tensor_proto();
  test_model_round_trip();
  test_quantize();
  test_dequantize();
  test_cast();
  return tu_done("test_int4");
}
