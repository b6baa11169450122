// Error reporting shared by every stage.
//
// Library code never prints and never exits: a function that can fail takes a
// QrErr* and returns a non-zero status after filling it with ONE line that names
// the file (or tensor, field, task) and the problem. The CLI prints that line as
// "qrobust: <msg>" on stderr and exits with status 2 (bad input) — see cli/cli.h.
#pragma once
#include <stdarg.h>

#define QR_ERRLEN 512

typedef struct {
    char msg[QR_ERRLEN];
} QrErr;

// Formats the message into e (if e is non-NULL) and returns -1, so callers can
// write `return qr_fail(e, "%s: header length %llu past end of file", path, n);`.
int qr_fail(QrErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qr_vfail(QrErr *e, const char *fmt, va_list ap);
// Prepends "prefix: " to an existing message (e.g. the file name seen by a caller).
void qr_err_prefix(QrErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
