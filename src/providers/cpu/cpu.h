/* cpu.h — the cpu provider's kernel tables.
 *
 * The cpu kernels are kernel.h's provider-neutral kernels running on the
 * host: `prepare` packs weights into state, `run` computes on the calling
 * thread and the intra-op team (c->pool). Each op family lists its kernels
 * in one static table, terminated by an entry with op = -1;
 * cpu_registry.c lists the families. Other providers may reuse these
 * kernels' functions (a simulated device in the tests does). */
#ifndef ONYX_CPU_H
#define ONYX_CPU_H

#include "providers/kernel.h"

/* The kernel for op id, or NULL. */
const onyx_kernel *cpu_kernel_find(int op);

/* Family tables (one per file group under src/providers/cpu/). */
extern const onyx_kernel cpu_kernels_elementwise[];
extern const onyx_kernel cpu_kernels_nn[];
extern const onyx_kernel cpu_kernels_tensor[];
extern const onyx_kernel cpu_kernels_reduce[];
extern const onyx_kernel cpu_kernels_linalg[];
extern const onyx_kernel cpu_kernels_control[];
extern const onyx_kernel cpu_kernels_signal[];
extern const onyx_kernel cpu_kernels_text[];
extern const onyx_kernel cpu_kernels_fused[];     /* ai.onyx ops of the optimizer */
extern const onyx_kernel cpu_kernels_loss[];
extern const onyx_kernel cpu_kernels_rnn[];

#endif
