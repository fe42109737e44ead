/* plan.c — building a plan (assignment, order, steps, spaces and copies,
 * lifetimes, subgraph plans) with the fallback loop for failed compiles,
 * tearing it down, and what a plan tells about itself. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "plan_internal.h"

onyx_allocator *onyx_provider_allocator(onyx_provider *p) {
  onyx_allocator *a = p->iface->allocator ? p->iface->allocator(p) : NULL;
  return a ? a : &onyx_host_allocator;
}

/* ---- teardown -------------------------------------------------------------------- */

static void free_steps(onyx_plan *p) {
  for (int i = 0; i < p->n_steps; i++) {
    step *st = &p->steps[i];
    if (st->kind == STEP_NODE && st->state && st->kernel->release) st->kernel->release(st->state);
    if (st->kind == STEP_FUSED) compiled_unref(st->part);
    onyx_free(st->in);
    onyx_free(st->out);
    onyx_free(st->impl);
  }
  onyx_free(p->steps);
  p->steps = NULL;
  p->n_steps = p->cap_steps = 0;
  if (p->const_slots)
    for (int i = 0; i < p->n_slots; i++) onyx_tensor_free(p->const_slots[i]);
  onyx_free(p->const_slots);
  onyx_free(p->slot_space);
  onyx_free(p->slot_value);
  onyx_free(p->host_slot);
  onyx_free(p->producer);
  onyx_free(p->input_host_read);
  onyx_free(p->uses);
  onyx_free(p->def_step);
  onyx_free(p->last_step);
  onyx_free(p->alias);
  p->const_slots = NULL;
  p->slot_space = p->slot_value = p->host_slot = p->producer = p->uses = NULL;
  p->def_step = p->last_step = p->alias = NULL;
  p->input_host_read = NULL;
  p->n_partitions = p->n_copies = 0;
}

void onyx_plan_destroy(onyx_plan *p) {
  if (!p) return;
  plan_cache_destroy(p->cache, p);
  free_steps(p);
  for (int i = 0; i < p->n_sub; i++) onyx_plan_destroy(p->subs[i].plan);
  onyx_free(p->subs);
  for (int i = 0; p->why && i < p->g->n_nodes; i++) onyx_free(p->why[i]);
  onyx_free(p->why);
  for (int i = 0; p->fail_msg && i < p->g->n_nodes; i++) onyx_free(p->fail_msg[i]);
  onyx_free(p->fail_msg);
  onyx_free(p->assign);
  onyx_free(p);
}

/* ---- lifetimes -------------------------------------------------------------------- */

/* In-place reuse for the memory planner: the output of a step whose kernel
 * allows it (ONYX_KERNEL_IN_PLACE: elementwise, reads before writes) may
 * take the memory of an input that dies there (produced by an earlier
 * step, read only by this step, not a graph output, same dtype and space).
 * The planner honours it only when the two sizes are equal (same shape,
 * since the input broadcasts to the output). */
static onyx_status *find_aliases(onyx_plan *p) {
  const onyx_graph *g = p->g;
  p->alias = onyx_malloc(((size_t)p->n_slots + 1) * sizeof *p->alias);
  if (!p->alias) return onyx_error_oom();
  for (int v = 0; v < p->n_slots; v++) p->alias[v] = -1;
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    if (st->kind != STEP_NODE || !(st->kernel->flags & ONYX_KERNEL_IN_PLACE) || st->n_out != 1 || st->n_impl) continue;
    int y = st->out[0];
    if (y < 0 || y >= g->n_values) continue;
    for (int k = 0; k < st->n_in && k < 2; k++) {
      int x = st->in[k];
      if (x < 0 || x >= g->n_values || p->def_step[x] < 0 || p->last_step[x] != i || p->uses[x] != 1 ||
          g->values[x].dtype != g->values[y].dtype || p->slot_space[x] != p->slot_space[y])
        continue;
      p->alias[y] = x;
      break;
    }
  }
  return NULL;
}

