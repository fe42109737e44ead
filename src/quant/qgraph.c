/* qgraph.c — the graph-editing helpers of the quantization rewrites (see
 * qgraph.h): names, values, initializers, nodes, attributes, use counts and
 * the per-node notes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "ops/ops.h"
#include "qgraph.h"

onyx_status *qctx_init(qctx *c, onyx_model *m, const onyx_quant_config *cfg,
                       const onyx_calib_table *table) {
  memset(c, 0, sizeof *c);
  c->m = m;
  c->g = m->graph;
  c->cfg = cfg;
  c->table = table;
  c->n_orig = c->g->n_nodes;
  size_t n = (size_t)c->n_orig + 1;
  c->remove = onyx_calloc(n, sizeof *c->remove);
  c->done = onyx_calloc(n, sizeof *c->done);
  c->quantized = onyx_calloc(n, sizeof *c->quantized);
  c->why = onyx_calloc(n, sizeof *c->why);
  if (!c->remove || !c->done || !c->quantized || !c->why) return onyx_error_oom();
  if (c->g->n_values && !qctx_value(c, c->g->n_values - 1)) return onyx_error_oom();
  return NULL;
}

void qctx_deinit(qctx *c) {
  if (c->why)
    for (int i = 0; i < c->n_orig; i++) onyx_free(c->why[i]);
  onyx_free(c->why);
  onyx_free(c->remove);
  onyx_free(c->done);
  onyx_free(c->quantized);
  onyx_free(c->vs);
  memset(c, 0, sizeof *c);
}

onyx_status *qctx_note(qctx *c, int i, bool quantized, const char *fmt, ...) {
  if (i < 0 || i >= c->n_orig || c->done[i]) return NULL;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (!(c->why[i] = onyx_strdup(buf))) return onyx_error_oom();
  c->done[i] = true;
  c->quantized[i] = quantized;
  return NULL;
}

qvalue *qctx_value(qctx *c, int v) {
  if (v >= c->cap_vs) {
    int cap = c->cap_vs ? c->cap_vs : 64;
    while (cap <= v) cap *= 2;
    qvalue *nv = onyx_realloc(c->vs, (size_t)cap * sizeof *nv);
    if (!nv) return NULL;
    c->vs = nv;
    c->cap_vs = cap;
  }
  for (; c->n_vs <= v; c->n_vs++) {
    qvalue *q = &c->vs[c->n_vs];
    memset(q, 0, sizeof *q);
    q->share = q->scale_v = q->zp_v = q->qv = q->wdq = q->waxis = q->wscale_v = -1;
    q->dql[0] = q->dql[1] = q->dql[2] = -1;
  }
  return &c->vs[v];
}

onyx_status *qg_new_value(qctx *c, const char *base, const char *suffix, int *out) {
  size_t len = strlen(base) + strlen(suffix) + 24;
  char *name = onyx_malloc(len);
  if (!name) return onyx_error_oom();
  snprintf(name, len, "%s%s", base, suffix);
  for (int k = 1; onyx_graph_find(c->g, name) >= 0; k++) snprintf(name, len, "%s%s_%d", base, suffix, k);
  onyx_status *s = onyx_graph_value(c->g, name, out);
  onyx_free(name);
  if (!s && !qctx_value(c, *out)) s = onyx_error_oom();
  return s;
}

onyx_status *qg_new_init(qctx *c, const char *base, const char *suffix, onyx_tensor *t, int *out) {
  onyx_status *s = qg_new_value(c, base, suffix, out);
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  onyx_value *v = &c->g->values[*out];
  v->init = t;
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, t->dims, (size_t)t->rank * sizeof *t->dims);
  return NULL;
}

onyx_status *qg_weight_inits(qctx *c, const char *base, onyx_qweight *qw, int *q_v, int *scale_v, int *zp_v) {
  onyx_status *s = base ? qg_new_init(c, base, "_quantized", qw->q, q_v) : onyx_error_oom();
  if (!base) onyx_tensor_free(qw->q);
  if (!s) s = qg_new_init(c, base, "_scale", qw->scale, scale_v);
  else onyx_tensor_free(qw->scale);
  if (!s) s = qg_new_init(c, base, "_zero_point", qw->zero_point, zp_v);
  else onyx_tensor_free(qw->zero_point);
  qw->q = qw->scale = qw->zero_point = NULL;
  return s;
}

onyx_status *qg_scalar(qctx *c, const char *base, const char *suffix, onyx_dtype dt, double v, int *out) {
  onyx_tensor *t;
  ONYX_TRY(onyx_tensor_create(dt, 0, NULL, &t));
  switch (dt) {
    case ONYX_DTYPE_FLOAT: *(float *)t->data = (float)v; break;
    case ONYX_DTYPE_UINT8: *(uint8_t *)t->data = (uint8_t)v; break;
    case ONYX_DTYPE_INT8: *(int8_t *)t->data = (int8_t)v; break;
    default: *(int32_t *)t->data = (int32_t)v; break;
  }
  return qg_new_init(c, base, suffix, t, out);
}

onyx_status *qg_node(qctx *c, const char *base, const char *suffix, const char *op, int n_in,
                     const int *in, int n_out, const int *out, int *node) {
  size_t len = strlen(base) + strlen(suffix) + 1;
  char *name = onyx_malloc(len);
  if (!name) return onyx_error_oom();
  snprintf(name, len, "%s%s", base, suffix);
  while (n_in > 0 && in[n_in - 1] < 0) n_in--;   /* trailing omitted inputs */
  int idx;
  onyx_status *s = onyx_graph_add_node(c->g, name, op, "", n_in, in, n_out, out, &idx);
  onyx_free(name);
  if (!s && node) *node = idx;
  return s;
}

