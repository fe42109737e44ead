/* test_opt_api.c — the optimizer's public surface and its manager: levels
 * (0 does nothing), pass selection (--passes / --disable and unknown
 * names), statistics, user passes (onyx_options_add_pass, onyx_pass_*),
 * the session pipeline with optimized_model_filepath (the saved file loads
 * and runs with the same outputs), and the validation after each pass that
 * names the pass that broke the graph. */
#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"
#include "ops/ops.h"
#include "exec/exec.h"
#include "opt/opt.h"
#include "opt_builder.h"

static gb small_graph(void) {
  gb b = gb_new(17);
  int64_t d[2] = {3, 4};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, d);
  gb_node(&b, "Identity", "x", "a");
  gb_node(&b, "Abs", "a", "b");
  gb_node(&b, "Relu", "b", "c");
  gb_node(&b, "Relu", "b", "c2");
  gb_node(&b, "Add", "c,c2", "y");
  gb_output(&b, "y");
  return b;
}

static const onyx_pass_stat *stat_of(const onyx_optimize_stats *st, const char *name) {
  for (int i = 0; i < st->n_passes; i++)
    if (!strcmp(st->passes[i].name, name)) return &st->passes[i];
  return NULL;
}

static void test_levels_and_selection(void) {
  gb b = small_graph();
  onyx_optimize_stats st;
  CHECK_OK(gb_optimize(b.m, 0, &st));
  CHECK(b.g->n_nodes == 5 && st.n_passes == 0 && st.nodes_after == 5);
  CHECK_OK(gb_optimize(b.m, 1, &st));
  CHECK(b.g->n_nodes == 3 && st.nodes_before == 5 && st.nodes_after == 3);
  const onyx_pass_stat *p = stat_of(&st, "noop_elimination");
  CHECK(p && p->nodes_removed == 1 && p->runs >= 1);
  p = stat_of(&st, "common_subexpression");
  CHECK(p && p->nodes_removed == 1);
  CHECK(!stat_of(&st, "gelu_fusion"));   /* a level-2 pass does not run at 1 */
  onyx_model_destroy(b.m);

  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  b = small_graph();
  CHECK_OK(onyx_options_disable_passes(o, "noop_elimination"));
  CHECK_OK(onyx_model_optimize(b.m, o, &st));
  CHECK(gb_count(b.m, "Identity") == 1 && gb_count(b.m, "Relu") == 1);
  onyx_model_destroy(b.m);
  b = small_graph();
  CHECK_OK(onyx_options_disable_passes(o, ""));
  CHECK_OK(onyx_options_set_passes(o, "noop_elimination"));
  CHECK_OK(onyx_model_optimize(b.m, o, &st));
  CHECK(gb_count(b.m, "Identity") == 0 && gb_count(b.m, "Relu") == 2 && st.n_passes == 1);
  onyx_model_destroy(b.m);
  b = small_graph();
  CHECK_OK(onyx_options_set_passes(o, "no_such_pass"));
  CHECK_ERR(onyx_model_optimize(b.m, o, &st), ONYX_ERR_INVALID_ARGUMENT);
  onyx_model_destroy(b.m);
  onyx_options_destroy(o);
}

/* A user pass: bypasses every Abs (walking backwards, as the API asks). */
static onyx_status *drop_abs(onyx_graph *g, void *arg, int *changed) {
  int *calls = arg;
  (*calls)++;
  *changed = 0;
  for (int i = onyx_pass_node_count(g) - 1; i >= 0; i--) {
    if (strcmp(onyx_pass_node_op_type(g, i), "Abs")) continue;
    if (!onyx_pass_node_input(g, i, 0) || onyx_pass_node_input_count(g, i) != 1) continue;
    onyx_status *s = onyx_pass_bypass_node(g, i);
    if (s) return s;
    (*changed)++;
  }
  return NULL;
}

