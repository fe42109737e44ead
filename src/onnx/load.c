/* load.c — ONNX ModelProto bytes -> onyx IR (onyx_model_load*).
 *
 * The file is mapped, unpacked by protobuf-c (allocating through base/alloc.h
 * so fault injection reaches it), then converted: model fields, opset
 * imports, metadata, and the graph with its values (types and symbolic dims
 * from inputs, outputs and value_info), initializers as owned tensors, nodes
 * and every attribute type, subgraphs recursively. A name a subgraph reads
 * but does not define becomes an is_outer value there (and is made known to
 * the enclosing graph so its lifetime covers the subgraph's use).
 *
 * Following ONNX Runtime, an initializer also listed among the graph inputs
 * is treated as a constant, not as a runtime input. Anything malformed is
 * reported as ONYX_ERR_INVALID_MODEL naming the file and the node or tensor;
 * valid ONNX that onyx cannot run (unknown domains, newer opsets, maps,
 * sparse tensors) as ONYX_ERR_NOT_IMPLEMENTED.
 *
 * Model-local functions are inlined while converting: a node that calls one
 * (and is not an operator onyx implements itself) becomes the function's
 * body, converted in the call's scope (functions.c renames its values and
 * resolves its attribute references), nested calls and calls inside
 * subgraphs alike. The IR never holds a function call, so everything after
 * loading, saving included, sees ordinary nodes. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "ir/ir.h"
#include "onnx_private.h"
#include "ops/ops.h"

/* Newest default-domain opset whose operators onyx knows. */
#define MAX_ONNX_OPSET 21
/* Subgraphs nest (If in Loop in Scan ...); deeper than this is refused. */
#define MAX_GRAPH_DEPTH 64
/* Protobuf message nesting accepted before decoding (see depth_ok). */
#define MAX_MSG_DEPTH 256

typedef struct loader {
  onyx_model *m;
  const Onnx__ModelProto *mp;
  onyx_ext_files ext;
  onyx_fn_lib *fns;      /* the model's functions, NULL when it has none */
} loader;

static const char *const known_domains[] = {"", "ai.onnx", "ai.onnx.ml", "ai.onyx", "com.microsoft"};

static bool domain_known(const char *d) {
  for (size_t i = 0; i < sizeof known_domains / sizeof *known_domains; i++)
    if (!strcmp(d, known_domains[i])) return true;
  return false;
}

/* Duplicates s (NULL stays NULL); false on out-of-memory. */
static bool dup_opt(char **dst, const char *s) {
  if (!s) return true;
  return (*dst = onyx_strdup(s)) != NULL;
}

/* ---- types ------------------------------------------------------------------- */

static onyx_status *tensor_type(loader *l, onyx_value *v, const Onnx__TypeProto__Tensor *tt) {
  int et = tt->has_elem_type ? tt->elem_type : 0;
  if (et < 0 || et >= ONYX_DTYPE_COUNT_)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "value '%s' has unsupported element type %d", v->name, et);
  v->dtype = (onyx_dtype)et;
  if (!tt->shape) return NULL;
  if (tt->shape->n_dim > ONYX_MAX_RANK)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "value '%s' has %zu dims, more than the %d supported",
                      v->name, tt->shape->n_dim, ONYX_MAX_RANK);
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    v->dims[i] = ONYX_DIM_UNKNOWN;
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (d->dim_value < 0)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "value '%s': dim %zu is negative (%lld)", v->name, i,
                          (long long)d->dim_value);
      v->dims[i] = d->dim_value;
    } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
               d->dim_param && *d->dim_param) {
      ONYX_TRY(onyx_model_symbol(l->m, d->dim_param, &v->dims[i]));
    }
  }
  if (!onyx_dims_fit((int)tt->shape->n_dim, v->dims))
    return onyx_error(ONYX_ERR_INVALID_MODEL, "value '%s': its declared shape is too large (more than %lld elements)",
                      v->name, (long long)ONYX_MAX_NUMEL);
  v->rank = (int)tt->shape->n_dim;
  return NULL;
}

