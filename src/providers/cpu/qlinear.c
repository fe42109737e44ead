/* qlinear.c — cpu kernels of the integer linear-algebra ops on the int8 GEMM
 * engine (gemm/qgemm.h): MatMulInteger and ConvInteger (int32 out),
 * QLinearMatMul and QLinearConv (requantized u8/s8 out), their ai.onyx forms
 * from the QDQ fusion, FusedQLinearMatMul (int32 bias) and FusedQLinearConv
 * (both with a Relu clamping at the output zero point), and
 * DynamicQuantMatMul (A quantized here as DynamicQuantizeLinear does, float
 * out with scales and bias applied in the GEMM's write-out).
 *
 * Weights play the engine's W side: MatMul computes Y^T = B^T A^T (the
 * engine writes it back transposed), Conv computes Y_g = W_g x col_g per
 * (image, group) with col produced row by row from the input (implicit
 * im2col on bytes, padding with the input's zero point; 1x1 stride-1
 * unpadded convs read the input directly). Constant weights (and their zero
 * points) are packed once at prepare; otherwise per run. Depthwise convs (one
 * channel per group, 1-D/2-D) have a direct kernel over a zero-point-padded
 * int16 plane instead, since their GEMMs would be one row high.
 *
 * Semantics are those of the ONNX reference, exactly: any mix of u8/s8
 * operands, zero points per tensor or per row (A) / per column (B) / per
 * output channel (W), int32 accumulation (wrapping), and requantization
 * round-half-even(acc * ((x_scale * w_scale) / y_scale)) + y_zero_point
 * computed in float and saturated, as the reference and ONNX Runtime do. */
#include <string.h>

#include "gemm/qgemm.h"
#include "im2col.h"
#include "linalg.h"
#include "ops/linalg.h"
#include "reduce_kernels.h"

typedef struct qstate {
  const cpu_qgemm_isa *isa;
  int64_t group;
  cpu_qgemm_packed **pw;        /* group entries (MatMul: one) */
} qstate;

void cpu_qlinear_release(void *state) {
  qstate *st = state;
  if (!st) return;
  for (int64_t i = 0; st->pw && i < st->group; i++) cpu_qgemm_packed_free(st->pw[i]);
  onyx_free(st->pw);
  onyx_free(st);
}

static bool is_q8(onyx_dtype dt) { return dt == ONYX_DTYPE_UINT8 || dt == ONYX_DTYPE_INT8; }
static bool is_fp(onyx_dtype dt) {
  return dt == ONYX_DTYPE_FLOAT || dt == ONYX_DTYPE_DOUBLE || dt == ONYX_DTYPE_FLOAT16 ||
         dt == ONYX_DTYPE_BFLOAT16;
}

static const onyx_tensor *opt_in(const onyx_kernel_ctx *c, int i) { return i >= 0 && i < c->n_in ? c->in[i] : NULL; }

/* Input i of n when it is a constant, or absent (*absent); NULL with
 * *absent false when it is computed at run time. */
static const onyx_tensor *const_or_absent(const onyx_node *n, const onyx_graph *g, int i,
                                          bool *absent) {
  *absent = i >= n->n_in || n->in[i] < 0;
  return *absent ? NULL : cpu_const_input(n, g, i);
}

/* Checks a zero point against its data tensor: same dtype, 1 or `len` values. */
static onyx_status *check_zero(const onyx_node *nd, const onyx_tensor *z, const onyx_tensor *x,
                               int64_t len, const char *what) {
  if (!z) return NULL;
  if (z->dtype != x->dtype)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "%s zero point is %s, its tensor %s", what,
                           onyx_dtype_name(z->dtype), onyx_dtype_name(x->dtype));
  int64_t cnt = onyx_numel(z->rank, z->dims);
  if (cnt != 1 && cnt != len)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s zero point has %lld values, expected 1 or %lld",
                           what, (long long)cnt, (long long)len);
  return NULL;
}

/* Checks a scale: floating point, 1 or `len` values. */
static onyx_status *check_scale(const onyx_node *nd, const onyx_tensor *s, int64_t len, const char *what) {
  int64_t cnt = onyx_numel(s->rank, s->dims);
  if (!is_fp(s->dtype))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s scale of %s is not supported", what,
                           onyx_dtype_name(s->dtype));
  if (cnt != 1 && cnt != len)
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s scale has %lld values, expected 1 or %lld", what,
                           (long long)cnt, (long long)len);
  return NULL;
}

static int64_t count(const onyx_tensor *t) { return t ? onyx_numel(t->rank, t->dims) : 0; }

/* The fused ops' `activation`: "" (none) or "Relu", which clamps the
 * requantized output at its zero point. */
