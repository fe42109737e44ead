/* test_control.c — subgraph ops of the control family built as small IR
 * models with bodies: SequenceMap over sequences of different element shapes
 * with tensor and sequence additional inputs, and the batched Scan of opset 8
 * with sequence_lens and a reversed scan input, and If branches computing on
 * an outer-scope value whose shape is unknown at load. Results are checked
 * against loops written here over the same random data. */
#include "exec/session_internal.h"
#include "test_util.h"

static unsigned long long rng = 3;
static float frand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2 - 1);
}

/* Value `name` of g with a tensor type (rank -1: unknown shape). */
static int val(onyx_graph *g, const char *name, onyx_kind kind, onyx_dtype dt, int rank, const int64_t *dims) {
  int v;
  onyx_graph_value(g, name, &v);
  g->values[v].kind = kind;
  g->values[v].dtype = dt;
  g->values[v].rank = rank;
  if (rank > 0) memcpy(g->values[v].dims, dims, (size_t)rank * sizeof *dims);
  return v;
}

static void node(onyx_graph *g, const char *op, int n_in, const int *in, int n_out, const int *out) {
  int k;
  onyx_graph_add_node(g, "", op, "", n_in, in, n_out, out, &k);
}


static void set_body(onyx_graph *g, const char *name, onyx_graph *body) {
  tu_set(&g->nodes[g->n_nodes - 1], name, ONYX_ATTR_GRAPH)->g = body;
}

static onyx_status *run_model(onyx_model *m, int n_in, onyx_tensor *const *in, int n_out, onyx_tensor **out) {
  const char *names[8];
  for (int i = 0; i < n_in; i++) names[i] = m->graph->values[m->graph->inputs[i]].name;
  onyx_session *s;
  onyx_status *st = onyx_session_create_from_model(m, NULL, &s);
  if (st) return st;
  st = onyx_session_run(s, n_in, names, in, n_out, NULL, out);
  onyx_session_destroy(s);
  return st;
}

static onyx_tensor *f32(int rank, const int64_t *dims) {
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, dims, &t);
  for (int64_t i = 0; i < onyx_numel(rank, dims); i++) ((float *)t->data)[i] = frand();
  return t;
}

/* ---- SequenceMap ------------------------------------------------------------------- */

/* seq s (elements [len_i]) and a second input: a tensor [1] or a sequence of
 * [len_i] elements. Body: c = a + b, d = Shape(a). */
static onyx_model *seq_map_model(bool second_is_seq) {
  onyx_model *m = tu_model_new(17);
  onyx_graph *g = m->graph, *b;
  int in[2] = {val(g, "s", ONYX_KIND_SEQUENCE, ONYX_DTYPE_FLOAT, -1, NULL),
               second_is_seq ? val(g, "t", ONYX_KIND_SEQUENCE, ONYX_DTYPE_FLOAT, -1, NULL)
                             : val(g, "t", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, (int64_t[]){1})};
  int out[2] = {val(g, "sum", ONYX_KIND_SEQUENCE, ONYX_DTYPE_FLOAT, -1, NULL),
                val(g, "shape", ONYX_KIND_SEQUENCE, ONYX_DTYPE_INT64, -1, NULL)};
  onyx_graph_set_inputs(g, 2, in);
  node(g, "SequenceMap", 2, in, 2, out);
  onyx_graph_set_outputs(g, 2, out);
  onyx_graph_new(m, g, &b);
  int bin[2] = {val(b, "a", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL),
                val(b, "b", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL)};
  int bout[2] = {val(b, "c", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL),
                 val(b, "d", ONYX_KIND_TENSOR, ONYX_DTYPE_INT64, -1, NULL)};
  onyx_graph_set_inputs(b, 2, bin);
  node(b, "Add", 2, bin, 1, &bout[0]);
  node(b, "Shape", 1, &bin[0], 1, &bout[1]);
  onyx_graph_set_outputs(b, 2, bout);
  set_body(g, "body", b);
  return m;
}

