/* cpu_registry.c — the list of cpu kernel families and lookup by op id. */
#include "cpu.h"

static const onyx_kernel *const families[] = {
    cpu_kernels_elementwise,
    cpu_kernels_nn,
    cpu_kernels_tensor,
    cpu_kernels_reduce,
    cpu_kernels_linalg,
    cpu_kernels_control,
    cpu_kernels_signal,
    cpu_kernels_text,
    cpu_kernels_fused,
    cpu_kernels_loss,
    cpu_kernels_rnn,
};

const onyx_kernel *cpu_kernel_find(int op) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
    for (const onyx_kernel *k = families[f]; k->op >= 0; k++)
      if (k->op == op) return k;
  return NULL;
}
