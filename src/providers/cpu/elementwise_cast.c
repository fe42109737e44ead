/* elementwise_cast.c — Cast and CastLike, and ew_convert, the dtype
 * conversion other elementwise kernels reuse (Pow's exponent, Clip's bounds).
 *
 * Numeric pairs (float32/64, float16, bfloat16, the integers and bool) each
 * get a generated loop that loads into the source's compute type and stores
 * with the target's rounding: float16/bfloat16 round to nearest even through
 * float32, floats to integers truncate like C, anything to bool is != 0.
 * Strings parse with strtod/strtoll (which accept "NaN", "INF", "+INF",
 * "-INF") and print as the shortest decimal that reads back to the same
 * value, which is what numpy and the ONNX tests produce. int4/uint4 (packed,
 * see base/tensor.h) go through double. float8 types are not covered yet
 * (NOT_IMPLEMENTED). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.h"

typedef void (*conv_fn)(void *y, const void *x, int64_t n);

#define EW_NUMERIC(X, ...) \
  EW_FLOATS(X, __VA_ARGS__) EW_SINTS(X, __VA_ARGS__) EW_UINTS(X, __VA_ARGS__) X(b8, __VA_ARGS__)
/* A second copy of the list: a macro cannot expand inside its own expansion. */
#define EW_NUMERIC_TO(X, F)                                                                        \
  X(F, f32) X(F, f64) X(F, f16) X(F, bf16) X(F, i8) X(F, i16) X(F, i32) X(F, i64) X(F, u8) X(F, u16) \
  X(F, u32) X(F, u64) X(F, b8)

#define CONV_FN(F, T)                                                       \
  static void conv_##F##_##T(void *yv, const void *xv, int64_t n) {         \
    EW_T_##T *restrict y = yv;                                              \
    const EW_T_##F *restrict x = xv;                                        \
    EW_LOOP(n, y[i] = EW_ST_##T(EW_LD_##F(x[i])));                           \
  }
#define CONV_FROM(F, unused) EW_NUMERIC_TO(CONV_FN, F)
EW_NUMERIC(CONV_FROM, 0)

#define CONV_ENTRY(F, T) [EW_D_##T] = conv_##F##_##T,
#define CONV_ROW(F, unused) [EW_D_##F] = {EW_NUMERIC_TO(CONV_ENTRY, F)},
static const conv_fn conv_tbl[ONYX_DTYPE_COUNT_][ONYX_DTYPE_COUNT_] = {EW_NUMERIC(CONV_ROW, 0)};

static conv_fn conv_lookup(onyx_dtype to, onyx_dtype from) {
  if (to <= ONYX_DTYPE_UNDEFINED || to >= ONYX_DTYPE_COUNT_) return NULL;
  if (from <= ONYX_DTYPE_UNDEFINED || from >= ONYX_DTYPE_COUNT_) return NULL;
  return conv_tbl[from][to];
}

bool ew_convert(onyx_dtype to, void *y, onyx_dtype from, const void *x, int64_t n) {
  conv_fn fn = conv_lookup(to, from);
  if (fn) fn(y, x, n);
  return fn != NULL;
}

/* ---- strings ------------------------------------------------------------------ */

typedef struct cast_ctx {
  conv_fn fn;
  onyx_dtype from, to;
  bool *failed;       /* string cases: allocation or parse failure */
} cast_ctx;

static void cast_row(const void *ctx, void *y, const void *const *x, const int64_t *st, int64_t n) {
  (void)st;
  const cast_ctx *cc = ctx;
  cc->fn(y, x[0], n);
}

static bool is_float(onyx_dtype dt) {
  return dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_DOUBLE || dt == ONYX_DTYPE_FLOAT16 ||
         dt == ONYX_DTYPE_BFLOAT16;
}

/* Shortest "%.*g" that reads back as the same value of type `dt`. */
static void format_number(char *buf, size_t len, double v, onyx_dtype dt) {
  if (isnan(v)) {
    snprintf(buf, len, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, len, v > 0 ? "INF" : "-INF");
    return;
  }
  int max_digits = dt == ONYX_DTYPE_DOUBLE ? 17 : 9;
  for (int p = 1; p <= max_digits; p++) {
    snprintf(buf, len, "%.*g", p, v);
    double back = strtod(buf, NULL);
    if (dt == ONYX_DTYPE_DOUBLE ? back == v : (float)back == (float)v) return;
  }
}

static void to_string_row(const void *ctx, void *yv, const void *const *x, const int64_t *st, int64_t n) {
  (void)st;
  const cast_ctx *cc = ctx;
  char **y = yv;
  size_t es = onyx_dtype_size(cc->from);
  for (int64_t i = 0; i < n; i++) {
    const void *src = (const char *)x[0] + (size_t)i * es;
    char buf[64];
    if (cc->from == ONYX_DTYPE_STRING) {
      const char *s = *(const char *const *)src;
      y[i] = onyx_strdup(s ? s : "");
    } else {
      if (is_float(cc->from)) {
        double v;
        ew_convert(ONYX_DTYPE_DOUBLE, &v, cc->from, src, 1);
        format_number(buf, sizeof buf, v, cc->from);
      } else if (cc->from == ONYX_DTYPE_UINT64) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)src);
      } else {
        int64_t v;
        ew_convert(ONYX_DTYPE_INT64, &v, cc->from, src, 1);
        snprintf(buf, sizeof buf, "%lld", (long long)v);
      }
      y[i] = onyx_strdup(buf);
    }
    if (!y[i]) *cc->failed = true;
  }
}

