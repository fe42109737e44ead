/* test_nn.c — the nn op family (pooling, normalization, softmax, dropout) on
 * one-node models with random data, checked against straightforward
 * double-precision reference code written here: every tap of every window,
 * statistics by the textbook formulas. Covers the option combinations
 * (pads, strides, dilations, ceil_mode, auto_pad, count_include_pad,
 * storage_order, axis variants and the opset-13 softmax change, epsilon),
 * float16/uint8 inputs, 1 vs 2 threads, and error paths. */
#include <float.h>
#include <stdint.h>

#include "base/half.h"
#include "test_util.h"

/* ---- helpers ---------------------------------------------------------------- */

static onyx_tensor *rand_f32(int rank, const int64_t *dims, unsigned seed, float scale) {
  onyx_tensor *t = tu_f32(rank, dims, NULL);
  float *p = onyx_tensor_data(t);
  size_t n = (size_t)onyx_tensor_numel(t);
  tu_fill_random(p, n, seed);
  for (size_t i = 0; i < n; i++) p[i] *= scale;
  return t;
}

static const float *fdata(onyx_tensor *t) { return t ? onyx_tensor_data(t) : NULL; }

/* |got - want| <= atol + rtol * |want| everywhere; prints the first misses. */
static void check_close(const char *what, const float *got, const double *want, int64_t n, double atol,
                        double rtol) {
  int bad = 0;
  for (int64_t i = 0; got && i < n; i++) {
    double g = got[i], w = want[i];
    bool ok = (isinf(w) && g == w) || fabs(g - w) <= atol + rtol * fabs(w);
    if (!ok && bad++ < 3) fprintf(stderr, "%s: [%lld] got %.9g want %.9g\n", what, (long long)i, g, w);
  }
  if (bad || !got) fprintf(stderr, "%s: %d mismatches%s\n", what, bad, got ? "" : " (no output)");
  CHECK(got && bad == 0);
}

static void check_shape(const char *what, onyx_tensor *t, int rank, const int64_t *dims) {
  bool ok = t && onyx_tensor_rank(t) == rank;
  for (int i = 0; ok && i < rank; i++) ok = onyx_tensor_dims(t)[i] == dims[i];
  if (!ok) {
    char a[128] = "(none)", b[128];
    if (t) onyx_shape_str(onyx_tensor_rank(t), onyx_tensor_dims(t), a, sizeof a);
    fprintf(stderr, "%s: shape %s, want %s\n", what, a, onyx_shape_str(rank, dims, b, sizeof b));
  }
  CHECK(ok);
}

static void free_all(onyx_tensor **t, int n) {
  for (int i = 0; i < n; i++) onyx_tensor_free(t[i]);
}

/* ---- pooling ---------------------------------------------------------------- */

enum { MAXP, AVGP, LPP };

typedef struct pool_case {
  int kind, nsp;
  int64_t n, c, in[3], k[3], s[3], d[3], pads[6];
  const char *auto_pad;
  int ceil_mode, include_pad, with_indices, storage_order, p;
} pool_case;

