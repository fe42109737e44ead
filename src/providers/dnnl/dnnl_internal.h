/* dnnl_internal.h — what the files of the dnnl provider share: the provider
 * context, the per-op parameter readers that both `supports` (load time) and
 * the partition compiler use, so that a node accepted at partitioning time
 * compiles with the same reading of its attributes, and the compiler entry.
 *
 * The provider is compile-style: each connected group of supported nodes is
 * lowered to a list of oneDNN primitives (dnnl_compile.c, builders per op in
 * dnnl_ops.c). Only nodes whose tensor shapes are all static at load time are
 * accepted, so every primitive is created once at compile, not per run. */
#ifndef ONYX_DNNL_INTERNAL_H
#define ONYX_DNNL_INTERNAL_H

#include <dnnl.h>
#include <pthread.h>

#include "providers/provider.h"

/* conv_algorithm option: which oneDNN algorithm float32 3x3 convolutions try first. */
typedef enum dn_conv_algo { DN_CONV_AUTO, DN_CONV_DIRECT, DN_CONV_WINOGRAD } dn_conv_algo;

/* What one run needs to execute programs (run_begin/run_end): a oneDNN
 * stream, a growing arena for intermediates and scratchpads, and room for
 * the memory objects of a primitive's arguments. Kept in a pool across
 * runs, so steady-state runs allocate nothing. */
typedef struct dn_run_state {
  dnnl_stream_t stream;
  char *arena;
  size_t arena_cap;
  int cap_args;
  dnnl_memory_t *mems;
  dnnl_exec_arg_t *args;
  struct dn_run_state *next;   /* in the pool */
} dn_run_state;

/* The provider's context: one engine for the process-wide CPU, the
 * precision and convolution algorithm chosen by options, and the pool of
 * run states. */
typedef struct dn_provider {
  dnnl_engine_t engine;
  bool bf16;   /* precision=bf16: Conv/ConvTranspose/MatMul/Gemm read bf16 */
  dn_conv_algo conv_algo;
  pthread_mutex_t pool_lock;
  dn_run_state *pool;
} dn_provider;

/* An activation as oneDNN eltwise steps applied in order: Relu is one step,
 * HardSigmoid two (linear, then clip to [0, 1]). */
typedef struct dn_eltwise {
  int n;
  struct { dnnl_alg_kind_t alg; float alpha, beta; } f[2];
} dn_eltwise;

/* Convolution parameters in oneDNN's terms (dilation 0 = dense). */
typedef struct dn_conv {
  int nsp;
  int64_t group;
  dnnl_dims_t strides, dilates, pad_l, pad_r;
} dn_conv;

/* Pooling parameters (window over the spatial dims). */
typedef struct dn_pool {
  dnnl_alg_kind_t alg;
  dnnl_dims_t kernel, strides, dilates, pad_l, pad_r;
} dn_pool;

/* Reduce parameters: which axes (mask) and the oneDNN algorithm; `log` adds
 * a log after the reduction (ReduceLogSum). */
typedef struct dn_reduce {
  dnnl_alg_kind_t alg;
  float p;
  bool log;
  bool axis[ONYX_MAX_RANK];
} dn_reduce;

/* An int8 op (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger) as
 * oneDNN sees it: input positions of its operands in the node (-1: not an
 * input of this op), and the constant parameters read from the graph. The
 * weights are constant and enter oneDNN as s8 with their zero points
 * subtracted (w - w_zero, which must fit s8, and |w - w_zero| <= 64 where
 * the CPU has no VNNI); the activation's zero point is one value. */
typedef struct dn_qlin {
  bool conv, requant;      /* requant: QLinear* (u8/s8 out), else s32 out */
  int x, xs, xz, w, ws, wz, ys, yz, bias;
  int64_t n_out;           /* output channels (conv) or columns (matmul) */
  int32_t x_zero, y_zero;
  dnnl_data_type_t x_dt, y_dt;
} dn_qlin;

/* Each reader returns NULL and fills its out-parameter when the node maps
 * onto oneDNN, else a NOT_IMPLEMENTED status naming what does not (op,
 * dtype, attribute, shape). They assume static input/output shapes. */
