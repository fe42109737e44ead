/* exec.h — plans and the sequential executor.
 *
 * A plan is built once per session (and once per subgraph): every node is
 * assigned to the first provider (in priority order) that supports it; nodes
 * of compiling providers are grouped into connected partitions and compiled,
 * falling back to the next provider when a compile fails; device copies are
 * inserted where producer and consumer memory differ; per-node kernels are
 * prepared (weights packed); and use counts are computed so that a run frees
 * each intermediate as soon as its last consumer has run.
 *
 * A plan is immutable after creation, so many runs may share it on several
 * threads; each run has its own frame (value slots). Subgraphs (If/Loop/Scan
 * bodies) run as child frames that see their parents' values by name. */
#ifndef ONYX_EXEC_H
#define ONYX_EXEC_H

#include "base/parallel.h"
#include "ir/ir.h"
#include "providers/provider.h"

typedef struct onyx_plan onyx_plan;

/* Prepares graph g (which must outlive the plan) for running on
 * providers[0..n_providers) (borrowed; must outlive the plan; the last one
 * should be the cpu provider so every node has a home). Fails with
 * NOT_IMPLEMENTED naming a node that no provider supports. */
onyx_status *onyx_plan_create(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                              const onyx_threadpool *pool, onyx_plan **out);

/* What a session decides about its plan beyond the providers. */
typedef struct onyx_plan_config {
  int opt_level;       /* 0-3, handed to compiling providers (onyx_partition) */
  /* Order the nodes to lower the activation memory alive at once: among
   * the nodes ready to run on the provider of the last one, the one that
   * frees the most bytes net of what it allocates; the order is kept only
   * when, against the plain topological order, it neither adds provider
   * switches nor raises the simulated peak or planned arena. */
  bool memory_order;
} onyx_plan_config;

/* onyx_plan_create under cfg (NULL: level 3, memory order on); subgraph
 * plans inherit it. */
onyx_status *onyx_plan_create_ex(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                                 const onyx_threadpool *pool, const onyx_plan_config *cfg, onyx_plan **out);
void onyx_plan_destroy(onyx_plan *p);

/* Runs the plan. inputs[i] feeds g->inputs[i] (borrowed; NULL allowed only
 * for optional subgraph inputs). On success outputs[i] receives a new host
 * tensor per g->outputs[i], owned by the caller. `parent` is the frame of the
 * enclosing graph for a subgraph, NULL at the top level. */
onyx_status *onyx_plan_run(const onyx_plan *p, onyx_frame *parent, onyx_tensor *const *inputs,
                           onyx_tensor **outputs);

/* Per-run observations, optional: a profiling sink and memory accounting.
 * Subgraph runs report into their parent's. Not shared between runs. */
typedef struct onyx_prof_event {
  const onyx_node *n;     /* the node, or the first node of a fused partition */
  const char *provider;   /* static / provider-owned name */
  int n_nodes;            /* 1, or the size of the partition */
  int64_t start_ns, dur_ns;
} onyx_prof_event;

typedef struct onyx_run_ctx {
  int64_t live_bytes;   /* intermediates alive now */
  int64_t peak_bytes;   /* their maximum over the run */
  int64_t total_bytes;  /* every intermediate added up (no reuse at all) */
  bool profile;
  int n_events, cap_events;
  onyx_prof_event *events;  /* owned; onyx_free */
  /* (optional) sees every value a top-level step produces, on its device,
   * before anything frees it: calibration observers, per-tensor debugging.
   * `value` indexes the top-level graph's values. An error stops the run. */
  onyx_status *(*observe)(void *arg, int value, const onyx_tensor *t);
  void *observe_arg;
} onyx_run_ctx;

/* onyx_plan_run for a top-level graph, reporting into rc (may be NULL). */
onyx_status *onyx_plan_run_ex(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs,
                              onyx_tensor **outputs);

/* The plan prepared for subgraph attribute `attr` of node `node` of the frame's
 * graph (for kernels of ops with subgraphs), or NULL. */
const onyx_plan *onyx_frame_subplan(const onyx_frame *f, const onyx_node *node, const char *attr);

/* Where node i of the plan's graph runs (index into the providers given to
 * onyx_plan_create) and, in *why (borrowed, may be NULL), why providers of
 * higher priority did not take it. */
int onyx_plan_node_provider(const onyx_plan *p, int node, const char **why);
/* Largest activation arena planned so far (bytes; 0 before the first run of
 * a static-shape signature). The first run of each input-shape signature
 * records sizes; later runs place every statically sized intermediate in
 * one arena at planned offsets, reused across runs. */
int64_t onyx_plan_arena_bytes(const onyx_plan *p);
/* Numbers of compiled partitions and of device copy steps. */
int onyx_plan_partition_count(const onyx_plan *p);
int onyx_plan_copy_count(const onyx_plan *p);

/* Evaluates one node of g on given inputs (n->n_in entries, NULL for
 * omitted) outside any run, on the cpu kernels: for constant folding and
 * calibration. out (n->n_out entries) receives new tensors. n->op must be
 * resolved (onyx_graph_infer). Nodes with subgraphs are refused. */
onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in,
                            onyx_tensor **out, const onyx_threadpool *pool);

/* Monotonic clock in nanoseconds. */
int64_t onyx_now_ns(void);

#endif
