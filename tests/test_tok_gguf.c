// tokenizer/ on GGUF vocabularies: every llama.cpp reference tokenization
// (SentencePiece "llama" and byte-level "gpt2" vocabularies of six families)
// is reproduced id for id; decoding gives the text back byte for byte; the
// streaming decoder never splits a UTF-8 character; stories260K's prompt.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tokenizer/tokenizer.h"
#include "util/fileio.h"

#define DIR "tests/fixtures/tok/gguf/ggml-vocab-"
#define SEP "\n__ggml_vocab_test__\n"

// Checks every text of <name>.gguf.inp against its line of <name>.gguf.out.
static void check_vocab(const char *name, int expect_texts) {
    char p[256];
    QrErr e;
    Tokenizer *t;
    snprintf(p, sizeof p, DIR "%s.gguf.gz", name);
    if (tok_load(&t, p, &e)) fail_msg("%s", e.msg);
    char *inp, *outp;
    size_t il, ol;
    snprintf(p, sizeof p, DIR "%s.gguf.inp", name);
    assert_int_equal(qr_read_file(p, &inp, &il, &e), 0);
    snprintf(p, sizeof p, DIR "%s.gguf.out", name);
    assert_int_equal(qr_read_file(p, &outp, &ol, &e), 0);
    char *text = inp, *line = outp;
    int n_texts = 0;
    for (;;) {
        char *sep = strstr(text, SEP);
        if (!sep) break;
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        int32_t *ids;
        size_t n;
        assert_int_equal(tok_encode(t, text, (size_t)(sep - text), 0, &ids, &n, &e), 0);
        // Compare with the reference line.
        char *q = line;
        size_t k = 0;
        for (;; k++) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q) break;
            if (k >= n || ids[k] != v)
                fail_msg("%s text %d ('%.*s'): id %zu is %d, reference %ld", name, n_texts,
                         (int)(sep - text < 40 ? sep - text : 40), text, k, k < n ? ids[k] : -1, v);
            q = end;
        }
        assert_int_equal(k, n);
        // decode(encode(x)) == x, and streaming gives the same bytes.
        size_t dl;
        char *dec = tok_decode(t, ids, n, 0, &dl, &e);
        assert_non_null(dec);
        assert_int_equal(dl, (size_t)(sep - text));
        assert_memory_equal(dec, text, dl);
        TokStream s;
        tok_stream_init(&s, t, -1, 0);
        char *cat = malloc(dl + 1);
        size_t cl = 0;
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *piece = tok_stream_push(&s, ids[i], &pl);
            assert_true(cl + pl <= dl);
            memcpy(cat + cl, piece, pl);
            cl += pl;
        }
        size_t fl;
        const char *rest = tok_stream_flush(&s, &fl);
        assert_int_equal(fl, 0); // the text was valid UTF-8: nothing left over
        (void)rest;
        assert_int_equal(cl, dl);
        assert_memory_equal(cat, dec, dl);
        tok_stream_free(&s);
        free(cat);
        free(dec);
        free(ids);
        text = sep + strlen(SEP);
        line = nl + 1;
        n_texts++;
    }
    assert_int_equal(n_texts, expect_texts);
    free(inp);
    free(outp);
    tok_free(t);
}

static void test_llama_spm(void **st) { (void)st; check_vocab("llama-spm", 46); }
static void test_gpt2(void **st) { (void)st; check_vocab("gpt-2", 46); }
static void test_starcoder(void **st) { (void)st; check_vocab("starcoder", 46); }
static void test_refact(void **st) { (void)st; check_vocab("refact", 46); }
static void test_deepseek_coder(void **st) { (void)st; check_vocab("deepseek-coder", 46); }
static void test_deepseek_llm(void **st) { (void)st; check_vocab("deepseek-llm", 46); }

