// HF tokenizer.json regexes are Oniguruma patterns (Ruby syntax); PCRE2 reads
// the same syntax for everything these files use, but a few classes mean
// different sets of characters: Oniguruma knows a newer Unicode, and defines
// \s (no U+180E) and \w (Alphabetic symbols like Ⓐ and Latin-1 ² ³ ¹ ¼ ½ ¾ in,
// other No numbers out) its own way. tok_regex rewrites \s \d \w \p{..} (and
// their negations) into explicit PCRE2 classes with exactly Oniguruma's
// characters (tokenizer/onig_classes.h, measured from HF `tokenizers` itself).
#include <stdlib.h>
#include <string.h>
#include "tokenizer/onig_classes.h"
#include "tokenizer/tok_internal.h"

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static int put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->n + n + 1) * 2;
        char *g = realloc(b->p, nc);
        if (!g) return -1;
        b->p = g;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static const OnigClass *find_class(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof ONIG_CLASSES / sizeof ONIG_CLASSES[0]; i++)
        if (strlen(ONIG_CLASSES[i].name) == n && !memcmp(ONIG_CLASSES[i].name, name, n)) return &ONIG_CLASSES[i];
    return NULL;
}

// Rewrites pat; returns a malloc'd NUL-terminated pattern or NULL with e filled.
static char *translate(const char *pat, size_t len, QrErr *e, const char *field) {
    Buf b = {0};
    int in_class = 0;
    if (put(&b, "", 0)) goto oom;
    for (size_t i = 0; i < len;) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            char x = pat[i + 1];
            const char *name = NULL;
            size_t nl = 0, used = 2;
            int neg = 0;
            if (strchr("sSdDwW", x)) {
                static const char low[] = "ssddww";
                name = &low[strchr("sSdDwW", x) - "sSdDwW"];
                nl = 1;
                neg = x == 'S' || x == 'D' || x == 'W';
            } else if ((x == 'p' || x == 'P') && i + 2 < len) {
                neg = x == 'P';
                if (pat[i + 2] == '{') {
                    const char *end = memchr(pat + i + 3, '}', len - i - 3);
                    if (end) {
                        name = pat + i + 3;
                        nl = (size_t)(end - name);
                        used = (size_t)(end - (pat + i)) + 1;
                        if (nl && name[0] == '^') { neg = !neg; name++; nl--; }
                    }
                } else { name = pat + i + 2; nl = 1; used = 3; }
            } else if (x == 'Q') {
                qr_fail(e, "%s: \\Q...\\E quoting is not supported", field);
                free(b.p);
                return NULL;
            }
            const OnigClass *oc = name ? find_class(name, nl) : NULL;
            if (!oc) {
                if (put(&b, pat + i, used)) goto oom;
                i += used;
                continue;
            }
            if (in_class) {
                if (neg) {
                    qr_fail(e, "%s: a negated class escape (%.*s) inside [...] is not supported", field, (int)used, pat + i);
                    free(b.p);
                    return NULL;
                }
                if (put(&b, oc->native, strlen(oc->native)) || put(&b, oc->extra, strlen(oc->extra))) goto oom;
            } else if (put(&b, neg ? "[^" : "[", neg ? 2 : 1) || put(&b, oc->native, strlen(oc->native)) ||
                       put(&b, oc->extra, strlen(oc->extra)) || put(&b, "]", 1))
                goto oom;
            i += used;
            continue;
        }
        if (c == '\\') { if (put(&b, pat + i, 1)) goto oom; i++; continue; }
        if (!in_class && c == '[') {
            // a class starts; '^' and a leading ']' belong to it
            size_t k = i + 1;
            if (k < len && pat[k] == '^') k++;
            if (k < len && pat[k] == ']') k++;
            if (put(&b, pat + i, k - i)) goto oom;
            in_class = 1;
            i = k;
            continue;
        }
        if (in_class && c == '[' && i + 1 < len && pat[i + 1] == ':') {
            const char *end = strstr(pat + i, ":]");
            size_t k = end && (size_t)(end - pat) < len ? (size_t)(end - pat) + 2 : i + 1;
            if (put(&b, pat + i, k - i)) goto oom;
            i = k;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        if (put(&b, &c, 1)) goto oom;
        i++;
    }
    return b.p;
oom:
    free(b.p);
    qr_fail(e, "out of memory");
    return NULL;
}

pcre2_code *tok_regex(const char *pat, size_t len, QrErr *e, const char *field) {
    char *t = translate(pat, len, e, field);
    if (!t) return NULL;
    int err;
    PCRE2_SIZE off;
    // UTF + UCP: Unicode-aware matching as in Oniguruma; MULTILINE: Ruby
    // syntax (what HF uses) makes ^ and $ line anchors.
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)t, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE,
                                   &err, &off, NULL);
    free(t);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        qr_fail(e, "%s: bad regex: %s", field, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // falls back to the interpreter if JIT is unavailable
    return re;
}

pcre2_code *tok_regex_literal(const char *s, size_t len, QrErr *e, const char *field) {
    char *q = malloc(len * 4 + 1);
    if (!q) { qr_fail(e, "out of memory"); return NULL; }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) { memcpy(q + n, "\\x00", 4); n += 4; continue; }
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) q[n++] = '\\';
        q[n++] = (char)c;
    }
    pcre2_code *re = tok_regex(q, n, e, field);
    free(q);
    return re;
}
