/* report_svg.h — the plots of `onyx report`: line and scatter plots and
 * grouped bar charts written as inline SVG, readable at a glance and
 * checkable by a machine.
 *
 * Why a writer of our own rather than a Debian C library: PLplot's SVG
 * driver and cairo draw well, but they emit glyphs as paths (cairo) or fixed
 * pixel layouts with no structure (PLplot), so a tooltip per data point, an
 * id per plot and the data attributes the report's test reads back (each
 * point's JSON path and exact value) would need post-processing of their
 * output; and either would add a build dependency for a few hundred lines
 * of geometry. The plots here need axes with "nice" ticks (1-2-5 steps),
 * a log2 x axis for batch sizes and thread counts, a legend, and per-point
 * <title> tooltips: that is all this file does.
 *
 * Every plot is an <svg class="plot" data-plot=ID> holding <g class="axis x">
 * and <g class="axis y"> (a line and labelled ticks each), a legend, and one
 * element per datum — <circle class="pt"> or <rect class="bar"> — with
 * data-key (the JSON path of the figure in REPORT.json, when given),
 * data-value (the figure as REPORT.json writes it, "%.6g") and a <title>. A
 * series marked `before` (the numbers --compare read from an older report)
 * is drawn dashed with hollow markers. Values that are NAN are left out, so
 * a missing figure is a gap, never a zero. */
#ifndef ONYX_TOOLS_REPORT_SVG_H
#define ONYX_TOOLS_REPORT_SVG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct svg_series {
  const char *name;           /* legend entry */
  int n;                      /* points (bars: one per category) */
  const double *x, *y;        /* y[i] NAN: no point; x unused for bars */
  const char *const *keys;    /* JSON path of y[i] (may be NULL, or hold NULLs) */
  int color;                  /* palette index (0..7), so "before" can match "now" */
  bool before;                /* --compare's old figures: dashed, hollow */
  bool reference;             /* a guide (e.g. ideal scaling): thin dashed line, no markers */
} svg_series;

typedef struct svg_plot {
  const char *id;             /* data-plot attribute and element id stem */
  const char *title;
  const char *x_label, *y_label;   /* with units, e.g. "batch size (samples)" */
  const char *x_unit, *y_unit;     /* appended to values in tooltips, e.g. "ms" */
  double y_scale;             /* drawn y = value * y_scale (0 means 1), e.g. bytes -> MiB */
  bool log_x;                 /* x on a log2 scale, ticked at the data's x values */
  bool lines;                 /* join each series' points (false: scatter) */
  int n_series;
  const svg_series *series;
} svg_plot;

/* Writes plot p as one <svg> element to f. Series with no finite point are
 * listed in the legend as "(no data)". */
void svg_plot_write(FILE *f, const svg_plot *p);

/* A grouped bar chart: one group per category (x_label names them), one bar
 * per series in each group; series[s].y[c] is the value of category c.
 * x_unit and log_x are ignored. */
void svg_bars_write(FILE *f, const svg_plot *p, int n_categories, const char *const *categories);

/* Writes s as HTML/XML text, escaping & < > " '. */
void svg_text(FILE *f, const char *s);

#endif
