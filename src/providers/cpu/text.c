/* text.c — cpu kernels of the text family: StringNormalizer and
 * TfIdfVectorizer.
 *
 * StringNormalizer drops stop words and changes case with the C locale's
 * rules: only ASCII letters change case or fold for case-insensitive stop
 * word matching; other bytes (all of UTF-8 beyond ASCII) pass through
 * unchanged, whatever the `locale` attribute says. That covers English and
 * every text whose letters are ASCII; it is not Unicode case mapping.
 *
 * TfIdfVectorizer counts, per row, the n-grams of the pool found among the
 * row's items taken `skip + 1` apart (unigrams once, not once per skip), then
 * weights the counts by mode. prepare sorts each n-gram length's pool entries
 * once, so run finds an n-gram by binary search. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "ops/text_ops.h"

/* ---- StringNormalizer ------------------------------------------------------------ */

static char ascii_lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }
static char ascii_upper(char ch) { return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch; }

static bool same_word(const char *a, const char *b, bool case_sensitive) {
  if (case_sensitive) return strcmp(a, b) == 0;
  for (; *a && *b; a++, b++)
    if (ascii_lower(*a) != ascii_lower(*b)) return false;
  return *a == *b;
}

static onyx_status *string_normalizer_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  if (x->dtype != ONYX_DTYPE_STRING)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has dtype %s, expected string",
                           onyx_dtype_name(x->dtype));
  if (x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input must have shape [C] or [1, C]");
  const char *act = onyx_attr_string(n, "case_change_action", "NONE");
  char (*change)(char) = !strcmp(act, "LOWER") ? ascii_lower : !strcmp(act, "UPPER") ? ascii_upper : NULL;
  bool sensitive = onyx_attr_int(n, "is_case_sensitive", 0) != 0;
  const onyx_attr *stop = onyx_node_attr(n, "stopwords");
  int n_stop = stop && stop->type == ONYX_ATTR_STRINGS ? stop->n : 0;
  int64_t cols = x->dims[x->rank - 1];
  char *const *in = x->data;
  bool *keep = onyx_malloc((size_t)cols + 1);
  if (!keep) return onyx_error_oom();
  int64_t kept = 0;
  for (int64_t i = 0; i < cols; i++) {
    keep[i] = true;
    for (int k = 0; k < n_stop && keep[i]; k++) keep[i] = !same_word(in[i] ? in[i] : "", stop->strings[k], sensitive);
    kept += keep[i];
  }
  /* all dropped: one empty string, keeping the rank */
  int64_t dims[2] = {1, kept ? kept : 1};
  onyx_tensor *y = c->out[0];
  onyx_status *s = y->data ? NULL : onyx_tensor_alloc(y, x->rank, x->rank == 2 ? dims : dims + 1);
  if (!s && onyx_numel(y->rank, y->dims) != (kept ? kept : 1))
    s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "output was sized for another count of strings");
  char **out = s ? NULL : y->data;
  for (int64_t i = 0, j = 0; out && i < cols; i++) {
    if (!keep[i]) continue;
    const char *src = in[i] ? in[i] : "";
    size_t len = strlen(src);
    onyx_free(out[j]);
    if (!(out[j] = onyx_malloc(len + 1))) {
      s = onyx_error_oom();
      break;
    }
    for (size_t b = 0; b < len; b++) out[j][b] = change ? change(src[b]) : src[b];
    out[j++][len] = 0;
  }
  if (out && !kept && !out[0] && !(out[0] = onyx_strdup(""))) s = onyx_error_oom();
  onyx_free(keep);
  return s;
}

/* ---- TfIdfVectorizer ------------------------------------------------------------- */

/* Per n-gram length L (1..n_levels): its pool entries, sorted by content. */
typedef struct tfidf_level {
  int count;          /* n-grams of this length */
  int first_id;       /* number of the first one (pool order) */
  int64_t first_item; /* pool index of its first item */
  int *sorted;        /* ids relative to first_id, in content order (owned) */
} tfidf_level;

typedef struct tfidf_state {
  onyx_tfidf p;
  tfidf_level *levels;   /* p.n_levels entries (owned) */
} tfidf_state;

/* Compares pool items [a, a + len) and [b, b + len). */
static int cmp_pool(const onyx_tfidf *p, int64_t a, int64_t b, int len) {
  for (int k = 0; k < len; k++) {
    int r;
    if (p->pool_strings) r = strcmp(p->pool_strings[a + k], p->pool_strings[b + k]);
    else r = p->pool_ints[a + k] < p->pool_ints[b + k] ? -1 : p->pool_ints[a + k] > p->pool_ints[b + k];
    if (r) return r;
  }
  return 0;
}

/* Heap sort of a level's entries (qsort has no context argument to reach the
 * pool): sift-down of v[root] within v[0, n). */
static void sift(const onyx_tfidf *p, const tfidf_level *lv, int len, int *v, int root, int n) {
  for (;;) {
    int child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n &&
        cmp_pool(p, lv->first_item + (int64_t)v[child] * len, lv->first_item + (int64_t)v[child + 1] * len, len) < 0)
      child++;
    if (cmp_pool(p, lv->first_item + (int64_t)v[root] * len, lv->first_item + (int64_t)v[child] * len, len) >= 0)
      return;
    int t = v[root];
    v[root] = v[child];
    v[child] = t;
    root = child;
  }
}

static void tfidf_release(void *state) {
  tfidf_state *st = state;
  if (!st) return;
  for (int k = 0; st->levels && k < st->p.n_levels; k++) onyx_free(st->levels[k].sorted);
  onyx_free(st->levels);
  onyx_free(st);
}

