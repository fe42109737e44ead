/* signal_ops.h — the reading of signal-family nodes (DFT, STFT, the window
 * functions, MelWeightMatrix) shared by their infer functions
 * (infer_signal.c) and the cpu kernels (providers/cpu/signal.c).
 *
 * The same node must give the same transform length, axis and output shape
 * at load time (dims and scalar inputs possibly unknown), at run time when the
 * executor sizes outputs, and inside the kernel, so the geometry is computed
 * here once. Unknown quantities come back as -1. */
#ifndef ONYX_OPS_SIGNAL_OPS_H
#define ONYX_OPS_SIGNAL_OPS_H

#include <stdbool.h>

#include "ops.h"

/* A scalar (or one-element) integer input: its value, or -1 when `t` is NULL
 * (not known yet). Fails naming the node and `what` when t has several
 * elements or a value below `min`. */
onyx_status *onyx_signal_scalar(const onyx_node *n, const onyx_tensor *t, const char *what, int64_t min,
                                int64_t *out);

typedef struct onyx_dft_geom {
  int axis;          /* the transformed dim of the input (and output) */
  int64_t n_fft;     /* transform length: dft_length, else the axis' length; -1 unknown */
  int64_t n_out;     /* output length on the axis: n_fft, or n_fft/2 + 1 when onesided */
  bool complex_in;   /* the input's last dim is 2 (else 1) */
  bool inverse, onesided;
} onyx_dft_geom;

/* DFT node n on an input of `rank` dims `dims` (IR encoding; rank known).
 * dft_length / axis: the values of those inputs (borrowed; NULL when not
 * known yet, or absent: the node says which; axis is an input from opset 20,
 * an attribute before). Fails on a bad last dim, axis or length, or an
 * onesided transform of complex input. With the axis not known yet (opset 20,
 * input not constant) *known_axis is false and g->axis is meaningless. */
onyx_status *onyx_dft_geometry(const onyx_node *n, int rank, const int64_t *dims,
                               const onyx_tensor *dft_length, const onyx_tensor *axis,
                               bool *known_axis, onyx_dft_geom *g);

typedef struct onyx_stft_geom {
  int64_t frame_length;   /* DFT size (frame_length input, else the window's length) */
  int64_t frame_step;
  int64_t frames;         /* number of frames */
  int64_t bins;           /* frame_length, or frame_length/2 + 1 when onesided */
  bool complex_in, onesided;
} onyx_stft_geom;

/* STFT node n: signal dims [batch, length, 1|2] (IR encoding), the values of
 * frame_step and frame_length (borrowed; NULL when not known yet, or absent:
 * the node says which) and the window's length (-1 when absent or unknown).
 * Unknown results are -1. */
onyx_status *onyx_stft_geometry(const onyx_node *n, const int64_t *signal_dims,
                                const onyx_tensor *frame_step, int64_t window_len,
                                const onyx_tensor *frame_length, onyx_stft_geom *g);

/* The output_datatype attribute of a window or MelWeightMatrix node (FLOAT
 * by default). */
onyx_dtype onyx_signal_out_dtype(const onyx_node *n);

#endif
