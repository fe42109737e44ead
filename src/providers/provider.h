/* provider.h — the execution-provider interface (ggml-style {iface, ctx}).
 *
 * A provider says which nodes it can run (`supports`, required) and then
 * runs them either one node at a time (`kernel_for`: kernel.h's provider-
 * neutral kernels) or as whole connected groups compiled ahead of time
 * (`compile`: oneDNN partitions, the GPU engine). It names its memory space
 * through `allocator` (allocator.h; none: the host), which also copies in
 * and out of it. The session gives one memory space to every provider
 * reporting the same allocator name, partitions the graph by capability in
 * priority order, inserts copies between spaces, plans one arena per space,
 * and falls back to the next provider for a group whose compile fails and,
 * at run time, for a provider whose device is lost (ONYX_ERR_DEVICE).
 *
 * A run on a device is asynchronous: run_begin makes per-run state (a
 * stream, a workspace), kernels and copies enqueue work on it, and the
 * executor calls sync only where the host must see results (host-placed
 * inputs, outputs to the host, another provider taking over the space) or
 * before releasing memory in-flight work may read; run_end returns the
 * state. Providers without these slots run synchronously.
 *
 * Walk-through for a new provider (what `cuda` follows):
 *  1. an allocator for the device: alloc/release (stream-ordered
 *     release_async when the device has one), copy host<->device and within;
 *     name "<kind>:<ordinal>";
 *  2. a kernel table (kernel.h): per op its dtypes, which inputs stay on the
 *     host (shape tensors), prepare (weights) and run (enqueue on
 *     c->run_state's stream);
 *  3. supports(): the op has a kernel here and its dtypes/attributes fit;
 *  4. run_begin/sync/run_end around a stream, and mark/mark_time for
 *     device-side profiling;
 *  5. a factory in src/exec/providers.c (available() false without the
 *     device; options by key=value).
 *
 * Versioning: `version` is ONYX_PROVIDER_IFACE_VERSION of the header the
 * provider was built against; slots (and fields of the structs handed to
 * providers) are only ever added at the end, and slots marked (optional)
 * may be NULL. Version 2 added onyx_partition.opt_level; version 3 the
 * provider-neutral kernels, memory spaces (allocator), the run lifecycle,
 * device profiling, the partition hash and constants a compile bakes in
 * (the host-device copy slots of version 2 went to the allocator). */
#ifndef ONYX_PROVIDER_H
#define ONYX_PROVIDER_H

#include "base/allocator.h"
#include "providers/kernel.h"

#define ONYX_PROVIDER_IFACE_VERSION 3

/* A connected group of nodes handed to `compile`: node indices in execution
 * order, and the values that cross its boundary (value indices of g). */
typedef struct onyx_partition {
  int n_nodes;
  const int *nodes;
  int n_in;
  const int *in;    /* consumed inside, produced outside (or inputs/initializers) */
  int n_out;
  const int *out;   /* produced inside, used outside or graph outputs */
  /* (version 2) the session's graph optimization level, which a compiling
   * provider honours as the optimizer does (ORT's levels): 0 no graph
   * transformation (one primitive per node, plain tensors between nodes),
   * 1 basic (folding into weights), 2 extended (fusion), 3 all (provider
   * layouts, e.g. blocked formats, kept between nodes). */
  int opt_level;
  /* (version 3) a stable hash of what the compile depends on: the nodes
   * (op, domain, attributes, edges), the bytes of initializer inputs, and
   * the dtypes and declared shapes of the other inputs; the same across
   * processes and runs, for keying caches (engines, tactics). */
  uint64_t hash;
} onyx_partition;

/* A compiled group. run() gets a kernel context: c->node is the group's
 * first node, c->in the partition inputs in order (in the provider's space;
 * NULL for initializers the compile baked in), c->out headers to fill with
 * onyx_kernel_alloc_output; c->state is `state`, which run may only read
 * (runs may be concurrent). */
