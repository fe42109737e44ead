/* inputs.c — model inputs for `onyx run` and `onyx bench` (see inputs.h):
 * -i/--dim parsing, .npy/.pb files, seeded random data.
 *
 * Input names are checked up front (so the message lists the real ones);
 * dtype and shape checks are left to the library, whose message is what the
 * user sees. Symbolic dims of random inputs come from --dim, else from the
 * inputs given in files, else 1, so a model whose inputs share a "batch" dim
 * runs without any flags. */
#include "inputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

int inputs_init(cli_inputs *in, int argc) {
  memset(in, 0, sizeof *in);
  in->feeds = calloc((size_t)argc + 1, sizeof *in->feeds);
  in->syms = calloc((size_t)argc + 1, sizeof *in->syms);
  if (!in->feeds || !in->syms) return cli_fail("out of memory");
  in->cap_syms = argc + 1;
  return 0;
}

void inputs_deinit(cli_inputs *in) {
  for (int i = 0; i < in->n; i++) onyx_tensor_free(in->tensors[i]);
  for (int i = 0; i < in->n_decl; i++) {
    free((char *)in->decl[i].name);
    for (int d = 0; d < in->decl[i].rank; d++) free((char *)in->decl[i].dim_names[d]);
  }
  free(in->tensors);
  free(in->names);
  free(in->decl);
  free(in->feeds);
  free(in->syms);
  memset(in, 0, sizeof *in);
}

static cli_sym *find_sym(const cli_inputs *in, const char *name) {
  for (int i = 0; i < in->n_syms; i++)
    if (!strcmp(in->syms[i].name, name)) return &in->syms[i];
  return NULL;
}

static int add_sym(cli_inputs *in, const char *name, int64_t value) {
  if (in->n_syms == in->cap_syms) {
    cli_sym *p = realloc(in->syms, (size_t)(in->cap_syms * 2) * sizeof *p);
    if (!p) return cli_fail("out of memory");
    in->syms = p;
    in->cap_syms *= 2;
  }
  in->syms[in->n_syms++] = (cli_sym){name, value};
  return 0;
}

bool inputs_split_eq(char *s, const char **name, const char **value) {
  char *eq = strchr(s, '=');
  if (!eq || eq == s) return false;
  *eq = '\0';
  *name = s;
  *value = eq + 1;
  return true;
}

int inputs_run_option(cli_inputs *in, cli_session_flags *session, const char *usage, int argc, char **argv,
                      int *i, bool *used) {
  *used = false;
  if (cli_is_help(argv[*i])) {
    fputs(usage, stdout);
    return -1;
  }
  int rc = inputs_option(in, argc, argv, i, used);
  if (!rc && !*used) rc = cli_session_option(session, argc, argv, i, used);
  return rc;
}

int inputs_option(cli_inputs *in, int argc, char **argv, int *i, bool *used) {
  const char *v = NULL, *opt = argv[*i];
  *used = true;
  if (cli_option(argc, argv, i, "-i", &v) || cli_option(argc, argv, i, "--input", &v)) {
    if (!v) return cli_usage_error("%s needs a value", opt);
    cli_feed *f = &in->feeds[in->n_feeds];
    if (!inputs_split_eq((char *)v, &f->name, &f->path) || !*f->path)
      return cli_usage_error("%s expects NAME=FILE, got '%s'", opt, v);
    for (int k = 0; k < in->n_feeds; k++)
      if (!strcmp(in->feeds[k].name, f->name)) return cli_usage_error("input '%s' is given twice", f->name);
    in->n_feeds++;
    return 0;
  }
  if (cli_option(argc, argv, i, "--seed", &v)) {
    int64_t seed;
    if (!cli_parse_int(v, 0, INT64_MAX, &seed))
      return cli_usage_error("--seed expects a non-negative integer, got '%s'", v ? v : "");
    in->seed = (uint64_t)seed;
    return 0;
  }
  if (cli_option(argc, argv, i, "--dim", &v)) {
    const char *name, *val;
    int64_t n;
    if (!v || !inputs_split_eq((char *)v, &name, &val) || !cli_parse_int(val, 0, INT32_MAX, &n))
      return cli_usage_error("--dim expects NAME=VALUE with VALUE a non-negative integer, got '%s'",
                             v ? v : "");
    if (find_sym(in, name)) return cli_usage_error("--dim '%s' is given twice", name);
    return add_sym(in, name, n);
  }
  *used = false;
  return 0;
}

/* ---- loading ------------------------------------------------------------------ */

