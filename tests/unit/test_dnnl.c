/* test_dnnl.c — the dnnl provider against the cpu provider on random data.
 *
 * Each case builds a small model (one node or a short chain), serialises it,
 * and runs it twice from the same bytes: providers "dnnl,cpu" and "cpu". The
 * outputs must agree within |a - b| <= atol + rtol * |b| (rtol 1e-4 for
 * fp32); bf16 cases compare by relative L2 error (<= 1e-2). Cases also check
 * where nodes ran (onyx_session_node_info: "D" dnnl, "C" cpu per node), how
 * many partitions were compiled, fallback reasons for refused nodes, option
 * errors, symbolic dims (programs per input shape), concurrent runs with
 * several thread counts, and the optimization levels: sessions at level 0
 * agree with cpu too, and a partition compiled directly at each level has
 * the primitives the level allows (one per node and no reorders at 0, ...).
 * The int8 ops (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger,
 * Quantize/DequantizeLinear) must match the cpu kernels exactly; cases oneDNN
 * cannot do exactly on this CPU (full-range or int8-activation products
 * without VNNI) must fall back naming why.
 *
 * Built without ONYX_DNNL the program reports itself skipped (exit 77).
 * Cases whose ops are not in onyx's op table yet are counted as skipped. */
#include <pthread.h>
#include <stdarg.h>

#include "exec/exec.h"
#include "exec/session_internal.h"
#include "ops/ops.h"
#include "test_util.h"

#ifdef ONYX_HAVE_DNNL
#include "providers/dnnl/dnnl_internal.h"
#endif

#ifndef ONYX_HAVE_DNNL
int main(void) {
  printf("test_dnnl: skipped (built without ONYX_DNNL)\n");
  return 77;
}
#else

#include "providers/dnnl/dnnl_internal.h"

static int n_skipped;

/* ---- a tiny model builder ------------------------------------------------------ */

typedef struct tmb {
  onyx_model *m;
  unsigned seed;
  bool missing_op;       /* an op not in the op table: the case is skipped */
  float lo[16], hi[16];  /* value range of each fed input */
} tmb;

static tmb tm_new(int opset) {
  tmb t = {0};
  onyx_model_new(&t.m);
  t.m->ir_version = 8;
  onyx_model_set_opset(t.m, "", opset);
  onyx_graph_new(t.m, NULL, &t.m->graph);
  t.seed = 1;
  return t;
}

static int tm_value(tmb *t, const char *name, int rank, const int64_t *dims) {
  int v;
  onyx_graph_value(t->m->graph, name, &v);
  onyx_value *val = &t->m->graph->values[v];
  val->dtype = ONYX_DTYPE_FLOAT;
  val->rank = rank;
  if (rank > 0) memcpy(val->dims, dims, (size_t)rank * sizeof *dims);
  return v;
}

/* A fed float input with values in [lo, hi). */
static void tm_in(tmb *t, const char *name, float lo, float hi, int rank, const int64_t *dims) {
  onyx_graph *g = t->m->graph;
  int v = tm_value(t, name, rank, dims);
  int *idx = malloc((size_t)(g->n_inputs + 1) * sizeof *idx);
  if (g->n_inputs) memcpy(idx, g->inputs, (size_t)g->n_inputs * sizeof *idx);
  t->lo[g->n_inputs] = lo;
  t->hi[g->n_inputs] = hi;
  idx[g->n_inputs] = v;
  onyx_graph_set_inputs(g, g->n_inputs + 1, idx);
  free(idx);
}

/* A float initializer with random values in [lo, hi). */
static void tm_const(tmb *t, const char *name, float lo, float hi, int rank, const int64_t *dims) {
  int v = tm_value(t, name, rank, dims);
  onyx_tensor *c;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, dims, &c);
  float *p = onyx_tensor_data(c);
  size_t n = (size_t)onyx_tensor_numel(c);
  tu_fill_random(p, n, t->seed++ * 7919u);
  for (size_t i = 0; i < n; i++) p[i] = lo + (p[i] + 1) * 0.5f * (hi - lo);
  t->m->graph->values[v].init = c;
}

static void tm_const_i64(tmb *t, const char *name, int n, const int64_t *vals) {
  int v;
  onyx_graph_value(t->m->graph, name, &v);
  int64_t d = n;
  onyx_tensor *c;
  onyx_tensor_create(ONYX_DTYPE_INT64, 1, &d, &c);
  memcpy(onyx_tensor_data(c), vals, (size_t)n * sizeof *vals);
  onyx_value *val = &t->m->graph->values[v];
  val->init = c;
  val->dtype = ONYX_DTYPE_INT64;
  val->rank = 1;
  val->dims[0] = n;
}

static void tm_const_scalar(tmb *t, const char *name, float x) {
  int v = tm_value(t, name, 0, NULL);
  onyx_tensor *c;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, 0, NULL, &c);
  *(float *)onyx_tensor_data(c) = x;
  t->m->graph->values[v].init = c;
}

/* Adds node `op` of `domain` with comma-separated input names ("" =
 * omitted) and one output; returns the node index. */
static int tm_node_d(tmb *t, const char *domain, const char *op, const char *ins, const char *out) {
  onyx_graph *g = t->m->graph;
  if (onyx_op_lookup(domain, op) < 0) t->missing_op = true;
  if (*domain) onyx_model_set_opset(t->m, domain, 1);
  int in[16], n_in = 0, o;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", ins);
  for (char *p = buf;; n_in++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    if (*p) onyx_graph_value(g, p, &in[n_in]);
    else in[n_in] = -1;
    if (!comma) {
      n_in++;
      break;
    }
    p = comma + 1;
  }
  onyx_graph_value(g, out, &o);
  char name[64];
  snprintf(name, sizeof name, "n%d_%s", g->n_nodes, op);
  int ni;
  onyx_graph_add_node(g, name, op, domain, n_in, in, 1, &o, &ni);
  return ni;
}

static int tm_node(tmb *t, const char *op, const char *ins, const char *out) {
  return tm_node_d(t, "", op, ins, out);
}

static onyx_node *tm_n(tmb *t, int ni) { return &t->m->graph->nodes[ni]; }
static void tm_int(tmb *t, int ni, const char *name, int64_t v) { tu_set_int(tm_n(t, ni), name, v); }
static void tm_float(tmb *t, int ni, const char *name, float v) { tu_set_float(tm_n(t, ni), name, v); }
static void tm_str(tmb *t, int ni, const char *name, const char *v) { tu_set_string(tm_n(t, ni), name, v); }
static void tm_floats(tmb *t, int ni, const char *name, int n, const float *v) {
  tu_set_floats(tm_n(t, ni), name, n, v);
}
static void tm_ints(tmb *t, int ni, const char *name, int n, ...) {
  int64_t v[16];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) v[i] = va_arg(ap, int);
  va_end(ap);
  tu_set_ints(tm_n(t, ni), name, n, v);
}

static void tm_out(tmb *t, const char *name) {
  onyx_graph *g = t->m->graph;
  int v = onyx_graph_find(g, name), *idx = malloc((size_t)(g->n_outputs + 1) * sizeof *idx);
  if (g->n_outputs) memcpy(idx, g->outputs, (size_t)g->n_outputs * sizeof *idx);
  idx[g->n_outputs] = v;
  onyx_graph_set_outputs(g, g->n_outputs + 1, idx);
  free(idx);
}

/* ---- running and comparing ------------------------------------------------------------ */

typedef struct cmp_opts {
  const char *placement;   /* expected "D"/"C" per node, NULL: all D */
  int partitions;          /* expected dnnl partitions, < 0: any */
  bool bf16;
  int threads;
  bool level0;             /* both sessions at optimization level 0, else the default (3) */
  const char *conv_algorithm;   /* dnnl's conv_algorithm option, NULL: the default */
} cmp_opts;

static onyx_session *session_from(const void *buf, size_t len, const char *providers, bool bf16, int threads,
                                  bool level0, const char *conv_algorithm) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  if (level0) onyx_options_set_optimization_level(o, 0);
  CHECK_OK(onyx_options_set_providers(o, providers));
  if (bf16) CHECK_OK(onyx_options_set_provider_option(o, "dnnl", "precision", "bf16"));
  if (conv_algorithm) CHECK_OK(onyx_options_set_provider_option(o, "dnnl", "conv_algorithm", conv_algorithm));
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_buffer(buf, len, o, &s));
  onyx_options_destroy(o);
  return s;
}

/* Random inputs for session s as declared (range per input from t). */
static void make_inputs(const tmb *t, onyx_session *s, onyx_tensor **in, const char **names) {
  for (int i = 0; i < onyx_session_input_count(s); i++) {
    onyx_value_info vi;
    onyx_session_input_info(s, i, &vi);
    names[i] = vi.name;
    if (vi.dtype == ONYX_DTYPE_UINT8 || vi.dtype == ONYX_DTYPE_INT8) {   /* every byte value */
      CHECK_OK(onyx_tensor_create(vi.dtype, vi.rank, vi.dims, &in[i]));
      uint8_t *q = onyx_tensor_data(in[i]);
      unsigned r = 2000u + (unsigned)i;
      for (int64_t k = 0; k < onyx_tensor_numel(in[i]); k++) {
        r = r * 1103515245u + 12345u;
        q[k] = (uint8_t)(r >> 16);
      }
      continue;
    }
    in[i] = tu_f32(vi.rank, vi.dims, NULL);
    float *p = onyx_tensor_data(in[i]);
    size_t n = (size_t)onyx_tensor_numel(in[i]);
    tu_fill_random(p, n, 1000u + (unsigned)i);
    for (size_t k = 0; k < n; k++) p[k] = t->lo[i] + (p[k] + 1) * 0.5f * (t->hi[i] - t->lo[i]);
  }
}

static void check_placement(onyx_session *s, const char *label, const char *want) {
  char got[64] = "";
  int nn = onyx_session_node_count(s);
  for (int i = 0; i < nn && i < 63; i++) {
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, i, &ni));
    strcat(got, !strcmp(ni.provider, "dnnl") ? "D" : "C");
    if (strcmp(ni.provider, "dnnl") && ni.fallback_reason && (!want || want[i] == 'D'))
      fprintf(stderr, "  %s: node %d (%s) fell back: %s\n", label, i, ni.op_type, ni.fallback_reason);
  }
  char all[64];
  if (!want) {
    memset(all, 'D', (size_t)nn);
    all[nn] = 0;
    want = all;
  }
  if (strcmp(got, want)) fprintf(stderr, "%s: placement %s, expected %s\n", label, got, want);
  CHECK(!strcmp(got, want));
}

/* True (and t's model freed, the case counted as skipped) when the build
 * lacks one of t's ops. */
static bool tm_skip(tmb *t) {
  if (!t->missing_op) return false;
  n_skipped++;
  onyx_model_destroy(t->m);
  return true;
}

/* Serialises t's model into *buf and frees it; false when skipped. */
static bool tm_save(tmb *t, void **buf, size_t *len) {
  if (tm_skip(t)) return false;
  CHECK_OK(onyx_model_save_to_buffer(t->m, buf, len));
  onyx_model_destroy(t->m);
  return true;
}

