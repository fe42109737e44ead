/* linalg.h — convolution geometry shared by the linalg infer functions and
 * the cpu kernels (Conv, ConvInteger, ConvTranspose), so that the output size
 * formula and the auto_pad rules exist exactly once. */
#ifndef ONYX_OPS_LINALG_H
#define ONYX_OPS_LINALG_H

#include "ops/ops.h"

#define ONYX_CONV_MAX_SPATIAL (ONYX_MAX_RANK - 2)

typedef struct onyx_conv_geom {
  int nsp;                                   /* spatial dims */
  int64_t group;
  int64_t in_channels, out_channels;         /* C and M; -1 when unknown */
  int64_t kernel[ONYX_CONV_MAX_SPATIAL];     /* -1 when unknown */
  int64_t stride[ONYX_CONV_MAX_SPATIAL];
  int64_t dilation[ONYX_CONV_MAX_SPATIAL];
  int64_t pad_begin[ONYX_CONV_MAX_SPATIAL];  /* may be negative for ConvTranspose */
  int64_t pad_end[ONYX_CONV_MAX_SPATIAL];    /* with output_shape (crop vs extend) */
  int64_t out_pad[ONYX_CONV_MAX_SPATIAL];    /* ConvTranspose output_padding */
  int64_t in[ONYX_CONV_MAX_SPATIAL];         /* input spatial dims (IR encoding) */
  int64_t out[ONYX_CONV_MAX_SPATIAL];        /* output spatial dims; -1 when unknown */
} onyx_conv_geom;

/* Reads the attributes of Conv / ConvInteger (transpose false) or
 * ConvTranspose (true) node n for input dims x (rank >= 3: N, C, spatial...)
 * and weight dims w (same rank; Conv: M, C/group, k...; ConvTranspose:
 * C, M/group, k...), and computes pads and output spatial sizes. Unknown or
 * symbolic input dims give unknown (-1) outputs. Fails naming the node on
 * inconsistent attributes or channel counts. */
onyx_status *onyx_conv_geometry(const onyx_node *n, bool transpose, int rank, const int64_t *x,
                                const int64_t *w, onyx_conv_geom *g);

#endif
