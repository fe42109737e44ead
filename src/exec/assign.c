/* assign.c — provider assignment: each node goes to the first provider, in
 * priority order, that supports it (and, for per-node providers, has a
 * kernel taking its dtypes), unless a compile of that provider already
 * failed for it. Why better providers declined is kept per node for
 * `onyx inspect --stage partitioned` and onyx_session_node_info. */
#include <stdio.h>

#include "base/alloc.h"
#include "plan_internal.h"

/* NULL when provider pr can take node n; else why not. */
static onyx_status *can_take(const onyx_plan *p, onyx_provider *pr, const onyx_node *n) {
  if (!pr->iface->kernel_for && !pr->iface->compile) return onyx_error(ONYX_ERR_RUNTIME, "no kernels");
  ONYX_TRY(pr->iface->supports(pr, p->g, n));
  if (pr->iface->compile) return NULL;
  const onyx_kernel *k = pr->iface->kernel_for(pr, p->g, n);
  if (!k) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "no kernel for %s", n->op_type);
  return onyx_kernel_check_dtypes(k, p->g, n);
}

onyx_status *plan_assign(onyx_plan *p, const uint64_t *excluded) {
  const onyx_graph *g = p->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    char why[512] = "";
    size_t wl = 0;
    p->assign[i] = -1;
    for (int k = 0; k < p->n_providers && p->assign[i] < 0; k++) {
      onyx_provider *pr = p->providers[k];
      onyx_status *s = excluded[i] >> k & 1
                           ? onyx_error(ONYX_ERR_RUNTIME, "%s", p->fail_msg[i] ? p->fail_msg[i] : "failed")
                           : can_take(p, pr, n);
      if (!s) {
        p->assign[i] = k;
        break;
      }
      if (wl < sizeof why - 1)
        wl += (size_t)snprintf(why + wl, sizeof why - wl, "%s%s: %s", wl ? "; " : "", pr->name,
                               onyx_status_message(s));
      bool oom = onyx_status_code(s) == ONYX_ERR_OUT_OF_MEMORY;
      onyx_status_free(s);
      if (oom) return onyx_error_oom();
    }
    if (p->assign[i] < 0)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "node '%s' (%s): no execution provider can run it (%s)",
                        n->name, n->op_type, why);
    onyx_free(p->why[i]);
    p->why[i] = NULL;
    if (wl && !(p->why[i] = onyx_strdup(why))) return onyx_error_oom();
  }
  return NULL;
}
