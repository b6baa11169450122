// eval/metrics: pass@k, %Δ, RRS with its classification rule, McNemar, and
// bootstrap intervals checked against exact bootstrap distributions.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eval/metrics.h"
#include "util/sha256.h"

static void test_sha256_vectors(void **st) {
    (void)st;
    char hex[65];
    qr_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    qr_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; // 56 bytes: padding spills a block
    qr_sha256_hex(m, strlen(m), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // Incremental updates in odd pieces equal one call.
    char big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (char)('a' + i % 26);
    QrSha256 s;
    uint8_t d[32];
    qr_sha256_init(&s);
    for (int i = 0; i < 1000; i += 37) qr_sha256_update(&s, big + i, i + 37 <= 1000 ? 37 : (size_t)(1000 - i));
    qr_sha256_final(&s, d);
    char hex2[65];
    for (int i = 0; i < 32; i++) sprintf(hex2 + 2 * i, "%02x", d[i]);
    qr_sha256_hex(big, 1000, hex);
    assert_string_equal(hex, hex2);
}

static void test_pass_at_k(void **st) {
    (void)st;
    assert_float_equal(qr_pass_at_k(10, 3, 1), 0.3, 1e-15);
    assert_float_equal(qr_pass_at_k(10, 3, 2), 1.0 - 21.0 / 45.0, 1e-15);   // 1 - C(7,2)/C(10,2)
    assert_float_equal(qr_pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-15);  // 1 - C(7,5)/C(10,5)
    assert_float_equal(qr_pass_at_k(5, 3, 3), 1.0, 0);                     // n - c < k
    assert_float_equal(qr_pass_at_k(1, 1, 1), 1.0, 0);
    assert_float_equal(qr_pass_at_k(1, 0, 1), 0.0, 0);
    assert_float_equal(qr_pass_at_k(200, 0, 100), 0.0, 0);
    assert_true(isnan(qr_pass_at_k(3, 1, 4)));
    assert_true(isnan(qr_pass_at_k(3, 4, 1)));
}

static void test_rel_drop(void **st) {
    (void)st;
    assert_float_equal(qr_rel_drop(0.5, 0.4), 0.2, 1e-15);
    assert_float_equal(qr_rel_drop(0.25, 0.5), -1.0, 0);
    assert_true(isnan(qr_rel_drop(0.0, 0.1)));
}

// Each special case of the RRS rule (eval/metrics.h), with binary fractions so
// the drops are exact.
static void check(double co, double ao, double cq, double aq, int numeric, double rrs, QrRobClass cls) {
    QrRrs r = qr_rrs(co, ao, cq, aq);
    assert_int_equal(r.numeric, numeric);
    assert_int_equal(r.cls, cls);
    if (isnan(rrs)) assert_true(isnan(r.rrs));
    else assert_float_equal(r.rrs, rrs, 1e-15);
}

static void test_rrs_cases(void **st) {
    (void)st;
    check(0.5, 0.25, 0.5, 0.375, 1, 2.0, QR_ROB_QUANT);        // both drop, quantized half as much
    check(0.5, 0.375, 0.5, 0.25, 1, 0.5, QR_ROB_ORIG);         // both drop, quantized twice as much
    check(0.5, 0.25, 0.75, 0.5, 1, 1.0, QR_ROB_EQUAL);         // equal drops
    check(0.5, 0.25, 0.5, 0.5, 0, NAN, QR_ROB_QUANT);          // d_q = 0, original dropped: ↑
    check(0.5, 0.75, 0.5, 0.5, 0, NAN, QR_ROB_ORIG);           // d_q = 0, original improved: ↓
    check(0.5, 0.5, 0.25, 0.25, 0, NAN, QR_ROB_EQUAL);         // neither moved: =
    check(0.5, 0.5, 0.5, 0.25, 0, 0.0, QR_ROB_ORIG);           // d_o = 0, quantized dropped: ↓
    check(0.5, 0.5, 0.5, 0.75, 0, 0.0, QR_ROB_QUANT);          // d_o = 0, quantized improved: ↑
    check(0.5, 0.25, 0.5, 0.625, 0, -2.0, QR_ROB_QUANT);       // opposite: orig degrades, quant improves
    check(0.5, 0.625, 0.5, 0.25, 0, -0.5, QR_ROB_ORIG);        // opposite: orig improves, quant degrades
    check(0.25, 0.5, 0.25, 0.375, 0, 2.0, QR_ROB_ORIG);        // both improve, original more: ratio 2 but ↓
    check(0.25, 0.375, 0.25, 0.5, 0, 0.5, QR_ROB_QUANT);       // both improve, quantized more: ↑
    assert_string_equal(qr_rob_arrow(QR_ROB_QUANT), "↑");
    assert_string_equal(qr_rob_arrow(QR_ROB_ORIG), "↓");
    assert_string_equal(qr_rob_arrow(QR_ROB_EQUAL), "=");
    // The study's table's numbers: a drop of 0.1 vs 0.05 as floats.
    QrRrs r = qr_rrs(0.3, 0.2, 0.3, 0.25);
    assert_float_equal(r.rrs, 2.0, 1e-12);
    assert_int_equal(r.cls, QR_ROB_QUANT);
}

static void test_mcnemar(void **st) {
    (void)st;
    assert_float_equal(qr_mcnemar_exact(0, 0), 1.0, 0);
    assert_float_equal(qr_mcnemar_exact(1, 0), 1.0, 1e-15);
    assert_float_equal(qr_mcnemar_exact(5, 0), 0.0625, 1e-14);          // 2 / 2^5
    assert_float_equal(qr_mcnemar_exact(2, 8), 112.0 / 1024.0, 1e-14);  // 2 (1+10+45) / 2^10
    assert_float_equal(qr_mcnemar_exact(8, 2), 112.0 / 1024.0, 1e-14);  // symmetric
    assert_float_equal(qr_mcnemar_exact(10, 0), 2.0 / 1024.0, 1e-15);
    assert_float_equal(qr_mcnemar_exact(5, 5), 1.0, 0);                  // capped at 1
    // Large n stays finite and sane: 60 vs 40 discordant pairs.
    double p = qr_mcnemar_exact(60, 40);
    assert_true(p > 0.05 && p < 0.06); // exact value 0.0569 (normal approx. with continuity 0.0578)
}

static void test_rng(void **st) {
    (void)st;
    QrXoshiro a, b;
    qr_xoshiro_seed(&a, 42);
    qr_xoshiro_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(qr_xoshiro_next(&a) == qr_xoshiro_next(&b));
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t v = qr_xoshiro_below(&a, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++) assert_true(abs(counts[i] - 10000) < 500);
}

// The bootstrap distribution of the mean of n binary outcomes with c ones is
// exactly Binomial(n, c/n) / n, so the percentile interval has a closed form.
static int binom_quantile(int n, double p, double q) {
    double cdf = 0;
    for (int x = 0; x <= n; x++) {
        cdf += exp(lgamma(n + 1.0) - lgamma(x + 1.0) - lgamma(n - x + 1.0) + x * log(p) + (n - x) * log1p(-p));
        if (cdf >= q - 1e-12) return x;
    }
    return n;
}

static void test_bootstrap_mean_closed_form(void **st) {
    (void)st;
    enum { N = 164, C = 50 };
    double s[N];
    for (int i = 0; i < N; i++) s[i] = i % 3 == 0 && i / 3 < C ? 1.0 : 0.0;
    double sum = 0;
    for (int i = 0; i < N; i++) sum += s[i];
    assert_float_equal(sum, C, 0);
    QrCi ci = qr_boot_mean(s, N, 40000, 7, 0.05);
    assert_true(ci.defined);
    int lo = binom_quantile(N, (double)C / N, 0.025), hi = binom_quantile(N, (double)C / N, 0.975);
    // lo = 39, hi = 62 (exact); a replicate quantile may land one step away.
    assert_int_equal(lo, 39);
    assert_int_equal(hi, 62);
    assert_true(fabs(ci.lo * N - lo) <= 1.0 + 1e-9);
    assert_true(fabs(ci.hi * N - hi) <= 1.0 + 1e-9);
    // Same seed, same interval; the default-size run (B = 2000) is close too.
    QrCi again = qr_boot_mean(s, N, 40000, 7, 0.05);
    assert_true(again.lo == ci.lo && again.hi == ci.hi);
    QrCi small = qr_boot_mean(s, N, 2000, 1, 0.05);
    assert_true(fabs(small.lo * N - lo) <= 2.0 + 1e-9 && fabs(small.hi * N - hi) <= 2.0 + 1e-9);
}

// %Δ on paired outcomes: the exact bootstrap distribution is the multinomial
// over the four (clean, attack) outcome pairs; enumerate it and check that
// the interval's endpoints sit at the 2.5% / 97.5% points of the exact CDF.
typedef struct { double v, p; } VP;
static int cmp_vp(const void *a, const void *b) {
    double x = ((const VP *)a)->v, y = ((const VP *)b)->v;
    return x < y ? -1 : x > y ? 1 : 0;
}

static void test_bootstrap_rel_drop_exact(void **st) {
    (void)st;
    enum { N = 12 };
    const int cnt[4] = {5, 3, 1, 3}; // (1,1), (1,0), (0,1), (0,0)
    double clean[N], attack[N];
    int t = 0;
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < cnt[k]; j++, t++) {
            clean[t] = k < 2;
            attack[t] = k == 0 || k == 2;
        }
    VP *dist = malloc(sizeof(VP) * 500);
    int nd = 0;
    double pdef = 0;
    for (int a = 0; a <= N; a++)
        for (int b = 0; a + b <= N; b++)
            for (int c = 0; a + b + c <= N; c++) {
                int d = N - a - b - c;
                double lp = lgamma(N + 1.0) - lgamma(a + 1.0) - lgamma(b + 1.0) - lgamma(c + 1.0) - lgamma(d + 1.0);
                const int x[4] = {a, b, c, d};
                for (int k = 0; k < 4; k++)
                    if (x[k]) lp += x[k] * log((double)cnt[k] / N);
                if (a + b == 0) continue; // clean = 0: %Δ undefined
                dist[nd].v = (double)(b - c) / (a + b);
                dist[nd].p = exp(lp);
                pdef += dist[nd].p;
                nd++;
            }
    qsort(dist, (size_t)nd, sizeof(VP), cmp_vp);
    QrCi ci = qr_boot_rel_drop(clean, attack, N, 40000, 3, 0.05);
    assert_true(ci.defined);
    // F(v-) <= q + tol and F(v) >= q - tol for each endpoint, F the exact CDF
    // conditioned on a defined %Δ; tol = 5 sd of an empirical quantile's level.
    const double tol = 0.004;
    double ends[2] = {ci.lo, ci.hi}, qs[2] = {0.025, 0.975};
    for (int e = 0; e < 2; e++) {
        double below = 0, upto = 0;
        for (int i = 0; i < nd; i++) {
            if (dist[i].v < ends[e] - 1e-12) below += dist[i].p / pdef;
            if (dist[i].v <= ends[e] + 1e-12) upto += dist[i].p / pdef;
        }
        assert_true(below <= qs[e] + tol);
        assert_true(upto >= qs[e] - tol);
    }
    // Point estimate: (3 - 1) / 8 = 0.25 lies inside.
    assert_true(ci.lo < 0.25 && ci.hi > 0.25);
    free(dist);
}

