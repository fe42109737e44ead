/* test_gemm.c — the float32 GEMM engine (every micro-kernel this CPU runs)
 * and the MatMul / Gemm / MatMulInteger kernels, against naive references
 * that accumulate in double. Shapes are odd on purpose (1, 3, 17, 63, 129 ...)
 * so every edge tile, partial K block and thread split is exercised. */
#include "providers/cpu/gemm/sgemm.h"
#include "test_util.h"

#include "base/alloc.h"

/* The AVX-512 micro-kernel's own source, compiled against a plain-C
 * emulation of the few intrinsics it uses, so that its logic (4-, 8- and
 * 12-row K loops, edge masks, alpha/beta) is checked on CPUs without AVX-512
 * too. Masked loads never touch masked-off lanes, as on hardware, so the
 * sanitizer build catches a wrong mask. On AVX-512 machines the real kernel
 * is tested as well. */
#define _IMMINTRIN_H_INCLUDED
typedef struct { float v[16]; } __m512;
typedef unsigned short __mmask16;
static inline __m512 _mm512_setzero_ps(void) { __m512 r = {{0}}; return r; }
static inline __m512 _mm512_set1_ps(float x) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.v[i] = x;
  return r;
}
static inline __m512 _mm512_loadu_ps(const float *p) {
  __m512 r;
  memcpy(r.v, p, sizeof r.v);
  return r;
}
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  for (int i = 0; i < 16; i++) c.v[i] = fmaf(a.v[i], b.v[i], c.v[i]);
  return c;
}
static inline __m512 _mm512_mul_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; i++) a.v[i] *= b.v[i];
  return a;
}
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const float *p) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.v[i] = (k >> i) & 1 ? p[i] : 0.0f;
  return r;
}
static inline void _mm512_mask_storeu_ps(float *p, __mmask16 k, __m512 a) {
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) p[i] = a.v[i];
}
#define cpu_sgemm_ukernel_12x32__avx512 emu_sgemm_ukernel_12x32__avx512
#include "providers/cpu/gemm/sgemm_avx512.c"
#undef cpu_sgemm_ukernel_12x32__avx512

static const cpu_sgemm_isa isa_avx512_emu = {"avx512-emulated", 12, 32, 168, 192, 3072,
                                             emu_sgemm_ukernel_12x32__avx512};

/* C = alpha op(A) op(B) + beta C (+ bias), in double */
static void ref_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc, const float *brow, const float *bcol) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      double v = alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j]);
      if (brow) v += brow[i];
      if (bcol) v += bcol[j];
      c[i * ldc + j] = (float)v;
    }
}

static int max_err(const float *x, const float *y, size_t n, double tol) {
  int bad = 0;
  for (size_t i = 0; i < n; i++)
    if (!(fabs((double)x[i] - (double)y[i]) <= tol * (1.0 + fabs((double)y[i])))) bad++;
  return bad;
}

/* epilogue used in tests: marks each element once (adds 1000) */
static void ep_mark(void *arg, float *c, int64_t ldc, int64_t row0, int64_t col0, int64_t m,
                    int64_t n) {
  (void)row0;
  (void)col0;
  int *calls = arg;
  __atomic_add_fetch(calls, 1, __ATOMIC_RELAXED);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) c[i * ldc + j] += 1000.0f;
}

typedef struct virt_b {
  const float *b;
  int64_t ldb;
} virt_b;

/* virtual B (row-major k x n) packed through the callback interface */
static void pack_virtual(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                         float *dst) {
  const virt_b *v = ctx;
  int64_t ncr = (nc + nr - 1) / nr * nr;
  for (int64_t p = 0; p < kc; p++)
    for (int64_t j = 0; j < ncr; j++)
      dst[(j / nr) * kc * nr + p * nr + j % nr] = j < nc ? v->b[(k0 + p) * v->ldb + n0 + j] : 0.0f;
}

enum { PLAIN, PACK_A, PACK_B, PACK_AB, VIRT_B, N_FORMS };

