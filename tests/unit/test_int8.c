/* test_int8.c — the int8 GEMM engine (gemm/qgemm.h) on every micro-kernel
 * this CPU runs plus emulated AVX-512BW / AVX-512 VNNI / AVX-VNNI ones, and
 * the int8 op kernels (MatMulInteger, QLinearMatMul, ConvInteger,
 * QLinearConv, DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear),
 * against independent scalar references on random data: odd shapes, zero
 * points 0 / 128 / random / per row / per channel, every u8/s8 mix, and
 * weights chosen to make vpmaddubsw saturate unless the engine splits pairs.
 * The program re-runs itself with ONYX_ISA=scalar so the op kernels are also
 * checked on the portable dispatch path. */
#include <sys/wait.h>
#include <unistd.h>

#include "providers/cpu/gemm/qgemm.h"
#include "test_util.h"

#include "base/alloc.h"
#include "base/cpu_features.h"

/* ---- emulated AVX-512 kernels --------------------------------------------------
 * The AVX-512 micro-kernels' own source, compiled against plain-C emulations
 * of the intrinsics they use (saturating vpmaddubsw included), so their logic
 * is checked on CPUs without AVX-512. Masked loads never touch masked-off
 * lanes, as on hardware, so the sanitizer build catches a wrong mask. */
#define _IMMINTRIN_H_INCLUDED
#define __m512i emu__m512i
#define _mm512_setzero_si512 emu_mm512_setzero_si512
#define _mm512_set1_epi32 emu_mm512_set1_epi32
#define _mm512_set1_epi16 emu_mm512_set1_epi16
#define _mm512_loadu_si512 emu_mm512_loadu_si512
#define _mm512_add_epi32 emu_mm512_add_epi32
#define _mm512_maddubs_epi16 emu_mm512_maddubs_epi16
#define _mm512_madd_epi16 emu_mm512_madd_epi16
#define _mm512_dpbusd_epi32 emu_mm512_dpbusd_epi32
#define _mm512_maskz_loadu_epi32 emu_mm512_maskz_loadu_epi32
#define _mm512_mask_storeu_epi32 emu_mm512_mask_storeu_epi32
typedef struct { int32_t v[16]; } __m512i;
typedef unsigned short __mmask16;
static inline __m512i _mm512_setzero_si512(void) { __m512i r = {{0}}; return r; }
static inline __m512i _mm512_set1_epi32(int32_t x) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.v[i] = x;
  return r;
}
static inline __m512i _mm512_set1_epi16(short x) {
  return _mm512_set1_epi32((int32_t)(((uint32_t)(uint16_t)x << 16) | (uint16_t)x));
}
static inline __m512i _mm512_loadu_si512(const void *p) {
  __m512i r;
  memcpy(r.v, p, sizeof r.v);
  return r;
}
static inline __m512i _mm512_add_epi32(__m512i a, __m512i b) {
  for (int i = 0; i < 16; i++) a.v[i] = (int32_t)((uint32_t)a.v[i] + (uint32_t)b.v[i]);
  return a;
}
/* u8 x s8 pairs into saturated s16 (bytes reinterpreted through memcpy) */
static inline __m512i _mm512_maddubs_epi16(__m512i a, __m512i b) {
  __m512i r;
  uint8_t ua[64];
  int8_t sb[64];
  int16_t d[32];
  memcpy(ua, a.v, 64);
  memcpy(sb, b.v, 64);
  for (int i = 0; i < 32; i++) {
    int s = ua[2 * i] * sb[2 * i] + ua[2 * i + 1] * sb[2 * i + 1];
    d[i] = (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
  }
  memcpy(r.v, d, 64);
  return r;
}
static inline __m512i _mm512_madd_epi16(__m512i a, __m512i b) {
  __m512i r;
  int16_t x[32], y[32];
  memcpy(x, a.v, 64);
  memcpy(y, b.v, 64);
  for (int i = 0; i < 16; i++) r.v[i] = x[2 * i] * y[2 * i] + x[2 * i + 1] * y[2 * i + 1];
  return r;
}
static inline __m512i _mm512_dpbusd_epi32(__m512i acc, __m512i a, __m512i b) {
  uint8_t ua[64];
  int8_t sb[64];
  memcpy(ua, a.v, 64);
  memcpy(sb, b.v, 64);
  for (int i = 0; i < 16; i++) {
    int32_t s = 0;
    for (int t = 0; t < 4; t++) s += ua[4 * i + t] * sb[4 * i + t];
    acc.v[i] = (int32_t)((uint32_t)acc.v[i] + (uint32_t)s);
  }
  return acc;
}
static inline __m512i _mm512_maskz_loadu_epi32(__mmask16 k, const int32_t *p) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.v[i] = (k >> i) & 1 ? p[i] : 0;
  return r;
}
static inline void _mm512_mask_storeu_epi32(int32_t *p, __mmask16 k, __m512i a) {
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) p[i] = a.v[i];
}
#define cpu_qgemm_ukernel_8x32__avx512bw emu_qgemm_ukernel_8x32__avx512bw
#define cpu_qgemm_ukernel_8x32__avx512vnni emu_qgemm_ukernel_8x32__avx512vnni
#include "providers/cpu/gemm/qgemm_avx512.c"
#undef cpu_qgemm_ukernel_8x32__avx512bw
#undef cpu_qgemm_ukernel_8x32__avx512vnni
#undef _IMMINTRIN_H_INCLUDED
#undef __m512i
#undef _mm512_setzero_si512
#undef _mm512_set1_epi32
#undef _mm512_set1_epi16
#undef _mm512_loadu_si512
#undef _mm512_add_epi32
#undef _mm512_maddubs_epi16
#undef _mm512_madd_epi16
#undef _mm512_dpbusd_epi32
#undef _mm512_maskz_loadu_epi32
#undef _mm512_mask_storeu_epi32
#undef MR
#undef NR
#undef ROW
#undef STEP
#undef ROW_STORE
#undef DEFINE_UKERNEL
#undef DOT_VNNI

/* requantizer and interleaver of the scalar ISA: the emulated kernels run
 * on any CPU */
static const cpu_qgemm_isa *scalar_isa(void) { return cpu_qgemm_isa_named("scalar"); }
static cpu_qgemm_isa isa_bw_emu = {"avx512bw-emulated", 8, 32, 64, 256, 128, true,
                                   emu_qgemm_ukernel_8x32__avx512bw, NULL, NULL, NULL};
static cpu_qgemm_isa isa_vnni_emu = {"avx512vnni-emulated", 8, 32, 64, 256, 128, false,
                                     emu_qgemm_ukernel_8x32__avx512vnni, NULL, NULL, NULL};

/* ---- emulated AVX-VNNI kernel ----------------------------------------------------
 * The 256-bit file compiled here with AVX2 enabled and vpdpbusd (VEX) replaced
 * by an exact emulation, so the AVX-VNNI kernel's body runs on AVX2 CPUs. */
#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
__attribute__((noinline, optimize("no-tree-vectorize"))) static __m256i
emu_dpbusd256(__m256i acc, __m256i a, __m256i b) {
  int32_t r[8];
  uint8_t ua[32];
  int8_t sb[32];
  _mm256_storeu_si256((__m256i *)r, acc);
  _mm256_storeu_si256((__m256i *)ua, a);
  _mm256_storeu_si256((__m256i *)sb, b);
  for (int i = 0; i < 8; i++)
    for (int t = 0; t < 4; t++) r[i] = (int32_t)((uint32_t)r[i] + (uint32_t)(ua[4 * i + t] * sb[4 * i + t]));
  return _mm256_loadu_si256((const __m256i *)r);
}
#define _mm256_dpbusd_avx_epi32 emu_dpbusd256
#define cpu_qgemm_ukernel_6x16__avx2 emu_qgemm_ukernel_6x16__avx2
#define cpu_qgemm_ukernel_6x16_sign__avx2 emu_qgemm_ukernel_6x16_sign__avx2
#define cpu_qgemm_ukernel_6x16__avxvnni emu_qgemm_ukernel_6x16__avxvnni
#define cpu_qgemm_requant__avx2 emu_qgemm_requant__avx2
#define cpu_qgemm_interleave4__avx2 emu_qgemm_interleave4__avx2
#include "providers/cpu/gemm/qgemm_avx2.c"
#pragma GCC pop_options
static const cpu_qgemm_isa isa_avxvnni_emu = {"avxvnni-emulated", 6, 16, 60, 256, 128, false,
                                              emu_qgemm_ukernel_6x16__avxvnni, NULL,
                                              emu_qgemm_requant__avx2, emu_qgemm_interleave4__avx2};
#endif

/* ---- random data ------------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static uint8_t rnd_byte(void) { return (uint8_t)rnd(); }

/* value of an 8-bit byte */
static int32_t q8v(uint8_t b, bool is_signed) { return is_signed ? (int32_t)(int8_t)b : (int32_t)b; }

/* weights: 0 uniform, 1 extremes and large same-sign neighbours (the pairs
 * vpmaddubsw cannot hold), 2 7-bit ([-64, 63] as s8) */
static uint8_t weight_byte(int mode, bool is_unsigned) {
  int v;
  if (mode == 0) return rnd_byte();
  if (mode == 2) v = (int)(rnd() % 128) - 64;
  else {
    static const int ext[] = {127, -128, 126, -127, 100, -100, 90, -90, 0, 1};
    v = ext[rnd() % 10];
  }
  return (uint8_t)(is_unsigned ? v + 128 : v);
}

/* ---- engine ------------------------------------------------------------------------- */

