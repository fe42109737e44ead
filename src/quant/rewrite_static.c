/* rewrite_static.c — static (calibrated) quantization of a graph in the QDQ
 * and QOperator formats, as ONNX Runtime's QDQQuantizer and ONNXQuantizer
 * lay them out.
 *
 * QDQ: every activation tensor that a quantized node reads or writes gets one
 * QuantizeLinear -> DequantizeLinear pair (consumers read the DequantizeLinear
 * output, named <tensor>_DequantizeLinear_Output; a graph output keeps its
 * name on the DequantizeLinear). Weights become int8 initializers behind a
 * DequantizeLinear (axis for per-channel), biases of Conv/Gemm int32 with
 * scale x_scale * w_scale. Relu/Clip after a quantized tensor are removed
 * when activations are asymmetric: their output range is what the
 * QuantizeLinear clamps to. Pass-through ops (MaxPool, Reshape, ...) share
 * their input's scale and zero point.
 *
 * QOperator: Conv becomes QLinearConv and MatMul QLinearMatMul on quantized
 * tensors; reshaping ops run on the quantized tensor directly; other ops stay
 * float behind a DequantizeLinear, and a QuantizeLinear is added wherever a
 * quantized op reads a float tensor. Gemm stays float (ORT emits QGemm of
 * com.microsoft, which onyx has no kernel for), as do MaxPool (no uint8
 * kernel in onyx) and Add/Mul (QLinearAdd/QLinearMul, com.microsoft). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "qgraph.h"

static const char *const qdq_ops[] = {"Conv", "MatMul", "Gemm", "Relu", "Clip", "MaxPool", "Reshape",
                                      "Transpose", "Flatten", "Squeeze", "Unsqueeze", NULL};
static const char *const qop_ops[] = {"Conv", "MatMul", "Relu", "Clip", "Reshape", "Transpose",
                                      "Flatten", "Squeeze", "Unsqueeze", NULL};

static bool is_op(const onyx_node *n, const char *op) { return !strcmp(n->op_type, op); }
static bool is_pass(const onyx_node *n) {
  return is_op(n, "MaxPool") || is_op(n, "Reshape") || is_op(n, "Transpose") || is_op(n, "Flatten") ||
         is_op(n, "Squeeze") || is_op(n, "Unsqueeze");
}
static bool is_qop(const qctx *c) { return c->cfg->format == ONYX_QFORMAT_QOPERATOR; }
static const char *vname(const qctx *c, int v) { return c->g->values[v].name; }
static bool has_range(const qctx *c, int v) {
  return v >= 0 && onyx_calib_table_get(c->table, vname(c, v)) != NULL;
}

/* Per-channel axis of a node's weight input, or -1 for per tensor. */
static int weight_axis(const qctx *c, const onyx_node *n, const onyx_tensor *w) {
  if (!c->cfg->per_channel) return -1;
  if (is_op(n, "Conv")) return 0;
  if (is_op(n, "Gemm")) return onyx_attr_int(n, "transB", 0) ? 0 : 1;
  return w->rank == 2 ? 1 : -1;
}

/* Whether compute node i (Conv, MatMul, Gemm) can be quantized when it writes
 * value `out`; why receives the reason when not. */
static bool compute_ok(const qctx *c, int i, int out, char *why, size_t len) {
  const onyx_node *n = &c->g->nodes[i];
  const char *f = qg_filtered(c, n, is_qop(c) ? qop_ops : qdq_ops);
  if (f) return snprintf(why, len, "%s", f), false;
  bool conv = is_op(n, "Conv"), mm = is_op(n, "MatMul"), gemm = is_op(n, "Gemm");
  if (!conv && !mm && !gemm) return snprintf(why, len, "not a Conv, MatMul or Gemm"), false;
  if (gemm && is_qop(c))
    return snprintf(why, len, "QOperator Gemm needs QGemm (com.microsoft), which onyx has no kernel for"), false;
  if (n->n_in < 2 || c->g->values[n->in[0]].dtype != ONYX_DTYPE_FLOAT)
    return snprintf(why, len, "input is not float"), false;
  const onyx_tensor *w = qg_const(c->g, n->in[1]);
  if ((conv || gemm) && !w) return snprintf(why, len, "weight '%s' is not a float initializer", vname(c, n->in[1])), false;
  if (gemm && (w->rank != 2 || onyx_attr_int(n, "transA", 0)))
    return snprintf(why, len, "Gemm with transA or a weight of rank %d", w->rank), false;
  if (conv && n->n_in > 2 && n->in[2] >= 0 && !qg_const(c->g, n->in[2]))
    return snprintf(why, len, "bias is not a float initializer"), false;
  if (mm && !w && !has_range(c, n->in[1]))
    return snprintf(why, len, "no calibrated range for input '%s'", vname(c, n->in[1])), false;
  if (!has_range(c, n->in[0])) return snprintf(why, len, "no calibrated range for input '%s'", vname(c, n->in[0])), false;
  if (!has_range(c, out)) return snprintf(why, len, "no calibrated range for output '%s'", vname(c, out)), false;
  return true;
}

