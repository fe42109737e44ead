/* test_text.c — the text family on one-node models. StringNormalizer: stop
 * words (case-sensitive and not), case changes that touch ASCII letters only
 * and leave UTF-8 bytes alone, the shapes of an all-dropped result, bad
 * shapes. TfIdfVectorizer: random integer and string pools, rows and modes
 * checked against a brute-force reference written here (every index tuple
 * with equal gaps, compared against every pool entry), plus attribute
 * errors. */
#include "test_util.h"

static unsigned long long rng = 7;
static int rnd(int n) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (int)((rng >> 33) % (unsigned long long)n);
}

static onyx_tensor *strings(int rank, const int64_t *dims, const char *const *v) {
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_STRING, rank, dims, &t);
  char **d = onyx_tensor_data(t);
  for (int64_t i = 0; i < onyx_numel(rank, dims); i++) d[i] = strdup(v[i]);
  return t;
}

static void attr_strings(tu_node *t, const char *name, int n, const char *const *v) {
  tu_set_strings(tu_n(t), name, n, v);
}

static void attr_floats(tu_node *t, const char *name, int n, const float *v) { tu_set_floats(tu_n(t), name, n, v); }

/* ---- StringNormalizer ------------------------------------------------------------- */

/* Runs StringNormalizer on x and compares with want (n_want strings, shape rank). */
static void check_norm(int rank, int64_t cols, const char *const *x, const char *action, int sensitive,
                       int n_stop, const char *const *stop, int n_want, const char *const *want) {
  int64_t dims[2] = {1, cols};
  tu_node t = tu_node_new("StringNormalizer", 10, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_STRING, rank, rank == 2 ? dims : dims + 1);
  if (action) tu_attr_string(&t, "case_change_action", action);
  tu_attr_int(&t, "is_case_sensitive", sensitive);
  if (n_stop) attr_strings(&t, "stopwords", n_stop, stop);
  onyx_tensor *in = strings(rank, rank == 2 ? dims : dims + 1, x), *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &in, 1, &y));
  bool ok = y && y->dtype == ONYX_DTYPE_STRING && y->rank == rank && y->dims[rank - 1] == n_want &&
            (rank == 1 || y->dims[0] == 1);
  for (int i = 0; ok && i < n_want; i++) ok = !strcmp(((char **)y->data)[i], want[i]);
  CHECK(ok);
  onyx_tensor_free(in);
  onyx_tensor_free(y);
}

static void test_string_normalizer(void) {
  const char *days[] = {"Monday", "tuesday", "MONDAY", "wednesday"};
  const char *stop[] = {"monday"};
  const char *w1[] = {"tuesday", "wednesday"};
  check_norm(1, 4, days, NULL, 0, 1, stop, 2, w1);                  /* case-insensitive drop */
  const char *w2[] = {"MONDAY", "TUESDAY", "MONDAY", "WEDNESDAY"};
  check_norm(2, 4, days, "UPPER", 1, 1, stop, 4, w2);               /* sensitive: nothing matches */
  const char *w3[] = {"monday", "tuesday", "monday", "wednesday"};
  check_norm(1, 4, days, "LOWER", 1, 0, NULL, 4, w3);
  /* ASCII rules: letters beyond ASCII pass through as they are */
  const char *utf[] = {"Stra\xc3\x9f" "e", "\xc3\x84rger", "caf\xc3\xa9"};
  const char *wu[] = {"STRA\xc3\x9f" "E", "\xc3\x84RGER", "CAF\xc3\xa9"};
  check_norm(1, 3, utf, "UPPER", 0, 0, NULL, 3, wu);
  const char *wl[] = {"stra\xc3\x9f" "e", "\xc3\x84rger", "caf\xc3\xa9"};
  check_norm(2, 3, utf, "LOWER", 0, 0, NULL, 3, wl);
  /* everything dropped: one empty string, rank kept */
  const char *mm[] = {"monday", "Monday"};
  const char *empty[] = {""};
  check_norm(1, 2, mm, "UPPER", 0, 1, stop, 1, empty);
  check_norm(2, 2, mm, NULL, 0, 1, stop, 1, empty);
  /* an empty input behaves the same */
  check_norm(1, 0, NULL, NULL, 0, 1, stop, 1, empty);

  /* [2, C] is not accepted; neither is an unknown action */
  int64_t d2[2] = {2, 2};
  const char *four[] = {"a", "b", "c", "d"};
  tu_node t = tu_node_new("StringNormalizer", 10, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_STRING, 2, d2);
  onyx_tensor *in = strings(2, d2, four), *y = NULL;
  CHECK_ERR(tu_run(&t, 1, 1, &in, 1, &y), ONYX_ERR_INVALID_MODEL);
  onyx_tensor_free(in);
  int64_t d1[1] = {2};
  tu_node u = tu_node_new("StringNormalizer", 10, 1, 1);
  tu_input(&u, 0, ONYX_DTYPE_STRING, 1, d1);
  tu_attr_string(&u, "case_change_action", "TITLE");
  in = strings(1, d1, four);
  CHECK_ERR(tu_run(&u, 1, 1, &in, 1, &y), ONYX_ERR_INVALID_MODEL);
  onyx_tensor_free(in);
}