typedef struct eng_case {
  int64_t m, n, k;
  int wmode;
  bool w_u8, x_s8;
  int zw;         /* 0 none, 1 scalar 0/128 (symmetric), 2 scalar random, 3 per row */
  int zx;         /* 0 none, 1 scalar, 2 per column */
  int xform;      /* 0 plain, 1 transposed, 2 row callback */
  cpu_qgemm_out_kind kind;
  bool trans_out, bias, relu;
  int threads;
} eng_case;

typedef struct xrows {
  const uint8_t *x;
  int64_t n;
  bool flip;
} xrows;

static void test_row(const void *ctx, int64_t k, int64_t n0, int64_t nc, uint8_t *dst) {
  const xrows *r = ctx;
  for (int64_t j = 0; j < nc; j++) dst[j] = (uint8_t)(r->x[k * r->n + n0 + j] ^ (r->flip ? 0x80 : 0));
}

static int check_engine(const cpu_qgemm_isa *isa, const eng_case *e) {
  int64_t M = e->m, N = e->n, K = e->k;
  uint8_t *w = malloc((size_t)(M * K) + 1), *x = malloc((size_t)(K * N) + 1);
  uint8_t *xt = malloc((size_t)(K * N) + 1), zw[4096], zx[4096];
  int32_t *ref = malloc((size_t)(M * N) * 4 + 4), *bias = malloc((size_t)M * 4 + 4);
  float ws[4096], xs[4096];
  for (int64_t i = 0; i < M * K; i++) w[i] = weight_byte(e->wmode, e->w_u8);
  for (int64_t i = 0; i < K * N; i++) x[i] = rnd() % 4 == 0 ? (e->x_s8 ? 0x7f : 0xff) : rnd_byte();
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) xt[j * K + k] = x[k * N + j];
  uint8_t zw0 = rnd_byte();
  for (int64_t i = 0; i < M; i++) {
    zw[i] = e->zw == 1 ? (e->w_u8 ? 128 : 0) : e->zw == 2 ? zw0 : rnd_byte();
    bias[i] = (int32_t)(rnd() % 20001) - 10000;
    ws[i] = 0.0005f + (float)(rnd() % 1000) * 1e-5f;
  }
  for (int64_t j = 0; j < N; j++) {
    zx[j] = e->zx == 2 || j == 0 ? rnd_byte() : zx[0];
    xs[j] = e->zx == 2 ? 0.01f + (float)(rnd() % 100) * 1e-4f : 0.02f;
  }
  /* reference sums, int64 then wrapped */
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int64_t s = 0;
      int32_t a0 = e->zw ? q8v(zw[e->zw == 3 ? i : 0], !e->w_u8) : 0;
      int32_t b0 = e->zx ? q8v(zx[e->zx == 2 ? j : 0], e->x_s8) : 0;
      for (int64_t k = 0; k < K; k++)
        s += (int64_t)(q8v(w[i * K + k], !e->w_u8) - a0) * (q8v(x[k * N + j], e->x_s8) - b0);
      ref[i * N + j] = (int32_t)(uint32_t)(uint64_t)s;
    }
  cpu_qgemm_packed *pw = NULL;
  onyx_status *st = cpu_qgemm_pack_w(isa, false, M, K, w, K, e->w_u8, e->zw ? zw : NULL,
                                     e->zw == 3 ? M : 1, &pw);
  CHECK_OK(st);
  int bad = -1;
  if (pw) {
    size_t osz = e->kind == CPU_QGEMM_OUT_S32 ? 4 : 1;
    uint8_t *y = malloc((size_t)(M * N) * osz + 1);
    memset(y, 0xcd, (size_t)(M * N) * osz);
    xrows xr = {x, N, e->x_s8};
    cpu_qgemm_args a = {0};
    a.m = M;
    a.n = N;
    a.k = K;
    a.w = pw;
    a.x.is_signed = e->x_s8;
    if (e->xform == 0) {
      a.x.data = x;
      a.x.ld = N;
    } else if (e->xform == 1) {
      a.x.data = xt;
      a.x.ld = K;
      a.x.trans = true;
    } else {
      a.x.row = test_row;
      a.x.row_ctx = &xr;
    }
    a.x.zero = e->zx ? zx : NULL;
    a.x.n_zero = e->zx == 2 ? N : 1;
    a.out.kind = e->kind;
    a.out.y = y;
    a.out.trans = e->trans_out;
    a.out.ldy = e->trans_out ? M : N;
    a.out.x_scale = xs;
    a.out.n_x_scale = e->zx == 2 ? N : 1;
    a.out.w_scale = ws;
    a.out.n_w_scale = M;
    a.out.y_scale = 0.37f;
    a.out.y_zero = e->kind == CPU_QGEMM_OUT_U8 ? 117 : -9;
    a.out.bias = e->bias ? bias : NULL;
    a.out.relu = e->relu;
    onyx_threadpool pool = {e->threads};
    CHECK_OK(cpu_qgemm(&pool, isa, &a));
    bad = 0;
    bool sgn = e->kind == CPU_QGEMM_OUT_S8;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        int64_t at = e->trans_out ? j * M + i : i * N + j;
        int32_t v = (int32_t)((uint32_t)ref[i * N + j] + (uint32_t)(e->bias ? bias[i] : 0));
        if (e->kind == CPU_QGEMM_OUT_S32) {
          bad += ((int32_t *)y)[at] != v;
          continue;
        }
        float mult = (xs[e->zx == 2 ? j : 0] * ws[i]) / a.out.y_scale;
        float f = nearbyintf((float)v * mult) + (float)a.out.y_zero;
        float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f;
        if (e->relu && lo < a.out.y_zero) lo = (float)a.out.y_zero;
        f = f < lo ? lo : f > hi ? hi : f;
        int32_t want = (int32_t)f, got = sgn ? ((int8_t *)y)[at] : y[at];
        bad += got != want;
      }
    free(y);
  }
  cpu_qgemm_packed_free(pw);
  free(w);
  free(x);
  free(xt);
  free(ref);
  free(bias);
  return bad;
}

