/* control.c — cpu kernels of the control family: If, Loop, Scan (both the
 * batched opset-8 form and the opset-9 one) and SequenceMap run their bodies
 * through the executor's service (onyx_kernel_run_subgraph: the body sees
 * the running graph's values by name); sequence and optional ops build and
 * take apart ONYX_KIND_SEQUENCE / ONYX_KIND_OPTIONAL values. */
#include <string.h>

#include "cpu.h"

/* ---- helpers --------------------------------------------------------------- */

static onyx_status *scalar_bool(const onyx_node *n, const onyx_tensor *t, const char *what, bool *out) {
  if (!t || t->kind != ONYX_KIND_TENSOR || onyx_numel(t->rank, t->dims) != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s must be a tensor of one element", what);
  *out = onyx_tensor_get_f64(t, 0) != 0;
  return NULL;
}

static onyx_status *new_scalar(onyx_dtype dt, onyx_tensor **out) {
  return onyx_tensor_create(dt, 0, NULL, out);
}

/* Stacks `n` same-shaped tensors along a new axis `axis` (0..rank), in
 * reverse order when `reverse`. With n == 0 the result has shape [0] at the
 * new axis and the dtype given. */
static onyx_status *stack(const onyx_node *nd, onyx_tensor **items, int n, int axis, bool reverse,
                          onyx_dtype dtype, onyx_tensor **out) {
  if (n == 0) {
    int64_t zero = 0;
    return onyx_tensor_create(dtype, 1, &zero, out);
  }
  const onyx_tensor *t0 = items[0];
  if (t0->kind != ONYX_KIND_TENSOR || t0->dtype == ONYX_DTYPE_STRING)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "stacking %s values",
                           t0->kind != ONYX_KIND_TENSOR ? "non-tensor" : "string");
  if (axis < 0 || axis > t0->rank || t0->rank + 1 > ONYX_MAX_RANK)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "axis %d out of range for rank %d", axis, t0->rank);
  for (int i = 1; i < n; i++)
    if (items[i]->dtype != t0->dtype || items[i]->rank != t0->rank ||
        memcmp(items[i]->dims, t0->dims, (size_t)t0->rank * sizeof t0->dims[0]))
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "iteration %d produced a different shape or dtype", i);
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0, k = 0; d <= t0->rank; d++) dims[d] = d == axis ? n : t0->dims[k++];
  ONYX_TRY(onyx_tensor_create(t0->dtype, t0->rank + 1, dims, out));
  size_t es = onyx_dtype_size(t0->dtype);
  int64_t outer = onyx_numel(axis, t0->dims);
  size_t inner = (size_t)onyx_numel(t0->rank - axis, t0->dims + axis) * es;
  char *dst = (*out)->data;
  for (int64_t o = 0; o < outer; o++)
    for (int i = 0; i < n; i++) {
      const onyx_tensor *src = items[reverse ? n - 1 - i : i];
      memcpy(dst, (const char *)src->data + (size_t)o * inner, inner);
      dst += inner;
    }
  return NULL;
}

/* Copies slice `pos` along `axis` of t into a new tensor without that axis. */
static onyx_status *take_slice(const onyx_tensor *t, int axis, int64_t pos, onyx_tensor **out) {
  int64_t dims[ONYX_MAX_RANK];
  for (int d = 0, k = 0; d < t->rank; d++)
    if (d != axis) dims[k++] = t->dims[d];
  ONYX_TRY(onyx_tensor_create(t->dtype, t->rank - 1, dims, out));
  size_t es = onyx_dtype_size(t->dtype);
  int64_t outer = onyx_numel(axis, t->dims);
  size_t inner = (size_t)onyx_numel(t->rank - axis - 1, t->dims + axis + 1) * es;
  for (int64_t o = 0; o < outer; o++)
    memcpy((char *)(*out)->data + (size_t)o * inner,
           (const char *)t->data + ((size_t)o * (size_t)t->dims[axis] + (size_t)pos) * inner, inner);
  return NULL;
}

static void free_all(onyx_tensor **t, int n) {
  for (int i = 0; t && i < n; i++) {
    onyx_tensor_free(t[i]);
    t[i] = NULL;
  }
}

/* A growable list of tensors (scan outputs collected per iteration). */
typedef struct tlist {
  int n, cap;
  onyx_tensor **items;
} tlist;