static onyx_status *fused_relu(const onyx_node *nd, bool *relu) {
  const char *a = onyx_attr_string(nd, "activation", "");
  *relu = !strcmp(a, "Relu");
  if (!*relu && a[0])
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "activation '%s' is not supported (only Relu)", a);
  return NULL;
}

/* a scale tensor's values as floats (caller storage of count(t) floats) */
static void scale_values(const onyx_tensor *t, float *dst) {
  for (int64_t i = 0; i < count(t); i++) dst[i] = (float)onyx_tensor_get_f64(t, i);
}

/* ---- MatMulInteger, QLinearMatMul ------------------------------------------------- */

/* Input positions of the MatMul-style ops. */
typedef struct mm_io {
  int a, az, b, bz;            /* -1: not an input of this op */
  int as, bs, ys, yz, bias;
  bool dyn;                    /* A is float, quantized here; the output is float */
} mm_io;
static const mm_io io_matmul_integer = {0, 2, 1, 3, -1, -1, -1, -1, -1, false};
static const mm_io io_qlinear_matmul = {0, 2, 3, 5, 1, 4, 6, 7, -1, false};
static const mm_io io_fused_qlinear_matmul = {0, 2, 3, 5, 1, 4, 6, 7, 8, false};
static const mm_io io_dynamic_quant_matmul = {0, -1, 1, 3, -1, 2, -1, -1, 4, true};

/* state with B (constant, 2-D or 1-D) packed as W = B^T */
static onyx_status *matmul_prepare(const onyx_node *n, const onyx_graph *g, const mm_io *io,
                                   void **state) {
  bool absent;
  const onyx_tensor *b = cpu_const_input(n, g, io->b);
  const onyx_tensor *bz = const_or_absent(n, g, io->bz, &absent);
  if (!b || !is_q8(b->dtype) || b->rank < 1 || b->rank > 2 || (!bz && !absent)) return NULL;
  int64_t k = b->dims[0], nn = b->rank == 2 ? b->dims[1] : 1, nz = count(bz);
  if (bz && (bz->dtype != b->dtype || (nz != 1 && nz != nn))) return NULL; /* run reports it */
  qstate *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  st->isa = cpu_qgemm_isa_best();
  st->group = 1;
  onyx_status *s = NULL;
  st->pw = onyx_calloc(1, sizeof *st->pw);
  if (!st->pw) s = onyx_error_oom();
  else
    s = cpu_qgemm_pack_w(st->isa, true, nn, k, b->data, nn, b->dtype == ONYX_DTYPE_UINT8,
                         bz ? bz->data : NULL, nz, &st->pw[0]);
  if (s) {
    cpu_qlinear_release(st);
    return s;
  }
  *state = st;
  return NULL;
}

onyx_status *cpu_matmul_integer_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return matmul_prepare(n, g, &io_matmul_integer, state);
}

onyx_status *cpu_qlinear_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return matmul_prepare(n, g, &io_qlinear_matmul, state);
}

onyx_status *cpu_fused_qlinear_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return matmul_prepare(n, g, &io_fused_qlinear_matmul, state);
}

onyx_status *cpu_dynamic_quant_matmul_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return matmul_prepare(n, g, &io_dynamic_quant_matmul, state);
}

/* The checked inputs of one MatMul-style run. */
typedef struct mm_args {
  const onyx_tensor *a, *b, *az, *bz, *as, *bs, *ys, *yz, *bias;
  bool relu;
  cpu_mm_shape s;
} mm_args;

static onyx_status *matmul_check(onyx_kernel_ctx *c, const mm_io *io, mm_args *m) {
  const onyx_node *nd = c->node;
  const bool requant = io->ys >= 0;
  memset(m, 0, sizeof *m);
  m->a = c->in[io->a], m->b = c->in[io->b];
  m->az = opt_in(c, io->az), m->bz = opt_in(c, io->bz);
  if (m->az && !onyx_tensor_nbytes(m->az)) m->az = NULL;
  if (m->bz && !onyx_tensor_nbytes(m->bz)) m->bz = NULL;
  const onyx_tensor *a = m->a, *b = m->b, *y = c->out[0];
  if ((io->dyn ? a->dtype != ONYX_DTYPE_FLOAT : !is_q8(a->dtype)) || !is_q8(b->dtype) ||
      (requant && !is_q8(y->dtype)))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s x %s -> %s is not supported",
                           onyx_dtype_name(a->dtype), onyx_dtype_name(b->dtype), onyx_dtype_name(y->dtype));
  ONYX_TRY(cpu_mm_shape_of(nd, a, b, &m->s));
  ONYX_TRY(check_zero(nd, m->az, a, m->s.m, "A"));
  ONYX_TRY(check_zero(nd, m->bz, b, m->s.n, "B"));
  if (io->bs >= 0) {
    m->bs = c->in[io->bs];
    ONYX_TRY(check_scale(nd, m->bs, m->s.n, "b"));
  }
  if (requant) {
    m->as = c->in[io->as], m->ys = c->in[io->ys], m->yz = opt_in(c, io->yz);
    if (m->yz && !onyx_tensor_nbytes(m->yz)) m->yz = NULL;
    ONYX_TRY(check_scale(nd, m->as, m->s.m, "a"));
    ONYX_TRY(check_scale(nd, m->ys, 1, "y"));
    if (m->yz && (m->yz->dtype != y->dtype || count(m->yz) != 1))
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "y_zero_point must be one %s",
                             onyx_dtype_name(y->dtype));
  }
  if (io->bias >= 0) {
    onyx_dtype want = io->dyn ? ONYX_DTYPE_FLOAT : ONYX_DTYPE_INT32;
    if (!io->dyn) ONYX_TRY(fused_relu(nd, &m->relu));
    m->bias = opt_in(c, io->bias);
    if (m->bias && (m->bias->dtype != want || count(m->bias) != m->s.n))
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "bias must be %lld %s values", (long long)m->s.n,
                             onyx_dtype_name(want));
  }
  return NULL;
}

