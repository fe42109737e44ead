/* infer_loss.c — shape and type inference for the loss op family
 * (defs/loss.def): NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * take scores [N, C, d1..dk], a target [N, d1..dk] of class indices and an
 * optional weight [C]; the loss is shaped like the target under reduction
 * "none" and a scalar otherwise, in the scores' dtype. SoftmaxCrossEntropyLoss
 * may also return the log-probabilities, shaped like the scores. Works with
 * unknown ranks and dims (load time) and fixed ones (run time). */
#include <string.h>

#include "loss_ops.h"

onyx_status *onyx_loss_reduction_of(const onyx_node *n, onyx_loss_reduction *out) {
  const char *r = onyx_attr_string(n, "reduction", "mean");
  if (!strcmp(r, "none")) *out = ONYX_LOSS_NONE;
  else if (!strcmp(r, "sum")) *out = ONYX_LOSS_SUM;
  else if (!strcmp(r, "mean")) *out = ONYX_LOSS_MEAN;
  else
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                           "reduction '%s' is not one of none, sum, mean", r);
  return NULL;
}

/* Checks scores / target / weight against each other where known and writes
 * the loss output (out[0]). */
static onyx_status *infer_loss(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0], *t = &c->in[1];
  onyx_loss_reduction red;
  ONYX_TRY(onyx_loss_reduction_of(n, &red));
  if (x->rank >= 0 && x->rank < 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "scores have rank %d, expected >= 2",
                           x->rank);
  if (t->dtype != ONYX_DTYPE_UNDEFINED && t->dtype != ONYX_DTYPE_INT32 &&
      t->dtype != ONYX_DTYPE_INT64)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "target has dtype %s, expected int32 or int64",
                           onyx_dtype_name(t->dtype));
  if (x->rank >= 0 && t->rank >= 0) {
    if (t->rank != x->rank - 1)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                             "target has rank %d, expected %d (scores' rank without C)", t->rank,
                             x->rank - 1);
    for (int i = 0; i < t->rank; i++) {
      int64_t dx = x->dims[i ? i + 1 : 0], dt = t->dims[i];
      if (dx >= 0 && dt >= 0 && dx != dt)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                               "target dim %d is %lld, scores have %lld", i, (long long)dt,
                               (long long)dx);
    }
  }
  if (n->n_in > 2 && c->in[2].dtype != ONYX_DTYPE_UNDEFINED) {
    const onyx_vinfo *w = &c->in[2];
    if (w->rank >= 0 && w->rank != 1)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "weight has rank %d, expected 1", w->rank);
    if (w->rank == 1 && x->rank >= 2 && w->dims[0] >= 0 && x->dims[1] >= 0 &&
        w->dims[0] != x->dims[1])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "weight has %lld values for %lld classes",
                             (long long)w->dims[0], (long long)x->dims[1]);
  }
  onyx_vinfo *y = &c->out[0];
  y->dtype = x->dtype;
  if (red != ONYX_LOSS_NONE) {
    y->rank = 0;
  } else if (x->rank >= 2) {
    y->rank = x->rank - 1;
    y->dims[0] = x->dims[0];
    for (int i = 1; i < y->rank; i++) y->dims[i] = x->dims[i + 1];
    /* a fixed target dim fills in one the scores leave open */
    for (int i = 0; t->rank == y->rank && i < y->rank; i++)
      if (y->dims[i] < 0 && t->dims[i] >= 0) y->dims[i] = t->dims[i];
  } else if (t->rank >= 0) {
    y->rank = t->rank;
    memcpy(y->dims, t->dims, (size_t)t->rank * sizeof *t->dims);
  }
  return NULL;
}

onyx_status *onyx_infer_nll_loss(onyx_infer_ctx *c) { return infer_loss(c); }

onyx_status *onyx_infer_sce_loss(onyx_infer_ctx *c) {
  ONYX_TRY(infer_loss(c));
  if (c->node->n_out > 1) onyx_vinfo_copy(&c->out[1], &c->in[0]);
  return NULL;
}
