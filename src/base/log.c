/* log.c — leveled logging; the threshold is one atomic, read on each call. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int threshold = ONYX_LOG_WARNING;

void onyx_set_log_level(onyx_log_level level) { atomic_store(&threshold, (int)level); }

int onyx_log_enabled(onyx_log_level level) { return (int)level >= atomic_load(&threshold); }

void onyx_log(onyx_log_level level, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warning", "error", "none"};
  if (!onyx_log_enabled(level)) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "onyx [%s] %s\n", names[level], buf);
}
