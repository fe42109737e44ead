/* test_validate.c — onyx_model_check (src/ops/validate.c): the model checks
 * made before a session or the optimizer uses a model. For each check, a
 * model it must refuse (code and a fragment of the message, which names the
 * node) and one it must let through: IR version; an op used before it existed
 * or after it was removed; input and output counts; omitted required inputs
 * and outputs; attribute names, types and required ones; type constraints
 * (by family); subgraphs; nodes newer than the schema table (only their
 * required inputs checked) and domains it does not hold (not checked); inconsistent shapes reported as the
 * model's fault (INVALID_MODEL), through onyx_model_check, session creation
 * and onyx_model_optimize; a declared main-graph output rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ops/ops.h"
#include "test_util.h"

/* Checks t's model and destroys it; returns the status. */
static onyx_status *check(tu_node *t) {
  onyx_status *s = onyx_model_check(t->m);
  onyx_model_destroy(t->m);
  t->m = NULL;
  return s;
}

/* A one-node model whose inputs are all fed as float [2,3]. */
static tu_node node_f32(const char *op, int opset, int n_in, int n_out) {
  int64_t d[2] = {2, 3};
  tu_node t = tu_node_new(op, opset, n_in, n_out);
  for (int i = 0; i < n_in; i++) tu_input(&t, i, ONYX_DTYPE_FLOAT, 2, d);
  return t;
}

static void test_ir_version(void) {
  tu_node t = node_f32("Relu", 13, 1, 1);
  t.m->ir_version = 0;
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "no IR version");
  t = node_f32("Relu", 13, 1, 1);
  t.m->ir_version = 11;
  CHECK_ERR_MSG(check(&t), ONYX_ERR_NOT_IMPLEMENTED, "IR version 11");
  t = node_f32("Relu", 13, 1, 1);
  t.m->ir_version = 10;
  CHECK_OK(check(&t));
}

static void test_opset_range(void) {
  /* Gelu came with opset 20 (after the onnx that made the table) */
  tu_node t = node_f32("Gelu", 13, 1, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "node 'n0' (Gelu): Gelu does not exist before opset 20");
  t = node_f32("Gelu", 20, 1, 1);
  CHECK_OK(check(&t));
  /* HardSwish came with opset 14 (in the table) */
  t = node_f32("HardSwish", 13, 1, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "before opset 14");
  t = node_f32("HardSwish", 14, 1, 1);
  CHECK_OK(check(&t));
  /* Upsample was removed at opset 10, for good */
  int64_t d4[4] = {1, 1, 2, 2};
  float scales[4] = {1, 1, 2, 2};
  int64_t n4[1] = {4};
  for (int opset = 9; opset <= 18; opset += 9) {
    t = tu_node_new("Upsample", opset, 2, 1);
    tu_input(&t, 0, ONYX_DTYPE_FLOAT, 4, d4);
    tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, n4, scales);
    if (opset == 9) CHECK_OK(check(&t));
    else CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "removed from the opset at version 10");
  }
  /* an op onyx does not know stays NOT_IMPLEMENTED */
  t = node_f32("NoSuchOp", 13, 1, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_NOT_IMPLEMENTED, "NoSuchOp");
}

static void test_arity(void) {
  tu_node t = node_f32("Relu", 13, 2, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "node 'n0' (Relu): 2 inputs, Relu-13 takes 1");
  t = node_f32("Relu", 13, 0, 1);   /* no input for the infer function to read */
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "0 inputs, Relu-13 takes 1");
  t = node_f32("Relu", 13, 1, 2);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "2 outputs, Relu-13 makes 1");
  t = node_f32("Relu", 13, 1, 0);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "0 outputs");
  t = node_f32("Relu", 13, 1, 1);
  CHECK_OK(check(&t));
  t = node_f32("Gemm", 13, 4, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "4 inputs, Gemm-13 takes 2 to 3");
  /* variadic: Concat takes at least one */
  t = node_f32("Concat", 13, 0, 1);
  tu_attr_int(&t, "axis", 0);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "takes at least 1");
  t = node_f32("Concat", 13, 3, 1);
  tu_attr_int(&t, "axis", 0);
  CHECK_OK(check(&t));
  t = node_f32("Dropout", 13, 1, 3);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "3 outputs, Dropout-13 makes 1 to 2");
  t = node_f32("Dropout", 13, 1, 2);
  CHECK_OK(check(&t));
}

