/* test_signal.c — the signal family on one-node models, checked against
 * reference code written here: a direct O(n^2) DFT in double (no FFT), a
 * frame-by-frame STFT on top of it, the window formulas in their sin^2 /
 * cosine-sum forms, and the mel filter bank as ONNX's Python reference
 * builds it. Lengths cover powers of two (radix-2 path) and others (Bluestein:
 * primes, composites, 1); cases cover real and complex input, inverse,
 * onesided, dft_length shorter and longer than the axis (known at load time
 * and only at run time), inner axes, double and float16 data, several
 * threads, and the errors the ops must report. */
#include "base/half.h"
#include "test_util.h"

/* dims of a rank-0 tensor (never read, but not NULL: memcpy of 0 bytes from NULL is undefined) */
static const int64_t SCALAR[1] = {0};

static onyx_tensor *mk(onyx_dtype dt, int rank, const int64_t *dims, const void *data) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  if (data) memcpy(onyx_tensor_data(t), data, onyx_tensor_nbytes(t));
  return t;
}

static onyx_tensor *scalar_i64(int64_t v) { return mk(ONYX_DTYPE_INT64, 0, SCALAR, &v); }

static double at(const onyx_tensor *t, int64_t i) {
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case ONYX_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return NAN;
  }
}

static void set(onyx_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)t->data)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)t->data)[i] = onyx_f32_to_f16((float)v); break;
    default: break;
  }
}

static unsigned long long rng = 99;
static double urand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) / (double)(1ull << 53) * 2 - 1;
}

/* Direct DFT of xr/xi (n_read samples, zero-padded or cut to N). */
static void ref_dft(const double *xr, const double *xi, int64_t n_read, int64_t N, bool inverse, double *yr,
                    double *yi) {
  for (int64_t k = 0; k < N; k++) {
    double sr = 0, si = 0;
    for (int64_t j = 0; j < n_read && j < N; j++) {
      double a = (inverse ? 2 : -2) * M_PI * (double)((j * k) % N) / (double)N;
      sr += xr[j] * cos(a) - xi[j] * sin(a);
      si += xr[j] * sin(a) + xi[j] * cos(a);
    }
    yr[k] = inverse ? sr / (double)N : sr;
    yi[k] = inverse ? si / (double)N : si;
  }
}

/* ---- DFT ---------------------------------------------------------------------------- */

typedef struct dft_case {
  int rank;
  int64_t dims[5];      /* input dims, last is 1 or 2 */
  int axis;
  bool inverse, onesided;
  int64_t dft_len;      /* 0: no dft_length input */
  bool len_at_run;      /* dft_length fed at run time rather than constant */
  onyx_dtype dt;
  int threads;
} dft_case;

