/* arena.c — what runs of a plan learn and reuse: the memory layout planned
 * per input-shape signature (one arena per memory space, offsets from
 * memplan.c), the arenas finished runs gave back, and the frame blocks
 * (slots, headers, counters) of finished runs, so a steady-state run of a
 * static-shape model allocates nothing. The one mutable part of a plan,
 * behind its own lock. */
#include <string.h>

#include "base/alloc.h"
#include "plan_internal.h"

#define MAX_LAYOUTS 8
#define MAX_FREE_BLOCKS 16

typedef struct arena_list {
  int n, cap;
  void **items;
} arena_list;

typedef struct layout_entry {
  uint64_t sig;
  onyx_memlayout *layout[MAX_SPACES];   /* NULL: nothing planned in that space */
  arena_list free[MAX_SPACES];
} layout_entry;

struct plan_cache {
  pthread_mutex_t lock;
  int n_layouts;
  layout_entry layouts[MAX_LAYOUTS];
  int n_blocks;
  void *blocks[MAX_FREE_BLOCKS];
};

onyx_status *plan_cache_create(plan_cache **out) {
  plan_cache *c = onyx_calloc(1, sizeof *c);
  if (!c) return onyx_error_oom();
  pthread_mutex_init(&c->lock, NULL);
  *out = c;
  return NULL;
}

static void free_arena(const onyx_plan *p, int s, const onyx_memlayout *l, void *a) {
  onyx_allocator_free(p->spaces[s], a, (size_t)l->arena_bytes, NULL);
}

void plan_cache_destroy(plan_cache *c, const onyx_plan *p) {
  if (!c) return;
  for (int i = 0; i < c->n_layouts; i++)
    for (int s = 0; s < MAX_SPACES; s++) {
      layout_entry *e = &c->layouts[i];
      for (int k = 0; k < e->free[s].n; k++) free_arena(p, s, e->layout[s], e->free[s].items[k]);
      onyx_free(e->free[s].items);
      onyx_memlayout_free(e->layout[s]);
    }
  for (int i = 0; i < c->n_blocks; i++) onyx_free(c->blocks[i]);
  pthread_mutex_destroy(&c->lock);
  onyx_free(c);
}

void *plan_cache_take_block(const onyx_plan *p, size_t bytes) {
  plan_cache *c = p->cache;
  pthread_mutex_lock(&c->lock);
  void *b = c->n_blocks ? c->blocks[--c->n_blocks] : NULL;
  pthread_mutex_unlock(&c->lock);
  return b ? b : onyx_malloc(bytes);
}

void plan_cache_give_block(const onyx_plan *p, void *block) {
  plan_cache *c = p->cache;
  if (!block) return;
  pthread_mutex_lock(&c->lock);
  if (c->n_blocks < MAX_FREE_BLOCKS) {
    c->blocks[c->n_blocks++] = block;
    block = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  onyx_free(block);
}

onyx_status *plan_cache_take_arenas(const onyx_plan *p, uint64_t sig, frame_arenas *fa, bool *found) {
  plan_cache *c = p->cache;
  memset(fa, 0, sizeof *fa);
  pthread_mutex_lock(&c->lock);
  layout_entry *e = NULL;
  for (int i = 0; i < c->n_layouts && !e; i++)
    if (c->layouts[i].sig == sig) e = &c->layouts[i];
  if (e)
    for (int s = 0; s < p->n_spaces; s++) {
      fa->layout[s] = e->layout[s];
      if (e->free[s].n) fa->arena[s] = e->free[s].items[--e->free[s].n];
    }
  pthread_mutex_unlock(&c->lock);
  *found = e != NULL;
  fa->entry = e;
  for (int s = 0; e && s < p->n_spaces; s++) {
    if (!fa->layout[s] || fa->arena[s]) continue;
    int64_t bytes = fa->layout[s]->arena_bytes;
    if (!(fa->arena[s] = onyx_allocator_alloc(p->spaces[s], (size_t)bytes))) {
      plan_cache_give_arenas(p, fa);
      return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: out of memory allocating a %lld-byte activation arena",
                        p->spaces[s]->name, (long long)bytes);
    }
  }
  return NULL;
}

void plan_cache_give_arenas(const onyx_plan *p, frame_arenas *fa) {
  plan_cache *c = p->cache;
  layout_entry *e = fa->entry;
  if (!e) return;
  pthread_mutex_lock(&c->lock);
  for (int s = 0; s < p->n_spaces; s++) {
    if (!fa->arena[s]) continue;
    arena_list *l = &e->free[s];
    if (l->n == l->cap) {
      int cap = l->cap ? l->cap * 2 : 4;
      void **a = onyx_realloc(l->items, (size_t)cap * sizeof *a);
      if (a) {
        l->items = a;
        l->cap = cap;
      }
    }
    if (l->n < l->cap) {
      l->items[l->n++] = fa->arena[s];
      fa->arena[s] = NULL;
    }
  }
  pthread_mutex_unlock(&c->lock);
  for (int s = 0; s < p->n_spaces; s++)
    if (fa->arena[s]) free_arena(p, s, fa->layout[s], fa->arena[s]);
  memset(fa, 0, sizeof *fa);
}

void plan_cache_learn(const onyx_plan *p, uint64_t sig, const int64_t *rec) {
  plan_cache *c = p->cache;
  const onyx_graph *g = p->g;
  layout_entry e = {sig, {NULL}, {{0}}};
  int64_t *size = onyx_malloc((size_t)p->n_slots * sizeof *size + 1);
  if (!size) return;
  bool planned = true;
  for (int s = 0; s < p->n_spaces && planned; s++) {
    bool any = false;
    for (int v = 0; v < p->n_slots; v++) {
      size[v] = p->def_step[v] >= 0 && p->slot_space[v] == s ? rec[v] : -1;
      any |= size[v] >= 0;
    }
    for (int i = 0; i < g->n_outputs; i++) size[g->outputs[i]] = -1; /* delivered to the caller */
    if (!any) continue;
    onyx_status *st = onyx_memplan_compute(p->n_slots, size, p->def_step, p->last_step, p->alias, &e.layout[s]);
    if (st) {
      onyx_status_free(st);  /* failing to plan only costs the optimisation */
      planned = false;
    }
  }
  onyx_free(size);
  pthread_mutex_lock(&c->lock);
  bool have = false;
  for (int i = 0; i < c->n_layouts; i++) have |= c->layouts[i].sig == sig;
  bool kept = planned && !have && c->n_layouts < MAX_LAYOUTS;
  if (kept) c->layouts[c->n_layouts++] = e;
  pthread_mutex_unlock(&c->lock);
  if (!kept)
    for (int s = 0; s < MAX_SPACES; s++) onyx_memlayout_free(e.layout[s]);
}

int64_t plan_cache_arena_bytes(const onyx_plan *p, int space) {
  plan_cache *c = p->cache;
  int64_t m = 0;
  pthread_mutex_lock(&c->lock);
  for (int i = 0; i < c->n_layouts; i++) {
    const onyx_memlayout *l = c->layouts[i].layout[space];
    if (l && l->arena_bytes > m) m = l->arena_bytes;
  }
  pthread_mutex_unlock(&c->lock);
  return m;
}
