/* cuda_provider.c — the cuda provider: one NVIDIA GPU (device_id) as a
 * memory space with a stream-ordered pool, per-run streams, device-side
 * profiling with CUDA events, error mapping, and what `onyx info` says
 * about the machine's GPUs.
 *
 * Options (ORT's names where ORT has them):
 *   device_id=N                 the GPU (default 0); an invalid one fails at creation
 *   gpu_mem_limit=BYTES         the most the provider's allocations may hold (default: none)
 *   arena_extend_strategy=kNextPowerOfTwo|kSameAsRequested
 *                               kNextPowerOfTwo (default) keeps freed pool memory for
 *                               reuse; kSameAsRequested returns it to the driver at each sync
 *   share_memory_pool=0|1       1: use the device's default pool, shared by every session
 *                               on the device (and other CUDA code in the process)
 *   use_tf32=0|1                float32 MatMul/Gemm/Conv on TF32 tensor cores (default 1, as ORT)
 *   cudnn_conv_algo_search=EXHAUSTIVE|HEURISTIC|DEFAULT
 *                               how a Conv's algorithm is chosen, once per input shape:
 *                               timing every candidate (default, as ORT), cuDNN's first
 *                               suggestion, or implicit-precomputed GEMM
 *   fault_alloc_at=N            test hook: the N-th device allocation fails, once
 *   fault_lose_device_at=N      test hook: the N-th kernel reports the device lost */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "cuda_internal.h"

/* ---- errors ------------------------------------------------------------------------- */

/* Errors after which the context cannot be used again: the device is lost
 * for this process. */
static bool sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress: case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc: case cudaErrorAssert: case cudaErrorECCUncorrectable: case cudaErrorLaunchTimeout:
    case cudaErrorDevicesUnavailable: case cudaErrorUnknown:
      return true;
    default:
      return false;
  }
}

onyx_status *cu_check(cu_provider *cp, cudaError_t e, const char *what, const onyx_node *n) {
  if (e == cudaSuccess) return NULL;
  char where[192] = "";
  if (n) snprintf(where, sizeof where, "node '%s' (%s): ", n->name, n->op_type);
  int dev = cp ? cp->device : -1;
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();   /* not sticky: clear it */
    return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%scuda:%d: %s: out of memory", where, dev, what);
  }
  if (sticky(e)) {
    if (cp) atomic_store(&cp->lost, true);
    return onyx_error(ONYX_ERR_DEVICE, "%scuda:%d: %s: %s (%s); the device is lost for this process", where, dev,
                      what, cudaGetErrorName(e), cudaGetErrorString(e));
  }
  cudaGetLastError();
  return onyx_error(ONYX_ERR_RUNTIME, "%scuda:%d: %s: %s (%s)", where, dev, what, cudaGetErrorName(e),
                    cudaGetErrorString(e));
}

bool cu_fault_lose(cu_provider *cp) {
  if (atomic_load(&cp->fault_lose_at) > 0 && atomic_fetch_sub(&cp->fault_lose_at, 1) == 1) {
    atomic_store(&cp->lost, true);
    return true;
  }
  return atomic_load(&cp->lost);
}

static onyx_status *lost_error(cu_provider *cp) {
  return onyx_error(ONYX_ERR_DEVICE, "cuda:%d: the device was lost earlier in this process", cp->device);
}

/* The calling thread's current device must be the provider's. */
static cudaError_t use(cu_provider *cp) {
  int cur = -1;
  cudaError_t e = cudaGetDevice(&cur);
  return e == cudaSuccess && cur == cp->device ? cudaSuccess : cudaSetDevice(cp->device);
}

/* ---- memory ------------------------------------------------------------------------------ */

static void *pool_alloc(cu_provider *cp, size_t n, cudaStream_t s) {
  if (atomic_load(&cp->fault_alloc_at) > 0 && atomic_fetch_sub(&cp->fault_alloc_at, 1) == 1) return NULL;
  if (cp->mem_limit && atomic_load(&cp->alloc.in_use) + (int64_t)n > cp->mem_limit) return NULL;
  if (use(cp) != cudaSuccess) return NULL;
  void *p = NULL;
  cudaError_t e = cudaMallocFromPoolAsync(&p, n ? n : 1, cp->pool, s);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  return p;
}

