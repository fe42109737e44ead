/* test_exec.c — executor and session API basics on one-node models: running,
 * bad input names/dtypes/ranks, and that errors leave nothing leaked. */
#include "test_util.h"

int main(void) {
  /* Identity: a fed input comes back as a new tensor with the same contents */
  {
    tu_node t = tu_node_new("Identity", 13, 1, 1);
    int64_t d[2] = {2, 3};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    float v[6] = {1, 2, 3, 4, 5, 6};
    onyx_tensor *x = tu_f32(2, d, v), *y = NULL;
    CHECK_OK(tu_run(&t, 1, 1, &x, 1, &y));
    CHECK(y && onyx_tensor_rank(y) == 2 && onyx_tensor_dims(y)[1] == 3);
    CHECK(y && !memcmp(onyx_tensor_data(y), v, sizeof v));
    onyx_tensor_free(x);
    onyx_tensor_free(y);
  }
  /* wrong dtype, wrong rank, wrong name */
  {
    int64_t d[2] = {2, 3};
    onyx_tensor *xi, *x1, *y = NULL;
    onyx_tensor_create(ONYX_DTYPE_INT64, 2, d, &xi);
    x1 = tu_f32(1, d, NULL);
    tu_node t = tu_node_new("Identity", 13, 1, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
    onyx_session *s;
    CHECK_OK(onyx_session_create_from_model(t.m, NULL, &s));
    const char *nm = "x0", *bad = "nope";
    CHECK_ERR(onyx_session_run(s, 1, &nm, &xi, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_session_run(s, 1, &nm, &x1, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_session_run(s, 1, &bad, &x1, 1, NULL, &y), ONYX_ERR_INVALID_ARGUMENT);
    /* still usable after errors */
    onyx_tensor *x = tu_f32(2, d, NULL);
    CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
    onyx_tensor_free(y);
    onyx_tensor_free(x);
    onyx_tensor_free(xi);
    onyx_tensor_free(x1);
    onyx_session_destroy(s);
  }
  /* unknown operator is NOT_IMPLEMENTED at creation */
  {
    tu_node t = tu_node_new("NoSuchOp", 13, 1, 1);
    int64_t d[1] = {2};
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 1, d);
    onyx_session *s = NULL;
    CHECK_ERR(onyx_session_create_from_model(t.m, NULL, &s), ONYX_ERR_NOT_IMPLEMENTED);
  }
  return tu_done("test_exec");
}
