/* test_opt_qdq.c — the QDQ and dynamic-quantization fusions (level 2,
 * src/opt/fuse_qdq.c, fuse_dynamic_quant.c): for each pattern a graph where
 * it must fire, checked by the ops left and by running the graph at level 0
 * (DequantizeLinear -> float op -> QuantizeLinear on the standard kernels)
 * and at level 2 (the integer op) on the same random inputs; and graphs
 * where it must not (weights fed at run time, per-channel scales on the
 * wrong axis, the float result read twice, mismatched dtypes, a Q whose
 * scale differs from what a pass-through op needs, a bias at the wrong
 * scale). Then end to end: the bundled digits CNN quantized statically
 * (QDQ, per channel) through the C API runs on QLinearConv and integer
 * matmuls with no float Conv left, and classifies the test split as the
 * unfused QDQ model does.
 *
 * Tolerance. The integer ops accumulate exactly in int32 and requantize
 * once; the float graph sums rounded products in float. The two agree
 * except where a value lands next to a rounding boundary of the output
 * quantization, where they may differ by one step; outputs are compared in
 * units of that step (at most 1). QLinearAdd, the pass-through ops and
 * DynamicQuantMatMul take the float graph's own steps and must match
 * exactly. */
#include <stdlib.h>

#include "npy.h"
#include "ops/ops.h"
#include "exec/exec.h"
#include "opt/opt.h"
#include "opt_builder.h"

static int variant;   /* which case the builders below make */

/* ---- building QDQ graphs ------------------------------------------------------------ */

/* x (float) -> QuantizeLinear(s, zp) -> <x>_q -> DequantizeLinear -> <x>_dq */
static void qdq(gb *b, const char *x, float s, int zp, onyx_dtype dt) {
  char sn[64], zn[64], q[64], dq[64], in[256];
  snprintf(sn, sizeof sn, "%s_s", x);
  snprintf(zn, sizeof zn, "%s_z", x);
  snprintf(q, sizeof q, "%s_q", x);
  snprintf(dq, sizeof dq, "%s_dq", x);
  gb_scalar(b, sn, s);
  if (dt == ONYX_DTYPE_INT8) {
    int8_t z = (int8_t)zp;
    gb_const(b, zn, dt, 0, NULL, &z);
  } else {
    uint8_t z = (uint8_t)zp;
    gb_const(b, zn, dt, 0, NULL, &z);
  }
  snprintf(in, sizeof in, "%s,%s,%s", x, sn, zn);
  gb_node(b, "QuantizeLinear", in, q);
  snprintf(in, sizeof in, "%s,%s,%s", q, sn, zn);
  gb_node(b, "DequantizeLinear", in, dq);
}

/* Constant int8 weights <name> (random floats in [-0.5, 0.5) quantized
 * symmetrically, per channel along `axis` or per tensor when axis < 0) and
 * their DequantizeLinear -> <name>_dq (attribute axis = dq_axis). The
 * scales go to scales[] (channel count, or one). */
static void qweight(gb *b, const char *name, int rank, const int64_t *dims, int axis, int dq_axis, unsigned seed,
                    float *scales) {
  int64_t n = onyx_numel(rank, dims), ch = axis >= 0 ? dims[axis] : 1, inner = 1;
  for (int d = axis + 1; axis >= 0 && d < rank; d++) inner *= dims[d];
  float *w = malloc((size_t)n * sizeof *w);
  int8_t *q = malloc((size_t)n);
  tu_fill_random(w, (size_t)n, seed);
  for (int64_t i = 0; i < n; i++) w[i] *= 0.5f;
  for (int64_t c = 0; c < ch; c++) scales[c] = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = axis >= 0 ? (i / inner) % ch : 0;
    if (fabsf(w[i]) / 127.0f > scales[c]) scales[c] = fabsf(w[i]) / 127.0f;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t c = axis >= 0 ? (i / inner) % ch : 0;
    q[i] = (int8_t)nearbyintf(w[i] / scales[c]);
  }
  char sn[64], zn[64], dq[64], in[256];
  snprintf(sn, sizeof sn, "%s_s", name);
  snprintf(zn, sizeof zn, "%s_z", name);
  snprintf(dq, sizeof dq, "%s_dq", name);
  gb_const(b, name, ONYX_DTYPE_INT8, rank, dims, q);
  int8_t zeros[256] = {0};
  if (axis >= 0) {
    gb_const(b, sn, ONYX_DTYPE_FLOAT, 1, &ch, scales);
    gb_const(b, zn, ONYX_DTYPE_INT8, 1, &ch, zeros);
  } else {
    gb_scalar(b, sn, scales[0]);
    gb_const(b, zn, ONYX_DTYPE_INT8, 0, NULL, zeros);
  }
  snprintf(in, sizeof in, "%s,%s,%s", name, sn, zn);
  gb_node(b, "DequantizeLinear", in, dq);
  if (axis >= 0) gb_ai(b, "axis", dq_axis);
  free(w);
  free(q);
}

