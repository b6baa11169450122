// The study's prompt attacks (char, word, sentence), the attack registry and
// the batch driver. The ReCode-style attacks are in recode.c.
#include "attacks/prompt.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/postag.h"
#include "attacks/prompt_internal.h"
#include "attacks/rng.h"
#include "attacks/scope.h"
#include "util/grow.h"
#include "util/sbuf.h"

static const char *const NAMES[QR_ATTACK_COUNT] = {
    "none",         "char",           "word",           "sentence",
    "func-camel",   "func-swap",      "func-butter",    "func-synonym",
    "fmt-tab-indent", "fmt-doc2comments", "fmt-newline-aftercode", "fmt-newline-afterdoc",
    "fmt-newlines",
};

const char *qr_attack_name(QrAttackKind k) { return (unsigned)k < QR_ATTACK_COUNT ? NAMES[k] : "?"; }

const char *qr_attack_list(void) {
    return "none, char, word, sentence, func-camel, func-swap, func-butter, func-synonym, fmt-tab-indent, "
           "fmt-doc2comments, fmt-newline-aftercode, fmt-newline-afterdoc, fmt-newlines";
}

int qr_attack_parse(const char *name, QrAttackKind *out, QrErr *e) {
    for (int k = 0; k < QR_ATTACK_COUNT; k++)
        if (!strcmp(name, NAMES[k])) return *out = (QrAttackKind)k, 0;
    return qr_fail(e, "unknown attack '%s' (known: %s)", name, qr_attack_list());
}

int qr_attack_needs_wordnet(QrAttackKind k) { return k == QR_ATTACK_WORD || k == QR_ATTACK_FUNC_SYNONYM; }
int qr_attack_needs_translator(QrAttackKind k) { return k == QR_ATTACK_SENTENCE; }
int qr_attack_is_prose_only(QrAttackKind k) { return k <= QR_ATTACK_SENTENCE; }

void qr_attack_defaults(QrAttackCfg *c, QrAttackKind k, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->seed = seed;
    c->p = k == QR_ATTACK_CHAR ? 0.5 : k == QR_ATTACK_WORD ? 0.15 : k == QR_ATTACK_FMT_NEWLINES ? 0.1 : 0;
    c->cap = 5;
    c->max_syn = 3;
}

void qr_attack_rng(QrRng *r, const QrAttackCfg *c, const char *task_id) {
    const char *parts[2] = {qr_attack_name(c->kind), task_id};
    qr_rng_init(r, qr_key64(c->seed, parts, 2));
}

// ---- edits -----------------------------------------------------------------------

int qr_edits_add(QrEdits *ed, size_t start, size_t end, const char *rep, size_t len) {
    if (qr_grow((void **)&ed->v, &ed->cap, ed->n + 1, sizeof *ed->v)) return -1;
    char *r = malloc(len + 1);
    if (!r) return -1;
    memcpy(r, rep, len);
    r[len] = 0;
    ed->v[ed->n++] = (QrEdit){start, end, r};
    return 0;
}

void qr_edits_free(QrEdits *ed) {
    for (size_t i = 0; i < ed->n; i++) free(ed->v[i].rep);
    free(ed->v);
    memset(ed, 0, sizeof *ed);
}

