/* session.c — the public session API: options, creation pipeline (load ->
 * sort -> validate -> infer -> providers -> plan), metadata, run with input
 * checks, statistics and profiling. Creation and runs happen inside the
 * session's thread placement (base/affinity.h), when it has one. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/affinity.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/status.h"
#include "exec.h"
#include "ops/ops.h"
#include "opt/opt.h"
#include "session_internal.h"

#define MAX_SESSION_PROVIDERS 16
#define MAX_PROVIDER_OPTS 32
#define MAX_USER_PASSES 16
#define MAX_PASS_OPS 16

/* A user pass as registered (plain data: options are copied by value). */
typedef struct user_pass {
  char name[48];
  int level;
  char ops[256];       /* comma-separated target op types, or "" */
  onyx_pass_fn fn;
  void *arg;
} user_pass;

struct onyx_options {
  int threads;
  int opt_level;
  onyx_log_level log_level;
  bool log_level_set;
  bool profiling;
  char providers[256];
  int n_popts;
  struct { char prov[32], key[64], value[192]; } popts[MAX_PROVIDER_OPTS];
  int n_custom;
  onyx_provider *custom[8];  /* borrowed, tests: onyx_options_add_provider */
  char optimized_path[1024]; /* "" when off */
  char passes_only[512], passes_disabled[512];
  int n_user_passes;
  user_pass user_passes[MAX_USER_PASSES];
  char affinity[512];        /* "" or "none": no pinning */
  bool affinity_ort;         /* affinity is in ORT's form (see onyx_options_set_config) */
  int numa_node;             /* -1: none */
};

typedef struct prof_rec {
  const onyx_node *n;
  const char *provider;
  int n_nodes;
  int64_t start_ns, dur_ns, run;
  int thread;
} prof_rec;

struct onyx_session {
  onyx_model *model;
  onyx_options opts;
  onyx_threadpool pool;
  onyx_binding binding;      /* where the pool's threads run */
  int n_providers;
  onyx_provider *providers[MAX_SESSION_PROVIDERS];
  bool owns_provider[MAX_SESSION_PROVIDERS];
  onyx_plan *plan;
  onyx_optimize_stats opt_stats;
  /* metadata for inputs then outputs: dims and symbolic names per value */
  int64_t (*dims)[ONYX_MAX_RANK];
  const char *(*dim_names)[ONYX_MAX_RANK];
  /* statistics and profile, shared by concurrent runs under `lock` */
  pthread_mutex_t lock;
  onyx_session_stats stats;
  int64_t n_prof, cap_prof;
  prof_rec *prof;
};

/* A small per-thread id for profiles (trace viewers want integers). */
static _Atomic int next_thread_id;
static _Thread_local int thread_id = -1;
static int this_thread(void) {
  if (thread_id < 0) thread_id = atomic_fetch_add(&next_thread_id, 1);
  return thread_id;
}

onyx_status *onyx_options_create(onyx_options **out) {
  onyx_options *o = onyx_calloc(1, sizeof *o);
  if (!o) return onyx_error_oom();
  o->opt_level = 3;
  o->log_level = ONYX_LOG_WARNING;
  o->numa_node = -1;
#ifdef ONYX_HAVE_DNNL
  strcpy(o->providers, "dnnl,cpu");
#else
  strcpy(o->providers, "cpu");
#endif
  *out = o;
  return NULL;
}

void onyx_options_destroy(onyx_options *o) { onyx_free(o); }
void onyx_options_set_intra_op_threads(onyx_options *o, int n) { o->threads = n < 0 ? 0 : n; }
void onyx_options_set_log_level(onyx_options *o, onyx_log_level l) {
  o->log_level = l;
  o->log_level_set = true;
}
void onyx_options_enable_profiling(onyx_options *o, int on) { o->profiling = on != 0; }
void onyx_options_set_optimization_level(onyx_options *o, int level) {
  o->opt_level = level < 0 ? 0 : level > 3 ? 3 : level;
}

static onyx_status *set_text(char *dst, size_t cap, const char *src, const char *what) {
  if (!src) src = "";
  if (strlen(src) >= cap) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s is too long", what);
  strcpy(dst, src);
  return NULL;
}

onyx_status *onyx_options_set_optimized_model_path(onyx_options *o, const char *path) {
  return set_text(o->optimized_path, sizeof o->optimized_path, path, "optimized model path");
}

onyx_status *onyx_options_set_passes(onyx_options *o, const char *only) {
  return set_text(o->passes_only, sizeof o->passes_only, only, "pass list");
}

onyx_status *onyx_options_disable_passes(onyx_options *o, const char *names) {
  return set_text(o->passes_disabled, sizeof o->passes_disabled, names, "disabled pass list");
}

onyx_status *onyx_options_add_pass(onyx_options *o, const char *name, int level, const char *op_types,
                                   onyx_pass_fn fn, void *arg) {
  if (!name || !*name || !fn || level < 1 || level > 3)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "a pass needs a name, a function and a level in 1..3");
  if (o->n_user_passes == MAX_USER_PASSES)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many passes (at most %d)", MAX_USER_PASSES);
  user_pass *p = &o->user_passes[o->n_user_passes];
  ONYX_TRY(set_text(p->name, sizeof p->name, name, "pass name"));
  ONYX_TRY(set_text(p->ops, sizeof p->ops, op_types, "pass op types"));
  if (strchr(name, ','))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pass name '%s' must not contain ','", name);
  p->level = level;
  p->fn = fn;
  p->arg = arg;
  o->n_user_passes++;
  return NULL;
}

static onyx_status *set_affinity(onyx_options *o, const char *spec, bool ort_form) {
  if (!spec) spec = "";
  if (strlen(spec) >= sizeof o->affinity)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "affinity spec is too long (at most %zu characters)",
                      sizeof o->affinity - 1);
  ONYX_TRY(onyx_affinity_check(spec, ort_form));
  strcpy(o->affinity, spec);
  o->affinity_ort = ort_form;
  return NULL;
}

onyx_status *onyx_options_set_thread_affinity(onyx_options *o, const char *spec) {
  return set_affinity(o, spec, false);
}

onyx_status *onyx_options_set_numa_node(onyx_options *o, int node) {
  if (node < -1) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "NUMA node %d: expected a node number or -1 (none)", node);
  o->numa_node = node;
  return NULL;
}

onyx_status *onyx_options_set_config(onyx_options *o, const char *key, const char *value) {
  if (!key || !value) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_options_set_config: NULL key or value");
  if (!strcmp(key, "session.thread_affinity")) return set_affinity(o, value, false);
  if (!strcmp(key, "session.intra_op_thread_affinities")) return set_affinity(o, value, true);
  if (!strcmp(key, "session.numa_node")) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || !*value || *end || v < -1 || v > INT32_MAX)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "session.numa_node: expected a node number or -1, got '%s'", value);
    return onyx_options_set_numa_node(o, (int)v);
  }
  return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown session config key '%s' (known: session.thread_affinity, "
                    "session.intra_op_thread_affinities, session.numa_node)", key);
}

static onyx_status *make_providers(const onyx_options *o, const char *list, onyx_provider **prov,
                                   bool *owned, int *n_out);
static void free_providers(onyx_provider **prov, bool *owned, int n);

/* The session's providers in priority order, for opt_claim_fn. */
typedef struct claim_ctx {
  onyx_provider *const *prov;
  int n;
} claim_ctx;

/* Node n goes to a provider before cpu: the first that supports it. */
static bool claimed_elsewhere(void *arg, const onyx_graph *g, const onyx_node *n) {
  const claim_ctx *c = arg;
  for (int i = 0; i < c->n; i++) {
    if (!strcmp(c->prov[i]->name, "cpu")) return false;
    onyx_status *s = c->prov[i]->iface->supports(c->prov[i], g, n);
    if (!s) return true;
    onyx_status_free(s);
  }
  return false;
}

/* Node n goes to a provider before cpu whose memory is not the host's. */
static bool claimed_off_host(void *arg, const onyx_graph *g, const onyx_node *n) {
  const claim_ctx *c = arg;
  for (int i = 0; i < c->n; i++) {
    if (!strcmp(c->prov[i]->name, "cpu")) return false;
    onyx_status *s = c->prov[i]->iface->supports(c->prov[i], g, n);
    if (!s) return c->prov[i]->device != ONYX_DEVICE_HOST;
    onyx_status_free(s);
  }
  return false;
}

