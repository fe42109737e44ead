/* fuse_attention.c — the scaled dot-product attention core of exported
 * BERT-style models becomes one ai.onyx Attention (level 2).
 *
 * Pattern (PyTorch exports of multi-head attention), q, k, v being the
 * per-head projections reshaped to [B, S, heads, head_size]:
 *   qt = Transpose(q, [0,2,1,3]); kt = Transpose(k, [0,2,3,1]);
 *   vt = Transpose(v, [0,2,1,3]);
 *   p  = Softmax(MatMul(qt, kt) {/ c | * c} [+ mask], axis=-1);
 *   o  = Transpose(MatMul(p, vt), [0,2,1,3])
 * becomes o = Attention(q, k, v, [mask]) with scale 1/c or c. The scores
 * [B, heads, S, S] and the three transposed copies are never materialized.
 * The projections, their Reshapes and the Reshape after o stay as they are
 * (FusedMatMul takes the projections), so the shape arithmetic of models
 * with dynamic batch and sequence keeps working. Every intermediate must be
 * read only by the next node of the pattern; the mask must have rank <= 4
 * (it broadcasts to [B, heads, S, S]). */
#include <stdio.h>
#include <string.h>

#include "opt.h"

static int producer_is(const opt_ctx *c, int v, const char *op) {
  int p = v >= 0 ? c->g->values[v].producer : -1;
  return opt_is(c, p, op) && opt_single_consumer(c, v) >= 0 ? p : -1;
}

/* Transpose node i has permutation p (4 entries). */
static bool perm_is(const onyx_node *n, const int64_t *p) {
  int cnt;
  const int64_t *v;
  if (!onyx_attr_ints(n, "perm", &cnt, &v) || cnt != 4) return false;
  return !memcmp(v, p, 4 * sizeof *v);
}

/* v is the (optionally scaled) product of a MatMul: the scores side of the
 * mask Add (the mask itself is often computed by a Mul too). */
static bool scores_like(const opt_ctx *c, int v) {
  int p = v >= 0 ? c->g->values[v].producer : -1;
  if (opt_is(c, p, "MatMul")) return true;
  if (!opt_is(c, p, "Div") && !opt_is(c, p, "Mul")) return false;
  const onyx_node *n = &c->g->nodes[p];
  for (int i = 0; i < n->n_in; i++)
    if (n->in[i] >= 0 && opt_is(c, c->g->values[n->in[i]].producer, "MatMul")) return true;
  return false;
}

static const int64_t P0213[4] = {0, 2, 1, 3}, P0231[4] = {0, 2, 3, 1};

static onyx_status *attention_at(opt_ctx *c, int sm, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  const onyx_node *s = &g->nodes[sm];
  int sin = s->in[0], sout = s->out[0];
  if (g->values[sin].rank != 4 || g->values[sin].dtype != ONYX_DTYPE_FLOAT) return NULL;
  int64_t axis = onyx_attr_int(s, "axis", s->opset < 13 ? 1 : -1);
  if (axis != -1 && axis != 3) return NULL;
  int nodes[10], nn = 0, mask = -1;
  nodes[nn++] = sm;
  /* optional additive mask */
  int v = sin, p = producer_is(c, v, "Add");
  if (p >= 0) {
    const onyx_node *a = &g->nodes[p];
    for (int side = 0; side < 2 && mask < 0; side++) {
      int q = a->in[side];
      if (scores_like(c, q) && g->values[a->in[1 - side]].rank <= 4 && g->values[a->in[1 - side]].rank >= 0) {
        mask = a->in[1 - side];
        v = q;
      }
    }
    if (mask < 0) return NULL;
    nodes[nn++] = p;
  }
  /* optional scale */
  double scale = 1.0, k;
  if ((p = producer_is(c, v, "Div")) >= 0 || (p = producer_is(c, v, "Mul")) >= 0) {
    const onyx_node *d = &g->nodes[p];
    bool div = !strcmp(d->op_type, "Div");
    int side = opt_const_scalar(g, d->in[1], &k) ? 1 : (!div && opt_const_scalar(g, d->in[0], &k)) ? 0 : -1;
    if (side < 0 || (div && k == 0)) return NULL;
    scale = div ? 1.0 / k : k;
    v = d->in[1 - side];
    nodes[nn++] = p;
  }
  int mm = producer_is(c, v, "MatMul");
  if (mm < 0) return NULL;
  nodes[nn++] = mm;
  int qt = producer_is(c, g->nodes[mm].in[0], "Transpose"), kt = producer_is(c, g->nodes[mm].in[1], "Transpose");
  if (qt < 0 || kt < 0 || qt == kt || !perm_is(&g->nodes[qt], P0213) || !perm_is(&g->nodes[kt], P0231))
    return NULL;
  nodes[nn++] = qt;
  nodes[nn++] = kt;
  /* the probabilities times V, transposed back */
  int mm2 = opt_single_consumer(c, sout);
  if (!opt_is(c, mm2, "MatMul") || g->nodes[mm2].in[0] != sout) return NULL;
  int vt = producer_is(c, g->nodes[mm2].in[1], "Transpose");
  if (vt < 0 || !perm_is(&g->nodes[vt], P0213)) return NULL;
  int ot = opt_single_consumer(c, g->nodes[mm2].out[0]);
  if (!opt_is(c, ot, "Transpose") || !perm_is(&g->nodes[ot], P0213)) return NULL;
  nodes[nn++] = mm2;
  nodes[nn++] = vt;
  nodes[nn++] = ot;
  int in[4] = {g->nodes[qt].in[0], g->nodes[kt].in[0], g->nodes[vt].in[0], mask};
  for (int i = 0; i < 3; i++)
    if (g->values[in[i]].dtype != ONYX_DTYPE_FLOAT || g->values[in[i]].rank != 4) return NULL;
  if (mask >= 0 && g->values[mask].dtype != ONYX_DTYPE_FLOAT) return NULL;
  int out = g->nodes[ot].out[0];
  if (!opt_cpu_nodes(c, nodes, nn)) return NULL;
  ONYX_TRY(opt_import_domain(g, "ai.onyx"));
  char name[256];
  snprintf(name, sizeof name, "%s_attention", g->nodes[sm].name[0] ? g->nodes[sm].name : "attention");
  int fi;
  ONYX_TRY(opt_add_node(g, name, "Attention", "ai.onyx", mask >= 0 ? 4 : 3, in, 1, &out, &fi));
  ONYX_TRY(opt_set_float(&g->nodes[fi], "scale", (float)scale));
  for (int i = 0; i < nn; i++) ONYX_TRY(opt_kill(c, nodes[i]));
  c->fused++;
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_attention(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "Softmax")) continue;
    bool done;
    ONYX_TRY(attention_at(c, i, &done));
    *changed += done;
  }
  return NULL;
}
