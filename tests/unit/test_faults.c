/* test_faults.c — failures injected where a server meets them, beyond the
 * load/create/run loops of test_session_robust: out of memory at every
 * allocation of a graph optimization, a dynamic and a static (calibrated)
 * quantization, a provider switch on a live session and an I/O-bound run;
 * and a disk that fills up while a model is saved. Each failure must come
 * back as the right status, leak nothing (ASan's leak checker runs at exit)
 * and leave the process and the session able to work again. Models: the
 * bundled digits CNN. */
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "base/alloc.h"
#include "exec/session_internal.h"
#include "onnx/onnx_private.h"
#include "simdev.h"
#include "test_util.h"

#define MODEL "models/digits_cnn.onnx"

typedef onyx_status *(*faulty_fn)(void *arg);

/* Calls fn with the n-th allocation failing, n = 0, 1, ..., until it
 * succeeds; every failure must be OUT_OF_MEMORY and `after` (may be NULL)
 * must pass after each. Returns the number of failure points seen. */
static int every_allocation(const char *what, faulty_fn fn, void *arg, bool (*after)(void *), int limit) {
  int failures = 0;
  for (int64_t n = 0; n < limit; n++) {
    onyx_alloc_fail_after(n);
    onyx_status *st = fn(arg);
    onyx_alloc_fail_after(-1);
    if (!st) return failures;
    failures++;
    if (onyx_status_code(st) != ONYX_ERR_OUT_OF_MEMORY) {
      fprintf(stderr, "%s: allocation %lld failed: %s: %s\n", what, (long long)n,
              onyx_code_name(onyx_status_code(st)), onyx_status_message(st));
      CHECK(onyx_status_code(st) == ONYX_ERR_OUT_OF_MEMORY);
      onyx_status_free(st);
      return failures;
    }
    onyx_status_free(st);
    if (after && !after(arg)) {
      fprintf(stderr, "%s: not usable after allocation %lld failed\n", what, (long long)n);
      CHECK(!"usable after a failure");
      return failures;
    }
  }
  fprintf(stderr, "%s: still failing after %d allocations\n", what, limit);
  CHECK(!"finished within the limit");
  return failures;
}

/* ---- optimize ---- */

static onyx_status *optimize_once(void *arg) {
  (void)arg;
  onyx_model *m = NULL;
  onyx_status *st = onyx_model_load(MODEL, &m);
  if (!st) st = onyx_model_optimize(m, NULL, NULL);
  onyx_model_destroy(m);
  return st;
}

/* ---- quantize ---- */

typedef struct quant_case {
  onyx_model *float_model;
  const char *mode;
  int samples_left;
} quant_case;

static onyx_status *calibration_reader(void *arg, int n_inputs, const char *const *names, onyx_tensor **inputs,
                                       int *done) {
  (void)names;
  quant_case *q = arg;
  if (q->samples_left-- <= 0 || n_inputs != 1) {
    *done = 1;
    return NULL;
  }
  int64_t d[4] = {4, 1, 8, 8};
  onyx_status *st = onyx_tensor_create(ONYX_DTYPE_FLOAT, 4, d, &inputs[0]);
  if (!st) tu_fill_random(onyx_tensor_data(inputs[0]), 4 * 64, (unsigned)q->samples_left);
  return st;
}

static onyx_status *quantize_once(void *arg) {
  quant_case *q = arg;
  q->samples_left = 2;
  onyx_quant_options *o = NULL;
  onyx_model *out = NULL;
  onyx_quant_report *r = NULL;
  onyx_status *st = onyx_quant_options_create(&o);
  if (!st) st = onyx_quant_options_set(o, "mode", q->mode);
  if (!st) st = onyx_quant_options_set(o, "per_channel", "1");
  if (!st) onyx_quant_options_set_calibration_reader(o, calibration_reader, q);
  if (!st) st = onyx_quantize_model(q->float_model, o, &out, &r);
  onyx_quant_options_destroy(o);
  onyx_model_destroy(out);
  onyx_quant_report_destroy(r);
  return st;
}

/* ---- a live session: provider switches and bound runs ---- */

typedef struct live {
  onyx_session *s;
  onyx_tensor *x, *ref;
  bool on_device;   /* the provider list the session has now */
} live;

static onyx_status *run_live(live *l, onyx_tensor **y) {
  const char *nm = "input";
  return onyx_session_run(l->s, 1, &nm, &l->x, 1, NULL, y);
}

static bool close_to_ref(const onyx_tensor *y, const onyx_tensor *ref) {
  if (!y || onyx_tensor_numel(y) != onyx_tensor_numel(ref)) return false;
  const float *a = onyx_tensor_data((onyx_tensor *)y), *b = onyx_tensor_data((onyx_tensor *)ref);
  for (int64_t i = 0; i < onyx_tensor_numel(y); i++)
    if (!(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(b[i])))) return false;
  return true;
}