static onyx_status *matmul_run(onyx_kernel_ctx *c, const mm_io *io) {
  const bool requant = io->ys >= 0;
  mm_args m;
  ONYX_TRY(matmul_check(c, io, &m));
  const cpu_mm_shape s = m.s;
  const onyx_tensor *b = m.b, *bz = m.bz;
  onyx_tensor *y = c->out[0];
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, s.out_rank, s.out_dims));
  if (s.m == 0 || s.n == 0 || s.batch == 0) return NULL;
  const qstate *st = c->state;
  const cpu_qgemm_isa *isa = st ? st->isa : cpu_qgemm_isa_best();
  onyx_status *err = NULL;
  cpu_qgemm_packed *own = NULL;
  float *scales = NULL;
  uint8_t *aq = NULL, a_zero = 0;
  /* A as the GEMM reads it: the input, or (dynamic) its uint8 quantization */
  const uint8_t *a_data = m.a->data, *a_zp = m.az ? m.az->data : NULL;
  int64_t n_az = count(m.az), n_as = count(m.as), n_bs = count(m.bs);
  if (io->dyn) {
    int64_t na = onyx_numel(m.a->rank, m.a->dims);
    aq = onyx_malloc((size_t)na + 1);
    scales = onyx_malloc((size_t)(n_bs + 1) * sizeof *scales);
    if (!aq || !scales) {
      err = onyx_error_oom();
      goto done;
    }
    cpu_dynamic_quantize_u8(m.a->data, na, aq, scales, &a_zero, c->pool);
    scale_values(m.bs, scales + 1);
    a_data = aq, a_zp = &a_zero, n_az = 1, n_as = 1;
  } else if (requant) {
    scales = onyx_malloc((size_t)(n_as + n_bs + 1) * sizeof *scales);
    if (!scales) {
      err = onyx_error_oom();
      goto done;
    }
    scale_values(m.as, scales);
    scale_values(m.bs, scales + n_as);
    scale_values(m.ys, scales + n_as + n_bs);
  }
  cpu_qgemm_args g = {0};
  g.m = s.n;
  g.k = s.k;
  g.x = (cpu_qgemm_x){NULL, s.k, true, m.a->dtype == ONYX_DTYPE_INT8, NULL, NULL, a_zp, n_az};
  g.out.kind = io->dyn ? CPU_QGEMM_OUT_F32
               : !requant ? CPU_QGEMM_OUT_S32
               : y->dtype == ONYX_DTYPE_UINT8 ? CPU_QGEMM_OUT_U8 : CPU_QGEMM_OUT_S8;
  g.out.ldy = s.n;
  g.out.trans = true;
  if (io->dyn) {
    g.out.x_scale = scales;
    g.out.n_x_scale = 1;
    g.out.w_scale = scales + 1;
    g.out.n_w_scale = n_bs;
    g.out.y_scale = 1.0f;
    g.out.bias_f = m.bias ? m.bias->data : NULL;
  } else if (requant) {
    g.out.x_scale = scales;
    g.out.n_x_scale = n_as;
    g.out.w_scale = scales + n_as;
    g.out.n_w_scale = n_bs;
    g.out.y_scale = scales[n_as + n_bs];
    g.out.y_zero = !m.yz ? 0 : m.yz->dtype == ONYX_DTYPE_UINT8 ? *(const uint8_t *)m.yz->data
                                                               : *(const int8_t *)m.yz->data;
    g.out.bias = m.bias ? m.bias->data : NULL;
    g.out.relu = m.relu;
  }
  const size_t ysize = g.out.kind == CPU_QGEMM_OUT_U8 || g.out.kind == CPU_QGEMM_OUT_S8 ? 1 : 4;
  const bool b_shared = b->rank <= 2;
  /* B shared by every batch and nothing per row of A: fold A's batches into
   * the columns of X (A's rows are contiguous) */
  const bool fold = b_shared && n_az <= 1 && n_as <= 1;
  int64_t batches = fold ? 1 : s.batch;
  g.n = fold ? s.m * s.batch : s.m;
  for (int64_t bi = 0; bi < batches && !err; bi++) {
    int64_t ia = 0, ib = 0;
    if (!fold) cpu_mm_batch(&s, bi, &ia, &ib);
    const cpu_qgemm_packed *w = b_shared && st && st->pw ? st->pw[0] : NULL;
    if (!w && (!own || !b_shared)) {
      cpu_qgemm_packed_free(own);
      own = NULL;
      err = cpu_qgemm_pack_w(isa, true, s.n, s.k, (const uint8_t *)b->data + ib * s.k * s.n, s.n,
                             b->dtype == ONYX_DTYPE_UINT8, bz ? bz->data : NULL, count(bz), &own);
      if (err) break;
    }
    g.w = w ? w : own;
    g.x.data = a_data + ia * s.m * s.k;
    g.out.y = (uint8_t *)y->data + (size_t)(bi * s.m * s.n) * ysize;
    err = cpu_qgemm(c->pool, isa, &g);
  }
