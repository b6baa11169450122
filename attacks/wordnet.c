#include "attacks/wordnet.h"
#include <ctype.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

static const char *POS_FILE[QR_WN_NPOS] = {"noun", "verb", "adj", "adv"};

// One hash entry per distinct lemma/inflected form. idx[p]: the rest of its
// index.<p> line after the lemma (NUL-terminated in the file buffer), exc[p]:
// the rest of its <p>.exc line (the base forms).
typedef struct {
    const char *key;
    const char *idx[QR_WN_NPOS];
    const char *exc[QR_WN_NPOS];
} Ent;

struct QrWordNet {
    char *idx_buf[QR_WN_NPOS], *exc_buf[QR_WN_NPOS];
    QrMap data[QR_WN_NPOS];
    Ent *tab;
    size_t cap, n;
};

const char *qr_wn_pos_name(QrWnPos p) { return (unsigned)p < QR_WN_NPOS ? POS_FILE[p] : "?"; }

const char *qr_wordnet_default_dir(void) {
    const char *d = getenv("QROBUST_WORDNET");
    return d && *d ? d : "/usr/share/wordnet";
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static Ent *lookup(const QrWordNet *wn, const char *key) {
    size_t mask = wn->cap - 1, i = hash_str(key) & mask;
    while (wn->tab[i].key) {
        if (!strcmp(wn->tab[i].key, key)) return &wn->tab[i];
        i = (i + 1) & mask;
    }
    return NULL;
}

static Ent *insert(QrWordNet *wn, const char *key) {
    size_t mask = wn->cap - 1, i = hash_str(key) & mask;
    while (wn->tab[i].key) {
        if (!strcmp(wn->tab[i].key, key)) return &wn->tab[i];
        i = (i + 1) & mask;
    }
    wn->tab[i].key = key;
    wn->n++;
    return &wn->tab[i];
}

// Splits buf into lines; for each line not starting with a space (the licence
// header lines do), NUL-terminates the first word and calls back with the word
// and the rest of the line.
static int for_lines(QrWordNet *wn, char *buf, int p, int exc, const char *path, QrErr *e) {
    char *s = buf;
    while (*s) {
        char *eol = strchr(s, '\n');
        if (eol) *eol = 0;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r') s[--len] = 0;
        if (len && s[0] != ' ') {
            char *sp = strchr(s, ' ');
            if (!sp) return qr_fail(e, "%s: malformed line '%.60s'", path, s);
            *sp = 0;
            if (wn->n * 2 >= wn->cap) return qr_fail(e, "%s: more entries than expected", path);
            Ent *en = insert(wn, s);
            if (exc) en->exc[p] = sp + 1;
            else en->idx[p] = sp + 1;
        }
        if (!eol) break;
        s = eol + 1;
    }
    return 0;
}

void qr_wordnet_free(QrWordNet *wn) {
    if (!wn) return;
    for (int p = 0; p < QR_WN_NPOS; p++) {
        free(wn->idx_buf[p]);
        free(wn->exc_buf[p]);
        qr_unmap(&wn->data[p]);
    }
    free(wn->tab);
    free(wn);
}

int qr_wordnet_open(QrWordNet **out, const char *dir, QrErr *e) {
    *out = NULL;
    if (!dir) dir = qr_wordnet_default_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/index.noun", dir);
    if (!qr_file_exists(path))
        return qr_fail(e, "WordNet not found in %s (no index.noun): install the Debian package wordnet-base, "
                          "or point QROBUST_WORDNET / --wordnet at a WordNet 3.0 dict directory", dir);
    QrWordNet *wn = calloc(1, sizeof *wn);
    if (!wn) return qr_fail(e, "out of memory loading WordNet");
    for (int p = 0; p < QR_WN_NPOS; p++) wn->data[p].fd = -1;
    wn->cap = 1u << 19; // 524288 slots for ~160k keys
    wn->tab = calloc(wn->cap, sizeof *wn->tab);
    if (!wn->tab) {
        free(wn);
        return qr_fail(e, "out of memory loading WordNet");
    }
    size_t len;
    for (int p = 0; p < QR_WN_NPOS; p++) {
        snprintf(path, sizeof path, "%s/index.%s", dir, POS_FILE[p]);
        if (qr_read_file(path, &wn->idx_buf[p], &len, e) || for_lines(wn, wn->idx_buf[p], p, 0, path, e)) goto fail;
        snprintf(path, sizeof path, "%s/%s.exc", dir, POS_FILE[p]);
        if (qr_read_file(path, &wn->exc_buf[p], &len, e) || for_lines(wn, wn->exc_buf[p], p, 1, path, e)) goto fail;
        snprintf(path, sizeof path, "%s/data.%s", dir, POS_FILE[p]);
        if (qr_map_file(&wn->data[p], path, e)) goto fail;
    }
    *out = wn;
    return 0;
fail:
    qr_wordnet_free(wn);
    return -1;
}

// ---- index lines ---------------------------------------------------------

// Parsed view of "pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offset..."
typedef struct {
    int synsets, tagged;
    const char *offsets; // first offset; offsets are 8-digit fields separated by spaces
} IdxLine;

static int parse_idx(const char *s, IdxLine *out) {
    char *end;
    while (*s && *s != ' ') s++; // pos letter
    long syn = strtol(s, &end, 10);
    long pc = strtol(end, &end, 10);
    for (long i = 0; i < pc; i++) {
        while (*end == ' ') end++;
        while (*end && *end != ' ') end++;
    }
    strtol(end, &end, 10); // sense_cnt (same as synset_cnt)
    long tag = strtol(end, &end, 10);
    while (*end == ' ') end++;
    out->synsets = (int)syn;
    out->tagged = (int)tag;
    out->offsets = end;
    return syn > 0 ? 0 : -1;
}

static const char *idx_of(const QrWordNet *wn, const char *form, QrWnPos pos) {
    const Ent *en = lookup(wn, form);
    return en ? en->idx[pos] : NULL;
}

int qr_wordnet_is_lemma(const QrWordNet *wn, const char *lemma, QrWnPos pos) {
    return idx_of(wn, lemma, pos) != NULL;
}

// ---- morphy ----------------------------------------------------------------

typedef struct {
    const char *old, *new;
} Rule;
static const Rule NOUN_RULES[] = {{"s", ""},     {"ses", "s"},   {"ves", "f"}, {"xes", "x"}, {"zes", "z"},
                                  {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}};
static const Rule VERB_RULES[] = {{"s", ""},  {"ies", "y"}, {"es", "e"},  {"es", ""},
                                  {"ed", "e"}, {"ed", ""},   {"ing", "e"}, {"ing", ""}};
static const Rule ADJ_RULES[] = {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}};
static const struct {
    const Rule *r;
    int n;
} RULES[QR_WN_NPOS] = {{NOUN_RULES, 9}, {VERB_RULES, 8}, {ADJ_RULES, 4}, {NULL, 0}};

