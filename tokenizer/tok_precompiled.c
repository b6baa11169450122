// SentencePiece model files and the Precompiled normalizer (tokenizer/unigram.h).
//
// ModelProto field numbers from sentencepiece_model.proto:
//   ModelProto{1 pieces, 2 trainer_spec, 3 normalizer_spec}
//   SentencePiece{1 piece, 2 score (float), 3 type}
//   TrainerSpec{3 model_type, 35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id}
//   NormalizerSpec{1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
//                  4 remove_extra_whitespaces, 5 escape_whitespaces}
// The charsmap format and its lookup follow SentencePiece's normalizer and
// darts-clone (unit bit layout: bit 8 has_leaf, bits 0-7 label (with bit 31),
// offset = (unit >> 10) << ((unit & (1 << 9)) >> 6), value = unit & 0x7FFFFFFF),
// as the spm_precompiled crate used by HF tokenizers reads it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/protobuf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unicode_gcb.h"
#include "tokenizer/unigram.h"
#include "util/fileio.h"

void qr_spm_free(QrSpmModel *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) free(m->pieces[i].piece);
    free(m->pieces);
    free(m->charsmap);
    memset(m, 0, sizeof *m);
}

static int spm_piece(QrSpmModel *m, Pb sub, const char *name, QrErr *e) {
    QrSpmPiece *p = &m->pieces[m->n];
    p->type = 1;
    const uint8_t *s = NULL;
    size_t sl = 0;
    uint32_t num;
    int wt;
    uint64_t v;
    Pb x;
    while (sub.p < sub.end) {
        if (pb_field(&sub, &num, &wt, &v, &x)) return qr_fail(e, "%s: pieces[%d]: bad protobuf", name, m->n);
        if (num == 1 && wt == 2) { s = x.p; sl = (size_t)(x.end - x.p); }
        else if (num == 2 && wt == 5) { uint32_t u = (uint32_t)v; memcpy(&p->score, &u, 4); }
        else if (num == 3 && wt == 0) p->type = (int)v;
    }
    if (!s) return qr_fail(e, "%s: pieces[%d]: no piece string", name, m->n);
    int mx;
    for (size_t i = 0; i < sl;) {
        int l = utf8_valid_seq(s + i, sl - i, &mx);
        if (!l) return qr_fail(e, "%s: pieces[%d]: piece is not valid UTF-8", name, m->n);
        i += (size_t)l;
    }
    if (!(p->piece = malloc(sl + 1))) return qr_fail(e, "out of memory");
    memcpy(p->piece, s, sl);
    p->piece[sl] = 0;
    m->n++;
    return 0;
}

int qr_spm_parse(QrSpmModel *m, const uint8_t *buf, size_t len, const char *name, QrErr *e) {
    memset(m, 0, sizeof *m);
    m->model_type = 1;
    m->unk_id = 0, m->bos_id = 1, m->eos_id = 2, m->pad_id = -1;
    m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
    Pb b = {buf, buf + len}, sub, x;
    uint32_t num;
    int wt;
    uint64_t v;
    size_t n = 0;
    while (b.p < b.end) { // pass 1: count the pieces
        if (pb_field(&b, &num, &wt, &v, &sub)) return qr_fail(e, "%s: not a SentencePiece model (bad protobuf)", name);
        if (num == 1 && wt == 2) n++;
    }
    if (!n) return qr_fail(e, "%s: not a SentencePiece model (no pieces)", name);
    if (n > (1u << 24)) return qr_fail(e, "%s: %zu pieces is too many", name, n);
    if (!(m->pieces = calloc(n, sizeof *m->pieces))) return qr_fail(e, "out of memory");
    b = (Pb){buf, buf + len};
    while (b.p < b.end) {
        pb_field(&b, &num, &wt, &v, &sub);
        if (wt != 2) continue;
        if (num == 1) {
            if (spm_piece(m, sub, name, e)) goto fail;
        } else if (num == 2 || num == 3) {
            uint32_t msg = num;
            while (sub.p < sub.end) {
                if (pb_field(&sub, &num, &wt, &v, &x)) {
                    qr_fail(e, "%s: %s: bad protobuf", name, msg == 2 ? "trainer_spec" : "normalizer_spec");
                    goto fail;
                }
                if (msg == 2) {
                    if (num == 3) m->model_type = (int)v;
                    else if (num == 35) m->byte_fallback = v != 0;
                    else if (num == 40) m->unk_id = (int32_t)v;
                    else if (num == 41) m->bos_id = (int32_t)v;
                    else if (num == 42) m->eos_id = (int32_t)v;
                    else if (num == 43) m->pad_id = (int32_t)v;
                } else if (num == 1 && wt == 2) {
                    size_t l = (size_t)(x.end - x.p);
                    snprintf(m->norm_name, sizeof m->norm_name, "%.*s", (int)(l < 63 ? l : 63), (const char *)x.p);
                } else if (num == 2 && wt == 2 && x.end > x.p) {
                    free(m->charsmap);
                    m->charsmap_len = (size_t)(x.end - x.p);
                    if (!(m->charsmap = malloc(m->charsmap_len))) {
                        qr_fail(e, "out of memory");
                        goto fail;
                    }
                    memcpy(m->charsmap, x.p, m->charsmap_len);
                } else if (num == 3) m->add_dummy_prefix = v != 0;
                else if (num == 4) m->remove_extra_whitespaces = v != 0;
                else if (num == 5) m->escape_whitespaces = v != 0;
            }
        }
    }
    return 0;
fail:
    qr_spm_free(m);
    return -1;
}

