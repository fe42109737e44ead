/* test_tensor.c — the tensor (data movement) op family on one-node models:
 * every kernel against a naive reference written here independently (index
 * arithmetic per element, Python's slice rules, numpy's pad modes, textbook
 * bilinear/bicubic formulas), edge cases (negative axes, empty tensors,
 * allowzero, negative steps, out-of-range indices) and load-time inference
 * with constant inputs and symbolic dims. */
#include "test_util.h"

#include "base/half.h"
#include "base/tensor.h"
#include "ops/ops.h"

static int g_threads = 1;

/* ---- building and running ------------------------------------------------ */

static onyx_tensor *tens(onyx_dtype dt, int rank, const int64_t *dims, const void *data) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  if (data && dt != ONYX_DTYPE_STRING) memcpy(t->data, data, t->nbytes);
  if (data && dt == ONYX_DTYPE_STRING)
    for (int64_t i = 0; i < onyx_numel(rank, dims); i++) ((char **)t->data)[i] = strdup(((char *const *)data)[i]);
  return t;
}
static onyx_tensor *f32(int rank, const int64_t *dims, const float *v) { return tens(ONYX_DTYPE_FLOAT, rank, dims, v); }
static onyx_tensor *i64(int rank, const int64_t *dims, const int64_t *v) { return tens(ONYX_DTYPE_INT64, rank, dims, v); }
static onyx_tensor *i64v(int n, const int64_t *v) {
  int64_t d[1] = {n};
  return i64(1, d, v);
}
/* Feeds in[i] (NULL: omitted optional input); inputs whose bit is set in
 * const_mask become initializers. Frees the inputs. */
static onyx_status *go(tu_node *t, int n_in, onyx_tensor **in, unsigned const_mask, int n_out, onyx_tensor **out) {
  onyx_graph *g = t->m->graph;
  onyx_tensor *fed[16];
  int nf = 0;
  for (int i = 0; i < n_in; i++) {
    if (!in[i]) {
      tu_n(t)->in[i] = -1;
    } else if (const_mask & (1u << i)) {
      int v = tu_n(t)->in[i];
      onyx_tensor_clone(in[i], &g->values[v].init);
      g->values[v].dtype = in[i]->dtype;
      g->values[v].rank = in[i]->rank;
      memcpy(g->values[v].dims, in[i]->dims, sizeof in[i]->dims);
    } else {
      tu_input(t, i, in[i]->dtype, in[i]->rank, in[i]->dims);
      fed[nf++] = in[i];
    }
  }
  for (int i = 0; i < n_out; i++) out[i] = NULL;
  onyx_status *s = tu_run(t, g_threads, nf, fed, n_out, out);
  for (int i = 0; i < n_in; i++) onyx_tensor_free(in[i]);
  return s;
}

/* Runs and expects success; returns output 0 (others in out[]). */
static onyx_tensor *run(tu_node *t, int n_in, onyx_tensor **in, unsigned const_mask) {
  onyx_tensor *out[1];
  onyx_status *s = go(t, n_in, in, const_mask, 1, out);
  if (s) {
    fprintf(stderr, "run failed: %s\n", onyx_status_message(s));
    onyx_status_free(s);
    tu_fail++;
    return NULL;
  }
  return out[0];
}

static bool shape_is(const onyx_tensor *t, int rank, const int64_t *dims) {
  if (!t || t->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i] != dims[i]) return false;
  return true;
}

/* Checks dtype, shape and bytes; frees t. */
static void expect_eq(onyx_tensor *t, onyx_dtype dt, int rank, const int64_t *dims, const void *data, int line) {
  bool ok = t && t->dtype == dt && shape_is(t, rank, dims);
  if (ok && dt == ONYX_DTYPE_STRING) {
    for (int64_t i = 0; ok && i < onyx_numel(rank, dims); i++)
      ok = !strcmp(((char **)t->data)[i], ((char *const *)data)[i]);
  } else if (ok) {
    size_t n = onyx_dtype_bytes(dt, onyx_numel(rank, dims));
    ok = !n || !memcmp(t->data, data, n);
  }
  if (ok) {
    tu_pass++;
  } else {
    tu_fail++;
    char a[128], b[128];
    fprintf(stderr, "test_tensor.c:%d: output mismatch (got %s %s, want %s)\n", line,
            t ? onyx_dtype_name(t->dtype) : "nothing", t ? onyx_shape_str(t->rank, t->dims, a, sizeof a) : "",
            onyx_shape_str(rank, dims, b, sizeof b));
  }
  onyx_tensor_free(t);
}
#define EXPECT_EQ(t, dt, rank, dims, data) expect_eq(t, dt, rank, dims, data, __LINE__)

static void expect_near(onyx_tensor *t, int rank, const int64_t *dims, const float *ref, float tol, int line) {
  bool ok = t && t->dtype == ONYX_DTYPE_FLOAT && shape_is(t, rank, dims);
  int64_t bad = -1;
  for (int64_t i = 0; ok && i < onyx_numel(rank, dims); i++)
    if (!(fabsf(((float *)t->data)[i] - ref[i]) <= tol * (1.0f + fabsf(ref[i])))) {
      ok = false;
      bad = i;
    }
  if (ok) {
    tu_pass++;
  } else {
    tu_fail++;
    fprintf(stderr, "test_tensor.c:%d: mismatch at %lld (got %g, want %g)\n", line, (long long)bad,
            t && bad >= 0 ? ((float *)t->data)[bad] : 0.0, bad >= 0 ? ref[bad] : 0.0);
  }
  onyx_tensor_free(t);
}
#define EXPECT_NEAR(t, rank, dims, ref, tol) expect_near(t, rank, dims, ref, tol, __LINE__)

/* ---- naive index helpers ------------------------------------------------- */

static void unravel(int64_t i, int rank, const int64_t *dims, int64_t *c) {
  for (int d = rank - 1; d >= 0; d--) {
    c[d] = i % dims[d];
    i /= dims[d];
  }
}
static int64_t ravel(const int64_t *c, int rank, const int64_t *dims) {
  int64_t i = 0;
  for (int d = 0; d < rank; d++) i = i * dims[d] + c[d];
  return i;
}

/* ---- Reshape family -------------------------------------------------------- */