/* Runs the optimizer over m's (sorted, inferred) graph as the options say;
 * the ai.onyx fusions leave alone the nodes providers[0..n) put elsewhere
 * than on cpu. */
static onyx_status *optimize_model(onyx_model *m, const onyx_options *o, const onyx_threadpool *pool,
                                   onyx_provider *const *providers, int n_providers,
                                   onyx_optimize_stats *stats) {
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
                    claimed_elsewhere, &cc, claimed_off_host};
  return opt_run(m->graph, &cfg, stats);
}

onyx_status *onyx_model_optimize(onyx_model *m, const onyx_options *opts, onyx_optimize_stats *stats) {
  onyx_options *d = NULL;
  if (!opts) {
    ONYX_TRY(onyx_options_create(&d));
    opts = d;
  }
  onyx_threadpool pool = {opts->threads > 0 ? opts->threads : onyx_available_cores()};
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  bool owned[MAX_SESSION_PROVIDERS];
  int n = 0;
  onyx_status *st = onyx_graph_toposort(m->graph);
  if (!st) st = onyx_graph_validate(m->graph);
  if (!st) st = onyx_graph_infer(m->graph);
  if (!st) st = make_providers(opts, opts->providers, prov, owned, &n);
  if (!st) {
    st = optimize_model(m, opts, &pool, prov, n, stats);
    free_providers(prov, owned, n);
  }
  onyx_options_destroy(d);
  return st;
}

onyx_status *onyx_options_set_providers(onyx_options *o, const char *list) {
  if (!list || !*list || strlen(list) >= sizeof o->providers)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider list is empty or too long");
  char buf[256];
  strcpy(buf, list);
  /* unknown names are refused so typos surface; known but unavailable ones
   * (no GPU here) are skipped when the session is made */
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    bool custom = false;
    for (int i = 0; i < o->n_custom; i++) custom |= !strcmp(o->custom[i]->name, tok);
    if (!custom && !onyx_provider_factory_find(tok))
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown execution provider '%s' (available: %s)", tok,
                        onyx_available_providers());
  }
  strcpy(o->providers, list);
  return NULL;
}

onyx_status *onyx_options_set_provider_option(onyx_options *o, const char *provider, const char *key,
                                              const char *value) {
  if (!onyx_provider_factory_find(provider))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown execution provider '%s'", provider);
  if (strlen(provider) >= sizeof o->popts[0].prov || strlen(key) >= sizeof o->popts[0].key ||
      strlen(value) >= sizeof o->popts[0].value)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider option %s.%s is too long", provider, key);
  int i = 0;
  while (i < o->n_popts && (strcmp(o->popts[i].prov, provider) || strcmp(o->popts[i].key, key))) i++;
  if (i == MAX_PROVIDER_OPTS) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many provider options");
  strcpy(o->popts[i].prov, provider);
  strcpy(o->popts[i].key, key);
  strcpy(o->popts[i].value, value);
  if (i == o->n_popts) o->n_popts++;
  return NULL;
}

onyx_status *onyx_options_add_provider(onyx_options *o, onyx_provider *p) {
  if (o->n_custom == (int)(sizeof o->custom / sizeof o->custom[0]))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many custom providers");
  o->custom[o->n_custom++] = p;
  return NULL;
}

static void free_providers(onyx_provider **prov, bool *owned, int n) {
  for (int i = 0; i < n; i++)
    if (owned[i] && prov[i]->iface->destroy) prov[i]->iface->destroy(prov[i]);
}

/* Instantiates the providers named in `list` (cpu appended when absent, as
 * the fallback of last resort). Unavailable ones are skipped with a note. */
