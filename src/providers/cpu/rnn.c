/* rnn.c — cpu kernels of the rnn op family: RNN, GRU and LSTM in float32
 * (float16 and bfloat16 through nn_dispatch's float32 copies).
 *
 * Each direction runs in two parts. First the input projection of every time
 * step at once, XW = X * W^T + bias, one big GEMM on the engine of
 * gemm/sgemm.h ([seq*batch, input] x [input, gates*hidden]; the rows keep X's
 * layout, so layout 1 needs no transpose). The recurrent bias Rb is folded
 * into that bias except for GRU's h gate under linear_before_reset, where it
 * sits inside the reset product. Then the recurrence: per step one small GEMM
 * H_{t-1} * R^T ([batch, hidden] x [hidden, gates*hidden], split by columns
 * over the threads with per-thread workspaces allocated once per run) and the
 * gate arithmetic, rows of the batch in parallel. GRU without
 * linear_before_reset needs (r . H_{t-1}) * Rh^T, so its step is z/r GEMM,
 * gates, h GEMM, update. When W and R are constants, prepare packs them once
 * (R of such a GRU as its z/r and h blocks).
 *
 * sequence_lens: a batch entry of length L is active for steps 0..L-1 (a
 * reverse direction reads its time steps L-1..0); past L its state is held
 * (Y_h / Y_c are the states after its last step) and its Y rows are 0. Clip
 * bounds every pre-activation right before its activation (gates and cell
 * candidate; as in ONNX Runtime, not the cell state fed to h). */
#include <math.h>
#include <string.h>

#include "gemm/sgemm.h"
#include "linalg.h"
#include "nn.h"
#include "ops/rnn_ops.h"
#include "vmath.h"

/* ---- activations --------------------------------------------------------- */

static void act_apply(const onyx_rnn_act *a, float *x, int64_t n) {
  const float al = a->alpha, be = a->beta;
  switch (a->kind) {
    case ONYX_RNN_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
      break;
    case ONYX_RNN_TANH:
      cpu_vm_tanh_f32(x, NULL, x, n);
      break;
    case ONYX_RNN_SIGMOID:
      cpu_vm_sigmoid_f32(x, NULL, x, n);
      break;
    case ONYX_RNN_AFFINE:
      for (int64_t i = 0; i < n; i++) x[i] = al * x[i] + be;
      break;
    case ONYX_RNN_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * x[i];
      break;
    case ONYX_RNN_THRESHOLDED_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= al ? x[i] : 0;
      break;
    case ONYX_RNN_SCALED_TANH:
      for (int64_t i = 0; i < n; i++) x[i] *= be;
      cpu_vm_tanh_f32(x, NULL, x, n);
      for (int64_t i = 0; i < n; i++) x[i] *= al;
      break;
    case ONYX_RNN_HARD_SIGMOID:
      for (int64_t i = 0; i < n; i++) {
        float v = al * x[i] + be;
        x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      break;
    case ONYX_RNN_ELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * (expf(x[i]) - 1);
      break;
    case ONYX_RNN_SOFTSIGN:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1 + fabsf(x[i]));
      break;
    case ONYX_RNN_SOFTPLUS:   /* log(1 + e^x), without overflow for large x */
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 20 ? x[i] : log1pf(expf(x[i]));
      break;
  }
}

/* x = act(clip(x + add)) over n values; add may be NULL */
static void pre_act(const onyx_rnn_attrs *a, const onyx_rnn_act *f, float *x, const float *add,
                    int64_t n) {
  if (add)
    for (int64_t i = 0; i < n; i++) x[i] += add[i];
  if (a->has_clip) {
    const float c = a->clip;
    for (int64_t i = 0; i < n; i++) x[i] = x[i] < -c ? -c : x[i] > c ? c : x[i];
  }
  act_apply(f, x, n);
}

/* ---- weights packed at prepare ------------------------------------------- */

