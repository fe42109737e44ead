/* test_quant_graph.c — the quantized graphs: QDQ and QOperator (static) and
 * dynamic layouts on a small CNN (node counts, which ops were quantized,
 * Relu fusion), op fallback (filters, ops without an int8 kernel), and round
 * trips: the quantized model saves, loads and runs, with outputs close to the
 * float model's within a tolerance derived from the quantization scales.
 * Embedding tables (Gather over a float initializer) are stored in 8 bits in
 * every mode; their rows must come back within half a quantization step. */
#include "ops/ops.h"
#include "quant/quant.h"
#include "test_util.h"

/* x[1,2,6,6] -> Conv(4x2x3x3, pad 1, bias) -> Relu -> MaxPool 2x2 -> Flatten
 * -> Gemm(transB, [3,36]) -> Add(const [3]) -> y. Add has no int8 kernel. */
static onyx_model *make_cnn(void) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  const char *names[] = {"x", "w", "b", "c", "r", "p", "f", "gw", "gb", "gy", "k", "y"};
  int v[12];
  for (int i = 0; i < 12; i++) onyx_graph_value(g, names[i], &v[i]);
  int64_t dx[4] = {1, 2, 6, 6}, dw[4] = {4, 2, 3, 3}, db[1] = {4}, dgw[2] = {3, 36}, dgb[1] = {3};
  g->values[v[0]].dtype = ONYX_DTYPE_FLOAT;
  g->values[v[0]].rank = 4;
  memcpy(g->values[v[0]].dims, dx, sizeof dx);
  onyx_graph_set_inputs(g, 1, &v[0]);
  struct { int idx, rank; int64_t *dims; unsigned seed; } inits[] = {
      {1, 4, dw, 11}, {2, 1, db, 12}, {7, 2, dgw, 13}, {8, 1, dgb, 14}, {10, 1, dgb, 15}};
  for (int i = 0; i < 5; i++) {
    onyx_tensor *t;
    onyx_tensor_create(ONYX_DTYPE_FLOAT, inits[i].rank, inits[i].dims, &t);
    tu_fill_random(onyx_tensor_data(t), (size_t)onyx_tensor_numel(t), inits[i].seed);
    onyx_value *val = &g->values[v[inits[i].idx]];
    val->init = t;
    val->dtype = ONYX_DTYPE_FLOAT;
    val->rank = inits[i].rank;
    memcpy(val->dims, inits[i].dims, (size_t)inits[i].rank * sizeof(int64_t));
  }
  int n, in3[3] = {v[0], v[1], v[2]};
  onyx_graph_add_node(g, "conv", "Conv", "", 3, in3, 1, &v[3], &n);
  int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
  tu_set_ints(&g->nodes[n], "pads", 4, pads);
  onyx_graph_add_node(g, "relu", "Relu", "", 1, &v[3], 1, &v[4], NULL);
  onyx_graph_add_node(g, "pool", "MaxPool", "", 1, &v[4], 1, &v[5], &n);
  tu_set_ints(&g->nodes[n], "kernel_shape", 2, k2);
  tu_set_ints(&g->nodes[n], "strides", 2, k2);
  onyx_graph_add_node(g, "flat", "Flatten", "", 1, &v[5], 1, &v[6], NULL);
  int gin[3] = {v[6], v[7], v[8]};
  onyx_graph_add_node(g, "gemm", "Gemm", "", 3, gin, 1, &v[9], &n);
  tu_set_int(&g->nodes[n], "transB", 1);
  int ain[2] = {v[9], v[10]};
  onyx_graph_add_node(g, "add", "Add", "", 2, ain, 1, &v[11], NULL);
  onyx_graph_set_outputs(g, 1, &v[11]);
  return m;
}

/* Random calibration batches of x. */
typedef struct feed {
  int calls, n;
} feed;

