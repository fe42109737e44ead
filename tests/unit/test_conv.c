/* test_conv.c — Conv, ConvTranspose and ConvInteger through one-node
 * sessions against direct-loop references that accumulate in double, over
 * 1-D/2-D/3-D shapes, groups and depthwise, strides, dilations, asymmetric
 * pads, auto_pad, bias, constant and fed weights, one and two threads; and
 * their shape inference with a symbolic batch dim. */
#include "ops/ops.h"
#include "test_util.h"

typedef struct cfg {
  int nsp;
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3];
  const char *auto_pad;   /* NULL: explicit pads */
  bool bias;
} cfg;

static int64_t prod(int n, const int64_t *v) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= v[i];
  return p;
}

/* output size and effective pads, straight from the ONNX operator docs */
static void conv_out(const cfg *c, bool transpose, int64_t *out, int64_t *pb) {
  for (int i = 0; i < c->nsp; i++) {
    int64_t ext = (c->k[i] - 1) * c->d[i] + 1;
    pb[i] = c->pb[i];
    int64_t pe = c->pe[i];
    if (c->auto_pad && !strcmp(c->auto_pad, "VALID")) pb[i] = pe = 0;
    if (c->auto_pad && strncmp(c->auto_pad, "SAME", 4) == 0) {
      int64_t target = transpose ? c->in[i] * c->s[i] : (c->in[i] + c->s[i] - 1) / c->s[i];
      int64_t total = transpose ? c->s[i] * (c->in[i] - 1) + c->op[i] + ext - target
                                : (target - 1) * c->s[i] + ext - c->in[i];
      if (total < 0) total = 0;
      bool upper = !strcmp(c->auto_pad, "SAME_UPPER");
      pb[i] = upper ? total / 2 : total - total / 2;
      pe = total - pb[i];
    }
    out[i] = transpose ? c->s[i] * (c->in[i] - 1) + c->op[i] + ext - pb[i] - pe
                       : (c->in[i] + pb[i] + pe - ext) / c->s[i] + 1;
  }
}

/* position of flat index q in dims (row-major) */
static void unflat(int n, const int64_t *dims, int64_t q, int64_t *pos) {
  for (int i = n - 1; i >= 0; i--) {
    pos[i] = q % dims[i];
    q /= dims[i];
  }
}

static int64_t flat(int n, const int64_t *dims, const int64_t *pos) {
  int64_t q = 0;
  for (int i = 0; i < n; i++) q = q * dims[i] + pos[i];
  return q;
}

static void ref_conv(const cfg *c, const float *x, const float *w, const float *b, float *y) {
  int64_t out[3], pb[3], o[3], kk[3], ii[3];
  conv_out(c, false, out, pb);
  int64_t cg = c->c / c->group, mg = c->m / c->group, osp = prod(c->nsp, out),
          isp = prod(c->nsp, c->in), kp = prod(c->nsp, c->k);
  for (int64_t n = 0; n < c->n; n++)
    for (int64_t m = 0; m < c->m; m++)
      for (int64_t q = 0; q < osp; q++) {
        unflat(c->nsp, out, q, o);
        double s = b ? b[m] : 0.0;
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t kq = 0; kq < kp; kq++) {
            unflat(c->nsp, c->k, kq, kk);
            bool ok = true;
            for (int i = 0; i < c->nsp; i++) {
              ii[i] = o[i] * c->s[i] - pb[i] + kk[i] * c->d[i];
              ok = ok && ii[i] >= 0 && ii[i] < c->in[i];
            }
            if (!ok) continue;
            s += (double)x[(n * c->c + (m / mg) * cg + ci) * isp + flat(c->nsp, c->in, ii)] *
                 w[(m * cg + ci) * kp + kq];
          }
        y[(n * c->m + m) * osp + q] = (float)s;
      }
}

static void ref_conv_transpose(const cfg *c, const float *x, const float *w, const float *b,
                               float *y) {
  int64_t out[3], pb[3], i[3], kk[3], o[3];
  conv_out(c, true, out, pb);
  int64_t cg = c->c / c->group, mg = c->m / c->group, osp = prod(c->nsp, out),
          isp = prod(c->nsp, c->in), kp = prod(c->nsp, c->k);
  double *acc = calloc((size_t)(c->n * c->m * osp), sizeof *acc);
  for (int64_t n = 0; n < c->n; n++)
    for (int64_t ch = 0; ch < c->c; ch++)
      for (int64_t q = 0; q < isp; q++) {
        unflat(c->nsp, c->in, q, i);
        for (int64_t m = 0; m < mg; m++)
          for (int64_t kq = 0; kq < kp; kq++) {
            unflat(c->nsp, c->k, kq, kk);
            bool ok = true;
            for (int d = 0; d < c->nsp; d++) {
              o[d] = i[d] * c->s[d] - pb[d] + kk[d] * c->d[d];
              ok = ok && o[d] >= 0 && o[d] < out[d];
            }
            if (!ok) continue;
            int64_t oc = (ch / cg) * mg + m;
            acc[(n * c->m + oc) * osp + flat(c->nsp, out, o)] +=
                (double)x[(n * c->c + ch) * isp + q] * w[(ch * mg + m) * kp + kq];
          }
      }
  for (int64_t t = 0; t < c->n * c->m * osp; t++) y[t] = (float)(acc[t] + (b ? b[(t / osp) % c->m] : 0));
  free(acc);
}

