/* infer_reduce.c — shape/type inference for the reduce op family
 * (defs/reduce.def), and the parsing helpers of reduce_ops.h that kernels
 * share with it: reduction axes, Einsum equations, convolution geometry.
 * Every function copes with unknown rank and unknown/symbolic dims (load
 * time) as well as fully known inputs (run time, when outputs are sized). */
#include <string.h>

#include "base/tensor.h"
#include "ops.h"
#include "reduce_ops.h"
#include "linalg.h"

/* ---- reductions ------------------------------------------------------------ */

bool onyx_reduce_axes_from_input(const onyx_node *n) {
  return n->op == onyx_op_ReduceSum ? n->opset >= 13 : n->opset >= 18;
}

onyx_status *onyx_reduce_axes(const onyx_node *n, const onyx_tensor *axes, int rank, bool *mask,
                              bool *noop) {
  int count = 0;
  const int64_t *attr = NULL;
  if (onyx_reduce_axes_from_input(n)) {
    if (axes) count = (int)onyx_numel(axes->rank, axes->dims);
  } else {
    onyx_attr_ints(n, "axes", &count, &attr);
  }
  for (int d = 0; d < rank; d++) mask[d] = count == 0;
  *noop = count == 0 && onyx_attr_int(n, "noop_with_empty_axes", 0) != 0;
  if (*noop) {
    for (int d = 0; d < rank; d++) mask[d] = false;
    return NULL;
  }
  for (int i = 0; i < count; i++) {
    int64_t a = attr ? attr[i] : onyx_tensor_get_i64(axes, i);
    int d;
    ONYX_TRY(onyx_norm_axis(n, a, rank, &d));
    mask[d] = true;
  }
  return NULL;
}

onyx_status *onyx_infer_reduce(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *y = &c->out[0];
  bool keep = onyx_attr_int(c->node, "keepdims", 1) != 0;
  y->dtype = x->dtype;
  if (x->rank < 0) return NULL;
  const onyx_tensor *axes = NULL;
  if (onyx_reduce_axes_from_input(c->node) && c->node->n_in > 1 && c->node->in[1] >= 0) {
    axes = c->in[1].value;
    if (!axes) { /* axes known only at run time */
      if (keep) {
        y->rank = x->rank;
        for (int d = 0; d < x->rank; d++) y->dims[d] = ONYX_DIM_UNKNOWN;
      }
      return NULL;
    }
  }
  bool mask[ONYX_MAX_RANK], noop;
  ONYX_TRY(onyx_reduce_axes(c->node, axes, x->rank, mask, &noop));
  int r = 0;
  for (int d = 0; d < x->rank; d++) {
    if (!mask[d]) y->dims[r++] = x->dims[d];
    else if (keep) y->dims[r++] = 1;
  }
  y->rank = r;
  return NULL;
}

onyx_status *onyx_infer_argminmax(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  onyx_vinfo *y = &c->out[0];
  y->dtype = ONYX_DTYPE_INT64;
  if (x->rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", 0), x->rank, &axis));
  bool keep = onyx_attr_int(c->node, "keepdims", 1) != 0;
  int r = 0;
  for (int d = 0; d < x->rank; d++) {
    if (d != axis) y->dims[r++] = x->dims[d];
    else if (keep) y->dims[r++] = 1;
  }
  y->rank = r;
  return NULL;
}

onyx_status *onyx_infer_topk(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = x->dtype;
  c->out[1].dtype = ONYX_DTYPE_INT64;
  if (x->rank < 0) return NULL;
  int axis;
  ONYX_TRY(onyx_norm_axis(c->node, onyx_attr_int(c->node, "axis", -1), x->rank, &axis));
  int64_t k = ONYX_DIM_UNKNOWN;
  if (c->node->opset < 10) {
    k = onyx_attr_int(c->node, "k", -1);
  } else if (c->node->n_in > 1 && c->in[1].value) {
    const onyx_tensor *kt = c->in[1].value;
    if (onyx_numel(kt->rank, kt->dims) != 1)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input 'K' must hold one value");
    k = onyx_tensor_get_i64(kt, 0);
  }
  if (k < ONYX_DIM_UNKNOWN || (k >= 0 && x->dims[axis] >= 0 && k > x->dims[axis]))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "k = %lld is out of range for axis of %lld",
                           (long long)k, (long long)x->dims[axis]);
  for (int o = 0; o < 2; o++) {
    c->out[o].rank = x->rank;
    memcpy(c->out[o].dims, x->dims, (size_t)x->rank * sizeof x->dims[0]);
    c->out[o].dims[axis] = k;
  }
  return NULL;
}