static onyx_status *failing_pass(onyx_graph *g, void *arg, int *changed) {
  (void)g;
  (void)arg;
  *changed = 0;
  return onyx_pass_error("refusing on purpose");
}

static void test_user_pass(void) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  int calls = 0;
  CHECK_OK(onyx_options_add_pass(o, "drop_abs", 1, "Abs", drop_abs, &calls));
  CHECK_ERR(onyx_options_add_pass(o, "bad", 4, NULL, drop_abs, &calls), ONYX_ERR_INVALID_ARGUMENT);
  gb b = small_graph();
  onyx_optimize_stats st;
  CHECK_OK(onyx_model_optimize(b.m, o, &st));
  CHECK(gb_count(b.m, "Abs") == 0 && calls >= 1);
  const onyx_pass_stat *p = stat_of(&st, "drop_abs");
  CHECK(p && p->changes == 1 && p->nodes_removed == 1 && p->level == 1);
  onyx_model_destroy(b.m);
  /* skipped on graphs without its target op */
  calls = 0;
  b = small_graph();
  CHECK_OK(onyx_options_set_passes(o, "noop_elimination,drop_abs"));
  CHECK_OK(onyx_model_optimize(b.m, o, &st));
  CHECK_OK(onyx_model_optimize(b.m, o, &st));
  CHECK(calls == 1);
  onyx_model_destroy(b.m);
  /* a failing user pass stops optimization with its name in the message */
  CHECK_OK(onyx_options_set_passes(o, NULL));
  CHECK_OK(onyx_options_add_pass(o, "failing", 2, NULL, failing_pass, NULL));
  b = small_graph();
  onyx_status *s = onyx_model_optimize(b.m, o, &st);
  CHECK(s && strstr(onyx_status_message(s), "failing") && strstr(onyx_status_message(s), "on purpose"));
  onyx_status_free(s);
  onyx_model_destroy(b.m);
  onyx_options_destroy(o);
}

/* A broken built-in-style pass: validation after it names it. */
static onyx_status *breaks_graph(onyx_graph *g, opt_ctx *c, int *changed) {
  (void)c;
  int v;
  ONYX_TRY(onyx_graph_value(g, "dangling", &v));
  g->nodes[g->n_nodes - 1].in[0] = v;   /* an input nothing defines */
  *changed = 1;
  return NULL;
}

static void test_validation_names_pass(void) {
  gb b = small_graph();
  CHECK_OK(onyx_graph_toposort(b.g));
  CHECK_OK(onyx_graph_infer(b.g));
  opt_pass bad = {"breaks_graph", 1, NULL, breaks_graph, NULL, NULL};
  opt_config cfg = {1, "breaks_graph", NULL, 1, &bad, NULL, NULL, NULL, NULL, onyx_exec_node, NULL};
  onyx_status *s = opt_run(b.g, &cfg, NULL);
  CHECK(s && strstr(onyx_status_message(s), "breaks_graph") && strstr(onyx_status_message(s), "dangling"));
  if (s) printf("  validation: %s\n", onyx_status_message(s));
  onyx_status_free(s);
  onyx_model_destroy(b.m);
}

