/* linalg.c — the cpu kernel table of the linalg op family (src/ops/defs/linalg.def). */
#include "linalg.h"

const onyx_tensor *cpu_const_input(const onyx_node *n, const onyx_graph *g, int i) {
  if (i >= n->n_in || n->in[i] < 0) return NULL;
  return g->values[n->in[i]].init;
}

const onyx_kernel cpu_kernels_linalg[] = {
    {.op = onyx_op_MatMul, .prepare = cpu_matmul_prepare, .run = cpu_matmul_run, .release = cpu_matmul_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_Gemm, .prepare = cpu_gemm_prepare, .run = cpu_gemm_run, .release = cpu_matmul_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_MatMulInteger, .prepare = cpu_matmul_integer_prepare, .run = cpu_matmul_integer_run, .release = cpu_qlinear_release},
    {.op = onyx_op_Conv, .prepare = cpu_conv_prepare, .run = cpu_conv_run, .release = cpu_conv_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_ConvTranspose, .prepare = cpu_conv_transpose_prepare, .run = cpu_conv_transpose_run, .release = cpu_conv_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_ConvInteger, .prepare = cpu_conv_integer_prepare, .run = cpu_conv_integer_run, .release = cpu_qlinear_release},
    {.op = onyx_op_QLinearMatMul, .prepare = cpu_qlinear_matmul_prepare, .run = cpu_qlinear_matmul_run, .release = cpu_qlinear_release},
    {.op = onyx_op_QLinearConv, .prepare = cpu_qlinear_conv_prepare, .run = cpu_qlinear_conv_run, .release = cpu_qlinear_release},
    {.op = -1},
};
