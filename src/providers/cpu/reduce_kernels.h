/* reduce_kernels.h — the run functions of the reduce family's kernels, which
 * live in several files (reduce*.c) but are listed in the one table
 * cpu_kernels_reduce in reduce.c. Also small helpers those files share. */
#ifndef ONYX_CPU_REDUCE_KERNELS_H
#define ONYX_CPU_REDUCE_KERNELS_H

#include "cpu.h"

/* reduce_index.c */
onyx_status *cpu_argmax_run(onyx_kernel_ctx *c);
onyx_status *cpu_argmin_run(onyx_kernel_ctx *c);
onyx_status *cpu_topk_run(onyx_kernel_ctx *c);
onyx_status *cpu_cumsum_run(onyx_kernel_ctx *c);
/* reduce_einsum.c */
onyx_status *cpu_einsum_run(onyx_kernel_ctx *c);
onyx_status *cpu_det_run(onyx_kernel_ctx *c);
/* reduce_detection.c */
onyx_status *cpu_nms_run(onyx_kernel_ctx *c);
onyx_status *cpu_roialign_run(onyx_kernel_ctx *c);
onyx_status *cpu_gridsample_run(onyx_kernel_ctx *c);
/* reduce_random.c */
onyx_status *cpu_random_normal_run(onyx_kernel_ctx *c);
onyx_status *cpu_random_uniform_run(onyx_kernel_ctx *c);
onyx_status *cpu_bernoulli_run(onyx_kernel_ctx *c);
onyx_status *cpu_multinomial_run(onyx_kernel_ctx *c);
/* reduce_quant.c */
onyx_status *cpu_dynamic_quantize_run(onyx_kernel_ctx *c);
onyx_status *cpu_quantize_run(onyx_kernel_ctx *c);
onyx_status *cpu_dequantize_run(onyx_kernel_ctx *c);
/* DynamicQuantizeLinear of n floats into y (uint8), writing the scale and
 * zero point: shared with the fused DynamicQuantMatMul kernel (qlinear.c). */
void cpu_dynamic_quantize_u8(const float *x, int64_t n, uint8_t *y, float *scale, uint8_t *zero,
                             const onyx_threadpool *pool);

/* Converts n elements of a float-like dtype (float, double, float16,
 * bfloat16) or any integer dtype at `src` to double / from double (integers
 * truncate toward zero, saturating is the caller's business). Return false
 * for a dtype they do not cover. */
bool cpu_reduce_load_f64(onyx_dtype dt, const void *src, int64_t n, double *dst);
bool cpu_reduce_store_f64(onyx_dtype dt, const double *src, int64_t n, void *dst);

/* True for the dtypes the two functions above cover. */
bool cpu_reduce_numeric(onyx_dtype dt);

/* Allocates out with the given shape unless it already has data. */
onyx_status *cpu_reduce_ensure(onyx_tensor *out, int rank, const int64_t *dims);

#endif
