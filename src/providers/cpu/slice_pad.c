/* slice_pad.c — cpu kernels that select or repeat regions: Slice, Expand,
 * Tile (strided views handed to cpu_copy_strided; Slice's negative steps
 * are negative strides, Expand's broadcast dims zero strides) and Pad /
 * CenterCropPad (per-dim index maps, so all pad modes and negative pads
 * share one loop that memcpys every contiguous run of a row). */
#include <string.h>

#include "base/half.h"
#include "ops/tensor_params.h"
#include "tensor_kernels.h"

onyx_status *cpu_slice_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  onyx_slice_plan p;
  const onyx_tensor *in[5] = {NULL};
  for (int i = 1; i < 5 && i < c->n_in; i++) in[i] = c->in[i];
  ONYX_TRY(onyx_slice_resolve(c->node, x->rank, x->dims, in[1], in[2], in[3], in[4], &p));
  int64_t xs[ONYX_MAX_RANK], os[ONYX_MAX_RANK], ss[ONYX_MAX_RANK], off = 0;
  cpu_strides(x->rank, x->dims, xs);
  cpu_strides(o->rank, o->dims, os);
  for (int d = 0; d < x->rank; d++) {
    off += p.start[d] * xs[d];
    ss[d] = p.step[d] * xs[d];
  }
  cpu_copy_strided(c->pool, o->data, (const char *)x->data + off * (int64_t)esz, esz, o->rank, o->dims, os, ss);
  return cpu_strings_own(o);
}

onyx_status *cpu_expand_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  int64_t xs[ONYX_MAX_RANK], os[ONYX_MAX_RANK], ss[ONYX_MAX_RANK];
  cpu_strides(x->rank, x->dims, xs);
  cpu_strides(o->rank, o->dims, os);
  int lead = o->rank - x->rank;
  for (int d = 0; d < o->rank; d++) {
    int xd = d - lead;
    ss[d] = xd < 0 || x->dims[xd] == 1 ? 0 : xs[xd];
  }
  cpu_copy_strided(c->pool, o->data, x->data, esz, o->rank, o->dims, os, ss);
  return cpu_strings_own(o);
}

onyx_status *cpu_tile_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  size_t esz;
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &esz));
  /* output dim d seen as [repeat, x->dims[d]]: the repeat index reads stride 0 */
  int64_t xs[ONYX_MAX_RANK], os[ONYX_MAX_RANK];
  int64_t dims[2 * ONYX_MAX_RANK], ds[2 * ONYX_MAX_RANK], ss[2 * ONYX_MAX_RANK];
  cpu_strides(x->rank, x->dims, xs);
  cpu_strides(o->rank, o->dims, os);
  for (int d = 0; d < x->rank; d++) {
    dims[2 * d] = x->dims[d] ? o->dims[d] / x->dims[d] : 0;
    dims[2 * d + 1] = x->dims[d];
    ds[2 * d] = x->dims[d] * os[d];
    ds[2 * d + 1] = os[d];
    ss[2 * d] = 0;
    ss[2 * d + 1] = xs[d];
  }
  cpu_copy_strided(c->pool, o->data, x->data, esz, 2 * x->rank, dims, ds, ss);
  return cpu_strings_own(o);
}

/* ---- Pad ------------------------------------------------------------------ */

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct pad_job {
  const onyx_tensor *x;
  onyx_tensor *o;
  size_t esz;
  const char *value;           /* constant pad element (esz bytes) */
  int64_t *map[ONYX_MAX_RANK]; /* per dim: output index -> input index, -1 = constant */
  int64_t xs[ONYX_MAX_RANK];
} pad_job;

/* Input index read by output index j of a dim of size n padded by `before`. */
static int64_t pad_source(pad_mode m, int64_t j, int64_t before, int64_t n) {
  int64_t i = j - before;
  if (i >= 0 && i < n) return i;
  switch (m) {
    case PAD_EDGE: return i < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((i % n) + n) % n;
    case PAD_REFLECT: {
      if (n == 1) return 0;
      int64_t p = 2 * (n - 1);
      i = ((i % p) + p) % p;
      return i >= n ? p - i : i;
    }
    default: return -1;
  }
}

static void pad_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const pad_job *j = arg;
  const onyx_tensor *o = j->o;
  int r = o->rank, in = r - 1;
  int64_t w = o->dims[in], e = (int64_t)j->esz;
  const int64_t *m = j->map[in];
  for (size_t row = begin; row < end; row++) {
    char *d = (char *)o->data + (int64_t)row * w * e;
    int64_t rem = (int64_t)row, soff = 0;
    bool outside = false;
    for (int k = in - 1; k >= 0; k--) {
      int64_t q = rem % o->dims[k];
      rem /= o->dims[k];
      int64_t s = j->map[k][q];
      if (s < 0) outside = true;
      soff += s * j->xs[k];
    }
    const char *s = (const char *)j->x->data + soff * e;
    for (int64_t i = 0; i < w;) {
      int64_t k = i + 1;
      if (outside || m[i] < 0) {
        memcpy(d + i * e, j->value, j->esz);
      } else {
        while (k < w && m[k] == m[k - 1] + 1) k++;
        memcpy(d + i * e, s + m[i] * e, (size_t)(k - i) * j->esz);
      }
      i = k;
    }
  }
}

