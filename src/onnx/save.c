/* save.c — onyx IR -> ONNX ModelProto bytes (onyx_model_save*).
 *
 * The protobuf structs are built in a bump arena, pointing at the IR's
 * strings and tensor data instead of copying them, packed once by protobuf-c,
 * and the arena is dropped. Initializers are written inline as raw_data;
 * every typed value that is neither an input, output nor initializer gets a
 * value_info entry so shapes found by inference survive the round trip;
 * symbolic dims are written back as dim_param. Initializers are not listed
 * among the graph inputs, which needs IR version 4 or later: a model whose
 * ir_version is lower (or unset) is written as IR version 8. */
#include <string.h>

#include "base/alloc.h"
#include "ir/ir.h"
#include "onnx_private.h"

#define MAX_GRAPH_DEPTH 64

typedef struct saver {
  onyx_arena *a;
  const onyx_model *m;
} saver;

/* Arena allocation of one protobuf struct, initialised by its init function. */
#define PB_NEW(sv, T, init_fn, out)                          \
  do {                                                       \
    if (!((out) = onyx_arena_alloc((sv)->a, 1, sizeof(T)))) \
      return onyx_error_oom();                               \
    init_fn(out);                                            \
  } while (0)

#define PB_ARRAY(sv, n, out)                                              \
  do {                                                                    \
    if (!((out) = onyx_arena_alloc((sv)->a, (size_t)(n) + 1, sizeof *(out)))) \
      return onyx_error_oom();                                            \
  } while (0)

static onyx_status *tensor_type_proto(saver *sv, onyx_dtype dt, int rank, const int64_t *dims,
                                      Onnx__TypeProto **out) {
  Onnx__TypeProto *tp;
  Onnx__TypeProto__Tensor *tt;
  PB_NEW(sv, Onnx__TypeProto, onnx__type_proto__init, tp);
  PB_NEW(sv, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__init, tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)dt;
  if (rank >= 0) {
    Onnx__TensorShapeProto *sh;
    PB_NEW(sv, Onnx__TensorShapeProto, onnx__tensor_shape_proto__init, sh);
    PB_ARRAY(sv, rank, sh->dim);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension *d;
      PB_NEW(sv, Onnx__TensorShapeProto__Dimension, onnx__tensor_shape_proto__dimension__init, d);
      const char *sym = onyx_model_symbol_name(sv->m, dims[i]);
      if (dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      } else if (sym) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = (char *)sym;
      }
      sh->dim[i] = d;
    }
    sh->n_dim = (size_t)rank;
    tt->shape = sh;
  }
  *out = tp;
  return NULL;
}

static onyx_status *value_info(saver *sv, const onyx_value *v, Onnx__ValueInfoProto **out) {
  Onnx__ValueInfoProto *vi;
  PB_NEW(sv, Onnx__ValueInfoProto, onnx__value_info_proto__init, vi);
  vi->name = v->name;
  if (v->kind == ONYX_KIND_TENSOR) {
    if (v->dtype != ONYX_DTYPE_UNDEFINED || v->rank >= 0)
      ONYX_TRY(tensor_type_proto(sv, v->dtype, v->rank, v->dims, &vi->type));
  } else {
    Onnx__TypeProto *tp, *elem = NULL;
    PB_NEW(sv, Onnx__TypeProto, onnx__type_proto__init, tp);
    if (v->dtype != ONYX_DTYPE_UNDEFINED) ONYX_TRY(tensor_type_proto(sv, v->dtype, -1, NULL, &elem));
    if (v->kind == ONYX_KIND_SEQUENCE) {
      PB_NEW(sv, Onnx__TypeProto__Sequence, onnx__type_proto__sequence__init, tp->sequence_type);
      tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
      tp->sequence_type->elem_type = elem;
    } else {
      PB_NEW(sv, Onnx__TypeProto__Optional, onnx__type_proto__optional__init, tp->optional_type);
      tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
      tp->optional_type->elem_type = elem;
    }
    vi->type = tp;
  }
  *out = vi;
  return NULL;
}

static onyx_status *graph_proto(saver *sv, const onyx_graph *g, int depth, Onnx__GraphProto **out);

static onyx_status *tensor_proto(saver *sv, const onyx_tensor *t, const char *name, Onnx__TensorProto **out) {
  Onnx__TensorProto *tp;
  PB_NEW(sv, Onnx__TensorProto, onnx__tensor_proto__init, tp);
  ONYX_TRY(onyx_tensor_to_proto(t, name, sv->a, tp));
  *out = tp;
  return NULL;
}