onyx_status *qg_attr_int(qctx *c, int node, const char *name, int64_t v) {
  onyx_attr *a;
  ONYX_TRY(onyx_node_add_attr(&c->g->nodes[node], name, &a));
  a->type = ONYX_ATTR_INT;
  a->i = v;
  return NULL;
}

static onyx_status *copy_attr(onyx_attr *d, const onyx_attr *a, const onyx_node *from) {
  d->type = a->type;
  d->f = a->f;
  d->i = a->i;
  d->n = a->n;
  switch (a->type) {
    case ONYX_ATTR_INT: case ONYX_ATTR_FLOAT: return NULL;
    case ONYX_ATTR_STRING:
      if (!(d->s = onyx_strndup(a->s, a->s_len))) return onyx_error_oom();
      d->s_len = a->s_len;
      return NULL;
    case ONYX_ATTR_INTS:
      if (!(d->ints = onyx_malloc((size_t)(a->n ? a->n : 1) * sizeof *a->ints))) return onyx_error_oom();
      if (a->n) memcpy(d->ints, a->ints, (size_t)a->n * sizeof *a->ints);
      return NULL;
    case ONYX_ATTR_FLOATS:
      if (!(d->floats = onyx_malloc((size_t)(a->n ? a->n : 1) * sizeof *a->floats))) return onyx_error_oom();
      if (a->n) memcpy(d->floats, a->floats, (size_t)a->n * sizeof *a->floats);
      return NULL;
    default:
      d->type = ONYX_ATTR_UNDEFINED;
      return onyx_node_error(from, ONYX_ERR_NOT_IMPLEMENTED, "attribute '%s' cannot be carried over", a->name);
  }
}

