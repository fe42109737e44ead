/* fuse_qdq.c — the QDQ fusion (level 2): a QDQ model (onyx quantize --format
 * qdq, or ONNX Runtime's quantizer) says "this op runs on 8-bit data" by
 * surrounding a float op with DequantizeLinear on its inputs and
 * QuantizeLinear on its output; run as written it dequantizes, computes in
 * float and quantizes again, slower than the float model. This pass replaces
 * each such group by the integer op it stands for, as ORT's QDQ selector /
 * action transformers do:
 *   DQ(x), DQ(w const) [, DQ(bias int32)] -> Conv [-> Relu] -> Q
 *       -> QLinearConv, or ai.onyx FusedQLinearConv with the Relu
 *   DQ(a), DQ(b) -> MatMul [-> Relu] -> Q      -> QLinearMatMul / FusedQLinearMatMul
 *   DQ(a), DQ(b const) [, DQ(C int32)] -> Gemm (alpha = beta = 1, no transA)
 *       [-> Relu] -> Q                         -> QLinearMatMul / FusedQLinearMatMul
 *   DQ(a), DQ(b) -> Add [-> Relu] -> Q         -> ai.onyx QLinearAdd
 *   DQ(x) -> GlobalAveragePool -> Q            -> ai.onyx QLinearGlobalAveragePool
 *   DQ(x) -> MaxPool | Reshape | Flatten | Transpose | Squeeze | Unsqueeze -> Q,
 *   DQ(x1..xn) -> Concat -> Q, all with one scale and zero point
 *       -> the same op on the 8-bit data
 *   DQ(x) -> Q with the same scale and zero point -> x itself.
 * Before them, a per-tensor Q after a data-movement op moves above it
 * (op(x) -> Q becomes Q(x) -> op on bytes; exact, since Q is elementwise),
 * so that GlobalAveragePool -> Flatten -> Q still finds its Q.
 *
 * A group is replaced only when the integer op computes what the float
 * graph does: activation scales and zero points are constant scalars;
 * weights are constant 8-bit tensors quantized per tensor or per channel on
 * the output-channel axis; an int32 bias has zero point 0 and scale
 * x_scale * w_scale; each float intermediate is read by the next node of the
 * group only. The float graph rounds its float sums where the integer one is
 * exact, so the two can differ by one quantization step of the output where
 * a value falls next to a rounding boundary; QLinearAdd, the pooling and the
 * data-movement ops give the same bytes. A DequantizeLinear read by nodes
 * outside the group stays for them. Groups a provider off the host (a GPU)
 * claims are left to it, see opt_quant_group_allowed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "opt.h"

/* ---- reading Q / DQ nodes -------------------------------------------------------- */

/* A QuantizeLinear or DequantizeLinear node's parameters. */
typedef struct qparam {
  int node;
  int scale, zp;            /* values; zp -1 when absent */
  const onyx_tensor *s, *z; /* their constants (z NULL when absent) */
  int64_t n;                /* number of scales */
  int axis;                 /* normalized axis when n > 1 */
  onyx_dtype qdt;           /* dtype of the quantized side */
} qparam;

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }

/* Reads node i (a Q when is_q, else a DQ) into p. False when its scale and
 * zero point are not constants of the kinds the integer kernels take, or it
 * uses attributes they do not (block_size, output_dtype). */
static bool read_qparam(const opt_ctx *c, int i, bool is_q, qparam *p) {
  const onyx_graph *g = c->g;
  if (!opt_is(c, i, is_q ? "QuantizeLinear" : "DequantizeLinear")) return false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_in < 2 || n->n_out != 1 || n->out[0] < 0 || n->in[0] < 0) return false;
  if (onyx_attr_int(n, "block_size", 0) || onyx_attr_int(n, "output_dtype", 0)) return false;
  memset(p, 0, sizeof *p);
  p->node = i;
  p->scale = n->in[1];
  p->zp = n->n_in > 2 ? n->in[2] : -1;
  p->s = opt_const(g, p->scale);
  if (!p->s || p->s->dtype != ONYX_DTYPE_FLOAT || p->s->rank > 1) return false;
  p->n = onyx_numel(p->s->rank, p->s->dims);
  if (p->n < 1) return false;
  for (int64_t k = 0; k < p->n; k++) {
    float v = ((const float *)p->s->data)[k];
    if (!(v > 0) || isinf(v)) return false;
  }
  const onyx_value *data = &g->values[n->in[0]], *out = &g->values[n->out[0]];
  if (p->zp >= 0) {
    p->z = opt_const(g, p->zp);
    if (!p->z || onyx_numel(p->z->rank, p->z->dims) != p->n) return false;
    p->qdt = p->z->dtype;
  } else {
    p->qdt = is_q ? ONYX_DTYPE_UINT8 : data->dtype;
  }
  if (is_q ? data->dtype != ONYX_DTYPE_FLOAT || out->dtype != p->qdt
           : out->dtype != ONYX_DTYPE_FLOAT || data->dtype != p->qdt)
    return false;
  if (p->n > 1) {
    int rank = data->rank;
    int64_t ax = onyx_attr_int(n, "axis", 1);
    if (rank < 1 || ax < -rank || ax >= rank) return false;
    p->axis = (int)(ax < 0 ? ax + rank : ax);
    if (data->dims[p->axis] != p->n) return false;
  }
  return true;
}

