#include "util/fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int qr_map_file(QrMap *m, const char *path, QrErr *e) {
    memset(m, 0, sizeof *m);
    m->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return qr_fail(e, "%s: not a regular file", path);
    }
    m->size = (size_t)st.st_size;
    m->fd = fd;
    if (m->size == 0) return 0;
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        m->fd = -1;
        return qr_fail(e, "%s: mmap failed: %s", path, strerror(errno));
    }
    m->data = p;
    return 0;
}

void qr_unmap(QrMap *m) {
    if (m->data) munmap((void *)m->data, m->size);
    if (m->fd >= 0) close(m->fd);
    memset(m, 0, sizeof *m);
    m->fd = -1;
}

static int read_gz(const char *path, char **out, size_t *len, QrErr *e) {
    gzFile g = gzopen(path, "rb");
    if (!g) return qr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) { gzclose(g); return qr_fail(e, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) { free(buf); gzclose(g); return qr_fail(e, "%s: out of memory", path); }
            buf = nb;
        }
        int r = gzread(g, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(g, &errnum);
            qr_fail(e, "%s: gzip error: %s", path, msg);
            free(buf);
            gzclose(g);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    // gzread returns 0 on a truncated stream too; gzclose reports it.
    int rc = gzclose(g);
    if (rc != Z_OK) { free(buf); return qr_fail(e, "%s: truncated or corrupt gzip stream", path); }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int qr_read_file(const char *path, char **out, size_t *len, QrErr *e) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return qr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t got = fread(magic, 1, 2, f);
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(f);
        return read_gz(path, out, len, e);
    }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return qr_fail(e, "%s: cannot seek", path); }
    long sz = ftell(f);
    if (sz < 0) { fclose(f); return qr_fail(e, "%s: cannot size", path); }
    rewind(f);
    char *buf = malloc((size_t)sz + 1);
    if (!buf) { fclose(f); return qr_fail(e, "%s: out of memory", path); }
    size_t n = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    if (n != (size_t)sz) { free(buf); return qr_fail(e, "%s: short read", path); }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int qr_atomic_open(QrAtomicFile *f, const char *path, QrErr *e) {
    size_t pl = strlen(path);
    f->fd = -1;
    f->path = strdup(path);
    f->tmp = malloc(pl + 16);
    if (!f->path || !f->tmp) {
        free(f->path);
        free(f->tmp);
        return qr_fail(e, "%s: out of memory", path);
    }
    snprintf(f->tmp, pl + 16, "%s.tmp%d", path, (int)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        qr_fail(e, "%s: cannot create: %s", f->tmp, strerror(errno));
        free(f->path);
        free(f->tmp);
        return -1;
    }
    return 0;
}

void qr_atomic_abort(QrAtomicFile *f) {
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    f->fd = -1;
    f->path = f->tmp = NULL;
}

int qr_atomic_write(QrAtomicFile *f, const void *buf, size_t len, QrErr *e) {
    const char *p = buf;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return qr_fail(e, "%s: write failed: %s", f->tmp, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int qr_atomic_commit(QrAtomicFile *f, QrErr *e) {
    if (fsync(f->fd) != 0 || close(f->fd) != 0) {
        qr_fail(e, "%s: fsync/close failed: %s", f->tmp, strerror(errno));
        f->fd = -1;
        qr_atomic_abort(f);
        return -1;
    }
    f->fd = -1;
    if (rename(f->tmp, f->path) != 0) {
        qr_fail(e, "%s: rename failed: %s", f->path, strerror(errno));
        qr_atomic_abort(f);
        return -1;
    }
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    return 0;
}

int qr_write_file_atomic(const char *path, const void *buf, size_t len, QrErr *e) {
    QrAtomicFile f;
    if (qr_atomic_open(&f, path, e)) return -1;
    if (qr_atomic_write(&f, buf, len, e)) {
        qr_atomic_abort(&f);
        return -1;
    }
    return qr_atomic_commit(&f, e);
}

int qr_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int qr_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
