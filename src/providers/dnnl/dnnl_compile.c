/* dnnl_compile.c — lowering a partition to a program of oneDNN primitives,
 * and running it.
 *
 * A program is a list of steps (primitive + arguments). Each argument names
 * a buffer: a partition input, a partition output, a constant (weights
 * reordered once at compile into the layout the primitive chose), the
 * scratchpad, or a slice of a per-run arena. Values inside the partition keep
 * whatever layout their producer chose (blocked formats from `format_tag
 * any` at optimization level 3; below it, plain layouts); a consumer that
 * wants another layout gets one reorder, shared by all consumers wanting
 * the same. Partition inputs arrive and outputs leave
 * in plain row-major layout, so reorders happen only at the edges and where
 * a plain-only primitive (MatMul, Softmax, ...) follows a blocked one.
 *
 * A program is built for one set of partition input shapes and one thread
 * count (oneDNN's OpenMP primitives fix their thread count when created).
 * The shapes of every value inside come from the ops' infer functions run
 * over the partition on those input shapes, into a private copy of the
 * graph's value table, so partitions with symbolic dims (batch, sequence)
 * work: compile builds a program for the default thread count with the
 * load-time shapes (symbolic dims bound to 1), which also proves oneDNN
 * takes the partition (else it falls back); a run with other input shapes
 * or another thread count builds its own once and caches it (in the
 * partition's program cache, under its mutex; past DN_MAX_PROGS programs a
 * run builds a throwaway one). Runs may be concurrent: a program is
 * read-only after its build, each run has its own run state (stream, memory
 * objects, arena and scratchpad: dn_run_state, pooled by the provider), and
 * sets the calling thread's OpenMP thread count (a per-thread setting) to
 * its pool's for the primitives it executes. */
#include <omp.h>
#include <string.h>

#include "base/log.h"
#include "base/parallel.h"
#include "dnnl_internal.h"
#include "ops/ops.h"

#define DN_MAX_PROGS 32
#define DN_ALIGN 64

typedef struct dn_step {
  dnnl_primitive_t prim;
  int n_args;
  dn_arg *args;
} dn_step;

typedef struct dn_prog {
  int nthreads;
  int64_t *sig;           /* dims of the fed partition inputs, in order */
  int n_sig;
  int64_t (*out_dims)[ONYX_MAX_RANK];  /* per partition output */
  int *out_rank;
  int n_steps, cap_steps;
  dn_step *steps;
  int n_bufs;
  size_t *buf_off;        /* per arena buffer */
  size_t arena_bytes;     /* buffers, then the scratchpad */
  size_t scratch_off, scratch_bytes;
  int max_args;
  int n_consts, cap_consts;
  void **consts;          /* owned (onyx_malloc_aligned) */
} dn_prog;

/* Programs built for the shapes and thread counts runs met: the one part
 * of a compiled partition that changes after compile, behind its lock. */
typedef struct dn_cache {
  pthread_mutex_t lock;
  int n_progs;
  dn_prog *progs[DN_MAX_PROGS];
} dn_cache;

typedef struct dn_state {
  dn_provider *prov;
  const onyx_graph *g;
  onyx_partition part;     /* arrays owned */
  dn_cache *cache;         /* owned */
} dn_state;

/* one layout of one value; the first entry of a value is where it was made */
typedef struct dn_entry {
  int v;
  dnnl_memory_desc_t md;
  dn_buf b;
} dn_entry;

typedef struct dn_abuf {
  size_t size;
  int first, last;   /* steps that touch it */
} dn_abuf;

struct dn_builder {
  dn_provider *prov;
  const onyx_graph *g;   /* the state's graph with `vals` as its value table */
  const onyx_partition *part;
  dn_prog *prog;
  dnnl_stream_t stream;
  int *primary;       /* per graph value: entry index, -1 */
  int n_entries, cap_entries;
  dn_entry *entries;
  int *uses;          /* per graph value: consumers in the graph (+1 for graph outputs) */
  int *consumer;      /* per graph value: one consumer node */
  int *out_index;     /* per graph value: partition output index, -1 */
  bool *in_part, *done;   /* per node */
  int n_abufs, cap_abufs;
  dn_abuf *abufs;
};

/* ---- small helpers ---------------------------------------------------------- */

void dn_plain_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt) {
  dnnl_dims_t d, strides;
  if (ndims == 0) {
    ndims = 1;
    d[0] = 1;
  } else {
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
  }
  dnnl_dim_t s = 1;
  for (int i = ndims - 1; i >= 0; i--) {
    strides[i] = s;
    s *= d[i];
  }
  dnnl_memory_desc_init_by_strides(md, ndims, d, dt, strides);
}

dnnl_data_type_t dn_dt(onyx_dtype dt) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: return dnnl_f32;
    case ONYX_DTYPE_UINT8: return dnnl_u8;
    case ONYX_DTYPE_INT8: return dnnl_s8;
    case ONYX_DTYPE_INT32: return dnnl_s32;
    default: return dnnl_data_type_undef;
  }
}

