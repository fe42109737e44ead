/* linalg.h — the cpu kernels of the linalg op family, shared between the
 * files that implement them (matmul.c, conv.c, conv_transpose.c, qlinear.c)
 * and the family table in linalg.c. */
#ifndef ONYX_CPU_LINALG_H
#define ONYX_CPU_LINALG_H

#include "cpu.h"
#include "gemm/sgemm.h"

onyx_status *cpu_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_matmul_run(onyx_kernel_ctx *c);
onyx_status *cpu_gemm_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_gemm_run(onyx_kernel_ctx *c);
/* state of MatMul / Gemm: B packed at prepare when constant */
void cpu_matmul_release(void *state);

/* Shape of a MatMul-style product (numpy semantics: batched, broadcast batch
 * dims, 1-D operands), shared with the integer kernels. */
typedef struct cpu_mm_shape {
  int64_t m, n, k, batch;
  int nb;                          /* output batch rank */
  int64_t bdims[ONYX_MAX_RANK];    /* output batch dims */
  int64_t astr[ONYX_MAX_RANK];     /* per batch dim: A matrices to step, 0 if broadcast */
  int64_t bstr[ONYX_MAX_RANK];
  int out_rank;
  int64_t out_dims[ONYX_MAX_RANK];
} cpu_mm_shape;
onyx_status *cpu_mm_shape_of(const onyx_node *n, const onyx_tensor *a, const onyx_tensor *b,
                             cpu_mm_shape *s);
/* matrix indices of A and B for output batch bi */
void cpu_mm_batch(const cpu_mm_shape *s, int64_t bi, int64_t *ia, int64_t *ib);

/* The same kernels with an epilogue run on every finished block of the
 * output (after bias), for the fused ai.onyx ops; ep may be NULL. MatMul's
 * `bias` (N floats, may be NULL) is added along the last axis first. */
onyx_status *cpu_conv_run_ep(onyx_kernel_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg);
onyx_status *cpu_gemm_run_ep(onyx_kernel_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg);
onyx_status *cpu_matmul_run_ep(onyx_kernel_ctx *c, const float *bias, cpu_sgemm_epilogue_fn ep, void *ep_arg);

onyx_status *cpu_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_conv_run(onyx_kernel_ctx *c);
onyx_status *cpu_conv_transpose_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_conv_transpose_run(onyx_kernel_ctx *c);
/* State of Conv / ConvTranspose: the weights packed per group at prepare
 * (Conv: W_g as op(A); ConvTranspose: W_g transposed). */
typedef struct conv_state {
  const cpu_sgemm_isa *isa;
  int64_t group;
  cpu_sgemm_packed **pw;   /* group entries */
} conv_state;
void cpu_conv_release(void *state);

/* qlinear.c: MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv on the
 * int8 GEMM engine; prepare packs constant weights (state: cpu_qlinear_release) */
onyx_status *cpu_matmul_integer_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_matmul_integer_run(onyx_kernel_ctx *c);
onyx_status *cpu_qlinear_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_qlinear_matmul_run(onyx_kernel_ctx *c);
onyx_status *cpu_conv_integer_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_conv_integer_run(onyx_kernel_ctx *c);
onyx_status *cpu_qlinear_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_qlinear_conv_run(onyx_kernel_ctx *c);
void cpu_qlinear_release(void *state);
/* the ai.onyx forms the QDQ fusion makes (same state as above) */
onyx_status *cpu_fused_qlinear_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_fused_qlinear_matmul_run(onyx_kernel_ctx *c);
onyx_status *cpu_fused_qlinear_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_fused_qlinear_conv_run(onyx_kernel_ctx *c);
onyx_status *cpu_dynamic_quant_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);
onyx_status *cpu_dynamic_quant_matmul_run(onyx_kernel_ctx *c);
/* qlinear_add_pool.c: ai.onyx QLinearAdd and QLinearGlobalAveragePool */
onyx_status *cpu_qlinear_add_run(onyx_kernel_ctx *c);
onyx_status *cpu_qlinear_global_average_pool_run(onyx_kernel_ctx *c);

/* The constant (initializer) behind input i of n, or NULL. */
const onyx_tensor *cpu_const_input(const onyx_node *n, const onyx_graph *g, int i);

#endif
