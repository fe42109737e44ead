/* elementwise_unary.c — cpu kernels of the one-input elementwise ops: math
 * functions (Exp, Sin, Round, ...), activations (Relu, Sigmoid, Gelu, ...),
 * predicates (IsNaN, IsInf), Not, BitwiseNot and Clip.
 *
 * Each op is an expression OP(S, v) on the compute value v of dtype suffix S
 * (see elementwise.h); rows for the dtypes the ONNX spec allows are generated
 * from it and collected into a dtype-indexed table, so a kernel is its
 * expression plus one table. <tgmath.h> picks expf for float and exp for
 * double from the same expression; float16/bfloat16 compute in float32. */
#include <tgmath.h>

#include "elementwise.h"
#include "vmath.h"

/* Same-dtype row: y = OP(x). `p` (the node's ew_params) is in scope. */
#define UN_ROW(S, NAME, OP)                                                                   \
  static void NAME##_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st, \
                         int64_t n) {                                                         \
    const ew_params *p = ctx;                                                                 \
    (void)p;                                                                                  \
    (void)st;                                                                                 \
    EW_T_##S *restrict y = yv;                                                                \
    const EW_T_##S *restrict x = xv[0];                                                       \
    EW_LOOP(n, {                                                                              \
      const EW_C_##S v = EW_LD_##S(x[i]);                                                     \
      y[i] = EW_ST_##S(OP(S, v));                                                             \
    });                                                                                       \
  }

/* Row with a bool result: y = OP(x) != 0. */
#define UN_ROW_BOOL(S, NAME, OP)                                                              \
  static void NAME##_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st, \
                         int64_t n) {                                                         \
    const ew_params *p = ctx;                                                                 \
    (void)p;                                                                                  \
    (void)st;                                                                                 \
    uint8_t *restrict y = yv;                                                                 \
    const EW_T_##S *restrict x = xv[0];                                                       \
    EW_LOOP(n, {                                                                              \
      const EW_C_##S v = EW_LD_##S(x[i]);                                                     \
      y[i] = (uint8_t)((OP(S, v)) != 0);                                                      \
    });                                                                                       \
  }

/* A typed constant, so float rows stay in float and double rows keep precision. */
#define EWK(S, c) ((EW_C_##S)(c))

/* Runs tbl's row for the input dtype. */
static onyx_status *unary(onyx_kernel_ctx *c, const ew_row_fn *tbl, const void *ctx) {
  const onyx_tensor *x = c->in[0];
  ew_row_fn fn = x->dtype > 0 && x->dtype < ONYX_DTYPE_COUNT_ ? tbl[x->dtype] : NULL;
  if (!fn) return ew_bad_dtype(c, 0);
  onyx_tensor *y = c->out[0];
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, x->dims));
  ew_iter it;
  ew_iter_init(&it, y, 1, &x);
  ew_iter_run(&it, c->pool, fn, ctx);
  return NULL;
}

/* An op over the float dtypes only: rows, table and kernel. */
#define FLOAT_UNARY(Name, name, OP)                                                 \
  EW_FLOATS(UN_ROW, name, OP)                                                       \
  static const ew_row_fn name##_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, name)}; \
  onyx_status *cpu_ew_##Name(onyx_kernel_ctx *c) { return unary(c, name##_tbl, c->state); }

/* ---- float math ----------------------------------------------------------- */

