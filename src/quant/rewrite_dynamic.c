/* rewrite_dynamic.c — dynamic quantization: weights quantized offline,
 * activations at run time, in the graph ONNX Runtime's dynamic quantizer
 * emits:
 *
 *   x -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp)
 *   MatMulInteger(x_q, W_q, x_zp, W_zp) | ConvInteger(...)  -> int32
 *   Cast(to float) -> Mul(by x_scale * W_scale) [-> Add(bias)] -> y
 *
 * One DynamicQuantizeLinear serves every quantized reader of a tensor (the
 * Q/K/V projections of attention share theirs). Gemm is handled as MatMul
 * with the weight transposed offline when transB is set, alpha folded into
 * the scale product and beta into the bias. Conv biases are reshaped offline
 * to [M, 1, ...] for the Add. With per-channel symmetric weights every zero
 * point is 0 and ConvInteger gets a scalar zero point, which ONNX Runtime's
 * kernel requires. */
#include <string.h>

#include "base/alloc.h"
#include "qgraph.h"

static const char *const dynamic_ops[] = {"Conv", "MatMul", "Gemm", NULL};

static bool is_op(const onyx_node *n, const char *op) { return !strcmp(n->op_type, op); }
static const char *vname(const qctx *c, int v) { return c->g->values[v].name; }

/* Transpose of a 2-D float tensor. */
static onyx_status *transpose2d(const onyx_tensor *w, onyx_tensor **out) {
  int64_t d[2] = {w->dims[1], w->dims[0]};
  ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_FLOAT, 2, d, out));
  const float *src = w->data;
  float *dst = (*out)->data;
  for (int64_t i = 0; i < w->dims[0]; i++)
    for (int64_t j = 0; j < w->dims[1]; j++) dst[j * d[1] + i] = src[i * w->dims[1] + j];
  return NULL;
}

/* x_q, x_scale, x_zp of activation x (one DynamicQuantizeLinear per tensor). */
static onyx_status *dyn_input(qctx *c, int x, int out[3]) {
  qvalue *q = qctx_value(c, x);
  if (!q) return onyx_error_oom();
  if (q->dql[0] < 0) {
    char *base = onyx_strdup(vname(c, x));
    if (!base) return onyx_error_oom();
    int o[3];
    onyx_status *s = qg_new_value(c, base, "_quantized", &o[0]);
    if (!s) s = qg_new_value(c, base, "_scale", &o[1]);
    if (!s) s = qg_new_value(c, base, "_zero_point", &o[2]);
    if (!s) s = qg_node(c, base, "_QuantizeLinear", "DynamicQuantizeLinear", 1, &x, 3, o, NULL);
    onyx_free(base);
    if (s) return s;
    memcpy(qctx_value(c, x)->dql, o, sizeof o);
  }
  memcpy(out, qctx_value(c, x)->dql, 3 * sizeof *out);
  return NULL;
}

static bool all_zero_zp(const onyx_qweight *qw) {
  const uint8_t *z = qw->zero_point->data;
  size_t n = qw->zero_point->nbytes;
  for (size_t i = 0; i < n; i++)
    if (z[i]) return false;
  return true;
}

/* Weight w quantized into initializers named after `base`; scale_copy
 * receives a copy of its scales. With scalar_zp, per-channel zero points
 * that are all 0 (symmetric weights) become one scalar. */
static onyx_status *dyn_weight(qctx *c, const char *base, const onyx_tensor *w, int axis, bool scalar_zp,
                               int *q_v, int *scale_v, int *zp_v, onyx_tensor **scale_copy) {
  onyx_qweight qw;
  ONYX_TRY(onyx_quant_weight(w, axis, c->cfg->weight_type, c->cfg->weight_symmetric, c->cfg->reduce_range, &qw));
  onyx_tensor *copy = NULL;   /* *scale_copy is written only on success */
  onyx_status *s = onyx_tensor_clone(qw.scale, &copy);
  if (!s && scalar_zp && axis >= 0 && all_zero_zp(&qw)) {
    /* all zero points are 0 (symmetric): one scalar serves every channel */
    onyx_tensor *z;
    if (!(s = onyx_tensor_create(qw.zero_point->dtype, 0, NULL, &z))) {
      onyx_tensor_free(qw.zero_point);
      qw.zero_point = z;
    }
  }
  if (s) {
    onyx_qweight_free(&qw);
    onyx_tensor_free(copy);
    return s;
  }
  s = qg_weight_inits(c, base, &qw, q_v, scale_v, zp_v);
  if (s) onyx_tensor_free(copy);
  else *scale_copy = copy;
  return s;
}

