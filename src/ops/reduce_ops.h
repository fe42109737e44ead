/* reduce_ops.h — attribute and equation parsing shared by the reduce family's
 * infer functions (infer_reduce.c) and its kernels (providers/cpu/reduce*.c).
 *
 * These live in the op layer because the same reading of a node (which axes a
 * Reduce* node reduces, what an Einsum equation means, the geometry of a
 * QLinearConv) must give the same answer at load time, at run time when
 * outputs are sized, and inside the kernel. */
#ifndef ONYX_OPS_REDUCE_OPS_H
#define ONYX_OPS_REDUCE_OPS_H

#include <stdbool.h>

#include "ops.h"

/* True when node n (a Reduce* op) takes its axes as input 1 rather than as an
 * attribute: ReduceSum from opset 13, the others from opset 18. */
bool onyx_reduce_axes_from_input(const onyx_node *n);

/* Which of `rank` dims node n (a Reduce* op) reduces. `axes` is the axes input
 * tensor (borrowed; NULL when absent or when axes come from the attribute).
 * Writes mask[d] for every dim and *noop: true when the axes are empty and
 * noop_with_empty_axes is set, so the op is an identity. Empty axes without
 * that flag reduce every dim. Fails naming the node on an axis out of range. */
onyx_status *onyx_reduce_axes(const onyx_node *n, const onyx_tensor *axes, int rank, bool *mask,
                              bool *noop);

/* ---- Einsum ---------------------------------------------------------------- */

#define ONYX_EINSUM_MAX_INPUTS 16
/* Label ids: 'a'..'z' are 0..25, 'A'..'Z' 26..51, the dims an ellipsis stands
 * for are 52 + k (k counted from the left of the widest ellipsis). */
#define ONYX_EINSUM_ELLIPSIS0 52
#define ONYX_EINSUM_MAX_LABELS (ONYX_EINSUM_ELLIPSIS0 + ONYX_MAX_RANK)

typedef struct onyx_einsum {
  int n_in;
  int in_rank[ONYX_EINSUM_MAX_INPUTS];
  int in_label[ONYX_EINSUM_MAX_INPUTS][ONYX_MAX_RANK];  /* label id of each dim */
  int out_rank;
  int out_label[ONYX_MAX_RANK];
} onyx_einsum;

/* Parses node n's `equation` for inputs of the given ranks (all known).
 * Handles explicit ("ij,jk->ik") and implicit ("ij,jk") outputs, repeated
 * labels (diagonals) and ellipses. Fails naming the node when the equation
 * does not fit the inputs. */
onyx_status *onyx_einsum_parse(const onyx_node *n, int n_in, const int *ranks, onyx_einsum *out);

#endif
