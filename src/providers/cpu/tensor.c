/* tensor.c — cpu kernels of the tensor (data movement) op family: the
 * family's one kernel table, plus the small kernels that only copy or
 * produce data from attributes (Identity, Reshape-like views, Shape, Size,
 * Constant, ConstantOfShape, Range, EyeLike). The larger kernels live in
 * files named for them (transpose.c, slice_pad.c, gather.c, resize.c ...). */
#include <string.h>

#include "base/half.h"
#include "tensor_kernels.h"

static onyx_status *identity_run(onyx_kernel_ctx *c) {
  onyx_tensor *o = c->out[0];
  if (c->in[0]->kind != ONYX_KIND_TENSOR || c->in[0]->dtype == ONYX_DTYPE_STRING) {
    onyx_tensor *cl;
    ONYX_TRY(onyx_tensor_clone(c->in[0], &cl));
    onyx_tensor tmp = *o;
    *o = *cl;
    *cl = tmp;
    onyx_tensor_free(cl);
    return NULL;
  }
  memcpy(o->data, c->in[0]->data, c->in[0]->nbytes);
  return NULL;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: same elements in the same order;
 * the output shape came from the infer function. */
static onyx_status *copy_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  int64_t n = onyx_numel(x->rank, x->dims);
  if (n != onyx_numel(o->rank, o->dims))
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "output has %lld elements, input %lld",
                           (long long)onyx_numel(o->rank, o->dims), (long long)n);
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  if (n) memcpy(o->data, x->data, (size_t)n * esz);
  return cpu_strings_own(o);
}

static onyx_status *shape_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  int64_t *o = c->out[0]->data;
  int64_t r = x->rank, s = 0;
  if (c->node->opset >= 15) {
    s = onyx_attr_int(c->node, "start", 0);
    if (s < 0) s += r;
    s = s < 0 ? 0 : s > r ? r : s;
  }
  for (int64_t i = 0; i < c->out[0]->dims[0]; i++) o[i] = x->dims[s + i];
  return NULL;
}

static onyx_status *size_run(onyx_kernel_ctx *c) {
  *(int64_t *)c->out[0]->data = onyx_numel(c->in[0]->rank, c->in[0]->dims);
  return NULL;
}

static onyx_status *constant_run(onyx_kernel_ctx *c) {
  const onyx_attr *a = &c->node->attrs[0];
  onyx_tensor *o = c->out[0];
  int64_t n = onyx_numel(o->rank, o->dims);
  if (a->t) {
    if (n) memcpy(o->data, a->t->data, o->nbytes);
  } else if (a->type == ONYX_ATTR_FLOAT) {
    *(float *)o->data = a->f;
  } else if (a->type == ONYX_ATTR_INT) {
    *(int64_t *)o->data = a->i;
  } else if (a->type == ONYX_ATTR_STRING) {
    *(const char **)o->data = a->s;
  } else if (a->type == ONYX_ATTR_FLOATS) {
    if (n) memcpy(o->data, a->floats, (size_t)n * sizeof(float));
  } else if (a->type == ONYX_ATTR_INTS) {
    if (n) memcpy(o->data, a->ints, (size_t)n * sizeof(int64_t));
  } else if (a->type == ONYX_ATTR_STRINGS) {
    if (n) memcpy(o->data, a->strings, (size_t)n * sizeof(char *));
  } else {
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "attribute '%s' is not supported", a->name);
  }
  return cpu_strings_own(o);
}

/* Fills n elements of esz bytes with the pattern at v. */
static void fill(void *dst, const void *v, size_t esz, int64_t n) {
  char *d = dst;
  if (n <= 0) return;
  memcpy(d, v, esz);
  int64_t done = 1;
  while (done < n) {   /* doubling copies: O(log n) memcpy calls */
    int64_t k = done < n - done ? done : n - done;
    memcpy(d + done * (int64_t)esz, d, (size_t)k * esz);
    done += k;
  }
}

static onyx_status *constant_of_shape_run(onyx_kernel_ctx *c) {
  onyx_tensor *o = c->out[0];
  const onyx_attr *a = onyx_node_attr(c->node, "value");
  float zero = 0.0f;
  const void *v = a && a->t ? a->t->data : &zero;
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, o->dtype, &esz));
  fill(o->data, v, esz, onyx_numel(o->rank, o->dims));
  return cpu_strings_own(o);
}

static onyx_status *range_run(onyx_kernel_ctx *c) {
  onyx_tensor *o = c->out[0];
  int64_t n = o->dims[0];
  const onyx_tensor *s = c->in[0], *d = c->in[2];
  switch (o->dtype) {
#define RANGE_F(DT, T)                                                          \
  case DT: {                                                                    \
    T st = *(const T *)s->data, de = *(const T *)d->data, *p = o->data;         \
    for (int64_t i = 0; i < n; i++) p[i] = (T)(st + (T)i * de);                 \
    return NULL;                                                                \
  }
    RANGE_F(ONYX_DTYPE_FLOAT, float)
    RANGE_F(ONYX_DTYPE_DOUBLE, double)
    RANGE_F(ONYX_DTYPE_INT16, int16_t)
    RANGE_F(ONYX_DTYPE_INT32, int32_t)
    RANGE_F(ONYX_DTYPE_INT64, int64_t)
#undef RANGE_F
    default:
      return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                             onyx_dtype_name(o->dtype));
  }
}

