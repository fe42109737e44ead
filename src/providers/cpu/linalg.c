/* linalg.c — the cpu kernel table of the linalg op family (src/ops/defs/linalg.def). */
#include "linalg.h"

const onyx_tensor *cpu_const_input(const onyx_node *n, const onyx_graph *g, int i) {
  if (i >= n->n_in || n->in[i] < 0) return NULL;
  return g->values[n->in[i]].init;
}

const cpu_kernel cpu_kernels_linalg[] = {
    {onyx_op_MatMul, cpu_matmul_prepare, cpu_matmul_run, cpu_matmul_release},
    {onyx_op_Gemm, cpu_gemm_prepare, cpu_gemm_run, cpu_matmul_release},
    {onyx_op_MatMulInteger, cpu_matmul_integer_prepare, cpu_matmul_integer_run, cpu_qlinear_release},
    {onyx_op_Conv, cpu_conv_prepare, cpu_conv_run, cpu_conv_release},
    {onyx_op_ConvTranspose, cpu_conv_transpose_prepare, cpu_conv_transpose_run, cpu_conv_release},
    {onyx_op_ConvInteger, cpu_conv_integer_prepare, cpu_conv_integer_run, cpu_qlinear_release},
    {onyx_op_QLinearMatMul, cpu_qlinear_matmul_prepare, cpu_qlinear_matmul_run, cpu_qlinear_release},
    {onyx_op_QLinearConv, cpu_qlinear_conv_prepare, cpu_qlinear_conv_run, cpu_qlinear_release},
    {-1, NULL, NULL, NULL},
};
