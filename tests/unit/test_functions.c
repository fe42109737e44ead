/* test_functions.c — model-local functions (ModelProto.functions), inlined
 * at load by src/onnx.
 *
 * Models are built here with the protobuf-c structs, serialized and loaded
 * like files. Each case runs the model with the function and the same graph
 * inlined by hand, and checks both against values computed in the test:
 * plain calls, attribute references (caller value, the function's default
 * from attribute_proto, neither), nested calls passing attributes on,
 * omitted optional inputs, two calls of one function (private values
 * renamed apart, also from a model name in the way), calls inside an If
 * branch and an If inside a function, a formal output that is a formal
 * input, overloads, a standard operator keeping its kernel, a save and
 * reload of the inlined model; and the errors: recursion, an unknown
 * domain, opset conflicts. Allocation failure is injected at every step of
 * one load. */
#include <stdarg.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/status.h"
#include "onnx.pb-c.h"
#include "test_util.h"
#include "proto_util.h"

/* ---- building protos (everything from one pool, freed at the end) ------------------- */

static void *pool[8192];
static int n_pool;

static void *P(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (n_pool < (int)(sizeof pool / sizeof *pool)) pool[n_pool++] = p;
  return p;
}

static void pool_free(void) {
  while (n_pool) free(pool[--n_pool]);
}

/* Splits "a,,b" into names ("" for an empty one); n gets the count (0 for ""). */
static char **names(const char *list, size_t *n) {
  *n = 0;
  if (!*list) return NULL;
  size_t cnt = 1;
  for (const char *p = list; *p; p++) cnt += *p == ',';
  char **v = P(cnt * sizeof *v);
  const char *p = list;
  for (size_t i = 0; i < cnt; i++) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    v[i] = P(len + 1);
    memcpy(v[i], p, len);
    p += len + 1;
  }
  *n = cnt;
  return v;
}

