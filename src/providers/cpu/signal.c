/* signal.c — cpu kernels of the signal family: DFT and STFT over the FFT of
 * signal_fft.c, the Hann/Hamming/Blackman windows and MelWeightMatrix.
 *
 * Inputs and outputs may be float, double, float16 or bfloat16; every kernel
 * computes in double and converts at the edges, which keeps one code path and
 * makes float32 results as accurate as numpy's (which the ONNX tests use).
 * DFT and STFT transform independent lines (one per batch/other-dim position,
 * one per frame), split across the intra-op threads, each with its own
 * scratch line. Shapes come from signal_ops.h, as in inference. */
#include <math.h>
#include <string.h>

#include "base/half.h"
#include "cpu.h"
#include "ops/signal_ops.h"
#include "signal_fft.h"

/* ---- helpers ---------------------------------------------------------------- */

static bool real_dtype(onyx_dtype dt) {
  return dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_DOUBLE || dt == ONYX_DTYPE_FLOAT16 ||
         dt == ONYX_DTYPE_BFLOAT16;
}

static double get(const void *p, onyx_dtype dt, size_t i) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: return ((const float *)p)[i];
    case ONYX_DTYPE_DOUBLE: return ((const double *)p)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)p)[i]);
    default: return onyx_bf16_to_f32(((const uint16_t *)p)[i]);
  }
}

static void put(void *p, onyx_dtype dt, size_t i, double v) {
  switch (dt) {
    case ONYX_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case ONYX_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)p)[i] = onyx_f32_to_f16((float)v); break;
    default: ((uint16_t *)p)[i] = onyx_f32_to_bf16((float)v); break;
  }
}

static onyx_status *need_real(const onyx_node *n, const onyx_tensor *t, const char *what) {
  if (!real_dtype(t->dtype))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "%s of dtype %s", what, onyx_dtype_name(t->dtype));
  return NULL;
}

/* Output 0 with shape dims: allocated here when inference could not size it,
 * else checked against what inference gave. */
static onyx_status *out_shape(onyx_kernel_ctx *c, int rank, const int64_t *dims) {
  onyx_tensor *y = c->out[0];
  if (!y->data) return onyx_tensor_alloc(y, rank, dims);
  if (y->rank != rank || memcmp(y->dims, dims, (size_t)rank * sizeof *dims)) {
    char a[160], b[160];
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "output was sized %s, the inputs give %s",
                           onyx_shape_str(y->rank, y->dims, a, sizeof a), onyx_shape_str(rank, dims, b, sizeof b));
  }
  return NULL;
}

static int threads(const onyx_kernel_ctx *c) { return c->pool ? c->pool->nthreads : 1; }

/* ---- lines of transforms (DFT and STFT) -------------------------------------------- */

/* One transform per line: line l reads n_read samples (complex when
 * `complex_in`) starting at in + in_off(l), `in_step` apart, multiplied by
 * the window when there is one, zero-pads them to the plan's length,
 * transforms, scales, and writes n_out complex values at out + out_off(l),
 * `out_step` apart. Offsets count elements, not bytes. */
typedef struct fft_job {
  const cpu_fft *plan;
  const void *in;
  onyx_dtype in_dt;
  bool complex_in, inverse;
  int64_t n_read;
  const void *window;          /* or NULL */
  onyx_dtype window_dt;
  void *out;
  onyx_dtype out_dt;
  int64_t n_out;
  /* line l = (a, b) with a = l / inner, b = l % inner; offsets are affine in a and b */
  int64_t inner;
  int64_t in_a, in_b, in_step;
  int64_t out_a, out_b, out_step;
  double *scratch;             /* per thread: `per_thread` doubles */
  size_t per_thread;
} fft_job;

static void fft_lines(void *arg, size_t begin, size_t end, int tid) {
  const fft_job *j = arg;
  size_t nf = j->plan->n;
  double *buf = j->scratch + (size_t)tid * j->per_thread, *work = buf + 2 * nf;
  int comps = j->complex_in ? 2 : 1;
  double scale = j->inverse ? 1.0 / (double)nf : 1.0;
  for (size_t l = begin; l < end; l++) {
    int64_t a = (int64_t)l / j->inner, b = (int64_t)l % j->inner;
    size_t in0 = (size_t)(a * j->in_a + b * j->in_b), out0 = (size_t)(a * j->out_a + b * j->out_b);
    for (size_t k = 0; k < nf; k++) {
      double re = 0, im = 0;
      if ((int64_t)k < j->n_read) {
        size_t at = in0 + k * (size_t)j->in_step * (size_t)comps;
        double w = j->window ? get(j->window, j->window_dt, k) : 1.0;
        re = get(j->in, j->in_dt, at) * w;
        if (j->complex_in) im = get(j->in, j->in_dt, at + 1) * w;
      }
      buf[2 * k] = re;
      buf[2 * k + 1] = im;
    }
    cpu_fft_run(j->plan, buf, j->inverse, work);
    for (int64_t k = 0; k < j->n_out; k++) {
      size_t at = out0 + (size_t)k * (size_t)j->out_step * 2;
      put(j->out, j->out_dt, at, buf[2 * k] * scale);
      put(j->out, j->out_dt, at + 1, buf[2 * k + 1] * scale);
    }
  }
}

