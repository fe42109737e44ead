/* test_elementwise.c — the cpu elementwise kernels against an independent
 * scalar reference (libm in double precision, broadcasting by unravelled
 * indices) on random data: unary math and activations, binary ops with
 * broadcasting shapes, integer semantics (wrap, truncating division, Mod),
 * variadic ops past the kernel's group size, Where, Cast (incl. float16,
 * bfloat16, strings), Pow, Clip, predicates, threading on large tensors,
 * and error cases (bad shapes, dtypes). */
#include <float.h>

#include "base/half.h"
#include "base/tensor.h"
#include "test_util.h"

/* ---- tensors and running ------------------------------------------------------- */

static bool is_int(onyx_dtype dt) {
  return dt != ONYX_DTYPE_FLOAT && dt != ONYX_DTYPE_DOUBLE && dt != ONYX_DTYPE_FLOAT16 &&
         dt != ONYX_DTYPE_BFLOAT16;
}

/* Random tensor with values in [lo, hi) (integers: rounded down). */
static onyx_tensor *rnd(onyx_dtype dt, int rank, const int64_t *dims, unsigned seed, double lo, double hi) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  int64_t n = onyx_numel(rank, dims);
  float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
  tu_fill_random(f, (size_t)n, seed);
  for (int64_t i = 0; i < n; i++) {
    double v = lo + (f[i] + 1.0) / 2.0 * (hi - lo);
    onyx_tensor_set_f64(t, i, is_int(dt) ? floor(v) : v);
  }
  free(f);
  return t;
}

static onyx_tensor *vals(onyx_dtype dt, int rank, const int64_t *dims, const double *v) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  for (int64_t i = 0; i < onyx_numel(rank, dims); i++) onyx_tensor_set_f64(t, i, v[i]);
  return t;
}

/* Declares the inputs of t as fed with the tensors' types and runs it. */
static onyx_status *run_node(tu_node *t, int threads, int n_in, onyx_tensor **in, onyx_tensor **out) {
  for (int i = 0; i < n_in; i++) tu_input(t, i, in[i]->dtype, in[i]->rank, in[i]->dims);
  *out = NULL;
  return tu_run(t, threads, n_in, in, 1, out);
}

static void free_all(int n, onyx_tensor **t) {
  for (int i = 0; i < n; i++) onyx_tensor_free(t[i]);
}

/* Offset in `t` of output element `flat` of shape (r, dims) under numpy broadcasting. */
static int64_t bcast_offset(const onyx_tensor *t, int r, const int64_t *dims, int64_t flat) {
  int64_t off = 0, mul = 1;
  for (int d = r - 1; d >= 0; d--) {
    int64_t i = flat % dims[d];
    flat /= dims[d];
    int dt = d - (r - t->rank);
    if (dt < 0) continue;
    if (t->dims[dt] != 1) off += i * mul;
    mul *= t->dims[dt];
  }
  return off;
}

/* |got - want| <= tol * max(1, |want|), NaN matching NaN, inf matching inf. */
static bool close_to(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

typedef double (*ref1)(double);
typedef double (*ref2)(double, double);

/* Compares out against f(inputs) elementwise; reports the first mismatch. */
static void check_out(const char *what, const onyx_tensor *y, int n_in, onyx_tensor **in, ref2 f2, ref1 f1,
                      double tol) {
  CHECK(y != NULL);
  if (!y) return;
  int64_t n = onyx_numel(y->rank, y->dims);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 1; i++) {
    double a = onyx_tensor_get_f64(in[0], bcast_offset(in[0], y->rank, y->dims, i));
    double want = n_in == 1 ? f1(a) : f2(a, onyx_tensor_get_f64(in[1], bcast_offset(in[1], y->rank, y->dims, i)));
    double got = onyx_tensor_get_f64(y, i);
    if (y->dtype == ONYX_DTYPE_FLOAT) want = (float)want; /* the best a float can hold (inf past FLT_MAX) */
    if (!close_to(got, want, tol)) {
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g\n", what, (long long)i, got, want);
      bad++;
    }
  }
  CHECK(bad == 0);
}

/* ---- references ------------------------------------------------------------------ */

