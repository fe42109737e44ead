/* reduce_einsum.c — cpu kernels of Einsum and Det, the family's linear
 * algebra. Both compute in double whatever the input dtype, for accuracy.
 *
 * Einsum is reduced to steps that each are simple loops: an operand is a
 * buffer plus one stride per distinct label (a repeated label — a diagonal —
 * gets the sum of its dims' strides; a broadcast ellipsis dim of size 1 gets
 * stride 0). Operands are contracted pairwise, left to right: each pair is
 * packed (a strided gather that also sums labels no one else needs) into
 * [batch, m, k] and [batch, k, n] and multiplied as a batched matmul. The
 * last operand is gathered into the output's label order, summing whatever
 * labels the output drops. */
#include <math.h>
#include <string.h>

#include "ops/reduce_ops.h"
#include "reduce_kernels.h"

typedef struct operand {
  double *data;   /* owned */
  int nl;
  int label[ONYX_EINSUM_MAX_LABELS];
  int64_t stride[ONYX_EINSUM_MAX_LABELS];
} operand;

static int find_label(const operand *o, int l) {
  for (int i = 0; i < o->nl; i++)
    if (o->label[i] == l) return i;
  return -1;
}

/* dst[o] = sum over the `sum` labels of src, for o over the `out` labels in
 * row-major order; size[] gives each label's extent. */
static onyx_status *gather_sum(const operand *src, const int *out, int n_out, const int *sum, int n_sum,
                               const int64_t *size, double *dst) {
  int64_t ns = 1, no = 1;
  for (int i = 0; i < n_sum; i++) ns *= size[sum[i]];
  for (int i = 0; i < n_out; i++) no *= size[out[i]];
  if (no == 0) return NULL;
  int64_t *soff = onyx_malloc((size_t)ns * sizeof *soff + 1);
  if (!soff) return onyx_error_oom();
  int64_t idx[ONYX_EINSUM_MAX_LABELS] = {0}, off = 0;
  for (int64_t s = 0; s < ns; s++) {
    soff[s] = off;
    for (int d = n_sum - 1; d >= 0; d--) {
      int64_t st = src->stride[find_label(src, sum[d])];
      off += st;
      if (++idx[d] < size[sum[d]]) break;
      off -= st * size[sum[d]];
      idx[d] = 0;
    }
  }
  memset(idx, 0, sizeof idx);
  off = 0;
  for (int64_t o = 0; o < no; o++) {
    double acc = 0;
    for (int64_t s = 0; s < ns; s++) acc += src->data[off + soff[s]];
    dst[o] = acc;
    for (int d = n_out - 1; d >= 0; d--) {
      int64_t st = src->stride[find_label(src, out[d])];
      off += st;
      if (++idx[d] < size[out[d]]) break;
      off -= st * size[out[d]];
      idx[d] = 0;
    }
  }
  onyx_free(soff);
  return NULL;
}

typedef struct mmjob {
  const double *a, *b;
  double *c;
  int64_t m, k, n;
} mmjob;

/* rows u of the batched product: row = batch * m + i */
static void mm_fn(void *arg, size_t u0, size_t u1, int tid) {
  (void)tid;
  const mmjob *j = arg;
  for (size_t u = u0; u < u1; u++) {
    int64_t bt = (int64_t)u / j->m;
    const double *a = j->a + (int64_t)u * j->k, *b = j->b + bt * j->k * j->n;
    double *c = j->c + (int64_t)u * j->n;
    for (int64_t x = 0; x < j->n; x++) c[x] = 0;
    for (int64_t p = 0; p < j->k; p++) {
      double av = a[p];
      const double *br = b + p * j->n;
      for (int64_t x = 0; x < j->n; x++) c[x] += av * br[x];
    }
  }
}

