/* schedule.c — the execution order of a plan's nodes: topological, nodes
 * of one provider kept together (fewer switches, larger partitions), and,
 * with onyx_plan_config.memory_order, chosen to lower the activation memory
 * alive at once, judged by simulating the run and planning its arena. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "plan_internal.h"

/* Bytes value v is counted as when ordering: its static size, with each
 * unknown or symbolic dim guessed as DYN_DIM_GUESS (sizes only rank the
 * candidates; a dynamic dim is mostly a batch or sequence length, and
 * guessing 1 would make every sequence-sized tensor look negligible); 0
 * for values no node produces (inputs, weights, outer scope). */
#define DYN_DIM_GUESS 64
static int64_t order_bytes(const onyx_value *v) {
  if (v->producer < 0 || v->init || v->kind != ONYX_KIND_TENSOR || v->rank < 0 ||
      v->dtype == ONYX_DTYPE_STRING || v->dtype == ONYX_DTYPE_UNDEFINED)
    return 0;
  int64_t n = 1;
  for (int d = 0; d < v->rank; d++) n = onyx_mul_sat(n, v->dims[d] >= 0 ? v->dims[d] : DYN_DIM_GUESS);
  size_t bytes = onyx_dtype_bytes(v->dtype, n);
  return bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes;
}

/* Who reads what, for ordering: per node its distinct inputs (implicit ones
 * included), per value its distinct consumer nodes (CSR arrays). */
typedef struct order_graph {
  int *in_off, *in_val;      /* node i reads in_val[in_off[i] .. in_off[i+1]) */
  int *use_off, *use_node;   /* value v is read by use_node[use_off[v] .. use_off[v+1]) */
  int64_t *bytes;            /* per value: order_bytes */
} order_graph;

static void order_graph_free(order_graph *og) {
  onyx_free(og->in_off);
  onyx_free(og->in_val);
  onyx_free(og->use_off);
  onyx_free(og->use_node);
  onyx_free(og->bytes);
}

static onyx_status *order_graph_init(const onyx_graph *g, order_graph *og) {
  int nn = g->n_nodes, nv = g->n_values, total = 0;
  memset(og, 0, sizeof *og);
  for (int i = 0; i < nn; i++) total += g->nodes[i].n_in + g->nodes[i].n_implicit;
  og->in_off = onyx_calloc((size_t)nn + 1, sizeof *og->in_off);
  og->in_val = onyx_calloc((size_t)total + 1, sizeof *og->in_val);
  og->use_off = onyx_calloc((size_t)nv + 1, sizeof *og->use_off);
  og->use_node = onyx_calloc((size_t)total + 1, sizeof *og->use_node);
  og->bytes = onyx_calloc((size_t)nv + 1, sizeof *og->bytes);
  if (!og->in_off || !og->in_val || !og->use_off || !og->use_node || !og->bytes) {
    order_graph_free(og);
    return onyx_error_oom();
  }
  int k = 0;
  for (int i = 0; i < nn; i++) {
    const onyx_node *n = &g->nodes[i];
    og->in_off[i] = k;
    for (int j = 0; j < n->n_in + n->n_implicit; j++) {
      int v = j < n->n_in ? n->in[j] : n->implicit[j - n->n_in];
      bool dup = v < 0;
      for (int q = og->in_off[i]; q < k && !dup; q++) dup = og->in_val[q] == v;
      if (!dup) og->in_val[k++] = v;
    }
  }
  og->in_off[nn] = k;
  /* counting sort of (value, node) pairs by value */
  for (int q = 0; q < k; q++) og->use_off[og->in_val[q] + 1]++;
  for (int v = 0; v < nv; v++) og->use_off[v + 1] += og->use_off[v];
  int *fill = onyx_malloc((size_t)nv * sizeof *fill + 1);
  if (!fill) {
    order_graph_free(og);
    return onyx_error_oom();
  }
  memcpy(fill, og->use_off, (size_t)nv * sizeof *fill);
  for (int i = 0; i < nn; i++)
    for (int q = og->in_off[i]; q < og->in_off[i + 1]; q++) og->use_node[fill[og->in_val[q]]++] = i;
  onyx_free(fill);
  for (int v = 0; v < nv; v++) og->bytes[v] = order_bytes(&g->values[v]);
  return NULL;
}

