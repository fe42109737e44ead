/* norm.c — cpu normalization kernels: BatchNormalization (inference and
 * training mode), InstanceNormalization, LayerNormalization,
 * GroupNormalization, LRN, MeanVarianceNormalization and LpNormalization, in
 * float32 (float16/bfloat16 through nn_dispatch). Statistics accumulate in
 * double (one pass of sum and sum of squares, several lanes so the compiler
 * vectorizes), which keeps them exact enough for any plane size at float
 * memory speed; the apply loops are plain y = x * a + b. Work is threaded
 * over N*C planes, (N, group) blocks or rows. */
#include <math.h>
#include <string.h>

#include "nn.h"

/* Sum and sum of squares of n floats. */
static void moments(const float *x, int64_t n, double *sum, double *sq) {
  double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; l++) {
      double v = x[i + l];
      s[l] += v;
      q[l] += v * v;
    }
  for (; i < n; i++) {
    s[0] += x[i];
    q[0] += (double)x[i] * x[i];
  }
  *sum = s[0] + s[1] + s[2] + s[3];
  *sq = q[0] + q[1] + q[2] + q[3];
}

/* Mean and 1/sqrt(var + eps) from moments over n values. */
static void mean_inv(double sum, double sq, int64_t n, double eps, double *mean, double *inv) {
  double m = n ? sum / (double)n : 0, var = n ? sq / (double)n - m * m : 0;
  *mean = m;
  *inv = 1.0 / sqrt((var > 0 ? var : 0) + eps);
}

static void affine(const float *x, float *y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

static onyx_status *need_f32(const onyx_kernel_ctx *c, int i) {
  if (c->in[i] && c->in[i]->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input %d of dtype %s with input 0 of %s",
                           i, onyx_dtype_name(c->in[i]->dtype), onyx_dtype_name(c->in[0]->dtype));
  return NULL;
}

/* ---- BatchNormalization -------------------------------------------------- */

typedef struct bn_job {
  const float *x, *scale, *bias, *mean, *var;
  float *y;
  int64_t C, S;
  bool per_elem;        /* spatial = 0 (opset < 9): parameters shaped [C, spatial...] */
  float eps;
  double *bmean, *bvar; /* training: batch statistics per channel */
  int64_t N;
} bn_job;

static void bn_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const bn_job *j = arg;
  for (size_t p = begin; p < end; p++) {
    int64_t ch = (int64_t)p % j->C;
    const float *x = j->x + (int64_t)p * j->S;
    float *y = j->y + (int64_t)p * j->S;
    if (!j->per_elem) {
      float a = j->scale[ch] / sqrtf(j->var[ch] + j->eps);
      affine(x, y, j->S, a, j->bias[ch] - j->mean[ch] * a);
      continue;
    }
    const int64_t o = ch * j->S;
    for (int64_t i = 0; i < j->S; i++)
      y[i] = (x[i] - j->mean[o + i]) / sqrtf(j->var[o + i] + j->eps) * j->scale[o + i] + j->bias[o + i];
  }
}

/* Training mode: per-channel mean and (population) variance over N and spatial. */
static void bn_stats(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const bn_job *j = arg;
  for (size_t ch = begin; ch < end; ch++) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < j->N; b++) {
      double s1, s2;
      moments(j->x + (b * j->C + (int64_t)ch) * j->S, j->S, &s1, &s2);
      sum += s1;
      sq += s2;
    }
    int64_t cnt = j->N * j->S;
    double m = cnt ? sum / (double)cnt : 0, v = cnt ? sq / (double)cnt - m * m : 0;
    j->bmean[ch] = m;
    j->bvar[ch] = v > 0 ? v : 0;
  }
}

