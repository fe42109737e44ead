/* test_loss.c — NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * against a direct double-precision reference written from the ONNX
 * definition: every reduction, with and without class weights, ignore_index
 * (in range, negative, above C), N-d inputs, the optional log_prob output,
 * float32 / float64 / float16, threads, and the errors (target out of range,
 * bad reduction). */
#include "base/half.h"
#include "test_util.h"

typedef struct loss_case {
  bool sce, weight, log_prob;
  const char *reduction;
  bool has_ii;
  int64_t ii;
  int rank;                      /* of the scores */
  int64_t dims[5];               /* [N, C, d...] */
  onyx_dtype dt;
  int threads;
} loss_case;

/* Reference: loss per position (weighted), then the reduction. x is
 * [N, C, D]; out receives P values ("none") or 1; logp [N, C, D] for SCE. */
static void reference(const loss_case *lc, const double *x, const int64_t *tg, const double *w,
                      double *out, double *logp) {
  int64_t N = lc->dims[0], C = lc->dims[1], D = 1;
  for (int i = 2; i < lc->rank; i++) D *= lc->dims[i];
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) {
      double lse = 0;
      if (lc->sce) {
        double mx = -INFINITY, e = 0;
        for (int64_t c = 0; c < C; c++) mx = fmax(mx, x[(n * C + c) * D + d]);
        for (int64_t c = 0; c < C; c++) e += exp(x[(n * C + c) * D + d] - mx);
        lse = mx + log(e);
        for (int64_t c = 0; c < C; c++) logp[(n * C + c) * D + d] = x[(n * C + c) * D + d] - lse;
      }
      int64_t t = tg[n * D + d];
      double l = 0, wt = 0;
      if (!(lc->has_ii && t == lc->ii)) {
        wt = lc->weight ? w[t] : 1.0;
        l = -wt * (x[(n * C + t) * D + d] - lse);
      }
      if (!strcmp(lc->reduction, "none")) out[n * D + d] = l;
      sum += l;
      wsum += wt;
    }
  if (!strcmp(lc->reduction, "sum")) out[0] = sum;
  if (!strcmp(lc->reduction, "mean")) out[0] = sum / wsum;
}

/* Values as the dtype stores them, so the reference sees the same inputs. */
static void quantize(onyx_dtype dt, double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (dt == ONYX_DTYPE_FLOAT) v[i] = (float)v[i];
    else if (dt == ONYX_DTYPE_FLOAT16) v[i] = onyx_f16_to_f32(onyx_f32_to_f16((float)v[i]));
  }
}

static void run_case(const loss_case *lc, unsigned seed) {
  int64_t N = lc->dims[0], C = lc->dims[1], D = 1, tdims[4];
  for (int i = 2; i < lc->rank; i++) D *= lc->dims[i];
  tdims[0] = N;
  for (int i = 2; i < lc->rank; i++) tdims[i - 1] = lc->dims[i];
  int64_t nx = N * C * D, P = N * D;
  float *r = malloc((size_t)(nx + P + C) * sizeof *r);
  tu_fill_random(r, (size_t)(nx + P + C), seed);
  double *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)C * sizeof *w);
  int64_t *tg = malloc((size_t)P * sizeof *tg);
  for (int64_t i = 0; i < nx; i++) x[i] = 3.0 * r[i];
  for (int64_t i = 0; i < P; i++) {
    tg[i] = (int64_t)((r[nx + i] + 1.0f) * 0.5f * (float)C) % C;
    if (lc->has_ii && i % 3 == 1) tg[i] = lc->ii;   /* some positions ignored */
  }
  for (int64_t i = 0; i < C; i++) w[i] = 0.25 + r[nx + P + i] * r[nx + P + i];
  quantize(lc->dt, x, nx);
  quantize(lc->dt, w, C);
  double *want = malloc((size_t)P * sizeof *want), *want_lp = malloc((size_t)nx * sizeof *want_lp);
  reference(lc, x, tg, w, want, want_lp);

  int n_in = lc->weight ? 3 : 2, n_out = lc->log_prob ? 2 : 1;
  tu_node t = tu_node_new(lc->sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", 13,
                          n_in, n_out);
  tu_attr_string(&t, "reduction", lc->reduction);
  if (lc->has_ii) tu_attr_int(&t, "ignore_index", lc->ii);
  tu_input(&t, 0, lc->dt, lc->rank, lc->dims);
  tu_input(&t, 1, ONYX_DTYPE_INT64, lc->rank - 1, tdims);
  if (lc->weight) tu_input(&t, 2, lc->dt, 1, &C);
  onyx_tensor *in[3] = {tu_from_f64(lc->dt, lc->rank, lc->dims, x), NULL, NULL}, *out[2] = {0};
  onyx_tensor_create(ONYX_DTYPE_INT64, lc->rank - 1, tdims, &in[1]);
  memcpy(onyx_tensor_data(in[1]), tg, (size_t)P * sizeof *tg);
  if (lc->weight) in[2] = tu_from_f64(lc->dt, 1, &C, w);
  CHECK_OK(tu_run(&t, lc->threads, n_in, in, n_out, out));
  double tol = lc->dt == ONYX_DTYPE_FLOAT16 ? 4e-3 : lc->dt == ONYX_DTYPE_FLOAT ? 2e-5 : 1e-12;
  bool none = !strcmp(lc->reduction, "none");
  if (out[0]) {
    CHECK(onyx_tensor_dtype(out[0]) == lc->dt);
    CHECK(onyx_tensor_rank(out[0]) == (none ? lc->rank - 1 : 0));
    int bad = 0;
    for (int64_t i = 0; i < (none ? P : 1); i++)
      if (!(fabs(onyx_tensor_get_f64(out[0], i) - want[i]) <= tol * (1 + fabs(want[i]))) &&
          !(isnan(want[i]) && isnan(onyx_tensor_get_f64(out[0], i))))   /* mean over no weight: 0/0 */
        bad++;
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "  case sce=%d red=%s ii=%d: %d losses differ (first %g vs %g)\n",
                     lc->sce, lc->reduction, lc->has_ii, bad, onyx_tensor_get_f64(out[0], 0), want[0]);
  }
  if (lc->log_prob && out[1]) {
    int bad = 0;
    for (int64_t i = 0; i < nx; i++)
      if (!(fabs(onyx_tensor_get_f64(out[1], i) - want_lp[i]) <= tol * (1 + fabs(want_lp[i])))) bad++;
    CHECK(bad == 0);
  }
  for (int i = 0; i < 3; i++) onyx_tensor_free(in[i]);
  for (int i = 0; i < 2; i++) onyx_tensor_free(out[i]);
  free(r);
  free(x);
  free(w);
  free(tg);
  free(want);
  free(want_lp);
}

