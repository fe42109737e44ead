/* infer_tensor.c — shape and type inference for the tensor (data movement)
 * op family: Reshape, Slice, Gather, Resize, Pad ...
 *
 * These ops decide shapes from the *contents* of small inputs (a shape, pads,
 * scales), so each function reads `value` where it is known (constants at
 * load time, every input at run time) and otherwise degrades to unknown dims
 * or unknown rank, never guessing. Symbolic dims (<= ONYX_DIM_SYM0) are kept
 * where an op only moves them (Transpose, Unsqueeze, Concat off-axis ...). */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "tensor_params.h"

/* ---- small helpers -------------------------------------------------------- */

static bool fixed(int64_t d) { return d >= 0; }

/* Product of two dims in the IR encoding: a 1 keeps the other (even a
 * symbol), a 0 wins, anything else not fixed is unknown. */
static int64_t dim_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a == 1) return b;
  if (b == 1) return a;
  /* saturating: a product past int64 stays huge, and the inferred shape is
   * refused as too large instead of wrapping */
  return fixed(a) && fixed(b) ? onyx_mul_sat(a, b) : ONYX_DIM_UNKNOWN;
}

static int64_t dim_add(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return fixed(a) && fixed(b) ? a + b : ONYX_DIM_UNKNOWN;
}

static void set_out(onyx_vinfo *o, onyx_dtype dt, int rank, const int64_t *dims) {
  o->dtype = dt;
  o->rank = rank;
  for (int i = 0; i < rank; i++) o->dims[i] = dims ? dims[i] : ONYX_DIM_UNKNOWN;
}

/* Output 0 gets input 0's dtype and rank, its dims unknown so far; false
 * when input 0's rank is unknown (nothing more to infer). */
static bool like_input0(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = x->dtype;
  if (x->rank < 0) return false;
  set_out(&c->out[0], x->dtype, x->rank, NULL);
  return true;
}

/* Whether an input is given at all (an omitted optional input has no dtype). */
static bool given(const onyx_vinfo *v) { return v->dtype != ONYX_DTYPE_UNDEFINED || v->rank >= 0 || v->value; }

/* An input given as an empty tensor counts as omitted (roi, scales ...). */
static bool empty_input(const onyx_vinfo *v) {
  if (!given(v)) return true;
  if (v->value) return onyx_numel(v->value->rank, v->value->dims) == 0;
  return v->rank == 1 && v->dims[0] == 0;
}

static const onyx_vinfo *in_at(onyx_infer_ctx *c, int i) {
  static const onyx_vinfo none = {ONYX_KIND_TENSOR, ONYX_DTYPE_UNDEFINED, -1, {0}, NULL};
  return i < c->node->n_in ? &c->in[i] : &none;
}

static const onyx_tensor *value_at(onyx_infer_ctx *c, int i) {
  return i < c->node->n_in ? c->in[i].value : NULL;
}

/* Length of a 1-D input when its shape says it, else -1. */
static int64_t length_of(const onyx_vinfo *v) {
  if (v->value) return onyx_numel(v->value->rank, v->value->dims);
  return v->rank == 1 && fixed(v->dims[0]) ? v->dims[0] : -1;
}

static onyx_status *need_rank(onyx_infer_ctx *c, const onyx_vinfo *v, const char *what, int min) {
  if (v->rank >= 0 && v->rank < min)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "%s has rank %d, expected at least %d", what,
                           v->rank, min);
  return NULL;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ---------------------------------- */

/* Resolves a -1 in a reshape target: the input's element count divided by
 * the other target dims, cancelling symbols that appear on both sides.
 * Returns false when the division leaves a remainder (or divides by 0). */
static bool infer_minus_one(const onyx_vinfo *x, const int64_t *dims, int rank, int skip, int64_t *out) {
  *out = ONYX_DIM_UNKNOWN;
  if (x->rank < 0) return true;
  int64_t pin = 1, pout = 1, syms[ONYX_MAX_RANK];
  int ns = 0;
  for (int i = 0; i < x->rank; i++) {
    if (fixed(x->dims[i])) pin *= x->dims[i];
    else if (x->dims[i] == ONYX_DIM_UNKNOWN) return true;
    else syms[ns++] = x->dims[i];
  }
  for (int i = 0; i < rank; i++) {
    if (i == skip) continue;
    if (fixed(dims[i])) {
      pout *= dims[i];
      continue;
    }
    int k = 0;
    while (k < ns && syms[k] != dims[i]) k++;
    if (k == ns) return true;
    syms[k] = syms[--ns];
  }
  if (ns > 1) return true;
  if (ns == 1) {
    if (pin == pout) *out = syms[0];
    return true;
  }
  if (pout == 0 || pin % pout) return false;
  *out = pin / pout;
  return true;
}

