/* exec.c — sequential execution of a plan, freeing values when dead.
 *
 * Per run: a slot per value. Initializers and caller inputs are borrowed;
 * intermediates are owned and freed when their remaining use count reaches
 * zero; graph outputs are handed to the caller. Output sizes come from the
 * op's infer function evaluated on the actual inputs (see ops.h). */
#include "exec.h"

#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/status.h"

typedef struct subplan {
  int node;          /* node index */
  const char *attr;  /* attribute name (borrowed from the graph) */
  onyx_plan *plan;
} subplan;

struct onyx_plan {
  const onyx_graph *g;
  const onyx_threadpool *pool;
  const cpu_kernel **kernels;  /* per node */
  void **states;               /* per node, from prepare */
  int *uses;                   /* per value: consumer slots + implicit + outputs */
  int n_sub;
  subplan *subs;
};

struct onyx_frame {
  const onyx_plan *plan;
  onyx_frame *parent;
  onyx_run_ctx *rc;     /* may be NULL */
  onyx_tensor **slots;
  bool *owned;
};

void onyx_plan_destroy(onyx_plan *p) {
  if (!p) return;
  for (int i = 0; p->states && i < p->g->n_nodes; i++)
    if (p->states[i] && p->kernels[i] && p->kernels[i]->release) p->kernels[i]->release(p->states[i]);
  for (int i = 0; i < p->n_sub; i++) onyx_plan_destroy(p->subs[i].plan);
  onyx_free(p->subs);
  onyx_free(p->kernels);
  onyx_free(p->states);
  onyx_free(p->uses);
  onyx_free(p);
}

static onyx_status *add_subplans(onyx_plan *p, int ni) {
  const onyx_node *n = &p->g->nodes[ni];
  for (int a = 0; a < n->n_attrs; a++) {
    const onyx_attr *at = &n->attrs[a];
    if (!at->g) continue; /* GRAPHS attributes are not used by any standard op */
    subplan *s = onyx_realloc(p->subs, (size_t)(p->n_sub + 1) * sizeof *s);
    if (!s) return onyx_error_oom();
    p->subs = s;
    s[p->n_sub].node = ni;
    s[p->n_sub].attr = at->name;
    s[p->n_sub].plan = NULL;
    p->n_sub++;
    ONYX_TRY(onyx_plan_create(at->g, p->pool, &s[p->n_sub - 1].plan));
  }
  return NULL;
}

onyx_status *onyx_plan_create(const onyx_graph *g, const onyx_threadpool *pool, onyx_plan **out) {
  onyx_plan *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  p->g = g;
  p->pool = pool;
  onyx_status *s = NULL;
  p->kernels = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->kernels);
  p->states = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->states);
  p->uses = onyx_calloc((size_t)g->n_values + 1, sizeof *p->uses);
  if (!p->kernels || !p->states || !p->uses) {
    s = onyx_error_oom();
    goto fail;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    p->kernels[i] = n->op >= 0 ? cpu_kernel_find(n->op) : NULL;
    if (!p->kernels[i]) {
      s = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "node '%s': operator %s has no cpu kernel", n->name,
                     n->op_type);
      goto fail;
    }
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) p->uses[n->in[k]]++;
    for (int k = 0; k < n->n_implicit; k++) p->uses[n->implicit[k]]++;
    if (p->kernels[i]->prepare) {
      s = p->kernels[i]->prepare(n, g, &p->states[i]);
      if (s) {
        char lbl[256];
        s = onyx_error_wrap(s, "%s: prepare", onyx_node_label(n, lbl, sizeof lbl));
        goto fail;
      }
    }
    if ((s = add_subplans(p, i))) goto fail;
  }
  for (int i = 0; i < g->n_outputs; i++) p->uses[g->outputs[i]]++;
  *out = p;
  return NULL;
fail:
  onyx_plan_destroy(p);
  return s;
}

const onyx_plan *onyx_frame_subplan(const onyx_frame *f, const onyx_node *node, const char *attr) {
  const onyx_plan *p = f->plan;
  int ni = (int)(node - p->g->nodes);
  for (int i = 0; i < p->n_sub; i++)
    if (p->subs[i].node == ni && !strcmp(p->subs[i].attr, attr)) return p->subs[i].plan;
  return NULL;
}

/* Finds an outer-scope value by name in the enclosing frames. */
static onyx_tensor *lookup_outer(onyx_frame *f, const char *name) {
  for (; f; f = f->parent) {
    int v = onyx_graph_find(f->plan->g, name);
    if (v >= 0 && f->slots[v]) return f->slots[v];
  }
  return NULL;
}

