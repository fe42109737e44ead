/* dnnl_quant.c — the int8 ops on oneDNN: QLinearConv and ConvInteger as
 * int8 convolutions, QLinearMatMul and MatMulInteger as int8 inner products
 * (matmul where oneDNN has no inner product for the case), QuantizeLinear
 * and DequantizeLinear per tensor; the readers `supports` shares with them.
 *
 * Exactness against the cpu kernels (qlinear.c, reduce_quant.c) decides
 * what is taken. Constant weights enter as s8 with their zero points
 * subtracted (w - w_zero must fit s8: oneDNN has no weight zero points);
 * the activation zero point is oneDNN's src zero point (convolutions: the
 * padding counts as the zero point, as in ONNX) or, for products, folded
 * into an s32 bias -x_zero * colsum(w). Requantization is the output scale
 * (x_scale * w_scale) / y_scale per tensor or per output channel, computed
 * in float as the cpu kernels do, then a `round` eltwise post-op and a
 * `linear` one adding y_zero before the saturating conversion: oneDNN's own
 * dst zero point is added before rounding, which is off by one now and then.
 * What remains inexact: oneDNN adds the bias to the accumulator in float,
 * so where |acc| or |acc + bias| exceeds 2^24 the sum may round differently
 * and an output lands one unit away (the cpu adds in int32 first).
 *
 * Without VNNI, oneDNN's int8 kernels (vpmaddubsw) sum pairs of u8 x s8
 * products in saturating int16, and for s8 activations halve the weights
 * (scale_adjust 0.5): exact only when |w| <= 64 (255 * 64 * 2 < 2^15) and
 * the activations are u8. Such nodes are refused on those CPUs with that
 * reason; models quantized with reduce_range (7-bit weights) pass.
 *
 * QuantizeLinear is a binary division by the scale with `round` and the
 * zero point as post-ops (exactly the cpu's rne(x / s) + z, saturated);
 * DequantizeLinear a reorder with the scale and the source zero point. */
#include <string.h>

#include "dnnl_internal.h"
#include "ops/ops.h"

bool dn_int8_exact(void) {
  /* the VNNI bit of the avx512_core_vnni level (AMX and bf16 levels include it) */
  return (dnnl_get_effective_cpu_isa() & (dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core)) != 0;
}

/* ---- readers ------------------------------------------------------------------------- */

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }

/* Constant input i of n (NULL: absent) with 1 or `len` values of dtype
 * `dt` (ONYX_DTYPE_UNDEFINED: u8 or s8); `what` names it. */
static onyx_status *const_param(const onyx_graph *g, const onyx_node *n, int i, const char *what, int64_t len,
                                onyx_dtype dt, const onyx_tensor **out) {
  *out = NULL;
  if (i < 0 || i >= n->n_in || n->in[i] < 0) return NULL;
  const onyx_value *v = &g->values[n->in[i]];
  if (!v->init)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s '%s' is not a constant (dnnl fixes it at compile)",
                           what, v->name);
  const onyx_tensor *t = v->init;
  if (dt == ONYX_DTYPE_UNDEFINED ? !is_q8(t->dtype) : t->dtype != dt)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s '%s' is %s", what, v->name, onyx_dtype_name(t->dtype));
  int64_t cnt = onyx_numel(t->rank, t->dims);
  if (cnt != 1 && cnt != len)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s '%s' has %lld values (dnnl takes 1%s)", what, v->name,
                           (long long)cnt, len > 1 ? " or one per output channel" : "");
  *out = cnt ? t : NULL;
  return NULL;
}

static int32_t qval(const onyx_tensor *t, int64_t i) {
  return t->dtype == ONYX_DTYPE_UINT8 ? ((const uint8_t *)t->data)[i] : ((const int8_t *)t->data)[i];
}

/* Weight zero point of output channel ch (0 when absent). */
static int32_t wzero(const onyx_tensor *wz, int64_t ch) {
  return !wz ? 0 : qval(wz, onyx_numel(wz->rank, wz->dims) == 1 ? 0 : ch);
}

