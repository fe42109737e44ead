/* partition.c — a plan's steps: one per node of a per-node provider (its
 * kernel prepared), one per connected group of nodes of a compiling
 * provider (compiled). Compiled partitions are reference counted so that a
 * re-plan (a retry after a failed compile, a provider lost at run time,
 * onyx_session_set_providers) keeps the ones whose nodes and provider did
 * not change instead of compiling them again. Each partition carries a
 * stable hash of what its compile depends on, for providers' caches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "plan_internal.h"

/* ---- compiled partitions -------------------------------------------------------- */

void compiled_unref(compiled *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  if (c->fused.release) c->fused.release(c->fused.state);
  onyx_free(c->nodes);
  onyx_free(c);
}

static onyx_status *set_add(compiled_set *set, compiled *c) {
  if (set->n == set->cap) {
    int cap = set->cap ? set->cap * 2 : 16;
    compiled **t = onyx_realloc(set->items, (size_t)cap * sizeof *t);
    if (!t) return onyx_error_oom();
    set->items = t;
    set->cap = cap;
  }
  atomic_fetch_add(&c->refs, 1);
  set->items[set->n++] = c;
  return NULL;
}

onyx_status *compiled_set_add_plan(compiled_set *set, const onyx_plan *p) {
  for (int i = 0; p && i < p->n_steps; i++)
    if (p->steps[i].kind == STEP_FUSED) ONYX_TRY(set_add(set, p->steps[i].part));
  return NULL;
}

