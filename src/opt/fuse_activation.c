/* fuse_activation.c — Conv / Gemm / MatMul with what follows them fused into
 * one ai.onyx op (level 2), so the activation (and the residual add, and the
 * bias) run in the GEMM engine's epilogue while the output block is still in
 * cache instead of as separate passes over memory:
 *   Conv [+ Add(residual of the same shape)] [+ activation] -> FusedConv
 *   Gemm + activation                                      -> FusedGemm
 *   MatMul [+ Add(bias [N])] [+ activation]                 -> FusedMatMul
 *   MatMul + BiasGelu(with bias)                           -> FusedMatMul
 * Activations: Relu, Clip (constant bounds), LeakyRelu, Sigmoid,
 * HardSigmoid, HardSwish, Tanh, and Gelu (ai.onnx Gelu, or ai.onyx BiasGelu
 * without bias). Every intermediate must be read only by the next node of
 * the pattern, and everything must be float. Nodes another provider will
 * take (opt_claimed) are left to it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "opt.h"

typedef struct act_info {
  const char *name;   /* activation attribute value */
  int n_params;
  float params[2];
} act_info;

static bool is_float(const onyx_graph *g, int v) { return v >= 0 && g->values[v].dtype == ONYX_DTYPE_FLOAT; }

/* Whether node i is an activation the fused kernels apply; fills *a. */
static bool activation_of(const opt_ctx *c, int i, act_info *a) {
  const onyx_graph *g = c->g;
  if (i < 0 || opt_is_dead(c, i)) return false;
  const onyx_node *n = &g->nodes[i];
  if (n->n_out != 1 || n->out[0] < 0 || !is_float(g, n->out[0])) return false;
  memset(a, 0, sizeof *a);
  if (!strcmp(n->domain, "ai.onyx")) {
    if (strcmp(n->op_type, "BiasGelu") || (n->n_in > 1 && n->in[1] >= 0)) return false;
    a->name = !strcmp(onyx_attr_string(n, "approximate", "none"), "tanh") ? "GeluTanh" : "Gelu";
    return true;
  }
  if (n->domain[0]) return false;
  const char *op = n->op_type;
  static const char *const plain[] = {"Relu", "Sigmoid", "Tanh", "HardSwish", NULL};
  for (const char *const *p = plain; *p; p++)
    if (!strcmp(op, *p)) {
      a->name = *p;
      return true;
    }
  if (!strcmp(op, "Gelu")) {
    a->name = !strcmp(onyx_attr_string(n, "approximate", "none"), "tanh") ? "GeluTanh" : "Gelu";
    return true;
  }
  if (!strcmp(op, "LeakyRelu")) {
    a->name = op;
    a->n_params = 1;
    a->params[0] = onyx_attr_float(n, "alpha", 0.01f);
    return true;
  }
  if (!strcmp(op, "HardSigmoid")) {
    a->name = op;
    a->n_params = 2;
    a->params[0] = onyx_attr_float(n, "alpha", 0.2f);
    a->params[1] = onyx_attr_float(n, "beta", 0.5f);
    return true;
  }
  if (!strcmp(op, "Clip")) {
    double lo = -INFINITY, hi = INFINITY;
    if (n->opset < 11) {
      lo = onyx_attr_float(n, "min", -INFINITY);
      hi = onyx_attr_float(n, "max", INFINITY);
    } else {
      if (n->n_in > 1 && n->in[1] >= 0 && !opt_const_scalar(g, n->in[1], &lo)) return false;
      if (n->n_in > 2 && n->in[2] >= 0 && !opt_const_scalar(g, n->in[2], &hi)) return false;
    }
    a->name = op;
    a->n_params = 2;
    a->params[0] = (float)lo;
    a->params[1] = (float)hi;
    return true;
  }
  return false;
}

/* The activation reading value v as its only consumer, or -1. */
static int activation_after(const opt_ctx *c, int v, act_info *a) {
  int j = opt_single_consumer(c, v);
  return j >= 0 && c->g->nodes[j].in[0] == v && activation_of(c, j, a) ? j : -1;
}

static bool same_shape(const onyx_value *a, const onyx_value *b) {
  if (a->rank < 0 || a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d] || a->dims[d] == ONYX_DIM_UNKNOWN) return false;
  return true;
}

/* Appends the fused node: op `op` with inputs in[0..n_in), attributes of
 * node `like`, the activation (if any), writing value out; kills the
 * nodes of the pattern. */