/* Why node i cannot be quantized dynamically, or NULL. */
static const char *dyn_check(const qctx *c, int i) {
  const onyx_node *n = &c->g->nodes[i];
  const char *f = qg_filtered(c, n, dynamic_ops);
  if (f) return f;
  if (!is_op(n, "Conv") && !is_op(n, "MatMul") && !is_op(n, "Gemm")) return "not a Conv, MatMul or Gemm";
  if (n->n_in < 2 || c->g->values[n->in[0]].dtype != ONYX_DTYPE_FLOAT) return "input is not float";
  const onyx_tensor *w = qg_const(c->g, n->in[1]);
  if (!w) return "weight is not a float initializer (dynamic mode quantizes constant weights only)";
  if (is_op(n, "Conv")) {
    if (w->rank < 3) return "Conv weight of rank < 3";
    if (n->n_in > 2 && n->in[2] >= 0 && !qg_const(c->g, n->in[2])) return "bias is not a float initializer";
    return NULL;
  }
  if (w->rank != 2) return "weight is not 2-D";
  if (is_op(n, "Gemm")) {
    if (onyx_attr_int(n, "transA", 0)) return "Gemm with transA";
    if (n->n_in > 2 && n->in[2] >= 0 && !qg_const(c->g, n->in[2]) && onyx_attr_float(n, "beta", 1.0f) != 1.0f)
      return "Gemm with a non-constant C and beta != 1";
  }
  return NULL;
}