static onyx_status *attr_proto(saver *sv, const onyx_attr *a, int depth, Onnx__AttributeProto **out) {
  Onnx__AttributeProto *ap;
  PB_NEW(sv, Onnx__AttributeProto, onnx__attribute_proto__init, ap);
  ap->name = a->name;
  ap->has_type = 1;
  ap->type = (Onnx__AttributeProto__AttributeType)a->type;
  *out = ap;
  if (a->ref_attr_name) {
    ap->ref_attr_name = a->ref_attr_name;
    return NULL;
  }
  switch (a->type) {
    case ONYX_ATTR_FLOAT: ap->has_f = 1; ap->f = a->f; return NULL;
    case ONYX_ATTR_INT: ap->has_i = 1; ap->i = a->i; return NULL;
    case ONYX_ATTR_STRING:
      ap->has_s = 1;
      ap->s.data = (uint8_t *)(a->s ? a->s : "");
      ap->s.len = a->s ? a->s_len : 0;
      return NULL;
    case ONYX_ATTR_TENSOR:
      return tensor_proto(sv, a->t, NULL, &ap->t);
    case ONYX_ATTR_GRAPH:
      return graph_proto(sv, a->g, depth + 1, &ap->g);
    case ONYX_ATTR_FLOATS:
      ap->n_floats = (size_t)a->n;
      ap->floats = a->floats;
      return NULL;
    case ONYX_ATTR_INTS:
      ap->n_ints = (size_t)a->n;
      ap->ints = a->ints;
      return NULL;
    case ONYX_ATTR_STRINGS:
      PB_ARRAY(sv, a->n, ap->strings);
      for (int i = 0; i < a->n; i++) {
        ap->strings[i].data = (uint8_t *)a->strings[i];
        ap->strings[i].len = strlen(a->strings[i]);
      }
      ap->n_strings = (size_t)a->n;
      return NULL;
    case ONYX_ATTR_TENSORS:
      PB_ARRAY(sv, a->n, ap->tensors);
      for (int i = 0; i < a->n; i++) ONYX_TRY(tensor_proto(sv, a->tensors[i], NULL, &ap->tensors[i]));
      ap->n_tensors = (size_t)a->n;
      return NULL;
    case ONYX_ATTR_GRAPHS:
      PB_ARRAY(sv, a->n, ap->graphs);
      for (int i = 0; i < a->n; i++) ONYX_TRY(graph_proto(sv, a->graphs[i], depth + 1, &ap->graphs[i]));
      ap->n_graphs = (size_t)a->n;
      return NULL;
    case ONYX_ATTR_TYPE_PROTO: {
      onyx_value tmp = {.kind = (onyx_kind)a->i, .dtype = a->n ? (onyx_dtype)a->ints[0] : ONYX_DTYPE_UNDEFINED,
                        .rank = -1};
      Onnx__ValueInfoProto *vi;
      ONYX_TRY(value_info(sv, &tmp, &vi));
      ap->tp = vi->type;
      return NULL;
    }
    default:
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "attribute '%s': type %d cannot be saved", a->name, (int)a->type);
  }
}

static onyx_status *node_proto(saver *sv, const onyx_graph *g, const onyx_node *n, int depth,
                               Onnx__NodeProto **out) {
  Onnx__NodeProto *np;
  PB_NEW(sv, Onnx__NodeProto, onnx__node_proto__init, np);
  np->name = *n->name ? n->name : NULL;
  np->op_type = n->op_type;
  np->domain = *n->domain ? n->domain : NULL;
  PB_ARRAY(sv, n->n_in, np->input);
  PB_ARRAY(sv, n->n_out, np->output);
  for (int i = 0; i < n->n_in; i++) np->input[i] = n->in[i] >= 0 ? g->values[n->in[i]].name : "";
  for (int i = 0; i < n->n_out; i++) np->output[i] = n->out[i] >= 0 ? g->values[n->out[i]].name : "";
  np->n_input = (size_t)n->n_in;
  np->n_output = (size_t)n->n_out;
  PB_ARRAY(sv, n->n_attrs, np->attribute);
  for (int i = 0; i < n->n_attrs; i++) {
    onyx_status *s = attr_proto(sv, &n->attrs[i], depth, &np->attribute[i]);
    if (s) {
      char lbl[256];
      return onyx_error_wrap(s, "%s", onyx_node_label(n, lbl, sizeof lbl));
    }
  }
  np->n_attribute = (size_t)n->n_attrs;
  *out = np;
  return NULL;
}

