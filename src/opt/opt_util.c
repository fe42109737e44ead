/* opt_util.c — graph-editing helpers shared by the optimizer's passes: use
 * counts, rewiring consumers, reading constants, making fresh values, nodes
 * and attributes. Use counts are found by scanning the nodes rather than
 * kept in an index: passes rewrite the graph as they go, and a scan cannot
 * go stale (graphs of a few thousand nodes make this cheap enough). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "opt.h"
#include "ops/ops.h"

bool opt_is_dead(const opt_ctx *c, int n) { return n < c->cap_dead && c->dead[n]; }

bool opt_is(const opt_ctx *c, int n, const char *op_type) {
  if (n < 0 || opt_is_dead(c, n)) return false;
  const onyx_node *nd = &c->g->nodes[n];
  return !nd->domain[0] && !strcmp(nd->op_type, op_type);
}

bool opt_claimed(const opt_ctx *c, int n) {
  return c->cfg && c->cfg->claimed && c->cfg->claimed(c->cfg->claim_arg, c->g, &c->g->nodes[n]);
}

bool opt_claimed_off_host(const opt_ctx *c, int n) {
  return c->cfg && c->cfg->claimed_off_host &&
         c->cfg->claimed_off_host(c->cfg->claim_arg, c->g, &c->g->nodes[n]);
}

bool opt_cpu_nodes(const opt_ctx *c, const int *nodes, int count) {
  for (int i = 0; i < count; i++)
    if (nodes[i] >= 0 && opt_claimed(c, nodes[i])) return false;
  return true;
}

bool opt_quant_group_allowed(const opt_ctx *c, const int *nodes, int count, int fused) {
  if (opt_cpu_nodes(c, nodes, count) || (fused >= 0 && opt_claimed(c, fused))) return true;
  for (int i = 0; i < count; i++)
    if (nodes[i] >= 0 && opt_claimed_off_host(c, nodes[i])) return false;
  return true;
}

onyx_status *opt_kill(opt_ctx *c, int n) {
  if (n >= c->cap_dead) {
    int cap = c->g->n_nodes > n + 1 ? c->g->n_nodes : n + 1;
    bool *d = onyx_realloc(c->dead, (size_t)cap * sizeof *d);
    if (!d) return onyx_error_oom();
    memset(d + c->cap_dead, 0, (size_t)(cap - c->cap_dead) * sizeof *d);
    c->dead = d;
    c->cap_dead = cap;
  }
  c->dead[n] = true;
  return NULL;
}

int opt_uses(const opt_ctx *c, int v) {
  const onyx_graph *g = c->g;
  int k = g->values[v].is_output ? 1 : 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    const onyx_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++) k += n->in[j] == v;
    for (int j = 0; j < n->n_implicit; j++) k += n->implicit[j] == v;
  }
  return k;
}

int opt_single_consumer(const opt_ctx *c, int v) {
  const onyx_graph *g = c->g;
  if (g->values[v].is_output) return -1;
  int found = -1, k = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    const onyx_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] == v) {
        found = i;
        k++;
      }
    for (int j = 0; j < n->n_implicit; j++) k += n->implicit[j] == v;
  }
  return k == 1 ? found : -1;
}

bool opt_replace_uses(opt_ctx *c, int from, int to) {
  onyx_graph *g = c->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    for (int j = 0; j < g->nodes[i].n_implicit; j++)
      if (g->nodes[i].implicit[j] == from) return false;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    onyx_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_in; j++)
      if (n->in[j] == from) n->in[j] = to;
  }
  return true;
}

bool opt_bypass(opt_ctx *c, int out, int in) {
  onyx_graph *g = c->g;
  onyx_value *vo = &g->values[out], *vi = &g->values[in];
  if (!vo->is_output) return opt_replace_uses(c, out, in);
  /* keep the graph output's name: in's producer writes it instead */
  int p = vi->producer;
  if (p < 0 || opt_is_dead(c, p) || vi->is_output || vi->is_input || vi->init) return false;
  if (opt_uses(c, in) != 1) return false;   /* only the node being bypassed reads it */
  for (int i = 0; i < g->n_nodes; i++) {
    if (opt_is_dead(c, i)) continue;
    for (int j = 0; j < g->nodes[i].n_implicit; j++)
      if (g->nodes[i].implicit[j] == out || g->nodes[i].implicit[j] == in) return false;
  }
  onyx_node *pn = &g->nodes[p];
  for (int k = 0; k < pn->n_out; k++)
    if (pn->out[k] == in) pn->out[k] = out;
  vo->producer = p;
  vi->producer = -1;
  /* the bypassed node still lists `out` as its output until it is removed;
   * it must stop claiming it so the graph has one producer per value */
  for (int i = 0; i < g->n_nodes; i++) {
    if (i == p || opt_is_dead(c, i)) continue;
    onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++)
      if (n->out[k] == out) n->out[k] = -1;
  }
  return true;
}

