/* exec.h — plans and the sequential executor.
 *
 * A plan is built once per session (and once per subgraph): every node is
 * assigned to the first provider (in priority order) that supports it;
 * nodes of compiling providers are grouped into connected partitions and
 * compiled, falling back to the next provider when a compile fails; each
 * provider's memory space is found, copies are inserted where a step reads
 * a value living in another space; per-node kernels are prepared (weights
 * packed); and use counts are computed so that a run frees each
 * intermediate as soon as its last consumer has run.
 *
 * A plan is immutable after creation, so many runs may share it on several
 * threads; each run has its own frame (value slots, provider run states)
 * and arenas, both reused across runs. Subgraphs (If/Loop/Scan bodies) run
 * as child frames that see their parents' values by name.
 * The files: plan.c (building, queries), assign.c, schedule.c,
 * partition.c, copies.c, arena.c, run.c. */
#ifndef ONYX_EXEC_H
#define ONYX_EXEC_H

#include <stdatomic.h>

#include "base/clock.h"
#include "base/parallel.h"
#include "ir/ir.h"
#include "providers/provider.h"

typedef struct onyx_plan onyx_plan;

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

/* Prepares graph g (which must outlive the plan) for running on
 * providers[0..n_providers) (the array and providers borrowed; they must
 * outlive the plan; one of them should be a fallback provider so every
 * node has a home) under cfg (NULL: level 3, memory order on). `donor`
 * (may be NULL) is an earlier plan of the same graph whose compiled
 * partitions are reused where a provider would compile the same nodes
 * again. Fails with NOT_IMPLEMENTED naming a node that no provider
 * supports, and with RUNTIME naming a partition when compiles keep failing
 * after every fallback. Subgraph plans inherit cfg. */
onyx_status *onyx_plan_create(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                              const onyx_threadpool *pool, const onyx_plan_config *cfg, const onyx_plan *donor,
                              onyx_plan **out);
void onyx_plan_destroy(onyx_plan *p);

/* Per-run observations, optional: a profiling sink and memory accounting. */
typedef struct onyx_prof_event {
  const onyx_node *n;     /* the node, or the first node of a fused partition */
  const char *provider;   /* static / provider-owned name */
  int n_nodes;            /* 1, or the size of the partition */
  int64_t start_ns, dur_ns;
  bool device;            /* timed on the device (provider marks) */
} onyx_prof_event;

/* Where graph output i goes (onyx_run_ctx.dest; NULL entries: a new host
 * tensor). */
typedef struct onyx_output_dest {
  onyx_tensor *into;       /* write into this tensor (any space) when its dtype and shape fit, or NULL */
  bool strict;             /* into is the caller's: a misfit is an error (else a new tensor is made) */
  onyx_allocator *space;   /* where a new tensor goes (NULL: the host) */
  bool skip;               /* not wanted: nothing is delivered */
} onyx_output_dest;

typedef struct onyx_run_ctx {
  int64_t live_bytes;   /* intermediates alive now */
  int64_t peak_bytes;   /* their maximum over the run */
  int64_t total_bytes;  /* every intermediate added up (no reuse at all) */
  bool profile;
  int n_events, cap_events;
  onyx_prof_event *events;  /* owned; onyx_free */
  /* (optional) sees every value a top-level step produces, in host memory,
   * before anything frees it: calibration observers, per-tensor debugging.
   * `value` indexes the top-level graph's values. An error stops the run. */
  onyx_status *(*observe)(void *arg, int value, const onyx_tensor *t);
  void *observe_arg;
  const onyx_run_config *run_cfg;   /* (optional) for the providers' run_begin */
  const atomic_int *terminate;      /* (optional) non-zero: stop before the next step (CANCELLED) */
  const onyx_output_dest *dest;     /* (optional) per graph output */
  int failed_provider;              /* out: index of the provider whose device failed, or -1 */
} onyx_run_ctx;

/* Runs a top-level plan. inputs[i] feeds g->inputs[i] (borrowed; in any
 * memory space). On success outputs[i] receives a new tensor per
 * g->outputs[i] (owned by the caller), or NULL when it was written into
 * rc->dest[i].into. rc may be NULL. */
onyx_status *onyx_plan_run(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs,
                           onyx_tensor **outputs);

/* Where node i of the plan's graph runs (index into the providers given to
 * onyx_plan_create) and, in *why (borrowed, may be NULL), why providers of
 * higher priority did not take it. */
int onyx_plan_node_provider(const onyx_plan *p, int node, const char **why);
/* Why node i fell back from a provider that took it at first (its
 * partition did not compile, or its weights could not be copied into the
 * provider's memory), or NULL. */
const char *onyx_plan_node_fallback(const onyx_plan *p, int node);
/* Largest activation arena planned so far over all spaces (bytes; 0 before
 * the first run of a static-shape signature). The first run of each
 * input-shape signature records sizes; later runs place every statically
 * sized intermediate in one arena per memory space at planned offsets,
 * reused across runs. */
int64_t onyx_plan_arena_bytes(const onyx_plan *p);
/* Numbers of compiled partitions and of copy steps. */
int onyx_plan_partition_count(const onyx_plan *p);
int onyx_plan_copy_count(const onyx_plan *p);
/* Copy step i: the value copied, the spaces, and its bytes (-1 when its
 * shape is not static). Strings borrowed from the plan. */
typedef struct onyx_plan_copy {
  const char *value, *from, *to;
  int64_t bytes;
} onyx_plan_copy;
onyx_status *onyx_plan_copy_info(const onyx_plan *p, int i, onyx_plan_copy *out);
/* The memory spaces the plan uses (0 is the host). */
int onyx_plan_space_count(const onyx_plan *p);
onyx_allocator *onyx_plan_space(const onyx_plan *p, int i);

/* Evaluates one node of g on given inputs (n->n_in entries in host memory,
 * NULL for omitted) outside any run, on the cpu kernels: for constant
 * folding and calibration. out (n->n_out entries) receives new tensors.
 * n->op must be resolved (onyx_graph_infer). Nodes with subgraphs are
 * refused. */
onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in,
                            onyx_tensor **out, const onyx_threadpool *pool);

/* Runs one compiled partition of provider p outside any plan (tests, tools):
 * in[] per part->in (initializers included), out[] receives new tensors per
 * part->out, in p's memory space; the provider's run state is made, synced
 * and released around it. */
onyx_status *onyx_exec_fused(onyx_provider *p, const onyx_fused *f, const onyx_graph *g, const onyx_partition *part,
                             onyx_tensor *const *in, onyx_tensor **out, const onyx_threadpool *pool);

#endif