static onyx_status *tlist_push(tlist *l, onyx_tensor *t) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    onyx_tensor **p = onyx_realloc(l->items, (size_t)cap * sizeof *p);
    if (!p) return onyx_error_oom();
    l->items = p;
    l->cap = cap;
  }
  l->items[l->n++] = t;
  return NULL;
}

static void tlist_free(tlist *l) {
  free_all(l->items, l->n);
  onyx_free(l->items);
}

/* Hands result r to output slot o (which may be absent). */
static void give(onyx_kernel_ctx *c, int o, onyx_tensor *r) {
  if (o < c->n_out && c->out[o]) onyx_tensor_move(c->out[o], r);
  else onyx_tensor_free(r);
}

/* ---- If ---------------------------------------------------------------------- */

static onyx_status *if_run(onyx_kernel_ctx *c) {
  bool cond = false;
  ONYX_TRY(scalar_bool(c->node, c->in[0], "cond", &cond));
  const char *branch = cond ? "then_branch" : "else_branch";
  const onyx_attr *battr = onyx_node_attr(c->node, branch);
  if (!battr || !battr->g) return onyx_node_error(c->node, ONYX_ERR_INVALID_MODEL, "branch graph missing");
  onyx_tensor **res = onyx_calloc((size_t)c->n_out + 1, sizeof *res);
  if (!res) return onyx_error_oom();
  onyx_status *s = onyx_kernel_run_subgraph(c, branch, NULL, res);
  if (!s)
    for (int i = 0; i < c->n_out; i++) give(c, i, res[i]);
  onyx_free(res);
  return s;
}

/* ---- Loop -------------------------------------------------------------------- */

static onyx_status *loop_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_attr *battr = onyx_node_attr(n, "body");
  if (!battr || !battr->g) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "body graph missing");
  const onyx_graph *bg = battr->g;
  int n_carried = c->n_in - 2, n_scan = bg->n_outputs - 1 - n_carried;
  int64_t max_trip = INT64_MAX;
  bool cond = true;
  if (c->in[0]) max_trip = onyx_tensor_get_i64(c->in[0], 0);
  if (c->in[1]) ONYX_TRY(scalar_bool(n, c->in[1], "cond", &cond));

  onyx_status *s = NULL;
  onyx_tensor *iter = NULL, *cond_t = NULL;
  onyx_tensor **feed = onyx_calloc((size_t)n_carried + 3, sizeof *feed);
  onyx_tensor **carried = onyx_calloc((size_t)n_carried + 1, sizeof *carried); /* owned */
  onyx_tensor **res = onyx_calloc((size_t)bg->n_outputs + 1, sizeof *res);
  tlist *scans = onyx_calloc((size_t)n_scan + 1, sizeof *scans);
  if (!feed || !carried || !res || !scans) {
    s = onyx_error_oom();
    goto done;
  }
  if ((s = new_scalar(ONYX_DTYPE_INT64, &iter)) || (s = new_scalar(ONYX_DTYPE_BOOL, &cond_t))) goto done;
  for (int i = 0; i < n_carried; i++)
    if (c->in[2 + i] && (s = onyx_tensor_clone(c->in[2 + i], &carried[i]))) goto done;
  for (int64_t it = 0; it < max_trip && cond; it++) {
    *(int64_t *)iter->data = it;
    *(uint8_t *)cond_t->data = 1;
    feed[0] = iter;
    feed[1] = cond_t;
    for (int i = 0; i < n_carried; i++) feed[2 + i] = carried[i];
    if ((s = onyx_kernel_run_subgraph(c, "body", feed, res))) goto done;
    s = scalar_bool(n, res[0], "body's cond output", &cond);
    onyx_tensor_free(res[0]);
    res[0] = NULL;
    if (s) goto done;
    for (int i = 0; i < n_carried; i++) {
      onyx_tensor_free(carried[i]);
      carried[i] = res[1 + i];
      res[1 + i] = NULL;
    }
    for (int k = 0; k < n_scan; k++) {
      if ((s = tlist_push(&scans[k], res[1 + n_carried + k]))) goto done;
      res[1 + n_carried + k] = NULL;
    }
  }
  for (int i = 0; i < n_carried; i++) {
    give(c, i, carried[i]);
    carried[i] = NULL;
  }
  for (int k = 0; k < n_scan; k++) {
    onyx_tensor *st;
    onyx_dtype dt = bg->values[bg->outputs[1 + n_carried + k]].dtype;
    if ((s = stack(n, scans[k].items, scans[k].n, 0, false, dt, &st))) goto done;
    give(c, n_carried + k, st);
  }