static void test_reshape(void) {
  int64_t xd[3] = {2, 3, 4};
  float v[24];
  for (int i = 0; i < 24; i++) v[i] = (float)i;
  int64_t shapes[][3] = {{4, 0, -1}, {-1, 6, 1}, {0, 0, 4}};
  int64_t want[][3] = {{4, 3, 2}, {4, 6, 1}, {2, 3, 4}};
  for (int k = 0; k < 3; k++) {
    for (int konst = 0; konst < 2; konst++) {
      tu_node t = tu_node_new("Reshape", 13, 2, 1);
      onyx_tensor *in[2] = {f32(3, xd, v), i64v(3, shapes[k])};
      EXPECT_EQ(run(&t, 2, in, konst ? 2u : 0u), ONYX_DTYPE_FLOAT, 3, want[k], v);
    }
  }
  /* allowzero: a 0 in shape is a real 0 */
  {
    int64_t d0[2] = {0, 3}, sh[2] = {3, 0}, w[2] = {3, 0};
    tu_node t = tu_node_new("Reshape", 14, 2, 1);
    tu_attr_int(&t, "allowzero", 1);
    onyx_tensor *in[2] = {f32(2, d0, NULL), i64v(2, sh)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 2, w, NULL);
  }
  /* without allowzero the 0 copies the input dim */
  {
    int64_t d0[2] = {0, 3}, sh[2] = {3, 0};
    tu_node t = tu_node_new("Reshape", 14, 2, 1);
    onyx_tensor *in[2] = {f32(2, d0, NULL), i64v(2, sh)}, *o;
    CHECK_ERR(go(&t, 2, in, 2u, 1, &o), ONYX_ERR_INVALID_MODEL);
  }
  /* two -1, and an element-count mismatch */
  {
    int64_t sh[2] = {-1, -1};
    tu_node t = tu_node_new("Reshape", 13, 2, 1);
    onyx_tensor *in[2] = {f32(3, xd, v), i64v(2, sh)}, *o;
    CHECK_ERR(go(&t, 2, in, 2u, 1, &o), ONYX_ERR_INVALID_MODEL);
    int64_t sh2[2] = {5, -1};
    tu_node t2 = tu_node_new("Reshape", 13, 2, 1);
    onyx_tensor *in2[2] = {f32(3, xd, v), i64v(2, sh2)};
    CHECK_ERR(go(&t2, 2, in2, 0u, 1, &o), ONYX_ERR_INVALID_ARGUMENT);
  }
  /* strings move as strings */
  {
    const char *s[4] = {"a", "bb", "", "dddd"};
    int64_t d[2] = {2, 2}, sh[1] = {4}, w[1] = {4};
    tu_node t = tu_node_new("Reshape", 13, 2, 1);
    onyx_tensor *in[2] = {tens(ONYX_DTYPE_STRING, 2, d, s), i64v(1, sh)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_STRING, 1, w, s);
  }
  /* Flatten: axis 0, default, negative */
  {
    int64_t axes[3] = {0, 1, -1}, want2[3][2] = {{1, 24}, {2, 12}, {6, 4}};
    for (int k = 0; k < 3; k++) {
      tu_node t = tu_node_new("Flatten", 13, 1, 1);
      tu_attr_int(&t, "axis", axes[k]);
      onyx_tensor *in[1] = {f32(3, xd, v)};
      EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_FLOAT, 2, want2[k], v);
    }
  }
  /* Squeeze / Unsqueeze: attribute (opset 11) and input (opset 13) forms */
  {
    int64_t d[4] = {1, 3, 1, 2}, ax[1] = {-2}, w1[3] = {1, 3, 2}, w2[2] = {3, 2};
    tu_node t = tu_node_new("Squeeze", 11, 1, 1);
    tu_attr_ints(&t, "axes", 1, ax);
    onyx_tensor *in[1] = {f32(4, d, v)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_FLOAT, 3, w1, v);
    tu_node t2 = tu_node_new("Squeeze", 13, 2, 1);
    onyx_tensor *in2[2] = {f32(4, d, v), NULL};
    EXPECT_EQ(run(&t2, 2, in2, 0), ONYX_DTYPE_FLOAT, 2, w2, v);
    int64_t none[1] = {0};
    tu_node t4 = tu_node_new("Squeeze", 13, 2, 1);   /* empty axes: all size-1 dims */
    onyx_tensor *in4[2] = {f32(4, d, v), i64(1, none, NULL)};
    EXPECT_EQ(run(&t4, 2, in4, 2u), ONYX_DTYPE_FLOAT, 2, w2, v);
    tu_node t3 = tu_node_new("Squeeze", 13, 2, 1);
    int64_t bad[1] = {1};
    onyx_tensor *in3[2] = {f32(4, d, v), i64v(1, bad)}, *o;
    CHECK_ERR(go(&t3, 2, in3, 2u, 1, &o), ONYX_ERR_INVALID_MODEL);
  }
  {
    int64_t d[2] = {3, 2}, ax[3] = {-1, 0, 2}, w[5] = {1, 3, 1, 2, 1};
    tu_node t = tu_node_new("Unsqueeze", 11, 1, 1);
    tu_attr_ints(&t, "axes", 3, ax);
    onyx_tensor *in[1] = {f32(2, d, v)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_FLOAT, 5, w, v);
    tu_node t2 = tu_node_new("Unsqueeze", 13, 2, 1);
    onyx_tensor *in2[2] = {f32(2, d, v), i64v(3, ax)};
    EXPECT_EQ(run(&t2, 2, in2, 2u), ONYX_DTYPE_FLOAT, 5, w, v);
  }
}

/* ---- Transpose, DepthToSpace, SpaceToDepth --------------------------------- */

static void transpose_ref(const void *x, void *y, size_t esz, int rank, const int64_t *dims, const int *perm) {
  int64_t od[ONYX_MAX_RANK], c[ONYX_MAX_RANK], xc[ONYX_MAX_RANK];
  for (int i = 0; i < rank; i++) od[i] = dims[perm[i]];
  for (int64_t i = 0; i < onyx_numel(rank, od); i++) {
    unravel(i, rank, od, c);
    for (int d = 0; d < rank; d++) xc[perm[d]] = c[d];
    memcpy((char *)y + i * (int64_t)esz, (const char *)x + ravel(xc, rank, dims) * (int64_t)esz, esz);
  }
}

static void check_transpose(onyx_dtype dt, int rank, const int64_t *dims, const int *perm, int line) {
  size_t esz = onyx_dtype_size(dt);
  int64_t n = onyx_numel(rank, dims), od[ONYX_MAX_RANK], p64[ONYX_MAX_RANK];
  unsigned char *x = malloc((size_t)n * esz + 1), *y = malloc((size_t)n * esz + 1);
  for (int64_t i = 0; i < (int64_t)(n * (int64_t)esz); i++) x[i] = (unsigned char)(i * 31 + 7);
  transpose_ref(x, y, esz, rank, dims, perm);
  for (int i = 0; i < rank; i++) {
    od[i] = dims[perm[i]];
    p64[i] = perm[i];
  }
  tu_node t = tu_node_new("Transpose", 13, 1, 1);
  tu_attr_ints(&t, "perm", rank, p64);
  onyx_tensor *in[1] = {tens(dt, rank, dims, x)};
  expect_eq(run(&t, 1, in, 0), dt, rank, od, y, line);
  free(x);
  free(y);
}

static bool next_perm(int *p, int n) {
  int i = n - 2;
  while (i >= 0 && p[i] >= p[i + 1]) i--;
  if (i < 0) return false;
  int j = n - 1;
  while (p[j] <= p[i]) j--;
  int t = p[i]; p[i] = p[j]; p[j] = t;
  for (int a = i + 1, b = n - 1; a < b; a++, b--) { t = p[a]; p[a] = p[b]; p[b] = t; }
  return true;
}

static void test_transpose(void) {
  int64_t d4[4] = {2, 3, 9, 10};
  int perm[4] = {0, 1, 2, 3};
  do check_transpose(ONYX_DTYPE_FLOAT, 4, d4, perm, __LINE__); while (next_perm(perm, 4));
  int64_t d2[2] = {67, 131};
  int p2[2] = {1, 0};
  check_transpose(ONYX_DTYPE_FLOAT, 2, d2, p2, __LINE__);      /* tiled path */
  check_transpose(ONYX_DTYPE_INT8, 2, d2, p2, __LINE__);
  check_transpose(ONYX_DTYPE_FLOAT16, 2, d2, p2, __LINE__);
  check_transpose(ONYX_DTYPE_DOUBLE, 2, d2, p2, __LINE__);
  check_transpose(ONYX_DTYPE_COMPLEX128, 2, d2, p2, __LINE__);
  int64_t d3[3] = {5, 300, 40};
  int p3[3] = {0, 2, 1};
  g_threads = 2;
  check_transpose(ONYX_DTYPE_FLOAT, 3, d3, p3, __LINE__);      /* batched, threaded */
  g_threads = 1;
  int64_t d0[3] = {2, 0, 3};
  int pz[3] = {2, 0, 1};
  check_transpose(ONYX_DTYPE_FLOAT, 3, d0, pz, __LINE__);      /* empty */
  /* default perm reverses; strings */
  {
    const char *s[6] = {"a", "b", "c", "d", "e", "f"}, *w[6] = {"a", "d", "b", "e", "c", "f"};
    int64_t d[2] = {2, 3}, wd[2] = {3, 2};
    tu_node t = tu_node_new("Transpose", 13, 1, 1);
    onyx_tensor *in[1] = {tens(ONYX_DTYPE_STRING, 2, d, s)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_STRING, 2, wd, w);
  }
  /* DepthToSpace (DCR, CRD) and SpaceToDepth against the reshape/transpose definition */
  {
    int64_t N = 2, C = 8, H = 3, W = 2, b = 2, xd[4] = {2, 8, 3, 2};
    float x[96], y[96], z[96];
    for (int i = 0; i < 96; i++) x[i] = (float)i;
    for (int crd = 0; crd < 2; crd++) {
      int64_t Co = C / (b * b), od[4] = {N, Co, H * b, W * b};
      for (int64_t i = 0; i < 96; i++) {
        int64_t c[4];
        unravel(i, 4, od, c);
        int64_t bh = c[2] % b, bw = c[3] % b, ch = crd ? c[1] * b * b + bh * b + bw : (bh * b + bw) * Co + c[1];
        int64_t xc[4] = {c[0], ch, c[2] / b, c[3] / b};
        y[i] = x[ravel(xc, 4, xd)];
      }
      tu_node t = tu_node_new("DepthToSpace", 13, 1, 1);
      tu_attr_int(&t, "blocksize", b);
      tu_attr_string(&t, "mode", crd ? "CRD" : "DCR");
      onyx_tensor *in[1] = {f32(4, xd, x)};
      EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_FLOAT, 4, od, y);
      if (!crd) {   /* SpaceToDepth inverts DCR DepthToSpace */
        tu_node t2 = tu_node_new("SpaceToDepth", 13, 1, 1);
        tu_attr_int(&t2, "blocksize", b);
        onyx_tensor *in2[1] = {f32(4, od, y)};
        memcpy(z, x, sizeof z);
        EXPECT_EQ(run(&t2, 1, in2, 0), ONYX_DTYPE_FLOAT, 4, xd, z);
      }
    }
  }
}

