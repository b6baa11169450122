// The unigram tokenizer pipeline (tokenizer/unigram.h). The steps follow HF
// tokenizers: AddedVocabulary (leftmost-longest match of added tokens in the
// raw text, lstrip/rstrip), the Sequence normalizer, Metaspace
// pre-tokenizer/decoder, and Unigram::encode_optimized (Viterbi; a character
// no piece covers gets score min_score - 10 as <unk>; consecutive unknowns
// fuse into one token).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_map.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unigram.h"
#include "util/fileio.h"

static const char SPACE_MARK[] = "\xE2\x96\x81"; // U+2581, what Metaspace writes for ' '

QrUnigram *qr_uni_new(void) {
    QrUnigram *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->unk_id = -1;
    u->prepend = QR_UNI_PREPEND_ALWAYS;
    u->split = 1;
    snprintf(u->desc, sizeof u->desc, "SentencePiece unigram");
    return u;
}

void qr_uni_free(QrUnigram *u) {
    if (!u) return;
    for (int i = 0; i < u->n; i++) free(u->pieces[i].str);
    free(u->pieces);
    if (u->has_charsmap) qr_charsmap_free(&u->charsmap);
    if (u->map) {
        tok_map_free(u->map);
        free(u->map);
    }
    free(u->added);
    free(u);
}

int qr_uni_add(QrUnigram *u, const char *str, size_t len, double score, unsigned flags, QrErr *e) {
    if (u->n == u->cap) {
        int cap = u->cap ? 2 * u->cap : 1024;
        QrUniPiece *p = realloc(u->pieces, (size_t)cap * sizeof *p);
        if (!p) return qr_fail(e, "out of memory");
        u->pieces = p;
        u->cap = cap;
    }
    QrUniPiece *p = &u->pieces[u->n];
    if (!(p->str = malloc(len + 1))) return qr_fail(e, "out of memory");
    memcpy(p->str, str, len);
    p->str[len] = 0;
    p->len = (uint32_t)len;
    p->score = score;
    p->flags = flags;
    u->n++;
    return 0;
}

int qr_uni_set_charsmap(QrUnigram *u, const uint8_t *blob, size_t len, const char *name, QrErr *e) {
    if (u->has_charsmap) qr_charsmap_free(&u->charsmap);
    u->has_charsmap = 0;
    if (qr_charsmap_init(&u->charsmap, blob, len, name, e)) return -1;
    u->has_charsmap = 1;
    return 0;
}

static int cmp_added_len(const void *a, const void *b, void *ctx) {
    const QrUnigram *u = ctx;
    uint32_t la = u->pieces[*(const int *)a].len, lb = u->pieces[*(const int *)b].len;
    if (la != lb) return la > lb ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

int qr_uni_finish(QrUnigram *u, QrErr *e) {
    if (!u->n) return qr_fail(e, "unigram tokenizer: empty vocabulary");
    if (u->unk_id >= u->n) return qr_fail(e, "unigram tokenizer: unk id %d out of range (%d pieces)", u->unk_id, u->n);
    if (!(u->map = malloc(sizeof(TokMap))) || tok_map_init(u->map, (size_t)u->n)) return qr_fail(e, "out of memory");
    u->min_score = 1e300;
    u->max_len = 0;
    u->n_added = 0;
    for (int i = 0; i < u->n; i++) {
        const QrUniPiece *p = &u->pieces[i];
        // HF builds token -> id by inserting in id order: a duplicate keeps the last id.
        if (tok_map_put(u->map, p->str, p->len, i) < 0) return qr_fail(e, "out of memory");
        if (p->score < u->min_score) u->min_score = p->score;
        if (p->len > u->max_len) u->max_len = p->len;
        if (p->flags & QR_UNI_ADDED) u->n_added++;
    }
    free(u->added);
    if (!(u->added = malloc((size_t)(u->n_added + 1) * sizeof *u->added))) return qr_fail(e, "out of memory");
    u->n_added = 0;
    for (int i = 0; i < u->n; i++)
        if ((u->pieces[i].flags & QR_UNI_ADDED) && u->pieces[i].len) u->added[u->n_added++] = i;
    qsort_r(u->added, (size_t)u->n_added, sizeof *u->added, cmp_added_len, u);
    return 0;
}

int32_t qr_uni_find(const QrUnigram *u, const char *str) {
    return tok_map_get(u->map, str, strlen(str), -1);
}

// ---- Viterbi (Unigram::encode_optimized) ----

typedef struct {
    double score;
    int start; // -1: not reached
    int id;
} Node;

static int push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) return -1;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

