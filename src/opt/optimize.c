/* optimize.c — the pass manager: the table of built-in passes, level and
 * name selection, the fixed-point loop, per-pass statistics, and the checks
 * run after every pass in test builds.
 *
 * After a pass changes the graph it is re-sorted (passes append the nodes
 * they create) and re-inferred (new nodes need their op id and their output
 * types). With ONYX_VALIDATE_PASSES=1 in the environment, or in builds
 * compiled with ONYX_VALIDATE_PASSES (the sanitizer build), the graph is
 * also validated, and any failure names the pass that broke it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/clock.h"
#include "ops/ops.h"
#include "opt.h"

#define MAX_ROUNDS 16   /* fixed-point iterations per level; a safety net */

static const char *const ops_conv[] = {"Conv", NULL};
static const char *const ops_matmul[] = {"MatMul", NULL};
static const char *const ops_shape[] = {"Shape", "Size", NULL};
static const char *const ops_noop[] = {"Identity", "Dropout", "Cast", "Reshape", "Transpose",
                                       "Squeeze", "Unsqueeze", "Expand", NULL};
static const char *const ops_bn[] = {"BatchNormalization", NULL};
static const char *const ops_gelu[] = {"Erf", "Tanh", NULL};
static const char *const ops_ln[] = {"ReduceMean", NULL};
static const char *const ops_sln[] = {"LayerNormalization", NULL};
static const char *const ops_softmax[] = {"Softmax", NULL};
static const char *const ops_gemm[] = {"Gemm", NULL};
static const char *const ops_dq[] = {"DequantizeLinear", NULL};
static const char *const ops_qdq[] = {"DequantizeLinear", "QuantizeLinear", NULL};
static const char *const ops_mmi[] = {"MatMulInteger", NULL};
static const char *const ops_sub[] = {"If", "Loop", "Scan", "SequenceMap", NULL};

static const opt_pass builtin[] = {
    /* level 1: standard ONNX in, standard ONNX out */
    {"constant_folding", 1, NULL, opt_fold_constants, NULL, NULL},
    {"shape_folding", 1, ops_shape, opt_fold_shapes, NULL, NULL},
    {"subgraph_constants", 1, ops_sub, opt_fold_subgraph_constants, NULL, NULL},
    {"noop_elimination", 1, ops_noop, opt_eliminate_noop, NULL, NULL},
    {"common_subexpression", 1, NULL, opt_eliminate_common, NULL, NULL},
    {"conv_bn_folding", 1, ops_bn, opt_fold_conv_bn, NULL, NULL},
    {"conv_mul_add_folding", 1, ops_conv, opt_fold_conv_mul_add, NULL, NULL},
    {"matmul_add_to_gemm", 1, ops_matmul, opt_fuse_matmul_add, NULL, NULL},
    {"dead_code", 1, NULL, opt_eliminate_dead, NULL, NULL},
    /* level 2: fusions into ai.onyx ops (LayerNormalization stays ai.onnx),
     * first the quantized groups into integer ops, then the weights they
     * left dequantized fold */
    {"qdq_fusion", 2, ops_qdq, opt_fuse_qdq, NULL, NULL},
    {"dynamic_quant_matmul_fusion", 2, ops_mmi, opt_fuse_dynamic_quant_matmul, NULL, NULL},
    {"dequantize_folding", 2, ops_dq, opt_fold_dequantize, NULL, NULL},
    {"gelu_fusion", 2, ops_gelu, opt_fuse_gelu, NULL, NULL},
    {"layer_norm_fusion", 2, ops_ln, opt_fuse_layer_norm, NULL, NULL},
    {"skip_layer_norm_fusion", 2, ops_sln, opt_fuse_skip_layer_norm, NULL, NULL},
    {"attention_fusion", 2, ops_softmax, opt_fuse_attention, NULL, NULL},
    {"conv_activation_fusion", 2, ops_conv, opt_fuse_conv_activation, NULL, NULL},
    {"gemm_activation_fusion", 2, ops_gemm, opt_fuse_gemm_activation, NULL, NULL},
    {"matmul_bias_activation_fusion", 2, ops_matmul, opt_fuse_matmul_bias_activation, NULL, NULL},
    {"dead_code", 2, NULL, opt_eliminate_dead, NULL, NULL},
};
#define N_BUILTIN (int)(sizeof builtin / sizeof builtin[0])