static bool live_runs(void *arg) {
  live *l = arg;
  onyx_tensor *y = NULL;
  onyx_status *st = run_live(l, &y);
  bool ok = !st && close_to_ref(y, l->ref);
  onyx_status_free(st);
  onyx_tensor_free(y);
  return ok;
}

static onyx_status *switch_once(void *arg) {
  live *l = arg;
  onyx_status *st = onyx_session_set_providers(l->s, l->on_device ? "cpu" : "simdev,cpu");
  if (!st) l->on_device = !l->on_device;
  return st;
}

static onyx_status *bound_run_once(void *arg) {
  live *l = arg;
  onyx_io_binding *b = NULL;
  onyx_status *st = onyx_io_binding_create(l->s, &b);
  if (!st) st = onyx_io_binding_bind_input(b, "input", l->x);
  if (!st) st = onyx_io_binding_bind_output_to_device(b, "logits", "cpu");
  if (!st) st = onyx_session_run_with_binding(l->s, NULL, b);
  if (!st && !close_to_ref(onyx_io_binding_output(b, 0), l->ref))
    st = onyx_status_create(ONYX_ERR_RUNTIME, "bound run: wrong output");
  onyx_io_binding_destroy(b);
  return st;
}

static void live_session_faults(void) {
  onyx_provider *sim = NULL;
  onyx_options *o = NULL;
  CHECK_OK(simdev_create(0, &sim));
  CHECK_OK(onyx_options_create(&o));
  if (!sim || !o) return;
  CHECK_OK(onyx_options_add_provider(o, sim));
  CHECK_OK(onyx_options_set_providers(o, "cpu"));
  live l = {0};
  CHECK_OK(onyx_session_create(MODEL, o, &l.s));
  onyx_options_destroy(o);
  if (l.s) {
    int64_t d[4] = {2, 1, 8, 8};
    l.x = tu_f32(4, d, NULL);
    tu_fill_random(onyx_tensor_data(l.x), 128, 5);
    CHECK_OK(run_live(&l, &l.ref));
    int n = every_allocation("set_providers", switch_once, &l, live_runs, 100000);
    CHECK(n > 3);
    CHECK(l.on_device);   /* the switch that finally succeeded took effect */
    n = every_allocation("set_providers back", switch_once, &l, live_runs, 100000);
    CHECK(n > 3);
    n = every_allocation("bound run", bound_run_once, &l, live_runs, 100000);
    CHECK(n > 3);
    printf("live session: provider switches and bound runs survive every allocation failure\n");
  }
  onyx_tensor_free(l.x);
  onyx_tensor_free(l.ref);
  onyx_session_destroy(l.s);
  simdev_destroy(sim);
}

/* ---- a disk that fills up during a save ---- */

static int64_t file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  int64_t n = ftell(f);
  fclose(f);
  return n;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static void disk_full_on_save(void) {
  char dir[] = "/tmp/onyx-faults-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  onyx_model *m = NULL;
  CHECK_OK(onyx_model_load(MODEL, &m));
  if (!m) return;
  CHECK_OK(onyx_model_save(m, path));
  int64_t good = file_size(path);
  CHECK(good > 1000);
  /* the disk fills after 1000 bytes: the save fails, the old file is whole */
  onyx_write_fail_after(1000);
  CHECK_ERR(onyx_model_save(m, path), ONYX_ERR_IO);
  CHECK(file_size(path) == good);
  CHECK(count_entries(dir) == 1);   /* no temporary file left behind */
  onyx_model *again = NULL;
  CHECK_OK(onyx_model_load(path, &again));
  onyx_model_destroy(again);
  /* a first save that fails leaves no file at all */
  char fresh[256];
  snprintf(fresh, sizeof fresh, "%s/new.onnx", dir);
  onyx_write_fail_after(0);
  CHECK_ERR(onyx_model_save(m, fresh), ONYX_ERR_IO);
  CHECK(file_size(fresh) == -1 && count_entries(dir) == 1);
  /* and the next save works */
  CHECK_OK(onyx_model_save(m, fresh));
  CHECK(file_size(fresh) == good);
  onyx_model_destroy(m);
  unlink(path);
  unlink(fresh);
  rmdir(dir);
}

int main(void) {
  int n = every_allocation("optimize", optimize_once, NULL, NULL, 200000);
  CHECK(n > 50);
  printf("optimize: %d allocation failure points\n", n);

  quant_case q = {NULL, "dynamic", 0};
  CHECK_OK(onyx_model_load(MODEL, &q.float_model));
  if (q.float_model) {
    n = every_allocation("quantize dynamic", quantize_once, &q, NULL, 200000);
    CHECK(n > 50);
    printf("quantize dynamic: %d allocation failure points\n", n);
    q.mode = "static";
    n = every_allocation("quantize static", quantize_once, &q, NULL, 200000);
    CHECK(n > 50);
    printf("quantize static (2 calibration samples): %d allocation failure points\n", n);
  }
  onyx_model_destroy(q.float_model);

  live_session_faults();
  disk_full_on_save();
  return tu_done("test_faults");
}
