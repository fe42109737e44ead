/* linalg.h — the cpu kernels of the linalg op family, shared between the
 * files that implement them (matmul.c, conv.c, conv_transpose.c) and the
 * family table in linalg.c. */
#ifndef ONYX_CPU_LINALG_H
#define ONYX_CPU_LINALG_H

#include "cpu.h"
#include "gemm/sgemm.h"

onyx_status *cpu_matmul_prepare(const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_matmul_run(cpu_ctx *c);
onyx_status *cpu_gemm_prepare(const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_gemm_run(cpu_ctx *c);
/* state of MatMul / Gemm: B packed at prepare when constant */
void cpu_matmul_release(void *state);
onyx_status *cpu_matmul_integer_run(cpu_ctx *c);

/* The same kernels with an epilogue run on every finished block of the
 * output (after bias), for the fused ai.onyx ops; ep may be NULL. MatMul's
 * `bias` (N floats, may be NULL) is added along the last axis first. */
onyx_status *cpu_conv_run_ep(cpu_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg);
onyx_status *cpu_gemm_run_ep(cpu_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg);
onyx_status *cpu_matmul_run_ep(cpu_ctx *c, const float *bias, cpu_sgemm_epilogue_fn ep, void *ep_arg);

onyx_status *cpu_conv_prepare(const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_conv_run(cpu_ctx *c);
onyx_status *cpu_conv_transpose_prepare(const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_conv_transpose_run(cpu_ctx *c);
/* State of Conv / ConvTranspose: the weights packed per group at prepare
 * (Conv: W_g as op(A); ConvTranspose: W_g transposed). */
typedef struct conv_state {
  const cpu_sgemm_isa *isa;
  int64_t group;
  cpu_sgemm_packed **pw;   /* group entries */
} conv_state;
void cpu_conv_release(void *state);
onyx_status *cpu_conv_integer_run(cpu_ctx *c);

/* The constant (initializer) behind input i of n, or NULL. */
const onyx_tensor *cpu_const_input(const onyx_node *n, const onyx_graph *g, int i);

#endif
