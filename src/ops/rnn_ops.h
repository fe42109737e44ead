/* rnn_ops.h — attribute logic of the rnn op family (RNN, GRU, LSTM) shared
 * by its infer function (infer_rnn.c) and the cpu kernels
 * (src/providers/cpu/rnn.c): direction, gate count, hidden size, layout and
 * the activation list with its alpha/beta values, read one way for both. */
#ifndef ONYX_OPS_RNN_OPS_H
#define ONYX_OPS_RNN_OPS_H

#include <stdbool.h>

#include "ops.h"

typedef enum onyx_rnn_act_kind {
  ONYX_RNN_RELU, ONYX_RNN_TANH, ONYX_RNN_SIGMOID, ONYX_RNN_AFFINE, ONYX_RNN_LEAKY_RELU,
  ONYX_RNN_THRESHOLDED_RELU, ONYX_RNN_SCALED_TANH, ONYX_RNN_HARD_SIGMOID, ONYX_RNN_ELU,
  ONYX_RNN_SOFTSIGN, ONYX_RNN_SOFTPLUS,
} onyx_rnn_act_kind;

typedef struct onyx_rnn_act {
  onyx_rnn_act_kind kind;
  float alpha, beta;
} onyx_rnn_act;

typedef struct onyx_rnn_attrs {
  int gates;                 /* weight blocks per direction: RNN 1, GRU 3 (zrh), LSTM 4 (iofc) */
  int n_act;                 /* activations per direction: RNN 1 (f), GRU 2 (f, g), LSTM 3 (f, g, h) */
  int n_dir;                 /* 2 for bidirectional, else 1 */
  bool reverse;              /* direction "reverse" (one direction, run backwards) */
  int64_t hidden;            /* hidden_size, or -1 when the attribute is absent */
  int layout;                /* 0: [seq, batch, ...]; 1: [batch, seq, ...] */
  bool has_clip;
  float clip;                /* bound of the pre-activations when has_clip */
  bool linear_before_reset;  /* GRU */
  bool input_forget;         /* LSTM: forget gate = 1 - input gate */
  onyx_rnn_act act[2][3];    /* [direction][f, g, h] */
} onyx_rnn_attrs;

/* Reads the attributes of RNN/GRU/LSTM node n. Activation names are matched
 * without regard to case; a list with one direction's worth of names serves
 * both directions of a bidirectional node. activation_alpha / activation_beta
 * are consumed in list order by the functions that take them (Affine,
 * LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu take alpha;
 * Affine, ScaledTanh, HardSigmoid take beta), as ONNX Runtime does; a missing
 * value takes the default of the ONNX operator of that name (LeakyRelu 0.01,
 * ThresholdedRelu 1, HardSigmoid 0.2 / 0.5, Elu 1, Affine 1 / 0, ScaledTanh
 * 1 / 1). Fails naming the node on unknown values. */
onyx_status *onyx_rnn_attrs_of(const onyx_node *n, onyx_rnn_attrs *a);

#endif
