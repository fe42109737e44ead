/* cuda_ops.c — the cuda provider's kernel table: which ops it takes (and
 * when), and their run functions, which read shapes and attributes on the
 * host and enqueue CUDA C kernels (cuda_kernels.cu), cuBLASLt calls
 * (cuda_blas.c) or device copies on the run's stream. Shape-like inputs
 * (Reshape's shape, Slice's starts/ends/axes/steps, Clip's bounds,
 * reduction axes) are host-placed, so output sizes are known before the
 * kernels run and the executor allocates every output in advance.
 *
 * Float kernels take float32, float16 and bfloat16. A node whose dtypes or
 * attributes are outside what a kernel covers is declined at planning
 * (supports), so it falls back to dnnl/cpu with copies; run never answers
 * NOT_IMPLEMENTED for a node it accepted. */
#include <string.h>

#include "cuda_internal.h"

#define FLOATS (ONYX_DT(FLOAT) | ONYX_DT(FLOAT16) | ONYX_DT(BFLOAT16))

#define LAUNCH(c, call) ONYX_TRY(cu_check(cp, (call), #call, (c)->node))

/* Output i with its data (sized by the executor from the op's infer). */
static onyx_status *out_ready(onyx_kernel_ctx *c, int i) {
  if (!c->out[i] || !c->out[i]->data)
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: output %d was not sized before the kernel", i);
  return NULL;
}

static int64_t numel(const onyx_tensor *t) { return onyx_numel(t->rank, t->dims); }


/* The broadcast of inputs in[0..n) to output y's dims. */
static onyx_status *bcast_of(onyx_kernel_ctx *c, const onyx_tensor *y, int n, onyx_tensor *const *in, cu_bcast *bc) {
  if (y->rank > CU_MAX_RANK) return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: rank %d", y->rank);
  *bc = (cu_bcast){.rank = y->rank};
  memcpy(bc->dims, y->dims, (size_t)y->rank * sizeof y->dims[0]);
  for (int k = 0; k < n; k++) cu_bcast_input(bc, k, in[k]);
  return NULL;
}

static bool same_dims(const onyx_tensor *a, const onyx_tensor *b) {
  return a->rank == b->rank && !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]);
}

/* ---- elementwise --------------------------------------------------------------------- */

static int binop_of(int op) {
  if (op == onyx_op_Add) return CU_ADD;
  if (op == onyx_op_Sub) return CU_SUB;
  if (op == onyx_op_Mul) return CU_MUL;
  if (op == onyx_op_Div) return CU_DIV;
  if (op == onyx_op_Pow) return CU_POW;
  if (op == onyx_op_Max) return CU_MAX;
  if (op == onyx_op_Min) return CU_MIN;
  if (op == onyx_op_PRelu) return CU_PRELU;
  if (op == onyx_op_Equal) return CU_EQ;
  if (op == onyx_op_Less) return CU_LT;
  if (op == onyx_op_Greater) return CU_GT;
  if (op == onyx_op_LessOrEqual) return CU_LE;
  if (op == onyx_op_GreaterOrEqual) return CU_GE;
  return -1;
}

static onyx_status *binary_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *a = c->in[0], *b = c->in[1];
  onyx_tensor *y = c->out[0];
  int64_t n = numel(y);
  cu_bcast bc;
  bool plain = same_dims(a, y) && same_dims(b, y);
  if (!plain) ONYX_TRY(bcast_of(c, y, 2, c->in, &bc));
  LAUNCH(c, cu_binary((cu_binop)binop_of(c->node->op), cu_dt_of(a->dtype), a->data, b->data, y->data, n,
                      plain ? NULL : &bc, stream));
  return NULL;
}

