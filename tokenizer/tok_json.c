// Hugging Face tokenizer.json (+ tokenizer_config.json). Supported, with the
// field semantics (and defaults) of the `tokenizers` library's serde:
//   model:          BPE (vocab, merges as "a b" strings or [a, b] pairs,
//                   unk_token, fuse_unk, byte_fallback, ignore_merges,
//                   continuing_subword_prefix, end_of_word_suffix; dropout
//                   must be null: it is random)
//   normalizer:     Sequence, NFC, Prepend, Replace (String or Regex), Strip
//   pre_tokenizer:  Sequence, Split (String or Regex; Isolated, Removed,
//                   MergedWithPrevious, MergedWithNext, Contiguous; invert),
//                   ByteLevel (add_prefix_space, use_regex), Digits, Metaspace
//   post_processor: TemplateProcessing, ByteLevel, RobertaProcessing,
//                   BertProcessing, Sequence
//   decoder:        ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace,
//                   Sequence
// Anything else is an error naming the field: a tokenizer that would give
// different ids is never loaded silently.
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

extern const char TOK_GPT2_REGEX[];

typedef struct {
    Tokenizer *t;
    const char *name; // file, for messages
    QrErr *e;
    // decoder chain, applied to each token's string to get its bytes
    int dec_bytelevel, dec_bytefallback, dec_metaspace;
    struct { char *a, *b; size_t al, bl; } dec_replace[4];
    int n_dec_replace;
    char dec_meta_repl[8];
    int dec_meta_len;
    int has_decoder;
    char *sbuf[2]; // scratch buffers of decode_piece
    size_t scap[2];
} Ctx;

static int fail(Ctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Ctx *c, const char *field, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qr_fail(c->e, "%s: %s: %s", c->name, field, msg);
}

// Optional boolean with a default; a non-boolean is an error.
static int get_bool(Ctx *c, json_t *o, const char *key, int dflt, const char *field, int *out) {
    json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return fail(c, field, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

static const char *get_str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *type_of(Ctx *c, json_t *o, const char *field) {
    if (!json_is_object(o)) { fail(c, field, "expected an object"); return NULL; }
    const char *ty = get_str(o, "type");
    if (!ty) fail(c, field, "missing 'type'");
    return ty;
}

// A {"String": s} or {"Regex": r} pattern compiled to a regex.
static pcre2_code *pattern(Ctx *c, json_t *o, const char *field) {
    json_t *p = json_object_get(o, "pattern");
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    if (json_is_string(s)) return tok_regex_literal(json_string_value(s), json_string_length(s), c->e, field);
    if (json_is_string(r)) return tok_regex(json_string_value(r), json_string_length(r), c->e, field);
    fail(c, field, "'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
    return NULL;
}

// ------------------------------------------------------------ normalizer

static int add_norm(Ctx *c, TokNorm n) {
    Tokenizer *t = c->t;
    TokNorm *nn = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *nn);
    if (!nn) return qr_fail(c->e, "out of memory");
    t->norm = nn;
    t->norm[t->n_norm++] = n;
    return 0;
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

static int normalizer(Ctx *c, json_t *o, const char *field) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(c, o, field);
    if (!ty) return -1;
    char sub[160];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "normalizers");
        if (!json_is_array(a)) return fail(c, field, "'normalizers' must be an array");
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
            if (normalizer(c, json_array_get(a, i), sub)) return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "NFC")) return add_norm(c, (TokNorm){.kind = NORM_NFC});
    if (!strcmp(ty, "Prepend")) {
        json_t *p = json_object_get(o, "prepend");
        if (!json_is_string(p)) return fail(c, field, "'prepend' must be a string");
        char *a = dupn(json_string_value(p), json_string_length(p));
        if (!a) return qr_fail(c->e, "out of memory");
        return add_norm(c, (TokNorm){.kind = NORM_PREPEND, .a = a, .alen = json_string_length(p)});
    }
    if (!strcmp(ty, "Replace")) {
        json_t *p = json_object_get(o, "pattern"), *content = json_object_get(o, "content");
        if (!json_is_string(content)) return fail(c, field, "'content' must be a string");
        TokNorm n = {.kind = NORM_REPLACE};
        json_t *s = json_object_get(p, "String");
        if (json_is_string(s)) {
            n.a = dupn(json_string_value(s), json_string_length(s));
            n.alen = json_string_length(s);
        } else if (!(n.re = pattern(c, o, field))) return -1;
        n.b = dupn(json_string_value(content), json_string_length(content));
        n.blen = json_string_length(content);
        if ((!n.a && !n.re) || !n.b) return qr_fail(c->e, "out of memory");
        return add_norm(c, n);
    }
    if (!strcmp(ty, "Strip")) {
        TokNorm n = {.kind = NORM_STRIP};
        if (get_bool(c, o, "strip_left", 1, field, &n.left) || get_bool(c, o, "strip_right", 1, field, &n.right))
            return -1;
        return add_norm(c, n);
    }
    return fail(c, field, "unsupported normalizer '%s' (supported: Sequence, NFC, Prepend, Replace, Strip)", ty);
}