typedef struct rnn_state {
  const cpu_sgemm_isa *isa;
  cpu_sgemm_packed *w[2];      /* op(B) = W_d^T: [input, gates*hidden] */
  cpu_sgemm_packed *r[2][2];   /* op(B) = R_d^T, or GRU's z/r block and h block */
} rnn_state;

static void rnn_release(void *state) {
  rnn_state *st = state;
  if (!st) return;
  for (int d = 0; d < 2; d++) {
    cpu_sgemm_packed_free(st->w[d]);
    cpu_sgemm_packed_free(st->r[d][0]);
    cpu_sgemm_packed_free(st->r[d][1]);
  }
  onyx_free(st);
}

/* GRU without linear_before_reset multiplies R's h block separately. */
static bool split_r(const onyx_rnn_attrs *a) { return a->gates == 3 && !a->linear_before_reset; }

static onyx_status *rnn_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  const onyx_tensor *w = cpu_const_input(n, g, 1), *r = cpu_const_input(n, g, 2);
  if (!w || !r || w->dtype != ONYX_DTYPE_FLOAT || r->dtype != ONYX_DTYPE_FLOAT || w->rank != 3 ||
      r->rank != 3)
    return NULL;
  onyx_rnn_attrs a;
  ONYX_TRY(onyx_rnn_attrs_of(n, &a));
  int64_t gh = r->dims[1], h = r->dims[2], in = w->dims[2];
  if (w->dims[0] != a.n_dir || r->dims[0] != a.n_dir || w->dims[1] != gh || gh != a.gates * h)
    return NULL;   /* run reports the mismatch */
  rnn_state *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  st->isa = cpu_sgemm_isa_best();
  onyx_status *s = NULL;
  for (int d = 0; d < a.n_dir && !s; d++) {
    const float *wd = (const float *)w->data + d * gh * in, *rd = (const float *)r->data + d * gh * h;
    s = cpu_sgemm_pack_b(st->isa, true, in, gh, wd, in, &st->w[d]);
    if (!s && split_r(&a)) {
      s = cpu_sgemm_pack_b(st->isa, true, h, 2 * h, rd, h, &st->r[d][0]);
      if (!s) s = cpu_sgemm_pack_b(st->isa, true, h, h, rd + 2 * h * h, h, &st->r[d][1]);
    } else if (!s) {
      s = cpu_sgemm_pack_b(st->isa, true, h, gh, rd, h, &st->r[d][0]);
    }
  }
  if (s) {
    rnn_release(st);
    return s;
  }
  *state = st;
  return NULL;
}

/* ---- the recurrence -------------------------------------------------------- */

typedef struct rnn_job {
  const onyx_rnn_attrs *a;
  const cpu_sgemm_isa *isa;
  const onyx_threadpool *pool;
  int64_t seq, batch, h, gh;
  int d;                         /* direction being run */
  bool backward;                 /* this direction reads time backwards */
  const int32_t *lens;           /* [batch] or NULL (all seq) */
  const float *p;                /* LSTM peepholes of this direction [3h] (i, o, f) or NULL */
  const float *rbh;              /* GRU linear_before_reset: Rb of the h gate [h] */
  float *xw;                     /* [seq*batch, gh], rows in X's layout */
  float *hr;                     /* [batch, gh]: H * R^T, then the gates */
  float *hs, *cs;                /* states [batch, h] */
  float *rh;                     /* GRU: r . H_{t-1} [batch, h] */
  float *y;                      /* Y or NULL */
  int64_t step;                  /* current step */
  /* per-step GEMM, split by columns */
  cpu_sgemm_args gemm;
  int64_t col_chunk;
  float *ws;
  size_t wsf;
} rnn_job;

static int64_t seq_len(const rnn_job *j, int64_t b) { return j->lens ? j->lens[b] : j->seq; }

