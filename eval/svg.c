#include "eval/svg.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

// Okabe-Ito palette: distinguishable with common colour-vision deficiencies.
static const char *PALETTE[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
const char *qr_svg_color(int i) { return PALETTE[((i % 8) + 8) % 8]; }

void qr_svg_begin(QrSbuf *b, double w, double h, const char *title) {
    qr_sb_printf(b,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
                 "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                 w, h, w, h);
    qr_sb_puts(b, "<title>");
    qr_sb_put_xml(b, title);
    qr_sb_puts(b, "</title>\n");
    qr_sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

void qr_svg_end(QrSbuf *b) { qr_sb_puts(b, "</svg>\n"); }

void qr_svg_text(QrSbuf *b, double x, double y, double size, const char *anchor, const char *text) {
    qr_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\" fill=\"#222\">", x, y, size, anchor);
    qr_sb_put_xml(b, text);
    qr_sb_puts(b, "</text>\n");
}

static double px(const QrPanel *p, double x) {
    double t = p->xlog ? (log10(x) - log10(p->xmin)) / (log10(p->xmax) - log10(p->xmin))
                       : (x - p->xmin) / (p->xmax - p->xmin);
    return p->x + t * p->w;
}
static double py(const QrPanel *p, double y) { return p->y + p->h - (y - p->ymin) / (p->ymax - p->ymin) * p->h; }

static void frame(QrSbuf *b, const QrPanel *p) {
    qr_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", p->x,
                 p->y, p->w, p->h);
    // y ticks: 5 steps
    for (int i = 0; i <= 4; i++) {
        double v = p->ymin + (p->ymax - p->ymin) * i / 4, y = py(p, v);
        qr_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", p->x, y, p->x + p->w, y);
        char t[32];
        snprintf(t, sizeof t, "%g", round(v * 1000) / 1000);
        qr_svg_text(b, p->x - 4, y + 3, 9, "end", t);
    }
    if (p->title) qr_svg_text(b, p->x + p->w / 2, p->y - 6, 11, "middle", p->title);
    if (p->xlabel) qr_svg_text(b, p->x + p->w / 2, p->y + p->h + 26, 9, "middle", p->xlabel);
    if (p->ylabel) {
        qr_sb_printf(b, "<g transform=\"translate(%.1f,%.1f) rotate(-90)\">", p->x - 30, p->y + p->h / 2);
        qr_svg_text(b, 0, 0, 9, "middle", p->ylabel);
        qr_sb_puts(b, "</g>\n");
    }
}

void qr_svg_line_panel(QrSbuf *b, const QrPanel *p, const QrSeries *s, int ns) {
    frame(b, p);
    // x ticks at the union of the series' x values
    double seen[64];
    int nseen = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n && nseen < 64; i++) {
            int dup = 0;
            for (int j = 0; j < nseen; j++) dup |= seen[j] == s[k].x[i];
            if (!dup) seen[nseen++] = s[k].x[i];
        }
    for (int j = 0; j < nseen; j++) {
        double x = px(p, seen[j]);
        char t[32];
        if (p->xclean > 0 && seen[j] == p->xclean) snprintf(t, sizeof t, "clean");
        else snprintf(t, sizeof t, "%g", seen[j]);
        qr_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", x, p->y + p->h, x,
                     p->y + p->h + 3);
        qr_svg_text(b, x, p->y + p->h + 13, 8, "middle", t);
    }
    for (int k = 0; k < ns; k++) {
        const char *c = qr_svg_color(s[k].color);
        qr_sb_puts(b, "<polyline fill=\"none\" stroke-width=\"1.6\" ");
        qr_sb_printf(b, "stroke=\"%s\"%s points=\"", c, s[k].dashed ? " stroke-dasharray=\"5,3\"" : "");
        for (int i = 0; i < s[k].n; i++)
            if (!isnan(s[k].y[i])) qr_sb_printf(b, "%.1f,%.1f ", px(p, s[k].x[i]), py(p, s[k].y[i]));
        qr_sb_puts(b, "\"/>\n");
        for (int i = 0; i < s[k].n; i++) {
            if (isnan(s[k].y[i])) continue;
            double x = px(p, s[k].x[i]);
            if (s[k].lo && s[k].hi && !isnan(s[k].lo[i]) && !isnan(s[k].hi[i]))
                qr_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-opacity=\"0.5\"/>\n",
                             x, py(p, s[k].lo[i]), x, py(p, s[k].hi[i]), c);
            qr_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>\n", x, py(p, s[k].y[i]), c);
        }
    }
}

void qr_svg_bar_panel(QrSbuf *b, const QrPanel *p, int ngroups, const char *const *groups, int nseries,
                      const int *colors, const double *vals, const double *lo, const double *hi) {
    frame(b, p);
    double gw = p->w / (ngroups > 0 ? ngroups : 1), bw = gw * 0.8 / (nseries > 0 ? nseries : 1);
    for (int g = 0; g < ngroups; g++) {
        double gx = p->x + g * gw + gw * 0.1;
        qr_svg_text(b, p->x + g * gw + gw / 2, p->y + p->h + 12, 8, "middle", groups[g]);
        for (int s = 0; s < nseries; s++) {
            double v = vals[g * nseries + s];
            if (isnan(v)) continue;
            double x = gx + s * bw, y = py(p, v), y0 = py(p, p->ymin);
            qr_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, bw * 0.92,
                         y0 - y, qr_svg_color(colors[s]));
            if (lo && hi && !isnan(lo[g * nseries + s]) && !isnan(hi[g * nseries + s]))
                qr_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x + bw * 0.46,
                             py(p, lo[g * nseries + s]), x + bw * 0.46, py(p, hi[g * nseries + s]));
        }
    }
}

void qr_svg_legend(QrSbuf *b, double x, double y, int n, const char *const *names, const int *colors, const int *dashed) {
    for (int i = 0; i < n; i++) {
        double yy = y + i * 14;
        qr_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", x,
                     yy, x + 18, yy, qr_svg_color(colors[i]), dashed && dashed[i] ? " stroke-dasharray=\"5,3\"" : "");
        qr_svg_text(b, x + 24, yy + 3, 10, "start", names[i]);
    }
}
