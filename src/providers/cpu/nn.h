/* nn.h — internals shared by the cpu kernels of the nn family: the run
 * functions of pool.c, norm.c, softmax.c and dropout.c (listed in nn.c's one
 * table, cpu_kernels_nn), dtype dispatch and threading helpers. */
#ifndef ONYX_CPU_NN_H
#define ONYX_CPU_NN_H

#include <stdbool.h>

#include "cpu.h"

/* A kernel body for float32 tensors. */
typedef onyx_status *(*nn_f32_fn)(onyx_kernel_ctx *c);

/* Runs `f32` for input 0's dtype: directly for float32; for float16 and
 * bfloat16 (and int8/uint8 when `ints`, for ops where float32 is exact, like
 * max pooling) on float32 copies of every input and output of that dtype,
 * converting the outputs back. Other dtypes fail with NOT_IMPLEMENTED. */
onyx_status *nn_dispatch(onyx_kernel_ctx *c, nn_f32_fn f32, bool ints);

/* Items per parallel chunk when each item costs `work` element operations:
 * enough for a chunk to amortise waking a thread. */
size_t nn_grain(int64_t work);

/* pool.c */
onyx_status *cpu_maxpool(onyx_kernel_ctx *c);
onyx_status *cpu_averagepool(onyx_kernel_ctx *c);
onyx_status *cpu_lppool(onyx_kernel_ctx *c);
onyx_status *cpu_global_averagepool(onyx_kernel_ctx *c);
onyx_status *cpu_global_maxpool(onyx_kernel_ctx *c);
onyx_status *cpu_global_lppool(onyx_kernel_ctx *c);
onyx_status *cpu_max_roi_pool(onyx_kernel_ctx *c);
onyx_status *cpu_max_unpool(onyx_kernel_ctx *c);

/* norm.c */
onyx_status *cpu_batch_norm(onyx_kernel_ctx *c);
onyx_status *cpu_instance_norm(onyx_kernel_ctx *c);
onyx_status *cpu_layer_norm(onyx_kernel_ctx *c);
/* LayerNormalization of `rows` rows of `cols` floats (x may equal y), for
 * kernels that normalize what they computed (SkipLayerNormalization). */
void cpu_layer_norm_rows(const float *x, const float *scale, const float *bias, float *y,
                         int64_t rows, int64_t cols, float eps, const onyx_threadpool *pool);
onyx_status *cpu_group_norm(onyx_kernel_ctx *c);
onyx_status *cpu_lrn(onyx_kernel_ctx *c);
onyx_status *cpu_mvn(onyx_kernel_ctx *c);
onyx_status *cpu_lp_norm(onyx_kernel_ctx *c);

/* softmax.c */
onyx_status *cpu_softmax(onyx_kernel_ctx *c);
onyx_status *cpu_log_softmax(onyx_kernel_ctx *c);
onyx_status *cpu_hardmax(onyx_kernel_ctx *c);
/* Softmax of one row of n floats (y may equal x), for kernels that make the
 * row themselves (Attention). */
void cpu_softmax_row(const float *x, float *y, int64_t n);

/* dropout.c */
onyx_status *cpu_dropout(onyx_kernel_ctx *c);

#endif
