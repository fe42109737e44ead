/* reduce_tmpl.h — the Reduce* inner loops for one element type, included by
 * reduce.c once per type (float, double, int64) with these macros set:
 *   RT        element and accumulator type
 *   RSFX      name suffix (f32, f64, i64)
 *   R_EXP, R_LOG, R_SQRT   math on RT (integers go through double)
 *   R_LOWEST, R_HIGHEST    identities of max and min
 *   R_NAN     the NaN of RT (0 for integers, which have none)
 *   R_IS_INT  1 for integer types (mean over nothing gives 0, no NaN)
 * and undefines them at its end. It relies on rkind and rplan from reduce.c. A template header rather than
 * one generic loop over doubles so the float path vectorises and int64 keeps
 * exact sums. */

#define R_CAT2(a, b) a##_##b
#define R_CAT(a, b) R_CAT2(a, b)
#define R_FN(name) R_CAT(name, RSFX)

static RT R_FN(init)(rkind k) {
  switch (k) {
    case R_PROD: return (RT)1;
    case R_MAX: return R_LOWEST;
    case R_MIN: return R_HIGHEST;
    default: return (RT)0;
  }
}

/* RU: the type sums and products are formed in. For integers it is
 * unsigned, so an overflowing sum wraps (as ONNX Runtime's does in practice)
 * instead of being undefined behaviour. */
#if R_IS_INT
#define R_ISNAN(v) 0
#define RU uint64_t
#else
#define R_ISNAN(v) ((v) != (v))
#define RU RT
#endif
#define R_UABS(v) ((v) < 0 ? (RU)0 - (RU)(v) : (RU)(v))

/* max/min that propagate NaN like numpy's maximum.reduce; branch-free */
static inline RT R_FN(rmax)(RT a, RT v) { return ((v > a) | R_ISNAN(v)) ? v : a; }
static inline RT R_FN(rmin)(RT a, RT v) { return ((v < a) | R_ISNAN(v)) ? v : a; }

/* Reduces n contiguous elements into acc. `omp simd` reductions let the
 * compiler keep partial results in vector lanes (reassociation a plain loop
 * may not do); max/min track NaN apart so the lanes can use max/min. */
static RT R_FN(contig)(rkind k, const RT *p, int64_t n, RT acc, RT s) {
  RU r = 0;
  RT m = acc;
  int nan = 0;
  switch (k) {
    case R_MAX:
      if (R_ISNAN(acc)) return acc;
#pragma omp simd reduction(max : m) reduction(| : nan)
      for (int64_t i = 0; i < n; i++) {
        m = p[i] > m ? p[i] : m;
        nan |= R_ISNAN(p[i]);
      }
      return nan ? R_NAN : m;
    case R_MIN:
      if (R_ISNAN(acc)) return acc;
#pragma omp simd reduction(min : m) reduction(| : nan)
      for (int64_t i = 0; i < n; i++) {
        m = p[i] < m ? p[i] : m;
        nan |= R_ISNAN(p[i]);
      }
      return nan ? R_NAN : m;
    case R_PROD:
      r = 1;
#pragma omp simd reduction(* : r)
      for (int64_t i = 0; i < n; i++) r *= (RU)p[i];
      return (RT)((RU)acc * r);
    case R_L1:
#pragma omp simd reduction(+ : r)
      for (int64_t i = 0; i < n; i++) r += R_UABS(p[i]);
      return (RT)((RU)acc + r);
    case R_L2:
    case R_SUMSQ:
#pragma omp simd reduction(+ : r)
      for (int64_t i = 0; i < n; i++) r += (RU)p[i] * (RU)p[i];
      return (RT)((RU)acc + r);
    case R_LOGSUMEXP:
#pragma omp simd reduction(+ : r)
      for (int64_t i = 0; i < n; i++) r += (RU)R_EXP(p[i] - s);
      return (RT)((RU)acc + r);
    default:
#pragma omp simd reduction(+ : r)
      for (int64_t i = 0; i < n; i++) r += (RU)p[i];
      return (RT)((RU)acc + r);
  }
}

