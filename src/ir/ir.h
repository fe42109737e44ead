/* ir.h — onyx's in-memory model: graphs of values and nodes.
 *
 * This is the runtime IR, independent of protobuf (src/onnx converts both
 * ways) and of providers. Values are referenced by index; each name is stored
 * once and looked up through a hash only at load/bind time.
 *
 * Shapes: dims[i] >= 0 is a fixed size, ONYX_DIM_UNKNOWN an unknown one, and
 * any value <= ONYX_DIM_SYM0 a symbolic dim whose name is
 * model->symbols[ONYX_DIM_SYM0 - dims[i]] (e.g. "batch"). rank < 0: unknown.
 *
 * Ownership: a model owns its graph; a graph owns its values, nodes,
 * attributes, initializer tensors and subgraphs. Initializer data may borrow
 * the model's mmapped file (model->map), which lives as long as the model. */
#ifndef ONYX_IR_H
#define ONYX_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/tensor.h"
#include "onyx.h"

#define ONYX_DIM_UNKNOWN (-1)
#define ONYX_DIM_SYM0 (-2)

typedef struct onyx_graph onyx_graph;
typedef struct onyx_model onyx_model;

/* Values are ONNX's AttributeProto.AttributeType. */
typedef enum onyx_attr_type {
  ONYX_ATTR_UNDEFINED = 0,
  ONYX_ATTR_FLOAT = 1, ONYX_ATTR_INT = 2, ONYX_ATTR_STRING = 3, ONYX_ATTR_TENSOR = 4,
  ONYX_ATTR_GRAPH = 5, ONYX_ATTR_FLOATS = 6, ONYX_ATTR_INTS = 7, ONYX_ATTR_STRINGS = 8,
  ONYX_ATTR_TENSORS = 9, ONYX_ATTR_GRAPHS = 10, ONYX_ATTR_SPARSE_TENSOR = 11,
  ONYX_ATTR_SPARSE_TENSORS = 12, ONYX_ATTR_TYPE_PROTO = 13, ONYX_ATTR_TYPE_PROTOS = 14,
} onyx_attr_type;

typedef struct onyx_attr {
  char *name;
  onyx_attr_type type;
  float f;
  int64_t i;             /* INT; TYPE_PROTO: the onyx_kind (tensor, sequence, optional) */
  char *s;               /* STRING: bytes, NUL-terminated; s_len excludes the NUL */
  size_t s_len;
  int n;                 /* element count of FLOATS/INTS/STRINGS/TENSORS/GRAPHS */
  float *floats;
  int64_t *ints;         /* INTS; TYPE_PROTO: n = 1, ints[0] = innermost element dtype */
  char **strings;
  onyx_tensor *t;        /* TENSOR */
  onyx_tensor **tensors; /* TENSORS */
  onyx_graph *g;         /* GRAPH */
  onyx_graph **graphs;   /* GRAPHS */
  char *ref_attr_name;   /* inside functions: refers to a caller attribute */
} onyx_attr;

typedef struct onyx_node {
  char *name;            /* never NULL; "" when the model gives none */
  char *op_type;
  char *domain;          /* "" for the default ONNX domain */
  int op;                /* onyx_op id (src/ops), -1 when not in the op table */
  int opset;             /* the opset version imported for this node's domain */
  int n_in, n_out;
  int *in;               /* value indices; -1 for an omitted optional input */
  int *out;              /* value indices; -1 for an omitted optional output */
  int n_attrs;
  onyx_attr *attrs;
  int n_implicit;        /* values of this graph read by the node's subgraphs */
  int *implicit;         /* (outer-scope uses), filled by onyx_graph_toposort */
} onyx_node;

typedef struct onyx_value {
  char *name;
  onyx_kind kind;        /* tensor, sequence or optional (of tensors) */
  onyx_dtype dtype;      /* UNDEFINED when unknown */
  int rank;              /* -1 unknown */
  int64_t dims[ONYX_MAX_RANK];
  onyx_tensor *init;     /* initializer / folded constant (owned), or NULL */
  int producer;          /* node index, or -1 (graph input, initializer, outer scope) */
  bool is_input;         /* graph input fed at run time */
  bool is_output;
  bool is_outer;         /* subgraph reference to a value of an enclosing graph */
} onyx_value;

typedef struct onyx_strmap onyx_strmap;

struct onyx_graph {
  char *name;
  char *doc_string;      /* GraphProto.doc_string, or NULL */
  onyx_model *model;     /* the model this graph belongs to (symbols live there) */
  onyx_graph *parent;    /* enclosing graph for subgraphs, else NULL */
  int n_values, cap_values;
  onyx_value *values;
  int n_nodes, cap_nodes;
  onyx_node *nodes;
  int n_inputs, n_outputs;
  int *inputs;           /* values fed at run time, in declaration order */
  int *outputs;
  onyx_strmap *by_name;  /* value name -> index */
};