done:
  onyx_tensor_free(iter);
  onyx_tensor_free(cond_t);
  free_all(carried, n_carried);
  free_all(res, bg->n_outputs);
  for (int k = 0; scans && k < n_scan; k++) tlist_free(&scans[k]);
  onyx_free(scans);
  onyx_free(feed);
  onyx_free(carried);
  onyx_free(res);
  return s;
}

/* ---- Scan ---------------------------------------------------------------------------- */

static int64_t attr_at(const onyx_node *n, const char *name, int i, int64_t def) {
  int cnt;
  const int64_t *v;
  return onyx_attr_ints(n, name, &cnt, &v) && i < cnt ? v[i] : def;
}

/* Copies block `pos` of t, seen as numel(lead dims) blocks of its remaining
 * dims, into a new tensor of those remaining dims. */
static onyx_status *take_block(const onyx_node *n, const onyx_tensor *t, int lead, int64_t pos, onyx_tensor **out) {
  if (t->dtype == ONYX_DTYPE_STRING) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "string tensors");
  ONYX_TRY(onyx_tensor_create(t->dtype, t->rank - lead, t->dims + lead, out));
  size_t bytes = (*out)->nbytes;
  if (bytes) memcpy((*out)->data, (const char *)t->data + (size_t)pos * bytes, bytes);
  return NULL;
}

/* Copies `item` into block `pos` of *dst, which has dims lead[0..n_lead)
 * followed by item's dims; *dst is made (zero-filled) on the first call.
 * Every item must have the first one's dtype and shape. */
static onyx_status *put_block(const onyx_node *n, onyx_tensor **dst, int n_lead, const int64_t *lead, int64_t pos,
                              const onyx_tensor *item) {
  if (item->kind != ONYX_KIND_TENSOR || item->dtype == ONYX_DTYPE_STRING)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "scan outputs that are not numeric tensors");
  if (!*dst) {
    if (item->rank + n_lead > ONYX_MAX_RANK)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "an output of rank %d", item->rank + n_lead);
    int64_t dims[ONYX_MAX_RANK];
    memcpy(dims, lead, (size_t)n_lead * sizeof *dims);
    memcpy(dims + n_lead, item->dims, (size_t)item->rank * sizeof *dims);
    ONYX_TRY(onyx_tensor_create(item->dtype, item->rank + n_lead, dims, dst));
  }
  const onyx_tensor *d = *dst;
  if (d->dtype != item->dtype || d->rank != item->rank + n_lead ||
      memcmp(d->dims + n_lead, item->dims, (size_t)item->rank * sizeof *item->dims))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "iterations produced values of different shapes or dtypes");
  size_t bytes = onyx_dtype_bytes(item->dtype, onyx_numel(item->rank, item->dims));
  if (bytes) memcpy((char *)d->data + (size_t)pos * bytes, item->data, bytes);
  return NULL;
}

/* A scan output that no iteration produced: sized from the body's declared
 * shape, which must then be fully known. */
static onyx_status *empty_scan_output(const onyx_node *n, const onyx_value *v, int n_lead, const int64_t *lead,
                                      onyx_tensor **out) {
  if (v->rank < 0 || v->rank + n_lead > ONYX_MAX_RANK || v->dtype == ONYX_DTYPE_UNDEFINED)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "sizing scan output '%s' with no iterations", v->name);
  int64_t dims[ONYX_MAX_RANK];
  memcpy(dims, lead, (size_t)n_lead * sizeof *dims);
  for (int d = 0; d < v->rank; d++) {
    if (v->dims[d] < 0)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "sizing scan output '%s' with no iterations", v->name);
    dims[n_lead + d] = v->dims[d];
  }
  return onyx_tensor_create(v->dtype, v->rank + n_lead, dims, out);
}

/* Scan before opset 9: input 0 is the optional sequence_lens, then the
 * states and the scan inputs, all with a leading batch dim; scan inputs are
 * [batch, sequence, ...] and scanned along the sequence dim (backwards for
 * `directions` 1), only over the first sequence_lens[b] steps of batch b.
 * Scan outputs are [batch, sequence, ...] with zeros past a batch's length. */