onyx_status *dn_qlin_of(const onyx_graph *g, const onyx_node *n, dn_qlin *q) {
  bool conv = strstr(n->op_type, "Conv") != NULL;
  if (!strncmp(n->op_type, "QLinear", 7))   /* x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero[, B] */
    *q = (dn_qlin){.conv = conv, .requant = true, .x = 0, .xs = 1, .xz = 2, .w = 3, .ws = 4, .wz = 5, .ys = 6,
                   .yz = 7, .bias = conv ? 8 : -1};
  else                                      /* x, w, x_zero, w_zero */
    *q = (dn_qlin){.conv = conv, .x = 0, .xs = -1, .xz = 2, .w = 1, .ws = -1, .wz = 3, .ys = -1, .yz = -1,
                   .bias = -1};
  int need = q->requant ? 7 : 2;
  for (int i = 0; i < need; i++)
    if (i >= n->n_in || n->in[i] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "input %d is missing", i);
  const onyx_value *x = &g->values[n->in[q->x]], *wv = &g->values[n->in[q->w]];
  if (!is_q8(x->dtype) || x->rank < 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input '%s' is %s of rank %d (dnnl takes uint8/int8)",
                           x->name, onyx_dtype_name(x->dtype), x->rank);
  const onyx_tensor *w = wv->init;
  if (!w)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weights '%s' are not a constant (dnnl packs them once)",
                           wv->name);
  if (!is_q8(w->dtype))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weights '%s' are %s", wv->name, onyx_dtype_name(w->dtype));
  if (q->conv ? w->rank != x->rank : w->rank != 2)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weights '%s' of rank %d (dnnl takes %s)", wv->name, w->rank,
                           q->conv ? "the input's rank" : "a 2-D B");
  q->n_out = q->conv ? w->dims[0] : w->dims[1];
  q->x_dt = dn_dt(x->dtype);
  const onyx_tensor *xz, *wz, *t;
  ONYX_TRY(const_param(g, n, q->xz, "x zero point", 1, x->dtype, &xz));
  ONYX_TRY(const_param(g, n, q->wz, "weight zero point", q->n_out, w->dtype, &wz));
  q->x_zero = xz ? qval(xz, 0) : 0;
  const onyx_value *y = &g->values[n->out[0]];
  if (q->requant) {
    ONYX_TRY(const_param(g, n, q->xs, "x scale", 1, ONYX_DTYPE_FLOAT, &t));
    ONYX_TRY(const_param(g, n, q->ws, "weight scale", q->n_out, ONYX_DTYPE_FLOAT, &t));
    ONYX_TRY(const_param(g, n, q->ys, "y scale", 1, ONYX_DTYPE_FLOAT, &t));
    ONYX_TRY(const_param(g, n, q->yz, "y zero point", 1, ONYX_DTYPE_UNDEFINED, &t));
    q->y_zero = t ? qval(t, 0) : 0;
    if (!is_q8(y->dtype) || (t && t->dtype != y->dtype))
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output '%s' is %s", y->name, onyx_dtype_name(y->dtype));
    ONYX_TRY(const_param(g, n, q->bias, "bias", q->n_out, ONYX_DTYPE_INT32, &t));
    if (t && q->n_out != 1 && onyx_numel(t->rank, t->dims) != q->n_out)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "bias of one value for %lld channels", (long long)q->n_out);
  }
  q->y_dt = dn_dt(y->dtype);
  bool exact = dn_int8_exact();
  if (!exact && x->dtype == ONYX_DTYPE_INT8)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "int8 activations on a CPU without VNNI "
                           "(oneDNN halves the weights of s8 x s8 products there)");
  /* every weight minus its zero point must be an s8 (+-64 without VNNI) */
  int64_t cnt = onyx_numel(w->rank, w->dims), per = q->conv ? cnt / q->n_out : 1;
  for (int64_t i = 0; i < cnt; i++) {
    int64_t ch = q->conv ? i / per : i % q->n_out;
    int32_t v = qval(w, i) - wzero(wz, ch);
    if (v < -128 || v > 127)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weight minus zero point (%d) of output channel %lld "
                             "does not fit int8 (oneDNN has no weight zero points)", (int)v, (long long)ch);
    if (!exact && (v < -64 || v > 64))
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "weight %d beyond +-64 on a CPU without VNNI (oneDNN "
                             "sums pairs of products in saturating int16 there; quantize with reduce_range)", (int)v);
  }
  return NULL;
}

