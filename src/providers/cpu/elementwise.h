/* elementwise.h — what the cpu elementwise kernels share: the family's kernel
 * list, per-dtype traits for generating typed loops, the attribute block
 * filled once at prepare, and the one broadcasting N-d iterator.
 *
 * Typed loops are generated with X-macros rather than written per dtype: a
 * dtype is named by a suffix S (f32, f64, f16, bf16, i8..i64, u8..u64, b8 for
 * bool) and EW_T_S / EW_C_S / EW_U_S / EW_LD_S / EW_ST_S give its storage
 * type, compute type (float16/bfloat16 compute in float32), wrap-around type
 * (integer + - * go through unsigned so overflow wraps instead of being
 * undefined), load and store. The iterator hands each loop contiguous rows
 * whose inputs have element stride 1 or 0 (broadcast), so loops can be
 * written as simple restrict-pointer loops that GCC vectorizes at -O2. */
#ifndef ONYX_CPU_ELEMENTWISE_H
#define ONYX_CPU_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "base/half.h"
#include "cpu.h"

/* ---- the family's kernels: K(Name) for every op in defs/elementwise.def --- */

/* Kernels checked to write each output element only after reading the same
 * element of every same-shaped input, so that the output may take an
 * input's memory (ONYX_KERNEL_IN_PLACE; the planner's in-place reuse). A
 * kernel joins this list only after its row functions have been read for
 * that (a row that writes a partial result into y and then reads x again
 * would break). */
#define EW_KERNELS_IN_PLACE(K)                                                               \
  K(Relu) K(LeakyRelu) K(Sigmoid) K(Tanh) K(Erf) K(Exp) K(Neg) K(Abs) K(Sqrt) K(Clip) K(Add)  \
  K(Sub) K(Mul) K(Div)

#define EW_KERNELS_OTHER(K)                                                                  \
  K(Log) K(Reciprocal) K(Floor) K(Ceil) K(Round) K(Sign)                                      \
  K(Sin) K(Cos) K(Tan) K(Asin) K(Acos) K(Atan) K(Sinh) K(Cosh) K(Asinh) K(Acosh) K(Atanh)     \
  K(IsNaN) K(IsInf) K(Not) K(BitwiseNot) K(PRelu)                                             \
  K(HardSigmoid) K(HardSwish) K(Elu) K(Selu) K(Celu) K(Softplus) K(Softsign)                  \
  K(ThresholdedRelu) K(Shrink) K(Mish) K(Gelu) K(Pow)                                         \
  K(Mod) K(Max) K(Min) K(Sum) K(Mean) K(BitShift) K(BitwiseAnd) K(BitwiseOr) K(BitwiseXor)    \
  K(And) K(Or) K(Xor) K(Equal) K(Less) K(LessOrEqual) K(Greater) K(GreaterOrEqual) K(Where)  \
  K(Cast) K(CastLike)

#define EW_KERNELS(K) EW_KERNELS_IN_PLACE(K) EW_KERNELS_OTHER(K)

#define EW_DECLARE_RUN(Name) onyx_status *cpu_ew_##Name(onyx_kernel_ctx *c);
EW_KERNELS(EW_DECLARE_RUN)
#undef EW_DECLARE_RUN

/* ---- attributes, read once at prepare (elementwise.c) -------------------- */

typedef struct ew_params {
  float alpha, beta, gamma, lambd, bias;
  int gelu_tanh;              /* Gelu approximate="tanh" */
  int detect_neg, detect_pos; /* IsInf */
  int fmod;                   /* Mod */
  int shift_left;             /* BitShift direction="LEFT" */
  int64_t to;                 /* Cast: target dtype */
} ew_params;

onyx_status *cpu_ew_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state);

/* ---- dtype traits ----------------------------------------------------------- */

#define EW_T_f32 float
#define EW_T_f64 double
#define EW_T_f16 uint16_t
#define EW_T_bf16 uint16_t
#define EW_T_i8 int8_t
#define EW_T_i16 int16_t
#define EW_T_i32 int32_t
#define EW_T_i64 int64_t
#define EW_T_u8 uint8_t
#define EW_T_u16 uint16_t
#define EW_T_u32 uint32_t
#define EW_T_u64 uint64_t
#define EW_T_b8 uint8_t