/* ---- Concat, Split --------------------------------------------------------- */

static void test_concat_split(void) {
  int64_t a[3] = {2, 3, 2}, b[3] = {2, 1, 2}, e[3] = {2, 0, 2}, w[3] = {2, 4, 2};
  float av[12], bv[4], ref[16];
  for (int i = 0; i < 12; i++) av[i] = (float)i;
  for (int i = 0; i < 4; i++) bv[i] = 100.0f + (float)i;
  for (int64_t i = 0; i < 16; i++) {
    int64_t c[3];
    unravel(i, 3, w, c);
    if (c[1] < 3) ref[i] = av[ravel(c, 3, a)];
    else {
      c[1] -= 3;
      ref[i] = bv[ravel(c, 3, b)];
    }
  }
  tu_node t = tu_node_new("Concat", 13, 3, 1);
  tu_attr_int(&t, "axis", -2);
  onyx_tensor *in[3] = {f32(3, a, av), f32(3, e, NULL), f32(3, b, bv)};
  EXPECT_EQ(run(&t, 3, in, 0), ONYX_DTYPE_FLOAT, 3, w, ref);
  /* strings */
  {
    const char *s1[2] = {"x", "y"}, *s2[1] = {"z"}, *sw[3] = {"x", "y", "z"};
    int64_t d1[1] = {2}, d2[1] = {1}, dw[1] = {3};
    tu_node t2 = tu_node_new("Concat", 13, 2, 1);
    tu_attr_int(&t2, "axis", 0);
    onyx_tensor *in2[2] = {tens(ONYX_DTYPE_STRING, 1, d1, s1), tens(ONYX_DTYPE_STRING, 1, d2, s2)};
    EXPECT_EQ(run(&t2, 2, in2, 0), ONYX_DTYPE_STRING, 1, dw, sw);
  }
  /* Split with an explicit split input: reverse of the concat above */
  {
    tu_node t3 = tu_node_new("Split", 13, 2, 2);
    tu_attr_int(&t3, "axis", 1);
    int64_t sp[2] = {3, 1};
    onyx_tensor *in3[2] = {f32(3, w, ref), i64v(2, sp)}, *out[2];
    CHECK_OK(go(&t3, 2, in3, 2u, 2, out));
    EXPECT_EQ(out[0], ONYX_DTYPE_FLOAT, 3, a, av);
    EXPECT_EQ(out[1], ONYX_DTYPE_FLOAT, 3, b, bv);
  }
  /* equal parts (opset 11 split attr absent), uneven with num_outputs (opset 18) */
  {
    int64_t d[1] = {7}, d3[1] = {3}, d1[1] = {1};
    float v[7] = {0, 1, 2, 3, 4, 5, 6};
    tu_node t4 = tu_node_new("Split", 18, 1, 3);
    tu_attr_int(&t4, "num_outputs", 3);
    onyx_tensor *in4[1] = {f32(1, d, v)}, *out[3];
    CHECK_OK(go(&t4, 1, in4, 0, 3, out));
    EXPECT_EQ(out[0], ONYX_DTYPE_FLOAT, 1, d3, v);
    EXPECT_EQ(out[1], ONYX_DTYPE_FLOAT, 1, d3, v + 3);
    EXPECT_EQ(out[2], ONYX_DTYPE_FLOAT, 1, d1, v + 6);
    tu_node t5 = tu_node_new("Split", 11, 1, 3);
    onyx_tensor *in5[1] = {f32(1, d, v)};
    CHECK_ERR(go(&t5, 1, in5, 0, 3, out), ONYX_ERR_INVALID_MODEL);
  }
}

/* ---- Slice ------------------------------------------------------------------ */

/* CPython's slice.indices(): the rules numpy slicing follows. */
static int64_t py_slice(int64_t start, int64_t stop, int64_t step, int64_t len, int64_t *first) {
  int64_t lo = step < 0 ? -1 : 0, hi = step < 0 ? len - 1 : len;
  if (start < 0) { start += len; if (start < lo) start = lo; } else if (start > hi) start = hi;
  if (stop < 0) { stop += len; if (stop < lo) stop = lo; } else if (stop > hi) stop = hi;
  *first = start;
  if (step > 0) return stop > start ? (stop - start - 1) / step + 1 : 0;
  return start > stop ? (start - stop - 1) / (-step) + 1 : 0;
}

static void check_slice(int opset, const int64_t *starts, const int64_t *ends, const int64_t *axes,
                        const int64_t *steps, int k, int line) {
  int64_t xd[3] = {4, 5, 6};
  float x[120];
  for (int i = 0; i < 120; i++) x[i] = (float)i;
  int64_t first[3] = {0, 0, 0}, step[3] = {1, 1, 1}, od[3] = {4, 5, 6};
  for (int i = 0; i < k; i++) {
    int64_t a = axes ? (axes[i] < 0 ? axes[i] + 3 : axes[i]) : i;
    step[a] = steps ? steps[i] : 1;
    od[a] = py_slice(starts[i], ends[i], step[a], xd[a], &first[a]);
  }
  float ref[120];
  for (int64_t i = 0; i < onyx_numel(3, od); i++) {
    int64_t c[3];
    unravel(i, 3, od, c);
    for (int d = 0; d < 3; d++) c[d] = first[d] + c[d] * step[d];
    ref[i] = x[ravel(c, 3, xd)];
  }
  tu_node t = tu_node_new("Slice", opset, opset >= 10 ? 5 : 1, 1);
  onyx_tensor *in[5] = {f32(3, xd, x), NULL, NULL, NULL, NULL};
  if (opset >= 10) {
    in[1] = i64v(k, starts);
    in[2] = i64v(k, ends);
    if (axes) in[3] = i64v(k, axes);
    if (steps) in[4] = i64v(k, steps);
  } else {
    tu_attr_ints(&t, "starts", k, starts);
    tu_attr_ints(&t, "ends", k, ends);
    if (axes) tu_attr_ints(&t, "axes", k, axes);
  }
  expect_eq(run(&t, opset >= 10 ? 5 : 1, in, opset >= 10 ? 0x1eu : 0), ONYX_DTYPE_FLOAT, 3, od, ref, line);
}

static void test_slice(void) {
  int64_t s1[2] = {1, -4}, e1[2] = {3, 100}, a1[2] = {0, -1};
  check_slice(13, s1, e1, a1, NULL, 2, __LINE__);
  check_slice(1, s1, e1, a1, NULL, 2, __LINE__);
  int64_t s2[3] = {-1, 100, 4}, e2[3] = {-100, 0, -7}, st2[3] = {-1, -2, -3};
  check_slice(13, s2, e2, NULL, st2, 3, __LINE__);          /* negative steps, clamping */
  int64_t s3[1] = {INT64_MAX}, e3[1] = {INT64_MIN}, a3[1] = {1}, st3[1] = {-1};
  check_slice(13, s3, e3, a3, st3, 1, __LINE__);           /* full reverse */
  int64_t s4[1] = {10}, e4[1] = {20};
  check_slice(13, s4, e4, NULL, NULL, 1, __LINE__);         /* empty result */
  int64_t s5[2] = {1, 0}, e5[2] = {5, 6}, st5[2] = {3, 2}, a5[2] = {2, 1};
  check_slice(13, s5, e5, a5, st5, 2, __LINE__);
  /* step 0 is an error */
  int64_t xd[1] = {4}, z[1] = {0}, one[1] = {1};
  tu_node t = tu_node_new("Slice", 13, 5, 1);
  onyx_tensor *in[5] = {f32(1, xd, NULL), i64v(1, z), i64v(1, one), NULL, i64v(1, z)}, *o;
  CHECK_ERR(go(&t, 5, in, 0x1eu, 1, &o), ONYX_ERR_INVALID_MODEL);
}

/* ---- Gather family, Scatter family ---------------------------------------- */

