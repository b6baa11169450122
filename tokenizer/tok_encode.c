// Encoding, stage by stage as Hugging Face `tokenizers` does it
// (tokenizer/mod.rs encode_single_sequence):
//  1. added tokens with normalized=false are found in the raw text
//     (leftmost-longest, with their lstrip/rstrip/single_word options);
//  2. every stretch of text between them is normalized, then searched for the
//     normalized=true added tokens;
//  3. the remaining text is pre-tokenized (Split / ByteLevel / Digits /
//     Metaspace, each on the pieces the previous one produced);
//  4. the model (rank BPE or SentencePiece score BPE) turns each piece into ids;
//  5. TOK_ADD_SPECIAL adds the post-processor's prefix/suffix ids.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

typedef struct {
    uint32_t off, len;
    uint8_t first; // first piece of a text segment that starts at offset 0 (Metaspace "first")
} Span;

// Cache of model results per pre-tokenized piece (HF's BPE keeps one too):
// the ids of a piece depend only on its bytes, and code repeats words a lot.
typedef struct {
    uint32_t hash, klen; // klen 0: empty slot
    uint32_t koff, ioff, nids;
} WordSlot;

enum { WC_SLOTS = 1 << 15, WC_MAX_KEY = 64, WC_KEY_BYTES = 1 << 20 };

// Per-thread encoding state, kept between calls (buffers, PCRE2 match data
// and JIT stack, word cache) so that short prompts do not pay for allocation.
typedef struct {
    const Tokenizer *t;
    TokScratch *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    char *buf;            // piece bytes (pieces are spans of it; transformations append)
    size_t len, cap;
    Span *a, *b;          // current and next piece lists
    size_t na, nb, capa, capb;
    TokIds out;
    QrErr *e;
    uint64_t wc_serial;   // tokenizer the word cache belongs to
    WordSlot *wc;
    size_t wc_n;
    char *wc_keys;
    size_t wc_klen;
    TokIds wc_ids;
} Enc;

static void enc_free(void *p) {
    Enc *c = p;
    if (!c) return;
    tok_scratch_free(c->scratch);
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    pcre2_jit_stack_free(c->jit);
    free(c->buf);
    free(c->a);
    free(c->b);
    free(c->wc);
    free(c->wc_keys);
    free(c->wc_ids.v);
    free(c);
}

static pthread_key_t enc_key;
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;
static void enc_key_init(void) { pthread_key_create(&enc_key, enc_free); }

// This thread's Enc (created on first use, freed when the thread exits).
static Enc *enc_get(void) {
    pthread_once(&enc_once, enc_key_init);
    Enc *c = pthread_getspecific(enc_key);
    if (c) return c;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->scratch = tok_scratch_new();
    c->md = pcre2_match_data_create(4, NULL);
    c->mctx = pcre2_match_context_create(NULL);
    // PCRE2's JIT needs its own stack for long runs matched by nested groups.
    c->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    c->wc = calloc(WC_SLOTS, sizeof *c->wc);
    c->wc_keys = malloc(WC_KEY_BYTES);
    if (!c->scratch || !c->md || !c->mctx || !c->jit || !c->wc || !c->wc_keys || pthread_setspecific(enc_key, c)) {
        enc_free(c);
        return NULL;
    }
    pcre2_jit_stack_assign(c->mctx, NULL, c->jit);
    return c;
}

static void wc_clear(Enc *c) {
    memset(c->wc, 0, WC_SLOTS * sizeof *c->wc);
    c->wc_n = 0;
    c->wc_klen = 0;
    c->wc_ids.n = 0;
}

void tok_encode_cache_reset(void) {
    pthread_once(&enc_once, enc_key_init);
    Enc *c = pthread_getspecific(enc_key);
    if (c) wc_clear(c);
}

