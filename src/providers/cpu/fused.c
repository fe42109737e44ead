/* fused.c — cpu kernels of the ai.onyx fused ops (ops/defs/fused.def) that
 * the level-2 optimizer creates.
 *
 * They add no engine of their own. FusedConv, FusedGemm and FusedMatMul are
 * the Conv / Gemm / MatMul kernels (same prepare, same packed weights) with
 * an epilogue the GEMM engine runs on each finished output block while it
 * is in cache: residual add, then the activation. Attention runs its two
 * products per (batch, head) through the same GEMM engine with strided
 * operands, so Q, K and V are read in place and the scores of one head
 * exist only in a per-thread buffer, normalized by the Softmax kernel's row
 * function. SkipLayerNormalization adds, then
 * normalizes with the LayerNormalization row kernel of norm.c. GELU (fused
 * or BiasGelu) and Tanh run on the vectorized rows of vmath.h. The integer
 * ops of the QDQ fusion are listed here too; their kernels live with the
 * integer engine's other users (qlinear.c, qlinear_add_pool.c). */
#include <math.h>
#include <string.h>

#include "linalg.h"
#include "nn.h"
#include "vmath.h"

/* ---- activations ------------------------------------------------------------- */

typedef enum act_kind {
  ACT_NONE, ACT_RELU, ACT_CLIP, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_HARD_SIGMOID, ACT_HARD_SWISH,
  ACT_TANH, ACT_GELU, ACT_GELU_TANH
} act_kind;

typedef struct act {
  act_kind kind;
  float a, b;
} act;

static onyx_status *act_parse(const onyx_node *n, act *out) {
  static const struct { const char *name; act_kind kind; int np; float a, b; } table[] = {
      {"", ACT_NONE, 0, 0, 0},           {"Relu", ACT_RELU, 0, 0, 0},
      {"Clip", ACT_CLIP, 2, -INFINITY, INFINITY}, {"LeakyRelu", ACT_LEAKY_RELU, 1, 0.01f, 0},
      {"Sigmoid", ACT_SIGMOID, 0, 0, 0}, {"HardSigmoid", ACT_HARD_SIGMOID, 2, 0.2f, 0.5f},
      {"HardSwish", ACT_HARD_SWISH, 0, 0, 0}, {"Tanh", ACT_TANH, 0, 0, 0},
      {"Gelu", ACT_GELU, 0, 0, 0},       {"GeluTanh", ACT_GELU_TANH, 0, 0, 0},
  };
  const char *name = onyx_attr_string(n, "activation", "");
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(name, table[i].name)) continue;
    int cnt = 0;
    const float *p = NULL;
    onyx_attr_floats(n, "activation_params", &cnt, &p);
    if (cnt > table[i].np)
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "activation %s takes %d parameters, got %d",
                             name, table[i].np, cnt);
    *out = (act){table[i].kind, cnt > 0 ? p[0] : table[i].a, cnt > 1 ? p[1] : table[i].b};
    return NULL;
  }
  return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "activation '%s'", name);
}

static void act_apply(const act *a, float *x, int64_t n) {
  switch (a->kind) {
    case ACT_NONE: break;
    case ACT_RELU: for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f; break;
    case ACT_CLIP: for (int64_t i = 0; i < n; i++) x[i] = x[i] < a->a ? a->a : x[i] > a->b ? a->b : x[i]; break;
    case ACT_LEAKY_RELU: for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : a->a * x[i]; break;
    case ACT_SIGMOID: for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i])); break;
    case ACT_HARD_SIGMOID:
      for (int64_t i = 0; i < n; i++) x[i] = fmaxf(0.0f, fminf(1.0f, a->a * x[i] + a->b));
      break;
    case ACT_HARD_SWISH:
      for (int64_t i = 0; i < n; i++) x[i] *= fmaxf(0.0f, fminf(1.0f, x[i] / 6.0f + 0.5f));
      break;
    case ACT_TANH: cpu_vm_tanh_f32(x, NULL, x, n); break;
    case ACT_GELU: cpu_vm_gelu_f32(x, NULL, x, n); break;
    case ACT_GELU_TANH: cpu_vm_gelu_tanh_f32(x, NULL, x, n); break;
  }
}

