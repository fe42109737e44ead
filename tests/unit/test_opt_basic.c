/* test_opt_basic.c — the level-1 passes: for each, a graph where it must
 * fire (checked by the ops left and by numerics against level 0 within
 * 1e-5 of the output scale) and graphs where it must not (output used
 * twice, non-constant weights, mismatched axes, ...). Level 1 must leave
 * standard ONNX. Pass validation is on (ONYX_VALIDATE_PASSES). */
#include <stdlib.h>

#include "opt_builder.h"

#define REL 1e-5

static const int64_t D4[4] = {2, 3, 5, 5};   /* NCHW */
static const int64_t D2[2] = {4, 6};

/* ---- constant folding ------------------------------------------------------ */

static gb fold_pos(void) {
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, D2);
  int64_t d[1] = {6};
  gb_const_rand(&b, "c1", 1, d, 1, 1, 0);
  gb_const_rand(&b, "c2", 1, d, 2, 1, 0);
  gb_node(&b, "Add", "c1,c2", "s");
  gb_node(&b, "Exp", "s", "e");        /* chains fold in one sweep */
  gb_node(&b, "Mul", "x,e", "y");
  gb_output(&b, "y");
  return b;
}

static gb fold_neg_input(void) {   /* one input is fed at run time */
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, D2);
  int64_t d[1] = {6};
  gb_const_rand(&b, "c1", 1, d, 1, 1, 0);
  gb_node(&b, "Add", "x,c1", "y");
  gb_output(&b, "y");
  return b;
}

static gb fold_neg_bloat(void) {   /* 16 bytes of shape would become 16 MiB */
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, D2);
  int64_t shp[2] = {2048, 2048};
  gb_i64(&b, "shape", 2, shp);
  gb_node(&b, "ConstantOfShape", "shape", "big");
  gb_node(&b, "ReduceSum", "big", "r");
  gb_node(&b, "Add", "x,r", "y");
  gb_output(&b, "y");
  return b;
}

static void test_constant_folding(void) {
  CHECK(gb_count_after(fold_pos, 1, "Add") == 0);
  CHECK(gb_count_after(fold_pos, 1, "Exp") == 0);
  CHECK(gb_count_after(fold_pos, 1, "Mul") == 1);
  CHECK(gb_same_numerics(fold_pos, 1, 1, REL));
  CHECK(gb_count_after(fold_neg_input, 1, "Add") == 1);
  CHECK(gb_count_after(fold_neg_bloat, 1, "ConstantOfShape") == 1);
}

/* ---- shape folding ----------------------------------------------------------- */

static gb shape_pos(void) {   /* Reshape(y, Shape(x)) with x static */
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, D2);
  int64_t d[2] = {6, 4};
  gb_input(&b, "z", ONYX_DTYPE_FLOAT, 2, d);
  gb_node(&b, "Shape", "x", "s");
  gb_node(&b, "Reshape", "z,s", "y");
  gb_output(&b, "y");
  return b;
}

static gb shape_dynamic(void) {   /* batch symbolic: only Gather of dim 1 folds */
  gb b = gb_new(17);
  int64_t d[2] = {-1, 6};
  const char *sym[2] = {"batch", NULL};
  gb_input_sym(&b, "x", 2, d, sym);
  gb_node(&b, "Shape", "x", "s");
  int64_t one = 1;
  gb_const(&b, "i1", ONYX_DTYPE_INT64, 0, NULL, &one);
  gb_node(&b, "Gather", "s,i1", "d1");
  gb_ai(&b, "axis", 0);
  gb_node(&b, "Cast", "d1", "f");
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  gb_node(&b, "Mul", "x,f", "y");
  gb_node(&b, "Cast", "s", "sf");   /* the whole shape: stays dynamic */
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  gb_node(&b, "ReduceSum", "sf", "r");
  gb_node(&b, "Add", "y,r", "out");
  gb_output(&b, "out");
  return b;
}

