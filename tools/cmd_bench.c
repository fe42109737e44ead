/* cmd_bench.c — `onyx bench`: measures a model the way a user would run it.
 *
 * One measurement ("point") is: load the model and create the session
 * (timed: creation), make the inputs (inputs.c, as `onyx run` does), run
 * warm-up runs on the calling thread, then timed runs on --concurrency
 * caller threads sharing the one session, until --iters runs are done or
 * --duration has passed. Each run's latency is kept, so the figures are
 * percentiles of real runs rather than averages of batches. Around the timed
 * phase the process's CPU time and wall time give the threading efficiency;
 * the peak RSS is the kernel's high-water mark for the point (VmHWM, reset
 * through /proc/self/clear_refs at the start of each point so sweep rows do
 * not inherit each other's peaks; getrusage's ru_maxrss where /proc cannot
 * do that). --sweep repeats the point over thread counts and batch sizes,
 * each with a fresh session. --check compares every timed run's outputs
 * with those of the first, single-threaded run, bit for bit: it is how the
 * tests show that concurrent runs on one session compute what a lone run
 * does. --telemetry samples package energy, core frequency and temperature
 * (onyx.h, "telemetry") just before and after the timed runs, and says which of
 * them this machine does not expose. Speed belongs here and in bench/, never
 * in tests. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "inputs.h"
/* internal until onyx.h declares the telemetry API (the CLI links the static
 * library, so the symbols are there) */
#include "onyx.h"

#define MAX_SWEEP 64
#define MAX_CONCURRENCY 256
#define PROGRESS_AFTER_S 3.0
#define TOP_OPS 10

static const char usage[] =
    "usage: onyx bench MODEL [options]\n"
    "\n"
    "Times MODEL (.onnx): session creation, latency percentiles, throughput,\n"
    "peak memory and threading efficiency. Inputs are made as `onyx run` makes\n"
    "them: -i files, else seeded random data of the declared shapes.\n"
    "\n"
    "options:\n"
    CLI_SESSION_FLAGS_HELP
    "  -i, --input NAME=FILE  feed input NAME from FILE (.npy or ONNX .pb)\n"
    "  --dim NAME=VALUE       size of symbolic dim NAME for random inputs\n"
    "  --seed N               seed of the random inputs (default 0)\n"
    "  --warmup N             untimed runs first (default 3)\n"
    "  --iters N              timed runs, over all caller threads (default: as\n"
    "  --duration SEC         many as fit in --duration, default 5 s); give one\n"
    "  --concurrency N        N caller threads run the one session at once\n"
    "                         (default 1)\n"
    "  --check                compare every timed run's outputs with those of\n"
    "                         the first (single-threaded) run, bit for bit; exit\n"
    "                         1 on a difference\n"
    "  --telemetry            around the timed runs, read the package energy\n"
    "                         (RAPL), the average core frequency, the hottest\n"
    "                         package temperature and the CPU utilization; a\n"
    "                         source the machine does not expose is reported as\n"
    "                         not available (not with --sweep)\n"
    "  --json FILE            write the figures as JSON (keys: creation_ms,\n"
    "                         latency_ms{min,p50,p90,p99,max,mean},\n"
    "                         throughput_per_s, samples_per_s, peak_rss_bytes,\n"
    "                         arena_bytes, device_memory, threads,\n"
    "                         cpu_efficiency, providers, telemetry, ...);\n"
    "                         with --sweep an object {\"points\": [...]}\n"
    "  --profile FILE         per-node timings of the timed runs as Chrome trace\n"
    "                         JSON (chrome://tracing, Perfetto); prints the time\n"
    "                         per provider (a compiled partition is one call)\n"
    "                         and the op types that took the most time\n"
    "  --sweep threads=LIST   one measurement per thread count, e.g. threads=1,2\n"
    "  --sweep batch=LIST     one per batch size (the first dim of the first\n"
    "                         input), e.g. batch=1,8,32; both may be given\n"
    "  --csv FILE             where --sweep writes its rows (default\n"
    "                         bench_sweep.csv)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Figures: latency min/p50/p90/p99/max/mean over the timed runs (ms);\n"
    "throughput in runs/s, and samples/s when the batch is known (the first\n"
    "dim of the first input, when the model leaves it open); peak RSS of the\n"
    "process during the measurement and the session's planned activation\n"
    "arena; the peak of each device memory space (GPU providers); CPU time /\n"
    "wall time / (threads x concurrency) = cpu efficiency.\n"
    "A progress line goes to stderr when it is a terminal and the timed runs\n"
    "last over 3 s. On a busy machine, compare figures from the same run only.\n";

typedef struct bench_args {
  const char *model, *json, *profile, *csv;
  cli_inputs in;
  cli_session_flags session;
  int64_t warmup, iters, concurrency;
  double duration;
  bool check, duration_set, telemetry;
  int n_sweep_threads, n_sweep_batch;
  int64_t sweep_threads[MAX_SWEEP], sweep_batch[MAX_SWEEP];
} bench_args;

/* What one measurement found. Strings are owned by the point or borrowed
 * from `bench_args` (input names), never from a session. */
typedef struct input_desc {
  const char *name;
  onyx_dtype dtype;
  int rank;
  int64_t dims[ONYX_MAX_RANK];
  bool from_file;
} input_desc;

typedef struct point {
  int64_t threads;   /* intra-op threads of the session (as it resolved 0) */
  int64_t batch;     /* 0: unknown */
  int64_t runs;
  double load_ms, session_ms;
  double wall_s, cpu_s;
  double lat[6];     /* ms: min, p50, p90, p99, max, mean */
  int64_t peak_rss;
  bool rss_from_hwm; /* VmHWM since the point began, else ru_maxrss */
  onyx_session_stats stats;
  cli_provider_nodes prov;
  int n_inputs;
  input_desc *inputs;
  int n_spaces;                  /* device memory spaces the session uses (cpu excluded) */
  struct { char name[32]; int64_t peak, in_use; } spaces[4];
  onyx_telemetry_delta tel;      /* --telemetry: over the timed runs */
} point;

