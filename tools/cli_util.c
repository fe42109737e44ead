/* cli_util.c — helpers shared by the `onyx` subcommands: the error line,
 * option matching and strict integer parsing (see cli.h). Strictness is the
 * point: a script that passes "--threads 4x" should hear about it rather
 * than run with a guess. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void error_line(const char *fmt, va_list ap) {
  fputs("onyx: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_line(fmt, ap);
  va_end(ap);
  return CLI_EXIT_FAILURE;
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_line(fmt, ap);
  va_end(ap);
  return CLI_EXIT_USAGE;
}

int cli_fail_status(onyx_status *s) {
  /* Messages are one line by convention; keep the contract even if one is not. */
  const char *msg = onyx_status_message(s);
  size_t n = strcspn(msg, "\n");
  if (n) cli_fail("%.*s", (int)n, msg);
  else cli_fail("%s", onyx_code_name(onyx_status_code(s)));
  onyx_status_free(s);
  return CLI_EXIT_FAILURE;
}

bool cli_option(int argc, char **argv, int *i, const char *name, const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n)) return false;
  if (a[n] == '=') {
    *value = a + n + 1;
    return true;
  }
  if (a[n]) return false;
  *value = *i + 1 < argc ? argv[++*i] : NULL;
  return true;
}

bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }
