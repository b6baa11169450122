// tokenizer/ against independent references: for every tokenizer family, the
// ids of Hugging Face `tokenizers` (and `sentencepiece` for Llama-2's
// tokenizer.model), written by tools/tok_reference.py into tests/fixtures/tok/,
// on all HumanEval / HumanEval+ / MBPP+ prompts and canonical solutions and an
// adversarial corpus (scripts, emoji, combining marks, whitespace and digit
// runs, CRLF, tabs, special-token strings, invalid UTF-8). Also:
// decode(encode(x)) == x for every text, BOS/EOS as transformers adds them, and
// the GGUF vocabularies of the same families give the same ids.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/fileio.h"

#define FX "tests/fixtures/tok/"

typedef struct {
    char *id;
    char *text; // raw bytes as encoded
    size_t len;
    int valid;  // valid UTF-8 (decode must give the same bytes back)
} Text;

static Text *texts;
static size_t n_texts;

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int load_corpus(void **st) {
    (void)st;
    char *buf;
    size_t len;
    QrErr e;
    if (qr_read_file(FX "corpus.json.gz", &buf, &len, &e)) { fprintf(stderr, "%s\n", e.msg); return -1; }
    json_error_t je;
    json_t *a = json_loadb(buf, len, JSON_ALLOW_NUL, &je);
    free(buf);
    if (!json_is_array(a)) return -1;
    n_texts = json_array_size(a);
    texts = calloc(n_texts, sizeof *texts);
    for (size_t i = 0; i < n_texts; i++) {
        json_t *o = json_array_get(a, i);
        texts[i].id = strdup(json_string_value(json_object_get(o, "id")));
        json_t *t = json_object_get(o, "text");
        if (t) {
            texts[i].len = json_string_length(t);
            texts[i].text = malloc(texts[i].len + 1);
            memcpy(texts[i].text, json_string_value(t), texts[i].len + 1);
            texts[i].valid = 1;
        } else {
            const char *h = json_string_value(json_object_get(o, "hex"));
            texts[i].len = strlen(h) / 2;
            texts[i].text = malloc(texts[i].len + 1);
            for (size_t k = 0; k < texts[i].len; k++) texts[i].text[k] = (char)(hexval(h[2 * k]) * 16 + hexval(h[2 * k + 1]));
        }
    }
    json_decref(a);
    return 0;
}

static int free_corpus(void **st) {
    (void)st;
    for (size_t i = 0; i < n_texts; i++) { free(texts[i].id); free(texts[i].text); }
    free(texts);
    return 0;
}

// Parses "1 2 3" into ids; returns the count.
static size_t parse_ids(const char *s, const char *end, int32_t *out, size_t cap) {
    size_t n = 0;
    while (s < end) {
        char *q;
        long v = strtol(s, &q, 10);
        if (q == s) break;
        if (n < cap) out[n] = (int32_t)v;
        n++;
        s = q;
    }
    return n;
}

// Compares encode(text) with reference ids; prints the first difference.
static int same_ids(const char *what, const Text *tx, const int32_t *got, size_t n, const int32_t *want, size_t wn) {
    size_t k = 0;
    while (k < n && k < wn && got[k] == want[k]) k++;
    if (k == n && k == wn) return 1;
    fprintf(stderr, "%s: %s: ids differ at %zu: got %d, reference %d (%zu vs %zu ids)\n", what, tx->id, k,
            k < n ? got[k] : -1, k < wn ? want[k] : -1, n, wn);
    return 0;
}

// What decode(encode(x)) gives back: x itself, except where the tokenizer
// cannot tell texts apart: an NFC normalizer gives NFC(x); SentencePiece
// writes spaces as U+2581, so a U+2581 in the text comes back as a space.
enum { CANON_NONE, CANON_NFC, CANON_SPM };

static char *canonical(const char *s, size_t n, int canon, size_t *out_len) {
    size_t l;
    char *r = NULL;
    if (canon == CANON_NFC) r = unicode_nfc(s, n, &l);
    if (!r) { r = malloc(n + 1); memcpy(r, s, n); l = n; }
    if (canon == CANON_SPM) {
        size_t o = 0;
        for (size_t i = 0; i < l;) {
            if (i + 3 <= l && !memcmp(r + i, "\xE2\x96\x81", 3)) { r[o++] = ' '; i += 3; }
            else r[o++] = r[i++];
        }
        l = o;
    }
    *out_len = l;
    return r;
}