int64_t onyx_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void release(onyx_frame *f, int v) {
  if (f->owned[v] && f->rc && f->slots[v]) f->rc->live_bytes -= (int64_t)f->slots[v]->nbytes;
  if (f->owned[v]) onyx_tensor_free(f->slots[v]);
  f->slots[v] = NULL;
  f->owned[v] = false;
}

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
  v->value = t;
}

/* Appends a profiling event; on allocation failure the event is dropped
 * (profiling must not fail a run). */
static void record_event(onyx_run_ctx *rc, int ni, const onyx_node *n, int64_t t0, int64_t dur) {
  if (rc->n_events == rc->cap_events) {
    int cap = rc->cap_events ? rc->cap_events * 2 : 256;
    onyx_prof_event *e = onyx_realloc(rc->events, (size_t)cap * sizeof *e);
    if (!e) return;
    rc->events = e;
    rc->cap_events = cap;
  }
  rc->events[rc->n_events++] = (onyx_prof_event){ni, n, t0, dur};
}

/* Runs kernel k on node n: sizes the outputs with the op's infer function,
 * creates their headers (allocated where the size is known), runs, and
 * checks the kernel allocated the rest. On success out[k] holds new tensors
 * (NULL for omitted outputs); on failure nothing is left in out. */
static onyx_status *invoke(const cpu_kernel *k, const void *state, const onyx_graph *g,
                           const onyx_node *n, onyx_tensor *const *in, onyx_tensor **out,
                           const onyx_threadpool *pool, onyx_frame *f, int ni) {
  onyx_vinfo vin_buf[16], vout_buf[16];
  onyx_vinfo *vin = vin_buf, *vout = vout_buf;
  onyx_status *s = NULL;
  bool heap = n->n_in > 16 || n->n_out > 16;
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
    out[i] = NULL;
  }
  onyx_infer_ctx ic = {n, g->model, vin, vout};
  if ((s = onyx_op_schemas[n->op].infer(&ic))) goto done;
  for (int i = 0; i < n->n_out; i++) {
    if (n->out[i] < 0) continue;
    if ((s = onyx_tensor_new_empty(vout[i].dtype, 0, NULL, &out[i]))) goto done;
    out[i]->kind = vout[i].kind;
    if (vout[i].kind == ONYX_KIND_TENSOR && onyx_vinfo_static(&vout[i]) &&
        vout[i].dtype != ONYX_DTYPE_UNDEFINED)
      if ((s = onyx_tensor_alloc(out[i], vout[i].rank, vout[i].dims))) goto done;
  }
  cpu_ctx c = {n, n->n_in, n->n_out, in, out, state, pool, f};
  onyx_run_ctx *rc = f ? f->rc : NULL;
  int64_t t0 = rc && rc->profile ? onyx_now_ns() : 0;
  if ((s = k->run(&c))) goto done;
  if (t0) record_event(rc, ni, n, t0, onyx_now_ns() - t0);
  for (int i = 0; i < n->n_out; i++)
    if (out[i] && out[i]->kind == ONYX_KIND_TENSOR && !out[i]->data) {
      s = onyx_node_error(n, ONYX_ERR_RUNTIME, "kernel left output '%s' unallocated", g->values[n->out[i]].name);
      goto done;
    }
done:
  if (s)
    for (int i = 0; i < n->n_out; i++) {
      onyx_tensor_free(out[i]);
      out[i] = NULL;
    }
  if (heap) {
    onyx_free(vin);
    onyx_free(vout);
  }
  if (s && onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY && !strstr(onyx_status_message(s), n->op_type)) {
    char lbl[256];
    s = onyx_error_wrap(s, "%s", onyx_node_label(n, lbl, sizeof lbl));
  }
  return s;
}