/* Records the type tp declares on v (kind, dtype, shape). */
static onyx_status *type_of(loader *l, onyx_value *v, const Onnx__TypeProto *tp) {
  if (!tp) return NULL;
  switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE__NOT_SET:
      return NULL;
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
      v->kind = ONYX_KIND_TENSOR;
      return tensor_type(l, v, tp->tensor_type);
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
      bool seq = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
      const Onnx__TypeProto *elem = seq ? tp->sequence_type->elem_type : tp->optional_type->elem_type;
      v->kind = seq ? ONYX_KIND_SEQUENCE : ONYX_KIND_OPTIONAL;
      v->rank = -1;
      /* The element dtype is kept (innermost tensor); shapes of elements are not. */
      for (int depth = 0; elem && depth < 8; depth++) {
        if (elem->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
          int et = elem->tensor_type->has_elem_type ? elem->tensor_type->elem_type : 0;
          if (et > 0 && et < ONYX_DTYPE_COUNT_) v->dtype = (onyx_dtype)et;
          break;
        }
        if (elem->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) elem = elem->sequence_type->elem_type;
        else if (elem->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE) elem = elem->optional_type->elem_type;
        else if (elem->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) break;
        else return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "value '%s' holds maps or sparse tensors, which onyx does not support", v->name);
      }
      return NULL;
    }
    default:
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "value '%s' is a map or sparse tensor, which onyx does not support",
                        v->name);
  }
}

static onyx_status *apply_type(loader *l, onyx_graph *g, int vi, const Onnx__TypeProto *tp) {
  return type_of(l, &g->values[vi], tp);
}

/* ---- graphs -------------------------------------------------------------------- */

static onyx_status *convert_graph(loader *l, const Onnx__GraphProto *gp, onyx_graph *parent, int depth,
                                  onyx_fn_scope *sc, onyx_graph **out);

static onyx_status *graph_attr(loader *l, onyx_graph *g, const Onnx__GraphProto *gp, int depth,
                               onyx_fn_scope *sc, onyx_graph **out) {
  if (!gp) return onyx_error(ONYX_ERR_INVALID_MODEL, "graph attribute without a graph");
  return convert_graph(l, gp, g, depth + 1, sc, out);
}

static onyx_attr_type guess_attr_type(const Onnx__AttributeProto *ap) {
  if (ap->has_f) return ONYX_ATTR_FLOAT;
  if (ap->has_i) return ONYX_ATTR_INT;
  if (ap->has_s) return ONYX_ATTR_STRING;
  if (ap->t) return ONYX_ATTR_TENSOR;
  if (ap->g) return ONYX_ATTR_GRAPH;
  if (ap->n_floats) return ONYX_ATTR_FLOATS;
  if (ap->n_ints) return ONYX_ATTR_INTS;
  if (ap->n_strings) return ONYX_ATTR_STRINGS;
  if (ap->n_tensors) return ONYX_ATTR_TENSORS;
  if (ap->n_graphs) return ONYX_ATTR_GRAPHS;
  return ONYX_ATTR_UNDEFINED;
}

/* Converts attribute ap into a (already added to its node, zeroed but named);
 * names in its graphs read through scope sc. `what` names the attribute for
 * messages. */