/* time index of batch entry b at the current step, or -1 when it is done */
static int64_t time_of(const rnn_job *j, int64_t b) {
  int64_t len = seq_len(j, b);
  if (j->step >= len) return -1;
  return j->backward ? len - 1 - j->step : j->step;
}

static const float *xw_row(const rnn_job *j, int64_t t, int64_t b) {
  int64_t row = j->a->layout ? b * j->seq + t : t * j->batch + b;
  return j->xw + row * j->gh;
}

static float *y_row(const rnn_job *j, int64_t t, int64_t b) {
  int64_t nd = j->a->n_dir;
  int64_t row = j->a->layout ? (b * j->seq + t) * nd + j->d : (t * nd + j->d) * j->batch + b;
  return j->y + row * j->h;
}

/* the new state of batch entry b (time t) into Y */
static void emit(const rnn_job *j, int64_t t, int64_t b) {
  if (j->y) memcpy(y_row(j, t, b), j->hs + b * j->h, (size_t)j->h * sizeof(float));
}

static void gemm_cols(void *arg, size_t begin, size_t end, int tid) {
  const rnn_job *j = arg;
  for (size_t i = begin; i < end; i++) {
    int64_t c0 = (int64_t)i * j->col_chunk;
    int64_t nc = j->gemm.n - c0 < j->col_chunk ? j->gemm.n - c0 : j->col_chunk;
    cpu_sgemm_block(j->isa, &j->gemm, 0, j->gemm.m, c0, nc, j->ws + (size_t)tid * j->wsf);
  }
}

/* C[batch, n] (ldc gh) = A[batch, h] * op(B) on the threads */
static void step_gemm(rnn_job *j, const float *a, const cpu_sgemm_packed *pb, const float *b,
                      int64_t n, float *c) {
  cpu_sgemm_args g = {j->batch, n, j->h, 1.0f, 0.0f, {a, j->h, false, NULL, NULL, NULL},
                      {b, j->h, true, pb, NULL, NULL}, c, j->gh, NULL, NULL, NULL, NULL};
  if (pb) g.b.data = NULL;
  j->gemm = g;
  int64_t tasks = (n + j->col_chunk - 1) / j->col_chunk;
  onyx_parallel_for(tasks > 1 ? j->pool : NULL, (size_t)tasks, 1, gemm_cols, j);
}

/* one step of the gates for batch rows [begin, end) */
static void gates_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const rnn_job *j = arg;
  const onyx_rnn_attrs *a = j->a;
  const onyx_rnn_act *act = a->act[j->d];
  const int64_t h = j->h;
  for (size_t bi = begin; bi < end; bi++) {
    int64_t b = (int64_t)bi, t = time_of(j, b);
    if (t < 0) continue;
    const float *xw = xw_row(j, t, b);
    float *g = j->hr + b * j->gh, *hs = j->hs + b * h;
    if (a->gates == 1) {   /* RNN: H = f(XW + H R^T) */
      pre_act(a, &act[0], g, xw, h);
      memcpy(hs, g, (size_t)h * sizeof *hs);
      emit(j, t, b);
    } else if (a->gates == 4) {   /* LSTM, gates i o f c */
      float *gi = g, *go = g + h, *gf = g + 2 * h, *gc = g + 3 * h, *cs = j->cs + b * h;
      for (int64_t k = 0; k < 4 * h; k++) g[k] += xw[k];
      if (j->p)
        for (int64_t k = 0; k < h; k++) {
          gi[k] += j->p[k] * cs[k];
          gf[k] += j->p[2 * h + k] * cs[k];
        }
      pre_act(a, &act[0], gi, NULL, h);
      if (a->input_forget)
        for (int64_t k = 0; k < h; k++) gf[k] = 1 - gi[k];
      else
        pre_act(a, &act[0], gf, NULL, h);
      pre_act(a, &act[1], gc, NULL, h);
      for (int64_t k = 0; k < h; k++) cs[k] = gf[k] * cs[k] + gi[k] * gc[k];
      if (j->p)
        for (int64_t k = 0; k < h; k++) go[k] += j->p[h + k] * cs[k];
      pre_act(a, &act[0], go, NULL, h);
      memcpy(gc, cs, (size_t)h * sizeof *gc);
      act_apply(&act[2], gc, h);
      for (int64_t k = 0; k < h; k++) hs[k] = go[k] * gc[k];
      emit(j, t, b);
    } else {   /* GRU, gates z r h; this is the part before the h GEMM */
      float *gz = g, *gr = g + h, *gh = g + 2 * h;
      pre_act(a, &act[0], gz, xw, h);
      pre_act(a, &act[0], gr, xw + h, h);
      if (a->linear_before_reset) {
        for (int64_t k = 0; k < h; k++) gh[k] = xw[2 * h + k] + gr[k] * (gh[k] + j->rbh[k]);
        pre_act(a, &act[1], gh, NULL, h);
        for (int64_t k = 0; k < h; k++) hs[k] = (1 - gz[k]) * gh[k] + gz[k] * hs[k];
        emit(j, t, b);
      } else {
        float *rh = j->rh + b * h;
        for (int64_t k = 0; k < h; k++) rh[k] = gr[k] * hs[k];
      }
    }
  }
}

