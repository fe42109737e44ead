/* tensor_kernels.h — what the cpu tensor-family files share: the kernels
 * each file defines (listed in the one table cpu_kernels_tensor, tensor.c)
 * and the data-movement helpers they are built on (tensor_copy.c).
 *
 * Every kernel here moves elements without looking at them, so one code
 * path serves all dtypes of the same size (float16 and bfloat16 are 2-byte
 * moves). String tensors move their char* like 8-byte elements; the kernel
 * then calls cpu_strings_own so the output owns copies, never aliases. */
#ifndef ONYX_CPU_TENSOR_KERNELS_H
#define ONYX_CPU_TENSOR_KERNELS_H

#include "cpu.h"

/* ---- helpers (tensor_copy.c) -------------------------------------------- */

/* Bytes per element for data movement, or an error naming the node for
 * dtypes that cannot be moved element-wise (sub-byte, undefined). */
onyx_status *cpu_elem_size(const onyx_node *n, onyx_dtype dt, size_t *esz);

/* Copies an N-d strided view: for every index i < dims, dst[i . dst_strides]
 * = src[i . src_strides] (strides in elements, may be 0 or negative;
 * rank <= 2 * ONYX_MAX_RANK, so Tile can split each dim in two).
 * Merges contiguous dims, uses memcpy rows, a tiled path for transposes, and
 * threads for large copies. */
void cpu_copy_strided(const onyx_threadpool *pool, void *dst, const void *src, size_t esz, int rank,
                      const int64_t *dims, const int64_t *dst_strides, const int64_t *src_strides);

/* Row-major strides (in elements) of dims. */
void cpu_strides(int rank, const int64_t *dims, int64_t *strides);

/* For a string output whose elements were moved as pointers (aliasing the
 * input's strings), replaces every non-NULL pointer by an owned copy, and
 * NULL by "". On out-of-memory the rest are cleared so freeing is safe. */
onyx_status *cpu_strings_own(onyx_tensor *t);

/* Allocates `out` with (rank, dims) unless the executor already did. */
onyx_status *cpu_out_alloc(onyx_tensor *out, int rank, const int64_t *dims);

/* Reads index i of an int32/int64 index tensor. */
static inline int64_t cpu_index_at(const onyx_tensor *t, int64_t i) {
  return t->dtype == ONYX_DTYPE_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* ---- kernels, by file ---------------------------------------------------- */

/* tensor.c: Reshape, Flatten, Squeeze, Unsqueeze share one copy kernel */
onyx_status *cpu_transpose_run(onyx_kernel_ctx *c);        /* transpose.c */
onyx_status *cpu_depth_to_space_run(onyx_kernel_ctx *c);
onyx_status *cpu_space_to_depth_run(onyx_kernel_ctx *c);
onyx_status *cpu_concat_run(onyx_kernel_ctx *c);           /* concat_split.c */
onyx_status *cpu_split_run(onyx_kernel_ctx *c);
onyx_status *cpu_slice_run(onyx_kernel_ctx *c);            /* slice_pad.c */
onyx_status *cpu_expand_run(onyx_kernel_ctx *c);
onyx_status *cpu_tile_run(onyx_kernel_ctx *c);
onyx_status *cpu_pad_run(onyx_kernel_ctx *c);
onyx_status *cpu_center_crop_pad_run(onyx_kernel_ctx *c);
onyx_status *cpu_gather_run(onyx_kernel_ctx *c);           /* gather.c */
onyx_status *cpu_gather_elements_run(onyx_kernel_ctx *c);
onyx_status *cpu_gather_nd_run(onyx_kernel_ctx *c);
onyx_status *cpu_scatter_elements_run(onyx_kernel_ctx *c);
onyx_status *cpu_scatter_nd_run(onyx_kernel_ctx *c);
onyx_status *cpu_one_hot_run(onyx_kernel_ctx *c);
onyx_status *cpu_non_zero_run(onyx_kernel_ctx *c);         /* select.c */
onyx_status *cpu_compress_run(onyx_kernel_ctx *c);
onyx_status *cpu_unique_run(onyx_kernel_ctx *c);
onyx_status *cpu_trilu_run(onyx_kernel_ctx *c);
onyx_status *cpu_reverse_sequence_run(onyx_kernel_ctx *c);
onyx_status *cpu_resize_run(onyx_kernel_ctx *c);           /* resize.c */
onyx_status *cpu_col2im_run(onyx_kernel_ctx *c);           /* col2im.c */

#endif