static onyx_status *reader(void *arg, int n_in, const char *const *names, onyx_tensor **in, int *done) {
  feed *f = arg;
  (void)names;
  if (n_in != 1) return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "one input expected");
  if (f->calls == f->n) {
    *done = 1;
    return NULL;
  }
  int64_t d[4] = {1, 2, 6, 6};
  in[0] = tu_f32(4, d, NULL);
  tu_fill_random(onyx_tensor_data(in[0]), 72, 100 + (unsigned)f->calls++);
  return NULL;
}

static int count_op(const onyx_model *m, const char *op) {
  int n = 0;
  for (int i = 0; i < m->graph->n_nodes; i++) n += !strcmp(m->graph->nodes[i].op_type, op);
  return n;
}

static const onyx_quant_node_report *note_of(const onyx_quant_report *r, const char *name) {
  for (int i = 0; i < r->n_nodes; i++)
    if (!strcmp(r->nodes[i].name, name)) return &r->nodes[i];
  return NULL;
}

/* Runs model m (borrowed) on sample `seed`; returns y. */
static onyx_tensor *run(const onyx_model *m, unsigned seed) {
  void *buf;
  size_t len;
  onyx_tensor *y = NULL;
  CHECK_OK(onyx_model_save_to_buffer(m, &buf, &len));   /* saves and loads again */
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_buffer(buf, len, NULL, &s);
  onyx_buffer_free(buf);
  CHECK_OK(st);
  if (!s) return NULL;
  int64_t d[4] = {1, 2, 6, 6};
  onyx_tensor *x = tu_f32(4, d, NULL);
  tu_fill_random(onyx_tensor_data(x), 72, seed);
  const char *nm = "x";
  CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
  onyx_tensor_free(x);
  onyx_session_destroy(s);
  return y;
}

static onyx_model *quantize(const onyx_model *f, const char *const *kv, onyx_quant_report **r) {
  onyx_quant_options *o;
  CHECK_OK(onyx_quant_options_create(&o));
  for (int i = 0; kv && kv[i]; i += 2) CHECK_OK(onyx_quant_options_set(o, kv[i], kv[i + 1]));
  feed fd = {0, 8};
  onyx_quant_options_set_calibration_reader(o, reader, &fd);
  onyx_model *q = NULL;
  CHECK_OK(onyx_quantize_model(f, o, &q, r));
  onyx_quant_options_destroy(o);
  return q;
}

/* Largest output difference allowed: the output of Gemm is quantized with
 * scale s_y (its calibrated range / 255), and the errors of the earlier
 * quantized tensors (each at most half a step) are amplified by the layers;
 * 6 steps of the output's scale covers this net with margin while a wrong
 * scale, zero point or axis is off by tens of steps. */
static double tolerance(const onyx_tensor *yf) {
  const float *p = onyx_tensor_data((onyx_tensor *)yf);
  float lo = 0, hi = 0;
  for (int i = 0; i < onyx_tensor_numel(yf); i++) lo = fminf(lo, p[i]), hi = fmaxf(hi, p[i]);
  return 6.0 * (hi - lo) / 255.0;
}

static void check_close(const onyx_model *f, const onyx_model *q) {
  for (unsigned seed = 100; seed < 103; seed++) {   /* calibration samples */
    onyx_tensor *yf = run(f, seed), *yq = run(q, seed);
    CHECK(yf && yq);
    if (!yf || !yq) return;
    onyx_tensor_error e;
    CHECK_OK(onyx_tensor_error_get(yf, yq, &e));
    CHECK(e.n == 3 && e.max_abs <= tolerance(yf) + 0.05);
    CHECK(e.max_abs > 0);   /* it did quantize */
    onyx_tensor_free(yf);
    onyx_tensor_free(yq);
  }
}

