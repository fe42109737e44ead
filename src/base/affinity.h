/* affinity.h — where a session's threads run and where its memory goes:
 * pinning the intra-op threads to CPUs and binding them to a NUMA node.
 *
 * The intra-op threads are an OpenMP team (parallel.h), and with libgomp a
 * team belongs to the thread that starts it: each caller thread of
 * onyx_session_run has its own workers, which oneDNN's parallel regions
 * reuse. Pinning therefore happens where the team is used: entering a
 * placement (session creation, each run) pins the calling thread for the
 * duration of the call and places its workers inside one parallel region;
 * each worker keeps a thread-local tag of how it is placed, so a worker
 * already placed costs one comparison. libgomp ends a team's surplus
 * threads when a region asks for fewer threads than the last one and
 * starts new ones (which inherit the caller's placement) when a region
 * asks for more, so under a placement (a thread-local that enter sets)
 * onyx_parallel_for keeps the team at the placement's size and its regions
 * check the tag too. A oneDNN primitive that uses fewer threads than the
 * session still ends some: the ones started anew run on the caller's CPU
 * until onyx's next region or the next call places them. Workers stay placed after the
 * call: the team is shared by every session run from that caller thread,
 * so the last placement applied wins, and a session without a placement leaves
 * the workers as the last one left them. (ONNX Runtime gives each session
 * a pool of its own threads instead.) The caller thread's own CPU mask and
 * memory policy are put back when the call returns.
 *
 * NUMA memory binding uses libnuma, loaded with dlopen("libnuma.so.1") so
 * the build does not depend on it: the threads get the "preferred node"
 * memory policy (allocations land on the node, and spill to other nodes
 * rather than fail when it is full), and since pages are placed when first
 * written, the activation arenas and the packed weights written during the
 * call land on the node. A model file's mapped initializers stay where the
 * page cache holds them. */
#ifndef ONYX_BASE_AFFINITY_H
#define ONYX_BASE_AFFINITY_H

#include <sched.h>   /* cpu_set_t (the build defines _GNU_SOURCE) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* How threads are placed, resolved for one team size. */
typedef struct onyx_placement {
  int nthreads;       /* the team size the placement is for */
  int numa_node;      /* -1: no memory binding */
  bool pin_caller;    /* team thread 0 (the caller) is pinned to cpus[0] */
  cpu_set_t *cpus;    /* owned; per team thread; NULL: the placement does nothing */
  uint64_t id;        /* unique per placement: tags the teams already pinned for it */
} onyx_placement;

/* Checks the syntax of an affinity spec without resolving it:
 *   "none" | "compact" | "scatter" | LIST
 * LIST is one CPU group per team thread separated by ';', a group being
 * Linux CPU numbers and ranges ("0,2-3"). With ort_form the list is ONNX
 * Runtime's session.intra_op_thread_affinities: CPU numbers count from 1
 * and the groups are for threads 1..n-1 (the caller thread is not pinned). */
onyx_status *onyx_affinity_check(const char *spec, bool ort_form);

/* Resolves spec (NULL or "" means "none") and numa_node (-1: none) against
 * the CPUs the calling thread may use. *nthreads is the requested team size
 * (0: automatic) and receives the size the placement is for: the number of
 * groups of a list, else the usable CPUs (of the node, when one is given).
 * Errors (INVALID_ARGUMENT): bad syntax, a CPU this process may not use or
 * off the node, a group count that disagrees with a requested size, a node
 * that does not exist; NOT_FOUND: NUMA binding without libnuma. */
onyx_status *onyx_placement_init(onyx_placement *b, const char *spec, bool ort_form, int numa_node,
                               int *nthreads);
void onyx_placement_deinit(onyx_placement *b);

/* What the calling thread had before onyx_placement_enter. */
typedef struct onyx_placement_scope {
  const onyx_placement *outer;   /* the placement current before */
  bool active, cpus_saved, policy_saved;
  cpu_set_t cpus;
  int mode;
  unsigned long nodes[16];
} onyx_placement_scope;

/* Applies b to the calling thread until onyx_placement_leave, and to the
 * workers of its OpenMP team (those not placed for b already). A no-op for
 * a placement that does nothing. RUNTIME error when the system refuses a
 * placement (nothing is left changed on the caller). */
onyx_status *onyx_placement_enter(const onyx_placement *b, onyx_placement_scope *sc);
void onyx_placement_leave(onyx_placement_scope *sc);

/* The placement the calling thread is inside (between enter and leave), or
 * NULL: what onyx_parallel_for's regions place their workers by. */
const onyx_placement *onyx_placement_current(void);

/* Inside a parallel region: places the calling worker, team thread tid, as
 * b says unless it already is (thread 0, the caller, is the scope's).
 * Returns 0 or an errno. */
int onyx_placement_place_worker(const onyx_placement *b, int tid);

/* Parses a Linux cpulist ("0-3,8") of len bytes into *out. */
onyx_status *onyx_cpulist_parse(const char *s, size_t len, cpu_set_t *out);
/* Formats set as a cpulist into buf ("" when empty; truncated with "..."). */
void onyx_cpulist_format(const cpu_set_t *set, char *buf, size_t cap);
/* The CPUs of NUMA node `node` from sysfs; NOT_FOUND when there is no such node. */
onyx_status *onyx_numa_node_cpus(int node, cpu_set_t *out);
/* True when libnuma.so.1 could be loaded and reports NUMA support. */
bool onyx_numa_lib_available(void);

#endif