int qr_spm_read(QrSpmModel *m, const char *path, QrErr *e) {
    char *buf;
    size_t len;
    memset(m, 0, sizeof *m);
    if (qr_read_file(path, &buf, &len, e)) return -1;
    int rc = qr_spm_parse(m, (const uint8_t *)buf, len, path, e);
    free(buf);
    return rc;
}

// ---- Precompiled charsmap ----

int qr_charsmap_init(QrCharsmap *c, const uint8_t *blob, size_t len, const char *name, QrErr *e) {
    memset(c, 0, sizeof *c);
    if (len < 4) return qr_fail(e, "%s: precompiled_charsmap: %zu bytes is too short", name, len);
    uint32_t tsize = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (tsize % 4 || tsize == 0 || tsize > len - 4)
        return qr_fail(e, "%s: precompiled_charsmap: trie size %u does not fit the %zu-byte blob", name, tsize, len);
    c->n_units = tsize / 4;
    c->norm_len = len - 4 - tsize;
    c->trie = malloc(tsize);
    c->norm = malloc(c->norm_len + 1);
    if (!c->trie || !c->norm) {
        qr_charsmap_free(c);
        return qr_fail(e, "out of memory");
    }
    for (size_t i = 0; i < c->n_units; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        c->trie[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(c->norm, blob + 4 + tsize, c->norm_len);
    c->norm[c->norm_len] = 0;
    return 0;
}

void qr_charsmap_free(QrCharsmap *c) {
    free(c->trie);
    free(c->norm);
    memset(c, 0, sizeof *c);
}

static inline size_t du_offset(uint32_t u) { return (size_t)((u >> 10) << ((u & (1u << 9)) >> 6)); }

// darts-clone common prefix search, first (shortest) match only: the offset
// of its replacement string, or -1. Stops at a NUL byte as spm_precompiled
// does; every index is bounds-checked (a malformed charsmap finds nothing).
static long shortest_prefix(const QrCharsmap *c, const uint8_t *k, size_t n) {
    size_t pos = 0;
    if (!c->n_units) return -1;
    uint32_t unit = c->trie[0];
    pos ^= du_offset(unit);
    for (size_t i = 0; i < n; i++) {
        if (!k[i]) break;
        pos ^= k[i];
        if (pos >= c->n_units) return -1;
        unit = c->trie[pos];
        if ((unit & ((1u << 31) | 0xFF)) != k[i]) return -1;
        pos ^= du_offset(unit);
        if ((unit >> 8) & 1) {
            if (pos >= c->n_units) return -1;
            size_t v = c->trie[pos] & 0x7FFFFFFFu;
            return v < c->norm_len ? (long)v : -1;
        }
    }
    return -1;
}

void qr_charsmap_normalize(const QrCharsmap *c, const char *s, size_t n, QrSbuf *out) {
    size_t i = 0;
    while (i < n) {
        size_t g = unicode_grapheme_len(s + i, n - i);
        long r = g < 6 ? shortest_prefix(c, (const uint8_t *)s + i, g) : -1;
        if (r >= 0) {
            qr_sb_puts(out, c->norm + r);
            i += g;
            continue;
        }
        for (size_t end = i + g; i < end;) {
            size_t l = (size_t)utf8_len((uint8_t)s[i]);
            if (l > end - i) l = end - i;
            r = shortest_prefix(c, (const uint8_t *)s + i, l);
            if (r >= 0) qr_sb_puts(out, c->norm + r);
            else qr_sb_putn(out, s + i, l);
            i += l;
        }
    }
}
