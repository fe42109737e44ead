/* opt.h — the graph optimizer's internal interface: passes, the context a
 * pass runs in, the pass manager entry point and the graph-editing helpers
 * every pass shares (opt_util.c).
 *
 * A pass is (name, level, target op types, apply). The manager (optimize.c)
 * runs the passes of each level in turn, repeating a level until no pass
 * changes anything (a fixed point), sorts and re-infers the graph after every
 * pass that changed it, and in test builds validates it too, failing with
 * the pass's name. Levels follow ORT: 0 disabled, 1 basic (standard ONNX in,
 * standard ONNX out), 2 extended (fusions into ai.onyx ops), 3 all (level 2
 * plus what needs no provider; provider layout work is not here).
 *
 * Passes edit the graph in place through onyx_graph's own API plus the
 * helpers below. Rules every pass keeps: graph input and output names never
 * change; a value shared with another consumer is never modified in place
 * (folding into weights makes new initializers); nodes are removed through
 * opt_kill (applied after the pass returns) so node indices stay valid
 * while a pass runs; new nodes are appended (the manager re-sorts). */
#ifndef ONYX_OPT_H
#define ONYX_OPT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/parallel.h"
#include "base/status.h"
#include "ir/ir.h"
#include "onyx.h"

/* What a pass sees while it runs. The pass adds to `fused` (patterns it
 * replaced by one op) and `folded` (nodes turned into constants or folded
 * into weights); the manager counts nodes removed and added itself. */
typedef struct opt_ctx {
  onyx_graph *g;
  int level;                     /* the level being optimized for */
  const onyx_threadpool *pool;   /* for constant folding; may be NULL */
  int64_t fused, folded;
  bool *dead;                    /* nodes marked by opt_kill, removed after the pass */
  int cap_dead;
  const struct opt_config *cfg;  /* for opt_claimed */
} opt_ctx;

/* Applies the pass once over the whole graph; *changed receives the number
 * of rewrites made (0: nothing to do). Errors are real failures (out of
 * memory, a kernel failing while folding), not "pattern not found". */
typedef onyx_status *(*opt_apply_fn)(onyx_graph *g, opt_ctx *c, int *changed);

typedef struct opt_pass {
  const char *name;
  int level;                     /* 1, 2 or 3 */
  const char *const *ops;        /* target op types, NULL-terminated; NULL: any */
  opt_apply_fn apply;
  onyx_pass_fn custom;           /* a user pass (onyx_options_add_pass) instead of apply */
  void *custom_arg;
} opt_pass;

/* True when an execution provider other than cpu will take node n of g
 * (it comes first in the session's provider list and supports the node).
 * The fusions into ai.onyx ops are cpu fusions, as in ORT: they leave such
 * nodes to that provider, which fuses in its own way (oneDNN post-ops). */
typedef bool (*opt_claim_fn)(void *arg, const onyx_graph *g, const onyx_node *n);

/* What to run: level, pass selection and user passes. */
typedef struct opt_config {
  int level;
  const char *only;              /* comma-separated pass names to run exclusively, or NULL/"" */
  const char *disable;           /* comma-separated pass names to skip, or NULL/"" */
  int n_custom;
  const opt_pass *custom;        /* user passes (borrowed) */
  const onyx_threadpool *pool;
  opt_claim_fn claimed;          /* may be NULL: every node runs on cpu */
  void *claim_arg;
  /* may be NULL (none is): n goes to such a provider whose memory is not
   * the host's (a GPU); same claim_arg */
  opt_claim_fn claimed_off_host;
  /* evaluates node n of g on constant inputs with the cpu kernels (the
   * executor's onyx_exec_node, handed down so the optimizer need not call
   * the layer above it); NULL: constant folding is off */
  onyx_status *(*eval)(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in, onyx_tensor **out,
                       const onyx_threadpool *pool);
  /* may be NULL: node n, on the fallback provider, has a kernel for
   * float32 but not for n's dtypes (float16/bfloat16 inputs); same
   * claim_arg. Such nodes run in float32 between casts (insert_casts.c). */
  bool (*fallback_float_only)(void *arg, const onyx_graph *g, const onyx_node *n);
} opt_config;

/* Casts around the float16/bfloat16 nodes the fallback provider computes
 * in float32 only (see opt_config.fallback_float_only); *inserted counts
 * the nodes so wrapped. Run by opt_run at every level. */
onyx_status *opt_insert_float_casts(onyx_graph *g, const opt_config *cfg, int *inserted);

/* Optimizes g (a sorted, inferred main graph) in place. stats may be NULL. */
onyx_status *opt_run(onyx_graph *g, const opt_config *cfg, onyx_optimize_stats *stats);

/* The plan-time pass that orders nodes for memory (onyx_plan_config). */
#define OPT_PASS_MEMORY_ORDER "memory_order"

/* Whether pass `name` runs under the lists `only` (empty: all) and
 * `disable` (comma-separated names; either may be NULL). */
bool opt_pass_selected(const char *only, const char *disable, const char *name);

/* The built-in passes in run order (static storage), and their number. */
const opt_pass *opt_builtin_passes(int *n);

/* Built-in pass functions (one file each). */
onyx_status *opt_fold_constants(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fold_shapes(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fold_subgraph_constants(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_eliminate_dead(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_eliminate_common(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_eliminate_noop(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fold_conv_bn(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fold_conv_mul_add(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_matmul_add(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_gelu(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_layer_norm(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_skip_layer_norm(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_attention(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_conv_activation(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_gemm_activation(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_matmul_bias_activation(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_qdq(onyx_graph *g, opt_ctx *c, int *changed);
onyx_status *opt_fuse_dynamic_quant_matmul(onyx_graph *g, opt_ctx *c, int *changed);
/* Constant folding of the DequantizeLinear nodes alone: level 1 leaves them
 * to the QDQ fusion when level 2 follows; what it did not take folds here. */
onyx_status *opt_fold_dequantize(onyx_graph *g, opt_ctx *c, int *changed);

/* ---- helpers (opt_util.c) ------------------------------------------------ */

/* Node n (index) is of op_type in the default domain and not marked dead. */
bool opt_is(const opt_ctx *c, int n, const char *op_type);
/* Node n will run on a provider other than cpu (see opt_claim_fn). */
bool opt_claimed(const opt_ctx *c, int n);
/* None of nodes[0..count) is claimed: a cpu fusion may take them all. */
bool opt_cpu_nodes(const opt_ctx *c, const int *nodes, int count);
/* Node n will run on a provider whose memory is not the host's. */
bool opt_claimed_off_host(const opt_ctx *c, int n);
/* Whether the quantized group nodes[0..count) (-1 entries ignored) may be
 * replaced by the integer node `fused`, already in the graph with its op
 * id (-1: rewritten in place, no new op): when another provider takes the integer op itself, or no node of the
 * group goes to a provider off the host. A host provider (dnnl) that takes
 * the group's float op but not its integer op has no integer form of it
 * (oneDNN declines int8 with full-range weights without VNNI): the integer
 * op on cpu beats its float op between conversions by far. A provider off
 * the host (a GPU) keeps its groups: it reads QDQ itself or runs the float
 * op faster than the host's integer op. */
bool opt_quant_group_allowed(const opt_ctx *c, const int *nodes, int count, int fused);
/* Marks node n for removal after the pass. */
onyx_status *opt_kill(opt_ctx *c, int n);
bool opt_is_dead(const opt_ctx *c, int n);

/* Number of uses of value v: node inputs (implicit ones included) of live
 * nodes, plus one if it is a graph output. */
int opt_uses(const opt_ctx *c, int v);
/* The only live consumer node of v, or -1 when v has not exactly one use
 * (a graph output counts as a use). */
int opt_single_consumer(const opt_ctx *c, int v);
/* Replaces every read of value `from` by live nodes with `to`. Returns false
 * (changing nothing) when a subgraph reads `from` by name. */
bool opt_replace_uses(opt_ctx *c, int from, int to);
/* Makes consumers of node n's output `out` read value `in` instead, so that
 * n can be removed. When `out` is a graph output its name must survive:
 * then in's producer writes `out` directly, which needs in to be produced
 * by a node, used by no one else, and not a graph output. Returns false
 * when neither is possible. */
bool opt_bypass(opt_ctx *c, int out, int in);

/* The constant behind value v (initializer), or NULL. v may be -1. */
const onyx_tensor *opt_const(const onyx_graph *g, int v);
/* True when v is a constant with exactly one element; writes it as double. */
bool opt_const_scalar(const onyx_graph *g, int v, double *out);
/* True when v is a float constant whose every element equals x (within rel). */
bool opt_const_all(const onyx_graph *g, int v, double x, double rel);
/* Index of the input of binary node n that is not value v (-1 if neither). */
int opt_other_input(const onyx_node *n, int v);

/* Sets input k of n to value v, growing the input list (with omitted
 * inputs) when k is past its end. */
onyx_status *opt_set_input(onyx_node *n, int k, int v);
/* Adds a constant value (fresh name from `base`) owning tensor t; on
 * failure t is freed. */
onyx_status *opt_add_const(onyx_graph *g, const char *base, onyx_tensor *t, int *v);
/* Adds a new value with a fresh name derived from `base`, type unknown. */
onyx_status *opt_add_value(onyx_graph *g, const char *base, int *v);
/* Appends a node named `base` (made unique), its op id resolved, and writes
 * its index. */
onyx_status *opt_add_node(onyx_graph *g, const char *base, const char *op_type, const char *domain,
                          int n_in, const int *in, int n_out, const int *out, int *idx);
/* Deep-copies the attributes of src onto node dst (no subgraph attributes). */
onyx_status *opt_copy_attrs(onyx_node *dst, const onyx_node *src);
onyx_status *opt_set_int(onyx_node *n, const char *name, int64_t v);
onyx_status *opt_set_float(onyx_node *n, const char *name, float v);
onyx_status *opt_set_string(onyx_node *n, const char *name, const char *s);
onyx_status *opt_set_floats(onyx_node *n, const char *name, int count, const float *v);
/* Axes of Squeeze/Unsqueeze/Reduce* (attribute before the opset where they
 * became an input, else the constant input 1). Returns false when absent or
 * not constant; *count 0 with true means "no axes given". */
bool opt_axes(const onyx_graph *g, const onyx_node *n, int opset_as_input, int *count,
              int64_t *axes);
/* Ensures the model imports domain (e.g. ai.onyx) at least at version 1. */
onyx_status *opt_import_domain(onyx_graph *g, const char *domain);

#endif
