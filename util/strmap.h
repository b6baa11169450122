// A string -> int64 hash map (open addressing, linear probing, FNV-1a). Keys
// are copied. Used to index results by their stable keys. Allocation failure
// aborts (see util/sbuf.h for why).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **keys;   // [cap], NULL = empty slot
    int64_t *vals; // [cap]
    size_t cap, n;
} QrStrMap;

void qr_strmap_init(QrStrMap *m);
void qr_strmap_free(QrStrMap *m);
// Returns 1 and sets *val if key is present, else 0.
int qr_strmap_get(const QrStrMap *m, const char *key, int64_t *val);
// Inserts or overwrites.
void qr_strmap_put(QrStrMap *m, const char *key, int64_t val);