/* ---- Relu / Clip fusion --------------------------------------------------------- */

/* Removes Relu/Clip node r whose input has no other reader: its producer
 * writes r's output directly, and the quantization of that tensor (range
 * [0, max], zero point at the bottom of the integer range) does the clamp. */
static onyx_status *fuse_activation(qctx *c, int r, int *mark_out) {
  onyx_graph *g = c->g;
  const onyx_node *n = &g->nodes[r];
  *mark_out = -1;
  if (!is_op(n, "Relu") && !is_op(n, "Clip")) return NULL;
  if (c->cfg->activation_symmetric || qg_filtered(c, n, qdq_ops) || n->n_in < 1 || n->n_out != 1) return NULL;
  int in = n->in[0], out = n->out[0], p = g->values[in].producer;
  if (p < 0 || p >= c->n_orig || c->remove[p] || qg_uses(g, in) != 1 || qg_is_output(g, in) || !has_range(c, out))
    return NULL;
  if (is_qop(c)) {
    char why[256];
    if (!compute_ok(c, p, out, why, sizeof why)) return NULL;
  }
  onyx_node *pn = &g->nodes[p];
  for (int k = 0; k < pn->n_out; k++)
    if (pn->out[k] == in) pn->out[k] = out;
  g->values[in].producer = -1;
  g->values[out].producer = p;
  c->remove[r] = true;
  *mark_out = out;
  return qctx_note(c, r, true, "removed: the quantization of '%s' clamps at zero", g->values[out].name);
}

/* ---- QDQ ------------------------------------------------------------------------ */

typedef struct marks {
  int n, cap;
  int *v;
} marks;

static onyx_status *mark(qctx *c, marks *mk, int v, int share) {
  qvalue *q = qctx_value(c, v);
  if (!q) return onyx_error_oom();
  if (q->marked) return NULL;
  bool ok;
  ONYX_TRY(qg_act_params(c, v, share, &ok));
  if (!ok) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "no quantization range for tensor '%s'", vname(c, v));
  q = qctx_value(c, v);
  q->marked = true;
  q->share = share;
  if (mk->n == mk->cap) {
    int cap = mk->cap ? 2 * mk->cap : 32;
    int *nv = onyx_realloc(mk->v, (size_t)cap * sizeof *nv);
    if (!nv) return onyx_error_oom();
    mk->v = nv;
    mk->cap = cap;
  }
  mk->v[mk->n++] = v;
  return NULL;
}

/* Quantizes weight initializer w (offline) along axis; writes the quantized
 * tensor, scale and zero-point initializers. Cached per (weight, axis). */
static onyx_status *quant_weight(qctx *c, int w, int axis, int *q_v, int *scale_v, int *zp_v) {
  qvalue *q = qctx_value(c, w);
  if (!q) return onyx_error_oom();
  if (q->qv >= 0 && q->waxis == axis) {
    *q_v = q->qv, *scale_v = q->wscale_v, *zp_v = q->zp_v;
    return NULL;
  }
  onyx_qweight qw;
  ONYX_TRY(onyx_quant_weight(c->g->values[w].init, axis, c->cfg->weight_type, c->cfg->weight_symmetric,
                             c->cfg->reduce_range, &qw));
  char *base = onyx_strdup(vname(c, w));
  onyx_status *s = qg_weight_inits(c, base, &qw, q_v, scale_v, zp_v);
  onyx_free(base);
  if (s) return s;
  q = qctx_value(c, w);
  q->qv = *q_v, q->wscale_v = *scale_v, q->zp_v = *zp_v, q->waxis = axis;
  return NULL;
}

