// cuda_kernels.cu — the cuda provider's CUDA C kernels and their C launchers
// (see cuda_kernels.h). Elementwise kernels use grid-stride loops; the
// same-shape float32 paths move 16 bytes per access. Row kernels (softmax,
// layer normalization, reductions over the innermost axis) use one block
// per row with warp-shuffle reductions; over a middle axis, one thread per
// output column. Everything computes in float (double for casts).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "cuda_kernels.h"

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  return (int)(b > (1 << 20) ? (1 << 20) : b);   // grid-stride beyond that
}

template <typename T> __device__ __forceinline__ float ld(const T *p, int64_t i) { return (float)p[i]; }
template <> __device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
template <> __device__ __forceinline__ float ld(const __nv_bfloat16 *p, int64_t i) { return __bfloat162float(p[i]); }
template <typename T> __device__ __forceinline__ void st(T *p, int64_t i, float v) { p[i] = (T)v; }
template <> __device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }
template <> __device__ __forceinline__ void st(__nv_bfloat16 *p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// offset of output index i in input k under broadcasting
__device__ __forceinline__ int64_t bc_offset(const cu_bcast &bc, int k, int64_t i) {
  int64_t off = 0;
  for (int d = bc.rank - 1; d >= 0; d--) {
    int64_t q = i / bc.dims[d];
    off += (i - q * bc.dims[d]) * bc.stride[k][d];
    i = q;
  }
  return off;
}

__device__ __forceinline__ float binop(cu_binop op, float a, float b) {
  switch (op) {
    case CU_ADD: return a + b;
    case CU_SUB: return a - b;
    case CU_MUL: return a * b;
    case CU_DIV: return a / b;
    case CU_POW: return powf(a, b);
    case CU_MAX: return (a != a || a > b) ? a : b;
    case CU_MIN: return (a != a || a < b) ? a : b;
    case CU_PRELU: return a < 0.f ? a * b : a;
    case CU_EQ: return a == b;
    case CU_LT: return a < b;
    case CU_GT: return a > b;
    case CU_LE: return a <= b;
    case CU_GE: return a >= b;
  }
  return 0.f;
}

template <typename T>
__global__ void binary_k(cu_binop op, const T *a, const T *b, void *y, int64_t n, cu_bcast bc, bool has_bc,
                         bool cmp) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia = has_bc ? bc_offset(bc, 0, i) : i, ib = has_bc ? bc_offset(bc, 1, i) : i;
    float r = binop(op, ld(a, ia), ld(b, ib));
    if (cmp) ((uint8_t *)y)[i] = (uint8_t)(r != 0.f);
    else st((T *)y, i, r);
  }
}

// same-shape float32, 16 bytes per access
__global__ void binary_f32x4_k(cu_binop op, const float4 *a, const float4 *b, float4 *y, int64_t n4) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
    float4 p = a[i], q = b[i];
    y[i] = make_float4(binop(op, p.x, q.x), binop(op, p.y, q.y), binop(op, p.z, q.z), binop(op, p.w, q.w));
  }
}

__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float unop(cu_unop op, float x, float alpha, float beta) {
  switch (op) {
    case CU_RELU: return x > 0.f ? x : 0.f;
    case CU_LEAKY_RELU: return x >= 0.f ? x : alpha * x;
    case CU_SIGMOID: return 1.f / (1.f + expf(-x));
    case CU_TANH: return tanhf(x);
    case CU_EXP: return expf(x);
    case CU_LOG: return logf(x);
    case CU_SQRT: return sqrtf(x);
    case CU_NEG: return -x;
    case CU_ABS: return fabsf(x);
    case CU_ERF: return erff(x);
    case CU_GELU: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case CU_GELU_TANH: return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case CU_HARD_SIGMOID: return fminf(1.f, fmaxf(0.f, alpha * x + beta));
    case CU_HARD_SWISH: return x * fminf(1.f, fmaxf(0.f, x / 6.f + 0.5f));
    case CU_SOFTPLUS: return softplus(x);
    case CU_SOFTSIGN: return x / (1.f + fabsf(x));
    case CU_ELU: return x > 0.f ? x : alpha * (expf(x) - 1.f);
    case CU_SELU: return beta * (x > 0.f ? x : alpha * (expf(x) - 1.f));
    case CU_CELU: return fmaxf(0.f, x) + fminf(0.f, alpha * (expf(x / alpha) - 1.f));
    case CU_MISH: return x * tanhf(softplus(x));
    case CU_CLIP: return x != x ? x : fminf(fmaxf(x, alpha), beta);
    case CU_RECIPROCAL: return 1.f / x;
    case CU_FLOOR: return floorf(x);
    case CU_CEIL: return ceilf(x);
    case CU_ROUND: return rintf(x);
    case CU_SIN: return sinf(x);
    case CU_COS: return cosf(x);
    case CU_SIGN: return x > 0.f ? 1.f : x < 0.f ? -1.f : 0.f;
    case CU_IDENTITY: return x;
    case CU_SCALE: return alpha * x;
  }
  return x;
}