/* GRU without linear_before_reset: after (r . H) Rh^T, the update */
static void gru_update_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const rnn_job *j = arg;
  const int64_t h = j->h;
  for (size_t bi = begin; bi < end; bi++) {
    int64_t b = (int64_t)bi, t = time_of(j, b);
    if (t < 0) continue;
    float *g = j->hr + b * j->gh, *hs = j->hs + b * h, *gz = g, *gh = g + 2 * h;
    pre_act(j->a, &j->a->act[j->d][1], gh, xw_row(j, t, b) + 2 * h, h);
    for (int64_t k = 0; k < h; k++) hs[k] = (1 - gz[k]) * gh[k] + gz[k] * hs[k];
    emit(j, t, b);
  }
}

/* Runs direction d over all steps: j->xw holds its input projection, j->hs /
 * j->cs its initial states. */
static void run_direction(rnn_job *j, const rnn_state *st, const float *r) {
  const int64_t h = j->h, gh = j->gh;
  const float *rd = r + (int64_t)j->d * gh * h;
  const cpu_sgemm_packed *r0 = st ? st->r[j->d][0] : NULL, *r1 = st ? st->r[j->d][1] : NULL;
  bool split = split_r(j->a);
  size_t grain = (size_t)(16384 / (4 * gh) + 1);
  for (j->step = 0; j->step < j->seq; j->step++) {
    step_gemm(j, j->hs, r0, rd, split ? 2 * h : gh, j->hr);
    onyx_parallel_for(j->pool, (size_t)j->batch, grain, gates_rows, j);
    if (split) {
      step_gemm(j, j->rh, r1, rd + 2 * h * h, h, j->hr + 2 * h);
      onyx_parallel_for(j->pool, (size_t)j->batch, grain, gru_update_rows, j);
    }
  }
}

/* ---- the kernel -------------------------------------------------------------- */

static onyx_status *check_dims(const onyx_node *n, const onyx_tensor *t, const char *what, int rank,
                               const int64_t *want) {
  bool ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == want[i];
  if (ok) return NULL;
  char got[128], exp[128];
  return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "%s has shape %s, expected %s", what,
                         onyx_shape_str(t->rank, t->dims, got, sizeof got),
                         onyx_shape_str(rank, want, exp, sizeof exp));
}

static const onyx_tensor *opt_in(const onyx_kernel_ctx *c, int i) { return i < c->n_in ? c->in[i] : NULL; }

/* state tensor (initial_h/c, Y_h/c) offset of (direction d, batch b) */
static int64_t state_off(int layout, int64_t nd, int64_t batch, int64_t h, int d, int64_t b) {
  return (layout ? b * nd + d : d * batch + b) * h;
}