static void check_dft(const dft_case *dc) {
  int rank = dc->rank, axis = dc->axis < 0 ? dc->axis + rank : dc->axis;
  bool cplx = dc->dims[rank - 1] == 2;
  int64_t n_in = dc->dims[axis], N = dc->dft_len ? dc->dft_len : n_in;
  int64_t n_out = dc->onesided ? N / 2 + 1 : N;
  tu_node t = tu_node_new("DFT", 17, dc->dft_len ? 2 : 1, 1);
  tu_input(&t, 0, dc->dt, rank, dc->dims);
  int64_t len = dc->dft_len;
  if (dc->dft_len && dc->len_at_run) tu_input(&t, 1, ONYX_DTYPE_INT64, 0, SCALAR);
  else if (dc->dft_len) tu_const(&t, 1, ONYX_DTYPE_INT64, 0, SCALAR, &len);
  tu_attr_int(&t, "axis", dc->axis);
  if (dc->inverse) tu_attr_int(&t, "inverse", 1);
  if (dc->onesided) tu_attr_int(&t, "onesided", 1);
  onyx_tensor *x = mk(dc->dt, rank, dc->dims, NULL);
  int64_t nx = onyx_numel(rank, dc->dims);
  for (int64_t i = 0; i < nx; i++) set(x, i, urand());
  onyx_tensor *in[2] = {x, dc->dft_len && dc->len_at_run ? scalar_i64(len) : NULL}, *y = NULL;
  CHECK_OK(tu_run(&t, dc->threads, in[1] ? 2 : 1, in, 1, &y));
  int64_t outer = onyx_numel(axis, dc->dims), inner = onyx_numel(rank - 2 - axis, dc->dims + axis + 1);
  int comps = cplx ? 2 : 1;
  bool shape_ok = y && y->rank == rank && y->dims[axis] == n_out && y->dims[rank - 1] == 2;
  CHECK(shape_ok);
  if (shape_ok) {
    double *xr = calloc((size_t)n_in + 1, sizeof *xr), *xi = calloc((size_t)n_in + 1, sizeof *xi);
    double *yr = calloc((size_t)N, sizeof *yr), *yi = calloc((size_t)N, sizeof *yi);
    double worst = 0;
    double tol = dc->dt == ONYX_DTYPE_DOUBLE ? 1e-12 : dc->dt == ONYX_DTYPE_FLOAT ? 2e-6 : 2e-3;
    bool all_ok = true;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        double mass = 1;
        for (int64_t k = 0; k < n_in; k++) {
          int64_t p = ((o * n_in + k) * inner + i) * comps;
          xr[k] = at(x, p);
          xi[k] = cplx ? at(x, p + 1) : 0;
          mass += fabs(xr[k]) + fabs(xi[k]);
        }
        ref_dft(xr, xi, n_in, N, dc->inverse, yr, yi);
        if (dc->inverse) mass /= (double)N;
        for (int64_t k = 0; k < n_out; k++) {
          int64_t q = ((o * n_out + k) * inner + i) * 2;
          double e = fmax(fabs(at(y, q) - yr[k]), fabs(at(y, q + 1) - yi[k])) / mass;
          if (e > worst) worst = e;
          if (!(e <= tol)) all_ok = false;
        }
      }
    if (!all_ok) fprintf(stderr, "DFT case rank %d axis %d N %lld: relative error %g\n", rank, dc->axis, (long long)N, worst);
    CHECK(all_ok);
    free(xr);
    free(xi);
    free(yr);
    free(yi);
  }
  onyx_tensor_free(x);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
}

