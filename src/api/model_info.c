/* model_info.c — the public model introspection API (onyx.h, "model
 * introspection"): header facts, declared inputs/outputs, nodes,
 * initializer totals and operator support, read straight from the IR.
 *
 * It exists so tools can describe a model without building a session,
 * including models a session would refuse (unsupported ops, failed shape
 * inference): `onyx inspect` is the first user. Everything here reads the
 * model as loaded and allocates nothing. Support means "in the op table and
 * the cpu provider has a kernel": the cpu provider is the one that must
 * cover every op onyx claims (DESIGN.md), so other providers add speed, not
 * coverage. */
#include <string.h>

#include "base/status.h"
#include "ir/ir.h"
#include "ops/ops.h"
#include "providers/cpu/cpu.h"

static const char *or_empty(const char *s) { return s ? s : ""; }

static bool is_default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

int64_t onyx_model_ir_version(const onyx_model *m) { return m->ir_version; }
const char *onyx_model_producer_name(const onyx_model *m) { return or_empty(m->producer_name); }
const char *onyx_model_producer_version(const onyx_model *m) {
  return or_empty(m->producer_version);
}

const char *onyx_model_domain(const onyx_model *m) { return or_empty(m->domain); }
const char *onyx_model_doc_string(const onyx_model *m) { return or_empty(m->doc_string); }
int64_t onyx_model_version(const onyx_model *m) { return m->model_version; }
const char *onyx_model_graph_name(const onyx_model *m) { return m->graph ? or_empty(m->graph->name) : ""; }
const char *onyx_model_graph_doc_string(const onyx_model *m) {
  return m->graph ? or_empty(m->graph->doc_string) : "";
}
int onyx_model_metadata_count(const onyx_model *m) { return m->n_props; }

onyx_status *onyx_model_metadata_prop(const onyx_model *m, int i, const char **key, const char **value) {
  if (i < 0 || i >= m->n_props)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "metadata index %d out of range (model has %d)", i, m->n_props);
  *key = or_empty(m->props[i].key);
  *value = or_empty(m->props[i].value);
  return NULL;
}

int onyx_model_opset_count(const onyx_model *m) { return m->n_opsets; }

onyx_status *onyx_model_opset_import(const onyx_model *m, int i, const char **domain,
                                     int64_t *version) {
  if (i < 0 || i >= m->n_opsets)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "opset import index %d out of range (model has %d)",
                      i, m->n_opsets);
  const onyx_opset *o = &m->opsets[i];
  *domain = is_default_domain(o->domain) ? "" : o->domain;
  *version = o->version;
  return NULL;
}

static int graph_input_count(const onyx_model *m) { return m->graph ? m->graph->n_inputs : 0; }
static int graph_output_count(const onyx_model *m) { return m->graph ? m->graph->n_outputs : 0; }

int onyx_model_input_count(const onyx_model *m) { return graph_input_count(m); }
int onyx_model_output_count(const onyx_model *m) { return graph_output_count(m); }

/* Converts the IR's shape encoding (fixed, unknown, symbol id) into the
 * public one (fixed or -1, plus the symbol's name). */
static onyx_status *value_info(const onyx_model *m, int i, bool output,
                               onyx_model_value_info *out) {
  int n = output ? graph_output_count(m) : graph_input_count(m);
  if (i < 0 || i >= n)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s index %d out of range (model has %d)",
                      output ? "output" : "input", i, n);
  const onyx_graph *g = m->graph;
  const onyx_value *v = &g->values[output ? g->outputs[i] : g->inputs[i]];
  onyx_model_value_info info = {0};
  info.name = v->name;
  info.kind = (onyx_value_kind)v->kind;
  info.dtype = v->dtype;
  info.rank = v->rank;
  for (int d = 0; d < v->rank && d < ONYX_MAX_RANK; d++) {
    info.dims[d] = v->dims[d] >= 0 ? v->dims[d] : -1;
    info.dim_names[d] = onyx_model_symbol_name(m, v->dims[d]);
  }
  *out = info;
  return NULL;
}

onyx_status *onyx_model_input_info(const onyx_model *m, int i, onyx_model_value_info *out) {
  return value_info(m, i, false, out);
}
onyx_status *onyx_model_output_info(const onyx_model *m, int i, onyx_model_value_info *out) {
  return value_info(m, i, true, out);
}

int onyx_model_node_count(const onyx_model *m) { return m->graph ? m->graph->n_nodes : 0; }

static const onyx_node *node_at(const onyx_model *m, int i) {
  return i >= 0 && i < onyx_model_node_count(m) ? &m->graph->nodes[i] : NULL;
}

const char *onyx_model_node_name(const onyx_model *m, int i) {
  const onyx_node *n = node_at(m, i);
  return n ? or_empty(n->name) : NULL;
}
const char *onyx_model_node_op_type(const onyx_model *m, int i) {
  const onyx_node *n = node_at(m, i);
  return n ? or_empty(n->op_type) : NULL;
}
const char *onyx_model_node_domain(const onyx_model *m, int i) {
  const onyx_node *n = node_at(m, i);
  return n ? (is_default_domain(n->domain) ? "" : n->domain) : NULL;
}

int64_t onyx_model_initializer_count(const onyx_model *m) {
  int64_t n = 0;
  for (int i = 0; m->graph && i < m->graph->n_values; i++) n += m->graph->values[i].init != NULL;
  return n;
}

uint64_t onyx_model_initializer_bytes(const onyx_model *m) {
  uint64_t bytes = 0;
  for (int i = 0; m->graph && i < m->graph->n_values; i++) {
    const onyx_tensor *t = m->graph->values[i].init;
    if (!t) continue;
    if (t->dtype != ONYX_DTYPE_STRING || !t->data) {
      bytes += t->nbytes;
      continue;
    }
    char *const *s = t->data;
    for (size_t k = 0; k < t->nbytes / sizeof(char *); k++) bytes += s[k] ? strlen(s[k]) : 0;
  }
  return bytes;
}

int onyx_op_supported(const char *domain, const char *op_type) {
  if (!op_type) return 0;
  int op = onyx_op_lookup(domain ? domain : "", op_type);
  return op >= 0 && cpu_kernel_find(op) != NULL;
}

static int visit_graph(const onyx_graph *g, int depth, onyx_node_visitor fn, void *arg) {
  for (int i = 0; g && i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    int r = fn(is_default_domain(n->domain) ? "" : n->domain, or_empty(n->op_type),
               or_empty(n->name), depth, arg);
    if (r) return r;
    for (int a = 0; a < n->n_attrs; a++) {
      const onyx_attr *at = &n->attrs[a];
      if (at->type == ONYX_ATTR_GRAPH && (r = visit_graph(at->g, depth + 1, fn, arg))) return r;
      for (int k = 0; at->type == ONYX_ATTR_GRAPHS && k < at->n; k++)
        if ((r = visit_graph(at->graphs[k], depth + 1, fn, arg))) return r;
    }
  }
  return 0;
}

int onyx_model_visit_nodes(const onyx_model *m, onyx_node_visitor fn, void *arg) {
  return visit_graph(m->graph, 0, fn, arg);
}
