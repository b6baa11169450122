// Tokenizer-internal hash map from byte strings (any bytes, explicit length)
// to int32 values, with the keys copied into the map. Open addressing, linear
// probing; keys up to 16 bytes (most tokens) live in the slot itself so that
// a lookup costs one cache miss, longer ones in the map's arena. Built once,
// then read from any number of threads.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define TOK_MAP_INLINE 16

typedef struct {
    uint32_t hash, len; // len == UINT32_MAX marks an empty slot
    int32_t val;
    uint32_t off;       // key in the arena (keys longer than TOK_MAP_INLINE)
    char key[TOK_MAP_INLINE];
} TokMapSlot;

typedef struct {
    TokMapSlot *slots; // cap slots, cap a power of two
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
} TokMap;

// Sets m empty; reserve_n is a hint for the number of keys (0 is fine).
int tok_map_init(TokMap *m, size_t reserve_n);
void tok_map_free(TokMap *m);
// Grows the table so that n keys fit without rehashing.
int tok_map_reserve(TokMap *m, size_t n);
// Inserts or replaces key -> val. Returns 0 (new key), 1 (replaced), -1 (out of memory).
int tok_map_put(TokMap *m, const char *key, size_t len, int32_t val);
// The value of key, or dflt if absent.
int32_t tok_map_get(const TokMap *m, const char *key, size_t len, int32_t dflt);

// For batched lookups: the hash of a key, a prefetch of its first slot, and a
// lookup with the hash already computed (tok_map_get == get_h(hash(key))).
static inline void tok_map_prefetch(const TokMap *m, uint32_t h) {
    __builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}
int tok_map_put_h(TokMap *m, const char *key, size_t len, uint32_t h, int32_t val);
int32_t tok_map_get_h(const TokMap *m, const char *key, size_t len, uint32_t h, int32_t dflt);

// FNV-1a, then a murmur3 finalizer so that the low bits (the slot index under
// linear probing) depend on every byte.
static inline uint32_t tok_fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}