/* Output size and begin padding per axis, from the ONNX formulas. */
static void ref_pool_dims(const pool_case *pc, int64_t *out, int64_t *pb, int64_t *pe) {
  for (int i = 0; i < pc->nsp; i++) {
    int64_t ek = (pc->k[i] - 1) * pc->d[i] + 1, in = pc->in[i], s = pc->s[i];
    const char *ap = pc->auto_pad ? pc->auto_pad : "NOTSET";
    if (!strncmp(ap, "SAME", 4)) {
      out[i] = (in + s - 1) / s;
      int64_t total = (out[i] - 1) * s + ek - in;
      if (total < 0) total = 0;
      pb[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      pe[i] = total - pb[i];
      continue;
    }
    bool valid = !strcmp(ap, "VALID");
    pb[i] = valid ? 0 : pc->pads[i];
    pe[i] = valid ? 0 : pc->pads[i + pc->nsp];
    double span = (double)(in + pb[i] + pe[i] - ek) / (double)s;
    out[i] = (int64_t)(pc->ceil_mode ? ceil(span) : floor(span)) + 1;
    if (pc->ceil_mode && (out[i] - 1) * s >= in + pb[i]) out[i]--;
  }
}

static void ref_pool(const pool_case *pc, const float *x, const int64_t *out, const int64_t *pb,
                     const int64_t *pe, double *y, double *ind) {
  int nsp = pc->nsp;
  int64_t in_plane = 1, out_plane = 1;
  for (int i = 0; i < nsp; i++) {
    in_plane *= pc->in[i];
    out_plane *= out[i];
  }
  int64_t ktot = 1;
  for (int i = 0; i < nsp; i++) ktot *= pc->k[i];
  for (int64_t pl = 0; pl < pc->n * pc->c; pl++)
    for (int64_t o = 0; o < out_plane; o++) {
      int64_t oc[3], rem = o;
      for (int i = nsp - 1; i >= 0; i--) {
        oc[i] = rem % out[i];
        rem /= out[i];
      }
      double best = -INFINITY, sum = 0;
      int64_t best_i = -1, valid = 0, padded = 0;
      for (int64_t t = 0; t < ktot; t++) {
        int64_t kc[3], r2 = t, pos[3];
        for (int i = nsp - 1; i >= 0; i--) {
          kc[i] = r2 % pc->k[i];
          r2 /= pc->k[i];
        }
        bool in_ok = true, pad_ok = true;
        for (int i = 0; i < nsp; i++) {
          pos[i] = oc[i] * pc->s[i] - pb[i] + kc[i] * pc->d[i];
          if (pos[i] < 0 || pos[i] >= pc->in[i]) in_ok = false;
          if (pos[i] < -pb[i] || pos[i] >= pc->in[i] + pe[i]) pad_ok = false;
        }
        padded += pad_ok;
        if (!in_ok) continue;
        valid++;
        int64_t flat = 0, colm = 0, mul = 1;
        for (int i = 0; i < nsp; i++) flat = flat * pc->in[i] + pos[i];
        for (int i = 0; i < nsp; i++) {
          colm += pos[i] * mul;
          mul *= pc->in[i];
        }
        double v = x[pl * in_plane + flat];
        if (v > best) {
          best = v;
          best_i = pl * in_plane + (pc->storage_order ? colm : flat);
        }
        sum += pc->kind == LPP ? pow(fabs(v), pc->p) : v;
      }
      double *dst = &y[pl * out_plane + o];
      if (pc->kind == MAXP) *dst = best;
      else if (pc->kind == AVGP) *dst = sum / (double)(pc->include_pad ? padded : valid);
      else *dst = pow(sum, 1.0 / pc->p);
      if (ind) ind[pl * out_plane + o] = (double)best_i;
    }
}

static void run_pool_case(const char *name, const pool_case *pc, int threads) {
  static const char *ops[] = {"MaxPool", "AveragePool", "LpPool"};
  int rank = pc->nsp + 2;
  int64_t dims[5] = {pc->n, pc->c, pc->in[0], pc->in[1], pc->in[2]};
  int n_out = pc->with_indices ? 2 : 1;
  tu_node t = tu_node_new(ops[pc->kind], pc->kind == AVGP && pc->d[0] > 1 ? 19 : 18, 1, n_out);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, rank, dims);
  tu_attr_ints(&t, "kernel_shape", pc->nsp, pc->k);
  tu_attr_ints(&t, "strides", pc->nsp, pc->s);
  tu_attr_ints(&t, "dilations", pc->nsp, pc->d);
  if (pc->auto_pad) tu_attr_string(&t, "auto_pad", pc->auto_pad);
  else tu_attr_ints(&t, "pads", 2 * pc->nsp, pc->pads);
  if (pc->ceil_mode) tu_attr_int(&t, "ceil_mode", 1);
  if (pc->include_pad) tu_attr_int(&t, "count_include_pad", 1);
  if (pc->storage_order) tu_attr_int(&t, "storage_order", 1);
  if (pc->kind == LPP) tu_attr_int(&t, "p", pc->p);
  onyx_tensor *x = rand_f32(rank, dims, 17, 2.f), *y[2] = {NULL, NULL};
  CHECK_OK(tu_run(&t, threads, 1, &x, n_out, y));
  int64_t out[3], pb[3], pe[3], od[5] = {pc->n, pc->c};
  ref_pool_dims(pc, out, pb, pe);
  memcpy(od + 2, out, (size_t)pc->nsp * sizeof *out);
  check_shape(name, y[0], rank, od);
  int64_t total = onyx_numel(rank, od);
  double *want = malloc((size_t)total * 2 * sizeof *want);
  ref_pool(pc, fdata(x), out, pb, pe, want, pc->with_indices ? want + total : NULL);
  if (y[0] && onyx_tensor_numel(y[0]) == total) check_close(name, fdata(y[0]), want, total, 1e-5, 1e-5);
  if (pc->with_indices) {
    bool ok = y[1] && onyx_tensor_dtype(y[1]) == ONYX_DTYPE_INT64 && onyx_tensor_numel(y[1]) == total;
    for (int64_t i = 0; ok && i < total; i++)
      ok = ((const int64_t *)onyx_tensor_data(y[1]))[i] == (int64_t)want[total + i];
    if (!ok) fprintf(stderr, "%s: indices differ\n", name);
    CHECK(ok);
  }
  free(want);
  onyx_tensor_free(x);
  free_all(y, 2);
}

