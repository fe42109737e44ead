/* reduce_detection.c — cpu kernels of the detection/sampling ops:
 * NonMaxSuppression, RoiAlign and GridSample. They compute in double from
 * converted copies of their inputs: none is a hot loop in the models onyx
 * targets, and one code path per op keeps float16/float/double identical.
 * Semantics follow ONNX Runtime (NMS, RoiAlign) and PyTorch's grid_sample
 * (GridSample), which the ONNX tests were generated from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reduce_kernels.h"

/* Copies a numeric tensor into a new double buffer (caller frees). */
static onyx_status *to_f64(const onyx_node *nd, const onyx_tensor *t, const char *what, double **out) {
  if (!cpu_reduce_numeric(t->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "input '%s': dtype %s is not supported", what,
                           onyx_dtype_name(t->dtype));
  int64_t n = onyx_numel(t->rank, t->dims);
  double *d = onyx_malloc((size_t)n * sizeof *d + 1);
  if (!d) return onyx_error_oom();
  cpu_reduce_load_f64(t->dtype, t->data, n, d);
  *out = d;
  return NULL;
}

/* ---- NonMaxSuppression ------------------------------------------------------------ */

typedef struct scored {
  double score;
  int64_t index;
} scored;

static int by_score(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Corners (y1, x1, y2, x2) with y1 <= y2, x1 <= x2 of box b. */
static void corners(const double *b, bool center, double *c) {
  if (center) {
    c[0] = b[1] - b[3] / 2;
    c[2] = b[1] + b[3] / 2;
    c[1] = b[0] - b[2] / 2;
    c[3] = b[0] + b[2] / 2;
  } else {
    c[0] = fmin(b[0], b[2]);
    c[2] = fmax(b[0], b[2]);
    c[1] = fmin(b[1], b[3]);
    c[3] = fmax(b[1], b[3]);
  }
}

static bool suppresses(const double *a, const double *b, double thr) {
  double ih = fmin(a[2], b[2]) - fmax(a[0], b[0]), iw = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  if (ih <= 0 || iw <= 0) return false;
  double area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
  if (area_a <= 0 || area_b <= 0) return false;
  double inter = ih * iw;
  return inter / (area_a + area_b - inter) > thr;
}

onyx_status *cpu_nms_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *boxes = c->in[0], *scores = c->in[1];
  if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 || scores->dims[0] != boxes->dims[0] ||
      scores->dims[2] != boxes->dims[1])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT,
                           "'boxes' must be [batches, boxes, 4] and 'scores' [batches, classes, boxes]");
  int64_t max_out = c->n_in > 2 && c->in[2] && onyx_tensor_nbytes(c->in[2]) ? onyx_tensor_get_i64(c->in[2], 0) : 0;
  double iou = c->n_in > 3 && c->in[3] && onyx_tensor_nbytes(c->in[3]) ? onyx_tensor_get_f64(c->in[3], 0) : 0;
  bool has_thr = c->n_in > 4 && c->in[4] && onyx_tensor_nbytes(c->in[4]);
  double thr = has_thr ? onyx_tensor_get_f64(c->in[4], 0) : 0;
  bool center = onyx_attr_int(nd, "center_point_box", 0) != 0;
  int64_t nb = boxes->dims[0], nbox = boxes->dims[1], ncls = scores->dims[1];
  double *bx = NULL, *sc = NULL, *cn = NULL;
  scored *cand = NULL;
  int64_t *sel = NULL, *picked = NULL, nsel = 0, cap = 0;
  onyx_status *s = NULL;
  if ((s = to_f64(nd, boxes, "boxes", &bx)) || (s = to_f64(nd, scores, "scores", &sc))) goto done;
  cn = onyx_malloc((size_t)(nbox * 4) * sizeof *cn + 1);
  cand = onyx_malloc((size_t)nbox * sizeof *cand + 1);
  picked = onyx_malloc((size_t)nbox * sizeof *picked + 1);
  if (!cn || !cand || !picked) {
    s = onyx_error_oom();
    goto done;
  }
  for (int64_t b = 0; b < nb; b++) {
    for (int64_t i = 0; i < nbox; i++) corners(bx + (b * nbox + i) * 4, center, cn + i * 4);
    for (int64_t k = 0; k < ncls; k++) {
      const double *srow = sc + (b * ncls + k) * nbox;
      int64_t nc = 0, np = 0;
      for (int64_t i = 0; i < nbox; i++)
        if (!has_thr || srow[i] > thr) cand[nc++] = (scored){srow[i], i};
      qsort(cand, (size_t)nc, sizeof *cand, by_score);
      for (int64_t i = 0; i < nc && np < max_out; i++) {
        bool keep = true;
        for (int64_t p = 0; p < np && keep; p++)
          keep = !suppresses(cn + picked[p] * 4, cn + cand[i].index * 4, iou);
        if (!keep) continue;
        picked[np++] = cand[i].index;
        if (nsel == cap) {
          cap = cap ? 2 * cap : 64;
          int64_t *g = onyx_realloc(sel, (size_t)cap * 3 * sizeof *g);
          if (!g) {
            s = onyx_error_oom();
            goto done;
          }
          sel = g;
        }
        sel[nsel * 3] = b;
        sel[nsel * 3 + 1] = k;
        sel[nsel * 3 + 2] = cand[i].index;
        nsel++;
      }
    }
  }
  int64_t od[2] = {nsel, 3};
  onyx_tensor *y = c->out[0];
  if (y->data && y->dims[0] != nsel) {
    s = onyx_node_error(nd, ONYX_ERR_RUNTIME, "output was preallocated with the wrong size");
    goto done;
  }
  if ((s = cpu_reduce_ensure(y, 2, od))) goto done;
  if (nsel) memcpy(y->data, sel, (size_t)nsel * 3 * sizeof *sel);
