/* qgemm.c — the portable half of the 8-bit GEMM engine (see qgemm.h):
 * micro-kernel selection, weight packing with pair splitting, X block
 * packing (plain, transposed or row callback), the blocked loop nest, the
 * zero-point correction and output stage, and the thread grid (gemm_grid.h).
 *
 * Loop nest, per thread block of C: for each column block of ncb columns
 * (ncb chosen so the block's s32 accumulators stay in L2), for each KC slice
 * of K, pack the KC x ncb block of X once (column sums alongside when some
 * weight zero point is not 0); then for each MC block of rows, sweep MR x NR
 * micro-tiles with each NR panel of X in L1 while the MR panels of W stream
 * from L2, and add the split-pair residuals of those rows and K steps. After
 * the last slice the block gets its zero-point correction and goes through
 * the output stage (store or requantize, row-major or transposed) while it
 * is still in cache. W is always packed whole beforehand: at prepare for
 * constant weights, else once per call. Threads own disjoint rectangles of C
 * and never synchronise. */
#include "qgemm.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu_features.h"
#include "gemm_grid.h"

/* Micro-kernels and requantizers, one set per ISA file. */
void cpu_qgemm_ukernel_4x8__scalar(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                   size_t ldc, size_t m, size_t n, bool accumulate);
void cpu_qgemm_requant__scalar(const int32_t *acc, size_t n, const float *mult, size_t mult_step,
                               const int32_t *bias, size_t bias_step, float zp, float lo, float hi,
                               bool out_signed, void *y);
#if defined(__x86_64__)
void cpu_qgemm_ukernel_6x16__avx2(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                  size_t ldc, size_t m, size_t n, bool accumulate);
void cpu_qgemm_ukernel_6x16_sign__avx2(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                       size_t ldc, size_t m, size_t n, bool accumulate);
void cpu_qgemm_ukernel_6x16__avxvnni(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                     size_t ldc, size_t m, size_t n, bool accumulate);
void cpu_qgemm_interleave4__avx2(const uint8_t *const r[4], size_t n, size_t nr,
                                 size_t panel_stride, uint8_t *dst, int32_t *colsum);
void cpu_qgemm_requant__avx2(const int32_t *acc, size_t n, const float *mult, size_t mult_step,
                             const int32_t *bias, size_t bias_step, float zp, float lo, float hi,
                             bool out_signed, void *y);
void cpu_qgemm_ukernel_8x32__avx512bw(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                      size_t ldc, size_t m, size_t n, bool accumulate);
void cpu_qgemm_ukernel_8x32__avx512vnni(size_t kc, const int8_t *a, const uint8_t *b, int32_t *c,
                                        size_t ldc, size_t m, size_t n, bool accumulate);
#endif

/* Interleaves four rows of n bytes into NR-wide panels (portable version of
 * cpu_qgemm_interleave4__avx2): column j goes to dst + (j / nr) *
 * panel_stride + (j % nr) * 4 as r0[j], r1[j], r2[j], r3[j], zero-filled up
 * to the next multiple of nr; colsum[j] (when non-NULL) gains their sum. */
static void interleave4(const uint8_t *const r[4], size_t n, size_t nr, size_t panel_stride,
                        uint8_t *dst, int32_t *colsum) {
  size_t end = (n + nr - 1) / nr * nr;
  for (size_t j = 0; j < end; j++) {
    uint8_t *o = dst + (j / nr) * panel_stride + (j % nr) * 4;
    for (int t = 0; t < 4; t++) o[t] = j < n ? r[t][j] : 0;
    if (colsum && j < n) colsum[j] += r[0][j] + r[1][j] + r[2][j] + r[3][j];
  }
}

/* Blocking: an NR x KC panel of X fits L1 with room for W's stream, MC x KC
 * of W about half of L2. Bytes are 4x denser than floats, so KC is large. */
static const cpu_qgemm_isa isa_scalar = {"scalar", 4, 8, 128, 512, 512, false,
                                         cpu_qgemm_ukernel_4x8__scalar, NULL, cpu_qgemm_requant__scalar,
                                         interleave4};
#if defined(__x86_64__)
static const cpu_qgemm_isa isa_avx2 = {"avx2", 6, 16, 120, 768, 512, true,
                                       cpu_qgemm_ukernel_6x16__avx2, cpu_qgemm_ukernel_6x16_sign__avx2,
                                       cpu_qgemm_requant__avx2, cpu_qgemm_interleave4__avx2};
