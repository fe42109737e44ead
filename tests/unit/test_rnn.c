/* test_rnn.c — RNN, GRU and LSTM against a naive double-precision reference
 * written from the ONNX equations (one batch entry and one gate unit at a
 * time, no GEMM): every direction, each activation with alpha/beta, clip,
 * sequence_lens (forward and reverse), initial_h / initial_c, peepholes,
 * input_forget, linear_before_reset, layout 0 and 1, omitted outputs,
 * weights fed at run time or constant (packed at prepare), threads, float16,
 * and malformed inputs. */
#include <ctype.h>
#include <strings.h>

#include "base/half.h"
#include "test_util.h"

typedef struct rnn_case {
  const char *op;               /* RNN, GRU, LSTM */
  int64_t seq, batch, in, h;
  const char *dir;
  int layout;
  bool bias, lens, h0, c0, peep;
  float clip;                   /* 0: none */
  bool lbr, input_forget;
  int n_act;
  const char *acts[6];
  int n_alpha, n_beta;
  float alpha[6], beta[6];
  bool const_w;
  int threads;
  onyx_dtype dt;
  bool no_y, no_yh;
} rnn_case;

/* ---- reference --------------------------------------------------------------- */

typedef struct ref_act {
  char name[32];
  double alpha, beta;
} ref_act;

static double act(const ref_act *a, double x) {
  const char *n = a->name;
  if (!strcasecmp(n, "Relu")) return x > 0 ? x : 0;
  if (!strcasecmp(n, "Tanh")) return tanh(x);
  if (!strcasecmp(n, "Sigmoid")) return 1 / (1 + exp(-x));
  if (!strcasecmp(n, "Affine")) return a->alpha * x + a->beta;
  if (!strcasecmp(n, "LeakyRelu")) return x >= 0 ? x : a->alpha * x;
  if (!strcasecmp(n, "ThresholdedRelu")) return x >= a->alpha ? x : 0;
  if (!strcasecmp(n, "ScaledTanh")) return a->alpha * tanh(a->beta * x);
  if (!strcasecmp(n, "HardSigmoid")) return fmin(fmax(a->alpha * x + a->beta, 0), 1);
  if (!strcasecmp(n, "Elu")) return x >= 0 ? x : a->alpha * (exp(x) - 1);
  if (!strcasecmp(n, "Softsign")) return x / (1 + fabs(x));
  return log(1 + exp(x));   /* Softplus */
}

/* The activation list of the case per direction, with alpha/beta handed out
 * in order to the functions that take them, defaults otherwise. */
