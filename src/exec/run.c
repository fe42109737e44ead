/* run.c — running a plan: frames, steps, synchronisation, outputs.
 *
 * A frame holds one run of one (sub)graph: a tensor per slot, a header per
 * slot for the values the run makes (so steps allocate no headers), use
 * counts, and at the top level the arenas of the input signature's planned
 * layout. Frames come from the plan's cache and go back to it, so a
 * steady-state run allocates nothing but what kernels allocate themselves.
 *
 * Providers' run states (run_begin) are made at a provider's first step
 * and shared by the run's subgraph frames. The executor syncs a provider
 * only where its work must be complete: before another provider reads
 * what it produced, before another provider takes over its memory space,
 * before outputs are delivered, and before memory in-flight work may read
 * is released (unless the allocator frees in stream order); then run_end.
 * A provider error with ONYX_ERR_DEVICE is reported in
 * onyx_run_ctx.failed_provider so the session can re-plan without it. */
#include <string.h>

#include "base/alloc.h"
#include "plan_internal.h"
#include "providers/cpu/cpu.h"

/* A free that must wait for a provider's sync. */
typedef struct deferred {
  onyx_allocator *a;
  void *ptr;
  size_t n;
  int prov;
} deferred;

/* A profiling event timed with device marks, resolved after the sync. */
typedef struct pending_mark {
  int event, prov;
  int64_t begin, end;
} pending_mark;

/* What a run's frames share. */
typedef struct run_shared {
  onyx_run_ctx *rc;           /* never NULL (a local one when the caller gave none) */
  const onyx_plan *top;
  void **rs;                  /* per provider: run state */
  bool *begun, *dirty;        /* per provider */
  int *last_prov;             /* per space: the provider that last ran there, -1 */
  int n_def, cap_def;
  deferred *def;
  int n_marks, cap_marks;
  pending_mark *marks;
} run_shared;

typedef struct frame {
  const onyx_plan *plan;
  struct frame *parent;
  run_shared *sh;
  onyx_tensor **slots;
  onyx_tensor *hdrs;          /* per slot: header for the value this run makes */
  bool *owned;                /* slots[v] is hdrs[v], made by this run */
  int *remaining;
  int64_t *rec;               /* top level without a layout: sizes placed by the executor */
  frame_arenas fa;            /* top level: planned layouts and arenas */
  const step *cur;            /* the step running (for the kernel services) */
  void *block;
} frame;

static const onyx_kernel_services services;

/* ---- providers' run states and syncs ---------------------------------------------- */

static onyx_status *begin(run_shared *sh, int k) {
  if (sh->begun[k]) return NULL;
  onyx_provider *pr = sh->top->providers[k];
  sh->rs[k] = NULL;
  if (pr->iface->run_begin) {
    onyx_status *s = pr->iface->run_begin(pr, sh->rc->run_cfg, &sh->rs[k]);
    if (s && onyx_status_code(s) == ONYX_ERR_DEVICE && sh->rc->failed_provider < 0) sh->rc->failed_provider = k;
    if (s) return onyx_error_wrap(s, "provider %s: run_begin", pr->name);
  }
  sh->begun[k] = true;
  return NULL;
}

static void flush_deferred(run_shared *sh, int k) {
  int w = 0;
  for (int i = 0; i < sh->n_def; i++) {
    deferred *d = &sh->def[i];
    if (d->prov == k || k < 0) onyx_allocator_free(d->a, d->ptr, d->n, NULL);
    else sh->def[w++] = *d;
  }
  sh->n_def = w;
}

/* Waits for provider k's queued work; marks the failing provider. */
static onyx_status *sync_prov(run_shared *sh, int k) {
  if (k < 0 || !sh->begun[k] || !sh->dirty[k]) return NULL;
  onyx_provider *pr = sh->top->providers[k];
  onyx_status *s = pr->iface->sync(pr, sh->rs[k]);
  sh->dirty[k] = false;
  flush_deferred(sh, k);
  if (s) {
    if (onyx_status_code(s) == ONYX_ERR_DEVICE && sh->rc->failed_provider < 0) sh->rc->failed_provider = k;
    s = onyx_error_wrap(s, "provider %s", pr->name);
  }
  return s;
}

static onyx_status *sync_all(run_shared *sh) {
  onyx_status *first = NULL;
  for (int k = 0; k < sh->top->n_providers; k++) {
    onyx_status *s = sync_prov(sh, k);
    if (s && !first) first = s;
    else onyx_status_free(s);
  }
  return first;
}

/* ---- slots ----------------------------------------------------------------------------- */

