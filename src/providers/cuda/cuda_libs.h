/* cuda_libs.h — the CUDA libraries the cuda provider loads at run time.
 *
 * cuBLASLt is opened with dlopen the first time a provider is created, so
 * libonyx has no link-time dependency on it and starts where it is absent
 * (the provider then reports why it is not usable). The functions are
 * called through a table whose entries have the exact types of the
 * header's declarations. */
#ifndef ONYX_CUDA_LIBS_H
#define ONYX_CUDA_LIBS_H

#include <cublasLt.h>
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

#endif
