// attacks/wordnet: morphy and synonym candidates against NLTK's WordNet reader on
// the same database files (tests/fixtures/attack/wordnet_nltk.tsv, written by
// tools/wordnet_fixture.py), plus errors.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/wordnet.h"

static QrWordNet *wn;

static int setup(void **st) {
    (void)st;
    QrErr e;
    if (qr_wordnet_open(&wn, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}
static int teardown(void **st) {
    (void)st;
    qr_wordnet_free(wn);
    return 0;
}

static QrWnPos pos_of(char c) {
    return c == 'n' ? QR_WN_NOUN : c == 'v' ? QR_WN_VERB : c == 'a' ? QR_WN_ADJ : QR_WN_ADV;
}

static void test_against_nltk(void **st) {
    (void)st;
    FILE *f = fopen("tests/fixtures/attack/wordnet_nltk.tsv", "r");
    assert_non_null(f);
    char line[2048];
    int rows = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        char *word = strtok(line, "\t"), *pos = strtok(NULL, "\t"), *forms = strtok(NULL, "\t"),
             *syns = strtok(NULL, "\t");
        assert_non_null(forms);
        char got[8][QR_WN_MAXWORD], joined[1024] = "";
        int n = qr_wordnet_morphy(wn, word, pos_of(pos[0]), got, 8);
        for (int i = 0; i < n; i++) {
            if (i) strcat(joined, ",");
            strcat(joined, got[i]);
        }
        if (strcmp(joined, forms)) {
            printf("  morphy(%s, %s): got '%s', NLTK '%s'\n", word, pos, joined, forms);
            bad++;
        }
        char sy[5][QR_WN_MAXWORD];
        n = qr_wordnet_synonyms(wn, word, pos_of(pos[0]), sy, 5);
        joined[0] = 0;
        for (int i = 0; i < n; i++) {
            if (i) strcat(joined, "|");
            strcat(joined, sy[i]);
        }
        if (strcmp(joined, syns ? syns : "")) {
            printf("  synonyms(%s, %s): got '%s', NLTK '%s'\n", word, pos, joined, syns ? syns : "");
            bad++;
        }
        rows++;
    }
    fclose(f);
    printf("  %d (word, pos) rows compared with NLTK, %d differences\n", rows, bad);
    assert_int_equal(rows, 945);
    assert_int_equal(bad, 0);
}

static void test_specific(void **st) {
    (void)st;
    char f[8][QR_WN_MAXWORD];
    assert_int_equal(qr_wordnet_morphy(wn, "Geese", QR_WN_NOUN, f, 8), 1); // exception list, any case
    assert_string_equal(f[0], "goose");
    assert_int_equal(qr_wordnet_morphy(wn, "xyzzyq", QR_WN_NOUN, f, 8), 0);
    assert_int_equal(qr_wordnet_morphy(wn, "quickly", QR_WN_ADV, f, 8), 1);
    QrWnCount c = qr_wordnet_count(wn, "find", QR_WN_VERB);
    assert_int_equal(c.synsets, 16);
    assert_true(c.tagged > 0);
    assert_true(qr_wordnet_is_lemma(wn, "put_up", QR_WN_VERB));
    // Multiword lemmas come back with spaces.
    char sy[40][QR_WN_MAXWORD];
    int n = qr_wordnet_synonyms(wn, "tolerate", QR_WN_VERB, sy, 40), spaced = 0;
    for (int i = 0; i < n; i++) spaced |= !strcmp(sy[i], "put up");
    assert_true(spaced);
}

static void test_missing_dir(void **st) {
    (void)st;
    QrWordNet *w;
    QrErr e;
    assert_int_equal(qr_wordnet_open(&w, "/nonexistent/wn", &e), -1);
    assert_null(w);
    assert_non_null(strstr(e.msg, "/nonexistent/wn"));
    assert_non_null(strstr(e.msg, "wordnet-base"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_nltk),
        cmocka_unit_test(test_specific),
        cmocka_unit_test(test_missing_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