static onyx_status *scan_batched_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_attr *battr = onyx_node_attr(n, "body");
  if (!battr || !battr->g) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "body graph missing");
  const onyx_graph *bg = battr->g;
  int n_scan_in = (int)onyx_attr_int(n, "num_scan_inputs", 0);
  int n_state = c->n_in - 1 - n_scan_in, n_scan_out = c->n_out - n_state;
  if (n_scan_in <= 0 || n_state < 0 || n_scan_out < 0 || bg->n_inputs != c->n_in - 1 || bg->n_outputs != c->n_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "inputs/outputs do not match num_scan_inputs and the body");
  int64_t batch = -1, seq_len = -1;
  for (int j = 0; j < n_scan_in; j++) {
    const onyx_tensor *t = c->in[1 + n_state + j];
    if (!t || t->kind != ONYX_KIND_TENSOR || t->rank < 2)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "scan input %d must be a tensor [batch, sequence, ...]", j);
    if ((batch >= 0 && t->dims[0] != batch) || (seq_len >= 0 && t->dims[1] != seq_len))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "scan inputs have different batch or sequence sizes");
    batch = t->dims[0];
    seq_len = t->dims[1];
  }
  for (int i = 0; i < n_state; i++)
    if (!c->in[1 + i] || c->in[1 + i]->kind != ONYX_KIND_TENSOR || c->in[1 + i]->rank < 1 ||
        c->in[1 + i]->dims[0] != batch)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "state %d must be a tensor with the batch dim first", i);
  const onyx_tensor *lens = c->in[0];
  if (lens && onyx_numel(lens->rank, lens->dims) != batch)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "sequence_lens has %lld values for a batch of %lld",
                           (long long)onyx_numel(lens->rank, lens->dims), (long long)batch);
  onyx_status *s = NULL;
  onyx_tensor **feed = onyx_calloc((size_t)n_state + (size_t)n_scan_in + 1, sizeof *feed);
  onyx_tensor **state = onyx_calloc((size_t)n_state + 1, sizeof *state);
  onyx_tensor **res = onyx_calloc((size_t)c->n_out + 1, sizeof *res);
  onyx_tensor **outs = onyx_calloc((size_t)c->n_out + 1, sizeof *outs);   /* stacked results */
  if (!feed || !state || !res || !outs) {
    s = onyx_error_oom();
    goto done;
  }
  int64_t lead[2] = {batch, seq_len};
  for (int64_t b = 0; b < batch; b++) {
    int64_t len = lens ? onyx_tensor_get_i64(lens, b) : seq_len;
    if (len < 0 || len > seq_len) {
      s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                          (long long)b, (long long)len, (long long)seq_len);
      goto done;
    }
    for (int i = 0; i < n_state; i++) {
      onyx_tensor_free(state[i]);
      state[i] = NULL;
      if ((s = take_block(n, c->in[1 + i], 1, b, &state[i]))) goto done;
    }
    for (int64_t t = 0; t < len; t++) {
      for (int j = 0; j < n_scan_in; j++) {
        int64_t pos = attr_at(n, "directions", j, 0) ? len - 1 - t : t;
        onyx_tensor_free(feed[n_state + j]);
        feed[n_state + j] = NULL;
        if ((s = take_block(n, c->in[1 + n_state + j], 2, b * seq_len + pos, &feed[n_state + j]))) goto done;
      }
      for (int i = 0; i < n_state; i++) feed[i] = state[i];
      if ((s = onyx_kernel_run_subgraph(c, "body", feed, res))) goto done;
      for (int i = 0; i < n_state; i++) {
        onyx_tensor_free(state[i]);
        state[i] = res[i];
        res[i] = NULL;
      }
      for (int k = n_state; k < c->n_out; k++) {
        s = put_block(n, &outs[k], 2, lead, b * seq_len + t, res[k]);
        onyx_tensor_free(res[k]);
        res[k] = NULL;
        if (s) goto done;
      }
    }
    for (int i = 0; i < n_state; i++)
      if ((s = put_block(n, &outs[i], 1, lead, b, state[i]))) goto done;
  }
  for (int k = 0; k < c->n_out; k++) {
    if (!outs[k]) {
      /* no batch, or no steps at all: states keep their (empty) input,
       * scan outputs take the body's declared shape */
      s = k < n_state ? onyx_tensor_clone(c->in[1 + k], &outs[k])
                      : empty_scan_output(n, &bg->values[bg->outputs[k]], 2, lead, &outs[k]);
      if (s) goto done;
    }
    give(c, k, outs[k]);
    outs[k] = NULL;
  }
done:
  free_all(state, n_state);
  free_all(feed + n_state, n_scan_in);
  free_all(res, c->n_out);
  free_all(outs, c->n_out);
  onyx_free(feed);
  onyx_free(state);
  onyx_free(res);
  onyx_free(outs);
  return s;
}