static void value_md(const onyx_graph *g, int v, dnnl_memory_desc_t *md) {
  dn_plain_md(md, g->values[v].rank, g->values[v].dims, dn_dt(g->values[v].dtype));
}

static bool md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
  return dnnl_memory_desc_equal(a, b) != 0;
}

static void *grow(void *p, int *cap, int need, size_t elem) {
  if (need <= *cap) return p;
  int nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *q = onyx_realloc(p, (size_t)nc * elem);
  if (q) *cap = nc;
  return q;
}

onyx_status *dn_attr(const onyx_node *n, const_dnnl_post_ops_t po, dnnl_primitive_attr_t *out) {
  dnnl_primitive_attr_t a;
  dnnl_status_t st = dnnl_primitive_attr_create(&a);
  if (st != dnnl_success) return dn_error(n, st, "attribute creation");
  st = dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
  if (st == dnnl_success && po) st = dnnl_primitive_attr_set_post_ops(a, po);
  if (st != dnnl_success) {
    dnnl_primitive_attr_destroy(a);
    return dn_error(n, st, "post-ops");
  }
  *out = a;
  return NULL;
}

/* ---- builder services ---------------------------------------------------------- */

dnnl_engine_t dn_engine(const dn_builder *b) { return b->prov->engine; }
int dn_level(const dn_builder *b) { return b->part->opt_level; }
bool dn_bf16(const dn_builder *b) { return b->prov->bf16; }
dn_conv_algo dn_conv_algorithm(const dn_builder *b) { return b->prov->conv_algo; }
const onyx_graph *dn_graph(const dn_builder *b) { return b->g; }
bool dn_is_part_out(const dn_builder *b, int v) { return b->out_index[v] >= 0; }
int dn_uses(const dn_builder *b, int v) { return b->uses[v]; }
void dn_mark_done(dn_builder *b, int ni) { b->done[ni] = true; }

int dn_sole_consumer(const dn_builder *b, int v) {
  if (b->uses[v] != 1 || b->out_index[v] >= 0) return -1;
  int c = b->consumer[v];
  return c >= 0 && b->in_part[c] && !b->done[c] ? c : -1;
}

const dnnl_memory_desc_t *dn_val_md(const dn_builder *b, int v) {
  return b->primary[v] >= 0 ? &b->entries[b->primary[v]].md : NULL;
}

static onyx_status *add_entry(dn_builder *b, int v, const dnnl_memory_desc_t *md, dn_buf buf, bool primary) {
  dn_entry *e = grow(b->entries, &b->cap_entries, b->n_entries + 1, sizeof *e);
  if (!e) return onyx_error_oom();
  b->entries = e;
  e[b->n_entries] = (dn_entry){v, *md, buf};
  if (primary) b->primary[v] = b->n_entries;
  b->n_entries++;
  return NULL;
}

onyx_status *dn_temp(dn_builder *b, const dnnl_memory_desc_t *md, dn_buf *out) {
  dn_abuf *a = grow(b->abufs, &b->cap_abufs, b->n_abufs + 1, sizeof *a);
  if (!a) return onyx_error_oom();
  b->abufs = a;
  size_t sz = dnnl_memory_desc_get_size(md);
  a[b->n_abufs] = (dn_abuf){(sz + DN_ALIGN - 1) / DN_ALIGN * DN_ALIGN, -1, -1};
  *out = (dn_buf){DN_B_ARENA, b->n_abufs++, NULL};
  return NULL;
}

onyx_status *dn_const(dn_builder *b, void *data, dn_buf *out) {
  dn_prog *p = b->prog;
  void **c = grow(p->consts, &p->cap_consts, p->n_consts + 1, sizeof *c);
  if (!c) {
    onyx_free_aligned(data);
    return onyx_error_oom();
  }
  p->consts = c;
  c[p->n_consts++] = data;
  *out = (dn_buf){DN_B_CONST, 0, data};
  return NULL;
}

onyx_status *dn_define(dn_builder *b, int v, const dnnl_memory_desc_t *md, dn_buf *out) {
  dnnl_memory_desc_t plain;
  value_md(b->g, v, &plain);
  dn_buf buf;
  if (b->out_index[v] >= 0 && md_eq(md, &plain)) buf = (dn_buf){DN_B_OUT, b->out_index[v], NULL};
  else ONYX_TRY(dn_temp(b, md, &buf));
  ONYX_TRY(add_entry(b, v, md, buf, true));
  *out = buf;
  return NULL;
}

/* whether every reader of value v is built already or among fused[] */
static bool dies_here(const dn_builder *b, int v, int anchor, const int *fused, int n_fused) {
  const onyx_graph *g = b->g;
  if (g->values[v].is_output || b->out_index[v] >= 0) return false;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    bool reads = false;
    for (int k = 0; k < n->n_in + n->n_implicit; k++)
      reads |= (k < n->n_in ? n->in[k] : n->implicit[k - n->n_in]) == v;
    if (!reads || (b->in_part[i] && b->done[i])) continue;
    if (i == anchor) return false;
    bool is_fused = false;
    for (int f = 0; f < n_fused; f++) is_fused |= fused[f] == i;
    if (!is_fused) return false;
  }
  return true;
}

