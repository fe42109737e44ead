/* fold_conv_bn.c — folding BatchNormalization, and per-channel Mul / Add by
 * constants, into the weights and bias of the Conv before them (level 1).
 *
 * At inference BatchNormalization is y = (x - mean) * s + beta with
 * s = scale / sqrt(var + eps), per channel: applied to a Conv output that
 * is W' = W * s (per output channel) and B' = (B - mean) * s + beta. A Mul
 * by a per-channel constant c scales W and B by c; an Add of one adds c to
 * B. Conditions: float Conv with constant weights (and bias, if any), the
 * Conv output read only by the folded node, every parameter constant and
 * per-channel (broadcasting only over the channel axis). The folded weights
 * are new initializers: the old ones may be shared with other nodes. The
 * Conv then writes the folded node's output value, so names survive. */
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "opt.h"

/* A float constant of shape [M] (any rank with numel M). */
static const float *per_channel(const onyx_graph *g, int v, int64_t m) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->dtype != ONYX_DTYPE_FLOAT || onyx_numel(t->rank, t->dims) != m) return NULL;
  return t->data;
}

/* Constant v broadcasts against a conv output of `rank` dims (N, M, ...)
 * only over the channel axis: 1 value, or M values on axis 1. Writes the
 * values expanded to M floats into out (caller storage of M). */
static bool channel_const(const onyx_graph *g, int v, int rank, int64_t m, float *out) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->dtype != ONYX_DTYPE_FLOAT || t->rank > rank) return false;
  int64_t cnt = onyx_numel(t->rank, t->dims);
  const float *p = t->data;
  if (cnt == 1) {
    for (int64_t i = 0; i < m; i++) out[i] = p[0];
    return true;
  }
  if (cnt != m) return false;
  for (int d = 0; d < t->rank; d++) {
    int axis = d + rank - t->rank;
    if (t->dims[d] != 1 && axis != 1) return false;
  }
  memcpy(out, p, (size_t)m * sizeof *out);
  return true;
}

/* The Conv feeding value v when it can take folded weights: float, constant
 * weight of rank >= 3, constant or no bias, output read only by one node. */
static int foldable_conv(const opt_ctx *c, int v, int64_t *m) {
  const onyx_graph *g = c->g;
  int ci = g->values[v].producer;
  if (ci < 0 || !opt_is(c, ci, "Conv") || opt_single_consumer(c, v) < 0) return -1;
  const onyx_node *cv = &g->nodes[ci];
  const onyx_tensor *w = opt_const(g, cv->in[1]);
  if (!w || w->dtype != ONYX_DTYPE_FLOAT || w->rank < 3) return -1;
  *m = w->dims[0];
  if (cv->n_in > 2 && cv->in[2] >= 0 && !per_channel(g, cv->in[2], *m)) return -1;
  return ci;
}

/* Gives Conv ci new weights W * scale[m] and bias bias[m] (both M floats;
 * scale may be NULL: weights unchanged), and makes it write value `out`. */
static onyx_status *rewrite_conv(opt_ctx *c, int ci, const float *scale, const float *bias, int out) {
  onyx_graph *g = c->g;
  int wv = g->nodes[ci].in[1];
  if (scale) {
    onyx_tensor *nw;
    ONYX_TRY(onyx_tensor_clone(g->values[wv].init, &nw));
    int64_t m = nw->dims[0], per = onyx_numel(nw->rank - 1, nw->dims + 1);
    float *p = nw->data;
    for (int64_t i = 0; i < m; i++)
      for (int64_t k = 0; k < per; k++) p[i * per + k] *= scale[i];
    ONYX_TRY(opt_add_const(g, g->values[wv].name, nw, &wv));
  }
  int64_t m = g->values[g->nodes[ci].in[1]].init->dims[0];
  onyx_tensor *nb;
  ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, &m, &nb));
  memcpy(nb->data, bias, (size_t)m * sizeof(float));
  int bv;
  char base[256];
  snprintf(base, sizeof base, "%s_bias", g->nodes[ci].name[0] ? g->nodes[ci].name : "conv");
  ONYX_TRY(opt_add_const(g, base, nb, &bv));
  onyx_node *cv = &g->nodes[ci];
  cv->in[1] = wv;
  ONYX_TRY(opt_set_input(cv, 2, bv));
  cv->out[0] = out;
  g->values[out].producer = ci;
  return NULL;
}