static onyx_status *make_providers(const onyx_options *o, const char *list, onyx_provider **prov,
                                   bool *owned, int *n_out) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  int n = 0;
  bool has_cpu = false;
  onyx_status *s = NULL;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok && !s; tok = strtok_r(NULL, ",", &save)) {
    if (n == MAX_SESSION_PROVIDERS - 1) {
      s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many providers");
      break;
    }
    onyx_provider *custom = NULL;
    for (int i = 0; i < o->n_custom; i++)
      if (!strcmp(o->custom[i]->name, tok)) custom = o->custom[i];
    if (custom) {
      prov[n] = custom;
      owned[n++] = false;
      continue;
    }
    const onyx_provider_factory *f = onyx_provider_factory_find(tok);
    if (!f) {
      s = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown execution provider '%s'", tok);
      break;
    }
    if (!f->available()) {
      onyx_log(ONYX_LOG_INFO, "provider %s is not available on this machine; skipped", tok);
      continue;
    }
    const char *keys[MAX_PROVIDER_OPTS], *vals[MAX_PROVIDER_OPTS];
    int nk = 0;
    for (int i = 0; i < o->n_popts; i++)
      if (!strcmp(o->popts[i].prov, tok)) {
        keys[nk] = o->popts[i].key;
        vals[nk++] = o->popts[i].value;
      }
    if ((s = f->create(nk, keys, vals, &prov[n]))) break;
    owned[n++] = true;
    has_cpu |= !strcmp(tok, "cpu");
  }
  if (!s && !has_cpu) {
    if (!(s = onyx_cpu_provider_factory.create(0, NULL, NULL, &prov[n]))) owned[n++] = true;
  }
  if (s) {
    free_providers(prov, owned, n);
    return s;
  }
  *n_out = n;
  return NULL;
}

void onyx_session_destroy(onyx_session *s) {
  if (!s) return;
  onyx_plan_destroy(s->plan);
  free_providers(s->providers, s->owns_provider, s->n_providers);
  onyx_model_destroy(s->model);
  onyx_free(s->dims);
  onyx_free(s->dim_names);
  onyx_free(s->prof);
  onyx_binding_deinit(&s->binding);
  pthread_mutex_destroy(&s->lock);
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

/* The plan's share of the options: the level compiling providers honour and
 * whether the memory_order pass is selected. */
static onyx_plan_config plan_config(const onyx_options *o) {
  return (onyx_plan_config){o->opt_level, opt_pass_selected(o->passes_only, o->passes_disabled, OPT_PASS_MEMORY_ORDER)};
}

/* The creation pipeline after the options are settled: runs inside the
 * session's thread placement, so the weights packed here land on its node. */
static onyx_status *prepare_session(onyx_session *s) {
  onyx_graph *g = s->model->graph;
  ONYX_TRY(onyx_graph_toposort(g));
  ONYX_TRY(onyx_graph_validate(g));
  ONYX_TRY(onyx_graph_infer(g));
  ONYX_TRY(make_providers(&s->opts, s->opts.providers, s->providers, s->owns_provider, &s->n_providers));
  ONYX_TRY(optimize_model(s->model, &s->opts, &s->pool, s->providers, s->n_providers, &s->opt_stats));
  if (s->opts.optimized_path[0]) ONYX_TRY(onyx_model_save(s->model, s->opts.optimized_path));
  onyx_plan_config pc = plan_config(&s->opts);
  return onyx_plan_create_ex(g, s->providers, s->n_providers, &s->pool, &pc, &s->plan);
}

onyx_status *onyx_session_create_from_model(onyx_model *m, const onyx_options *opts,
                                            onyx_session **out) {
  onyx_session *s = onyx_calloc(1, sizeof *s);
  if (!s) {
    onyx_model_destroy(m);
    return onyx_error_oom();
  }
  s->model = m;
  pthread_mutex_init(&s->lock, NULL);
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
  if ((st = onyx_binding_init(&s->binding, s->opts.affinity, s->opts.affinity_ort, s->opts.numa_node, &nthreads)))
    goto fail;
  s->pool.nthreads = nthreads > 0 ? nthreads : onyx_available_cores();
  onyx_binding_scope scope;
  if ((st = onyx_binding_enter(&s->binding, &scope))) goto fail;
  st = prepare_session(s);
  onyx_binding_leave(&scope);
  if (st) goto fail;
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

onyx_status *onyx_session_create_from_buffer(const void *data, size_t len,
                                             const onyx_options *opts, onyx_session **out) {
  onyx_model *m;
  ONYX_TRY(onyx_model_load_from_buffer(data, len, ".", &m));
  return onyx_session_create_from_model(m, opts, out);
}

onyx_status *onyx_session_set_providers(onyx_session *s, const char *list) {
  onyx_options o = s->opts;
  ONYX_TRY(onyx_options_set_providers(&o, list));
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
  bool owned[MAX_SESSION_PROVIDERS];
  int n;
  onyx_plan *plan;
  ONYX_TRY(make_providers(&o, o.providers, prov, owned, &n));
  onyx_binding_scope scope;
  onyx_plan_config pc = plan_config(&o);
  onyx_status *st = onyx_binding_enter(&s->binding, &scope);
  if (!st) {
    st = onyx_plan_create_ex(s->model->graph, prov, n, &s->pool, &pc, &plan);
    onyx_binding_leave(&scope);
  }
  if (st) {
    free_providers(prov, owned, n);
    return st;
  }
  onyx_plan_destroy(s->plan);
  free_providers(s->providers, s->owns_provider, s->n_providers);
  s->plan = plan;
  memcpy(s->providers, prov, sizeof prov);
  memcpy(s->owns_provider, owned, sizeof owned);
  s->n_providers = n;
  strcpy(s->opts.providers, o.providers);
  return NULL;
}

int onyx_session_node_count(const onyx_session *s) { return s->model->graph->n_nodes; }

onyx_status *onyx_session_node_info(const onyx_session *s, int i, onyx_node_info *out) {
  const onyx_graph *g = s->model->graph;
  if (i < 0 || i >= g->n_nodes)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "node index %d out of range (%d nodes)", i, g->n_nodes);
  const char *why;
  int k = onyx_plan_node_provider(s->plan, i, &why);
  out->name = g->nodes[i].name;
  out->op_type = g->nodes[i].op_type;
  out->domain = g->nodes[i].domain;
  out->provider = s->providers[k]->name;
  out->fallback_reason = why;
  return NULL;
}

const onyx_plan *onyx_session_plan(const onyx_session *s) { return s->plan; }
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

/* Checks a fed tensor against the declared input type; symbolic dims must
 * agree across inputs (sym_val caches the first binding of each symbol). */
static onyx_status *check_input(const onyx_session *s, const onyx_value *v, const onyx_tensor *t,
                                int64_t *sym_val, int n_sym) {
  if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' is NULL", v->name);
  if (v->kind != t->kind)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s': expected a %s value", v->name,
                      v->kind == ONYX_KIND_TENSOR ? "tensor" : v->kind == ONYX_KIND_SEQUENCE ? "sequence" : "optional");
  if (v->kind != ONYX_KIND_TENSOR) return NULL;
  if (v->dtype != ONYX_DTYPE_UNDEFINED && t->dtype != v->dtype)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has dtype %s, expected %s", v->name,
                      onyx_dtype_name(t->dtype), onyx_dtype_name(v->dtype));
  if (v->rank < 0) return NULL;
  char a[160], b[160];
  if (t->rank != v->rank)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has %d dims %s, expected %d",
                      v->name, t->rank, onyx_shape_str(t->rank, t->dims, a, sizeof a), v->rank);
  for (int d = 0; d < v->rank; d++) {
    int64_t want = v->dims[d];
    if (want >= 0 && t->dims[d] != want)
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' has shape %s, expected dim %d to be %lld",
                        v->name, onyx_shape_str(t->rank, t->dims, a, sizeof a), d, (long long)want);
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
  (void)b;
  return NULL;
}

