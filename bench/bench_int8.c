/* bench_int8.c — int8 against fp32 on ResNet-50 / BERT-like shapes, at the
 * GEMM level (qgemm vs sgemm, weights packed ahead as at kernel prepare) and
 * at the node level through a session (QLinearConv vs Conv, QLinearMatMul vs
 * MatMul: im2col, requantization and all; both on the cpu provider, and the
 * fp32 node on dnnl too when it is built in, as variant fp32_*_dnnl). Weights are quantized the way a
 * quantizer would: symmetric per channel from Gaussian floats (full int8
 * range, so the AVX2 engine splits a few weight pairs), and with 7-bit
 * weights (ORT's reduce_range, nothing to split) as variant "int8_7bit".
 * Usage: bench_int8 [threads...] (default 1 2). Prints CSV:
 * name,variant,shape,threads,ns_per_iter,gops (gops: 2 * MACs per ns). */
#include <time.h>

#include "base/alloc.h"
#include "providers/cpu/gemm/qgemm.h"
#include "providers/cpu/gemm/sgemm.h"
#include "test_util.h"

/* ONYX_BENCH_CLOCK=cpu times with process CPU time instead of wall time:
 * on a shared, oversubscribed machine that leaves out time spent descheduled
 * (single-thread runs only; with threads it sums them). */