static void test_dft(void) {
  const int64_t lengths[] = {1, 2, 3, 5, 7, 8, 12, 16, 30, 64, 97, 128, 250};
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    int64_t n = lengths[i];
    check_dft(&(dft_case){2 + 1, {2, n, 1}, 1, .dt = ONYX_DTYPE_FLOAT, .threads = 1});
    check_dft(&(dft_case){3, {3, n, 2}, 1, .inverse = true, .dt = ONYX_DTYPE_DOUBLE, .threads = 2});
    check_dft(&(dft_case){3, {2, n, 1}, 1, .onesided = true, .dt = ONYX_DTYPE_FLOAT, .threads = 1});
  }
  /* an inner axis: lines are strided */
  check_dft(&(dft_case){5, {2, 3, 10, 4, 2}, 2, .dt = ONYX_DTYPE_FLOAT, .threads = 2});
  check_dft(&(dft_case){4, {1, 6, 9, 1}, -2, .onesided = true, .dt = ONYX_DTYPE_DOUBLE, .threads = 1});
  check_dft(&(dft_case){4, {2, 5, 7, 2}, 1, .inverse = true, .dt = ONYX_DTYPE_FLOAT, .threads = 2});
  /* dft_length pads or cuts; known at load time or only when run */
  check_dft(&(dft_case){3, {2, 10, 1}, 1, .dft_len = 16, .dt = ONYX_DTYPE_FLOAT, .threads = 1});
  check_dft(&(dft_case){3, {2, 10, 2}, 1, .dft_len = 7, .dt = ONYX_DTYPE_DOUBLE, .threads = 1});
  check_dft(&(dft_case){3, {2, 10, 1}, 1, .dft_len = 13, .len_at_run = true, .onesided = true,
                        .dt = ONYX_DTYPE_FLOAT, .threads = 1});
  check_dft(&(dft_case){3, {2, 9, 2}, 1, .dft_len = 4, .len_at_run = true, .inverse = true,
                        .dt = ONYX_DTYPE_DOUBLE, .threads = 2});
  /* float16 data, computed in double and rounded once */
  check_dft(&(dft_case){3, {2, 12, 2}, 1, .dt = ONYX_DTYPE_FLOAT16, .threads = 1});
  /* many lines across threads */
  check_dft(&(dft_case){3, {64, 24, 1}, 1, .dt = ONYX_DTYPE_FLOAT, .threads = 2});

  /* inverse of forward gives the input back */
  {
    int64_t d[3] = {1, 21, 2};
    float xv[42];
    for (int i = 0; i < 42; i++) xv[i] = (float)urand();
    tu_node f = tu_node_new("DFT", 17, 1, 1);
    tu_input(&f, 0, ONYX_DTYPE_FLOAT, 3, d);
    onyx_tensor *x = mk(ONYX_DTYPE_FLOAT, 3, d, xv), *y = NULL, *z = NULL;
    CHECK_OK(tu_run(&f, 1, 1, &x, 1, &y));
    tu_node b = tu_node_new("DFT", 17, 1, 1);
    tu_input(&b, 0, ONYX_DTYPE_FLOAT, 3, d);
    tu_attr_int(&b, "inverse", 1);
    if (y) CHECK_OK(tu_run(&b, 1, 1, &y, 1, &z));
    else onyx_model_destroy(b.m);
    bool same = z != NULL;
    for (int i = 0; z && i < 42; i++) same = same && fabs(((float *)z->data)[i] - xv[i]) < 1e-5;
    CHECK(same);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
    onyx_tensor_free(z);
  }

  /* errors */
  int64_t dc[3] = {1, 8, 2}, dr[3] = {1, 8, 3};
  onyx_tensor *xc = mk(ONYX_DTYPE_FLOAT, 3, dc, NULL), *y = NULL;
  tu_node e1 = tu_node_new("DFT", 17, 1, 1);
  tu_input(&e1, 0, ONYX_DTYPE_FLOAT, 3, dc);
  tu_attr_int(&e1, "onesided", 1);
  CHECK_ERR(tu_run(&e1, 1, 1, &xc, 1, &y), ONYX_ERR_INVALID_MODEL);   /* onesided complex */
  tu_node e2 = tu_node_new("DFT", 17, 1, 1);
  tu_input(&e2, 0, ONYX_DTYPE_FLOAT, 3, dc);
  tu_attr_int(&e2, "axis", 2);
  CHECK_ERR(tu_run(&e2, 1, 1, &xc, 1, &y), ONYX_ERR_INVALID_MODEL);   /* axis on the last dim */
  tu_node e3 = tu_node_new("DFT", 17, 1, 1);
  tu_input(&e3, 0, ONYX_DTYPE_FLOAT, 3, dr);
  onyx_tensor *x3 = mk(ONYX_DTYPE_FLOAT, 3, dr, NULL);
  CHECK_ERR(tu_run(&e3, 1, 1, &x3, 1, &y), ONYX_ERR_INVALID_MODEL);   /* last dim 3 */
  tu_node e4 = tu_node_new("DFT", 17, 1, 1);
  tu_input(&e4, 0, ONYX_DTYPE_INT32, 3, dc);
  onyx_tensor *x4 = mk(ONYX_DTYPE_INT32, 3, dc, NULL);
  CHECK_ERR(tu_run(&e4, 1, 1, &x4, 1, &y), ONYX_ERR_INVALID_MODEL);       /* integer data */
  onyx_tensor_free(xc);
  onyx_tensor_free(x3);
  onyx_tensor_free(x4);
}

/* ---- STFT ---------------------------------------------------------------------------- */

