/* nn.c — the cpu kernel table of the nn op family (pooling, normalization,
 * softmax, dropout; kernels in pool.c, norm.c, softmax.c, dropout.c) and the
 * helpers they share: dtype dispatch, which runs the float32 kernels on
 * float16/bfloat16 (and, for max pooling, int8/uint8) data through float32
 * copies, so each op has one tight loop to keep fast and correct. */
#include <math.h>

#include "base/half.h"
#include "nn.h"

#define NN_MAX_IO 8

static bool convertible(onyx_dtype t, bool ints) {
  return t == ONYX_DTYPE_FLOAT16 || t == ONYX_DTYPE_BFLOAT16 ||
         (ints && (t == ONYX_DTYPE_INT8 || t == ONYX_DTYPE_UINT8));
}

static void to_f32(const onyx_tensor *t, float *dst) {
  int64_t n = onyx_numel(t->rank, t->dims);
  const void *p = t->data;
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT16:
      for (int64_t i = 0; i < n; i++) dst[i] = onyx_f16_to_f32(((const uint16_t *)p)[i]);
      break;
    case ONYX_DTYPE_BFLOAT16:
      for (int64_t i = 0; i < n; i++) dst[i] = onyx_bf16_to_f32(((const uint16_t *)p)[i]);
      break;
    case ONYX_DTYPE_INT8:
      for (int64_t i = 0; i < n; i++) dst[i] = ((const int8_t *)p)[i];
      break;
    default: /* UINT8 */
      for (int64_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)p)[i];
      break;
  }
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void from_f32(const float *src, onyx_tensor *t) {
  int64_t n = onyx_numel(t->rank, t->dims);
  void *p = t->data;
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT16:
      for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[i] = onyx_f32_to_f16(src[i]);
      break;
    case ONYX_DTYPE_BFLOAT16:
      for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[i] = onyx_f32_to_bf16(src[i]);
      break;
    case ONYX_DTYPE_INT8:
      for (int64_t i = 0; i < n; i++) ((int8_t *)p)[i] = (int8_t)nearbyintf(clampf(src[i], -128, 127));
      break;
    default: /* UINT8 */
      for (int64_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)nearbyintf(clampf(src[i], 0, 255));
      break;
  }
}

/* A float32 tensor shaped like t; data allocated (and converted from t) when t has data. */
static onyx_status *f32_twin(const onyx_tensor *t, bool convert, onyx_tensor **out) {
  onyx_tensor *f;
  ONYX_TRY(onyx_tensor_new_empty(ONYX_DTYPE_FLOAT, t->rank, t->dims, &f));
  if (t->data) {
    onyx_status *s = onyx_tensor_alloc(f, t->rank, NULL);
    if (s) {
      onyx_tensor_free(f);
      return s;
    }
    if (convert) to_f32(t, f->data);
  }
  *out = f;
  return NULL;
}

onyx_status *nn_dispatch(onyx_kernel_ctx *c, nn_f32_fn f32, bool ints) {
  onyx_dtype dt = c->in[0]->dtype;
  if (dt == ONYX_DTYPE_FLOAT) return f32(c);
  if (!convertible(dt, ints))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input dtype %s is not supported",
                           onyx_dtype_name(dt));
  if (c->n_in > NN_MAX_IO || c->n_out > NN_MAX_IO)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "too many inputs or outputs");
  onyx_tensor *in[NN_MAX_IO] = {0}, *out[NN_MAX_IO] = {0};
  onyx_tensor *tin[NN_MAX_IO] = {0}, *tout[NN_MAX_IO] = {0};  /* owned float32 twins */
  onyx_status *s = NULL;
  for (int i = 0; i < c->n_in; i++) {
    in[i] = c->in[i];
    if (in[i] && in[i]->dtype == dt) {
      if ((s = f32_twin(c->in[i], true, &tin[i]))) goto done;
      in[i] = tin[i];
    }
  }
  for (int i = 0; i < c->n_out; i++) {
    out[i] = c->out[i];
    if (out[i] && out[i]->dtype == dt) {
      if ((s = f32_twin(c->out[i], false, &tout[i]))) goto done;
      out[i] = tout[i];
    }
  }
  onyx_kernel_ctx fc = *c;
  fc.in = in;
  fc.out = out;
  if ((s = f32(&fc))) goto done;
  for (int i = 0; i < c->n_out; i++) {
    if (!tout[i]) continue;
    if (!c->out[i]->data && (s = onyx_tensor_alloc(c->out[i], tout[i]->rank, tout[i]->dims))) goto done;
    from_f32(tout[i]->data, c->out[i]);
  }
done:
  for (int i = 0; i < NN_MAX_IO; i++) {
    onyx_tensor_free(tin[i]);
    onyx_tensor_free(tout[i]);
  }
  return s;
}

size_t nn_grain(int64_t work) {
  const int64_t chunk = 32768;
  return work >= chunk ? 1 : (size_t)(chunk / (work > 0 ? work : 1));
}

const onyx_kernel cpu_kernels_nn[] = {
    {.op = onyx_op_MaxPool, .run = cpu_maxpool},
    {.op = onyx_op_AveragePool, .run = cpu_averagepool},
    {.op = onyx_op_LpPool, .run = cpu_lppool},
    {.op = onyx_op_GlobalAveragePool, .run = cpu_global_averagepool},
    {.op = onyx_op_GlobalMaxPool, .run = cpu_global_maxpool},
    {.op = onyx_op_GlobalLpPool, .run = cpu_global_lppool},
    {.op = onyx_op_MaxRoiPool, .run = cpu_max_roi_pool},
    {.op = onyx_op_MaxUnpool, .run = cpu_max_unpool},
    {.op = onyx_op_BatchNormalization, .run = cpu_batch_norm},
    {.op = onyx_op_InstanceNormalization, .run = cpu_instance_norm},
    {.op = onyx_op_LayerNormalization, .run = cpu_layer_norm},
    {.op = onyx_op_GroupNormalization, .run = cpu_group_norm},
    {.op = onyx_op_LRN, .run = cpu_lrn},
    {.op = onyx_op_MeanVarianceNormalization, .run = cpu_mvn},
    {.op = onyx_op_LpNormalization, .run = cpu_lp_norm},
    {.op = onyx_op_Softmax, .run = cpu_softmax},
    {.op = onyx_op_LogSoftmax, .run = cpu_log_softmax},
    {.op = onyx_op_Hardmax, .run = cpu_hardmax},
    {.op = onyx_op_Dropout, .run = cpu_dropout},
    {.op = -1},
};