// ------------------------------------------------------------ pre-tokenizer

static TokPretok *add_pre(Ctx *c) {
    Tokenizer *t = c->t;
    TokPretok *np = realloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *np);
    if (!np) { qr_fail(c->e, "out of memory"); return NULL; }
    t->pre = np;
    memset(&t->pre[t->n_pre], 0, sizeof *np);
    return &t->pre[t->n_pre++];
}

static int pretokenizer(Ctx *c, json_t *o, const char *field) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(c, o, field);
    if (!ty) return -1;
    Tokenizer *t = c->t;
    // Pieces are matched as raw bytes, so ByteLevel (which maps bytes to its
    // alphabet) must be the last step; nothing in use puts anything after it.
    if (t->n_pre && t->pre[t->n_pre - 1].kind == PT_BYTELEVEL && strcmp(ty, "Sequence"))
        return fail(c, field, "a pre-tokenizer after ByteLevel is not supported");
    char sub[160];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "pretokenizers");
        if (!json_is_array(a)) return fail(c, field, "'pretokenizers' must be an array");
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", field, i);
            if (pretokenizer(c, json_array_get(a, i), sub)) return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "Split")) {
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        const char *b = get_str(o, "behavior");
        int beh = 0;
        for (int i = 0; b && i < 5; i++)
            if (!strcmp(b, names[i])) beh = SPLIT_REMOVED + i;
        if (!beh) return fail(c, field, "unsupported Split behavior '%s'", b ? b : "(missing)");
        int inv;
        if (get_bool(c, o, "invert", 0, field, &inv)) return -1;
        pcre2_code *re = pattern(c, o, field);
        if (!re) return -1;
        TokPretok *p = add_pre(c);
        if (!p) { pcre2_code_free(re); return -1; }
        p->kind = PT_SPLIT;
        p->re = re;
        p->behavior = beh;
        p->invert = inv;
        return 0;
    }
    if (!strcmp(ty, "ByteLevel")) {
        int aps, ure;
        // tokenizers' serde defaults: add_prefix_space true, use_regex true.
        if (get_bool(c, o, "add_prefix_space", 1, field, &aps) || get_bool(c, o, "use_regex", 1, field, &ure))
            return -1;
        pcre2_code *re = NULL;
        if (ure && !(re = tok_regex(TOK_GPT2_REGEX, strlen(TOK_GPT2_REGEX), c->e, field))) return -1;
        TokPretok *p = add_pre(c);
        if (!p) { pcre2_code_free(re); return -1; }
        p->kind = PT_BYTELEVEL;
        p->add_prefix_space = aps;
        p->re = re;
        t->bytelevel = 1;
        return 0;
    }
    if (!strcmp(ty, "Digits")) {
        int ind;
        if (get_bool(c, o, "individual_digits", 0, field, &ind)) return -1;
        // char::is_numeric is \p{N}; individual: each one alone, else runs.
        pcre2_code *re = tok_regex("\\p{N}", 5, c->e, field);
        if (!re) return -1;
        TokPretok *p = add_pre(c);
        if (!p) { pcre2_code_free(re); return -1; }
        p->kind = PT_SPLIT;
        p->re = re;
        p->behavior = ind ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS;
        return 0;
    }
    if (!strcmp(ty, "Metaspace")) {
        const char *r = get_str(o, "replacement");
        if (!r || !*r || strlen(r) > 4 || (size_t)utf8_len((uint8_t)r[0]) != strlen(r))
            return fail(c, field, "'replacement' must be one character");
        int scheme = PREPEND_ALWAYS;
        const char *ps = get_str(o, "prepend_scheme");
        if (ps) {
            if (!strcmp(ps, "always")) scheme = PREPEND_ALWAYS;
            else if (!strcmp(ps, "first")) scheme = PREPEND_FIRST;
            else if (!strcmp(ps, "never")) scheme = PREPEND_NEVER;
            else return fail(c, field, "unsupported prepend_scheme '%s'", ps);
        } else {
            int aps;
            if (get_bool(c, o, "add_prefix_space", 1, field, &aps)) return -1;
            scheme = aps ? PREPEND_ALWAYS : PREPEND_NEVER;
        }
        int split;
        if (get_bool(c, o, "split", 1, field, &split)) return -1;
        pcre2_code *re = split ? tok_regex_literal(r, strlen(r), c->e, field) : NULL;
        if (split && !re) return -1;
        TokPretok *p = add_pre(c);
        if (!p) { pcre2_code_free(re); return -1; }
        p->kind = PT_METASPACE;
        p->prepend_scheme = scheme;
        p->split = split;
        p->re = re;
        p->repl_len = (int)strlen(r);
        memcpy(p->repl, r, (size_t)p->repl_len);
        return 0;
    }
    return fail(c, field, "unsupported pre-tokenizer '%s' (supported: Sequence, Split, ByteLevel, Digits, Metaspace)", ty);
}