static const cpu_qgemm_isa isa_avxvnni = {"avxvnni", 6, 16, 120, 768, 512, false,
                                          cpu_qgemm_ukernel_6x16__avxvnni, NULL,
                                          cpu_qgemm_requant__avx2, cpu_qgemm_interleave4__avx2};
static const cpu_qgemm_isa isa_avx512bw = {"avx512bw", 8, 32, 128, 512, 512, true,
                                           cpu_qgemm_ukernel_8x32__avx512bw, NULL,
                                           cpu_qgemm_requant__avx2, cpu_qgemm_interleave4__avx2};
static const cpu_qgemm_isa isa_avx512vnni = {"avx512vnni", 8, 32, 128, 512, 512, false,
                                             cpu_qgemm_ukernel_8x32__avx512vnni, NULL,
                                             cpu_qgemm_requant__avx2, cpu_qgemm_interleave4__avx2};
#endif

const cpu_qgemm_isa *cpu_qgemm_isa_named(const char *name) {
  const onyx_cpu_features *f = onyx_cpu();
  if (!strcmp(name, "scalar")) return &isa_scalar;
#if defined(__x86_64__)
  bool avx2 = f->avx2 && f->fma, bw = f->avx512f && f->avx512bw && avx2;
  if (!strcmp(name, "avx2") && avx2) return &isa_avx2;
  if (!strcmp(name, "avxvnni") && avx2 && f->avx_vnni) return &isa_avxvnni;
  if (!strcmp(name, "avx512bw") && bw) return &isa_avx512bw;
  if (!strcmp(name, "avx512vnni") && bw && f->avx512_vnni) return &isa_avx512vnni;
#else
  (void)f;
#endif
  return NULL;
}

const cpu_qgemm_isa *cpu_qgemm_isa_best(void) {
  static const char *const order[] = {"avx512vnni", "avxvnni", "avx512bw", "avx2"};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const cpu_qgemm_isa *isa = cpu_qgemm_isa_named(order[i]);
    if (isa) return isa;
  }
  return &isa_scalar;
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- weights ---------------------------------------------------------------- */

void cpu_qgemm_packed_free(cpu_qgemm_packed *p) {
  if (!p) return;
  onyx_free_aligned(p->data);
  onyx_free(p->row_sum);
  onyx_free(p->zero);
  onyx_free(p->res_start);
  onyx_free(p->res_k);
  onyx_free(p->res_v);
  onyx_free(p);
}

/* A pair (w0, w1) that one s16 lane of vpmaddubsw cannot hold for every u8
 * x: 255 * (w0 + w1) out of [-32768, 32767] when both share a sign. Returns
 * the w1 to pack instead (the residual is w1 minus it); w1 when safe. */
static int split_pair(int w0, int w1) {
  if (w0 > 0 && w1 > 0 && w0 + w1 > 128) return 128 - w0;
  if (w0 < 0 && w1 < 0 && w0 + w1 < -128) return -128 - w0;
  return w1;
}

/* Residuals of packed row i into res_k / res_v (when non-NULL), packing
 * what the kernel can take in their place when `apply`: under the sign
 * kernel the -128 weights (packed as -127), else the clipped pairs. Returns
 * the count. */
static int64_t row_residuals(const cpu_qgemm_packed *p, int64_t i, int32_t *res_k, int32_t *res_v,
                             bool apply) {
  const int mr = p->isa->mr;
  int8_t *row = p->data + (i / mr) * mr * p->kp + (i % mr) * 4;
  int64_t n = 0;
  for (int64_t k = 0; k < p->kp; k += p->sign ? 1 : 2) {
    int8_t *q = row + (k / 4) * mr * 4 + k % 4;
    int keep = p->sign ? (q[0] == -128 ? -127 : q[0]) : split_pair(q[0], q[1]);
    int8_t *at = p->sign ? q : q + 1;
    if (keep == *at) continue;
    if (res_k) {
      res_k[n] = (int32_t)(p->sign ? k : k + 1);
      res_v[n] = *at - keep;
    }
    if (apply) *at = (int8_t)keep;
    n++;
  }
  return n;
}

