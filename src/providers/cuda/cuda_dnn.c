/* cuda_dnn.c — Conv, MaxPool and AveragePool on cuDNN (its classic API),
 * with symmetric padding (what cuDNN takes); other pads, ceil_mode and
 * pooling dilations are declined at planning and run on the next provider.
 *
 * A Conv node's prepare reads its attributes; descriptors and the
 * algorithm are made per input shape on first use and kept in the node's
 * cache (a separately allocated, locked part of its state, so the state a
 * run reads stays const). How the algorithm is chosen follows ORT's
 * cudnn_conv_algo_search: EXHAUSTIVE times every algorithm once per shape
 * (the default, as ORT), HEURISTIC takes cuDNN's first suggestion, DEFAULT
 * is implicit-precomputed GEMM. Float32 convolutions use TF32 unless the
 * provider's use_tf32 is 0. The workspace is a stream-ordered allocation
 * from the provider's pool around each call. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cuda_internal.h"

#define CONV_CACHE 8

typedef struct conv_entry {
  int rank;
  int64_t dims[ONYX_MAX_RANK];          /* input dims the entry is for */
  cudnnTensorDescriptor_t x, y, b;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t algo;
  size_t ws;
} conv_entry;

typedef struct conv_cache {
  pthread_mutex_t lock;
  int n;
  conv_entry e[CONV_CACHE];
} conv_cache;

typedef struct conv_state {
  int nsp;                                  /* spatial dims */
  int group;
  int pads[ONYX_MAX_RANK], strides[ONYX_MAX_RANK], dil[ONYX_MAX_RANK];
  const char *auto_pad;
  conv_cache *cache;                        /* owned */
} conv_state;