/* Runs job j over n_lines lines with a plan of length n_fft. */
static onyx_status *run_lines(onyx_kernel_ctx *c, fft_job *j, int64_t n_fft, int64_t n_lines) {
  cpu_fft plan;
  ONYX_TRY(cpu_fft_init(&plan, (size_t)n_fft));
  onyx_status *s = NULL;
  int nt = threads(c);
  j->plan = &plan;
  j->per_thread = 2 * (size_t)n_fft + cpu_fft_scratch(&plan);
  j->scratch = onyx_malloc((size_t)nt * j->per_thread * sizeof *j->scratch);
  if (!j->scratch) {
    s = onyx_error_oom();
    goto done;
  }
  size_t grain = (size_t)(n_fft >= 4096 ? 1 : 4096 / n_fft);
  onyx_parallel_for(c->pool, (size_t)n_lines, grain, fft_lines, j);
done:
  onyx_free(j->scratch);
  cpu_fft_deinit(&plan);
  return s;
}

/* ---- DFT ------------------------------------------------------------------------ */

static onyx_status *dft_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0];
  ONYX_TRY(need_real(n, x, "input"));
  onyx_dft_geom g;
  bool known_axis;
  ONYX_TRY(onyx_dft_geometry(n, x->rank, x->dims, c->n_in > 1 ? c->in[1] : NULL, c->n_in > 2 ? c->in[2] : NULL,
                             &known_axis, &g));
  int64_t dims[ONYX_MAX_RANK];
  memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
  dims[g.axis] = g.n_out;
  dims[x->rank - 1] = 2;
  ONYX_TRY(out_shape(c, x->rank, dims));
  onyx_tensor *y = c->out[0];
  int64_t outer = onyx_numel(g.axis, x->dims);
  int64_t inner = onyx_numel(x->rank - 2 - g.axis, x->dims + g.axis + 1);
  int64_t n_in = x->dims[g.axis], comps = g.complex_in ? 2 : 1;
  if (!outer || !inner) return NULL;
  fft_job j = {
      .in = x->data, .in_dt = x->dtype, .complex_in = g.complex_in, .inverse = g.inverse,
      .n_read = n_in < g.n_fft ? n_in : g.n_fft, .out = y->data, .out_dt = y->dtype, .n_out = g.n_out,
      .inner = inner, .in_a = n_in * inner * comps, .in_b = comps, .in_step = inner,
      .out_a = g.n_out * inner * 2, .out_b = 2, .out_step = inner,
  };
  return run_lines(c, &j, g.n_fft, outer * inner);
}

/* ---- STFT ----------------------------------------------------------------------- */

static onyx_status *stft_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *x = c->in[0], *w = c->n_in > 2 ? c->in[2] : NULL;
  ONYX_TRY(need_real(n, x, "signal"));
  if (!c->in[1]) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "needs frame_step");
  if (x->rank != 3)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "signal has rank %d, expected 3", x->rank);
  if (w) {
    ONYX_TRY(need_real(n, w, "window"));
    if (w->rank != 1) return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "window has rank %d, expected 1", w->rank);
  }
  onyx_stft_geom g;
  ONYX_TRY(onyx_stft_geometry(n, x->dims, c->in[1], w ? w->dims[0] : -1, c->n_in > 3 ? c->in[3] : NULL, &g));
  int64_t dims[4] = {x->dims[0], g.frames, g.bins, 2};
  ONYX_TRY(out_shape(c, 4, dims));
  onyx_tensor *y = c->out[0];
  int64_t comps = g.complex_in ? 2 : 1;
  if (!dims[0] || !g.frames) return NULL;
  /* line (b, f): frame f of batch b */
  fft_job j = {
      .in = x->data, .in_dt = x->dtype, .complex_in = g.complex_in, .n_read = g.frame_length,
      .window = w ? w->data : NULL, .window_dt = w ? w->dtype : ONYX_DTYPE_FLOAT,
      .out = y->data, .out_dt = y->dtype, .n_out = g.bins,
      .inner = g.frames, .in_a = x->dims[1] * comps, .in_b = g.frame_step * comps, .in_step = 1,
      .out_a = g.frames * g.bins * 2, .out_b = g.bins * 2, .out_step = 1,
  };
  return run_lines(c, &j, g.frame_length, dims[0] * g.frames);
}

/* ---- windows ----------------------------------------------------------------------- */

/* Generalised cosine window a0 - a1 cos(x) + a2 cos(2x), x = 2 pi k / N with
 * N = size (periodic) or size - 1 (symmetric). */
