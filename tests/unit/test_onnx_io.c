/* test_onnx_io.c — the ONNX reader and writer (src/onnx).
 *
 * Round trips (IR -> bytes -> IR, and every official node-test model through
 * load -> save -> load) compared structurally; real models checked against
 * facts of ONNX's test generator; every TensorProto encoding built by hand
 * with protobuf-c and decoded; .pb test data (tensors, sequences,
 * optionals); external data and its path rules; malformed input (truncation
 * at every length, byte flips, garbage, inconsistent sizes) that must give
 * errors and never crash (run it in the ASan build); and allocation failure
 * injected at every step of a load, a save and a .pb read, which must give
 * OUT_OF_MEMORY and leak nothing. */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/half.h"
#include "onnx.pb-c.h"
#include "test_util.h"
#include "proto_util.h"

#ifndef NODE_DIR /* set by CMake from ONNX_NODE_TESTS */
#define NODE_DIR "/usr/share/libonnx-testdata/data/node"
#endif

/* ---- helpers ---------------------------------------------------------------------- */

static void *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc((size_t)n + 1);
  *len = fread(p, 1, (size_t)n, f);
  fclose(f);
  return p;
}

static void write_all(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, n, f);
  fclose(f);
}

static bool tensors_equal(const onyx_tensor *a, const onyx_tensor *b) {
  if (!a || !b) return a == b;
  if (a->kind != b->kind || a->n_elems != b->n_elems) return false;
  if (a->kind != ONYX_KIND_TENSOR) {
    for (int i = 0; i < a->n_elems; i++)
      if (!tensors_equal(a->elems[i], b->elems[i])) return false;
    return a->n_elems > 0 || a->dtype == b->dtype || a->kind == ONYX_KIND_OPTIONAL;
  }
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  if (memcmp(a->dims, b->dims, (size_t)a->rank * sizeof *a->dims)) return false;
  if (a->dtype == ONYX_DTYPE_STRING) {
    int64_t n = onyx_numel(a->rank, a->dims);
    for (int64_t i = 0; i < n; i++)
      if (strcmp(((char **)a->data)[i], ((char **)b->data)[i])) return false;
    return true;
  }
  return a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
}

static bool graphs_equal(const onyx_graph *a, const onyx_graph *b);

static bool attrs_equal(const onyx_attr *x, const onyx_attr *y) {
  if (strcmp(x->name, y->name) || x->type != y->type) return false;
  if ((x->ref_attr_name == NULL) != (y->ref_attr_name == NULL)) return false;
  if (x->ref_attr_name) return !strcmp(x->ref_attr_name, y->ref_attr_name);
  switch (x->type) {
    case ONYX_ATTR_FLOAT: return !memcmp(&x->f, &y->f, sizeof x->f);
    case ONYX_ATTR_INT: return x->i == y->i;
    case ONYX_ATTR_STRING: return x->s_len == y->s_len && !memcmp(x->s, y->s, x->s_len);
    case ONYX_ATTR_TENSOR: return tensors_equal(x->t, y->t);
    case ONYX_ATTR_GRAPH: return graphs_equal(x->g, y->g);
    case ONYX_ATTR_FLOATS: return x->n == y->n && !memcmp(x->floats, y->floats, (size_t)x->n * sizeof(float));
    case ONYX_ATTR_INTS: return x->n == y->n && !memcmp(x->ints, y->ints, (size_t)x->n * sizeof(int64_t));
    case ONYX_ATTR_STRINGS:
      if (x->n != y->n) return false;
      for (int i = 0; i < x->n; i++)
        if (strcmp(x->strings[i], y->strings[i])) return false;
      return true;
    case ONYX_ATTR_TENSORS:
      if (x->n != y->n) return false;
      for (int i = 0; i < x->n; i++)
        if (!tensors_equal(x->tensors[i], y->tensors[i])) return false;
      return true;
    case ONYX_ATTR_GRAPHS:
      if (x->n != y->n) return false;
      for (int i = 0; i < x->n; i++)
        if (!graphs_equal(x->graphs[i], y->graphs[i])) return false;
      return true;
    case ONYX_ATTR_TYPE_PROTO: return x->i == y->i && x->n == y->n && (!x->n || x->ints[0] == y->ints[0]);
    default: return false;
  }
}

/* Same declared type: kind, dtype, rank and dims (symbols compared by name). */
static bool types_equal(const onyx_graph *ga, const onyx_value *a, const onyx_graph *gb, const onyx_value *b) {
  if (a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++) {
    const char *sa = onyx_model_symbol_name(ga->model, a->dims[d]);
    const char *sb = onyx_model_symbol_name(gb->model, b->dims[d]);
    if (sa || sb) {
      if (!sa || !sb || strcmp(sa, sb)) return false;
    } else if (a->dims[d] != b->dims[d]) {
      return false;
    }
  }
  return true;
}

static const char *vname(const onyx_graph *g, int v) { return v >= 0 ? g->values[v].name : ""; }

static bool graphs_equal(const onyx_graph *a, const onyx_graph *b) {
  if (!a || !b) return a == b;
  if (a->n_nodes != b->n_nodes || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs) return false;
  for (int i = 0; i < a->n_nodes; i++) {
    const onyx_node *x = &a->nodes[i], *y = &b->nodes[i];
    if (strcmp(x->name, y->name) || strcmp(x->op_type, y->op_type) || strcmp(x->domain, y->domain) ||
        x->opset != y->opset || x->n_in != y->n_in || x->n_out != y->n_out || x->n_attrs != y->n_attrs)
      return false;
    for (int k = 0; k < x->n_in; k++)
      if (strcmp(vname(a, x->in[k]), vname(b, y->in[k]))) return false;
    for (int k = 0; k < x->n_out; k++)
      if (strcmp(vname(a, x->out[k]), vname(b, y->out[k]))) return false;
    for (int k = 0; k < x->n_attrs; k++)
      if (!attrs_equal(&x->attrs[k], &y->attrs[k])) return false;
  }
  for (int i = 0; i < a->n_inputs; i++) {
    const onyx_value *x = &a->values[a->inputs[i]], *y = &b->values[b->inputs[i]];
    if (strcmp(x->name, y->name) || !types_equal(a, x, b, y)) return false;
  }
  for (int i = 0; i < a->n_outputs; i++) {
    const onyx_value *x = &a->values[a->outputs[i]], *y = &b->values[b->outputs[i]];
    if (strcmp(x->name, y->name) || !types_equal(a, x, b, y)) return false;
  }
  for (int v = 0; v < a->n_values; v++) {
    const onyx_value *x = &a->values[v];
    int w = onyx_graph_find(b, x->name);
    if (x->init || x->is_outer) {
      if (w < 0 || b->values[w].is_outer != x->is_outer || !tensors_equal(x->init, b->values[w].init))
        return false;
    }
    if (x->producer >= 0 && x->dtype != ONYX_DTYPE_UNDEFINED && (w < 0 || !types_equal(a, x, b, &b->values[w])))
      return false;
  }
  return true;
}

