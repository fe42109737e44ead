/* order.c — topological sort (Kahn, stable) and structural validation.
 *
 * A node whose attributes hold subgraphs (If/Loop/Scan) also depends on the
 * values of this graph that its subgraphs read from the outer scope; those are
 * recorded as the node's implicit inputs so both ordering and the executor's
 * lifetime counting see them. */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir.h"

/* Adds to `acc` (a flag per value of g) every value of g read by subgraph sg
 * (or its nested subgraphs) that sg does not define itself. */
static void mark_outer_uses(const onyx_graph *g, const onyx_graph *sg, bool *acc) {
  for (int v = 0; v < sg->n_values; v++) {
    const onyx_value *val = &sg->values[v];
    if (!val->is_outer) continue;
    int i = onyx_graph_find(g, val->name);
    if (i >= 0) acc[i] = true;
  }
  for (int n = 0; n < sg->n_nodes; n++)
    for (int a = 0; a < sg->nodes[n].n_attrs; a++) {
      const onyx_attr *at = &sg->nodes[n].attrs[a];
      if (at->g) mark_outer_uses(g, at->g, acc);
      for (int k = 0; at->graphs && k < at->n; k++) mark_outer_uses(g, at->graphs[k], acc);
    }
}

static onyx_status *collect_implicit(onyx_graph *g, onyx_node *n, bool *scratch) {
  bool any = false;
  for (int a = 0; a < n->n_attrs; a++) any |= n->attrs[a].g || n->attrs[a].graphs;
  onyx_free(n->implicit);
  n->implicit = NULL;
  n->n_implicit = 0;
  if (!any) return NULL;
  memset(scratch, 0, (size_t)g->n_values * sizeof *scratch);
  for (int a = 0; a < n->n_attrs; a++) {
    const onyx_attr *at = &n->attrs[a];
    if (at->g) mark_outer_uses(g, at->g, scratch);
    for (int k = 0; at->graphs && k < at->n; k++) mark_outer_uses(g, at->graphs[k], scratch);
  }
  int cnt = 0;
  for (int v = 0; v < g->n_values; v++) cnt += scratch[v];
  if (!cnt) return NULL;
  n->implicit = onyx_calloc((size_t)cnt, sizeof(int));
  if (!n->implicit) return onyx_error_oom();
  for (int v = 0; v < g->n_values; v++)
    if (scratch[v]) n->implicit[n->n_implicit++] = v;
  return NULL;
}