// ------------------------------------------------------------ decoder

static int decoder(Ctx *c, json_t *o, const char *field, int after_fuse) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(c, o, field);
    if (!ty) return -1;
    c->has_decoder = 1;
    char sub[160];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "decoders");
        if (!json_is_array(a)) return fail(c, field, "'decoders' must be an array");
        int fused = after_fuse;
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", field, i);
            json_t *d = json_array_get(a, i);
            if (decoder(c, d, sub, fused)) return -1;
            const char *dt = get_str(d, "type");
            if (dt && !strcmp(dt, "Fuse")) fused = 1;
        }
        return 0;
    }
    if (!strcmp(ty, "ByteLevel")) { c->dec_bytelevel = 1; return 0; }
    if (!strcmp(ty, "ByteFallback")) { c->dec_bytefallback = 1; return 0; }
    if (!strcmp(ty, "Fuse")) return 0;
    if (!strcmp(ty, "Replace")) {
        json_t *p = json_object_get(o, "pattern"), *s = json_object_get(p, "String");
        json_t *content = json_object_get(o, "content");
        if (!json_is_string(s) || !json_is_string(content))
            return fail(c, field, "only {\"String\": ...} patterns with a string 'content' are supported");
        if (c->n_dec_replace == 4) return fail(c, field, "too many Replace decoders");
        int k = c->n_dec_replace++;
        c->dec_replace[k].a = dupn(json_string_value(s), json_string_length(s));
        c->dec_replace[k].al = json_string_length(s);
        c->dec_replace[k].b = dupn(json_string_value(content), json_string_length(content));
        c->dec_replace[k].bl = json_string_length(content);
        if (!c->dec_replace[k].a || !c->dec_replace[k].b) return qr_fail(c->e, "out of memory");
        return 0;
    }
    if (!strcmp(ty, "Strip")) {
        // After Fuse, Strip works on the whole text: removing the one leading
        // space SentencePiece-style encoders put at the start is all that is used.
        const char *content = get_str(o, "content");
        json_t *st = json_object_get(o, "start"), *sp = json_object_get(o, "stop");
        if (!after_fuse || !content || strcmp(content, " ") || !json_is_integer(st) || json_integer_value(st) > 1 ||
            !json_is_integer(sp) || json_integer_value(sp) != 0)
            return fail(c, field, "only Strip(content ' ', start <= 1, stop 0) after Fuse is supported");
        if (json_integer_value(st) == 1) c->t->dec_strip_space = 1;
        return 0;
    }
    if (!strcmp(ty, "Metaspace")) {
        const char *r = get_str(o, "replacement");
        if (!r || !*r || strlen(r) > 4) return fail(c, field, "'replacement' must be one character");
        c->dec_metaspace = 1;
        c->dec_meta_len = (int)strlen(r);
        memcpy(c->dec_meta_repl, r, (size_t)c->dec_meta_len);
        const char *ps = get_str(o, "prepend_scheme");
        int aps = 1;
        if (ps) aps = strcmp(ps, "never") != 0;
        else if (get_bool(c, o, "add_prefix_space", 1, field, &aps)) return -1;
        if (aps) c->t->dec_strip_space = 1;
        return 0;
    }
    return fail(c, field, "unsupported decoder '%s' (supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace)", ty);
}

// Makes room for n bytes in scratch buffer k of c.
static char *scratch(Ctx *c, int k, size_t n) {
    if (n > c->scap[k]) {
        char *g = realloc(c->sbuf[k], n * 2);
        if (!g) return NULL;
        c->sbuf[k] = g;
        c->scap[k] = n * 2;
    }
    return c->sbuf[k];
}

