#include "attacks/scope.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "util/grow.h"

// ---- docstrings ----------------------------------------------------------------

static int is_ident(int c) { return isalnum(c) || c == '_'; }

// If a string literal (with an optional r/b/u/f prefix of up to 2 letters)
// starts at i, returns the index of its opening quote, else -1.
static long string_start(const char *t, size_t len, size_t i) {
    size_t j = i;
    while (j < len && j - i < 2 && t[j] && strchr("rRbBuUfF", t[j])) j++;
    if (j < len && (t[j] == '"' || t[j] == '\'')) return (long)j;
    if (i < len && (t[i] == '"' || t[i] == '\'')) return (long)i;
    return -1;
}

int qr_docstrings(const char *t, size_t len, QrDocstring **out, size_t *n, QrErr *e) {
    QrDocstring *v = NULL;
    size_t nv = 0, cap = 0;
    int code_on_line = 0;
    size_t i = 0;
    while (i < len) {
        char c = t[i];
        if (c == '\n') {
            code_on_line = 0;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < len && t[i] != '\n') i++;
            continue;
        }
        long q = (i == 0 || !is_ident((unsigned char)t[i - 1])) ? string_start(t, len, i) : -1;
        if (q < 0) {
            // An identifier or other code: skip the whole identifier so that a
            // name ending in r/b/u/f is not read as a string prefix.
            if (is_ident((unsigned char)c))
                while (i < len && is_ident((unsigned char)t[i])) i++;
            else i++;
            code_on_line = 1;
            continue;
        }
        size_t qs = (size_t)q;
        char quote = t[qs];
        int raw = 0;
        for (size_t k = i; k < qs; k++) raw |= t[k] == 'r' || t[k] == 'R';
        int triple = qs + 2 < len && t[qs + 1] == quote && t[qs + 2] == quote;
        size_t body = qs + (triple ? 3 : 1), k = body;
        int closed = 0;
        while (k < len) {
            if (t[k] == '\\' && !raw) {
                k += 2;
                continue;
            }
            if (!triple && t[k] == '\n') break; // unterminated one-line string: stop at the line end
            if (t[k] == quote && (!triple || (k + 2 < len && t[k + 1] == quote && t[k + 2] == quote))) {
                closed = 1;
                break;
            }
            k++;
        }
        if (k > len) k = len;
        if (triple && !code_on_line) {
            if (!closed) {
                free(v);
                return qr_fail(e, "prompt: docstring opened at byte %zu is never closed", i);
            }
            if (qr_grow((void **)&v, &cap, nv + 1, sizeof *v)) {
                free(v);
                return qr_fail(e, "out of memory");
            }
            v[nv++] = (QrDocstring){body, k, i, k + 3, quote};
        }
        code_on_line = 1;
        i = closed ? k + (triple ? 3 : 1) : k;
    }
    *out = v;
    *n = nv;
    return 0;
}

// ---- line classification ---------------------------------------------------------

static int starts_with_call(const char *s, const char *end) {
    const char *p = s;
    if (p >= end || !(isalpha((unsigned char)*p) || *p == '_')) return 0;
    while (p < end && is_ident((unsigned char)*p)) p++;
    return p < end && (*p == '(' || *p == '[');
}

static int contains(const char *s, const char *end, const char *needle) {
    size_t nl = strlen(needle);
    for (const char *p = s; p + nl <= end; p++)
        if (!memcmp(p, needle, nl)) return 1;
    return 0;
}

static int is_word_core(const char *s, const char *end);
static int lead_punct(char c);
static int trail_punct(char c);

// Chunks of the line that look like English words of two or more letters.
static int count_words(const char *s, const char *end) {
    int n = 0;
    for (const char *p = s; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *cs = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        const char *ce = p;
        while (cs < ce && lead_punct(*cs)) cs++;
        while (ce > cs && trail_punct(ce[-1])) ce--;
        n += ce - cs >= 2 && is_word_core(cs, ce);
    }
    return n;
}

static int is_code_line(const char *s, const char *end) {
    static const char *const OPS[] = {"==", "=>", "->", "!=", "<=", ">=", " = "};
    if (end - s >= 6 && !memcmp(s, "assert", 6) && (end - s == 6 || !is_ident((unsigned char)s[6]))) return 1;
    if (starts_with_call(s, end)) return 1;
    // A sentence with an equation in it ("... equation f(n) = max(...)") stays
    // prose; its code chunks are protected one by one.
    if (count_words(s, end) >= 4) return 0;
    for (size_t i = 0; i < sizeof OPS / sizeof *OPS; i++)
        if (contains(s, end, OPS[i])) return 1;
    size_t letters = 0, nonblank = 0;
    for (const char *p = s; p < end; p++) {
        if (*p == ' ' || *p == '\t') continue;
        nonblank++;
        letters += isalpha((unsigned char)*p) != 0;
    }
    return 2 * letters < nonblank;
}

// ---- chunks of a prose line ---------------------------------------------------------

static int lead_punct(char c) { return c && strchr("([{\"'", c); }
static int trail_punct(char c) { return c && strchr(".,;:!?)]}\"'", c); }