#define MAXFORMS 256
typedef struct {
    char w[MAXFORMS][QR_WN_MAXWORD];
    int n;
} Forms;

static void forms_add(Forms *f, const char *s, size_t len) {
    if (f->n >= MAXFORMS || len >= QR_WN_MAXWORD) return;
    memcpy(f->w[f->n], s, len);
    f->w[f->n][len] = 0;
    f->n++;
}

static void apply_rules(const Forms *in, QrWnPos pos, Forms *out) {
    out->n = 0;
    for (int i = 0; i < in->n; i++) {
        size_t len = strlen(in->w[i]);
        for (int r = 0; r < RULES[pos].n; r++) {
            const Rule *ru = &RULES[pos].r[r];
            size_t lo = strlen(ru->old), ln = strlen(ru->new);
            if (len < lo || strcmp(in->w[i] + len - lo, ru->old)) continue;
            char tmp[QR_WN_MAXWORD];
            if (len - lo + ln >= QR_WN_MAXWORD) continue;
            memcpy(tmp, in->w[i], len - lo);
            memcpy(tmp + len - lo, ru->new, ln);
            forms_add(out, tmp, len - lo + ln);
        }
    }
}

// Keeps the forms that are lemmas of pos, without repeats; writes them to out.
static int filter_forms(const QrWordNet *wn, const Forms *f, QrWnPos pos, char out[][QR_WN_MAXWORD], int max) {
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        if (!idx_of(wn, f->w[i], pos)) continue;
        int dup = 0;
        for (int j = 0; j < n && j < max; j++) dup |= !strcmp(out[j], f->w[i]);
        if (dup) continue;
        if (n < max) strcpy(out[n], f->w[i]);
        n++;
    }
    return n < max ? n : max;
}