static onyx_status *split_pairs(cpu_qgemm_packed *p) {
  int64_t total = 0;
  for (int64_t i = 0; i < p->m; i++) total += row_residuals(p, i, NULL, NULL, false);
  if (!total) return NULL;
  if (p->isa->ukernel_sign) {
    /* risky pairs: the sign kernel, whose only residuals are -128 weights */
    p->sign = true;
    total = 0;
    for (int64_t i = 0; i < p->m; i++) total += row_residuals(p, i, NULL, NULL, false);
    if (!total) return NULL;
  }
  p->res_start = onyx_malloc((size_t)(p->m + 1) * sizeof *p->res_start);
  p->res_k = onyx_malloc((size_t)total * sizeof *p->res_k);
  p->res_v = onyx_malloc((size_t)total * sizeof *p->res_v);
  if (!p->res_start || !p->res_k || !p->res_v) return onyx_error_oom();
  p->n_res = total;
  int64_t at = 0;
  for (int64_t i = 0; i < p->m; i++) {
    p->res_start[i] = at;
    at += row_residuals(p, i, p->res_k + at, p->res_v + at, true);
  }
  p->res_start[p->m] = at;
  return NULL;
}

onyx_status *cpu_qgemm_pack_w(const cpu_qgemm_isa *isa, bool trans, int64_t m, int64_t k,
                              const void *w, int64_t ldw, bool w_unsigned, const void *zero,
                              int64_t n_zero, cpu_qgemm_packed **out) {
  cpu_qgemm_packed *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  onyx_status *s = NULL;
  const int mr = isa->mr;
  p->isa = isa;
  p->m = m;
  p->k = k;
  p->kp = round_up(k, 4);
  size_t bytes = (size_t)(round_up(m, mr) * p->kp);
  p->data = onyx_malloc_aligned(bytes + 64);
  p->row_sum = onyx_calloc((size_t)(m + 1), sizeof *p->row_sum);
  p->zero = onyx_calloc((size_t)(m + 1), sizeof *p->zero);
  if (!p->data || !p->row_sum || !p->zero) {
    s = onyx_error_oom();
    goto fail;
  }
  memset(p->data, 0, bytes + 64);
  const uint8_t *wb = w;
  const int bias = w_unsigned ? 128 : 0;
  for (int64_t i = 0; i < m; i++) {
    int8_t *row = p->data + (i / mr) * mr * p->kp + (i % mr) * 4;
    int32_t sum = 0;
    for (int64_t kk = 0; kk < k; kk++) {
      uint8_t byte = wb[trans ? kk * ldw + i : i * ldw + kk];
      int v = w_unsigned ? (int)byte - bias : (int)(int8_t)byte;
      row[(kk / 4) * mr * 4 + kk % 4] = (int8_t)v;
      sum += v;
    }
    p->row_sum[i] = sum;
    if (zero) {
      uint8_t zb = ((const uint8_t *)zero)[n_zero == 1 ? 0 : i];
      p->zero[i] = (w_unsigned ? (int)zb : (int)(int8_t)zb) - bias;
      p->any_zero = p->any_zero || p->zero[i] != 0;
    } else {
      p->zero[i] = -bias;
      p->any_zero = p->any_zero || bias != 0;
    }
  }
  if (isa->pair_saturates && (s = split_pairs(p))) goto fail;
  *out = p;
  return NULL;
fail:
  cpu_qgemm_packed_free(p);
  return s;
}

/* ---- X blocks ------------------------------------------------------------------ */

/* zx' of column j (u8 domain) */
static int32_t x_zero(const cpu_qgemm_x *x, int64_t j) {
  if (!x->zero) return x->is_signed ? 128 : 0;
  uint8_t z = x->zero[x->n_zero == 1 ? 0 : j];
  return x->is_signed ? (int32_t)(int8_t)z + 128 : (int32_t)z;
}

/* Per-thread scratch of the block loop. */
typedef struct qgemm_ws {
  uint8_t *bp;                  /* packed X block: kc4 x ncb */
  uint8_t *rows;                /* 5 rows of ncb bytes: 4 produced + 1 of zeros */
  int32_t *colsum;              /* ncb */
  int32_t *cbuf;                /* rows x ncb accumulators */
  int32_t *tmp_i;               /* max(rows, ncb) */
  int32_t *rbias;               /* rows: bias and row zero-point term of the output stage */
  float *tmp_f;                 /* max(rows, ncb) */
  int64_t ncb;
} qgemm_ws;