static double now_ns(void) {
  struct timespec ts;
  const char *clk = getenv("ONYX_BENCH_CLOCK");
  clock_gettime(clk && !strcmp(clk, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *name, const char *variant, const char *shape, int threads, double ns,
                   double macs) {
  printf("%s,%s,%s,%d,%.0f,%.2f\n", name, variant, shape, threads, ns, 2.0 * macs / ns);
  fflush(stdout);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double gauss(void) {
  double s = 0;
  for (int i = 0; i < 4; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    s += (double)(rng >> 11) / (double)(1ull << 53);
  }
  return (s - 2.0) * 1.7320508;  /* ~N(0, 1) */
}

/* m x k weights quantized symmetric per row to [-qmax, qmax] from Gaussians */
static void quant_weights(int8_t *w, float *wf, float *scale, int64_t m, int64_t k, int qmax) {
  for (int64_t i = 0; i < m; i++) {
    double mx = 0;
    for (int64_t p = 0; p < k; p++) {
      wf[i * k + p] = (float)(gauss() * 0.05);
      double a = wf[i * k + p] < 0 ? -wf[i * k + p] : wf[i * k + p];
      mx = a > mx ? a : mx;
    }
    scale[i] = (float)(mx / qmax);
    for (int64_t p = 0; p < k; p++) w[i * k + p] = (int8_t)nearbyintf(wf[i * k + p] / scale[i]);
  }
}

/* best of 7 timed loops of about 0.2 s (the minimum filters out a shared machine's noise) */
#define TIME_LOOP(BODY, MACS, OUT)                                            \
  do {                                                                         \
    BODY;                                                                      \
    int iters_ = (int)(2e8 / ((MACS) + 1)) + 1;                                \
    double best_ = 1e300;                                                      \
    for (int rep_ = 0; rep_ < 7; rep_++) {                                     \
      double t0_ = now_ns();                                                   \
      for (int it_ = 0; it_ < iters_; it_++) BODY;                             \
      double dt_ = (now_ns() - t0_) / iters_;                                  \
      if (dt_ < best_) best_ = dt_;                                            \
    }                                                                          \
    OUT = best_;                                                               \
  } while (0)

/* ---- GEMM level ---------------------------------------------------------------- */

static void gemm(const char *name, int64_t m, int64_t n, int64_t k, int threads) {
  int8_t *w = malloc((size_t)(m * k)), *w7 = malloc((size_t)(m * k));
  float *wf = malloc((size_t)(m * k) * 4), *ws = malloc((size_t)m * 4);
  float *xf = onyx_malloc_aligned((size_t)(k * n) * 4), *cf = onyx_malloc_aligned((size_t)(m * n) * 4);
  uint8_t *x = malloc((size_t)(k * n)), *y = malloc((size_t)(m * n));
  quant_weights(w7, wf, ws, m, k, 63);
  quant_weights(w, wf, ws, m, k, 127);
  for (int64_t i = 0; i < k * n; i++) {
    x[i] = (uint8_t)(i * 7919 % 251);
    xf[i] = (float)x[i] * 0.01f;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
  double macs = (double)m * (double)n * (double)k, ns;
  onyx_threadpool pool = {threads};
  const cpu_sgemm_isa *sisa = cpu_sgemm_isa_best();
  cpu_sgemm_packed *pa = NULL;
  onyx_status_free(cpu_sgemm_pack_a(sisa, false, m, k, wf, k, &pa));
  cpu_sgemm_args sg = {m, n, k, 1.0f, 0.0f, {NULL, 0, false, pa, NULL, NULL},
                       {xf, n, false, NULL, NULL, NULL}, cf, n, NULL, NULL, NULL, NULL};
  TIME_LOOP(onyx_status_free(cpu_sgemm(&pool, sisa, &sg)), macs, ns);
  report(name, "fp32", shape, threads, ns, macs);
  const cpu_qgemm_isa *qisa = cpu_qgemm_isa_best();
  float xs = 0.01f;
  uint8_t xz = 0;
  for (int v = 0; v < 2; v++) {
    cpu_qgemm_packed *pw = NULL;
    onyx_status_free(cpu_qgemm_pack_w(qisa, false, m, k, v ? w7 : w, k, false, NULL, 1, &pw));
    if (!pw) continue;
    cpu_qgemm_args g = {0};
    g.m = m;
    g.n = n;
    g.k = k;
    g.w = pw;
    g.x = (cpu_qgemm_x){x, n, false, false, NULL, NULL, &xz, 1};
    g.out = (cpu_qgemm_out){CPU_QGEMM_OUT_U8, y, n, false, &xs, ws, 1, m, 0.05f, 3, NULL, NULL, false, NULL};
    TIME_LOOP(onyx_status_free(cpu_qgemm(&pool, qisa, &g)), macs, ns);
    char variant[64];
    snprintf(variant, sizeof variant, "int8%s_%s", v ? "_7bit" : "", qisa->name);
    report(name, variant, shape, threads, ns, macs);
    if (!v) fprintf(stderr, "# %s: %lld of %lld weight pairs split\n", name, (long long)pw->n_res,
                    (long long)(m * ((k + 1) / 2)));
    cpu_qgemm_packed_free(pw);
  }
  cpu_sgemm_packed_free(pa);
  free(w), free(w7), free(wf), free(ws), free(x), free(y);
  onyx_free_aligned(xf);
  onyx_free_aligned(cf);
}

/* ---- node level ------------------------------------------------------------------ */

/* fp32 nodes run on the cpu provider (kernel against kernel) and, where it
 * is compiled in, on dnnl as well: onyx's fastest fp32 path */
static bool have_dnnl(void) { return strstr(onyx_available_providers(), "dnnl") != NULL; }

/* times session runs of t (consumed) on one fed input x with the given
 * providers; returns ns per run (0 on failure) */
static double time_node(tu_node *t, const char *providers, int threads, onyx_tensor *x, double macs) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  onyx_session *s = NULL;
  onyx_status *st = onyx_options_set_providers(o, providers);
  if (!st) st = onyx_session_create_from_model(t->m, o, &s);
  else onyx_model_destroy(t->m);
  onyx_options_destroy(o);
  const char *in = "x0";
  double ns = 0;
  if (!st) {
    TIME_LOOP(
        {
          onyx_tensor *y_ = NULL;
          onyx_status *e_ = onyx_session_run(s, 1, &in, &x, 1, NULL, &y_);
          if (e_ && !st) st = e_;
          else onyx_status_free(e_);
          onyx_tensor_free(y_);
        },
        macs, ns);
  }
  if (st) {
    fprintf(stderr, "%s\n", onyx_status_message(st));
    onyx_status_free(st);
    ns = 0;
  }
  onyx_session_destroy(s);
  return ns;
}

static void conv(const char *name, int64_t c, int64_t m, int64_t h, int64_t k, int64_t s, int64_t p,
                 int threads) {
  int64_t xd[4] = {1, c, h, h}, wd[4] = {m, c, k, k}, one[1] = {1};
  int64_t oh = (h + 2 * p - k) / s + 1, kk = c * k * k;
  size_t nw = (size_t)(m * kk), nx = (size_t)(c * h * h);
  float *wf = malloc(nw * 4), *xf = malloc(nx * 4), *bf = calloc((size_t)m, 4), *ws = malloc((size_t)m * 4);
  int8_t *w = malloc(nw);
  uint8_t *x = malloc(nx), xz = 5, yz = 7;
  int32_t *bias = calloc((size_t)m, 4);
  float xs = 0.02f, ys = 0.05f;
  quant_weights(w, wf, ws, m, kk, 127);
  for (size_t i = 0; i < nx; i++) {
    x[i] = (uint8_t)(i * 7919 % 251);
    xf[i] = (float)x[i] * 0.02f;
  }
  char shape[96];
  snprintf(shape, sizeof shape, "c%lld-m%lld-%lldx%lld-k%lld-s%lld", (long long)c, (long long)m,
           (long long)h, (long long)h, (long long)k, (long long)s);
  double macs = (double)m * (double)kk * (double)(oh * oh);
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
  /* fp32 Conv */
  tu_node t = tu_node_new("Conv", 13, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, xd);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 4, wd, wf);
  tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, &m, bf);
  tu_attr_ints(&t, "kernel_shape", 2, ks);
  tu_attr_ints(&t, "strides", 2, st);
  tu_attr_ints(&t, "pads", 4, pads);
  onyx_tensor *xt = tu_f32(4, xd, xf);
  for (int d = 0; d <= have_dnnl(); d++) {
    tu_node c = t;
    if (d) {
      /* the model is consumed per session: rebuild it */
      c = tu_node_new("Conv", 13, 3, 1);
      tu_input(&c, 0, ONYX_DTYPE_FLOAT, 4, xd);
      tu_const(&c, 1, ONYX_DTYPE_FLOAT, 4, wd, wf);
      tu_const(&c, 2, ONYX_DTYPE_FLOAT, 1, &m, bf);
      tu_attr_ints(&c, "kernel_shape", 2, ks);
      tu_attr_ints(&c, "strides", 2, st);
      tu_attr_ints(&c, "pads", 4, pads);
    }
    report(name, d ? "fp32_Conv_dnnl" : "fp32_Conv", shape, threads,
           time_node(&c, d ? "dnnl,cpu" : "cpu", threads, xt, macs), macs);
  }
  onyx_tensor_free(xt);
  /* int8 QLinearConv, per-channel weights: full range, then 7-bit */
  int8_t *wz = calloc((size_t)m, 1);
  onyx_tensor *xq;
  onyx_tensor_create(ONYX_DTYPE_UINT8, 4, xd, &xq);
  memcpy(onyx_tensor_data(xq), x, nx);
  for (int v = 0; v < 2; v++) {
    if (v) quant_weights(w, wf, ws, m, kk, 63);
    tu_node q = tu_node_new("QLinearConv", 10, 9, 1);
    tu_input(&q, 0, ONYX_DTYPE_UINT8, 4, xd);
    tu_const(&q, 1, ONYX_DTYPE_FLOAT, 0, one, &xs);
    tu_const(&q, 2, ONYX_DTYPE_UINT8, 0, one, &xz);
    tu_const(&q, 3, ONYX_DTYPE_INT8, 4, wd, w);
    tu_const(&q, 4, ONYX_DTYPE_FLOAT, 1, &m, ws);
    tu_const(&q, 5, ONYX_DTYPE_INT8, 1, &m, wz);
    tu_const(&q, 6, ONYX_DTYPE_FLOAT, 0, one, &ys);
    tu_const(&q, 7, ONYX_DTYPE_UINT8, 0, one, &yz);
    tu_const(&q, 8, ONYX_DTYPE_INT32, 1, &m, bias);
    tu_attr_ints(&q, "kernel_shape", 2, ks);
    tu_attr_ints(&q, "strides", 2, st);
    tu_attr_ints(&q, "pads", 4, pads);
    char variant[64];
    snprintf(variant, sizeof variant, "int8%s_QLinearConv_%s", v ? "_7bit" : "", cpu_qgemm_isa_best()->name);
    report(name, variant, shape, threads, time_node(&q, "cpu", threads, xq, macs), macs);
  }
  onyx_tensor_free(xq);
  free(wf), free(xf), free(bf), free(ws), free(w), free(x), free(bias), free(wz);
}

static void matmul(const char *name, int64_t mm, int64_t k, int64_t n, int threads) {
  int64_t ad[2] = {mm, k}, bd[2] = {k, n}, one[1] = {1};
  float *af = malloc((size_t)(mm * k) * 4), *bf = malloc((size_t)(k * n) * 4), *bs = malloc((size_t)n * 4);
  float *wt = malloc((size_t)(k * n) * 4);
  int8_t *b = malloc((size_t)(k * n)), *bt = malloc((size_t)(k * n));
  uint8_t *a = malloc((size_t)(mm * k)), az = 128, yz = 128;
  float as = 0.02f, ys = 0.1f;
  /* B^T rows are B's columns: quantize per column */
  quant_weights(bt, wt, bs, n, k, 127);
  for (int64_t i = 0; i < n; i++)
    for (int64_t p = 0; p < k; p++) {
      b[p * n + i] = bt[i * k + p];
      bf[p * n + i] = wt[i * k + p];
    }
  for (int64_t i = 0; i < mm * k; i++) {
    a[i] = (uint8_t)(i * 7919 % 251);
    af[i] = ((float)a[i] - 128.0f) * 0.02f;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "%lldx%lld-x-%lldx%lld", (long long)mm, (long long)k, (long long)k,
           (long long)n);
  double macs = (double)mm * (double)k * (double)n;
  tu_node t = tu_node_new("MatMul", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, ad);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 2, bd, bf);
  onyx_tensor *xt = tu_f32(2, ad, af);
  for (int d = 0; d <= have_dnnl(); d++) {
    tu_node c = t;
    if (d) {
      c = tu_node_new("MatMul", 13, 2, 1);
      tu_input(&c, 0, ONYX_DTYPE_FLOAT, 2, ad);
      tu_const(&c, 1, ONYX_DTYPE_FLOAT, 2, bd, bf);
    }
    report(name, d ? "fp32_MatMul_dnnl" : "fp32_MatMul", shape, threads,
           time_node(&c, d ? "dnnl,cpu" : "cpu", threads, xt, macs), macs);
  }
  onyx_tensor_free(xt);
  tu_node q = tu_node_new("QLinearMatMul", 10, 8, 1);
  int8_t bz = 0;
  tu_input(&q, 0, ONYX_DTYPE_UINT8, 2, ad);
  tu_const(&q, 1, ONYX_DTYPE_FLOAT, 0, one, &as);
  tu_const(&q, 2, ONYX_DTYPE_UINT8, 0, one, &az);
  tu_const(&q, 3, ONYX_DTYPE_INT8, 2, bd, b);
  tu_const(&q, 4, ONYX_DTYPE_FLOAT, 0, one, &bs[0]);
  tu_const(&q, 5, ONYX_DTYPE_INT8, 0, one, &bz);
  tu_const(&q, 6, ONYX_DTYPE_FLOAT, 0, one, &ys);
  tu_const(&q, 7, ONYX_DTYPE_UINT8, 0, one, &yz);
  onyx_tensor *xq;
  onyx_tensor_create(ONYX_DTYPE_UINT8, 2, ad, &xq);
  memcpy(onyx_tensor_data(xq), a, (size_t)(mm * k));
  char variant[64];
  snprintf(variant, sizeof variant, "int8_QLinearMatMul_%s", cpu_qgemm_isa_best()->name);
  report(name, variant, shape, threads, time_node(&q, "cpu", threads, xq, macs), macs);
  onyx_tensor_free(xq);
  free(af), free(bf), free(bs), free(wt), free(b), free(bt), free(a);
}

