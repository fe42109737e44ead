/* elementwise.c — the cpu kernel table of the elementwise op family (see
 * src/ops/defs/elementwise.def) and the attribute parsing all its kernels
 * share. The kernels themselves live by sub-family in elementwise_unary.c
 * (math and activations), elementwise_binary.c (arithmetic, comparison,
 * logic, variadic, Where) and elementwise_cast.c (Cast, CastLike). */
#include <float.h>
#include <string.h>

#include "elementwise.h"

onyx_status *cpu_ew_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  (void)g;
  ew_params *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  /* defaults per op, from the ONNX spec */
  float alpha = 1.0f;
  if (n->op == onyx_op_LeakyRelu) alpha = 0.01f;
  else if (n->op == onyx_op_HardSigmoid) alpha = 0.2f;
  else if (n->op == onyx_op_Selu) alpha = 1.67326319217681884765625f;
  p->alpha = onyx_attr_float(n, "alpha", alpha);
  p->beta = onyx_attr_float(n, "beta", 0.5f);
  p->gamma = onyx_attr_float(n, "gamma", 1.05070102214813232421875f);
  p->lambd = onyx_attr_float(n, "lambd", 0.5f);
  p->bias = onyx_attr_float(n, "bias", 0.0f);
  p->detect_neg = onyx_attr_int(n, "detect_negative", 1) != 0;
  p->detect_pos = onyx_attr_int(n, "detect_positive", 1) != 0;
  p->fmod = onyx_attr_int(n, "fmod", 0) != 0;
  p->to = onyx_attr_int(n, "to", ONYX_DTYPE_UNDEFINED);
  onyx_status *s = NULL;
  const char *approx = onyx_attr_string(n, "approximate", "none");
  const char *dir = onyx_attr_string(n, "direction", "");
  if (n->op == onyx_op_Gelu) {
    if (!strcmp(approx, "tanh")) p->gelu_tanh = 1;
    else if (strcmp(approx, "none"))
      s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "approximate='%s', expected 'none' or 'tanh'", approx);
  } else if (n->op == onyx_op_BitShift) {
    if (!strcmp(dir, "LEFT")) p->shift_left = 1;
    else if (strcmp(dir, "RIGHT"))
      s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "direction='%s', expected 'LEFT' or 'RIGHT'", dir);
  }
  if (s) {
    onyx_free(p);
    return s;
  }
  *state = p;
  return NULL;
}

const onyx_kernel cpu_kernels_elementwise[] = {
#define EW_IN_PLACE(Name) \
  {.op = onyx_op_##Name, .prepare = cpu_ew_prepare, .run = cpu_ew_##Name, .release = onyx_free, .flags = ONYX_KERNEL_IN_PLACE},
#define EW_OTHER(Name) {.op = onyx_op_##Name, .prepare = cpu_ew_prepare, .run = cpu_ew_##Name, .release = onyx_free},
    EW_KERNELS_IN_PLACE(EW_IN_PLACE) EW_KERNELS_OTHER(EW_OTHER)
#undef EW_IN_PLACE
#undef EW_OTHER
    {.op = -1},
};