/* A DequantizeLinear of (q, scale, zp; zp < 0: none) with `axis` (-1: none) into value out
 * (or a new value named base+"_DequantizeLinear_Output" when out < 0). */
static onyx_status *dequant(qctx *c, const char *base, int q, int scale, int zp, int axis, int *out) {
  if (*out < 0) ONYX_TRY(qg_new_value(c, base, "_DequantizeLinear_Output", out));
  int in[3] = {q, scale, zp}, node;
  ONYX_TRY(qg_node(c, base, "_DequantizeLinear", "DequantizeLinear", 3, in, 1, out, &node));
  if (axis >= 0) ONYX_TRY(qg_attr_int(c, node, "axis", axis));
  return NULL;
}

/* Input slot of node i reads the dequantized weight instead of the float one. */
static onyx_status *qdq_weight(qctx *c, int i, int slot, int axis) {
  int w = c->g->nodes[i].in[slot];
  qvalue *q = qctx_value(c, w);
  if (!q) return onyx_error_oom();
  if (q->wdq < 0 || q->waxis != axis) {
    int qv, sv, zv, dq = -1;
    ONYX_TRY(quant_weight(c, w, axis, &qv, &sv, &zv));
    char *base = onyx_strdup(vname(c, w));
    if (!base) return onyx_error_oom();
    onyx_status *s = dequant(c, base, qv, sv, zv, axis, &dq);
    onyx_free(base);
    if (s) return s;
    qctx_value(c, w)->wdq = dq;
  }
  c->g->nodes[i].in[slot] = qctx_value(c, w)->wdq;
  return NULL;
}

/* Bias slot of node i as int32 with scale x_scale * w_scale * beta. Keeps the
 * float bias (returns NULL) when it is not a 1-D initializer matching the
 * weight scales. */
static onyx_status *qdq_bias(qctx *c, int i, int slot, int x, int w, float beta, bool *done) {
  const onyx_node *n = &c->g->nodes[i];
  *done = false;
  if (n->n_in <= slot || n->in[slot] < 0) return NULL;
  int b = n->in[slot];
  const onyx_tensor *bt = qg_const(c->g, b), *ws = c->g->values[qctx_value(c, w)->wscale_v].init;
  int64_t nb = bt ? onyx_numel(bt->rank, bt->dims) : 0, ns = onyx_numel(ws->rank, ws->dims);
  if (!bt || bt->rank != 1 || (ns != 1 && ns != nb)) return NULL;
  onyx_qweight qb;
  ONYX_TRY(onyx_quant_bias(bt, qctx_value(c, x)->p.scale, ws, beta, &qb));
  char *base = onyx_strdup(vname(c, b));
  int qv, sv, dq = -1;
  onyx_status *s = base ? NULL : onyx_error_oom();
  if (!s) s = qg_new_init(c, base, "_quantized", qb.q, &qv);
  else onyx_tensor_free(qb.q);
  if (!s) s = qg_new_init(c, base, "_quantized_scale", qb.scale, &sv);
  else onyx_tensor_free(qb.scale);
  onyx_tensor_free(qb.zero_point);   /* 0, the DequantizeLinear default: left out */
  if (!s) s = dequant(c, base, qv, sv, -1, qb.axis >= 0 ? 0 : -1, &dq);
  onyx_free(base);
  if (s) return s;
  c->g->nodes[i].in[slot] = dq;
  *done = true;
  return NULL;
}

/* Adds the QuantizeLinear/DequantizeLinear pair of marked value v and points
 * its readers at the DequantizeLinear. */
