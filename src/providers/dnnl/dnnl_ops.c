/* dnnl_ops.c — how each ONNX op becomes oneDNN primitives: parameter
 * readers (shared with `supports`), post-op fusion, and one builder per op
 * family.
 *
 * Fusion: a Conv, ConvTranspose, MatMul or Gemm ("anchor") absorbs the chain
 * of nodes that follows it while each intermediate value has exactly one
 * consumer inside the partition and does not leave it: a BatchNormalization
 * right after a Conv with constant weights is folded into the weights and
 * bias; an Add of a tensor of the output's shape becomes a `sum` post-op
 * (Conv: the residual is copied into the output buffer first) or a binary
 * post-op (broadcast operands, MatMul/Gemm); activations become eltwise
 * post-ops. Binary ops absorb following activations too. When oneDNN refuses
 * a fused primitive, the anchor is built alone and the chain node by node.
 *
 * Levels (onyx_partition.opt_level, ORT's meaning): at 0 every node is its
 * own primitive; at 1 BatchNormalization is folded into a Conv (basic, as
 * the optimizer's conv_bn_folding); at 2 MatMul, Gemm and binary ops take
 * their post-ops (extended); only at 3 do Conv, pooling and Concat pick
 * their activation layout (`format_tag any`: blocked formats then stay
 * between primitives; below they read and write plain row-major tensors),
 * and only then do convolutions take post-ops, which oneDNN runs slowly on
 * plain layouts (see build_conv).
 *
 * The optimizer's ai.onyx ops arrive pre-fused and map onto the same
 * builders, their extra work as the anchor's own posts (kept when a chain
 * is dropped): FusedConv is a Conv with its residual Z as the `sum` post-op
 * and its activation as eltwise steps, FusedGemm a Gemm with the
 * activation, FusedMatMul a MatMul with the bias as a binary add post-op,
 * BiasGelu a binary add (or, without bias, an eltwise) with Gelu, and
 * SkipLayerNormalization a binary add (bias as its post-op) into a
 * temporary, then the LayerNormalization builder. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "dnnl_internal.h"
#include "ops/linalg.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"

#define MAX_CHAIN 24

/* ---- activations ------------------------------------------------------------- */

static const char *const eltwise_ops[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Clip",
                                          "HardSigmoid", "HardSwish", "Exp", "Sqrt", "Abs", "Neg",
                                          "Reciprocal", "Softplus", "Mish", "Gelu"};

bool dn_is_eltwise_op(const char *op_type) {
  for (size_t i = 0; i < sizeof eltwise_ops / sizeof eltwise_ops[0]; i++)
    if (!strcmp(eltwise_ops[i], op_type)) return true;
  return false;
}

/* A constant float scalar input i of n (absent: *out unchanged). */
static onyx_status *const_scalar(const onyx_graph *g, const onyx_node *n, int i, float *out) {
  if (i >= n->n_in || n->in[i] < 0) return NULL;
  const onyx_value *v = &g->values[n->in[i]];
  if (!v->init)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input %d ('%s') is not a constant", i, v->name);
  if (v->init->dtype != ONYX_DTYPE_FLOAT || onyx_numel(v->init->rank, v->init->dims) != 1)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input %d ('%s') is not a float scalar", i, v->name);
  *out = *(const float *)v->init->data;
  return NULL;
}

static void elt1(dn_eltwise *e, dnnl_alg_kind_t alg, float a, float b) {
  e->f[e->n].alg = alg;
  e->f[e->n].alpha = a;
  e->f[e->n].beta = b;
  e->n++;
}

onyx_status *dn_eltwise_of(const onyx_graph *g, const onyx_node *n, dn_eltwise *e) {
  const char *op = n->op_type;
  e->n = 0;
  if (!strcmp(op, "Relu")) elt1(e, dnnl_eltwise_relu, 0, 0);
  else if (!strcmp(op, "LeakyRelu")) elt1(e, dnnl_eltwise_relu, onyx_attr_float(n, "alpha", 0.01f), 0);
  else if (!strcmp(op, "Sigmoid")) elt1(e, dnnl_eltwise_logistic, 0, 0);
  else if (!strcmp(op, "Tanh")) elt1(e, dnnl_eltwise_tanh, 0, 0);
  else if (!strcmp(op, "Elu")) elt1(e, dnnl_eltwise_elu, onyx_attr_float(n, "alpha", 1.0f), 0);
  else if (!strcmp(op, "Selu")) {
    elt1(e, dnnl_eltwise_elu, onyx_attr_float(n, "alpha", 1.67326319217681884765625f), 0);
    elt1(e, dnnl_eltwise_linear, onyx_attr_float(n, "gamma", 1.05070102214813232421875f), 0);
  } else if (!strcmp(op, "Clip")) {
    float lo = -FLT_MAX, hi = FLT_MAX;
    if (n->opset < 11) {
      lo = onyx_attr_float(n, "min", lo);
      hi = onyx_attr_float(n, "max", hi);
    } else {
      ONYX_TRY(const_scalar(g, n, 1, &lo));
      ONYX_TRY(const_scalar(g, n, 2, &hi));
    }
    elt1(e, dnnl_eltwise_clip_v2, lo, hi);
  } else if (!strcmp(op, "HardSigmoid")) {
    elt1(e, dnnl_eltwise_linear, onyx_attr_float(n, "alpha", 0.2f), onyx_attr_float(n, "beta", 0.5f));
    elt1(e, dnnl_eltwise_clip_v2, 0, 1);
  } else if (!strcmp(op, "HardSwish")) elt1(e, dnnl_eltwise_hardswish, 0, 0);
  else if (!strcmp(op, "Exp")) elt1(e, dnnl_eltwise_exp, 0, 0);
  else if (!strcmp(op, "Sqrt")) elt1(e, dnnl_eltwise_sqrt, 0, 0);
  else if (!strcmp(op, "Abs")) elt1(e, dnnl_eltwise_abs, 0, 0);
  else if (!strcmp(op, "Neg")) elt1(e, dnnl_eltwise_linear, -1, 0);
  else if (!strcmp(op, "Reciprocal")) elt1(e, dnnl_eltwise_pow, 1, -1);
  else if (!strcmp(op, "Softplus")) elt1(e, dnnl_eltwise_soft_relu, 0, 0);
  else if (!strcmp(op, "Mish")) elt1(e, dnnl_eltwise_mish, 0, 0);
  else if (!strcmp(op, "Gelu") || !strcmp(op, "BiasGelu")) {   /* BiasGelu: the Gelu after its add */
    const char *ap = onyx_attr_string(n, "approximate", "none");
    if (!strcmp(ap, "none")) elt1(e, dnnl_eltwise_gelu_erf, 0, 0);
    else if (!strcmp(ap, "tanh")) elt1(e, dnnl_eltwise_gelu_tanh, 0, 0);
    else return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "approximate='%s'", ap);
  } else {
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s is not an activation dnnl has", op);
  }
  return NULL;
}

onyx_status *dn_fused_act_of(const onyx_node *n, dn_eltwise *e) {
  static const struct { const char *name; int np; float a, b; dnnl_alg_kind_t alg; } t[] = {
      {"", 0, 0, 0, dnnl_eltwise_relu},          {"Relu", 0, 0, 0, dnnl_eltwise_relu},
      {"Clip", 2, -FLT_MAX, FLT_MAX, dnnl_eltwise_clip_v2}, {"LeakyRelu", 1, 0.01f, 0, dnnl_eltwise_relu},
      {"Sigmoid", 0, 0, 0, dnnl_eltwise_logistic}, {"HardSigmoid", 2, 0.2f, 0.5f, dnnl_eltwise_linear},
      {"HardSwish", 0, 0, 0, dnnl_eltwise_hardswish}, {"Tanh", 0, 0, 0, dnnl_eltwise_tanh},
      {"Gelu", 0, 0, 0, dnnl_eltwise_gelu_erf},  {"GeluTanh", 0, 0, 0, dnnl_eltwise_gelu_tanh},
  };
  const char *name = onyx_attr_string(n, "activation", "");
  int cnt = 0;
  const float *p = NULL;
  onyx_attr_floats(n, "activation_params", &cnt, &p);
  e->n = 0;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    if (strcmp(name, t[i].name)) continue;
    if (cnt > t[i].np)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "activation %s with %d parameters (it takes %d)", name,
                             cnt, t[i].np);
    if (!*name) return NULL;
    elt1(e, t[i].alg, cnt > 0 ? p[0] : t[i].a, cnt > 1 ? p[1] : t[i].b);
    if (!strcmp(name, "HardSigmoid")) elt1(e, dnnl_eltwise_clip_v2, 0, 1);
    return NULL;
  }
  return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "activation '%s' is not one dnnl has", name);
}

