/* insert_casts.c — float16/bfloat16 models on kernels that compute in
 * float32 only (ONNX Runtime's InsertCastTransformer).
 *
 * A node whose dtypes are float16 or bfloat16 and that goes to the fallback
 * provider (no provider listed before it takes the node), where its kernel
 * takes float32 but not the node's dtype (opt_config.fallback_float_only),
 * runs in float32: each float16/bfloat16 input is cast up (initializers
 * converted once, here), each such output is computed in float32 and cast
 * back. It runs at every optimization level, since without it such a model
 * does not run at all; constant folding and the fusions at level 1 and up
 * then see ordinary float32 nodes. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "ops/ops.h"
#include "opt.h"

static bool is_half(onyx_dtype t) { return t == ONYX_DTYPE_FLOAT16 || t == ONYX_DTYPE_BFLOAT16; }

/* A float32 copy of 16-bit float initializer t. */
static onyx_status *widen(const onyx_tensor *t, onyx_tensor **out) {
  ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_FLOAT, t->rank, t->dims, out));
  float *d = (*out)->data;
  int64_t n = onyx_numel(t->rank, t->dims);
  for (int64_t i = 0; i < n; i++) d[i] = (float)onyx_tensor_get_f64(t, i);   /* exact for 16-bit floats */
  return NULL;
}

/* Adds Cast(in -> to) and writes its output value. */
static onyx_status *add_cast(onyx_graph *g, const char *base, int in, int to_dtype, int *out) {
  int idx;
  ONYX_TRY(opt_add_value(g, base, out));
  ONYX_TRY(opt_add_node(g, base, "Cast", "", 1, &in, 1, out, &idx));
  return opt_set_int(&g->nodes[idx], "to", to_dtype);
}

static onyx_status *cast_node(onyx_graph *g, int ni) {
  char base[160];
  for (int k = 0; k < g->nodes[ni].n_in; k++) {
    int v = g->nodes[ni].in[k];
    if (v < 0 || g->values[v].kind != ONYX_KIND_TENSOR || !is_half(g->values[v].dtype)) continue;
    snprintf(base, sizeof base, "%.120s_f32", g->values[v].name);
    int w;
    if (g->values[v].init) {
      onyx_tensor *t;
      ONYX_TRY(widen(g->values[v].init, &t));
      ONYX_TRY(opt_add_const(g, base, t, &w));
    } else {
      ONYX_TRY(add_cast(g, base, v, ONYX_DTYPE_FLOAT, &w));
    }
    ONYX_TRY(opt_set_input(&g->nodes[ni], k, w));
  }
  for (int k = 0; k < g->nodes[ni].n_out; k++) {
    int v = g->nodes[ni].out[k];
    if (v < 0 || g->values[v].kind != ONYX_KIND_TENSOR || !is_half(g->values[v].dtype)) continue;
    snprintf(base, sizeof base, "%.120s_f32", g->values[v].name);
    int w, idx;
    ONYX_TRY(opt_add_value(g, base, &w));
    g->nodes[ni].out[k] = w;
    ONYX_TRY(opt_add_node(g, base, "Cast", "", 1, &w, 1, &v, &idx));
    ONYX_TRY(opt_set_int(&g->nodes[idx], "to", g->values[v].dtype));
  }
  return NULL;
}

onyx_status *opt_insert_float_casts(onyx_graph *g, const opt_config *cfg, int *inserted) {
  *inserted = 0;
  if (!cfg->fallback_float_only) return NULL;
  int nn = g->n_nodes;   /* the casts appended below are not visited */
  for (int i = 0; i < nn; i++) {
    const onyx_node *n = &g->nodes[i];
    bool half = false;
    for (int k = 0; k < n->n_in + n->n_out && !half; k++) {
      int v = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
      half = v >= 0 && is_half(g->values[v].dtype);
    }
    if (!half || !cfg->fallback_float_only(cfg->claim_arg, g, n)) continue;
    if (cfg->claimed && cfg->claimed(cfg->claim_arg, g, n)) continue;
    onyx_log(ONYX_LOG_DEBUG, "insert_casts: node '%s' (%s) runs in float32", n->name, n->op_type);
    ONYX_TRY(cast_node(g, i));
    (*inserted)++;
  }
  if (!*inserted) return NULL;
  ONYX_TRY(onyx_graph_toposort(g));
  return onyx_graph_infer(g);
}
