// Files: read-only memory maps for checkpoints (no copy), whole-file reads for
// small text (gzip transparently decoded through zlib), and atomic writes so
// that an interrupted run never leaves a half-written result in place.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct {
    const uint8_t *data; // PROT_READ mapping of the whole file (NULL for an empty file)
    size_t size;
    int fd;
} QrMap;

int qr_map_file(QrMap *m, const char *path, QrErr *e);
void qr_unmap(QrMap *m);

// Reads the whole file into a malloc'd, NUL-terminated buffer (*len excludes the
// NUL). Files starting with the gzip magic bytes are decompressed.
int qr_read_file(const char *path, char **out, size_t *len, QrErr *e);

// Writes buf to path via path.tmp + fsync + rename: readers see the old file or
// the new one, never a torn one.
int qr_write_file_atomic(const char *path, const void *buf, size_t len, QrErr *e);

// The same, streamed, for files too large to hold in memory: writes go to
// path.tmp<pid>; commit fsyncs and renames it over path; abort (also called by
// a failing commit) removes it. After open fails nothing needs cleaning up.
typedef struct {
    int fd;
    char *path, *tmp;
} QrAtomicFile;
int qr_atomic_open(QrAtomicFile *f, const char *path, QrErr *e);
int qr_atomic_write(QrAtomicFile *f, const void *buf, size_t len, QrErr *e);
int qr_atomic_commit(QrAtomicFile *f, QrErr *e);
void qr_atomic_abort(QrAtomicFile *f);

int qr_file_exists(const char *path);
int qr_is_dir(const char *path);