static void check_stft(int64_t batch, int64_t len, bool cplx, int64_t step, int64_t frame, bool window,
                       bool give_frame_length, bool onesided, int threads) {
  int64_t sd[3] = {batch, len, cplx ? 2 : 1}, wd[1] = {frame};
  tu_node t = tu_node_new("STFT", 17, 4, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, sd);
  tu_input(&t, 1, ONYX_DTYPE_INT64, 0, SCALAR);
  if (window) tu_input(&t, 2, ONYX_DTYPE_FLOAT, 1, wd);
  else tu_n(&t)->in[2] = -1;
  if (give_frame_length) tu_const(&t, 3, ONYX_DTYPE_INT64, 0, SCALAR, &frame);
  else tu_n(&t)->in[3] = -1;
  if (!onesided) tu_attr_int(&t, "onesided", 0);
  onyx_tensor *x = mk(ONYX_DTYPE_FLOAT, 3, sd, NULL), *w = mk(ONYX_DTYPE_FLOAT, 1, wd, NULL);
  for (int64_t i = 0; i < onyx_numel(3, sd); i++) set(x, i, urand());
  for (int64_t i = 0; i < frame; i++) set(w, i, 0.5 + 0.5 * urand());
  onyx_tensor *in[3] = {x, scalar_i64(step), w}, *y = NULL;
  CHECK_OK(tu_run(&t, threads, window ? 3 : 2, in, 1, &y));
  int64_t frames = (len - frame) / step + 1, bins = onesided ? frame / 2 + 1 : frame;
  bool shape_ok = y && y->rank == 4 && y->dims[0] == batch && y->dims[1] == frames && y->dims[2] == bins &&
                  y->dims[3] == 2;
  CHECK(shape_ok);
  if (shape_ok) {
    double xr[256], xi[256], yr[256], yi[256];
    bool ok = true;
    for (int64_t b = 0; b < batch; b++)
      for (int64_t f = 0; f < frames; f++) {
        double mass = 1;
        for (int64_t k = 0; k < frame; k++) {
          int64_t p = (b * len + f * step + k) * (cplx ? 2 : 1);
          double wk = window ? at(w, k) : 1;
          xr[k] = at(x, p) * wk;
          xi[k] = cplx ? at(x, p + 1) * wk : 0;
          mass += fabs(xr[k]) + fabs(xi[k]);
        }
        ref_dft(xr, xi, frame, frame, false, yr, yi);
        for (int64_t k = 0; k < bins; k++) {
          int64_t q = ((b * frames + f) * bins + k) * 2;
          if (fabs(at(y, q) - yr[k]) > 2e-6 * mass || fabs(at(y, q + 1) - yi[k]) > 2e-6 * mass) ok = false;
        }
      }
    CHECK(ok);
  }
  onyx_tensor_free(x);
  onyx_tensor_free(w);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
}

static void test_stft(void) {
  check_stft(1, 128, false, 8, 16, false, true, true, 1);     /* as ONNX's test_stft */
  check_stft(2, 50, false, 7, 12, true, false, true, 2);      /* window gives the length */
  check_stft(2, 50, false, 5, 11, true, true, false, 1);      /* odd length, both sides */
  check_stft(3, 40, true, 3, 9, true, true, false, 2);        /* complex signal */
  check_stft(1, 16, false, 100, 16, false, true, true, 1);    /* one frame */

  /* errors: complex onesided; window and frame_length disagree; frame longer than signal */
  int64_t sd[3] = {1, 20, 2}, wd[1] = {8}, fl = 6;
  onyx_tensor *x = mk(ONYX_DTYPE_FLOAT, 3, sd, NULL), *w = mk(ONYX_DTYPE_FLOAT, 1, wd, NULL), *y = NULL;
  onyx_tensor *in[3] = {x, scalar_i64(2), w};
  tu_node a = tu_node_new("STFT", 17, 3, 1);
  tu_input(&a, 0, ONYX_DTYPE_FLOAT, 3, sd);
  tu_input(&a, 1, ONYX_DTYPE_INT64, 0, SCALAR);
  tu_input(&a, 2, ONYX_DTYPE_FLOAT, 1, wd);
  CHECK_ERR(tu_run(&a, 1, 3, in, 1, &y), ONYX_ERR_INVALID_MODEL);
  tu_node b = tu_node_new("STFT", 17, 4, 1);
  tu_input(&b, 0, ONYX_DTYPE_FLOAT, 3, sd);
  tu_input(&b, 1, ONYX_DTYPE_INT64, 0, SCALAR);
  tu_input(&b, 2, ONYX_DTYPE_FLOAT, 1, wd);
  tu_const(&b, 3, ONYX_DTYPE_INT64, 0, SCALAR, &fl);
  tu_attr_int(&b, "onesided", 0);
  CHECK_ERR(tu_run(&b, 1, 3, in, 1, &y), ONYX_ERR_INVALID_MODEL);
  int64_t big = 21;
  tu_node c = tu_node_new("STFT", 17, 4, 1);
  tu_input(&c, 0, ONYX_DTYPE_FLOAT, 3, sd);
  tu_input(&c, 1, ONYX_DTYPE_INT64, 0, SCALAR);
  tu_n(&c)->in[2] = -1;
  tu_const(&c, 3, ONYX_DTYPE_INT64, 0, SCALAR, &big);
  tu_attr_int(&c, "onesided", 0);
  CHECK_ERR(tu_run(&c, 1, 2, in, 1, &y), ONYX_ERR_INVALID_MODEL);
  onyx_tensor_free(x);
  onyx_tensor_free(w);
  onyx_tensor_free(in[1]);
}