static void check_engine(const cpu_sgemm_isa *isa, int threads, int64_t m, int64_t n, int64_t k,
                         bool ta, bool tb, float alpha, float beta, int form, bool bias,
                         unsigned seed) {
  int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  size_t asz = (size_t)((ta ? k : m) * lda), bsz = (size_t)((tb ? n : k) * ldb),
         csz = (size_t)(m * ldc);
  float *a = malloc(asz * 4 + 4), *b = malloc(bsz * 4 + 4), *c = malloc(csz * 4 + 4),
        *r = malloc(csz * 4 + 4), *brow = malloc((size_t)m * 4 + 4), *bcol = malloc((size_t)n * 4 + 4);
  tu_fill_random(a, asz, seed);
  tu_fill_random(b, bsz, seed + 1);
  tu_fill_random(c, csz, seed + 2);
  tu_fill_random(brow, (size_t)m, seed + 3);
  tu_fill_random(bcol, (size_t)n, seed + 4);
  if (beta == 0.0f)
    for (size_t i = 0; i < csz; i++) c[i] = NAN; /* must not be read */
  memcpy(r, c, csz * 4);
  cpu_sgemm_packed *pa = NULL, *pb = NULL;
  virt_b vb = {b, ldb};
  cpu_sgemm_args g = {m, n, k, alpha, beta, {a, lda, ta, NULL, NULL, NULL},
                      {b, ldb, tb, NULL, NULL, NULL}, c, ldc, NULL, NULL, NULL, NULL};
  if (form == PACK_A || form == PACK_AB) {
    CHECK_OK(cpu_sgemm_pack_a(isa, ta, m, k, a, lda, &pa));
    g.a = (cpu_sgemm_operand){NULL, 0, false, pa, NULL, NULL};
  }
  if (form == PACK_B || form == PACK_AB) {
    CHECK_OK(cpu_sgemm_pack_b(isa, tb, k, n, b, ldb, &pb));
    g.b = (cpu_sgemm_operand){NULL, 0, false, pb, NULL, NULL};
  }
  if (form == VIRT_B && !tb) g.b = (cpu_sgemm_operand){NULL, 0, false, NULL, pack_virtual, &vb};
  int calls = 0;
  if (bias) {
    g.bias_row = brow;
    g.bias_col = bcol;
    g.epilogue = ep_mark;
    g.epilogue_arg = &calls;
  }
  onyx_threadpool pool = {threads};
  CHECK_OK(cpu_sgemm(&pool, isa, &g));
  ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc, bias ? brow : NULL,
           bias ? bcol : NULL);
  if (bias)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) r[i * ldc + j] += 1000.0f;
  int bad = 0;
  for (int64_t i = 0; i < m; i++) bad += max_err(c + i * ldc, r + i * ldc, (size_t)n, 1e-4);
  /* the padding between rows of C must be left alone */
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = n; j < ldc; j++) bad += memcmp(&c[i * ldc + j], &r[i * ldc + j], 4) != 0;
  if (bias) bad += calls == 0;
  if (bad)
    fprintf(stderr, "  %s t%d m%lld n%lld k%lld ta%d tb%d a%g b%g form%d bias%d: %d bad\n",
            isa->name, threads, (long long)m, (long long)n, (long long)k, ta, tb, alpha, beta,
            form, bias, bad);
  CHECK(bad == 0);
  cpu_sgemm_packed_free(pa);
  cpu_sgemm_packed_free(pb);
  free(a), free(b), free(c), free(r), free(brow), free(bcol);
}

static void test_engine(void) {
  static const int64_t sizes[] = {1, 3, 17, 63, 129};
  const char *names[] = {"scalar", "avx2", "avx512", "avx512-emulated"};
  unsigned seed = 1;
  for (int ii = 0; ii < 4; ii++) {
    const cpu_sgemm_isa *isa = ii == 3 ? &isa_avx512_emu : cpu_sgemm_isa_named(names[ii]);
    if (!isa) {
      printf("test_gemm: isa %s not available here, skipped\n", names[ii]);
      continue;
    }
    int before = tu_fail;
    for (int mi = 0; mi < 5; mi++)
      for (int ni = 0; ni < 5; ni++)
        for (int ki = 0; ki < 5; ki++) {
          seed++;
          check_engine(isa, 1 + (int)(seed % 2), sizes[mi], sizes[ni], sizes[ki], seed & 2,
                       seed & 4, 1.0f, (seed & 8) ? 0.5f : 0.0f, (int)(seed % N_FORMS),
                       false, seed);
        }
    /* every form, alpha/beta, bias + epilogue, threads, beyond one cache block */
    for (int form = 0; form < N_FORMS; form++)
      for (int t = 1; t <= 2; t++) {
        seed++;
        check_engine(isa, t, 20, 3200, 300, form == PACK_A, false, 0.75f, 1.25f, form, true, seed);
        check_engine(isa, t, 37, 45, 0, false, false, 2.0f, 0.5f, form, true, seed);
        check_engine(isa, t, 200, 70, 300, true, form == PACK_B, -1.5f, 0.0f, form, form & 1, seed);
        check_engine(isa, t, 1, 513, 129, false, true, 1.0f, 1.0f, form, false, seed);
      }
    printf("test_gemm: isa %s (mr %d nr %d) %s\n", isa->name, isa->mr, isa->nr,
           tu_fail == before ? "ok" : "FAILED");
  }
  CHECK(cpu_sgemm_isa_best() != NULL);
}