static void test_matrix(void) {
  static const char *const reds[] = {"none", "sum", "mean"};
  static const struct {
    int rank;
    int64_t dims[5];
  } shapes[] = {{2, {3, 5}}, {3, {2, 4, 7}}, {4, {2, 3, 5, 6}}, {5, {2, 3, 2, 3, 4}}};
  static const struct {
    bool has;
    int64_t ii;
  } iis[] = {{false, 0}, {true, 1}, {true, -5}, {true, 10}};
  unsigned seed = 1;
  for (int sce = 0; sce < 2; sce++)
    for (size_t ri = 0; ri < 3; ri++)
      for (int wt = 0; wt < 2; wt++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
          for (size_t ii = 0; ii < sizeof iis / sizeof iis[0]; ii++) {
            loss_case lc = {sce, wt, sce && (si & 1), reds[ri], iis[ii].has, iis[ii].ii,
                            shapes[si].rank, {0}, ONYX_DTYPE_FLOAT, 1};
            memcpy(lc.dims, shapes[si].dims, sizeof lc.dims);
            run_case(&lc, seed++);
          }
}

static void test_dtypes_and_threads(void) {
  onyx_dtype dts[] = {ONYX_DTYPE_DOUBLE, ONYX_DTYPE_FLOAT16};
  for (int i = 0; i < 2; i++)
    for (int sce = 0; sce < 2; sce++) {
      loss_case lc = {sce, true, sce, "mean", true, 2, 3, {4, 6, 9}, dts[i], 1};
      run_case(&lc, 100u + (unsigned)i);
      lc.reduction = "none";
      run_case(&lc, 200u + (unsigned)i);
    }
  /* big enough to be split over threads: many positions per sample */
  loss_case big = {true, true, true, "mean", true, 0, 4, {3, 7, 40, 50}, ONYX_DTYPE_FLOAT, 4};
  run_case(&big, 300);
  big.sce = false;
  big.log_prob = false;
  big.reduction = "none";
  run_case(&big, 301);
}

static void test_errors(void) {
  /* a target outside [0, C) that is not the ignore_index */
  int64_t xd[2] = {2, 3}, td[1] = {2};
  tu_node t = tu_node_new("NegativeLogLikelihoodLoss", 13, 2, 1);
  tu_attr_int(&t, "ignore_index", -1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, xd);
  tu_input(&t, 1, ONYX_DTYPE_INT64, 1, td);
  onyx_tensor *in[2] = {tu_f32(2, xd, (float[]){0, 1, 2, 3, 4, 5}), NULL}, *out = NULL;
  onyx_tensor_create(ONYX_DTYPE_INT64, 1, td, &in[1]);
  memcpy(onyx_tensor_data(in[1]), (int64_t[]){1, 3}, 2 * sizeof(int64_t));
  CHECK_ERR(tu_run(&t, 1, 2, in, 1, &out), ONYX_ERR_INVALID_ARGUMENT);
  onyx_tensor_free(out);
  /* the ignore_index itself may lie outside [0, C): here -1, loss 0 */
  out = NULL;
  t = tu_node_new("NegativeLogLikelihoodLoss", 13, 2, 1);
  tu_attr_int(&t, "ignore_index", -1);
  tu_attr_string(&t, "reduction", "sum");
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, xd);
  tu_input(&t, 1, ONYX_DTYPE_INT64, 1, td);
  memcpy(onyx_tensor_data(in[1]), (int64_t[]){2, -1}, 2 * sizeof(int64_t));
  CHECK_OK(tu_run(&t, 1, 2, in, 1, &out));
  CHECK(out && ((float *)onyx_tensor_data(out))[0] == -2.0f);
  onyx_tensor_free(out);
  /* an unknown reduction fails at load */
  out = NULL;
  t = tu_node_new("SoftmaxCrossEntropyLoss", 13, 2, 1);
  tu_attr_string(&t, "reduction", "average");
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, xd);
  tu_input(&t, 1, ONYX_DTYPE_INT64, 1, td);
  CHECK_ERR(tu_run(&t, 1, 2, in, 1, &out), ONYX_ERR_INVALID_MODEL);
  onyx_tensor_free(out);
  /* a target of the wrong rank */
  out = NULL;
  t = tu_node_new("SoftmaxCrossEntropyLoss", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, xd);
  tu_input(&t, 1, ONYX_DTYPE_INT64, 2, xd);
  onyx_status *s = tu_run(&t, 1, 2, in, 1, &out);
  CHECK(s != NULL);
  onyx_status_free(s);
  onyx_tensor_free(out);
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
}

int main(void) {
  test_matrix();
  test_dtypes_and_threads();
  test_errors();
  return tu_done("test_loss");
}
