/* session.c — sessions: the creation pipeline (load -> sort -> validate ->
 * infer -> providers -> optimize -> plan), the provider registry, the
 * current plan and its replacement (set_providers, a device lost during a
 * run), the fallback log, and what a session reports (metadata, placement,
 * copies, memory spaces, statistics, profiles). Runs are in session_run.c.
 * Creation and re-planning happen inside the session's thread placement
 * (base/affinity.h), when it has one, so packed weights land on its node. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/status.h"
#include "ops/ops.h"
#include "opt/opt.h"
#include "session_internal.h"

/* ---- provider instances ------------------------------------------------------------ */

/* Creates the provider named `name` with its options from o: a custom
 * instance (borrowed) or one from its factory (owned). *p is NULL when the
 * provider is known but not available on this machine. */
static onyx_status *create_instance(const onyx_options *o, const char *name, onyx_provider **p, bool *owned) {
  *p = NULL;
  *owned = false;
  for (int i = 0; i < o->n_custom; i++)
    if (!strcmp(o->custom[i]->name, name)) {
      *p = o->custom[i];
      return NULL;
    }
  const onyx_provider_factory *f = onyx_provider_factory_find(name);
  if (!f) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown execution provider '%s'", name);
  if (!f->available()) {
    onyx_log(ONYX_LOG_INFO, "provider %s is not available on this machine; skipped", name);
    return NULL;
  }
  const char *keys[MAX_PROVIDER_OPTS], *vals[MAX_PROVIDER_OPTS];
  int nk = 0;
  for (int i = 0; i < o->n_popts; i++)
    if (!strcmp(o->popts[i].prov, name)) {
      keys[nk] = o->popts[i].key;
      vals[nk++] = o->popts[i].value;
    }
  ONYX_TRY(f->create(nk, keys, vals, p));
  *owned = true;
  return NULL;
}

static void destroy_instance(onyx_provider *p, bool owned) {
  if (p && owned && p->iface->destroy) p->iface->destroy(p);
}

/* The session's instance of provider `name`, made on first use; -1 in *k
 * when it is not available here. Under replan_lock (or during creation). */
static onyx_status *instance(onyx_session *s, const onyx_options *o, const char *name, int *k) {
  for (int i = 0; i < s->n_inst; i++)
    if (!strcmp(s->inst[i]->name, name)) {
      *k = i;
      return NULL;
    }
  *k = -1;
  if (s->n_inst == MAX_SESSION_PROVIDERS)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many providers (at most %d)", MAX_SESSION_PROVIDERS);
  onyx_provider *p;
  bool owned;
  ONYX_TRY(create_instance(o, name, &p, &owned));
  if (!p) return NULL;
  s->inst[s->n_inst] = p;
  s->inst_owned[s->n_inst] = owned;
  s->inst_lost[s->n_inst] = false;
  *k = s->n_inst++;
  return NULL;
}

/* The providers of `list` in priority order (unavailable and lost ones
 * skipped, a fallback provider appended when the list has none). */
static onyx_status *resolve_list(onyx_session *s, const onyx_options *o, const char *list, onyx_provider **prov,
                                 int *n_out) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  int n = 0;
  bool has_fallback = false;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int k;
    ONYX_TRY(instance(s, o, tok, &k));
    if (k < 0) continue;
    if (s->inst_lost[k]) {
      onyx_log(ONYX_LOG_INFO, "provider %s lost its device earlier in this session; skipped", tok);
      continue;
    }
    bool dup = false;
    for (int i = 0; i < n; i++) dup |= prov[i] == s->inst[k];
    if (dup) continue;
    if (n == MAX_SESSION_PROVIDERS - 1) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many providers");
    prov[n++] = s->inst[k];
    has_fallback |= s->inst[k]->fallback;
  }
  if (!has_fallback) {
    int k;
    ONYX_TRY(instance(s, o, "cpu", &k));
    prov[n++] = s->inst[k];
  }
  *n_out = n;
  return NULL;
}

/* ---- plans ------------------------------------------------------------------------------ */