static const struct { int op; cu_unop u; } unops[] = {
    {onyx_op_Relu, CU_RELU}, {onyx_op_LeakyRelu, CU_LEAKY_RELU}, {onyx_op_Sigmoid, CU_SIGMOID},
    {onyx_op_Tanh, CU_TANH}, {onyx_op_Exp, CU_EXP}, {onyx_op_Log, CU_LOG}, {onyx_op_Sqrt, CU_SQRT},
    {onyx_op_Neg, CU_NEG}, {onyx_op_Abs, CU_ABS}, {onyx_op_Erf, CU_ERF}, {onyx_op_Gelu, CU_GELU},
    {onyx_op_HardSigmoid, CU_HARD_SIGMOID}, {onyx_op_HardSwish, CU_HARD_SWISH}, {onyx_op_Softplus, CU_SOFTPLUS},
    {onyx_op_Softsign, CU_SOFTSIGN}, {onyx_op_Elu, CU_ELU}, {onyx_op_Selu, CU_SELU}, {onyx_op_Celu, CU_CELU},
    {onyx_op_Mish, CU_MISH}, {onyx_op_Reciprocal, CU_RECIPROCAL}, {onyx_op_Floor, CU_FLOOR}, {onyx_op_Ceil, CU_CEIL},
    {onyx_op_Round, CU_ROUND}, {onyx_op_Sin, CU_SIN}, {onyx_op_Cos, CU_COS}, {onyx_op_Sign, CU_SIGN},
    {onyx_op_Dropout, CU_IDENTITY}, {onyx_op_Clip, CU_CLIP},
};

static int unop_of(int op) {
  for (size_t i = 0; i < sizeof unops / sizeof unops[0]; i++)
    if (unops[i].op == op) return (int)unops[i].u;
  return -1;
}

/* Clip's bound from input k (host-placed) or its attribute (opset < 11). */
static float clip_bound(onyx_kernel_ctx *c, int k, const char *attr, float def) {
  if (c->n_in > k && c->in[k]) return (float)onyx_tensor_get_f64(c->in[k], 0);
  return onyx_attr_float(c->node, attr, def);
}

static onyx_status *unary_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  int op = n->op;
  cu_unop u = (cu_unop)unop_of(op);
  float alpha = 0, beta = 0;
  if (op == onyx_op_LeakyRelu) alpha = onyx_attr_float(n, "alpha", 0.01f);
  else if (op == onyx_op_HardSigmoid) alpha = onyx_attr_float(n, "alpha", 0.2f), beta = onyx_attr_float(n, "beta", 0.5f);
  else if (op == onyx_op_Elu || op == onyx_op_Celu) alpha = onyx_attr_float(n, "alpha", 1.0f);
  else if (op == onyx_op_Selu)
    alpha = onyx_attr_float(n, "alpha", 1.67326319217681884765625f),
    beta = onyx_attr_float(n, "gamma", 1.05070102214813232421875f);
  else if (op == onyx_op_Clip) alpha = clip_bound(c, 1, "min", -INFINITY), beta = clip_bound(c, 2, "max", INFINITY);
  else if (op == onyx_op_Gelu && !strcmp(onyx_attr_string(n, "approximate", "none"), "tanh")) u = CU_GELU_TANH;
  if (u == CU_IDENTITY) {
    if (y->data != x->data) LAUNCH(c, cudaMemcpyAsync(y->data, x->data, x->nbytes, cudaMemcpyDeviceToDevice, stream));
    return NULL;
  }
  LAUNCH(c, cu_unary(u, cu_dt_of(x->dtype), x->data, y->data, numel(y), alpha, beta, stream));
  return NULL;
}

static onyx_status *where_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  onyx_tensor *y = c->out[0];
  cu_bcast bc;
  ONYX_TRY(bcast_of(c, y, 3, c->in, &bc));
  LAUNCH(c, cu_where((int)onyx_dtype_size(y->dtype), c->in[0]->data, c->in[1]->data, c->in[2]->data, y->data,
                     numel(y), &bc, stream));
  return NULL;
}

static onyx_status *cast_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (x->dtype == y->dtype) {
    LAUNCH(c, cudaMemcpyAsync(y->data, x->data, x->nbytes, cudaMemcpyDeviceToDevice, stream));
    return NULL;
  }
  LAUNCH(c, cu_cast((int)x->dtype, (int)y->dtype, x->data, y->data, numel(y), stream));
  return NULL;
}

/* ---- rows: softmax, normalization, reductions ------------------------------------------ */