static void ref_acts(const rnn_case *rc, int per_dir, int nd, ref_act out[2][3]) {
  static const char *const defs[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  int ia = 0, ib = 0;
  for (int i = 0; i < per_dir * nd; i++) {
    ref_act *a = &out[i / per_dir][i % per_dir];
    const char *n = rc->n_act ? rc->acts[i % rc->n_act] : defs[per_dir - 1][i % per_dir];
    snprintf(a->name, sizeof a->name, "%s", n);
    bool ta = false, tb = false;
    a->alpha = a->beta = 0;
    if (!strcasecmp(n, "Affine")) { ta = tb = true; a->alpha = 1; }
    if (!strcasecmp(n, "LeakyRelu")) { ta = true; a->alpha = 0.01; }
    if (!strcasecmp(n, "ThresholdedRelu")) { ta = true; a->alpha = 1; }
    if (!strcasecmp(n, "ScaledTanh")) { ta = tb = true; a->alpha = a->beta = 1; }
    if (!strcasecmp(n, "HardSigmoid")) { ta = tb = true; a->alpha = 0.2; a->beta = 0.5; }
    if (!strcasecmp(n, "Elu")) { ta = true; a->alpha = 1; }
    if (ta && ia < rc->n_alpha) a->alpha = rc->alpha[ia++];
    if (tb && ib < rc->n_beta) a->beta = rc->beta[ib++];
  }
}

static double clipv(const rnn_case *rc, double x) {
  if (rc->clip <= 0) return x;
  return x < -rc->clip ? -rc->clip : x > rc->clip ? rc->clip : x;
}

typedef struct ref_io {
  const double *x, *w, *r, *b, *h0, *c0, *p;
  const int32_t *lens;
  double *y, *yh, *yc;
} ref_io;

static void reference(const rnn_case *rc, const ref_io *io) {
  int kind = !strcmp(rc->op, "RNN") ? 0 : !strcmp(rc->op, "GRU") ? 1 : 2;
  int G = kind == 0 ? 1 : kind == 1 ? 3 : 4, nd = !strcmp(rc->dir, "bidirectional") ? 2 : 1;
  int64_t S = rc->seq, Bt = rc->batch, I = rc->in, H = rc->h;
  ref_act acts[2][3];
  ref_acts(rc, kind + 1, nd, acts);
  double *hs = calloc((size_t)H, sizeof *hs), *cs = calloc((size_t)H, sizeof *cs);
  double *g = calloc((size_t)(G * H), sizeof *g), *hn = calloc((size_t)H, sizeof *hn);
  for (int64_t i = 0; i < S * nd * Bt * H; i++) io->y[i] = 0;
  for (int d = 0; d < nd; d++) {
    bool back = d == 1 || !strcmp(rc->dir, "reverse");
    const double *W = io->w + d * G * H * I, *R = io->r + d * G * H * H;
    const double *Wb = io->b ? io->b + d * 2 * G * H : NULL, *Rb = Wb ? Wb + G * H : NULL;
    for (int64_t b = 0; b < Bt; b++) {
      int64_t so = rc->layout ? (b * nd + d) * H : (d * Bt + b) * H;
      for (int64_t k = 0; k < H; k++) {
        hs[k] = io->h0 ? io->h0[so + k] : 0;
        cs[k] = io->c0 ? io->c0[so + k] : 0;
      }
      int64_t len = io->lens ? io->lens[b] : S;
      for (int64_t s = 0; s < len; s++) {
        int64_t t = back ? len - 1 - s : s;
        const double *xt = io->x + (rc->layout ? b * S + t : t * Bt + b) * I;
        /* gate pre-activations without the recurrent part of GRU's h gate */
        for (int64_t u = 0; u < G * H; u++) {
          double v = Wb ? Wb[u] : 0;
          for (int64_t i = 0; i < I; i++) v += xt[i] * W[u * I + i];
          if (!(kind == 1 && u >= 2 * H)) {
            v += Rb ? Rb[u] : 0;
            for (int64_t j = 0; j < H; j++) v += hs[j] * R[u * H + j];
          }
          g[u] = v;
        }
        if (kind == 0) {
          for (int64_t k = 0; k < H; k++) hn[k] = act(&acts[d][0], clipv(rc, g[k]));
        } else if (kind == 1) {
          for (int64_t k = 0; k < H; k++) {
            double z = act(&acts[d][0], clipv(rc, g[k]));
            double r = act(&acts[d][0], clipv(rc, g[H + k]));
            double rec = 0, rb = Rb ? Rb[2 * H + k] : 0;
            const double *Rh = R + (2 * H + k) * H;
            if (rc->lbr) {
              for (int64_t j = 0; j < H; j++) rec += hs[j] * Rh[j];
              rec = r * (rec + rb);
            } else {
              for (int64_t j = 0; j < H; j++) {
                double rj = act(&acts[d][0], clipv(rc, g[H + j]));
                rec += rj * hs[j] * Rh[j];
              }
              rec += rb;
            }
            double hh = act(&acts[d][1], clipv(rc, g[2 * H + k] + rec));
            hn[k] = (1 - z) * hh + z * hs[k];
          }
        } else {
          const double *P = io->p ? io->p + d * 3 * H : NULL;
          for (int64_t k = 0; k < H; k++) {
            double pi = P ? P[k] : 0, po = P ? P[H + k] : 0, pf = P ? P[2 * H + k] : 0;
            double i = act(&acts[d][0], clipv(rc, g[k] + pi * cs[k]));
            double f = rc->input_forget ? 1 - i : act(&acts[d][0], clipv(rc, g[2 * H + k] + pf * cs[k]));
            double c = act(&acts[d][1], clipv(rc, g[3 * H + k]));
            double cn = f * cs[k] + i * c;
            double o = act(&acts[d][0], clipv(rc, g[H + k] + po * cn));
            hn[k] = o * act(&acts[d][2], cn);
            cs[k] = cn;
          }
        }
        memcpy(hs, hn, (size_t)H * sizeof *hs);
        int64_t yo = rc->layout ? ((b * S + t) * nd + d) * H : ((t * nd + d) * Bt + b) * H;
        memcpy(io->y + yo, hs, (size_t)H * sizeof *hs);
      }
      memcpy(io->yh + so, hs, (size_t)H * sizeof *hs);
      memcpy(io->yc + so, cs, (size_t)H * sizeof *cs);
    }
  }
  free(hs);
  free(cs);
  free(g);
  free(hn);
}

/* ---- running a case ---------------------------------------------------------- */

/* n random values in [-scale, scale), as the dtype stores them */
static double *rand_vals(const rnn_case *rc, int64_t n, double scale, unsigned seed) {
  float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  tu_fill_random(f, (size_t)n, seed);
  for (int64_t i = 0; i < n; i++) {
    float x = (float)(scale * f[i]);
    v[i] = rc->dt == ONYX_DTYPE_FLOAT ? x : onyx_f16_to_f32(onyx_f32_to_f16(x));
  }
  free(f);
  return v;
}

static int compare(const char *what, onyx_tensor *t, const double *want, int64_t n, double tol) {
  if (!t) return 1;
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(onyx_tensor_get_f64(t, i) - want[i]) <= tol * (1 + fabs(want[i])))) {
      if (!bad) fprintf(stderr, "  %s[%lld]: got %g, want %g\n", what, (long long)i, onyx_tensor_get_f64(t, i), want[i]);
      bad++;
    }
  return bad;
}

