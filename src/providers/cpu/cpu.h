/* cpu.h — the cpu provider's kernel interface.
 *
 * Kernels follow prepare -> run: `prepare` (optional) runs once per session
 * with the node and its graph, so it can read constant inputs (weights) and
 * pack them into `state`; `run` moves numbers and must treat `state` as
 * read-only, because one session may run on several threads at once.
 *
 * At run time every output arrives as a header with its dtype set. When the
 * op's infer function could size it, its data is already allocated; else
 * (data == NULL) the kernel calls onyx_tensor_alloc(out, rank, dims).
 * Kernels dispatch on dtype themselves and return ONYX_ERR_NOT_IMPLEMENTED
 * (via onyx_node_error) for a dtype or attribute value they do not cover.
 *
 * Each op family lists its kernels in one static table, terminated by an entry
 * with op = -1; cpu_registry.c lists the families. */
#ifndef ONYX_CPU_H
#define ONYX_CPU_H

#include "base/alloc.h"
#include "base/parallel.h"
#include "base/status.h"
#include "base/tensor.h"
#include "ir/ir.h"
#include "ops/ops.h"

typedef struct onyx_frame onyx_frame;   /* a running graph (src/exec) */

typedef struct cpu_ctx {
  const onyx_node *node;
  int n_in, n_out;
  onyx_tensor *const *in;      /* in[i] NULL for an omitted optional input */
  onyx_tensor **out;           /* out[i] NULL for an omitted optional output */
  const void *state;           /* from prepare, or NULL */
  const onyx_threadpool *pool; /* intra-op threads */
  onyx_frame *frame;           /* the running graph: for ops with subgraphs */
} cpu_ctx;

typedef struct cpu_kernel {
  int op;                                   /* onyx_op_<Name>; -1 ends a table */
  onyx_status *(*prepare)(const onyx_node *n, const onyx_graph *g, void **state); /* optional */
  onyx_status *(*run)(cpu_ctx *c);
  void (*release)(void *state);             /* optional; frees prepare's state */
} cpu_kernel;

/* The kernel for op id, or NULL. */
const cpu_kernel *cpu_kernel_find(int op);
/* Whether k computes its one output element by element from the same
 * elements of same-shaped inputs, reading each before writing it: the
 * output may then share the memory of such an input (the planner's
 * in-place reuse). */
bool cpu_kernel_in_place(const cpu_kernel *k);

/* Family tables (one per file group under src/providers/cpu/). */
extern const cpu_kernel cpu_kernels_elementwise[];
extern const cpu_kernel cpu_kernels_nn[];
extern const cpu_kernel cpu_kernels_tensor[];
extern const cpu_kernel cpu_kernels_reduce[];
extern const cpu_kernel cpu_kernels_linalg[];
extern const cpu_kernel cpu_kernels_control[];
extern const cpu_kernel cpu_kernels_signal[];
extern const cpu_kernel cpu_kernels_text[];
extern const cpu_kernel cpu_kernels_fused[];     /* ai.onyx ops of the optimizer */
extern const cpu_kernel cpu_kernels_loss[];
extern const cpu_kernel cpu_kernels_rnn[];

#endif