// The bytes the decoder chain turns token string s into (HF applies the
// chain to each token; only Strip works on the whole text, see decoder()).
// Returns a pointer into c's scratch buffers, valid until the next call.
static const char *decode_piece(Ctx *c, const char *s, size_t n, size_t *out_len) {
    int cur = 0;
    char *a = scratch(c, 0, n + 1);
    if (!a) return NULL;
    memcpy(a, s, n);
    size_t len = n;
    for (int k = 0; k < c->n_dec_replace; k++) {
        size_t al = c->dec_replace[k].al, bl = c->dec_replace[k].bl;
        if (!al || !memmem(a, len, c->dec_replace[k].a, al)) continue;
        char *b = scratch(c, !cur, len / al * bl + len + 1);
        a = c->sbuf[cur]; // scratch() may have moved only the other buffer
        if (!b) return NULL;
        size_t o = 0, i = 0;
        while (i < len) {
            if (i + al <= len && !memcmp(a + i, c->dec_replace[k].a, al)) {
                memcpy(b + o, c->dec_replace[k].b, bl);
                o += bl;
                i += al;
            } else b[o++] = a[i++];
        }
        cur = !cur;
        a = b;
        len = o;
    }
    if (c->dec_metaspace) {
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            if (i + (size_t)c->dec_meta_len <= len && !memcmp(a + i, c->dec_meta_repl, (size_t)c->dec_meta_len)) {
                a[o++] = ' ';
                i += (size_t)c->dec_meta_len;
            } else a[o++] = a[i++];
        }
        len = o;
    }
    if (c->dec_bytefallback) {
        int byte = tok_byte_token(a, len);
        if (byte >= 0) { a[0] = (char)byte; len = 1; }
    }
    if (c->dec_bytelevel) {
        // HF: a token with a character outside the alphabet is kept as is.
        char *d = scratch(c, !cur, len + 1);
        a = c->sbuf[cur];
        if (!d) return NULL;
        long m = tok_bytelevel_decode(a, len, d);
        if (m >= 0) { a = d; len = (size_t)m; }
    }
    *out_len = len;
    return a;
}

// ------------------------------------------------------------ post-processor

static int push_id(int32_t **v, int *n, int32_t id) {
    int32_t *nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    nv[(*n)++] = id;
    return 0;
}

static int post_processor(Ctx *c, json_t *o, const char *field) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(c, o, field);
    if (!ty) return -1;
    Tokenizer *t = c->t;
    char sub[160];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "processors");
        if (!json_is_array(a)) return fail(c, field, "'processors' must be an array");
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", field, i);
            if (post_processor(c, json_array_get(a, i), sub)) return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "ByteLevel")) return 0; // only adjusts offsets
    if (!strcmp(ty, "TemplateProcessing")) {
        json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
        if (!json_is_array(single)) return fail(c, field, "'single' must be an array");
        int seen_a = 0;
        for (size_t i = 0; i < json_array_size(single); i++) {
            json_t *it = json_array_get(single, i);
            json_t *sp = json_object_get(it, "SpecialToken"), *sq = json_object_get(it, "Sequence");
            if (sq) { seen_a = 1; continue; }
            const char *name = get_str(sp, "id");
            json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
            if (!name || !json_is_array(ids))
                return fail(c, field, "single[%zu]: special token '%s' not in special_tokens", i, name ? name : "?");
            for (size_t k = 0; k < json_array_size(ids); k++) {
                json_t *x = json_array_get(ids, k);
                if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= INT32_MAX)
                    return fail(c, field, "special_tokens.%s.ids: bad id", name);
                int32_t id = (int32_t)json_integer_value(x);
                if (seen_a ? push_id(&t->suffix_ids, &t->n_suffix, id) : push_id(&t->prefix_ids, &t->n_prefix, id))
                    return qr_fail(c->e, "out of memory");
            }
        }
        return 0;
    }
    if (!strcmp(ty, "RobertaProcessing") || !strcmp(ty, "BertProcessing")) {
        json_t *cls = json_object_get(o, "cls"), *sep = json_object_get(o, "sep");
        json_t *ci = json_array_get(cls, 1), *si = json_array_get(sep, 1);
        if (!json_is_integer(ci) || !json_is_integer(si)) return fail(c, field, "'cls'/'sep' must be [token, id]");
        if (push_id(&t->prefix_ids, &t->n_prefix, (int32_t)json_integer_value(ci)) ||
            push_id(&t->suffix_ids, &t->n_suffix, (int32_t)json_integer_value(si)))
            return qr_fail(c->e, "out of memory");
        return 0;
    }
    return fail(c, field, "unsupported post-processor '%s' (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)", ty);
}

// ------------------------------------------------------------ model