/* 7-bit weights need nothing; extreme ones take the sign kernel or split
 * pairs on saturating ISAs */
static void test_residual_counts(const cpu_qgemm_isa *isa) {
  uint8_t w[64 * 40];
  for (int mode = 1; mode <= 2; mode++) {
    for (int i = 0; i < 64 * 40; i++) w[i] = weight_byte(mode, false);
    cpu_qgemm_packed *p = NULL;
    CHECK_OK(cpu_qgemm_pack_w(isa, false, 64, 40, w, 40, false, NULL, 1, &p));
    if (!p) continue;
    if (mode == 2 || !isa->pair_saturates) CHECK(p->n_res == 0 && !p->sign);
    else if (isa->ukernel_sign) CHECK(p->sign && p->n_res > 0);  /* the -128 weights */
    else CHECK(!p->sign && p->n_res > 0);
    cpu_qgemm_packed_free(p);
  }
}

static void test_engine(const cpu_qgemm_isa *isa, bool small) {
  static const int64_t shapes[][3] = {{1, 1, 1},    {3, 5, 7},     {4, 16, 4},   {17, 33, 65},
                                      {64, 49, 576}, {5, 300, 1100}, {130, 700, 13}, {9, 1, 300}};
  int before = tu_fail;
  test_residual_counts(isa);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    if (small && shapes[s][0] * shapes[s][1] * shapes[s][2] > 200000) continue;
    for (int v = 0; v < 12; v++) {
      eng_case e = {shapes[s][0], shapes[s][1], shapes[s][2], v % 3, (v & 1) != 0, (v & 2) != 0,
                    v % 4, (v / 2) % 3, v % 3, (cpu_qgemm_out_kind)(v % 3), (v & 4) != 0,
                    (v & 1) != 0, v == 5 || v == 10, 1 + (v & 1)};
      int bad = check_engine(isa, &e);
      CHECK(bad == 0);
      if (bad)
        fprintf(stderr, "  %s %lldx%lldx%lld variant %d: %d wrong\n", isa->name, (long long)e.m,
                (long long)e.n, (long long)e.k, v, bad);
    }
  }
  printf("test_int8: engine %s (mr %d nr %d%s) %s\n", isa->name, isa->mr, isa->nr,
         !isa->pair_saturates ? "" : isa->ukernel_sign ? ", sign kernel" : ", pair splitting",
         tu_fail == before ? "ok" : "FAILED");
}

/* ---- op kernels ------------------------------------------------------------------------ */

static onyx_tensor *bytes_tensor(onyx_dtype dt, int rank, const int64_t *dims, const uint8_t *v) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  memcpy(onyx_tensor_data(t), v, onyx_tensor_nbytes(t));
  return t;
}

static onyx_dtype q8dt(bool is_signed) { return is_signed ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8; }

/* requantize like the ONNX reference */
static int32_t ref_requant(int64_t acc, float mult, int32_t zp, bool sgn) {
  float f = nearbyintf((float)acc * mult) + (float)zp;
  float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f;
  return (int32_t)(f < lo ? lo : f > hi ? hi : f);
}

