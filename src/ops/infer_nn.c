/* infer_nn.c — shape and type inference for the nn op family (pooling,
 * normalization, softmax, dropout; see defs/nn.def) and the pooling window
 * geometry the cpu kernels reuse (nn_ops.h). Every function works with
 * unknown ranks and dims at load time and with fixed ones at run time. */
#include <string.h>

#include "nn_ops.h"

/* Reads an INTS attribute of exactly `count` values into out, or fills `def`
 * when it is absent. */
static onyx_status *ints_attr(const onyx_node *n, const char *name, int count, int64_t def,
                              int64_t *out) {
  int cnt;
  const int64_t *v;
  if (!onyx_attr_ints(n, name, &cnt, &v)) {
    for (int i = 0; i < count; i++) out[i] = def;
    return NULL;
  }
  if (cnt != count)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute '%s' has %d values, expected %d",
                           name, cnt, count);
  memcpy(out, v, (size_t)count * sizeof *v);
  return NULL;
}

static int64_t div_ceil(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

onyx_status *onyx_pool_geometry(const onyx_node *n, int nsp, const int64_t *in,
                                 onyx_pool_geom *g) {
  int cnt;
  const int64_t *v;
  if (!onyx_attr_ints(n, "kernel_shape", &cnt, &v))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute 'kernel_shape' is required");
  if (cnt != nsp)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                           "kernel_shape has %d values but the input has %d spatial dims", cnt, nsp);
  g->nsp = nsp;
  memcpy(g->k, v, (size_t)nsp * sizeof *v);
  memcpy(g->in, in, (size_t)nsp * sizeof *in);
  ONYX_TRY(ints_attr(n, "strides", nsp, 1, g->s));
  ONYX_TRY(ints_attr(n, "dilations", nsp, 1, g->d));
  int64_t pads[2 * ONYX_MAX_RANK];
  ONYX_TRY(ints_attr(n, "pads", 2 * nsp, 0, pads));
  const char *ap = onyx_attr_string(n, "auto_pad", "NOTSET");
  bool same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
  bool valid = !strcmp(ap, "VALID");
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") && *ap)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "auto_pad '%s' is not one of NOTSET, "
                           "SAME_UPPER, SAME_LOWER, VALID", ap);
  bool ceil_mode = onyx_attr_int(n, "ceil_mode", 0) != 0;
  for (int i = 0; i < nsp; i++) {
    if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                             "axis %d: kernel %lld, stride %lld, dilation %lld must all be >= 1", i,
                             (long long)g->k[i], (long long)g->s[i], (long long)g->d[i]);
    g->pb[i] = valid ? 0 : pads[i];
    g->pe[i] = valid ? 0 : pads[i + nsp];
    if (g->pb[i] < 0 || g->pe[i] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "negative pads on axis %d", i);
    int64_t ek = (g->k[i] - 1) * g->d[i] + 1;   /* effective (dilated) kernel extent */
    if (in[i] < 0) {
      if (same_upper || same_lower) g->pb[i] = g->pe[i] = 0;
      g->out[i] = ONYX_DIM_UNKNOWN;
      continue;
    }
    if (same_upper || same_lower) {
      g->out[i] = div_ceil(in[i], g->s[i]);
      int64_t total = (g->out[i] - 1) * g->s[i] + ek - in[i];
      if (total < 0) total = 0;
      g->pb[i] = same_upper ? total / 2 : total - total / 2;
      g->pe[i] = total - g->pb[i];
      continue;
    }
    int64_t span = in[i] + g->pb[i] + g->pe[i] - ek;
    if (span < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                             "axis %d: padded input %lld is smaller than the kernel extent %lld", i,
                             (long long)(in[i] + g->pb[i] + g->pe[i]), (long long)ek);
    g->out[i] = (ceil_mode ? div_ceil(span, g->s[i]) : div_floor(span, g->s[i])) + 1;
    /* the last window must start inside the input or the begin padding */
    if (ceil_mode && (g->out[i] - 1) * g->s[i] >= in[i] + g->pb[i]) g->out[i]--;
  }
  return NULL;
}

