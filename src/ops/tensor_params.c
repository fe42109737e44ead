/* tensor_params.c — per-dimension parameters of Slice, Pad, Split, Resize
 * and the axes lists of Squeeze/Unsqueeze, resolved from attributes and
 * small inputs once for both infer functions and kernels (see
 * tensor_params.h for why they are shared). */
#include "tensor_params.h"

#include <math.h>
#include <string.h>

bool onyx_tensor_absent(const onyx_tensor *t) {
  return !t || onyx_numel(t->rank, t->dims) == 0;
}

onyx_status *onyx_read_axes(const onyx_node *n, const onyx_tensor *t, int *count,
                            int64_t axes[ONYX_MAX_RANK]) {
  if (t) {
    int64_t k = onyx_numel(t->rank, t->dims);
    if (t->rank > 1 || k > ONYX_MAX_RANK)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axes must be a 1-D tensor of at most %d values",
                             ONYX_MAX_RANK);
    for (int64_t i = 0; i < k; i++) axes[i] = onyx_tensor_get_i64(t, i);
    *count = (int)k;
    return NULL;
  }
  int k;
  const int64_t *v;
  if (!onyx_attr_ints(n, "axes", &k, &v)) {
    *count = -1;
    return NULL;
  }
  if (k > ONYX_MAX_RANK)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%d axes given; at most %d supported", k, ONYX_MAX_RANK);
  if (k) memcpy(axes, v, (size_t)k * sizeof *v);
  *count = k;
  return NULL;
}

onyx_status *onyx_axes_mask(const onyx_node *n, int count, const int64_t *axes, int rank,
                            bool mask[ONYX_MAX_RANK]) {
  memset(mask, 0, ONYX_MAX_RANK * sizeof *mask);
  for (int i = 0; i < count; i++) {
    if (axes[i] < -rank || axes[i] >= rank)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axes[i], rank);
    int a = (int)(axes[i] < 0 ? axes[i] + rank : axes[i]);
    if (mask[a])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axis %lld is given twice", (long long)axes[i]);
    mask[a] = true;
  }
  return NULL;
}

/* One value of a 1-D parameter that comes either from a tensor or from an
 * INTS attribute (older opsets). */
typedef struct int_list {
  const onyx_tensor *t;
  const int64_t *v;
  int n;
} int_list;

static bool list_from(const onyx_node *n, const onyx_tensor *t, const char *attr, int_list *l) {
  l->t = t;
  l->v = NULL;
  l->n = 0;
  if (t) {
    l->n = (int)onyx_numel(t->rank, t->dims);
    return true;
  }
  return attr && onyx_attr_ints(n, attr, &l->n, &l->v);
}

static int64_t list_get(const int_list *l, int i) {
  return l->t ? onyx_tensor_get_i64(l->t, i) : l->v[i];
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

onyx_status *onyx_slice_resolve(const onyx_node *n, int rank, const int64_t *dims,
                                const onyx_tensor *starts, const onyx_tensor *ends,
                                const onyx_tensor *axes, const onyx_tensor *steps,
                                onyx_slice_plan *p) {
  bool old = n->opset < 10;
  int_list ls, le, la, lt = {0};
  if (!list_from(n, old ? NULL : starts, old ? "starts" : NULL, &ls) ||
      !list_from(n, old ? NULL : ends, old ? "ends" : NULL, &le))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "starts and ends are required");
  bool has_axes = list_from(n, old ? NULL : axes, old ? "axes" : NULL, &la);
  bool has_steps = !old && list_from(n, steps, NULL, &lt);
  if (ls.n != le.n || (has_axes && la.n != ls.n) || (has_steps && lt.n != ls.n))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "starts, ends, axes and steps differ in length (%d, %d, %d, %d)", ls.n, le.n,
                           has_axes ? la.n : ls.n, has_steps ? lt.n : ls.n);
  if (ls.n > rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%d slice axes for an input of rank %d", ls.n, rank);
  bool seen[ONYX_MAX_RANK] = {false};
  for (int d = 0; d < rank; d++) {
    p->start[d] = 0;
    p->step[d] = 1;
    p->count[d] = dims[d];
  }
  for (int i = 0; i < ls.n; i++) {
    int64_t a = has_axes ? list_get(&la, i) : i;
    if (a < -rank || a >= rank)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "slice axis %lld is out of range for rank %d",
                             (long long)a, rank);
    int d = (int)(a < 0 ? a + rank : a);
    if (seen[d]) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "slice axis %d is given twice", d);
    seen[d] = true;
    int64_t step = has_steps ? list_get(&lt, i) : 1;
    if (step == 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "slice step is 0 on axis %d", d);
    p->step[d] = step;
    int64_t dim = dims[d];
    if (dim < 0) {
      p->count[d] = ONYX_DIM_UNKNOWN;
      continue;
    }
    int64_t s = list_get(&ls, i), e = list_get(&le, i);
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t cnt;
    if (step > 0) {
      s = clamp64(s, 0, dim);
      e = clamp64(e, 0, dim);
      cnt = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = clamp64(s, 0, dim - 1);
      e = clamp64(e, -1, dim - 1);
      cnt = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    p->start[d] = cnt ? s : 0;
    p->count[d] = cnt;
  }
  return NULL;
}

