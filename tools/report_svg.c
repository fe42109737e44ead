/* report_svg.c — the SVG plot writer of `onyx report` (see report_svg.h for
 * what it draws and why it is not a library): layout (legend rows, plot
 * area), axis ranges with 1-2-5 ticks, and the elements of each datum. */
#include "report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 520.0
#define HEIGHT 320.0
#define MARGIN_LEFT 66.0
#define MARGIN_RIGHT 18.0
#define MARGIN_BOTTOM 50.0
#define TITLE_H 26.0
#define LEGEND_ROW_H 18.0
#define CHAR_W 6.6   /* average width of a 12px sans-serif glyph, for legend layout */
#define MAX_TICKS 32

/* Okabe-Ito: distinguishable with the common colour-vision deficiencies
 * (its yellow is left out: too faint on white). */
static const char *const palette[8] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                       "#D55E00", "#56B4E9", "#000000", "#999999"};

static const char *color_of(const svg_series *s) { return palette[(s->color % 8 + 8) % 8]; }

void svg_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*s, f);
    }
  }
}

/* A tick label: short, with k/M for big values. */
static void fmt_tick(char *buf, size_t len, double v) {
  double a = fabs(v);
  if (a >= 1e6) snprintf(buf, len, "%gM", v / 1e6);
  else if (a >= 1e4) snprintf(buf, len, "%gk", v / 1e3);
  else snprintf(buf, len, "%.4g", v);
}

/* A value for tooltips and bar labels: 3-4 significant digits. */
static void fmt_value(char *buf, size_t len, double v, const char *unit) {
  snprintf(buf, len, fabs(v) >= 1000 || v == floor(v) ? "%.0f%s%s" : "%.3g%s%s", v, unit && *unit ? " " : "",
           unit ? unit : "");
}

/* 1, 2 or 5 times a power of ten, at least x. */
static double nice_step(double x) {
  double p = pow(10, floor(log10(x))), f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

typedef struct axis {
  double lo, hi;               /* data range shown (log2 units for a log axis) */
  int n_ticks;
  double ticks[MAX_TICKS];     /* in data units */
  bool log2;
} axis;

/* A linear axis over [lo, hi] with about 5 nice ticks; from_zero widens it
 * to include 0. */
static void linear_axis(axis *a, double lo, double hi, bool from_zero) {
  if (from_zero) lo = fmin(lo, 0), hi = fmax(hi, 0);
  if (!(hi > lo)) {   /* one value: a narrow window around it (accuracy 99.3 -> 98..100.5) */
    double pad = fabs(hi) > 0 ? fabs(hi) * 0.01 : 1;
    lo = from_zero && lo >= 0 ? 0 : lo - pad;
    hi += pad;
  } else if (!from_zero) {
    double pad = (hi - lo) * 0.15;
    lo -= pad, hi += pad;
  }
  double step = nice_step((hi - lo) / 5);
  a->lo = floor(lo / step) * step;
  a->hi = ceil(hi / step) * step;
  a->log2 = false;
  a->n_ticks = 0;
  for (double t = a->lo; t <= a->hi + step * 1e-9 && a->n_ticks < MAX_TICKS; t += step)
    a->ticks[a->n_ticks++] = fabs(t) < step * 1e-9 ? 0 : t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A log2 axis ticked at the distinct positive x values of the series. */
static void log2_axis(axis *a, const svg_plot *p) {
  a->log2 = true;
  a->n_ticks = 0;
  for (int s = 0; s < p->n_series; s++)
    for (int i = 0; i < p->series[s].n; i++) {
      double x = p->series[s].x[i];
      bool seen = false;
      for (int k = 0; k < a->n_ticks; k++) seen |= a->ticks[k] == x;
      if (x > 0 && !seen && a->n_ticks < MAX_TICKS) a->ticks[a->n_ticks++] = x;
    }
  qsort(a->ticks, (size_t)a->n_ticks, sizeof a->ticks[0], cmp_double);
  a->lo = a->n_ticks ? log2(a->ticks[0]) : 0;
  a->hi = a->n_ticks ? log2(a->ticks[a->n_ticks - 1]) : 1;
  double pad = a->hi > a->lo ? (a->hi - a->lo) * 0.06 : 1;
  a->lo -= pad, a->hi += pad;
}

/* Pixel position of v on a, mapped onto [p0, p1]. */
static double place(const axis *a, double v, double p0, double p1) {
  double u = a->log2 ? log2(v) : v;
  return p0 + (u - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

typedef struct layout {
  double top, left, right, bottom;   /* plot area */
  int rows;
} layout;

/* Legend entries flow left to right and wrap; returns the rows needed and,
 * when f is given, draws them from y0. */
static int legend(FILE *f, const svg_plot *p, double y0) {
  double x = MARGIN_LEFT, right = WIDTH - MARGIN_RIGHT;
  int rows = p->n_series ? 1 : 0;
  for (int s = 0; s < p->n_series; s++) {
    const svg_series *se = &p->series[s];
    bool any = false;
    for (int i = 0; i < se->n; i++) any |= isfinite(se->y[i]);
    double w = 26 + CHAR_W * (double)(strlen(se->name) + (any ? 0 : 10)) + 14;
    if (x + w > right && x > MARGIN_LEFT) x = MARGIN_LEFT, rows++;
    double y = y0 + (rows - 1) * LEGEND_ROW_H;
    if (f) {
      const char *c = color_of(se);
      fprintf(f, "<g class=\"legend-item\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                 "stroke-width=\"%s\"%s/>",
              x, y - 4, x + 20, y - 4, c, se->reference ? "1.5" : "2.5",
              se->before || se->reference ? " stroke-dasharray=\"5 3\"" : "");
      if (!se->reference)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/>",
                x + 10, y - 4, se->before ? "#fff" : c, c);
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 26, y);
      svg_text(f, se->name);
      fprintf(f, "%s</text></g>\n", any ? "" : " (no data)");
    }
    x += w;
  }
  return rows;
}

static void begin(FILE *f, const svg_plot *p, layout *L) {
  L->rows = legend(NULL, p, 0);
  L->top = TITLE_H + L->rows * LEGEND_ROW_H + 12;
  L->left = MARGIN_LEFT;
  L->right = WIDTH - MARGIN_RIGHT;
  L->bottom = HEIGHT - MARGIN_BOTTOM;
  fprintf(f, "<svg class=\"plot\" data-plot=\"");
  svg_text(f, p->id);
  fprintf(f, "\" id=\"plot-");
  svg_text(f, p->id);
  fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
             "role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n<title>",
          WIDTH, HEIGHT, WIDTH, HEIGHT);
  svg_text(f, p->title);
  fprintf(f, "</title>\n<text class=\"plot-title\" x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"600\">");
  svg_text(f, p->title);
  fputs("</text>\n", f);
  legend(f, p, TITLE_H + LEGEND_ROW_H - 4);
}

/* The y axis with gridlines, and its label. */
static void y_axis(FILE *f, const svg_plot *p, const axis *ay, const layout *L) {
  fprintf(f, "<g class=\"axis y\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L->left,
          L->top, L->left, L->bottom);
  for (int k = 0; k < ay->n_ticks; k++) {
    double y = place(ay, ay->ticks[k], L->bottom, L->top);
    char t[32];
    fmt_tick(t, sizeof t, ay->ticks[k]);
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
               "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
            L->left + 1, y, L->right, y, L->left - 5, y, L->left, y, L->left - 8, y + 4, t);
  }
  fprintf(f, "<text class=\"axis-label\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
          (L->top + L->bottom) / 2);
  svg_text(f, p->y_label);
  fputs("</text></g>\n", f);
}