onyx_status *dn_eltwise_of(const onyx_graph *g, const onyx_node *n, dn_eltwise *out);
onyx_status *dn_conv_of(const onyx_graph *g, const onyx_node *n, dn_conv *out);
onyx_status *dn_pool_of(const onyx_graph *g, const onyx_node *n, dn_pool *out);
onyx_status *dn_reduce_of(const onyx_graph *g, const onyx_node *n, dn_reduce *out);
onyx_status *dn_qlin_of(const onyx_graph *g, const onyx_node *n, dn_qlin *out);
/* QuantizeLinear / DequantizeLinear per tensor: its scale and zero point. */
onyx_status *dn_quant_of(const onyx_graph *g, const onyx_node *n, float *scale, int32_t *zero);
/* The oneDNN data type of an onyx tensor dtype dnnl programs carry (f32,
 * u8, s8, s32), else dnnl_data_type_undef. */
dnnl_data_type_t dn_dt(onyx_dtype dt);
/* Whether oneDNN's int8 kernels on this CPU accumulate u8 x s8 products
 * exactly in 32 bits (VNNI, AMX); without VNNI pairs of products are summed
 * in saturating 16 bits (vpmaddubsw). */
bool dn_int8_exact(void);
/* The `activation` (+ activation_params) attribute of an ai.onyx fused op
 * (FusedConv, FusedGemm, FusedMatMul) as eltwise steps; none: out->n = 0. */
onyx_status *dn_fused_act_of(const onyx_node *n, dn_eltwise *out);
/* True when op_type is an activation dnnl maps to eltwise steps. */
bool dn_is_eltwise_op(const char *op_type);
/* binary ops: the algorithm of Add/Sub/Mul/Div/Max/Min, else -1 */
int dn_binary_alg(const onyx_node *n);

/* NULL when node n can run on dnnl (see dnnl_provider.c for the list). */
onyx_status *dn_node_supported(const onyx_graph *g, const onyx_node *n);

/* Lowers a partition to primitives (see dnnl_compile.c). */
onyx_status *dn_compile(onyx_provider *p, const onyx_graph *g, const onyx_partition *part,
                        onyx_fused *out);
/* The provider's run lifecycle (dnnl_compile.c): a run state from the pool. */
onyx_status *dn_run_begin(onyx_provider *p, const onyx_run_config *rc, void **state);
void dn_run_end(onyx_provider *p, void *state);
/* Frees the pooled run states (provider teardown). */
void dn_run_pool_free(dn_provider *c);

/* What the program of a compiled partition (the `state` of the onyx_fused
 * dn_compile made) holds for the load-time shapes: primitives, of which
 * reorders, and the bytes of its per-run arena (intermediates and
 * scratchpad). For tests and the debug log. */
typedef struct dn_fused_info {
  int n_prims, n_reorders;
  size_t arena_bytes;
} dn_fused_info;
void dn_fused_describe(const void *state, dn_fused_info *out);

/* A oneDNN status as an onyx status naming node n (may be NULL) and the
 * call that failed; dnnl_unimplemented maps to NOT_IMPLEMENTED. */
onyx_status *dn_error(const onyx_node *n, dnnl_status_t st, const char *what);

/* ---- the program a partition compiles to (dnnl_compile.c) ----------------- */

/* Where a tensor lives during a run. */
enum { DN_B_IN = 1, DN_B_OUT, DN_B_ARENA, DN_B_CONST, DN_B_SCRATCH };

typedef struct dn_buf {
  int kind;
  int idx;            /* IN/OUT: partition input/output index; ARENA: buffer id */
  const void *ptr;    /* CONST */
} dn_buf;

typedef struct dn_builder dn_builder;

/* Builder services for the op builders (dnnl_ops.c). Values are graph value
 * indices; each materialized value has a layout (md) and a buffer. */

/* The layout value v has in the program (NULL when not materialized yet). */
const dnnl_memory_desc_t *dn_val_md(const dn_builder *b, int v);
/* A buffer holding value v in layout md, reordering (once) if needed.
 * Constants are reordered at compile time. */
onyx_status *dn_want(dn_builder *b, const onyx_node *n, int v, const dnnl_memory_desc_t *md,
                     dn_buf *out);
/* (src_md, src) in layout dst_md: src itself when the layouts agree, else a
 * reorder — done now, into a new constant, when src is a constant. */
onyx_status *dn_convert(dn_builder *b, const onyx_node *n, const dnnl_memory_desc_t *src_md, dn_buf src,
                        const dnnl_memory_desc_t *dst_md, dn_buf *out);
/* A plain row-major view of value v with other dims (same element count)
 * and data type dt: the buffer and the md of the view. */
