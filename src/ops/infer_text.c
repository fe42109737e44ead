/* infer_text.c — shape/type inference for the text family (defs/text.def:
 * StringNormalizer, TfIdfVectorizer) and the TfIdfVectorizer attribute
 * reading of text_ops.h. StringNormalizer's output length depends on the
 * data (stop words are dropped), so only its rank and dtype are inferred;
 * TfIdfVectorizer's width comes from its attributes. */
#include <string.h>

#include "text_ops.h"

onyx_status *onyx_infer_string_normalizer(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  const char *act = onyx_attr_string(n, "case_change_action", "NONE");
  if (strcmp(act, "NONE") && strcmp(act, "LOWER") && strcmp(act, "UPPER"))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "case_change_action '%s', expected NONE, LOWER or UPPER", act);
  if (x->dtype != ONYX_DTYPE_UNDEFINED && x->dtype != ONYX_DTYPE_STRING)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has dtype %s, expected string",
                           onyx_dtype_name(x->dtype));
  if (x->rank >= 0 && x->rank != 1 && !(x->rank == 2 && (x->dims[0] == 1 || x->dims[0] < 0)))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input must have shape [C] or [1, C]");
  onyx_vinfo *y = &c->out[0];
  y->dtype = ONYX_DTYPE_STRING;
  y->rank = x->rank;
  for (int d = 0; d < x->rank; d++) y->dims[d] = ONYX_DIM_UNKNOWN;
  if (x->rank == 2) y->dims[0] = 1;
  return NULL;
}

onyx_status *onyx_tfidf_parse(const onyx_node *n, onyx_tfidf *p) {
  *p = (onyx_tfidf){0};
  const char *mode = onyx_attr_string(n, "mode", "");
  if (!strcmp(mode, "TF")) p->mode = ONYX_TFIDF_TF;
  else if (!strcmp(mode, "IDF")) p->mode = ONYX_TFIDF_IDF;
  else if (!strcmp(mode, "TFIDF")) p->mode = ONYX_TFIDF_TFIDF;
  else return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "mode '%s', expected TF, IDF or TFIDF", mode);
  p->min_n = onyx_attr_int(n, "min_gram_length", 0);
  p->max_n = onyx_attr_int(n, "max_gram_length", 0);
  p->max_skip = onyx_attr_int(n, "max_skip_count", 0);
  if (p->min_n < 1 || p->max_n < p->min_n || p->max_skip < 0)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                           "min_gram_length %lld, max_gram_length %lld, max_skip_count %lld: need "
                           "1 <= min <= max and skips >= 0",
                           (long long)p->min_n, (long long)p->max_n, (long long)p->max_skip);
  const onyx_attr *ps = onyx_node_attr(n, "pool_strings"), *pi = onyx_node_attr(n, "pool_int64s");
  if ((ps && ps->n) == (pi && pi->n))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "needs exactly one of pool_strings and pool_int64s");
  if (ps && ps->n) {
    p->pool_strings = ps->strings;
    p->pool_len = ps->n;
  } else {
    p->pool_ints = pi->ints;
    p->pool_len = pi->n;
  }
  if (!onyx_attr_ints(n, "ngram_counts", &p->n_levels, &p->counts) || p->n_levels < 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "needs ngram_counts");
  onyx_attr_ints(n, "ngram_indexes", &p->n_ngrams, &p->indexes);
  /* count the n-grams each group holds, checking the groups tile the pool */
  int64_t total = 0;
  for (int k = 0; k < p->n_levels; k++) {
    int64_t start = p->counts[k], end = k + 1 < p->n_levels ? p->counts[k + 1] : p->pool_len;
    if (start < 0 || end < start || end > p->pool_len || (end - start) % (k + 1))
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                             "ngram_counts[%d] = %lld does not start a group of %d-grams in a pool of %d items",
                             k, (long long)start, k + 1, p->pool_len);
    total += (end - start) / (k + 1);
  }
  if (p->counts[0] != 0)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "ngram_counts must start at 0");
  if (total != p->n_ngrams)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "the pool holds %lld n-grams, ngram_indexes has %d",
                           (long long)total, p->n_ngrams);
  int n_weights = 0;
  if (onyx_attr_floats(n, "weights", &n_weights, &p->weights) && n_weights != p->n_ngrams)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "weights has %d values for %d n-grams", n_weights,
                           p->n_ngrams);
  if (!n_weights) p->weights = NULL;
  p->width = 0;
  for (int i = 0; i < p->n_ngrams; i++) {
    if (p->indexes[i] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "ngram_indexes[%d] is negative", i);
    if (p->indexes[i] + 1 > p->width) p->width = p->indexes[i] + 1;
  }
  return NULL;
}

onyx_status *onyx_infer_tfidf_vectorizer(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_vinfo *x = &c->in[0];
  onyx_tfidf p;
  ONYX_TRY(onyx_tfidf_parse(n, &p));
  bool strings = p.pool_strings != NULL;
  if (x->dtype != ONYX_DTYPE_UNDEFINED &&
      (strings ? x->dtype != ONYX_DTYPE_STRING : x->dtype != ONYX_DTYPE_INT32 && x->dtype != ONYX_DTYPE_INT64))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has dtype %s, the pool holds %s",
                           onyx_dtype_name(x->dtype), strings ? "strings" : "integers");
  if (x->rank >= 0 && x->rank != 1 && x->rank != 2)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input has rank %d, expected 1 or 2", x->rank);
  onyx_vinfo *y = &c->out[0];
  y->dtype = ONYX_DTYPE_FLOAT;
  y->rank = x->rank;
  if (x->rank == 2) y->dims[0] = x->dims[0];
  if (x->rank >= 1) y->dims[x->rank - 1] = p.width;
  return NULL;
}