/* Passes the executor runs when it plans (see onyx_plan_config): named here
 * so that the pass lists select them like graph passes. */
static const char *const plan_passes[] = {OPT_PASS_MEMORY_ORDER};
#define N_PLAN_PASSES (int)(sizeof plan_passes / sizeof plan_passes[0])

const opt_pass *opt_builtin_passes(int *n) {
  *n = N_BUILTIN;
  return builtin;
}

const char *onyx_optimizer_passes(void) {
  return "constant_folding,shape_folding,subgraph_constants,noop_elimination,common_subexpression,conv_bn_folding,"
         "conv_mul_add_folding,matmul_add_to_gemm,dead_code,qdq_fusion,dynamic_quant_matmul_fusion,"
         "dequantize_folding,gelu_fusion,layer_norm_fusion,"
         "skip_layer_norm_fusion,attention_fusion,conv_activation_fusion,gemm_activation_fusion,"
         "matmul_bias_activation_fusion," OPT_PASS_MEMORY_ORDER;
}

/* True when `name` is an item of the comma-separated list. */
static bool in_list(const char *list, const char *name) {
  if (!list) return false;
  size_t len = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == len && !strncmp(p, name, len)) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

/* Every item of `list` names a built-in or custom pass. */
static onyx_status *check_names(const char *list, const opt_config *cfg, const char *what) {
  if (!list) return NULL;
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    bool known = false;
    for (int i = 0; i < N_BUILTIN && !known; i++)
      known = strlen(builtin[i].name) == l && !strncmp(builtin[i].name, p, l);
    for (int i = 0; i < N_PLAN_PASSES && !known; i++)
      known = strlen(plan_passes[i]) == l && !strncmp(plan_passes[i], p, l);
    for (int i = 0; i < cfg->n_custom && !known; i++)
      known = strlen(cfg->custom[i].name) == l && !strncmp(cfg->custom[i].name, p, l);
    if (!known && l)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: unknown optimizer pass '%.*s' (known: %s)", what,
                        (int)l, p, onyx_optimizer_passes());
    if (!e) break;
    p = e + 1;
  }
  return NULL;
}

/* The graph holds a live node of one of the pass's target op types. */
static bool has_target(const onyx_graph *g, const opt_pass *p) {
  if (!p->ops) return true;
  for (int i = 0; i < g->n_nodes; i++)
    for (const char *const *o = p->ops; *o; o++)
      if (!strcmp(g->nodes[i].op_type, *o)) return true;
  return false;
}

static bool validate_enabled(void) {
#ifdef ONYX_VALIDATE_PASSES
  return true;
#else
  const char *e = getenv("ONYX_VALIDATE_PASSES");
  return e && *e && strcmp(e, "0");
#endif
}

/* Removes the nodes the pass marked, then sorts and re-infers. */
static onyx_status *settle(onyx_graph *g, opt_ctx *c, bool validate) {
  if (c->cap_dead) {
    bool *rm = onyx_calloc((size_t)g->n_nodes + 1, sizeof *rm);
    if (!rm) return onyx_error_oom();
    for (int i = 0; i < g->n_nodes && i < c->cap_dead; i++) rm[i] = c->dead[i];
    onyx_graph_remove_nodes(g, rm);
    onyx_free(rm);
    memset(c->dead, 0, (size_t)c->cap_dead * sizeof *c->dead);
  }
  ONYX_TRY(onyx_graph_toposort(g));
  if (validate) ONYX_TRY(onyx_graph_validate(g));
  return onyx_graph_infer(g);
}