onyx_status *onyx_infer_reshape(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  int64_t tgt[ONYX_MAX_RANK];
  int rank;
  const onyx_tensor *sh = n->opset >= 5 ? value_at(c, 1) : NULL;
  if (n->opset < 5) {
    const int64_t *v;
    if (!onyx_attr_ints(n, "shape", &rank, &v))
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute shape is required");
    if (rank > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "rank %d is too large", rank);
    memcpy(tgt, v, (size_t)rank * sizeof *v);
  } else if (sh) {
    int64_t k = onyx_numel(sh->rank, sh->dims);
    if (sh->rank != 1 || k > ONYX_MAX_RANK)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape must be 1-D with at most %d values", ONYX_MAX_RANK);
    rank = (int)k;
    for (int i = 0; i < rank; i++) tgt[i] = onyx_tensor_get_i64(sh, i);
  } else {
    int64_t k = length_of(in_at(c, 1));
    if (k > ONYX_MAX_RANK)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape has %lld values", (long long)k);
    set_out(o, x->dtype, (int)k, NULL);
    if (k < 0) o->rank = -1;
    return NULL;
  }
  bool allowzero = n->opset >= 14 && onyx_attr_int(n, "allowzero", 0);
  int neg = -1;
  int64_t dims[ONYX_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    int64_t v = tgt[i];
    if (v == -1) {
      if (neg >= 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape has more than one -1");
      neg = i;
      dims[i] = ONYX_DIM_UNKNOWN;
    } else if (v == 0 && !allowzero) {
      if (x->rank >= 0 && i >= x->rank)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape[%d] is 0 (copy) but the input has rank %d", i,
                               x->rank);
      dims[i] = x->rank >= 0 ? x->dims[i] : ONYX_DIM_UNKNOWN;
    } else if (v < 0) {
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape[%d] is %lld", i, (long long)v);
    } else {
      dims[i] = v;
    }
  }
  char a[160], b[160];
  if (neg >= 0) {
    int64_t d;
    if (!infer_minus_one(x, dims, rank, neg, &d))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "cannot reshape %s into %s",
                             onyx_shape_str(x->rank, x->dims, a, sizeof a), onyx_shape_str(rank, tgt, b, sizeof b));
    dims[neg] = d;
  }
  if (onyx_vinfo_static(x)) {
    bool all = true;
    for (int i = 0; i < rank; i++) all = all && fixed(dims[i]);
    if (all && onyx_numel(rank, dims) != onyx_numel(x->rank, x->dims))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "cannot reshape %s into %s",
                             onyx_shape_str(x->rank, x->dims, a, sizeof a), onyx_shape_str(rank, tgt, b, sizeof b));
  }
  set_out(o, x->dtype, rank, dims);
  return NULL;
}

onyx_status *onyx_infer_flatten(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  set_out(o, x->dtype, 2, NULL);
  if (x->rank < 0) return NULL;
  int64_t axis = onyx_attr_int(c->node, "axis", 1);
  if (axis < -x->rank || axis > x->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                           (long long)axis, x->rank);
  if (axis < 0) axis += x->rank;
  int64_t a = 1, b = 1;
  for (int i = 0; i < x->rank; i++) {
    if (i < axis) a = dim_mul(a, x->dims[i]);
    else b = dim_mul(b, x->dims[i]);
  }
  o->dims[0] = a;
  o->dims[1] = b;
  return NULL;
}