static onyx_status *apply_mark(qctx *c, int v) {
  onyx_graph *g = c->g;
  char *base = onyx_strdup(vname(c, v));
  if (!base) return onyx_error_oom();
  onyx_status *s = NULL;
  int src = v, qv, dq = -1, qnode;
  bool output = qg_is_output(g, v);
  if (output) {
    /* the graph output keeps its name on the DequantizeLinear */
    if ((s = qg_new_value(c, base, "_QuantizeLinear_Input", &src))) goto done;
    int p = g->values[v].producer;
    if (p >= 0) {
      for (int k = 0; k < g->nodes[p].n_out; k++)
        if (g->nodes[p].out[k] == v) g->nodes[p].out[k] = src;
      g->values[src].producer = p;
      g->values[v].producer = -1;
    }
    dq = v;
  }
  if ((s = qg_new_value(c, base, "_QuantizeLinear_Output", &qv))) goto done;
  const qvalue *q = qctx_value(c, v);
  int in[3] = {src, q->scale_v, q->zp_v};
  if ((s = qg_node(c, base, "_QuantizeLinear", "QuantizeLinear", 3, in, 1, &qv, &qnode))) goto done;
  q = qctx_value(c, v);
  if ((s = dequant(c, base, qv, q->scale_v, q->zp_v, -1, &dq))) goto done;
  if (!output)
    for (int i = 0; i < g->n_nodes; i++) {
      if (i == qnode || (i < c->n_orig && c->remove[i])) continue;
      for (int k = 0; k < g->nodes[i].n_in; k++)
        if (g->nodes[i].in[k] == v) g->nodes[i].in[k] = dq;
    }
done:
  onyx_free(base);
  return s;
}

static onyx_status *qdq_compute(qctx *c, marks *mk, int i) {
  const onyx_node *n = &c->g->nodes[i];
  int x = n->in[0], w = n->in[1], y = n->out[0];
  bool conv = is_op(n, "Conv"), gemm = is_op(n, "Gemm");
  float beta = gemm ? onyx_attr_float(n, "beta", 1.0f) : 1.0f;
  ONYX_TRY(mark(c, mk, x, -1));
  const onyx_tensor *wt = qg_const(c->g, w);
  int axis = -1;
  bool has_bias = (conv || gemm) && n->n_in > 2 && n->in[2] >= 0, bias_q = false;
  if (wt) {
    axis = weight_axis(c, n, wt);
    ONYX_TRY(qdq_weight(c, i, 1, axis));
    if (has_bias) ONYX_TRY(qdq_bias(c, i, 2, x, w, beta, &bias_q));
  } else {
    ONYX_TRY(mark(c, mk, w, -1));
  }
  ONYX_TRY(mark(c, mk, y, -1));
  return qctx_note(c, i, true, "QDQ, %s weights%s", !wt ? "activation" : axis >= 0 ? "per-channel" : "per-tensor",
                   !has_bias ? "" : bias_q ? ", int32 bias" : ", float bias");
}

static onyx_status *rewrite_qdq(qctx *c) {
  marks mk = {0};
  onyx_status *s = NULL;
  char why[256];
  for (int i = 0; i < c->n_orig && !s; i++) {
    int out;
    if ((s = fuse_activation(c, i, &out))) break;
    if (out >= 0) s = mark(c, &mk, out, -1);
  }
  for (int i = 0; i < c->n_orig && !s; i++) {
    if (c->remove[i]) continue;
    const onyx_node *n = &c->g->nodes[i];
    if (is_op(n, "Conv") || is_op(n, "MatMul") || is_op(n, "Gemm")) {
      if (compute_ok(c, i, n->out[0], why, sizeof why)) s = qdq_compute(c, &mk, i);
      else s = qctx_note(c, i, false, "%s", why);
    } else if (is_pass(n) && n->n_in >= 1 && n->n_out >= 1) {
      const char *f = qg_filtered(c, n, qdq_ops);
      int x = n->in[0], y = n->out[0];
      if (f) s = qctx_note(c, i, false, "%s", f);
      else if (!qctx_value(c, x)->marked) s = qctx_note(c, i, false, "input '%s' is not quantized", vname(c, x));
      else if (!(s = mark(c, &mk, y, x)))
        s = qctx_note(c, i, true, "QDQ: output shares the input's scale and zero point");
    } else {
      const char *f = qg_filtered(c, n, qdq_ops);
      s = qctx_note(c, i, false, "%s", f ? f : "nothing to quantize around it");
    }
  }
  for (int k = 0; k < mk.n && !s; k++) s = apply_mark(c, mk.v[k]);
  onyx_free(mk.v);
  return s;
}

/* ---- QOperator --------------------------------------------------------------- */

