// Prompt attacks: scope on specific prompts, exact outputs on fixed prompts and
// seeds (tests/fixtures/attack/expected.jsonl), invariants over all 164
// HumanEval and 378 MBPP+ prompts for every attack, determinism, translation
// engines (Apertium present or not, mBART slot), the Apertium round trip over
// all MBPP+ descriptions when Apertium is installed.
//
// QROBUST_REGEN_EXPECTED=1 rewrites expected.jsonl from the current code (then
// review the diff by eye: it is the specification of the exact outputs).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "attacks/postag.h"
#include "attacks/prompt.h"
#include "attacks/scope.h"
#include "tests/attack_fixtures.h"
#include "util/timer.h"

static QrWordNet *wn;
static FxTask *he, *mb;
static size_t nhe, nmb;

static int setup(void **st) {
    (void)st;
    QrErr e;
    if (qr_wordnet_open(&wn, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    nhe = fx_load("humaneval", &he);
    nmb = fx_load("mbppplus", &mb);
    return nhe == 164 && nmb == 378 ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    qr_wordnet_free(wn);
    fx_free(he, nhe);
    fx_free(mb, nmb);
    return 0;
}

// ---- fake translation engines ------------------------------------------------------------

// en -> "xx": every word that is not a placeholder is reversed; "xx" -> en:
// reversed back, and the words " and more so" appended, so that paragraphs come
// back longer than they went (re-wrapping is exercised). lossy: the placeholder
// QRP0Q is dropped on the way back.
typedef struct {
    QrTranslator base;
    int lossy;
} Fake;

static int fake_translate(QrTranslator *t, const char *src, const char *dst, const char *const *in, size_t n,
                          char **out, QrErr *e) {
    (void)e;
    int back = !strcmp(dst, "en");
    (void)src;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(in[i]);
        char *o = malloc(l + 32);
        memcpy(o, in[i], l + 1);
        for (char *w = o; *w;) {
            while (*w == ' ') w++;
            char *z = w;
            while (*z && *z != ' ') z++;
            if (strncmp(w, "QRP", 3))
                for (char *a = w, *b = z - 1; a < b; a++, b--) {
                    char c = *a;
                    *a = *b;
                    *b = c;
                }
            w = z;
        }
        if (back) {
            strcat(o, " and more so");
            char *p = ((Fake *)t)->lossy ? strstr(o, "QRP0Q") : NULL;
            if (p) memmove(p, p + 5, strlen(p + 5) + 1);
        }
        out[i] = o;
    }
    return 0;
}

static void fake_close(QrTranslator *t) { (void)t; }

static Fake fake_engine(int lossy) {
    Fake f = {{"fake (tests)", "xx", fake_translate, fake_close}, lossy};
    return f;
}

// ---- helpers -----------------------------------------------------------------------------

static QrAttackOut run1(QrAttackKind k, uint64_t seed, QrTranslator *tr, const FxTask *t) {
    QrAttackCfg c;
    qr_attack_defaults(&c, k, seed);
    c.wn = wn;
    c.tr = tr;
    QrAttackIn in = {t->task_id, t->prompt, t->entry_point};
    QrAttackOut o;
    QrErr e;
    if (qr_attack_run(&c, &in, 1, &o, &e)) fail_msg("%s %s: %s", qr_attack_name(k), t->task_id, e.msg);
    return o;
}

static QrAttackOut *run_all(QrAttackKind k, uint64_t seed, QrTranslator *tr, const FxTask *v, size_t n) {
    QrAttackCfg c;
    qr_attack_defaults(&c, k, seed);
    c.wn = wn;
    c.tr = tr;
    QrAttackIn *in = calloc(n, sizeof *in);
    QrAttackOut *o = calloc(n, sizeof *o);
    for (size_t i = 0; i < n; i++) in[i] = (QrAttackIn){v[i].task_id, v[i].prompt, v[i].entry_point};
    QrErr e;
    if (qr_attack_run(&c, in, n, o, &e)) fail_msg("%s: %s", qr_attack_name(k), e.msg);
    free(in);
    return o;
}

static void free_all(QrAttackOut *o, size_t n) {
    for (size_t i = 0; i < n; i++) qr_attack_out_free(&o[i]);
    free(o);
}

// ---- scope -------------------------------------------------------------------------------

static char *span(const char *s, size_t a, size_t b) { return strndup(s + a, b - a); }

static void test_scope_examples(void **st) {
    (void)st;
    QrErr e;
    QrProse p;
    const FxTask *t = fx_find(mb, nmb, "Mbpp/2");
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    assert_int_equal(p.nlines, 1); // the description only, never the assert
    char *s = span(t->prompt, p.lines[0].start, p.lines[0].end);
    assert_string_equal(s, "Write a function to find the shared elements from the given two lists.");
    free(s);
    assert_int_equal(p.ntoks, 13);
    assert_int_equal(p.toks[0].clause_start, 1);
    qr_prose_free(&p);

    t = fx_find(he, nhe, "HumanEval/0");
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    assert_int_equal(p.nlines, 2);
    assert_int_equal(p.nblocks, 1);
    s = span(t->prompt, p.lines[0].start, p.lines[1].end);
    assert_string_equal(s, "Check if in given list of numbers, are any two numbers closer to each other than\n"
                           "    given threshold.");
    free(s);
    qr_prose_free(&p);

    // Quoted literals, identifiers, numbers, True/False/None and one-letter
    // variables are protected.
    const struct {
        const char *id, *chunk;
    } prot[] = {{"Mbpp/93", "'a'"},        {"Mbpp/93", "'b'."},       {"Mbpp/722", "(student_height,"},
                {"Mbpp/239", "m"},         {"HumanEval/3", "True."},  {"HumanEval/32", "find_zero"},
                {"HumanEval/5", "`numbers'"}, {"Mbpp/4", "n"}};
    for (size_t i = 0; i < sizeof prot / sizeof *prot; i++) {
        t = fx_find(strncmp(prot[i].id, "Mbpp", 4) ? he : mb, strncmp(prot[i].id, "Mbpp", 4) ? nhe : nmb, prot[i].id);
        assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
        int found = 0;
        for (size_t k = 0; k < p.ntoks; k++) {
            size_t l = p.toks[k].end - p.toks[k].start;
            if (l == strlen(prot[i].chunk) && !memcmp(t->prompt + p.toks[k].start, prot[i].chunk, l))
                found = p.toks[k].protect ? 1 : -1;
        }
        if (found != 1) fail_msg("%s: chunk %s %s", prot[i].id, prot[i].chunk, found ? "not protected" : "not found");
        qr_prose_free(&p);
    }
    // HumanEval/64's FIX = """...""" is a string in code, not a docstring;
    // HumanEval/46's "fib4(0) -> 0" lines are code.
    t = fx_find(he, nhe, "HumanEval/64");
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    for (size_t l = 0; l < p.nlines; l++) assert_true(p.lines[l].start > (size_t)(strstr(t->prompt, "def ") - t->prompt));
    qr_prose_free(&p);
    t = fx_find(he, nhe, "HumanEval/46");
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    for (size_t l = 0; l < p.nlines; l++) assert_null(memchr(t->prompt + p.lines[l].start, '>', p.lines[l].end - p.lines[l].start));
    qr_prose_free(&p);
    // An unclosed docstring is an error naming the byte.
    assert_int_equal(qr_prose_scan("def f():\n    \"\"\"open", 19, &p, &e), -1);
    assert_non_null(strstr(e.msg, "never closed"));
}

// ---- exact outputs ------------------------------------------------------------------------

static const char *const EXACT_TASKS[] = {"Mbpp/2",      "Mbpp/9",      "Mbpp/93",      "Mbpp/722",
                                          "HumanEval/0", "HumanEval/2", "HumanEval/38", "HumanEval/81"};

static void test_exact_outputs(void **st) {
    (void)st;
    const char *path = "tests/fixtures/attack/expected.jsonl";
    int regen = getenv("QROBUST_REGEN_EXPECTED") != NULL;
    QrTranslator *ap = NULL;
    QrErr e;
    if (qr_translator_open("apertium", &ap, &e)) ap = NULL;
    json_t *want = NULL;
    if (!regen) {
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        want = json_array();
        char line[65536];
        while (fgets(line, sizeof line, f)) json_array_append_new(want, json_loads(line, 0, NULL));
        fclose(f);
    }
    FILE *out = regen ? fopen(path, "w") : NULL;
    size_t idx = 0, checked = 0, skipped = 0;
    for (int k = QR_ATTACK_CHAR; k < QR_ATTACK_COUNT; k++)
        for (uint64_t seed = 0; seed < (k == QR_ATTACK_CHAR || k == QR_ATTACK_WORD ? 2u : 1u); seed++)
            for (size_t ti = 0; ti < sizeof EXACT_TASKS / sizeof *EXACT_TASKS; ti++) {
                const char *id = EXACT_TASKS[ti];
                const FxTask *t = fx_find(strncmp(id, "Mbpp", 4) ? he : mb, strncmp(id, "Mbpp", 4) ? nhe : nmb, id);
                int sentence = k == QR_ATTACK_SENTENCE;
                if (regen) {
                    if (sentence && !ap) continue;
                    QrAttackOut o = run1((QrAttackKind)k, seed * 7, ap, t);
                    json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s?}", "attack", qr_attack_name(k), "seed",
                                          (json_int_t)(seed * 7), "task_id", id, "prompt", o.prompt, "entry_point",
                                          o.entry_point, "engine", sentence ? ap->name : NULL);
                    char *d = json_dumps(j, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
                    fprintf(out, "%s\n", d);
                    free(d);
                    json_decref(j);
                    qr_attack_out_free(&o);
                    continue;
                }
                if (sentence) {
                    // Exact Apertium output is checked only against the engine version it was recorded with.
                    json_t *w = NULL;
                    for (size_t x = 0; x < json_array_size(want); x++) {
                        json_t *c = json_array_get(want, x);
                        if (!strcmp(json_string_value(json_object_get(c, "attack")), "sentence") &&
                            !strcmp(json_string_value(json_object_get(c, "task_id")), id))
                            w = c;
                    }
                    assert_non_null(w);
                    idx++;
                    if (!ap || strcmp(ap->name, json_string_value(json_object_get(w, "engine")))) {
                        skipped++;
                        continue;
                    }
                    QrAttackOut o = run1(QR_ATTACK_SENTENCE, 0, ap, t);
                    assert_string_equal(o.prompt, json_string_value(json_object_get(w, "prompt")));
                    qr_attack_out_free(&o);
                    checked++;
                    continue;
                }
                json_t *w = json_array_get(want, idx++);
                assert_non_null(w);
                assert_string_equal(json_string_value(json_object_get(w, "attack")), qr_attack_name(k));
                assert_string_equal(json_string_value(json_object_get(w, "task_id")), id);
                QrAttackOut o = run1((QrAttackKind)k, (uint64_t)json_integer_value(json_object_get(w, "seed")), NULL, t);
                if (strcmp(o.prompt, json_string_value(json_object_get(w, "prompt"))))
                    fail_msg("%s seed %lld %s:\n--- got\n%s--- want\n%s", qr_attack_name(k),
                             (long long)json_integer_value(json_object_get(w, "seed")), id, o.prompt,
                             json_string_value(json_object_get(w, "prompt")));
                const char *ep = json_string_value(json_object_get(w, "entry_point"));
                if (ep) assert_string_equal(o.entry_point, ep);
                else assert_null(o.entry_point);
                qr_attack_out_free(&o);
                checked++;
            }
    if (regen) {
        fclose(out);
        printf("  wrote %s\n", path);
    } else {
        printf("  %zu exact outputs checked, %zu Apertium ones skipped (%s)\n", checked, skipped,
               ap ? "other Apertium version" : "Apertium not installed");
        assert_int_equal(idx, json_array_size(want));
        json_decref(want);
    }
    qr_translator_close(ap);
}