template <typename T>
__global__ void unary_k(cu_unop op, const T *x, T *y, int64_t n, float alpha, float beta) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    st(y, i, unop(op, ld(x, i), alpha, beta));
}

__global__ void unary_f32x4_k(cu_unop op, const float4 *x, float4 *y, int64_t n4, float alpha, float beta) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
    float4 v = x[i];
    y[i] = make_float4(unop(op, v.x, alpha, beta), unop(op, v.y, alpha, beta), unop(op, v.z, alpha, beta),
                       unop(op, v.w, alpha, beta));
  }
}

template <typename E>
__global__ void where_k(const uint8_t *c, const E *a, const E *b, E *y, int64_t n, cu_bcast bc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = c[bc_offset(bc, 0, i)] ? a[bc_offset(bc, 1, i)] : b[bc_offset(bc, 2, i)];
}

template <typename E> __global__ void expand_k(const E *x, E *y, int64_t n, cu_bcast bc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[bc_offset(bc, 0, i)];
}

// ---- block reductions -------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_min(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// kind 0 sum, 1 max, 2 min; every thread of the block gets the result
__device__ float block_reduce(float v, int kind) {
  __shared__ float part[32];
  __shared__ float result;
  v = kind == 0 ? warp_sum(v) : kind == 1 ? warp_max(v) : warp_min(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();   // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float id = kind == 0 ? 0.f : kind == 1 ? -INFINITY : INFINITY;
    float w = lane < nw ? part[lane] : id;
    w = kind == 0 ? warp_sum(w) : kind == 1 ? warp_max(w) : warp_min(w);
    if (lane == 0) result = w;
  }
  __syncthreads();
  return result;
}

template <typename T> __global__ void softmax_rows_k(const T *x, T *y, int64_t len, bool log) {
  const T *xr = x + blockIdx.x * len;
  T *yr = y + blockIdx.x * len;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, ld(xr, j));
  m = block_reduce(m, 1);
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += expf(ld(xr, j) - m);
  s = block_reduce(s, 0);
  float ls = logf(s), inv = 1.f / s;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    float d = ld(xr, j) - m;
    st(yr, j, log ? d - ls : expf(d) * inv);
  }
}

template <typename T>
__global__ void softmax_cols_k(const T *x, T *y, int64_t outer, int64_t len, int64_t inner, bool log) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < outer * inner;
       c += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = c / inner, r = c - o * inner, base = o * len * inner + r;
    float m = -INFINITY, s = 0.f;
    for (int64_t j = 0; j < len; j++) m = fmaxf(m, ld(x, base + j * inner));
    for (int64_t j = 0; j < len; j++) s += expf(ld(x, base + j * inner) - m);
    float ls = logf(s), inv = 1.f / s;
    for (int64_t j = 0; j < len; j++) {
      float d = ld(x, base + j * inner) - m;
      st(y, base + j * inner, log ? d - ls : expf(d) * inv);
    }
  }
}

template <typename T>
__global__ void layer_norm_k(const T *x, const T *skip, const T *sbias, const T *scale, const T *bias, T *y, T *sum_out,
                             int64_t cols, float eps) {
  int64_t row = blockIdx.x;
  const T *xr = x + row * cols;
  const T *sr = skip ? skip + row * cols : nullptr;
  auto val = [&](int64_t j) {
    float v = ld(xr, j);
    if (sr) v += ld(sr, j);
    if (sbias) v += ld(sbias, j);
    return v;
  };
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += val(j);
  float mean = block_reduce(s, 0) / (float)cols;
  float q = 0.f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float d = val(j) - mean;
    q += d * d;
  }
  float rstd = rsqrtf(block_reduce(q, 0) / (float)cols + eps);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = val(j);
    if (sum_out) st(sum_out, row * cols + j, v);
    float r = (v - mean) * rstd * ld(scale, j);
    if (bias) r += ld(bias, j);
    st(y, row * cols + j, r);
  }
}