static void test_sequence_map(void) {
  for (int second_is_seq = 0; second_is_seq < 2; second_is_seq++)
    for (int n = 0; n <= 4; n += 2) {
      onyx_tensor *ea[4], *eb[4], *sa, *tb;
      int64_t lens[4] = {3, 1, 5, 2};
      for (int i = 0; i < n; i++) {
        ea[i] = f32(1, &lens[i]);
        if (second_is_seq) eb[i] = f32(1, &lens[i]);
      }
      onyx_sequence_new(ONYX_DTYPE_FLOAT, n, ea, &sa);
      if (second_is_seq) onyx_sequence_new(ONYX_DTYPE_FLOAT, n, eb, &tb);
      else tb = f32(1, (int64_t[]){1});
      onyx_tensor *in[2] = {sa, tb}, *out[2] = {NULL, NULL};
      CHECK_OK(run_model(seq_map_model(second_is_seq), 2, in, 2, out));
      bool ok = out[0] && out[1] && out[0]->kind == ONYX_KIND_SEQUENCE && out[0]->n_elems == n &&
                out[1]->kind == ONYX_KIND_SEQUENCE && out[1]->n_elems == n;
      for (int i = 0; ok && i < n; i++) {
        const onyx_tensor *c = out[0]->elems[i], *d = out[1]->elems[i];
        const onyx_tensor *bi = second_is_seq ? tb->elems[i] : tb;
        ok = c->rank == 1 && c->dims[0] == lens[i] && d->dtype == ONYX_DTYPE_INT64 && d->dims[0] == 1 &&
             ((int64_t *)d->data)[0] == lens[i];
        for (int64_t k = 0; ok && k < lens[i]; k++) {
          float want = ((float *)sa->elems[i]->data)[k] + ((float *)bi->data)[second_is_seq ? k : 0];
          ok = ((float *)c->data)[k] == want;
        }
      }
      CHECK(ok);
      onyx_tensor_free(sa);
      onyx_tensor_free(tb);
      onyx_tensor_free(out[0]);
      onyx_tensor_free(out[1]);
    }
  /* sequences of different lengths */
  onyx_tensor *e1[2] = {f32(1, (int64_t[]){2}), f32(1, (int64_t[]){2})}, *e2[1] = {f32(1, (int64_t[]){2})};
  onyx_tensor *s1, *s2, *out[2] = {NULL, NULL};
  onyx_sequence_new(ONYX_DTYPE_FLOAT, 2, e1, &s1);
  onyx_sequence_new(ONYX_DTYPE_FLOAT, 1, e2, &s2);
  onyx_tensor *in[2] = {s1, s2};
  CHECK_ERR(run_model(seq_map_model(true), 2, in, 2, out), ONYX_ERR_INVALID_ARGUMENT);
  onyx_tensor_free(s1);
  onyx_tensor_free(s2);
}

/* ---- Scan, opset 8 ----------------------------------------------------------------------- */

/* Scan(lens?, init [B,2], x [B,S,2], r [B,S,2]) -> (final [B,2], sums [B,S,2],
 * seen [B,S,2]); body: s' = s + x_t, outputs s' and r_t; r scanned backwards. */