static void test_shape_folding(void) {
  CHECK(gb_count_after(shape_pos, 1, "Shape") == 0);
  CHECK(gb_same_numerics(shape_pos, 1, 1, REL));
  CHECK(gb_count_after(shape_dynamic, 1, "Gather") == 0);
  CHECK(gb_count_after(shape_dynamic, 1, "Shape") == 1);
  CHECK(gb_same_numerics(shape_dynamic, 1, 3, REL));
}

/* ---- no-op elimination ---------------------------------------------------------- */

static gb noop_pos(void) {
  gb b = gb_new(17);
  int64_t d[3] = {2, 3, 4};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 3, d);
  gb_node(&b, "Identity", "x", "a");
  gb_node(&b, "Dropout", "a", "b");
  gb_node(&b, "Cast", "b", "c");
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  gb_i64(&b, "shp", 3, d);
  gb_node(&b, "Reshape", "c,shp", "e");
  int64_t p1[3] = {1, 2, 0}, p2[3] = {2, 0, 1};
  gb_node(&b, "Transpose", "e", "t1");
  gb_aints(&b, "perm", 3, p1);
  gb_node(&b, "Transpose", "t1", "t2");
  gb_aints(&b, "perm", 3, p2);
  int64_t ax[1] = {1};
  gb_i64(&b, "ax", 1, ax);
  gb_node(&b, "Unsqueeze", "t2,ax", "u");
  gb_node(&b, "Squeeze", "u,ax", "sq");
  gb_node(&b, "Expand", "sq,shp", "ex");
  gb_node(&b, "Relu", "ex", "y");
  gb_output(&b, "y");
  return b;
}

static gb noop_neg(void) {
  gb b = gb_new(17);
  int64_t d[3] = {2, 3, 4};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 3, d);
  gb_node(&b, "Cast", "x", "c");           /* changes the type */
  gb_ai(&b, "to", ONYX_DTYPE_DOUBLE);
  gb_node(&b, "Cast", "c", "c2");
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  int64_t p1[3] = {1, 0, 2}, p2[3] = {0, 2, 1};   /* do not cancel */
  gb_node(&b, "Transpose", "c2", "t1");
  gb_aints(&b, "perm", 3, p1);
  gb_node(&b, "Transpose", "t1", "t2");
  gb_aints(&b, "perm", 3, p2);
  int64_t a1[1] = {0}, a2[1] = {2};               /* mismatched axes */
  gb_i64(&b, "a1", 1, a1);
  gb_i64(&b, "a2", 1, a2);
  gb_node(&b, "Unsqueeze", "t2,a1", "u");
  gb_node(&b, "Unsqueeze", "u,a2", "u2");
  gb_node(&b, "Squeeze", "u2,a1", "sq");
  gb_node(&b, "Dropout", "sq", "dr,mask");        /* mask is read */
  gb_node(&b, "Cast", "mask", "mf");
  gb_ai(&b, "to", ONYX_DTYPE_FLOAT);
  gb_node(&b, "Add", "dr,mf", "y");
  gb_output(&b, "y");
  gb_node(&b, "Identity", "x", "y2");             /* input straight to output */
  gb_output(&b, "y2");
  return b;
}