/* Zero point k of p as an integer (0 when absent). */
static int32_t zp_at(const qparam *p, int64_t k) {
  if (!p->z) return 0;
  return (int32_t)onyx_tensor_get_i64(p->z, p->n == 1 ? 0 : k);
}

static float scale_at(const qparam *p, int64_t k) { return ((const float *)p->s->data)[p->n == 1 ? 0 : k]; }

/* An 8-bit activation's per-tensor parameters. */
static bool act_param(const opt_ctx *c, int i, bool is_q, qparam *p) {
  return read_qparam(c, i, is_q, p) && p->n == 1 && is_q8(p->qdt);
}

/* Two per-tensor parameter sets that quantize alike. */
static bool same_param(const qparam *a, const qparam *b) {
  return a->n == 1 && b->n == 1 && a->qdt == b->qdt && scale_at(a, 0) == scale_at(b, 0) &&
         zp_at(a, 0) == zp_at(b, 0);
}

/* The live DequantizeLinear writing v, or -1. */
static int dq_of(const opt_ctx *c, int v) {
  if (v < 0) return -1;
  int p = c->g->values[v].producer;
  return p >= 0 && opt_is(c, p, "DequantizeLinear") ? p : -1;
}

/* The QuantizeLinear reading v as the only consumer of v, or -1. */
static int q_after(const opt_ctx *c, int v) {
  int j = opt_single_consumer(c, v);
  return j >= 0 && opt_is(c, j, "QuantizeLinear") && c->g->nodes[j].in[0] == v ? j : -1;
}

/* The Q ending a group whose float result is v: v -> Q, or v -> Relu -> Q.
 * Writes the Relu (or -1). */
static int group_end(const opt_ctx *c, int v, int *relu) {
  *relu = -1;
  if (c->g->values[v].dtype != ONYX_DTYPE_FLOAT) return -1;
  int j = opt_single_consumer(c, v);
  if (opt_is(c, j, "Relu") && c->g->nodes[j].in[0] == v && c->g->nodes[j].out[0] >= 0) {
    *relu = j;
    return q_after(c, c->g->nodes[j].out[0]);
  }
  return q_after(c, v);
}

/* ---- building the replacement ---------------------------------------------------- */

/* A new zero-point constant: one zero of dtype dt. */
static onyx_status *zero_const(onyx_graph *g, onyx_dtype dt, int *v) {
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_create(dt, 0, NULL, &t));
  return opt_add_const(g, "qdq_zero_point", t, v);
}

/* p's zero point value, made when absent. */
static onyx_status *zp_value(onyx_graph *g, const qparam *p, int *v) {
  if (p->zp >= 0) {
    *v = p->zp;
    return NULL;
  }
  return zero_const(g, p->qdt, v);
}

/* Kills the DequantizeLinear nodes of dq[0..n) no live node reads any more. */
static onyx_status *drop_unread(opt_ctx *c, const int *dq, int n) {
  for (int k = 0; k < n; k++)
    if (dq[k] >= 0 && !opt_is_dead(c, dq[k]) && opt_uses(c, c->g->nodes[dq[k]].out[0]) == 0)
      ONYX_TRY(opt_kill(c, dq[k]));
  return NULL;
}

