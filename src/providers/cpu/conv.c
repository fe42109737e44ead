/* conv.c — cpu kernels for Conv (1-D/2-D/3-D..., groups, dilations, strides,
 * pads, auto_pad, bias); ConvInteger and QLinearConv are in qlinear.c.
 *
 * Float Conv is a GEMM per (image, group): Y_g[M/g, out] = W_g[M/g, C/g*k] x
 * col[C/g*k, out] + bias. The im2col matrix is never materialized: the GEMM
 * engine asks for K x N blocks of it through a packing callback that gathers
 * straight from the input into the micro-kernel's panel layout. A 1x1 stride-1
 * unpadded conv needs no gathering at all: the input already is col. Weights
 * are packed per group at prepare when constant. Depthwise conv (one input
 * and one output channel per group, 1-D or 2-D) has a direct kernel instead,
 * because its GEMMs would be 1 row high. */
#include <string.h>

#include "base/cpu_features.h"
#include "im2col.h"
#include "linalg.h"
#include "ops/linalg.h"

#if defined(__x86_64__)
void cpu_dwconv_row_f32__avx2(const float *x, int64_t wp, const float *w, int64_t kh, int64_t kw,
                              int64_t dh, int64_t dw, int64_t sw, float bias, float *y, int64_t ow);
#endif

void cpu_conv_release(void *state) {
  conv_state *st = state;
  if (!st) return;
  for (int64_t i = 0; st->pw && i < st->group; i++) cpu_sgemm_packed_free(st->pw[i]);
  onyx_free(st->pw);
  onyx_free(st);
}

/* Packs the group blocks of a constant weight: group i is the m x k matrix at
 * w + i * m * k (trans: stored k x m). */
static onyx_status *pack_groups(const cpu_sgemm_isa *isa, int64_t group, bool trans, int64_t m,
                                int64_t k, const float *w, void **state) {
  conv_state *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  st->isa = isa;
  st->group = group;
  onyx_status *s = NULL;
  st->pw = onyx_calloc((size_t)group, sizeof *st->pw);
  if (!st->pw) {
    s = onyx_error_oom();
    goto fail;
  }
  for (int64_t i = 0; i < group; i++)
    if ((s = cpu_sgemm_pack_a(isa, trans, m, k, w + i * m * k, trans ? m : k, &st->pw[i]))) goto fail;
  *state = st;
  return NULL;
fail:
  cpu_conv_release(st);
  return s;
}

static int64_t kernel_numel(const onyx_tensor *w) { return onyx_numel(w->rank - 2, w->dims + 2); }

onyx_status *cpu_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  const onyx_tensor *w = cpu_const_input(n, g, 1);
  if (!w || w->dtype != ONYX_DTYPE_FLOAT || w->rank < 3) return NULL;
  int64_t group = onyx_attr_int(n, "group", 1);
  if (group < 1 || w->dims[0] % group) return NULL; /* run reports it */
  int64_t mg = w->dims[0] / group, kg = w->dims[1] * kernel_numel(w);
  if (mg == 1 && w->dims[1] == 1 && w->rank <= 4) return NULL; /* depthwise: direct kernel */
  return pack_groups(cpu_sgemm_isa_best(), group, false, mg, kg, w->data, state);
}

onyx_status *cpu_conv_transpose_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  const onyx_tensor *w = cpu_const_input(n, g, 1);
  if (!w || w->dtype != ONYX_DTYPE_FLOAT || w->rank < 3) return NULL;
  int64_t group = onyx_attr_int(n, "group", 1);
  if (group < 1 || w->dims[0] % group) return NULL;
  /* group i: W[i*C/g : (i+1)*C/g] is C/g x (M/g * k); the GEMM wants its transpose */
  return pack_groups(cpu_sgemm_isa_best(), group, true, w->dims[1] * kernel_numel(w),
                     w->dims[0] / group, w->data, state);
}

/* ---- implicit im2col -------------------------------------------------------- */

typedef struct im2col_ctx {
  const float *x;                         /* the C/g channels of one image */
  const cpu_im2col *col;
} im2col_ctx;

/* col rows k0..k0+kc x output columns n0..n0+nc into panels (see
 * cpu_sgemm_pack_fn), zeros for padding; each piece of a run is split where
 * it crosses a panel. */
