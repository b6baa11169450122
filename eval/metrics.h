// Metrics of the study, with the uncertainty the study did not report.
//
// Inputs are per-task scores: s[i] = c_i / n_i, the share of task i's n_i
// samples that passed (0 or 1 for greedy n = 1). Cells compared with each
// other (clean vs attack, original vs quantized) are aligned on the same tasks.
//
// Robustness classification (the rule the study left implicit in its arrows).
//   d_o = clean_orig  - attack_orig    drop of the original model
//   d_q = clean_quant - attack_quant   drop of the quantized model
//   RRS = d_o / d_q                    (the study's Relative Robustness Score)
// The class is decided by the sign of d_o - d_q alone:
//   d_q < d_o  -> "quantized more robust" (it lost less, or gained more)
//   d_q > d_o  -> "original more robust"
//   d_q == d_o -> "equal"
// RRS is shown as a number only where the ratio means what the study says it
// means, i.e. both drops strictly positive (then RRS > 1 <=> quantized more
// robust). Everywhere else — a zero denominator (d_q == 0), a zero numerator
// (d_o == 0), opposite signs (one model improves under attack while the
// other degrades), or both improving — the cell shows an arrow instead:
//   ↑ quantized more robust, ↓ original more robust, = equal.
// Drops are compared with a tolerance of 1e-12 (pass rates are multiples of
// 1/(tasks x samples), so nothing real is that close without being equal).
#pragma once
#include <stdint.h>

typedef enum { QR_ROB_ORIG = -1, QR_ROB_EQUAL = 0, QR_ROB_QUANT = 1 } QrRobClass;

typedef struct {
    double d_orig, d_quant; // the two drops
    double rrs;             // d_orig / d_quant, or NaN where d_quant == 0
    int numeric;            // 1: show rrs as a number (both drops > 0)
    QrRobClass cls;
} QrRrs;

// Unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k),
// computed as a product so large n does not overflow. k > n returns NaN.
double qr_pass_at_k(int n, int c, int k);
double qr_mean(const double *s, int n);
// Relative drop %Δ = (clean - attack) / clean, as a fraction; NaN if clean == 0.
double qr_rel_drop(double clean, double attack);
QrRrs qr_rrs(double clean_orig, double attack_orig, double clean_quant, double attack_quant);
// "↑", "↓", "=" (UTF-8) and the words used in tables.
const char *qr_rob_arrow(QrRobClass c);
const char *qr_rob_name(QrRobClass c);

// Exact two-sided McNemar test on paired binary outcomes: b = pairs that
// passed only in the first condition, c = only in the second.
// p = min(1, 2 * P[X <= min(b, c)]), X ~ Binomial(b + c, 1/2); 1 when b + c == 0.
double qr_mcnemar_exact(int b, int c);

// ---- Bootstrap (percentile method), resampling tasks with replacement ----
// All k input arrays are resampled with the SAME task indices (paired), the
// statistic sees the k resampled means. B replicates from a seeded
// xoshiro256** stream: same seed, same interval, on any machine.
// The interval is [v_(lo), v_(hi)] of the sorted defined replicates with
// lo = ceil(B' * alpha/2) - 1 and hi = ceil(B' * (1 - alpha/2)) - 1 (0-based,
// nearest rank), B' the number of defined replicates. If more than alpha of
// the replicates are undefined (statistic NaN), the interval is undefined.
typedef double (*QrStatFn)(const double *means, void *ctx);
typedef struct {
    double lo, hi;
    int defined;
    double share_defined; // defined replicates / B
} QrCi;

QrCi qr_bootstrap(const double *const *arrays, int k, int n, QrStatFn stat, void *ctx, int B, uint64_t seed,
                  double alpha);
// Convenience wrappers (alpha = 0.05 gives the 95% intervals of the report).
QrCi qr_boot_mean(const double *s, int n, int B, uint64_t seed, double alpha);
QrCi qr_boot_rel_drop(const double *clean, const double *attack, int n, int B, uint64_t seed, double alpha);
// RRS interval: a replicate's RRS is d_o/d_q where d_q > 0, +inf where d_q == 0
// and d_o > 0, undefined otherwise (the ratio changes meaning there), so the
// RRS interval exists only when the quantized drop is positive in >= 95% of
// replicates. The interval of d_o - d_q is always defined; the comparison
// orig-vs-quant is "significant" when it excludes 0.
void qr_boot_rrs(const double *co, const double *ao, const double *cq, const double *aq, int n, int B,
                 uint64_t seed, double alpha, QrCi *rrs_ci, QrCi *ddiff_ci);

// A deterministic PRNG (xoshiro256** seeded through splitmix64), exposed for
// tests and for anything else that needs reproducible draws.
typedef struct { uint64_t s[4]; } QrXoshiro;
void qr_xoshiro_seed(QrXoshiro *r, uint64_t seed);
uint64_t qr_xoshiro_next(QrXoshiro *r);
// Uniform integer in [0, n) without modulo bias (Lemire's method).
uint32_t qr_xoshiro_below(QrXoshiro *r, uint32_t n);

// Summary shares over a set of classified cells.
typedef struct {
    int n, quant, orig, equal;             // all cells
    int n_sig, sig_quant, sig_orig, sig_equal; // only significant cells
} QrShares;
void qr_shares_add(QrShares *s, QrRobClass c, int significant);