/* ---- windows --------------------------------------------------------------------------- */

static double ref_window(const char *op, int64_t k, int64_t size, bool periodic) {
  double den = periodic ? (double)size : (double)(size - 1);
  if (den <= 0) den = 1;
  double x = M_PI * (double)k / den;   /* half the angle */
  if (!strcmp(op, "HannWindow")) return sin(x) * sin(x);
  if (!strcmp(op, "HammingWindow")) return 25.0 / 46.0 - 21.0 / 46.0 * cos(2 * x);
  return 0.42 - 0.5 * cos(2 * x) + 0.08 * cos(4 * x);
}

static void test_windows(void) {
  const char *ops[] = {"HannWindow", "HammingWindow", "BlackmanWindow"};
  const int64_t sizes[] = {0, 1, 2, 10, 33};
  for (int o = 0; o < 3; o++)
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
      for (int periodic = 0; periodic < 2; periodic++) {
        int64_t size = sizes[si];
        bool as_double = (si + (size_t)periodic) % 2;
        tu_node t = tu_node_new(ops[o], 17, 1, 1);
        if (periodic && si % 2) {   /* size known at load time */
          int32_t s32 = (int32_t)size;
          tu_const(&t, 0, ONYX_DTYPE_INT32, 0, SCALAR, &s32);
        } else {
          tu_input(&t, 0, ONYX_DTYPE_INT64, 0, SCALAR);
        }
        if (!periodic) tu_attr_int(&t, "periodic", 0);
        if (as_double) tu_attr_int(&t, "output_datatype", ONYX_DTYPE_DOUBLE);
        onyx_tensor *in = scalar_i64(size), *y = NULL;
        bool fed = !(periodic && si % 2);
        CHECK_OK(tu_run(&t, 1, fed ? 1 : 0, &in, 1, &y));
        bool ok = y && y->rank == 1 && y->dims[0] == size &&
                  y->dtype == (as_double ? ONYX_DTYPE_DOUBLE : ONYX_DTYPE_FLOAT);
        for (int64_t k = 0; ok && k < size; k++)
          ok = fabs(at(y, k) - ref_window(ops[o], k, size, periodic)) <= (as_double ? 1e-12 : 1e-6);
        if (!ok) fprintf(stderr, "%s size %lld periodic %d wrong\n", ops[o], (long long)size, periodic);
        CHECK(ok);
        onyx_tensor_free(in);
        onyx_tensor_free(y);
      }
  /* negative size */
  tu_node t = tu_node_new("HannWindow", 17, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_INT64, 0, SCALAR);
  onyx_tensor *in = scalar_i64(-3), *y = NULL;
  CHECK_ERR(tu_run(&t, 1, 1, &in, 1, &y), ONYX_ERR_INVALID_ARGUMENT);
  onyx_tensor_free(in);
}

/* ---- MelWeightMatrix --------------------------------------------------------------------- */

/* ONNX's Python reference (backend/test/case/node/melweightmatrix.py),
 * transcribed: num_mel_bins + 2 edges, the mel step dividing by that count. */
