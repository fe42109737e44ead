/* test_cuda.c — the cuda provider on an NVIDIA GPU, checked against the cpu
 * provider: every kernel on random data (float32 with TF32 off at 1e-5,
 * float16 at 1e-2, TF32 MatMul at 1e-2; Conv at 1e-4 with TF32 off),
 * placement on cuda (and on cpu for what cuda declines), copies, I/O
 * binding without copies, concurrent runs on one session, device profiling,
 * and the failures: an invalid device_id, device memory exhausted during a
 * run, a model over gpu_mem_limit, a lost device while 4 threads run,
 * set_providers switching cuda <-> cpu on a live session. Without a usable
 * GPU (CI) it reports skipped with the reason (exit 77). */
#include <math.h>
#include <pthread.h>

#include "exec/session_internal.h"
#include "test_util.h"

#define D(...) (int64_t[]){__VA_ARGS__}
#define F ONYX_DTYPE_FLOAT
#define H ONYX_DTYPE_FLOAT16
#define I64 ONYX_DTYPE_INT64

static unsigned seed = 1;

/* Random contents for a fed input: floats in [-2, 2) (positive for ops
 * that want it), integers in [0, 3). */
static onyx_tensor *random_input(const onyx_value *v, bool positive) {
  onyx_tensor *t;
  onyx_tensor_create(v->dtype, v->rank, v->dims, &t);
  int64_t n = onyx_tensor_numel(t);
  float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
  tu_fill_random(f, (size_t)n, seed++);
  for (int64_t i = 0; i < n; i++) {
    double x = positive ? fabs(2 * f[i]) + 0.1 : 2 * f[i];
    if (v->dtype == I64 || v->dtype == ONYX_DTYPE_INT32) x = floor(fabs(f[i]) * 3);
    if (v->dtype == ONYX_DTYPE_BOOL) x = f[i] > 0;
    onyx_tensor_set_f64(t, i, x);
  }
  free(f);
  return t;
}

/* A session on providers with cuda options `opts` ("key=value,..." or NULL). */
static onyx_session *session_of(const void *buf, size_t len, const char *providers, const char *opts,
                                onyx_status **err) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 1);
  onyx_options_set_optimization_level(o, 0);
  onyx_options_enable_profiling(o, 1);
  onyx_options_set_providers(o, providers);
  char list[256];
  snprintf(list, sizeof list, "%s", opts ? opts : "");
  for (char *save = NULL, *kv = strtok_r(list, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) continue;
    *eq = 0;
    onyx_options_set_provider_option(o, "cuda", kv, eq + 1);
  }
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_buffer(buf, len, o, &s);
  onyx_options_destroy(o);
  if (err) *err = st;
  else if (st) {
    fprintf(stderr, "session: %s\n", onyx_status_message(st));
    onyx_status_free(st);
    CHECK(0);
  }
  return s;
}

static int on_cuda(onyx_session *s) {
  int k = 0;
  for (int i = 0; i < onyx_session_node_count(s); i++) {
    onyx_node_info ni;
    if (!onyx_session_node_info(s, i, &ni) && !strcmp(ni.provider, "cuda")) k++;
  }
  return k;
}

/* Largest |a - b| / (1 + |b|) over the elements. */
static double max_err(const onyx_tensor *a, const onyx_tensor *b) {
  if (!a || !b || onyx_tensor_numel(a) != onyx_tensor_numel(b) || onyx_tensor_dtype(a) != onyx_tensor_dtype(b))
    return INFINITY;
  double e = 0;
  for (int64_t i = 0; i < onyx_tensor_numel(a); i++) {
    double x = onyx_tensor_get_f64(a, i), y = onyx_tensor_get_f64(b, i);
    double d = (x != x && y != y) ? 0 : fabs(x - y) / (1 + fabs(y));
    if (!(d <= e)) e = d;
  }
  return e;
}

/* Runs t's model on cpu and on cuda,cpu (TF32 off unless tf32) with the
 * same random inputs; checks every output within tol and that `placed`
 * nodes ran on cuda. Consumes t. `positive`: inputs > 0 (Log, Sqrt, Pow).
 * `fixed` (may be NULL) replaces input i's data when non-NULL. */
