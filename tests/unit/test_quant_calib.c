/* test_quant_calib.c — the calibrators on known distributions (uniform;
 * gaussian with far outliers: percentile and entropy must clip them, minmax
 * must not), histogram re-binning when the range grows, calibration tables
 * through JSON, and calibration of a running model through the observer. */
#include <unistd.h>

#include "quant/quant.h"
#include "test_util.h"

#define N 200000

/* Standard normal samples from the test's uniform generator (Box-Muller). */
static void gaussian(float *p, int n, unsigned seed) {
  float *u = malloc((size_t)n * sizeof *u);
  tu_fill_random(u, (size_t)n, seed);
  for (int i = 0; i + 1 < n; i += 2) {
    double u1 = (u[i] + 1) / 2 * 0.999999 + 1e-7, u2 = (u[i + 1] + 1) / 2;
    double r = sqrt(-2 * log(u1));
    p[i] = (float)(r * cos(2 * M_PI * u2));
    p[i + 1] = (float)(r * sin(2 * M_PI * u2));
  }
  free(u);
}

static void ranges(const float *x, int n, float out[3][2], bool symmetric) {
  onyx_collector c;
  CHECK_OK(onyx_collector_init(&c, true));
  onyx_collector_add(&c, x, n / 2);   /* two batches */
  onyx_collector_add(&c, x + n / 2, n - n / 2);
  onyx_collector_range(&c, ONYX_CALIB_MINMAX, 0, symmetric, &out[0][0], &out[0][1]);
  onyx_collector_range(&c, ONYX_CALIB_ENTROPY, 0, symmetric, &out[1][0], &out[1][1]);
  onyx_collector_range(&c, ONYX_CALIB_PERCENTILE, 99.99, symmetric, &out[2][0], &out[2][1]);
  onyx_collector_deinit(&c);
}

/* Calibration samples for the model below: 3 batches of [2, 4] values in
 * [-1, 1) scaled by the batch index + 1. */
typedef struct reader_state {
  int calls;
} reader_state;

static onyx_status *reader(void *arg, int n_inputs, const char *const *names, onyx_tensor **inputs, int *done) {
  reader_state *st = arg;
  if (n_inputs != 1 || strcmp(names[0], "x0")) return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "bad inputs");
  if (st->calls == 3) {
    *done = 1;
    return NULL;
  }
  int64_t d[2] = {2, 4};
  float v[8];
  tu_fill_random(v, 8, (unsigned)st->calls + 1);
  for (int i = 0; i < 8; i++) v[i] *= (float)(st->calls + 1);
  v[0] = 2.5f;   /* a known maximum */
  inputs[0] = tu_f32(2, d, v);
  st->calls++;
  return NULL;
}