plan_ref *session_plan_acquire(onyx_session *s) {
  pthread_mutex_lock(&s->plan_lock);
  plan_ref *r = s->cur;
  atomic_fetch_add(&r->refs, 1);
  pthread_mutex_unlock(&s->plan_lock);
  return r;
}

void plan_ref_release(plan_ref *r) {
  if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
  onyx_plan_destroy(r->plan);
  onyx_free(r);
}

/* Makes the current plan r (the session's reference passes to it). */
static void install(onyx_session *s, plan_ref *r) {
  pthread_mutex_lock(&s->plan_lock);
  plan_ref *old = s->cur;
  s->cur = r;
  pthread_mutex_unlock(&s->plan_lock);
  plan_ref_release(old);
}

/* The plan's share of the options: the level compiling providers honour and
 * whether the memory_order pass is selected. */
static onyx_plan_config plan_config(const onyx_options *o) {
  return (onyx_plan_config){o->opt_level, opt_pass_selected(o->passes_only, o->passes_disabled, OPT_PASS_MEMORY_ORDER)};
}

void session_log_fallback(onyx_session *s, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  onyx_log(ONYX_LOG_INFO, "%s", line);
  pthread_mutex_lock(&s->lock);
  if (s->n_fallback < MAX_FALLBACK_LOG) {
    char *c = onyx_strdup(line);
    if (c) s->fallback[s->n_fallback++] = c;
  }
  pthread_mutex_unlock(&s->lock);
}

/* Logs the nodes of a new plan that fell back from a provider (a compile
 * or a copy of weights into its device failed), once per reason. */
static void log_plan_fallbacks(onyx_session *s, const plan_ref *r) {
  const onyx_graph *g = s->model->graph;
  for (int i = 0; i < g->n_nodes; i++) {
    const char *e = onyx_plan_node_fallback(r->plan, i);
    bool seen = false;
    for (int j = 0; e && j < i && !seen; j++) {
      const char *f = onyx_plan_node_fallback(r->plan, j);
      seen = f && !strcmp(e, f);
    }
    if (!e || seen) continue;
    const char *why;
    int k = onyx_plan_node_provider(r->plan, i, &why);
    session_log_fallback(s, "node '%s' (%s) and the nodes sharing its reason fell back (%s); they run on %s",
                         g->nodes[i].name, g->nodes[i].op_type, why ? why : e, r->prov[k]->name);
  }
}

/* A plan of the session's graph over prov[0..n) (copied), reusing the
 * compiled partitions of donor's plan. */
static onyx_status *make_plan(onyx_session *s, onyx_provider *const *prov, int n, const plan_ref *donor,
                              plan_ref **out) {
  plan_ref *r = onyx_calloc(1, sizeof *r);
  if (!r) return onyx_error_oom();
  atomic_init(&r->refs, 1);
  r->n = n;
  memcpy(r->prov, prov, (size_t)n * sizeof *prov);
  onyx_plan_config pc = plan_config(&s->opts);
  onyx_placement_scope scope;
  onyx_status *st = onyx_placement_enter(&s->placement, &scope);
  if (!st) {
    st = onyx_plan_create(s->model->graph, r->prov, n, &s->pool, &pc, donor ? donor->plan : NULL, &r->plan);
    onyx_placement_leave(&scope);
  }
  if (st) {
    onyx_free(r);
    return st;
  }
  log_plan_fallbacks(s, r);
  *out = r;
  return NULL;
}

