/* resize.c — cpu kernel for Resize (opsets 10-19) and Upsample (7, 9).
 *
 * Interpolation is separable, so each dim gets a table of taps: for every
 * output index, the input indices it reads (clamped, i.e. edge-padded as
 * ONNX's reference does) and their weights. The tables follow the ONNX
 * reference exactly: the source coordinate per coordinate_transformation_mode,
 * then neighbours x_int + i with ratio in (0, 1] (an integer coordinate uses
 * x - 1 with ratio 1), weights from the nearest / linear / cubic kernel —
 * stretched by the scale when antialiasing a downsample — zeroed outside the
 * input with exclude_outside and renormalised. Output values are then sums
 * over the product of the per-dim taps. Nearest moves raw elements (any
 * dtype); linear and cubic compute in float. */
#include <math.h>
#include <string.h>

#include "base/half.h"
#include "ops/tensor_params.h"
#include "tensor_kernels.h"

typedef struct axis_taps {
  int n;            /* taps per output index */
  int64_t *off;     /* [out * n]: input offset in elements (index * stride) */
  float *w;         /* [out * n] */
  bool *outside;    /* [out]: tf_crop_and_resize extrapolates here */
} axis_taps;

static double source_coord(const onyx_resize_plan *p, int d, int64_t x, int64_t in, int64_t out) {
  double s = p->scale[d], out_f = s * (double)in, xd = (double)x;
  switch (p->coord) {
    case ONYX_COORD_HALF_PIXEL: return (xd + 0.5) / s - 0.5;
    case ONYX_COORD_HALF_PIXEL_SYMMETRIC: {
      double adj = (double)out / out_f, center = (double)in / 2.0;
      return center * (1.0 - adj) + (xd + 0.5) / s - 0.5;
    }
    case ONYX_COORD_PYTORCH_HALF_PIXEL: return out > 1 ? (xd + 0.5) / s - 0.5 : 0.0;
    case ONYX_COORD_ALIGN_CORNERS: return out_f == 1.0 ? 0.0 : xd * (double)(in - 1) / (out_f - 1.0);
    case ONYX_COORD_ASYMMETRIC: return xd / s;
    case ONYX_COORD_TF_HALF_PIXEL_FOR_NN: return (xd + 0.5) / s;
    case ONYX_COORD_TF_CROP_AND_RESIZE: {
      double a = p->roi_start[d], b = p->roi_end[d];
      double r = out_f == 1.0 ? (b - a) * (double)(in - 1) / 2.0 : xd * (b - a) * (double)(in - 1) / (out_f - 1.0);
      return r + a * (double)(in - 1);
    }
  }
  return 0.0;
}