int main(void) {
  float *x = malloc(N * sizeof *x), r[3][2];
  /* uniform [-1, 1): every method keeps (nearly) the whole range */
  tu_fill_random(x, N, 3);
  ranges(x, N, r, false);
  CHECK(r[0][0] < -0.999f && r[0][1] > 0.999f);
  CHECK(r[1][0] < -0.8f && r[1][1] > 0.8f);
  CHECK(r[2][0] < -0.99f && r[2][1] > 0.99f);
  for (int m = 0; m < 3; m++) CHECK(r[m][0] >= r[0][0] && r[m][1] <= r[0][1]);   /* within min/max */
  /* gaussian with 10 outliers at +-50: minmax keeps them, the others clip */
  gaussian(x, N, 5);
  for (int i = 0; i < 10; i++) x[i * 1000] = i % 2 ? 50.0f : -50.0f;
  ranges(x, N, r, false);
  CHECK(r[0][0] == -50.0f && r[0][1] == 50.0f);
  CHECK(r[1][1] < 20.0f && r[1][1] > 2.0f && r[1][0] > -20.0f && r[1][0] < -2.0f);
  CHECK(r[2][1] < 6.0f && r[2][1] > 3.0f && r[2][0] > -6.0f && r[2][0] < -3.0f);
  /* symmetric percentile works on |x| */
  ranges(x, N, r, true);
  CHECK(r[2][1] < 6.0f && r[2][1] > 3.0f && r[2][0] == -r[2][1]);
  /* a one-sided (Relu-like) tensor: ranges stay within [0, max] */
  for (int i = 0; i < N; i++) x[i] = fabsf(x[i]);
  ranges(x, N, r, false);
  for (int m = 0; m < 3; m++) CHECK(r[m][0] >= 0.0f);

  /* widening the histogram keeps every count */
  {
    onyx_collector c;
    CHECK_OK(onyx_collector_init(&c, true));
    float a[4] = {0.5f, -0.25f, 0.0f, 0.125f}, b[3] = {10.0f, -3.0f, NAN};
    onyx_collector_add(&c, a, 4);
    double r0 = c.range;
    onyx_collector_add(&c, b, 3);
    CHECK(c.range >= 10.0 && c.range == r0 * pow(2, round(log2(c.range / r0))));
    uint64_t total = 0;
    for (int k = 0; k < ONYX_CALIB_BINS; k++) total += c.bins[k];
    CHECK(total == 6 && c.count == 6 && c.min == -3.0 && c.max == 10.0);
    /* 0.125 (not on the top edge, where values are clamped into the last bin)
     * lands in the bin holding it at the new resolution */
    double w = 2 * c.range / ONYX_CALIB_BINS;
    CHECK(c.bins[(int)floor((0.125 + c.range) / w)] >= 1);
    onyx_collector_deinit(&c);
    /* an all-zero tensor: range [0, 0] */
    float z[5] = {0};
    CHECK_OK(onyx_collector_init(&c, true));
    onyx_collector_add(&c, z, 5);
    float lo, hi;
    onyx_collector_range(&c, ONYX_CALIB_ENTROPY, 0, false, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    onyx_collector_deinit(&c);
  }

  /* tables through JSON (names with quotes and backslashes) */
  {
    onyx_calib_table t, u;
    CHECK_OK(onyx_calib_table_init(&t));
    CHECK_OK(onyx_calib_table_set(&t, "conv/out \"0\"\\x", -1.5f, 3.25f));
    CHECK_OK(onyx_calib_table_set(&t, "relu", 0.0f, 6.0f));
    CHECK_OK(onyx_calib_table_set(&t, "relu", 0.0f, 5.0f));   /* replaces */
    CHECK(t.n == 2);
    onyx_calib_table_params(&t, ONYX_DTYPE_UINT8, false);
    /* a private temporary file: the test runs from a fresh checkout too */
    char path[] = "/tmp/onyx_test_quant_table_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_OK(onyx_calib_table_write(&t, path));
    CHECK_OK(onyx_calib_table_init(&u));
    CHECK_OK(onyx_calib_table_read(&u, path));
    const onyx_calib_entry *e = onyx_calib_table_get(&u, "conv/out \"0\"\\x");
    CHECK(e && e->min == -1.5f && e->max == 3.25f);
    e = onyx_calib_table_get(&u, "relu");
    CHECK(e && e->min == 0.0f && e->max == 5.0f);
    onyx_calib_table_deinit(&u);
    /* malformed files are refused with a message */
    FILE *f = fopen(path, "w");
    fputs("{\"a\": {\"min\": 1}}", f);
    fclose(f);
    CHECK_OK(onyx_calib_table_init(&u));
    CHECK_ERR(onyx_calib_table_read(&u, path), ONYX_ERR_INVALID_ARGUMENT);
    onyx_calib_table_deinit(&u);
    f = fopen(path, "w");
    fputs("{\"a\": {\"min\": 1, \"max\": 2, \"extra\": [1, {\"k\": null}]}} trailing", f);
    fclose(f);
    CHECK_OK(onyx_calib_table_init(&u));
    CHECK_ERR(onyx_calib_table_read(&u, path), ONYX_ERR_INVALID_ARGUMENT);
    onyx_calib_table_deinit(&u);
    remove(path);
    CHECK_OK(onyx_calib_table_init(&u));
    CHECK_ERR(onyx_calib_table_read(&u, path), ONYX_ERR_NOT_FOUND);
    onyx_calib_table_deinit(&u);
    onyx_calib_table_deinit(&t);
  }

  /* calibration of a running model: y0 = Relu(x0) sees [0, max] */
  {
    tu_node t = tu_node_new("Relu", 13, 1, 1);
    int64_t d[2] = {2, 4};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    onyx_calib_table tab;
    CHECK_OK(onyx_calib_table_init(&tab));
    reader_state st = {0};
    int n = 0;
    CHECK_OK(onyx_calibrate(t.m, reader, &st, ONYX_CALIB_MINMAX, 0, false, &tab, &n));
    CHECK(n == 3);
    /* independent reference: the same samples' min and max */
    float lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 3; k++) {
      float v[8];
      tu_fill_random(v, 8, (unsigned)k + 1);
      for (int i = 0; i < 8; i++) v[i] *= (float)(k + 1);
      v[0] = 2.5f;
      for (int i = 0; i < 8; i++) lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    }
    const onyx_calib_entry *ex = onyx_calib_table_get(&tab, "x0"), *ey = onyx_calib_table_get(&tab, "y0");
    CHECK(ex && ex->min == lo && ex->max == hi);
    CHECK(ey && ey->min == 0.0f && ey->max == hi);
    onyx_calib_table_deinit(&tab);
    /* a reader that gives nothing is an error */
    CHECK_OK(onyx_calib_table_init(&tab));
    st.calls = 3;
    CHECK_ERR(onyx_calibrate(t.m, reader, &st, ONYX_CALIB_MINMAX, 0, false, &tab, &n), ONYX_ERR_INVALID_ARGUMENT);
    onyx_calib_table_deinit(&tab);
    onyx_model_destroy(t.m);
  }
  free(x);
  return tu_done("test_quant_calib");
}