static void im2col_pack(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                        float *dst) {
  const im2col_ctx *ic = ctx;
  const int64_t panel = kc * nr;
  for (int64_t p = 0; p < kc; p++) {
    cpu_im2col_walk w;
    cpu_im2col_start(ic->col, k0 + p, n0, &w);
    float *dp = dst + p * nr;
    int64_t lane = 0;
    for (int64_t j = 0; j < nc;) {
      cpu_im2col_run run;
      cpu_im2col_next(ic->col, &w, nc - j, &run);
      const int64_t s = run.step;
      for (int64_t r = 0; r < run.len;) {
        int64_t seg_end = r < run.lo ? run.lo : r < run.hi ? run.hi : run.len;
        int64_t len = seg_end - r;
        if (len > nr - lane) len = nr - lane;
        float *d = dp + lane;
        if (r < run.lo || r >= run.hi) memset(d, 0, (size_t)len * sizeof *d);
        else if (s == 1) memcpy(d, ic->x + run.src + r, (size_t)len * sizeof *d);
        else
          for (int64_t e = 0; e < len; e++) d[e] = ic->x[run.src + (r + e) * s];
        r += len;
        lane += len;
        if (lane == nr) {
          lane = 0;
          dp += panel;
        }
      }
      j += run.len;
    }
    if (lane) memset(dp + lane, 0, (size_t)(nr - lane) * sizeof *dp);
  }
}

/* ---- float Conv ----------------------------------------------------------- */

typedef struct conv_job {
  const cpu_sgemm_isa *isa;
  const conv_state *st;
  const onyx_conv_geom *geo;
  const float *x, *w, *bias;
  float *y;
  int64_t c, m, cg, mg, kg, out_sp;
  bool pointwise;
  cpu_im2col col;                  /* the input's layout */
  float *ws;
  size_t wsf;
  cpu_sgemm_epilogue_fn ep;        /* fused kernels' epilogue, or NULL */
  void *ep_arg;
} conv_job;

/* GEMM arguments of task (image, group); ic must outlive the GEMM */
static void conv_task_args(const conv_job *j, int64_t task, cpu_sgemm_args *g, im2col_ctx *ic) {
  int64_t img = task / j->geo->group, gi = task % j->geo->group;
  const float *xg = j->x + (img * j->c + gi * j->cg) * j->col.in_sp;
  memset(g, 0, sizeof *g);
  g->m = j->mg;
  g->n = j->out_sp;
  g->k = j->kg;
  g->alpha = 1.0f;
  if (j->st && j->st->pw) g->a.packed = j->st->pw[gi];
  else {
    g->a.data = j->w + gi * j->mg * j->kg;
    g->a.ld = j->kg;
  }
  if (j->pointwise) {
    g->b.data = xg;
    g->b.ld = j->col.in_sp;
  } else {
    ic->x = xg;
    ic->col = &j->col;
    g->b.pack = im2col_pack;
    g->b.pack_ctx = ic;
  }
  g->c = j->y + (img * j->m + gi * j->mg) * j->out_sp;
  g->ldc = j->out_sp;
  g->bias_row = j->bias ? j->bias + gi * j->mg : NULL;
  g->epilogue = j->ep;
  g->epilogue_arg = j->ep_arg;
}

static void conv_tasks_run(void *arg, size_t begin, size_t end, int tid) {
  const conv_job *j = arg;
  for (size_t t = begin; t < end; t++) {
    cpu_sgemm_args g;
    im2col_ctx ic;
    conv_task_args(j, (int64_t)t, &g, &ic);
    cpu_sgemm_block(j->isa, &g, 0, g.m, 0, g.n, j->ws + (size_t)tid * j->wsf);
  }
}

/* ---- depthwise (one channel per group), 1-D and 2-D --------------------------- */

typedef struct dw_job {
  const onyx_conv_geom *geo;
  const float *x, *w, *bias;
  float *y;
  int64_t ch;                      /* channels (= groups) */
  int64_t h, wd, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
  int64_t hp, wp;                  /* padded plane */
  bool padded;
  bool avx2;                       /* row kernel: cpu_dwconv_row_f32__avx2 */
  float *ws;                       /* per thread: hp * wp floats */
  cpu_sgemm_epilogue_fn ep;        /* run on each finished plane, or NULL */
  void *ep_arg;
} dw_job;