done:
  onyx_free(bx);
  onyx_free(sc);
  onyx_free(cn);
  onyx_free(cand);
  onyx_free(picked);
  onyx_free(sel);
  return s;
}

/* ---- RoiAlign --------------------------------------------------------------------- */

typedef struct sample {
  int64_t pos[4];
  double w[4];
} sample;

/* Bilinear taps of point (y, x) in an h x w map, ONNX Runtime's rules. */
static sample bilinear_taps(double y, double x, int64_t h, int64_t w) {
  sample s = {{0, 0, 0, 0}, {0, 0, 0, 0}};
  if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w)) return s;  /* NaN too */
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
  if (yl >= h - 1) {
    yh = yl = h - 1;
    y = (double)yl;
  } else {
    yh = yl + 1;
  }
  if (xl >= w - 1) {
    xh = xl = w - 1;
    x = (double)xl;
  } else {
    xh = xl + 1;
  }
  double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = yl * w + xl;
  s.pos[1] = yl * w + xh;
  s.pos[2] = yh * w + xl;
  s.pos[3] = yh * w + xh;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

onyx_status *cpu_roialign_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
  if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || !bi ||
      onyx_numel(bi->rank, bi->dims) != rois->dims[0])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT,
                           "expected X [N,C,H,W], rois [R,4] and batch_indices [R]");
  const char *mode = onyx_attr_string(nd, "mode", "avg");
  bool is_max = !strcmp(mode, "max");
  if (!is_max && strcmp(mode, "avg"))
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "unknown mode '%s'", mode);
  /* opset 10 had no attribute and behaved as output_half_pixel */
  const char *ctm = onyx_attr_string(nd, "coordinate_transformation_mode",
                                     nd->opset >= 16 ? "half_pixel" : "output_half_pixel");
  bool half = !strcmp(ctm, "half_pixel");
  if (!half && strcmp(ctm, "output_half_pixel"))
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "unknown coordinate_transformation_mode '%s'", ctm);
  int64_t ph_n = onyx_attr_int(nd, "output_height", 1), pw_n = onyx_attr_int(nd, "output_width", 1);
  int64_t ratio = onyx_attr_int(nd, "sampling_ratio", 0);
  double scale = onyx_attr_float(nd, "spatial_scale", 1.0f);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
  int64_t od[4] = {R, C, ph_n, pw_n};
  ONYX_TRY(cpu_reduce_ensure(c->out[0], 4, od));
  double *xd = NULL, *rd = NULL, *yd = NULL;
  sample *smp = NULL;
  onyx_status *s = NULL;
  if ((s = to_f64(nd, x, "X", &xd)) || (s = to_f64(nd, rois, "rois", &rd))) goto done;
  yd = onyx_malloc((size_t)(R * C * ph_n * pw_n) * sizeof *yd + 1);
  if (!yd) {
    s = onyx_error_oom();
    goto done;
  }
  for (int64_t r = 0; r < R; r++) {
    int64_t b = onyx_tensor_get_i64(bi, r);
    if (b < 0 || b >= N) {
      s = onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "batch index %lld out of range", (long long)b);
      goto done;
    }
    double off = half ? 0.5 : 0.0;
    double x0 = rd[r * 4] * scale - off, y0 = rd[r * 4 + 1] * scale - off;
    double x1 = rd[r * 4 + 2] * scale - off, y1 = rd[r * 4 + 3] * scale - off;
    double rw = x1 - x0, rh = y1 - y0;
    if (!isfinite(rw) || !isfinite(rh) || !isfinite(x0) || !isfinite(y0)) {
      s = onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "roi %lld is not finite", (long long)r);
      goto done;
    }
    if (!half) {
      rw = fmax(rw, 1.0);
      rh = fmax(rh, 1.0);
    }
    double bh = rh / (double)ph_n, bw = rw / (double)pw_n;
    int64_t gh = ratio > 0 ? ratio : (int64_t)ceil(rh / (double)ph_n);
    int64_t gw = ratio > 0 ? ratio : (int64_t)ceil(rw / (double)pw_n);
    if (gh < 0) gh = 0;
    if (gw < 0) gw = 0;
    double count = (double)(gh * gw > 1 ? gh * gw : 1);
    sample *ns = onyx_realloc(smp, (size_t)(ph_n * pw_n * gh * gw) * sizeof *smp + 1);
    if (!ns) {
      s = onyx_error_oom();
      goto done;
    }
    smp = ns;
    sample *sp = smp;
    for (int64_t ph = 0; ph < ph_n; ph++)
      for (int64_t pw = 0; pw < pw_n; pw++)
        for (int64_t iy = 0; iy < gh; iy++)
          for (int64_t ix = 0; ix < gw; ix++)
            *sp++ = bilinear_taps(y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh,
                                  x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, H, W);
    for (int64_t ch = 0; ch < C; ch++) {
      const double *img = xd + (b * C + ch) * H * W;
      double *out = yd + (r * C + ch) * ph_n * pw_n;
      sp = smp;
      for (int64_t p = 0; p < ph_n * pw_n; p++) {
        double acc = 0;
        for (int64_t k = 0; k < gh * gw; k++, sp++) {
          if (is_max) {
            double v = fmax(fmax(sp->w[0] * img[sp->pos[0]], sp->w[1] * img[sp->pos[1]]),
                            fmax(sp->w[2] * img[sp->pos[2]], sp->w[3] * img[sp->pos[3]]));
            acc = k == 0 ? v : fmax(acc, v);
          } else {
            acc += sp->w[0] * img[sp->pos[0]] + sp->w[1] * img[sp->pos[1]] + sp->w[2] * img[sp->pos[2]] +
                   sp->w[3] * img[sp->pos[3]];
          }
        }
        out[p] = is_max ? acc : acc / count;
      }
    }
  }
  if (!cpu_reduce_store_f64(c->out[0]->dtype, yd, R * C * ph_n * pw_n, c->out[0]->data))
    s = onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "output dtype not supported");