const onyx_tensor *opt_const(const onyx_graph *g, int v) {
  /* an initializer that is also a graph input is a default the caller may override */
  return v >= 0 && !g->values[v].is_input ? g->values[v].init : NULL;
}

onyx_status *opt_set_input(onyx_node *n, int k, int v) {
  if (k >= n->n_in) {
    int *p = onyx_realloc(n->in, (size_t)(k + 1) * sizeof *p);
    if (!p) return onyx_error_oom();
    for (int i = n->n_in; i <= k; i++) p[i] = -1;
    n->in = p;
    n->n_in = k + 1;
  }
  n->in[k] = v;
  return NULL;
}

bool opt_const_scalar(const onyx_graph *g, int v, double *out) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->kind != ONYX_KIND_TENSOR || onyx_numel(t->rank, t->dims) != 1) return false;
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: case ONYX_DTYPE_DOUBLE: case ONYX_DTYPE_FLOAT16: case ONYX_DTYPE_BFLOAT16:
    case ONYX_DTYPE_INT8: case ONYX_DTYPE_INT16: case ONYX_DTYPE_INT32: case ONYX_DTYPE_INT64:
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_UINT16: case ONYX_DTYPE_UINT32: case ONYX_DTYPE_UINT64:
      *out = onyx_tensor_get_f64(t, 0);
      return true;
    default:
      return false;
  }
}

bool opt_const_all(const onyx_graph *g, int v, double x, double rel) {
  const onyx_tensor *t = opt_const(g, v);
  if (!t || t->kind != ONYX_KIND_TENSOR || t->dtype != ONYX_DTYPE_FLOAT) return false;
  int64_t n = onyx_numel(t->rank, t->dims);
  if (n < 1) return false;
  const float *p = t->data;
  for (int64_t i = 0; i < n; i++)
    if (fabs((double)p[i] - x) > rel * fabs(x) + 1e-30) return false;
  return true;
}

int opt_other_input(const onyx_node *n, int v) {
  if (n->n_in != 2) return -1;
  if (n->in[0] == v) return n->in[1];
  if (n->in[1] == v) return n->in[0];
  return -1;
}

/* A name based on `base` that no value of g has yet. */
static void fresh_name(const onyx_graph *g, const char *base, char *buf, size_t len) {
  snprintf(buf, len, "%s", base);
  for (int k = 1; onyx_graph_find(g, buf) >= 0; k++) snprintf(buf, len, "%s_%d", base, k);
}

onyx_status *opt_add_value(onyx_graph *g, const char *base, int *v) {
  char name[512];
  fresh_name(g, base, name, sizeof name);
  return onyx_graph_value(g, name, v);
}

onyx_status *opt_add_const(onyx_graph *g, const char *base, onyx_tensor *t, int *v) {
  onyx_status *s = opt_add_value(g, base, v);
  if (s) {
    onyx_tensor_free(t);
    return s;
  }
  onyx_value *val = &g->values[*v];
  val->init = t;
  val->kind = ONYX_KIND_TENSOR;
  val->dtype = t->dtype;
  val->rank = t->rank;
  if (t->rank > 0) memcpy(val->dims, t->dims, (size_t)t->rank * sizeof t->dims[0]);
  return NULL;
}

onyx_status *opt_add_node(onyx_graph *g, const char *base, const char *op_type, const char *domain,
                          int n_in, const int *in, int n_out, const int *out, int *idx) {
  ONYX_TRY(onyx_graph_add_node(g, base, op_type, domain, n_in, in, n_out, out, idx));
  /* the op id now, as inference would set it, so that providers asked about
   * the node before then (opt_claimed) see what it is; its outputs keep
   * their types until inference refreshes them */
  g->nodes[*idx].op = onyx_op_lookup(domain, op_type);
  return NULL;
}

