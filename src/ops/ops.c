/* ops.c — the operator table built from ops.def, lookup, load-time inference
 * over a graph, and shape helpers shared by infer functions and kernels. */
#include "ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"

const onyx_op_schema onyx_op_schemas[ONYX_OP_COUNT] = {
#define OP(domain, name, infer) {domain, #name, infer},
#include "ops.def"
#undef OP
};

static bool same_domain(const char *a, const char *b) {
  bool da = !a || !*a || !strcmp(a, "ai.onnx"), db = !b || !*b || !strcmp(b, "ai.onnx");
  if (da || db) return da && db;
  return !strcmp(a, b);
}

int onyx_op_lookup(const char *domain, const char *op_type) {
  for (int i = 0; i < ONYX_OP_COUNT; i++)
    if (!strcmp(onyx_op_schemas[i].name, op_type) && same_domain(onyx_op_schemas[i].domain, domain))
      return i;
  return -1;
}

onyx_status *onyx_node_error(const onyx_node *n, onyx_code code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return onyx_error(code, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

onyx_status *onyx_broadcast_shape(const onyx_node *n, int ra, const int64_t *a, int rb,
                                  const int64_t *b, int *rout, int64_t *out) {
  int r = ra > rb ? ra : rb;
  int64_t tmp[ONYX_MAX_RANK];
  for (int i = 0; i < r; i++) {
    int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
    int64_t d;
    if (da == db) d = da;
    else if (da == 1) d = db;
    else if (db == 1) d = da;
    else if (da >= 0 && db >= 0) {
      char sa[128], sb[128];
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                             "shapes %s and %s cannot be broadcast (dim %d: %lld vs %lld)",
                             onyx_shape_str(ra, a, sa, sizeof sa), onyx_shape_str(rb, b, sb, sizeof sb),
                             i, (long long)da, (long long)db);
    } else if (da >= 0) d = da;     /* fixed vs unknown: the unknown must equal it */
    else if (db >= 0) d = db;
    else d = ONYX_DIM_UNKNOWN;
    tmp[i] = d;
  }
  memcpy(out, tmp, (size_t)r * sizeof *out);
  *rout = r;
  return NULL;
}

onyx_status *onyx_norm_axis(const onyx_node *n, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= (rank ? rank : 1))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                           (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

void onyx_vinfo_copy(onyx_vinfo *out, const onyx_vinfo *in) {
  out->kind = in->kind;
  out->dtype = in->dtype;
  out->rank = in->rank;
  if (in->rank > 0) memcpy(out->dims, in->dims, (size_t)in->rank * sizeof in->dims[0]);
}

bool onyx_vinfo_static(const onyx_vinfo *v) {
  if (v->rank < 0) return false;
  for (int i = 0; i < v->rank; i++)
    if (v->dims[i] < 0) return false;
  return true;
}

onyx_status *onyx_infer_same_as_input0(onyx_infer_ctx *c) {
  for (int i = 0; i < c->node->n_out; i++) onyx_vinfo_copy(&c->out[i], &c->in[0]);
  return NULL;
}

static onyx_status *infer_bcast(onyx_infer_ctx *c, onyx_dtype dt) {
  int r = 0;
  int64_t dims[ONYX_MAX_RANK];
  for (int i = 0; i < c->node->n_in; i++) {
    const onyx_vinfo *v = &c->in[i];
    if (c->node->in[i] < 0) continue;   /* omitted */
    /* unknown rank (a subgraph's outer-scope value before run time):
     * the result's rank is unknown too, not that of the other inputs */
    if (v->rank < 0) {
      c->out[0].dtype = dt;
      c->out[0].rank = -1;
      return NULL;
    }
    ONYX_TRY(onyx_broadcast_shape(c->node, r, dims, v->rank, v->dims, &r, dims));
  }
  c->out[0].dtype = dt;
  c->out[0].rank = r;
  memcpy(c->out[0].dims, dims, (size_t)r * sizeof dims[0]);
  return NULL;
}

onyx_status *onyx_infer_broadcast(onyx_infer_ctx *c) { return infer_bcast(c, c->in[0].dtype); }
onyx_status *onyx_infer_broadcast_bool(onyx_infer_ctx *c) { return infer_bcast(c, ONYX_DTYPE_BOOL); }

/* Load-time vinfo of value v of g (constant contents when it has an initializer). */
static void value_vinfo(const onyx_graph *g, int v, onyx_vinfo *out) {
  memset(out, 0, sizeof *out);
  out->rank = -1;
  if (v < 0) return;
  const onyx_value *val = &g->values[v];
  out->kind = val->kind;
  out->dtype = val->dtype;
  out->rank = val->rank;
  if (val->rank > 0) memcpy(out->dims, val->dims, (size_t)val->rank * sizeof val->dims[0]);
  out->value = val->init;
}

/* Merges inferred info into a declared value type: fills unknowns; fails on
 * a conflicting dtype, or a conflicting rank of a main-graph output. */
static onyx_status *merge_into(const onyx_graph *g, const onyx_node *n, onyx_value *val,
                               const onyx_vinfo *inf) {
  if (inf->dtype != ONYX_DTYPE_UNDEFINED) {
    if (val->dtype != ONYX_DTYPE_UNDEFINED && val->dtype != inf->dtype)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "output '%s' is declared %s but computes %s",
                             val->name, onyx_dtype_name(val->dtype), onyx_dtype_name(inf->dtype));
    val->dtype = inf->dtype;
  }
  val->kind = inf->kind;
  if (inf->rank < 0) return NULL;
  if (!onyx_dims_fit(inf->rank, inf->dims))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "output '%s' would have more elements than onyx can hold",
                           val->name);
  if (val->rank < 0) {
    val->rank = inf->rank;
    memcpy(val->dims, inf->dims, (size_t)inf->rank * sizeof inf->dims[0]);
    return NULL;
  }
  if (val->rank != inf->rank) {
    /* The main graph's outputs are the model's promise to its caller, and
     * ONNX Runtime holds the model to it; declared shapes elsewhere in real
     * models are sometimes stale: trust inference there. */
    if (val->is_output && !g->parent)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                             "graph output '%s' is declared with rank %d but computes rank %d", val->name, val->rank,
                             inf->rank);
    val->rank = inf->rank;
    memcpy(val->dims, inf->dims, (size_t)inf->rank * sizeof inf->dims[0]);
    return NULL;
  }
  for (int i = 0; i < inf->rank; i++)
    if (inf->dims[i] >= 0 || val->dims[i] == ONYX_DIM_UNKNOWN) val->dims[i] = inf->dims[i];
  return NULL;
}