static void test_bootstrap_rrs(void **st) {
    (void)st;
    enum { N = 100 };
    double co[N], ao[N], cq[N], aq[N];
    // orig: 60 -> 40 (drop .2); quant: 60 -> 50 (drop .1): RRS 2, quantized more robust.
    for (int i = 0; i < N; i++) {
        co[i] = i < 60;
        ao[i] = i < 40;
        cq[i] = i < 60;
        aq[i] = i < 50;
    }
    QrCi r, d;
    qr_boot_rrs(co, ao, cq, aq, N, 4000, 11, 0.05, &r, &d);
    assert_true(r.defined);
    assert_true(r.lo < 2.0 && r.hi > 2.0 && r.lo > 1.0); // d_o - d_q = .1 with tasks paired: significant
    assert_true(d.defined);
    assert_true(d.lo > 0 && d.hi < 0.2 && d.lo < 0.1 && d.hi > 0.1);
    // The quantized model loses nothing: the ratio's interval is undefined,
    // the drop difference's is not.
    for (int i = 0; i < N; i++) aq[i] = cq[i];
    qr_boot_rrs(co, ao, cq, aq, N, 4000, 11, 0.05, &r, &d);
    assert_true(r.defined); // d_q == 0 in every replicate and d_o > 0: +inf throughout
    assert_true(isinf(r.lo) && isinf(r.hi));
    // Quantized drop straddling zero: ratio undefined in many replicates.
    for (int i = 0; i < N; i++) aq[i] = (i < 60 && i % 20 != 0) || (i >= 60 && i % 20 == 1);
    qr_boot_rrs(co, ao, cq, aq, N, 4000, 11, 0.05, &r, &d);
    assert_false(r.defined);
    assert_true(r.share_defined < 0.95);
    assert_true(d.defined && d.lo > 0);
}

static void test_shares(void **st) {
    (void)st;
    QrShares s = {0};
    qr_shares_add(&s, QR_ROB_QUANT, 1);
    qr_shares_add(&s, QR_ROB_QUANT, 0);
    qr_shares_add(&s, QR_ROB_ORIG, 1);
    qr_shares_add(&s, QR_ROB_EQUAL, 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.quant, 2);
    assert_int_equal(s.orig, 1);
    assert_int_equal(s.equal, 1);
    assert_int_equal(s.n_sig, 2);
    assert_int_equal(s.sig_quant, 1);
    assert_int_equal(s.sig_orig, 1);
    assert_int_equal(s.sig_equal, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_pass_at_k),
        cmocka_unit_test(test_rel_drop),
        cmocka_unit_test(test_rrs_cases),
        cmocka_unit_test(test_mcnemar),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_bootstrap_mean_closed_form),
        cmocka_unit_test(test_bootstrap_rel_drop_exact),
        cmocka_unit_test(test_bootstrap_rrs),
        cmocka_unit_test(test_shares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
