#include "cli/cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_die(const QrErr *e) {
    fprintf(stderr, "qrobust: %s\n", e->msg);
    return 2;
}

int cli_dief(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qrobust: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int cli_flag_value(int argc, char **argv, int *i, const char *name, const char **out) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        cli_dief("%s needs a value (see --help)", name);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

int cli_is_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int cli_parse_int(const char *flag, const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        cli_dief("%s: '%s' is not an integer", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *flag, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        cli_dief("%s: '%s' is not a number", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}