/* Runs t's model on dnnl,cpu and on cpu and compares every output. */
static void compare(const char *label, tmb *t, double rtol, double atol, cmp_opts co) {
  void *buf;
  size_t len;
  if (!tm_save(t, &buf, &len)) return;
  int threads = co.threads ? co.threads : 1;
  onyx_session *sd = session_from(buf, len, "dnnl,cpu", co.bf16, threads, co.level0, co.conv_algorithm);
  onyx_session *sc = session_from(buf, len, "cpu", false, threads, co.level0, NULL);
  onyx_buffer_free(buf);
  if (!sd || !sc) {
    fprintf(stderr, "%s: no session\n", label);
    onyx_session_destroy(sd);
    onyx_session_destroy(sc);
    return;
  }
  check_placement(sd, label, co.placement);
  if (co.partitions >= 0) {
    int np = onyx_plan_partition_count(onyx_session_plan(sd));
    if (np != co.partitions) fprintf(stderr, "%s: %d partitions, expected %d\n", label, np, co.partitions);
    CHECK(np == co.partitions);
  }
  int ni = onyx_session_input_count(sd), no = onyx_session_output_count(sd);
  onyx_tensor *in[16], *yd[8] = {0}, *yc[8] = {0};
  const char *names[16];
  make_inputs(t, sd, in, names);
  CHECK_OK(onyx_session_run(sd, ni, names, in, no, NULL, yd));
  CHECK_OK(onyx_session_run(sc, ni, names, in, no, NULL, yc));
  for (int o = 0; o < no; o++) {
    if (!yd[o] || !yc[o]) continue;
    CHECK(onyx_tensor_rank(yd[o]) == onyx_tensor_rank(yc[o]));
    CHECK(!memcmp(onyx_tensor_dims(yd[o]), onyx_tensor_dims(yc[o]), (size_t)onyx_tensor_rank(yc[o]) * 8));
    int64_t n = onyx_tensor_numel(yc[o]);
    CHECK(onyx_tensor_numel(yd[o]) == n);
    CHECK(onyx_tensor_dtype(yd[o]) == onyx_tensor_dtype(yc[o]));
    int64_t bad = 0, first = -1;
    double num = 0, den = 0, a_first = 0, b_first = 0;
    for (int64_t i = 0; i < n; i++) {
      double ai = onyx_tensor_get_f64(yd[o], i), bi = onyx_tensor_get_f64(yc[o], i);
      double d = fabs(ai - bi);
      num += d * d;
      den += bi * bi;
      if (!co.bf16 && !(d <= atol + rtol * fabs(bi))) {
        if (first < 0) first = i, a_first = ai, b_first = bi;
        bad++;
      }
    }
    if (co.bf16 && !(sqrt(num) <= rtol * sqrt(den) + atol)) {
      bad = 1, first = 0;
      a_first = onyx_tensor_get_f64(yd[o], 0), b_first = onyx_tensor_get_f64(yc[o], 0);
    }
    if (bad)
      fprintf(stderr, "%s: output %d: %lld of %lld differ; first at %lld: dnnl %.9g cpu %.9g (rel L2 %.3g)\n", label,
              o, (long long)bad, (long long)n, (long long)first, a_first, b_first, den > 0 ? sqrt(num / den) : 0);
    CHECK(bad == 0);
    onyx_tensor_free(yd[o]);
    onyx_tensor_free(yc[o]);
  }
  for (int i = 0; i < ni; i++) onyx_tensor_free(in[i]);
  onyx_session_destroy(sd);
  onyx_session_destroy(sc);
}

#define FP32 1e-4, 1e-5
static const cmp_opts ONE = {NULL, 1, false, 0, false, NULL};
static const cmp_opts LEVEL0 = {NULL, 1, false, 0, true, NULL};

static const int64_t *D(int n, ...) {
  static int64_t pool[64][ONYX_MAX_RANK];
  static int next;
  int64_t *d = pool[next++ % 64];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) d[i] = va_arg(ap, int);
  va_end(ap);
  return d;
}

/* ---- cases --------------------------------------------------------------------------------- */

static void conv_case(const char *label, int rank, const int64_t *x, const int64_t *w, bool bias, bool w_const,
                      void (*attrs)(tmb *, int)) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, rank, x);
  if (w_const) tm_const(&t, "w", -0.5f, 0.5f, rank, w);
  else tm_in(&t, "w", -0.5f, 0.5f, rank, w);
  if (bias) tm_const(&t, "b", -1, 1, 1, D(1, (int)w[0]));
  int n = tm_node(&t, "Conv", bias ? "x,w,b" : "x,w", "y");
  if (attrs) attrs(&t, n);
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void a_pads1(tmb *t, int n) { tm_ints(t, n, "pads", 4, 1, 1, 1, 1); }
static void a_strided(tmb *t, int n) {
  tm_ints(t, n, "strides", 2, 2, 1);
  tm_ints(t, n, "dilations", 2, 2, 1);
  tm_ints(t, n, "pads", 4, 1, 0, 2, 1);
}
static void a_same_upper(tmb *t, int n) {
  tm_str(t, n, "auto_pad", "SAME_UPPER");
  tm_ints(t, n, "strides", 2, 2, 2);
}
static void a_same_lower(tmb *t, int n) {
  tm_str(t, n, "auto_pad", "SAME_LOWER");
  tm_ints(t, n, "strides", 2, 2, 2);
}
static void a_valid(tmb *t, int n) {
  tm_str(t, n, "auto_pad", "VALID");
  tm_ints(t, n, "strides", 2, 3, 2);
}
static void a_dw(tmb *t, int n) {
  tm_int(t, n, "group", 8);
  tm_ints(t, n, "pads", 4, 1, 1, 1, 1);
}
static void a_g2(tmb *t, int n) { tm_int(t, n, "group", 2); }
static void a_1d(tmb *t, int n) { tm_ints(t, n, "pads", 2, 1, 2); }

static void test_conv(void) {
  conv_case("conv 3x3", 4, D(4, 2, 8, 14, 14), D(4, 16, 8, 3, 3), true, true, a_pads1);
  conv_case("conv strided dilated asym pads", 4, D(4, 1, 4, 13, 11), D(4, 6, 4, 3, 2), true, true, a_strided);
  conv_case("conv SAME_UPPER", 4, D(4, 1, 3, 9, 10), D(4, 4, 3, 3, 3), false, true, a_same_upper);
  conv_case("conv SAME_LOWER", 4, D(4, 1, 3, 9, 10), D(4, 4, 3, 4, 4), false, true, a_same_lower);
  conv_case("conv VALID", 4, D(4, 1, 3, 10, 9), D(4, 5, 3, 3, 2), true, true, a_valid);
  conv_case("conv depthwise", 4, D(4, 1, 8, 10, 10), D(4, 8, 1, 3, 3), true, true, a_dw);
  conv_case("conv group 2", 4, D(4, 1, 8, 9, 9), D(4, 6, 4, 3, 3), true, true, a_g2);
  conv_case("conv 1d", 3, D(3, 2, 4, 20), D(3, 5, 4, 3), true, true, a_1d);
  conv_case("conv 3d", 5, D(5, 1, 2, 6, 6, 6), D(5, 3, 2, 3, 3, 3), true, true, NULL);
  conv_case("conv weights fed", 4, D(4, 1, 4, 8, 8), D(4, 6, 4, 3, 3), false, false, a_pads1);
  conv_case("conv 1x1 resnet-like", 4, D(4, 1, 64, 14, 14), D(4, 32, 64, 1, 1), true, true, NULL);
}

/* Conv 3x3 (+ bias + Relu) under dnnl's conv_algorithm option: where oneDNN
 * has a Winograd kernel (AVX-512), winograd runs it for both shapes and auto
 * for the 28x28 one (196 output tiles); elsewhere the direct kernel runs.
 * Every way must match the cpu provider. */
static void wino_case(const char *label, const int64_t *x, int oc, const char *algo) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, 4, x);
  tm_const(&t, "w", -0.1f, 0.1f, 4, D(4, oc, (int)x[1], 3, 3));
  tm_const(&t, "b", -0.5f, 0.5f, 1, D(1, oc));
  int n = tm_node(&t, "Conv", "x,w,b", "c");
  tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
  tm_node(&t, "Relu", "c", "y");
  tm_out(&t, "y");
  compare(label, &t, FP32, (cmp_opts){NULL, 1, false, 0, false, algo});
}

static void test_winograd(void) {
  for (int a = 0; a < 3; a++) {
    const char *algo = (const char *[]){"auto", "winograd", "direct"}[a];
    char label[64];
    snprintf(label, sizeof label, "conv 3x3 28x28 %s", algo);
    wino_case(label, D(4, 1, 64, 28, 28), 64, algo);
    snprintf(label, sizeof label, "conv 3x3 odd tiles %s", algo);
    wino_case(label, D(4, 2, 32, 13, 11), 48, algo);
  }
}

static void deconv_case(const char *label, const int64_t *x, const int64_t *w, int group, bool opad) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, 4, x);
  tm_const(&t, "w", -0.5f, 0.5f, 4, w);
  tm_const(&t, "b", -1, 1, 1, D(1, (int)(w[1] * group)));
  int n = tm_node(&t, "ConvTranspose", "x,w,b", "y");
  tm_ints(&t, n, "strides", 2, 2, 2);
  tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
  if (opad) tm_ints(&t, n, "output_padding", 2, 1, 1);
  if (group > 1) tm_int(&t, n, "group", group);
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void test_deconv(void) {
  deconv_case("convtranspose", D(4, 1, 4, 5, 5), D(4, 4, 3, 3, 3), 1, true);
  deconv_case("convtranspose group 2", D(4, 2, 4, 6, 5), D(4, 4, 2, 3, 3), 2, false);
}