// Runs the model on piece p[0..n), through the word cache.
static int model_cached(Enc *c, const char *p, size_t n) {
    const Tokenizer *t = c->t;
    if (n > WC_MAX_KEY) return tok_model_piece(t, c->scratch, p, n, &c->out);
    if (c->wc_serial != t->serial) { wc_clear(c); c->wc_serial = t->serial; }
    uint32_t h = tok_fnv1a(p, n);
    size_t j = h & (WC_SLOTS - 1);
    while (c->wc[j].klen) {
        WordSlot *w = &c->wc[j];
        if (w->hash == h && w->klen == n && !memcmp(c->wc_keys + w->koff, p, n)) {
            for (uint32_t k = 0; k < w->nids; k++)
                if (tok_ids_push(&c->out, c->wc_ids.v[w->ioff + k])) return -1;
            return 0;
        }
        j = (j + 1) & (WC_SLOTS - 1);
    }
    size_t before = c->out.n;
    if (tok_model_piece(t, c->scratch, p, n, &c->out)) return -1;
    size_t nids = c->out.n - before;
    if (c->wc_n + 1 > WC_SLOTS / 2 || c->wc_klen + n > WC_KEY_BYTES) {
        wc_clear(c); // full: start over (the next lookups refill it)
        j = h & (WC_SLOTS - 1);
    }
    for (size_t k = 0; k < nids; k++)
        if (tok_ids_push(&c->wc_ids, c->out.v[before + k])) return -1;
    memcpy(c->wc_keys + c->wc_klen, p, n);
    c->wc[j] = (WordSlot){h, (uint32_t)n, (uint32_t)c->wc_klen, (uint32_t)(c->wc_ids.n - nids), (uint32_t)nids};
    c->wc_klen += n;
    c->wc_n++;
    return 0;
}

// Appends n bytes at s, which may point into c->buf itself.
static int buf_append(Enc *c, const char *s, size_t n) {
    if (c->len + n + 1 > c->cap) {
        if (c->buf && s >= c->buf && s < c->buf + c->cap) {
            size_t off = (size_t)(s - c->buf);
            size_t nc = c->cap * 2;
            while (nc < c->len + n + 1) nc *= 2;
            char *nb = realloc(c->buf, nc);
            if (!nb) return -1;
            c->buf = nb;
            c->cap = nc;
            s = c->buf + off;
        }
    }
    if (c->len + n + 1 > c->cap) {
        size_t nc = c->cap ? c->cap : 4096;
        while (nc < c->len + n + 1) nc *= 2;
        char *nb = realloc(c->buf, nc);
        if (!nb) return -1;
        c->buf = nb;
        c->cap = nc;
    }
    if (n) memmove(c->buf + c->len, s, n);
    c->len += n;
    return 0;
}

static int span_push(Span **v, size_t *n, size_t *cap, Span s) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        Span *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return 0;
}

static int oom(Enc *c) { return qr_fail(c->e, "out of memory while encoding"); }

// ------------------------------------------------------------ added tokens

// Leftmost-longest occurrence in s[from..n) of an added token whose
// TF_NORMALIZED flag equals want_norm (one Aho-Corasick automaton per group in HF).
static int find_added(const Tokenizer *t, const char *s, size_t n, size_t from, int want_norm,
                      size_t *ms, size_t *me, int32_t *mid) {
    for (size_t i = from; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        for (int32_t k = t->added_first[b]; k < t->added_first[b + 1]; k++) {
            const TokEntry *en = &t->tok[t->added[k]];
            if (((en->flags & TF_NORMALIZED) != 0) != want_norm) continue;
            if (en->slen > n - i || memcmp(t->arena + en->str, s + i, en->slen)) continue;
            *ms = i;
            *me = i + en->slen;
            *mid = t->added[k];
            return 1;
        }
    }
    return 0;
}

static uint32_t prev_cp(const char *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && ((uint8_t)s[i] & 0xC0) == 0x80) i--;
    int adv;
    *start = i;
    return utf8_decode((const uint8_t *)s + i, end - i, &adv);
}

// HF's single_word test: the Rust regex crate's \w (Alphabetic, marks,
// decimal digits, connector punctuation, joiners) at s[off].
static int is_word_cp(Enc *c, const char *s, size_t off, size_t n) {
    return pcre2_match(c->t->word_re, (PCRE2_SPTR)s + off, n - off, 0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, c->md,
                       c->mctx) >= 0;
}

