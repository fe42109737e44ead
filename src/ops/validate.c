/* validate.c — checks a model against ONNX's operator schemas before it runs.
 *
 * A model from a stranger can hold a Relu with two inputs, a Conv whose
 * kernel_shape is a list of floats, an attribute the op does not have, an op
 * the imported opset does not contain, or a string fed to Relu. ONNX Runtime
 * refuses all of these when the session is made; so does onyx, here, before
 * any infer function or kernel reads a node (they assume the arity they were
 * written for). The schemas are ONNX's own, generated into onnx_schemas.inc by
 * scripts/gen_op_schemas.py, so nothing here restates an operator by hand.
 *
 * The table is complete up to the opset of the onnx release that made it. A
 * node whose opset is newer may use a version of its op the table does not
 * know (new inputs, new attributes), so for it only what stays true forever is
 * checked: that the op existed by then and was not removed. Domains the table
 * does not hold (ai.onyx, com.microsoft) and ops it does not know are left to
 * onyx's own op table (src/ops/ops.def), which refuses what it cannot run.
 *
 * Type constraints are checked by family. onyx's kernels take every float type
 * it has (float16, bfloat16, float8 compute in float) where ONNX lists some,
 * and every integer type likewise, beyond what an older opset lists (a bf16
 * Conv, int32 sequence lengths); a dtype of a family the op never takes (a
 * string into Relu, a float into an index) is refused. Inputs bound to one
 * type variable must still agree exactly. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "ops.h"

/* Newest IR version onyx reads: IR 10 came with opset 21, the newest opset
 * src/onnx/load.c accepts. */
#define MAX_IR_VERSION 10

/* Formal parameter options (ONNX's FormalParameterOption). */
enum { P_SINGLE, P_OPTIONAL, P_VARIADIC };
/* Schema flags: removed from the opset at `since`; only `since` is known. */
enum { SCHEMA_DEPRECATED = 1, SCHEMA_INTRODUCED_ONLY = 2 };
/* Type variables per schema (the generator keeps to this). */
#define MAX_TYPE_VARS 16

typedef struct schema_param {
  const char *name;
  int option;        /* P_* */
  int tv;            /* 1-based type variable all its elements bind, or 0 */
  uint32_t types;    /* tensor dtypes allowed, bit (1 << onyx_dtype); 0: only non-tensors */
} schema_param;

typedef struct schema_attr {
  const char *name;
  int type;          /* onyx_attr_type */
  int required;
} schema_attr;

typedef struct onnx_schema {
  const char *domain, *name;
  int since, flags;
  int min_in, max_in, min_out, max_out;
  int n_in;
  const schema_param *in;
  int n_out;
  const schema_param *out;
  int n_attrs;
  const schema_attr *attrs;
} onnx_schema;

typedef struct schema_domain {
  const char *domain;
  int opset;         /* the newest opset of the domain the table is complete for */
} schema_domain;

#include "onnx_schemas.inc"

#define N_SCHEMAS ((int)(sizeof onnx_schemas / sizeof onnx_schemas[0]))

/* The table's newest opset for the node's domain, or -1 when the table does
 * not hold the domain. */
static int table_opset(const char *domain) {
  for (size_t i = 0; i < sizeof schema_domains / sizeof schema_domains[0]; i++)
    if (!strcmp(schema_domains[i].domain, domain)) return schema_domains[i].opset;
  return -1;
}

static int compare_op(const onnx_schema *s, const char *domain, const char *name) {
  int c = strcmp(s->domain, domain);
  return c ? c : strcmp(s->name, name);
}

/* First table index of (domain, name) and how many versions follow it; 0
 * versions when the op is not in the table. */