/* The epilogue of the fused GEMM-based kernels: residual (same layout as
 * the output, so found at the block's offset from the output's start),
 * then the activation. */
typedef struct fused_ep {
  act act;
  const float *res;     /* or NULL */
  const float *y;       /* the output's first element */
} fused_ep;

static void fused_epilogue(void *arg, float *c, int64_t ldc, int64_t row0, int64_t col0, int64_t m,
                           int64_t n) {
  (void)row0;
  (void)col0;
  const fused_ep *e = arg;
  for (int64_t i = 0; i < m; i++) {
    float *r = c + i * ldc;
    if (e->res) {
      const float *z = e->res + (r - e->y);
      for (int64_t j = 0; j < n; j++) r[j] += z[j];
    }
    act_apply(&e->act, r, n);
  }
}

/* ---- FusedConv / FusedGemm / FusedMatMul ------------------------------------- */

/* The output's shape as the base kernel will allocate it is not known
 * before it runs, so the residual is checked against the output after. */
static onyx_status *fused_conv_run(onyx_kernel_ctx *c) {
  fused_ep e = {{ACT_NONE, 0, 0}, NULL, NULL};
  ONYX_TRY(act_parse(c->node, &e.act));
  const onyx_tensor *z = c->n_in > 3 ? c->in[3] : NULL;
  onyx_tensor *y = c->out[0];
  if (z && (z->dtype != ONYX_DTYPE_FLOAT || !y->data || z->rank != y->rank ||
            memcmp(z->dims, y->dims, (size_t)y->rank * sizeof y->dims[0])))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT,
                           "the residual input must be float32 with the output's shape");
  e.res = z ? z->data : NULL;
  e.y = y->data;
  bool any = e.res || e.act.kind != ACT_NONE;
  return cpu_conv_run_ep(c, any ? fused_epilogue : NULL, &e);
}

static onyx_status *fused_gemm_run(onyx_kernel_ctx *c) {
  fused_ep e = {{ACT_NONE, 0, 0}, NULL, NULL};
  ONYX_TRY(act_parse(c->node, &e.act));
  return cpu_gemm_run_ep(c, e.act.kind != ACT_NONE ? fused_epilogue : NULL, &e);
}

static onyx_status *fused_matmul_run(onyx_kernel_ctx *c) {
  fused_ep e = {{ACT_NONE, 0, 0}, NULL, NULL};
  ONYX_TRY(act_parse(c->node, &e.act));
  const onyx_tensor *b = c->n_in > 2 ? c->in[2] : NULL, *w = c->in[1];
  if (b) {
    int64_t n = w->rank >= 2 ? w->dims[w->rank - 1] : 1;
    if (b->dtype != ONYX_DTYPE_FLOAT || onyx_numel(b->rank, b->dims) != n)
      return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias must be %lld floats", (long long)n);
  }
  return cpu_matmul_run_ep(c, b ? b->data : NULL, e.act.kind != ACT_NONE ? fused_epilogue : NULL, &e);
}

/* ---- BiasGelu ----------------------------------------------------------------- */

typedef struct gelu_job {
  const float *x, *bias;
  float *y;
  int64_t n;      /* bias length (row length), or the whole size without bias */
  bool tanh_form;
} gelu_job;

static void gelu_rows(void *arg, size_t begin, size_t end, int tid) {
  (void)tid;
  const gelu_job *j = arg;
  for (size_t r = begin; r < end; r++) {
    const float *x = j->x + (int64_t)r * j->n;
    float *y = j->y + (int64_t)r * j->n;
    if (j->tanh_form) cpu_vm_gelu_tanh_f32(x, j->bias, y, j->n);
    else cpu_vm_gelu_f32(x, j->bias, y, j->n);
  }
}