static bool models_equal(const onyx_model *a, const onyx_model *b) {
  if (a->n_opsets != b->n_opsets || a->n_props != b->n_props) return false;
  for (int i = 0; i < a->n_opsets; i++)
    if (onyx_model_opset(b, a->opsets[i].domain) != a->opsets[i].version) return false;
  for (int i = 0; i < a->n_props; i++)
    if (strcmp(a->props[i].key, b->props[i].key) || strcmp(a->props[i].value, b->props[i].value)) return false;
  return graphs_equal(a->graph, b->graph);
}

static onyx_tensor *make_tensor(onyx_dtype dt, int rank, const int64_t *dims, const void *data) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  memcpy(t->data, data, t->nbytes);
  return t;
}

/* ---- an IR model exercising every feature the writer knows ------------------------ */

static onyx_graph *make_branch(onyx_model *m, onyx_graph *parent, const char *outer, const char *out) {
  onyx_graph *g;
  onyx_graph_new(m, parent, &g);
  int x, y, n;
  onyx_graph_value(g, outer, &x);
  g->values[x].is_outer = true;
  onyx_graph_value(g, out, &y);
  onyx_graph_add_node(g, "", "Identity", "", 1, &x, 1, &y, &n);
  onyx_graph_set_outputs(g, 1, &y);
  g->values[y].dtype = ONYX_DTYPE_FLOAT;
  return g;
}

static onyx_model *make_model(void) {
  onyx_model *m;
  onyx_model_new(&m);
  m->ir_version = 8;
  m->producer_name = strdup("onyx-test");
  onyx_model_set_opset(m, "", 17);
  onyx_model_set_opset(m, "ai.onnx.ml", 3);
  m->props = calloc(1, sizeof *m->props);
  m->props[0].key = strdup("author");
  m->props[0].value = strdup("tests");
  m->n_props = 1;
  onyx_graph_new(m, NULL, &m->graph);
  onyx_graph *g = m->graph;
  free(g->name);
  g->name = strdup("main");
  int x, w, cond, y, z, seq, n;
  onyx_graph_value(g, "x", &x);
  onyx_graph_value(g, "w", &w);
  onyx_graph_value(g, "cond", &cond);
  onyx_graph_value(g, "y", &y);
  onyx_graph_value(g, "z", &z);
  onyx_graph_value(g, "seq", &seq);
  int64_t batch;
  onyx_model_symbol(m, "batch", &batch);
  g->values[x].dtype = ONYX_DTYPE_FLOAT;
  g->values[x].rank = 3;
  g->values[x].dims[0] = batch;
  g->values[x].dims[1] = 4;
  g->values[x].dims[2] = ONYX_DIM_UNKNOWN;
  g->values[cond].dtype = ONYX_DTYPE_BOOL;
  g->values[cond].rank = 0;
  g->values[seq].kind = ONYX_KIND_SEQUENCE;
  g->values[seq].dtype = ONYX_DTYPE_INT64;
  int64_t wd[2] = {2, 3};
  float wv[6] = {1, -2, 3.5f, 0, 1e-8f, 6};
  g->values[w].init = make_tensor(ONYX_DTYPE_FLOAT, 2, wd, wv);
  g->values[w].dtype = ONYX_DTYPE_FLOAT;
  int in[3] = {x, cond, seq};
  onyx_graph_set_inputs(g, 3, in);
  /* Add(x, w) -> y with every attribute kind (attributes need not be Add's) */
  int add_in[2] = {x, w};
  onyx_graph_add_node(g, "add0", "Add", "", 2, add_in, 1, &y, &n);
  g->values[y].dtype = ONYX_DTYPE_FLOAT;
  g->values[y].rank = 3;
  g->values[y].dims[0] = batch;
  g->values[y].dims[1] = 4;
  g->values[y].dims[2] = 3;
  tu_set(&g->nodes[n], "f", ONYX_ATTR_FLOAT)->f = -0.25f;
  tu_set(&g->nodes[n], "i", ONYX_ATTR_INT)->i = -(1ll << 40);
  onyx_attr *a = tu_set(&g->nodes[n], "s", ONYX_ATTR_STRING);
  a->s = strdup("hello");
  a->s_len = 5;
  int64_t sd[1] = {2};
  const char *strs[2] = {"a", "bcd"};
  a = tu_set(&g->nodes[n], "t", ONYX_ATTR_TENSOR);
  onyx_tensor_create(ONYX_DTYPE_STRING, 1, sd, &a->t);
  for (int i = 0; i < 2; i++) ((char **)a->t->data)[i] = onyx_strdup(strs[i]);
  a = tu_set(&g->nodes[n], "fs", ONYX_ATTR_FLOATS);
  a->n = 3;
  a->floats = malloc(3 * sizeof(float));
  a->floats[0] = 1;
  a->floats[1] = 2.5f;
  a->floats[2] = -3;
  a = tu_set(&g->nodes[n], "is", ONYX_ATTR_INTS);
  a->n = 2;
  a->ints = malloc(2 * sizeof(int64_t));
  a->ints[0] = 7;
  a->ints[1] = -8;
  a = tu_set(&g->nodes[n], "ss", ONYX_ATTR_STRINGS);
  a->n = 2;
  a->strings = malloc(2 * sizeof(char *));
  a->strings[0] = strdup("x");
  a->strings[1] = strdup("");
  a = tu_set(&g->nodes[n], "ts", ONYX_ATTR_TENSORS);
  a->n = 2;
  a->tensors = malloc(2 * sizeof(onyx_tensor *));
  int64_t i64v[3] = {1, -2, INT64_MAX};
  uint16_t hv[1] = {onyx_f32_to_f16(1.5f)};
  a->tensors[0] = make_tensor(ONYX_DTYPE_INT64, 1, (int64_t[]){3}, i64v);
  a->tensors[1] = make_tensor(ONYX_DTYPE_FLOAT16, 0, NULL, hv);
  a = tu_set(&g->nodes[n], "tp", ONYX_ATTR_TYPE_PROTO);
  a->i = ONYX_KIND_SEQUENCE;
  a->n = 1;
  a->ints = malloc(sizeof(int64_t));
  a->ints[0] = ONYX_DTYPE_FLOAT;
  /* If(cond) with branches reading the outer 'y' */
  onyx_graph_add_node(g, "if0", "If", "", 1, &cond, 1, &z, &n);
  a = tu_set(&g->nodes[n], "then_branch", ONYX_ATTR_GRAPH);
  a->g = make_branch(m, g, "y", "then_out");
  a = tu_set(&g->nodes[n], "else_branch", ONYX_ATTR_GRAPH);
  a->g = make_branch(m, g, "y", "else_out");
  a = tu_set(&g->nodes[n], "gs", ONYX_ATTR_GRAPHS);
  a->n = 1;
  a->graphs = malloc(sizeof(onyx_graph *));
  a->graphs[0] = make_branch(m, g, "x", "g_out");
  int outs[2] = {y, z};
  onyx_graph_set_outputs(g, 2, outs);
  return m;
}