/* ids int64 [2,3] -> Gather(table float [50,8], axis 0) -> y [2,3,8] */
#define EMB_ROWS 50
#define EMB_COLS 8
static onyx_model *make_embedding(void) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  int ids, table, y;
  onyx_graph_value(g, "ids", &ids);
  onyx_graph_value(g, "table", &table);
  onyx_graph_value(g, "y", &y);
  g->values[ids].dtype = ONYX_DTYPE_INT64;
  g->values[ids].rank = 2;
  g->values[ids].dims[0] = 2, g->values[ids].dims[1] = 3;
  int64_t dt[2] = {EMB_ROWS, EMB_COLS};
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, 2, dt, &t);
  float *tp = onyx_tensor_data(t);
  tu_fill_random(tp, EMB_ROWS * EMB_COLS, 21);
  for (int r = 0; r < EMB_ROWS; r++) tp[r * EMB_COLS + 3] *= 0.01f;   /* a narrow column */
  g->values[table].init = t;
  g->values[table].dtype = ONYX_DTYPE_FLOAT;
  g->values[table].rank = 2;
  memcpy(g->values[table].dims, dt, sizeof dt);
  onyx_graph_set_inputs(g, 1, &ids);
  int in[2] = {table, ids};
  onyx_graph_add_node(g, "embed", "Gather", "", 2, in, 1, &y, NULL);
  onyx_graph_set_outputs(g, 1, &y);
  return m;
}

static onyx_status *ids_reader(void *arg, int n_in, const char *const *names, onyx_tensor **in, int *done) {
  feed *f = arg;
  (void)names;
  if (n_in != 1) return onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "one input expected");
  if (f->calls == f->n) {
    *done = 1;
    return NULL;
  }
  int64_t d[2] = {2, 3};
  onyx_tensor_create(ONYX_DTYPE_INT64, 2, d, &in[0]);
  int64_t *p = onyx_tensor_data(in[0]);
  for (int i = 0; i < 6; i++) p[i] = (i * 7 + f->calls) % EMB_ROWS;
  f->calls++;
  return NULL;
}

/* Quantizes the embedding model with options kv; checks the graph is
 * Gather(int8 table) -> DequantizeLinear and every gathered value is within
 * half a step of its column's (per_channel) or the table's symmetric scale. */
static void check_embedding(const onyx_model *f, const char *const *kv, bool per_channel) {
  onyx_quant_options *o;
  CHECK_OK(onyx_quant_options_create(&o));
  for (int i = 0; kv[i]; i += 2) CHECK_OK(onyx_quant_options_set(o, kv[i], kv[i + 1]));
  feed fd = {0, 2};
  onyx_quant_options_set_calibration_reader(o, ids_reader, &fd);
  onyx_model *q = NULL;
  onyx_quant_report *r = NULL;
  CHECK_OK(onyx_quantize_model(f, o, &q, &r));
  onyx_quant_options_destroy(o);
  CHECK(q && r);
  if (!q || !r) goto done;
  CHECK(note_of(r, "embed") && note_of(r, "embed")->quantized);
  CHECK(count_op(q, "Gather") == 1 && count_op(q, "DequantizeLinear") == 1 && count_op(q, "QuantizeLinear") == 0);
  const onyx_graph *g = q->graph;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    if (!strcmp(n->op_type, "Gather")) CHECK(g->values[n->in[0]].init && g->values[n->in[0]].init->dtype == ONYX_DTYPE_INT8);
    if (!strcmp(n->op_type, "DequantizeLinear")) {
      CHECK(onyx_tensor_numel(g->values[n->in[1]].init) == (per_channel ? EMB_COLS : 1));
      if (per_channel) CHECK(onyx_attr_int(n, "axis", 1) == -1);
    }
  }
  const float *tab = onyx_tensor_data(f->graph->values[f->graph->nodes[0].in[0]].init);
  float colmax[EMB_COLS] = {0}, allmax = 0;
  for (int k = 0; k < EMB_ROWS * EMB_COLS; k++) {
    colmax[k % EMB_COLS] = fmaxf(colmax[k % EMB_COLS], fabsf(tab[k]));
    allmax = fmaxf(allmax, fabsf(tab[k]));
  }
  void *buf;
  size_t len;
  CHECK_OK(onyx_model_save_to_buffer(q, &buf, &len));
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_buffer(buf, len, NULL, &s));
  onyx_buffer_free(buf);
  int64_t d[2] = {2, 3};
  onyx_tensor *x, *y = NULL;
  CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, 2, d, &x));
  int64_t *ids = onyx_tensor_data(x);
  for (int i = 0; i < 6; i++) ids[i] = (i * 11 + 5) % EMB_ROWS;
  const char *nm = "ids";
  if (s) CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
  CHECK(y && onyx_tensor_numel(y) == 6 * EMB_COLS);
  if (y) {
    const float *yp = onyx_tensor_data(y);
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < 6; i++)
      for (int c = 0; c < EMB_COLS; c++) {
        double ref = tab[ids[i] * EMB_COLS + c], err = fabs(yp[i * EMB_COLS + c] - ref);
        double step = (per_channel ? colmax[c] : allmax) / 127.0;
        bad += err > step / 2 * 1.0001 + 1e-7;
        worst = fmax(worst, err);
      }
    CHECK(bad == 0 && worst > 0);
  }
  onyx_tensor_free(x);
  onyx_tensor_free(y);
  onyx_session_destroy(s);