onyx_status *onyx_pad_resolve(const onyx_node *n, int rank, const onyx_tensor *pads,
                              const onyx_tensor *axes, int64_t out[2 * ONYX_MAX_RANK]) {
  int_list lp;
  bool old = n->opset < 11;
  if (!list_from(n, old ? NULL : pads, old ? "pads" : NULL, &lp) &&
      !(old && list_from(n, NULL, "paddings", &lp)))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "pads are required");
  memset(out, 0, 2 * (size_t)rank * sizeof *out);
  int k = rank;
  int64_t ax[ONYX_MAX_RANK];
  if (!old && axes && n->opset >= 18) {
    int cnt;
    ONYX_TRY(onyx_read_axes(n, axes, &cnt, ax));
    bool mask[ONYX_MAX_RANK];
    ONYX_TRY(onyx_axes_mask(n, cnt, ax, rank, mask));
    for (int i = 0; i < cnt; i++) ax[i] = ax[i] < 0 ? ax[i] + rank : ax[i];
    k = cnt;
  } else {
    for (int i = 0; i < rank; i++) ax[i] = i;
  }
  if (lp.n != 2 * k)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "pads has %d values, expected %d", lp.n, 2 * k);
  for (int i = 0; i < k; i++) {
    out[ax[i]] = list_get(&lp, i);
    out[rank + ax[i]] = list_get(&lp, k + i);
  }
  return NULL;
}

onyx_status *onyx_split_sizes(const onyx_node *n, int64_t dim, const onyx_tensor *split,
                              int n_out, int64_t *sizes) {
  int_list ls;
  bool old = n->opset < 13;
  if (list_from(n, old ? NULL : split, old ? "split" : NULL, &ls) && ls.n > 0) {
    if (ls.n != n_out)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "split has %d values for %d outputs", ls.n, n_out);
    int64_t sum = 0;
    for (int i = 0; i < n_out; i++) {
      sizes[i] = list_get(&ls, i);
      if (sizes[i] < 0)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "split size %lld is negative", (long long)sizes[i]);
      sum = sum > INT64_MAX - sizes[i] ? INT64_MAX : sum + sizes[i];   /* hostile sizes saturate */
    }
    if (dim >= 0 && sum != dim)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "split sizes add up to %lld, but the axis has %lld",
                             (long long)sum, (long long)dim);
    return NULL;
  }
  int64_t parts = n->opset >= 18 ? onyx_attr_int(n, "num_outputs", n_out) : n_out;
  if (parts != n_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "num_outputs is %lld but the node has %d outputs",
                           (long long)parts, n_out);
  if (dim < 0) {
    for (int i = 0; i < n_out; i++) sizes[i] = ONYX_DIM_UNKNOWN;
    return NULL;
  }
  int64_t chunk = (dim + n_out - 1) / n_out;
  if (n->opset < 18 && dim % n_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "axis of size %lld cannot be split into %d equal parts",
                           (long long)dim, n_out);
  for (int i = 0; i < n_out; i++) {
    int64_t left = dim - chunk * i;
    sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
  }
  return NULL;
}