#define OP_EXP(S, v) exp(v)
#define OP_LOG(S, v) log(v)
#define OP_SQRT(S, v) sqrt(v)
#define OP_RECIP(S, v) (EWK(S, 1) / (v))
#define OP_FLOOR(S, v) floor(v)
#define OP_CEIL(S, v) ceil(v)
#define OP_ROUND(S, v) rint(v) /* half to even in the default rounding mode */
#define OP_SIN(S, v) sin(v)
#define OP_COS(S, v) cos(v)
#define OP_TAN(S, v) tan(v)
#define OP_ASIN(S, v) asin(v)
#define OP_ACOS(S, v) acos(v)
#define OP_ATAN(S, v) atan(v)
#define OP_SINH(S, v) sinh(v)
#define OP_COSH(S, v) cosh(v)
#define OP_ASINH(S, v) asinh(v)
#define OP_ACOSH(S, v) acosh(v)
#define OP_ATANH(S, v) atanh(v)
FLOAT_UNARY(Log, log, OP_LOG)
FLOAT_UNARY(Sqrt, sqrt, OP_SQRT)
FLOAT_UNARY(Reciprocal, recip, OP_RECIP)
FLOAT_UNARY(Floor, floor, OP_FLOOR)
FLOAT_UNARY(Ceil, ceil, OP_CEIL)
FLOAT_UNARY(Round, round, OP_ROUND)
FLOAT_UNARY(Sin, sin, OP_SIN)
FLOAT_UNARY(Cos, cos, OP_COS)
FLOAT_UNARY(Tan, tan, OP_TAN)
FLOAT_UNARY(Asin, asin, OP_ASIN)
FLOAT_UNARY(Acos, acos, OP_ACOS)
FLOAT_UNARY(Atan, atan, OP_ATAN)
FLOAT_UNARY(Sinh, sinh, OP_SINH)
FLOAT_UNARY(Cosh, cosh, OP_COSH)
FLOAT_UNARY(Asinh, asinh, OP_ASINH)
FLOAT_UNARY(Acosh, acosh, OP_ACOSH)
FLOAT_UNARY(Atanh, atanh, OP_ATANH)

/* ---- float activations ------------------------------------------------------ */

/* softplus(v) = log(1 + e^v), written so large |v| neither overflows nor loses digits */
#define SOFTPLUS(S, v) ((v) > 0 ? (v) + log1p(exp(-(v))) : log1p(exp(v)))
#define OP_SIGMOID(S, v) (EWK(S, 1) / (EWK(S, 1) + exp(-(v))))
#define OP_HARDSIGMOID(S, v) fmax(EWK(S, 0), fmin(EWK(S, 1), p->alpha * (v) + p->beta))
#define OP_HARDSWISH(S, v) ((v) * fmax(EWK(S, 0), fmin(EWK(S, 1), (v) / EWK(S, 6) + EWK(S, 0.5))))
#define OP_TANH(S, v) tanh(v)
#define OP_LEAKYRELU(S, v) ((v) < 0 ? p->alpha * (v) : (v))
#define OP_ELU(S, v) ((v) < 0 ? p->alpha * expm1(v) : (v))
#define OP_SELU(S, v) ((v) <= 0 ? p->gamma * (p->alpha * exp(v) - p->alpha) : p->gamma * (v))
#define OP_CELU(S, v) ((v) > 0 ? (v) : p->alpha * expm1((v) / p->alpha))
#define OP_SOFTPLUS(S, v) SOFTPLUS(S, v)
#define OP_SOFTSIGN(S, v) ((v) / (EWK(S, 1) + fabs(v)))
#define OP_THRESHOLDEDRELU(S, v) ((v) > p->alpha ? (v) : EWK(S, 0))
#define OP_MISH(S, v) ((v) * tanh(SOFTPLUS(S, v)))
#define OP_GELU(S, v)                                                                         \
  (p->gelu_tanh ? EWK(S, 0.5) * (v) *                                                          \
                      (EWK(S, 1) + tanh(EWK(S, 0.7978845608028654) *                           \
                                        ((v) + EWK(S, 0.044715) * (v) * (v) * (v))))          \
                : EWK(S, 0.5) * (v) * (EWK(S, 1) + erf((v) * EWK(S, 0.7071067811865476))))
