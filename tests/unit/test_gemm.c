/* test_gemm.c — the float32 GEMM engine (every micro-kernel this CPU runs)
 * and the MatMul / Gemm / MatMulInteger kernels, against naive references
 * that accumulate in double. Shapes are odd on purpose (1, 3, 17, 63, 129 ...)
 * so every edge tile, partial K block and thread split is exercised. */
#include "providers/cpu/gemm/sgemm.h"
#include "test_util.h"

#include "base/alloc.h"

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
  const char *names[] = {"scalar", "avx2", "avx512"};
  unsigned seed = 1;
  for (int ii = 0; ii < 3; ii++) {
    const cpu_sgemm_isa *isa = cpu_sgemm_isa_named(names[ii]);
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

int main(void) {
  test_engine();
  return tu_done("test_gemm");
}
