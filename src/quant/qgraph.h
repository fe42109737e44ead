/* qgraph.h — graph-editing helpers shared by the quantization rewrites
 * (rewrite_static.c, rewrite_dynamic.c): unique names, new values,
 * initializers and nodes, attribute copies, consumer queries, and the
 * per-node record of what was done and why.
 *
 * The rewrites never rename values (names are interned in the graph's map):
 * they rewire value indices, append new nodes, mark replaced nodes for
 * removal, and sort once at the end. */
#ifndef ONYX_QUANT_QGRAPH_H
#define ONYX_QUANT_QGRAPH_H

#include "quant.h"

/* Per-value state of a rewrite. */
typedef struct qvalue {
  bool marked;            /* QDQ: gets a QuantizeLinear/DequantizeLinear pair */
  int share;              /* QDQ: value whose scale/zero point it reuses, or -1 */
  bool has_params;        /* p, scale_v, zp_v are set */
  onyx_qparams p;
  int scale_v, zp_v;      /* activation scale / zero-point initializers */
  int qv;                 /* QOperator: the quantized tensor, or -1 */
  bool lost;              /* QOperator: the float producer was replaced; a
                           * DequantizeLinear must remake it for float users */
  int wscale_v;           /* weights: their scale initializer, or -1 */
  int wdq, waxis;         /* QDQ: dequantized weight value and its axis, or -1 */
  int dql[3];             /* dynamic: DynamicQuantizeLinear outputs, or -1 */
} qvalue;

typedef struct qctx {
  onyx_model *m;
  onyx_graph *g;
  const onyx_quant_config *cfg;
  const onyx_calib_table *table;
  int n_orig;             /* nodes of the float model; later ones are new */
  bool *remove;           /* n_orig entries */
  bool *done;             /* n_orig: a note was recorded */
  bool *quantized;        /* n_orig */
  char **why;             /* n_orig owned strings */
  int n_vs, cap_vs;
  qvalue *vs;             /* per value (grown as values are added) */
} qctx;

onyx_status *qctx_init(qctx *c, onyx_model *m, const onyx_quant_config *cfg,
                       const onyx_calib_table *table);
void qctx_deinit(qctx *c);
/* Records the outcome of original node i (the first record wins). */
onyx_status *qctx_note(qctx *c, int i, bool quantized, const char *fmt, ...) ONYX_PRINTF(4, 5);
/* The qvalue of value v (grown on demand; NULL only on out-of-memory). */
qvalue *qctx_value(qctx *c, int v);

/* A new value named base+suffix (made unique with _1, _2, ...). */
onyx_status *qg_new_value(qctx *c, const char *base, const char *suffix, int *out);
/* A new initializer named base+suffix holding t (ownership transfers, also
 * on failure). */
onyx_status *qg_new_init(qctx *c, const char *base, const char *suffix, onyx_tensor *t, int *out);
/* The three tensors of a quantized weight as initializers base+"_quantized",
 * "_scale", "_zero_point" (ownership of qw's tensors transfers, also on
 * failure; base NULL — a failed copy — frees them and reports out of
 * memory). */
onyx_status *qg_weight_inits(qctx *c, const char *base, onyx_qweight *qw, int *q_v, int *scale_v, int *zp_v);
/* A scalar initializer of dtype (FLOAT, UINT8, INT8, INT32) with value v. */
onyx_status *qg_scalar(qctx *c, const char *base, const char *suffix, onyx_dtype dt, double v, int *out);
/* Appends a node named base+suffix; -1 entries of in are omitted inputs. */
onyx_status *qg_node(qctx *c, const char *base, const char *suffix, const char *op, int n_in,
                     const int *in, int n_out, const int *out, int *node);
onyx_status *qg_attr_int(qctx *c, int node, const char *name, int64_t v);
/* Copies every attribute of node `from` onto node `to`, except `skip`
 * (NULL-terminated names, may be NULL). */
onyx_status *qg_copy_attrs(qctx *c, int from, int to, const char *const *skip);

/* Number of node inputs (implicit subgraph uses included) reading v. */
int qg_uses(const onyx_graph *g, int v);
/* True when v is one of the graph's outputs / fed inputs. */
bool qg_is_output(const onyx_graph *g, int v);
/* The float constant behind v (initializer), or NULL. */
const onyx_tensor *qg_const(const onyx_graph *g, int v);
/* Frees initializers no node or output uses any more. */
void qg_drop_unused(onyx_graph *g);

/* Scale and zero-point initializers for activation v: its own (from the
 * calibration table) or, with share >= 0, those of value `share`. False
 * (nothing created) when the table has no range for v. */
onyx_status *qg_act_params(qctx *c, int v, int share, bool *ok);

/* Node filters: op types, include and exclude lists. NULL when allowed,
 * else why not (static string). */
const char *qg_filtered(const qctx *c, const onyx_node *n, const char *const *default_ops);

/* The rewrites proper (rewrite_gather.c, then rewrite_static.c or
 * rewrite_dynamic.c): they edit the graph and record notes;
 * onyx_quant_rewrite removes the replaced nodes, sorts and checks the
 * result. */
onyx_status *onyx_quant_rewrite_gather(qctx *c);
onyx_status *onyx_quant_rewrite_static(qctx *c);
onyx_status *onyx_quant_rewrite_dynamic(qctx *c);

#endif