/* Runs pass p once, with statistics into st. */
static onyx_status *apply_pass(onyx_graph *g, const opt_pass *p, opt_ctx *c, onyx_pass_stat *st,
                               bool validate, int *changed) {
  int before = g->n_nodes;
  c->fused = c->folded = 0;
  int64_t t0 = onyx_now_ns();
  onyx_status *s = p->custom ? p->custom(g, p->custom_arg, changed) : p->apply(g, c, changed);
  if (!s && (*changed || c->cap_dead)) s = settle(g, c, validate);
  st->ns += onyx_now_ns() - t0;
  st->runs++;
  if (s) return onyx_error_wrap(s, "optimizer pass '%s'", p->name);
  st->changes += *changed;
  st->fused += c->fused;
  st->folded += c->folded;
  if (g->n_nodes < before) st->nodes_removed += before - g->n_nodes;
  else st->nodes_added += g->n_nodes - before;
  if (*changed)
    onyx_log(ONYX_LOG_DEBUG, "optimizer: %s: %d change(s), nodes %d -> %d, fused %lld, folded %lld",
             p->name, *changed, before, g->n_nodes, (long long)c->fused, (long long)c->folded);
  return NULL;
}

bool opt_pass_selected(const char *only, const char *disable, const char *name) {
  if (only && *only && !in_list(only, name)) return false;
  return !(disable && in_list(disable, name));
}

static bool selected(const opt_config *cfg, const char *name) {
  return opt_pass_selected(cfg->only, cfg->disable, name);
}

onyx_status *opt_run(onyx_graph *g, const opt_config *cfg, onyx_optimize_stats *stats) {
  onyx_optimize_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  stats->level = cfg->level;
  stats->nodes_before = stats->nodes_after = g->n_nodes;
  ONYX_TRY(check_names(cfg->only, cfg, "passes"));
  ONYX_TRY(check_names(cfg->disable, cfg, "disabled passes"));
  int cast = 0;
  ONYX_TRY(opt_insert_float_casts(g, cfg, &cast));   /* not optional: without it such nodes cannot run */
  stats->nodes_before = g->n_nodes;
  if (cfg->level <= 0) {
    stats->nodes_after = g->n_nodes;
    return NULL;
  }
  bool validate = validate_enabled();
  /* the passes of each level in run order: built-ins, then user passes */
  const opt_pass *order[ONYX_MAX_PASS_STATS];
  int n = 0;
  for (int lv = 1; lv <= cfg->level && lv <= 3; lv++) {
    for (int i = 0; i < N_BUILTIN && n < ONYX_MAX_PASS_STATS; i++)
      if (builtin[i].level == lv && selected(cfg, builtin[i].name)) order[n++] = &builtin[i];
    for (int i = 0; i < cfg->n_custom && n < ONYX_MAX_PASS_STATS; i++)
      if (cfg->custom[i].level == lv && selected(cfg, cfg->custom[i].name)) order[n++] = &cfg->custom[i];
  }
  stats->n_passes = n;
  for (int i = 0; i < n; i++) {
    snprintf(stats->passes[i].name, sizeof stats->passes[i].name, "%s", order[i]->name);
    stats->passes[i].level = order[i]->level;
  }
  opt_ctx c = {g, cfg->level, cfg->pool, 0, 0, NULL, 0, cfg};
  onyx_status *s = NULL;
  for (int lv = 1; lv <= cfg->level && lv <= 3 && !s; lv++) {
    for (int round = 0; round < MAX_ROUNDS && !s; round++) {
      int total = 0;
      for (int i = 0; i < n && !s; i++) {
        if (order[i]->level != lv || !has_target(g, order[i])) continue;
        int changed = 0;
        s = apply_pass(g, order[i], &c, &stats->passes[i], validate, &changed);
        total += changed;
      }
      if (!total) break;
    }
  }
  onyx_free(c.dead);
  stats->nodes_after = g->n_nodes;
  if (!s)
    onyx_log(ONYX_LOG_DEBUG, "optimizer: level %d: %lld -> %lld nodes", cfg->level,
             (long long)stats->nodes_before, (long long)stats->nodes_after);
  return s;
}