static onyx_status *softmax_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  int rank = x->rank, axis = (int)onyx_attr_int(n, "axis", n->opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (rank == 0) axis = 0;
  int64_t outer = onyx_numel(axis, x->dims), len, inner;
  if (n->opset >= 13) {
    len = axis < rank ? x->dims[axis] : 1;
    inner = onyx_numel(rank - axis - 1 > 0 ? rank - axis - 1 : 0, x->dims + axis + 1);
  } else {   /* before opset 13: the input is flattened to [outer, rest] */
    len = onyx_numel(rank - axis, x->dims + axis);
    inner = 1;
  }
  LAUNCH(c, cu_softmax(cu_dt_of(x->dtype), x->data, c->out[0]->data, outer, len, inner, n->op == onyx_op_LogSoftmax,
                       stream));
  return NULL;
}

static onyx_status *layer_norm_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  int axis = (int)onyx_attr_int(c->node, "axis", -1);
  if (axis < 0) axis += x->rank;
  int64_t rows = onyx_numel(axis, x->dims), cols = onyx_numel(x->rank - axis, x->dims + axis);
  if (numel(c->in[1]) != cols || (c->n_in > 2 && c->in[2] && numel(c->in[2]) != cols))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "scale/bias must have the normalized shape (%lld elements)",
                           (long long)cols);
  LAUNCH(c, cu_layer_norm(cu_dt_of(x->dtype), x->data, NULL, NULL, c->in[1]->data,
                          c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL, c->out[0]->data, NULL, rows, cols,
                          onyx_attr_float(c->node, "epsilon", 1e-5f), stream));
  return NULL;
}

/* The reduced axes of a Reduce node: its attribute, or (opset 18, and
 * ReduceSum from 13) its host-placed input 1. *n < 0: none given. */
static void reduce_axes(const onyx_node *n, const onyx_tensor *axes_in, int64_t *axes, int *count) {
  *count = -1;
  const int64_t *a;
  int k;
  if (axes_in) {
    *count = (int)numel(axes_in);
    for (int i = 0; i < *count && i < ONYX_MAX_RANK; i++) axes[i] = onyx_tensor_get_i64(axes_in, i);
  } else if (onyx_attr_ints(n, "axes", &k, &a)) {
    *count = k;
    for (int i = 0; i < k && i < ONYX_MAX_RANK; i++) axes[i] = a[i];
  }
}

/* The reduction as [outer, len, inner] when the reduced axes (dims of size
 * 1 aside) are contiguous. */
static bool reduce_shape(const onyx_node *n, const int64_t *dims, int rank, const onyx_tensor *axes_in, int64_t *outer,
                         int64_t *len, int64_t *inner) {
  int64_t axes[ONYX_MAX_RANK];
  int cnt;
  bool red[ONYX_MAX_RANK] = {false};
  reduce_axes(n, axes_in, axes, &cnt);
  if (cnt > ONYX_MAX_RANK) return false;
  if (cnt <= 0) {
    if (cnt == 0 && onyx_attr_int(n, "noop_with_empty_axes", 0)) return false;
    for (int d = 0; d < rank; d++) red[d] = true;
  }
  for (int i = 0; i < cnt; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (a < 0 || a >= rank) return false;
    red[a] = true;
  }
  int first = -1, last = -1;
  for (int d = 0; d < rank; d++)
    if (red[d] && dims[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  if (first < 0) first = last = 0;
  for (int d = first; d <= last && rank; d++)
    if (!red[d] && dims[d] != 1) return false;
  *outer = onyx_numel(first, dims);
  *len = rank ? onyx_numel(last - first + 1, dims + first) : 1;
  *inner = rank ? onyx_numel(rank - last - 1, dims + last + 1) : 1;
  return true;
}

static int reduce_op(int op) {
  if (op == onyx_op_ReduceSum) return 0;
  if (op == onyx_op_ReduceMean) return 1;
  if (op == onyx_op_ReduceMax) return 2;
  if (op == onyx_op_ReduceMin) return 3;
  if (op == onyx_op_ReduceSumSquare) return 4;
  if (op == onyx_op_ReduceLogSumExp) return 5;
  return -1;
}

static onyx_status *reduce_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  int64_t outer, len, inner;
  if (!reduce_shape(c->node, x->dims, x->rank, c->n_in > 1 ? c->in[1] : NULL, &outer, &len, &inner))
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: reduced axes are not contiguous");
  LAUNCH(c, cu_reduce(reduce_op(c->node->op), cu_dt_of(x->dtype), x->data, c->out[0]->data, outer, len, inner, stream));
  return NULL;
}

/* GlobalAveragePool / GlobalMaxPool: a reduction over the spatial dims. */
static onyx_status *global_pool_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  int64_t rows = x->rank >= 2 ? x->dims[0] * x->dims[1] : 1, len = onyx_numel(x->rank - 2, x->dims + 2);
  LAUNCH(c, cu_reduce(c->node->op == onyx_op_GlobalMaxPool ? 2 : 1, cu_dt_of(x->dtype), x->data, c->out[0]->data, rows,
                      len, 1, stream));
  return NULL;
}

