/* infer_linalg.c — shape/type inference for the linalg family (MatMul,
 * MatMulInteger, Gemm, Conv, ConvInteger, ConvTranspose) and the convolution
 * geometry (pads, auto_pad, output sizes) that the cpu kernels reuse.
 * Unknown and symbolic dims pass through where the output copies them (the
 * batch dim) and become unknown where arithmetic would be needed. */
#include <string.h>

#include "ops/linalg.h"

static bool known(int64_t d) { return d >= 0; }

/* two dims that must agree (K of a product, channels) */
static onyx_status *check_same(const onyx_node *n, const char *what, int64_t a, int64_t b) {
  if (known(a) && known(b) && a != b)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s mismatch: %lld vs %lld", what,
                           (long long)a, (long long)b);
  return NULL;
}

/* ---- MatMul, MatMulInteger (numpy matmul semantics) ---------------------- */

static onyx_status *matmul_shape(onyx_infer_ctx *c, onyx_dtype out_dtype) {
  const onyx_vinfo *a = &c->in[0], *b = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = out_dtype;
  if (a->rank < 0 || b->rank < 0) return NULL;
  if (a->rank == 0 || b->rank == 0)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "MatMul operands must have rank >= 1");
  /* 1-D operands: A gets a leading 1, B a trailing 1, both removed after */
  int64_t ad[ONYX_MAX_RANK + 1], bd[ONYX_MAX_RANK + 1];
  int ra = a->rank, rb = b->rank;
  if (ra == 1) {
    ad[0] = 1;
    ad[1] = a->dims[0];
    ra = 2;
  } else memcpy(ad, a->dims, (size_t)ra * sizeof *ad);
  if (rb == 1) {
    bd[0] = b->dims[0];
    bd[1] = 1;
    rb = 2;
  } else memcpy(bd, b->dims, (size_t)rb * sizeof *bd);
  ONYX_TRY(check_same(c->node, "inner dimension (K)", ad[ra - 1], bd[rb - 2]));
  int r;
  int64_t dims[ONYX_MAX_RANK];
  ONYX_TRY(onyx_broadcast_shape(c->node, ra - 2, ad, rb - 2, bd, &r, dims));
  if (a->rank > 1) dims[r++] = ad[ra - 2];
  if (b->rank > 1) dims[r++] = bd[rb - 1];
  o->rank = r;
  memcpy(o->dims, dims, (size_t)r * sizeof *dims);
  return NULL;
}

onyx_status *onyx_infer_matmul(onyx_infer_ctx *c) { return matmul_shape(c, c->in[0].dtype); }

onyx_status *onyx_infer_matmul_integer(onyx_infer_ctx *c) {
  return matmul_shape(c, ONYX_DTYPE_INT32);
}

/* ---- Gemm ---------------------------------------------------------------- */

onyx_status *onyx_infer_gemm(onyx_infer_ctx *c) {
  const onyx_vinfo *a = &c->in[0], *b = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = a->dtype;
  if (a->rank < 0 || b->rank < 0) return NULL;
  if (a->rank != 2 || b->rank != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "A and B must be 2-D, got ranks %d and %d",
                           a->rank, b->rank);
  bool ta = onyx_attr_int(c->node, "transA", 0) != 0, tb = onyx_attr_int(c->node, "transB", 0) != 0;
  ONYX_TRY(check_same(c->node, "inner dimension (K)", a->dims[ta ? 0 : 1], b->dims[tb ? 1 : 0]));
  o->rank = 2;
  o->dims[0] = a->dims[ta ? 1 : 0];
  o->dims[1] = b->dims[tb ? 0 : 1];
  /* C must broadcast to [M, N] (one direction only) */
  if (c->node->n_in > 2 && c->in[2].rank >= 0) {
    const onyx_vinfo *cc = &c->in[2];
    if (cc->rank > 2)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "C has rank %d, expected <= 2", cc->rank);
    for (int i = 0; i < cc->rank; i++) {
      int64_t d = cc->dims[i], od = o->dims[2 - cc->rank + i];
      if (known(d) && known(od) && d != 1 && d != od)
        return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                               "C dim %d is %lld, cannot broadcast to %lld", i, (long long)d,
                               (long long)od);
    }
  }
  return NULL;
}