static onyx_model *scan8_model(bool with_lens, int64_t B, int64_t S) {
  onyx_model *m = tu_model_new(8);
  onyx_graph *g = m->graph, *b;
  int64_t d2[2] = {B, 2}, d3[3] = {B, S, 2};
  int lens = with_lens ? val(g, "lens", ONYX_KIND_TENSOR, ONYX_DTYPE_INT32, 1, &B) : -1;
  int init = val(g, "init", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 2, d2);
  int x = val(g, "x", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 3, d3), r = val(g, "r", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 3, d3);
  int fed[4] = {lens, init, x, r};
  onyx_graph_set_inputs(g, with_lens ? 4 : 3, with_lens ? fed : fed + 1);
  int out[3] = {val(g, "final", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL),
                val(g, "sums", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL),
                val(g, "seen", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL)};
  node(g, "Scan", 4, fed, 3, out);
  onyx_graph_set_outputs(g, 3, out);
  tu_set_int(&g->nodes[0], "num_scan_inputs", 2);
  int64_t dirs[2] = {0, 1};
  tu_set_ints(&g->nodes[0], "directions", 2, dirs);
  onyx_graph_new(m, g, &b);
  int64_t two = 2;
  int bin[3] = {val(b, "s", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two), val(b, "xt", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two),
                val(b, "rt", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two)};
  int bout[3] = {val(b, "s2", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two),
                 val(b, "sum_t", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two),
                 val(b, "r_t", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 1, &two)};
  onyx_graph_set_inputs(b, 3, bin);
  node(b, "Add", 2, bin, 1, &bout[0]);
  node(b, "Identity", 1, &bout[0], 1, &bout[1]);
  node(b, "Identity", 1, &bin[2], 1, &bout[2]);
  onyx_graph_set_outputs(b, 3, bout);
  set_body(g, "body", b);
  return m;
}

static void check_scan8(bool with_lens, int64_t B, int64_t S, const int32_t *lens) {
  int64_t d2[2] = {B, 2}, d3[3] = {B, S, 2};
  onyx_tensor *tl, *init = f32(2, d2), *x = f32(3, d3), *r = f32(3, d3), *out[3] = {NULL, NULL, NULL};
  onyx_tensor_create(ONYX_DTYPE_INT32, 1, &B, &tl);
  if (with_lens) memcpy(tl->data, lens, (size_t)B * sizeof *lens);
  onyx_tensor *in[4] = {tl, init, x, r};
  CHECK_OK(run_model(scan8_model(with_lens, B, S), with_lens ? 4 : 3, with_lens ? in : in + 1, 3, out));
  bool ok = out[0] && out[1] && out[2] && out[0]->rank == 2 && out[0]->dims[0] == B && out[1]->rank == 3 &&
            out[1]->dims[0] == B && out[1]->dims[1] == S && out[2]->rank == 3 && out[2]->dims[1] == S;
  const float *pi = init->data, *px = x->data, *pr = r->data;
  for (int64_t b = 0; ok && b < B; b++) {
    int64_t L = with_lens ? lens[b] : S;
    float s[2] = {pi[b * 2], pi[b * 2 + 1]};
    for (int64_t t = 0; t < S; t++)
      for (int k = 0; k < 2; k++) {
        float sum = 0, seen = 0;
        if (t < L) {
          s[k] += px[(b * S + t) * 2 + k];
          sum = s[k];
          seen = pr[(b * S + (L - 1 - t)) * 2 + k];
        }
        ok = ok && ((float *)out[1]->data)[(b * S + t) * 2 + k] == sum &&
             ((float *)out[2]->data)[(b * S + t) * 2 + k] == seen;
      }
    ok = ok && ((float *)out[0]->data)[b * 2] == s[0] && ((float *)out[0]->data)[b * 2 + 1] == s[1];
  }
  CHECK(ok);
  for (int i = 0; i < 4; i++) onyx_tensor_free(in[i]);
  for (int i = 0; i < 3; i++) onyx_tensor_free(out[i]);
}

static void test_scan8(void) {
  check_scan8(false, 1, 3, NULL);
  check_scan8(false, 3, 4, NULL);
  check_scan8(true, 3, 5, (const int32_t[]){5, 2, 0});
  check_scan8(true, 2, 4, (const int32_t[]){1, 4});
  /* a length beyond the sequence */
  int64_t B = 1, S = 2, d2[2] = {1, 2}, d3[3] = {1, 2, 2};
  onyx_tensor *tl, *init = f32(2, d2), *x = f32(3, d3), *r = f32(3, d3), *out[3] = {NULL, NULL, NULL};
  onyx_tensor_create(ONYX_DTYPE_INT32, 1, &B, &tl);
  ((int32_t *)tl->data)[0] = 3;
  onyx_tensor *in[4] = {tl, init, x, r};
  CHECK_ERR(run_model(scan8_model(true, B, S), 4, in, 3, out), ONYX_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 4; i++) onyx_tensor_free(in[i]);
}

