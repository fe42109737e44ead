/* dnnl_provider.c — the `dnnl` execution provider: its factory and options,
 * and capability (`supports`): which nodes oneDNN runs for onyx.
 *
 * Accepted (float32 tensors whose shapes are all static at load time):
 * Conv and ConvTranspose (1-D/2-D/3-D, groups, dilations, pads, auto_pad),
 * MatMul (batched, broadcast batch dims), Gemm, Max/AveragePool, Global
 * Average/MaxPool, BatchNormalization (inference), LRN, Softmax/LogSoftmax,
 * eltwise activations, Add/Sub/Mul/Div/Max/Min with one-sided broadcasting,
 * Concat, Reduce* with constant axes, LayerNormalization; of the optimizer's
 * ai.onyx ops FusedConv, FusedGemm, FusedMatMul (activations that map onto
 * eltwise post-ops), BiasGelu and SkipLayerNormalization (skip of X's shape). Everything else is refused with a reason,
 * so the node runs on the next provider.
 *
 * Options (onyx_options_set_provider_option(o, "dnnl", key, value)):
 *   precision=fp32 (default) | bf16 — bf16 is opt-in: convolutions and
 *   matrix products read bf16 (AMX-BF16 / AVX512-BF16 where present) and
 *   write float32; where oneDNN has no bf16 kernel for this CPU they stay
 *   fp32 (logged once at INFO).
 *   conv_algorithm=auto (default) | direct | winograd — float32 3x3 stride-1
 *   convolutions may run oneDNN's Winograd F(2x2, 3x3) kernel (AVX-512,
 *   level 3): auto where the output has >= 196 2x2 tiles (28x28 at batch 1),
 *   winograd wherever oneDNN has it, direct never. Winograd sums in another
 *   order, so results differ from the direct kernel's in the last bits.
 * int8 (dnnl_quant.c): QLinearConv and ConvInteger, QLinearMatMul and
 * MatMulInteger with constant weights, scales and zero points (u8/s8
 * activations, weights per tensor or per output channel), and QuantizeLinear
 * / DequantizeLinear per tensor, so a quantized chain stays inside one
 * partition in oneDNN's int8 layouts. What oneDNN cannot compute exactly as
 * the cpu kernels do is refused with the reason: weights whose zero point
 * does not fold into s8, per-row activation scales, and, on CPUs without
 * VNNI, weights beyond +-64 (16-bit intermediate saturation). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "dnnl_internal.h"
#include "ops/ops.h"

onyx_status *dn_error(const onyx_node *n, dnnl_status_t st, const char *what) {
  onyx_code code = st == dnnl_unimplemented ? ONYX_ERR_NOT_IMPLEMENTED
                   : st == dnnl_out_of_memory ? ONYX_ERR_OUT_OF_MEMORY
                                              : ONYX_ERR_RUNTIME;
  if (code == ONYX_ERR_OUT_OF_MEMORY) return onyx_error_oom();
  const char *why = st == dnnl_unimplemented ? "no implementation" : st == dnnl_invalid_arguments ? "invalid arguments" : "failed";
  if (n) return onyx_node_error(n, code, "oneDNN %s: %s (status %d)", what, why, (int)st);
  return onyx_error(code, "oneDNN %s: %s (status %d)", what, why, (int)st);
}

/* ---- capability ------------------------------------------------------------ */

enum { K_NONE, K_CONV, K_DECONV, K_MATMUL, K_GEMM, K_POOL, K_GPOOL, K_BN, K_LRN, K_SOFTMAX,
       K_ELTWISE, K_BINARY, K_CONCAT, K_REDUCE, K_LNORM, K_BIAS_GELU, K_SKIP_LNORM, K_QLIN, K_QUANT };