/* ---- convolution geometry -------------------------------------------------- */

/* reads an INTS attribute of nsp values (or default), checking its length */
static onyx_status *spatial_ints(const onyx_node *n, const char *name, int nsp, int64_t def,
                                 int64_t min, int64_t *out) {
  int cnt;
  const int64_t *v;
  if (!onyx_attr_ints(n, name, &cnt, &v)) {
    for (int i = 0; i < nsp; i++) out[i] = def;
    return NULL;
  }
  if (cnt != nsp)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "attribute %s has %d values, expected %d",
                           name, cnt, nsp);
  for (int i = 0; i < nsp; i++) {
    if (v[i] < min)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "attribute %s[%d] = %lld is below %lld",
                             name, i, (long long)v[i], (long long)min);
    out[i] = v[i];
  }
  return NULL;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

onyx_status *onyx_conv_geometry(const onyx_node *n, bool transpose, int rank, const int64_t *x,
                                const int64_t *w, onyx_conv_geom *g) {
  memset(g, 0, sizeof *g);
  if (rank < 3 || rank > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 3 to %d", rank,
                           ONYX_MAX_RANK);
  int nsp = g->nsp = rank - 2;
  g->group = onyx_attr_int(n, "group", 1);
  if (g->group < 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "group %lld must be >= 1", (long long)g->group);
  g->in_channels = x[1] >= 0 ? x[1] : -1;
  if (transpose) {
    ONYX_TRY(check_same(n, "input channels vs weight dim 0", x[1], w[0]));
    g->out_channels = known(w[1]) ? w[1] * g->group : -1;
  } else {
    g->out_channels = known(w[0]) ? w[0] : -1;
    if (known(x[1]) && known(w[1]) && x[1] != w[1] * g->group)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                             "input has %lld channels, weight expects %lld x group %lld",
                             (long long)x[1], (long long)w[1], (long long)g->group);
    if (known(w[0]) && w[0] % g->group)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%lld output channels not divisible by group %lld",
                             (long long)w[0], (long long)g->group);
  }
  if (known(x[1]) && x[1] % g->group)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%lld input channels not divisible by group %lld",
                           (long long)x[1], (long long)g->group);
  int cnt;
  const int64_t *ks;
  if (onyx_attr_ints(n, "kernel_shape", &cnt, &ks)) {
    ONYX_TRY(spatial_ints(n, "kernel_shape", nsp, 1, 1, g->kernel));
    for (int i = 0; i < nsp; i++) ONYX_TRY(check_same(n, "kernel_shape vs weight", g->kernel[i], w[2 + i]));
  } else {
    for (int i = 0; i < nsp; i++) g->kernel[i] = known(w[2 + i]) ? w[2 + i] : -1;
  }
  ONYX_TRY(spatial_ints(n, "strides", nsp, 1, 1, g->stride));
  ONYX_TRY(spatial_ints(n, "dilations", nsp, 1, 1, g->dilation));
  int64_t pads[2 * ONYX_CONV_MAX_SPATIAL];
  ONYX_TRY(spatial_ints(n, "pads", 2 * nsp, 0, 0, pads));
  if (transpose) ONYX_TRY(spatial_ints(n, "output_padding", nsp, 0, 0, g->out_pad));
  const char *ap = onyx_attr_string(n, "auto_pad", "NOTSET");
  bool same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
  bool valid = !strcmp(ap, "VALID");
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET"))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "unknown auto_pad '%s'", ap);
  int64_t oshape[ONYX_CONV_MAX_SPATIAL];
  int n_os = 0;
  const int64_t *os;
  if (transpose && onyx_attr_ints(n, "output_shape", &n_os, &os)) {
    if (n_os != nsp && n_os != nsp + 2)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output_shape has %d values, expected %d",
                             n_os, nsp);
    memcpy(oshape, os + (n_os - nsp), (size_t)nsp * sizeof *oshape);
  }
  for (int i = 0; i < nsp; i++) {
    int64_t in = x[2 + i], k = g->kernel[i], s = g->stride[i], d = g->dilation[i];
    g->in[i] = in;
    g->pad_begin[i] = pads[i];
    g->pad_end[i] = pads[nsp + i];
    g->out[i] = -1;
    if (valid) g->pad_begin[i] = g->pad_end[i] = 0;
    if (!known(in) || !known(k)) continue;
    int64_t ext = (k - 1) * d + 1; /* dilated kernel extent */
    if (!transpose) {
      if (same_upper || same_lower) {
        int64_t out = (in + s - 1) / s;
        int64_t total = (out - 1) * s + ext - in;
        if (total < 0) total = 0;
        g->pad_begin[i] = same_upper ? total / 2 : total - total / 2;
        g->pad_end[i] = total - g->pad_begin[i];
      }
      int64_t span = in + g->pad_begin[i] + g->pad_end[i] - ext;
      if (span < 0)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                               "spatial dim %d: kernel extent %lld exceeds padded input %lld", i,
                               (long long)ext, (long long)(in + g->pad_begin[i] + g->pad_end[i]));
      g->out[i] = span / s + 1;
    } else {
      int64_t full = s * (in - 1) + g->out_pad[i] + ext;
      if (n_os) {
        /* pads follow from the requested size; negative ones extend with zeros */
        int64_t total = full - oshape[i];
        int64_t half = floor_div(total, 2);
        g->pad_begin[i] = same_upper ? half : total - half;
        g->pad_end[i] = total - g->pad_begin[i];
      } else if (same_upper || same_lower) {
        int64_t total = full - in * s;
        if (total < 0) total = 0;
        g->pad_begin[i] = same_upper ? total / 2 : total - total / 2;
        g->pad_end[i] = total - g->pad_begin[i];
      }
      g->out[i] = full - g->pad_begin[i] - g->pad_end[i];
      if (g->out[i] < 0)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "spatial dim %d: output size %lld < 0",
                               i, (long long)g->out[i]);
    }
  }
  return NULL;
}