static const char *const lat_names[6] = {"min", "p50", "p90", "p99", "max", "mean"};

/* ---- arguments ------------------------------------------------------------------ */

static int parse_sweep(bench_args *a, const char *v) {
  char buf[512];
  const char *key, *list;
  if (!v || strlen(v) >= sizeof buf) return cli_usage_error("--sweep expects threads=LIST or batch=LIST");
  strcpy(buf, v);
  if (!inputs_split_eq(buf, &key, &list))
    return cli_usage_error("--sweep expects threads=LIST or batch=LIST, got '%s'", v);
  if (!strcmp(key, "threads")) {
    if (a->n_sweep_threads) return cli_usage_error("--sweep threads is given twice");
    if (!cli_parse_int_list(list, 0, 4096, MAX_SWEEP, a->sweep_threads, &a->n_sweep_threads))
      return cli_usage_error("--sweep threads= expects a comma-separated list of up to %d integers in "
                             "0..4096, got '%s'", MAX_SWEEP, list);
  } else if (!strcmp(key, "batch")) {
    if (a->n_sweep_batch) return cli_usage_error("--sweep batch is given twice");
    if (!cli_parse_int_list(list, 1, INT32_MAX, MAX_SWEEP, a->sweep_batch, &a->n_sweep_batch))
      return cli_usage_error("--sweep batch= expects a comma-separated list of up to %d positive "
                             "integers, got '%s'", MAX_SWEEP, list);
  } else {
    return cli_usage_error("--sweep knows threads= and batch=, not '%s'", key);
  }
  return 0;
}

static int parse_args(int argc, char **argv, bench_args *a) {
  int rc = inputs_init(&a->in, argc);
  if (rc) return rc;
  a->warmup = 3;
  a->concurrency = 1;
  a->session = (cli_session_flags)CLI_SESSION_FLAGS_INIT;
  a->duration = 5;
  bool iters_set = false;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL, *opt = argv[i];
    bool used;
    if ((rc = inputs_run_option(&a->in, &a->session, usage, argc, argv, &i, &used))) return rc;
    if (used) continue;
    if (cli_option(argc, argv, &i, "--warmup", &v)) {
      if (!cli_parse_int(v, 0, 1000000, &a->warmup))
        return cli_usage_error("--warmup expects an integer in 0..1000000, got '%s'", v ? v : "");
    } else if (cli_option(argc, argv, &i, "--iters", &v)) {
      if (!cli_parse_int(v, 1, 1000000000, &a->iters))
        return cli_usage_error("--iters expects a positive integer, got '%s'", v ? v : "");
      iters_set = true;
    } else if (cli_option(argc, argv, &i, "--duration", &v)) {
      if (!cli_parse_seconds(v, 1e-3, 1e6, &a->duration))
        return cli_usage_error("--duration expects seconds in 0.001..1000000, got '%s'", v ? v : "");
      a->duration_set = true;
    } else if (cli_option(argc, argv, &i, "--concurrency", &v)) {
      if (!cli_parse_int(v, 1, MAX_CONCURRENCY, &a->concurrency))
        return cli_usage_error("--concurrency expects an integer in 1..%d, got '%s'", MAX_CONCURRENCY,
                               v ? v : "");
    } else if (cli_option(argc, argv, &i, "--sweep", &v)) {
      if ((rc = parse_sweep(a, v))) return rc;
    } else if (cli_option(argc, argv, &i, "--json", &v)) {
      if (!(a->json = v) || !*v) return cli_usage_error("--json needs a file name");
    } else if (cli_option(argc, argv, &i, "--profile", &v)) {
      if (!(a->profile = v) || !*v) return cli_usage_error("--profile needs a file name");
    } else if (cli_option(argc, argv, &i, "--csv", &v)) {
      if (!(a->csv = v) || !*v) return cli_usage_error("--csv needs a file name");
    } else if (!strcmp(opt, "--check")) {
      a->check = true;
    } else if (!strcmp(opt, "--telemetry")) {
      a->telemetry = true;
    } else if (opt[0] == '-' && opt[1]) {
      return cli_usage_error("unknown option '%s' (see onyx bench --help)", opt);
    } else if (a->model) {
      return cli_usage_error("unexpected argument '%s' (the model is '%s')", opt, a->model);
    } else {
      a->model = opt;
    }
  }
  if (!a->model) return cli_usage_error("no model given (usage: onyx bench MODEL [options])");
  if (iters_set && a->duration_set) return cli_usage_error("give --iters or --duration, not both");
  bool sweep = a->n_sweep_threads || a->n_sweep_batch;
  if (a->profile && sweep) return cli_usage_error("--profile measures one point; it cannot go with --sweep");
  if (a->telemetry && sweep) return cli_usage_error("--telemetry measures one point; it cannot go with --sweep");
  if (a->csv && !sweep) return cli_usage_error("--csv is where --sweep writes its rows; there is no --sweep");
  if (!a->csv) a->csv = "bench_sweep.csv";
  return 0;
}

/* ---- clocks and memory -------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_time_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Resets the kernel's RSS high-water mark (VmHWM) to the current RSS
 * (Linux 4.0+: "5" in clear_refs). False where /proc does not allow it. */
static bool reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

