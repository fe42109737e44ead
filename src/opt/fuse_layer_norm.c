/* fuse_layer_norm.c — layer normalization written out in elementary ops
 * becomes LayerNormalization, and a residual Add feeding a
 * LayerNormalization becomes ai.onyx SkipLayerNormalization (level 2).
 *
 * The decomposed form exporters emit for opsets before 17:
 *   m = ReduceMean(x, axes=[-1]); d = x - m; v = ReduceMean(Pow(d, 2)) (same
 *   axes); y = d / Sqrt(v + eps) [* gamma] [+ beta]
 * gamma and beta must be constants of the normalized size; both
 * ReduceMeans keep dims and reduce exactly the last axis; eps is a scalar
 * constant. The fused node is ai.onnx LayerNormalization (axis -1), the
 * op opset 17 standardised, also for models of older opsets (as ORT does):
 * level 2 output is not meant to be standard ONNX. A missing gamma becomes
 * a constant of ones. Intermediates must be read only inside the pattern.
 *
 * SkipLayerNormalization: LayerNormalization over the last axis of
 * Add(a, b), the sum read only by the norm. a and b need not be known to
 * have the same shape (models with dynamic dims rarely say so): the op
 * broadcasts them as Add does. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "opt.h"

/* ReduceMean node i reduces exactly the last axis of its input, keepdims. */
static bool mean_last_axis(const opt_ctx *c, int i) {
  const onyx_node *n = &c->g->nodes[i];
  int rank = c->g->values[n->in[0]].rank, cnt;
  int64_t ax[ONYX_MAX_RANK];
  if (rank < 1 || !onyx_attr_int(n, "keepdims", 1) || !opt_axes(c->g, n, 18, &cnt, ax) || cnt != 1) return false;
  return ax[0] == -1 || ax[0] == rank - 1;
}

static int producer_is(const opt_ctx *c, int v, const char *op) {
  int p = v >= 0 ? c->g->values[v].producer : -1;
  return opt_is(c, p, op) ? p : -1;
}

/* A float constant with n values laid along the last axis. */
static bool param_of(const onyx_graph *g, int v, int64_t n) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->dtype != ONYX_DTYPE_FLOAT || t->rank < 1 || onyx_numel(t->rank, t->dims) != n) return false;
  return t->dims[t->rank - 1] == n;
}