static int is_word_core(const char *s, const char *end) {
    if (s >= end || !isalpha((unsigned char)*s)) return 0;
    for (const char *p = s; p < end; p++) {
        if (isalpha((unsigned char)*p)) continue;
        if ((*p == '\'' || *p == '-') && p > s && p + 1 < end && isalpha((unsigned char)p[-1]) &&
            isalpha((unsigned char)p[1]))
            continue;
        return 0;
    }
    return 1;
}

typedef struct {
    size_t s, e; // chunk
} Chunk;

static int push_tok(QrProse *p, size_t *cap, QrProseTok t) {
    if (qr_grow((void **)&p->toks, cap, p->ntoks + 1, sizeof t)) return -1;
    p->toks[p->ntoks++] = t;
    return 0;
}

static int scan_line(const char *t, size_t ls, size_t le, uint32_t block, int first_in_block, QrProse *p,
                     size_t *cap) {
    Chunk ch[512];
    size_t nc = 0;
    for (size_t i = ls; i < le;) {
        while (i < le && (t[i] == ' ' || t[i] == '\t')) i++;
        if (i >= le) break;
        size_t s = i;
        while (i < le && t[i] != ' ' && t[i] != '\t') i++;
        if (nc < 512) ch[nc++] = (Chunk){s, i};
        else ch[nc - 1].e = i; // absurdly long line: fold the rest into the last chunk
    }
    int clause = first_in_block, comma = 0;
    for (size_t c = 0; c < nc; c++) {
        const char *s = t + ch[c].s, *e = t + ch[c].e;
        const char *o = s;
        while (o < e && (*o == '(' || *o == '[')) o++;
        QrProseTok tok = {ch[c].s, ch[c].e, block, 1, (uint8_t)clause, (uint8_t)comma};
        size_t last = c;
        if (o < e && (*o == '\'' || *o == '"' || *o == '`')) {
            // A quoted literal: find the chunk whose core ends with the same quote.
            char q = *o;
            for (size_t d = c; d < nc; d++) {
                const char *ds = d == c ? o + 1 : t + ch[d].s, *de = t + ch[d].e;
                while (de > ds && trail_punct(de[-1]) && de[-1] != q) de--;
                if (de > ds && de[-1] == q) {
                    last = d;
                    break;
                }
            }
            for (size_t d = c; d <= last; d++) {
                tok.start = ch[d].s;
                tok.end = ch[d].e;
                if (push_tok(p, cap, tok)) return -1;
                tok.clause_start = tok.comma_before = 0;
            }
        } else {
            const char *cs = s, *ce = e;
            while (cs < ce && lead_punct(*cs)) cs++;
            while (ce > cs && trail_punct(ce[-1])) ce--;
            int n = (int)(ce - cs);
            if (is_word_core(cs, ce) && !(n == 1 && *cs != 'a' && *cs != 'A' && *cs != 'I') &&
                !(n == 4 && (!memcmp(cs, "True", 4) || !memcmp(cs, "None", 4))) &&
                !(n == 5 && !memcmp(cs, "False", 5))) {
                tok.start = (size_t)(cs - t);
                tok.end = (size_t)(ce - t);
                tok.protect = 0;
            }
            if (push_tok(p, cap, tok)) return -1;
        }
        c = last;
        const char *ls_ = t + ch[c].s, *le_ = t + ch[c].e;
        clause = comma = 0;
        for (const char *x = le_; x > ls_ && trail_punct(x[-1]); x--) {
            if (strchr(".!?:;", x[-1])) clause = 1;
            if (x[-1] == ',') comma = 1;
        }
    }
    return 0;
}

void qr_prose_free(QrProse *p) {
    free(p->lines);
    free(p->toks);
    memset(p, 0, sizeof *p);
}

int qr_prose_scan(const char *t, size_t len, QrProse *p, QrErr *e) {
    memset(p, 0, sizeof *p);
    QrDocstring *ds;
    size_t nd;
    if (qr_docstrings(t, len, &ds, &nd, e)) return -1;
    size_t lcap = 0, tcap = 0;
    uint32_t block = 0;
    for (size_t d = 0; d < nd; d++) {
        int in_doctest = 0, in_block = 0;
        for (size_t ls = ds[d].start; ls <= ds[d].end;) {
            size_t le = ls;
            while (le < ds[d].end && t[le] != '\n') le++;
            size_t s = ls, en = le;
            while (s < en && (t[s] == ' ' || t[s] == '\t')) s++;
            while (en > s && (t[en - 1] == ' ' || t[en - 1] == '\t' || t[en - 1] == '\r')) en--;
            int prose = 0;
            if (s == en) in_doctest = 0;
            else if (en - s >= 3 && !memcmp(t + s, ">>>", 3)) in_doctest = 1;
            else if (!in_doctest && !is_code_line(t + s, t + en)) prose = 1;
            if (prose) {
                if (!in_block) block++;
                if (qr_grow((void **)&p->lines, &lcap, p->nlines + 1, sizeof *p->lines)) goto oom;
                p->lines[p->nlines++] = (QrProseLine){s, en, block - 1};
                if (scan_line(t, s, en, block - 1, !in_block, p, &tcap)) goto oom;
            }
            in_block = prose;
            if (le >= ds[d].end) break;
            ls = le + 1;
        }
    }
    free(ds);
    p->nblocks = block;
    return 0;
oom:
    free(ds);
    qr_prose_free(p);
    return qr_fail(e, "out of memory");
}