static const struct { const char *name; int kind; } op_kinds[] = {
    {"Conv", K_CONV}, {"ConvTranspose", K_DECONV}, {"MatMul", K_MATMUL}, {"Gemm", K_GEMM},
    {"MaxPool", K_POOL}, {"AveragePool", K_POOL}, {"GlobalAveragePool", K_GPOOL},
    {"GlobalMaxPool", K_GPOOL}, {"BatchNormalization", K_BN}, {"LRN", K_LRN},
    {"Softmax", K_SOFTMAX}, {"LogSoftmax", K_SOFTMAX}, {"Add", K_BINARY}, {"Sub", K_BINARY},
    {"Mul", K_BINARY}, {"Div", K_BINARY}, {"Max", K_BINARY}, {"Min", K_BINARY},
    {"Concat", K_CONCAT}, {"ReduceSum", K_REDUCE}, {"ReduceMean", K_REDUCE},
    {"ReduceMax", K_REDUCE}, {"ReduceMin", K_REDUCE}, {"ReduceProd", K_REDUCE},
    {"ReduceL1", K_REDUCE}, {"ReduceL2", K_REDUCE}, {"ReduceSumSquare", K_REDUCE},
    {"ReduceLogSum", K_REDUCE}, {"LayerNormalization", K_LNORM}, {"QLinearConv", K_QLIN},
    {"ConvInteger", K_QLIN}, {"QLinearMatMul", K_QLIN}, {"MatMulInteger", K_QLIN},
    {"QuantizeLinear", K_QUANT}, {"DequantizeLinear", K_QUANT},
};

/* ai.onyx ops: the fused ones map onto the builders of their base op */
static const struct { const char *name; int kind; } onyx_kinds[] = {
    {"FusedConv", K_CONV}, {"FusedGemm", K_GEMM}, {"FusedMatMul", K_MATMUL}, {"BiasGelu", K_BIAS_GELU},
    {"SkipLayerNormalization", K_SKIP_LNORM},
};

static int op_kind(const onyx_node *n) {
  if (!strcmp(n->domain, ONYX_DOMAIN_ONYX)) {
    for (size_t i = 0; i < sizeof onyx_kinds / sizeof onyx_kinds[0]; i++)
      if (!strcmp(onyx_kinds[i].name, n->op_type)) return onyx_kinds[i].kind;
    return K_NONE;
  }
  if (n->domain[0] && strcmp(n->domain, "ai.onnx")) return K_NONE;
  for (size_t i = 0; i < sizeof op_kinds / sizeof op_kinds[0]; i++)
    if (!strcmp(op_kinds[i].name, n->op_type)) return op_kinds[i].kind;
  return dn_is_eltwise_op(n->op_type) ? K_ELTWISE : K_NONE;
}

/* A tensor of a dtype in `dtypes` (a mask of 1 << dtype) and known rank in
 * [rmin, rmax] without zero dims; symbolic and unknown dims only when `dyn`
 * (programs are then built per input shape at run time). `what` names it
 * ("input 0", "output 0"). */
static onyx_status *check_typed(const onyx_graph *g, const onyx_node *n, int v, const char *what, int rmin,
                                int rmax, bool dyn, unsigned dtypes) {
  const onyx_value *val = &g->values[v];
  if (val->kind != ONYX_KIND_TENSOR)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s '%s' is not a tensor", what, val->name);
  if (!(dtypes >> val->dtype & 1u)) {
    char want[64] = "";
    for (int dt = 1; dt < ONYX_DTYPE_COUNT_ && dt < 32; dt++)
      if (dtypes >> dt & 1u)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", *want ? "/" : "",
                 onyx_dtype_name((onyx_dtype)dt));
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s of %s '%s' (dnnl runs %s here)",
                           onyx_dtype_name(val->dtype), what, val->name, want);
  }
  if (val->rank < 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "unknown rank of %s '%s' (dnnl needs static shapes)",
                           what, val->name);
  for (int d = 0; d < val->rank; d++) {
    if (val->dims[d] < 0 && !dyn)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dim %d of %s '%s' is not static (dnnl needs it static here)",
                             d, what, val->name);
    if (val->dims[d] == 0)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "empty %s '%s'", what, val->name);
  }
  if (val->rank < rmin || val->rank > rmax)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "rank %d of %s '%s' (dnnl takes %d to %d)", val->rank,
                           what, val->name, rmin, rmax);
  return NULL;
}

