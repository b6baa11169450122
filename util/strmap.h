// A hash map from byte strings (any bytes, explicit length) to int32 values,
// with the keys copied into the map's own arena. Open addressing, linear
// probing, FNV-1a; built once and then read from any number of threads.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t hash, off, len;
    int32_t val;
} QrStrSlot;

typedef struct {
    QrStrSlot *slots; // cap slots; len == UINT32_MAX marks an empty slot
    size_t cap, n;    // cap is a power of two
    char *arena;      // the keys, back to back (each followed by a NUL)
    size_t arena_len, arena_cap;
} QrStrMap;

// Sets m empty; reserve_n is a hint for the number of keys (0 is fine).
int qr_strmap_init(QrStrMap *m, size_t reserve_n);
void qr_strmap_free(QrStrMap *m);
// Inserts or replaces key -> val. Returns 0 (new key), 1 (replaced), -1 (out of memory).
int qr_strmap_put(QrStrMap *m, const char *key, size_t len, int32_t val);
// The value of key, or dflt if absent.
int32_t qr_strmap_get(const QrStrMap *m, const char *key, size_t len, int32_t dflt);

static inline uint32_t qr_fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}
