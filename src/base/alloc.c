/* alloc.c — allocation choke point with a fault-injection hook for tests. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t alloc_count;
static _Atomic int64_t fail_after = -1;

/* Returns 1 when this allocation must fail (fault injection in tests). */
static int should_fail(void) {
  int64_t c = atomic_fetch_add(&alloc_count, 1);
  int64_t f = atomic_load(&fail_after);
  return f >= 0 && c >= f;
}

void onyx_alloc_fail_after(int64_t n) {
  atomic_store(&alloc_count, 0);
  atomic_store(&fail_after, n);
}

int64_t onyx_alloc_count(void) { return atomic_load(&alloc_count); }

void *onyx_malloc(size_t n) {
  if (should_fail()) return NULL;
  return malloc(n ? n : 1);
}

void *onyx_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  if (should_fail()) return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *onyx_realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void onyx_free(void *p) { free(p); }

char *onyx_strndup(const char *s, size_t n) {
  char *d = onyx_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *onyx_strdup(const char *s) { return onyx_strndup(s, strlen(s)); }

void *onyx_malloc_aligned(size_t n) {
  if (should_fail()) return NULL;
  n = (n + 63) & ~(size_t)63;
  return aligned_alloc(64, n ? n : 64);
}

void onyx_free_aligned(void *p) { free(p); }