static onyx_status *check_float_dyn(const onyx_graph *g, const onyx_node *n, int v, const char *what,
                                    int rmin, int rmax, bool dyn) {
  return check_typed(g, n, v, what, rmin, rmax, dyn, 1u << ONYX_DTYPE_FLOAT);
}

static onyx_status *check_float(const onyx_graph *g, const onyx_node *n, int v, const char *what, int rmin,
                                int rmax) {
  return check_float_dyn(g, n, v, what, rmin, rmax, true);
}

/* Whether any dim of n's present inputs and outputs is not static. */
static bool is_dynamic(const onyx_graph *g, const onyx_node *n) {
  for (int k = 0; k < n->n_in + n->n_out; k++) {
    int v = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
    if (v < 0) continue;
    for (int d = 0; d < g->values[v].rank; d++)
      if (g->values[v].dims[d] < 0) return true;
  }
  return false;
}

/* Inputs [first, last] that are present must have static shapes. */
static onyx_status *check_static(const onyx_graph *g, const onyx_node *n, int first, int last) {
  for (int i = first; i <= last && i < n->n_in; i++) {
    if (n->in[i] < 0) continue;
    char what[32];
    snprintf(what, sizeof what, "input %d", i);
    ONYX_TRY(check_float_dyn(g, n, n->in[i], what, 0, ONYX_MAX_RANK, false));
  }
  return NULL;
}

/* Only outputs [0, n_used) may be present. */
static onyx_status *check_outputs(const onyx_graph *g, const onyx_node *n, int n_used, int rmin, int rmax) {
  for (int i = 0; i < n->n_out; i++) {
    if (n->out[i] < 0) continue;
    if (i >= n_used)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "optional output %d ('%s') is not produced by dnnl", i,
                             g->values[n->out[i]].name);
    char what[32];
    snprintf(what, sizeof what, "output %d", i);
    ONYX_TRY(check_float(g, n, n->out[i], what, rmin, rmax));
  }
  return NULL;
}

/* Output 0 only, of a dtype in `dtypes`. */
static onyx_status *check_outputs_typed(const onyx_graph *g, const onyx_node *n, int rmin, int rmax,
                                        unsigned dtypes) {
  for (int i = 1; i < n->n_out; i++)
    if (n->out[i] >= 0)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "optional output %d ('%s') is not produced by dnnl", i,
                             g->values[n->out[i]].name);
  return check_typed(g, n, n->out[0], "output 0", rmin, rmax, true, dtypes);
}

/* Inputs [first, last] that are present must be float32 with static shapes. */
static onyx_status *check_inputs(const onyx_graph *g, const onyx_node *n, int first, int last, int rmin,
                                 int rmax) {
  for (int i = first; i <= last && i < n->n_in; i++) {
    if (n->in[i] < 0) continue;
    char what[32];
    snprintf(what, sizeof what, "input %d", i);
    ONYX_TRY(check_float(g, n, n->in[i], what, rmin, rmax));
  }
  return NULL;
}

/* Whether x broadcasts onto `onto` leaving its shape as it is, whatever
 * onto's unknown dims are: x has no more dims, and each of x's dims
 * (right-aligned) is 1 or the same static size or symbol as onto's. */
static bool broadcasts_onto(const onyx_value *x, const onyx_value *onto) {
  if (x->rank < 0 || onto->rank < 0 || x->rank > onto->rank) return false;
  for (int d = 0; d < x->rank; d++) {
    int64_t xd = x->dims[d], od = onto->dims[onto->rank - x->rank + d];
    if (xd == 1 || (xd > 0 && xd == od)) continue;
    if (xd == ONYX_DIM_UNKNOWN || xd != od) return false;
  }
  return true;
}

