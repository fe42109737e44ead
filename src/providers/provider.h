/* provider.h — the execution-provider interface (ggml-style {iface, ctx}).
 *
 * A provider says which nodes it can run (`supports`, required) and then
 * runs them either one node at a time (`kernel_for`: a cpu.h-style kernel —
 * the interface every per-node provider shares) or as whole connected groups
 * compiled ahead of time (`compile`: oneDNN partitions, the GPU engine).
 * The session partitions the graph by capability in priority order, inserts
 * device copies where producer and consumer memory differ, and falls back to
 * the next provider for a group whose compile fails.
 *
 * Versioning: `version` is ONYX_PROVIDER_IFACE_VERSION of the header the
 * provider was built against; slots (and fields of the structs handed to
 * providers) are only ever added at the end, and slots marked (optional)
 * may be NULL. Version 2 added onyx_partition.opt_level. */
#ifndef ONYX_PROVIDER_H
#define ONYX_PROVIDER_H

#include "providers/cpu/cpu.h"

#define ONYX_PROVIDER_IFACE_VERSION 2
#define ONYX_DEVICE_HOST 0

typedef struct onyx_provider onyx_provider;

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
} onyx_partition;

/* A compiled group. run() gets the partition inputs in order (on the
 * provider's device) and must set out[i] to new tensors it allocated.
 * state is read-only during run (runs may be concurrent). */
typedef struct onyx_fused {
  onyx_status *(*run)(const void *state, onyx_tensor *const *in, onyx_tensor **out,
                      const onyx_threadpool *pool);
  void (*release)(void *state);   /* (optional) */
  void *state;
} onyx_fused;

typedef struct onyx_provider_iface {
  int version;
  /* NULL when the provider can run node n of g (types as inferred at load),
   * else a status saying why not (unsupported op, dtype, attribute, shape):
   * it is kept for `onyx inspect --stage partitioned`. */
  onyx_status *(*supports)(onyx_provider *p, const onyx_graph *g, const onyx_node *n);
  /* (optional) the per-node kernel for n, or NULL. */
  const cpu_kernel *(*kernel_for)(onyx_provider *p, const onyx_graph *g, const onyx_node *n);
  /* (optional) compiles a group of nodes that all passed `supports`. */
  onyx_status *(*compile)(onyx_provider *p, const onyx_graph *g, const onyx_partition *part,
                          onyx_fused *out);
  /* (optional; required when device != host) copies between host memory and
   * this provider's device: *out is a new tensor. */
  onyx_status *(*copy_to_device)(onyx_provider *p, const onyx_tensor *host, onyx_tensor **out);
  onyx_status *(*copy_to_host)(onyx_provider *p, const onyx_tensor *dev, onyx_tensor **out);
  /* (optional) releases ctx and the provider itself. */
  void (*destroy)(onyx_provider *p);
} onyx_provider_iface;

struct onyx_provider {
  const onyx_provider_iface *iface;
  const char *name;     /* "cpu", "dnnl", ... (static or owned by ctx) */
  int device;           /* memory space: ONYX_DEVICE_HOST or a provider-chosen id */
  void *ctx;
};

/* A provider onyx knows by name. `available` says whether it is compiled in
 * and usable on this machine; `create` parses "key=value" options (n pairs). */
typedef struct onyx_provider_factory {
  const char *name;
  bool (*available)(void);
  onyx_status *(*create)(int n_opts, const char *const *keys, const char *const *values,
                         onyx_provider **out);
} onyx_provider_factory;

/* The built-in factories, in default priority order, NULL-terminated. */
extern const onyx_provider_factory *const onyx_provider_factories[];
const onyx_provider_factory *onyx_provider_factory_find(const char *name);

/* The cpu provider: every op in the cpu kernel tables. */
extern const onyx_provider_factory onyx_cpu_provider_factory;

#endif
