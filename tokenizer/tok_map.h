// Tokenizer-internal hash map from byte strings (any bytes, explicit length) to int32 values,
// with the keys copied into the map's own arena. Open addressing, linear
// probing, FNV-1a; built once and then read from any number of threads.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t hash, off, len;
    int32_t val;
} TokMapSlot;

typedef struct {
    TokMapSlot *slots; // cap slots; len == UINT32_MAX marks an empty slot
    size_t cap, n;    // cap is a power of two
    char *arena;      // the keys, back to back (each followed by a NUL)
    size_t arena_len, arena_cap;
} TokMap;

// Sets m empty; reserve_n is a hint for the number of keys (0 is fine).
int tok_map_init(TokMap *m, size_t reserve_n);
void tok_map_free(TokMap *m);
// Inserts or replaces key -> val. Returns 0 (new key), 1 (replaced), -1 (out of memory).
int tok_map_put(TokMap *m, const char *key, size_t len, int32_t val);
// The value of key, or dflt if absent.
int32_t tok_map_get(const TokMap *m, const char *key, size_t len, int32_t dflt);

static inline uint32_t tok_fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}
