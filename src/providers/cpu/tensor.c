/* tensor.c — cpu kernels of the tensor (data movement) op family. */
#include <string.h>

#include "cpu.h"

static onyx_status *identity_run(cpu_ctx *c) {
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

const cpu_kernel cpu_kernels_tensor[] = {
    {onyx_op_Identity, NULL, identity_run, NULL},
    {-1, NULL, NULL, NULL},
};
