// Helpers shared by the tests that drive the qrobust binary and read back the
// results directories it writes (tests/test_run.c, tests/test_report.c, and
// rt_capture for tests/test_cli_engine.c, tests/test_tok_cli.c):
// finding the binary, running it, reading files, comparing stores. Include
// after <cmocka.h> (rt_canon asserts).
#pragma once
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "eval/results.h"
#include "util/fileio.h"

// The binary under test: $QROBUST_BIN (make test sets it), else ./qrobust.
static inline void rt_bin(char *bin, size_t n) {
    const char *b = getenv("QROBUST_BIN");
    snprintf(bin, n, "%s", b ? b : "./qrobust");
}

// A fresh directory /tmp/qrtest_<name>_XXXXXX in tmp; 0 on success.
static inline int rt_mkdtemp(char *tmp, size_t n, const char *name) {
    snprintf(tmp, n, "/tmp/qrtest_%s_XXXXXX", name);
    return mkdtemp(tmp) ? 0 : -1;
}

// Starts argv[0] with stdout/stderr to /dev/null. env: NULL or a NULL-ended
// list applied in the child only, "NAME=VALUE" to set, "NAME" to unset.
static inline pid_t rt_spawn(const char *const *argv, const char *const *env) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (!eq) {
                unsetenv(env[i]);
                continue;
            }
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
            setenv(name, eq + 1, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

// Exit status of a finished child; -1 if it did not exit normally.
static inline int rt_wait(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int rt_run(const char *const *argv, const char *const *env) { return rt_wait(rt_spawn(argv, env)); }

// A shell command built like printf; its exit status (-1: not a normal exit).
static inline int rt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int rt_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Runs a shell command: its exit status (as pclose returns it), its stdout in
// *out (malloc'd, NUL-terminated; NULL if it could not start) and, when len is
// not NULL, the stdout's length.
static inline int rt_capture(const char *cmd, char **out, size_t *len) {
    FILE *p = popen(cmd, "r");
    *out = NULL;
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0, got;
    char *b = malloc(cap);
    while ((got = fread(b + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) b = realloc(b, cap *= 2);
    }
    b[n] = 0;
    *out = b;
    if (len) *len = n;
    return pclose(p);
}

// The file's bytes, NUL-terminated (malloc'd); NULL if unreadable.
static inline char *rt_slurp(const char *path) {
    char *b;
    size_t n;
    QrErr e;
    if (qr_read_file(path, &b, &n, &e)) return NULL;
    return b;
}

static inline void rt_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// Newlines in the file; 0 if it does not exist.
static inline int rt_count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static inline int rt_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// A results directory's content as sorted lines of each line's essence
// (qr_result_essence: without timings, timestamps, paths), for comparing
// runs that should have produced the same results; *n_out = lines.
static inline char *rt_canon(const char *dir, int *n_out) {
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, dir, 0, &e), 0);
    int n = s.n[QR_GEN] + s.n[QR_EXEC];
    char **rows = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    int k = 0;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < s.n[f]; i++) {
            json_t *es = qr_result_essence(s.lines[f][i]);
            rows[k++] = json_dumps(es, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(es);
        }
    qsort(rows, (size_t)n, sizeof(char *), rt_cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(rows[i]) + 1;
    char *out = malloc(len), *p = out;
    for (int i = 0; i < n; i++) {
        p = stpcpy(p, rows[i]);
        *p++ = '\n';
        free(rows[i]);
    }
    *p = 0;
    free(rows);
    qr_store_close(&s);
    *n_out = n;
    return out;
}