/* Appends node `op` (domain "" or ai.onyx) over in[0..n_in) writing `out`
 * (now written by node kill[1], the group's Q), named after node `like` and
 * with its attributes when copy_attrs, plus activation "Relu" when relu;
 * kills kill[0..n_kill), then the DQs of dq[0..n_dq) left unread. *done
 * false (the new node removed again) when the providers keep the group
 * (opt_quant_group_allowed). */
static onyx_status *emit(opt_ctx *c, const char *op, const char *domain, int like, bool copy_attrs,
                         bool relu, int n_in, const int *in, int out, const int *kill, int n_kill,
                         const int *dq, int n_dq, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  char name[256];
  snprintf(name, sizeof name, "%s_quant", g->nodes[like].name[0] ? g->nodes[like].name : op);
  int fi;
  ONYX_TRY(opt_add_node(g, name, op, domain, n_in, in, 1, &out, &fi));
  if (copy_attrs) ONYX_TRY(opt_copy_attrs(&g->nodes[fi], &g->nodes[like]));
  if (relu) ONYX_TRY(opt_set_string(&g->nodes[fi], "activation", "Relu"));
  int group[3 + 64], n = 0;   /* n_kill <= 3, n_dq <= 64 */
  for (int k = 0; k < n_kill; k++) group[n++] = kill[k];
  for (int k = 0; k < n_dq; k++) group[n++] = dq[k];
  if (!opt_quant_group_allowed(c, group, n, fi)) {
    g->values[out].producer = kill[1];
    return opt_kill(c, fi);
  }
  if (domain[0]) ONYX_TRY(opt_import_domain(g, domain));
  for (int k = 0; k < n_kill; k++) ONYX_TRY(opt_kill(c, kill[k]));
  ONYX_TRY(drop_unread(c, dq, n_dq));
  c->fused++;
  *done = true;
  return NULL;
}

/* ---- Conv, MatMul, Gemm ---------------------------------------------------------------- */

/* Whether DQ node `i` gives constant 8-bit weights quantized per tensor or
 * per channel on axis `axis` (of length `len`). */
static bool weight_param(const opt_ctx *c, int i, int axis, int64_t len, qparam *p) {
  if (!read_qparam(c, i, false, p) || !is_q8(p->qdt)) return false;
  if (!opt_const(c->g, c->g->nodes[i].in[0])) return false;
  return p->n == 1 || (p->axis == axis && p->n == len);
}

/* Whether DQ node `i` gives a constant int32 bias of `len` values with zero
 * point 0 and the scale x_scale * w_scale the integer op adds it at. */
static bool bias_param(const opt_ctx *c, int i, const qparam *x, const qparam *w, int64_t len) {
  const onyx_graph *g = c->g;
  if (!opt_is(c, i, "DequantizeLinear")) return false;
  const onyx_node *n = &g->nodes[i];
  const onyx_tensor *b = opt_const(g, n->in[0]);
  if (!b || b->dtype != ONYX_DTYPE_INT32 || onyx_numel(b->rank, b->dims) != len) return false;
  for (int d = 0; d + 1 < b->rank; d++)
    if (b->dims[d] != 1) return false;
  if (n->n_in < 2 || onyx_attr_int(n, "block_size", 0) || g->values[n->out[0]].dtype != ONYX_DTYPE_FLOAT)
    return false;
  const onyx_tensor *s = opt_const(g, n->in[1]), *z = n->n_in > 2 ? opt_const(g, n->in[2]) : NULL;
  if (n->n_in > 2 && n->in[2] >= 0 && !z) return false;
  if (!s || s->dtype != ONYX_DTYPE_FLOAT) return false;
  int64_t ns = onyx_numel(s->rank, s->dims);
  if (ns != 1 && ns != len) return false;
  if (ns > 1 && s->rank != 1) return false;
  if (ns > 1) {
    int64_t ax = onyx_attr_int(n, "axis", 1);
    if (b->rank != 1 || (ax != 0 && ax != -1)) return false;
  }
  for (int64_t k = 0; z && k < onyx_numel(z->rank, z->dims); k++)
    if (onyx_tensor_get_i64(z, k) != 0) return false;
  for (int64_t k = 0; k < len; k++) {
    double want = (double)(scale_at(x, 0) * scale_at(w, k));
    double got = ((const float *)s->data)[ns == 1 ? 0 : k];
    if (fabs(got - want) > 1e-6 * fabs(want)) return false;
  }
  return true;
}