static int cmp_edit(const void *a, const void *b) {
    const QrEdit *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

char *qr_edits_apply(const char *text, QrEdits *ed) {
    if (ed->n) qsort(ed->v, ed->n, sizeof *ed->v, cmp_edit);
    QrSbuf b;
    qr_sb_init(&b);
    size_t pos = 0, len = strlen(text);
    for (size_t i = 0; i < ed->n; i++) {
        if (ed->v[i].start < pos) continue; // overlapping: keep the first
        qr_sb_putn(&b, text + pos, ed->v[i].start - pos);
        qr_sb_puts(&b, ed->v[i].rep);
        pos = ed->v[i].end;
    }
    qr_sb_putn(&b, text + pos, len - pos);
    return qr_sb_take(&b);
}

// ---- char ------------------------------------------------------------------------------

static int attack_char(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e) {
    QrProse p;
    if (qr_prose_scan(in->prompt, strlen(in->prompt), &p, e)) return -1;
    size_t nc = 0, cap = 0, *cand = NULL;
    for (size_t i = 0; i < p.ntoks; i++) {
        if (p.toks[i].protect) continue;
        for (size_t j = p.toks[i].start; j < p.toks[i].end; j++)
            if (isalpha((unsigned char)in->prompt[j])) {
                if (qr_grow((void **)&cand, &cap, nc + 1, sizeof *cand)) goto oom;
                cand[nc++] = j;
            }
    }
    QrRng r;
    qr_attack_rng(&r, c, in->task_id);
    size_t k = 0;
    for (size_t i = 0; i < nc; i++) k += qr_rng_uniform(&r) < c->p;
    if (k > (size_t)c->cap) k = (size_t)c->cap;
    for (size_t i = 0; i < k; i++) { // partial Fisher-Yates: cand[0..k) is a uniform k-subset
        size_t j = i + qr_rng_below(&r, (uint32_t)(nc - i));
        size_t t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
    o->prompt = strdup(in->prompt);
    if (!o->prompt) goto oom;
    for (size_t i = 0; i < k; i++) {
        char *ch = &o->prompt[cand[i]];
        if (islower((unsigned char)*ch)) {
            *ch = (char)toupper((unsigned char)*ch);
            o->units++;
        }
    }
    free(cand);
    qr_prose_free(&p);
    return 0;
oom:
    free(cand);
    qr_prose_free(&p);
    return qr_fail(e, "out of memory");
}

// ---- word ------------------------------------------------------------------------------

// Writes syn in the case pattern of the original word w (n bytes) into out.
void qr_match_case(const char *w, size_t n, const char *syn, char *out, size_t cap) {
    int upper_all = n > 1, first_upper = isupper((unsigned char)w[0]) != 0;
    for (size_t i = 0; i < n; i++)
        if (isalpha((unsigned char)w[i]) && !isupper((unsigned char)w[i])) upper_all = 0;
    snprintf(out, cap, "%s", syn);
    if (upper_all)
        for (char *s = out; *s; s++) *s = (char)toupper((unsigned char)*s);
    else if (first_upper) out[0] = (char)toupper((unsigned char)out[0]);
}

static int attack_word(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e) {
    if (!c->wn) return qr_fail(e, "attack word: no WordNet loaded");
    QrProse p;
    if (qr_prose_scan(in->prompt, strlen(in->prompt), &p, e)) return -1;
    QrTag *tags = malloc((p.ntoks ? p.ntoks : 1) * sizeof *tags);
    QrEdits ed = {0};
    if (!tags || qr_prose_tag(c->wn, in->prompt, &p, tags)) goto oom;
    QrRng r;
    qr_attack_rng(&r, c, in->task_id);
    char(*syn)[QR_WN_MAXWORD] = malloc((size_t)(c->max_syn > 0 ? c->max_syn : 1) * QR_WN_MAXWORD);
    if (!syn) goto oom;
    for (size_t i = 0; i < p.ntoks; i++) {
        const QrProseTok *t = &p.toks[i];
        size_t n = t->end - t->start;
        if (t->protect || tags[i] == QR_TAG_X || n >= QR_WN_MAXWORD) continue;
        char w[QR_WN_MAXWORD];
        for (size_t j = 0; j < n; j++) w[j] = (char)tolower((unsigned char)in->prompt[t->start + j]);
        w[n] = 0;
        if (qr_is_stopword(w)) continue;
        int ns = qr_wordnet_synonyms(c->wn, w, qr_tag_wnpos(tags[i]), syn, c->max_syn);
        if (ns == 0) continue;
        if (qr_rng_uniform(&r) >= c->p) continue;
        char rep[QR_WN_MAXWORD];
        qr_match_case(in->prompt + t->start, n, syn[qr_rng_below(&r, (uint32_t)ns)], rep, sizeof rep);
        if (qr_edits_add(&ed, t->start, t->end, rep, strlen(rep))) {
            free(syn);
            goto oom;
        }
        o->units++;
    }
    free(syn);
    o->prompt = qr_edits_apply(in->prompt, &ed);
    if (!o->prompt) goto oom;
    qr_edits_free(&ed);
    free(tags);
    qr_prose_free(&p);
    return 0;
oom:
    qr_edits_free(&ed);
    free(tags);
    qr_prose_free(&p);
    return qr_fail(e, "out of memory");
}

// ---- sentence ----------------------------------------------------------------------------

// One paragraph to translate: its source (placeholders in place of protected
// chunks) and where it sits in its prompt.
typedef struct {
    size_t task;
    size_t start, end;     // bytes of the prompt the paragraph covers (first to last prose byte)
    size_t first_col;      // column of start in its line
    size_t width;          // longest original line of the paragraph, in bytes
    size_t cont_indent_at; // start of the 2nd line (its indentation is reused), or SIZE_MAX
    size_t cont_indent_len;
    int nlines;
    char *src;
    size_t nph, phcap;     // placeholders: QRP<k>Q stands for prompt bytes ph[k]
    struct {
        size_t start, end;
    } *ph;
} Para;

static size_t line_start(const char *t, size_t i) {
    while (i > 0 && t[i - 1] != '\n') i--;
    return i;
}

// Wraps words (split at single spaces) greedily: first line starts at column
// first_col, lines break before exceeding width, continuation lines start with
// indent. Words are never split.
static void wrap(QrSbuf *b, const char *s, size_t first_col, size_t width, const char *indent, size_t ilen) {
    size_t col = first_col;
    int first = 1;
    for (const char *p = s; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *q = p;
        while (*q && *q != ' ') q++;
        size_t wl = (size_t)(q - p);
        if (!first && col + 1 + wl > width) {
            qr_sb_putc(b, '\n');
            qr_sb_putn(b, indent, ilen);
            col = ilen;
        } else if (!first) {
            qr_sb_putc(b, ' ');
            col++;
        }
        qr_sb_putn(b, p, wl);
        col += wl;
        first = 0;
        p = q;
    }
}

// Puts the protected chunks back; -1 when a placeholder is missing or repeated.
static int restore(const char *tr, const char *prompt, const Para *pa, QrSbuf *b) {
    int *seen = calloc(pa->nph + 1, sizeof *seen);
    if (!seen) return -1;
    int rc = 0;
    for (const char *s = tr; *s;) {
        unsigned k;
        int used = 0;
        if (!strncmp(s, "QRP", 3) && sscanf(s + 3, "%uQ%n", &k, &used) == 1 && used > 1 && k < pa->nph &&
            s[3 + used - 1] == 'Q') {
            seen[k]++;
            qr_sb_putn(b, prompt + pa->ph[k].start, pa->ph[k].end - pa->ph[k].start);
            s += 3 + used;
            continue;
        }
        qr_sb_putc(b, *s++);
    }
    for (size_t k = 0; k < pa->nph && !rc; k++)
        if (seen[k] != 1) rc = -1;
    free(seen);
    return rc;
}

// Appends prompt bytes [from, to) of a paragraph to b, each line break (and the
// indentation after it) as one space.
static void add_joined(QrSbuf *b, const char *s, size_t from, size_t to) {
    for (size_t pos = from; pos < to; pos++) {
        if (s[pos] == '\n') {
            while (b->len && b->s[b->len - 1] == ' ') b->len--;
            qr_sb_putc(b, ' ');
            while (pos + 1 < to && (s[pos + 1] == ' ' || s[pos + 1] == '\t')) pos++;
        } else qr_sb_putc(b, s[pos]);
    }
}

static int attack_sentence(const QrAttackCfg *c, const QrAttackIn *in, size_t n, QrAttackOut *out, QrErr *e) {
    if (!c->tr) return qr_fail(e, "attack sentence: no translation engine");
    QrProse *pr = calloc(n ? n : 1, sizeof *pr);
    Para *pa = NULL;
    size_t np = 0, pcap = 0;
    char **srcs = NULL, **dst = NULL;
    int rc = -1;
    if (!pr) return qr_fail(e, "out of memory");
    for (size_t t = 0; t < n; t++) {
        const char *s = in[t].prompt;
        if (qr_prose_scan(s, strlen(s), &pr[t], e)) {
            qr_err_prefix(e, "%s", in[t].task_id);
            goto done;
        }
        const QrProse *p = &pr[t];
        size_t ti = 0;
        for (size_t l = 0; l < p->nlines;) {
            uint32_t blk = p->lines[l].block;
            size_t l1 = l;
            while (l1 < p->nlines && p->lines[l1].block == blk) l1++;
            if (qr_grow((void **)&pa, &pcap, np + 1, sizeof *pa)) goto oom;
            Para *a = &pa[np++];
            memset(a, 0, sizeof *a);
            a->task = t;
            a->start = p->lines[l].start;
            a->end = p->lines[l1 - 1].end;
            a->first_col = a->start - line_start(s, a->start);
            a->nlines = (int)(l1 - l);
            a->cont_indent_at = SIZE_MAX;
            for (size_t k = l; k < l1; k++) {
                size_t w = p->lines[k].end - line_start(s, p->lines[k].start);
                if (w > a->width) a->width = w;
            }
            if (l1 - l > 1) {
                a->cont_indent_at = line_start(s, p->lines[l + 1].start);
                a->cont_indent_len = p->lines[l + 1].start - a->cont_indent_at;
            }
            while (ti < p->ntoks && p->toks[ti].block < blk) ti++;
            // Source text: the lines joined by one space, each run of protected
            // chunks (separated by blanks only) as one placeholder QRP<k>Q.
            QrSbuf b;
    qr_sb_init(&b);
            size_t pos = a->start;
            for (size_t i = ti; i < p->ntoks && p->toks[i].block == blk; i++) {
                if (!p->toks[i].protect) continue;
                size_t j = i;
                while (j + 1 < p->ntoks && p->toks[j + 1].block == blk && p->toks[j + 1].protect) {
                    size_t g = p->toks[j].end;
                    while (g < p->toks[j + 1].start && (s[g] == ' ' || s[g] == '\t')) g++;
                    if (g != p->toks[j + 1].start) break;
                    j++;
                }
                add_joined(&b, s, pos, p->toks[i].start);
                if (qr_grow((void **)&a->ph, &a->phcap, a->nph + 1, sizeof *a->ph)) {
                    qr_sb_free(&b);
                    goto oom;
                }
                a->ph[a->nph].start = p->toks[i].start;
                a->ph[a->nph].end = p->toks[j].end;
                char ph[32];
                snprintf(ph, sizeof ph, "QRP%zuQ", a->nph++);
                qr_sb_puts(&b, ph);
                pos = p->toks[j].end;
                i = j;
            }
            add_joined(&b, s, pos, a->end);
            a->src = qr_sb_take(&b);
            l = l1;
        }
    }
    srcs = calloc(np ? np : 1, sizeof *srcs);
    dst = calloc(np ? np : 1, sizeof *dst);
    if (!srcs || !dst) goto oom;
    for (size_t i = 0; i < np; i++) srcs[i] = pa[i].src;
    if (np && qr_backtranslate(c->tr, (const char *const *)srcs, np, dst, e)) goto done;
    size_t i = 0;
    for (size_t t = 0; t < n; t++) {
        QrEdits ed = {0};
        for (; i < np && pa[i].task == t; i++) {
            const Para *a = &pa[i];
            QrSbuf w, r;
            qr_sb_init(&w);
            qr_sb_init(&r);
            const char *indent = a->cont_indent_at != SIZE_MAX ? in[t].prompt + a->cont_indent_at : "";
            if (a->nlines > 1) wrap(&w, dst[i], a->first_col, a->width, indent, a->cont_indent_len);
            else qr_sb_puts(&w, dst[i]);
            const char *wrapped = w.s ? w.s : "";
            int bad = restore(wrapped, in[t].prompt, a, &r) || r.len == 0;
            if (bad) out[t].failed++;
            else if (r.len != a->end - a->start || memcmp(r.s, in[t].prompt + a->start, r.len)) {
                if (qr_edits_add(&ed, a->start, a->end, r.s, r.len)) bad = -1;
                else out[t].units++;
            }
            qr_sb_free(&w);
            qr_sb_free(&r);
            if (bad < 0) {
                qr_edits_free(&ed);
                goto oom;
            }
        }
        out[t].prompt = qr_edits_apply(in[t].prompt, &ed);
        qr_edits_free(&ed);
        if (!out[t].prompt) goto oom;
    }
    rc = 0;
    goto done;
oom:
    qr_fail(e, "out of memory");
done:
    if (rc)
        for (size_t t = 0; t < n; t++) qr_attack_out_free(&out[t]);
    for (size_t k = 0; k < np; k++) {
        free(pa[k].src);
        free(pa[k].ph);
        if (dst) free(dst[k]);
    }
    free(pa);
    free(srcs);
    free(dst);
    for (size_t t = 0; t < n; t++) qr_prose_free(&pr[t]);
    free(pr);
    return rc;
}

// ---- driver -------------------------------------------------------------------------------

void qr_attack_out_free(QrAttackOut *o) {
    free(o->prompt);
    free(o->entry_point);
    memset(o, 0, sizeof *o);
}

static int attack_one(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e) {
    switch (c->kind) {
    case QR_ATTACK_NONE: return (o->prompt = strdup(in->prompt)) ? 0 : qr_fail(e, "out of memory");
    case QR_ATTACK_CHAR: return attack_char(c, in, o, e);
    case QR_ATTACK_WORD: return attack_word(c, in, o, e);
    case QR_ATTACK_FUNC_CAMEL:
    case QR_ATTACK_FUNC_SWAP:
    case QR_ATTACK_FUNC_BUTTER:
    case QR_ATTACK_FUNC_SYNONYM: return qr_attack_func(c, in, o, e);
    default: return qr_attack_format(c, in, o, e);
    }
}

int qr_attack_run(const QrAttackCfg *c, const QrAttackIn *in, size_t n, QrAttackOut *out, QrErr *e) {
    memset(out, 0, n * sizeof *out);
    if ((unsigned)c->kind >= QR_ATTACK_COUNT) return qr_fail(e, "attack: bad kind %d", (int)c->kind);
    if (qr_attack_needs_wordnet(c->kind) && !c->wn)
        return qr_fail(e, "attack %s needs WordNet", qr_attack_name(c->kind));
    if (c->kind == QR_ATTACK_SENTENCE) return attack_sentence(c, in, n, out, e);
    // Tasks are independent (their randomness is keyed by task_id), so they
    // run in parallel; the first error (in task order) is reported.
    int fail = 0;
    QrErr *errs = calloc(n ? n : 1, sizeof *errs);
    int *st = calloc(n ? n : 1, sizeof *st);
    if (!errs || !st) {
        free(errs);
        free(st);
        return qr_fail(e, "out of memory");
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < n; i++) {
        st[i] = attack_one(c, &in[i], &out[i], &errs[i]);
        if (st[i]) qr_err_prefix(&errs[i], "%s", in[i].task_id);
    }
    for (size_t i = 0; i < n && !fail; i++)
        if (st[i]) {
            *e = errs[i];
            fail = 1;
        }
    if (fail)
        for (size_t i = 0; i < n; i++) qr_attack_out_free(&out[i]);
    free(errs);
    free(st);
    return fail ? -1 : 0;
}

int qr_attack_run_with(const QrAttackCfg *c, const char *wordnet_dir, const char *translator, const QrAttackIn *in,
                       size_t n, QrAttackOut *out, char *engine, size_t elen, QrErr *e) {
    QrAttackCfg cc = *c;
    QrWordNet *wn = NULL;
    QrTranslator *tr = NULL;
    if (qr_attack_needs_wordnet(c->kind) && !cc.wn) {
        if (qr_wordnet_open(&wn, wordnet_dir, e)) return -1;
        cc.wn = wn;
    }
    if (qr_attack_needs_translator(c->kind) && !cc.tr) {
        if (qr_translator_open(translator ? translator : "apertium", &tr, e)) {
            qr_wordnet_free(wn);
            return -1;
        }
        cc.tr = tr;
    }
    if (engine && elen) {
        if (cc.tr) snprintf(engine, elen, "%s", cc.tr->name);
        else snprintf(engine, elen, "qrobust %s%s", qr_attack_name(c->kind), cc.wn ? " + WordNet 3.0" : "");
    }
    int rc = qr_attack_run(&cc, in, n, out, e);
    qr_translator_close(tr);
    qr_wordnet_free(wn);
    return rc;
}