static void release(frame *f, int v) {
  onyx_tensor *t = f->slots[v];
  f->slots[v] = NULL;
  if (!f->owned[v]) return;
  f->owned[v] = false;
  run_shared *sh = f->sh;
  sh->rc->live_bytes -= (int64_t)t->nbytes;
  if (t->data && t->owns_data && !onyx_tensor_on_host(t)) {
    /* device memory: in-flight work on its space may still read it */
    int space = f->plan->slot_space[v], k = sh->last_prov[space];
    onyx_allocator *a = t->alloc;
    if (k >= 0 && sh->dirty[k] && !onyx_allocator_frees_in_order(a)) {
      if (sh->n_def == sh->cap_def) {
        int cap = sh->cap_def ? sh->cap_def * 2 : 16;
        deferred *d = onyx_realloc(sh->def, (size_t)cap * sizeof *d);
        if (d) {
          sh->def = d;
          sh->cap_def = cap;
        }
      }
      if (sh->n_def < sh->cap_def) {
        sh->def[sh->n_def++] = (deferred){a, t->data, t->nbytes, k};
        t->owns_data = false;
      } else {
        onyx_status_free(sync_prov(sh, k));  /* no room to wait: wait now */
      }
    }
    if (t->owns_data) onyx_allocator_free(a, t->data, t->nbytes, k >= 0 && sh->begun[k] ? sh->rs[k] : NULL);
    t->owns_data = false;
  }
  onyx_tensor_clear(t);
}

/* Marks slot v's header as made by this run (after a step filled it). */
static void store(frame *f, int v) {
  onyx_run_ctx *rc = f->sh->rc;
  f->slots[v] = &f->hdrs[v];
  f->owned[v] = true;
  rc->live_bytes += (int64_t)f->hdrs[v].nbytes;
  rc->total_bytes += (int64_t)f->hdrs[v].nbytes;
  if (rc->live_bytes > rc->peak_bytes) rc->peak_bytes = rc->live_bytes;
}

/* A fresh header for slot v in its space. */
static onyx_tensor *header(frame *f, int v, onyx_dtype dtype, onyx_kind kind) {
  onyx_tensor *t = &f->hdrs[v];
  memset(t, 0, sizeof *t);
  t->dtype = dtype;
  t->kind = kind;
  int s = f->plan->slot_space[v];
  t->alloc = s ? f->plan->spaces[s] : NULL;
  return t;
}

/* The graph output index of top-level slot v, or -1. */
static int output_index(const frame *f, int v) {
  const onyx_graph *g = f->plan->g;
  if (f->parent || v >= g->n_values || !g->values[v].is_output) return -1;
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return i;
  return -1;
}

static bool same_shape(const onyx_tensor *t, int rank, const int64_t *dims) {
  return t->rank == rank && !memcmp(t->dims, dims, (size_t)rank * sizeof *dims);
}

/* Gives output slot `slot` (header t, no data yet) its memory for shape
 * (rank, dims): the caller's bound tensor when it fits, its planned place
 * in the run's arena, else its space's allocator (recording the size so the
 * first run's sizes can be planned). */
static onyx_status *place(frame *f, int slot, onyx_tensor *t, int rank, const int64_t *dims) {
  if (rank < 0 || rank > ONYX_MAX_RANK) return onyx_error(ONYX_ERR_RUNTIME, "rank %d out of range", rank);
  for (int d = 0; d < rank; d++)
    if (dims[d] < 0) return onyx_error(ONYX_ERR_RUNTIME, "negative dim %lld", (long long)dims[d]);
  /* a shape computed from input data (Expand, Tile, ConstantOfShape...) may
   * be hostile: refused before its byte count is compared with a slot */
  if (!onyx_dims_fit(rank, dims))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "an output shape computed at run time has more elements than "
                      "onyx can hold (over %lld)", (long long)ONYX_MAX_NUMEL);
  t->rank = rank;
  if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
  if (!f || slot < 0 || t->dtype == ONYX_DTYPE_STRING || t->kind != ONYX_KIND_TENSOR)
    return onyx_tensor_alloc(t, rank, NULL);
  size_t need = onyx_dtype_bytes(t->dtype, onyx_numel(rank, dims));
  int oi = output_index(f, slot);
  const onyx_output_dest *d = oi >= 0 && f->sh->rc->dest ? &f->sh->rc->dest[oi] : NULL;
  if (d && d->into && d->into->dtype == t->dtype && d->into->kind == ONYX_KIND_TENSOR &&
      onyx_tensor_allocator(d->into) == onyx_tensor_allocator(t) && same_shape(d->into, rank, dims) && d->into->data) {
    t->data = d->into->data;   /* written in place: no copy at the end */
    t->nbytes = need;
    t->owns_data = false;
    return NULL;
  }
  int s = f->plan->slot_space[slot];
  const onyx_memlayout *l = f->fa.layout[s];
  if (l && l->offset[slot] >= 0 && (int64_t)need <= l->size[slot]) {
    t->data = (char *)f->fa.arena[s] + l->offset[slot];
    t->nbytes = need;
    t->owns_data = false;
    return NULL;
  }
  if (f->rec) f->rec[slot] = (int64_t)need;
  /* ordered on the queue of the step that fills it, where the space allows */
  int k = f->cur ? f->cur->prov : -1;
  void *rs = k >= 0 && f->plan->prov_space[k] == s && f->sh->begun[k] ? f->sh->rs[k] : NULL;
  return onyx_tensor_alloc_async(t, rank, NULL, rs);
}

