/* exec.c — building a plan (provider assignment, partitions, device copies,
 * kernel preparation) and running it step by step, freeing values when dead.
 *
 * Slots: one per graph value, then one per device copy ("shadow" of a value
 * on another device). Per run, initializers and caller inputs are borrowed;
 * intermediates are owned and freed when their remaining use count reaches
 * zero; graph outputs are handed to the caller. Output sizes of per-node
 * kernels come from the op's infer function evaluated on the actual inputs
 * (see ops.h); compiled partitions size their own outputs. */
#include "exec.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/status.h"
#include "memplan.h"

#define MAX_PROVIDERS 64
#define MAX_LAYOUTS 8

enum { STEP_NODE, STEP_FUSED, STEP_COPY };

typedef struct step {
  int kind;
  int prov;                  /* provider index (for copies: the one that copies) */
  int node;                  /* STEP_NODE: the node; STEP_FUSED: its first node */
  int n_in, n_out;
  int *in, *out;             /* slot indices, -1 for omitted */
  const cpu_kernel *kernel;  /* STEP_NODE */
  void *state;               /* STEP_NODE: from prepare */
  onyx_fused fused;          /* STEP_FUSED */
  int n_nodes;               /* STEP_FUSED */
  bool to_device;            /* STEP_COPY: host -> device, else device -> host */
} step;

/* A memory layout planned for one input-shape signature, with the arenas
 * that finished runs gave back (so steady-state runs allocate no arena). */
typedef struct layout_cache {
  onyx_memlayout *layout;
  int n_free, cap_free;
  void **free_arenas;
} layout_cache;

typedef struct subplan {
  int node;          /* node index */
  const char *attr;  /* attribute name (borrowed from the graph) */
  onyx_plan *plan;
} subplan;

struct onyx_plan {
  const onyx_graph *g;
  const onyx_threadpool *pool;
  onyx_plan_config cfg;
  onyx_provider *const *providers;
  int n_providers;
  int n_steps;
  step *steps;
  int n_slots;                 /* g->n_values + shadows */
  int *uses;                   /* per slot: step inputs + implicit + outputs */
  onyx_tensor **const_slots;   /* per slot: device copies of initializers, made once */
  int *out_slot;               /* per graph output: the slot holding it on the host */
  int *assign;                 /* per node: provider index */
  char **why;                  /* per node: why better providers declined (owned) */
  char **fail_msg;             /* per node: its partition's compile error (owned) */
  int n_partitions, n_copies;
  int n_sub;
  subplan *subs;
  /* activation memory planning (top-level plans only) */
  int *def_step, *last_step;   /* per slot; def -1: not produced by a step */
  int *alias;                  /* per slot: the input slot whose memory it may reuse, or -1 */
  pthread_mutex_t mem_lock;
  int n_layouts;
  layout_cache layouts[MAX_LAYOUTS];
};

struct onyx_frame {
  const onyx_plan *plan;
  onyx_frame *parent;
  onyx_run_ctx *rc;     /* may be NULL */
  onyx_tensor **slots;
  bool *owned;
  const onyx_memlayout *layout;  /* planned offsets for this run, or NULL */
  char *arena;
  int64_t *rec;                  /* without a layout: executor-allocated sizes */
};

int64_t onyx_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- plan teardown -------------------------------------------------------- */

static void free_steps(onyx_plan *p) {
  for (int i = 0; i < p->n_steps; i++) {
    step *st = &p->steps[i];
    if (st->kind == STEP_NODE && st->state && st->kernel->release) st->kernel->release(st->state);
    if (st->kind == STEP_FUSED && st->fused.release) st->fused.release(st->fused.state);
    onyx_free(st->in);
    onyx_free(st->out);
  }
  onyx_free(p->steps);
  p->steps = NULL;
  p->n_steps = 0;
  if (p->const_slots)
    for (int i = 0; i < p->n_slots; i++) onyx_tensor_free(p->const_slots[i]);
  onyx_free(p->const_slots);
  p->const_slots = NULL;
  onyx_free(p->uses);
  p->uses = NULL;
  onyx_free(p->def_step);
  onyx_free(p->last_step);
  onyx_free(p->alias);
  p->def_step = p->last_step = p->alias = NULL;
  onyx_free(p->out_slot);
  p->out_slot = NULL;
  p->n_partitions = p->n_copies = 0;
}

void onyx_plan_destroy(onyx_plan *p) {
  if (!p) return;
  free_steps(p);
  for (int i = 0; i < p->n_layouts; i++) {
    for (int k = 0; k < p->layouts[i].n_free; k++) onyx_free_aligned(p->layouts[i].free_arenas[k]);
    onyx_free(p->layouts[i].free_arenas);
    onyx_memlayout_free(p->layouts[i].layout);
  }
  pthread_mutex_destroy(&p->mem_lock);
  for (int i = 0; i < p->n_sub; i++) onyx_plan_destroy(p->subs[i].plan);
  onyx_free(p->subs);
  if (p->why)
    for (int i = 0; i < p->g->n_nodes; i++) onyx_free(p->why[i]);
  onyx_free(p->why);
  if (p->fail_msg)
    for (int i = 0; i < p->g->n_nodes; i++) onyx_free(p->fail_msg[i]);
  onyx_free(p->fail_msg);
  onyx_free(p->assign);
  onyx_free(p);
}

/* ---- assignment ------------------------------------------------------------- */

/* Assigns every node to the first provider that supports it and is not
 * excluded for it; records why better ones declined. */