static void run_case(const rnn_case *rc, unsigned seed) {
  int kind = !strcmp(rc->op, "RNN") ? 0 : !strcmp(rc->op, "GRU") ? 1 : 2;
  int64_t G = kind == 0 ? 1 : kind == 1 ? 3 : 4, nd = !strcmp(rc->dir, "bidirectional") ? 2 : 1;
  int64_t S = rc->seq, B = rc->batch, I = rc->in, H = rc->h;
  int64_t xd[3] = {S, B, I}, wd[3] = {nd, G * H, I}, rd[3] = {nd, G * H, H}, bd[2] = {nd, 2 * G * H};
  int64_t sd[3] = {nd, B, H}, pd[2] = {nd, 3 * H}, ld[1] = {B};
  if (rc->layout) {
    xd[0] = B;
    xd[1] = S;
    sd[0] = B;
    sd[1] = nd;
  }
  double *x = rand_vals(rc, S * B * I, 1.0, seed), *w = rand_vals(rc, nd * G * H * I, 0.6, seed + 1);
  double *r = rand_vals(rc, nd * G * H * H, 0.6, seed + 2), *b = rand_vals(rc, nd * 2 * G * H, 0.5, seed + 3);
  double *h0 = rand_vals(rc, nd * B * H, 0.8, seed + 4), *c0 = rand_vals(rc, nd * B * H, 0.8, seed + 5);
  double *p = rand_vals(rc, nd * 3 * H, 0.5, seed + 6);
  int32_t *lens = malloc((size_t)B * sizeof *lens);
  for (int64_t i = 0; i < B; i++) lens[i] = (int32_t)(S - i % (S + 1));   /* S, S-1, ..., 0, S, ... */
  double *y = calloc((size_t)(S * nd * B * H), sizeof *y), *yh = calloc((size_t)(nd * B * H), sizeof *yh);
  double *yc = calloc((size_t)(nd * B * H), sizeof *yc);
  ref_io io = {x, w, r, rc->bias ? b : NULL, rc->h0 ? h0 : NULL, rc->c0 ? c0 : NULL,
               rc->peep ? p : NULL, rc->lens ? lens : NULL, y, yh, yc};
  reference(rc, &io);

  int n_in = kind == 2 ? 8 : 6, n_out = kind == 2 ? 3 : 2;
  tu_node t = tu_node_new(rc->op, 14, n_in, n_out);
  tu_attr_int(&t, "hidden_size", H);
  tu_attr_string(&t, "direction", rc->dir);
  if (rc->layout) tu_attr_int(&t, "layout", 1);
  if (rc->clip > 0) tu_attr_float(&t, "clip", rc->clip);
  if (rc->lbr) tu_attr_int(&t, "linear_before_reset", 1);
  if (rc->input_forget) tu_attr_int(&t, "input_forget", 1);
  if (rc->n_act) tu_set_strings(tu_n(&t), "activations", rc->n_act, rc->acts);
  if (rc->n_alpha) tu_set_floats(tu_n(&t), "activation_alpha", rc->n_alpha, rc->alpha);
  if (rc->n_beta) tu_set_floats(tu_n(&t), "activation_beta", rc->n_beta, rc->beta);
  onyx_tensor *in[8] = {0}, *out[3] = {0};
  int fed = 0;
  /* input i: fed at run time, constant, or omitted */
#define INPUT(i, present, constant, dt, rank, dims, tensor)                       \
  do {                                                                            \
    if (!(present)) {                                                             \
      tu_n(&t)->in[i] = -1;                                                       \
      break;                                                                      \
    }                                                                             \
    onyx_tensor *tt_ = (tensor);                                                  \
    if (constant) {                                                               \
      tu_const(&t, i, dt, rank, dims, onyx_tensor_data(tt_));                     \
      onyx_tensor_free(tt_);                                                      \
    } else {                                                                      \
      tu_input(&t, i, dt, rank, dims);                                            \
      in[fed++] = tt_;                                                            \
    }                                                                             \
  } while (0)
  onyx_tensor *lt;
  onyx_tensor_create(ONYX_DTYPE_INT32, 1, ld, &lt);
  memcpy(onyx_tensor_data(lt), lens, (size_t)B * sizeof *lens);
  INPUT(0, true, false, rc->dt, 3, xd, tu_from_f64(rc->dt, 3, xd, x));
  INPUT(1, true, rc->const_w, rc->dt, 3, wd, tu_from_f64(rc->dt, 3, wd, w));
  INPUT(2, true, rc->const_w, rc->dt, 3, rd, tu_from_f64(rc->dt, 3, rd, r));
  INPUT(3, rc->bias, rc->const_w, rc->dt, 2, bd, tu_from_f64(rc->dt, 2, bd, b));
  INPUT(4, rc->lens, false, ONYX_DTYPE_INT32, 1, ld, lt);
  if (!rc->lens) onyx_tensor_free(lt);
  INPUT(5, rc->h0, false, rc->dt, 3, sd, tu_from_f64(rc->dt, 3, sd, h0));
  if (kind == 2) {
    INPUT(6, rc->c0, false, rc->dt, 3, sd, tu_from_f64(rc->dt, 3, sd, c0));
    INPUT(7, rc->peep, rc->const_w, rc->dt, 2, pd, tu_from_f64(rc->dt, 2, pd, p));
  }
#undef INPUT
  /* omitted outputs leave the graph's output list */
  onyx_graph *g = t.m->graph;
  int outs[3], n_outs = 0;
  for (int o = 0; o < n_out; o++) {
    if ((o == 0 && rc->no_y) || (o == 1 && rc->no_yh)) {
      tu_n(&t)->out[o] = -1;
      continue;
    }
    outs[n_outs++] = tu_n(&t)->out[o];
  }
  onyx_graph_set_outputs(g, n_outs, outs);
  onyx_tensor *got[3] = {0};
  CHECK_OK(tu_run(&t, rc->threads, fed, in, n_outs, got));
  for (int o = 0, k = 0; o < n_out; o++)
    if (!((o == 0 && rc->no_y) || (o == 1 && rc->no_yh))) out[o] = got[k++];
  double tol = rc->dt == ONYX_DTYPE_FLOAT ? 2e-5 : 6e-3;
  int bad = rc->no_y ? 0 : compare("Y", out[0], y, S * nd * B * H, tol);
  if (!rc->no_yh) bad += compare("Y_h", out[1], yh, nd * B * H, tol);
  if (kind == 2) bad += compare("Y_c", out[2], yc, nd * B * H, tol);
  CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "  case %s dir=%s layout=%d lens=%d h0=%d clip=%g lbr=%d peep=%d if=%d const=%d threads=%d\n",
            rc->op, rc->dir, rc->layout, rc->lens, rc->h0, (double)rc->clip, rc->lbr, rc->peep,
            rc->input_forget, rc->const_w, rc->threads);
  if (!rc->no_y && out[0]) {
    int64_t want[4] = {S, nd, B, H};
    if (rc->layout) {
      want[0] = B;
      want[1] = S;
      want[2] = nd;
    }
    CHECK(onyx_tensor_rank(out[0]) == 4 && !memcmp(onyx_tensor_dims(out[0]), want, sizeof want));
  }
  for (int i = 0; i < 8; i++) onyx_tensor_free(in[i]);
  for (int i = 0; i < 3; i++) onyx_tensor_free(out[i]);
  free(x), free(w), free(r), free(b), free(h0), free(c0), free(p), free(lens);
  free(y), free(yh), free(yc);
}