/* y[j] = combine(y[j], pre(p[j])) for j < n; s is the LogSumExp shift row. */
static void R_FN(rows)(rkind k, RT *restrict y, const RT *restrict p, int64_t n, const RT *s) {
  switch (k) {
    case R_MAX:
      for (int64_t j = 0; j < n; j++) y[j] = R_FN(rmax)(y[j], p[j]);
      break;
    case R_MIN:
      for (int64_t j = 0; j < n; j++) y[j] = R_FN(rmin)(y[j], p[j]);
      break;
    case R_PROD:
      for (int64_t j = 0; j < n; j++) y[j] = (RT)((RU)y[j] * (RU)p[j]);
      break;
    case R_L1:
      for (int64_t j = 0; j < n; j++) y[j] = (RT)((RU)y[j] + R_UABS(p[j]));
      break;
    case R_L2:
    case R_SUMSQ:
      for (int64_t j = 0; j < n; j++) y[j] = (RT)((RU)y[j] + (RU)p[j] * (RU)p[j]);
      break;
    case R_LOGSUMEXP:
      for (int64_t j = 0; j < n; j++) y[j] = (RT)((RU)y[j] + (RU)R_EXP(p[j] - s[j]));
      break;
    default:
      for (int64_t j = 0; j < n; j++) y[j] = (RT)((RU)y[j] + (RU)p[j]);
      break;
  }
}

static RT R_FN(post)(rkind k, RT acc, int64_t count, RT s) {
  switch (k) {
    case R_MEAN:
#if R_IS_INT
      return count ? acc / (RT)count : 0;
#else
      return acc / (RT)count;
#endif
    case R_L2: return (RT)R_SQRT(acc);
    case R_LOGSUM: return (RT)R_LOG(acc);
    case R_LOGSUMEXP: return (RT)R_LOG(acc) + s;
    default: return acc;
  }
}

typedef struct R_FN(rjob) {
  const rplan *p;
  rkind k;
  const RT *x;
  RT *y;
  const RT *s;     /* LogSumExp: per-output shift (the max), else NULL */
  int64_t chunk;   /* inner-kept mode: elements of a row per work unit */
  int64_t nchunk;
} R_FN(rjob);

static void R_FN(rjob_fn)(void *arg, size_t u0, size_t u1, int tid) {
  (void)tid;
  const R_FN(rjob) *j = arg;
  const rplan *p = j->p;
  for (size_t u = u0; u < u1; u++) {
    int64_t b = (int64_t)u / j->nchunk, ch = (int64_t)u % j->nchunk;
    const RT *xb = j->x + rplan_base(p, b);
    if (p->inner_reduced) {
      RT s = j->s ? j->s[b] : 0;
      RT acc = R_FN(init)(j->k);
      for (int64_t r = 0; r < p->nred; r++) acc = R_FN(contig)(j->k, xb + p->roff[r], p->inner, acc, s);
      j->y[b] = R_FN(post)(j->k, acc, p->count, s);
    } else {
      int64_t j0 = ch * j->chunk, n = p->inner - j0 < j->chunk ? p->inner - j0 : j->chunk;
      RT *y = j->y + b * p->inner + j0;
      const RT *s = j->s ? j->s + b * p->inner + j0 : NULL;
      RT init = R_FN(init)(j->k);
      for (int64_t i = 0; i < n; i++) y[i] = init;
      for (int64_t r = 0; r < p->nred; r++) R_FN(rows)(j->k, y, xb + p->roff[r] + j0, n, s);
      for (int64_t i = 0; i < n; i++) y[i] = R_FN(post)(j->k, y[i], p->count, s ? s[i] : 0);
    }
  }
}

/* Runs reduction k of plan p over x into y (numel p->out elements). s is
 * NULL or the LogSumExp shift. */
static void R_FN(reduce)(const rplan *p, rkind k, const RT *x, RT *y, const RT *s,
                         const onyx_threadpool *pool) {
  R_FN(rjob) j = {p, k, x, y, s, p->inner, 1};
  int nt = pool ? pool->nthreads : 1;
  int64_t per_unit = p->nred * p->inner;
  if (!p->inner_reduced && p->blocks < 4 * nt && p->inner > 1024) {
    int64_t want = (4 * nt + p->blocks - 1) / p->blocks;
    j.chunk = (p->inner + want - 1) / want;
    if (j.chunk < 512) j.chunk = 512;
    j.nchunk = (p->inner + j.chunk - 1) / j.chunk;
    per_unit = p->nred * j.chunk;
  }
  size_t grain = per_unit >= 32768 ? 1 : (size_t)(32768 / (per_unit ? per_unit : 1));
  onyx_parallel_for(pool, (size_t)(p->blocks * j.nchunk), grain, R_FN(rjob_fn), &j);
}

#undef R_ISNAN
#undef RU
#undef R_UABS
#undef R_FN
#undef R_CAT
#undef R_CAT2
#undef RT
#undef RSFX
#undef R_EXP
#undef R_LOG
#undef R_SQRT
#undef R_LOWEST
#undef R_HIGHEST
#undef R_IS_INT
#undef R_NAN
