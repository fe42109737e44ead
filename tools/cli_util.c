/* cli_util.c — helpers shared by the `onyx` subcommands: the error line,
 * option matching, strict integer parsing, the optimization level in all its
 * spellings, the session flags of the commands that run a model (thread
 * placement included), a session's nodes per provider, and JSON string
 * literals for --json output (see cli.h). Strictness is the point: a script
 * that passes "--threads 4x" should hear about it rather than run with a
 * guess. */
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

bool cli_parse_int_list(const char *s, int64_t lo, int64_t hi, int max, int64_t *out, int *n) {
  char buf[512];
  if (!s || !*s || strlen(s) >= sizeof buf) return false;
  strcpy(buf, s);
  *n = 0;
  for (char *item = buf, *next; item; item = next) {
    next = strchr(item, ',');
    if (next) *next++ = '\0';
    if (*n == max || !cli_parse_int(item, lo, hi, &out[*n])) return false;
    for (int k = 0; k < *n; k++)
      if (out[k] == out[*n]) return false;
    ++*n;
  }
  return true;
}

bool cli_parse_seconds(const char *s, double lo, double hi, double *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

int64_t cli_argmax_row(const onyx_tensor *t, int64_t row, int64_t width) {
  int64_t best = 0;
  double top = onyx_tensor_get_f64(t, row * width);
  for (int64_t k = 1; k < width; k++) {
    double v = onyx_tensor_get_f64(t, row * width + k);
    if (v > top) top = v, best = k;
  }
  return best;
}

int64_t cli_label(const onyx_tensor *labels, int64_t i) { return (int64_t)onyx_tensor_get_f64(labels, i); }

int64_t cli_count_correct(const onyx_tensor *t, int64_t width, int64_t rows, const onyx_tensor *labels) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; r++) correct += cli_argmax_row(t, r, width) == cli_label(labels, r);
  return correct;
}

bool cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int cli_level_option(int argc, char **argv, int *i, int64_t *level, bool *used) {
  const char *a = argv[*i], *v = NULL;
  *used = true;
  int name_len = 2;   /* of the spelling used, for the message */
  if (!strncmp(a, "-O", 2) && a[2] && a[2] != '=') {
    v = a + 2;   /* -O3 */
  } else if (cli_option(argc, argv, i, "-O", &v) || cli_option(argc, argv, i, "--level", &v) ||
             cli_option(argc, argv, i, "--opt-level", &v)) {
    name_len = (int)strcspn(a, "=");
  } else {
    *used = false;
    return 0;
  }
  if (!cli_parse_int(v, 0, 3, level))
    return cli_usage_error("%.*s expects an optimization level 0..3 (none, basic, extended, all), got '%s'",
                           name_len, a, v ? v : "");
  return 0;
}

int cli_session_option(cli_session_flags *f, int argc, char **argv, int *i, bool *used) {
  const char *v = NULL;
  *used = true;
  if (cli_option(argc, argv, i, "--threads", &v)) {
    if (!cli_parse_int(v, 0, 4096, &f->threads))
      return cli_usage_error("--threads expects an integer in 0..4096, got '%s'", v ? v : "");
  } else if (cli_option(argc, argv, i, "--providers", &v)) {
    if (!v || !*v) return cli_usage_error("--providers needs a comma-separated list");
    f->providers = v;
  } else if (cli_option(argc, argv, i, "--affinity", &v)) {
    if (!v || !*v) return cli_usage_error("--affinity needs none, compact, scatter or CPU groups like 0;1");
    /* the library's parser says what is wrong with a spec; a bad command
     * line is a usage error, so ask it now rather than at session time */
    onyx_options *o;
    onyx_status *st = onyx_options_create(&o);
    if (!st) st = onyx_options_set_thread_affinity(o, v);
    onyx_options_destroy(o);
    if (st) {
      int rc = cli_usage_error("--affinity: %s", onyx_status_message(st));
      onyx_status_free(st);
      return rc;
    }
    f->affinity = v;
  } else if (cli_option(argc, argv, i, "--numa-node", &v)) {
    if (!cli_parse_int(v, 0, INT32_MAX, &f->numa_node))
      return cli_usage_error("--numa-node expects a node number (0, 1, ...), got '%s'", v ? v : "");
  } else if (cli_option(argc, argv, i, "--disable", &v)) {
    if (!v) return cli_usage_error("--disable needs a comma-separated list of passes");
    f->disable = v;
  } else if (cli_option(argc, argv, i, "--provider-option", &v)) {
    const char *colon = v ? strchr(v, ':') : NULL, *eq = colon ? strchr(colon, '=') : NULL;
    if (!colon || colon == v || !eq || eq == colon + 1)
      return cli_usage_error("--provider-option expects PROVIDER:KEY=VALUE, got '%s'", v ? v : "");
    if (f->n_provider_options == (int)(sizeof f->provider_options / sizeof *f->provider_options))
      return cli_usage_error("--provider-option given more than %d times", f->n_provider_options);
    f->provider_options[f->n_provider_options++] = v;
  } else {
    return cli_level_option(argc, argv, i, &f->opt_level, used);
  }
  return 0;
}

