/* test_exec.c — executor and session API basics on one-node models: running,
 * bad input names/dtypes/ranks, and that errors leave nothing leaked; and
 * the memory_order plan pass on a graph whose given order is wasteful; and
 * in-place reuse of dying inputs by elementwise ops in the planned arena,
 * both checked against a reference computed in double by plain loops. */
#include <math.h>

#include "opt_builder.h"
#include "test_util.h"

/* Two branches off x, each a big intermediate (1 x 4096) reduced to 1 x 4,
 * then joined. In the given order both big values are alive at once; run
 * branch by branch only one is, so the arena holds one 16 KiB value. */
static gb two_branches(void) {
  gb b = gb_new(13);
  int64_t dx[2] = {1, 16}, dw[2] = {16, 4096}, dr[2] = {4096, 4};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, dx);
  gb_const_rand(&b, "wa", 2, dw, 11, 0.5f, 0);
  gb_const_rand(&b, "wb", 2, dw, 12, 0.5f, 0);
  gb_const_rand(&b, "ra", 2, dr, 13, 0.1f, 0);
  gb_const_rand(&b, "rb", 2, dr, 14, 0.1f, 0);
  gb_node(&b, "MatMul", "x,wa", "a1");
  gb_node(&b, "MatMul", "x,wb", "b1");
  gb_node(&b, "MatMul", "a1,ra", "a2");
  gb_node(&b, "MatMul", "b1,rb", "b2");
  gb_node(&b, "Add", "a2,b2", "y");
  gb_output(&b, "y");
  return b;
}

/* ---- an independent reference: plain loops in double over the model's own
 * constants, so the planned and in-place runs are checked against
 * something other than onyx ---- */

static const float *const_of(gb *b, const char *name) {
  return onyx_tensor_data(b->g->values[gb_val(b, name)].init);
}

/* out[n] = a[k] . w[k x n] */
static void ref_matmul(const double *a, const float *w, int k, int n, double *out) {
  for (int j = 0; j < n; j++) {
    double acc = 0;
    for (int i = 0; i < k; i++) acc += a[i] * w[(size_t)i * n + j];
    out[j] = acc;
  }
}

static void ref_input(unsigned seed, double x[16]) {
  float xf[16];
  tu_fill_random(xf, 16, seed);
  for (int i = 0; i < 16; i++) x[i] = xf[i];
}

static bool near_ref(const onyx_tensor *y, const double *ref, int n) {
  if (!y || onyx_tensor_numel(y) != n) return false;
  const float *v = onyx_tensor_data((onyx_tensor *)y);
  for (int i = 0; i < n; i++)
    if (!(fabs(v[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])))) {
      fprintf(stderr, "y[%d] = %.8g, reference %.8g\n", i, v[i], ref[i]);
      return false;
    }
  return true;
}

/* two_branches: y = (x wa) ra + (x wb) rb */
static void two_branches_ref(gb *b, unsigned seed, double y[4]) {
  static double x[16], a1[4096], b1[4096];
  double a2[4], b2[4];
  ref_input(seed, x);
  ref_matmul(x, const_of(b, "wa"), 16, 4096, a1);
  ref_matmul(x, const_of(b, "wb"), 16, 4096, b1);
  ref_matmul(a1, const_of(b, "ra"), 4096, 4, a2);
  ref_matmul(b1, const_of(b, "rb"), 4096, 4, b2);
  for (int j = 0; j < 4; j++) y[j] = a2[j] + b2[j];
}

/* Runs model m (consumed) on cpu at level 0 (no graph pass), with the plan
 * pass `disabled` off (NULL: none), twice on the same x [1, 16] filled from
 * `seed`: y[0] from the first run (heap, no plan), y[1] from the second (the
 * planned arena); *st gets the session's memory figures. */
static void run_cpu_twice(onyx_model *m, const char *disabled, unsigned seed, onyx_tensor *y[2],
                          onyx_session_stats *st) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_optimization_level(o, 0);
  CHECK_OK(onyx_options_set_providers(o, "cpu"));
  if (disabled) CHECK_OK(onyx_options_disable_passes(o, disabled));
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(m, o, &s));
  onyx_options_destroy(o);
  int64_t dx[2] = {1, 16};
  onyx_tensor *x = tu_f32(2, dx, NULL);
  tu_fill_random(onyx_tensor_data(x), 16, seed);
  const char *nm = "x";
  y[0] = y[1] = NULL;
  for (int run = 0; run < 2 && s; run++) CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y[run]));
  memset(st, 0, sizeof *st);
  if (s) onyx_session_stats_get(s, st);
  onyx_tensor_free(x);
  onyx_session_destroy(s);
}

/* two_branches with or without the memory_order pass: the second run's
 * output and the memory figures. */
static void run_two_branches(bool memory_order, onyx_tensor **y, onyx_session_stats *st) {
  onyx_tensor *ys[2];
  gb b = two_branches();
  double ref[4];
  two_branches_ref(&b, 7, ref);
  run_cpu_twice(b.m, memory_order ? NULL : "memory_order", 7, ys, st);
  CHECK(near_ref(ys[0], ref, 4) && near_ref(ys[1], ref, 4));
  onyx_tensor_free(ys[0]);
  *y = ys[1];
}

