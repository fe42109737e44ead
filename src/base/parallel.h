/* parallel.h — the one parallel primitive of onyx.
 *
 * Implemented on OpenMP because Debian's oneDNN runs on libgomp: one threading
 * runtime per process avoids two pools spinning against each other. A pool is
 * only a thread budget; it is immutable after creation and may be shared by
 * concurrent runs (each caller thread gets its own OpenMP team). */
#ifndef ONYX_BASE_PARALLEL_H
#define ONYX_BASE_PARALLEL_H

#include <stddef.h>

typedef struct onyx_threadpool {
  int nthreads;   /* >= 1 */
} onyx_threadpool;

/* fn(arg, begin, end, tid) is called on disjoint chunks covering [0, n);
 * chunks have at least `grain` items (except the last). With pool NULL or one
 * thread, or n <= grain, runs inline on the caller. tid < pool->nthreads. */
typedef void (*onyx_range_fn)(void *arg, size_t begin, size_t end, int tid);
void onyx_parallel_for(const onyx_threadpool *pool, size_t n, size_t grain,
                       onyx_range_fn fn, void *arg);

/* Number of cores this process may run on (sched affinity), at least 1. */
int onyx_available_cores(void);

#endif
