/* text_ops.h — the reading of a TfIdfVectorizer node, shared by its infer
 * function (infer_text.c) and the cpu kernel (providers/cpu/text.c), so that
 * the attributes are checked once and both agree on the output width. */
#ifndef ONYX_OPS_TEXT_OPS_H
#define ONYX_OPS_TEXT_OPS_H

#include "ops.h"

typedef enum onyx_tfidf_mode { ONYX_TFIDF_TF, ONYX_TFIDF_IDF, ONYX_TFIDF_TFIDF } onyx_tfidf_mode;

/* The pool holds n-grams grouped by length: those of length k + 1 occupy
 * items [counts[k], counts[k + 1]) (the last group runs to the pool's end),
 * k + 1 items each. N-grams are numbered in pool order; n-gram i is counted
 * into output column indexes[i] and weighted by weights[i]. All pointers
 * borrow the node's attributes. */
typedef struct onyx_tfidf {
  onyx_tfidf_mode mode;
  int64_t min_n, max_n, max_skip;
  int n_levels;                  /* entries of ngram_counts */
  const int64_t *counts;
  int n_ngrams;                  /* entries of ngram_indexes: n-grams in the pool */
  const int64_t *indexes;
  const float *weights;          /* n_ngrams values, or NULL (all ones) */
  int pool_len;                  /* items in the pool */
  const int64_t *pool_ints;      /* exactly one of these is set */
  char *const *pool_strings;
  int64_t width;                 /* output columns: max(indexes) + 1 */
} onyx_tfidf;

/* Reads and checks node n's attributes. */
onyx_status *onyx_tfidf_parse(const onyx_node *n, onyx_tfidf *out);

#endif