/* ---- Einsum -------------------------------------------------------------------- */

static int letter_id(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
  return -1;
}

/* Parses one term (no spaces) of `len` chars into labels for a tensor of
 * `rank` dims (rank < 0: the output, whose ellipsis width is `ell`). Writes
 * the number of dims and, for inputs, the ellipsis width. */
static onyx_status *parse_term(const onyx_node *n, const char *t, size_t len, int rank, int ell_max,
                               int *labels, int *n_dims, int *ell) {
  int letters = 0;
  bool has_ell = false;
  for (size_t i = 0; i < len; i++) {
    if (t[i] == '.') {
      if (has_ell || i + 2 >= len || t[i + 1] != '.' || t[i + 2] != '.')
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "bad ellipsis in equation term '%.*s'",
                               (int)len, t);
      has_ell = true;
      i += 2;
    } else if (letter_id(t[i]) >= 0) {
      letters++;
    } else {
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "bad character '%c' in equation", t[i]);
    }
  }
  int e = rank < 0 ? (has_ell ? ell_max : 0) : rank - letters;
  if (e < 0 || (!has_ell && e != 0) || letters + e > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "equation term '%.*s' does not fit rank %d",
                           (int)len, t, rank);
  int d = 0;
  for (size_t i = 0; i < len; i++) {
    if (t[i] == '.') {
      for (int k = 0; k < e; k++) labels[d++] = ONYX_EINSUM_ELLIPSIS0 + ell_max - e + k;
      i += 2;
    } else {
      labels[d++] = letter_id(t[i]);
    }
  }
  *n_dims = d;
  if (ell) *ell = e;
  return NULL;
}

onyx_status *onyx_einsum_parse(const onyx_node *n, int n_in, const int *ranks, onyx_einsum *out) {
  const char *eq0 = onyx_attr_string(n, "equation", NULL);
  if (!eq0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "attribute 'equation' is missing");
  if (n_in < 1 || n_in > ONYX_EINSUM_MAX_INPUTS)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%d inputs (1..%d supported)", n_in,
                           ONYX_EINSUM_MAX_INPUTS);
  char eq[512];
  size_t len = 0;
  for (const char *p = eq0; *p; p++)
    if (*p != ' ') {
      if (len + 1 >= sizeof eq) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "equation too long");
      eq[len++] = *p;
    }
  eq[len] = 0;
  const char *arrow = strstr(eq, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - eq) : len;
  memset(out, 0, sizeof *out);
  out->n_in = n_in;
  /* the widest ellipsis decides the ellipsis label ids: compute it first */
  int ell_max = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t start = 0;
    int term = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
      if (i < lhs_len && eq[i] != ',') continue;
      if (term >= n_in)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "equation '%s' has more terms than %d inputs",
                               eq0, n_in);
      int e;
      ONYX_TRY(parse_term(n, eq + start, i - start, ranks[term], ell_max, out->in_label[term],
                          &out->in_rank[term], &e));
      if (pass == 0 && e > ell_max) ell_max = e;
      term++;
      start = i + 1;
    }
    if (term != n_in)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "equation '%s' has %d terms for %d inputs",
                             eq0, term, n_in);
  }
  if (arrow) {
    ONYX_TRY(parse_term(n, arrow + 2, strlen(arrow + 2), -1, ell_max, out->out_label, &out->out_rank,
                        NULL));
    for (int d = 0; d < out->out_rank; d++) {
      bool found = false;
      for (int i = 0; i < n_in && !found; i++)
        for (int k = 0; k < out->in_rank[i]; k++) found |= out->in_label[i][k] == out->out_label[d];
      for (int k = 0; k < d; k++)
        if (out->out_label[k] == out->out_label[d]) found = false;
      if (!found)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                               "output of equation '%s' repeats a label or names one no input has", eq0);
    }
    return NULL;
  }
  /* implicit output: the ellipsis dims, then labels seen once, in ASCII order */
  int count[ONYX_EINSUM_MAX_LABELS] = {0};
  for (int i = 0; i < n_in; i++)
    for (int k = 0; k < out->in_rank[i]; k++) count[out->in_label[i][k]]++;
  int r = 0;
  for (int k = 0; k < ell_max; k++) out->out_label[r++] = ONYX_EINSUM_ELLIPSIS0 + k;
  for (int l = 26; l < 52 + 26; l++) {
    int id = l % 52;  /* uppercase (26..51) sort before lowercase in ASCII */
    if (count[id] == 1) {
      if (r >= ONYX_MAX_RANK) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output rank too large");
      out->out_label[r++] = id;
    }
  }
  out->out_rank = r;
  return NULL;
}