static void set_attrs(tu_node *t, const cfg *c, bool transpose) {
  int64_t pads[6];
  for (int i = 0; i < c->nsp; i++) {
    pads[i] = c->pb[i];
    pads[c->nsp + i] = c->pe[i];
  }
  tu_attr_ints(t, "kernel_shape", c->nsp, c->k);
  tu_attr_ints(t, "strides", c->nsp, c->s);
  tu_attr_ints(t, "dilations", c->nsp, c->d);
  if (c->auto_pad) tu_attr_string(t, "auto_pad", c->auto_pad);
  else tu_attr_ints(t, "pads", 2 * c->nsp, pads);
  if (c->group != 1) tu_attr_int(t, "group", c->group);
  if (transpose) tu_attr_ints(t, "output_padding", c->nsp, c->op);
}

static void run_case(const cfg *c, bool transpose, bool w_const, int threads, unsigned seed) {
  int rank = c->nsp + 2;
  int64_t xd[5] = {c->n, c->c}, wd[5], yd[5], out[3], pb[3];
  conv_out(c, transpose, out, pb);
  wd[0] = transpose ? c->c : c->m;
  wd[1] = transpose ? c->m / c->group : c->c / c->group;
  yd[0] = c->n;
  yd[1] = c->m;
  for (int i = 0; i < c->nsp; i++) {
    xd[2 + i] = c->in[i];
    wd[2 + i] = c->k[i];
    yd[2 + i] = out[i];
  }
  int64_t nx = prod(rank, xd), nw = prod(rank, wd), ny = prod(rank, yd);
  float *x = malloc((size_t)nx * 4), *w = malloc((size_t)nw * 4), *b = malloc((size_t)c->m * 4),
        *r = malloc((size_t)ny * 4);
  tu_fill_random(x, (size_t)nx, seed);
  tu_fill_random(w, (size_t)nw, seed + 1);
  tu_fill_random(b, (size_t)c->m, seed + 2);
  if (transpose) ref_conv_transpose(c, x, w, c->bias ? b : NULL, r);
  else ref_conv(c, x, w, c->bias ? b : NULL, r);
  tu_node t = tu_node_new(transpose ? "ConvTranspose" : "Conv", 11, c->bias ? 3 : 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, rank, xd);
  if (w_const) tu_const(&t, 1, ONYX_DTYPE_FLOAT, rank, wd, w);
  else tu_input(&t, 1, ONYX_DTYPE_FLOAT, rank, wd);
  if (c->bias) tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, &c->m, b);
  set_attrs(&t, c, transpose);
  onyx_tensor *in[2] = {tu_f32(rank, xd, x), tu_f32(rank, wd, w)}, *y = NULL;
  CHECK_OK(tu_run(&t, threads, w_const ? 1 : 2, in, 1, &y));
  bool shape_ok = y && onyx_tensor_rank(y) == rank && !memcmp(onyx_tensor_dims(y), yd, (size_t)rank * 8);
  CHECK(shape_ok);
  if (shape_ok) {
    const float *yv = onyx_tensor_data(y);
    int bad = 0;
    for (int64_t i = 0; i < ny; i++)
      if (!(fabs((double)yv[i] - r[i]) <= 1e-4 * (1 + fabs((double)r[i])))) bad++;
    if (bad)
      fprintf(stderr, "  %s nsp%d c%lld m%lld g%lld wconst%d t%d: %d of %lld bad\n",
              transpose ? "ConvTranspose" : "Conv", c->nsp, (long long)c->c, (long long)c->m,
              (long long)c->group, w_const, threads, bad, (long long)ny);
    CHECK(bad == 0);
  }
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
  free(x), free(w), free(b), free(r);
}

