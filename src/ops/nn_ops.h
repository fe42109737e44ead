/* nn_ops.h — shape logic of the nn op family shared by its infer functions
 * (infer_nn.c) and the cpu kernels (src/providers/cpu/pool.c): the window
 * geometry of pooling ops and MaxUnpool's default output shape, so load-time inference, run-time sizing and the
 * kernel loops agree on padding and output sizes by construction. */
#ifndef ONYX_OPS_NN_OPS_H
#define ONYX_OPS_NN_OPS_H

#include "ops.h"

/* Window geometry of a pooling node over its spatial axes (input dims 2..). */
typedef struct onyx_pool_geom {
  int nsp;                           /* number of spatial axes */
  int64_t in[ONYX_MAX_RANK];         /* spatial input sizes (IR encoding) */
  int64_t out[ONYX_MAX_RANK];        /* output sizes; ONYX_DIM_UNKNOWN where in is not fixed */
  int64_t k[ONYX_MAX_RANK];          /* kernel_shape */
  int64_t s[ONYX_MAX_RANK];          /* strides */
  int64_t d[ONYX_MAX_RANK];          /* dilations */
  int64_t pb[ONYX_MAX_RANK];         /* padding before (begin) */
  int64_t pe[ONYX_MAX_RANK];         /* padding after (end) */
} onyx_pool_geom;

/* Reads kernel_shape, strides, dilations, pads, auto_pad and ceil_mode of
 * pooling node n (MaxPool, AveragePool, LpPool) for `nsp` spatial input dims
 * `in` (IR encoding; unknown dims give unknown outputs and, under SAME
 * auto_pad, zero pads on that axis) and fills *g. Output sizes follow ONNX
 * (and PyTorch for ceil_mode: a last window starting in the end padding is
 * dropped). Fails naming the node on malformed attributes or an empty output. */
onyx_status *onyx_pool_geometry(const onyx_node *n, int nsp, const int64_t *in,
                                 onyx_pool_geom *g);

/* MaxUnpool's output dims without an output_shape input, for input dims x
 * of rank `rank`: (in - 1) * stride + kernel - pads per spatial axis. Its
 * Indices address this shape even when output_shape asks for a larger one. */
onyx_status *onyx_unpool_default_dims(const onyx_node *n, int rank, const int64_t *x, int64_t *out);

#endif