static cudnnDataType_t dnn_type(onyx_dtype t) {
  return t == ONYX_DTYPE_FLOAT16 ? CUDNN_DATA_HALF : t == ONYX_DTYPE_BFLOAT16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

static onyx_status *dnn_check(cudnnStatus_t st, const char *what, const onyx_node *n) {
  if (st == CUDNN_STATUS_SUCCESS) return NULL;
  const cu_dnn_api *d = cu_dnn(NULL);
  return onyx_node_error(n, st == CUDNN_STATUS_ALLOC_FAILED ? ONYX_ERR_OUT_OF_MEMORY : ONYX_ERR_RUNTIME,
                         "cuDNN %s: %s", what, d ? d->error_string(st) : "failed");
}
#define DNN(call, what) ONYX_TRY(dnn_check((call), (what), n))

/* cuDNN wants 4-D at least: spatial dims padded with 1s. */
static int dnn_dims(const int64_t *dims, int rank, int *out) {
  int r = rank < 4 ? 4 : rank;
  for (int i = 0; i < r; i++) out[i] = i < rank ? (int)dims[i] : 1;
  return r;
}

static cudnnStatus_t set_tensor(const cu_dnn_api *d, cudnnTensorDescriptor_t t, cudnnDataType_t dt, const int64_t *dims,
                                int rank) {
  int dd[ONYX_MAX_RANK + 4], st[ONYX_MAX_RANK + 4];
  int r = dnn_dims(dims, rank, dd);
  st[r - 1] = 1;
  for (int i = r - 2; i >= 0; i--) st[i] = st[i + 1] * dd[i + 1];
  return d->tensor_set(t, dt, r, dd, st);
}

/* ---- attributes ---------------------------------------------------------------------- */

/* Symmetric pads of a conv/pool node, or false when they are not (or
 * depend on an input shape that is not static). */
static bool sym_pads(const onyx_node *n, int nsp, const int64_t *in_dims, const int64_t *kernel, const int *strides,
                     const int *dil, int *pads) {
  const char *ap = onyx_attr_string(n, "auto_pad", "NOTSET");
  if (!strcmp(ap, "NOTSET")) {
    const int64_t *p;
    int np;
    if (!onyx_attr_ints(n, "pads", &np, &p)) np = 0;
    for (int i = 0; i < nsp; i++) {
      int64_t a = np == 2 * nsp ? p[i] : 0, b = np == 2 * nsp ? p[i + nsp] : 0;
      if (a != b) return false;
      pads[i] = (int)a;
    }
    return true;
  }
  if (!strcmp(ap, "VALID")) {
    for (int i = 0; i < nsp; i++) pads[i] = 0;
    return true;
  }
  for (int i = 0; i < nsp; i++) {   /* SAME_UPPER / SAME_LOWER */
    int64_t in = in_dims ? in_dims[2 + i] : -1;
    if (in < 0) return false;
    int64_t out = (in + strides[i] - 1) / strides[i];
    int64_t total = (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - in;
    if (total < 0) total = 0;
    if (total % 2) return false;
    pads[i] = (int)(total / 2);
  }
  return true;
}

static void ints_attr(const onyx_node *n, const char *name, int nsp, int def, int *out) {
  const int64_t *v;
  int k;
  bool has = onyx_attr_ints(n, name, &k, &v) && k == nsp;
  for (int i = 0; i < nsp; i++) out[i] = has ? (int)v[i] : def;
}

/* ---- Conv ------------------------------------------------------------------------------- */

static void conv_release(void *state) {
  conv_state *s = state;
  const cu_dnn_api *d = cu_dnn(NULL);
  for (int i = 0; s->cache && i < s->cache->n; i++) {
    conv_entry *e = &s->cache->e[i];
    d->tensor_destroy(e->x);
    d->tensor_destroy(e->y);
    if (e->b) d->tensor_destroy(e->b);
    d->filter_destroy(e->w);
    d->conv_destroy(e->conv);
  }
  if (s->cache) pthread_mutex_destroy(&s->cache->lock);
  onyx_free(s->cache);
  onyx_free(s);
}

static onyx_status *conv_prepare(onyx_provider *p, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)p;
  const onyx_value *w = &g->values[n->in[1]];
  conv_state *s = onyx_calloc(1, sizeof *s);
  if (!s || !(s->cache = onyx_calloc(1, sizeof *s->cache))) {
    onyx_free(s);
    return onyx_error_oom();
  }
  pthread_mutex_init(&s->cache->lock, NULL);
  s->nsp = w->rank - 2;
  s->group = (int)onyx_attr_int(n, "group", 1);
  ints_attr(n, "strides", s->nsp, 1, s->strides);
  ints_attr(n, "dilations", s->nsp, 1, s->dil);
  *state = s;
  return NULL;
}

/* The cache entry for these input dims: descriptors and algorithm, made
 * on first use with the run's cuDNN handle. */
static onyx_status *conv_entry_for(onyx_kernel_ctx *c, cu_provider *cp, cu_run *run, conv_entry **out) {
  const onyx_node *n = c->node;
  const conv_state *s = c->state;
  const cu_dnn_api *d = cu_dnn(NULL);
  const onyx_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0];
  conv_cache *cc = s->cache;
  onyx_status *st = NULL;
  pthread_mutex_lock(&cc->lock);
  for (int i = 0; i < cc->n; i++)
    if (cc->e[i].rank == x->rank && !memcmp(cc->e[i].dims, x->dims, (size_t)x->rank * sizeof x->dims[0])) {
      *out = &cc->e[i];
      pthread_mutex_unlock(&cc->lock);
      return NULL;
    }
  conv_entry e = {.rank = x->rank};
  memcpy(e.dims, x->dims, (size_t)x->rank * sizeof x->dims[0]);
  cudnnDataType_t dt = dnn_type(x->dtype);
  int64_t kernel[ONYX_MAX_RANK];
  int pads[ONYX_MAX_RANK], pad4[4] = {0, 0}, str4[4] = {1, 1}, dil4[4] = {1, 1}, wd[ONYX_MAX_RANK + 4];
  for (int i = 0; i < s->nsp; i++) kernel[i] = w->dims[2 + i];
  if (!sym_pads(n, s->nsp, x->dims, kernel, s->strides, s->dil, pads)) {
    st = onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: asymmetric pads for input shape");
    goto done;
  }
  int nsp = s->nsp < 2 ? 2 : s->nsp;   /* a 1-D conv as 2-D over [.., 1] */
  for (int i = 0; i < s->nsp; i++) pad4[i] = pads[i], str4[i] = s->strides[i], dil4[i] = s->dil[i];
  cudnnStatus_t ds = d->tensor_create(&e.x);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->tensor_create(&e.y);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->filter_create(&e.w);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->conv_create(&e.conv);
  if (ds == CUDNN_STATUS_SUCCESS) ds = set_tensor(d, e.x, dt, x->dims, x->rank);
  if (ds == CUDNN_STATUS_SUCCESS) ds = set_tensor(d, e.y, dt, y->dims, y->rank);
  int wr = dnn_dims(w->dims, w->rank, wd);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->filter_set(e.w, dt, CUDNN_TENSOR_NCHW, wr, wd);
  if (ds == CUDNN_STATUS_SUCCESS)
    ds = d->conv_set(e.conv, nsp, pad4, str4, dil4, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->conv_groups(e.conv, s->group);
  if (ds == CUDNN_STATUS_SUCCESS)
    ds = d->conv_math(e.conv, dt == CUDNN_DATA_FLOAT && !cp->tf32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH);
  if (ds == CUDNN_STATUS_SUCCESS && b) {
    int64_t bd[ONYX_MAX_RANK] = {1, b->dims[0]};
    for (int i = 0; i < s->nsp; i++) bd[2 + i] = 1;
    ds = d->tensor_create(&e.b);
    if (ds == CUDNN_STATUS_SUCCESS) ds = set_tensor(d, e.b, dt, bd, x->rank);
  }
  if ((st = dnn_check(ds, "descriptors", n))) goto fail;
  if (cp->conv_search == CU_SEARCH_DEFAULT) {
    e.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  } else {
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int found = 0;
    ds = cp->conv_search == CU_SEARCH_EXHAUSTIVE
             ? d->conv_find(run->dnn, e.x, e.w, e.conv, e.y, 8, &found, perf)
             : d->conv_heuristic(run->dnn, e.x, e.w, e.conv, e.y, 8, &found, perf);
    if ((st = dnn_check(ds, "algorithm search", n))) goto fail;
    int pick = -1;
    for (int i = 0; i < found && pick < 0; i++)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) pick = i;
    e.algo = pick >= 0 ? perf[pick].algo : CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  }
  if ((st = dnn_check(d->conv_workspace(run->dnn, e.x, e.w, e.conv, e.y, e.algo, &e.ws), "workspace size", n))) goto fail;
  if (cc->n < CONV_CACHE) {
    cc->e[cc->n] = e;
    *out = &cc->e[cc->n++];
    goto done;
  }
  st = onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: more than %d input shapes for one Conv", CONV_CACHE);
fail:
  if (e.x) d->tensor_destroy(e.x);
  if (e.y) d->tensor_destroy(e.y);
  if (e.b) d->tensor_destroy(e.b);
  if (e.w) d->filter_destroy(e.w);
  if (e.conv) d->conv_destroy(e.conv);
done:
  pthread_mutex_unlock(&cc->lock);
  return st;
}

