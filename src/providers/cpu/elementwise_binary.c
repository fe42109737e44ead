/* elementwise_binary.c — cpu kernels of the elementwise ops with two or more
 * broadcast inputs: arithmetic (Add, Sub, Mul, Div, Pow, Mod, PRelu),
 * comparisons, logic and bitwise ops, the variadic Max/Min/Sum/Mean, and
 * Where.
 *
 * As in elementwise_unary.c each op is an expression OP(S, a, b) in the
 * compute type of dtype suffix S, expanded into rows for every dtype the ONNX
 * spec allows. A row gets inputs that advance by 1 or 0 elements, and each of
 * the four stride cases gets its own loop so the common ones (same shape,
 * tensor-op-scalar, row broadcast) compile to plain vector loops. Integer
 * + - * wrap (through unsigned), integer division truncates like C, and
 * division or modulo by zero gives 0 instead of trapping. */
#include <math.h>
#include <string.h>

#include "elementwise.h"

/* y = STO(OP(S, a, b)) with output storage type TO. `p` (the node's
 * ew_params) is in scope for OP. */
#define BIN_ROW_(S, NAME, OP, TO, STO)                                                        \
  static void NAME##_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st, \
                         int64_t n) {                                                         \
    const ew_params *p = ctx;                                                                 \
    (void)p;                                                                                  \
    TO *restrict y = yv;                                                                      \
    const EW_T_##S *restrict a = xv[0], *restrict b = xv[1];                                  \
    if (st[0] && st[1]) {                                                                     \
      EW_LOOP(n, y[i] = STO(OP(S, EW_LD_##S(a[i]), EW_LD_##S(b[i]))));                        \
    } else if (st[0]) {                                                                       \
      const EW_C_##S bv = EW_LD_##S(b[0]);                                                    \
      EW_LOOP(n, y[i] = STO(OP(S, EW_LD_##S(a[i]), bv)));                                     \
    } else if (st[1]) {                                                                       \
      const EW_C_##S av = EW_LD_##S(a[0]);                                                    \
      EW_LOOP(n, y[i] = STO(OP(S, av, EW_LD_##S(b[i]))));                                     \
    } else {                                                                                  \
      const TO v = STO(OP(S, EW_LD_##S(a[0]), EW_LD_##S(b[0])));                              \
      EW_LOOP(n, y[i] = v);                                                                   \
    }                                                                                         \
  }
#define BIN_ROW(S, NAME, OP) BIN_ROW_(S, NAME, OP, EW_T_##S, EW_ST_##S)
#define BOOL_STORE(v) ((uint8_t)(v))
#define CMP_ROW(S, NAME, OP) BIN_ROW_(S, NAME, OP, uint8_t, BOOL_STORE)

static bool dtype_ok(onyx_dtype dt) { return dt > ONYX_DTYPE_UNDEFINED && dt < ONYX_DTYPE_COUNT_; }

/* Checks that inputs [0, n) are present and share input 0's dtype. */
static onyx_status *check_inputs(onyx_kernel_ctx *c, int n) {
  for (int k = 0; k < n; k++)
    if (!c->in[k]) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input %d is missing", k);
  onyx_dtype dt = c->in[0]->dtype;
  for (int k = 1; k < n; k++)
    if (c->in[k]->dtype != dt)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "inputs 0 and %d have dtypes %s and %s", k,
                             onyx_dtype_name(dt), onyx_dtype_name(c->in[k]->dtype));
  if (!dtype_ok(dt)) return ew_bad_dtype(c, 0);
  return NULL;
}

/* Runs a row function over inputs [0, n) broadcast into output 0. */
static onyx_status *broadcast_run(onyx_kernel_ctx *c, int n, ew_row_fn fn, const void *ctx,
                                  const onyx_threadpool *pool) {
  ONYX_TRY(ew_out_bcast(c, 0, 0, n));
  ew_iter it;
  ew_iter_init(&it, c->out[0], n, (const onyx_tensor *const *)c->in);
  ew_iter_run(&it, pool, fn, ctx);
  return NULL;
}

static onyx_status *binary(onyx_kernel_ctx *c, const ew_row_fn *tbl, const void *ctx) {
  if (c->n_in != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "has %d inputs, expected 2", c->n_in);
  ONYX_TRY(check_inputs(c, 2));
  ew_row_fn fn = tbl[c->in[0]->dtype];
  if (!fn) return ew_bad_dtype(c, 0);
  /* strings are few and small: keep them on one thread */
  return broadcast_run(c, 2, fn, ctx, c->in[0]->dtype == ONYX_DTYPE_STRING ? NULL : c->pool);
}

#define KERNEL(Name, tbl) \
  onyx_status *cpu_ew_##Name(onyx_kernel_ctx *c) { return binary(c, tbl, c->state); }

#define NUM_TABLE(name) \
  static const ew_row_fn name##_tbl[ONYX_DTYPE_COUNT_] = { \
      EW_FLOATS(EW_ENTRY, name) EW_SINTS(EW_ENTRY, name) EW_UINTS(EW_ENTRY, name)}

/* ---- arithmetic ------------------------------------------------------------- */

#define WRAP(S, x, op, z) ((EW_C_##S)((EW_U_##S)(x) op (EW_U_##S)(z)))
#define OP_ADD(S, x, z) WRAP(S, x, +, z)
#define OP_SUB(S, x, z) WRAP(S, x, -, z)
#define OP_MUL(S, x, z) WRAP(S, x, *, z)
#define OP_DIV_F(S, x, z) ((x) / (z))
/* x / -1 is negation (INT_MIN / -1 would trap) */
#define OP_DIV_S(S, x, z) ((z) == 0 ? 0 : (z) == -1 ? WRAP(S, 0, -, x) : (x) / (z))
#define OP_DIV_U(S, x, z) ((z) == 0 ? 0 : (x) / (z))
EW_FLOATS(BIN_ROW, add, OP_ADD) EW_SINTS(BIN_ROW, add, OP_ADD) EW_UINTS(BIN_ROW, add, OP_ADD)
EW_FLOATS(BIN_ROW, sub, OP_SUB) EW_SINTS(BIN_ROW, sub, OP_SUB) EW_UINTS(BIN_ROW, sub, OP_SUB)
EW_FLOATS(BIN_ROW, mul, OP_MUL) EW_SINTS(BIN_ROW, mul, OP_MUL) EW_UINTS(BIN_ROW, mul, OP_MUL)
EW_FLOATS(BIN_ROW, div, OP_DIV_F) EW_SINTS(BIN_ROW, div, OP_DIV_S) EW_UINTS(BIN_ROW, div, OP_DIV_U)
NUM_TABLE(add);
NUM_TABLE(sub);
NUM_TABLE(mul);
NUM_TABLE(div);
KERNEL(Add, add_tbl)
KERNEL(Sub, sub_tbl)
KERNEL(Mul, mul_tbl)
KERNEL(Div, div_tbl)

/* Mod: fmod=1 truncates (C's fmod and %); fmod=0 takes the divisor's sign
 * (Python's %). */
#define OP_FMOD_F(S, x, z) fmod(x, z)
#define OP_FMOD_S(S, x, z) ((z) == 0 || (z) == -1 ? 0 : (x) % (z))
#define OP_FMOD_U(S, x, z) ((z) == 0 ? 0 : (x) % (z))
#define FLOOR_FIX(r, z) ((r) != 0 && (((r) < 0) != ((z) < 0)) ? (r) + (z) : (r))
#define OP_MOD_F(S, x, z) FLOOR_FIX(fmod(x, z), z)
#define OP_MOD_S(S, x, z) ((z) == 0 || (z) == -1 ? 0 : FLOOR_FIX((x) % (z), z))
EW_FLOATS(BIN_ROW, fmod, OP_FMOD_F) EW_SINTS(BIN_ROW, fmod, OP_FMOD_S) EW_UINTS(BIN_ROW, fmod, OP_FMOD_U)
EW_FLOATS(BIN_ROW, mod, OP_MOD_F) EW_SINTS(BIN_ROW, mod, OP_MOD_S) EW_UINTS(BIN_ROW, mod, OP_FMOD_U)
NUM_TABLE(fmod);
NUM_TABLE(mod);
onyx_status *cpu_ew_Mod(onyx_kernel_ctx *c) {
  const ew_params *p = c->state;
  return binary(c, p->fmod ? fmod_tbl : mod_tbl, p);
}

/* PRelu: y = x < 0 ? slope * x : x; unsigned inputs are never negative. */
#define OP_PRELU(S, x, z) ((x) < 0 ? (x) * (z) : (x))
#define OP_PRELU_U(S, x, z) ((void)(z), (x))
EW_FLOATS(BIN_ROW, prelu, OP_PRELU) EW_SINTS(BIN_ROW, prelu, OP_PRELU) EW_UINTS(BIN_ROW, prelu, OP_PRELU_U)
NUM_TABLE(prelu);
KERNEL(PRelu, prelu_tbl)

/* ---- Pow ---------------------------------------------------------------------- */

/* The exponent may have any numeric dtype: each row converts blocks of it to
 * the type the power is computed in (float for float32/16 and bfloat16
 * bases, double for double and integer bases). */
typedef struct pow_ctx {
  onyx_dtype edt;
} pow_ctx;

#define POW_BLOCK 256
/* Integer Pow results beyond the type (2^70, inf, NaN) saturate: a C cast
 * of an out-of-range double is undefined. Float types store as they are. */
static inline double pow_fit(double v, double lo, double hi) { return v != v ? 0 : v < lo ? lo : v > hi ? hi : v; }
#define POW_FIT_f32(v) (v)
#define POW_FIT_f16(v) (v)
#define POW_FIT_bf16(v) (v)
#define POW_FIT_f64(v) (v)
#define POW_FIT_i32(v) pow_fit(v, -2147483648.0, 2147483647.0)
#define POW_FIT_i64(v) pow_fit(v, -9223372036854775808.0, 9223372036854774784.0)   /* largest double < 2^63 */
#define POW_ROW(S, PT, PDT)                                                                   \
  static void pow_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st,   \
                      int64_t n) {                                                            \
    const pow_ctx *pc = ctx;                                                                  \
    EW_T_##S *restrict y = yv;                                                                \
    const EW_T_##S *restrict a = xv[0];                                                       \
    const char *e = xv[1];                                                                    \
    const size_t esz = onyx_dtype_size(pc->edt);                                              \
    PT eb[POW_BLOCK];                                                                         \
    for (int64_t b0 = 0; b0 < n; b0 += POW_BLOCK) {                                           \
      const int64_t m = n - b0 < POW_BLOCK ? n - b0 : POW_BLOCK;                              \
      if (st[1]) {                                                                            \
        ew_convert(PDT, eb, pc->edt, e + (size_t)b0 * esz, m);                                \
      } else {                                                                                \
        ew_convert(PDT, eb, pc->edt, e, 1);                                                   \
        for (int64_t i = 1; i < m; i++) eb[i] = eb[0];                                        \
      }                                                                                       \
      for (int64_t i = 0; i < m; i++)                                                         \
        y[b0 + i] = EW_ST_##S(POW_FIT_##S(pow((PT)EW_LD_##S(a[(b0 + i) * st[0]]), eb[i])));  \
    }                                                                                         \
  }
POW_ROW(f32, float, ONYX_DTYPE_FLOAT)
POW_ROW(f16, float, ONYX_DTYPE_FLOAT)
POW_ROW(bf16, float, ONYX_DTYPE_FLOAT)
POW_ROW(f64, double, ONYX_DTYPE_DOUBLE)
POW_ROW(i32, double, ONYX_DTYPE_DOUBLE)
POW_ROW(i64, double, ONYX_DTYPE_DOUBLE)
static const ew_row_fn pow_tbl[ONYX_DTYPE_COUNT_] = {
    EW_ENTRY(f32, pow) EW_ENTRY(f16, pow) EW_ENTRY(bf16, pow) EW_ENTRY(f64, pow) EW_ENTRY(i32, pow)
    EW_ENTRY(i64, pow)};

/* float32 ^ float32, the common case, without conversion; x^2 as x*x. */
static void pow_f32_f32(const void *ctx, void *yv, const void *const *xv, const int64_t *st, int64_t n) {
  (void)ctx;
  float *restrict y = yv;
  const float *restrict a = xv[0], *restrict b = xv[1];
  if (!st[1] && b[0] == 2.0f && st[0]) {
    EW_LOOP(n, y[i] = a[i] * a[i]);
    return;
  }
  for (int64_t i = 0; i < n; i++) y[i] = powf(a[i * st[0]], b[i * st[1]]);
}

static bool numeric(onyx_dtype dt) {
  return dt != ONYX_DTYPE_STRING && dt != ONYX_DTYPE_BOOL && onyx_dtype_size(dt) > 0 &&
         dt != ONYX_DTYPE_COMPLEX64 && dt != ONYX_DTYPE_COMPLEX128 && dt < ONYX_DTYPE_FLOAT8E4M3FN;
}

onyx_status *cpu_ew_Pow(onyx_kernel_ctx *c) {
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "expects 2 inputs");
  onyx_dtype bdt = c->in[0]->dtype, edt = c->in[1]->dtype;
  ew_row_fn fn = dtype_ok(bdt) ? pow_tbl[bdt] : NULL;
  if (!fn) return ew_bad_dtype(c, 0);
  if (!numeric(edt)) return ew_bad_dtype(c, 1);
  pow_ctx pc = {edt};
  if (bdt == ONYX_DTYPE_FLOAT && edt == ONYX_DTYPE_FLOAT) fn = pow_f32_f32;
  return broadcast_run(c, 2, fn, &pc, c->pool);
}

/* ---- bitwise and logic ---------------------------------------------------------- */

/* Shifts by the width or more give 0 (undefined in C). */
#define BITS(S) ((EW_C_##S)(8 * sizeof(EW_T_##S)))
#define OP_SHL(S, x, z) ((z) >= BITS(S) ? 0 : (EW_U_##S)(x) << (z))
#define OP_SHR(S, x, z) ((z) >= BITS(S) ? 0 : (x) >> (z))
EW_UINTS(BIN_ROW, shl, OP_SHL)
EW_UINTS(BIN_ROW, shr, OP_SHR)
static const ew_row_fn shl_tbl[ONYX_DTYPE_COUNT_] = {EW_UINTS(EW_ENTRY, shl)};
static const ew_row_fn shr_tbl[ONYX_DTYPE_COUNT_] = {EW_UINTS(EW_ENTRY, shr)};
onyx_status *cpu_ew_BitShift(onyx_kernel_ctx *c) {
  const ew_params *p = c->state;
  return binary(c, p->shift_left ? shl_tbl : shr_tbl, p);
}

#define OP_BAND(S, x, z) ((x) & (z))
#define OP_BOR(S, x, z) ((x) | (z))
#define OP_BXOR(S, x, z) ((x) ^ (z))
#define INT_TABLE(name) \
  static const ew_row_fn name##_tbl[ONYX_DTYPE_COUNT_] = {EW_SINTS(EW_ENTRY, name) EW_UINTS(EW_ENTRY, name)}
EW_SINTS(BIN_ROW, band, OP_BAND) EW_UINTS(BIN_ROW, band, OP_BAND)
EW_SINTS(BIN_ROW, bor, OP_BOR) EW_UINTS(BIN_ROW, bor, OP_BOR)
EW_SINTS(BIN_ROW, bxor, OP_BXOR) EW_UINTS(BIN_ROW, bxor, OP_BXOR)
INT_TABLE(band);
INT_TABLE(bor);
INT_TABLE(bxor);
KERNEL(BitwiseAnd, band_tbl)
KERNEL(BitwiseOr, bor_tbl)
KERNEL(BitwiseXor, bxor_tbl)

#define OP_AND(S, x, z) (((x) != 0) & ((z) != 0))
#define OP_OR(S, x, z) (((x) != 0) | ((z) != 0))
#define OP_XOR(S, x, z) (((x) != 0) ^ ((z) != 0))
CMP_ROW(b8, and, OP_AND)
CMP_ROW(b8, or, OP_OR)
CMP_ROW(b8, xor, OP_XOR)
static const ew_row_fn and_tbl[ONYX_DTYPE_COUNT_] = {EW_ENTRY(b8, and)};
static const ew_row_fn or_tbl[ONYX_DTYPE_COUNT_] = {EW_ENTRY(b8, or)};
static const ew_row_fn xor_tbl[ONYX_DTYPE_COUNT_] = {EW_ENTRY(b8, xor)};
KERNEL(And, and_tbl)
KERNEL(Or, or_tbl)
KERNEL(Xor, xor_tbl)

/* ---- comparisons ------------------------------------------------------------------ */

#define OP_EQ(S, x, z) ((x) == (z))
#define OP_LT(S, x, z) ((x) < (z))
#define OP_LE(S, x, z) ((x) <= (z))
#define OP_GT(S, x, z) ((x) > (z))
#define OP_GE(S, x, z) ((x) >= (z))
#define CMP_ALL(name, OP) EW_FLOATS(CMP_ROW, name, OP) EW_SINTS(CMP_ROW, name, OP) EW_UINTS(CMP_ROW, name, OP)
CMP_ALL(eq, OP_EQ)
CMP_ALL(lt, OP_LT)
CMP_ALL(le, OP_LE)
CMP_ALL(gt, OP_GT)
CMP_ALL(ge, OP_GE)
CMP_ROW(b8, eq, OP_EQ)

static void eq_str(const void *ctx, void *yv, const void *const *xv, const int64_t *st, int64_t n) {
  (void)ctx;
  uint8_t *y = yv;
  const char *const *a = xv[0], *const *b = xv[1];
  for (int64_t i = 0; i < n; i++) {
    const char *s = a[i * st[0]], *t = b[i * st[1]];
    y[i] = !strcmp(s ? s : "", t ? t : "");
  }
}

static const ew_row_fn eq_tbl[ONYX_DTYPE_COUNT_] = {
    EW_FLOATS(EW_ENTRY, eq) EW_SINTS(EW_ENTRY, eq) EW_UINTS(EW_ENTRY, eq) EW_ENTRY(b8, eq)
    [ONYX_DTYPE_STRING] = eq_str};
NUM_TABLE(lt);
NUM_TABLE(le);
NUM_TABLE(gt);
NUM_TABLE(ge);
KERNEL(Equal, eq_tbl)
KERNEL(Less, lt_tbl)
KERNEL(LessOrEqual, le_tbl)
KERNEL(Greater, gt_tbl)
KERNEL(GreaterOrEqual, ge_tbl)

/* ---- variadic: Max, Min, Sum, Mean ------------------------------------------------ */

/* Inputs are folded into y EW_MAX_IN at a time; after the first group y
 * holds the partial result and the row folds the next group into it. */
typedef struct fold_ctx {
  bool acc;      /* y already holds a partial result */
  double scale;  /* applied at the end by Mean's last group, else 0 */
} fold_ctx;

#define FOLD_ROW(S, NAME, OP)                                                                 \
  static void NAME##_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st, \
                         int64_t n, int nk) {                                                 \
    const fold_ctx *fc = ctx;                                                                 \
    EW_T_##S *restrict y = yv;                                                                \
    int k = 0;                                                                                \
    if (!fc->acc) {                                                                           \
      const EW_T_##S *restrict a = xv[0];                                                     \
      if (st[0]) {                                                                            \
        EW_LOOP(n, y[i] = a[i]);                                                              \
      } else {                                                                                \
        const EW_T_##S v = a[0];                                                              \
        EW_LOOP(n, y[i] = v);                                                                 \
      }                                                                                       \
      k = 1;                                                                                  \
    }                                                                                         \
    for (; k < nk; k++) {                                                                     \
      const EW_T_##S *restrict b = xv[k];                                                     \
      if (st[k]) {                                                                            \
        EW_LOOP(n, y[i] = EW_ST_##S(OP(S, EW_LD_##S(y[i]), EW_LD_##S(b[i]))));                \
      } else {                                                                                \
        const EW_C_##S bv = EW_LD_##S(b[0]);                                                  \
        EW_LOOP(n, y[i] = EW_ST_##S(OP(S, EW_LD_##S(y[i]), bv)));                             \
      }                                                                                       \
    }                                                                                         \
    if (fc->scale != 0) {                                                                     \
      const EW_C_##S sc = (EW_C_##S)fc->scale;                                                \
      EW_LOOP(n, y[i] = EW_ST_##S(EW_LD_##S(y[i]) * sc));                                     \
    }                                                                                         \
  }

typedef void (*fold_fn)(const void *ctx, void *y, const void *const *x, const int64_t *st, int64_t n,
                        int nk);

/* Max/Min propagate NaN like numpy: a NaN on either side wins. */
#define OP_MAX_F(S, x, z) ((x) != (x) || (x) > (z) ? (x) : (z))
#define OP_MIN_F(S, x, z) ((x) != (x) || (x) < (z) ? (x) : (z))
#define OP_MAX_I(S, x, z) ((x) > (z) ? (x) : (z))
#define OP_MIN_I(S, x, z) ((x) < (z) ? (x) : (z))
EW_FLOATS(FOLD_ROW, max, OP_MAX_F) EW_SINTS(FOLD_ROW, max, OP_MAX_I) EW_UINTS(FOLD_ROW, max, OP_MAX_I)
EW_FLOATS(FOLD_ROW, min, OP_MIN_F) EW_SINTS(FOLD_ROW, min, OP_MIN_I) EW_UINTS(FOLD_ROW, min, OP_MIN_I)
EW_FLOATS(FOLD_ROW, sum, OP_ADD)
#define FOLD_TABLE(name, ...) static const fold_fn name##_tbl[ONYX_DTYPE_COUNT_] = {__VA_ARGS__}
FOLD_TABLE(max, EW_FLOATS(EW_ENTRY, max) EW_SINTS(EW_ENTRY, max) EW_UINTS(EW_ENTRY, max));
FOLD_TABLE(min, EW_FLOATS(EW_ENTRY, min) EW_SINTS(EW_ENTRY, min) EW_UINTS(EW_ENTRY, min));
FOLD_TABLE(sum, EW_FLOATS(EW_ENTRY, sum));

/* ew_iter hands rows to an ew_row_fn; this adapter carries the group size. */
typedef struct fold_job {
  fold_fn fn;
  fold_ctx fc;
  int nk;
} fold_job;

static void fold_row(const void *ctx, void *y, const void *const *x, const int64_t *st, int64_t n) {
  const fold_job *j = ctx;
  j->fn(&j->fc, y, x, st, n, j->nk);
}

static onyx_status *fold(onyx_kernel_ctx *c, const fold_fn *tbl, bool mean) {
  if (c->n_in < 1) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "needs at least one input");
  ONYX_TRY(check_inputs(c, c->n_in));
  fold_job job = {tbl[c->in[0]->dtype], {false, 0}, 0};
  if (!job.fn) return ew_bad_dtype(c, 0);
  ONYX_TRY(ew_out_bcast(c, 0, 0, c->n_in));
  for (int k0 = 0; k0 < c->n_in; k0 += EW_MAX_IN) {
    job.nk = c->n_in - k0 < EW_MAX_IN ? c->n_in - k0 : EW_MAX_IN;
    job.fc.acc = k0 > 0;
    if (mean && k0 + job.nk == c->n_in) job.fc.scale = 1.0 / c->n_in;
    ew_iter it;
    ew_iter_init(&it, c->out[0], job.nk, (const onyx_tensor *const *)c->in + k0);
    ew_iter_run(&it, c->pool, fold_row, &job);
  }
  return NULL;
}

onyx_status *cpu_ew_Max(onyx_kernel_ctx *c) { return fold(c, max_tbl, false); }
onyx_status *cpu_ew_Min(onyx_kernel_ctx *c) { return fold(c, min_tbl, false); }
onyx_status *cpu_ew_Sum(onyx_kernel_ctx *c) { return fold(c, sum_tbl, false); }
onyx_status *cpu_ew_Mean(onyx_kernel_ctx *c) { return fold(c, sum_tbl, true); }

/* ---- Where ------------------------------------------------------------------------- */

/* Selection copies bits, so one row per element size serves every dtype. */
#define WHERE_ROW(T)                                                                           \
  static void where_##T(const void *ctx, void *yv, const void *const *xv, const int64_t *st,  \
                        int64_t n) {                                                           \
    (void)ctx;                                                                                 \
    T *restrict y = yv;                                                                        \
    const uint8_t *restrict m = xv[0];                                                         \
    const T *restrict a = xv[1], *restrict b = xv[2];                                          \
    if (st[0] && st[1] && st[2]) {                                                             \
      EW_LOOP(n, y[i] = m[i] ? a[i] : b[i]);                                                   \
    } else {                                                                                   \
      const int64_t s0 = st[0], s1 = st[1], s2 = st[2];                                        \
      for (int64_t i = 0; i < n; i++) y[i] = m[i * s0] ? a[i * s1] : b[i * s2];                \
    }                                                                                          \
  }
WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

/* Strings are copied; `failed` records an allocation failure. */
typedef struct where_str_ctx {
  bool *failed;
} where_str_ctx;

static void where_str(const void *ctx, void *yv, const void *const *xv, const int64_t *st, int64_t n) {
  const where_str_ctx *wc = ctx;
  char **y = yv;
  const uint8_t *m = xv[0];
  const char *const *a = xv[1], *const *b = xv[2];
  for (int64_t i = 0; i < n; i++) {
    const char *s = m[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
    if (!(y[i] = onyx_strdup(s ? s : ""))) *wc->failed = true;
  }
}

onyx_status *cpu_ew_Where(onyx_kernel_ctx *c) {
  if (c->n_in != 3 || !c->in[0] || !c->in[1] || !c->in[2])
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "expects 3 inputs");
  if (c->in[0]->dtype != ONYX_DTYPE_BOOL)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "condition has dtype %s, expected bool",
                           onyx_dtype_name(c->in[0]->dtype));
  onyx_dtype dt = c->in[1]->dtype;
  if (c->in[2]->dtype != dt)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "X and Y have dtypes %s and %s",
                           onyx_dtype_name(dt), onyx_dtype_name(c->in[2]->dtype));
  if (dt == ONYX_DTYPE_STRING) {
    bool failed = false;
    where_str_ctx wc = {&failed};
    ONYX_TRY(broadcast_run(c, 3, where_str, &wc, NULL));
    return failed ? onyx_error_oom() : NULL;
  }
  ew_row_fn fn = NULL;
  switch (dtype_ok(dt) && dt < ONYX_DTYPE_UINT4 ? onyx_dtype_size(dt) : 0) {
    case 1: fn = where_uint8_t; break;
    case 2: fn = where_uint16_t; break;
    case 4: fn = where_uint32_t; break;
    case 8: fn = where_uint64_t; break;
    default: return ew_bad_dtype(c, 1);
  }
  return broadcast_run(c, 3, fn, NULL, c->pool);
}