int dn_binary_alg(const onyx_node *n) {
  static const struct { const char *op; dnnl_alg_kind_t alg; } t[] = {
      {"Add", dnnl_binary_add}, {"Sub", dnnl_binary_sub}, {"Mul", dnnl_binary_mul},
      {"Div", dnnl_binary_div}, {"Max", dnnl_binary_max}, {"Min", dnnl_binary_min}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(t[i].op, n->op_type)) return (int)t[i].alg;
  return -1;
}

/* ---- parameter readers ------------------------------------------------------------ */

onyx_status *dn_conv_of(const onyx_graph *g, const onyx_node *n, dn_conv *c) {
  bool transpose = !strcmp(n->op_type, "ConvTranspose");
  int wi = !strcmp(n->op_type, "QLinearConv") ? 3 : 1;   /* QLinearConv: x, x_scale, x_zero, w */
  const onyx_value *x = &g->values[n->in[0]], *w = &g->values[n->in[wi]], *y = &g->values[n->out[0]];
  onyx_conv_geom geo;
  ONYX_TRY(onyx_conv_geometry(n, transpose, x->rank, x->dims, w->dims, &geo));
  c->nsp = geo.nsp;
  c->group = geo.group;
  for (int i = 0; i < geo.nsp; i++) {
    int64_t in = geo.in[i], out = y->dims[2 + i], s = geo.stride[i];
    int64_t ext = (geo.kernel[i] - 1) * geo.dilation[i] + 1;
    int64_t pl = geo.pad_begin[i], pr = geo.pad_end[i];
    /* oneDNN's right pad is the one its floor formula needs for the output
     * size: Conv drops pads past the last window; ConvTranspose's
     * output_padding (or output_shape) lands there */
    if (!transpose) {
      if ((in - ext + pl + pr) / s + 1 != out) pr = (out - 1) * s + ext - in - pl;
    } else {
      pr = (in - 1) * s + ext - pl - out;
    }
    if (pl < 0 || pr < 0)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "negative padding on spatial axis %d "
                             "(output_padding or output_shape beyond the pads)", i);
    c->strides[i] = s;
    c->dilates[i] = geo.dilation[i] - 1;
    c->pad_l[i] = pl;
    c->pad_r[i] = pr;
  }
  return NULL;
}

onyx_status *dn_pool_of(const onyx_graph *g, const onyx_node *n, dn_pool *p) {
  const onyx_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  int nsp = x->rank - 2;
  bool avg = !strcmp(n->op_type, "AveragePool");
  bool include = avg && onyx_attr_int(n, "count_include_pad", 0);
  p->alg = !avg ? dnnl_pooling_max : include ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
  if (!avg && onyx_attr_int(n, "storage_order", 0) && n->n_out > 1 && n->out[1] >= 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "Indices output");
  onyx_pool_geom geo;
  ONYX_TRY(onyx_pool_geometry(n, nsp, x->dims + 2, &geo));
  for (int i = 0; i < nsp; i++) {
    int64_t ext = (geo.k[i] - 1) * geo.d[i] + 1;
    /* the right pad that makes oneDNN's floor formula give the output size
     * (ceil_mode adds windows past the end) */
    int64_t pr = (y->dims[2 + i] - 1) * geo.s[i] + ext - geo.in[i] - geo.pb[i];
    if (pr < geo.pe[i] && (geo.in[i] - ext + geo.pb[i] + geo.pe[i]) / geo.s[i] + 1 == y->dims[2 + i]) pr = geo.pe[i];
    if (pr < 0 || geo.pb[i] < 0)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "negative padding on spatial axis %d", i);
    if (include && pr > geo.pe[i])
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "ceil_mode with count_include_pad=1");
    if (geo.pb[i] >= ext || pr >= ext)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "padding as large as the window on axis %d", i);
    p->kernel[i] = geo.k[i];
    p->strides[i] = geo.s[i];
    p->dilates[i] = geo.d[i] - 1;
    p->pad_l[i] = geo.pb[i];
    p->pad_r[i] = pr;
  }
  return NULL;
}

onyx_status *dn_reduce_of(const onyx_graph *g, const onyx_node *n, dn_reduce *r) {
  static const struct { const char *op; dnnl_alg_kind_t alg; float p; bool log; } t[] = {
      {"ReduceSum", dnnl_reduction_sum, 0, false},   {"ReduceMean", dnnl_reduction_mean, 0, false},
      {"ReduceMax", dnnl_reduction_max, 0, false},   {"ReduceMin", dnnl_reduction_min, 0, false},
      {"ReduceProd", dnnl_reduction_mul, 0, false},  {"ReduceL1", dnnl_reduction_norm_lp_sum, 1, false},
      {"ReduceL2", dnnl_reduction_norm_lp_sum, 2, false},
      {"ReduceSumSquare", dnnl_reduction_norm_lp_power_p_sum, 2, false},
      {"ReduceLogSum", dnnl_reduction_sum, 0, true}};
  size_t i = 0;
  while (i < sizeof t / sizeof t[0] && strcmp(t[i].op, n->op_type)) i++;
  if (i == sizeof t / sizeof t[0]) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "not a reduction dnnl has");
  r->alg = t[i].alg;
  r->p = t[i].p;
  r->log = t[i].log;
  const onyx_value *x = &g->values[n->in[0]];
  bool axes_input = n->opset >= 18 || (!strcmp(n->op_type, "ReduceSum") && n->opset >= 13);
  int64_t axes[ONYX_MAX_RANK];
  int na = 0;
  if (axes_input) {
    if (n->n_in > 1 && n->in[1] >= 0) {
      const onyx_tensor *a = g->values[n->in[1]].init;
      if (!a) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "axes are not a constant");
      na = (int)onyx_numel(a->rank, a->dims);
      if (na > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "too many axes");
      for (int k = 0; k < na; k++) axes[k] = onyx_tensor_get_i64(a, k);
    }
  } else {
    const int64_t *v;
    if (onyx_attr_ints(n, "axes", &na, &v)) {
      if (na > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "too many axes");
      memcpy(axes, v, (size_t)na * sizeof *v);
    }
  }
  if (na == 0 && onyx_attr_int(n, "noop_with_empty_axes", 0))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "noop_with_empty_axes with empty axes");
  for (int k = 0; k < x->rank; k++) r->axis[k] = na == 0;
  for (int k = 0; k < na; k++) {
    int ax;
    ONYX_TRY(onyx_norm_axis(n, axes[k], x->rank, &ax));
    r->axis[ax] = true;
  }
  return NULL;
}

/* ---- fusion chains ------------------------------------------------------------------ */

enum { P_ELT, P_SUM, P_BIN };

typedef struct post {
  int kind;
  dnnl_alg_kind_t alg;   /* P_ELT, P_BIN */
  float a, b;            /* P_ELT */
  int v;                 /* P_SUM, P_BIN: the other operand (graph value), or -1 for `cbuf` */
  dn_buf cbuf;           /* P_BIN of a compiler-made constant */
  int rank;              /* P_BIN: operand dims padded to the output rank */
  int64_t dims[ONYX_MAX_RANK];
} post;

typedef struct chain {
  int n_nodes;
  int nodes[MAX_CHAIN];
  int end;               /* the value the fused step produces */
  int bn;                /* folded BatchNormalization node, or -1 */
  int n_pre;             /* posts that belong to the anchor itself (Gemm alpha/beta) */
  int n_post;
  post p[MAX_CHAIN + 4];
} chain;

static bool same_shape(const onyx_value *a, const onyx_value *b) {
  return a->rank == b->rank && !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]);
}

static void pad_dims(const onyx_value *v, int rank, int64_t *out) {
  for (int i = 0; i < rank; i++) out[i] = i < rank - v->rank ? 1 : v->dims[i - (rank - v->rank)];
}

static void add_elt(chain *c, dnnl_alg_kind_t alg, float a, float b) {
  post *p = &c->p[c->n_post++];
  memset(p, 0, sizeof *p);
  p->kind = P_ELT;
  p->alg = alg;
  p->a = a;
  p->b = b;
}

