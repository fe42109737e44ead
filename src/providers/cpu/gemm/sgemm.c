/* sgemm.c — the portable half of the float32 GEMM engine: micro-kernel
 * selection, panel packing, the cache-blocked loop nest, and the thread grid
 * (gemm_grid.h) applied to it.
 *
 * Loop nest (BLIS order): for each NC-wide column block of C, for each
 * KC-deep slice of K, pack the KC x NC block of op(B) once; then for each
 * MC-high row block pack op(A) and sweep NR x MR micro-tiles, the NR panel of
 * B staying in L1 while MR panels of A stream from L2. Pre-packed operands
 * skip their packing step: whole-K panels make every K slice contiguous.
 * When C is short (all rows in one MC block: conv layers, small batches) the
 * nest turns K-slice-outer so A is packed once per slice and B is packed in
 * L2-sized blocks right before their single use.
 * Threads own disjoint rectangles of C (rows in multiples of MR, columns in
 * multiples of NR) and pack their own blocks, so they never synchronise. */
#include "sgemm.h"

#include <string.h>

#include "base/alloc.h"
#include "base/cpu_features.h"
#include "gemm_grid.h"

/* Micro-kernels, one per ISA file. */
void cpu_sgemm_ukernel_4x8__scalar(size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, size_t m, size_t n, float alpha, float beta);
#if defined(__x86_64__)
void cpu_sgemm_ukernel_6x16__avx2(size_t kc, const float *a, const float *b, float *c,
                                  size_t ldc, size_t m, size_t n, float alpha, float beta);
void cpu_sgemm_ukernel_12x32__avx512(size_t kc, const float *a, const float *b, float *c,
                                     size_t ldc, size_t m, size_t n, float alpha, float beta);
#endif

/* Blocking: an NR x KC panel of B fits L1 with room for A's stream, MC x KC
 * of A about half of L2, KC x NC of B a slice of L3. */
static const cpu_sgemm_isa isa_scalar = {"scalar", 4, 8, 128, 256, 2048,
                                         cpu_sgemm_ukernel_4x8__scalar};
#if defined(__x86_64__)
static const cpu_sgemm_isa isa_avx2 = {"avx2", 6, 16, 144, 256, 3072,
                                       cpu_sgemm_ukernel_6x16__avx2};
static const cpu_sgemm_isa isa_avx512 = {"avx512", 12, 32, 168, 192, 3072,
                                         cpu_sgemm_ukernel_12x32__avx512};
#endif

const cpu_sgemm_isa *cpu_sgemm_isa_named(const char *name) {
  const onyx_cpu_features *f = onyx_cpu();
  if (!strcmp(name, "scalar")) return &isa_scalar;
#if defined(__x86_64__)
  if (!strcmp(name, "avx2") && f->avx2 && f->fma) return &isa_avx2;
  if (!strcmp(name, "avx512") && f->avx512f) return &isa_avx512;
#else
  (void)f;
#endif
  return NULL;
}

const cpu_sgemm_isa *cpu_sgemm_isa_best(void) {
  const cpu_sgemm_isa *i = cpu_sgemm_isa_named("avx512");
  if (!i) i = cpu_sgemm_isa_named("avx2");
  return i ? i : &isa_scalar;
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- packing ------------------------------------------------------------ */

/* One full MR-row panel of a non-transposed A: reads MR row streams, writes
 * contiguously. MR is a constant in each instantiation so the inner loop
 * unrolls. */
#define DEFINE_PACK_A_ROWS(MR)                                                     \
  static void pack_a_rows_##MR(const float *src, int64_t lda, int64_t kc, float *d) { \
    for (int64_t p = 0; p < kc; p++, d += MR)                                      \
      for (int i = 0; i < MR; i++) d[i] = src[i * lda + p];                        \
  }
DEFINE_PACK_A_ROWS(4)
DEFINE_PACK_A_ROWS(6)
DEFINE_PACK_A_ROWS(12)