static onyx_status *ln_at(opt_ctx *c, int r1, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  if (!mean_last_axis(c, r1)) return NULL;
  int x = g->nodes[r1].in[0], m = g->nodes[r1].out[0];
  const onyx_value *xv = &g->values[x];
  int64_t n = xv->dims[xv->rank - 1];
  if (xv->dtype != ONYX_DTYPE_FLOAT || n < 1) return NULL;
  int sub = opt_single_consumer(c, m);
  if (!opt_is(c, sub, "Sub") || g->nodes[sub].in[0] != x || g->nodes[sub].in[1] != m) return NULL;
  int d = g->nodes[sub].out[0];
  /* d feeds Pow(d, 2) and the Div: two reads, nothing else */
  if (opt_uses(c, d) != 2) return NULL;
  int pw = -1, dv = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i) || g->nodes[i].n_in < 1 || g->nodes[i].in[0] != d) continue;
    if (opt_is(c, i, "Pow")) pw = i;
    else if (opt_is(c, i, "Div")) dv = i;
  }
  if (pw < 0 || dv < 0 || !opt_const_all(g, g->nodes[pw].in[1], 2.0, 0)) return NULL;
  int r2 = opt_single_consumer(c, g->nodes[pw].out[0]);
  if (!opt_is(c, r2, "ReduceMean") || !mean_last_axis(c, r2)) return NULL;
  int ad = opt_single_consumer(c, g->nodes[r2].out[0]);
  double eps;
  if (!opt_is(c, ad, "Add")) return NULL;
  int ev = opt_other_input(&g->nodes[ad], g->nodes[r2].out[0]);
  if (ev < 0 || !opt_const_scalar(g, ev, &eps)) return NULL;
  int sq = opt_single_consumer(c, g->nodes[ad].out[0]);
  if (!opt_is(c, sq, "Sqrt") || opt_single_consumer(c, g->nodes[sq].out[0]) != dv ||
      g->nodes[dv].in[1] != g->nodes[sq].out[0])
    return NULL;
  int nodes[10] = {r1, sub, pw, r2, ad, sq, dv}, nn = 7;
  int out = g->nodes[dv].out[0], gamma = -1, beta = -1;
  int mul = opt_single_consumer(c, out);
  if (opt_is(c, mul, "Mul") && param_of(g, opt_other_input(&g->nodes[mul], out), n)) {
    gamma = opt_other_input(&g->nodes[mul], out);
    nodes[nn++] = mul;
    out = g->nodes[mul].out[0];
    int add = opt_single_consumer(c, out);
    if (opt_is(c, add, "Add") && param_of(g, opt_other_input(&g->nodes[add], out), n)) {
      beta = opt_other_input(&g->nodes[add], out);
      nodes[nn++] = add;
      out = g->nodes[add].out[0];
    }
  }
  if (gamma < 0) {
    onyx_tensor *ones;
    ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, &n, &ones));
    for (int64_t i = 0; i < n; i++) ((float *)ones->data)[i] = 1.0f;
    ONYX_TRY(opt_add_const(g, "layer_norm_ones", ones, &gamma));
  }
  int in[3] = {x, gamma, beta};
  char name[256];
  snprintf(name, sizeof name, "%s_layernorm", g->nodes[r1].name[0] ? g->nodes[r1].name : "ln");
  int fi;
  ONYX_TRY(opt_add_node(g, name, "LayerNormalization", "", beta >= 0 ? 3 : 2, in, 1, &out, &fi));
  ONYX_TRY(opt_set_int(&g->nodes[fi], "axis", -1));
  ONYX_TRY(opt_set_float(&g->nodes[fi], "epsilon", (float)eps));
  for (int i = 0; i < nn; i++) ONYX_TRY(opt_kill(c, nodes[i]));
  c->fused++;
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_layer_norm(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "ReduceMean")) continue;
    bool done;
    ONYX_TRY(ln_at(c, i, &done));
    *changed += done;
  }
  return NULL;
}

onyx_status *opt_fuse_skip_layer_norm(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "LayerNormalization")) continue;
    const onyx_node *ln = &g->nodes[i];
    int x = ln->in[0], rank = g->values[x].rank;
    bool extra = false;
    for (int k = 1; k < ln->n_out; k++) extra = extra || (ln->out[k] >= 0 && opt_uses(c, ln->out[k]));
    int64_t axis = onyx_attr_int(ln, "axis", -1);
    if (extra || rank < 2 || (axis != -1 && axis != rank - 1) || g->values[x].dtype != ONYX_DTYPE_FLOAT)
      continue;
    int add = producer_is(c, x, "Add");
    if (add < 0 || opt_single_consumer(c, x) != i) continue;
    const onyx_node *a = &g->nodes[add];
    if (a->n_in != 2 || a->in[0] < 0 || a->in[1] < 0 || g->values[a->in[0]].dtype != ONYX_DTYPE_FLOAT ||
        g->values[a->in[1]].dtype != ONYX_DTYPE_FLOAT)
      continue;
    int pattern[2] = {i, add};
    if (!opt_cpu_nodes(c, pattern, 2)) continue;
    int in[4] = {a->in[0], a->in[1], ln->in[1], ln->n_in > 2 ? ln->in[2] : -1};
    int out = ln->out[0];
    float eps = onyx_attr_float(ln, "epsilon", 1e-5f);
    ONYX_TRY(opt_import_domain(g, "ai.onyx"));
    char name[256];
    snprintf(name, sizeof name, "%s_skip", g->nodes[i].name[0] ? g->nodes[i].name : "skip_layernorm");
    int fi;
    ONYX_TRY(opt_add_node(g, name, "SkipLayerNormalization", "ai.onyx", in[3] >= 0 ? 4 : 3, in, 1, &out, &fi));
    ONYX_TRY(opt_set_float(&g->nodes[fi], "epsilon", eps));
    ONYX_TRY(opt_kill(c, i));
    ONYX_TRY(opt_kill(c, add));
    c->fused++;
    (*changed)++;
  }
  return NULL;
}