static const cfg conv_cases[] = {
    /* nsp n c m g  in          k          s          d          pb         pe        op ap bias */
    {2, 2, 3, 5, 1, {17, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, true},
    {2, 1, 4, 7, 1, {19, 16}, {3, 2}, {2, 3}, {2, 1}, {0, 2}, {1, 1}, {0}, NULL, false},
    {2, 2, 6, 9, 3, {11, 12}, {3, 2}, {1, 2}, {1, 1}, {1, 0}, {0, 1}, {0}, NULL, true},
    {2, 2, 8, 8, 8, {15, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, true},
    {2, 1, 8, 8, 8, {15, 17}, {3, 3}, {2, 2}, {2, 1}, {1, 0}, {2, 1}, {0}, NULL, false},
    {2, 1, 4, 8, 4, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, true},
    {2, 2, 3, 3, 3, {21, 40}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, true},
    {2, 1, 3, 3, 3, {12, 41}, {3, 5}, {2, 2}, {2, 1}, {1, 2}, {0, 3}, {0}, NULL, false},
    {2, 1, 2, 2, 2, {9, 37}, {3, 3}, {1, 1}, {1, 2}, {0, 1}, {2, 2}, {0}, NULL, true},
    {2, 1, 2, 2, 2, {9, 37}, {2, 3}, {3, 3}, {1, 1}, {1, 0}, {0, 1}, {0}, NULL, true},
    {2, 2, 16, 33, 1, {7, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, NULL, true},
    {2, 1, 16, 17, 1, {7, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {0}, NULL, false},
    {2, 1, 3, 4, 1, {10, 11}, {3, 3}, {2, 2}, {1, 1}, {0}, {0}, {0}, "SAME_UPPER", true},
    {2, 1, 3, 4, 1, {10, 11}, {4, 3}, {2, 3}, {1, 1}, {0}, {0}, {0}, "SAME_LOWER", false},
    {2, 1, 3, 4, 1, {10, 11}, {3, 3}, {2, 2}, {1, 2}, {0}, {0}, {0}, "VALID", false},
    {2, 1, 32, 64, 1, {30, 30}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, true},
    {3, 1, 2, 3, 1, {5, 6, 7}, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1}, {1, 1, 2}, {0}, NULL, true},
    {1, 2, 4, 6, 2, {63}, {5}, {3}, {2}, {2}, {3}, {0}, NULL, true},
    {1, 2, 5, 5, 5, {63}, {3}, {1}, {1}, {1}, {1}, {0}, NULL, true},
    {2, 1, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, NULL, false},
};

static const cfg convt_cases[] = {
    {2, 1, 3, 4, 1, {5, 6}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0, 0}, NULL, true},
    {2, 2, 4, 6, 2, {5, 4}, {3, 2}, {2, 3}, {1, 2}, {1, 0}, {0, 2}, {1, 2}, NULL, true},
    {2, 1, 3, 2, 1, {3, 3}, {3, 3}, {2, 2}, {1, 1}, {0}, {0}, {0}, "SAME_UPPER", false},
    {2, 1, 3, 2, 1, {3, 4}, {3, 3}, {2, 3}, {1, 1}, {0}, {0}, {1, 0}, "SAME_LOWER", false},
    {1, 2, 6, 4, 2, {17}, {4}, {3}, {2}, {2}, {1}, {1}, NULL, true},
    {3, 1, 2, 3, 1, {3, 4, 2}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0}, {1, 0, 0}, {1, 0, 0}, NULL, true},
    {2, 1, 8, 8, 8, {6, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, false},
    {2, 1, 40, 24, 1, {20, 20}, {4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, NULL, true},
};

/* ---- ConvInteger --------------------------------------------------------------- */

static void test_conv_integer(void) {
  /* x uint8 with zero point 3, w int8 with a zero point per output channel */
  cfg c = {2, 1, 4, 6, 2, {7, 8}, {3, 2}, {2, 1}, {1, 2}, {1, 0}, {1, 1}, {0}, NULL, false};
  int64_t out[3], pb[3];
  conv_out(&c, false, out, pb);
  int64_t xd[4] = {1, 4, 7, 8}, wd[4] = {6, 2, 3, 2}, zd[1] = {6};
  uint8_t x[224], xz = 3;
  int8_t w[72], wz[6];
  unsigned s = 99;
  for (int i = 0; i < 224; i++) x[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
  for (int i = 0; i < 72; i++) w[i] = (int8_t)((s = s * 1103515245u + 12345u) >> 16);
  for (int i = 0; i < 6; i++) wz[i] = (int8_t)(i * 13 - 30);
  /* reference: the float reference on de-zeroed values (exact in float) */
  float xf[224], wf[72], r[6 * 64];
  for (int i = 0; i < 224; i++) xf[i] = (float)(x[i] - xz);
  for (int i = 0; i < 72; i++) wf[i] = (float)(w[i] - wz[i / 12]);
  ref_conv(&c, xf, wf, NULL, r);
  tu_node t = tu_node_new("ConvInteger", 10, 4, 1);
  tu_input(&t, 0, ONYX_DTYPE_UINT8, 4, xd);
  tu_const(&t, 1, ONYX_DTYPE_INT8, 4, wd, w);
  tu_const(&t, 2, ONYX_DTYPE_UINT8, 0, zd, &xz);
  tu_const(&t, 3, ONYX_DTYPE_INT8, 1, zd, wz);
  set_attrs(&t, &c, false);
  onyx_tensor *in, *y = NULL;
  onyx_tensor_create(ONYX_DTYPE_UINT8, 4, xd, &in);
  memcpy(onyx_tensor_data(in), x, sizeof x);
  CHECK_OK(tu_run(&t, 1, 1, &in, 1, &y));
  int64_t ny = 6 * out[0] * out[1];
  CHECK(y && onyx_tensor_dtype(y) == ONYX_DTYPE_INT32 && onyx_tensor_numel(y) == ny);
  if (y && onyx_tensor_numel(y) == ny) {
    const int32_t *yv = onyx_tensor_data(y);
    int bad = 0;
    for (int64_t i = 0; i < ny; i++) bad += yv[i] != (int32_t)r[i];
    CHECK(bad == 0);
  }
  onyx_tensor_free(in);
  onyx_tensor_free(y);
}

/* ---- inference: symbolic batch, unknown spatial dims, bad channels ------------------ */

static void test_infer(void) {
  tu_node t = tu_node_new("Conv", 11, 2, 1);
  int64_t batch, wd[4] = {8, 3, 3, 3};
  onyx_model_symbol(t.m, "batch", &batch);
  int64_t xd[4] = {batch, 3, 32, ONYX_DIM_UNKNOWN};
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, xd);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 4, wd);
  tu_attr_ints(&t, "strides", 2, (int64_t[2]){2, 2});
  tu_attr_string(&t, "auto_pad", "SAME_UPPER");
  CHECK_OK(onyx_graph_infer(t.m->graph));
  const onyx_value *y = &t.m->graph->values[tu_n(&t)->out[0]];
  CHECK(y->rank == 4 && y->dims[0] == batch && y->dims[1] == 8 && y->dims[2] == 16 &&
        y->dims[3] == ONYX_DIM_UNKNOWN && y->dtype == ONYX_DTYPE_FLOAT);
  onyx_model_destroy(t.m);

  tu_node u = tu_node_new("ConvTranspose", 11, 2, 1);
  onyx_model_symbol(u.m, "batch", &batch);
  int64_t xu[4] = {batch, 4, 5, 6}, wu[4] = {4, 3, 3, 3};
  tu_input(&u, 0, ONYX_DTYPE_FLOAT, 4, xu);
  tu_input(&u, 1, ONYX_DTYPE_FLOAT, 4, wu);
  tu_attr_ints(&u, "strides", 2, (int64_t[2]){2, 1});
  tu_attr_int(&u, "group", 2);
  CHECK_OK(onyx_graph_infer(u.m->graph));
  y = &u.m->graph->values[tu_n(&u)->out[0]];
  CHECK(y->rank == 4 && y->dims[0] == batch && y->dims[1] == 6 && y->dims[2] == 11 && y->dims[3] == 8);
  onyx_model_destroy(u.m);

  tu_node v = tu_node_new("Conv", 11, 2, 1);
  int64_t xv[4] = {1, 5, 8, 8}, wv[4] = {4, 3, 3, 3};
  tu_input(&v, 0, ONYX_DTYPE_FLOAT, 4, xv);
  tu_input(&v, 1, ONYX_DTYPE_FLOAT, 4, wv);
  CHECK_ERR(onyx_graph_infer(v.m->graph), ONYX_ERR_INVALID_ARGUMENT);
  onyx_model_destroy(v.m);

  tu_node w = tu_node_new("MatMul", 13, 2, 1);
  onyx_model_symbol(w.m, "batch", &batch);
  int64_t a[3] = {batch, 7, 5}, b[2] = {5, 9};
  tu_input(&w, 0, ONYX_DTYPE_FLOAT, 3, a);
  tu_input(&w, 1, ONYX_DTYPE_FLOAT, 2, b);
  CHECK_OK(onyx_graph_infer(w.m->graph));
  y = &w.m->graph->values[tu_n(&w)->out[0]];
  CHECK(y->rank == 3 && y->dims[0] == batch && y->dims[1] == 7 && y->dims[2] == 9);
  onyx_model_destroy(w.m);
}

int main(void) {
  unsigned seed = 1;
  for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
    for (int v = 0; v < 2; v++) run_case(&conv_cases[i], false, v, 1 + (int)((i + v) % 2), seed++);
  for (size_t i = 0; i < sizeof convt_cases / sizeof convt_cases[0]; i++)
    for (int v = 0; v < 2; v++) run_case(&convt_cases[i], true, v, 1 + (int)((i + v) % 2), seed++);
  test_conv_integer();
  test_infer();
  return tu_done("test_conv");
}