/* The activation of ai.onyx fused op n appended to c as eltwise posts. */
static onyx_status *add_fused_act(const onyx_node *n, chain *c) {
  dn_eltwise e;
  ONYX_TRY(dn_fused_act_of(n, &e));
  for (int k = 0; k < e.n; k++) add_elt(c, e.f[k].alg, e.f[k].alpha, e.f[k].beta);
  return NULL;
}

enum { F_BN = 1, F_SUM = 2, F_ADD = 4, F_ELT = 8 };

/* Extends c (anchor output `c->end`) with the nodes that can fuse into it:
 * those `flags` allows, at the session's level (folding only at 1, nothing
 * at 0). */
static void find_chain(dn_builder *b, int flags, chain *c) {
  const onyx_graph *g = dn_graph(b);
  if (dn_level(b) < 2) flags &= dn_level(b) >= 1 ? F_BN : 0;
  for (;;) {
    int ci = dn_sole_consumer(b, c->end);
    if (ci < 0 || c->n_nodes == MAX_CHAIN || c->n_post > MAX_CHAIN - 2) return;
    const onyx_node *m = &g->nodes[ci];
    const onyx_value *cur = &g->values[c->end];
    onyx_status *s = dn_node_supported(g, m);
    if (s) {
      onyx_status_free(s);
      return;
    }
    if (!strcmp(m->op_type, "BatchNormalization")) {
      if (!(flags & F_BN) || c->n_post || c->bn >= 0 || m->in[0] != c->end) return;
      for (int k = 1; k < 5; k++)
        if (!g->values[m->in[k]].init) return;
      c->bn = ci;
    } else if (!strcmp(m->op_type, "Add")) {
      int other = m->in[0] == c->end ? m->in[1] : m->in[0];
      const onyx_value *o = &g->values[other], *y = &g->values[m->out[0]];
      if (!(flags & F_ADD) || other == c->end || !dn_val_md(b, other) || !same_shape(y, cur)) return;
      post *p = &c->p[c->n_post];
      memset(p, 0, sizeof *p);
      p->v = other;
      bool has_sum = false;
      for (int k = 0; k < c->n_post; k++) has_sum |= c->p[k].kind == P_SUM;
      if ((flags & F_SUM) && same_shape(o, cur) && c->n_post == c->n_pre && !has_sum) {
        p->kind = P_SUM;
      } else {
        p->kind = P_BIN;
        p->alg = dnnl_binary_add;
        p->rank = cur->rank;
        pad_dims(o, cur->rank, p->dims);
      }
      c->n_post++;
    } else if (dn_is_eltwise_op(m->op_type)) {
      if (!(flags & F_ELT)) return;
      dn_eltwise e;
      if ((s = dn_eltwise_of(g, m, &e))) {
        onyx_status_free(s);
        return;
      }
      /* oneDNN 2.6's gemm-based matmul mixes up the parameters of two
       * eltwise post-ops of the same kind: one of each kind per chain */
      for (int k = 0; k < e.n; k++)
        for (int j = 0; j < c->n_post; j++)
          if (c->p[j].kind == P_ELT && c->p[j].alg == e.f[k].alg) return;
      if (e.n == 2 && e.f[0].alg == e.f[1].alg) return;
      for (int k = 0; k < e.n; k++) add_elt(c, e.f[k].alg, e.f[k].alpha, e.f[k].beta);
    } else {
      return;
    }
    c->nodes[c->n_nodes++] = ci;
    c->end = m->out[0];
  }
}

/* Drops the fused nodes, keeping the anchor's own posts. */
static void chain_reset(chain *c, int anchor_out) {
  c->n_nodes = 0;
  c->n_post = c->n_pre;
  c->bn = -1;
  c->end = anchor_out;
}

static onyx_status *make_post_ops(const onyx_node *n, const chain *c, dnnl_post_ops_t *out) {
  *out = NULL;
  if (!c->n_post) return NULL;
  dnnl_post_ops_t po;
  dnnl_status_t st = dnnl_post_ops_create(&po);
  for (int i = 0; i < c->n_post && st == dnnl_success; i++) {
    const post *p = &c->p[i];
    if (p->kind == P_ELT) st = dnnl_post_ops_append_eltwise(po, 1.0f, p->alg, p->a, p->b);
    else if (p->kind == P_SUM) st = dnnl_post_ops_append_sum(po, 1.0f);
    else {
      dnnl_memory_desc_t md;
      dn_plain_md(&md, p->rank, p->dims, dnnl_f32);
      st = dnnl_post_ops_append_binary(po, p->alg, &md);
    }
  }
  if (st != dnnl_success) {
    dnnl_post_ops_destroy(po);
    return dn_error(n, st, "post-ops");
  }
  *out = po;
  return NULL;
}

/* The value a sum post-op of c accumulates onto, or -1. */
static int sum_operand(const chain *c) {
  for (int i = 0; i < c->n_post; i++)
    if (c->p[i].kind == P_SUM) return c->p[i].v;
  return -1;
}

/* dst of chain c in layout md: the sum operand's own buffer when it dies
 * here (*in_place), else a new one (dn_define). */
static onyx_status *define_dst(dn_builder *b, int anchor, const chain *c, const dnnl_memory_desc_t *md,
                               dn_buf *dst, bool *in_place) {
  *in_place = false;
  int v = sum_operand(c);
  if (v >= 0) ONYX_TRY(dn_define_over(b, c->end, md, v, anchor, c->nodes, c->n_nodes, dst, in_place));
  return *in_place ? NULL : dn_define(b, c->end, md, dst);
}

/* Arguments of the binary post-ops of c (appended at args[*na]); the sum
 * operand is copied into dst (layout dst_md) before the step, unless dst
 * is already its buffer (in_place). */
static onyx_status *post_args(dn_builder *b, const onyx_node *n, const chain *c, const dnnl_memory_desc_t *dst_md,
                              dn_buf dst, bool in_place, dn_arg *args, int *na) {
  for (int i = 0; i < c->n_post; i++) {
    const post *p = &c->p[i];
    if (p->kind == P_SUM) {
      if (in_place) continue;
      dn_buf src;
      dnnl_memory_desc_t smd = *dn_val_md(b, p->v);
      ONYX_TRY(dn_want(b, n, p->v, &smd, &src));
      ONYX_TRY(dn_add_reorder(b, n, &smd, src, dst_md, dst));
    } else if (p->kind == P_BIN) {
      dn_arg *a = &args[(*na)++];
      a->arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1;
      if (p->v >= 0) {
        ONYX_TRY(dn_want_view(b, n, p->v, p->rank, p->dims, dnnl_f32, &a->md, &a->b));
      } else {
        dn_plain_md(&a->md, p->rank, p->dims, dnnl_f32);
        a->b = p->cbuf;
      }
    }
  }
  return NULL;
}

/* The primitive descriptor of op descriptor d with chain c's post-ops (and
 * output scale oscale unless 1): dnnl_success, or oneDNN's status for the
 * caller to retry another way on (*pd NULL); *s is set, with no retry, when
 * the attributes could not be built. */
static dnnl_status_t try_pd(dn_builder *b, const onyx_node *n, const void *d, const chain *c, float oscale,
                            dnnl_primitive_desc_t *pd, onyx_status **s) {
  dnnl_post_ops_t po;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_status_t st = dnnl_runtime_error;
  *pd = NULL;
  if (!(*s = make_post_ops(n, c, &po)) && !(*s = dn_attr(n, po, &attr))) {
    st = oscale != 1.0f ? dnnl_primitive_attr_set_output_scales(attr, 1, 0, &oscale) : dnnl_success;
    if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, d, attr, dn_engine(b), NULL);
  }
  if (po) dnnl_post_ops_destroy(po);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return st;
}

static void mark_chain(dn_builder *b, const chain *c) {
  for (int i = 0; i < c->n_nodes; i++) dn_mark_done(b, c->nodes[i]);
}

static void note_bf16_fallback(const onyx_node *n) {
  static atomic_bool logged;
  if (!atomic_exchange(&logged, true))
    onyx_log(ONYX_LOG_INFO, "dnnl: no bf16 kernel for node '%s' (%s) on this CPU; running fp32 where bf16 is missing",
             n->name, n->op_type);
}

/* The plain buffer of value v (float32, its own dims). */
static onyx_status *plain_buf(dn_builder *b, const onyx_node *n, int v, dn_buf *out) {
  const onyx_value *val = &dn_graph(b)->values[v];
  dnnl_memory_desc_t md;
  dn_plain_md(&md, val->rank, val->dims, dnnl_f32);
  return dn_want(b, n, v, &md, out);
}