static double r_abs(double x) { return fabs(x); }
static double r_neg(double x) { return -x; }
static double r_exp(double x) { return exp(x); }
static double r_log(double x) { return log(x); }
static double r_sqrt(double x) { return sqrt(x); }
static double r_recip(double x) { return 1.0 / x; }
static double r_floor(double x) { return floor(x); }
static double r_ceil(double x) { return ceil(x); }
static double r_round(double x) { /* half to even, written out */
  double f = floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return fmod(f, 2.0) == 0 ? f : f + 1;
}
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double r_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_softplus(double x) { return x > 30 ? x : log(1.0 + exp(x)); }
static double r_softsign(double x) { return x / (1.0 + fabs(x)); }
static double r_mish(double x) { return x * tanh(r_softplus(x)); }
static double r_hardswish(double x) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_leaky(double x) { return x < 0 ? 0.1 * x : x; }
static double r_elu(double x) { return x < 0 ? 0.5 * (exp(x) - 1) : x; }
static double r_selu(double x) {
  const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  return x <= 0 ? g * (a * exp(x) - a) : g * x;
}
static double r_celu(double x) { return fmax(0, x) + fmin(0, 2.0 * (exp(x / 2.0) - 1)); }
static double r_hardsigmoid(double x) { return fmax(0, fmin(1, 0.2 * x + 0.5)); }
static double r_thresh(double x) { return x > 0.3 ? x : 0; }
static double r_shrink(double x) { return x < -0.5 ? x + 0.25 : x > 0.5 ? x - 0.25 : 0; }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x) {
  return 0.5 * x * (1 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_idiv(double a, double b) { return b == 0 ? 0 : trunc(a / b); }
static double r_pow(double a, double b) { return pow(a, b); }
static double r_pow_trunc(double a, double b) { return trunc(pow(a, b)); }
static double r_max(double a, double b) { return a > b ? a : b; }
static double r_min(double a, double b) { return a < b ? a : b; }
static double r_prelu(double a, double b) { return a < 0 ? a * b : a; }
static double r_lt(double a, double b) { return a < b; }
static double r_le(double a, double b) { return a <= b; }
static double r_gt(double a, double b) { return a > b; }
static double r_ge(double a, double b) { return a >= b; }
static double r_eq(double a, double b) { return a == b; }
static double r_fmod(double a, double b) { return fmod(a, b); }
static double r_pymod(double a, double b) { return a - floor(a / b) * b; }
static double r_and(double a, double b) { return a != 0 && b != 0; }
static double r_or(double a, double b) { return a != 0 || b != 0; }
static double r_xor(double a, double b) { return (a != 0) != (b != 0); }

/* ---- tests ------------------------------------------------------------------------- */

typedef struct unary_case {
  const char *op;
  ref1 ref;
  double lo, hi, tol;
} unary_case;

static void test_unary_f32(void) {
  static const unary_case cases[] = {
      {"Abs", r_abs, -3, 3, 0},          {"Neg", r_neg, -3, 3, 0},
      {"Exp", r_exp, -5, 5, 1e-6},       {"Log", r_log, 0.01, 10, 1e-6},
      {"Sqrt", r_sqrt, 0, 10, 1e-6},     {"Reciprocal", r_recip, 0.1, 10, 1e-6},
      {"Floor", r_floor, -5, 5, 0},      {"Ceil", r_ceil, -5, 5, 0},
      {"Round", r_round, -5, 5, 0},      {"Sign", r_sign, -2, 2, 0},
      {"Erf", erf, -3, 3, 1e-6},         {"Sin", sin, -6, 6, 1e-6},
      {"Cos", cos, -6, 6, 1e-6},         {"Tan", tan, -1.4, 1.4, 1e-5},
      {"Asin", asin, -1, 1, 1e-6},       {"Acos", acos, -1, 1, 1e-6},
      {"Atan", atan, -5, 5, 1e-6},       {"Sinh", sinh, -3, 3, 1e-6},
      {"Cosh", cosh, -3, 3, 1e-6},       {"Asinh", asinh, -5, 5, 1e-6},
      {"Acosh", acosh, 1, 6, 1e-6},      {"Atanh", atanh, -0.99, 0.99, 1e-5},
      {"Relu", r_relu, -3, 3, 0},        {"Sigmoid", r_sigmoid, -8, 8, 1e-6},
      {"Tanh", tanh, -4, 4, 1e-6},       {"Softplus", r_softplus, -50, 50, 1e-6},
      {"Softsign", r_softsign, -5, 5, 1e-6}, {"Mish", r_mish, -6, 6, 1e-5},
      {"HardSwish", r_hardswish, -5, 5, 1e-6},
  };
  int64_t d[2] = {7, 13};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const unary_case *uc = &cases[k];
    onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 2, d, (unsigned)k + 1, uc->lo, uc->hi), *y;
    if (!strcmp(uc->op, "Round")) { /* exact halves must round to even */
      ((float *)x->data)[0] = 2.5f;
      ((float *)x->data)[1] = -0.5f;
      ((float *)x->data)[2] = 1.5f;
    }
    /* opset 13, or the opset that introduced the op */
    int opset = !strcmp(uc->op, "Mish") ? 18 : !strcmp(uc->op, "HardSwish") ? 14 : 13;
    tu_node t = tu_node_new(uc->op, opset, 1, 1);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    check_out(uc->op, y, 1, &x, NULL, uc->ref, uc->tol + 1e-7);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

/* Exp, Sigmoid and Tanh have their own float32 code (vmath.h rows): edge
 * values in both the vector body and the tail. */
static void test_fast_f32_edges(void) {
  static const double v[27] = {NAN,  INFINITY, -INFINITY, 0,    -0.0, 1e-5, -1e-5, 3e-4, 1e-3,
                               88.7, 88.75,    89,        -87,  -88,  -100, -104,  -110, 7.9,
                               8,    -9,       20,        -20,  0.5,  -0.5, 1e-30, 2.5,  -3.75};
  const char *ops[3] = {"Exp", "Sigmoid", "Tanh"};
  ref1 refs[3] = {r_exp, r_sigmoid, tanh};
  for (int start = 0; start < 3; start++) /* shift values between body and tail */
    for (int o = 0; o < 3; o++) {
      int64_t d[1] = {27 - start};
      onyx_tensor *x = vals(ONYX_DTYPE_FLOAT, 1, d, v + start), *y;
      tu_node t = tu_node_new(ops[o], 13, 1, 1);
      CHECK_OK(run_node(&t, 1, 1, &x, &y));
      check_out(ops[o], y, 1, &x, NULL, refs[o], 1e-6);
      onyx_tensor_free(x);
      onyx_tensor_free(y);
    }
}

typedef struct attr_case {
  const char *op;
  const char *attr1;
  float v1;
  const char *attr2;
  float v2;
  ref1 ref;
} attr_case;

static void test_activations(void) {
  static const attr_case cases[] = {
      {"LeakyRelu", "alpha", 0.1f, NULL, 0, r_leaky},
      {"Elu", "alpha", 0.5f, NULL, 0, r_elu},
      {"Selu", NULL, 0, NULL, 0, r_selu},
      {"Celu", "alpha", 2.0f, NULL, 0, r_celu},
      {"HardSigmoid", NULL, 0, NULL, 0, r_hardsigmoid},
      {"ThresholdedRelu", "alpha", 0.3f, NULL, 0, r_thresh},
      {"Shrink", "lambd", 0.5f, "bias", 0.25f, r_shrink},
      {"Gelu", NULL, 0, NULL, 0, r_gelu},
  };
  int64_t d[1] = {101};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const attr_case *ac = &cases[k];
    onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 1, d, 100 + (unsigned)k, -4, 4), *y;
    tu_node t = tu_node_new(ac->op, 20, 1, 1);
    if (ac->attr1) tu_attr_float(&t, ac->attr1, ac->v1);
    if (ac->attr2) tu_attr_float(&t, ac->attr2, ac->v2);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    check_out(ac->op, y, 1, &x, NULL, ac->ref, 1e-6);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
  /* Gelu tanh approximation; a bad 'approximate' is refused at creation */
  {
    onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 1, d, 7, -4, 4), *y;
    tu_node t = tu_node_new("Gelu", 20, 1, 1);
    tu_attr_string(&t, "approximate", "tanh");
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    check_out("Gelu tanh", y, 1, &x, NULL, r_gelu_tanh, 1e-6);
    onyx_tensor_free(y);
    tu_node u = tu_node_new("Gelu", 20, 1, 1);
    tu_attr_string(&u, "approximate", "cubic");
    CHECK_ERR(run_node(&u, 1, 1, &x, &y), ONYX_ERR_INVALID_ARGUMENT);
    onyx_tensor_free(x);
  }
}

