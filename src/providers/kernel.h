/* kernel.h — the provider-neutral per-node kernel interface.
 *
 * A kernel is data plus two functions: the op it runs, what it promises
 * (in-place reuse, the dtypes it takes), where each input and output must
 * live (the provider's memory space, or the host for shape tensors and
 * other values read by host code), then `prepare` and `run`.
 *
 * `prepare` (optional) runs once per plan on the thread making the session,
 * with the provider, the node and its graph, so it can read constant inputs
 * (weights) and pack them into `state`. `run` moves numbers: it must treat
 * `state` as read-only, because one plan may run on several threads at
 * once; what differs per run comes in the context: the provider's per-run
 * state (a stream, a workspace), the thread team, and the frame's services.
 *
 * Outputs arrive as headers with their dtype and memory space set. When the
 * op's infer function could size an output from the inputs, its data is
 * already allocated (in the run's planned arena where possible); otherwise
 * (data == NULL) the kernel sizes it with onyx_kernel_alloc_output, or with
 * onyx_tensor_alloc on the header, which allocates in the header's space.
 * Infer functions see the contents of host-placed inputs only, so an op
 * whose output shape depends on an input's values (Reshape, Expand, Slice)
 * has its outputs sized statically only when those inputs are host-placed.
 *
 * On a device provider, run may only enqueue work (asynchronous): inputs
 * stay alive and unchanged until the provider's next sync, outputs are
 * complete after it. Host-placed inputs must be read before run returns.
 *
 * Kernels dispatch on dtype themselves and return ONYX_ERR_NOT_IMPLEMENTED
 * (via onyx_node_error) for a dtype or attribute value they do not cover.
 *
 * Versioning: fields are only added at the end (write tables with
 * designated initializers); ONYX_PROVIDER_IFACE_VERSION in provider.h
 * counts changes here too. */
#ifndef ONYX_KERNEL_H
#define ONYX_KERNEL_H

#include <stdint.h>

#include "base/alloc.h"
#include "base/parallel.h"
#include "base/status.h"
#include "base/tensor.h"
#include "ir/ir.h"
#include "ops/ops.h"

typedef struct onyx_provider onyx_provider;
typedef struct onyx_kernel_ctx onyx_kernel_ctx;

/* The executor's services to a running kernel (implemented in src/exec, so
 * kernels reach the executor without depending on it). */
typedef struct onyx_kernel_services {
  /* Sizes output i as (rank, dims) and allocates it where the executor
   * places it (arena, bound buffer, or the output's space). */
  onyx_status *(*alloc_output)(onyx_kernel_ctx *c, int i, int rank, const int64_t *dims);
  /* Runs subgraph attribute `attr` of the running node with `inputs` (one
   * per subgraph input; NULL for omitted optional ones), the running graph's
   * values visible to it by name; outputs[i] receives new host tensors. */
  onyx_status *(*run_subgraph)(onyx_kernel_ctx *c, const char *attr, onyx_tensor *const *inputs,
                               onyx_tensor **outputs);
} onyx_kernel_services;

struct onyx_kernel_ctx {
  const onyx_node *node;
  int n_in, n_out;
  onyx_tensor *const *in;      /* in[i] NULL for an omitted optional input */
  onyx_tensor **out;           /* out[i] NULL for an omitted optional output */
  const void *state;           /* from prepare, or NULL */
  const onyx_threadpool *pool; /* intra-op threads */
  onyx_provider *provider;     /* the provider running the kernel */
  void *run_state;             /* the provider's per-run state (run_begin), or NULL */
  const onyx_kernel_services *svc;
  void *frame;                 /* the executor's, for svc */
};

/* onyx_kernel.flags */
enum {
  /* run computes its one output element by element from the same elements
   * of same-shaped inputs, reading each before writing it: the output may
   * share the memory of such an input (the planner's in-place reuse). */
  ONYX_KERNEL_IN_PLACE = 1u << 0,
};

typedef struct onyx_kernel {
  int op;                                   /* onyx_op_<Name>; -1 ends a table */
  onyx_status *(*prepare)(onyx_provider *p, const onyx_node *n, const onyx_graph *g, void **state); /* optional */
  onyx_status *(*run)(onyx_kernel_ctx *c);
  void (*release)(void *state);             /* optional; frees prepare's state */
  uint32_t flags;                           /* ONYX_KERNEL_* */
  /* dtypes of the node's inputs and outputs the kernel takes, as bits
   * (1u << ONYX_DTYPE_*); 0: any (the kernel checks). Placement queries it
   * so a provider with fewer dtypes than cpu hands the rest on. */
  uint32_t dtypes;
  /* bit i: input i / output i lives in host memory whatever the provider's
   * space (shape tensors and other values host code reads). */
  uint32_t host_in, host_out;
} onyx_kernel;

/* Bit for one dtype in onyx_kernel.dtypes. */
#define ONYX_DT(d) (1u << (ONYX_DTYPE_##d))

/* Whether node n's tensor inputs and outputs (as inferred) all have dtypes
 * k takes; NULL, or an error naming the first that does not. */
onyx_status *onyx_kernel_check_dtypes(const onyx_kernel *k, const onyx_graph *g, const onyx_node *n);

static inline onyx_status *onyx_kernel_alloc_output(onyx_kernel_ctx *c, int i, int rank, const int64_t *dims) {
  return c->svc->alloc_output(c, i, rank, dims);
}

static inline onyx_status *onyx_kernel_run_subgraph(onyx_kernel_ctx *c, const char *attr,
                                                    onyx_tensor *const *inputs, onyx_tensor **outputs) {
  return c->svc->run_subgraph(c, attr, inputs, outputs);
}

#endif
