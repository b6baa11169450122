// tokenizer/unigram.h + attacks/mbart_tok.c: the mBART-50 tokenizer against
// transformers' MBart50Tokenizer (tests/fixtures/mbart/tokenizer_ref.json,
// written by tools/make_mbart_fixtures.py): 143 texts (120 MBPP+ descriptions,
// edge cases: whitespace runs, NFKC-normalized characters, combining marks,
// emoji, unknown scripts, special-token strings in the text; German) encoded
// with their language code, and decoding with and without special tokens —
// from sentencepiece.bpe.model and from the tokenizer.json transformers saves.
// Also grapheme clusters and the SentencePiece model reader.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "attacks/mbart.h"
#include "tokenizer/unicode_gcb.h"
#include "util/fileio.h"

#define DIR "tests/fixtures/mbart/tiny"
#define REF "tests/fixtures/mbart/tokenizer_ref.json"

static json_t *load_ref(void) {
    json_error_t je;
    json_t *j = json_load_file(REF, 0, &je);
    if (!j) fail_msg("%s: %s", REF, je.text);
    return j;
}

static void check_encode_key(const MbartTok *t, const json_t *ref, const char *key, size_t min_cases) {
    const json_t *cases = json_object_get(ref, key);
    size_t i;
    const json_t *c;
    int n_ok = 0;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        const char *src = json_string_value(json_object_get(c, "src"));
        const json_t *want = json_object_get(c, "ids");
        int32_t *ids;
        size_t n;
        QrErr e;
        if (mbart_tok_encode(t, text, strlen(text), src, &ids, &n, &e)) fail_msg("%s", e.msg);
        int same = n == json_array_size(want);
        for (size_t k = 0; same && k < n; k++) same = ids[k] == json_integer_value(json_array_get(want, k));
        if (!same) {
            fprintf(stderr, "case %zu '%s': got", i, text);
            for (size_t k = 0; k < n; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, "\n  want");
            for (size_t k = 0; k < json_array_size(want); k++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(want, k)));
            fprintf(stderr, "\n");
        }
        n_ok += same;
        free(ids);
    }
    fprintf(stderr, "  %s (%s): %d/%zu encodings equal\n", t->source, key, n_ok, json_array_size(cases));
    assert_int_equal(n_ok, (int)json_array_size(cases));
    assert_true(json_array_size(cases) >= min_cases);
}

static void check_encode(const MbartTok *t, const json_t *ref) { check_encode_key(t, ref, "encode", 140); }

static void check_decode(const MbartTok *t, const json_t *ref) {
    const json_t *cases = json_object_get(ref, "decode");
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c) {
        const json_t *jids = json_object_get(c, "ids");
        size_t n = json_array_size(jids);
        int32_t *ids = malloc((n + 1) * sizeof *ids);
        for (size_t k = 0; k < n; k++) ids[k] = (int32_t)json_integer_value(json_array_get(jids, k));
        QrErr e;
        for (int skip = 0; skip < 2; skip++) {
            char *s = mbart_tok_decode(t, ids, n, skip, &e);
            if (!s) fail_msg("%s", e.msg);
            const char *want = json_string_value(json_object_get(c, skip ? "text" : "text_special"));
            if (strcmp(s, want)) fail_msg("decode case %zu (skip %d): got '%s' want '%s'", i, skip, s, want);
            free(s);
        }
        free(ids);
    }
}

static void test_spm_matches_hf(void **st) {
    (void)st;
    json_t *ref = load_ref();
    MbartTok t;
    QrErr e;
    if (mbart_tok_load(&t, DIR, &e)) fail_msg("%s", e.msg);
    assert_string_equal(t.source, "sentencepiece.bpe.model");
    assert_int_equal(t.uni->n, json_integer_value(json_object_get(ref, "vocab_size")));
    assert_int_equal(t.eos, 2);
    assert_int_equal(mbart_lang_id(&t, "en_XX"), 504);
    assert_int_equal(mbart_lang_id(&t, "de_DE"), 503);
    assert_int_equal(mbart_lang_id(&t, "xx_XX"), -1);
    assert_int_equal(qr_uni_find(t.uni, "<mask>"), 553);
    check_encode(&t, ref);
    check_decode(&t, ref);
    mbart_tok_free(&t);
    json_decref(ref);
}

static void test_tokenizer_json_matches_hf(void **st) {
    (void)st;
    json_t *ref = load_ref();
    MbartTok t;
    QrErr e;
    if (mbart_tok_load(&t, "tests/fixtures/mbart/tokenizer.json.gz", &e)) fail_msg("%s", e.msg);
    assert_string_equal(t.source, "tokenizer.json");
    assert_int_equal(t.uni->n, 554);
    check_encode(&t, ref);
    check_decode(&t, ref);
    mbart_tok_free(&t);
    json_decref(ref);
}