done:
  onyx_model_destroy(q);
  onyx_quant_report_destroy(r);
}

int main(void) {
  {
    onyx_model *e = make_embedding();
    CHECK_OK(onyx_graph_toposort(e->graph));
    CHECK_OK(onyx_graph_infer(e->graph));
    const char *dyn_pc[] = {"mode", "dynamic", "per_channel", "1", NULL};
    const char *dyn_pt[] = {"mode", "dynamic", NULL};
    const char *qdq[] = {"per_channel", "1", NULL};
    const char *qop[] = {"quant_format", "QOperator", NULL};
    check_embedding(e, dyn_pc, true);
    check_embedding(e, dyn_pt, false);
    check_embedding(e, qdq, true);
    check_embedding(e, qop, false);
    onyx_model_destroy(e);
  }
  onyx_model *f = make_cnn();
  CHECK_OK(onyx_graph_toposort(f->graph));
  CHECK_OK(onyx_graph_infer(f->graph));
  onyx_quant_report *r = NULL;

  /* static QDQ, per channel */
  {
    const char *kv[] = {"per_channel", "1", NULL};
    onyx_model *q = quantize(f, kv, &r);
    CHECK(q && r);
    if (q && r) {
      /* activations: x, conv/relu out, pool out, flatten out, gemm out */
      CHECK(count_op(q, "QuantizeLinear") == 5);
      CHECK(count_op(q, "DequantizeLinear") == 5 + 2 + 2);   /* + weights + biases */
      CHECK(count_op(q, "Relu") == 0 && count_op(q, "Conv") == 1 && count_op(q, "Add") == 1);
      CHECK(note_of(r, "conv")->quantized && note_of(r, "gemm")->quantized && note_of(r, "relu")->quantized);
      CHECK(note_of(r, "pool")->quantized && note_of(r, "flat")->quantized);
      CHECK(!note_of(r, "add")->quantized && strstr(note_of(r, "add")->note, "no int8"));
      CHECK(r->calibration_samples == 8 && r->bytes_after > 0);
      /* the weight is int8 behind a DequantizeLinear on axis 0 */
      const onyx_graph *g = q->graph;
      for (int i = 0; i < g->n_nodes; i++) {
        const onyx_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Conv")) continue;
        int wp = g->values[n->in[1]].producer, bp = g->values[n->in[2]].producer;
        CHECK(wp >= 0 && !strcmp(g->nodes[wp].op_type, "DequantizeLinear"));
        CHECK(wp >= 0 && g->values[g->nodes[wp].in[0]].init->dtype == ONYX_DTYPE_INT8);
        CHECK(wp >= 0 && onyx_attr_int(&g->nodes[wp], "axis", -1) == 0);
        CHECK(wp >= 0 && onyx_tensor_numel(g->values[g->nodes[wp].in[1]].init) == 4);
        CHECK(bp >= 0 && g->values[g->nodes[bp].in[0]].init->dtype == ONYX_DTYPE_INT32);
      }
      check_close(f, q);
    }
    onyx_model_destroy(q);
    onyx_quant_report_destroy(r);
  }
  /* static QOperator, per tensor */
  {
    const char *kv[] = {"quant_format", "QOperator", NULL};
    onyx_model *q = quantize(f, kv, &r);
    CHECK(q && r);
    if (q && r) {
      CHECK(count_op(q, "QLinearConv") == 1 && count_op(q, "Conv") == 0 && count_op(q, "Relu") == 0);
      CHECK(count_op(q, "QuantizeLinear") == 1 && count_op(q, "DequantizeLinear") == 1);   /* x in, before MaxPool */
      CHECK(count_op(q, "Gemm") == 1 && count_op(q, "MaxPool") == 1);
      CHECK(!note_of(r, "gemm")->quantized && strstr(note_of(r, "gemm")->note, "QGemm"));
      CHECK(!note_of(r, "pool")->quantized);
      check_close(f, q);
    }
    onyx_model_destroy(q);
    onyx_quant_report_destroy(r);
  }
  /* dynamic, per channel */
  {
    const char *kv[] = {"mode", "dynamic", "per_channel", "1", NULL};
    onyx_model *q = quantize(f, kv, &r);
    CHECK(q && r);
    if (q && r) {
      CHECK(count_op(q, "DynamicQuantizeLinear") == 2);
      CHECK(count_op(q, "ConvInteger") == 1 && count_op(q, "MatMulInteger") == 1);
      CHECK(count_op(q, "Conv") == 0 && count_op(q, "Gemm") == 0 && count_op(q, "Relu") == 1);
      CHECK(count_op(q, "Cast") == 2 && count_op(q, "QuantizeLinear") == 0);
      CHECK(r->calibration_samples == 0);
      check_close(f, q);
    }
    onyx_model_destroy(q);
    onyx_quant_report_destroy(r);
  }
  /* fallback by filters: only Conv; and an excluded node */
  {
    const char *kv[] = {"op_types_to_quantize", "Conv,Relu", "nodes_to_exclude", "relu", NULL};
    onyx_model *q = quantize(f, kv, &r);
    CHECK(q && r);
    if (q && r) {
      CHECK(note_of(r, "conv")->quantized && !note_of(r, "gemm")->quantized);
      CHECK(strstr(note_of(r, "gemm")->note, "op_types_to_quantize") != NULL);
      CHECK(!note_of(r, "relu")->quantized && strstr(note_of(r, "relu")->note, "excluded"));
      CHECK(count_op(q, "Relu") == 1 && count_op(q, "Gemm") == 1);
      CHECK(count_op(q, "QuantizeLinear") == 2);   /* Conv's input and output only */
      check_close(f, q);
    }
    onyx_model_destroy(q);
    onyx_quant_report_destroy(r);
  }
  /* symmetric int8 activations: Relu is kept (quantization no longer clamps) */
  {
    const char *kv[] = {"activation_type", "QInt8", "ActivationSymmetric", "1", NULL};
    onyx_model *q = quantize(f, kv, &r);
    CHECK(q && count_op(q, "Relu") == 1);
    if (q) check_close(f, q);
    onyx_model_destroy(q);
    onyx_quant_report_destroy(r);
  }
  /* errors: static without data, bad options */
  {
    onyx_quant_options *o;
    CHECK_OK(onyx_quant_options_create(&o));
    onyx_model *q = NULL;
    CHECK_ERR(onyx_quantize_model(f, o, &q, NULL), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_quant_options_set(o, "per_channel", "maybe"), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_quant_options_set(o, "no_such_option", "1"), ONYX_ERR_INVALID_ARGUMENT);
    CHECK_ERR(onyx_quant_options_set(o, "weight_type", "QInt4"), ONYX_ERR_INVALID_ARGUMENT);
    onyx_quant_options_destroy(o);
  }
  onyx_model_destroy(f);
  return tu_done("test_quant_graph");
}