static void matmul_case(const char *label, int ra, const int64_t *a, int rb, const int64_t *b, bool b_const) {
  tmb t = tm_new(13);
  tm_in(&t, "a", -1, 1, ra, a);
  if (b_const) tm_const(&t, "b", -1, 1, rb, b);
  else tm_in(&t, "b", -1, 1, rb, b);
  tm_node(&t, "MatMul", "a,b", "y");
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void gemm_case(const char *label, bool ta, bool tb, float alpha, float beta, int c_kind) {
  tmb t = tm_new(13);
  int64_t M = 7, N = 9, K = 13;
  tm_in(&t, "a", -1, 1, 2, ta ? D(2, K, M) : D(2, M, K));
  tm_const(&t, "b", -1, 1, 2, tb ? D(2, N, K) : D(2, K, N));
  if (c_kind == 1) tm_const(&t, "c", -1, 1, 1, D(1, N));
  if (c_kind == 2) tm_in(&t, "c", -1, 1, 2, D(2, M, N));
  int n = tm_node(&t, "Gemm", c_kind ? "a,b,c" : "a,b", "y");
  if (ta) tm_int(&t, n, "transA", 1);
  if (tb) tm_int(&t, n, "transB", 1);
  if (alpha != 1) tm_float(&t, n, "alpha", alpha);
  if (beta != 1) tm_float(&t, n, "beta", beta);
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void test_matmul(void) {
  matmul_case("matmul 2d", 2, D(2, 7, 13), 2, D(2, 13, 9), true);
  matmul_case("matmul batched", 3, D(3, 3, 7, 13), 3, D(3, 3, 13, 9), false);
  matmul_case("matmul broadcast batch", 4, D(4, 2, 1, 5, 6), 3, D(3, 3, 6, 4), false);
  matmul_case("matmul vector a", 1, D(1, 13), 2, D(2, 13, 9), true);
  matmul_case("matmul vector b", 3, D(3, 3, 7, 13), 1, D(1, 13), false);
  matmul_case("matmul batch folded into rows", 4, D(4, 2, 3, 7, 13), 2, D(2, 13, 9), true);
  gemm_case("gemm", false, false, 1, 1, 0);
  gemm_case("gemm transA transB alpha", true, true, 0.5f, 1, 1);
  gemm_case("gemm const C beta", false, true, 1, 0.25f, 1);
  gemm_case("gemm fed C alpha beta", true, false, 0.25f, 0.35f, 2);
}

static void pool_case(const char *label, const char *op, void (*attrs)(tmb *, int)) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, 4, D(4, 2, 3, 11, 12));
  int n = tm_node(&t, op, "x", "y");
  if (attrs) attrs(&t, n);
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void p_k3s2p1(tmb *t, int n) {
  tm_ints(t, n, "kernel_shape", 2, 3, 3);
  tm_ints(t, n, "strides", 2, 2, 2);
  tm_ints(t, n, "pads", 4, 1, 1, 1, 1);
}
static void p_ceil(tmb *t, int n) {
  tm_ints(t, n, "kernel_shape", 2, 3, 2);
  tm_ints(t, n, "strides", 2, 2, 2);
  tm_int(t, n, "ceil_mode", 1);
}
static void p_dil(tmb *t, int n) {
  tm_ints(t, n, "kernel_shape", 2, 2, 2);
  tm_ints(t, n, "dilations", 2, 2, 2);
}
static void p_incl(tmb *t, int n) {
  p_k3s2p1(t, n);
  tm_int(t, n, "count_include_pad", 1);
}
static void p_same(tmb *t, int n) {
  tm_ints(t, n, "kernel_shape", 2, 3, 3);
  tm_ints(t, n, "strides", 2, 2, 2);
  tm_str(t, n, "auto_pad", "SAME_UPPER");
}

static void test_pool(void) {
  pool_case("maxpool k3s2p1", "MaxPool", p_k3s2p1);
  pool_case("maxpool ceil", "MaxPool", p_ceil);
  pool_case("maxpool dilated", "MaxPool", p_dil);
  pool_case("maxpool same_upper", "MaxPool", p_same);
  pool_case("avgpool exclude pad", "AveragePool", p_k3s2p1);
  pool_case("avgpool include pad", "AveragePool", p_incl);
  pool_case("avgpool ceil", "AveragePool", p_ceil);
  pool_case("global avg", "GlobalAveragePool", NULL);
  pool_case("global max", "GlobalMaxPool", NULL);
}

static void test_norms(void) {
  {
    tmb t = tm_new(15);
    tm_in(&t, "x", -2, 2, 4, D(4, 2, 5, 7, 7));
    tm_const(&t, "s", 0.5f, 1.5f, 1, D(1, 5));
    tm_const(&t, "b", -1, 1, 1, D(1, 5));
    tm_const(&t, "m", -0.5f, 0.5f, 1, D(1, 5));
    tm_const(&t, "v", 0.5f, 2, 1, D(1, 5));
    int n = tm_node(&t, "BatchNormalization", "x,s,b,m,v", "y");
    tm_float(&t, n, "epsilon", 1e-3f);
    tm_out(&t, "y");
    compare("batchnorm", &t, FP32, ONE);
  }
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -2, 2, 4, D(4, 1, 10, 6, 6));
    int n = tm_node(&t, "LRN", "x", "y");
    tm_int(&t, n, "size", 5);
    tm_float(&t, n, "alpha", 1e-2f);
    tm_out(&t, "y");
    compare("lrn", &t, FP32, ONE);
  }
  for (int axis = -1; axis <= 1; axis += 2) {
    tmb t = tm_new(17);
    tm_in(&t, "x", -2, 2, 3, D(3, 2, 5, 16));
    tm_const(&t, "s", 0.5f, 1.5f, axis == 1 ? 2 : 1, axis == 1 ? D(2, 5, 16) : D(1, 16));
    tm_const(&t, "b", -1, 1, axis == 1 ? 2 : 1, axis == 1 ? D(2, 5, 16) : D(1, 16));
    int n = tm_node(&t, "LayerNormalization", "x,s,b", "y");
    tm_int(&t, n, "axis", axis);
    tm_out(&t, "y");
    compare(axis == 1 ? "layernorm axis 1" : "layernorm axis -1", &t, FP32, ONE);
  }
  const char *sm[] = {"Softmax", "LogSoftmax"};
  for (int k = 0; k < 2; k++)
    for (int opset = 11; opset <= 13; opset += 2) {
      tmb t = tm_new(opset);
      tm_in(&t, "x", -3, 3, 3, D(3, 2, 5, 7));
      int n = tm_node(&t, sm[k], "x", "y");
      tm_int(&t, n, "axis", 1);
      tm_out(&t, "y");
      char label[64];
      snprintf(label, sizeof label, "%s opset %d axis 1", sm[k], opset);
      compare(label, &t, FP32, ONE);
    }
}

static void test_eltwise(void) {
  static const struct { const char *op; float lo, hi; int opset; } ops[] = {
      {"Relu", -1, 1, 13},      {"LeakyRelu", -1, 1, 13},  {"Sigmoid", -4, 4, 13},   {"Tanh", -3, 3, 13},
      {"Elu", -2, 2, 13},       {"Selu", -2, 2, 13},       {"HardSigmoid", -4, 4, 13}, {"HardSwish", -4, 4, 14},
      {"Exp", -3, 3, 13},       {"Sqrt", 0.01f, 5, 13},   {"Abs", -1, 1, 13},
      {"Neg", -1, 1, 13},       {"Reciprocal", 0.5f, 3, 13}, {"Softplus", -3, 3, 13}, {"Mish", -3, 3, 18},
      {"Gelu", -3, 3, 20},      {"Clip", -2, 2, 13}};
  for (size_t i = 0; i < 2 * sizeof ops / sizeof ops[0]; i++) {
    /* each op on a middle-sized tensor and on a tiny one (vector tails) */
    bool tiny = i >= sizeof ops / sizeof ops[0];
    if (tiny) i -= sizeof ops / sizeof ops[0];
    tmb t = tm_new(ops[i].opset);
    tm_in(&t, "x", ops[i].lo, ops[i].hi, tiny ? 1 : 3, tiny ? D(1, 3) : D(3, 2, 17, 9));
    bool clip = !strcmp(ops[i].op, "Clip");
    if (clip) {
      tm_const_scalar(&t, "lo", -0.5f);
      tm_const_scalar(&t, "hi", 0.75f);
    }
    int n = tm_node(&t, ops[i].op, clip ? "x,lo,hi" : "x", "y");
    if (!strcmp(ops[i].op, "LeakyRelu")) tm_float(&t, n, "alpha", 0.1f);
    tm_out(&t, "y");
    char label[64];
    snprintf(label, sizeof label, "%s%s", ops[i].op, tiny ? " tiny" : "");
    compare(label, &t, FP32, ONE);
    if (tiny) i += sizeof ops / sizeof ops[0];
  }
  {   /* binary ops absorb the activations after them, also on tiny tensors */
    for (int tiny = 0; tiny <= 1; tiny++) {
      tmb t = tm_new(13);
      tm_in(&t, "a", -2, 2, 2, tiny ? D(2, 1, 3) : D(2, 5, 33));
      tm_in(&t, "b", -2, 2, 1, tiny ? D(1, 3) : D(1, 33));
      tm_node(&t, "Sub", "b,a", "d");
      tm_node(&t, "HardSigmoid", "d", "h");
      tm_node(&t, "Tanh", "h", "y");
      tm_out(&t, "y");
      compare(tiny ? "sub+hardsigmoid+tanh tiny" : "sub+hardsigmoid+tanh", &t, FP32, ONE);
    }
  }
  {   /* Gelu tanh approximation */
    tmb t = tm_new(20);
    tm_in(&t, "x", -3, 3, 2, D(2, 4, 33));
    int n = tm_node(&t, "Gelu", "x", "y");
    tm_str(&t, n, "approximate", "tanh");
    tm_out(&t, "y");
    compare("gelu tanh", &t, FP32, ONE);
  }
}

static void binary_case(const char *label, const char *op, int ra, const int64_t *a, int rb, const int64_t *b,
                        bool b_const, float lo) {
  tmb t = tm_new(13);
  tm_in(&t, "a", lo, 2, ra, a);
  if (b_const) tm_const(&t, "b", lo, 2, rb, b);
  else tm_in(&t, "b", lo, 2, rb, b);
  tm_node(&t, op, "a,b", "y");
  tm_out(&t, "y");
  compare(label, &t, FP32, ONE);
}

static void test_binary(void) {
  binary_case("add same shape", "Add", 3, D(3, 2, 3, 17), 3, D(3, 2, 3, 17), false, -2);
  binary_case("add channel broadcast", "Add", 4, D(4, 2, 3, 4, 5), 3, D(3, 3, 1, 1), true, -2);
  binary_case("mul scalar", "Mul", 3, D(3, 2, 3, 17), 0, NULL, true, -2);
  binary_case("sub first broadcast", "Sub", 1, D(1, 5), 3, D(3, 2, 3, 5), false, -2);
  binary_case("div first broadcast", "Div", 2, D(2, 1, 5), 3, D(3, 2, 3, 5), false, 0.5f);
  binary_case("div", "Div", 3, D(3, 2, 3, 5), 1, D(1, 5), false, 0.5f);
  binary_case("max", "Max", 2, D(2, 4, 9), 2, D(2, 4, 9), false, -2);
  binary_case("min broadcast", "Min", 2, D(2, 4, 9), 2, D(2, 1, 9), false, -2);
}

static void test_concat_reduce(void) {
  {
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 4, D(4, 1, 3, 4, 5));
    tm_in(&t, "b", -1, 1, 4, D(4, 1, 5, 4, 5));
    tm_const(&t, "c", -1, 1, 4, D(4, 1, 2, 4, 5));
    int n = tm_node(&t, "Concat", "a,b,c", "y");
    tm_int(&t, n, "axis", 1);
    tm_out(&t, "y");
    compare("concat axis 1", &t, FP32, ONE);
  }
  static const struct { const char *op; float lo; } ops[] = {
      {"ReduceSum", -1},     {"ReduceMean", -1}, {"ReduceMax", -1}, {"ReduceMin", -1},
      {"ReduceProd", 0.8f},  {"ReduceL1", -1},   {"ReduceL2", -1},  {"ReduceSumSquare", -1},
      {"ReduceLogSum", 0.1f}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    for (int keep = 0; keep <= 1; keep++) {
      tmb t = tm_new(18);
      tm_in(&t, "x", ops[i].lo, ops[i].lo + 1.5f, 4, D(4, 2, 3, 5, 6));
      tm_const_i64(&t, "axes", 2, (int64_t[]){1, -1});
      int n = tm_node(&t, ops[i].op, "x,axes", "y");
      tm_int(&t, n, "keepdims", keep);
      tm_out(&t, "y");
      char label[64];
      snprintf(label, sizeof label, "%s keepdims %d", ops[i].op, keep);
      compare(label, &t, FP32, ONE);
    }
  {   /* opset 13 ReduceMean: axes attribute, all axes */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 3, D(3, 4, 5, 6));
    int n = tm_node(&t, "ReduceMean", "x", "y");
    tm_int(&t, n, "keepdims", 0);
    tm_out(&t, "y");
    compare("ReduceMean all axes", &t, FP32, ONE);
  }
}

/* ---- fusion and partitions ---------------------------------------------------------------- */

