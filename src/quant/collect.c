/* collect.c — range collectors for calibration: running min/max and a
 * histogram, and the three ways of turning them into a quantization range
 * (minmax, entropy, percentile).
 *
 * The histogram is symmetric around zero ([-range, range], ONYX_CALIB_BINS
 * bins, zero on a bin edge) as ORT's HistogramCollector keeps it for the
 * entropy method. ORT grows its bin count when later batches reach further;
 * onyx instead doubles the range and merges bin pairs, which re-bins earlier
 * batches exactly and keeps the cost of the threshold search fixed. The
 * entropy search is the KL-divergence calibration of TensorRT as ORT's
 * get_entropy_threshold writes it (MXNet's formulation: the expanded
 * distribution q is zero wherever p is). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "quant.h"

onyx_status *onyx_collector_init(onyx_collector *c, bool histogram) {
  memset(c, 0, sizeof *c);
  c->min = INFINITY;
  c->max = -INFINITY;
  c->histogram = histogram;
  if (histogram && !(c->bins = onyx_calloc(ONYX_CALIB_BINS, sizeof *c->bins))) return onyx_error_oom();
  return NULL;
}

void onyx_collector_deinit(onyx_collector *c) {
  onyx_free(c->bins);
  c->bins = NULL;
}

/* Doubles the histogram's range: bins 2k and 2k+1 of the old histogram form
 * bin N/4 + k of the new one. */
static void widen(onyx_collector *c) {
  uint64_t tmp[ONYX_CALIB_BINS] = {0};
  for (int k = 0; k < ONYX_CALIB_BINS / 2; k++)
    tmp[ONYX_CALIB_BINS / 4 + k] = c->bins[2 * k] + c->bins[2 * k + 1];
  memcpy(c->bins, tmp, sizeof tmp);
  c->range *= 2;
}

void onyx_collector_add(onyx_collector *c, const float *x, int64_t n) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) continue;
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
    c->count++;
  }
  if (lo > hi) return;   /* nothing finite */
  c->min = fmin(c->min, lo);
  c->max = fmax(c->max, hi);
  if (!c->histogram) return;
  double a = fmax(fabs(lo), fabs(hi));
  if (a == 0) a = 1e-30;   /* all zeros: any positive range holds them */
  if (c->range == 0) c->range = a;
  while (a > c->range) widen(c);
  double w = 2 * c->range / ONYX_CALIB_BINS;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) continue;
    int64_t b = (int64_t)floor((x[i] + c->range) / w);
    c->bins[b < 0 ? 0 : b >= ONYX_CALIB_BINS ? ONYX_CALIB_BINS - 1 : b]++;
  }
}

/* ORT's smooth_distribution: moves eps of mass onto empty bins so the KL
 * divergence stays finite. False when p is all zero. */
static bool smooth(double *p, int n) {
  int zeros = 0;
  for (int i = 0; i < n; i++) zeros += p[i] == 0;
  if (zeros == n) return false;
  double eps = 1e-4, eps1 = eps * zeros / (n - zeros);
  for (int i = 0; i < n; i++) p[i] += p[i] == 0 ? eps : -eps1;
  return true;
}

/* KL(p || q) of two unnormalised distributions (scipy.stats.entropy). */
static double kl(const double *p, const double *q, int n) {
  double sp = 0, sq = 0, d = 0;
  for (int i = 0; i < n; i++) sp += p[i], sq += q[i];
  for (int i = 0; i < n; i++)
    if (p[i] > 0) d += p[i] / sp * log((p[i] / sp) / (q[i] / sq));
  return d;
}

/* The entropy threshold over the symmetric histogram: candidate windows are
 * the central 2i bins, i from QUANT_BINS/2 to BINS/2. */
static void entropy_range(const onyx_collector *c, double *lo, double *hi) {
  const int nb = ONYX_CALIB_BINS, zero = nb / 2, half_q = ONYX_CALIB_QUANT_BINS / 2;
  double p[ONYX_CALIB_BINS], q[ONYX_CALIB_BINS], qb[ONYX_CALIB_QUANT_BINS];
  double best = INFINITY, w = 2 * c->range / nb;
  int best_i = zero;
  for (int i = half_q; i <= zero; i++) {
    int start = zero - i, end = zero + i, len = end - start;
    for (int k = 0; k < len; k++) p[k] = (double)c->bins[start + k];
    for (int k = 0; k < start; k++) p[0] += (double)c->bins[k];
    for (int k = end; k < nb; k++) p[len - 1] += (double)c->bins[k];
    /* quantize the window (outliers excluded, as ORT slices the histogram)
     * into QUANT_BINS bins; the last takes the remainder */
    int merged = len / ONYX_CALIB_QUANT_BINS;
    for (int j = 0; j < ONYX_CALIB_QUANT_BINS; j++) {
      int s = j * merged, e = j == ONYX_CALIB_QUANT_BINS - 1 ? len : s + merged;
      qb[j] = 0;
      for (int k = s; k < e; k++) qb[j] += (double)c->bins[start + k];
      int nz = 0;
      for (int k = s; k < e; k++) nz += p[k] != 0;
      for (int k = s; k < e; k++) q[k] = p[k] != 0 && nz ? qb[j] / nz : 0;
    }
    if (!smooth(p, len) || !smooth(q, len)) continue;
    double d = kl(p, q, len);
    if (d < best) {
      best = d;
      best_i = i;
    }
  }
  *lo = -best_i * w;
  *hi = best_i * w;
}

/* Percentile over the histogram: symmetric folds it into |x|. */
static void percentile_range(const onyx_collector *c, double pct, bool symmetric, double *lo,
                             double *hi) {
  const int nb = ONYX_CALIB_BINS, zero = nb / 2;
  double w = 2 * c->range / nb, total = 0;
  for (int k = 0; k < nb; k++) total += (double)c->bins[k];
  if (symmetric) {
    double cum = 0, want = total * pct / 100.0;
    int k = 0;
    for (; k < zero; k++) {
      cum += (double)(c->bins[zero + k] + c->bins[zero - 1 - k]);
      if (cum >= want) break;
    }
    *hi = (k + 1) * w;
    *lo = -*hi;
    return;
  }
  double cut = total * (100.0 - pct) / 200.0, cum = 0;
  int l = 0, r = nb - 1;
  for (; l < nb - 1; l++) {
    cum += (double)c->bins[l];
    if (cum > cut) break;
  }
  for (cum = 0; r > 0; r--) {
    cum += (double)c->bins[r];
    if (cum > cut) break;
  }
  *lo = -c->range + l * w;
  *hi = -c->range + (r + 1) * w;
}

void onyx_collector_range(const onyx_collector *c, onyx_calib_method method, double percentile,
                          bool symmetric, float *rmin, float *rmax) {
  if (!c->count) {
    *rmin = *rmax = 0;
    return;
  }
  double lo = c->min, hi = c->max;
  if (c->histogram && c->range > 0 && method != ONYX_CALIB_MINMAX) {
    if (method == ONYX_CALIB_ENTROPY) entropy_range(c, &lo, &hi);
    else percentile_range(c, percentile, symmetric, &lo, &hi);
    lo = fmax(lo, c->min);
    hi = fmin(hi, c->max);
  }
  *rmin = (float)lo;
  *rmax = (float)hi;
}