#define EW_C_f32 float
#define EW_C_f64 double
#define EW_C_f16 float
#define EW_C_bf16 float
#define EW_C_i8 int8_t
#define EW_C_i16 int16_t
#define EW_C_i32 int32_t
#define EW_C_i64 int64_t
#define EW_C_u8 uint8_t
#define EW_C_u16 uint16_t
#define EW_C_u32 uint32_t
#define EW_C_u64 uint64_t
#define EW_C_b8 uint8_t

#define EW_U_f32 float
#define EW_U_f64 double
#define EW_U_f16 float
#define EW_U_bf16 float
#define EW_U_i8 uint32_t
#define EW_U_i16 uint32_t
#define EW_U_i32 uint32_t
#define EW_U_i64 uint64_t
#define EW_U_u8 uint32_t
#define EW_U_u16 uint32_t
#define EW_U_u32 uint32_t
#define EW_U_u64 uint64_t
#define EW_U_b8 uint32_t

#define EW_D_f32 ONYX_DTYPE_FLOAT
#define EW_D_f64 ONYX_DTYPE_DOUBLE
#define EW_D_f16 ONYX_DTYPE_FLOAT16
#define EW_D_bf16 ONYX_DTYPE_BFLOAT16
#define EW_D_i8 ONYX_DTYPE_INT8
#define EW_D_i16 ONYX_DTYPE_INT16
#define EW_D_i32 ONYX_DTYPE_INT32
#define EW_D_i64 ONYX_DTYPE_INT64
#define EW_D_u8 ONYX_DTYPE_UINT8
#define EW_D_u16 ONYX_DTYPE_UINT16
#define EW_D_u32 ONYX_DTYPE_UINT32
#define EW_D_u64 ONYX_DTYPE_UINT64
#define EW_D_b8 ONYX_DTYPE_BOOL

#define EW_LD_f32(x) (x)
#define EW_LD_f64(x) (x)
#define EW_LD_f16(x) onyx_f16_to_f32(x)
#define EW_LD_bf16(x) onyx_bf16_to_f32(x)
#define EW_LD_i8(x) (x)
#define EW_LD_i16(x) (x)
#define EW_LD_i32(x) (x)
#define EW_LD_i64(x) (x)
#define EW_LD_u8(x) (x)
#define EW_LD_u16(x) (x)
#define EW_LD_u32(x) (x)
#define EW_LD_u64(x) (x)
#define EW_LD_b8(x) (x)

#define EW_ST_f32(v) ((float)(v))
#define EW_ST_f64(v) ((double)(v))
#define EW_ST_f16(v) onyx_f32_to_f16((float)(v))
#define EW_ST_bf16(v) onyx_f32_to_bf16((float)(v))
#define EW_ST_i8(v) ((int8_t)(v))
#define EW_ST_i16(v) ((int16_t)(v))
#define EW_ST_i32(v) ((int32_t)(v))
#define EW_ST_i64(v) ((int64_t)(v))
#define EW_ST_u8(v) ((uint8_t)(v))
#define EW_ST_u16(v) ((uint16_t)(v))
#define EW_ST_u32(v) ((uint32_t)(v))
#define EW_ST_u64(v) ((uint64_t)(v))
#define EW_ST_b8(v) ((uint8_t)((v) != 0))

/* Lowest / highest value of the compute type (Clip's defaults). */
#define EW_LO_f32 (-INFINITY)
#define EW_LO_f64 (-INFINITY)
#define EW_LO_f16 (-INFINITY)
#define EW_LO_bf16 (-INFINITY)
#define EW_LO_i8 INT8_MIN
#define EW_LO_i16 INT16_MIN
#define EW_LO_i32 INT32_MIN
#define EW_LO_i64 INT64_MIN
#define EW_LO_u8 0
#define EW_LO_u16 0
#define EW_LO_u32 0
#define EW_LO_u64 0
#define EW_HI_f32 INFINITY
#define EW_HI_f64 INFINITY
#define EW_HI_f16 INFINITY
#define EW_HI_bf16 INFINITY
#define EW_HI_i8 INT8_MAX
#define EW_HI_i16 INT16_MAX
#define EW_HI_i32 INT32_MAX
#define EW_HI_i64 INT64_MAX
#define EW_HI_u8 UINT8_MAX
#define EW_HI_u16 UINT16_MAX
#define EW_HI_u32 UINT32_MAX
#define EW_HI_u64 UINT64_MAX