void compiled_set_clear(compiled_set *set) {
  for (int i = 0; i < set->n; i++) compiled_unref(set->items[i]);
  onyx_free(set->items);
  memset(set, 0, sizeof *set);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static compiled *set_find(const compiled_set *set, onyx_provider *pr, const int *sorted, int n) {
  for (int i = 0; set && i < set->n; i++) {
    compiled *c = set->items[i];
    if (c->prov == pr && c->n_nodes == n && !memcmp(c->nodes, sorted, (size_t)n * sizeof *sorted)) return c;
  }
  return NULL;
}

/* ---- the partition hash ------------------------------------------------------------ */

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

static uint64_t mix(uint64_t h, const void *data, size_t n) {
  const unsigned char *b = data;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
  return h;
}
static uint64_t mix_i64(uint64_t h, int64_t v) { return mix(h, &v, sizeof v); }
static uint64_t mix_str(uint64_t h, const char *s) { return mix(h, s ? s : "", s ? strlen(s) + 1 : 1); }

static uint64_t mix_tensor(uint64_t h, const onyx_tensor *t) {
  h = mix_i64(mix_i64(h, t->dtype), t->rank);
  h = mix(h, t->dims, (size_t)t->rank * sizeof t->dims[0]);
  if (t->dtype == ONYX_DTYPE_STRING) {
    char *const *s = t->data;
    for (size_t i = 0; t->data && i < t->nbytes / sizeof(char *); i++) h = mix_str(h, s[i]);
    return h;
  }
  return t->data && onyx_tensor_on_host(t) ? mix(h, t->data, t->nbytes) : h;
}

static uint64_t mix_attr(uint64_t h, const onyx_attr *a) {
  h = mix_i64(mix_str(h, a->name), a->type);
  h = mix_i64(mix(h, &a->f, sizeof a->f), a->i);
  if (a->s) h = mix(h, a->s, a->s_len);
  h = mix_i64(h, a->n);
  if (a->floats) h = mix(h, a->floats, (size_t)a->n * sizeof *a->floats);
  if (a->ints) h = mix(h, a->ints, (size_t)a->n * sizeof *a->ints);
  for (int k = 0; a->strings && k < a->n; k++) h = mix_str(h, a->strings[k]);
  if (a->t) h = mix_tensor(h, a->t);
  for (int k = 0; a->tensors && k < a->n; k++) h = mix_tensor(h, a->tensors[k]);
  /* a subgraph counts by its size: partitions rarely hold control flow */
  if (a->g) h = mix_i64(mix_i64(h, a->g->n_nodes), a->g->n_values);
  return h;
}

/* Values are numbered by first appearance inside the partition, so the hash
 * does not depend on the graph's value indices or names. */
onyx_status *partition_hash(const onyx_graph *g, const onyx_partition *part, uint64_t *out) {
  int *id = onyx_malloc((size_t)g->n_values * sizeof *id + 1);   /* value -> local number, -1 */
  if (!id) return onyx_error_oom();
  for (int v = 0; v < g->n_values; v++) id[v] = -1;
  uint64_t h = FNV_OFFSET;
  int n_seen = 0;
  for (int i = 0; i < part->n_nodes; i++) {
    const onyx_node *n = &g->nodes[part->nodes[i]];
    h = mix_str(mix_str(h, n->op_type), n->domain);
    h = mix_i64(mix_i64(mix_i64(h, n->opset), n->n_in), n->n_out);
    for (int k = 0; k < n->n_attrs; k++) h = mix_attr(h, &n->attrs[k]);
    for (int k = 0; k < n->n_in + n->n_out; k++) {
      int v = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
      if (v >= 0 && id[v] < 0) id[v] = n_seen++;
      h = mix_i64(h, v < 0 ? -1 : id[v]);
    }
  }
  onyx_free(id);
  for (int k = 0; k < part->n_in; k++) {
    const onyx_value *v = &g->values[part->in[k]];
    if (v->init) {
      h = mix_tensor(h, v->init);
      continue;
    }
    h = mix_i64(mix_i64(mix_i64(h, v->kind), v->dtype), v->rank);
    if (v->rank > 0) h = mix(h, v->dims, (size_t)v->rank * sizeof v->dims[0]);
  }
  *out = mix_i64(mix_i64(h, part->n_out), part->opt_level);
  return NULL;
}

/* ---- steps ------------------------------------------------------------------------- */

step *plan_new_step(onyx_plan *p) {
  if (p->n_steps == p->cap_steps) {
    int nc = p->cap_steps ? p->cap_steps * 2 : 64;
    step *s = onyx_realloc(p->steps, (size_t)nc * sizeof *s);
    if (!s) return NULL;
    p->steps = s;
    p->cap_steps = nc;
  }
  step *st = &p->steps[p->n_steps++];
  memset(st, 0, sizeof *st);
  st->value = -1;
  return st;
}

onyx_status *plan_set_slots(int **dst, int n, const int *src) {
  *dst = onyx_calloc((size_t)n + 1, sizeof **dst);
  if (!*dst) return onyx_error_oom();
  if (n) memcpy(*dst, src, (size_t)n * sizeof *src);
  return NULL;
}

static onyx_status *add_node_step(onyx_plan *p, int ni) {
  const onyx_graph *g = p->g;
  const onyx_node *n = &g->nodes[ni];
  onyx_provider *pr = p->providers[p->assign[ni]];
  step *st = plan_new_step(p);
  if (!st) return onyx_error_oom();
  st->kind = STEP_NODE;
  st->prov = p->assign[ni];
  st->node = ni;
  st->kernel = pr->iface->kernel_for(pr, g, n);
  ONYX_TRY(plan_set_slots(&st->in, n->n_in, n->in));
  st->n_in = n->n_in;
  ONYX_TRY(plan_set_slots(&st->out, n->n_out, n->out));
  st->n_out = n->n_out;
  if (st->kernel->prepare) {
    onyx_status *s = st->kernel->prepare(pr, n, g, &st->state);
    if (s) {
      char lbl[256];
      return onyx_error_wrap(s, "%s: prepare", onyx_node_label(n, lbl, sizeof lbl));
    }
  }
  return NULL;
}

/* Records that provider prov could not compile nodes[0..cnt): they are
 * excluded from it in the next attempt, with the reason. */
static onyx_status *exclude(onyx_plan *p, const int *nodes, int cnt, int prov, const char *msg, uint64_t *excluded) {
  for (int i = 0; i < cnt; i++) {
    onyx_free(p->fail_msg[nodes[i]]);
    if (!(p->fail_msg[nodes[i]] = onyx_strdup(msg))) return onyx_error_oom();
    excluded[nodes[i]] |= (uint64_t)1 << prov;
  }
  return NULL;
}

/* The partition's boundary: inputs read inside and made outside, outputs
 * made inside and read outside (or graph outputs). */
static onyx_status *boundary(const onyx_graph *g, const int *nodes, int cnt, int *ins, int *n_in, int *outs,
                             int *n_out) {
  int nv = g->n_values;
  char *inside = onyx_calloc((size_t)nv + 1, 1), *seen = onyx_calloc((size_t)nv + 1, 1);
  bool *in_group = onyx_calloc((size_t)g->n_nodes + 1, sizeof *in_group);
  onyx_status *s = NULL;
  *n_in = *n_out = 0;
  if (!inside || !seen || !in_group) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < cnt; i++) {
    in_group[nodes[i]] = true;
    const onyx_node *n = &g->nodes[nodes[i]];
    for (int o = 0; o < n->n_out; o++)
      if (n->out[o] >= 0) inside[n->out[o]] = 1;
  }
  for (int i = 0; i < cnt; i++) {
    const onyx_node *n = &g->nodes[nodes[i]];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && !inside[v] && !seen[v]) {
        seen[v] = 1;
        ins[(*n_in)++] = v;
      }
    }
  }
  for (int v = 0; v < nv; v++) {
    if (!inside[v]) continue;
    bool used_outside = g->values[v].is_output;
    for (int ni = 0; ni < g->n_nodes && !used_outside; ni++) {
      if (in_group[ni]) continue;
      const onyx_node *m = &g->nodes[ni];
      for (int k = 0; k < m->n_in + m->n_implicit && !used_outside; k++)
        used_outside = (k < m->n_in ? m->in[k] : m->implicit[k - m->n_in]) == v;
    }
    if (used_outside) outs[(*n_out)++] = v;
  }
