/* softmax.c — cpu Softmax, LogSoftmax and Hardmax in float32 (float16 and
 * bfloat16 through nn_dispatch). Opset 13 changed their meaning: before it
 * the input is coerced to 2-D at `axis` (default 1) and the op runs over
 * all of dims[axis:]; from 13 it runs over the single axis (default -1).
 * Both are the same loops over an [outer, n, inner] view. exp is vmath.h's
 * row (Cephes' polynomial, 4-16 lanes), and row sums add float lanes per
 * block of 256 into a double, so rows of any length stay accurate. Rows (or
 * column chunks when the axis is not the last) are threaded. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn.h"
#include "vmath.h"

enum { SM_SOFTMAX, SM_LOG, SM_HARD };

static float row_max(const float *x, int64_t n) {
  float m[8];
  for (int l = 0; l < 8; l++) m[l] = -INFINITY;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
  for (int l = 1; l < 8; l++) m[0] = m[l] > m[0] ? m[l] : m[0];
  return m[0];
}

/* y[i] = e^(x[i] - m); returns the sum, added in float (8 lanes) for 256
 * values at a time and in double across those blocks. */
static double exp_sum(const float *x, float *y, int64_t n, float m) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] - m;
  cpu_vm_exp_f32(y, NULL, y, n);
  double total = 0;
  for (int64_t b = 0; b < n; b += 256) {
    int64_t e = b + 256 < n ? b + 256 : n, i = b;
    float acc[8] = {0};
    for (; i + 8 <= e; i += 8)
      for (int l = 0; l < 8; l++) acc[l] += y[i + l];
    for (; i < e; i++) acc[0] += y[i];
    total += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
  }
  return total;
}

void cpu_softmax_row(const float *x, float *y, int64_t n) {
  float m = row_max(x, n);
  float inv = (float)(1.0 / exp_sum(x, y, n, m));
  for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

typedef struct sm_job {
  int mode;
  const float *x;
  float *y;
  int64_t n, inner, chunks;   /* chunks: column chunks of CHUNK per outer block */
} sm_job;

#define CHUNK 256

static void sm_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const sm_job *j = arg;
  const int64_t n = j->n;
  for (size_t r = begin; r < end; r++) {
    const float *x = j->x + (int64_t)r * n;
    float *y = j->y + (int64_t)r * n;
    float m = row_max(x, n);
    if (j->mode == SM_HARD) {
      int64_t k = 0;
      while (k < n - 1 && !(x[k] == m)) k++;
      memset(y, 0, (size_t)n * sizeof *y);
      if (n) y[k] = 1.f;
      continue;
    }
    double sum = exp_sum(x, y, n, m);
    if (j->mode == SM_SOFTMAX) {
      float inv = (float)(1.0 / sum);
      for (int64_t i = 0; i < n; i++) y[i] *= inv;
    } else {
      float off = m + (float)log(sum);
      for (int64_t i = 0; i < n; i++) y[i] = x[i] - off;
    }
  }
}

/* Axis not last: each item is CHUNK columns of one [n, inner] block, reduced
 * down the n rows with vector-wide running max / sum. */
static void sm_cols(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const sm_job *j = arg;
  const int64_t n = j->n, inner = j->inner;
  float mx[CHUNK], nmx[CHUNK], sm[CHUNK];
  for (size_t it = begin; it < end; it++) {
    int64_t o = (int64_t)it / j->chunks, c0 = ((int64_t)it % j->chunks) * CHUNK;
    int64_t w = inner - c0 < CHUNK ? inner - c0 : CHUNK;
    const float *x = j->x + o * n * inner + c0;
    float *y = j->y + o * n * inner + c0;
    for (int64_t i = 0; i < w; i++) mx[i] = -INFINITY;
    for (int64_t k = 0; k < n; k++)
      for (int64_t i = 0; i < w; i++) mx[i] = x[k * inner + i] > mx[i] ? x[k * inner + i] : mx[i];
    if (j->mode == SM_HARD) {
      for (int64_t i = 0; i < w; i++) sm[i] = 0;   /* 1 once the first max is placed */
      for (int64_t k = 0; k < n; k++)
        for (int64_t i = 0; i < w; i++) {
          bool hit = sm[i] == 0 && (x[k * inner + i] == mx[i] || k == n - 1);
          y[k * inner + i] = hit ? 1.f : 0.f;
          if (hit) sm[i] = 1;
        }
      continue;
    }
    for (int64_t i = 0; i < w; i++) sm[i] = 0, nmx[i] = -mx[i];
    for (int64_t k = 0; k < n; k++) {
      cpu_vm_exp_f32(x + k * inner, nmx, y + k * inner, w);   /* e^(x - max) */
      for (int64_t i = 0; i < w; i++) sm[i] += y[k * inner + i];
    }
    if (j->mode == SM_SOFTMAX) {
      for (int64_t i = 0; i < w; i++) sm[i] = 1.f / sm[i];
      for (int64_t k = 0; k < n; k++)
        for (int64_t i = 0; i < w; i++) y[k * inner + i] *= sm[i];
    } else {
      for (int64_t i = 0; i < w; i++) sm[i] = mx[i] + logf(sm[i]);
      for (int64_t k = 0; k < n; k++)
        for (int64_t i = 0; i < w; i++) y[k * inner + i] = x[k * inner + i] - sm[i];
    }
  }
}

static onyx_status *sm_run(onyx_kernel_ctx *c, int mode) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  bool old = n->opset < 13;
  int ax;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", old ? 1 : -1), x->rank, &ax));
  int64_t outer = onyx_numel(ax, x->dims);
  sm_job j = {mode, x->data, c->out[0]->data, 0, 1, 1};
  if (old || x->rank == 0) {
    j.n = onyx_numel(x->rank - ax, x->dims + ax);
  } else {
    j.n = x->dims[ax];
    j.inner = onyx_numel(x->rank - ax - 1, x->dims + ax + 1);
  }
  if (outer * j.n * j.inner == 0) return NULL;
  if (j.inner == 1) {
    onyx_parallel_for(c->pool, (size_t)outer, nn_grain(4 * j.n), sm_rows, &j);
  } else {
    j.chunks = (j.inner + CHUNK - 1) / CHUNK;
    int64_t w = j.inner < CHUNK ? j.inner : CHUNK;
    onyx_parallel_for(c->pool, (size_t)(outer * j.chunks), nn_grain(4 * j.n * w), sm_cols, &j);
  }
  return NULL;
}

static onyx_status *softmax_f32(onyx_kernel_ctx *c) { return sm_run(c, SM_SOFTMAX); }
static onyx_status *log_softmax_f32(onyx_kernel_ctx *c) { return sm_run(c, SM_LOG); }
static onyx_status *hardmax_f32(onyx_kernel_ctx *c) { return sm_run(c, SM_HARD); }

onyx_status *cpu_softmax(onyx_kernel_ctx *c) { return nn_dispatch(c, softmax_f32, false); }
onyx_status *cpu_log_softmax(onyx_kernel_ctx *c) { return nn_dispatch(c, log_softmax_f32, false); }
onyx_status *cpu_hardmax(onyx_kernel_ctx *c) { return nn_dispatch(c, hardmax_f32, false); }
