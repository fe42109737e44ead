/* gemm_grid.c — thread count and block grid of the GEMM engines (see
 * gemm_grid.h). */
#include "gemm_grid.h"

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int cpu_gemm_threads(const onyx_threadpool *pool, double macs, double min_per_thread) {
  int nt = pool ? pool->nthreads : 1;
  double useful = macs / min_per_thread;
  if (useful < nt) nt = useful < 1 ? 1 : (int)useful;
  return nt;
}

cpu_gemm_grid cpu_gemm_grid_plan(int nt, int64_t m, int64_t n, int mr, int nr) {
  cpu_gemm_grid g = {m, n, 1, 1, m, n};
  int64_t best_area = -1, best_perim = 0;
  for (int tm = 1; tm <= nt; tm++) {
    if (nt % tm) continue;
    int tn = nt / tm;
    int64_t mb = round_up((m + tm - 1) / tm, mr), nb = round_up((n + tn - 1) / tn, nr);
    /* a grid whose last row or column of blocks would be empty */
    if ((tm > 1 && mb * (tm - 1) >= m) || (tn > 1 && nb * (tn - 1) >= n)) continue;
    int64_t area = mb * nb, perim = mb + nb;
    if (best_area < 0 || area < best_area || (area == best_area && perim < best_perim)) {
      best_area = area;
      best_perim = perim;
      g.tm = tm;
      g.tn = tn;
      g.mb = mb;
      g.nb = nb;
    }
  }
  return g;
}

typedef struct grid_task {
  const cpu_gemm_grid *g;
  cpu_gemm_block_fn fn;
  const void *ctx;
  char *ws;
  size_t ws_bytes;
} grid_task;

static void grid_run(void *arg, size_t begin, size_t end, int tid) {
  const grid_task *t = arg;
  const cpu_gemm_grid *g = t->g;
  for (size_t i = begin; i < end; i++) {
    int64_t r0 = (int64_t)(i / (size_t)g->tn) * g->mb, c0 = (int64_t)(i % (size_t)g->tn) * g->nb;
    t->fn(t->ctx, r0, min64(g->mb, g->m - r0), c0, min64(g->nb, g->n - c0),
          t->ws + (size_t)tid * t->ws_bytes);
  }
}

void cpu_gemm_grid_run(const cpu_gemm_grid *g, cpu_gemm_block_fn fn, const void *ctx, void *ws,
                       size_t ws_bytes) {
  int tasks = g->tm * g->tn;
  grid_task t = {g, fn, ctx, ws, ws_bytes};
  onyx_threadpool sub = {tasks};
  onyx_parallel_for(tasks > 1 ? &sub : NULL, (size_t)tasks, 1, grid_run, &t);
}