static void compare(const char *what, tu_node *t, double tol, int placed, bool positive, bool tf32,
                    onyx_tensor *const *fixed) {
  void *buf;
  size_t len;
  onyx_graph *g = t->m->graph;
  int ni = g->n_inputs, no = g->n_outputs;
  onyx_tensor *in[8] = {0}, *ref[8] = {0}, *got[8] = {0};
  const char *names[8];
  for (int i = 0; i < ni; i++) in[i] = fixed && fixed[i] ? fixed[i] : random_input(&g->values[g->inputs[i]], positive);
  CHECK_OK(onyx_model_save_to_buffer(t->m, &buf, &len));
  onyx_model_destroy(t->m);
  t->m = NULL;
  onyx_session *cpu = session_of(buf, len, "cpu", NULL, NULL);
  onyx_session *gpu = session_of(buf, len, "cuda,cpu", tf32 ? "use_tf32=1" : "use_tf32=0", NULL);
  for (int i = 0; cpu && i < ni; i++) {   /* names borrowed from the session (the model is gone) */
    onyx_value_info vi;
    CHECK_OK(onyx_session_input_info(cpu, i, &vi));
    names[i] = vi.name;
  }
  if (cpu && gpu) {
    int k = on_cuda(gpu);
    if (k != placed) fprintf(stderr, "%s: %d nodes on cuda, expected %d\n", what, k, placed);
    CHECK(k == placed);
    CHECK_OK(onyx_session_run(cpu, ni, names, in, no, NULL, ref));
    onyx_status *st = onyx_session_run(gpu, ni, names, in, no, NULL, got);
    if (st) fprintf(stderr, "%s: %s\n", what, onyx_status_message(st));
    CHECK(!st);
    onyx_status_free(st);
    for (int o = 0; o < no && !st; o++) {
      double e = max_err(got[o], ref[o]);
      if (!(e <= tol)) fprintf(stderr, "%s: output %d differs from cpu by %g (tolerance %g)\n", what, o, e, tol);
      CHECK(e <= tol);
      CHECK(got[o] && !strcmp(onyx_tensor_device(got[o]), "cpu"));
    }
  }
  for (int i = 0; i < ni; i++)
    if (!fixed || !fixed[i]) onyx_tensor_free(in[i]);
  for (int o = 0; o < no; o++) {
    onyx_tensor_free(ref[o]);
    onyx_tensor_free(got[o]);
  }
  onyx_session_destroy(cpu);
  onyx_session_destroy(gpu);
  onyx_buffer_free(buf);
}

static tu_node unary(const char *op, int opset, onyx_dtype dt, int rank, const int64_t *dims) {
  tu_node t = tu_node_new(op, opset, 1, 1);
  tu_input(&t, 0, dt, rank, dims);
  return t;
}

static tu_node binary(const char *op, onyx_dtype dt, int ra, const int64_t *a, int rb, const int64_t *b) {
  tu_node t = tu_node_new(op, 13, 2, 1);
  tu_input(&t, 0, dt, ra, a);
  tu_input(&t, 1, dt, rb, b);
  return t;
}