static rnn_case base(const char *op) {
  rnn_case rc = {0};
  rc.op = op;
  rc.seq = 5;
  rc.batch = 3;
  rc.in = 4;
  rc.h = 6;
  rc.dir = "forward";
  rc.threads = 1;
  rc.dt = ONYX_DTYPE_FLOAT;
  return rc;
}

/* Every op over directions, layouts, sequence_lens, initial states, bias,
 * clip and the op's own options, weights fed or constant. */
static void test_options(void) {
  static const char *const ops[] = {"RNN", "GRU", "LSTM"};
  static const char *const dirs[] = {"forward", "reverse", "bidirectional"};
  unsigned seed = 10;
  for (int o = 0; o < 3; o++)
    for (int d = 0; d < 3; d++)
      for (int v = 0; v < 4; v++) {
        rnn_case rc = base(ops[o]);
        rc.dir = dirs[d];
        rc.layout = v & 1;
        rc.bias = v != 0;
        rc.lens = v >= 2;
        rc.h0 = rc.c0 = v == 1 || v == 3;
        rc.clip = v == 3 ? 0.7f : 0;
        rc.lbr = o == 1 && (v & 1);
        rc.peep = o == 2 && v >= 1;
        rc.input_forget = o == 2 && v == 2;
        rc.const_w = v == 1 || v == 2;
        run_case(&rc, seed);
        seed += 10;
      }
}

