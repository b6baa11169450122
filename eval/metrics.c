#include "eval/metrics.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DROP_EPS 1e-12

double qr_pass_at_k(int n, int c, int k) {
    if (n <= 0 || k <= 0 || k > n || c < 0 || c > n) return NAN;
    if (n - c < k) return 1.0;
    // 1 - prod_{i=n-c+1}^{n} (1 - k/i)
    double prod = 1.0;
    for (int i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

double qr_mean(const double *s, int n) {
    if (n <= 0) return NAN;
    double t = 0;
    for (int i = 0; i < n; i++) t += s[i];
    return t / n;
}

double qr_rel_drop(double clean, double attack) {
    if (!(fabs(clean) > DROP_EPS)) return NAN;
    return (clean - attack) / clean;
}

QrRrs qr_rrs(double co, double ao, double cq, double aq) {
    QrRrs r;
    r.d_orig = co - ao;
    r.d_quant = cq - aq;
    double diff = r.d_orig - r.d_quant;
    r.cls = diff > DROP_EPS ? QR_ROB_QUANT : diff < -DROP_EPS ? QR_ROB_ORIG : QR_ROB_EQUAL;
    r.rrs = fabs(r.d_quant) > DROP_EPS ? r.d_orig / r.d_quant : NAN;
    r.numeric = r.d_orig > DROP_EPS && r.d_quant > DROP_EPS;
    return r;
}

const char *qr_rob_arrow(QrRobClass c) { return c == QR_ROB_QUANT ? "↑" : c == QR_ROB_ORIG ? "↓" : "="; }
const char *qr_rob_name(QrRobClass c) {
    return c == QR_ROB_QUANT ? "quantized more robust" : c == QR_ROB_ORIG ? "original more robust" : "equal";
}

double qr_mcnemar_exact(int b, int c) {
    int n = b + c;
    if (n <= 0) return 1.0;
    int m = b < c ? b : c;
    // P[X <= m] summed in log space: exact enough for any realistic n.
    double lnorm = -n * log(2.0), p = 0;
    for (int i = 0; i <= m; i++) p += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + lnorm);
    p *= 2;
    return p > 1 ? 1 : p;
}

// ---- RNG ----
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
void qr_xoshiro_seed(QrXoshiro *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t qr_xoshiro_next(QrXoshiro *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}
uint32_t qr_xoshiro_below(QrXoshiro *r, uint32_t n) {
    uint64_t m = (uint64_t)(uint32_t)(qr_xoshiro_next(r) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(qr_xoshiro_next(r) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

// ---- Bootstrap ----
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

QrCi qr_bootstrap(const double *const *arrays, int k, int n, QrStatFn stat, void *ctx, int B, uint64_t seed,
                  double alpha) {
    QrCi ci = {NAN, NAN, 0, 0};
    if (n <= 0 || B <= 0 || k <= 0 || k > 16) return ci;
    double *reps = malloc(sizeof(double) * (size_t)B);
    if (!reps) return ci;
    QrXoshiro rng;
    qr_xoshiro_seed(&rng, seed);
    int nd = 0;
    for (int b = 0; b < B; b++) {
        double sum[16] = {0}, means[16];
        for (int i = 0; i < n; i++) {
            uint32_t t = qr_xoshiro_below(&rng, (uint32_t)n);
            for (int j = 0; j < k; j++) sum[j] += arrays[j][t];
        }
        for (int j = 0; j < k; j++) means[j] = sum[j] / n;
        double v = stat(means, ctx);
        if (!isnan(v)) reps[nd++] = v;
    }
    ci.share_defined = (double)nd / B;
    if (nd > 0 && (double)(B - nd) <= alpha * B + 1e-9) {
        qsort(reps, (size_t)nd, sizeof(double), cmp_double);
        long lo = (long)ceil(nd * alpha / 2 - 1e-9) - 1, hi = (long)ceil(nd * (1 - alpha / 2) - 1e-9) - 1;
        if (lo < 0) lo = 0;
        if (hi >= nd) hi = nd - 1;
        if (hi < 0) hi = 0;
        ci.lo = reps[lo];
        ci.hi = reps[hi];
        ci.defined = 1;
    }
    free(reps);
    return ci;
}

static double st_mean(const double *m, void *ctx) { (void)ctx; return m[0]; }
static double st_rel_drop(const double *m, void *ctx) { (void)ctx; return qr_rel_drop(m[0], m[1]); }
static double st_rrs(const double *m, void *ctx) {
    (void)ctx;
    double dq = m[2] - m[3], d_o = m[0] - m[1];
    if (dq > DROP_EPS) return d_o / dq;
    if (fabs(dq) <= DROP_EPS && d_o > DROP_EPS) return INFINITY;
    return NAN;
}
static double st_ddiff(const double *m, void *ctx) { (void)ctx; return (m[0] - m[1]) - (m[2] - m[3]); }

QrCi qr_boot_mean(const double *s, int n, int B, uint64_t seed, double alpha) {
    const double *a[1] = {s};
    return qr_bootstrap(a, 1, n, st_mean, NULL, B, seed, alpha);
}

QrCi qr_boot_rel_drop(const double *clean, const double *attack, int n, int B, uint64_t seed, double alpha) {
    const double *a[2] = {clean, attack};
    return qr_bootstrap(a, 2, n, st_rel_drop, NULL, B, seed, alpha);
}

void qr_boot_rrs(const double *co, const double *ao, const double *cq, const double *aq, int n, int B,
                 uint64_t seed, double alpha, QrCi *rrs_ci, QrCi *ddiff_ci) {
    const double *a[4] = {co, ao, cq, aq};
    // Same seed for both: the two intervals come from the same replicates.
    if (rrs_ci) *rrs_ci = qr_bootstrap(a, 4, n, st_rrs, NULL, B, seed, alpha);
    if (ddiff_ci) *ddiff_ci = qr_bootstrap(a, 4, n, st_ddiff, NULL, B, seed, alpha);
}

void qr_shares_add(QrShares *s, QrRobClass c, int significant) {
    s->n++;
    if (c == QR_ROB_QUANT) s->quant++;
    else if (c == QR_ROB_ORIG) s->orig++;
    else s->equal++;
    if (!significant) return;
    s->n_sig++;
    if (c == QR_ROB_QUANT) s->sig_quant++;
    else if (c == QR_ROB_ORIG) s->sig_orig++;
    else s->sig_equal++;
}