/* Writes the value 1 of dtype dt at p; false for dtypes without a 1. */
static bool write_one(onyx_dtype dt, void *p) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: *(float *)p = 1.0f; return true;
    case ONYX_DTYPE_DOUBLE: *(double *)p = 1.0; return true;
    case ONYX_DTYPE_FLOAT16: *(uint16_t *)p = onyx_f32_to_f16(1.0f); return true;
    case ONYX_DTYPE_BFLOAT16: *(uint16_t *)p = onyx_f32_to_bf16(1.0f); return true;
    case ONYX_DTYPE_INT8: case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: *(uint8_t *)p = 1; return true;
    case ONYX_DTYPE_INT16: case ONYX_DTYPE_UINT16: *(uint16_t *)p = 1; return true;
    case ONYX_DTYPE_INT32: case ONYX_DTYPE_UINT32: *(uint32_t *)p = 1; return true;
    case ONYX_DTYPE_INT64: case ONYX_DTYPE_UINT64: *(uint64_t *)p = 1; return true;
    default: return false;
  }
}

static onyx_status *eye_like_run(onyx_kernel_ctx *c) {
  onyx_tensor *o = c->out[0];
  size_t esz = onyx_dtype_size(o->dtype);
  char one[16];
  if (!write_one(o->dtype, one))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(o->dtype));
  int64_t rows = o->dims[0], cols = o->dims[1], k = onyx_attr_int(c->node, "k", 0);
  memset(o->data, 0, o->nbytes);
  for (int64_t i = 0; i < rows; i++)
    if (i + k >= 0 && i + k < cols) memcpy((char *)o->data + (size_t)(i * cols + i + k) * esz, one, esz);
  return NULL;
}

const onyx_kernel cpu_kernels_tensor[] = {
    {.op = onyx_op_Identity, .run = identity_run},
    {.op = onyx_op_Reshape, .run = copy_run},
    {.op = onyx_op_Flatten, .run = copy_run},
    {.op = onyx_op_Squeeze, .run = copy_run},
    {.op = onyx_op_Unsqueeze, .run = copy_run},
    {.op = onyx_op_Shape, .run = shape_run},
    {.op = onyx_op_Size, .run = size_run},
    {.op = onyx_op_Constant, .run = constant_run},
    {.op = onyx_op_ConstantOfShape, .run = constant_of_shape_run},
    {.op = onyx_op_Range, .run = range_run},
    {.op = onyx_op_EyeLike, .run = eye_like_run},
    {.op = onyx_op_Transpose, .run = cpu_transpose_run},
    {.op = onyx_op_DepthToSpace, .run = cpu_depth_to_space_run},
    {.op = onyx_op_SpaceToDepth, .run = cpu_space_to_depth_run},
    {.op = onyx_op_Concat, .run = cpu_concat_run},
    {.op = onyx_op_Split, .run = cpu_split_run},
    {.op = onyx_op_Slice, .run = cpu_slice_run},
    {.op = onyx_op_Expand, .run = cpu_expand_run},
    {.op = onyx_op_Tile, .run = cpu_tile_run},
    {.op = onyx_op_Pad, .run = cpu_pad_run},
    {.op = onyx_op_CenterCropPad, .run = cpu_center_crop_pad_run},
    {.op = onyx_op_Gather, .run = cpu_gather_run},
    {.op = onyx_op_GatherElements, .run = cpu_gather_elements_run},
    {.op = onyx_op_GatherND, .run = cpu_gather_nd_run},
    {.op = onyx_op_Scatter, .run = cpu_scatter_elements_run},
    {.op = onyx_op_ScatterElements, .run = cpu_scatter_elements_run},
    {.op = onyx_op_ScatterND, .run = cpu_scatter_nd_run},
    {.op = onyx_op_OneHot, .run = cpu_one_hot_run},
    {.op = onyx_op_NonZero, .run = cpu_non_zero_run},
    {.op = onyx_op_Compress, .run = cpu_compress_run},
    {.op = onyx_op_Unique, .run = cpu_unique_run},
    {.op = onyx_op_Trilu, .run = cpu_trilu_run},
    {.op = onyx_op_ReverseSequence, .run = cpu_reverse_sequence_run},
    {.op = onyx_op_Resize, .run = cpu_resize_run},
    {.op = onyx_op_Upsample, .run = cpu_resize_run},
    {.op = onyx_op_Col2Im, .run = cpu_col2im_run},
    {.op = -1},
};
