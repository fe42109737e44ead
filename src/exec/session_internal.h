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

#endif