static void test_pools(void) {
  /*            kind  nsp  n  c   in            k          s          d          pads */
  pool_case cases[] = {
      {MAXP, 2, 2, 3, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {0}, NULL, 0, 0, 0, 0, 0},
      {MAXP, 2, 1, 2, {9, 11}, {3, 2}, {2, 3}, {1, 1}, {1, 0, 2, 1}, NULL, 0, 0, 1, 0, 0},
      {MAXP, 2, 1, 2, {8, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, 1, 1, 0},
      {MAXP, 2, 1, 1, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {0}, NULL, 1, 0, 0, 0, 0},
      {MAXP, 2, 2, 2, {10, 9}, {2, 3}, {1, 2}, {2, 2}, {1, 1, 0, 2}, NULL, 0, 0, 1, 0, 0},
      {MAXP, 1, 2, 3, {31}, {4}, {3}, {2}, {2, 1}, NULL, 1, 0, 1, 0, 0},
      {MAXP, 3, 1, 2, {6, 7, 5}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 1, 1, 1, 0}, NULL, 0, 0, 1, 1, 0},
      {MAXP, 2, 1, 3, {11, 10}, {3, 2}, {2, 3}, {1, 1}, {0}, "SAME_UPPER", 0, 0, 0, 0, 0},
      {MAXP, 2, 1, 3, {11, 10}, {3, 2}, {2, 3}, {1, 1}, {0}, "SAME_LOWER", 0, 0, 0, 0, 0},
      {MAXP, 2, 1, 3, {11, 10}, {3, 2}, {2, 3}, {1, 1}, {0}, "VALID", 0, 0, 0, 0, 0},
      {AVGP, 2, 2, 3, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {2, 2, 2, 2}, NULL, 0, 0, 0, 0, 0},
      {AVGP, 2, 2, 3, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {2, 2, 2, 2}, NULL, 0, 1, 0, 0, 0},
      {AVGP, 2, 1, 2, {8, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 1, 1}, NULL, 1, 1, 0, 0, 0},
      {AVGP, 2, 1, 2, {8, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 1, 1}, NULL, 1, 0, 0, 0, 0},
      {AVGP, 2, 1, 2, {9, 9}, {2, 2}, {1, 1}, {2, 2}, {1, 1, 1, 1}, NULL, 0, 1, 0, 0, 0},
      {AVGP, 1, 1, 3, {32}, {2}, {1}, {1}, {0}, NULL, 0, 0, 0, 0, 0},
      {AVGP, 3, 1, 2, {6, 5, 7}, {2, 2, 3}, {1, 2, 2}, {1, 1, 1}, {1, 0, 1, 0, 1, 1}, NULL, 1, 1, 0, 0, 0},
      {AVGP, 2, 1, 1, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 0, 0, 0, 0, 0},
      {AVGP, 2, 1, 1, {6, 6}, {2, 2}, {1, 1}, {1, 1}, {0}, "SAME_LOWER", 0, 1, 0, 0, 0},
      {LPP, 2, 1, 2, {7, 8}, {3, 2}, {2, 1}, {1, 1}, {1, 1, 0, 1}, NULL, 0, 0, 0, 0, 2},
      {LPP, 2, 1, 2, {7, 8}, {3, 2}, {2, 1}, {1, 1}, {0}, NULL, 0, 0, 0, 0, 1},
      {LPP, 1, 1, 2, {12}, {3}, {2}, {1}, {0}, NULL, 0, 0, 0, 0, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "pool case %zu", i);
    run_pool_case(name, &cases[i], 1 + (int)(i % 2));
  }
}

/* The ONNX documentation's MaxPool ceil_mode example: 1..16 in 4x4. */
static void test_maxpool_doc_example(void) {
  tu_node t = tu_node_new("MaxPool", 12, 1, 1);
  int64_t d[4] = {1, 1, 4, 4}, k[2] = {3, 3}, s[2] = {2, 2};
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
  tu_attr_ints(&t, "kernel_shape", 2, k);
  tu_attr_ints(&t, "strides", 2, s);
  tu_attr_int(&t, "ceil_mode", 1);
  float v[16];
  for (int i = 0; i < 16; i++) v[i] = (float)(i + 1);
  onyx_tensor *x = tu_f32(4, d, v), *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  double want[4] = {11, 12, 15, 16};
  int64_t od[4] = {1, 1, 2, 2};
  check_shape("maxpool doc", y, 4, od);
  check_close("maxpool doc", fdata(y), want, 4, 0, 0);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
}

