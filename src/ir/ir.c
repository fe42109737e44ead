/* ir.c — building, querying and freeing the IR (model, graph, node, attr). */
#include "ir.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"

/* Grows *arr (elements of `size`) so that it holds at least `need`. */
static bool reserve(void **arr, int *cap, int need, size_t size) {
  if (need <= *cap) return true;
  int ncap = *cap ? *cap * 2 : 8;
  while (ncap < need) ncap *= 2;
  void *p = onyx_realloc(*arr, (size_t)ncap * size);
  if (!p) return false;
  memset((char *)p + (size_t)*cap * size, 0, (size_t)(ncap - *cap) * size);
  *arr = p;
  *cap = ncap;
  return true;
}

onyx_status *onyx_model_new(onyx_model **out) {
  onyx_model *m = onyx_calloc(1, sizeof *m);
  if (!m) return onyx_error_oom();
  *out = m;
  return NULL;
}

void onyx_model_destroy(onyx_model *m) {
  if (!m) return;
  onyx_graph_free(m->graph);
  onyx_free(m->producer_name);
  onyx_free(m->producer_version);
  onyx_free(m->domain);
  onyx_free(m->doc_string);
  for (int i = 0; i < m->n_opsets; i++) onyx_free(m->opsets[i].domain);
  onyx_free(m->opsets);
  for (int i = 0; i < m->n_props; i++) {
    onyx_free(m->props[i].key);
    onyx_free(m->props[i].value);
  }
  onyx_free(m->props);
  for (int i = 0; i < m->n_symbols; i++) onyx_free(m->symbols[i]);
  onyx_free(m->symbols);
  onyx_free(m->dir);
  if (m->map) {
    extern void onyx_unmap_file(void *p, size_t n);
    onyx_unmap_file(m->map, m->map_len);
  }
  onyx_free(m);
}

static bool is_default_domain(const char *d) {
  return !d || !*d || !strcmp(d, "ai.onnx");
}

int64_t onyx_model_opset(const onyx_model *m, const char *domain) {
  for (int i = 0; i < m->n_opsets; i++) {
    const char *d = m->opsets[i].domain;
    if ((is_default_domain(d) && is_default_domain(domain)) || (domain && !strcmp(d, domain)))
      return m->opsets[i].version;
  }
  return -1;
}

onyx_status *onyx_model_set_opset(onyx_model *m, const char *domain, int64_t version) {
  for (int i = 0; i < m->n_opsets; i++)
    if ((is_default_domain(m->opsets[i].domain) && is_default_domain(domain)) ||
        !strcmp(m->opsets[i].domain, domain ? domain : "")) {
      m->opsets[i].version = version;
      return NULL;
    }
  onyx_opset *p = onyx_realloc(m->opsets, (size_t)(m->n_opsets + 1) * sizeof *p);
  if (!p) return onyx_error_oom();
  m->opsets = p;
  char *d = onyx_strdup(is_default_domain(domain) ? "" : domain);
  if (!d) return onyx_error_oom();
  m->opsets[m->n_opsets].domain = d;
  m->opsets[m->n_opsets].version = version;
  m->n_opsets++;
  return NULL;
}

onyx_status *onyx_model_symbol(onyx_model *m, const char *name, int64_t *dim) {
  for (int i = 0; i < m->n_symbols; i++)
    if (!strcmp(m->symbols[i], name)) {
      *dim = ONYX_DIM_SYM0 - i;
      return NULL;
    }
  if (!reserve((void **)&m->symbols, &m->cap_symbols, m->n_symbols + 1, sizeof(char *)))
    return onyx_error_oom();
  if (!(m->symbols[m->n_symbols] = onyx_strdup(name))) return onyx_error_oom();
  *dim = ONYX_DIM_SYM0 - m->n_symbols++;
  return NULL;
}

const char *onyx_model_symbol_name(const onyx_model *m, int64_t dim) {
  if (dim > ONYX_DIM_SYM0) return NULL;
  int64_t i = ONYX_DIM_SYM0 - dim;
  return i < m->n_symbols ? m->symbols[i] : NULL;
}