static void from_string_row(const void *ctx, void *yv, const void *const *x, const int64_t *st,
                            int64_t n) {
  (void)st;
  const cast_ctx *cc = ctx;
  const char *const *s = x[0];
  size_t es = onyx_dtype_size(cc->to);
  for (int64_t i = 0; i < n; i++) {
    const char *str = s[i] ? s[i] : "";
    char *end;
    void *dst = (char *)yv + (size_t)i * es;
    errno = 0;
    if (is_float(cc->to)) {
      double v = strtod(str, &end);
      ew_convert(cc->to, dst, ONYX_DTYPE_DOUBLE, &v, 1);
    } else if (cc->to == ONYX_DTYPE_UINT64) {
      *(uint64_t *)dst = strtoull(str, &end, 10);
    } else {
      int64_t v = strtoll(str, &end, 10);
      ew_convert(cc->to, dst, ONYX_DTYPE_INT64, &v, 1);
    }
    if (end == str || errno == ERANGE) *cc->failed = true;
  }
}

/* ---- int4 / uint4 ---------------------------------------------------------------- */

static bool is_4bit(onyx_dtype dt) { return dt == ONYX_DTYPE_INT4 || dt == ONYX_DTYPE_UINT4; }

/* Cast from or to a packed 4-bit type through double, in blocks: into 4 bits
 * saturates, then rounds half to even (NaN gives 0), as ONNX's reference
 * does. One thread, since a 4-bit store rewrites a byte two elements share. */
static onyx_status *cast_4bit(onyx_kernel_ctx *c, onyx_dtype to) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  onyx_dtype from = x->dtype;
  conv_fn load = is_4bit(from) ? NULL : conv_lookup(ONYX_DTYPE_DOUBLE, from);
  conv_fn store = is_4bit(to) ? NULL : conv_lookup(to, ONYX_DTYPE_DOUBLE);
  if ((!is_4bit(from) && !load) || (!is_4bit(to) && !store))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "cast from %s to %s is not supported",
                           onyx_dtype_name(from), onyx_dtype_name(to));
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, x->dims));
  int64_t n = onyx_numel(x->rank, x->dims);
  size_t esx = onyx_dtype_size(from), esy = onyx_dtype_size(to);
  double lo = to == ONYX_DTYPE_INT4 ? -8 : 0, hi = to == ONYX_DTYPE_INT4 ? 7 : 15;
  enum { BLOCK = 256 };
  double buf[BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
    int64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
    if (load) load(buf, (const char *)x->data + (size_t)i0 * esx, m);
    else
      for (int64_t k = 0; k < m; k++) buf[k] = onyx_nibble_get(x->data, i0 + k, from == ONYX_DTYPE_INT4);
    if (store) {
      store((char *)y->data + (size_t)i0 * esy, buf, m);
      continue;
    }
    for (int64_t k = 0; k < m; k++) {
      double v = buf[k];
      v = v != v ? 0 : nearbyint(v < lo ? lo : v > hi ? hi : v);
      onyx_nibble_set(y->data, i0 + k, (int)v);
    }
  }
  if (is_4bit(to) && (n & 1)) ((uint8_t *)y->data)[n >> 1] &= 0x0F;
  return NULL;
}

static onyx_status *cast(onyx_kernel_ctx *c, onyx_dtype to) {
  const onyx_tensor *x = c->in[0];
  onyx_tensor *y = c->out[0];
  if (y->dtype != to)
    return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "output dtype %s, expected %s", onyx_dtype_name(y->dtype),
                           onyx_dtype_name(to));
  if (is_4bit(x->dtype) || is_4bit(to)) return cast_4bit(c, to);
  bool failed = false;
  cast_ctx cc = {conv_lookup(to, x->dtype), x->dtype, to, &failed};
  ew_row_fn row = cast_row;
  const onyx_threadpool *pool = c->pool;
  if (to == ONYX_DTYPE_STRING && (x->dtype == ONYX_DTYPE_STRING || conv_lookup(ONYX_DTYPE_DOUBLE, x->dtype))) {
    row = to_string_row;
    pool = NULL;
  } else if (x->dtype == ONYX_DTYPE_STRING && conv_lookup(to, ONYX_DTYPE_DOUBLE)) {
    row = from_string_row;
    pool = NULL;
  } else if (!cc.fn) {
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "cast from %s to %s is not supported",
                           onyx_dtype_name(x->dtype), onyx_dtype_name(to));
  }
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, x->dims));
  ew_iter it;
  ew_iter_init(&it, y, 1, &x);
  ew_iter_run(&it, pool, row, &cc);
  if (!failed) return NULL;
  if (to == ONYX_DTYPE_STRING) return onyx_error_oom();
  return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "input holds a string that is not a %s number",
                         onyx_dtype_name(to));
}

onyx_status *cpu_ew_Cast(onyx_kernel_ctx *c) {
  const ew_params *p = c->state;
  return cast(c, (onyx_dtype)p->to);
}

onyx_status *cpu_ew_CastLike(onyx_kernel_ctx *c) {
  if (c->n_in != 2 || !c->in[1])
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "expects 2 inputs");
  return cast(c, c->in[1]->dtype);
}