/* What an order costs: provider runs (switches + 1), the most bytes alive
 * at once when every intermediate is freed after its last reader (graph
 * outputs live to the end), and the arena the memory planner would lay out
 * for those lifetimes (order_arena; -1 until computed). */
typedef struct order_cost {
  int runs;
  int64_t peak, arena;
} order_cost;

/* Bytes node i frees as the last reader of its inputs (left: readers of
 * each value not emitted yet), net of the bytes of its outputs. */
static int64_t net_freed(const onyx_graph *g, const order_graph *og, const int *left, int i) {
  int64_t net = 0;
  for (int q = og->in_off[i]; q < og->in_off[i + 1]; q++) {
    int v = og->in_val[q];
    if (left[v] == 1 && !g->values[v].is_output) net += og->bytes[v];
  }
  const onyx_node *n = &g->nodes[i];
  for (int o = 0; o < n->n_out; o++)
    if (n->out[o] >= 0) net -= og->bytes[n->out[o]];
  return net;
}

/* Topological order that keeps nodes of one provider together: among ready
 * nodes, only those on the provider of the node just emitted when there are
 * any; of these the lowest index (so a single-provider graph keeps its
 * order), or with by_memory the one with the most bytes freed net of bytes
 * allocated (ties: the lowest index). Writes the order, its provider runs
 * and its peak. */
static onyx_status *topo_order(const onyx_plan *p, const order_graph *og, bool by_memory, int *order,
                               order_cost *cost) {
  const onyx_graph *g = p->g;
  int nn = g->n_nodes, nv = g->n_values;
  onyx_status *s = NULL;
  int *pending = onyx_calloc((size_t)nn + 1, sizeof *pending);
  int *left = onyx_calloc((size_t)nv + 1, sizeof *left);
  bool *done = onyx_calloc((size_t)nn + 1, sizeof *done);
  if (!pending || !left || !done) {
    s = onyx_error_oom();
    goto out;
  }
  for (int i = 0; i < nn; i++)
    for (int q = og->in_off[i]; q < og->in_off[i + 1]; q++)
      if (g->values[og->in_val[q]].producer >= 0) pending[i]++;
  for (int v = 0; v < nv; v++) left[v] = og->use_off[v + 1] - og->use_off[v];
  *cost = (order_cost){0, 0, -1};
  int last_prov = -1;
  int64_t live = 0;
  for (int emitted = 0; emitted < nn; emitted++) {
    int pick = -1;
    bool same = false;
    int64_t best = 0;
    for (int i = 0; i < nn; i++) {
      if (done[i] || pending[i]) continue;
      bool on_last = p->assign[i] == last_prov;
      if (same && !on_last) continue;
      if (!by_memory) {
        if (pick < 0 || (on_last && !same)) pick = i;
        same |= on_last;
        if (same) break;
        continue;
      }
      int64_t net = net_freed(g, og, left, i);
      if (pick < 0 || (on_last && !same) || net > best) {
        pick = i;
        best = net;
      }
      same |= on_last;
    }
    if (pick < 0) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "graph is not acyclic");
      goto out;
    }
    done[pick] = true;
    order[emitted] = pick;
    if (p->assign[pick] != last_prov) cost->runs++;
    last_prov = p->assign[pick];
    /* outputs are stored before inputs are released, as run_step does */
    const onyx_node *n = &g->nodes[pick];
    for (int o = 0; o < n->n_out; o++) {
      int v = n->out[o];
      if (v < 0) continue;
      live += og->bytes[v];
      for (int u = og->use_off[v]; u < og->use_off[v + 1]; u++) pending[og->use_node[u]]--;
    }
    if (live > cost->peak) cost->peak = live;
    for (int q = og->in_off[pick]; q < og->in_off[pick + 1]; q++) {
      int v = og->in_val[q];
      if (--left[v] == 0 && !g->values[v].is_output) live -= og->bytes[v];
    }
    for (int o = 0; o < n->n_out; o++)   /* read by no one */
      if (n->out[o] >= 0 && !left[n->out[o]] && !g->values[n->out[o]].is_output) live -= og->bytes[n->out[o]];
  }