int main(int argc, char **argv) {
  int threads[8] = {1, 2}, nth = 2;
  if (argc > 1) {
    nth = 0;
    for (int i = 1; i < argc && nth < 8; i++) threads[nth++] = atoi(argv[i]);
  }
  puts("name,variant,shape,threads,ns_per_iter,gops");
  for (int t = 0; t < nth; t++) {
    int th = threads[t];
    /* ResNet-50 convs as GEMMs (M = out channels, N = pixels, K = C * k * k) */
    gemm("gemm_res2_3x3", 64, 3136, 576, th);
    gemm("gemm_res2_1x1", 256, 3136, 64, th);
    gemm("gemm_res3_3x3", 128, 784, 1152, th);
    gemm("gemm_res4_3x3", 256, 196, 2304, th);
    gemm("gemm_res5_3x3", 512, 49, 4608, th);
    gemm("gemm_bert_qkv", 768, 128, 768, th);
    conv("conv_res2_3x3", 64, 64, 56, 3, 1, 1, th);
    conv("conv_res2_1x1", 256, 64, 56, 1, 1, 0, th);
    conv("conv_res3_3x3_s2", 128, 128, 56, 3, 2, 1, th);
    conv("conv_res4_3x3", 256, 256, 14, 3, 1, 1, th);
    conv("conv_res5_1x1", 512, 2048, 7, 1, 1, 0, th);
    conv("conv_stem_7x7_s2", 3, 64, 224, 7, 2, 3, th);
    matmul("matmul_bert_qkv", 128, 768, 768, th);
    matmul("matmul_bert_ffn", 128, 768, 3072, th);
  }
  return 0;
}
