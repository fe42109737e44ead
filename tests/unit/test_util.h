/* test_util.h — tiny helpers shared by the unit tests: checks that count
 * failures, and building + running a one-node model through the public API
 * without any .onnx file. Header-only; each test is one program. */
#ifndef ONYX_TEST_UTIL_H
#define ONYX_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "ir/ir.h"
#include "onyx.h"

static int tu_pass, tu_fail;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) tu_pass++;                                                   \
    else {                                                                 \
      tu_fail++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

/* Fails the check and prints the status message when s != NULL; frees s. */
#define CHECK_OK(expr)                                                     \
  do {                                                                     \
    onyx_status *s_ = (expr);                                              \
    if (!s_) tu_pass++;                                                    \
    else {                                                                 \
      tu_fail++;                                                           \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
              onyx_status_message(s_));                                    \
      onyx_status_free(s_);                                                \
    }                                                                      \
  } while (0)

/* Expects an error with `code`; frees it. */
#define CHECK_ERR(expr, code)                                              \
  do {                                                                     \
    onyx_status *s_ = (expr);                                              \
    if (s_ && onyx_status_code(s_) == (code)) tu_pass++;                   \
    else {                                                                 \
      tu_fail++;                                                           \
      fprintf(stderr, "%s:%d: %s: expected %s, got %s (%s)\n", __FILE__, __LINE__, #expr, \
              onyx_code_name(code), onyx_code_name(onyx_status_code(s_)), onyx_status_message(s_)); \
    }                                                                      \
    onyx_status_free(s_);                                                  \
  } while (0)

static inline bool tu_msg_has(onyx_status *s, const char *needle) {
  return s && strstr(onyx_status_message(s), needle) != NULL;
}

/* Expects an error with `code` whose message contains `needle`; frees it. */
#define CHECK_ERR_MSG(expr, code, needle)                                                  \
  do {                                                                                    \
    onyx_status *s2_ = (expr);                                                            \
    CHECK(onyx_status_code(s2_) == (code) && tu_msg_has(s2_, needle));                    \
    if (onyx_status_code(s2_) != (code) || !tu_msg_has(s2_, needle))                      \
      fprintf(stderr, "  got %s: %s\n", onyx_code_name(onyx_status_code(s2_)), onyx_status_message(s2_)); \
    onyx_status_free(s2_);                                                                \
  } while (0)

#define CHECK_NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

/* Prints the closing line and returns the exit status. */
static inline int tu_done(const char *name) {
  printf("%s: %d passed, %d failed\n", name, tu_pass, tu_fail);
  return tu_fail ? 1 : 0;
}

/* A one-node model under construction. Inputs named "x0".."xN", outputs
 * "y0".."yN"; constant inputs become initializers. */
typedef struct tu_node {
  onyx_model *m;
  int node;
} tu_node;

/* An empty model (IR 8, default domain at `opset`) with its main graph. */
static inline onyx_model *tu_model_new(int opset) {
  onyx_model *m;
  onyx_model_new(&m);
  m->ir_version = 8;
  onyx_model_set_opset(m, "", opset);
  onyx_graph_new(m, NULL, &m->graph);
  return m;
}

static inline tu_node tu_node_new(const char *op_type, int opset, int n_in, int n_out) {
  tu_node t = {tu_model_new(opset), 0};
  onyx_graph *g = t.m->graph;
  int in[16], out[16];
  char name[16];
  for (int i = 0; i < n_in; i++) {
    snprintf(name, sizeof name, "x%d", i);
    onyx_graph_value(g, name, &in[i]);
  }
  for (int i = 0; i < n_out; i++) {
    snprintf(name, sizeof name, "y%d", i);
    onyx_graph_value(g, name, &out[i]);
  }
  onyx_graph_add_node(g, "n0", op_type, "", n_in, in, n_out, out, &t.node);
  onyx_graph_set_outputs(g, n_out, out);
  return t;
}

/* Declares input i as fed at run time with dtype/shape. */
static inline void tu_input(tu_node *t, int i, onyx_dtype dt, int rank, const int64_t *dims) {
  onyx_graph *g = t->m->graph;
  int v = g->nodes[t->node].in[i];
  g->values[v].dtype = dt;
  g->values[v].rank = rank;
  memcpy(g->values[v].dims, dims, (size_t)rank * sizeof *dims);
  int *idx = malloc((size_t)(g->n_inputs + 1) * sizeof *idx);
  if (g->n_inputs) memcpy(idx, g->inputs, (size_t)g->n_inputs * sizeof *idx);
  idx[g->n_inputs] = v;
  onyx_graph_set_inputs(g, g->n_inputs + 1, idx);
  free(idx);
}