static onyx_status *bn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  for (int i = 1; i < 5; i++) ONYX_TRY(need_f32(c, i));
  if (x->rank < 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "X has rank %d, expected >= 2", x->rank);
  bool training = n->opset >= 14 ? onyx_attr_int(n, "training_mode", 0) != 0 : false;
  if (n->opset < 14)
    for (int o = 1; o < c->n_out; o++)
      if (c->out[o])
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "training outputs before opset 14");
  bn_job j = {x->data, c->in[1]->data, c->in[2]->data, c->in[3]->data, c->in[4]->data,
              c->out[0]->data, x->dims[1], onyx_numel(x->rank - 2, x->dims + 2), false,
              onyx_attr_float(n, "epsilon", 1e-5f), NULL, NULL, x->dims[0]};
  int64_t pn = onyx_numel(c->in[1]->rank, c->in[1]->dims);
  j.per_elem = pn != j.C && pn == j.C * j.S && !training;
  for (int i = 1; i < 5; i++)
    if (onyx_numel(c->in[i]->rank, c->in[i]->dims) != (j.per_elem ? j.C * j.S : j.C))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d has %lld values for %lld channels", i,
                             (long long)onyx_numel(c->in[i]->rank, c->in[i]->dims), (long long)j.C);
  size_t planes = (size_t)(x->dims[0] * j.C);
  if (!training) {
    onyx_parallel_for(c->pool, planes, nn_grain(j.S), bn_planes, &j);
    return NULL;
  }
  /* batch statistics, then the same apply loop on them (as float) */
  double *st = onyx_malloc((size_t)j.C * 2 * sizeof *st);
  float *fs = onyx_malloc((size_t)j.C * 2 * sizeof *fs);
  onyx_status *s = NULL;
  if (!st || !fs) {
    s = onyx_error_oom();
    goto done;
  }
  j.bmean = st;
  j.bvar = st + j.C;
  onyx_parallel_for(c->pool, (size_t)j.C, nn_grain(j.N * j.S), bn_stats, &j);
  float momentum = onyx_attr_float(n, "momentum", 0.9f);
  float *rm = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
  float *rv = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
  for (int64_t ch = 0; ch < j.C; ch++) {
    fs[ch] = (float)st[ch];
    fs[j.C + ch] = (float)st[j.C + ch];
    if (rm) rm[ch] = j.mean[ch] * momentum + fs[ch] * (1 - momentum);
    if (rv) rv[ch] = j.var[ch] * momentum + fs[j.C + ch] * (1 - momentum);
  }
  j.mean = fs;
  j.var = fs + j.C;
  onyx_parallel_for(c->pool, planes, nn_grain(j.S), bn_planes, &j);
done:
  onyx_free(st);
  onyx_free(fs);
  return s;
}

onyx_status *cpu_batch_norm(onyx_kernel_ctx *c) { return nn_dispatch(c, bn_f32, false); }

/* ---- InstanceNormalization ---------------------------------------------- */

typedef struct in_job {
  const float *x, *scale, *bias;
  float *y;
  int64_t C, S;
  double eps;
} in_job;

static void in_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const in_job *j = arg;
  for (size_t p = begin; p < end; p++) {
    int64_t ch = (int64_t)p % j->C;
    const float *x = j->x + (int64_t)p * j->S;
    double sum, sq, mean, inv;
    moments(x, j->S, &sum, &sq);
    mean_inv(sum, sq, j->S, j->eps, &mean, &inv);
    float a = (float)(inv * j->scale[ch]);
    affine(x, j->y + (int64_t)p * j->S, j->S, a, j->bias[ch] - (float)mean * a);
  }
}

static onyx_status *in_f32(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  ONYX_TRY(need_f32(c, 1));
  ONYX_TRY(need_f32(c, 2));
  if (x->rank < 2 || onyx_numel(c->in[1]->rank, c->in[1]->dims) != x->dims[1] ||
      onyx_numel(c->in[2]->rank, c->in[2]->dims) != x->dims[1])
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                           "expects X [N, C, ...] with scale and B of C values");
  in_job j = {x->data, c->in[1]->data, c->in[2]->data, c->out[0]->data, x->dims[1],
              onyx_numel(x->rank - 2, x->dims + 2), onyx_attr_float(c->node, "epsilon", 1e-5f)};
  onyx_parallel_for(c->pool, (size_t)(x->dims[0] * j.C), nn_grain(2 * j.S), in_planes, &j);
  return NULL;
}

onyx_status *cpu_instance_norm(onyx_kernel_ctx *c) { return nn_dispatch(c, in_f32, false); }

/* ---- LayerNormalization -------------------------------------------------- */

typedef struct ln_job {
  const float *x, *scale, *bias;  /* scale/bias: `cols` values (bias may be NULL) */
  float *y, *mean, *inv;          /* mean/inv: optional outputs, one per row */
  int64_t cols;
  double eps;
} ln_job;

