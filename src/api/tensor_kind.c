/* tensor_kind.c — public accessors for values that are not plain tensors.
 *
 * Inside the library a sequence or optional is an onyx_tensor whose `kind`
 * says so (base/tensor.h); these functions let API users (the CLI, the
 * Python binding) tell them apart and reach their elements without seeing
 * the struct layout. */
#include "base/tensor.h"

_Static_assert((int)ONYX_VALUE_TENSOR == (int)ONYX_KIND_TENSOR &&
                   (int)ONYX_VALUE_SEQUENCE == (int)ONYX_KIND_SEQUENCE &&
                   (int)ONYX_VALUE_OPTIONAL == (int)ONYX_KIND_OPTIONAL,
               "public onyx_value_kind must mirror the internal onyx_kind");

onyx_value_kind onyx_tensor_kind(const onyx_tensor *t) { return (onyx_value_kind)t->kind; }

int onyx_tensor_elem_count(const onyx_tensor *t) {
  return t->kind == ONYX_KIND_TENSOR ? 0 : t->n_elems;
}

onyx_tensor *onyx_tensor_elem(onyx_tensor *t, int i) {
  if (t->kind == ONYX_KIND_TENSOR || i < 0 || i >= t->n_elems) return NULL;
  return t->elems[i];
}