onyx_status *opt_fold_conv_bn(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "BatchNormalization")) continue;
    const onyx_node *bn = &g->nodes[i];
    if (bn->n_in < 5 || bn->in[0] < 0 || bn->out[0] < 0 || onyx_attr_int(bn, "training_mode", 0) ||
        (bn->opset < 9 && !onyx_attr_int(bn, "spatial", 1)))
      continue;
    bool extra = false;
    for (int k = 1; k < bn->n_out; k++) extra = extra || (bn->out[k] >= 0 && opt_uses(c, bn->out[k]));
    int64_t m;
    int ci = extra ? -1 : foldable_conv(c, bn->in[0], &m);
    if (ci < 0) continue;
    const float *sc = per_channel(g, bn->in[1], m), *be = per_channel(g, bn->in[2], m);
    const float *mean = per_channel(g, bn->in[3], m), *var = per_channel(g, bn->in[4], m);
    if (!sc || !be || !mean || !var) continue;
    const onyx_node *cv = &g->nodes[ci];
    const float *ob = cv->n_in > 2 && cv->in[2] >= 0 ? per_channel(g, cv->in[2], m) : NULL;
    float *s = onyx_malloc((size_t)m * 2 * sizeof *s + 1);
    if (!s) return onyx_error_oom();
    double eps = onyx_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t k = 0; k < m; k++) {
      s[k] = (float)(sc[k] / sqrt((double)var[k] + eps));
      s[m + k] = ((ob ? ob[k] : 0.0f) - mean[k]) * s[k] + be[k];
    }
    int out = bn->out[0];
    onyx_status *st = rewrite_conv(c, ci, s, s + m, out);
    onyx_free(s);
    ONYX_TRY(st);
    ONYX_TRY(opt_kill(c, i));
    c->folded++;
    (*changed)++;
  }
  return NULL;
}

onyx_status *opt_fold_conv_mul_add(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    bool mul = opt_is(c, i, "Mul");
    if (!mul && !opt_is(c, i, "Add")) continue;
    const onyx_node *op = &g->nodes[i];
    if (op->n_in != 2 || op->out[0] < 0) continue;
    for (int side = 0; side < 2; side++) {
      int x = op->in[side], k = op->in[1 - side];
      int64_t m;
      int ci = foldable_conv(c, x, &m);
      const onyx_value *xv = &g->values[x], *yv = &g->values[op->out[0]];
      if (ci < 0 || xv->rank < 3 || yv->rank != xv->rank || yv->dtype != ONYX_DTYPE_FLOAT) continue;
      float *v = onyx_malloc((size_t)m * 2 * sizeof *v + 1);
      if (!v) return onyx_error_oom();
      if (!channel_const(g, k, xv->rank, m, v)) {
        onyx_free(v);
        continue;
      }
      const onyx_node *cv = &g->nodes[ci];
      const float *ob = cv->n_in > 2 && cv->in[2] >= 0 ? per_channel(g, cv->in[2], m) : NULL;
      for (int64_t j = 0; j < m; j++) {
        float b = ob ? ob[j] : 0.0f;
        v[m + j] = mul ? b * v[j] : b + v[j];
      }
      onyx_status *st = rewrite_conv(c, ci, mul ? v : NULL, v + m, op->out[0]);
      onyx_free(v);
      ONYX_TRY(st);
      ONYX_TRY(opt_kill(c, i));
      c->folded++;
      (*changed)++;
      break;
    }
  }
  return NULL;
}
