/* matmul.c — cpu kernels for MatMul (numpy semantics: batched, broadcast
 * batch dims, 1-D operands), Gemm (transA/transB, alpha, beta, broadcast C)
 * on the GEMM engine in gemm/sgemm.h (the integer variants are in qlinear.c).
 *
 * A constant B (the weights of a fully connected layer) is packed once at
 * prepare into the micro-kernel's panel format. MatMul with a 2-D B and a
 * batched A folds the batch into M, so [B, S, K] x [K, N] is one big GEMM;
 * truly batched products run batches in parallel when there are enough of
 * them, else one threaded GEMM after another. */
#include <string.h>

#include "gemm/sgemm.h"
#include "linalg.h"

typedef struct matmul_state {
  const cpu_sgemm_isa *isa;
  cpu_sgemm_packed *pb;   /* op(B) packed, or NULL when B is not constant */
} matmul_state;

void cpu_matmul_release(void *state) {
  matmul_state *st = state;
  if (!st) return;
  cpu_sgemm_packed_free(st->pb);
  onyx_free(st);
}

/* state with B (k x n; trans: stored n x k) packed */
static onyx_status *pack_state(const cpu_sgemm_isa *isa, bool trans, int64_t k, int64_t n,
                               const float *b, void **state) {
  matmul_state *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  st->isa = isa;
  onyx_status *s = cpu_sgemm_pack_b(isa, trans, k, n, b, trans ? k : n, &st->pb);
  if (s) {
    onyx_free(st);
    return s;
  }
  *state = st;
  return NULL;
}

onyx_status *cpu_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  const onyx_tensor *b = cpu_const_input(n, g, 1);
  if (!b || b->dtype != ONYX_DTYPE_FLOAT || b->rank < 1 || b->rank > 2) return NULL;
  int64_t k = b->dims[0], nn = b->rank == 2 ? b->dims[1] : 1;
  return pack_state(cpu_sgemm_isa_best(), false, k, nn, b->data, state);
}

onyx_status *cpu_gemm_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  const onyx_tensor *b = cpu_const_input(n, g, 1);
  if (!b || b->dtype != ONYX_DTYPE_FLOAT || b->rank != 2) return NULL;
  bool tb = onyx_attr_int(n, "transB", 0) != 0;
  return pack_state(cpu_sgemm_isa_best(), tb, b->dims[tb ? 1 : 0], b->dims[tb ? 0 : 1], b->data,
                    state);
}

static const cpu_sgemm_isa *isa_of(const onyx_kernel_ctx *c) {
  const matmul_state *st = c->state;
  return st ? st->isa : cpu_sgemm_isa_best();
}

/* ---- MatMul shape walking (shared with the integer kernels, qlinear.c) ------ */

onyx_status *cpu_mm_shape_of(const onyx_node *n, const onyx_tensor *a, const onyx_tensor *b,
                             cpu_mm_shape *s) {
  if (a->rank < 1 || b->rank < 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "MatMul operands must have rank >= 1");
  int ra = a->rank, rb = b->rank;
  s->m = ra == 1 ? 1 : a->dims[ra - 2];
  s->k = a->dims[ra - 1];
  s->n = rb == 1 ? 1 : b->dims[rb - 1];
  int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2];
  if (kb != s->k)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld",
                           (long long)s->k, (long long)kb);
  int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
  ONYX_TRY(onyx_broadcast_shape(n, nba, a->dims, nbb, b->dims, &s->nb, s->bdims));
  /* matrix strides of each operand per output batch dim, right-aligned */
  int64_t sa = 1, sb = 1;
  s->batch = 1;
  for (int i = s->nb - 1; i >= 0; i--) {
    int ia = i - (s->nb - nba), ib = i - (s->nb - nbb);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    s->astr[i] = da == 1 ? 0 : sa;
    s->bstr[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
    s->batch *= s->bdims[i];
  }
  s->out_rank = 0;
  for (int i = 0; i < s->nb; i++) s->out_dims[s->out_rank++] = s->bdims[i];
  if (ra > 1) s->out_dims[s->out_rank++] = s->m;
  if (rb > 1) s->out_dims[s->out_rank++] = s->n;
  return NULL;
}