/* X[pc:pc+kc, j0:j0+nc] into NR-column panels of groups of four K steps. */
static void pack_x_block(const cpu_qgemm_isa *isa, const cpu_qgemm_x *x, int64_t j0, int64_t nc,
                         int64_t pc, int64_t kc, const qgemm_ws *ws, int32_t *colsum) {
  const int nr = isa->nr;
  const int64_t kc4 = round_up(kc, 4), pstride = kc4 * nr;
  uint8_t *bp = ws->bp;
  const uint8_t flip = x->is_signed ? 0x80 : 0;
  if (x->data && x->trans) {
    const uint8_t *src0 = x->data;
    int64_t ncp = round_up(nc, nr);
    for (int64_t j = 0; j < ncp; j++) {
      uint8_t *d = bp + (j / nr) * pstride + (j % nr) * 4;
      if (j >= nc) {
        for (int64_t g = 0; g < kc4; g += 4) memset(d + g * nr, 0, 4);
        continue;
      }
      const uint8_t *src = src0 + (j0 + j) * x->ld + pc;
      int32_t sum = 0;
      int64_t p = 0;
      for (; p + 4 <= kc; p += 4) {
        uint8_t *q = d + p * nr;
        for (int t = 0; t < 4; t++) {
          q[t] = src[p + t] ^ flip;
          sum += q[t];
        }
      }
      if (p < kc) {
        uint8_t *q = d + p * nr;
        for (int t = 0; t < 4; t++) {
          q[t] = p + t < kc ? src[p + t] ^ flip : 0;
          sum += q[t];
        }
      }
      if (colsum) colsum[j] += sum;
    }
    return;
  }
  uint8_t *zeros = ws->rows + 4 * ws->ncb;
  for (int64_t g = 0; g < kc4; g += 4) {
    const uint8_t *r[4];
    for (int t = 0; t < 4; t++) {
      int64_t k = pc + g + t;
      uint8_t *scratch = ws->rows + t * ws->ncb;
      if (g + t >= kc) r[t] = zeros;
      else if (x->row) {
        x->row(x->row_ctx, k, j0, nc, scratch);
        r[t] = scratch;
      } else {
        const uint8_t *src = (const uint8_t *)x->data + k * x->ld + j0;
        if (!flip) r[t] = src;
        else {
          for (int64_t j = 0; j < nc; j++) scratch[j] = src[j] ^ flip;
          r[t] = scratch;
        }
      }
    }
    isa->interleave4(r, (size_t)nc, (size_t)nr, (size_t)pstride, bp + g * nr, colsum);
  }
}

/* ---- the block loop --------------------------------------------------------------- */

/* columns per block: the block's s32 accumulators for all rows in ~128 KB */
static int64_t block_cols(const cpu_qgemm_isa *isa, int64_t rows, int64_t cols) {
  int64_t ncb = (32768 / max64(round_up(rows, isa->mr), 1)) / isa->nr * isa->nr;
  ncb = max64(ncb, isa->nr);
  ncb = min64(ncb, isa->nc);
  return min64(ncb, round_up(cols, isa->nr));
}

size_t cpu_qgemm_ws_bytes(const cpu_qgemm_isa *isa, int64_t rows, int64_t cols, int64_t k) {
  rows = max64(rows, 1);
  int64_t ncb = block_cols(isa, rows, max64(cols, 1));
  int64_t kc4 = round_up(min64(isa->kc, max64(k, 1)), 4);
  int64_t rp = round_up(rows, isa->mr), t = max64(rp, ncb);
  return (size_t)(round_up(kc4 * ncb, 64) + round_up(5 * ncb, 64) + 4 * round_up(ncb, 16) +
                  4 * rp * ncb + 8 * round_up(t, 16) + 4 * round_up(rp, 16) + 64);
}