onyx_status *dn_want_view(dn_builder *b, const onyx_node *n, int v, int ndims, const int64_t *dims,
                          dnnl_data_type_t dt, dnnl_memory_desc_t *md, dn_buf *out);
/* A constant made by the compiler (folded weights): takes ownership of
 * `data` (onyx_malloc_aligned) and describes it with md. */
onyx_status *dn_const(dn_builder *b, void *data, dn_buf *out);
/* Declares that value v is produced in layout md; returns the buffer to write
 * (the partition output itself when v leaves the partition in plain layout). */
onyx_status *dn_define(dn_builder *b, int v, const dnnl_memory_desc_t *md, dn_buf *out);
/* Like dn_define, but v takes over the arena buffer that value `from` has in
 * layout md when `from` dies here: not a partition or graph output, every
 * reader already built or among the n_fused nodes fused into this step, and
 * not read by the step's own anchor node. A sum post-op accumulates into
 * dst, which can then start as `from` itself instead of a copy of it.
 * *over says whether it did; when not, nothing is defined and the caller
 * uses dn_define. */
onyx_status *dn_define_over(dn_builder *b, int v, const dnnl_memory_desc_t *md, int from, int anchor,
                            const int *fused, int n_fused, dn_buf *out, bool *over);
/* A temporary arena buffer of md's size. */
onyx_status *dn_temp(dn_builder *b, const dnnl_memory_desc_t *md, dn_buf *out);

typedef struct dn_arg {
  int arg;                    /* DNNL_ARG_* */
  dnnl_memory_desc_t md;
  dn_buf b;
} dn_arg;

/* Creates the primitive of pd and appends it with its arguments (copied);
 * the scratchpad argument is added when pd needs one. */
onyx_status *dn_add_step(dn_builder *b, const onyx_node *n, const_dnnl_primitive_desc_t pd, int n_args,
                         const dn_arg *args);
/* Appends a reorder from (src md, buf) to (dst md, buf). */
onyx_status *dn_add_reorder(dn_builder *b, const onyx_node *n, const dnnl_memory_desc_t *src_md, dn_buf src,
                            const dnnl_memory_desc_t *dst_md, dn_buf dst);
/* A new attribute with user scratchpad and the given post-ops (may be NULL). */
onyx_status *dn_attr(const onyx_node *n, const_dnnl_post_ops_t po, dnnl_primitive_attr_t *out);

/* Context for builders. */
dnnl_engine_t dn_engine(const dn_builder *b);
/* The session's optimization level (onyx_partition.opt_level): 0 one
 * primitive per node, 1 also BatchNormalization folded into Conv weights,
 * 2 also post-ops of MatMul/Gemm/binary ops, 3 also blocked layouts between
 * primitives and post-ops of convolutions. */
int dn_level(const dn_builder *b);
bool dn_bf16(const dn_builder *b);
dn_conv_algo dn_conv_algorithm(const dn_builder *b);
const onyx_graph *dn_graph(const dn_builder *b);
/* True when value v leaves the partition (consumed outside or graph output). */
bool dn_is_part_out(const dn_builder *b, int v);
/* Number of consumers of v in the whole graph (+1 when a graph output). */
int dn_uses(const dn_builder *b, int v);
/* The node consuming v when it has exactly one consumer inside the partition
 * that is not built yet, else -1. */
int dn_sole_consumer(const dn_builder *b, int v);
/* Marks node index ni as built (absorbed into a fused step). */
void dn_mark_done(dn_builder *b, int ni);

/* Builds node index ni (and the nodes it absorbs by fusion); dnnl_ops.c. */
onyx_status *dn_build_node(dn_builder *b, int ni);
/* The weights w of a (de)convolution as oneDNN sees them, [g,] oc/g, ic/g,
 * k...: dims (wd), rank (*wr) and a strided view over ONNX's layout. */
void dn_conv_weights(const onyx_value *w, int64_t G, int64_t ic, int64_t oc, bool transpose, dnnl_data_type_t dt,
                     int64_t *wd, int *wr, dnnl_memory_desc_t *view);
/* Builders of the int8 ops (dnnl_quant.c). */
onyx_status *dn_build_qconv(dn_builder *b, int ni);
onyx_status *dn_build_qmatmul(dn_builder *b, int ni);
onyx_status *dn_build_quant(dn_builder *b, int ni);

/* A plain row-major md (rank 0 becomes [1]). */
void dn_plain_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt);

#endif