FLOAT_UNARY(HardSigmoid, hardsigmoid, OP_HARDSIGMOID)
FLOAT_UNARY(HardSwish, hardswish, OP_HARDSWISH)
FLOAT_UNARY(LeakyRelu, leakyrelu, OP_LEAKYRELU)
FLOAT_UNARY(Elu, elu, OP_ELU)
FLOAT_UNARY(Selu, selu, OP_SELU)
FLOAT_UNARY(Celu, celu, OP_CELU)
FLOAT_UNARY(Softplus, softplus, OP_SOFTPLUS)
FLOAT_UNARY(Softsign, softsign, OP_SOFTSIGN)
FLOAT_UNARY(ThresholdedRelu, thresholdedrelu, OP_THRESHOLDEDRELU)
FLOAT_UNARY(Mish, mish, OP_MISH)

/* Exp, Sigmoid, Erf, Tanh and Gelu: float32 rows through vmath.h
 * (vectorized; exp and sigmoid within a few ulp, erf < 1.3 ulp, tanh < 1e-6
 * relative); float16, bfloat16 (which compute in float32) and double keep
 * libm. */
#define VM_UNARY(Name, name, OP, F32)                                                          \
  UN_ROW(f64, name, OP)                                                                        \
  UN_ROW(f16, name, OP)                                                                        \
  UN_ROW(bf16, name, OP)                                                                       \
  static void name##_f32(const void *ctx, void *y, const void *const *x, const int64_t *st,    \
                         int64_t n) {                                                          \
    (void)st;                                                                                  \
    F32((const ew_params *)ctx, x[0], y, n);                                                   \
  }                                                                                            \
  static const ew_row_fn name##_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, name)};           \
  onyx_status *cpu_ew_##Name(onyx_kernel_ctx *c) { return unary(c, name##_tbl, c->state); }
/* the float32 row of an op without attributes: vmath row ROW, no bias */
#define VM_PLAIN(name, ROW)                                                         \
  static void name##_vm(const ew_params *p, const float *x, float *y, int64_t n) { \
    (void)p;                                                                        \
    ROW(x, NULL, y, n);                                                             \
  }
VM_PLAIN(exp, cpu_vm_exp_f32)
VM_PLAIN(sigmoid, cpu_vm_sigmoid_f32)
VM_PLAIN(erf, cpu_vm_erf_f32)
VM_PLAIN(tanh, cpu_vm_tanh_f32)
static void gelu_vm(const ew_params *p, const float *x, float *y, int64_t n) {
  if (p->gelu_tanh) cpu_vm_gelu_tanh_f32(x, NULL, y, n);
  else cpu_vm_gelu_f32(x, NULL, y, n);
}
#define OP_ERF(S, v) erf(v)
VM_UNARY(Exp, exp, OP_EXP, exp_vm)
VM_UNARY(Sigmoid, sigmoid, OP_SIGMOID, sigmoid_vm)
VM_UNARY(Erf, erf, OP_ERF, erf_vm)
VM_UNARY(Tanh, tanh, OP_TANH, tanh_vm)
VM_UNARY(Gelu, gelu, OP_GELU, gelu_vm)

/* ---- ops that also take integers ------------------------------------------- */

/* Integer negation through the unsigned type: -INT_MIN wraps instead of trapping. */
#define INEG(S, v) ((EW_C_##S)(0 - (EW_U_##S)(v)))

#define OP_ABS_F(S, v) fabs(v)
#define OP_ABS_S(S, v) ((v) < 0 ? INEG(S, v) : (v))
#define OP_ABS_U(S, v) (v)
EW_FLOATS(UN_ROW, abs, OP_ABS_F)
EW_SINTS(UN_ROW, abs, OP_ABS_S)
EW_UINTS(UN_ROW, abs, OP_ABS_U)
static const ew_row_fn abs_tbl[ONYX_DTYPE_COUNT_] = {
    EW_FLOATS(EW_ENTRY, abs) EW_SINTS(EW_ENTRY, abs) EW_UINTS(EW_ENTRY, abs)};
onyx_status *cpu_ew_Abs(onyx_kernel_ctx *c) { return unary(c, abs_tbl, c->state); }

