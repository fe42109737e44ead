/* cuda_internal.h — what the files of the cuda provider share.
 *
 * The provider (cuda_provider.c) owns one device: its memory space (a
 * stream-ordered pool, cudaMallocAsync), a pool of per-run states (a stream
 * with its cuBLASLt handle and workspace, events for device-side profiling),
 * and the option values. Kernels (cuda_ops.c: the table; cuda_kernels.cu:
 * the CUDA C; cuda_blas.c: cuBLASLt) run on the calling thread and only
 * enqueue work on the run's stream. The CUDA runtime is linked statically
 * and loads the driver when first used, so a machine without one still
 * starts onyx (the provider reports why it is not usable); cuBLASLt is
 * loaded with dlopen when a provider is created (cuda_libs.c).
 *
 * Every CUDA call goes through cu_check, which names the call, the device
 * and the error; errors that leave the context unusable (illegal address,
 * launch failure, ...) come back as ONYX_ERR_DEVICE and mark the provider
 * lost, which makes a session re-plan without it. */
#ifndef ONYX_CUDA_INTERNAL_H
#define ONYX_CUDA_INTERNAL_H

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cuda_kernels.h"
#include "cuda_libs.h"
#include "base/tensor.h"
#include "providers/provider.h"

#define CU_MAX_MARKS 4096

/* Per-run state: a stream and what work on it needs. */
typedef struct cu_run {
  struct cu_provider *cp;
  cudaStream_t stream;
  bool own_stream;            /* false: the caller's (onyx_run_options_set_stream) */
  cudaStream_t pooled;        /* this state's own stream, kept while a caller's is used */
  cublasLtHandle_t lt;
  cudnnHandle_t dnn;          /* NULL without cuDNN */
  void *lt_ws;                /* cuBLASLt workspace (device) */
  size_t lt_ws_size;
  int n_marks;
  cudaEvent_t marks[CU_MAX_MARKS];   /* created on first use */
  int n_events;               /* events created in marks[] */
  cudaEvent_t base;           /* recorded at run_begin, with base_ns the host time then */
  int64_t base_ns;
  struct cu_run *next;        /* in the pool */
} cu_run;

typedef struct cu_provider {
  onyx_provider prov;
  int device;
  onyx_allocator alloc;       /* name "cuda:<device>" */
  cudaMemPool_t pool;
  cudaStream_t side;          /* allocations and frees outside runs */
  int64_t mem_limit;          /* gpu_mem_limit, bytes; 0: none */
  bool tf32;                  /* use_tf32 */
  enum { CU_SEARCH_EXHAUSTIVE, CU_SEARCH_HEURISTIC, CU_SEARCH_DEFAULT } conv_search;   /* cudnn_conv_algo_search */
  atomic_bool lost;
  _Atomic int64_t fault_alloc_at, fault_lose_at;   /* test hooks (provider options) */
  pthread_mutex_t lock;
  cu_run *idle;               /* run states ready for reuse (all of them between runs) */
} cu_provider;

static inline cu_provider *cu_of(onyx_provider *p) { return p->ctx; }

/* NULL for cudaSuccess; else a status naming `what` and the device. Sticky
 * errors mark cp lost and come back as ONYX_ERR_DEVICE, out of memory as
 * ONYX_ERR_OUT_OF_MEMORY. n (may be NULL) names the node. */
onyx_status *cu_check(cu_provider *cp, cudaError_t e, const char *what, const onyx_node *n);
#define CU_TRY(cp, call, n) ONYX_TRY(cu_check((cp), (call), #call, (n)))

/* The kernel table (cuda_ops.c) and lookup. */
const onyx_kernel *cu_kernel_find(const onyx_node *n);
/* NULL when node n's op, dtypes and attributes are taken (cuda_ops.c). */
onyx_status *cu_node_supported(const onyx_graph *g, const onyx_node *n);

/* The kernels' float type for an onyx dtype (float16, bfloat16, else float). */
static inline cu_dt cu_dt_of(onyx_dtype t) {
  return t == ONYX_DTYPE_FLOAT16 ? CU_F16 : t == ONYX_DTYPE_BFLOAT16 ? CU_BF16 : CU_F32;
}

/* Strides of input k (tensor t) broadcast to bc's dims (right-aligned). */
static inline void cu_bcast_input(cu_bcast *bc, int k, const onyx_tensor *t) {
  int64_t st = 1;
  for (int d = bc->rank - 1, j = t->rank - 1; d >= 0; d--, j--) {
    int64_t dim = j >= 0 ? t->dims[j] : 1;
    bc->stride[k][d] = dim == 1 ? 0 : st;
    st *= dim;
  }
}

/* Common start of every kernel's run: the provider, the run state and its
 * stream; a lost device (or the injected fault) answers ONYX_ERR_DEVICE. */
#define CU_BEGIN(c)                                                                                       \
  cu_provider *cp = cu_of((c)->provider);                                                                  \
  cu_run *run = (c)->run_state;                                                                            \
  if (cu_fault_lose(cp))                                                                                   \
    return onyx_error(ONYX_ERR_DEVICE, "node '%s' (%s): cuda:%d: device lost", (c)->node->name,           \
                      (c)->node->op_type, cp->device);                                                     \
  cudaStream_t stream = run->stream;                                                                       \
  (void)stream

/* Conv and pooling on cuDNN (cuda_dnn.c): the kernels and what they take. */
const onyx_kernel *cu_dnn_kernel_find(const onyx_node *n);
onyx_status *cu_dnn_supported(const onyx_graph *g, const onyx_node *n);

/* MatMul / Gemm on cuBLASLt (cuda_blas.c). */
onyx_status *cu_matmul_run(onyx_kernel_ctx *c);
onyx_status *cu_gemm_run(onyx_kernel_ctx *c);

/* Fault injection for tests (options fault_lose_device_at): counts a
 * kernel launch; true when this one must act as if the device was lost. */
bool cu_fault_lose(cu_provider *cp);

#endif