/* The transpose of a constant 2-D 8-bit tensor (Gemm's transB). */
static onyx_status *transposed(onyx_graph *g, int v, int *out) {
  const onyx_tensor *w = g->values[v].init;
  int64_t r = w->dims[0], cl = w->dims[1], d[2] = {cl, r};
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_create(w->dtype, 2, d, &t));
  const uint8_t *src = w->data;
  uint8_t *dst = t->data;
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < cl; j++) dst[j * r + i] = src[i * cl + j];
  char name[512];
  snprintf(name, sizeof name, "%s_transposed", g->values[v].name);
  return opt_add_const(g, name, t, out);
}

static onyx_status *fuse_conv(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_in < 2 || n->n_out != 1 || n->out[0] < 0) return NULL;
  int dx = dq_of(c, n->in[0]), dw = dq_of(c, n->in[1]), db = n->n_in > 2 ? n->in[2] : -1;
  const onyx_value *wv = &g->values[n->in[1]];
  if (wv->rank < 3 || wv->dims[0] < 1) return NULL;
  int64_t m = wv->dims[0];
  qparam x, w, y;
  int relu, q = group_end(c, n->out[0], &relu);
  if (q < 0 || !act_param(c, dx, false, &x) || !act_param(c, q, true, &y) || !weight_param(c, dw, 0, m, &w))
    return NULL;
  int bias = -1;
  if (db >= 0) {
    int dbn = dq_of(c, db);
    if (dbn < 0 || !bias_param(c, dbn, &x, &w, m)) return NULL;
    bias = g->nodes[dbn].in[0];
    db = dbn;
  }
  int in[9] = {g->nodes[dx].in[0], x.scale, -1, g->nodes[dw].in[0], w.scale, -1, y.scale, -1, bias};
  ONYX_TRY(zp_value(g, &x, &in[2]));
  ONYX_TRY(zp_value(g, &w, &in[5]));
  ONYX_TRY(zp_value(g, &y, &in[7]));
  int kill[3] = {i, q, relu}, dq[3] = {dx, dw, db};
  int out = g->nodes[q].out[0];
  return emit(c, relu >= 0 ? "FusedQLinearConv" : "QLinearConv", relu >= 0 ? "ai.onyx" : "", i, true, relu >= 0,
              bias >= 0 ? 9 : 8, in, out, kill, relu >= 0 ? 3 : 2, dq, 3, done);
}

/* MatMul (B [K, N] constant or computed, per-tensor or per column) and Gemm
 * (B constant, transposed here when transB; C an int32 bias). */
static onyx_status *fuse_matmul(opt_ctx *c, int i, bool gemm, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_in < 2 || n->n_out != 1 || n->out[0] < 0) return NULL;
  bool tb = false;
  if (gemm && (onyx_attr_int(n, "transA", 0) || onyx_attr_float(n, "alpha", 1.0f) != 1.0f ||
               (n->n_in > 2 && n->in[2] >= 0 && onyx_attr_float(n, "beta", 1.0f) != 1.0f)))
    return NULL;
  if (gemm) tb = onyx_attr_int(n, "transB", 0) != 0;
  int da = dq_of(c, n->in[0]), dbn = dq_of(c, n->in[1]), dc = gemm && n->n_in > 2 ? n->in[2] : -1;
  const onyx_value *bv = &g->values[n->in[1]];
  if (gemm ? bv->rank != 2 : bv->rank < 1) return NULL;
  /* the output-channel axis of B: its last (Gemm with transB: its first) */
  int n_axis = tb ? 0 : bv->rank - 1;
  int64_t nn = bv->rank == 1 ? 1 : bv->dims[n_axis];
  qparam a, b, y;
  int relu, q = group_end(c, n->out[0], &relu);
  if (q < 0 || !act_param(c, da, false, &a) || !act_param(c, q, true, &y)) return NULL;
  if (dbn < 0) return NULL;
  bool b_const = opt_const(g, g->nodes[dbn].in[0]) != NULL;
  if (b_const ? !weight_param(c, dbn, n_axis, nn, &b)
              : gemm || !act_param(c, dbn, false, &b))
    return NULL;
  int bias = -1;
  if (dc >= 0) {
    int dcn = dq_of(c, dc);
    if (dcn < 0 || !bias_param(c, dcn, &a, &b, nn)) return NULL;
    bias = g->nodes[dcn].in[0];
    dc = dcn;
  }
  int bq = g->nodes[dbn].in[0];
  if (tb) ONYX_TRY(transposed(g, bq, &bq));
  int in[9] = {g->nodes[da].in[0], a.scale, -1, bq, b.scale, -1, y.scale, -1, bias};
  ONYX_TRY(zp_value(g, &a, &in[2]));
  ONYX_TRY(zp_value(g, &b, &in[5]));
  ONYX_TRY(zp_value(g, &y, &in[7]));
  int kill[3] = {i, q, relu}, dq[3] = {da, dbn, dc};
  bool fused = relu >= 0 || bias >= 0;
  return emit(c, fused ? "FusedQLinearMatMul" : "QLinearMatMul", fused ? "ai.onyx" : "", i, false, relu >= 0,
              bias >= 0 ? 9 : 8, in, g->nodes[q].out[0], kill, relu >= 0 ? 3 : 2, dq, 3, done);
}

