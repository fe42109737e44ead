/* eliminate_noop.c — removal of nodes that compute nothing (level 1):
 * Identity; Dropout at inference (no mask read, training_mode absent or
 * false); Cast to the type it already has; Reshape and Expand to the shape
 * the input already has; Transpose by the identity permutation, and a
 * Transpose whose permutation undoes the one before it; Squeeze of an
 * Unsqueeze over the same axes and the reverse.
 *
 * "Same shape" is decided on inferred shapes: equal dims that are fixed, or
 * the same symbolic dim (same symbol, same size); an unknown dim never
 * matches. Readers of the removed node's output read its input instead
 * (opt_bypass keeps graph output names). */
#include <string.h>

#include "opt.h"

static bool same_shape(const onyx_value *a, const onyx_value *b) {
  if (a->rank < 0 || a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d] || a->dims[d] == ONYX_DIM_UNKNOWN) return false;
  return true;
}

/* Transpose permutation of node n over `rank` dims (default: reversed). */
static bool perm_of(const onyx_node *n, int rank, int64_t *perm) {
  int cnt;
  const int64_t *p;
  if (onyx_attr_ints(n, "perm", &cnt, &p)) {
    if (cnt != rank && rank >= 0) return false;
    for (int i = 0; i < cnt; i++) perm[i] = p[i];
    return cnt <= ONYX_MAX_RANK;
  }
  if (rank < 0) return false;
  for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
  return true;
}

/* Normalised, sorted axes of Squeeze/Unsqueeze node n over `rank` dims. */
static bool norm_axes(const onyx_graph *g, const onyx_node *n, int rank, int *cnt, int64_t *ax) {
  if (!opt_axes(g, n, 13, cnt, ax) || *cnt == 0) return false;
  for (int i = 0; i < *cnt; i++) {
    if (ax[i] < 0) ax[i] += rank;
    if (ax[i] < 0 || ax[i] >= rank) return false;
  }
  for (int i = 1; i < *cnt; i++)   /* insertion sort: a handful of axes */
    for (int j = i; j > 0 && ax[j - 1] > ax[j]; j--) {
      int64_t t = ax[j];
      ax[j] = ax[j - 1];
      ax[j - 1] = t;
    }
  return true;
}

/* The value node i is equivalent to (its pass-through input), or -1. */
static int noop_source(const opt_ctx *c, int i) {
  const onyx_graph *g = c->g;
  const onyx_node *n = &g->nodes[i];
  if (n->domain[0] || n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0) return -1;
  const onyx_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  const char *op = n->op_type;
  if (!strcmp(op, "Identity")) return n->in[0];
  if (!strcmp(op, "Dropout")) {
    if (n->opset < 7) return -1;   /* is_test decided it then */
    if (n->n_out > 1 && n->out[1] >= 0 && opt_uses(c, n->out[1])) return -1;
    double tm = 0;
    if (n->n_in > 2 && n->in[2] >= 0 && (!opt_const_scalar(g, n->in[2], &tm) || tm != 0)) return -1;
    return n->in[0];
  }
  if (!strcmp(op, "Cast"))
    return x->dtype != ONYX_DTYPE_UNDEFINED && x->kind == ONYX_KIND_TENSOR &&
                   onyx_attr_int(n, "to", 0) == (int64_t)x->dtype
               ? n->in[0]
               : -1;
  if (!strcmp(op, "Reshape") || !strcmp(op, "Expand"))
    return same_shape(x, y) && x->dtype == y->dtype ? n->in[0] : -1;
  if (!strcmp(op, "Transpose")) {
    int64_t p[ONYX_MAX_RANK];
    int r = x->rank;
    if (!perm_of(n, r, p)) return -1;
    bool ident = true;
    for (int k = 0; k < r; k++) ident = ident && p[k] == k;
    if (ident && r >= 0) return n->in[0];
    int pi = x->producer;
    if (pi < 0 || !opt_is(c, pi, "Transpose")) return -1;
    const onyx_node *inner = &g->nodes[pi];
    int64_t q[ONYX_MAX_RANK];
    if (!perm_of(inner, r, q)) return -1;
    /* y[i] = x[p[i]] = src[q[p[i]]] */
    for (int k = 0; k < r; k++)
      if (q[p[k]] != k) return -1;
    return r >= 0 ? inner->in[0] : -1;
  }
  if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
    bool sq = op[0] == 'S';
    int pi = x->producer;
    if (pi < 0 || !opt_is(c, pi, sq ? "Unsqueeze" : "Squeeze")) return -1;
    const onyx_node *inner = &g->nodes[pi];
    const onyx_value *src = &g->values[inner->in[0]];
    if (src->rank < 0 || x->rank < 0) return -1;
    /* Unsqueeze's axes index its output, Squeeze's its input: both x here
     * for Squeeze(Unsqueeze(src)); both src for Unsqueeze(Squeeze(src)) */
    int rank = sq ? x->rank : src->rank;
    int ca, cb;
    int64_t a[ONYX_MAX_RANK], b[ONYX_MAX_RANK];
    if (!norm_axes(g, n, rank, &ca, a) || !norm_axes(g, inner, rank, &cb, b) || ca != cb) return -1;
    for (int k = 0; k < ca; k++)
      if (a[k] != b[k]) return -1;
    return inner->in[0];
  }
  return -1;
}

onyx_status *opt_eliminate_noop(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    int src = noop_source(c, i);
    if (src < 0) continue;
    const onyx_node *n = &g->nodes[i];
    if (!opt_bypass(c, n->out[0], src)) continue;
    ONYX_TRY(opt_kill(c, i));
    (*changed)++;
  }
  return NULL;
}