void session_drop_provider(onyx_session *s, const plan_ref *r, int k, const char *why) {
  onyx_provider *lost = r->prov[k];
  pthread_mutex_lock(&s->replan_lock);
  for (int i = 0; i < s->n_inst; i++)
    if (s->inst[i] == lost) s->inst_lost[i] = true;
  plan_ref *cur = session_plan_acquire(s);
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  int n = 0;
  bool used = false, fallback = false;
  for (int i = 0; i < cur->n; i++) {
    if (cur->prov[i] == lost) {
      used = true;
      continue;
    }
    prov[n++] = cur->prov[i];
    fallback |= cur->prov[i]->fallback;
  }
  if (used && fallback) {
    plan_ref *next = NULL;
    onyx_status *st = make_plan(s, prov, n, cur, &next);
    if (st) {
      session_log_fallback(s, "provider %s lost its device (%s); re-planning without it failed: %s", lost->name, why,
                           onyx_status_message(st));
      onyx_status_free(st);
    } else {
      install(s, next);
      session_log_fallback(s, "provider %s lost its device during a run (%s); re-planned on %s%s", lost->name, why,
                           prov[0]->name, n > 1 ? " and the providers after it" : "");
    }
  }
  plan_ref_release(cur);
  pthread_mutex_unlock(&s->replan_lock);
}

/* ---- the optimizer's view of the providers ----------------------------------------- */

typedef struct claim_ctx {
  onyx_provider *const *prov;
  int n;
} claim_ctx;

/* The first provider before the fallback one that supports n, or NULL. */
static onyx_provider *claimer(const claim_ctx *c, const onyx_graph *g, const onyx_node *n) {
  for (int i = 0; i < c->n; i++) {
    if (c->prov[i]->fallback) return NULL;
    onyx_status *s = c->prov[i]->iface->supports(c->prov[i], g, n);
    if (!s) return c->prov[i];
    onyx_status_free(s);
  }
  return NULL;
}

static bool claimed_elsewhere(void *arg, const onyx_graph *g, const onyx_node *n) {
  return claimer(arg, g, n) != NULL;
}

static bool claimed_off_host(void *arg, const onyx_graph *g, const onyx_node *n) {
  onyx_provider *p = claimer(arg, g, n);
  return p && !onyx_provider_allocator(p)->host;
}

/* The fallback provider computes n in float32 but not in n's dtypes. */
static bool fallback_float_only(void *arg, const onyx_graph *g, const onyx_node *n) {
  const claim_ctx *c = arg;
  for (int i = 0; i < c->n; i++) {
    onyx_provider *p = c->prov[i];
    if (!p->fallback || !p->iface->kernel_for) continue;
    const onyx_kernel *k = p->iface->kernel_for(p, g, n);
    if (!k || !(k->dtypes & ONYX_DT(FLOAT))) return false;
    onyx_status *s = onyx_kernel_check_dtypes(k, g, n);
    onyx_status_free(s);
    return s != NULL;
  }
  return false;
}

/* Runs the optimizer over m's (sorted, inferred) graph as the options say;
 * the ai.onyx fusions leave alone the nodes providers[0..n) put elsewhere
 * than on the fallback provider. */
static onyx_status *optimize_model(onyx_model *m, const onyx_options *o, const onyx_threadpool *pool,
                                   onyx_provider *const *providers, int n_providers, onyx_optimize_stats *stats) {
  opt_pass custom[MAX_USER_PASSES];
  char opsbuf[MAX_USER_PASSES][256];
  const char *ops[MAX_USER_PASSES][MAX_PASS_OPS + 1];
  for (int i = 0; i < o->n_user_passes; i++) {
    const user_pass *u = &o->user_passes[i];
    strcpy(opsbuf[i], u->ops);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(opsbuf[i], ",", &save); t && n < MAX_PASS_OPS; t = strtok_r(NULL, ",", &save))
      ops[i][n++] = t;
    ops[i][n] = NULL;
    custom[i] = (opt_pass){u->name, u->level, n ? ops[i] : NULL, NULL, u->fn, u->arg};
  }
  claim_ctx cc = {providers, n_providers};
  opt_config cfg = {o->opt_level, o->passes_only, o->passes_disabled, o->n_user_passes, custom, pool,
                    claimed_elsewhere, &cc, claimed_off_host, onyx_exec_node, fallback_float_only};
  return opt_run(m->graph, &cfg, stats);
}

