/* sgemm.h — the cpu provider's float32 GEMM engine.
 *
 * Computes C = alpha * op(A) * op(B) + beta * C (+ epilogue) on row-major
 * matrices, the way BLIS/GotoBLAS do: op(B) is packed into KC x NC blocks of
 * NR-wide column panels, op(A) into MC x KC blocks of MR-high row panels, and
 * a register-blocked micro-kernel computes MR x NR tiles of C. The micro-kernel
 * (and with it MR/NR and the cache blocking) is an ISA descriptor picked once
 * from onyx_cpu(): AVX-512F 12x32, AVX2+FMA 6x16, or portable scalar 4x8.
 *
 * Operands come in three forms, so that kernels can hand over what they have:
 * a plain row-major matrix (optionally transposed), a matrix packed ahead of
 * time (weights, at kernel prepare), or — for B only — a callback that packs
 * a block of a virtual matrix on the fly (Conv's implicit im2col), so no big
 * intermediate is ever materialized. The epilogue (per-row / per-column bias
 * and an optional callback) runs on each block of C right after its last
 * K-block, while the block is still in cache; it is the hook for fusion. */
#ifndef ONYX_CPU_SGEMM_H
#define ONYX_CPU_SGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/parallel.h"
#include "base/status.h"

/* Computes the MR x NR tile C[0:m, 0:n] = alpha * sum_p a[p] b[p]^T + beta * C
 * from packed panels: a holds kc steps of MR floats, b kc steps of NR floats
 * (zero-padded past m / n). m <= MR, n <= NR. beta == 0 means C is not read
 * (it may hold garbage, NaN included). */
typedef void (*cpu_sgemm_ukernel_fn)(size_t kc, const float *a, const float *b, float *c,
                                     size_t ldc, size_t m, size_t n, float alpha, float beta);

/* One micro-kernel with its tile and cache-blocking sizes. Static storage. */
typedef struct cpu_sgemm_isa {
  const char *name;             /* "avx512", "avx2", "scalar" */
  int mr, nr;                   /* register tile */
  int mc, kc, nc;               /* cache blocks: mc % mr == 0, nc % nr == 0 */
  cpu_sgemm_ukernel_fn ukernel;
} cpu_sgemm_isa;

/* The best micro-kernel this CPU runs (honours ONYX_ISA, see cpu_features.h). */
const cpu_sgemm_isa *cpu_sgemm_isa_best(void);
/* The micro-kernel called `name`, or NULL when it is unknown, not compiled
 * in, or not runnable on this CPU. For tests and benchmarks. */
const cpu_sgemm_isa *cpu_sgemm_isa_named(const char *name);

/* A matrix packed for one ISA, as op(A) (M x K in MR-row panels) or op(B)
 * (K x N in NR-column panels). Each panel spans the whole K, so any K-block
 * of it is contiguous. Immutable after packing: share it across threads. */
typedef struct cpu_sgemm_packed {
  const cpu_sgemm_isa *isa;
  bool is_b;
  int64_t rows, cols;           /* of op(X) */
  float *data;                  /* owned, 64-byte aligned */
} cpu_sgemm_packed;

/* Packs op(A) (m x k; trans: A is stored k x m) with leading dimension lda. */
onyx_status *cpu_sgemm_pack_a(const cpu_sgemm_isa *isa, bool trans, int64_t m, int64_t k,
                              const float *a, int64_t lda, cpu_sgemm_packed **out);
/* Packs op(B) (k x n; trans: B is stored n x k) with leading dimension ldb. */
onyx_status *cpu_sgemm_pack_b(const cpu_sgemm_isa *isa, bool trans, int64_t k, int64_t n,
                              const float *b, int64_t ldb, cpu_sgemm_packed **out);
/* Accepts NULL. */
void cpu_sgemm_packed_free(cpu_sgemm_packed *p);

/* Packs the block op(B)[k0:k0+kc, n0:n0+nc] of a virtual matrix into NR-wide
 * panels: element (p, j) goes to dst[(j / nr) * kc * nr + p * nr + j % nr],
 * zero-filled for j >= nc up to the next multiple of nr. Called from worker
 * threads at once on disjoint blocks: ctx must be read-only. */
typedef void (*cpu_sgemm_pack_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t n0,
                                  int64_t nc, int nr, float *dst);

/* One operand: exactly one of data, packed, pack (B only) is set. */
typedef struct cpu_sgemm_operand {
  const float *data;            /* row-major op(X) or, if trans, its transpose */
  int64_t ld;
  bool trans;
  const cpu_sgemm_packed *packed; /* must match the isa and the side */
  cpu_sgemm_pack_fn pack;
  const void *pack_ctx;
} cpu_sgemm_operand;

/* Runs on each finished block C[row0:row0+m, col0:col0+n] (absolute indices;
 * c points at its first element). Called from worker threads on disjoint
 * blocks, after the bias has been added. */
typedef void (*cpu_sgemm_epilogue_fn)(void *arg, float *c, int64_t ldc, int64_t row0,
                                      int64_t col0, int64_t m, int64_t n);

typedef struct cpu_sgemm_args {
  int64_t m, n, k;
  float alpha, beta;
  cpu_sgemm_operand a, b;
  float *c;
  int64_t ldc;
  const float *bias_row;        /* m values added to each row i, or NULL */
  const float *bias_col;        /* n values added to each column j, or NULL */
  cpu_sgemm_epilogue_fn epilogue; /* or NULL */
  void *epilogue_arg;
} cpu_sgemm_args;

/* Workspace (in floats) one thread needs for a GEMM of this size. */
size_t cpu_sgemm_ws_floats(const cpu_sgemm_isa *isa, int64_t m, int64_t n, int64_t k);

/* Single-threaded GEMM of the sub-block rows [row0, row0+rows) x columns
 * [col0, col0+cols) of C, with a caller workspace of
 * cpu_sgemm_ws_floats(isa, rows, cols, k) floats, 64-byte aligned. Cannot
 * fail. Batched callers run many of these in parallel, one workspace each. */
void cpu_sgemm_block(const cpu_sgemm_isa *isa, const cpu_sgemm_args *a, int64_t row0,
                     int64_t rows, int64_t col0, int64_t cols, float *ws);

/* Whole GEMM, split over the pool's threads in a 2-D grid of C blocks (each
 * thread packs its own A and B blocks). Fails only on out-of-memory for the
 * workspace. pool may be NULL (one thread). */
onyx_status *cpu_sgemm(const onyx_threadpool *pool, const cpu_sgemm_isa *isa,
                       const cpu_sgemm_args *a);

/* Threads worth using for a GEMM of this many multiply-adds (>= 1). */
int cpu_sgemm_threads(const onyx_threadpool *pool, double macs);

#endif
