// Shared by the tests that check qrobust against transformers on the tiny
// Hugging Face fixtures (tools/make_llama_fixtures.py,
// tools/make_family_fixtures.py): reading reference.json, all-position logits
// of one prefill, relative error, greedy decoding through the KV cache.
// Include after <cmocka.h>.
#pragma once
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/model.h"

typedef struct {
    int n, vocab;
    int ids[64];
    float *logits; // [n, vocab]: transformers' logits at every position of ids
    int gp[8], ngp; // greedy prompt
    int greedy[64]; // transformers' 64 greedy tokens after gp
} Ref;

static inline void load_ref(const char *dir, Ref *r) {
    char p[256];
    snprintf(p, sizeof p, "%s/reference.json", dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    json_t *ids = json_object_get(j, "input_ids"), *lg = json_object_get(j, "logits");
    r->n = (int)json_array_size(ids);
    r->vocab = (int)json_array_size(json_array_get(lg, 0));
    assert_true(r->n > 8 && r->n <= 64);
    r->logits = malloc((size_t)r->n * r->vocab * sizeof(float));
    for (int i = 0; i < r->n; i++) {
        r->ids[i] = (int)json_integer_value(json_array_get(ids, i));
        for (int v = 0; v < r->vocab; v++)
            r->logits[(size_t)i * r->vocab + v] = (float)json_real_value(json_array_get(json_array_get(lg, i), v));
    }
    json_t *gp = json_object_get(j, "greedy_prompt"), *g = json_object_get(j, "greedy");
    r->ngp = (int)json_array_size(gp);
    for (int i = 0; i < r->ngp; i++) r->gp[i] = (int)json_integer_value(json_array_get(gp, i));
    assert_int_equal(json_array_size(g), 64);
    for (int i = 0; i < 64; i++) r->greedy[i] = (int)json_integer_value(json_array_get(g, i));
    json_decref(j);
}

// Logits of every position of ids[0..n) (n <= 64) in one prefill of KV slot `slot`.
static inline void prefill_all(QrModel *m, int slot, const int *ids, int n, float *out) {
    int pos[64], seq[64];
    uint8_t want[64];
    for (int i = 0; i < n; i++) pos[i] = i, seq[i] = slot, want[i] = 1;
    qr_model_clear_seq(m, slot);
    QrErr e;
    QrBatch b = {n, ids, pos, seq, want};
    if (qr_model_forward(m, &b, out, &e)) fail_msg("%s", e.msg);
}

// max |a - ref| / max |ref|
static inline double max_rel_err(const float *a, const float *ref, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return md / mr;
}

// All-position logits of the reference ids (slot 0) into out; their max relative error.
static inline double rel_err(QrModel *m, const Ref *r, float *out) {
    prefill_all(m, 0, r->ids, r->n, out);
    return max_rel_err(out, r->logits, (size_t)r->n * r->vocab);
}

static inline int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

// Greedy decoding of `steps` tokens in slot 0 through the KV cache: one
// prefill of the prompt, then one token per forward call.
static inline void greedy(QrModel *m, const int *prompt, int np, int steps, int *outt) {
    int ids[128], pos[128], seq[128] = {0};
    assert_true(np + steps <= 128);
    float *lg = malloc((size_t)m->cfg.vocab_size * sizeof(float));
    memcpy(ids, prompt, (size_t)np * sizeof *ids);
    for (int i = 0; i < 128; i++) pos[i] = i;
    qr_model_clear_seq(m, 0);
    QrErr e;
    QrBatch b = {np, ids, pos, seq, NULL};
    if (qr_model_forward(m, &b, lg, &e)) fail_msg("%s", e.msg);
    for (int t = 0; t < steps; t++) {
        outt[t] = ids[np + t] = argmax(lg, m->cfg.vocab_size);
        QrBatch d = {1, &ids[np + t], &pos[np + t], seq, NULL};
        if (qr_model_forward(m, &d, lg, &e)) fail_msg("%s", e.msg);
    }
    free(lg);
}
