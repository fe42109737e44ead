/* gemm_grid.h — the threading both GEMM engines share (sgemm.c for float,
 * qgemm.c for int8): how many threads a GEMM is worth, and the split of C
 * into a tm x tn grid of blocks, one per thread, each thread packing its own
 * operand blocks in its own slice of one workspace so that threads never
 * synchronise. The engines differ only in their tile sizes, workspace size
 * and the work per thread that pays for a fork, which they pass in. */
#ifndef ONYX_CPU_GEMM_GRID_H
#define ONYX_CPU_GEMM_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "base/parallel.h"

/* Threads worth using (>= 1, at most the pool's; pool may be NULL) for a GEMM
 * of `macs` multiply-adds when below `min_per_thread` multiply-adds a thread
 * costs more in fork/join than it saves. */
int cpu_gemm_threads(const onyx_threadpool *pool, double macs, double min_per_thread);

/* A grid of tm x tn blocks of mb x nb elements over an m x n C (edge blocks
 * smaller). */
typedef struct cpu_gemm_grid {
  int64_t m, n;
  int tm, tn;
  int64_t mb, nb;               /* multiples of the tile: mr and nr */
} cpu_gemm_grid;

/* The grid of nt blocks (or fewer, when C is too small to give each a tile)
 * with the smallest, then squarest, block. m, n >= 1. */
cpu_gemm_grid cpu_gemm_grid_plan(int nt, int64_t m, int64_t n, int mr, int nr);

/* Computes block rows [row0, row0+rows) x columns [col0, col0+cols) of C with
 * workspace ws (the running thread's). Called from worker threads at once on
 * disjoint blocks: ctx must be read-only. */
typedef void (*cpu_gemm_block_fn)(const void *ctx, int64_t row0, int64_t rows, int64_t col0,
                                  int64_t cols, void *ws);

/* Runs fn over every block of g, one thread per block. ws holds tm * tn
 * slices of ws_bytes each (a multiple of 64 keeps them aligned as ws is). */
void cpu_gemm_grid_run(const cpu_gemm_grid *g, cpu_gemm_block_fn fn, const void *ctx, void *ws,
                       size_t ws_bytes);

#endif