/* The session optimizes, records its statistics and saves the graph. */
static void test_session_and_saved_model(void) {
  char path[] = "/tmp/onyx_opt_api_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  onyx_options_set_optimization_level(o, 1);
  CHECK_OK(onyx_options_set_optimized_model_path(o, path));
  gb b = small_graph();
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(b.m, o, &s));
  onyx_options_destroy(o);
  if (!s) return;
  onyx_optimize_stats st;
  onyx_session_optimize_stats(s, &st);
  CHECK(st.level == 1 && st.nodes_before == 5 && st.nodes_after == 3);
  CHECK(onyx_session_node_count(s) == 3);
  onyx_model *m = NULL;
  CHECK_OK(onyx_model_load(path, &m));
  CHECK(m && onyx_model_node_count(m) == 3);
  onyx_model_destroy(m);
  /* the saved model runs, unoptimized, to the same outputs */
  onyx_options *o0;
  onyx_options_create(&o0);
  onyx_options_set_optimization_level(o0, 0);
  onyx_session *s2 = NULL;
  CHECK_OK(onyx_session_create(path, o0, &s2));
  onyx_options_destroy(o0);
  int64_t d[2] = {3, 4};
  float xv[12];
  tu_fill_random(xv, 12, 5);
  onyx_tensor *x = tu_f32(2, d, xv), *y1 = NULL, *y2 = NULL;
  const char *in[1] = {"x"};
  CHECK_OK(onyx_session_run(s, 1, in, &x, 1, NULL, &y1));
  if (s2) CHECK_OK(onyx_session_run(s2, 1, in, &x, 1, NULL, &y2));
  CHECK(y1 && y2 && gb_rel_err(y2, y1) == 0);
  for (int i = 0; y1 && i < 12; i++) CHECK_NEAR(((float *)onyx_tensor_data(y1))[i], 2 * fabsf(xv[i]), 1e-6);
  onyx_tensor_free(x);
  onyx_tensor_free(y1);
  onyx_tensor_free(y2);
  onyx_session_destroy(s);
  onyx_session_destroy(s2);
  unlink(path);
}

/* Out of memory anywhere in optimization comes back as an error, leaks
 * nothing (ASan checks) and leaves a model that can still be destroyed. */
static void test_allocation_failures(void) {
  int failures = 0, rounds = 0;
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  for (int64_t n = 0; n < 4000; n += 7, rounds++) {
    gb b = small_graph();
    onyx_alloc_fail_after(n);
    onyx_status *s = onyx_model_optimize(b.m, o, NULL);
    onyx_alloc_fail_after(-1);
    if (s) {
      failures++;
      CHECK(onyx_status_code(s) == ONYX_ERR_OUT_OF_MEMORY);
    } else {
      onyx_model_destroy(b.m);
      break;
    }
    onyx_status_free(s);
    onyx_model_destroy(b.m);
  }
  onyx_options_destroy(o);
  CHECK(failures > 0 && rounds > failures - 1);
}

/* The ai.onyx fusions leave nodes another provider claims to it. */
static bool claims_conv(void *arg, const onyx_graph *g, const onyx_node *n) {
  (void)arg;
  (void)g;
  return !strcmp(n->op_type, "Conv");
}

static void test_claimed_nodes(void) {
  gb b = gb_new(17);
  int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, ad[2] = {4, 6}, md[2] = {6, 5};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 4, xd);
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 2, ad);
  gb_const_rand(&b, "w", 4, wd, 1, 1, 0);
  gb_const_rand(&b, "m", 2, md, 2, 1, 0);
  gb_node(&b, "Conv", "x,w", "c");
  gb_node(&b, "Relu", "c", "y");
  gb_node(&b, "MatMul", "a,m", "p");
  gb_node(&b, "Relu", "p", "z");
  gb_output(&b, "y");
  gb_output(&b, "z");
  CHECK_OK(onyx_graph_toposort(b.g));
  CHECK_OK(onyx_graph_infer(b.g));
  opt_config cfg = {2, NULL, NULL, 0, NULL, NULL, claims_conv, NULL, NULL, onyx_exec_node, NULL};
  CHECK_OK(opt_run(b.g, &cfg, NULL));
  CHECK(gb_count(b.m, "Conv") == 1 && gb_count(b.m, "FusedConv") == 0);
  CHECK(gb_count(b.m, "FusedMatMul") == 1 && gb_count(b.m, "Relu") == 1);
  onyx_model_destroy(b.m);
}

int main(void) {
  setenv("ONYX_VALIDATE_PASSES", "1", 1);
  test_levels_and_selection();
  test_user_pass();
  test_validation_names_pass();
  test_claimed_nodes();
  test_session_and_saved_model();
  test_allocation_failures();
  return tu_done("test_opt_api");
}