onyx_status *dn_define_over(dn_builder *b, int v, const dnnl_memory_desc_t *md, int from, int anchor,
                            const int *fused, int n_fused, dn_buf *out, bool *over) {
  *over = false;
  dnnl_memory_desc_t plain;
  value_md(b->g, v, &plain);
  /* a plain partition output is written in place already (dn_define) */
  if ((b->out_index[v] >= 0 && md_eq(md, &plain)) || !dies_here(b, from, anchor, fused, n_fused))
    return NULL;
  for (int i = 0; i < b->n_entries; i++) {
    const dn_entry *e = &b->entries[i];
    if (e->v != from || e->b.kind != DN_B_ARENA || !md_eq(&e->md, md)) continue;
    dn_buf buf = e->b;
    ONYX_TRY(add_entry(b, v, md, buf, true));
    *out = buf;
    *over = true;
    return NULL;
  }
  return NULL;
}

onyx_status *dn_add_step(dn_builder *b, const onyx_node *n, const_dnnl_primitive_desc_t pd, int n_args,
                         const dn_arg *args) {
  dn_prog *p = b->prog;
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  size_t scratch = smd ? dnnl_memory_desc_get_size(smd) : 0;
  dn_step *steps = grow(p->steps, &p->cap_steps, p->n_steps + 1, sizeof *steps);
  if (!steps) return onyx_error_oom();
  p->steps = steps;
  dn_step *s = &steps[p->n_steps];
  s->n_args = n_args + (scratch > 0);
  s->args = onyx_calloc((size_t)s->n_args, sizeof *s->args);
  if (!s->args) return onyx_error_oom();
  memcpy(s->args, args, (size_t)n_args * sizeof *args);
  if (scratch) {
    s->args[n_args] = (dn_arg){DNNL_ARG_SCRATCHPAD, *smd, {DN_B_SCRATCH, 0, NULL}};
    if (scratch > p->scratch_bytes) p->scratch_bytes = scratch;
  }
  dnnl_status_t st = dnnl_primitive_create(&s->prim, pd);
  if (st != dnnl_success) {
    onyx_free(s->args);
    return dn_error(n, st, "primitive creation");
  }
  for (int i = 0; i < s->n_args; i++) {
    if (s->args[i].b.kind != DN_B_ARENA) continue;
    dn_abuf *a = &b->abufs[s->args[i].b.idx];
    if (a->first < 0) a->first = p->n_steps;
    a->last = p->n_steps;
  }
  if (s->n_args > p->max_args) p->max_args = s->n_args;
  p->n_steps++;
  return NULL;
}

static onyx_status *reorder_pd(const onyx_node *n, dnnl_engine_t e, const dnnl_memory_desc_t *src,
                               const dnnl_memory_desc_t *dst, dnnl_primitive_desc_t *pd) {
  dnnl_primitive_attr_t attr;
  ONYX_TRY(dn_attr(n, NULL, &attr));
  dnnl_status_t st = dnnl_reorder_primitive_desc_create(pd, src, e, dst, e, attr);
  dnnl_primitive_attr_destroy(attr);
  return st == dnnl_success ? NULL : dn_error(n, st, "reorder");
}

onyx_status *dn_add_reorder(dn_builder *b, const onyx_node *n, const dnnl_memory_desc_t *src_md, dn_buf src,
                            const dnnl_memory_desc_t *dst_md, dn_buf dst) {
  dnnl_primitive_desc_t pd;
  ONYX_TRY(reorder_pd(n, dn_engine(b), src_md, dst_md, &pd));
  dn_arg args[2] = {{DNNL_ARG_SRC, *src_md, src}, {DNNL_ARG_DST, *dst_md, dst}};
  onyx_status *s = dn_add_step(b, n, pd, 2, args);
  dnnl_primitive_desc_destroy(pd);
  return s;
}

/* Reorders constant data now, into a new constant in layout dst_md. */
static onyx_status *reorder_const(dn_builder *b, const onyx_node *n, const dnnl_memory_desc_t *src_md,
                                  const void *src, const dnnl_memory_desc_t *dst_md, dn_buf *out) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t ms = NULL, md = NULL, mscr = NULL;
  onyx_status *s = NULL;
  void *dst = onyx_malloc_aligned(dnnl_memory_desc_get_size(dst_md) + 1), *scratch = NULL;
  if (!dst) return onyx_error_oom();
  if ((s = reorder_pd(n, dn_engine(b), src_md, dst_md, &pd))) goto done;
  /* int8 weights with compensation (s8 activations, src zero points) are
   * reduced through a scratchpad */
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  size_t scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
  if (scratch_bytes && !(scratch = onyx_malloc_aligned(scratch_bytes))) {
    s = onyx_error_oom();
    goto done;
  }
  dnnl_status_t st = dnnl_primitive_create(&prim, pd);
  if (st == dnnl_success) st = dnnl_memory_create(&ms, src_md, dn_engine(b), (void *)src);
  if (st == dnnl_success) st = dnnl_memory_create(&md, dst_md, dn_engine(b), dst);
  if (st == dnnl_success && scratch) st = dnnl_memory_create(&mscr, smd, dn_engine(b), scratch);
  if (st == dnnl_success) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DST, md}, {DNNL_ARG_SCRATCHPAD, mscr}};
    st = dnnl_primitive_execute(prim, b->stream, scratch ? 3 : 2, args);
  }
  if (st == dnnl_success) st = dnnl_stream_wait(b->stream);
  if (st != dnnl_success) s = dn_error(n, st, "weight reorder");
