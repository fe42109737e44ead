/* elementwise.c — cpu kernels of the elementwise op family (see src/ops/defs/elementwise.def). */
#include "cpu.h"

const cpu_kernel cpu_kernels_elementwise[] = {
    {-1, NULL, NULL, NULL},
};
