/* concat_split.c — cpu kernels for Concat and Split. Both see the tensors
 * as 2-D [outer, axis * inner] blocks and copy each input (output) as one
 * strided 2-D view, so the copy engine turns them into memcpy rows. */
#include "ops/tensor_params.h"
#include "tensor_kernels.h"

/* Elements before the axis (outer) and from the axis on, excluding it (inner). */
static void outer_inner(const onyx_tensor *t, int axis, int64_t *outer, int64_t *inner) {
  *outer = onyx_numel(axis, t->dims);
  *inner = onyx_numel(t->rank - axis - 1, t->dims + axis + 1);
}

onyx_status *cpu_concat_run(onyx_kernel_ctx *c) {
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, o->dtype, &esz));
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 1), o->rank, &axis));
  int64_t outer, inner, off = 0;
  outer_inner(o, axis, &outer, &inner);
  int64_t row = o->dims[axis] * inner;
  for (int i = 0; i < c->n_in; i++) {
    const onyx_tensor *x = c->in[i];
    int64_t w = x->dims[axis] * inner;
    int64_t dims[2] = {outer, w}, ds[2] = {row, 1}, ss[2] = {w, 1};
    cpu_copy_strided(c->pool, (char *)o->data + (size_t)off * esz, x->data, esz, 2, dims, ds, ss);
    off += w;
  }
  return cpu_strings_own(o);
}

onyx_status *cpu_split_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 0), x->rank, &axis));
  int64_t sizes[64];
  if (c->n_out > 64) return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "more than 64 outputs");
  const onyx_tensor *split = c->n_in > 1 && !onyx_tensor_absent(c->in[1]) ? c->in[1] : NULL;
  ONYX_TRY(onyx_split_sizes(c->node, x->dims[axis], split, c->n_out, sizes));
  int64_t outer, inner, off = 0;
  outer_inner(x, axis, &outer, &inner);
  int64_t row = x->dims[axis] * inner;
  for (int i = 0; i < c->n_out; i++) {
    onyx_tensor *o = c->out[i];
    int64_t w = sizes[i] * inner;
    if (o) {
      int64_t dims[2] = {outer, w}, ds[2] = {w, 1}, ss[2] = {row, 1};
      cpu_copy_strided(c->pool, o->data, (const char *)x->data + (size_t)off * esz, esz, 2, dims, ds, ss);
      ONYX_TRY(cpu_strings_own(o));
    }
    off += w;
  }
  return NULL;
}