// Applies HF's added-token options to a match [*ms, *me) found at or after
// seg_start; returns 0 when the match must be ignored (single_word unmet, or a
// special token while special tokens are not parsed).
static int accept_added(Enc *c, const char *s, size_t n, size_t seg_start, size_t *ms, size_t *me, int32_t id,
                        int parse_special) {
    const TokEntry *en = &c->t->tok[id];
    if (!parse_special && (en->flags & TF_SPECIAL)) return 0;
    if (en->flags & TF_SINGLE_WORD) {
        size_t ps;
        int before = *ms > 0 && is_word_cp(c, s, (prev_cp(s, *ms, &ps), ps), n);
        int after = *me < n && is_word_cp(c, s, *me, n);
        if (before || after) return 0;
    }
    if (en->flags & TF_LSTRIP) {
        size_t st = *ms;
        while (st > seg_start) {
            size_t ps;
            uint32_t cp = prev_cp(s, st, &ps);
            if (!unicode_is_whitespace(cp)) break;
            st = ps;
        }
        *ms = st;
    }
    if (en->flags & TF_RSTRIP) {
        size_t e2 = *me;
        while (e2 < n) {
            int adv;
            uint32_t cp = utf8_decode((const uint8_t *)s + e2, n - e2, &adv);
            if (!unicode_is_whitespace(cp)) break;
            e2 += (size_t)adv;
        }
        *me = e2;
    }
    return 1;
}

// ------------------------------------------------------------ pre-tokenizers

// Splits each piece of c->a by re into c->b according to behavior/invert.
static int split_pieces(Enc *c, const pcre2_code *re, int behavior, int invert) {
    c->nb = 0;
    for (size_t k = 0; k < c->na; k++) {
        Span p = c->a[k];
        const char *s = c->buf + p.off;
        // (range, is_delimiter) list, alternating text and matches.
        size_t first_out = c->nb;
        size_t pos = 0, prev = 0;
        int have_prev = 0, prev_delim = 0;
#define EMIT(st, en, dl)                                                                        \
    do {                                                                                        \
        size_t st_ = (st), en_ = (en);                                                          \
        int dl_ = (dl);                                                                         \
        if (behavior == SPLIT_ISOLATED || (behavior == SPLIT_REMOVED && !dl_)) {                \
            if (span_push(&c->b, &c->nb, &c->capb, (Span){p.off + (uint32_t)st_, (uint32_t)(en_ - st_), 0})) return oom(c); \
        } else if (behavior == SPLIT_MERGED_PREV || behavior == SPLIT_CONTIGUOUS) {             \
            int merge = behavior == SPLIT_MERGED_PREV ? (dl_ && !prev_delim) : (dl_ == prev_delim); \
            if (merge && have_prev && c->nb > first_out) c->b[c->nb - 1].len = (uint32_t)(p.off + en_ - c->b[c->nb - 1].off); \
            else if (span_push(&c->b, &c->nb, &c->capb, (Span){p.off + (uint32_t)st_, (uint32_t)(en_ - st_), 0})) return oom(c); \
        } else if (behavior == SPLIT_MERGED_NEXT) {                                             \
            /* a delimiter is joined to the following non-delimiter: keep it pending */        \
            if (have_prev && prev_delim && !dl_) {                                              \
                c->b[c->nb - 1].len = (uint32_t)(p.off + en_ - c->b[c->nb - 1].off);            \
            } else if (span_push(&c->b, &c->nb, &c->capb, (Span){p.off + (uint32_t)st_, (uint32_t)(en_ - st_), 0})) return oom(c); \
        }                                                                                       \
        have_prev = 1;                                                                          \
        prev_delim = dl_;                                                                       \
    } while (0)
        while (pos <= p.len) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, p.len, pos, PCRE2_NO_UTF_CHECK, c->md, c->mctx);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return qr_fail(c->e, "pre-tokenizer regex failed on a %u-byte piece: %s", p.len, (char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { // empty match: ignore it, move one character on
                if (ms >= p.len) break;
                pos = ms + (size_t)utf8_len((uint8_t)s[ms]);
                continue;
            }
            if (ms > prev) EMIT(prev, ms, invert);
            EMIT(ms, me, !invert);
            prev = pos = me;
        }
        if (prev < p.len) EMIT(prev, p.len, invert);
        // MergedWithNext is defined right to left in HF (a delimiter joins the
        // piece after it unless that one is a delimiter too); joining the last
        // emitted delimiter with the next non-delimiter left to right is the same.
#undef EMIT
        if (p.first && c->nb > first_out) c->b[first_out].first = 1;
    }
    Span *tv = c->a; c->a = c->b; c->b = tv;
    size_t tc = c->capa; c->capa = c->capb; c->capb = tc;
    c->na = c->nb;
    return 0;
}