/* Reads FILE as .npy when it has the .npy magic, else as an ONNX .pb. */
static int load_feed(const cli_feed *f, onyx_tensor **out) {
  FILE *fp = fopen(f->path, "rb");
  if (!fp) return cli_fail("input '%s': cannot open '%s': %s", f->name, f->path, strerror(errno));
  unsigned char head[6];
  size_t n = fread(head, 1, sizeof head, fp);
  fclose(fp);
  char err[512];
  if (npy_has_magic(head, n)) {
    if (!npy_load(f->path, out, err, sizeof err)) return cli_fail("input '%s': %s", f->name, err);
    return 0;
  }
  onyx_status *s = onyx_tensor_load_pb(f->path, out, NULL);
  if (s) {
    cli_fail("input '%s': %s", f->name, onyx_status_message(s));
    onyx_status_free(s);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

/* Binds the symbolic dims of a fed input to its actual sizes, unless --dim
 * or an earlier input already did (the library checks they agree). */
static int bind_syms(cli_inputs *in, const onyx_model_value_info *info, onyx_tensor *t) {
  if (onyx_tensor_kind(t) != ONYX_VALUE_TENSOR || info->rank != onyx_tensor_rank(t)) return 0;
  for (int d = 0; d < info->rank; d++) {
    if (!info->dim_names[d] || find_sym(in, info->dim_names[d])) continue;
    int rc = add_sym(in, info->dim_names[d], onyx_tensor_dims(t)[d]);
    if (rc) return rc;
  }
  return 0;
}

/* Every --dim must name a symbolic dim of some input: a typo should not
 * silently run with the default. */
static int check_user_dims(const cli_inputs *in) {
  for (int k = 0; k < in->n_syms; k++) {
    bool found = false;
    for (int i = 0; i < in->n_decl && !found; i++)
      for (int d = 0; d < in->decl[i].rank && !found; d++)
        found = in->decl[i].dim_names[d] && !strcmp(in->decl[i].dim_names[d], in->syms[k].name);
    if (!found) return cli_fail("--dim '%s' names no symbolic dim of the model's inputs", in->syms[k].name);
  }
  return 0;
}

/* A -i name that is no input would otherwise surface only after random data
 * was made for the real inputs, possibly failing there first; say it now,
 * listing the names the model has. */
static int check_feed_names(const cli_inputs *in) {
  for (int f = 0; f < in->n_feeds; f++) {
    bool found = false;
    for (int i = 0; i < in->n_decl && !found; i++) found = !strcmp(in->decl[i].name, in->feeds[f].name);
    if (found) continue;
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < in->n_decl && len < sizeof list; i++)
      len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", in->decl[i].name);
    return cli_fail("'%s' is not an input of the model (its inputs: %s)", in->feeds[f].name,
                    in->n_decl ? list : "none");
  }
  return 0;
}

/* Copies the strings of a declared input so it no longer borrows from m. */
static int own_strings(onyx_model_value_info *v) {
  v->name = strdup(v->name);
  bool ok = v->name != NULL;
  for (int d = 0; d < v->rank; d++)
    if (v->dim_names[d] && !(v->dim_names[d] = strdup(v->dim_names[d]))) ok = false;
  return ok ? 0 : cli_fail("out of memory");
}

int inputs_load(cli_inputs *in, const onyx_model *m) {
  int n = onyx_model_input_count(m), rc;
  in->decl = calloc((size_t)n + 1, sizeof *in->decl);
  in->tensors = calloc((size_t)(n + in->n_feeds) + 1, sizeof *in->tensors);
  in->names = calloc((size_t)(n + in->n_feeds) + 1, sizeof *in->names);
  if (!in->decl || !in->tensors || !in->names) return cli_fail("out of memory");
  for (int i = 0; i < n; i++) {
    onyx_status *st = onyx_model_input_info(m, i, &in->decl[i]);
    if (st) return cli_fail_status(st);
    /* counted before copying, so deinit frees exactly what was copied */
    in->n_decl++;
    if ((rc = own_strings(&in->decl[i]))) return rc;
  }
  if ((rc = check_feed_names(in)) || (rc = check_user_dims(in))) return rc;
  for (int f = 0; f < in->n_feeds; f++) {
    if ((rc = load_feed(&in->feeds[f], &in->tensors[in->n]))) return rc;
    in->names[in->n++] = in->feeds[f].name;
    for (int i = 0; i < in->n_decl; i++)
      if (!strcmp(in->decl[i].name, in->feeds[f].name) &&
          (rc = bind_syms(in, &in->decl[i], in->tensors[in->n - 1])))
        return rc;
  }
  in->n_files = in->n;
  return 0;
}

/* ---- random data ------------------------------------------------------------------ */

/* splitmix64: small, seedable, good enough for test inputs. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Fills t with random values. Floats are built from as many random bits as
 * the format holds exactly, so they stay below 1 after rounding. */
static bool fill_random(onyx_tensor *t, uint64_t *rng) {
  int64_t n = onyx_tensor_numel(t);
  void *p = onyx_tensor_data(t);
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = next_random(rng);
    uint64_t small = r % 10;
    switch (onyx_tensor_dtype(t)) {
      case ONYX_DTYPE_FLOAT: ((float *)p)[i] = (float)(r >> 40) * 0x1p-24f; break;
      case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = (double)(r >> 11) * 0x1p-53; break;
      case ONYX_DTYPE_FLOAT16: onyx_tensor_set_f64(t, i, (double)(r >> 53) * 0x1p-11); break;
      case ONYX_DTYPE_BFLOAT16: onyx_tensor_set_f64(t, i, (double)(r >> 56) * 0x1p-8); break;
      case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)small; break;
      case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)small; break;
      case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)small; break;
      case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: ((uint64_t *)p)[i] = small; break;
      case ONYX_DTYPE_BOOL: ((uint8_t *)p)[i] = (uint8_t)(r >> 63); break;
      default: return false;
    }
  }
  return true;
}