/* op(A)[i0:i0+mc, p0:p0+kc] into MR-row panels of kc steps each. */
static void pack_a_block(bool trans, const float *a, int64_t lda, int64_t i0, int64_t mc,
                         int64_t p0, int64_t kc, int mr, float *dst) {
  for (int64_t ip = 0; ip < mc; ip += mr, dst += kc * mr) {
    int64_t mm = min64(mr, mc - ip);
    if (trans) {
      for (int64_t p = 0; p < kc; p++) {
        const float *src = a + (p0 + p) * lda + i0 + ip;
        float *d = dst + p * mr;
        for (int64_t i = 0; i < mm; i++) d[i] = src[i];
        for (int64_t i = mm; i < mr; i++) d[i] = 0.0f;
      }
      continue;
    }
    const float *src = a + (i0 + ip) * lda + p0;
    if (mm == mr && mr == 4) pack_a_rows_4(src, lda, kc, dst);
    else if (mm == mr && mr == 6) pack_a_rows_6(src, lda, kc, dst);
    else if (mm == mr && mr == 12) pack_a_rows_12(src, lda, kc, dst);
    else
      for (int64_t p = 0; p < kc; p++)
        for (int64_t i = 0; i < mr; i++) dst[p * mr + i] = i < mm ? src[i * lda + p] : 0.0f;
  }
}

/* op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels of kc steps each. */
static void pack_b_block(bool trans, const float *b, int64_t ldb, int64_t p0, int64_t kc,
                         int64_t j0, int64_t nc, int nr, float *dst) {
  for (int64_t jp = 0; jp < nc; jp += nr, dst += kc * nr) {
    int64_t nn = min64(nr, nc - jp);
    if (!trans) {
      const float *src = b + p0 * ldb + j0 + jp;
      float *d = dst;
      if (nn == nr)
        for (int64_t p = 0; p < kc; p++, src += ldb, d += nr) memcpy(d, src, (size_t)nr * sizeof *d);
      else
        for (int64_t p = 0; p < kc; p++, src += ldb, d += nr) {
          memcpy(d, src, (size_t)nn * sizeof *d);
          memset(d + nn, 0, (size_t)(nr - nn) * sizeof *d);
        }
    } else {
      for (int64_t j = 0; j < nn; j++) {
        const float *src = b + (j0 + jp + j) * ldb + p0;
        for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = src[p];
      }
      for (int64_t j = nn; j < nr; j++)
        for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = 0.0f;
    }
  }
}

static onyx_status *pack_whole(const cpu_sgemm_isa *isa, bool is_b, bool trans, int64_t rows,
                               int64_t cols, const float *x, int64_t ld, cpu_sgemm_packed **out) {
  cpu_sgemm_packed *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  int64_t k = is_b ? rows : cols, mn = is_b ? cols : rows;
  int step = is_b ? isa->nr : isa->mr;
  p->data = onyx_malloc_aligned((size_t)(round_up(mn, step) * k + 1) * sizeof(float));
  if (!p->data) {
    onyx_free(p);
    return onyx_error_oom();
  }
  p->isa = isa;
  p->is_b = is_b;
  p->rows = rows;
  p->cols = cols;
  if (is_b) pack_b_block(trans, x, ld, 0, k, 0, mn, step, p->data);
  else pack_a_block(trans, x, ld, 0, mn, 0, k, step, p->data);
  *out = p;
  return NULL;
}

onyx_status *cpu_sgemm_pack_a(const cpu_sgemm_isa *isa, bool trans, int64_t m, int64_t k,
                              const float *a, int64_t lda, cpu_sgemm_packed **out) {
  return pack_whole(isa, false, trans, m, k, a, lda, out);
}

onyx_status *cpu_sgemm_pack_b(const cpu_sgemm_isa *isa, bool trans, int64_t k, int64_t n,
                              const float *b, int64_t ldb, cpu_sgemm_packed **out) {
  return pack_whole(isa, true, trans, k, n, b, ldb, out);
}

void cpu_sgemm_packed_free(cpu_sgemm_packed *p) {
  if (!p) return;
  onyx_free_aligned(p->data);
  onyx_free(p);
}

/* ---- the blocked loop nest ---------------------------------------------- */

size_t cpu_sgemm_ws_floats(const cpu_sgemm_isa *isa, int64_t m, int64_t n, int64_t k) {
  int64_t kc = min64(isa->kc, k > 0 ? k : 1);
  int64_t mc = min64(isa->mc, round_up(m > 0 ? m : 1, isa->mr));
  int64_t nc = min64(isa->nc, round_up(n > 0 ? n : 1, isa->nr));
  return (size_t)(round_up(mc * kc, 16) + nc * kc);
}