/* Scan from opset 9: no batch dim, per-input scan axes and directions. */
static onyx_status *scan_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  if (n->opset < 9) return scan_batched_run(c);
  const onyx_attr *battr = onyx_node_attr(n, "body");
  if (!battr || !battr->g) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "body graph missing");
  const onyx_graph *bg = battr->g;
  int n_scan_in = (int)onyx_attr_int(n, "num_scan_inputs", 0);
  int n_state = c->n_in - n_scan_in, n_scan_out = c->n_out - n_state;
  if (n_scan_in <= 0 || n_state < 0 || n_scan_out < 0 || bg->n_inputs != c->n_in || bg->n_outputs != c->n_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "inputs/outputs do not match num_scan_inputs and the body");
  int64_t seq_len = -1;
  int axes[64];
  if (n_scan_in > 64) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "more than 64 scan inputs");
  for (int j = 0; j < n_scan_in; j++) {
    const onyx_tensor *t = c->in[n_state + j];
    ONYX_TRY(onyx_norm_axis(n, attr_at(n, "scan_input_axes", j, 0), t->rank, &axes[j]));
    if (seq_len >= 0 && t->dims[axes[j]] != seq_len)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "scan inputs have different sequence lengths");
    seq_len = t->dims[axes[j]];
  }
  onyx_status *s = NULL;
  onyx_tensor **feed = onyx_calloc((size_t)c->n_in + 1, sizeof *feed);
  onyx_tensor **state = onyx_calloc((size_t)n_state + 1, sizeof *state);
  onyx_tensor **slices = onyx_calloc((size_t)n_scan_in + 1, sizeof *slices);
  onyx_tensor **res = onyx_calloc((size_t)c->n_out + 1, sizeof *res);
  tlist *outs = onyx_calloc((size_t)n_scan_out + 1, sizeof *outs);
  if (!feed || !state || !slices || !res || !outs) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < n_state; i++)
    if ((s = onyx_tensor_clone(c->in[i], &state[i]))) goto done;
  for (int64_t t = 0; t < seq_len; t++) {
    for (int j = 0; j < n_scan_in; j++) {
      int64_t pos = attr_at(n, "scan_input_directions", j, 0) ? seq_len - 1 - t : t;
      onyx_tensor_free(slices[j]);
      slices[j] = NULL;
      if ((s = take_slice(c->in[n_state + j], axes[j], pos, &slices[j]))) goto done;
    }
    for (int i = 0; i < n_state; i++) feed[i] = state[i];
    for (int j = 0; j < n_scan_in; j++) feed[n_state + j] = slices[j];
    if ((s = onyx_kernel_run_subgraph(c, "body", feed, res))) goto done;
    for (int i = 0; i < n_state; i++) {
      onyx_tensor_free(state[i]);
      state[i] = res[i];
      res[i] = NULL;
    }
    for (int k = 0; k < n_scan_out; k++) {
      if ((s = tlist_push(&outs[k], res[n_state + k]))) goto done;
      res[n_state + k] = NULL;
    }
  }
  for (int i = 0; i < n_state; i++) {
    give(c, i, state[i]);
    state[i] = NULL;
  }
  for (int k = 0; k < n_scan_out; k++) {
    onyx_tensor *st;
    int rank = outs[k].n ? outs[k].items[0]->rank + 1 : 1;
    int axis;
    if ((s = onyx_norm_axis(n, attr_at(n, "scan_output_axes", k, 0), rank, &axis))) goto done;
    bool rev = attr_at(n, "scan_output_directions", k, 0) != 0;
    onyx_dtype dt = bg->values[bg->outputs[n_state + k]].dtype;
    if ((s = stack(n, outs[k].items, outs[k].n, axis, rev, dt, &st))) goto done;
    give(c, n_state + k, st);
  }
done:
  free_all(state, n_state);
  free_all(slices, n_scan_in);
  free_all(res, c->n_out);
  for (int k = 0; outs && k < n_scan_out; k++) tlist_free(&outs[k]);
  onyx_free(outs);
  onyx_free(feed);
  onyx_free(state);
  onyx_free(slices);
  onyx_free(res);
  return s;
}

/* ---- SequenceMap -------------------------------------------------------------------- */

/* Runs the body once per element of input 0; other inputs are either
 * sequences of the same length (element i is fed) or tensors (fed whole to
 * every iteration). Output k is the sequence of the body's k-th results. */