done:
  if (mscr) dnnl_memory_destroy(mscr);
  onyx_free_aligned(scratch);
  if (md) dnnl_memory_destroy(md);
  if (ms) dnnl_memory_destroy(ms);
  if (prim) dnnl_primitive_destroy(prim);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (s) onyx_free_aligned(dst);
  else s = dn_const(b, dst, out);
  return s;
}

onyx_status *dn_convert(dn_builder *b, const onyx_node *n, const dnnl_memory_desc_t *src_md, dn_buf src,
                        const dnnl_memory_desc_t *dst_md, dn_buf *out) {
  if (md_eq(src_md, dst_md)) {
    *out = src;
    return NULL;
  }
  if (src.kind == DN_B_CONST) return reorder_const(b, n, src_md, src.ptr, dst_md, out);
  ONYX_TRY(dn_temp(b, dst_md, out));
  return dn_add_reorder(b, n, src_md, src, dst_md, *out);
}

onyx_status *dn_want(dn_builder *b, const onyx_node *n, int v, const dnnl_memory_desc_t *md, dn_buf *out) {
  if (b->primary[v] < 0)
    return onyx_node_error(n, ONYX_ERR_RUNTIME, "value '%s' is not available to dnnl", b->g->values[v].name);
  for (int i = 0; i < b->n_entries; i++)
    if (b->entries[i].v == v && md_eq(&b->entries[i].md, md)) {
      *out = b->entries[i].b;
      return NULL;
    }
  dn_entry src = b->entries[b->primary[v]];
  dn_buf buf;
  ONYX_TRY(dn_convert(b, n, &src.md, src.b, md, &buf));
  ONYX_TRY(add_entry(b, v, md, buf, false));
  *out = buf;
  return NULL;
}

onyx_status *dn_want_view(dn_builder *b, const onyx_node *n, int v, int ndims, const int64_t *dims,
                          dnnl_data_type_t dt, dnnl_memory_desc_t *md, dn_buf *out) {
  dnnl_memory_desc_t plain;
  const onyx_value *val = &b->g->values[v];
  dn_plain_md(&plain, val->rank, val->dims, dt);
  ONYX_TRY(dn_want(b, n, v, &plain, out));
  dn_plain_md(md, ndims, dims, dt);
  return NULL;
}

/* ---- programs ------------------------------------------------------------------ */

static void prog_free(dn_prog *p) {
  if (!p) return;
  for (int i = 0; i < p->n_steps; i++) {
    dnnl_primitive_destroy(p->steps[i].prim);
    onyx_free(p->steps[i].args);
  }
  onyx_free(p->steps);
  for (int i = 0; i < p->n_consts; i++) onyx_free_aligned(p->consts[i]);
  onyx_free(p->consts);
  onyx_free(p->buf_off);
  onyx_free(p->sig);
  onyx_free(p->out_dims);
  onyx_free(p->out_rank);
  onyx_free(p);
}

static void builder_free(dn_builder *b) {
  if (b->stream) dnnl_stream_destroy(b->stream);
  onyx_free(b->primary);
  onyx_free(b->entries);
  onyx_free(b->uses);
  onyx_free(b->consumer);
  onyx_free(b->out_index);
  onyx_free(b->in_part);
  onyx_free(b->done);
  onyx_free(b->abufs);
}

static onyx_status *builder_init(dn_builder *b, const dn_state *st, const onyx_graph *g, dn_prog *prog) {
  const onyx_partition *part = &st->part;
  size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
  memset(b, 0, sizeof *b);
  b->prov = st->prov;
  b->g = g;
  b->part = part;
  b->prog = prog;
  b->primary = onyx_malloc(nv * sizeof *b->primary);
  b->uses = onyx_calloc(nv, sizeof *b->uses);
  b->consumer = onyx_malloc(nv * sizeof *b->consumer);
  b->out_index = onyx_malloc(nv * sizeof *b->out_index);
  b->in_part = onyx_calloc(nn, sizeof *b->in_part);
  b->done = onyx_calloc(nn, sizeof *b->done);
  if (!b->primary || !b->uses || !b->consumer || !b->out_index || !b->in_part || !b->done) return onyx_error_oom();
  for (int v = 0; v < g->n_values; v++) {
    b->primary[v] = b->consumer[v] = b->out_index[v] = -1;
    if (g->values[v].is_output) b->uses[v]++;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in + n->n_implicit; k++) {
      int v = k < n->n_in ? n->in[k] : n->implicit[k - n->n_in];
      if (v < 0) continue;
      b->uses[v]++;
      b->consumer[v] = i;
    }
  }
  for (int i = 0; i < part->n_nodes; i++) b->in_part[part->nodes[i]] = true;
  for (int k = 0; k < part->n_out; k++) b->out_index[part->out[k]] = k;
  dnnl_status_t s = dnnl_stream_create(&b->stream, b->prov->engine, dnnl_stream_default_flags);
  if (s != dnnl_success) {
    b->stream = NULL;
    return dn_error(NULL, s, "stream creation");
  }
  /* partition inputs: float32 and int8 tensors (u8, s8, s32) in plain
   * layout (others, such as axes, are read by the builders from the graph's
   * constants) */
  for (int k = 0; k < part->n_in; k++) {
    int v = part->in[k];
    const onyx_value *val = &g->values[v];
    if (val->kind != ONYX_KIND_TENSOR || dn_dt(val->dtype) == dnnl_data_type_undef || val->rank < 0) continue;
    dnnl_memory_desc_t md;
    value_md(g, v, &md);
    dn_buf buf = val->init ? (dn_buf){DN_B_CONST, 0, val->init->data} : (dn_buf){DN_B_IN, k, NULL};
    ONYX_TRY(add_entry(b, v, &md, buf, true));
  }
  return NULL;
}