// Byte-level pre-tokenizer's add_prefix_space: a space before every piece that
// does not start with one.
static int prefix_space(Enc *c) {
    for (size_t k = 0; k < c->na; k++) {
        Span *p = &c->a[k];
        if (p->len && c->buf[p->off] == ' ') continue;
        size_t off = c->len;
        if (buf_append(c, " ", 1) || buf_append(c, c->buf + p->off, p->len)) return oom(c);
        p->off = (uint32_t)off;
        p->len += 1;
    }
    return 0;
}

static int metaspace(Enc *c, const TokPretok *pt) {
    for (size_t k = 0; k < c->na; k++) {
        Span *p = &c->a[k];
        size_t off = c->len;
        size_t start = p->off, n = p->len;
        int starts = n >= (size_t)pt->repl_len && !memcmp(c->buf + start, pt->repl, (size_t)pt->repl_len);
        if (!starts && n && c->buf[start] == ' ') starts = 1; // becomes the replacement below
        int pre = !starts && (pt->prepend_scheme == PREPEND_ALWAYS || (pt->prepend_scheme == PREPEND_FIRST && p->first));
        if (pre && buf_append(c, pt->repl, (size_t)pt->repl_len)) return oom(c);
        for (size_t i = 0; i < n; i++) {
            char ch = c->buf[start + i];
            if (ch == ' ' ? buf_append(c, pt->repl, (size_t)pt->repl_len) : buf_append(c, &ch, 1)) return oom(c);
        }
        p->off = (uint32_t)off;
        p->len = (uint32_t)(c->len - off);
    }
    return 0;
}

// ------------------------------------------------------------ normalizers

