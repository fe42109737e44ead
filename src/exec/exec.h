/* exec.h — the sequential executor: a prepared graph (plan) and its runs.
 *
 * A plan is built once per session (and once per subgraph): kernels looked up,
 * prepared (weights packed), and per-value use counts computed so a run can
 * free each intermediate as soon as its last consumer has run. A plan is
 * immutable after creation, so many runs may share it on several threads;
 * each run has its own frame (value slots). Subgraphs (If/Loop/Scan bodies)
 * run as child frames that see their parents' values by name. */
#ifndef ONYX_EXEC_H
#define ONYX_EXEC_H

#include "base/parallel.h"
#include "ir/ir.h"
#include "providers/cpu/cpu.h"

typedef struct onyx_plan onyx_plan;

/* Prepares graph g (which must outlive the plan) for running. For a
 * subgraph, outer-scope names are resolved against the enclosing graphs at
 * run time through the parent frame. */
onyx_status *onyx_plan_create(const onyx_graph *g, const onyx_threadpool *pool,
                              onyx_plan **out);
void onyx_plan_destroy(onyx_plan *p);

/* Runs the plan. inputs[i] feeds g->inputs[i] (borrowed; NULL allowed only
 * for optional subgraph inputs). On success outputs[i] receives a new tensor
 * per g->outputs[i], owned by the caller. `parent` is the frame of the
 * enclosing graph for a subgraph, NULL at the top level. */
onyx_status *onyx_plan_run(const onyx_plan *p, onyx_frame *parent, onyx_tensor *const *inputs,
                           onyx_tensor **outputs);

/* Per-run observations, optional: a profiling sink and memory accounting.
 * Subgraph runs report into their parent's. Not shared between runs. */
typedef struct onyx_prof_event {
  int node;             /* index into the top-level or sub graph */
  const onyx_node *n;   /* borrowed from the graph */
  int64_t start_ns, dur_ns;
} onyx_prof_event;

typedef struct onyx_run_ctx {
  int64_t live_bytes;   /* intermediates alive now */
  int64_t peak_bytes;   /* their maximum over the run */
  int64_t total_bytes;  /* every intermediate added up (no reuse at all) */
  bool profile;
  int n_events, cap_events;
  onyx_prof_event *events;  /* owned; onyx_free */
} onyx_run_ctx;

/* onyx_plan_run for a top-level graph, reporting into rc (may be NULL). */
onyx_status *onyx_plan_run_ex(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs,
                              onyx_tensor **outputs);

/* Evaluates one node of g on given inputs (n->n_in entries, NULL for
 * omitted) outside any run: for constant folding and calibration. out
 * (n->n_out entries) receives new tensors. n->op must be resolved
 * (onyx_graph_infer). Nodes with subgraphs are refused. */
onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in,
                            onyx_tensor **out, const onyx_threadpool *pool);

/* Monotonic clock in nanoseconds. */
int64_t onyx_now_ns(void);

/* The plan prepared for subgraph attribute `attr` of node `node` of the frame's
 * graph (for kernels of ops with subgraphs), or NULL. */
const onyx_plan *onyx_frame_subplan(const onyx_frame *f, const onyx_node *node, const char *attr);

#endif