static void ref_mel(int64_t mel, int64_t dft, int64_t rate, double lo, double hi, double *out) {
  int64_t bins = dft / 2 + 1, edges = mel + 2;
  double lo_m = 2595 * log10(1 + lo / 700), hi_m = 2595 * log10(1 + hi / 700);
  double step = (hi_m - lo_m) / (double)edges;
  int64_t fb[64];
  for (int64_t i = 0; i < edges; i++) {
    double hz = 700 * (pow(10, (i * step + lo_m) / 2595) - 1);
    fb[i] = (int64_t)floor((double)(dft + 1) * hz / (double)rate);
  }
  for (int64_t i = 0; i < bins * mel; i++) out[i] = 0;
  for (int64_t i = 0; i < mel; i++) {
    int64_t l = fb[i], c = fb[i + 1], h = fb[i + 2];
    if (c - l == 0) out[c * mel + i] = 1;
    else
      for (int64_t j = l; j < c + 1; j++) out[j * mel + i] = (double)(j - l) / (double)(c - l);
    if (h - c > 0)
      for (int64_t j = c; j < h; j++) out[j * mel + i] = (double)(h - j) / (double)(h - c);
  }
}

static void check_mel(int64_t mel, int64_t dft, int64_t rate, float lo, float hi) {
  tu_node t = tu_node_new("MelWeightMatrix", 17, 5, 1);
  int32_t m32 = (int32_t)mel, d32 = (int32_t)dft, r32 = (int32_t)rate;
  tu_const(&t, 0, ONYX_DTYPE_INT32, 0, SCALAR, &m32);
  tu_input(&t, 1, ONYX_DTYPE_INT32, 0, SCALAR);   /* one size only known when run */
  tu_const(&t, 2, ONYX_DTYPE_INT32, 0, SCALAR, &r32);
  tu_const(&t, 3, ONYX_DTYPE_FLOAT, 0, SCALAR, &lo);
  tu_const(&t, 4, ONYX_DTYPE_FLOAT, 0, SCALAR, &hi);
  onyx_tensor *in = mk(ONYX_DTYPE_INT32, 0, SCALAR, &d32), *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &in, 1, &y));
  int64_t bins = dft / 2 + 1;
  bool ok = y && y->rank == 2 && y->dims[0] == bins && y->dims[1] == mel;
  double ref[64 * 64];
  ref_mel(mel, dft, rate, lo, hi, ref);
  for (int64_t i = 0; ok && i < bins * mel; i++) ok = fabs(at(y, i) - ref[i]) < 1e-6;
  CHECK(ok);
  onyx_tensor_free(in);
  onyx_tensor_free(y);
}

static void test_mel(void) {
  check_mel(8, 16, 8192, 0, 4096);          /* as ONNX's test */
  check_mel(10, 64, 16000, 100, 7000);
  check_mel(5, 31, 22050, 20, 11025);
  check_mel(3, 8, 1000, 0, 300);            /* neighbouring edges share a bin */
  /* an upper edge beyond the spectrogram's last bin */
  tu_node t = tu_node_new("MelWeightMatrix", 17, 5, 1);
  int32_t m = 4, d = 16, r = 1000;
  float lo = 0, hi = 2000;
  tu_const(&t, 0, ONYX_DTYPE_INT32, 0, SCALAR, &m);
  tu_const(&t, 1, ONYX_DTYPE_INT32, 0, SCALAR, &d);
  tu_const(&t, 2, ONYX_DTYPE_INT32, 0, SCALAR, &r);
  tu_const(&t, 3, ONYX_DTYPE_FLOAT, 0, SCALAR, &lo);
  tu_const(&t, 4, ONYX_DTYPE_FLOAT, 0, SCALAR, &hi);
  onyx_tensor *y = NULL;
  CHECK_ERR(tu_run(&t, 1, 0, NULL, 1, &y), ONYX_ERR_INVALID_ARGUMENT);
}

int main(void) {
  test_dft();
  test_stft();
  test_windows();
  test_mel();
  return tu_done("test_signal");
}
