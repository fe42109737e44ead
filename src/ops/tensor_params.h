/* tensor_params.h — parameter resolution shared by the tensor family's infer
 * functions (src/ops/infer_tensor.c) and its kernels (src/providers/cpu/).
 *
 * Ops like Slice, Pad, Split and Resize turn attributes plus small constant
 * inputs (starts, pads, scales ...) into per-dimension numbers. Both the
 * infer function (to size outputs, at load time when the inputs are constant
 * and at run time always) and the kernel (to move data) need the same
 * numbers, so they are computed here once, from tensors that may be NULL
 * when an optional input is omitted. Errors name the node. */
#ifndef ONYX_OPS_TENSOR_PARAMS_H
#define ONYX_OPS_TENSOR_PARAMS_H

#include "ops.h"

/* An omitted optional input or one with no elements: ONNX uses empty tensors
 * ("" inputs or shape [0]) to mean "not given" for roi/scales/sizes/axes. */
bool onyx_tensor_absent(const onyx_tensor *t);

/* Reads the axes of Squeeze/Unsqueeze/ReduceX-style ops: from input `t` when
 * given (opset >= 13), else from INTS attribute "axes". Writes count (-1 when
 * neither is present) and the raw (not normalised) axes. */
onyx_status *onyx_read_axes(const onyx_node *n, const onyx_tensor *t, int *count,
                            int64_t axes[ONYX_MAX_RANK]);

/* Normalises `count` axes against `rank`, checking range and duplicates;
 * writes a mask of the axes named. */
onyx_status *onyx_axes_mask(const onyx_node *n, int count, const int64_t *axes, int rank,
                            bool mask[ONYX_MAX_RANK]);

/* Transpose's "perm" attribute (default: reversed dims), checked to be a
 * permutation of 0..rank-1. */
onyx_status *onyx_transpose_perm(const onyx_node *n, int rank, int *perm);

/* Slice over all dims: element d of the output reads input index
 * start[d] + i * step[d] for i < count[d]. Unsliced dims get (0, 1, dim).
 * A sliced dim whose size is not fixed gets count -1. */
typedef struct onyx_slice_plan {
  int64_t start[ONYX_MAX_RANK], step[ONYX_MAX_RANK], count[ONYX_MAX_RANK];
} onyx_slice_plan;

/* starts/ends/axes/steps are the inputs 1..4 (opset >= 10; NULL when
 * omitted) or, for opset < 10, taken from the node's attributes. */
onyx_status *onyx_slice_resolve(const onyx_node *n, int rank, const int64_t *dims,
                                const onyx_tensor *starts, const onyx_tensor *ends,
                                const onyx_tensor *axes, const onyx_tensor *steps,
                                onyx_slice_plan *p);

/* Pad amounts for all dims: pads[d] added before dim d, pads[rank + d] after
 * (negative: cropping). From input `pads`/`axes` (opset >= 11) or the
 * "pads"/"paddings" attribute. */
onyx_status *onyx_pad_resolve(const onyx_node *n, int rank, const onyx_tensor *pads,
                              const onyx_tensor *axes, int64_t out[2 * ONYX_MAX_RANK]);

/* Split sizes along a dim of size `dim` into n_out parts: from `split` (input
 * at opset >= 13, else the "split" attribute) or equal parts (the last one
 * smaller at opset >= 18 when "num_outputs" does not divide). */
onyx_status *onyx_split_sizes(const onyx_node *n, int64_t dim, const onyx_tensor *split,
                              int n_out, int64_t *sizes);

/* Resize / Upsample, fully resolved for a known input shape. */
typedef enum onyx_resize_mode { ONYX_RESIZE_NEAREST, ONYX_RESIZE_LINEAR, ONYX_RESIZE_CUBIC } onyx_resize_mode;
typedef enum onyx_resize_coord {
  ONYX_COORD_HALF_PIXEL, ONYX_COORD_HALF_PIXEL_SYMMETRIC, ONYX_COORD_PYTORCH_HALF_PIXEL,
  ONYX_COORD_ALIGN_CORNERS, ONYX_COORD_ASYMMETRIC, ONYX_COORD_TF_HALF_PIXEL_FOR_NN,
  ONYX_COORD_TF_CROP_AND_RESIZE,
} onyx_resize_coord;
typedef enum onyx_resize_nearest {
  ONYX_NEAREST_ROUND_PREFER_FLOOR, ONYX_NEAREST_ROUND_PREFER_CEIL, ONYX_NEAREST_FLOOR,
  ONYX_NEAREST_CEIL,
  ONYX_NEAREST_SIMPLE,   /* opset < 11: floor when upsampling, ceil when downsampling (ORT) */
} onyx_resize_nearest;

typedef struct onyx_resize_plan {
  onyx_resize_mode mode;
  onyx_resize_coord coord;
  onyx_resize_nearest nearest;
  float cubic_a, extrapolation;
  bool exclude_outside, antialias;
  int64_t out_dims[ONYX_MAX_RANK];
  double scale[ONYX_MAX_RANK];                           /* output / input per dim */
  double roi_start[ONYX_MAX_RANK], roi_end[ONYX_MAX_RANK]; /* tf_crop_and_resize */
} onyx_resize_plan;

/* Reads the attributes only (mode, coordinate mode ...) into p. */
onyx_status *onyx_resize_attrs(const onyx_node *n, onyx_resize_plan *p);
/* Resolves output dims and scales for input dims `dims` (a dim < 0 is not
 * fixed: its output dim is then unknown unless its scale is 1). Inputs by
 * opset: Upsample-7 attr scales; Upsample-9 / Resize-10 (X, scales);
 * Resize-11+ (X, roi, scales, sizes). `scales`/`sizes` must not both be
 * absent. */
onyx_status *onyx_resize_resolve(const onyx_node *n, int rank, const int64_t *dims,
                                 const onyx_tensor *roi, const onyx_tensor *scales,
                                 const onyx_tensor *sizes, onyx_resize_plan *p);

#endif