done:
  cpu_qgemm_packed_free(own);
  onyx_free(scales);
  onyx_free(aq);
  return err;
}

onyx_status *cpu_matmul_integer_run(onyx_kernel_ctx *c) { return matmul_run(c, &io_matmul_integer); }
onyx_status *cpu_qlinear_matmul_run(onyx_kernel_ctx *c) { return matmul_run(c, &io_qlinear_matmul); }
onyx_status *cpu_fused_qlinear_matmul_run(onyx_kernel_ctx *c) { return matmul_run(c, &io_fused_qlinear_matmul); }
onyx_status *cpu_dynamic_quant_matmul_run(onyx_kernel_ctx *c) { return matmul_run(c, &io_dynamic_quant_matmul); }

/* ---- ConvInteger, QLinearConv --------------------------------------------------------- */

/* Input positions of the two conv ops. */
typedef struct conv_io {
  int x, xz, w, wz;
  int xs, ws, ys, yz, bias;     /* -1: not an input of this op */
  bool fused;                   /* reads the `activation` attribute */
} conv_io;
static const conv_io io_conv_integer = {0, 2, 1, 3, -1, -1, -1, -1, -1, false};
static const conv_io io_qlinear_conv = {0, 2, 3, 5, 1, 4, 6, 7, 8, false};
static const conv_io io_fused_qlinear_conv = {0, 2, 3, 5, 1, 4, 6, 7, 8, true};

static bool is_depthwise(int64_t mg, int64_t cg, int nsp) { return mg == 1 && cg == 1 && nsp <= 2; }

/* Packs the groups of weight tensor w (zero points wz, or NULL) into st. */
static onyx_status *pack_groups(const cpu_qgemm_isa *isa, const onyx_tensor *w, const onyx_tensor *wz,
                                int64_t group, cpu_qgemm_packed **pw) {
  int64_t m = w->dims[0], mg = m / group, kg = onyx_numel(w->rank - 1, w->dims + 1);
  int64_t nz = count(wz);
  bool u8 = w->dtype == ONYX_DTYPE_UINT8;
  for (int64_t gi = 0; gi < group; gi++)
    ONYX_TRY(cpu_qgemm_pack_w(isa, false, mg, kg, (const uint8_t *)w->data + gi * mg * kg, kg, u8,
                              wz ? (const uint8_t *)wz->data + (nz == 1 ? 0 : gi * mg) : NULL,
                              nz == 1 ? 1 : mg, &pw[gi]));
  return NULL;
}

static onyx_status *conv_prepare(const onyx_node *n, const onyx_graph *g, const conv_io *io,
                                 void **state) {
  bool absent;
  const onyx_tensor *w = cpu_const_input(n, g, io->w);
  const onyx_tensor *wz = const_or_absent(n, g, io->wz, &absent);
  if (!w || !is_q8(w->dtype) || w->rank < 3 || (!wz && !absent)) return NULL;
  int64_t group = onyx_attr_int(n, "group", 1), m = w->dims[0];
  if (group < 1 || m % group || (wz && (wz->dtype != w->dtype || (count(wz) != 1 && count(wz) != m))))
    return NULL; /* run reports it */
  if (is_depthwise(m / group, w->dims[1], w->rank - 2)) return NULL;
  qstate *st = onyx_calloc(1, sizeof *st);
  if (!st) return onyx_error_oom();
  onyx_status *s = NULL;
  st->isa = cpu_qgemm_isa_best();
  st->group = group;
  st->pw = onyx_calloc((size_t)group, sizeof *st->pw);
  if (!st->pw) s = onyx_error_oom();
  else s = pack_groups(st->isa, w, wz, group, st->pw);
  if (s) {
    cpu_qlinear_release(st);
    return s;
  }
  *state = st;
  return NULL;
}

