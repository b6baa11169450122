#include "util/arena.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct QrArenaBlock {
    QrArenaBlock *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

void qr_arena_init(QrArena *a, size_t block_size) {
    a->head = NULL;
    a->block_size = block_size ? block_size : (64u << 10);
    a->used_total = 0;
}

void *qr_arena_alloc(QrArena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    QrArenaBlock *b = a->head;
    if (!b || b->cap - b->used < n) {
        // Large requests get a block of their own so the current block keeps
        // serving small ones.
        size_t cap = n > a->block_size / 4 ? n : a->block_size;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        if (cap == n && a->head) { // keep the partially used block at the head
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

void *qr_arena_calloc(QrArena *a, size_t n) {
    void *p = qr_arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *qr_arena_strndup(QrArena *a, const char *s, size_t n) {
    char *p = qr_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void qr_arena_free(QrArena *a) {
    QrArenaBlock *b = a->head;
    while (b) {
        QrArenaBlock *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->used_total = 0;
}