static onyx_status *assign_nodes(onyx_plan *p, const uint64_t *excluded) {
  const onyx_graph *g = p->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const onyx_node *n = &g->nodes[i];
    char why[512] = "";
    size_t wl = 0;
    p->assign[i] = -1;
    for (int k = 0; k < p->n_providers && p->assign[i] < 0; k++) {
      onyx_provider *pr = p->providers[k];
      onyx_status *s = NULL;
      if (excluded[i] >> k & 1)
        s = onyx_error(ONYX_ERR_RUNTIME, "compile failed: %s", p->fail_msg[i] ? p->fail_msg[i] : "?");
      else if (!pr->iface->kernel_for && !pr->iface->compile) s = onyx_error(ONYX_ERR_RUNTIME, "no kernels");
      else s = pr->iface->supports(pr, g, n);
      if (!s && pr->iface->kernel_for && !pr->iface->compile && !pr->iface->kernel_for(pr, g, n))
        s = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "no kernel for %s", n->op_type);
      if (!s) {
        p->assign[i] = k;
        break;
      }
      if (wl < sizeof why - 1)
        wl += (size_t)snprintf(why + wl, sizeof why - wl, "%s%s: %s", wl ? "; " : "", pr->name,
                               onyx_status_message(s));
      bool oom = onyx_status_code(s) == ONYX_ERR_OUT_OF_MEMORY;
      onyx_status_free(s);
      if (oom) return onyx_error_oom();
    }
    if (p->assign[i] < 0)
      return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "node '%s' (%s): no execution provider can run it (%s)",
                        n->name, n->op_type, why);
    onyx_free(p->why[i]);
    p->why[i] = NULL;
    if (wl && !(p->why[i] = onyx_strdup(why))) return onyx_error_oom();
  }
  return NULL;
}

/* ---- execution order ----------------------------------------------------------- */

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
  for (int d = 0; d < v->rank; d++) n *= v->dims[d] >= 0 ? v->dims[d] : DYN_DIM_GUESS;
  return (int64_t)onyx_dtype_bytes(v->dtype, n);
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

/* The execution order: the provider-clustered topological order, or the
 * memory-ordered one when the plan asks for it and it is no worse in any
 * respect (provider runs, simulated peak, planned arena) and better in one. */
static onyx_status *cluster_order(const onyx_plan *p, int *order) {
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

/* ---- steps -------------------------------------------------------------------- */

static step *new_step(onyx_plan *p, int *cap) {
  if (p->n_steps == *cap) {
    int nc = *cap ? *cap * 2 : 64;
    step *s = onyx_realloc(p->steps, (size_t)nc * sizeof *s);
    if (!s) return NULL;
    p->steps = s;
    *cap = nc;
  }
  step *st = &p->steps[p->n_steps++];
  memset(st, 0, sizeof *st);
  return st;
}

static onyx_status *set_slots(int **dst, int n, const int *src) {
  *dst = onyx_calloc((size_t)n + 1, sizeof **dst);
  if (!*dst) return onyx_error_oom();
  if (n) memcpy(*dst, src, (size_t)n * sizeof *src);
  return NULL;
}

static onyx_status *add_node_step(onyx_plan *p, int *cap, int ni) {
  const onyx_graph *g = p->g;
  const onyx_node *n = &g->nodes[ni];
  onyx_provider *pr = p->providers[p->assign[ni]];
  step *st = new_step(p, cap);
  if (!st) return onyx_error_oom();
  st->kind = STEP_NODE;
  st->prov = p->assign[ni];
  st->node = ni;
  st->kernel = pr->iface->kernel_for(pr, g, n);
  ONYX_TRY(set_slots(&st->in, n->n_in, n->in));
  st->n_in = n->n_in;
  ONYX_TRY(set_slots(&st->out, n->n_out, n->out));
  st->n_out = n->n_out;
  if (st->kernel->prepare) {
    onyx_status *s = st->kernel->prepare(n, g, &st->state);
    if (s) {
      char lbl[256];
      return onyx_error_wrap(s, "%s: prepare", onyx_node_label(n, lbl, sizeof lbl));
    }
  }
  return NULL;
}

/* Compiles the connected group nodes[0..cnt) (execution order) on its
 * provider. A compile failure is not an error: *failed is set. */
static onyx_status *add_fused_step(onyx_plan *p, int *cap, const int *nodes, int cnt,
                                   uint64_t *excluded, bool *failed) {
  const onyx_graph *g = p->g;
  onyx_status *s = NULL;
  int nv = g->n_values;
  char *inside = onyx_calloc((size_t)nv + 1, 1);     /* value produced inside */
  char *seen = onyx_calloc((size_t)nv + 1, 1);
  bool *in_group = onyx_calloc((size_t)g->n_nodes + 1, sizeof *in_group);
  int *ins = onyx_calloc((size_t)nv + 1, sizeof *ins), *outs = onyx_calloc((size_t)nv + 1, sizeof *outs);
  int n_in = 0, n_out = 0;
  if (!inside || !seen || !in_group || !ins || !outs) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < cnt; i++) {
    in_group[nodes[i]] = true;
    const onyx_node *n = &g->nodes[nodes[i]];
    for (int o = 0; o < n->n_out; o++)
      if (n->out[o] >= 0) inside[n->out[o]] = 1;
  }
  for (int i = 0; i < cnt; i++) {
    const onyx_node *n = &g->nodes[nodes[i]];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && !inside[v] && !seen[v]) {
        seen[v] = 1;
        ins[n_in++] = v;
      }
    }
  }
  for (int v = 0; v < nv; v++) {
    if (!inside[v]) continue;
    bool used_outside = g->values[v].is_output;
    for (int ni = 0; ni < g->n_nodes && !used_outside; ni++) {
      if (in_group[ni]) continue;
      const onyx_node *m = &g->nodes[ni];
      for (int k = 0; k < m->n_in + m->n_implicit && !used_outside; k++)
        used_outside = (k < m->n_in ? m->in[k] : m->implicit[k - m->n_in]) == v;
    }
    if (used_outside) outs[n_out++] = v;
  }
  int prov = p->assign[nodes[0]];
  onyx_provider *pr = p->providers[prov];
  onyx_partition part = {cnt, nodes, n_in, ins, n_out, outs, p->cfg.opt_level};
  onyx_fused fused = {0};
  onyx_status *cs = pr->iface->compile(pr, g, &part, &fused);
  if (cs) {
    if (onyx_status_code(cs) == ONYX_ERR_OUT_OF_MEMORY) {
      s = cs;
      goto done;
    }
    onyx_log(ONYX_LOG_INFO, "provider %s: partition of %d nodes starting at '%s' did not compile (%s); falling back",
             pr->name, cnt, g->nodes[nodes[0]].name, onyx_status_message(cs));
    for (int i = 0; i < cnt; i++) {
      onyx_free(p->fail_msg[nodes[i]]);
      p->fail_msg[nodes[i]] = onyx_strdup(onyx_status_message(cs));
      excluded[nodes[i]] |= (uint64_t)1 << prov;
    }
    onyx_status_free(cs);
    *failed = true;
    goto done;
  }
  step *st = new_step(p, cap);
  if (!st) {
    if (fused.release) fused.release(fused.state);
    s = onyx_error_oom();
    goto done;
  }
  st->kind = STEP_FUSED;
  st->prov = prov;
  st->node = nodes[0];
  st->n_nodes = cnt;
  st->fused = fused;
  st->n_in = n_in;
  st->n_out = n_out;
  if ((s = set_slots(&st->in, n_in, ins)) || (s = set_slots(&st->out, n_out, outs))) goto done;
  p->n_partitions++;