/* The input's rank when known, checking it is at least `min`. -1 if unknown. */
static onyx_status *rank_at_least(const onyx_infer_ctx *c, int i, int min, int *rank) {
  *rank = c->in[i].rank;
  if (*rank >= 0 && *rank < min)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input %d has rank %d, expected >= %d",
                           i, *rank, min);
  return NULL;
}

static bool has_out(const onyx_infer_ctx *c, int i) { return i < c->node->n_out; }

/* MaxPool, AveragePool, LpPool: [N, C, spatial...] -> [N, C, pooled...];
 * MaxPool's optional Indices output has the same shape, in int64. */
onyx_status *onyx_infer_pool(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  int rank;
  ONYX_TRY(rank_at_least(c, 0, 3, &rank));
  for (int o = 0; o < c->node->n_out && o < 2; o++) {
    c->out[o].dtype = o ? ONYX_DTYPE_INT64 : x->dtype;
    c->out[o].rank = -1;
  }
  if (rank < 0) return NULL;
  onyx_pool_geom g;
  ONYX_TRY(onyx_pool_geometry(c->node, rank - 2, x->dims + 2, &g));
  for (int o = 0; o < c->node->n_out && o < 2; o++) {
    c->out[o].rank = rank;
    c->out[o].dims[0] = x->dims[0];
    c->out[o].dims[1] = x->dims[1];
    memcpy(c->out[o].dims + 2, g.out, (size_t)g.nsp * sizeof g.out[0]);
  }
  return NULL;
}

/* GlobalAveragePool, GlobalMaxPool, GlobalLpPool: [N, C, spatial...] -> [N, C, 1...]. */
onyx_status *onyx_infer_global_pool(onyx_infer_ctx *c) {
  int rank;
  ONYX_TRY(rank_at_least(c, 0, 2, &rank));
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  for (int i = 2; i < rank; i++) c->out[0].dims[i] = 1;
  return NULL;
}

/* MaxRoiPool: X [N, C, H, W], rois [R, 5] -> [R, C, pooled_h, pooled_w]. */
onyx_status *onyx_infer_max_roi_pool(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  int cnt;
  const int64_t *ps;
  if (!onyx_attr_ints(n, "pooled_shape", &cnt, &ps) || cnt != 2 || ps[0] < 1 || ps[1] < 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "pooled_shape must be two positive ints");
  if (c->in[0].rank >= 0 && c->in[0].rank != 4)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "X has rank %d, expected 4", c->in[0].rank);
  if (c->in[1].rank >= 0 && (c->in[1].rank != 2 || (c->in[1].dims[1] >= 0 && c->in[1].dims[1] != 5)))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "rois must have shape [num_rois, 5]");
  onyx_vinfo *y = &c->out[0];
  y->dtype = c->in[0].dtype;
  y->rank = 4;
  y->dims[0] = c->in[1].rank == 2 ? c->in[1].dims[0] : ONYX_DIM_UNKNOWN;
  y->dims[1] = c->in[0].rank == 4 ? c->in[0].dims[1] : ONYX_DIM_UNKNOWN;
  y->dims[2] = ps[0];
  y->dims[3] = ps[1];
  return NULL;
}

onyx_status *onyx_unpool_default_dims(const onyx_node *n, int rank, const int64_t *x, int64_t *out) {
  int nsp = rank - 2, cnt;
  const int64_t *k;
  if (nsp < 1 || !onyx_attr_ints(n, "kernel_shape", &cnt, &k) || cnt != nsp)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "kernel_shape must have %d values", nsp);
  int64_t s[ONYX_MAX_RANK], pads[2 * ONYX_MAX_RANK];
  ONYX_TRY(ints_attr(n, "strides", nsp, 1, s));
  ONYX_TRY(ints_attr(n, "pads", 2 * nsp, 0, pads));
  out[0] = x[0];
  out[1] = x[1];
  for (int i = 0; i < nsp; i++) {
    int64_t in = x[2 + i];
    out[2 + i] = in < 0 ? ONYX_DIM_UNKNOWN : (in - 1) * s[i] + k[i] - pads[i] - pads[i + nsp];
    if (in >= 0 && out[2 + i] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axis %d: negative output size", i);
  }
  return NULL;
}

/* MaxUnpool: the shape given by the optional output_shape input, else the
 * default one (onyx_unpool_default_dims). */
