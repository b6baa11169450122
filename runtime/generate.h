// Generation over any architecture: prompts prefilled together as matrix
// passes, then all unfinished sequences decoded as one batch per step, each
// with its own sampler, stopping on its own at EOS, at a stop string found in
// its decoded text, at max_new_tokens or at the end of the context.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    int max_new_tokens;        // > 0
    float temperature;         // <= 0: greedy
    float top_p;               // 1: off
    uint64_t seed;             // sequence i samples from seeds[i] if given, else from mix(seed, i)
    const uint64_t *seeds;     // [n_seq] or NULL
    const char *const *stop;   // stop strings, matched in the decoded completion
    int n_stop;
    int ignore_eos;            // 1: do not stop at EOS (benchmarks)
    // Streaming: called with completion text as it becomes final (never text
    // that could still turn out to start a stop string). NULL: no streaming.
    void (*on_text)(void *ctx, int seq, const char *text, size_t len);
    void *ctx;
} QrGenParams;

typedef enum { QR_FINISH_LENGTH = 0, QR_FINISH_EOS, QR_FINISH_STOP, QR_FINISH_CONTEXT } QrFinish;

typedef struct {
    int32_t *tokens;  // generated ids, EOS excluded (malloc'd)
    int n_tokens;
    char *text;       // decoded completion, cut before the first stop string (malloc'd; "" without tokenizer)
    size_t len;
    QrFinish finish;
    double t_prefill, t_decode; // seconds, shared by the whole batch
} QrCompletion;

const char *qr_finish_name(QrFinish f); // "length", "eos", "stop", "context"

// Generates continuations of n_seq prompts (token ids) with model m, using KV
// slots 0..n_seq-1 (the cache is (re)reserved when too small). tok decodes
// the text for stop strings and streaming; it may be NULL when there are no
// stop strings (then text stays empty). out[n_seq] is filled; free each with
// qr_completion_free.
int qr_generate(QrModel *m, const Tokenizer *tok, const int32_t *const *prompts, const int *n_prompt, int n_seq,
                const QrGenParams *p, QrCompletion *out, QrErr *e);
void qr_completion_free(QrCompletion *c);

// The first occurrence, in text[from..len), of any stop string that ends
// inside it; returns its start offset or -1. from is clamped so that strings
// straddling the previous check are found.
long qr_find_stop(const char *text, size_t len, size_t from, const char *const *stop, int n_stop);
