/* fold_constants.c — constant folding and shape folding (level 1).
 *
 * Constant folding evaluates every node whose inputs are all constants with
 * the cpu kernels (through opt_config.eval, the executor's node evaluator:
 * re-implementing every operator here would be a second source of truth)
 * and replaces it by initializers.
 * A size cap keeps folding from bloating the model: an output may be at most
 * 4x its inputs' bytes, or 1 MiB, whichever is larger (Constant nodes fold
 * whatever their size: their data is in the model already). Random ops are
 * never folded, nor nodes with subgraphs or with graph outputs (their value
 * would have to become an initializer output, which some runtimes reject).
 * DequantizeLinear of a constant (a QDQ model's weights) folds here only
 * when optimizing for level 1: at level 2 the QDQ fusion wants the 8-bit
 * weights, and dequantize_folding (level 2, after it) folds what it left.
 *
 * Subgraph constants: the Constant nodes inside If/Loop/Scan bodies (any
 * depth) become initializers of their subgraph, so a branch or loop body
 * does not rebuild them on every call.
 *
 * Shape folding turns Shape and Size of a value whose shape is fully static
 * into constants, and Gather(Shape(x), i) into one when the selected dims
 * are static even if others are not, so the shape arithmetic exported
 * models carry around Reshape folds away with constant folding. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "ops/ops.h"
#include "opt.h"

#define FOLD_ABS_CAP ((size_t)1 << 20)
#define FOLD_RATIO 4

static bool is_random(const char *op) {
  static const char *const random_ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                           "RandomUniformLike", "Multinomial", "Bernoulli", NULL};
  for (const char *const *r = random_ops; *r; r++)
    if (!strcmp(op, *r)) return true;
  return false;
}

/* A DequantizeLinear is left for the QDQ fusion when level 2 follows. */
static bool is_dequantize(const onyx_node *n) { return !n->domain[0] && !strcmp(n->op_type, "DequantizeLinear"); }

static bool foldable(const opt_ctx *c, const onyx_node *n) {
  const onyx_graph *g = c->g;
  if (n->op < 0 || is_random(n->op_type) || n->n_out == 0) return false;
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].g || n->attrs[a].graphs) return false;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0 && !opt_const(g, n->in[k])) return false;
  bool any_out = false;
  for (int k = 0; k < n->n_out; k++) {
    int v = n->out[k];
    if (v < 0) continue;
    if (g->values[v].is_output || g->values[v].kind != ONYX_KIND_TENSOR) return false;
    any_out = true;
  }
  if (!any_out) return false;
  /* a node with no inputs at all is a source: only Constant is known pure */
  return n->n_in > 0 || !strcmp(n->op_type, "Constant");
}

/* Gives each output of node ni its folded tensor; takes ownership of out[]. */
static onyx_status *install(opt_ctx *c, int ni, onyx_tensor **out) {
  onyx_graph *g = c->g;
  const onyx_node *n = &g->nodes[ni];
  onyx_status *s = NULL;
  for (int k = 0; k < n->n_out; k++) {
    if (!out[k]) continue;
    if (!s && !out[k]->owns_data) {
      /* a kernel may hand back a view of its input: own the bytes */
      onyx_tensor *cl;
      if (!(s = onyx_tensor_clone(out[k], &cl))) {
        onyx_tensor_free(out[k]);
        out[k] = cl;
      }
    }
    if (s || n->out[k] < 0) {
      onyx_tensor_free(out[k]);
      continue;
    }
    onyx_value *v = &g->values[n->out[k]];
    onyx_tensor_free(v->init);
    v->init = out[k];
    v->dtype = out[k]->dtype;
    v->rank = out[k]->rank;
    memcpy(v->dims, out[k]->dims, (size_t)out[k]->rank * sizeof v->dims[0]);
  }
  if (s) return s;
  return opt_kill(c, ni);
}

/* Folds the foldable nodes: every one (which 0), all but DequantizeLinear
 * (1), or DequantizeLinear alone (2). */
