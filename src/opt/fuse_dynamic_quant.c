/* fuse_dynamic_quant.c — the dynamic-quantization fusion (level 2). A
 * dynamically quantized MatMul (onyx quantize --mode dynamic, or ONNX
 * Runtime's quantize_dynamic) is five nodes:
 *   DynamicQuantizeLinear(x) -> (x_q, x_scale, x_zp)
 *   MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(to float)
 *   Mul(x_scale, W_scale) -> Mul(product, scales) [-> Add(bias)]
 * each a pass over memory, the int32 product written out and read back
 * twice. They become one ai.onyx DynamicQuantMatMul(x, W_q, W_scale, W_zp,
 * [bias]) (ORT's DynamicQuantizeMatMul), which quantizes x and writes float
 * straight from the GEMM's int32 accumulators, scale and bias applied in the
 * write-out. The kernel takes the same float steps the nodes do (Cast, then
 * the scale product a Mul computes, then the bias), so the output is the
 * same to the bit. Conditions: W_q, W_zp, W_scale and the bias constant;
 * W_scale and the bias one value or one per output column; every
 * intermediate read by the next node only (the DynamicQuantizeLinear and the
 * scale Mul stay when something else reads them: the Q, K and V projections
 * of attention share one). Providers keep the group as for the QDQ fusion
 * (opt_quant_group_allowed). ConvInteger is left alone. */
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"
#include "opt.h"

/* Node i is a Mul with v as one input; writes the other, or -1. */
static int mul_other(const opt_ctx *c, int i, int v) {
  if (!opt_is(c, i, "Mul")) return -1;
  return opt_other_input(&c->g->nodes[i], v);
}

/* v is a float constant of rank <= max_rank with n values (or one, when
 * one_ok), shaped to broadcast along the last axis only ([n], [1, n], ...). */
static bool per_column(const onyx_graph *g, int v, int64_t n, bool one_ok, int max_rank) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->dtype != ONYX_DTYPE_FLOAT || t->rank > max_rank) return false;
  int64_t cnt = onyx_numel(t->rank, t->dims);
  if (cnt == 1 && (one_ok || n == 1)) return true;
  for (int d = 0; d + 1 < t->rank; d++)
    if (t->dims[d] != 1) return false;
  return t->rank >= 1 && cnt == n;
}

static onyx_status *fuse_one(opt_ctx *c, int i, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *mm = &g->nodes[i];
  if (mm->n_in < 3 || mm->n_out != 1 || mm->out[0] < 0 || mm->in[2] < 0) return NULL;
  /* A, its zero point: outputs 0 and 2 of one DynamicQuantizeLinear */
  int dql = g->values[mm->in[0]].producer;
  if (!opt_is(c, dql, "DynamicQuantizeLinear")) return NULL;
  const onyx_node *d = &g->nodes[dql];
  if (d->n_out < 3 || d->out[0] != mm->in[0] || d->out[2] != mm->in[2] || d->out[1] < 0) return NULL;
  /* B constant 2-D 8-bit, zero point constant or absent */
  const onyx_tensor *w = opt_const(g, mm->in[1]);
  int wz = mm->n_in > 3 ? mm->in[3] : -1;
  if (!w || w->rank != 2 || (w->dtype != ONYX_DTYPE_INT8 && w->dtype != ONYX_DTYPE_UINT8)) return NULL;
  if (wz >= 0 && !opt_const(g, wz)) return NULL;
  int64_t n = w->dims[1];
  int rank = g->values[mm->out[0]].rank;
  /* Cast(to float) -> Mul(., x_scale * W_scale) [-> Add(bias)] */
  int cast = opt_single_consumer(c, mm->out[0]);
  if (!opt_is(c, cast, "Cast") || onyx_attr_int(&g->nodes[cast], "to", 0) != ONYX_DTYPE_FLOAT) return NULL;
  int accf = g->nodes[cast].out[0];
  int mul = opt_single_consumer(c, accf);
  int scales = mul_other(c, mul, accf);
  if (scales < 0 || scales == accf) return NULL;
  int smul = g->values[scales].producer;
  int ws = mul_other(c, smul, g->nodes[dql].out[1]);
  if (ws < 0 || rank < 1 || !per_column(g, ws, n, true, rank)) return NULL;
  int out = g->nodes[mul].out[0], add = opt_single_consumer(c, out), bias = -1;
  if (opt_is(c, add, "Add")) {
    bias = opt_other_input(&g->nodes[add], out);
    if (bias >= 0 && bias != out && per_column(g, bias, n, false, rank))
      out = g->nodes[add].out[0];
    else
      add = bias = -1;
  } else {
    add = -1;
  }
  int in[5] = {g->nodes[dql].in[0], mm->in[1], ws, wz, bias}, writer = g->values[out].producer;
  char name[256];
  snprintf(name, sizeof name, "%s_fused", g->nodes[i].name[0] ? g->nodes[i].name : "DynamicQuantMatMul");
  int fi;
  ONYX_TRY(opt_add_node(g, name, "DynamicQuantMatMul", "ai.onyx", bias >= 0 ? 5 : 4, in, 1, &out, &fi));
  g->nodes[fi].op = onyx_op_DynamicQuantMatMul;
  int nodes[6] = {i, cast, mul, add, smul, dql};
  if (!opt_quant_group_allowed(c, nodes, 6, fi)) {
    g->values[out].producer = writer;
    return opt_kill(c, fi);
  }
  ONYX_TRY(opt_import_domain(g, "ai.onyx"));
  ONYX_TRY(opt_kill(c, i));
  ONYX_TRY(opt_kill(c, cast));
  ONYX_TRY(opt_kill(c, mul));
  if (add >= 0) ONYX_TRY(opt_kill(c, add));
  if (opt_uses(c, scales) == 0) ONYX_TRY(opt_kill(c, smul));
  bool dql_read = false;
  for (int k = 0; k < g->nodes[dql].n_out; k++)
    dql_read = dql_read || (g->nodes[dql].out[k] >= 0 && opt_uses(c, g->nodes[dql].out[k]) > 0);
  if (!dql_read) ONYX_TRY(opt_kill(c, dql));
  c->fused++;
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_dynamic_quant_matmul(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "MatMulInteger")) continue;
    bool done;
    ONYX_TRY(fuse_one(c, i, &done));
    *changed += done;
  }
  return NULL;
}
