// weights/gguf: the real stories260K file parses with the right metadata and
// tensor layout; every corruption is an error naming the file, never a crash.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weights/gguf.h"

#define STORIES "tests/fixtures/stories260K/stories260K.gguf"

static void test_stories_metadata(void **st) {
    (void)st;
    GgufFile g;
    QrErr e;
    assert_int_equal(gguf_open(&g, STORIES, &e), 0);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.n_kv, 19);
    assert_int_equal(g.n_tensors, 48);
    int64_t v;
    assert_int_equal(gguf_get_int(&g, "llama.embedding_length", &v, &e), 0);
    assert_int_equal(v, 64);
    assert_int_equal(gguf_get_int(&g, "llama.feed_forward_length", &v, &e), 0);
    assert_int_equal(v, 172);
    assert_int_equal(gguf_get_int(&g, "llama.attention.head_count_kv", &v, &e), 0);
    assert_int_equal(v, 4);
    double eps;
    assert_int_equal(gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", &eps, &e), 0);
    assert_float_equal(eps, 1e-5, 1e-12);
    GgufStr s;
    assert_int_equal(gguf_get_str(&g, "tokenizer.ggml.model", &s, &e), 0);
    assert_true(gguf_str_eq(s, "llama"));
    const GgufKV *toks;
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, &e), 0);
    assert_int_equal(toks->arr_n, 512);
    assert_true(gguf_str_eq(toks->arr_strs[1], "<s>"));
    assert_true(gguf_str_eq(toks->arr_strs[2], "</s>"));
    const GgufKV *scores;
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.scores", GGUF_FLOAT32, &scores, &e), 0);
    assert_int_equal(scores->arr_n, 512);
    // Wrong type is an error naming the key.
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.scores", GGUF_INT32, &scores, &e), -1);
    assert_non_null(strstr(e.msg, "tokenizer.ggml.scores"));
    assert_int_equal(gguf_get_int(&g, "no.such.key", &v, &e), -1);
    assert_non_null(strstr(e.msg, "no.such.key"));

    const GgufTensor *t = gguf_tensor(&g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ggml_type, GGML_F32);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->nbytes, 64 * 512 * 4);
    assert_int_equal(t->offset, 0);
    t = gguf_tensor(&g, "output.weight");
    assert_non_null(t);
    assert_int_equal(t->offset, 131328);
    assert_int_equal((const uint8_t *)t->data - g.base, g.data_offset + 131328);
    assert_int_equal(g.data_offset % 32, 0);
    gguf_close(&g);
}

static uint8_t *load(size_t *n) {
    FILE *f = fopen(STORIES, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void expect_error(const uint8_t *b, size_t n, const char *needle) {
    GgufFile g;
    QrErr e;
    e.msg[0] = 0;
    int rc = gguf_parse(&g, b, n, "x.gguf", &e);
    gguf_close(&g);
    if (rc == 0) fail_msg("expected an error containing '%s'", needle);
    assert_non_null(strstr(e.msg, "x.gguf"));
    if (needle && !strstr(e.msg, needle)) fail_msg("error '%s' lacks '%s'", e.msg, needle);
}

static void test_truncations_never_crash(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = load(&n);
    // Every prefix of the header region, and a sample of the data region.
    for (size_t cut = 0; cut < 12000; cut += 1) expect_error(b, cut, NULL);
    for (size_t cut = 12000; cut < n; cut += 4093) expect_error(b, cut, NULL);
    expect_error(b, n - 1, "past the end");
    free(b);
}

static void test_corruptions(void **st) {
    (void)st;
    size_t n;
    uint8_t *b = load(&n);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    c[0] = 'X';
    expect_error(c, n, "bad magic");
    memcpy(c, b, n);
    uint32_t ver = 7;
    memcpy(c + 4, &ver, 4);
    expect_error(c, n, "version 7");
    memcpy(c, b, n);
    uint64_t big = UINT64_C(1) << 60;
    memcpy(c + 8, &big, 8);
    expect_error(c, n, "tensor count");
    memcpy(c, b, n);
    memcpy(c + 16, &big, 8);
    expect_error(c, n, "metadata count");
    // First key length (at offset 24) made huge.
    memcpy(c, b, n);
    memcpy(c + 24, &big, 8);
    expect_error(c, n, "truncated");
    // Tensor offset of 'output.weight' moved onto 'token_embd.weight': overlap.
    memcpy(c, b, n);
    const char *nm = "output.weight";
    uint8_t *p = memmem(c, 12000, nm, strlen(nm));
    assert_non_null(p);
    uint8_t *off = p + strlen(nm) + 4 + 16 + 4; // n_dims, 2 dims, type
    uint64_t o = 0;
    memcpy(off, &o, 8);
    expect_error(c, n, "overlap");
    o = 3; // misaligned
    memcpy(off, &o, 8);
    expect_error(c, n, "not aligned");
    o = UINT64_C(1) << 40;
    memcpy(off, &o, 8);
    expect_error(c, n, "past the end");
    // Unknown tensor type.
    memcpy(c, b, n);
    uint32_t ty = 99;
    memcpy(p + strlen(nm) + 4 + 16, &ty, 4);
    expect_error(c, n, "unsupported ggml type 99");
    free(c);
    free(b);
}

static void test_missing_file(void **st) {
    (void)st;
    GgufFile g;
    QrErr e;
    assert_int_equal(gguf_open(&g, "/nonexistent/m.gguf", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/m.gguf"));
    gguf_close(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_metadata),
        cmocka_unit_test(test_truncations_never_crash),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
