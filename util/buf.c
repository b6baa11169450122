#include "util/buf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qr_buf_init(QrBuf *b) { memset(b, 0, sizeof *b); }
void qr_buf_free(QrBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
void qr_buf_reset(QrBuf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

int qr_buf_reserve(QrBuf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void qr_buf_append(QrBuf *b, const void *p, size_t n) {
    if (qr_buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void qr_buf_putc(QrBuf *b, char c) { qr_buf_append(b, &c, 1); }
void qr_buf_puts(QrBuf *b, const char *s) { qr_buf_append(b, s, strlen(s)); }

void qr_buf_printf(QrBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        qr_buf_append(b, tmp, (size_t)n);
        return;
    }
    if (qr_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void qr_buf_u32le(QrBuf *b, uint32_t v) {
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    qr_buf_append(b, t, 4);
}

char *qr_buf_take(QrBuf *b, size_t *len) {
    if (!b->data && !b->oom) qr_buf_reserve(b, 0);
    char *p = b->oom ? NULL : b->data;
    if (len) *len = b->oom ? 0 : b->len;
    if (b->oom) free(b->data);
    memset(b, 0, sizeof *b);
    return p;
}