/* bias, then the caller's epilogue, on a finished block */
static void finish_block(const cpu_sgemm_args *a, int64_t i0, int64_t mc, int64_t j0, int64_t nc) {
  float *c = a->c + i0 * a->ldc + j0;
  if (a->bias_row)
    for (int64_t i = 0; i < mc; i++) {
      float v = a->bias_row[i0 + i];
      for (int64_t j = 0; j < nc; j++) c[i * a->ldc + j] += v;
    }
  if (a->bias_col)
    for (int64_t i = 0; i < mc; i++)
      for (int64_t j = 0; j < nc; j++) c[i * a->ldc + j] += a->bias_col[j0 + j];
  if (a->epilogue) a->epilogue(a->epilogue_arg, c, a->ldc, i0, j0, mc, nc);
}

/* k == 0: C = beta * C, then the epilogue */
static void scale_block(const cpu_sgemm_args *a, int64_t i0, int64_t mc, int64_t j0, int64_t nc) {
  for (int64_t i = 0; i < mc; i++) {
    float *c = a->c + (i0 + i) * a->ldc + j0;
    for (int64_t j = 0; j < nc; j++) c[j] = a->beta == 0.0f ? 0.0f : a->beta * c[j];
  }
  finish_block(a, i0, mc, j0, nc);
}

/* the K-slice [pc, pc+kc) of op(A) rows [i0, i0+mc): pre-packed or packed into ap */
static const float *a_block(const cpu_sgemm_isa *isa, const cpu_sgemm_args *a, int64_t i0,
                            int64_t mc, int64_t pc, int64_t kc, float *ap, int64_t *stride) {
  if (a->a.packed) {
    *stride = isa->mr * a->k;
    return a->a.packed->data + (i0 / isa->mr) * isa->mr * a->k + pc * isa->mr;
  }
  pack_a_block(a->a.trans, a->a.data, a->a.ld, i0, mc, pc, kc, isa->mr, ap);
  *stride = kc * isa->mr;
  return ap;
}

/* the K-slice [pc, pc+kc) of op(B) columns [j0, j0+nc): pre-packed or packed into bp */
static const float *b_block(const cpu_sgemm_isa *isa, const cpu_sgemm_args *a, int64_t j0,
                            int64_t nc, int64_t pc, int64_t kc, float *bp, int64_t *stride) {
  if (a->b.packed) {
    *stride = isa->nr * a->k;
    return a->b.packed->data + (j0 / isa->nr) * isa->nr * a->k + pc * isa->nr;
  }
  if (a->b.pack) a->b.pack(a->b.pack_ctx, pc, kc, j0, nc, isa->nr, bp);
  else pack_b_block(a->b.trans, a->b.data, a->b.ld, pc, kc, j0, nc, isa->nr, bp);
  *stride = kc * isa->nr;
  return bp;
}

/* all micro-tiles of C[i0:i0+mc, j0:j0+nc] for one K-slice; each NR panel of
 * B stays in L1 while the MR panels of A stream past it */
static void sweep(const cpu_sgemm_isa *isa, const cpu_sgemm_args *a, const float *ablk,
                  int64_t astride, const float *bblk, int64_t bstride, int64_t i0, int64_t mc,
                  int64_t j0, int64_t nc, int64_t kc, float beta) {
  const int mr = isa->mr, nr = isa->nr;
  /* A pre-packed B (constant weights) comes from DRAM: each panel is read
   * by its first micro-tile and then stays in L1. Spread prefetches of the
   * next panel over the current panel's micro-tiles so that first read
   * hits cache (a panel freshly packed here is in L2 already). */
  const int64_t n_tiles = (mc + mr - 1) / mr, pan_lines = kc * nr * 4 / 64;
  const bool pf = a->b.packed != NULL;
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const float *bpan = bblk + (jr / nr) * bstride;
    /* packed panels lie one after another over all of N */
    const char *next = pf && j0 + jr + nr < a->n ? (const char *)(bpan + bstride) : NULL;
    size_t nn = (size_t)min64(nr, nc - jr);
    float *cc = a->c + i0 * a->ldc + j0 + jr;
    for (int64_t ir = 0, t = 0; ir < mc; ir += mr, t++) {
      if (next)
        for (int64_t l = t * pan_lines / n_tiles; l < (t + 1) * pan_lines / n_tiles; l++)
          __builtin_prefetch(next + l * 64);
      isa->ukernel((size_t)kc, ablk + (ir / mr) * astride, bpan, cc + ir * a->ldc, (size_t)a->ldc,
                   (size_t)min64(mr, mc - ir), nn, a->alpha, beta);
    }
  }
}

/* Columns per B block when all rows fit one MC block: the packed block then
 * feeds a single sweep, so it is kept small enough to stay in L2 (~128 KB)
 * between being packed and being used. */