static void test_ir_round_trip(void) {
  onyx_model *m = make_model(), *m2 = NULL, *m3 = NULL;
  void *buf = NULL, *buf2 = NULL;
  size_t len = 0, len2 = 0;
  CHECK_OK(onyx_model_save_to_buffer(m, &buf, &len));
  CHECK_OK(onyx_model_load_from_buffer(buf, len, NULL, &m2));
  CHECK(m2 && models_equal(m, m2));
  if (m2) {
    const onyx_graph *g = m2->graph;
    CHECK(!strcmp(g->name, "main") && g->n_inputs == 3 && g->n_nodes == 2);
    CHECK(m2->producer_name && !strcmp(m2->producer_name, "onyx-test"));
    const onyx_value *x = &g->values[g->inputs[0]];
    CHECK(x->rank == 3 && x->dims[1] == 4 && x->dims[2] == ONYX_DIM_UNKNOWN);
    CHECK(onyx_model_symbol_name(m2, x->dims[0]) && !strcmp(onyx_model_symbol_name(m2, x->dims[0]), "batch"));
    CHECK(g->values[g->inputs[2]].kind == ONYX_KIND_SEQUENCE && g->values[g->inputs[2]].dtype == ONYX_DTYPE_INT64);
    const onyx_node *iff = &g->nodes[1];
    const onyx_graph *then_g = onyx_node_attr(iff, "then_branch")->g;
    int yo = onyx_graph_find(then_g, "y");
    CHECK(yo >= 0 && then_g->values[yo].is_outer && then_g->parent == g);
    CHECK(onyx_attr_int(&g->nodes[0], "i", 0) == -(1ll << 40));
    CHECK(!strcmp(onyx_attr_string(&g->nodes[0], "s", ""), "hello"));
    /* a second save is byte-identical: the writer is deterministic */
    CHECK_OK(onyx_model_save_to_buffer(m2, &buf2, &len2));
    CHECK(len2 == len && buf2 && !memcmp(buf, buf2, len));
    /* and through a file */
    char path[] = "/tmp/onyx_io_rtXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(onyx_model_save(m2, path));
    CHECK_OK(onyx_model_load(path, &m3));
    CHECK(m3 && models_equal(m, m3));
    unlink(path);
  }
  onyx_buffer_free(buf);
  onyx_buffer_free(buf2);
  onyx_model_destroy(m);
  onyx_model_destroy(m2);
  onyx_model_destroy(m3);
}

/* ---- real node-test models ----------------------------------------------------------- */

static void test_real_models(void) {
  onyx_model *m = NULL;
  CHECK_OK(onyx_model_load(NODE_DIR "/test_add/model.onnx", &m));
  if (m) {
    const onyx_graph *g = m->graph;
    CHECK(g->n_inputs == 2 && g->n_outputs == 1 && g->n_nodes == 1);
    CHECK(!strcmp(g->nodes[0].op_type, "Add") && !strcmp(g->nodes[0].name, "") && g->nodes[0].opset > 0);
    const onyx_value *x = &g->values[g->inputs[0]];
    CHECK(!strcmp(x->name, "x") && x->dtype == ONYX_DTYPE_FLOAT && x->rank == 3 && x->dims[0] == 3 &&
          x->dims[1] == 4 && x->dims[2] == 5);
    CHECK(!strcmp(g->values[g->outputs[0]].name, "sum"));
    onyx_model_destroy(m);
  }
  m = NULL;
  CHECK_OK(onyx_model_load(NODE_DIR "/test_loop11/model.onnx", &m));
  if (m) {
    const onyx_graph *g = m->graph;
    CHECK(m->ir_version == 6 && onyx_model_opset(m, "") == 11);
    CHECK(g->n_inputs == 3 && g->n_outputs == 2 && g->n_nodes == 1 && !strcmp(g->nodes[0].op_type, "Loop"));
    CHECK(g->values[g->inputs[0]].dtype == ONYX_DTYPE_INT64 && g->values[g->inputs[0]].rank == 0);
    const onyx_attr *body = onyx_node_attr(&g->nodes[0], "body");
    CHECK(body && body->type == ONYX_ATTR_GRAPH && body->g);
    if (body && body->g) {
      const onyx_graph *b = body->g;
      CHECK(!strcmp(b->name, "loop_body") && b->parent == g && b->n_inputs == 3 && b->n_outputs == 3);
      CHECK(b->n_nodes == 9 && !strcmp(b->nodes[1].op_type, "Constant"));
      const onyx_attr *v = onyx_node_attr(&b->nodes[1], "value");
      CHECK(v && v->type == ONYX_ATTR_TENSOR && v->t && v->t->dtype == ONYX_DTYPE_FLOAT && v->t->rank == 1 &&
            v->t->dims[0] == 5);
      if (v && v->t) CHECK(((float *)v->t->data)[0] == 1.0f && ((float *)v->t->data)[4] == 5.0f);
    }
    onyx_model_destroy(m);
  }
  /* an old (IR 3) model */
  m = NULL;
  CHECK_OK(onyx_model_load(NODE_DIR "/test_scan_sum/model.onnx", &m));
  if (m) {
    CHECK(onyx_model_opset(m, "") == 8 && onyx_attr_int(&m->graph->nodes[0], "num_scan_inputs", 0) == 1);
    onyx_model_destroy(m);
  }
}