static void test_gather(void) {
  int64_t xd[3] = {3, 4, 2}, idd[2] = {2, 2}, od[4] = {3, 2, 2, 2};
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  int32_t idx[4] = {0, -1, 2, 1};
  float ref[24];
  for (int64_t i = 0; i < 24; i++) {
    int64_t c[4];
    unravel(i, 4, od, c);
    int64_t k = idx[c[1] * 2 + c[2]];
    int64_t xc[3] = {c[0], k < 0 ? k + 4 : k, c[3]};
    ref[i] = x[ravel(xc, 3, xd)];
  }
  tu_node t = tu_node_new("Gather", 13, 2, 1);
  tu_attr_int(&t, "axis", -2);
  onyx_tensor *in[2] = {f32(3, xd, x), tens(ONYX_DTYPE_INT32, 2, idd, idx)};
  EXPECT_EQ(run(&t, 2, in, 0), ONYX_DTYPE_FLOAT, 4, od, ref);
  /* out of range */
  int64_t bad[1] = {4};
  tu_node t2 = tu_node_new("Gather", 13, 2, 1);
  tu_attr_int(&t2, "axis", 1);
  onyx_tensor *in2[2] = {f32(3, xd, x), i64v(1, bad)}, *o;
  CHECK_ERR(go(&t2, 2, in2, 0, 1, &o), ONYX_ERR_INVALID_ARGUMENT);
  /* scalar index drops the axis; strings */
  {
    const char *s[3] = {"p", "q", "r"};
    int64_t sd[1] = {3}, k[1] = {-2};
    tu_node t3 = tu_node_new("Gather", 13, 2, 1);
    onyx_tensor *in3[2] = {tens(ONYX_DTYPE_STRING, 1, sd, s), i64(0, NULL, k)};
    EXPECT_EQ(run(&t3, 2, in3, 0), ONYX_DTYPE_STRING, 0, NULL, s + 1);
  }
  /* GatherElements along axis 1 with negative indices */
  {
    int64_t ed[2] = {3, 3}, id2[2] = {2, 2};
    float e[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int64_t ix[4] = {-1, 0, 2, 1};
    float r2[4];
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) {
        int64_t k = ix[i * 2 + j];
        r2[i * 2 + j] = e[i * 3 + (k < 0 ? k + 3 : k)];
      }
    tu_node t4 = tu_node_new("GatherElements", 13, 2, 1);
    tu_attr_int(&t4, "axis", 1);
    onyx_tensor *in4[2] = {f32(2, ed, e), i64(2, id2, ix)};
    EXPECT_EQ(run(&t4, 2, in4, 0), ONYX_DTYPE_FLOAT, 2, id2, r2);
  }
  /* GatherND with batch_dims 1 */
  {
    int64_t dd[3] = {2, 3, 4}, id3[3] = {2, 2, 1}, od3[3] = {2, 2, 4};
    float dv[24], r3[16];
    for (int i = 0; i < 24; i++) dv[i] = (float)i * 0.5f;
    int64_t ix[4] = {2, 0, 1, -1};
    for (int b = 0; b < 2; b++)
      for (int m = 0; m < 2; m++) {
        int64_t k = ix[b * 2 + m];
        k = k < 0 ? k + 3 : k;
        for (int j = 0; j < 4; j++) r3[(b * 2 + m) * 4 + j] = dv[(b * 3 + k) * 4 + j];
      }
    tu_node t5 = tu_node_new("GatherND", 13, 2, 1);
    tu_attr_int(&t5, "batch_dims", 1);
    onyx_tensor *in5[2] = {f32(3, dd, dv), i64(3, id3, ix)};
    EXPECT_EQ(run(&t5, 2, in5, 0), ONYX_DTYPE_FLOAT, 3, od3, r3);
  }
}

static float red_ref(const char *r, float a, float b) {
  if (!strcmp(r, "add")) return a + b;
  if (!strcmp(r, "mul")) return a * b;
  if (!strcmp(r, "max")) return a > b ? a : b;
  if (!strcmp(r, "min")) return a < b ? a : b;
  return b;
}

static void test_scatter(void) {
  const char *reds[5] = {"none", "add", "mul", "max", "min"};
  int64_t dd[2] = {3, 4}, id[2] = {2, 3};
  float data[12], upd[6] = {1.5f, -2, 3, 4, 0.5f, -6};
  for (int i = 0; i < 12; i++) data[i] = (float)i - 4.0f;
  int64_t ix[6] = {0, -1, 0, 2, 0, 2};   /* duplicates: (0,0) x2, (2,2) */
  for (int r = 0; r < 5; r++) {
    float ref[12];
    memcpy(ref, data, sizeof ref);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) {
        int64_t k = ix[i * 3 + j];
        k = k < 0 ? k + 3 : k;
        ref[k * 4 + j] = red_ref(reds[r], ref[k * 4 + j], upd[i * 3 + j]);
      }
    if (r == 0) {   /* "none" with duplicates is ill-defined; make them unique */
      memcpy(ref, data, sizeof ref);
      int64_t u[6] = {0, -1, 1, 2, 0, 2};
      for (int i = 0; i < 6; i++) ix[i] = u[i];
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
          int64_t k = ix[i * 3 + j];
          k = k < 0 ? k + 3 : k;
          ref[k * 4 + j] = upd[i * 3 + j];
        }
    }
    tu_node t = tu_node_new("ScatterElements", 18, 3, 1);
    tu_attr_int(&t, "axis", 0);
    tu_attr_string(&t, "reduction", reds[r]);
    onyx_tensor *in[3] = {f32(2, dd, data), i64(2, id, ix), f32(2, id, upd)};
    EXPECT_EQ(run(&t, 3, in, 0), ONYX_DTYPE_FLOAT, 2, dd, ref);
    if (r == 0) {
      int64_t d[6] = {0, -1, 0, 2, 0, 2};
      memcpy(ix, d, sizeof d);
    }
  }
  /* max is not in opset 16 */
  {
    tu_node t = tu_node_new("ScatterElements", 16, 3, 1);
    tu_attr_string(&t, "reduction", "max");
    onyx_tensor *in[3] = {f32(2, dd, data), i64(2, id, ix), f32(2, id, upd)}, *o;
    CHECK_ERR(go(&t, 3, in, 0, 1, &o), ONYX_ERR_NOT_IMPLEMENTED);
  }
  /* ScatterND: rows of a [4,3] tensor, with add */
  {
    int64_t d[2] = {4, 3}, idd[2] = {2, 1}, ud[2] = {2, 3};
    float x[12], u[6] = {1, 2, 3, 10, 20, 30}, ref[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    int64_t ix2[2] = {3, -4};
    memcpy(ref, x, sizeof ref);
    for (int j = 0; j < 3; j++) {
      ref[3 * 3 + j] += u[j];
      ref[0 * 3 + j] += u[3 + j];
    }
    tu_node t = tu_node_new("ScatterND", 16, 3, 1);
    tu_attr_string(&t, "reduction", "add");
    onyx_tensor *in[3] = {f32(2, d, x), i64(2, idd, ix2), f32(2, ud, u)};
    EXPECT_EQ(run(&t, 3, in, 0), ONYX_DTYPE_FLOAT, 2, d, ref);
  }
  /* deprecated Scatter = ScatterElements without reduction; strings */
  {
    const char *s[3] = {"a", "b", "c"}, *u[1] = {"zz"}, *w[3] = {"a", "zz", "c"};
    int64_t d[1] = {3}, one[1] = {1}, k[1] = {1};
    tu_node t = tu_node_new("Scatter", 9, 3, 1);
    onyx_tensor *in[3] = {tens(ONYX_DTYPE_STRING, 1, d, s), i64(1, one, k), tens(ONYX_DTYPE_STRING, 1, one, u)};
    EXPECT_EQ(run(&t, 3, in, 0), ONYX_DTYPE_STRING, 1, d, w);
  }
}

/* ---- Shape, Size, Constant, ConstantOfShape, Range, EyeLike ------------- */