typedef struct onyx_opset {
  char *domain;          /* "" = ai.onnx */
  int64_t version;
} onyx_opset;

typedef struct onyx_prop {
  char *key, *value;
} onyx_prop;

struct onyx_model {
  int64_t ir_version;
  char *producer_name, *producer_version, *domain, *doc_string;
  int64_t model_version;
  int n_opsets;
  onyx_opset *opsets;
  int n_props;
  onyx_prop *props;      /* metadata_props */
  int n_symbols, cap_symbols;
  char **symbols;        /* symbolic dim names */
  onyx_graph *graph;
  void *map;             /* mmapped file backing borrowed initializers, or NULL */
  size_t map_len;
  char *dir;             /* folder of the model file, for external data; may be NULL */
};

/* ---- model / graph construction ---------------------------------------- */

onyx_status *onyx_model_new(onyx_model **out);
void onyx_model_destroy(onyx_model *m);
/* Opset version imported for `domain` ("" or "ai.onnx" = default), or -1. */
int64_t onyx_model_opset(const onyx_model *m, const char *domain);
onyx_status *onyx_model_set_opset(onyx_model *m, const char *domain, int64_t version);
/* Interns a symbolic dim name; returns its encoded dim value (<= ONYX_DIM_SYM0). */
onyx_status *onyx_model_symbol(onyx_model *m, const char *name, int64_t *dim);
/* Name of an encoded symbolic dim, or NULL if `dim` is not symbolic. */
const char *onyx_model_symbol_name(const onyx_model *m, int64_t dim);

onyx_status *onyx_graph_new(onyx_model *m, onyx_graph *parent, onyx_graph **out);
void onyx_graph_free(onyx_graph *g);

/* Index of the value named `name` in g (not searching parents), or -1. */
int onyx_graph_find(const onyx_graph *g, const char *name);
/* Finds or creates the value `name`; writes its index. */
onyx_status *onyx_graph_value(onyx_graph *g, const char *name, int *out);
/* Appends a node; in/out are value indices (-1 for omitted). Attributes are
 * added afterwards with onyx_node_add_attr. Writes the node index. Note:
 * adding nodes may move g->nodes; hold indices, not pointers. */
onyx_status *onyx_graph_add_node(onyx_graph *g, const char *name, const char *op_type,
                                 const char *domain, int n_in, const int *in, int n_out,
                                 const int *out, int *node_index);
/* Appends a zeroed attribute named `name` to node, returning it for filling. */
onyx_status *onyx_node_add_attr(onyx_node *n, const char *name, onyx_attr **out);
void onyx_attr_clear(onyx_attr *a);
onyx_status *onyx_graph_set_inputs(onyx_graph *g, int n, const int *idx);
onyx_status *onyx_graph_set_outputs(onyx_graph *g, int n, const int *idx);
/* Removes nodes whose index has remove[i] set, compacting the node array and
 * fixing producers. Values are kept (dead ones are harmless). */
void onyx_graph_remove_nodes(onyx_graph *g, const bool *remove);

/* ---- attribute access (NULL / default when absent) --------------------- */

const onyx_attr *onyx_node_attr(const onyx_node *n, const char *name);
int64_t onyx_attr_int(const onyx_node *n, const char *name, int64_t def);
float onyx_attr_float(const onyx_node *n, const char *name, float def);
const char *onyx_attr_string(const onyx_node *n, const char *name, const char *def);
/* INTS attribute: writes count and pointer (borrowed); returns false if absent. */
bool onyx_attr_ints(const onyx_node *n, const char *name, int *count, const int64_t **v);
bool onyx_attr_floats(const onyx_node *n, const char *name, int *count, const float **v);

/* ---- order and validation ---------------------------------------------- */

/* Sorts g->nodes (and subgraphs) topologically, stable for already sorted
 * graphs. Fails naming a node on a cycle. */
onyx_status *onyx_graph_toposort(onyx_graph *g);
/* Checks structure: every node input defined (graph input, initializer,
 * outer-scope value or earlier node output), one producer per value, graph
 * outputs produced. Expects a sorted graph. */
onyx_status *onyx_graph_validate(const onyx_graph *g);

/* "node 'conv1' (Conv)" into buf for messages. Returns buf. */
const char *onyx_node_label(const onyx_node *n, char *buf, size_t len);

/* ---- name map ------------------------------------------------------------ */

onyx_strmap *onyx_strmap_new(void);
void onyx_strmap_free(onyx_strmap *m);
/* Keys are copied. Returns false on out-of-memory. */
bool onyx_strmap_put(onyx_strmap *m, const char *key, int value);
/* Value for key or -1. */
int onyx_strmap_get(const onyx_strmap *m, const char *key);

#endif
