/* pool.c — cpu pooling kernels: MaxPool (with optional Indices), AveragePool,
 * LpPool, their Global forms, MaxRoiPool and MaxUnpool, in float32 (other
 * float types through nn_dispatch), and MaxPool on uint8/int8 directly. Window geometry comes from the op table
 * (onyx_pool_geometry) so kernels and shape inference agree. 1-D and 2-D
 * pooling run as 3-D pooling with leading unit axes: one loop nest, threaded
 * over the N*C planes, with each window clipped to the input up front so the
 * innermost loops carry no bounds tests. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn.h"
#include "ops/nn_ops.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

/* Geometry as 3 spatial axes (unit axes in front for 1-D/2-D). */
typedef struct pool3 {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} pool3;

typedef struct pool_job {
  pool3 g;
  int kind;
  bool include_pad;     /* AveragePool count_include_pad */
  bool col_major;       /* MaxPool storage_order = 1 */
  float p;              /* LpPool */
  const float *x;
  float *y;
  int64_t *ind;         /* MaxPool Indices, or NULL */
  int64_t in_plane, out_plane;
  int64_t ow_lo, ow_hi; /* outputs whose W window lies wholly inside the input */
} pool_job;

static onyx_status *pool3_init(const onyx_kernel_ctx *c, pool3 *g) {
  const onyx_tensor *x = c->in[0];
  if (x->rank < 3 || x->rank > 5)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED,
                           "input has rank %d; 1-D, 2-D and 3-D pooling are supported", x->rank);
  onyx_pool_geom pg;
  ONYX_TRY(onyx_pool_geometry(c->node, x->rank - 2, x->dims + 2, &pg));
  int off = 3 - pg.nsp;
  for (int a = 0; a < 3; a++) {
    bool unit = a < off;
    int i = a - off;
    g->in[a] = unit ? 1 : pg.in[i];
    g->out[a] = unit ? 1 : pg.out[i];
    g->k[a] = unit ? 1 : pg.k[i];
    g->s[a] = unit ? 1 : pg.s[i];
    g->d[a] = unit ? 1 : pg.d[i];
    g->pb[a] = unit ? 0 : pg.pb[i];
    g->pe[a] = unit ? 0 : pg.pe[i];
  }
  return NULL;
}

/* Taps [*t0, *t1) of the window of output o on axis a whose positions lie in [lo, hi). */
static inline void taps(const pool3 *g, int a, int64_t o, int64_t lo, int64_t hi, int64_t *t0,
                        int64_t *t1) {
  int64_t start = o * g->s[a] - g->pb[a], d = g->d[a], k = g->k[a];
  int64_t b = 0, e = k;
  if (d == 1) {
    if (start < lo) b = lo - start;
    if (hi - start < e) e = hi - start;
  } else {
    if (start < lo) b = (lo - start + d - 1) / d;
    int64_t n = hi > start ? (hi - start + d - 1) / d : 0;
    if (n < e) e = n;
  }
  *t0 = b;
  *t1 = e > b ? e : b;
}

/* One output row of MaxPool with Indices: per output, the first maximum's
 * flat input position (row- or column-major spatial part, plus the plane). */
static void max_row_indices(const pool_job *j, int64_t p, int64_t sd, int64_t a0, int64_t a1,
                            int64_t sh, int64_t b0, int64_t b1, float *y, int64_t *ind) {
  const pool3 *g = &j->g;
  const float *x = j->x + p * j->in_plane;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2], dw = g->d[2];
  for (int64_t ow = 0; ow < g->out[2]; ow++) {
    int64_t c0, c1, sw = ow * g->s[2] - g->pb[2];
    taps(g, 2, ow, 0, W, &c0, &c1);
    float m = -INFINITY;
    int64_t mi = -1;
    for (int64_t a = a0; a < a1; a++) {
      int64_t id = sd + a * g->d[0];
      for (int64_t b = b0; b < b1; b++) {
        int64_t ih = sh + b * g->d[1];
        const float *row = x + (id * H + ih) * W + sw;
        for (int64_t t = c0; t < c1; t++)
          if (row[t * dw] > m || mi < 0) {
            m = row[t * dw];
            int64_t iw = sw + t * dw;
            mi = j->col_major ? id + ih * D + iw * D * H : (id * H + ih) * W + iw;
          }
      }
    }
    y[ow] = m;
    ind[ow] = mi < 0 ? -1 : mi + p * j->in_plane;
  }
}