onyx_status *onyx_model_optimize(onyx_model *m, const onyx_options *opts, onyx_optimize_stats *stats) {
  onyx_options *d = NULL;
  if (!opts) {
    ONYX_TRY(onyx_options_create(&d));
    opts = d;
  }
  onyx_threadpool pool = {opts->threads > 0 ? opts->threads : onyx_available_cores()};
  onyx_session tmp;   /* a registry of instances for the claims, without a session */
  memset(&tmp, 0, sizeof tmp);
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  int n = 0;
  onyx_status *st = onyx_model_check(m);
  if (!st) st = resolve_list(&tmp, opts, opts->providers, prov, &n);
  if (!st) st = optimize_model(m, opts, &pool, prov, n, stats);
  for (int i = 0; i < tmp.n_inst; i++) destroy_instance(tmp.inst[i], tmp.inst_owned[i]);
  onyx_options_destroy(d);
  return st;
}

/* ---- creation and teardown --------------------------------------------------------------- */

void onyx_session_destroy(onyx_session *s) {
  if (!s) return;
  plan_ref_release(s->cur);
  for (int i = 0; i < s->n_inst; i++) destroy_instance(s->inst[i], s->inst_owned[i]);
  onyx_model_destroy(s->model);
  onyx_free(s->dims);
  onyx_free(s->dim_names);
  onyx_free(s->prof);
  for (int i = 0; i < s->n_fallback; i++) onyx_free(s->fallback[i]);
  onyx_placement_deinit(&s->placement);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->plan_lock);
  pthread_mutex_destroy(&s->replan_lock);
  onyx_free(s);
}

static void fill_meta(onyx_session *s) {
  const onyx_graph *g = s->model->graph;
  for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
    const onyx_value *v = &g->values[i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs]];
    for (int d = 0; d < v->rank; d++) {
      s->dims[i][d] = v->dims[d] >= 0 ? v->dims[d] : -1;
      s->dim_names[i][d] = onyx_model_symbol_name(s->model, v->dims[d]);
    }
  }
}

/* The creation pipeline after the options are settled. */
static onyx_status *prepare_session(onyx_session *s) {
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  int n;
  ONYX_TRY(onyx_model_check(s->model));
  ONYX_TRY(resolve_list(s, &s->opts, s->opts.providers, prov, &n));
  onyx_placement_scope scope;
  ONYX_TRY(onyx_placement_enter(&s->placement, &scope));
  onyx_status *st = optimize_model(s->model, &s->opts, &s->pool, prov, n, &s->opt_stats);
  onyx_placement_leave(&scope);
  ONYX_TRY(st);
  if (s->opts.optimized_path[0]) ONYX_TRY(onyx_model_save(s->model, s->opts.optimized_path));
  return make_plan(s, prov, n, NULL, &s->cur);
}

onyx_status *onyx_session_create_from_model(onyx_model *m, const onyx_options *opts, onyx_session **out) {
  onyx_session *s = onyx_calloc(1, sizeof *s);
  if (!s) {
    onyx_model_destroy(m);
    return onyx_error_oom();
  }
  s->model = m;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->plan_lock, NULL);
  pthread_mutex_init(&s->replan_lock, NULL);
  onyx_status *st = NULL;
  if (opts) {
    s->opts = *opts;
  } else {
    onyx_options *d;
    if ((st = onyx_options_create(&d))) goto fail;
    s->opts = *d;
    onyx_options_destroy(d);
  }
  if (s->opts.log_level_set) onyx_set_log_level(s->opts.log_level);
  int nthreads = s->opts.threads;
  if ((st = onyx_placement_init(&s->placement, s->opts.affinity, s->opts.affinity_ort, s->opts.numa_node, &nthreads)))
    goto fail;
  s->pool.nthreads = nthreads > 0 ? nthreads : onyx_available_cores();
  if ((st = prepare_session(s))) goto fail;
  onyx_graph *g = m->graph;
  int nio = g->n_inputs + g->n_outputs;
  s->dims = onyx_calloc((size_t)nio + 1, sizeof *s->dims);
  s->dim_names = onyx_calloc((size_t)nio + 1, sizeof *s->dim_names);
  if (!s->dims || !s->dim_names) {
    st = onyx_error_oom();
    goto fail;
  }
  fill_meta(s);
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].init) s->stats.weight_bytes += (int64_t)g->values[v].init->nbytes;
  onyx_log(ONYX_LOG_INFO, "session ready: %d nodes, %d threads (affinity %s, NUMA node %d), providers %s",
           g->n_nodes, s->pool.nthreads, s->opts.affinity[0] ? s->opts.affinity : "none", s->opts.numa_node,
           s->opts.providers);
  *out = s;
  return NULL;
