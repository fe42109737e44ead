/* cuda_kernels.h — the CUDA C kernels of the cuda provider, as C functions
 * that enqueue one launch on a stream and return the launch's error
 * (cudaGetLastError). Built by nvcc from cuda_kernels.cu for sm_90 plus
 * PTX; the provider's C code calls them. Float kernels take a cu_dt (float,
 * float16, bfloat16) and compute in float. Shapes come as element counts
 * and, for broadcasting ops, per-input strides over the output's dims
 * (stride 0 on a broadcast dim). */
#ifndef ONYX_CUDA_KERNELS_H
#define ONYX_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CU_MAX_RANK 8

typedef enum cu_dt { CU_F32, CU_F16, CU_BF16 } cu_dt;

/* An output of `rank` dims and where each input's element for an output
 * index comes from. */
typedef struct cu_bcast {
  int rank;
  int64_t dims[CU_MAX_RANK];
  int64_t stride[3][CU_MAX_RANK];   /* per input (up to 3), in elements */
} cu_bcast;

typedef enum cu_binop {
  CU_ADD, CU_SUB, CU_MUL, CU_DIV, CU_POW, CU_MAX, CU_MIN, CU_PRELU,
  CU_EQ, CU_LT, CU_GT, CU_LE, CU_GE,   /* bool (uint8) outputs */
} cu_binop;

typedef enum cu_unop {
  CU_RELU, CU_LEAKY_RELU, CU_SIGMOID, CU_TANH, CU_EXP, CU_LOG, CU_SQRT, CU_NEG, CU_ABS, CU_ERF,
  CU_GELU, CU_GELU_TANH, CU_HARD_SIGMOID, CU_HARD_SWISH, CU_SOFTPLUS, CU_SOFTSIGN, CU_ELU, CU_SELU,
  CU_CELU, CU_MISH, CU_CLIP, CU_RECIPROCAL, CU_FLOOR, CU_CEIL, CU_ROUND, CU_SIN, CU_COS, CU_SIGN,
  CU_IDENTITY, CU_SCALE,   /* y = alpha * x */
} cu_unop;

/* y = op(a, b) with broadcasting (bc: NULL when a, b and y have n elements
 * each). Comparisons write uint8. */
cudaError_t cu_binary(cu_binop op, cu_dt dt, const void *a, const void *b, void *y, int64_t n, const cu_bcast *bc,
                      cudaStream_t s);
/* y = op(x) elementwise; alpha/beta as the op's attributes (LeakyRelu alpha,
 * HardSigmoid alpha/beta, Clip min/max, Elu/Selu/Celu alpha and Selu gamma
 * in beta). */
cudaError_t cu_unary(cu_unop op, cu_dt dt, const void *x, void *y, int64_t n, float alpha, float beta, cudaStream_t s);
/* y = cond ? a : b with broadcasting over three inputs; elem bytes 1/2/4/8. */
cudaError_t cu_where(int elem, const uint8_t *cond, const void *a, const void *b, void *y, int64_t n,
                     const cu_bcast *bc, cudaStream_t s);
/* y = x broadcast to bc's dims (input 0's strides); elem bytes 1/2/4/8. */
cudaError_t cu_expand(int elem, const void *x, void *y, int64_t n, const cu_bcast *bc, cudaStream_t s);
/* Softmax or LogSoftmax of x viewed as [outer, len, inner] over len. */
cudaError_t cu_softmax(cu_dt dt, const void *x, void *y, int64_t outer, int64_t len, int64_t inner, bool log,
                       cudaStream_t s);
/* LayerNormalization over the last `cols` of rows: y = (x - mean) /
 * sqrt(var + eps) * scale + bias (bias may be NULL); skip (may be NULL) and
 * sbias (may be NULL) are added to x first (SkipLayerNormalization), the
 * sum written to sum_out when given. */
cudaError_t cu_layer_norm(cu_dt dt, const void *x, const void *skip, const void *sbias, const void *scale,
                          const void *bias, void *y, void *sum_out, int64_t rows, int64_t cols, float eps,
                          cudaStream_t s);
/* Transpose of x (rank dims `dims`) by perm; elem bytes 1/2/4/8. */
cudaError_t cu_transpose(int elem, const void *x, void *y, int rank, const int64_t *dims, const int *perm,
                         cudaStream_t s);
/* y[i] = x[start + sum_k idx_k(i) * step_k] over y's dims (a Slice);
 * in_strides are x's strides in elements. */
cudaError_t cu_slice(int elem, const void *x, void *y, int rank, const int64_t *out_dims, const int64_t *in_strides,
                     const int64_t *starts, const int64_t *steps, cudaStream_t s);
/* Gather along an axis of x viewed as [outer, axis_len, inner]: y is
 * [outer, n_idx, inner]; indices int64 (idx64) or int32, negative ones
 * counted from the end; out-of-range ones write 0. */
cudaError_t cu_gather(int elem, const void *x, const void *idx, bool idx64, void *y, int64_t outer, int64_t axis_len,
                      int64_t inner, int64_t n_idx, cudaStream_t s);
/* Cast between ONNX dtypes (ONYX_DTYPE_* values): float, float16,
 * bfloat16, double, int8/16/32/64, uint8/16/32/64, bool. */
cudaError_t cu_cast(int from, int to, const void *x, void *y, int64_t n, cudaStream_t s);
/* Reduce x viewed as [outer, len, inner] over len: op 0 sum, 1 mean, 2 max,
 * 3 min, 4 sum of squares, 5 log-sum-exp. */
cudaError_t cu_reduce(int op, cu_dt dt, const void *x, void *y, int64_t outer, int64_t len, int64_t inner,
                      cudaStream_t s);
/* BatchNormalization (inference) of x viewed as [outer, channels, inner]:
 * y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]. */
cudaError_t cu_batch_norm(cu_dt dt, const void *x, const void *scale, const void *bias, const void *mean,
                          const void *var, void *y, int64_t outer, int64_t channels, int64_t inner, float eps,
                          cudaStream_t s);
/* A kernel that traps (device-side assertion): tests make the device lost. */
cudaError_t cu_trap(cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