/* Constant int32 bias <name> of m values at scale xs * ws[c] (times `off`,
 * 1 for the scale the integer op needs) behind a DequantizeLinear. */
static void qbias(gb *b, const char *name, int64_t m, float xs, const float *ws, int nws, float off) {
  int32_t *q = malloc((size_t)m * sizeof *q);
  float *s = malloc((size_t)m * sizeof *s), r[64];
  tu_fill_random(r, (size_t)m, 77);
  for (int64_t c = 0; c < m; c++) {
    s[c] = xs * ws[nws == 1 ? 0 : c] * off;
    q[c] = (int32_t)nearbyintf(r[c] * 0.3f / s[c]);
  }
  char sn[64], dq[64], in[256];
  snprintf(sn, sizeof sn, "%s_s", name);
  snprintf(dq, sizeof dq, "%s_dq", name);
  gb_const(b, name, ONYX_DTYPE_INT32, 1, &m, q);
  gb_const(b, sn, ONYX_DTYPE_FLOAT, 1, &m, s);
  snprintf(in, sizeof in, "%s,%s", name, sn);
  gb_node(b, "DequantizeLinear", in, dq);
  gb_ai(b, "axis", 0);
  free(q);
  free(s);
}

/* ---- comparing level 0 and level 2 ------------------------------------------------------- */

/* The outputs of `build` at levels 0 and 2 on two random input sets: largest
 * difference in units of `step` (the output quantization step). */
static double steps_apart(gb_build_fn build, double step) {
  double worst = 0;
  for (unsigned seed = 1; seed <= 2; seed++) {
    onyx_tensor *ref[8] = {0}, *opt[8] = {0};
    int n0 = 0, n1 = 0;
    onyx_status *s0 = gb_run(build, 0, 1, seed, &n0, ref), *s1 = gb_run(build, 2, 1, seed, &n1, opt);
    if (s0 || s1) {
      fprintf(stderr, "run failed: %s | %s\n", onyx_status_message(s0), onyx_status_message(s1));
      worst = 1e30;
    }
    for (int i = 0; !s0 && !s1 && i < n0; i++) {
      int64_t n = onyx_tensor_numel(ref[i]);
      if (n != onyx_tensor_numel(opt[i]) || onyx_tensor_dtype(opt[i]) != ONYX_DTYPE_FLOAT) {
        worst = 1e30;
        continue;
      }
      const float *a = onyx_tensor_data(ref[i]), *c = onyx_tensor_data(opt[i]);
      for (int64_t k = 0; k < n; k++) {
        double d = fabs((double)a[k] - (double)c[k]) / step;
        if (d > worst || d != d) worst = d != d ? 1e30 : d;
      }
    }
    onyx_status_free(s0);
    onyx_status_free(s1);
    for (int i = 0; i < 8; i++) {
      onyx_tensor_free(ref[i]);
      opt[i] ? onyx_tensor_free(opt[i]) : (void)0;
    }
  }
  return worst;
}

/* within one step (a little slack for the float DQ of the output) */
#define ONE_STEP 1.0001

/* ---- Conv -------------------------------------------------------------------------------- */

#define XS (2.0f / 255.0f)   /* inputs are in [-1, 1) */
#define YS (4.0f / 255.0f)

/* variant: 0 per-channel + bias; 1 + Relu; 2 depthwise + Relu; 3 per-tensor
 * int8 activations, no bias; negative: 4 weights fed at run time, 5
 * per-channel on the input-channel axis, 6 conv output read twice, 7 bias
 * at the wrong scale */
