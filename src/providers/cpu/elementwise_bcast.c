/* elementwise_bcast.c — the broadcasting N-d iterator shared by every cpu
 * elementwise kernel, and output sizing.
 *
 * ONNX multidirectional broadcasting is expressed as element strides: an
 * input dim that is 1 (or missing) where the output's is larger gets stride
 * 0. Dims of size 1 are dropped and neighbouring dims merged when every input
 * is contiguous across them, so [2,3,4]+[2,3,4] becomes one row of 24,
 * [64,1000]+[1000] rows of 1000 against a fixed row, and [64,1000]+[64,1]
 * rows against one scalar each. The loops then only ever see rows whose
 * inputs move by 0 or 1 element. Threads split the flat output range; each
 * chunk rebuilds its start index, so chunks need no shared state. */
#include <string.h>

#include "elementwise.h"

void ew_iter_init(ew_iter *it, onyx_tensor *y, int n_in, const onyx_tensor *const *x) {
  int r = y->rank;
  memset(it, 0, sizeof *it);
  it->n_in = n_in;
  it->y = y->data;
  it->ysize = onyx_dtype_size(y->dtype);
  /* full-rank strides, right-aligned */
  int64_t st[EW_MAX_IN][ONYX_MAX_RANK];
  for (int k = 0; k < n_in; k++) {
    it->x[k] = x[k]->data;
    it->xsize[k] = onyx_dtype_size(x[k]->dtype);
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
      int dk = d - (r - x[k]->rank);
      int64_t dim = dk >= 0 ? x[k]->dims[dk] : 1;
      st[k][d] = dim == 1 ? 0 : s;
      s *= dim;
    }
  }
  /* drop size-1 dims, merge contiguous neighbours */
  int n = 0;
  for (int d = 0; d < r; d++) {
    if (y->dims[d] == 1) continue;
    bool merge = n > 0;
    for (int k = 0; merge && k < n_in; k++)
      if (it->st[k][n - 1] != st[k][d] * y->dims[d]) merge = false;
    if (merge) {
      it->dims[n - 1] *= y->dims[d];
      for (int k = 0; k < n_in; k++) it->st[k][n - 1] = st[k][d];
    } else {
      it->dims[n] = y->dims[d];
      for (int k = 0; k < n_in; k++) it->st[k][n] = st[k][d];
      n++;
    }
  }
  if (n == 0) { /* scalar output (or all dims 1) */
    it->dims[0] = onyx_numel(y->rank, y->dims);
    for (int k = 0; k < n_in; k++) it->st[k][0] = 0;
    n = 1;
  }
  it->rank = n;
}

typedef struct iter_job {
  const ew_iter *it;
  ew_row_fn fn;
  const void *ctx;
} iter_job;

static void run_chunk(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const iter_job *job = arg;
  const ew_iter *it = job->it;
  const int r = it->rank, nk = it->n_in, last = r - 1;
  int64_t idx[ONYX_MAX_RANK], inner[EW_MAX_IN];
  const char *x[EW_MAX_IN];
  size_t rem = begin;
  for (int d = last; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)it->dims[d]);
    rem /= (size_t)it->dims[d];
  }
  for (int k = 0; k < nk; k++) {
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += idx[d] * it->st[k][d];
    x[k] = it->x[k] + (size_t)off * it->xsize[k];
    inner[k] = it->st[k][last];
  }
  char *y = it->y + begin * it->ysize;
  size_t pos = begin;
  while (pos < end) {
    int64_t n = it->dims[last] - idx[last];
    if ((size_t)n > end - pos) n = (int64_t)(end - pos);
    job->fn(job->ctx, y, (const void *const *)x, inner, n);
    pos += (size_t)n;
    y += (size_t)n * it->ysize;
    idx[last] += n;
    for (int k = 0; k < nk; k++) x[k] += (size_t)(n * inner[k]) * it->xsize[k];
    /* carry into outer dims */
    for (int d = last; d > 0 && idx[d] == it->dims[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
      for (int k = 0; k < nk; k++)
        x[k] += (ptrdiff_t)(it->st[k][d - 1] - it->dims[d] * it->st[k][d]) * (ptrdiff_t)it->xsize[k];
    }
  }
}

void ew_iter_run(const ew_iter *it, const onyx_threadpool *pool, ew_row_fn fn, const void *ctx) {
  iter_job job = {it, fn, ctx};
  size_t total = 1;
  for (int d = 0; d < it->rank; d++) total *= (size_t)it->dims[d];
  onyx_parallel_for(pool, total, EW_GRAIN, run_chunk, &job);
}

onyx_status *ew_out_bcast(onyx_kernel_ctx *c, int k, int first, int count) {
  int r = 0;
  int64_t dims[ONYX_MAX_RANK];
  for (int i = first; i < first + count; i++)
    if (c->in[i]) ONYX_TRY(onyx_broadcast_shape(c->node, r, dims, c->in[i]->rank, c->in[i]->dims, &r, dims));
  onyx_tensor *y = c->out[k];
  if (!y->data) return onyx_tensor_alloc(y, r, dims);
  if (y->rank != r || memcmp(y->dims, dims, (size_t)r * sizeof dims[0])) {
    char a[128], b[128];
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "output has shape %s, inputs broadcast to %s",
                           onyx_shape_str(y->rank, y->dims, a, sizeof a), onyx_shape_str(r, dims, b, sizeof b));
  }
  return NULL;
}

onyx_status *ew_bad_dtype(const onyx_kernel_ctx *c, int input) {
  return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input %d has dtype %s, not supported by the cpu kernel",
                         input, c->in[input] ? onyx_dtype_name(c->in[input]->dtype) : "(absent)");
}