static void test_fusion(void) {
  {   /* Conv + Add(residual) + Relu: one partition, all on dnnl */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 16, 10, 10));
    tm_in(&t, "r", -1, 1, 4, D(4, 1, 16, 10, 10));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 16, 16, 3, 3));
    tm_const(&t, "b", -1, 1, 1, D(1, 16));
    int n = tm_node(&t, "Conv", "x,w,b", "c");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_node(&t, "Add", "c,r", "s");
    tm_node(&t, "Relu", "s", "y");
    tm_out(&t, "y");
    compare("conv+add+relu", &t, FP32, ONE);
  }
  {   /* Conv + BatchNormalization + Clip (ReLU6), then Add of the other branch */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 2, 8, 9, 9));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 8, 8, 3, 3));
    tm_const(&t, "s", 0.5f, 1.5f, 1, D(1, 8));
    tm_const(&t, "bb", -1, 1, 1, D(1, 8));
    tm_const(&t, "m", -0.5f, 0.5f, 1, D(1, 8));
    tm_const(&t, "v", 0.5f, 2, 1, D(1, 8));
    tm_const_scalar(&t, "lo", 0);
    tm_const_scalar(&t, "hi", 6);
    int n = tm_node(&t, "Conv", "x,w", "c");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_node(&t, "BatchNormalization", "c,s,bb,m,v", "bn");
    tm_node(&t, "Clip", "bn,lo,hi", "y1");
    tm_node(&t, "Add", "y1,x", "y");
    tm_out(&t, "y");
    compare("conv+bn+clip+add", &t, FP32, ONE);
  }
  {   /* MatMul + Add(bias) + Relu; Gemm + HardSigmoid (two eltwise post-ops) */
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 3, D(3, 2, 7, 32));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 32, 24));
    tm_const(&t, "bias", -1, 1, 1, D(1, 24));
    tm_const(&t, "w2", -0.3f, 0.3f, 2, D(2, 24, 24));
    tm_node(&t, "MatMul", "a,w", "m");
    tm_node(&t, "Add", "m,bias", "mb");
    tm_node(&t, "Relu", "mb", "y");
    tm_node(&t, "MatMul", "y,w2", "m2");
    tm_node(&t, "HardSigmoid", "m2", "z");
    tm_out(&t, "z");
    compare("matmul+add+relu, matmul+hardsigmoid", &t, FP32, ONE);
  }
  {   /* [b, s, k] x [k, n] folded into one product, with a full-shape Add */
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 3, D(3, 2, 5, 16));
    tm_in(&t, "r", -1, 1, 3, D(3, 2, 5, 8));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 16, 8));
    tm_const(&t, "bias", -1, 1, 3, D(3, 1, 1, 8));
    tm_node(&t, "MatMul", "a,w", "m");
    tm_node(&t, "Add", "m,bias", "mb");
    tm_node(&t, "Add", "mb,r", "y");
    tm_out(&t, "y");
    compare("matmul folded + bias + residual", &t, FP32, ONE);
  }
  {   /* Gemm(alpha) + Relu */
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 2, D(2, 5, 16));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 16, 8));
    tm_const(&t, "c", -1, 1, 1, D(1, 8));
    int n = tm_node(&t, "Gemm", "a,w,c", "g");
    tm_float(&t, n, "alpha", 0.5f);
    tm_node(&t, "Relu", "g", "y");
    tm_out(&t, "y");
    compare("gemm+relu", &t, FP32, ONE);
  }
  {   /* an intermediate that is also a graph output is not fused away */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 4, 6, 6));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 4, 4, 1, 1));
    tm_node(&t, "Conv", "x,w", "c");
    tm_node(&t, "Relu", "c", "y");
    tm_out(&t, "c");
    tm_out(&t, "y");
    compare("conv output kept", &t, FP32, ONE);
  }
  {   /* a small CNN with a cpu-only node in the middle: two dnnl partitions
       * (the optimizer makes Conv + Relu one FusedConv) */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 2, 3, 16, 16));
    tm_const(&t, "w1", -0.3f, 0.3f, 4, D(4, 8, 3, 3, 3));
    tm_const(&t, "b1", -0.1f, 0.1f, 1, D(1, 8));
    tm_const(&t, "w2", -0.3f, 0.3f, 4, D(4, 16, 8, 3, 3));
    tm_const(&t, "wf", -0.3f, 0.3f, 2, D(2, 16, 10));
    tm_const(&t, "bf", -0.1f, 0.1f, 1, D(1, 10));
    int n = tm_node(&t, "Conv", "x,w1,b1", "c1");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_node(&t, "Relu", "c1", "r1");
    n = tm_node(&t, "MaxPool", "r1", "p1");
    tm_ints(&t, n, "kernel_shape", 2, 2, 2);
    tm_ints(&t, n, "strides", 2, 2, 2);
    n = tm_node(&t, "Conv", "p1,w2", "c2");
    tm_ints(&t, n, "strides", 2, 2, 2);
    tm_node(&t, "GlobalAveragePool", "c2", "gp");
    tm_node(&t, "Flatten", "gp", "fl");
    tm_node(&t, "Gemm", "fl,wf,bf", "g");
    n = tm_node(&t, "Softmax", "g", "y");
    tm_int(&t, n, "axis", 1);
    tm_out(&t, "y");
    /* Conv+Relu stay two nodes: the optimizer leaves nodes dnnl takes to dnnl's own fusion */
    compare("cnn with flatten on cpu", &t, FP32, (cmp_opts){"DDDDDCDD", 2, false, 2, false, NULL});
  }
}

/* ---- optimization levels -------------------------------------------------------------------- */

/* A residual block: Conv + BatchNormalization + Add(r) + Relu, then MaxPool. */
static tmb block_model(void) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, 4, D(4, 1, 16, 10, 10));
  tm_in(&t, "r", -1, 1, 4, D(4, 1, 16, 10, 10));
  tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 16, 16, 3, 3));
  tm_const(&t, "b", -1, 1, 1, D(1, 16));
  tm_const(&t, "s", 0.5f, 1.5f, 1, D(1, 16));
  tm_const(&t, "bb", -1, 1, 1, D(1, 16));
  tm_const(&t, "m", -0.5f, 0.5f, 1, D(1, 16));
  tm_const(&t, "v", 0.5f, 2, 1, D(1, 16));
  int n = tm_node(&t, "Conv", "x,w,b", "c");
  tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
  tm_node(&t, "BatchNormalization", "c,s,bb,m,v", "bn");
  tm_node(&t, "Add", "bn,r", "sum");
  tm_node(&t, "Relu", "sum", "y");
  n = tm_node(&t, "MaxPool", "y", "p");
  tm_ints(&t, n, "kernel_shape", 2, 2, 2);
  tm_ints(&t, n, "strides", 2, 2, 2);
  tm_out(&t, "p");
  return t;
}

/* Compiles every node of the graph of `cpu` (a session on cpu at level 0:
 * the nodes as written) as one dnnl partition at `level`, checks its
 * primitives (*prims, *reorders) and that it computes what cpu does. */
static void compile_at_level(onyx_session *cpu, onyx_provider *dn, int level, const tmb *t, dn_fused_info *fi) {
  const onyx_graph *g = onyx_session_graph(cpu);
  int nodes[16], ins[16], outs[8], n_in = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    nodes[i] = i;
    const onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      bool have = v < 0 || g->values[v].producer >= 0;
      for (int j = 0; j < n_in && !have; j++) have = ins[j] == v;
      if (!have) ins[n_in++] = v;
    }
  }
  for (int i = 0; i < g->n_outputs; i++) outs[i] = g->outputs[i];
  onyx_partition part = {g->n_nodes, nodes, n_in, ins, g->n_outputs, outs, level, 0};
  onyx_fused f = {0};
  memset(fi, 0, sizeof *fi);
  CHECK_OK(dn->iface->compile(dn, g, &part, &f));
  if (!f.run) return;
  dn_fused_describe(f.state, fi);
  /* feed the graph inputs as the sessions' tests do, weights from the graph */
  int ni = onyx_session_input_count(cpu);
  onyx_tensor *fed[16], *in[16], *y[8] = {0}, *ref[8] = {0};
  const char *names[16];
  make_inputs(t, cpu, fed, names);
  for (int k = 0; k < n_in; k++) {
    in[k] = g->values[ins[k]].init;
    for (int i = 0; i < ni; i++)
      if (!strcmp(names[i], g->values[ins[k]].name)) in[k] = fed[i];
  }
  onyx_threadpool pool = {1};
  CHECK_OK(onyx_exec_fused(dn, &f, g, &part, in, y, &pool));
  CHECK_OK(onyx_session_run(cpu, ni, names, fed, g->n_outputs, NULL, ref));
  for (int o = 0; o < g->n_outputs; o++) {
    if (!y[o] || !ref[o]) continue;
    const float *a = onyx_tensor_data(y[o]), *b = onyx_tensor_data(ref[o]);
    int64_t bad = 0;
    CHECK(onyx_tensor_numel(y[o]) == onyx_tensor_numel(ref[o]));
    for (int64_t i = 0; i < onyx_tensor_numel(ref[o]); i++) bad += !(fabsf(a[i] - b[i]) <= 1e-5f + 1e-4f * fabsf(b[i]));
    if (bad) fprintf(stderr, "level %d partition: %lld values differ from cpu\n", level, (long long)bad);
    CHECK(bad == 0);
    onyx_tensor_free(y[o]);
    onyx_tensor_free(ref[o]);
  }
  for (int i = 0; i < ni; i++) onyx_tensor_free(fed[i]);
  f.release(f.state);
}

/* MatMul + Add(bias) + Relu. */
static tmb dense_model(void) {
  tmb t = tm_new(13);
  tm_in(&t, "a", -1, 1, 2, D(2, 6, 32));
  tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 32, 24));
  tm_const(&t, "bias", -1, 1, 1, D(1, 24));
  tm_node(&t, "MatMul", "a,w", "m");
  tm_node(&t, "Add", "m,bias", "mb");
  tm_node(&t, "Relu", "mb", "y");
  tm_out(&t, "y");
  return t;
}

/* Compiles the nodes of model t (consumed) as one partition at levels 0-3
 * (checking each against cpu) and describes the programs into fi[4]. */
static void levels_of(tmb t, dn_fused_info *fi) {
  void *buf;
  size_t len;
  memset(fi, 0, 4 * sizeof *fi);
  CHECK_OK(onyx_model_save_to_buffer(t.m, &buf, &len));
  onyx_model_destroy(t.m);
  onyx_session *cpu = session_from(buf, len, "cpu", false, 1, true, NULL);
  onyx_buffer_free(buf);
  onyx_provider *dn = NULL;
  CHECK_OK(onyx_provider_factory_find("dnnl")->create(0, NULL, NULL, &dn));
  for (int level = 0; level < 4 && cpu && dn; level++) compile_at_level(cpu, dn, level, &t, &fi[level]);
  onyx_session_destroy(cpu);
  if (dn) dn->iface->destroy(dn);
}

/* Checks `ok` (a claim about fi[4]), showing the programs when it fails. */
static void expect_levels(const char *label, const dn_fused_info *fi, bool ok) {
  CHECK(ok);
  for (int level = 0; level < 4 && !ok; level++)
    fprintf(stderr, "%s: level %d: %d primitives, %d reorders, arena %zu bytes\n", label, level, fi[level].n_prims,
            fi[level].n_reorders, fi[level].arena_bytes);
}