static onyx_status *convert_attr(loader *l, onyx_graph *g, int depth, onyx_fn_scope *sc,
                                 const Onnx__AttributeProto *ap, onyx_attr *a, const char *what) {
  onyx_attr_type type = ap->has_type ? (onyx_attr_type)ap->type : guess_attr_type(ap);
  a->type = type;
  if (ap->ref_attr_name && !(a->ref_attr_name = onyx_strdup(ap->ref_attr_name))) return onyx_error_oom();
  if (a->ref_attr_name) return NULL;
  size_t n = 0;
  /* a scalar whose declared field is absent while another one holds the
   * value (type INT, value in f) is malformed, as ONNX's checker says */
  bool other = ap->n_floats || ap->n_ints || ap->n_strings || ap->n_tensors || ap->n_graphs || ap->t || ap->g;
  if ((type == ONYX_ATTR_FLOAT && !ap->has_f && (other || ap->has_i || ap->has_s)) ||
      (type == ONYX_ATTR_INT && !ap->has_i && (other || ap->has_f || ap->has_s)))
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: declared %s but holds another kind of value", what,
                      type == ONYX_ATTR_FLOAT ? "FLOAT" : "INT");
  switch (type) {
    case ONYX_ATTR_FLOAT: a->f = ap->f; return NULL;
    case ONYX_ATTR_INT: a->i = ap->i; return NULL;
    case ONYX_ATTR_STRING:
      a->s_len = ap->s.len;
      a->s = onyx_strndup(ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
      return a->s ? NULL : onyx_error_oom();
    case ONYX_ATTR_TENSOR:
      if (!ap->t) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: tensor attribute without a tensor", what);
      return onyx_tensor_from_proto(ap->t, l->m->dir, &l->ext, what, &a->t);
    case ONYX_ATTR_GRAPH:
      return graph_attr(l, g, ap->g, depth, sc, &a->g);
    case ONYX_ATTR_FLOATS: n = ap->n_floats; break;
    case ONYX_ATTR_INTS: n = ap->n_ints; break;
    case ONYX_ATTR_STRINGS: n = ap->n_strings; break;
    case ONYX_ATTR_TENSORS: n = ap->n_tensors; break;
    case ONYX_ATTR_GRAPHS: n = ap->n_graphs; break;
    case ONYX_ATTR_TYPE_PROTO: {
      /* a TypeProto with no value says nothing (and could not be saved back) */
      if (!ap->tp || ap->tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: type attribute without a type", what);
      onyx_value tmp = {.name = (char *)what};
      ONYX_TRY(type_of(l, &tmp, ap->tp));
      if (!(a->ints = onyx_malloc(sizeof *a->ints))) return onyx_error_oom();
      a->n = 1;
      a->ints[0] = tmp.dtype;
      a->i = tmp.kind;
      return NULL;
    }
    case ONYX_ATTR_SPARSE_TENSOR: case ONYX_ATTR_SPARSE_TENSORS: case ONYX_ATTR_TYPE_PROTOS:
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: attribute type %d (sparse tensors, type lists) is not supported",
                        what, (int)type);
    default:
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute has no valid type (%d)", what, (int)type);
  }
  if (n > INT_MAX) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute list too long", what);
  onyx_status *s = NULL;
  switch (type) {
    case ONYX_ATTR_FLOATS:
      if (!(a->floats = onyx_malloc(n * sizeof *a->floats))) return onyx_error_oom();
      if (n) memcpy(a->floats, ap->floats, n * sizeof *a->floats);
      break;
    case ONYX_ATTR_INTS:
      if (!(a->ints = onyx_malloc(n * sizeof *a->ints))) return onyx_error_oom();
      if (n) memcpy(a->ints, ap->ints, n * sizeof *a->ints);
      break;
    case ONYX_ATTR_STRINGS:
      if (!(a->strings = onyx_calloc(n, sizeof *a->strings))) return onyx_error_oom();
      a->n = (int)n;
      for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *b = &ap->strings[i];
        if (!(a->strings[i] = onyx_strndup(b->data ? (const char *)b->data : "", b->len)))
          return onyx_error_oom();
      }
      break;
    case ONYX_ATTR_TENSORS:
      if (!(a->tensors = onyx_calloc(n, sizeof *a->tensors))) return onyx_error_oom();
      a->n = (int)n;
      for (size_t i = 0; i < n && !s; i++)
        s = onyx_tensor_from_proto(ap->tensors[i], l->m->dir, &l->ext, what, &a->tensors[i]);
      break;
    default: /* GRAPHS */
      if (!(a->graphs = onyx_calloc(n, sizeof *a->graphs))) return onyx_error_oom();
      a->n = (int)n;
      for (size_t i = 0; i < n && !s; i++) s = graph_attr(l, g, ap->graphs[i], depth, sc, &a->graphs[i]);
      break;
  }
  a->n = (int)n;
  return s;
}

/* Finds or creates the value `name` reads as in scope sc; "" (an omitted
 * optional) gives -1. */
static onyx_status *value_ref(onyx_graph *g, onyx_fn_scope *sc, const char *name, int *out) {
  ONYX_TRY(onyx_fn_scope_name(sc, name, &name));
  if (!*name) {
    *out = -1;
    return NULL;
  }
  return onyx_graph_value(g, name, out);
}

