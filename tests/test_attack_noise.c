// attacks/rng + attacks/noise: Philox known answers, the noise generator bit for
// bit against the independent Python reference (tools/noise_reference.py),
// thread-count independence, moments on 10M elements, targets.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise.h"
#include "attacks/rng.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_philox_kat(void **st) {
    (void)st;
    // Random123 kat_vectors, "philox4x32 10" lines: counter, key -> output.
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        qr_philox4x32_10(kat[t], kat[t] + 4, out);
        for (int j = 0; j < 4; j++) assert_int_equal(out[j], kat[t][6 + j]);
    }
}

static void test_key_and_stream(void **st) {
    (void)st;
    const char *a[2] = {"ab", "c"}, *b[2] = {"a", "bc"};
    assert_true(qr_key64(1, a, 2) != qr_key64(1, b, 2));
    assert_true(qr_key64(1, a, 2) != qr_key64(2, a, 2));
    assert_true(qr_key64(1, a, 2) == qr_key64(1, a, 2));
    // The stream is Philox(counter = 0, 1, ...) word by word.
    QrRng r;
    qr_rng_init(&r, 0);
    uint32_t expect[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    for (int j = 0; j < 4; j++) assert_int_equal(qr_rng_u32(&r), expect[j]);
    uint32_t ctr[4] = {1, 0, 0, 0}, key[2] = {0, 0}, out[4];
    qr_philox4x32_10(ctr, key, out);
    assert_int_equal(qr_rng_u32(&r), out[0]);
    // below(): in range and roughly uniform over 3 buckets.
    int cnt[3] = {0};
    for (int i = 0; i < 30000; i++) cnt[qr_rng_below(&r, 3)]++;
    for (int j = 0; j < 3; j++) assert_true(cnt[j] > 9500 && cnt[j] < 10500);
    double u = qr_rng_uniform(&r);
    assert_true(u >= 0 && u < 1);
}

static void test_known_answers(void **st) {
    (void)st;
    FILE *f = fopen("tests/fixtures/attack/noise_kat.txt", "r");
    assert_non_null(f);
    char line[512];
    int nnoise = 0, nln = 0, ncs = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[200], dist[32], lv[64], val[64], v2[64];
        unsigned long long seed, idx;
        unsigned m;
        if (sscanf(line, "ln_u %u %63s", &m, val) == 2) {
            assert_int_equal(bits(qr_noise_ln_u(m)), bits(strtof(val, NULL)));
            nln++;
        } else if (sscanf(line, "cossin %u %63s %63s", &m, val, v2) == 3) {
            float c, s;
            qr_noise_cossin(m, &c, &s);
            assert_int_equal(bits(c), bits(strtof(val, NULL)));
            assert_int_equal(bits(s), bits(strtof(v2, NULL)));
            ncs++;
        } else {
            assert_int_equal(sscanf(line, "%llu %199s %31s %63s %llu %63s", &seed, name, dist, lv, &idx, val), 6);
            QrNoiseSpec sp = {.seed = seed, .level = strtof(lv, NULL)};
            QrErr e;
            assert_int_equal(qr_noise_parse_dist(dist, &sp.dist, &e), 0);
            QrNoiseKey k;
            qr_noise_key(&k, &sp, name);
            float got = qr_noise_at(&k, idx);
            if (bits(got) != bits(strtof(val, NULL)))
                fail_msg("%s %s i=%llu: got %a want %s", name, dist, idx, (double)got, val);
            nnoise++;
        }
    }
    fclose(f);
    assert_int_equal(nnoise, 52);
    assert_int_equal(nln, 9);
    assert_int_equal(ncs, 10);
}

static void test_fill_matches_pointwise(void **st) {
    (void)st;
    QrNoiseSpec sp = {QR_NOISE_GAUSSIAN, 1e-2f, 99, QR_NOISE_ALL};
    QrNoiseKey k;
    qr_noise_key(&k, &sp, "w");
    float buf[37];
    for (uint64_t start = 0; start < 9; start++) {
        qr_noise_fill(&k, start + 1000, 37, buf);
        for (int j = 0; j < 37; j++) assert_int_equal(bits(buf[j]), bits(qr_noise_at(&k, start + 1000 + j)));
    }
    // Long runs (the 8-lane AVX2 path where built) and a run across the
    // 2^32-block boundary of the counter, both distributions, bit for bit.
    static float big[70000];
    for (int d = 0; d < 2; d++) {
        QrNoiseSpec s2 = {d ? QR_NOISE_UNIFORM : QR_NOISE_GAUSSIAN, 3e-3f, 42, QR_NOISE_ALL};
        QrNoiseKey kk;
        qr_noise_key(&kk, &s2, "model.embed_tokens.weight");
        const uint64_t starts[2] = {12345, ((1ull << 32) - 5) * 4 + 1};
        for (int t = 0; t < 2; t++) {
            size_t n = t ? 200 : 70000;
            qr_noise_fill(&kk, starts[t], n, big);
            for (size_t j = 0; j < n; j++)
                if (bits(big[j]) != bits(qr_noise_at(&kk, starts[t] + j)))
                    fail_msg("dist %d start %llu + %zu: %a vs %a", d, (unsigned long long)starts[t], j, (double)big[j],
                             (double)qr_noise_at(&kk, starts[t] + j));
        }
    }
    // Another tensor name, another seed: other noise.
    QrNoiseKey k2, k3;
    qr_noise_key(&k2, &sp, "w2");
    sp.seed = 100;
    qr_noise_key(&k3, &sp, "w");
    assert_true(qr_noise_at(&k, 5) != qr_noise_at(&k2, 5));
    assert_true(qr_noise_at(&k, 5) != qr_noise_at(&k3, 5));
}

