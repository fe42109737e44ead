/* qgemm.h — the cpu provider's 8-bit integer GEMM engine (u8 x s8 -> s32).
 *
 * Computes, for weights W (M x K, 8-bit, zero point zw per row) and data X
 * (K x N, 8-bit, zero point zx per column),
 *     C[i, j] = sum_k (W[i, k] - zw[i]) * (X[k, j] - zx[j])      (s32, wrapping)
 * and hands each finished block of C to an output stage: plain s32 store, or
 * requantization to u8/s8 (scale, zero point, int32 bias, optional Relu),
 * or scaling to float (scales, float bias: dynamically quantized MatMul),
 * row-major or transposed. Conv maps naturally (W = filters, X = im2col,
 * C = NCHW output); MatMul computes Y^T = B^T A^T, so W is the constant B and
 * the output stage writes transposed.
 *
 * The hardware wants unsigned x signed bytes, so both operands are brought
 * into that domain exactly: u8 weights become s8 by w - 128 and s8 data
 * becomes u8 by x + 128, and the zero points move with them. The kernels then
 * compute the raw sum S = sum W'X' and the zero points enter afterwards:
 *     C = S - zw' colsum(X') - zx' rowsum(W') + K zw' zx'
 * with rowsum(W') precomputed when W is packed (once, at kernel prepare) and
 * colsum(X') gathered while X is packed, only when some zw' != 0.
 *
 * Layout and loop nest follow sgemm.h (BLIS): W packed whole into MR-row
 * panels, X packed per block into NR-column panels, both in groups of four
 * K steps so that one 32-bit lane holds four consecutive products' operands
 * (the vpmaddubsw / vpdpbusd format). Micro-kernels, one per ISA, picked from
 * onyx_cpu(): AVX-512 VNNI (vpdpbusd), AVX-VNNI, AVX-512BW and AVX2
 * (vpmaddubsw + vpmaddwd), and a portable scalar one.
 *
 * Saturation. vpmaddubsw adds two u8 x s8 products into a saturating s16:
 * 255 * (w0 + w1) overflows when two neighbouring weights are both large and
 * of one sign. On ISAs without VNNI, packing checks every such pair (weights
 * are known at prepare): with none (always so for 7-bit weights, [-64, 63],
 * ORT's reduce_range) the plain kernel runs; otherwise the ISA's sign
 * kernel (exact for weights in [-127, 127], see qgemm_avx2.c), or, on an ISA
 * without one, the plain kernel on clipped pairs. What a kernel cannot take
 * (a clipped pair's remainder, a -128 weight under the sign kernel) is kept
 * in a sparse residual list that the engine adds exactly from the packed X
 * block before the output stage. Results are exact on every ISA; the price of
 * full-range weights on AVX2 is the sign kernel's two extra instructions. */
#ifndef ONYX_CPU_QGEMM_H
#define ONYX_CPU_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/parallel.h"
#include "base/status.h"

/* Computes the MR x NR tile C[0:m, 0:n] (+)= sum_p a[p] b[p] over kc steps
 * (kc % 4 == 0) from packed panels: a holds kc/4 groups of MR x 4 s8 (row i's
 * four consecutive K values), b kc/4 groups of NR x 4 u8. accumulate false:
 * C is not read. m <= MR, n <= NR; ldc in int32 elements. */
typedef void (*cpu_qgemm_ukernel_fn)(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                     size_t ldc, size_t m, size_t n, bool accumulate);

/* Requantizes n s32 values: y[j] = sat(round((acc[j] + bias) * mult) + zp)
 * with mult/bias either one value (step 0) or one per element (step 1),
 * clamped to [lo, hi] (Relu: lo = zp); NaN gives 0. y is u8 or s8. */
typedef void (*cpu_qgemm_requant_fn)(const int32_t *acc, size_t n, const float *mult,
                                     size_t mult_step, const int32_t *bias, size_t bias_step,
                                     float zp, float lo, float hi, bool out_signed, void *y);

/* Interleaves four rows of n bytes into NR-column panels (see qgemm.c). */
typedef void (*cpu_qgemm_interleave_fn)(const uint8_t *const r[4], size_t n, size_t nr,
                                        size_t panel_stride, uint8_t *dst, int32_t *colsum);

/* One micro-kernel with its tile and cache-blocking sizes. Static storage. */
typedef struct cpu_qgemm_isa {
  const char *name;             /* "avx512vnni", "avxvnni", "avx512bw", "avx2", "scalar" */
  int mr, nr;                   /* register tile */
  int mc, kc, nc;               /* cache blocks: mc % mr == 0, kc % 4 == 0, nc % nr == 0 */
  bool pair_saturates;          /* s16 pair sums saturate: packing checks pairs */
  cpu_qgemm_ukernel_fn ukernel;
  /* or NULL: computes sum w (x - 128), exact for w in [-127, 127] whatever the
   * pairs (for pair_saturates ISAs) */
  cpu_qgemm_ukernel_fn ukernel_sign;
  cpu_qgemm_requant_fn requant;
  cpu_qgemm_interleave_fn interleave4;
} cpu_qgemm_isa;

/* The best micro-kernel this CPU runs (honours ONYX_ISA, see cpu_features.h). */
const cpu_qgemm_isa *cpu_qgemm_isa_best(void);
/* The micro-kernel called `name`, or NULL when unknown, not compiled in, or
 * not runnable on this CPU. For tests and benchmarks. */
const cpu_qgemm_isa *cpu_qgemm_isa_named(const char *name);