static onyx_status *check_binary(const onyx_graph *g, const onyx_node *n) {
  if (n->n_in != 2)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%d inputs (dnnl takes 2)", n->n_in);
  if (n->in[0] < 0 || n->in[1] < 0 || n->n_out < 1 || n->out[0] < 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "an omitted input or output");
  const onyx_value *a = &g->values[n->in[0]], *b = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  /* one side broadcast onto the other whatever that one's unknown dims are
   * (a bias [N] onto [?, ?, N]): the other side is the output */
  if (broadcasts_onto(b, a) || broadcasts_onto(a, b)) return NULL;
  /* symbolic dims compare by name; unknown ones could be anything */
  for (int k = 0; k < 3; k++) {
    const onyx_value *v = k == 0 ? a : k == 1 ? b : y;
    for (int d = 0; d < v->rank; d++)
      if (v->dims[d] == ONYX_DIM_UNKNOWN)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "unknown dim in '%s' (broadcasting undecidable)", v->name);
  }
  /* oneDNN broadcasts its second source only: one side must have the output shape */
  bool a_full = a->rank == y->rank && !memcmp(a->dims, y->dims, (size_t)y->rank * sizeof y->dims[0]);
  bool b_full = b->rank == y->rank && !memcmp(b->dims, y->dims, (size_t)y->rank * sizeof y->dims[0]);
  if (!a_full && !b_full)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "both inputs are broadcast (dnnl broadcasts one side only)");
  return NULL;
}

/* The extra inputs and the activation of an ai.onyx fused op: FusedConv's
 * residual Z has the output's shape (the sum post-op), FusedMatMul's bias
 * holds N values (a binary post-op over the last axis). */
static onyx_status *check_fused(const onyx_graph *g, const onyx_node *n) {
  dn_eltwise e;
  ONYX_TRY(dn_fused_act_of(n, &e));
  bool conv = !strcmp(n->op_type, "FusedConv"), mm = !strcmp(n->op_type, "FusedMatMul");
  int extra = conv ? 3 : 2;
  if (n->n_in > extra + 1) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%d inputs", n->n_in);
  if (!conv && !mm) return NULL;
  if (n->n_in <= extra || n->in[extra] < 0) return NULL;
  const onyx_value *v = &g->values[n->in[extra]], *y = &g->values[n->out[0]];
  ONYX_TRY(check_float(g, n, n->in[extra], conv ? "residual" : "bias", conv ? y->rank : 0, conv ? y->rank : ONYX_MAX_RANK));
  if (conv) {
    for (int d = 0; d < y->rank; d++)
      if (v->dims[d] != y->dims[d] || v->dims[d] == ONYX_DIM_UNKNOWN)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "residual '%s' has not the output's shape", v->name);
    return NULL;
  }
  if (n->in[1] < 0) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "no second input");
  const onyx_value *w = &g->values[n->in[1]];
  int64_t cols = w->rank >= 2 ? w->dims[w->rank - 1] : 1;
  if (cols < 0 || onyx_numel(v->rank, v->dims) != cols)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "bias '%s' has not N = %lld (static) values", v->name,
                           (long long)cols);
  return NULL;
}