/* MatMulInteger / QLinearMatMul: A [batch..., M, K] x B [K, N] or [batch, K, N] */
static void test_matmul_op(bool qlinear, int64_t batch, int64_t M, int64_t K, int64_t N, bool a_s8,
                           bool b_s8, bool b_const, bool b_batched, bool a_per_row, bool b_per_col,
                           bool y_s8, int threads) {
  int64_t na = batch * M * K, nb = (b_batched ? batch : 1) * K * N;
  uint8_t *a = malloc((size_t)na), *b = malloc((size_t)nb), za[512], zb[512];
  float as[512], bs[512], ys = 0.9f;
  for (int64_t i = 0; i < na; i++) a[i] = rnd_byte();
  for (int64_t i = 0; i < nb; i++) b[i] = rnd() % 3 ? rnd_byte() : (b_s8 ? 0x7f : 0xff);
  for (int64_t i = 0; i < 512; i++) {
    za[i] = rnd_byte();
    zb[i] = rnd_byte();
    as[i] = 0.01f + (float)(rnd() % 100) * 1e-3f;
    bs[i] = 0.001f + (float)(rnd() % 100) * 1e-4f;
  }
  uint8_t yz = (uint8_t)(y_s8 ? 0xf0 : 100);
  int64_t ad[3] = {batch, M, K}, bd[3] = {batch, K, N};
  int64_t zad[1] = {a_per_row ? M : 1}, zbd[1] = {b_per_col ? N : 1}, one[1] = {1};
  int brank = b_batched ? 3 : 2;
  const int64_t *bdims = b_batched ? bd : bd + 1;
  tu_node t = tu_node_new(qlinear ? "QLinearMatMul" : "MatMulInteger", 13, qlinear ? 8 : 4, 1);
  int ia = 0, iaz = qlinear ? 2 : 2, ib = qlinear ? 3 : 1, ibz = qlinear ? 5 : 3;
  tu_input(&t, ia, q8dt(a_s8), 3, ad);
  tu_const(&t, iaz, q8dt(a_s8), 1, zad, za);
  if (b_const) tu_const(&t, ib, q8dt(b_s8), brank, bdims, b);
  else tu_input(&t, ib, q8dt(b_s8), brank, bdims);
  tu_const(&t, ibz, q8dt(b_s8), 1, zbd, zb);
  if (qlinear) {
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, zad, as);
    tu_const(&t, 4, ONYX_DTYPE_FLOAT, 1, zbd, bs);
    tu_const(&t, 6, ONYX_DTYPE_FLOAT, 0, one, &ys);
    tu_const(&t, 7, q8dt(y_s8), 0, one, &yz);
  }
  onyx_tensor *in[2] = {bytes_tensor(q8dt(a_s8), 3, ad, a), NULL}, *y = NULL;
  if (!b_const) in[1] = bytes_tensor(q8dt(b_s8), brank, bdims, b);
  CHECK_OK(tu_run(&t, threads, b_const ? 1 : 2, in, 1, &y));
  int bad = -1;
  if (y && onyx_tensor_numel(y) == batch * M * N) {
    bad = 0;
    for (int64_t bb = 0; bb < batch; bb++)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          int64_t s = 0;
          int32_t a0 = q8v(za[a_per_row ? i : 0], a_s8), b0 = q8v(zb[b_per_col ? j : 0], b_s8);
          const uint8_t *bm = b + (b_batched ? bb * K * N : 0);
          for (int64_t p = 0; p < K; p++)
            s += (int64_t)(q8v(a[(bb * M + i) * K + p], a_s8) - a0) * (q8v(bm[p * N + j], b_s8) - b0);
          int64_t at = (bb * M + i) * N + j;
          if (!qlinear) {
            bad += ((int32_t *)onyx_tensor_data(y))[at] != (int32_t)s;
            continue;
          }
          float mult = as[a_per_row ? i : 0] * bs[b_per_col ? j : 0] / ys;
          int32_t want = ref_requant(s, mult, q8v(yz, y_s8), y_s8);
          int32_t got = q8v(((uint8_t *)onyx_tensor_data(y))[at], y_s8);
          bad += got != want;
        }
  }
  CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "  %s %lldx%lldx%lldx%lld a_s8 %d b_s8 %d const %d batched %d: %d wrong\n",
            qlinear ? "QLinearMatMul" : "MatMulInteger", (long long)batch, (long long)M, (long long)K,
            (long long)N, a_s8, b_s8, b_const, b_batched, bad);
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
  free(a);
  free(b);
}

typedef struct conv_case {
  int nsp;
  int64_t n, c, m, group;
  int64_t in[3], k[3], stride[3], dil[3], pad[3];
  bool x_s8, w_s8, per_channel, y_s8, bias, w_const;
  int threads;
} conv_case;