// ---- invariants over every prompt ------------------------------------------------------------

// Byte ranges of the original prompt the attack may not change, and the words it may.
static void check_char(const FxTask *t, const char *att, int cap) {
    QrProse p;
    QrErr e;
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    size_t n = strlen(t->prompt);
    assert_int_equal(strlen(att), n);
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (att[i] == t->prompt[i]) continue;
        int inword = 0;
        for (size_t k = 0; k < p.ntoks; k++) inword |= !p.toks[k].protect && p.toks[k].start <= i && i < p.toks[k].end;
        if (!inword || !islower((unsigned char)t->prompt[i]) || att[i] != toupper((unsigned char)t->prompt[i]))
            fail_msg("%s: byte %zu '%c' -> '%c' outside a prose word or not to uppercase", t->task_id, i, t->prompt[i], att[i]);
        changed++;
    }
    assert_true(changed <= cap);
    qr_prose_free(&p);
}

// Walks the original and the attacked prompt together: bytes outside the prose
// words must be equal; each word is itself or a WordNet synonym of its part of
// speech among the first max_syn candidates (a multiword synonym can make
// several readings possible, so this backtracks). Returns the words replaced,
// or -1 when no reading fits.
typedef struct {
    const char *o, *att;
    const QrProse *p;
    const QrTag *tags;
    int max_syn;
    const char *why;
} WordCheck;

