/* infer_rnn.c — attribute parsing and shape/type inference for the rnn op
 * family (defs/rnn.def): RNN, GRU and LSTM take X [seq, batch, input]
 * (layout 1: [batch, seq, input]), W [dirs, gates*hidden, input],
 * R [dirs, gates*hidden, hidden], B [dirs, 2*gates*hidden] and return
 * Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]),
 * Y_h and (LSTM) Y_c [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]).
 * The hidden size comes from the attribute, else from R. Works with unknown
 * ranks and dims (load time) and fixed ones (run time). */
#include <strings.h>
#include <string.h>

#include "rnn_ops.h"

static const struct {
  const char *name;
  onyx_rnn_act_kind kind;
  bool alpha, beta;          /* takes alpha / beta */
  float def_alpha, def_beta;
} act_table[] = {
    {"Relu", ONYX_RNN_RELU, false, false, 0, 0},
    {"Tanh", ONYX_RNN_TANH, false, false, 0, 0},
    {"Sigmoid", ONYX_RNN_SIGMOID, false, false, 0, 0},
    {"Affine", ONYX_RNN_AFFINE, true, true, 1.0f, 0.0f},
    {"LeakyRelu", ONYX_RNN_LEAKY_RELU, true, false, 0.01f, 0},
    {"ThresholdedRelu", ONYX_RNN_THRESHOLDED_RELU, true, false, 1.0f, 0},
    {"ScaledTanh", ONYX_RNN_SCALED_TANH, true, true, 1.0f, 1.0f},
    {"HardSigmoid", ONYX_RNN_HARD_SIGMOID, true, true, 0.2f, 0.5f},
    {"Elu", ONYX_RNN_ELU, true, false, 1.0f, 0},
    {"Softsign", ONYX_RNN_SOFTSIGN, false, false, 0, 0},
    {"Softplus", ONYX_RNN_SOFTPLUS, false, false, 0, 0},
};

onyx_status *onyx_rnn_attrs_of(const onyx_node *n, onyx_rnn_attrs *a) {
  memset(a, 0, sizeof *a);
  static const char *const defaults[3][3] = {
      {"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  int kind = n->op == onyx_op_RNN ? 0 : n->op == onyx_op_GRU ? 1 : 2;
  a->gates = kind == 0 ? 1 : kind == 1 ? 3 : 4;
  a->n_act = kind + 1;
  const char *dir = onyx_attr_string(n, "direction", "forward");
  if (!strcmp(dir, "bidirectional")) a->n_dir = 2;
  else if (!strcmp(dir, "forward") || !strcmp(dir, "reverse")) a->n_dir = 1;
  else
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL,
                           "direction '%s' is not one of forward, reverse, bidirectional", dir);
  a->reverse = !strcmp(dir, "reverse");
  const onyx_attr *hs = onyx_node_attr(n, "hidden_size");
  a->hidden = hs ? hs->i : -1;
  if (hs && a->hidden < 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "hidden_size %lld must be >= 1",
                           (long long)a->hidden);
  a->layout = (int)onyx_attr_int(n, "layout", 0);
  if (a->layout != 0 && a->layout != 1)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "layout %d is not 0 or 1", a->layout);
  const onyx_attr *clip = onyx_node_attr(n, "clip");
  a->has_clip = clip != NULL;
  a->clip = clip ? clip->f : 0;
  if (a->has_clip && !(a->clip >= 0))
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "clip %g must be >= 0", (double)a->clip);
  a->linear_before_reset = kind == 1 && onyx_attr_int(n, "linear_before_reset", 0) != 0;
  a->input_forget = kind == 2 && onyx_attr_int(n, "input_forget", 0) != 0;

  const onyx_attr *acts = onyx_node_attr(n, "activations");
  int n_names = acts ? acts->n : a->n_act;
  if (acts && acts->type != ONYX_ATTR_STRINGS)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "activations must be a list of strings");
  if (n_names != a->n_act && n_names != a->n_act * a->n_dir)
    return onyx_node_error(n, ONYX_ERR_INVALID_MODEL, "%d activations given, expected %d",
                           n_names, a->n_act * a->n_dir);
  int na = 0, nb = 0;
  const float *al = NULL, *be = NULL;
  onyx_attr_floats(n, "activation_alpha", &na, &al);
  onyx_attr_floats(n, "activation_beta", &nb, &be);
  int ia = 0, ib = 0;
  for (int i = 0; i < a->n_act * a->n_dir; i++) {
    int k = i % n_names;
    const char *name = acts ? acts->strings[k] : defaults[kind][k];
    size_t t = 0;
    while (t < sizeof act_table / sizeof act_table[0] && strcasecmp(act_table[t].name, name)) t++;
    if (t == sizeof act_table / sizeof act_table[0])
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "activation '%s' is not supported", name);
    onyx_rnn_act *ac = &a->act[i / a->n_act][i % a->n_act];
    ac->kind = act_table[t].kind;
    ac->alpha = act_table[t].def_alpha;
    ac->beta = act_table[t].def_beta;
    if (act_table[t].alpha && ia < na) ac->alpha = al[ia++];
    if (act_table[t].beta && ib < nb) ac->beta = be[ib++];
  }
  return NULL;
}