onyx_status *dn_quant_of(const onyx_graph *g, const onyx_node *n, float *scale, int32_t *zero) {
  if (n->n_in < 2 || n->in[1] < 0) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "no scale");
  if (onyx_attr_int(n, "block_size", 0) > 0)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "blocked scales (dnnl takes one scale)");
  const onyx_tensor *s, *z;
  ONYX_TRY(const_param(g, n, 1, "scale", 1, ONYX_DTYPE_FLOAT, &s));
  ONYX_TRY(const_param(g, n, 2, "zero point", 1, ONYX_DTYPE_UNDEFINED, &z));
  bool quant = !strcmp(n->op_type, "QuantizeLinear");
  const onyx_value *q = &g->values[quant ? n->out[0] : n->in[0]];
  if (z && z->dtype != q->dtype)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "zero point is %s, '%s' %s", onyx_dtype_name(z->dtype),
                           q->name, onyx_dtype_name(q->dtype));
  *scale = *(const float *)s->data;
  *zero = z ? qval(z, 0) : 0;
  return NULL;
}

/* ---- shared pieces of the builders --------------------------------------------------- */

/* The weights of q as an s8 constant in ONNX's layout, zero points
 * subtracted (the graph's own data when that changes nothing); with
 * colsum (products), also -x_zero * (sum over K of each column) as int32. */
static onyx_status *fold_weights(dn_builder *b, const onyx_node *n, const dn_qlin *q, dn_buf *out, dn_buf *colsum) {
  const onyx_graph *g = dn_graph(b);
  const onyx_tensor *w = g->values[n->in[q->w]].init, *wz;
  ONYX_TRY(const_param(g, n, q->wz, "weight zero point", q->n_out, w->dtype, &wz));
  int64_t cnt = onyx_numel(w->rank, w->dims), per = q->conv ? cnt / q->n_out : 1;
  bool same = w->dtype == ONYX_DTYPE_INT8;
  for (int64_t ch = 0; ch < q->n_out && same; ch++) same = wzero(wz, ch) == 0;
  if (same) {
    *out = (dn_buf){DN_B_CONST, 0, w->data};
  } else {
    int8_t *f = onyx_malloc_aligned((size_t)cnt + 1);
    if (!f) return onyx_error_oom();
    for (int64_t i = 0; i < cnt; i++) f[i] = (int8_t)(qval(w, i) - wzero(wz, q->conv ? i / per : i % q->n_out));
    ONYX_TRY(dn_const(b, f, out));
  }
  if (!colsum) return NULL;
  uint32_t *cs = onyx_malloc_aligned((size_t)q->n_out * sizeof *cs + 1);
  if (!cs) return onyx_error_oom();
  const int8_t *f = out->ptr;
  for (int64_t c = 0; c < q->n_out; c++) cs[c] = 0;
  for (int64_t i = 0; i < cnt; i++) cs[i % q->n_out] += (uint32_t)(int32_t)f[i];
  for (int64_t c = 0; c < q->n_out; c++) cs[c] *= (uint32_t)-q->x_zero;   /* wraps as int32 does on the cpu */
  return dn_const(b, cs, colsum);
}

/* The output scales of q, (x_scale * w_scale) / y_scale per output channel
 * as the cpu computes them, into sc (n_out floats); returns how many differ
 * (1: one for all). */
static int64_t out_scales(const onyx_graph *g, const onyx_node *n, const dn_qlin *q, float *sc) {
  const onyx_tensor *xs = g->values[n->in[q->xs]].init, *ws = g->values[n->in[q->ws]].init;
  const onyx_tensor *ys = g->values[n->in[q->ys]].init;
  int64_t nw = onyx_numel(ws->rank, ws->dims);
  float x = (float)onyx_tensor_get_f64(xs, 0), y = (float)onyx_tensor_get_f64(ys, 0);
  for (int64_t i = 0; i < nw; i++) sc[i] = (x * (float)onyx_tensor_get_f64(ws, i)) / y;
  return nw;
}