static onyx_status *sequence_map_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_attr *battr = onyx_node_attr(n, "body");
  if (!battr || !battr->g) return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "body graph missing");
  const onyx_graph *bg = battr->g;
  if (bg->n_inputs != c->n_in || bg->n_outputs != c->n_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "body has %d inputs and %d outputs, the node %d and %d",
                           bg->n_inputs, bg->n_outputs, c->n_in, c->n_out);
  if (!c->in[0] || c->in[0]->kind != ONYX_KIND_SEQUENCE)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input 0 must be a sequence");
  int len = c->in[0]->n_elems;
  for (int j = 1; j < c->n_in; j++) {
    if (!c->in[j]) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d is missing", j);
    if (c->in[j]->kind == ONYX_KIND_SEQUENCE && c->in[j]->n_elems != len)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d has %d elements, input 0 has %d", j,
                             c->in[j]->n_elems, len);
  }
  onyx_status *s = NULL;
  onyx_tensor **feed = onyx_calloc((size_t)c->n_in + 1, sizeof *feed);
  onyx_tensor **res = onyx_calloc((size_t)c->n_out + 1, sizeof *res);
  tlist *outs = onyx_calloc((size_t)c->n_out + 1, sizeof *outs);
  if (!feed || !res || !outs) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < len; i++) {
    for (int j = 0; j < c->n_in; j++)
      feed[j] = c->in[j]->kind == ONYX_KIND_SEQUENCE ? c->in[j]->elems[i] : c->in[j];
    if ((s = onyx_kernel_run_subgraph(c, "body", feed, res))) goto done;
    for (int k = 0; k < c->n_out; k++) {
      if ((s = tlist_push(&outs[k], res[k]))) goto done;
      res[k] = NULL;
    }
  }
  for (int k = 0; k < c->n_out; k++) {
    onyx_dtype dt = outs[k].n ? outs[k].items[0]->dtype : bg->values[bg->outputs[k]].dtype;
    onyx_tensor *seq;
    if ((s = onyx_sequence_new(dt, outs[k].n, outs[k].items, &seq))) goto done;
    outs[k].n = 0;   /* the sequence owns the elements now */
    give(c, k, seq);
  }
done:
  free_all(res, c->n_out);
  for (int k = 0; outs && k < c->n_out; k++) tlist_free(&outs[k]);
  onyx_free(outs);
  onyx_free(feed);
  onyx_free(res);
  return s;
}

/* ---- sequences ------------------------------------------------------------- */

static onyx_status *check_seq(const onyx_node *n, const onyx_tensor *t) {
  if (!t || t->kind != ONYX_KIND_SEQUENCE)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input 0 must be a sequence");
  return NULL;
}

/* Builds a sequence output from clones of items (skipping index `skip`,
 * inserting `extra` at `at` when extra != NULL). */
static onyx_status *seq_output(onyx_kernel_ctx *c, onyx_dtype dt, onyx_tensor *const *items, int n, int skip,
                               const onyx_tensor *extra, int at) {
  int total = n - (skip >= 0) + (extra != NULL);
  onyx_tensor **el = onyx_calloc((size_t)total + 1, sizeof *el);
  if (!el) return onyx_error_oom();
  onyx_status *s = NULL;
  int k = 0;
  for (int i = 0; i <= n && !s; i++) {
    if (extra && i == at) s = onyx_tensor_clone(extra, &el[k++]);
    if (i < n && i != skip && !s) s = onyx_tensor_clone(items[i], &el[k++]);
  }
  onyx_tensor *seq = NULL;
  if (!s) s = onyx_sequence_new(dt, total, el, &seq);
  if (s) {
    free_all(el, total);
    onyx_free(el);
    return s;
  }
  onyx_free(el);
  give(c, 0, seq);
  return NULL;
}

static onyx_status *seq_position(const onyx_node *n, const onyx_tensor *pos, int len, bool insert, int *out) {
  int64_t p = onyx_tensor_get_i64(pos, 0);
  int64_t hi = insert ? len : len - 1;
  if (p < -len || p > hi)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "position %lld out of range for a sequence of %d",
                           (long long)p, len);
  *out = (int)(p < 0 ? p + len : p);
  return NULL;
}

static onyx_status *seq_construct_run(onyx_kernel_ctx *c) {
  return seq_output(c, c->in[0]->dtype, c->in, c->n_in, -1, NULL, 0);
}