static int model(Ctx *c, json_t *m) {
    Tokenizer *t = c->t;
    if (!json_is_object(m)) return fail(c, "model", "expected an object");
    const char *ty = get_str(m, "type");
    // Files from before model.type existed are BPE when they have merges.
    if (!ty && json_object_get(m, "merges")) ty = "BPE";
    if (!ty || strcmp(ty, "BPE"))
        return fail(c, "model.type", "unsupported model '%s' (supported: BPE)", ty ? ty : "(missing)");
    json_t *dropout = json_object_get(m, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return fail(c, "model.dropout", "BPE dropout is random at encode time; only null is supported");
    if (get_bool(c, m, "fuse_unk", 0, "model.fuse_unk", &t->fuse_unk) ||
        get_bool(c, m, "byte_fallback", 0, "model.byte_fallback", &t->byte_fallback) ||
        get_bool(c, m, "ignore_merges", 0, "model.ignore_merges", &t->ignore_merges))
        return -1;
    const char *cp = get_str(m, "continuing_subword_prefix"), *ws = get_str(m, "end_of_word_suffix");
    if (cp && *cp && !(t->cont_prefix = strdup(cp))) return qr_fail(c->e, "out of memory");
    if (ws && *ws && !(t->word_suffix = strdup(ws))) return qr_fail(c->e, "out of memory");
    json_t *vocab = json_object_get(m, "vocab");
    if (!json_is_object(vocab)) return fail(c, "model.vocab", "expected an object of token -> id");
    // First pass: validate, collect, and find the largest id so that the
    // tables are allocated once.
    size_t nv = json_object_size(vocab);
    struct VEnt { const char *k; size_t kl; int32_t id; } *ve = malloc((nv ? nv : 1) * sizeof *ve);
    if (!ve) return qr_fail(c->e, "out of memory");
    int64_t max_id = -1;
    size_t n = 0;
    for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        json_t *val = json_object_iter_value(it);
        const char *key = json_object_iter_key(it);
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= (1 << 24)) {
            free(ve);
            return fail(c, "model.vocab", "token '%.40s' has a bad id", key);
        }
        ve[n++] = (struct VEnt){key, json_object_iter_key_len(it), (int32_t)json_integer_value(val)};
        if (json_integer_value(val) > max_id) max_id = json_integer_value(val);
    }
    if (max_id < 0) { free(ve); return fail(c, "model.vocab", "empty"); }
    if (tok_reserve(t, (int32_t)max_id + 1) || tok_map_reserve(&t->vocab, nv) || tok_map_reserve(&t->stored, nv + 1024)) {
        free(ve);
        return qr_fail(c->e, "out of memory");
    }
    // Second pass in blocks: hash and prefetch a block's map slots, then insert.
    enum { VB = 16 };
    size_t tmp_cap = 256;
    char *tmp = malloc(tmp_cap);
    int rc = tmp ? 0 : qr_fail(c->e, "out of memory");
    for (size_t i0 = 0; i0 < n && !rc; i0 += VB) {
        size_t nb = n - i0 < VB ? n - i0 : VB, tl = 0;
        uint32_t hs[VB], hv[VB], mo[VB];
        long ml[VB];
        for (size_t k = 0; k < nb; k++) {
            const struct VEnt *v = &ve[i0 + k];
            hs[k] = tok_fnv1a(v->k, v->kl);
            tok_map_prefetch(&t->stored, hs[k]);
            // The model looks pieces up as raw bytes when the vocabulary is byte-level.
            if (tl + v->kl > tmp_cap) {
                char *g = realloc(tmp, tmp_cap = (tl + v->kl) * 2 + 256);
                if (!g) { rc = qr_fail(c->e, "out of memory"); break; }
                tmp = g;
            }
            mo[k] = (uint32_t)tl;
            ml[k] = t->bytelevel ? tok_bytelevel_decode(v->k, v->kl, tmp + tl) : (memcpy(tmp + tl, v->k, v->kl), (long)v->kl);
            if (ml[k] >= 0) {
                tl += (size_t)ml[k];
                hv[k] = tok_fnv1a(tmp + mo[k], (size_t)ml[k]);
                tok_map_prefetch(&t->vocab, hv[k]);
            }
        }
        for (size_t k = 0; k < nb && !rc; k++) {
            const struct VEnt *v = &ve[i0 + k];
            if (t->tok[v->id].type != TT_NONE) { rc = fail(c, "model.vocab", "id %d is used twice", v->id); break; }
            size_t pl;
            const char *piece = decode_piece(c, v->k, v->kl, &pl);
            if (!piece || tok_set_entry(t, v->id, v->k, v->kl, piece, pl, 0.0f, TT_NORMAL, 0) ||
                tok_map_put_h(&t->stored, v->k, v->kl, hs[k], v->id) < 0 ||
                (ml[k] >= 0 && tok_map_put_h(&t->vocab, tmp + mo[k], (size_t)ml[k], hv[k], v->id) < 0))
                rc = qr_fail(c->e, "out of memory");
        }
    }
    free(tmp);
    free(ve);
    if (rc) return rc;
    const char *unk = get_str(m, "unk_token");
    if (unk) {
        t->unk_id = tok_map_get(&t->stored, unk, strlen(unk), -1);
        if (t->unk_id < 0) return fail(c, "model.unk_token", "'%.40s' is not in the vocabulary", unk);
    }
    json_t *merges = json_object_get(m, "merges");
    if (!merges || json_is_null(merges)) return 0;
    if (!json_is_array(merges)) return fail(c, "model.merges", "expected an array");
    size_t nm = json_array_size(merges);
    if (tok_merges_reserve(t, nm)) return qr_fail(c->e, "out of memory");
    // In blocks, so that the hash-table slots of a block's 3 lookups and its
    // merge-table insert are fetched from memory while earlier ones resolve
    // (this loop is most of the load time of a large vocabulary).
    enum { BLK = 16 };
    struct { const char *a, *b; size_t al, bl; uint32_t ha, hb, hc; uint32_t cat; int32_t ia, ib, ic; } q[BLK];
    size_t cat_cap = 256;
    char *cat = malloc(cat_cap);
    if (!cat) return qr_fail(c->e, "out of memory");
    for (size_t r0 = 0; r0 < nm; r0 += BLK) {
        size_t nb = nm - r0 < BLK ? nm - r0 : BLK, cat_len = 0;
        for (size_t k = 0; k < nb; k++) {
            size_t r = r0 + k;
            json_t *mg = json_array_get(merges, r);
            const char *a, *b;
            size_t al, bl;
            if (json_is_string(mg)) {
                // "left right": exactly one space (tokens cannot contain one here).
                a = json_string_value(mg);
                const char *sp = strchr(a, ' ');
                if (!sp || strchr(sp + 1, ' ')) { free(cat); return fail(c, "model.merges", "[%zu] '%.60s' is not 'left right'", r, a); }
                al = (size_t)(sp - a);
                b = sp + 1;
                bl = json_string_length(mg) - al - 1;
            } else if (json_is_array(mg) && json_array_size(mg) == 2 && json_is_string(json_array_get(mg, 0)) &&
                       json_is_string(json_array_get(mg, 1))) {
                a = json_string_value(json_array_get(mg, 0));
                al = json_string_length(json_array_get(mg, 0));
                b = json_string_value(json_array_get(mg, 1));
                bl = json_string_length(json_array_get(mg, 1));
            } else { free(cat); return fail(c, "model.merges", "[%zu] must be \"a b\" or [\"a\", \"b\"]", r); }
            if (cat_len + al + bl > cat_cap) {
                char *g = realloc(cat, cat_cap = (cat_len + al + bl) * 2 + 256);
                if (!g) { free(cat); return qr_fail(c->e, "out of memory"); }
                cat = g;
            }
            memcpy(cat + cat_len, a, al);
            memcpy(cat + cat_len + al, b, bl);
            q[k].a = a; q[k].b = b; q[k].al = al; q[k].bl = bl; q[k].cat = (uint32_t)cat_len;
            cat_len += al + bl;
            q[k].ha = tok_fnv1a(a, al);
            q[k].hb = tok_fnv1a(b, bl);
            q[k].hc = tok_fnv1a(cat + q[k].cat, al + bl);
            tok_map_prefetch(&t->stored, q[k].ha);
            tok_map_prefetch(&t->stored, q[k].hb);
            tok_map_prefetch(&t->stored, q[k].hc);
        }
        for (size_t k = 0; k < nb; k++) {
            q[k].ia = tok_map_get_h(&t->stored, q[k].a, q[k].al, q[k].ha, -1);
            q[k].ib = tok_map_get_h(&t->stored, q[k].b, q[k].bl, q[k].hb, -1);
            q[k].ic = tok_map_get_h(&t->stored, cat + q[k].cat, q[k].al + q[k].bl, q[k].hc, -1);
            if (q[k].ia < 0 || q[k].ib < 0 || q[k].ic < 0) {
                free(cat);
                return fail(c, "model.merges", "[%zu] '%.*s' + '%.*s': %s not in the vocabulary", r0 + k,
                            (int)(q[k].al > 40 ? 40 : q[k].al), q[k].a, (int)(q[k].bl > 40 ? 40 : q[k].bl), q[k].b,
                            q[k].ia < 0 ? "left token" : q[k].ib < 0 ? "right token" : "merged token");
            }
            tok_prefetch_merge(t, q[k].ia, q[k].ib);
        }
        for (size_t k = 0; k < nb; k++)
            if (tok_add_merge(t, q[k].ia, q[k].ib, (int32_t)(r0 + k), q[k].ic) < 0) { free(cat); return qr_fail(c->e, "out of memory"); }
    }
    free(cat);
    return 0;
}