static void test_elementwise(void) {
  const char *bins[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
  for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
    tu_node t = binary(bins[i], F, 3, D(2, 3, 4), 1, D(4));
    compare(bins[i], &t, 1e-6, 1, false, false, NULL);
    t = binary(bins[i], F, 2, D(64, 16), 2, D(64, 16));   /* the 16-byte path */
    compare(bins[i], &t, 1e-6, 1, false, false, NULL);
    t = binary(bins[i], H, 3, D(2, 1, 4), 2, D(3, 1));
    compare(bins[i], &t, 1e-2, 1, false, false, NULL);
  }
  tu_node t = binary("Pow", F, 2, D(3, 5), 1, D(5));
  compare("Pow", &t, 1e-5, 1, true, false, NULL);
  t = binary("PRelu", F, 3, D(2, 3, 4), 2, D(3, 1));
  compare("PRelu", &t, 1e-6, 1, false, false, NULL);
  const char *cmps[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
  for (size_t i = 0; i < sizeof cmps / sizeof cmps[0]; i++) {
    t = binary(cmps[i], F, 2, D(4, 5), 1, D(5));
    compare(cmps[i], &t, 0, 1, false, false, NULL);
  }
  const char *uns[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Erf", "HardSigmoid", "HardSwish",
                       "Softplus", "Softsign", "Elu", "Selu", "Celu", "Mish", "Reciprocal", "Floor", "Ceil",
                       "Round", "Sin", "Cos", "Sign", "Identity"};
  for (size_t i = 0; i < sizeof uns / sizeof uns[0]; i++) {
    t = unary(uns[i], 13, F, 2, D(3, 17));
    compare(uns[i], &t, 1e-5, 1, false, false, NULL);
    t = unary(uns[i], 13, F, 2, D(8, 32));
    compare(uns[i], &t, 1e-5, 1, false, false, NULL);
  }
  t = unary("Log", 13, F, 2, D(3, 17));
  compare("Log", &t, 1e-5, 1, true, false, NULL);
  t = unary("Sqrt", 13, H, 2, D(3, 17));
  compare("Sqrt f16", &t, 1e-2, 1, true, false, NULL);
  t = unary("LeakyRelu", 13, F, 2, D(3, 17));
  tu_attr_float(&t, "alpha", 0.3f);
  compare("LeakyRelu", &t, 1e-6, 1, false, false, NULL);
  t = unary("Gelu", 20, F, 2, D(3, 17));
  compare("Gelu", &t, 1e-5, 1, false, false, NULL);
  t = unary("Gelu", 20, F, 2, D(3, 17));
  tu_attr_string(&t, "approximate", "tanh");
  compare("Gelu tanh", &t, 1e-5, 1, false, false, NULL);
  /* Clip: bounds from host-placed inputs */
  t = tu_node_new("Clip", 13, 3, 1);
  tu_input(&t, 0, F, 2, D(4, 9));
  tu_const(&t, 1, F, 0, D(1), (float[]){-0.5f});
  tu_const(&t, 2, F, 0, D(1), (float[]){0.7f});
  compare("Clip", &t, 0, 1, false, false, NULL);
  /* Where and Cast */
  t = tu_node_new("Where", 16, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_BOOL, 2, D(3, 1));
  tu_input(&t, 1, F, 2, D(3, 4));
  tu_input(&t, 2, F, 1, D(4));
  compare("Where", &t, 0, 1, false, false, NULL);
  onyx_dtype casts[][2] = {{F, H}, {H, F}, {F, I64}, {I64, F}, {F, ONYX_DTYPE_BOOL}, {ONYX_DTYPE_INT32, ONYX_DTYPE_DOUBLE}};
  for (size_t i = 0; i < sizeof casts / sizeof casts[0]; i++) {
    t = unary("Cast", 13, casts[i][0], 2, D(5, 7));
    tu_attr_int(&t, "to", casts[i][1]);
    compare("Cast", &t, 0, 1, false, false, NULL);
  }
}

static void test_rows(void) {
  int64_t axes_m1[] = {-1};
  struct { const char *op; int opset; int64_t axis; int rank; int64_t dims[3]; } sm[] = {
      {"Softmax", 13, -1, 2, {4, 33}}, {"Softmax", 13, 1, 3, {2, 5, 7}}, {"LogSoftmax", 13, -1, 2, {3, 300}},
      {"Softmax", 11, 1, 3, {2, 3, 4}}, {"LogSoftmax", 11, 1, 3, {2, 3, 4}}};
  for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) {
    tu_node t = unary(sm[i].op, sm[i].opset, F, sm[i].rank, sm[i].dims);
    tu_attr_int(&t, "axis", sm[i].axis);
    compare(sm[i].op, &t, 1e-5, 1, false, false, NULL);
  }
  tu_node t = unary("Softmax", 13, H, 2, D(4, 100));
  compare("Softmax f16", &t, 1e-2, 1, false, false, NULL);
  float scale[64], bias[64];
  for (int i = 0; i < 64; i++) scale[i] = 0.5f + (float)i / 64, bias[i] = (float)(i % 7) - 3;
  t = tu_node_new("LayerNormalization", 17, 3, 1);
  tu_input(&t, 0, F, 3, D(2, 4, 64));
  tu_const(&t, 1, F, 1, D(64), scale);
  tu_const(&t, 2, F, 1, D(64), bias);
  compare("LayerNormalization", &t, 1e-4, 1, false, false, NULL);
  /* reductions over contiguous axes, keepdims and not */
  t = unary("ReduceMean", 13, F, 3, D(2, 5, 3));
  tu_attr_ints(&t, "axes", 1, D(1));
  compare("ReduceMean", &t, 1e-5, 1, false, false, NULL);
  t = unary("ReduceMax", 13, F, 3, D(2, 5, 300));
  tu_attr_ints(&t, "axes", 1, D(2));
  tu_attr_int(&t, "keepdims", 0);
  compare("ReduceMax rows", &t, 0, 1, false, false, NULL);
  t = tu_node_new("ReduceSum", 13, 2, 1);
  tu_input(&t, 0, F, 3, D(4, 3, 2));
  tu_const(&t, 1, I64, 1, D(1), axes_m1);
  compare("ReduceSum", &t, 1e-5, 1, false, false, NULL);
  t = unary("ReduceLogSumExp", 13, F, 2, D(6, 70));
  compare("ReduceLogSumExp all", &t, 1e-5, 1, false, false, NULL);
}