// map.dims: the output's dims; map.stride[0]: the input stride of each
template <typename E> __global__ void transpose_k(const E *x, E *y, int64_t n, cu_bcast map) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[bc_offset(map, 0, i)];
}

template <typename E> __global__ void slice_k(const E *x, E *y, int64_t n, int64_t base, cu_bcast map) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[base + bc_offset(map, 0, i)];
}

template <typename E, typename I>
__global__ void gather_k(const E *x, const I *idx, E *y, int64_t outer, int64_t axis_len, int64_t inner, int64_t n_idx) {
  int64_t n = outer * n_idx * inner;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i % inner, j = (i / inner) % n_idx, o = i / (inner * n_idx);
    int64_t k = (int64_t)idx[j];
    if (k < 0) k += axis_len;
    y[i] = k >= 0 && k < axis_len ? x[(o * axis_len + k) * inner + r] : E(0);
  }
}

// ---- casts ----------------------------------------------------------------------------

template <typename T> __device__ __forceinline__ double ldd(const T *p, int64_t i) { return (double)p[i]; }
template <> __device__ __forceinline__ double ldd(const __half *p, int64_t i) { return (double)__half2float(p[i]); }
template <> __device__ __forceinline__ double ldd(const __nv_bfloat16 *p, int64_t i) {
  return (double)__bfloat162float(p[i]);
}
template <typename T> __device__ __forceinline__ void std_(T *p, int64_t i, double v) { p[i] = (T)v; }
template <> __device__ __forceinline__ void std_(__half *p, int64_t i, double v) { p[i] = __float2half_rn((float)v); }
template <> __device__ __forceinline__ void std_(__nv_bfloat16 *p, int64_t i, double v) {
  p[i] = __float2bfloat16_rn((float)v);
}

struct boolean {   // ONNX bool: one byte, 0 or 1
  uint8_t b;
};
template <> __device__ __forceinline__ double ldd(const boolean *p, int64_t i) { return p[i].b ? 1.0 : 0.0; }
template <> __device__ __forceinline__ void std_(boolean *p, int64_t i, double v) { p[i].b = v != 0.0; }

template <typename F, typename T> __global__ void cast_k(const F *x, T *y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    std_(y, i, ldd(x, i));
}

// ONNX dtype values (onyx.h's ONYX_DTYPE_*) of the casts supported
enum { T_F32 = 1, T_U8 = 2, T_I8 = 3, T_U16 = 4, T_I16 = 5, T_I32 = 6, T_I64 = 7, T_BOOL = 9, T_F16 = 10,
       T_F64 = 11, T_U32 = 12, T_U64 = 13, T_BF16 = 16 };