static onyx_status *convert_node(loader *l, onyx_graph *g, int depth, onyx_fn_scope *sc, size_t index,
                                 const Onnx__NodeProto *np);

/* Adds opset import `op` of the model, or of function fn when not NULL, to
 * m. Functions are inlined into the model's graphs, where one version per
 * domain applies: a function's import must agree with what the model (or a
 * function inlined before) imports, and adds the domains it alone uses. */
static onyx_status *import_opset(onyx_model *m, const Onnx__OperatorSetIdProto *op,
                                 const Onnx__FunctionProto *fn) {
  const char *d = op->domain ? op->domain : "";
  char who[320] = "";
  if (fn) snprintf(who, sizeof who, "function '%s': ", fn->name);
  if (!op->has_version)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%sopset import for domain '%s' has no version", who, d);
  if (!*d || !strcmp(d, "ai.onnx")) {
    if (op->version < 1)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "%sdefault-domain opset %lld is invalid", who, (long long)op->version);
    if (op->version > MAX_ONNX_OPSET)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%smodel uses ONNX opset %lld; onyx supports opsets 1 to %d", who,
                        (long long)op->version, MAX_ONNX_OPSET);
  }
  if (op->version > INT_MAX || op->version < 0)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%sopset version %lld for domain '%s' is out of range", who,
                      (long long)op->version, d);
  int64_t have = fn ? onyx_model_opset(m, d) : -1;
  if (have == op->version) return NULL;
  if (have >= 0)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                      "function '%s' imports opset %lld of domain '%s' where the model uses %lld; onyx inlines "
                      "functions into the model's graph, which has one opset version per domain",
                      fn->name, (long long)op->version, *d ? d : "ai.onnx", (long long)have);
  return onyx_model_set_opset(m, d, op->version);
}

/* Adds an Identity node of scope sc from `in` to `out` (both as named in g). */
static onyx_status *add_identity(onyx_graph *g, const onyx_fn_scope *sc, const char *in, const char *out) {
  int idx[2];
  ONYX_TRY(onyx_graph_value(g, in, &idx[0]));
  ONYX_TRY(onyx_graph_value(g, out, &idx[1]));
  char name[512];
  snprintf(name, sizeof name, "%s/Identity", onyx_fn_scope_prefix(sc));
  int ni;
  return onyx_graph_add_node(g, name, "Identity", "", 1, idx, 1, idx + 1, &ni);
}

/* Inlines the call np (in scope sc) of function fp into g: fp's body with
 * its names and attributes resolved in a new scope. */
static onyx_status *inline_call(loader *l, onyx_graph *g, int depth, onyx_fn_scope *sc,
                                const Onnx__NodeProto *np, const Onnx__FunctionProto *fp) {
  for (size_t i = 0; i < fp->n_opset_import; i++) ONYX_TRY(import_opset(l->m, fp->opset_import[i], fp));
  onyx_fn_scope *fs;
  ONYX_TRY(onyx_fn_scope_enter(l->fns, sc, np, fp, &fs));
  onyx_status *s = NULL;
  for (size_t i = 0; i < fp->n_node && !s; i++)
    if (fp->node[i]) s = convert_node(l, g, depth, fs, i, fp->node[i]);
  /* A formal output that is also a formal input has no node making it. */
  for (size_t i = 0; i < fp->n_output && i < np->n_output && !s; i++) {
    if (!np->output[i] || !*np->output[i] || !fp->output[i]) continue;
    for (size_t k = 0; k < fp->n_input && !s; k++) {
      const char *in;
      if (!fp->input[k] || strcmp(fp->input[k], fp->output[i])) continue;
      if (!(s = onyx_fn_scope_name(fs, fp->input[k], &in)))
        s = add_identity(g, fs, in, onyx_fn_scope_output(fs, i));
      break;
    }
  }
  onyx_fn_scope_leave(fs);
  return s;
}