#define OP_NEG_F(S, v) (-(v))
#define OP_NEG_S(S, v) INEG(S, v)
EW_FLOATS(UN_ROW, neg, OP_NEG_F)
EW_SINTS(UN_ROW, neg, OP_NEG_S)
static const ew_row_fn neg_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, neg) EW_SINTS(EW_ENTRY, neg)};
onyx_status *cpu_ew_Neg(onyx_kernel_ctx *c) { return unary(c, neg_tbl, c->state); }

/* Sign keeps NaN (and the sign of zero) for floats. */
#define OP_SIGN_F(S, v) ((v) > 0 ? EWK(S, 1) : (v) < 0 ? EWK(S, -1) : (v))
#define OP_SIGN_S(S, v) (((v) > 0) - ((v) < 0))
#define OP_SIGN_U(S, v) ((v) > 0)
EW_FLOATS(UN_ROW, sign, OP_SIGN_F)
EW_SINTS(UN_ROW, sign, OP_SIGN_S)
EW_UINTS(UN_ROW, sign, OP_SIGN_U)
static const ew_row_fn sign_tbl[ONYX_DTYPE_COUNT_] = {
    EW_FLOATS(EW_ENTRY, sign) EW_SINTS(EW_ENTRY, sign) EW_UINTS(EW_ENTRY, sign)};
onyx_status *cpu_ew_Sign(onyx_kernel_ctx *c) { return unary(c, sign_tbl, c->state); }

/* Relu keeps NaN: it is not < 0. */
#define OP_RELU(S, v) ((v) < 0 ? EWK(S, 0) : (v))
EW_FLOATS(UN_ROW, relu, OP_RELU)
EW_SINTS(UN_ROW, relu, OP_RELU)
static const ew_row_fn relu_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, relu) EW_SINTS(EW_ENTRY, relu)};
onyx_status *cpu_ew_Relu(onyx_kernel_ctx *c) { return unary(c, relu_tbl, c->state); }

/* Shrink computes in float for every dtype (lambd and bias are floats). */
#define OP_SHRINK(S, v) \
  ((v) < -p->lambd ? (v) + p->bias : (v) > p->lambd ? (v) - p->bias : 0.0f)
EW_FLOATS(UN_ROW, shrink, OP_SHRINK)
EW_SINTS(UN_ROW, shrink, OP_SHRINK)
EW_UINTS(UN_ROW, shrink, OP_SHRINK)
static const ew_row_fn shrink_tbl[ONYX_DTYPE_COUNT_] = {
    EW_FLOATS(EW_ENTRY, shrink) EW_SINTS(EW_ENTRY, shrink) EW_UINTS(EW_ENTRY, shrink)};
onyx_status *cpu_ew_Shrink(onyx_kernel_ctx *c) { return unary(c, shrink_tbl, c->state); }

#define OP_BITNOT(S, v) (~(v))
EW_SINTS(UN_ROW, bitnot, OP_BITNOT)
EW_UINTS(UN_ROW, bitnot, OP_BITNOT)
static const ew_row_fn bitnot_tbl[ONYX_DTYPE_COUNT_] = {EW_SINTS(EW_ENTRY, bitnot) EW_UINTS(EW_ENTRY, bitnot)};
onyx_status *cpu_ew_BitwiseNot(onyx_kernel_ctx *c) { return unary(c, bitnot_tbl, c->state); }

#define OP_NOT(S, v) (!(v))
UN_ROW(b8, not, OP_NOT)
static const ew_row_fn not_tbl[ONYX_DTYPE_COUNT_] = {EW_ENTRY(b8, not)};
onyx_status *cpu_ew_Not(onyx_kernel_ctx *c) { return unary(c, not_tbl, c->state); }

/* ---- predicates ------------------------------------------------------------- */

