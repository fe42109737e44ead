/* cpu_provider.c — the cpu provider: per-node kernels from the cpu tables,
 * in host memory, synchronous. It is always available and is the fallback
 * provider (a session without it in its list gets it appended), so every
 * node onyx claims has somewhere to run. */
#include "cpu.h"
#include "providers/provider.h"

static onyx_status *cpu_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  if (n->op < 0 || !cpu_kernel_find(n->op))
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "no cpu kernel for %s", n->op_type);
  return NULL;
}

static const onyx_kernel *cpu_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return n->op >= 0 ? cpu_kernel_find(n->op) : NULL;
}

static void cpu_destroy(onyx_provider *p) { onyx_free(p); }

static const onyx_provider_iface cpu_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION,
    .supports = cpu_supports,
    .kernel_for = cpu_kernel_for,
    .destroy = cpu_destroy,
};

static bool cpu_available(void) { return true; }

static onyx_status *cpu_create(int n_opts, const char *const *keys, const char *const *values,
                               onyx_provider **out) {
  (void)values;
  if (n_opts) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider 'cpu' has no option '%s'", keys[0]);
  onyx_provider *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  p->iface = &cpu_iface;
  p->name = "cpu";
  p->fallback = true;
  *out = p;
  return NULL;
}

const onyx_provider_factory onyx_cpu_provider_factory = {"cpu", cpu_available, cpu_create, NULL};