static onyx_status *fold(onyx_graph *g, opt_ctx *c, int which, int *changed) {
  *changed = 0;
  if (!c->cfg || !c->cfg->eval) return NULL;
  onyx_tensor *ins[64], *outs[64];
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    if (opt_is_dead(c, i) || n->n_in > 64 || n->n_out > 64) continue;
    if ((which == 1 && is_dequantize(n)) || (which == 2 && !is_dequantize(n)) || !foldable(c, n)) continue;
    size_t in_bytes = 0;
    for (int k = 0; k < n->n_in; k++) {
      ins[k] = n->in[k] >= 0 ? g->values[n->in[k]].init : NULL;
      if (ins[k]) in_bytes += ins[k]->nbytes;
    }
    onyx_status *s = c->cfg->eval(g, n, ins, outs, c->pool);
    if (s) {
      if (onyx_status_code(s) == ONYX_ERR_OUT_OF_MEMORY) return s;
      /* not foldable here (unsupported dtype, invalid data): the run reports it */
      onyx_log(ONYX_LOG_DEBUG, "constant_folding: skipped: %s", onyx_status_message(s));
      onyx_status_free(s);
      continue;
    }
    size_t out_bytes = 0;
    bool tensors = true;
    for (int k = 0; k < n->n_out; k++)
      if (outs[k]) {
        out_bytes += outs[k]->nbytes;
        tensors = tensors && outs[k]->kind == ONYX_KIND_TENSOR;
      }
    bool fits = !strcmp(n->op_type, "Constant") || out_bytes <= FOLD_ABS_CAP ||
                out_bytes <= FOLD_RATIO * in_bytes;
    if (!fits || !tensors) {
      for (int k = 0; k < n->n_out; k++) onyx_tensor_free(outs[k]);
      continue;
    }
    ONYX_TRY(install(c, i, outs));
    c->folded++;
    (*changed)++;
  }
  return NULL;
}

onyx_status *opt_fold_constants(onyx_graph *g, opt_ctx *c, int *changed) {
  return fold(g, c, c->level >= 2 ? 1 : 0, changed);
}

onyx_status *opt_fold_dequantize(onyx_graph *g, opt_ctx *c, int *changed) { return fold(g, c, 2, changed); }

/* ---- shape folding ----------------------------------------------------------- */

static onyx_status *i64_const(onyx_graph *g, int rank, int64_t count, const int64_t *vals,
                              onyx_tensor **out) {
  int64_t dims[1] = {count};
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_INT64, rank, dims, &t));
  if (count) memcpy(t->data, vals, (size_t)count * sizeof *vals);
  (void)g;
  *out = t;
  return NULL;
}

/* Replaces node ni's output 0 by constant t (owned). */
static onyx_status *replace_by_const(opt_ctx *c, int ni, onyx_tensor *t) {
  onyx_tensor *outs[1] = {t};
  onyx_node *n = &c->g->nodes[ni];
  for (int k = 1; k < n->n_out; k++)
    if (n->out[k] >= 0 && opt_uses(c, n->out[k])) {
      onyx_tensor_free(t);
      return NULL;
    }
  return install(c, ni, outs);
}

/* [start, end) of Shape's attributes (opset 15) clamped to rank. */
static void shape_range(const onyx_node *n, int rank, int *b, int *e) {
  int64_t s = onyx_attr_int(n, "start", 0), en = onyx_attr_int(n, "end", rank);
  if (s < 0) s += rank;
  if (en < 0) en += rank;
  s = s < 0 ? 0 : s > rank ? rank : s;
  en = en < 0 ? 0 : en > rank ? rank : en;
  *b = (int)s;
  *e = (int)(en < s ? s : en);
}