onyx_status *cpu_conv_integer_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return conv_prepare(n, g, &io_conv_integer, state);
}

onyx_status *cpu_qlinear_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return conv_prepare(n, g, &io_qlinear_conv, state);
}

onyx_status *cpu_fused_qlinear_conv_prepare(onyx_provider *prov, const onyx_node *n, const onyx_graph *g, void **state) {
  (void)prov;
  return conv_prepare(n, g, &io_fused_qlinear_conv, state);
}

/* Implicit im2col of one image's group channels, one row at a time. */
typedef struct qim2col {
  const uint8_t *x;                       /* the C/g channels of one image */
  const cpu_im2col *col;
  uint8_t flip;                           /* 0x80 for s8 input: into the u8 domain */
  uint8_t pad;                            /* the zero point, u8 domain */
} qim2col;

/* col row k x output columns [n0, n0+nc), the zero point for padding */
static void im2col_row(const void *ctx, int64_t k, int64_t n0, int64_t nc, uint8_t *dst) {
  const qim2col *ic = ctx;
  cpu_im2col_walk w;
  cpu_im2col_start(ic->col, k, n0, &w);
  for (int64_t j = 0; j < nc;) {
    cpu_im2col_run run;
    cpu_im2col_next(ic->col, &w, nc - j, &run);
    uint8_t *d = dst + j;
    for (int64_t r = 0; r < run.lo; r++) d[r] = ic->pad;
    int64_t at = run.src + run.lo * run.step;
    if (run.step == 1 && !ic->flip) memcpy(d + run.lo, ic->x + at, (size_t)(run.hi - run.lo));
    else
      for (int64_t r = run.lo; r < run.hi; r++, at += run.step) d[r] = ic->x[at] ^ ic->flip;
    for (int64_t r = run.hi; r < run.len; r++) d[r] = ic->pad;
    j += run.len;
  }
}

/* Everything one (image, group) GEMM needs; read-only while tasks run. */
typedef struct qconv_job {
  const cpu_qgemm_isa *isa;
  cpu_qgemm_packed *const *pw;  /* per group */
  const onyx_conv_geom *geo;
  const uint8_t *x;
  const uint8_t *xz;            /* x zero point byte, or NULL */
  bool x_signed, pointwise;
  int64_t c, m, cg, mg, kg, out_sp;
  cpu_im2col col;               /* the input's layout */
  cpu_qgemm_out out;            /* template: y is the whole output, scales for all M */
  size_t ysize;
  const float *mult;            /* M requantization multipliers, or NULL */
  uint8_t *ws;
  size_t wsb;
} qconv_job;

/* GEMM arguments of task (image, group); ic must outlive the GEMM */
static void conv_task_args(const qconv_job *j, int64_t task, cpu_qgemm_args *g, qim2col *ic) {
  int64_t img = task / j->geo->group, gi = task % j->geo->group;
  const uint8_t *xg = j->x + (img * j->c + gi * j->cg) * j->col.in_sp;
  memset(g, 0, sizeof *g);
  g->m = j->mg;
  g->n = j->out_sp;
  g->k = j->kg;
  g->w = j->pw[gi];
  g->x.is_signed = j->x_signed;
  g->x.zero = j->xz;
  g->x.n_zero = 1;
  if (j->pointwise) {
    g->x.data = xg;
    g->x.ld = j->col.in_sp;
  } else {
    ic->x = xg;
    ic->col = &j->col;
    ic->flip = j->x_signed ? 0x80 : 0;
    ic->pad = (uint8_t)(j->xz ? *j->xz ^ ic->flip : ic->flip);
    g->x.row = im2col_row;
    g->x.row_ctx = ic;
  }
  g->out = j->out;
  g->out.y = (uint8_t *)j->out.y + (size_t)((img * j->m + gi * j->mg) * j->out_sp) * j->ysize;
  if (j->out.bias) g->out.bias = j->out.bias + gi * j->mg;
  if (j->out.w_scale && j->out.n_w_scale > 1) {
    g->out.w_scale = j->out.w_scale + gi * j->mg;
    g->out.n_w_scale = j->mg;
  }
  g->out.mult_row = j->mult ? j->mult + gi * j->mg : NULL;
}

static void conv_tasks_run(void *arg, size_t begin, size_t end, int tid) {
  const qconv_job *j = arg;
  for (size_t t = begin; t < end; t++) {
    cpu_qgemm_args g;
    qim2col ic;
    conv_task_args(j, (int64_t)t, &g, &ic);
    cpu_qgemm_block(j->isa, &g, 0, g.m, 0, g.n, j->ws + (size_t)tid * j->wsb);
  }
}

