#include "util/progress.h"
#include "util/timer.h"
#include <stdio.h>
#include <unistd.h>

void qr_progress_init(QrProgress *p, const char *label, const char *unit, int64_t total, int quiet) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->done = 0;
    p->t_start = qr_now();
    p->t_last_draw = 0;
    p->quiet = quiet;
    p->tty = isatty(2);
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) { snprintf(buf, n, "--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%dh%02dm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, n, "%dm%02ds", t / 60, t % 60);
    else snprintf(buf, n, "%ds", t);
}

static void draw(QrProgress *p, int final) {
    double now = qr_now(), el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32], elapsed[32];
    fmt_time(eta, sizeof eta, rate > 0 && p->total > 0 ? (double)(p->total - p->done) / rate : -1);
    fmt_time(elapsed, sizeof elapsed, el);
    if (p->total > 0) {
        int w = 30, fill = (int)((double)w * (double)p->done / (double)p->total);
        if (fill > w) fill = w;
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "%s%s [%s] %lld/%lld %s  %.1f/s  %s %s%s", p->tty ? "\r" : "", p->label, bar,
                (long long)p->done, (long long)p->total, p->unit, rate, final ? "in" : "ETA",
                final ? elapsed : eta, p->tty ? "\x1b[K" : "");
    } else {
        fprintf(stderr, "%s%s %lld %s  %.1f/s  %s%s", p->tty ? "\r" : "", p->label, (long long)p->done,
                p->unit, rate, elapsed, p->tty ? "\x1b[K" : "");
    }
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

void qr_progress_add(QrProgress *p, int64_t n) {
    p->done += n;
    if (p->quiet || !p->tty) return;
    double now = qr_now();
    if (now - p->t_last_draw < 0.1 && p->done != p->total) return;
    p->t_last_draw = now;
    draw(p, 0);
}

void qr_progress_finish(QrProgress *p) {
    if (p->quiet) return;
    draw(p, 1);
}