done:
  onyx_free(xd);
  onyx_free(rd);
  onyx_free(yd);
  onyx_free(smp);
  return s;
}

/* ---- GridSample ------------------------------------------------------------------- */

enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

static double reflect(double v, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
  v = fabs(v - lo);
  double extra = fmod(v, span);
  bool even = fmod(floor(v / span), 2.0) == 0;
  return even ? extra + lo : span - extra + lo;
}

/* Applies the padding mode to a source coordinate (PyTorch's compute_coordinates). */
static double pad_coord(double v, int64_t size, int pad, bool align) {
  if (pad == GS_BORDER) {
    v = fmin(fmax(v, 0), (double)(size - 1));
  } else if (pad == GS_REFLECTION) {
    v = align ? reflect(v, 0, 2.0 * (double)(size - 1)) : reflect(v, -1, 2.0 * (double)size - 1);
    v = fmin(fmax(v, 0), (double)(size - 1));
  }
  return v;
}

static double cubic1(double t) { return ((1.25 * t - 2.25) * t) * t + 1; }                 /* A = -0.75 */
static double cubic2(double t) { return ((-0.75 * t + 3.75) * t - 6) * t + 3; }

typedef struct gsjob {
  const double *x, *grid;
  double *y;
  int k;                        /* spatial dims */
  int64_t C, in_sp[ONYX_MAX_RANK], out_sp, in_n;
  int mode, pad;
  bool align;
} gsjob;