/* ---- depthwise (one channel per group), 1-D and 2-D --------------------------------- */

typedef struct qdw_job {
  const cpu_qgemm_isa *isa;
  const uint8_t *x;
  bool x_signed;
  int32_t xz;
  const int32_t *w;             /* ch x kh x kw, zero point subtracted */
  int64_t ch, h, wd, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, hp, wp;
  const cpu_qgemm_out *out;
  const float *mult;            /* ch, when requantizing */
  size_t ysize;
  uint8_t *ws;                  /* per thread: hp * wp int16 + ow int32 */
  size_t wsb;
} qdw_job;

static void qdw_run(void *arg, size_t begin, size_t end, int tid) {
  const qdw_job *j = arg;
  int16_t *pp = (int16_t *)(j->ws + (size_t)tid * j->wsb);
  int32_t *acc = (int32_t *)(pp + ((j->hp * j->wp + 7) & ~(int64_t)7));
  const cpu_qgemm_out *o = j->out;
  bool sgn = o->kind == CPU_QGEMM_OUT_S8;
  float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f;
  if (o->relu && (float)o->y_zero > lo) lo = (float)o->y_zero;
  for (size_t t = begin; t < end; t++) {
    int64_t c = (int64_t)t % j->ch;
    const uint8_t *xp = j->x + (int64_t)t * j->h * j->wd;
    /* x - zero point on a plane padded with zeros (= the zero point) */
    for (int64_t rr = 0; rr < j->hp; rr++) {
      int16_t *d = pp + rr * j->wp;
      int64_t r = rr - j->ph;
      for (int64_t q = 0; q < j->wp; q++) {
        int64_t col = q - j->pw;
        bool in = r >= 0 && r < j->h && col >= 0 && col < j->wd;
        int32_t v = !in ? j->xz : j->x_signed ? (int8_t)xp[r * j->wd + col] : xp[r * j->wd + col];
        d[q] = (int16_t)(v - j->xz);
      }
    }
    const int32_t *wc = j->w + c * j->kh * j->kw;
    uint8_t *yp = (uint8_t *)o->y + (size_t)((int64_t)t * j->oh * j->ow) * j->ysize;
    for (int64_t r = 0; r < j->oh; r++) {
      for (int64_t q = 0; q < j->ow; q++) acc[q] = 0;
      for (int64_t a = 0; a < j->kh; a++) {
        const int16_t *xr = pp + (r * j->sh + a * j->dh) * j->wp;
        for (int64_t e = 0; e < j->kw; e++) {
          int32_t wv = wc[a * j->kw + e];
          const int16_t *xs = xr + e * j->dw;
          if (j->sw == 1)
            for (int64_t q = 0; q < j->ow; q++) acc[q] += wv * xs[q];
          else
            for (int64_t q = 0; q < j->ow; q++) acc[q] += wv * xs[q * j->sw];
        }
      }
      if (o->kind == CPU_QGEMM_OUT_S32) {
        memcpy(yp + (size_t)(r * j->ow) * 4, acc, (size_t)j->ow * 4);
        continue;
      }
      j->isa->requant(acc, (size_t)j->ow, j->mult + c, 0, o->bias ? o->bias + c : NULL, 0,
                      (float)o->y_zero, lo, hi, sgn, yp + r * j->ow);
    }
  }
}