done:
  onyx_free(inside);
  onyx_free(seen);
  onyx_free(in_group);
  onyx_free(ins);
  onyx_free(outs);
  return s;
}

/* Splits the run order[a..b) (one compiling provider) into connected
 * components and compiles each. */
static onyx_status *add_group_steps(onyx_plan *p, int *cap, const int *order, int a, int b,
                                    uint64_t *excluded, bool *failed) {
  const onyx_graph *g = p->g;
  int cnt = b - a;
  int *comp = onyx_calloc((size_t)cnt + 1, sizeof *comp), *members = onyx_calloc((size_t)cnt + 1, sizeof *members);
  onyx_status *s = NULL;
  if (!comp || !members) {
    s = onyx_error_oom();
    goto done;
  }
  for (int i = 0; i < cnt; i++) comp[i] = i;
  /* union-find over producer -> consumer edges inside the run */
  for (int i = 0; i < cnt; i++) {
    const onyx_node *m = &g->nodes[order[a + i]];
    for (int j = 0; j < i; j++) {
      const onyx_node *n = &g->nodes[order[a + j]];
      bool edge = false;
      for (int o = 0; o < n->n_out && !edge; o++)
        for (int k = 0; k < m->n_in && !edge; k++) edge = n->out[o] >= 0 && m->in[k] == n->out[o];
      if (!edge) continue;
      int ri = i, rj = j;
      while (comp[ri] != ri) ri = comp[ri];
      while (comp[rj] != rj) rj = comp[rj];
      if (ri != rj) comp[ri > rj ? ri : rj] = ri < rj ? ri : rj;
    }
  }
  for (int root = 0; root < cnt && !s; root++) {
    int m = 0;
    for (int i = 0; i < cnt; i++) {
      int r = i;
      while (comp[r] != r) r = comp[r];
      if (r == root) members[m++] = order[a + i];
    }
    if (m) s = add_fused_step(p, cap, members, m, excluded, failed);
  }
done:
  onyx_free(comp);
  onyx_free(members);
  return s;
}

/* ---- device copies ------------------------------------------------------------ */

static int provider_for_device(const onyx_plan *p, int device) {
  for (int k = 0; k < p->n_providers; k++)
    if (p->providers[k]->device == device) return k;
  return -1;
}

/* Rewrites step inputs (and graph outputs) so each reads a slot on its own
 * device, adding copy steps before first use; copies of initializers are
 * made once here and kept in the plan. */
static onyx_status *insert_copies(onyx_plan *p, int *cap) {
  const onyx_graph *g = p->g;
  int nv = g->n_values;
  int n_steps0 = p->n_steps;
  onyx_status *s = NULL;
  int *dev = onyx_calloc((size_t)nv + 1, sizeof *dev);
  /* shadow[(v, device)] lookup: small linear table */
  int n_sh = 0, cap_sh = 0;
  struct { int v, device, slot; } *sh = NULL;
  step *old = NULL;
  if (!dev) return onyx_error_oom();
  for (int i = 0; i < p->n_steps; i++)
    for (int o = 0; o < p->steps[i].n_out; o++)
      if (p->steps[i].out[o] >= 0) dev[p->steps[i].out[o]] = p->providers[p->steps[i].prov]->device;
  bool any = false;
  for (int i = 0; i < p->n_steps && !any; i++)
    any = p->providers[p->steps[i].prov]->device != ONYX_DEVICE_HOST;
  if (!any) goto done;  /* host-only plans need no copies */

  /* rebuild the step list with copies inserted before consumers */
  old = p->steps;
  p->steps = NULL;
  p->n_steps = 0;
  *cap = 0;
  int n_slots = nv;
  for (int i = 0; i <= n_steps0 && !s; i++) {
    bool last = i == n_steps0;  /* pseudo-step: the graph outputs, read on the host */
    step cur = last ? (step){0} : old[i];
    int want = last ? ONYX_DEVICE_HOST : p->providers[cur.prov]->device;
    int n_read = last ? g->n_outputs : cur.n_in;
    for (int k = 0; k < n_read && !s; k++) {
      int v = last ? g->outputs[k] : cur.in[k];
      if (v < 0 || v >= nv || dev[v] == want) continue;
      int slot = -1;
      for (int j = 0; j < n_sh; j++)
        if (sh[j].v == v && sh[j].device == want) slot = sh[j].slot;
      if (slot < 0) {
        if (n_sh == cap_sh) {
          cap_sh = cap_sh ? cap_sh * 2 : 16;
          void *t = onyx_realloc(sh, (size_t)cap_sh * sizeof *sh);
          if (!t) {
            s = onyx_error_oom();
            break;
          }
          sh = t;
        }
        slot = n_slots++;
        sh[n_sh].v = v;
        sh[n_sh].device = want;
        sh[n_sh].slot = slot;
        n_sh++;
        bool to_dev = want != ONYX_DEVICE_HOST;
        int via = provider_for_device(p, to_dev ? want : dev[v]);
        if (dev[v] != ONYX_DEVICE_HOST && to_dev) {
          s = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "value '%s': copy between two devices", g->values[v].name);
          break;
        }
        step *cp = new_step(p, cap);
        if (!cp) {
          s = onyx_error_oom();
          break;
        }
        cp->kind = STEP_COPY;
        cp->prov = via;
        cp->node = -1;
        cp->to_device = to_dev;
        cp->n_in = cp->n_out = 1;
        int src = v;
        if ((s = set_slots(&cp->in, 1, &src)) || (s = set_slots(&cp->out, 1, &slot))) break;
        p->n_copies++;
      }
      if (last) p->out_slot[k] = slot;
      else cur.in[k] = slot;
    }
    if (!last && !s) {
      step *st = new_step(p, cap);
      if (!st) {
        s = onyx_error_oom();
        break;
      }
      *st = cur;
      old[i].in = old[i].out = NULL; /* moved */
      old[i].state = NULL;
      old[i].fused.release = NULL;
    }
  }
  p->n_slots = n_slots;
