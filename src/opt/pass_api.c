/* pass_api.c — the public view of the graph that user passes get
 * (onyx_pass_* in onyx.h): read-only access to nodes and one rewrite,
 * bypassing a pass-through node. The IR itself stays private, so user
 * passes cannot break the invariants the built-in passes keep. */
#include <stdarg.h>
#include <stdio.h>

#include "base/alloc.h"
#include "ops/ops.h"
#include "opt.h"

static const onyx_node *node_at(const onyx_graph *g, int i) {
  return g && i >= 0 && i < g->n_nodes ? &g->nodes[i] : NULL;
}

int onyx_pass_node_count(const onyx_graph *g) { return g ? g->n_nodes : 0; }

const char *onyx_pass_node_op_type(const onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  return n ? n->op_type : NULL;
}

const char *onyx_pass_node_domain(const onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  return n ? n->domain : NULL;
}

const char *onyx_pass_node_name(const onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  return n ? n->name : NULL;
}

int onyx_pass_node_input_count(const onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  return n ? n->n_in : 0;
}

int onyx_pass_node_output_count(const onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  return n ? n->n_out : 0;
}

const char *onyx_pass_node_input(const onyx_graph *g, int node, int i) {
  const onyx_node *n = node_at(g, node);
  return n && i >= 0 && i < n->n_in && n->in[i] >= 0 ? g->values[n->in[i]].name : NULL;
}

const char *onyx_pass_node_output(const onyx_graph *g, int node, int i) {
  const onyx_node *n = node_at(g, node);
  return n && i >= 0 && i < n->n_out && n->out[i] >= 0 ? g->values[n->out[i]].name : NULL;
}

onyx_status *onyx_pass_bypass_node(onyx_graph *g, int node) {
  const onyx_node *n = node_at(g, node);
  if (!n) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "node index %d out of range", node);
  if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "has no input 0 or output 0 to connect");
  opt_ctx c = {g, 0, NULL, 0, 0, NULL, 0, NULL};
  for (int k = 1; k < n->n_out; k++)
    if (n->out[k] >= 0 && opt_uses(&c, n->out[k]))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output %d is used: the node is not a pass-through", k);
  if (g->values[n->in[0]].kind != g->values[n->out[0]].kind)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input 0 and output 0 are of different kinds");
  if (!opt_bypass(&c, n->out[0], n->in[0]))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output '%s' is a graph output its input cannot stand for",
                                 g->values[n->out[0]].name);
  bool *rm = onyx_calloc((size_t)g->n_nodes, sizeof *rm);
  if (!rm) return onyx_error_oom();
  rm[node] = true;
  onyx_graph_remove_nodes(g, rm);
  onyx_free(rm);
  return NULL;
}

onyx_status *onyx_pass_error(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return onyx_error(ONYX_ERR_RUNTIME, "%s", msg);
}
