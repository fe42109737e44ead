/* kernel.c — the checks kernel.h promises on kernel tables. */
#include "kernel.h"

static onyx_status *check_one(const onyx_kernel *k, const onyx_graph *g, const onyx_node *n, int v,
                              const char *what, int i) {
  if (v < 0) return NULL;
  const onyx_value *val = &g->values[v];
  if (val->kind != ONYX_KIND_TENSOR)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s %d ('%s') is not a tensor", what, i, val->name);
  if (val->dtype == ONYX_DTYPE_UNDEFINED || (k->dtypes >> val->dtype & 1)) return NULL;
  (void)n;
  return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s %d ('%s') has dtype %s", what, i, val->name,
                    onyx_dtype_name(val->dtype));
}

onyx_status *onyx_kernel_check_dtypes(const onyx_kernel *k, const onyx_graph *g, const onyx_node *n) {
  if (!k->dtypes) return NULL;
  for (int i = 0; i < n->n_in; i++)
    if (!(k->host_in >> i & 1)) ONYX_TRY(check_one(k, g, n, n->in[i], "input", i));
  for (int i = 0; i < n->n_out; i++)
    if (!(k->host_out >> i & 1)) ONYX_TRY(check_one(k, g, n, n->out[i], "output", i));
  return NULL;
}