#define NBIG 10000000
static void check_moments(QrNoiseDist d, float level, double want_std) {
    QrNoiseSpec sp = {d, level, 2024, QR_NOISE_ALL};
    QrNoiseKey k;
    qr_noise_key(&k, &sp, "model.layers.3.mlp.down_proj.weight");
    float *w = calloc(NBIG, sizeof *w);
    assert_non_null(w);
    qr_noise_add_f32(&k, 0, w, NBIG, 1);
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < NBIG; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        if (fabs(w[i]) > mx) mx = fabs(w[i]);
    }
    double mean = s / NBIG, sd = sqrt(s2 / NBIG - mean * mean);
    printf("  %s level %g: mean %.3e (%.3f%% of target sd), sd %.6e (target %.6e, %+.3f%%), max |x| %.3e\n",
           qr_noise_dist_name(d), (double)level, mean, 100 * fabs(mean) / want_std, sd, want_std,
           100 * (sd / want_std - 1), mx);
    assert_true(fabs(mean) < 0.01 * want_std);
    assert_true(fabs(sd / want_std - 1) < 0.01);
    if (d == QR_NOISE_UNIFORM) assert_true(mx < level);
    else assert_true(mx < 5.78 * level);
    free(w);
}

static void test_moments_10m(void **st) {
    (void)st;
    check_moments(QR_NOISE_GAUSSIAN, 1e-3f, 1e-3);
    check_moments(QR_NOISE_UNIFORM, 5e-3f, 5e-3 / sqrt(3.0));
}

static void test_thread_count_independent(void **st) {
    (void)st;
    const size_t n = 1000003; // not a multiple of the chunk or of 4
    QrNoiseSpec sp = {QR_NOISE_GAUSSIAN, 3e-3f, 5, QR_NOISE_ALL};
    QrNoiseKey k;
    qr_noise_key(&k, &sp, "t");
    float *ref = NULL;
    int threads[3] = {1, 2, 4};
    for (int t = 0; t < 3; t++) {
        float *w = malloc(n * sizeof *w);
        for (size_t i = 0; i < n; i++) w[i] = (float)i * 1e-6f;
        omp_set_num_threads(threads[t]);
        qr_noise_add_f32(&k, 7, w, n, 1);
        if (!ref) ref = w;
        else {
            assert_memory_equal(ref, w, n * sizeof *w);
            free(w);
        }
    }
    omp_set_num_threads(omp_get_num_procs());
    // Undo: back to the original values up to one rounding of each addition.
    qr_noise_add_f32(&k, 7, ref, n, -1);
    for (size_t i = 0; i < n; i++) assert_true(fabsf(ref[i] - (float)i * 1e-6f) <= 2.5e-7f);
    free(ref);
}

static void test_sites_and_names(void **st) {
    (void)st;
    // (target, quantizable, model_quantized) -> site
    assert_int_equal(qr_noise_site(QR_NOISE_ALL, 0, 0), QR_NOISE_IN_PLACE);
    assert_int_equal(qr_noise_site(QR_NOISE_ALL, 1, 0), QR_NOISE_IN_PLACE);
    assert_int_equal(qr_noise_site(QR_NOISE_ALL, 0, 1), QR_NOISE_IN_PLACE);
    assert_int_equal(qr_noise_site(QR_NOISE_ALL, 1, 1), QR_NOISE_IN_KERNEL);
    assert_int_equal(qr_noise_site(QR_NOISE_UNQUANTIZED_ONLY, 0, 1), QR_NOISE_IN_PLACE);
    assert_int_equal(qr_noise_site(QR_NOISE_UNQUANTIZED_ONLY, 1, 1), QR_NOISE_SKIP);
    assert_int_equal(qr_noise_site(QR_NOISE_UNQUANTIZED_ONLY, 1, 0), QR_NOISE_SKIP);
    assert_int_equal(qr_noise_site(QR_NOISE_PRE_QUANT, 0, 1), QR_NOISE_SKIP);
    assert_int_equal(qr_noise_site(QR_NOISE_PRE_QUANT, 1, 1), QR_NOISE_BEFORE_QUANT);
    assert_int_equal(qr_noise_site(QR_NOISE_PRE_QUANT, 1, 0), QR_NOISE_IN_PLACE);
    assert_int_equal(qr_noise_site(QR_NOISE_POST_QUANT, 0, 1), QR_NOISE_SKIP);
    assert_int_equal(qr_noise_site(QR_NOISE_POST_QUANT, 1, 1), QR_NOISE_IN_KERNEL);
    assert_int_equal(qr_noise_site(QR_NOISE_POST_QUANT, 1, 0), QR_NOISE_IN_PLACE);
    QrErr e;
    QrNoiseTarget t;
    QrNoiseDist d;
    assert_int_equal(qr_noise_parse_target("unquantized-only", &t, &e), 0);
    assert_int_equal(t, QR_NOISE_UNQUANTIZED_ONLY);
    assert_string_equal(qr_noise_target_name(QR_NOISE_PRE_QUANT), "pre-quant");
    assert_int_equal(qr_noise_parse_target("everything", &t, &e), -1);
    assert_non_null(strstr(e.msg, "'everything'"));
    assert_int_equal(qr_noise_parse_dist("uniform", &d, &e), 0);
    assert_int_equal(d, QR_NOISE_UNIFORM);
    assert_int_equal(qr_noise_parse_dist("normal", &d, &e), -1);
    assert_non_null(strstr(e.msg, "gaussian or uniform"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat),
        cmocka_unit_test(test_key_and_stream),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_fill_matches_pointwise),
        cmocka_unit_test(test_moments_10m),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_sites_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