onyx_status *dn_node_supported(const onyx_graph *g, const onyx_node *n) {
  int kind = op_kind(n);
  if (kind == K_NONE)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "op %s%s%s is not supported by dnnl",
                           n->domain[0] ? n->domain : "", n->domain[0] ? "." : "", n->op_type);
  if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "missing first input or output");
  if ((kind == K_CONV || kind == K_GEMM || kind == K_MATMUL) && !strcmp(n->domain, ONYX_DOMAIN_ONYX))
    ONYX_TRY(check_fused(g, n));
  switch (kind) {
    case K_CONV:
    case K_DECONV: {
      ONYX_TRY(check_inputs(g, n, 0, 1, 3, 5));
      ONYX_TRY(check_inputs(g, n, 2, 2, 1, 1));
      ONYX_TRY(check_outputs(g, n, 1, 3, 5));
      if (n->n_in < 2 || n->in[1] < 0) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "no weights");
      if (g->values[n->in[1]].rank != g->values[n->in[0]].rank)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weights rank differs from input rank");
      ONYX_TRY(check_static(g, n, 1, 2));
      if (g->values[n->in[0]].dims[1] < 0)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input channels are not static");
      if (kind == K_DECONV && onyx_node_attr(n, "output_shape") && is_dynamic(g, n))
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output_shape with a dynamic input shape");
      dn_conv c;
      return is_dynamic(g, n) ? NULL : dn_conv_of(g, n, &c);
    }
    case K_MATMUL:
      ONYX_TRY(check_inputs(g, n, 0, 1, 1, ONYX_MAX_RANK));
      return check_outputs(g, n, 1, 0, ONYX_MAX_RANK);
    case K_GEMM:
      ONYX_TRY(check_inputs(g, n, 0, 1, 2, 2));
      ONYX_TRY(check_inputs(g, n, 2, 2, 0, 2));
      return check_outputs(g, n, 1, 2, 2);
    case K_POOL: {
      /* MaxPool also on the 8-bit activations of quantized models (the QDQ
       * fusion leaves them between integer convs): the max of bytes is the
       * byte of the max, so no scale is involved */
      unsigned fl = 1u << ONYX_DTYPE_FLOAT, q8 = 1u << ONYX_DTYPE_UINT8 | 1u << ONYX_DTYPE_INT8;
      unsigned types = !strcmp(n->op_type, "MaxPool") ? fl | q8 : fl;
      ONYX_TRY(check_typed(g, n, n->in[0], "input 0", 3, 5, true, types));
      ONYX_TRY(check_outputs_typed(g, n, 3, 5, types));
      if (is_dynamic(g, n)) {
        if (onyx_attr_int(n, "ceil_mode", 0) && onyx_attr_int(n, "count_include_pad", 0))
          return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "ceil_mode with count_include_pad=1");
        return NULL;
      }
      dn_pool p;
      return dn_pool_of(g, n, &p);
    }
    case K_GPOOL:
      ONYX_TRY(check_inputs(g, n, 0, 0, 3, 5));
      return check_outputs(g, n, 1, 3, 5);
    case K_BN:
      if (onyx_attr_int(n, "training_mode", 0))
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "training_mode=1 (dnnl runs inference)");
      if (!onyx_attr_int(n, "spatial", 1))
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "spatial=0");
      if (n->n_in != 5) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%d inputs", n->n_in);
      ONYX_TRY(check_inputs(g, n, 0, 0, 2, 5));
      ONYX_TRY(check_inputs(g, n, 1, 4, 1, 1));
      ONYX_TRY(check_static(g, n, 1, 4));
      return check_outputs(g, n, 1, 2, 5);
    case K_LRN:
      ONYX_TRY(check_inputs(g, n, 0, 0, 4, 4));
      return check_outputs(g, n, 1, 4, 4);
    case K_SOFTMAX:
      ONYX_TRY(check_inputs(g, n, 0, 0, 1, ONYX_MAX_RANK));
      return check_outputs(g, n, 1, 1, ONYX_MAX_RANK);
    case K_BIAS_GELU: {
      ONYX_TRY(check_inputs(g, n, 0, 1, 0, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 0, ONYX_MAX_RANK));
      dn_eltwise e;
      ONYX_TRY(dn_eltwise_of(g, n, &e));
      if (n->n_in < 2 || n->in[1] < 0) return NULL;
      const onyx_value *x = &g->values[n->in[0]], *bias = &g->values[n->in[1]];
      if (bias->rank != 1 || x->rank < 1 || x->dims[x->rank - 1] < 0 || bias->dims[0] != x->dims[x->rank - 1])
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "bias '%s' is not [N] of X's static last axis",
                               bias->name);
      return check_binary(g, n);
    }
    case K_SKIP_LNORM: {
      if (n->n_in < 3 || n->in[1] < 0 || n->in[2] < 0)
        return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "needs X, skip and gamma");
      ONYX_TRY(check_inputs(g, n, 0, 1, 1, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 1, ONYX_MAX_RANK));
      ONYX_TRY(check_static(g, n, 2, 4));
      const onyx_value *x = &g->values[n->in[0]], *sk = &g->values[n->in[1]];
      int64_t cols = x->dims[x->rank - 1];
      if (cols < 0) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "normalized dim is not static");
      if (sk->rank != x->rank)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "skip '%s' is broadcast (dnnl takes X's shape)", sk->name);
      for (int d = 0; d < x->rank; d++)
        if (sk->dims[d] != x->dims[d] || x->dims[d] == ONYX_DIM_UNKNOWN)
          return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "skip '%s' is broadcast (dnnl takes X's shape)",
                                 sk->name);
      for (int i = 2; i < n->n_in && i < 5; i++)
        if (n->in[i] >= 0 && onyx_numel(g->values[n->in[i]].rank, g->values[n->in[i]].dims) != cols)
          return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input %d has not %lld values", i, (long long)cols);
      return n->n_in > 5 ? onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%d inputs", n->n_in) : NULL;
    }
    case K_ELTWISE: {
      ONYX_TRY(check_inputs(g, n, 0, 0, 0, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 0, ONYX_MAX_RANK));
      dn_eltwise e;
      return dn_eltwise_of(g, n, &e);
    }
    case K_BINARY:
      ONYX_TRY(check_inputs(g, n, 0, 1, 0, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 0, ONYX_MAX_RANK));
      return check_binary(g, n);
    case K_CONCAT:
      if (n->n_in > 64) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "more than 64 inputs");
      ONYX_TRY(check_inputs(g, n, 0, n->n_in - 1, 1, ONYX_MAX_RANK));
      for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "omitted input");
      return check_outputs(g, n, 1, 1, ONYX_MAX_RANK);
    case K_REDUCE: {
      ONYX_TRY(check_inputs(g, n, 0, 0, 1, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 0, ONYX_MAX_RANK));
      dn_reduce r;
      return dn_reduce_of(g, n, &r);
    }
    case K_QLIN: {
      dn_qlin q;
      ONYX_TRY(dn_qlin_of(g, n, &q));
      unsigned q8 = 1u << ONYX_DTYPE_UINT8 | 1u << ONYX_DTYPE_INT8;
      int r0 = q.conv ? 3 : 2, r1 = q.conv ? 5 : ONYX_MAX_RANK;
      ONYX_TRY(check_typed(g, n, n->in[q.x], "input 0", r0, r1, true, q8));
      ONYX_TRY(check_outputs_typed(g, n, r0, r1, q.requant ? q8 : 1u << ONYX_DTYPE_INT32));
      if (q.conv) {
        if (g->values[n->in[q.x]].dims[1] < 0)
          return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input channels are not static");
        dn_conv c;
        return is_dynamic(g, n) ? NULL : dn_conv_of(g, n, &c);
      }
      const onyx_value *a = &g->values[n->in[q.x]];
      if (a->dims[a->rank - 1] < 0) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "K is not static");
      return NULL;
    }
    case K_QUANT: {
      float sc;
      int32_t z;
      ONYX_TRY(dn_quant_of(g, n, &sc, &z));
      unsigned fl = 1u << ONYX_DTYPE_FLOAT, q8 = 1u << ONYX_DTYPE_UINT8 | 1u << ONYX_DTYPE_INT8;
      bool quant = !strcmp(n->op_type, "QuantizeLinear");
      ONYX_TRY(check_typed(g, n, n->in[0], "input 0", 0, ONYX_MAX_RANK, true,
                           quant ? fl : q8 | 1u << ONYX_DTYPE_INT32));
      return check_outputs_typed(g, n, 0, ONYX_MAX_RANK, quant ? q8 : fl);
    }
    case K_LNORM: {
      ONYX_TRY(check_inputs(g, n, 0, 2, 1, ONYX_MAX_RANK));
      ONYX_TRY(check_outputs(g, n, 1, 1, ONYX_MAX_RANK));
      if (onyx_attr_int(n, "stash_type", 1) != 1)
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "stash_type other than float");
      const onyx_value *x = &g->values[n->in[0]];
      int axis;
      ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), x->rank, &axis));
      for (int d = axis; d < x->rank; d++)
        if (x->dims[d] < 0) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "normalized dims are not static");
      ONYX_TRY(check_static(g, n, 1, 2));
      int64_t inner = onyx_numel(x->rank - axis, x->dims + axis);
      for (int i = 1; i < n->n_in && i < 3; i++)
        if (n->in[i] >= 0 && onyx_numel(g->values[n->in[i]].rank, g->values[n->in[i]].dims) != inner)
          return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input %d is broadcast over the normalized axes", i);
      return NULL;
    }
  }
  return NULL;
}

