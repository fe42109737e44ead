/* tensor_copy.c — the data-movement engine of the cpu tensor family.
 *
 * Transpose, Slice, Concat, Split, Expand, Tile, DepthToSpace ... are all
 * "copy an N-d strided view", so they share cpu_copy_strided, which first
 * simplifies the view (drops size-1 dims, merges dims contiguous on both
 * sides) and then picks one of three loops: memcpy rows when the innermost
 * dim is contiguous on both sides, 32x32 tiles when the view is a transpose
 * (source contiguous along another dim), or an element loop otherwise.
 * Work is split over outer rows/tiles with onyx_parallel_for. */
#include <string.h>

#include "tensor_kernels.h"

onyx_status *cpu_elem_size(const onyx_node *n, onyx_dtype dt, size_t *esz) {
  size_t s = onyx_dtype_size(dt);
  if (!s) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dtype %s is not supported", onyx_dtype_name(dt));
  *esz = s;
  return NULL;
}

void cpu_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s = onyx_mul_sat(s, dims[i]);   /* a hostile shape saturates; its allocation is refused */
  }
}

onyx_status *cpu_out_alloc(onyx_tensor *out, int rank, const int64_t *dims) {
  if (out->data) return NULL;
  return onyx_tensor_alloc(out, rank, dims);
}

onyx_status *cpu_strings_own(onyx_tensor *t) {
  if (t->dtype != ONYX_DTYPE_STRING) return NULL;
  char **s = t->data;
  int64_t n = onyx_numel(t->rank, t->dims);
  for (int64_t i = 0; i < n; i++) {
    char *d = onyx_strdup(s[i] ? s[i] : "");
    if (!d) {
      for (int64_t k = i; k < n; k++) s[k] = NULL;
      return onyx_error_oom();
    }
    s[i] = d;
  }
  return NULL;
}

enum { COPY_ROWS, COPY_TILED, COPY_ELEMS };
enum { TILE = 32 };

typedef struct copy_job {
  char *dst;
  const char *src;
  size_t esz;
  int rank;      /* dims after simplification */
  int n_outer;   /* dims iterated per work unit index */
  int mode;
  int64_t dims[2 * ONYX_MAX_RANK], ds[2 * ONYX_MAX_RANK], ss[2 * ONYX_MAX_RANK];
  int64_t ktiles; /* tiled: tile rows per outer index */
} copy_job;

/* Copies n elements with strides (in elements) by element size. */
static void copy_line(char *d, int64_t dstr, const char *s, int64_t sstr, int64_t n, size_t esz) {
#define LINE(T)                                                           \
  do {                                                                    \
    T *dp = (T *)(void *)d;                                               \
    const T *sp = (const T *)(const void *)s;                             \
    for (int64_t i = 0; i < n; i++) dp[i * dstr] = sp[i * sstr];          \
  } while (0)
  switch (esz) {
    case 1: LINE(uint8_t); break;
    case 2: LINE(uint16_t); break;
    case 4: LINE(uint32_t); break;
    case 8: LINE(uint64_t); break;
    default:
      for (int64_t i = 0; i < n; i++)
        memcpy(d + i * dstr * (int64_t)esz, s + i * sstr * (int64_t)esz, esz);
  }
#undef LINE
}

/* Byte offsets of outer index `o` over dims[0 .. n_outer). */
static void outer_offsets(const copy_job *j, int64_t o, int64_t *doff, int64_t *soff) {
  int64_t d = 0, s = 0;
  for (int i = j->n_outer - 1; i >= 0; i--) {
    int64_t q = o % j->dims[i];
    o /= j->dims[i];
    d += q * j->ds[i];
    s += q * j->ss[i];
  }
  *doff = d * (int64_t)j->esz;
  *soff = s * (int64_t)j->esz;
}

/* A tile of a transpose: rows a of the (k, inner) plane, dst contiguous in
 * the inner dim, src contiguous in k. */