/* Folds one finished run's observations into the session. */
static void record_run(onyx_session *s, const onyx_run_ctx *rc) {
  int tid = this_thread();
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
  for (int i = 0; i < rc->n_events && s->n_prof < s->cap_prof; i++)
    s->prof[s->n_prof++] = (prof_rec){rc->events[i].n, rc->events[i].provider, rc->events[i].n_nodes,
                                      rc->events[i].start_ns, rc->events[i].dur_ns, run, tid};
  pthread_mutex_unlock(&s->lock);
}

void onyx_session_optimize_stats(const onyx_session *s, onyx_optimize_stats *out) {
  *out = s->opt_stats;
}

void onyx_session_stats_get(onyx_session *s, onyx_session_stats *out) {
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  pthread_mutex_unlock(&s->lock);
  out->arena_bytes = onyx_plan_arena_bytes(s->plan);
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
    st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "profile entry %lld out of range (%lld recorded)",
                    (long long)i, (long long)s->n_prof);
  } else {
    const prof_rec *r = &s->prof[i];
    *out = (onyx_profile_entry){r->n->name, r->n_nodes > 1 ? "FusedPartition" : r->n->op_type, r->provider,
                                r->start_ns, r->dur_ns, r->run, r->thread};
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
    fprintf(f, ",\"cat\":\"Node\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
               "\"args\":{\"op_type\":",
            r->thread, (double)(r->start_ns - t0) / 1e3, (double)r->dur_ns / 1e3);
    json_string(f, r->n_nodes > 1 ? "FusedPartition" : r->n->op_type);
    fprintf(f, ",\"provider\":");
    json_string(f, r->provider);
    fprintf(f, ",\"nodes\":%d,\"run\":%lld}}", r->n_nodes, (long long)r->run);
  }
  fprintf(f, "\n]}\n");
  pthread_mutex_unlock(&s->lock);
  if (fclose(f)) return onyx_error(ONYX_ERR_IO, "error writing profile '%s'", path);
  return NULL;
}