static void test_movement(void) {
  tu_node t = tu_node_new("Reshape", 14, 2, 1);
  tu_input(&t, 0, F, 3, D(2, 3, 4));
  tu_const(&t, 1, I64, 1, D(2), D(4, -1));
  compare("Reshape", &t, 0, 1, false, false, NULL);
  t = unary("Flatten", 13, F, 4, D(2, 3, 4, 5));
  tu_attr_int(&t, "axis", 2);
  compare("Flatten", &t, 0, 1, false, false, NULL);
  t = unary("Transpose", 13, F, 4, D(2, 3, 4, 5));
  tu_attr_ints(&t, "perm", 4, D(0, 2, 1, 3));
  compare("Transpose", &t, 0, 1, false, false, NULL);
  t = unary("Transpose", 13, I64, 3, D(3, 4, 5));
  compare("Transpose int64", &t, 0, 1, false, false, NULL);
  t = tu_node_new("Concat", 13, 3, 1);
  tu_input(&t, 0, F, 3, D(2, 1, 4));
  tu_input(&t, 1, F, 3, D(2, 3, 4));
  tu_input(&t, 2, F, 3, D(2, 2, 4));
  tu_attr_int(&t, "axis", 1);
  compare("Concat", &t, 0, 1, false, false, NULL);
  for (int axis = 0; axis < 2; axis++) {
    t = tu_node_new("Gather", 13, 2, 1);
    tu_input(&t, 0, F, 3, D(5, 6, 3));
    tu_const(&t, 1, I64, 2, D(2, 2), D(0, 4, -1, 2));
    tu_attr_int(&t, "axis", axis);
    compare("Gather", &t, 0, 1, false, false, NULL);
  }
  t = tu_node_new("Slice", 13, 5, 1);
  tu_input(&t, 0, F, 3, D(6, 7, 8));
  tu_const(&t, 1, I64, 1, D(2), D(-1, 1));
  tu_const(&t, 2, I64, 1, D(2), D(-100, 7));
  tu_const(&t, 3, I64, 1, D(2), D(0, 2));
  tu_const(&t, 4, I64, 1, D(2), D(-2, 3));
  compare("Slice", &t, 0, 1, false, false, NULL);
  t = tu_node_new("Expand", 13, 2, 1);
  tu_input(&t, 0, F, 2, D(3, 1));
  tu_const(&t, 1, I64, 1, D(3), D(2, 3, 5));
  compare("Expand", &t, 0, 1, false, false, NULL);
}

