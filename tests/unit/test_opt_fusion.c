/* test_opt_fusion.c — the level-2 fusions into ai.onyx ops (and
 * LayerNormalization): for each, graphs where it must fire, checked by the
 * ops left and by numerics against level 0 (the unfused graph on the
 * standard kernels) within 1e-5 of the output scale, and graphs where it
 * must not (intermediate read twice, wrong constant, mismatched axes or
 * permutation, non-constant bound). */
#include <stdlib.h>

#include "opt_builder.h"

#define REL 1e-5

static int variant;   /* which case the builders below make */

/* ---- Conv + [residual Add] + activation -> FusedConv ----------------------------- */

static gb conv_act(void) {
  gb b = gb_new(17);
  int64_t xd[4] = {2, 3, 6, 6}, wd[4] = {4, 3, 3, 3}, m[1] = {4}, yd[4] = {2, 4, 6, 6};
  gb_input(&b, "x", ONYX_DTYPE_FLOAT, 4, xd);
  gb_input(&b, "z", ONYX_DTYPE_FLOAT, 4, yd);
  gb_const_rand(&b, "w", 4, wd, 1, 0.5f, 0);
  gb_const_rand(&b, "cb", 1, m, 2, 0.5f, 0);
  gb_node(&b, "Conv", "x,w,cb", "c");
  int64_t pads[4] = {1, 1, 1, 1};
  gb_aints(&b, "pads", 4, pads);
  const char *act_in = "c";
  if (variant == 1 || variant == 2) {   /* residual */
    gb_node(&b, "Add", "c,z", "s");
    act_in = "s";
  }
  if (variant == 2) {
    gb_scalar(&b, "lo", 0.0f);
    gb_scalar(&b, "hi", 0.5f);
    char in[32];
    snprintf(in, sizeof in, "%s,lo,hi", act_in);
    gb_node(&b, "Clip", in, "y");
  } else if (variant == 3) {           /* Clip with a bound fed at run time: no fusion */
    gb_input(&b, "hi", ONYX_DTYPE_FLOAT, 0, NULL);
    gb_scalar(&b, "lo", 0.0f);
    gb_node(&b, "Clip", "c,lo,hi", "y");
  } else if (variant == 4) {           /* conv output read twice */
    gb_node(&b, "Relu", "c", "r");
    gb_node(&b, "Add", "r,c", "y");
  } else if (variant == 5) {
    gb_node(&b, "HardSwish", act_in, "y");
  } else {
    gb_node(&b, "Relu", act_in, "y");
  }
  gb_output(&b, "y");
  return b;
}

static void test_conv(void) {
  for (variant = 0; variant <= 5; variant++) {
    int fused = gb_count_after(conv_act, 2, "FusedConv");
    CHECK(fused == (variant == 3 || variant == 4 ? 0 : 1));
    if (fused == 1) {
      CHECK(gb_count_after(conv_act, 2, "Relu") + gb_count_after(conv_act, 2, "Clip") +
                gb_count_after(conv_act, 2, "Add") + gb_count_after(conv_act, 2, "HardSwish") == 0);
    }
    CHECK(gb_same_numerics(conv_act, 2, 1, REL));
  }
  variant = 0;
}

/* ---- Gemm + activation, MatMul + bias + activation ----------------------------------- */

static gb gemm_act(void) {
  gb b = gb_new(17);
  int64_t ad[2] = {5, 8}, wd[2] = {8, 7}, bd[1] = {7};
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 2, ad);
  gb_const_rand(&b, "w", 2, wd, 3, 0.5f, 0);
  gb_const_rand(&b, "bias", 1, bd, 4, 0.5f, 0);
  gb_node(&b, "Gemm", "a,w,bias", "g");
  gb_node(&b, "Sigmoid", "g", "y");
  gb_output(&b, "y");
  if (variant == 1) gb_output(&b, "g");
  return b;
}

static gb matmul_act(void) {
  gb b = gb_new(17);
  int64_t ad[3] = {2, 5, 8}, wd[2] = {8, 7}, bd[1] = {7}, bad[2] = {5, 7};
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 3, ad);
  gb_const_rand(&b, "w", 2, wd, 5, 0.5f, 0);
  if (variant == 1) gb_const_rand(&b, "bias", 2, bad, 6, 0.5f, 0);   /* not a bias: [S, N] */
  else gb_const_rand(&b, "bias", 1, bd, 6, 0.5f, 0);
  gb_node(&b, "MatMul", "a,w", "m");
  gb_node(&b, "Add", "bias,m", "s");
  gb_node(&b, variant == 2 ? "Tanh" : "Relu", "s", "y");
  gb_output(&b, "y");
  return b;
}