static gb conv_graph(void) {
  gb b = gb_new(13);
  bool dw = variant == 2, s8 = variant == 3;
  int64_t c = dw ? 4 : 3, m = 4;
  int64_t xd[4] = {2, c, 7, 7}, wd[4] = {m, dw ? 1 : c, 3, 3};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 4, xd);
  qdq(&b, "x", XS, s8 ? 0 : 128, s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8);
  float ws[64];
  if (variant == 4) {
    gb_input(&b, "wq", ONYX_DTYPE_INT8, 4, wd);
    gb_scalar(&b, "wq_s", 0.004f);
    int8_t z = 0;
    gb_const(&b, "wq_z", ONYX_DTYPE_INT8, 0, NULL, &z);
    gb_node(&b, "DequantizeLinear", "wq,wq_s,wq_z", "w_dq");
    ws[0] = 0.004f;
  } else if (variant == 5) {
    int64_t wd5[4] = {m, c, 3, 3};
    qweight(&b, "w", 4, wd5, 1, 1, 5, ws);
  } else {
    qweight(&b, "w", 4, wd, variant == 3 ? -1 : 0, 0, 5, ws);
  }
  bool bias = variant != 3 && variant != 4;
  if (bias) qbias(&b, "bias", m, XS, ws, variant == 5 ? 1 : (int)m, variant == 7 ? 1.5f : 1.0f);
  gb_node(&b, "Conv", bias ? "x_dq,w_dq,bias_dq" : "x_dq,w_dq", "c");
  int64_t pads[4] = {1, 1, 1, 1};
  gb_aints(&b, "pads", 4, pads);
  if (dw) gb_ai(&b, "group", c);
  const char *y = "c";
  if (variant == 1 || variant == 2) {
    gb_node(&b, "Relu", "c", "r");
    y = "r";
  }
  qdq(&b, y, YS, variant == 3 ? 0 : 128, s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8);
  char out[64];
  snprintf(out, sizeof out, "%s_dq", y);
  gb_output(&b, out);
  if (variant == 6) gb_output(&b, "c");
  return b;
}

static void test_conv(void) {
  for (variant = 0; variant <= 7; variant++) {
    bool fires = variant <= 3, relu = variant == 1 || variant == 2;
    int plain = gb_count_after(conv_graph, 2, "QLinearConv"), fused = gb_count_after(conv_graph, 2, "FusedQLinearConv");
    CHECK(plain == (fires && !relu ? 1 : 0));
    CHECK(fused == (fires && relu ? 1 : 0));
    CHECK(gb_count_after(conv_graph, 2, "Conv") == (fires ? 0 : 1));
    if (fires) {
      CHECK(gb_count_after(conv_graph, 2, "Relu") == 0);
      /* the input's Q and the output's DQ are all that is left */
      CHECK(gb_count_after(conv_graph, 2, "DequantizeLinear") == 1);
      CHECK(gb_count_after(conv_graph, 2, "QuantizeLinear") == 1);
    }
    if (variant == 6) {
      /* unfused: the weight's DQ is folded, the activations' stay */
      CHECK(gb_count_after(conv_graph, 2, "DequantizeLinear") == 2);
    }
    double d = steps_apart(conv_graph, YS);
    if (d > ONE_STEP) fprintf(stderr, "conv variant %d: %g steps apart\n", variant, d);
    CHECK(d <= ONE_STEP);
  }
  variant = 0;
}

/* ---- MatMul, Gemm -------------------------------------------------------------------------- */

/* variant: 0 MatMul per-column weights, batched A; 1 + Relu; 2 B computed
 * (both activations); 3 Gemm transB with an int32 bias; 4 Gemm without
 * transB; negative: 5 MatMul per-channel on the K axis, 6 Gemm alpha 0.5 */