done:
  if (old) {
    for (int i = 0; i < n_steps0; i++) {
      if (old[i].kind == STEP_NODE && old[i].state && old[i].kernel->release) old[i].kernel->release(old[i].state);
      if (old[i].kind == STEP_FUSED && old[i].fused.release) old[i].fused.release(old[i].fused.state);
      onyx_free(old[i].in);
      onyx_free(old[i].out);
    }
    onyx_free(old);
  }
  onyx_free(sh);
  onyx_free(dev);
  return s;
}

/* Copies of initializers happen once, at plan time. */
static onyx_status *precopy_constants(onyx_plan *p) {
  const onyx_graph *g = p->g;
  p->const_slots = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->const_slots);
  if (!p->const_slots) return onyx_error_oom();
  int w = 0;
  for (int i = 0; i < p->n_steps; i++) {
    step *st = &p->steps[i];
    if (st->kind == STEP_COPY && st->in[0] < g->n_values && g->values[st->in[0]].init) {
      onyx_provider *pr = p->providers[st->prov];
      onyx_status *s = st->to_device ? pr->iface->copy_to_device(pr, g->values[st->in[0]].init, &p->const_slots[st->out[0]])
                                     : pr->iface->copy_to_host(pr, g->values[st->in[0]].init, &p->const_slots[st->out[0]]);
      if (s) return s;
      onyx_free(st->in);
      onyx_free(st->out);
      continue; /* dropped from the step list */
    }
    p->steps[w++] = *st;
  }
  p->n_steps = w;
  return NULL;
}

/* In-place reuse for the memory planner: the output of a step whose kernel
 * allows it (cpu_kernel_in_place: elementwise, reads before writes) may take
 * the memory of an input that dies there (produced by an earlier step, read
 * only by this step, not a graph output, same dtype).
 * The planner honours it only when the two sizes are equal (same shape,
 * since the input broadcasts to the output). */
static onyx_status *find_aliases(onyx_plan *p) {
  const onyx_graph *g = p->g;
  p->alias = onyx_malloc(((size_t)p->n_slots + 1) * sizeof *p->alias);
  if (!p->alias) return onyx_error_oom();
  for (int v = 0; v < p->n_slots; v++) p->alias[v] = -1;
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    if (st->kind != STEP_NODE || !cpu_kernel_in_place(st->kernel) || st->n_out != 1) continue;
    const onyx_node *n = &g->nodes[st->node];
    int y = st->out[0];
    if (y < 0 || y >= g->n_values || n->n_implicit) continue;
    for (int k = 0; k < st->n_in && k < 2; k++) {
      int x = st->in[k];
      if (x < 0 || x >= g->n_values || p->def_step[x] < 0 || p->last_step[x] != i || p->uses[x] != 1 ||
          g->values[x].dtype != g->values[y].dtype)
        continue;
      p->alias[y] = x;
      break;
    }
  }
  return NULL;
}

static onyx_status *count_uses(onyx_plan *p) {
  const onyx_graph *g = p->g;
  p->uses = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->uses);
  if (!p->uses) return onyx_error_oom();
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    for (int k = 0; k < st->n_in; k++)
      if (st->in[k] >= 0) p->uses[st->in[k]]++;
    if (st->kind == STEP_NODE) {
      const onyx_node *n = &g->nodes[st->node];
      for (int k = 0; k < n->n_implicit; k++) p->uses[n->implicit[k]]++;
    }
  }
  for (int i = 0; i < g->n_outputs; i++) p->uses[p->out_slot[i]]++;
  /* lifetimes for memory planning, in step indices */
  p->def_step = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->def_step);
  p->last_step = onyx_calloc((size_t)p->n_slots + 1, sizeof *p->last_step);
  if (!p->def_step || !p->last_step) return onyx_error_oom();
  for (int v = 0; v < p->n_slots; v++) p->def_step[v] = -1;
  for (int i = 0; i < p->n_steps; i++) {
    const step *st = &p->steps[i];
    for (int k = 0; k < st->n_out; k++)
      if (st->out[k] >= 0) p->def_step[st->out[k]] = p->last_step[st->out[k]] = i;
    for (int k = 0; k < st->n_in; k++)
      if (st->in[k] >= 0) p->last_step[st->in[k]] = i;
    if (st->kind == STEP_NODE) {
      const onyx_node *n = &g->nodes[st->node];
      for (int k = 0; k < n->n_implicit; k++) p->last_step[n->implicit[k]] = i;
    }
  }
  return find_aliases(p);
}

