/* transpose.c — cpu kernels that permute dims: Transpose, DepthToSpace and
 * SpaceToDepth. Each describes its output as a strided view of the input
 * and hands it to cpu_copy_strided, whose tiled path makes 2-D and batched
 * transposes cache-friendly. */
#include <string.h>

#include "ops/tensor_params.h"
#include "tensor_kernels.h"

onyx_status *cpu_transpose_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int perm[ONYX_MAX_RANK];
  ONYX_TRY(onyx_transpose_perm(c->node, x->rank, perm));
  int64_t xs[ONYX_MAX_RANK], os[ONYX_MAX_RANK], ss[ONYX_MAX_RANK];
  cpu_strides(x->rank, x->dims, xs);
  cpu_strides(o->rank, o->dims, os);
  for (int i = 0; i < x->rank; i++) ss[i] = xs[perm[i]];
  cpu_copy_strided(c->pool, o->data, x->data, esz, o->rank, o->dims, os, ss);
  return cpu_strings_own(o);
}

/* DepthToSpace / SpaceToDepth as a 6-D view: `dims` of the output in the
 * order it is written, `src` the input strides for each of them. */
static onyx_status *space_depth_run(onyx_kernel_ctx *c, bool to_space) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int64_t b = onyx_attr_int(c->node, "blocksize", 1);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  int64_t dims[6], src[6], dst[6];
  if (to_space) {
    const char *mode = onyx_attr_string(c->node, "mode", "DCR");
    bool crd = c->node->opset >= 11 && !strcmp(mode, "CRD");
    if (!crd && strcmp(mode, "DCR"))
      return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "mode '%s' is not supported", mode);
    int64_t Co = C / (b * b);
    /* output [N, Co, H, b, W, b] row-major = [N, Co, H*b, W*b] */
    int64_t d[6] = {N, Co, H, b, W, b};
    int64_t s[6] = {C * H * W, crd ? b * b * H * W : H * W, W, crd ? b * H * W : b * Co * H * W, 1,
                    crd ? H * W : Co * H * W};
    memcpy(dims, d, sizeof d);
    memcpy(src, s, sizeof s);
  } else {
    int64_t Ho = H / b, Wo = W / b;
    /* output [N, b, b, C, Ho, Wo] row-major = [N, C*b*b, Ho, Wo] */
    int64_t d[6] = {N, b, b, C, Ho, Wo};
    int64_t s[6] = {C * H * W, W, 1, H * W, b * W, b};
    memcpy(dims, d, sizeof d);
    memcpy(src, s, sizeof s);
  }
  cpu_strides(6, dims, dst);
  cpu_copy_strided(c->pool, o->data, x->data, esz, 6, dims, dst, src);
  return cpu_strings_own(o);
}

onyx_status *cpu_depth_to_space_run(onyx_kernel_ctx *c) { return space_depth_run(c, true); }
onyx_status *cpu_space_to_depth_run(onyx_kernel_ctx *c) { return space_depth_run(c, false); }
