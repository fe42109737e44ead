/* allocator.c — the memory-space wrappers (statistics) and the host space. */
#include "allocator.h"

#include <string.h>

#include "alloc.h"

static void *host_alloc(onyx_allocator *a, size_t n) {
  (void)a;
  return onyx_malloc_aligned(n);
}

static void host_release(onyx_allocator *a, void *p, size_t n) {
  (void)a;
  (void)n;
  onyx_free_aligned(p);
}

static onyx_status *host_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind,
                              void *run_state) {
  (void)a;
  (void)kind;
  (void)run_state;
  if (n) memcpy(dst, src, n);
  return NULL;
}

static const onyx_allocator_iface host_iface = {host_alloc, host_release, NULL, host_copy, NULL, NULL};

onyx_allocator onyx_host_allocator = {&host_iface, "cpu", true, NULL, 0, 0, 0, 0};

void *onyx_allocator_alloc(onyx_allocator *a, size_t n) { return onyx_allocator_alloc_async(a, n, NULL); }

void *onyx_allocator_alloc_async(onyx_allocator *a, size_t n, void *run_state) {
  void *p = run_state && a->iface->alloc_async ? a->iface->alloc_async(a, n, run_state) : a->iface->alloc(a, n);
  if (!p) return NULL;
  int64_t now = atomic_fetch_add(&a->in_use, (int64_t)n) + (int64_t)n;
  int64_t peak = atomic_load(&a->peak);
  while (now > peak && !atomic_compare_exchange_weak(&a->peak, &peak, now)) {
  }
  atomic_fetch_add(&a->allocs, 1);
  return p;
}

void onyx_allocator_free(onyx_allocator *a, void *p, size_t n, void *run_state) {
  if (!p) return;
  atomic_fetch_sub(&a->in_use, (int64_t)n);
  atomic_fetch_add(&a->frees, 1);
  if (run_state && a->iface->release_async) a->iface->release_async(a, p, n, run_state);
  else a->iface->release(a, p, n);
}

bool onyx_allocator_frees_in_order(const onyx_allocator *a) { return a->host || a->iface->release_async; }

onyx_status *onyx_allocator_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind,
                                 void *run_state) {
  if (!a->iface->copy)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "memory space %s cannot copy", a->name);
  return a->iface->copy(a, dst, src, n, kind, run_state);
}
