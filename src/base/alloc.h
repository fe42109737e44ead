/* alloc.h — the one allocation choke point of the library.
 *
 * Every heap allocation in src/ goes through these functions so that tests can
 * make the N-th allocation fail (onyx_alloc_fail_at) and check that the error
 * comes back and nothing leaks, and so that statistics can be kept. Thread-safe.
 * onyx_malloc(0) returns a valid unique pointer. */
#ifndef ONYX_BASE_ALLOC_H
#define ONYX_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *onyx_malloc(size_t n);
void *onyx_calloc(size_t count, size_t size);   /* overflow-checked */
void *onyx_realloc(void *p, size_t n);
void onyx_free(void *p);
char *onyx_strdup(const char *s);
char *onyx_strndup(const char *s, size_t n);
/* 64-byte aligned (SIMD, cache lines); release with onyx_free_aligned. */
void *onyx_malloc_aligned(size_t n);
void onyx_free_aligned(void *p);

/* Test hooks: after `n` more successful allocations, every allocation fails
 * (n < 0 disables). Returns the number of allocations made so far. */
void onyx_alloc_fail_after(int64_t n);
int64_t onyx_alloc_count(void);

#endif