/* ---- profiling ---------------------------------------------------------------------------- */

/* Appends a profiling event; on allocation failure the event is dropped
 * (profiling must not fail a run). Returns its index or -1. */
static int record_event(onyx_run_ctx *rc, const onyx_node *n, const char *prov, int n_nodes, int64_t t0, int64_t dur) {
  if (rc->n_events == rc->cap_events) {
    int cap = rc->cap_events ? rc->cap_events * 2 : 256;
    onyx_prof_event *e = onyx_realloc(rc->events, (size_t)cap * sizeof *e);
    if (!e) return -1;
    rc->events = e;
    rc->cap_events = cap;
  }
  rc->events[rc->n_events] = (onyx_prof_event){n, prov, n_nodes, t0, dur, false};
  return rc->n_events++;
}

static void add_mark(run_shared *sh, int event, int prov, int64_t b, int64_t e) {
  if (event < 0 || b < 0 || e < 0) return;
  if (sh->n_marks == sh->cap_marks) {
    int cap = sh->cap_marks ? sh->cap_marks * 2 : 64;
    pending_mark *m = onyx_realloc(sh->marks, (size_t)cap * sizeof *m);
    if (!m) return;
    sh->marks = m;
    sh->cap_marks = cap;
  }
  sh->marks[sh->n_marks++] = (pending_mark){event, prov, b, e};
}

/* After the final sync: device times replace the host times of marked events. */
static void resolve_marks(run_shared *sh) {
  for (int i = 0; i < sh->n_marks; i++) {
    pending_mark *m = &sh->marks[i];
    onyx_provider *pr = sh->top->providers[m->prov];
    int64_t b = pr->iface->mark_time(pr, sh->rs[m->prov], m->begin);
    int64_t e = pr->iface->mark_time(pr, sh->rs[m->prov], m->end);
    if (b < 0 || e < b) continue;
    onyx_prof_event *ev = &sh->rc->events[m->event];
    ev->start_ns = b;
    ev->dur_ns = e - b;
    ev->device = true;
  }
  sh->n_marks = 0;
}

/* ---- steps ---------------------------------------------------------------------------------- */

static void vinfo_of(const onyx_tensor *t, onyx_vinfo *v) {
  memset(v, 0, sizeof *v);
  if (!t) {
    v->rank = -1;
    return;
  }
  v->kind = t->kind;
  v->dtype = t->dtype;
  v->rank = t->kind == ONYX_KIND_TENSOR ? t->rank : -1;
  if (v->rank > 0) memcpy(v->dims, t->dims, (size_t)t->rank * sizeof t->dims[0]);
  v->value = onyx_tensor_on_host(t) ? t : NULL;   /* infer functions read host values only */
}

static onyx_status *label_error(onyx_status *s, const onyx_node *n) {
  if (s && onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY && !strstr(onyx_status_message(s), n->op_type)) {
    char lbl[256];
    s = onyx_error_wrap(s, "%s", onyx_node_label(n, lbl, sizeof lbl));
  }
  return s;
}

/* Runs kernel k on node n: sizes the outputs with the op's infer function,
 * sets up their headers out[i] (frame headers, or new tensors without a
 * frame) placed where the size is known, runs, and checks the kernel
 * allocated the rest. On failure the outputs hold nothing. */
static onyx_status *invoke(frame *f, const onyx_kernel *k, const void *state, onyx_provider *pr, void *rs,
                           const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in, onyx_tensor **out,
                           const int *out_slot, const onyx_threadpool *pool) {
  onyx_vinfo vin_buf[16], vout_buf[16];
  onyx_vinfo *vin = vin_buf, *vout = vout_buf;
  onyx_status *s = NULL;
  bool heap = n->n_in > 16 || n->n_out > 16;
  for (int i = 0; i < n->n_out; i++) out[i] = NULL;
  if (heap) {
    vin = onyx_calloc((size_t)n->n_in + 1, sizeof *vin);
    vout = onyx_calloc((size_t)n->n_out + 1, sizeof *vout);
    if (!vin || !vout) {
      s = onyx_error_oom();
      goto done;
    }
  }
  for (int i = 0; i < n->n_in; i++) vinfo_of(in[i], &vin[i]);
  for (int i = 0; i < n->n_out; i++) {
    memset(&vout[i], 0, sizeof vout[i]);
    vout[i].rank = -1;
  }
  onyx_infer_ctx ic = {n, g->model, vin, vout};
  if ((s = onyx_op_schemas[n->op].infer(&ic))) goto done;
  for (int i = 0; i < n->n_out; i++) {
    if (n->out[i] < 0) continue;
    if (f) {
      out[i] = header(f, out_slot[i], vout[i].dtype, vout[i].kind);
    } else {
      if ((s = onyx_tensor_new_empty(vout[i].dtype, 0, NULL, &out[i]))) goto done;
      out[i]->kind = vout[i].kind;
    }
    if (vout[i].kind != ONYX_KIND_TENSOR || !onyx_vinfo_static(&vout[i]) || vout[i].dtype == ONYX_DTYPE_UNDEFINED)
      continue; /* the kernel sizes it */
    if ((s = place(f, f ? out_slot[i] : -1, out[i], vout[i].rank, vout[i].dims))) goto done;
  }
  onyx_kernel_ctx c = {n, n->n_in, n->n_out, in, out, state, pool, pr, rs, &services, f};
  if ((s = k->run(&c))) goto done;
  for (int i = 0; i < n->n_out; i++)
    if (out[i] && out[i]->kind == ONYX_KIND_TENSOR && !out[i]->data) {
      s = onyx_node_error(n, ONYX_ERR_RUNTIME, "kernel left output '%s' unallocated", g->values[n->out[i]].name);
      goto done;
    }
done:
  if (s)
    for (int i = 0; i < n->n_out; i++) {
      if (!out[i]) continue;
      if (f) onyx_tensor_clear(out[i]);
      else onyx_tensor_free(out[i]);
      out[i] = NULL;
    }
  if (heap) {
    onyx_free(vin);
    onyx_free(vout);
  }
  return label_error(s, n);
}

static onyx_status *run_fused(frame *f, const step *st, onyx_provider *pr, void *rs, onyx_tensor *const *in,
                              onyx_tensor **out) {
  const onyx_graph *g = f->plan->g;
  const onyx_node *n = &g->nodes[st->node];
  for (int k = 0; k < st->n_out; k++) out[k] = header(f, st->out[k], g->values[st->out[k]].dtype, ONYX_KIND_TENSOR);
  onyx_kernel_ctx c = {n, st->n_in, st->n_out, in, out, st->part->fused.state, f->plan->pool, pr, rs, &services, f};
  onyx_status *s = st->part->fused.run(&c);
  for (int k = 0; !s && k < st->n_out; k++)
    if (!out[k]->data && out[k]->kind == ONYX_KIND_TENSOR)
      s = onyx_error(ONYX_ERR_RUNTIME, "partition left output '%s' unset", g->values[st->out[k]].name);
  if (s) {
    for (int k = 0; k < st->n_out; k++) onyx_tensor_clear(out[k]);
    s = onyx_error_wrap(s, "provider %s, partition of %d nodes at node '%s'", pr->name, st->n_nodes, n->name);
  }
  return s;
}

static onyx_status *run_copy(frame *f, const step *st, void *rs, onyx_tensor **out) {
  const onyx_plan *p = f->plan;
  const onyx_tensor *src = f->slots[st->in[0]];
  int to = p->slot_space[st->out[0]];
  if (onyx_tensor_allocator(src) == p->spaces[to]) {
    out[0] = NULL;  /* already there (a caller's tensor on the device): no copy */
    return NULL;
  }
  onyx_status *s = NULL;
  if (src->kind != ONYX_KIND_TENSOR || src->dtype == ONYX_DTYPE_STRING)
    s = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s values stay on the host",
                   src->kind != ONYX_KIND_TENSOR ? "sequence and optional" : "string");
  onyx_tensor *t = header(f, st->out[0], src->dtype, src->kind);
  if (!s) s = place(f, st->out[0], t, src->rank, src->dims);
  if (!s) s = onyx_tensor_copy_data(t, src, rs);
  if (s) {
    onyx_tensor_clear(t);
    return onyx_error_wrap(s, "copying '%s' from %s to %s", p->g->values[st->value].name,
                           onyx_tensor_allocator(src)->name, p->spaces[to]->name);
  }
  out[0] = t;
  return NULL;
}

/* Shows a top-level step's outputs to the observer, in host memory. */
static onyx_status *observe(frame *f, const step *st) {
  onyx_run_ctx *rc = f->sh->rc;
  for (int k = 0; k < st->n_out; k++) {
    int v = st->out[k];
    if (v < 0 || !f->slots[v]) continue;
    if (onyx_tensor_on_host(f->slots[v])) {
      ONYX_TRY(rc->observe(rc->observe_arg, v, f->slots[v]));
      continue;
    }
    onyx_tensor *h = NULL;
    ONYX_TRY(sync_prov(f->sh, st->prov));
    ONYX_TRY(onyx_tensor_clone_to(f->slots[v], NULL, &h));
    onyx_status *s = rc->observe(rc->observe_arg, v, h);
    onyx_tensor_free(h);
    ONYX_TRY(s);
  }
  return NULL;
}

/* Syncs what step st (on provider P) must see complete: the producers of
 * its inputs on other providers, and another provider that last used the
 * same memory space. */
static onyx_status *sync_before(frame *f, const step *st) {
  const onyx_plan *p = f->plan;
  run_shared *sh = f->sh;
  int P = st->prov;
  for (int k = 0; k < st->n_in + st->n_impl; k++) {
    int v = k < st->n_in ? st->in[k] : st->impl[k - st->n_in];
    if (v >= 0 && p->producer[v] >= 0 && p->producer[v] != P) ONYX_TRY(sync_prov(sh, p->producer[v]));
  }
  int space = p->prov_space[P], last = space ? sh->last_prov[space] : -1;
  if (last >= 0 && last != P) ONYX_TRY(sync_prov(sh, last));
  return NULL;
}

static onyx_status *run_step(frame *f, const step *st) {
  const onyx_plan *p = f->plan;
  const onyx_graph *g = p->g;
  run_shared *sh = f->sh;
  onyx_run_ctx *rc = sh->rc;
  int P = st->prov;
  onyx_provider *pr = p->providers[P];
  onyx_tensor *in_buf[16], *out_buf[16];
  onyx_tensor **in = in_buf, **out = out_buf;
  onyx_status *s = NULL;
  bool heap = st->n_in > 16 || st->n_out > 16;
  if (rc->terminate && atomic_load(rc->terminate))
    return onyx_error(ONYX_ERR_CANCELLED, "run cancelled: the run options' terminate flag is set");
  if (heap) {
    in = onyx_calloc((size_t)st->n_in + 1, sizeof *in);
    out = onyx_calloc((size_t)st->n_out + 1, sizeof *out);
    if (!in || !out) {
      s = onyx_error_oom();
      goto done;
    }
  }
  if ((s = begin(sh, P)) || (s = sync_before(f, st))) goto done;
  for (int k = 0; k < st->n_in; k++) in[k] = st->in[k] >= 0 ? f->slots[st->in[k]] : NULL;
  const onyx_node *n = st->node >= 0 ? &g->nodes[st->node] : NULL;
  bool timed = rc->profile && n;
  bool marks = timed && pr->iface->mark && pr->iface->mark_time;
  int64_t t0 = timed ? onyx_now_ns() : 0, mb = marks ? pr->iface->mark(pr, sh->rs[P]) : -1;
  f->cur = st;
  switch (st->kind) {
    case STEP_NODE:
      s = invoke(f, st->kernel, st->state, pr, sh->rs[P], g, n, in, out, st->out, p->pool);
      break;
    case STEP_FUSED:
      s = run_fused(f, st, pr, sh->rs[P], in, out);
      break;
    case STEP_COPY:
      s = run_copy(f, st, sh->rs[P], out);
      if (!s && !out[0]) {  /* aliased: the slot borrows the source */
        f->slots[st->out[0]] = f->slots[st->in[0]];
        f->owned[st->out[0]] = false;
      }
      break;
  }
  f->cur = NULL;
  if (s && onyx_status_code(s) == ONYX_ERR_DEVICE && rc->failed_provider < 0) rc->failed_provider = P;
  if (s) goto done;
  if (pr->iface->sync) sh->dirty[P] = true;
  if (p->prov_space[P]) sh->last_prov[p->prov_space[P]] = P;
  if (timed) {
    int ev = record_event(rc, n, pr->name, st->kind == STEP_FUSED ? st->n_nodes : 1, t0, onyx_now_ns() - t0);
    if (marks) add_mark(sh, ev, P, mb, pr->iface->mark(pr, sh->rs[P]));
  }
  for (int k = 0; k < st->n_out; k++)
    if (st->out[k] >= 0 && out[k]) store(f, st->out[k]);
  if (rc->observe && !f->parent && st->kind != STEP_COPY) s = observe(f, st);
  for (int k = 0; !s && k < st->n_in + st->n_impl; k++) {
    int v = k < st->n_in ? st->in[k] : st->impl[k - st->n_in];
    if (v >= 0 && --f->remaining[v] == 0) release(f, v);
  }
done:
  if (heap) {
    onyx_free(in);
    onyx_free(out);
  }
  return s;
}

/* ---- kernel services ---------------------------------------------------------------------------- */

static onyx_status *svc_alloc_output(onyx_kernel_ctx *c, int i, int rank, const int64_t *dims) {
  frame *f = c->frame;
  if (i < 0 || i >= c->n_out || !c->out[i]) return onyx_error(ONYX_ERR_RUNTIME, "output %d does not exist", i);
  if (c->out[i]->data) return onyx_error(ONYX_ERR_RUNTIME, "output %d is already allocated", i);
  return place(f, f && f->cur ? f->cur->out[i] : -1, c->out[i], rank, dims);
}

static onyx_status *run_frame(const onyx_plan *p, frame *parent, run_shared *sh, onyx_tensor *const *inputs,
                              onyx_tensor **outputs);

static onyx_status *svc_run_subgraph(onyx_kernel_ctx *c, const char *attr, onyx_tensor *const *inputs,
                                     onyx_tensor **outputs) {
  frame *f = c->frame;
  if (!f) return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "running subgraph '%s' outside a run", attr);
  const onyx_plan *p = f->plan;
  int ni = (int)(c->node - p->g->nodes);
  for (int i = 0; i < p->n_sub; i++)
    if (p->subs[i].node == ni && !strcmp(p->subs[i].attr, attr)) return run_frame(p->subs[i].plan, f, f->sh, inputs, outputs);
  return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "no plan for subgraph '%s'", attr);
}

static const onyx_kernel_services services = {svc_alloc_output, svc_run_subgraph};

/* ---- frames ------------------------------------------------------------------------------------ */

/* The frame block: slots, headers, flags and counters of one run of p (and
 * at the top level the shared run state), laid out in one allocation. */
typedef struct block_layout {
  size_t slots, hdrs, owned, remaining, rec, rs, begun, dirty, last_prov, total;
} block_layout;

static size_t up(size_t o, size_t a) { return (o + a - 1) / a * a; }

static block_layout layout_of(const onyx_plan *p, bool top) {
  block_layout b;
  size_t n = (size_t)p->n_slots, np = (size_t)p->n_providers, o = 0;
  b.slots = o;
  o = up(o + n * sizeof(onyx_tensor *), 64);
  b.hdrs = o;
  o = up(o + n * sizeof(onyx_tensor), 64);
  b.remaining = o;
  o = up(o + n * sizeof(int), 8);
  b.rec = o;
  o = up(o + (top ? n * sizeof(int64_t) : 0), 8);
  b.rs = o;
  o = up(o + (top ? np * sizeof(void *) : 0), 8);
  b.last_prov = o;
  o = up(o + (top ? MAX_SPACES * sizeof(int) : 0), 8);
  b.owned = o;
  o += n;
  b.begun = o;
  o += top ? np : 0;
  b.dirty = o;
  o += top ? np : 0;
  b.total = o + 1;
  return b;
}

/* Finds an outer-scope value by name in the enclosing frames, on the host. */
static onyx_tensor *lookup_outer(frame *f, const char *name) {
  for (; f; f = f->parent) {
    int v = onyx_graph_find(f->plan->g, name);
    int slot = v >= 0 ? f->plan->host_slot[v] : -1;
    if (slot >= 0 && f->slots[slot]) return f->slots[slot];
  }
  return NULL;
}

/* Input-shape signature: dtypes and dims of every graph input. */
static uint64_t signature(const onyx_graph *g, onyx_tensor *const *inputs) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < g->n_inputs; i++) {
    const onyx_tensor *t = inputs[i];
    uint64_t parts[2] = {t ? (uint64_t)t->dtype : 0, t ? (uint64_t)t->rank : 0};
    for (int k = 0; k < 2; k++) h = (h ^ parts[k]) * 1099511628211ull;
    for (int d = 0; t && d < t->rank; d++) h = (h ^ (uint64_t)t->dims[d]) * 1099511628211ull;
  }
  return h;
}

/* Feeds graph inputs: borrowed, or cloned to the host when a step reads
 * the input on the host but the caller's tensor is on a device. */
