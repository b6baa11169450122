// A growable NUL-terminated string buffer for building text output (reports,
// SVG, CSV, JSON keys). Allocation failure aborts: these buffers are small
// relative to the machine and a half-built report is worse than a clear stop.
#pragma once
#include <stddef.h>

typedef struct {
    char *s;    // always NUL-terminated once anything was appended ("" if empty)
    size_t len; // bytes before the NUL
    size_t cap;
} QrSbuf;

void qr_sb_init(QrSbuf *b);
void qr_sb_free(QrSbuf *b);
void qr_sb_clear(QrSbuf *b);
void qr_sb_putn(QrSbuf *b, const char *s, size_t n);
void qr_sb_puts(QrSbuf *b, const char *s);
void qr_sb_putc(QrSbuf *b, char c);
void qr_sb_printf(QrSbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends s with &, <, >, " and ' escaped (XML / HTML text and attributes).
void qr_sb_put_xml(QrSbuf *b, const char *s);
// Python's repr(float) of f: the shortest digits that round-trip; fixed
// notation when the decimal exponent is in [-4, 16), else scientific
// ("1e+16"); nan, inf, -inf. force_point: integral values get ".0" (as repr
// does; complex parts do not).
void qr_sb_put_pyfloat(QrSbuf *b, double f, int force_point);
// Returns the string and leaves b empty (caller frees).
char *qr_sb_take(QrSbuf *b);