static void ln_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const ln_job *j = arg;
  const int64_t n = j->cols;
  for (size_t r = begin; r < end; r++) {
    const float *x = j->x + (int64_t)r * n;
    float *y = j->y + (int64_t)r * n;
    double sum, sq, mean, inv;
    moments(x, n, &sum, &sq);
    mean_inv(sum, sq, n, j->eps, &mean, &inv);
    float m = (float)mean, iv = (float)inv;
    if (j->bias)
      for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * iv * j->scale[i] + j->bias[i];
    else
      for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * iv * j->scale[i];
    if (j->mean) j->mean[r] = m;
    if (j->inv) j->inv[r] = iv;
  }
}

/* Writes parameter p, unidirectionally broadcast to shape dims[0..r), into dst. */
static onyx_status *expand_param(const onyx_node *n, const onyx_tensor *p, int r, const int64_t *dims,
                                 float *dst) {
  if (p->rank > r)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "a parameter of rank %d does not broadcast "
                           "to the normalized rank %d", p->rank, r);
  int64_t pstr[ONYX_MAX_RANK], total = onyx_numel(r, dims), st = 1;
  for (int i = r - 1; i >= 0; i--) {
    int pi = i - (r - p->rank);
    int64_t pd = pi >= 0 ? p->dims[pi] : 1;
    if (pd != 1 && pd != dims[i])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "a parameter dim %lld does not broadcast to %lld",
                             (long long)pd, (long long)dims[i]);
    pstr[i] = pd == 1 ? 0 : st;
    st *= pd;
  }
  const float *src = p->data;
  for (int64_t k = 0; k < total; k++) {
    int64_t rem = k, off = 0;
    for (int i = r - 1; i >= 0; i--) {
      off += (rem % dims[i]) * pstr[i];
      rem /= dims[i];
    }
    dst[k] = src[off];
  }
  return NULL;
}

static onyx_status *ln_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  int ax;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), x->rank, &ax));
  const onyx_tensor *sc = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
  ONYX_TRY(need_f32(c, 1));
  if (b) ONYX_TRY(need_f32(c, 2));
  for (int o = 1; o < c->n_out && o < 3; o++)
    if (c->out[o] && c->out[o]->dtype != ONYX_DTYPE_FLOAT)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "stash_type %s (only float32)",
                             onyx_dtype_name(c->out[o]->dtype));
  ln_job j = {x->data, sc->data, b ? b->data : NULL, c->out[0]->data,
              c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL,
              c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL,
              onyx_numel(x->rank - ax, x->dims + ax), onyx_attr_float(n, "epsilon", 1e-5f)};
  int64_t rows = onyx_numel(ax, x->dims);
  /* scale and bias usually have the normalized shape; otherwise broadcast them once */
  float *tmp = NULL;
  bool sfull = onyx_numel(sc->rank, sc->dims) == j.cols, bfull = !b || onyx_numel(b->rank, b->dims) == j.cols;
  if (!sfull || !bfull) {
    tmp = onyx_malloc((size_t)j.cols * 2 * sizeof *tmp);
    if (!tmp) return onyx_error_oom();
    onyx_status *s = NULL;
    if (!sfull && !(s = expand_param(n, sc, x->rank - ax, x->dims + ax, tmp))) j.scale = tmp;
    if (!s && !bfull && !(s = expand_param(n, b, x->rank - ax, x->dims + ax, tmp + j.cols))) j.bias = tmp + j.cols;
    if (s) {
      onyx_free(tmp);
      return s;
    }
  }
  onyx_parallel_for(c->pool, (size_t)rows, nn_grain(3 * j.cols), ln_rows, &j);
  onyx_free(tmp);
  return NULL;
}

onyx_status *cpu_layer_norm(onyx_kernel_ctx *c) { return nn_dispatch(c, ln_f32, false); }

void cpu_layer_norm_rows(const float *x, const float *scale, const float *bias, float *y,
                         int64_t rows, int64_t cols, float eps, const onyx_threadpool *pool) {
  ln_job j = {x, scale, bias, y, NULL, NULL, cols, eps};
  onyx_parallel_for(pool, (size_t)rows, nn_grain(3 * cols), ln_rows, &j);
}

/* ---- GroupNormalization --------------------------------------------------- */