/* ---- Conv, ConvInteger, ConvTranspose ---------------------------------------- */

static onyx_status *conv_shape(onyx_infer_ctx *c, bool transpose, bool has_bias, onyx_dtype dtype) {
  const onyx_vinfo *x = &c->in[0], *w = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = dtype;
  if (x->rank < 0 && w->rank < 0) return NULL;
  int rank = x->rank >= 0 ? x->rank : w->rank;
  if (x->rank >= 0 && w->rank >= 0 && x->rank != w->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input rank %d and weight rank %d differ",
                           x->rank, w->rank);
  int64_t xd[ONYX_MAX_RANK], wd[ONYX_MAX_RANK];
  for (int i = 0; i < rank && i < ONYX_MAX_RANK; i++) {
    xd[i] = x->rank >= 0 ? x->dims[i] : ONYX_DIM_UNKNOWN;
    wd[i] = w->rank >= 0 ? w->dims[i] : ONYX_DIM_UNKNOWN;
  }
  onyx_conv_geom g;
  ONYX_TRY(onyx_conv_geometry(c->node, transpose, rank, xd, wd, &g));
  o->rank = rank;
  o->dims[0] = xd[0]; /* batch: symbolic dims pass through */
  o->dims[1] = g.out_channels;
  for (int i = 0; i < g.nsp; i++) o->dims[2 + i] = g.out[i];
  if (has_bias && c->node->n_in > 2 && c->in[2].rank >= 0) {
    const onyx_vinfo *b = &c->in[2];
    if (b->rank != 1)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias has rank %d, expected 1", b->rank);
    ONYX_TRY(check_same(c->node, "bias length vs output channels", b->dims[0], g.out_channels));
  }
  return NULL;
}

onyx_status *onyx_infer_conv(onyx_infer_ctx *c) { return conv_shape(c, false, true, c->in[0].dtype); }

onyx_status *onyx_infer_conv_integer(onyx_infer_ctx *c) {
  return conv_shape(c, false, false, ONYX_DTYPE_INT32);
}

onyx_status *onyx_infer_conv_transpose(onyx_infer_ctx *c) {
  return conv_shape(c, true, true, c->in[0].dtype);
}
