/* status.c — the status object: a code plus a heap message. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

struct onyx_status {
  onyx_code code;
  int is_static;
  char *msg;
};

static char oom_msg[] = "out of memory";
static onyx_status oom_status = {ONYX_ERR_OUT_OF_MEMORY, 1, oom_msg};

onyx_status *onyx_error_oom(void) { return &oom_status; }

static onyx_status *make_status(onyx_code code, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  onyx_status *s = onyx_malloc(sizeof *s);
  char *msg = onyx_malloc((size_t)n + 1);
  if (!s || !msg) {
    onyx_free(s);
    onyx_free(msg);
    return &oom_status;
  }
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  s->code = code;
  s->is_static = 0;
  s->msg = msg;
  return s;
}

onyx_status *onyx_error(onyx_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  onyx_status *s = make_status(code, fmt, ap);
  va_end(ap);
  return s;
}

onyx_status *onyx_error_wrap(onyx_status *s, const char *fmt, ...) {
  if (!s || s->is_static) return s;
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  onyx_status *w = onyx_error(s->code, "%s: %s", prefix, s->msg);
  if (w->is_static) return w == s ? s : (onyx_status_free(s), w);
  onyx_status_free(s);
  return w;
}

onyx_code onyx_status_code(const onyx_status *s) { return s ? s->code : ONYX_OK; }
const char *onyx_status_message(const onyx_status *s) { return s ? s->msg : ""; }

void onyx_status_free(onyx_status *s) {
  if (!s || s->is_static) return;
  onyx_free(s->msg);
  onyx_free(s);
}

const char *onyx_code_name(onyx_code c) {
  switch (c) {
    case ONYX_OK: return "OK";
    case ONYX_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ONYX_ERR_INVALID_MODEL: return "INVALID_MODEL";
    case ONYX_ERR_NOT_FOUND: return "NOT_FOUND";
    case ONYX_ERR_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ONYX_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case ONYX_ERR_IO: return "IO";
    case ONYX_ERR_RUNTIME: return "RUNTIME";
    case ONYX_ERR_DEVICE: return "DEVICE";
    case ONYX_ERR_CANCELLED: return "CANCELLED";
  }
  return "UNKNOWN";
}