static onyx_status *add_subplans(onyx_plan *p, int ni) {
  const onyx_node *n = &p->g->nodes[ni];
  for (int a = 0; a < n->n_attrs; a++) {
    const onyx_attr *at = &n->attrs[a];
    if (!at->g) continue; /* GRAPHS attributes are not used by any standard op */
    subplan *s = onyx_realloc(p->subs, (size_t)(p->n_sub + 1) * sizeof *s);
    if (!s) return onyx_error_oom();
    p->subs = s;
    s[p->n_sub].node = ni;
    s[p->n_sub].attr = at->name;
    s[p->n_sub].plan = NULL;
    p->n_sub++;
    ONYX_TRY(onyx_plan_create_ex(at->g, p->providers, p->n_providers, p->pool, &p->cfg, &s[p->n_sub - 1].plan));
  }
  return NULL;
}

/* One planning attempt under `excluded`; *retry when a compile failed. */
static onyx_status *build_steps(onyx_plan *p, uint64_t *excluded, bool *retry) {
  const onyx_graph *g = p->g;
  int nn = g->n_nodes, cap = 0;
  *retry = false;
  ONYX_TRY(assign_nodes(p, excluded));
  int *order = onyx_calloc((size_t)nn + 1, sizeof *order);
  if (!order) return onyx_error_oom();
  onyx_status *s = cluster_order(p, order);
  for (int i = 0; i < nn && !s;) {
    onyx_provider *pr = p->providers[p->assign[order[i]]];
    if (!pr->iface->compile) {
      s = add_node_step(p, &cap, order[i]);
      i++;
      continue;
    }
    int j = i;
    while (j < nn && p->assign[order[j]] == p->assign[order[i]]) j++;
    bool failed = false;
    s = add_group_steps(p, &cap, order, i, j, excluded, &failed);
    if (failed) *retry = true;  /* components that compiled keep their provider */
    i = j;
  }
  onyx_free(order);
  if (!s && !*retry) {
    p->out_slot = onyx_calloc((size_t)g->n_outputs + 1, sizeof *p->out_slot);
    if (!p->out_slot) return onyx_error_oom();
    for (int i = 0; i < g->n_outputs; i++) p->out_slot[i] = g->outputs[i];
    p->n_slots = g->n_values;
    if (!(s = insert_copies(p, &cap)) && !(s = precopy_constants(p))) s = count_uses(p);
  }
  return s;
}

onyx_status *onyx_plan_create(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                              const onyx_threadpool *pool, onyx_plan **out) {
  return onyx_plan_create_ex(g, providers, n_providers, pool, NULL, out);
}

onyx_status *onyx_plan_create_ex(const onyx_graph *g, onyx_provider *const *providers, int n_providers,
                                 const onyx_threadpool *pool, const onyx_plan_config *cfg, onyx_plan **out) {
  if (n_providers < 1 || n_providers > MAX_PROVIDERS)
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "between 1 and %d providers are needed", MAX_PROVIDERS);
  onyx_plan *p = onyx_calloc(1, sizeof *p);
  if (!p) return onyx_error_oom();
  p->g = g;
  p->cfg = cfg ? *cfg : (onyx_plan_config){3, true};
  p->pool = pool;
  p->providers = providers;
  p->n_providers = n_providers;
  pthread_mutex_init(&p->mem_lock, NULL);
  onyx_status *s = NULL;
  uint64_t *excluded = onyx_calloc((size_t)g->n_nodes + 1, sizeof *excluded);
  p->assign = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->assign);
  p->why = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->why);
  p->fail_msg = onyx_calloc((size_t)g->n_nodes + 1, sizeof *p->fail_msg);
  if (!excluded || !p->assign || !p->why || !p->fail_msg) {
    s = onyx_error_oom();
    goto fail;
  }
  /* each failed compile excludes one provider for some nodes: bounded */
  for (int attempt = 0; attempt <= n_providers; attempt++) {
    bool retry = false;
    if ((s = build_steps(p, excluded, &retry))) goto fail;
    if (!retry) break;
    free_steps(p);
  }
  for (int i = 0; i < g->n_nodes; i++)
    if ((s = add_subplans(p, i))) goto fail;
  onyx_free(excluded);
  *out = p;
  return NULL;
fail:
  onyx_free(excluded);
  onyx_plan_destroy(p);
  return s;
}

const onyx_plan *onyx_frame_subplan(const onyx_frame *f, const onyx_node *node, const char *attr) {
  const onyx_plan *p = f->plan;
  int ni = (int)(node - p->g->nodes);
  for (int i = 0; i < p->n_sub; i++)
    if (p->subs[i].node == ni && !strcmp(p->subs[i].attr, attr)) return p->subs[i].plan;
  return NULL;
}

int onyx_plan_node_provider(const onyx_plan *p, int node, const char **why) {
  if (why) *why = p->why[node];
  return p->assign[node];
}

int onyx_plan_partition_count(const onyx_plan *p) { return p->n_partitions; }
int onyx_plan_copy_count(const onyx_plan *p) { return p->n_copies; }

/* ---- running ------------------------------------------------------------------ */

/* Finds an outer-scope value by name in the enclosing frames. */
static onyx_tensor *lookup_outer(onyx_frame *f, const char *name) {
  for (; f; f = f->parent) {
    int v = onyx_graph_find(f->plan->g, name);
    if (v >= 0 && f->slots[v]) return f->slots[v];
  }
  return NULL;
}

static void release(onyx_frame *f, int v) {
  if (f->owned[v] && f->rc && f->slots[v]) f->rc->live_bytes -= (int64_t)f->slots[v]->nbytes;
  if (f->owned[v]) onyx_tensor_free(f->slots[v]);
  f->slots[v] = NULL;
  f->owned[v] = false;
}