fail:
  onyx_session_destroy(s);
  return st;
}

onyx_status *onyx_session_create(const char *path, const onyx_options *opts, onyx_session **out) {
  onyx_model *m;
  ONYX_TRY(onyx_model_load(path, &m));
  return onyx_session_create_from_model(m, opts, out);
}

onyx_status *onyx_session_create_from_buffer(const void *data, size_t len, const onyx_options *opts,
                                             onyx_session **out) {
  onyx_model *m;
  ONYX_TRY(onyx_model_load_from_buffer(data, len, ".", &m));
  return onyx_session_create_from_model(m, opts, out);
}

onyx_status *onyx_session_set_providers(onyx_session *s, const char *list) {
  onyx_options o = s->opts;
  ONYX_TRY(onyx_options_set_providers(&o, list));
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  int n;
  plan_ref *next = NULL;
  pthread_mutex_lock(&s->replan_lock);
  onyx_status *st = resolve_list(s, &o, o.providers, prov, &n);
  if (!st) {
    plan_ref *cur = session_plan_acquire(s);
    st = make_plan(s, prov, n, cur, &next);
    plan_ref_release(cur);
  }
  if (!st) {
    install(s, next);
    strcpy(s->opts.providers, o.providers);
  }
  pthread_mutex_unlock(&s->replan_lock);
  return st;
}

/* ---- what a session reports --------------------------------------------------------------- */

int onyx_session_node_count(const onyx_session *s) { return s->model->graph->n_nodes; }

onyx_status *onyx_session_node_info(const onyx_session *s, int i, onyx_node_info *out) {
  const onyx_graph *g = s->model->graph;
  if (i < 0 || i >= g->n_nodes)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "node index %d out of range (%d nodes)", i, g->n_nodes);
  plan_ref *r = session_plan_acquire((onyx_session *)s);
  const char *why;
  int k = onyx_plan_node_provider(r->plan, i, &why);
  out->name = g->nodes[i].name;
  out->op_type = g->nodes[i].op_type;
  out->domain = g->nodes[i].domain;
  out->provider = r->prov[k]->name;
  out->fallback_reason = why;
  plan_ref_release(r);
  return NULL;
}

const onyx_plan *onyx_session_plan(const onyx_session *s) { return s->cur->plan; }
const onyx_graph *onyx_session_graph(const onyx_session *s) { return s->model->graph; }

int onyx_session_input_count(const onyx_session *s) { return s->model->graph->n_inputs; }
int onyx_session_intra_op_threads(const onyx_session *s) { return s->pool.nthreads; }
int onyx_session_output_count(const onyx_session *s) { return s->model->graph->n_outputs; }

static onyx_status *info(const onyx_session *s, int i, bool output, onyx_value_info *out) {
  const onyx_graph *g = s->model->graph;
  int n = output ? g->n_outputs : g->n_inputs;
  if (i < 0 || i >= n)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s index %d out of range (model has %d)",
                      output ? "output" : "input", i, n);
  int slot = output ? g->n_inputs + i : i;
  const onyx_value *v = &g->values[output ? g->outputs[i] : g->inputs[i]];
  out->name = v->name;
  out->dtype = v->dtype;
  out->rank = v->rank;
  out->dims = s->dims[slot];
  out->dim_names = s->dim_names[slot];
  return NULL;
}

onyx_status *onyx_session_input_info(const onyx_session *s, int i, onyx_value_info *out) {
  return info(s, i, false, out);
}
onyx_status *onyx_session_output_info(const onyx_session *s, int i, onyx_value_info *out) {
  return info(s, i, true, out);
}