static Onnx__NodeProto *node(const char *op, const char *domain, const char *name, const char *in,
                             const char *out) {
  Onnx__NodeProto *n = P(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->domain = (char *)domain;
  n->name = (char *)name;
  n->input = names(in, &n->n_input);
  n->output = names(out, &n->n_output);
  n->attribute = P(8 * sizeof *n->attribute);
  return n;
}

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name) {
  Onnx__AttributeProto *a = P(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  if (n) n->attribute[n->n_attribute++] = a;
  return a;
}

static void attr_f(Onnx__NodeProto *n, const char *name, float f) {
  Onnx__AttributeProto *a = attr(n, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->has_f = 1;
  a->f = f;
}

static void attr_ref(Onnx__NodeProto *n, const char *name, const char *ref) {
  Onnx__AttributeProto *a = attr(n, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->ref_attr_name = (char *)ref;
}

static void attr_g(Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g) {
  Onnx__AttributeProto *a = attr(n, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  a->g = g;
}

/* A float tensor value of rank 1 and size d (d < 0: no shape). */
static Onnx__ValueInfoProto *vi(const char *name, onyx_dtype dt, int64_t d) {
  Onnx__ValueInfoProto *v = P(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = (char *)name;
  Onnx__TypeProto *t = P(sizeof *t);
  onnx__type_proto__init(t);
  Onnx__TypeProto__Tensor *tt = P(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)dt;
  if (d >= 0) {
    Onnx__TensorShapeProto *sh = P(sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    Onnx__TensorShapeProto__Dimension *dim = P(sizeof *dim);
    onnx__tensor_shape_proto__dimension__init(dim);
    dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dim->dim_value = d;
    sh->dim = P(sizeof *sh->dim);
    sh->dim[0] = dim;
    sh->n_dim = 1;
    tt->shape = sh;
  }
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  v->type = t;
  return v;
}

/* A graph with float inputs/outputs of size N given as "a,b" lists (the
 * bool input "c" when named) and nodes added by gnode. */
#define N 4
static Onnx__GraphProto *graph(const char *name, const char *in, const char *out) {
  Onnx__GraphProto *g = P(sizeof *g);
  onnx__graph_proto__init(g);
  g->name = (char *)name;
  size_t n;
  char **v = names(in, &n);
  g->input = P((n + 1) * sizeof *g->input);
  for (size_t i = 0; i < n; i++)
    g->input[g->n_input++] = vi(v[i], !strcmp(v[i], "c") ? ONYX_DTYPE_BOOL : ONYX_DTYPE_FLOAT,
                                !strcmp(v[i], "c") ? 1 : N);
  v = names(out, &n);
  g->output = P((n + 1) * sizeof *g->output);
  for (size_t i = 0; i < n; i++) g->output[g->n_output++] = vi(v[i], ONYX_DTYPE_FLOAT, -1);
  g->node = P(64 * sizeof *g->node);
  return g;
}

static Onnx__NodeProto *gnode(Onnx__GraphProto *g, Onnx__NodeProto *n) {
  g->node[g->n_node++] = n;
  return n;
}

static Onnx__OperatorSetIdProto *opset(const char *domain, int64_t v) {
  Onnx__OperatorSetIdProto *o = P(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = (char *)domain;
  o->has_version = 1;
  o->version = v;
  return o;
}

static Onnx__FunctionProto *function(const char *domain, const char *name, const char *in, const char *out,
                                     const char *attrs) {
  Onnx__FunctionProto *f = P(sizeof *f);
  onnx__function_proto__init(f);
  f->domain = (char *)domain;
  f->name = (char *)name;
  f->input = names(in, &f->n_input);
  f->output = names(out, &f->n_output);
  f->attribute = names(attrs, &f->n_attribute);
  f->node = P(64 * sizeof *f->node);
  f->opset_import = P(4 * sizeof *f->opset_import);
  f->opset_import[f->n_opset_import++] = opset("", 17);
  return f;
}

static Onnx__NodeProto *fnode(Onnx__FunctionProto *f, Onnx__NodeProto *n) {
  f->node[f->n_node++] = n;
  return n;
}

/* Appends the length-delimited unknown field `number` holding bytes p[0..len)
 * to m (protobuf-c writes it back out as it is). */
static void unknown_bytes(ProtobufCMessage *m, uint32_t number, const void *p, size_t len) {
  ProtobufCMessageUnknownField *u = P((m->n_unknown_fields + 1) * sizeof *u);
  if (m->n_unknown_fields) memcpy(u, m->unknown_fields, m->n_unknown_fields * sizeof *u);
  uint8_t *d = P(len + 10);
  size_t k = 0;
  for (size_t v = len; ; v >>= 7) {
    d[k++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80) break;
  }
  memcpy(d + k, p, len);
  u[m->n_unknown_fields].tag = number;
  u[m->n_unknown_fields].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
  u[m->n_unknown_fields].len = k + len;
  u[m->n_unknown_fields].data = d;
  m->unknown_fields = u;
  m->n_unknown_fields++;
}

/* FunctionProto.attribute_proto (field 11, newer than ONNX 1.12): a default. */
static void fn_default_f(Onnx__FunctionProto *f, const char *name, float v) {
  Onnx__AttributeProto *a = attr(NULL, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->has_f = 1;
  a->f = v;
  size_t len = onnx__attribute_proto__get_packed_size(a);
  uint8_t *buf = P(len);
  onnx__attribute_proto__pack(a, buf);
  unknown_bytes(&f->base, 11, buf, len);
}

typedef struct mb {
  Onnx__ModelProto m;
  Onnx__FunctionProto *fns[8];
  Onnx__OperatorSetIdProto *ops[4];
} mb;

static Onnx__ModelProto *model(Onnx__GraphProto *g, int n_fn, Onnx__FunctionProto *const *fns) {
  mb *x = P(sizeof *x);
  onnx__model_proto__init(&x->m);
  x->m.has_ir_version = 1;
  x->m.ir_version = 8;
  x->ops[0] = opset("", 17);
  x->ops[1] = opset("local", 1);
  x->m.opset_import = x->ops;
  x->m.n_opset_import = 2;
  for (int i = 0; i < n_fn; i++) x->fns[i] = fns[i];
  x->m.functions = x->fns;
  x->m.n_functions = (size_t)n_fn;
  x->m.graph = g;
  return &x->m;
}

/* ---- running ---------------------------------------------------------------------------- */

static const float A[N] = {1.5f, -2.0f, 0.25f, -3.5f};
static const float B[N] = {0.5f, 4.0f, -1.0f, 2.0f};

/* Loads mp and runs it on inputs a = A, b = B (and c = cond when the graph
 * declares it), writing output 0 into y. */
static onyx_status *run_model(const Onnx__ModelProto *mp, bool cond, float *y) {
  onyx_model *m;
  ONYX_TRY(tu_load_model_proto(mp, NULL, &m));
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_providers(o, "cpu");
  onyx_session *s;
  onyx_status *st = onyx_session_create_from_model(m, o, &s);
  onyx_options_destroy(o);
  if (st) return st;
  int64_t d = N, one = 1;
  onyx_tensor *in[3], *out[1] = {NULL};
  const char *nm[3];
  int n = 0;
  for (size_t i = 0; i < mp->graph->n_input; i++) {
    const char *name = mp->graph->input[i]->name;
    nm[n] = name;
    if (!strcmp(name, "c")) {
      onyx_tensor_create(ONYX_DTYPE_BOOL, 1, &one, &in[n]);
      *(uint8_t *)onyx_tensor_data(in[n]) = cond;
    } else {
      in[n] = tu_f32(1, &d, !strcmp(name, "a") ? A : B);
    }
    n++;
  }
  st = onyx_session_run(s, n, nm, in, 1, NULL, out);
  for (int i = 0; i < n; i++) onyx_tensor_free(in[i]);
  if (!st) memcpy(y, onyx_tensor_data(out[0]), sizeof(float) * N);
  onyx_tensor_free(out[0]);
  onyx_session_destroy(s);
  return st;
}

static bool close_to(const float *y, const float *want) {
  for (int i = 0; i < N; i++)
    if (fabsf(y[i] - want[i]) > 1e-6f * (1 + fabsf(want[i]))) {
      fprintf(stderr, "  element %d: got %g, expected %g\n", i, y[i], want[i]);
      return false;
    }
  return true;
}

/* Runs the model with functions and the hand-inlined one; both must give want. */
static void check_same(const char *what, const Onnx__ModelProto *with_fn, const Onnx__ModelProto *by_hand,
                       bool cond, const float *want) {
  float y1[N] = {0}, y2[N] = {0};
  onyx_status *s = run_model(with_fn, cond, y1);
  if (s) fprintf(stderr, "  %s: %s\n", what, onyx_status_message(s));
  CHECK(!s && close_to(y1, want));
  onyx_status_free(s);
  s = run_model(by_hand, cond, y2);
  if (s) fprintf(stderr, "  %s (by hand): %s\n", what, onyx_status_message(s));
  CHECK(!s && close_to(y2, want));
  onyx_status_free(s);
}

/* ---- cases ------------------------------------------------------------------------------ */

/* local.AddMul(x, y) -> z: t = x + y; z = t * y */
static Onnx__FunctionProto *add_mul(void) {
  Onnx__FunctionProto *f = function("local", "AddMul", "x,y", "z", "");
  fnode(f, node("Add", "", "add", "x,y", "t"));
  fnode(f, node("Mul", "", "mul", "t,y", "z"));
  return f;
}

static void test_simple(void) {
  Onnx__FunctionProto *f = add_mul();
  Onnx__GraphProto *g = graph("g", "a,b", "y");
  gnode(g, node("AddMul", "local", "call", "a,b", "y"));
  Onnx__GraphProto *h = graph("h", "a,b", "y");
  gnode(h, node("Add", "", "", "a,b", "t"));
  gnode(h, node("Mul", "", "", "t,b", "y"));
  float want[N];
  for (int i = 0; i < N; i++) want[i] = (A[i] + B[i]) * B[i];
  check_same("simple", model(g, 1, &f), model(h, 0, NULL), false, want);
  /* the IR holds the body, named after the call */
  onyx_model *m;
  CHECK_OK(tu_load_model_proto(model(g, 1, &f), NULL, &m));
  if (m) {
    CHECK(m->graph->n_nodes == 2 && !strcmp(m->graph->nodes[0].op_type, "Add") &&
          !strcmp(m->graph->nodes[0].name, "call/add"));
    CHECK(onyx_graph_find(m->graph, "call/t") >= 0);
    onyx_model_destroy(m);
  }
  /* a save of the inlined model reloads and runs the same */
  CHECK_OK(tu_load_model_proto(model(g, 1, &f), NULL, &m));
  void *buf = NULL;
  size_t len = 0;
  if (m) CHECK_OK(onyx_model_save_to_buffer(m, &buf, &len));
  onyx_model_destroy(m);
  onyx_model *m2 = NULL;
  if (buf) CHECK_OK(onyx_model_load_from_buffer(buf, len, NULL, &m2));
  CHECK(m2 && m2->graph->n_nodes == 2);
  onyx_model_destroy(m2);
  onyx_buffer_free(buf);
}

/* local.Leaky(x) -> y = LeakyRelu(x, alpha = @alpha) */
static Onnx__FunctionProto *leaky(float dflt) {
  Onnx__FunctionProto *f = function("local", "Leaky", "x", "y", "alpha");
  attr_ref(fnode(f, node("LeakyRelu", "", "lr", "x", "y")), "alpha", "alpha");
  if (dflt >= 0) fn_default_f(f, "alpha", dflt);
  return f;
}

static void leaky_ref(float alpha, float *want) {
  for (int i = 0; i < N; i++) want[i] = A[i] >= 0 ? A[i] : alpha * A[i];
}

static void test_attributes(void) {
  float want[N];
  Onnx__GraphProto *h = graph("h", "a", "y");
  Onnx__NodeProto *hn = gnode(h, node("LeakyRelu", "", "", "a", "y"));
  attr_f(hn, "alpha", 0.3f);
  /* the caller's value */
  Onnx__FunctionProto *f = leaky(-1);
  Onnx__GraphProto *g = graph("g", "a", "y");
  attr_f(gnode(g, node("Leaky", "local", "call", "a", "y")), "alpha", 0.3f);
  leaky_ref(0.3f, want);
  check_same("attribute from the caller", model(g, 1, &f), model(h, 0, NULL), false, want);
  /* the function's default (attribute_proto), the caller giving none */
  f = leaky(0.2f);
  g = graph("g", "a", "y");
  gnode(g, node("Leaky", "local", "call", "a", "y"));
  hn->attribute[0]->f = 0.2f;
  leaky_ref(0.2f, want);
  check_same("default attribute", model(g, 1, &f), model(h, 0, NULL), false, want);
  /* the caller's value wins over the default */
  attr_f(g->node[0], "alpha", 0.3f);
  hn->attribute[0]->f = 0.3f;
  leaky_ref(0.3f, want);
  check_same("caller over default", model(g, 1, &f), model(h, 0, NULL), false, want);
  /* neither: the attribute is left out, LeakyRelu's own default (0.01) applies */
  f = leaky(-1);
  g = graph("g", "a", "y");
  gnode(g, node("Leaky", "local", "call", "a", "y"));
  h = graph("h", "a", "y");
  gnode(h, node("LeakyRelu", "", "", "a", "y"));
  leaky_ref(0.01f, want);
  check_same("no attribute", model(g, 1, &f), model(h, 0, NULL), false, want);
  onyx_model *m;
  CHECK_OK(tu_load_model_proto(model(g, 1, &f), NULL, &m));
  CHECK(m && m->graph->nodes[0].n_attrs == 0);
  onyx_model_destroy(m);
}

/* local.Outer(x, y) -> z = Leaky(AddMul(x, y)) with alpha passed on as @beta */
static void test_nested(void) {
  Onnx__FunctionProto *fns[3] = {add_mul(), leaky(-1), function("local", "Outer", "x,y", "z", "beta")};
  fnode(fns[2], node("AddMul", "local", "am", "x,y", "t"));
  attr_ref(fnode(fns[2], node("Leaky", "local", "lk", "t", "z")), "alpha", "beta");
  Onnx__GraphProto *g = graph("g", "a,b", "y");
  attr_f(gnode(g, node("Outer", "local", "call", "a,b", "y")), "beta", 0.5f);
  Onnx__GraphProto *h = graph("h", "a,b", "y");
  gnode(h, node("Add", "", "", "a,b", "t1"));
  gnode(h, node("Mul", "", "", "t1,b", "t2"));
  attr_f(gnode(h, node("LeakyRelu", "", "", "t2", "y")), "alpha", 0.5f);
  float want[N];
  for (int i = 0; i < N; i++) {
    float t = (A[i] + B[i]) * B[i];
    want[i] = t >= 0 ? t : 0.5f * t;
  }
  check_same("nested", model(g, 3, fns), model(h, 0, NULL), false, want);
  onyx_model *m;
  CHECK_OK(tu_load_model_proto(model(g, 3, fns), NULL, &m));
  if (m) {
    CHECK(m->graph->n_nodes == 3 && !strcmp(m->graph->nodes[1].name, "call/am/mul") &&
          onyx_graph_find(m->graph, "call/am/t") >= 0);
    onyx_model_destroy(m);
  }
}

/* local.Clamp(x, lo, hi) -> y = Clip(x, lo, hi), called without lo */
static void test_optional_input(void) {
  Onnx__FunctionProto *f = function("local", "Clamp", "x,lo,hi", "y", "");
  fnode(f, node("Clip", "", "", "x,lo,hi", "y"));
  /* Clip takes scalar bounds: hi is a Constant */
  Onnx__GraphProto *g = graph("g", "a", "y");
  attr_f(gnode(g, node("Constant", "", "", "", "hi")), "value_float", 1.0f);
  gnode(g, node("Clamp", "local", "call", "a,,hi", "y"));
  Onnx__GraphProto *h = graph("h", "a", "y");
  attr_f(gnode(h, node("Constant", "", "", "", "hi")), "value_float", 1.0f);
  gnode(h, node("Clip", "", "", "a,,hi", "y"));
  float want[N];
  for (int i = 0; i < N; i++) want[i] = A[i] > 1.0f ? 1.0f : A[i];
  check_same("omitted optional input", model(g, 1, &f), model(h, 0, NULL), false, want);
  /* fewer actual inputs than formal ones: all trailing ones omitted */
  g = graph("g", "a", "y");
  gnode(g, node("Clamp", "local", "call", "a", "y"));
  h = graph("h", "a", "y");
  gnode(h, node("Clip", "", "", "a", "y"));
  check_same("trailing inputs omitted", model(g, 1, &f), model(h, 0, NULL), false, A);
}

/* AddMul twice; the model already has a value named like the first call's private "t" */
static void test_twice(void) {
  Onnx__FunctionProto *f = add_mul();
  Onnx__GraphProto *g = graph("g", "a,b", "y");
  gnode(g, node("Neg", "", "", "b", "call/t"));
  gnode(g, node("AddMul", "local", "call", "a,b", "u"));
  gnode(g, node("AddMul", "local", "call2", "u,call/t", "v"));
  gnode(g, node("Add", "", "", "v,call/t", "y"));
  Onnx__GraphProto *h = graph("h", "a,b", "y");
  gnode(h, node("Neg", "", "", "b", "nb"));
  gnode(h, node("Add", "", "", "a,b", "t1"));
  gnode(h, node("Mul", "", "", "t1,b", "u"));
  gnode(h, node("Add", "", "", "u,nb", "t2"));
  gnode(h, node("Mul", "", "", "t2,nb", "v"));
  gnode(h, node("Add", "", "", "v,nb", "y"));
  float want[N];
  for (int i = 0; i < N; i++) {
    float u = (A[i] + B[i]) * B[i];
    want[i] = (u - B[i]) * -B[i] - B[i];
  }
  check_same("two calls", model(g, 1, &f), model(h, 0, NULL), false, want);
  onyx_model *m;
  CHECK_OK(tu_load_model_proto(model(g, 1, &f), NULL, &m));
  if (m) {
    /* the model's "call/t" is Neg's output; the call's private t got another name */
    int v = onyx_graph_find(m->graph, "call/t");
    CHECK(v >= 0 && !strcmp(m->graph->nodes[m->graph->values[v].producer].op_type, "Neg"));
    CHECK(onyx_graph_find(m->graph, "call/t_1") >= 0 && onyx_graph_find(m->graph, "call2/t") >= 0);
    onyx_model_destroy(m);
  }
}

/* If(c) then AddMul(a, b) else a - b; and an If inside a function body */
static void test_subgraphs(void) {
  Onnx__FunctionProto *f = add_mul();
  Onnx__GraphProto *then_g = graph("then", "", "r");
  gnode(then_g, node("AddMul", "local", "inner", "a,b", "r"));
  Onnx__GraphProto *else_g = graph("else", "", "r");
  gnode(else_g, node("Sub", "", "", "a,b", "r"));
  Onnx__GraphProto *g = graph("g", "a,b,c", "y");
  Onnx__NodeProto *n = gnode(g, node("If", "", "if", "c", "y"));
  attr_g(n, "then_branch", then_g);
  attr_g(n, "else_branch", else_g);
  Onnx__GraphProto *ht = graph("then", "", "r");
  gnode(ht, node("Add", "", "", "a,b", "t"));
  gnode(ht, node("Mul", "", "", "t,b", "r"));
  Onnx__GraphProto *h = graph("h", "a,b,c", "y");
  n = gnode(h, node("If", "", "if", "c", "y"));
  attr_g(n, "then_branch", ht);
  attr_g(n, "else_branch", else_g);
  float want_t[N], want_e[N];
  for (int i = 0; i < N; i++) {
    want_t[i] = (A[i] + B[i]) * B[i];
    want_e[i] = A[i] - B[i];
  }
  check_same("call in a then branch", model(g, 1, &f), model(h, 0, NULL), true, want_t);
  check_same("call in a then branch, else taken", model(g, 1, &f), model(h, 0, NULL), false, want_e);

  /* local.Pick(c, x, y) -> z: s = x * y; z = If(c) then s + x (scaled by
   * LeakyRelu with @alpha) else s: the branch reads a private value and an
   * attribute reference */
  Onnx__FunctionProto *pick = function("local", "Pick", "c,x,y", "z", "alpha");
  fnode(pick, node("Mul", "", "m", "x,y", "s"));
  Onnx__GraphProto *pt = graph("pt", "", "r");
  gnode(pt, node("Add", "", "", "s,x", "q"));
  attr_ref(gnode(pt, node("LeakyRelu", "", "", "q", "r")), "alpha", "alpha");
  Onnx__GraphProto *pe = graph("pe", "", "r");
  gnode(pe, node("Identity", "", "", "s", "r"));
  n = fnode(pick, node("If", "", "if", "c", "z"));
  attr_g(n, "then_branch", pt);
  attr_g(n, "else_branch", pe);
  g = graph("g", "a,b,c", "y");
  attr_f(gnode(g, node("Pick", "local", "call", "c,a,b", "y")), "alpha", 0.25f);
  Onnx__GraphProto *hpt = graph("pt", "", "r");
  gnode(hpt, node("Add", "", "", "s,a", "q"));
  attr_f(gnode(hpt, node("LeakyRelu", "", "", "q", "r")), "alpha", 0.25f);
  Onnx__GraphProto *hpe = graph("pe", "", "r");
  gnode(hpe, node("Identity", "", "", "s", "r"));
  h = graph("h", "a,b,c", "y");
  gnode(h, node("Mul", "", "", "a,b", "s"));
  n = gnode(h, node("If", "", "", "c", "y"));
  attr_g(n, "then_branch", hpt);
  attr_g(n, "else_branch", hpe);
  for (int i = 0; i < N; i++) {
    float q = A[i] * B[i] + A[i];
    want_t[i] = q >= 0 ? q : 0.25f * q;
    want_e[i] = A[i] * B[i];
  }
  check_same("If in a function, then", model(g, 1, &pick), model(h, 0, NULL), true, want_t);
  check_same("If in a function, else", model(g, 1, &pick), model(h, 0, NULL), false, want_e);
}

static void test_special_bodies(void) {
  /* a formal output that is a formal input: passed through */
  Onnx__FunctionProto *f = function("local", "Pass", "x,y", "x,z", "");
  fnode(f, node("Mul", "", "", "x,y", "z"));
  Onnx__GraphProto *g = graph("g", "a,b", "y");
  gnode(g, node("Pass", "local", "call", "a,b", "p,q"));
  gnode(g, node("Add", "", "", "p,q", "y"));
  Onnx__GraphProto *h = graph("h", "a,b", "y");
  gnode(h, node("Mul", "", "", "a,b", "q"));
  gnode(h, node("Add", "", "", "a,q", "y"));
  float want[N];
  for (int i = 0; i < N; i++) want[i] = A[i] + A[i] * B[i];
  check_same("output passed through", model(g, 1, &f), model(h, 0, NULL), false, want);

  /* a function named like a standard operator keeps onyx's kernel */
  Onnx__FunctionProto *relu = function("", "Relu", "x", "y", "");
  fnode(relu, node("Neg", "", "", "x", "y"));
  g = graph("g", "a", "y");
  gnode(g, node("Relu", "", "", "a", "y"));
  h = graph("h", "a", "y");
  gnode(h, node("Relu", "", "", "a", "y"));
  for (int i = 0; i < N; i++) want[i] = A[i] > 0 ? A[i] : 0;
  check_same("standard operator", model(g, 1, &relu), model(h, 0, NULL), false, want);

  /* overloads (FunctionProto.overload 13, NodeProto.overload 8): the node picks one */
  Onnx__FunctionProto *ov[2] = {function("local", "Op", "x", "y", ""), function("local", "Op", "x", "y", "")};
  fnode(ov[0], node("Neg", "", "", "x", "y"));
  fnode(ov[1], node("Abs", "", "", "x", "y"));
  unknown_bytes(&ov[0]->base, 13, "neg", 3);
  unknown_bytes(&ov[1]->base, 13, "abs", 3);
  g = graph("g", "a", "y");
  unknown_bytes(&gnode(g, node("Op", "local", "", "a", "y"))->base, 8, "abs", 3);
  h = graph("h", "a", "y");
  gnode(h, node("Abs", "", "", "a", "y"));
  for (int i = 0; i < N; i++) want[i] = fabsf(A[i]);
  check_same("overload", model(g, 2, ov), model(h, 0, NULL), false, want);
  /* a body node of a domain only the function imports */
  Onnx__FunctionProto *ms = function("local", "G", "x", "y", "");
  ms->opset_import[ms->n_opset_import++] = opset("ai.onyx", 1);
  fnode(ms, node("BiasGelu", "ai.onyx", "", "x", "y"));
  g = graph("g", "a", "y");
  gnode(g, node("G", "local", "", "a", "y"));
  for (int i = 0; i < N; i++) want[i] = 0.5f * A[i] * (1.0f + erff(A[i] / sqrtf(2.0f)));
  float y[N] = {0};
  onyx_status *s = run_model(model(g, 1, &ms), false, y);
  CHECK(!s && close_to(y, want));
  if (s) fprintf(stderr, "  function importing ai.onyx: %s\n", onyx_status_message(s));
  onyx_status_free(s);
}

static void test_errors(void) {
  /* recursion, direct and through another function */
  Onnx__FunctionProto *r = function("local", "Rec", "x", "y", "");
  fnode(r, node("Rec", "local", "", "x", "y"));
  Onnx__GraphProto *g = graph("g", "a", "y");
  gnode(g, node("Rec", "local", "call", "a", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 1, &r), NULL, NULL), ONYX_ERR_INVALID_MODEL, "function 'Rec'");
  Onnx__FunctionProto *fg[2] = {function("local", "F", "x", "y", ""), function("local", "G", "x", "y", "")};
  fnode(fg[0], node("G", "local", "", "x", "y"));
  fnode(fg[1], node("F", "local", "", "x", "y"));
  g = graph("g", "a", "y");
  gnode(g, node("F", "local", "call", "a", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 2, fg), NULL, NULL), ONYX_ERR_INVALID_MODEL, "calls itself");
  /* a domain neither onyx nor a function knows: the error of any unknown op */
  Onnx__FunctionProto *f = add_mul();
  g = graph("g", "a,b", "y");
  gnode(g, node("AddMul", "other", "call", "a,b", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 1, &f), NULL, NULL), ONYX_ERR_NOT_IMPLEMENTED,
                "operator domain 'other' is not supported");
  /* a function importing another version of the default domain */
  f = add_mul();
  f->opset_import[0]->version = 13;
  g = graph("g", "a,b", "y");
  gnode(g, node("AddMul", "local", "call", "a,b", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 1, &f), NULL, NULL), ONYX_ERR_NOT_IMPLEMENTED,
                "function 'AddMul' imports opset 13");
  /* more actual inputs than formal ones */
  f = add_mul();
  g = graph("g", "a,b", "y");
  gnode(g, node("AddMul", "local", "call", "a,b,a", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 1, &f), NULL, NULL), ONYX_ERR_INVALID_MODEL, "takes 2 inputs");
  /* two definitions of one function */
  Onnx__FunctionProto *two[2] = {add_mul(), add_mul()};
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 2, two), NULL, NULL), ONYX_ERR_INVALID_MODEL, "defined twice");
  /* a function body node of an unknown operator names it */
  f = function("local", "Bad", "x", "y", "");
  fnode(f, node("NoSuchOp", "com.example", "", "x", "y"));
  g = graph("g", "a", "y");
  gnode(g, node("Bad", "local", "call", "a", "y"));
  CHECK_ERR_MSG(tu_load_model_proto(model(g, 1, &f), NULL, NULL), ONYX_ERR_NOT_IMPLEMENTED, "com.example");
}

