// libFuzzer target: encoding arbitrary bytes (invalid UTF-8 included) with
// tokenizers of every kind must succeed with in-range ids; on the byte-level
// and SentencePiece ones decode(encode(x)) must give x back (as Python reads
// it: invalid UTF-8 as U+FFFD; U+2581 as a space for SentencePiece), and
// streaming must give the same bytes as decoding at once.
// The first input byte picks the tokenizer and the flags.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

static const char *PATHS[] = {
    "tests/fixtures/tok/gguf/ggml-vocab-deepseek-coder.gguf.gz", // byte-level, 5 splits, user tokens
    "tests/fixtures/tok/spm/llama2.model.gz",                     // SentencePiece
    "tests/fixtures/tok/features/added_options.json.gz",         // added-token options
    "tests/fixtures/tok/features/normalizers.json.gz",           // NFC, Strip, Replace, Prepend
    "tests/fixtures/tok/features/metaspace_first_split.json.gz", // Metaspace
    "tests/fixtures/tok/features/spm_unk_fused.json.gz",         // unk fusing
    "tests/fixtures/tok/features/split_merged_next.json.gz",
    "tests/fixtures/tok/hf/qwen3",                               // NFC + regex
};
enum { N_TOK = sizeof PATHS / sizeof PATHS[0] };
static Tokenizer *T[N_TOK];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    for (int i = 0; i < N_TOK; i++) {
        QrErr e;
        if (tok_load(&T[i], PATHS[i], &e)) { fprintf(stderr, "%s (run from the repository root)\n", e.msg); abort(); }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int k = data[0] % N_TOK;
    unsigned flags = (data[0] / N_TOK) & 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    Tokenizer *t = T[k];
    QrErr e;
    int32_t *ids;
    size_t n;
    if (tok_encode(t, text, len, flags, &ids, &n, &e)) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= tok_n_vocab(t)) abort();
    size_t dl;
    char *d = tok_decode(t, ids, n, 0, &dl, &e);
    if (!d) abort();
    // Streaming gives the same bytes.
    TokStream s;
    tok_stream_init(&s, t, -1, 0);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = tok_stream_push(&s, ids[i], &pl);
        if (got + pl > dl || memcmp(d + got, p, pl)) abort();
        got += pl;
    }
    size_t fl;
    const char *p = tok_stream_flush(&s, &fl);
    if (got + fl != dl || memcmp(d + got, p, fl)) abort();
    tok_stream_free(&s);
    if (k <= 1 && !(flags & TOK_ADD_SPECIAL)) {
        // Round trip on the byte-level and SentencePiece tokenizers.
        size_t rl;
        char *rep = utf8_repair(text, len, &rl);
        const char *x = rep ? rep : text;
        size_t xl = rep ? rl : len;
        char *c = malloc(xl + 1);
        size_t cl = 0;
        for (size_t i = 0; i < xl;) {
            if (k == 1 && i + 3 <= xl && !memcmp(x + i, "\xE2\x96\x81", 3)) { c[cl++] = ' '; i += 3; }
            else c[cl++] = x[i++];
        }
        if (cl != dl || memcmp(c, d, dl)) abort();
        free(c);
        free(rep);
    }
    free(d);
    free(ids);
    return 0;
}
