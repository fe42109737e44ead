/* custom_pass.c — registering a graph optimization pass of your own.
 *
 * The pass below removes every node of one op type that merely passes its
 * input through (for example the "Identity" debug taps, or a custom
 * "Checkpoint" op some tools insert), using only the public API: it is
 * registered on the session options at level 1 with onyx_options_add_pass,
 * runs with the built-in passes when the session is made, and its work
 * shows in the session's optimizer statistics.
 *
 *   custom_pass MODEL.onnx [OP_TYPE]      (OP_TYPE defaults to Identity)
 *
 * Prints the optimizer's per-pass table and the node count. */
#include <stdio.h>
#include <string.h>

#include "onyx.h"

/* The pass: walks the nodes from last to first (bypassing a node moves the
 * later ones down by one) and bypasses each node of the chosen type. */
static onyx_status *strip_op(onyx_graph *g, void *arg, int *changed) {
  const char *op_type = arg;
  *changed = 0;
  for (int i = onyx_pass_node_count(g) - 1; i >= 0; i--) {
    if (strcmp(onyx_pass_node_op_type(g, i), op_type) || onyx_pass_node_input_count(g, i) < 1) continue;
    onyx_status *s = onyx_pass_bypass_node(g, i);
    if (s) {   /* e.g. an input wired straight to a graph output: keep it */
      onyx_status_free(s);
      continue;
    }
    (*changed)++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [OP_TYPE]\n", argv[0]);
    return 2;
  }
  const char *op_type = argc > 2 ? argv[2] : "Identity";
  onyx_options *o = NULL;
  onyx_session *s = NULL;
  onyx_status *st = onyx_options_create(&o);
  /* run it alone with the built-ins that clean up after it */
  if (!st) st = onyx_options_add_pass(o, "strip_op", 1, op_type, strip_op, (void *)op_type);
  if (!st) st = onyx_options_disable_passes(o, "noop_elimination");
  if (!st) st = onyx_session_create(argv[1], o, &s);
  if (st) {
    fprintf(stderr, "error: %s\n", onyx_status_message(st));
    onyx_status_free(st);
    onyx_options_destroy(o);
    return 1;
  }
  onyx_optimize_stats stats;
  onyx_session_optimize_stats(s, &stats);
  printf("%lld -> %lld nodes\n", (long long)stats.nodes_before, (long long)stats.nodes_after);
  for (int i = 0; i < stats.n_passes; i++)
    if (stats.passes[i].runs)
      printf("  %-32s removed %lld, fused %lld, folded %lld\n", stats.passes[i].name,
             (long long)stats.passes[i].nodes_removed, (long long)stats.passes[i].fused,
             (long long)stats.passes[i].folded);
  onyx_session_destroy(s);
  onyx_options_destroy(o);
  return 0;
}
