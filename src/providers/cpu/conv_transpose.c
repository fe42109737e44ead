/* conv_transpose.c — cpu kernel for ConvTranspose (N-D, groups, strides,
 * dilations, pads, output_padding, output_shape, auto_pad), float.
 *
 * Per (image, group) the product col[M/g * k, in] = W_g^T x X_g is one GEMM
 * (W_g packed at prepare when constant), then col2im scatters each column
 * into the output: input position i with kernel offset kk lands at
 * i * stride - pad_begin + kk * dilation. The input is walked in chunks of
 * columns so col stays a few MB however large the image. Negative pads (from
 * an output_shape larger than the natural size) just leave zeros at the edge. */
#include <string.h>

#include "linalg.h"
#include "ops/linalg.h"

typedef struct col2im_job {
  const onyx_conv_geom *geo;
  const float *col;        /* rows (m, kernel offset) x jc columns */
  float *y;                /* M/g output planes of this group */
  int64_t kprod, out_sp, j0, jc;
} col2im_job;

/* output planes [begin, end) of the group: each is written by one thread */
static void col2im_run(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const col2im_job *j = arg;
  const onyx_conv_geom *g = j->geo;
  const int last = g->nsp - 1;
  for (size_t m = begin; m < end; m++) {
    float *ym = j->y + (int64_t)m * j->out_sp;
    for (int64_t kr = 0; kr < j->kprod; kr++) {
      const float *cr = j->col + ((int64_t)m * j->kprod + kr) * j->jc;
      int64_t kk[ONYX_CONV_MAX_SPATIAL], in[ONYX_CONV_MAX_SPATIAL];
      for (int64_t i = last, r = kr; i >= 0; i--) {
        kk[i] = r % g->kernel[i];
        r /= g->kernel[i];
      }
      for (int64_t i = last, r = j->j0; i >= 0; i--) {
        in[i] = r % g->in[i];
        r /= g->in[i];
      }
      for (int64_t q = 0; q < j->jc;) {
        int64_t run = g->in[last] - in[last];
        if (run > j->jc - q) run = j->jc - q;
        bool ok = true;
        int64_t off = 0;
        for (int i = 0; i < last; i++) {
          int64_t oi = in[i] * g->stride[i] - g->pad_begin[i] + kk[i] * g->dilation[i];
          ok = ok && oi >= 0 && oi < g->out[i];
          off = off * g->out[i] + oi;
        }
        if (ok) {
          int64_t s = g->stride[last], ow = g->out[last];
          int64_t base = in[last] * s - g->pad_begin[last] + kk[last] * g->dilation[last];
          float *yr = ym + off * ow;
          for (int64_t r = 0; r < run; r++) {
            int64_t oc = base + r * s;
            if (oc >= 0 && oc < ow) yr[oc] += cr[q + r];
          }
        }
        q += run;
        in[last] += run;
        for (int i = last; i > 0 && in[i] == g->in[i]; i--) {
          in[i] = 0;
          in[i - 1]++;
        }
      }
    }
  }
}

onyx_status *cpu_conv_transpose_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0];
  const onyx_node *n = c->node;
  if (x->dtype != ONYX_DTYPE_FLOAT || w->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "ConvTranspose of %s is not supported",
                           onyx_dtype_name(x->dtype));
  if (x->rank != w->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input rank %d and weight rank %d differ",
                           x->rank, w->rank);
  onyx_conv_geom geo;
  ONYX_TRY(onyx_conv_geometry(n, true, x->rank, x->dims, w->dims, &geo));
  int64_t C = x->dims[1], cg = C / geo.group, mg = w->dims[1], M = mg * geo.group;
  int64_t kprod = onyx_numel(geo.nsp, geo.kernel);
  if (b && (b->dtype != ONYX_DTYPE_FLOAT || onyx_numel(b->rank, b->dims) != M))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "bias must be %lld floats", (long long)M);
  int64_t od[ONYX_MAX_RANK] = {x->dims[0], M};
  for (int i = 0; i < geo.nsp; i++) od[2 + i] = geo.out[i];
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, od));
  int64_t in_sp = onyx_numel(geo.nsp, geo.in), out_sp = onyx_numel(geo.nsp, geo.out);
  float *yp = y->data;
  const float *xp = x->data, *wp = w->data;
  for (int64_t i = 0; i < x->dims[0] * M; i++) {
    float v = b ? ((const float *)b->data)[i % M] : 0.0f;
    for (int64_t q = 0; q < out_sp; q++) yp[i * out_sp + q] = v;
  }
  int64_t rows = mg * kprod;
  if (rows == 0 || in_sp == 0 || out_sp == 0) return NULL;
  /* columns per chunk: col at most ~8 MB, at least one column */
  int64_t chunk = ((int64_t)1 << 21) / rows;
  if (chunk < 1) chunk = 1;
  if (chunk > in_sp) chunk = in_sp;
  float *col = onyx_malloc_aligned((size_t)(rows * chunk) * sizeof(float));
  if (!col) return onyx_error_oom();
  const conv_state *st = c->state;
  const cpu_sgemm_isa *isa = st ? st->isa : cpu_sgemm_isa_best();
  onyx_status *s = NULL;
  int ct = cpu_sgemm_threads(c->pool, (double)(rows * chunk) * 8.0);
  onyx_threadpool cpool = {ct};
  for (int64_t img = 0; img < x->dims[0] && !s; img++)
    for (int64_t gi = 0; gi < geo.group && !s; gi++) {
      const float *xg = xp + (img * C + gi * cg) * in_sp;
      float *yg = yp + (img * M + gi * mg) * out_sp;
      for (int64_t j0 = 0; j0 < in_sp && !s; j0 += chunk) {
        int64_t jc = in_sp - j0 < chunk ? in_sp - j0 : chunk;
        cpu_sgemm_args g = {rows, jc, cg, 1.0f, 0.0f,
                            {wp + gi * cg * rows, rows, true, NULL, NULL, NULL},
                            {xg + j0, in_sp, false, NULL, NULL, NULL}, col, jc, NULL, NULL, NULL, NULL};
        if (st && st->pw) g.a = (cpu_sgemm_operand){NULL, 0, false, st->pw[gi], NULL, NULL};
        if ((s = cpu_sgemm(c->pool, isa, &g))) break;
        col2im_job cj = {&geo, col, yg, kprod, out_sp, j0, jc};
        onyx_parallel_for(&cpool, (size_t)mg, 1, col2im_run, &cj);
      }
    }
  onyx_free_aligned(col);
  return s;
}