static void test_levels(void) {
  /* sessions at level 0 (no optimizer, no dnnl fusion, plain layouts) agree with cpu */
  compare("level 0: conv+bn+add+relu+maxpool", (tmb[]){block_model()}, FP32, LEVEL0);
  {
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 3, D(3, 2, 7, 32));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 32, 24));
    tm_const(&t, "bias", -1, 1, 1, D(1, 24));
    tm_node(&t, "MatMul", "a,w", "m");
    tm_node(&t, "Add", "m,bias", "mb");
    tm_node(&t, "Relu", "mb", "y");
    int n = tm_node(&t, "Softmax", "y", "z");
    tm_int(&t, n, "axis", -1);
    tm_out(&t, "z");
    compare("level 0: matmul+add+relu+softmax", &t, FP32, LEVEL0);
  }
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 8, 9, 9));
    tm_const(&t, "w1", -0.3f, 0.3f, 4, D(4, 8, 8, 1, 1));
    tm_const(&t, "w2", -0.3f, 0.3f, 4, D(4, 8, 8, 3, 3));
    tm_node(&t, "Conv", "x,w1", "c1");
    int n = tm_node(&t, "Conv", "x,w2", "c2");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    n = tm_node(&t, "Concat", "c1,c2", "cat");
    tm_int(&t, n, "axis", 1);
    n = tm_node(&t, "AveragePool", "cat", "y");
    tm_ints(&t, n, "kernel_shape", 2, 3, 3);
    tm_out(&t, "y");
    compare("level 0: two convs + concat + avgpool", &t, FP32, LEVEL0);
  }
  /* the same partitions compiled at each level */
  dn_fused_info fi[4];
  levels_of(block_model(), fi);
  /* 0: one primitive per node, plain layouts (no reorders) */
  expect_levels("block", fi, fi[0].n_prims == 5 && fi[0].n_reorders == 0);
  /* 1: BatchNormalization folded into the Conv */
  expect_levels("block", fi, fi[1].n_prims == 4 && fi[1].n_reorders == 0);
  /* 2: Relu a post-op of the Add; a Conv takes post-ops only with blocked layouts */
  expect_levels("block", fi, fi[2].n_prims == 3 && fi[2].n_reorders == 0);
  /* 3: Conv + BN + Add + Relu one primitive, then the pooling; reorders (the
   * residual copied into the Conv's output for its sum post-op, layouts) */
  expect_levels("block", fi, fi[3].n_prims - fi[3].n_reorders == 2 && fi[3].n_reorders >= 1);
  levels_of(dense_model(), fi);
  /* MatMul + Add(bias) + Relu: fused from level 2 */
  expect_levels("dense", fi, fi[0].n_prims == 3 && fi[1].n_prims == 3 && fi[2].n_prims == 1 && fi[3].n_prims == 1);
  expect_levels("dense", fi, fi[0].n_reorders + fi[1].n_reorders + fi[2].n_reorders + fi[3].n_reorders == 0);
}

/* A ResNet bottleneck: c1 = Conv(x), c2 = Conv(c1), c3 = Conv(c2),
 * y = Relu(Add(c3, c1)); the residual c1 is made inside the partition.
 * variant 1: c1 is also read after the Add (z = Sigmoid(c1)); variant 2:
 * no c2, c3 = Conv(c1) reads the residual itself. */
static tmb bottleneck_model(int variant) {
  tmb t = tm_new(17);
  tm_in(&t, "x", -1, 1, 4, D(4, 1, 16, 8, 8));
  tm_const(&t, "w1", -0.3f, 0.3f, 4, D(4, 16, 16, 1, 1));
  tm_const(&t, "w2", -0.3f, 0.3f, 4, D(4, 16, 16, 1, 1));
  tm_const(&t, "w3", -0.3f, 0.3f, 4, D(4, 16, 16, 3, 3));
  tm_node(&t, "Conv", "x,w1", "c1");
  if (variant != 2) tm_node(&t, "Conv", "c1,w2", "c2");
  int n = tm_node(&t, "Conv", variant == 2 ? "c1,w3" : "c2,w3", "c3");
  tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
  tm_node(&t, "Add", "c3,c1", "s");
  tm_node(&t, "Relu", "s", "y");
  tm_out(&t, "y");
  if (variant == 1) {
    tm_node(&t, "Sigmoid", "c1", "z");
    tm_out(&t, "z");
  }
  return t;
}

static void test_in_place_sum(void) {
  /* At level 3 the Add is the last Conv's sum post-op, which accumulates
   * into dst: when c1 dies there, dst is c1's own buffer (reorders: x in,
   * y out); when c1 is read later, or by that Conv itself, c1 is copied
   * into dst first (a third reorder). Every level is compared with cpu,
   * which catches a residual overwritten before its last reader. */
  dn_fused_info fi[4];
  levels_of(bottleneck_model(0), fi);
  expect_levels("bottleneck", fi, fi[3].n_prims - fi[3].n_reorders == 3 && fi[3].n_reorders == 2);
  levels_of(bottleneck_model(1), fi);
  expect_levels("bottleneck, residual read later", fi, fi[3].n_prims - fi[3].n_reorders == 4 && fi[3].n_reorders >= 4);
  levels_of(bottleneck_model(2), fi);
  expect_levels("residual read by the conv", fi, fi[3].n_prims - fi[3].n_reorders == 2 && fi[3].n_reorders == 3);
}

/* Binary ops whose one side is a constant that broadcasts onto the other,
 * whose leading dims are unknown (not symbolic) at load: dnnl takes them
 * (the output is the other side's shape, whatever it turns out to be),
 * also with the constant as the first operand of Sub and Div. Run on
 * [2, 5, 4] against cpu. */
static void test_broadcast_onto_unknown(void) {
  tmb t = tm_new(13);
  tm_in(&t, "x", 0.5f, 2, 3, D(3, 2, 5, 4));
  tm_const(&t, "b", 0.5f, 1.5f, 1, D(1, 4));
  onyx_value *x = &t.m->graph->values[t.m->graph->inputs[0]];
  x->dims[0] = x->dims[1] = ONYX_DIM_UNKNOWN;
  tm_node(&t, "Relu", "x", "r");
  tm_node(&t, "Sub", "b,r", "y1");
  tm_node(&t, "Div", "b,x", "y2");
  tm_node(&t, "Mul", "x,b", "y3");
  tm_out(&t, "y1");
  tm_out(&t, "y2");
  tm_out(&t, "y3");
  void *buf;
  size_t len;
  if (!tm_save(&t, &buf, &len)) return;
  onyx_session *sd = session_from(buf, len, "dnnl,cpu", false, 1, false, NULL);
  onyx_session *sc = session_from(buf, len, "cpu", false, 1, false, NULL);
  onyx_buffer_free(buf);
  if (sd && sc) {
    check_placement(sd, "constant onto unknown dims", "DDDD");
    onyx_tensor *in = tu_f32(3, D(3, 2, 5, 4), NULL), *yd[3] = {0}, *yc[3] = {0};
    float *p = onyx_tensor_data(in);
    tu_fill_random(p, 40, 7);
    for (int i = 0; i < 40; i++) p[i] += 2.0f;   /* away from 0: Div */
    const char *names[] = {"x"};
    CHECK_OK(onyx_session_run(sd, 1, names, &in, 3, NULL, yd));
    CHECK_OK(onyx_session_run(sc, 1, names, &in, 3, NULL, yc));
    for (int o = 0; o < 3; o++) {
      if (!yd[o] || !yc[o]) continue;
      CHECK(onyx_tensor_numel(yd[o]) == 40 && onyx_tensor_numel(yc[o]) == 40);
      const float *a = onyx_tensor_data(yd[o]), *b = onyx_tensor_data(yc[o]);
      int bad = 0;
      for (int i = 0; i < 40 && onyx_tensor_numel(yd[o]) == 40; i++) bad += fabsf(a[i] - b[i]) > 1e-6f + 1e-5f * fabsf(b[i]);
      CHECK(bad == 0);
      onyx_tensor_free(yd[o]);
      onyx_tensor_free(yc[o]);
    }
    onyx_tensor_free(in);
  }
  onyx_session_destroy(sd);
  onyx_session_destroy(sc);
}

/* MatMul + bias + GELU written out with Erf, as BERT exports it: the
 * optimizer makes the GELU one BiasGelu because dnnl takes that too (a
 * gelu_erf post-op), rather than leaving five nodes split between dnnl and
 * cpu (Erf has no dnnl primitive). */
static void test_gelu_pattern(void) {
  tmb t = tm_new(13);
  tm_in(&t, "a", -1, 1, 3, D(3, 2, 6, 32));
  tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 32, 24));
  tm_const(&t, "bias", -1, 1, 1, D(1, 24));
  tm_const_scalar(&t, "sqrt2", 1.4142135f);
  tm_const_scalar(&t, "one", 1.0f);
  tm_const_scalar(&t, "half", 0.5f);
  tm_node(&t, "MatMul", "a,w", "m");
  tm_node(&t, "Add", "m,bias", "h");
  tm_node(&t, "Div", "h,sqrt2", "d");
  tm_node(&t, "Erf", "d", "e");
  tm_node(&t, "Add", "e,one", "e1");
  tm_node(&t, "Mul", "h,e1", "he");
  tm_node(&t, "Mul", "he,half", "y");
  tm_out(&t, "y");
  compare("matmul + bias + erf gelu", &t, FP32, (cmp_opts){"DD", 1, false, 0, false, NULL});
}

/* ---- the optimizer's ai.onyx ops ----------------------------------------------------------- */

/* Each activation a fused op may carry, with parameters where it takes them. */
static const struct { const char *name; int np; float p[2]; } fused_acts[] = {
    {"", 0, {0}}, {"Relu", 0, {0}}, {"Clip", 2, {-0.5f, 0.7f}}, {"LeakyRelu", 1, {0.2f}},
    {"Sigmoid", 0, {0}}, {"HardSigmoid", 2, {0.3f, 0.4f}}, {"HardSwish", 0, {0}}, {"Tanh", 0, {0}},
    {"Gelu", 0, {0}}, {"GeluTanh", 0, {0}},
};
#define N_FUSED_ACTS (int)(sizeof fused_acts / sizeof fused_acts[0])

static void set_act(tmb *t, int n, int a) {
  tm_str(t, n, "activation", fused_acts[a].name);
  if (fused_acts[a].np) tm_floats(t, n, "activation_params", fused_acts[a].np, fused_acts[a].p);
}