// Added tokens get their ids as HF's AddedVocabulary gives them, whatever
// the "id" fields say (tokenizers warns and goes on when they differ): the
// model's id when the content is in the model's vocabulary, the id of an
// earlier added token with the same content, else the next id after the model
// vocabulary (its number of entries) and the added tokens so far.
static int added_tokens(Ctx *c, json_t *a, int32_t model_size) {
    Tokenizer *t = c->t;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return fail(c, "added_tokens", "expected an array");
    int64_t max_added = -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        json_t *id = json_object_get(o, "id"), *content = json_object_get(o, "content");
        char f[64];
        snprintf(f, sizeof f, "added_tokens[%zu]", i);
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 24) ||
            !json_is_string(content) || !json_string_length(content))
            return fail(c, f, "needs an integer 'id' and a non-empty 'content'");
        int special, lstrip, rstrip, single, normalized;
        if (get_bool(c, o, "special", 0, f, &special) || get_bool(c, o, "lstrip", 0, f, &lstrip) ||
            get_bool(c, o, "rstrip", 0, f, &rstrip) || get_bool(c, o, "single_word", 0, f, &single) ||
            get_bool(c, o, "normalized", !special, f, &normalized))
            return -1;
        int flags = TF_ADDED | (special ? TF_SPECIAL : 0) | (lstrip ? TF_LSTRIP : 0) | (rstrip ? TF_RSTRIP : 0) |
                    (single ? TF_SINGLE_WORD : 0) | (normalized ? TF_NORMALIZED : 0);
        const char *s = json_string_value(content);
        size_t sl = json_string_length(content);
        int32_t iid = tok_map_get(&t->stored, s, sl, -1);
        if (iid < 0) iid = (int32_t)(max_added >= model_size ? max_added + 1 : model_size);
        if (iid > max_added) max_added = iid;
        if (iid < t->n_vocab && t->tok[iid].type != TT_NONE && t->tok[iid].slen == sl && !memcmp(tok_str(t, iid), s, sl)) {
            // Already there (in the model's vocabulary, or added before): mark
            // it, and decode it to its content.
            t->tok[iid].flags = (uint8_t)flags;
            t->tok[iid].type = special ? TT_CONTROL : TT_USER;
            t->tok[iid].piece = t->tok[iid].str;
            t->tok[iid].plen = t->tok[iid].slen;
            continue;
        }
        // An added token decodes to its content, as llama.cpp does. (HF runs it
        // through the decoder too, which turns DeepSeek-Coder's added "ü"
        // into the byte-level byte 0xFC, i.e. invalid UTF-8: decode(encode(x))
        // would not give x back.)
        if (tok_set(t, iid, s, sl, NULL, 0, 0.0f, special ? TT_CONTROL : TT_USER, flags)) return qr_fail(c->e, "out of memory");
    }
    return 0;
}