/* If whose branches compute on an outer-scope value of unknown shape at
 * load (as loaded models' branches declare nothing): then = ReduceMean(x^2,
 * axes=[-1]), else = ReduceMax(x, axes=[-1]). Shape inference must keep
 * the Pow's rank unknown rather than take the exponent's (rank 0). */
/* y = If(c) over float input x[dims]; the branches are the caller's. */
static onyx_model *if_shell(int opset, int rank, const int64_t *dims) {
  onyx_model *m = tu_model_new(opset);
  onyx_graph *g = m->graph;
  int x = val(g, "x", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, rank, dims);
  int c = val(g, "c", ONYX_KIND_TENSOR, ONYX_DTYPE_BOOL, 0, NULL);
  int y = val(g, "y", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, -1, NULL);
  onyx_graph_set_inputs(g, 2, (int[]){x, c});
  node(g, "If", 1, &c, 1, &y);
  onyx_graph_set_outputs(g, 1, &y);
  return m;
}

/* A new branch graph of m's If that reads the outer x (value *bx), its
 * type unknown as in a loaded model's branch. */
static onyx_graph *if_branch(onyx_model *m, int *bx) {
  onyx_graph *b;
  onyx_graph_new(m, m->graph, &b);
  *bx = val(b, "x", ONYX_KIND_TENSOR, ONYX_DTYPE_UNDEFINED, -1, NULL);
  b->values[*bx].is_outer = true;
  return b;
}

static onyx_model *if_reduce_model(void) {
  onyx_model *m = if_shell(17, 2, (int64_t[]){2, 5});
  onyx_graph *g = m->graph;
  for (int k = 0; k < 2; k++) {
    int bx;
    onyx_graph *b = if_branch(m, &bx);
    int out = val(b, k ? "e" : "t", ONYX_KIND_TENSOR, ONYX_DTYPE_UNDEFINED, -1, NULL);
    if (!k) {
      int two = val(b, "two", ONYX_KIND_TENSOR, ONYX_DTYPE_FLOAT, 0, NULL), p2 = val(b, "p", ONYX_KIND_TENSOR, 0, -1, NULL);
      onyx_tensor_create(ONYX_DTYPE_FLOAT, 0, NULL, &b->values[two].init);
      *(float *)onyx_tensor_data(b->values[two].init) = 2;
      node(b, "Pow", 2, (int[]){bx, two}, 1, &p2);
      node(b, "ReduceMean", 1, &p2, 1, &out);
    } else {
      node(b, "ReduceMax", 1, &bx, 1, &out);
    }
    tu_set_ints(&b->nodes[b->n_nodes - 1], "axes", 1, (int64_t[]){-1});
    onyx_graph_set_outputs(b, 1, &out);
    set_body(g, k ? "else_branch" : "then_branch", b);
  }
  return m;
}

static void test_if_outer_shapes(void) {
  for (int k = 0; k < 2; k++) {
    onyx_tensor *x = f32(2, (int64_t[]){2, 5}), *c, *y = NULL;
    onyx_tensor_create(ONYX_DTYPE_BOOL, 0, NULL, &c);
    *(uint8_t *)onyx_tensor_data(c) = (uint8_t)(k == 0);
    onyx_tensor *in[2] = {x, c};
    CHECK_OK(run_model(if_reduce_model(), 2, in, 1, &y));
    const float *xv = onyx_tensor_data(x);
    bool ok = y && onyx_tensor_rank(y) == 2 && onyx_tensor_dims(y)[0] == 2 && onyx_tensor_dims(y)[1] == 1;
    for (int r = 0; ok && r < 2; r++) {
      double want = k ? -INFINITY : 0;
      for (int j = 0; j < 5; j++) {
        double v = xv[r * 5 + j];
        want = k ? fmax(want, v) : want + v * v / 5;
      }
      ok = fabs(((float *)onyx_tensor_data(y))[r] - want) < 1e-5;
    }
    CHECK(ok);
    onyx_tensor_free(x);
    onyx_tensor_free(c);
    onyx_tensor_free(y);
  }
}