static int viterbi(const QrUnigram *u, const char *s, size_t n, Node *best, int32_t **ids, size_t *nid, size_t *cap,
                   QrErr *e) {
    const double unk_score = u->min_score - 10.0;
    for (size_t i = 0; i <= n; i++) best[i] = (Node){0.0, -1, -1};
    for (size_t at = 0; at < n;) {
        double here = best[at].score;
        size_t mblen = (size_t)utf8_len((uint8_t)s[at]);
        if (mblen > n - at) mblen = n - at;
        int single = 0;
        size_t lim = n - at < u->max_len ? n - at : u->max_len;
        for (size_t l = 1; l <= lim; l++) {
            if (at + l < n && ((uint8_t)s[at + l] & 0xC0) == 0x80) continue; // inside a character
            int32_t id = tok_map_get(u->map, s + at, l, -1);
            if (id < 0) continue;
            double cand = u->pieces[id].score + here;
            Node *t = &best[at + l];
            if (t->start < 0 || cand > t->score) *t = (Node){cand, (int)at, id};
            if (l == mblen) single = 1;
        }
        if (!single) {
            if (u->unk_id < 0) return qr_fail(e, "unigram tokenizer: character not in the vocabulary and no <unk>");
            double cand = unk_score + here;
            Node *t = &best[at + mblen];
            if (t->start < 0 || cand > t->score) *t = (Node){cand, (int)at, u->unk_id};
        }
        at += mblen;
    }
    // Backtrack, fusing runs of <unk>; collect in reverse, then flip.
    size_t first = *nid;
    size_t end = n;
    while (end > 0) {
        const Node *nd = &best[end];
        size_t start = (size_t)nd->start;
        if (nd->id == u->unk_id) {
            size_t run_end = end;
            while (end > 0 && best[end].id == u->unk_id) end = (size_t)best[end].start;
            // HF maps the fused string back through the vocabulary.
            int32_t id = tok_map_get(u->map, s + end, run_end - end, u->unk_id);
            if (push_id(ids, nid, cap, id)) return qr_fail(e, "out of memory");
            continue;
        }
        if (push_id(ids, nid, cap, nd->id)) return qr_fail(e, "out of memory");
        end = start;
    }
    for (size_t a = first, b = *nid; a + 1 < b; a++, b--) {
        int32_t t = (*ids)[a];
        (*ids)[a] = (*ids)[b - 1];
        (*ids)[b - 1] = t;
    }
    return 0;
}

// ---- one text segment between added tokens ----

static int is_space_at(const char *s, size_t n, size_t i, size_t *len) {
    int adv;
    uint32_t cp = utf8_decode((const uint8_t *)s + i, n - i, &adv);
    *len = (size_t)adv;
    return unicode_is_whitespace(cp);
}