/* ---- Add, pooling, data movement ------------------------------------------------------ */

static onyx_status *fuse_add(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_in != 2 || n->n_out != 1 || n->out[0] < 0) return NULL;
  int da = dq_of(c, n->in[0]), db = dq_of(c, n->in[1]);
  qparam a, b, y;
  int relu, q = group_end(c, n->out[0], &relu);
  if (q < 0 || !act_param(c, da, false, &a) || !act_param(c, db, false, &b) || !act_param(c, q, true, &y))
    return NULL;
  int in[8] = {g->nodes[da].in[0], a.scale, -1, g->nodes[db].in[0], b.scale, -1, y.scale, -1};
  ONYX_TRY(zp_value(g, &a, &in[2]));
  ONYX_TRY(zp_value(g, &b, &in[5]));
  ONYX_TRY(zp_value(g, &y, &in[7]));
  int kill[3] = {i, q, relu}, dq[2] = {da, db};
  return emit(c, "QLinearAdd", "ai.onyx", i, false, relu >= 0, 8, in, g->nodes[q].out[0], kill,
              relu >= 0 ? 3 : 2, dq, 2, done);
}

static onyx_status *fuse_global_average_pool(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_in != 1 || n->n_out != 1 || n->out[0] < 0 || g->values[n->in[0]].rank < 3) return NULL;
  int dx = dq_of(c, n->in[0]), q = q_after(c, n->out[0]);
  qparam x, y;
  if (q < 0 || !act_param(c, dx, false, &x) || !act_param(c, q, true, &y)) return NULL;
  int in[5] = {g->nodes[dx].in[0], x.scale, -1, y.scale, -1};
  ONYX_TRY(zp_value(g, &x, &in[2]));
  ONYX_TRY(zp_value(g, &y, &in[4]));
  int kill[2] = {i, q};
  return emit(c, "QLinearGlobalAveragePool", "ai.onyx", i, false, false, 5, in, g->nodes[q].out[0], kill, 2,
              &dx, 1, done);
}

static bool is_movement(const opt_ctx *c, int i) {
  return opt_is(c, i, "Reshape") || opt_is(c, i, "Flatten") || opt_is(c, i, "Transpose") ||
         opt_is(c, i, "Squeeze") || opt_is(c, i, "Unsqueeze");
}

/* MaxPool, the data-movement ops and Concat on 8-bit data: every data input
 * comes from a DQ with the Q's own parameters, so Q(op(DQ(x))) = op(x). */
static onyx_status *fuse_pass_through(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *n = &g->nodes[i];
  bool concat = opt_is(c, i, "Concat");
  if (n->n_in < 1 || n->n_out < 1 || n->out[0] < 0 || n->n_in > 64) return NULL;
  for (int k = 1; k < n->n_out; k++)
    if (n->out[k] >= 0) return NULL;   /* MaxPool's Indices */
  int q = q_after(c, n->out[0]);
  qparam y;
  if (q < 0 || !act_param(c, q, true, &y)) return NULL;
  int n_data = concat ? n->n_in : 1, in[64], dq[64];
  for (int k = 0; k < n->n_in; k++) {
    in[k] = n->in[k];
    dq[k] = -1;
    if (k >= n_data) continue;
    qparam x;
    dq[k] = dq_of(c, n->in[k]);
    if (!act_param(c, dq[k], false, &x) || !same_param(&x, &y)) return NULL;
    in[k] = g->nodes[dq[k]].in[0];
  }
  int kill[2] = {i, q};
  return emit(c, n->op_type, "", i, true, false, n->n_in, in, g->nodes[q].out[0], kill, 2, dq, n_data, done);
}