static void test_gemm_matmul(void) {
  variant = 0;
  CHECK(gb_count_after(gemm_act, 2, "FusedGemm") == 1);
  CHECK(gb_count_after(gemm_act, 2, "Sigmoid") == 0);
  CHECK(gb_same_numerics(gemm_act, 2, 1, REL));
  variant = 1;
  CHECK(gb_count_after(gemm_act, 2, "FusedGemm") == 0);
  CHECK(gb_same_numerics(gemm_act, 2, 1, REL));
  variant = 0;
  CHECK(gb_count_after(matmul_act, 2, "FusedMatMul") == 1);
  CHECK(gb_count_after(matmul_act, 2, "Add") == 0);
  CHECK(gb_count_after(matmul_act, 2, "Relu") == 0);
  CHECK(gb_same_numerics(matmul_act, 2, 1, REL));
  variant = 1;   /* the Add stays; the MatMul has nothing to fuse */
  CHECK(gb_count_after(matmul_act, 2, "FusedMatMul") == 0);
  CHECK(gb_count_after(matmul_act, 2, "Add") == 1);
  CHECK(gb_same_numerics(matmul_act, 2, 1, REL));
  variant = 2;
  CHECK(gb_count_after(matmul_act, 2, "FusedMatMul") == 1);
  CHECK(gb_same_numerics(matmul_act, 2, 1, REL));
  variant = 0;
}

/* ---- GELU ------------------------------------------------------------------------------ */

/* variant: 0 erf, BERT grouping (x*t)*0.5, with a bias Add before;
 * 1 erf x*(t*0.5) with Mul by 1/sqrt2, no bias; 2 erf (x*0.5)*t;
 * 3 tanh form; 4 wrong constant (0.6); 5 erf output read twice */
static gb gelu_graph(void) {
  gb b = gb_new(13);
  int64_t xd[3] = {2, 3, 16}, bd[1] = {16};
  gb_input(&b, "in", ONYX_DTYPE_FLOAT, 3, xd);
  gb_node(&b, "Mul", "in,in", "x0");   /* keeps x from being a graph input */
  const char *x = "x0";
  if (variant == 0) {
    gb_const_rand(&b, "bias", 1, bd, 7, 0.5f, 0);
    gb_node(&b, "Add", "bias,x0", "x");
    x = "x";
  }
  char in[64];
  gb_scalar(&b, "one", 1.0f);
  gb_scalar(&b, "half", variant == 4 ? 0.6f : 0.5f);
  if (variant == 3) {
    gb_scalar(&b, "three", 3.0f);
    gb_scalar(&b, "k", 0.044715f);
    gb_scalar(&b, "s2pi", 0.7978845608f);
    snprintf(in, sizeof in, "%s,three", x);
    gb_node(&b, "Pow", in, "p");
    gb_node(&b, "Mul", "k,p", "kp");
    snprintf(in, sizeof in, "%s,kp", x);
    gb_node(&b, "Add", in, "inner");
    gb_node(&b, "Mul", "inner,s2pi", "arg");
    gb_node(&b, "Tanh", "arg", "e");
  } else {
    if (variant == 1) {
      gb_scalar(&b, "isq2", 0.70710678f);
      snprintf(in, sizeof in, "%s,isq2", x);
      gb_node(&b, "Mul", in, "d");
    } else {
      gb_scalar(&b, "sq2", 1.41421356f);
      snprintf(in, sizeof in, "%s,sq2", x);
      gb_node(&b, "Div", in, "d");
    }
    gb_node(&b, "Erf", "d", "e");
  }
  gb_node(&b, "Add", "e,one", "t");
  if (variant == 1) {
    gb_node(&b, "Mul", "t,half", "th");
    snprintf(in, sizeof in, "%s,th", x);
    gb_node(&b, "Mul", in, "y");
  } else if (variant == 2) {
    snprintf(in, sizeof in, "%s,half", x);
    gb_node(&b, "Mul", in, "xh");
    gb_node(&b, "Mul", "xh,t", "y");
  } else {
    snprintf(in, sizeof in, "%s,t", x);
    gb_node(&b, "Mul", in, "xt");
    gb_node(&b, "Mul", "xt,half", "y");
  }
  gb_output(&b, "y");
  if (variant == 5) gb_output(&b, "e");
  return b;
}

static void test_gelu(void) {
  for (variant = 0; variant <= 5; variant++) {
    int fused = gb_count_after(gelu_graph, 2, "BiasGelu");
    CHECK(fused == (variant >= 4 ? 0 : 1));
    if (variant <= 3) CHECK(gb_count_after(gelu_graph, 2, variant == 3 ? "Tanh" : "Erf") == 0);
    CHECK(gb_same_numerics(gelu_graph, 2, 1, REL));
  }
  variant = 0;   /* the bias Add went into the op */
  CHECK(gb_count_after(gelu_graph, 2, "Add") == 0);
}