typedef struct onyx_fused {
  onyx_status *(*run)(onyx_kernel_ctx *c);
  void (*release)(void *state);   /* (optional) */
  void *state;
  /* (version 3) the compile keeps what it needs of the initializer inputs
   * (reordered weights): the executor passes NULL for them and makes no
   * copy of them in the provider's space. */
  bool bakes_constants;
} onyx_fused;

/* What a run asks of the providers (from the caller's run options). */
typedef struct onyx_run_config {
  void *stream;       /* a caller's stream/queue handle for providers that take one, or NULL */
  const char *tag;    /* for logs, or NULL */
} onyx_run_config;

typedef struct onyx_provider_iface {
  int version;
  /* NULL when the provider can run node n of g (types as inferred at load),
   * else a status saying why not (unsupported op, dtype, attribute, shape):
   * it is kept for `onyx inspect --stage partitioned`. */
  onyx_status *(*supports)(onyx_provider *p, const onyx_graph *g, const onyx_node *n);
  /* (optional) the per-node kernel for n, or NULL. */
  const onyx_kernel *(*kernel_for)(onyx_provider *p, const onyx_graph *g, const onyx_node *n);
  /* (optional) compiles a group of nodes that all passed `supports`. An
   * OUT_OF_MEMORY error falls back like any other (the reason is kept). */
  onyx_status *(*compile)(onyx_provider *p, const onyx_graph *g, const onyx_partition *part,
                          onyx_fused *out);
  /* (optional) the allocator of the provider's memory space (owned by the
   * provider, living as long as it); NULL or absent: the host. */
  onyx_allocator *(*allocator)(onyx_provider *p);
  /* (optional) per-run state for a run that uses the provider: *state may
   * be NULL. Called at the provider's first step of a run. */
  onyx_status *(*run_begin)(onyx_provider *p, const onyx_run_config *rc, void **state);
  /* (optional) waits for the work queued on state; returns its first error
   * (ONYX_ERR_DEVICE when the device is lost: the session then re-plans
   * without this provider). */
  onyx_status *(*sync)(onyx_provider *p, void *state);
  /* (optional) releases the run state, after a sync. */
  void (*run_end)(onyx_provider *p, void *state);
  /* (optional) device-side profiling: mark enqueues a timestamp on state
   * and returns a token (< 0: none); after sync, mark_time gives when the
   * device reached it, on onyx_now_ns's clock. */
  int64_t (*mark)(onyx_provider *p, void *state);
  int64_t (*mark_time)(onyx_provider *p, void *state, int64_t token);
  /* (optional) releases ctx and the provider itself. */
  void (*destroy)(onyx_provider *p);
} onyx_provider_iface;

struct onyx_provider {
  const onyx_provider_iface *iface;
  const char *name;     /* "cpu", "dnnl", ... (static or owned by ctx) */
  void *ctx;
  /* the provider of last resort: it runs every op onyx claims on the host
   * (cpu). The optimizer's ai.onyx fusions are for it, and a session adds
   * one when the list names none. */
  bool fallback;
};

/* The provider's memory space (the host allocator when it names none). */
onyx_allocator *onyx_provider_allocator(onyx_provider *p);

/* A provider onyx knows by name. `available` says whether it is compiled in
 * and usable on this machine; `create` parses "key=value" options (n pairs);
 * `unusable` (optional) says why it is not usable here (static string). */
typedef struct onyx_provider_factory {
  const char *name;
  bool (*available)(void);
  onyx_status *(*create)(int n_opts, const char *const *keys, const char *const *values,
                         onyx_provider **out);
  const char *(*unusable)(void);
} onyx_provider_factory;

/* The built-in factories, in default priority order, NULL-terminated. */
extern const onyx_provider_factory *const onyx_provider_factories[];
const onyx_provider_factory *onyx_provider_factory_find(const char *name);

/* The cpu provider: every op in the cpu kernel tables. */
extern const onyx_provider_factory onyx_cpu_provider_factory;

#endif