/* Contracts A and B into *r, keeping labels with keep[l] set. */
static onyx_status *contract(const operand *A, const operand *B, const bool *keep, const int64_t *size,
                             const onyx_threadpool *pool, operand *r) {
  /* labels by role: batch (both, kept), m (A only, kept), k (both, summed),
   * n (B only, kept), sa/sb (one side only, summed while packing) */
  int bl[ONYX_EINSUM_MAX_LABELS], ml[ONYX_EINSUM_MAX_LABELS], kl[ONYX_EINSUM_MAX_LABELS];
  int nl[ONYX_EINSUM_MAX_LABELS], sa[ONYX_EINSUM_MAX_LABELS], sb[ONYX_EINSUM_MAX_LABELS];
  int nb = 0, nm = 0, nk = 0, nn = 0, nsa = 0, nsb = 0;
  int64_t Bt = 1, M = 1, K = 1, N = 1;
  for (int i = 0; i < A->nl; i++) {
    int l = A->label[i];
    bool inb = find_label(B, l) >= 0;
    if (inb && keep[l]) bl[nb++] = l, Bt *= size[l];
    else if (inb) kl[nk++] = l, K *= size[l];
    else if (keep[l]) ml[nm++] = l, M *= size[l];
    else sa[nsa++] = l;
  }
  for (int i = 0; i < B->nl; i++) {
    int l = B->label[i];
    if (find_label(A, l) >= 0) continue;
    if (keep[l]) nl[nn++] = l, N *= size[l];
    else sb[nsb++] = l;
  }
  onyx_status *s = NULL;
  double *pa = onyx_malloc((size_t)(Bt * M * K) * sizeof *pa + 1);
  double *pb = onyx_malloc((size_t)(Bt * K * N) * sizeof *pb + 1);
  double *pc = onyx_malloc((size_t)(Bt * M * N) * sizeof *pc + 1);
  if (!pa || !pb || !pc) {
    s = onyx_error_oom();
    goto done;
  }
  int la[ONYX_EINSUM_MAX_LABELS], lb[ONYX_EINSUM_MAX_LABELS];
  memcpy(la, bl, (size_t)nb * sizeof *la);
  memcpy(la + nb, ml, (size_t)nm * sizeof *la);
  memcpy(la + nb + nm, kl, (size_t)nk * sizeof *la);
  memcpy(lb, bl, (size_t)nb * sizeof *lb);
  memcpy(lb + nb, kl, (size_t)nk * sizeof *lb);
  memcpy(lb + nb + nk, nl, (size_t)nn * sizeof *lb);
  if ((s = gather_sum(A, la, nb + nm + nk, sa, nsa, size, pa))) goto done;
  if ((s = gather_sum(B, lb, nb + nk + nn, sb, nsb, size, pb))) goto done;
  mmjob j = {pa, pb, pc, M, K, N};
  int64_t per = K * N;
  onyx_parallel_for(pool, (size_t)(Bt * M), per >= 8192 ? 1 : (size_t)(8192 / (per ? per : 1)), mm_fn, &j);
  r->nl = nb + nm + nn;
  memcpy(r->label, bl, (size_t)nb * sizeof *bl);
  memcpy(r->label + nb, ml, (size_t)nm * sizeof *ml);
  memcpy(r->label + nb + nm, nl, (size_t)nn * sizeof *nl);
  int64_t st = 1;
  for (int i = r->nl - 1; i >= 0; i--) {
    r->stride[i] = st;
    st *= size[r->label[i]];
  }
  r->data = pc;
  pc = NULL;
done:
  onyx_free(pa);
  onyx_free(pb);
  onyx_free(pc);
  return s;
}