/* Places arena buffers: largest first, each at the lowest offset that does
 * not overlap a placed buffer whose step range meets its own. */
static onyx_status *place_buffers(dn_builder *b) {
  dn_prog *p = b->prog;
  int nb = b->n_abufs;
  p->n_bufs = nb;
  p->buf_off = onyx_calloc((size_t)nb + 1, sizeof *p->buf_off);
  int *order = onyx_calloc((size_t)nb + 1, sizeof *order);
  bool *placed = onyx_calloc((size_t)nb + 1, sizeof *placed);
  onyx_status *s = NULL;
  if (!p->buf_off || !order || !placed) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < nb; i++) order[i] = i;
  for (int i = 1; i < nb; i++)  /* insertion sort by size, descending */
    for (int j = i; j > 0 && b->abufs[order[j]].size > b->abufs[order[j - 1]].size; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  size_t top = 0;
  for (int oi = 0; oi < nb; oi++) {
    const dn_abuf *a = &b->abufs[order[oi]];
    size_t off = 0;
    for (bool moved = true; moved;) {
      moved = false;
      for (int j = 0; j < nb; j++) {
        if (!placed[j]) continue;
        const dn_abuf *o = &b->abufs[j];
        bool live = a->first <= o->last && o->first <= a->last;
        if (live && off < p->buf_off[j] + o->size && p->buf_off[j] < off + a->size) {
          off = p->buf_off[j] + o->size;
          moved = true;
        }
      }
    }
    p->buf_off[order[oi]] = off;
    placed[order[oi]] = true;
    if (off + a->size > top) top = off + a->size;
  }
  p->scratch_off = top;
  p->arena_bytes = top + p->scratch_bytes;
done:
  onyx_free(order);
  onyx_free(placed);
  return s;
}

static bool is_fed(const onyx_value *v) {
  return !v->init && v->kind == ONYX_KIND_TENSOR && dn_dt(v->dtype) != dnnl_data_type_undef;
}

/* Fills vals (a copy of the graph's value table) with the shapes of the
 * partition's values for partition inputs `in` (NULL: the load-time shapes,
 * symbolic and unknown dims bound to 1), running each node's infer function. */
static onyx_status *infer_shapes(const dn_state *st, onyx_tensor *const *in, onyx_value *vals) {
  const onyx_graph *g = st->g;
  for (int k = 0; k < st->part.n_in; k++) {
    onyx_value *val = &vals[st->part.in[k]];
    if (!is_fed(val)) continue;
    if (in) {
      val->rank = in[k]->rank;
      memcpy(val->dims, in[k]->dims, sizeof val->dims);
    } else {
      for (int d = 0; d < val->rank; d++)
        if (val->dims[d] < 0) val->dims[d] = 1;
    }
  }
  onyx_status *s = NULL;
  for (int i = 0; i < st->part.n_nodes && !s; i++) {
    const onyx_node *n = &g->nodes[st->part.nodes[i]];
    onyx_vinfo *vin = onyx_calloc((size_t)n->n_in + 1, sizeof *vin), *vout = onyx_calloc((size_t)n->n_out + 1, sizeof *vout);
    if (!vin || !vout) s = onyx_error_oom();
    for (int k = 0; !s && k < n->n_in; k++) {
      vin[k].rank = -1;
      if (n->in[k] < 0) continue;
      const onyx_value *v = &vals[n->in[k]];
      vin[k].kind = v->kind;
      vin[k].dtype = v->dtype;
      vin[k].rank = v->rank;
      memcpy(vin[k].dims, v->dims, sizeof v->dims);
      vin[k].value = v->init;
    }
    for (int k = 0; !s && k < n->n_out; k++) vout[k].rank = -1;
    onyx_infer_ctx ic = {n, g->model, vin, vout};
    if (!s) s = onyx_op_schemas[n->op].infer(&ic);
    for (int k = 0; !s && k < n->n_out; k++) {
      if (n->out[k] < 0) continue;
      onyx_value *v = &vals[n->out[k]];
      if (!onyx_vinfo_static(&vout[k])) {
        s = onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "dnnl: the shape of '%s' does not follow from the inputs", v->name);
        break;
      }
      v->rank = vout[k].rank;
      memcpy(v->dims, vout[k].dims, sizeof v->dims);
    }
    onyx_free(vin);
    onyx_free(vout);
  }
  return s;
}