static void dw_run(void *arg, size_t begin, size_t end, int tid) {
  const dw_job *j = arg;
  for (size_t t = begin; t < end; t++) {
    int64_t c = (int64_t)t % j->ch;
    const float *xp = j->x + (int64_t)t * j->h * j->wd;
    if (j->padded) {
      float *pp = j->ws + (size_t)tid * (size_t)(j->hp * j->wp);
      /* padded row rr holds input row rr - ph at columns [pw, pw + wd), clipped */
      int64_t q0 = j->pw, q1 = j->pw + j->wd < j->wp ? j->pw + j->wd : j->wp;
      for (int64_t rr = 0; rr < j->hp; rr++) {
        float *d = pp + rr * j->wp;
        int64_t r = rr - j->ph;
        if (r < 0 || r >= j->h || q1 <= q0) {
          memset(d, 0, (size_t)j->wp * sizeof *d);
          continue;
        }
        memset(d, 0, (size_t)q0 * sizeof *d);
        memcpy(d + q0, xp + r * j->wd, (size_t)(q1 - q0) * sizeof *d);
        memset(d + q1, 0, (size_t)(j->wp - q1) * sizeof *d);
      }
      xp = pp;
    }
    const float *wc = j->w + c * j->kh * j->kw;
    float b = j->bias ? j->bias[c] : 0.0f;
    float *yp = j->y + (int64_t)t * j->oh * j->ow;
    for (int64_t r = 0; r < j->oh; r++) {
      float *yr = yp + r * j->ow;
#if defined(__x86_64__)
      if (j->avx2) {
        cpu_dwconv_row_f32__avx2(xp + r * j->sh * j->wp, j->wp, wc, j->kh, j->kw, j->dh, j->dw,
                                 j->sw, b, yr, j->ow);
        continue;
      }
#endif
      for (int64_t q = 0; q < j->ow; q++) yr[q] = b;
      for (int64_t a = 0; a < j->kh; a++) {
        const float *xr = xp + (r * j->sh + a * j->dh) * j->wp;
        for (int64_t e = 0; e < j->kw; e++) {
          float wv = wc[a * j->kw + e];
          const float *xs = xr + e * j->dw;
          if (j->sw == 1)
            for (int64_t q = 0; q < j->ow; q++) yr[q] += wv * xs[q];
          else
            for (int64_t q = 0; q < j->ow; q++) yr[q] += wv * xs[q * j->sw];
        }
      }
    }
    if (j->ep) j->ep(j->ep_arg, yp, j->ow, 0, 0, j->oh, j->ow);
  }
}

static onyx_status *depthwise(const onyx_kernel_ctx *c, const onyx_conv_geom *g, int64_t images,
                              cpu_sgemm_epilogue_fn ep, void *ep_arg) {
  const onyx_tensor *x = c->in[0];
  bool two = g->nsp == 2;
  dw_job j = {g, x->data, c->in[1]->data, NULL, c->out[0]->data, x->dims[1],
              two ? g->in[0] : 1, g->in[g->nsp - 1], two ? g->out[0] : 1, g->out[g->nsp - 1],
              two ? g->kernel[0] : 1, g->kernel[g->nsp - 1], two ? g->stride[0] : 1,
              g->stride[g->nsp - 1], two ? g->dilation[0] : 1, g->dilation[g->nsp - 1],
              two ? g->pad_begin[0] : 0, g->pad_begin[g->nsp - 1], 0, 0, false, false, NULL, ep, ep_arg};
  j.avx2 = onyx_cpu()->avx2 && onyx_cpu()->fma;
  if (c->n_in > 2 && c->in[2]) j.bias = c->in[2]->data;
  /* the rows and columns the windows reach, padding included */
  j.hp = (j.oh - 1) * j.sh + (j.kh - 1) * j.dh + 1;
  j.wp = (j.ow - 1) * j.sw + (j.kw - 1) * j.dw + 1;
  j.padded = j.ph != 0 || j.pw != 0 || j.hp > j.h || j.wp > j.wd;
  if (!j.padded) j.wp = j.wd;
  size_t planes = (size_t)(images * j.ch);
  int nt = cpu_sgemm_threads(c->pool, (double)planes * (double)(j.oh * j.ow * j.kh * j.kw));
  if (j.padded) {
    j.ws = onyx_malloc_aligned((size_t)nt * (size_t)(j.hp * j.wp) * sizeof(float));
    if (!j.ws) return onyx_error_oom();
  }
  onyx_threadpool pool = {nt};
  onyx_parallel_for(&pool, planes, 1, dw_run, &j);
  onyx_free_aligned(j.ws);
  return NULL;
}