onyx_status *onyx_infer_squeeze(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  bool from_input = n->opset >= 13 && given(in_at(c, 1));
  if ((from_input && !value_at(c, 1)) || x->rank < 0) return NULL;
  int cnt;
  int64_t axes[ONYX_MAX_RANK];
  ONYX_TRY(onyx_read_axes(n, from_input ? value_at(c, 1) : NULL, &cnt, axes));
  bool mask[ONYX_MAX_RANK];
  if (cnt <= 0) {   /* no axes (or an empty list, as ORT reads it): every dim of size 1 */
    for (int i = 0; i < x->rank; i++) {
      if (!fixed(x->dims[i])) return NULL;   /* which dims are 1 is not known */
      mask[i] = x->dims[i] == 1;
    }
  } else {
    ONYX_TRY(onyx_axes_mask(n, cnt, axes, x->rank, mask));
    for (int i = 0; i < x->rank; i++)
      if (mask[i] && fixed(x->dims[i]) && x->dims[i] != 1)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "cannot squeeze axis %d of size %lld", i,
                               (long long)x->dims[i]);
  }
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (!mask[i]) o->dims[r++] = x->dims[i];
  o->rank = r;
  return NULL;
}

onyx_status *onyx_infer_unsqueeze(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  const onyx_tensor *t = n->opset >= 13 ? value_at(c, 1) : NULL;
  if (n->opset >= 13 && !t) {
    int64_t k = length_of(in_at(c, 1));
    if (x->rank >= 0 && k > ONYX_MAX_RANK - x->rank)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "the output would have more than %d dims", ONYX_MAX_RANK);
    if (x->rank >= 0 && k >= 0) set_out(o, x->dtype, (int)(x->rank + k), NULL);
    return NULL;
  }
  int cnt;
  int64_t axes[ONYX_MAX_RANK];
  ONYX_TRY(onyx_read_axes(n, t, &cnt, axes));
  if (cnt < 0) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "axes are required");
  if (x->rank < 0) return NULL;
  int r = x->rank + cnt;
  if (r > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output rank %d exceeds %d", r, ONYX_MAX_RANK);
  bool mask[ONYX_MAX_RANK];
  ONYX_TRY(onyx_axes_mask(n, cnt, axes, r, mask));
  for (int i = 0, k = 0; i < r; i++) o->dims[i] = mask[i] ? 1 : x->dims[k++];
  o->rank = r;
  return NULL;
}

/* ---- Transpose, Concat, Split ---------------------------------------------- */

onyx_status *onyx_infer_transpose(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  if (x->rank < 0) return NULL;
  int perm[ONYX_MAX_RANK];
  ONYX_TRY(onyx_transpose_perm(c->node, x->rank, perm));
  for (int i = 0; i < x->rank; i++) o->dims[i] = x->dims[perm[i]];
  o->rank = x->rank;
  return NULL;
}

onyx_status *onyx_infer_concat(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  onyx_vinfo *o = &c->out[0];
  o->dtype = c->in[0].dtype;
  int rank = -1;
  for (int i = 0; i < n->n_in; i++) {
    if (c->in[i].rank < 0) continue;
    if (rank >= 0 && c->in[i].rank != rank)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d has rank %d, input 0 rank %d", i,
                             c->in[i].rank, rank);
    rank = c->in[i].rank;
  }
  const onyx_attr *ax = onyx_node_attr(n, "axis");
  if (!ax && n->opset >= 4) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute axis is required");
  if (rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(n, ax ? ax->i : 1, rank, &axis));
  for (int d = 0; d < rank; d++) {
    int64_t v = d == axis ? 0 : ONYX_DIM_UNKNOWN;
    bool all = true;
    for (int i = 0; i < n->n_in; i++) {
      const onyx_vinfo *x = &c->in[i];
      int64_t xd = x->rank < 0 ? ONYX_DIM_UNKNOWN : x->dims[d];
      if (d == axis) {
        all = all && x->rank >= 0;
        v = dim_add(v, xd);
      } else if (fixed(xd)) {
        if (fixed(v) && v != xd)
          return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d has %lld on dim %d, expected %lld", i,
                                 (long long)xd, d, (long long)v);
        v = xd;
      } else if (v == ONYX_DIM_UNKNOWN && i == 0) {
        v = xd;   /* a symbol; replaced if another input fixes the dim */
      }
    }
    o->dims[d] = d == axis && !all ? ONYX_DIM_UNKNOWN : v;
  }
  o->rank = rank;
  return NULL;
}