onyx_status *opt_fold_shapes(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    if (opt_is_dead(c, i) || n->domain[0] || n->n_in < 1 || n->in[0] < 0 || n->out[0] < 0 ||
        g->values[n->out[0]].is_output)
      continue;
    bool shape = !strcmp(n->op_type, "Shape"), size = !strcmp(n->op_type, "Size");
    bool gather = !strcmp(n->op_type, "Gather");
    if (!shape && !size && !gather) continue;
    onyx_tensor *t = NULL;
    if (shape || size) {
      const onyx_value *x = &g->values[n->in[0]];
      if (x->kind != ONYX_KIND_TENSOR || x->rank < 0) continue;
      bool fixed = true;
      int b = 0, e = x->rank;
      if (shape) shape_range(n, x->rank, &b, &e);
      for (int d = size ? 0 : b; d < e; d++) fixed = fixed && x->dims[d] >= 0;
      if (!fixed) continue;
      if (shape) ONYX_TRY(i64_const(g, 1, e - b, x->dims + b, &t));
      else {
        int64_t cnt = onyx_numel(x->rank, x->dims);
        ONYX_TRY(i64_const(g, 0, 1, &cnt, &t));
      }
    } else {
      /* Gather(Shape(x), idx) on axis 0 with the selected dims static */
      int src = g->values[n->in[0]].producer;
      if (n->n_in < 2 || src < 0 || opt_is_dead(c, src) || !opt_is(c, src, "Shape") ||
          onyx_attr_int(n, "axis", 0) != 0)
        continue;
      const onyx_node *sh = &g->nodes[src];
      const onyx_value *x = &g->values[sh->in[0]];
      const onyx_tensor *idx = opt_const(g, n->in[1]);
      if (x->rank < 0 || !idx || idx->rank > 1 ||
          (idx->dtype != ONYX_DTYPE_INT64 && idx->dtype != ONYX_DTYPE_INT32))
        continue;
      int b, e;
      shape_range(sh, x->rank, &b, &e);
      int64_t cnt = onyx_numel(idx->rank, idx->dims), vals[ONYX_MAX_RANK];
      bool ok = cnt <= ONYX_MAX_RANK;
      for (int64_t k = 0; ok && k < cnt; k++) {
        int64_t j = onyx_tensor_get_i64(idx, k);
        if (j < 0) j += e - b;
        ok = j >= 0 && j < e - b && x->dims[b + j] >= 0;
        if (ok) vals[k] = x->dims[b + j];
      }
      if (!ok) continue;
      ONYX_TRY(i64_const(g, idx->rank, cnt, vals, &t));
    }
    ONYX_TRY(replace_by_const(c, i, t));
    if (opt_is_dead(c, i)) {
      c->folded++;
      (*changed)++;
    }
  }
  return NULL;
}

/* Folds the Constant nodes of subgraph g and of the subgraphs inside it. */
static onyx_status *fold_sub_constants(onyx_graph *g, const opt_ctx *c, int *changed) {
  bool *remove = NULL;
  onyx_status *s = NULL;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    onyx_node *n = &g->nodes[i];
    for (int a = 0; a < n->n_attrs && !s; a++)
      if (n->attrs[a].g) s = fold_sub_constants(n->attrs[a].g, c, changed);
    int v = n->n_out == 1 ? n->out[0] : -1;
    if (s || n->op != onyx_op_Constant || v < 0 || g->values[v].is_output) continue;
    onyx_tensor *t = NULL;
    onyx_status *e = c->cfg->eval(g, n, NULL, &t, c->pool);
    if (e) {   /* an invalid Constant: the run reports it */
      bool oom = onyx_status_code(e) == ONYX_ERR_OUT_OF_MEMORY;
      onyx_status_free(e);
      if (oom) s = onyx_error_oom();
      continue;
    }
    if (!remove && !(remove = onyx_calloc((size_t)g->n_nodes, sizeof *remove))) {
      onyx_tensor_free(t);
      s = onyx_error_oom();
      break;
    }
    onyx_value *val = &g->values[v];
    val->init = t;
    val->dtype = t->dtype;
    val->rank = t->rank;
    memcpy(val->dims, t->dims, (size_t)t->rank * sizeof t->dims[0]);
    remove[i] = true;
    (*changed)++;
  }
  if (remove) onyx_graph_remove_nodes(g, remove);
  onyx_free(remove);
  return s;
}

onyx_status *opt_fold_subgraph_constants(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  if (!c->cfg || !c->cfg->eval) return NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    onyx_node *n = &g->nodes[i];
    if (opt_is_dead(c, i)) continue;
    for (int a = 0; a < n->n_attrs; a++)
      if (n->attrs[a].g) ONYX_TRY(fold_sub_constants(n->attrs[a].g, c, changed));
  }
  return NULL;
}