template <typename F> cudaError_t cast_to(int to, const F *x, void *y, int64_t n, cudaStream_t s) {
  int b = blocks_for(n);
  switch (to) {
    case T_F32: cast_k<<<b, kThreads, 0, s>>>(x, (float *)y, n); break;
    case T_F64: cast_k<<<b, kThreads, 0, s>>>(x, (double *)y, n); break;
    case T_F16: cast_k<<<b, kThreads, 0, s>>>(x, (__half *)y, n); break;
    case T_BF16: cast_k<<<b, kThreads, 0, s>>>(x, (__nv_bfloat16 *)y, n); break;
    case T_I8: cast_k<<<b, kThreads, 0, s>>>(x, (int8_t *)y, n); break;
    case T_U8: cast_k<<<b, kThreads, 0, s>>>(x, (uint8_t *)y, n); break;
    case T_I16: cast_k<<<b, kThreads, 0, s>>>(x, (int16_t *)y, n); break;
    case T_U16: cast_k<<<b, kThreads, 0, s>>>(x, (uint16_t *)y, n); break;
    case T_I32: cast_k<<<b, kThreads, 0, s>>>(x, (int32_t *)y, n); break;
    case T_U32: cast_k<<<b, kThreads, 0, s>>>(x, (uint32_t *)y, n); break;
    case T_I64: cast_k<<<b, kThreads, 0, s>>>(x, (int64_t *)y, n); break;
    case T_U64: cast_k<<<b, kThreads, 0, s>>>(x, (uint64_t *)y, n); break;
    case T_BOOL: cast_k<<<b, kThreads, 0, s>>>(x, (boolean *)y, n); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

// ---- reductions -------------------------------------------------------------------------

__device__ __forceinline__ float red_init(int op) { return op == 2 ? -INFINITY : op == 3 ? INFINITY : 0.f; }
__device__ __forceinline__ float red_step(int op, float acc, float v, float m) {
  switch (op) {
    case 2: return fmaxf(acc, v);
    case 3: return fminf(acc, v);
    case 4: return acc + v * v;
    case 5: return acc + expf(v - m);
    default: return acc + v;
  }
}
__device__ __forceinline__ float red_final(int op, float acc, int64_t len, float m) {
  return op == 1 ? acc / (float)len : op == 5 ? logf(acc) + m : acc;
}

template <typename T> __global__ void reduce_rows_k(int op, const T *x, T *y, int64_t len) {
  const T *xr = x + blockIdx.x * len;
  float m = 0.f;
  if (op == 5) {   // log-sum-exp: shift by the row's max
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) mx = fmaxf(mx, ld(xr, j));
    m = block_reduce(mx, 1);
  }
  float acc = red_init(op);
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) acc = red_step(op, acc, ld(xr, j), m);
  acc = block_reduce(acc, op == 2 ? 1 : op == 3 ? 2 : 0);
  if (threadIdx.x == 0) st(y, blockIdx.x, red_final(op, acc, len, m));
}

template <typename T>
__global__ void reduce_cols_k(int op, const T *x, T *y, int64_t outer, int64_t len, int64_t inner) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < outer * inner;
       c += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = c / inner, r = c - o * inner, base = o * len * inner + r;
    float m = 0.f;
    if (op == 5) {
      m = -INFINITY;
      for (int64_t j = 0; j < len; j++) m = fmaxf(m, ld(x, base + j * inner));
    }
    float acc = red_init(op);
    for (int64_t j = 0; j < len; j++) acc = red_step(op, acc, ld(x, base + j * inner), m);
    st(y, c, red_final(op, acc, len, m));
  }
}

template <typename T>
__global__ void batch_norm_k(const T *x, const T *scale, const T *bias, const T *mean, const T *var, T *y, int64_t n,
                             int64_t channels, int64_t inner, float eps) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = (i / inner) % channels;
    float k = ld(scale, c) * rsqrtf(ld(var, c) + eps);
    st(y, i, (ld(x, i) - ld(mean, c)) * k + ld(bias, c));
  }
}

__global__ void trap_k() { __trap(); }

}  // namespace

// ---- launchers ------------------------------------------------------------------------------

// the launch (a statement with commas, hence variadic) for each type
#define DISPATCH_DT(dt, T, ...)                                 \
  switch (dt) {                                                 \
    case CU_F32: { typedef float T; __VA_ARGS__; } break;       \
    case CU_F16: { typedef __half T; __VA_ARGS__; } break;      \
    case CU_BF16: { typedef __nv_bfloat16 T; __VA_ARGS__; } break; \
  }

#define DISPATCH_ELEM(elem, E, ...)                        \
  switch (elem) {                                          \
    case 1: { typedef uint8_t E; __VA_ARGS__; } break;     \
    case 2: { typedef uint16_t E; __VA_ARGS__; } break;    \
    case 4: { typedef uint32_t E; __VA_ARGS__; } break;    \
    case 8: { typedef uint64_t E; __VA_ARGS__; } break;    \
    default: return cudaErrorInvalidValue;                 \
  }

