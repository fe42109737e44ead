/* ops.h — the operator table: one entry per operator, provider-independent.
 *
 * ops.def (which includes one file per op family under defs/) lists every
 * operator once as OP(DOMAIN, Name, infer_fn). From it come the enum
 * onyx_op_<Name>, the name table and the schema array. Shape/type inference
 * lives here, next to the schema, and is used twice:
 *  - at load time with what is known statically (dims may be unknown or
 *    symbolic; `value` set only for constants), to check the model early and
 *    give every value a type;
 *  - at run time with the actual input tensors (all dims fixed, every `value`
 *    set), to size the outputs before the kernel runs.
 * An infer function writes out[i].dtype/rank/dims for each output it can. It
 * leaves rank -1 (or dims unknown) where the shape depends on data it was not
 * given, or on data itself (NonZero): at run time the kernel then allocates
 * that output. It returns an error naming the node when inputs are invalid. */
#ifndef ONYX_OPS_H
#define ONYX_OPS_H

#include "base/status.h"
#include "ir/ir.h"

typedef struct onyx_vinfo {
  onyx_kind kind;
  onyx_dtype dtype;              /* UNDEFINED: absent optional input / unknown */
  int rank;                      /* -1 unknown */
  int64_t dims[ONYX_MAX_RANK];   /* IR encoding: >= 0, ONYX_DIM_UNKNOWN, symbolic */
  const onyx_tensor *value;      /* known contents, or NULL */
} onyx_vinfo;

/* Inference context: the node, its graph's model (for symbols), inputs
 * (n->n_in entries, dtype UNDEFINED for omitted ones) and outputs
 * (n->n_out entries, pre-set to dtype UNDEFINED, rank -1). */
typedef struct onyx_infer_ctx {
  const onyx_node *node;
  onyx_model *model;
  const onyx_vinfo *in;
  onyx_vinfo *out;
} onyx_infer_ctx;

typedef onyx_status *(*onyx_infer_fn)(onyx_infer_ctx *c);

typedef struct onyx_op_schema {
  const char *domain;    /* "" or "ai.onnx.ml" or "ai.onyx" or "com.microsoft" */
  const char *name;
  onyx_infer_fn infer;
} onyx_op_schema;

#define ONYX_DOMAIN_ONNX ""
#define ONYX_DOMAIN_ML "ai.onnx.ml"
#define ONYX_DOMAIN_ONYX "ai.onyx"
#define ONYX_DOMAIN_MS "com.microsoft"

/* Infer functions are declared from the table (each family file defines its own). */
#define OP(domain, name, infer) onyx_status *infer(onyx_infer_ctx *c);
#include "ops.def"
#undef OP

enum {
#define OP(domain, name, infer) onyx_op_##name,
#include "ops.def"
#undef OP
  ONYX_OP_COUNT
};

extern const onyx_op_schema onyx_op_schemas[ONYX_OP_COUNT];

/* Op id for (domain, op_type), or -1. */
int onyx_op_lookup(const char *domain, const char *op_type);
/* Runs inference for node n of graph g over all nodes in order (load-time
 * mode), filling g->values' dtype/rank/dims where they were unknown and
 * checking declared ones. Sets node->op. Unknown ops fail with
 * ONYX_ERR_NOT_IMPLEMENTED naming them. Infer functions trust each node's
 * arity: a graph from outside onyx goes through onyx_model_check, which
 * checks it first. */
onyx_status *onyx_graph_infer(onyx_graph *g);

/* Checks model m before a session or the optimizer uses it, and readies its
 * graph for them (src/ops/validate.c): the IR version; the main graph sorted
 * and structurally valid (onyx_graph_toposort, onyx_graph_validate); every
 * node of an ONNX domain, subgraphs included, against ONNX's schema at the
 * model's opset (the op exists and was not removed; input and output counts;
 * required inputs and outputs not omitted; attribute names, types and
 * required ones), before inference reads the nodes; shapes and types
 * inferred (onyx_graph_infer); input dtypes against the schemas' type
 * constraints. Every error is the model's fault:
 * ONYX_ERR_INVALID_MODEL naming the node (ONYX_ERR_NOT_IMPLEMENTED for valid
 * ONNX onyx cannot run, such as a newer IR version or an unknown op;
 * ONYX_ERR_OUT_OF_MEMORY). Modifies m's graph (order, value types); not
 * thread-safe on one model. */
onyx_status *onyx_model_check(onyx_model *m);

/* ---- helpers for infer functions and kernels ---------------------------- */

/* Error for node: "node 'name' (Op): <msg>" with code INVALID_ARGUMENT. */
onyx_status *onyx_node_error(const onyx_node *n, onyx_code code, const char *fmt, ...)
    ONYX_PRINTF(3, 4);

/* Multidirectional (numpy) broadcast of a and b into out (IR encoding: an
 * unknown/symbolic dim broadcast against 1 stays as it is; two different
 * symbols give unknown). Fails on two different fixed dims != 1. */
onyx_status *onyx_broadcast_shape(const onyx_node *n, int ra, const int64_t *a, int rb,
                                  const int64_t *b, int *rout, int64_t *out);
/* Normalises axis into [0, rank) (negative counts from the end). */
onyx_status *onyx_norm_axis(const onyx_node *n, int64_t axis, int rank, int *out);
/* Copies in's type to out (same dtype, rank and dims). */
void onyx_vinfo_copy(onyx_vinfo *out, const onyx_vinfo *in);
/* True when every dim is fixed (>= 0) and rank known. */
bool onyx_vinfo_static(const onyx_vinfo *v);

/* Generic infer functions shared by many ops. */
onyx_status *onyx_infer_same_as_input0(onyx_infer_ctx *c);   /* unary elementwise */
onyx_status *onyx_infer_broadcast(onyx_infer_ctx *c);        /* binary/variadic, dtype of in0 */
onyx_status *onyx_infer_broadcast_bool(onyx_infer_ctx *c);   /* comparisons: bool out */

#endif