static void ws_layout(const cpu_qgemm_isa *isa, int64_t rows, int64_t cols, int64_t k, void *mem,
                      qgemm_ws *ws) {
  int64_t ncb = block_cols(isa, rows, cols);
  int64_t kc4 = round_up(min64(isa->kc, max64(k, 1)), 4);
  int64_t rp = round_up(rows, isa->mr), t = max64(rp, ncb);
  uint8_t *p = mem;
  ws->ncb = ncb;
  ws->bp = p;
  p += round_up(kc4 * ncb, 64);
  ws->rows = p;
  p += round_up(5 * ncb, 64);
  ws->colsum = (int32_t *)p;
  p += 4 * round_up(ncb, 16);
  ws->cbuf = (int32_t *)p;
  p += 4 * rp * ncb;
  ws->tmp_i = (int32_t *)p;
  p += 4 * round_up(t, 16);
  ws->tmp_f = (float *)p;
  p += 4 * round_up(t, 16);
  ws->rbias = (int32_t *)p;
  memset(ws->rows + 4 * ncb, 0, (size_t)ncb);
}

/* cbuf rows [0, mc) (C rows i0..) += residual * X' for the residuals of
 * those rows with K index in [pc, pc + kc), from the packed block */
static void add_residuals(const cpu_qgemm_isa *isa, const cpu_qgemm_packed *w, const uint8_t *bp,
                          int64_t kc, int64_t i0, int64_t mc, int64_t nc, int64_t pc, int32_t *cbuf,
                          int64_t ldc) {
  const int nr = isa->nr;
  const int64_t pstride = round_up(kc, 4) * nr;
  const uint32_t xb = w->sign ? 128 : 0;  /* the sign kernel sums w (x - 128) */
  for (int64_t i = 0; i < mc; i++) {
    int64_t e = w->res_start[i0 + i], end = w->res_start[i0 + i + 1];
    while (e < end && w->res_k[e] < pc) e++;
    for (; e < end && w->res_k[e] < pc + kc; e++) {
      int64_t p = w->res_k[e] - pc;
      uint32_t r = (uint32_t)w->res_v[e];
      const uint8_t *src = bp + (p / 4) * nr * 4 + p % 4;
      uint32_t *c = (uint32_t *)cbuf + i * ldc;
      for (int64_t jp = 0; jp < nc; jp += nr, src += pstride) {
        int64_t nn = min64(nr, nc - jp);
        for (int64_t j = 0; j < nn; j++) c[jp + j] += r * (src[4 * j] - xb);
      }
    }
  }
}

/* multiplier of C[i, j] when there is no per-row table */
static float mult_at(const cpu_qgemm_out *o, int64_t i, int64_t j) {
  return (o->x_scale[o->n_x_scale == 1 ? 0 : j] * o->w_scale[o->n_w_scale == 1 ? 0 : i]) / o->y_scale;
}

/* Zero-point correction and output stage of the finished block cbuf (rows
 * i0.. of C, mc of them; columns j0.., nc of them). The kernel summed
 * w' (x' - xb), so
 *   C = cbuf - zw'[i] (colsum[j] - K zx'[j]) - (zx'[j] - xb) rowsum[i]  (mod 2^32).
 * With one zx' the last term is per row and joins the bias of the output
 * stage; only column sums or per-column zx' need a pass over the block. */
