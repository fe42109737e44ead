/* cli.h — what the `onyx` subcommands share: their entry points (one file
 * each, dispatched by main.c) and the helpers in cli_util.c for argument
 * parsing and the one-line error contract.
 *
 * The contract scripts rely on: a command succeeds with exit status 0; on
 * any failure it prints exactly one line `onyx: error: <message>` to stderr
 * and exits 1 (2 for a usage error: unknown option, missing argument). */
#ifndef ONYX_TOOLS_CLI_H
#define ONYX_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "onyx.h"

#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/* Subcommands: argv[0] is the subcommand's name. Return the exit status. */
int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Prints what each optimizer pass did (cmd_optimize.c; also used by
 * `onyx inspect --stage optimized`). */
void cli_print_optimize_stats(const onyx_optimize_stats *st);

/* Prints `onyx: error: <message>` and returns CLI_EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same with CLI_EXIT_USAGE, for bad command lines. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the status's message as the error line, frees s, returns
 * CLI_EXIT_FAILURE. */
int cli_fail_status(onyx_status *s);

/* True when argv[*i] is option `name`, given either as "--name VALUE" or
 * "--name=VALUE"; then *value is set and *i advanced past what was used.
 * A missing VALUE sets *value to NULL (the caller reports it). */
bool cli_option(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole decimal integer in [lo, hi]. */
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* Parses "1,2,8": at most `max` distinct integers in [lo, hi] into out[],
 * their count into *n; false on anything else (empty items too). */
bool cli_parse_int_list(const char *s, int64_t lo, int64_t hi, int max, int64_t *out, int *n);
/* Parses a decimal number of seconds in [lo, hi]. */
bool cli_parse_seconds(const char *s, double lo, double hi, double *out);

/* Top-1 accuracy helpers for outputs seen as [rows, width] (scores over the
 * last dim) and int32/int64 class labels. */
int64_t cli_argmax_row(const onyx_tensor *t, int64_t row, int64_t width);   /* first on ties */
int64_t cli_label(const onyx_tensor *labels, int64_t i);
/* How many of the first `rows` rows have their argmax equal to their label. */
int64_t cli_count_correct(const onyx_tensor *t, int64_t width, int64_t rows, const onyx_tensor *labels);

/* True for "-h" and "--help". */
bool cli_is_help(const char *arg);

/* The optimization level option of every command that takes one, in all
 * its spellings: -O N, -ON, --level N, --opt-level N (and the =N forms).
 * When argv[*i] is one, consumes it (and its value) into *level (0..3) and
 * sets *used; returns CLI_EXIT_USAGE, with the error line printed, for a
 * bad or missing value, else 0. */
int cli_level_option(int argc, char **argv, int *i, int64_t *level, bool *used);

/* The session flags of the commands that run a model (run, bench):
 * --threads, --providers, the level (cli_level_option), --disable,
 * --affinity, --numa-node, --provider-option. */
typedef struct cli_session_flags {
  int64_t threads;          /* 0: one per core */
  int64_t opt_level;        /* -1: the library's default */
  const char *providers;    /* borrowed from argv; NULL: the default list */
  const char *affinity;     /* borrowed from argv; NULL: none */
  int64_t numa_node;        /* -1: none */
  const char *disable;      /* optimizer passes to skip (argv); NULL: none */
  int n_provider_options;
  const char *provider_options[8]; /* PROVIDER:KEY=VALUE, borrowed from argv */
} cli_session_flags;

/* Their lines in the commands' --help. */
#define CLI_SESSION_FLAGS_HELP                                                      \
  "  --threads N            intra-op threads (default 0: one per core)\n"           \
  "  --providers LIST       execution providers in priority order, e.g. dnnl,cpu\n" \
  "                         (default: the library's; see onyx info)\n"              \
  "  -O, --opt-level N      graph optimization level 0-3 (default 3); also\n"     \
  "                         written -ON or --level N\n"                           \
  "  --affinity SPEC        pin the intra-op threads: none (default), compact,\n"   \
  "                         scatter, or one CPU group per thread, e.g. 0;1 or\n"    \
  "                         0-3;4-7 (Linux CPU numbers; sets the thread count)\n"   \
  "  --numa-node N          run on NUMA node N's CPUs and allocate its memory\n"    \
  "                         there (needs libnuma; see onyx info)\n"               \
  "  --disable LIST         skip these optimizer passes (comma-separated;\n"      \
  "                         e.g. memory_order, see onyx optimize --help)\n"       \
  "  --provider-option P:K=V  option K of provider P, ORT-style, e.g.\n"          \
  "                         dnnl:precision=bf16 (repeatable)\n"

/* When argv[*i] is one of the session flags, consumes it (and its value)
 * into f and sets *used; returns a usage status for a bad value. Start f as
 * CLI_SESSION_FLAGS_INIT. */
#define CLI_SESSION_FLAGS_INIT {0, -1, NULL, NULL, -1, NULL, 0, {NULL}}
int cli_session_option(cli_session_flags *f, int argc, char **argv, int *i, bool *used);
/* Applies f to opts with `threads` intra-op threads (a sweep overrides
 * f->threads). Returns 0, or prints the error line and returns the status. */
int cli_session_apply(const cli_session_flags *f, int64_t threads, onyx_options *opts);

/* A session's nodes per provider, providers in order of first appearance
 * (names copied: the figures may outlive the session). */
#define CLI_MAX_PROVIDERS 16
typedef struct cli_provider_nodes {
  int n;
  char name[CLI_MAX_PROVIDERS][32];
  int nodes[CLI_MAX_PROVIDERS];
} cli_provider_nodes;
void cli_count_providers(const onyx_session *s, cli_provider_nodes *out);

/* Writes str to f as a JSON string literal (quotes and escapes included;
 * bytes that are not valid UTF-8 become U+FFFD, so the output always parses). */
void cli_json_string(FILE *f, const char *str);

#endif