/* Every official model: load -> save -> load gives the same graph. */
static void test_node_dir_round_trip(void) {
  DIR *d = opendir(NODE_DIR);
  CHECK(d != NULL);
  if (!d) return;
  int loaded = 0, same = 0, unsupported = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, "test_", 5)) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", NODE_DIR, e->d_name);
    onyx_model *m = NULL, *m2 = NULL;
    onyx_status *s = onyx_model_load(path, &m);
    if (s) {
      /* only training ops (an unsupported domain) may be refused */
      if (onyx_status_code(s) == ONYX_ERR_NOT_IMPLEMENTED && tu_msg_has(s, "ai.onnx.preview.training")) {
        unsupported++;
      } else {
        CHECK(!"node model failed to load");
        fprintf(stderr, "  %s\n", onyx_status_message(s));
      }
      onyx_status_free(s);
      continue;
    }
    loaded++;
    void *buf = NULL;
    size_t len = 0;
    s = onyx_model_save_to_buffer(m, &buf, &len);
    if (!s) s = onyx_model_load_from_buffer(buf, len, NULL, &m2);
    if (s) fprintf(stderr, "  %s: %s\n", e->d_name, onyx_status_message(s));
    onyx_status_free(s);
    if (m2 && models_equal(m, m2)) same++;
    else fprintf(stderr, "  %s: round trip differs\n", e->d_name);
    onyx_buffer_free(buf);
    onyx_model_destroy(m);
    onyx_model_destroy(m2);
  }
  closedir(d);
  CHECK(loaded > 900 && same == loaded && unsupported <= 8);
  printf("node models: %d loaded, %d round-tripped, %d refused (training domain)\n", loaded, same, unsupported);
}

/* ---- TensorProto encodings --------------------------------------------------------- */

static void test_encodings(void) {
  {
    /* a real tensor of rank above ONYX_MAX_RANK is reported as such, not
     * taken for a container (its name and raw_data are fields 8 and 9) */
    int64_t big[ONYX_MAX_RANK + 1];
    for (int i = 0; i <= ONYX_MAX_RANK; i++) big[i] = 1;
    float one = 1;
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = ONYX_MAX_RANK + 1;
    tp.dims = big;
    tp.has_data_type = 1;
    tp.data_type = ONYX_DTYPE_FLOAT;
    tp.name = "high_rank";
    tp.has_raw_data = 1;
    tp.raw_data.data = (uint8_t *)&one;
    tp.raw_data.len = sizeof one;
    onyx_tensor *t = NULL;
    CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_NOT_IMPLEMENTED);
  }
  int64_t dims[2] = {2, 2};
  /* int32_data carries int8, uint16, bool, float16, bfloat16 bit patterns */
  int32_t i32[4] = {-3, 127, 0, 5};
  struct {
    onyx_dtype dt;
    int64_t expect[4];
  } narrow[] = {
      {ONYX_DTYPE_INT8, {-3, 127, 0, 5}},
      {ONYX_DTYPE_INT16, {-3, 127, 0, 5}},
      {ONYX_DTYPE_UINT8, {253, 127, 0, 5}},
      {ONYX_DTYPE_BOOL, {1, 1, 0, 1}},
      {ONYX_DTYPE_INT32, {-3, 127, 0, 5}},
  };
  for (size_t k = 0; k < sizeof narrow / sizeof *narrow; k++) {
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = narrow[k].dt;
    tp.n_int32_data = 4;
    tp.int32_data = i32;
    onyx_tensor *t = NULL;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    if (!t) continue;
    CHECK(t->dtype == narrow[k].dt && t->rank == 2 && t->nbytes == 4 * onyx_dtype_size(narrow[k].dt));
    for (int i = 0; i < 4; i++) CHECK(onyx_tensor_get_i64(t, i) == narrow[k].expect[i]);
    onyx_tensor_free(t);
  }
  {
    int32_t h[2] = {onyx_f32_to_f16(-2.5f), onyx_f32_to_bf16(3.0f)};
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t one = 1;
    tp.n_dims = 1;
    tp.dims = &one;
    tp.has_data_type = 1;
    tp.data_type = ONYX_DTYPE_FLOAT16;
    tp.n_int32_data = 1;
    tp.int32_data = &h[0];
    onyx_tensor *t = NULL;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && onyx_tensor_get_f64(t, 0) == -2.5);
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_BFLOAT16;
    tp.int32_data = &h[1];
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && onyx_tensor_get_f64(t, 0) == 3.0);
    onyx_tensor_free(t);
  }
  {
    /* int64_data, double_data, uint64_data (uint32 and uint64), float_data (complex64), string_data */
    int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    double dv[4] = {1.5, -0.0, 1e300, -7};
    uint64_t u64[4] = {0, 1, UINT32_MAX, UINT64_MAX};
    float cf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ProtobufCBinaryData sd[4] = {{1, (uint8_t *)"a"}, {0, NULL}, {3, (uint8_t *)"xyz"}, {2, (uint8_t *)"ok"}};
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    onyx_tensor *t = NULL;
    tp.data_type = ONYX_DTYPE_INT64;
    tp.n_int64_data = 4;
    tp.int64_data = i64;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && !memcmp(t->data, i64, sizeof i64));
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_DOUBLE;
    tp.n_double_data = 4;
    tp.double_data = dv;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && !memcmp(t->data, dv, sizeof dv));
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_UINT64;
    tp.n_uint64_data = 4;
    tp.uint64_data = u64;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && !memcmp(t->data, u64, sizeof u64));
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_UINT32;
    u64[3] = 4000000000u;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && t->nbytes == 16 && ((uint32_t *)t->data)[2] == UINT32_MAX && ((uint32_t *)t->data)[3] == 4000000000u);
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_COMPLEX64;
    tp.n_float_data = 8;
    tp.float_data = cf;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && t->nbytes == 32 && !memcmp(t->data, cf, sizeof cf));
    onyx_tensor_free(t);
    t = NULL;
    tp.data_type = ONYX_DTYPE_STRING;
    tp.n_string_data = 4;
    tp.string_data = sd;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && !strcmp(((char **)t->data)[0], "a") && !strcmp(((char **)t->data)[1], "") &&
          !strcmp(((char **)t->data)[2], "xyz"));
    onyx_tensor_free(t);
    /* a count that disagrees with the shape */
    t = NULL;
    tp.n_string_data = 3;
    CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL);
  }
  {
    /* raw_data: little-endian bytes; the size must match the shape */
    float fv[4] = {1, 2, 3, 4};
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = ONYX_DTYPE_FLOAT;
    tp.has_raw_data = 1;
    tp.raw_data.data = (uint8_t *)fv;
    tp.raw_data.len = sizeof fv;
    tp.name = "w";
    onyx_tensor *t = NULL;
    CHECK_OK(tu_decode_tensor_proto(&tp, &t));
    CHECK(t && !memcmp(t->data, fv, sizeof fv));
    onyx_tensor_free(t);
    tp.raw_data.len = sizeof fv - 1;
    CHECK_ERR_MSG(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL, "raw_data has 15 bytes");
    tp.raw_data.len = sizeof fv;
    int64_t neg[2] = {2, -2};
    tp.dims = neg;
    CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL);
    int64_t huge[2] = {INT64_MAX / 2, 4};
    tp.dims = huge;
    CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_INVALID_MODEL);
    tp.dims = dims;
    tp.data_type = 99;
    CHECK_ERR(tu_decode_tensor_proto(&tp, &t), ONYX_ERR_NOT_IMPLEMENTED);   /* a data type from a newer ONNX */
  }
}