static void *cu_alloc(onyx_allocator *a, size_t n) {
  cu_provider *cp = a->ctx;
  void *p = pool_alloc(cp, n, cp->side);
  if (p && cudaStreamSynchronize(cp->side) != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  return p;
}

static void *cu_alloc_async(onyx_allocator *a, size_t n, void *rs) {
  return pool_alloc(a->ctx, n, ((cu_run *)rs)->stream);
}

static void cu_release(onyx_allocator *a, void *p, size_t n) {
  cu_provider *cp = a->ctx;
  (void)n;
  if (use(cp) != cudaSuccess || cudaFreeAsync(p, cp->side) != cudaSuccess || cudaStreamSynchronize(cp->side))
    cudaGetLastError();   /* a lost device frees nothing more; the pool goes with the process */
}

static void cu_release_async(onyx_allocator *a, void *p, size_t n, void *rs) {
  (void)a;
  (void)n;
  if (cudaFreeAsync(p, ((cu_run *)rs)->stream) != cudaSuccess) cudaGetLastError();
}

static onyx_status *cu_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind, void *rs) {
  cu_provider *cp = a->ctx;
  if (atomic_load(&cp->lost)) return lost_error(cp);
  CU_TRY(cp, use(cp), NULL);
  enum cudaMemcpyKind k = kind == ONYX_COPY_TO_DEVICE ? cudaMemcpyHostToDevice
                          : kind == ONYX_COPY_TO_HOST ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  cudaStream_t s = rs ? ((cu_run *)rs)->stream : cp->side;
  /* from pageable host memory the call returns once the source is staged,
   * which is what allocator.h asks */
  CU_TRY(cp, cudaMemcpyAsync(dst, src, n, k, s), NULL);
  if (!rs) CU_TRY(cp, cudaStreamSynchronize(s), NULL);
  return NULL;
}