static onyx_status *conv_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  const onyx_node *n = c->node;
  const cu_dnn_api *d = cu_dnn(NULL);
  onyx_tensor *y = c->out[0];
  if (!y->data) return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: output 0 was not sized before the kernel");
  if (!onyx_numel(y->rank, y->dims)) return NULL;
  conv_entry *e;
  ONYX_TRY(conv_entry_for(c, cp, run, &e));
  void *ws = NULL;
  if (e->ws) CU_TRY(cp, cudaMallocFromPoolAsync(&ws, e->ws, cp->pool, stream), n);
  float one = 1, zero = 0;
  onyx_status *s = dnn_check(d->conv_forward(run->dnn, &one, e->x, c->in[0]->data, e->w, c->in[1]->data, e->conv,
                                             e->algo, ws, e->ws, &zero, e->y, y->data),
                             "ConvolutionForward", n);
  if (!s && e->b) s = dnn_check(d->add_tensor(run->dnn, &one, e->b, c->in[2]->data, &one, e->y, y->data), "AddTensor", n);
  if (ws) cudaFreeAsync(ws, stream);
  return s;
}

/* ---- pooling ------------------------------------------------------------------------------ */

static onyx_status *pool_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  const onyx_node *n = c->node;
  const cu_dnn_api *d = cu_dnn(NULL);
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (!y->data) return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: output 0 was not sized before the kernel");
  if (!onyx_numel(y->rank, y->dims)) return NULL;
  int nsp = x->rank - 2, win[4] = {1, 1}, pad[4] = {0, 0}, str[4] = {1, 1}, dil[ONYX_MAX_RANK] = {0};
  int64_t kernel[ONYX_MAX_RANK] = {0};
  const int64_t *ks;
  int nk;
  onyx_attr_ints(n, "kernel_shape", &nk, &ks);
  for (int i = 0; i < nsp; i++) kernel[i] = ks[i], win[i] = (int)ks[i], dil[i] = 1;
  ints_attr(n, "strides", nsp, 1, str);
  int pads[ONYX_MAX_RANK];
  if (!sym_pads(n, nsp, x->dims, kernel, str, dil, pads))
    return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: asymmetric pads for input shape");
  for (int i = 0; i < nsp; i++) pad[i] = pads[i];
  cudnnPoolingMode_t mode = n->op == onyx_op_MaxPool ? CUDNN_POOLING_MAX_DETERMINISTIC
                            : onyx_attr_int(n, "count_include_pad", 0) ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                                        : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  cudnnPoolingDescriptor_t pd = NULL;
  cudnnTensorDescriptor_t xd = NULL, yd = NULL;
  cudnnDataType_t dt = dnn_type(x->dtype);
  cudnnStatus_t ds = d->pool_create(&pd);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->pool_set(pd, mode, CUDNN_PROPAGATE_NAN, nsp < 2 ? 2 : nsp, win, pad, str);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->tensor_create(&xd);
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->tensor_create(&yd);
  if (ds == CUDNN_STATUS_SUCCESS) ds = set_tensor(d, xd, dt, x->dims, x->rank);
  if (ds == CUDNN_STATUS_SUCCESS) ds = set_tensor(d, yd, dt, y->dims, y->rank);
  float one = 1, zero = 0;
  if (ds == CUDNN_STATUS_SUCCESS) ds = d->pool_forward(run->dnn, pd, &one, xd, x->data, &zero, yd, y->data);
  if (xd) d->tensor_destroy(xd);
  if (yd) d->tensor_destroy(yd);
  if (pd) d->pool_destroy(pd);
  return dnn_check(ds, "PoolingForward", n);
}

