/* memplan.h — static activation-memory planning: lifetimes -> offsets.
 *
 * Given the byte size of each slot and the steps at which it is defined and
 * last used, assigns offsets in one arena so that no two slots alive at the
 * same time overlap (best fit, largest first, 64-byte alignment). Slots with
 * size < 0 are not planned (graph outputs, data-dependent shapes). */
#ifndef ONYX_MEMPLAN_H
#define ONYX_MEMPLAN_H

#include <stdint.h>

#include "onyx.h"

typedef struct onyx_memlayout {
  uint64_t signature;   /* input-shape signature it was planned for */
  int n_slots;
  int64_t *offset;      /* per slot, -1 when not planned */
  int64_t *size;        /* per slot, bytes reserved */
  int64_t arena_bytes;
} onyx_memlayout;

/* def[s] / last[s]: step indices (last >= def; a slot never read has
 * last == def). alias (may be NULL): alias[s] >= 0 asks that slot s reuse
 * the memory of slot alias[s], an input that dies at the step defining s
 * (in-place elementwise ops); honoured when both are planned with the same
 * size, and chains (x -> y -> z) share one place. Writes a new layout (free
 * with onyx_memlayout_free). */
onyx_status *onyx_memplan_compute(int n_slots, const int64_t *size, const int *def, const int *last,
                                  const int *alias, onyx_memlayout **out);
void onyx_memlayout_free(onyx_memlayout *l);

#endif