typedef struct gn_job {
  const float *x, *scale, *bias;
  float *y;
  int64_t C, G, S;
  bool per_channel;     /* opset >= 21: scale/bias per channel, else per group */
  double eps;
} gn_job;

static void gn_blocks(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const gn_job *j = arg;
  const int64_t cg = j->C / j->G, blk = cg * j->S;
  for (size_t it = begin; it < end; it++) {
    int64_t g = (int64_t)it % j->G;
    const float *x = j->x + (int64_t)it * blk;
    float *y = j->y + (int64_t)it * blk;
    double sum, sq, mean, inv;
    moments(x, blk, &sum, &sq);
    mean_inv(sum, sq, blk, j->eps, &mean, &inv);
    for (int64_t k = 0; k < cg; k++) {
      int64_t pi = j->per_channel ? g * cg + k : g;
      float a = (float)(inv * j->scale[pi]);
      affine(x + k * j->S, y + k * j->S, j->S, a, j->bias[pi] - (float)mean * a);
    }
  }
}

static onyx_status *gn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  ONYX_TRY(need_f32(c, 1));
  ONYX_TRY(need_f32(c, 2));
  gn_job j = {x->data, c->in[1]->data, c->in[2]->data, c->out[0]->data, x->dims[1],
              onyx_attr_int(n, "num_groups", 1), onyx_numel(x->rank - 2, x->dims + 2),
              n->opset >= 21, onyx_attr_float(n, "epsilon", 1e-5f)};
  if (j.G < 1 || j.C % j.G)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%lld channels do not split into %lld groups",
                           (long long)j.C, (long long)j.G);
  if (onyx_attr_int(n, "stash_type", ONYX_DTYPE_FLOAT) != ONYX_DTYPE_FLOAT)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "stash_type other than float32");
  int64_t want = j.per_channel ? j.C : j.G;
  for (int i = 1; i < 3; i++)
    if (onyx_numel(c->in[i]->rank, c->in[i]->dims) != want)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d has %lld values, expected %lld", i,
                             (long long)onyx_numel(c->in[i]->rank, c->in[i]->dims), (long long)want);
  onyx_parallel_for(c->pool, (size_t)(x->dims[0] * j.G), nn_grain(2 * j.S * (j.C / j.G)), gn_blocks, &j);
  return NULL;
}

onyx_status *cpu_group_norm(onyx_kernel_ctx *c) { return nn_dispatch(c, gn_f32, false); }

/* ---- LRN: across-channel window of squares -------------------------------- */

typedef struct lrn_job {
  const float *x;
  float *y;
  int64_t C, S, lo, hi;
  float alpha_n, beta, bias;
} lrn_job;

static void lrn_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const lrn_job *j = arg;
  const int64_t S = j->S;
  for (size_t p = begin; p < end; p++) {
    int64_t ch = (int64_t)p % j->C, b = (int64_t)p - ch;
    int64_t c0 = ch - j->lo < 0 ? 0 : ch - j->lo, c1 = ch + j->hi >= j->C ? j->C - 1 : ch + j->hi;
    float *y = j->y + (int64_t)p * S;
    const float *x = j->x + (int64_t)p * S;
    memset(y, 0, (size_t)S * sizeof *y);   /* y accumulates the squares first */
    for (int64_t k = c0; k <= c1; k++) {
      const float *xk = j->x + (b + k) * S;
      for (int64_t i = 0; i < S; i++) y[i] += xk[i] * xk[i];
    }
    for (int64_t i = 0; i < S; i++) y[i] = x[i] * powf(j->bias + j->alpha_n * y[i], -j->beta);
  }
}

static onyx_status *lrn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  int64_t size = onyx_attr_int(n, "size", 0);
  if (size < 1) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute 'size' must be >= 1");
  if (x->rank < 2) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "X has rank %d, expected >= 2", x->rank);
  lrn_job j = {x->data, c->out[0]->data, x->dims[1], onyx_numel(x->rank - 2, x->dims + 2),
               (size - 1) / 2, size / 2, onyx_attr_float(n, "alpha", 1e-4f) / (float)size,
               onyx_attr_float(n, "beta", 0.75f), onyx_attr_float(n, "bias", 1.f)};
  onyx_parallel_for(c->pool, (size_t)(x->dims[0] * j.C), nn_grain(j.S * (size + 8)), lrn_planes, &j);
  return NULL;
}