/* ---- .pb test data ----------------------------------------------------------------- */

static void test_pb_files(void) {
  onyx_tensor *t = NULL;
  char *name = NULL;
  CHECK_OK(onyx_tensor_load_pb(NODE_DIR "/test_add/test_data_set_0/input_0.pb", &t, &name));
  CHECK(t && t->kind == ONYX_KIND_TENSOR && t->dtype == ONYX_DTYPE_FLOAT && t->rank == 3 && t->dims[2] == 5);
  CHECK(name && !strcmp(name, "x"));
  /* save and load again */
  char path[] = "/tmp/onyx_io_tpXXXXXX";
  int fd = mkstemp(path);
  close(fd);
  if (t) {
    onyx_tensor *t2 = NULL;
    char *name2 = NULL;
    CHECK_OK(onyx_tensor_save_pb(t, "renamed", path));
    CHECK_OK(onyx_tensor_load_pb(path, &t2, &name2));
    CHECK(tensors_equal(t, t2) && name2 && !strcmp(name2, "renamed"));
    onyx_tensor_free(t2);
    onyx_buffer_free(name2);
  }
  onyx_tensor_free(t);
  onyx_buffer_free(name);
  /* a sequence of tensors */
  t = NULL;
  CHECK_OK(onyx_tensor_load_pb(NODE_DIR "/test_identity_sequence/test_data_set_0/input_0.pb", &t, NULL));
  CHECK(t && t->kind == ONYX_KIND_SEQUENCE && t->n_elems >= 2 && t->dtype == ONYX_DTYPE_FLOAT);
  if (t && t->n_elems) CHECK(t->elems[0]->kind == ONYX_KIND_TENSOR && t->elems[0]->rank == 4);
  if (t) {
    onyx_tensor *t2 = NULL;
    CHECK_OK(onyx_tensor_save_pb(t, "s", path));
    CHECK_OK(onyx_tensor_load_pb(path, &t2, NULL));
    CHECK(tensors_equal(t, t2));
    onyx_tensor_free(t2);
  }
  onyx_tensor_free(t);
  /* an empty optional, and an optional holding a sequence */
  t = NULL;
  CHECK_OK(onyx_tensor_load_pb(NODE_DIR "/test_optional_has_element_empty/test_data_set_0/input_0.pb", &t, NULL));
  CHECK(t && t->kind == ONYX_KIND_OPTIONAL && t->n_elems == 0);
  if (t) {
    onyx_tensor *t2 = NULL;
    CHECK_OK(onyx_tensor_save_pb(t, NULL, path));
    CHECK_OK(onyx_tensor_load_pb(path, &t2, NULL));
    CHECK(t2 && t2->kind == ONYX_KIND_OPTIONAL && t2->n_elems == 0);
    onyx_tensor_free(t2);
  }
  onyx_tensor_free(t);
  t = NULL;
  CHECK_OK(onyx_tensor_load_pb(NODE_DIR "/test_identity_opt/test_data_set_0/input_0.pb", &t, NULL));
  CHECK(t && t->n_elems == 1 && t->elems[0]->kind == ONYX_KIND_SEQUENCE);
  onyx_tensor_free(t);
  /* A container whose name has more bytes than ONYX_MAX_RANK: read as a
   * TensorProto, the name gives that many dims (test_optional_get_element_sequence). */
  t = NULL;
  CHECK_OK(onyx_tensor_load_pb(NODE_DIR "/test_optional_get_element_sequence/test_data_set_0/input_0.pb", &t, &name));
  CHECK(t && t->kind != ONYX_KIND_TENSOR && t->n_elems == 1 && t->elems[0]->kind == ONYX_KIND_SEQUENCE);
  CHECK(name && !strcmp(name, "optional_input"));
  if (t && t->n_elems == 1) CHECK(t->elems[0]->n_elems == 1 && t->elems[0]->elems[0]->dtype == ONYX_DTYPE_INT32);
  onyx_tensor_free(t);
  onyx_buffer_free(name);
  name = NULL;
  {
    int64_t d[1] = {3};
    int32_t v[3] = {1, 2, 3};
    onyx_tensor *a = make_tensor(ONYX_DTYPE_INT32, 1, d, v), *seq, *outer, *back = NULL;
    onyx_sequence_new(ONYX_DTYPE_INT32, 1, &a, &seq);
    onyx_sequence_new(ONYX_DTYPE_INT32, 1, &seq, &outer);   /* elem_type SEQUENCE, field 5 */
    CHECK_OK(onyx_tensor_save_pb(outer, "a_name_longer_than_max_rank", path));
    CHECK_OK(onyx_tensor_load_pb(path, &back, NULL));
    CHECK(tensors_equal(outer, back));
    onyx_tensor_free(outer);
    onyx_tensor_free(back);
  }
  /* nested: a sequence holding an optional and a sequence */
  {
    int64_t d[1] = {2};
    int32_t v[2] = {7, 8};
    onyx_tensor *a = make_tensor(ONYX_DTYPE_INT32, 1, d, v), *b = make_tensor(ONYX_DTYPE_INT32, 1, d, v);
    onyx_tensor *inner, *opt, *outer, *back = NULL;
    onyx_sequence_new(ONYX_DTYPE_INT32, 1, &a, &inner);
    onyx_sequence_new(ONYX_DTYPE_INT32, 1, &b, &opt);
    opt->kind = ONYX_KIND_OPTIONAL;
    onyx_tensor *two[2] = {opt, inner};
    onyx_sequence_new(ONYX_DTYPE_INT32, 2, two, &outer);
    CHECK_OK(onyx_tensor_save_pb(outer, "nest", path));
    CHECK_OK(onyx_tensor_load_pb(path, &back, NULL));
    CHECK(tensors_equal(outer, back));
    onyx_tensor_free(outer);
    onyx_tensor_free(back);
  }
  /* missing file, garbage */
  CHECK_ERR(onyx_tensor_load_pb("/nonexistent/x.pb", &t, NULL), ONYX_ERR_NOT_FOUND);
  write_all(path, "\xff\xff\xff", 3);
  CHECK_ERR(onyx_tensor_load_pb(path, &t, NULL), ONYX_ERR_INVALID_MODEL);
  unlink(path);
}

/* ---- hand-built ModelProtos: external data, domains, opsets, functions -------------- */