/* y[o] (op)= x[o * s] for o in [lo, hi): the interior of an output row,
 * where every tap is inside the input, as loops along the row (vectorized). */
static void row_accumulate(int kind, float p, float *y, const float *x, int64_t s, int64_t lo, int64_t hi) {
  if (kind == POOL_MAX) {
    if (s == 1)
      for (int64_t o = lo; o < hi; o++) y[o] = x[o] > y[o] ? x[o] : y[o];
    else
      for (int64_t o = lo; o < hi; o++) y[o] = x[o * s] > y[o] ? x[o * s] : y[o];
  } else if (kind == POOL_AVG || p == 1) {
    bool absval = kind == POOL_LP;
    if (s == 1 && !absval)
      for (int64_t o = lo; o < hi; o++) y[o] += x[o];
    else if (!absval)
      for (int64_t o = lo; o < hi; o++) y[o] += x[o * s];
    else
      for (int64_t o = lo; o < hi; o++) y[o] += fabsf(x[o * s]);
  } else if (p == 2) {
    for (int64_t o = lo; o < hi; o++) y[o] += x[o * s] * x[o * s];
  } else {
    for (int64_t o = lo; o < hi; o++) y[o] += powf(fabsf(x[o * s]), p);
  }
}

/* One output row without indices: every valid (d, h) tap row of the window
 * is folded into the whole output row at once; only the few outputs whose
 * window crosses the left or right edge take the clipped scalar path. */
static void pool_row(const pool_job *j, int64_t p, int64_t sd, int64_t a0, int64_t a1, int64_t sh,
                     int64_t b0, int64_t b1, int64_t pad_cnt, float *y) {
  const pool3 *g = &j->g;
  const float *x = j->x + p * j->in_plane;
  const int64_t H = g->in[1], W = g->in[2], OW = g->out[2], s = g->s[2], dw = g->d[2], k = g->k[2];
  const int64_t lo = j->ow_lo, hi = j->ow_hi;
  const float init = j->kind == POOL_MAX ? -INFINITY : 0.f;
  for (int64_t o = 0; o < OW; o++) y[o] = init;
  for (int64_t a = a0; a < a1; a++)
    for (int64_t b = b0; b < b1; b++) {
      const float *row = x + ((sd + a * g->d[0]) * H + sh + b * g->d[1]) * W;
      for (int64_t t = 0; t < k; t++) row_accumulate(j->kind, j->p, y, row - g->pb[2] + t * dw, s, lo, hi);
      for (int64_t o = lo > 0 ? 0 : hi; o < OW; o = o + 1 == lo ? hi : o + 1) {   /* the edges */
        int64_t c0, c1, sw = o * s - g->pb[2];
        taps(g, 2, o, 0, W, &c0, &c1);
        for (int64_t t = c0; t < c1; t++) {
          float v = row[sw + t * dw];
          if (j->kind == POOL_MAX) y[o] = v > y[o] ? v : y[o];
          else if (j->kind == POOL_AVG) y[o] += v;
          else y[o] += j->p == 2 ? v * v : powf(fabsf(v), j->p);
        }
      }
    }
  if (j->kind == POOL_MAX) return;
  for (int64_t o = 0; o < OW; o++) {
    if (j->kind == POOL_LP) {
      y[o] = j->p == 2 ? sqrtf(y[o]) : j->p == 1 ? y[o] : powf(y[o], 1.f / j->p);
      continue;
    }
    int64_t c0, c1, cnt;
    if (j->include_pad) {
      taps(g, 2, o, -g->pb[2], W + g->pe[2], &c0, &c1);
      cnt = pad_cnt * (c1 - c0);
    } else {
      taps(g, 2, o, 0, W, &c0, &c1);
      cnt = (a1 - a0) * (b1 - b0) * (c1 - c0);
    }
    y[o] = cnt > 0 ? y[o] / (float)cnt : 0.f;
  }
}