/* Whether every output of the partition is empty (a batch of 0 flowing
 * through): then the program is just the output shapes, with no primitive,
 * since oneDNN 2.x cannot create some primitives for zero-size dims (its
 * matmul divides by them). Partitions where an empty value meets non-empty
 * ones (Concat, a reduction) are built as usual; oneDNN handles those. */
static bool all_outputs_empty(const dn_state *st, const onyx_value *vals) {
  for (int k = 0; k < st->part.n_out; k++) {
    const onyx_value *v = &vals[st->part.out[k]];
    if (v->rank <= 0 || onyx_numel(v->rank, v->dims) != 0) return false;
  }
  return st->part.n_out > 0;
}

/* Builds the program for partition inputs `in` (NULL: load-time shapes).
 * *shape_err (may be NULL) tells a failure of shape inference apart. */
static onyx_status *build_prog(const dn_state *st, int nthreads, onyx_tensor *const *in, dn_prog **out,
                               bool *shape_err) {
  const onyx_graph *g0 = st->g;
  dn_prog *p = onyx_calloc(1, sizeof *p);
  onyx_value *vals = onyx_malloc((size_t)g0->n_values * sizeof *vals + 1);
  if (!p || !vals) {
    onyx_free(p);
    onyx_free(vals);
    return onyx_error_oom();
  }
  memcpy(vals, g0->values, (size_t)g0->n_values * sizeof *vals);
  onyx_graph sg = *g0;
  sg.values = vals;
  const onyx_graph *g = &sg;
  p->nthreads = nthreads;
  int prev = omp_get_max_threads();
  omp_set_num_threads(nthreads);
  dn_builder b;
  memset(&b, 0, sizeof b);
  onyx_status *s = infer_shapes(st, in, vals);
  if (shape_err) *shape_err = s != NULL;
  bool empty = !s && all_outputs_empty(st, vals);
  if (!s && !empty) s = builder_init(&b, st, g, p);
  for (int i = 0; i < st->part.n_nodes && !s && !empty; i++) {
    int ni = st->part.nodes[i];
    if (b.done[ni]) continue;
    s = dn_build_node(&b, ni);
    b.done[ni] = true;
  }
  for (int k = 0; k < st->part.n_out && !s && !empty; k++) {
    int v = st->part.out[k];
    if (b.primary[v] < 0) {
      s = onyx_error(ONYX_ERR_RUNTIME, "dnnl: partition output '%s' was not built", g->values[v].name);
      break;
    }
    const dn_entry *e = &b.entries[b.primary[v]];
    if (e->b.kind == DN_B_OUT && e->b.idx == k) continue;
    dnnl_memory_desc_t plain;
    value_md(g, v, &plain);
    dn_entry src = *e;
    s = dn_add_reorder(&b, NULL, &src.md, src.b, &plain, (dn_buf){DN_B_OUT, k, NULL});
  }
  if (!s && !empty) s = place_buffers(&b);
  /* the signature (input dims) and the output shapes */
  int n_sig = 0;
  for (int k = 0; k < st->part.n_in; k++)
    if (is_fed(&vals[st->part.in[k]])) n_sig += 1 + vals[st->part.in[k]].rank;
  if (!s) {
    p->sig = onyx_malloc((size_t)n_sig * sizeof *p->sig + 1);
    p->out_dims = onyx_calloc((size_t)st->part.n_out + 1, sizeof *p->out_dims);
    p->out_rank = onyx_calloc((size_t)st->part.n_out + 1, sizeof *p->out_rank);
    if (!p->sig || !p->out_dims || !p->out_rank) s = onyx_error_oom();
  }
  for (int k = 0; !s && k < st->part.n_in; k++) {
    const onyx_value *v = &vals[st->part.in[k]];
    if (!is_fed(v)) continue;
    p->sig[p->n_sig++] = v->rank;
    for (int d = 0; d < v->rank; d++) p->sig[p->n_sig++] = v->dims[d];
  }
  for (int k = 0; !s && k < st->part.n_out; k++) {
    const onyx_value *v = &vals[st->part.out[k]];
    p->out_rank[k] = v->rank;
    memcpy(p->out_dims[k], v->dims, sizeof v->dims);
  }
  builder_free(&b);
  omp_set_num_threads(prev);
  onyx_free(vals);
  if (s) {
    prog_free(p);
    return s;
  }
  *out = p;
  return NULL;
}

/* ---- running ---------------------------------------------------------------------- */