done:
  onyx_free(inside);
  onyx_free(seen);
  onyx_free(in_group);
  return s;
}

/* Compiles (or reuses) the connected group nodes[0..cnt) (execution order)
 * on its provider. A compile failure is not an error: *failed is set. */
static onyx_status *add_fused_step(onyx_plan *p, const int *nodes, int cnt, uint64_t *excluded,
                                   compiled_set *reuse, bool *failed) {
  const onyx_graph *g = p->g;
  int nv = g->n_values;
  int prov = p->assign[nodes[0]];
  onyx_provider *pr = p->providers[prov];
  onyx_status *s = NULL;
  compiled *c = NULL;
  int *ins = onyx_calloc((size_t)nv + 1, sizeof *ins), *outs = onyx_calloc((size_t)nv + 1, sizeof *outs);
  int *sorted = onyx_malloc((size_t)cnt * sizeof *sorted + 1);
  int n_in = 0, n_out = 0;
  if (!ins || !outs || !sorted) {
    s = onyx_error_oom();
    goto done;
  }
  memcpy(sorted, nodes, (size_t)cnt * sizeof *sorted);
  qsort(sorted, (size_t)cnt, sizeof *sorted, cmp_int);
  if ((s = boundary(g, nodes, cnt, ins, &n_in, outs, &n_out))) goto done;
  c = set_find(reuse, pr, sorted, cnt);
  if (c) {
    atomic_fetch_add(&c->refs, 1);
  } else {
    onyx_partition part = {cnt, nodes, n_in, ins, n_out, outs, p->cfg.opt_level, 0};
    if ((s = partition_hash(g, &part, &part.hash))) goto done;
    onyx_fused fused = {0};
    onyx_status *cs = pr->iface->compile(pr, g, &part, &fused);
    if (cs) {
      /* out of memory included: the partition falls back, the reason is kept */
      onyx_log(ONYX_LOG_INFO, "provider %s: partition of %d nodes starting at '%s' did not compile (%s); falling back",
               pr->name, cnt, g->nodes[nodes[0]].name, onyx_status_message(cs));
      char msg[512];
      snprintf(msg, sizeof msg, "compile failed: %s", onyx_status_message(cs));
      s = exclude(p, nodes, cnt, prov, msg, excluded);
      onyx_status_free(cs);
      *failed = true;
      goto done;
    }
    if (!(c = onyx_calloc(1, sizeof *c))) {
      if (fused.release) fused.release(fused.state);
      s = onyx_error_oom();
      goto done;
    }
    atomic_init(&c->refs, 1);
    c->prov = pr;
    c->n_nodes = cnt;
    c->nodes = sorted;
    sorted = NULL;
    c->fused = fused;
    if (reuse && (s = set_add(reuse, c))) goto done;
  }
  step *st = plan_new_step(p);
  if (!st) {
    s = onyx_error_oom();
    goto done;
  }
  st->kind = STEP_FUSED;
  st->prov = prov;
  st->node = nodes[0];
  st->n_nodes = cnt;
  st->part = c;
  c = NULL;
  st->n_in = n_in;
  st->n_out = n_out;
  if ((s = plan_set_slots(&st->in, n_in, ins)) || (s = plan_set_slots(&st->out, n_out, outs))) goto done;
  p->n_partitions++;
done:
  compiled_unref(c);
  onyx_free(ins);
  onyx_free(outs);
  onyx_free(sorted);
  return s;
}