static void test_gemm(void) {
  struct { int ra; int64_t a[4]; int rb; int64_t b[4]; } mm[] = {
      {4, {2, 3, 8, 16}, 2, {16, 5}}, {2, {8, 16}, 3, {4, 16, 6}}, {3, {4, 7, 9}, 3, {4, 9, 3}},
      {1, {16}, 2, {16, 5}}, {2, {5, 16}, 1, {16}}, {2, {33, 70}, 2, {70, 129}}};
  for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
    tu_node t = binary("MatMul", F, mm[i].ra, mm[i].a, mm[i].rb, mm[i].b);
    compare("MatMul", &t, 1e-5, 1, false, false, NULL);
  }
  tu_node t = binary("MatMul", F, 2, D(64, 256), 2, D(256, 64));
  compare("MatMul tf32", &t, 1e-2, 1, false, true, NULL);
  t = binary("MatMul", H, 3, D(2, 32, 64), 2, D(64, 48));
  compare("MatMul f16", &t, 2e-2, 1, false, false, NULL);
  struct { int ta, tb; float alpha, beta; int rc; int64_t c[2]; } gm[] = {
      {0, 0, 1, 1, 1, {24}}, {1, 0, 2, 1, 1, {24}}, {0, 1, 1, 0.5f, 2, {16, 24}}, {1, 1, 1, 1, 2, {16, 1}},
      {0, 0, 1, 1, 0, {0}}};
  for (size_t i = 0; i < sizeof gm / sizeof gm[0]; i++) {
    t = tu_node_new("Gemm", 13, gm[i].rc ? 3 : 2, 1);
    tu_input(&t, 0, F, 2, gm[i].ta ? D(32, 16) : D(16, 32));
    tu_input(&t, 1, F, 2, gm[i].tb ? D(24, 32) : D(32, 24));
    if (gm[i].rc) tu_input(&t, 2, F, gm[i].rc, gm[i].c);
    tu_attr_int(&t, "transA", gm[i].ta);
    tu_attr_int(&t, "transB", gm[i].tb);
    tu_attr_float(&t, "alpha", gm[i].alpha);
    tu_attr_float(&t, "beta", gm[i].beta);
    compare("Gemm", &t, 1e-5, 1, false, false, NULL);
  }
}