static onyx_status *conv_geometry_of(const onyx_kernel_ctx *c, bool transpose, onyx_conv_geom *g) {
  const onyx_tensor *x = c->in[0], *w = c->in[1];
  if (x->rank != w->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input rank %d and weight rank %d differ",
                           x->rank, w->rank);
  return onyx_conv_geometry(c->node, transpose, x->rank, x->dims, w->dims, g);
}

static onyx_status *check_bias(const onyx_kernel_ctx *c, int64_t m) {
  const onyx_tensor *b = c->n_in > 2 ? c->in[2] : NULL;
  if (!b) return NULL;
  if (b->dtype != ONYX_DTYPE_FLOAT || onyx_numel(b->rank, b->dims) != m)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias must be %lld floats",
                           (long long)m);
  return NULL;
}

onyx_status *cpu_conv_run(onyx_kernel_ctx *c) { return cpu_conv_run_ep(c, NULL, NULL); }

onyx_status *cpu_conv_run_ep(onyx_kernel_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg) {
  const onyx_tensor *x = c->in[0], *w = c->in[1];
  onyx_tensor *y = c->out[0];
  if (x->dtype != ONYX_DTYPE_FLOAT || w->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "Conv of %s is not supported",
                           onyx_dtype_name(x->dtype));
  onyx_conv_geom geo;
  ONYX_TRY(conv_geometry_of(c, false, &geo));
  ONYX_TRY(check_bias(c, w->dims[0]));
  int64_t od[ONYX_MAX_RANK] = {x->dims[0], w->dims[0]};
  for (int i = 0; i < geo.nsp; i++) od[2 + i] = geo.out[i];
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, od));
  conv_job j = {0};
  j.st = c->state;
  j.isa = j.st ? j.st->isa : cpu_sgemm_isa_best();
  j.geo = &geo;
  j.x = x->data;
  j.w = w->data;
  j.bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
  j.y = y->data;
  j.ep = ep;
  j.ep_arg = ep_arg;
  j.c = x->dims[1];
  j.m = w->dims[0];
  j.cg = w->dims[1];
  j.mg = j.m / geo.group;
  cpu_im2col_init(&j.col, &geo);
  j.kg = j.cg * j.col.kprod;
  j.out_sp = onyx_numel(geo.nsp, geo.out);
  if (j.out_sp == 0 || x->dims[0] == 0 || j.m == 0) return NULL;
  if (j.mg == 1 && j.cg == 1 && geo.nsp <= 2) return depthwise(c, &geo, x->dims[0], ep, ep_arg);
  j.pointwise = true;
  for (int i = 0; i < geo.nsp; i++) {
    j.pointwise = j.pointwise && geo.kernel[i] == 1 && geo.stride[i] == 1 && geo.pad_begin[i] == 0 &&
                  geo.pad_end[i] == 0;
  }
  int64_t tasks = x->dims[0] * geo.group;
  int nt = c->pool ? c->pool->nthreads : 1;
  if (nt > 1 && (tasks % nt == 0 || tasks >= 4 * nt)) {
    /* enough independent GEMMs: one thread each */
    nt = cpu_sgemm_threads(c->pool, (double)tasks * (double)(j.mg * j.out_sp * j.kg));
    j.wsf = (cpu_sgemm_ws_floats(j.isa, j.mg, j.out_sp, j.kg) + 15) & ~(size_t)15;
    j.ws = onyx_malloc_aligned((size_t)nt * j.wsf * sizeof(float));
    if (!j.ws) return onyx_error_oom();
    onyx_threadpool pool = {nt};
    onyx_parallel_for(&pool, (size_t)tasks, 1, conv_tasks_run, &j);
    onyx_free_aligned(j.ws);
    return NULL;
  }
  for (int64_t t = 0; t < tasks; t++) {
    cpu_sgemm_args g;
    im2col_ctx ic;
    conv_task_args(&j, t, &g, &ic);
    ONYX_TRY(cpu_sgemm(c->pool, j.isa, &g));
  }
  return NULL;
}
