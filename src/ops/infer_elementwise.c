/* infer_elementwise.c — shape/type inference for the elementwise ops that
 * the generic helpers of ops.c do not cover: inputs that must share a dtype,
 * boolean results, Where's three-way broadcast and Cast's target type. */
#include <string.h>

#include "ops.h"

/* Fails when two present inputs in [first, first + count) have different
 * known dtypes; writes the first known dtype (UNDEFINED if none). */
static onyx_status *same_dtype(onyx_infer_ctx *c, int first, int count, onyx_dtype *out) {
  onyx_dtype dt = ONYX_DTYPE_UNDEFINED;
  for (int i = first; i < first + count && i < c->node->n_in; i++) {
    onyx_dtype d = c->in[i].dtype;
    if (d == ONYX_DTYPE_UNDEFINED) continue;
    if (dt != ONYX_DTYPE_UNDEFINED && d != dt)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "inputs have different dtypes (%s and %s)",
                             onyx_dtype_name(dt), onyx_dtype_name(d));
    dt = d;
  }
  *out = dt;
  return NULL;
}

onyx_status *onyx_infer_ew_binary(onyx_infer_ctx *c) {
  onyx_dtype dt = ONYX_DTYPE_UNDEFINED;
  ONYX_TRY(same_dtype(c, 0, c->node->n_in, &dt));
  ONYX_TRY(onyx_infer_broadcast(c));
  c->out[0].dtype = dt;
  return NULL;
}

onyx_status *onyx_infer_ew_compare(onyx_infer_ctx *c) {
  onyx_dtype dt = ONYX_DTYPE_UNDEFINED;
  ONYX_TRY(same_dtype(c, 0, c->node->n_in, &dt));
  return onyx_infer_broadcast_bool(c);
}

onyx_status *onyx_infer_ew_to_bool(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = ONYX_DTYPE_BOOL;
  return NULL;
}

onyx_status *onyx_infer_ew_where(onyx_infer_ctx *c) {
  if (c->node->n_in != 3)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "has %d inputs, expected 3", c->node->n_in);
  if (c->in[0].dtype != ONYX_DTYPE_UNDEFINED && c->in[0].dtype != ONYX_DTYPE_BOOL)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "condition has dtype %s, expected bool",
                           onyx_dtype_name(c->in[0].dtype));
  onyx_dtype dt = ONYX_DTYPE_UNDEFINED;
  ONYX_TRY(same_dtype(c, 1, 2, &dt));
  ONYX_TRY(onyx_infer_broadcast(c));
  c->out[0].dtype = dt;
  return NULL;
}

onyx_status *onyx_infer_ew_cast(onyx_infer_ctx *c) {
  int64_t to = onyx_attr_int(c->node, "to", ONYX_DTYPE_UNDEFINED);
  if (to <= ONYX_DTYPE_UNDEFINED || to >= ONYX_DTYPE_COUNT_)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "attribute 'to' is missing or not a dtype (%lld)",
                           (long long)to);
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = (onyx_dtype)to;
  return NULL;
}

onyx_status *onyx_infer_ew_castlike(onyx_infer_ctx *c) {
  if (c->node->n_in != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "has %d inputs, expected 2", c->node->n_in);
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = c->in[1].dtype;
  return NULL;
}