static onyx_status *copy_attr(onyx_attr *d, const onyx_attr *s) {
  d->type = s->type;
  d->f = s->f;
  d->i = s->i;
  d->n = s->n;
  if (s->g || s->graphs || s->tensors || s->type == ONYX_ATTR_SPARSE_TENSOR)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "attribute '%s': copying graphs or tensor lists", s->name);
  if (s->s && !(d->s = onyx_strndup(s->s, s->s_len))) return onyx_error_oom();
  d->s_len = s->s_len;
  if (s->floats) {
    if (!(d->floats = onyx_malloc((size_t)s->n * sizeof(float) + 1))) return onyx_error_oom();
    memcpy(d->floats, s->floats, (size_t)s->n * sizeof(float));
  }
  if (s->ints) {
    size_t cnt = s->type == ONYX_ATTR_TYPE_PROTO ? 1 : (size_t)s->n;
    if (!(d->ints = onyx_malloc(cnt * sizeof(int64_t) + 1))) return onyx_error_oom();
    memcpy(d->ints, s->ints, cnt * sizeof(int64_t));
  }
  if (s->strings) {
    if (!(d->strings = onyx_calloc((size_t)s->n + 1, sizeof(char *)))) return onyx_error_oom();
    for (int i = 0; i < s->n; i++)
      if (!(d->strings[i] = onyx_strdup(s->strings[i]))) return onyx_error_oom();
  }
  if (s->t) ONYX_TRY(onyx_tensor_clone(s->t, &d->t));
  return NULL;
}

onyx_status *opt_copy_attrs(onyx_node *dst, const onyx_node *src) {
  for (int i = 0; i < src->n_attrs; i++) {
    onyx_attr *a;
    ONYX_TRY(onyx_node_add_attr(dst, src->attrs[i].name, &a));
    ONYX_TRY(copy_attr(a, &src->attrs[i]));
  }
  return NULL;
}

/* The attribute `name` of n, emptied for a new value (added when absent). */
static onyx_status *attr_slot(onyx_node *n, const char *name, onyx_attr **out) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) {
      onyx_attr *a = &n->attrs[i];
      char *keep = a->name;
      a->name = NULL;
      onyx_attr_clear(a);
      a->name = keep;
      *out = a;
      return NULL;
    }
  return onyx_node_add_attr(n, name, out);
}

onyx_status *opt_set_int(onyx_node *n, const char *name, int64_t v) {
  onyx_attr *a;
  ONYX_TRY(attr_slot(n, name, &a));
  a->type = ONYX_ATTR_INT;
  a->i = v;
  return NULL;
}

onyx_status *opt_set_float(onyx_node *n, const char *name, float v) {
  onyx_attr *a;
  ONYX_TRY(attr_slot(n, name, &a));
  a->type = ONYX_ATTR_FLOAT;
  a->f = v;
  return NULL;
}

onyx_status *opt_set_string(onyx_node *n, const char *name, const char *s) {
  onyx_attr *a;
  ONYX_TRY(attr_slot(n, name, &a));
  a->type = ONYX_ATTR_STRING;
  if (!(a->s = onyx_strdup(s))) return onyx_error_oom();
  a->s_len = strlen(s);
  return NULL;
}

onyx_status *opt_set_floats(onyx_node *n, const char *name, int count, const float *v) {
  onyx_attr *a;
  ONYX_TRY(attr_slot(n, name, &a));
  a->type = ONYX_ATTR_FLOATS;
  if (!(a->floats = onyx_malloc((size_t)count * sizeof(float) + 1))) return onyx_error_oom();
  if (count) memcpy(a->floats, v, (size_t)count * sizeof(float));
  a->n = count;
  return NULL;
}

bool opt_axes(const onyx_graph *g, const onyx_node *n, int opset_as_input, int *count, int64_t *axes) {
  if (n->opset < opset_as_input) {
    int cnt;
    const int64_t *v;
    if (!onyx_attr_ints(n, "axes", &cnt, &v)) {
      *count = 0;
      return true;
    }
    if (cnt > ONYX_MAX_RANK) return false;
    memcpy(axes, v, (size_t)cnt * sizeof *v);
    *count = cnt;
    return true;
  }
  if (n->n_in < 2 || n->in[1] < 0) {
    *count = 0;
    return true;
  }
  const onyx_tensor *t = opt_const(g, n->in[1]);
  if (!t || (t->dtype != ONYX_DTYPE_INT64 && t->dtype != ONYX_DTYPE_INT32)) return false;
  int64_t cnt = onyx_numel(t->rank, t->dims);
  if (cnt > ONYX_MAX_RANK) return false;
  for (int64_t i = 0; i < cnt; i++) axes[i] = onyx_tensor_get_i64(t, i);
  *count = (int)cnt;
  return true;
}

onyx_status *opt_import_domain(onyx_graph *g, const char *domain) {
  onyx_model *m = g->model;
  if (!m || onyx_model_opset(m, domain) >= 1) return NULL;
  return onyx_model_set_opset(m, domain, 1);
}