// ------------------------------------------------------------ tokenizer_config.json

static int32_t config_token(Ctx *c, json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    const char *s = json_is_string(v) ? json_string_value(v) : get_str(v, "content");
    if (!s) return -1;
    return tok_map_get(&c->t->stored, s, strlen(s), -1);
}

static int config(Ctx *c, const char *path) {
    if (!path) return 0;
    Tokenizer *t = c->t;
    json_error_t je;
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);
    if (!cfg) return qr_fail(c->e, "%s: line %d: %s", path, je.line, je.text);
    t->bos_id = config_token(c, cfg, "bos_token");
    t->eos_id = config_token(c, cfg, "eos_token");
    // transformers' Llama/CodeLlama tokenizers rebuild the post-processor from
    // add_bos_token (default true) and add_eos_token (default false), whatever
    // tokenizer.json says (LlamaTokenizerFast.update_post_processor).
    const char *cls = get_str(cfg, "tokenizer_class");
    if (cls && (!strcmp(cls, "LlamaTokenizer") || !strcmp(cls, "LlamaTokenizerFast") ||
                !strcmp(cls, "CodeLlamaTokenizer") || !strcmp(cls, "CodeLlamaTokenizerFast"))) {
        int ab, ae;
        Ctx cc = *c;
        cc.name = path;
        if (get_bool(&cc, cfg, "add_bos_token", 1, "add_bos_token", &ab) ||
            get_bool(&cc, cfg, "add_eos_token", 0, "add_eos_token", &ae)) { json_decref(cfg); return -1; }
        t->n_prefix = t->n_suffix = 0;
        if ((ab && t->bos_id >= 0 && push_id(&t->prefix_ids, &t->n_prefix, t->bos_id)) ||
            (ae && t->eos_id >= 0 && push_id(&t->suffix_ids, &t->n_suffix, t->eos_id))) {
            json_decref(cfg);
            return qr_fail(c->e, "out of memory");
        }
    }
    json_decref(cfg);
    return 0;
}

int tok_apply_config(Tokenizer *t, const char *path, QrErr *e) {
    Ctx c = {.t = t, .name = path, .e = e};
    return config(&c, path);
}

// jansson allocates every node of the parsed tree on its own (about a million
// for a 9 MB Llama-3 file) and frees them one by one; while this thread
// parses a tokenizer.json, its nodes come from one arena instead, dropped at
// once. The allocator is per thread: other threads (and this one outside the
// parse) get malloc/free as usual, so setting it process-wide is harmless.
typedef struct ArenaChunk {
    struct ArenaChunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} ArenaChunk;

static _Thread_local ArenaChunk *tls_arena;

