/* test_float16.c — float16 and bfloat16 models on providers whose kernels
 * compute some ops in float32 only: Conv -> Relu -> GlobalAveragePool ->
 * Flatten -> Gemm -> MatMul built in each dtype from the same weights; the
 * 16-bit model runs (casts are inserted around the float32-only nodes) and
 * its outputs match the float32 model's within the 16-bit format's
 * precision, on cpu and on dnnl,cpu, at optimization levels 0 and 3. */
#include "test_util.h"

/* The model in dtype dt; weights from the same seeds for every dtype. */
static onyx_model *net(onyx_dtype dt) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  const char *names[] = {"x", "w", "b", "c", "r", "p", "f", "w2", "b2", "g", "w3", "y"};
  int v[12];
  for (int i = 0; i < 12; i++) onyx_graph_value(g, names[i], &v[i]);
  int64_t xd[4] = {1, 3, 8, 8}, wd[4] = {6, 3, 3, 3}, bd[1] = {6}, w2d[2] = {6, 5}, b2d[1] = {5}, w3d[2] = {5, 4};
  g->values[v[0]].dtype = dt;
  g->values[v[0]].rank = 4;
  memcpy(g->values[v[0]].dims, xd, sizeof xd);
  struct { int v; int rank; const int64_t *dims; unsigned seed; } w[] = {
      {v[1], 4, wd, 1}, {v[2], 1, bd, 2}, {v[7], 2, w2d, 3}, {v[8], 1, b2d, 4}, {v[10], 2, w3d, 5}};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    int64_t n = onyx_numel(w[i].rank, w[i].dims);
    double vals[256];
    float f[256];
    tu_fill_random(f, (size_t)n, w[i].seed);
    for (int64_t k = 0; k < n; k++) vals[k] = f[k] * 0.5;
    onyx_value *val = &g->values[w[i].v];
    val->init = tu_from_f64(dt, w[i].rank, w[i].dims, vals);
    val->dtype = dt;
    val->rank = w[i].rank;
    memcpy(val->dims, w[i].dims, (size_t)w[i].rank * sizeof w[i].dims[0]);
  }
  onyx_graph_set_inputs(g, 1, &v[0]);
  onyx_graph_add_node(g, "conv", "Conv", "", 3, (int[]){v[0], v[1], v[2]}, 1, &v[3], NULL);
  tu_set_ints(&g->nodes[0], "pads", 4, (int64_t[]){1, 1, 1, 1});
  onyx_graph_add_node(g, "relu", "Relu", "", 1, &v[3], 1, &v[4], NULL);
  onyx_graph_add_node(g, "gap", "GlobalAveragePool", "", 1, &v[4], 1, &v[5], NULL);
  onyx_graph_add_node(g, "flat", "Flatten", "", 1, &v[5], 1, &v[6], NULL);
  onyx_graph_add_node(g, "gemm", "Gemm", "", 3, (int[]){v[6], v[7], v[8]}, 1, &v[9], NULL);
  onyx_graph_add_node(g, "mm", "MatMul", "", 2, (int[]){v[9], v[10]}, 1, &v[11], NULL);
  onyx_graph_set_outputs(g, 1, &v[11]);
  return m;
}

static onyx_tensor *run(onyx_dtype dt, const char *providers, int level, const double *x) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 1);
  onyx_options_set_optimization_level(o, level);
  onyx_options_set_providers(o, providers);
  onyx_session *s = NULL;
  onyx_tensor *in = tu_from_f64(dt, 4, (int64_t[]){1, 3, 8, 8}, x), *y = NULL;
  const char *nm = "x";
  CHECK_OK(onyx_session_create_from_model(net(dt), o, &s));
  if (s) CHECK_OK(onyx_session_run(s, 1, &nm, &in, 1, NULL, &y));
  onyx_options_destroy(o);
  onyx_session_destroy(s);
  onyx_tensor_free(in);
  return y;
}

int main(void) {
  double x[192];
  float f[192];
  tu_fill_random(f, 192, 9);
  /* inputs exactly representable in bfloat16, so every model sees the same x */
  for (int i = 0; i < 192; i++) x[i] = onyx_bf16_to_f32(onyx_f32_to_bf16(f[i]));
  onyx_tensor *ref = run(ONYX_DTYPE_FLOAT, "cpu", 0, x);
  CHECK(ref && onyx_tensor_numel(ref) == 4);
  const char *lists[] = {"cpu", "dnnl,cpu"};
  onyx_dtype dts[] = {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16};
  for (int d = 0; d < 2; d++)
    for (int l = 0; l < 2; l++)
      for (int level = 0; level <= 3; level += 3) {
        onyx_tensor *y = run(dts[d], lists[l], level, x);
        bool ok = y && ref && onyx_tensor_dtype(y) == dts[d] && onyx_tensor_numel(y) == 4;
        /* the weights differ from float32's by their rounding: a few units of the format's precision */
        double tol = dts[d] == ONYX_DTYPE_FLOAT16 ? 2e-2 : 1e-1;
        for (int i = 0; ok && i < 4; i++) {
          double a = onyx_tensor_get_f64(y, i), b = onyx_tensor_get_f64(ref, i);
          ok = fabs(a - b) <= tol * (1 + fabs(b));
          if (!ok) fprintf(stderr, "%s on %s, level %d: y[%d] = %g, float32 %g\n", onyx_dtype_name(dts[d]), lists[l],
                           level, i, a, b);
        }
        CHECK(ok);
        onyx_tensor_free(y);
      }
  onyx_tensor_free(ref);
  return tu_done("test_float16");
}