static void test_sources(void) {
  int64_t xd[4] = {2, 3, 5, 7};
  struct { int64_t s, e; bool has_s, has_e; } cases[] = {{0, 0, false, false}, {1, 0, true, false},
                                                         {-3, -1, true, true}, {5, -10, true, true}};
  for (int k = 0; k < 4; k++) {
    tu_node t = tu_node_new("Shape", 15, 1, 1);
    if (cases[k].has_s) tu_attr_int(&t, "start", cases[k].s);
    if (cases[k].has_e) tu_attr_int(&t, "end", cases[k].e);
    int64_t s = cases[k].has_s ? cases[k].s : 0, e = cases[k].has_e ? cases[k].e : 4;
    s = s < 0 ? (s + 4 < 0 ? 0 : s + 4) : (s > 4 ? 4 : s);
    e = e < 0 ? (e + 4 < 0 ? 0 : e + 4) : (e > 4 ? 4 : e);
    int64_t n[1] = {e > s ? e - s : 0};
    onyx_tensor *in[1] = {f32(4, xd, NULL)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_INT64, 1, n, xd + s);
  }
  {
    tu_node t = tu_node_new("Size", 13, 1, 1);
    int64_t n = 210;
    onyx_tensor *in[1] = {f32(4, xd, NULL)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_INT64, 0, NULL, &n);
  }
  {
    tu_node t = tu_node_new("Constant", 13, 0, 1);
    float v[3] = {1.5f, -2, 3};
    tu_set_floats(tu_n(&t), "value_floats", 3, v);
    int64_t d[1] = {3};
    EXPECT_EQ(run(&t, 0, NULL, 0), ONYX_DTYPE_FLOAT, 1, d, v);
    tu_node t2 = tu_node_new("Constant", 13, 0, 1);
    onyx_attr *a = tu_set(tu_n(&t2), "value", ONYX_ATTR_TENSOR);
    const char *s[2] = {"hello", "world"};
    int64_t sd[1] = {2};
    a->t = tens(ONYX_DTYPE_STRING, 1, sd, s);
    EXPECT_EQ(run(&t2, 0, NULL, 0), ONYX_DTYPE_STRING, 1, sd, s);
  }
  {
    tu_node t = tu_node_new("ConstantOfShape", 13, 1, 1);
    onyx_attr *a = tu_set(tu_n(&t), "value", ONYX_ATTR_TENSOR);
    int32_t seven = 7, ref[6] = {7, 7, 7, 7, 7, 7};
    int64_t one[1] = {1}, sh[2] = {2, 3};
    a->t = tens(ONYX_DTYPE_INT32, 1, one, &seven);
    onyx_tensor *in[1] = {i64v(2, sh)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_INT32, 2, sh, ref);
    tu_node t2 = tu_node_new("ConstantOfShape", 13, 1, 1);
    int64_t z[1] = {0}, zd[1] = {0};
    onyx_tensor *in2[1] = {i64v(1, z)};
    EXPECT_EQ(run(&t2, 1, in2, 1u), ONYX_DTYPE_FLOAT, 1, zd, NULL);
  }
  {
    float s = 1.0f, l = 2.4f, d = 0.3f, ref[8];
    int n = 0;
    while ((double)s + n * (double)d < (double)l) {   /* numpy.arange's count */
      ref[n] = s + (float)n * d;
      n++;
    }
    int64_t nd[1] = {n};
    tu_node t = tu_node_new("Range", 11, 3, 1);
    onyx_tensor *in[3] = {f32(0, NULL, &s), f32(0, NULL, &l), f32(0, NULL, &d)};
    EXPECT_NEAR(run(&t, 3, in, 0), 1, nd, ref, 1e-6f);
    int32_t a = 10, b = 4, c = -3, r[2] = {10, 7};
    int64_t rd[1] = {2};
    tu_node t2 = tu_node_new("Range", 11, 3, 1);
    onyx_tensor *in2[3] = {tens(ONYX_DTYPE_INT32, 0, NULL, &a), tens(ONYX_DTYPE_INT32, 0, NULL, &b),
                           tens(ONYX_DTYPE_INT32, 0, NULL, &c)};
    EXPECT_EQ(run(&t2, 3, in2, 7u), ONYX_DTYPE_INT32, 1, rd, r);
  }
  {
    int64_t d[2] = {3, 4};
    int32_t ref[12] = {0};
    for (int i = 0; i < 3; i++)
      if (i - 1 >= 0 && i - 1 < 4) ref[i * 4 + i - 1] = 1;
    tu_node t = tu_node_new("EyeLike", 9, 1, 1);
    tu_attr_int(&t, "k", -1);
    tu_attr_int(&t, "dtype", ONYX_DTYPE_INT32);
    onyx_tensor *in[1] = {f32(2, d, NULL)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_INT32, 2, d, ref);
  }
}

/* ---- Expand, Tile, Pad, CenterCropPad --------------------------------------- */

static void test_expand_tile(void) {
  int64_t xd[3] = {3, 1, 2}, sh[4] = {2, 1, 4, 1}, od[4] = {2, 3, 4, 2};
  float x[6] = {1, 2, 3, 4, 5, 6}, ref[48];
  for (int64_t i = 0; i < 48; i++) {
    int64_t c[4];
    unravel(i, 4, od, c);
    int64_t xc[3] = {c[1], 0, c[3]};
    ref[i] = x[ravel(xc, 3, xd)];
  }
  tu_node t = tu_node_new("Expand", 13, 2, 1);
  onyx_tensor *in[2] = {f32(3, xd, x), i64v(4, sh)};
  EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 4, od, ref);
  int64_t rep[3] = {2, 3, 1}, td[3] = {6, 3, 2};
  float tr[36];
  for (int64_t i = 0; i < 36; i++) {
    int64_t c[3];
    unravel(i, 3, td, c);
    int64_t xc[3] = {c[0] % 3, c[1] % 1, c[2] % 2};
    tr[i] = x[ravel(xc, 3, xd)];
  }
  tu_node t2 = tu_node_new("Tile", 13, 2, 1);
  onyx_tensor *in2[2] = {f32(3, xd, x), i64v(3, rep)};
  EXPECT_EQ(run(&t2, 2, in2, 0), ONYX_DTYPE_FLOAT, 3, td, tr);
  int64_t rz[3] = {2, 0, 1}, tz[3] = {6, 0, 2};
  tu_node t3 = tu_node_new("Tile", 13, 2, 1);
  onyx_tensor *in3[2] = {f32(3, xd, x), i64v(3, rz)};
  EXPECT_EQ(run(&t3, 2, in3, 2u), ONYX_DTYPE_FLOAT, 3, tz, NULL);
}