static void store(onyx_frame *f, int v, onyx_tensor *t) {
  release(f, v);
  f->slots[v] = t;
  f->owned[v] = true;
  if (f->rc) {
    f->rc->live_bytes += (int64_t)t->nbytes;
    f->rc->total_bytes += (int64_t)t->nbytes;
    if (f->rc->live_bytes > f->rc->peak_bytes) f->rc->peak_bytes = f->rc->live_bytes;
  }
}

static void vinfo_of(const onyx_tensor *t, onyx_vinfo *v) {
  memset(v, 0, sizeof *v);
  if (!t) {
    v->rank = -1;
    return;
  }
  v->kind = t->kind;
  v->dtype = t->dtype;
  v->rank = t->kind == ONYX_KIND_TENSOR ? t->rank : -1;
  if (v->rank > 0) memcpy(v->dims, t->dims, (size_t)t->rank * sizeof t->dims[0]);
  v->value = t;
}

/* Appends a profiling event; on allocation failure the event is dropped
 * (profiling must not fail a run). */
static void record_event(onyx_run_ctx *rc, const onyx_node *n, const char *prov, int n_nodes,
                         int64_t t0, int64_t dur) {
  if (rc->n_events == rc->cap_events) {
    int cap = rc->cap_events ? rc->cap_events * 2 : 256;
    onyx_prof_event *e = onyx_realloc(rc->events, (size_t)cap * sizeof *e);
    if (!e) return;
    rc->events = e;
    rc->cap_events = cap;
  }
  rc->events[rc->n_events++] = (onyx_prof_event){n, prov, n_nodes, t0, dur};
}

/* Gives a statically sized output its memory: its planned place in the run's
 * arena when there is one and it fits, else the heap. Without a layout,
 * records the size so the first run's sizes can be planned. */
static onyx_status *place_output(onyx_frame *f, int slot, onyx_tensor *t, const onyx_vinfo *v) {
  size_t need = onyx_dtype_bytes(v->dtype, onyx_numel(v->rank, v->dims));
  if (f && slot >= 0 && f->layout && f->layout->offset[slot] >= 0 && v->dtype != ONYX_DTYPE_STRING &&
      (int64_t)need <= f->layout->size[slot]) {
    t->rank = v->rank;
    memcpy(t->dims, v->dims, (size_t)v->rank * sizeof v->dims[0]);
    t->data = f->arena + f->layout->offset[slot];
    t->nbytes = need;
    t->owns_data = false;
    return NULL;
  }
  if (f && slot >= 0 && f->rec && v->dtype != ONYX_DTYPE_STRING) f->rec[slot] = (int64_t)need;
  return onyx_tensor_alloc(t, v->rank, v->dims);
}

/* Runs kernel k on node n: sizes the outputs with the op's infer function,
 * creates their headers (allocated where the size is known), runs, and
 * checks the kernel allocated the rest. On success out[k] holds new tensors
 * (NULL for omitted outputs); on failure nothing is left in out. */
static onyx_status *invoke(const cpu_kernel *k, const void *state, const onyx_graph *g,
                           const onyx_node *n, onyx_tensor *const *in, onyx_tensor **out,
                           const onyx_threadpool *pool, onyx_frame *f, const int *out_slot) {
  onyx_vinfo vin_buf[16], vout_buf[16];
  onyx_vinfo *vin = vin_buf, *vout = vout_buf;
  onyx_status *s = NULL;
  bool heap = n->n_in > 16 || n->n_out > 16;
  if (heap) {
    vin = onyx_calloc((size_t)n->n_in + 1, sizeof *vin);
    vout = onyx_calloc((size_t)n->n_out + 1, sizeof *vout);
    if (!vin || !vout) {
      s = onyx_error_oom();
      goto done;
    }
  }
  for (int i = 0; i < n->n_in; i++) vinfo_of(in[i], &vin[i]);
  for (int i = 0; i < n->n_out; i++) {
    memset(&vout[i], 0, sizeof vout[i]);
    vout[i].rank = -1;
    out[i] = NULL;
  }
  onyx_infer_ctx ic = {n, g->model, vin, vout};
  if ((s = onyx_op_schemas[n->op].infer(&ic))) goto done;
  for (int i = 0; i < n->n_out; i++) {
    if (n->out[i] < 0) continue;
    if ((s = onyx_tensor_new_empty(vout[i].dtype, 0, NULL, &out[i]))) goto done;
    out[i]->kind = vout[i].kind;
    if (vout[i].kind != ONYX_KIND_TENSOR || !onyx_vinfo_static(&vout[i]) ||
        vout[i].dtype == ONYX_DTYPE_UNDEFINED)
      continue; /* the kernel sizes it */
    if ((s = place_output(f, out_slot ? out_slot[i] : -1, out[i], &vout[i]))) goto done;
  }
  cpu_ctx c = {n, n->n_in, n->n_out, in, out, state, pool, f};
  if ((s = k->run(&c))) goto done;
  for (int i = 0; i < n->n_out; i++)
    if (out[i] && out[i]->kind == ONYX_KIND_TENSOR && !out[i]->data) {
      s = onyx_node_error(n, ONYX_ERR_RUNTIME, "kernel left output '%s' unallocated", g->values[n->out[i]].name);
      goto done;
    }
done:
  if (s)
    for (int i = 0; i < n->n_out; i++) {
      onyx_tensor_free(out[i]);
      out[i] = NULL;
    }
  if (heap) {
    onyx_free(vin);
    onyx_free(vout);
  }
  if (s && onyx_status_code(s) != ONYX_ERR_OUT_OF_MEMORY && !strstr(onyx_status_message(s), n->op_type)) {
    char lbl[256];
    s = onyx_error_wrap(s, "%s", onyx_node_label(n, lbl, sizeof lbl));
  }
  return s;
}

