/* bench_dnnl.c — the dnnl provider against the cpu provider on the same
 * models: Conv shapes from ResNet-50, MatMul shapes from BERT-base and a
 * classifier head, and a chain alternating dnnl nodes (Conv) with cpu-only
 * nodes (Sin), which shows whether the two providers' threads fight (the
 * alternating chain should cost what its dnnl part and its cpu part cost
 * alone). Usage: bench_dnnl [threads...] (default: 1 and all cores).
 * ONYX_BENCH_CLOCK=cpu times with the process CPU clock instead of wall
 * time (for 1-thread runs on a shared, oversubscribed machine).
 * Prints CSV: name,variant,shape,threads,ns_per_iter,gflops. */
#include <time.h>

#include "base/parallel.h"
#include "test_util.h"

static double now_ns(void) {
  struct timespec ts;
  const char *clk = getenv("ONYX_BENCH_CLOCK");
  clock_gettime(clk && !strcmp(clk, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- models: a chain of nodes on one fed input "x" --------------------------------- */

typedef struct chain_model {
  onyx_model *m;
  char last[32];
  int n;
  unsigned seed;
} chain_model;

static chain_model chain_new(int rank, const int64_t *dims) {
  chain_model c = {0};
  onyx_model_new(&c.m);
  c.m->ir_version = 8;
  onyx_model_set_opset(c.m, "", 13);
  onyx_graph_new(c.m, NULL, &c.m->graph);
  int v;
  onyx_graph_value(c.m->graph, "x", &v);
  c.m->graph->values[v].dtype = ONYX_DTYPE_FLOAT;
  c.m->graph->values[v].rank = rank;
  memcpy(c.m->graph->values[v].dims, dims, (size_t)rank * sizeof *dims);
  onyx_graph_set_inputs(c.m->graph, 1, &v);
  strcpy(c.last, "x");
  return c;
}

static void chain_const(chain_model *c, const char *name, int rank, const int64_t *dims) {
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, dims, &t);
  float *p = onyx_tensor_data(t);
  size_t n = (size_t)onyx_tensor_numel(t);
  tu_fill_random(p, n, ++c->seed);
  for (size_t i = 0; i < n; i++) p[i] *= 0.05f;
  int v;
  onyx_graph_value(c->m->graph, name, &v);
  onyx_value *val = &c->m->graph->values[v];
  val->init = t;
  val->dtype = ONYX_DTYPE_FLOAT;
  val->rank = rank;
  memcpy(val->dims, dims, (size_t)rank * sizeof *dims);
}

/* Appends op(last, extra inputs...) and returns the node. */
static onyx_node *chain_op(chain_model *c, const char *op, int n_extra, const char *const *extra) {
  onyx_graph *g = c->m->graph;
  int in[4], out;
  onyx_graph_value(g, c->last, &in[0]);
  for (int i = 0; i < n_extra; i++) onyx_graph_value(g, extra[i], &in[1 + i]);
  snprintf(c->last, sizeof c->last, "v%d", c->n++);
  onyx_graph_value(g, c->last, &out);
  int ni;
  onyx_graph_add_node(g, c->last, op, "", 1 + n_extra, in, 1, &out, &ni);
  return &g->nodes[ni];
}

/* cnt copies of v (pads, strides) */
static void set_ints(onyx_node *n, const char *name, int cnt, int64_t v) {
  int64_t vs[8];
  for (int i = 0; i < cnt; i++) vs[i] = v;
  tu_set_ints(n, name, cnt, vs);
}

static void chain_conv(chain_model *c, int64_t cin, int64_t cout, int64_t k, int64_t s) {
  char w[32];
  snprintf(w, sizeof w, "w%d", c->n);
  chain_const(c, w, 4, (int64_t[]){cout, cin, k, k});
  const char *ex[1] = {w};
  onyx_node *n = chain_op(c, "Conv", 1, ex);
  set_ints(n, "pads", 4, k / 2);
  set_ints(n, "strides", 2, s);
}

static void chain_matmul(chain_model *c, int64_t k, int64_t n_out) {
  char w[32];
  snprintf(w, sizeof w, "w%d", c->n);
  chain_const(c, w, 2, (int64_t[]){k, n_out});
  const char *ex[1] = {w};
  chain_op(c, "MatMul", 1, ex);
}

/* ---- timing -------------------------------------------------------------------------- */

/* Best time per run of the model (serialized in buf) on `providers`. */
static double time_model(const void *buf, size_t len, const char *providers, int threads, const onyx_tensor *x,
                         double budget_ns) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  onyx_options_set_providers(o, providers);
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_buffer(buf, len, o, &s);
  onyx_options_destroy(o);
  if (st) {
    fprintf(stderr, "%s: %s\n", providers, onyx_status_message(st));
    onyx_status_free(st);
    return -1;
  }
  const char *in = "x";
  onyx_tensor *xin = (onyx_tensor *)x;
  double best = 1e300;
  int iters = 1;
  for (int rep = 0; rep < 6; rep++) {   /* rep 0 warms up and sizes the loop */
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      onyx_tensor *y = NULL;
      st = onyx_session_run(s, 1, &in, &xin, 1, NULL, &y);
      if (st) {
        fprintf(stderr, "%s: %s\n", providers, onyx_status_message(st));
        onyx_status_free(st);
        onyx_session_destroy(s);
        return -1;
      }
      onyx_tensor_free(y);
    }
    double dt = (now_ns() - t0) / iters;
    if (rep > 0 && dt < best) best = dt;
    if (rep == 0) iters = (int)(budget_ns / 5 / dt) + 1;
  }
  onyx_session_destroy(s);
  return best;
}