static void test_memory_order(void) {
  onyx_tensor *y0 = NULL, *y1 = NULL;
  onyx_session_stats s0, s1;
  run_two_branches(false, &y0, &s0);
  run_two_branches(true, &y1, &s1);
  const int64_t big = 4096 * 4;
  /* the given order: a1 and b1 alive together; memory order: one at a time */
  CHECK(s0.arena_bytes >= 2 * big);
  CHECK(s1.arena_bytes >= big && s1.arena_bytes < 2 * big);
  CHECK(s0.peak_activation_bytes >= 2 * big);
  CHECK(s1.peak_activation_bytes < 2 * big);
  if (s1.arena_bytes >= s0.arena_bytes)
    fprintf(stderr, "memory order: arena %lld -> %lld bytes\n", (long long)s0.arena_bytes, (long long)s1.arena_bytes);
  CHECK(y0 && y1 && onyx_tensor_numel(y0) == 4 && onyx_tensor_numel(y1) == 4);
  CHECK(y0 && y1 && !memcmp(onyx_tensor_data(y0), onyx_tensor_data(y1), 4 * sizeof(float)));
  onyx_tensor_free(y0);
  onyx_tensor_free(y1);
  /* an unknown pass name is still refused */
  gb b = two_branches();
  onyx_options *o;
  onyx_options_create(&o);
  CHECK_OK(onyx_options_disable_passes(o, "memory_ordering"));
  onyx_session *s = NULL;
  CHECK_ERR(onyx_session_create_from_model(b.m, o, &s), ONYX_ERR_INVALID_ARGUMENT);
  onyx_options_destroy(o);
}

/* x -> MatMul -> t0 [1,4096] -> Relu -> t1 -> Sigmoid -> t2 -> Add(t2, c)
 * -> t3 -> MatMul -> y [1,4]. Each elementwise op may overwrite its dying
 * input, so t0..t3 share one 16 KiB place; without reuse t0/t1 (and each
 * following pair) are alive together: 32 KiB. The first run (heap, no plan)
 * and the second (planned arena, in place) must agree bit for bit. */
static void test_in_place(void) {
  gb b = gb_new(13);
  int64_t dx[2] = {1, 16}, dw[2] = {16, 4096}, dr[2] = {4096, 4}, dc[2] = {1, 4096};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, dx);
  gb_const_rand(&b, "w", 2, dw, 21, 0.5f, 0);
  gb_const_rand(&b, "r", 2, dr, 22, 0.1f, 0);
  gb_const_rand(&b, "c", 2, dc, 23, 1.0f, 0);
  gb_node(&b, "MatMul", "x,w", "t0");
  gb_node(&b, "Relu", "t0", "t1");
  gb_node(&b, "Sigmoid", "t1", "t2");
  gb_node(&b, "Add", "t2,c", "t3");
  gb_node(&b, "MatMul", "t3,r", "y");
  gb_output(&b, "y");
  /* reference: y = (sigmoid(relu(x w)) + c) r */
  static double x[16], t[4096];
  double ref[4];
  ref_input(9, x);
  ref_matmul(x, const_of(&b, "w"), 16, 4096, t);
  const float *c = const_of(&b, "c");
  for (int i = 0; i < 4096; i++) t[i] = 1 / (1 + exp(-(t[i] > 0 ? t[i] : 0))) + c[i];
  ref_matmul(t, const_of(&b, "r"), 4096, 4, ref);
  onyx_tensor *y[2];
  onyx_session_stats st;
  run_cpu_twice(b.m, NULL, 9, y, &st);
  CHECK(near_ref(y[0], ref, 4) && near_ref(y[1], ref, 4));
  const int64_t big = 4096 * 4;
  CHECK(st.arena_bytes >= big && st.arena_bytes < 2 * big);
  CHECK(y[0] && y[1] && !memcmp(onyx_tensor_data(y[0]), onyx_tensor_data(y[1]), 4 * sizeof(float)));
  onyx_tensor_free(y[0]);
  onyx_tensor_free(y[1]);
}

int main(void) {
  /* Identity: a fed input comes back as a new tensor with the same contents */
  {
    tu_node t = tu_node_new("Identity", 13, 1, 1);
    int64_t d[2] = {2, 3};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    float v[6] = {1, 2, 3, 4, 5, 6};
    onyx_tensor *x = tu_f32(2, d, v), *y = NULL;
    CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
    CHECK(y && onyx_tensor_rank(y) == 2 && onyx_tensor_dims(y)[1] == 3);
    CHECK(y && !memcmp(onyx_tensor_data(y), v, sizeof v));
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
  /* wrong dtype, wrong rank, wrong name */
  {
    int64_t d[2] = {2, 3};
    onyx_tensor *xi, *x1, *y = NULL;
    onyx_tensor_create(ONYX_DTYPE_INT64, 2, d, &xi);
    x1 = tu_f32(1, d, NULL);
    tu_node t = tu_node_new("Identity", 13, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    onyx_session *s;
    CHECK_OK(onyx_session_create_from_model(t.m, NULL, &s));
    const char *nm = "x0", *bad = "nope";
    CHECK_ERR(onyx_session_run(s, 1, &nm, &xi, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_session_run(s, 1, &nm, &x1, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_session_run(s, 1, &bad, &x1, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    /* still usable after errors */
    onyx_tensor *x = tu_f32(2, d, NULL);
    CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
    onyx_tensor_free(y);
    onyx_tensor_free(x);
    onyx_tensor_free(xi);
    onyx_tensor_free(x1);
    onyx_session_destroy(s);
  }
  /* unknown operator is NOT_IMPLEMENTED at creation */
  {
    tu_node t = tu_node_new("NoSuchOp", 13, 1, 1);
    int64_t d[1] = {2};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 1, d);
    onyx_session *s = NULL;
    CHECK_ERR(onyx_session_create_from_model(t.m, NULL, &s), ONYX_ERR_NOT_IMPLEMENTED);
  }
  test_memory_order();
  test_in_place();
  return tu_done("test_exec");
}
