/* session_run.c — running a session: input checks, run options (tag,
 * terminate flag, caller stream), I/O binding, and the re-plan that
 * follows a device lost during a run. Every run holds the plan it started
 * with (session_plan_acquire), so it may overlap set_providers and
 * re-plans. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/status.h"
#include "session_internal.h"

/* ---- run options ------------------------------------------------------------------ */

onyx_status *onyx_run_options_create(onyx_run_options **out) {
  onyx_run_options *ro = onyx_calloc(1, sizeof *ro);
  if (!ro) return onyx_error_oom();
  atomic_init(&ro->terminate, 0);
  *out = ro;
  return NULL;
}

void onyx_run_options_destroy(onyx_run_options *ro) { onyx_free(ro); }

onyx_status *onyx_run_options_set_tag(onyx_run_options *ro, const char *tag) {
  if (!tag) tag = "";
  if (strlen(tag) >= sizeof ro->tag)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "run tag is too long (at most %zu characters)", sizeof ro->tag - 1);
  strcpy(ro->tag, tag);
  return NULL;
}

void onyx_run_options_set_terminate(onyx_run_options *ro, int on) { atomic_store(&ro->terminate, on != 0); }
void onyx_run_options_set_stream(onyx_run_options *ro, void *stream) { ro->stream = stream; }

/* ---- inputs ----------------------------------------------------------------------- */

/* Checks a fed tensor against the declared input type; symbolic dims must
 * agree across inputs (sym_val caches the first binding of each symbol). */
static onyx_status *check_input(const onyx_session *s, const onyx_value *v, const onyx_tensor *t, int64_t *sym_val,
                                int n_sym) {
  if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' is NULL", v->name);
  if (v->kind != t->kind)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s': expected a %s value", v->name,
                      v->kind == ONYX_KIND_TENSOR ? "tensor" : v->kind == ONYX_KIND_SEQUENCE ? "sequence" : "optional");
  if (v->kind != ONYX_KIND_TENSOR) return NULL;
  if (v->dtype != ONYX_DTYPE_UNDEFINED && t->dtype != v->dtype)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has dtype %s, expected %s", v->name,
                      onyx_dtype_name(t->dtype), onyx_dtype_name(v->dtype));
  if (v->rank < 0) return NULL;
  char a[160];
  if (t->rank != v->rank)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has %d dims %s, expected %d", v->name, t->rank,
                      onyx_shape_str(t->rank, t->dims, a, sizeof a), v->rank);
  for (int d = 0; d < v->rank; d++) {
    int64_t want = v->dims[d];
    if (want >= 0 && t->dims[d] != want)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has shape %s, expected dim %d to be %lld", v->name,
                        onyx_shape_str(t->rank, t->dims, a, sizeof a), d, (long long)want);
    if (want <= ONYX_DIM_SYM0) {
      int64_t k = ONYX_DIM_SYM0 - want;
      if (k < n_sym) {
        if (sym_val[k] < 0) sym_val[k] = t->dims[d];
        else if (sym_val[k] != t->dims[d])
          return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' dim %d ('%s') is %lld, but another input bound it to %lld",
                            v->name, d, s->model->symbols[k], (long long)t->dims[d], (long long)sym_val[k]);
      }
    }
  }
  return NULL;
}

/* Checks every fed input (feed[i] for g->inputs[i]); sym_val has room for
 * the model's symbols. */
static onyx_status *check_feed(const onyx_session *s, onyx_tensor *const *feed, int64_t *sym_val) {
  const onyx_graph *g = s->model->graph;
  int n_sym = s->model->n_symbols;
  for (int k = 0; k < n_sym; k++) sym_val[k] = -1;
  for (int i = 0; i < g->n_inputs; i++) {
    if (!feed[i]) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' was not given", g->values[g->inputs[i]].name);
    ONYX_TRY(check_input(s, &g->values[g->inputs[i]], feed[i], sym_val, n_sym));
  }
  return NULL;
}

/* ---- the run ------------------------------------------------------------------------- */

/* Runs the current plan on checked inputs; on a lost device, re-plans
 * without that provider for the runs after this one. */
