/* fuse_matmul_add.c — MatMul followed by Add becomes Gemm (level 1).
 *
 * Gemm computes A[M,K] x B[K,N] + C with C broadcast (one way) to [M,N],
 * so the rewrite is legal when both MatMul operands are 2-D float, the
 * MatMul output is read only by the Add, and the Add's other operand has
 * rank <= 2 and broadcasts to [M,N] without growing the result. Batched
 * MatMuls (rank 3+, as in transformers) stay: level 2 fuses their bias into
 * FusedMatMul instead. */
#include <stdio.h>
#include <string.h>

#include "opt.h"

/* dim d of C may stand where the result has r */
static bool dim_fits(int64_t d, int64_t r) { return d == 1 || (d == r && d != ONYX_DIM_UNKNOWN); }

onyx_status *opt_fuse_matmul_add(onyx_graph *g, opt_ctx *c, int *changed) {
  *changed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!opt_is(c, i, "MatMul")) continue;
    const onyx_node *mm = &g->nodes[i];
    const onyx_value *a = &g->values[mm->in[0]], *b = &g->values[mm->in[1]];
    if (a->rank != 2 || b->rank != 2 || a->dtype != ONYX_DTYPE_FLOAT || b->dtype != ONYX_DTYPE_FLOAT)
      continue;
    int ai = opt_single_consumer(c, mm->out[0]);
    if (!opt_is(c, ai, "Add")) continue;
    const onyx_node *add = &g->nodes[ai];
    int cv = opt_other_input(add, mm->out[0]);
    if (cv < 0 || cv == mm->out[0]) continue;
    const onyx_value *cc = &g->values[cv];
    int64_t m = a->dims[0], n = b->dims[1];
    bool ok = cc->dtype == ONYX_DTYPE_FLOAT && cc->rank >= 0 && cc->rank <= 2;
    if (ok && cc->rank >= 1) ok = dim_fits(cc->dims[cc->rank - 1], n);
    if (ok && cc->rank == 2) ok = dim_fits(cc->dims[0], m);
    if (!ok) continue;
    int in[3] = {mm->in[0], mm->in[1], cv}, out[1] = {add->out[0]};
    char name[256];
    snprintf(name, sizeof name, "%s_gemm", mm->name[0] ? mm->name : "matmul");
    int gi;
    ONYX_TRY(opt_add_node(g, name, "Gemm", "", 3, in, 1, out, &gi));
    if (g->nodes[gi].opset > 0 && g->nodes[gi].opset < 7)
      ONYX_TRY(opt_set_int(&g->nodes[gi], "broadcast", 1));
    ONYX_TRY(opt_kill(c, i));
    ONYX_TRY(opt_kill(c, ai));
    c->fused++;
    (*changed)++;
  }
  return NULL;
}
