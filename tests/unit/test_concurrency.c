/* test_concurrency.c — what a server does to one runtime at once, on the
 * bundled digits CNN:
 *  - 8 threads x 1000 runs on one session, each thread with its own input,
 *    every output bit-identical to a serial run of the same input;
 *  - sessions created, run and destroyed in a loop while other threads run
 *    another session;
 *  - onyx_session_set_providers switching between the simulated device and
 *    cpu while 4 threads run: every run succeeds and matches the cpu result;
 *  - with bench/models.sh's ResNet-50 and BERT-base present (bench/out/
 *    models), 8 threads x 100 runs on each (skipped, and said so, when not).
 * Run under ASan in `make test`, and under ThreadSanitizer by `make tsan`. */
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "exec/session_internal.h"
#include "simdev.h"
#include "test_util.h"

#define MODEL "models/digits_cnn.onnx"
#define THREADS 8

typedef struct worker {
  onyx_session *s;
  int n_in;
  const char *names[4];
  onyx_tensor *in[4];
  onyx_tensor *expect;   /* output 0 of a serial run */
  float tol;             /* 0: bit-identical */
  int iters, mismatches, errors;
  char first_error[256];
} worker;

static bool same(const onyx_tensor *a, const onyx_tensor *b, float tol) {
  if (onyx_tensor_nbytes(a) != onyx_tensor_nbytes(b)) return false;
  if (tol == 0) return !memcmp(onyx_tensor_data((onyx_tensor *)a), onyx_tensor_data((onyx_tensor *)b),
                               onyx_tensor_nbytes(a));
  const float *x = onyx_tensor_data((onyx_tensor *)a), *y = onyx_tensor_data((onyx_tensor *)b);
  for (int64_t i = 0; i < onyx_tensor_numel(a); i++)
    if (!(fabsf(x[i] - y[i]) <= tol * (1 + fabsf(y[i])))) return false;
  return true;
}

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < w->iters; i++) {
    onyx_tensor *y = NULL;
    onyx_status *st = onyx_session_run(w->s, w->n_in, w->names, w->in, 1, NULL, &y);
    if (st) {
      if (!w->errors++) snprintf(w->first_error, sizeof w->first_error, "%s", onyx_status_message(st));
    } else if (!same(y, w->expect, w->tol)) {
      w->mismatches++;
    }
    onyx_status_free(st);
    onyx_tensor_free(y);
  }
  return NULL;
}

/* One digits input per worker (batch 4, seeded), and its serial output. */
static void digits_worker(worker *w, onyx_session *s, unsigned seed, int iters) {
  *w = (worker){.s = s, .n_in = 1, .names = {"input"}, .iters = iters};
  int64_t d[4] = {4, 1, 8, 8};
  w->in[0] = tu_f32(4, d, NULL);
  tu_fill_random(onyx_tensor_data(w->in[0]), (size_t)onyx_tensor_numel(w->in[0]), seed);
  CHECK_OK(onyx_session_run(s, 1, w->names, w->in, 1, NULL, &w->expect));
}

static void worker_free(worker *w) {
  for (int i = 0; i < w->n_in; i++) onyx_tensor_free(w->in[i]);
  onyx_tensor_free(w->expect);
}

static void check_workers(worker *w, int n, const char *what) {
  for (int i = 0; i < n; i++) {
    if (w[i].errors || w[i].mismatches)
      fprintf(stderr, "%s: worker %d: %d errors (%s), %d mismatches of %d runs\n", what, i, w[i].errors,
              w[i].first_error, w[i].mismatches, w[i].iters);
    CHECK(w[i].errors == 0 && w[i].mismatches == 0);
  }
}

static void run_threads(worker *w, int n) {
  pthread_t th[THREADS];
  for (int i = 0; i < n; i++) CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

/* 8 threads x iters runs, outputs bit-identical to serial runs. */
static void many_runs(const char *path, int iters, void (*make)(worker *, onyx_session *, unsigned, int)) {
  onyx_options *o;
  CHECK_OK(onyx_options_create(&o));
  onyx_options_set_intra_op_threads(o, 1);
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create(path, o, &s));
  onyx_options_destroy(o);
  if (!s) return;
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) make(&w[i], s, 100 + (unsigned)i, iters);
  run_threads(w, THREADS);
  check_workers(w, THREADS, path);
  onyx_session_stats st;
  onyx_session_stats_get(s, &st);
  CHECK(st.runs == (int64_t)THREADS * (iters + 1));
  for (int i = 0; i < THREADS; i++) worker_free(&w[i]);
  onyx_session_destroy(s);
}

typedef struct churn {
  int rounds, errors;
} churn;

/* Creates, runs and destroys sessions of the digits CNN in a loop (counting
 * errors itself: the CHECK counters belong to the main thread). */