static onyx_status *batch_norm_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  int64_t ch = x->rank >= 2 ? x->dims[1] : 1;
  for (int i = 1; i < 5; i++)
    if (numel(c->in[i]) != ch)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input %d has %lld elements, expected %lld", i,
                             (long long)numel(c->in[i]), (long long)ch);
  LAUNCH(c, cu_batch_norm(cu_dt_of(x->dtype), x->data, c->in[1]->data, c->in[2]->data, c->in[3]->data, c->in[4]->data,
                          c->out[0]->data, x->dims[0], ch, x->rank > 2 ? onyx_numel(x->rank - 2, x->dims + 2) : 1,
                          onyx_attr_float(c->node, "epsilon", 1e-5f), stream));
  return NULL;
}

/* ---- data movement -------------------------------------------------------------------------- */

/* Reshape, Flatten, Squeeze, Unsqueeze: the bytes as they are. */
static onyx_status *copy_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  if (c->out[0]->data != c->in[0]->data)
    LAUNCH(c, cudaMemcpyAsync(c->out[0]->data, c->in[0]->data, c->in[0]->nbytes, cudaMemcpyDeviceToDevice, stream));
  return NULL;
}

static onyx_status *transpose_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0];
  int perm[CU_MAX_RANK];
  const int64_t *p;
  int np;
  if (x->rank > CU_MAX_RANK) return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: rank %d", x->rank);
  if (onyx_attr_ints(c->node, "perm", &np, &p) && np == x->rank)
    for (int i = 0; i < np; i++) perm[i] = (int)p[i];
  else
    for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
  LAUNCH(c, cu_transpose((int)onyx_dtype_size(x->dtype), x->data, c->out[0]->data, x->rank, x->dims, perm, stream));
  return NULL;
}

static onyx_status *concat_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  onyx_tensor *y = c->out[0];
  int axis = (int)onyx_attr_int(c->node, "axis", 0);
  if (axis < 0) axis += y->rank;
  size_t es = onyx_dtype_size(y->dtype);
  int64_t outer = onyx_numel(axis, y->dims), inner = onyx_numel(y->rank - axis - 1, y->dims + axis + 1);
  size_t dpitch = (size_t)(y->dims[axis] * inner) * es, off = 0;
  for (int k = 0; k < c->n_in; k++) {
    const onyx_tensor *x = c->in[k];
    if (!x) continue;
    size_t width = (size_t)(x->dims[axis] * inner) * es;
    if (width && outer)
      LAUNCH(c, cudaMemcpy2DAsync((char *)y->data + off, dpitch, x->data, width, width, (size_t)outer,
                                  cudaMemcpyDeviceToDevice, stream));
    off += width;
  }
  return NULL;
}

static onyx_status *gather_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_tensor *x = c->in[0], *idx = c->in[1];
  int axis = (int)onyx_attr_int(c->node, "axis", 0);
  if (axis < 0) axis += x->rank;
  LAUNCH(c, cu_gather((int)onyx_dtype_size(x->dtype), x->data, idx->data, idx->dtype == ONYX_DTYPE_INT64,
                      c->out[0]->data, onyx_numel(axis, x->dims), x->dims[axis],
                      onyx_numel(x->rank - axis - 1, x->dims + axis + 1), numel(idx), stream));
  return NULL;
}