/* ---- MatMul through a session ------------------------------------------- */

/* numpy matmul of a (ra dims) and b (rb dims) in double; writes out dims */
static void ref_matmul(int ra, const int64_t *ad, const float *a, int rb, const int64_t *bd,
                       const float *b, int *ro, int64_t *od, float *y) {
  int64_t A[8], B[8];
  int na = ra, nb = rb;
  memcpy(A, ad, (size_t)ra * 8);
  memcpy(B, bd, (size_t)rb * 8);
  if (ra == 1) { A[1] = A[0]; A[0] = 1; na = 2; }
  if (rb == 1) { B[1] = 1; nb = 2; }
  int bat = (na > nb ? na : nb) - 2;
  int64_t bdim[8], total = 1;
  for (int i = 0; i < bat; i++) {
    int ia = i - (bat - (na - 2)), ib = i - (bat - (nb - 2));
    int64_t da = ia >= 0 ? A[ia] : 1, db = ib >= 0 ? B[ib] : 1;
    bdim[i] = da > db ? da : db;
    total *= bdim[i];
  }
  int64_t M = A[na - 2], K = A[na - 1], N = B[nb - 1];
  for (int64_t t = 0; t < total; t++) {
    int64_t idx[8], r = t, oa = 0, ob = 0, sa = 1, sb = 1;
    for (int i = bat - 1; i >= 0; i--) { idx[i] = r % bdim[i]; r /= bdim[i]; }
    for (int i = bat - 1; i >= 0; i--) {
      int ia = i - (bat - (na - 2)), ib = i - (bat - (nb - 2));
      if (ia >= 0) { oa += (A[ia] == 1 ? 0 : idx[i]) * sa; sa *= A[ia]; }
      if (ib >= 0) { ob += (B[ib] == 1 ? 0 : idx[i]) * sb; sb *= B[ib]; }
    }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t p = 0; p < K; p++) s += (double)a[oa * M * K + i * K + p] * b[ob * K * N + p * N + j];
        y[(t * M + i) * N + j] = (float)s;
      }
  }
  *ro = 0;
  for (int i = 0; i < bat; i++) od[(*ro)++] = bdim[i];
  if (ra > 1) od[(*ro)++] = M;
  if (rb > 1) od[(*ro)++] = N;
}

static void matmul_case(int ra, const int64_t *ad, int rb, const int64_t *bd, bool b_const,
                        int threads, unsigned seed) {
  int64_t na = 1, nb = 1;
  for (int i = 0; i < ra; i++) na *= ad[i];
  for (int i = 0; i < rb; i++) nb *= bd[i];
  float *a = malloc((size_t)na * 4 + 4), *b = malloc((size_t)nb * 4 + 4), *r = malloc(1 << 22);
  tu_fill_random(a, (size_t)na, seed);
  tu_fill_random(b, (size_t)nb, seed + 7);
  int ro;
  int64_t od[8];
  ref_matmul(ra, ad, a, rb, bd, b, &ro, od, r);
  tu_node t = tu_node_new("MatMul", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, ra, ad);
  if (b_const) tu_const(&t, 1, ONYX_DTYPE_FLOAT, rb, bd, b);
  else tu_input(&t, 1, ONYX_DTYPE_FLOAT, rb, bd);
  onyx_tensor *in[2] = {tu_f32(ra, ad, a), tu_f32(rb, bd, b)}, *y = NULL;
  CHECK_OK(tu_run(&t, threads, b_const ? 1 : 2, in, 1, &y));
  bool shape_ok = y && onyx_tensor_rank(y) == ro && !memcmp(onyx_tensor_dims(y), od, (size_t)ro * 8);
  CHECK(shape_ok);
  if (shape_ok) {
    int bad = max_err(onyx_tensor_data(y), r, (size_t)onyx_tensor_numel(y), 1e-4);
    if (bad) fprintf(stderr, "  matmul ra%d rb%d const%d t%d: %d bad\n", ra, rb, b_const, threads, bad);
    CHECK(bad == 0);
  }
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
  free(a), free(b), free(r);
}

