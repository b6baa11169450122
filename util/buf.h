// A growable byte buffer (always NUL-terminated for convenience). Appends never
// fail silently: on out-of-memory the buffer is marked (oom = 1) and further
// appends are ignored, so callers check once at the end.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; // NUL-terminated (len excludes the NUL); NULL until the first append
    size_t len, cap;
    int oom;
} QrBuf;

void qr_buf_init(QrBuf *b);
void qr_buf_free(QrBuf *b);
void qr_buf_reset(QrBuf *b); // len = 0, keeps the allocation
int qr_buf_reserve(QrBuf *b, size_t extra);
void qr_buf_append(QrBuf *b, const void *p, size_t n);
void qr_buf_putc(QrBuf *b, char c);
void qr_buf_puts(QrBuf *b, const char *s);
void qr_buf_printf(QrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qr_buf_u32le(QrBuf *b, uint32_t v);
// Hands the allocation to the caller (never NULL unless oom) and resets b.
char *qr_buf_take(QrBuf *b, size_t *len);