/* Makes input i a constant (initializer); copies data. */
static inline void tu_const(tu_node *t, int i, onyx_dtype dt, int rank, const int64_t *dims,
                            const void *data) {
  onyx_graph *g = t->m->graph;
  int v = g->nodes[t->node].in[i];
  onyx_tensor *c;
  onyx_tensor_create(dt, rank, dims, &c);
  memcpy(onyx_tensor_data(c), data, onyx_tensor_nbytes(c));
  g->values[v].init = c;
  g->values[v].dtype = dt;
  g->values[v].rank = rank;
  memcpy(g->values[v].dims, dims, (size_t)rank * sizeof *dims);
}

static inline onyx_node *tu_n(tu_node *t) { return &t->m->graph->nodes[t->node]; }

/* Attributes added to node n (the test builders' setters all end here). */
static inline onyx_attr *tu_set(onyx_node *n, const char *name, onyx_attr_type type) {
  onyx_attr *a;
  onyx_node_add_attr(n, name, &a);
  a->type = type;
  return a;
}
static inline void tu_set_int(onyx_node *n, const char *name, int64_t v) { tu_set(n, name, ONYX_ATTR_INT)->i = v; }
static inline void tu_set_float(onyx_node *n, const char *name, float v) { tu_set(n, name, ONYX_ATTR_FLOAT)->f = v; }
static inline void tu_set_ints(onyx_node *n, const char *name, int count, const int64_t *v) {
  onyx_attr *a = tu_set(n, name, ONYX_ATTR_INTS);
  a->n = count;
  a->ints = malloc((size_t)(count ? count : 1) * sizeof *v);
  memcpy(a->ints, v, (size_t)count * sizeof *v);
}
static inline void tu_set_floats(onyx_node *n, const char *name, int count, const float *v) {
  onyx_attr *a = tu_set(n, name, ONYX_ATTR_FLOATS);
  a->n = count;
  a->floats = malloc((size_t)(count ? count : 1) * sizeof *v);
  memcpy(a->floats, v, (size_t)count * sizeof *v);
}
static inline void tu_set_string(onyx_node *n, const char *name, const char *s) {
  onyx_attr *a = tu_set(n, name, ONYX_ATTR_STRING);
  a->s = strdup(s);
  a->s_len = strlen(s);
}
static inline void tu_set_strings(onyx_node *n, const char *name, int count, const char *const *v) {
  onyx_attr *a = tu_set(n, name, ONYX_ATTR_STRINGS);
  a->n = count;
  a->strings = calloc((size_t)count + 1, sizeof *a->strings);
  for (int i = 0; i < count; i++) a->strings[i] = strdup(v[i]);
}

static inline void tu_attr_int(tu_node *t, const char *name, int64_t v) { tu_set_int(tu_n(t), name, v); }
static inline void tu_attr_float(tu_node *t, const char *name, float v) { tu_set_float(tu_n(t), name, v); }
static inline void tu_attr_ints(tu_node *t, const char *name, int n, const int64_t *v) {
  tu_set_ints(tu_n(t), name, n, v);
}
static inline void tu_attr_string(tu_node *t, const char *name, const char *s) { tu_set_string(tu_n(t), name, s); }

/* Creates a session (consumes the model) and runs it with the given fed
 * inputs (in declaration order); outputs receive new tensors. */
static inline onyx_status *tu_run(tu_node *t, int threads, int n_in, onyx_tensor *const *in,
                                  int n_out, onyx_tensor **out) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, threads);
  /* these helpers test the cpu kernels: keep other providers (dnnl) out */
  onyx_options_set_providers(o, "cpu");
  const char *names[16];
  for (int i = 0; i < n_in; i++) names[i] = t->m->graph->values[t->m->graph->inputs[i]].name;
  onyx_session *s = NULL;
  onyx_status *st = onyx_session_create_from_model(t->m, o, &s);
  t->m = NULL;
  onyx_options_destroy(o);
  if (st) return st;
  st = onyx_session_run(s, n_in, names, in, n_out, NULL, out);
  onyx_session_destroy(s);
  return st;
}

/* New float tensor with given values. */
static inline onyx_tensor *tu_f32(int rank, const int64_t *dims, const float *v) {
  onyx_tensor *t;
  onyx_tensor_create(ONYX_DTYPE_FLOAT, rank, dims, &t);
  if (v) memcpy(onyx_tensor_data(t), v, onyx_tensor_nbytes(t));
  return t;
}

/* New tensor of a float dtype (float, double, float16, bfloat16) holding v,
 * rounded to it. */
static inline onyx_tensor *tu_from_f64(onyx_dtype dt, int rank, const int64_t *dims, const double *v) {
  onyx_tensor *t;
  onyx_tensor_create(dt, rank, dims, &t);
  for (int64_t i = 0; i < onyx_tensor_numel(t); i++) onyx_tensor_set_f64(t, i, v[i]);
  return t;
}

/* Deterministic pseudo-random floats in [-1, 1). */
static inline void tu_fill_random(float *p, size_t n, unsigned seed) {
  unsigned long long x = seed * 2654435761ull + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = (float)((double)(x >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
  }
}

#endif