static void test_fused_ops(void) {
  char label[96];
  for (int a = 0; a < N_FUSED_ACTS; a++) {
    for (int z = 0; z < 2; z++) {   /* FusedConv with and without the residual */
      tmb t = tm_new(13);
      tm_in(&t, "x", -2, 2, 4, D(4, 2, 8, 9, 9));
      if (z) tm_in(&t, "z", -1, 1, 4, D(4, 2, 16, 9, 9));
      tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 16, 8, 3, 3));
      tm_const(&t, "b", -0.5f, 0.5f, 1, D(1, 16));
      int n = tm_node_d(&t, "ai.onyx", "FusedConv", z ? "x,w,b,z" : "x,w,b", "y");
      tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
      set_act(&t, n, a);
      tm_out(&t, "y");
      snprintf(label, sizeof label, "FusedConv%s activation '%s'", z ? "+Z" : "", fused_acts[a].name);
      compare(label, &t, FP32, ONE);
    }
    {   /* FusedGemm (transB, alpha, beta, C as a row) */
      tmb t = tm_new(13);
      tm_in(&t, "a", -1, 1, 2, D(2, 6, 32));
      tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 24, 32));
      tm_const(&t, "c", -1, 1, 1, D(1, 24));
      int n = tm_node_d(&t, "ai.onyx", "FusedGemm", "a,w,c", "y");
      tm_int(&t, n, "transB", 1);
      tm_float(&t, n, "alpha", 0.7f);
      tm_float(&t, n, "beta", 1.5f);
      set_act(&t, n, a);
      tm_out(&t, "y");
      snprintf(label, sizeof label, "FusedGemm activation '%s'", fused_acts[a].name);
      compare(label, &t, FP32, ONE);
    }
    {   /* FusedMatMul [b, s, k] x [k, n] + bias */
      tmb t = tm_new(13);
      tm_in(&t, "a", -1, 1, 3, D(3, 2, 5, 32));
      tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 32, 24));
      tm_const(&t, "bias", -1, 1, 1, D(1, 24));
      int n = tm_node_d(&t, "ai.onyx", "FusedMatMul", "a,w,bias", "y");
      set_act(&t, n, a);
      tm_out(&t, "y");
      snprintf(label, sizeof label, "FusedMatMul+bias activation '%s'", fused_acts[a].name);
      compare(label, &t, FP32, ONE);
    }
  }
  {   /* FusedMatMul of two run-time batched operands with a run-time bias */
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 3, D(3, 3, 4, 16));
    tm_in(&t, "b", -1, 1, 3, D(3, 3, 16, 8));
    tm_in(&t, "bias", -1, 1, 1, D(1, 8));
    int n = tm_node_d(&t, "ai.onyx", "FusedMatMul", "a,b,bias", "y");
    set_act(&t, n, 1);
    tm_out(&t, "y");
    compare("FusedMatMul batched, run-time bias", &t, FP32, ONE);
  }
  {   /* FusedMatMul without bias, followed by an Add of the output's shape */
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 2, D(2, 7, 16));
    tm_in(&t, "r", -1, 1, 2, D(2, 7, 12));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 16, 12));
    int n = tm_node_d(&t, "ai.onyx", "FusedMatMul", "a,w", "m");
    set_act(&t, n, 7);
    tm_node(&t, "Add", "m,r", "y");
    tm_out(&t, "y");
    compare("FusedMatMul tanh + add", &t, FP32, ONE);
  }
  for (int k = 0; k < 3; k++) {   /* BiasGelu: erf, tanh, no bias */
    tmb t = tm_new(13);
    tm_in(&t, "x", -3, 3, 3, D(3, 2, 5, 32));
    tm_const(&t, "bias", -1, 1, 1, D(1, 32));
    int n = tm_node_d(&t, "ai.onyx", "BiasGelu", k < 2 ? "x,bias" : "x", "y");
    if (k == 1) tm_str(&t, n, "approximate", "tanh");
    tm_out(&t, "y");
    snprintf(label, sizeof label, "BiasGelu %s", k == 0 ? "erf" : k == 1 ? "tanh" : "without bias");
    compare(label, &t, FP32, ONE);
  }
  for (int k = 0; k < 3; k++) {   /* SkipLayerNormalization: gamma only, + beta, + beta + bias */
    tmb t = tm_new(17);
    tm_in(&t, "x", -2, 2, 3, D(3, 2, 5, 48));
    tm_in(&t, "skip", -2, 2, 3, D(3, 2, 5, 48));
    tm_const(&t, "gamma", 0.5f, 1.5f, 1, D(1, 48));
    tm_const(&t, "beta", -1, 1, 1, D(1, 48));
    tm_const(&t, "bias", -1, 1, 1, D(1, 48));
    int n = tm_node_d(&t, "ai.onyx", "SkipLayerNormalization",
                      k == 0 ? "x,skip,gamma" : k == 1 ? "x,skip,gamma,beta" : "x,skip,gamma,beta,bias", "y");
    tm_float(&t, n, "epsilon", 1e-5f);
    tm_out(&t, "y");
    snprintf(label, sizeof label, "SkipLayerNormalization %d optional inputs", k);
    compare(label, &t, FP32, ONE);
  }
}

/* ---- refusals, options, bf16, concurrency ------------------------------------------------- */

static void expect_fallback(const char *label, tmb *t, const char *needle) {
  if (tm_skip(t)) return;
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "dnnl,cpu");
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(t->m, o, &s));
  onyx_options_destroy(o);
  if (!s) return;
  onyx_node_info ni;
  CHECK_OK(onyx_session_node_info(s, 0, &ni));
  CHECK(!strcmp(ni.provider, "cpu"));
  bool ok = ni.fallback_reason && strstr(ni.fallback_reason, "dnnl") && strstr(ni.fallback_reason, needle);
  if (!ok) fprintf(stderr, "%s: fallback reason '%s' lacks '%s'\n", label, ni.fallback_reason ? ni.fallback_reason : "", needle);
  CHECK(ok);
  onyx_session_destroy(s);
}

static void test_refusals(void) {
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 2, 8, 8));
    int n = tm_node(&t, "AveragePool", "x", "y");
    tm_ints(&t, n, "kernel_shape", 2, 3, 3);
    tm_ints(&t, n, "strides", 2, 2, 2);
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_int(&t, n, "ceil_mode", 1);
    tm_int(&t, n, "count_include_pad", 1);
    tm_out(&t, "y");
    expect_fallback("avgpool ceil+include", &t, "count_include_pad");
  }
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 2, D(2, 3, 4));
    t.m->graph->values[t.m->graph->inputs[0]].dtype = ONYX_DTYPE_DOUBLE;
    tm_node(&t, "Relu", "x", "y");
    tm_out(&t, "y");
    expect_fallback("relu double", &t, "dtype");
  }
  {   /* an unknown (not symbolic) dim makes broadcasting undecidable */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 2, D(2, 3, 4));
    tm_in(&t, "z", -1, 1, 2, D(2, 3, 4));
    t.m->graph->values[t.m->graph->inputs[0]].dims[0] = ONYX_DIM_UNKNOWN;
    tm_node(&t, "Add", "x,z", "y");
    tm_out(&t, "y");
    expect_fallback("add unknown dim", &t, "unknown dim");
  }
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 2, D(2, 3, 4));
    tm_node(&t, "Floor", "x", "y");
    tm_out(&t, "y");
    expect_fallback("floor", &t, "not supported");
  }
  {   /* a fused activation without an eltwise counterpart stays on cpu */
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 2, 5, 5));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 3, 2, 1, 1));
    int n = tm_node_d(&t, "ai.onyx", "FusedConv", "x,w", "y");
    tm_str(&t, n, "activation", "Softsign");
    tm_out(&t, "y");
    expect_fallback("FusedConv Softsign", &t, "Softsign");
  }
}

/* ---- int8 ------------------------------------------------------------------------------------ */

/* A fed input of dtype dt (uint8/int8: random bytes at run time). */
static void tm_in_q(tmb *t, const char *name, onyx_dtype dt, int rank, const int64_t *dims) {
  tm_in(t, name, 0, 0, rank, dims);
  t->m->graph->values[onyx_graph_find(t->m->graph, name)].dtype = dt;
}

/* An initializer of dtype dt (uint8, int8, int32) with random integers in
 * [lo, hi]; rank 0 is a scalar. */
static void tm_const_q(tmb *t, const char *name, onyx_dtype dt, int lo, int hi, int rank, const int64_t *dims) {
  int v = tm_value(t, name, rank, dims);
  onyx_tensor *c;
  onyx_tensor_create(dt, rank, dims, &c);
  void *p = onyx_tensor_data(c);
  unsigned r = t->seed++ * 7919u;
  for (int64_t i = 0; i < onyx_tensor_numel(c); i++) {
    r = r * 1103515245u + 12345u;
    int x = lo + (int)((r >> 8) % (unsigned)(hi - lo + 1));
    if (dt == ONYX_DTYPE_UINT8) ((uint8_t *)p)[i] = (uint8_t)x;
    else if (dt == ONYX_DTYPE_INT8) ((int8_t *)p)[i] = (int8_t)x;
    else ((int32_t *)p)[i] = x;
  }
  t->m->graph->values[v].init = c;
  t->m->graph->values[v].dtype = dt;
}

/* A float initializer: a scalar (n == 1, rank 0) or n values from v0 step dv. */
static void tm_const_fv(tmb *t, const char *name, int n, float v0, float dv) {
  int64_t d = n;
  int v = tm_value(t, name, n > 1, &d);
  onyx_tensor *c;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, n > 1, &d, &c);
  for (int i = 0; i < n; i++) ((float *)onyx_tensor_data(c))[i] = v0 + dv * (float)i;
  t->m->graph->values[v].init = c;
}

enum {
  Q_XZ = 1,       /* activation zero point */
  Q_YZ = 2,       /* output zero point */
  Q_PC = 4,       /* per-output-channel weight scales */
  Q_BIAS = 8,     /* int32 bias (QLinearConv) */
  Q_U8W = 16,     /* uint8 weights, zero points per channel around 128 */
  Q_S8Y = 32,     /* int8 output */
  Q_INT = 64,     /* ConvInteger / MatMulInteger (int32 out) */
  Q_S8X = 128,    /* int8 activations */
  Q_FULL = 256,   /* weights over the whole int8 range */
};

/* The weights of a case: s8 in +-64 (+-127 with Q_FULL) or u8 around
 * per-channel zero points (wz of m values); k values per channel. */
static void q_weights(tmb *t, int flags, int rank, const int64_t *wd, int64_t m) {
  int span = flags & Q_FULL ? 127 : 64;
  if (!(flags & Q_U8W)) {
    tm_const_q(t, "w", ONYX_DTYPE_INT8, -span, span, rank, wd);
    return;
  }
  /* zero points 120..135 per channel, weights within zero point +- 64 */
  tm_const_q(t, "w", ONYX_DTYPE_UINT8, 0, 0, rank, wd);
  tm_const_q(t, "wz", ONYX_DTYPE_UINT8, 120, 135, 1, D(1, (int)m));
  onyx_graph *g = t->m->graph;
  onyx_tensor *w = g->values[onyx_graph_find(g, "w")].init, *z = g->values[onyx_graph_find(g, "wz")].init;
  int64_t cnt = onyx_tensor_numel(w), per = rank == 2 ? 1 : cnt / m;
  uint8_t *p = onyx_tensor_data(w);
  const uint8_t *zp = onyx_tensor_data(z);
  for (int64_t i = 0; i < cnt; i++) {
    int64_t ch = rank == 2 ? i % m : i / per;
    p[i] = (uint8_t)(zp[ch] - 64 + (int)((i * 37 + ch * 11) % 129));
  }
}

/* Scales and zero points of a QLinear case with K products per output;
 * names x_s, x_z, w_s, w_z (when not per channel already), y_s, y_z. */
static void q_params(tmb *t, int flags, int64_t k, int64_t m) {
  onyx_dtype xdt = flags & Q_S8X ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8;
  tm_const_q(t, "xz", xdt, flags & Q_XZ ? 19 : 0, flags & Q_XZ ? 119 : 0, 0, NULL);
  if (!(flags & Q_U8W)) tm_const_q(t, "wz", ONYX_DTYPE_INT8, 0, 0, 0, NULL);
  if (flags & Q_INT) return;
  tm_const_fv(t, "xs", 1, 0.02f, 0);
  tm_const_fv(t, "ws", flags & Q_PC ? (int)m : 1, 0.004f, 0.0003f);
  /* outputs spread over about +-60 units */
  tm_const_fv(t, "ys", 1, 0.02f * 0.004f * sqrtf((float)k) * (flags & Q_FULL ? 90.0f : 45.0f), 0);
  bool s8 = flags & Q_S8Y;
  int yz = flags & Q_YZ ? (s8 ? -7 : 131) : 0;
  tm_const_q(t, "yz", s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, yz, yz, 0, NULL);
}