static void x_label(FILE *f, const svg_plot *p, const layout *L) {
  fprintf(f, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (L->left + L->right) / 2,
          HEIGHT - 10);
  svg_text(f, p->x_label);
  fputs("</text>", f);
}

/* The attributes and tooltip every datum carries. */
static void datum_meta(FILE *f, const svg_series *s, int i, const char *where, double shown, const char *unit) {
  fprintf(f, " data-series=\"");
  svg_text(f, s->name);
  fprintf(f, "\" data-value=\"%.6g\"", s->y[i]);
  if (s->keys && s->keys[i]) {
    fprintf(f, " data-key=\"");
    svg_text(f, s->keys[i]);
    fputc('"', f);
  }
  char v[64];
  fmt_value(v, sizeof v, shown, unit);
  fputs("><title>", f);
  svg_text(f, s->name);
  fputs(" — ", f);
  svg_text(f, where);
  fputs(": ", f);
  svg_text(f, v);
  fputs("</title>", f);
}

static double scale_of(const svg_plot *p) { return p->y_scale ? p->y_scale : 1; }

/* The y range of the finite values, scaled; false when there are none. */
static bool y_range(const svg_plot *p, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int s = 0; s < p->n_series; s++)
    for (int i = 0; i < p->series[s].n; i++) {
      double y = p->series[s].y[i] * scale_of(p);
      if (!isfinite(y)) continue;
      *lo = fmin(*lo, y), *hi = fmax(*hi, y);
    }
  return *lo <= *hi;
}