typedef struct mini {
  Onnx__ModelProto m;
  Onnx__GraphProto g;
  Onnx__OperatorSetIdProto op, *ops[1];
  Onnx__NodeProto n, *nodes[1];
  Onnx__TensorProto init, *inits[1];
  Onnx__ValueInfoProto in, out, *ins[1], *outs[1];
  Onnx__StringStringEntryProto ext[3], *exts[3];
  Onnx__FunctionProto fn, *fns[1];
  char *node_in[1], *node_out[1];
  int64_t dims[1];
  float data[2];
} mini;

/* Identity(w) -> y with initializer w = [1, 2] (raw_data). */
static void mini_init(mini *x) {
  memset(x, 0, sizeof *x);
  onnx__model_proto__init(&x->m);
  onnx__graph_proto__init(&x->g);
  onnx__operator_set_id_proto__init(&x->op);
  onnx__node_proto__init(&x->n);
  onnx__tensor_proto__init(&x->init);
  onnx__value_info_proto__init(&x->in);
  onnx__value_info_proto__init(&x->out);
  onnx__function_proto__init(&x->fn);
  for (int i = 0; i < 3; i++) {
    onnx__string_string_entry_proto__init(&x->ext[i]);
    x->exts[i] = &x->ext[i];
  }
  x->m.has_ir_version = 1;
  x->m.ir_version = 8;
  x->op.domain = "";
  x->op.has_version = 1;
  x->op.version = 13;
  x->ops[0] = &x->op;
  x->m.n_opset_import = 1;
  x->m.opset_import = x->ops;
  x->m.graph = &x->g;
  x->g.name = "mini";
  x->node_in[0] = "w";
  x->node_out[0] = "y";
  x->n.op_type = "Identity";
  x->n.n_input = 1;
  x->n.input = x->node_in;
  x->n.n_output = 1;
  x->n.output = x->node_out;
  x->nodes[0] = &x->n;
  x->g.n_node = 1;
  x->g.node = x->nodes;
  x->dims[0] = 2;
  x->data[0] = 1;
  x->data[1] = 2;
  x->init.name = "w";
  x->init.n_dims = 1;
  x->init.dims = x->dims;
  x->init.has_data_type = 1;
  x->init.data_type = ONYX_DTYPE_FLOAT;
  x->init.has_raw_data = 1;
  x->init.raw_data.data = (uint8_t *)x->data;
  x->init.raw_data.len = sizeof x->data;
  x->inits[0] = &x->init;
  x->g.n_initializer = 1;
  x->g.initializer = x->inits;
  x->out.name = "y";
  x->outs[0] = &x->out;
  x->g.n_output = 1;
  x->g.output = x->outs;
  x->in.name = "w";
  x->ins[0] = &x->in;
}

/* Makes w external: location (offset/length as given, NULL to omit). */
static void mini_external(mini *x, const char *loc, const char *offset, const char *length) {
  x->init.has_raw_data = 0;
  x->init.has_data_location = 1;
  x->init.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  size_t n = 0;
  const char *keys[3] = {"location", "offset", "length"}, *vals[3] = {loc, offset, length};
  for (int i = 0; i < 3; i++)
    if (vals[i]) {
      x->ext[n].key = (char *)keys[i];
      x->ext[n].value = (char *)vals[i];
      n++;
    }
  x->init.n_external_data = n;
  x->init.external_data = x->exts;
}

static uint8_t *mini_pack(const mini *x, size_t *len) {
  *len = onnx__model_proto__get_packed_size(&x->m);
  uint8_t *buf = malloc(*len + 1);
  onnx__model_proto__pack(&x->m, buf);
  return buf;
}

static onyx_status *mini_load(const mini *x, const char *dir, onyx_model **out) {
  return tu_load_model_proto(&x->m, dir, out);
}

static void test_external_data(void) {
  char dir[] = "/tmp/onyx_io_extXXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256], sub[256], link[256], model[256];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(link, sizeof link, "%s/link.bin", dir);
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  float file[4] = {9, 1, 2, 9};   /* w = file[1..2] at offset 4 */
  write_all(path, file, sizeof file);
  mkdir(sub, 0700);
  mini x;
  mini_init(&x);
  mini_external(&x, "w.bin", "4", "8");
  onyx_model *m = NULL;
  CHECK_OK(mini_load(&x, dir, &m));
  if (m) {
    const onyx_value *w = &m->graph->values[onyx_graph_find(m->graph, "w")];
    CHECK(w->init && ((float *)w->init->data)[0] == 1 && ((float *)w->init->data)[1] == 2);
    CHECK(w->init && w->init->owns_data);   /* offset 4 is not aligned: copied */
    onyx_model_destroy(m);
  }
  /* an aligned tensor borrows the model's copy-on-write mapping of the file */
  char path0[256];
  snprintf(path0, sizeof path0, "%s/w0.bin", dir);
  write_all(path0, file + 1, 8);
  mini_external(&x, "w0.bin", "0", NULL);
  m = NULL;
  CHECK_OK(mini_load(&x, dir, &m));
  if (m) {
    onyx_tensor *w = m->graph->values[onyx_graph_find(m->graph, "w")].init;
    CHECK(w && !w->owns_data && w->data == m->map && m->map_len == 8 && ((float *)w->data)[1] == 2);
    if (w) ((float *)w->data)[1] = 5;   /* writable, and the file keeps its bytes */
    onyx_model_destroy(m);
    size_t n;
    float *back = read_all(path0, &n);
    CHECK(n == 8 && back[1] == 2);
    free(back);
  }
  mini_external(&x, "w.bin", "4", "8");
  /* through a file: resolved against the model's folder */
  size_t len;
  uint8_t *buf = mini_pack(&x, &len);
  write_all(model, buf, len);
  free(buf);
  m = NULL;
  CHECK_OK(onyx_model_load(model, &m));
  CHECK(m && m->dir && !strcmp(m->dir, dir));
  onyx_model_destroy(m);
  /* "./sub/../w.bin" style and other escapes are refused */
  mini_external(&x, "../w.bin", "4", "8");
  CHECK_ERR_MSG(mini_load(&x, sub, NULL), ONYX_ERR_INVALID_MODEL, "initializer 'w'");
  mini_external(&x, "sub/../../x", NULL, NULL);
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  mini_external(&x, path, NULL, NULL);   /* absolute */
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  /* a symlink leading out of the folder */
  CHECK(symlink("/etc/hostname", link) == 0);
  mini_external(&x, "link.bin", NULL, NULL);
  CHECK_ERR_MSG(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL, "outside");
  /* missing file: NOT_FOUND naming tensor and path */
  mini_external(&x, "nope.bin", NULL, NULL);
  CHECK_ERR_MSG(mini_load(&x, dir, NULL), ONYX_ERR_NOT_FOUND, "nope.bin");
  CHECK_ERR_MSG(mini_load(&x, dir, NULL), ONYX_ERR_NOT_FOUND, "'w'");
  /* ranges that do not fit, lengths that disagree with the shape, bad numbers */
  mini_external(&x, "w.bin", "12", "8");
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  mini_external(&x, "w.bin", NULL, NULL);   /* whole file: 16 bytes for 8 */
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  mini_external(&x, "w.bin", "-4", "8");
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  mini_external(&x, "w.bin", "4x", "8");
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  mini_external(&x, "", NULL, NULL);
  CHECK_ERR(mini_load(&x, dir, NULL), ONYX_ERR_INVALID_MODEL);
  /* no folder to resolve against */
  mini_external(&x, "w.bin", "4", "8");
  CHECK_ERR(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL);
  unlink(link);
  unlink(path0);
  unlink(model);
  unlink(path);
  rmdir(sub);
  rmdir(dir);
}