/* ConvInteger / QLinearConv against a direct loop */
static void test_conv_op(bool qlinear, const conv_case *cc) {
  int nsp = cc->nsp, rank = nsp + 2;
  int64_t out[3], in_sp = 1, out_sp = 1, kp = 1;
  for (int d = 0; d < nsp; d++) {
    out[d] = (cc->in[d] + 2 * cc->pad[d] - cc->dil[d] * (cc->k[d] - 1) - 1) / cc->stride[d] + 1;
    in_sp *= cc->in[d];
    out_sp *= out[d];
    kp *= cc->k[d];
  }
  int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  int64_t nx = cc->n * cc->c * in_sp, nw = cc->m * cg * kp;
  uint8_t *x = malloc((size_t)nx), *w = malloc((size_t)nw), wz[256], xz = rnd_byte();
  float ws[256], xs = 0.05f, ys = 0.7f;
  int32_t bias[256];
  for (int64_t i = 0; i < nx; i++) x[i] = rnd_byte();
  for (int64_t i = 0; i < nw; i++) w[i] = rnd() % 3 ? rnd_byte() : (cc->w_s8 ? 0x7f : 0xff);
  for (int i = 0; i < 256; i++) {
    wz[i] = cc->per_channel ? rnd_byte() : (uint8_t)(cc->w_s8 ? 0 : 128);
    ws[i] = 0.001f + (float)(rnd() % 100) * 1e-4f;
    bias[i] = (int32_t)(rnd() % 4001) - 2000;
  }
  uint8_t yz = (uint8_t)(cc->y_s8 ? 3 : 128);
  int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cg}, zwd[1] = {cc->per_channel ? cc->m : 1};
  int64_t one[1] = {1}, md[1] = {cc->m};
  for (int d = 0; d < nsp; d++) {
    xd[2 + d] = cc->in[d];
    wd[2 + d] = cc->k[d];
  }
  tu_node t = tu_node_new(qlinear ? "QLinearConv" : "ConvInteger", 10, qlinear ? 8 + cc->bias : 4, 1);
  int ix = 0, ixz = 2, iw = qlinear ? 3 : 1, iwz = qlinear ? 5 : 3;
  tu_input(&t, ix, q8dt(cc->x_s8), rank, xd);
  tu_const(&t, ixz, q8dt(cc->x_s8), 0, one, &xz);
  if (cc->w_const) tu_const(&t, iw, q8dt(cc->w_s8), rank, wd, w);
  else tu_input(&t, iw, q8dt(cc->w_s8), rank, wd);
  tu_const(&t, iwz, q8dt(cc->w_s8), 1, zwd, wz);
  if (qlinear) {
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 0, one, &xs);
    tu_const(&t, 4, ONYX_DTYPE_FLOAT, 1, zwd, ws);
    tu_const(&t, 6, ONYX_DTYPE_FLOAT, 0, one, &ys);
    tu_const(&t, 7, q8dt(cc->y_s8), 0, one, &yz);
    if (cc->bias) tu_const(&t, 8, ONYX_DTYPE_INT32, 1, md, bias);
  }
  int64_t st[3], pads[6], dl[3], ks[3];
  for (int d = 0; d < nsp; d++) {
    st[d] = cc->stride[d];
    dl[d] = cc->dil[d];
    ks[d] = cc->k[d];
    pads[d] = pads[nsp + d] = cc->pad[d];
  }
  tu_attr_ints(&t, "strides", nsp, st);
  tu_attr_ints(&t, "dilations", nsp, dl);
  tu_attr_ints(&t, "pads", 2 * nsp, pads);
  tu_attr_ints(&t, "kernel_shape", nsp, ks);
  tu_attr_int(&t, "group", cc->group);
  onyx_tensor *in[2] = {bytes_tensor(q8dt(cc->x_s8), rank, xd, x), NULL}, *y = NULL;
  if (!cc->w_const) in[1] = bytes_tensor(q8dt(cc->w_s8), rank, wd, w);
  CHECK_OK(tu_run(&t, cc->threads, cc->w_const ? 1 : 2, in, 1, &y));
  int bad = -1;
  if (y && onyx_tensor_numel(y) == cc->n * cc->m * out_sp) {
    bad = 0;
    int32_t x0 = q8v(xz, cc->x_s8);
    for (int64_t img = 0; img < cc->n; img++)
      for (int64_t oc = 0; oc < cc->m; oc++) {
        int64_t gi = oc / mg;
        int32_t w0 = q8v(wz[cc->per_channel ? oc : 0], cc->w_s8);
        for (int64_t op = 0; op < out_sp; op++) {
          int64_t o[3], r = op;
          for (int d = nsp - 1; d >= 0; d--) {
            o[d] = r % out[d];
            r /= out[d];
          }
          int64_t acc = 0;
          for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t kr = 0; kr < kp; kr++) {
              int64_t off = 0, rr = kr;
              bool ok = true;
              int64_t kk[3];
              for (int d = nsp - 1; d >= 0; d--) {
                kk[d] = rr % cc->k[d];
                rr /= cc->k[d];
              }
              for (int d = 0; d < nsp; d++) {
                int64_t ii = o[d] * cc->stride[d] - cc->pad[d] + kk[d] * cc->dil[d];
                ok = ok && ii >= 0 && ii < cc->in[d];
                off = off * cc->in[d] + ii;
              }
              if (!ok) continue;
              int32_t xv = q8v(x[(img * cc->c + gi * cg + ci) * in_sp + off], cc->x_s8);
              int32_t wv = q8v(w[(oc * cg + ci) * kp + kr], cc->w_s8);
              acc += (int64_t)(xv - x0) * (wv - w0);
            }
          int64_t at = (img * cc->m + oc) * out_sp + op;
          if (!qlinear) {
            bad += ((int32_t *)onyx_tensor_data(y))[at] != (int32_t)acc;
            continue;
          }
          if (cc->bias) acc += bias[oc];
          float mult = xs * ws[cc->per_channel ? oc : 0] / ys;
          int32_t want = ref_requant(acc, mult, q8v(yz, cc->y_s8), cc->y_s8);
          bad += q8v(((uint8_t *)onyx_tensor_data(y))[at], cc->y_s8) != want;
        }
      }
  }
  CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "  %s nsp %d c %lld m %lld group %lld k %lld stride %lld: %d wrong\n",
            qlinear ? "QLinearConv" : "ConvInteger", nsp, (long long)cc->c, (long long)cc->m,
            (long long)cc->group, (long long)cc->k[0], (long long)cc->stride[0], bad);
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
  free(x);
  free(w);
}

