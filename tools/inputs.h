/* inputs.h — model inputs for the subcommands that run a model (`onyx run`,
 * `onyx bench`): the -i NAME=FILE, --dim NAME=VALUE and --seed N options, reading
 * .npy / ONNX .pb files, and seeded random data for the inputs not given.
 *
 * One module so that run and bench feed a model exactly the same way: a
 * benchmark of `onyx bench` measures what `onyx run` computes. The order of
 * use is: inputs_option for each argument, then inputs_load once the model
 * is loaded (checks names, reads files, binds symbolic dims), then
 * inputs_make_random (again after inputs_set_batch to change the batch).
 * Errors are printed as the CLI's one line; the functions return the exit
 * status (0 on success). */
#ifndef ONYX_TOOLS_INPUTS_H
#define ONYX_TOOLS_INPUTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "onyx.h"

/* One -i NAME=FILE; the strings are borrowed from argv. */
typedef struct cli_feed {
  const char *name, *path;
} cli_feed;

/* A symbolic dim's size: from --dim or bound by a fed input. name is
 * borrowed from argv or from the declared inputs below. */
typedef struct cli_sym {
  const char *name;
  int64_t value;
} cli_sym;

typedef struct cli_inputs {
  /* from the command line */
  int n_feeds, n_syms, cap_syms;
  cli_feed *feeds;
  cli_sym *syms;
  uint64_t seed;          /* random data; the same seed gives the same data */
  int64_t unnamed_batch;  /* > 0: size of input 0's first dim when it is not
                             fixed and has no name (inputs_set_batch) */
  /* the model's declared inputs, copied: name and dim_names are owned here,
   * so the inputs outlive the model they came from */
  int n_decl;
  onyx_model_value_info *decl;
  /* what to feed: names[i] -> tensors[i]; the first n_files come from files */
  int n, n_files;
  const char **names;      /* borrowed from feeds or decl */
  onyx_tensor **tensors;   /* owned */
} cli_inputs;

/* Prepares `in` for a command line of argc arguments. */
int inputs_init(cli_inputs *in, int argc);
void inputs_deinit(cli_inputs *in);

/* When argv[*i] is -i/--input, --dim or --seed, consumes it (and its value) and sets
 * *used; returns a usage status for a malformed value. */
int inputs_option(cli_inputs *in, int argc, char **argv, int *i, bool *used);

/* The options `run` and `bench` share: -h/--help (prints `usage`, returns
 * -1), inputs_option's and cli_session_option's; *used says whether
 * argv[*i] was one of them. */
int inputs_run_option(cli_inputs *in, cli_session_flags *session, const char *usage, int argc, char **argv,
                      int *i, bool *used);

/* Reads m's declared inputs, checks that -i and --dim name real inputs and
 * dims, loads the files and binds the symbolic dims they fix. Once only. */
int inputs_load(cli_inputs *in, const onyx_model *m);

/* (Re)makes seeded random data for every declared input not given with -i.
 * Symbolic dims take their --dim value, else the size a fed input bound,
 * else 1. */
int inputs_make_random(cli_inputs *in);

/* Sets the batch, the first dim of the first declared input, for the next
 * inputs_make_random. Fails when that dim is fixed or the input is fed from
 * a file. */
int inputs_set_batch(cli_inputs *in, int64_t batch);

/* The batch of the current inputs: the actual first dim of the first
 * declared input when the model leaves that dim open, else 0 (unknown). */
int64_t inputs_batch(const cli_inputs *in);

/* Splits "NAME=VALUE" in place at the first '='; false when there is none
 * or NAME is empty. */
bool inputs_split_eq(char *s, const char **name, const char **value);

#endif