static void q_output(tmb *t, int flags, const char *name) {
  onyx_graph *g = t->m->graph;
  g->values[onyx_graph_find(g, name)].dtype = flags & Q_INT ? ONYX_DTYPE_INT32
                                              : flags & Q_S8Y ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8;
  tm_out(t, name);
}

/* Runs the case on dnnl (exact match) or, where oneDNN is not exact on this
 * CPU, checks that the node falls back naming VNNI. */
static void q_check(const char *label, tmb *t, int flags) {
  bool vnni = dn_int8_exact();
  if (!vnni && (flags & (Q_S8X | Q_FULL))) expect_fallback(label, t, "VNNI");
  else compare(label, t, 0, 0, ONE);
}

/* x [1,8,hw,hw] -> QuantizeLinear -> QLinearConv 3x3 [-> MaxPool 2x2/2 on
 * uint8] -> QLinearConv 3x3 -> DequantizeLinear, int32 biases when `bias`;
 * dnnl must run it all and match cpu exactly. */
static void q_chain_case(const char *label, int hw, bool bias, bool pool) {
  tmb t = tm_new(13);
  tm_in(&t, "x", -2, 2, 4, D(4, 1, 8, hw, hw));
  tm_const_fv(&t, "xs", 1, 0.02f, 0);
  tm_const_q(&t, "xz", ONYX_DTYPE_UINT8, 100, 100, 0, NULL);
  tm_const_q(&t, "w1", ONYX_DTYPE_INT8, -64, 64, 4, D(4, 16, 8, 3, 3));
  tm_const_q(&t, "w2", ONYX_DTYPE_INT8, -64, 64, 4, D(4, 16, 16, 3, 3));
  tm_const_fv(&t, "ws", 16, 0.004f, 0.0002f);
  tm_const_q(&t, "wz", ONYX_DTYPE_INT8, 0, 0, 0, NULL);
  tm_const_fv(&t, "ys", 1, 0.02f * 0.004f * 8.5f * 45.0f, 0);
  tm_const_q(&t, "yz", ONYX_DTYPE_UINT8, 128, 128, 0, NULL);
  if (bias) tm_const_q(&t, "b", ONYX_DTYPE_INT32, -5000, 5000, 1, D(1, 16));
  tm_node(&t, "QuantizeLinear", "x,xs,xz", "q");
  int c1 = tm_node(&t, "QLinearConv", bias ? "q,xs,xz,w1,ws,wz,ys,yz,b" : "q,xs,xz,w1,ws,wz,ys,yz", "h");
  tm_ints(&t, c1, "pads", 4, 1, 1, 1, 1);
  if (pool) {
    int p = tm_node(&t, "MaxPool", "h", "hp");
    tm_ints(&t, p, "kernel_shape", 2, 2, 2);
    tm_ints(&t, p, "strides", 2, 2, 2);
  }
  char in2[64];
  snprintf(in2, sizeof in2, "%s,ys,yz,w2,ws,wz,ys,yz%s", pool ? "hp" : "h", bias ? ",b" : "");
  int c2 = tm_node(&t, "QLinearConv", in2, "h2");
  tm_ints(&t, c2, "pads", 4, 1, 1, 1, 1);
  tm_node(&t, "DequantizeLinear", "h2,ys,yz", "y");
  tm_out(&t, "y");
  compare(label, &t, 0, 0, ONE);
}

static void qconv_case(const char *label, int rank, const int64_t *x, const int64_t *w, int flags,
                       void (*attrs)(tmb *, int)) {
  tmb t = tm_new(13);
  tm_in_q(&t, "x", flags & Q_S8X ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, rank, x);
  q_weights(&t, flags, rank, w, w[0]);
  q_params(&t, flags, onyx_numel(rank - 1, w + 1), w[0]);
  if (flags & Q_BIAS) tm_const_q(&t, "b", ONYX_DTYPE_INT32, -20000, 20000, 1, D(1, (int)w[0]));
  int n = flags & Q_INT ? tm_node(&t, "ConvInteger", "x,w,xz,wz", "y")
                        : tm_node(&t, "QLinearConv", flags & Q_BIAS ? "x,xs,xz,w,ws,wz,ys,yz,b" : "x,xs,xz,w,ws,wz,ys,yz", "y");
  if (attrs) attrs(&t, n);
  q_output(&t, flags, "y");
  q_check(label, &t, flags);
}

static void qmatmul_case(const char *label, int ra, const int64_t *a, int64_t nn, int flags) {
  tmb t = tm_new(13);
  int64_t k = a[ra - 1];
  tm_in_q(&t, "a", flags & Q_S8X ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, ra, a);
  q_weights(&t, flags, 2, D(2, (int)k, (int)nn), nn);
  q_params(&t, flags, k, nn);
  if (flags & Q_INT) tm_node(&t, "MatMulInteger", "a,w,xz,wz", "y");
  else tm_node(&t, "QLinearMatMul", "a,xs,xz,w,ws,wz,ys,yz", "y");
  q_output(&t, flags, "y");
  q_check(label, &t, flags);
}

static void a_q_dw(tmb *t, int n) {
  tm_int(t, n, "group", 8);
  tm_ints(t, n, "pads", 4, 1, 1, 1, 1);
}
static void a_q_g2s2(tmb *t, int n) {
  tm_int(t, n, "group", 2);
  tm_ints(t, n, "strides", 2, 2, 2);
  tm_ints(t, n, "pads", 4, 1, 0, 2, 1);
}
static void a_q_dil(tmb *t, int n) {
  tm_ints(t, n, "dilations", 2, 2, 2);
  tm_ints(t, n, "pads", 4, 2, 2, 2, 2);
}

static void test_int8(void) {
  const int64_t *x4 = D(4, 2, 8, 9, 9), *w4 = D(4, 16, 8, 3, 3);
  qconv_case("qconv", 4, x4, w4, 0, a_pads1);
  qconv_case("qconv x_zero", 4, x4, w4, Q_XZ, a_pads1);
  qconv_case("qconv x/y zero bias", 4, x4, w4, Q_XZ | Q_YZ | Q_BIAS, a_pads1);
  qconv_case("qconv per-channel", 4, x4, w4, Q_PC | Q_XZ | Q_YZ | Q_BIAS, a_pads1);
  qconv_case("qconv u8 weights", 4, x4, w4, Q_U8W | Q_PC | Q_XZ | Q_YZ, a_pads1);
  qconv_case("qconv s8 out", 4, x4, w4, Q_S8Y | Q_YZ | Q_XZ | Q_BIAS, NULL);
  qconv_case("qconv depthwise", 4, x4, D(4, 8, 1, 3, 3), Q_PC | Q_XZ | Q_YZ | Q_BIAS, a_q_dw);
  qconv_case("qconv group 2 strided", 4, x4, D(4, 6, 4, 3, 3), Q_XZ | Q_YZ, a_q_g2s2);
  qconv_case("qconv dilated", 4, x4, w4, Q_XZ | Q_BIAS, a_q_dil);
  qconv_case("qconv 1x1", 4, D(4, 1, 32, 7, 7), D(4, 24, 32, 1, 1), Q_PC | Q_XZ | Q_YZ | Q_BIAS, NULL);
  qconv_case("qconv 1-D", 3, D(3, 2, 8, 20), D(3, 12, 8, 5), Q_XZ | Q_YZ, a_1d);
  qconv_case("qconv full-range weights", 4, x4, w4, Q_FULL | Q_PC | Q_XZ | Q_YZ | Q_BIAS, a_pads1);
  qconv_case("qconv s8 activations", 4, x4, w4, Q_S8X | Q_XZ | Q_YZ, a_pads1);
  qconv_case("ConvInteger", 4, x4, w4, Q_INT, a_pads1);
  qconv_case("ConvInteger x_zero u8 w", 4, x4, w4, Q_INT | Q_XZ | Q_U8W, a_pads1);

  qmatmul_case("qmatmul", 2, D(2, 6, 40), 24, 0);
  qmatmul_case("qmatmul zero points", 2, D(2, 6, 40), 24, Q_XZ | Q_YZ);
  qmatmul_case("qmatmul per-column batched", 4, D(4, 2, 3, 5, 40), 24, Q_PC | Q_XZ | Q_YZ);
  qmatmul_case("qmatmul u8 weights s8 out", 3, D(3, 2, 7, 33), 17, Q_U8W | Q_PC | Q_XZ | Q_YZ | Q_S8Y);
  qmatmul_case("qmatmul full range", 2, D(2, 6, 300), 24, Q_FULL | Q_XZ | Q_YZ);
  qmatmul_case("qmatmul s8 activations", 2, D(2, 6, 40), 24, Q_S8X | Q_XZ | Q_YZ);
  qmatmul_case("MatMulInteger", 2, D(2, 9, 40), 24, Q_INT);
  qmatmul_case("MatMulInteger zero points", 3, D(3, 2, 9, 40), 24, Q_INT | Q_XZ | Q_U8W);

  for (int k = 0; k < 4; k++) {   /* u8 / s8, with and without a zero point */
    bool s8 = k & 1, zp = k & 2;
    char label[64];
    snprintf(label, sizeof label, "QuantizeLinear %s%s", s8 ? "s8" : "u8", zp ? " zero point" : "");
    tmb t = tm_new(13);
    tm_in(&t, "x", -4, 4, 4, D(4, 2, 3, 8, 8));
    tm_const_fv(&t, "s", 1, 0.025f, 0);
    tm_const_q(&t, "z", s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, zp ? (s8 ? -9 : 140) : 0, zp ? (s8 ? -9 : 140) : 0, 0, NULL);
    tm_node(&t, "QuantizeLinear", "x,s,z", "y");
    t.m->graph->values[onyx_graph_find(t.m->graph, "y")].dtype = s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8;
    tm_out(&t, "y");
    compare(label, &t, 0, 0, ONE);
    snprintf(label, sizeof label, "DequantizeLinear %s%s", s8 ? "s8" : "u8", zp ? " zero point" : "");
    t = tm_new(13);
    tm_in_q(&t, "x", s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, 3, D(3, 3, 7, 11));
    tm_const_fv(&t, "s", 1, 0.0371f, 0);
    tm_const_q(&t, "z", s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, zp ? (s8 ? 5 : 121) : 0, zp ? (s8 ? 5 : 121) : 0, 0, NULL);
    tm_node(&t, "DequantizeLinear", "x,s,z", "y");
    tm_out(&t, "y");
    compare(label, &t, 0, 0, ONE);
  }

  /* a QOperator chain: one partition, int8 layouts between the convs */
  q_chain_case("quantize-qconv-qconv-dequantize", 10, true, false);
  for (int s8 = 0; s8 < 2; s8++) {   /* MaxPool on 8-bit data: bytes, exact */
    tmb t = tm_new(13);
    tm_in_q(&t, "x", s8 ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8, 4, D(4, 1, 8, 13, 11));
    int n = tm_node(&t, "MaxPool", "x", "y");
    tm_ints(&t, n, "kernel_shape", 2, 3, 3);
    tm_ints(&t, n, "strides", 2, 2, 2);
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    q_output(&t, s8 ? Q_S8Y : 0, "y");
    compare(s8 ? "maxpool int8" : "maxpool uint8", &t, 0, 0, ONE);
  }
  /* ResNet's stem quantized: the 8-bit MaxPool keeps the chain one partition */
  q_chain_case("quantize-qconv-maxpool-qconv-dequantize", 12, false, true);

  /* refusals */
  {   /* uint8 weights whose zero point does not fold into int8 */
    tmb t = tm_new(13);
    tm_in_q(&t, "x", ONYX_DTYPE_UINT8, 4, x4);
    tm_const_q(&t, "w", ONYX_DTYPE_UINT8, 150, 250, 4, w4);
    tm_const_q(&t, "wz", ONYX_DTYPE_UINT8, 0, 0, 0, NULL);
    tm_const_q(&t, "xz", ONYX_DTYPE_UINT8, 0, 0, 0, NULL);
    tm_node(&t, "ConvInteger", "x,w,xz,wz", "y");
    q_output(&t, Q_INT, "y");
    expect_fallback("qconv u8 weights zero point 0", &t, "does not fit int8");
  }
  {   /* weights computed at run time */
    tmb t = tm_new(13);
    tm_in_q(&t, "a", ONYX_DTYPE_UINT8, 2, D(2, 4, 8));
    tm_in_q(&t, "w", ONYX_DTYPE_INT8, 2, D(2, 8, 5));
    tm_node(&t, "MatMulInteger", "a,w", "y");
    q_output(&t, Q_INT, "y");
    expect_fallback("MatMulInteger run-time B", &t, "not a constant");
  }
  {   /* a scale per row of A */
    tmb t = tm_new(13);
    tm_in_q(&t, "a", ONYX_DTYPE_UINT8, 2, D(2, 6, 40));
    q_weights(&t, 0, 2, D(2, 40, 24), 24);
    q_params(&t, 0, 40, 24);
    tm_const_fv(&t, "xs6", 6, 0.02f, 0.001f);
    tm_node(&t, "QLinearMatMul", "a,xs6,xz,w,ws,wz,ys,yz", "y");
    q_output(&t, 0, "y");
    expect_fallback("qmatmul per-row a scale", &t, "has 6 values");
  }
}