static void test_global_pools(void) {
  static const char *ops[] = {"GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool"};
  int64_t d[4] = {2, 3, 7, 9};
  for (int kind = 0; kind < 3; kind++) {
    tu_node t = tu_node_new(ops[kind], 13, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    onyx_tensor *x = rand_f32(4, d, 5 + kind, 3.f), *y = NULL;
    CHECK_OK(tu_run(&t, 2, 1, &x, 1, &y));
    int64_t od[4] = {2, 3, 1, 1};
    check_shape(ops[kind], y, 4, od);
    double want[6];
    const float *xv = fdata(x);
    for (int p = 0; p < 6; p++) {
      double m = -INFINITY, s = 0, q = 0;
      for (int i = 0; i < 63; i++) {
        double v = xv[p * 63 + i];
        m = v > m ? v : m;
        s += v;
        q += v * v;
      }
      want[p] = kind == 0 ? m : kind == 1 ? s / 63 : sqrt(q);
    }
    check_close(ops[kind], fdata(y), want, 6, 1e-5, 1e-5);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_maxpool_types(void) {
  /* uint8 through the float path: exact */
  int64_t d[4] = {1, 2, 5, 5}, k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
  tu_node t = tu_node_new("MaxPool", 12, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_UINT8, 4, d);
  tu_attr_ints(&t, "kernel_shape", 2, k);
  tu_attr_ints(&t, "pads", 4, pads);
  onyx_tensor *x, *y = NULL;
  onyx_tensor_create(ONYX_DTYPE_UINT8, 4, d, &x);
  uint8_t *xv = onyx_tensor_data(x);
  for (int i = 0; i < 50; i++) xv[i] = (uint8_t)((i * 37 + 11) % 251);
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  bool ok = y && onyx_tensor_dtype(y) == ONYX_DTYPE_UINT8 && onyx_tensor_numel(y) == 50;
  for (int c = 0; ok && c < 2; c++)
    for (int h = 0; h < 5; h++)
      for (int w = 0; w < 5; w++) {
        int m = 0;
        for (int a = h - 1; a <= h + 1; a++)
          for (int b = w - 1; b <= w + 1; b++)
            if (a >= 0 && a < 5 && b >= 0 && b < 5 && xv[c * 25 + a * 5 + b] > m) m = xv[c * 25 + a * 5 + b];
        if (((uint8_t *)onyx_tensor_data(y))[c * 25 + h * 5 + w] != m) ok = false;
      }
  CHECK(ok);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
  /* float64 is refused, not computed wrongly */
  tu_node t2 = tu_node_new("MaxPool", 12, 1, 1);
  tu_input(&t2, 0, ONYX_DTYPE_DOUBLE, 4, d);
  tu_attr_ints(&t2, "kernel_shape", 2, k);
  onyx_tensor *xd;
  onyx_tensor_create(ONYX_DTYPE_DOUBLE, 4, d, &xd);
  y = NULL;
  CHECK_ERR(tu_run(&t2, 1, 1, &xd, 1, &y), ONYX_ERR_NOT_IMPLEMENTED);
  onyx_tensor_free(xd);
  /* malformed attributes fail at session creation, naming the node */
  tu_node t3 = tu_node_new("MaxPool", 12, 1, 1);
  tu_input(&t3, 0, ONYX_DTYPE_FLOAT, 4, d);
  int64_t k1[1] = {3};
  tu_attr_ints(&t3, "kernel_shape", 1, k1);
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_model(t3.m, NULL, &s);
  CHECK(st && strstr(onyx_status_message(st), "n0"));
  onyx_status_free(st);
  onyx_session_destroy(s);
}

static void test_max_roi_pool(void) {
  int64_t d[4] = {2, 3, 8, 10}, rd[2] = {3, 5}, ps[2] = {2, 3};
  float rois[15] = {0, 1, 1, 6, 5, 1, 0, 0, 9, 7, 1, 2.4f, 3.6f, 4.2f, 3.9f};
  tu_node t = tu_node_new("MaxRoiPool", 1, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 2, rd);
  tu_attr_ints(&t, "pooled_shape", 2, ps);
  tu_attr_float(&t, "spatial_scale", 0.5f);
  onyx_tensor *in[2] = {rand_f32(4, d, 9, 1.f), tu_f32(2, rd, rois)}, *y = NULL;
  CHECK_OK(tu_run(&t, 2, 2, in, 1, &y));
  int64_t od[4] = {3, 3, 2, 3};
  check_shape("maxroipool", y, 4, od);
  double want[54];
  const float *x = fdata(in[0]);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) {
      const float *ro = rois + r * 5;
      int b = (int)ro[0];
      int x1 = (int)round(ro[1] * 0.5), y1 = (int)round(ro[2] * 0.5);
      int x2 = (int)round(ro[3] * 0.5), y2 = (int)round(ro[4] * 0.5);
      int rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1, rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1;
      for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
          int hs = (int)floor(i * rh / 2.0) + y1, he = (int)ceil((i + 1) * rh / 2.0) + y1;
          int ws = (int)floor(k * rw / 3.0) + x1, we = (int)ceil((k + 1) * rw / 3.0) + x1;
          hs = hs < 0 ? 0 : hs > 8 ? 8 : hs;
          he = he < 0 ? 0 : he > 8 ? 8 : he;
          ws = ws < 0 ? 0 : ws > 10 ? 10 : ws;
          we = we < 0 ? 0 : we > 10 ? 10 : we;
          double m = -INFINITY;
          for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) m = fmax(m, x[((b * 3 + c) * 8 + h) * 10 + w]);
          want[((r * 3 + c) * 2 + i) * 3 + k] = he <= hs || we <= ws ? 0 : m;
        }
    }
  check_close("maxroipool", fdata(y), want, 54, 0, 0);
  free_all(in, 2);
  onyx_tensor_free(y);
}

/* MaxPool with indices, then MaxUnpool: the maxima land where they came
 * from; with a larger output_shape each axis is padded at its end. */
