// Choosing the next token from logits: greedy, or temperature + top-p
// (nucleus) sampling from a seeded generator, so the same seed gives the same
// tokens on every run and machine.
#pragma once
#include <stdint.h>

typedef struct {
    float temperature; // <= 0: greedy (argmax; ties go to the lowest id)
    float top_p;       // keep the smallest set of most likely tokens whose mass reaches top_p; >= 1: all
    uint64_t state;    // generator state (splitmix64 sequence)
} QrSampler;

void qr_sampler_init(QrSampler *s, float temperature, float top_p, uint64_t seed);
// The next token id. `work` holds 3 * n floats of scratch; logits are not modified.
int qr_sample(QrSampler *s, const float *logits, int n, float *work);
int qr_argmax(const float *x, int n);
// The k largest of x[0..n) (k <= n): ids[0..k) in descending value, ties by
// lower id. Returns k, or -1 if out of memory.
int qr_topk(const float *x, int n, int k, int *ids);
// Uniform double in [0, 1) (53 bits) from the sampler's generator.
double qr_sampler_uniform(QrSampler *s);