onyx_status *onyx_graph_infer(onyx_graph *g) {
  onyx_vinfo in[64], out[64];
  int filled = 64;   /* in[filled..64) hold "unknown" */
  for (int i = 0; i < g->n_nodes; i++) {
    onyx_node *n = &g->nodes[i];
    n->op = onyx_op_lookup(n->domain, n->op_type);
    if (n->op < 0)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "node '%s': operator %s%s%s is not supported",
                        n->name, n->domain[0] ? n->domain : "", n->domain[0] ? "." : "", n->op_type);
    if (n->n_in > 64 || n->n_out > 64)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "more than 64 inputs or outputs");
    /* inputs the node does not have read as unknown, so an infer function
     * never sees stack garbage or a previous node's inputs on a node with
     * too few inputs (paths that infer without validating arity first, such
     * as the quantizer's); only the slots the previous node filled need
     * resetting */
    for (int k = 0; k < n->n_in || k < filled; k++) value_vinfo(g, k < n->n_in ? n->in[k] : -1, &in[k]);
    filled = n->n_in;
    for (int k = 0; k < n->n_out; k++) {
      memset(&out[k], 0, sizeof out[k]);
      out[k].rank = -1;
    }
    onyx_infer_ctx c = {n, g->model, in, out};
    ONYX_TRY(onyx_op_schemas[n->op].infer(&c));
    for (int k = 0; k < n->n_out; k++)
      if (n->out[k] >= 0) ONYX_TRY(merge_into(g, n, &g->values[n->out[k]], &out[k]));
    /* subgraphs: resolve their op ids and whatever types are known inside */
    for (int a = 0; a < n->n_attrs; a++) {
      onyx_attr *at = &n->attrs[a];
      if (at->g) ONYX_TRY(onyx_graph_infer(at->g));
      for (int k = 0; at->graphs && k < at->n; k++) ONYX_TRY(onyx_graph_infer(at->graphs[k]));
    }
  }
  return NULL;
}