onyx_status *onyx_infer_einsum(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  c->out[0].dtype = c->in[0].dtype;
  int ranks[ONYX_EINSUM_MAX_INPUTS];
  if (n->n_in > ONYX_EINSUM_MAX_INPUTS)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "more than %d inputs", ONYX_EINSUM_MAX_INPUTS);
  for (int i = 0; i < n->n_in; i++) {
    if (c->in[i].rank < 0) return NULL;
    ranks[i] = c->in[i].rank;
  }
  onyx_einsum e;
  ONYX_TRY(onyx_einsum_parse(n, n->n_in, ranks, &e));
  int64_t dim[ONYX_EINSUM_MAX_LABELS];
  for (int l = 0; l < ONYX_EINSUM_MAX_LABELS; l++) dim[l] = -100;  /* not seen */
  for (int i = 0; i < n->n_in; i++)
    for (int k = 0; k < e.in_rank[i]; k++) {
      int l = e.in_label[i][k];
      int64_t d = c->in[i].dims[k];
      bool ell = l >= ONYX_EINSUM_ELLIPSIS0;
      if (dim[l] == -100 || (ell && dim[l] == 1)) dim[l] = d;
      else if (d >= 0 && dim[l] >= 0 && d != dim[l] && !(ell && d == 1))
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                               "label of input %d dim %d has size %lld, elsewhere %lld", i, k,
                               (long long)d, (long long)dim[l]);
      else if (d >= 0 && dim[l] < 0) dim[l] = d;
    }
  c->out[0].rank = e.out_rank;
  for (int d = 0; d < e.out_rank; d++) c->out[0].dims[d] = dim[e.out_label[d]];
  return NULL;
}

onyx_status *onyx_infer_det(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = x->dtype;
  if (x->rank < 0) return NULL;
  if (x->rank < 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected >= 2", x->rank);
  int64_t a = x->dims[x->rank - 2], b = x->dims[x->rank - 1];
  if (a >= 0 && b >= 0 && a != b)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "matrices are %lldx%lld, not square",
                           (long long)a, (long long)b);
  c->out[0].rank = x->rank - 2;
  memcpy(c->out[0].dims, x->dims, (size_t)(x->rank - 2) * sizeof x->dims[0]);
  return NULL;
}

/* ---- detection ------------------------------------------------------------------ */

onyx_status *onyx_infer_nms(onyx_infer_ctx *c) {
  /* the number of selected boxes depends on the data */
  c->out[0].dtype = ONYX_DTYPE_INT64;
  c->out[0].rank = 2;
  c->out[0].dims[0] = ONYX_DIM_UNKNOWN;
  c->out[0].dims[1] = 3;
  return NULL;
}

onyx_status *onyx_infer_roialign(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0], *rois = &c->in[1];
  c->out[0].dtype = x->dtype;
  if (x->rank >= 0 && x->rank != 4)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input 'X' has rank %d, expected 4", x->rank);
  c->out[0].rank = 4;
  c->out[0].dims[0] = rois->rank == 2 ? rois->dims[0] : ONYX_DIM_UNKNOWN;
  c->out[0].dims[1] = x->rank == 4 ? x->dims[1] : ONYX_DIM_UNKNOWN;
  c->out[0].dims[2] = onyx_attr_int(c->node, "output_height", 1);
  c->out[0].dims[3] = onyx_attr_int(c->node, "output_width", 1);
  return NULL;
}

onyx_status *onyx_infer_gridsample(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0], *grid = &c->in[1];
  c->out[0].dtype = x->dtype;
  if (x->rank < 0 || grid->rank < 0) return NULL;
  if (x->rank < 3 || grid->rank != x->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input 'X' has rank %d and 'grid' rank %d",
                           x->rank, grid->rank);
  c->out[0].rank = x->rank;
  c->out[0].dims[0] = x->dims[0] >= 0 ? x->dims[0] : grid->dims[0];
  c->out[0].dims[1] = x->dims[1];
  for (int d = 2; d < x->rank; d++) c->out[0].dims[d] = grid->dims[d - 1];
  return NULL;
}

/* ---- random --------------------------------------------------------------------- */

