/* plan_internal.h — the plan's layout, shared by the executor's files:
 * assign.c (providers per node), schedule.c (execution order), partition.c
 * (steps: kernels and compiled partitions), copies.c (memory spaces and
 * copy steps), plan.c (building and querying a plan), arena.c (memory
 * layouts and frame buffers reused across runs) and run.c (running it).
 *
 * Slots: one per graph value, then one per copy of a value in another
 * memory space ("shadow"). A plan is immutable once built; what runs learn
 * and reuse (layouts per input-shape signature, arenas, frame buffers)
 * lives in `cache`, a separate object with its own lock. */
#ifndef ONYX_PLAN_INTERNAL_H
#define ONYX_PLAN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "exec.h"
#include "memplan.h"

#define MAX_PROVIDERS 64
#define MAX_SPACES 8

typedef enum step_kind { STEP_NODE, STEP_FUSED, STEP_COPY } step_kind;

/* A compiled partition, shared by the plans that use it (a re-plan keeps
 * the partitions it did not touch). */
typedef struct compiled {
  atomic_int refs;
  onyx_provider *prov;
  int n_nodes;
  int *nodes;          /* sorted node indices: the identity for reuse */
  onyx_fused fused;
} compiled;

void compiled_unref(compiled *c);

typedef struct step {
  step_kind kind;
  int prov;                  /* provider index (copies: the provider whose run state orders it) */
  int node;                  /* STEP_NODE: the node; STEP_FUSED: its first node; STEP_COPY: -1 */
  int n_in, n_out;
  int *in, *out;             /* slot indices, -1 for omitted */
  int n_impl;
  int *impl;                 /* STEP_NODE: host slots of the node's implicit inputs (subgraph reads) */
  const onyx_kernel *kernel; /* STEP_NODE */
  void *state;               /* STEP_NODE: from prepare */
  compiled *part;            /* STEP_FUSED (a reference) */
  int n_nodes;               /* STEP_FUSED */
  int value;                 /* STEP_COPY: the graph value copied */
} step;

typedef struct subplan {
  int node;          /* node index */
  const char *attr;  /* attribute name (borrowed from the graph) */
  onyx_plan *plan;
} subplan;

typedef struct plan_cache plan_cache;  /* arena.c */

struct onyx_plan {
  const onyx_graph *g;
  const onyx_threadpool *pool;
  onyx_plan_config cfg;
  onyx_provider *const *providers;
  int n_providers;
  /* memory spaces: 0 is the host; prov_space[k] is provider k's */
  int n_spaces;
  onyx_allocator *spaces[MAX_SPACES];
  int prov_space[MAX_PROVIDERS];
  int n_steps, cap_steps;
  step *steps;
  int n_slots;                 /* g->n_values + shadows */
  int *slot_space;             /* per slot */
  int *slot_value;             /* per slot: the graph value it holds */
  int *host_slot;              /* per graph value: the slot holding it on the host, or -1 */
  int *producer;               /* per slot: the provider of the step defining it, -1 */
  int *uses;                   /* per slot: step inputs + implicit + graph outputs */
  onyx_tensor **const_slots;   /* per slot: copies of initializers in other spaces, made once */
  bool *input_host_read;       /* per graph input: some step reads it on the host directly */
  int *assign;                 /* per node: provider index */
  char **why;                  /* per node: why better providers declined (owned) */
  char **fail_msg;             /* per node: its partition's compile error (owned) */
  int n_partitions, n_copies;
  int n_sub;
  subplan *subs;
  /* lifetimes for memory planning, in step indices (top-level plans) */
  int *def_step, *last_step;
  int *alias;                  /* per slot: the input slot whose memory it may reuse, or -1 */
  plan_cache *cache;           /* mutable, thread-safe (arena.c) */
};

/* assign.c: every node to the first provider that supports it (kernel and
 * dtypes included) and is not excluded for it; records why better ones
 * declined. excluded[node] has bit k for providers whose compile failed. */
onyx_status *plan_assign(onyx_plan *p, const uint64_t *excluded);

/* schedule.c: the execution order (order[0..n_nodes)): provider-clustered
 * topological, or memory-ordered when cfg.memory_order finds a better one. */
onyx_status *plan_order(const onyx_plan *p, int *order);

/* partition.c: appends the steps for order (kernels prepared, groups of
 * compiling providers compiled). A compile failure is not an error: the
 * nodes get the provider excluded and *retry is set. Compiled partitions
 * are looked up in `reuse` (may be NULL) before compiling. */
typedef struct compiled_set {
  int n, cap;
  compiled **items;
} compiled_set;
onyx_status *plan_build_steps(onyx_plan *p, const int *order, uint64_t *excluded, compiled_set *reuse, bool *retry);
/* Adds a reference to every compiled partition of p's steps to set. */
onyx_status *compiled_set_add_plan(compiled_set *set, const onyx_plan *p);
void compiled_set_clear(compiled_set *set);
step *plan_new_step(onyx_plan *p);
onyx_status *plan_set_slots(int **dst, int n, const int *src);
/* The stable hash of a partition (see onyx_partition.hash). */
onyx_status *partition_hash(const onyx_graph *g, const onyx_partition *part, uint64_t *out);

/* copies.c: memory spaces from the providers; then each step's inputs are
 * rewritten to read a slot in the space the step wants (its provider's, or
 * the host for host-placed inputs), adding copy steps; initializer copies
 * are made once here (on failure *failed_slot names the copy that failed). */
onyx_status *plan_spaces(onyx_plan *p);
onyx_status *plan_insert_copies(onyx_plan *p, int *failed_slot);
/* The memory space input k (output k when `output`) of step st lives in. */
int step_space(const onyx_plan *p, const step *st, int k, bool output);

/* arena.c: the run-time cache. */
onyx_status *plan_cache_create(plan_cache **out);
void plan_cache_destroy(plan_cache *c, const onyx_plan *p);

/* A frame's memory: one block per plan, reused across runs (run.c sizes
 * and lays it out; arena.c keeps the free ones). */
void *plan_cache_take_block(const onyx_plan *p, size_t bytes);
void plan_cache_give_block(const onyx_plan *p, void *block);

/* The planned layouts (one per memory space) and their arenas for input
 * signature sig; *found false when none is planned yet. arenas[s] receives
 * the arena of space s (NULL where the space plans nothing). */
typedef struct frame_arenas {
  const onyx_memlayout *layout[MAX_SPACES];
  void *arena[MAX_SPACES];
  void *entry;   /* the cache entry, for giving the arenas back */
} frame_arenas;
onyx_status *plan_cache_take_arenas(const onyx_plan *p, uint64_t sig, frame_arenas *fa, bool *found);
void plan_cache_give_arenas(const onyx_plan *p, frame_arenas *fa);
/* Plans layouts from the sizes a run recorded (rec[slot], -1 unknown). */
void plan_cache_learn(const onyx_plan *p, uint64_t sig, const int64_t *rec);
int64_t plan_cache_arena_bytes(const onyx_plan *p, int space);

#endif