static void copy_tile(const copy_job *j, char *d, const char *s, int64_t a0, int64_t a1) {
  int k = j->rank - 2, in = j->rank - 1;
  int64_t e = (int64_t)j->esz, dk = j->ds[k] * e, si = j->ss[in] * e;
  for (int64_t b0 = 0; b0 < j->dims[in]; b0 += TILE) {
    int64_t b1 = b0 + TILE < j->dims[in] ? b0 + TILE : j->dims[in];
    for (int64_t a = a0; a < a1; a++)
      copy_line(d + a * dk + b0 * e, 1, s + a * e + b0 * si, j->ss[in], b1 - b0, j->esz);
  }
}

static void copy_units(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const copy_job *j = arg;
  int in = j->rank - 1;
  for (size_t u = begin; u < end; u++) {
    int64_t o = (int64_t)u, kt = 0, doff, soff;
    if (j->mode == COPY_TILED) {
      kt = o % j->ktiles;
      o /= j->ktiles;
    }
    outer_offsets(j, o, &doff, &soff);
    char *d = j->dst + doff;
    const char *s = j->src + soff;
    if (j->mode == COPY_ROWS) {
      memcpy(d, s, (size_t)j->dims[in] * j->esz);
    } else if (j->mode == COPY_ELEMS) {
      copy_line(d, j->ds[in], s, j->ss[in], j->dims[in], j->esz);
    } else {
      int64_t a0 = kt * TILE, a1 = a0 + TILE < j->dims[in - 1] ? a0 + TILE : j->dims[in - 1];
      copy_tile(j, d, s, a0, a1);
    }
  }
}

/* Moves dim k to position `to`, shifting the ones between. */
static void move_dim(copy_job *j, int k, int to) {
  int64_t d = j->dims[k], a = j->ds[k], b = j->ss[k];
  for (int i = k; i < to; i++) {
    j->dims[i] = j->dims[i + 1];
    j->ds[i] = j->ds[i + 1];
    j->ss[i] = j->ss[i + 1];
  }
  j->dims[to] = d;
  j->ds[to] = a;
  j->ss[to] = b;
}

void cpu_copy_strided(const onyx_threadpool *pool, void *dst, const void *src, size_t esz, int rank,
                      const int64_t *dims, const int64_t *dst_strides, const int64_t *src_strides) {
  copy_job j = {dst, src, esz, 0, 0, COPY_ELEMS, {0}, {0}, {0}, 1};
  /* nothing to copy; checked first, since the other dims of an empty shape
   * may be huge and their stride products overflow */
  for (int i = 0; i < rank; i++)
    if (dims[i] == 0) return;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 1) continue;
    int r = j.rank;
    if (r && j.ds[r - 1] == dst_strides[i] * dims[i] && j.ss[r - 1] == src_strides[i] * dims[i]) {
      j.dims[r - 1] *= dims[i];
      j.ds[r - 1] = dst_strides[i];
      j.ss[r - 1] = src_strides[i];
      continue;
    }
    j.dims[r] = dims[i];
    j.ds[r] = dst_strides[i];
    j.ss[r] = src_strides[i];
    j.rank++;
  }
  if (j.rank == 0) {
    memcpy(dst, src, esz);
    return;
  }
  int in = j.rank - 1;
  int64_t per_unit = j.dims[in], units;
  if (j.ds[in] == 1 && j.ss[in] == 1) {
    j.mode = COPY_ROWS;
  } else {
    int k = -1;
    for (int i = 0; i < in; i++)
      if (j.ss[i] == 1 && j.dims[i] >= 8) k = i;
    if (k >= 0 && j.ds[in] == 1 && j.dims[in] >= 8) {
      move_dim(&j, k, in - 1);
      j.mode = COPY_TILED;
      j.ktiles = (j.dims[in - 1] + TILE - 1) / TILE;
      per_unit = j.dims[in] * TILE;
    }
  }
  j.n_outer = j.mode == COPY_TILED ? j.rank - 2 : j.rank - 1;
  units = onyx_numel(j.n_outer, j.dims) * j.ktiles;
  int64_t grain = (1 << 15) / (per_unit ? per_unit : 1);
  onyx_parallel_for(pool, (size_t)units, (size_t)(grain > 0 ? grain : 1), copy_units, &j);
}