static double cubic(double x, double a) {
  x = fabs(x);
  if (x <= 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}

/* Nearest index (before clamping) for coordinate x. */
static int64_t nearest_index(const onyx_resize_plan *p, double x, bool down) {
  double f = floor(x), r = x - f;
  switch (p->nearest) {
    case ONYX_NEAREST_ROUND_PREFER_FLOOR: return (int64_t)f + (r > 0.5);
    case ONYX_NEAREST_ROUND_PREFER_CEIL: return (int64_t)f + (r >= 0.5);
    case ONYX_NEAREST_FLOOR: return (int64_t)f;
    case ONYX_NEAREST_CEIL: return (int64_t)ceil(x);
    case ONYX_NEAREST_SIMPLE: return down ? (int64_t)ceil(x) : (int64_t)f;
  }
  return (int64_t)f;
}

static int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Fills the taps of dim d (input size in, output size out, stride st). */
static void build_taps(const onyx_resize_plan *p, int d, int64_t in, int64_t out, int64_t st, axis_taps *t) {
  double s = p->scale[d];
  bool aa = p->antialias && s < 1.0 && p->mode != ONYX_RESIZE_NEAREST;
  double se = aa ? s : 1.0;
  int start = 0;
  if (p->mode == ONYX_RESIZE_LINEAR) start = aa ? (int)floor(-1.0 / se) + 1 : 0;
  if (p->mode == ONYX_RESIZE_CUBIC) start = aa ? (int)floor(-2.0 / se) + 1 : -1;
  for (int64_t o = 0; o < out; o++) {
    double x = source_coord(p, d, o, in, out);
    int64_t *off = t->off + o * t->n;
    float *w = t->w + o * t->n;
    t->outside[o] = p->coord == ONYX_COORD_TF_CROP_AND_RESIZE && (x < 0.0 || x > (double)(in - 1));
    if (p->mode == ONYX_RESIZE_NEAREST) {
      off[0] = clamp_index(nearest_index(p, x, s < 1.0), in) * st;
      w[0] = 1.0f;
      continue;
    }
    double xi = floor(x), ratio = x - xi;
    if (ratio == 0.0) {   /* the reference's convention: ratio in (0, 1] */
      xi -= 1.0;
      ratio = 1.0;
    }
    double ws[64], sum = 0.0;
    for (int i = 0; i < t->n; i++) {
      int k = start + i;
      int64_t idx = (int64_t)xi + k;
      double arg = se * ((double)k - ratio);
      double v = p->mode == ONYX_RESIZE_LINEAR ? fmax(0.0, 1.0 - fabs(arg)) : cubic(arg, p->cubic_a);
      if (p->exclude_outside && (idx < 0 || idx >= in)) v = 0.0;
      ws[i] = v;
      sum += v;
      off[i] = clamp_index(idx, in) * st;
    }
    bool norm = aa || p->exclude_outside;
    for (int i = 0; i < t->n; i++) w[i] = (float)(norm && sum != 0.0 ? ws[i] / sum : ws[i]);
  }
}

static int taps_for(const onyx_resize_plan *p, int d) {
  if (p->mode == ONYX_RESIZE_NEAREST) return 1;
  double s = p->antialias && p->scale[d] < 1.0 ? p->scale[d] : 1.0;
  int start = p->mode == ONYX_RESIZE_LINEAR ? (int)floor(-1.0 / s) + 1 : (int)floor(-2.0 / s) + 1;
  return 2 - 2 * start;
}

typedef struct resize_job {
  const onyx_resize_plan *p;
  const onyx_tensor *x;
  onyx_tensor *o;
  const float *xf;   /* input as float (linear/cubic) */
  float *of;         /* output as float (linear/cubic) */
  size_t esz;
  const char *extra; /* extrapolation value as one element of the dtype (nearest) */
  axis_taps *ax;
  int64_t *combo_off;    /* per thread: max_combos entries */
  float *combo_w;
  int64_t max_combos;
} resize_job;

static void resize_rows(void *arg, size_t begin, size_t end, int tid) {
  const resize_job *j = arg;
  const onyx_tensor *o = j->o;
  int r = o->rank, last = r - 1;
  int64_t W = o->dims[last];
  const axis_taps *lt = &j->ax[last];
  int64_t *coff = j->combo_off + tid * j->max_combos;
  float *cw = j->combo_w + tid * j->max_combos;
  for (size_t row = begin; row < end; row++) {
    /* combos of the outer dims' taps for this row */
    int64_t nc = 1, rem = (int64_t)row;
    bool outside = false;
    coff[0] = 0;
    cw[0] = 1.0f;
    for (int d = last - 1; d >= 0; d--) {
      int64_t q = rem % o->dims[d];
      rem /= o->dims[d];
      const axis_taps *t = &j->ax[d];
      outside = outside || t->outside[q];
      for (int64_t c = nc - 1; c >= 0; c--)
        for (int k = t->n - 1; k >= 0; k--) {
          coff[c * t->n + k] = coff[c] + t->off[q * t->n + k];
          cw[c * t->n + k] = cw[c] * t->w[q * t->n + k];
        }
      nc *= t->n;
    }
    if (!j->of) {   /* nearest: one tap per dim, raw element moves */
      char *dst = (char *)o->data + (int64_t)row * W * (int64_t)j->esz;
      const char *src = (const char *)j->x->data + coff[0] * (int64_t)j->esz;
      for (int64_t w = 0; w < W; w++) {
        const char *from = outside || lt->outside[w] ? j->extra : src + lt->off[w] * (int64_t)j->esz;
        memcpy(dst + w * (int64_t)j->esz, from, j->esz);
      }
      continue;
    }
    float *dst = j->of + (int64_t)row * W;
    for (int64_t w = 0; w < W; w++) {
      if (outside || lt->outside[w]) {
        dst[w] = j->p->extrapolation;
        continue;
      }
      float acc = 0.0f;
      const int64_t *lo = lt->off + w * lt->n;
      const float *lw = lt->w + w * lt->n;
      for (int64_t c = 0; c < nc; c++) {
        const float *src = j->xf + coff[c];
        float part = 0.0f;
        for (int k = 0; k < lt->n; k++) part += lw[k] * src[lo[k]];
        acc += cw[c] * part;
      }
      dst[w] = acc;
    }
  }
}

static float load_f32(onyx_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: return ((const float *)p)[i];
    case ONYX_DTYPE_DOUBLE: return (float)((const double *)p)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)p)[i]);
    case ONYX_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case ONYX_DTYPE_INT8: return ((const int8_t *)p)[i];
    case ONYX_DTYPE_INT32: return (float)((const int32_t *)p)[i];
    default: return 0.0f;
  }
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void store_f32(onyx_dtype dt, void *p, int64_t i, float v) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: ((float *)p)[i] = v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_f16(v); break;
    case ONYX_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_bf16(v); break;
    case ONYX_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)clampf(nearbyintf(v), 0.0f, 255.0f); break;
    case ONYX_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)clampf(nearbyintf(v), -128.0f, 127.0f); break;
    case ONYX_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)nearbyintf(v); break;
    default: break;
  }
}