static void test_model_rules(void) {
  mini x;
  onyx_model *m = NULL;
  /* an initializer also listed as a graph input is a constant, not an input */
  mini_init(&x);
  x.g.n_input = 1;
  x.g.input = x.ins;
  CHECK_OK(mini_load(&x, NULL, &m));
  CHECK(m && m->graph->n_inputs == 0 && m->graph->values[onyx_graph_find(m->graph, "w")].init);
  onyx_model_destroy(m);
  /* raw_data size mismatch names the tensor */
  mini_init(&x);
  x.init.raw_data.len = 7;
  CHECK_ERR_MSG(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL, "initializer 'w'");
  /* opsets */
  mini_init(&x);
  x.op.version = 22;
  CHECK_ERR_MSG(mini_load(&x, NULL, NULL), ONYX_ERR_NOT_IMPLEMENTED, "opset 22");
  x.op.version = 0;
  CHECK_ERR(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL);
  x.op.domain = "ai.onnx";
  x.op.version = 21;
  CHECK_OK(mini_load(&x, NULL, NULL));
  /* domains */
  mini_init(&x);
  x.n.domain = "com.example";
  x.n.name = "n1";
  CHECK_ERR_MSG(mini_load(&x, NULL, NULL), ONYX_ERR_NOT_IMPLEMENTED, "com.example");
  x.n.domain = "com.microsoft";   /* known, but not imported */
  CHECK_ERR_MSG(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL, "n1");
  /* a node calling a model-local function */
  mini_init(&x);
  x.fn.name = "MyFn";
  x.fn.domain = "local";
  x.fns[0] = &x.fn;
  x.m.n_functions = 1;
  x.m.functions = x.fns;
  CHECK_OK(mini_load(&x, NULL, NULL));   /* unused: fine */
  x.n.op_type = "MyFn";
  x.n.domain = "local";
  /* called with more inputs and outputs than it declares (test_functions has the rest) */
  CHECK_ERR_MSG(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL, "function 'MyFn' takes 0 inputs");
  /* no graph, no op_type, unnamed initializer */
  mini_init(&x);
  x.m.graph = NULL;
  CHECK_ERR(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL);
  mini_init(&x);
  x.n.op_type = "";
  CHECK_ERR(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL);
  mini_init(&x);
  x.init.name = "";
  CHECK_ERR(mini_load(&x, NULL, NULL), ONYX_ERR_INVALID_MODEL);
  /* empty and garbage buffers */
  CHECK_ERR(onyx_model_load_from_buffer("", 0, NULL, &m), ONYX_ERR_INVALID_MODEL);
  uint8_t junk[512];
  for (int i = 0; i < 512; i++) junk[i] = (uint8_t)(i * 131 + 7);
  CHECK_ERR(onyx_model_load_from_buffer(junk, sizeof junk, NULL, &m), ONYX_ERR_INVALID_MODEL);
  CHECK_ERR(onyx_model_load("/nonexistent/model.onnx", &m), ONYX_ERR_NOT_FOUND);
}

/* ---- malformed input ----------------------------------------------------------------- */

static void test_truncation_and_flips(const char *path) {
  size_t len;
  uint8_t *buf = read_all(path, &len);
  CHECK(buf != NULL);
  if (!buf) return;
  int cut_ok = 0, flips_ok = 0, flips_err = 0;
  for (size_t n = 0; n < len; n++) {
    onyx_model *m = NULL;
    onyx_status *s = onyx_model_load_from_buffer(buf, n, NULL, &m);
    if (!s) cut_ok++;
    else CHECK(onyx_status_code(s) == ONYX_ERR_INVALID_MODEL);
    onyx_status_free(s);
    onyx_model_destroy(m);
  }
  CHECK(cut_ok == 0);   /* the opset import comes last, so every cut loses it */
  uint8_t *mut = malloc(len);
  for (size_t i = 0; i < len; i++)
    for (int k = 0; k < 3; k++) {
      static const uint8_t x[3] = {0xff, 0x80, 0x01};
      memcpy(mut, buf, len);
      mut[i] ^= x[k];
      onyx_model *m = NULL;
      onyx_status *s = onyx_model_load_from_buffer(mut, len, NULL, &m);
      if (s) flips_err++;
      else flips_ok++;
      onyx_status_free(s);
      onyx_model_destroy(m);
    }
  CHECK(flips_err > 0);
  free(mut);
  free(buf);
}

/* Builds, back to front, a ModelProto whose graph nests If subgraphs
 * `levels` deep (opset 13). Caller frees. */
typedef struct rbuf {
  uint8_t *p;
  size_t pos;
} rbuf;

static void put_bytes(rbuf *b, const void *d, size_t n) {
  b->pos -= n;
  memcpy(b->p + b->pos, d, n);
}

static void put_varint(rbuf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put_bytes(b, tmp, n);
}

/* Prepends field `number` (length-delimited) around the bytes since `mark`. */
static void put_wrap(rbuf *b, uint32_t number, size_t mark) {
  put_varint(b, mark - b->pos);
  put_varint(b, (uint64_t)number << 3 | 2);
}

static void put_string(rbuf *b, uint32_t number, const char *s) {
  size_t mark = b->pos;
  put_bytes(b, s, strlen(s));
  put_wrap(b, number, mark);
}