static int find_versions(const char *domain, const char *name, int *count) {
  int lo = 0, hi = N_SCHEMAS;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (compare_op(&onnx_schemas[mid], domain, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  int n = 0;
  while (lo + n < N_SCHEMAS && !compare_op(&onnx_schemas[lo + n], domain, name)) n++;
  *count = n;
  return lo;
}

/* "1", "1 to 3" or "at least 1" into buf. */
static const char *range_str(int lo, int hi, char *buf, size_t len) {
  if (lo == hi) snprintf(buf, len, "%d", lo);
  else if (hi == INT32_MAX) snprintf(buf, len, "at least %d", lo);
  else snprintf(buf, len, "%d to %d", lo, hi);
  return buf;
}

static const char *attr_type_name(int t) {
  static const char *const names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH",
                                      "FLOATS", "INTS", "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR",
                                      "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* The formal parameter that actual position k binds (the last one repeats
 * when it is variadic), or NULL past the end. */
static const schema_param *param_at(const schema_param *p, int n, int k) {
  if (k < n) return &p[k];
  return n && p[n - 1].option == P_VARIADIC ? &p[n - 1] : NULL;
}

/* Finds the schema in force for n. *s is NULL when n is not checked against
 * the table (domain or op unknown to it, or no opset); otherwise fails when
 * the op does not exist at n's opset or was removed by then. *full is set
 * when the table is complete at that opset, so arity, attributes and types
 * may be checked. */
static onyx_status *schema_in_force(const onyx_node *n, const onnx_schema **s, bool *full) {
  *s = NULL;
  *full = false;
  int top = table_opset(n->domain), count;
  if (top < 0 || n->opset < 1) return NULL;
  int first = find_versions(n->domain, n->op_type, &count);
  if (!count) return NULL;
  const onnx_schema *in_force = NULL;
  for (int i = first; i < first + count && onnx_schemas[i].since <= n->opset; i++) in_force = &onnx_schemas[i];
  if (!in_force)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%s does not exist before opset %d; the model imports opset %d",
                           n->op_type, onnx_schemas[first].since, n->opset);
  if (in_force->flags & SCHEMA_DEPRECATED)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%s was removed from the opset at version %d; the model imports "
                           "opset %d", n->op_type, in_force->since, n->opset);
  *s = in_force;
  /* past the table's opset a newer version may apply (SCHEMA_INTRODUCED_ONLY
   * entries are all newer than the table) */
  *full = n->opset <= top;
  return NULL;
}

static onyx_status *check_arity(const onyx_node *n, const onnx_schema *s) {
  char want[48];
  if (n->n_in < s->min_in || n->n_in > s->max_in)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%d input%s, %s-%d takes %s", n->n_in, n->n_in == 1 ? "" : "s",
                           s->name, s->since, range_str(s->min_in, s->max_in, want, sizeof want));
  if (n->n_out < s->min_out || n->n_out > s->max_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%d output%s, %s-%d makes %s", n->n_out,
                           n->n_out == 1 ? "" : "s", s->name, s->since,
                           range_str(s->min_out, s->max_out, want, sizeof want));
  /* "" omits an input only where the schema says it is optional */
  for (int k = 0; k < n->n_in; k++) {
    const schema_param *p = param_at(s->in, s->n_in, k);
    if (n->in[k] < 0 && p && p->option != P_OPTIONAL)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "input %d ('%s') of %s-%d is required but omitted", k,
                             p->name, s->name, s->since);
  }
  for (int k = 0; k < n->n_out; k++) {
    const schema_param *p = param_at(s->out, s->n_out, k);
    if (n->out[k] < 0 && p && p->option == P_SINGLE)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "output %d ('%s') of %s-%d is required but omitted", k,
                             p->name, s->name, s->since);
  }
  return NULL;
}

/* For a node newer than the table: what later versions have kept so far.
 * Ops gain optional inputs and outputs across versions, they do not drop
 * required ones, so the newest known version's required count is a floor
 * (kernels read those inputs without checking). */
