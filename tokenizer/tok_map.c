#include "tokenizer/tok_map.h"
#include <stdlib.h>
#include <string.h>

static int grow_slots(TokMap *m, size_t cap) {
    TokMapSlot *ns = aligned_alloc(64, cap * sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < cap; i++) ns[i].len = UINT32_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].len == UINT32_MAX) continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (ns[j].len != UINT32_MAX) j = (j + 1) & (cap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    return 0;
}

int tok_map_init(TokMap *m, size_t reserve_n) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < reserve_n * 2) cap *= 2;
    return grow_slots(m, cap);
}

int tok_map_reserve(TokMap *m, size_t n) {
    size_t cap = m->cap ? m->cap : 16;
    while (cap < n * 2) cap *= 2;
    return cap == m->cap ? 0 : grow_slots(m, cap);
}

void tok_map_free(TokMap *m) {
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static inline const char *slot_key(const TokMap *m, const TokMapSlot *s) {
    return s->len <= TOK_MAP_INLINE ? s->key : m->arena + s->off;
}

static size_t find_slot(const TokMap *m, const char *key, size_t len, uint32_t h) {
    size_t j = h & (m->cap - 1);
    for (;;) {
        const TokMapSlot *s = &m->slots[j];
        if (s->len == UINT32_MAX) return j;
        if (s->hash == h && s->len == len && !memcmp(slot_key(m, s), key, len)) return j;
        j = (j + 1) & (m->cap - 1);
    }
}

int tok_map_put(TokMap *m, const char *key, size_t len, int32_t val) {
    return tok_map_put_h(m, key, len, tok_fnv1a(key, len), val);
}

int tok_map_put_h(TokMap *m, const char *key, size_t len, uint32_t h, int32_t val) {
    if (len >= UINT32_MAX) return -1;
    if ((m->n + 1) * 2 > m->cap && grow_slots(m, m->cap * 2)) return -1;
    size_t j = find_slot(m, key, len, h);
    TokMapSlot *s = &m->slots[j];
    if (s->len != UINT32_MAX) { s->val = val; return 1; }
    uint32_t off = 0;
    if (len > TOK_MAP_INLINE) {
        if (m->arena_len + len > m->arena_cap) {
            size_t nc = m->arena_cap ? m->arena_cap : 4096;
            while (nc < m->arena_len + len) nc *= 2;
            if (nc > UINT32_MAX) return -1;
            char *na = realloc(m->arena, nc);
            if (!na) return -1;
            m->arena = na;
            m->arena_cap = nc;
        }
        memcpy(m->arena + m->arena_len, key, len);
        off = (uint32_t)m->arena_len;
        m->arena_len += len;
    }
    s->hash = h;
    s->len = (uint32_t)len;
    s->val = val;
    s->off = off;
    if (len <= TOK_MAP_INLINE && len) memcpy(s->key, key, len);
    m->n++;
    return 0;
}

int32_t tok_map_get_h(const TokMap *m, const char *key, size_t len, uint32_t h, int32_t dflt) {
    if (!m->cap) return dflt;
    size_t j = find_slot(m, key, len, h);
    return m->slots[j].len == UINT32_MAX ? dflt : m->slots[j].val;
}

int32_t tok_map_get(const TokMap *m, const char *key, size_t len, int32_t dflt) {
    return tok_map_get_h(m, key, len, tok_fnv1a(key, len), dflt);
}