static int match_from(WordCheck *c, size_t k, size_t i, size_t j) {
    const QrProse *p = c->p;
    const char *o = c->o;
    while (k < p->ntoks && p->toks[k].protect) k++;
    size_t seg_end = k < p->ntoks ? p->toks[k].start : strlen(o);
    if (strncmp(o + i, c->att + j, seg_end - i)) return -1;
    j += seg_end - i;
    if (k == p->ntoks) return c->att[j] ? -1 : 0;
    size_t wl = p->toks[k].end - p->toks[k].start;
    char w[QR_WN_MAXWORD] = "", syn[64][QR_WN_MAXWORD];
    for (size_t x = 0; x < wl && x < QR_WN_MAXWORD - 1; x++) w[x] = (char)tolower((unsigned char)o[p->toks[k].start + x]);
    if (!strncmp(c->att + j, o + p->toks[k].start, wl)) {
        int r = match_from(c, k + 1, p->toks[k].end, j + wl);
        if (r >= 0) return r;
    }
    int ns = c->tags[k] == QR_TAG_X ? 0 : qr_wordnet_synonyms(wn, w, qr_tag_wnpos(c->tags[k]), syn, 64);
    for (int s = 0; s < ns; s++) {
        size_t sl = strlen(syn[s]);
        if (strncasecmp(c->att + j, syn[s], sl)) continue;
        int r = match_from(c, k + 1, p->toks[k].end, j + sl);
        if (r < 0) continue;
        if (s >= c->max_syn) c->why = "a synonym beyond the first max_syn";
        else if (qr_is_stopword(w)) c->why = "a stopword replaced";
        else {
            char lem[QR_WN_MAXWORD];
            for (size_t x = 0; x <= sl; x++) lem[x] = syn[s][x] == ' ' ? '_' : (char)tolower((unsigned char)syn[s][x]);
            if (!qr_wordnet_is_lemma(wn, lem, qr_tag_wnpos(c->tags[k]))) c->why = "not a lemma of the part of speech";
        }
        return r + 1;
    }
    return -1;
}