/* Writes double v as one element of dtype dt; false if dt is not numeric. */
static bool write_value(onyx_dtype dt, double v, void *p) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: *(float *)p = (float)v; return true;
    case ONYX_DTYPE_DOUBLE: *(double *)p = v; return true;
    case ONYX_DTYPE_FLOAT16: *(uint16_t *)p = onyx_f32_to_f16((float)v); return true;
    case ONYX_DTYPE_BFLOAT16: *(uint16_t *)p = onyx_f32_to_bf16((float)v); return true;
    case ONYX_DTYPE_INT8: *(int8_t *)p = (int8_t)v; return true;
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: *(uint8_t *)p = (uint8_t)v; return true;
    case ONYX_DTYPE_INT16: *(int16_t *)p = (int16_t)v; return true;
    case ONYX_DTYPE_UINT16: *(uint16_t *)p = (uint16_t)v; return true;
    case ONYX_DTYPE_INT32: *(int32_t *)p = (int32_t)v; return true;
    case ONYX_DTYPE_UINT32: *(uint32_t *)p = (uint32_t)v; return true;
    case ONYX_DTYPE_INT64: *(int64_t *)p = (int64_t)v; return true;
    case ONYX_DTYPE_UINT64: *(uint64_t *)p = (uint64_t)v; return true;
    default: return false;
  }
}

/* Pads x into o with pads[0..2r) (begin then end; negative crops). */
static onyx_status *pad_apply(onyx_kernel_ctx *c, pad_mode mode, const int64_t *pads, const char *value) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *o = c->out[0];
  pad_job j = {x, o, 0, value, {NULL}, {0}};
  ONYX_TRY(cpu_elem_size(c->node, x->dtype, &j.esz));
  cpu_strides(x->rank, x->dims, j.xs);
  int64_t total = 0;
  for (int d = 0; d < o->rank; d++) total += o->dims[d];
  int64_t *maps = onyx_malloc((size_t)total * sizeof *maps);
  if (!maps) return onyx_error_oom();
  onyx_status *s = NULL;
  int64_t *p = maps;
  for (int d = 0; d < o->rank; d++) {
    if (mode != PAD_CONSTANT && x->dims[d] == 0 && o->dims[d] > 0) {
      s = onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "cannot pad empty dim %d in this mode", d);
      goto done;
    }
    j.map[d] = p;
    for (int64_t k = 0; k < o->dims[d]; k++) p[k] = pad_source(mode, k, pads[d], x->dims[d]);
    p += o->dims[d];
  }
  if (o->rank == 0) {
    memcpy(o->data, x->data, j.esz);
  } else {
    int64_t rows = onyx_numel(o->rank - 1, o->dims), w = o->dims[o->rank - 1];
    if (w) onyx_parallel_for(c->pool, (size_t)rows, (size_t)((1 << 14) / w + 1), pad_rows, &j);
  }
  s = cpu_strings_own(o);
done:
  onyx_free(maps);
  return s;
}

onyx_status *cpu_pad_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  const char *ms = onyx_attr_string(n, "mode", "constant");
  pad_mode mode;
  if (!strcmp(ms, "constant")) mode = PAD_CONSTANT;
  else if (!strcmp(ms, "reflect")) mode = PAD_REFLECT;
  else if (!strcmp(ms, "edge")) mode = PAD_EDGE;
  else if (!strcmp(ms, "wrap") && n->opset >= 19) mode = PAD_WRAP;
  else return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "mode '%s' is not supported", ms);
  int64_t pads[2 * ONYX_MAX_RANK];
  const onyx_tensor *pt = c->n_in > 1 ? c->in[1] : NULL, *at = c->n_in > 3 ? c->in[3] : NULL;
  ONYX_TRY(onyx_pad_resolve(n, x->rank, pt, at, pads));
  char value[16] = {0};
  const onyx_tensor *cv = n->opset >= 11 && c->n_in > 2 ? c->in[2] : NULL;
  if (cv && !onyx_tensor_absent(cv)) {
    if (cv->dtype != x->dtype)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "constant_value is %s, data %s", onyx_dtype_name(cv->dtype),
                             onyx_dtype_name(x->dtype));
    memcpy(value, cv->data, onyx_dtype_size(cv->dtype));
  } else if (n->opset < 11 && x->dtype != ONYX_DTYPE_STRING) {
    if (!write_value(x->dtype, onyx_attr_float(n, "value", 0.0f), value))
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(x->dtype));
  }
  return pad_apply(c, mode, pads, value);
}

onyx_status *cpu_center_crop_pad_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  const onyx_tensor *o = c->out[0];
  int64_t pads[2 * ONYX_MAX_RANK];
  for (int d = 0; d < x->rank; d++) {
    int64_t diff = o->dims[d] - x->dims[d];
    pads[d] = diff >= 0 ? diff / 2 : -((-diff) / 2);
    pads[x->rank + d] = diff - pads[d];
  }
  char value[16] = {0};
  return pad_apply(c, PAD_CONSTANT, pads, value);
}
