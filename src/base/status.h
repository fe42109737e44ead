/* status.h — building onyx_status values inside the library.
 *
 * A status is NULL on success. onyx_error() formats a message; when memory for
 * the status itself cannot be had it returns a preallocated out-of-memory
 * status (freeing it is a no-op), so an error is never lost. */
#ifndef ONYX_BASE_STATUS_H
#define ONYX_BASE_STATUS_H

#include "onyx.h"

#if defined(__GNUC__)
#define ONYX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ONYX_PRINTF(a, b)
#endif

/* Returns a new status with `code` and a printf-formatted message. */
onyx_status *onyx_error(onyx_code code, const char *fmt, ...) ONYX_PRINTF(2, 3);
/* The shared out-of-memory status (never freed). */
onyx_status *onyx_error_oom(void);
/* Returns a new status with the same code whose message is "prefix: old";
 * frees `s`. Used to add context (model, node) as an error travels up. */
onyx_status *onyx_error_wrap(onyx_status *s, const char *fmt, ...) ONYX_PRINTF(2, 3);

#define ONYX_TRY(expr)                  \
  do {                                  \
    onyx_status *s_try_ = (expr);       \
    if (s_try_) return s_try_;          \
  } while (0)

#endif