onyx_status *qg_copy_attrs(qctx *c, int from, int to, const char *const *skip) {
  for (int k = 0; k < c->g->nodes[from].n_attrs; k++) {
    const onyx_attr *a = &c->g->nodes[from].attrs[k];
    bool skipped = false;
    for (int j = 0; skip && skip[j]; j++) skipped |= !strcmp(skip[j], a->name);
    if (skipped) continue;
    onyx_attr *d;
    ONYX_TRY(onyx_node_add_attr(&c->g->nodes[to], a->name, &d));
    a = &c->g->nodes[from].attrs[k];   /* the node array did not move, but stay safe */
    onyx_status *s = copy_attr(d, a, &c->g->nodes[from]);
    if (s) return s;
  }
  return NULL;
}

int qg_uses(const onyx_graph *g, int v) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in; k++) n += nd->in[k] == v;
    for (int k = 0; k < nd->n_implicit; k++) n += nd->implicit[k] == v;
  }
  return n;
}

bool qg_is_output(const onyx_graph *g, int v) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return true;
  return false;
}

const onyx_tensor *qg_const(const onyx_graph *g, int v) {
  if (v < 0 || !g->values[v].init || g->values[v].is_input) return NULL;
  const onyx_tensor *t = g->values[v].init;
  return t->dtype == ONYX_DTYPE_FLOAT && t->kind == ONYX_KIND_TENSOR ? t : NULL;
}

void qg_drop_unused(onyx_graph *g) {
  for (int v = 0; v < g->n_values; v++) {
    onyx_value *val = &g->values[v];
    if (!val->init || val->is_input || qg_is_output(g, v) || qg_uses(g, v)) continue;
    onyx_tensor_free(val->init);
    val->init = NULL;
  }
}

onyx_status *qg_act_params(qctx *c, int v, int share, bool *ok) {
  qvalue *q = qctx_value(c, v);
  if (!q) return onyx_error_oom();
  *ok = true;
  if (q->has_params) return NULL;
  if (share >= 0) {
    qvalue *src = qctx_value(c, share);
    if (!src) return onyx_error_oom();
    if (!src->has_params) {
      *ok = false;
      return NULL;
    }
    qvalue copy = *src;
    q = qctx_value(c, v);
    q->p = copy.p;
    q->scale_v = copy.scale_v;
    q->zp_v = copy.zp_v;
    q->has_params = true;
    return NULL;
  }
  const onyx_calib_entry *e = c->table ? onyx_calib_table_get(c->table, c->g->values[v].name) : NULL;
  if (!e) {
    *ok = false;
    return NULL;
  }
  onyx_qparams p = onyx_quant_params(e->min, e->max, c->cfg->activation_type, c->cfg->activation_symmetric, false);
  char *base = onyx_strdup(c->g->values[v].name);
  if (!base) return onyx_error_oom();
  int sv, zv;
  onyx_status *s = qg_scalar(c, base, "_scale", ONYX_DTYPE_FLOAT, p.scale, &sv);
  if (!s) s = qg_scalar(c, base, "_zero_point", c->cfg->activation_type, p.zero_point, &zv);
  onyx_free(base);
  if (s) return s;
  q = qctx_value(c, v);
  q->p = p;
  q->scale_v = sv;
  q->zp_v = zv;
  q->has_params = true;
  return NULL;
}

static bool in_list(char **list, const char *s) {
  for (int i = 0; list && list[i]; i++)
    if (!strcmp(list[i], s)) return true;
  return false;
}

const char *qg_filtered(const qctx *c, const onyx_node *n, const char *const *default_ops) {
  const onyx_quant_config *cfg = c->cfg;
  if (n->domain[0]) return "not an ai.onnx op";
  if (in_list(cfg->exclude_nodes, n->name)) return "excluded (nodes_to_exclude)";
  if (cfg->include_nodes && !in_list(cfg->include_nodes, n->name)) return "not in nodes_to_quantize";
  if (cfg->op_types) return in_list(cfg->op_types, n->op_type) ? NULL : "op type not in op_types_to_quantize";
  for (int i = 0; default_ops[i]; i++)
    if (!strcmp(default_ops[i], n->op_type)) return NULL;
  return "no int8 implementation in onyx for this op";
}