// Applies t's normalizers to s[0..n); returns the text in *out/*outn (either s
// itself or a malloc'd buffer stored in *owned).
static int normalize(Enc *c, const char *s, size_t n, const char **out, size_t *outn, char **owned) {
    const Tokenizer *t = c->t;
    *out = s;
    *outn = n;
    *owned = NULL;
    for (int i = 0; i < t->n_norm; i++) {
        const TokNorm *nm = &t->norm[i];
        char *nb = NULL;
        size_t nl = 0;
        const char *cur = *out;
        size_t cl = *outn;
        if (nm->kind == NORM_NFC) {
            nb = unicode_nfc(cur, cl, &nl);
        } else if (nm->kind == NORM_PREPEND) {
            if (!cl) continue; // HF: empty text gets no prefix
            nb = malloc(cl + nm->alen + 1);
            if (!nb) return oom(c);
            memcpy(nb, nm->a, nm->alen);
            memcpy(nb + nm->alen, cur, cl);
            nl = cl + nm->alen;
        } else if (nm->kind == NORM_REPLACE) {
            // Literal patterns are scanned directly; regex ones go through PCRE2.
            size_t cap = cl + 16, o = 0, pos = 0;
            nb = malloc(cap);
            if (!nb) return oom(c);
            for (;;) {
                size_t ms, me;
                if (!nm->re) {
                    const char *f = nm->alen ? memmem(cur + pos, cl - pos, nm->a, nm->alen) : NULL;
                    if (!f) break;
                    ms = (size_t)(f - cur);
                    me = ms + nm->alen;
                } else {
                    int rc = pcre2_match(nm->re, (PCRE2_SPTR)cur, cl, pos, PCRE2_NO_UTF_CHECK, c->md, c->mctx);
                    if (rc < 0) break;
                    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
                    ms = ov[0];
                    me = ov[1];
                    if (me == ms) break;
                }
                size_t need = o + (ms - pos) + nm->blen + (cl - me) + 1;
                if (need > cap) {
                    cap = need * 2;
                    char *g = realloc(nb, cap);
                    if (!g) { free(nb); return oom(c); }
                    nb = g;
                }
                memcpy(nb + o, cur + pos, ms - pos);
                o += ms - pos;
                memcpy(nb + o, nm->b, nm->blen);
                o += nm->blen;
                pos = me;
            }
            if (o + (cl - pos) + 1 > cap) {
                char *g = realloc(nb, o + (cl - pos) + 1);
                if (!g) { free(nb); return oom(c); }
                nb = g;
            }
            memcpy(nb + o, cur + pos, cl - pos);
            nl = o + (cl - pos);
        } else if (nm->kind == NORM_STRIP) {
            size_t a = 0, b = cl;
            while (nm->left && a < b) {
                int adv;
                uint32_t cp = utf8_decode((const uint8_t *)cur + a, b - a, &adv);
                if (!unicode_is_whitespace(cp)) break;
                a += (size_t)adv;
            }
            while (nm->right && b > a) {
                size_t ps;
                uint32_t cp = prev_cp(cur, b, &ps);
                if (!unicode_is_whitespace(cp)) break;
                b = ps;
            }
            nb = malloc(b - a + 1);
            if (!nb) return oom(c);
            memcpy(nb, cur + a, b - a);
            nl = b - a;
        }
        if (nb) {
            free(*owned);
            *owned = nb;
            *out = nb;
            *outn = nl;
        }
    }
    return 0;
}

// ------------------------------------------------------------ segments

// Pre-tokenizes and runs the model on s[0..n) (normalized text, no added tokens).
static int encode_text(Enc *c, const char *s, size_t n, int at_origin) {
    const Tokenizer *t = c->t;
    if (!n) return 0;
    c->len = 0;
    c->na = 0;
    if (buf_append(c, s, n)) return oom(c);
    if (span_push(&c->a, &c->na, &c->capa, (Span){0, (uint32_t)n, (uint8_t)at_origin})) return oom(c);
    for (int i = 0; i < t->n_pre; i++) {
        const TokPretok *pt = &t->pre[i];
        int rc = 0;
        if (pt->kind == PT_SPLIT) rc = split_pieces(c, pt->re, pt->behavior, pt->invert);
        else if (pt->kind == PT_BYTELEVEL) {
            if (pt->add_prefix_space) rc = prefix_space(c);
            if (!rc && pt->re) rc = split_pieces(c, pt->re, SPLIT_ISOLATED, 0);
        } else if (pt->kind == PT_METASPACE) {
            rc = metaspace(c, pt);
            if (!rc && pt->split) rc = split_pieces(c, pt->re, SPLIT_MERGED_NEXT, 0);
        }
        if (rc) return rc;
    }
    for (size_t k = 0; k < c->na; k++) {
        const char *p = c->buf + c->a[k].off;
        size_t n = c->a[k].len;
        if (t->split_at_space_mark) {
            // SentencePiece-style text without a pre-tokenizer: no token
            // contains a U+2581 after another character (checked at load),
            // so no merge crosses the start of a U+2581 run and the words
            // can go through the model (and its cache) one by one.
            size_t st = 0;
            for (size_t i = 1; i + 3 <= n; i++) {
                if (memcmp(p + i, "\xE2\x96\x81", 3) || (i >= 3 && !memcmp(p + i - 3, "\xE2\x96\x81", 3))) continue;
                if (model_cached(c, p + st, i - st)) return oom(c);
                st = i;
            }
            if (model_cached(c, p + st, n - st)) return oom(c);
        } else if (model_cached(c, p, n)) return oom(c);
    }
    return 0;
}