static void state_free(void *state) {
  dn_state *st = state;
  if (!st) return;
  if (st->cache) {
    for (int i = 0; i < st->cache->n_progs; i++) prog_free(st->cache->progs[i]);
    pthread_mutex_destroy(&st->cache->lock);
    onyx_free(st->cache);
  }
  onyx_free((void *)st->part.nodes);
  onyx_free((void *)st->part.in);
  onyx_free((void *)st->part.out);
  onyx_free(st);
}

static bool sig_matches(const dn_state *st, const dn_prog *p, onyx_tensor *const *in) {
  int j = 0;
  for (int k = 0; k < st->part.n_in; k++) {
    if (!is_fed(&st->g->values[st->part.in[k]])) continue;
    if (!in[k] || j >= p->n_sig || p->sig[j] != in[k]->rank ||
        j + 1 + in[k]->rank > p->n_sig || memcmp(p->sig + j + 1, in[k]->dims, (size_t)in[k]->rank * sizeof *p->sig))
      return false;
    j += 1 + in[k]->rank;
  }
  return j == p->n_sig;
}

/* The program for these inputs and thread count, built on first use. When
 * the cache is full, *temp is set: the caller frees the program after use. */
static onyx_status *prog_for(const dn_state *st, int nthreads, onyx_tensor *const *in, dn_prog **out, bool *temp) {
  onyx_status *s = NULL;
  dn_cache *c = st->cache;
  *temp = false;
  pthread_mutex_lock(&c->lock);
  dn_prog *p = NULL;
  for (int i = 0; i < c->n_progs && !p; i++)
    if (c->progs[i]->nthreads == nthreads && sig_matches(st, c->progs[i], in)) p = c->progs[i];
  if (!p && !(s = build_prog(st, nthreads, in, &p, NULL))) {
    if (c->n_progs < DN_MAX_PROGS) c->progs[c->n_progs++] = p;
    else *temp = true;
  }
  pthread_mutex_unlock(&c->lock);
  *out = p;
  return s;
}

static void *buf_ptr(const dn_prog *p, const dn_buf *b, onyx_tensor *const *in, onyx_tensor **out, char *arena) {
  switch (b->kind) {
    case DN_B_IN: return in[b->idx]->data;
    case DN_B_OUT: return out[b->idx]->data;
    case DN_B_ARENA: return arena + p->buf_off[b->idx];
    case DN_B_SCRATCH: return arena + p->scratch_off;
    default: return (void *)b->ptr;
  }
}

/* ---- run states ---------------------------------------------------------------------- */

onyx_status *dn_run_begin(onyx_provider *p, const onyx_run_config *rc, void **state) {
  (void)rc;
  dn_provider *c = p->ctx;
  pthread_mutex_lock(&c->pool_lock);
  dn_run_state *r = c->pool;
  if (r) c->pool = r->next;
  pthread_mutex_unlock(&c->pool_lock);
  if (!r) {
    if (!(r = onyx_calloc(1, sizeof *r))) return onyx_error_oom();
    dnnl_status_t ds = dnnl_stream_create(&r->stream, c->engine, dnnl_stream_default_flags);
    if (ds != dnnl_success) {
      onyx_free(r);
      return dn_error(NULL, ds, "stream creation");
    }
  }
  *state = r;
  return NULL;
}

void dn_run_end(onyx_provider *p, void *state) {
  dn_provider *c = p->ctx;
  dn_run_state *r = state;
  if (!r) return;
  pthread_mutex_lock(&c->pool_lock);
  r->next = c->pool;
  c->pool = r;
  pthread_mutex_unlock(&c->pool_lock);
}

void dn_run_pool_free(dn_provider *c) {
  while (c->pool) {
    dn_run_state *r = c->pool;
    c->pool = r->next;
    dnnl_stream_destroy(r->stream);
    onyx_free_aligned(r->arena);
    onyx_free(r->mems);
    onyx_free(r->args);
    onyx_free(r);
  }
}

/* Grows the run state to hold a program's arena and arguments. */
static onyx_status *fit_run_state(dn_run_state *r, const dn_prog *p) {
  if (p->arena_bytes + 1 > r->arena_cap) {
    char *a = onyx_malloc_aligned(p->arena_bytes + 1);
    if (!a) return onyx_error_oom();
    onyx_free_aligned(r->arena);
    r->arena = a;
    r->arena_cap = p->arena_bytes + 1;
  }
  if (p->max_args > r->cap_args) {
    dnnl_memory_t *m = onyx_calloc((size_t)p->max_args, sizeof *m);
    dnnl_exec_arg_t *a = onyx_calloc((size_t)p->max_args, sizeof *a);
    if (!m || !a) {
      onyx_free(m);
      onyx_free(a);
      return onyx_error_oom();
    }
    onyx_free(r->mems);
    onyx_free(r->args);
    r->mems = m;
    r->args = a;
    r->cap_args = p->max_args;
  }
  return NULL;
}