/* ---- TfIdfVectorizer --------------------------------------------------------------- */

typedef struct tf_case {
  const char *mode;
  int min_n, max_n, max_skip;
  int n_levels;                 /* n-gram lengths in the pool: 1..n_levels */
  int per_level[4];             /* n-grams of each length */
  bool strings, weights, batch;
  onyx_dtype int_dt;            /* INT32 or INT64 input */
  int rows, cols, alphabet;
} tf_case;

static const char *word(int v) {
  static const char *w[] = {"the", "cat", "sat", "on", "mat", "a", "dog", "ran"};
  return w[v];
}

/* Brute force: for each row, every index tuple i, i + g, ..., of n items with
 * gap g in 1..max_skip + 1 (unigrams once), against every pool n-gram. */
static void ref_tfidf(const tf_case *tc, const int *x, int n_pool_ngrams, const int *pool, const int *pool_len,
                      const int *pool_at, const int64_t *indexes, const float *weights, int64_t width, double *out) {
  for (int r = 0; r < tc->rows; r++) {
    double *row = out + (int64_t)r * width;
    for (int64_t i = 0; i < width; i++) row[i] = 0;
    for (int e = 0; e < n_pool_ngrams; e++) {
      int len = pool_len[e];
      double cnt = 0;
      if (len >= tc->min_n && len <= tc->max_n)
        for (int gap = 1; gap <= (len == 1 ? 1 : tc->max_skip + 1); gap++)
          for (int i = 0; i + (len - 1) * gap < tc->cols; i++) {
            bool match = true;
            for (int k = 0; k < len; k++) match = match && x[r * tc->cols + i + k * gap] == pool[pool_at[e] + k];
            cnt += match;
          }
      double w = weights ? weights[e] : 1;
      double v = !strcmp(tc->mode, "TF") ? cnt : !strcmp(tc->mode, "IDF") ? (cnt > 0 ? w : 0) : cnt * w;
      row[indexes[e]] += v;
    }
  }
}

static void check_tfidf(const tf_case *tc) {
  /* pool: distinct random n-grams per level */
  int pool[256], pool_len[64], pool_at[64], n_ng = 0, n_items = 0;
  int64_t counts[4];
  for (int L = 1; L <= tc->n_levels; L++) {
    counts[L - 1] = n_items;
    for (int e = 0; e < tc->per_level[L - 1]; e++) {
      int cand[4];
      bool dup;
      do {
        for (int k = 0; k < L; k++) cand[k] = rnd(tc->alphabet);
        dup = false;
        for (int f = 0; f < n_ng && !dup; f++)
          dup = pool_len[f] == L && !memcmp(&pool[pool_at[f]], cand, (size_t)L * sizeof *cand);
      } while (dup);
      pool_len[n_ng] = L;
      pool_at[n_ng] = n_items;
      memcpy(&pool[n_items], cand, (size_t)L * sizeof *cand);
      n_items += L;
      n_ng++;
    }
  }
  /* output columns: a permutation with a gap (one column never used) */
  int64_t indexes[64], width = n_ng + 1;
  for (int e = 0; e < n_ng; e++) indexes[e] = e < n_ng / 2 ? e : e + 1;
  for (int e = n_ng - 1; e > 0; e--) {
    int f = rnd(e + 1);
    int64_t tmp = indexes[e];
    indexes[e] = indexes[f];
    indexes[f] = tmp;
  }
  float weights[64];
  for (int e = 0; e < n_ng; e++) weights[e] = 0.25f + (float)rnd(8) * 0.5f;
  int x[512];
  for (int i = 0; i < tc->rows * tc->cols; i++) x[i] = rnd(tc->alphabet);

  tu_node t = tu_node_new("TfIdfVectorizer", 9, 1, 1);
  int64_t dims[2] = {tc->rows, tc->cols};
  int rank = tc->batch ? 2 : 1;
  onyx_dtype dt = tc->strings ? ONYX_DTYPE_STRING : tc->int_dt;
  tu_input(&t, 0, dt, rank, tc->batch ? dims : dims + 1);
  tu_attr_string(&t, "mode", tc->mode);
  tu_attr_int(&t, "min_gram_length", tc->min_n);
  tu_attr_int(&t, "max_gram_length", tc->max_n);
  tu_attr_int(&t, "max_skip_count", tc->max_skip);
  tu_attr_ints(&t, "ngram_counts", tc->n_levels, counts);
  tu_attr_ints(&t, "ngram_indexes", n_ng, indexes);
  if (tc->weights) attr_floats(&t, "weights", n_ng, weights);
  onyx_tensor *in;
  if (tc->strings) {
    const char *ps[256], *xs[512];
    for (int i = 0; i < n_items; i++) ps[i] = word(pool[i]);
    for (int i = 0; i < tc->rows * tc->cols; i++) xs[i] = word(x[i]);
    attr_strings(&t, "pool_strings", n_items, ps);
    in = strings(rank, tc->batch ? dims : dims + 1, xs);
  } else {
    int64_t pi[256];
    for (int i = 0; i < n_items; i++) pi[i] = pool[i];
    tu_attr_ints(&t, "pool_int64s", n_items, pi);
    onyx_tensor_create(dt, rank, tc->batch ? dims : dims + 1, &in);
    for (int i = 0; i < tc->rows * tc->cols; i++) {
      if (dt == ONYX_DTYPE_INT32) ((int32_t *)onyx_tensor_data(in))[i] = x[i];
      else ((int64_t *)onyx_tensor_data(in))[i] = x[i];
    }
  }
  onyx_tensor *y = NULL;
  CHECK_OK(tu_run(&t, 1, 1, &in, 1, &y));
  double ref[16 * 65];
  ref_tfidf(tc, x, n_ng, pool, pool_len, pool_at, indexes, tc->weights ? weights : NULL, width, ref);
  bool ok = y && y->dtype == ONYX_DTYPE_FLOAT && y->rank == rank && y->dims[rank - 1] == width &&
            (!tc->batch || y->dims[0] == tc->rows);
  for (int64_t i = 0; ok && i < tc->rows * width; i++) ok = fabs(((float *)y->data)[i] - ref[i]) < 1e-5;
  if (!ok) fprintf(stderr, "TfIdfVectorizer %s n %d..%d skip %d strings %d: mismatch\n", tc->mode, tc->min_n,
                   tc->max_n, tc->max_skip, tc->strings);
  CHECK(ok);
  onyx_tensor_free(in);
  onyx_tensor_free(y);
}