static bool interpolable(onyx_dtype dt) {
  return dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_DOUBLE || dt == ONYX_DTYPE_FLOAT16 ||
         dt == ONYX_DTYPE_BFLOAT16 || dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8 || dt == ONYX_DTYPE_INT32;
}

onyx_status *cpu_resize_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  bool modern = !strcmp(n->op_type, "Resize") && n->opset >= 11;
  const onyx_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
  if (modern) {
    roi = c->n_in > 1 ? c->in[1] : NULL;
    scales = c->n_in > 2 ? c->in[2] : NULL;
    sizes = c->n_in > 3 ? c->in[3] : NULL;
  } else {
    scales = c->n_in > 1 ? c->in[1] : NULL;
  }
  onyx_resize_plan p;
  ONYX_TRY(onyx_resize_resolve(n, x->rank, x->dims, roi, scales, sizes, &p));
  size_t esz;
  ONYX_TRY(cpu_elem_size(n, x->dtype, &esz));
  bool nearest = p.mode == ONYX_RESIZE_NEAREST;
  if (!nearest && !interpolable(x->dtype))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s interpolation of %s is not supported",
                           p.mode == ONYX_RESIZE_LINEAR ? "linear" : "cubic", onyx_dtype_name(x->dtype));
  if (x->rank == 0 || onyx_numel(o->rank, o->dims) == 0) return cpu_strings_own(o);
  int r = x->rank;
  int64_t xs[ONYX_MAX_RANK], entries = 0, max_combos = 1;
  cpu_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    if (x->dims[d] == 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "cannot resize an empty dim %d", d);
    int k = taps_for(&p, d);
    if (k > 64) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "downscale factor on dim %d is too large", d);
    entries += o->dims[d] * k;
    if (d < r - 1) max_combos *= k;
  }
  int nt = c->pool ? c->pool->nthreads : 1;
  axis_taps ax[ONYX_MAX_RANK];
  resize_job j = {&p, x, o, NULL, NULL, esz, NULL, ax, NULL, NULL, max_combos};
  onyx_status *s = NULL;
  int64_t total_out = o->dims[0];
  for (int d = 1; d < r; d++) total_out += o->dims[d];
  int64_t *offs = onyx_malloc((size_t)entries * sizeof *offs);
  float *ws = onyx_malloc((size_t)entries * sizeof *ws);
  bool *outside = onyx_malloc((size_t)total_out * sizeof *outside);
  j.combo_off = onyx_malloc((size_t)(max_combos * nt) * sizeof *j.combo_off);
  j.combo_w = onyx_malloc((size_t)(max_combos * nt) * sizeof *j.combo_w);
  float *xf = NULL, *of = NULL;
  int64_t nx = onyx_numel(r, x->dims), no = onyx_numel(o->rank, o->dims);
  if (!nearest && x->dtype != ONYX_DTYPE_FLOAT) {
    xf = onyx_malloc((size_t)nx * sizeof *xf);
    of = onyx_malloc((size_t)no * sizeof *of);
  }
  if (!offs || !ws || !outside || !j.combo_off || !j.combo_w || (!nearest && x->dtype != ONYX_DTYPE_FLOAT && (!xf || !of))) {
    s = onyx_error_oom();
    goto done;
  }
  int64_t eo = 0, oo = 0;
  for (int d = 0; d < r; d++) {
    ax[d].n = taps_for(&p, d);
    ax[d].off = offs + eo;
    ax[d].w = ws + eo;
    ax[d].outside = outside + oo;
    eo += o->dims[d] * ax[d].n;
    oo += o->dims[d];
    build_taps(&p, d, x->dims[d], o->dims[d], xs[d], &ax[d]);
  }
  char extra[16] = {0};
  if (nearest) {
    if (interpolable(x->dtype)) store_f32(x->dtype, extra, 0, p.extrapolation);
    j.extra = extra;
  } else if (x->dtype == ONYX_DTYPE_FLOAT) {
    j.xf = x->data;
    j.of = o->data;
  } else {
    for (int64_t i = 0; i < nx; i++) xf[i] = load_f32(x->dtype, x->data, i);
    j.xf = xf;
    j.of = of;
  }
  int64_t rows = onyx_numel(r - 1, o->dims), w = o->dims[r - 1];
  onyx_parallel_for(c->pool, (size_t)rows, (size_t)(4096 / (w * max_combos) + 1), resize_rows, &j);
  if (of)
    for (int64_t i = 0; i < no; i++) store_f32(x->dtype, o->data, i, of[i]);
  s = cpu_strings_own(o);
done:
  onyx_free(offs);
  onyx_free(ws);
  onyx_free(outside);
  onyx_free(j.combo_off);
  onyx_free(j.combo_w);
  onyx_free(xf);
  onyx_free(of);
  return s;
}
