// ReCode-style optional attacks (Wang et al., "ReCode: Robustness Evaluation
// of Code Generation Models", 2022): function renaming and code formatting.
// Semantics are documented in attacks/prompt.h. Unlike ReCode, which applied
// them to "partial code" prompts, they apply to the benchmark prompt as given.
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/postag.h"
#include "attacks/prompt_internal.h"
#include "attacks/scope.h"
#include "util/grow.h"
#include "util/sbuf.h"

static int ident_char(int c) { return isalnum(c) || c == '_'; }

char *qr_rename_ident(const char *text, const char *old, const char *new_name) {
    QrSbuf b;
    qr_sb_init(&b);
    size_t ol = strlen(old);
    const char *p = text;
    while (*p) {
        const char *q = ol ? strstr(p, old) : NULL;
        if (!q) break;
        int before = q > text && ident_char((unsigned char)q[-1]), after = ident_char((unsigned char)q[ol]);
        qr_sb_putn(&b, p, (size_t)(q - p));
        if (before || after) qr_sb_putn(&b, q, ol);
        else qr_sb_puts(&b, new_name);
        p = q + ol;
    }
    qr_sb_puts(&b, p);
    return qr_sb_take(&b);
}

static int occurs_as_ident(const char *text, const char *name) {
    size_t l = strlen(name);
    for (const char *q = strstr(text, name); q; q = strstr(q + 1, name))
        if (!(q > text && ident_char((unsigned char)q[-1])) && !ident_char((unsigned char)q[l])) return 1;
    return 0;
}

// Python keywords and the builtins a renamed function must not shadow.
static const char *const RESERVED[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "abs", "all", "any",
    "bin", "bool", "chr", "dict", "dir", "divmod", "enumerate", "filter", "float", "format", "hash", "hex", "id",
    "input", "int", "isinstance", "iter", "len", "list", "map", "max", "min", "next", "object", "oct", "open",
    "ord", "pow", "print", "range", "repr", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "type",
    "zip",
};

static int valid_new_name(const char *name, const char *old, const char *prompt) {
    if (!name[0] || !(isalpha((unsigned char)name[0]) || name[0] == '_') || !strcmp(name, old)) return 0;
    for (const char *s = name; *s; s++)
        if (!ident_char((unsigned char)*s)) return 0;
    for (size_t i = 0; i < sizeof RESERVED / sizeof *RESERVED; i++)
        if (!strcmp(name, RESERVED[i])) return 0;
    return !occurs_as_ident(prompt, name);
}

// QWERTY neighbours (same row left/right, the two keys above, the two below).
static const char *neighbours(char c) {
    static const char *const N[26] = {
        "qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn", "jiolm", "kopm",
        "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy", "yhji", "cfgb", "qase", "zsdc", "tghu", "asx",
    };
    return c >= 'a' && c <= 'z' ? N[c - 'a'] : "";
}

// Splits an identifier into its word parts: snake_case at '_', camelCase at a
// lower->upper step. Writes [start, end) pairs; returns the count.
static int name_parts(const char *n, size_t (*pt)[2], int max) {
    int k = 0;
    size_t len = strlen(n);
    for (size_t i = 0; i < len && k < max;) {
        while (i < len && !isalpha((unsigned char)n[i])) i++;
        if (i >= len) break;
        size_t s = i++;
        while (i < len && isalpha((unsigned char)n[i]) && !(isupper((unsigned char)n[i]) && islower((unsigned char)n[i - 1])))
            i++;
        pt[k][0] = s;
        pt[k][1] = i;
        k++;
    }
    return k;
}

