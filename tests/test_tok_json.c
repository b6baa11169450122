// tokenizer/tok_json.c: every tokenizer.json feature qrobust supports, on
// small tokenizers (tests/fixtures/tok/features, written by
// tools/tok_features.py with Hugging Face `tokenizers`) that use the features
// the real families' files do not (each Split behaviour, Digits runs,
// ByteLevel add_prefix_space, Metaspace schemes, normalizers, added-token
// options, unk fusing, TemplateProcessing with a suffix); and clear errors,
// naming the field, for malformed or unsupported files.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tokenizer/tokenizer.h"
#include "util/fileio.h"

#define FEAT "tests/fixtures/tok/features/"

static size_t compare(const char *name, Tokenizer *t, json_t *texts, json_t *refs, unsigned flags) {
    size_t bad = 0;
    QrErr e;
    for (size_t i = 0; i < json_array_size(refs); i++) {
        json_t *tx = json_array_get(texts, i), *want = json_array_get(refs, i);
        int32_t *ids;
        size_t n;
        assert_int_equal(tok_encode(t, json_string_value(tx), json_string_length(tx), flags, &ids, &n, &e), 0);
        size_t k = 0;
        while (k < n && k < json_array_size(want) && ids[k] == json_integer_value(json_array_get(want, k))) k++;
        if (k != n || k != json_array_size(want)) {
            if (bad++ < 3)
                fprintf(stderr, "%s%s: text %zu '%.30s': id %zu: got %d, reference %lld\n", name,
                        flags ? " (add special)" : "", i, json_string_value(tx), k, k < n ? ids[k] : -1,
                        k < json_array_size(want) ? json_integer_value(json_array_get(want, k)) : -1LL);
        }
        free(ids);
    }
    return bad;
}

static void test_features(void **st) {
    (void)st;
    char *buf;
    size_t len;
    QrErr e;
    assert_int_equal(qr_read_file(FEAT "ref.json.gz", &buf, &len, &e), 0);
    json_t *ref = json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
    free(buf);
    assert_non_null(ref);
    json_t *texts = json_object_get(ref, "texts"), *ids = json_object_get(ref, "ids");
    assert_true(json_object_size(ids) >= 16);
    const char *name;
    json_t *v;
    size_t total_bad = 0;
    json_object_foreach(ids, name, v) {
        char p[256];
        snprintf(p, sizeof p, FEAT "%s.json.gz", name);
        Tokenizer *t;
        if (tok_load(&t, p, &e)) fail_msg("%s", e.msg);
        size_t bad = compare(name, t, texts, v, 0);
        bad += compare(name, t, texts, json_object_get(json_object_get(ref, "special"), name), TOK_ADD_SPECIAL);
        fprintf(stderr, "%-28s %zu texts, %zu differ\n", name, json_array_size(v), bad);
        total_bad += bad;
        tok_free(t);
    }
    json_decref(ref);
    assert_int_equal(total_bad, 0);
}

// Loads a tokenizer.json given as text; returns the error message ("" if it loaded).
static const char *load_text(const char *json) {
    static QrErr e;
    char path[] = "/tmp/qrtokjsonXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    Tokenizer *t;
    int rc = tok_load(&t, path, &e);
    unlink(path);
    if (!rc) { tok_free(t); return ""; }
    assert_non_null(strstr(e.msg, path)); // every message names the file
    return strstr(e.msg, path) + strlen(path);
}

#define MODEL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}"

static void test_errors(void **st) {
    (void)st;
    // A minimal valid file loads and works.
    assert_string_equal(load_text("{" MODEL "}"), "");
    Tokenizer *t;
    QrErr e;
    static const struct { const char *json, *want; } C[] = {
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type: unsupported model 'Unigram'"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model.type: unsupported model 'WordPiece'"},
        {"{}", "model: expected an object"},
        {"[1, 2]", "expected an object"},
        {"{\"model\": ", "not valid JSON"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "model.merges: [0] 'a' + 'b': right token not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", "merged token not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}}", "model.merges: [0] 'ab' is not 'left right'"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [7]}}", "model.merges: [0] must be"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -3}}}", "model.vocab: token 'a' has a bad id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}", "model.vocab: id 0 is used twice"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"dropout\": 0.1}}", "model.dropout"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"unk_token\": \"<unk>\"}}", "model.unk_token: '<unk>' is not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"byte_fallback\": 3}}", "model.byte_fallback: 'byte_fallback' must be true or false"},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", "pre_tokenizer: unsupported pre-tokenizer 'Whitespace'"},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"BertPreTokenizer\"}]}}",
         "pre_tokenizer.pretokenizers[1]: unsupported pre-tokenizer 'BertPreTokenizer'"},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}}", "pre_tokenizer: bad regex: "},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}}", "pre_tokenizer: unsupported Split behavior 'Sideways'"},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": 5, \"behavior\": \"Isolated\"}}", "pre_tokenizer: 'pattern' must be"},
        {"{" MODEL ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"ByteLevel\"}, {\"type\": \"Digits\"}]}}", "pre_tokenizer.pretokenizers[1]: a pre-tokenizer after ByteLevel is not supported"},
        {"{" MODEL ", \"pre_tokenizer\": {\"behavior\": \"Isolated\"}}", "pre_tokenizer: missing 'type'"},
        {"{" MODEL ", \"normalizer\": {\"type\": \"Lowercase\"}}", "normalizer: unsupported normalizer 'Lowercase'"},
        {"{" MODEL ", \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}]}}", "normalizer.normalizers[0]: unsupported normalizer 'NFKC'"},
        {"{" MODEL ", \"decoder\": {\"type\": \"WordPiece\"}}", "decoder: unsupported decoder 'WordPiece'"},
        {"{" MODEL ", \"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}}", "decoder: only Strip"},
        {"{" MODEL ", \"post_processor\": {\"type\": \"Weird\"}}", "post_processor: unsupported post-processor 'Weird'"},
        {"{" MODEL ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {}}}", "post_processor: single[0]: special token '<s>' not in special_tokens"},
        {"{" MODEL ", \"added_tokens\": [{\"id\": 5}]}", "added_tokens[0]: needs an integer 'id' and a non-empty 'content'"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        const char *msg = load_text(C[i].json);
        if (!strstr(msg, C[i].want)) fail_msg("case %zu: error '%s' does not contain '%s'", i, msg, C[i].want);
    }
    // The minimal tokenizer merges "a b" and keeps unknown characters out.
    char path[] = "/tmp/qrtokjsonXXXXXX";
    int fd = mkstemp(path);
    const char *j = "{" MODEL "}";
    assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
    close(fd);
    assert_int_equal(tok_load(&t, path, &e), 0);
    unlink(path);
    int32_t *ids;
    size_t n;
    assert_int_equal(tok_encode(t, "abxa", 4, 0, &ids, &n, &e), 0);
    assert_int_equal(n, 2); // "ab", "a" ("x" has no token, no unk: dropped, as HF does)
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 0);
    free(ids);
    assert_int_equal(tok_bos(t), -1);
    assert_int_equal(tok_eos(t), -1);
    tok_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