static int encode_segment(const QrUnigram *u, const char *s, size_t n, int at_start, QrSbuf *a, QrSbuf *b,
                          int32_t **ids, size_t *nid, size_t *cap, QrErr *e) {
    // Normalizer sequence.
    qr_sb_clear(a);
    if (u->has_charsmap) qr_charsmap_normalize(&u->charsmap, s, n, a);
    else qr_sb_putn(a, s, n);
    if (u->strip_right) {
        size_t end = a->len;
        while (end > 0) { // trailing whitespace (Rust char::is_whitespace)
            size_t st = end - 1;
            while (st > 0 && ((uint8_t)a->s[st] & 0xC0) == 0x80) st--;
            size_t l;
            if (!is_space_at(a->s, end, st, &l)) break;
            end = st;
        }
        a->len = end;
        if (a->s) a->s[end] = 0;
    }
    qr_sb_clear(b);
    if (u->has_collapse) {
        for (size_t i = 0; i < a->len;) {
            if (a->s[i] == ' ' && i + 1 < a->len && a->s[i + 1] == ' ') {
                while (i < a->len && a->s[i] == ' ') i++;
                qr_sb_puts(b, u->collapse);
            } else {
                qr_sb_putc(b, a->s[i++]);
            }
        }
    } else if (a->len) {
        qr_sb_putn(b, a->s, a->len);
    }
    if (!b->len) return 0;
    // Pre-tokenizers: WhitespaceSplit (optional) then Metaspace on each word.
    size_t i = 0;
    while (i < b->len) {
        size_t ws, we;
        if (u->whitespace_split) {
            size_t l;
            while (i < b->len && is_space_at(b->s, b->len, i, &l)) i += l;
            if (i >= b->len) break;
            ws = i;
            while (i < b->len && !is_space_at(b->s, b->len, i, &l)) i += l;
            we = i;
        } else {
            ws = 0;
            we = i = b->len;
        }
        qr_sb_clear(a);
        int first = at_start && ws == 0;
        int starts_mark = we - ws >= 3 && !memcmp(b->s + ws, SPACE_MARK, 3);
        int starts_space = b->s[ws] == ' ';
        if (!starts_mark && !starts_space &&
            (u->prepend == QR_UNI_PREPEND_ALWAYS || (u->prepend == QR_UNI_PREPEND_FIRST && first)))
            qr_sb_puts(a, SPACE_MARK);
        for (size_t k = ws; k < we; k++) {
            if (b->s[k] == ' ') qr_sb_puts(a, SPACE_MARK);
            else qr_sb_putc(a, b->s[k]);
        }
        // Split before every "▁" (MergedWithNext), run the model on each piece.
        size_t p = 0;
        while (p < a->len) {
            size_t q = p + 1;
            if (u->split) {
                while (q < a->len && !(q + 3 <= a->len && !memcmp(a->s + q, SPACE_MARK, 3))) q++;
            } else {
                q = a->len;
            }
            size_t m = q - p;
            Node *best = malloc((m + 1) * sizeof *best);
            if (!best) return qr_fail(e, "out of memory");
            int rc = viterbi(u, a->s + p, m, best, ids, nid, cap, e);
            free(best);
            if (rc) return -1;
            p = q;
        }
    }
    return 0;
}

// ---- added tokens ----

// The earliest position at or after `from` where an added token starts, the
// longest one there; -1 if none.
static int next_added(const QrUnigram *u, const char *s, size_t n, size_t from, size_t *pos) {
    for (size_t i = from; i < n; i++) {
        for (int k = 0; k < u->n_added; k++) {
            const QrUniPiece *p = &u->pieces[u->added[k]];
            if (p->len <= n - i && !memcmp(s + i, p->str, p->len)) {
                *pos = i;
                return u->added[k];
            }
        }
    }
    return -1;
}

int qr_uni_encode(const QrUnigram *u, const char *text, size_t len, int32_t **ids, size_t *n, QrErr *e) {
    size_t fixed_len;
    char *fixed = utf8_repair(text, len, &fixed_len);
    if (fixed) {
        text = fixed;
        len = fixed_len;
    }
    QrSbuf a, b;
    qr_sb_init(&a);
    qr_sb_init(&b);
    size_t cap = *n;
    int rc = 0;
    size_t seg = 0; // start of the text not yet consumed
    while (seg <= len && !rc) {
        size_t mpos = len, mend = len;
        int id = next_added(u, text, len, seg, &mpos);
        size_t seg_end = len;
        if (id >= 0) {
            const QrUniPiece *p = &u->pieces[id];
            mend = mpos + p->len;
            seg_end = mpos;
            size_t l;
            if (p->flags & QR_UNI_LSTRIP) // eat whitespace on the left, not past the previous match
                while (seg_end > seg) {
                    size_t st = seg_end - 1;
                    while (st > seg && ((uint8_t)text[st] & 0xC0) == 0x80) st--;
                    if (!is_space_at(text, seg_end, st, &l)) break;
                    seg_end = st;
                }
            if (p->flags & QR_UNI_RSTRIP)
                while (mend < len && is_space_at(text, len, mend, &l)) mend += l;
        }
        if (seg_end > seg) rc = encode_segment(u, text + seg, seg_end - seg, seg == 0, &a, &b, ids, n, &cap, e);
        if (id < 0) break;
        if (!rc && push_id(ids, n, &cap, id)) rc = qr_fail(e, "out of memory");
        seg = mend;
        if (seg == len) break;
    }
    if (!*ids && !rc && push_id(ids, n, &cap, 0) == 0) (*n)--; // non-NULL even when empty
    qr_sb_free(&a);
    qr_sb_free(&b);
    free(fixed);
    return rc;
}

