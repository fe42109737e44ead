/* providers.c — the table of providers onyx knows by name, in priority
 * order: cuda (ONYX_CUDA) before dnnl (oneDNN, ONYX_DNNL) before cpu. GPU
 * providers are opt-in (--providers cuda,cpu), as in ONNX Runtime: the
 * default session list is dnnl,cpu. */
#include <pthread.h>
#include <string.h>

#include "base/status.h"
#include "providers/provider.h"

#ifdef ONYX_HAVE_DNNL
extern const onyx_provider_factory onyx_dnnl_provider_factory;   /* providers/dnnl */
#endif
#ifdef ONYX_HAVE_CUDA
extern const onyx_provider_factory onyx_cuda_provider_factory;   /* providers/cuda */
#endif

const onyx_provider_factory *const onyx_provider_factories[] = {
#ifdef ONYX_HAVE_CUDA
    &onyx_cuda_provider_factory,
#endif
#ifdef ONYX_HAVE_DNNL
    &onyx_dnnl_provider_factory,
#endif
    &onyx_cpu_provider_factory,
    NULL,
};

const onyx_provider_factory *onyx_provider_factory_find(const char *name) {
  for (int i = 0; onyx_provider_factories[i]; i++)
    if (!strcmp(onyx_provider_factories[i]->name, name)) return onyx_provider_factories[i];
  return NULL;
}

static char available_list[256];
static pthread_once_t available_once = PTHREAD_ONCE_INIT;

static void list_available(void) {
  for (int i = 0; onyx_provider_factories[i]; i++)
    if (onyx_provider_factories[i]->available()) {
      if (available_list[0]) strcat(available_list, ",");
      strcat(available_list, onyx_provider_factories[i]->name);
    }
}

const char *onyx_available_providers(void) {
  pthread_once(&available_once, list_available);
  return available_list;
}

const char *onyx_provider_unusable_reason(const char *name) {
  const onyx_provider_factory *f = name ? onyx_provider_factory_find(name) : NULL;
  if (!f || f->available()) return NULL;
  return f->unusable ? f->unusable() : "not usable on this machine";
}

#ifndef ONYX_HAVE_CUDA
int onyx_gpu_count(void) { return 0; }

onyx_status *onyx_gpu_info_get(int i, onyx_gpu_info *out) {
  (void)out;
  return onyx_error(ONYX_ERR_NOT_FOUND, "GPU %d: this build has no cuda provider", i);
}
#endif