static gb matmul_graph(void) {
  gb b = gb_new(13);
  bool gemm = variant >= 3 && variant != 5;
  int64_t ad3[3] = {2, 5, 8}, ad2[2] = {5, 8}, n = 6;
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, gemm ? 2 : 3, gemm ? ad2 : ad3);
  qdq(&b, "a", XS, 128, ONYX_DTYPE_UINT8);
  float ws[64];
  if (variant == 2) {
    int64_t bd[3] = {2, 8, n};
    gb_input(&b, "bf", ONYX_DTYPE_FLOAT, 3, bd);
    qdq(&b, "bf", XS, 120, ONYX_DTYPE_UINT8);
    gb_node(&b, "MatMul", "a_dq,bf_dq", "m");
  } else if (gemm) {
    bool tb = variant != 4;
    int64_t wd[2] = {tb ? n : 8, tb ? 8 : n};
    qweight(&b, "w", 2, wd, tb ? 0 : 1, tb ? 0 : 1, 9, ws);
    qbias(&b, "bias", n, XS, ws, (int)n, 1.0f);
    gb_node(&b, "Gemm", "a_dq,w_dq,bias_dq", "m");
    if (tb) gb_ai(&b, "transB", 1);
    if (variant == 6) gb_af(&b, "alpha", 0.5f);
  } else {
    int64_t wd[2] = {8, n};
    qweight(&b, "w", 2, wd, variant == 5 ? 0 : 1, variant == 5 ? 0 : 1, 9, ws);
    gb_node(&b, "MatMul", "a_dq,w_dq", "m");
  }
  const char *y = "m";
  if (variant == 1) {
    gb_node(&b, "Relu", "m", "r");
    y = "r";
  }
  qdq(&b, y, YS, 128, ONYX_DTYPE_UINT8);
  char out[64];
  snprintf(out, sizeof out, "%s_dq", y);
  gb_output(&b, out);
  return b;
}

static void test_matmul(void) {
  for (variant = 0; variant <= 6; variant++) {
    bool fires = variant <= 4, fused = variant == 1 || variant == 3 || variant == 4;
    const char *fop = variant >= 3 && variant != 5 ? "Gemm" : "MatMul";
    if (gb_count_after(matmul_graph, 2, "QLinearMatMul") != (fires && !fused ? 1 : 0))
      fprintf(stderr, "matmul variant %d\n", variant);
    CHECK(gb_count_after(matmul_graph, 2, "QLinearMatMul") == (fires && !fused ? 1 : 0));
    CHECK(gb_count_after(matmul_graph, 2, "FusedQLinearMatMul") == (fires && fused ? 1 : 0));
    CHECK(gb_count_after(matmul_graph, 2, fop) == (fires ? 0 : 1));
    double d = steps_apart(matmul_graph, YS);
    if (d > ONE_STEP) fprintf(stderr, "matmul variant %d: %g steps apart\n", variant, d);
    CHECK(d <= ONE_STEP);
  }
  variant = 0;
}

/* ---- Add, pooling, data movement, requantization ---------------------------------------------- */

/* variant: 0 Add (different scales), 1 Add + Relu with broadcasting, 2
 * Add with int8 output; negative: 3 the sum read twice */
static gb add_graph(void) {
  gb b = gb_new(13);
  int64_t ad[4] = {2, 3, 4, 5}, bd[4] = {1, 3, 1, 5};
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 4, ad);
  gb_input(&b, "b", ONYX_DTYPE_FLOAT, 4, variant == 1 ? bd : ad);
  qdq(&b, "a", XS, 128, ONYX_DTYPE_UINT8);
  qdq(&b, "b", 1.5f / 255.0f, 100, ONYX_DTYPE_UINT8);
  gb_node(&b, "Add", "a_dq,b_dq", "s");
  const char *y = "s";
  if (variant == 1) {
    gb_node(&b, "Relu", "s", "r");
    y = "r";
  }
  qdq(&b, y, 3.0f / 255.0f, variant == 2 ? -10 : 120, variant == 2 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8);
  char out[64];
  snprintf(out, sizeof out, "%s_dq", y);
  gb_output(&b, out);
  if (variant == 3) gb_output(&b, "s");
  return b;
}

static void test_add(void) {
  for (variant = 0; variant <= 3; variant++) {
    CHECK(gb_count_after(add_graph, 2, "QLinearAdd") == (variant <= 2 ? 1 : 0));
    CHECK(gb_count_after(add_graph, 2, "Add") == (variant <= 2 ? 0 : 1));
    CHECK(steps_apart(add_graph, 3.0f / 255.0f) == 0);   /* the same float steps: the same bytes */
  }
  variant = 0;
}

/* variant: 0 MaxPool, 1 Reshape + Transpose chain, 2 Concat of two, 3 DQ
 * -> Q with the same parameters, 4 GlobalAveragePool -> Flatten -> Q, 8
 * MaxPool on int8 with dilations; negative: 5 MaxPool into int8 (a dtype
 * the input is not), 6 Reshape into a Q of another scale, 7 Concat of
 * inputs with different scales */
