/* nn.c — cpu kernels of the nn op family (see src/ops/defs/nn.def). */
#include "cpu.h"

const cpu_kernel cpu_kernels_nn[] = {
    {-1, NULL, NULL, NULL},
};
