#include "util/sbuf.h"
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qr_sb_init(QrSbuf *b) { b->s = NULL; b->len = b->cap = 0; }
void qr_sb_free(QrSbuf *b) { free(b->s); qr_sb_init(b); }
void qr_sb_clear(QrSbuf *b) { b->len = 0; if (b->s) b->s[0] = 0; }

static void grow(QrSbuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { fputs("qrobust: out of memory\n", stderr); abort(); }
    b->s = s;
    b->cap = cap;
}

void qr_sb_putn(QrSbuf *b, const char *s, size_t n) {
    grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}
void qr_sb_puts(QrSbuf *b, const char *s) { qr_sb_putn(b, s, strlen(s)); }
void qr_sb_putc(QrSbuf *b, char c) { qr_sb_putn(b, &c, 1); }

void qr_sb_printf(QrSbuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        qr_sb_putn(b, small, (size_t)n);
    } else if (n > 0) {
        grow(b, (size_t)n);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void qr_sb_put_xml(QrSbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': qr_sb_puts(b, "&amp;"); break;
        case '<': qr_sb_puts(b, "&lt;"); break;
        case '>': qr_sb_puts(b, "&gt;"); break;
        case '"': qr_sb_puts(b, "&quot;"); break;
        case '\'': qr_sb_puts(b, "&#39;"); break;
        default: qr_sb_putc(b, *s);
        }
    }
}

char *qr_sb_take(QrSbuf *b) {
    if (!b->s) grow(b, 0), b->s[0] = 0;
    char *s = b->s;
    qr_sb_init(b);
    return s;
}

void qr_sb_put_pyfloat(QrSbuf *b, double f, int force_point) {
    if (isnan(f)) {
        qr_sb_puts(b, "nan");
        return;
    }
    if (isinf(f)) {
        qr_sb_puts(b, f < 0 ? "-inf" : "inf");
        return;
    }
    char s[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(s, sizeof s, "%.*e", p - 1, f);
        if (strtod(s, NULL) == f) break;
    }
    // s = [-]d[.ddd]e[+-]XX
    char digits[24];
    int nd = 0, neg = s[0] == '-';
    const char *q = s + neg;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q)) digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int decpt = exp10 + 1; // value = 0.digits * 10^decpt
    if (neg) qr_sb_putc(b, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            qr_sb_puts(b, "0.");
            for (int i = 0; i < -decpt; i++) qr_sb_putc(b, '0');
            qr_sb_putn(b, (const char *)digits, (size_t)nd);
        } else if (decpt >= nd) {
            qr_sb_putn(b, (const char *)digits, (size_t)nd);
            for (int i = nd; i < decpt; i++) qr_sb_putc(b, '0');
            if (force_point) qr_sb_puts(b, ".0");
        } else {
            qr_sb_putn(b, (const char *)digits, (size_t)decpt);
            qr_sb_putc(b, '.');
            qr_sb_putn(b, (const char *)digits + decpt, (size_t)(nd - decpt));
        }
    } else {
        qr_sb_putc(b, digits[0]);
        if (nd > 1) {
            qr_sb_putc(b, '.');
            qr_sb_putn(b, (const char *)digits + 1, (size_t)(nd - 1));
        }
        qr_sb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
}