static void test_max_unpool(void) {
  int64_t d[4] = {2, 2, 6, 8}, k[2] = {2, 2}, s[2] = {2, 2};
  tu_node t = tu_node_new("MaxPool", 12, 1, 2);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
  tu_attr_ints(&t, "kernel_shape", 2, k);
  tu_attr_ints(&t, "strides", 2, s);
  onyx_tensor *x = rand_f32(4, d, 21, 1.f), *p[2] = {NULL, NULL};
  CHECK_OK(tu_run(&t, 1, 1, &x, 2, p));
  for (int with_shape = 0; with_shape < 2 && p[0] && p[1]; with_shape++) {
    tu_node u = tu_node_new("MaxUnpool", 11, 2 + with_shape, 1);
    int64_t pd[4] = {2, 2, 3, 4}, sd[1] = {4}, big[4] = {2, 2, 7, 9};
    const int64_t *od = with_shape ? big : d;
    tu_input(&u, 0, ONYX_DTYPE_FLOAT, 4, pd);
    tu_input(&u, 1, ONYX_DTYPE_INT64, 4, pd);
    if (with_shape) tu_const(&u, 2, ONYX_DTYPE_INT64, 1, sd, big);
    tu_attr_ints(&u, "kernel_shape", 2, k);
    tu_attr_ints(&u, "strides", 2, s);
    onyx_tensor *y = NULL;
    CHECK_OK(tu_run(&u, 1, 2, p, 1, &y));
    check_shape("maxunpool", y, 4, od);
    double want[2 * 2 * 7 * 9] = {0};
    const int64_t *iv = onyx_tensor_data(p[1]);
    const float *xv = fdata(x);
    int at_max = 0;
    for (int i = 0; i < 48; i++) {
      int64_t pl = iv[i] / 48, h = iv[i] % 48 / 8, w = iv[i] % 8;
      want[(pl * od[2] + h) * od[3] + w] = fdata(p[0])[i];
      /* independent of the kernel: index i's 2x2 block holds its maximum at h, w */
      int64_t r = i % 12 / 4, c = i % 4;
      at_max += pl == i / 12 && h / 2 == r && w / 2 == c && xv[iv[i]] == fdata(p[0])[i];
    }
    CHECK(at_max == 48);
    check_close("maxunpool", fdata(y), want, onyx_numel(4, od), 0, 0);
    onyx_tensor_free(y);
  }
  onyx_tensor_free(x);
  free_all(p, 2);
}

/* ---- normalization ------------------------------------------------------------ */

static void test_batch_norm(void) {
  int64_t d[4] = {2, 3, 4, 5}, cd[1] = {3};
  for (int training = 0; training < 2; training++) {
    tu_node t = tu_node_new("BatchNormalization", 15, 5, training ? 3 : 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    float sc[3] = {0.5f, -1.2f, 2.f}, b[3] = {0.1f, 0.f, -0.3f}, m[3] = {0.2f, -0.1f, 0.f},
          v[3] = {1.5f, 0.3f, 0.05f};
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, cd, sc);
    tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, cd, b);
    tu_const(&t, 3, ONYX_DTYPE_FLOAT, 1, cd, m);
    tu_const(&t, 4, ONYX_DTYPE_FLOAT, 1, cd, v);
    tu_attr_float(&t, "epsilon", 1e-2f);
    if (training) {
      tu_attr_int(&t, "training_mode", 1);
      tu_attr_float(&t, "momentum", 0.8f);
    }
    onyx_tensor *x = rand_f32(4, d, 3, 2.f), *y[3] = {NULL, NULL, NULL};
    CHECK_OK(tu_run(&t, 2, 1, &x, training ? 3 : 1, y));
    double want[120], rm[3], rv[3];
    const float *xv = fdata(x);
    for (int c = 0; c < 3; c++) {
      double mean = m[c], var = v[c];
      if (training) {
        double s = 0, q = 0;
        for (int n = 0; n < 2; n++)
          for (int i = 0; i < 20; i++) s += xv[(n * 3 + c) * 20 + i];
        mean = s / 40;
        for (int n = 0; n < 2; n++)
          for (int i = 0; i < 20; i++) q += pow(xv[(n * 3 + c) * 20 + i] - mean, 2);
        var = q / 40;
        rm[c] = m[c] * 0.8 + mean * 0.2;
        rv[c] = v[c] * 0.8 + var * 0.2;
      }
      for (int n = 0; n < 2; n++)
        for (int i = 0; i < 20; i++)
          want[(n * 3 + c) * 20 + i] = (xv[(n * 3 + c) * 20 + i] - mean) / sqrt(var + 1e-2) * sc[c] + b[c];
    }
    check_close(training ? "batchnorm train" : "batchnorm", fdata(y[0]), want, 120, 1e-5, 1e-5);
    if (training) {
      check_close("batchnorm running mean", fdata(y[1]), rm, 3, 1e-6, 1e-5);
      check_close("batchnorm running var", fdata(y[2]), rv, 3, 1e-6, 1e-5);
    }
    onyx_tensor_free(x);
    free_all(y, 3);
  }
}

static void test_instance_norm(void) {
  int64_t d[3] = {2, 3, 33}, cd[1] = {3};
  tu_node t = tu_node_new("InstanceNormalization", 6, 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, d);
  float sc[3] = {1.f, 0.5f, -2.f}, b[3] = {0.f, 1.f, 0.25f};
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, cd, sc);
  tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, cd, b);
  tu_attr_float(&t, "epsilon", 1e-3f);
  onyx_tensor *x = rand_f32(3, d, 8, 4.f), *y = NULL;
  float *xv = onyx_tensor_data(x);
  for (int i = 0; i < 33; i++) xv[i] += 100.f;   /* a large mean must not hurt */
  CHECK_OK(tu_run(&t, 2, 1, &x, 1, &y));
  double want[198];
  for (int p = 0; p < 6; p++) {
    double s = 0, q = 0;
    for (int i = 0; i < 33; i++) s += xv[p * 33 + i];
    double mean = s / 33;
    for (int i = 0; i < 33; i++) q += pow(xv[p * 33 + i] - mean, 2);
    for (int i = 0; i < 33; i++)
      want[p * 33 + i] = (xv[p * 33 + i] - mean) / sqrt(q / 33 + 1e-3) * sc[p % 3] + b[p % 3];
  }
  check_close("instancenorm", fdata(y), want, 198, 1e-4, 1e-4);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
}