static onyx_status *run_plan(onyx_session *s, const onyx_run_options *ro, onyx_tensor *const *feed,
                             const onyx_output_dest *dest, onyx_status *(*observe)(void *, int, const onyx_tensor *),
                             void *observe_arg, onyx_tensor **all) {
  onyx_run_config cfg = {ro ? ro->stream : NULL, ro && ro->tag[0] ? ro->tag : NULL};
  onyx_run_ctx rc = {0};
  rc.profile = s->opts.profiling;
  rc.observe = observe;
  rc.observe_arg = observe_arg;
  rc.run_cfg = &cfg;
  rc.terminate = ro ? &ro->terminate : NULL;
  rc.dest = dest;
  plan_ref *r = session_plan_acquire(s);
  onyx_placement_scope scope;
  onyx_status *st = onyx_placement_enter(&s->placement, &scope);
  if (!st) {
    st = onyx_plan_run(r->plan, &rc, feed, all);
    onyx_placement_leave(&scope);
  }
  if (!st) session_record_run(s, &rc);
  else if (cfg.tag) onyx_log(ONYX_LOG_WARNING, "run '%s': %s", cfg.tag, onyx_status_message(st));
  onyx_free(rc.events);
  if (st && onyx_status_code(st) == ONYX_ERR_DEVICE && rc.failed_provider >= 0)
    session_drop_provider(s, r, rc.failed_provider, onyx_status_message(st));
  plan_ref_release(r);
  return st;
}

static onyx_status *run_named(onyx_session *s, const onyx_run_options *ro, int n_inputs, const char *const *in_names,
                              onyx_tensor *const *inputs, onyx_status *(*observe)(void *, int, const onyx_tensor *),
                              void *observe_arg, int n_outputs, const char *const *out_names, onyx_tensor **out) {
  if (!s || (n_inputs && (!in_names || !inputs)) || (n_outputs && !out) || n_inputs < 0 || n_outputs < 0)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run: NULL session or arrays");
  const onyx_graph *g = s->model->graph;
  onyx_status *st = NULL;
  onyx_tensor **feed = onyx_calloc((size_t)g->n_inputs + 1, sizeof *feed);
  onyx_tensor **all = onyx_calloc((size_t)g->n_outputs + 1, sizeof *all);
  int64_t *sym_val = onyx_malloc((size_t)s->model->n_symbols * sizeof(int64_t) + 1);
  int *pick = onyx_calloc((size_t)n_outputs + 1, sizeof *pick);
  if (!feed || !all || !sym_val || !pick) {
    st = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < n_inputs; i++) {
    int v = in_names[i] ? onyx_graph_find(g, in_names[i]) : -1;
    if (v < 0 || !g->values[v].is_input) {
      st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an input of the model", in_names[i] ? in_names[i] : "(null)");
      goto done;
    }
    int slot = 0;
    while (g->inputs[slot] != v) slot++;
    feed[slot] = inputs[i];
  }
  if ((st = check_feed(s, feed, sym_val))) goto done;
  for (int i = 0; i < n_outputs && !st; i++) {
    if (!out_names) {
      if (n_outputs != g->n_outputs)
        st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "asked for %d outputs without names; the model has %d", n_outputs,
                        g->n_outputs);
      pick[i] = i;
      continue;
    }
    int v = out_names[i] ? onyx_graph_find(g, out_names[i]) : -1;
    pick[i] = -1;
    for (int k = 0; v >= 0 && k < g->n_outputs; k++)
      if (g->outputs[k] == v) pick[i] = k;
    if (pick[i] < 0)
      st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an output of the model", out_names[i] ? out_names[i] : "(null)");
  }
  if (st || (st = run_plan(s, ro, feed, NULL, observe, observe_arg, all))) goto done;
  for (int i = 0; i < n_outputs && !st; i++) {
    int j = 0;
    while (j < i && pick[j] != pick[i]) j++;
    if (j < i) {   /* the same output asked for twice: give a copy */
      st = onyx_tensor_clone(out[j], &out[i]);
      if (st)
        for (int k = 0; k < i; k++) onyx_tensor_free(out[k]);
      continue;
    }
    out[i] = all[pick[i]];
    all[pick[i]] = NULL;
  }
  for (int i = 0; i < g->n_outputs; i++) onyx_tensor_free(all[i]);
