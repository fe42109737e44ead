/* test_session_robust.c — session promises on the bundled digits CNN:
 *  - concurrent onyx_session_run calls on one session give the same outputs
 *    as a single-threaded run;
 *  - out-of-memory at every allocation of a model load + session creation +
 *    run comes back as an error (never a crash), leaks nothing (ASan's leak
 *    checker runs on exit) and, for runs, leaves the session usable. */
#include <pthread.h>

#include "base/alloc.h"
#include "test_util.h"

#define MODEL "models/digits_cnn.onnx"
#define BATCH 8

static onyx_tensor *make_input(unsigned seed) {
  int64_t d[4] = {BATCH, 1, 8, 8};
  onyx_tensor *x = tu_f32(4, d, NULL);
  tu_fill_random(onyx_tensor_data(x), (size_t)onyx_tensor_numel(x), seed);
  return x;
}

static onyx_status *run_once(onyx_session *s, onyx_tensor *x, onyx_tensor **y) {
  const char *nm = "input";
  return onyx_session_run(s, 1, &nm, &x, 1, NULL, y);
}

typedef struct worker {
  onyx_session *s;
  onyx_tensor *x;
  const onyx_tensor *expect;
  int iters, mismatches, errors;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < w->iters; i++) {
    onyx_tensor *y = NULL;
    onyx_status *st = run_once(w->s, w->x, &y);
    if (st) w->errors++;
    else if (onyx_tensor_nbytes(y) != onyx_tensor_nbytes((onyx_tensor *)w->expect) ||
             memcmp(onyx_tensor_data(y), onyx_tensor_data((onyx_tensor *)w->expect), onyx_tensor_nbytes(y)))
      w->mismatches++;
    onyx_status_free(st);
    onyx_tensor_free(y);
  }
  return NULL;
}

int main(void) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 1);

  /* concurrency: 4 callers, each with its own input, checked against a
   * single-threaded run of the same input */
  {
    onyx_session *s = NULL;
    CHECK_OK(onyx_session_create(MODEL, o, &s));
    if (s) {
      worker w[4];
      pthread_t th[4];
      for (int i = 0; i < 4; i++) {
        onyx_tensor *ref = NULL;
        w[i] = (worker){s, make_input(100 + (unsigned)i), NULL, 20, 0, 0};
        CHECK_OK(run_once(s, w[i].x, &ref));
        w[i].expect = ref;
      }
      for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, work, &w[i]);
      for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
      for (int i = 0; i < 4; i++) {
        CHECK(w[i].errors == 0);
        CHECK(w[i].mismatches == 0);
        onyx_tensor_free(w[i].x);
        onyx_tensor_free((onyx_tensor *)w[i].expect);
      }
      onyx_session_destroy(s);
    }
  }

  /* out-of-memory during load + create: every failure point returns an error */
  {
    int failures = 0, successes = 0;
    for (int64_t n = 0; n < 100000; n++) {
      onyx_alloc_fail_after(n);
      onyx_session *s = NULL;
      onyx_status *st = onyx_session_create(MODEL, o, &s);
      onyx_alloc_fail_after(-1);
      if (st) {
        failures++;
        if (onyx_status_code(st) != ONYX_ERR_OUT_OF_MEMORY)
          fprintf(stderr, "fail at %lld: unexpected %s: %s\n", (long long)n,
                  onyx_code_name(onyx_status_code(st)), onyx_status_message(st));
        CHECK(onyx_status_code(st) == ONYX_ERR_OUT_OF_MEMORY);
        onyx_status_free(st);
        continue;
      }
      successes++;
      onyx_session_destroy(s);
      break; /* n reached past the last allocation of creation */
    }
    CHECK(failures > 10 && successes == 1);
  }

  /* out-of-memory during runs: errors come back, the session stays usable */
  {
    onyx_session *s = NULL;
    CHECK_OK(onyx_session_create(MODEL, o, &s));
    onyx_tensor *x = make_input(7), *ref = NULL;
    if (s) CHECK_OK(run_once(s, x, &ref));
    int failures = 0;
    for (int64_t n = 0; s && ref && n < 100000; n++) {
      onyx_tensor *y = NULL;
      onyx_alloc_fail_after(n);
      onyx_status *st = run_once(s, x, &y);
      onyx_alloc_fail_after(-1);
      if (!st) {
        CHECK(!memcmp(onyx_tensor_data(y), onyx_tensor_data(ref), onyx_tensor_nbytes(ref)));
        onyx_tensor_free(y);
        break;
      }
      failures++;
      CHECK(onyx_status_code(st) == ONYX_ERR_OUT_OF_MEMORY);
      onyx_status_free(st);
      /* still usable */
      onyx_tensor *y2 = NULL;
      onyx_status *st2 = run_once(s, x, &y2);
      if (st2 || memcmp(onyx_tensor_data(y2), onyx_tensor_data(ref), onyx_tensor_nbytes(ref))) {
        CHECK(!"session unusable after an out-of-memory run");
        onyx_status_free(st2);
        onyx_tensor_free(y2);
        break;
      }
      onyx_tensor_free(y2);
    }
    CHECK(failures > 5);
    onyx_tensor_free(x);
    onyx_tensor_free(ref);
    onyx_session_destroy(s);
  }
  onyx_options_destroy(o);
  return tu_done("test_session_robust");
}