static int64_t cu_reserved(onyx_allocator *a) {
  cu_provider *cp = a->ctx;
  uint64_t v = 0;
  if (cudaMemPoolGetAttribute(cp->pool, cudaMemPoolAttrReservedMemCurrent, &v) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return (int64_t)v;
}

static const onyx_allocator_iface cu_alloc_iface = {cu_alloc, cu_release, cu_release_async, cu_copy, cu_reserved,
                                                    cu_alloc_async};

/* ---- runs ------------------------------------------------------------------------------------ */

#define LT_WORKSPACE (32u << 20)   /* cuBLASLt's recommendation for Hopper */

static void run_free(cu_provider *cp, cu_run *r) {
  use(cp);
  for (int i = 0; i < r->n_events; i++) cudaEventDestroy(r->marks[i]);
  if (r->base) cudaEventDestroy(r->base);
  if (r->lt_ws) cudaFreeAsync(r->lt_ws, r->pooled), cudaStreamSynchronize(r->pooled);
  if (r->lt) cu_lt(NULL)->destroy(r->lt);
  if (r->dnn) cu_dnn(NULL)->destroy(r->dnn);
  if (r->pooled) cudaStreamDestroy(r->pooled);
  cudaGetLastError();
  onyx_free(r);
}

static onyx_status *run_new(cu_provider *cp, cu_run **out) {
  cu_run *r = onyx_calloc(1, sizeof *r);
  if (!r) return onyx_error_oom();
  r->cp = cp;
  onyx_status *s = cu_check(cp, cudaStreamCreateWithFlags(&r->pooled, cudaStreamNonBlocking), "cudaStreamCreate", NULL);
  if (!s) s = cu_check(cp, cudaEventCreate(&r->base), "cudaEventCreate", NULL);
  if (!s && cu_lt(NULL)->create(&r->lt) != CUBLAS_STATUS_SUCCESS) {
    r->lt = NULL;
    s = onyx_error(ONYX_ERR_DEVICE, "cuda:%d: cublasLtCreate failed", cp->device);
  }
  const cu_dnn_api *dnn = cu_dnn(NULL);
  if (!s && dnn && dnn->create(&r->dnn) != CUDNN_STATUS_SUCCESS) {
    r->dnn = NULL;
    s = onyx_error(ONYX_ERR_DEVICE, "cuda:%d: cudnnCreate failed", cp->device);
  }
  if (!s) s = cu_check(cp, cudaMallocFromPoolAsync(&r->lt_ws, LT_WORKSPACE, cp->pool, r->pooled), "cudaMallocAsync", NULL);
  if (!s) r->lt_ws_size = LT_WORKSPACE;
  if (s) {
    run_free(cp, r);
    return s;
  }
  *out = r;
  return NULL;
}

static onyx_status *cu_run_begin(onyx_provider *p, const onyx_run_config *rc, void **state) {
  cu_provider *cp = cu_of(p);
  if (atomic_load(&cp->lost)) return lost_error(cp);
  CU_TRY(cp, use(cp), NULL);
  pthread_mutex_lock(&cp->lock);
  cu_run *r = cp->idle;
  if (r) cp->idle = r->next;
  pthread_mutex_unlock(&cp->lock);
  if (!r) ONYX_TRY(run_new(cp, &r));
  /* the caller's stream, when the run options give one */
  r->own_stream = !(rc && rc->stream);
  r->stream = r->own_stream ? r->pooled : (cudaStream_t)rc->stream;
  r->n_marks = 0;
  onyx_status *s = cu_check(cp, cudaEventRecord(r->base, r->stream), "cudaEventRecord", NULL);
  if (!s && r->dnn && cu_dnn(NULL)->set_stream(r->dnn, r->stream) != CUDNN_STATUS_SUCCESS)
    s = onyx_error(ONYX_ERR_RUNTIME, "cuda:%d: cudnnSetStream failed", cp->device);
  r->base_ns = onyx_now_ns();
  if (s) {
    pthread_mutex_lock(&cp->lock);
    r->next = cp->idle;
    cp->idle = r;
    pthread_mutex_unlock(&cp->lock);
    return s;
  }
  *state = r;
  return NULL;
}

static onyx_status *cu_sync(onyx_provider *p, void *state) {
  cu_provider *cp = cu_of(p);
  cu_run *r = state;
  onyx_status *s = cu_check(cp, cudaStreamSynchronize(r->stream), "cudaStreamSynchronize", NULL);
  if (!s && atomic_load(&cp->lost)) s = lost_error(cp);
  return s;
}

static void cu_run_end(onyx_provider *p, void *state) {
  cu_provider *cp = cu_of(p);
  cu_run *r = state;
  pthread_mutex_lock(&cp->lock);
  r->next = cp->idle;
  cp->idle = r;
  pthread_mutex_unlock(&cp->lock);
}

static int64_t cu_mark(onyx_provider *p, void *state) {
  cu_run *r = state;
  (void)p;
  if (r->n_marks == CU_MAX_MARKS) return -1;
  if (r->n_marks == r->n_events) {
    if (cudaEventCreate(&r->marks[r->n_events]) != cudaSuccess) {
      cudaGetLastError();
      return -1;
    }
    r->n_events++;
  }
  if (cudaEventRecord(r->marks[r->n_marks], r->stream) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return r->n_marks++;
}

static int64_t cu_mark_time(onyx_provider *p, void *state, int64_t token) {
  cu_run *r = state;
  (void)p;
  float ms = 0;
  if (token < 0 || token >= r->n_marks || cudaEventElapsedTime(&ms, r->base, r->marks[token]) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return r->base_ns + (int64_t)((double)ms * 1e6);
}

/* ---- the provider -------------------------------------------------------------------------------- */

static onyx_status *cu_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  return cu_node_supported(g, n);
}

static const onyx_kernel *cu_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return cu_kernel_find(n);
}

static onyx_allocator *cu_allocator(onyx_provider *p) { return &cu_of(p)->alloc; }

static bool shares_default_pool(const cu_provider *cp) {
  cudaMemPool_t def = NULL;
  return cudaDeviceGetDefaultMemPool(&def, cp->device) == cudaSuccess && def == cp->pool;
}

static void cu_destroy(onyx_provider *p) {
  cu_provider *cp = cu_of(p);
  if (!cp) return;
  while (cp->idle) {   /* no run is in flight when a provider is destroyed */
    cu_run *r = cp->idle;
    cp->idle = r->next;
    run_free(cp, r);
  }
  use(cp);
  if (cp->side) cudaStreamDestroy(cp->side);
  if (cp->pool && !shares_default_pool(cp)) cudaMemPoolDestroy(cp->pool);
  cudaGetLastError();
  pthread_mutex_destroy(&cp->lock);
  onyx_free(cp);
}

static const onyx_provider_iface cu_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION,
    .supports = cu_supports,
    .kernel_for = cu_kernel_for,
    .allocator = cu_allocator,
    .run_begin = cu_run_begin,
    .sync = cu_sync,
    .run_end = cu_run_end,
    .mark = cu_mark,
    .mark_time = cu_mark_time,
    .destroy = cu_destroy,
};

