/* parallel.c — onyx_parallel_for on OpenMP (see parallel.h for why). Its
 * regions keep workers that OpenMP started anew placed as the placement the
 * caller is inside says (affinity.h). */
#include "parallel.h"

#include <sched.h>
#include <string.h>

#include "affinity.h"
#include "log.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int onyx_available_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

void onyx_parallel_for(const onyx_threadpool *pool, size_t n, size_t grain,
                       onyx_range_fn fn, void *arg) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  size_t max_chunks = (n + grain - 1) / grain;
  int nt = pool ? pool->nthreads : 1;
  if ((size_t)nt > max_chunks) nt = (int)max_chunks;
#ifdef _OPENMP
  if (nt > 1 && !omp_in_parallel()) {
    /* Under a placement the team keeps the placement's size, since OpenMP ends
     * the threads a smaller region leaves out and the ones it starts anew
     * are not placed (affinity.h); the threads past nt get no range. */
    const onyx_placement *placement = onyx_placement_current();
    int team = placement && placement->nthreads > nt ? placement->nthreads : nt;
#pragma omp parallel num_threads(team)
    {
      int t = omp_get_thread_num();
      int T = omp_get_num_threads() < nt ? omp_get_num_threads() : nt;
      int err = placement ? onyx_placement_place_worker(placement, t) : 0;
      if (err) onyx_log(ONYX_LOG_WARNING, "cannot place intra-op thread %d: %s", t, strerror(err));
      /* static, contiguous split: each thread one range, sizes differ by <= 1 */
      size_t base = n / (size_t)T, rem = n % (size_t)T;
      size_t b = (size_t)t * base + ((size_t)t < rem ? (size_t)t : rem);
      size_t e = b + base + ((size_t)t < rem ? 1 : 0);
      if (t < T && b < e) fn(arg, b, e, t);
    }
    return;
  }
#endif
  fn(arg, 0, n, 0);
}