static int check_word(const FxTask *t, const char *att, int max_syn) {
    QrProse p;
    QrErr e;
    assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
    QrTag *tags = calloc(p.ntoks + 1, sizeof *tags);
    assert_int_equal(qr_prose_tag(wn, t->prompt, &p, tags), 0);
    WordCheck c = {t->prompt, att, &p, tags, max_syn, NULL};
    int r = match_from(&c, 0, 0, 0);
    if (r < 0) fail_msg("%s: the attacked prompt is not the original with synonyms in prose words:\n%s", t->task_id, att);
    if (c.why) fail_msg("%s: %s", t->task_id, c.why);
    free(tags);
    qr_prose_free(&p);
    return r;
}

// Sentence attacks rewrite whole paragraphs: the non-prose lines must all be
// there, whole and in order; the text before the first and after the last
// paragraph is unchanged; every protected chunk survives, in order.
static void check_sentence(const FxTask *t, const char *att) {
    QrProse p;
    QrErr e;
    const char *o = t->prompt;
    assert_int_equal(qr_prose_scan(o, strlen(o), &p, &e), 0);
    if (p.nlines == 0) {
        assert_string_equal(att, o);
        qr_prose_free(&p);
        return;
    }
    size_t first = p.lines[0].start, last = p.lines[p.nlines - 1].end, tail = strlen(o) - last;
    assert_memory_equal(att, o, first);
    assert_true(strlen(att) >= tail);
    assert_string_equal(att + strlen(att) - tail, o + last);
    const char *pos = att;
    for (const char *l = o; *l;) { // code lines, in order
        const char *le = strchr(l, '\n');
        size_t ll = le ? (size_t)(le - l) : strlen(l);
        int prose = 0;
        for (size_t k = 0; k < p.nlines; k++) prose |= p.lines[k].start >= (size_t)(l - o) && p.lines[k].start <= (size_t)(l - o) + ll;
        if (!prose && ll > 0) {
            const char *f = pos;
            for (;;) {
                const char *m = memmem(f, strlen(f), l, ll);
                if (!m) fail_msg("%s: code line '%.*s' lost", t->task_id, (int)ll, l);
                if ((m == att || m[-1] == '\n') && (m[ll] == '\n' || m[ll] == 0)) {
                    pos = m + ll;
                    break;
                }
                f = m + 1;
            }
        }
        if (!le) break;
        l = le + 1;
    }
    pos = att;
    for (size_t k = 0; k < p.ntoks; k++) {
        if (!p.toks[k].protect) continue;
        size_t l = p.toks[k].end - p.toks[k].start;
        const char *m = memmem(pos, strlen(pos), o + p.toks[k].start, l);
        if (!m) fail_msg("%s: protected '%.*s' lost", t->task_id, (int)l, o + p.toks[k].start);
        pos = m + l;
    }
    qr_prose_free(&p);
}