static void *churn_sessions(void *arg) {
  churn *c = arg;
  int64_t d[4] = {1, 1, 8, 8};
  float v[64] = {0};
  onyx_tensor *x = NULL;
  if (onyx_tensor_borrow(ONYX_DTYPE_FLOAT, 4, d, v, sizeof v, &x)) {
    c->errors++;
    return NULL;
  }
  for (int r = 0; r < c->rounds; r++) {
    onyx_session *s = NULL;
    onyx_tensor *y = NULL;
    const char *nm = "input";
    onyx_status *st = onyx_session_create(MODEL, NULL, &s);
    if (!st) st = onyx_session_run(s, 1, &nm, &x, 1, NULL, &y);
    c->errors += st != NULL;
    onyx_status_free(st);
    onyx_tensor_free(y);
    onyx_session_destroy(s);
  }
  onyx_tensor_free(x);
  return NULL;
}

static void create_while_running(void) {
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create(MODEL, NULL, &s));
  if (!s) return;
  worker w[2];
  for (int i = 0; i < 2; i++) digits_worker(&w[i], s, 200 + (unsigned)i, 200);
  churn c[2] = {{10, 0}, {10, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, churn_sessions, &c[i]) == 0);
  run_threads(w, 2);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  check_workers(w, 2, "runs beside session churn");
  CHECK(c[0].errors == 0 && c[1].errors == 0);
  for (int i = 0; i < 2; i++) worker_free(&w[i]);
  onyx_session_destroy(s);
}

/* set_providers back and forth while runs are in flight. */
static void switch_while_running(void) {
  onyx_provider *sim = NULL;
  onyx_options *o = NULL;
  CHECK_OK(simdev_create(0, &sim));
  CHECK_OK(onyx_options_create(&o));
  if (!sim || !o) return;
  CHECK_OK(onyx_options_add_provider(o, sim));
  CHECK_OK(onyx_options_set_providers(o, "simdev,cpu"));
  onyx_options_set_intra_op_threads(o, 1);
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create(MODEL, o, &s));
  onyx_options_destroy(o);
  if (!s) {
    simdev_destroy(sim);
    return;
  }
  /* the reference comes from cpu alone; the device's kernels are the cpu
   * kernels, but a partition boundary may change summation order */
  CHECK_OK(onyx_session_set_providers(s, "cpu"));
  worker w[4];
  for (int i = 0; i < 4; i++) {
    digits_worker(&w[i], s, 300 + (unsigned)i, 150);
    w[i].tol = 1e-5f;
  }
  pthread_t th[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
  int switches = 0;
  for (int k = 0; k < 40; k++) {
    CHECK_OK(onyx_session_set_providers(s, k % 2 ? "cpu" : "simdev,cpu"));
    switches++;
    usleep(500);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  check_workers(w, 4, "runs during set_providers");
  simdev_counts sc;
  simdev_get_counts(sim, &sc);
  CHECK(switches == 40 && sc.kernels > 0);   /* the device did take part */
  for (int i = 0; i < 4; i++) worker_free(&w[i]);
  onyx_session_destroy(s);
  simdev_destroy(sim);
}

/* Inputs for a model of bench/models.sh: float inputs random, integer
 * inputs (token ids, masks) small, dims the model leaves open set to 1. */
static void model_worker(worker *w, onyx_session *s, unsigned seed, int iters) {
  *w = (worker){.s = s, .iters = iters};
  w->n_in = onyx_session_input_count(s) < 4 ? onyx_session_input_count(s) : 4;
  for (int i = 0; i < w->n_in; i++) {
    onyx_value_info vi;
    CHECK_OK(onyx_session_input_info(s, i, &vi));
    int64_t d[ONYX_MAX_RANK];
    for (int k = 0; k < vi.rank; k++) d[k] = vi.dims[k] > 0 ? vi.dims[k] : (k == 1 && vi.rank == 2 ? 32 : 1);
    w->names[i] = vi.name;
    CHECK_OK(onyx_tensor_create(vi.dtype, vi.rank, d, &w->in[i]));
    for (int64_t k = 0; k < onyx_tensor_numel(w->in[i]); k++)
      onyx_tensor_set_f64(w->in[i], k, vi.dtype == ONYX_DTYPE_FLOAT ? (double)((seed * 2654435761u + (unsigned)k) % 1000) / 1000.0
                                                                   : (double)((seed + (unsigned)k) % 2));
  }
  CHECK_OK(onyx_session_run(s, w->n_in, w->names, w->in, 1, NULL, &w->expect));
}

int main(void) {
  many_runs(MODEL, 1000, digits_worker);
  create_while_running();
  switch_while_running();
  const char *big[] = {"bench/out/models/resnet50.onnx", "bench/out/models/bert_base.onnx"};
  for (int i = 0; i < 2; i++) {
    if (access(big[i], R_OK) == 0) many_runs(big[i], 100, model_worker);
    else printf("skipped: %s not present (bench/models.sh makes it)\n", big[i]);
  }
  return tu_done("test_concurrency");
}