static int64_t short_nc(const cpu_sgemm_isa *isa, int64_t kc) {
  int64_t nc = ((int64_t)32768 / kc) / isa->nr * isa->nr;
  if (nc < isa->nr) nc = isa->nr;
  return min64(nc, isa->nc);
}

void cpu_sgemm_block(const cpu_sgemm_isa *isa, const cpu_sgemm_args *a, int64_t row0,
                     int64_t rows, int64_t col0, int64_t cols, float *ws) {
  if (rows <= 0 || cols <= 0) return;
  if (a->k <= 0) {
    scale_block(a, row0, rows, col0, cols);
    return;
  }
  const int64_t K = a->k;
  const bool fin = a->bias_row || a->bias_col || a->epilogue;
  int64_t kc_max = min64(isa->kc, K), astride, bstride;
  float *ap = ws;
  float *bp = ws + round_up(min64(isa->mc, round_up(rows, isa->mr)) * kc_max, 16);
  if (rows <= isa->mc) {
    /* short C (conv layers, small batches): A packed once per K-slice, B in
     * L2-sized blocks packed right before their only use */
    int64_t ncb = short_nc(isa, kc_max);
    for (int64_t pc = 0; pc < K; pc += isa->kc) {
      int64_t kc = min64(isa->kc, K - pc);
      const float *ablk = a_block(isa, a, row0, rows, pc, kc, ap, &astride);
      float beta = pc == 0 ? a->beta : 1.0f;
      for (int64_t jc = 0; jc < cols; jc += ncb) {
        int64_t nc = min64(ncb, cols - jc), j0 = col0 + jc;
        const float *bblk = b_block(isa, a, j0, nc, pc, kc, bp, &bstride);
        sweep(isa, a, ablk, astride, bblk, bstride, row0, rows, j0, nc, kc, beta);
        if (pc + kc == K && fin) finish_block(a, row0, rows, j0, nc);
      }
    }
    return;
  }
  for (int64_t jc = 0; jc < cols; jc += isa->nc) {
    int64_t nc = min64(isa->nc, cols - jc), j0 = col0 + jc;
    for (int64_t pc = 0; pc < K; pc += isa->kc) {
      int64_t kc = min64(isa->kc, K - pc);
      const float *bblk = b_block(isa, a, j0, nc, pc, kc, bp, &bstride);
      float beta = pc == 0 ? a->beta : 1.0f;
      for (int64_t ic = 0; ic < rows; ic += isa->mc) {
        int64_t mc = min64(isa->mc, rows - ic), i0 = row0 + ic;
        const float *ablk = a_block(isa, a, i0, mc, pc, kc, ap, &astride);
        sweep(isa, a, ablk, astride, bblk, bstride, i0, mc, j0, nc, kc, beta);
        if (pc + kc == K && fin) finish_block(a, i0, mc, j0, nc);
      }
    }
  }
}

/* ---- threading ----------------------------------------------------------- */

int cpu_sgemm_threads(const onyx_threadpool *pool, double macs) {
  /* below ~2^18 multiply-adds per thread the fork/join costs more than it saves */
  return cpu_gemm_threads(pool, macs, (double)(1 << 18));
}

typedef struct block_ctx {
  const cpu_sgemm_isa *isa;
  const cpu_sgemm_args *a;
} block_ctx;

static void run_block(const void *ctx, int64_t row0, int64_t rows, int64_t col0, int64_t cols, void *ws) {
  const block_ctx *b = ctx;
  cpu_sgemm_block(b->isa, b->a, row0, rows, col0, cols, ws);
}

onyx_status *cpu_sgemm(const onyx_threadpool *pool, const cpu_sgemm_isa *isa,
                       const cpu_sgemm_args *a) {
  if (a->m <= 0 || a->n <= 0) return NULL;
  int nt = cpu_sgemm_threads(pool, (double)a->m * (double)a->n * (double)(a->k > 0 ? a->k : 1));
  cpu_gemm_grid grid = cpu_gemm_grid_plan(nt, a->m, a->n, isa->mr, isa->nr);
  size_t wsf = round_up((int64_t)cpu_sgemm_ws_floats(isa, grid.mb, grid.nb, a->k), 16);
  float *ws = onyx_malloc_aligned((size_t)(grid.tm * grid.tn) * wsf * sizeof(float));
  if (!ws) return onyx_error_oom();
  block_ctx ctx = {isa, a};
  cpu_gemm_grid_run(&grid, run_block, &ctx, ws, wsf * sizeof(float));
  onyx_free_aligned(ws);
  return NULL;
}
