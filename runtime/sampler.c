#include "runtime/sampler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void qr_sampler_init(QrSampler *s, float temperature, float top_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_p = top_p;
    s->state = seed;
}

double qr_sampler_uniform(QrSampler *s) {
    // splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit sequence.
    uint64_t z = (s->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}

int qr_argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

typedef struct {
    float p;
    int id;
} Cand;

static int cmp_cand(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id - y->id; // stable order for equal probabilities
}

int qr_topk(const float *x, int n, int k, int *ids) {
    Cand *c = malloc((size_t)n * sizeof *c);
    if (!c) return -1;
    for (int i = 0; i < n; i++) c[i].p = x[i], c[i].id = i;
    qsort(c, (size_t)n, sizeof *c, cmp_cand);
    for (int i = 0; i < k; i++) ids[i] = c[i].id;
    free(c);
    return k;
}

int qr_sample(QrSampler *s, const float *logits, int n, float *work) {
    if (s->temperature <= 0) return qr_argmax(logits, n);
    float *p = work;
    float mx = logits[qr_argmax(logits, n)];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        p[i] = expf((logits[i] - mx) / s->temperature);
        sum += p[i];
    }
    double r = qr_sampler_uniform(s);
    if (s->top_p >= 1.0f) {
        double target = r * sum, acc = 0;
        for (int i = 0; i < n; i++) {
            acc += p[i];
            if (acc > target) return i;
        }
        return n - 1;
    }
    // Nucleus: candidates sorted by probability. Tokens below
    // (1 - top_p) / (n - 1) of the mass can never be needed to reach top_p
    // (llama2.c's cut), which keeps the sort short.
    Cand *c = (Cand *)(work + n); // 2 floats of scratch per candidate
    double cut = (1.0 - s->top_p) / (n > 1 ? n - 1 : 1) * sum;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (p[i] >= cut) c[m].p = p[i], c[m].id = i, m++;
    qsort(c, (size_t)m, sizeof *c, cmp_cand);
    double keep = 0, need = s->top_p * sum;
    int last = m - 1;
    for (int i = 0; i < m; i++) {
        keep += c[i].p;
        if (keep >= need) {
            last = i;
            break;
        }
    }
    double target = r * keep, acc = 0;
    for (int i = 0; i <= last; i++) {
        acc += c[i].p;
        if (acc > target) return c[i].id;
    }
    return c[last].id;
}