static void finish_block(const cpu_qgemm_isa *isa, const cpu_qgemm_args *a, const qgemm_ws *ws,
                         int64_t i0, int64_t mc, int64_t j0, int64_t nc, bool have_colsum) {
  const cpu_qgemm_packed *w = a->w;
  const cpu_qgemm_x *x = &a->x;
  const cpu_qgemm_out *o = &a->out;
  const int64_t ldc = ws->ncb;
  const uint32_t xb = w->sign ? 128 : 0;
  const bool zx_scalar = !x->zero || x->n_zero == 1;
  uint32_t *cb = (uint32_t *)ws->cbuf, *cs = (uint32_t *)ws->colsum, *rb = (uint32_t *)ws->rbias;
  uint32_t zx0 = (uint32_t)x_zero(x, j0) - xb;
  for (int64_t i = 0; i < mc; i++)
    rb[i] = (o->bias ? (uint32_t)o->bias[i0 + i] : 0) - (zx_scalar ? zx0 * (uint32_t)w->row_sum[i0 + i] : 0);
  if (have_colsum)
    for (int64_t j = 0; j < nc; j++) cs[j] -= (uint32_t)a->k * (uint32_t)x_zero(x, j0 + j);
  if (have_colsum || !zx_scalar)
    for (int64_t i = 0; i < mc; i++) {
      uint32_t zw = have_colsum ? (uint32_t)w->zero[i0 + i] : 0, rs = (uint32_t)w->row_sum[i0 + i];
      uint32_t *c = cb + i * ldc;
      if (zx_scalar)
        for (int64_t j = 0; j < nc; j++) c[j] -= zw * cs[j];
      else
        for (int64_t j = 0; j < nc; j++)
          c[j] -= zw * (have_colsum ? cs[j] : 0) + ((uint32_t)x_zero(x, j0 + j) - xb) * rs;
    }
  const int32_t *c = ws->cbuf, *rbias = ws->rbias;
  if (o->kind == CPU_QGEMM_OUT_S32) {
    uint32_t *y = o->y;
    if (!o->trans)
      for (int64_t i = 0; i < mc; i++) {
        uint32_t *yr = y + (i0 + i) * o->ldy + j0, r = rb[i];
        const uint32_t *cr = cb + i * ldc;
        for (int64_t j = 0; j < nc; j++) yr[j] = cr[j] + r;
      }
    else
      for (int64_t j = 0; j < nc; j++)
        for (int64_t i = 0; i < mc; i++) y[(j0 + j) * o->ldy + i0 + i] = cb[i * ldc + j] + rb[i];
    return;
  }
  if (o->kind == CPU_QGEMM_OUT_F32) {
    /* two roundings, (float)C * mult then + bias, as Cast, Mul and Add give */
    float *y = o->y;
    for (int64_t j = 0; j < (o->trans ? nc : 1); j++)
      for (int64_t i = 0; i < mc; i++) {
        const uint32_t *cr = cb + i * ldc, r = rb[i];
        const float bf = o->bias_f ? o->bias_f[i0 + i] : 0.0f;
        const bool one = o->mult_row || o->n_x_scale == 1;
        const float m0 = o->mult_row ? o->mult_row[i0 + i] : mult_at(o, i0 + i, j0);
        if (o->trans) {
          float t = (float)(int32_t)(cr[j] + r) * (one ? m0 : mult_at(o, i0 + i, j0 + j));
          y[(j0 + j) * o->ldy + i0 + i] = o->bias_f ? t + bf : t;
          continue;
        }
        float *yr = y + (i0 + i) * o->ldy + j0;
        for (int64_t jj = 0; jj < nc; jj++) {
          float t = (float)(int32_t)(cr[jj] + r) * (one ? m0 : mult_at(o, i0 + i, j0 + jj));
          yr[jj] = o->bias_f ? t + bf : t;
        }
      }
    return;
  }
  bool sgn = o->kind == CPU_QGEMM_OUT_S8;
  float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f, zp = (float)o->y_zero;
  if (o->relu && zp > lo) lo = zp;
  uint8_t *y = o->y;
  if (!o->trans) {
    for (int64_t i = 0; i < mc; i++) {
      const float *mult = o->mult_row ? o->mult_row + i0 + i : ws->tmp_f;
      if (!o->mult_row)
        for (int64_t j = 0; j < nc; j++) ws->tmp_f[j] = mult_at(o, i0 + i, j0 + j);
      isa->requant(c + i * ldc, (size_t)nc, mult, o->mult_row ? 0 : 1, rbias + i, 0, zp, lo, hi, sgn,
                   y + (i0 + i) * o->ldy + j0);
    }
    return;
  }
  for (int64_t j = 0; j < nc; j++) {
    for (int64_t i = 0; i < mc; i++) ws->tmp_i[i] = c[i * ldc + j];
    const float *mult = o->mult_row ? o->mult_row + i0 : ws->tmp_f;
    if (!o->mult_row)
      for (int64_t i = 0; i < mc; i++) ws->tmp_f[i] = mult_at(o, i0 + i, j0 + j);
    isa->requant(ws->tmp_i, (size_t)mc, mult, 1, rbias, 1, zp, lo, hi, sgn, y + (j0 + j) * o->ldy + i0);
  }
}