static uint8_t *deep_model(int levels, size_t *len) {
  size_t cap = (size_t)levels * 40 + 256;
  rbuf b = {malloc(cap), cap};
  size_t end = b.pos, opset = b.pos;
  put_varint(&b, 13);
  put_varint(&b, 2 << 3);              /* OperatorSetIdProto.version */
  put_wrap(&b, 8, opset);              /* ModelProto.opset_import */
  size_t graph = b.pos;
  for (int i = 0; i < levels; i++) {
    put_wrap(&b, 6, graph);            /* AttributeProto.g */
    put_string(&b, 1, "g");            /* AttributeProto.name */
    put_wrap(&b, 5, graph);            /* NodeProto.attribute */
    put_string(&b, 4, "If");           /* NodeProto.op_type */
    put_wrap(&b, 1, graph);            /* GraphProto.node */
  }
  put_wrap(&b, 7, graph);              /* ModelProto.graph */
  put_varint(&b, 8);
  put_varint(&b, 1 << 3);              /* ModelProto.ir_version */
  *len = end - b.pos;
  memmove(b.p, b.p + b.pos, *len);
  return b.p;
}

static void test_deep_nesting(void) {
  size_t len;
  onyx_model *m = NULL;
  uint8_t *buf = deep_model(3, &len);
  CHECK_OK(onyx_model_load_from_buffer(buf, len, NULL, &m));   /* the builder is right */
  CHECK(m && m->graph->n_nodes == 1 && onyx_node_attr(&m->graph->nodes[0], "g")->g->n_nodes == 1);
  onyx_model_destroy(m);
  free(buf);
  buf = deep_model(70, &len);
  CHECK_ERR_MSG(onyx_model_load_from_buffer(buf, len, NULL, &m), ONYX_ERR_INVALID_MODEL, "nested");
  free(buf);
  buf = deep_model(300000, &len);   /* would overflow the stack inside protobuf-c */
  CHECK_ERR_MSG(onyx_model_load_from_buffer(buf, len, NULL, &m), ONYX_ERR_INVALID_MODEL, "nested");
  free(buf);
}

/* Every cut and byte flip of a .pb file gives a value or an error, never a crash. */
static void test_pb_mutations(const char *src) {
  size_t len;
  uint8_t *buf = read_all(src, &len);
  CHECK(buf != NULL);
  if (!buf) return;
  char path[] = "/tmp/onyx_io_mutXXXXXX";
  int fd = mkstemp(path);
  close(fd);
  uint8_t *mut = malloc(len);
  int errors = 0;
  for (size_t i = 0; i < 2 * len; i++) {
    memcpy(mut, buf, len);
    size_t n = i < len ? i : len;   /* first cuts, then flips */
    if (i >= len) mut[i - len] ^= 0xa5;
    write_all(path, mut, n);
    onyx_tensor *t = NULL;
    onyx_status *s = onyx_tensor_load_pb(path, &t, NULL);
    errors += s != NULL;
    onyx_status_free(s);
    onyx_tensor_free(t);
  }
  CHECK(errors > 0);
  unlink(path);
  free(mut);
  free(buf);
}

/* ---- allocation failure ---------------------------------------------------------------- */

/* Fails the N-th allocation for N = 0, 1, ... until `fn` succeeds; every
 * failure must be OUT_OF_MEMORY (leaks show in the ASan build). */
static void fault_loop(const char *what, onyx_status *(*fn)(void *), void *arg) {
  int n, bad = 0;
  for (n = 0; n < 100000; n++) {
    onyx_alloc_fail_after(n);
    onyx_status *s = fn(arg);
    onyx_alloc_fail_after(-1);
    if (!s) break;
    if (onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY && bad++ < 3)
      fprintf(stderr, "  %s, failing allocation %d: %s\n", what, n, onyx_status_message(s));
    onyx_status_free(s);
  }
  CHECK(bad == 0 && n > 0 && n < 100000);
  printf("%s: survived failure of each of its %d allocations\n", what, n);
}

static onyx_status *fault_load(void *arg) {
  onyx_model *m;
  onyx_status *s = onyx_model_load((const char *)arg, &m);
  if (!s) onyx_model_destroy(m);
  return s;
}

typedef struct buf_arg {
  const void *data;
  size_t len;
  const char *dir;
} buf_arg;

static onyx_status *fault_load_buffer(void *arg) {
  const buf_arg *b = arg;
  onyx_model *m;
  onyx_status *s = onyx_model_load_from_buffer(b->data, b->len, b->dir, &m);
  if (!s) onyx_model_destroy(m);
  return s;
}

static onyx_status *fault_save(void *arg) {
  void *data;
  size_t len;
  onyx_status *s = onyx_model_save_to_buffer((const onyx_model *)arg, &data, &len);
  if (!s) onyx_buffer_free(data);
  return s;
}

static onyx_status *fault_pb(void *arg) {
  onyx_tensor *t;
  char *name;
  onyx_status *s = onyx_tensor_load_pb((const char *)arg, &t, &name);
  if (!s) {
    onyx_tensor_free(t);
    onyx_buffer_free(name);
  }
  return s;
}

static void test_fault_injection(void) {
  fault_loop("load test_loop11", fault_load, NODE_DIR "/test_loop11/model.onnx");
  fault_loop("load test_if", fault_load, NODE_DIR "/test_if/model.onnx");
  onyx_model *m = make_model();
  void *data = NULL;
  size_t len = 0;
  CHECK_OK(onyx_model_save_to_buffer(m, &data, &len));
  buf_arg b = {data, len, NULL};
  fault_loop("load IR-built model", fault_load_buffer, &b);
  fault_loop("save IR-built model", fault_save, m);
  onyx_buffer_free(data);
  onyx_model_destroy(m);
  fault_loop("read sequence .pb", fault_pb, NODE_DIR "/test_identity_sequence/test_data_set_0/input_0.pb");
  fault_loop("read tensor .pb", fault_pb, NODE_DIR "/test_add/test_data_set_0/input_0.pb");
  /* external data */
  char dir[] = "/tmp/onyx_io_faultXXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  float w[2] = {1, 2};
  write_all(path, w, sizeof w);
  mini x;
  mini_init(&x);
  mini_external(&x, "w.bin", NULL, NULL);
  buf_arg e = {NULL, 0, dir};
  uint8_t *packed = mini_pack(&x, &e.len);
  e.data = packed;
  fault_loop("load with external data", fault_load_buffer, &e);
  free(packed);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_ir_round_trip();
  test_real_models();
  test_node_dir_round_trip();
  test_encodings();
  test_pb_files();
  test_external_data();
  test_model_rules();
  test_truncation_and_flips(NODE_DIR "/test_loop11/model.onnx");
  test_truncation_and_flips(NODE_DIR "/test_if/model.onnx");
  test_pb_mutations(NODE_DIR "/test_identity_sequence/test_data_set_0/input_0.pb");
  test_pb_mutations(NODE_DIR "/test_identity_opt/test_data_set_0/input_0.pb");
  test_deep_nesting();
  test_fault_injection();
  return tu_done("test_onnx_io");
}