/* ---- availability ---------------------------------------------------------------------------------- */

static char why_not[256];
static int n_devices;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  const char *lt_why = NULL;
  if (e != cudaSuccess) {
    cudaGetLastError();
    snprintf(why_not, sizeof why_not, "compiled in, not usable here: %s (%s)",
             e == cudaErrorNoDevice ? "no NVIDIA GPU" : e == cudaErrorInsufficientDriver ? "no usable NVIDIA driver"
                                                                                          : cudaGetErrorName(e),
             cudaGetErrorString(e));
  } else if (n == 0) {
    snprintf(why_not, sizeof why_not, "compiled in, not usable here: no NVIDIA GPU");
  } else if (!cu_lt(&lt_why)) {
    snprintf(why_not, sizeof why_not, "compiled in, not usable here: %s", lt_why);
  } else {
    n_devices = n;
  }
}

static bool cu_available(void) {
  pthread_once(&probe_once, probe);
  return n_devices > 0;
}

static const char *cu_unusable(void) {
  pthread_once(&probe_once, probe);
  return n_devices > 0 ? NULL : why_not;
}

int onyx_gpu_count(void) {
  pthread_once(&probe_once, probe);
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

onyx_status *onyx_gpu_info_get(int i, onyx_gpu_info *out) {
  int n = onyx_gpu_count();
  if (i < 0 || i >= n) return onyx_error(ONYX_ERR_NOT_FOUND, "GPU %d: this machine has %d", i, n);
  struct cudaDeviceProp prop;
  CU_TRY(NULL, cudaGetDeviceProperties(&prop, i), NULL);
  memset(out, 0, sizeof *out);
  out->index = i;
  snprintf(out->name, sizeof out->name, "%.127s", prop.name);
  out->sm_count = prop.multiProcessorCount;
  out->cc_major = prop.major;
  out->cc_minor = prop.minor;
  out->total_memory = (int64_t)prop.totalGlobalMem;
  cudaDriverGetVersion(&out->driver_version);
  cudaRuntimeGetVersion(&out->runtime_version);
  int prev = -1;
  size_t fr = 0, tot = 0;
  if (cudaGetDevice(&prev) == cudaSuccess && cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&fr, &tot) == cudaSuccess)
    out->free_memory = (int64_t)fr;
  if (prev >= 0) cudaSetDevice(prev);
  cudaGetLastError();
  const char *why = NULL;
  const cu_lt_api *lt = cu_lt(&why);
  if (lt) out->cublas_version = (int)lt->get_version();
  const cu_dnn_api *dnn = cu_dnn(NULL);
  if (dnn) out->cudnn_version = (int)dnn->get_version();
  if (prop.major < 7) snprintf(out->usable, sizeof out->usable, "compute capability %d.%d is below 7.0", prop.major, prop.minor);
  else if (!lt) snprintf(out->usable, sizeof out->usable, "%.120s", why);
  return NULL;
}

/* ---- creation ----------------------------------------------------------------------------------------- */

static onyx_status *parse_i64(const char *key, const char *v, int64_t lo, int64_t *out) {
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || x < lo)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider 'cuda': %s='%s' is not an integer >= %lld", key, v,
                      (long long)lo);
  *out = x;
  return NULL;
}

static onyx_status *parse_bool(const char *key, const char *v, bool *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true")) *out = true;
  else if (!strcmp(v, "0") || !strcmp(v, "false")) *out = false;
  else return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider 'cuda': %s='%s' is not 0 or 1", key, v);
  return NULL;
}