static onyx_status *seq_empty_run(onyx_kernel_ctx *c) {
  onyx_dtype dt = (onyx_dtype)onyx_attr_int(c->node, "dtype", ONYX_DTYPE_FLOAT);
  return seq_output(c, dt, NULL, 0, -1, NULL, 0);
}

static onyx_status *seq_at_run(onyx_kernel_ctx *c) {
  ONYX_TRY(check_seq(c->node, c->in[0]));
  int p = 0;
  ONYX_TRY(seq_position(c->node, c->in[1], c->in[0]->n_elems, false, &p));
  onyx_tensor *r;
  ONYX_TRY(onyx_tensor_clone(c->in[0]->elems[p], &r));
  give(c, 0, r);
  return NULL;
}

static onyx_status *seq_insert_run(onyx_kernel_ctx *c) {
  const onyx_tensor *seq = c->in[0];
  ONYX_TRY(check_seq(c->node, seq));
  int at = seq->n_elems;
  if (c->n_in > 2 && c->in[2]) ONYX_TRY(seq_position(c->node, c->in[2], seq->n_elems, true, &at));
  return seq_output(c, seq->dtype, seq->elems, seq->n_elems, -1, c->in[1], at);
}

static onyx_status *seq_erase_run(onyx_kernel_ctx *c) {
  const onyx_tensor *seq = c->in[0];
  ONYX_TRY(check_seq(c->node, seq));
  int at = seq->n_elems - 1;
  if (c->n_in > 1 && c->in[1]) ONYX_TRY(seq_position(c->node, c->in[1], seq->n_elems, false, &at));
  if (at < 0) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "erasing from an empty sequence");
  return seq_output(c, seq->dtype, seq->elems, seq->n_elems, at, NULL, 0);
}

static onyx_status *seq_length_run(onyx_kernel_ctx *c) {
  ONYX_TRY(check_seq(c->node, c->in[0]));
  *(int64_t *)c->out[0]->data = c->in[0]->n_elems;
  return NULL;
}

static onyx_status *concat_from_seq_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *seq = c->in[0];
  ONYX_TRY(check_seq(n, seq));
  if (!seq->n_elems) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "empty sequence");
  const onyx_tensor *t0 = seq->elems[0];
  bool new_axis = onyx_attr_int(n, "new_axis", 0) != 0;
  int axis;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", 0), t0->rank + new_axis, &axis));
  onyx_tensor *r;
  if (new_axis) {
    ONYX_TRY(stack(n, seq->elems, seq->n_elems, axis, false, t0->dtype, &r));
  } else {
    if (t0->dtype == ONYX_DTYPE_STRING) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "string tensors");
    int64_t dims[ONYX_MAX_RANK];
    memcpy(dims, t0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < seq->n_elems; i++) {
      const onyx_tensor *t = seq->elems[i];
      for (int d = 0; d < t0->rank; d++)
        if (t->rank != t0->rank || t->dtype != t0->dtype || (d != axis && t->dims[d] != t0->dims[d]))
          return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "element %d does not match element 0 off the axis", i);
      dims[axis] += t->dims[axis];
    }
    ONYX_TRY(onyx_tensor_create(t0->dtype, t0->rank, dims, &r));
    size_t es = onyx_dtype_size(t0->dtype);
    int64_t outer = onyx_numel(axis, dims);
    size_t inner = (size_t)onyx_numel(t0->rank - axis - 1, dims + axis + 1) * es;
    char *dst = r->data;
    for (int64_t o = 0; o < outer; o++)
      for (int i = 0; i < seq->n_elems; i++) {
        const onyx_tensor *t = seq->elems[i];
        size_t chunk = (size_t)t->dims[axis] * inner;
        memcpy(dst, (const char *)t->data + (size_t)o * chunk, chunk);
        dst += chunk;
      }
  }
  give(c, 0, r);
  return NULL;
}