static void gs_fn(void *arg, size_t u0, size_t u1, int tid) {
  (void)tid;
  const gsjob *j = arg;
  for (size_t u = u0; u < u1; u++) {
    int64_t n = (int64_t)u / j->out_sp, o = (int64_t)u % j->out_sp;
    const double *g = j->grid + (size_t)u * (size_t)j->k;
    int64_t tidx[ONYX_MAX_RANK][4];
    double tw[ONYX_MAX_RANK][4];
    int nt[ONYX_MAX_RANK];
    for (int d = 0; d < j->k; d++) {
      int64_t size = j->in_sp[d];
      double gv = g[j->k - 1 - d];  /* grid's last axis lists x (innermost dim) first */
      double v = j->align ? (gv + 1) / 2 * (double)(size - 1) : ((gv + 1) * (double)size - 1) / 2;
      if (j->mode != GS_CUBIC) v = pad_coord(v, size, j->pad, j->align);
      /* keeps the integer casts below defined for huge or NaN coordinates */
      if (!(v >= -1e9)) v = -1e9;
      if (v > 1e9) v = 1e9;
      if (j->mode == GS_NEAREST) {
        nt[d] = 1;
        tidx[d][0] = (int64_t)nearbyint(v);
        tw[d][0] = 1;
      } else if (j->mode == GS_LINEAR) {
        double f = floor(v), t = v - f;
        nt[d] = 2;
        tidx[d][0] = (int64_t)f;
        tidx[d][1] = (int64_t)f + 1;
        tw[d][0] = 1 - t;
        tw[d][1] = t;
      } else {
        double f = floor(v), t = v - f;
        nt[d] = 4;
        tw[d][0] = cubic2(t + 1);
        tw[d][1] = cubic1(t);
        tw[d][2] = cubic1(1 - t);
        tw[d][3] = cubic2(2 - t);
        for (int q = 0; q < 4; q++) tidx[d][q] = (int64_t)pad_coord(f - 1 + q, size, j->pad, j->align);
      }
    }
    /* combine the taps of all dims; out-of-range taps read zero */
    int64_t off[256];
    double w[256];
    int ncomb = 0, q[ONYX_MAX_RANK] = {0};
    for (;;) {
      int64_t of = 0;
      double wt = 1;
      bool in = true;
      for (int d = 0; d < j->k; d++) {
        int64_t i = tidx[d][q[d]];
        if (i < 0 || i >= j->in_sp[d]) in = false;
        of = of * j->in_sp[d] + i;
        wt *= tw[d][q[d]];
      }
      if (in) {
        off[ncomb] = of;
        w[ncomb++] = wt;
      }
      int d = j->k - 1;
      while (d >= 0 && ++q[d] == nt[d]) q[d--] = 0;
      if (d < 0) break;
    }
    for (int64_t ch = 0; ch < j->C; ch++) {
      const double *img = j->x + (n * j->C + ch) * j->in_n;
      double acc = 0;
      for (int t = 0; t < ncomb; t++) acc += w[t] * img[off[t]];
      j->y[(n * j->C + ch) * j->out_sp + o] = acc;
    }
  }
}

