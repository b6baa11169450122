// tokenizer/unicode.c against Python's unicodedata / codecs
// (tests/fixtures/tok/unicode.json.gz, tools/tok_unicode_ref.py): NFC of every
// canonically decomposable character, its decomposition, and 4000 random mixes
// of starters, combining marks and Hangul; UTF-8 repair exactly as
// bytes.decode("utf-8", "replace") on 3000 byte strings around every boundary
// case; the byte-level alphabet is a bijection.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/unicode.h"
#include "util/fileio.h"

static json_t *ref;

static int setup(void **st) {
    (void)st;
    char *buf;
    size_t len;
    QrErr e;
    if (qr_read_file("tests/fixtures/tok/unicode.json.gz", &buf, &len, &e)) return -1;
    ref = json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
    free(buf);
    return ref ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    json_decref(ref);
    return 0;
}

static void test_nfc(void **st) {
    (void)st;
    json_t *cases = json_object_get(ref, "nfc");
    assert_true(json_array_size(cases) > 6000);
    size_t bad = 0, changed = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *in = json_array_get(json_array_get(cases, i), 0), *want = json_array_get(json_array_get(cases, i), 1);
        size_t n;
        char *got = unicode_nfc(json_string_value(in), json_string_length(in), &n);
        const char *g = got ? got : json_string_value(in);
        size_t gl = got ? n : json_string_length(in);
        if (got) changed++;
        if (gl != json_string_length(want) || memcmp(g, json_string_value(want), gl)) {
            if (bad++ < 5) fprintf(stderr, "NFC case %zu differs\n", i);
        }
        free(got);
    }
    fprintf(stderr, "NFC: %zu cases, %zu changed by NFC, %zu differ\n", json_array_size(cases), changed, bad);
    assert_int_equal(bad, 0);
    assert_true(changed > 2000);
}

static int unhex(const char *h, char *out) {
    int n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

static void test_repair(void **st) {
    (void)st;
    json_t *cases = json_object_get(ref, "repair");
    assert_true(json_array_size(cases) >= 3000);
    size_t bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        char in[64], want[256];
        int il = unhex(json_string_value(json_array_get(json_array_get(cases, i), 0)), in);
        int wl = unhex(json_string_value(json_array_get(json_array_get(cases, i), 1)), want);
        size_t n;
        char *got = utf8_repair(in, (size_t)il, &n);
        const char *g = got ? got : in;
        size_t gl = got ? n : (size_t)il;
        if (gl != (size_t)wl || memcmp(g, want, gl)) bad++;
        free(got);
    }
    assert_int_equal(bad, 0);
}

static void test_bytelevel(void **st) {
    (void)st;
    int seen[0x200] = {0};
    for (int b = 0; b < 256; b++) {
        assert_true(bytelevel_cp[b] < 0x200);
        assert_int_equal(bytelevel_byte(bytelevel_cp[b]), b);
        seen[bytelevel_cp[b]]++;
    }
    for (int c = 0; c < 0x200; c++) assert_true(seen[c] <= 1);
    // GPT-2: space is U+0120 'Ġ', newline U+010A 'Ċ', 'a' itself.
    assert_int_equal(bytelevel_cp[' '], 0x120);
    assert_int_equal(bytelevel_cp['\n'], 0x10A);
    assert_int_equal(bytelevel_cp['a'], 'a');
    assert_int_equal(bytelevel_byte(0x20), -1);
    assert_int_equal(bytelevel_byte(0x144), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_repair),
        cmocka_unit_test(test_bytelevel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