onyx_status *onyx_infer_split(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  for (int i = 0; i < n->n_out; i++) c->out[i].dtype = x->dtype;
  if (x->rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", 0), x->rank, &axis));
  bool split_in = n->opset >= 13 && given(in_at(c, 1)) && !empty_input(in_at(c, 1));
  int64_t sizes[64];
  if (n->n_out > 64) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "more than 64 outputs");
  if (split_in && !value_at(c, 1)) {
    for (int i = 0; i < n->n_out; i++) sizes[i] = ONYX_DIM_UNKNOWN;
  } else {
    int64_t dim = x->dims[axis];
    ONYX_TRY(onyx_split_sizes(n, fixed(dim) ? dim : -1, split_in ? value_at(c, 1) : NULL, n->n_out, sizes));
    if (!fixed(dim) && n->n_out == 1) sizes[0] = dim;
  }
  for (int i = 0; i < n->n_out; i++) {
    set_out(&c->out[i], x->dtype, x->rank, x->dims);
    c->out[i].dims[axis] = sizes[i];
  }
  return NULL;
}

/* ---- Slice, Gather family, Scatter family -------------------------------- */

onyx_status *onyx_infer_slice(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  if (x->rank < 0) return NULL;
  if (n->opset >= 10)
    for (int i = 1; i < 5; i++)
      if (given(in_at(c, i)) && !value_at(c, i)) {
        set_out(o, x->dtype, x->rank, NULL);
        return NULL;
      }
  onyx_slice_plan p;
  ONYX_TRY(onyx_slice_resolve(n, x->rank, x->dims, value_at(c, 1), value_at(c, 2), value_at(c, 3),
                              value_at(c, 4), &p));
  set_out(o, x->dtype, x->rank, p.count);
  return NULL;
}

static onyx_status *check_index_dtype(onyx_infer_ctx *c, int i) {
  onyx_dtype t = c->in[i].dtype;
  if (t != ONYX_DTYPE_UNDEFINED && t != ONYX_DTYPE_INT32 && t != ONYX_DTYPE_INT64)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "indices have dtype %s, expected int32 or int64",
                           onyx_dtype_name(t));
  return NULL;
}

onyx_status *onyx_infer_gather(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0], *idx = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  ONYX_TRY(check_index_dtype(c, 1));
  ONYX_TRY(need_rank(c, x, "data", 1));
  if (x->rank < 0 || idx->rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 0), x->rank, &axis));
  int r = x->rank + idx->rank - 1;
  if (r > ONYX_MAX_RANK) return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "output rank %d is too large", r);
  int k = 0;
  for (int i = 0; i < axis; i++) o->dims[k++] = x->dims[i];
  for (int i = 0; i < idx->rank; i++) o->dims[k++] = idx->dims[i];
  for (int i = axis + 1; i < x->rank; i++) o->dims[k++] = x->dims[i];
  o->rank = r;
  return NULL;
}

onyx_status *onyx_infer_gather_elements(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0], *idx = &c->in[1];
  ONYX_TRY(check_index_dtype(c, 1));
  if (x->rank >= 0 && idx->rank >= 0 && x->rank != idx->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "indices have rank %d, data rank %d", idx->rank,
                           x->rank);
  onyx_vinfo_copy(&c->out[0], idx);
  c->out[0].dtype = x->dtype;
  return NULL;
}

onyx_status *onyx_infer_gather_nd(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0], *idx = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  if (idx->dtype != ONYX_DTYPE_UNDEFINED && idx->dtype != ONYX_DTYPE_INT64)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices must be int64");
  if (x->rank < 0 || idx->rank < 0) return NULL;
  int64_t b = onyx_attr_int(n, "batch_dims", 0);
  if (idx->rank < 1 || b < 0 || b >= idx->rank || b >= x->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "batch_dims %lld does not fit data rank %d, indices rank %d",
                           (long long)b, x->rank, idx->rank);
  int64_t k = idx->dims[idx->rank - 1];
  if (!fixed(k)) return NULL;
  if (k < 1 || b + k > x->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "indices' last dim %lld does not fit data rank %d",
                           (long long)k, x->rank);
  int r = 0;
  for (int i = 0; i < idx->rank - 1; i++) o->dims[r++] = idx->dims[i];
  for (int i = (int)(b + k); i < x->rank; i++) o->dims[r++] = x->dims[i];
  o->rank = r;
  return NULL;
}

