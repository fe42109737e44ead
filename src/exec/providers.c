/* providers.c — the table of providers onyx knows by name, in default
 * priority order. GPU providers join this list as they land; dnnl (oneDNN)
 * comes before cpu when built (ONYX_DNNL). */
#include <pthread.h>
#include <string.h>

#include "providers/provider.h"

#ifdef ONYX_HAVE_DNNL
extern const onyx_provider_factory onyx_dnnl_provider_factory;   /* providers/dnnl */
#endif

const onyx_provider_factory *const onyx_provider_factories[] = {
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
