/* dropout.c — cpu Dropout. In inference (every opset before 12, and from 12
 * unless the training_mode input is true) it is the identity with an
 * all-true mask, for any dtype. In training mode it zeroes each element with
 * probability `ratio` and scales the rest by 1/(1 - ratio); the draws come
 * from a counter-based generator (splitmix64 of seed and element index), so
 * threads need no shared state and a `seed` attribute makes runs repeatable. */
#include <string.h>
#include <time.h>

#include "nn.h"

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

typedef struct drop_job {
  const float *x;
  float *y;
  uint8_t *mask;   /* bool mask, or NULL */
  uint64_t seed;
  uint64_t keep_below;   /* keep when the 53-bit draw is below this */
  float scale;
} drop_job;

static void drop_range(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const drop_job *j = arg;
  for (size_t i = begin; i < end; i++) {
    bool keep = (splitmix64(j->seed ^ splitmix64(i)) >> 11) < j->keep_below;
    j->y[i] = keep ? j->x[i] * j->scale : 0.f;
    if (j->mask) j->mask[i] = keep;
  }
}

static onyx_status *train_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  double ratio = c->n_in > 1 && c->in[1] ? onyx_tensor_get_f64(c->in[1], 0) : 0.5;
  if (!(ratio >= 0 && ratio < 1))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "ratio %g is outside [0, 1)", ratio);
  uint64_t seed;
  if (onyx_node_attr(n, "seed")) {
    seed = (uint64_t)onyx_attr_int(n, "seed", 0);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)c->out[0]->data;
  }
  drop_job j = {c->in[0]->data, c->out[0]->data,
                c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL, splitmix64(seed),
                (uint64_t)((1.0 - ratio) * (double)(1ull << 53)), (float)(1.0 / (1.0 - ratio))};
  int64_t total = onyx_numel(c->in[0]->rank, c->in[0]->dims);
  onyx_parallel_for(c->pool, (size_t)total, 16384, drop_range, &j);
  return NULL;
}

onyx_status *cpu_dropout(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  bool training = n->opset >= 12 && c->n_in > 2 && c->in[2] && onyx_tensor_get_f64(c->in[2], 0) != 0;
  double ratio = n->opset >= 12 && c->n_in > 1 && c->in[1] ? onyx_tensor_get_f64(c->in[1], 0) : 0;
  if (training && ratio != 0) return nn_dispatch(c, train_f32, false);
  const onyx_tensor *x = c->in[0];
  if (x->dtype == ONYX_DTYPE_STRING || x->kind != ONYX_KIND_TENSOR)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "input dtype %s is not supported",
                           onyx_dtype_name(x->dtype));
  memcpy(c->out[0]->data, x->data, x->nbytes);
  onyx_tensor *m = c->n_out > 1 ? c->out[1] : NULL;
  if (!m) return NULL;
  int64_t total = onyx_numel(m->rank, m->dims);
  if (m->dtype == ONYX_DTYPE_BOOL) {
    memset(m->data, 1, (size_t)total);
    return NULL;
  }
  /* opset < 10: the mask has X's type and holds ones */
  for (int64_t i = 0; i < total; i++) {
    switch (m->dtype) {
      case ONYX_DTYPE_FLOAT: ((float *)m->data)[i] = 1.f; break;
      case ONYX_DTYPE_DOUBLE: ((double *)m->data)[i] = 1.0; break;
      case ONYX_DTYPE_FLOAT16: ((uint16_t *)m->data)[i] = 0x3c00; break;
      default:
        return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "a %s mask", onyx_dtype_name(m->dtype));
    }
  }
  return NULL;
}