static onyx_status *convert_node(loader *l, onyx_graph *g, int depth, onyx_fn_scope *sc, size_t index,
                                 const Onnx__NodeProto *np) {
  const char *name = np->name ? np->name : "";
  const char *op = np->op_type ? np->op_type : "";
  const char *domain = np->domain ? np->domain : "";
  if (!*op) return onyx_error(ONYX_ERR_INVALID_MODEL, "node %zu ('%s') has no op_type", index, name);
  const Onnx__FunctionProto *fp;
  ONYX_TRY(onyx_fn_lib_find(l->fns, np, &fp));
  /* ONNX makes a model-local function the fallback implementation of its
   * operator: an operator onyx implements keeps its own kernel. */
  if (fp && onyx_op_lookup(domain, op) < 0) {
    onyx_status *s = inline_call(l, g, depth, sc, np, fp);
    if (s && onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY)
      s = onyx_error_wrap(s, "node '%s' (%s), a call of function '%s'", name, op, op);
    return s;
  }
  if (!domain_known(domain))
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "node '%s' (%s): operator domain '%s' is not supported",
                      name, op, domain);
  if (onyx_model_opset(l->m, domain) < 0)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "node '%s' (%s): the model imports no opset for domain '%s'",
                      name, op, *domain ? domain : "ai.onnx");
  if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "node '%s' (%s): too many inputs or outputs", name, op);
  char *full = NULL;   /* inside a call: "<caller>/<name or op>" */
  if (sc) {
    size_t n = strlen(onyx_fn_scope_prefix(sc)) + strlen(*name ? name : op) + 2;
    if (!(full = onyx_malloc(n))) return onyx_error_oom();
    snprintf(full, n, "%s/%s", onyx_fn_scope_prefix(sc), *name ? name : op);
    name = full;
  }
  int *idx = onyx_malloc((np->n_input + np->n_output + 1) * sizeof *idx);
  onyx_status *s = idx ? NULL : onyx_error_oom();
  for (size_t i = 0; i < np->n_input && !s; i++) s = value_ref(g, sc, np->input[i], &idx[i]);
  for (size_t i = 0; i < np->n_output && !s; i++) s = value_ref(g, sc, np->output[i], &idx[np->n_input + i]);
  int ni = -1;
  if (!s)
    s = onyx_graph_add_node(g, name, op, domain, (int)np->n_input, idx, (int)np->n_output,
                            idx + np->n_input, &ni);
  onyx_free(idx);
  for (size_t i = 0; i < np->n_attribute && !s; i++) {
    const Onnx__AttributeProto *ap = np->attribute[i], *src = ap;
    onyx_fn_scope *asc = sc;
    char what[512];
    snprintf(what, sizeof what, "node '%s' (%s) attribute '%s'", name, op, ap->name ? ap->name : "");
    if (!ap->name || !*ap->name) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute without a name", what);
      break;
    }
    /* In a function body, a reference takes the caller's value or the
     * function's default; with neither, the attribute is absent. */
    if (sc && ap->ref_attr_name && !(src = onyx_fn_scope_attr(sc, ap->ref_attr_name, &asc))) continue;
    onyx_attr *a;
    if ((s = onyx_node_add_attr(&g->nodes[ni], ap->name, &a))) break;
    s = convert_attr(l, g, depth, asc, src, a, what);
  }
  onyx_free(full);
  return s;
}

/* Marks the values of subgraph g that nothing inside defines as outer-scope
 * references, and makes sure the enclosing graph knows each name. */
static onyx_status *mark_outer(onyx_graph *g) {
  for (int v = 0; v < g->n_values; v++) {
    onyx_value *val = &g->values[v];
    if (val->is_input || val->init || val->producer >= 0) continue;
    val->is_outer = true;
    int pv;
    ONYX_TRY(onyx_graph_value(g->parent, g->values[v].name, &pv));
  }
  return NULL;
}

/* In the main graph, a value that no node consumes and that is not an output
 * exists only because a subgraph reads it: it must be defined here. */