static void test_noop(void) {
  const char *gone[] = {"Identity", "Dropout", "Cast", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Expand"};
  for (int i = 0; i < 8; i++) {
    int k = gb_count_after(noop_pos, 1, gone[i]);
    if (k) fprintf(stderr, "noop_pos: %s left %d\n", gone[i], k);
    CHECK(k == 0);
  }
  CHECK(gb_count_after(noop_pos, 1, "Relu") == 1);
  CHECK(gb_same_numerics(noop_pos, 1, 1, REL));
  CHECK(gb_count_after(noop_neg, 1, "Cast") == 3);
  CHECK(gb_count_after(noop_neg, 1, "Transpose") == 2);
  CHECK(gb_count_after(noop_neg, 1, "Squeeze") == 1);
  CHECK(gb_count_after(noop_neg, 1, "Dropout") == 1);
  CHECK(gb_count_after(noop_neg, 1, "Identity") == 1);
  CHECK(gb_same_numerics(noop_neg, 1, 1, REL));
}

/* ---- common subexpressions and dead code ---------------------------------------- */

static gb cse_graph(void) {
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 2, D2);
  gb_node(&b, "Relu", "x", "r1");
  gb_node(&b, "Relu", "x", "r2");             /* same as r1 */
  gb_node(&b, "LeakyRelu", "x", "l1");
  gb_af(&b, "alpha", 0.1f);
  gb_node(&b, "LeakyRelu", "x", "l2");        /* other alpha: not the same */
  gb_af(&b, "alpha", 0.2f);
  gb_node(&b, "Sigmoid", "x", "s1");
  gb_node(&b, "Sigmoid", "x", "s2");          /* s2 is a graph output: kept */
  gb_node(&b, "Add", "r1,r2", "a");
  gb_node(&b, "Add", "l1,l2", "b2");
  gb_node(&b, "Add", "a,b2", "c");
  gb_node(&b, "Add", "c,s1", "y");
  gb_node(&b, "Neg", "x", "unused");          /* dead */
  int64_t d[1] = {6};
  gb_const_rand(&b, "dead_w", 1, d, 3, 1, 0);
  gb_node(&b, "Mul", "x,dead_w", "unused2");  /* dead, and its weight */
  gb_output(&b, "y");
  gb_output(&b, "s2");
  return b;
}

static void test_cse_dce(void) {
  CHECK(gb_count_after(cse_graph, 1, "Relu") == 1);
  CHECK(gb_count_after(cse_graph, 1, "LeakyRelu") == 2);
  CHECK(gb_count_after(cse_graph, 1, "Sigmoid") == 2);
  CHECK(gb_count_after(cse_graph, 1, "Neg") == 0);
  CHECK(gb_count_after(cse_graph, 1, "Mul") == 0);
  gb b = cse_graph();
  CHECK_OK(gb_optimize(b.m, 1, NULL));
  CHECK(onyx_graph_find(b.g, "dead_w") < 0 || !b.g->values[onyx_graph_find(b.g, "dead_w")].init);
  onyx_model_destroy(b.m);
  CHECK(gb_same_numerics(cse_graph, 1, 1, REL));
}

/* ---- Conv + BatchNormalization, Conv + Mul/Add --------------------------------------- */

static int conv_variant;   /* which negative case conv_graph builds */

static gb conv_graph(void) {
  gb b = gb_new(17);
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 4, D4);
  int64_t wd[4] = {4, 3, 3, 3}, m[1] = {4};
  if (conv_variant == 2) gb_input(&b, "w", ONYX_DTYPE_FLOAT, 4, wd);   /* weights fed at run time */
  else gb_const_rand(&b, "w", 4, wd, 10, 0.5f, 0);
  gb_const_rand(&b, "cb", 1, m, 11, 0.5f, 0);
  gb_node(&b, "Conv", "x,w,cb", "c");
  int64_t pads[4] = {1, 1, 1, 1};
  gb_aints(&b, "pads", 4, pads);
  gb_const_rand(&b, "scale", 1, m, 12, 0.5f, 1.0f);
  gb_const_rand(&b, "bias", 1, m, 13, 0.5f, 0);
  gb_const_rand(&b, "mean", 1, m, 14, 0.5f, 0);
  gb_const_rand(&b, "var", 1, m, 15, 0.4f, 0.6f);
  gb_node(&b, "BatchNormalization", "c,scale,bias,mean,var", "bn");
  gb_af(&b, "epsilon", 1e-3f);
  int64_t kd[3] = {4, 1, 1}, bad[4] = {1, 1, 1, 5};
  if (conv_variant == 3) gb_const_rand(&b, "k", 4, bad, 16, 0.5f, 1.0f);   /* per-column, not per-channel */
  else gb_const_rand(&b, "k", 3, kd, 16, 0.5f, 1.0f);
  gb_node(&b, "Mul", "bn,k", "mu");
  int64_t ad[4] = {1, 4, 1, 1};
  gb_const_rand(&b, "a", 4, ad, 17, 0.5f, 0);
  gb_node(&b, "Add", "mu,a", "y");
  gb_output(&b, "y");
  if (conv_variant == 1) gb_output(&b, "c");   /* the conv output is used twice */
  return b;
}

