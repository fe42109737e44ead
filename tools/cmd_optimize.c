/* cmd_optimize.c — `onyx optimize`: runs the graph optimizer on a model
 * and writes the result as ONNX, printing what each pass did. At -O 1 the
 * output is standard ONNX that other runtimes load; at 2 and 3 it holds
 * ai.onyx fused ops only onyx runs. Uses the public API only. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: onyx optimize MODEL -o OUT [-O 0|1|2|3] [--passes a,b] [--disable a,b]\n"
    "                     [--providers LIST] [--quiet]\n"
    "\n"
    "Optimizes MODEL (.onnx) as a session would and writes it to OUT.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT   where to write the optimized model (required)\n"
    "  -O, --level N      0 none, 1 basic (standard ONNX out), 2 extended (ai.onyx\n"
    "                     fused ops), 3 all (default 3); also written -ON or\n"
    "                     --opt-level N\n"
    "  --passes LIST      run only these passes (comma-separated)\n"
    "  --disable LIST     skip these passes\n"
    "  --providers LIST   the providers the model will run on (default: all\n"
    "                     available): the ai.onyx fusions are cpu fusions and\n"
    "                     leave nodes a provider before cpu takes to it\n"
    "  --list-passes      print the built-in passes and exit\n"
    "  --quiet            print nothing on success\n"
    "  -h, --help         show this help\n";

void cli_print_optimize_stats(const onyx_optimize_stats *st) {
  printf("optimization level %d: %lld -> %lld nodes\n", st->level, (long long)st->nodes_before,
         (long long)st->nodes_after);
  printf("  %-32s %5s %5s %8s %8s %6s %6s %9s\n", "pass", "level", "runs", "removed", "added", "fused",
         "folded", "ms");
  for (int i = 0; i < st->n_passes; i++) {
    const onyx_pass_stat *p = &st->passes[i];
    printf("  %-32s %5d %5lld %8lld %8lld %6lld %6lld %9.2f\n", p->name, p->level, (long long)p->runs,
           (long long)p->nodes_removed, (long long)p->nodes_added, (long long)p->fused,
           (long long)p->folded, (double)p->ns / 1e6);
  }
}

int cmd_optimize(int argc, char **argv) {
  const char *path = NULL, *out = NULL, *only = NULL, *disable = NULL, *providers = NULL, *v;
  int64_t level = 3;
  bool quiet = false, used;
  int rc;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--list-passes")) {
      printf("%s\n", onyx_optimizer_passes());
      return 0;
    }
    if ((rc = cli_level_option(argc, argv, &i, &level, &used))) return rc;
    if (used) continue;
    if (!strcmp(argv[i], "--quiet")) {
      quiet = true;
    } else if (cli_option(argc, argv, &i, "-o", &v) || cli_option(argc, argv, &i, "--output", &v)) {
      if (!v) return cli_usage_error("-o needs a file name");
      out = v;
    } else if (cli_option(argc, argv, &i, "--passes", &v)) {
      if (!v) return cli_usage_error("--passes needs a list");
      only = v;
    } else if (cli_option(argc, argv, &i, "--providers", &v)) {
      if (!v) return cli_usage_error("--providers needs a list");
      providers = v;
    } else if (cli_option(argc, argv, &i, "--disable", &v)) {
      if (!v) return cli_usage_error("--disable needs a list");
      disable = v;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("unknown option '%s' (see onyx optimize --help)", argv[i]);
    } else if (path) {
      return cli_usage_error("unexpected argument '%s' (the model is '%s')", argv[i], path);
    } else {
      path = argv[i];
    }
  }
  if (!path || !out) return cli_usage_error("usage: onyx optimize MODEL -o OUT [-O 0|1|2|3]");

  onyx_options *o = NULL;
  onyx_model *m = NULL;
  onyx_optimize_stats st;
  onyx_status *s = onyx_options_create(&o);
  if (!s) {
    onyx_options_set_optimization_level(o, (int)level);
    s = onyx_options_set_passes(o, only);
  }
  if (!s) s = onyx_options_disable_passes(o, disable);
  if (!s && providers) s = onyx_options_set_providers(o, providers);
  if (!s) s = onyx_model_load(path, &m);
  if (!s) s = onyx_model_optimize(m, o, &st);
  if (!s) s = onyx_model_save(m, out);
  onyx_model_destroy(m);
  onyx_options_destroy(o);
  if (s) return cli_fail_status(s);
  if (!quiet) {
    cli_print_optimize_stats(&st);
    printf("wrote %s\n", out);
  }
  return 0;
}