static onyx_status *run_step(onyx_frame *f, const step *st, int *remaining) {
  const onyx_plan *p = f->plan;
  const onyx_graph *g = p->g;
  onyx_provider *pr = p->providers[st->prov];
  onyx_tensor *in_buf[16], *out_buf[16];
  onyx_tensor **in = in_buf, **out = out_buf;
  bool heap = st->n_in > 16 || st->n_out > 16;
  if (heap) {
    in = onyx_calloc((size_t)st->n_in + 1, sizeof *in);
    out = onyx_calloc((size_t)st->n_out + 1, sizeof *out);
    if (!in || !out) {
      onyx_free(in);
      onyx_free(out);
      return onyx_error_oom();
    }
  }
  for (int k = 0; k < st->n_in; k++) in[k] = st->in[k] >= 0 ? f->slots[st->in[k]] : NULL;
  for (int k = 0; k < st->n_out; k++) out[k] = NULL;
  onyx_run_ctx *rc = f->rc;
  int64_t t0 = rc && rc->profile ? onyx_now_ns() : 0;
  onyx_status *s = NULL;
  const onyx_node *n = st->node >= 0 ? &g->nodes[st->node] : NULL;
  switch (st->kind) {
    case STEP_NODE:
      s = invoke(st->kernel, st->state, g, n, in, out, p->pool, f, st->out);
      break;
    case STEP_FUSED:
      s = st->fused.run(st->fused.state, in, out, p->pool);
      for (int k = 0; !s && k < st->n_out; k++)
        if (!out[k]) s = onyx_error(ONYX_ERR_RUNTIME, "provider %s: partition at '%s' left output '%s' unset",
                                    pr->name, n->name, g->values[st->out[k]].name);
      if (s) {
        for (int k = 0; k < st->n_out; k++) onyx_tensor_free(out[k]);
        s = onyx_error_wrap(s, "provider %s, partition of %d nodes at node '%s'", pr->name, st->n_nodes, n->name);
      }
      break;
    case STEP_COPY:
      s = st->to_device ? pr->iface->copy_to_device(pr, in[0], &out[0]) : pr->iface->copy_to_host(pr, in[0], &out[0]);
      if (s) s = onyx_error_wrap(s, "provider %s: copying '%s'", pr->name, g->values[st->in[0] < g->n_values ? st->in[0] : 0].name);
      break;
  }
  if (!s && t0 && n) record_event(rc, n, pr->name, st->kind == STEP_FUSED ? st->n_nodes : 1, t0, onyx_now_ns() - t0);
  for (int k = 0; !s && k < st->n_out; k++)
    if (st->out[k] >= 0) store(f, st->out[k], out[k]);
  if (!s && rc && rc->observe && !f->parent && st->kind != STEP_COPY)
    for (int k = 0; !s && k < st->n_out; k++)
      if (st->out[k] >= 0 && f->slots[st->out[k]]) s = rc->observe(rc->observe_arg, st->out[k], f->slots[st->out[k]]);
  for (int k = 0; !s && k < st->n_in; k++)
    if (st->in[k] >= 0 && --remaining[st->in[k]] == 0) release(f, st->in[k]);
  if (!s && st->kind == STEP_NODE)
    for (int k = 0; k < n->n_implicit; k++)
      if (--remaining[n->implicit[k]] == 0) release(f, n->implicit[k]);
  if (heap) {
    onyx_free(in);
    onyx_free(out);
  }
  return s;
}

onyx_status *onyx_exec_node(const onyx_graph *g, const onyx_node *n, onyx_tensor *const *in,
                            onyx_tensor **out, const onyx_threadpool *pool) {
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].g || n->attrs[a].graphs)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "evaluating a node with subgraphs on its own");
  const cpu_kernel *k = n->op >= 0 ? cpu_kernel_find(n->op) : NULL;
  if (!k) return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "no cpu kernel");
  void *state = NULL;
  if (k->prepare) ONYX_TRY(k->prepare(n, g, &state));
  onyx_status *s = invoke(k, state, g, n, in, out, pool, NULL, NULL);
  if (state && k->release) k->release(state);
  return s;
}

/* Input-shape signature: dtypes and dims of every graph input. */
static uint64_t signature(const onyx_graph *g, onyx_tensor *const *inputs) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < g->n_inputs; i++) {
    const onyx_tensor *t = inputs[i];
    uint64_t parts[2] = {t ? (uint64_t)t->dtype : 0, t ? (uint64_t)t->rank : 0};
    for (int k = 0; k < 2; k++) h = (h ^ parts[k]) * 1099511628211ull;
    for (int d = 0; t && d < t->rank; d++) h = (h ^ (uint64_t)t->dims[d]) * 1099511628211ull;
  }
  return h;
}

/* Takes an arena for a run with this signature (a cached one when a
 * previous run gave it back). Leaves f->layout NULL when none is planned. */
static onyx_status *take_arena(onyx_plan *p, uint64_t sig, onyx_frame *f) {
  pthread_mutex_lock(&p->mem_lock);
  layout_cache *c = NULL;
  for (int i = 0; i < p->n_layouts && !c; i++)
    if (p->layouts[i].layout->signature == sig) c = &p->layouts[i];
  void *arena = c && c->n_free ? c->free_arenas[--c->n_free] : NULL;
  pthread_mutex_unlock(&p->mem_lock);
  if (!c) return NULL;
  if (!arena && !(arena = onyx_malloc_aligned((size_t)c->layout->arena_bytes))) return onyx_error_oom();
  f->layout = c->layout;
  f->arena = arena;
  return NULL;
}

static void give_arena(onyx_plan *p, onyx_frame *f) {
  pthread_mutex_lock(&p->mem_lock);
  for (int i = 0; i < p->n_layouts; i++) {
    layout_cache *c = &p->layouts[i];
    if (c->layout != f->layout) continue;
    if (c->n_free == c->cap_free) {
      int cap = c->cap_free ? c->cap_free * 2 : 4;
      void **a = onyx_realloc(c->free_arenas, (size_t)cap * sizeof *a);
      if (a) {
        c->free_arenas = a;
        c->cap_free = cap;
      }
    }
    if (c->n_free < c->cap_free) {
      c->free_arenas[c->n_free++] = f->arena;
      f->arena = NULL;
    }
    break;
  }
  pthread_mutex_unlock(&p->mem_lock);
  onyx_free_aligned(f->arena);
  f->arena = NULL;
}