static void test_tfidf(void) {
  const char *modes[] = {"TF", "IDF", "TFIDF"};
  for (int m = 0; m < 3; m++)
    for (int rep = 0; rep < 4; rep++) {
      tf_case tc = {.mode = modes[m], .min_n = 1 + rnd(2), .max_skip = rnd(4), .n_levels = 3,
                    .per_level = {3, 6, 5}, .strings = rep % 2, .weights = rep >= 2, .batch = rep != 1,
                    .int_dt = rep == 0 ? ONYX_DTYPE_INT32 : ONYX_DTYPE_INT64, .alphabet = 4 + rnd(4)};
      tc.max_n = tc.min_n + rnd(4 - tc.min_n);
      tc.rows = tc.batch ? 1 + rnd(5) : 1;
      tc.cols = 3 + rnd(20);
      check_tfidf(&tc);
    }
  /* a level with no n-grams, and a row shorter than the n-grams */
  check_tfidf(&(tf_case){.mode = "TF", .min_n = 2, .max_n = 3, .max_skip = 2, .n_levels = 3, .per_level = {0, 4, 3},
                         .batch = true, .int_dt = ONYX_DTYPE_INT64, .rows = 3, .cols = 2, .alphabet = 3});
  check_tfidf(&(tf_case){.mode = "TFIDF", .min_n = 1, .max_n = 1, .max_skip = 3, .n_levels = 2, .per_level = {5, 2},
                         .weights = true, .int_dt = ONYX_DTYPE_INT32, .rows = 1, .cols = 30, .alphabet = 6});

  /* attribute errors: both pools, counts not tiling the pool, indexes short */
  int64_t d[1] = {4}, counts[2] = {0, 2}, idx3[3] = {0, 1, 2}, idx2[2] = {0, 1}, pool[4] = {1, 2, 3, 4};
  const char *ps[4] = {"a", "b", "c", "d"};
  for (int k = 0; k < 3; k++) {
    tu_node t = tu_node_new("TfIdfVectorizer", 9, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_INT64, 1, d);
    tu_attr_string(&t, "mode", "TF");
    tu_attr_int(&t, "min_gram_length", 1);
    tu_attr_int(&t, "max_gram_length", 2);
    tu_attr_int(&t, "max_skip_count", 0);
    int64_t bad_counts[2] = {0, 3};
    tu_attr_ints(&t, "ngram_counts", 2, k == 1 ? bad_counts : counts);
    tu_attr_ints(&t, "ngram_indexes", k == 2 ? 2 : 3, k == 2 ? idx2 : idx3);
    tu_attr_ints(&t, "pool_int64s", 4, pool);
    if (k == 0) attr_strings(&t, "pool_strings", 4, ps);
    onyx_tensor *in, *y = NULL;
    onyx_tensor_create(ONYX_DTYPE_INT64, 1, d, &in);
    CHECK_ERR(tu_run(&t, 1, 1, &in, 1, &y), ONYX_ERR_INVALID_MODEL);
    onyx_tensor_free(in);
  }
}

int main(void) {
  test_string_normalizer();
  test_tfidf();
  return tu_done("test_text");
}
