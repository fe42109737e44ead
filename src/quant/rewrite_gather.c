/* rewrite_gather.c — weight-only quantization of embedding tables: a Gather
 * whose data is a float initializer becomes
 *
 *   Gather(table_q, indices) -> DequantizeLinear(scale, zero_point) -> y
 *
 * in every mode and format (ORT's GatherQuant / QDQGather end up as the same
 * graph). The table is stored in 8 bits and only the gathered rows are ever
 * dequantized, so a run reads a quarter of the bytes; for BERT-style models
 * the word embeddings are a fifth of the weights, so leaving them float
 * caps the size reduction near 60%. Per channel, scales run along the
 * table's last axis (the hidden size), which is also the last axis of the
 * gathered output whatever the indices' rank, hence DequantizeLinear
 * axis = -1 (opset 13). */
#include <string.h>

#include "base/alloc.h"
#include "qgraph.h"

static const char *const gather_ops[] = {"Gather", NULL};

/* Why Gather node i keeps a float table, or NULL. */
static const char *gather_check(const qctx *c, const onyx_node *n) {
  const char *f = qg_filtered(c, n, gather_ops);
  if (f) return f;
  if (n->n_in != 2 || n->n_out != 1) return "Gather without two inputs and one output";
  const onyx_tensor *w = qg_const(c->g, n->in[0]);
  if (!w) return "data is not a float initializer";
  if (w->rank < 1) return "data is a scalar";
  return NULL;
}

static onyx_status *gather_node(qctx *c, int i, int64_t opset) {
  const onyx_node *n = &c->g->nodes[i];
  const onyx_tensor *w = qg_const(c->g, n->in[0]);
  int rank = w->rank, idx = n->in[1], y = n->out[0];
  int64_t gaxis = onyx_attr_int(n, "axis", 0);
  if (gaxis < 0) gaxis += rank;
  /* per channel along the last axis only when that axis is not the one gathered */
  int axis = c->cfg->per_channel && opset >= 13 && rank >= 2 && gaxis != rank - 1 ? rank - 1 : -1;
  onyx_qweight qw;
  ONYX_TRY(onyx_quant_weight(w, axis, c->cfg->weight_type, c->cfg->weight_symmetric, c->cfg->reduce_range, &qw));
  char *base = onyx_strdup(c->g->values[n->in[0]].name);
  char *ybase = onyx_strdup(c->g->values[y].name);
  int qv = -1, sv = -1, zv = -1, gathered, node;
  onyx_status *s = qg_weight_inits(c, base, &qw, &qv, &sv, &zv);
  if (!s && !ybase) s = onyx_error_oom();
  if (!s) s = qg_new_value(c, ybase, "_quantized", &gathered);
  if (!s) {
    int in[2] = {qv, idx};
    s = qg_node(c, ybase, "_Gather_quantized", "Gather", 2, in, 1, &gathered, &node);
  }
  if (!s) s = qg_copy_attrs(c, i, node, NULL);
  if (!s) {
    int in[3] = {gathered, sv, zv};
    s = qg_node(c, ybase, "_DequantizeLinear", "DequantizeLinear", 3, in, 1, &y, &node);
  }
  if (!s && axis >= 0) s = qg_attr_int(c, node, "axis", -1);
  if (!s) {
    c->remove[i] = true;
    s = qctx_note(c, i, true, "8-bit table, Gather then DequantizeLinear (%s)",
                  axis >= 0 ? "per-channel" : "per-tensor");
  }
  onyx_free(base);
  onyx_free(ybase);
  return s;
}

onyx_status *onyx_quant_rewrite_gather(qctx *c) {
  int64_t opset = onyx_model_opset(c->m, "");
  for (int i = 0; i < c->n_orig; i++) {
    const onyx_node *n = &c->g->nodes[i];
    if (strcmp(n->op_type, "Gather") || n->domain[0]) continue;
    const char *why = gather_check(c, n);
    /* Gathers over shapes and other non-constant data get their note from the mode's rewrite */
    if (why && !qg_const(c->g, n->in[0])) continue;
    ONYX_TRY(why ? qctx_note(c, i, false, "%s", why) : gather_node(c, i, opset));
  }
  return NULL;
}
