/* fuse_gelu.c — GELU written out in elementary ops becomes one ai.onyx
 * BiasGelu (level 2), with the bias Add before it folded in when there is
 * one (the usual Linear -> GELU of transformer FFNs).
 *
 * Forms recognised, x being the GELU input:
 *   erf:  0.5 * x * (1 + Erf(x / sqrt(2)))      (x * 0.7071... also)
 *   tanh: 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 * with the final products in any of the three groupings exporters emit:
 * (x * t) * 0.5, x * (t * 0.5), (x * 0.5) * t, where t = 1 + Erf/Tanh(..).
 * Constants must match to 1e-4 relative; every intermediate must be read
 * only inside the pattern; x itself may have other readers (then the bias
 * Add stays). A pattern part of which another provider takes is fused only
 * when that provider takes the BiasGelu too. */
#include <stdio.h>
#include <string.h>

#include "opt.h"

#define TOL 1e-4

/* producer of v if it is a live `op` node whose output only `consumer`... */
static int producer_of(const opt_ctx *c, int v, const char *op) {
  int p = v >= 0 ? c->g->values[v].producer : -1;
  return opt_is(c, p, op) ? p : -1;
}

/* Binary node i is `op` with a scalar constant ~k on either side (or, with
 * right_only, as its second input); writes the other input to *x. */
static bool with_const(const opt_ctx *c, int i, const char *op, double k, bool right_only, int *x) {
  if (!opt_is(c, i, op)) return false;
  const onyx_node *n = &c->g->nodes[i];
  if (n->n_in != 2) return false;
  for (int side = right_only ? 1 : 0; side < 2; side++)
    if (opt_const_all(c->g, n->in[side], k, TOL) &&
        onyx_numel(c->g->values[n->in[side]].rank, c->g->values[n->in[side]].dims) == 1) {
      *x = n->in[1 - side];
      return true;
    }
  return false;
}

/* The single consumer of value v, when it is a live node. */
static int next(const opt_ctx *c, int v) { return opt_single_consumer(c, v); }

/* Matches the tanh argument sqrt(2/pi) * (x + 0.044715 * x^3); writes x and
 * the pattern's nodes. */
static bool tanh_arg(const opt_ctx *c, int v, int *x, int *nodes, int *nn) {
  int m1 = producer_of(c, v, "Mul"), inner;
  if (m1 < 0 || !with_const(c, m1, "Mul", 0.7978845608028654, false, &inner)) return false;
  int add = producer_of(c, inner, "Add");
  if (add < 0 || next(c, inner) != m1) return false;
  const onyx_node *a = &c->g->nodes[add];
  for (int side = 0; side < 2; side++) {
    int cand = a->in[side], other = a->in[1 - side], cube;
    int m2 = producer_of(c, other, "Mul");
    if (m2 < 0 || next(c, other) != add || !with_const(c, m2, "Mul", 0.044715, false, &cube)) continue;
    int pw = producer_of(c, cube, "Pow");
    if (pw < 0 || next(c, cube) != m2) continue;
    const onyx_node *p = &c->g->nodes[pw];
    if (p->in[0] != cand || !opt_const_all(c->g, p->in[1], 3.0, TOL)) continue;
    *x = cand;
    nodes[(*nn)++] = m1;
    nodes[(*nn)++] = add;
    nodes[(*nn)++] = m2;
    nodes[(*nn)++] = pw;
    return true;
  }
  return false;
}

/* The bias Add producing x, when x is read only by the `uses` pattern
 * nodes: writes its inputs; the Add is then part of the pattern. */
static int bias_add(const opt_ctx *c, int x, int uses, int *y, int *b) {
  int add = producer_of(c, x, "Add");
  if (add < 0 || opt_uses(c, x) != uses) return -1;
  const onyx_node *a = &c->g->nodes[add];
  const onyx_value *xv = &c->g->values[x];
  if (xv->rank < 1 || xv->dims[xv->rank - 1] < 0) return -1;
  for (int side = 0; side < 2; side++) {
    const onyx_tensor *t = opt_const(c->g, a->in[side]);
    if (!t || t->dtype != ONYX_DTYPE_FLOAT || t->rank < 1 || t->dims[t->rank - 1] != xv->dims[xv->rank - 1] ||
        onyx_numel(t->rank, t->dims) != t->dims[t->rank - 1] || a->in[1 - side] == a->in[side])
      continue;
    *y = a->in[1 - side];
    *b = a->in[side];
    return add;
  }
  return -1;
}