static void test_conv_folding(void) {
  conv_variant = 0;
  CHECK(gb_count_after(conv_graph, 1, "BatchNormalization") == 0);
  CHECK(gb_count_after(conv_graph, 1, "Mul") == 0);
  CHECK(gb_count_after(conv_graph, 1, "Add") == 0);
  CHECK(gb_count_after(conv_graph, 1, "Conv") == 1);
  CHECK(gb_same_numerics(conv_graph, 1, 1, REL));
  conv_variant = 1;
  CHECK(gb_count_after(conv_graph, 1, "BatchNormalization") == 1);
  CHECK(gb_same_numerics(conv_graph, 1, 1, REL));
  conv_variant = 2;
  CHECK(gb_count_after(conv_graph, 1, "BatchNormalization") == 1);
  CHECK(gb_same_numerics(conv_graph, 1, 1, REL));
  conv_variant = 3;
  CHECK(gb_count_after(conv_graph, 1, "BatchNormalization") == 0);
  CHECK(gb_count_after(conv_graph, 1, "Mul") == 1);
  CHECK(gb_same_numerics(conv_graph, 1, 1, REL));
  conv_variant = 0;
}

/* ---- MatMul + Add -> Gemm -------------------------------------------------------------- */

static int mm_variant;

static gb matmul_graph(void) {
  gb b = gb_new(17);
  int64_t a3[3] = {2, 4, 6}, wd[2] = {6, 5}, bd[1] = {5}, bad[2] = {4, 1};
  if (mm_variant == 1) gb_input(&b, "a", ONYX_DTYPE_FLOAT, 3, a3);   /* batched: no Gemm */
  else gb_input(&b, "a", ONYX_DTYPE_FLOAT, 2, D2);
  gb_const_rand(&b, "w", 2, wd, 20, 0.5f, 0);
  if (mm_variant == 3) gb_const_rand(&b, "bias", 2, bad, 21, 0.5f, 0);   /* [M,1]: still legal */
  else gb_const_rand(&b, "bias", 1, bd, 21, 0.5f, 0);
  gb_node(&b, "MatMul", "a,w", "m");
  gb_node(&b, "Add", "m,bias", "y");
  gb_output(&b, "y");
  if (mm_variant == 2) gb_output(&b, "m");   /* product used twice */
  return b;
}

static void test_matmul_add(void) {
  mm_variant = 0;
  CHECK(gb_count_after(matmul_graph, 1, "Gemm") == 1);
  CHECK(gb_count_after(matmul_graph, 1, "MatMul") == 0);
  CHECK(gb_same_numerics(matmul_graph, 1, 1, REL));
  mm_variant = 1;
  CHECK(gb_count_after(matmul_graph, 1, "Gemm") == 0);
  mm_variant = 2;
  CHECK(gb_count_after(matmul_graph, 1, "Gemm") == 0);
  mm_variant = 3;
  CHECK(gb_count_after(matmul_graph, 1, "Gemm") == 1);
  CHECK(gb_same_numerics(matmul_graph, 1, 1, REL));
  mm_variant = 0;
}

/* Level 1 never leaves non-standard ops, even where level 2 would fuse. */
static void test_level1_standard(void) {
  conv_variant = 0;
  gb b = conv_graph();
  gb_node(&b, "Relu", "y", "r");
  b.g->outputs[0] = gb_val(&b, "r");
  b.g->values[gb_val(&b, "y")].is_output = false;
  b.g->values[gb_val(&b, "r")].is_output = true;
  CHECK_OK(gb_optimize(b.m, 1, NULL));
  CHECK(gb_count_nonstandard(b.m) == 0);
  onyx_model_destroy(b.m);
}

int main(void) {
  setenv("ONYX_VALIDATE_PASSES", "1", 1);
  test_constant_folding();
  test_shape_folding();
  test_noop();
  test_cse_dce();
  test_conv_folding();
  test_matmul_add();
  test_level1_standard();
  return tu_done("test_opt_basic");
}
