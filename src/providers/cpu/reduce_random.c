/* reduce_random.c — cpu kernels of the random generators: RandomNormal,
 * RandomUniform (and their *Like forms), Bernoulli and Multinomial.
 *
 * Numbers come from a counter-based generator (splitmix64 of seed + index),
 * so any element can be computed independently: results do not depend on the
 * thread count, and a kernel keeps no state between runs (a session may run
 * on several threads at once). With a `seed` attribute every run returns the
 * same numbers; without one, each run draws a fresh seed from the clock. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "reduce_kernels.h"

static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) from stream `seed`, draw i. */
static double uniform(uint64_t seed, uint64_t i) {
  return (double)(mix64(seed ^ mix64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t node_seed(const onyx_node *n, const void *salt) {
  const onyx_attr *a = onyx_node_attr(n, "seed");
  if (a) {
    uint32_t bits;
    memcpy(&bits, &a->f, sizeof bits);
    return mix64(bits);
  }
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)salt);
}

/* Writes n doubles into t (float-like dtypes only). */
static onyx_status *store(const onyx_node *nd, onyx_tensor *t, const double *v, int64_t n) {
  if (t->dtype != ONYX_DTYPE_FLOAT && t->dtype != ONYX_DTYPE_DOUBLE && t->dtype != ONYX_DTYPE_FLOAT16 &&
      t->dtype != ONYX_DTYPE_BFLOAT16)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "output dtype %s is not supported",
                           onyx_dtype_name(t->dtype));
  cpu_reduce_store_f64(t->dtype, v, n, t->data);
  return NULL;
}

/* Output shape: the `shape` attribute, or the input's shape for *Like. */
static onyx_status *random_out(onyx_kernel_ctx *c, int64_t *n) {
  onyx_tensor *y = c->out[0];
  if (c->n_in > 0 && c->in[0]) {
    ONYX_TRY(cpu_reduce_ensure(y, c->in[0]->rank, c->in[0]->dims));
  } else {
    int cnt;
    const int64_t *shape;
    if (!onyx_attr_ints(c->node, "shape", &cnt, &shape) || cnt > ONYX_MAX_RANK)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "attribute 'shape' is missing or too long");
    ONYX_TRY(cpu_reduce_ensure(y, cnt, shape));
  }
  *n = onyx_numel(y->rank, y->dims);
  return NULL;
}

static onyx_status *random_run(onyx_kernel_ctx *c, bool normal) {
  int64_t n = 0;
  ONYX_TRY(random_out(c, &n));
  double *v = onyx_malloc((size_t)n * sizeof *v + 1);
  if (!v) return onyx_error_oom();
  uint64_t seed = node_seed(c->node, v);
  if (normal) {
    double mean = onyx_attr_float(c->node, "mean", 0.0f), scale = onyx_attr_float(c->node, "scale", 1.0f);
    for (int64_t i = 0; i < n; i += 2) {  /* Box-Muller: two normals per pair of uniforms */
      double u1 = 1.0 - uniform(seed, (uint64_t)i), u2 = uniform(seed, (uint64_t)i + 1);
      double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
      v[i] = mean + scale * r * cos(th);
      if (i + 1 < n) v[i + 1] = mean + scale * r * sin(th);
    }
  } else {
    double lo = onyx_attr_float(c->node, "low", 0.0f), hi = onyx_attr_float(c->node, "high", 1.0f);
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * uniform(seed, (uint64_t)i);
  }
  onyx_status *s = store(c->node, c->out[0], v, n);
  onyx_free(v);
  return s;
}

onyx_status *cpu_random_normal_run(onyx_kernel_ctx *c) { return random_run(c, true); }
onyx_status *cpu_random_uniform_run(onyx_kernel_ctx *c) { return random_run(c, false); }

onyx_status *cpu_bernoulli_run(onyx_kernel_ctx *c) {
  const onyx_tensor *p = c->in[0];
  onyx_tensor *y = c->out[0];
  if (p->dtype != ONYX_DTYPE_FLOAT && p->dtype != ONYX_DTYPE_DOUBLE && p->dtype != ONYX_DTYPE_FLOAT16)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input dtype %s is not supported",
                           onyx_dtype_name(p->dtype));
  if (y->dtype != ONYX_DTYPE_BOOL && !cpu_reduce_numeric(y->dtype))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "output dtype %s is not supported",
                           onyx_dtype_name(y->dtype));
  ONYX_TRY(cpu_reduce_ensure(y, p->rank, p->dims));
  int64_t n = onyx_numel(p->rank, p->dims);
  double *v = onyx_malloc((size_t)n * sizeof *v + 1);
  if (!v) return onyx_error_oom();
  cpu_reduce_load_f64(p->dtype, p->data, n, v);
  uint64_t seed = node_seed(c->node, v);
  for (int64_t i = 0; i < n; i++) v[i] = uniform(seed, (uint64_t)i) < v[i] ? 1.0 : 0.0;
  if (y->dtype == ONYX_DTYPE_BOOL)
    for (int64_t i = 0; i < n; i++) ((uint8_t *)y->data)[i] = v[i] != 0;
  else
    cpu_reduce_store_f64(y->dtype, v, n, y->data);
  onyx_free(v);
  return NULL;
}

onyx_status *cpu_multinomial_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (x->rank != 2) return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input must be [batch, classes]");
  if (y->dtype != ONYX_DTYPE_INT32 && y->dtype != ONYX_DTYPE_INT64)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "output dtype %s is not supported",
                           onyx_dtype_name(y->dtype));
  int64_t ns = onyx_attr_int(c->node, "sample_size", 1), nb = x->dims[0], nc = x->dims[1];
  int64_t od[2] = {nb, ns};
  ONYX_TRY(cpu_reduce_ensure(y, 2, od));
  double *v = onyx_malloc((size_t)(nb * nc) * sizeof *v + 1);
  if (!v) return onyx_error_oom();
  if (!cpu_reduce_load_f64(x->dtype, x->data, nb * nc, v)) {
    onyx_free(v);
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "input dtype not supported");
  }
  uint64_t seed = node_seed(c->node, v);
  for (int64_t b = 0; b < nb; b++) {
    double *row = v + b * nc, mx = -INFINITY;
    for (int64_t k = 0; k < nc; k++) mx = fmax(mx, row[k]);
    double total = 0;
    for (int64_t k = 0; k < nc; k++) row[k] = total += exp(row[k] - mx);  /* running cdf */
    for (int64_t s = 0; s < ns; s++) {
      double u = uniform(seed, (uint64_t)(b * ns + s)) * total;
      int64_t k = 0;
      while (k < nc - 1 && row[k] <= u) k++;
      if (y->dtype == ONYX_DTYPE_INT32) ((int32_t *)y->data)[b * ns + s] = (int32_t)k;
      else ((int64_t *)y->data)[b * ns + s] = k;
    }
  }
  onyx_free(v);
  return NULL;
}