// MBPP+: the 4-line layout with only the description line changed.
static void check_mbpp_layout(const FxTask *t, const char *att) {
    const char *o = t->prompt;
    const char *o1 = strchr(o, '\n') + 1, *o2 = strchr(o1, '\n') + 1;
    const char *a1 = strchr(att, '\n'), *a2;
    assert_non_null(a1);
    a1++;
    a2 = strchr(a1, '\n');
    assert_non_null(a2);
    a2++;
    assert_memory_equal(att, o, (size_t)(o1 - o));
    assert_string_equal(a2, o2); // the assert line, the closing quotes and the final newline
}

static void test_invariants_all(void **st) {
    (void)st;
    Fake fk = fake_engine(0);
    QrTranslator *ap = NULL;
    QrErr e;
    if (qr_translator_open("apertium", &ap, &e)) ap = NULL;
    const struct {
        FxTask *v;
        size_t n;
    } sets[2] = {{he, nhe}, {mb, nmb}};
    for (int s = 0; s < 2; s++) {
        for (int k = QR_ATTACK_CHAR; k <= QR_ATTACK_SENTENCE; k++)
            for (int eng = 0; eng < (k == QR_ATTACK_SENTENCE ? 2 : 1); eng++) {
                QrTranslator *tr = k != QR_ATTACK_SENTENCE ? NULL : eng ? ap : &fk.base;
                if (k == QR_ATTACK_SENTENCE && !tr) continue;
                QrAttackOut *o = run_all((QrAttackKind)k, 0, tr, sets[s].v, sets[s].n);
                size_t changed = 0, units = 0;
                for (size_t i = 0; i < sets[s].n; i++) {
                    const FxTask *t = &sets[s].v[i];
                    changed += strcmp(o[i].prompt, t->prompt) != 0;
                    units += (size_t)o[i].units;
                    if (k == QR_ATTACK_CHAR) check_char(t, o[i].prompt, 5);
                    if (k == QR_ATTACK_WORD) assert_int_equal(check_word(t, o[i].prompt, 3), o[i].units);
                    if (k == QR_ATTACK_SENTENCE) check_sentence(t, o[i].prompt);
                    if (s == 1) check_mbpp_layout(t, o[i].prompt);
                    assert_null(o[i].entry_point);
                }
                printf("  %-9s %-8s %-10s %3zu/%zu prompts changed, %zu units\n", qr_attack_name(k),
                       s ? "MBPP+" : "HumanEval", tr ? (tr == ap ? "apertium" : "fake") : "", changed, sets[s].n, units);
                assert_true(changed > sets[s].n / 2);
                free_all(o, sets[s].n);
            }
    }
    qr_translator_close(ap);
}

