/* eliminate_dead.c — dead code elimination (levels 1 and 2).
 *
 * A node is live when one of its outputs is a graph output or is read by a
 * live node (subgraph reads of outer values count, through the implicit
 * inputs onyx_graph_toposort records). Walking a sorted graph backwards
 * decides each node after all its consumers. Dead nodes go, and so do the
 * initializers no live node reads any more (folding leaves the originals
 * behind), so a saved model does not carry weights nothing uses. */
#include <string.h>

#include "base/alloc.h"
#include "opt.h"

onyx_status *opt_eliminate_dead(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  bool *live = onyx_calloc((size_t)g->n_values + 1, sizeof *live);
  if (!live) return onyx_error_oom();
  onyx_status *s = NULL;
  for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i]] = true;
  for (int i = g->n_nodes - 1; i >= 0 && !s; i--) {
    const onyx_node *n = &g->nodes[i];
    bool used = false;
    if (!opt_is_dead(c, i))
      for (int k = 0; k < n->n_out && !used; k++) used = n->out[k] >= 0 && live[n->out[k]];
    if (!used) {
      if (!opt_is_dead(c, i)) {
        s = opt_kill(c, i);
        (*changed)++;
      }
      continue;
    }
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) live[n->in[k]] = true;
    for (int k = 0; k < n->n_implicit; k++) live[n->implicit[k]] = true;
  }
  for (int v = 0; v < g->n_values && !s; v++) {
    onyx_value *val = &g->values[v];
    if (val->init && !live[v] && !val->is_input) {
      onyx_tensor_free(val->init);
      val->init = NULL;
      (*changed)++;
    }
  }
  onyx_free(live);
  return s;
}