onyx_status *onyx_infer_scatter(onyx_infer_ctx *c) {
  ONYX_TRY(strcmp(c->node->op_type, "ScatterND") ? check_index_dtype(c, 1) : NULL);
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  return NULL;
}

/* ---- Shape, Size, Constant, ConstantOfShape, Range, EyeLike -------------- */

onyx_status *onyx_infer_shape(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  set_out(o, ONYX_DTYPE_INT64, 1, NULL);
  if (x->rank < 0) return NULL;
  int64_t r = x->rank, s = 0, e = r;
  if (c->node->opset >= 15) {
    s = onyx_attr_int(c->node, "start", 0);
    e = onyx_attr_int(c->node, "end", r);
  }
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < 0 ? 0 : e > r ? r : e;
  o->dims[0] = e > s ? e - s : 0;
  return NULL;
}

onyx_status *onyx_infer_size(onyx_infer_ctx *c) {
  set_out(&c->out[0], ONYX_DTYPE_INT64, 0, NULL);
  return NULL;
}

onyx_status *onyx_infer_constant(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  onyx_vinfo *o = &c->out[0];
  if (n->n_attrs != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "expected exactly one value attribute, got %d", n->n_attrs);
  const onyx_attr *a = &n->attrs[0];
  const char *nm = a->name;
  int64_t len = a->n;
  if (!strcmp(nm, "value") && a->t) set_out(o, a->t->dtype, a->t->rank, a->t->dims);
  else if (!strcmp(nm, "value_float")) set_out(o, ONYX_DTYPE_FLOAT, 0, NULL);
  else if (!strcmp(nm, "value_int")) set_out(o, ONYX_DTYPE_INT64, 0, NULL);
  else if (!strcmp(nm, "value_string")) set_out(o, ONYX_DTYPE_STRING, 0, NULL);
  else if (!strcmp(nm, "value_floats")) set_out(o, ONYX_DTYPE_FLOAT, 1, &len);
  else if (!strcmp(nm, "value_ints")) set_out(o, ONYX_DTYPE_INT64, 1, &len);
  else if (!strcmp(nm, "value_strings")) set_out(o, ONYX_DTYPE_STRING, 1, &len);
  else return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "attribute '%s' is not supported", nm);
  return NULL;
}

/* ConstantOfShape's element dtype: from its "value" tensor, float by default. */
static onyx_dtype cos_dtype(const onyx_node *n) {
  const onyx_attr *a = onyx_node_attr(n, "value");
  return a && a->t ? a->t->dtype : ONYX_DTYPE_FLOAT;
}