/* ---- what cuDNN takes ------------------------------------------------------------------- */

static const onyx_kernel dnn_kernels[] = {
    {.op = onyx_op_Conv, .prepare = conv_prepare, .run = conv_run, .release = conv_release,
     .dtypes = ONYX_DT(FLOAT) | ONYX_DT(FLOAT16)},
    {.op = onyx_op_MaxPool, .run = pool_run, .dtypes = ONYX_DT(FLOAT) | ONYX_DT(FLOAT16)},
    {.op = onyx_op_AveragePool, .run = pool_run, .dtypes = ONYX_DT(FLOAT) | ONYX_DT(FLOAT16)},
    {.op = -1},
};

const onyx_kernel *cu_dnn_kernel_find(const onyx_node *n) {
  for (const onyx_kernel *k = dnn_kernels; k->op >= 0; k++)
    if (k->op == n->op) return k;
  return NULL;
}

onyx_status *cu_dnn_supported(const onyx_graph *g, const onyx_node *n) {
  const char *why = NULL;
  if (!cu_dnn(&why)) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s needs cuDNN: %s", n->op_type, why);
  const onyx_value *x = &g->values[n->in[0]];
  int nsp = x->rank - 2;
  if (x->rank < 3 || x->rank > 5) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s of rank %d", n->op_type, x->rank);
  int strides[ONYX_MAX_RANK], dil[ONYX_MAX_RANK], pads[ONYX_MAX_RANK];
  int64_t kernel[ONYX_MAX_RANK];
  ints_attr(n, "strides", nsp, 1, strides);
  ints_attr(n, "dilations", nsp, 1, dil);
  if (n->op == onyx_op_Conv) {
    const onyx_value *w = &g->values[n->in[1]];
    if (w->rank != x->rank) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Conv weights of rank %d", w->rank);
    for (int i = 0; i < nsp; i++) {
      if (w->dims[2 + i] < 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Conv with a symbolic kernel size");
      kernel[i] = w->dims[2 + i];
    }
    if (n->n_in > 2 && n->in[2] >= 0 && g->values[n->in[2]].rank != 1)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: Conv bias of rank %d", g->values[n->in[2]].rank);
  } else {
    const int64_t *ks;
    int nk;
    if (!onyx_attr_ints(n, "kernel_shape", &nk, &ks) || nk != nsp)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s without kernel_shape", n->op_type);
    for (int i = 0; i < nsp; i++) {
      kernel[i] = ks[i];
      if (dil[i] != 1) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s with dilations", n->op_type);
    }
    if (onyx_attr_int(n, "ceil_mode", 0)) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s with ceil_mode", n->op_type);
    if (n->n_out > 1 && n->out[1] >= 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: MaxPool's indices output");
  }
  if (!sym_pads(n, nsp, x->dims, kernel, strides, dil, pads))
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s with asymmetric padding", n->op_type);
  return onyx_kernel_check_dtypes(cu_dnn_kernel_find(n), g, n);
}
