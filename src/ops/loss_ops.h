/* loss_ops.h — attribute logic of the loss op family (NegativeLogLikelihoodLoss,
 * SoftmaxCrossEntropyLoss) shared by its infer functions (infer_loss.c) and
 * the cpu kernels (src/providers/cpu/loss.c), so that load-time inference and
 * the kernel agree on what `reduction` means. */
#ifndef ONYX_OPS_LOSS_OPS_H
#define ONYX_OPS_LOSS_OPS_H

#include "ops.h"

typedef enum onyx_loss_reduction {
  ONYX_LOSS_NONE,   /* one loss per target element, shaped like the target */
  ONYX_LOSS_SUM,    /* a scalar: sum of the weighted losses */
  ONYX_LOSS_MEAN,   /* a scalar: weighted sum / sum of the weights in use */
} onyx_loss_reduction;

/* Reads node n's `reduction` attribute ("mean" when absent). Fails naming the
 * node on any other value than none, sum, mean. */
onyx_status *onyx_loss_reduction_of(const onyx_node *n, onyx_loss_reduction *out);

#endif
