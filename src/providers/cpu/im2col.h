/* im2col.h — the index walk of implicit im2col, shared by the float Conv
 * (conv.c, packing straight into sgemm panels) and the integer convs
 * (qlinear.c, one byte row at a time).
 *
 * Row k of col (C/g * kernel rows, one per input channel and kernel offset)
 * holds, for each output position, the input element under that kernel
 * offset, or padding. Along the last spatial dim consecutive output
 * positions read inputs a stride apart, so the walk hands out runs: output
 * columns with fixed outer coordinates, of which [lo, hi) read the input at
 * src + r * step and the rest are padding. What an element is, and where the
 * run goes, stays with the caller; the walk is only index arithmetic, in
 * static inline functions so each caller's loop compiles as it did when the
 * walk was written out in it. */
#ifndef ONYX_CPU_IM2COL_H
#define ONYX_CPU_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/linalg.h"

/* The input layout the walk needs, fixed per Conv call. */
typedef struct cpu_im2col {
  const onyx_conv_geom *geo;              /* borrowed, must outlive the walk */
  int64_t in_sp;                          /* elements of one input channel */
  int64_t kprod;                          /* kernel offsets per channel */
  int64_t in_str[ONYX_CONV_MAX_SPATIAL];  /* input strides of the spatial dims */
} cpu_im2col;

/* Where the walk over one col row stands. */
typedef struct cpu_im2col_walk {
  int64_t chan;                           /* offset of the row's input channel */
  int64_t kk[ONYX_CONV_MAX_SPATIAL];      /* the row's kernel offset */
  int64_t o[ONYX_CONV_MAX_SPATIAL];       /* the next output position */
} cpu_im2col_walk;

/* A run of output columns along the last spatial dim. */
typedef struct cpu_im2col_run {
  int64_t len;                            /* columns in the run */
  int64_t lo, hi;                         /* columns [lo, hi) read the input; others pad */
  int64_t src, step;                      /* column r reads input element src + r * step */
} cpu_im2col_run;

static inline void cpu_im2col_init(cpu_im2col *c, const onyx_conv_geom *geo) {
  c->geo = geo;
  c->in_sp = onyx_numel(geo->nsp, geo->in);
  c->kprod = onyx_numel(geo->nsp, geo->kernel);
  for (int i = 0; i < geo->nsp; i++) c->in_str[i] = onyx_numel(geo->nsp - 1 - i, geo->in + i + 1);
}

/* Starts the walk of col row k at output column n0. */
static inline void cpu_im2col_start(const cpu_im2col *c, int64_t k, int64_t n0, cpu_im2col_walk *w) {
  const onyx_conv_geom *g = c->geo;
  w->chan = (k / c->kprod) * c->in_sp;
  int64_t r = k % c->kprod;
  for (int i = g->nsp - 1; i >= 0; i--) {
    w->kk[i] = r % g->kernel[i];
    r /= g->kernel[i];
  }
  r = n0;
  for (int i = g->nsp - 1; i >= 0; i--) {
    w->o[i] = r % g->out[i];
    r /= g->out[i];
  }
}

/* The next run, of at most `max` (>= 1) columns; moves the walk past it. */
static inline void cpu_im2col_next(const cpu_im2col *c, cpu_im2col_walk *w, int64_t max,
                                   cpu_im2col_run *run) {
  const onyx_conv_geom *g = c->geo;
  const int last = g->nsp - 1;
  int64_t len = g->out[last] - w->o[last];
  if (len > max) len = max;
  bool ok = true;
  int64_t off = w->chan;
  for (int i = 0; i < last; i++) {
    int64_t ii = w->o[i] * g->stride[i] - g->pad_begin[i] + w->kk[i] * g->dilation[i];
    ok = ok && ii >= 0 && ii < g->in[i];
    off += ii * c->in_str[i];
  }
  /* input column of output column o: o * s + base; valid for r in [lo, hi) */
  int64_t s = g->stride[last], in = g->in[last];
  int64_t base = w->kk[last] * g->dilation[last] - g->pad_begin[last] + w->o[last] * s;
  int64_t lo = len, hi = len;
  if (ok) {
    if (s == 1) {
      lo = base >= 0 ? 0 : -base;
      hi = in - base;
    } else {
      lo = base >= 0 ? 0 : (-base + s - 1) / s;
      hi = base > in - 1 ? 0 : (in - 1 - base) / s + 1;
    }
    if (lo > len) lo = len;
    if (hi > len) hi = len;
    if (hi < lo) hi = lo;
  }
  run->len = len;
  run->lo = lo;
  run->hi = hi;
  run->src = off + base;
  run->step = s;
  w->o[last] += len;
  for (int i = last; i > 0 && w->o[i] == g->out[i]; i--) {
    w->o[i] = 0;
    w->o[i - 1]++;
  }
}

#endif
