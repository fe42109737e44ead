/* cuda_libs.c — dlopen of cuBLASLt and cuDNN (see cuda_libs.h). A library
 * is looked for by soname (the loader's path, LD_LIBRARY_PATH) and then
 * under the toolkit's folder, CUDA_HOME or /usr/local/cuda. */
#include "cuda_libs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static cu_lt_api lt;
static const char *lt_why;
static bool lt_ok;
static pthread_once_t lt_once = PTHREAD_ONCE_INIT;
static char lt_msg[256];

/* Opens soname, or records in msg/why that it cannot be loaded. */
static void *open_lib(const char *soname, char *msg, size_t cap, const char **why) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (h) return h;
  const char *home = getenv("CUDA_HOME");
  char path[512];
  snprintf(path, sizeof path, "%s/lib64/%s", home && *home ? home : "/usr/local/cuda", soname);
  if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) return h;
  snprintf(msg, cap, "cannot load %s (%s)", soname, dlerror());
  *why = msg;
  return NULL;
}

/* Resolves table.field from h, or records why not and returns. */
#define SYM(table, field, name, lib, why, msg)                                             \
  if (!(*(void **)&table.field = dlsym(h, #name))) {                                       \
    snprintf(msg, sizeof msg, "%s has no %s", lib, #name);                                 \
    why = msg;                                                                             \
    return;                                                                                \
  }

#define LSYM(field, name) SYM(lt, field, name, "libcublasLt.so.13", lt_why, lt_msg)

static void load_lt(void) {
  void *h = open_lib("libcublasLt.so.13", lt_msg, sizeof lt_msg, &lt_why);
  if (!h) return;
  LSYM(create, cublasLtCreate)
  LSYM(destroy, cublasLtDestroy)
  LSYM(get_version, cublasLtGetVersion)
  LSYM(desc_create, cublasLtMatmulDescCreate)
  LSYM(desc_destroy, cublasLtMatmulDescDestroy)
  LSYM(desc_set, cublasLtMatmulDescSetAttribute)
  LSYM(layout_create, cublasLtMatrixLayoutCreate)
  LSYM(layout_destroy, cublasLtMatrixLayoutDestroy)
  LSYM(layout_set, cublasLtMatrixLayoutSetAttribute)
  LSYM(pref_create, cublasLtMatmulPreferenceCreate)
  LSYM(pref_destroy, cublasLtMatmulPreferenceDestroy)
  LSYM(pref_set, cublasLtMatmulPreferenceSetAttribute)
  LSYM(heuristic, cublasLtMatmulAlgoGetHeuristic)
  LSYM(matmul, cublasLtMatmul)
  lt_ok = true;   /* the handle stays open for the process's life */
}

const cu_lt_api *cu_lt(const char **why) {
  pthread_once(&lt_once, load_lt);
  if (why) *why = lt_why;
  return lt_ok ? &lt : NULL;
}

static cu_dnn_api dnn;
static const char *dnn_why;
static bool dnn_ok;
static pthread_once_t dnn_once = PTHREAD_ONCE_INIT;
static char dnn_msg[256];

#define DSYM(field, name) SYM(dnn, field, name, "libcudnn.so.9", dnn_why, dnn_msg)

static void load_dnn(void) {
  void *h = open_lib("libcudnn.so.9", dnn_msg, sizeof dnn_msg, &dnn_why);
  if (!h) return;
  DSYM(get_version, cudnnGetVersion)
  DSYM(error_string, cudnnGetErrorString)
  DSYM(create, cudnnCreate)
  DSYM(destroy, cudnnDestroy)
  DSYM(set_stream, cudnnSetStream)
  DSYM(tensor_create, cudnnCreateTensorDescriptor)
  DSYM(tensor_set, cudnnSetTensorNdDescriptor)
  DSYM(tensor_destroy, cudnnDestroyTensorDescriptor)
  DSYM(filter_create, cudnnCreateFilterDescriptor)
  DSYM(filter_set, cudnnSetFilterNdDescriptor)
  DSYM(filter_destroy, cudnnDestroyFilterDescriptor)
  DSYM(conv_create, cudnnCreateConvolutionDescriptor)
  DSYM(conv_set, cudnnSetConvolutionNdDescriptor)
  DSYM(conv_groups, cudnnSetConvolutionGroupCount)
  DSYM(conv_math, cudnnSetConvolutionMathType)
  DSYM(conv_destroy, cudnnDestroyConvolutionDescriptor)
  DSYM(conv_heuristic, cudnnGetConvolutionForwardAlgorithm_v7)
  DSYM(conv_find, cudnnFindConvolutionForwardAlgorithm)
  DSYM(conv_workspace, cudnnGetConvolutionForwardWorkspaceSize)
  DSYM(conv_forward, cudnnConvolutionForward)
  DSYM(add_tensor, cudnnAddTensor)
  DSYM(pool_create, cudnnCreatePoolingDescriptor)
  DSYM(pool_set, cudnnSetPoolingNdDescriptor)
  DSYM(pool_destroy, cudnnDestroyPoolingDescriptor)
  DSYM(pool_forward, cudnnPoolingForward)
  if (dnn.get_version() < 90000) {
    snprintf(dnn_msg, sizeof dnn_msg, "cuDNN %zu is older than 9", dnn.get_version());
    dnn_why = dnn_msg;
    return;
  }
  dnn_ok = true;
}

const cu_dnn_api *cu_dnn(const char **why) {
  pthread_once(&dnn_once, load_dnn);
  if (why) *why = dnn_why;
  return dnn_ok ? &dnn : NULL;
}