static onyx_status *check_min_arity(const onyx_node *n, const onnx_schema *s) {
  if (s->flags & SCHEMA_INTRODUCED_ONLY) return NULL;   /* no arity known */
  if (n->n_in < s->min_in || n->n_out < s->min_out)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%d inputs and %d outputs; %s takes at least %d and %d since "
                           "version %d", n->n_in, n->n_out, s->name, s->min_in, s->min_out, s->since);
  for (int k = 0; k < s->min_in && k < n->n_in; k++)
    if (n->in[k] < 0)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "input %d of %s is required but omitted", k, s->name);
  return NULL;
}

static onyx_status *check_attrs(const onyx_node *n, const onnx_schema *s) {
  for (int a = 0; a < n->n_attrs; a++) {
    const onyx_attr *at = &n->attrs[a];
    if (at->ref_attr_name) continue;   /* resolved by the caller of a function */
    const schema_attr *sa = NULL;
    for (int i = 0; i < s->n_attrs && !sa; i++)
      if (!strcmp(s->attrs[i].name, at->name)) sa = &s->attrs[i];
    if (!sa)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute '%s' is not an attribute of %s-%d", at->name,
                             s->name, s->since);
    if ((int)at->type != sa->type)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "attribute '%s' is of type %s, %s-%d takes %s", at->name,
                             attr_type_name(at->type), s->name, s->since, attr_type_name(sa->type));
  }
  for (int i = 0; i < s->n_attrs; i++)
    if (s->attrs[i].required && !onyx_node_attr(n, s->attrs[i].name))
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "required attribute '%s' of %s-%d is missing",
                             s->attrs[i].name, s->name, s->since);
  return NULL;
}

/* The dtype names in mask, comma-separated, into buf. */
static const char *dtypes_str(uint32_t mask, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int t = 1; t < ONYX_DTYPE_COUNT_ && t < 32 && used < len; t++)
    if (mask >> t & 1) used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", onyx_dtype_name(t));
  return buf;
}

/* The dtypes of t's family (see the file comment), as a mask of bits (1 << dtype). */
static uint32_t dtype_family(onyx_dtype t) {
#define BIT(d) (1u << ONYX_DTYPE_##d)
  static const uint32_t families[] = {
      BIT(FLOAT16) | BIT(FLOAT) | BIT(DOUBLE) | BIT(BFLOAT16) | BIT(FLOAT8E4M3FN) | BIT(FLOAT8E4M3FNUZ) |
          BIT(FLOAT8E5M2) | BIT(FLOAT8E5M2FNUZ),
      BIT(INT8) | BIT(INT16) | BIT(INT32) | BIT(INT64) | BIT(UINT8) | BIT(UINT16) | BIT(UINT32) | BIT(UINT64) |
          BIT(INT4) | BIT(UINT4),
      BIT(COMPLEX64) | BIT(COMPLEX128),
  };
#undef BIT
  uint32_t bit = 1u << t;
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
    if (families[i] & bit) return families[i];
  return bit;   /* bool and string are families of their own */
}

/* Inputs of known tensor dtype against the schema's type constraints: each
 * dtype of a family allowed, and inputs of one type variable all of one
 * dtype. Values whose dtype inference left unknown, and non-tensor values,
 * pass. */