static onyx_status *cu_create(int n_opts, const char *const *keys, const char *const *values, onyx_provider **out) {
  int64_t device = 0, limit = 0, fault_alloc = 0, fault_lose = 0;
  bool tf32 = true, share = false, keep_memory = true;
  int search = CU_SEARCH_EXHAUSTIVE;
  for (int i = 0; i < n_opts; i++) {
    const char *k = keys[i], *v = values[i];
    if (!strcmp(k, "device_id")) ONYX_TRY(parse_i64(k, v, 0, &device));
    else if (!strcmp(k, "gpu_mem_limit")) ONYX_TRY(parse_i64(k, v, 0, &limit));
    else if (!strcmp(k, "use_tf32")) ONYX_TRY(parse_bool(k, v, &tf32));
    else if (!strcmp(k, "share_memory_pool")) ONYX_TRY(parse_bool(k, v, &share));
    else if (!strcmp(k, "fault_alloc_at")) ONYX_TRY(parse_i64(k, v, 0, &fault_alloc));
    else if (!strcmp(k, "fault_lose_device_at")) ONYX_TRY(parse_i64(k, v, 0, &fault_lose));
    else if (!strcmp(k, "cudnn_conv_algo_search")) {
      static const char *const names[] = {"EXHAUSTIVE", "HEURISTIC", "DEFAULT"};   /* CU_SEARCH_* order */
      search = -1;
      for (int j = 0; j < 3 && search < 0; j++)
        if (!strcmp(v, names[j])) search = j;
      if (search < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "provider 'cuda': cudnn_conv_algo_search '%s' is not EXHAUSTIVE, HEURISTIC or DEFAULT", v);
    } else if (!strcmp(k, "arena_extend_strategy")) {
      if (!strcmp(v, "kNextPowerOfTwo") || !strcmp(v, "0")) keep_memory = true;
      else if (!strcmp(v, "kSameAsRequested") || !strcmp(v, "1")) keep_memory = false;
      else
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "provider 'cuda': arena_extend_strategy '%s' is not kNextPowerOfTwo or kSameAsRequested", v);
    } else {
      return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                        "provider 'cuda' has no option '%s' (it has: device_id, gpu_mem_limit, arena_extend_strategy, "
                        "share_memory_pool, use_tf32, cudnn_conv_algo_search, fault_alloc_at, fault_lose_device_at)",
                        k);
    }
  }
  int n = onyx_gpu_count();
  if (device >= n)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider 'cuda': device_id %lld does not exist (this machine has %d GPU%s)",
                      (long long)device, n, n == 1 ? "" : "s");
  const char *why = NULL;
  if (!cu_lt(&why)) return onyx_error(ONYX_ERR_NOT_FOUND, "provider 'cuda': %s", why);
  cu_provider *cp = onyx_calloc(1, sizeof *cp);
  if (!cp) return onyx_error_oom();
  cp->device = (int)device;
  cp->mem_limit = limit;
  cp->tf32 = tf32;
  cp->conv_search = search;
  atomic_init(&cp->fault_alloc_at, fault_alloc);
  atomic_init(&cp->fault_lose_at, fault_lose);
  pthread_mutex_init(&cp->lock, NULL);
  cp->alloc = (onyx_allocator){&cu_alloc_iface, "", false, cp, 0, 0, 0, 0};
  snprintf(cp->alloc.name, sizeof cp->alloc.name, "cuda:%d", cp->device);
  cp->prov = (onyx_provider){&cu_iface, "cuda", cp, false};
  onyx_status *s = cu_check(cp, cudaSetDevice(cp->device), "cudaSetDevice", NULL);
  if (!s) s = cu_check(cp, cudaStreamCreateWithFlags(&cp->side, cudaStreamNonBlocking), "cudaStreamCreate", NULL);
  if (!s && share) {
    s = cu_check(cp, cudaDeviceGetDefaultMemPool(&cp->pool, cp->device), "cudaDeviceGetDefaultMemPool", NULL);
  } else if (!s) {
    struct cudaMemPoolProps props;
    memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = cp->device;
    s = cu_check(cp, cudaMemPoolCreate(&cp->pool, &props), "cudaMemPoolCreate", NULL);
  }
  if (!s) {
    /* kNextPowerOfTwo: keep what runs freed (no trips to the driver in
     * steady state); kSameAsRequested: give it back at each sync */
    uint64_t keep = keep_memory ? UINT64_MAX : 0;
    s = cu_check(cp, cudaMemPoolSetAttribute(cp->pool, cudaMemPoolAttrReleaseThreshold, &keep),
                 "cudaMemPoolSetAttribute", NULL);
  }
  if (s) {
    cu_destroy(&cp->prov);
    return s;
  }
  onyx_log(ONYX_LOG_INFO, "cuda: provider on device %d (pool %s, limit %lld bytes, tf32 %s)", cp->device,
           share ? "shared" : "own", (long long)limit, tf32 ? "on" : "off");
  *out = &cp->prov;
  return NULL;
}

const onyx_provider_factory onyx_cuda_provider_factory = {"cuda", cu_available, cu_create, cu_unusable};