static onyx_status *tfidf_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  (void)g;
  tfidf_state *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  onyx_status *s = onyx_tfidf_parse(n, &st->p);
  const onyx_tfidf *p = &st->p;
  if (!s && !(st->levels = onyx_calloc((size_t)p->n_levels, sizeof *st->levels))) s = onyx_error_oom();
  int id = 0;
  for (int k = 0; !s && k < p->n_levels; k++) {
    tfidf_level *lv = &st->levels[k];
    int len = k + 1;
    int64_t end = k + 1 < p->n_levels ? p->counts[k + 1] : p->pool_len;
    lv->first_item = p->counts[k];
    lv->count = (int)((end - lv->first_item) / len);
    lv->first_id = id;
    id += lv->count;
    if (!(lv->sorted = onyx_malloc((size_t)lv->count * sizeof *lv->sorted + 1))) {
      s = onyx_error_oom();
      break;
    }
    for (int i = 0; i < lv->count; i++) lv->sorted[i] = i;
    for (int i = lv->count / 2 - 1; i >= 0; i--) sift(p, lv, len, lv->sorted, i, lv->count);
    for (int i = lv->count - 1; i > 0; i--) {
      int t = lv->sorted[0];
      lv->sorted[0] = lv->sorted[i];
      lv->sorted[i] = t;
      sift(p, lv, len, lv->sorted, 0, i);
    }
  }
  if (s) {
    tfidf_release(st);
    return s;
  }
  *state = st;
  return NULL;
}

/* The row's items at pos, pos + step, ... (len of them) against pool entry e
 * of level lv. */
static int cmp_row(const onyx_tfidf *p, const onyx_tensor *x, int64_t pos, int64_t step, int len,
                   const tfidf_level *lv, int e) {
  int64_t item = lv->first_item + (int64_t)e * len;
  for (int k = 0; k < len; k++, pos += step) {
    int r;
    if (p->pool_strings) {
      const char *s = ((char *const *)x->data)[pos];
      r = strcmp(s ? s : "", p->pool_strings[item + k]);
    } else {
      int64_t v = onyx_tensor_get_i64(x, pos), w = p->pool_ints[item + k];
      r = v < w ? -1 : v > w;
    }
    if (r) return r;
  }
  return 0;
}

/* Id of the n-gram at pos (len items, step apart), or -1. */
static int find(const onyx_tfidf *p, const tfidf_level *lv, int len, const onyx_tensor *x, int64_t pos,
                int64_t step) {
  int lo = 0, hi = lv->count;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int r = cmp_row(p, x, pos, step, len, lv, lv->sorted[mid]);
    if (!r) return lv->first_id + lv->sorted[mid];
    if (r < 0) hi = mid;
    else lo = mid + 1;
  }
  return -1;
}

static onyx_status *tfidf_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const tfidf_state *st = c->state;
  const onyx_tfidf *p = &st->p;
  const onyx_tensor *x = c->in[0];
  bool want_strings = p->pool_strings != NULL;
  if (want_strings ? x->dtype != ONYX_DTYPE_STRING : x->dtype != ONYX_DTYPE_INT32 && x->dtype != ONYX_DTYPE_INT64)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has dtype %s, the pool holds %s",
                           onyx_dtype_name(x->dtype), want_strings ? "strings" : "integers");
  if (x->rank != 1 && x->rank != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 1 or 2", x->rank);
  int64_t rows = x->rank == 2 ? x->dims[0] : 1, cols = x->dims[x->rank - 1];
  int64_t dims[2] = {rows, p->width};
  onyx_tensor *y = c->out[0];
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, x->rank == 2 ? dims : dims + 1));
  float *out = y->data;
  double *cnt = onyx_malloc(((size_t)p->n_ngrams + 1) * sizeof *cnt);
  if (!cnt) return onyx_error_oom();
  int max_len = (int)(p->max_n < p->n_levels ? p->max_n : p->n_levels);
  for (int64_t r = 0; r < rows; r++) {
    memset(cnt, 0, (size_t)p->n_ngrams * sizeof *cnt);
    int64_t base = r * cols;
    for (int64_t step = 1; step <= p->max_skip + 1; step++)
      for (int64_t i = 0; i < cols; i++)
        for (int len = (int)p->min_n; len <= max_len; len++) {
          if (len == 1 && step > 1) continue;   /* a unigram has no gaps: count it once */
          if (i + (int64_t)(len - 1) * step >= cols) break;
          int id = find(p, &st->levels[len - 1], len, x, base + i, step);
          if (id >= 0) cnt[id] += 1;
        }
    float *row = out + r * p->width;
    memset(row, 0, (size_t)p->width * sizeof *row);
    for (int i = 0; i < p->n_ngrams; i++) {
      double w = p->weights ? p->weights[i] : 1.0;
      double v = p->mode == ONYX_TFIDF_TF ? cnt[i] : p->mode == ONYX_TFIDF_IDF ? (cnt[i] > 0 ? w : 0) : cnt[i] * w;
      row[p->indexes[i]] += (float)v;
    }
  }
  onyx_free(cnt);
  return NULL;
}

const onyx_kernel cpu_kernels_text[] = {
    {.op = onyx_op_StringNormalizer, .run = string_normalizer_run},
    {.op = onyx_op_TfIdfVectorizer, .prepare = tfidf_prepare, .run = tfidf_run, .release = tfidf_release},
    {.op = -1},
};