static bool str_is(const char *a, const char *b) { return !strcmp(a, b); }

onyx_status *onyx_resize_attrs(const onyx_node *n, onyx_resize_plan *p) {
  bool modern = !strcmp(n->op_type, "Resize") && n->opset >= 11;
  const char *mode = onyx_attr_string(n, "mode", "nearest");
  if (str_is(mode, "nearest")) p->mode = ONYX_RESIZE_NEAREST;
  else if (str_is(mode, "linear") || str_is(mode, "bilinear")) p->mode = ONYX_RESIZE_LINEAR;
  else if (modern && str_is(mode, "cubic")) p->mode = ONYX_RESIZE_CUBIC;
  else return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "mode '%s' is not supported", mode);
  p->cubic_a = onyx_attr_float(n, "cubic_coeff_a", -0.75f);
  p->extrapolation = onyx_attr_float(n, "extrapolation_value", 0.0f);
  p->exclude_outside = modern && onyx_attr_int(n, "exclude_outside", 0) != 0;
  p->antialias = modern && n->opset >= 18 && onyx_attr_int(n, "antialias", 0) != 0;
  if (!modern) {
    p->coord = ONYX_COORD_ASYMMETRIC;
    p->nearest = ONYX_NEAREST_SIMPLE;
    return NULL;
  }
  const char *cm = onyx_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  static const struct { const char *name; onyx_resize_coord c; int since; } coords[] = {
      {"half_pixel", ONYX_COORD_HALF_PIXEL, 11},
      {"half_pixel_symmetric", ONYX_COORD_HALF_PIXEL_SYMMETRIC, 19},
      {"pytorch_half_pixel", ONYX_COORD_PYTORCH_HALF_PIXEL, 11},
      {"align_corners", ONYX_COORD_ALIGN_CORNERS, 11},
      {"asymmetric", ONYX_COORD_ASYMMETRIC, 11},
      {"tf_half_pixel_for_nn", ONYX_COORD_TF_HALF_PIXEL_FOR_NN, 11},
      {"tf_crop_and_resize", ONYX_COORD_TF_CROP_AND_RESIZE, 11},
  };
  size_t i = 0;
  while (i < sizeof coords / sizeof coords[0] && !str_is(coords[i].name, cm)) i++;
  if (i == sizeof coords / sizeof coords[0] || n->opset < coords[i].since)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "coordinate_transformation_mode '%s' is not supported", cm);
  p->coord = coords[i].c;
  const char *nm = onyx_attr_string(n, "nearest_mode", "round_prefer_floor");
  if (str_is(nm, "round_prefer_floor")) p->nearest = ONYX_NEAREST_ROUND_PREFER_FLOOR;
  else if (str_is(nm, "round_prefer_ceil")) p->nearest = ONYX_NEAREST_ROUND_PREFER_CEIL;
  else if (str_is(nm, "floor")) p->nearest = ONYX_NEAREST_FLOOR;
  else if (str_is(nm, "ceil")) p->nearest = ONYX_NEAREST_CEIL;
  else return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "nearest_mode '%s' is not supported", nm);
  return NULL;
}

static onyx_status *check_len(const onyx_node *n, const char *what, int64_t got, int64_t want) {
  if (got != want)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s has %lld values, expected %lld", what,
                           (long long)got, (long long)want);
  return NULL;
}