void cpu_mm_batch(const cpu_mm_shape *s, int64_t bi, int64_t *ia, int64_t *ib) {
  int64_t a = 0, b = 0;
  for (int i = s->nb - 1; i >= 0; i--) {
    int64_t d = bi % s->bdims[i];
    bi /= s->bdims[i];
    a += d * s->astr[i];
    b += d * s->bstr[i];
  }
  *ia = a;
  *ib = b;
}

static onyx_status *ensure_out(onyx_tensor *o, int rank, const int64_t *dims) {
  return o->data ? NULL : onyx_tensor_alloc(o, rank, dims);
}

typedef struct batch_task {
  const cpu_sgemm_isa *isa;
  const cpu_mm_shape *s;
  const float *a, *b;
  float *c;
  float *ws;
  size_t wsf;
  const float *bias;
  cpu_sgemm_epilogue_fn ep;
  void *ep_arg;
} batch_task;

static void batch_run(void *arg, size_t begin, size_t end, int tid) {
  const batch_task *t = arg;
  const cpu_mm_shape *s = t->s;
  for (size_t bi = begin; bi < end; bi++) {
    int64_t ia, ib;
    cpu_mm_batch(s, (int64_t)bi, &ia, &ib);
    cpu_sgemm_args g = {s->m, s->n, s->k, 1.0f, 0.0f,
                        {t->a + ia * s->m * s->k, s->k, false, NULL, NULL, NULL},
                        {t->b + ib * s->k * s->n, s->n, false, NULL, NULL, NULL},
                        t->c + (int64_t)bi * s->m * s->n, s->n, NULL, t->bias, t->ep, t->ep_arg};
    cpu_sgemm_block(t->isa, &g, 0, s->m, 0, s->n, t->ws + (size_t)tid * t->wsf);
  }
}

onyx_status *cpu_matmul_run(onyx_kernel_ctx *c) { return cpu_matmul_run_ep(c, NULL, NULL, NULL); }

onyx_status *cpu_matmul_run_ep(onyx_kernel_ctx *c, const float *bias, cpu_sgemm_epilogue_fn ep, void *ep_arg) {
  const onyx_tensor *a = c->in[0], *b = c->in[1];
  onyx_tensor *o = c->out[0];
  if (a->dtype != ONYX_DTYPE_FLOAT || b->dtype != ONYX_DTYPE_FLOAT)
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "MatMul of %s is not supported",
                           onyx_dtype_name(a->dtype));
  cpu_mm_shape s;
  ONYX_TRY(cpu_mm_shape_of(c->node, a, b, &s));
  ONYX_TRY(ensure_out(o, s.out_rank, s.out_dims));
  const cpu_sgemm_isa *isa = isa_of(c);
  const matmul_state *st = c->state;
  if (b->rank <= 2) {
    /* B shared by every batch: fold A's batch into M (rows are contiguous) */
    cpu_sgemm_args g = {s.m * s.batch, s.n, s.k, 1.0f, 0.0f, {a->data, s.k, false, NULL, NULL, NULL},
                        {b->data, s.n, false, NULL, NULL, NULL}, o->data, s.n, NULL, bias, ep, ep_arg};
    if (st && st->pb) g.b = (cpu_sgemm_operand){NULL, 0, false, st->pb, NULL, NULL};
    return cpu_sgemm(c->pool, isa, &g);
  }
  int nt = c->pool ? c->pool->nthreads : 1;
  double macs = (double)s.m * (double)s.n * (double)s.k;
  if (s.batch == 1 || (nt > 1 && s.batch < nt && macs >= (1 << 20))) {
    for (int64_t bi = 0; bi < s.batch; bi++) {
      int64_t ia, ib;
      cpu_mm_batch(&s, bi, &ia, &ib);
      cpu_sgemm_args g = {s.m, s.n, s.k, 1.0f, 0.0f,
                          {(const float *)a->data + ia * s.m * s.k, s.k, false, NULL, NULL, NULL},
                          {(const float *)b->data + ib * s.k * s.n, s.n, false, NULL, NULL, NULL},
                          (float *)o->data + bi * s.m * s.n, s.n, NULL, bias, ep, ep_arg};
      ONYX_TRY(cpu_sgemm(c->pool, isa, &g));
    }
    return NULL;
  }
  /* many batches: one single-threaded GEMM per batch, batches in parallel */
  int threads = cpu_sgemm_threads(c->pool, macs * (double)s.batch);
  size_t wsf = (cpu_sgemm_ws_floats(isa, s.m, s.n, s.k) + 15) & ~(size_t)15;
  float *ws = onyx_malloc_aligned((size_t)threads * wsf * sizeof(float));
  if (!ws) return onyx_error_oom();
  batch_task t = {isa, &s, a->data, b->data, o->data, ws, wsf, bias, ep, ep_arg};
  onyx_threadpool pool = {threads};
  onyx_parallel_for(&pool, (size_t)s.batch, 1, batch_run, &t);
  onyx_free_aligned(ws);
  return NULL;
}