onyx_status *onyx_infer_constant_of_shape(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  onyx_vinfo *o = &c->out[0];
  const onyx_attr *a = onyx_node_attr(n, "value");
  if (a && (!a->t || onyx_numel(a->t->rank, a->t->dims) != 1))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "value must be a one-element tensor");
  o->dtype = cos_dtype(n);
  const onyx_tensor *sh = c->in[0].value;
  if (!sh) {
    int64_t k = length_of(&c->in[0]);
    if (k > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "rank %lld is too large", (long long)k);
    if (k >= 0) set_out(o, o->dtype, (int)k, NULL);
    return NULL;
  }
  int64_t k = onyx_numel(sh->rank, sh->dims);
  if (sh->rank != 1 || k > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape must be 1-D with at most %d values", ONYX_MAX_RANK);
  for (int i = 0; i < k; i++) {
    o->dims[i] = onyx_tensor_get_i64(sh, i);
    if (o->dims[i] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape[%d] is %lld", i, (long long)o->dims[i]);
  }
  o->rank = (int)k;
  return NULL;
}

onyx_status *onyx_infer_range(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  onyx_vinfo *o = &c->out[0];
  set_out(o, c->in[0].dtype, 1, NULL);
  for (int i = 0; i < 3; i++)
    if (c->in[i].rank > 0 && onyx_numel(c->in[i].rank, c->in[i].dims) != 1)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d must be a scalar", i);
  const onyx_tensor *s = c->in[0].value, *l = c->in[1].value, *d = c->in[2].value;
  if (!s || !l || !d) return NULL;
  int64_t cnt;
  onyx_dtype t = s->dtype;
  if (t == ONYX_DTYPE_FLOAT || t == ONYX_DTYPE_DOUBLE || t == ONYX_DTYPE_FLOAT16 || t == ONYX_DTYPE_BFLOAT16) {
    double st = onyx_tensor_get_f64(s, 0), li = onyx_tensor_get_f64(l, 0), de = onyx_tensor_get_f64(d, 0);
    if (de == 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "delta is 0");
    double q = ceil((li - st) / de);
    cnt = q > 0 ? (int64_t)q : 0;
  } else {
    int64_t st = onyx_tensor_get_i64(s, 0), li = onyx_tensor_get_i64(l, 0), de = onyx_tensor_get_i64(d, 0);
    if (de == 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "delta is 0");
    int64_t span = li - st;
    cnt = de > 0 ? (span > 0 ? (span + de - 1) / de : 0) : (span < 0 ? (-span + -de - 1) / -de : 0);
  }
  o->dims[0] = cnt;
  return NULL;
}

onyx_status *onyx_infer_eye_like(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  if (x->rank >= 0 && x->rank != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 2", x->rank);
  onyx_vinfo_copy(&c->out[0], x);
  const onyx_attr *a = onyx_node_attr(c->node, "dtype");
  if (a) c->out[0].dtype = (onyx_dtype)a->i;
  return NULL;
}

/* ---- Expand, Tile, Pad, CenterCropPad ----------------------------------- */

onyx_status *onyx_infer_expand(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  const onyx_tensor *sh = c->in[1].value;
  int64_t k = sh ? onyx_numel(sh->rank, sh->dims) : length_of(&c->in[1]);
  if (k > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "shape has %lld values", (long long)k);
  if (x->rank < 0 || k < 0) return NULL;
  int64_t dims[ONYX_MAX_RANK];
  for (int i = 0; i < k; i++) {
    dims[i] = sh ? onyx_tensor_get_i64(sh, i) : ONYX_DIM_UNKNOWN;
    if (sh && dims[i] < 0)   /* negative dims would read as onyx's unknown or symbolic dims */
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape value %d is negative (%lld)", i, (long long)dims[i]);
  }
  if (!sh) {
    set_out(o, x->dtype, x->rank > k ? x->rank : (int)k, NULL);
    return NULL;
  }
  int r;
  ONYX_TRY(onyx_broadcast_shape(n, x->rank, x->dims, (int)k, dims, &r, o->dims));
  o->rank = r;
  return NULL;
}

onyx_status *onyx_infer_tile(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  if (!like_input0(c)) return NULL;
  const onyx_tensor *rep = c->in[1].value;
  if (!rep) return NULL;
  if (onyx_numel(rep->rank, rep->dims) != x->rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "repeats has %lld values for an input of rank %d",
                           (long long)onyx_numel(rep->rank, rep->dims), x->rank);
  for (int i = 0; i < x->rank; i++) {
    int64_t r = onyx_tensor_get_i64(rep, i);
    if (r < 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "repeats[%d] is %lld", i, (long long)r);
    o->dims[i] = dim_mul(x->dims[i], r);
  }
  return NULL;
}

onyx_status *onyx_infer_pad(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  if (!like_input0(c)) return NULL;
  if (n->opset >= 11 && (!value_at(c, 1) || (given(in_at(c, 3)) && !value_at(c, 3)))) return NULL;
  int64_t pads[2 * ONYX_MAX_RANK];
  ONYX_TRY(onyx_pad_resolve(n, x->rank, value_at(c, 1), value_at(c, 3), pads));
  for (int i = 0; i < x->rank; i++) {
    int64_t add = pads[i] + pads[x->rank + i];
    if (!fixed(x->dims[i])) {
      o->dims[i] = add ? ONYX_DIM_UNKNOWN : x->dims[i];
      continue;
    }
    o->dims[i] = x->dims[i] + add;
    if (o->dims[i] < 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "pads make dim %d negative", i);
  }
  return NULL;
}

onyx_status *onyx_infer_center_crop_pad(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  if (!like_input0(c)) return NULL;
  const onyx_tensor *sh = c->in[1].value;
  if (!sh) return NULL;
  int cnt;
  int64_t axes[ONYX_MAX_RANK];
  ONYX_TRY(onyx_read_axes(n, NULL, &cnt, axes));
  if (cnt < 0) {
    cnt = x->rank;
    for (int i = 0; i < cnt; i++) axes[i] = i;
  }
  bool mask[ONYX_MAX_RANK];
  ONYX_TRY(onyx_axes_mask(n, cnt, axes, x->rank, mask));
  if (onyx_numel(sh->rank, sh->dims) != cnt)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape has %lld values for %d axes",
                           (long long)onyx_numel(sh->rank, sh->dims), cnt);
  memcpy(o->dims, x->dims, (size_t)x->rank * sizeof x->dims[0]);
  for (int i = 0; i < cnt; i++) {
    int64_t v = onyx_tensor_get_i64(sh, i);
    if (v < 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "shape[%d] is %lld", i, (long long)v);
    o->dims[axes[i] < 0 ? axes[i] + x->rank : axes[i]] = v;
  }
  return NULL;
}

/* ---- Resize / Upsample ------------------------------------------------------ */

onyx_status *onyx_infer_resize(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  onyx_resize_plan p;
  ONYX_TRY(onyx_resize_attrs(n, &p));
  if (x->rank < 0) return NULL;
  set_out(o, x->dtype, x->rank, NULL);
  bool modern = !strcmp(n->op_type, "Resize") && n->opset >= 11;
  bool upsample7 = !strcmp(n->op_type, "Upsample") && n->opset < 9;
  int si = modern ? 2 : 1;
  const onyx_vinfo *sc = in_at(c, si), *sz = modern ? in_at(c, 3) : in_at(c, 99);
  const onyx_vinfo *roi = modern ? in_at(c, 1) : in_at(c, 99);
  bool use_sizes = !empty_input(sz);
  if (!upsample7 && ((use_sizes && !sz->value) || (!use_sizes && !sc->value))) return NULL;
  if (p.coord == ONYX_COORD_TF_CROP_AND_RESIZE && !empty_input(roi) && !roi->value) return NULL;
  ONYX_TRY(onyx_resize_resolve(n, x->rank, x->dims, roi->value, upsample7 ? NULL : sc->value,
                               use_sizes ? sz->value : NULL, &p));
  memcpy(o->dims, p.out_dims, (size_t)x->rank * sizeof o->dims[0]);
  return NULL;
}

/* ---- OneHot, NonZero, Compress, Unique ---------------------------------- */

onyx_status *onyx_infer_one_hot(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *idx = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = c->in[2].dtype;
  if (idx->rank < 0) return NULL;
  int r = idx->rank + 1;
  if (r > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output rank %d is too large", r);
  int axis;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", -1), r, &axis));
  int64_t depth = ONYX_DIM_UNKNOWN;
  if (c->in[1].value) {
    depth = (int64_t)onyx_tensor_get_f64(c->in[1].value, 0);
    if (depth < 1) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "depth is %lld", (long long)depth);
  }
  for (int i = 0, k = 0; i < r; i++) o->dims[i] = i == axis ? depth : idx->dims[k++];
  o->rank = r;
  return NULL;
}

onyx_status *onyx_infer_non_zero(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  int64_t dims[2] = {x->rank < 0 ? ONYX_DIM_UNKNOWN : x->rank ? x->rank : 1, ONYX_DIM_UNKNOWN};
  set_out(&c->out[0], ONYX_DTYPE_INT64, 2, dims);
  return NULL;
}

onyx_status *onyx_infer_compress(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0], *cond = &c->in[1];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  if (cond->rank >= 0 && cond->rank != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "condition has rank %d, expected 1", cond->rank);
  const onyx_attr *ax = onyx_node_attr(n, "axis");
  if (!ax) {
    set_out(o, x->dtype, 1, NULL);
    return NULL;
  }
  if (x->rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(n, ax->i, x->rank, &axis));
  set_out(o, x->dtype, x->rank, x->dims);
  o->dims[axis] = ONYX_DIM_UNKNOWN;
  const onyx_tensor *cv = cond->value;
  if (cv && fixed(x->dims[axis])) {
    int64_t len = onyx_numel(cv->rank, cv->dims), cnt = 0;
    if (len > x->dims[axis])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "condition has %lld values, the axis %lld",
                             (long long)len, (long long)x->dims[axis]);
    for (int64_t i = 0; i < len; i++) cnt += onyx_tensor_get_i64(cv, i) != 0;
    o->dims[axis] = cnt;
  }
  return NULL;
}