/* Plans a layout from the sizes a run recorded; keeps it for `sig`. Failure
 * to plan only costs the optimisation. */
static void learn_layout(onyx_plan *p, uint64_t sig, const int64_t *rec) {
  const onyx_graph *g = p->g;
  int64_t *size = onyx_malloc((size_t)p->n_slots * sizeof *size + 1);
  if (!size) return;
  for (int v = 0; v < p->n_slots; v++) size[v] = p->def_step[v] >= 0 ? rec[v] : -1;
  for (int i = 0; i < g->n_outputs; i++) size[p->out_slot[i]] = -1; /* handed to the caller */
  onyx_memlayout *l = NULL;
  onyx_status *s = onyx_memplan_compute(p->n_slots, size, p->def_step, p->last_step, p->alias, &l);
  onyx_free(size);
  if (s) {
    onyx_status_free(s);
    return;
  }
  l->signature = sig;
  pthread_mutex_lock(&p->mem_lock);
  bool have = false;
  for (int i = 0; i < p->n_layouts; i++) have |= p->layouts[i].layout->signature == sig;
  if (!have && p->n_layouts < MAX_LAYOUTS) {
    p->layouts[p->n_layouts++] = (layout_cache){l, 0, 0, NULL};
    l = NULL;
  }
  pthread_mutex_unlock(&p->mem_lock);
  onyx_memlayout_free(l);
}

int64_t onyx_plan_arena_bytes(const onyx_plan *p) {
  int64_t m = 0;
  pthread_mutex_lock((pthread_mutex_t *)&p->mem_lock);
  for (int i = 0; i < p->n_layouts; i++)
    if (p->layouts[i].layout->arena_bytes > m) m = p->layouts[i].layout->arena_bytes;
  pthread_mutex_unlock((pthread_mutex_t *)&p->mem_lock);
  return m;
}

static onyx_status *run_graph(const onyx_plan *p, onyx_frame *parent, onyx_run_ctx *rc,
                              onyx_tensor *const *inputs, onyx_tensor **outputs) {
  const onyx_graph *g = p->g;
  int ns = p->n_slots;
  onyx_frame f = {p, parent, rc, NULL, NULL, NULL, NULL, NULL};
  onyx_plan *mp = (onyx_plan *)p; /* the layout cache is the plan's one mutable part */
  /* subgraph runs also depend on outer values' shapes: not planned */
  uint64_t sig = parent ? 0 : signature(g, inputs);
  onyx_status *s = NULL;
  int *remaining = onyx_malloc((size_t)ns * sizeof(int) + 1);
  f.slots = onyx_calloc((size_t)ns + 1, sizeof *f.slots);
  f.owned = onyx_calloc((size_t)ns + 1, sizeof *f.owned);
  onyx_tensor **res = onyx_calloc((size_t)g->n_outputs + 1, sizeof *res);
  if (!remaining || !f.slots || !f.owned || !res) {
    s = onyx_error_oom();
    goto done;
  }
  if (!parent) {
    if ((s = take_arena(mp, sig, &f))) goto done;
    if (!f.layout) {
      if (!(f.rec = onyx_malloc((size_t)ns * sizeof *f.rec + 1))) {
        s = onyx_error_oom();
        goto done;
      }
      for (int v = 0; v < ns; v++) f.rec[v] = -1;
    }
  }
  memcpy(remaining, p->uses, (size_t)ns * sizeof(int));
  for (int v = 0; v < g->n_values; v++) {
    const onyx_value *val = &g->values[v];
    if (val->init) f.slots[v] = val->init;
    else if (val->is_outer) f.slots[v] = lookup_outer(parent, val->name);
  }
  for (int v = g->n_values; v < ns; v++) f.slots[v] = p->const_slots[v];
  for (int i = 0; i < g->n_inputs; i++) f.slots[g->inputs[i]] = inputs[i];
  for (int i = 0; i < p->n_steps && !s; i++) s = run_step(&f, &p->steps[i], remaining);
  for (int i = 0; i < g->n_outputs && !s; i++) {
    int v = p->out_slot[i];
    if (!f.slots[v]) {
      s = onyx_error(ONYX_ERR_RUNTIME, "graph output '%s' was not computed", g->values[g->outputs[i]].name);
    } else if (f.owned[v] && remaining[v] == 1) {
      res[i] = f.slots[v];   /* hand over without copying */
      if (rc) rc->live_bytes -= (int64_t)res[i]->nbytes;
      f.slots[v] = NULL;
      f.owned[v] = false;
    } else {
      s = onyx_tensor_clone(f.slots[v], &res[i]);
      remaining[v]--;
    }
  }
  if (!s) {
    memcpy(outputs, res, (size_t)g->n_outputs * sizeof *res);
  } else {
    for (int i = 0; i < g->n_outputs; i++) onyx_tensor_free(res[i]);
  }
done:
  if (f.slots && f.owned)
    for (int v = 0; v < ns; v++)
      if (f.owned[v]) release(&f, v);
  if (f.arena) give_arena(mp, &f);
  if (f.rec && !s) learn_layout(mp, sig, f.rec);
  onyx_free(f.rec);
  onyx_free(remaining);
  onyx_free(f.slots);
  onyx_free(f.owned);
  onyx_free(res);
  return s;
}

onyx_status *onyx_plan_run(const onyx_plan *p, onyx_frame *parent, onyx_tensor *const *inputs,
                           onyx_tensor **outputs) {
  return run_graph(p, parent, parent ? parent->rc : NULL, inputs, outputs);
}

onyx_status *onyx_plan_run_ex(const onyx_plan *p, onyx_run_ctx *rc, onyx_tensor *const *inputs,
                              onyx_tensor **outputs) {
  return run_graph(p, NULL, rc, inputs, outputs);
}
