// Minimal SVG charts drawn by qrobust itself (no plotting stack): line panels
// (noise curves, optional log x axis, error bars) and grouped bar panels
// (precision comparison), with legends. Output is plain SVG 1.1 text that
// any browser renders and any XML parser reads.
#pragma once
#include "util/sbuf.h"

typedef struct {
    double x, y, w, h;           // panel box in the SVG's user units
    double xmin, xmax, ymin, ymax;
    int xlog;                    // log10 x axis (xmin > 0)
    double xclean;               // an x tick at this value is labelled "clean" (0: none)
    const char *title, *xlabel, *ylabel;
} QrPanel;

typedef struct {
    const char *name;
    int n;
    const double *x, *y;   // NaN y: point missing
    const double *lo, *hi; // optional error bars (NULL)
    int color;             // palette index
    int dashed;
} QrSeries;

void qr_svg_begin(QrSbuf *b, double w, double h, const char *title);
void qr_svg_end(QrSbuf *b);
void qr_svg_text(QrSbuf *b, double x, double y, double size, const char *anchor, const char *text);
void qr_svg_line_panel(QrSbuf *b, const QrPanel *p, const QrSeries *s, int ns);
// vals/lo/hi: [group * nseries + series]; lo/hi may be NULL; NaN = no bar.
void qr_svg_bar_panel(QrSbuf *b, const QrPanel *p, int ngroups, const char *const *groups, int nseries,
                      const int *colors, const double *vals, const double *lo, const double *hi);
void qr_svg_legend(QrSbuf *b, double x, double y, int n, const char *const *names, const int *colors,
                   const int *dashed);
const char *qr_svg_color(int i);
