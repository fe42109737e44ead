/* clock.h — the monotonic clock every timing in onyx reads (profiles,
 * optimizer pass times, device-side marks). */
#ifndef ONYX_BASE_CLOCK_H
#define ONYX_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic clock in nanoseconds. */
static inline int64_t onyx_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
