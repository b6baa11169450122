#include "eval/results.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/fileio.h"

const char *qr_store_filename(QrStoreFile f) { return f == QR_GEN ? "generations.jsonl" : "executions.jsonl"; }

static void push(QrStore *s, QrStoreFile f, json_t *line, const char *key) {
    if (s->n[f] == s->cap[f]) {
        s->cap[f] = s->cap[f] ? s->cap[f] * 2 : 1024;
        json_t **nl = realloc(s->lines[f], sizeof(json_t *) * (size_t)s->cap[f]);
        if (!nl) { fputs("qrobust: out of memory\n", stderr); abort(); }
        s->lines[f] = nl;
    }
    qr_strmap_put(&s->index[f], key, s->n[f]);
    s->lines[f][s->n[f]++] = line;
}

static const char *line_key(const json_t *line) {
    const json_t *k = json_is_object(line) ? json_object_get(line, "key") : NULL;
    return json_is_string(k) ? json_string_value(k) : NULL;
}

static int mkdir_p(const char *dir, QrErr *e) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *c = tmp + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(tmp, 0777) && errno != EEXIST) return qr_fail(e, "%s: cannot create directory: %s", tmp, strerror(errno));
        *c = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) return qr_fail(e, "%s: cannot create directory: %s", tmp, strerror(errno));
    if (!qr_is_dir(tmp)) return qr_fail(e, "%s: not a directory", tmp);
    return 0;
}

// Loads one file. Returns the byte length of its complete lines (the offset a
// writer truncates to) in *good_len.
static int load_file(QrStore *s, QrStoreFile f, const char *path, off_t *good_len, QrErr *e) {
    *good_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT) return 0;
        return qr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    off_t off = 0;
    while ((n = getline(&buf, &cap, fp)) > 0) {
        if (buf[n - 1] != '\n') { // torn last line: the write that was cut off
            s->n_torn++;
            break;
        }
        off += n;
        *good_len = off;
        json_error_t je;
        json_t *line = json_loadb(buf, (size_t)n - 1, 0, &je);
        const char *key = line_key(line);
        if (!key) {
            s->n_bad++;
            json_decref(line);
            continue;
        }
        if (qr_strmap_get(&s->index[f], key, NULL)) {
            s->n_dup++;
            json_decref(line);
            continue;
        }
        push(s, f, line, key);
    }
    int err = ferror(fp);
    free(buf);
    fclose(fp);
    if (err) return qr_fail(e, "%s: read error", path);
    return 0;
}

int qr_store_open(QrStore *s, const char *dir, int writable, QrErr *e) {
    memset(s, 0, sizeof *s);
    s->fd[0] = s->fd[1] = s->lock_fd = -1;
    qr_strmap_init(&s->index[0]);
    qr_strmap_init(&s->index[1]);
    if (strlen(dir) >= sizeof s->dir - 32) return qr_fail(e, "%s: path too long", dir);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    if (writable) {
        if (mkdir_p(dir, e)) return -1;
        char lp[1100];
        snprintf(lp, sizeof lp, "%s/.lock", dir);
        s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (s->lock_fd < 0) return qr_fail(e, "%s: cannot create lock file: %s", lp, strerror(errno));
        if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
            qr_store_close(s);
            return qr_fail(e, "%s: another qrobust process is writing to this results directory", dir);
        }
    } else if (!qr_is_dir(dir)) {
        return qr_fail(e, "%s: not a results directory (no such directory)", dir);
    }
    for (int f = 0; f < 2; f++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, qr_store_filename((QrStoreFile)f));
        off_t good;
        if (load_file(s, (QrStoreFile)f, path, &good, e)) { qr_store_close(s); return -1; }
        if (!writable) continue;
        s->fd[f] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (s->fd[f] < 0) {
            qr_fail(e, "%s: cannot open for appending: %s", path, strerror(errno));
            qr_store_close(s);
            return -1;
        }
        struct stat st;
        if (fstat(s->fd[f], &st) == 0 && st.st_size > good && ftruncate(s->fd[f], good)) {
            qr_fail(e, "%s: cannot cut the torn last line: %s", path, strerror(errno));
            qr_store_close(s);
            return -1;
        }
    }
    return 0;
}

void qr_store_close(QrStore *s) {
    for (int f = 0; f < 2; f++) {
        if (s->fd[f] >= 0) { fdatasync(s->fd[f]); close(s->fd[f]); }
        for (int i = 0; i < s->n[f]; i++) json_decref(s->lines[f][i]);
        free(s->lines[f]);
        qr_strmap_free(&s->index[f]);
        s->lines[f] = NULL;
        s->n[f] = s->cap[f] = 0;
        s->fd[f] = -1;
    }
    if (s->lock_fd >= 0) close(s->lock_fd); // releases the flock
    s->lock_fd = -1;
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int qr_store_append(QrStore *s, QrStoreFile f, json_t *line, QrErr *e) {
    const char *key = line_key(line);
    if (!key) { json_decref(line); return qr_fail(e, "internal: result line without key"); }
    if (s->fd[f] < 0) { json_decref(line); return qr_fail(e, "%s: store opened read-only", s->dir); }
    char *txt = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!txt) { json_decref(line); return qr_fail(e, "internal: cannot serialize a result line"); }
    size_t n = strlen(txt);
    char *buf = realloc(txt, n + 2);
    if (!buf) { free(txt); json_decref(line); return qr_fail(e, "out of memory"); }
    buf[n] = '\n';
    buf[n + 1] = 0;
    // One write of the whole line: a kill between lines never tears one, and
    // a torn write (disk full, power loss) is cut off on the next open.
    int rc = write_all(s->fd[f], buf, n + 1);
    free(buf);
    if (rc) {
        json_decref(line);
        return qr_fail(e, "%s/%s: write failed: %s", s->dir, qr_store_filename(f), strerror(errno));
    }
    push(s, f, line, key);
    return 0;
}

json_t *qr_result_essence(const json_t *line) {
    json_t *c = json_deep_copy(line);
    static const char *volatile_fields[] = {"seconds", "created", "qrobust", "backend_info"};
    for (size_t i = 0; i < sizeof volatile_fields / sizeof *volatile_fields; i++) json_object_del(c, volatile_fields[i]);
    json_t *m = json_object_get(c, "model");
    if (json_is_object(m)) json_object_del(m, "path");
    return c;
}

int qr_store_merge_line(QrStore *s, QrStoreFile f, json_t *line, QrErr *e) {
    const char *key = line_key(line);
    if (!key) return 0;
    json_t *have = qr_store_get(s, f, key);
    if (have) {
        json_t *a = qr_result_essence(have), *b = qr_result_essence(line);
        if (!json_equal(a, b)) s->n_conflict++;
        json_decref(a);
        json_decref(b);
        return 0;
    }
    if (qr_store_append(s, f, json_incref(line), e)) return -1;
    return 1;
}

int qr_store_sync(QrStore *s, QrErr *e) {
    for (int f = 0; f < 2; f++)
        if (s->fd[f] >= 0 && fdatasync(s->fd[f]))
            return qr_fail(e, "%s/%s: fdatasync failed: %s", s->dir, qr_store_filename((QrStoreFile)f), strerror(errno));
    return 0;
}

json_t *qr_store_get(const QrStore *s, QrStoreFile f, const char *key) {
    int64_t i;
    if (!qr_strmap_get(&s->index[f], key, &i)) return NULL;
    return s->lines[f][i];
}
