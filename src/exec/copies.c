/* copies.c — memory spaces and the copies between them.
 *
 * Providers name their memory space by their allocator; providers naming
 * the same one share a space (two providers on one GPU), the host is space
 * 0. A step reads each input in one space: its provider's, or the host for
 * a kernel's host-placed inputs (shape tensors) and for the values a
 * node's subgraphs read. Where a value lives elsewhere, a copy step is
 * inserted before its first reader in that space into a shadow slot,
 * which later readers there share; copies of initializers are made once,
 * here, and kept in the plan (none for the initializer inputs of a
 * partition whose compile baked them in). Graph outputs get no copy steps:
 * the run delivers them where the caller asks (host by default). */
#include <string.h>

#include "base/alloc.h"
#include "plan_internal.h"

onyx_status *plan_spaces(onyx_plan *p) {
  p->n_spaces = 1;
  p->spaces[0] = &onyx_host_allocator;
  for (int k = 0; k < p->n_providers; k++) {
    onyx_allocator *a = onyx_provider_allocator(p->providers[k]);
    int s = 0;
    if (!a->host) {
      for (s = 1; s < p->n_spaces && strcmp(p->spaces[s]->name, a->name); s++) {
      }
      if (s == p->n_spaces) {
        if (s == MAX_SPACES)
          return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider %s: more than %d memory spaces", p->providers[k]->name,
                            MAX_SPACES);
        p->spaces[p->n_spaces++] = a;
      }
    }
    p->prov_space[k] = s;
  }
  return NULL;
}

int step_space(const onyx_plan *p, const step *st, int k, bool output) {
  if (st->kind == STEP_COPY) return p->slot_space[output ? st->out[0] : st->in[0]];
  if (st->kind == STEP_NODE && ((output ? st->kernel->host_out : st->kernel->host_in) >> k & 1)) return 0;
  return p->prov_space[st->prov];
}

/* The provider that performs copies into or out of device space s. */
static int space_provider(const onyx_plan *p, int s) {
  for (int k = 0; k < p->n_providers; k++)
    if (p->prov_space[k] == s) return k;
  return -1;
}

typedef struct shadow {
  int v, space, slot;
} shadow;

typedef struct copier {
  onyx_plan *p;
  int *dev;            /* per graph value: its space */
  int n_sh, cap_sh;
  shadow *sh;
  int n_slots, cap_slots;
  int *slot_space, *slot_value, *producer;
} copier;

static onyx_status *grow_slots(copier *c) {
  if (c->n_slots < c->cap_slots) return NULL;
  int cap = c->cap_slots * 2;
  int *a = onyx_realloc(c->slot_space, (size_t)cap * sizeof *a);
  if (!a) return onyx_error_oom();
  c->slot_space = a;
  if (!(a = onyx_realloc(c->slot_value, (size_t)cap * sizeof *a))) return onyx_error_oom();
  c->slot_value = a;
  if (!(a = onyx_realloc(c->producer, (size_t)cap * sizeof *a))) return onyx_error_oom();
  c->producer = a;
  c->cap_slots = cap;
  return NULL;
}

/* The slot holding value v in space `want`, adding a copy step (before the
 * step being rebuilt) when there is none yet. */
static onyx_status *slot_in(copier *c, int v, int want, int *slot) {
  onyx_plan *p = c->p;
  if (c->dev[v] == want) {
    *slot = v;
    return NULL;
  }
  for (int j = 0; j < c->n_sh; j++)
    if (c->sh[j].v == v && c->sh[j].space == want) {
      *slot = c->sh[j].slot;
      return NULL;
    }
  if (c->n_sh == c->cap_sh) {
    int cap = c->cap_sh ? c->cap_sh * 2 : 16;
    shadow *t = onyx_realloc(c->sh, (size_t)cap * sizeof *t);
    if (!t) return onyx_error_oom();
    c->sh = t;
    c->cap_sh = cap;
  }
  ONYX_TRY(grow_slots(c));
  int s = c->n_slots++;
  int via = space_provider(p, want != 0 ? want : c->dev[v]);
  c->slot_space[s] = want;
  c->slot_value[s] = v;
  c->producer[s] = via;
  c->sh[c->n_sh++] = (shadow){v, want, s};
  step *cp = plan_new_step(p);
  if (!cp) return onyx_error_oom();
  cp->kind = STEP_COPY;
  cp->prov = via;
  cp->node = -1;
  cp->value = v;
  cp->n_in = cp->n_out = 1;
  ONYX_TRY(plan_set_slots(&cp->in, 1, &v));
  ONYX_TRY(plan_set_slots(&cp->out, 1, &s));
  p->n_copies++;
  *slot = s;
  return NULL;
}

static void free_step(step *st) {
  if (st->kind == STEP_NODE && st->state && st->kernel->release) st->kernel->release(st->state);
  if (st->kind == STEP_FUSED) compiled_unref(st->part);
  onyx_free(st->in);
  onyx_free(st->out);
  onyx_free(st->impl);
}