onyx_status *onyx_graph_toposort(onyx_graph *g) {
  int nn = g->n_nodes, nv = g->n_values;
  onyx_status *s = NULL;
  bool *scratch = onyx_calloc((size_t)nv + 1, sizeof *scratch);
  int *pending = onyx_calloc((size_t)nn + 1, sizeof(int));   /* unresolved deps per node */
  int *order = onyx_calloc((size_t)nn + 1, sizeof(int));
  int *producer = onyx_calloc((size_t)nv + 1, sizeof(int));
  /* users: CSR of node -> consumer nodes, through values */
  int *ucount = onyx_calloc((size_t)nv + 1, sizeof(int));
  int *ustart = onyx_calloc((size_t)nv + 2, sizeof(int));
  int *users = NULL;
  onyx_node *sorted = NULL;
  if (!scratch || !pending || !order || !producer || !ucount || !ustart) goto oom;

  for (int i = 0; i < nn; i++) {
    s = collect_implicit(g, &g->nodes[i], scratch);
    if (s) goto done;
  }
  for (int v = 0; v < nv; v++) producer[v] = -1;
  for (int i = 0; i < nn; i++)
    for (int o = 0; o < g->nodes[i].n_out; o++) {
      int v = g->nodes[i].out[o];
      if (v < 0) continue;
      if (producer[v] >= 0) {
        s = onyx_error(ONYX_ERR_INVALID_MODEL, "value '%s' is produced by both node '%s' and node '%s'",
                       g->values[v].name, g->nodes[producer[v]].name, g->nodes[i].name);
        goto done;
      }
      producer[v] = i;
    }
  /* count dependencies: each (input value produced by a node) occurrence */
  int total = 0;
  for (int i = 0; i < nn; i++) {
    const onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in + n->n_implicit; k++) {
      int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
      if (v >= 0 && producer[v] >= 0) {
        pending[i]++;
        ucount[v]++;
        total++;
      }
    }
  }
  users = onyx_calloc((size_t)total + 1, sizeof(int));
  if (!users) goto oom;
  for (int v = 0; v < nv; v++) ustart[v + 1] = ustart[v] + ucount[v];
  memset(ucount, 0, (size_t)nv * sizeof(int));
  for (int i = 0; i < nn; i++) {
    const onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in + n->n_implicit; k++) {
      int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
      if (v >= 0 && producer[v] >= 0) users[ustart[v] + ucount[v]++] = i;
    }
  }
  /* Kahn with a min-index ready set keeps the original order when it is valid. */
  int n_order = 0;
  bool *done_flag = scratch; /* reuse: node emitted */
  memset(done_flag, 0, (size_t)nv * sizeof *done_flag);
  bool *emitted = onyx_calloc((size_t)nn + 1, sizeof *emitted);
  if (!emitted) goto oom;
  int cursor = 0;
  while (n_order < nn) {
    int pick = -1;
    for (int i = cursor; i < nn; i++)
      if (!emitted[i] && pending[i] == 0) {
        pick = i;
        break;
      }
    if (pick < 0) break;
    emitted[pick] = true;
    order[n_order++] = pick;
    const onyx_node *n = &g->nodes[pick];
    int lowest = nn;
    for (int o = 0; o < n->n_out; o++) {
      int v = n->out[o];
      if (v < 0) continue;
      for (int u = ustart[v]; u < ustart[v + 1]; u++) {
        if (--pending[users[u]] == 0 && users[u] < lowest) lowest = users[u];
      }
    }
    while (cursor < nn && emitted[cursor]) cursor++;
    if (lowest < cursor) cursor = lowest;
  }
  if (n_order < nn) {
    int bad = 0;
    while (bad < nn && emitted[bad]) bad++;
    s = onyx_error(ONYX_ERR_INVALID_MODEL,
                   "graph '%s' has a cycle or an input no node produces: node '%s' (%s) can never run",
                   g->name, g->nodes[bad].name, g->nodes[bad].op_type);
    onyx_free(emitted);
    goto done;
  }
  onyx_free(emitted);
  sorted = onyx_calloc((size_t)nn + 1, sizeof *sorted);
  if (!sorted) goto oom;
  for (int i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
  if (nn) memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);   /* a graph may have no nodes */
  for (int v = 0; v < nv; v++) g->values[v].producer = -1;
  for (int i = 0; i < nn; i++)
    for (int o = 0; o < g->nodes[i].n_out; o++)
      if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
  /* subgraphs too */
  for (int i = 0; i < nn && !s; i++)
    for (int a = 0; a < g->nodes[i].n_attrs && !s; a++) {
      onyx_attr *at = &g->nodes[i].attrs[a];
      if (at->g) s = onyx_graph_toposort(at->g);
      for (int k = 0; at->graphs && k < at->n && !s; k++) s = onyx_graph_toposort(at->graphs[k]);
    }
  goto done;
oom:
  s = onyx_error_oom();
done:
  onyx_free(scratch);
  onyx_free(pending);
  onyx_free(order);
  onyx_free(producer);
  onyx_free(ucount);
  onyx_free(ustart);
  onyx_free(users);
  onyx_free(sorted);
  return s;
}

onyx_status *onyx_graph_validate(const onyx_graph *g) {
  bool *defined = onyx_calloc((size_t)g->n_values + 1, sizeof *defined);
  if (!defined) return onyx_error_oom();
  onyx_status *s = NULL;
  for (int v = 0; v < g->n_values; v++)
    defined[v] = g->values[v].is_input || g->values[v].init || g->values[v].is_outer;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    const onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in && !s; k++) {
      int v = n->in[k];
      if (v >= 0 && !defined[v])
        s = onyx_error(ONYX_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' is not defined by any graph input, initializer or earlier node",
                       n->name, n->op_type, g->values[v].name);
    }
    for (int o = 0; o < n->n_out && !s; o++) {
      int v = n->out[o];
      if (v < 0) continue;
      if (defined[v] && (g->values[v].is_input || g->values[v].init))
        s = onyx_error(ONYX_ERR_INVALID_MODEL, "node '%s' (%s): output '%s' is also a graph input or initializer",
                       n->name, n->op_type, g->values[v].name);
      defined[v] = true;
    }
  }
  for (int i = 0; i < g->n_outputs && !s; i++)
    if (!defined[g->outputs[i]])
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph output '%s' is not produced by any node, input or initializer",
                     g->values[g->outputs[i]].name);
  onyx_free(defined);
  return s;
}