/* The quantized form of activation v, adding a QuantizeLinear if needed. */
static onyx_status *quant_input(qctx *c, int v, int *out) {
  qvalue *q = qctx_value(c, v);
  if (!q) return onyx_error_oom();
  if (q->qv < 0) {
    bool ok;
    ONYX_TRY(qg_act_params(c, v, -1, &ok));
    if (!ok) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "no quantization range for tensor '%s'", vname(c, v));
    char *base = onyx_strdup(vname(c, v));
    if (!base) return onyx_error_oom();
    int qv;
    onyx_status *s = qg_new_value(c, base, "_quantized", &qv);
    q = qctx_value(c, v);
    int in[3] = {v, q->scale_v, q->zp_v};
    if (!s) s = qg_node(c, base, "_QuantizeLinear", "QuantizeLinear", 3, in, 1, &qv, NULL);
    onyx_free(base);
    if (s) return s;
    qctx_value(c, v)->qv = qv;
  }
  *out = qctx_value(c, v)->qv;
  return NULL;
}

/* The quantized output of a replaced node: value y loses its producer. */
static onyx_status *quant_output(qctx *c, int y, int share, int *out) {
  bool ok;
  ONYX_TRY(qg_act_params(c, y, share, &ok));
  if (!ok) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "no quantization range for tensor '%s'", vname(c, y));
  char *base = onyx_strdup(vname(c, y));
  if (!base) return onyx_error_oom();
  onyx_status *s = qg_new_value(c, base, "_quantized", out);
  onyx_free(base);
  if (s) return s;
  qvalue *q = qctx_value(c, y);
  q->qv = *out;
  q->lost = true;
  c->g->values[y].producer = -1;
  return NULL;
}

static onyx_status *qop_compute(qctx *c, int i) {
  const onyx_node *n = &c->g->nodes[i];
  bool conv = is_op(n, "Conv");
  int x = n->in[0], w = n->in[1], y = n->out[0], b = conv && n->n_in > 2 ? n->in[2] : -1;
  int xq, wq, ws, wz, yq, bq = -1;
  ONYX_TRY(quant_input(c, x, &xq));
  const onyx_tensor *wt = qg_const(c->g, w);
  int axis = -1;
  if (wt) {
    axis = weight_axis(c, n, wt);
    ONYX_TRY(quant_weight(c, w, axis, &wq, &ws, &wz));
  } else {
    ONYX_TRY(quant_input(c, w, &wq));
    ws = qctx_value(c, w)->scale_v, wz = qctx_value(c, w)->zp_v;
  }
  if (b >= 0) {
    onyx_qweight qb;
    ONYX_TRY(onyx_quant_bias(qg_const(c->g, b), qctx_value(c, x)->p.scale, c->g->values[ws].init, 1.0f, &qb));
    onyx_tensor_free(qb.scale);
    onyx_tensor_free(qb.zero_point);
    char *base = onyx_strdup(vname(c, b));
    onyx_status *s = base ? qg_new_init(c, base, "_quantized", qb.q, &bq) : onyx_error_oom();
    if (!base) onyx_tensor_free(qb.q);
    onyx_free(base);
    if (s) return s;
  }
  ONYX_TRY(quant_output(c, y, -1, &yq));
  const qvalue *xv = qctx_value(c, x), *yv = qctx_value(c, y);
  int in[9] = {xq, xv->scale_v, xv->zp_v, wq, ws, wz, yv->scale_v, yv->zp_v, bq}, node;
  char *base = onyx_strdup(c->g->nodes[i].name[0] ? c->g->nodes[i].name : vname(c, y));
  if (!base) return onyx_error_oom();
  onyx_status *s = qg_node(c, base, "_quant", conv ? "QLinearConv" : "QLinearMatMul", conv ? 9 : 8, in, 1, &yq, &node);
  onyx_free(base);
  if (s) return s;
  if (conv) ONYX_TRY(qg_copy_attrs(c, i, node, NULL));
  c->remove[i] = true;
  return qctx_note(c, i, true, "%s, %s weights", conv ? "QLinearConv" : "QLinearMatMul",
                   !wt ? "activation" : axis >= 0 ? "per-channel" : "per-tensor");
}