static void test_omitted(void) {
  /* "" omits only optional inputs and outputs */
  tu_node t = node_f32("Add", 14, 2, 1);
  tu_n(&t)->in[1] = -1;
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "input 1 ('B') of Add-14 is required but omitted");
  float mx = 1;
  t = tu_node_new("Clip", 13, 3, 1);
  int64_t d[2] = {2, 3};
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
  tu_n(&t)->in[1] = -1;
  tu_const(&t, 2, ONYX_DTYPE_FLOAT, 0, d, &mx);
  CHECK_OK(check(&t));
  int64_t k = 1, one[1] = {1};
  t = tu_node_new("TopK", 11, 2, 2);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, d);
  tu_const(&t, 1, ONYX_DTYPE_INT64, 1, one, &k);
  tu_n(&t)->out[1] = -1;
  onyx_graph_set_outputs(t.m->graph, 1, tu_n(&t)->out);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "output 1 ('Indices') of TopK-11 is required but omitted");
  t = node_f32("Dropout", 13, 1, 2);
  tu_n(&t)->out[1] = -1;
  onyx_graph_set_outputs(t.m->graph, 1, tu_n(&t)->out);
  CHECK_OK(check(&t));
}

static void test_attributes(void) {
  tu_node t = node_f32("Relu", 13, 1, 1);
  tu_attr_int(&t, "frobnication", 3);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "attribute 'frobnication' is not an attribute of Relu-13");
  t = node_f32("LeakyRelu", 13, 1, 1);
  tu_attr_string(&t, "alpha", "0.1");
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "attribute 'alpha' is of type STRING, LeakyRelu-6 takes FLOAT");
  t = node_f32("LeakyRelu", 13, 1, 1);
  tu_attr_float(&t, "alpha", 0.1f);
  CHECK_OK(check(&t));
  float ks[2] = {3, 3};
  t = node_f32("Flatten", 13, 1, 1);
  tu_set_floats(tu_n(&t), "axis", 2, ks);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "is of type FLOATS, Flatten-13 takes INT");
  /* required */
  t = node_f32("Cast", 13, 1, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "required attribute 'to' of Cast-13 is missing");
  t = node_f32("Cast", 13, 1, 1);
  tu_attr_int(&t, "to", ONYX_DTYPE_INT64);
  CHECK_OK(check(&t));
}

static void test_types(void) {
  int64_t d[1] = {2};
  tu_node t = tu_node_new("Relu", 14, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_STRING, 1, d);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "input 0 ('x0') is string; Relu-14 takes");
  /* a float type ONNX does not list at this opset is of an allowed family */
  t = tu_node_new("Relu", 13, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT16, 1, d);
  CHECK_OK(check(&t));
  t = tu_node_new("Conv", 11, 2, 1);
  int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 1, 1};
  tu_input(&t, 0, ONYX_DTYPE_BFLOAT16, 4, xd);
  tu_input(&t, 1, ONYX_DTYPE_BFLOAT16, 4, wd);
  CHECK_OK(check(&t));
  /* an integer family where the op takes floats only */
  t = tu_node_new("Exp", 13, 1, 1);
  tu_input(&t, 0, ONYX_DTYPE_INT32, 1, d);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "is int32; Exp-13 takes");
  /* one type variable, two dtypes */
  int64_t md[2] = {2, 2};
  t = tu_node_new("MatMul", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, md);
  tu_input(&t, 1, ONYX_DTYPE_DOUBLE, 2, md);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL,
                "is float64 but input 0 ('x0') is float32; MatMul-13 takes one type for both");
  t = tu_node_new("MatMul", 13, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_DOUBLE, 2, md);
  tu_input(&t, 1, ONYX_DTYPE_DOUBLE, 2, md);
  CHECK_OK(check(&t));
}