/* Each activation, with given and default alpha/beta, in each op. */
static void test_activations(void) {
  static const char *const names[] = {"Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu",
                                      "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu",
                                      "Softsign", "Softplus"};
  unsigned seed = 500;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    for (int given = 0; given < 2; given++) {
      rnn_case rc = base("RNN");
      rc.dir = "bidirectional";
      rc.n_act = 2;
      rc.acts[0] = names[i];
      rc.acts[1] = names[(i + 3) % 11];
      if (given) {
        rc.n_alpha = 2;
        rc.alpha[0] = 0.35f;
        rc.alpha[1] = 1.6f;
        rc.n_beta = 2;
        rc.beta[0] = 0.4f;
        rc.beta[1] = -0.3f;
      }
      rc.bias = true;
      run_case(&rc, seed++);
    }
  rnn_case gru = base("GRU");
  gru.dir = "bidirectional";
  gru.n_act = 4;
  const char *ga[4] = {"HardSigmoid", "ScaledTanh", "sigmoid", "softsign"};   /* any case */
  memcpy(gru.acts, ga, sizeof ga);
  gru.n_alpha = 2;
  gru.alpha[0] = 0.3f;
  gru.alpha[1] = 0.9f;
  gru.n_beta = 2;
  gru.beta[0] = 0.45f;
  gru.beta[1] = 1.3f;
  gru.bias = gru.h0 = true;
  run_case(&gru, 600);
  gru.lbr = true;
  run_case(&gru, 601);
  rnn_case lstm = base("LSTM");
  lstm.dir = "bidirectional";
  lstm.n_act = 6;
  const char *la[6] = {"HardSigmoid", "Elu", "Softsign", "Sigmoid", "Softplus", "Affine"};
  memcpy(lstm.acts, la, sizeof la);
  lstm.n_alpha = 3;
  lstm.alpha[0] = 0.25f;
  lstm.alpha[1] = 0.5f;
  lstm.alpha[2] = 0.8f;
  lstm.n_beta = 1;
  lstm.beta[0] = 0.4f;
  lstm.bias = lstm.peep = lstm.h0 = lstm.c0 = true;
  run_case(&lstm, 602);
  /* one direction's list serves both directions */
  lstm.n_act = 3;
  lstm.n_alpha = lstm.n_beta = 0;
  run_case(&lstm, 603);
}

/* Sizes where the per-step GEMM is split over threads, weights constant and
 * fed; omitted outputs; float16. */