static onyx_status *dn_run(onyx_kernel_ctx *c) {
  const dn_state *st = c->state;
  dn_run_state *r = c->run_state;
  onyx_tensor *const *in = c->in;
  onyx_tensor **out = c->out;
  const onyx_graph *g = st->g;
  int nt = c->pool && c->pool->nthreads > 0 ? c->pool->nthreads : 1;
  for (int k = 0; k < st->part.n_in; k++) {
    const onyx_value *v = &g->values[st->part.in[k]];
    if (is_fed(v) && (!in[k] || in[k]->kind != ONYX_KIND_TENSOR || in[k]->dtype != v->dtype))
      return onyx_error(ONYX_ERR_RUNTIME, "dnnl: input '%s' is not a %s tensor", v->name, onyx_dtype_name(v->dtype));
  }
  dn_prog *p;
  bool temp;
  ONYX_TRY(prog_for(st, nt, in, &p, &temp));
  onyx_status *s = fit_run_state(r, p);
  for (int k = 0; k < st->part.n_out && !s; k++) s = onyx_kernel_alloc_output(c, k, p->out_rank[k], p->out_dims[k]);
  if (s) goto done;
  int prev = omp_get_max_threads();
  omp_set_num_threads(nt);
  dnnl_status_t ds = dnnl_success;
  for (int i = 0; i < p->n_steps && !s; i++) {
    const dn_step *stp = &p->steps[i];
    int made = 0;
    for (; made < stp->n_args; made++) {
      const dn_arg *a = &stp->args[made];
      ds = dnnl_memory_create(&r->mems[made], &a->md, st->prov->engine, buf_ptr(p, &a->b, in, out, r->arena));
      if (ds != dnnl_success) break;
      r->args[made] = (dnnl_exec_arg_t){a->arg, r->mems[made]};
    }
    if (ds == dnnl_success) ds = dnnl_primitive_execute(stp->prim, r->stream, stp->n_args, r->args);
    if (ds != dnnl_success) s = dn_error(NULL, ds, "execute");
    for (int k = 0; k < made; k++) dnnl_memory_destroy(r->mems[k]);
  }
  if (!s && (ds = dnnl_stream_wait(r->stream)) != dnnl_success) s = dn_error(NULL, ds, "stream wait");
  omp_set_num_threads(prev);
done:
  if (temp) prog_free(p);
  return s;
}

void dn_fused_describe(const void *state, dn_fused_info *out) {
  const dn_state *st = state;
  memset(out, 0, sizeof *out);
  if (!st->cache->n_progs) return;   /* a dynamic partition builds its programs per run */
  const dn_prog *p = st->cache->progs[0];
  out->n_prims = p->n_steps;
  out->arena_bytes = p->arena_bytes;
  for (int i = 0; i < p->n_steps; i++) {
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
    if (dnnl_primitive_get_primitive_desc(p->steps[i].prim, &pd) == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind) == dnnl_success && kind == dnnl_reorder)
      out->n_reorders++;
  }
}

static int *copy_ints(const int *v, int n) {
  int *c = onyx_malloc((size_t)n * sizeof *c + 1);
  if (c && n) memcpy(c, v, (size_t)n * sizeof *c);
  return c;
}

onyx_status *dn_compile(onyx_provider *pr, const onyx_graph *g, const onyx_partition *part, onyx_fused *out) {
  dn_state *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  if (!(st->cache = onyx_calloc(1, sizeof *st->cache))) {
    onyx_free(st);
    return onyx_error_oom();
  }
  pthread_mutex_init(&st->cache->lock, NULL);
  st->prov = pr->ctx;
  st->g = g;
  st->part = *part;
  st->part.nodes = copy_ints(part->nodes, part->n_nodes);
  st->part.in = copy_ints(part->in, part->n_in);
  st->part.out = copy_ints(part->out, part->n_out);
  onyx_status *s = NULL;
  if (!st->part.nodes || !st->part.in || !st->part.out) s = onyx_error_oom();
  /* built now for the default thread count, so a partition oneDNN cannot
   * take fails here and falls back instead of failing a run; with symbolic
   * dims bound to 1 the shapes may be impossible (a 3x3 window on 1x1):
   * then the first run builds it */
  dn_prog *p = NULL;
  bool dynamic = false, shape_err = false;
  for (int k = 0; k < part->n_in; k++) {
    const onyx_value *v = &g->values[part->in[k]];
    for (int d = 0; is_fed(v) && d < v->rank; d++) dynamic |= v->dims[d] < 0;
  }
  if (!s && !(s = build_prog(st, onyx_available_cores(), NULL, &p, &shape_err))) st->cache->progs[st->cache->n_progs++] = p;
  if (s && dynamic && shape_err) {
    onyx_status_free(s);
    s = NULL;
  }
  if (s) {
    state_free(st);
    return s;
  }
  if (onyx_log_enabled(ONYX_LOG_DEBUG)) {
    dn_fused_info fi;
    dn_fused_describe(st, &fi);
    onyx_log(ONYX_LOG_DEBUG, "dnnl: partition at '%s' (%d nodes, level %d): %d primitives (%d reorders), arena %zu bytes",
             g->nodes[part->nodes[0]].name, part->n_nodes, part->opt_level, fi.n_prims, fi.n_reorders, fi.arena_bytes);
  }
  *out = (onyx_fused){dn_run, state_free, st, false};
  return NULL;
}