static onyx_status *run_node(onyx_frame *f, int ni, int *remaining) {
  const onyx_plan *p = f->plan;
  const onyx_graph *g = p->g;
  const onyx_node *n = &g->nodes[ni];
  onyx_tensor *in_buf[16], *out_buf[16];
  onyx_tensor **in = in_buf, **out = out_buf;
  bool heap = n->n_in > 16 || n->n_out > 16;
  if (heap) {
    in = onyx_calloc((size_t)n->n_in + 1, sizeof *in);
    out = onyx_calloc((size_t)n->n_out + 1, sizeof *out);
    if (!in || !out) {
      onyx_free(in);
      onyx_free(out);
      return onyx_error_oom();
    }
  }
  for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? f->slots[n->in[k]] : NULL;
  onyx_status *s = invoke(p->kernels[ni], p->states[ni], g, n, in, out, p->pool, f, ni);
  for (int k = 0; !s && k < n->n_out; k++) {
    int v = n->out[k];
    if (v < 0) continue;
    release(f, v);
    f->slots[v] = out[k];
    f->owned[v] = true;
    if (f->rc) {
      f->rc->live_bytes += (int64_t)out[k]->nbytes;
      f->rc->total_bytes += (int64_t)out[k]->nbytes;
      if (f->rc->live_bytes > f->rc->peak_bytes) f->rc->peak_bytes = f->rc->live_bytes;
    }
  }
  for (int k = 0; !s && k < n->n_in + n->n_implicit; k++) {
    int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
    if (v >= 0 && --remaining[v] == 0) release(f, v);
  }
  if (heap) {
    onyx_free(in);
    onyx_free(out);
  }
  return s;
}

onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in,
                            onyx_tensor **out, const onyx_threadpool *pool) {
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].g || n->attrs[a].graphs)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "evaluating a node with subgraphs on its own");
  const cpu_kernel *k = n->op >= 0 ? cpu_kernel_find(n->op) : NULL;
  if (!k) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "no cpu kernel");
  void *state = NULL;
  if (k->prepare) ONYX_TRY(k->prepare(n, g, &state));
  onyx_status *s = invoke(k, state, g, n, in, out, pool, NULL, (int)(n - g->nodes));
  if (state && k->release) k->release(state);
  return s;
}

static onyx_status *run_graph(const onyx_plan *p, onyx_frame *parent, onyx_run_ctx *rc,
                              onyx_tensor *const *inputs, onyx_tensor **outputs) {
  const onyx_graph *g = p->g;
  onyx_frame f = {p, parent, rc, NULL, NULL};
  onyx_status *s = NULL;
  int *remaining = onyx_malloc((size_t)g->n_values * sizeof(int) + 1);
  f.slots = onyx_calloc((size_t)g->n_values + 1, sizeof *f.slots);
  f.owned = onyx_calloc((size_t)g->n_values + 1, sizeof *f.owned);
  onyx_tensor **res = onyx_calloc((size_t)g->n_outputs + 1, sizeof *res);
  if (!remaining || !f.slots || !f.owned || !res) {
    s = onyx_error_oom();
    goto done;
  }
  memcpy(remaining, p->uses, (size_t)g->n_values * sizeof(int));
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    if (val->init) f.slots[v] = val->init;
    else if (val->is_outer) f.slots[v] = lookup_outer(parent, val->name);
  }
  for (int i = 0; i < g->n_inputs; i++) f.slots[g->inputs[i]] = inputs[i];
  for (int i = 0; i < g->n_nodes && !s; i++) s = run_node(&f, i, remaining);
  for (int i = 0; i < g->n_outputs && !s; i++) {
    int v = g->outputs[i];
    if (!f.slots[v]) {
      s = onyx_error(ONYX_ERR_RUNTIME, "graph output '%s' was not computed", g->values[v].name);
    } else if (f.owned[v] && remaining[v] == 1) {
      res[i] = f.slots[v];   /* hand over without copying */
      if (rc) rc->live_bytes -= (int64_t)res[i]->nbytes;
      f.slots[v] = NULL;
      f.owned[v] = false;
    } else {
      s = onyx_tensor_clone(f.slots[v], &res[i]);
      remaining[v]--;
    }
  }
  if (!s) {
    memcpy(outputs, res, (size_t)g->n_outputs * sizeof *res);
  } else {
    for (int i = 0; i < g->n_outputs; i++) onyx_tensor_free(res[i]);
  }
done:
  if (f.slots && f.owned)
    for (int v = 0; v < g->n_values; v++)
      if (f.owned[v]) release(&f, v);
  onyx_free(remaining);
  onyx_free(f.slots);
  onyx_free(f.owned);
  onyx_free(res);
  return s;
}

onyx_status *onyx_plan_run(const onyx_plan *p, onyx_frame *parent, onyx_tensor *const *inputs,
                           onyx_tensor **outputs) {
  return run_graph(p, parent, parent ? parent->rc : NULL, inputs, outputs);
}

onyx_status *onyx_plan_run_ex(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs,
                              onyx_tensor **outputs) {
  return run_graph(p, NULL, rc, inputs, outputs);
}