onyx_status *onyx_infer_unique(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  const onyx_attr *ax = onyx_node_attr(n, "axis");
  int axis = -1;
  if (ax && x->rank >= 0) ONYX_TRY(onyx_norm_axis(n, ax->i, x->rank, &axis));
  c->out[0].dtype = x->dtype;
  if (!ax) set_out(&c->out[0], x->dtype, 1, NULL);
  else if (x->rank >= 0) {
    set_out(&c->out[0], x->dtype, x->rank, x->dims);
    c->out[0].dims[axis] = ONYX_DIM_UNKNOWN;
  }
  for (int i = 1; i < n->n_out; i++) set_out(&c->out[i], ONYX_DTYPE_INT64, 1, NULL);
  if (n->n_out > 2 && x->rank >= 0) {
    int64_t len = 1;
    if (axis >= 0) len = x->dims[axis];
    else
      for (int d = 0; d < x->rank; d++) len = dim_mul(len, x->dims[d]);
    c->out[2].dims[0] = len;
  }
  return NULL;
}

/* ---- DepthToSpace, SpaceToDepth, Col2Im ----------------------------------- */

static onyx_status *space_depth(onyx_infer_ctx *c, bool to_space) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  int64_t b = onyx_attr_int(n, "blocksize", 0);
  if (b < 1) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "blocksize must be >= 1");
  if (x->rank < 0) return NULL;
  if (x->rank != 4) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 4", x->rank);
  set_out(o, x->dtype, 4, x->dims);
  int64_t ch = x->dims[1];
  if (to_space) {
    if (fixed(ch) && ch % (b * b))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "channels %lld are not a multiple of blocksize^2 %lld",
                             (long long)ch, (long long)(b * b));
    o->dims[1] = fixed(ch) ? ch / (b * b) : b == 1 ? ch : ONYX_DIM_UNKNOWN;
    o->dims[2] = dim_mul(x->dims[2], b);
    o->dims[3] = dim_mul(x->dims[3], b);
  } else {
    for (int d = 2; d < 4; d++) {
      if (fixed(x->dims[d]) && x->dims[d] % b)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "dim %d (%lld) is not a multiple of blocksize %lld", d,
                               (long long)x->dims[d], (long long)b);
      o->dims[d] = fixed(x->dims[d]) ? x->dims[d] / b : b == 1 ? x->dims[d] : ONYX_DIM_UNKNOWN;
    }
    o->dims[1] = dim_mul(ch, b * b);
  }
  return NULL;
}