onyx_status *onyx_infer_random(onyx_infer_ctx *c) {
  int n = 0;
  const int64_t *shape = NULL;
  if (!onyx_attr_ints(c->node, "shape", &n, &shape))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "attribute 'shape' is missing");
  if (n > ONYX_MAX_RANK) return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "rank %d", n);
  for (int d = 0; d < n; d++)
    if (shape[d] < 0)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "shape has negative dim %lld",
                             (long long)shape[d]);
  c->out[0].dtype = (onyx_dtype)onyx_attr_int(c->node, "dtype", ONYX_DTYPE_FLOAT);
  c->out[0].rank = n;
  memcpy(c->out[0].dims, shape, (size_t)n * sizeof *shape);
  return NULL;
}

onyx_status *onyx_infer_random_like(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = (onyx_dtype)onyx_attr_int(c->node, "dtype", c->in[0].dtype);
  return NULL;
}

onyx_status *onyx_infer_multinomial(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = (onyx_dtype)onyx_attr_int(c->node, "dtype", ONYX_DTYPE_INT32);
  if (x->rank < 0) return NULL;
  if (x->rank != 2)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 2", x->rank);
  c->out[0].rank = 2;
  c->out[0].dims[0] = x->dims[0];
  c->out[0].dims[1] = onyx_attr_int(c->node, "sample_size", 1);
  return NULL;
}

/* ---- quantization ------------------------------------------------------------------- */

onyx_status *onyx_infer_dynamic_quantize(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  c->out[0].dtype = ONYX_DTYPE_UINT8;
  c->out[1].dtype = ONYX_DTYPE_FLOAT;
  c->out[1].rank = 0;
  c->out[2].dtype = ONYX_DTYPE_UINT8;
  c->out[2].rank = 0;
  return NULL;
}

onyx_status *onyx_infer_quantize(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  onyx_dtype dt = ONYX_DTYPE_UINT8;
  if (c->node->n_in > 2 && c->node->in[2] >= 0 && c->in[2].dtype != ONYX_DTYPE_UNDEFINED)
    dt = c->in[2].dtype;
  int64_t want = onyx_attr_int(c->node, "output_dtype", 0);
  if (want) dt = (onyx_dtype)want;
  c->out[0].dtype = dt;
  return NULL;
}

onyx_status *onyx_infer_dequantize(onyx_infer_ctx *c) {
  onyx_vinfo_copy(&c->out[0], &c->in[0]);
  onyx_dtype dt = ONYX_DTYPE_FLOAT;
  if (c->node->opset >= 19 && c->in[1].dtype != ONYX_DTYPE_UNDEFINED) dt = c->in[1].dtype;
  c->out[0].dtype = dt;
  return NULL;
}

onyx_status *onyx_infer_qlinear_matmul(onyx_infer_ctx *c) {
  const onyx_vinfo *a = &c->in[0], *b = &c->in[3];
  onyx_vinfo *y = &c->out[0];
  y->dtype = c->node->n_in > 7 ? c->in[7].dtype : a->dtype;
  if (a->rank < 0 || b->rank < 0) return NULL;
  if (a->rank < 1 || b->rank < 1)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "inputs must have rank >= 1");
  int64_t m = a->rank >= 2 ? a->dims[a->rank - 2] : 1, ka = a->dims[a->rank - 1];
  int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0], nn = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  if (ka >= 0 && kb >= 0 && ka != kb)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "inner dims differ: %lld vs %lld",
                           (long long)ka, (long long)kb);
  int r = 0;
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
  ONYX_TRY(onyx_broadcast_shape(c->node, ra, a->dims, rb, b->dims, &r, y->dims));
  if (a->rank >= 2) y->dims[r++] = m;
  if (b->rank >= 2) y->dims[r++] = nn;
  y->rank = r;
  return NULL;
}

onyx_status *onyx_infer_qlinear_conv(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0], *w = &c->in[3];
  onyx_vinfo *y = &c->out[0];
  y->dtype = c->node->n_in > 7 ? c->in[7].dtype : x->dtype;
  if (x->rank < 0 || w->rank < 0) return NULL;
  if (x->rank < 3 || w->rank != x->rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input 'x' has rank %d and 'w' rank %d",
                           x->rank, w->rank);
  onyx_conv_geom g;
  ONYX_TRY(onyx_conv_geometry(c->node, false, x->rank, x->dims, w->dims, &g));
  y->rank = x->rank;
  y->dims[0] = x->dims[0];
  y->dims[1] = w->dims[0];
  memcpy(y->dims + 2, g.out, (size_t)g.nsp * sizeof g.out[0]);
  return NULL;
}
