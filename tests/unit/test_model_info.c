/* test_model_info.c — the public introspection API (src/api/model_info.c,
 * src/api/tensor_kind.c) on models built in memory: header facts, declared
 * inputs/outputs with symbolic and unknown dims, node accessors, the node
 * visitor over subgraphs, initializer totals, op support, value kinds. */
#include "base/tensor.h"
#include "test_util.h"

typedef struct seen {
  int n, depth_sum, max_depth;
  char ops[16][32];
} seen;

static int record(const char *domain, const char *op_type, const char *name, int depth, void *arg) {
  (void)name;
  seen *s = arg;
  if (s->n < 16) snprintf(s->ops[s->n], sizeof s->ops[0], "%s%s%s@%d", domain, *domain ? ":" : "", op_type, depth);
  s->n++;
  s->depth_sum += depth;
  if (depth > s->max_depth) s->max_depth = depth;
  return 0;
}

static int stop_at_second(const char *d, const char *o, const char *n, int depth, void *arg) {
  (void)d, (void)o, (void)n, (void)depth;
  return ++*(int *)arg == 2 ? 42 : 0;
}

int main(void) {
  /* main graph: Identity(x) -> a; NoSuchOp(a, w) -> b; com.microsoft Frob(b) -> y;
   * If node whose then-branch holds two nodes and else-branch one. */
  tu_node t = tu_node_new("Identity", 13, 1, 1);
  onyx_model *m = t.m;
  onyx_graph *g = m->graph;
  m->producer_name = strdup("unit");
  m->doc_string = strdup("a model for the test");
  m->model_version = 7;
  m->props = calloc(2, sizeof *m->props);
  m->props[0] = (onyx_prop){strdup("author"), strdup("onyx")};
  m->props[1] = (onyx_prop){strdup("license"), strdup("MIT")};
  m->n_props = 2;
  onyx_model_set_opset(m, "com.microsoft", 1);
  int64_t batch;
  CHECK_OK(onyx_model_symbol(m, "batch", &batch));
  int64_t dims[3] = {batch, ONYX_DIM_UNKNOWN, 4};
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, dims);
  int y0 = g->nodes[0].out[0], w, b, y, c, nd;
  CHECK_OK(onyx_graph_value(g, "w", &w));
  CHECK_OK(onyx_graph_value(g, "b", &b));
  CHECK_OK(onyx_graph_value(g, "y", &y));
  CHECK_OK(onyx_graph_value(g, "cond", &c));
  int in2[2] = {y0, w};
  CHECK_OK(onyx_graph_add_node(g, "n1", "NoSuchOp", "", 2, in2, 1, &b, &nd));
  CHECK_OK(onyx_graph_add_node(g, "n2", "Frob", "com.microsoft", 1, &b, 1, &y, &nd));
  int64_t wd[2] = {2, 3};
  CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT, 2, wd, &g->values[w].init));
  CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, 1, wd, &g->values[c].init));
  int if_out, if_node;
  CHECK_OK(onyx_graph_value(g, "z", &if_out));
  CHECK_OK(onyx_graph_add_node(g, "if", "If", "", 1, &c, 1, &if_out, &if_node));
  onyx_graph *then_g, *else_g;
  CHECK_OK(onyx_graph_new(m, g, &then_g));
  CHECK_OK(onyx_graph_new(m, g, &else_g));
  int v0, v1;
  CHECK_OK(onyx_graph_value(then_g, "p", &v0));
  CHECK_OK(onyx_graph_value(then_g, "q", &v1));
  CHECK_OK(onyx_graph_add_node(then_g, "t0", "Identity", "", 1, &v0, 1, &v1, &nd));
  CHECK_OK(onyx_graph_add_node(then_g, "t1", "Relu", "ai.onnx", 1, &v1, 1, &v0, &nd));
  CHECK_OK(onyx_graph_value(else_g, "r", &v0));
  CHECK_OK(onyx_graph_add_node(else_g, "e0", "Identity", "", 1, &v0, 1, &v0, &nd));
  tu_set(&g->nodes[if_node], "then_branch", ONYX_ATTR_GRAPH)->g = then_g;
  tu_set(&g->nodes[if_node], "else_branch", ONYX_ATTR_GRAPH)->g = else_g;
  int outs[2] = {y, if_out};
  CHECK_OK(onyx_graph_set_outputs(g, 2, outs));

  /* header */
  CHECK(onyx_model_ir_version(m) == 8);
  CHECK(!strcmp(onyx_model_producer_name(m), "unit"));
  CHECK(!strcmp(onyx_model_producer_version(m), ""));
  CHECK(onyx_model_opset_count(m) == 2);
  const char *dom = NULL;
  int64_t ver = 0;
  CHECK_OK(onyx_model_opset_import(m, 1, &dom, &ver));
  CHECK(dom && !strcmp(dom, "com.microsoft") && ver == 1);
  CHECK_ERR(onyx_model_opset_import(m, 2, &dom, &ver), ONYX_ERR_INVALID_ARGUMENT);
  CHECK(!strcmp(onyx_model_domain(m), "") && !strcmp(onyx_model_doc_string(m), "a model for the test"));
  CHECK(onyx_model_version(m) == 7 && !strcmp(onyx_model_graph_name(m), g->name ? g->name : ""));
  CHECK(!strcmp(onyx_model_graph_doc_string(m), ""));
  g->doc_string = strdup("the main graph");
  CHECK(!strcmp(onyx_model_graph_doc_string(m), "the main graph"));
  CHECK(onyx_model_metadata_count(m) == 2);
  const char *key = NULL, *val = NULL;
  CHECK_OK(onyx_model_metadata_prop(m, 1, &key, &val));
  CHECK(!strcmp(key, "license") && !strcmp(val, "MIT"));
  CHECK_ERR(onyx_model_metadata_prop(m, 2, &key, &val), ONYX_ERR_INVALID_ARGUMENT);

  /* inputs/outputs */
  CHECK(onyx_model_input_count(m) == 1 && onyx_model_output_count(m) == 2);
  onyx_model_value_info vi;
  CHECK_OK(onyx_model_input_info(m, 0, &vi));
  CHECK(!strcmp(vi.name, "x0") && vi.kind == ONYX_VALUE_TENSOR && vi.dtype == ONYX_DTYPE_FLOAT);
  CHECK(vi.rank == 3 && vi.dims[0] == -1 && vi.dims[1] == -1 && vi.dims[2] == 4);
  CHECK(vi.dim_names[0] && !strcmp(vi.dim_names[0], "batch") && !vi.dim_names[1] && !vi.dim_names[2]);
  CHECK_OK(onyx_model_output_info(m, 1, &vi));
  CHECK(!strcmp(vi.name, "z") && vi.rank < 0);
  CHECK_ERR(onyx_model_input_info(m, 1, &vi), ONYX_ERR_INVALID_ARGUMENT);
  CHECK_ERR(onyx_model_output_info(m, -1, &vi), ONYX_ERR_INVALID_ARGUMENT);

  /* nodes, initializers */
  CHECK(onyx_model_node_count(m) == 4);
  CHECK(!strcmp(onyx_model_node_op_type(m, 2), "Frob") && !strcmp(onyx_model_node_domain(m, 2), "com.microsoft"));
  CHECK(!strcmp(onyx_model_node_name(m, 1), "n1") && !strcmp(onyx_model_node_domain(m, 1), ""));
  CHECK(!onyx_model_node_op_type(m, 4) && !onyx_model_node_name(m, -1) && !onyx_model_node_domain(m, 9));
  CHECK(onyx_model_initializer_count(m) == 2);
  CHECK(onyx_model_initializer_bytes(m) == 6 * 4 + 2 * 8);

  /* visitor: pre-order, subgraph depth, "ai.onnx" reported as "" */
  seen s = {0};
  CHECK(onyx_model_visit_nodes(m, record, &s) == 0);
  CHECK(s.n == 7 && s.max_depth == 1 && s.depth_sum == 3);
  const char *want[] = {"Identity@0", "NoSuchOp@0", "com.microsoft:Frob@0", "If@0",
                        "Identity@1", "Relu@1", "Identity@1"};
  for (int i = 0; i < 7 && i < s.n; i++) {
    CHECK(!strcmp(s.ops[i], want[i]));
    if (strcmp(s.ops[i], want[i])) fprintf(stderr, "  node %d: %s, expected %s\n", i, s.ops[i], want[i]);
  }
  int calls = 0;
  CHECK(onyx_model_visit_nodes(m, stop_at_second, &calls) == 42 && calls == 2);

  /* support: in the op table and with a cpu kernel */
  CHECK(onyx_op_supported("", "Identity") == 1);
  CHECK(onyx_op_supported("ai.onnx", "Identity") == 1);
  CHECK(onyx_op_supported("", "NoSuchOp") == 0);
  CHECK(onyx_op_supported("com.microsoft", "Identity") == 0);
  CHECK(onyx_op_supported(NULL, NULL) == 0);
  onyx_model_destroy(m);

  /* value kinds */
  {
    int64_t d1 = 3;
    onyx_tensor *e[2], *seq, *plain;
    CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, &d1, &e[0]));
    CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, &d1, &e[1]));
    CHECK_OK(onyx_sequence_new(ONYX_DTYPE_FLOAT, 2, e, &seq));
    CHECK(onyx_tensor_kind(seq) == ONYX_VALUE_SEQUENCE && onyx_tensor_elem_count(seq) == 2);
    CHECK(onyx_tensor_elem(seq, 1) == e[1] && !onyx_tensor_elem(seq, 2) && !onyx_tensor_elem(seq, -1));
    CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT8, 1, &d1, &plain));
    CHECK(onyx_tensor_kind(plain) == ONYX_VALUE_TENSOR && onyx_tensor_elem_count(plain) == 0);
    CHECK(!onyx_tensor_elem(plain, 0));
    seq->kind = ONYX_KIND_OPTIONAL;   /* the same handle seen as an optional */
    CHECK(onyx_tensor_kind(seq) == ONYX_VALUE_OPTIONAL);
    onyx_tensor_free(seq);
    onyx_tensor_free(plain);
  }
  return tu_done("test_model_info");
}