/* MatMul + bias + GELU (the transformer FFN) ends as one FusedMatMul. */
static gb ffn_graph(void) {
  gb b = gb_new(13);
  int64_t xd[3] = {2, 3, 8}, wd[2] = {8, 16}, bd[1] = {16};
  gb_input(&b, "in", ONYX_DTYPE_FLOAT, 3, xd);
  gb_const_rand(&b, "w", 2, wd, 8, 0.5f, 0);
  gb_const_rand(&b, "bias", 1, bd, 9, 0.5f, 0);
  gb_node(&b, "MatMul", "in,w", "m");
  gb_node(&b, "Add", "bias,m", "x");
  gb_scalar(&b, "one", 1.0f);
  gb_scalar(&b, "half", 0.5f);
  gb_scalar(&b, "sq2", 1.41421356f);
  gb_node(&b, "Div", "x,sq2", "d");
  gb_node(&b, "Erf", "d", "e");
  gb_node(&b, "Add", "e,one", "t");
  gb_node(&b, "Mul", "x,t", "xt");
  gb_node(&b, "Mul", "xt,half", "y");
  gb_output(&b, "y");
  return b;
}

static void test_ffn(void) {
  gb b = ffn_graph();
  CHECK_OK(gb_optimize(b.m, 2, NULL));
  CHECK(b.g->n_nodes == 1 && gb_count(b.m, "FusedMatMul") == 1);
  onyx_model_destroy(b.m);
  CHECK(gb_same_numerics(ffn_graph, 2, 1, REL));
}

/* ---- LayerNormalization and SkipLayerNormalization ------------------------------------------ */

/* variant: 0 full pattern with a residual Add before (-> SkipLayerNorm);
 * 1 no gamma/beta; 2 ReduceMean over axis 1 (mismatched axes); 3 eps fed
 * at run time; 4 the centred value read outside; 5 different axes on the
 * two ReduceMeans */
static gb ln_graph(void) {
  gb b = gb_new(13);
  int64_t xd[3] = {2, 4, 32}, pd[1] = {32};
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 3, xd);
  gb_input(&b, "r", ONYX_DTYPE_FLOAT, 3, xd);
  gb_node(&b, "Add", "a,r", "x");
  int64_t last[1] = {-1}, one[1] = {1};
  gb_node(&b, "ReduceMean", "x", "m");
  gb_aints(&b, "axes", 1, variant == 2 ? one : last);
  gb_node(&b, "Sub", "x,m", "d");
  gb_scalar(&b, "two", 2.0f);
  gb_node(&b, "Pow", "d,two", "p");
  gb_node(&b, "ReduceMean", "p", "v");
  gb_aints(&b, "axes", 1, variant == 2 || variant == 5 ? one : last);
  if (variant == 3) {   /* positive, but not a constant */
    gb_input(&b, "e_in", ONYX_DTYPE_FLOAT, 0, NULL);
    gb_node(&b, "Exp", "e_in", "eps");
  }
  else gb_scalar(&b, "eps", 1e-5f);
  gb_node(&b, "Add", "v,eps", "ve");
  gb_node(&b, "Sqrt", "ve", "sd");
  gb_node(&b, "Div", "d,sd", "n");
  if (variant == 1) {
    gb_node(&b, "Identity", "n", "y");
  } else {
    gb_const_rand(&b, "gamma", 1, pd, 10, 0.5f, 1.0f);
    gb_const_rand(&b, "beta", 1, pd, 11, 0.5f, 0);
    gb_node(&b, "Mul", "n,gamma", "ng");
    gb_node(&b, "Add", "ng,beta", "y");
  }
  gb_output(&b, "y");
  if (variant == 4) gb_output(&b, "d");
  return b;
}

static void test_layer_norm(void) {
  variant = 0;
  CHECK(gb_count_after(ln_graph, 2, "SkipLayerNormalization") == 1);
  CHECK(gb_count_after(ln_graph, 2, "ReduceMean") == 0);
  CHECK(gb_count_after(ln_graph, 2, "Add") == 0);
  CHECK(gb_same_numerics(ln_graph, 2, 1, REL));
  variant = 1;
  CHECK(gb_count_after(ln_graph, 2, "SkipLayerNormalization") == 1);
  CHECK(gb_same_numerics(ln_graph, 2, 1, REL));
  for (variant = 2; variant <= 5; variant++) {
    CHECK(gb_count_after(ln_graph, 2, "LayerNormalization") == 0);
    CHECK(gb_count_after(ln_graph, 2, "SkipLayerNormalization") == 0);
    CHECK(gb_same_numerics(ln_graph, 2, 1, REL));
  }
  variant = 0;
}

