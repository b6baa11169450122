// Protocol Buffers wire format, reading only (SentencePiece model files:
// tokenizer/tok_spm.c, tokenizer/tok_precompiled.c). Every read is
// bounds-checked; malformed input returns -1.
#pragma once
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p, *end;
} Pb;

static inline int pb_varint(Pb *b, uint64_t *v) {
    *v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (b->p >= b->end) return -1;
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7F) << sh;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

// Reads one field: its number, wire type, and the value (varint, fixed64,
// fixed32 in *v) or, for length-delimited fields, the bytes in *sub.
static inline int pb_field(Pb *b, uint32_t *num, int *wt, uint64_t *v, Pb *sub) {
    uint64_t key;
    if (pb_varint(b, &key)) return -1;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0: return pb_varint(b, v);
    case 1:
        if (b->end - b->p < 8) return -1;
        memcpy(v, b->p, 8);
        b->p += 8;
        return 0;
    case 5: {
        if (b->end - b->p < 4) return -1;
        uint32_t x;
        memcpy(&x, b->p, 4);
        *v = x;
        b->p += 4;
        return 0;
    }
    case 2:
        if (pb_varint(b, v) || *v > (uint64_t)(b->end - b->p)) return -1;
        sub->p = b->p;
        sub->end = b->p + *v;
        b->p += *v;
        return 0;
    default: return -1;
    }
}