static void test_conv(void) {
  struct { int64_t x[5]; int64_t w[5]; int rank, group; int64_t stride, pad, dil; bool bias; } cv[] = {
      {{2, 3, 12, 12}, {8, 3, 3, 3}, 4, 1, 1, 1, 1, true}, {{1, 8, 9, 9}, {8, 1, 3, 3}, 4, 8, 2, 1, 1, false},
      {{1, 4, 10, 10}, {6, 4, 1, 1}, 4, 1, 1, 0, 1, true}, {{1, 4, 11, 11}, {4, 2, 3, 3}, 4, 2, 1, 2, 2, true},
      {{2, 3, 20}, {5, 3, 5}, 3, 1, 2, 2, 1, true}, {{1, 2, 6, 6, 6}, {3, 2, 3, 3, 3}, 5, 1, 1, 1, 1, false}};
  for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++) {
    int nsp = cv[i].rank - 2;
    tu_node t = tu_node_new("Conv", 13, cv[i].bias ? 3 : 2, 1);
    tu_input(&t, 0, F, cv[i].rank, cv[i].x);
    int64_t nw = onyx_numel(cv[i].rank, cv[i].w);
    float *w = malloc((size_t)nw * sizeof *w), b[8];
    tu_fill_random(w, (size_t)nw, seed++);
    tu_fill_random(b, 8, seed++);
    tu_const(&t, 1, F, cv[i].rank, cv[i].w, w);
    if (cv[i].bias) tu_const(&t, 2, F, 1, D(cv[i].w[0]), b);
    free(w);
    int64_t st[3] = {cv[i].stride, cv[i].stride, cv[i].stride}, pd[6], dl[3] = {cv[i].dil, cv[i].dil, cv[i].dil};
    for (int k = 0; k < 2 * nsp; k++) pd[k] = cv[i].pad;
    tu_attr_ints(&t, "strides", nsp, st);
    tu_attr_ints(&t, "pads", 2 * nsp, pd);
    tu_attr_ints(&t, "dilations", nsp, dl);
    tu_attr_int(&t, "group", cv[i].group);
    compare("Conv", &t, 1e-4, 1, false, false, NULL);
  }
  /* asymmetric pads: declined, runs on cpu */
  tu_node t = tu_node_new("Conv", 13, 2, 1);
  tu_input(&t, 0, F, 4, D(1, 2, 6, 6));
  float w[2 * 2 * 9];
  tu_fill_random(w, 36, seed++);
  tu_const(&t, 1, F, 4, D(2, 2, 3, 3), w);
  tu_attr_ints(&t, "pads", 4, D(0, 1, 1, 0));
  compare("Conv asymmetric", &t, 1e-5, 0, false, false, NULL);
  for (int avg = 0; avg < 2; avg++)
    for (int inc = 0; inc < 2; inc++) {
      t = unary(avg ? "AveragePool" : "MaxPool", 13, F, 4, D(2, 3, 9, 9));
      tu_attr_ints(&t, "kernel_shape", 2, D(3, 3));
      tu_attr_ints(&t, "strides", 2, D(2, 2));
      tu_attr_ints(&t, "pads", 4, D(1, 1, 1, 1));
      if (avg) tu_attr_int(&t, "count_include_pad", inc);
      compare(avg ? "AveragePool" : "MaxPool", &t, 1e-5, 1, false, false, NULL);
    }
  t = unary("GlobalAveragePool", 13, F, 4, D(2, 64, 7, 7));
  compare("GlobalAveragePool", &t, 1e-5, 1, false, false, NULL);
  t = unary("GlobalMaxPool", 13, F, 4, D(2, 3, 100, 3));
  compare("GlobalMaxPool", &t, 0, 1, false, false, NULL);
  float bn[4][5] = {{1, 2, 0.5f, -1, 3}, {0, 1, -1, 2, 0.5f}, {0.1f, -0.2f, 0.3f, 0, 1}, {1, 2, 3, 0.5f, 0.25f}};
  t = tu_node_new("BatchNormalization", 15, 5, 1);
  tu_input(&t, 0, F, 4, D(2, 5, 3, 3));
  for (int k = 0; k < 4; k++) tu_const(&t, 1 + k, F, 1, D(5), bn[k]);
  compare("BatchNormalization", &t, 1e-5, 1, false, false, NULL);
}

/* ---- sessions on the device ------------------------------------------------------ */

/* y = Relu(MatMul(x[64,128], w[128,256]) + b): 128 KiB of weights. */
static onyx_model *mlp(void) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  int x, w, b, mm, a, y;
  onyx_graph_value(g, "x", &x);
  onyx_graph_value(g, "w", &w);
  onyx_graph_value(g, "b", &b);
  onyx_graph_value(g, "mm", &mm);
  onyx_graph_value(g, "a", &a);
  onyx_graph_value(g, "y", &y);
  g->values[x].dtype = F;
  g->values[x].rank = 2;
  g->values[x].dims[0] = 64;
  g->values[x].dims[1] = 128;
  float *wd = malloc(128 * 256 * sizeof *wd), bd[256];
  tu_fill_random(wd, 128 * 256, 3);
  tu_fill_random(bd, 256, 4);
  g->values[w].init = tu_f32(2, D(128, 256), wd);
  g->values[b].init = tu_f32(1, D(256), bd);
  free(wd);
  for (int k = 0; k < 2; k++) {   /* initializers carry their type, as loaded ones do */
    onyx_value *v = &g->values[k ? b : w];
    v->dtype = F;
    v->rank = v->init->rank;
    memcpy(v->dims, v->init->dims, (size_t)v->rank * sizeof v->dims[0]);
  }
  onyx_graph_set_inputs(g, 1, &x);
  onyx_graph_add_node(g, "mm", "MatMul", "", 2, (int[]){x, w}, 1, &mm, NULL);
  onyx_graph_add_node(g, "add", "Add", "", 2, (int[]){mm, b}, 1, &a, NULL);
  onyx_graph_add_node(g, "relu", "Relu", "", 1, &a, 1, &y, NULL);
  onyx_graph_set_outputs(g, 1, &y);
  return m;
}