static void check(const char *tok_path, const char *ref, unsigned flags, int canon) {
    Tokenizer *t;
    QrErr e;
    if (tok_load(&t, tok_path, &e)) fail_msg("%s", e.msg);
    char p[256], *ids_txt;
    size_t il;
    snprintf(p, sizeof p, FX "ref/%s.ids.gz", ref);
    assert_int_equal(qr_read_file(p, &ids_txt, &il, &e), 0);
    int32_t *want = malloc(100000 * sizeof *want);
    char *line = ids_txt;
    size_t bad = 0, bad_rt = 0, total_ids = 0;
    for (size_t i = 0; i < n_texts; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t wn = parse_ids(line, nl, want, 100000);
        line = nl + 1;
        int32_t *ids;
        size_t n;
        assert_int_equal(tok_encode(t, texts[i].text, texts[i].len, flags, &ids, &n, &e), 0);
        total_ids += n;
        if (!same_ids(tok_path, &texts[i], ids, n, want, wn)) bad++;
        // decode(encode(x)) == x (invalid UTF-8 comes back as U+FFFD, as read)
        size_t dl, rl, xl;
        char *d = tok_decode(t, ids, n, 0, &dl, &e);
        assert_non_null(d);
        char *rep = utf8_repair(texts[i].text, texts[i].len, &rl);
        char *x = canonical(rep ? rep : texts[i].text, rep ? rl : texts[i].len, canon, &xl);
        if (dl != xl || memcmp(d, x, dl)) {
            if (bad_rt++ < 5) fprintf(stderr, "%s: %s: decode(encode(x)) != x\n", tok_path, texts[i].id);
        }
        free(x);
        free(rep);
        free(d);
        free(ids);
    }
    assert_int_equal(*line, 0);
    // With special tokens (BOS/EOS as transformers adds them).
    snprintf(p, sizeof p, FX "ref/%s.special", ref);
    char *sp;
    assert_int_equal(qr_read_file(p, &sp, &il, &e), 0);
    size_t n_sp = 0;
    for (line = sp; *line; n_sp++) {
        char *nl = strchr(line, '\n'), *tab;
        long i = strtol(line, &tab, 10);
        size_t wn = parse_ids(tab + 1, nl, want, 100000);
        int32_t *ids;
        size_t n;
        assert_int_equal(tok_encode(t, texts[i].text, texts[i].len, flags | TOK_ADD_SPECIAL, &ids, &n, &e), 0);
        if (!same_ids("add_special", &texts[i], ids, n, want, wn)) bad++;
        free(ids);
        line = nl + 1;
    }
    assert_true(n_sp >= 8);
    fprintf(stderr, "%-48s %s: %zu texts, %zu ids, %zu differ, %zu round-trip failures\n", tok_path, ref, n_texts,
            total_ids, bad, bad_rt);
    assert_int_equal(bad, 0);
    assert_int_equal(bad_rt, 0);
    free(sp);
    free(want);
    free(ids_txt);
    tok_free(t);
}

static void test_codegen(void **st) { (void)st; check(FX "hf/codegen", "codegen", 0, CANON_NONE); }
static void test_starcoder2(void **st) { (void)st; check(FX "hf/starcoder2", "starcoder2", 0, CANON_NONE); }
static void test_deepseek_coder(void **st) { (void)st; check(FX "hf/deepseek-coder", "deepseek-coder", 0, CANON_NONE); }
static void test_mistral(void **st) { (void)st; check(FX "hf/mistral-7b", "mistral-7b", 0, CANON_SPM); }
static void test_llama3(void **st) { (void)st; check(FX "hf/llama3", "llama3", 0, CANON_NONE); }
static void test_qwen3(void **st) { (void)st; check(FX "hf/qwen3", "qwen3", 0, CANON_NFC); }
static void test_deepseek_v3(void **st) { (void)st; check(FX "hf/deepseek_v3", "deepseek_v3", 0, CANON_NONE); }
// SentencePiece never matches "<s>" in text: compare without special parsing.
static void test_llama2_spm(void **st) { (void)st; check(FX "spm/llama2.model.gz", "llama2-spm", TOK_NO_PARSE_SPECIAL, CANON_SPM); }
// The GGUF vocabularies of the same families.
static void test_gguf_gpt2(void **st) { (void)st; check(FX "gguf/ggml-vocab-gpt-2.gguf.gz", "gpt2", 0, CANON_NONE); }
static void test_gguf_starcoder(void **st) { (void)st; check(FX "gguf/ggml-vocab-starcoder.gguf.gz", "starcoder2", 0, CANON_NONE); }
static void test_gguf_deepseek_coder(void **st) { (void)st; check(FX "gguf/ggml-vocab-deepseek-coder.gguf.gz", "deepseek-coder", 0, CANON_NONE); }
static void test_gguf_llama_spm(void **st) { (void)st; check(FX "gguf/ggml-vocab-llama-spm.gguf.gz", "llama2-spm", TOK_NO_PARSE_SPECIAL, CANON_SPM); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codegen),        cmocka_unit_test(test_starcoder2),
        cmocka_unit_test(test_deepseek_coder), cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_llama3),         cmocka_unit_test(test_qwen3),
        cmocka_unit_test(test_deepseek_v3),    cmocka_unit_test(test_llama2_spm),
        cmocka_unit_test(test_gguf_gpt2),      cmocka_unit_test(test_gguf_starcoder),
        cmocka_unit_test(test_gguf_deepseek_coder), cmocka_unit_test(test_gguf_llama_spm),
    };
    return cmocka_run_group_tests(tests, load_corpus, free_corpus);
}