static void test_options(void) {
  CHECK(strstr(onyx_available_providers(), "dnnl") != NULL);
  tmb t = tm_new(13);
  tm_in(&t, "x", -1, 1, 1, D(1, 4));
  tm_node(&t, "Relu", "x", "y");
  tm_out(&t, "y");
  void *buf;
  size_t len;
  if (!tm_save(&t, &buf, &len)) return;
  onyx_options *o;
  onyx_options_create(&o);
  onyx_session *s = NULL;
  /* the default list puts dnnl first */
  CHECK_OK(onyx_session_create_from_buffer(buf, len, o, &s));
  onyx_node_info ni;
  if (s) {
    CHECK_OK(onyx_session_node_info(s, 0, &ni));
    CHECK(!strcmp(ni.provider, "dnnl"));
  }
  onyx_session_destroy(s);
  CHECK_OK(onyx_options_set_provider_option(o, "dnnl", "colour", "blue"));
  CHECK_ERR(onyx_session_create_from_buffer(buf, len, o, &s), ONYX_ERR_INVALID_ARGUMENT);
  onyx_options_destroy(o);
  onyx_options_create(&o);
  CHECK_OK(onyx_options_set_provider_option(o, "dnnl", "precision", "fp64"));
  CHECK_ERR(onyx_session_create_from_buffer(buf, len, o, &s), ONYX_ERR_INVALID_ARGUMENT);
  onyx_options_destroy(o);
  onyx_options_create(&o);
  CHECK_OK(onyx_options_set_provider_option(o, "dnnl", "conv_algorithm", "fft"));
  CHECK_ERR(onyx_session_create_from_buffer(buf, len, o, &s), ONYX_ERR_INVALID_ARGUMENT);
  onyx_options_destroy(o);
  onyx_buffer_free(buf);
}

static void test_bf16(void) {
  {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 16, 12, 12));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 32, 16, 3, 3));
    tm_const(&t, "b", -0.1f, 0.1f, 1, D(1, 32));
    int n = tm_node(&t, "Conv", "x,w,b", "c");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_node(&t, "Relu", "c", "y");
    tm_out(&t, "y");
    compare("bf16 conv+relu", &t, 1e-2, 0, (cmp_opts){NULL, 1, true, 0, false, NULL});
  }
  {
    tmb t = tm_new(13);
    tm_in(&t, "a", -1, 1, 3, D(3, 2, 16, 64));
    tm_const(&t, "w", -0.3f, 0.3f, 2, D(2, 64, 48));
    tm_node(&t, "MatMul", "a,w", "y");
    tm_out(&t, "y");
    compare("bf16 matmul", &t, 1e-2, 0, (cmp_opts){NULL, 1, true, 0, false, NULL});
  }
}

/* Symbolic batch and spatial dims: programs built per input shape. */
static void test_dynamic(void) {
  tmb t = tm_new(13);
  int64_t sn, sh, sw;
  onyx_model_symbol(t.m, "N", &sn);
  onyx_model_symbol(t.m, "H", &sh);
  onyx_model_symbol(t.m, "W", &sw);
  tm_in(&t, "x", -1, 1, 4, D(4, 1, 4, 8, 8));
  onyx_value *xv = &t.m->graph->values[t.m->graph->inputs[0]];
  xv->dims[0] = sn;
  xv->dims[2] = sh;
  xv->dims[3] = sw;
  tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 6, 4, 3, 3));
  tm_const(&t, "b", -0.1f, 0.1f, 1, D(1, 6));
  int n = tm_node(&t, "Conv", "x,w,b", "c");
  tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
  tm_node(&t, "Relu", "c", "r");
  n = tm_node(&t, "MaxPool", "r", "p");
  tm_ints(&t, n, "kernel_shape", 2, 2, 2);
  tm_ints(&t, n, "strides", 2, 2, 2);
  tm_node(&t, "GlobalAveragePool", "p", "y");
  tm_out(&t, "y");
  void *buf;
  size_t len;
  if (!tm_save(&t, &buf, &len)) return;
  onyx_session *sd = session_from(buf, len, "dnnl,cpu", false, 1, false, NULL), *sc = session_from(buf, len, "cpu", false, 1, false, NULL);
  onyx_buffer_free(buf);
  if (!sd || !sc) return;
  check_placement(sd, "dynamic conv chain", NULL);
  static const int64_t shapes[3][4] = {{1, 4, 8, 8}, {3, 4, 10, 6}, {1, 4, 8, 8}};
  for (int k = 0; k < 3; k++) {
    onyx_tensor *x = tu_f32(4, shapes[k], NULL), *yd = NULL, *yc = NULL;
    tu_fill_random(onyx_tensor_data(x), (size_t)onyx_tensor_numel(x), 11u + (unsigned)k);
    const char *nm = "x";
    CHECK_OK(onyx_session_run(sd, 1, &nm, &x, 1, NULL, &yd));
    CHECK_OK(onyx_session_run(sc, 1, &nm, &x, 1, NULL, &yc));
    if (yd && yc) {
      CHECK(onyx_tensor_numel(yd) == shapes[k][0] * 6 && onyx_tensor_numel(yc) == onyx_tensor_numel(yd));
      const float *a = onyx_tensor_data(yd), *c = onyx_tensor_data(yc);
      int bad = 0;
      for (int64_t i = 0; i < onyx_tensor_numel(yc); i++) bad += !(fabsf(a[i] - c[i]) <= 1e-5f + 1e-4f * fabsf(c[i]));
      CHECK(bad == 0);
    }
    onyx_tensor_free(x);
    onyx_tensor_free(yd);
    onyx_tensor_free(yc);
  }
  onyx_session_destroy(sd);
  onyx_session_destroy(sc);
}

typedef struct run_arg {
  onyx_session *s;
  onyx_tensor *x;
  const float *want;
  int64_t n;
  int bad;
} run_arg;

static void *run_many(void *p) {
  run_arg *a = p;
  const char *nm = "x";
  for (int i = 0; i < 8; i++) {
    onyx_tensor *y = NULL;
    onyx_status *s = onyx_session_run(a->s, 1, &nm, &a->x, 1, NULL, &y);
    if (s || memcmp(onyx_tensor_data(y), a->want, (size_t)a->n * sizeof(float))) a->bad++;
    onyx_status_free(s);
    onyx_tensor_free(y);
  }
  return NULL;
}

/* Concurrent runs on one session, and sessions with 1 and 2 threads, agree. */
static void test_concurrency(void) {
  onyx_tensor *ref = NULL;
  for (int threads = 1; threads <= 2; threads++) {
    tmb t = tm_new(13);
    tm_in(&t, "x", -1, 1, 4, D(4, 1, 8, 16, 16));
    tm_const(&t, "w", -0.3f, 0.3f, 4, D(4, 16, 8, 3, 3));
    int n = tm_node(&t, "Conv", "x,w", "c");
    tm_ints(&t, n, "pads", 4, 1, 1, 1, 1);
    tm_node(&t, "Relu", "c", "y");
    tm_out(&t, "y");
    if (tm_skip(&t)) return;
    onyx_options *o;
    onyx_options_create(&o);
    onyx_options_set_intra_op_threads(o, threads);
    onyx_options_set_providers(o, "dnnl,cpu");
    onyx_session *s = NULL;
    CHECK_OK(onyx_session_create_from_model(t.m, o, &s));
    onyx_options_destroy(o);
    if (!s) return;
    onyx_tensor *x = tu_f32(4, D(4, 1, 8, 16, 16), NULL);
    tu_fill_random(onyx_tensor_data(x), (size_t)onyx_tensor_numel(x), 5);
    const char *nm = "x";
    onyx_tensor *y = NULL;
    CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
    if (!ref) {
      ref = y;
    } else {
      const float *a = onyx_tensor_data(y), *b = onyx_tensor_data(ref);
      int bad = 0;
      for (int64_t i = 0; i < onyx_tensor_numel(y); i++) bad += !(fabsf(a[i] - b[i]) <= 1e-5f + 1e-4f * fabsf(b[i]));
      CHECK(bad == 0);
      onyx_tensor_free(y);
    }
    /* four threads at once on this session reproduce its output exactly */
    onyx_tensor *mine = NULL;
    CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &mine));
    run_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4 && mine; i++) {
      args[i] = (run_arg){s, x, onyx_tensor_data(mine), onyx_tensor_numel(mine), 0};
      pthread_create(&th[i], NULL, run_many, &args[i]);
    }
    for (int i = 0; i < 4 && mine; i++) {
      pthread_join(th[i], NULL);
      CHECK(args[i].bad == 0);
    }
    onyx_tensor_free(mine);
    onyx_tensor_free(x);
    onyx_session_destroy(s);
  }
  onyx_tensor_free(ref);
}

int main(void) {
  test_conv();
  test_deconv();
  test_matmul();
  test_pool();
  test_norms();
  test_eltwise();
  test_binary();
  test_concat_reduce();
  test_fusion();
  test_levels();
  test_in_place_sum();
  test_broadcast_onto_unknown();
  test_gelu_pattern();
  test_refusals();
  test_int8();
  test_dynamic();
  test_options();
  test_fused_ops();
  test_bf16();
  test_winograd();
  test_concurrency();
  if (n_skipped) printf("test_dnnl: %d cases skipped (ops not in the op table yet)\n", n_skipped);
  return tu_done("test_dnnl");
}
#endif