static void model_buffer(onyx_model *m, void **buf, size_t *len) {
  CHECK_OK(onyx_model_save_to_buffer(m, buf, len));
  onyx_model_destroy(m);
}

static onyx_tensor *run_x(onyx_session *s, onyx_tensor *x, int *code) {
  const char *nm = "x";
  onyx_tensor *y = NULL;
  onyx_status *st = onyx_session_run(s, 1, &nm, &x, 1, NULL, &y);
  if (code) *code = onyx_status_code(st);
  else if (st) fprintf(stderr, "run: %s\n", onyx_status_message(st));
  onyx_status_free(st);
  return y;
}

typedef struct load {
  onyx_session *s;
  onyx_tensor *x, *ref;
  int runs;
  atomic_int ok, lost, bad;
} load;

static void *load_main(void *p) {
  load *l = p;
  for (int i = 0; i < l->runs; i++) {
    bool replanned = onyx_session_fallback_count(l->s) > 0;
    int code = 0;
    onyx_tensor *y = run_x(l->s, l->x, &code);
    if (y && max_err(y, l->ref) <= 1e-4) atomic_fetch_add(&l->ok, 1);
    else if (!y && code == ONYX_ERR_DEVICE && !replanned) atomic_fetch_add(&l->lost, 1);
    else atomic_fetch_add(&l->bad, 1);
    onyx_tensor_free(y);
  }
  return NULL;
}