static onyx_status *graph_proto(saver *sv, const onyx_graph *g, int depth, Onnx__GraphProto **out) {
  if (depth > MAX_GRAPH_DEPTH)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "subgraphs nested more than %d deep", MAX_GRAPH_DEPTH);
  Onnx__GraphProto *gp;
  PB_NEW(sv, Onnx__GraphProto, onnx__graph_proto__init, gp);
  gp->name = g->name && *g->name ? g->name : "graph";
  gp->doc_string = g->doc_string;
  PB_ARRAY(sv, g->n_nodes, gp->node);
  for (int i = 0; i < g->n_nodes; i++) ONYX_TRY(node_proto(sv, g, &g->nodes[i], depth, &gp->node[i]));
  gp->n_node = (size_t)g->n_nodes;
  int n_init = 0, n_info = 0;
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    if (val->init) n_init++;
    else if (val->producer >= 0 && !val->is_output &&
             (val->dtype != ONYX_DTYPE_UNDEFINED || val->kind != ONYX_KIND_TENSOR))
      n_info++;
  }
  PB_ARRAY(sv, n_init, gp->initializer);
  PB_ARRAY(sv, n_info, gp->value_info);
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    if (val->init)
      ONYX_TRY(tensor_proto(sv, val->init, val->name, &gp->initializer[gp->n_initializer++]));
    else if (val->producer >= 0 && !val->is_output &&
             (val->dtype != ONYX_DTYPE_UNDEFINED || val->kind != ONYX_KIND_TENSOR))
      ONYX_TRY(value_info(sv, val, &gp->value_info[gp->n_value_info++]));
  }
  PB_ARRAY(sv, g->n_inputs, gp->input);
  for (int i = 0; i < g->n_inputs; i++) ONYX_TRY(value_info(sv, &g->values[g->inputs[i]], &gp->input[i]));
  gp->n_input = (size_t)g->n_inputs;
  PB_ARRAY(sv, g->n_outputs, gp->output);
  for (int i = 0; i < g->n_outputs; i++) ONYX_TRY(value_info(sv, &g->values[g->outputs[i]], &gp->output[i]));
  gp->n_output = (size_t)g->n_outputs;
  *out = gp;
  return NULL;
}

static onyx_status *model_proto(saver *sv, Onnx__ModelProto **out) {
  const onyx_model *m = sv->m;
  Onnx__ModelProto *mp;
  PB_NEW(sv, Onnx__ModelProto, onnx__model_proto__init, mp);
  mp->has_ir_version = 1;
  mp->ir_version = m->ir_version >= 4 ? m->ir_version : 8;
  mp->producer_name = m->producer_name;
  mp->producer_version = m->producer_version;
  mp->domain = m->domain;
  mp->doc_string = m->doc_string;
  mp->has_model_version = m->model_version != 0;
  mp->model_version = m->model_version;
  PB_ARRAY(sv, m->n_opsets, mp->opset_import);
  for (int i = 0; i < m->n_opsets; i++) {
    Onnx__OperatorSetIdProto *op;
    PB_NEW(sv, Onnx__OperatorSetIdProto, onnx__operator_set_id_proto__init, op);
    op->domain = m->opsets[i].domain;
    op->has_version = 1;
    op->version = m->opsets[i].version;
    mp->opset_import[i] = op;
  }
  mp->n_opset_import = (size_t)m->n_opsets;
  PB_ARRAY(sv, m->n_props, mp->metadata_props);
  for (int i = 0; i < m->n_props; i++) {
    Onnx__StringStringEntryProto *e;
    PB_NEW(sv, Onnx__StringStringEntryProto, onnx__string_string_entry_proto__init, e);
    e->key = m->props[i].key;
    e->value = m->props[i].value;
    mp->metadata_props[i] = e;
  }
  mp->n_metadata_props = (size_t)m->n_props;
  if (!m->graph) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "the model has no graph");
  ONYX_TRY(graph_proto(sv, m->graph, 0, &mp->graph));
  *out = mp;
  return NULL;
}

onyx_status *onyx_model_save_to_buffer(const onyx_model *m, void **data, size_t *len) {
  saver sv = {onyx_arena_new(), m};
  if (!sv.a) return onyx_error_oom();
  Onnx__ModelProto *mp = NULL;
  onyx_status *s = model_proto(&sv, &mp);
  if (!s) {
    size_t n = onnx__model_proto__get_packed_size(mp);
    uint8_t *buf = onyx_malloc(n);
    if (buf) {
      onnx__model_proto__pack(mp, buf);
      *data = buf;
      *len = n;
    } else {
      s = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory serialising the model (%zu bytes)", n);
    }
  }
  onyx_arena_free(sv.a);
  return s;
}

onyx_status *onyx_model_save(const onyx_model *m, const char *path) {
  void *data;
  size_t len;
  ONYX_TRY(onyx_model_save_to_buffer(m, &data, &len));
  onyx_status *s = onyx_write_file(path, data, len);
  onyx_free(data);
  return s;
}

void onyx_buffer_free(void *p) { onyx_free(p); }
