#include "util/err.h"
#include <stdio.h>
#include <string.h>

int qr_vfail(QrErr *e, const char *fmt, va_list ap) {
    if (e) vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return -1;
}

int qr_fail(QrErr *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    qr_vfail(e, fmt, ap);
    va_end(ap);
    return -1;
}

void qr_err_prefix(QrErr *e, const char *fmt, ...) {
    if (!e) return;
    char pre[QR_ERRLEN], old[QR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    // Truncation is acceptable for an error line; build it piecewise to say so.
    size_t n = strlen(pre);
    if (n > QR_ERRLEN - 3) n = QR_ERRLEN - 3;
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t m = strlen(old);
    if (m > QR_ERRLEN - 1 - (n + 2)) m = QR_ERRLEN - 1 - (n + 2);
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = 0;
}