/* ---- the provider ------------------------------------------------------------- */

static onyx_status *dn_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  return dn_node_supported(g, n);
}

static void dn_destroy(onyx_provider *p) {
  dn_provider *c = p->ctx;
  if (c) {
    dn_run_pool_free(c);
    pthread_mutex_destroy(&c->pool_lock);
    if (c->engine) dnnl_engine_destroy(c->engine);
  }
  onyx_free(c);
  onyx_free(p);
}

static const onyx_provider_iface dn_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION,
    .supports = dn_supports,
    .compile = dn_compile,
    .run_begin = dn_run_begin,
    .run_end = dn_run_end,
    .destroy = dn_destroy,
};

static bool dn_available(void) { return dnnl_engine_get_count(dnnl_cpu) > 0; }

static onyx_status *dn_create(int n_opts, const char *const *keys, const char *const *values,
                              onyx_provider **out) {
  bool bf16 = false;
  dn_conv_algo algo = DN_CONV_AUTO;
  static const char *const algos[] = {"auto", "direct", "winograd"};   /* dn_conv_algo order */
  for (int i = 0; i < n_opts; i++) {
    if (!strcmp(keys[i], "precision")) {
      if (!strcmp(values[i], "bf16")) bf16 = true;
      else if (!strcmp(values[i], "fp32")) bf16 = false;
      else
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider 'dnnl': precision '%s' is not fp32 or bf16", values[i]);
    } else if (!strcmp(keys[i], "conv_algorithm")) {
      int a = 0;
      while (a < 3 && strcmp(values[i], algos[a])) a++;
      if (a == 3)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "provider 'dnnl': conv_algorithm '%s' is not auto, direct or winograd", values[i]);
      algo = (dn_conv_algo)a;
    } else {
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                        "provider 'dnnl' has no option '%s' (it has: precision, conv_algorithm)", keys[i]);
    }
  }
  onyx_provider *p = onyx_calloc(1, sizeof *p);
  dn_provider *c = onyx_calloc(1, sizeof *c);
  if (!p || !c) {
    onyx_free(p);
    onyx_free(c);
    return onyx_error_oom();
  }
  p->iface = &dn_iface;
  p->name = "dnnl";
  p->ctx = c;
  pthread_mutex_init(&c->pool_lock, NULL);
  c->bf16 = bf16;
  c->conv_algo = algo;
  dnnl_status_t st = dnnl_engine_create(&c->engine, dnnl_cpu, 0);
  if (st != dnnl_success) {
    c->engine = NULL;
    dn_destroy(p);
    return dn_error(NULL, st, "engine creation");
  }
  *out = p;
  return NULL;
}

const onyx_provider_factory onyx_dnnl_provider_factory = {"dnnl", dn_available, dn_create, NULL};
