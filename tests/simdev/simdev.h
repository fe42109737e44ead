/* simdev.h — a test-only execution provider that behaves like a discrete
 * accelerator, simulated on the host, so the device framework (memory
 * spaces, copies, asynchronous runs, I/O binding, fallback, recovery) is
 * tested on machines without one.
 *
 * - Memory: a pool the host cannot touch. It is one memfd mapped twice:
 *   the addresses handed out ("device pointers") are mapped PROT_NONE, so
 *   any host code that reads or writes device memory faults at once; the
 *   device's own work (kernels, copies) goes through a second, private
 *   read-write mapping of the same pages.
 * - A stream per run: a worker thread executes kernels and copies in
 *   order, after they were queued, so a missing sync shows as wrong results
 *   or a fault; errors surface at sync, as with CUDA.
 * - Kernels: Add, Mul, Relu, MatMul, Conv (float32, the cpu kernels run on
 *   the worker over the device mapping) and Reshape, whose shape input stays
 *   on the host.
 * - Faults: fail the N-th allocation; lose the device at the N-th kernel
 *   (ONYX_ERR_DEVICE from then on, which makes a session re-plan without
 *   the provider); a delay per kernel, to widen races.
 *
 * The provider's name is "simdev" and its memory space "simdev:0". */
#ifndef ONYX_TESTS_SIMDEV_H
#define ONYX_TESTS_SIMDEV_H

#include <stdint.h>

#include "providers/provider.h"

/* A new simulated device with pool_mb MiB of memory (0: 1024). */
onyx_status *simdev_create(int pool_mb, onyx_provider **out);
void simdev_destroy(onyx_provider *p);

/* The n-th allocation from now (1: the next) fails, once (n <= 0: none). */
void simdev_fail_alloc_at(onyx_provider *p, int64_t n);
/* The n-th kernel queued from now (1: the next) loses the device (n <= 0: never). */
void simdev_lose_device_at(onyx_provider *p, int64_t n);
/* Sleeps us microseconds before each kernel on the device. */
void simdev_set_kernel_delay(onyx_provider *p, int us);

/* What the device did so far. */
typedef struct simdev_counts {
  int64_t kernels, copies_in, copies_out, copies_on, allocs, frees;
  int64_t bytes_in, bytes_out;
} simdev_counts;
void simdev_get_counts(onyx_provider *p, simdev_counts *out);

/* A device pointer as the device's own mapping sees it (for tests that
 * check the contents of device memory without going through a copy). */
void *simdev_view(onyx_provider *p, const void *device_ptr);

#endif