static onyx_status *dyn_node(qctx *c, int i) {
  const onyx_node *n = &c->g->nodes[i];
  bool conv = is_op(n, "Conv"), gemm = is_op(n, "Gemm");
  int x = n->in[0], y = n->out[0], b = n->n_in > 2 ? n->in[2] : -1;
  int w_rank = c->g->values[n->in[1]].init->rank;   /* n and values move as the graph grows */
  float alpha = gemm ? onyx_attr_float(n, "alpha", 1.0f) : 1.0f, beta = gemm ? onyx_attr_float(n, "beta", 1.0f) : 1.0f;
  bool trans_b = gemm && onyx_attr_int(n, "transB", 0);
  onyx_status *s = NULL;
  onyx_tensor *wt_t = NULL, *wscale = NULL, *t = NULL;
  char *ybase = onyx_strdup(vname(c, y)), *wbase = onyx_strdup(vname(c, n->in[1]));
  if (!ybase || !wbase) {
    s = onyx_error_oom();
    goto done;
  }
  const onyx_tensor *w = qg_const(c->g, n->in[1]);
  if (trans_b) {
    if ((s = transpose2d(w, &wt_t))) goto done;
    w = wt_t;
  }
  int axis = !c->cfg->per_channel ? -1 : conv ? 0 : 1;
  int xq[3], wq, ws, wz;
  if ((s = dyn_input(c, x, xq))) goto done;
  if ((s = dyn_weight(c, wbase, w, axis, conv, &wq, &ws, &wz, &wscale))) goto done;
  /* integer product */
  int acc, acc_f, scales, prod;
  int in4[4] = {xq[0], wq, xq[2], wz};
  int node;
  if ((s = qg_new_value(c, ybase, "_output_quantized", &acc))) goto done;
  if ((s = qg_node(c, ybase, conv ? "_ConvInteger" : "_MatMulInteger", conv ? "ConvInteger" : "MatMulInteger", 4,
                   in4, 1, &acc, &node)))
    goto done;
  if (conv && (s = qg_copy_attrs(c, i, node, NULL))) goto done;
  if ((s = qg_new_value(c, ybase, "_output_quantized_cast_output", &acc_f))) goto done;
  if ((s = qg_node(c, ybase, "_output_quantized_cast", "Cast", 1, &acc, 1, &acc_f, &node))) goto done;
  if ((s = qg_attr_int(c, node, "to", ONYX_DTYPE_FLOAT))) goto done;
  /* scale product: x_scale * w_scale (* alpha), shaped to broadcast against the output */
  int64_t nsc = onyx_numel(wscale->rank, wscale->dims);
  if (nsc > 1 || alpha != 1.0f) {
    int64_t d[ONYX_MAX_RANK];
    int rank = conv && nsc > 1 ? w_rank - 1 : wscale->rank;
    for (int k = 0; k < rank; k++) d[k] = k == 0 ? nsc : 1;
    if ((s = onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, d, &t))) goto done;
    for (int64_t k = 0; k < nsc; k++) ((float *)t->data)[k] = ((float *)wscale->data)[k] * alpha;
    int sv;
    s = qg_new_init(c, wbase, "_scale_reshaped", t, &sv);
    t = NULL;
    if (s) goto done;
    ws = sv;
  }
  int in2[2] = {xq[1], ws};
  if ((s = qg_new_value(c, ybase, "_scales_mul", &scales))) goto done;
  if ((s = qg_node(c, ybase, "_scales_mul", "Mul", 2, in2, 1, &scales, NULL))) goto done;
  bool has_bias = b >= 0;
  if (has_bias) {
    if ((s = qg_new_value(c, ybase, "_output_scaled", &prod))) goto done;
  } else {
    prod = y;
  }
  int in_mul[2] = {acc_f, scales};
  if ((s = qg_node(c, ybase, "_output_scale_mul", "Mul", 2, in_mul, 1, &prod, NULL))) goto done;
  if (has_bias) {
    int bias = b;
    const onyx_tensor *bt = qg_const(c->g, b);
    if (bt && (conv || beta != 1.0f)) {
      /* Conv: [M] -> [M, 1, ...]; Gemm: C * beta */
      int64_t d[ONYX_MAX_RANK];
      int rank = conv ? w_rank - 1 : bt->rank;
      for (int k = 0; k < rank; k++) d[k] = conv ? (k == 0 ? onyx_numel(bt->rank, bt->dims) : 1) : bt->dims[k];
      if ((s = onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, d, &t))) goto done;
      for (int64_t k = 0; k < onyx_numel(bt->rank, bt->dims); k++)
        ((float *)t->data)[k] = ((const float *)bt->data)[k] * (conv ? 1.0f : beta);
      char *bbase = onyx_strdup(vname(c, b));
      s = bbase ? qg_new_init(c, bbase, conv ? "_reshaped" : "_scaled", t, &bias) : onyx_error_oom();
      if (!bbase) onyx_tensor_free(t);
      t = NULL;
      onyx_free(bbase);
      if (s) goto done;
    }
    int in_add[2] = {prod, bias};
    if ((s = qg_node(c, ybase, "_bias_add", "Add", 2, in_add, 1, &y, NULL))) goto done;
  }
  c->remove[i] = true;
  s = qctx_note(c, i, true, "%s + DynamicQuantizeLinear, %s weights", conv ? "ConvInteger" : "MatMulInteger",
                axis >= 0 ? "per-channel" : "per-tensor");
done:
  onyx_tensor_free(wt_t);
  onyx_tensor_free(wscale);
  onyx_tensor_free(t);
  onyx_free(ybase);
  onyx_free(wbase);
  return s;
}

onyx_status *onyx_quant_rewrite_dynamic(qctx *c) {
  int64_t opset = onyx_model_opset(c->m, "");
  if (opset < 11)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                      "the model imports ai.onnx opset %lld; dynamic quantization needs opset 11 or later "
                      "(DynamicQuantizeLinear)",
                      (long long)opset);
  for (int i = 0; i < c->n_orig; i++) {
    const char *why = dyn_check(c, i);
    if (why) ONYX_TRY(qctx_note(c, i, false, "%s", why));
    else ONYX_TRY(dyn_node(c, i));
  }
  return NULL;
}