static gb pass_graph(void) {
  gb b = gb_new(13);
  int64_t xd[4] = {2, 3, 6, 6};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 4, xd);
  gb_input(&b, "x2", ONYX_DTYPE_FLOAT, 4, xd);
  bool s8 = variant == 8;
  qdq(&b, "x", XS, s8 ? -5 : 128, s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8);
  qdq(&b, "x2", variant == 7 ? 1.0f / 255.0f : XS, 128, ONYX_DTYPE_UINT8);
  const char *y = "p";
  float ys = XS;
  int yz = 128;
  onyx_dtype yt = ONYX_DTYPE_UINT8;
  if (variant == 0 || variant == 5 || variant == 8) {
    gb_node(&b, "MaxPool", "x_dq", "p");
    int64_t k[2] = {3, 3}, s[2] = {2, 2}, pads[4] = {1, 1, 1, 1}, dil[2] = {2, 2};
    gb_aints(&b, "kernel_shape", 2, k);
    gb_aints(&b, "strides", 2, s);
    gb_aints(&b, "pads", 4, pads);
    if (variant == 5) yt = ONYX_DTYPE_INT8, yz = 0;
    if (variant == 8) {
      gb_aints(&b, "dilations", 2, dil);
      yt = ONYX_DTYPE_INT8, yz = -5;
    }
  } else if (variant == 1 || variant == 6) {
    int64_t shape[3] = {2, 3, 36}, perm[3] = {0, 2, 1};
    gb_i64(&b, "shape", 3, shape);
    gb_node(&b, "Reshape", "x_dq,shape", "rs");
    qdq(&b, "rs", variant == 6 ? 2 * XS : XS, 128, ONYX_DTYPE_UINT8);
    gb_node(&b, "Transpose", "rs_dq", "p");
    gb_aints(&b, "perm", 3, perm);
  } else if (variant == 2 || variant == 7) {
    gb_node(&b, "Concat", "x_dq,x2_dq", "p");
    gb_ai(&b, "axis", 1);
  } else if (variant == 3) {
    y = "x_dq";
  } else {
    gb_node(&b, "GlobalAveragePool", "x_dq", "gap");
    gb_node(&b, "Flatten", "gap", "p");
    ys = 0.5f / 255.0f;
  }
  char out[64];
  qdq(&b, y, ys, yz, yt);
  snprintf(out, sizeof out, "%s_dq", y);
  gb_output(&b, out);
  return b;
}

static void test_pass_through(void) {
  for (variant = 0; variant <= 8; variant++) {
    static const char *const op[9] = {"MaxPool", "Reshape", "Concat", NULL,     "Flatten",
                                      "MaxPool", "Reshape", "Concat", "MaxPool"};
    bool fires = variant <= 4 || variant == 8;
    /* the only DQ left is the graph output's; negative cases keep theirs */
    int dq = gb_count_after(pass_graph, 2, "DequantizeLinear");
    CHECK(fires ? dq == 1 : dq > 1);
    if (op[variant]) {
      /* the op itself stays (on 8-bit data when fused) */
      CHECK(gb_count_after(pass_graph, 2, op[variant]) == 1);
    }
    if (variant == 1) CHECK(gb_count_after(pass_graph, 2, "QuantizeLinear") == 1);
    if (variant == 3) CHECK(gb_count_after(pass_graph, 2, "QuantizeLinear") == 1);
    if (variant == 4) {
      CHECK(gb_count_after(pass_graph, 2, "QLinearGlobalAveragePool") == 1);
      CHECK(gb_count_after(pass_graph, 2, "GlobalAveragePool") == 0);
      CHECK(steps_apart(pass_graph, 0.5f / 255.0f) <= ONE_STEP);
    } else {
      CHECK(steps_apart(pass_graph, XS) == 0);
    }
  }
  variant = 0;
}

/* ---- dynamic quantization ------------------------------------------------------------------ */

/* The graph `onyx quantize --mode dynamic` makes of MatMul + bias; variant
 * 1 with per-tensor weight scale and no bias; negative: 2 the product cast
 * to float also a graph output */