int onyx_session_fallback_count(onyx_session *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->n_fallback;
  pthread_mutex_unlock(&s->lock);
  return n;
}

onyx_status *onyx_session_fallback_entry(onyx_session *s, int i, char *buf, size_t cap) {
  onyx_status *st = NULL;
  pthread_mutex_lock(&s->lock);
  if (i < 0 || i >= s->n_fallback)
    st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "fallback entry %d out of range (%d)", i, s->n_fallback);
  else if (cap)
    snprintf(buf, cap, "%s", s->fallback[i]);
  pthread_mutex_unlock(&s->lock);
  return st;
}

int onyx_session_copy_count(onyx_session *s) {
  plan_ref *r = session_plan_acquire(s);
  int n = onyx_plan_copy_count(r->plan);
  plan_ref_release(r);
  return n;
}

onyx_status *onyx_session_copy_info(onyx_session *s, int i, onyx_copy_info *out) {
  plan_ref *r = session_plan_acquire(s);
  onyx_plan_copy c;
  onyx_status *st = onyx_plan_copy_info(r->plan, i, &c);
  if (!st) *out = (onyx_copy_info){c.value, c.from, c.to, c.bytes};
  plan_ref_release(r);
  return st;
}

/* The memory spaces of the session's instances, host first. */
static int spaces(onyx_session *s, onyx_allocator **out) {
  int n = 0;
  out[n++] = &onyx_host_allocator;
  pthread_mutex_lock(&s->replan_lock);
  for (int i = 0; i < s->n_inst; i++) {
    onyx_allocator *a = onyx_provider_allocator(s->inst[i]);
    bool dup = false;
    for (int j = 0; j < n; j++) dup |= out[j] == a || !strcmp(out[j]->name, a->name);
    if (!dup) out[n++] = a;
  }
  pthread_mutex_unlock(&s->replan_lock);
  return n;
}

int onyx_session_memory_count(onyx_session *s) {
  onyx_allocator *a[MAX_SESSION_PROVIDERS + 1];
  return spaces(s, a);
}

onyx_status *onyx_session_memory_info(onyx_session *s, int i, onyx_memory_info *out) {
  onyx_allocator *a[MAX_SESSION_PROVIDERS + 1];
  int n = spaces(s, a);
  if (i < 0 || i >= n) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "memory space %d out of range (%d)", i, n);
  *out = (onyx_memory_info){a[i]->name, atomic_load(&a[i]->in_use), atomic_load(&a[i]->peak),
                            atomic_load(&a[i]->allocs), atomic_load(&a[i]->frees)};
  return NULL;
}

onyx_status *onyx_session_tensor_create(onyx_session *s, const char *device, onyx_dtype dtype, int rank,
                                        const int64_t *dims, onyx_tensor **out) {
  onyx_allocator *a[MAX_SESSION_PROVIDERS + 1], *to = NULL;
  int n = spaces(s, a);
  for (int i = 0; device && i < n && !to; i++)
    if (!strcmp(a[i]->name, device)) to = a[i];
  if (!to) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "no memory space '%s' in this session", device ? device : "(null)");
  onyx_tensor *h;
  ONYX_TRY(onyx_tensor_create(dtype, rank, dims, &h));
  if (to->host) {
    *out = h;
    return NULL;
  }
  onyx_status *st = onyx_tensor_clone_to(h, to, out);
  onyx_tensor_free(h);
  return st;
}

/* ---- statistics and profiling --------------------------------------------------------------- */

/* A small per-thread id for profiles (trace viewers want integers). */
static _Atomic int next_thread_id;
static _Thread_local int thread_id = -1;
static int this_thread(void) {
  if (thread_id < 0) thread_id = atomic_fetch_add(&next_thread_id, 1);
  return thread_id;
}