static void test_matmul(void) {
  static const struct { int ra; int64_t a[4]; int rb; int64_t b[4]; } cases[] = {
      {2, {17, 63}, 2, {63, 129}},          {2, {1, 3}, 2, {3, 1}},
      {1, {63}, 2, {63, 17}},               {2, {17, 63}, 1, {63}},
      {1, {129}, 1, {129}},                 {3, {5, 17, 33}, 2, {33, 19}},
      {3, {5, 17, 33}, 3, {5, 33, 19}},     {3, {1, 17, 33}, 3, {6, 33, 19}},
      {4, {2, 1, 7, 9}, 3, {3, 9, 5}},      {3, {4, 3, 8}, 1, {8}},
      {1, {8}, 3, {4, 8, 3}},               {2, {130, 70}, 3, {3, 70, 200}},
      {3, {2, 64, 300}, 2, {300, 257}},     {2, {5, 0}, 2, {0, 4}},
  };
  unsigned seed = 100;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int bc = 0; bc < 2; bc++)
      for (int th = 1; th <= 2; th++)
        matmul_case(cases[i].ra, cases[i].a, cases[i].rb, cases[i].b, bc, th, seed++);
}

/* ---- Gemm --------------------------------------------------------------------- */

static void gemm_case(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta,
                      int crank, const int64_t *cd, bool b_const, int threads, unsigned seed) {
  int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
  float *a = malloc((size_t)(m * k) * 4 + 4), *b = malloc((size_t)(k * n) * 4 + 4),
        *cv = malloc((size_t)(m * n) * 4 + 4), *r = malloc((size_t)(m * n) * 4 + 4);
  tu_fill_random(a, (size_t)(m * k), seed);
  tu_fill_random(b, (size_t)(k * n), seed + 1);
  tu_fill_random(cv, (size_t)(m * n), seed + 2);
  int64_t cm = crank == 2 ? cd[0] : 1, cn = crank >= 1 ? cd[crank - 1] : 1;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      double c = crank < 0 ? 0.0 : cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      r[i * n + j] = (float)(alpha * s + beta * c);
    }
  tu_node t = tu_node_new("Gemm", 13, crank < 0 ? 2 : 3, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, ad);
  if (b_const) tu_const(&t, 1, ONYX_DTYPE_FLOAT, 2, bd, b);
  else tu_input(&t, 1, ONYX_DTYPE_FLOAT, 2, bd);
  if (crank >= 0) tu_const(&t, 2, ONYX_DTYPE_FLOAT, crank, cd, cv);
  if (ta) tu_attr_int(&t, "transA", 1);
  if (tb) tu_attr_int(&t, "transB", 1);
  if (alpha != 1.0f) tu_attr_float(&t, "alpha", alpha);
  if (beta != 1.0f) tu_attr_float(&t, "beta", beta);
  onyx_tensor *in[2] = {tu_f32(2, ad, a), tu_f32(2, bd, b)}, *y = NULL;
  CHECK_OK(tu_run(&t, threads, b_const ? 1 : 2, in, 1, &y));
  bool shape_ok = y && onyx_tensor_rank(y) == 2 && onyx_tensor_dims(y)[0] == m && onyx_tensor_dims(y)[1] == n;
  CHECK(shape_ok);
  if (shape_ok) {
    int bad = max_err(onyx_tensor_data(y), r, (size_t)(m * n), 1e-4);
    if (bad) fprintf(stderr, "  gemm m%lld n%lld k%lld ta%d tb%d crank%d: %d bad\n", (long long)m,
                     (long long)n, (long long)k, ta, tb, crank, bad);
    CHECK(bad == 0);
  }
  onyx_tensor_free(in[0]);
  onyx_tensor_free(in[1]);
  onyx_tensor_free(y);
  free(a), free(b), free(cv), free(r);
}

