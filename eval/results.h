// The results store: a directory with two append-only JSON Lines files,
//   generations.jsonl  one line per (unit, task, sample) completion
//   executions.jsonl   one line per judged completion (base + plus verdicts)
// Every line is a self-describing JSON object with a "key" (see eval/plan.h).
//
// Crash safety: a line is written with one write() of the whole line and its
// newline on an O_APPEND descriptor, and the files are fdatasync'ed after each
// batch, so kill -9 loses at most the lines being written. On load, a last
// line without its newline (a torn write) and any line that is not a JSON
// object with a key are ignored and counted; a writer opening the store
// first cuts such a torn tail off, so appends never glue onto it. A lock file
// (flock) keeps two writers out of one directory.
// Resume: a key present in the store is finished work. Duplicate keys (e.g.
// from merging overlapping directories) keep the first line.
#pragma once
#include <jansson.h>
#include "util/err.h"
#include "util/strmap.h"

typedef enum { QR_GEN = 0, QR_EXEC = 1 } QrStoreFile;

typedef struct {
    json_t **lines[2]; // loaded + appended lines, in file order, per file
    int n[2], cap[2];
    QrStrMap index[2]; // key -> position in lines[]
    int fd[2];         // append descriptors (-1 when read-only)
    int lock_fd;
    int n_torn, n_bad, n_dup; // ignored on load: torn last lines, unparsable lines, duplicate keys
    int n_conflict;           // duplicate keys whose content differs (reported by merge)
    char dir[1024];
} QrStore;

// Opens (and for writing creates) a results directory. writable: take the
// lock, cut torn tails, open for appending.
int qr_store_open(QrStore *s, const char *dir, int writable, QrErr *e);
void qr_store_close(QrStore *s);
// Appends one line (the store takes the reference). The key must be new.
int qr_store_append(QrStore *s, QrStoreFile f, json_t *line, QrErr *e);
// Adds a line loaded from elsewhere (merge): skips keys already present,
// counting a conflict when the content differs. Returns 1 if appended.
int qr_store_merge_line(QrStore *s, QrStoreFile f, json_t *line, QrErr *e);
int qr_store_sync(QrStore *s, QrErr *e);
json_t *qr_store_get(const QrStore *s, QrStoreFile f, const char *key);
const char *qr_store_filename(QrStoreFile f);
// The line's content without what legitimately differs between two runs of
// the same work (timings, timestamps, paths): used to compare results.
json_t *qr_result_essence(const json_t *line);