/* Checks input i (when present and of known rank) has `rank` dims matching
 * `want` where both are known (-1 in want: any). */
static onyx_status *check_input(const onyx_infer_ctx *c, int i, const char *what, int rank,
                                const int64_t *want) {
  if (i >= c->node->n_in || c->in[i].dtype == ONYX_DTYPE_UNDEFINED || c->in[i].rank < 0)
    return NULL;
  const onyx_vinfo *v = &c->in[i];
  if (v->rank != rank)
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "%s has rank %d, expected %d", what,
                           v->rank, rank);
  for (int d = 0; d < rank; d++)
    if (want[d] >= 0 && v->dims[d] >= 0 && want[d] != v->dims[d])
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                             "%s dim %d is %lld, expected %lld", what, d, (long long)v->dims[d],
                             (long long)want[d]);
  return NULL;
}

onyx_status *onyx_infer_rnn(onyx_infer_ctx *c) {
  const onyx_node *n = c->node;
  onyx_rnn_attrs a;
  ONYX_TRY(onyx_rnn_attrs_of(n, &a));
  const onyx_vinfo *x = &c->in[0];
  if (x->rank >= 0 && x->rank != 3)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "X has rank %d, expected 3", x->rank);
  int64_t seq = -1, batch = -1, in = -1, h = a.hidden, g = a.gates, nd = a.n_dir;
  if (x->rank == 3) {
    seq = x->dims[a.layout ? 1 : 0];
    batch = x->dims[a.layout ? 0 : 1];
    in = x->dims[2];
  }
  const onyx_vinfo *r = &c->in[2];
  if (h < 0 && r->rank == 3) h = r->dims[2];   /* may be unknown or symbolic */
  if (h < 0 && r->rank == 3 && r->dims[1] >= 0) h = r->dims[1] / g;
  int64_t gh = h >= 0 ? g * h : -1;
  ONYX_TRY(check_input(c, 1, "W", 3, (int64_t[]){nd, gh, in}));
  ONYX_TRY(check_input(c, 2, "R", 3, (int64_t[]){nd, gh, h}));
  ONYX_TRY(check_input(c, 3, "B", 2, (int64_t[]){nd, gh >= 0 ? 2 * gh : -1}));
  ONYX_TRY(check_input(c, 4, "sequence_lens", 1, (int64_t[]){batch}));
  int64_t state[3] = {nd, batch, h};
  if (a.layout) {
    state[0] = batch;
    state[1] = nd;
  }
  ONYX_TRY(check_input(c, 5, "initial_h", 3, state));
  if (g == 4) {
    ONYX_TRY(check_input(c, 6, "initial_c", 3, state));
    ONYX_TRY(check_input(c, 7, "P", 2, (int64_t[]){nd, h >= 0 ? 3 * h : -1}));
  }
  int n_out = n->n_out < (g == 4 ? 3 : 2) ? n->n_out : (g == 4 ? 3 : 2);
  for (int o = 0; o < n_out; o++) {
    onyx_vinfo *y = &c->out[o];
    y->dtype = x->dtype;
    if (o == 0) {
      y->rank = 4;
      int64_t d[4] = {seq, nd, batch, h};
      if (a.layout) {
        d[0] = batch;
        d[1] = seq;
        d[2] = nd;
      }
      memcpy(y->dims, d, sizeof d);
    } else {
      y->rank = 3;
      memcpy(y->dims, state, sizeof state);
    }
  }
  return NULL;
}