/* VmHWM in bytes, or -1 when /proc/self/status has none. */
static int64_t vm_hwm(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static int64_t ru_maxrss_bytes(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_maxrss * 1024;   /* Linux reports kilobytes */
}

/* ---- output comparison (--check) ---------------------------------------------------- */

/* True when a and b hold the same value bit for bit; otherwise writes what
 * differs into why. */
static bool same_value(onyx_tensor *a, onyx_tensor *b, char *why, size_t len) {
  onyx_value_kind ka = onyx_tensor_kind(a);
  if (ka != onyx_tensor_kind(b) || onyx_tensor_dtype(a) != onyx_tensor_dtype(b)) {
    snprintf(why, len, "kind or dtype differs (%s vs %s)", onyx_dtype_name(onyx_tensor_dtype(a)),
             onyx_dtype_name(onyx_tensor_dtype(b)));
    return false;
  }
  if (ka != ONYX_VALUE_TENSOR) {
    int n = onyx_tensor_elem_count(a);
    if (n != onyx_tensor_elem_count(b)) {
      snprintf(why, len, "%d elements vs %d", n, onyx_tensor_elem_count(b));
      return false;
    }
    for (int i = 0; i < n; i++)
      if (!same_value(onyx_tensor_elem(a, i), onyx_tensor_elem(b, i), why, len)) return false;
    return true;
  }
  int rank = onyx_tensor_rank(a);
  if (rank != onyx_tensor_rank(b) ||
      memcmp(onyx_tensor_dims(a), onyx_tensor_dims(b), (size_t)rank * sizeof(int64_t))) {
    snprintf(why, len, "shape differs");
    return false;
  }
  int64_t n = onyx_tensor_numel(a);
  const char *pa = onyx_tensor_data(a), *pb = onyx_tensor_data(b);
  if (onyx_tensor_dtype(a) == ONYX_DTYPE_STRING) {
    for (int64_t i = 0; i < n; i++)
      if (strcmp(((char *const *)(const void *)pa)[i], ((char *const *)(const void *)pb)[i])) {
        snprintf(why, len, "string element %lld differs", (long long)i);
        return false;
      }
    return true;
  }
  size_t nbytes = onyx_tensor_nbytes(a), esize = onyx_dtype_size(onyx_tensor_dtype(a));
  if (!nbytes || !memcmp(pa, pb, nbytes)) return true;
  size_t k = 0;
  while (pa[k] == pb[k]) k++;
  if (onyx_tensor_dtype(a) == ONYX_DTYPE_FLOAT) {
    float x, y;
    memcpy(&x, pa + k / 4 * 4, 4);
    memcpy(&y, pb + k / 4 * 4, 4);
    snprintf(why, len, "element %zu is %.9g, was %.9g", k / 4, (double)x, (double)y);
  } else {
    snprintf(why, len, "element %zu differs", esize ? k / esize : k);
  }
  return false;
}

/* ---- timed runs ---------------------------------------------------------------------- */

typedef struct shared {
  onyx_session *sess;
  const cli_inputs *in;
  int n_out;
  onyx_tensor **ref;     /* --check: the reference run's outputs, else NULL */
  int64_t iters;         /* > 0: this many runs in all; 0: until deadline */
  double start, deadline;
  atomic_llong claimed, done;
  atomic_bool stop;
  pthread_mutex_t lock;  /* guards err and mismatch */
  onyx_status *err;
  char mismatch[512];
  bool progress;         /* stderr is a terminal */
  bool progress_shown;
  double last_progress;
} shared;

typedef struct worker {
  shared *sh;
  int id;
  double *lat;           /* ms of each timed run of this thread */
  int64_t n, cap;
  onyx_tensor **out;
  bool oom;
  pthread_t thread;
} worker;

static void fail_run(shared *sh, onyx_status *st, const char *mismatch) {
  pthread_mutex_lock(&sh->lock);
  if (!sh->err && !sh->mismatch[0]) {
    if (st) sh->err = st;
    else snprintf(sh->mismatch, sizeof sh->mismatch, "%s", mismatch);
    st = NULL;
  }
  pthread_mutex_unlock(&sh->lock);
  onyx_status_free(st);
  atomic_store(&sh->stop, true);
}

static void show_progress(shared *sh, double t) {
  double elapsed = t - sh->start;
  if (!sh->progress || elapsed < PROGRESS_AFTER_S || t - sh->last_progress < 0.25) return;
  sh->last_progress = t;
  sh->progress_shown = true;
  long long done = atomic_load(&sh->done);
  if (sh->iters)
    fprintf(stderr, "\ronyx bench: %lld/%lld runs, %.1f s ", done, (long long)sh->iters, elapsed);
  else
    fprintf(stderr, "\ronyx bench: %lld runs, %.1f/%.0f s ", done, elapsed, sh->deadline - sh->start);
  fflush(stderr);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  shared *sh = w->sh;
  const cli_inputs *in = sh->in;
  char why[400];
  while (!atomic_load(&sh->stop)) {
    if (sh->iters ? atomic_fetch_add(&sh->claimed, 1) >= sh->iters : now_s() >= sh->deadline) break;
    if (w->n == w->cap) {
      int64_t cap = w->cap ? w->cap * 2 : 256;
      double *p = realloc(w->lat, (size_t)cap * sizeof *p);
      if (!p) {
        w->oom = true;
        atomic_store(&sh->stop, true);
        break;
      }
      w->lat = p;
      w->cap = cap;
    }
    double t0 = now_s();
    onyx_status *st = onyx_session_run(sh->sess, in->n, in->names, in->tensors, sh->n_out, NULL, w->out);
    double t1 = now_s();
    if (st) {
      fail_run(sh, st, NULL);
      break;
    }
    w->lat[w->n++] = (t1 - t0) * 1e3;
    for (int i = 0; i < sh->n_out; i++) {
      if (sh->ref && !same_value(w->out[i], sh->ref[i], why, sizeof why)) {
        char msg[512];
        onyx_value_info vi = {0};
        onyx_status_free(onyx_session_output_info(sh->sess, i, &vi));
        snprintf(msg, sizeof msg, "output '%s' of a timed run differs from the first run's: %s",
                 vi.name ? vi.name : "?", why);
        fail_run(sh, NULL, msg);
      }
      onyx_tensor_free(w->out[i]);
      w->out[i] = NULL;
    }
    atomic_fetch_add(&sh->done, 1);
    if (w->id == 0) show_progress(sh, t1);
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks (numpy's default, and ORT's
 * figures in bench/ort_run.js). */
static double percentile(const double *sorted, int64_t n, double p) {
  double idx = (double)(n - 1) * p;
  int64_t lo = (int64_t)floor(idx), hi = (int64_t)ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - (double)lo);
}

/* Warm-up, then the timed runs on a.concurrency threads; fills p's run
 * figures. */
static int timed_runs(const bench_args *a, onyx_session *sess, point *p) {
  shared sh = {.sess = sess, .in = &a->in, .n_out = onyx_session_output_count(sess)};
  worker *w = calloc((size_t)a->concurrency, sizeof *w);
  double *all = NULL;
  int rc = 0, started = 0;
  pthread_mutex_init(&sh.lock, NULL);
  if (!w) {
    rc = cli_fail("out of memory");
    goto done;
  }
  for (int k = 0; k < a->concurrency; k++) {
    w[k] = (worker){.sh = &sh, .id = k, .out = calloc((size_t)sh.n_out + 1, sizeof(onyx_tensor *))};
    if (!w[k].out) {
      rc = cli_fail("out of memory");
      goto done;
    }
  }
  if (a->check && !(sh.ref = calloc((size_t)sh.n_out + 1, sizeof *sh.ref))) {
    rc = cli_fail("out of memory");
    goto done;
  }
  /* Warm-up on this thread; with --check its first run is the reference. */
  int64_t warmup = a->warmup > 0 ? a->warmup : a->check;
  for (int64_t r = 0; r < warmup; r++) {
    onyx_tensor **out = r == 0 && sh.ref ? sh.ref : w[0].out;
    onyx_status *st = onyx_session_run(sess, a->in.n, a->in.names, a->in.tensors, sh.n_out, NULL, out);
    if (st) {
      rc = cli_fail_status(st);
      goto done;
    }
    for (int i = 0; out == w[0].out && i < sh.n_out; i++) {
      onyx_tensor_free(out[i]);
      out[i] = NULL;
    }
  }
  if (a->profile) onyx_session_profile_clear(sess);

  sh.progress = isatty(STDERR_FILENO);
  sh.iters = a->duration_set || !a->iters ? 0 : a->iters;
  onyx_telemetry_sample tel0, tel1;
  if (a->telemetry) onyx_telemetry_sample_read(&tel0);
  double cpu0 = cpu_time_s();
  sh.start = now_s();
  sh.deadline = sh.start + a->duration;
  for (started = 1; started < a->concurrency; started++)
    if (pthread_create(&w[started].thread, NULL, worker_main, &w[started])) {
      atomic_store(&sh.stop, true);
      rc = cli_fail("cannot start caller thread %d of %lld", started + 1, (long long)a->concurrency);
      break;
    }
  worker_main(&w[0]);
  for (int k = 1; k < started; k++) pthread_join(w[k].thread, NULL);
  double wall = now_s() - sh.start;
  p->cpu_s = cpu_time_s() - cpu0;
  p->wall_s = wall;
  if (a->telemetry) {
    onyx_telemetry_sample_read(&tel1);
    onyx_status *ts = onyx_telemetry_delta_compute(&tel0, &tel1, &p->tel);
    if (ts && !rc) rc = cli_fail_status(ts);
    else onyx_status_free(ts);
  }
  if (sh.progress_shown) fprintf(stderr, "\r%60s\r", "");
  if (rc) goto done;
  if (sh.err) {
    rc = cli_fail_status(sh.err);
    sh.err = NULL;
    goto done;
  }
  if (sh.mismatch[0]) {
    rc = cli_fail("--check: %s", sh.mismatch);
    goto done;
  }
  int64_t n = 0;
  for (int k = 0; k < a->concurrency; k++) {
    if (w[k].oom) {
      rc = cli_fail("out of memory");
      goto done;
    }
    n += w[k].n;
  }
  if (!n) {
    rc = cli_fail("no timed run finished");
    goto done;
  }
  if (!(all = malloc((size_t)n * sizeof *all + 1))) {
    rc = cli_fail("out of memory");
    goto done;
  }
  n = 0;
  for (int k = 0; k < a->concurrency; k++) {
    /* a caller thread may get no run when the others took all --iters */
    if (w[k].n) memcpy(all + n, w[k].lat, (size_t)w[k].n * sizeof *all);
    n += w[k].n;
  }
  qsort(all, (size_t)n, sizeof *all, cmp_double);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += all[i];
  p->runs = n;
  p->lat[0] = all[0];
  p->lat[1] = percentile(all, n, 0.50);
  p->lat[2] = percentile(all, n, 0.90);
  p->lat[3] = percentile(all, n, 0.99);
  p->lat[4] = all[n - 1];
  p->lat[5] = sum / (double)n;

done:
  for (int k = 0; w && k < a->concurrency; k++) {
    for (int i = 0; w[k].out && i < sh.n_out; i++) onyx_tensor_free(w[k].out[i]);
    free(w[k].out);
    free(w[k].lat);
  }
  for (int i = 0; sh.ref && i < sh.n_out; i++) onyx_tensor_free(sh.ref[i]);
  free(sh.ref);
  free(w);
  free(all);
  onyx_status_free(sh.err);
  pthread_mutex_destroy(&sh.lock);
  return rc;
}

static void print_point(const bench_args *a, const point *p);
static void print_sweep_row(const bench_args *a, const point *p);

/* ---- one point ------------------------------------------------------------------------ */

static int describe_inputs(const cli_inputs *in, point *p) {
  if (!(p->inputs = calloc((size_t)in->n + 1, sizeof *p->inputs))) return cli_fail("out of memory");
  for (int i = 0; i < in->n; i++) {
    onyx_tensor *t = in->tensors[i];
    input_desc *d = &p->inputs[p->n_inputs++];
    d->name = in->names[i];
    d->dtype = onyx_tensor_dtype(t);
    d->rank = onyx_tensor_kind(t) == ONYX_VALUE_TENSOR ? onyx_tensor_rank(t) : -1;
    if (d->rank > 0) memcpy(d->dims, onyx_tensor_dims(t), (size_t)d->rank * sizeof(int64_t));
    d->from_file = i < in->n_files;
  }
  return 0;
}

typedef struct op_time {
  const char *op;
  int64_t ns, calls;
} op_time;

static int cmp_op_time(const void *a, const void *b) {
  int64_t x = ((const op_time *)a)->ns, y = ((const op_time *)b)->ns;
  return (x < y) - (x > y);
}

/* Adds dur_ns to the entry of `key` in t[0..*n) (a new one at the end). */
static void tally(op_time *t, int *n, const char *key, int64_t dur_ns) {
  int k = 0;
  while (k < *n && strcmp(t[k].op, key)) k++;
  if (k == *n) t[(*n)++] = (op_time){key, 0, 0};
  t[k].ns += dur_ns;
  t[k].calls++;
}

static void print_times(const char *title, const op_time *t, int n, int limit, int64_t runs, int64_t total) {
  printf("  %-22s %12s %7s %8s %12s\n", title, "ms per run", "share", "calls", "us per call");
  for (int k = 0; k < n && k < limit; k++)
    printf("  %-22s %12.3f %6.1f%% %8lld %12.2f\n", t[k].op, runs ? (double)t[k].ns / 1e6 / (double)runs : 0.0,
           total ? 100.0 * (double)t[k].ns / (double)total : 0.0, (long long)t[k].calls,
           (double)t[k].ns / 1e3 / (double)t[k].calls);
  if (n > limit) printf("  (%d more)\n", n - limit);
}

/* Writes the Chrome trace and prints the time per provider (a compiled
 * partition is one call) and the op types by total time. */
static int report_profile(const char *path, onyx_session *sess, int64_t runs) {
  onyx_status *st = onyx_session_profile_write(sess, path);
  if (st) return cli_fail_status(st);
  int64_t n = onyx_session_profile_count(sess), total = 0;
  op_time *ops = calloc((size_t)n + 1, sizeof *ops), *prov = calloc((size_t)n + 1, sizeof *prov);
  if (!ops || !prov) {
    free(ops);
    free(prov);
    return cli_fail("out of memory");
  }
  int n_ops = 0, n_prov = 0;
  for (int64_t i = 0; i < n; i++) {
    onyx_profile_entry e;
    if ((st = onyx_session_profile_get(sess, i, &e))) {
      free(ops);
      free(prov);
      return cli_fail_status(st);
    }
    tally(ops, &n_ops, e.op_type, e.dur_ns);
    tally(prov, &n_prov, e.provider, e.dur_ns);
    total += e.dur_ns;
  }
  qsort(prov, (size_t)n_prov, sizeof *prov, cmp_op_time);
  qsort(ops, (size_t)n_ops, sizeof *ops, cmp_op_time);
  printf("profile:    %s (%lld node events over %lld runs)\n", path, (long long)n, (long long)runs);
  print_times("provider", prov, n_prov, CLI_MAX_PROVIDERS, runs, total);
  print_times("op type", ops, n_ops, TOP_OPS, runs, total);
  free(ops);
  free(prov);
  return 0;
}

/* One measurement at `threads` intra-op threads and `batch` (0: as the
 * inputs come), printed as a sweep row or in full. `first` loads the inputs
 * from the model. */
static int measure(bench_args *a, int64_t threads, int64_t batch, bool first, bool sweep, point *p) {
  onyx_model *model = NULL;
  onyx_session *sess = NULL;
  onyx_options *opts = NULL;
  onyx_status *st;
  int rc = 0;

  p->rss_from_hwm = reset_peak_rss();
  double t0 = now_s();
  if ((st = onyx_model_load(a->model, &model))) {
    rc = cli_fail_status(st);
    goto done;
  }
  p->load_ms = (now_s() - t0) * 1e3;
  if (first && (rc = inputs_load(&a->in, model))) goto done;
  if ((st = onyx_options_create(&opts))) {
    rc = cli_fail_status(st);
    goto done;
  }
  if (a->profile) onyx_options_enable_profiling(opts, 1);
  if ((rc = cli_session_apply(&a->session, threads, opts))) goto done;
  t0 = now_s();
  st = onyx_session_create_from_model(model, opts, &sess);
  p->session_ms = (now_s() - t0) * 1e3;
  model = NULL;   /* the session owns it now, also on failure */
  if (st) {
    rc = cli_fail_status(st);
    goto done;
  }
  p->threads = onyx_session_intra_op_threads(sess);
  if ((batch && (rc = inputs_set_batch(&a->in, batch))) || (rc = inputs_make_random(&a->in))) goto done;
  p->batch = inputs_batch(&a->in);
  if ((rc = describe_inputs(&a->in, p))) goto done;
  cli_count_providers(sess, &p->prov);
  if ((rc = timed_runs(a, sess, p))) goto done;
  onyx_session_stats_get(sess, &p->stats);
  for (int i = 1; i < onyx_session_memory_count(sess) && p->n_spaces < 4; i++) {
    onyx_memory_info mi;
    onyx_status *st = onyx_session_memory_info(sess, i, &mi);
    if (st) {
      onyx_status_free(st);
      continue;
    }
    snprintf(p->spaces[p->n_spaces].name, sizeof p->spaces[0].name, "%s", mi.device);
    p->spaces[p->n_spaces].peak = mi.peak;
    p->spaces[p->n_spaces++].in_use = mi.in_use;
  }
  p->peak_rss = p->rss_from_hwm ? vm_hwm() : -1;
  if (p->peak_rss < 0) {
    p->rss_from_hwm = false;
    p->peak_rss = ru_maxrss_bytes();
  }
  if (sweep) {
    print_sweep_row(a, p);
  } else {
    print_point(a, p);
    if (a->profile) rc = report_profile(a->profile, sess, p->runs);
  }

done:
  onyx_session_destroy(sess);
  onyx_options_destroy(opts);
  onyx_model_destroy(model);
  return rc;
}

/* ---- reporting ------------------------------------------------------------------------ */

static double runs_per_s(const point *p) { return p->wall_s > 0 ? (double)p->runs / p->wall_s : 0; }

static double cpu_efficiency(const point *p, int64_t concurrency) {
  double budget = p->wall_s * (double)(p->threads * concurrency);
  return budget > 0 ? p->cpu_s / budget : 0;
}

static double mib(int64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static void print_dims(FILE *f, const input_desc *d) {
  fputc('[', f);
  for (int k = 0; k < d->rank; k++) fprintf(f, k ? ",%lld" : "%lld", (long long)d->dims[k]);
  fputc(']', f);
}

/* Why the --telemetry figure of src is missing, or NULL. Energy also needs
 * the counters to have moved: RAPL updates about every millisecond, so a
 * run too short to see that has no energy figure rather than 0 J. */
static const char *telemetry_missing(const point *p, onyx_telemetry_source src) {
  const char *why = onyx_telemetry_unavailable_reason(&p->tel.avail, src);
  if (!why && src == ONYX_TELEMETRY_ENERGY && !(p->tel.joules > 0))
    why = "the RAPL counters did not advance during the timed runs";
  return why;
}

/* The --telemetry lines: the figure, or why there is none. */
static void print_telemetry(const point *p) {
  static const char *const labels[ONYX_TELEMETRY_SOURCES] = {"energy:     ", "frequency:  ", "max temp:   "};
  const onyx_telemetry_delta *t = &p->tel;
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++) {
    const char *why = telemetry_missing(p, (onyx_telemetry_source)src);
    fputs(labels[src], stdout);
    if (why && t->avail.has[src]) printf("%s\n", why);
    else if (why) printf("not available on this machine (%s)\n", why);
    else if (src == ONYX_TELEMETRY_ENERGY)
      printf("%.3f J over %lld runs: %.6g J per inference, %.4g inferences per joule (RAPL)\n", t->joules,
             (long long)p->runs, t->joules / (double)p->runs, (double)p->runs / t->joules);
    else if (src == ONYX_TELEMETRY_FREQ) printf("%.0f MHz average (%s)\n", t->freq_mhz, t->freq_source);
    else printf("%.1f C (%s)\n", t->temp_c, t->temp_sensor);
  }
  printf("cpu util:   %.2f cores busy on average (process CPU time / wall time)\n", t->cpu_utilization);
}

static void print_point(const bench_args *a, const point *p) {
  printf("model:      %s\n", a->model);
  printf("providers:  ");
  const cli_provider_nodes *pn = &p->prov;
  for (int k = 0; k < pn->n; k++)
    printf("%s%s (%d node%s)", k ? ", " : "", pn->name[k], pn->nodes[k], pn->nodes[k] == 1 ? "" : "s");
  printf("%s\n", pn->n ? "" : "(no nodes)");
  printf("threads:    %lld intra-op x %lld caller thread%s", (long long)p->threads,
         (long long)a->concurrency, a->concurrency == 1 ? "" : "s");
  if (a->session.affinity) printf(", affinity %s", a->session.affinity);
  if (a->session.numa_node >= 0) printf(", NUMA node %lld", (long long)a->session.numa_node);
  putchar('\n');
  for (int i = 0; i < p->n_inputs; i++) {
    printf("%s%s %s ", i ? "            " : "inputs:     ", p->inputs[i].name, onyx_dtype_name(p->inputs[i].dtype));
    print_dims(stdout, &p->inputs[i]);
    printf(" %s\n", p->inputs[i].from_file ? "(file)" : "(random)");
  }
  printf("creation:   %.3f ms (load %.3f ms, session %.3f ms)\n", p->load_ms + p->session_ms, p->load_ms,
         p->session_ms);
  printf("runs:       %lld timed after %lld warm-up, %.3f s\n", (long long)p->runs,
         (long long)(a->warmup > 0 ? a->warmup : a->check), p->wall_s);
  printf("latency:    min %.3f ms, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms, mean %.3f ms\n",
         p->lat[0], p->lat[1], p->lat[2], p->lat[3], p->lat[4], p->lat[5]);
  printf("throughput: %.2f runs/s", runs_per_s(p));
  if (p->batch) printf(", %.2f samples/s (batch %lld)\n", runs_per_s(p) * (double)p->batch, (long long)p->batch);
  else printf(" (batch unknown: the first input's first dim is fixed)\n");
  printf("memory:     peak RSS %.1f MiB%s, arena %.3f MiB (peak activations %.3f MiB, no reuse %.3f MiB, "
         "weights %.3f MiB)\n",
         mib(p->peak_rss), p->rss_from_hwm ? "" : " (ru_maxrss)", mib(p->stats.arena_bytes),
         mib(p->stats.peak_activation_bytes), mib(p->stats.naive_activation_bytes), mib(p->stats.weight_bytes));
  for (int i = 0; i < p->n_spaces; i++)
    printf("device:     %s peak %.3f MiB, in use after the runs %.3f MiB\n", p->spaces[i].name, mib(p->spaces[i].peak),
           mib(p->spaces[i].in_use));
  printf("cpu:        %.3f s cpu / %.3f s wall / %lld threads = %.0f%% efficiency\n", p->cpu_s, p->wall_s,
         (long long)(p->threads * a->concurrency), 100 * cpu_efficiency(p, a->concurrency));
  if (a->telemetry) print_telemetry(p);
  if (a->check)
    printf("check:      %lld timed runs gave the first run's outputs bit for bit\n", (long long)p->runs);
}

static void print_sweep_header(void) {
  printf("%7s %6s %6s %10s %10s %10s %10s %10s %10s %11s %9s %9s %7s\n", "threads", "batch", "runs",
         "create_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "runs/s", "samples/s", "rss_MiB",
         "arena_MiB", "cpu_eff");
}

static void print_sweep_row(const bench_args *a, const point *p) {
  char batch[24] = "-", samples[24] = "-";
  if (p->batch) {
    snprintf(batch, sizeof batch, "%lld", (long long)p->batch);
    snprintf(samples, sizeof samples, "%.2f", runs_per_s(p) * (double)p->batch);
  }
  printf("%7lld %6s %6lld %10.2f %10.3f %10.3f %10.3f %10.3f %10.2f %11s %9.1f %9.3f %6.0f%%\n",
         (long long)p->threads, batch, (long long)p->runs, p->load_ms + p->session_ms, p->lat[1], p->lat[2],
         p->lat[3], p->lat[5], runs_per_s(p), samples, mib(p->peak_rss), mib(p->stats.arena_bytes),
         100 * cpu_efficiency(p, a->concurrency));
  fflush(stdout);
}

/* "telemetry": {...}, for --telemetry: null for a figure whose source is
 * missing, and the reasons under "not_available". */
static void json_telemetry(FILE *f, const point *p, const char *ind) {
  static const char *const names[ONYX_TELEMETRY_SOURCES] = {"energy", "frequency", "temperature"};
  const onyx_telemetry_delta *t = &p->tel;
  fprintf(f, "%s  \"telemetry\": {\"energy_j\": ", ind);
  if (!telemetry_missing(p, ONYX_TELEMETRY_ENERGY))
    fprintf(f, "%.6g, \"energy_per_inference_j\": %.6g, \"inferences_per_j\": %.6g", t->joules,
            t->joules / (double)p->runs, (double)p->runs / t->joules);
  else
    fputs("null, \"energy_per_inference_j\": null, \"inferences_per_j\": null", f);
  fputs(", \"freq_mhz\": ", f);
  if (t->avail.has[ONYX_TELEMETRY_FREQ]) fprintf(f, "%.6g", t->freq_mhz);
  else fputs("null", f);
  fputs(", \"temp_c\": ", f);
  if (t->avail.has[ONYX_TELEMETRY_TEMP]) fprintf(f, "%.6g", t->temp_c);
  else fputs("null", f);
  fprintf(f, ", \"cpu_utilization\": %.6g, \"not_available\": {", t->cpu_utilization);
  int n = 0;
  for (int src = 0; src < ONYX_TELEMETRY_SOURCES; src++) {
    const char *why = telemetry_missing(p, (onyx_telemetry_source)src);
    if (!why) continue;
    fprintf(f, "%s\"%s\": ", n++ ? ", " : "", names[src]);
    cli_json_string(f, why);
  }
  fputs("}},\n", f);
}

static void json_point(FILE *f, const bench_args *a, const point *p, const char *ind) {
  fprintf(f, "{\n%s  \"model\": ", ind);
  cli_json_string(f, a->model);
  fprintf(f, ",\n%s  \"onyx_version\": \"%s\",\n%s  \"providers\": [", ind, ONYX_VERSION_STRING, ind);
  for (int k = 0; k < p->prov.n; k++) {
    fputs(k ? ", " : "", f);
    cli_json_string(f, p->prov.name[k]);
  }
  fprintf(f, "],\n%s  \"nodes_per_provider\": {", ind);
  for (int k = 0; k < p->prov.n; k++) {
    fputs(k ? ", " : "", f);
    cli_json_string(f, p->prov.name[k]);
    fprintf(f, ": %d", p->prov.nodes[k]);
  }
  fprintf(f, "},\n%s  \"providers_requested\": ", ind);
  if (a->session.providers) cli_json_string(f, a->session.providers);
  else fputs("null", f);
  fprintf(f, ",\n%s  \"inputs\": [", ind);
  for (int i = 0; i < p->n_inputs; i++) {
    fprintf(f, "%s{\"name\": ", i ? ", " : "");
    cli_json_string(f, p->inputs[i].name);
    fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", onyx_dtype_name(p->inputs[i].dtype));
    print_dims(f, &p->inputs[i]);
    fprintf(f, ", \"source\": \"%s\"}", p->inputs[i].from_file ? "file" : "random");
  }
  fprintf(f, "],\n%s  \"threads\": %lld,\n%s  \"affinity\": ", ind, (long long)p->threads, ind);
  cli_json_string(f, a->session.affinity ? a->session.affinity : "none");
  fprintf(f, ",\n%s  \"numa_node\": ", ind);
  if (a->session.numa_node >= 0) fprintf(f, "%lld", (long long)a->session.numa_node);
  else fputs("null", f);
  fprintf(f, ",\n%s  \"concurrency\": %lld,\n%s  \"batch\": ", ind, (long long)a->concurrency, ind);
  if (p->batch) fprintf(f, "%lld", (long long)p->batch);
  else fputs("null", f);
  fprintf(f, ",\n%s  \"creation_ms\": %.6g,\n%s  \"load_ms\": %.6g,\n%s  \"session_ms\": %.6g,\n", ind,
          p->load_ms + p->session_ms, ind, p->load_ms, ind, p->session_ms);
  fprintf(f, "%s  \"warmup\": %lld,\n%s  \"runs\": %lld,\n%s  \"wall_s\": %.6g,\n%s  \"cpu_s\": %.6g,\n", ind,
          (long long)(a->warmup > 0 ? a->warmup : a->check), ind, (long long)p->runs, ind, p->wall_s, ind,
          p->cpu_s);
  fprintf(f, "%s  \"latency_ms\": {", ind);
  for (int k = 0; k < 6; k++) fprintf(f, "%s\"%s\": %.6g", k ? ", " : "", lat_names[k], p->lat[k]);
  fprintf(f, "},\n%s  \"throughput_per_s\": %.6g,\n%s  \"samples_per_s\": ", ind, runs_per_s(p), ind);
  if (p->batch) fprintf(f, "%.6g", runs_per_s(p) * (double)p->batch);
  else fputs("null", f);
  fprintf(f, ",\n%s  \"peak_rss_bytes\": %lld,\n%s  \"peak_rss_source\": \"%s\",\n", ind, (long long)p->peak_rss,
          ind, p->rss_from_hwm ? "VmHWM" : "ru_maxrss");
  fprintf(f, "%s  \"arena_bytes\": %lld,\n%s  \"peak_activation_bytes\": %lld,\n%s  \"naive_activation_bytes\": %lld,\n"
             "%s  \"weight_bytes\": %lld,\n",
          ind, (long long)p->stats.arena_bytes, ind, (long long)p->stats.peak_activation_bytes, ind,
          (long long)p->stats.naive_activation_bytes, ind, (long long)p->stats.weight_bytes);
  fprintf(f, "%s  \"device_memory\": {", ind);
  for (int i = 0; i < p->n_spaces; i++) {
    fprintf(f, "%s", i ? ", " : "");
    cli_json_string(f, p->spaces[i].name);
    fprintf(f, ": {\"peak_bytes\": %lld, \"in_use_bytes\": %lld}", (long long)p->spaces[i].peak,
            (long long)p->spaces[i].in_use);
  }
  fprintf(f, "},\n");
  if (a->telemetry) json_telemetry(f, p, ind);
  fprintf(f, "%s  \"cpu_efficiency\": %.6g,\n%s  \"check\": %s\n%s}", ind, cpu_efficiency(p, a->concurrency),
          ind, a->check ? "true" : "false", ind);
}

static int write_json(const bench_args *a, const point *pts, int n, bool sweep) {
  FILE *f = fopen(a->json, "w");
  if (!f) return cli_fail("--json: cannot write '%s': %s", a->json, strerror(errno));
  if (sweep) {
    fputs("{\n  \"points\": [\n    ", f);
    for (int i = 0; i < n; i++) {
      if (i) fputs(",\n    ", f);
      json_point(f, a, &pts[i], "    ");
    }
    fputs("\n  ]\n}\n", f);
  } else {
    json_point(f, a, &pts[0], "");
    fputc('\n', f);
  }
  if (fclose(f)) return cli_fail("--json: error writing '%s'", a->json);
  return 0;
}

static int write_csv(const bench_args *a, const point *pts, int n) {
  FILE *f = fopen(a->csv, "w");
  if (!f) return cli_fail("--csv: cannot write '%s': %s", a->csv, strerror(errno));
  fputs("threads,batch,concurrency,runs,creation_ms,min_ms,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,"
        "runs_per_s,samples_per_s,peak_rss_bytes,arena_bytes,cpu_efficiency\n", f);
  for (int i = 0; i < n; i++) {
    const point *p = &pts[i];
    fprintf(f, "%lld,", (long long)p->threads);
    if (p->batch) fprintf(f, "%lld", (long long)p->batch);
    fprintf(f, ",%lld,%lld,%.6g", (long long)a->concurrency, (long long)p->runs, p->load_ms + p->session_ms);
    for (int k = 0; k < 6; k++) fprintf(f, ",%.6g", p->lat[k]);
    fprintf(f, ",%.6g,", runs_per_s(p));
    if (p->batch) fprintf(f, "%.6g", runs_per_s(p) * (double)p->batch);
    fprintf(f, ",%lld,%lld,%.6g\n", (long long)p->peak_rss, (long long)p->stats.arena_bytes,
            cpu_efficiency(p, a->concurrency));
  }
  if (fclose(f)) return cli_fail("--csv: error writing '%s'", a->csv);
  printf("wrote %s\n", a->csv);
  return 0;
}

/* ---- the command ---------------------------------------------------------------------- */

int cmd_bench(int argc, char **argv) {
  bench_args a = {0};
  point *pts = NULL;
  int n_pts = 0, rc;

  if ((rc = parse_args(argc, argv, &a))) {
    rc = rc < 0 ? 0 : rc;
    goto done;
  }
  bool sweep = a.n_sweep_threads || a.n_sweep_batch;
  int nt = a.n_sweep_threads ? a.n_sweep_threads : 1, nb = a.n_sweep_batch ? a.n_sweep_batch : 1;
  if (!(pts = calloc((size_t)(nt * nb), sizeof *pts))) {
    rc = cli_fail("out of memory");
    goto done;
  }
  if (sweep) {
    printf("model: %s\n", a.model);
    print_sweep_header();
  }
  for (int t = 0; t < nt; t++)
    for (int b = 0; b < nb; b++) {
      int64_t threads = a.n_sweep_threads ? a.sweep_threads[t] : a.session.threads;
      int64_t batch = a.n_sweep_batch ? a.sweep_batch[b] : 0;
      rc = measure(&a, threads, batch, n_pts == 0, sweep, &pts[n_pts]);
      n_pts++;   /* also on failure, so its input descriptions are freed */
      if (rc) goto done;
    }
  if (sweep && (rc = write_csv(&a, pts, n_pts))) goto done;
  if (a.json) rc = write_json(&a, pts, n_pts, sweep);

done:
  for (int i = 0; i < n_pts; i++) free(pts[i].inputs);
  free(pts);
  inputs_deinit(&a.in);
  return rc;
}
