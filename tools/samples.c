/* samples.c — sample inputs from folders of .npy or .npz files (see samples.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "npy.h"
#include "samples.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_dir(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static bool is_npy_file(const char *p) {
  struct stat st;
  size_t n = strlen(p);
  return n > 4 && !strcmp(p + n - 4, ".npy") && !stat(p, &st) && S_ISREG(st.st_mode);
}

/* Sorted full paths of the files in DIR whose names end in ext (".npy",
 * ".npz"); false (with *n = 0) when DIR cannot be read. */
static bool list_files(const char *dir, const char *ext, char ***out, int *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return false;
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len <= strlen(ext) || strcmp(e->d_name + len - strlen(ext), ext)) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nv = realloc(*out, (size_t)cap * sizeof *nv);
      if (!nv) break;
      *out = nv;
    }
    size_t plen = strlen(dir) + len + 2;
    char *p = malloc(plen);
    if (!p) break;
    snprintf(p, plen, "%s/%s", dir, e->d_name);
    (*out)[(*n)++] = p;
  }
  closedir(d);
  if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_str);
  return true;
}

bool samples_path_ok(const char *path) { return is_dir(path) || is_npy_file(path); }

int samples_open(samples *sp, const char *dir, onyx_session *s, int64_t limit, int64_t max_batch) {
  memset(sp, 0, sizeof *sp);
  sp->limit = limit;
  sp->max_batch = max_batch > 0 ? max_batch : 64;
  sp->n_inputs = onyx_session_input_count(s);
  if (!(sp->in = calloc((size_t)sp->n_inputs + 1, sizeof *sp->in))) return cli_fail("out of memory");
  bool one_file = is_npy_file(dir);
  if (one_file && sp->n_inputs != 1)
    return cli_fail("'%s' is one .npy file, but the model has %d inputs (give a folder: DIR/<input>/*.npy or "
                    "DIR/*.npz)", dir, sp->n_inputs);
  if (!one_file && !is_dir(dir)) return cli_fail("'%s' is neither a folder of .npy or .npz files nor a .npy file", dir);
  /* .npz archives in DIR: every input reads its array from the same files */
  char **npz_files;
  int n_npz;
  list_files(dir, ".npz", &npz_files, &n_npz);
  sp->npz = n_npz > 0;
  for (int i = 0; i < n_npz; i++) free(npz_files[i]);
  free(npz_files);
  for (int i = 0; i < sp->n_inputs; i++) {
    onyx_value_info vi;
    onyx_status *st = onyx_session_input_info(s, i, &vi);
    if (st) return cli_fail_status(st);
    samples_input *in = &sp->in[i];
    if (!(in->name = strdup(vi.name))) return cli_fail("out of memory");
    in->rank = vi.rank;
    in->batch = vi.rank > 0 ? vi.dims[0] : -1;
    size_t plen = strlen(dir) + strlen(vi.name) + 2;
    char *sub = malloc(plen);
    if (!sub) return cli_fail("out of memory");
    snprintf(sub, plen, "%s/%s", dir, vi.name);
    if (one_file) {
      if (!(in->files = malloc(sizeof *in->files)) || !(in->files[0] = strdup(dir))) {
        free(sub);
        return cli_fail("out of memory");
      }
      in->n_files = 1;
    } else if (sp->npz) list_files(dir, ".npz", &in->files, &in->n_files);
    else if (is_dir(sub)) list_files(sub, ".npy", &in->files, &in->n_files);
    else if (sp->n_inputs == 1) list_files(dir, ".npy", &in->files, &in->n_files);
    free(sub);
    if (!in->n_files)
      return cli_fail("no .npy files for input '%s' in '%s'%s", vi.name, dir,
                      sp->n_inputs > 1 ? " (a model with several inputs reads DIR/*.npz, or DIR/<input>/*.npy)" : "");
    if (in->n_files != sp->in[0].n_files)
      return cli_fail("input '%s' has %d .npy files but '%s' has %d; files are matched by sorted name",
                      vi.name, in->n_files, sp->in[0].name, sp->in[0].n_files);
  }
  return 0;
}

void samples_close(samples *sp) {
  for (int i = 0; i < sp->n_inputs && sp->in; i++) {
    for (int k = 0; k < sp->in[i].n_files; k++) free(sp->in[i].files[k]);
    free(sp->in[i].files);
    free(sp->in[i].name);
    onyx_tensor_free(sp->in[i].cur);
  }
  free(sp->in);
  memset(sp, 0, sizeof *sp);
}

