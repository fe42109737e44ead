/* loss.c — cpu kernels of the loss op family: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss on float32, float64, float16 and bfloat16 scores.
 *
 * Both views the scores as [N, C, D] (D = d1*...*dk) and the target as
 * [N, D]. Every position (n, j) gets a loss -w[t] * s[n, t, j], where s is
 * the scores (NLL) or their log-softmax over C (SCE), t the target class and
 * w the class weight (1 without weights, 0 where t == ignore_index). The sum
 * and the weight total for "mean" are accumulated in double whatever the
 * dtype, so float16 losses over many positions do not drift; "mean" divides
 * by the total weight, which is NaN when every position is ignored (as in the
 * ONNX reference and PyTorch). A target outside [0, C) that is not the
 * ignore_index is an error, checked before any work. Blocks of positions of
 * one sample run in parallel: the log-softmax walks C with stride D, so a
 * block of contiguous positions keeps those walks in cache lines. */
#include <math.h>
#include <stdint.h>

#include "base/half.h"
#include "cpu.h"
#include "ops/loss_ops.h"

#define BLK 64   /* positions per work item */

static double load(const onyx_tensor *t, int64_t i) {
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case ONYX_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return onyx_bf16_to_f32(((const uint16_t *)t->data)[i]);   /* BFLOAT16 */
  }
}

static void store(onyx_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case ONYX_DTYPE_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)t->data)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)t->data)[i] = onyx_f32_to_f16((float)v); break;
    default: ((uint16_t *)t->data)[i] = onyx_f32_to_bf16((float)v); break;   /* BFLOAT16 */
  }
}

typedef struct loss_job {
  const onyx_tensor *x, *w;   /* scores [N, C, D]; class weights [C] or NULL */
  const int64_t *tgt;         /* [N, D] */
  onyx_tensor *logp;          /* SCE's log-probabilities, or NULL */
  bool softmax;               /* SCE: losses from the log-softmax of x */
  bool has_ii;
  int64_t ii, c, d, blocks;   /* blocks of BLK positions per sample */
  double *loss, *wsum;        /* per position: weighted loss, its weight */
} loss_job;

static void loss_blocks(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const loss_job *j = arg;
  const int64_t C = j->c, D = j->d;
  double lse[BLK];
  for (size_t it = begin; it < end; it++) {
    int64_t n = (int64_t)it / j->blocks, j0 = ((int64_t)it % j->blocks) * BLK;
    int64_t m = D - j0 < BLK ? D - j0 : BLK;
    int64_t base = n * C * D + j0;   /* scores of (n, class 0, j0) */
    for (int64_t k = 0; k < m; k++) lse[k] = 0;
    if (j->softmax) {
      double mx[BLK];
      for (int64_t k = 0; k < m; k++) mx[k] = -INFINITY;
      for (int64_t cl = 0; cl < C; cl++)
        for (int64_t k = 0; k < m; k++) {
          double v = load(j->x, base + cl * D + k);
          mx[k] = v > mx[k] ? v : mx[k];
        }
      for (int64_t cl = 0; cl < C; cl++)
        for (int64_t k = 0; k < m; k++) lse[k] += exp(load(j->x, base + cl * D + k) - mx[k]);
      for (int64_t k = 0; k < m; k++) lse[k] = mx[k] + log(lse[k]);
      for (int64_t cl = 0; j->logp && cl < C; cl++)
        for (int64_t k = 0; k < m; k++)
          store(j->logp, base + cl * D + k, load(j->x, base + cl * D + k) - lse[k]);
    }
    for (int64_t k = 0; k < m; k++) {
      int64_t p = n * D + j0 + k, t = j->tgt[p];
      if (j->has_ii && t == j->ii) {
        j->loss[p] = 0;
        j->wsum[p] = 0;
        continue;
      }
      double w = j->w ? load(j->w, t) : 1.0;
      j->loss[p] = -w * (load(j->x, base + t * D + k) - lse[k]);
      j->wsum[p] = w;
    }
  }
}

