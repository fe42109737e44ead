/* cuda_blas.c — MatMul and Gemm on cuBLASLt.
 *
 * cuBLASLt is column-major; a row-major matrix is the column-major view of
 * its transpose, so row-major Y = A·B runs as column-major Yᵀ = Bᵀ·Aᵀ with
 * the operands swapped and no data moved. Float32 uses TF32 tensor cores
 * unless the provider's use_tf32 is 0; float16 and bfloat16 accumulate in
 * float32. MatMul batches by strided offsets (a 2-D or batch-1 operand has
 * stride 0); Gemm's C becomes the bias epilogue when it is a row vector and
 * beta is 1, else it is broadcast into Y first and added with beta. The
 * algorithm is cuBLASLt's first heuristic pick within the run's workspace. */
#include <string.h>

#include "cuda_internal.h"

typedef struct lt_mm {
  int64_t m, n, k;            /* row-major: Y[m,n] = A'[m,k] B'[k,n] */
  bool trans_a, trans_b;      /* A stored [k,m] / B stored [n,k] */
  int64_t batch;
  int64_t stride_a, stride_b, stride_y;   /* elements; 0: the operand repeats */
  const void *a, *b, *bias;   /* bias: [n] added to each row of Y, or NULL */
  void *y;
  float alpha, beta;          /* beta != 0: Y holds C already */
  onyx_dtype dtype;
} lt_mm;

static cudaDataType_t cuda_type(onyx_dtype t) {
  return t == ONYX_DTYPE_FLOAT16 ? CUDA_R_16F : t == ONYX_DTYPE_BFLOAT16 ? CUDA_R_16BF : CUDA_R_32F;
}

static onyx_status *lt_error(const onyx_node *n, cublasStatus_t st, const char *what) {
  return onyx_node_error(n, st == CUBLAS_STATUS_ALLOC_FAILED ? ONYX_ERR_OUT_OF_MEMORY : ONYX_ERR_RUNTIME,
                         "cuBLASLt %s failed (status %d)", what, (int)st);
}

#define LT(call, what)                      \
  do {                                      \
    cublasStatus_t st_ = (call);            \
    if (st_ != CUBLAS_STATUS_SUCCESS) {     \
      s = lt_error(c->node, st_, what);     \
      goto done;                            \
    }                                       \
  } while (0)

/* A column-major layout of rows x cols (leading dimension ld), batched. */
static cublasStatus_t layout(const cu_lt_api *lt, cublasLtMatrixLayout_t *l, cudaDataType_t t, int64_t rows,
                             int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
  cublasStatus_t st = lt->layout_create(l, t, (uint64_t)rows, (uint64_t)cols, ld);
  if (st != CUBLAS_STATUS_SUCCESS || batch <= 1) return st;
  int32_t b = (int32_t)batch;
  st = lt->layout_set(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b, sizeof b);
  if (st == CUBLAS_STATUS_SUCCESS) st = lt->layout_set(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride);
  return st;
}

static onyx_status *lt_matmul(onyx_kernel_ctx *c, cu_provider *cp, cu_run *run, const lt_mm *p) {
  const cu_lt_api *lt = cu_lt(NULL);
  onyx_status *s = NULL;
  cublasLtMatmulDesc_t desc = NULL;
  cublasLtMatrixLayout_t la = NULL, lb = NULL, ly = NULL;
  cublasLtMatmulPreference_t pref = NULL;
  cudaDataType_t t = cuda_type(p->dtype);
  cublasComputeType_t ct = p->dtype == ONYX_DTYPE_FLOAT && cp->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  /* swapped operands: "A" is B' (n x k), "B" is A' (k x m), the result n x m */
  cublasOperation_t ta = p->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, tb = p->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  LT(lt->desc_create(&desc, ct, CUDA_R_32F), "MatmulDescCreate");
  LT(lt->desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "MatmulDescSetAttribute");
  LT(lt->desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "MatmulDescSetAttribute");
  if (p->bias) {
    cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    LT(lt->desc_set(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep), "MatmulDescSetAttribute");
    LT(lt->desc_set(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p->bias, sizeof p->bias), "MatmulDescSetAttribute");
  }
  /* B' stored as [k, n] row-major (n x k column-major, ld n) or, transposed, [n, k] (k x n, ld k) */
  LT(layout(lt, &la, t, p->trans_b ? p->k : p->n, p->trans_b ? p->n : p->k, p->trans_b ? p->k : p->n, p->batch,
            p->stride_b),
     "MatrixLayoutCreate");
  LT(layout(lt, &lb, t, p->trans_a ? p->m : p->k, p->trans_a ? p->k : p->m, p->trans_a ? p->m : p->k, p->batch,
            p->stride_a),
     "MatrixLayoutCreate");
  LT(layout(lt, &ly, t, p->n, p->m, p->n, p->batch, p->stride_y), "MatrixLayoutCreate");
  LT(lt->pref_create(&pref), "MatmulPreferenceCreate");
  size_t ws = run->lt_ws_size;
  LT(lt->pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), "MatmulPreferenceSetAttribute");
  cublasLtMatmulHeuristicResult_t h;
  int found = 0;
  LT(lt->heuristic(run->lt, desc, la, lb, ly, ly, pref, 1, &h, &found), "MatmulAlgoGetHeuristic");
  if (!found) {
    s = onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuBLASLt has no algorithm for this matmul");
    goto done;
  }
  LT(lt->matmul(run->lt, desc, &p->alpha, p->b, la, p->a, lb, &p->beta, p->y, ly, p->y, ly, &h.algo, run->lt_ws,
                run->lt_ws_size, run->stream),
     "Matmul");
