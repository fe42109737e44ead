/* col2im.c — cpu kernel for Col2Im (opset 18): the inverse of im2col,
 * summing each column entry back into the N-d image position its sliding
 * block covered (with pads, strides and dilations). float and double. */
#include <string.h>

#include "tensor_kernels.h"

/* Reads an INTS attribute of length k or fills `def`. */
static onyx_status *ints_or(const onyx_node *n, const char *name, int k, int64_t def, int64_t *out) {
  int cnt;
  const int64_t *v;
  if (!onyx_attr_ints(n, name, &cnt, &v)) {
    for (int i = 0; i < k; i++) out[i] = def;
    return NULL;
  }
  if (cnt != k) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s has %d values, expected %d", name, cnt, k);
  memcpy(out, v, (size_t)k * sizeof *v);
  return NULL;
}

onyx_status *cpu_col2im_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0], *img = c->in[1], *blk = c->in[2];
  onyx_tensor *o = c->out[0];
  if (x->dtype != ONYX_DTYPE_FLOAT && x->dtype != ONYX_DTYPE_DOUBLE)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(x->dtype));
  int k = (int)onyx_numel(img->rank, img->dims);
  if (k != onyx_numel(blk->rank, blk->dims) || k < 1 || k + 2 > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "image_shape and block_shape differ in length");
  int64_t ishape[ONYX_MAX_RANK], kshape[ONYX_MAX_RANK], dil[ONYX_MAX_RANK], str[ONYX_MAX_RANK];
  int64_t pads[2 * ONYX_MAX_RANK], nblk[ONYX_MAX_RANK];
  ONYX_TRY(ints_or(n, "dilations", k, 1, dil));
  ONYX_TRY(ints_or(n, "strides", k, 1, str));
  ONYX_TRY(ints_or(n, "pads", 2 * k, 0, pads));
  int64_t kprod = 1, L = 1;
  for (int d = 0; d < k; d++) {
    ishape[d] = onyx_tensor_get_i64(img, d);
    kshape[d] = onyx_tensor_get_i64(blk, d);
    int64_t span = dil[d] * (kshape[d] - 1) + 1;
    if (kshape[d] < 1 || str[d] < 1 || dil[d] < 1 || ishape[d] + pads[d] + pads[k + d] < span)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "block does not fit the image on dim %d", d);
    nblk[d] = (ishape[d] + pads[d] + pads[k + d] - span) / str[d] + 1;
    kprod *= kshape[d];
    L *= nblk[d];
  }
  if (x->rank != 3 || x->dims[1] % kprod || x->dims[2] != L)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input shape does not match the blocks (%lld per column, %lld blocks)",
                           (long long)kprod, (long long)L);
  int64_t N = x->dims[0], C = x->dims[1] / kprod, isz = onyx_numel(k, ishape);
  memset(o->data, 0, o->nbytes);
  for (int64_t nc = 0; nc < N * C; nc++)
    for (int64_t kp = 0; kp < kprod; kp++)
      for (int64_t b = 0; b < L; b++) {
        int64_t pos = 0, krem = kp, brem = b;
        bool inside = true;
        for (int d = k - 1; d >= 0; d--) {
          int64_t ki = krem % kshape[d], bi = brem % nblk[d];
          krem /= kshape[d];
          brem /= nblk[d];
          int64_t coord = bi * str[d] - pads[d] + ki * dil[d];
          if (coord < 0 || coord >= ishape[d]) inside = false;
          int64_t stride = onyx_numel(k - d - 1, ishape + d + 1);
          pos += coord * stride;
        }
        if (!inside) continue;
        int64_t src = (nc * kprod + kp) * L + b, dst = nc * isz + pos;
        if (x->dtype == ONYX_DTYPE_FLOAT) ((float *)o->data)[dst] += ((const float *)x->data)[src];
        else ((double *)o->data)[dst] += ((const double *)x->data)[src];
      }
  return NULL;
}