onyx_status *onyx_infer_max_unpool(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *y = &c->out[0];
  int rank;
  ONYX_TRY(rank_at_least(c, 0, 3, &rank));
  y->dtype = x->dtype;
  y->rank = -1;
  if (n->n_in > 2 && c->in[2].dtype != ONYX_DTYPE_UNDEFINED) {
    const onyx_vinfo *os = &c->in[2];
    if (os->value) {
      int64_t r = onyx_tensor_numel(os->value);
      if (r > ONYX_MAX_RANK || (rank >= 0 && r != rank))
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output_shape has %lld values for an "
                               "input of rank %d", (long long)r, rank);
      y->rank = (int)r;
      for (int i = 0; i < y->rank; i++) {
        y->dims[i] = onyx_tensor_get_i64(os->value, i);
        if (y->dims[i] < 0)
          return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output_shape has a negative dim");
      }
    } else if (rank >= 0) {
      y->rank = rank;
      for (int i = 0; i < rank; i++) y->dims[i] = ONYX_DIM_UNKNOWN;
    }
    return NULL;
  }
  if (rank < 0) return NULL;
  ONYX_TRY(onyx_unpool_default_dims(n, rank, x->dims, y->dims));
  y->rank = rank;
  return NULL;
}

/* BatchNormalization: Y like X; in training mode (opset >= 14) running mean
 * and variance like the mean and var inputs; opset < 14's saved mean and
 * variance likewise. */
onyx_status *onyx_infer_batch_norm(onyx_infer_ctx *c) {
  int rank;
  ONYX_TRY(rank_at_least(c, 0, 2, &rank));
  if (c->node->n_in < 5)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "expects 5 inputs, got %d", c->node->n_in);
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  for (int o = 1; o < c->node->n_out; o++) onyx_vinfo_copy(&c->out[o], &c->in[o == 2 || o == 4 ? 4 : 3]);
  return NULL;
}

/* Same type as the input after checking attribute `axis` (default def). */
static onyx_status *infer_axis(onyx_infer_ctx *c, int64_t def) {
  int ax;
  if (c->in[0].rank >= 0)
    ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", def), c->in[0].rank, &ax));
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  return NULL;
}

/* Softmax, LogSoftmax, Hardmax: the default axis was 1 before opset 13. */
onyx_status *onyx_infer_softmax(onyx_infer_ctx *c) {
  return infer_axis(c, c->node->opset < 13 ? 1 : -1);
}

onyx_status *onyx_infer_lp_norm(onyx_infer_ctx *c) { return infer_axis(c, -1); }

/* LayerNormalization: Y like X; Mean and InvStdDev keep X's dims before
 * `axis` and have 1 after it, in the stash_type dtype. */
onyx_status *onyx_infer_layer_norm(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  int rank = c->in[0].rank, ax = 0;
  if (rank >= 0) ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), rank, &ax));
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  onyx_dtype stash = (onyx_dtype)onyx_attr_int(n, "stash_type", ONYX_DTYPE_FLOAT);
  for (int o = 1; o < n->n_out && o < 3; o++) {
    onyx_vinfo_copy(&c->out[o], &c->in[0]);
    c->out[o].dtype = stash;
    for (int i = ax; i < rank; i++) c->out[o].dims[i] = 1;
  }
  return NULL;
}

/* GroupNormalization: Y like X; num_groups must divide the channels. */
onyx_status *onyx_infer_group_norm(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  int rank;
  ONYX_TRY(rank_at_least(c, 0, 2, &rank));
  int64_t g = onyx_attr_int(n, "num_groups", 0);
  if (g < 1) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "num_groups must be >= 1");
  if (rank >= 0 && c->in[0].dims[1] >= 0 && c->in[0].dims[1] % g)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%lld channels do not split into %lld groups",
                           (long long)c->in[0].dims[1], (long long)g);
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  return NULL;
}

/* Dropout: output like X; the mask is bool from opset 10 (X's type before). */
onyx_status *onyx_infer_dropout(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  if (has_out(c, 1)) {
    onyx_vinfo_copy(&c->out[1], &c->in[0]);
    if (c->node->opset >= 10) c->out[1].dtype = ONYX_DTYPE_BOOL;
  }
  return NULL;
}