// ---- decoding ----

// transformers' clean_up_tokenization: these replacements, in this order.
static void clean_up(QrSbuf *s) {
    static const char *const R[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                                       {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"},
                                       {" 're", "'re"}};
    for (size_t r = 0; r < sizeof R / sizeof *R; r++) {
        const char *from = R[r][0], *to = R[r][1];
        size_t fl = strlen(from), tl = strlen(to);
        if (!s->len || !strstr(s->s, from)) continue;
        QrSbuf o;
        qr_sb_init(&o);
        for (size_t i = 0; i < s->len;) {
            if (i + fl <= s->len && !memcmp(s->s + i, from, fl)) {
                qr_sb_putn(&o, to, tl);
                i += fl;
            } else {
                qr_sb_putc(&o, s->s[i++]);
            }
        }
        qr_sb_free(s);
        *s = o;
    }
}

char *qr_uni_decode(const QrUnigram *u, const int32_t *ids, size_t n, int skip_special, QrErr *e) {
    QrSbuf o;
    qr_sb_init(&o);
    qr_sb_puts(&o, "");
    size_t k = 0; // index among the tokens kept
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= u->n) {
            qr_sb_free(&o);
            qr_fail(e, "decode: id %d out of range (vocabulary of %d)", (int)ids[i], u->n);
            return NULL;
        }
        const QrUniPiece *p = &u->pieces[ids[i]];
        if (skip_special && (p->flags & QR_UNI_SPECIAL)) continue;
        // Metaspace decoder: "▁" -> ' ', except that the first token drops its "▁"s.
        for (size_t j = 0; j < p->len;) {
            if (j + 3 <= p->len && !memcmp(p->str + j, SPACE_MARK, 3)) {
                if (k > 0 || u->prepend == QR_UNI_PREPEND_NEVER) qr_sb_putc(&o, ' ');
                j += 3;
            } else {
                qr_sb_putc(&o, p->str[j++]);
            }
        }
        k++;
    }
    if (u->clean_up_spaces) clean_up(&o);
    return qr_sb_take(&o);
}

// ---- tokenizer.json ----

