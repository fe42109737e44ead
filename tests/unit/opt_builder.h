/* opt_builder.h — small multi-node graphs for the optimizer tests: a builder
 * over the IR (values by name, nodes from comma-separated name lists),
 * counting ops after optimization, and running a model at two optimization
 * levels on the same random inputs to compare the outputs. Header-only,
 * shared by the test_opt_*.c programs. */
#ifndef ONYX_TEST_OPT_BUILDER_H
#define ONYX_TEST_OPT_BUILDER_H

#include "test_util.h"

typedef struct gb {
  onyx_model *m;
  onyx_graph *g;
  int last;   /* index of the last node added */
} gb;

static inline gb gb_new(int opset) {
  gb b = {tu_model_new(opset), NULL, 0};
  b.g = b.m->graph;
  return b;
}

static inline int gb_val(gb *b, const char *name) {
  int v;
  onyx_graph_value(b->g, name, &v);
  return v;
}

/* Splits "a,b,,c" into value indices (empty: omitted, -1). */
static inline int gb_list(gb *b, const char *list, int *out) {
  int n = 0;
  char buf[512], *p = buf;
  snprintf(buf, sizeof buf, "%s", list);
  if (!*list) return 0;
  for (;;) {
    char *e = strchr(p, ',');
    if (e) *e = 0;
    out[n++] = *p ? gb_val(b, p) : -1;
    if (!e) break;
    p = e + 1;
  }
  return n;
}

static inline int gb_node_d(gb *b, const char *op, const char *domain, const char *ins, const char *outs) {
  int in[32], out[32];
  int ni = gb_list(b, ins, in), no = gb_list(b, outs, out);
  char name[64];
  snprintf(name, sizeof name, "n%d_%s", b->g->n_nodes, op);
  onyx_graph_add_node(b->g, name, op, domain, ni, in, no, out, &b->last);
  return b->last;
}

static inline int gb_node(gb *b, const char *op, const char *ins, const char *outs) {
  return gb_node_d(b, op, "", ins, outs);
}

static inline void gb_type(gb *b, int v, onyx_dtype dt, int rank, const int64_t *dims) {
  onyx_value *val = &b->g->values[v];
  val->dtype = dt;
  val->rank = rank;
  if (rank > 0) memcpy(val->dims, dims, (size_t)rank * sizeof *dims);
}

static inline void gb_input(gb *b, const char *name, onyx_dtype dt, int rank, const int64_t *dims) {
  int v = gb_val(b, name);
  gb_type(b, v, dt, rank, dims);
  int idx[32];
  if (b->g->n_inputs) memcpy(idx, b->g->inputs, (size_t)b->g->n_inputs * sizeof *idx);
  idx[b->g->n_inputs] = v;
  onyx_graph_set_inputs(b->g, b->g->n_inputs + 1, idx);
}

/* Input with symbolic dims: dims[i] < 0 becomes the symbol named sym[i]. */
static inline void gb_input_sym(gb *b, const char *name, int rank, const int64_t *dims, const char *const *sym) {
  int64_t d[ONYX_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    d[i] = dims[i];
    if (dims[i] < 0) onyx_model_symbol(b->m, sym[i], &d[i]);
  }
  gb_input(b, name, ONYX_DTYPE_FLOAT, rank, d);
}

static inline void gb_output(gb *b, const char *name) {
  int v = gb_val(b, name);
  int idx[32];
  if (b->g->n_outputs) memcpy(idx, b->g->outputs, (size_t)b->g->n_outputs * sizeof *idx);
  idx[b->g->n_outputs] = v;
  onyx_graph_set_outputs(b->g, b->g->n_outputs + 1, idx);
}

/* Constant of any dtype from raw data. */
static inline void gb_const(gb *b, const char *name, onyx_dtype dt, int rank, const int64_t *dims,
                            const void *data) {
  int v = gb_val(b, name);
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  memcpy(onyx_tensor_data(t), data, onyx_tensor_nbytes(t));
  b->g->values[v].init = t;
  gb_type(b, v, dt, rank, dims);
}

/* Float constant filled with seeded random values (scaled, shifted). */
static inline void gb_const_rand(gb *b, const char *name, int rank, const int64_t *dims, unsigned seed,
                                 float scale, float shift) {
  int64_t n = onyx_numel(rank, dims);
  float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
  tu_fill_random(p, (size_t)n, seed);
  for (int64_t i = 0; i < n; i++) p[i] = p[i] * scale + shift;
  gb_const(b, name, ONYX_DTYPE_FLOAT, rank, dims, p);
  free(p);
}

static inline void gb_scalar(gb *b, const char *name, float v) { gb_const(b, name, ONYX_DTYPE_FLOAT, 0, NULL, &v); }

static inline void gb_i64(gb *b, const char *name, int n, const int64_t *v) {
  int64_t d = n;
  gb_const(b, name, ONYX_DTYPE_INT64, 1, &d, v);
}

static inline onyx_node *gb_n(gb *b) { return &b->g->nodes[b->last]; }

static inline void gb_ai(gb *b, const char *name, int64_t v) { tu_set_int(gb_n(b), name, v); }
static inline void gb_af(gb *b, const char *name, float v) { tu_set_float(gb_n(b), name, v); }
static inline void gb_aints(gb *b, const char *name, int n, const int64_t *v) { tu_set_ints(gb_n(b), name, n, v); }

/* ---- checking ------------------------------------------------------------- */

/* Nodes of op_type (any domain) in the model's main graph. */
static inline int gb_count(const onyx_model *m, const char *op_type) {
  int k = 0;
  for (int i = 0; i < m->graph->n_nodes; i++) k += !strcmp(m->graph->nodes[i].op_type, op_type);
  return k;
}