/* The attribute of an int8 product: output scales, the activation zero
 * point (when `src_zp`), and round + y_zero post-ops. */
static onyx_status *qattr(const onyx_graph *g, const onyx_node *n, const dn_qlin *q, bool src_zp,
                          dnnl_primitive_attr_t *out) {
  dnnl_post_ops_t po = NULL;
  dnnl_status_t st = dnnl_success;
  if (q->requant && q->y_zero) {
    st = dnnl_post_ops_create(&po);
    if (st == dnnl_success) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_round, 0, 0);
    if (st == dnnl_success) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, 1.0f, (float)q->y_zero);
  }
  dnnl_primitive_attr_t attr = NULL;
  onyx_status *s = st == dnnl_success ? dn_attr(n, po, &attr) : dn_error(n, st, "post-ops");
  if (po) dnnl_post_ops_destroy(po);
  if (s) return s;
  if (q->requant) {
    float *sc = onyx_malloc((size_t)q->n_out * sizeof *sc + 1);
    if (!sc) {
      dnnl_primitive_attr_destroy(attr);
      return onyx_error_oom();
    }
    int64_t cnt = out_scales(g, n, q, sc);
    st = dnnl_primitive_attr_set_output_scales(attr, cnt, cnt > 1 ? 1 << 1 : 0, sc);
    onyx_free(sc);
  }
  if (st == dnnl_success && src_zp && q->x_zero)
    st = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &q->x_zero);
  if (st != dnnl_success) {
    dnnl_primitive_attr_destroy(attr);
    return dn_error(n, st, "int8 attributes");
  }
  *out = attr;
  return NULL;
}

/* Creates pd from op descriptor d and attr (destroyed), or fails naming `what`. */
static onyx_status *qpd(dn_builder *b, const onyx_node *n, const void *d, dnnl_primitive_attr_t attr,
                        const char *what, dnnl_primitive_desc_t *pd) {
  dnnl_status_t st = dnnl_primitive_desc_create(pd, d, attr, dn_engine(b), NULL);
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) {
    *pd = NULL;
    return dn_error(n, st, what);
  }
  return NULL;
}

static const dnnl_memory_desc_t *q_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
  return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* ---- QLinearConv, ConvInteger -------------------------------------------------------- */