static onyx_status *bias_gelu_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *b = c->n_in > 1 ? c->in[1] : NULL;
  if (x->dtype != ONYX_DTYPE_FLOAT || (b && b->dtype != ONYX_DTYPE_FLOAT))
    return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "BiasGelu of %s", onyx_dtype_name(x->dtype));
  int64_t total = onyx_numel(x->rank, x->dims), n = b ? onyx_numel(b->rank, b->dims) : 1;
  if (b && (x->rank < 1 || n != x->dims[x->rank - 1]))
    return onyx_node_error(c->node, ONYX_ERR_INVALID_ARGUMENT, "bias has %lld values, the last axis %lld",
                           (long long)n, (long long)(x->rank ? x->dims[x->rank - 1] : 1));
  if (!b) n = total > 4096 ? 4096 : total;   /* rows of a flat tensor, for threading */
  gelu_job j = {x->data, b ? b->data : NULL, c->out[0]->data, n,
                !strcmp(onyx_attr_string(c->node, "approximate", "none"), "tanh")};
  if (!n || !total) return NULL;
  int64_t rows = total / n, rest = total - rows * n;
  onyx_parallel_for(c->pool, (size_t)rows, nn_grain(20 * n), gelu_rows, &j);
  if (rest) {   /* without bias, the tail that does not fill a row */
    gelu_job t = j;
    t.x += rows * n;
    t.y += rows * n;
    t.n = rest;
    gelu_rows(&t, 0, 1, 0);
  }
  return NULL;
}

/* ---- SkipLayerNormalization ----------------------------------------------------- */

/* dst = a + b with numpy broadcasting (y has the broadcast shape): the slow
 * path for operands of different shapes. */
static void add_broadcast(const onyx_tensor *a, const onyx_tensor *b, onyx_tensor *y) {
  int r = y->rank;
  int64_t sa[ONYX_MAX_RANK], sb[ONYX_MAX_RANK], ta = 1, tb = 1;
  for (int i = r - 1; i >= 0; i--) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    sa[i] = da == 1 ? 0 : ta;
    sb[i] = db == 1 ? 0 : tb;
    ta *= da;
    tb *= db;
  }
  const float *pa = a->data, *pb = b->data;
  float *py = y->data;
  int64_t total = onyx_numel(r, y->dims);
  for (int64_t k = 0; k < total; k++) {
    int64_t rem = k, oa = 0, ob = 0;
    for (int i = r - 1; i >= 0; i--) {
      int64_t d = rem % y->dims[i];
      rem /= y->dims[i];
      oa += d * sa[i];
      ob += d * sb[i];
    }
    py[k] = pa[oa] + pb[ob];
  }
}

static onyx_status *skip_layer_norm_run(onyx_kernel_ctx *c) {
  const onyx_tensor *x = c->in[0], *skip = c->in[1], *gamma = c->in[2];
  const onyx_tensor *beta = c->n_in > 3 ? c->in[3] : NULL, *bias = c->n_in > 4 ? c->in[4] : NULL;
  const onyx_node *n = c->node;
  onyx_tensor *out = c->out[0];
  if (x->dtype != ONYX_DTYPE_FLOAT || skip->dtype != ONYX_DTYPE_FLOAT || out->rank < 1)
    return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "SkipLayerNormalization of %s, rank %d",
                           onyx_dtype_name(x->dtype), out->rank);
  int64_t cols = out->dims[out->rank - 1], total = onyx_numel(out->rank, out->dims);
  const onyx_tensor *p[3] = {gamma, beta, bias};
  for (int i = 0; i < 3; i++)
    if (p[i] && (p[i]->dtype != ONYX_DTYPE_FLOAT || onyx_numel(p[i]->rank, p[i]->dims) != cols))
      return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "input %d must be float32 with %lld values", i + 2,
                             (long long)cols);
  float *y = out->data;
  if (onyx_numel(x->rank, x->dims) == total && onyx_numel(skip->rank, skip->dims) == total) {
    const float *a = x->data, *s = skip->data;
    for (int64_t i = 0; i < total; i++) y[i] = a[i] + s[i];
  } else {
    add_broadcast(x, skip, out);
  }
  if (bias) {
    const float *bb = bias->data;
    for (int64_t i = 0; i < total; i++) y[i] += bb[i % cols];
  }
  if (cols)
    cpu_layer_norm_rows(y, gamma->data, beta ? beta->data : NULL, y, total / cols, cols,
                        onyx_attr_float(n, "epsilon", 1e-5f), c->pool);
  return NULL;
}