static void test_layer_norm(void) {
  int64_t d[4] = {2, 3, 4, 5};
  for (int axis = -4; axis < 4; axis++) {
    int ax = axis < 0 ? axis + 4 : axis;
    int64_t rows = 1, cols = 1;
    for (int i = 0; i < 4; i++) {
      if (i < ax) rows *= d[i];
      else cols *= d[i];
    }
    bool with_bias = axis % 2 == 0, bcast = axis == 1;   /* scale [5] broadcast over [3,4,5] */
    int n_out = axis == -1 ? 1 : 3;
    tu_node t = tu_node_new("LayerNormalization", 17, with_bias ? 3 : 2, n_out);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    float sc[120], b[120];
    tu_fill_random(sc, 120, 40 + ax);
    tu_fill_random(b, 120, 50 + ax);
    int64_t one = 5;
    if (bcast) tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, &one, sc);
    else tu_const(&t, 1, ONYX_DTYPE_FLOAT, 4 - ax, d + ax, sc);
    if (with_bias) tu_const(&t, 2, ONYX_DTYPE_FLOAT, 4 - ax, d + ax, b);
    tu_attr_int(&t, "axis", axis);
    tu_attr_float(&t, "epsilon", 0.1f);
    onyx_tensor *x = rand_f32(4, d, 60 + ax, 3.f), *y[3] = {NULL, NULL, NULL};
    CHECK_OK(tu_run(&t, 2, 1, &x, n_out, y));
    double want[120], wm[120], wi[120];
    const float *xv = fdata(x);
    for (int64_t r = 0; r < rows; r++) {
      double s = 0, q = 0;
      for (int64_t i = 0; i < cols; i++) s += xv[r * cols + i];
      double mean = s / (double)cols;
      for (int64_t i = 0; i < cols; i++) q += pow(xv[r * cols + i] - mean, 2);
      double inv = 1 / sqrt(q / (double)cols + 0.1);
      wm[r] = mean;
      wi[r] = inv;
      for (int64_t i = 0; i < cols; i++)
        want[r * cols + i] = (xv[r * cols + i] - mean) * inv * sc[bcast ? i % 5 : i] + (with_bias ? b[i] : 0);
    }
    char name[64];
    snprintf(name, sizeof name, "layernorm axis %d", axis);
    check_close(name, fdata(y[0]), want, 120, 1e-5, 1e-5);
    if (n_out == 3) {
      int64_t md[4] = {1, 1, 1, 1};
      memcpy(md, d, (size_t)ax * sizeof *d);
      check_shape(name, y[1], 4, md);
      check_close(name, fdata(y[1]), wm, rows, 1e-6, 1e-5);
      check_close(name, fdata(y[2]), wi, rows, 1e-6, 1e-5);
    }
    onyx_tensor_free(x);
    free_all(y, 3);
  }
}