static void pool_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const pool_job *j = arg;
  const pool3 *g = &j->g;
  for (size_t p = begin; p < end; p++) {
    float *y = j->y + (int64_t)p * j->out_plane;
    int64_t *ind = j->ind ? j->ind + (int64_t)p * j->out_plane : NULL;
    for (int64_t od = 0; od < g->out[0]; od++) {
      int64_t a0, a1, pa0, pa1;
      taps(g, 0, od, 0, g->in[0], &a0, &a1);
      taps(g, 0, od, -g->pb[0], g->in[0] + g->pe[0], &pa0, &pa1);
      int64_t sd = od * g->s[0] - g->pb[0];
      for (int64_t oh = 0; oh < g->out[1]; oh++) {
        int64_t b0, b1, pb0, pb1;
        taps(g, 1, oh, 0, g->in[1], &b0, &b1);
        taps(g, 1, oh, -g->pb[1], g->in[1] + g->pe[1], &pb0, &pb1);
        int64_t sh = oh * g->s[1] - g->pb[1];
        if (ind) max_row_indices(j, (int64_t)p, sd, a0, a1, sh, b0, b1, y, ind);
        else pool_row(j, (int64_t)p, sd, a0, a1, sh, b0, b1, (pa1 - pa0) * (pb1 - pb0), y);
        y += g->out[2];
        if (ind) ind += g->out[2];
      }
    }
  }
}

/* LpPool's p: an int attribute, a float one in opset 1. */
static float lp_order(const onyx_node *n) {
  const onyx_attr *a = onyx_node_attr(n, "p");
  if (a && a->type == ONYX_ATTR_FLOAT) return a->f;
  return (float)onyx_attr_int(n, "p", 2);
}

static onyx_status *pool_f32(onyx_kernel_ctx *c, int kind) {
  pool_job j = {0};
  ONYX_TRY(pool3_init(c, &j.g));
  const onyx_node *n = c->node;
  j.kind = kind;
  j.include_pad = onyx_attr_int(n, "count_include_pad", 0) != 0;
  j.p = kind == POOL_LP ? lp_order(n) : 0;
  int64_t so = onyx_attr_int(n, "storage_order", 0);
  if (so != 0 && so != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "storage_order %lld is not 0 or 1", (long long)so);
  j.col_major = so == 1;
  j.x = c->in[0]->data;
  j.y = c->out[0]->data;
  j.ind = kind == POOL_MAX && c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
  j.in_plane = j.g.in[0] * j.g.in[1] * j.g.in[2];
  j.out_plane = j.g.out[0] * j.g.out[1] * j.g.out[2];
  const pool3 *g = &j.g;
  int64_t ek = (g->k[2] - 1) * g->d[2] + 1;
  j.ow_lo = (g->pb[2] + g->s[2] - 1) / g->s[2];
  j.ow_hi = g->in[2] + g->pb[2] >= ek ? (g->in[2] + g->pb[2] - ek) / g->s[2] + 1 : 0;
  if (j.ow_lo > g->out[2]) j.ow_lo = g->out[2];
  if (j.ow_hi > g->out[2]) j.ow_hi = g->out[2];
  if (j.ow_hi < j.ow_lo) j.ow_hi = j.ow_lo;
  int64_t planes = c->in[0]->dims[0] * c->in[0]->dims[1];
  int64_t work = j.out_plane * j.g.k[0] * j.g.k[1] * j.g.k[2];
  onyx_parallel_for(c->pool, (size_t)planes, nn_grain(work), pool_planes, &j);
  return NULL;
}

static onyx_status *maxpool_f32(onyx_kernel_ctx *c) { return pool_f32(c, POOL_MAX); }
static onyx_status *avgpool_f32(onyx_kernel_ctx *c) { return pool_f32(c, POOL_AVG); }
static onyx_status *lppool_f32(onyx_kernel_ctx *c) { return pool_f32(c, POOL_LP); }