/* The layout an activation (src or dst) of a layout-choosing primitive is
 * declared with: any at level 3 (the primitive picks, blocked formats stay
 * between primitives), plain row-major below. */
static void act_md(const dn_builder *b, dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt) {
  if (dn_level(b) >= 3) dnnl_memory_desc_init_by_tag(md, ndims, dims, dt, dnnl_format_tag_any);
  else dn_plain_md(md, ndims, dims, dt);
}

static const dnnl_memory_desc_t *q_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int idx) {
  return dnnl_primitive_desc_query_md(pd, what, idx);
}

/* ---- Conv / ConvTranspose ------------------------------------------------------------ */

/* Weights (and bias) with a folded BatchNormalization, as new constants. */
static onyx_status *fold_bn(dn_builder *b, const onyx_node *n, const onyx_node *bn, int64_t oc, int64_t per_oc,
                            dn_buf *w_out, dn_buf *bias_out) {
  const onyx_graph *g = dn_graph(b);
  const float *w = g->values[n->in[1]].init->data;
  const float *bias = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].init->data : NULL;
  const float *gamma = g->values[bn->in[1]].init->data, *beta = g->values[bn->in[2]].init->data;
  const float *mean = g->values[bn->in[3]].init->data, *var = g->values[bn->in[4]].init->data;
  float eps = onyx_attr_float(bn, "epsilon", 1e-5f);
  float *nw = onyx_malloc_aligned((size_t)(oc * per_oc) * sizeof *nw + 1);
  float *nb = onyx_malloc_aligned((size_t)oc * sizeof *nb + 1);
  if (!nw || !nb) {
    onyx_free_aligned(nw);
    onyx_free_aligned(nb);
    return onyx_error_oom();
  }
  for (int64_t m = 0; m < oc; m++) {
    float sc = gamma[m] / sqrtf(var[m] + eps);
    for (int64_t k = 0; k < per_oc; k++) nw[m * per_oc + k] = w[m * per_oc + k] * sc;
    nb[m] = ((bias ? bias[m] : 0.0f) - mean[m]) * sc + beta[m];
  }
  onyx_status *s = dn_const(b, nw, w_out);
  if (s) {
    onyx_free_aligned(nb);
    return s;
  }
  return dn_const(b, nb, bias_out);
}

void dn_conv_weights(const onyx_value *w, int64_t G, int64_t ic, int64_t oc, bool transpose, dnnl_data_type_t dt,
                     int64_t *wd, int *wr, dnnl_memory_desc_t *view) {
  int nsp = w->rank - 2, o = G > 1;
  int64_t ksz = onyx_numel(nsp, w->dims + 2);
  dnnl_dims_t ws;
  *wr = w->rank + o;
  if (G > 1) wd[0] = G;
  wd[o] = oc / G;
  wd[o + 1] = ic / G;
  for (int i = 0; i < nsp; i++) wd[o + 2 + i] = w->dims[2 + i];
  dnnl_dim_t kst = 1;
  for (int i = nsp - 1; i >= 0; i--) {
    ws[o + 2 + i] = kst;
    kst *= w->dims[2 + i];
  }
  if (!transpose) {   /* ONNX: [oc, ic/g, k...] == [g, oc/g, ic/g, k...] */
    ws[o + 1] = ksz;
    ws[o] = (ic / G) * ksz;
    if (G > 1) ws[0] = (oc / G) * (ic / G) * ksz;
  } else {            /* ONNX: [ic, oc/g, k...] == [g, ic/g, oc/g, k...] */
    ws[o] = ksz;
    ws[o + 1] = (oc / G) * ksz;
    if (G > 1) ws[0] = (ic / G) * (oc / G) * ksz;
  }
  dnnl_memory_desc_init_by_strides(view, *wr, wd, dt, ws);
}

/* Whether a convolution is tried with oneDNN's Winograd F(2x2, 3x3) kernel
 * before the direct one: 2-D 3x3, stride 1, no dilation, one group, blocked
 * layouts (level 3). The kernel runs 16 matrix products with one row per
 * 2x2 output tile, on weights 16/9 the size; auto takes it where there are
 * >= 196 tiles (28x28 outputs at batch 1). Measured on ResNet-50, one thread,
 * AVX-512 Xeons: its 56x56 and 28x28 3x3 convolutions (64 and 128 channels)
 * with Winograd made the model 4-6% faster; also taking the 14x14 and 7x7
 * ones (256 and 512 channels, 2.4-9.4 MB of weights) made it 3% slower than
 * direct on one host, though faster in isolation with warm weights. oneDNN
 * 2.6 has the kernel for AVX-512 only; elsewhere the descriptor fails and
 * the direct kernel runs. */
static bool winograd_fits(const dn_builder *b, const onyx_value *w, const onyx_value *y, const dn_conv *cp) {
  dn_conv_algo a = dn_conv_algorithm(b);
  if (a == DN_CONV_DIRECT || dn_level(b) < 3 || cp->nsp != 2 || cp->group != 1) return false;
  for (int i = 0; i < 2; i++)
    if (w->dims[2 + i] != 3 || cp->strides[i] != 1 || cp->dilates[i] != 0) return false;
  int64_t tiles = y->dims[0] * ((y->dims[2] + 1) / 2) * ((y->dims[3] + 1) / 2);
  return a == DN_CONV_WINOGRAD || tiles >= 196;
}

