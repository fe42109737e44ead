/* bench_gemm.c — throughput of the float32 GEMM engine per micro-kernel and
 * thread count. Usage: bench_gemm [M N K [threads [isa]]]; with no arguments
 * runs a default set (512^3 and a few conv-like shapes) on every ISA this CPU
 * runs, threads 1 and all. Prints CSV: name,variant,shape,threads,ns_per_iter,gflops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "providers/cpu/gemm/sgemm.h"

/* ONYX_BENCH_CLOCK=cpu times with process CPU time instead of wall time:
 * on a shared, oversubscribed machine that leaves out time spent descheduled
 * (single-thread runs only; with threads it sums them). */
static double now_ns(void) {
  struct timespec ts;
  const char *clk = getenv("ONYX_BENCH_CLOCK");
  clock_gettime(clk && !strcmp(clk, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* prepacked: 0 = B packed inside each call; 1 = B packed once (constant
 * weights); 2 = like 1 but cycling through enough packed copies of B
 * (>= 256 MiB) that each call reads its B from DRAM, as a model's layers do. */
static void bench(const cpu_sgemm_isa *isa, int64_t m, int64_t n, int64_t k, int threads,
                  int prepacked) {
  float *a = onyx_malloc_aligned((size_t)(m * k) * 4), *b = onyx_malloc_aligned((size_t)(k * n) * 4),
        *c = onyx_malloc_aligned((size_t)(m * n) * 4);
  for (int64_t i = 0; i < m * k; i++) a[i] = (float)(i % 13) * 0.1f;
  for (int64_t i = 0; i < k * n; i++) b[i] = (float)(i % 7) * 0.1f;
  int copies = prepacked == 2 ? (int)((256ll << 20) / (k * n * 4) + 1) : prepacked;
  cpu_sgemm_packed **pb = calloc((size_t)copies + 1, sizeof *pb);
  cpu_sgemm_args g = {m, n, k, 1.0f, 0.0f, {a, k, false, NULL, NULL, NULL},
                      {b, n, false, NULL, NULL, NULL}, c, n, NULL, NULL, NULL, NULL};
  for (int i = 0; i < copies; i++) {
    onyx_status *s = cpu_sgemm_pack_b(isa, false, k, n, b, n, &pb[i]);
    if (s) {
      fprintf(stderr, "%s\n", onyx_status_message(s));
      exit(1);
    }
  }
  onyx_threadpool pool = {threads};
  double flops = 2.0 * (double)m * (double)n * (double)k;
  int iters = (int)(2e9 / flops);
  if (iters < 3) iters = 3;
  if (copies) g.b = (cpu_sgemm_operand){NULL, 0, false, pb[0], NULL, NULL};
  onyx_status_free(cpu_sgemm(&pool, isa, &g)); /* warm up */
  double best = 1e300;
  for (int rep = 0, next = 0; rep < 5; rep++) {
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      if (copies) g.b.packed = pb[next++ % copies];
      onyx_status_free(cpu_sgemm(&pool, isa, &g));
    }
    double t = (now_ns() - t0) / iters;
    if (t < best) best = t;
  }
  static const char *const variant[] = {"", "_packedB", "_packedB_dram"};
  printf("sgemm,%s%s,%lldx%lldx%lld,%d,%.0f,%.2f\n", isa->name, variant[prepacked], (long long)m,
         (long long)n, (long long)k, threads, best, flops / best);
  fflush(stdout);
  for (int i = 0; i < copies; i++) cpu_sgemm_packed_free(pb[i]);
  free(pb);
  onyx_free_aligned(a);
  onyx_free_aligned(b);
  onyx_free_aligned(c);
}

int main(int argc, char **argv) {
  puts("name,variant,shape,threads,ns_per_iter,gflops");
  if (argc >= 4) {
    int64_t m = atoll(argv[1]), n = atoll(argv[2]), k = atoll(argv[3]);
    int t = argc > 4 ? atoi(argv[4]) : 1;
    const cpu_sgemm_isa *isa = argc > 5 ? cpu_sgemm_isa_named(argv[5]) : cpu_sgemm_isa_best();
    if (!isa) {
      fprintf(stderr, "isa not available\n");
      return 1;
    }
    bench(isa, m, n, k, t, 0);
    bench(isa, m, n, k, t, 1);
    bench(isa, m, n, k, t, 2);
    return 0;
  }
  const char *names[] = {"avx512", "avx2", "scalar"};
  int cores = onyx_available_cores();
  for (int i = 0; i < 3; i++) {
    const cpu_sgemm_isa *isa = cpu_sgemm_isa_named(names[i]);
    if (!isa) continue;
    bench(isa, 512, 512, 512, 1, 0);
    bench(isa, 512, 512, 512, 1, 1);
    if (i == 2) continue;
    bench(isa, 64, 3136, 576, 1, 1);   /* 3x3 conv, 64 ch, 56x56 */
    bench(isa, 256, 784, 128, 1, 1);   /* 1x1 conv */
    if (cores > 1) {
      bench(isa, 512, 512, 512, cores, 0);
      bench(isa, 1024, 1024, 1024, cores, 1);
    }
  }
  return 0;
}