/* Times chain c (consumed) under each variant and prints CSV lines. */
static void bench(chain_model *c, const char *name, const char *shape, int threads, double flops,
                  int n_variants, const char *const *variants, const char *const *providers, double *out) {
  onyx_graph *g = c->m->graph;
  int last = onyx_graph_find(g, c->last);
  onyx_graph_set_outputs(g, 1, &last);
  const onyx_value *xv = &g->values[g->inputs[0]];
  onyx_tensor *x = tu_f32(xv->rank, xv->dims, NULL);
  tu_fill_random(onyx_tensor_data(x), (size_t)onyx_tensor_numel(x), 42);
  void *buf;
  size_t len;
  onyx_status *st = onyx_model_save_to_buffer(c->m, &buf, &len);
  onyx_model_destroy(c->m);
  if (st) {
    fprintf(stderr, "%s: %s\n", name, onyx_status_message(st));
    onyx_status_free(st);
    onyx_tensor_free(x);
    return;
  }
  for (int v = 0; v < n_variants; v++) {
    double ns = time_model(buf, len, providers[v], threads, x, 3e8);
    if (out) out[v] = ns;
    if (ns > 0) printf("%s,%s,%s,%d,%.0f,%.2f\n", name, variants[v], shape, threads, ns, flops > 0 ? flops / ns : 0);
    fflush(stdout);
  }
  onyx_buffer_free(buf);
  onyx_tensor_free(x);
}

static const char *const two_names[2] = {"dnnl", "cpu"};
static const char *const two_provs[2] = {"dnnl,cpu", "cpu"};

static void conv_case(const char *name, int64_t c, int64_t m, int64_t h, int64_t k, int64_t s, int threads) {
  chain_model cm = chain_new(4, (int64_t[]){1, c, h, h});
  chain_conv(&cm, c, m, k, s);
  int64_t oh = (h + 2 * (k / 2) - k) / s + 1;
  char shape[96];
  snprintf(shape, sizeof shape, "1x%lldx%lldx%lld_k%lld_s%lld_m%lld", (long long)c, (long long)h, (long long)h,
           (long long)k, (long long)s, (long long)m);
  bench(&cm, name, shape, threads, 2.0 * (double)(m * oh * oh) * (double)(c * k * k), 2, two_names, two_provs, NULL);
}

static void matmul_case(const char *name, int64_t mrows, int64_t k, int64_t n, int threads) {
  chain_model cm = chain_new(2, (int64_t[]){mrows, k});
  chain_matmul(&cm, k, n);
  char shape[64];
  snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)mrows, (long long)k, (long long)n);
  bench(&cm, name, shape, threads, 2.0 * (double)mrows * (double)k * (double)n, 2, two_names, two_provs, NULL);
}

/* Conv (dnnl) and Sin (cpu only) alternating four times, against its two
 * halves alone: the conv chain on dnnl and the Sin chain on cpu. */
static void alternating(int threads) {
  int64_t x[4] = {1, 64, 56, 56};
  const char *shape = "1x64x56x56_4x(conv3x3+sin)";
  double flops = 4 * 2.0 * 64 * 56 * 56 * 64 * 9;
  chain_model a = chain_new(4, x), convs = chain_new(4, x), sins = chain_new(4, x);
  for (int i = 0; i < 4; i++) {
    chain_conv(&a, 64, 64, 3, 1);
    chain_op(&a, "Sin", 0, NULL);
    chain_conv(&convs, 64, 64, 3, 1);
    chain_op(&sins, "Sin", 0, NULL);
  }
  double t_alt[2], t_conv[1], t_sin[1];
  bench(&a, "alternating", shape, threads, flops, 2, (const char *const[]){"dnnl+cpu", "cpu"}, two_provs, t_alt);
  bench(&convs, "alternating_conv_part", "1x64x56x56_4xconv3x3", threads, flops, 1, two_names, two_provs, t_conv);
  const char *const cpu_only[1] = {"cpu"};
  bench(&sins, "alternating_sin_part", "1x64x56x56_4xsin", threads, 0, 1, cpu_only, cpu_only, t_sin);
  if (t_alt[0] > 0 && t_conv[0] > 0 && t_sin[0] > 0)
    fprintf(stderr, "alternating, %d threads: dnnl+cpu %.2f ms vs parts alone %.2f ms (conv on dnnl %.2f + sin on cpu %.2f); "
                    "cpu alone %.2f ms\n",
            threads, t_alt[0] / 1e6, (t_conv[0] + t_sin[0]) / 1e6, t_conv[0] / 1e6, t_sin[0] / 1e6, t_alt[1] / 1e6);
}

int main(int argc, char **argv) {
  int threads[8], nt = 0;
  for (int i = 1; i < argc && nt < 8; i++) threads[nt++] = atoi(argv[i]);
  if (!nt) {
    threads[nt++] = 1;
    if (onyx_available_cores() > 1) threads[nt++] = onyx_available_cores();
  }
  printf("name,variant,shape,threads,ns_per_iter,gflops\n");
  for (int i = 0; i < nt; i++) {
    int t = threads[i];
    conv_case("conv_resnet50_res2_3x3", 64, 64, 56, 3, 1, t);
    conv_case("conv_resnet50_res3_3x3", 128, 128, 28, 3, 1, t);
    conv_case("conv_resnet50_res2_1x1", 256, 64, 56, 1, 1, t);
    conv_case("conv_resnet50_stem_7x7", 3, 64, 224, 7, 2, t);
    matmul_case("matmul_bert_qkv", 128, 768, 768, t);
    matmul_case("matmul_bert_ffn", 128, 768, 3072, t);
    matmul_case("matmul_head", 1, 2048, 1000, t);
    alternating(t);
  }
  return 0;
}