static onyx_status *build_conv(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  bool transpose = !strcmp(n->op_type, "ConvTranspose");
  const onyx_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  bool has_bias = n->n_in > 2 && n->in[2] >= 0;
  dn_conv cp;
  ONYX_TRY(dn_conv_of(g, n, &cp));
  int r = x->rank, nsp = cp.nsp;
  int64_t G = cp.group, ic = x->dims[1], oc = y->dims[1], ksz = 1;
  for (int i = 0; i < nsp; i++) ksz *= w->dims[2 + i];
  bool w_const = w->init != NULL;
  bool b_const = !has_bias || g->values[n->in[2]].init;

  dnnl_dims_t wd;
  int wr;
  dnnl_memory_desc_t w_view;
  dn_conv_weights(w, G, ic, oc, transpose, dnnl_f32, wd, &wr, &w_view);

  chain c = {.end = n->out[0], .bn = -1};
  if (!strcmp(n->op_type, "FusedConv")) {   /* act(conv + Z): Z as the sum post-op */
    if (n->n_in > 3 && n->in[3] >= 0) {
      post *p = &c.p[c.n_post++];
      memset(p, 0, sizeof *p);
      p->kind = P_SUM;
      p->v = n->in[3];
    }
    ONYX_TRY(add_fused_act(n, &c));
    c.n_pre = c.n_post;
  }
  /* post-ops join a convolution only at level 3, with the blocked layouts:
   * on plain layouts oneDNN 2.6's (gemm) convolution applies them element by
   * element, measured 4x slower than conv + eltwise apart for Clip and
   * 30-100x for a residual sum (ORT, too, fuses Conv+Add(+Relu) in its
   * level-3 NCHWc layout transformer) */
  int post = dn_level(b) >= 3 ? F_SUM | F_ADD | F_ELT : 0;
  find_chain(b, (!transpose && w_const && b_const ? F_BN : 0) | post, &c);
  bool bf16 = dn_bf16(b);
  bool wino = !transpose && winograd_fits(b, w, y, &cp);
  dnnl_primitive_desc_t pd = NULL;
  onyx_status *s = NULL;
  for (;;) {
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    dnnl_dims_t xd, yd;
    for (int i = 0; i < r; i++) {
      xd[i] = x->dims[i];
      yd[i] = y->dims[i];
    }
    act_md(b, &src_md, r, xd, dt);
    dnnl_memory_desc_init_by_tag(&w_md, wr, wd, dt, dnnl_format_tag_any);
    act_md(b, &dst_md, r, yd, dnnl_f32);
    dnnl_dims_t bd = {oc};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    bool with_bias = has_bias || c.bn >= 0;
    dnnl_status_t st;
    if (!transpose) {
      dnnl_convolution_desc_t d;
      dnnl_alg_kind_t alg = wino && !bf16 ? dnnl_convolution_winograd : dnnl_convolution_direct;
      st = dnnl_dilated_convolution_forward_desc_init(&d, dnnl_forward_inference, alg, &src_md, &w_md,
                                                      with_bias ? &b_md : NULL, &dst_md, cp.strides, cp.dilates,
                                                      cp.pad_l, cp.pad_r);
      if (st == dnnl_success) st = try_pd(b, n, &d, &c, 1.0f, &pd, &s);
    } else {
      dnnl_deconvolution_desc_t d;
      st = dnnl_dilated_deconvolution_forward_desc_init(&d, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                        &src_md, &w_md, with_bias ? &b_md : NULL, &dst_md,
                                                        cp.strides, cp.dilates, cp.pad_l, cp.pad_r);
      if (st == dnnl_success) st = try_pd(b, n, &d, &c, 1.0f, &pd, &s);
    }
    if (s) return s;
    if (st == dnnl_success) break;
    if (wino && !bf16) {   /* the direct kernel, same post-ops */
      wino = false;
    } else if (bf16) {
      note_bf16_fallback(n);
      bf16 = false;
    } else if (c.n_nodes) {
      chain_reset(&c, n->out[0]);
    } else {
      return dn_error(n, st, transpose ? "deconvolution" : "convolution");
    }
  }
  dn_arg args[MAX_CHAIN + 8];
  int na = 0;
  dn_buf src, wb, bb, dst;
  const dnnl_memory_desc_t *src_q = q_md(pd, dnnl_query_src_md, 0), *w_q = q_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *b_q = q_md(pd, dnnl_query_weights_md, 1), *dst_q = q_md(pd, dnnl_query_dst_md, 0);
  if ((s = dn_want(b, n, n->in[0], src_q, &src))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_SRC, *src_q, src};
  dn_buf w_plain = {0}, b_plain = {0};
  if (c.bn >= 0) {
    s = fold_bn(b, n, &g->nodes[c.bn], oc, (ic / G) * ksz, &w_plain, &b_plain);
  } else {
    if (!(s = plain_buf(b, n, n->in[1], &w_plain)) && has_bias) s = plain_buf(b, n, n->in[2], &b_plain);
  }
  if (s || (s = dn_convert(b, n, &w_view, w_plain, w_q, &wb))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_WEIGHTS, *w_q, wb};
  if (has_bias || c.bn >= 0) {
    dnnl_memory_desc_t bplain;
    dn_plain_md(&bplain, 1, &oc, dnnl_f32);
    if ((s = dn_convert(b, n, &bplain, b_plain, b_q, &bb))) goto done;
    args[na++] = (dn_arg){DNNL_ARG_BIAS, *b_q, bb};
  }
  bool in_place;
  if ((s = define_dst(b, ni, &c, dst_q, &dst, &in_place))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_DST, *dst_q, dst};
  if ((s = post_args(b, n, &c, dst_q, dst, in_place, args, &na))) goto done;
  if ((s = dn_add_step(b, n, pd, na, args))) goto done;
  mark_chain(b, &c);
done:
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* ---- MatMul / Gemm ---------------------------------------------------------------------- */

static onyx_status *build_matmul(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  bool gemm = !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "FusedGemm");
  const onyx_value *A = &g->values[n->in[0]], *B = &g->values[n->in[1]], *Y = &g->values[n->out[0]];
  int64_t ad[ONYX_MAX_RANK + 1], bd[ONYX_MAX_RANK + 1], yd[ONYX_MAX_RANK + 1];
  dnnl_dims_t as, bs;   /* strides of A and B (Gemm transposes) */
  int r;
  float oscale = 1.0f;
  chain c = {.end = n->out[0], .bn = -1};
  if (!gemm) {
    int ra = A->rank == 1 ? 2 : A->rank, rb = B->rank == 1 ? 2 : B->rank;
    r = ra > rb ? ra : rb;
    int64_t a2[ONYX_MAX_RANK + 1], b2[ONYX_MAX_RANK + 1];
    if (A->rank == 1) {
      a2[0] = 1;
      a2[1] = A->dims[0];
    } else {
      memcpy(a2, A->dims, (size_t)ra * sizeof *a2);
    }
    if (B->rank == 1) {
      b2[0] = B->dims[0];
      b2[1] = 1;
    } else {
      memcpy(b2, B->dims, (size_t)rb * sizeof *b2);
    }
    for (int i = 0; i < r; i++) {
      ad[i] = i < r - ra ? 1 : a2[i - (r - ra)];
      bd[i] = i < r - rb ? 1 : b2[i - (r - rb)];
      yd[i] = ad[i] > bd[i] ? ad[i] : bd[i];
    }
    yd[r - 2] = ad[r - 2];
    yd[r - 1] = bd[r - 1];
    if (n->n_in > 2 && n->in[2] >= 0) {   /* FusedMatMul's bias [N] on the last axis */
      post *p = &c.p[c.n_post++];
      memset(p, 0, sizeof *p);
      p->kind = P_BIN;
      p->alg = dnnl_binary_add;
      p->v = n->in[2];
      p->rank = r;
      for (int i = 0; i < r; i++) p->dims[i] = i == r - 1 ? yd[r - 1] : 1;
    }
    dnnl_dim_t sa = 1, sb = 1;
    for (int i = r - 1; i >= 0; i--) {
      as[i] = sa;
      sa *= ad[i];
      bs[i] = sb;
      sb *= bd[i];
    }
  } else {
    r = 2;
    bool ta = onyx_attr_int(n, "transA", 0), tb = onyx_attr_int(n, "transB", 0);
    int64_t M = Y->dims[0], N = Y->dims[1], K = A->dims[ta ? 0 : 1];
    ad[0] = M;
    ad[1] = K;
    bd[0] = K;
    bd[1] = N;
    yd[0] = M;
    yd[1] = N;
    as[0] = ta ? 1 : K;
    as[1] = ta ? M : 1;
    bs[0] = tb ? 1 : N;
    bs[1] = tb ? K : 1;
    float alpha = onyx_attr_float(n, "alpha", 1.0f), beta = onyx_attr_float(n, "beta", 1.0f);
    bool has_c = n->n_in > 2 && n->in[2] >= 0 && beta != 0.0f;
    const onyx_value *C = has_c ? &g->values[n->in[2]] : NULL;
    /* alpha is the output scale (several eltwise post-ops in one matmul
     * mix up their parameters in oneDNN 2.6); a run-time C with beta != 1:
     * alpha*AB + beta*C = beta * ((alpha/beta)*AB + C) */
    bool rescale = has_c && !C->init && beta != 1.0f;
    oscale = rescale ? alpha / beta : alpha;
    if (has_c) {
      post *p = &c.p[c.n_post++];
      memset(p, 0, sizeof *p);
      p->kind = P_BIN;
      p->alg = dnnl_binary_add;
      p->rank = 2;
      pad_dims(C, 2, p->dims);
      p->v = n->in[2];
      if (C->init && beta != 1.0f) {   /* scale the constant once */
        int64_t cnt = onyx_numel(C->rank, C->dims);
        float *sc = onyx_malloc_aligned((size_t)cnt * sizeof *sc + 1);
        if (!sc) return onyx_error_oom();
        for (int64_t i = 0; i < cnt; i++) sc[i] = ((const float *)C->init->data)[i] * beta;
        ONYX_TRY(dn_const(b, sc, &p->cbuf));
        p->v = -1;
      }
    }
    if (rescale) {
      float *sc = onyx_malloc_aligned(sizeof *sc);
      if (!sc) return onyx_error_oom();
      *sc = beta;
      post *p = &c.p[c.n_post++];
      memset(p, 0, sizeof *p);
      p->kind = P_BIN;
      p->alg = dnnl_binary_mul;
      p->rank = 2;
      p->dims[0] = p->dims[1] = 1;
      p->v = -1;
      ONYX_TRY(dn_const(b, sc, &p->cbuf));
    }
  }
  if (strcmp(n->op_type, "Gemm") && strcmp(n->op_type, "MatMul")) ONYX_TRY(add_fused_act(n, &c));
  c.n_pre = c.n_post;
  /* with a vector operand the output drops a dim, and broadcast operands of
   * a fused Add would no longer line up with the view: activations only */
  bool vec = !gemm && (A->rank == 1 || B->rank == 1);
  find_chain(b, F_ELT | (vec ? 0 : F_ADD), &c);
  /* [batch..., M, K] x [K, N] is one [batch*M, K] x [K, N] product when
   * every fused operand is a row vector or has the output's shape */
  bool flat = !gemm && A->rank > 2 && B->rank == 2;
  for (int i = 0; i < c.n_post && flat; i++) {
    const post *p = &c.p[i];
    bool row = true, full = true;
    for (int k = 0; k < r - 1; k++) {
      row &= p->dims[k] == 1;
      full &= p->dims[k] == yd[k];
    }
    flat = p->kind == P_ELT || row || full;
  }
  if (flat) {
    int64_t rows = onyx_numel(r - 1, ad);
    for (int i = 0; i < c.n_post; i++) {
      post *p = &c.p[i];
      if (p->kind == P_ELT) continue;
      bool row = true;
      for (int k = 0; k < r - 1; k++) row &= p->dims[k] == 1;
      p->dims[0] = row ? 1 : rows;
      p->dims[1] = p->dims[r - 1];
      p->rank = 2;
    }
    ad[0] = yd[0] = rows;
    ad[1] = A->dims[A->rank - 1];
    bd[0] = B->dims[0];
    bd[1] = yd[1] = B->dims[1];
    r = 2;
    as[0] = ad[1];
    as[1] = 1;
    bs[0] = bd[1];
    bs[1] = 1;
  }
  bool bf16 = dn_bf16(b);
  bool w_const = B->init != NULL;
  /* Below AVX-512, a 2-D product with constant weights and a row-major A is
   * an inner product: oneDNN keeps its weights packed (its AVX2 matmul
   * repacks them per call, 3x slower for BERT's 768x3072). With AVX-512 the
   * matmul primitive keeps them packed too and was faster: BERT-base at one
   * thread on the Xeon 0.93x ORT with inner products, 1.02x with matmul. */
  bool ip = r == 2 && w_const && as[1] == 1 &&
            (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core;
  dnnl_primitive_desc_t pd = NULL;
  onyx_status *s = NULL;
  dnnl_memory_desc_t a_view, b_view, dst_md;
  for (;;) {
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_md, w_md;
    dnnl_dims_t a_dims, b_dims;
    for (int i = 0; i < r; i++) {
      a_dims[i] = ad[i];
      b_dims[i] = bd[i];
    }
    dnnl_memory_desc_init_by_strides(&a_view, r, a_dims, dnnl_f32, as);
    dnnl_memory_desc_init_by_strides(&b_view, r, b_dims, dnnl_f32, bs);
    if (bf16) dn_plain_md(&src_md, r, ad, dt);
    else src_md = a_view;
    if (w_const) dnnl_memory_desc_init_by_tag(&w_md, r, b_dims, dt, dnnl_format_tag_any);
    else if (bf16) dn_plain_md(&w_md, r, bd, dt);
    else w_md = b_view;
    dn_plain_md(&dst_md, r, yd, dnnl_f32);
    dnnl_matmul_desc_t d;
    dnnl_inner_product_desc_t ipd;
    dnnl_status_t st;
    if (ip) {   /* weights as [N, K] */
      dnnl_dims_t wd = {bd[1], bd[0]}, ws = {bs[1], bs[0]};
      dnnl_memory_desc_init_by_strides(&b_view, 2, wd, dnnl_f32, ws);
      dnnl_memory_desc_init_by_tag(&w_md, 2, wd, dt, dnnl_format_tag_any);
      dn_plain_md(&src_md, r, ad, dt);
      st = dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_md, &w_md, NULL, &dst_md);
    } else {
      st = dnnl_matmul_desc_init(&d, &src_md, &w_md, NULL, &dst_md);
    }
    if (st == dnnl_success) st = try_pd(b, n, ip ? (const void *)&ipd : (const void *)&d, &c, oscale, &pd, &s);
    if (s) return s;
    if (st == dnnl_success) break;
    if (bf16) {
      note_bf16_fallback(n);
      bf16 = false;
    } else if (c.n_nodes) {
      chain_reset(&c, n->out[0]);
    } else if (ip) {
      ip = false;
      bf16 = dn_bf16(b);
    } else {
      return dn_error(n, st, "matmul");
    }
  }
  dn_arg args[MAX_CHAIN + 8];
  int na = 0;
  dn_buf ab, bb, wb, src, dst;
  const dnnl_memory_desc_t *src_q = q_md(pd, dnnl_query_src_md, 0), *w_q = q_md(pd, dnnl_query_weights_md, 0);
  if ((s = plain_buf(b, n, n->in[0], &ab)) || (s = dn_convert(b, n, &a_view, ab, src_q, &src))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_SRC, *src_q, src};
  if ((s = plain_buf(b, n, n->in[1], &bb)) || (s = dn_convert(b, n, &b_view, bb, w_q, &wb))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_WEIGHTS, *w_q, wb};
  /* the output's plain layout under its own dims; the primitive writes the view */
  dnnl_memory_desc_t y_md;
  const onyx_value *E = &g->values[c.end];
  dn_plain_md(&y_md, E->rank, E->dims, dnnl_f32);
  bool in_place;
  if ((s = define_dst(b, ni, &c, &y_md, &dst, &in_place))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_DST, dst_md, dst};
  if ((s = post_args(b, n, &c, &dst_md, dst, in_place, args, &na))) goto done;
  if ((s = dn_add_step(b, n, pd, na, args))) goto done;
  mark_chain(b, &c);
done:
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* ---- single-primitive ops ----------------------------------------------------------------- */

/* Creates pd from op descriptor d with post-ops of c, or fails naming `what`. */
static onyx_status *make_pd(dn_builder *b, const onyx_node *n, const void *d, const chain *c, const char *what,
                            dnnl_primitive_desc_t *pd) {
  onyx_status *s = NULL;
  dnnl_status_t st = try_pd(b, n, d, c, 1.0f, pd, &s);
  if (s) return s;
  return st == dnnl_success ? NULL : dn_error(n, st, what);
}

/* Appends the step of pd (src + dst + extra args) producing value v in the
 * layout pd chose for dst, then destroys pd. */
static onyx_status *finish(dn_builder *b, const onyx_node *n, dnnl_primitive_desc_t pd, int v,
                           const dnnl_memory_desc_t *view, dn_arg *args, int na) {
  const dnnl_memory_desc_t *dst_q = q_md(pd, dnnl_query_dst_md, 0);
  dn_buf dst;
  onyx_status *s = dn_define(b, v, view ? view : dst_q, &dst);
  if (!s) {
    args[na++] = (dn_arg){DNNL_ARG_DST, *dst_q, dst};
    s = dn_add_step(b, n, pd, na, args);
  }
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* One eltwise primitive per step: oneDNN 2.6 computes garbage for eltwise
 * post-ops on an eltwise primitive over small tensors. */
static onyx_status *build_eltwise(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  dn_eltwise e;
  ONYX_TRY(dn_eltwise_of(g, n, &e));
  dnnl_memory_desc_t md = *dn_val_md(b, n->in[0]);
  dn_buf src, dst;
  ONYX_TRY(dn_want(b, n, n->in[0], &md, &src));
  chain c = {.end = n->out[0], .bn = -1};
  for (int k = 0; k < e.n; k++) {
    dnnl_eltwise_desc_t d;
    dnnl_status_t st = dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, e.f[k].alg, &md, e.f[k].alpha,
                                                      e.f[k].beta);
    if (st != dnnl_success) return dn_error(n, st, "eltwise");
    dnnl_primitive_desc_t pd;
    ONYX_TRY(make_pd(b, n, &d, &c, "eltwise", &pd));
    if (k == e.n - 1) {
      dn_arg args[4] = {{DNNL_ARG_SRC, md, src}};
      return finish(b, n, pd, n->out[0], NULL, args, 1);
    }
    onyx_status *s = dn_temp(b, &md, &dst);
    dn_arg args[4] = {{DNNL_ARG_SRC, md, src}, {DNNL_ARG_DST, md, dst}};
    if (!s) s = dn_add_step(b, n, pd, 2, args);
    dnnl_primitive_desc_destroy(pd);
    if (s) return s;
    src = dst;
  }
  return NULL;
}

static onyx_status *build_binary(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  bool bias_gelu = !strcmp(n->op_type, "BiasGelu");   /* Gelu(X + bias) */
  dnnl_alg_kind_t alg = bias_gelu ? dnnl_binary_add : (dnnl_alg_kind_t)dn_binary_alg(n);
  const onyx_value *y = &g->values[n->out[0]];
  bool swap = !same_shape(&g->values[n->in[0]], y);
  int v0 = n->in[swap], v1 = n->in[!swap];
  dnnl_memory_desc_t md0 = *dn_val_md(b, v0), md1;
  dn_buf b0, b1;
  ONYX_TRY(dn_want(b, n, v0, &md0, &b0));
  if (same_shape(&g->values[v1], y)) {
    md1 = md0;
    ONYX_TRY(dn_want(b, n, v1, &md1, &b1));
  } else {
    int64_t dims[ONYX_MAX_RANK];
    pad_dims(&g->values[v1], y->rank, dims);
    ONYX_TRY(dn_want_view(b, n, v1, y->rank, dims, dnnl_f32, &md1, &b1));
  }
  chain c = {.end = n->out[0], .bn = -1};
  /* swapped operands: a - b = -(b - a), a / b = (b / a)^-1 */
  if (swap && alg == dnnl_binary_sub) add_elt(&c, dnnl_eltwise_linear, -1, 0);
  if (swap && alg == dnnl_binary_div) add_elt(&c, dnnl_eltwise_pow, 1, -1);
  if (bias_gelu) {
    dn_eltwise e;
    ONYX_TRY(dn_eltwise_of(g, n, &e));
    add_elt(&c, e.f[0].alg, e.f[0].alpha, e.f[0].beta);
  }
  c.n_pre = c.n_post;
  find_chain(b, F_ELT, &c);
  dnnl_binary_desc_t d;
  dnnl_status_t st = dnnl_binary_desc_init(&d, alg, &md0, &md1, &md0);
  if (st != dnnl_success) return dn_error(n, st, "binary");
  dnnl_primitive_desc_t pd;
  onyx_status *s = make_pd(b, n, &d, &c, "binary", &pd);
  if (s && c.n_nodes) {
    onyx_status_free(s);
    chain_reset(&c, n->out[0]);
    s = make_pd(b, n, &d, &c, "binary", &pd);
  }
  if (s) return s;
  dn_arg args[4] = {{DNNL_ARG_SRC_0, md0, b0}, {DNNL_ARG_SRC_1, md1, b1}};
  ONYX_TRY(finish(b, n, pd, c.end, NULL, args, 2));
  mark_chain(b, &c);
  return NULL;
}

static onyx_status *build_pool(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  const onyx_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  dn_pool pp;
  int nsp = x->rank - 2;
  if (!strncmp(n->op_type, "Global", 6)) {
    pp.alg = !strcmp(n->op_type, "GlobalMaxPool") ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    for (int i = 0; i < nsp; i++) {
      pp.kernel[i] = x->dims[2 + i];
      pp.strides[i] = 1;
      pp.dilates[i] = pp.pad_l[i] = pp.pad_r[i] = 0;
    }
  } else {
    ONYX_TRY(dn_pool_of(g, n, &pp));
  }
  dnnl_memory_desc_t src_md = *dn_val_md(b, n->in[0]), dst_md;
  dnnl_dims_t yd;
  for (int i = 0; i < y->rank; i++) yd[i] = y->dims[i];
  act_md(b, &dst_md, y->rank, yd, dn_dt(y->dtype));   /* f32, or u8/s8 for MaxPool */
  dnnl_pooling_v2_desc_t d;
  dnnl_status_t st = dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_inference, pp.alg, &src_md, &dst_md,
                                                       pp.strides, pp.kernel, pp.dilates, pp.pad_l, pp.pad_r);
  if (st != dnnl_success) return dn_error(n, st, "pooling");
  dn_buf src;
  ONYX_TRY(dn_want(b, n, n->in[0], &src_md, &src));
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "pooling", &pd));
  dn_arg args[4] = {{DNNL_ARG_SRC, src_md, src}};
  return finish(b, n, pd, n->out[0], NULL, args, 1);
}