/* DQ -> Q with the same parameters: the Q's readers take the DQ's input. */
static onyx_status *fuse_requantize(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  qparam y, x;
  if (!act_param(c, i, true, &y)) return NULL;
  int dx = dq_of(c, g->nodes[i].in[0]);
  if (!act_param(c, dx, false, &x) || !same_param(&x, &y)) return NULL;
  int kill[2] = {i, dx};
  if (!opt_quant_group_allowed(c, kill, 2, -1)) return NULL;
  if (!opt_bypass(c, g->nodes[i].out[0], g->nodes[dx].in[0])) return NULL;
  ONYX_TRY(opt_kill(c, i));
  ONYX_TRY(drop_unread(c, &dx, 1));
  c->fused++;
  *done = true;
  return NULL;
}

/* op(x) -> Q, op a data-movement op reading float x that nothing else reads,
 * Q per tensor: becomes Q(x) -> op on 8-bit data writing Q's output. */
static onyx_status *hoist_quantize(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  qparam y;
  if (!act_param(c, i, true, &y)) return NULL;
  int v = g->nodes[i].in[0], op = g->values[v].producer;
  if (op < 0 || !is_movement(c, op) || g->nodes[op].n_out != 1 || g->nodes[op].n_in > 8 ||
      opt_single_consumer(c, v) != i)
    return NULL;
  int x = g->nodes[op].in[0];
  if (x < 0 || g->values[x].dtype != ONYX_DTYPE_FLOAT || g->values[x].producer < 0 || dq_of(c, x) >= 0 ||
      opt_single_consumer(c, x) != op)
    return NULL;
  int kill[2] = {op, i};
  if (!opt_quant_group_allowed(c, kill, 2, -1)) return NULL;
  char base[512];
  snprintf(base, sizeof base, "%s_quantized", g->values[x].name);
  int xq, qi, mi, out = g->nodes[i].out[0];
  ONYX_TRY(opt_add_value(g, base, &xq));
  int qin[3] = {x, g->nodes[i].in[1], g->nodes[i].n_in > 2 ? g->nodes[i].in[2] : -1};
  int mn = g->nodes[op].n_in, min[8];
  memcpy(min, g->nodes[op].in, (size_t)mn * sizeof *min);
  min[0] = xq;
  /* adding nodes may move g->nodes (not the strings they point at) */
  ONYX_TRY(opt_add_node(g, g->nodes[i].name, "QuantizeLinear", "", qin[2] >= 0 ? 3 : 2, qin, 1, &xq, &qi));
  ONYX_TRY(opt_copy_attrs(&g->nodes[qi], &g->nodes[i]));
  ONYX_TRY(opt_add_node(g, g->nodes[op].name, g->nodes[op].op_type, "", mn, min, 1, &out, &mi));
  ONYX_TRY(opt_copy_attrs(&g->nodes[mi], &g->nodes[op]));
  ONYX_TRY(opt_kill(c, op));
  ONYX_TRY(opt_kill(c, i));
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_qdq(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  bool done;
  /* first the Qs move up past data movement, then the groups are matched */
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "QuantizeLinear")) continue;
    ONYX_TRY(hoist_quantize(c, i, &done));
    *changed += done;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    done = false;
    if (opt_is(c, i, "Conv")) ONYX_TRY(fuse_conv(c, i, &done));
    else if (opt_is(c, i, "MatMul")) ONYX_TRY(fuse_matmul(c, i, false, &done));
    else if (opt_is(c, i, "Gemm")) ONYX_TRY(fuse_matmul(c, i, true, &done));
    else if (opt_is(c, i, "Add")) ONYX_TRY(fuse_add(c, i, &done));
    else if (opt_is(c, i, "GlobalAveragePool")) ONYX_TRY(fuse_global_average_pool(c, i, &done));
    else if (opt_is(c, i, "MaxPool") || opt_is(c, i, "Concat") || is_movement(c, i))
      ONYX_TRY(fuse_pass_through(c, i, &done));
    *changed += done;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "QuantizeLinear")) continue;
    ONYX_TRY(fuse_requantize(c, i, &done));
    *changed += done;
  }
  return NULL;
}
