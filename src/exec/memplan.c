/* memplan.c — offsets for activation slots from their lifetimes (see
 * memplan.h). Greedy best fit over slots sorted by size, the classic
 * "offset calculation" heuristic of static memory planners (TFLite, ORT);
 * in-place chains are planned as one slot living from the first definition
 * to the last use of any member. */
#include "memplan.h"

#include <stdlib.h>

#include "base/alloc.h"
#include "base/status.h"

#define ALIGN 64

typedef struct order_item {
  int slot;
  int64_t size;
} order_item;

static int by_size_desc(const void *a, const void *b) {
  const order_item *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->slot - y->slot;
}

typedef struct placed {
  int64_t off, end;
  int def, last;
} placed;

static int by_offset(const void *a, const void *b) {
  const placed *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

/* The slot whose place slot s takes: itself, or the root of its alias chain
 * when every link has the same planned size. */
static int alias_root(const int *alias, const int64_t *size, int s) {
  while (alias && alias[s] >= 0 && size[alias[s]] > 0 && size[alias[s]] == size[s]) s = alias[s];
  return s;
}

onyx_status *onyx_memplan_compute(int n_slots, const int64_t *size, const int *def, const int *last,
                                  const int *alias, onyx_memlayout **out) {
  onyx_status *s = NULL;
  onyx_memlayout *l = onyx_calloc(1, sizeof *l);
  order_item *items = onyx_calloc((size_t)n_slots + 1, sizeof *items);
  placed *pl = onyx_calloc((size_t)n_slots + 1, sizeof *pl);
  placed *live = onyx_calloc((size_t)n_slots + 1, sizeof *live);
  int *root = onyx_calloc((size_t)n_slots + 1, sizeof *root);
  int *end = onyx_calloc((size_t)n_slots + 1, sizeof *end);   /* last use of a root's whole chain */
  if (l) {
    l->offset = onyx_calloc((size_t)n_slots + 1, sizeof *l->offset);
    l->size = onyx_calloc((size_t)n_slots + 1, sizeof *l->size);
  }
  if (!l || !items || !pl || !live || !root || !end || !l->offset || !l->size) {
    s = onyx_error_oom();
    goto done;
  }
  l->n_slots = n_slots;
  for (int i = 0; i < n_slots; i++) end[i] = last[i];
  for (int i = 0; i < n_slots; i++) {
    root[i] = size[i] > 0 ? alias_root(alias, size, i) : i;
    if (end[root[i]] < last[i]) end[root[i]] = last[i];
  }
  int n = 0;
  for (int i = 0; i < n_slots; i++) {
    l->offset[i] = -1;
    if (size[i] > 0 && root[i] == i) items[n++] = (order_item){i, (size[i] + ALIGN - 1) / ALIGN * ALIGN};
  }
  qsort(items, (size_t)n, sizeof *items, by_size_desc);
  int n_placed = 0;
  for (int k = 0; k < n; k++) {
    int sl = items[k].slot;
    int64_t need = items[k].size;
    /* the placed slots whose lifetime overlaps this one, by offset */
    int n_live = 0;
    for (int j = 0; j < n_placed; j++)
      if (pl[j].def <= end[sl] && def[sl] <= pl[j].last) live[n_live++] = pl[j];
    qsort(live, (size_t)n_live, sizeof *live, by_offset);
    /* best fit: the smallest gap that holds it, else the end */
    int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
    for (int j = 0; j < n_live; j++) {
      int64_t gap = live[j].off - cursor;
      if (gap >= need && gap < best_gap) {
        best = cursor;
        best_gap = gap;
      }
      if (live[j].end > cursor) cursor = live[j].end;
    }
    if (best < 0) best = cursor;
    l->offset[sl] = best;
    l->size[sl] = need;
    pl[n_placed++] = (placed){best, best + need, def[sl], end[sl]};
    if (best + need > l->arena_bytes) l->arena_bytes = best + need;
  }
  for (int i = 0; i < n_slots; i++)
    if (size[i] > 0 && root[i] != i) {
      l->offset[i] = l->offset[root[i]];
      l->size[i] = l->size[root[i]];
    }
  *out = l;
  l = NULL;
done:
  onyx_memlayout_free(l);
  onyx_free(items);
  onyx_free(pl);
  onyx_free(live);
  onyx_free(root);
  onyx_free(end);
  return s;
}

void onyx_memlayout_free(onyx_memlayout *l) {
  if (!l) return;
  onyx_free(l->offset);
  onyx_free(l->size);
  onyx_free(l);
}