static onyx_status *cosine_window(onyx_kernel_ctx *c, double a0, double a1, double a2) {
  const onyx_node *n = c->node;
  int64_t size;
  ONYX_TRY(onyx_signal_scalar(n, c->in[0], "size", 0, &size));
  onyx_dtype dt = onyx_signal_out_dtype(n);
  if (!real_dtype(dt))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output_datatype %s", onyx_dtype_name(dt));
  ONYX_TRY(out_shape(c, 1, &size));
  int64_t den = onyx_attr_int(n, "periodic", 1) ? size : size - 1;
  void *y = c->out[0]->data;
  for (int64_t k = 0; k < size; k++) {
    double x = den > 0 ? 2.0 * M_PI * (double)k / (double)den : 0.0;
    put(y, dt, (size_t)k, a0 - a1 * cos(x) + a2 * cos(2 * x));
  }
  return NULL;
}

static onyx_status *hann_run(onyx_kernel_ctx *c) { return cosine_window(c, 0.5, 0.5, 0.0); }
static onyx_status *hamming_run(onyx_kernel_ctx *c) { return cosine_window(c, 25.0 / 46.0, 21.0 / 46.0, 0.0); }
static onyx_status *blackman_run(onyx_kernel_ctx *c) { return cosine_window(c, 0.42, 0.5, 0.08); }

/* ---- MelWeightMatrix ------------------------------------------------------------------ */

static double hz_to_mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel_to_hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

/* Triangular filters as ONNX's reference and ORT build them: num_mel_bins + 2
 * edges spread evenly on the mel scale (the step divides by num_mel_bins + 2),
 * each edge mapped to the spectrogram bin floor((dft_length + 1) hz / rate);
 * filter i rises from edge i to i + 1 and falls to edge i + 2, peaking at 1. */
static onyx_status *mel_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  int64_t mel, dft, rate;
  ONYX_TRY(onyx_signal_scalar(n, c->in[0], "num_mel_bins", 1, &mel));
  ONYX_TRY(onyx_signal_scalar(n, c->in[1], "dft_length", 1, &dft));
  ONYX_TRY(onyx_signal_scalar(n, c->in[2], "sample_rate", 1, &rate));
  for (int i = 3; i < 5; i++)
    if (onyx_numel(c->in[i]->rank, c->in[i]->dims) != 1)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d must be a scalar", i);
  double lo = onyx_tensor_get_f64(c->in[3], 0), hi = onyx_tensor_get_f64(c->in[4], 0);
  if (!(lo >= 0 && hi > lo))
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "edges %g Hz and %g Hz: need 0 <= lower < upper", lo, hi);
  onyx_dtype dt = onyx_signal_out_dtype(n);
  if (!real_dtype(dt))
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "output_datatype %s", onyx_dtype_name(dt));
  int64_t bins = dft / 2 + 1, dims[2] = {bins, mel};
  ONYX_TRY(out_shape(c, 2, dims));
  int64_t *edge = onyx_malloc((size_t)(mel + 2) * sizeof *edge);
  if (!edge) return onyx_error_oom();
  double lo_mel = hz_to_mel(lo), step = (hz_to_mel(hi) - lo_mel) / (double)(mel + 2);
  for (int64_t i = 0; i < mel + 2; i++)
    edge[i] = (int64_t)floor((double)(dft + 1) * mel_to_hz(lo_mel + (double)i * step) / (double)rate);
  onyx_status *s = NULL;
  if (edge[mel] >= bins || edge[mel + 1] > bins) {
    s = onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT,
                        "upper_edge_hertz %g maps past the last of %lld spectrogram bins (above the Nyquist "
                        "frequency of sample_rate %lld)", hi, (long long)bins, (long long)rate);
    goto done;
  }
  void *y = c->out[0]->data;
  for (int64_t i = 0; i < bins * mel; i++) put(y, dt, (size_t)i, 0.0);
  for (int64_t i = 0; i < mel; i++) {
    int64_t l = edge[i], m = edge[i + 1], h = edge[i + 2];
    if (m == l) put(y, dt, (size_t)(m * mel + i), 1.0);
    else
      for (int64_t j = l; j <= m; j++) put(y, dt, (size_t)(j * mel + i), (double)(j - l) / (double)(m - l));
    for (int64_t j = m; j < h; j++) put(y, dt, (size_t)(j * mel + i), (double)(h - j) / (double)(h - m));
  }
done:
  onyx_free(edge);
  return s;
}

const onyx_kernel cpu_kernels_signal[] = {
    {.op = onyx_op_DFT, .run = dft_run},
    {.op = onyx_op_STFT, .run = stft_run},
    {.op = onyx_op_HannWindow, .run = hann_run},
    {.op = onyx_op_HammingWindow, .run = hamming_run},
    {.op = onyx_op_BlackmanWindow, .run = blackman_run},
    {.op = onyx_op_MelWeightMatrix, .run = mel_run},
    {.op = -1},
};
