/* infer_control.c — type inference for subgraph ops (If/Loop/Scan) and the
 * sequence/optional ops. Output shapes of subgraph ops are data-dependent in
 * general, so only kinds and dtypes are inferred (from the body's declared
 * outputs); the kernels size the outputs at run time. */
#include "ops.h"

static void unknown(onyx_vinfo *v, onyx_kind kind, onyx_dtype dtype) {
  v->kind = kind;
  v->dtype = dtype;
  v->rank = -1;
}

/* out[i] takes the kind and dtype of body output body_first + i. */
static void from_body(onyx_infer_ctx *c, const char *attr, int out_first, int body_first, int n) {
  const onyx_attr *a = onyx_node_attr(c->node, attr);
  if (!a || !a->g) return;
  const onyx_graph *b = a->g;
  for (int i = 0; i < n && body_first + i < b->n_outputs && out_first + i < c->node->n_out; i++) {
    const onyx_value *v = &b->values[b->outputs[body_first + i]];
    unknown(&c->out[out_first + i], v->kind, v->dtype);
  }
}

onyx_status *onyx_infer_if(onyx_infer_ctx *c) {
  const onyx_attr *t = onyx_node_attr(c->node, "then_branch"), *e = onyx_node_attr(c->node, "else_branch");
  if (!t || !t->g || !e || !e->g)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "needs then_branch and else_branch graphs");
  if (t->g->n_outputs != c->node->n_out || e->g->n_outputs != c->node->n_out)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "branches give %d and %d outputs, node has %d",
                           t->g->n_outputs, e->g->n_outputs, c->node->n_out);
  from_body(c, "then_branch", 0, 0, c->node->n_out);
  return NULL;
}

onyx_status *onyx_infer_loop(onyx_infer_ctx *c) {
  const onyx_attr *b = onyx_node_attr(c->node, "body");
  if (!b || !b->g) return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "needs a body graph");
  int n_carried = c->node->n_in - 2;
  if (n_carried < 0 || b->g->n_inputs != n_carried + 2 || b->g->n_outputs < n_carried + 1)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL,
                           "body has %d inputs and %d outputs for %d loop-carried values",
                           b->g->n_inputs, b->g->n_outputs, n_carried);
  /* carried values keep the type of their initial value when the body does not say */
  for (int i = 0; i < n_carried && i < c->node->n_out; i++)
    unknown(&c->out[i], c->in[2 + i].kind, c->in[2 + i].dtype);
  from_body(c, "body", 0, 1, c->node->n_out);
  for (int i = 0; i < n_carried && i < c->node->n_out; i++)
    if (c->out[i].dtype == ONYX_DTYPE_UNDEFINED) c->out[i].dtype = c->in[2 + i].dtype;
  return NULL;
}

onyx_status *onyx_infer_scan(onyx_infer_ctx *c) {
  const onyx_attr *b = onyx_node_attr(c->node, "body");
  if (!b || !b->g) return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "needs a body graph");
  from_body(c, "body", 0, 0, c->node->n_out);
  return NULL;
}

onyx_status *onyx_infer_sequence_map(onyx_infer_ctx *c) {
  const onyx_attr *b = onyx_node_attr(c->node, "body");
  if (!b || !b->g) return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "needs a body graph");
  if (b->g->n_inputs != c->node->n_in || b->g->n_outputs != c->node->n_out)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "body has %d inputs and %d outputs, the node %d and %d",
                           b->g->n_inputs, b->g->n_outputs, c->node->n_in, c->node->n_out);
  if (c->in[0].kind != ONYX_KIND_SEQUENCE && c->in[0].dtype != ONYX_DTYPE_UNDEFINED)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input 0 must be a sequence");
  /* each output is the sequence of one body output */
  for (int i = 0; i < c->node->n_out; i++) {
    const onyx_value *v = &b->g->values[b->g->outputs[i]];
    unknown(&c->out[i], ONYX_KIND_SEQUENCE, v->dtype);
  }
  return NULL;
}

onyx_status *onyx_infer_seq_of_input0(onyx_infer_ctx *c) {
  unknown(&c->out[0], ONYX_KIND_SEQUENCE, c->in[0].dtype);
  return NULL;
}

onyx_status *onyx_infer_sequence_empty(onyx_infer_ctx *c) {
  unknown(&c->out[0], ONYX_KIND_SEQUENCE, (onyx_dtype)onyx_attr_int(c->node, "dtype", ONYX_DTYPE_FLOAT));
  return NULL;
}

onyx_status *onyx_infer_tensor_of_seq(onyx_infer_ctx *c) {
  unknown(&c->out[0], ONYX_KIND_TENSOR, c->in[0].dtype);
  return NULL;
}

onyx_status *onyx_infer_int64_scalar(onyx_infer_ctx *c) {
  c->out[0].kind = ONYX_KIND_TENSOR;
  c->out[0].dtype = ONYX_DTYPE_INT64;
  c->out[0].rank = 0;
  return NULL;
}

onyx_status *onyx_infer_bool_scalar(onyx_infer_ctx *c) {
  c->out[0].kind = ONYX_KIND_TENSOR;
  c->out[0].dtype = ONYX_DTYPE_BOOL;
  c->out[0].rank = 0;
  return NULL;
}

onyx_status *onyx_infer_optional(onyx_infer_ctx *c) {
  unknown(&c->out[0], ONYX_KIND_OPTIONAL, c->node->n_in ? c->in[0].dtype : ONYX_DTYPE_UNDEFINED);
  return NULL;
}

onyx_status *onyx_infer_optional_get(onyx_infer_ctx *c) {
  /* an optional holds a tensor unless its input is known to be a sequence */
  unknown(&c->out[0], ONYX_KIND_TENSOR, c->in[0].dtype);
  if (c->in[0].value) {
    const onyx_tensor *t = c->in[0].value;
    if (t->kind == ONYX_KIND_SEQUENCE || (t->kind == ONYX_KIND_OPTIONAL && t->n_elems &&
                                          t->elems[0]->kind == ONYX_KIND_SEQUENCE))
      c->out[0].kind = ONYX_KIND_SEQUENCE;
  }
  return NULL;
}