done:
  onyx_free(feed);
  onyx_free(all);
  onyx_free(sym_val);
  onyx_free(pick);
  return st;
}

onyx_status *onyx_session_run(onyx_session *s, int n_inputs, const char *const *in_names, onyx_tensor *const *inputs,
                              int n_outputs, const char *const *out_names, onyx_tensor **out) {
  return run_named(s, NULL, n_inputs, in_names, inputs, NULL, NULL, n_outputs, out_names, out);
}

onyx_status *onyx_session_run_with_options(onyx_session *s, const onyx_run_options *ro, int n_inputs,
                                           const char *const *in_names, onyx_tensor *const *inputs, int n_outputs,
                                           const char *const *out_names, onyx_tensor **out) {
  return run_named(s, ro, n_inputs, in_names, inputs, NULL, NULL, n_outputs, out_names, out);
}

onyx_status *onyx_session_run_observed(onyx_session *s, int n_inputs, const char *const *in_names,
                                       onyx_tensor *const *inputs,
                                       onyx_status *(*observe)(void *arg, int value, const onyx_tensor *t),
                                       void *observe_arg, int n_outputs, const char *const *out_names,
                                       onyx_tensor **out) {
  return run_named(s, NULL, n_inputs, in_names, inputs, observe, observe_arg, n_outputs, out_names, out);
}

/* ---- I/O binding --------------------------------------------------------------------- */

typedef struct bound_out {
  int index;                 /* graph output index */
  onyx_tensor *user;         /* the caller's tensor, or NULL */
  onyx_allocator *space;     /* where onyx allocates it (user == NULL) */
  onyx_tensor *kept;         /* onyx's tensor from the last run (owned) */
} bound_out;

struct onyx_io_binding {
  onyx_session *s;
  onyx_tensor **in;          /* per graph input: borrowed */
  int n_out;
  bound_out *out;            /* per graph output at most */
  onyx_output_dest *dest;    /* per graph output, for the run */
  onyx_tensor **all;         /* per graph output: what the run made */
  int64_t *sym_val;
};

onyx_status *onyx_io_binding_create(onyx_session *s, onyx_io_binding **out) {
  const onyx_graph *g = s->model->graph;
  onyx_io_binding *b = onyx_calloc(1, sizeof *b);
  if (!b) return onyx_error_oom();
  b->s = s;
  b->in = onyx_calloc((size_t)g->n_inputs + 1, sizeof *b->in);
  b->out = onyx_calloc((size_t)g->n_outputs + 1, sizeof *b->out);
  b->dest = onyx_calloc((size_t)g->n_outputs + 1, sizeof *b->dest);
  b->all = onyx_calloc((size_t)g->n_outputs + 1, sizeof *b->all);
  b->sym_val = onyx_calloc((size_t)s->model->n_symbols + 1, sizeof *b->sym_val);
  if (!b->in || !b->out || !b->dest || !b->all || !b->sym_val) {
    onyx_io_binding_destroy(b);
    return onyx_error_oom();
  }
  *out = b;
  return NULL;
}

void onyx_io_binding_clear_outputs(onyx_io_binding *b) {
  for (int i = 0; i < b->n_out; i++) onyx_tensor_free(b->out[i].kept);
  b->n_out = 0;
}

void onyx_io_binding_clear_inputs(onyx_io_binding *b) {
  memset(b->in, 0, (size_t)b->s->model->graph->n_inputs * sizeof *b->in);
}

void onyx_io_binding_destroy(onyx_io_binding *b) {
  if (!b) return;
  if (b->out) onyx_io_binding_clear_outputs(b);
  onyx_free(b->in);
  onyx_free(b->out);
  onyx_free(b->dest);
  onyx_free(b->all);
  onyx_free(b->sym_val);
  onyx_free(b);
}