static int b64_val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Standard base64 (with padding) into a malloc'd buffer; NULL if malformed.
static uint8_t *b64_decode(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    uint8_t *o = malloc(n / 4 * 3 + 3);
    if (!o) return NULL;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') break;
        int v = b64_val((unsigned char)s[i]);
        if (v < 0) {
            free(o);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = k;
    return o;
}

static int json_normalizer(QrUnigram *u, const json_t *nz, const char *path, const char *field, QrErr *e) {
    if (!nz || json_is_null(nz)) return 0;
    const char *type = json_string_value(json_object_get(nz, "type"));
    if (!type) return qr_fail(e, "%s: %s: no \"type\"", path, field);
    if (!strcmp(type, "Sequence")) {
        const json_t *l = json_object_get(nz, "normalizers");
        if (!json_is_array(l)) return qr_fail(e, "%s: %s.normalizers: not a list", path, field);
        size_t i;
        const json_t *x;
        char sub[64];
        json_array_foreach(l, i, x) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
            if (json_normalizer(u, x, path, sub, e)) return -1;
        }
        return 0;
    }
    // The steps must come in the order a converted SentencePiece model has them.
    if (!strcmp(type, "Precompiled")) {
        const char *b64 = json_string_value(json_object_get(nz, "precompiled_charsmap"));
        if (u->has_charsmap || u->strip_right || u->has_collapse)
            return qr_fail(e, "%s: %s: unsupported normalizer order", path, field);
        if (!b64) return 0; // HF: no charsmap = identity
        size_t bl;
        uint8_t *blob = b64_decode(b64, &bl);
        if (!blob) return qr_fail(e, "%s: %s.precompiled_charsmap: not base64", path, field);
        int rc = qr_uni_set_charsmap(u, blob, bl, path, e);
        free(blob);
        return rc;
    }
    if (!strcmp(type, "Strip")) {
        if (json_is_true(json_object_get(nz, "strip_left")) || !json_is_true(json_object_get(nz, "strip_right")) ||
            u->has_collapse)
            return qr_fail(e, "%s: %s: only Strip(left=false, right=true) before Replace is supported", path, field);
        u->strip_right = 1;
        return 0;
    }
    if (!strcmp(type, "Replace")) {
        const json_t *pat = json_object_get(nz, "pattern");
        const char *re = json_string_value(json_object_get(pat, "Regex"));
        const char *content = json_string_value(json_object_get(nz, "content"));
        if (!re || strcmp(re, " {2,}") || !content || strlen(content) >= sizeof u->collapse || u->has_collapse)
            return qr_fail(e, "%s: %s: only Replace(Regex(\" {2,}\"), ...) is supported", path, field);
        snprintf(u->collapse, sizeof u->collapse, "%s", content);
        u->has_collapse = 1;
        return 0;
    }
    return qr_fail(e, "%s: %s.type: unsupported normalizer '%s' for a unigram model", path, field, type);
}

static int json_metaspace(const json_t *m, const char *path, const char *field, int *prepend, int *split, QrErr *e) {
    const char *rep = json_string_value(json_object_get(m, "replacement"));
    if (rep && strcmp(rep, SPACE_MARK)) return qr_fail(e, "%s: %s.replacement: only \"\\u2581\" is supported", path, field);
    const char *ps = json_string_value(json_object_get(m, "prepend_scheme"));
    const json_t *aps = json_object_get(m, "add_prefix_space"); // tokenizers < 0.15
    if (ps) {
        if (!strcmp(ps, "always")) *prepend = QR_UNI_PREPEND_ALWAYS;
        else if (!strcmp(ps, "first")) *prepend = QR_UNI_PREPEND_FIRST;
        else if (!strcmp(ps, "never")) *prepend = QR_UNI_PREPEND_NEVER;
        else return qr_fail(e, "%s: %s.prepend_scheme: unknown '%s'", path, field, ps);
    } else {
        *prepend = aps && json_is_false(aps) ? QR_UNI_PREPEND_NEVER : QR_UNI_PREPEND_ALWAYS;
    }
    const json_t *sp = json_object_get(m, "split");
    if (split) *split = !sp || json_is_true(sp);
    return 0;
}

static int json_pretok(QrUnigram *u, const json_t *pt, const char *path, QrErr *e) {
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (type && !strcmp(type, "Metaspace")) return json_metaspace(pt, path, "pre_tokenizer", &u->prepend, &u->split, e);
    if (type && !strcmp(type, "Sequence")) {
        const json_t *l = json_object_get(pt, "pretokenizers");
        const json_t *a = json_array_get(l, 0), *b = json_array_get(l, 1);
        const char *ta = json_string_value(json_object_get(a, "type"));
        const char *tb = json_string_value(json_object_get(b, "type"));
        if (json_array_size(l) == 2 && ta && tb && !strcmp(ta, "WhitespaceSplit") && !strcmp(tb, "Metaspace")) {
            u->whitespace_split = 1;
            return json_metaspace(b, path, "pre_tokenizer.pretokenizers[1]", &u->prepend, &u->split, e);
        }
    }
    return qr_fail(e, "%s: pre_tokenizer: only Metaspace (optionally after WhitespaceSplit) is supported for a unigram model",
                   path);
}