/* ---- Attention ------------------------------------------------------------------ */

typedef struct attn_job {
  const cpu_sgemm_isa *isa;
  const float *q, *k, *v, *mask;
  float *o;
  int64_t b, s, skv, h, d, dv;
  int64_t mstr[4];        /* mask strides over [B, heads, S, S_kv]; 0 broadcasts */
  float scale;
  float *ws;              /* per thread: scores then GEMM workspace */
  size_t wsf, gemm_off;
} attn_job;

static void attn_tasks(void *arg, size_t begin, size_t end, int tid) {
  const attn_job *j = arg;
  float *sc = j->ws + (size_t)tid * j->wsf, *gws = sc + j->gemm_off;
  for (size_t t = begin; t < end; t++) {
    int64_t bi = (int64_t)t / j->h, hi = (int64_t)t % j->h;
    /* scores = scale * Q_bh K_bh^T: rows of Q and K are heads * d apart */
    cpu_sgemm_args g1 = {j->s, j->skv, j->d, j->scale, 0.0f,
                         {j->q + (bi * j->s * j->h + hi) * j->d, j->h * j->d, false, NULL, NULL, NULL},
                         {j->k + (bi * j->skv * j->h + hi) * j->d, j->h * j->d, true, NULL, NULL, NULL},
                         sc, j->skv, NULL, NULL, NULL, NULL};
    cpu_sgemm_block(j->isa, &g1, 0, j->s, 0, j->skv, gws);
    for (int64_t i = 0; i < j->s; i++) {
      float *r = sc + i * j->skv;
      if (j->mask) {
        const float *m = j->mask + bi * j->mstr[0] + hi * j->mstr[1] + i * j->mstr[2];
        if (j->mstr[3] == 1)
          for (int64_t x = 0; x < j->skv; x++) r[x] += m[x];
        else
          for (int64_t x = 0; x < j->skv; x++) r[x] += m[x * j->mstr[3]];
      }
      cpu_softmax_row(r, r, j->skv);
    }
    /* O_bh = P V_bh, written in place into the [B, S, heads, dv] output */
    cpu_sgemm_args g2 = {j->s, j->dv, j->skv, 1.0f, 0.0f, {sc, j->skv, false, NULL, NULL, NULL},
                         {j->v + (bi * j->skv * j->h + hi) * j->dv, j->h * j->dv, false, NULL, NULL, NULL},
                         j->o + (bi * j->s * j->h + hi) * j->dv, j->h * j->dv, NULL, NULL, NULL, NULL};
    cpu_sgemm_block(j->isa, &g2, 0, j->s, 0, j->dv, gws);
  }
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static onyx_status *attention_run(onyx_kernel_ctx *c) {
  const onyx_node *n = c->node;
  const onyx_tensor *q = c->in[0], *k = c->in[1], *v = c->in[2], *m = c->n_in > 3 ? c->in[3] : NULL;
  for (int i = 0; i < 3; i++)
    if (c->in[i]->dtype != ONYX_DTYPE_FLOAT || c->in[i]->rank != 4)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "Attention input %d must be 4-D float32", i);
  attn_job j = {cpu_sgemm_isa_best(), q->data, k->data, v->data, NULL, c->out[0]->data,
                q->dims[0], q->dims[1], k->dims[1], q->dims[2], q->dims[3], v->dims[3], {0, 0, 0, 0},
                onyx_attr_float(n, "scale", 1.0f), NULL, 0, 0};
  if (k->dims[0] != j.b || v->dims[0] != j.b || k->dims[2] != j.h || v->dims[2] != j.h ||
      k->dims[3] != j.d || v->dims[1] != j.skv)
    return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "Q, K and V shapes do not agree");
  if (m) {
    if (m->dtype != ONYX_DTYPE_FLOAT || m->rank > 4)
      return onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "the mask must be float32 of rank <= 4");
    const int64_t full[4] = {j.b, j.h, j.s, j.skv};
    int64_t st = 1;
    for (int i = 3; i >= 0; i--) {
      int mi = i - (4 - m->rank);
      int64_t dim = mi >= 0 ? m->dims[mi] : 1;
      if (dim != 1 && dim != full[i])
        return onyx_node_error(n, ONYX_ERR_INVALID_ARGUMENT, "the mask does not broadcast to the scores");
      j.mstr[i] = dim == 1 ? 0 : st;
      st *= dim;
    }
    j.mask = m->data;
  }
  int64_t tasks = j.b * j.h;
  if (!tasks || !j.s || !j.dv) return NULL;
  size_t ws1 = cpu_sgemm_ws_floats(j.isa, j.s, j.skv, j.d), ws2 = cpu_sgemm_ws_floats(j.isa, j.s, j.dv, j.skv);
  j.gemm_off = round16((size_t)(j.s * j.skv));
  j.wsf = j.gemm_off + round16(ws1 > ws2 ? ws1 : ws2);
  double macs = (double)tasks * (double)j.s * (double)j.skv * (double)(j.d + j.dv);
  int nt = cpu_sgemm_threads(c->pool, macs);
  if (nt > tasks) nt = (int)tasks;
  j.ws = onyx_malloc_aligned((size_t)nt * j.wsf * sizeof(float));
  if (!j.ws) return onyx_error_oom();
  onyx_threadpool pool = {nt};
  onyx_parallel_for(&pool, (size_t)tasks, 1, attn_tasks, &j);
  onyx_free_aligned(j.ws);
  return NULL;
}