static onyx_status *feed_inputs(frame *f, onyx_tensor *const *inputs) {
  const onyx_graph *g = f->plan->g;
  for (int i = 0; i < g->n_inputs; i++) {
    int v = g->inputs[i];
    onyx_tensor *t = inputs[i];
    f->slots[v] = t;
    if (!t || onyx_tensor_on_host(t) || !f->plan->input_host_read[i]) continue;
    onyx_tensor *h;
    ONYX_TRY(onyx_tensor_clone_to(t, NULL, &h));
    f->hdrs[v] = *h;
    onyx_free(h);
    store(f, v);
  }
  return NULL;
}

/* Hands graph output i (slot v) to the caller as the run context says. */
static onyx_status *deliver(frame *f, int i, onyx_tensor **result) {
  const onyx_graph *g = f->plan->g;
  int v = g->outputs[i];
  onyx_tensor *t = f->slots[v];
  *result = NULL;
  if (!t) return onyx_error(ONYX_ERR_RUNTIME, "graph output '%s' was not computed", g->values[v].name);
  const onyx_output_dest *d = !f->parent && f->sh->rc->dest ? &f->sh->rc->dest[i] : NULL;
  if (d && d->skip) {
    f->remaining[v]--;
    return NULL;
  }
  onyx_allocator *want = d && d->space ? d->space : &onyx_host_allocator;
  if (d && d->into) {
    onyx_tensor *into = d->into;
    if (into->kind == ONYX_KIND_TENSOR && t->kind == ONYX_KIND_TENSOR && into->dtype == t->dtype &&
        same_shape(into, t->rank, t->dims)) {
      f->remaining[v]--;
      return into->data == t->data ? NULL : onyx_tensor_copy_data(into, t, NULL);
    }
    if (d->strict) {
      char a[160], b[160];
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "output '%s' is bound to a %s %s tensor; the run made %s %s",
                        g->values[v].name, onyx_dtype_name(into->dtype), onyx_shape_str(into->rank, into->dims, a, sizeof a),
                        onyx_dtype_name(t->dtype), onyx_shape_str(t->rank, t->dims, b, sizeof b));
    }
  }
  if (f->owned[v] && f->remaining[v] == 1 && (t->owns_data || !t->data) && onyx_tensor_allocator(t) == want) {
    onyx_tensor *h = onyx_malloc(sizeof *h);   /* hand over without copying */
    if (!h) return onyx_error_oom();
    *h = *t;
    memset(t, 0, sizeof *t);
    f->sh->rc->live_bytes -= (int64_t)h->nbytes;
    f->slots[v] = NULL;
    f->owned[v] = false;
    *result = h;
    return NULL;
  }
  ONYX_TRY(onyx_tensor_clone_to(t, want, result));
  f->remaining[v]--;
  return NULL;
}

static onyx_status *run_frame(const onyx_plan *p, frame *parent, run_shared *shared, onyx_tensor *const *inputs,
                              onyx_tensor **outputs) {
  const onyx_graph *g = p->g;
  int ns = p->n_slots;
  bool top = !parent;
  block_layout bl = layout_of(p, top);
  frame f = {p, parent, shared, NULL, NULL, NULL, NULL, NULL, {{NULL}, {NULL}, NULL}, NULL, NULL};
  run_shared sh_local;
  onyx_status *s = NULL;
  bool planned = false;
  uint64_t sig = 0;   /* the top level's input-shape signature */
  char *blk = plan_cache_take_block(p, bl.total);
  onyx_tensor **res = g->n_outputs <= 16 ? NULL : onyx_calloc((size_t)g->n_outputs, sizeof *res);
  onyx_tensor *res_buf[16];
  if (!res) res = res_buf;
  if (!blk || (g->n_outputs > 16 && res == res_buf)) {
    plan_cache_give_block(p, blk);
    if (res != res_buf) onyx_free(res);
    return onyx_error_oom();
  }
  f.block = blk;
  f.slots = (onyx_tensor **)(blk + bl.slots);
  f.hdrs = (onyx_tensor *)(blk + bl.hdrs);
  f.owned = (bool *)(blk + bl.owned);
  f.remaining = (int *)(blk + bl.remaining);
  memset(f.slots, 0, (size_t)ns * sizeof *f.slots);
  memset(f.owned, 0, (size_t)ns);
  memcpy(f.remaining, p->uses, (size_t)ns * sizeof *f.remaining);
  for (int i = 0; i < g->n_outputs; i++) res[i] = NULL;
  if (top) {
    memset(&sh_local, 0, sizeof sh_local);
    sh_local.rc = shared->rc;
    sh_local.top = p;
    sh_local.rs = (void **)(blk + bl.rs);
    sh_local.begun = (bool *)(blk + bl.begun);
    sh_local.dirty = (bool *)(blk + bl.dirty);
    sh_local.last_prov = (int *)(blk + bl.last_prov);
    memset(sh_local.begun, 0, (size_t)p->n_providers);
    memset(sh_local.dirty, 0, (size_t)p->n_providers);
    for (int k = 0; k < MAX_SPACES; k++) sh_local.last_prov[k] = -1;
    f.sh = &sh_local;
    sig = signature(g, inputs);
    if ((s = plan_cache_take_arenas(p, sig, &f.fa, &planned))) goto done;
    if (!planned) {
      f.rec = (int64_t *)(blk + bl.rec);
      for (int v = 0; v < ns; v++) f.rec[v] = -1;
    }
  }
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    if (val->init) f.slots[v] = val->init;
    else if (val->is_outer) f.slots[v] = lookup_outer(parent, val->name);
  }
  for (int v = g->n_values; v < ns; v++) f.slots[v] = p->const_slots[v];
  if (inputs && (s = feed_inputs(&f, inputs))) goto done;
  for (int i = 0; i < p->n_steps && !s; i++) s = run_step(&f, &p->steps[i]);
  /* outputs: everything queued must be complete before the host reads it */
  if (!s) s = sync_all(f.sh);
  for (int i = 0; i < g->n_outputs && !s; i++) s = deliver(&f, i, &res[i]);
  if (!s) memcpy(outputs, res, (size_t)g->n_outputs * sizeof *res);
  else
    for (int i = 0; i < g->n_outputs; i++) onyx_tensor_free(res[i]);