static onyx_status *rnn_f32(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  onyx_rnn_attrs a;
  ONYX_TRY(onyx_rnn_attrs_of(n, &a));
  const onyx_tensor *x = c->in[0], *w = c->in[1], *r = c->in[2];
  const onyx_tensor *bias = opt_in(c, 3), *lens = opt_in(c, 4), *h0 = opt_in(c, 5);
  const onyx_tensor *c0 = a.gates == 4 ? opt_in(c, 6) : NULL, *p = a.gates == 4 ? opt_in(c, 7) : NULL;
  if (x->rank != 3 || r->rank != 3)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "X and R must have rank 3");
  const int64_t nd = a.n_dir, seq = x->dims[a.layout ? 1 : 0], batch = x->dims[a.layout ? 0 : 1];
  const int64_t in = x->dims[2], h = a.hidden >= 0 ? a.hidden : r->dims[2], gh = a.gates * h;
  ONYX_TRY(check_dims(n, w, "W", 3, (int64_t[]){nd, gh, in}));
  ONYX_TRY(check_dims(n, r, "R", 3, (int64_t[]){nd, gh, h}));
  if (bias) ONYX_TRY(check_dims(n, bias, "B", 2, (int64_t[]){nd, 2 * gh}));
  int64_t sdims[3] = {nd, batch, h};
  if (a.layout) {
    sdims[0] = batch;
    sdims[1] = nd;
  }
  if (h0) ONYX_TRY(check_dims(n, h0, "initial_h", 3, sdims));
  if (c0) ONYX_TRY(check_dims(n, c0, "initial_c", 3, sdims));
  if (p) ONYX_TRY(check_dims(n, p, "P", 2, (int64_t[]){nd, 3 * h}));
  bool padded = false;
  if (lens) {
    ONYX_TRY(check_dims(n, lens, "sequence_lens", 1, (int64_t[]){batch}));
    if (lens->dtype != ONYX_DTYPE_INT32)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "sequence_lens must be int32");
    for (int64_t b = 0; b < batch; b++) {
      int32_t l = ((const int32_t *)lens->data)[b];
      if (l < 0 || l > seq)
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                               "sequence_lens[%lld] = %d is outside [0, %lld]", (long long)b, l,
                               (long long)seq);
      padded = padded || l < seq;
    }
  }
  onyx_tensor *y = c->n_out > 0 ? c->out[0] : NULL, *yh = c->n_out > 1 ? c->out[1] : NULL;
  onyx_tensor *yc = a.gates == 4 && c->n_out > 2 ? c->out[2] : NULL;
  int64_t ydims[4] = {seq, nd, batch, h};
  if (a.layout) {
    ydims[0] = batch;
    ydims[1] = seq;
    ydims[2] = nd;
  }
  if (y && !y->data) ONYX_TRY(onyx_tensor_alloc(y, 4, ydims));
  if (yh && !yh->data) ONYX_TRY(onyx_tensor_alloc(yh, 3, sdims));
  if (yc && !yc->data) ONYX_TRY(onyx_tensor_alloc(yc, 3, sdims));
  if (y && padded) memset(y->data, 0, y->nbytes);

  const rnn_state *st = c->state;
  rnn_job j = {0};
  j.a = &a;
  j.isa = st ? st->isa : cpu_sgemm_isa_best();
  j.pool = c->pool;
  j.seq = seq;
  j.batch = batch;
  j.h = h;
  j.gh = gh;
  j.lens = lens ? lens->data : NULL;
  j.y = y ? y->data : NULL;
  /* per-step GEMM: columns split in chunks of whole micro-tiles per thread */
  int nt = cpu_sgemm_threads(c->pool, (double)batch * (double)gh * (double)h);
  int64_t nr = j.isa->nr, per = (gh + nt - 1) / nt;
  j.col_chunk = (per + nr - 1) / nr * nr;
  j.wsf = (cpu_sgemm_ws_floats(j.isa, batch, j.col_chunk, h) + 15) & ~(size_t)15;
  int pool_threads = c->pool ? c->pool->nthreads : 1;
  size_t n_xw = (size_t)(seq * batch * gh), n_st = (size_t)(batch * h);
  size_t floats = n_xw + (size_t)(batch * gh) + 3 * n_st + (size_t)gh + (size_t)h;
  floats = (floats + 15) & ~(size_t)15;
  float *mem = onyx_malloc_aligned((floats + (size_t)pool_threads * j.wsf) * sizeof(float));
  if (!mem) return onyx_error_oom();
  j.ws = mem + floats;
  j.xw = mem;
  j.hr = j.xw + n_xw;
  j.hs = j.hr + batch * gh;
  j.cs = j.hs + n_st;
  j.rh = j.cs + n_st;
  float *bsum = j.rh + n_st, *rbh = bsum + gh;
  j.rbh = rbh;
  onyx_status *s = NULL;
  for (int d = 0; d < nd; d++) {
    j.d = d;
    j.backward = a.reverse || d == 1;
    j.p = p ? (const float *)p->data + d * 3 * h : NULL;
    /* bias of the projection: Wb + Rb, without GRU's Rbh under linear_before_reset */
    const float *bd = bias ? (const float *)bias->data + d * 2 * gh : NULL;
    for (int64_t k = 0; k < gh; k++) {
      bool keep_rb = a.linear_before_reset && k >= 2 * h;
      bsum[k] = !bd ? 0 : keep_rb ? bd[k] : bd[k] + bd[gh + k];
      if (keep_rb) rbh[k - 2 * h] = bd ? bd[gh + k] : 0;
    }
    if (seq * batch > 0) {
      cpu_sgemm_args g = {seq * batch, gh, in, 1.0f, 0.0f, {x->data, in, false, NULL, NULL, NULL},
                          {(const float *)w->data + d * gh * in, in, true, NULL, NULL, NULL},
                          j.xw, gh, NULL, bsum, NULL, NULL};
      if (st && st->w[d]) {
        g.b.data = NULL;
        g.b.packed = st->w[d];
      }
      if ((s = cpu_sgemm(c->pool, j.isa, &g))) goto done;
    }
    for (int64_t b = 0; b < batch; b++) {
      int64_t o = state_off(a.layout, nd, batch, h, d, b);
      size_t row = (size_t)h * sizeof(float);
      if (h0) memcpy(j.hs + b * h, (const float *)h0->data + o, row);
      else memset(j.hs + b * h, 0, row);
      if (c0) memcpy(j.cs + b * h, (const float *)c0->data + o, row);
      else memset(j.cs + b * h, 0, row);
    }
    run_direction(&j, st, r->data);
    for (int64_t b = 0; b < batch; b++) {
      int64_t o = state_off(a.layout, nd, batch, h, d, b);
      if (yh) memcpy((float *)yh->data + o, j.hs + b * h, (size_t)h * sizeof(float));
      if (yc) memcpy((float *)yc->data + o, j.cs + b * h, (size_t)h * sizeof(float));
    }
  }
done:
  onyx_free_aligned(mem);
  return s;
}

static onyx_status *rnn_run(onyx_kernel_ctx *c) { return nn_dispatch(c, rnn_f32, false); }

const onyx_kernel cpu_kernels_rnn[] = {
    {.op = onyx_op_RNN, .prepare = rnn_prepare, .run = rnn_run, .release = rnn_release},
    {.op = onyx_op_GRU, .prepare = rnn_prepare, .run = rnn_run, .release = rnn_release},
    {.op = onyx_op_LSTM, .prepare = rnn_prepare, .run = rnn_run, .release = rnn_release},
    {.op = -1},
};