/* ---- MaxPool on 8-bit data (no Indices): quantized models (the QDQ fusion)
 * pool their uint8/int8 activations directly, bytes compared in their own
 * order (int8 through a sign flip into the uint8 order), no float copies */

typedef struct qmax_job {
  pool3 g;
  const uint8_t *x;
  uint8_t *y;
  uint8_t flip;         /* 0x80 for int8 */
  int64_t in_plane, out_plane;
} qmax_job;

static void qmax_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const qmax_job *j = arg;
  const pool3 *g = &j->g;
  const int64_t H = g->in[1], W = g->in[2];
  for (size_t p = begin; p < end; p++) {
    const uint8_t *x = j->x + (int64_t)p * j->in_plane;
    uint8_t *y = j->y + (int64_t)p * j->out_plane;
    for (int64_t od = 0; od < g->out[0]; od++) {
      int64_t a0, a1, sd = od * g->s[0] - g->pb[0];
      taps(g, 0, od, 0, g->in[0], &a0, &a1);
      for (int64_t oh = 0; oh < g->out[1]; oh++) {
        int64_t b0, b1, sh = oh * g->s[1] - g->pb[1];
        taps(g, 1, oh, 0, H, &b0, &b1);
        for (int64_t ow = 0; ow < g->out[2]; ow++, y++) {
          int64_t c0, c1, sw = ow * g->s[2] - g->pb[2];
          taps(g, 2, ow, 0, W, &c0, &c1);
          uint8_t m = 0;
          for (int64_t a = a0; a < a1; a++)
            for (int64_t b = b0; b < b1; b++) {
              const uint8_t *row = x + ((sd + a * g->d[0]) * H + sh + b * g->d[1]) * W + sw;
              for (int64_t t = c0; t < c1; t++) {
                uint8_t v = row[t * g->d[2]] ^ j->flip;
                m = v > m ? v : m;
              }
            }
          *y = m ^ j->flip;
        }
      }
    }
  }
}

static onyx_status *maxpool_q8(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  qmax_job j = {0};
  ONYX_TRY(pool3_init(c, &j.g));
  onyx_tensor *y = c->out[0];
  if (!y->data) {
    int64_t dims[ONYX_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 2; i < x->rank; i++) dims[i] = j.g.out[3 - (x->rank - 2) + (i - 2)];
    ONYX_TRY(onyx_tensor_alloc(y, x->rank, dims));
  }
  j.x = x->data;
  j.y = y->data;
  j.flip = x->dtype == ONYX_DTYPE_INT8 ? 0x80 : 0;
  j.in_plane = j.g.in[0] * j.g.in[1] * j.g.in[2];
  j.out_plane = j.g.out[0] * j.g.out[1] * j.g.out[2];
  int64_t planes = x->dims[0] * x->dims[1];
  onyx_parallel_for(c->pool, (size_t)planes, nn_grain(j.out_plane * j.g.k[0] * j.g.k[1] * j.g.k[2]),
                    qmax_planes, &j);
  return NULL;
}

onyx_status *cpu_maxpool(onyx_kernel_ctx *c) {
  onyx_dtype dt = c->in[0]->dtype;
  bool indices = c->n_out > 1 && c->out[1];
  if ((dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8) && !indices) return maxpool_q8(c);
  return nn_dispatch(c, maxpool_f32, true);
}
onyx_status *cpu_averagepool(onyx_kernel_ctx *c) { return nn_dispatch(c, avgpool_f32, false); }
onyx_status *cpu_lppool(onyx_kernel_ctx *c) { return nn_dispatch(c, lppool_f32, false); }

/* ---- global pooling: one reduction per N*C plane ------------------------- */

typedef struct global_job {
  int kind;
  float p;
  const float *x;
  float *y;
  int64_t plane;
} global_job;