/* numpy.pad index rules, one dim: the input index read at padded position j. */
static int64_t np_pad_index(const char *mode, int64_t j, int64_t before, int64_t n) {
  int64_t i = j - before;
  if (i >= 0 && i < n) return i;
  if (!strcmp(mode, "edge")) return i < 0 ? 0 : n - 1;
  if (!strcmp(mode, "wrap")) {
    while (i < 0) i += n;
    return i % n;
  }
  if (!strcmp(mode, "reflect")) {
    while (i < 0 || i >= n) {   /* bounce off the ends one reflection at a time */
      if (i < 0) i = -i;
      if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
  }
  return -1;
}

static void test_pad(void) {
  const char *modes[4] = {"constant", "reflect", "edge", "wrap"};
  int64_t xd[2] = {3, 4};
  float x[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i + 1;
  int64_t pads[4] = {2, -1, 1, 5};   /* begin d0, begin d1, end d0, end d1 */
  int64_t od[2] = {3 + 2 + 1, 4 - 1 + 5};
  for (int m = 0; m < 4; m++) {
    float ref[64];
    for (int64_t i = 0; i < od[0] * od[1]; i++) {
      int64_t r = np_pad_index(modes[m], i / od[1], pads[0], 3), c = np_pad_index(modes[m], i % od[1], pads[1], 4);
      ref[i] = r < 0 || c < 0 ? 2.5f : x[r * 4 + c];
    }
    tu_node t = tu_node_new("Pad", 19, 3, 1);
    tu_attr_string(&t, "mode", modes[m]);
    float cv = 2.5f;
    onyx_tensor *in[3] = {f32(2, xd, x), i64v(4, pads), f32(0, NULL, &cv)};
    EXPECT_EQ(run(&t, 3, in, m & 1 ? 6u : 0u), ONYX_DTYPE_FLOAT, 2, od, ref);
  }
  /* opset 2 attributes; opset 18 axes input */
  {
    int64_t p2[4] = {0, 1, 0, 0}, o2[2] = {3, 5};
    float ref[15];
    for (int i = 0; i < 15; i++) ref[i] = i % 5 == 0 ? -1.0f : x[(i / 5) * 4 + i % 5 - 1];
    tu_node t = tu_node_new("Pad", 2, 1, 1);
    tu_attr_ints(&t, "pads", 4, p2);
    tu_attr_float(&t, "value", -1.0f);
    onyx_tensor *in[1] = {f32(2, xd, x)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_FLOAT, 2, o2, ref);
    int64_t p3[2] = {1, 0}, ax[1] = {-1};
    tu_node t2 = tu_node_new("Pad", 18, 4, 1);
    float cv = -1.0f;
    onyx_tensor *in2[4] = {f32(2, xd, x), i64v(2, p3), f32(0, NULL, &cv), i64v(1, ax)};
    EXPECT_EQ(run(&t2, 4, in2, 0xeu), ONYX_DTYPE_FLOAT, 2, o2, ref);
  }
  /* strings: padded with "" by default, edge mode copies */
  {
    const char *sv[2] = {"ab", "c"}, *w1[4] = {"", "ab", "c", ""}, *w2[4] = {"ab", "ab", "c", "c"};
    int64_t d[1] = {2}, p[2] = {1, 1}, od[1] = {4};
    tu_node t = tu_node_new("Pad", 13, 2, 1);
    onyx_tensor *in[2] = {tens(ONYX_DTYPE_STRING, 1, d, sv), i64v(2, p)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_STRING, 1, od, w1);
    tu_node t2 = tu_node_new("Pad", 13, 2, 1);
    tu_attr_string(&t2, "mode", "edge");
    onyx_tensor *in2[2] = {tens(ONYX_DTYPE_STRING, 1, d, sv), i64v(2, p)};
    EXPECT_EQ(run(&t2, 2, in2, 2u), ONYX_DTYPE_STRING, 1, od, w2);
  }
  /* CenterCropPad: crop dim 0 from 5 to 2 (start 1), pad dim 1 from 3 to 6 (1 before) */
  {
    int64_t cd[2] = {5, 3}, sh[2] = {2, 6}, ref_d[2] = {2, 6};
    float cx[15], ref[12];
    for (int i = 0; i < 15; i++) cx[i] = (float)i;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 6; j++) ref[i * 6 + j] = j >= 1 && j < 4 ? cx[(i + 1) * 3 + j - 1] : 0.0f;
    tu_node t = tu_node_new("CenterCropPad", 18, 2, 1);
    onyx_tensor *in[2] = {f32(2, cd, cx), i64v(2, sh)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 2, ref_d, ref);
  }
}

/* ---- Resize ------------------------------------------------------------------- */

/* Textbook bilinear with half_pixel centres, sampling clamped at the edges. */
static float bilinear_ref(const float *x, int64_t H, int64_t W, double sy, double sx, int64_t oy, int64_t ox) {
  double fy = (oy + 0.5) / sy - 0.5, fx = (ox + 0.5) / sx - 0.5;
  if (fy < 0) fy = 0;
  if (fx < 0) fx = 0;
  int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;
  int64_t y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
  double dy = fy - y0, dx = fx - x0;
  if (y0 >= H - 1) { y0 = H - 1; dy = 0; }
  if (x0 >= W - 1) { x0 = W - 1; dx = 0; }
  return (float)((1 - dy) * ((1 - dx) * x[y0 * W + x0] + dx * x[y0 * W + x1]) +
                 dy * ((1 - dx) * x[y1 * W + x0] + dx * x[y1 * W + x1]));
}

static double keys(double t, double a) {
  t = fabs(t);
  if (t < 1) return (a + 2) * t * t * t - (a + 3) * t * t + 1;
  if (t < 2) return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a;
  return 0;
}

static void test_resize(void) {
  int64_t xd[4] = {1, 2, 4, 5};
  float x[40];
  tu_fill_random(x, 40, 3);
  /* linear, half_pixel, scales 1, 1, 1.75, 0.6 */
  {
    float sc[4] = {1, 1, 1.75f, 0.6f};
    int64_t od[4] = {1, 2, 7, 3}, sd[1] = {4};
    float ref[42];
    for (int64_t i = 0; i < 42; i++) {
      int64_t c[4];
      unravel(i, 4, od, c);
      ref[i] = bilinear_ref(x + c[1] * 20, 4, 5, (double)sc[2], (double)sc[3], c[2], c[3]);
    }
    tu_node t = tu_node_new("Resize", 13, 3, 1);
    tu_attr_string(&t, "mode", "linear");
    onyx_tensor *in[3] = {f32(4, xd, x), NULL, f32(1, sd, sc)};
    EXPECT_NEAR(run(&t, 3, in, 4u), 4, od, ref, 1e-5f);
  }
  /* nearest with every nearest_mode, asymmetric, sizes input */
  {
    const char *nm[4] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    int64_t sz[4] = {1, 2, 7, 3}, sd[1] = {4};
    for (int m = 0; m < 4; m++) {
      float ref[42];
      for (int64_t i = 0; i < 42; i++) {
        int64_t c[4];
        unravel(i, 4, sz, c);
        int64_t src[2];
        for (int k = 0; k < 2; k++) {
          double in = (double)xd[2 + k], s = (double)sz[2 + k] / in, f = (double)c[2 + k] / s;
          double fl = floor(f), fr = f - fl;
          int64_t v = m == 2 ? (int64_t)fl : m == 3 ? (int64_t)ceil(f)
                    : (int64_t)fl + (m == 0 ? fr > 0.5 : fr >= 0.5);
          src[k] = v > xd[2 + k] - 1 ? xd[2 + k] - 1 : v;
        }
        ref[i] = x[c[1] * 20 + src[0] * 5 + src[1]];
      }
      tu_node t = tu_node_new("Resize", 13, 4, 1);
      tu_attr_string(&t, "coordinate_transformation_mode", "asymmetric");
      tu_attr_string(&t, "nearest_mode", nm[m]);
      onyx_tensor *in[4] = {f32(4, xd, x), NULL, NULL, i64(1, sd, sz)};
      EXPECT_EQ(run(&t, 4, in, 8u), ONYX_DTYPE_FLOAT, 4, sz, ref);
    }
  }
  /* cubic, align_corners, A = -0.5, on one axis (opset 18 axes) */
  {
    int64_t ax[1] = {3}, sz[1] = {9}, od[4] = {1, 2, 4, 9}, sd[1] = {1};
    float ref[72];
    for (int64_t i = 0; i < 72; i++) {
      int64_t c[4];
      unravel(i, 4, od, c);
      double f = (double)c[3] * 4.0 / 8.0, acc = 0;
      int64_t f0 = (int64_t)floor(f);
      for (int64_t k = f0 - 1; k <= f0 + 2; k++) {
        int64_t kk = k < 0 ? 0 : k > 4 ? 4 : k;
        acc += keys(f - (double)k, -0.5) * x[c[1] * 20 + c[2] * 5 + kk];
      }
      ref[i] = (float)acc;
    }
    tu_node t = tu_node_new("Resize", 18, 4, 1);
    tu_attr_string(&t, "mode", "cubic");
    tu_attr_string(&t, "coordinate_transformation_mode", "align_corners");
    tu_attr_float(&t, "cubic_coeff_a", -0.5f);
    tu_attr_ints(&t, "axes", 1, ax);
    onyx_tensor *in[4] = {f32(4, xd, x), NULL, NULL, i64(1, sd, sz)};
    EXPECT_NEAR(run(&t, 4, in, 8u), 4, od, ref, 1e-5f);
  }
  /* antialiased linear downsample by 2 is the [1,3,3,1]/8 triangle filter */
  {
    int64_t d[2] = {1, 8}, od[2] = {1, 4}, sd[1] = {2};
    float v[8] = {1, 5, 2, 8, 3, 3, 9, 0}, sc[2] = {1, 0.5f}, ref[4];
    for (int o = 0; o < 4; o++) {
      double acc = 0, w[4] = {1, 3, 3, 1};
      for (int k = 0; k < 4; k++) {
        int i = 2 * o - 1 + k;
        acc += w[k] / 8.0 * v[i < 0 ? 0 : i > 7 ? 7 : i];
      }
      ref[o] = (float)acc;
    }
    tu_node t = tu_node_new("Resize", 18, 3, 1);
    tu_attr_string(&t, "mode", "linear");
    tu_attr_int(&t, "antialias", 1);
    onyx_tensor *in[3] = {f32(2, d, v), NULL, f32(1, sd, sc)};
    EXPECT_NEAR(run(&t, 3, in, 4u), 2, od, ref, 1e-5f);
  }
  /* keep_aspect_ratio_policy not_larger: [4,5] into at most [8,8] -> scale 1.6 -> [6,8] */
  {
    int64_t ax[2] = {2, 3}, sz[2] = {8, 8}, sd[1] = {2}, od[4] = {1, 2, 6, 8};
    tu_node t = tu_node_new("Resize", 18, 4, 1);
    tu_attr_ints(&t, "axes", 2, ax);
    tu_attr_string(&t, "keep_aspect_ratio_policy", "not_larger");
    onyx_tensor *in[4] = {f32(4, xd, x), NULL, NULL, i64(1, sd, sz)};
    onyx_tensor *o = run(&t, 4, in, 8u);
    CHECK(shape_is(o, 4, od));
    onyx_tensor_free(o);
  }
  /* Resize-10 nearest (asymmetric; downsampling rounds up, as ORT does) and
   * Upsample-7 linear (asymmetric), both with plain index formulas */
  {
    int64_t d[2] = {2, 4}, od[2] = {1, 2}, sd[1] = {2};
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, sc[2] = {0.6f, 0.6f}, ref[2];
    for (int o = 0; o < 2; o++) ref[o] = v[(int)ceil(o / (double)0.6f)];
    tu_node t = tu_node_new("Resize", 10, 2, 1);
    onyx_tensor *in[2] = {f32(2, d, v), f32(1, sd, sc)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 2, od, ref);
    int64_t ud[2] = {2, 8};
    float usc[2] = {1, 2}, uref[16];
    for (int r = 0; r < 2; r++)
      for (int o = 0; o < 8; o++) {
        double f = o / 2.0;
        int i0 = (int)f, i1 = i0 + 1 < 4 ? i0 + 1 : 3;
        uref[r * 8 + o] = (float)((1 - (f - i0)) * v[r * 4 + i0] + (f - i0) * v[r * 4 + i1]);
      }
    tu_node t2 = tu_node_new("Upsample", 7, 1, 1);
    tu_attr_string(&t2, "mode", "linear");
    tu_set_floats(tu_n(&t2), "scales", 2, usc);
    onyx_tensor *in2[1] = {f32(2, d, v)};
    EXPECT_NEAR(run(&t2, 1, in2, 0), 2, ud, uref, 1e-6f);
  }
  /* Upsample-9 nearest == repeat */
  {
    int64_t d[2] = {2, 2}, od[2] = {4, 6}, sd[1] = {2};
    float v[4] = {1, 2, 3, 4}, sc[2] = {2, 3}, ref[24];
    for (int i = 0; i < 24; i++) ref[i] = v[(i / 6) / 2 * 2 + (i % 6) / 3];
    tu_node t = tu_node_new("Upsample", 9, 2, 1);
    onyx_tensor *in[2] = {f32(2, d, v), f32(1, sd, sc)};
    EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 2, od, ref);
  }
}

