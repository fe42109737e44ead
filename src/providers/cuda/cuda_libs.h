/* cuda_libs.h — the CUDA libraries the cuda provider loads at run time.
 *
 * cuBLASLt and cuDNN are opened with dlopen the first time a provider is
 * created, so libonyx has no link-time dependency on them and starts where
 * they are absent (without cuBLASLt the provider reports why it is not
 * usable; without cuDNN it declines convolutions and pooling, which run on
 * the next provider). The functions are called through tables whose
 * entries have the exact types of the headers' declarations. */
#ifndef ONYX_CUDA_LIBS_H
#define ONYX_CUDA_LIBS_H

#include <cublasLt.h>
#include <cudnn.h>
#include <stdbool.h>

typedef struct cu_lt_api {
  __typeof__(cublasLtCreate) *create;
  __typeof__(cublasLtDestroy) *destroy;
  __typeof__(cublasLtGetVersion) *get_version;
  __typeof__(cublasLtMatmulDescCreate) *desc_create;
  __typeof__(cublasLtMatmulDescDestroy) *desc_destroy;
  __typeof__(cublasLtMatmulDescSetAttribute) *desc_set;
  __typeof__(cublasLtMatrixLayoutCreate) *layout_create;
  __typeof__(cublasLtMatrixLayoutDestroy) *layout_destroy;
  __typeof__(cublasLtMatrixLayoutSetAttribute) *layout_set;
  __typeof__(cublasLtMatmulPreferenceCreate) *pref_create;
  __typeof__(cublasLtMatmulPreferenceDestroy) *pref_destroy;
  __typeof__(cublasLtMatmulPreferenceSetAttribute) *pref_set;
  __typeof__(cublasLtMatmulAlgoGetHeuristic) *heuristic;
  __typeof__(cublasLtMatmul) *matmul;
} cu_lt_api;

/* The loaded cuBLASLt, or NULL (then *why says what failed). Thread-safe;
 * loads once. */
const cu_lt_api *cu_lt(const char **why);

typedef struct cu_dnn_api {
  __typeof__(cudnnGetVersion) *get_version;
  __typeof__(cudnnGetErrorString) *error_string;
  __typeof__(cudnnCreate) *create;
  __typeof__(cudnnDestroy) *destroy;
  __typeof__(cudnnSetStream) *set_stream;
  __typeof__(cudnnCreateTensorDescriptor) *tensor_create;
  __typeof__(cudnnSetTensorNdDescriptor) *tensor_set;
  __typeof__(cudnnDestroyTensorDescriptor) *tensor_destroy;
  __typeof__(cudnnCreateFilterDescriptor) *filter_create;
  __typeof__(cudnnSetFilterNdDescriptor) *filter_set;
  __typeof__(cudnnDestroyFilterDescriptor) *filter_destroy;
  __typeof__(cudnnCreateConvolutionDescriptor) *conv_create;
  __typeof__(cudnnSetConvolutionNdDescriptor) *conv_set;
  __typeof__(cudnnSetConvolutionGroupCount) *conv_groups;
  __typeof__(cudnnSetConvolutionMathType) *conv_math;
  __typeof__(cudnnDestroyConvolutionDescriptor) *conv_destroy;
  __typeof__(cudnnGetConvolutionForwardAlgorithm_v7) *conv_heuristic;
  __typeof__(cudnnFindConvolutionForwardAlgorithm) *conv_find;
  __typeof__(cudnnGetConvolutionForwardWorkspaceSize) *conv_workspace;
  __typeof__(cudnnConvolutionForward) *conv_forward;
  __typeof__(cudnnAddTensor) *add_tensor;
  __typeof__(cudnnCreatePoolingDescriptor) *pool_create;
  __typeof__(cudnnSetPoolingNdDescriptor) *pool_set;
  __typeof__(cudnnDestroyPoolingDescriptor) *pool_destroy;
  __typeof__(cudnnPoolingForward) *pool_forward;
} cu_dnn_api;

/* The loaded cuDNN 9, or NULL (then *why says what failed). */
const cu_dnn_api *cu_dnn(const char **why);

#endif