void session_record_run(onyx_session *s, const onyx_run_ctx *rc) {
  int tid = rc->n_events ? this_thread() : 0;
  pthread_mutex_lock(&s->lock);
  int64_t run = s->stats.runs++;
  if (rc->peak_bytes > s->stats.peak_activation_bytes) s->stats.peak_activation_bytes = rc->peak_bytes;
  s->stats.naive_activation_bytes = rc->total_bytes;
  if (rc->n_events && s->n_prof + rc->n_events > s->cap_prof) {
    int64_t cap = s->cap_prof ? s->cap_prof : 1024;
    while (cap < s->n_prof + rc->n_events) cap *= 2;
    prof_rec *p = onyx_realloc(s->prof, (size_t)cap * sizeof *p);
    if (p) {
      s->prof = p;
      s->cap_prof = cap;
    }
  }
  for (int i = 0; i < rc->n_events && s->n_prof < s->cap_prof; i++) {
    const onyx_prof_event *e = &rc->events[i];
    s->prof[s->n_prof++] = (prof_rec){e->n, e->provider, e->n_nodes, e->start_ns, e->dur_ns, run, tid, e->device};
  }
  pthread_mutex_unlock(&s->lock);
}

void onyx_session_optimize_stats(const onyx_session *s, onyx_optimize_stats *out) { *out = s->opt_stats; }

void onyx_session_stats_get(onyx_session *s, onyx_session_stats *out) {
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  pthread_mutex_unlock(&s->lock);
  plan_ref *r = session_plan_acquire(s);
  out->arena_bytes = onyx_plan_arena_bytes(r->plan);
  plan_ref_release(r);
}

int64_t onyx_session_profile_count(onyx_session *s) {
  pthread_mutex_lock(&s->lock);
  int64_t n = s->n_prof;
  pthread_mutex_unlock(&s->lock);
  return n;
}

onyx_status *onyx_session_profile_get(onyx_session *s, int64_t i, onyx_profile_entry *out) {
  onyx_status *st = NULL;
  pthread_mutex_lock(&s->lock);
  if (i < 0 || i >= s->n_prof) {
    st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "profile entry %lld out of range (%lld recorded)", (long long)i,
                    (long long)s->n_prof);
  } else {
    const prof_rec *r = &s->prof[i];
    *out = (onyx_profile_entry){r->n->name, r->n_nodes > 1 ? "FusedPartition" : r->n->op_type, r->provider,
                                r->start_ns, r->dur_ns, r->run, r->thread, r->device};
  }
  pthread_mutex_unlock(&s->lock);
  return st;
}

void onyx_session_profile_clear(onyx_session *s) {
  pthread_mutex_lock(&s->lock);
  s->n_prof = 0;
  pthread_mutex_unlock(&s->lock);
}

static void json_string(FILE *f, const char *str) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

onyx_status *onyx_session_profile_write(onyx_session *s, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return onyx_error(ONYX_ERR_IO, "cannot write profile '%s'", path);
  pthread_mutex_lock(&s->lock);
  int64_t t0 = s->n_prof ? s->prof[0].start_ns : 0;
  for (int64_t i = 0; i < s->n_prof; i++)
    if (s->prof[i].start_ns < t0) t0 = s->prof[i].start_ns;
  fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
  for (int64_t i = 0; i < s->n_prof; i++) {
    const prof_rec *r = &s->prof[i];
    fprintf(f, "%s{\"name\":", i ? ",\n" : "");
    json_string(f, r->n->name[0] ? r->n->name : r->n->op_type);
    fprintf(f, ",\"cat\":\"Node\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"op_type\":",
            r->thread, (double)(r->start_ns - t0) / 1e3, (double)r->dur_ns / 1e3);
    json_string(f, r->n_nodes > 1 ? "FusedPartition" : r->n->op_type);
    fprintf(f, ",\"provider\":");
    json_string(f, r->provider);
    fprintf(f, ",\"nodes\":%d,\"run\":%lld,\"timed_on\":\"%s\"}}", r->n_nodes, (long long)r->run,
            r->device ? "device" : "host");
  }
  fprintf(f, "\n]}\n");
  pthread_mutex_unlock(&s->lock);
  if (fclose(f)) return onyx_error(ONYX_ERR_IO, "error writing profile '%s'", path);
  return NULL;
}