/* Unary ops on float16, bfloat16 and float64 compute as in float32/64. */
static void test_unary_dtypes(void) {
  int64_t d[1] = {50};
  onyx_dtype dts[3] = {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_DOUBLE};
  double tols[3] = {1e-3, 8e-3, 1e-12};
  for (int k = 0; k < 3; k++) {
    onyx_tensor *x = rnd(dts[k], 1, d, 3, -4, 4), *y;
    tu_node t = tu_node_new("Sigmoid", 13, 1, 1);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    CHECK(y && y->dtype == dts[k]);
    check_out("Sigmoid dtypes", y, 1, &x, NULL, r_sigmoid, tols[k]);
    onyx_tensor_free(y);
    tu_node u = tu_node_new("Exp", 13, 1, 1);
    CHECK_OK(run_node(&u, 1, 1, &x, &y));
    check_out("Exp dtypes", y, 1, &x, NULL, r_exp, tols[k]);
    onyx_tensor_free(y);
    onyx_tensor_free(x);
  }
  /* integer Abs / Neg / Sign / Relu, including INT8_MIN wrapping */
  onyx_dtype ints[4] = {ONYX_DTYPE_INT8, ONYX_DTYPE_INT16, ONYX_DTYPE_INT32, ONYX_DTYPE_INT64};
  const char *ops[4] = {"Abs", "Neg", "Sign", "Relu"};
  ref1 refs[4] = {r_abs, r_neg, r_sign, r_relu};
  for (int k = 0; k < 4; k++)
    for (int o = 0; o < 4; o++) {
      onyx_tensor *x = rnd(ints[k], 1, d, 11, -100, 100), *y;
      tu_node t = tu_node_new(ops[o], 14, 1, 1);
      CHECK_OK(run_node(&t, 1, 1, &x, &y));
      check_out(ops[o], y, 1, &x, NULL, refs[o], 0);
      onyx_tensor_free(x);
      onyx_tensor_free(y);
    }
  {
    int64_t d2[1] = {2};
    double v[2] = {-128, 5};
    onyx_tensor *x = vals(ONYX_DTYPE_INT8, 1, d2, v), *y;
    tu_node t = tu_node_new("Abs", 13, 1, 1);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    CHECK(y && ((int8_t *)y->data)[0] == -128 && ((int8_t *)y->data)[1] == 5);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
  /* Not and BitwiseNot */
  {
    int64_t d3[1] = {3};
    double v[3] = {0, 1, 0};
    onyx_tensor *x = vals(ONYX_DTYPE_BOOL, 1, d3, v), *y;
    tu_node t = tu_node_new("Not", 13, 1, 1);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    CHECK(y && y->dtype == ONYX_DTYPE_BOOL && !memcmp(y->data, "\1\0\1", 3));
    onyx_tensor_free(x);
    onyx_tensor_free(y);
    double w[3] = {0, 5, 255};
    x = vals(ONYX_DTYPE_UINT8, 1, d3, w);
    tu_node u = tu_node_new("BitwiseNot", 18, 1, 1);
    CHECK_OK(run_node(&u, 1, 1, &x, &y));
    CHECK(y && !memcmp(y->data, "\xff\xfa\0", 3));
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_predicates(void) {
  int64_t d[1] = {5};
  double v[5] = {1, NAN, INFINITY, -INFINITY, 0};
  onyx_tensor *x = vals(ONYX_DTYPE_FLOAT, 1, d, v), *y;
  tu_node t = tu_node_new("IsNaN", 13, 1, 1);
  CHECK_OK(run_node(&t, 1, 1, &x, &y));
  CHECK(y && y->dtype == ONYX_DTYPE_BOOL && !memcmp(y->data, "\0\1\0\0\0", 5));
  onyx_tensor_free(y);
  tu_node u = tu_node_new("IsInf", 10, 1, 1);
  CHECK_OK(run_node(&u, 1, 1, &x, &y));
  CHECK(y && !memcmp(y->data, "\0\0\1\1\0", 5));
  onyx_tensor_free(y);
  tu_node w = tu_node_new("IsInf", 10, 1, 1);
  tu_attr_int(&w, "detect_positive", 0);
  CHECK_OK(run_node(&w, 1, 1, &x, &y));
  CHECK(y && !memcmp(y->data, "\0\0\0\1\0", 5));
  onyx_tensor_free(y);
  onyx_tensor_free(x);
}

typedef struct shape_pair {
  int ra;
  int64_t a[4];
  int rb;
  int64_t b[4];
} shape_pair;

static const shape_pair shapes[] = {
    {3, {2, 3, 4}, 3, {2, 3, 4}}, {3, {2, 3, 4}, 1, {4}},    {3, {2, 1, 4}, 2, {3, 1}},
    {0, {0}, 2, {3, 5}},          {2, {3, 5}, 0, {0}},       {4, {2, 3, 1, 5}, 3, {1, 4, 1}},
    {2, {4, 1}, 2, {1, 6}},       {3, {2, 3, 4}, 3, {2, 1, 4}}, {1, {1}, 1, {1}},
    {2, {0, 3}, 1, {3}},
};

static void test_binary_f32(void) {
  const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu"};
  ref2 refs[] = {r_add, r_sub, r_mul, r_div, r_max, r_min, r_pow, r_prelu};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      const shape_pair *sp = &shapes[s];
      bool pow = !strcmp(ops[o], "Pow");
      onyx_tensor *in[2] = {rnd(ONYX_DTYPE_FLOAT, sp->ra, sp->a, 17 + (unsigned)s, pow ? 0.1 : -3, 3),
                            rnd(ONYX_DTYPE_FLOAT, sp->rb, sp->b, 91 + (unsigned)s, -3, 3)};
      if (!strcmp(ops[o], "Div")) /* keep divisors away from 0 */
        for (int64_t i = 0; i < onyx_tensor_numel(in[1]); i++) ((float *)in[1]->data)[i] += 4.0f;
      onyx_tensor *y;
      tu_node t = tu_node_new(ops[o], 13, 2, 1);
      CHECK_OK(run_node(&t, 1, 2, in, &y));
      char what[64];
      snprintf(what, sizeof what, "%s shape %zu", ops[o], s);
      check_out(what, y, 2, in, refs[o], NULL, 1e-6);
      free_all(2, in);
      onyx_tensor_free(y);
    }
}

/* Large tensors on several threads: same-shape, row broadcast, column broadcast. */
static void test_large_threaded(void) {
  int64_t a[2] = {257, 1031}, row[1] = {1031}, col[2] = {257, 1};
  const int64_t *bs[3] = {a, row, col};
  int rbs[3] = {2, 1, 2};
  for (int k = 0; k < 3; k++) {
    onyx_tensor *in[2] = {rnd(ONYX_DTYPE_FLOAT, 2, a, 5, -2, 2), rnd(ONYX_DTYPE_FLOAT, rbs[k], bs[k], 6, -2, 2)};
    onyx_tensor *y;
    tu_node t = tu_node_new("Mul", 13, 2, 1);
    CHECK_OK(run_node(&t, 4, 2, in, &y));
    check_out("Mul threaded", y, 2, in, r_mul, NULL, 1e-7);
    onyx_tensor_free(y);
    /* output broadcast from the second operand: [1031] - [257,1031] */
    onyx_tensor *sw[2] = {in[1], in[0]};
    tu_node u = tu_node_new("Sub", 13, 2, 1);
    CHECK_OK(run_node(&u, 4, 2, sw, &y));
    check_out("Sub threaded", y, 2, sw, r_sub, NULL, 1e-7);
    onyx_tensor_free(y);
    free_all(2, in);
  }
  onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 2, a, 8, -3, 3), *y;
  tu_node t = tu_node_new("Tanh", 13, 1, 1);
  CHECK_OK(run_node(&t, 3, 1, &x, &y));
  check_out("Tanh threaded", y, 1, &x, NULL, tanh, 1e-6);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
}

static void test_binary_dtypes(void) {
  onyx_dtype all[] = {ONYX_DTYPE_DOUBLE, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_INT8,
                      ONYX_DTYPE_INT16,  ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,    ONYX_DTYPE_UINT8,
                      ONYX_DTYPE_UINT16, ONYX_DTYPE_UINT32,  ONYX_DTYPE_UINT64};
  const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Less", "GreaterOrEqual", "Equal"};
  ref2 refs[] = {r_add, r_sub, r_mul, r_div, r_max, r_lt, r_ge, r_eq};
  int64_t a[2] = {3, 4}, b[1] = {4};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
      onyx_dtype dt = all[k];
      bool uns = dt >= ONYX_DTYPE_UINT32 || dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_UINT16;
      bool sub = !strcmp(ops[o], "Sub"), div = !strcmp(ops[o], "Div");
      /* unsigned Sub: keep a >= b; Div: nonzero divisors */
      onyx_tensor *in[2] = {rnd(dt, 2, a, 3, uns ? (sub ? 10 : 0) : -10, uns && sub ? 20 : 10),
                            rnd(dt, 1, b, 4, div ? 1 : (uns ? 0 : -10), uns && sub ? 10 : div ? 9 : 10)};
      onyx_tensor *y;
      tu_node t = tu_node_new(ops[o], 14, 2, 1);
      CHECK_OK(run_node(&t, 1, 2, in, &y));
      char what[64];
      snprintf(what, sizeof what, "%s %s", ops[o], onyx_dtype_name(dt));
      bool half = dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16;
      check_out(what, y, 2, in, div && is_int(dt) ? r_idiv : refs[o], NULL, half ? 1e-2 : 1e-12);
      free_all(2, in);
      onyx_tensor_free(y);
    }
}