// One stretch of raw text between non-normalized added tokens.
static int encode_segment(Enc *c, const char *s, size_t n, int seg_start, int at_origin, int parse_special) {
    const Tokenizer *t = c->t;
    if (!n) return 0;
    const char *ns;
    size_t nn;
    char *owned = NULL;
    char *esc = NULL;
    if (normalize(c, s, n, &ns, &nn, &owned)) return -1;
    if (t->spm_escape) {
        // SentencePiece: spaces become U+2581 and a dummy U+2581 starts each segment.
        size_t cnt = 0;
        for (size_t i = 0; i < nn; i++) cnt += ns[i] == ' ';
        esc = malloc(nn + 2 * cnt + 4);
        if (!esc) { free(owned); return oom(c); }
        size_t o = 0;
        if (t->spm_prefix && seg_start) { memcpy(esc, "\xE2\x96\x81", 3); o = 3; }
        for (size_t i = 0; i < nn; i++) {
            if (ns[i] == ' ') { memcpy(esc + o, "\xE2\x96\x81", 3); o += 3; }
            else esc[o++] = ns[i];
        }
        ns = esc;
        nn = o;
    }
    int rc = 0;
    if (t->any_normalized_added) {
        size_t pos = 0, from = 0, ms, me;
        int32_t id;
        while (!rc && find_added(t, ns, nn, from, 1, &ms, &me, &id)) {
            size_t st = ms, en = me;
            if (!accept_added(c, ns, nn, pos, &st, &en, id, parse_special)) { from = me; continue; }
            rc = encode_text(c, ns + pos, st - pos, at_origin && pos == 0);
            if (!rc && tok_ids_push(&c->out, id)) rc = oom(c);
            pos = from = en;
        }
        if (!rc) rc = encode_text(c, ns + pos, nn - pos, at_origin && pos == 0);
    } else {
        rc = encode_text(c, ns, nn, at_origin);
    }
    free(owned);
    free(esc);
    return rc;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, unsigned flags, int32_t **ids, size_t *n,
               QrErr *e) {
    *ids = NULL;
    *n = 0;
    size_t rl;
    char *repaired = utf8_repair(text, len, &rl);
    if (repaired) { text = repaired; len = rl; }
    Enc *cp = enc_get();
    if (!cp) { free(repaired); return qr_fail(e, "out of memory while encoding"); }
    Enc c_ = *cp; // work on a copy; buffers (which may move) are stored back below
    Enc *c = &c_;
    c->t = t;
    c->e = e;
    c->out = (TokIds){0};
    int rc = 0;
    int parse_special = !(flags & TOK_NO_PARSE_SPECIAL);
    if (flags & TOK_ADD_SPECIAL)
        for (int i = 0; i < t->n_prefix && !rc; i++)
            if (tok_ids_push(&c->out, t->prefix_ids[i])) rc = oom(c);
    size_t pos = 0, from = 0, ms, me;
    int32_t id;
    int seg_start = 1;
    while (!rc && find_added(t, text, len, from, 0, &ms, &me, &id)) {
        size_t st = ms, en = me;
        if (!accept_added(c, text, len, pos, &st, &en, id, parse_special)) { from = me; continue; }
        if (st > pos) {
            rc = encode_segment(c, text + pos, st - pos, seg_start, pos == 0, parse_special);
            seg_start = 0;
        }
        if (!rc && tok_ids_push(&c->out, id)) rc = oom(c);
        seg_start = 1;
        pos = from = en;
    }
    if (!rc && pos < len) rc = encode_segment(c, text + pos, len - pos, seg_start, pos == 0, parse_special);
    if (flags & TOK_ADD_SPECIAL)
        for (int i = 0; i < t->n_suffix && !rc; i++)
            if (tok_ids_push(&c->out, t->suffix_ids[i])) rc = oom(c);
    if (!rc && !c->out.v && !(c->out.v = malloc(sizeof(int32_t)))) rc = oom(c);
    if (rc) free(c->out.v);
    else { *ids = c->out.v; *n = c->out.n; }
    c->out = (TokIds){0};
    c->t = NULL;
    c->e = NULL;
    *cp = c_;
    free(repaired);
    return rc;
}
