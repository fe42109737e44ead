/* reduce.c — cpu kernels of the reduce op family (see src/ops/defs/reduce.def). */
#include "cpu.h"

const cpu_kernel cpu_kernels_reduce[] = {
    {-1, NULL, NULL, NULL},
};