/* ---- OneHot, NonZero, Compress, Unique, Trilu, ReverseSequence, Col2Im ---- */

static void test_select(void) {
  {
    int64_t id[2] = {2, 2}, od[3] = {2, 4, 2};
    float iv[4] = {0, -1, 3, 7}, vals[2] = {-1, 5}, depth = 4, ref[16];
    for (int64_t i = 0; i < 16; i++) {
      int64_t c[3];
      unravel(i, 3, od, c);
      int64_t k = (int64_t)iv[c[0] * 2 + c[2]];
      if (k < 0) k += 4;
      ref[i] = k == c[1] ? 5.0f : -1.0f;
    }
    int64_t two[1] = {2};
    tu_node t = tu_node_new("OneHot", 11, 3, 1);
    tu_attr_int(&t, "axis", -2);
    onyx_tensor *in[3] = {f32(2, id, iv), f32(0, NULL, &depth), f32(1, two, vals)};
    EXPECT_EQ(run(&t, 3, in, 0), ONYX_DTYPE_FLOAT, 3, od, ref);
  }
  {
    int64_t d[2] = {2, 3}, od[2] = {2, 3};
    float v[6] = {0, 1, -2, 0, 0, 3};
    int64_t ref[6] = {0, 0, 1, 1, 2, 2};
    tu_node t = tu_node_new("NonZero", 13, 1, 1);
    onyx_tensor *in[1] = {f32(2, d, v)};
    EXPECT_EQ(run(&t, 1, in, 0), ONYX_DTYPE_INT64, 2, od, ref);
    float z[6] = {0};
    int64_t zd[2] = {2, 0};
    tu_node t2 = tu_node_new("NonZero", 13, 1, 1);
    onyx_tensor *in2[1] = {f32(2, d, z)};
    EXPECT_EQ(run(&t2, 1, in2, 0), ONYX_DTYPE_INT64, 2, zd, NULL);
  }
  {
    int64_t d[2] = {3, 2}, cd[1] = {2}, od[2] = {3, 1}, fd[1] = {2};
    float v[6] = {1, 2, 3, 4, 5, 6}, r1[3] = {2, 4, 6}, r2[2] = {1, 4};
    uint8_t cond[2] = {0, 1}, cond2[4] = {1, 0, 0, 1};
    int64_t c2d[1] = {4};
    tu_node t = tu_node_new("Compress", 11, 2, 1);
    tu_attr_int(&t, "axis", -1);
    onyx_tensor *in[2] = {f32(2, d, v), tens(ONYX_DTYPE_BOOL, 1, cd, cond)};
    EXPECT_EQ(run(&t, 2, in, 0), ONYX_DTYPE_FLOAT, 2, od, r1);
    tu_node t2 = tu_node_new("Compress", 11, 2, 1);
    onyx_tensor *in2[2] = {f32(2, d, v), tens(ONYX_DTYPE_BOOL, 1, c2d, cond2)};
    EXPECT_EQ(run(&t2, 2, in2, 0), ONYX_DTYPE_FLOAT, 1, fd, r2);
  }
  /* Unique without axis, sorted and unsorted, against a brute-force count */
  {
    float v[8] = {2, 1, 1, 3, 4, 3, 2, 2};
    int64_t d[1] = {8};
    for (int sorted = 0; sorted < 2; sorted++) {
      float u[8];
      int64_t first[8], cnt[8], inv[8];
      int nu = 0;
      for (int i = 0; i < 8; i++) {
        int k = 0;
        while (k < nu && u[k] != v[i]) k++;
        if (k == nu) {
          u[nu] = v[i];
          first[nu] = i;
          cnt[nu++] = 0;
        }
        cnt[k]++;
      }
      if (sorted)   /* selection sort keeps (value, first, count) together */
        for (int a = 0; a < nu; a++)
          for (int b = a + 1; b < nu; b++)
            if (u[b] < u[a]) {
              float tf = u[a]; u[a] = u[b]; u[b] = tf;
              int64_t ti = first[a]; first[a] = first[b]; first[b] = ti;
              ti = cnt[a]; cnt[a] = cnt[b]; cnt[b] = ti;
            }
      for (int i = 0; i < 8; i++)
        for (int k = 0; k < nu; k++)
          if (u[k] == v[i]) inv[i] = k;
      tu_node t = tu_node_new("Unique", 11, 1, 4);
      tu_attr_int(&t, "sorted", sorted);
      onyx_tensor *in[1] = {f32(1, d, v)}, *out[4];
      CHECK_OK(go(&t, 1, in, 0, 4, out));
      int64_t nd[1] = {nu};
      EXPECT_EQ(out[0], ONYX_DTYPE_FLOAT, 1, nd, u);
      EXPECT_EQ(out[1], ONYX_DTYPE_INT64, 1, nd, first);
      EXPECT_EQ(out[2], ONYX_DTYPE_INT64, 1, d, inv);
      EXPECT_EQ(out[3], ONYX_DTYPE_INT64, 1, nd, cnt);
    }
  }
  /* Unique along axis 0 of a [4,2] tensor */
  {
    int64_t d[2] = {4, 2}, od[2] = {2, 2}, two[1] = {2}, four[1] = {4};
    float v[8] = {1, 0, 0, 1, 1, 0, 0, 1}, u[4] = {0, 1, 1, 0};
    int64_t first[2] = {1, 0}, inv[4] = {1, 0, 1, 0}, cnt[2] = {2, 2};
    tu_node t = tu_node_new("Unique", 11, 1, 4);
    tu_attr_int(&t, "axis", 0);
    onyx_tensor *in[1] = {f32(2, d, v)}, *out[4];
    CHECK_OK(go(&t, 1, in, 0, 4, out));
    EXPECT_EQ(out[0], ONYX_DTYPE_FLOAT, 2, od, u);
    EXPECT_EQ(out[1], ONYX_DTYPE_INT64, 1, two, first);
    EXPECT_EQ(out[2], ONYX_DTYPE_INT64, 1, four, inv);
    EXPECT_EQ(out[3], ONYX_DTYPE_INT64, 1, two, cnt);
  }
  /* Trilu upper/lower with k in -2..2 on a batch of [3,4] */
  for (int up = 0; up < 2; up++)
    for (int64_t k = -2; k <= 2; k++) {
      int64_t d[3] = {2, 3, 4};
      float v[24], ref[24];
      for (int i = 0; i < 24; i++) v[i] = (float)i + 1;
      for (int64_t i = 0; i < 24; i++) {
        int64_t c[3];
        unravel(i, 3, d, c);
        bool keep = up ? c[2] - c[1] >= k : c[2] - c[1] <= k;
        ref[i] = keep ? v[i] : 0.0f;
      }
      tu_node t = tu_node_new("Trilu", 14, 2, 1);
      tu_attr_int(&t, "upper", up);
      onyx_tensor *in[2] = {f32(3, d, v), i64(0, NULL, &k)};
      EXPECT_EQ(run(&t, 2, in, 2u), ONYX_DTYPE_FLOAT, 3, d, ref);
    }
  /* ReverseSequence, batch_axis 0, time_axis 1 */
  {
    int64_t d[3] = {3, 4, 2}, ld[1] = {3}, lens[3] = {4, 0, 2};
    float v[24], ref[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i;
    for (int64_t i = 0; i < 24; i++) {
      int64_t c[3];
      unravel(i, 3, d, c);
      if (c[1] < lens[c[0]]) c[1] = lens[c[0]] - 1 - c[1];
      ref[i] = v[ravel(c, 3, d)];
    }
    tu_node t = tu_node_new("ReverseSequence", 10, 2, 1);
    tu_attr_int(&t, "batch_axis", 0);
    tu_attr_int(&t, "time_axis", 1);
    onyx_tensor *in[2] = {f32(3, d, v), i64(1, ld, lens)};
    EXPECT_EQ(run(&t, 2, in, 0), ONYX_DTYPE_FLOAT, 3, d, ref);
  }
  /* Col2Im: columns of a 2x2 block, stride 1, over a 3x3 image, pads 1 on the left */
  {
    int64_t img[2] = {3, 3}, blk[2] = {2, 2}, pads[4] = {0, 1, 0, 0};
    int64_t nbh = (3 - 2) / 1 + 1, nbw = (3 + 1 - 2) / 1 + 1, L = nbh * nbw;
    int64_t xd[3] = {1, 4, L}, od[4] = {1, 1, 3, 3}, two[1] = {2};
    float x[4 * 6], ref[9] = {0};
    for (int i = 0; i < 4 * L; i++) x[i] = (float)(i + 1);
    for (int64_t kp = 0; kp < 4; kp++)
      for (int64_t b = 0; b < L; b++) {
        int64_t y = b / nbw + kp / 2, xx = b % nbw - 1 + kp % 2;
        if (xx >= 0 && xx < 3) ref[y * 3 + xx] += x[kp * L + b];
      }
    tu_node t = tu_node_new("Col2Im", 18, 3, 1);
    tu_attr_ints(&t, "pads", 4, pads);
    onyx_tensor *in[3] = {f32(3, xd, x), i64(1, two, img), i64(1, two, blk)};
    EXPECT_NEAR(run(&t, 3, in, 6u), 4, od, ref, 0);
  }
}

/* ---- load-time inference: constants used, symbols kept, unknowns degrade ---- */

static onyx_value *infer_one(tu_node *t, onyx_status **st) {
  *st = onyx_graph_infer(t->m->graph);
  return &t->m->graph->values[tu_n(t)->out[0]];
}

static void set_sym_input(tu_node *t, int i, int rank, const char *const *syms, const int64_t *dims) {
  tu_input(t, i, ONYX_DTYPE_FLOAT, rank, dims);
  onyx_value *v = &t->m->graph->values[tu_n(t)->in[i]];
  for (int d = 0; d < rank; d++)
    if (syms[d]) onyx_model_symbol(t->m, syms[d], &v->dims[d]);
}

static void test_infer(void) {
  const char *syms[3] = {"batch", NULL, NULL};
  int64_t d[3] = {0, 3, 4};
  int64_t batch;
  /* Reshape [batch,3,4] by constant [0,-1] -> [batch,12] */
  {
    tu_node t = tu_node_new("Reshape", 13, 2, 1);
    set_sym_input(&t, 0, 3, syms, d);
    onyx_model_symbol(t.m, "batch", &batch);
    int64_t sh[2] = {0, -1}, two[1] = {2};
    tu_const(&t, 1, ONYX_DTYPE_INT64, 1, two, sh);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 2 && v->dims[0] == batch && v->dims[1] == 12);
    onyx_model_destroy(t.m);
  }
  /* Reshape by a non-constant shape of length 3: rank known, dims unknown */
  {
    tu_node t = tu_node_new("Reshape", 13, 2, 1);
    set_sym_input(&t, 0, 3, syms, d);
    int64_t three[1] = {3};
    tu_input(&t, 1, ONYX_DTYPE_INT64, 1, three);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 3 && v->dims[0] == ONYX_DIM_UNKNOWN && v->dims[2] == ONYX_DIM_UNKNOWN);
    onyx_model_destroy(t.m);
  }
  /* Transpose keeps the symbol where it moves */
  {
    tu_node t = tu_node_new("Transpose", 13, 1, 1);
    set_sym_input(&t, 0, 3, syms, d);
    onyx_model_symbol(t.m, "batch", &batch);
    int64_t perm[3] = {2, 0, 1};
    tu_attr_ints(&t, "perm", 3, perm);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 3 && v->dims[0] == 4 && v->dims[1] == batch && v->dims[2] == 3);
    onyx_model_destroy(t.m);
  }
  /* Concat along axis 2: symbol kept on axis 0, axis sums */
  {
    tu_node t = tu_node_new("Concat", 13, 2, 1);
    tu_attr_int(&t, "axis", 2);
    set_sym_input(&t, 0, 3, syms, d);
    set_sym_input(&t, 1, 3, syms, d);
    onyx_model_symbol(t.m, "batch", &batch);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 3 && v->dims[0] == batch && v->dims[1] == 3 && v->dims[2] == 8);
    onyx_model_destroy(t.m);
  }
  /* Slice with constant starts/ends on axis 2 keeps the symbolic batch */
  {
    tu_node t = tu_node_new("Slice", 13, 3, 1);
    set_sym_input(&t, 0, 3, syms, d);
    onyx_model_symbol(t.m, "batch", &batch);
    int64_t one[1] = {1}, st[1] = {1}, en[1] = {-1};
    tu_const(&t, 1, ONYX_DTYPE_INT64, 1, one, st);
    tu_const(&t, 2, ONYX_DTYPE_INT64, 1, one, en);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 3 && v->dims[0] == ONYX_DIM_UNKNOWN && v->dims[1] == 3 && v->dims[2] == 4);
    onyx_model_destroy(t.m);
  }
  /* ConstantOfShape / Range / Expand with constant inputs give fixed shapes */
  {
    tu_node t = tu_node_new("Expand", 13, 2, 1);
    set_sym_input(&t, 0, 3, syms, d);
    int64_t four[1] = {4}, sh[4] = {7, 1, 3, 1};
    tu_const(&t, 1, ONYX_DTYPE_INT64, 1, four, sh);
    onyx_model_symbol(t.m, "batch", &batch);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 4 && v->dims[0] == 7 && v->dims[1] == batch && v->dims[2] == 3 && v->dims[3] == 4);
    onyx_model_destroy(t.m);
  }
  {
    tu_node t = tu_node_new("Range", 11, 3, 1);
    int64_t s0 = 5, l = -4, dl = -2, none[1] = {0};
    tu_const(&t, 0, ONYX_DTYPE_INT64, 0, none, &s0);
    tu_const(&t, 1, ONYX_DTYPE_INT64, 0, none, &l);
    tu_const(&t, 2, ONYX_DTYPE_INT64, 0, none, &dl);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 1 && v->dims[0] == 5);
    onyx_model_destroy(t.m);
  }
  /* Resize with constant scales on a symbolic batch: the batch (scale 1) stays */
  {
    tu_node t = tu_node_new("Resize", 13, 3, 1);
    set_sym_input(&t, 0, 3, syms, d);
    onyx_model_symbol(t.m, "batch", &batch);
    int64_t three[1] = {3};
    float sc[3] = {1, 2, 0.5f};
    tu_const(&t, 2, ONYX_DTYPE_FLOAT, 1, three, sc);
    tu_n(&t)->in[1] = -1;
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 3 && v->dims[0] == batch && v->dims[1] == 6 && v->dims[2] == 2);
    onyx_model_destroy(t.m);
  }
  /* NonZero: rank 2, first dim = input rank, second unknown */
  {
    tu_node t = tu_node_new("NonZero", 13, 1, 1);
    set_sym_input(&t, 0, 3, syms, d);
    onyx_status *s;
    onyx_value *v = infer_one(&t, &s);
    CHECK_OK(s);
    CHECK(v->rank == 2 && v->dims[0] == 3 && v->dims[1] == ONYX_DIM_UNKNOWN);
    onyx_model_destroy(t.m);
  }
}

int main(void) {
  test_reshape();
  test_transpose();
  test_concat_split();
  test_slice();
  test_gather();
  test_scatter();
  test_sources();
  test_expand_tile();
  test_pad();
  test_resize();
  test_select();
  test_infer();
  return tu_done("test_tensor");
}