static onyx_status *build_bn(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  dnnl_memory_desc_t md = *dn_val_md(b, n->in[0]);
  dnnl_batch_normalization_desc_t d;
  dnnl_status_t st = dnnl_batch_normalization_forward_desc_init(
      &d, dnnl_forward_inference, &md, onyx_attr_float(n, "epsilon", 1e-5f),
      dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift);
  if (st != dnnl_success) return dn_error(n, st, "batch normalization");
  dn_arg args[8];
  args[0] = (dn_arg){DNNL_ARG_SRC, md, {0}};
  ONYX_TRY(dn_want(b, n, n->in[0], &md, &args[0].b));
  static const int which[4] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
  for (int k = 0; k < 4; k++) {
    args[1 + k].arg = which[k];
    ONYX_TRY(plain_buf(b, n, n->in[1 + k], &args[1 + k].b));
    const onyx_value *v = &g->values[n->in[1 + k]];
    dn_plain_md(&args[1 + k].md, v->rank, v->dims, dnnl_f32);
  }
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "batch normalization", &pd));
  return finish(b, n, pd, n->out[0], NULL, args, 5);
}

static onyx_status *build_lrn(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  dnnl_memory_desc_t md = *dn_val_md(b, n->in[0]);
  dnnl_lrn_desc_t d;
  dnnl_status_t st = dnnl_lrn_forward_desc_init(&d, dnnl_forward_inference, dnnl_lrn_across_channels, &md,
                                                onyx_attr_int(n, "size", 1), onyx_attr_float(n, "alpha", 1e-4f),
                                                onyx_attr_float(n, "beta", 0.75f), onyx_attr_float(n, "bias", 1.0f));
  if (st != dnnl_success) return dn_error(n, st, "LRN");
  dn_arg args[4] = {{DNNL_ARG_SRC, md, {0}}};
  ONYX_TRY(dn_want(b, n, n->in[0], &md, &args[0].b));
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "LRN", &pd));
  return finish(b, n, pd, n->out[0], NULL, args, 1);
}