static int func_synonym(const QrAttackCfg *c, const char *old, QrRng *r, char *out, size_t cap) {
    size_t pt[16][2];
    int np = name_parts(old, pt, 16);
    char cand[16][3][QR_WN_MAXWORD];
    int ncand[16] = {0}, usable[16], nu = 0;
    for (int i = 0; i < np; i++) {
        size_t l = pt[i][1] - pt[i][0];
        char w[QR_WN_MAXWORD];
        if (l < 3 || l >= QR_WN_MAXWORD) continue;
        for (size_t j = 0; j < l; j++) w[j] = (char)tolower((unsigned char)old[pt[i][0] + j]);
        w[l] = 0;
        if (qr_is_stopword(w)) continue;
        // The part's most frequent part of speech (WordNet tagged-sense counts).
        int best = -1, bt = -1;
        for (int p = 0; p < QR_WN_NPOS; p++) {
            QrWnCount cnt = qr_wordnet_count(c->wn, w, (QrWnPos)p);
            if (cnt.synsets && cnt.tagged > bt) best = p, bt = cnt.tagged;
        }
        if (best < 0) continue;
        char syn[12][QR_WN_MAXWORD];
        int ns = qr_wordnet_synonyms(c->wn, w, (QrWnPos)best, syn, 12);
        for (int s = 0; s < ns && ncand[i] < c->max_syn; s++) {
            int ok = 1;
            for (char *q = syn[s]; *q; q++) {
                if (*q == ' ' || *q == '-') *q = '_';
                else if (!islower((unsigned char)*q)) ok = 0;
            }
            if (ok) strcpy(cand[i][ncand[i]++], syn[s]);
        }
        if (ncand[i]) usable[nu++] = i;
    }
    if (!nu) return -1;
    int i = usable[qr_rng_below(r, (uint32_t)nu)];
    const char *syn = cand[i][qr_rng_below(r, (uint32_t)ncand[i])];
    // Keep the part's case pattern: camelCase parts start with a capital.
    char rep[QR_WN_MAXWORD];
    qr_match_case(old + pt[i][0], pt[i][1] - pt[i][0], syn, rep, sizeof rep);
    snprintf(out, cap, "%.*s%s%s", (int)pt[i][0], old, rep, old + pt[i][1]);
    return 0;
}

int qr_attack_func(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e) {
    const char *old = in->entry_point;
    char nn[256] = "";
    QrRng r;
    qr_attack_rng(&r, c, in->task_id);
    size_t len = old ? strlen(old) : 0;
    if (len && len < 200) {
        strcpy(nn, old);
        if (c->kind == QR_ATTACK_FUNC_CAMEL) {
            size_t k = 0, i = 0;
            while (old[i] == '_') nn[k++] = old[i++]; // leading underscores stay
            for (int up = 0; old[i]; i++) {
                if (old[i] == '_' && old[i + 1] && old[i + 1] != '_' && k > 0) {
                    up = 1;
                    continue;
                }
                nn[k++] = up ? (char)toupper((unsigned char)old[i]) : old[i];
                up = 0;
            }
            nn[k] = 0;
        } else if (c->kind == QR_ATTACK_FUNC_SWAP) {
            uint32_t pos[200], np = 0;
            for (size_t i = 0; i + 1 < len; i++)
                if (isalpha((unsigned char)old[i]) && isalpha((unsigned char)old[i + 1]) && old[i] != old[i + 1])
                    pos[np++] = (uint32_t)i;
            if (np) {
                uint32_t j = pos[qr_rng_below(&r, np)];
                nn[j] = old[j + 1];
                nn[j + 1] = old[j];
            }
        } else if (c->kind == QR_ATTACK_FUNC_BUTTER) {
            uint32_t pos[200], np = 0;
            for (size_t i = 0; i < len; i++)
                if (isalpha((unsigned char)old[i])) pos[np++] = (uint32_t)i;
            if (np) {
                uint32_t j = pos[qr_rng_below(&r, np)];
                const char *nb = neighbours((char)tolower((unsigned char)old[j]));
                char ch = nb[qr_rng_below(&r, (uint32_t)strlen(nb))];
                nn[j] = isupper((unsigned char)old[j]) ? (char)toupper((unsigned char)ch) : ch;
            }
        } else if (c->kind == QR_ATTACK_FUNC_SYNONYM) {
            if (func_synonym(c, old, &r, nn, sizeof nn)) strcpy(nn, old);
        }
    }
    if (len && valid_new_name(nn, old, in->prompt)) {
        o->prompt = qr_rename_ident(in->prompt, old, nn);
        o->entry_point = strdup(nn);
        o->units = 1;
    } else o->prompt = strdup(in->prompt);
    if (!o->prompt || (o->units && !o->entry_point)) return qr_fail(e, "out of memory");
    return 0;
}

// ---- formatting ---------------------------------------------------------------------

static size_t line_begin(const char *t, size_t i) {
    while (i > 0 && t[i - 1] != '\n') i--;
    return i;
}

// End of the line holding position i: the index after its '\n' (or the text
// length), provided only blanks follow i on that line; else SIZE_MAX.
static size_t rest_of_line_blank(const char *t, size_t i) {
    while (t[i] == ' ' || t[i] == '\t' || t[i] == '\r') i++;
    if (t[i] == '\n') return i + 1;
    return t[i] ? SIZE_MAX : i;
}