/* ---- Gemm -------------------------------------------------------------------- */

onyx_status *cpu_gemm_run(onyx_kernel_ctx *c) { return cpu_gemm_run_ep(c, NULL, NULL); }

onyx_status *cpu_gemm_run_ep(onyx_kernel_ctx *c, cpu_sgemm_epilogue_fn ep, void *ep_arg) {
  const onyx_tensor *a = c->in[0], *b = c->in[1], *cc = c->n_in > 2 ? c->in[2] : NULL;
  onyx_tensor *o = c->out[0];
  const onyx_node *n = c->node;
  if (a->dtype != ONYX_DTYPE_FLOAT || b->dtype != ONYX_DTYPE_FLOAT ||
      (cc && cc->dtype != ONYX_DTYPE_FLOAT))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "Gemm of %s is not supported",
                           onyx_dtype_name(a->dtype));
  if (a->rank != 2 || b->rank != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "A and B must be 2-D");
  bool ta = onyx_attr_int(n, "transA", 0) != 0, tb = onyx_attr_int(n, "transB", 0) != 0;
  float alpha = onyx_attr_float(n, "alpha", 1.0f), beta = onyx_attr_float(n, "beta", 1.0f);
  int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1], nn = b->dims[tb ? 0 : 1];
  if (b->dims[tb ? 1 : 0] != k)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld",
                           (long long)k, (long long)b->dims[tb ? 1 : 0]);
  int64_t od[2] = {m, nn};
  ONYX_TRY(ensure_out(o, 2, od));
  float *y = o->data;
  cpu_sgemm_args g = {m, nn, k, alpha, 0.0f, {a->data, a->dims[1], ta, NULL, NULL, NULL},
                      {b->data, b->dims[1], tb, NULL, NULL, NULL}, y, nn, NULL, NULL, ep, ep_arg};
  const matmul_state *st = c->state;
  if (st && st->pb) g.b = (cpu_sgemm_operand){NULL, 0, false, st->pb, NULL, NULL};
  if (cc && beta != 0.0f) {
    if (cc->rank > 2)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "C has rank %d, expected <= 2", cc->rank);
    int64_t cm = cc->rank == 2 ? cc->dims[0] : 1, cn = cc->rank >= 1 ? cc->dims[cc->rank - 1] : 1;
    if ((cm != 1 && cm != m) || (cn != 1 && cn != nn))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "C [%lld, %lld] cannot broadcast to [%lld, %lld]",
                             (long long)cm, (long long)cn, (long long)m, (long long)nn);
    const float *cv = cc->data;
    if (cm == 1 && cn == nn && beta == 1.0f) {
      g.bias_col = cv; /* the common fully-connected bias: added in the epilogue */
    } else {
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nn; j++) y[i * nn + j] = cv[(cm == 1 ? 0 : i * cn) + (cn == 1 ? 0 : j)];
      g.beta = beta;
    }
  }
  return cpu_sgemm(c->pool, isa_of(c), &g);
}
