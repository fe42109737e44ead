/* infer_signal.c — shape/type inference for the signal family
 * (defs/signal.def: DFT, STFT, Hann/Hamming/BlackmanWindow, MelWeightMatrix)
 * and the geometry helpers of signal_ops.h that the cpu kernels share. Output
 * lengths of these ops come from scalar inputs (sizes, dft_length,
 * frame_step), so at load time they are known only when those inputs are
 * constants; otherwise the dims stay unknown until run time. */
#include "signal_ops.h"

onyx_status *onyx_signal_scalar(const onyx_node *n, const onyx_tensor *t, const char *what, int64_t min,
                                int64_t *out) {
  *out = -1;
  if (!t) return NULL;
  if (t->kind != ONYX_KIND_TENSOR || onyx_numel(t->rank, t->dims) != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s must be a scalar", what);
  int64_t v = onyx_tensor_get_i64(t, 0);
  if (v < min)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s is %lld, expected at least %lld", what,
                           (long long)v, (long long)min);
  *out = v;
  return NULL;
}

static bool has_input(const onyx_node *n, int i) { return n->n_in > i && n->in[i] >= 0; }

onyx_status *onyx_dft_geometry(const onyx_node *n, int rank, const int64_t *dims,
                               const onyx_tensor *dft_length, const onyx_tensor *axis,
                               bool *known_axis, onyx_dft_geom *g) {
  *g = (onyx_dft_geom){.n_fft = -1, .n_out = -1};
  g->inverse = onyx_attr_int(n, "inverse", 0) != 0;
  g->onesided = onyx_attr_int(n, "onesided", 0) != 0;
  if (rank < 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "input has rank %d, expected [batch, signal dims..., 1 or 2]", rank);
  int64_t last = dims[rank - 1];
  if (last >= 0 && last != 1 && last != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "input's last dim is %lld, expected 1 (real) or 2 (complex)", (long long)last);
  g->complex_in = last == 2;
  if (g->onesided && g->complex_in)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "onesided output is not possible for complex input");
  int64_t a = 1;
  *known_axis = true;
  if (n->opset >= 20) {
    a = -2;
    if (has_input(n, 2)) {
      if (!axis) *known_axis = false;
      else ONYX_TRY(onyx_signal_scalar(n, axis, "axis", INT64_MIN, &a));
    }
  } else {
    a = onyx_attr_int(n, "axis", 1);
  }
  if (*known_axis) {
    if (a < 0) a += rank;
    if (a < 0 || a > rank - 2)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                             "axis %lld is out of range for rank %d (the last dim holds real and imaginary parts)",
                             (long long)a, rank);
    g->axis = (int)a;
  }
  if (has_input(n, 1)) ONYX_TRY(onyx_signal_scalar(n, dft_length, "dft_length", 1, &g->n_fft));
  else if (*known_axis && dims[g->axis] >= 0) g->n_fft = dims[g->axis];
  if (g->n_fft == 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "the signal axis is empty");
  if (g->n_fft > 0) g->n_out = g->onesided ? g->n_fft / 2 + 1 : g->n_fft;
  return NULL;
}

onyx_status *onyx_stft_geometry(const onyx_node *n, const int64_t *signal_dims,
                                const onyx_tensor *frame_step, int64_t window_len,
                                const onyx_tensor *frame_length, onyx_stft_geom *g) {
  *g = (onyx_stft_geom){.frame_length = -1, .frame_step = -1, .frames = -1, .bins = -1};
  g->onesided = onyx_attr_int(n, "onesided", 1) != 0;
  int64_t last = signal_dims[2];
  if (last >= 0 && last != 1 && last != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "signal's last dim is %lld, expected 1 (real) or 2 (complex)", (long long)last);
  g->complex_in = last == 2;
  if (g->onesided && g->complex_in)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "onesided output is not possible for complex input");
  bool has_window = has_input(n, 2), has_fl = has_input(n, 3);
  if (!has_window && !has_fl)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "needs a window or a frame_length");
  ONYX_TRY(onyx_signal_scalar(n, frame_step, "frame_step", 1, &g->frame_step));
  if (has_fl) ONYX_TRY(onyx_signal_scalar(n, frame_length, "frame_length", 1, &g->frame_length));
  else g->frame_length = window_len;
  if (has_window && has_fl && window_len >= 0 && g->frame_length >= 0 && window_len != g->frame_length)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "window has %lld values, frame_length is %lld",
                           (long long)window_len, (long long)g->frame_length);
  if (g->frame_length == 0)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "the window is empty");
  int64_t len = signal_dims[1];
  if (len >= 0 && g->frame_length >= 0) {
    if (len < g->frame_length)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "signal has %lld samples, a frame needs %lld",
                             (long long)len, (long long)g->frame_length);
    if (g->frame_step > 0) g->frames = (len - g->frame_length) / g->frame_step + 1;
  }
  if (g->frame_length > 0) g->bins = g->onesided ? g->frame_length / 2 + 1 : g->frame_length;
  return NULL;
}