/* Rows [r0, r0 + n) of t (batch dim first) as a new tensor; a tensor of the
 * model's rank - 1 is one sample and gets a batch dim of 1. */
static onyx_status *cut(const samples_input *in, onyx_tensor *t, int64_t r0, int64_t n, onyx_tensor **out) {
  int rank = onyx_tensor_rank(t);
  const int64_t *d = onyx_tensor_dims(t);
  int64_t dims[ONYX_MAX_RANK];
  if (rank == in->rank - 1) {
    dims[0] = 1;
    memcpy(dims + 1, d, (size_t)rank * sizeof *d);
    rank++;
  } else {
    memcpy(dims, d, (size_t)rank * sizeof *d);
    dims[0] = n;
  }
  onyx_status *s = onyx_tensor_create(onyx_tensor_dtype(t), rank, dims, out);
  if (s) return s;
  size_t row = onyx_tensor_nbytes(*out) / (size_t)(dims[0] ? dims[0] : 1);
  if (row && n) memcpy(onyx_tensor_data(*out), (char *)onyx_tensor_data(t) + row * (size_t)r0, row * (size_t)n);
  return NULL;
}

/* Rows in t as the model sees them (1 for a sample without batch dim). */
static int64_t rows_of(const samples_input *in, onyx_tensor *t) {
  return onyx_tensor_rank(t) == in->rank - 1 ? 1 : onyx_tensor_rank(t) ? onyx_tensor_dims(t)[0] : 1;
}

/* Reads file number sp->file of every input into its `cur`: one .npy file
 * per input, or one .npz archive holding an array per input name. */
static onyx_status *load(samples *sp) {
  char err[600];
  npz z = {0};
  if (sp->npz && !npz_open(sp->in[0].files[sp->file], &z, err, sizeof err))
    return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "%s", err);
  onyx_status *s = NULL;
  for (int i = 0; i < sp->n_inputs && !s; i++) {
    samples_input *in = &sp->in[i];
    const char *path = in->files[sp->file];
    char msg[512];
    if (sp->npz ? !npz_get(&z, in->name, &in->cur, msg, sizeof msg) : !npy_load(path, &in->cur, msg, sizeof msg)) {
      s = sp->npz ? onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "'%s': %s", path, msg)
                  : onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "%s", msg);
      break;
    }
    int r = onyx_tensor_rank(in->cur);
    if (r != in->rank && r != in->rank - 1)
      s = onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "'%s' has rank %d; input '%s' has rank %d", path, r,
                             in->name, in->rank);
  }
  if (sp->npz) npz_close(&z);
  return s;
}

onyx_status *samples_next(samples *sp, onyx_tensor **inputs, int *done) {
  *done = 0;
  for (;;) {
    if (sp->limit > 0 && sp->given >= sp->limit) break;
    if (sp->file >= sp->in[0].n_files) break;
    samples_input *first = &sp->in[0];
    if (!first->cur) {
      onyx_status *s = load(sp);
      if (s) return s;
      sp->row = 0;
    }
    int64_t rows = rows_of(first, first->cur);
    if (sp->row >= rows) {
      for (int i = 0; i < sp->n_inputs; i++) {
        onyx_tensor_free(sp->in[i].cur);
        sp->in[i].cur = NULL;
      }
      sp->file++;
      continue;
    }
    int64_t n = first->batch > 0 ? first->batch : sp->max_batch;
    if (n > rows - sp->row) n = rows - sp->row;
    if (sp->limit > 0 && n > sp->limit - sp->given && first->batch <= 0) n = sp->limit - sp->given;
    for (int i = 0; i < sp->n_inputs; i++) {
      samples_input *in = &sp->in[i];
      if (rows_of(in, in->cur) < sp->row + n)
        return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "'%s' has fewer rows than '%s'", in->files[sp->file],
                          first->files[sp->file]);
      onyx_status *s = cut(in, in->cur, sp->row, n, &inputs[i]);
      if (s) {
        for (int k = 0; k < i; k++) onyx_tensor_free(inputs[k]), inputs[k] = NULL;
        return s;
      }
    }
    sp->row += n;
    sp->given += n;
    return NULL;
  }
  *done = 1;
  return NULL;
}

onyx_status *samples_reader(void *arg, int n_inputs, const char *const *names, onyx_tensor **inputs, int *done) {
  samples *sp = arg;
  /* the library asks in the model's input order, which is the session's */
  for (int i = 0; i < n_inputs; i++)
    if (n_inputs != sp->n_inputs || strcmp(names[i], sp->in[i].name))
      return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "calibration asks for input '%s', which the data folder does not hold", names[i]);
  return samples_next(sp, inputs, done);
}