onyx_status *onyx_infer_depth_to_space(onyx_infer_ctx *c) { return space_depth(c, true); }
onyx_status *onyx_infer_space_to_depth(onyx_infer_ctx *c) { return space_depth(c, false); }

onyx_status *onyx_infer_col2im(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *o = &c->out[0];
  o->dtype = x->dtype;
  const onyx_tensor *img = c->in[1].value, *blk = c->in[2].value;
  int64_t k = img ? onyx_numel(img->rank, img->dims) : length_of(&c->in[1]);
  if (k < 0) return NULL;
  if (k + 2 > ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "too many spatial dims");
  set_out(o, x->dtype, (int)k + 2, NULL);
  if (x->rank >= 0 && x->rank != 3)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 3", x->rank);
  if (x->rank == 3) o->dims[0] = x->dims[0];
  if (img)
    for (int i = 0; i < k; i++) o->dims[2 + i] = onyx_tensor_get_i64(img, i);
  if (blk && x->rank == 3 && fixed(x->dims[1])) {
    int64_t prod = 1;
    for (int64_t i = 0; i < onyx_numel(blk->rank, blk->dims); i++) prod *= onyx_tensor_get_i64(blk, i);
    if (prod <= 0 || x->dims[1] % prod)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input dim 1 (%lld) is not a multiple of the block size %lld",
                             (long long)x->dims[1], (long long)prod);
    o->dims[1] = x->dims[1] / prod;
  }
  return NULL;
}
