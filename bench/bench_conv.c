/* bench_conv.c — Conv / ConvTranspose / MatMul / Gemm nodes through a
 * session (weights constant, so packed at prepare), on shapes from ResNet,
 * MobileNet, BERT and a classifier head. Usage: bench_conv [threads].
 * Prints CSV: name,variant,shape,threads,ns_per_iter,gflops. */
#include <time.h>

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

/* times session runs of t (consumed) on one fed input x */
static void time_node(tu_node *t, int threads, onyx_tensor *x, const char *name,
                      const char *shape, double flops) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  onyx_options_set_providers(o, "cpu");   /* the cpu kernels (dnnl is the default first provider) */
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_model(t->m, o, &s);
  onyx_options_destroy(o);
  if (st) {
    fprintf(stderr, "%s: %s\n", name, onyx_status_message(st));
    onyx_status_free(st);
    return;
  }
  const char *in = "x0";
  int iters = (int)(1e9 / flops) + 2;
  double best = 1e300;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      onyx_tensor *y = NULL;
      st = onyx_session_run(s, 1, &in, &x, 1, NULL, &y);
      if (st) {
        fprintf(stderr, "%s: %s\n", name, onyx_status_message(st));
        onyx_status_free(st);
        onyx_session_destroy(s);
        return;
      }
      onyx_tensor_free(y);
    }
    double dt = (now_ns() - t0) / iters;
    if (dt < best) best = dt;
  }
  printf("%s,cpu,%s,%d,%.0f,%.2f\n", name, shape, threads, best, flops / best);
  fflush(stdout);
  onyx_session_destroy(s);
}

static void conv(const char *name, bool transpose, int64_t c, int64_t m, int64_t group, int64_t h,
                 int64_t k, int64_t s, int64_t p, int threads) {
  int64_t xd[4] = {1, c, h, h}, wd[4] = {transpose ? c : m, transpose ? m / group : c / group, k, k};
  int64_t oh = transpose ? s * (h - 1) + k - 2 * p : (h + 2 * p - k) / s + 1;
  size_t nw = (size_t)(wd[0] * wd[1] * k * k), nx = (size_t)(c * h * h);
  float *w = malloc(nw * 4), *xv = malloc(nx * 4), *b = malloc((size_t)m * 4);
  tu_fill_random(w, nw, 1);
  tu_fill_random(xv, nx, 2);
  tu_fill_random(b, (size_t)m, 3);
  tu_node t = tu_node_new(transpose ? "ConvTranspose" : "Conv", 13, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, xd);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 4, wd, w);
  tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, &m, b);
  tu_attr_ints(&t, "kernel_shape", 2, (int64_t[2]){k, k});
  tu_attr_ints(&t, "strides", 2, (int64_t[2]){s, s});
  tu_attr_ints(&t, "pads", 4, (int64_t[4]){p, p, p, p});
  if (group > 1) tu_attr_int(&t, "group", group);
  onyx_tensor *x = tu_f32(4, xd, xv);
  char shape[128];
  snprintf(shape, sizeof shape, "c%lld-m%lld-g%lld-%lldx%lld-k%lld-s%lld", (long long)c,
           (long long)m, (long long)group, (long long)h, (long long)h, (long long)k, (long long)s);
  double flops = 2.0 * (double)m * (double)(c / group) * (double)(k * k) * (double)(oh * oh);
  if (transpose) flops = 2.0 * (double)c * (double)(m / group) * (double)(k * k) * (double)(h * h);
  time_node(&t, threads, x, name, shape, flops);
  onyx_tensor_free(x);
  free(w), free(xv), free(b);
}

static void matmul(const char *name, int64_t batch, int64_t mm, int64_t k, int64_t n, int threads) {
  int64_t ad[3] = {batch, mm, k}, bd[2] = {k, n};
  float *a = malloc((size_t)(batch * mm * k) * 4), *b = malloc((size_t)(k * n) * 4);
  tu_fill_random(a, (size_t)(batch * mm * k), 1);
  tu_fill_random(b, (size_t)(k * n), 2);
  tu_node t = tu_node_new("MatMul", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, ad);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 2, bd, b);
  onyx_tensor *x = tu_f32(3, ad, a);
  char shape[96];
  snprintf(shape, sizeof shape, "%lldx%lldx%lld-x-%lldx%lld", (long long)batch, (long long)mm,
           (long long)k, (long long)k, (long long)n);
  time_node(&t, threads, x, name, shape, 2.0 * (double)(batch * mm) * (double)k * (double)n);
  onyx_tensor_free(x);
  free(a), free(b);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  puts("name,variant,shape,threads,ns_per_iter,gflops");
  conv("conv_resnet_3x3", false, 64, 64, 1, 56, 3, 1, 1, threads);
  conv("conv_resnet_1x1", false, 256, 64, 1, 56, 1, 1, 0, threads);
  conv("conv_resnet_stem", false, 3, 64, 1, 224, 7, 2, 3, threads);
  conv("conv_resnet_3x3_s2", false, 128, 128, 1, 56, 3, 2, 1, threads);
  conv("conv_grouped_3x3", false, 128, 128, 32, 28, 3, 1, 1, threads);
  conv("conv_depthwise_3x3", false, 32, 32, 32, 112, 3, 1, 1, threads);
  conv("conv_depthwise_3x3_s2", false, 96, 96, 96, 112, 3, 2, 1, threads);
  conv("convtranspose_4x4_s2", true, 64, 32, 1, 28, 4, 2, 1, threads);
  matmul("matmul_bert_qkv", 1, 128, 768, 768, threads);
  matmul("matmul_fc", 1, 1, 2048, 1000, threads);
  return 0;
}