static onyx_status *count_uses(onyx_plan *p) {
  const onyx_graph *g = p->g;
  p->uses = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->uses);
  p->def_step = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->def_step);
  p->last_step = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->last_step);
  if (!p->uses || !p->def_step || !p->last_step) return onyx_error_oom();
  for (int v = 0; v < p->n_slots; v++) p->def_step[v] = -1;
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    for (int k = 0; k < st->n_out; k++)
      if (st->out[k] >= 0) p->def_step[st->out[k]] = p->last_step[st->out[k]] = i;
    for (int k = 0; k < st->n_in + st->n_impl; k++) {
      int v = k < st->n_in ? st->in[k] : st->impl[k - st->n_in];
      if (v < 0) continue;
      p->uses[v]++;
      p->last_step[v] = i;
    }
  }
  for (int i = 0; i < g->n_outputs; i++) p->uses[g->outputs[i]]++;
  return find_aliases(p);
}

static onyx_status *add_subplans(onyx_plan *p, int ni, const onyx_plan *donor) {
  const onyx_node *n = &p->g->nodes[ni];
  for (int a = 0; a < n->n_attrs; a++) {
    const onyx_attr *at = &n->attrs[a];
    if (!at->g) continue; /* GRAPHS attributes are not used by any standard op */
    subplan *s = onyx_realloc(p->subs, (size_t)(p->n_sub + 1) * sizeof *s);
    if (!s) return onyx_error_oom();
    p->subs = s;
    s[p->n_sub] = (subplan){ni, at->name, NULL};
    p->n_sub++;
    const onyx_plan *sub_donor = NULL;
    for (int i = 0; donor && i < donor->n_sub && !sub_donor; i++)
      if (donor->subs[i].node == ni && !strcmp(donor->subs[i].attr, at->name)) sub_donor = donor->subs[i].plan;
    ONYX_TRY(onyx_plan_create(at->g, p->providers, p->n_providers, p->pool, &p->cfg, sub_donor,
                              &s[p->n_sub - 1].plan));
  }
  return NULL;
}

/* ---- building ------------------------------------------------------------------------ */

/* A device space ran out of memory copying an initializer into slot
 * `slot`: the nodes reading that copy fall back from their provider. */
static onyx_status *exclude_readers(onyx_plan *p, int slot, onyx_status *why, uint64_t *excluded) {
  const onyx_graph *g = p->g;
  char msg[512];
  snprintf(msg, sizeof msg, "copying initializer '%s' to %s failed: %s", g->values[p->slot_value[slot]].name,
           p->spaces[p->slot_space[slot]]->name, onyx_status_message(why));
  onyx_status_free(why);
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    bool reads = false;
    for (int k = 0; k < st->n_in; k++) reads |= st->in[k] == slot;
    if (!reads || st->kind == STEP_COPY) continue;
    for (int ni = 0; ni < g->n_nodes; ni++) {
      bool member = st->kind == STEP_NODE ? ni == st->node : false;
      for (int k = 0; st->kind == STEP_FUSED && k < st->part->n_nodes && !member; k++) member = st->part->nodes[k] == ni;
      if (!member) continue;
      excluded[ni] |= (uint64_t)1 << st->prov;
      onyx_free(p->fail_msg[ni]);
      if (!(p->fail_msg[ni] = onyx_strdup(msg))) return onyx_error_oom();
    }
  }
  return NULL;
}

/* One planning attempt under `excluded`; *retry when a compile (or a copy
 * of weights into a device) failed and nodes fell back. */
static onyx_status *attempt(onyx_plan *p, uint64_t *excluded, compiled_set *reuse, bool *retry) {
  int nn = p->g->n_nodes;
  ONYX_TRY(plan_assign(p, excluded));
  int *order = onyx_calloc((size_t)nn + 1, sizeof *order);
  if (!order) return onyx_error_oom();
  onyx_status *s = plan_order(p, order);
  if (!s) s = plan_build_steps(p, order, excluded, reuse, retry);
  onyx_free(order);
  if (s || *retry) return s;
  int failed = -1;
  if ((s = plan_insert_copies(p, &failed))) {
    if (onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY || failed < 0 || !p->slot_space[failed]) return s;
    *retry = true;
    return exclude_readers(p, failed, s, excluded);
  }
  return count_uses(p);
}

/* The error when compiles kept failing: names a node of a partition that
 * still failed in the last attempt. */
static onyx_status *exhausted(const onyx_plan *p) {
  for (int i = 0; i < p->g->n_nodes; i++)
    if (p->fail_msg[i])
      return onyx_error(ONYX_ERR_RUNTIME, "partition at node '%s' (%s): no provider could take it (last: %s)",
                        p->g->nodes[i].name, p->g->nodes[i].op_type, p->fail_msg[i]);
  return onyx_error(ONYX_ERR_RUNTIME, "planning did not settle after every provider fallback");
}