/* Reshaping op i on the quantized tensor; the output shares its scale. */
static onyx_status *qop_pass(qctx *c, int i) {
  int x = c->g->nodes[i].in[0], y = c->g->nodes[i].out[0], yq, node;
  int n_in = c->g->nodes[i].n_in, in[8];
  if (n_in > 8) return qctx_note(c, i, false, "too many inputs");
  memcpy(in, c->g->nodes[i].in, (size_t)n_in * sizeof *in);
  in[0] = qctx_value(c, x)->qv;
  ONYX_TRY(quant_output(c, y, x, &yq));
  char *base = onyx_strdup(c->g->nodes[i].name[0] ? c->g->nodes[i].name : vname(c, y));
  if (!base) return onyx_error_oom();
  onyx_status *s = qg_node(c, base, "_quant", c->g->nodes[i].op_type, n_in, in, 1, &yq, &node);
  onyx_free(base);
  if (s) return s;
  ONYX_TRY(qg_copy_attrs(c, i, node, NULL));
  c->remove[i] = true;
  return qctx_note(c, i, true, "runs on the quantized tensor (shares its scale and zero point)");
}

/* Float value v, whose producer was replaced, remade by a DequantizeLinear. */
static onyx_status *restore_float(qctx *c, int v) {
  qvalue *q = qctx_value(c, v);
  if (!q) return onyx_error_oom();
  if (!q->lost) return NULL;
  q->lost = false;
  char *base = onyx_strdup(vname(c, v));
  if (!base) return onyx_error_oom();
  int out = v;
  onyx_status *s = dequant(c, base, q->qv, q->scale_v, q->zp_v, -1, &out);
  onyx_free(base);
  return s;
}

static onyx_status *rewrite_qoperator(qctx *c) {
  char why[256];
  for (int i = 0; i < c->n_orig; i++) {
    int out;
    ONYX_TRY(fuse_activation(c, i, &out));
  }
  for (int i = 0; i < c->n_orig; i++) {
    if (c->remove[i]) continue;
    const onyx_node *n = &c->g->nodes[i];
    bool pass = is_op(n, "Reshape") || is_op(n, "Transpose") || is_op(n, "Flatten") || is_op(n, "Squeeze") ||
                is_op(n, "Unsqueeze");
    if (is_op(n, "Conv") || is_op(n, "MatMul")) {
      if (compute_ok(c, i, n->out[0], why, sizeof why)) {
        ONYX_TRY(qop_compute(c, i));
        continue;
      }
      ONYX_TRY(qctx_note(c, i, false, "%s", why));
    } else if (pass && n->n_in >= 1 && n->n_out == 1 && qctx_value(c, n->in[0])->qv >= 0 &&
               !qg_filtered(c, n, qop_ops)) {
      ONYX_TRY(qop_pass(c, i));
      continue;
    } else {
      const char *f = is_op(n, "MaxPool") ? "MaxPool has no uint8/int8 kernel in onyx"
                      : is_op(n, "Gemm") ? "QOperator Gemm needs QGemm (com.microsoft), which onyx has no kernel for"
                      : pass ? "input is not quantized"
                             : qg_filtered(c, n, qop_ops);
      ONYX_TRY(qctx_note(c, i, false, "%s", f ? f : "nothing to quantize around it"));
    }
    /* a float node: its inputs must exist as float */
    for (int k = 0; k < c->g->nodes[i].n_in; k++)
      if (c->g->nodes[i].in[k] >= 0) ONYX_TRY(restore_float(c, c->g->nodes[i].in[k]));
    for (int k = 0; k < c->g->nodes[i].n_implicit; k++) ONYX_TRY(restore_float(c, c->g->nodes[i].implicit[k]));
  }
  for (int k = 0; k < c->g->n_outputs; k++) ONYX_TRY(restore_float(c, c->g->outputs[k]));
  return NULL;
}

onyx_status *onyx_quant_rewrite_static(qctx *c) {
  int64_t opset = onyx_model_opset(c->m, "");
  int64_t need = c->cfg->per_channel ? 13 : 10;
  if (opset < need)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                      "the model imports ai.onnx opset %lld; %s quantization needs opset %lld or later "
                      "(convert the model first)",
                      (long long)opset, c->cfg->per_channel ? "per-channel" : "static", (long long)need);
  if (!c->table) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "static quantization needs calibration ranges");
  return is_qop(c) ? rewrite_qoperator(c) : rewrite_qdq(c);
}