done:
  if (pref) lt->pref_destroy(pref);
  if (ly) lt->layout_destroy(ly);
  if (lb) lt->layout_destroy(lb);
  if (la) lt->layout_destroy(la);
  if (desc) lt->desc_destroy(desc);
  return s;
}

/* The batch count of dims[0..rank-2) (1 for rank <= 2). */
static int64_t batch_of(const onyx_tensor *t) { return t->rank > 2 ? onyx_numel(t->rank - 2, t->dims) : 1; }

onyx_status *cu_matmul_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  const onyx_tensor *a = c->in[0], *b = c->in[1];
  onyx_tensor *y = c->out[0];
  if (!y->data) return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: output 0 was not sized before the kernel");
  if (!onyx_numel(y->rank, y->dims)) return NULL;
  lt_mm p = {0};
  p.m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
  p.k = a->dims[a->rank - 1];
  p.n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  int64_t ba = batch_of(a), bb = batch_of(b);
  p.batch = ba > bb ? ba : bb;
  if ((ba != 1 && ba != p.batch) || (bb != 1 && bb != p.batch) || onyx_numel(y->rank, y->dims) != p.batch * p.m * p.n)
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "cuda: MatMul batch dims that broadcast both ways");
  if (!p.k) return cu_check(cp, cudaMemsetAsync(y->data, 0, y->nbytes, run->stream), "cudaMemsetAsync", c->node);
  p.stride_a = ba == 1 ? 0 : p.m * p.k;
  p.stride_b = bb == 1 ? 0 : p.k * p.n;
  p.stride_y = p.m * p.n;
  p.a = a->data;
  p.b = b->data;
  p.y = y->data;
  p.alpha = 1;
  p.dtype = a->dtype;
  return lt_matmul(c, cp, run, &p);
}

onyx_status *cu_gemm_run(onyx_kernel_ctx *c) {
  CU_BEGIN(c);
  const onyx_node *n = c->node;
  const onyx_tensor *a = c->in[0], *b = c->in[1], *cc = c->n_in > 2 ? c->in[2] : NULL;
  onyx_tensor *y = c->out[0];
  if (!y->data) return onyx_node_error(n, ONYX_ERR_RUNTIME, "cuda: output 0 was not sized before the kernel");
  lt_mm p = {0};
  p.trans_a = onyx_attr_int(n, "transA", 0) != 0;
  p.trans_b = onyx_attr_int(n, "transB", 0) != 0;
  p.m = y->dims[0];
  p.n = y->dims[1];
  p.k = p.trans_a ? a->dims[0] : a->dims[1];
  p.batch = 1;
  p.a = a->data;
  p.b = b->data;
  p.y = y->data;
  p.alpha = onyx_attr_float(n, "alpha", 1.0f);
  p.dtype = a->dtype;
  float beta = onyx_attr_float(n, "beta", 1.0f);
  if (!p.m || !p.n) return NULL;
  if (cc && beta != 0) {
    int64_t cn = onyx_numel(cc->rank, cc->dims);
    bool row = cn == p.n && (cc->rank == 1 || (cc->rank == 2 && cc->dims[0] == 1));
    if (row && beta == 1 && p.k) {
      p.bias = cc->data;
    } else {   /* C broadcast into Y, then Y = alpha A'B' + beta Y */
      cu_bcast bc = {.rank = 2, .dims = {p.m, p.n}};
      cu_bcast_input(&bc, 0, cc);
      ONYX_TRY(cu_check(cp, cu_expand((int)onyx_dtype_size(y->dtype), cc->data, y->data, p.m * p.n, &bc, run->stream),
                        "cu_expand", n));
      p.beta = beta;
    }
  }
  if (!p.k) {   /* no products: Y is beta*C (or 0) */
    if (p.beta == 0 && !p.bias)
      return cu_check(cp, cudaMemsetAsync(y->data, 0, y->nbytes, run->stream), "cudaMemsetAsync", n);
    if (p.beta != 1)
      return cu_check(cp, cu_unary(CU_SCALE, cu_dt_of(y->dtype), y->data, y->data, p.m * p.n, p.beta, 0, run->stream),
                      "cu_unary", n);
    return NULL;
  }
  return lt_matmul(c, cp, run, &p);
}