onyx_status *onyx_plan_create(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                              const onyx_threadpool *pool, const onyx_plan_config *cfg, const onyx_plan *donor,
                              onyx_plan **out) {
  if (n_providers < 1 || n_providers > MAX_PROVIDERS)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "between 1 and %d providers are needed", MAX_PROVIDERS);
  onyx_plan *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  p->g = g;
  p->cfg = cfg ? *cfg : (onyx_plan_config){3, true};
  p->pool = pool;
  p->providers = providers;
  p->n_providers = n_providers;
  compiled_set reuse = {0};
  onyx_status *s = NULL;
  uint64_t *excluded = onyx_calloc((size_t)g->n_nodes + 1, sizeof *excluded);
  p->assign = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->assign);
  p->why = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->why);
  p->fail_msg = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->fail_msg);
  if (!excluded || !p->assign || !p->why || !p->fail_msg) {
    s = onyx_error_oom();
    goto fail;
  }
  if ((s = plan_cache_create(&p->cache)) || (s = plan_spaces(p)) || (s = compiled_set_add_plan(&reuse, donor)))
    goto fail;
  /* each failed compile excludes one provider for some nodes: bounded */
  bool retry = true;
  for (int a = 0; a <= n_providers && retry; a++) {
    if (a) free_steps(p);
    if ((s = attempt(p, excluded, &reuse, &retry))) goto fail;
  }
  if (retry) {
    s = exhausted(p);
    goto fail;
  }
  for (int i = 0; i < g->n_nodes; i++)
    if ((s = add_subplans(p, i, donor))) goto fail;
  compiled_set_clear(&reuse);
  onyx_free(excluded);
  *out = p;
  return NULL;
fail:
  compiled_set_clear(&reuse);
  onyx_free(excluded);
  onyx_plan_destroy(p);
  return s;
}

/* ---- queries ------------------------------------------------------------------------- */

int onyx_plan_node_provider(const onyx_plan *p, int node, const char **why) {
  if (why) *why = p->why[node];
  return p->assign[node];
}

const char *onyx_plan_node_fallback(const onyx_plan *p, int node) { return p->fail_msg[node]; }

int64_t onyx_plan_arena_bytes(const onyx_plan *p) {
  int64_t m = 0;
  for (int s = 0; s < p->n_spaces; s++) {
    int64_t b = plan_cache_arena_bytes(p, s);
    if (b > m) m = b;
  }
  return m;
}

int onyx_plan_partition_count(const onyx_plan *p) { return p->n_partitions; }
int onyx_plan_copy_count(const onyx_plan *p) { return p->n_copies; }
int onyx_plan_space_count(const onyx_plan *p) { return p->n_spaces; }
onyx_allocator *onyx_plan_space(const onyx_plan *p, int i) { return i >= 0 && i < p->n_spaces ? p->spaces[i] : NULL; }

onyx_status *onyx_plan_copy_info(const onyx_plan *p, int i, onyx_plan_copy *out) {
  const onyx_graph *g = p->g;
  int k = 0;
  /* the copy steps first, then the initializer copies made at plan time */
  for (int j = 0; j < p->n_steps; j++) {
    const step *st = &p->steps[j];
    if (st->kind != STEP_COPY || k++ != i) continue;
    const onyx_value *v = &g->values[st->value];
    int64_t bytes = -1;
    if (v->kind == ONYX_KIND_TENSOR && v->rank >= 0) {
      int64_t n = 1;
      for (int d = 0; d < v->rank && n >= 0; d++) n = v->dims[d] >= 0 ? n * v->dims[d] : -1;
      if (n >= 0) bytes = (int64_t)onyx_dtype_bytes(v->dtype, n);
    }
    *out = (onyx_plan_copy){v->name, p->spaces[p->slot_space[st->in[0]]]->name,
                            p->spaces[p->slot_space[st->out[0]]]->name, bytes};
    return NULL;
  }
  for (int s = 0; p->const_slots && s < p->n_slots; s++) {
    if (!p->const_slots[s] || k++ != i) continue;
    const onyx_value *v = &g->values[p->slot_value[s]];
    *out = (onyx_plan_copy){v->name, p->spaces[0]->name, p->spaces[p->slot_space[s]]->name, (int64_t)v->init->nbytes};
    return NULL;
  }
  return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "copy %d out of range (%d)", i, k);
}