// func-*: the entry point is renamed everywhere, as a whole identifier; fmt-*:
// the prompt's code is the same modulo the formatting.
static void test_recode_all(void **st) {
    (void)st;
    const struct {
        FxTask *v;
        size_t n;
    } sets[2] = {{he, nhe}, {mb, nmb}};
    for (int s = 0; s < 2; s++)
        for (int k = QR_ATTACK_FUNC_CAMEL; k < QR_ATTACK_COUNT; k++) {
            QrAttackOut *o = run_all((QrAttackKind)k, 0, NULL, sets[s].v, sets[s].n);
            size_t changed = 0;
            for (size_t i = 0; i < sets[s].n; i++) {
                const FxTask *t = &sets[s].v[i];
                changed += strcmp(o[i].prompt, t->prompt) != 0;
                if (k <= QR_ATTACK_FUNC_SYNONYM) {
                    if (!o[i].entry_point) {
                        assert_string_equal(o[i].prompt, t->prompt);
                        continue;
                    }
                    assert_string_not_equal(o[i].entry_point, t->entry_point);
                    char *back = qr_rename_ident(o[i].prompt, o[i].entry_point, t->entry_point);
                    assert_string_equal(back, t->prompt); // a pure rename
                    free(back);
                } else if (k == QR_ATTACK_FMT_TAB_INDENT) {
                    char *back = strdup(o[i].prompt), *b = malloc(strlen(t->prompt) + 1), *q = b;
                    for (char *c = back; *c; c++) {
                        if (*c == '\t') {
                            memcpy(q, "    ", 4);
                            q += 4;
                        } else *q++ = *c;
                    }
                    *q = 0;
                    assert_string_equal(b, t->prompt);
                    free(back);
                    free(b);
                } else if (k == QR_ATTACK_FMT_NEWLINES || k == QR_ATTACK_FMT_NEWLINE_AFTERCODE ||
                           k == QR_ATTACK_FMT_NEWLINE_AFTERDOC) {
                    // Only line breaks were added.
                    const char *a = o[i].prompt, *b = t->prompt;
                    while (*a)
                        if (*a == *b) a++, b++;
                        else assert_int_equal(*a++, '\n');
                    assert_int_equal(*b, 0);
                } else if (k == QR_ATTACK_FMT_DOC2COMMENTS) {
                    QrDocstring *ds;
                    size_t nd;
                    QrErr e;
                    assert_int_equal(qr_docstrings(o[i].prompt, strlen(o[i].prompt), &ds, &nd, &e), 0);
                    assert_int_equal(nd, 0); // no docstring left (HumanEval/64's FIX string is code)
                    free(ds);
                }
            }
            printf("  %-22s %-9s %3zu/%zu prompts changed\n", qr_attack_name(k), s ? "MBPP+" : "HumanEval", changed, sets[s].n);
            if (k != QR_ATTACK_FMT_TAB_INDENT || s == 0) assert_true(changed > sets[s].n / 2);
            free_all(o, sets[s].n);
        }
}

// ---- determinism -------------------------------------------------------------------------

static void test_determinism(void **st) {
    (void)st;
    for (int k = QR_ATTACK_CHAR; k < QR_ATTACK_COUNT; k++) {
        if (k == QR_ATTACK_SENTENCE) continue;
        omp_set_num_threads(1);
        QrAttackOut *a = run_all((QrAttackKind)k, 5, NULL, he, nhe);
        omp_set_num_threads(4);
        QrAttackOut *b = run_all((QrAttackKind)k, 5, NULL, he, nhe);
        QrAttackOut *c = run_all((QrAttackKind)k, 6, NULL, he, nhe);
        size_t differ = 0;
        for (size_t i = 0; i < nhe; i++) {
            assert_string_equal(a[i].prompt, b[i].prompt);
            differ += strcmp(a[i].prompt, c[i].prompt) != 0;
        }
        // One task alone, taken from the middle, reproduces its batch result.
        QrAttackOut one = run1((QrAttackKind)k, 5, NULL, &he[77]);
        assert_string_equal(one.prompt, a[77].prompt);
        qr_attack_out_free(&one);
        if (k == QR_ATTACK_CHAR || k == QR_ATTACK_WORD || k == QR_ATTACK_FUNC_SWAP || k == QR_ATTACK_FMT_NEWLINES)
            assert_true(differ > nhe / 4); // another seed, other perturbations
        free_all(a, nhe);
        free_all(b, nhe);
        free_all(c, nhe);
    }
    omp_set_num_threads(omp_get_num_procs());
}

// ---- translation engines ---------------------------------------------------------------------