onyx_status *onyx_graph_new(onyx_model *m, onyx_graph *parent, onyx_graph **out) {
  onyx_graph *g = onyx_calloc(1, sizeof *g);
  if (!g) return onyx_error_oom();
  g->model = m;
  g->parent = parent;
  if (!(g->by_name = onyx_strmap_new()) || !(g->name = onyx_strdup(""))) {
    onyx_graph_free(g);
    return onyx_error_oom();
  }
  *out = g;
  return NULL;
}

void onyx_attr_clear(onyx_attr *a) {
  onyx_free(a->name);
  onyx_free(a->s);
  onyx_free(a->floats);
  onyx_free(a->ints);
  if (a->strings)
    for (int i = 0; i < a->n; i++) onyx_free(a->strings[i]);
  onyx_free(a->strings);
  onyx_tensor_free(a->t);
  if (a->tensors)
    for (int i = 0; i < a->n; i++) onyx_tensor_free(a->tensors[i]);
  onyx_free(a->tensors);
  onyx_graph_free(a->g);
  if (a->graphs)
    for (int i = 0; i < a->n; i++) onyx_graph_free(a->graphs[i]);
  onyx_free(a->graphs);
  onyx_free(a->ref_attr_name);
  memset(a, 0, sizeof *a);
}

static void node_clear(onyx_node *n) {
  onyx_free(n->name);
  onyx_free(n->op_type);
  onyx_free(n->domain);
  onyx_free(n->in);
  onyx_free(n->out);
  onyx_free(n->implicit);
  for (int i = 0; i < n->n_attrs; i++) onyx_attr_clear(&n->attrs[i]);
  onyx_free(n->attrs);
  memset(n, 0, sizeof *n);
}

void onyx_graph_free(onyx_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_nodes; i++) node_clear(&g->nodes[i]);
  onyx_free(g->nodes);
  for (int i = 0; i < g->n_values; i++) {
    onyx_free(g->values[i].name);
    onyx_tensor_free(g->values[i].init);
  }
  onyx_free(g->values);
  onyx_free(g->inputs);
  onyx_free(g->outputs);
  onyx_strmap_free(g->by_name);
  onyx_free(g->name);
  onyx_free(g->doc_string);
  onyx_free(g);
}

int onyx_graph_find(const onyx_graph *g, const char *name) {
  return onyx_strmap_get(g->by_name, name);
}