static void global_planes(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const global_job *j = arg;
  const int64_t S = j->plane;
  for (size_t p = begin; p < end; p++) {
    const float *x = j->x + (int64_t)p * S;
    if (j->kind == POOL_MAX) {
      float m[8];
      for (int l = 0; l < 8; l++) m[l] = -INFINITY;
      int64_t i = 0;
      for (; i + 8 <= S; i += 8)
        for (int l = 0; l < 8; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
      for (; i < S; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
      for (int l = 1; l < 8; l++) m[0] = m[l] > m[0] ? m[l] : m[0];
      j->y[p] = m[0];
      continue;
    }
    double acc[4] = {0, 0, 0, 0};
    int64_t i = 0;
    if (j->kind == POOL_AVG) {
      for (; i + 4 <= S; i += 4)
        for (int l = 0; l < 4; l++) acc[l] += x[i + l];
      for (; i < S; i++) acc[0] += x[i];
    } else if (j->p == 2) {
      for (; i + 4 <= S; i += 4)
        for (int l = 0; l < 4; l++) acc[l] += (double)x[i + l] * x[i + l];
      for (; i < S; i++) acc[0] += (double)x[i] * x[i];
    } else {
      for (; i < S; i++) acc[0] += pow(fabs(x[i]), j->p);
    }
    double sum = acc[0] + acc[1] + acc[2] + acc[3];
    if (j->kind == POOL_AVG) j->y[p] = S ? (float)(sum / (double)S) : 0.f;
    else j->y[p] = (float)(j->p == 2 ? sqrt(sum) : pow(sum, 1.0 / j->p));
  }
}

static onyx_status *global_f32(onyx_kernel_ctx *c, int kind) {
  const onyx_tensor *x = c->in[0];
  if (x->rank < 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected >= 2", x->rank);
  global_job j = {kind, kind == POOL_LP ? lp_order(c->node) : 0, x->data,
                  c->out[0]->data, onyx_numel(x->rank - 2, x->dims + 2)};
  if (kind == POOL_MAX && j.plane == 0)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "max over an empty spatial extent");
  onyx_parallel_for(c->pool, (size_t)(x->dims[0] * x->dims[1]), nn_grain(j.plane), global_planes, &j);
  return NULL;
}

static onyx_status *gavg_f32(onyx_kernel_ctx *c) { return global_f32(c, POOL_AVG); }
static onyx_status *gmax_f32(onyx_kernel_ctx *c) { return global_f32(c, POOL_MAX); }
static onyx_status *glp_f32(onyx_kernel_ctx *c) { return global_f32(c, POOL_LP); }

onyx_status *cpu_global_averagepool(onyx_kernel_ctx *c) { return nn_dispatch(c, gavg_f32, false); }
onyx_status *cpu_global_maxpool(onyx_kernel_ctx *c) { return nn_dispatch(c, gmax_f32, true); }
onyx_status *cpu_global_lppool(onyx_kernel_ctx *c) { return nn_dispatch(c, glp_f32, false); }

/* ---- MaxRoiPool: Caffe/ORT's integer-rounded bins ------------------------ */

typedef struct roi_job {
  const float *x, *rois;
  float *y;
  int64_t C, H, W, ph, pw;
  float scale;
} roi_job;

static void roi_items(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const roi_job *j = arg;
  for (size_t it = begin; it < end; it++) {
    int64_t r = (int64_t)it / j->C, ch = (int64_t)it % j->C;
    const float *roi = j->rois + r * 5;
    int64_t b = (int64_t)roi[0];
    int64_t w0 = (int64_t)roundf(roi[1] * j->scale), h0 = (int64_t)roundf(roi[2] * j->scale);
    int64_t w1 = (int64_t)roundf(roi[3] * j->scale), h1 = (int64_t)roundf(roi[4] * j->scale);
    int64_t rh = h1 - h0 + 1 > 1 ? h1 - h0 + 1 : 1, rw = w1 - w0 + 1 > 1 ? w1 - w0 + 1 : 1;
    float bh = (float)rh / (float)j->ph, bw = (float)rw / (float)j->pw;
    const float *x = j->x + (b * j->C + ch) * j->H * j->W;
    float *y = j->y + (int64_t)it * j->ph * j->pw;
    for (int64_t i = 0; i < j->ph; i++) {
      int64_t hs = (int64_t)floorf((float)i * bh) + h0, he = (int64_t)ceilf((float)(i + 1) * bh) + h0;
      hs = hs < 0 ? 0 : hs > j->H ? j->H : hs;
      he = he < 0 ? 0 : he > j->H ? j->H : he;
      for (int64_t k = 0; k < j->pw; k++) {
        int64_t ws = (int64_t)floorf((float)k * bw) + w0, we = (int64_t)ceilf((float)(k + 1) * bw) + w0;
        ws = ws < 0 ? 0 : ws > j->W ? j->W : ws;
        we = we < 0 ? 0 : we > j->W ? j->W : we;
        float m = -FLT_MAX;
        bool empty = he <= hs || we <= ws;
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = ws; w < we; w++) m = x[h * j->W + w] > m ? x[h * j->W + w] : m;
        y[i * j->pw + k] = empty ? 0.f : m;
      }
    }
  }
}

static onyx_status *roi_f32(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *rois = c->in[1];
  if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 5 || rois->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                           "expects X [N, C, H, W] and float rois [num_rois, 5]");
  const float *r = rois->data;
  for (int64_t i = 0; i < rois->dims[0]; i++)
    if (!(r[i * 5] >= 0 && r[i * 5] < (float)x->dims[0]))
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "roi %lld has batch index %g outside [0, %lld)",
                             (long long)i, (double)r[i * 5], (long long)x->dims[0]);
  roi_job j = {x->data, r, c->out[0]->data, x->dims[1], x->dims[2], x->dims[3],
               c->out[0]->dims[2], c->out[0]->dims[3], onyx_attr_float(c->node, "spatial_scale", 1.f)};
  int64_t items = rois->dims[0] * x->dims[1];
  onyx_parallel_for(c->pool, (size_t)items, nn_grain(j.ph * j.pw * 16), roi_items, &j);
  return NULL;
}