static void *arena_malloc(size_t n) {
    ArenaChunk *a = tls_arena;
    if (!a) return malloc(n);
    n = (n + 15) & ~(size_t)15;
    if (a->used + n > a->cap) {
        size_t cap = n > (8u << 20) ? n : (8u << 20);
        ArenaChunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a;
        c->used = 0;
        c->cap = cap;
        tls_arena = a = c;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

static void arena_free(void *p) {
    if (!p) return;
    for (ArenaChunk *a = tls_arena; a; a = a->next)
        if ((unsigned char *)p >= a->data && (unsigned char *)p < a->data + a->cap) return; // freed with the arena
    free(p);
}

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static void arena_install(void) { json_set_alloc_funcs(arena_malloc, arena_free); }

static json_t *parse_in_arena(const char *buf, size_t len, json_error_t *je, ArenaChunk **arena) {
    pthread_once(&arena_once, arena_install);
    // jansson needs about 4.5 bytes per byte of JSON (40 MB for Llama-3's 9 MB).
    size_t cap = len * 5 > (64u << 10) ? len * 5 : (64u << 10);
    ArenaChunk *a = malloc(sizeof *a + cap);
    *arena = NULL;
    if (!a) return json_loadb(buf, len, 0, je); // no arena: plain malloc (and a leak-free decref below)
    a->next = NULL;
    a->used = 0;
    a->cap = cap;
    tls_arena = a;
    json_t *root = json_loadb(buf, len, 0, je);
    *arena = tls_arena;
    tls_arena = NULL;
    return root;
}

static void arena_drop(ArenaChunk *a) {
    while (a) {
        ArenaChunk *n = a->next;
        free(a);
        a = n;
    }
}

int tok_load_json(Tokenizer *t, const char *name, const char *buf, size_t len, const char *config_path, QrErr *e) {
    json_error_t je;
    ArenaChunk *arena = NULL;
    json_t *root = parse_in_arena(buf, len, &je, &arena);
    if (!root) arena_drop(arena);
    if (!root) return qr_fail(e, "%s: not valid JSON: line %d: %s", name, je.line, je.text);
    Ctx c = {.t = t, .name = name, .e = e};
    int rc = -1;
    t->model = TOK_MODEL_BPE;
    if (!json_is_object(root)) { fail(&c, "(top level)", "expected an object"); goto done; }
    // Order matters: the pre-tokenizer says whether the vocabulary is
    // byte-level, the decoder how tokens turn into bytes, the vocabulary and
    // merges come before the added tokens that may shadow them.
    if (normalizer(&c, json_object_get(root, "normalizer"), "normalizer") ||
        pretokenizer(&c, json_object_get(root, "pre_tokenizer"), "pre_tokenizer") ||
        decoder(&c, json_object_get(root, "decoder"), "decoder", 0) ||
        model(&c, json_object_get(root, "model")) ||
        added_tokens(&c, json_object_get(root, "added_tokens"), (int32_t)json_object_size(json_object_get(json_object_get(root, "model"), "vocab"))) ||
        post_processor(&c, json_object_get(root, "post_processor"), "post_processor"))
        goto done;
    for (int i = 0; i < t->n_prefix; i++)
        if (t->prefix_ids[i] < 0 || t->prefix_ids[i] >= t->n_vocab) { fail(&c, "post_processor", "id %d not in the vocabulary", t->prefix_ids[i]); goto done; }
    for (int i = 0; i < t->n_suffix; i++)
        if (t->suffix_ids[i] < 0 || t->suffix_ids[i] >= t->n_vocab) { fail(&c, "post_processor", "id %d not in the vocabulary", t->suffix_ids[i]); goto done; }
    // BOS/EOS without a tokenizer_config.json: what the template adds.
    if (t->n_prefix) t->bos_id = t->prefix_ids[0];
    if (t->n_suffix) t->eos_id = t->suffix_ids[t->n_suffix - 1];
    if (config(&c, config_path)) goto done;
    if (t->eos_id < 0) {
        // A bare tokenizer.json says nothing about EOS: take the usual names.
        static const char *names[] = {"</s>", "<|endoftext|>", "<|end_of_text|>",
                                      "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"};
        for (size_t i = 0; i < sizeof names / sizeof names[0] && t->eos_id < 0; i++)
            t->eos_id = tok_map_get(&t->stored, names[i], strlen(names[i]), -1);
    }
    snprintf(t->desc, sizeof t->desc, "tokenizer.json BPE (%s%s), %d tokens",
             t->bytelevel ? "byte-level" : "SentencePiece-style", t->byte_fallback ? ", byte fallback" : "",
             t->n_vocab);
    rc = 0;
done:
    // Messages from shared helpers (regex compilation) name only the field.
    if (rc && strncmp(e->msg, name, strlen(name))) qr_err_prefix(e, "%s", name);
    free(c.sbuf[0]);
    free(c.sbuf[1]);
    for (int k = 0; k < c.n_dec_replace; k++) {
        free(c.dec_replace[k].a);
        free(c.dec_replace[k].b);
    }
    if (arena) arena_drop(arena); // the whole tree (json_decref would free node by node)
    else json_decref(root);
    return rc;
}