onyx_status *onyx_io_binding_bind_input(onyx_io_binding *b, const char *name, onyx_tensor *t) {
  const onyx_graph *g = b->s->model->graph;
  int v = name ? onyx_graph_find(g, name) : -1;
  for (int i = 0; v >= 0 && i < g->n_inputs; i++)
    if (g->inputs[i] == v) {
      if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s': NULL tensor", name);
      b->in[i] = t;
      return NULL;
    }
  return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an input of the model", name ? name : "(null)");
}

/* The binding slot for output `name` (reused when bound before). */
static onyx_status *out_slot(onyx_io_binding *b, const char *name, bound_out **out) {
  const onyx_graph *g = b->s->model->graph;
  int v = name ? onyx_graph_find(g, name) : -1, idx = -1;
  for (int i = 0; v >= 0 && i < g->n_outputs; i++)
    if (g->outputs[i] == v) idx = i;
  if (idx < 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an output of the model", name ? name : "(null)");
  for (int i = 0; i < b->n_out; i++)
    if (b->out[i].index == idx) {
      onyx_tensor_free(b->out[i].kept);
      b->out[i] = (bound_out){idx, NULL, NULL, NULL};
      *out = &b->out[i];
      return NULL;
    }
  b->out[b->n_out] = (bound_out){idx, NULL, NULL, NULL};
  *out = &b->out[b->n_out++];
  return NULL;
}

onyx_status *onyx_io_binding_bind_output(onyx_io_binding *b, const char *name, onyx_tensor *t) {
  if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "output '%s': NULL tensor", name ? name : "(null)");
  if (t->kind != ONYX_KIND_TENSOR || !t->data)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "output '%s': bind an allocated tensor", name ? name : "(null)");
  bound_out *o;
  ONYX_TRY(out_slot(b, name, &o));
  o->user = t;
  return NULL;
}

onyx_status *onyx_io_binding_bind_output_to_device(onyx_io_binding *b, const char *name, const char *device) {
  onyx_tensor *probe;
  /* the space must exist in the session: a zero-sized tensor finds it */
  ONYX_TRY(onyx_session_tensor_create(b->s, device, ONYX_DTYPE_UINT8, 1, (const int64_t[]){0}, &probe));
  onyx_allocator *a = onyx_tensor_allocator(probe);
  onyx_tensor_free(probe);
  bound_out *o;
  ONYX_TRY(out_slot(b, name, &o));
  o->space = a;
  return NULL;
}

onyx_status *onyx_session_run_with_binding(onyx_session *s, const onyx_run_options *ro, onyx_io_binding *b) {
  if (!s || !b || b->s != s) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "binding of another session (or NULL)");
  const onyx_graph *g = s->model->graph;
  if (!b->n_out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "no output is bound");
  ONYX_TRY(check_feed(s, b->in, b->sym_val));
  for (int i = 0; i < g->n_outputs; i++) b->dest[i] = (onyx_output_dest){NULL, false, NULL, true};
  for (int i = 0; i < b->n_out; i++) {
    bound_out *o = &b->out[i];
    b->dest[o->index] = o->user ? (onyx_output_dest){o->user, true, NULL, false}
                                : (onyx_output_dest){o->kept, false, o->space, false};
  }
  memset(b->all, 0, (size_t)g->n_outputs * sizeof *b->all);
  ONYX_TRY(run_plan(s, ro, b->in, b->dest, NULL, NULL, b->all));
  for (int i = 0; i < b->n_out; i++) {
    bound_out *o = &b->out[i];
    onyx_tensor *made = b->all[o->index];
    if (!made) continue;   /* written into the bound tensor */
    onyx_tensor_free(o->kept);
    o->kept = made;
  }
  return NULL;
}

int onyx_io_binding_output_count(const onyx_io_binding *b) { return b->n_out; }

const char *onyx_io_binding_output_name(const onyx_io_binding *b, int i) {
  if (i < 0 || i >= b->n_out) return NULL;
  const onyx_graph *g = b->s->model->graph;
  return g->values[g->outputs[b->out[i].index]].name;
}

onyx_tensor *onyx_io_binding_output(onyx_io_binding *b, int i) {
  if (i < 0 || i >= b->n_out) return NULL;
  return b->out[i].user ? b->out[i].user : b->out[i].kept;
}