static onyx_status *loss_run(onyx_kernel_ctx *c, bool softmax) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0], *t = c->in[1];
  const onyx_tensor *w = c->n_in > 2 ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0], *logp = softmax && c->n_out > 1 ? c->out[1] : NULL;
  onyx_loss_reduction red;
  ONYX_TRY(onyx_loss_reduction_of(n, &red));
  if (x->dtype != ONYX_DTYPE_FLOAT && x->dtype != ONYX_DTYPE_DOUBLE &&
      x->dtype != ONYX_DTYPE_FLOAT16 && x->dtype != ONYX_DTYPE_BFLOAT16)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "scores dtype %s is not supported",
                           onyx_dtype_name(x->dtype));
  if (x->rank < 2 || t->rank != x->rank - 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "scores of rank %d and target of rank %d: expected [N, C, d...] and "
                           "[N, d...]", x->rank, t->rank);
  if (w && (w->dtype != x->dtype || w->rank != 1 || w->dims[0] != x->dims[1]))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                           "weight must be a [%lld] tensor of the scores' dtype",
                           (long long)x->dims[1]);
  loss_job j = {x, w, NULL, logp, softmax, false, 0, x->dims[1], 1, 1, NULL, NULL};
  const onyx_attr *ia = onyx_node_attr(n, "ignore_index");
  j.has_ii = ia != NULL;
  j.ii = ia ? ia->i : 0;
  j.d = onyx_numel(x->rank - 2, x->dims + 2);
  int64_t N = x->dims[0], P = N * j.d;
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, red == ONYX_LOSS_NONE ? t->rank : 0, t->dims));
  if (logp && !logp->data) ONYX_TRY(onyx_tensor_alloc(logp, x->rank, x->dims));
  int64_t *tg = onyx_malloc((size_t)P * sizeof *tg);
  double *buf = onyx_malloc((size_t)P * 2 * sizeof *buf);
  onyx_status *s = NULL;
  if (!tg || !buf) {
    s = onyx_error_oom();
    goto done;
  }
  for (int64_t p = 0; p < P; p++) {
    tg[p] = onyx_tensor_get_i64(t, p);
    if ((tg[p] < 0 || tg[p] >= j.c) && !(j.has_ii && tg[p] == j.ii)) {
      s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                          "target value %lld at index %lld is outside [0, %lld) and not the "
                          "ignore_index", (long long)tg[p], (long long)p, (long long)j.c);
      goto done;
    }
  }
  j.tgt = tg;
  j.loss = buf;
  j.wsum = buf + P;
  j.blocks = (j.d + BLK - 1) / BLK;
  size_t work = (size_t)(BLK * (j.c + 1) * (softmax ? 4 : 1));   /* per item */
  onyx_parallel_for(c->pool, (size_t)(N * j.blocks), work >= 32768 ? 1 : 32768 / work,
                    loss_blocks, &j);
  if (red == ONYX_LOSS_NONE) {
    for (int64_t p = 0; p < P; p++) store(y, p, j.loss[p]);
  } else {
    double sum = 0, wsum = 0;
    for (int64_t p = 0; p < P; p++) {
      sum += j.loss[p];
      wsum += j.wsum[p];
    }
    store(y, 0, red == ONYX_LOSS_SUM ? sum : sum / wsum);
  }
done:
  onyx_free(tg);
  onyx_free(buf);
  return s;
}

static onyx_status *cpu_nll_loss(onyx_kernel_ctx *c) { return loss_run(c, false); }
static onyx_status *cpu_sce_loss(onyx_kernel_ctx *c) { return loss_run(c, true); }

const onyx_kernel cpu_kernels_loss[] = {
    {.op = onyx_op_NegativeLogLikelihoodLoss, .run = cpu_nll_loss},
    {.op = onyx_op_SoftmaxCrossEntropyLoss, .run = cpu_sce_loss},
    {.op = -1},
};