out:
  onyx_free(pending);
  onyx_free(left);
  onyx_free(done);
  return s;
}

/* The arena the memory planner lays out for the intermediates' lifetimes
 * under `order` (graph outputs are not planned). */
static onyx_status *order_arena(const onyx_graph *g, const order_graph *og, const int *order, int64_t *arena) {
  int nv = g->n_values;
  onyx_status *s = NULL;
  onyx_memlayout *l = NULL;
  int *def = onyx_malloc((size_t)nv * sizeof *def + 1), *last = onyx_malloc((size_t)nv * sizeof *last + 1);
  int64_t *size = onyx_malloc((size_t)nv * sizeof *size + 1);
  if (!def || !last || !size) {
    s = onyx_error_oom();
    goto out;
  }
  for (int v = 0; v < nv; v++) def[v] = last[v] = -1;
  for (int k = 0; k < g->n_nodes; k++) {
    int i = order[k];
    const onyx_node *n = &g->nodes[i];
    for (int o = 0; o < n->n_out; o++)
      if (n->out[o] >= 0) def[n->out[o]] = last[n->out[o]] = k;
    for (int q = og->in_off[i]; q < og->in_off[i + 1]; q++) last[og->in_val[q]] = k;
  }
  for (int v = 0; v < nv; v++) size[v] = def[v] >= 0 && !g->values[v].is_output ? og->bytes[v] : -1;
  if (!(s = onyx_memplan_compute(nv, size, def, last, NULL, &l))) *arena = l->arena_bytes;
out:
  onyx_memlayout_free(l);
  onyx_free(def);
  onyx_free(last);
  onyx_free(size);
  return s;
}

/* The memory-ordered order is kept when the plan asks for it and it is no
 * worse in any respect (provider runs, simulated peak, planned arena) and
 * better in one. */
onyx_status *plan_order(const onyx_plan *p, int *order) {
  const onyx_graph *g = p->g;
  int nn = g->n_nodes;
  int64_t t0 = onyx_now_ns();
  order_graph og;
  ONYX_TRY(order_graph_init(g, &og));
  order_cost base, mem;
  int *alt = NULL;
  onyx_status *s = topo_order(p, &og, false, order, &base);
  if (!s && p->cfg.memory_order && nn > 2) {
    if (!(alt = onyx_malloc((size_t)nn * sizeof *alt + 1))) s = onyx_error_oom();
    if (!s) s = topo_order(p, &og, true, alt, &mem);
    /* the arenas only where the rest does not decide */
    bool differs = !s && memcmp(order, alt, (size_t)nn * sizeof *order);
    bool keep = differs && mem.runs <= base.runs && mem.peak <= base.peak;
    if (keep && !(s = order_arena(g, &og, order, &base.arena)) && !(s = order_arena(g, &og, alt, &mem.arena)))
      keep = mem.arena <= base.arena && (mem.peak < base.peak || mem.arena < base.arena);
    if (!s && keep) memcpy(order, alt, (size_t)nn * sizeof *order);
    if (!s)
      onyx_log(ONYX_LOG_DEBUG,
               "plan: memory order %s: provider runs %d -> %d, peak %lld -> %lld bytes, arena %lld -> %lld bytes "
               "(-1: not needed; %d nodes, %.1f ms)",
               !differs ? "same as the given" : keep ? "kept" : "dropped", base.runs, mem.runs,
               (long long)base.peak, (long long)mem.peak, (long long)base.arena, (long long)mem.arena, nn,
               (double)(onyx_now_ns() - t0) / 1e6);
  }
  onyx_free(alt);
  order_graph_free(&og);
  return s;
}
