// A bump allocator: many small allocations freed all at once. Used for trees
// of parsed values (eval/pyval.h) where nodes live exactly as long as their
// owner (a dataset, one worker reply) and per-node free() would dominate.
#pragma once
#include <stddef.h>

typedef struct QrArenaBlock QrArenaBlock;
typedef struct {
    QrArenaBlock *head; // newest block first
    size_t block_size;  // default size of a new block (bytes)
    size_t used_total;  // bytes handed out, for statistics
} QrArena;

// block_size 0 selects 64 KiB.
void qr_arena_init(QrArena *a, size_t block_size);
// 16-byte aligned, uninitialised; NULL when out of memory.
void *qr_arena_alloc(QrArena *a, size_t n);
// Zero-filled.
void *qr_arena_calloc(QrArena *a, size_t n);
// Copies n bytes and appends a NUL.
char *qr_arena_strndup(QrArena *a, const char *s, size_t n);
void qr_arena_free(QrArena *a);