static gb dynamic_graph(void) {
  gb b = gb_new(13);
  int64_t xd[3] = {2, 5, 8}, wd[2] = {8, 6}, n = 6;
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 3, xd);
  gb_node(&b, "DynamicQuantizeLinear", "x", "xq,xs,xz");
  float ws[8];
  int8_t q[48];
  float w[48];
  tu_fill_random(w, 48, 3);
  for (int i = 0; i < 48; i++) q[i] = (int8_t)nearbyintf(w[i] * 127);
  for (int c = 0; c < 6; c++) ws[c] = 0.5f / 127 * (1 + c * 0.1f);
  gb_const(&b, "w", ONYX_DTYPE_INT8, 2, wd, q);
  int8_t z = 0;
  gb_const(&b, "wz", ONYX_DTYPE_INT8, 0, NULL, &z);
  if (variant == 1) gb_scalar(&b, "ws", ws[0]);
  else gb_const(&b, "ws", ONYX_DTYPE_FLOAT, 1, &n, ws);
  gb_node(&b, "MatMulInteger", "xq,w,xz,wz", "acc");
  gb_node(&b, "Cast", "acc", "accf");
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  gb_node(&b, "Mul", "xs,ws", "sc");
  gb_node(&b, "Mul", "accf,sc", variant == 1 ? "y" : "prod");
  if (variant != 1) {
    gb_const_rand(&b, "bias", 1, &n, 4, 0.5f, 0);
    gb_node(&b, "Add", "prod,bias", "y");
  }
  gb_output(&b, "y");
  if (variant == 2) gb_output(&b, "accf");
  return b;
}

static void test_dynamic(void) {
  for (variant = 0; variant <= 2; variant++) {
    bool fires = variant <= 1;
    CHECK(gb_count_after(dynamic_graph, 2, "DynamicQuantMatMul") == (fires ? 1 : 0));
    CHECK(gb_count_after(dynamic_graph, 2, "MatMulInteger") == (fires ? 0 : 1));
    if (fires) {
      CHECK(gb_count_after(dynamic_graph, 2, "DynamicQuantizeLinear") == 0);
      CHECK(gb_count_after(dynamic_graph, 2, "Mul") == 0);
    }
    CHECK(gb_same_numerics(dynamic_graph, 2, 1, 0.0));
  }
  variant = 0;
}

/* ---- other providers ------------------------------------------------------------------------ */

/* A provider that takes the op types in the comma-separated list arg. */
static bool claims_listed(void *arg, const onyx_graph *g, const onyx_node *n) {
  (void)g;
  char want[64];
  snprintf(want, sizeof want, ",%s,", n->op_type);
  return strstr((const char *)arg, want) != NULL;
}
static bool off_host(void *arg, const onyx_graph *g, const onyx_node *n) {
  (void)arg;
  (void)g;
  (void)n;
  return true;
}

/* A group stays when a provider off the host (a GPU) claims it, unless it
 * takes the integer op too; a host provider's claim on the float op or the
 * Q/DQ does not keep it (no integer form there: the integer op runs on cpu). */
static void test_claimed(void) {
  static const struct {
    const char *list;
    bool gpu, fires;
  } cases[] = {
      {",Conv,", false, true},
      {",Conv,", true, false},
      {",Conv,DequantizeLinear,QuantizeLinear,", false, true},
      {",Conv,DequantizeLinear,QLinearConv,", true, true},
  };
  variant = 0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    gb b = conv_graph();
    CHECK_OK(onyx_graph_toposort(b.g));
    CHECK_OK(onyx_graph_infer(b.g));
    opt_config cfg = {2, NULL, NULL, 0, NULL, NULL, claims_listed, (void *)cases[k].list,
                      cases[k].gpu ? off_host : NULL, onyx_exec_node, NULL};
    CHECK_OK(opt_run(b.g, &cfg, NULL));
    CHECK(gb_count(b.m, "QLinearConv") == (cases[k].fires ? 1 : 0));
    CHECK(gb_count(b.m, "Conv") == (cases[k].fires ? 0 : 1));
    onyx_model_destroy(b.m);
  }
}

/* ---- end to end: the bundled digits CNN ------------------------------------------------------ */

typedef struct feed {
  const onyx_tensor *x;
  int64_t at, batch, end;
} feed;

static onyx_status *reader(void *arg, int n_in, const char *const *names, onyx_tensor **in, int *done) {
  (void)names;
  feed *f = arg;
  if (f->at >= f->end || n_in != 1) {
    *done = 1;
    return NULL;
  }
  int64_t d[4] = {f->batch, 1, 8, 8};
  in[0] = tu_f32(4, d, (const float *)onyx_tensor_data((onyx_tensor *)f->x) + f->at * 64);
  f->at += f->batch;
  *done = 0;
  return NULL;
}