static int load_json(QrUnigram *u, const json_t *j, const char *path, QrErr *e) {
    const json_t *model = json_object_get(j, "model");
    const char *mt = json_string_value(json_object_get(model, "type"));
    if (!mt || strcmp(mt, "Unigram"))
        return qr_fail(e, "%s: model.type: '%s' is not a Unigram model", path, mt ? mt : "(none)");
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return qr_fail(e, "%s: model.byte_fallback: not supported for unigram models", path);
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_array(vocab) || !json_array_size(vocab)) return qr_fail(e, "%s: model.vocab: not a non-empty list", path);
    size_t i;
    const json_t *x;
    json_array_foreach(vocab, i, x) {
        const json_t *ps = json_array_get(x, 0), *sc = json_array_get(x, 1);
        if (json_array_size(x) != 2 || !json_is_string(ps) || !json_is_number(sc))
            return qr_fail(e, "%s: model.vocab[%zu]: not a [piece, score] pair", path, i);
        if (qr_uni_add(u, json_string_value(ps), json_string_length(ps), json_number_value(sc), 0, e)) return -1;
    }
    const json_t *unk = json_object_get(model, "unk_id");
    if (json_is_integer(unk)) u->unk_id = (int)json_integer_value(unk);
    else if (unk && !json_is_null(unk)) return qr_fail(e, "%s: model.unk_id: not an integer", path);
    const json_t *added = json_object_get(j, "added_tokens");
    json_array_foreach(added, i, x) {
        const json_t *id = json_object_get(x, "id");
        const char *content = json_string_value(json_object_get(x, "content"));
        if (!json_is_integer(id) || !content) return qr_fail(e, "%s: added_tokens[%zu]: no id or content", path, i);
        json_int_t k = json_integer_value(id);
        if (k < 0 || k >= u->n || strcmp(u->pieces[k].str, content))
            return qr_fail(e, "%s: added_tokens[%zu]: '%s' (id %lld) is not the vocabulary's piece of that id", path, i,
                           content, (long long)k);
        if (json_is_true(json_object_get(x, "single_word")) || json_is_true(json_object_get(x, "normalized")))
            return qr_fail(e, "%s: added_tokens[%zu]: single_word / normalized added tokens are not supported", path, i);
        unsigned f = QR_UNI_ADDED;
        if (json_is_true(json_object_get(x, "special"))) f |= QR_UNI_SPECIAL;
        if (json_is_true(json_object_get(x, "lstrip"))) f |= QR_UNI_LSTRIP;
        if (json_is_true(json_object_get(x, "rstrip"))) f |= QR_UNI_RSTRIP;
        u->pieces[k].flags = f;
    }
    if (json_normalizer(u, json_object_get(j, "normalizer"), path, "normalizer", e)) return -1;
    const json_t *pt = json_object_get(j, "pre_tokenizer");
    if (json_pretok(u, pt, path, e)) return -1;
    const json_t *dec = json_object_get(j, "decoder");
    const char *dt = json_string_value(json_object_get(dec, "type"));
    if (!dt || strcmp(dt, "Metaspace")) return qr_fail(e, "%s: decoder: only Metaspace is supported for a unigram model", path);
    int dprep;
    if (json_metaspace(dec, path, "decoder", &dprep, NULL, e)) return -1;
    if (dprep != u->prepend) return qr_fail(e, "%s: decoder.prepend_scheme differs from the pre-tokenizer's", path);
    snprintf(u->desc, sizeof u->desc, "tokenizer.json Unigram, %d pieces", u->n);
    return qr_uni_finish(u, e);
}

int qr_uni_load_json(QrUnigram **out, const char *path, QrErr *e) {
    *out = NULL;
    char *buf;
    size_t len;
    if (qr_read_file(path, &buf, &len, e)) return -1;
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);
    free(buf);
    if (!j) return qr_fail(e, "%s: line %d: %s", path, je.line, je.text);
    QrUnigram *u = qr_uni_new();
    int rc = u ? load_json(u, j, path, e) : qr_fail(e, "out of memory");
    json_decref(j);
    if (rc) {
        qr_uni_free(u);
        return -1;
    }
    *out = u;
    return 0;
}
