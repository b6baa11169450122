// Decoding: each id's bytes were fixed at load (byte-level alphabet back to
// bytes, U+2581 to a space, <0xNN> to the byte); the only context rule is the
// SentencePiece dummy prefix: the space the encoder put at the start of a
// text segment (at the start, or after an added token matched in raw text)
// is removed again, so decode(encode(x)) == x.
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

// Whether the text after id starts a new segment.
static int seg_break(const Tokenizer *t, int32_t id) {
    return (t->tok[id].flags & (TF_ADDED | TF_NORMALIZED)) == TF_ADDED;
}

// The bytes id contributes at this point; updates *at_seg.
static const char *piece_at(const Tokenizer *t, int32_t id, unsigned flags, int *at_seg, size_t *len) {
    const TokEntry *en = &t->tok[id];
    const char *p = t->arena + en->piece;
    *len = en->plen;
    if (seg_break(t, id)) {
        *at_seg = 1;
        if ((flags & TOK_SKIP_SPECIAL) && (en->flags & TF_SPECIAL)) *len = 0;
        return p;
    }
    if ((flags & TOK_SKIP_SPECIAL) && (en->flags & TF_SPECIAL)) { *len = 0; return p; }
    if (*at_seg && *len) {
        if (t->dec_strip_space && p[0] == ' ') { p++; (*len)--; }
        *at_seg = 0;
    }
    return p;
}

static int valid_id(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->tok[id].type != TT_NONE;
}

char *tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, unsigned flags, size_t *len, QrErr *e) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_id(t, ids[i])) {
            qr_fail(e, "decode: token id %d at position %zu is not in the vocabulary (0..%d)", ids[i], i,
                    t->n_vocab - 1);
            return NULL;
        }
        total += t->tok[ids[i]].plen;
    }
    char *out = malloc(total + 1);
    if (!out) { qr_fail(e, "out of memory"); return NULL; }
    size_t o = 0;
    int at_seg = 1;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = piece_at(t, ids[i], flags, &at_seg, &pl);
        memcpy(out + o, p, pl);
        o += pl;
    }
    out[o] = 0;
    *len = o;
    return out;
}

void tok_stream_init(TokStream *s, const Tokenizer *t, int32_t prev_id, unsigned flags) {
    memset(s, 0, sizeof *s);
    s->t = t;
    s->flags = flags;
    s->at_seg = prev_id < 0 || (valid_id(t, prev_id) && seg_break(t, prev_id));
}

static const char *stream_out(TokStream *s, const char *a, size_t na, const char *b, size_t nb, size_t *len) {
    if (na + nb + 1 > s->cap) {
        size_t nc = (na + nb + 1) * 2;
        char *g = realloc(s->buf, nc < 64 ? 64 : nc);
        if (!g) { *len = 0; return ""; }
        s->buf = g;
        s->cap = nc < 64 ? 64 : nc;
    }
    memcpy(s->buf, a, na);
    memcpy(s->buf + na, b, nb);
    s->buf[na + nb] = 0;
    *len = na + nb;
    return s->buf;
}

const char *tok_stream_push(TokStream *s, int32_t id, size_t *len) {
    *len = 0;
    if (!valid_id(s->t, id)) return "";
    size_t pl;
    const char *p = piece_at(s->t, id, s->flags, &s->at_seg, &pl);
    const char *all = stream_out(s, (const char *)s->pend, (size_t)s->npend, p, pl, len);
    size_t n = *len;
    // Hold back a trailing UTF-8 sequence that is valid so far but incomplete.
    size_t cut = n;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = (uint8_t)all[n - k];
        if ((c & 0xC0) == 0x80) continue; // continuation byte: look further left
        if (c >= 0xC2 && c <= 0xF4) {
            int m;
            if (!utf8_valid_seq((const uint8_t *)all + n - k, k, &m) && (size_t)m == k) cut = n - k;
        }
        break;
    }
    s->npend = (int)(n - cut);
    memcpy(s->pend, all + cut, n - cut);
    s->buf[cut] = 0;
    *len = cut;
    return s->buf;
}

const char *tok_stream_flush(TokStream *s, size_t *len) {
    const char *r = stream_out(s, (const char *)s->pend, (size_t)s->npend, "", 0, len);
    s->npend = 0;
    return r;
}

void tok_stream_free(TokStream *s) {
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}