static int doc2comments(const char *t, QrEdits *ed, int *units, QrErr *e) {
    QrDocstring *ds;
    size_t nd;
    if (qr_docstrings(t, strlen(t), &ds, &nd, e)) return -1;
    for (size_t d = 0; d < nd; d++) {
        size_t ls = line_begin(t, ds[d].qstart), le = rest_of_line_blank(t, ds[d].qend);
        if (le == SIZE_MAX) continue; // code after the closing quotes: leave it
        size_t il = ds[d].qstart - ls;
        QrSbuf b;
    qr_sb_init(&b);
        size_t nlines = 0, first = 1;
        for (size_t s = ds[d].start; s <= ds[d].end;) {
            size_t x = s;
            while (x < ds[d].end && t[x] != '\n') x++;
            size_t a = s, z = x;
            if (z - a >= il && !memcmp(t + a, t + ls, il)) a += il;
            else
                while (a < z && (t[a] == ' ' || t[a] == '\t')) a++;
            while (z > a && (t[z - 1] == ' ' || t[z - 1] == '\t' || t[z - 1] == '\r')) z--;
            int last = x >= ds[d].end;
            if (!(a == z && (first || last))) { // the empty line after """ and before the closing """ go
                if (a == z) qr_sb_putc(&b, '\n');
                else {
                    qr_sb_putn(&b, t + ls, il);
                    qr_sb_puts(&b, "# ");
                    qr_sb_putn(&b, t + a, z - a);
                    qr_sb_putc(&b, '\n');
                }
                nlines++;
            }
            first = 0;
            if (last) break;
            s = x + 1;
        }
        if (b.len && (le == 0 || t[le - 1] != '\n')) b.len--, b.s[b.len] = 0; // no newline at the end of the text
        int rc = qr_edits_add(ed, ls, le, b.s ? b.s : "", b.len);
        qr_sb_free(&b);
        if (rc) {
            free(ds);
            return qr_fail(e, "out of memory");
        }
        *units += (int)nlines;
    }
    free(ds);
    return 0;
}

int qr_attack_format(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e) {
    const char *t = in->prompt;
    size_t len = strlen(t);
    QrEdits ed = {0};
    int rc = 0;
    switch (c->kind) {
    case QR_ATTACK_FMT_TAB_INDENT:
        for (size_t ls = 0; ls < len;) {
            size_t sp = 0;
            while (t[ls + sp] == ' ') sp++;
            if (sp >= 4) {
                char tabs[64];
                size_t nt = sp / 4 < 63 ? sp / 4 : 63;
                memset(tabs, '\t', nt);
                rc |= qr_edits_add(&ed, ls, ls + nt * 4, tabs, nt);
                o->units++;
            }
            const char *nl = strchr(t + ls, '\n');
            ls = nl ? (size_t)(nl - t) + 1 : len;
        }
        break;
    case QR_ATTACK_FMT_DOC2COMMENTS:
        if (doc2comments(t, &ed, &o->units, e)) return -1;
        break;
    case QR_ATTACK_FMT_NEWLINE_AFTERCODE:
        rc = qr_edits_add(&ed, len, len, "\n", 1);
        o->units = 1;
        break;
    case QR_ATTACK_FMT_NEWLINE_AFTERDOC: {
        QrDocstring *ds;
        size_t nd;
        if (qr_docstrings(t, len, &ds, &nd, e)) return -1;
        for (size_t d = 0; d < nd; d++) {
            size_t le = rest_of_line_blank(t, ds[d].qend);
            if (le == SIZE_MAX) continue;
            rc |= qr_edits_add(&ed, le, le, le && t[le - 1] == '\n' ? "\n" : "\n\n", le && t[le - 1] == '\n' ? 1 : 2);
            o->units++;
        }
        free(ds);
        break;
    }
    case QR_ATTACK_FMT_NEWLINES: {
        QrRng r;
        qr_attack_rng(&r, c, in->task_id);
        size_t nnl = 0;
        for (size_t i = 0; i < len; i++) nnl += t[i] == '\n';
        for (size_t i = 0; i < len; i++)
            if (t[i] == '\n' && qr_rng_uniform(&r) < c->p) {
                rc |= qr_edits_add(&ed, i, i, "\n", 1);
                o->units++;
            }
        if (!o->units && nnl) { // at least one
            uint32_t k = qr_rng_below(&r, (uint32_t)nnl);
            for (size_t i = 0; i < len; i++)
                if (t[i] == '\n' && k-- == 0) {
                    rc |= qr_edits_add(&ed, i, i, "\n", 1);
                    o->units = 1;
                    break;
                }
        }
        break;
    }
    default: qr_edits_free(&ed); return qr_fail(e, "attack %s: not a formatting attack", qr_attack_name(c->kind));
    }
    if (!rc) o->prompt = qr_edits_apply(t, &ed);
    qr_edits_free(&ed);
    if (rc || !o->prompt) return qr_fail(e, "out of memory");
    return 0;
}