/* An If whose then-branch holds `op` with n_in inputs, all the outer float x. */
static tu_node if_with(const char *op, int n_in) {
  int64_t d[1] = {2};
  uint8_t yes = 1;
  tu_node t = tu_node_new("If", 13, 1, 1);
  tu_const(&t, 0, ONYX_DTYPE_BOOL, 0, d, &yes);
  onyx_graph *g = t.m->graph;
  int x;
  onyx_graph_value(g, "x", &x);
  g->values[x].dtype = ONYX_DTYPE_FLOAT;
  g->values[x].rank = 1;
  g->values[x].dims[0] = 2;
  onyx_graph_set_inputs(g, 1, &x);
  const char *branch_name[2] = {"then_branch", "else_branch"};
  for (int b = 0; b < 2; b++) {
    onyx_graph *sub;
    onyx_graph_new(t.m, g, &sub);
    int in[4], out;
    onyx_graph_value(sub, "x", &in[0]);
    sub->values[in[0]].is_outer = true;
    sub->values[in[0]].dtype = ONYX_DTYPE_FLOAT;
    sub->values[in[0]].rank = 1;
    sub->values[in[0]].dims[0] = d[0];
    for (int i = 1; i < n_in; i++) in[i] = in[0];
    onyx_graph_value(sub, "r", &out);
    onyx_graph_add_node(sub, "inner", b ? "Identity" : op, "", b ? 1 : n_in, in, 1, &out, NULL);
    onyx_graph_set_outputs(sub, 1, &out);
    onyx_attr *a;
    onyx_node_add_attr(tu_n(&t), branch_name[b], &a);
    a->type = ONYX_ATTR_GRAPH;
    a->g = sub;
  }
  return t;
}

static void test_subgraphs(void) {
  tu_node t = if_with("Relu", 2);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "node 'inner' (Relu): 2 inputs");
  t = if_with("Relu", 1);
  CHECK_OK(check(&t));
}

static void test_not_checked(void) {
  /* past the table's opset (onnx 1.12: 17) a newer version may have the
   * attribute: not refused */
  tu_node t = node_f32("Relu", 18, 1, 1);
  tu_attr_int(&t, "frobnication", 3);
  CHECK_OK(check(&t));
  /* ...but its inputs are at least the newest known version's required ones
   * (kernels read them): a GridSample at opset 20 with one input */
  t = node_f32("GridSample", 20, 1, 1);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "GridSample takes at least 2");
  t = node_f32("Relu", 18, 2, 1);   /* more inputs: a newer version may take them */
  CHECK_OK(check(&t));
  /* a domain the table does not hold (onyx's fused ops) */
  t = node_f32("BiasGelu", 13, 1, 1);
  onyx_node *n = tu_n(&t);
  free(n->domain);
  n->domain = strdup(ONYX_DOMAIN_ONYX);
  onyx_model_set_opset(t.m, ONYX_DOMAIN_ONYX, 1);
  n->opset = 1;
  tu_attr_string(&t, "approximate", "tanh");
  CHECK_OK(check(&t));
}

static void test_model_errors(void) {
  /* inconsistent shapes of the model itself: INVALID_MODEL (the infer
   * functions say INVALID_ARGUMENT, which is right only at run time) */
  int64_t a[2] = {2, 3}, b[1] = {4};
  float w[4] = {0};
  tu_node t = tu_node_new("Add", 14, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, a);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, b, w);
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "cannot be broadcast");
  t = tu_node_new("Add", 14, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, a);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, b, w);
  onyx_session *s = NULL;
  CHECK_ERR_MSG(onyx_session_create_from_model(t.m, NULL, &s), ONYX_ERR_INVALID_MODEL, "'n0'");
  t = tu_node_new("Add", 14, 2, 1);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 2, a);
  tu_const(&t, 1, ONYX_DTYPE_FLOAT, 1, b, w);
  CHECK_ERR_MSG(onyx_model_optimize(t.m, NULL, NULL), ONYX_ERR_INVALID_MODEL, "'n0'");
  onyx_model_destroy(t.m);
  /* a main-graph output declared with a rank the graph cannot give */
  t = node_f32("Relu", 13, 1, 1);
  onyx_value *y = &t.m->graph->values[tu_n(&t)->out[0]];
  y->dtype = ONYX_DTYPE_FLOAT;
  y->rank = 3;
  y->dims[0] = y->dims[1] = y->dims[2] = ONYX_DIM_UNKNOWN;
  CHECK_ERR_MSG(check(&t), ONYX_ERR_INVALID_MODEL, "graph output 'y0' is declared with rank 3 but computes rank 2");
  t = node_f32("Relu", 13, 1, 1);
  y = &t.m->graph->values[tu_n(&t)->out[0]];
  y->rank = 2;
  y->dims[0] = y->dims[1] = ONYX_DIM_UNKNOWN;
  CHECK_OK(check(&t));
}

int main(void) {
  test_ir_version();
  test_opset_range();
  test_arity();
  test_omitted();
  test_attributes();
  test_types();
  test_subgraphs();
  test_not_checked();
  test_model_errors();
  return tu_done("test_validate");
}
