/* eliminate_common.c — common subexpression elimination (level 1).
 *
 * Two nodes with the same op (type and domain), the same inputs and the
 * same attributes compute the same values, so the later one's readers can
 * read the earlier one's outputs. Equal small constants count as the same
 * input: exporters repeat [0] or 1.0 under many names, and deduplicating
 * them first (readers of a duplicate read the first copy) lets the nodes
 * around them merge. Random ops, nodes with subgraphs and nodes whose
 * outputs are graph outputs (their names must stay) are left alone. Nodes
 * are compared only within a hash bucket. */
#include <string.h>

#include "base/alloc.h"
#include "opt.h"

#define DEDUP_MAX_BYTES 4096   /* constants compared byte by byte up to this size */

static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

static uint64_t hash_str(uint64_t h, const char *s) {
  while (*s) h = mix(h, (unsigned char)*s++);
  return h;
}

static bool same_tensor(const onyx_tensor *a, const onyx_tensor *b) {
  if (a->kind != ONYX_KIND_TENSOR || b->kind != ONYX_KIND_TENSOR || a->dtype != b->dtype ||
      a->rank != b->rank || a->nbytes != b->nbytes || a->dtype == ONYX_DTYPE_STRING)
    return false;
  if (a->rank && memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0])) return false;
  return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
}

static bool same_attr(const onyx_attr *a, const onyx_attr *b) {
  if (strcmp(a->name, b->name) || a->type != b->type || a->n != b->n) return false;
  switch (a->type) {
    case ONYX_ATTR_FLOAT: return !memcmp(&a->f, &b->f, sizeof a->f);
    case ONYX_ATTR_INT: return a->i == b->i;
    case ONYX_ATTR_STRING: return a->s_len == b->s_len && !memcmp(a->s, b->s, a->s_len);
    case ONYX_ATTR_FLOATS: return !a->n || !memcmp(a->floats, b->floats, (size_t)a->n * sizeof(float));
    case ONYX_ATTR_INTS: return !a->n || !memcmp(a->ints, b->ints, (size_t)a->n * sizeof(int64_t));
    case ONYX_ATTR_STRINGS:
      for (int i = 0; i < a->n; i++)
        if (strcmp(a->strings[i], b->strings[i])) return false;
      return true;
    case ONYX_ATTR_TENSOR: return same_tensor(a->t, b->t);
    default: return false;   /* graphs and the rest: never merged */
  }
}

static bool candidate(const opt_ctx *c, int i) {
  const onyx_graph *g = c->g;
  const onyx_node *n = &g->nodes[i];
  if (opt_is_dead(c, i) || n->op < 0 || n->n_out == 0) return false;
  static const char *const random_ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                           "RandomUniformLike", "Multinomial", "Bernoulli", NULL};
  for (const char *const *r = random_ops; *r; r++)
    if (!strcmp(n->op_type, *r)) return false;
  for (int a = 0; a < n->n_attrs; a++) {
    onyx_attr_type t = n->attrs[a].type;
    if (t == ONYX_ATTR_GRAPH || t == ONYX_ATTR_GRAPHS || t == ONYX_ATTR_TENSORS ||
        t == ONYX_ATTR_SPARSE_TENSOR || t == ONYX_ATTR_SPARSE_TENSORS)
      return false;
  }
  for (int k = 0; k < n->n_out; k++)
    if (n->out[k] >= 0 && g->values[n->out[k]].is_output) return false;
  return true;
}

static bool same_node(const onyx_node *a, const onyx_node *b) {
  if (strcmp(a->op_type, b->op_type) || strcmp(a->domain, b->domain) || a->n_in != b->n_in ||
      a->n_out != b->n_out || a->n_attrs != b->n_attrs)
    return false;
  for (int k = 0; k < a->n_in; k++)
    if (a->in[k] != b->in[k]) return false;
  for (int i = 0; i < a->n_attrs; i++) {
    const onyx_attr *bb = onyx_node_attr(b, a->attrs[i].name);
    if (!bb || !same_attr(&a->attrs[i], bb)) return false;
  }
  return true;
}

/* Readers of a constant equal to an earlier one read the earlier one. */
static int dedup_constants(opt_ctx *c) {
  onyx_graph *g = c->g;
  int n = 0;
  for (int v = 0; v < g->n_values; v++) {
    const onyx_tensor *t = opt_const(g, v);
    if (!t || t->nbytes > DEDUP_MAX_BYTES || g->values[v].is_output) continue;
    for (int u = 0; u < v; u++) {
      const onyx_tensor *o = opt_const(g, u);
      if (o && same_tensor(o, t)) {
        if (opt_uses(c, v) && opt_replace_uses(c, v, u)) n++;
        break;
      }
    }
  }
  return n;
}

onyx_status *opt_eliminate_common(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = dedup_constants(c);
  uint64_t *h = onyx_malloc((size_t)g->n_nodes * sizeof *h + 1);
  if (!h) return onyx_error_oom();
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    uint64_t x = hash_str(hash_str(1469598103934665603ull, n->op_type), n->domain);
    for (int k = 0; k < n->n_in; k++) x = mix(x, (uint64_t)(n->in[k] + 2));
    h[i] = mix(x, (uint64_t)n->n_attrs);
  }
  onyx_status *s = NULL;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    if (!candidate(c, i)) continue;
    for (int j = 0; j < i; j++) {
      if (h[j] != h[i] || !candidate(c, j) || !same_node(&g->nodes[j], &g->nodes[i])) continue;
      onyx_node *a = &g->nodes[j], *b = &g->nodes[i];
      bool ok = true;
      for (int k = 0; k < b->n_out && ok; k++)
        ok = b->out[k] < 0 || a->out[k] >= 0 || !opt_uses(c, b->out[k]);
      if (!ok) continue;
      for (int k = 0; k < b->n_out && ok; k++)
        if (b->out[k] >= 0 && a->out[k] >= 0) ok = opt_replace_uses(c, b->out[k], a->out[k]);
      if (!ok) continue;   /* a subgraph reads it by name: keep both */
      s = opt_kill(c, i);
      (*changed)++;
      break;
    }
  }
  onyx_free(h);
  return s;
}