int qr_wordnet_morphy(const QrWordNet *wn, const char *word, QrWnPos pos, char out[][QR_WN_MAXWORD], int max) {
    size_t len = strlen(word);
    if (len == 0 || len >= QR_WN_MAXWORD || (unsigned)pos >= QR_WN_NPOS) return 0;
    static _Thread_local Forms a, b; // 24 KB each: keep them off small thread stacks
    char low[QR_WN_MAXWORD];
    for (size_t i = 0; i <= len; i++) low[i] = (char)tolower((unsigned char)word[i]);
    a.n = 0;
    forms_add(&a, low, len);
    const Ent *en = lookup(wn, low);
    if (en && en->exc[pos]) {
        for (const char *s = en->exc[pos]; *s;) {
            while (*s == ' ') s++;
            const char *t = s;
            while (*t && *t != ' ') t++;
            if (t > s) forms_add(&a, s, (size_t)(t - s));
            s = t;
        }
        return filter_forms(wn, &a, pos, out, max);
    }
    apply_rules(&a, pos, &b);
    for (int i = 0; i < b.n; i++) forms_add(&a, b.w[i], strlen(b.w[i]));
    int n = filter_forms(wn, &a, pos, out, max);
    if (n) return n;
    while (b.n) {
        apply_rules(&b, pos, &a);
        n = filter_forms(wn, &a, pos, out, max);
        if (n) return n;
        b = a;
    }
    return 0;
}

QrWnCount qr_wordnet_count(const QrWordNet *wn, const char *word, QrWnPos pos) {
    QrWnCount c = {0, 0};
    char forms[8][QR_WN_MAXWORD];
    int n = qr_wordnet_morphy(wn, word, pos, forms, 8);
    for (int i = 0; i < n; i++) {
        IdxLine il;
        if (parse_idx(idx_of(wn, forms[i], pos), &il)) continue;
        c.synsets += il.synsets;
        c.tagged += il.tagged;
    }
    return c;
}

// ---- synsets -----------------------------------------------------------------

static int same_ci(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

int qr_wordnet_synonyms(const QrWordNet *wn, const char *word, QrWnPos pos, char out[][QR_WN_MAXWORD], int max) {
    char forms[8][QR_WN_MAXWORD];
    int nf = qr_wordnet_morphy(wn, word, pos, forms, 8), n = 0;
    // Shortest base form first (stable): the lemma NLTK's WordNetLemmatizer
    // would choose, so "numbers" gives the senses of "number" before those of
    // "Numbers" (the book of the Bible).
    for (int i = 1; i < nf; i++)
        for (int j = i; j > 0 && strlen(forms[j]) < strlen(forms[j - 1]); j--) {
            char t[QR_WN_MAXWORD];
            strcpy(t, forms[j]);
            strcpy(forms[j], forms[j - 1]);
            strcpy(forms[j - 1], t);
        }
    const QrMap *dm = &wn->data[pos];
    for (int f = 0; f < nf && n < max; f++) {
        IdxLine il;
        if (parse_idx(idx_of(wn, forms[f], pos), &il)) continue;
        const char *o = il.offsets;
        for (int k = 0; k < il.synsets && n < max; k++) {
            char *end;
            unsigned long off = strtoul(o, &end, 10);
            if (end == o) break;
            o = end;
            if (off + 20 >= dm->size) continue;
            // "offset lex_filenum ss_type w_cnt(hex) word lex_id(hex) [word lex_id]..."
            const char *s = (const char *)dm->data + off;
            strtoul(s, &end, 10);
            strtoul(end, &end, 10);
            while (*end == ' ') end++;
            end++; // ss_type
            unsigned long wc = strtoul(end, &end, 16);
            const char *lim = (const char *)dm->data + dm->size;
            for (unsigned long w = 0; w < wc && n < max; w++) {
                while (end < lim && *end == ' ') end++;
                const char *ws = end;
                while (end < lim && *end != ' ' && *end != '\n') end++;
                size_t wl = (size_t)(end - ws);
                while (end < lim && *end == ' ') end++;
                while (end < lim && *end != ' ' && *end != '\n') end++; // lex_id
                if (wl == 0 || wl >= QR_WN_MAXWORD) continue;
                char name[QR_WN_MAXWORD];
                memcpy(name, ws, wl);
                name[wl] = 0;
                char *par = strchr(name, '(');
                if (par && par > name) *par = 0; // adjective marker "(a)", "(p)", "(ip)"
                int self = same_ci(name, word);
                for (int j = 0; j < nf; j++) self |= same_ci(name, forms[j]);
                for (char *c = name; *c; c++)
                    if (*c == '_') *c = ' ';
                for (int j = 0; j < n; j++) self |= same_ci(name, out[j]);
                if (self) continue;
                strcpy(out[n++], name);
            }
        }
    }
    return n;
}