onyx_status *onyx_graph_value(onyx_graph *g, const char *name, int *out) {
  int i = onyx_graph_find(g, name);
  if (i >= 0) {
    *out = i;
    return NULL;
  }
  if (!reserve((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(onyx_value)))
    return onyx_error_oom();
  onyx_value *v = &g->values[g->n_values];
  memset(v, 0, sizeof *v);
  if (!(v->name = onyx_strdup(name))) return onyx_error_oom();
  if (!onyx_strmap_put(g->by_name, name, g->n_values)) {
    onyx_free(v->name);
    v->name = NULL;
    return onyx_error_oom();
  }
  v->rank = -1;
  v->producer = -1;
  *out = g->n_values++;
  return NULL;
}

onyx_status *onyx_graph_add_node(onyx_graph *g, const char *name, const char *op_type,
                                 const char *domain, int n_in, const int *in, int n_out,
                                 const int *out, int *node_index) {
  if (!reserve((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(onyx_node)))
    return onyx_error_oom();
  onyx_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = onyx_strdup(name ? name : "");
  n->op_type = onyx_strdup(op_type);
  n->domain = onyx_strdup(is_default_domain(domain) ? "" : domain);
  n->in = onyx_calloc((size_t)n_in, sizeof(int));
  n->out = onyx_calloc((size_t)n_out, sizeof(int));
  n->op = -1;
  if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
    node_clear(n);
    return onyx_error_oom();
  }
  if (n_in) memcpy(n->in, in, (size_t)n_in * sizeof(int));
  if (n_out) memcpy(n->out, out, (size_t)n_out * sizeof(int));
  n->n_in = n_in;
  n->n_out = n_out;
  int64_t v = g->model ? onyx_model_opset(g->model, n->domain) : -1;
  n->opset = (int)v;
  for (int i = 0; i < n_out; i++)
    if (out[i] >= 0) g->values[out[i]].producer = g->n_nodes;
  if (node_index) *node_index = g->n_nodes;
  g->n_nodes++;
  return NULL;
}

onyx_status *onyx_node_add_attr(onyx_node *n, const char *name, onyx_attr **out) {
  onyx_attr *a = onyx_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
  if (!a) return onyx_error_oom();
  n->attrs = a;
  onyx_attr *na = &a[n->n_attrs];
  memset(na, 0, sizeof *na);
  if (!(na->name = onyx_strdup(name))) return onyx_error_oom();
  n->n_attrs++;
  *out = na;
  return NULL;
}

static onyx_status *set_list(int **dst, int *count, int n, const int *idx) {
  int *p = onyx_calloc((size_t)n, sizeof *p);
  if (!p) return onyx_error_oom();
  if (n) memcpy(p, idx, (size_t)n * sizeof *p);
  onyx_free(*dst);
  *dst = p;
  *count = n;
  return NULL;
}

onyx_status *onyx_graph_set_inputs(onyx_graph *g, int n, const int *idx) {
  for (int i = 0; i < g->n_inputs; i++) g->values[g->inputs[i]].is_input = false;
  ONYX_TRY(set_list(&g->inputs, &g->n_inputs, n, idx));
  for (int i = 0; i < n; i++) g->values[idx[i]].is_input = true;
  return NULL;
}

onyx_status *onyx_graph_set_outputs(onyx_graph *g, int n, const int *idx) {
  for (int i = 0; i < g->n_outputs; i++) g->values[g->outputs[i]].is_output = false;
  ONYX_TRY(set_list(&g->outputs, &g->n_outputs, n, idx));
  for (int i = 0; i < n; i++) g->values[idx[i]].is_output = true;
  return NULL;
}

void onyx_graph_remove_nodes(onyx_graph *g, const bool *remove) {
  int w = 0;
  for (int r = 0; r < g->n_nodes; r++) {
    if (remove[r]) {
      node_clear(&g->nodes[r]);
      continue;
    }
    if (w != r) g->nodes[w] = g->nodes[r];
    w++;
  }
  g->n_nodes = w;
  for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
  for (int ni = 0; ni < g->n_nodes; ni++)
    for (int o = 0; o < g->nodes[ni].n_out; o++)
      if (g->nodes[ni].out[o] >= 0) g->values[g->nodes[ni].out[o]].producer = ni;
}

const onyx_attr *onyx_node_attr(const onyx_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t onyx_attr_int(const onyx_node *n, const char *name, int64_t def) {
  const onyx_attr *a = onyx_node_attr(n, name);
  return a && a->type == ONYX_ATTR_INT ? a->i : def;
}

float onyx_attr_float(const onyx_node *n, const char *name, float def) {
  const onyx_attr *a = onyx_node_attr(n, name);
  return a && a->type == ONYX_ATTR_FLOAT ? a->f : def;
}

const char *onyx_attr_string(const onyx_node *n, const char *name, const char *def) {
  const onyx_attr *a = onyx_node_attr(n, name);
  return a && a->type == ONYX_ATTR_STRING ? a->s : def;
}

bool onyx_attr_ints(const onyx_node *n, const char *name, int *count, const int64_t **v) {
  const onyx_attr *a = onyx_node_attr(n, name);
  if (!a || a->type != ONYX_ATTR_INTS) return false;
  *count = a->n;
  *v = a->ints;
  return true;
}

bool onyx_attr_floats(const onyx_node *n, const char *name, int *count, const float **v) {
  const onyx_attr *a = onyx_node_attr(n, name);
  if (!a || a->type != ONYX_ATTR_FLOATS) return false;
  *count = a->n;
  *v = a->floats;
  return true;
}

const char *onyx_node_label(const onyx_node *n, char *buf, size_t len) {
  snprintf(buf, len, "node '%s' (%s)", n->name, n->op_type);
  return buf;
}