onyx_status *cpu_gridsample_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0], *grid = c->in[1];
  int k = x->rank - 2;
  if (k < 1 || grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[x->rank - 1] != k)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "expected X [N,C,D...] and grid [N,D_out...,%d]", k);
  const char *m = onyx_attr_string(nd, "mode", nd->opset >= 20 ? "linear" : "bilinear");
  const char *p = onyx_attr_string(nd, "padding_mode", "zeros");
  gsjob j = {0};
  if (!strcmp(m, "nearest")) j.mode = GS_NEAREST;
  else if (!strcmp(m, "bilinear") || !strcmp(m, "linear")) j.mode = GS_LINEAR;
  else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic")) j.mode = GS_CUBIC;
  else return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "unknown mode '%s'", m);
  if (!strcmp(p, "zeros")) j.pad = GS_ZEROS;
  else if (!strcmp(p, "border")) j.pad = GS_BORDER;
  else if (!strcmp(p, "reflection")) j.pad = GS_REFLECTION;
  else return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "unknown padding_mode '%s'", p);
  if ((j.mode == GS_CUBIC && k > 4) || (j.mode == GS_LINEAR && k > 8))  /* taps must fit off[256] */
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "mode '%s' with %d spatial dims", m, k);
  j.align = onyx_attr_int(nd, "align_corners", 0) != 0;
  j.k = k;
  j.C = x->dims[1];
  memcpy(j.in_sp, x->dims + 2, (size_t)k * sizeof *j.in_sp);
  j.in_n = onyx_numel(k, x->dims + 2);
  j.out_sp = onyx_numel(k, grid->dims + 1);
  int64_t od[ONYX_MAX_RANK];
  od[0] = x->dims[0];
  od[1] = x->dims[1];
  memcpy(od + 2, grid->dims + 1, (size_t)k * sizeof *od);
  ONYX_TRY(cpu_reduce_ensure(c->out[0], x->rank, od));
  double *xd = NULL, *gd = NULL, *yd = NULL;
  onyx_status *s = NULL;
  int64_t ny = onyx_numel(x->rank, od);
  if ((s = to_f64(nd, x, "X", &xd)) || (s = to_f64(nd, grid, "grid", &gd))) goto done;
  yd = onyx_malloc((size_t)ny * sizeof *yd + 1);
  if (!yd) {
    s = onyx_error_oom();
    goto done;
  }
  j.x = xd;
  j.grid = gd;
  j.y = yd;
  int64_t work = j.C * (j.mode == GS_CUBIC ? 16 : 4) + 8;
  onyx_parallel_for(c->pool, (size_t)(x->dims[0] * j.out_sp), (size_t)(4096 / work + 1), gs_fn, &j);
  if (!cpu_reduce_store_f64(c->out[0]->dtype, yd, ny, c->out[0]->data))
    s = onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "output dtype not supported");
done:
  onyx_free(xd);
  onyx_free(gd);
  onyx_free(yd);
  return s;
}
