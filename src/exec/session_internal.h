/* session_internal.h — the session's layout, shared by options.c (session
 * options), session.c (creation, providers, plans, re-planning, what a
 * session reports) and session_run.c (runs, run options, I/O binding), and
 * hooks for tests and in-library callers that are not public API: custom
 * provider instances, the plan, observed runs.
 *
 * Plans are reference counted: a run holds the plan it started with, so
 * onyx_session_set_providers and the re-plan after a lost device swap the
 * current plan under `plan_lock` without waiting for runs in flight; the
 * last run to finish on an old plan frees it. Provider instances live in a
 * registry for the session's lifetime (device tensors they allocated stay
 * valid, and a provider named again is the same instance). */
#ifndef ONYX_SESSION_INTERNAL_H
#define ONYX_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/affinity.h"
#include "exec.h"
#include "onyx.h"
#include "providers/provider.h"

#define MAX_SESSION_PROVIDERS 16
#define MAX_PROVIDER_OPTS 32
#define MAX_USER_PASSES 16
#define MAX_PASS_OPS 16
#define MAX_FALLBACK_LOG 64

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

/* A plan with the provider list it was made for. */
typedef struct plan_ref {
  atomic_int refs;           /* the session's (while current) + one per run */
  onyx_plan *plan;
  int n;
  onyx_provider *prov[MAX_SESSION_PROVIDERS];
} plan_ref;

typedef struct prof_rec {
  const onyx_node *n;
  const char *provider;
  int n_nodes;
  int64_t start_ns, dur_ns, run;
  int thread;
  bool device;
} prof_rec;

struct onyx_run_options {
  char tag[64];
  atomic_int terminate;
  void *stream;
};

struct onyx_session {
  onyx_model *model;
  onyx_options opts;
  onyx_threadpool pool;
  onyx_placement placement;  /* where the pool's threads run */
  /* provider instances, for the session's lifetime */
  int n_inst;
  onyx_provider *inst[MAX_SESSION_PROVIDERS];
  bool inst_owned[MAX_SESSION_PROVIDERS];
  bool inst_lost[MAX_SESSION_PROVIDERS];   /* its device was lost: never planned again */
  pthread_mutex_t plan_lock;   /* guards cur */
  pthread_mutex_t replan_lock; /* one re-plan at a time; guards the registry */
  plan_ref *cur;
  onyx_optimize_stats opt_stats;
  /* metadata for inputs then outputs: dims and symbolic names per value */
  int64_t (*dims)[ONYX_MAX_RANK];
  const char *(*dim_names)[ONYX_MAX_RANK];
  /* statistics, profile and fallback log, shared by concurrent runs under `lock` */
  pthread_mutex_t lock;
  onyx_session_stats stats;
  int64_t n_prof, cap_prof;
  prof_rec *prof;
  int n_fallback;
  char *fallback[MAX_FALLBACK_LOG];
};

/* session.c: the current plan, held until plan_ref_release. */
plan_ref *session_plan_acquire(onyx_session *s);
void plan_ref_release(plan_ref *r);
/* Re-plans without r->prov[k] after its device failed during a run (no-op
 * when the current plan no longer uses it); `why` is the run's error. */
void session_drop_provider(onyx_session *s, const plan_ref *r, int k, const char *why);
/* Appends a line to the fallback log (formatted like printf). */
void session_log_fallback(onyx_session *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Folds one finished run's observations into the session. */
void session_record_run(onyx_session *s, const onyx_run_ctx *rc);

/* Makes provider instance p (borrowed: it must outlive every session made
 * with these options) selectable by its name in the provider list. */
onyx_status *onyx_options_add_provider(onyx_options *o, onyx_provider *p);

/* The session's current plan (borrowed; valid until the session re-plans). */
const onyx_plan *onyx_session_plan(const onyx_session *s);

/* The session's graph (borrowed): after optimization, as the plan runs it. */
const onyx_graph *onyx_session_graph(const onyx_session *s);

/* onyx_session_run with an observer that sees every value of the graph as
 * it is produced (see onyx_run_ctx.observe): calibration, debugging. */
onyx_status *onyx_session_run_observed(onyx_session *s, int n_inputs, const char *const *in_names,
                                       onyx_tensor *const *inputs,
                                       onyx_status *(*observe)(void *arg, int value, const onyx_tensor *t),
                                       void *observe_arg, int n_outputs, const char *const *out_names,
                                       onyx_tensor **out);

#endif