onyx_dtype onyx_signal_out_dtype(const onyx_node *n) {
  return (onyx_dtype)onyx_attr_int(n, "output_datatype", ONYX_DTYPE_FLOAT);
}

/* ---- infer functions -------------------------------------------------------- */

static void set_out(onyx_vinfo *o, onyx_dtype dt, int rank, const int64_t *dims) {
  o->kind = ONYX_KIND_TENSOR;
  o->dtype = dt;
  o->rank = rank;
  for (int i = 0; i < rank; i++) o->dims[i] = dims[i];   /* -1 is ONYX_DIM_UNKNOWN */
}

onyx_status *onyx_infer_dft(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = x->dtype;
  if (x->rank < 0) return NULL;
  onyx_dft_geom g;
  bool known_axis;
  const onyx_tensor *axis = c->node->n_in > 2 ? c->in[2].value : NULL;
  ONYX_TRY(onyx_dft_geometry(c->node, x->rank, x->dims, c->node->n_in > 1 ? c->in[1].value : NULL, axis,
                             &known_axis, &g));
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = known_axis ? x->dims[d] : -1;
  if (known_axis) dims[g.axis] = g.n_out;
  dims[x->rank - 1] = 2;
  set_out(&c->out[0], x->dtype, x->rank, dims);
  return NULL;
}

onyx_status *onyx_infer_stft(onyx_infer_ctx *c) {
  const onyx_vinfo *x = &c->in[0];
  c->out[0].dtype = x->dtype;
  if (x->rank >= 0 && x->rank != 3)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                           "signal has rank %d, expected 3 ([batch, length, 1 or 2])", x->rank);
  const onyx_vinfo *w = c->node->n_in > 2 ? &c->in[2] : NULL;
  if (w && w->rank >= 0 && w->rank != 1)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "window has rank %d, expected 1", w->rank);
  if (x->rank < 0) return NULL;
  int64_t window_len = w && w->rank == 1 && w->dims[0] >= 0 ? w->dims[0] : -1;
  onyx_stft_geom g;
  ONYX_TRY(onyx_stft_geometry(c->node, x->dims, c->in[1].value, window_len,
                              c->node->n_in > 3 ? c->in[3].value : NULL, &g));
  int64_t dims[4] = {x->dims[0], g.frames, g.bins, 2};
  set_out(&c->out[0], x->dtype, 4, dims);
  return NULL;
}

onyx_status *onyx_infer_window(onyx_infer_ctx *c) {
  int64_t size;
  ONYX_TRY(onyx_signal_scalar(c->node, c->in[0].value, "size", 0, &size));
  set_out(&c->out[0], onyx_signal_out_dtype(c->node), 1, &size);
  return NULL;
}

onyx_status *onyx_infer_mel_weight_matrix(onyx_infer_ctx *c) {
  int64_t mel, dft;
  ONYX_TRY(onyx_signal_scalar(c->node, c->in[0].value, "num_mel_bins", 1, &mel));
  ONYX_TRY(onyx_signal_scalar(c->node, c->in[1].value, "dft_length", 1, &dft));
  int64_t dims[2] = {dft >= 0 ? dft / 2 + 1 : -1, mel};
  set_out(&c->out[0], onyx_signal_out_dtype(c->node), 2, dims);
  return NULL;
}