done:
  if (top) {
    /* nothing may be released while queued work can still read it */
    onyx_status *s2 = sync_all(f.sh);
    if (!s) s = s2;
    else onyx_status_free(s2);
  }
  for (int v = 0; v < ns; v++)
    if (f.owned[v]) release(&f, v);
  if (top) {
    flush_deferred(f.sh, -1);
    if (f.sh->rc->profile) resolve_marks(f.sh);
    for (int k = 0; k < p->n_providers; k++)
      if (f.sh->begun[k] && p->providers[k]->iface->run_end) p->providers[k]->iface->run_end(p->providers[k], f.sh->rs[k]);
    onyx_free(f.sh->def);
    onyx_free(f.sh->marks);
    plan_cache_give_arenas(p, &f.fa);
    if (f.rec && !s) plan_cache_learn(p, sig, f.rec);
  }
  plan_cache_give_block(p, blk);
  if (res != res_buf) onyx_free(res);
  return s;
}

onyx_status *onyx_plan_run(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs, onyx_tensor **outputs) {
  onyx_run_ctx local = {0};
  if (!rc) rc = &local;
  rc->failed_provider = -1;
  run_shared boot = {.rc = rc};
  onyx_status *s = run_frame(p, NULL, &boot, inputs, outputs);
  onyx_free(local.events);
  return s;
}

onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in, onyx_tensor **out,
                            const onyx_threadpool *pool) {
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].g || n->attrs[a].graphs)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "evaluating a node with subgraphs on its own");
  const onyx_kernel *k = n->op >= 0 ? cpu_kernel_find(n->op) : NULL;
  if (!k) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "no cpu kernel");
  void *state = NULL;
  if (k->prepare) ONYX_TRY(k->prepare(NULL, n, g, &state));
  onyx_status *s = invoke(NULL, k, state, NULL, NULL, g, n, in, out, NULL, pool);
  if (state && k->release) k->release(state);
  return s;
}

onyx_status *onyx_exec_fused(onyx_provider *p, const onyx_fused *f, const onyx_graph *g, const onyx_partition *part,
                             onyx_tensor *const *in, onyx_tensor **out, const onyx_threadpool *pool) {
  onyx_allocator *a = onyx_provider_allocator(p);
  onyx_status *s = NULL;
  void *rs = NULL;
  for (int k = 0; k < part->n_out; k++) out[k] = NULL;
  for (int k = 0; k < part->n_out && !s; k++)
    if (!(s = onyx_tensor_new_empty(g->values[part->out[k]].dtype, 0, NULL, &out[k]))) out[k]->alloc = a->host ? NULL : a;
  if (!s && p->iface->run_begin) s = p->iface->run_begin(p, NULL, &rs);
  if (!s) {
    onyx_kernel_ctx c = {&g->nodes[part->nodes[0]], part->n_in, part->n_out, in, out, f->state, pool, p, rs,
                         &services, NULL};
    s = f->run(&c);
    if (p->iface->sync) {
      onyx_status *s2 = p->iface->sync(p, rs);
      if (!s) s = s2;
      else onyx_status_free(s2);
    }
    if (p->iface->run_end) p->iface->run_end(p, rs);
  }
  if (s)
    for (int k = 0; k < part->n_out; k++) {
      onyx_tensor_free(out[k]);
      out[k] = NULL;
    }
  return s;
}