/* Nodes of a domain other than ai.onnx. */
static inline int gb_count_nonstandard(const onyx_model *m) {
  int k = 0;
  for (int i = 0; i < m->graph->n_nodes; i++) k += m->graph->nodes[i].domain[0] != 0;
  return k;
}

/* Optimizes m in place at `level`; returns the status (NULL: fine). */
static inline onyx_status *gb_optimize(onyx_model *m, int level, onyx_optimize_stats *st) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_optimization_level(o, level);
  onyx_options_set_providers(o, "cpu");   /* the fusions are cpu fusions */
  onyx_status *s = onyx_model_optimize(m, o, st);
  onyx_options_destroy(o);
  return s;
}

/* A model factory: the tests build each model twice, once per level. */
typedef gb (*gb_build_fn)(void);

/* Runs a fresh model from `build` at `level` on inputs (shapes from the
 * graph's declared inputs, symbolic dims bound to `sym_size`) filled from
 * `seed`; out receives up to 8 outputs. */
static inline onyx_status *gb_run(gb_build_fn build, int level, int64_t sym_size, unsigned seed,
                                  int *n_out, onyx_tensor **out) {
  gb b = build();
  onyx_graph *g = b.g;
  int n_in = g->n_inputs;
  onyx_tensor *in[16];
  const char *names[16];
  for (int i = 0; i < n_in; i++) {
    const onyx_value *v = &g->values[g->inputs[i]];
    int64_t dims[ONYX_MAX_RANK];
    for (int d = 0; d < v->rank; d++) dims[d] = v->dims[d] >= 0 ? v->dims[d] : sym_size;
    onyx_tensor_create(v->dtype, v->rank, dims, &in[i]);
    if (v->dtype == ONYX_DTYPE_FLOAT)
      tu_fill_random(onyx_tensor_data(in[i]), (size_t)onyx_tensor_numel(in[i]), seed + (unsigned)i);
    names[i] = v->name;
  }
  *n_out = g->n_outputs;
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_optimization_level(o, level);
  onyx_options_set_intra_op_threads(o, 2);
  onyx_options_set_providers(o, "cpu");
  onyx_session *s = NULL;
  char (*keep)[64] = malloc(16 * sizeof *keep);
  for (int i = 0; i < n_in; i++) snprintf(keep[i], 64, "%s", names[i]);
  for (int i = 0; i < n_in; i++) names[i] = keep[i];
  onyx_status *st = onyx_session_create_from_model(b.m, o, &s);
  onyx_options_destroy(o);
  if (!st) st = onyx_session_run(s, n_in, names, in, *n_out, NULL, out);
  onyx_session_destroy(s);
  for (int i = 0; i < n_in; i++) onyx_tensor_free(in[i]);
  free(keep);
  return st;
}

/* Max |a - b| over max |b| (the output's scale), or 1e30 on shape mismatch. */
static inline double gb_rel_err(const onyx_tensor *a, const onyx_tensor *b) {
  if (onyx_tensor_numel(a) != onyx_tensor_numel(b) || onyx_tensor_dtype(a) != ONYX_DTYPE_FLOAT ||
      onyx_tensor_dtype(b) != ONYX_DTYPE_FLOAT || onyx_tensor_rank(a) != onyx_tensor_rank(b))
    return 1e30;
  const float *pa = onyx_tensor_data((onyx_tensor *)a), *pb = onyx_tensor_data((onyx_tensor *)b);
  double err = 0, scale = 1e-30;
  for (int64_t i = 0; i < onyx_tensor_numel(a); i++) {
    double d = fabs((double)pa[i] - (double)pb[i]);
    if (d > err || d != d) err = d != d ? 1e30 : d;
    if (fabs(pb[i]) > scale) scale = fabs(pb[i]);
  }
  return err / scale;
}

/* The model from `build` gives the same outputs (within rel) at `level` as
 * at level 0, on two random input sets. */
static inline bool gb_same_numerics(gb_build_fn build, int level, int64_t sym_size, double rel) {
  bool ok = true;
  for (unsigned seed = 1; seed <= 2 && ok; seed++) {
    onyx_tensor *ref[8] = {0}, *opt[8] = {0};
    int n0 = 0, n1 = 0;
    onyx_status *s0 = gb_run(build, 0, sym_size, seed, &n0, ref);
    onyx_status *s1 = gb_run(build, level, sym_size, seed, &n1, opt);
    if (s0 || s1) {
      fprintf(stderr, "run failed: %s | %s\n", onyx_status_message(s0), onyx_status_message(s1));
      ok = false;
    }
    for (int i = 0; ok && i < n0; i++) {
      double e = gb_rel_err(opt[i], ref[i]);
      if (e > rel) {
        fprintf(stderr, "output %d differs: relative error %g > %g\n", i, e, rel);
        ok = false;
      }
    }
    onyx_status_free(s0);
    onyx_status_free(s1);
    for (int i = 0; i < 8; i++) {
      onyx_tensor_free(ref[i]);
      onyx_tensor_free(opt[i]);
    }
  }
  return ok;
}

/* Builds, optimizes at `level` and returns how many nodes of op_type remain
 * (-1 when optimization failed, printing why). */
static inline int gb_count_after(gb_build_fn build, int level, const char *op_type) {
  gb b = build();
  onyx_status *s = gb_optimize(b.m, level, NULL);
  int k = s ? -1 : gb_count(b.m, op_type);
  if (s) fprintf(stderr, "optimize failed: %s\n", onyx_status_message(s));
  onyx_status_free(s);
  onyx_model_destroy(b.m);
  return k;
}

#endif
