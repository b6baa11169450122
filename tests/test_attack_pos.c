// attacks/postag: agreement of the WordNet-based part-of-speech decision with
// hand-labelled MBPP+ descriptions (tests/fixtures/attack/pos_gold.tsv).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include "attacks/postag.h"
#include "tests/attack_fixtures.h"

static void test_agreement(void **st) {
    (void)st;
    QrWordNet *wn;
    QrErr e;
    assert_int_equal(qr_wordnet_open(&wn, NULL, &e), 0);
    FxTask *tasks;
    size_t nt = fx_load("mbppplus", &tasks);
    assert_int_equal(nt, 378);
    FILE *f = fopen("tests/fixtures/attack/pos_gold.tsv", "r");
    assert_non_null(f);
    char line[4096];
    // [split][0: all non-stopwords, 1: without the template words write/python/function]
    int agree[2][2] = {{0}}, total[2][2] = {{0}}, conf[5][5] = {{0}};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        char *id = strtok(line, "\t"), *split = strtok(NULL, "\t"), *gold = strtok(NULL, "\t");
        int sp = !strcmp(split, "test");
        const FxTask *t = fx_find(tasks, nt, id);
        assert_non_null(t);
        QrProse p;
        assert_int_equal(qr_prose_scan(t->prompt, strlen(t->prompt), &p, &e), 0);
        QrTag tags[512];
        assert_true(p.ntoks < 512);
        assert_int_equal(qr_prose_tag(wn, t->prompt, &p, tags), 0);
        char *save, *wt = strtok_r(gold, " ", &save);
        for (size_t i = 0; i < p.ntoks; i++) {
            if (p.toks[i].protect) continue;
            assert_non_null(wt);
            char *slash = strrchr(wt, '/');
            size_t n = p.toks[i].end - p.toks[i].start;
            assert_int_equal((size_t)(slash - wt), n); // same words as the labeller saw
            assert_memory_equal(wt, t->prompt + p.toks[i].start, n);
            char w[64];
            for (size_t j = 0; j < n && j < 63; j++) w[j] = (char)tolower((unsigned char)wt[j]);
            w[n < 63 ? n : 63] = 0;
            if (!qr_is_stopword(w)) {
                int g = (int)(strchr("XNVAR", slash[1]) - "XNVAR"), ok = qr_tag_char(tags[i]) == slash[1];
                conf[g][tags[i]]++;
                for (int k = 0; k < 2; k++) {
                    if (k && (!strcmp(w, "write") || !strcmp(w, "python") || !strcmp(w, "function"))) continue;
                    total[sp][k]++;
                    agree[sp][k] += ok;
                }
                if (!ok) printf("  %-5s %-10s %s: gold %c, tagged %c\n", split, id, w, slash[1], qr_tag_char(tags[i]));
            }
            wt = strtok_r(NULL, " ", &save);
        }
        assert_null(wt);
        qr_prose_free(&p);
    }
    fclose(f);
    for (int s = 0; s < 2; s++)
        printf("  %s: %d/%d non-stopwords agree (%.1f%%); without write/python/function %d/%d (%.1f%%)\n",
               s ? "test" : "dev ", agree[s][0], total[s][0], 100.0 * agree[s][0] / total[s][0], agree[s][1],
               total[s][1], 100.0 * agree[s][1] / total[s][1]);
    printf("  confusion (rows gold, columns tagged: X N V A R):\n");
    for (int g = 0; g < 5; g++)
        printf("    %c %4d %4d %4d %4d %4d\n", "XNVAR"[g], conf[g][0], conf[g][1], conf[g][2], conf[g][3], conf[g][4]);
    // Floors a little under the measured figures (README): a rule change that
    // loses agreement fails here.
    assert_true(agree[0][1] * 100 >= 97 * total[0][1]);
    assert_true(agree[1][1] * 100 >= 94 * total[1][1]);
    fx_free(tasks, nt);
    qr_wordnet_free(wn);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_agreement)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