/* Slice's starts and steps per input dim, from its host-placed inputs
 * (opset >= 10) or attributes, clamped as ONNX says; the output's dims come
 * from the infer function. */
static onyx_status *slice_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  int rank = x->rank;
  if (rank > CU_MAX_RANK) return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: rank %d", rank);
  int64_t starts[CU_MAX_RANK] = {0}, steps[CU_MAX_RANK], strides[CU_MAX_RANK];
  for (int d = 0; d < rank; d++) steps[d] = 1;
  int cnt = 0;
  int64_t st[CU_MAX_RANK], ax[CU_MAX_RANK], sp[CU_MAX_RANK];
  if (n->opset >= 10) {
    cnt = (int)numel(c->in[1]);
    for (int i = 0; i < cnt && i < CU_MAX_RANK; i++) {
      st[i] = onyx_tensor_get_i64(c->in[1], i);
      ax[i] = c->n_in > 3 && c->in[3] ? onyx_tensor_get_i64(c->in[3], i) : i;
      sp[i] = c->n_in > 4 && c->in[4] ? onyx_tensor_get_i64(c->in[4], i) : 1;
    }
  } else {
    const int64_t *a, *s;
    int na = 0, ns = 0;
    onyx_attr_ints(n, "starts", &ns, &s);
    bool has_axes = onyx_attr_ints(n, "axes", &na, &a);
    cnt = ns;
    for (int i = 0; i < cnt && i < CU_MAX_RANK; i++) st[i] = s[i], ax[i] = has_axes ? a[i] : i, sp[i] = 1;
  }
  if (cnt > CU_MAX_RANK) return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: %d slice axes", cnt);
  for (int i = 0; i < cnt; i++) {
    int64_t a = ax[i] < 0 ? ax[i] + rank : ax[i], dim = x->dims[a], s = st[i];
    if (s < 0) s += dim;
    /* clamp: [0, dim] for positive steps, [0, dim - 1] for negative ones */
    int64_t hi = sp[i] > 0 ? dim : dim - 1;
    starts[a] = s < 0 ? 0 : s > hi ? hi : s;
    steps[a] = sp[i];
  }
  int64_t acc = 1;
  for (int d = rank - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= x->dims[d];
  }
  LAUNCH(c, cu_slice((int)onyx_dtype_size(x->dtype), x->data, y->data, rank, y->dims, strides, starts, steps, stream));
  return NULL;
}

static onyx_status *expand_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  ONYX_TRY(out_ready(c, 0));
  onyx_tensor *y = c->out[0];
  cu_bcast bc;
  ONYX_TRY(bcast_of(c, y, 1, c->in, &bc));
  LAUNCH(c, cu_expand((int)onyx_dtype_size(y->dtype), c->in[0]->data, y->data, numel(y), &bc, stream));
  return NULL;
}

/* ---- the table --------------------------------------------------------------------------------- */

#define ALLD (FLOATS | ONYX_DT(DOUBLE) | ONYX_DT(INT8) | ONYX_DT(UINT8) | ONYX_DT(INT16) | ONYX_DT(UINT16) | \
              ONYX_DT(INT32) | ONYX_DT(UINT32) | ONYX_DT(INT64) | ONYX_DT(UINT64) | ONYX_DT(BOOL))
#define EW(Op) {.op = onyx_op_##Op, .run = binary_run, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = FLOATS}
#define CMP(Op) {.op = onyx_op_##Op, .run = binary_run, .dtypes = FLOATS | ONYX_DT(BOOL)}
#define UN(Op) {.op = onyx_op_##Op, .run = unary_run, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = FLOATS}
#define MOVE(Op, host) {.op = onyx_op_##Op, .run = copy_run, .dtypes = ALLD, .host_in = (host)}

