/* options.c — session options (onyx_options_*): threads, levels, passes,
 * providers and their options, thread placement, config keys. Options are
 * plain data copied into each session made with them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "session_internal.h"

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