/* Test-split accuracy of m (borrowed) at `level`, cpu provider. */
static double accuracy(const onyx_model *m, int level, const onyx_tensor *x, const onyx_tensor *labels) {
  void *buf;
  size_t len;
  onyx_session *s = NULL;
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_optimization_level(o, level);
  onyx_options_set_providers(o, "cpu");
  CHECK_OK(onyx_model_save_to_buffer(m, &buf, &len));
  onyx_status *st = onyx_session_create_from_buffer(buf, len, o, &s);
  onyx_buffer_free(buf);
  onyx_options_destroy(o);
  CHECK_OK(st);
  if (!s) return -1;
  const char *in = "input";
  onyx_tensor *y = NULL;
  onyx_tensor *xs = (onyx_tensor *)x;
  CHECK_OK(onyx_session_run(s, 1, &in, &xs, 1, NULL, &y));
  onyx_session_destroy(s);
  if (!y) return -1;
  int64_t n = onyx_tensor_numel(labels), right = 0;
  const float *p = onyx_tensor_data(y);
  const int64_t *l = onyx_tensor_data((onyx_tensor *)labels);
  for (int64_t i = 0; i < n; i++) {
    int best = 0;
    for (int k = 1; k < 10; k++)
      if (p[i * 10 + k] > p[i * 10 + best]) best = k;
    right += best == l[i];
  }
  onyx_tensor_free(y);
  return (double)right / (double)n;
}

static void test_digits(void) {
  char err[256];
  onyx_tensor *x = NULL, *labels = NULL;
  onyx_model *f = NULL, *q = NULL;
  CHECK(npy_load("models/digits_test_x.npy", &x, err, sizeof err));
  CHECK(npy_load("models/digits_test_y.npy", &labels, err, sizeof err));
  CHECK_OK(onyx_model_load("models/digits_cnn.onnx", &f));
  if (!x || !labels || !f) goto done;
  onyx_quant_options *o;
  CHECK_OK(onyx_quant_options_create(&o));
  CHECK_OK(onyx_quant_options_set(o, "per_channel", "1"));
  feed fd = {x, 0, 60, 240};   /* calibrate on the first 240 test images, in batches of 60 */
  onyx_quant_options_set_calibration_reader(o, reader, &fd);
  CHECK_OK(onyx_quantize_model(f, o, &q, NULL));
  onyx_quant_options_destroy(o);
  if (!q) goto done;
  /* the optimized graph: integer convs and matmuls, nothing float left */
  onyx_model *opt = NULL;
  void *buf;
  size_t len;
  CHECK_OK(onyx_model_save_to_buffer(q, &buf, &len));
  CHECK_OK(onyx_model_load_from_buffer(buf, len, NULL, &opt));
  onyx_buffer_free(buf);
  if (opt) {
    CHECK_OK(gb_optimize(opt, 2, NULL));
    CHECK(gb_count(opt, "QLinearConv") + gb_count(opt, "FusedQLinearConv") == 2);
    CHECK(gb_count(opt, "QLinearMatMul") + gb_count(opt, "FusedQLinearMatMul") == 2);
    CHECK(gb_count(opt, "Conv") == 0 && gb_count(opt, "Gemm") == 0 && gb_count(opt, "MatMul") == 0);
    CHECK(gb_count(opt, "DequantizeLinear") == 1);   /* the logits */
    onyx_model_destroy(opt);
  }
  double a_f = accuracy(f, 0, x, labels), a_qdq = accuracy(q, 0, x, labels), a_int = accuracy(q, 2, x, labels);
  printf("digits accuracy: fp32 %.2f%%, QDQ unfused %.2f%%, QDQ fused %.2f%%\n", 100 * a_f, 100 * a_qdq, 100 * a_int);
  CHECK(a_int >= a_f - 0.01);
  CHECK(fabs(a_int - a_qdq) <= 0.5 / 540 + 1e-9 || a_int >= a_qdq);
done:
  onyx_tensor_free(x);
  onyx_tensor_free(labels);
  onyx_model_destroy(f);
  onyx_model_destroy(q);
}

int main(void) {
  test_conv();
  test_matmul();
  test_add();
  test_pass_through();
  test_dynamic();
  test_claimed();
  test_digits();
  return tu_done("test_opt_qdq");
}