static onyx_status *emit(opt_ctx *c, const char *op, int like, int n_in, const int *in,
                         const act_info *a, int out, const int *kill, int n_kill, bool *done) {
  onyx_graph *g = c->g;
  *done = false;
  if (!opt_cpu_nodes(c, kill, n_kill)) return NULL;   /* another provider fuses these */
  ONYX_TRY(opt_import_domain(g, "ai.onyx"));
  char name[256];
  snprintf(name, sizeof name, "%s_fused", g->nodes[like].name[0] ? g->nodes[like].name : op);
  int fi;
  ONYX_TRY(opt_add_node(g, name, op, "ai.onyx", n_in, in, 1, &out, &fi));
  onyx_node *f = &g->nodes[fi];
  ONYX_TRY(opt_copy_attrs(f, &g->nodes[like]));
  if (a && a->name) {
    ONYX_TRY(opt_set_string(f, "activation", a->name));
    if (a->n_params) ONYX_TRY(opt_set_floats(f, "activation_params", a->n_params, a->params));
  }
  for (int k = 0; k < n_kill; k++) ONYX_TRY(opt_kill(c, kill[k]));
  c->fused++;
  *done = true;
  return NULL;
}

onyx_status *opt_fuse_conv_activation(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "Conv")) continue;
    const onyx_node *cv = &g->nodes[i];
    int y = cv->out[0];
    if (y < 0 || !is_float(g, y) || !is_float(g, cv->in[0])) continue;
    int kill[3] = {i, -1, -1}, nk = 1, in[4] = {cv->in[0], cv->in[1], cv->n_in > 2 ? cv->in[2] : -1, -1};
    int out = y;
    act_info a = {0};
    int j = opt_single_consumer(c, y);
    if (opt_is(c, j, "Add")) {
      int z = opt_other_input(&g->nodes[j], y);
      if (z >= 0 && z != y && same_shape(&g->values[z], &g->values[y]) && is_float(g, z)) {
        in[3] = z;
        kill[nk++] = j;
        out = g->nodes[j].out[0];
      }
    }
    int k = activation_after(c, out, &a);
    if (k >= 0) {
      kill[nk++] = k;
      out = g->nodes[k].out[0];
    }
    if (nk == 1) continue;
    bool done;
    ONYX_TRY(emit(c, "FusedConv", i, in[3] >= 0 ? 4 : 3, in, k >= 0 ? &a : NULL, out, kill, nk, &done));
    *changed += done;
  }
  return NULL;
}

onyx_status *opt_fuse_gemm_activation(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "Gemm")) continue;
    const onyx_node *gm = &g->nodes[i];
    act_info a;
    int k = is_float(g, gm->out[0]) ? activation_after(c, gm->out[0], &a) : -1;
    if (k < 0) continue;
    int kill[2] = {i, k};
    bool done;
    ONYX_TRY(emit(c, "FusedGemm", i, gm->n_in, gm->in, &a, g->nodes[k].out[0], kill, 2, &done));
    *changed += done;
  }
  return NULL;
}

/* v is a bias for a MatMul output whose last dim is n: [n] (leading 1s ok). */
static bool is_bias(const onyx_graph *g, int v, int64_t n) {
  const onyx_value *b = &g->values[v];
  if (b->dtype != ONYX_DTYPE_FLOAT || b->rank < 1 || n < 0) return false;
  for (int d = 0; d < b->rank - 1; d++)
    if (b->dims[d] != 1) return false;
  return b->dims[b->rank - 1] == n;
}

onyx_status *opt_fuse_matmul_bias_activation(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "MatMul")) continue;
    const onyx_node *mm = &g->nodes[i];
    int y = mm->out[0];
    const onyx_value *yv = &g->values[y], *bv = &g->values[mm->in[1]];
    if (!is_float(g, y) || yv->rank < 1 || bv->rank < 2) continue;
    int64_t n = bv->dims[bv->rank - 1];
    int kill[3] = {i, -1, -1}, nk = 1, in[3] = {mm->in[0], mm->in[1], -1};
    int out = y;
    act_info a = {0};
    int j = opt_single_consumer(c, y), k = -1;
    if (opt_is(c, j, "Add")) {
      int b = opt_other_input(&g->nodes[j], y);
      if (b >= 0 && b != y && is_bias(g, b, n) && g->values[g->nodes[j].out[0]].rank == yv->rank) {
        in[2] = b;
        kill[nk++] = j;
        out = g->nodes[j].out[0];
      }
      k = activation_after(c, out, &a);
    } else if (j >= 0 && !strcmp(g->nodes[j].domain, "ai.onyx") &&
               !strcmp(g->nodes[j].op_type, "BiasGelu") && g->nodes[j].in[0] == y &&
               g->nodes[j].n_in > 1 && g->nodes[j].in[1] >= 0 && is_bias(g, g->nodes[j].in[1], n)) {
      in[2] = g->nodes[j].in[1];
      a.name = !strcmp(onyx_attr_string(&g->nodes[j], "approximate", "none"), "tanh") ? "GeluTanh" : "Gelu";
      k = j;
    } else {
      k = activation_after(c, out, &a);
    }
    if (k >= 0) {
      kill[nk++] = k;
      out = g->nodes[k].out[0];
    }
    if (nk == 1) continue;
    bool done;
    ONYX_TRY(emit(c, "FusedMatMul", i, in[2] >= 0 ? 3 : 2, in, k >= 0 ? &a : NULL, out, kill, nk, &done));
    *changed += done;
  }
  return NULL;
}
