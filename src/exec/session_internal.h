/* session_internal.h — session hooks for tests and in-library callers that
 * are not part of the public API: custom provider instances and the plan. */
#ifndef ONYX_SESSION_INTERNAL_H
#define ONYX_SESSION_INTERNAL_H

#include "exec.h"
#include "onyx.h"
#include "providers/provider.h"

/* Makes provider instance p (borrowed: it must outlive every session made
 * with these options) selectable by its name in the provider list. */
onyx_status *onyx_options_add_provider(onyx_options *o, onyx_provider *p);

/* The session's current plan (borrowed). */
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