onyx_status *cpu_max_roi_pool(onyx_kernel_ctx *c) {
  if (c->in[0]->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input dtype %s is not supported",
                           onyx_dtype_name(c->in[0]->dtype));
  return roi_f32(c);
}

/* ---- MaxUnpool: scatter X to the flat positions MaxPool's Indices name ---
 * Indices address the default output shape; a larger output_shape pads each
 * axis at its end (the ONNX reference), so positions are re-addressed then. */

static onyx_status *unpool_f32(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *ind = c->in[1];
  onyx_tensor *y = c->out[0];
  if (ind->dtype != ONYX_DTYPE_INT64 || onyx_numel(ind->rank, ind->dims) != onyx_numel(x->rank, x->dims))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "I must be int64 and shaped like X");
  if (y->rank != x->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "output_shape has rank %d, X has %d",
                           y->rank, x->rank);
  int64_t def[ONYX_MAX_RANK];
  ONYX_TRY(onyx_unpool_default_dims(c->node, x->rank, x->dims, def));
  bool same = true;
  for (int i = 0; i < y->rank; i++) {
    if (y->dims[i] < def[i])
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "output_shape dim %d is %lld, below "
                             "the unpooled size %lld", i, (long long)y->dims[i], (long long)def[i]);
    same = same && y->dims[i] == def[i];
  }
  int64_t n = onyx_numel(x->rank, x->dims), total = onyx_numel(y->rank, y->dims);
  int64_t dtotal = onyx_numel(x->rank, def);
  const float *xv = x->data;
  const int64_t *iv = ind->data;
  float *yv = y->data;
  memset(yv, 0, (size_t)total * sizeof *yv);
  for (int64_t i = 0; i < n; i++) {
    int64_t at = iv[i];
    if (at < 0 || at >= dtotal)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "index %lld is outside the unpooled "
                             "tensor's %lld elements", (long long)at, (long long)dtotal);
    if (!same) {   /* coordinates in the default shape -> offset in the padded one */
      int64_t rem = at, off = 0, mul = 1;
      for (int a = y->rank - 1; a >= 0; a--) {
        off += (rem % def[a]) * mul;
        rem /= def[a];
        mul *= y->dims[a];
      }
      at = off;
    }
    yv[at] = xv[i];
  }
  return NULL;
}

onyx_status *cpu_max_unpool(onyx_kernel_ctx *c) { return nn_dispatch(c, unpool_f32, false); }