void svg_plot_write(FILE *f, const svg_plot *p) {
  layout L;
  begin(f, p, &L);
  double ylo, yhi, xlo = INFINITY, xhi = -INFINITY;
  bool any = y_range(p, &ylo, &yhi);
  for (int s = 0; s < p->n_series; s++)
    for (int i = 0; i < p->series[s].n; i++)
      if (isfinite(p->series[s].x[i])) xlo = fmin(xlo, p->series[s].x[i]), xhi = fmax(xhi, p->series[s].x[i]);
  axis ax, ay;
  /* a scatter's values (accuracy 98-100 %) would all sit at the top of an
   * axis from zero: fit those; lines (latency, throughput) start at zero,
   * and so does every linear x (latency, time) */
  linear_axis(&ay, any ? ylo : 0, any ? yhi : 1, p->lines);
  if (p->log_x) log2_axis(&ax, p);
  else linear_axis(&ax, xlo <= xhi ? xlo : 0, xlo <= xhi ? xhi : 1, true);
  y_axis(f, p, &ay, &L);
  fprintf(f, "<g class=\"axis x\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L.left,
          L.bottom, L.right, L.bottom);
  for (int k = 0; k < ax.n_ticks; k++) {
    double x = place(&ax, ax.ticks[k], L.left, L.right);
    char t[32];
    fmt_tick(t, sizeof t, ax.ticks[k]);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
               "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            x, L.bottom, x, L.bottom + 5, x, L.bottom + 18, t);
  }
  x_label(f, p, &L);
  fputs("</g>\n", f);
  if (!any)
    fprintf(f, "<text class=\"no-data\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n",
            (L.left + L.right) / 2, (L.top + L.bottom) / 2);
  for (int s = 0; s < p->n_series; s++) {
    const svg_series *se = &p->series[s];
    const char *c = color_of(se);
    const char *dash = se->reference ? " stroke-dasharray=\"3 3\"" : se->before ? " stroke-dasharray=\"6 4\"" : "";
    /* joined where consecutive points are finite: a missing figure is a gap */
    if (p->lines || se->reference) {
      bool open = false;
      for (int i = 0; i <= se->n; i++) {
        bool ok = i < se->n && isfinite(se->y[i]) && isfinite(se->x[i]) && (!p->log_x || se->x[i] > 0);
        if (ok) {
          if (!open)
            fprintf(f, "<polyline class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"", c,
                    se->reference ? "1.5" : "2", dash);
          fprintf(f, "%s%.1f,%.1f", open ? " " : "", place(&ax, se->x[i], L.left, L.right),
                  place(&ay, se->y[i] * scale_of(p), L.bottom, L.top));
          open = true;
        } else if (open) {
          fputs("\"/>\n", f);
          open = false;
        }
      }
    }
    if (se->reference) continue;
    for (int i = 0; i < se->n; i++) {
      if (!isfinite(se->y[i]) || !isfinite(se->x[i]) || (p->log_x && se->x[i] <= 0)) continue;
      char where[48];
      fmt_value(where, sizeof where, se->x[i], p->x_unit);
      fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"",
              place(&ax, se->x[i], L.left, L.right), place(&ay, se->y[i] * scale_of(p), L.bottom, L.top),
              /* scatter markers shrink series by series, so equal points stay visible as rings */
              p->lines ? "4" : s % 3 == 0 ? "7.5" : s % 3 == 1 ? "6" : "4.5", se->before ? "#fff" : c, c);
      datum_meta(f, se, i, where, se->y[i] * scale_of(p), p->y_unit);
      fputs("</circle>\n", f);
    }
  }
  fputs("</svg>\n", f);
}

void svg_bars_write(FILE *f, const svg_plot *p, int n_categories, const char *const *categories) {
  layout L;
  begin(f, p, &L);
  double ylo, yhi;
  bool any = y_range(p, &ylo, &yhi);
  axis ay;
  linear_axis(&ay, any ? ylo : 0, any ? yhi : 1, true);
  y_axis(f, p, &ay, &L);
  double group = (L.right - L.left) / (n_categories ? n_categories : 1);
  double bar = group * 0.72 / (p->n_series ? p->n_series : 1);
  fprintf(f, "<g class=\"axis x\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L.left,
          L.bottom, L.right, L.bottom);
  for (int c = 0; c < n_categories; c++) {
    fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", L.left + group * (c + 0.5),
            L.bottom + 18);
    svg_text(f, categories[c]);
    fputs("</text>\n", f);
  }
  x_label(f, p, &L);
  fputs("</g>\n", f);
  double y0 = place(&ay, 0, L.bottom, L.top);
  for (int s = 0; s < p->n_series; s++) {
    const svg_series *se = &p->series[s];
    const char *col = color_of(se);
    for (int c = 0; c < n_categories && c < se->n; c++) {
      if (!isfinite(se->y[c])) continue;
      double v = se->y[c] * scale_of(p), y = place(&ay, v, L.bottom, L.top);
      double x = L.left + group * c + group * 0.14 + bar * s;
      fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" stroke=\"%s\""
                 " stroke-width=\"1.5\"%s",
              x, fmin(y, y0), bar - 2, fabs(y0 - y), se->before ? "#fff" : col, col,
              se->before ? " stroke-dasharray=\"4 2\"" : "");
      datum_meta(f, se, c, categories[c], v, p->y_unit);
      char label[48];
      fmt_value(label, sizeof label, v, NULL);
      fprintf(f, "</rect><text class=\"bar-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%s"
                 "</text>\n",
              x + (bar - 2) / 2, fmin(y, y0) - 3, label);
    }
  }
  if (!any)
    fprintf(f, "<text class=\"no-data\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n",
            (L.left + L.right) / 2, (L.top + L.bottom) / 2);
  fputs("</svg>\n", f);
}