/* Rebuilds the step list with the copies each step needs before it. */
static onyx_status *rebuild(copier *c, step *old, int n_old) {
  onyx_plan *p = c->p;
  const onyx_graph *g = p->g;
  onyx_status *s = NULL;
  for (int i = 0; i < n_old && !s; i++) {
    step *cur = &old[i];
    bool bakes = cur->kind == STEP_FUSED && cur->part->fused.bakes_constants;
    for (int k = 0; k < cur->n_in && !s; k++) {
      int v = cur->in[k];
      if (v < 0) continue;
      if (bakes && g->values[v].init) {
        cur->in[k] = -1;  /* the compile keeps its own copy */
        continue;
      }
      s = slot_in(c, v, step_space(p, cur, k, false), &cur->in[k]);
    }
    if (!s && cur->kind == STEP_NODE && g->nodes[cur->node].n_implicit) {
      const onyx_node *n = &g->nodes[cur->node];
      if (!(cur->impl = onyx_calloc((size_t)n->n_implicit + 1, sizeof *cur->impl))) s = onyx_error_oom();
      for (int k = 0; !s && k < n->n_implicit; k++) s = slot_in(c, n->implicit[k], 0, &cur->impl[k]);
      cur->n_impl = n->n_implicit;
    }
    if (s) break;
    step *st = plan_new_step(p);
    if (!st) {
      s = onyx_error_oom();
      break;
    }
    *st = *cur;
    memset(cur, 0, sizeof *cur);  /* moved */
  }
  for (int i = 0; i < n_old; i++) free_step(&old[i]);
  return s;
}

/* Copies of initializers are made once, here; their steps are dropped.
 * On failure *failed is the slot that could not be filled. */
static onyx_status *precopy_constants(onyx_plan *p, int *failed) {
  const onyx_graph *g = p->g;
  p->const_slots = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->const_slots);
  if (!p->const_slots) return onyx_error_oom();
  int w = 0;
  for (int i = 0; i < p->n_steps; i++) {
    step *st = &p->steps[i];
    if (st->kind == STEP_COPY && g->values[st->in[0]].init) {
      int to = p->slot_space[st->out[0]];
      onyx_status *s = onyx_tensor_clone_to(g->values[st->in[0]].init, to ? p->spaces[to] : NULL,
                                            &p->const_slots[st->out[0]]);
      if (s) {
        *failed = st->out[0];
        /* the rest of the list is still valid for free_steps */
        for (int j = i; j < p->n_steps; j++) p->steps[w++] = p->steps[j];
        p->n_steps = w;
        return s;
      }
      p->producer[st->out[0]] = -1;
      onyx_free(st->in);
      onyx_free(st->out);
      continue;
    }
    p->steps[w++] = *st;
  }
  p->n_steps = w;
  return NULL;
}

onyx_status *plan_insert_copies(onyx_plan *p, int *failed_slot) {
  const onyx_graph *g = p->g;
  int nv = g->n_values;
  copier c = {p, NULL, 0, 0, NULL, nv, nv + 16, NULL, NULL, NULL};
  onyx_status *s = NULL;
  c.dev = onyx_calloc((size_t)nv + 1, sizeof *c.dev);
  c.slot_space = onyx_calloc((size_t)c.cap_slots, sizeof *c.slot_space);
  c.slot_value = onyx_calloc((size_t)c.cap_slots, sizeof *c.slot_value);
  c.producer = onyx_calloc((size_t)c.cap_slots, sizeof *c.producer);
  if (!c.dev || !c.slot_space || !c.slot_value || !c.producer) {
    s = onyx_error_oom();
    goto done;
  }
  for (int v = 0; v < nv; v++) {
    c.slot_value[v] = v;
    c.producer[v] = -1;
  }
  for (int i = 0; i < p->n_steps; i++)
    for (int o = 0; o < p->steps[i].n_out; o++) {
      int v = p->steps[i].out[o];
      if (v < 0) continue;
      c.dev[v] = c.slot_space[v] = step_space(p, &p->steps[i], o, true);
      c.producer[v] = p->steps[i].prov;
    }
  step *old = p->steps;
  int n_old = p->n_steps;
  p->steps = NULL;
  p->n_steps = p->cap_steps = 0;
  s = rebuild(&c, old, n_old);
  onyx_free(old);
  p->slot_space = c.slot_space;
  p->slot_value = c.slot_value;
  p->producer = c.producer;
  p->n_slots = c.n_slots;
  c.slot_space = c.slot_value = c.producer = NULL;
  if (s) goto done;
  if (!(p->host_slot = onyx_malloc((size_t)nv * sizeof *p->host_slot + 1))) {
    s = onyx_error_oom();
    goto done;
  }
  for (int v = 0; v < nv; v++) p->host_slot[v] = c.dev[v] == 0 ? v : -1;
  for (int j = 0; j < c.n_sh; j++)
    if (c.sh[j].space == 0) p->host_slot[c.sh[j].v] = c.sh[j].slot;
  if (!(p->input_host_read = onyx_calloc((size_t)g->n_inputs + 1, sizeof *p->input_host_read))) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    for (int k = 0; k < st->n_in + st->n_impl; k++) {
      int slot = k < st->n_in ? st->in[k] : st->impl[k - st->n_in];
      if (slot < 0 || slot >= nv || !g->values[slot].is_input || st->kind == STEP_COPY) continue;
      for (int j = 0; j < g->n_inputs; j++)
        if (g->inputs[j] == slot) p->input_host_read[j] = true;
    }
  }
  s = precopy_constants(p, failed_slot);
done:
  onyx_free(c.dev);
  onyx_free(c.sh);
  onyx_free(c.slot_space);
  onyx_free(c.slot_value);
  onyx_free(c.producer);
  return s;
}
