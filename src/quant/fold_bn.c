/* fold_bn.c — the quantizer's one pre-processing step: BatchNormalization
 * after a Conv folds into the Conv's weights and bias, as ORT's
 * quant_pre_process (its graph optimizer) does before quantizing. Without
 * it the Conv output would be quantized once before the normalization and
 * the normalized tensor again after it; with it one int8 Conv does both.
 *
 * TODO(issue 7): move onto the optimizer's Conv+BN fusion once src/opt lands
 * in main, so that there is one implementation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "quant.h"

static const onyx_tensor *float_const(const onyx_graph *g, const onyx_node *n, int k) {
  if (k >= n->n_in || n->in[k] < 0) return NULL;
  const onyx_value *v = &g->values[n->in[k]];
  return v->init && !v->is_input && v->init->dtype == ONYX_DTYPE_FLOAT ? v->init : NULL;
}

static int readers(const onyx_graph *g, int v) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_in; k++) n += g->nodes[i].in[k] == v;
    for (int k = 0; k < g->nodes[i].n_implicit; k++) n += g->nodes[i].implicit[k] == v;
  }
  for (int k = 0; k < g->n_outputs; k++) n += g->outputs[k] == v;
  return n;
}

/* A new initializer named after `base` + suffix holding t (owned). */
static onyx_status *new_init(onyx_graph *g, const char *base_name, const char *suffix, onyx_tensor *t, int *out) {
  char base[400], name[512];
  snprintf(base, sizeof base, "%s", base_name);   /* the graph's values may move */
  snprintf(name, sizeof name, "%s%s", base, suffix);
  for (int k = 1; onyx_graph_find(g, name) >= 0; k++) snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
  onyx_status *s = onyx_graph_value(g, name, out);
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  onyx_value *v = &g->values[*out];
  v->init = t;
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, t->dims, (size_t)t->rank * sizeof *t->dims);
  return NULL;
}

/* Folds BatchNormalization node b into Conv node c when every piece is a
 * constant of the expected shape; *folded says whether it did. */
static onyx_status *fold(onyx_graph *g, int ci, int bi, bool *folded) {
  const onyx_node *c = &g->nodes[ci], *b = &g->nodes[bi];
  *folded = false;
  const onyx_tensor *w = float_const(g, c, 1), *cb = c->n_in > 2 && c->in[2] >= 0 ? float_const(g, c, 2) : NULL;
  const onyx_tensor *sc = float_const(g, b, 1), *bb = float_const(g, b, 2), *mean = float_const(g, b, 3),
                    *var = float_const(g, b, 4);
  if (!w || w->rank < 3 || !sc || !bb || !mean || !var || (c->n_in > 2 && c->in[2] >= 0 && !cb)) return NULL;
  int64_t m = w->dims[0], per = onyx_numel(w->rank - 1, w->dims + 1);
  const onyx_tensor *vec[5] = {sc, bb, mean, var, cb};
  for (int k = 0; k < 5; k++)
    if (vec[k] && onyx_numel(vec[k]->rank, vec[k]->dims) != m) return NULL;
  float eps = onyx_attr_float(b, "epsilon", 1e-5f);
  onyx_tensor *nw = NULL, *nb = NULL;
  int64_t dm[1] = {m};
  ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_FLOAT, w->rank, w->dims, &nw));
  onyx_status *s = onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, dm, &nb);
  if (s) {
    onyx_tensor_free(nw);
    return s;
  }
  const float *wp = w->data, *s_ = sc->data, *b_ = bb->data, *mu = mean->data, *va = var->data;
  float *nwp = nw->data, *nbp = nb->data;
  for (int64_t o = 0; o < m; o++) {
    float f = s_[o] / sqrtf(va[o] + eps);
    for (int64_t k = 0; k < per; k++) nwp[o * per + k] = wp[o * per + k] * f;
    nbp[o] = ((cb ? ((const float *)cb->data)[o] : 0.0f) - mu[o]) * f + b_[o];
  }
  /* the folded tensors take the names of the ones they replace when nothing
   * else reads those (the usual case), else new names */
  int wv = c->in[1], bv = b->in[2];
  if (readers(g, wv) == 1) {
    onyx_tensor_free(g->values[wv].init);
    g->values[wv].init = nw;
  } else if ((s = new_init(g, g->values[wv].name, "_bn_folded", nw, &wv))) {
    onyx_tensor_free(nb);
    return s;
  }
  if (readers(g, bv) == 1 && g->values[bv].init->rank == 1) {
    onyx_tensor_free(g->values[bv].init);
    g->values[bv].init = nb;
  } else {
    ONYX_TRY(new_init(g, g->values[bv].name, "_bn_folded", nb, &bv));
  }
  onyx_node *cn = &g->nodes[ci];
  if (cn->n_in < 3) {
    int *in = onyx_realloc(cn->in, 3 * sizeof *in);
    if (!in) return onyx_error_oom();
    cn->in = in;
    cn->n_in = 3;
  }
  int y = g->nodes[bi].out[0], old = cn->out[0];
  cn->in[1] = wv;
  cn->in[2] = bv;
  cn->out[0] = y;
  g->values[old].producer = -1;
  g->values[y].producer = ci;
  *folded = true;
  return NULL;
}

onyx_status *onyx_quant_fold_bn(onyx_model *m, int *folded) {
  onyx_graph *g = m->graph;
  bool *remove = onyx_calloc((size_t)g->n_nodes + 1, sizeof *remove);
  if (!remove) return onyx_error_oom();
  onyx_status *s = NULL;
  int count = 0;
  for (int bi = 0; bi < g->n_nodes && !s; bi++) {
    const onyx_node *b = &g->nodes[bi];
    if (strcmp(b->op_type, "BatchNormalization") || b->domain[0] || b->n_in < 5 || b->n_out != 1) continue;
    int x = b->in[0], ci = g->values[x].producer;
    if (ci < 0 || remove[ci] || strcmp(g->nodes[ci].op_type, "Conv") || g->nodes[ci].domain[0] ||
        g->nodes[ci].n_out != 1 || readers(g, x) != 1)
      continue;
    bool done;
    if (!(s = fold(g, ci, bi, &done)) && done) {
      remove[bi] = true;
      count++;
    }
  }
  if (!s && count) {
    onyx_graph_remove_nodes(g, remove);
    for (int v = 0; v < g->n_values; v++)   /* the original weights and BN parameters */
      if (g->values[v].init && !g->values[v].is_input && !readers(g, v)) {
        onyx_tensor_free(g->values[v].init);
        g->values[v].init = NULL;
      }
  }
  onyx_free(remove);
  if (!s) *folded = count;
  return s;
}
