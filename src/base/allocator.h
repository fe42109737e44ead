/* allocator.h — memory spaces: where a tensor's bytes live and how they get
 * there.
 *
 * A memory space is (device kind, ordinal): the host, or one device of one
 * kind ("cuda:0"). Each space has exactly one onyx_allocator, which owns
 * its memory (alloc/free, statistics) and moves bytes in and out of it
 * (copy). Tensors remember the allocator that holds their data, so freeing,
 * cloning and copying a tensor work wherever it lives. The host space's
 * allocator is the static onyx_host_allocator (the aligned heap of
 * alloc.h); a device provider owns its device's allocator and hands it to
 * the session, which shares it between every provider on that device.
 *
 * Copies may be asynchronous: a copy given a provider's per-run state
 * (e.g. a stream) is ordered on it and complete after that provider's
 * sync. Whatever the run state, a copy has finished reading a host source
 * when it returns (CUDA stages pageable memory the same way), so host
 * memory is never read behind the executor's back. Without a run state a
 * copy is complete when it returns.
 *
 * Versioning: slots are only added at the end; those marked (optional) may
 * be NULL. Statistics are kept by the wrapper functions below, not by the
 * implementations, and are safe to read while others allocate. */
#ifndef ONYX_BASE_ALLOCATOR_H
#define ONYX_BASE_ALLOCATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct onyx_allocator onyx_allocator;

/* Direction of a copy, seen from the allocator's space. */
typedef enum onyx_copy_kind {
  ONYX_COPY_TO_DEVICE,     /* host -> this space */
  ONYX_COPY_TO_HOST,       /* this space -> host */
  ONYX_COPY_ON_DEVICE,     /* within this space */
} onyx_copy_kind;

typedef struct onyx_allocator_iface {
  /* n bytes, 64-byte aligned; NULL when the space is full. */
  void *(*alloc)(onyx_allocator *a, size_t n);
  /* releases what alloc returned (p may be NULL); n is the size asked. */
  void (*release)(onyx_allocator *a, void *p, size_t n);
  /* (optional) release ordered after the work already queued on run_state
   * (a stream-ordered free, like cudaFreeAsync). Without it the executor
   * holds memory that in-flight work may read until the provider syncs. */
  void (*release_async)(onyx_allocator *a, void *p, size_t n, void *run_state);
  /* (optional for the host space) copies n bytes; see the header comment
   * for run_state. Errors name the space and the call that failed. */
  onyx_status *(*copy)(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind,
                       void *run_state);
  /* (optional) bytes the space holds from the system beyond what is in use
   * (pools); 0 when not offered. */
  int64_t (*reserved)(onyx_allocator *a);
  /* (optional) alloc ordered on run_state's queue (a stream-ordered
   * allocation, like cudaMallocAsync): the memory may be used by work
   * queued there after the call. Without it, alloc serves. */
  void *(*alloc_async)(onyx_allocator *a, size_t n, void *run_state);
} onyx_allocator_iface;

struct onyx_allocator {
  const onyx_allocator_iface *iface;
  char name[32];       /* "cpu" for the host, else "<kind>:<ordinal>", e.g. "cuda:0" */
  bool host;           /* the host space: the CPU may read and write its memory */
  void *ctx;           /* the implementation's */
  /* statistics, kept by onyx_allocator_alloc/_free */
  _Atomic int64_t in_use, peak, allocs, frees;
};

/* The host space (aligned heap; counted like every other space). */
extern onyx_allocator onyx_host_allocator;

/* Allocates n bytes in a's space (NULL: out of memory there); with a
 * run_state, ordered on its queue where the space offers that. */
void *onyx_allocator_alloc(onyx_allocator *a, size_t n);
void *onyx_allocator_alloc_async(onyx_allocator *a, size_t n, void *run_state);
/* Frees p (may be NULL) of size n now; run_state non-NULL and a stream-
 * ordered release offered: ordered after the work queued on run_state. */
void onyx_allocator_free(onyx_allocator *a, void *p, size_t n, void *run_state);
/* Whether freeing on run_state needs no wait (host, or release_async). */
bool onyx_allocator_frees_in_order(const onyx_allocator *a);
/* Copies n bytes between host memory and a's space, or within it. */
onyx_status *onyx_allocator_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind,
                                 void *run_state);

#endif