const onyx_kernel cpu_kernels_fused[] = {
    {.op = onyx_op_FusedConv, .prepare = cpu_conv_prepare, .run = fused_conv_run, .release = cpu_conv_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_FusedGemm, .prepare = cpu_gemm_prepare, .run = fused_gemm_run, .release = cpu_matmul_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_FusedMatMul, .prepare = cpu_matmul_prepare, .run = fused_matmul_run, .release = cpu_matmul_release,
     .dtypes = ONYX_DT(FLOAT)},
    {.op = onyx_op_BiasGelu, .run = bias_gelu_run},
    {.op = onyx_op_SkipLayerNormalization, .run = skip_layer_norm_run},
    {.op = onyx_op_Attention, .run = attention_run},
    {.op = onyx_op_FusedQLinearConv, .prepare = cpu_fused_qlinear_conv_prepare, .run = cpu_fused_qlinear_conv_run, .release = cpu_qlinear_release},
    {.op = onyx_op_FusedQLinearMatMul, .prepare = cpu_fused_qlinear_matmul_prepare, .run = cpu_fused_qlinear_matmul_run,
     .release = cpu_qlinear_release},
    {.op = onyx_op_QLinearAdd, .run = cpu_qlinear_add_run},
    {.op = onyx_op_QLinearGlobalAveragePool, .run = cpu_qlinear_global_average_pool_run},
    {.op = onyx_op_DynamicQuantMatMul, .prepare = cpu_dynamic_quant_matmul_prepare, .run = cpu_dynamic_quant_matmul_run,
     .release = cpu_qlinear_release},
    {.op = -1},
};