static void test_integer_semantics(void) {
  int64_t d[1] = {6};
  /* Div truncates toward zero; divisor 0 gives 0; INT_MIN / -1 wraps */
  {
    double a[6] = {7, -7, 7, -7, 5, -2147483648.0}, b[6] = {2, 2, -2, -2, 0, -1};
    onyx_tensor *in[2] = {vals(ONYX_DTYPE_INT32, 1, d, a), vals(ONYX_DTYPE_INT32, 1, d, b)}, *y;
    tu_node t = tu_node_new("Div", 14, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    const int32_t want[6] = {3, -3, -3, 3, 0, INT32_MIN};
    CHECK(y && !memcmp(y->data, want, sizeof want));
    free_all(2, in);
    onyx_tensor_free(y);
  }
  /* Mod: fmod=0 follows the divisor's sign, fmod=1 the dividend's */
  onyx_dtype dts[3] = {ONYX_DTYPE_INT64, ONYX_DTYPE_INT8, ONYX_DTYPE_FLOAT};
  for (int k = 0; k < 3; k++)
    for (int fm = 0; fm < 2; fm++) {
      double a[6] = {7, -7, 7, -7, 9, -3}, b[6] = {3, 3, -3, -3, 4, 5};
      onyx_tensor *in[2] = {vals(dts[k], 1, d, a), vals(dts[k], 1, d, b)}, *y;
      tu_node t = tu_node_new("Mod", 13, 2, 1);
      tu_attr_int(&t, "fmod", fm);
      CHECK_OK(run_node(&t, 1, 2, in, &y));
      check_out(fm ? "Mod fmod" : "Mod", y, 2, in, fm ? r_fmod : r_pymod, NULL, 1e-6);
      free_all(2, in);
      onyx_tensor_free(y);
    }
  /* int8 Add wraps */
  {
    double a[6] = {127, -128, 100, 1, 2, 3}, b[6] = {1, -1, 100, 1, 2, 3};
    onyx_tensor *in[2] = {vals(ONYX_DTYPE_INT8, 1, d, a), vals(ONYX_DTYPE_INT8, 1, d, b)}, *y;
    tu_node t = tu_node_new("Add", 14, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    const int8_t want[6] = {-128, 127, -56, 2, 4, 6};
    CHECK(y && !memcmp(y->data, want, sizeof want));
    free_all(2, in);
    onyx_tensor_free(y);
  }
  /* BitShift on uint16 and uint64, both directions */
  {
    double a[6] = {1, 2, 0x8000, 7, 1, 255}, b[6] = {1, 3, 1, 0, 15, 4};
    for (int left = 0; left < 2; left++) {
      onyx_tensor *in[2] = {vals(ONYX_DTYPE_UINT16, 1, d, a), vals(ONYX_DTYPE_UINT16, 1, d, b)}, *y;
      tu_node t = tu_node_new("BitShift", 11, 2, 1);
      tu_attr_string(&t, "direction", left ? "LEFT" : "RIGHT");
      CHECK_OK(run_node(&t, 1, 2, in, &y));
      bool ok = y != NULL;
      for (int i = 0; ok && i < 6; i++) {
        uint16_t x = (uint16_t)a[i], s = (uint16_t)b[i];
        ok = ((uint16_t *)y->data)[i] == (uint16_t)(left ? (uint32_t)x << s : (uint32_t)x >> s);
      }
      CHECK(ok);
      free_all(2, in);
      onyx_tensor_free(y);
    }
  }
  /* bitwise ops on int32 against C's operators */
  {
    const char *ops[3] = {"BitwiseAnd", "BitwiseOr", "BitwiseXor"};
    int64_t s2[2] = {4, 6};
    for (int o = 0; o < 3; o++) {
      onyx_tensor *in[2] = {rnd(ONYX_DTYPE_INT32, 2, s2, 1, -1000, 1000), rnd(ONYX_DTYPE_INT32, 1, d, 2, -1000, 1000)};
      onyx_tensor *y;
      tu_node t = tu_node_new(ops[o], 18, 2, 1);
      CHECK_OK(run_node(&t, 1, 2, in, &y));
      bool ok = y != NULL;
      for (int i = 0; ok && i < 24; i++) {
        int32_t x = ((int32_t *)in[0]->data)[i], z = ((int32_t *)in[1]->data)[i % 6];
        ok = ((int32_t *)y->data)[i] == (o == 0 ? (x & z) : o == 1 ? (x | z) : (x ^ z));
      }
      CHECK(ok);
      free_all(2, in);
      onyx_tensor_free(y);
    }
  }
}

static void test_logic_compare(void) {
  const char *ops[] = {"And", "Or", "Xor"};
  ref2 refs[] = {r_and, r_or, r_xor};
  int64_t a[3] = {2, 3, 4}, b[2] = {3, 1};
  for (int o = 0; o < 3; o++) {
    onyx_tensor *in[2] = {rnd(ONYX_DTYPE_BOOL, 3, a, 1, -1, 1), rnd(ONYX_DTYPE_BOOL, 2, b, 2, -1, 1)}, *y;
    tu_node t = tu_node_new(ops[o], 7, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    CHECK(y && y->dtype == ONYX_DTYPE_BOOL);
    check_out(ops[o], y, 2, in, refs[o], NULL, 0);
    free_all(2, in);
    onyx_tensor_free(y);
  }
  const char *cmp[] = {"Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal"};
  ref2 crefs[] = {r_lt, r_le, r_gt, r_ge, r_eq};
  for (int o = 0; o < 5; o++) {
    onyx_tensor *in[2] = {rnd(ONYX_DTYPE_INT64, 3, a, 1, -3, 3), rnd(ONYX_DTYPE_INT64, 2, b, 2, -3, 3)}, *y;
    tu_node t = tu_node_new(cmp[o], 16, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    CHECK(y && y->dtype == ONYX_DTYPE_BOOL);
    check_out(cmp[o], y, 2, in, crefs[o], NULL, 0);
    free_all(2, in);
    onyx_tensor_free(y);
  }
  /* Equal on strings */
  {
    int64_t d[1] = {3};
    onyx_tensor *in[2];
    onyx_tensor_create(ONYX_DTYPE_STRING, 1, d, &in[0]);
    onyx_tensor_create(ONYX_DTYPE_STRING, 1, d, &in[1]);
    const char *sa[3] = {"a", "bb", ""}, *sb[3] = {"a", "b", ""};
    for (int i = 0; i < 3; i++) {
      ((char **)in[0]->data)[i] = strdup(sa[i]);
      ((char **)in[1]->data)[i] = strdup(sb[i]);
    }
    onyx_tensor *y;
    tu_node t = tu_node_new("Equal", 19, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    CHECK(y && !memcmp(y->data, "\1\0\1", 3));
    free_all(2, in);
    onyx_tensor_free(y);
  }
}

/* Sum/Mean/Max/Min with 1, 3 and 11 broadcast inputs (11 > the kernel's group of 8). */
static void test_variadic(void) {
  const char *ops[] = {"Sum", "Mean", "Max", "Min"};
  int counts[3] = {1, 3, 11};
  int64_t shp[4][3] = {{2, 3, 4}, {4, 0, 0}, {3, 1, 0}, {1, 1, 1}};
  int rk[4] = {3, 1, 2, 3};
  for (int o = 0; o < 4; o++)
    for (int ci = 0; ci < 3; ci++) {
      int n = counts[ci];
      onyx_tensor *in[11];
      for (int k = 0; k < n; k++) in[k] = rnd(ONYX_DTYPE_FLOAT, rk[k % 4], shp[k % 4], 30 + (unsigned)k, -5, 5);
      onyx_tensor *y;
      tu_node t = tu_node_new(ops[o], 13, n, 1);
      CHECK_OK(run_node(&t, 2, n, in, &y));
      CHECK(y && y->rank == 3 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[2] == 4);
      bool ok = y != NULL;
      for (int64_t i = 0; ok && i < 24; i++) {
        double acc = 0;
        for (int k = 0; k < n; k++) {
          double v = ((float *)in[k]->data)[bcast_offset(in[k], 3, y->dims, i)];
          if (k == 0) acc = v;
          else if (o <= 1) acc += v;
          else if (o == 2) acc = fmax(acc, v);
          else acc = fmin(acc, v);
        }
        if (o == 1) acc /= n;
        ok = close_to(((float *)y->data)[i], acc, 1e-5);
        if (!ok) fprintf(stderr, "%s x%d: element %lld\n", ops[o], n, (long long)i);
      }
      CHECK(ok);
      free_all(n, in);
      onyx_tensor_free(y);
    }
  /* Max on int32 and NaN propagation on float */
  {
    int64_t d[1] = {3};
    double a[3] = {1, NAN, 3}, b[3] = {NAN, 2, 1};
    onyx_tensor *in[2] = {vals(ONYX_DTYPE_FLOAT, 1, d, a), vals(ONYX_DTYPE_FLOAT, 1, d, b)}, *y;
    tu_node t = tu_node_new("Max", 13, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    CHECK(y && isnan(((float *)y->data)[0]) && isnan(((float *)y->data)[1]) && ((float *)y->data)[2] == 3);
    free_all(2, in);
    onyx_tensor_free(y);
  }
}

static void test_where(void) {
  int64_t c[3] = {2, 1, 4}, x[2] = {3, 1}, z[1] = {4};
  onyx_dtype dts[3] = {ONYX_DTYPE_FLOAT, ONYX_DTYPE_INT64, ONYX_DTYPE_UINT8};
  for (int k = 0; k < 3; k++) {
    onyx_tensor *in[3] = {rnd(ONYX_DTYPE_BOOL, 3, c, 1, -1, 1), rnd(dts[k], 2, x, 2, 0, 100),
                          rnd(dts[k], 1, z, 3, 0, 100)};
    onyx_tensor *y;
    tu_node t = tu_node_new("Where", 16, 3, 1);
    CHECK_OK(run_node(&t, 1, 3, in, &y));
    CHECK(y && y->rank == 3 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[2] == 4 && y->dtype == dts[k]);
    bool ok = y != NULL;
    for (int64_t i = 0; ok && i < 24; i++) {
      bool m = ((uint8_t *)in[0]->data)[bcast_offset(in[0], 3, y->dims, i)];
      double want = m ? onyx_tensor_get_f64(in[1], bcast_offset(in[1], 3, y->dims, i))
                      : onyx_tensor_get_f64(in[2], bcast_offset(in[2], 3, y->dims, i));
      ok = onyx_tensor_get_f64(y, i) == want;
    }
    CHECK(ok);
    free_all(3, in);
    onyx_tensor_free(y);
  }
  /* strings */
  {
    int64_t d[1] = {2};
    onyx_tensor *in[3];
    double m[2] = {1, 0};
    in[0] = vals(ONYX_DTYPE_BOOL, 1, d, m);
    onyx_tensor_create(ONYX_DTYPE_STRING, 1, d, &in[1]);
    onyx_tensor_create(ONYX_DTYPE_STRING, 0, d, &in[2]);
    ((char **)in[1]->data)[0] = strdup("yes");
    ((char **)in[1]->data)[1] = strdup("yes2");
    ((char **)in[2]->data)[0] = strdup("no");
    onyx_tensor *y;
    tu_node t = tu_node_new("Where", 16, 3, 1);
    CHECK_OK(run_node(&t, 1, 3, in, &y));
    CHECK(y && !strcmp(((char **)y->data)[0], "yes") && !strcmp(((char **)y->data)[1], "no"));
    free_all(3, in);
    onyx_tensor_free(y);
  }
}

static double r_id(double x) { return x; }
static double r_f16(double x) { return onyx_f16_to_f32(onyx_f32_to_f16((float)x)); }
static double r_bf16(double x) { return onyx_bf16_to_f32(onyx_f32_to_bf16((float)x)); }
static double r_trunc(double x) { return trunc(x); }
static double r_bool(double x) { return x != 0; }

static void test_cast(void) {
  typedef struct {
    onyx_dtype from, to;
    ref1 ref;
  } cast_case;
  static const cast_case cases[] = {
      {ONYX_DTYPE_FLOAT, ONYX_DTYPE_FLOAT16, r_f16},  {ONYX_DTYPE_FLOAT, ONYX_DTYPE_BFLOAT16, r_bf16},
      {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT, r_id},   {ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_DOUBLE, r_id},
      {ONYX_DTYPE_DOUBLE, ONYX_DTYPE_FLOAT16, r_f16}, {ONYX_DTYPE_FLOAT, ONYX_DTYPE_INT32, r_trunc},
      {ONYX_DTYPE_DOUBLE, ONYX_DTYPE_INT8, r_trunc},  {ONYX_DTYPE_INT64, ONYX_DTYPE_FLOAT, r_id},
      {ONYX_DTYPE_INT16, ONYX_DTYPE_UINT64, r_id},    {ONYX_DTYPE_FLOAT, ONYX_DTYPE_BOOL, r_bool},
      {ONYX_DTYPE_BOOL, ONYX_DTYPE_FLOAT, r_id},      {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, r_bf16},
      {ONYX_DTYPE_UINT8, ONYX_DTYPE_INT64, r_id},
  };
  int64_t d[2] = {3, 7};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const cast_case *cc = &cases[k];
    bool to_unsigned = cc->to == ONYX_DTYPE_UINT64;
    onyx_tensor *x = rnd(cc->from, 2, d, 40 + (unsigned)k, to_unsigned || cc->from == ONYX_DTYPE_UINT8 ? 0 : -100,
                         100), *y;
    if (cc->to == ONYX_DTYPE_BOOL) onyx_tensor_set_f64(x, 0, 0.0);
    tu_node t = tu_node_new("Cast", 13, 1, 1);
    tu_attr_int(&t, "to", cc->to);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    CHECK(y && y->dtype == cc->to);
    char what[64];
    snprintf(what, sizeof what, "Cast %s->%s", onyx_dtype_name(cc->from), onyx_dtype_name(cc->to));
    check_out(what, y, 1, &x, NULL, cc->ref, 0);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
  /* float -> string -> float round-trips exactly; specials print as NaN/INF */
  {
    int64_t n[1] = {6};
    double v[6] = {0.1, -3.25, 1e-7, 123456789.0, NAN, -INFINITY};
    onyx_tensor *x = vals(ONYX_DTYPE_FLOAT, 1, n, v), *s, *back;
    tu_node t = tu_node_new("Cast", 13, 1, 1);
    tu_attr_int(&t, "to", ONYX_DTYPE_STRING);
    CHECK_OK(run_node(&t, 1, 1, &x, &s));
    CHECK(s && !strcmp(((char **)s->data)[0], "0.1") && !strcmp(((char **)s->data)[1], "-3.25") &&
          !strcmp(((char **)s->data)[4], "NaN") && !strcmp(((char **)s->data)[5], "-INF"));
    tu_node u = tu_node_new("CastLike", 15, 2, 1);
    onyx_tensor *in2[2] = {s, x};
    CHECK_OK(run_node(&u, 1, 2, in2, &back));
    check_out("string round trip", back, 1, &x, NULL, r_id, 0);
    onyx_tensor_free(back);
    onyx_tensor_free(s);
    onyx_tensor_free(x);
  }
  /* int64 -> string and a bad string -> float */
  {
    int64_t n[1] = {2};
    double v[2] = {-42, 7};
    onyx_tensor *x = vals(ONYX_DTYPE_INT64, 1, n, v), *s;
    tu_node t = tu_node_new("Cast", 13, 1, 1);
    tu_attr_int(&t, "to", ONYX_DTYPE_STRING);
    CHECK_OK(run_node(&t, 1, 1, &x, &s));
    CHECK(s && !strcmp(((char **)s->data)[0], "-42") && !strcmp(((char **)s->data)[1], "7"));
    free(((char **)s->data)[1]);
    ((char **)s->data)[1] = strdup("seven");
    onyx_tensor *y;
    tu_node u = tu_node_new("Cast", 13, 1, 1);
    tu_attr_int(&u, "to", ONYX_DTYPE_FLOAT);
    CHECK_ERR(run_node(&u, 1, 1, &s, &y), ONYX_ERR_INVALID_ARGUMENT);
    onyx_tensor_free(s);
    onyx_tensor_free(x);
  }
  /* float8 targets are not implemented */
  {
    int64_t n[1] = {2};
    onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 1, n, 1, 0, 1), *y;
    tu_node t = tu_node_new("Cast", 19, 1, 1);
    tu_attr_int(&t, "to", ONYX_DTYPE_FLOAT8E4M3FN);
    CHECK_ERR(run_node(&t, 1, 1, &x, &y), ONYX_ERR_NOT_IMPLEMENTED);
    onyx_tensor_free(x);
  }
}

static void test_pow(void) {
  int64_t a[2] = {3, 4}, b[1] = {4}, s[1] = {1};
  typedef struct {
    onyx_dtype base, exp;
    const int64_t *bd;
    int br;
  } pow_case;
  pow_case cases[] = {
      {ONYX_DTYPE_FLOAT, ONYX_DTYPE_FLOAT, s, 0}, {ONYX_DTYPE_FLOAT, ONYX_DTYPE_INT64, b, 1},
      {ONYX_DTYPE_FLOAT, ONYX_DTYPE_UINT32, s, 1}, {ONYX_DTYPE_INT32, ONYX_DTYPE_INT32, b, 1},
      {ONYX_DTYPE_INT64, ONYX_DTYPE_FLOAT, b, 1}, {ONYX_DTYPE_DOUBLE, ONYX_DTYPE_FLOAT16, b, 1},
      {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT16, b, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    pow_case *pc = &cases[k];
    onyx_tensor *in[2] = {rnd(pc->base, 2, a, 3, is_int(pc->base) ? 0 : 0.5, 5), rnd(pc->exp, pc->br, pc->bd, 4, 0, 4)};
    if (k == 0) onyx_tensor_set_f64(in[1], 0, 2.0); /* the x*x path */
    onyx_tensor *y;
    tu_node t = tu_node_new("Pow", 15, 2, 1);
    CHECK_OK(run_node(&t, 1, 2, in, &y));
    CHECK(y && y->dtype == pc->base);
    check_out("Pow", y, 2, in, is_int(pc->base) ? r_pow_trunc : r_pow, NULL, pc->base == ONYX_DTYPE_FLOAT16 ? 2e-3 : 1e-6);
    free_all(2, in);
    onyx_tensor_free(y);
  }
}

static void test_clip(void) {
  int64_t d[1] = {40}, scalar[1] = {1};
  /* opset 13: optional min / max inputs; float and int8 */
  onyx_dtype dts[2] = {ONYX_DTYPE_FLOAT, ONYX_DTYPE_INT8};
  for (int k = 0; k < 2; k++)
    for (int mode = 0; mode < 3; mode++) { /* both, min only, max only */
      onyx_tensor *x = rnd(dts[k], 1, d, 9, -10, 10), *y;
      double lo = -3, hi = 4;
      tu_node t = tu_node_new("Clip", 13, 3, 1);
      if (mode == 2) tu_n(&t)->in[1] = -1;
      else tu_const(&t, 1, dts[k], 0, scalar, dts[k] == ONYX_DTYPE_FLOAT ? (void *)&(float){-3} : (void *)&(int8_t){-3});
      if (mode == 1) tu_n(&t)->in[2] = -1;
      else tu_const(&t, 2, dts[k], 0, scalar, dts[k] == ONYX_DTYPE_FLOAT ? (void *)&(float){4} : (void *)&(int8_t){4});
      CHECK_OK(run_node(&t, 1, 1, &x, &y));
      bool ok = y != NULL;
      for (int i = 0; ok && i < 40; i++) {
        double v = onyx_tensor_get_f64(x, i);
        if (mode != 2) v = fmax(v, lo);
        if (mode != 1) v = fmin(v, hi);
        ok = onyx_tensor_get_f64(y, i) == v;
      }
      CHECK(ok);
      onyx_tensor_free(x);
      onyx_tensor_free(y);
    }
  /* opset 6: attributes */
  {
    onyx_tensor *x = rnd(ONYX_DTYPE_FLOAT, 1, d, 9, -10, 10), *y;
    tu_node t = tu_node_new("Clip", 6, 1, 1);
    tu_attr_float(&t, "min", -1.5f);
    tu_attr_float(&t, "max", 2.5f);
    CHECK_OK(run_node(&t, 1, 1, &x, &y));
    bool ok = y != NULL;
    for (int i = 0; ok && i < 40; i++)
      ok = ((float *)y->data)[i] == fminf(fmaxf(((float *)x->data)[i], -1.5f), 2.5f);
    CHECK(ok);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
}

static void test_errors(void) {
  /* incompatible shapes: at creation the model's fault, INVALID_MODEL naming the node */
  {
    int64_t a[2] = {2, 3}, b[1] = {4};
    tu_node t = tu_node_new("Add", 14, 2, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, a);
    tu_input(&t, 1, ONYX_DTYPE_FLOAT, 1, b);
    onyx_session *s = NULL;
    onyx_status *st = onyx_session_create_from_model(t.m, NULL, &s);
    CHECK(onyx_status_code(st) == ONYX_ERR_INVALID_MODEL);
    CHECK(strstr(onyx_status_message(st), "'n0'") != NULL);
    onyx_status_free(st);
    onyx_session_destroy(s);
  }
  /* and at run time, when the declared shapes were symbolic */
  {
    int64_t a[2] = {2, 3}, sym[1] = {ONYX_DIM_UNKNOWN}, b[1] = {4};
    tu_node t = tu_node_new("Mul", 14, 2, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, a);
    tu_input(&t, 1, ONYX_DTYPE_FLOAT, 1, sym);
    onyx_tensor *in[2] = {rnd(ONYX_DTYPE_FLOAT, 2, a, 1, 0, 1), rnd(ONYX_DTYPE_FLOAT, 1, b, 1, 0, 1)}, *y = NULL;
    onyx_status *st = tu_run(&t, 1, 2, in, 1, &y);
    CHECK(onyx_status_code(st) == ONYX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(onyx_status_message(st), "'n0'") != NULL);
    onyx_status_free(st);
    free_all(2, in);
  }
  /* mismatched dtypes */
  {
    int64_t a[1] = {3};
    tu_node t = tu_node_new("Sub", 14, 2, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 1, a);
    tu_input(&t, 1, ONYX_DTYPE_INT64, 1, a);
    onyx_session *s = NULL;
    CHECK_ERR(onyx_session_create_from_model(t.m, NULL, &s), ONYX_ERR_INVALID_MODEL);
  }
  /* a dtype the op does not take (ONNX's type constraints): INVALID_MODEL at creation */
  {
    int64_t a[1] = {3};
    onyx_tensor *x = rnd(ONYX_DTYPE_INT32, 1, a, 1, 0, 5), *y;
    tu_node t = tu_node_new("Exp", 13, 1, 1);
    onyx_status *st = run_node(&t, 1, 1, &x, &y);
    CHECK(onyx_status_code(st) == ONYX_ERR_INVALID_MODEL && strstr(onyx_status_message(st), "'n0'"));
    onyx_status_free(st);
    onyx_tensor_free(x);
  }
}

int main(void) {
  test_unary_f32();
  test_fast_f32_edges();
  test_activations();
  test_unary_dtypes();
  test_predicates();
  test_binary_f32();
  test_large_threaded();
  test_binary_dtypes();
  test_integer_semantics();
  test_logic_compare();
  test_variadic();
  test_where();
  test_cast();
  test_pow();
  test_clip();
  test_errors();
  return tu_done("test_elementwise");
}