static void test_fault_injection(void) {
  Onnx__FunctionProto *fns[3] = {add_mul(), leaky(0.2f), function("local", "Outer", "x,y", "z", "beta")};
  fnode(fns[2], node("AddMul", "local", "am", "x,y", "t"));
  attr_ref(fnode(fns[2], node("Leaky", "local", "lk", "t", "z")), "alpha", "beta");
  Onnx__GraphProto *g = graph("g", "a,b", "y");
  attr_f(gnode(g, node("Outer", "local", "call", "a,b", "u")), "beta", 0.5f);
  gnode(g, node("Leaky", "local", "call2", "u", "y"));
  const Onnx__ModelProto *mp = model(g, 3, fns);
  size_t len = onnx__model_proto__get_packed_size(mp);
  uint8_t *buf = malloc(len);
  onnx__model_proto__pack(mp, buf);
  int n, bad = 0;
  for (n = 0; n < 100000; n++) {
    onyx_model *m = NULL;
    onyx_alloc_fail_after(n);
    onyx_status *s = onyx_model_load_from_buffer(buf, len, NULL, &m);
    onyx_alloc_fail_after(-1);
    if (!s) {
      onyx_model_destroy(m);
      break;
    }
    if (onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY && bad++ < 3)
      fprintf(stderr, "  failing allocation %d: %s\n", n, onyx_status_message(s));
    onyx_status_free(s);
  }
  CHECK(bad == 0 && n > 0 && n < 100000);
  free(buf);
}

int main(void) {
  test_simple();
  test_attributes();
  test_nested();
  test_optional_input();
  test_twice();
  test_subgraphs();
  test_special_bodies();
  test_errors();
  test_fault_injection();
  pool_free();
  return tu_done("test_functions");
}