static void test_engines(void **st) {
    (void)st;
    QrTranslator *t;
    QrErr e;
    char *old = getenv("QROBUST_APERTIUM") ? strdup(getenv("QROBUST_APERTIUM")) : NULL;
    setenv("QROBUST_APERTIUM", "/nonexistent/apertium", 1);
    assert_int_equal(qr_translator_open("apertium", &t, &e), -1);
    assert_null(t);
    assert_non_null(strstr(e.msg, "Apertium is not installed"));
    assert_non_null(strstr(e.msg, "apertium-eng-spa"));
    if (old) setenv("QROBUST_APERTIUM", old, 1);
    else unsetenv("QROBUST_APERTIUM");
    free(old);
    assert_int_equal(qr_translator_open("mbart:/models/mbart-large-50", &t, &e), -1);
    assert_non_null(strstr(e.msg, "not a directory"));
    assert_non_null(strstr(e.msg, "/models/mbart-large-50"));
    assert_int_equal(qr_translator_open("", &t, &e), -1);
    // The attack without an engine, and with one that loses a placeholder: the
    // paragraph with the protected chunk stays as it was, counted as failed.
    QrAttackCfg c;
    qr_attack_defaults(&c, QR_ATTACK_SENTENCE, 0);
    const FxTask *tk = fx_find(mb, nmb, "Mbpp/93");
    QrAttackIn in = {tk->task_id, tk->prompt, tk->entry_point};
    QrAttackOut o;
    assert_int_equal(qr_attack_run(&c, &in, 1, &o, &e), -1);
    assert_non_null(strstr(e.msg, "no translation engine"));
    Fake lossy = fake_engine(1);
    c.tr = &lossy.base;
    assert_int_equal(qr_attack_run(&c, &in, 1, &o, &e), 0);
    assert_string_equal(o.prompt, tk->prompt);
    assert_int_equal(o.failed, 1);
    qr_attack_out_free(&o);
    // The fake engine's output, re-wrapped: HumanEval/0's paragraph keeps its
    // first-line position and the continuation indentation.
    Fake fk = fake_engine(0);
    QrAttackOut f = run1(QR_ATTACK_SENTENCE, 0, &fk.base, fx_find(he, nhe, "HumanEval/0"));
    assert_non_null(strstr(f.prompt, "    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n"
                                     "    given threshold. and more so\n    >>> has_close_elements("));
    qr_attack_out_free(&f);
    // qr_attack_run_with opens what the attack needs and names the engine.
    char engine[256];
    qr_attack_defaults(&c, QR_ATTACK_WORD, 0);
    assert_int_equal(qr_attack_run_with(&c, NULL, NULL, &in, 1, &o, engine, sizeof engine, &e), 0);
    assert_string_equal(engine, "qrobust word + WordNet 3.0");
    qr_attack_out_free(&o);
    assert_int_equal(qr_attack_run_with(&c, "/nonexistent/wn", NULL, &in, 1, &o, engine, sizeof engine, &e), -1);
    assert_non_null(strstr(e.msg, "wordnet-base"));
    qr_attack_defaults(&c, QR_ATTACK_SENTENCE, 0);
    assert_int_equal(qr_attack_run_with(&c, NULL, "mbart:/x", &in, 1, &o, engine, sizeof engine, &e), -1);
    assert_non_null(strstr(e.msg, "not a directory"));
}

static void test_apertium_mbpp(void **st) {
    (void)st;
    QrTranslator *ap;
    QrErr e;
    if (qr_translator_open("apertium", &ap, &e)) {
        printf("  Apertium not available (%s): skipped\n", e.msg);
        skip();
    }
    double t0 = qr_now();
    QrAttackOut *o = run_all(QR_ATTACK_SENTENCE, 0, ap, mb, nmb);
    double secs = qr_now() - t0;
    size_t changed = 0, failed = 0;
    for (size_t i = 0; i < nmb; i++) {
        changed += strcmp(o[i].prompt, mb[i].prompt) != 0;
        failed += (size_t)o[i].failed;
    }
    printf("  Apertium round trip of all %zu MBPP+ descriptions: %.2f s, %zu changed, %zu kept (placeholder lost); %s\n",
           nmb, secs, changed, failed, ap->name);
    assert_true(changed > nmb * 3 / 4);
    free_all(o, nmb);
    qr_translator_close(ap);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_examples), cmocka_unit_test(test_exact_outputs),
        cmocka_unit_test(test_invariants_all), cmocka_unit_test(test_recode_all),
        cmocka_unit_test(test_determinism),    cmocka_unit_test(test_engines),
        cmocka_unit_test(test_apertium_mbpp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