static void test_convs(void) {
  static const conv_case cases[] = {
      /* nsp n c m group in k stride dil pad  x_s8 w_s8 perch y_s8 bias const threads */
      {2, 2, 6, 8, 1, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false, true, true, false, true, true, 1},
      {2, 1, 16, 24, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true, true, false, true, true, true, 2},
      {2, 1, 32, 20, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, false, false, true, false, false, true, 2},
      {2, 3, 8, 12, 2, {10, 9}, {3, 2}, {1, 2}, {2, 1}, {2, 0}, true, false, true, true, true, false, 2},
      {2, 2, 12, 12, 12, {13, 8}, {3, 3}, {2, 1}, {1, 2}, {1, 2}, false, true, true, false, true, true, 2},
      {2, 1, 5, 5, 5, {6, 7}, {5, 3}, {1, 1}, {1, 1}, {2, 1}, true, false, false, true, false, false, 1},
      {1, 2, 7, 9, 1, {40}, {5}, {3}, {1}, {2}, false, true, true, false, true, true, 2},
      {1, 1, 4, 4, 4, {33}, {3}, {2}, {2}, {1}, false, true, true, true, true, true, 1},
      {3, 1, 3, 4, 1, {5, 6, 4}, {3, 2, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1}, false, true, true, false, true, true, 1},
      {2, 1, 64, 64, 1, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false, true, true, false, true, true, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    test_conv_op(false, &cases[i]);
    test_conv_op(true, &cases[i]);
  }
}

static void test_matmuls(void) {
  for (int v = 0; v < 16; v++) {
    bool a_s8 = v & 1, b_s8 = (v >> 1) & 1, b_const = (v >> 2) & 1, per = (v >> 3) & 1;
    test_matmul_op(false, 2, 5, 37, 19, a_s8, b_s8, b_const, false, per, !per, a_s8, 1 + (v & 1));
    test_matmul_op(true, 2, 5, 37, 19, a_s8, b_s8, b_const, false, per, !per, b_s8, 1 + (v & 1));
  }
  test_matmul_op(false, 3, 4, 20, 6, false, true, false, true, true, true, false, 2);
  test_matmul_op(true, 3, 4, 20, 6, true, false, false, true, false, true, true, 1);
  test_matmul_op(true, 1, 128, 768, 96, false, true, true, false, false, true, false, 2);
  test_matmul_op(false, 1, 1, 1, 1, false, false, true, false, false, false, false, 1);
}

/* ---- quantize ops ------------------------------------------------------------------ */

static void test_quantize_ops(void) {
  int64_t n = 1003, dims[2] = {7, 1003}, one[1] = {1}, axd[1] = {7};
  float *x = malloc(sizeof(float) * 7 * 1003);
  tu_fill_random(x, 7 * 1003, 3);
  for (int i = 0; i < 7 * 1003; i += 97) x[i] *= 1000.0f;  /* saturating values */
  x[5] = NAN;
  x[6] = 0.5f * 0.02f;                                    /* a tie */
  /* DynamicQuantizeLinear */
  {
    tu_node t = tu_node_new("DynamicQuantizeLinear", 11, 1, 3);
    int64_t d1[1] = {n};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 1, d1);
    onyx_tensor *in = tu_f32(1, d1, x + 1003), *y[3] = {NULL};
    CHECK_OK(tu_run(&t, 2, 1, &in, 3, y));
    if (y[0] && y[1] && y[2]) {
      float lo = 0, hi = 0;
      for (int64_t i = 0; i < n; i++) {
        lo = x[1003 + i] < lo ? x[1003 + i] : lo;
        hi = x[1003 + i] > hi ? x[1003 + i] : hi;
      }
      float s = (hi - lo) / 255.0f;
      float zp = nearbyintf(fminf(fmaxf(-lo / s, 0.0f), 255.0f));
      CHECK(*(float *)onyx_tensor_data(y[1]) == s);
      CHECK(*(uint8_t *)onyx_tensor_data(y[2]) == (uint8_t)zp);
      int bad = 0;
      for (int64_t i = 0; i < n; i++) {
        float f = nearbyintf(x[1003 + i] / s) + zp;
        f = f < 0 ? 0 : f > 255 ? 255 : f;
        bad += ((uint8_t *)onyx_tensor_data(y[0]))[i] != (uint8_t)f;
      }
      CHECK(bad == 0);
    }
    onyx_tensor_free(in);
    for (int i = 0; i < 3; i++) onyx_tensor_free(y[i]);
  }
  /* QuantizeLinear / DequantizeLinear per tensor and per axis 0, u8 and s8 */
  for (int v = 0; v < 4; v++) {
    bool sgn = v & 1, axis = v & 2;
    float sc[7];
    uint8_t zp[7];
    for (int i = 0; i < 7; i++) {
      sc[i] = 0.02f * (float)(i + 1);
      zp[i] = (uint8_t)(sgn ? (uint8_t)(i * 9 - 30) : (uint8_t)(i * 30 + 7));
    }
    tu_node t = tu_node_new("QuantizeLinear", 13, 3, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, dims);
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, axis ? 1 : 0, axis ? axd : one, sc);
    tu_const(&t, 2, q8dt(sgn), axis ? 1 : 0, axis ? axd : one, zp);
    tu_attr_int(&t, "axis", 0);
    onyx_tensor *in = tu_f32(2, dims, x), *y = NULL, *back = NULL;
    CHECK_OK(tu_run(&t, 2, 1, &in, 1, &y));
    if (y) {
      int bad = 0;
      for (int64_t i = 0; i < 7 * n; i++) {
        int64_t ch = axis ? i / n : 0;
        float f = nearbyintf(x[i] / sc[ch]) + (float)q8v(zp[ch], sgn);
        float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f;
        f = f < lo ? lo : f > hi ? hi : f;
        if (f != f) f = 0;
        bad += q8v(((uint8_t *)onyx_tensor_data(y))[i], sgn) != (int32_t)f;
      }
      CHECK(bad == 0);
      tu_node d = tu_node_new("DequantizeLinear", 13, 3, 1);
      tu_input(&d, 0, q8dt(sgn), 2, dims);
      tu_const(&d, 1, ONYX_DTYPE_FLOAT, axis ? 1 : 0, axis ? axd : one, sc);
      tu_const(&d, 2, q8dt(sgn), axis ? 1 : 0, axis ? axd : one, zp);
      tu_attr_int(&d, "axis", 0);
      CHECK_OK(tu_run(&d, 1, 1, &y, 1, &back));
      if (back) {
        bad = 0;
        for (int64_t i = 0; i < 7 * n; i++) {
          int64_t ch = axis ? i / n : 0;
          int32_t q = q8v(((uint8_t *)onyx_tensor_data(y))[i], sgn);
          bad += ((float *)onyx_tensor_data(back))[i] != (float)(q - q8v(zp[ch], sgn)) * sc[ch];
        }
        CHECK(bad == 0);
      }
    }
    onyx_tensor_free(in);
    onyx_tensor_free(y);
    onyx_tensor_free(back);
  }
  free(x);
}