onyx_status *onyx_resize_resolve(const onyx_node *n, int rank, const int64_t *dims,
                                 const onyx_tensor *roi, const onyx_tensor *scales,
                                 const onyx_tensor *sizes, onyx_resize_plan *p) {
  ONYX_TRY(onyx_resize_attrs(n, p));
  int k = rank, ax[ONYX_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    ax[d] = d;
    p->scale[d] = 1.0;
    p->out_dims[d] = dims[d];
    p->roi_start[d] = 0.0;
    p->roi_end[d] = 1.0;
  }
  bool upsample7 = !strcmp(n->op_type, "Upsample") && n->opset < 9;
  if (!strcmp(n->op_type, "Resize") && n->opset >= 18) {
    int cnt;
    int64_t axes[ONYX_MAX_RANK];
    ONYX_TRY(onyx_read_axes(n, NULL, &cnt, axes));
    if (cnt >= 0) {
      bool mask[ONYX_MAX_RANK];
      ONYX_TRY(onyx_axes_mask(n, cnt, axes, rank, mask));
      for (int i = 0; i < cnt; i++) ax[i] = (int)(axes[i] < 0 ? axes[i] + rank : axes[i]);
      k = cnt;
    }
  }
  if (!onyx_tensor_absent(roi) && p->coord == ONYX_COORD_TF_CROP_AND_RESIZE) {
    ONYX_TRY(check_len(n, "roi", onyx_numel(roi->rank, roi->dims), 2 * k));
    for (int i = 0; i < k; i++) {
      p->roi_start[ax[i]] = onyx_tensor_get_f64(roi, i);
      p->roi_end[ax[i]] = onyx_tensor_get_f64(roi, k + i);
    }
  }
  if (!onyx_tensor_absent(sizes)) {
    if (!onyx_tensor_absent(scales))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "only one of scales and sizes may be given");
    ONYX_TRY(check_len(n, "sizes", onyx_numel(sizes->rank, sizes->dims), k));
    const char *policy = n->opset >= 18 ? onyx_attr_string(n, "keep_aspect_ratio_policy", "stretch") : "stretch";
    bool larger = str_is(policy, "not_smaller");
    if (!str_is(policy, "stretch") && !larger && !str_is(policy, "not_larger"))
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "keep_aspect_ratio_policy '%s' is not supported", policy);
    double uniform = larger ? 0.0 : INFINITY;
    for (int i = 0; i < k; i++) {
      int d = ax[i];
      int64_t sz = onyx_tensor_get_i64(sizes, i);
      if (sz < 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "sizes[%d] is negative", i);
      if (dims[d] < 0) {
        p->out_dims[d] = str_is(policy, "stretch") ? sz : ONYX_DIM_UNKNOWN;
        uniform = NAN;
        continue;
      }
      p->out_dims[d] = sz;
      p->scale[d] = dims[d] ? (double)sz / (double)dims[d] : 1.0;
      if (larger ? p->scale[d] > uniform : p->scale[d] < uniform) uniform = p->scale[d];
    }
    if (!str_is(policy, "stretch"))
      for (int i = 0; i < k; i++) {
        int d = ax[i];
        if (isnan(uniform)) {
          p->out_dims[d] = ONYX_DIM_UNKNOWN;
          continue;
        }
        p->scale[d] = uniform;
        p->out_dims[d] = (int64_t)(uniform * (double)dims[d] + 0.5);
      }
    return NULL;
  }
  int cnt = 0;
  const float *fs = NULL;
  if (upsample7) {
    if (!onyx_attr_floats(n, "scales", &cnt, &fs))
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute scales is required");
  } else if (onyx_tensor_absent(scales)) {
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "one of scales and sizes must be given");
  } else {
    cnt = (int)onyx_numel(scales->rank, scales->dims);
  }
  ONYX_TRY(check_len(n, "scales", cnt, k));
  for (int i = 0; i < k; i++) {
    int d = ax[i];
    double s = fs ? fs[i] : onyx_tensor_get_f64(scales, i);
    if (!(s > 0)) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "scales[%d] is %g, expected > 0", i, s);
    p->scale[d] = s;
    if (dims[d] >= 0) p->out_dims[d] = (int64_t)floor((double)dims[d] * s);
    else if (s != 1.0) p->out_dims[d] = ONYX_DIM_UNKNOWN;
  }
  return NULL;
}

onyx_status *onyx_transpose_perm(const onyx_node *n, int rank, int *perm) {
  int k;
  const int64_t *v;
  if (!onyx_attr_ints(n, "perm", &k, &v)) {
    for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    return NULL;
  }
  if (k != rank)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "perm has %d values for an input of rank %d", k, rank);
  bool seen[ONYX_MAX_RANK] = {false};
  for (int i = 0; i < k; i++) {
    int64_t p = v[i] < 0 ? v[i] + rank : v[i];
    if (p < 0 || p >= rank || seen[p])
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "perm is not a permutation of 0..%d", rank - 1);
    seen[p] = true;
    perm[i] = (int)p;
  }
  return NULL;
}