/* Splits the run order[a..b) (one compiling provider) into connected
 * components and compiles each. */
static onyx_status *add_group_steps(onyx_plan *p, const int *order, int a, int b, uint64_t *excluded,
                                    compiled_set *reuse, bool *failed) {
  const onyx_graph *g = p->g;
  int cnt = b - a;
  int *comp = onyx_calloc((size_t)cnt + 1, sizeof *comp), *members = onyx_calloc((size_t)cnt + 1, sizeof *members);
  onyx_status *s = NULL;
  if (!comp || !members) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < cnt; i++) comp[i] = i;
  /* union-find over producer -> consumer edges inside the run */
  for (int i = 0; i < cnt; i++) {
    const onyx_node *m = &g->nodes[order[a + i]];
    for (int j = 0; j < i; j++) {
      const onyx_node *n = &g->nodes[order[a + j]];
      bool edge = false;
      for (int o = 0; o < n->n_out && !edge; o++)
        for (int k = 0; k < m->n_in && !edge; k++) edge = n->out[o] >= 0 && m->in[k] == n->out[o];
      if (!edge) continue;
      int ri = i, rj = j;
      while (comp[ri] != ri) ri = comp[ri];
      while (comp[rj] != rj) rj = comp[rj];
      if (ri != rj) comp[ri > rj ? ri : rj] = ri < rj ? ri : rj;
    }
  }
  for (int root = 0; root < cnt && !s; root++) {
    int m = 0;
    for (int i = 0; i < cnt; i++) {
      int r = i;
      while (comp[r] != r) r = comp[r];
      if (r == root) members[m++] = order[a + i];
    }
    if (m) s = add_fused_step(p, members, m, excluded, reuse, failed);
  }
done:
  onyx_free(comp);
  onyx_free(members);
  return s;
}

onyx_status *plan_build_steps(onyx_plan *p, const int *order, uint64_t *excluded, compiled_set *reuse, bool *retry) {
  int nn = p->g->n_nodes;
  onyx_status *s = NULL;
  *retry = false;
  for (int i = 0; i < nn && !s;) {
    onyx_provider *pr = p->providers[p->assign[order[i]]];
    if (!pr->iface->compile) {
      s = add_node_step(p, order[i]);
      i++;
      continue;
    }
    int j = i;
    while (j < nn && p->assign[order[j]] == p->assign[order[i]]) j++;
    bool failed = false;
    s = add_group_steps(p, order, i, j, excluded, reuse, &failed);
    if (failed) *retry = true;  /* components that compiled are kept in `reuse` */
    i = j;
  }
  return s;
}