onyx_status *onyx_session_run(onyx_session *s, int n_inputs, const char *const *in_names,
                              onyx_tensor *const *inputs, int n_outputs,
                              const char *const *out_names, onyx_tensor **out) {
  return onyx_session_run_observed(s, n_inputs, in_names, inputs, NULL, NULL, n_outputs, out_names, out);
}

onyx_status *onyx_session_run_observed(onyx_session *s, int n_inputs, const char *const *in_names,
                                       onyx_tensor *const *inputs,
                                       onyx_status *(*observe)(void *arg, int value, const onyx_tensor *t),
                                       void *observe_arg, int n_outputs, const char *const *out_names,
                                       onyx_tensor **out) {
  if (!s || (n_inputs && (!in_names || !inputs)) || (n_outputs && !out) || n_inputs < 0 || n_outputs < 0)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run: NULL session or arrays");
  const onyx_graph *g = s->model->graph;
  onyx_status *st = NULL;
  int n_sym = s->model->n_symbols;
  onyx_tensor **feed = onyx_calloc((size_t)g->n_inputs + 1, sizeof *feed);
  onyx_tensor **all = onyx_calloc((size_t)g->n_outputs + 1, sizeof *all);
  int64_t *sym_val = onyx_malloc((size_t)n_sym * sizeof(int64_t) + 1);
  if (!feed || !all || !sym_val) {
    st = onyx_error_oom();
    goto done;
  }
  for (int k = 0; k < n_sym; k++) sym_val[k] = -1;
  for (int i = 0; i < n_inputs; i++) {
    int v = in_names && in_names[i] ? onyx_graph_find(g, in_names[i]) : -1;
    if (v < 0 || !g->values[v].is_input) {
      st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an input of the model",
                      in_names && in_names[i] ? in_names[i] : "(null)");
      goto done;
    }
    int slot = 0;
    while (g->inputs[slot] != v) slot++;
    if ((st = check_input(s, &g->values[v], inputs[i], sym_val, n_sym))) goto done;
    feed[slot] = inputs[i];
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (!feed[i]) {
      st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input '%s' was not given", g->values[g->inputs[i]].name);
      goto done;
    }
  int *pick = onyx_calloc((size_t)n_outputs + 1, sizeof *pick);
  if (!pick) {
    st = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < n_outputs && !st; i++) {
    if (!out_names) {
      if (n_outputs != g->n_outputs)
        st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "asked for %d outputs without names; the model has %d",
                        n_outputs, g->n_outputs);
      pick[i] = i;
      continue;
    }
    int v = out_names[i] ? onyx_graph_find(g, out_names[i]) : -1;
    pick[i] = -1;
    for (int k = 0; v >= 0 && k < g->n_outputs; k++)
      if (g->outputs[k] == v) pick[i] = k;
    if (pick[i] < 0)
      st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an output of the model",
                      out_names[i] ? out_names[i] : "(null)");
  }
  onyx_run_ctx rc = {0};
  rc.profile = s->opts.profiling;
  rc.observe = observe;
  rc.observe_arg = observe_arg;
  onyx_binding_scope scope;
  if (!st && !(st = onyx_binding_enter(&s->binding, &scope))) {
    st = onyx_plan_run_ex(s->plan, &rc, feed, all);
    onyx_binding_leave(&scope);
  }
  if (!st) record_run(s, &rc);
  onyx_free(rc.events);
  if (!st) {
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
  }
  onyx_free(pick);
done:
  onyx_free(feed);
  onyx_free(all);
  onyx_free(sym_val);
  return st;
}