static onyx_status *check_outer_defined(const onyx_graph *g) {
  bool *used = onyx_calloc((size_t)g->n_values + 1, sizeof *used);
  if (!used) return onyx_error_oom();
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) used[g->nodes[i].in[k]] = true;
  onyx_status *s = NULL;
  for (int v = 0; v < g->n_values && !s; v++) {
    const onyx_value *val = &g->values[v];
    if (!used[v] && !val->is_output && !val->is_input && !val->init && val->producer < 0)
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "a subgraph reads '%s', which no enclosing graph defines", val->name);
  }
  onyx_free(used);
  return s;
}

static onyx_status *convert_graph(loader *l, const Onnx__GraphProto *gp, onyx_graph *parent, int depth,
                                  onyx_fn_scope *sc, onyx_graph **out) {
  if (depth > MAX_GRAPH_DEPTH)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "subgraphs nested more than %d deep", MAX_GRAPH_DEPTH);
  if (gp->n_sparse_initializer)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "graph '%s': sparse initializers are not supported",
                      gp->name ? gp->name : "");
  if (gp->n_node > INT_MAX || gp->n_input > INT_MAX || gp->n_output > INT_MAX)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "graph '%s' is too large", gp->name ? gp->name : "");
  onyx_graph *g;
  ONYX_TRY(onyx_graph_new(l->m, parent, &g));
  onyx_status *s = NULL;
  int *list = onyx_malloc((gp->n_input + gp->n_output + 1) * sizeof *list);
  if (!list) {
    s = onyx_error_oom();
    goto done;
  }
  if (gp->name) {
    char *nm = onyx_strdup(gp->name);
    if (!nm) {
      s = onyx_error_oom();
      goto done;
    }
    onyx_free(g->name);
    g->name = nm;
  }
  if (gp->doc_string && *gp->doc_string) {
    onyx_free(g->doc_string);
    if (!(g->doc_string = onyx_strdup(gp->doc_string))) {
      s = onyx_error_oom();
      goto done;
    }
  }
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];   /* its raw bytes are dropped once converted */
    char what[320];
    snprintf(what, sizeof what, "initializer '%s'", tp->name ? tp->name : "");
    if (!tp->name || !*tp->name) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "initializer %zu has no name", i);
      goto done;
    }
    int v;
    if ((s = value_ref(g, sc, tp->name, &v))) goto done;
    if (v < 0) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "%s is an omitted function input", what);
      goto done;
    }
    if (g->values[v].init) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "%s is given twice", what);
      goto done;
    }
    onyx_tensor *t;
    if ((s = onyx_tensor_from_proto(tp, l->m->dir, &l->ext, what, &t))) goto done;
    /* the tensor holds its own copy: the unpacked bytes go now, so that the
     * weights are not held twice while the rest of the model converts */
    onyx_pb_drop_bytes(&tp->raw_data);
    onyx_value *val = &g->values[v];
    val->init = t;
    val->kind = ONYX_KIND_TENSOR;
    val->dtype = t->dtype;
    val->rank = t->rank;
    memcpy(val->dims, t->dims, sizeof val->dims);
  }
  int n_in = 0;
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || !*vi->name) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph input %zu has no name", i);
      goto done;
    }
    int v;
    if ((s = value_ref(g, sc, vi->name, &v))) goto done;
    if (v < 0) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph input '%s' is an omitted function input", vi->name);
      goto done;
    }
    if (g->values[v].init) continue;   /* a constant with an overridable default: constant here */
    for (int k = 0; k < n_in; k++)
      if (list[k] == v) {
        s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph input '%s' is listed twice", vi->name);
        goto done;
      }
    if ((s = apply_type(l, g, v, vi->type))) goto done;
    list[n_in++] = v;
  }
  if ((s = onyx_graph_set_inputs(g, n_in, list))) goto done;
  for (size_t i = 0; i < gp->n_node; i++) {
    if (!gp->node[i]) continue;
    if ((s = convert_node(l, g, depth, sc, i, gp->node[i]))) goto done;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    if (!vi->name || !*vi->name) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph output %zu has no name", i);
      goto done;
    }
    if ((s = value_ref(g, sc, vi->name, &list[i]))) goto done;
    if (list[i] < 0) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph output '%s' is an omitted function input", vi->name);
      goto done;
    }
    if (!g->values[list[i]].init && (s = apply_type(l, g, list[i], vi->type))) goto done;
  }
  if ((s = onyx_graph_set_outputs(g, (int)gp->n_output, list))) goto done;
  for (size_t i = 0; i < gp->n_value_info; i++) {
    const Onnx__ValueInfoProto *vi = gp->value_info[i];
    const char *nm;
    if ((s = onyx_fn_scope_name(sc, vi->name, &nm))) goto done;
    int v = *nm ? onyx_graph_find(g, nm) : -1;
    if (v >= 0 && !g->values[v].init && !g->values[v].is_input && (s = apply_type(l, g, v, vi->type)))
      goto done;
  }
  s = parent ? mark_outer(g) : check_outer_defined(g);
