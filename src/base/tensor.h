/* tensor.h — the layout of onyx_tensor, for code inside the library.
 *
 * A tensor is dense, row-major (C order), in one memory space: its data
 * belongs to `alloc` (allocator.h; NULL means the host), through which it
 * is allocated, freed, cloned and copied. Only host tensors may be read by
 * host code; device tensors are touched by their provider's kernels and
 * copies. Strings, sequences and optionals live on the host. `kind` lets the same
 * handle carry an ONNX sequence (elems: owned tensors) or optional (an
 * optional with no value has kind OPTIONAL and n_elems 0), the way ORT's
 * OrtValue does, so executors and the API move one type around.
 * String tensors hold `numel` owned char* in data. */
#ifndef ONYX_BASE_TENSOR_H
#define ONYX_BASE_TENSOR_H

#include <stdbool.h>

#include "allocator.h"
#include "onyx.h"

typedef enum onyx_kind {
  ONYX_KIND_TENSOR = 0,
  ONYX_KIND_SEQUENCE,
  ONYX_KIND_OPTIONAL,
} onyx_kind;

struct onyx_tensor {
  onyx_kind kind;
  onyx_dtype dtype;       /* for sequences/optionals: the element dtype, if known */
  int rank;
  int64_t dims[ONYX_MAX_RANK];
  void *data;             /* NULL until allocated; never NULL once allocated */
  size_t nbytes;          /* bytes of data */
  bool owns_data;         /* false: borrowed (caller memory, mmapped weights) */
  onyx_allocator *alloc;  /* the memory space of data; NULL: the host */
  int n_elems;            /* sequence/optional elements */
  onyx_tensor **elems;    /* owned */
};

/* 4-bit integers (INT4, UINT4) are packed as ONNX stores them: two to a
 * byte, element 2k in the low nibble of byte k and 2k+1 in the high one; an
 * odd count leaves the last high nibble 0. onyx_dtype_size gives 0 for them
 * (no whole byte per element) and onyx_dtype_bytes the packed size, so code
 * that steps by element size rejects them unless it unpacks with these. */
static inline int onyx_nibble_get(const void *p, int64_t i, bool is_signed) {
  unsigned b = ((const unsigned char *)p)[i >> 1];
  int v = (int)((i & 1) ? b >> 4 : b & 15u);
  return is_signed ? (v ^ 8) - 8 : v;
}
/* Stores the low 4 bits of v as element i, keeping the byte's other nibble. */
static inline void onyx_nibble_set(void *p, int64_t i, int v) {
  unsigned char *b = (unsigned char *)p + (i >> 1);
  unsigned n = (unsigned)v & 15u;
  *b = (unsigned char)((i & 1) ? (*b & 0x0Fu) | n << 4 : (*b & 0xF0u) | n);
}

/* The allocator of t's memory space (the host's when t->alloc is NULL). */
static inline onyx_allocator *onyx_tensor_allocator(const onyx_tensor *t) {
  return t->alloc ? t->alloc : &onyx_host_allocator;
}
/* Whether host code may read t's data. */
static inline bool onyx_tensor_on_host(const onyx_tensor *t) { return !t->alloc || t->alloc->host; }

/* Product of dims (1 for rank 0), saturating at INT64_MAX where the true
 * product overflows (hostile shapes must not wrap into small sizes). */
int64_t onyx_numel(int rank, const int64_t *dims);
/* Bytes for `numel` elements of dtype (sub-byte types packed, rounded up),
 * saturating at SIZE_MAX. */
size_t onyx_dtype_bytes(onyx_dtype dtype, int64_t numel);
/* The largest element count onyx accepts for a fixed shape: any dtype's
 * bytes for it still fit in int64 (16-byte elements at most). */
#define ONYX_MAX_NUMEL (INT64_MAX / 16)
/* Whether the fixed (>= 0) dims of a shape have a product of at most
 * ONYX_MAX_NUMEL; dims not fixed (< 0) are left out. */
bool onyx_dims_fit(int rank, const int64_t *dims);
/* a * b for non-negative a, b, saturating at INT64_MAX. */
int64_t onyx_mul_sat(int64_t a, int64_t b);

/* Creates a tensor header with shape and dtype but no data (data NULL). */
onyx_status *onyx_tensor_new_empty(onyx_dtype dtype, int rank, const int64_t *dims,
                                   onyx_tensor **out);
/* Allocates (uninitialised, 64-byte aligned) data for a header made by
 * onyx_tensor_new_empty, in the header's memory space (t->alloc), after
 * optionally setting a new shape (dims may be NULL to keep the shape).
 * Fails if the tensor already has data. */
onyx_status *onyx_tensor_alloc(onyx_tensor *t, int rank, const int64_t *dims);
/* onyx_tensor_alloc ordered on a provider's run state (allocator.h). */
onyx_status *onyx_tensor_alloc_async(onyx_tensor *t, int rank, const int64_t *dims, void *run_state);
/* Releases t's data and elements, leaving an empty header of the same
 * dtype, kind and memory space (for headers the executor reuses). */
void onyx_tensor_clear(onyx_tensor *t);
/* Deep copy, in the same memory space (synchronous). */
onyx_status *onyx_tensor_clone(const onyx_tensor *t, onyx_tensor **out);
/* New tensor of t's dtype and shape in memory space `to` (NULL: the host)
 * holding t's contents (synchronous); sequences and optionals only to the
 * host. */
onyx_status *onyx_tensor_clone_to(const onyx_tensor *t, onyx_allocator *to, onyx_tensor **out);
/* Copies src's data into dst (same dtype and element count, allocated),
 * between any two spaces; asynchronous on run_state as allocator.h says
 * (run_state must belong to the provider of the device side; NULL: done
 * on return). Copies between two device spaces go through the host. */
onyx_status *onyx_tensor_copy_data(onyx_tensor *dst, const onyx_tensor *src, void *run_state);
/* New tensor that borrows `t`'s data with another shape of the same numel. */
onyx_status *onyx_tensor_view(const onyx_tensor *t, int rank, const int64_t *dims,
                              onyx_tensor **out);
/* Moves src's contents (kind, dtype, shape, data, elements) into dst, whose
 * own contents are released first, and frees the src shell. For kernels that
 * compute a value elsewhere (a subgraph) and hand it to a pre-made output. */
void onyx_tensor_move(onyx_tensor *dst, onyx_tensor *src);
/* Element i of a tensor of any numeric dtype as int64 (for shape logic:
 * reading axes, starts, shape tensors); the double form is public (onyx.h). */
int64_t onyx_tensor_get_i64(const onyx_tensor *t, int64_t i);
/* Sequence / optional constructors; `elems` ownership transfers on success. */
onyx_status *onyx_sequence_new(onyx_dtype elem_dtype, int n, onyx_tensor **elems,
                               onyx_tensor **out);
/* Shape as "[1,3,224,224]" into buf. Returns buf. */
char *onyx_shape_str(int rank, const int64_t *dims, char *buf, size_t len);

#endif