static onyx_status *depthwise(const onyx_kernel_ctx *c, const onyx_conv_geom *g, const onyx_tensor *x,
                              const onyx_tensor *w, const onyx_tensor *xz, const onyx_tensor *wz,
                              const cpu_qgemm_out *out, const float *mult, size_t ysize) {
  bool two = g->nsp == 2;
  qdw_job j = {cpu_qgemm_isa_best(), x->data, x->dtype == ONYX_DTYPE_INT8, 0, NULL, x->dims[1],
               two ? g->in[0] : 1, g->in[g->nsp - 1], two ? g->out[0] : 1, g->out[g->nsp - 1],
               two ? g->kernel[0] : 1, g->kernel[g->nsp - 1], two ? g->stride[0] : 1,
               g->stride[g->nsp - 1], two ? g->dilation[0] : 1, g->dilation[g->nsp - 1],
               two ? g->pad_begin[0] : 0, g->pad_begin[g->nsp - 1], 0, 0, out, mult, ysize, NULL, 0};
  if (xz) j.xz = xz->dtype == ONYX_DTYPE_INT8 ? *(const int8_t *)xz->data : *(const uint8_t *)xz->data;
  /* the rows and columns the windows reach, padding included */
  j.hp = (j.oh - 1) * j.sh + (j.kh - 1) * j.dh + 1;
  j.wp = (j.ow - 1) * j.sw + (j.kw - 1) * j.dw + 1;
  int64_t taps = j.kh * j.kw, nz = count(wz);
  size_t planes = (size_t)(x->dims[0] * j.ch);
  int nt = cpu_qgemm_threads(c->pool, (double)planes * (double)(j.oh * j.ow * taps));
  j.wsb = (size_t)(((j.hp * j.wp + 7) & ~(int64_t)7) * 2 + j.ow * 4 + 64) & ~(size_t)63;
  int32_t *wq = onyx_malloc((size_t)(j.ch * taps) * sizeof *wq + 1);
  j.ws = onyx_malloc_aligned((size_t)nt * j.wsb);
  onyx_status *s = NULL;
  if (!wq || !j.ws) {
    s = onyx_error_oom();
    goto done;
  }
  bool ws8 = w->dtype == ONYX_DTYPE_INT8;
  for (int64_t ch = 0; ch < j.ch; ch++) {
    int32_t z = 0;
    if (wz) z = ws8 ? ((const int8_t *)wz->data)[nz == 1 ? 0 : ch] : ((const uint8_t *)wz->data)[nz == 1 ? 0 : ch];
    for (int64_t t = 0; t < taps; t++) {
      int64_t i = ch * taps + t;
      wq[i] = (ws8 ? ((const int8_t *)w->data)[i] : ((const uint8_t *)w->data)[i]) - z;
    }
  }
  j.w = wq;
  onyx_threadpool pool = {nt};
  onyx_parallel_for(&pool, planes, 1, qdw_run, &j);
done:
  onyx_free(wq);
  onyx_free_aligned(j.ws);
  return s;
}