static onyx_status *build_softmax(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  const onyx_value *x = &g->values[n->in[0]];
  int axis;
  int64_t dims[ONYX_MAX_RANK];
  int rank;
  if (n->opset >= 13) {
    ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), x->rank, &axis));
    rank = x->rank;
    memcpy(dims, x->dims, (size_t)rank * sizeof *dims);
  } else {  /* opset < 13: softmax over the flattened [d0..axis) x [axis..) matrix */
    int ax;
    ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", 1), x->rank, &ax));
    rank = 2;
    dims[0] = onyx_numel(ax, x->dims);
    dims[1] = onyx_numel(x->rank - ax, x->dims + ax);
    axis = 1;
  }
  dnnl_memory_desc_t md;
  dn_buf src;
  ONYX_TRY(dn_want_view(b, n, n->in[0], rank, dims, dnnl_f32, &md, &src));
  dnnl_softmax_v2_desc_t d;
  dnnl_alg_kind_t alg = !strcmp(n->op_type, "LogSoftmax") ? dnnl_softmax_log : dnnl_softmax_accurate;
  dnnl_status_t st = dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_inference, alg, &md, &md, axis);
  if (st != dnnl_success) return dn_error(n, st, "softmax");
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "softmax", &pd));
  dnnl_memory_desc_t y_md;
  dn_plain_md(&y_md, x->rank, x->dims, dnnl_f32);
  dn_arg args[4] = {{DNNL_ARG_SRC, md, src}};
  return finish(b, n, pd, n->out[0], &y_md, args, 1);
}

static onyx_status *build_concat(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  const onyx_value *y = &g->values[n->out[0]];
  int axis;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", 0), y->rank, &axis));
  dnnl_memory_desc_t *mds = onyx_calloc((size_t)n->n_in, sizeof *mds);
  dn_arg *args = onyx_calloc((size_t)n->n_in + 2, sizeof *args);
  onyx_status *s = NULL;
  dnnl_primitive_desc_t pd = NULL;
  if (!mds || !args) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < n->n_in && !s; i++) {
    mds[i] = *dn_val_md(b, n->in[i]);
    args[i] = (dn_arg){DNNL_ARG_MULTIPLE_SRC + i, mds[i], {0}};
    s = dn_want(b, n, n->in[i], &mds[i], &args[i].b);
  }
  if (s) goto done;
  dnnl_memory_desc_t dst_md;
  dnnl_dims_t yd;
  for (int i = 0; i < y->rank; i++) yd[i] = y->dims[i];
  act_md(b, &dst_md, y->rank, yd, dnnl_f32);
  dnnl_primitive_attr_t attr;
  if ((s = dn_attr(n, NULL, &attr))) goto done;
  dnnl_status_t st = dnnl_concat_primitive_desc_create(&pd, &dst_md, n->n_in, axis, mds, attr, dn_engine(b));
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) {
    pd = NULL;
    s = dn_error(n, st, "concat");
    goto done;
  }
  s = finish(b, n, pd, n->out[0], NULL, args, n->n_in);
  pd = NULL;
done:
  if (pd) dnnl_primitive_desc_destroy(pd);
  onyx_free(mds);
  onyx_free(args);
  return s;
}