onyx_status *cpu_lrn(onyx_kernel_ctx *c) { return nn_dispatch(c, lrn_f32, false); }

/* ---- MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes` ------ */

static onyx_status *mvn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  const int r = x->rank;
  bool red[ONYX_MAX_RANK] = {false};
  int cnt;
  const int64_t *axes;
  static const int64_t def_axes[3] = {0, 2, 3};
  if (!onyx_attr_ints(n, "axes", &cnt, &axes)) {
    axes = def_axes;
    cnt = 3;
  }
  for (int i = 0; i < cnt; i++) {
    int a;
    ONYX_TRY(onyx_norm_axis(n, axes[i], r, &a));
    red[a] = true;
  }
  /* group index of element k: its coordinates on the kept axes */
  int64_t gstr[ONYX_MAX_RANK], groups = 1;
  for (int i = r - 1; i >= 0; i--) {
    gstr[i] = red[i] ? 0 : groups;
    if (!red[i]) groups *= x->dims[i];
  }
  int64_t total = onyx_numel(r, x->dims), per = groups ? total / groups : 0;
  double *acc = onyx_calloc((size_t)groups * 2 + 1, sizeof *acc);
  if (!acc) return onyx_error_oom();
  const float *xv = x->data;
  float *yv = c->out[0]->data;
  for (int pass = 0; pass < 2; pass++) {
    int64_t coord[ONYX_MAX_RANK] = {0}, g = 0;
    for (int64_t k = 0; k < total; k++) {
      if (pass == 0) {
        acc[2 * g] += xv[k];
        acc[2 * g + 1] += (double)xv[k] * xv[k];
      } else {
        yv[k] = (float)((xv[k] - acc[2 * g]) / acc[2 * g + 1]);
      }
      for (int i = r - 1; i >= 0; i--) {   /* odometer step, keeping g in sync */
        g += gstr[i];
        if (++coord[i] < x->dims[i]) break;
        g -= gstr[i] * coord[i];
        coord[i] = 0;
      }
    }
    if (pass == 0)
      for (int64_t q = 0; q < groups; q++) {
        double m = acc[2 * q] / (double)per, v = acc[2 * q + 1] / (double)per - m * m;
        acc[2 * q] = m;
        acc[2 * q + 1] = sqrt(v > 0 ? v : 0) + 1e-9;
      }
  }
  onyx_free(acc);
  return NULL;
}

onyx_status *cpu_mvn(onyx_kernel_ctx *c) { return nn_dispatch(c, mvn_f32, false); }

/* ---- LpNormalization: x / ||x||_p along one axis ------------------------- */

typedef struct lpn_job {
  const float *x;
  float *y;
  int64_t len, inner;
  int p;
} lpn_job;

static void lpn_items(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const lpn_job *j = arg;
  for (size_t it = begin; it < end; it++) {
    int64_t o = (int64_t)it / j->inner, i = (int64_t)it % j->inner;
    const float *x = j->x + o * j->len * j->inner + i;
    float *y = j->y + o * j->len * j->inner + i;
    double s = 0;
    for (int64_t k = 0; k < j->len; k++) {
      double v = x[k * j->inner];
      s += j->p == 1 ? fabs(v) : v * v;
    }
    double norm = j->p == 1 ? s : sqrt(s);
    float inv = norm > 0 ? (float)(1.0 / norm) : 0.f;
    for (int64_t k = 0; k < j->len; k++) y[k * j->inner] = x[k * j->inner] * inv;
  }
}

static onyx_status *lpn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  int ax;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), x->rank, &ax));
  int64_t p = onyx_attr_int(n, "p", 2);
  if (p != 1 && p != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "p is %lld, expected 1 or 2", (long long)p);
  lpn_job j = {x->data, c->out[0]->data, x->rank ? x->dims[ax] : 1,
               onyx_numel(x->rank - ax - 1, x->dims + ax + 1), (int)p};
  int64_t items = onyx_numel(ax, x->dims) * j.inner;
  onyx_parallel_for(c->pool, (size_t)items, nn_grain(2 * j.len), lpn_items, &j);
  return NULL;
}

onyx_status *cpu_lp_norm(onyx_kernel_ctx *c) { return nn_dispatch(c, lpn_f32, false); }
