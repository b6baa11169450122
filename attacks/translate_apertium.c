// Apertium engine: `apertium -u eng-spa IN OUT`, then `apertium -u spa-eng`.
// A batch is one file with one text per line (Apertium keeps line breaks), so a
// whole dataset costs two program runs. -u: unknown words are copied without
// Apertium's '*' marks.
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attacks/translate.h"
#include "util/fileio.h"

extern char **environ;

typedef struct {
    QrTranslator base;
    char prog[1024];
} Apertium;

static int find_program(char *out, size_t cap) {
    const char *env = getenv("QROBUST_APERTIUM");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(out, cap, "%.*s/apertium", (int)n, p);
        if (n && access(out, X_OK) == 0) return 0;
        p += n + (c != NULL);
    }
    snprintf(out, cap, "apertium");
    return -1;
}

// Runs argv with stdin from /dev/null, stdout to out_path, stderr to err_path.
// Returns the exit status, or -1 when it could not run (errno set).
static int run(char *const argv[], const char *out_path, const char *err_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        errno = rc;
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

// First line of a file (for error messages), in buf.
static const char *first_line(const char *path, char *buf, size_t cap) {
    char *s;
    size_t n;
    QrErr e;
    buf[0] = 0;
    if (qr_read_file(path, &s, &n, &e) == 0) {
        snprintf(buf, cap, "%.*s", (int)strcspn(s, "\n"), s);
        free(s);
    }
    return buf[0] ? buf : "(no message)";
}

typedef struct {
    char dir[64], in[96], out[96], err[96];
} Tmp;

static int tmp_open(Tmp *t, QrErr *e) {
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/qrobust-apertium-XXXXXX", base && strlen(base) < 30 ? base : "/tmp");
    if (!mkdtemp(t->dir)) return qr_fail(e, "apertium: cannot create a temporary directory: %s", strerror(errno));
    snprintf(t->in, sizeof t->in, "%s/in.txt", t->dir);
    snprintf(t->out, sizeof t->out, "%s/out.txt", t->dir);
    snprintf(t->err, sizeof t->err, "%s/err.txt", t->dir);
    return 0;
}

static void tmp_close(Tmp *t) {
    unlink(t->in);
    unlink(t->out);
    unlink(t->err);
    rmdir(t->dir);
}

static const char *code3(const char *iso) {
    if (!strcmp(iso, "en")) return "eng";
    if (!strcmp(iso, "es")) return "spa";
    return NULL;
}

static int ap_translate(QrTranslator *tr, const char *src, const char *dst, const char *const *in, size_t n,
                        char **out, QrErr *e) {
    Apertium *a = (Apertium *)tr;
    const char *s3 = code3(src), *d3 = code3(dst);
    if (!s3 || !d3) return qr_fail(e, "apertium: no %s-%s pair (this engine translates en <-> es)", src, dst);
    if (n == 0) return 0;
    Tmp t;
    if (tmp_open(&t, e)) return -1;
    FILE *f = fopen(t.in, "w");
    int rc = -1;
    if (!f) {
        qr_fail(e, "apertium: cannot write %s: %s", t.in, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        for (const char *c = in[i]; *c; c++) fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
        fputc('\n', f);
    }
    if (fclose(f)) {
        qr_fail(e, "apertium: cannot write %s: %s", t.in, strerror(errno));
        goto done;
    }
    char pair[16], msg[256];
    snprintf(pair, sizeof pair, "%s-%s", s3, d3);
    char *argv[] = {a->prog, "-u", pair, t.in, t.out, NULL};
    int st = run(argv, "/dev/null", t.err);
    if (st != 0) {
        if (st < 0) qr_fail(e, "apertium: cannot run %s: %s", a->prog, strerror(errno));
        else qr_fail(e, "apertium %s failed (exit status %d): %s", pair, st, first_line(t.err, msg, sizeof msg));
        goto done;
    }
    char *buf;
    size_t len;
    if (qr_read_file(t.out, &buf, &len, e)) goto done;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (len && buf[len - 1] != '\n') lines++;
    if (lines != n) {
        free(buf);
        qr_fail(e, "apertium %s returned %zu lines for %zu texts", pair, lines, n);
        goto done;
    }
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        size_t l = strcspn(p, "\n");
        out[i] = strndup(p, l);
        p += l + (p[l] == '\n');
    }
    free(buf);
    rc = 0;
done:
    tmp_close(&t);
    return rc;
}

static void ap_close(QrTranslator *t) { free(t); }

int qr_apertium_open(QrTranslator **out, QrErr *e) {
    *out = NULL;
    Apertium *a = calloc(1, sizeof *a);
    if (!a) return qr_fail(e, "out of memory");
    if (find_program(a->prog, sizeof a->prog)) {
        qr_fail(e,
                "translator apertium: Apertium is not installed (no executable '%s'%s); install the Debian "
                "packages apertium and apertium-eng-spa, or use --translator mbart:DIR",
                a->prog, getenv("QROBUST_APERTIUM") ? ", from QROBUST_APERTIUM" : " on PATH");
        free(a);
        return -1;
    }
    // Which pairs are installed: `apertium -l` lists the modes, one per line.
    Tmp t;
    if (tmp_open(&t, e)) {
        free(a);
        return -1;
    }
    char *argv[] = {a->prog, "-l", NULL}, msg[256];
    int st = run(argv, t.out, t.err), ok = 0;
    char *modes = NULL;
    size_t len;
    QrErr e2;
    if (st == 0 && qr_read_file(t.out, &modes, &len, &e2) == 0)
        ok = strstr(modes, "eng-spa") && strstr(modes, "spa-eng");
    if (st != 0)
        qr_fail(e, "translator apertium: '%s -l' failed (%s)", a->prog,
                st < 0 ? strerror(errno) : first_line(t.err, msg, sizeof msg));
    else if (!ok)
        qr_fail(e, "translator apertium: the English-Spanish pair is not installed (install the Debian package "
                   "apertium-eng-spa)");
    free(modes);
    tmp_close(&t);
    if (st != 0 || !ok) {
        free(a);
        return -1;
    }
    // The data package's version, for the record (Debian's changelog).
    char ver[64] = "";
    char *cl;
    if (qr_read_file("/usr/share/doc/apertium-eng-spa/changelog.Debian.gz", &cl, &len, &e2) == 0) {
        char *o = strchr(cl, '('), *c = o ? strchr(o, ')') : NULL;
        if (o && c && c - o < 40) snprintf(ver, sizeof ver, " %.*s", (int)(c - o - 1), o + 1);
        free(cl);
    }
    snprintf(a->base.name, sizeof a->base.name, "apertium eng-spa-eng (apertium-eng-spa%s)", ver);
    a->base.pivot = "es";
    a->base.translate = ap_translate;
    a->base.close = ap_close;
    *out = &a->base;
    return 0;
}