static void test_big_threads_outputs_f16(void) {
  static const char *const ops[] = {"RNN", "GRU", "LSTM"};
  for (int o = 0; o < 3; o++)
    for (int cw = 0; cw < 2; cw++) {
      rnn_case rc = base(ops[o]);
      rc.seq = 3;
      rc.batch = 16;
      rc.in = 20;
      rc.h = 96;
      rc.dir = "bidirectional";
      rc.bias = rc.lens = rc.h0 = rc.c0 = true;
      rc.const_w = cw;
      rc.threads = 4;
      run_case(&rc, 700u + (unsigned)(o * 2 + cw));
    }
  rnn_case rc = base("LSTM");
  rc.no_y = true;
  rc.bias = true;
  run_case(&rc, 800);
  rc.no_y = false;
  rc.no_yh = true;
  run_case(&rc, 801);
  static const char *const ops16[] = {"RNN", "GRU", "LSTM"};
  for (int o = 0; o < 3; o++) {
    rnn_case h = base(ops16[o]);
    h.dt = ONYX_DTYPE_FLOAT16;
    h.bias = h.lens = h.h0 = true;
    h.dir = "bidirectional";
    run_case(&h, 900u + (unsigned)o);
  }
}

static void test_errors(void) {
  int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 4, 3}, rd[3] = {1, 4, 4};
  float xv[6] = {0}, wv[12] = {0}, rv[16] = {0};
  /* W with the wrong number of gate rows for a GRU (hidden 4 needs 12) */
  tu_node t = tu_node_new("GRU", 14, 3, 2);
  tu_attr_int(&t, "hidden_size", 4);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, xd);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 3, wd);
  tu_input(&t, 2, ONYX_DTYPE_FLOAT, 3, rd);
  onyx_tensor *in[3] = {tu_f32(3, xd, xv), tu_f32(3, wd, wv), tu_f32(3, rd, rv)}, *out[2] = {0};
  CHECK_ERR(tu_run(&t, 1, 3, in, 2, out), ONYX_ERR_INVALID_MODEL);
  /* an unknown activation */
  t = tu_node_new("RNN", 14, 3, 2);
  tu_attr_int(&t, "hidden_size", 4);
  const char *gelu[1] = {"Gelu"};
  tu_set_strings(tu_n(&t), "activations", 1, gelu);
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, xd);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 3, wd);
  tu_input(&t, 2, ONYX_DTYPE_FLOAT, 3, rd);
  CHECK_ERR(tu_run(&t, 1, 3, in, 2, out), ONYX_ERR_NOT_IMPLEMENTED);
  /* a bad direction */
  t = tu_node_new("RNN", 14, 3, 2);
  tu_attr_string(&t, "direction", "sideways");
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, xd);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 3, wd);
  tu_input(&t, 2, ONYX_DTYPE_FLOAT, 3, rd);
  CHECK_ERR(tu_run(&t, 1, 3, in, 2, out), ONYX_ERR_INVALID_MODEL);
  /* sequence_lens longer than the sequence */
  t = tu_node_new("RNN", 14, 5, 2);
  tu_attr_int(&t, "hidden_size", 4);
  tu_n(&t)->in[3] = -1;
  tu_input(&t, 0, ONYX_DTYPE_FLOAT, 3, xd);
  tu_input(&t, 1, ONYX_DTYPE_FLOAT, 3, wd);
  tu_input(&t, 2, ONYX_DTYPE_FLOAT, 3, rd);
  int64_t ld[1] = {1};
  tu_input(&t, 4, ONYX_DTYPE_INT32, 1, ld);
  onyx_tensor *in4[4] = {in[0], in[1], in[2], NULL};
  onyx_tensor_create(ONYX_DTYPE_INT32, 1, ld, &in4[3]);
  ((int32_t *)onyx_tensor_data(in4[3]))[0] = 3;
  CHECK_ERR(tu_run(&t, 1, 4, in4, 2, out), ONYX_ERR_INVALID_ARGUMENT);
  onyx_tensor_free(in4[3]);
  for (int i = 0; i < 3; i++) onyx_tensor_free(in[i]);
  for (int i = 0; i < 2; i++) onyx_tensor_free(out[i]);
}

int main(void) {
  test_options();
  test_activations();
  test_big_threads_outputs_f16();
  test_errors();
  return tu_done("test_rnn");
}