/* Counts the reads of x among the pattern nodes. */
static int reads(const opt_ctx *c, int x, const int *nodes, int nn) {
  int k = 0;
  for (int i = 0; i < nn; i++) {
    const onyx_node *n = &c->g->nodes[nodes[i]];
    for (int j = 0; j < n->n_in; j++) k += n->in[j] == x;
  }
  return k;
}

/* Matches from the Erf or Tanh node e; on success emits BiasGelu. */
static onyx_status *try_at(opt_ctx *c, int e, bool tanh_form, bool *done) {
  onyx_graph *g = c->g;
  int nodes[16], nn = 0, x = -1;
  *done = false;
  nodes[nn++] = e;
  int ein = g->nodes[e].in[0];
  if (next(c, ein) != e) return NULL;
  if (tanh_form) {
    if (!tanh_arg(c, ein, &x, nodes, &nn)) return NULL;
  } else {
    int d = producer_of(c, ein, "Div");
    if (d >= 0 && with_const(c, d, "Div", 1.4142135623730951, true, &x)) nodes[nn++] = d;
    else if ((d = producer_of(c, ein, "Mul")) >= 0 && with_const(c, d, "Mul", 0.7071067811865476, false, &x))
      nodes[nn++] = d;
    else
      return NULL;
  }
  int eo = g->nodes[e].out[0], t;
  int a1 = next(c, eo);
  if (a1 < 0 || !with_const(c, a1, "Add", 1.0, false, &t) || t != eo) return NULL;
  nodes[nn++] = a1;
  int tv = g->nodes[a1].out[0];
  int m = next(c, tv), other, out = -1;
  if (!opt_is(c, m, "Mul") || (other = opt_other_input(&g->nodes[m], tv)) < 0) return NULL;
  nodes[nn++] = m;
  int mo = g->nodes[m].out[0];
  if (other == x) {                                  /* (x * t) * 0.5 */
    int m2 = next(c, mo);
    if (!with_const(c, m2, "Mul", 0.5, false, &t) || t != mo) return NULL;
    nodes[nn++] = m2;
    out = g->nodes[m2].out[0];
  } else if (opt_const_all(g, other, 0.5, TOL)) {    /* x * (t * 0.5) */
    int m2 = next(c, mo);
    if (!opt_is(c, m2, "Mul") || opt_other_input(&g->nodes[m2], mo) != x) return NULL;
    nodes[nn++] = m2;
    out = g->nodes[m2].out[0];
  } else {                                           /* (x * 0.5) * t */
    int h = producer_of(c, other, "Mul");
    if (h < 0 || next(c, other) != m || !with_const(c, h, "Mul", 0.5, false, &t) || t != x) return NULL;
    nodes[nn++] = h;
    out = mo;
  }
  if (x < 0 || g->values[x].dtype != ONYX_DTYPE_FLOAT) return NULL;
  int y = x, b = -1;
  int add = bias_add(c, x, reads(c, x, nodes, nn), &y, &b);
  int in[2] = {add >= 0 ? y : x, b};
  nodes[nn] = add;
  char name[256];
  snprintf(name, sizeof name, "%s_gelu", g->nodes[e].name[0] ? g->nodes[e].name : "gelu");
  int fi, prev = g->values[out].producer;
  ONYX_TRY(opt_add_node(g, name, "BiasGelu", "ai.onyx", add >= 0 ? 2 : 1, in, 1, &out, &fi));
  ONYX_TRY(opt_set_string(&g->nodes[fi], "approximate", tanh_form ? "tanh" : "none"));
  /* fused where cpu runs the whole pattern, or where the provider that
   * takes part of it takes the fused op too (dnnl: a GELU post-op) */
  if (!opt_cpu_nodes(c, nodes, nn + 1) && !opt_claimed(c, fi)) {
    g->values[out].producer = prev;
    return opt_kill(c, fi);
  }
  ONYX_TRY(opt_import_domain(g, "ai.onyx"));
  for (int i = 0; i < nn; i++) ONYX_TRY(opt_kill(c, nodes[i]));
  if (add >= 0) ONYX_TRY(opt_kill(c, add));
  c->fused++;
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_gelu(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    bool erf = opt_is(c, i, "Erf"), th = !erf && opt_is(c, i, "Tanh");
    if (!erf && !th) continue;
    bool done;
    ONYX_TRY(try_at(c, i, th, &done));
    *changed += done;
  }
  return NULL;
}