static void test_sessions(void) {
  void *buf;
  size_t len;
  model_buffer(mlp(), &buf, &len);
  onyx_session *cpu = session_of(buf, len, "cpu", NULL, NULL);
  onyx_session *s = session_of(buf, len, "cuda,cpu", "use_tf32=0", NULL);
  CHECK(on_cuda(s) == 3);
  onyx_tensor *x = random_input(&onyx_session_graph(cpu)->values[onyx_session_graph(cpu)->inputs[0]], false);
  onyx_tensor *ref = run_x(cpu, x, NULL), *y = run_x(s, x, NULL);
  CHECK(max_err(y, ref) <= 1e-4);
  onyx_tensor_free(y);
  /* device-side profile events */
  int dev = 0;
  for (int64_t i = 0; i < onyx_session_profile_count(s); i++) {
    onyx_profile_entry e;
    CHECK_OK(onyx_session_profile_get(s, i, &e));
    dev += e.device;
  }
  CHECK(dev == 3);
  /* concurrent runs: 8 threads x 50 equal a lone run */
  load l = {s, x, ref, 50, 0, 0, 0};
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, load_main, &l);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  CHECK(l.ok == 400 && l.bad == 0);
  /* I/O binding on cuda:0: no copies, the output stays on the device */
  onyx_tensor *xd;
  CHECK_OK(onyx_session_tensor_create(s, "cuda:0", F, 2, D(64, 128), &xd));
  CHECK_OK(onyx_tensor_copy(xd, x));
  onyx_io_binding *b;
  CHECK_OK(onyx_io_binding_create(s, &b));
  CHECK_OK(onyx_io_binding_bind_input(b, "x", xd));
  CHECK_OK(onyx_io_binding_bind_output_to_device(b, "y", "cuda:0"));
  for (int i = 0; i < 3; i++) CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  onyx_memory_info m0 = {0}, m1 = {0};
  CHECK_OK(onyx_session_memory_info(s, 1, &m0));
  for (int i = 0; i < 20; i++) CHECK_OK(onyx_session_run_with_binding(s, NULL, b));
  CHECK_OK(onyx_session_memory_info(s, 1, &m1));
  CHECK(m0.device && !strcmp(m0.device, "cuda:0") && m1.allocs == m0.allocs);
  onyx_tensor *yd = onyx_io_binding_output(b, 0), *yh;
  CHECK(yd && !strcmp(onyx_tensor_device(yd), "cuda:0"));
  CHECK_OK(onyx_session_tensor_create(s, "cpu", F, 2, D(64, 256), &yh));
  CHECK_OK(onyx_tensor_copy(yh, yd));
  CHECK(max_err(yh, ref) <= 1e-4);
  onyx_io_binding_destroy(b);
  onyx_tensor_free(xd);
  onyx_tensor_free(yh);
  /* provider switching on a live session */
  CHECK_OK(onyx_session_set_providers(s, "cpu"));
  CHECK(on_cuda(s) == 0);
  y = run_x(s, x, NULL);
  CHECK(max_err(y, ref) <= 1e-4);
  onyx_tensor_free(y);
  CHECK_OK(onyx_session_set_providers(s, "cuda,cpu"));
  CHECK(on_cuda(s) == 3);
  y = run_x(s, x, NULL);
  CHECK(max_err(y, ref) <= 1e-4);
  onyx_tensor_free(y);
  onyx_session_destroy(s);
  /* an invalid device id: a clear error at creation */
  onyx_status *err = NULL;
  s = session_of(buf, len, "cuda,cpu", "device_id=64", &err);
  CHECK(!s && onyx_status_code(err) == ONYX_ERR_INVALID_ARGUMENT && tu_msg_has(err, "device_id 64 does not exist"));
  onyx_status_free(err);
  onyx_session_destroy(s);
  /* device memory exhausted during a run: that run fails, the next works */
  s = session_of(buf, len, "cuda,cpu", "use_tf32=0,fault_alloc_at=6", NULL);
  int code = 0, fails = 0;
  for (int i = 0; i < 4; i++) {
    y = run_x(s, x, &code);
    fails += !y && code == ONYX_ERR_OUT_OF_MEMORY;
    CHECK(!y ? code == ONYX_ERR_OUT_OF_MEMORY : max_err(y, ref) <= 1e-4);
    onyx_tensor_free(y);
  }
  CHECK(fails == 1);
  onyx_session_destroy(s);
  /* a model over gpu_mem_limit: its weights do not fit, so the MatMul
   * falls back to cpu with the reason recorded; its activations (64 KiB
   * each) do not fit either: a run fails with a clear out-of-memory error */
  s = session_of(buf, len, "cuda,cpu", "use_tf32=0,gpu_mem_limit=100000", NULL);
  onyx_node_info ni;
  CHECK_OK(onyx_session_node_info(s, 0, &ni));
  CHECK(!strcmp(ni.provider, "cpu") && ni.fallback_reason && strstr(ni.fallback_reason, "copying initializer 'w'"));
  y = run_x(s, x, &code);
  CHECK(!y && code == ONYX_ERR_OUT_OF_MEMORY);
  onyx_tensor_free(y);
  onyx_session_destroy(s);
  /* a lost device while 4 threads run: runs that started on it fail, the
   * session re-plans on cpu, the rest succeed */
  s = session_of(buf, len, "cuda,cpu", "use_tf32=0,fault_lose_device_at=60", NULL);
  load l2 = {s, x, ref, 40, 0, 0, 0};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, load_main, &l2);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  fprintf(stderr, "device lost: %d ok, %d lost, %d wrong\n", l2.ok, l2.lost, l2.bad);
  CHECK(l2.lost >= 1 && l2.bad == 0 && l2.ok + l2.lost == 160 && on_cuda(s) == 0);
  onyx_session_destroy(s);
  onyx_tensor_free(x);
  onyx_tensor_free(ref);
  onyx_session_destroy(cpu);
  onyx_buffer_free(buf);
}

int main(void) {
  const char *why = onyx_provider_unusable_reason("cuda");
  if (!strstr(onyx_compiled_providers(), "cuda") || why) {
    printf("test_cuda: skipped: %s\n", why ? why : "this build has no cuda provider");
    return 77;
  }
  onyx_gpu_info gi;
  CHECK_OK(onyx_gpu_info_get(0, &gi));
  printf("test_cuda: %s, %d SMs, compute %d.%d, driver %d, runtime %d, cuBLASLt %d\n", gi.name, gi.sm_count, gi.cc_major,
         gi.cc_minor, gi.driver_version, gi.runtime_version, gi.cublas_version);
  test_elementwise();
  test_rows();
  test_movement();
  test_gemm();
  test_conv();
  test_sessions();
  return tu_done("test_cuda");
}