/* ---- main ---------------------------------------------------------------------------- */

/* the same program under ONYX_ISA=scalar: the op kernels on the portable path */
static int run_scalar_child(const char *self) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("ONYX_ISA", "scalar", 1);
    execl("/proc/self/exe", self, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return 1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *cap = getenv("ONYX_ISA");
  static const char *const isas[] = {"scalar", "avx2", "avxvnni", "avx512bw", "avx512vnni"};
  for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
    const cpu_qgemm_isa *isa = cpu_qgemm_isa_named(isas[i]);
    if (isa) test_engine(isa, false);
    else printf("test_int8: engine %s not runnable here\n", isas[i]);
  }
  if (!cap) {
    isa_bw_emu.requant = isa_vnni_emu.requant = scalar_isa()->requant;
    isa_bw_emu.interleave4 = isa_vnni_emu.interleave4 = scalar_isa()->interleave4;
    test_engine(&isa_bw_emu, true);
    test_engine(&isa_vnni_emu, true);
#if defined(__x86_64__)
    if (onyx_cpu()->avx2) test_engine(&isa_avxvnni_emu, true);
#endif
  }
  printf("test_int8: op kernels on %s\n", cpu_qgemm_isa_best()->name);
  test_matmuls();
  test_convs();
  test_quantize_ops();
  int rc = tu_done(cap ? "test_int8 (ONYX_ISA capped)" : "test_int8");
  if (!cap && run_scalar_child(argv[0])) rc = 1;
  return rc;
}
