/* build_info.c — what this build of onyx is made of, for `onyx info` and
 * benchmark reports: every provider compiled in (usable here or not; the
 * usable ones are onyx_available_providers) and the versions of the
 * libraries it runs on. A figure measured with onyx means little without
 * them: the same model runs differently on oneDNN 2.6 and 3.5. Versions are
 * asked of the libraries at run time where they can say (the loaded shared
 * object may differ from the headers built against); GPU providers add their
 * CUDA and cuDNN versions here when they land. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>
#ifdef ONYX_HAVE_DNNL
#include <dnnl.h>
#endif

#include "onyx.h"
#include "providers/provider.h"

static char compiled_list[256], versions[512];
static pthread_once_t compiled_once = PTHREAD_ONCE_INIT, versions_once = PTHREAD_ONCE_INIT;

static void list_compiled(void) {
  for (int i = 0; onyx_provider_factories[i]; i++) {
    if (compiled_list[0]) strcat(compiled_list, ",");
    strcat(compiled_list, onyx_provider_factories[i]->name);
  }
}

const char *onyx_compiled_providers(void) {
  pthread_once(&compiled_once, list_compiled);
  return compiled_list;
}

#ifdef ONYX_HAVE_DNNL
static const char *dnnl_runtime_name(unsigned r) {
  switch (r) {
    case DNNL_RUNTIME_SEQ: return "sequential";
    case DNNL_RUNTIME_OMP: return "OpenMP";
    case DNNL_RUNTIME_TBB: return "TBB";
    case DNNL_RUNTIME_THREADPOOL: return "threadpool";
    default: return "unknown runtime";
  }
}
#endif

static void list_versions(void) {
  size_t n = 0;
#ifdef ONYX_HAVE_DNNL
  const dnnl_version_t *v = dnnl_version();
  n += (size_t)snprintf(versions + n, sizeof versions - n, "oneDNN %d.%d.%d (%s), ", v->major, v->minor,
                        v->patch, dnnl_runtime_name(v->cpu_runtime));
#endif
#ifdef _OPENMP
  /* the spec date the compiler implements; libgomp has no run-time version call */
  n += (size_t)snprintf(versions + n, sizeof versions - n, "OpenMP %d, ", _OPENMP);
#endif
  snprintf(versions + n, sizeof versions - n, "protobuf-c %s", protobuf_c_version());
}

const char *onyx_library_versions(void) {
  pthread_once(&versions_once, list_versions);
  return versions;
}