onyx_status *dn_build_qconv(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  dn_qlin q;
  dn_conv cp;
  ONYX_TRY(dn_qlin_of(g, n, &q));
  ONYX_TRY(dn_conv_of(g, n, &cp));
  const onyx_value *x = &g->values[n->in[q.x]], *w = &g->values[n->in[q.w]], *y = &g->values[n->out[0]];
  const onyx_tensor *bias = q.bias >= 0 && q.bias < n->n_in && n->in[q.bias] >= 0 ? g->values[n->in[q.bias]].init : NULL;
  int r = x->rank;
  int64_t oc = y->dims[1];
  dnnl_dims_t wd, xd, yd, bd = {oc};
  int wr;
  dnnl_memory_desc_t w_view, src_md, w_md, b_md, dst_md;
  dn_conv_weights(w, cp.group, x->dims[1], oc, false, dnnl_s8, wd, &wr, &w_view);
  for (int i = 0; i < r; i++) {
    xd[i] = x->dims[i];
    yd[i] = y->dims[i];
  }
  dnnl_memory_desc_init_by_tag(&src_md, r, xd, q.x_dt, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&w_md, wr, wd, dnnl_s8, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&dst_md, r, yd, q.y_dt, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_s32, dnnl_a);
  dnnl_convolution_desc_t d;
  dnnl_status_t st = dnnl_dilated_convolution_forward_desc_init(&d, dnnl_forward_inference, dnnl_convolution_direct,
                                                                &src_md, &w_md, bias ? &b_md : NULL, &dst_md,
                                                                cp.strides, cp.dilates, cp.pad_l, cp.pad_r);
  if (st != dnnl_success) return dn_error(n, st, "int8 convolution");
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  ONYX_TRY(qattr(g, n, &q, true, &attr));
  ONYX_TRY(qpd(b, n, &d, attr, "int8 convolution", &pd));
  dn_arg args[5];
  int na = 0;
  dn_buf src, wf, wb, bb, dst;
  const dnnl_memory_desc_t *src_q = q_md(pd, dnnl_query_src_md), *w_q = q_md(pd, dnnl_query_weights_md);
  const dnnl_memory_desc_t *dst_q = q_md(pd, dnnl_query_dst_md);
  onyx_status *s = dn_want(b, n, n->in[q.x], src_q, &src);
  if (!s) s = fold_weights(b, n, &q, &wf, NULL);
  if (!s) s = dn_convert(b, n, &w_view, wf, w_q, &wb);
  if (s) goto done;
  args[na++] = (dn_arg){DNNL_ARG_SRC, *src_q, src};
  args[na++] = (dn_arg){DNNL_ARG_WEIGHTS, *w_q, wb};
  if (bias) {
    const dnnl_memory_desc_t *b_q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    if ((s = dn_convert(b, n, &b_md, (dn_buf){DN_B_CONST, 0, bias->data}, b_q, &bb))) goto done;
    args[na++] = (dn_arg){DNNL_ARG_BIAS, *b_q, bb};
  }
  if ((s = dn_define(b, n->out[0], dst_q, &dst))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_DST, *dst_q, dst};
  s = dn_add_step(b, n, pd, na, args);
done:
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* ---- QLinearMatMul, MatMulInteger ---------------------------------------------------- */

onyx_status *dn_build_qmatmul(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  dn_qlin q;
  ONYX_TRY(dn_qlin_of(g, n, &q));
  const onyx_value *a = &g->values[n->in[q.x]], *y = &g->values[n->out[0]];
  int64_t K = a->dims[a->rank - 1], N = q.n_out, rows = onyx_numel(a->rank, a->dims) / K;
  int64_t ad[2] = {rows, K}, yd[2] = {rows, N};
  dn_buf ab, wf, cs = {0}, wb, bb, dst;
  dnnl_memory_desc_t a_md, dst_md, y_md, bias_md;
  ONYX_TRY(dn_want_view(b, n, n->in[q.x], 2, ad, q.x_dt, &a_md, &ab));
  ONYX_TRY(fold_weights(b, n, &q, &wf, q.x_zero ? &cs : NULL));
  dn_plain_md(&dst_md, 2, yd, q.y_dt);
  dn_plain_md(&y_md, y->rank, y->dims, q.y_dt);
  /* an inner product keeps its weights packed; it has no src zero point,
   * which is why x_zero is the bias -x_zero * colsum(w) */
  dnnl_dims_t wd = {N, K}, ws = {1, N}, bdims = {N};
  dnnl_memory_desc_t w_view, w_md;
  dnnl_memory_desc_init_by_strides(&w_view, 2, wd, dnnl_s8, ws);
  dnnl_memory_desc_init_by_tag(&w_md, 2, wd, dnnl_s8, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&bias_md, 1, bdims, dnnl_s32, dnnl_a);
  dnnl_inner_product_desc_t d;
  dnnl_status_t st = dnnl_inner_product_forward_desc_init(&d, dnnl_forward_inference, &a_md, &w_md,
                                                          q.x_zero ? &bias_md : NULL, &dst_md);
  if (st != dnnl_success) return dn_error(n, st, "int8 inner product");
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  ONYX_TRY(qattr(g, n, &q, false, &attr));
  ONYX_TRY(qpd(b, n, &d, attr, "int8 inner product", &pd));
  const dnnl_memory_desc_t *w_q = q_md(pd, dnnl_query_weights_md);
  dn_arg args[5] = {{DNNL_ARG_SRC, a_md, ab}};
  int na = 1;
  onyx_status *s = dn_convert(b, n, &w_view, wf, w_q, &wb);
  if (s) goto done;
  args[na++] = (dn_arg){DNNL_ARG_WEIGHTS, *w_q, wb};
  if (q.x_zero) {
    const dnnl_memory_desc_t *b_q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    if ((s = dn_convert(b, n, &bias_md, cs, b_q, &bb))) goto done;
    args[na++] = (dn_arg){DNNL_ARG_BIAS, *b_q, bb};
  }
  if ((s = dn_define(b, n->out[0], &y_md, &dst))) goto done;
  args[na++] = (dn_arg){DNNL_ARG_DST, dst_md, dst};
  s = dn_add_step(b, n, pd, na, args);
done:
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* ---- QuantizeLinear, DequantizeLinear ------------------------------------------------- */

onyx_status *dn_build_quant(dn_builder *b, int ni) {
  const onyx_graph *g = dn_graph(b);
  const onyx_node *n = &g->nodes[ni];
  float scale;
  int32_t zero;
  ONYX_TRY(dn_quant_of(g, n, &scale, &zero));
  bool quant = !strcmp(n->op_type, "QuantizeLinear");
  dnnl_data_type_t ydt = dn_dt(g->values[n->out[0]].dtype);
  dnnl_memory_desc_t x_md = *dn_val_md(b, n->in[0]), dst_md;
  dn_buf src, dst, sb;
  ONYX_TRY(dn_want(b, n, n->in[0], &x_md, &src));
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  dnnl_status_t st;
  dn_arg args[4] = {{quant ? DNNL_ARG_SRC_0 : DNNL_ARG_SRC, x_md, src}};
  int na = 1;
  if (quant) {   /* x / scale, rounded, + zero point, saturated by the conversion */
    dnnl_memory_desc_t s_md, any;
    int64_t ones[DNNL_MAX_NDIMS];
    for (int i = 0; i < x_md.ndims; i++) ones[i] = 1;
    dn_plain_md(&s_md, x_md.ndims, ones, dnnl_f32);
    dnnl_memory_desc_init_by_tag(&any, x_md.ndims, x_md.dims, ydt, dnnl_format_tag_any);
    float *sp = onyx_malloc_aligned(sizeof *sp);
    if (!sp) return onyx_error_oom();
    *sp = scale;
    ONYX_TRY(dn_const(b, sp, &sb));
    args[na++] = (dn_arg){DNNL_ARG_SRC_1, s_md, sb};
    dnnl_post_ops_t po;
    st = dnnl_post_ops_create(&po);
    if (st == dnnl_success) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_round, 0, 0);
    if (st == dnnl_success && zero) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, 1.0f, (float)zero);
    if (st != dnnl_success) {
      if (po) dnnl_post_ops_destroy(po);
      return dn_error(n, st, "post-ops");
    }
    onyx_status *s = dn_attr(n, po, &attr);
    dnnl_post_ops_destroy(po);
    if (s) return s;
    dnnl_binary_desc_t d;
    st = dnnl_binary_desc_init(&d, dnnl_binary_div, &x_md, &s_md, &any);
    if (st != dnnl_success) {
      dnnl_primitive_attr_destroy(attr);
      return dn_error(n, st, "binary");
    }
    ONYX_TRY(qpd(b, n, &d, attr, "quantization", &pd));
    dst_md = *q_md(pd, dnnl_query_dst_md);
  } else {   /* (x - zero point) * scale, in x's layout (plain when it leaves the partition) */
    dst_md = x_md;
    dst_md.data_type = ydt;
    const onyx_value *y = &g->values[n->out[0]];
    if (dn_is_part_out(b, n->out[0])) dn_plain_md(&dst_md, y->rank, y->dims, ydt);
    ONYX_TRY(dn_attr(n, NULL, &attr));
    st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
    if (st == dnnl_success && zero) st = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &zero);
    if (st == dnnl_success)
      st = dnnl_reorder_primitive_desc_create(&pd, &x_md, dn_engine(b), &dst_md, dn_engine(b), attr);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return dn_error(n, st, "dequantization");
  }
  onyx_status *s = dn_define(b, n->out[0], &dst_md, &dst);
  if (!s) {
    args[na++] = (dn_arg){DNNL_ARG_DST, dst_md, dst};
    s = dn_add_step(b, n, pd, na, args);
  }
  dnnl_primitive_desc_destroy(pd);
  return s;
}