static void test_group_norm(void) {
  int64_t d[4] = {2, 6, 3, 4};
  for (int opset = 18; opset <= 21; opset += 3) {
    int64_t pn = opset >= 21 ? 6 : 3;
    tu_node t = tu_node_new("GroupNormalization", opset, 3, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    float sc[6] = {1, -0.5f, 2, 0.3f, 1.1f, -1}, b[6] = {0, 0.1f, -0.2f, 0.3f, 0.4f, 0.5f};
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, &pn, sc);
    tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, &pn, b);
    tu_attr_int(&t, "num_groups", 3);
    tu_attr_float(&t, "epsilon", 1e-3f);
    onyx_tensor *x = rand_f32(4, d, 70, 2.f), *y = NULL;
    CHECK_OK(tu_run(&t, 2, 1, &x, 1, &y));
    double want[144];
    const float *xv = fdata(x);
    for (int n = 0; n < 2; n++)
      for (int g = 0; g < 3; g++) {
        const float *blk = xv + (n * 6 + g * 2) * 12;
        double s = 0, q = 0;
        for (int i = 0; i < 24; i++) s += blk[i];
        double mean = s / 24;
        for (int i = 0; i < 24; i++) q += pow(blk[i] - mean, 2);
        for (int i = 0; i < 24; i++) {
          int c = g * 2 + i / 12, pi = opset >= 21 ? c : g;
          want[(n * 6 + g * 2) * 12 + i] = (blk[i] - mean) / sqrt(q / 24 + 1e-3) * sc[pi] + b[pi];
        }
      }
    check_close(opset >= 21 ? "groupnorm 21" : "groupnorm 18", fdata(y), want, 144, 1e-5, 1e-5);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_lrn(void) {
  int64_t d[4] = {2, 7, 3, 4};
  for (int size = 2; size <= 5; size += 3) {
    tu_node t = tu_node_new("LRN", 13, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    tu_attr_int(&t, "size", size);
    tu_attr_float(&t, "alpha", 0.02f);
    tu_attr_float(&t, "beta", 0.6f);
    tu_attr_float(&t, "bias", 1.5f);
    onyx_tensor *x = rand_f32(4, d, 80, 3.f), *y = NULL;
    CHECK_OK(tu_run(&t, 2, 1, &x, 1, &y));
    double want[168];
    const float *xv = fdata(x);
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 7; c++)
        for (int i = 0; i < 12; i++) {
          double sq = 0;
          for (int k = c - (size - 1) / 2; k <= c + size / 2; k++)
            if (k >= 0 && k < 7) sq += pow(xv[(n * 7 + k) * 12 + i], 2);
          want[(n * 7 + c) * 12 + i] = xv[(n * 7 + c) * 12 + i] / pow(1.5 + 0.02 / size * sq, 0.6);
        }
    check_close("lrn", fdata(y), want, 168, 1e-6, 1e-5);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_mvn(void) {
  int64_t d[4] = {3, 2, 4, 5};
  for (int variant = 0; variant < 2; variant++) {
    tu_node t = tu_node_new("MeanVarianceNormalization", 13, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d);
    int64_t axes[2] = {1, -1};
    if (variant) tu_attr_ints(&t, "axes", 2, axes);
    onyx_tensor *x = rand_f32(4, d, 90 + variant, 2.f), *y = NULL;
    CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
    bool red[4] = {variant == 0, variant == 1, variant == 0, true};
    double want[120];
    const float *xv = fdata(x);
    for (int i = 0; i < 120; i++) {
      int ci[4] = {i / 40, (i / 20) % 2, (i / 5) % 4, i % 5};
      double s = 0, q = 0;
      int cnt = 0;
      for (int k = 0; k < 120; k++) {
        int ck[4] = {k / 40, (k / 20) % 2, (k / 5) % 4, k % 5};
        bool same = true;
        for (int a = 0; a < 4; a++)
          if (!red[a] && ck[a] != ci[a]) same = false;
        if (!same) continue;
        s += xv[k];
        q += (double)xv[k] * xv[k];
        cnt++;
      }
      double mean = s / cnt;
      want[i] = (xv[i] - mean) / (sqrt(q / cnt - mean * mean) + 1e-9);
    }
    check_close(variant ? "mvn axes" : "mvn", fdata(y), want, 120, 1e-5, 1e-5);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_lp_norm(void) {
  int64_t d[3] = {3, 4, 5};
  for (int p = 1; p <= 2; p++)
    for (int axis = -1; axis < 3; axis++) {
      int ax = axis < 0 ? 2 : axis;
      tu_node t = tu_node_new("LpNormalization", 1, 1, 1);
      tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, d);
      tu_attr_int(&t, "p", p);
      tu_attr_int(&t, "axis", axis);
      onyx_tensor *x = rand_f32(3, d, 100 + ax, 2.f), *y = NULL;
      CHECK_OK(tu_run(&t, 2, 1, &x, 1, &y));
      double want[60];
      const float *xv = fdata(x);
      int64_t st[3] = {20, 5, 1};
      for (int i = 0; i < 60; i++) {
        int64_t base = i - ((i / st[ax]) % d[ax]) * st[ax];
        double s = 0;
        for (int k = 0; k < d[ax]; k++) {
          double v = xv[base + k * st[ax]];
          s += p == 1 ? fabs(v) : v * v;
        }
        want[i] = xv[i] / (p == 1 ? s : sqrt(s));
      }
      check_close("lpnorm", fdata(y), want, 60, 1e-6, 1e-5);
      onyx_tensor_free(x);
      onyx_tensor_free(y);
    }
}

/* ---- softmax family ----------------------------------------------------------- */

/* Reference over groups: opset < 13 coerces to [prod(dims[:ax]), prod(dims[ax:])],
 * later opsets reduce along dims[ax] only. mode 0 softmax, 1 log, 2 hard. */
static void ref_softmax(const float *x, int rank, const int64_t *d, int ax, bool old, int mode, double *y) {
  int64_t outer = 1, n = 1, inner = 1;
  for (int i = 0; i < rank; i++) {
    if (i < ax) outer *= d[i];
    else if (i == ax || old) n *= d[i];
    else inner *= d[i];
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xr = x + o * n * inner + i;
      double *yr = y + o * n * inner + i;
      double m = -INFINITY, s = 0;
      int64_t arg = 0;
      for (int64_t k = 0; k < n; k++)
        if (xr[k * inner] > m) {
          m = xr[k * inner];
          arg = k;
        }
      for (int64_t k = 0; k < n; k++) s += exp((double)xr[k * inner] - m);
      for (int64_t k = 0; k < n; k++)
        yr[k * inner] = mode == 0 ? exp(xr[k * inner] - m) / s
                        : mode == 1 ? xr[k * inner] - m - log(s)
                                    : (k == arg ? 1.0 : 0.0);
    }
}

static void test_softmax(void) {
  static const char *ops[] = {"Softmax", "LogSoftmax", "Hardmax"};
  int64_t d[3] = {3, 37, 300};   /* rows long enough for the vector loops and tails */
  for (int mode = 0; mode < 3; mode++)
    for (int opset = 11; opset <= 13; opset += 2)
      for (int axis = -3; axis <= 3; axis++) {
        /* axis 3 stands for the default axis */
        int ax = axis == 3 ? (opset < 13 ? 1 : 2) : axis < 0 ? axis + 3 : axis;
        tu_node t = tu_node_new(ops[mode], opset, 1, 1);
        tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, d);
        if (axis != 3) tu_attr_int(&t, "axis", axis);
        onyx_tensor *x = rand_f32(3, d, 110 + ax, 30.f), *y = NULL;
        /* multiples of 2^-10: x - max is then exact in float, so what is
         * measured is the kernel's own error, not the input's rounding */
        float *xv = onyx_tensor_data(x);
        for (int i = 0; i < 3 * 37 * 300; i++) xv[i] = roundf(xv[i] * 1024) / 1024;
        CHECK_OK(tu_run(&t, 1 + (axis & 1), 1, &x, 1, &y));
        double *want = malloc(3 * 37 * 300 * sizeof *want);
        ref_softmax(fdata(x), 3, d, ax, opset < 13, mode, want);
        char name[64];
        snprintf(name, sizeof name, "%s opset %d axis %d", ops[mode], opset, axis);
        /* softmax to 1e-6 relative (plus underflow-level absolute), log to 1e-6 relative */
        check_close(name, fdata(y), want, 3 * 37 * 300, mode == 0 ? 1e-30 : 1e-5, 1e-6);
        free(want);
        onyx_tensor_free(x);
        onyx_tensor_free(y);
      }
  /* large numbers and -inf stay finite where they should */
  {
    tu_node t = tu_node_new("Softmax", 13, 1, 1);
    int64_t d2[2] = {2, 5};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d2);
    float v[10] = {10000, 10001, 10002, 10003, -INFINITY, -100, -90, 0, 80, 88};
    onyx_tensor *x = tu_f32(2, d2, v), *y = NULL;
    CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
    double want[10];
    ref_softmax(v, 2, d2, 1, false, 0, want);
    check_close("softmax large", fdata(y), want, 10, 1e-30, 1e-6);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_softmax_f16(void) {
  int64_t d[2] = {4, 33};
  tu_node t = tu_node_new("Softmax", 13, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT16, 2, d);
  onyx_tensor *x, *y = NULL;
  onyx_tensor_create(ONYX_DTYPE_FLOAT16, 2, d, &x);
  float f[132], back[132];
  tu_fill_random(f, 132, 120);
  for (int i = 0; i < 132; i++) {
    ((uint16_t *)onyx_tensor_data(x))[i] = onyx_f32_to_f16(f[i] * 4);
    back[i] = onyx_f16_to_f32(((uint16_t *)onyx_tensor_data(x))[i]);
  }
  CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
  CHECK(y && onyx_tensor_dtype(y) == ONYX_DTYPE_FLOAT16);
  double want[132];
  ref_softmax(back, 2, d, 1, false, 0, want);
  float got[132];
  for (int i = 0; y && i < 132; i++) got[i] = onyx_f16_to_f32(((uint16_t *)onyx_tensor_data(y))[i]);
  check_close("softmax f16", y ? got : NULL, want, 132, 1e-4, 1e-3);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
}

/* ---- dropout ------------------------------------------------------------------ */

static void test_dropout(void) {
  int64_t d[2] = {40, 50}, sd[1] = {0};
  /* inference: identity and an all-true mask, old and new opsets */
  for (int opset = 7; opset <= 13; opset += 6) {
    tu_node t = tu_node_new("Dropout", opset, 1, 2);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    if (opset < 12) tu_attr_float(&t, "ratio", 0.3f);
    onyx_tensor *x = rand_f32(2, d, 130, 1.f), *y[2] = {NULL, NULL};
    CHECK_OK(tu_run(&t, 1, 1, &x, 2, y));
    CHECK(y[0] && !memcmp(onyx_tensor_data(y[0]), onyx_tensor_data(x), 2000 * sizeof(float)));
    bool ok = y[1] != NULL;
    for (int i = 0; ok && i < 2000; i++)
      ok = opset >= 10 ? ((uint8_t *)onyx_tensor_data(y[1]))[i] == 1 : fdata(y[1])[i] == 1.f;
    CHECK(ok);
    onyx_tensor_free(x);
    free_all(y, 2);
  }
  /* training with ratio 0.25 and a seed: a quarter dropped, the rest scaled by 4/3 */
  for (int rep = 0; rep < 2; rep++) {
    tu_node t = tu_node_new("Dropout", 13, 3, 2);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    float ratio = 0.25f;
    uint8_t on = 1;
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 0, sd, &ratio);
    tu_const(&t, 2, ONYX_DTYPE_BOOL, 0, sd, &on);
    tu_attr_int(&t, "seed", 7);
    onyx_tensor *x = rand_f32(2, d, 131, 1.f), *y[2] = {NULL, NULL};
    CHECK_OK(tu_run(&t, 1 + rep, 1, &x, 2, y));
    int dropped = 0;
    bool ok = y[0] && y[1];
    for (int i = 0; ok && i < 2000; i++) {
      bool keep = ((uint8_t *)onyx_tensor_data(y[1]))[i];
      dropped += !keep;
      double want = keep ? fdata(x)[i] / 0.75 : 0;
      if (fabs(fdata(y[0])[i] - want) > 1e-6) ok = false;
    }
    CHECK(ok);
    CHECK(dropped > 400 && dropped < 600);
    onyx_tensor_free(x);
    free_all(y, 2);
  }
}

int main(void) {
  test_pools();
  test_maxpool_doc_example();
  test_global_pools();
  test_maxpool_types();
  test_max_roi_pool();
  test_max_unpool();
  test_batch_norm();
  test_instance_norm();
  test_layer_norm();
  test_group_norm();
  test_lrn();
  test_mvn();
  test_lp_norm();
  test_softmax();
  test_softmax_f16();
  test_dropout();
  return tu_done("test_nn");
}