extern "C" cudaError_t cu_binary(cu_binop op, cu_dt dt, const void *a, const void *b, void *y, int64_t n,
                                 const cu_bcast *bc, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  bool cmp = op >= CU_EQ;
  if (!bc && !cmp && dt == CU_F32 && n % 4 == 0 && !(((uintptr_t)a | (uintptr_t)b | (uintptr_t)y) & 15)) {
    binary_f32x4_k<<<blocks_for(n / 4), kThreads, 0, s>>>(op, (const float4 *)a, (const float4 *)b, (float4 *)y, n / 4);
    return cudaGetLastError();
  }
  cu_bcast none = {};
  DISPATCH_DT(dt, T, binary_k<<<blocks_for(n), kThreads, 0, s>>>(op, (const T *)a, (const T *)b, y, n, bc ? *bc : none,
                                                                 bc != nullptr, cmp))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_unary(cu_unop op, cu_dt dt, const void *x, void *y, int64_t n, float alpha, float beta,
                                cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (dt == CU_F32 && n % 4 == 0 && !(((uintptr_t)x | (uintptr_t)y) & 15)) {
    unary_f32x4_k<<<blocks_for(n / 4), kThreads, 0, s>>>(op, (const float4 *)x, (float4 *)y, n / 4, alpha, beta);
    return cudaGetLastError();
  }
  DISPATCH_DT(dt, T, unary_k<<<blocks_for(n), kThreads, 0, s>>>(op, (const T *)x, (T *)y, n, alpha, beta))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_where(int elem, const uint8_t *cond, const void *a, const void *b, void *y, int64_t n,
                                const cu_bcast *bc, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  DISPATCH_ELEM(elem, E, where_k<<<blocks_for(n), kThreads, 0, s>>>(cond, (const E *)a, (const E *)b, (E *)y, n, *bc))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_expand(int elem, const void *x, void *y, int64_t n, const cu_bcast *bc, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  DISPATCH_ELEM(elem, E, expand_k<<<blocks_for(n), kThreads, 0, s>>>((const E *)x, (E *)y, n, *bc))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_softmax(cu_dt dt, const void *x, void *y, int64_t outer, int64_t len, int64_t inner, bool log,
                                  cudaStream_t s) {
  if (outer * len * inner <= 0) return cudaSuccess;
  if (inner == 1) {
    if (outer > INT32_MAX) return cudaErrorInvalidValue;
    DISPATCH_DT(dt, T, softmax_rows_k<<<(unsigned)outer, kThreads, 0, s>>>((const T *)x, (T *)y, len, log))
  } else {
    DISPATCH_DT(dt, T, softmax_cols_k<<<blocks_for(outer * inner), kThreads, 0, s>>>((const T *)x, (T *)y, outer, len,
                                                                                     inner, log))
  }
  return cudaGetLastError();
}

extern "C" cudaError_t cu_layer_norm(cu_dt dt, const void *x, const void *skip, const void *sbias, const void *scale,
                                     const void *bias, void *y, void *sum_out, int64_t rows, int64_t cols, float eps,
                                     cudaStream_t s) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  if (rows > INT32_MAX) return cudaErrorInvalidValue;
  DISPATCH_DT(dt, T,
              layer_norm_k<<<(unsigned)rows, kThreads, 0, s>>>((const T *)x, (const T *)skip, (const T *)sbias,
                                                               (const T *)scale, (const T *)bias, (T *)y, (T *)sum_out,
                                                               cols, eps))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_transpose(int elem, const void *x, void *y, int rank, const int64_t *dims, const int *perm,
                                    cudaStream_t s) {
  if (rank > CU_MAX_RANK) return cudaErrorInvalidValue;
  cu_bcast map = {};
  int64_t in_stride[CU_MAX_RANK], n = 1, acc = 1;
  for (int d = rank - 1; d >= 0; d--) {
    in_stride[d] = acc;
    acc *= dims[d];
  }
  map.rank = rank;
  for (int d = 0; d < rank; d++) {
    map.dims[d] = dims[perm[d]];
    map.stride[0][d] = in_stride[perm[d]];
    n *= map.dims[d];
  }
  if (n <= 0) return cudaSuccess;
  DISPATCH_ELEM(elem, E, transpose_k<<<blocks_for(n), kThreads, 0, s>>>((const E *)x, (E *)y, n, map))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_slice(int elem, const void *x, void *y, int rank, const int64_t *out_dims,
                                const int64_t *in_strides, const int64_t *starts, const int64_t *steps, cudaStream_t s) {
  if (rank > CU_MAX_RANK) return cudaErrorInvalidValue;
  cu_bcast map = {};
  int64_t n = 1, base = 0;
  map.rank = rank;
  for (int d = 0; d < rank; d++) {
    map.dims[d] = out_dims[d];
    map.stride[0][d] = steps[d] * in_strides[d];
    base += starts[d] * in_strides[d];
    n *= out_dims[d];
  }
  if (n <= 0) return cudaSuccess;
  DISPATCH_ELEM(elem, E, slice_k<<<blocks_for(n), kThreads, 0, s>>>((const E *)x, (E *)y, n, base, map))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_gather(int elem, const void *x, const void *idx, bool idx64, void *y, int64_t outer,
                                 int64_t axis_len, int64_t inner, int64_t n_idx, cudaStream_t s) {
  int64_t n = outer * n_idx * inner;
  if (n <= 0) return cudaSuccess;
  if (idx64) {
    DISPATCH_ELEM(elem, E, gather_k<<<blocks_for(n), kThreads, 0, s>>>((const E *)x, (const int64_t *)idx, (E *)y, outer,
                                                                       axis_len, inner, n_idx))
  } else {
    DISPATCH_ELEM(elem, E, gather_k<<<blocks_for(n), kThreads, 0, s>>>((const E *)x, (const int32_t *)idx, (E *)y, outer,
                                                                       axis_len, inner, n_idx))
  }
  return cudaGetLastError();
}

extern "C" cudaError_t cu_cast(int from, int to, const void *x, void *y, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  switch (from) {
    case T_F32: return cast_to(to, (const float *)x, y, n, s);
    case T_F64: return cast_to(to, (const double *)x, y, n, s);
    case T_F16: return cast_to(to, (const __half *)x, y, n, s);
    case T_BF16: return cast_to(to, (const __nv_bfloat16 *)x, y, n, s);
    case T_I8: return cast_to(to, (const int8_t *)x, y, n, s);
    case T_U8: return cast_to(to, (const uint8_t *)x, y, n, s);
    case T_I16: return cast_to(to, (const int16_t *)x, y, n, s);
    case T_U16: return cast_to(to, (const uint16_t *)x, y, n, s);
    case T_I32: return cast_to(to, (const int32_t *)x, y, n, s);
    case T_U32: return cast_to(to, (const uint32_t *)x, y, n, s);
    case T_I64: return cast_to(to, (const int64_t *)x, y, n, s);
    case T_U64: return cast_to(to, (const uint64_t *)x, y, n, s);
    case T_BOOL: return cast_to(to, (const boolean *)x, y, n, s);
    default: return cudaErrorInvalidValue;
  }
}

extern "C" cudaError_t cu_reduce(int op, cu_dt dt, const void *x, void *y, int64_t outer, int64_t len, int64_t inner,
                                 cudaStream_t s) {
  if (outer * inner <= 0) return cudaSuccess;
  if (inner == 1 && len >= 64) {
    if (outer > INT32_MAX) return cudaErrorInvalidValue;
    DISPATCH_DT(dt, T, reduce_rows_k<<<(unsigned)outer, kThreads, 0, s>>>(op, (const T *)x, (T *)y, len))
  } else {
    DISPATCH_DT(dt, T, reduce_cols_k<<<blocks_for(outer * inner), kThreads, 0, s>>>(op, (const T *)x, (T *)y, outer, len,
                                                                                    inner))
  }
  return cudaGetLastError();
}

extern "C" cudaError_t cu_batch_norm(cu_dt dt, const void *x, const void *scale, const void *bias, const void *mean,
                                     const void *var, void *y, int64_t outer, int64_t channels, int64_t inner, float eps,
                                     cudaStream_t s) {
  int64_t n = outer * channels * inner;
  if (n <= 0) return cudaSuccess;
  DISPATCH_DT(dt, T, batch_norm_k<<<blocks_for(n), kThreads, 0, s>>>((const T *)x, (const T *)scale, (const T *)bias,
                                                                     (const T *)mean, (const T *)var, (T *)y, n,
                                                                     channels, inner, eps))
  return cudaGetLastError();
}

extern "C" cudaError_t cu_trap(cudaStream_t s) {
  trap_k<<<1, 1, 0, s>>>();
  return cudaGetLastError();
}