// The normalizer transformers 4 wrote into converted tokenizer.json files
// (Precompiled, Strip(right), Replace(" {2,}" -> "\u2581")), against the
// tokenizers library on the same file.
static void test_tokenizer_json_v4_normalizer(void **st) {
    (void)st;
    json_t *ref = load_ref();
    char *buf;
    size_t len;
    QrErr e;
    if (qr_read_file("tests/fixtures/mbart/tokenizer.json.gz", &buf, &len, &e)) fail_msg("%s", e.msg);
    json_error_t je;
    json_t *tj = json_loadb(buf, len, 0, &je);
    free(buf);
    assert_non_null(tj);
    json_object_set(tj, "normalizer", json_object_get(ref, "legacy_normalizer"));
    char dir[] = "/tmp/qrobust_mbart_tok_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(tj, path, 0), 0);
    MbartTok t;
    if (mbart_tok_load(&t, dir, &e)) fail_msg("%s", e.msg);
    assert_int_equal(t.uni->strip_right, 1);
    assert_string_equal(t.uni->collapse, "\xE2\x96\x81");
    check_encode_key(&t, ref, "encode_legacy", 25);
    mbart_tok_free(&t);
    unlink(path);
    rmdir(dir);
    json_decref(tj);
    json_decref(ref);
}

static void test_spm_reader(void **st) {
    (void)st;
    QrSpmModel m;
    QrErr e;
    if (qr_spm_read(&m, DIR "/sentencepiece.bpe.model", &e)) fail_msg("%s", e.msg);
    assert_int_equal(m.n, 500);
    assert_int_equal(m.model_type, 1);
    assert_string_equal(m.pieces[0].piece, "<unk>");
    assert_int_equal(m.pieces[0].type, 2);
    assert_string_equal(m.pieces[1].piece, "<s>");
    assert_int_equal(m.pieces[1].type, 3);
    assert_string_equal(m.pieces[3].piece, "\xE2\x96\x81");
    assert_string_equal(m.norm_name, "nmt_nfkc");
    assert_true(m.charsmap_len > 1000);
    assert_int_equal(m.unk_id, 0);
    qr_spm_free(&m);
    // Truncated / garbage input: an error naming the file, never a crash.
    static const uint8_t junk[] = {0x0A, 0x50, 0x01};
    assert_int_not_equal(qr_spm_parse(&m, junk, sizeof junk, "junk.model", &e), 0);
    assert_non_null(strstr(e.msg, "junk.model"));
}

static void test_errors(void **st) {
    (void)st;
    MbartTok t;
    QrErr e;
    assert_int_not_equal(mbart_tok_load(&t, "tests/fixtures/mbart", &e), 0);
    assert_non_null(strstr(e.msg, "no tokenizer.json or sentencepiece.bpe.model"));
    if (mbart_tok_load(&t, DIR, &e)) fail_msg("%s", e.msg);
    int32_t *ids;
    size_t n;
    assert_int_not_equal(mbart_tok_encode(&t, "x", 1, "English", &ids, &n, &e), 0);
    assert_non_null(strstr(e.msg, "English"));
    int32_t bad[] = {5, 100000};
    assert_null(mbart_tok_decode(&t, bad, 2, 1, &e));
    assert_non_null(strstr(e.msg, "100000"));
    // Invalid UTF-8 is repaired (U+FFFD, not in this vocabulary: <unk>), not rejected.
    assert_int_equal(mbart_tok_encode(&t, "a\xFF", 2, "en_XX", &ids, &n, &e), 0);
    assert_int_equal(ids[0], 504);
    assert_int_equal(ids[n - 1], 2);
    free(ids);
    mbart_tok_free(&t);
}

static size_t glen(const char *s) { return unicode_grapheme_len(s, strlen(s)); }

static void test_graphemes(void **st) {
    (void)st;
    assert_int_equal(glen("ab"), 1);
    assert_int_equal(glen("\r\nx"), 2);                                 // GB3
    assert_int_equal(glen("\n\r"), 1);                                  // GB4
    assert_int_equal(glen("e\xCC\x81\xCC\x81x"), 5);                    // e + 2 combining acutes (GB9)
    assert_int_equal(glen("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8x"), 9); // Hangul L V T (GB6-8)
    assert_int_equal(glen("\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA\xF0\x9F\x87\xA9"), 8); // RI pairs (GB12)
    // 👍🏽 (emoji + modifier), 👨‍👩 (ZWJ sequence, GB11)
    assert_int_equal(glen("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBDx"), 8);
    assert_int_equal(glen("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9x"), 11);
    // क्ष (Devanagari ka + virama + ssa: GB9c)
    assert_int_equal(glen("\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7x"), 9);
    assert_int_equal(unicode_gcb_props(0x301) & 15, GCB_EXTEND);
    assert_int_equal(unicode_gcb_props('a'), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_matches_hf), cmocka_unit_test(test_tokenizer_json_matches_hf),
        cmocka_unit_test(test_tokenizer_json_v4_normalizer),
        cmocka_unit_test(test_spm_reader),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_graphemes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
