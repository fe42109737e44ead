/* samples.h — sample inputs from a folder of .npy or .npz files (or one
 * .npy file for a model with one input), for `onyx quantize --calibration
 * DIR`, `onyx compare --data DIR` and `onyx report`.
 *
 * Layout: .npz files in DIR, each archive (np.savez) one sample or batch
 * with an array per input name; or .npy files: for a model with one input,
 * DIR holds them (DIR/<input>/ also works); with several inputs,
 * DIR/<input>/ holds each input's files, matched across inputs by sorted
 * file name. .npz files in DIR take precedence. An array holds one sample (the input's shape
 * without the batch dim, or with batch 1) or a batch of them; batches are
 * cut into the model's fixed batch size, or into chunks of at most
 * `max_batch` rows when the batch dim is free. */
#ifndef ONYX_TOOLS_SAMPLES_H
#define ONYX_TOOLS_SAMPLES_H

#include <stdbool.h>
#include <stdint.h>

#include "onyx.h"

typedef struct samples_input {
  char *name;
  int rank;           /* the model's rank for the input */
  int64_t batch;      /* fixed batch dim, or -1 when free */
  int n_files;
  char **files;       /* full paths, sorted (.npz: every input lists the same) */
  onyx_tensor *cur;   /* the file being cut, or NULL */
} samples_input;

typedef struct samples {
  int n_inputs;
  samples_input *in;
  int file;           /* index of the current file */
  int64_t row;        /* next row of the current file */
  int64_t limit;      /* most rows to hand out (<= 0: all) */
  int64_t given;      /* rows handed out so far */
  int64_t max_batch;
  bool npz;           /* the files are .npz archives */
} samples;

/* Whether `path` is something samples_open can read (a folder, or a .npy
 * file), for commands that check their arguments before any work. */
bool samples_path_ok(const char *path);
/* Lists DIR for the inputs of session s. Returns 0, or prints the error
 * line and returns the exit status. */
int samples_open(samples *sp, const char *dir, onyx_session *s, int64_t limit, int64_t max_batch);
void samples_close(samples *sp);
/* The next chunk: inputs[i] receive new tensors (caller owns); *done is set
 * when there is none. names[i] are the input names. */
onyx_status *samples_next(samples *sp, onyx_tensor **inputs, int *done);
/* For onyx_quant_options_set_calibration_reader. */
onyx_status *samples_reader(void *arg, int n_inputs, const char *const *names, onyx_tensor **inputs, int *done);

#endif