int cli_session_apply(const cli_session_flags *f, int64_t threads, onyx_options *opts) {
  onyx_options_set_intra_op_threads(opts, (int)threads);
  if (f->opt_level >= 0) onyx_options_set_optimization_level(opts, (int)f->opt_level);
  onyx_status *st = f->providers ? onyx_options_set_providers(opts, f->providers) : NULL;
  if (!st && f->affinity) st = onyx_options_set_thread_affinity(opts, f->affinity);
  if (!st && f->numa_node >= 0) st = onyx_options_set_numa_node(opts, (int)f->numa_node);
  if (!st && f->disable) st = onyx_options_disable_passes(opts, f->disable);
  for (int k = 0; !st && k < f->n_provider_options; k++) {
    /* PROVIDER:KEY=VALUE, checked by cli_session_option */
    const char *o = f->provider_options[k], *colon = strchr(o, ':'), *eq = strchr(colon, '=');
    char prov[64], key[128];
    snprintf(prov, sizeof prov, "%.*s", (int)(colon - o), o);
    snprintf(key, sizeof key, "%.*s", (int)(eq - colon - 1), colon + 1);
    st = onyx_options_set_provider_option(opts, prov, key, eq + 1);
  }
  return st ? cli_fail_status(st) : 0;
}

void cli_count_providers(const onyx_session *s, cli_provider_nodes *out) {
  out->n = 0;
  for (int i = 0; i < onyx_session_node_count(s); i++) {
    onyx_node_info ni;
    onyx_status_free(onyx_session_node_info(s, i, &ni));   /* i is in range */
    int k = 0;
    while (k < out->n && strcmp(out->name[k], ni.provider)) k++;
    if (k == out->n) {
      if (out->n == CLI_MAX_PROVIDERS) continue;
      snprintf(out->name[out->n], sizeof out->name[0], "%s", ni.provider);
      out->nodes[out->n++] = 0;
    }
    out->nodes[k]++;
  }
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *s) {
  int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
        : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
  if (!n || (n == 2 && s[0] < 0xc2) || (n == 4 && s[0] > 0xf4)) return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
  if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
  return n;
}

void cli_json_string(FILE *f, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', f);
  while (*s) {
    int n = utf8_len(s);
    if (!n) {
      fputs("\\ufffd", f);
      s++;
    } else if (*s == '"' || *s == '\\') {
      fprintf(f, "\\%c", *s++);
    } else if (*s == '\n') {
      fputs("\\n", f), s++;
    } else if (*s == '\t') {
      fputs("\\t", f), s++;
    } else if (*s < 0x20 || *s == 0x7f) {
      fprintf(f, "\\u%04x", *s++);
    } else {
      fwrite(s, 1, (size_t)n, f);
      s += n;
    }
  }
  fputc('"', f);
}