static onyx_status *conv_run(onyx_kernel_ctx *c, const conv_io *io) {
  const onyx_node *nd = c->node;
  const bool requant = io->ys >= 0;
  const onyx_tensor *x = c->in[io->x], *w = c->in[io->w];
  const onyx_tensor *xz = opt_in(c, io->xz), *wz = opt_in(c, io->wz);
  onyx_tensor *y = c->out[0];
  if (xz && !onyx_tensor_nbytes(xz)) xz = NULL;
  if (wz && !onyx_tensor_nbytes(wz)) wz = NULL;
  if (!is_q8(x->dtype) || !is_q8(w->dtype) || (requant && !is_q8(y->dtype)))
    return onyx_node_error(nd, ONYX_ERR_NOT_IMPLEMENTED, "%s x %s -> %s is not supported",
                           onyx_dtype_name(x->dtype), onyx_dtype_name(w->dtype), onyx_dtype_name(y->dtype));
  if (x->rank < 3 || w->rank != x->rank)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "input rank %d and weight rank %d: expected equal, >= 3",
                           x->rank, w->rank);
  onyx_conv_geom geo;
  ONYX_TRY(onyx_conv_geometry(nd, false, x->rank, x->dims, w->dims, &geo));
  int64_t C = x->dims[1], M = w->dims[0], group = geo.group;
  if (group < 1 || C % group || M % group || w->dims[1] != C / group)
    return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "channels %lld / group %lld do not match the weights",
                           (long long)C, (long long)group);
  for (int d = 0; d < geo.nsp; d++)
    if (geo.kernel[d] != w->dims[2 + d])
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "kernel_shape does not match the weights");
  ONYX_TRY(check_zero(nd, xz, x, 1, "x"));
  ONYX_TRY(check_zero(nd, wz, w, M, "w"));
  const onyx_tensor *xs = NULL, *ws = NULL, *ys = NULL, *yz = NULL, *bias = NULL;
  if (requant) {
    xs = c->in[io->xs], ws = c->in[io->ws], ys = c->in[io->ys], yz = opt_in(c, io->yz);
    bias = opt_in(c, io->bias);
    if (yz && !onyx_tensor_nbytes(yz)) yz = NULL;
    ONYX_TRY(check_scale(nd, xs, 1, "x"));
    ONYX_TRY(check_scale(nd, ws, M, "w"));
    ONYX_TRY(check_scale(nd, ys, 1, "y"));
    if (yz && (yz->dtype != y->dtype || count(yz) != 1))
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "y_zero_point must be one %s",
                             onyx_dtype_name(y->dtype));
    if (bias && (bias->dtype != ONYX_DTYPE_INT32 || count(bias) != M))
      return onyx_node_error(nd, ONYX_ERR_INVALID_ARGUMENT, "bias must be %lld int32 values", (long long)M);
  }
  bool relu = false;
  if (io->fused) ONYX_TRY(fused_relu(nd, &relu));
  int64_t od[ONYX_MAX_RANK] = {x->dims[0], M};
  memcpy(od + 2, geo.out, (size_t)geo.nsp * sizeof *od);
  if (!y->data) ONYX_TRY(onyx_tensor_alloc(y, x->rank, od));
  qconv_job j = {0};
  j.geo = &geo;
  j.x = x->data;
  j.x_signed = x->dtype == ONYX_DTYPE_INT8;
  j.xz = xz ? xz->data : NULL;
  j.c = C;
  j.m = M;
  j.cg = C / group;
  j.mg = M / group;
  cpu_im2col_init(&j.col, &geo);
  j.kg = j.cg * j.col.kprod;
  j.out_sp = onyx_numel(geo.nsp, geo.out);
  j.ysize = requant ? 1 : 4;
  if (j.out_sp == 0 || x->dims[0] == 0 || M == 0) return NULL;
  float *scales = NULL;
  cpu_qgemm_packed **own = NULL;
  onyx_status *s = NULL;
  j.out.kind = !requant ? CPU_QGEMM_OUT_S32 : y->dtype == ONYX_DTYPE_UINT8 ? CPU_QGEMM_OUT_U8 : CPU_QGEMM_OUT_S8;
  j.out.y = y->data;
  j.out.ldy = j.out_sp;
  if (requant) {
    /* x scale, w scales, y scale, then M multipliers */
    int64_t nw = count(ws);
    scales = onyx_malloc((size_t)(nw + 2 + M) * sizeof *scales);
    if (!scales) return onyx_error_oom();
    scale_values(xs, scales);
    scale_values(ws, scales + 1);
    scale_values(ys, scales + 1 + nw);
    j.out.x_scale = scales;
    j.out.n_x_scale = 1;
    j.out.w_scale = scales + 1;
    j.out.n_w_scale = nw;
    j.out.y_scale = scales[1 + nw];
    j.out.y_zero = !yz ? 0 : yz->dtype == ONYX_DTYPE_UINT8 ? *(const uint8_t *)yz->data
                                                           : *(const int8_t *)yz->data;
    j.out.bias = bias ? bias->data : NULL;
    j.out.relu = relu;
    float *mult = scales + 2 + nw;
    for (int64_t i = 0; i < M; i++) mult[i] = (scales[0] * scales[1 + (nw == 1 ? 0 : i)]) / j.out.y_scale;
    j.mult = mult;
  }
  if (is_depthwise(j.mg, j.cg, geo.nsp)) {
    s = depthwise(c, &geo, x, w, xz, wz, &j.out, j.mult, j.ysize);
    goto done;
  }
  const qstate *st = c->state;
  j.isa = st ? st->isa : cpu_qgemm_isa_best();
  if (st) j.pw = st->pw;
  else {
    own = onyx_calloc((size_t)group, sizeof *own);
    if (!own) {
      s = onyx_error_oom();
      goto done;
    }
    if ((s = pack_groups(j.isa, w, wz, group, own))) goto done;
    j.pw = own;
  }
  j.pointwise = true;
  for (int i = 0; i < geo.nsp; i++) {
    j.pointwise = j.pointwise && geo.kernel[i] == 1 && geo.stride[i] == 1 && geo.pad_begin[i] == 0 &&
                  geo.pad_end[i] == 0;
  }
  int64_t tasks = x->dims[0] * group;
  int nt = c->pool ? c->pool->nthreads : 1;
  if (nt > 1 && (tasks % nt == 0 || tasks >= 4 * nt)) {
    /* enough independent GEMMs: one thread each */
    nt = cpu_qgemm_threads(c->pool, (double)tasks * (double)(j.mg * j.out_sp * j.kg));
    j.wsb = (cpu_qgemm_ws_bytes(j.isa, j.mg, j.out_sp, j.kg) + 63) & ~(size_t)63;
    j.ws = onyx_malloc_aligned((size_t)nt * j.wsb);
    if (!j.ws) {
      s = onyx_error_oom();
      goto done;
    }
    onyx_threadpool pool = {nt};
    onyx_parallel_for(&pool, (size_t)tasks, 1, conv_tasks_run, &j);
    onyx_free_aligned(j.ws);
    goto done;
  }
  for (int64_t t = 0; t < tasks && !s; t++) {
    cpu_qgemm_args g;
    qim2col ic;
    conv_task_args(&j, t, &g, &ic);
    s = cpu_qgemm(c->pool, j.isa, &g);
  }
done:
  for (int64_t i = 0; own && i < group; i++) cpu_qgemm_packed_free(own[i]);
  onyx_free(own);
  onyx_free(scales);
  return s;
}

onyx_status *cpu_conv_integer_run(onyx_kernel_ctx *c) { return conv_run(c, &io_conv_integer); }
onyx_status *cpu_qlinear_conv_run(onyx_kernel_ctx *c) { return conv_run(c, &io_qlinear_conv); }
onyx_status *cpu_fused_qlinear_conv_run(onyx_kernel_ctx *c) { return conv_run(c, &io_fused_qlinear_conv); }