/* Type lists: X(S, extra...) for each dtype of the group. */
#define EW_FLOATS(X, ...) X(f32, __VA_ARGS__) X(f64, __VA_ARGS__) X(f16, __VA_ARGS__) X(bf16, __VA_ARGS__)
#define EW_SINTS(X, ...) X(i8, __VA_ARGS__) X(i16, __VA_ARGS__) X(i32, __VA_ARGS__) X(i64, __VA_ARGS__)
#define EW_UINTS(X, ...) X(u8, __VA_ARGS__) X(u16, __VA_ARGS__) X(u32, __VA_ARGS__) X(u64, __VA_ARGS__)

/* Designated initializer of a dtype-indexed table: [dtype] = NAME_S. */
#define EW_ENTRY(S, NAME) [EW_D_##S] = NAME##_##S,

/* Runs BODY for i in [0, n) in fixed blocks plus a tail: GCC 12 at -O2 only
 * vectorizes loops whose trip count it knows, so the block loop is what
 * turns into SIMD code. BODY sees `i`. */
#define EW_BLOCK 16
#define EW_LOOP(n, BODY)                                                  \
  do {                                                                    \
    int64_t i0_ = 0;                                                      \
    for (; i0_ + EW_BLOCK <= (n); i0_ += EW_BLOCK)                        \
      for (int64_t j_ = 0; j_ < EW_BLOCK; j_++) {                         \
        const int64_t i = i0_ + j_;                                       \
        BODY;                                                             \
      }                                                                   \
    for (int64_t i = i0_; i < (n); i++) {                                 \
      BODY;                                                               \
    }                                                                     \
  } while (0)

/* ---- the broadcasting iterator (elementwise_bcast.c) ---------------------- */

#define EW_MAX_IN 8

/* A row: n consecutive output elements at y; x[k] points at input k's
 * element for the first of them and advances by st[k] (0 or 1) elements per
 * output element. `ctx` is the kernel's read-only context. */
typedef void (*ew_row_fn)(const void *ctx, void *y, const void *const *x, const int64_t *st,
                          int64_t n);

/* Output y (allocated) and up to EW_MAX_IN inputs, each broadcastable to y's
 * shape, with dims of size 1 dropped and contiguous dims merged. */
typedef struct ew_iter {
  int rank, n_in;
  int64_t dims[ONYX_MAX_RANK];
  int64_t st[EW_MAX_IN][ONYX_MAX_RANK]; /* element strides, 0 on broadcast dims */
  char *y;
  const char *x[EW_MAX_IN];
  size_t ysize, xsize[EW_MAX_IN];
} ew_iter;

/* Elements per thread chunk: below this, threads cost more than they give. */
#define EW_GRAIN 16384

void ew_iter_init(ew_iter *it, onyx_tensor *y, int n_in, const onyx_tensor *const *x);
/* Calls fn over every output element, split over the pool's threads. */
void ew_iter_run(const ew_iter *it, const onyx_threadpool *pool, ew_row_fn fn, const void *ctx);

/* Allocates c->out[k] when the executor could not (data NULL) with the
 * broadcast shape of inputs [first, first + count) (NULL ones skipped);
 * otherwise checks it has that shape. */
onyx_status *ew_out_bcast(onyx_kernel_ctx *c, int k, int first, int count);

/* Error for an input dtype the kernel does not cover. */
onyx_status *ew_bad_dtype(const onyx_kernel_ctx *c, int input);

/* ---- conversions (elementwise_cast.c) -------------------------------------- */

/* Converts n elements between numeric dtypes (incl. bool, float16, bfloat16)
 * the way Cast does. Returns false for a pair it does not cover. */
bool ew_convert(onyx_dtype to, void *y, onyx_dtype from, const void *x, int64_t n);

#endif