/* SkipLayerNormalization over operands that broadcast ([B,S,H] + [S,H]). */
static gb skip_bcast(void) {
  gb b = gb_new(17);
  int64_t xd[3] = {2, 4, 16}, sd[2] = {4, 16}, pd[1] = {16};
  gb_input(&b, "a", ONYX_DTYPE_FLOAT, 3, xd);
  gb_input(&b, "s", ONYX_DTYPE_FLOAT, 2, sd);
  gb_node(&b, "Add", "s,a", "x");
  gb_const_rand(&b, "gamma", 1, pd, 12, 0.5f, 1.0f);
  gb_const_rand(&b, "beta", 1, pd, 13, 0.5f, 0);
  gb_node(&b, "LayerNormalization", "x,gamma,beta", "y");
  gb_af(&b, "epsilon", variant ? 1e-3f : 1e-5f);
  if (variant == 1) gb_ai(&b, "axis", 1);   /* not the last axis: no fusion */
  gb_output(&b, "y");
  return b;
}

static void test_skip_layer_norm(void) {
  variant = 0;
  CHECK(gb_count_after(skip_bcast, 2, "SkipLayerNormalization") == 1);
  CHECK(gb_same_numerics(skip_bcast, 2, 1, REL));
  variant = 1;
  CHECK(gb_count_after(skip_bcast, 2, "SkipLayerNormalization") == 0);
  CHECK(gb_same_numerics(skip_bcast, 2, 1, REL));
  variant = 0;
}

/* ---- attention ------------------------------------------------------------------------- */

/* BERT's self-attention core on [B, S, heads=2, head=8] projections with a
 * [B,1,1,S] additive mask. variant: 0 Div scale + mask; 1 Mul scale, no
 * mask; 2 K transposed like Q (wrong permutation); 3 softmax on axis 2;
 * 4 scores read twice */
static gb attention_graph(void) {
  gb b = gb_new(13);
  int64_t pd[4] = {-1, -1, 2, 8}, md[4] = {-1, 1, 1, -1};
  const char *sym[4] = {"batch", "seq", NULL, NULL};
  gb_input_sym(&b, "q", 4, pd, sym);
  gb_input_sym(&b, "k", 4, pd, sym);
  gb_input_sym(&b, "v", 4, pd, sym);
  const char *msym[4] = {"batch", NULL, NULL, "seq"};
  if (variant != 1) gb_input_sym(&b, "mask", 4, md, msym);
  int64_t p0213[4] = {0, 2, 1, 3}, p0231[4] = {0, 2, 3, 1};
  gb_node(&b, "Transpose", "q", "qt");
  gb_aints(&b, "perm", 4, p0213);
  gb_node(&b, "Transpose", "k", "kt");
  gb_aints(&b, "perm", 4, variant == 2 ? p0213 : p0231);
  gb_node(&b, "Transpose", "v", "vt");
  gb_aints(&b, "perm", 4, p0213);
  if (variant == 2) {   /* keep the shapes valid: transpose K back on the last axes */
    int64_t p0132[4] = {0, 1, 3, 2};
    gb_node(&b, "Transpose", "kt", "kt2");
    gb_aints(&b, "perm", 4, p0132);
    gb_node(&b, "MatMul", "qt,kt2", "sc");
  } else {
    gb_node(&b, "MatMul", "qt,kt", "sc");
  }
  if (variant == 1) {
    gb_scalar(&b, "c", 0.35355339f);
    gb_node(&b, "Mul", "sc,c", "ss");
    gb_node(&b, "Softmax", "ss", "p");
    gb_ai(&b, "axis", 3);
  } else {
    gb_scalar(&b, "c", 2.8284271f);
    gb_node(&b, "Div", "sc,c", "ss");
    gb_node(&b, "Add", "ss,mask", "sm");
    gb_node(&b, "Softmax", "sm", "p");
    gb_ai(&b, "axis", variant == 3 ? 2 : -1);
  }
  gb_node(&b, "MatMul", "p,vt", "o");
  gb_node(&b, "Transpose", "o", "y");
  gb_aints(&b, "perm", 4, p0213);
  gb_output(&b, "y");
  if (variant == 4) gb_output(&b, "sc");
  return b;
}

static void test_attention(void) {
  for (variant = 0; variant <= 4; variant++) {
    int fused = gb_count_after(attention_graph, 2, "Attention");
    CHECK(fused == (variant <= 1 ? 1 : 0));
    if (fused == 1) CHECK(gb_count_after(attention_graph, 2, "Softmax") == 0);
    CHECK(gb_same_numerics(attention_graph, 2, 5, REL));
  }
  variant = 0;
}

int main(void) {
  setenv("ONYX_VALIDATE_PASSES", "1", 1);
  test_conv();
  test_gemm_matmul();
  test_gelu();
  test_ffn();
  test_layer_norm();
  test_skip_layer_norm();
  test_attention();
  return tu_done("test_opt_fusion");
}