static onyx_status *split_to_seq_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  if (x->dtype == ONYX_DTYPE_STRING) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "string tensors");
  int axis;
  ONYX_TRY(onyx_norm_axis(n, onyx_attr_int(n, "axis", 0), x->rank, &axis));
  int64_t len = x->dims[axis];
  const onyx_tensor *split = c->n_in > 1 ? c->in[1] : NULL;
  bool keep = onyx_attr_int(n, "keepdims", 1) != 0 || split;
  int64_t n_parts;
  int64_t chunk = 1;
  if (!split) n_parts = len;
  else if (split->rank == 0) {
    chunk = onyx_tensor_get_i64(split, 0);
    if (chunk <= 0) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "split must be positive");
    n_parts = (len + chunk - 1) / chunk;
  } else {
    n_parts = onyx_numel(split->rank, split->dims);
    int64_t sum = 0;
    for (int64_t i = 0; i < n_parts; i++) sum += onyx_tensor_get_i64(split, i);
    if (sum != len) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "split sizes add up to %lld, axis has %lld",
                                           (long long)sum, (long long)len);
  }
  onyx_tensor **el = onyx_calloc((size_t)n_parts + 1, sizeof *el);
  if (!el) return onyx_error_oom();
  onyx_status *s = NULL;
  size_t es = onyx_dtype_size(x->dtype);
  int64_t outer = onyx_numel(axis, x->dims);
  size_t inner = (size_t)onyx_numel(x->rank - axis - 1, x->dims + axis + 1) * es;
  int64_t start = 0;
  for (int64_t p = 0; p < n_parts && !s; p++) {
    int64_t size = !split ? 1 : split->rank == 0 ? (start + chunk > len ? len - start : chunk)
                                                 : onyx_tensor_get_i64(split, p);
    int64_t dims[ONYX_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
      if (d == axis && !keep) continue;
      dims[r++] = d == axis ? size : x->dims[d];
    }
    if ((s = onyx_tensor_create(x->dtype, r, dims, &el[p]))) break;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)el[p]->data + (size_t)o * (size_t)size * inner,
             (const char *)x->data + ((size_t)o * (size_t)len + (size_t)start) * inner, (size_t)size * inner);
    start += size;
  }
  onyx_tensor *seq = NULL;
  if (!s) s = onyx_sequence_new(x->dtype, (int)n_parts, el, &seq);
  if (s) free_all(el, (int)n_parts);
  onyx_free(el);
  if (!s) give(c, 0, seq);
  return s;
}

/* ---- optionals ---------------------------------------------------------------- */

static onyx_status *optional_run(onyx_kernel_ctx *c) {
  onyx_tensor *opt = onyx_calloc(1, sizeof *opt);
  if (!opt) return onyx_error_oom();
  opt->kind = ONYX_KIND_OPTIONAL;
  opt->dtype = c->n_in && c->in[0] ? c->in[0]->dtype : ONYX_DTYPE_UNDEFINED;
  if (c->n_in && c->in[0]) {
    opt->elems = onyx_calloc(1, sizeof *opt->elems);
    onyx_status *s = opt->elems ? onyx_tensor_clone(c->in[0], &opt->elems[0]) : onyx_error_oom();
    if (s) {
      onyx_tensor_free(opt);
      return s;
    }
    opt->n_elems = 1;
  }
  give(c, 0, opt);
  return NULL;
}

static onyx_status *optional_has_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->n_in ? c->in[0] : NULL;
  *(uint8_t *)c->out[0]->data = x && (x->kind != ONYX_KIND_OPTIONAL || x->n_elems > 0);
  return NULL;
}

static onyx_status *optional_get_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  if (x->kind == ONYX_KIND_OPTIONAL) {
    if (!x->n_elems) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "the optional input is empty");
    x = x->elems[0];
  }
  onyx_tensor *r;
  ONYX_TRY(onyx_tensor_clone(x, &r));
  give(c, 0, r);
  return NULL;
}

const onyx_kernel cpu_kernels_control[] = {
    {.op = onyx_op_If, .run = if_run},
    {.op = onyx_op_Loop, .run = loop_run},
    {.op = onyx_op_Scan, .run = scan_run},
    {.op = onyx_op_SequenceMap, .run = sequence_map_run},
    {.op = onyx_op_SequenceConstruct, .run = seq_construct_run},
    {.op = onyx_op_SequenceEmpty, .run = seq_empty_run},
    {.op = onyx_op_SequenceAt, .run = seq_at_run},
    {.op = onyx_op_SequenceInsert, .run = seq_insert_run},
    {.op = onyx_op_SequenceErase, .run = seq_erase_run},
    {.op = onyx_op_SequenceLength, .run = seq_length_run},
    {.op = onyx_op_ConcatFromSequence, .run = concat_from_seq_run},
    {.op = onyx_op_SplitToSequence, .run = split_to_seq_run},
    {.op = onyx_op_Optional, .run = optional_run},
    {.op = onyx_op_OptionalHasElement, .run = optional_has_run},
    {.op = onyx_op_OptionalGetElement, .run = optional_get_run},
    {.op = -1},
};