static void test_gemm_op(void) {
  unsigned seed = 500;
  const int64_t m = 17, n = 129, k = 63;
  int64_t c_mn[2] = {m, n}, c_1n[2] = {1, n}, c_m1[2] = {m, 1}, c_n[1] = {n}, c_1[1] = {1};
  for (int th = 1; th <= 2; th++)
    for (int tr = 0; tr < 4; tr++) {
      bool ta = tr & 1, tb = tr & 2;
      gemm_case(m, n, k, ta, tb, 1.0f, 1.0f, -1, NULL, tr < 2, th, seed++);
      gemm_case(m, n, k, ta, tb, 0.5f, 2.0f, 2, c_mn, tr >= 2, th, seed++);
      gemm_case(m, n, k, ta, tb, 1.0f, 1.0f, 1, c_n, true, th, seed++);
      gemm_case(m, n, k, ta, tb, 1.0f, 0.25f, 2, c_1n, false, th, seed++);
      gemm_case(m, n, k, ta, tb, -1.0f, 1.0f, 2, c_m1, true, th, seed++);
      gemm_case(m, n, k, ta, tb, 1.0f, 3.0f, 0, c_1, false, th, seed++);
      gemm_case(m, n, k, ta, tb, 1.0f, 1.0f, 1, c_1, true, th, seed++);
      gemm_case(3, 1, 1, ta, tb, 2.0f, 0.0f, 2, (int64_t[2]){3, 1}, tr & 1, th, seed++);
      gemm_case(200, 300, 260, ta, tb, 1.0f, 1.0f, 1, (int64_t[1]){300}, tr & 1, th, seed++);
    }
  /* mismatched K is an error, not garbage */
  {
    tu_node t = tu_node_new("Gemm", 13, 2, 1);
    int64_t ad[2] = {2, 3}, bd[2] = {4, 5};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, ad);
    tu_input(&t, 1, ONYX_DTYPE_FLOAT, 2, bd);
    onyx_session *s = NULL;
    CHECK_ERR(onyx_session_create_from_model(t.m, NULL, &s), ONYX_ERR_INVALID_MODEL);
  }
}

/* ---- MatMulInteger ---------------------------------------------------------------- */

static void test_matmul_integer(void) {
  for (int variant = 0; variant < 4; variant++) {
    bool a_signed = variant & 1, per_row = variant & 2;
    int64_t B = 2, M = 5, K = 7, N = 3;
    int64_t ad[3] = {B, M, K}, bd[2] = {K, N}, zad[1] = {per_row ? M : 1}, zbd[1] = {N};
    uint8_t a[70], b[21], za[5], zb[3];
    unsigned x = 12345u + (unsigned)variant;
    for (int i = 0; i < 70; i++) a[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (int i = 0; i < 21; i++) b[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (int i = 0; i < 5; i++) za[i] = (uint8_t)(i * 37 + 3);
    for (int i = 0; i < 3; i++) zb[i] = (uint8_t)(i * 71 + 100);
    onyx_dtype adt = a_signed ? ONYX_DTYPE_INT8 : ONYX_DTYPE_UINT8;
    tu_node t = tu_node_new("MatMulInteger", 10, 4, 1);
    tu_input(&t, 0, adt, 3, ad);
    tu_const(&t, 1, ONYX_DTYPE_UINT8, 2, bd, b);
    tu_const(&t, 2, adt, 1, zad, za);
    tu_const(&t, 3, ONYX_DTYPE_UINT8, 1, zbd, zb);
    onyx_tensor *in, *y = NULL;
    onyx_tensor_create(adt, 3, ad, &in);
    memcpy(onyx_tensor_data(in), a, sizeof a);
    CHECK_OK(tu_run(&t, 1, 1, &in, 1, &y));
    CHECK(y && onyx_tensor_dtype(y) == ONYX_DTYPE_INT32 && onyx_tensor_numel(y) == B * M * N);
    if (y && onyx_tensor_numel(y) == B * M * N) {
      const int32_t *yv = onyx_tensor_data(y);
      int bad = 0;
      for (int64_t bb = 0; bb < B; bb++)
        for (int64_t i = 0; i < M; i++)
          for (int64_t j = 0; j < N; j++) {
            int64_t s = 0;
            int32_t zai = a_signed ? (int8_t)za[per_row ? i : 0] : za[per_row ? i : 0];
            for (int64_t p = 0; p < K; p++) {
              int32_t av = a_signed ? (int8_t)a[(bb * M + i) * K + p] : a[(bb * M + i) * K + p];
              s += (int64_t)(av - zai) * (b[p * N + j] - zb[j]);
            }
            bad += yv[(bb * M + i) * N + j] != s;
          }
      CHECK(bad == 0);
    }
    onyx_tensor_free(in);
    onyx_tensor_free(y);
  }
}

int main(void) {
  test_engine();
  test_matmul();
  test_gemm_op();
  test_matmul_integer();
  return tu_done("test_gemm");
}