#define OP_ISNAN(S, v) isnan(v)
#define OP_ISINF(S, v) (isinf(v) && ((v) > 0 ? p->detect_pos : p->detect_neg))
EW_FLOATS(UN_ROW_BOOL, isnan, OP_ISNAN)
EW_FLOATS(UN_ROW_BOOL, isinf, OP_ISINF)
static const ew_row_fn isnan_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, isnan)};
static const ew_row_fn isinf_tbl[ONYX_DTYPE_COUNT_] = {EW_FLOATS(EW_ENTRY, isinf)};
onyx_status *cpu_ew_IsNaN(onyx_kernel_ctx *c) { return unary(c, isnan_tbl, c->state); }
onyx_status *cpu_ew_IsInf(onyx_kernel_ctx *c) { return unary(c, isinf_tbl, c->state); }

/* ---- Clip ---------------------------------------------------------------------- */

/* Bounds in the input's storage dtype; NULL: unbounded on that side. */
typedef struct clip_ctx {
  const void *lo, *hi;
} clip_ctx;

/* max(lo) first, then min(hi): lo > hi gives hi everywhere, as in ORT. NaN stays. */
#define CLIP_ROW(S, NAME)                                                                     \
  static void NAME##_##S(const void *ctx, void *yv, const void *const *xv, const int64_t *st, \
                         int64_t n) {                                                         \
    (void)st;                                                                                 \
    const clip_ctx *cc = ctx;                                                                 \
    const EW_C_##S lo = cc->lo ? EW_LD_##S(*(const EW_T_##S *)cc->lo) : EW_LO_##S;            \
    const EW_C_##S hi = cc->hi ? EW_LD_##S(*(const EW_T_##S *)cc->hi) : EW_HI_##S;            \
    EW_T_##S *restrict y = yv;                                                                \
    const EW_T_##S *restrict x = xv[0];                                                       \
    EW_LOOP(n, {                                                                              \
      EW_C_##S v = EW_LD_##S(x[i]);                                                           \
      v = v < lo ? lo : v;                                                                    \
      y[i] = EW_ST_##S(v > hi ? hi : v);                                                      \
    });                                                                                       \
  }
EW_FLOATS(CLIP_ROW, clip)
EW_SINTS(CLIP_ROW, clip)
EW_UINTS(CLIP_ROW, clip)
static const ew_row_fn clip_tbl[ONYX_DTYPE_COUNT_] = {
    EW_FLOATS(EW_ENTRY, clip) EW_SINTS(EW_ENTRY, clip) EW_UINTS(EW_ENTRY, clip)};

/* Reads one Clip bound: an optional scalar input (opset >= 11) or a float
 * attribute converted to the input dtype (before 11). */
static onyx_status *clip_bound(onyx_kernel_ctx *c, int input, const char *attr, uint64_t *buf,
                               const void **out) {
  *out = NULL;
  if (c->node->opset < 11) {
    const onyx_attr *a = onyx_node_attr(c->node, attr);
    if (!a) return NULL;
    if (!ew_convert(c->in[0]->dtype, buf, ONYX_DTYPE_FLOAT, &a->f, 1)) return ew_bad_dtype(c, 0);
    *out = buf;
    return NULL;
  }
  const onyx_tensor *t = input < c->n_in ? c->in[input] : NULL;
  if (!t) return NULL;
  if (t->dtype != c->in[0]->dtype || onyx_numel(t->rank, t->dims) != 1)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "'%s' must be a scalar of the input's dtype %s",
                           attr, onyx_dtype_name(c->in[0]->dtype));
  *out = t->data;
  return NULL;
}

onyx_status *cpu_ew_Clip(onyx_kernel_ctx *c) {
  uint64_t lo_buf, hi_buf;
  clip_ctx cc;
  ONYX_TRY(clip_bound(c, 1, "min", &lo_buf, &cc.lo));
  ONYX_TRY(clip_bound(c, 2, "max", &hi_buf, &cc.hi));
  return unary(c, clip_tbl, &cc);
}
