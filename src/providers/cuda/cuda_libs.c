/* cuda_libs.c — dlopen of cuBLASLt (see cuda_libs.h). The library is looked
 * for by soname (the loader's path, LD_LIBRARY_PATH) and then under the
 * toolkit's folder, CUDA_HOME or /usr/local/cuda. */
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

static void *open_lib(const char *soname) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (h) return h;
  const char *home = getenv("CUDA_HOME");
  char path[512];
  snprintf(path, sizeof path, "%s/lib64/%s", home && *home ? home : "/usr/local/cuda", soname);
  return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

#define SYM(field, name)                                                                   \
  if (!(*(void **)&lt.field = dlsym(h, #name))) {                                          \
    snprintf(lt_msg, sizeof lt_msg, "libcublasLt.so.13 has no %s", #name);                 \
    lt_why = lt_msg;                                                                       \
    return;                                                                                \
  }

static void load_lt(void) {
  void *h = open_lib("libcublasLt.so.13");
  if (!h) {
    snprintf(lt_msg, sizeof lt_msg, "cannot load libcublasLt.so.13 (%s)", dlerror());
    lt_why = lt_msg;
    return;
  }
  SYM(create, cublasLtCreate)
  SYM(destroy, cublasLtDestroy)
  SYM(get_version, cublasLtGetVersion)
  SYM(desc_create, cublasLtMatmulDescCreate)
  SYM(desc_destroy, cublasLtMatmulDescDestroy)
  SYM(desc_set, cublasLtMatmulDescSetAttribute)
  SYM(layout_create, cublasLtMatrixLayoutCreate)
  SYM(layout_destroy, cublasLtMatrixLayoutDestroy)
  SYM(layout_set, cublasLtMatrixLayoutSetAttribute)
  SYM(pref_create, cublasLtMatmulPreferenceCreate)
  SYM(pref_destroy, cublasLtMatmulPreferenceDestroy)
  SYM(pref_set, cublasLtMatmulPreferenceSetAttribute)
  SYM(heuristic, cublasLtMatmulAlgoGetHeuristic)
  SYM(matmul, cublasLtMatmul)
  lt_ok = true;   /* the handle stays open for the process's life */
}

const cu_lt_api *cu_lt(const char **why) {
  pthread_once(&lt_once, load_lt);
  if (why) *why = lt_why;
  return lt_ok ? &lt : NULL;
}
