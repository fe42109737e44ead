/* infer_fused.c — shape/type inference of the ai.onyx fused ops
 * (defs/fused.def). Each delegates to the standard op it extends, then
 * checks what the fusion added: the residual of FusedConv and the bias of
 * FusedMatMul must not change the output shape. */
#include "ops.h"

/* Dims a and b can be equal (unknown dims are given the benefit of doubt). */
static bool dims_agree(int64_t a, int64_t b) { return a == b || a < 0 || b < 0; }

onyx_status *onyx_infer_fused_conv(onyx_infer_ctx *c) {
  ONYX_TRY(onyx_infer_conv(c));
  const onyx_vinfo *z = c->node->n_in > 3 ? &c->in[3] : NULL, *y = &c->out[0];
  if (!z || z->rank < 0 || y->rank < 0) return NULL;
  bool ok = z->rank == y->rank;
  for (int d = 0; ok && d < y->rank; d++) ok = dims_agree(z->dims[d], y->dims[d]);
  if (!ok)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                           "residual input has %d dims that differ from the output's %d", z->rank,
                           y->rank);
  return NULL;
}

onyx_status *onyx_infer_fused_gemm(onyx_infer_ctx *c) {
  return onyx_infer_gemm(c);
}

onyx_status *onyx_infer_fused_matmul(onyx_infer_ctx *c) {
  ONYX_TRY(onyx_infer_matmul(c));
  const onyx_vinfo *b = c->node->n_in > 2 ? &c->in[2] : NULL, *y = &c->out[0];
  if (!b || b->dtype == ONYX_DTYPE_UNDEFINED || b->rank < 0 || y->rank < 1) return NULL;
  int64_t n = onyx_numel(b->rank, b->dims);
  for (int d = 0; d < b->rank; d++)
    if (b->dims[d] < 0) return NULL;
  if (!dims_agree(n, y->dims[y->rank - 1]))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias has %lld values, expected %lld",
                           (long long)n, (long long)y->dims[y->rank - 1]);
  return NULL;
}

onyx_status *onyx_infer_attention(onyx_infer_ctx *c) {
  const onyx_vinfo *q = &c->in[0], *k = &c->in[1], *v = &c->in[2];
  if (c->node->n_in < 3)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "needs Q, K and V");
  for (int i = 0; i < 3; i++)
    if (c->in[i].rank >= 0 && c->in[i].rank != 4)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                             "input %d has %d dims, expected [batch, seq, heads, head_size]", i,
                             c->in[i].rank);
  if (q->rank == 4 && k->rank == 4 && v->rank == 4 &&
      (!dims_agree(q->dims[0], k->dims[0]) || !dims_agree(q->dims[2], k->dims[2]) ||
       !dims_agree(q->dims[3], k->dims[3]) || !dims_agree(k->dims[1], v->dims[1]) ||
       !dims_agree(q->dims[2], v->dims[2])))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "Q, K and V shapes do not agree");
  onyx_vinfo_copy(&c->out[0], q);
  if (q->rank == 4 && v->rank == 4) c->out[0].dims[3] = v->dims[3];
  return NULL;
}

/* ---- integer ops of the QDQ fusion --------------------------------------- */

onyx_status *onyx_infer_fused_qlinear_matmul(onyx_infer_ctx *c) {
  ONYX_TRY(onyx_infer_qlinear_matmul(c));
  const onyx_vinfo *b = c->node->n_in > 8 ? &c->in[8] : NULL, *y = &c->out[0];
  if (!b || b->dtype == ONYX_DTYPE_UNDEFINED) return NULL;
  if (b->dtype != ONYX_DTYPE_INT32)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias is %s, expected int32",
                           onyx_dtype_name(b->dtype));
  if (b->rank < 0 || y->rank < 1) return NULL;
  for (int d = 0; d < b->rank; d++)
    if (b->dims[d] < 0) return NULL;
  int64_t n = onyx_numel(b->rank, b->dims);
  if (!dims_agree(n, y->dims[y->rank - 1]))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias has %lld values, expected %lld",
                           (long long)n, (long long)y->dims[y->rank - 1]);
  return NULL;
}

onyx_status *onyx_infer_qlinear_add(onyx_infer_ctx *c) {
  if (c->node->n_in < 7)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "needs A, A_scale, A_zero_point, B, B_scale, "
                           "B_zero_point and C_scale");
  const onyx_vinfo *a = &c->in[0], *b = &c->in[3];
  onyx_vinfo *y = &c->out[0];
  y->dtype = c->node->n_in > 7 && c->in[7].dtype != ONYX_DTYPE_UNDEFINED ? c->in[7].dtype : a->dtype;
  if (a->rank < 0 || b->rank < 0) return NULL;
  return onyx_broadcast_shape(c->node, a->rank, a->dims, b->rank, b->dims, &y->rank, y->dims);
}

onyx_status *onyx_infer_qlinear_global_average_pool(onyx_infer_ctx *c) {
  if (c->node->n_in < 4)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "needs X, x_scale, x_zero_point and y_scale");
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *y = &c->out[0];
  y->dtype = c->node->n_in > 4 && c->in[4].dtype != ONYX_DTYPE_UNDEFINED ? c->in[4].dtype : x->dtype;
  if (x->rank < 0) return NULL;
  if (x->rank < 3)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected >= 3", x->rank);
  y->rank = x->rank;
  bool last = onyx_attr_int(c->node, "channels_last", 0) != 0;
  for (int d = 0; d < x->rank; d++) {
    bool keep = d == 0 || d == (last ? x->rank - 1 : 1);
    y->dims[d] = keep ? x->dims[d] : 1;
  }
  return NULL;
}

onyx_status *onyx_infer_dynamic_quant_matmul(onyx_infer_ctx *c) {
  if (c->node->n_in < 3)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "needs A, B and b_scale");
  ONYX_TRY(onyx_infer_matmul(c));
  c->out[0].dtype = ONYX_DTYPE_FLOAT;
  return NULL;
}
