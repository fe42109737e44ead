/* log.h — process-wide leveled logging to stderr. */
#ifndef ONYX_BASE_LOG_H
#define ONYX_BASE_LOG_H

#include "onyx.h"
#include "status.h"

void onyx_log(onyx_log_level level, const char *fmt, ...) ONYX_PRINTF(2, 3);
int onyx_log_enabled(onyx_log_level level);

#endif