done:
  onyx_free(list);
  if (s) {
    onyx_graph_free(g);
    if (gp->name && *gp->name && parent && onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY)
      s = onyx_error_wrap(s, "subgraph '%s'", gp->name);
    return s;
  }
  *out = g;
  return NULL;
}

/* ---- model --------------------------------------------------------------------- */

static onyx_status *convert_model(const Onnx__ModelProto *mp, const char *dir, onyx_model **out) {
  onyx_model *m;
  ONYX_TRY(onyx_model_new(&m));
  loader l = {m, mp, {m, NULL}, NULL};
  onyx_status *s = NULL;
  m->ir_version = mp->ir_version;
  m->model_version = mp->model_version;
  if (!dup_opt(&m->producer_name, mp->producer_name) || !dup_opt(&m->producer_version, mp->producer_version) ||
      !dup_opt(&m->domain, mp->domain) || !dup_opt(&m->doc_string, mp->doc_string) || !dup_opt(&m->dir, dir)) {
    s = onyx_error_oom();
    goto done;
  }
  for (size_t i = 0; i < mp->n_opset_import; i++)
    if ((s = import_opset(m, mp->opset_import[i], NULL))) goto done;
  if (mp->n_metadata_props > INT_MAX) {
    s = onyx_error(ONYX_ERR_INVALID_MODEL, "too many metadata entries");
    goto done;
  }
  if (mp->n_metadata_props) {
    m->props = onyx_calloc(mp->n_metadata_props, sizeof *m->props);
    if (!m->props) {
      s = onyx_error_oom();
      goto done;
    }
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
      const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
      m->n_props++;
      if (!(m->props[i].key = onyx_strdup(e->key ? e->key : "")) ||
          !(m->props[i].value = onyx_strdup(e->value ? e->value : ""))) {
        s = onyx_error_oom();
        goto done;
      }
    }
  }
  if (!mp->graph) {
    s = onyx_error(ONYX_ERR_INVALID_MODEL, "the model has no graph");
    goto done;
  }
  if (mp->n_functions && (s = onyx_fn_lib_create(mp, &l.fns))) goto done;
  s = convert_graph(&l, mp->graph, NULL, 0, NULL, &m->graph);
done:
  onyx_fn_lib_destroy(l.fns);
  onyx_free(l.ext.path);
  if (s) {
    onyx_model_destroy(m);
    return s;
  }
  *out = m;
  return NULL;
}

/* ---- nesting guard ---------------------------------------------------------------- */

/* protobuf-c decodes nested messages recursively without a depth limit, so a
 * crafted file with graphs nested a hundred thousand deep would overflow the
 * stack. Before unpacking, the message types that can nest (the cycles
 * Graph -> Node -> Attribute -> Graph and TypeProto -> Sequence/Map/Optional
 * -> TypeProto, plus the paths into them) are walked on the wire and the
 * depth is capped. Other fields (tensors, strings) are skipped, not read. */
typedef enum { M_MODEL, M_GRAPH, M_NODE, M_ATTR, M_FUNCTION, M_TRAINING, M_VALUE_INFO, M_TYPE,
               M_TYPE_WRAP, M_NONE } msg_kind;