static void test_stories260k(void **st) {
    (void)st;
    Tokenizer *t;
    QrErr e;
    if (tok_load(&t, "tests/fixtures/stories260K/stories260K.gguf", &e)) fail_msg("%s", e.msg);
    assert_int_equal(tok_n_vocab(t), 512);
    assert_int_equal(tok_bos(t), 1);
    assert_int_equal(tok_eos(t), 2);
    assert_true(tok_is_eog(t, 2));
    assert_false(tok_is_eog(t, 1));
    assert_true(tok_is_special(t, 1));
    assert_false(tok_is_special(t, 403));
    assert_string_equal(tok_token_str(t, 403), "\xE2\x96\x81Once");
    assert_int_equal(tok_find(t, "\xE2\x96\x81upon"), 407);
    int32_t *ids;
    size_t n;
    // llama2.c's encoding of its reference prompt: BOS + 4 pieces.
    assert_int_equal(tok_encode(t, "Once upon a time", 16, TOK_ADD_SPECIAL, &ids, &n, &e), 0);
    int32_t want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    assert_int_equal(tok_encode(t, "Once upon a time", 16, 0, &ids, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 403);
    free(ids);
    // Pieces: U+2581 is a space; byte tokens are their byte.
    size_t pl;
    const char *p = tok_piece(t, 403, &pl);
    assert_int_equal(pl, 5);
    assert_memory_equal(p, " Once", 5);
    p = tok_piece(t, 3 + 0x0A, &pl); // <0x0A>
    assert_int_equal(pl, 1);
    assert_int_equal(p[0], '\n');
    assert_null(tok_piece(t, 512, &pl));
    // Streaming a continuation after the prompt keeps the leading space;
    // at the start of the text (or after BOS) it is dropped.
    TokStream s;
    tok_stream_init(&s, t, 378, 0);
    assert_string_equal(tok_stream_push(&s, 403, &pl), " Once");
    tok_stream_free(&s);
    tok_stream_init(&s, t, 1, 0);
    assert_string_equal(tok_stream_push(&s, 403, &pl), "Once");
    tok_stream_free(&s);
    // Characters outside the 512 pieces fall back to bytes and decode back.
    const char *txt = "z\xC3\xA9\xE6\xBC\xA2\xF0\x9F\xA6\x99!";
    assert_int_equal(tok_encode(t, txt, strlen(txt), 0, &ids, &n, &e), 0);
    size_t dl;
    char *d = tok_decode(t, ids, n, 0, &dl, &e);
    assert_string_equal(d, txt);
    free(d);
    // The streaming decoder holds partial characters back, then emits whole ones.
    tok_stream_init(&s, t, -1, 0);
    char acc[64] = "";
    for (size_t i = 0; i < n; i++) {
        const char *o = tok_stream_push(&s, ids[i], &pl);
        // every emitted chunk ends on a character boundary
        if (pl) assert_true(((unsigned char)o[pl - 1] & 0xC0) != 0xC0);
        strncat(acc, o, pl);
    }
    assert_string_equal(acc, txt);
    tok_stream_free(&s);
    free(ids);
    // Decode errors name the id.
    int32_t bad[] = {403, 9999};
    assert_null(tok_decode(t, bad, 2, 0, &dl, &e));
    assert_non_null(strstr(e.msg, "9999"));
    tok_free(t);
}

static void test_stream_partial_utf8(void **st) {
    (void)st;
    Tokenizer *t;
    QrErr e;
    if (tok_load(&t, "tests/fixtures/stories260K/stories260K.gguf", &e)) fail_msg("%s", e.msg);
    // <0xF0><0x9F><0xA6><0x99> = U+1F999: nothing until the 4th byte.
    int32_t b[4] = {3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99};
    TokStream s;
    tok_stream_init(&s, t, 403, 0);
    size_t l;
    for (int i = 0; i < 3; i++) {
        tok_stream_push(&s, b[i], &l);
        assert_int_equal(l, 0);
    }
    assert_string_equal(tok_stream_push(&s, b[3], &l), "\xF0\x9F\xA6\x99");
    // A lead byte followed by a non-continuation is passed through as is.
    tok_stream_push(&s, 3 + 0xC3, &l);
    assert_int_equal(l, 0);
    const char *o = tok_stream_push(&s, 3 + 'A', &l);
    assert_int_equal(l, 2);
    assert_memory_equal(o, "\xC3" "A", 2);
    // An incomplete tail comes out at flush.
    tok_stream_push(&s, 3 + 0xE2, &l);
    assert_int_equal(l, 0);
    o = tok_stream_flush(&s, &l);
    assert_int_equal(l, 1);
    assert_int_equal((unsigned char)o[0], 0xE2);
    // Invalid ids emit nothing.
    tok_stream_push(&s, -5, &l);
    assert_int_equal(l, 0);
    tok_stream_free(&s);
    tok_free(t);
}

static void test_load_errors(void **st) {
    (void)st;
    Tokenizer *t;
    QrErr e;
    assert_int_equal(tok_load(&t, "/nonexistent/tok.gguf", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/tok.gguf"));
    assert_null(t);
    // A model GGUF without tokenizer keys: the error names the key.
    char dir[] = "/tmp/qrtokXXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/x.gguf", dir);
    // GGUF v3, 0 tensors, 1 kv: general.architecture = "llama"
    static const unsigned char g[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                      20, 0, 0, 0, 0, 0, 0, 0, 'g', 'e', 'n', 'e', 'r', 'a', 'l', '.', 'a', 'r', 'c',
                                      'h', 'i', 't', 'e', 'c', 't', 'u', 'r', 'e', 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
                                      'l', 'l', 'a', 'm', 'a'};
    assert_int_equal(qr_write_file_atomic(p, g, sizeof g, &e), 0);
    assert_int_equal(tok_load(&t, p, &e), -1);
    assert_non_null(strstr(e.msg, "tokenizer.ggml.model"));
    assert_non_null(strstr(e.msg, p));
    remove(p);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_stream_partial_utf8),
        cmocka_unit_test(test_llama_spm),
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_starcoder),
        cmocka_unit_test(test_refact),
        cmocka_unit_test(test_deepseek_coder),
        cmocka_unit_test(test_deepseek_llm),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