onyx_status *cpu_einsum_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  int ranks[ONYX_EINSUM_MAX_INPUTS];
  if (c->n_in > ONYX_EINSUM_MAX_INPUTS)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "more than %d inputs", ONYX_EINSUM_MAX_INPUTS);
  for (int i = 0; i < c->n_in; i++) {
    if (!c->in[i] || !cpu_reduce_numeric(c->in[i]->dtype))
      return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "input %d: dtype not supported", i);
    ranks[i] = c->in[i]->rank;
  }
  if (!cpu_reduce_numeric(c->out[0]->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported",
                           onyx_dtype_name(c->out[0]->dtype));
  onyx_einsum e;
  ONYX_TRY(onyx_einsum_parse(nd, c->n_in, ranks, &e));
  int64_t size[ONYX_EINSUM_MAX_LABELS];
  for (int l = 0; l < ONYX_EINSUM_MAX_LABELS; l++) size[l] = -1;
  for (int i = 0; i < c->n_in; i++)
    for (int d = 0; d < e.in_rank[i]; d++) {
      int l = e.in_label[i][d];
      int64_t v = c->in[i]->dims[d];
      if (size[l] < 0 || (l >= ONYX_EINSUM_ELLIPSIS0 && size[l] == 1)) size[l] = v;
      else if (v != size[l] && !(l >= ONYX_EINSUM_ELLIPSIS0 && v == 1))
        return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input %d dim %d has size %lld, expected %lld", i,
                               d, (long long)v, (long long)size[l]);
    }
  int64_t od[ONYX_MAX_RANK];
  for (int d = 0; d < e.out_rank; d++) od[d] = size[e.out_label[d]];
  ONYX_TRY(cpu_reduce_ensure(c->out[0], e.out_rank, od));

  operand ops[ONYX_EINSUM_MAX_INPUTS];
  memset(ops, 0, sizeof ops);
  operand cur = {0};
  double *res = NULL;
  onyx_status *s = NULL;
  for (int i = 0; i < c->n_in; i++) {
    const onyx_tensor *x = c->in[i];
    int64_t nx = onyx_numel(x->rank, x->dims);
    ops[i].data = onyx_malloc((size_t)nx * sizeof(double) + 1);
    if (!ops[i].data) {
      s = onyx_error_oom();
      goto done;
    }
    cpu_reduce_load_f64(x->dtype, x->data, nx, ops[i].data);
    int64_t st = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
      int l = e.in_label[i][d];
      int64_t eff = x->dims[d] == 1 && size[l] != 1 ? 0 : st;  /* broadcast ellipsis dim */
      int k = find_label(&ops[i], l);
      if (k >= 0) {
        ops[i].stride[k] += eff;
      } else {
        /* prepend so labels keep the input's order */
        memmove(ops[i].label + 1, ops[i].label, (size_t)ops[i].nl * sizeof(int));
        memmove(ops[i].stride + 1, ops[i].stride, (size_t)ops[i].nl * sizeof(int64_t));
        ops[i].label[0] = l;
        ops[i].stride[0] = eff;
        ops[i].nl++;
      }
      st *= x->dims[d];
    }
  }
  cur = ops[0];
  ops[0].data = NULL;
  for (int i = 1; i < c->n_in; i++) {
    bool keep[ONYX_EINSUM_MAX_LABELS] = {false};
    for (int d = 0; d < e.out_rank; d++) keep[e.out_label[d]] = true;
    for (int k = i + 1; k < c->n_in; k++)
      for (int d = 0; d < ops[k].nl; d++) keep[ops[k].label[d]] = true;
    operand next = {0};
    if ((s = contract(&cur, &ops[i], keep, size, c->pool, &next))) goto done;
    onyx_free(cur.data);
    cur = next;
  }
  int sum[ONYX_EINSUM_MAX_LABELS], nsum = 0;
  for (int d = 0; d < cur.nl; d++) {
    bool in_out = false;
    for (int k = 0; k < e.out_rank; k++) in_out |= e.out_label[k] == cur.label[d];
    if (!in_out) sum[nsum++] = cur.label[d];
  }
  int64_t ny = onyx_numel(e.out_rank, od);
  res = onyx_malloc((size_t)ny * sizeof *res + 1);
  if (!res) {
    s = onyx_error_oom();
    goto done;
  }
  if ((s = gather_sum(&cur, e.out_label, e.out_rank, sum, nsum, size, res))) goto done;
  cpu_reduce_store_f64(c->out[0]->dtype, res, ny, c->out[0]->data);
done:
  for (int i = 0; i < c->n_in; i++) onyx_free(ops[i].data);
  onyx_free(cur.data);
  onyx_free(res);
  return s;
}

/* ---- Det ------------------------------------------------------------------------- */

/* Determinant of the n x n matrix a (overwritten) by LU with partial pivoting. */
static double det_lu(double *a, int64_t n) {
  double det = 1;
  for (int64_t k = 0; k < n; k++) {
    int64_t p = k;
    for (int64_t i = k + 1; i < n; i++)
      if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
    if (a[p * n + k] == 0) return 0;
    if (p != k) {
      for (int64_t j = 0; j < n; j++) {
        double t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
      det = -det;
    }
    double piv = a[k * n + k];
    det *= piv;
    for (int64_t i = k + 1; i < n; i++) {
      double f = a[i * n + k] / piv;
      for (int64_t j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return det;
}

onyx_status *cpu_det_run(onyx_kernel_ctx *c) {
  const onyx_node *nd = c->node;
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input must be [..., n, n]");
  if (!cpu_reduce_numeric(x->dtype) || x->dtype != y->dtype)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(x->dtype));
  ONYX_TRY(cpu_reduce_ensure(y, x->rank - 2, x->dims));
  int64_t n = x->dims[x->rank - 1], nb = onyx_numel(x->rank - 2, x->dims);
  double *a = onyx_malloc((size_t)(n * n) * sizeof *a + 1);
  if (!a) return onyx_error_oom();
  size_t es = onyx_dtype_size(x->dtype);
  for (int64_t b = 0; b < nb; b++) {
    cpu_reduce_load_f64(x->dtype, (const char *)x->data + (size_t)(b * n * n) * es, n * n, a);
    double d = det_lu(a, n);
    cpu_reduce_store_f64(y->dtype, &d, 1, (char *)y->data + (size_t)b * es);
  }
  onyx_free(a);
  return NULL;
}