/* W (M x K) packed for one ISA. Immutable after packing: share it. */
typedef struct cpu_qgemm_packed {
  const cpu_qgemm_isa *isa;
  int64_t m, k;
  int64_t kp;                   /* k rounded up to 4 */
  int8_t *data;                 /* owned, 64-byte aligned: MR-row panels of kp steps */
  int32_t *row_sum;             /* owned: sum_k W'[i, k] (before any split), m values */
  int32_t *zero;                /* owned: zw'[i] = zw[i] - (unsigned ? 128 : 0), m values */
  bool any_zero;                /* some zw'[i] != 0: X's column sums are needed */
  bool sign;                    /* runs isa->ukernel_sign (residuals: the -128 weights) */
  /* residuals of split pairs, by row: row i owns [res_start[i], res_start[i+1]) */
  int64_t n_res;
  int64_t *res_start;           /* owned, m + 1 values; NULL when n_res == 0 */
  int32_t *res_k;               /* owned: K index of each residual, ascending per row */
  int32_t *res_v;               /* owned: the value W'[i, k] minus what was packed */
} cpu_qgemm_packed;

/* Packs W: element (i, k) is w[i * ldw + k], or with trans w[k * ldw + i];
 * w_unsigned: bytes are u8 (else s8). zero: the zero point of each row
 * (n_zero == m), of all rows (n_zero == 1), or none (zero NULL). */
onyx_status *cpu_qgemm_pack_w(const cpu_qgemm_isa *isa, bool trans, int64_t m, int64_t k,
                              const void *w, int64_t ldw, bool w_unsigned, const void *zero,
                              int64_t n_zero, cpu_qgemm_packed **out);
/* Accepts NULL. */
void cpu_qgemm_packed_free(cpu_qgemm_packed *p);

/* Writes row k of a virtual X (u8 domain, i.e. already + 128 when the data
 * is s8), columns [n0, n0 + nc), to dst. Called from worker threads at once:
 * ctx must be read-only. */
typedef void (*cpu_qgemm_row_fn)(const void *ctx, int64_t k, int64_t n0, int64_t nc, uint8_t *dst);

/* The X operand: exactly one of data, row is set. */
typedef struct cpu_qgemm_x {
  const void *data;             /* X[k, j] = data[k * ld + j], or with trans data[j * ld + k] */
  int64_t ld;
  bool trans;
  bool is_signed;               /* data bytes are s8 */
  cpu_qgemm_row_fn row;         /* or rows produced on demand (Conv's implicit im2col) */
  const void *row_ctx;
  const uint8_t *zero;          /* zx in the data's own type (u8/s8 byte), NULL for 0 */
  int64_t n_zero;               /* 1 (all columns) or N (one per column) */
} cpu_qgemm_x;

/* What happens to each finished block of C. */
typedef enum cpu_qgemm_out_kind {
  CPU_QGEMM_OUT_S32,            /* store C as int32 */
  CPU_QGEMM_OUT_U8,             /* requantize to uint8 */
  CPU_QGEMM_OUT_S8,             /* requantize to int8 */
  CPU_QGEMM_OUT_F32,            /* float: (float)C * (x_scale * w_scale) [+ bias_f] */
} cpu_qgemm_out_kind;

typedef struct cpu_qgemm_out {
  cpu_qgemm_out_kind kind;
  void *y;                      /* C[i, j] goes to y[i * ldy + j], or with trans y[j * ldy + i] */
  int64_t ldy;
  bool trans;
  /* requantization: mult = (x_scale * w_scale) / y_scale, as the ONNX
   * reference computes it in float; x_scale per column or scalar, w_scale per
   * row or scalar (n_* is 1 or N / M) */
  const float *x_scale, *w_scale;
  int64_t n_x_scale, n_w_scale;
  float y_scale;
  int32_t y_zero;
  const int32_t *bias;          /* per row, added to C (before any scaling), or NULL */
  const float *bias_f;          /* F32 output: per row, added after scaling, or NULL */
  bool relu;                    /* clamp at y_zero (a fused Relu) */
  const float *mult_row;        /* internal: set by cpu_qgemm from the scales */
} cpu_qgemm_out;

typedef struct cpu_qgemm_args {
  int64_t m, n, k;
  const cpu_qgemm_packed *w;    /* must match the isa; w->m == m, w->k == k */
  cpu_qgemm_x x;
  cpu_qgemm_out out;
} cpu_qgemm_args;

/* Workspace bytes one thread needs for a block of rows x cols of C. */
size_t cpu_qgemm_ws_bytes(const cpu_qgemm_isa *isa, int64_t rows, int64_t cols, int64_t k);

/* Single-threaded GEMM of the block rows [row0, row0+rows) x columns
 * [col0, col0+cols), with a caller workspace of cpu_qgemm_ws_bytes(isa, rows,
 * cols, k) bytes, 64-byte aligned. mult is the per-row requantization
 * multiplier array from cpu_qgemm_mult (or NULL). Cannot fail. */
void cpu_qgemm_block(const cpu_qgemm_isa *isa, const cpu_qgemm_args *a, int64_t row0,
                     int64_t rows, int64_t col0, int64_t cols, void *ws);

/* Fills a->out.mult_row (m floats, caller storage that must outlive the GEMM)
 * when the x scale is one value, so blocks need not recompute it. */
void cpu_qgemm_mult(cpu_qgemm_args *a, float *mult_row);

/* Whole GEMM split over the pool's threads in a 2-D grid of C blocks. Fails
 * only on out-of-memory for the workspace. pool may be NULL (one thread). */
onyx_status *cpu_qgemm(const onyx_threadpool *pool, const cpu_qgemm_isa *isa,
                       const cpu_qgemm_args *a);

/* Threads worth using for a GEMM of this many multiply-adds (>= 1). */
int cpu_qgemm_threads(const onyx_threadpool *pool, double macs);

#endif
