// A progress bar on stderr: "label [#####.....] done/total  rate/s  ETA 1m02s".
// Redrawn at most every 100 ms; silent when quiet is set or stderr is not a
// terminal (then one plain line is printed at finish, so logs stay readable).
#pragma once
#include <stdint.h>

typedef struct {
    const char *label;
    const char *unit; // e.g. "samples", "tok"
    int64_t total;    // <= 0: unknown
    int64_t done;
    double t_start, t_last_draw;
    int quiet, tty;
} QrProgress;

void qr_progress_init(QrProgress *p, const char *label, const char *unit, int64_t total, int quiet);
void qr_progress_add(QrProgress *p, int64_t n);
void qr_progress_finish(QrProgress *p);
