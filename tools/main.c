/* main.c — the `onyx` command: global flags and dispatch to one file per
 * subcommand (cmd_<name>.c). The table below is the list of subcommands;
 * adding one is a line here and a declaration in cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"run", cmd_run, "run a model on inputs from files or random data"},
    {"inspect", cmd_inspect, "describe a model: opsets, inputs/outputs, ops, support"},
    {"optimize", cmd_optimize, "optimize a model's graph and write it as ONNX (-O 0..3)"},
    {"bench", cmd_bench, "time a model: latency percentiles, throughput, memory, threads"},
    {"info", cmd_info, "describe this machine: CPU, caches, ISA features, providers"},
    {"quantize", cmd_quantize, "quantize a model to INT8 (dynamic or static, QDQ or QOperator)"},
    {"compare", cmd_compare, "compare two models' outputs (and tensors) on the same inputs"},
    {"report", cmd_report, "measure a model fully and write an HTML report with plots (+ JSON)"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void print_usage(FILE *f) {
  fprintf(f, "usage: onyx <command> [options]   (onyx <command> --help for its options)\n\n"
             "commands:\n");
  for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "  %-10s %s\n\n", "help", "show this help, or a command's: onyx help COMMAND");
  fprintf(f, "options:\n  --version  print the version\n  -h, --help show this help\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version")) {
    printf("onyx %s\n", ONYX_VERSION_STRING);
    return 0;
  }
  if (cli_is_help(cmd) || (!strcmp(cmd, "help") && argc == 2)) {
    print_usage(stdout);
    return 0;
  }
  bool help = !strcmp(cmd, "help");
  if (help) cmd = argv[2];
  for (int i = 0; i < N_COMMANDS; i++) {
    if (strcmp(cmd, commands[i].name)) continue;
    if (help) {
      char *args[] = {argv[2], "--help", NULL};
      return commands[i].fn(2, args);
    }
    return commands[i].fn(argc - 1, argv + 1);
  }
  return cli_usage_error("unknown command '%s' (see onyx --help)", cmd);
}