static const onyx_kernel kernels[] = {
    EW(Add), EW(Sub), EW(Mul), EW(Div), EW(Pow), EW(Max), EW(Min), EW(PRelu),
    CMP(Equal), CMP(Less), CMP(Greater), CMP(LessOrEqual), CMP(GreaterOrEqual),
    UN(Relu), UN(LeakyRelu), UN(Sigmoid), UN(Tanh), UN(Exp), UN(Log), UN(Sqrt), UN(Neg), UN(Abs), UN(Erf),
    UN(Gelu), UN(HardSigmoid), UN(HardSwish), UN(Softplus), UN(Softsign), UN(Elu), UN(Selu), UN(Celu), UN(Mish),
    UN(Reciprocal), UN(Floor), UN(Ceil), UN(Round), UN(Sin), UN(Cos), UN(Sign), MOVE(Identity, 0),
    /* Dropout at inference: the ratio and training_mode inputs stay on the host */
    {.op = onyx_op_Dropout, .run = unary_run, .dtypes = FLOATS, .host_in = 6u},
    /* Clip's min and max inputs are read on the host */
    {.op = onyx_op_Clip, .run = unary_run, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = FLOATS, .host_in = 6u},
    {.op = onyx_op_Where, .run = where_run, .dtypes = ALLD},
    {.op = onyx_op_Cast, .run = cast_run, .dtypes = ALLD},
    {.op = onyx_op_Softmax, .run = softmax_run, .dtypes = FLOATS},
    {.op = onyx_op_LogSoftmax, .run = softmax_run, .dtypes = FLOATS},
    {.op = onyx_op_LayerNormalization, .run = layer_norm_run, .dtypes = FLOATS},
    {.op = onyx_op_ReduceSum, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    {.op = onyx_op_ReduceMean, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    {.op = onyx_op_ReduceMax, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    {.op = onyx_op_ReduceMin, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    {.op = onyx_op_ReduceSumSquare, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    {.op = onyx_op_ReduceLogSumExp, .run = reduce_run, .dtypes = FLOATS | ONYX_DT(INT64), .host_in = 2u},
    MOVE(Reshape, 2u), MOVE(Flatten, 0), MOVE(Squeeze, 2u), MOVE(Unsqueeze, 2u),
    {.op = onyx_op_Transpose, .run = transpose_run, .dtypes = ALLD},
    {.op = onyx_op_Concat, .run = concat_run, .dtypes = ALLD},
    {.op = onyx_op_Gather, .run = gather_run, .dtypes = ALLD},
    {.op = onyx_op_Slice, .run = slice_run, .dtypes = ALLD | ONYX_DT(INT32) | ONYX_DT(INT64), .host_in = 30u},
    {.op = onyx_op_Expand, .run = expand_run, .dtypes = ALLD, .host_in = 2u},
    {.op = onyx_op_GlobalAveragePool, .run = global_pool_run, .dtypes = FLOATS},
    {.op = onyx_op_GlobalMaxPool, .run = global_pool_run, .dtypes = FLOATS},
    {.op = onyx_op_BatchNormalization, .run = batch_norm_run, .dtypes = FLOATS},
    {.op = onyx_op_MatMul, .run = cu_matmul_run, .dtypes = FLOATS},
    {.op = onyx_op_Gemm, .run = cu_gemm_run, .dtypes = FLOATS},
    {.op = -1},
};

const onyx_kernel *cu_kernel_find(const onyx_node *n) {
  if (n->op < 0) return NULL;
  for (const onyx_kernel *k = kernels; k->op >= 0; k++)
    if (k->op == n->op) return k;
  return cu_dnn_kernel_find(n);
}

/* ---- what the kernels take -------------------------------------------------------------------- */

static const onyx_value *val(const onyx_graph *g, const onyx_node *n, int i) {
  return i < n->n_in && n->in[i] >= 0 ? &g->values[n->in[i]] : NULL;
}

static onyx_dtype in_dtype(const onyx_graph *g, const onyx_node *n, int i) {
  const onyx_value *v = val(g, n, i);
  return v ? v->dtype : ONYX_DTYPE_UNDEFINED;
}

static bool is_float(onyx_dtype t) {
  return t == ONYX_DTYPE_FLOAT || t == ONYX_DTYPE_FLOAT16 || t == ONYX_DTYPE_BFLOAT16;
}

static bool cast_dtype(onyx_dtype t) {
  return t != ONYX_DTYPE_UNDEFINED && t != ONYX_DTYPE_STRING && t < ONYX_DTYPE_COUNT_ && (ALLD >> t & 1);
}

onyx_status *cu_node_supported(const onyx_graph *g, const onyx_node *n) {
  const onyx_kernel *k = cu_kernel_find(n);
  if (!k || strcmp(n->domain, "")) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda has no %s kernel", n->op_type);
  for (int i = 0; i < n->n_out; i++)
    if (n->out[i] >= 0 && g->values[n->out[i]].rank > CU_MAX_RANK)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: rank above %d", CU_MAX_RANK);
  int op = n->op;
  onyx_dtype t0 = in_dtype(g, n, 0);
  if (cu_dnn_kernel_find(n) == k) return cu_dnn_supported(g, n);
  if (op == onyx_op_BatchNormalization) {
    if (n->n_out > 1) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: BatchNormalization in training mode");
    if (onyx_attr_int(n, "training_mode", 0)) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: BatchNormalization training_mode");
    for (int i = 1; i < 5; i++)
      if (in_dtype(g, n, i) != t0)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: BatchNormalization with mixed dtypes");
  }
  if ((op == onyx_op_GlobalAveragePool || op == onyx_op_GlobalMaxPool) && val(g, n, 0)->rank < 3)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s of rank < 3", n->op_type);
  if (binop_of(op) >= 0) {
    if (n->n_in != 2) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s of %d inputs", n->op_type, n->n_in);
    if (!is_float(t0)) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s on %s", n->op_type, onyx_dtype_name(t0));
  }
  if (op == onyx_op_Dropout) {
    if (n->n_out > 1 && n->out[1] >= 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Dropout's mask output");
    const onyx_value *tm = val(g, n, 2);
    if (tm && (!tm->init || onyx_tensor_get_f64(tm->init, 0) != 0))
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Dropout in training mode");
  }
  if (op == onyx_op_LayerNormalization)
    for (int i = 1; i < n->n_out; i++)
      if (n->out[i] >= 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: LayerNormalization's mean/inv_std outputs");
  if (op == onyx_op_Cast) {
    onyx_dtype to = (onyx_dtype)onyx_attr_int(n, "to", 0);
    if (!cast_dtype(t0) || !cast_dtype(to))
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Cast %s -> %s", onyx_dtype_name(t0), onyx_dtype_name(to));
    return NULL;   /* Cast's dtypes are its point: the table's mask does not apply */
  }
  if (op == onyx_op_Where && in_dtype(g, n, 0) != ONYX_DTYPE_BOOL)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Where's condition is not bool");
  if (op == onyx_op_Gather) {
    onyx_dtype it = in_dtype(g, n, 1);
    if (it != ONYX_DTYPE_INT64 && it != ONYX_DTYPE_INT32)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Gather indices of %s", onyx_dtype_name(it));
    return onyx_dtype_size(t0) && t0 != ONYX_DTYPE_STRING ? NULL
                                                          : onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Gather of %s",
                                                                       onyx_dtype_name(t0));
  }
  if (reduce_op(op) >= 0) {
    const onyx_value *x = val(g, n, 0), *axes = val(g, n, 1);
    if (!is_float(t0)) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s on %s", n->op_type, onyx_dtype_name(t0));
    if (axes && !axes->init) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s with axes computed at run time", n->op_type);
    int64_t o, l, i;
    if (!x || x->rank < 0 || !reduce_shape(n, x->dims, x->rank, axes ? axes->init : NULL, &o, &l, &i))
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s over axes that are not contiguous", n->op_type);
    for (int d = 0; d < x->rank; d++)
      if (x->dims[d] < 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s over a symbolic shape", n->op_type);
    return NULL;
  }
  if (op == onyx_op_Gemm || op == onyx_op_MatMul) {
    for (int i = 0; i < n->n_in; i++)
      if (n->in[i] >= 0 && in_dtype(g, n, i) != t0)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s with mixed dtypes", n->op_type);
  }
  if (op == onyx_op_Slice && n->opset >= 10) {
    for (int i = 1; i < n->n_in; i++) {
      onyx_dtype it = in_dtype(g, n, i);
      if (n->in[i] >= 0 && it != ONYX_DTYPE_INT64 && it != ONYX_DTYPE_INT32)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Slice input %d of %s", i, onyx_dtype_name(it));
    }
  }
  return onyx_kernel_check_dtypes(k, g, n);
}