static onyx_status *build_reduce(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  const onyx_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  dn_reduce rp;
  ONYX_TRY(dn_reduce_of(g, n, &rp));
  int64_t kd[ONYX_MAX_RANK];
  bool any = false;
  for (int i = 0; i < x->rank; i++) {
    kd[i] = rp.axis[i] ? 1 : x->dims[i];
    any |= kd[i] != x->dims[i];
  }
  dnnl_memory_desc_t src_md, dst_md, y_md;
  dn_buf src;
  ONYX_TRY(dn_want_view(b, n, n->in[0], x->rank, x->dims, dnnl_f32, &src_md, &src));
  dn_plain_md(&dst_md, x->rank, kd, dnnl_f32);
  dn_plain_md(&y_md, y->rank, y->dims, dnnl_f32);
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  if (any) {
    dnnl_reduction_desc_t d;
    dnnl_status_t st = dnnl_reduction_desc_init(&d, rp.alg, &src_md, &dst_md, rp.p, 0.0f);
    if (st != dnnl_success) return dn_error(n, st, "reduction");
    if (rp.log) add_elt(&c, dnnl_eltwise_log, 0, 0);
    ONYX_TRY(make_pd(b, n, &d, &c, "reduction", &pd));
  } else {   /* every reduced axis has size 1: the reduction of one element */
    dnnl_alg_kind_t alg = rp.log ? dnnl_eltwise_log
                          : rp.alg == dnnl_reduction_norm_lp_sum ? dnnl_eltwise_abs
                          : rp.alg == dnnl_reduction_norm_lp_power_p_sum ? dnnl_eltwise_square
                                                                          : dnnl_eltwise_linear;
    dnnl_eltwise_desc_t d;
    dnnl_status_t st = dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, alg, &src_md, 1.0f, 0.0f);
    if (st != dnnl_success) return dn_error(n, st, "eltwise");
    ONYX_TRY(make_pd(b, n, &d, &c, "eltwise", &pd));
  }
  dn_arg args[4] = {{DNNL_ARG_SRC, src_md, src}};
  return finish(b, n, pd, n->out[0], &y_md, args, 1);
}

/* SkipLayerNormalization's X + skip (+ bias over the last axis, a binary
 * post-op), both viewed as [rows, N] (md, src): the sum goes to a temporary
 * that becomes *src, the source of the layer normalization. */
static onyx_status *skip_sum(dn_builder *b, const onyx_node *n, const int64_t *dims, const dnnl_memory_desc_t *md,
                             dn_buf *src) {
  dnnl_memory_desc_t skip_md;
  dn_buf skip, dst;
  ONYX_TRY(dn_want_view(b, n, n->in[1], 2, dims, dnnl_f32, &skip_md, &skip));
  chain c = {.end = n->out[0], .bn = -1};
  if (n->n_in > 4 && n->in[4] >= 0) {
    post *p = &c.p[c.n_post++];
    memset(p, 0, sizeof *p);
    p->kind = P_BIN;
    p->alg = dnnl_binary_add;
    p->v = n->in[4];
    p->rank = 2;
    p->dims[0] = 1;
    p->dims[1] = dims[1];
  }
  dnnl_binary_desc_t d;
  dnnl_status_t st = dnnl_binary_desc_init(&d, dnnl_binary_add, md, &skip_md, md);
  if (st != dnnl_success) return dn_error(n, st, "binary");
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "binary", &pd));
  dn_arg args[4] = {{DNNL_ARG_SRC_0, *md, *src}, {DNNL_ARG_SRC_1, skip_md, skip}};
  int na = 2;
  onyx_status *s = dn_temp(b, md, &dst);
  if (!s) {
    args[na++] = (dn_arg){DNNL_ARG_DST, *md, dst};
    s = post_args(b, n, &c, md, dst, false, args, &na);
  }
  if (!s) s = dn_add_step(b, n, pd, na, args);
  dnnl_primitive_desc_destroy(pd);
  if (!s) *src = dst;
  return s;
}

static onyx_status *build_lnorm(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  const onyx_value *x = &g->values[n->in[0]];
  bool skip = !strcmp(n->op_type, "SkipLayerNormalization");   /* over the last axis of X + skip */
  int axis = x->rank - 1, sc = skip ? 2 : 1;   /* sc: the scale input, the shift follows */
  if (!skip) ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), x->rank, &axis));
  int64_t dims[2] = {onyx_numel(axis, x->dims), onyx_numel(x->rank - axis, x->dims + axis)};
  dnnl_memory_desc_t md, stat_md, y_md;
  dn_buf src;
  ONYX_TRY(dn_want_view(b, n, n->in[0], 2, dims, dnnl_f32, &md, &src));
  if (skip) ONYX_TRY(skip_sum(b, n, dims, &md, &src));
  dn_plain_md(&stat_md, 1, dims, dnnl_f32);
  dn_plain_md(&y_md, x->rank, x->dims, dnnl_f32);
  bool shift = n->n_in > sc + 1 && n->in[sc + 1] >= 0;
  dnnl_layer_normalization_desc_t d;
  dnnl_status_t st = dnnl_layer_normalization_forward_desc_init(
      &d, dnnl_forward_inference, &md, &stat_md, onyx_attr_float(n, "epsilon", 1e-5f),
      dnnl_use_scale | (shift ? dnnl_use_shift : 0));
  if (st != dnnl_success) return dn_error(n, st, "layer normalization");
  chain c = {.end = n->out[0], .bn = -1};
  dnnl_primitive_desc_t pd;
  ONYX_TRY(make_pd(b, n, &d, &c, "layer normalization", &pd));
  dn_arg args[8] = {{DNNL_ARG_SRC, md, src}};
  int na = 1;
  onyx_status *s = NULL;
  for (int k = 0; k < (shift ? 2 : 1) && !s; k++) {
    args[na].arg = k == 0 ? DNNL_ARG_SCALE : DNNL_ARG_SHIFT;
    s = dn_want_view(b, n, n->in[sc + k], 1, dims + 1, dnnl_f32, &args[na].md, &args[na].b);
    na++;
  }
  /* statistics the primitive computes on its way (inference keeps none) */
  static const int stats[2] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
  for (int k = 0; k < 2 && !s; k++) {
    const dnnl_memory_desc_t *smd = q_md(pd, dnnl_query_exec_arg_md, stats[k]);
    if (!smd || !dnnl_memory_desc_get_size(smd)) continue;
    args[na] = (dn_arg){stats[k], *smd, {0}};
    s = dn_temp(b, smd, &args[na++].b);
  }
  if (s) {
    dnnl_primitive_desc_destroy(pd);
    return s;
  }
  return finish(b, n, pd, n->out[0], &y_md, args, na);
}

onyx_status *dn_build_node(dn_builder *b, int ni) {
  const onyx_node *n = &dn_graph(b)->nodes[ni];
  const char *op = n->op_type;
  if (!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") || !strcmp(op, "FusedConv")) return build_conv(b, ni);
  if (!strcmp(op, "QLinearConv") || !strcmp(op, "ConvInteger")) return dn_build_qconv(b, ni);
  if (!strcmp(op, "QLinearMatMul") || !strcmp(op, "MatMulInteger")) return dn_build_qmatmul(b, ni);
  if (!strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear")) return dn_build_quant(b, ni);
  if (!strcmp(op, "MatMul") || !strcmp(op, "Gemm") || !strcmp(op, "FusedMatMul") || !strcmp(op, "FusedGemm"))
    return build_matmul(b, ni);
  if (!strcmp(op, "BiasGelu"))
    return n->n_in > 1 && n->in[1] >= 0 ? build_binary(b, ni) : build_eltwise(b, ni);
  if (strstr(op, "Pool")) return build_pool(b, ni);
  if (!strcmp(op, "BatchNormalization")) return build_bn(b, ni);
  if (!strcmp(op, "LRN")) return build_lrn(b, ni);
  if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) return build_softmax(b, ni);
  if (!strcmp(op, "Concat")) return build_concat(b, ni);
  if (!strncmp(op, "Reduce", 6)) return build_reduce(b, ni);
  if (!strcmp(op, "LayerNormalization") || !strcmp(op, "SkipLayerNormalization")) return build_lnorm(b, ni);
  if (dn_binary_alg(n) >= 0) return build_binary(b, ni);
  if (dn_is_eltwise_op(op)) return build_eltwise(b, ni);
  return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "no dnnl builder");
}