/* If whose branches build constants: then = x + Constant([1, 2, 3]),
 * else = x * Constant(value_float 5). */
static onyx_model *if_const_model(void) {
  onyx_model *m = if_shell(13, 1, (int64_t[]){3});
  onyx_graph *g = m->graph;
  for (int k = 0; k < 2; k++) {
    int bx;
    onyx_graph *b = if_branch(m, &bx);
    int kv = val(b, "k", ONYX_KIND_TENSOR, ONYX_DTYPE_UNDEFINED, -1, NULL);
    int out = val(b, "r", ONYX_KIND_TENSOR, ONYX_DTYPE_UNDEFINED, -1, NULL);
    node(b, "Constant", 0, NULL, 1, &kv);
    if (k) {
      tu_set_float(&b->nodes[0], "value_float", 5);
    } else {
      onyx_tensor *t;
      onyx_tensor_create(ONYX_DTYPE_FLOAT, 1, (int64_t[]){3}, &t);
      float *p = onyx_tensor_data(t);
      p[0] = 1, p[1] = 2, p[2] = 3;
      tu_set(&b->nodes[0], "value", ONYX_ATTR_TENSOR)->t = t;
    }
    node(b, k ? "Mul" : "Add", 2, (int[]){bx, kv}, 1, &out);
    onyx_graph_set_outputs(b, 1, &out);
    set_body(g, k ? "else_branch" : "then_branch", b);
  }
  return m;
}

/* At level 1 the branches' Constant nodes become initializers (they ran on
 * every call before); the numbers stay. */
static void test_subgraph_constants(void) {
  for (int level = 0; level <= 1; level++)
    for (int k = 0; k < 2; k++) {
      onyx_options *o;
      onyx_options_create(&o);
      onyx_options_set_optimization_level(o, level);
      onyx_session *s = NULL;
      CHECK_OK(onyx_session_create_from_model(if_const_model(), o, &s));
      onyx_options_destroy(o);
      if (!s) continue;
      const onyx_graph *g = onyx_session_graph(s);
      int sub_nodes = 0;
      for (int a = 0; a < g->nodes[0].n_attrs; a++)
        if (g->nodes[0].attrs[a].g) sub_nodes += g->nodes[0].attrs[a].g->n_nodes;
      CHECK(sub_nodes == (level ? 2 : 4));
      onyx_tensor *x = f32(1, (int64_t[]){3}), *c, *y = NULL;
      onyx_tensor_create(ONYX_DTYPE_BOOL, 0, NULL, &c);
      *(uint8_t *)onyx_tensor_data(c) = (uint8_t)(k == 0);
      const char *names[2] = {"x", "c"};
      onyx_tensor *in[2] = {x, c};
      CHECK_OK(onyx_session_run(s, 2, names, in, 1, NULL, &y));
      bool ok = y && onyx_tensor_numel(y) == 3;
      for (int i = 0; ok && i < 3; i++) {
        float xv = ((float *)onyx_tensor_data(x))[i], yv = ((float *)onyx_tensor_data(y))[i];
        ok = yv == (k ? xv * 5 : xv + (float)(i + 1));
      }
      CHECK(ok);
      onyx_tensor_free(x);
      onyx_tensor_free(c);
      onyx_tensor_free(y);
      onyx_session_destroy(s);
    }
}

int main(void) {
  test_sequence_map();
  test_scan8();
  test_if_outer_shapes();
  test_subgraph_constants();
  return tu_done("test_control");
}