void cpu_qgemm_block(const cpu_qgemm_isa *isa, const cpu_qgemm_args *a, int64_t row0,
                     int64_t rows, int64_t col0, int64_t cols, void *mem) {
  if (rows <= 0 || cols <= 0) return;
  qgemm_ws ws;
  ws_layout(isa, rows, cols, a->k, mem, &ws);
  const cpu_qgemm_packed *w = a->w;
  const int mr = isa->mr, nr = isa->nr;
  const int64_t K = a->k, ldc = ws.ncb;
  const bool need_colsum = w->any_zero;
  const cpu_qgemm_ukernel_fn ukernel = w->sign ? isa->ukernel_sign : isa->ukernel;
  for (int64_t jc = 0; jc < cols; jc += ws.ncb) {
    int64_t nc = min64(ws.ncb, cols - jc), j0 = col0 + jc;
    if (need_colsum) memset(ws.colsum, 0, (size_t)nc * sizeof *ws.colsum);
    if (K <= 0) memset(ws.cbuf, 0, (size_t)(rows * ldc) * sizeof *ws.cbuf);
    for (int64_t pc = 0; pc < K; pc += isa->kc) {
      int64_t kc = min64(isa->kc, K - pc), kc4 = round_up(kc, 4);
      pack_x_block(isa, &a->x, j0, nc, pc, kc, &ws, need_colsum ? ws.colsum : NULL);
      for (int64_t ic = 0; ic < rows; ic += isa->mc) {
        int64_t mc = min64(isa->mc, rows - ic);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const uint8_t *bpan = ws.bp + (jr / nr) * kc4 * nr;
          size_t nn = (size_t)min64(nr, nc - jr);
          for (int64_t ir = ic; ir < ic + mc; ir += mr) {
            const int8_t *apan = w->data + ((row0 + ir) / mr) * mr * w->kp + pc * mr;
            ukernel((size_t)kc4, apan, bpan, ws.cbuf + ir * ldc + jr, (size_t)ldc,
                         (size_t)min64(mr, ic + mc - ir), nn, pc > 0);
          }
        }
        if (w->n_res) add_residuals(isa, w, ws.bp, kc, row0 + ic, mc, nc, pc, ws.cbuf + ic * ldc, ldc);
      }
    }
    finish_block(isa, a, &ws, row0, rows, j0, nc, need_colsum);
  }
}

/* ---- threading ---------------------------------------------------------------------- */

void cpu_qgemm_mult(cpu_qgemm_args *a, float *mult_row) {
  cpu_qgemm_out *o = &a->out;
  o->mult_row = NULL;
  if (o->kind == CPU_QGEMM_OUT_S32 || o->n_x_scale != 1) return;
  for (int64_t i = 0; i < a->m; i++) mult_row[i] = mult_at(o, i, 0);
  o->mult_row = mult_row;
}

int cpu_qgemm_threads(const onyx_threadpool *pool, double macs) {
  /* below ~2^19 multiply-adds per thread the fork/join costs more than it saves */
  return cpu_gemm_threads(pool, macs, (double)(1 << 19));
}

typedef struct block_ctx {
  const cpu_qgemm_isa *isa;
  const cpu_qgemm_args *a;
} block_ctx;

static void run_block(const void *ctx, int64_t row0, int64_t rows, int64_t col0, int64_t cols, void *ws) {
  const block_ctx *b = ctx;
  cpu_qgemm_block(b->isa, b->a, row0, rows, col0, cols, ws);
}

onyx_status *cpu_qgemm(const onyx_threadpool *pool, const cpu_qgemm_isa *isa,
                       const cpu_qgemm_args *args) {
  if (args->m <= 0 || args->n <= 0) return NULL;
  cpu_qgemm_args a = *args;
  int nt = cpu_qgemm_threads(pool, (double)a.m * (double)a.n * (double)(a.k > 0 ? a.k : 1));
  cpu_gemm_grid grid = cpu_gemm_grid_plan(nt, a.m, a.n, isa->mr, isa->nr);
  size_t wsb = (size_t)round_up((int64_t)cpu_qgemm_ws_bytes(isa, grid.mb, grid.nb, a.k), 64);
  size_t tasks = (size_t)(grid.tm * grid.tn);
  size_t mult_bytes = (size_t)round_up(a.m * (int64_t)sizeof(float), 64);
  uint8_t *ws = onyx_malloc_aligned(tasks * wsb + mult_bytes);
  if (!ws) return onyx_error_oom();
  cpu_qgemm_mult(&a, (float *)(ws + tasks * wsb));
  block_ctx ctx = {isa, &a};
  cpu_gemm_grid_run(&grid, run_block, &ctx, ws, wsb);
  onyx_free_aligned(ws);
  return NULL;
}