/* Kind of field `number` of a `kind` message, or M_NONE when it cannot nest. */
static msg_kind child_kind(msg_kind kind, uint32_t number) {
  switch (kind) {
    case M_MODEL:
      return number == 7 ? M_GRAPH : number == 20 ? M_TRAINING : number == 25 ? M_FUNCTION : M_NONE;
    case M_GRAPH:
      return number == 1 ? M_NODE : (number >= 11 && number <= 13) ? M_VALUE_INFO : M_NONE;
    case M_NODE:
      return number == 5 ? M_ATTR : M_NONE;
    case M_FUNCTION: /* 11 (attribute defaults) and 12 (value_info) are newer than the generated code */
      return number == 7 ? M_NODE : number == 11 ? M_ATTR : number == 12 ? M_VALUE_INFO : M_NONE;
    case M_ATTR:
      return (number == 6 || number == 11) ? M_GRAPH : (number == 14 || number == 15) ? M_TYPE : M_NONE;
    case M_TRAINING:
      return number == 1 || number == 2 ? M_GRAPH : M_NONE;
    case M_VALUE_INFO:
      return number == 2 ? M_TYPE : M_NONE;
    case M_TYPE:
      return number == 4 || number == 5 || number == 9 ? M_TYPE_WRAP : M_NONE;
    case M_TYPE_WRAP: /* Sequence.elem_type = 1, Optional.elem_type = 1, Map.value_type = 2 */
      return number == 1 || number == 2 ? M_TYPE : M_NONE;
    default:
      return M_NONE;
  }
}

/* False when messages nest deeper than MAX_MSG_DEPTH. Malformed bytes pass
 * (protobuf-c reports them). */
static bool depth_ok(const uint8_t *p, const uint8_t *end, msg_kind kind, int depth) {
  if (depth > MAX_MSG_DEPTH) return false;
  onyx_wire_field f;
  while (p < end && onyx_wire_next(&p, end, &f)) {
    if (f.wire_type != 2) continue;
    msg_kind child = child_kind(kind, f.number);
    if (child != M_NONE && !depth_ok(f.data, f.data + f.len, child, depth + 1)) return false;
  }
  return true;
}

/* Checks the nesting and unpacks; `file` names the source in messages.
 * protobuf-c copies every field, so data may go as soon as this returns. */
static onyx_status *unpack(const void *data, size_t len, const char *file, onyx_pb_alloc *pa,
                           Onnx__ModelProto **mp) {
  if (!depth_ok(data, (const uint8_t *)data + len, M_MODEL, 0))
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: messages nested more than %d deep", file, MAX_MSG_DEPTH);
  onyx_pb_alloc_init(pa);
  *mp = onnx__model_proto__unpack(&pa->base, len, data);
  if (!*mp)
    return pa->failed ? onyx_error_oom()
                      : onyx_error(ONYX_ERR_INVALID_MODEL, "%s: not a valid ONNX model (protobuf decoding failed)", file);
  return NULL;
}

/* Converts and frees an unpacked model. */
static onyx_status *convert(Onnx__ModelProto *mp, onyx_pb_alloc *pa, const char *dir, const char *file,
                            onyx_model **out) {
  onyx_status *s = convert_model(mp, dir, out);
  onnx__model_proto__free_unpacked(mp, &pa->base);
  return onyx_error_wrap(s, "%s", file);
}

onyx_status *onyx_model_load(const char *path, onyx_model **out) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? onyx_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : onyx_strdup(".");
  if (!dir) return onyx_error_oom();
  void *data;
  size_t len;
  onyx_pb_alloc pa;
  Onnx__ModelProto *mp;
  onyx_status *s = onyx_map_file(path, &data, &len);
  if (!s) {
    s = unpack(data, len, path, &pa, &mp);
    /* unmapped before converting: with each initializer's unpacked bytes
     * dropped once converted (convert_graph), a model's weights are held
     * at most twice at once, not three times */
    onyx_unmap_file(data, len);
    if (!s) s = convert(mp, &pa, dir, path, out);
  }
  onyx_free(dir);
  return s;
}

onyx_status *onyx_model_load_from_buffer(const void *data, size_t len, const char *dir,
                                         onyx_model **out) {
  if (!data && len) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model buffer is NULL");
  onyx_pb_alloc pa;
  Onnx__ModelProto *mp;
  onyx_status *s = unpack(data ? data : "", len, "<buffer>", &pa, &mp);
  return s ? s : convert(mp, &pa, dir, "<buffer>", out);
}