static onyx_status *check_types(const onyx_graph *g, const onyx_node *n, const onnx_schema *s) {
  int bound_by[MAX_TYPE_VARS + 1];
  for (int i = 0; i <= MAX_TYPE_VARS; i++) bound_by[i] = -1;
  char allowed[512];
  for (int k = 0; k < n->n_in; k++) {
    const schema_param *p = param_at(s->in, s->n_in, k);
    if (n->in[k] < 0 || !p || !p->types) continue;
    const onyx_value *v = &g->values[n->in[k]];
    if (v->kind != ONYX_KIND_TENSOR || v->dtype == ONYX_DTYPE_UNDEFINED) continue;
    if ((unsigned)v->dtype >= 32 || !(p->types & dtype_family(v->dtype)))
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "input %d ('%s') is %s; %s-%d takes %s there", k, v->name,
                             onyx_dtype_name(v->dtype), s->name, s->since,
                             dtypes_str(p->types, allowed, sizeof allowed));
    if (p->tv <= 0 || p->tv > MAX_TYPE_VARS) continue;
    int first = bound_by[p->tv];
    if (first < 0) {
      bound_by[p->tv] = k;
      continue;
    }
    const onyx_value *w = &g->values[n->in[first]];
    if (w->dtype != v->dtype)
      return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "input %d ('%s') is %s but input %d ('%s') is %s; %s-%d "
                             "takes one type for both", k, v->name, onyx_dtype_name(v->dtype), first, w->name,
                             onyx_dtype_name(w->dtype), s->name, s->since);
  }
  return NULL;
}

/* The checks that need no types (before inference), over g and its
 * subgraphs. Nodes the optimizer or the quantizer make later are not checked:
 * they may use an op of the ONNX domain outside its opset range (a fused
 * LayerNormalization at opset 13), as ONNX Runtime's fusions do, for onyx's
 * own kernels. */
static onyx_status *check_graph_schemas(const onyx_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    const onnx_schema *s;
    bool full;
    ONYX_TRY(schema_in_force(n, &s, &full));
    if (s && full) {
      ONYX_TRY(check_arity(n, s));
      ONYX_TRY(check_attrs(n, s));
    } else if (s) {
      ONYX_TRY(check_min_arity(n, s));
    }
    for (int a = 0; a < n->n_attrs; a++) {
      const onyx_attr *at = &n->attrs[a];
      if (at->g) ONYX_TRY(check_graph_schemas(at->g));
      for (int k = 0; at->graphs && k < at->n; k++) ONYX_TRY(check_graph_schemas(at->graphs[k]));
    }
  }
  return NULL;
}

/* The type-constraint checks (after inference), over g and its subgraphs. */
static onyx_status *check_graph_types(const onyx_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    const onnx_schema *s;
    bool full;
    ONYX_TRY(schema_in_force(n, &s, &full));
    if (s && full) ONYX_TRY(check_types(g, n, s));
    for (int a = 0; a < n->n_attrs; a++) {
      const onyx_attr *at = &n->attrs[a];
      if (at->g) ONYX_TRY(check_graph_types(at->g));
      for (int k = 0; at->graphs && k < at->n; k++) ONYX_TRY(check_graph_types(at->graphs[k]));
    }
  }
  return NULL;
}

static onyx_status *check_ir_version(const onyx_model *m) {
  if (m->ir_version < 1)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "the model has no IR version (ModelProto.ir_version is %s)",
                      m->ir_version ? "negative" : "missing or 0");
  if (m->ir_version > MAX_IR_VERSION)
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "the model's IR version %lld is newer than onyx reads (up to %d)",
                      (long long)m->ir_version, MAX_IR_VERSION);
  return NULL;
}

/* An infer function cannot tell a load-time check from a run-time one and
 * reports inconsistent shapes as the caller's INVALID_ARGUMENT; here, before
 * the caller has passed anything, the model alone is at fault. */
static onyx_status *as_model_error(onyx_status *s) {
  if (onyx_status_code(s) != ONYX_ERR_INVALID_ARGUMENT) return s;
  onyx_status *m = onyx_error(ONYX_ERR_INVALID_MODEL, "%s", onyx_status_message(s));
  onyx_status_free(s);
  return m;
}

onyx_status *onyx_model_check(onyx_model *m) {
  onyx_graph *g = m->graph;
  onyx_status *s = check_ir_version(m);
  if (!s) s = onyx_graph_toposort(g);
  if (!s) s = onyx_graph_validate(g);
  if (!s) s = check_graph_schemas(g);
  if (!s) s = onyx_graph_infer(g);
  if (!s) s = check_graph_types(g);
  return as_model_error(s);
}