static int make_random(const cli_inputs *in, int k, uint64_t *rng, onyx_tensor **out) {
  const onyx_model_value_info *info = &in->decl[k];
  if (info->kind != ONYX_VALUE_TENSOR)
    return cli_fail("input '%s' is %s; onyx cannot make one up, give it with -i %s=FILE",
                    info->name, info->kind == ONYX_VALUE_SEQUENCE ? "a sequence" : "an optional",
                    info->name);
  if (info->dtype == ONYX_DTYPE_UNDEFINED || info->rank < 0)
    return cli_fail("input '%s' has no declared %s; give it with -i %s=FILE", info->name,
                    info->rank < 0 ? "shape" : "dtype", info->name);
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0; d < info->rank; d++) {
    const cli_sym *s = info->dim_names[d] ? find_sym(in, info->dim_names[d]) : NULL;
    bool unnamed_batch = k == 0 && d == 0 && !info->dim_names[d] && in->unnamed_batch > 0;
    dims[d] = info->dims[d] >= 0 ? info->dims[d] : s ? s->value : unnamed_batch ? in->unnamed_batch : 1;
  }
  onyx_status *st = onyx_tensor_create(info->dtype, info->rank, dims, out);
  if (st) return cli_fail_status(st);
  if (!fill_random(*out, rng)) {
    onyx_tensor_free(*out);
    *out = NULL;
    return cli_fail("input '%s' has dtype %s, which onyx cannot fill with random data; give it "
                    "with -i %s=FILE", info->name, onyx_dtype_name(info->dtype), info->name);
  }
  return 0;
}

static bool is_fed(const cli_inputs *in, const char *name) {
  for (int f = 0; f < in->n_files; f++)
    if (!strcmp(in->names[f], name)) return true;
  return false;
}

int inputs_make_random(cli_inputs *in) {
  for (int i = in->n_files; i < in->n; i++) onyx_tensor_free(in->tensors[i]);
  in->n = in->n_files;
  uint64_t rng = in->seed;
  for (int i = 0; i < in->n_decl; i++) {
    if (is_fed(in, in->decl[i].name)) continue;
    int rc = make_random(in, i, &rng, &in->tensors[in->n]);
    if (rc) return rc;
    in->names[in->n++] = in->decl[i].name;
  }
  return 0;
}

/* ---- batch ------------------------------------------------------------------------- */

int inputs_set_batch(cli_inputs *in, int64_t batch) {
  if (!in->n_decl) return cli_fail("the model has no inputs, so no batch to set");
  const onyx_model_value_info *v = &in->decl[0];
  if (v->kind != ONYX_VALUE_TENSOR || v->rank < 1 || v->dims[0] >= 0)
    return cli_fail("the batch is the first dim of input '%s', which the model fixes; the batch "
                    "cannot change", v->name);
  if (is_fed(in, v->name))
    return cli_fail("input '%s' is read from a file, so its batch cannot change", v->name);
  if (!v->dim_names[0]) {
    in->unnamed_batch = batch;
    return 0;
  }
  cli_sym *s = find_sym(in, v->dim_names[0]);
  if (s) {
    s->value = batch;
    return 0;
  }
  return add_sym(in, v->dim_names[0], batch);
}

int64_t inputs_batch(const cli_inputs *in) {
  if (!in->n_decl) return 0;
  const onyx_model_value_info *v = &in->decl[0];
  if (v->kind != ONYX_VALUE_TENSOR || v->rank < 1 || v->dims[0] >= 0) return 0;
  for (int i = 0; i < in->n; i++)
    if (!strcmp(in->names[i], v->name))
      return onyx_tensor_kind(in->tensors[i]) == ONYX_VALUE_TENSOR && onyx_tensor_rank(in->tensors[i]) >= 1
                 ? onyx_tensor_dims(in->tensors[i])[0]
                 : 0;
  return 0;
}
