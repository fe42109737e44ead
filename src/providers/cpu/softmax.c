/* softmax.c — cpu Softmax, LogSoftmax and Hardmax in float32 (float16 and
 * bfloat16 through nn_dispatch). Opset 13 changed their meaning: before it
 * the input is coerced to 2-D at `axis` (default 1) and the op runs over
 * all of dims[axis:]; from 13 it runs over the single axis (default -1).
 * Both are the same loops over an [outer, n, inner] view. exp is a
 * branch-free Cephes-style polynomial on 4-float vectors (relative error
 * about 2e-7), and row sums add float lanes per block of 256 into a double,
 * so rows of any length stay accurate. Rows (or column chunks when the axis is
 * not the last) are threaded. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn.h"

enum { SM_SOFTMAX, SM_LOG, SM_HARD };

/* Four floats as one value: GCC/Clang vector extensions, which the
 * compiler maps to SSE2 (x86-64's baseline) or NEON. Plain scalar code with clamps
 * would not vectorize: float compares may trap, blocking if-conversion. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f sel(v4i m, v4f a, v4f b) { return (v4f)((m & (v4i)a) | (~m & (v4i)b)); }

/* e^x: x = r*ln2 + f with r integral and |f| <= ln2/2, e^f by a degree-7
 * polynomial (Cephes expf), 2^r by building the exponent bits. Below -87.3
 * (where e^x leaves the normal floats) it returns 0. */
static inline v4f exp_v4(v4f x) {
  const v4f lo = (v4f){0} - 87.3365f, hi = (v4f){0} + 88.3762f;
  v4i under = x < lo;
  v4f xc = sel(under, lo, x);
  xc = sel(xc > hi, hi, xc);
  v4f r = (xc * 1.44269504089f + 12582912.f) - 12582912.f;   /* round to nearest */
  v4f f = xc - r * 0.693359375f + r * 2.12194440e-4f;
  v4f p = f * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * f + 8.3334519073e-3f;
  p = p * f + 4.1665795894e-2f;
  p = p * f + 1.6666665459e-1f;
  p = p * f + 5.0000001201e-1f;
  p = p * f * f + f + 1.f;
  v4i e = (__builtin_convertvector(r, v4i) + 127) << 23;
  return (v4f)((v4i)(p * (v4f)e) & ~under);
}

/* y[i] = e^(x[i] - m[i]) for n values; m is one value (mstride 0) or n. */
static void exp_sub(const float *x, const float *m, int mstride, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v4f v, mv;
    memcpy(&v, x + i, sizeof v);
    if (mstride) memcpy(&mv, m + i, sizeof mv);
    else mv = (v4f){0} + m[0];
    v = exp_v4(v - mv);
    memcpy(y + i, &v, sizeof v);
  }
  if (i == n) return;
  float tx[4] = {0}, tm[4] = {0};
  memcpy(tx, x + i, (size_t)(n - i) * sizeof *tx);
  for (int64_t k = 0; k < n - i; k++) tm[k] = m[mstride ? i + k : 0];
  v4f v, mv;
  memcpy(&v, tx, sizeof v);
  memcpy(&mv, tm, sizeof mv);
  v = exp_v4(v - mv);
  memcpy(tx, &v, sizeof v);
  memcpy(y + i, tx, (size_t)(n - i) * sizeof *tx);
}

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

/* y[i] = e^(x[i] - m); returns the sum, added in float lanes for 256
 * values at a time and in double across those blocks. */
static double exp_sum(const float *x, float *y, int64_t n, float m) {
  const v4f mv = (v4f){0} + m;
  v4f acc = {0};
  double total = 0;
  int64_t i = 0;
  for (int blk = 0; i + 4 <= n; i += 4) {
    v4f v;
    memcpy(&v, x + i, sizeof v);
    v = exp_v4(v - mv);
    memcpy(y + i, &v, sizeof v);
    acc += v;
    if (++blk == 64) {
      total += (double)((acc[0] + acc[1]) + (acc[2] + acc[3]));
      acc = (v4f){0};
      blk = 0;
    }
  }
  total += (double)((acc[0] + acc[1]) + (acc[2] + acc[3]));
  if (i < n) {
    exp_sub(x + i, &m, 0, y + i, n - i);
    for (; i < n; i++) total += y[i];
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
  float mx[CHUNK], sm[CHUNK];
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
    for (int64_t i = 0; i < w; i++) sm[i] = 0;
    for (int64_t k = 0; k < n; k++) {
      exp_sub(x + k * inner, mx, 1, y + k * inner, w);
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

static onyx_status *sm_run(cpu_ctx *c, int mode) {
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

static onyx_status *softmax_f32(cpu_ctx *c) { return sm_run(c, SM_SOFTMAX); }
static onyx_status *log_softmax_f32(cpu_ctx *c) { return sm_run(c, SM_LOG); }
static onyx_status *hardmax_f32(cpu_ctx *c) { return sm_run(c, SM_HARD); }

onyx_status *cpu_softmax(cpu_ctx *c) { return nn_dispatch(c, softmax_f32, false); }
onyx_status *cpu_log_softmax(cpu_ctx *c) { return nn_dispatch(c, log_softmax_f32, false); }
onyx_status *cpu_hardmax(cpu_ctx *c) { return nn_dispatch(c, hardmax_f32, false); }
