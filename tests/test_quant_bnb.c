// quant/: NF4 + double quantization and LLM.int8 against the real
// bitsandbytes (fixtures written by tools/quant_fixtures.py with bitsandbytes
// 0.50.2 on its CPU backend), hand-computed byte layouts, and the statistical
// error figures of bitsandbytes' own test suite.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/bnb.h"
#include "quant/int8.h"
#include "quant/nf4.h"
#include "tests/quant_testutil.h"

static QrSafetensors fx;

static int setup(void **st) {
    (void)st;
    QrErr e;
    if (qr_st_open(&fx, QFIX, &e) == 0) return 0;
    fprintf(stderr, "%s\n", e.msg);
    return -1;
}

static int teardown(void **st) {
    (void)st;
    qr_st_close(&fx);
    return 0;
}

// The matrices of tools/quant_fixtures.py: inputs stored in the fixture, or
// regenerated here from (seed, scale) with qt_gen().
typedef struct {
    const char *name;
    uint64_t seed;
    int64_t rows, cols;
    double scale;
} Case;
static const Case CASES[] = {
    {"small", 1, 16, 64, 0.02},  {"odd", 2, 7, 9, 1.0},         {"tail", 3, 33, 70, 0.05},
    {"multi", 4, 160, 200, 0.02}, {"large", 5, 384, 704, 0.01}, {"special", 0, 4, 128, 0},
};

static const void *need(const char *name, size_t nbytes) {
    size_t n = 0;
    const void *p = qt_get(&fx, name, &n);
    if (!p) fail_msg("fixture tensor %s missing", name);
    if (nbytes != (size_t)-1 && n != nbytes) fail_msg("fixture tensor %s: %zu bytes, expected %zu", name, n, nbytes);
    return p;
}

static void test_nf4_table(void **st) {
    (void)st;
    assert_memory_equal(qr_nf4_code, need("nf4_code", 64), 64);
    // Published endpoints and zero.
    assert_true(qr_nf4_code[0] == -1.0f && qr_nf4_code[7] == 0.0f && qr_nf4_code[15] == 1.0f);
    for (int i = 0; i < 15; i++) assert_true(qr_nf4_code[i] < qr_nf4_code[i + 1]);
}

static void test_dynamic_map(void **st) {
    (void)st;
    float map[256];
    qr_bnb_dynamic_map(map);
    assert_memory_equal(map, need("dynamic_map", 1024), 1024);
    // Golden values: smallest -0.99296875 (mean of linspace(0.1, 1, 65)[0:2]
    // ends), one exact zero, 1.0 on top, ascending.
    assert_true(map[0] == -0.992968738f);
    assert_true(map[255] == 1.0f);
    int zeros = 0;
    for (int i = 0; i < 256; i++) zeros += map[i] == 0.0f;
    assert_int_equal(zeros, 1);
    for (int i = 0; i < 255; i++) assert_true(map[i] < map[i + 1]);
}

static void test_torch_sum(void **st) {
    (void)st;
    size_t nb = 0;
    const int64_t *lens = qt_get(&fx, "torchsum.lens", &nb);
    assert_non_null(lens);
    const int nl = (int)(nb / 8);
    const float *s1 = need("torchsum.sum_t1", (size_t)nl * 4), *m1 = need("torchsum.mean_t1", (size_t)nl * 4);
    for (int i = 0; i < nl; i++) {
        float *x = malloc(sizeof(float) * (size_t)lens[i]);
        qt_gen(1000 + (uint64_t)i, lens[i], 0.01, x);
        for (int64_t k = 0; k < lens[i]; k++) x[k] = fabsf(x[k]);
        const float s = qr_torch_sum_f32(x, lens[i]);
        if (memcmp(&s, &s1[i], 4) != 0) fail_msg("n=%lld: sum %.9g, torch %.9g", (long long)lens[i], s, s1[i]);
        const float m = s / (float)lens[i];
        assert_memory_equal(&m, &m1[i], 4);
        free(x);
    }
}

// Hand-computed layout: codes by nearest NF4 level, high nibble first.
static void test_nf4_layout_by_hand(void **st) {
    (void)st;
    float w[64] = {0};
    w[0] = 1.0f;   // code 15
    w[1] = -1.0f;  // code 0          -> byte 0: 0xF0
    w[2] = 0.0f;   // code 7
    w[3] = 0.5f;   // between 0.4407 (12) and 0.5626 (13), midpoint 0.50166 -> 12: byte 0x7C
    w[4] = -0.3f;  // between -0.3949 (3) and -0.2844 (4), midpoint -0.3397 -> 4
    w[5] = 0.2f;   // between 0.1609 (9) and 0.2461 (10), midpoint 0.2035 -> 9: byte 0x49
    QrNF4 q;
    QrErr e;
    assert_int_equal(qr_nf4_quantize(&q, w, 1, 64, &e), 0);
    assert_int_equal(q.nblocks, 1);
    assert_int_equal(q.nblocks2, 1);
    assert_int_equal(q.packed[0], 0xF0);
    assert_int_equal(q.packed[1], 0x7C);
    assert_int_equal(q.packed[2], 0x49);
    for (int i = 3; i < 32; i++) assert_int_equal(q.packed[i], 0x77); // zeros
    // One block: offset = absmax = 1, absmax - offset = 0 -> all-zero 8-bit
    // block: code index 0 with scale 0, reconstructing exactly the offset.
    assert_true(q.offset == 1.0f);
    assert_int_equal(q.absmax_q[0], 0);
    assert_true(q.absmax2[0] == 0.0f);
    float d[64];
    qr_nf4_dequantize(&q, d);
    assert_true(d[0] == 1.0f && d[1] == -1.0f && d[2] == 0.0f);
    assert_true(d[3] == qr_nf4_code[12]);
    qr_nf4_free(&q);

    // Odd element count: a short last block divides by its absmax, the pad is code 7.
    const float w3[3] = {0.2f, -0.3f, 1.0f};
    uint8_t packed[2];
    float absmax[1];
    qr_nf4_quantize_blocks(w3, 3, packed, absmax);
    assert_int_equal(packed[0], 0x94);
    assert_int_equal(packed[1], 0xF7);
    assert_true(absmax[0] == 1.0f);
    // An all-zero short block stores absmax 1e-38 (torch's clamp), codes 7.
    const float z3[3] = {0, 0, 0};
    qr_nf4_quantize_blocks(z3, 3, packed, absmax);
    assert_int_equal(packed[0], 0x77);
    assert_true(absmax[0] == 1e-38f);
}

static void test_int8_layout_by_hand(void **st) {
    (void)st;
    // Row 0: absmax 1 -> scale 127. -0.5 * 127 = -63.5 rounds half to even: -64.
    // Row 1: absmax 3 -> scale (1/3)*127 = 42.333336; 1 -> 42, -1.5 -> -63.5 -> -64.
    // Row 2: zeros -> SCB 0, codes 0. Row 3: 1e-5 is below float16's normal
    // range but representable; 70000 is not allowed (float16 overflow).
    const float w[12] = {1.0f, -0.5f, 0.25f, 3.0f, 1.0f, -1.5f, 0, 0, 0, 1.0f, 1e-5f, -0.0f};
    QrInt8 q;
    QrErr e;
    assert_int_equal(qr_int8_quantize(&q, w, 4, 3, &e), 0);
    const int8_t want[12] = {127, -64, 32, 127, 42, -64, 0, 0, 0, 127, 0, 0};
    assert_memory_equal(q.w, want, 12);
    assert_true(q.scb[0] == 1.0f && q.scb[1] == 3.0f && q.scb[2] == 0.0f && q.scb[3] == 1.0f);
    qr_int8_free(&q);
    const float bad[2] = {1.0f, 70000.0f};
    assert_int_equal(qr_int8_quantize(&q, bad, 1, 2, &e), -1);
    assert_non_null(strstr(e.msg, "element 1"));
    const float nan2[2] = {NAN, 1.0f};
    assert_int_equal(qr_nf4_quantize((QrNF4 *)&(QrNF4){0}, nan2, 1, 2, &e), -1);
    assert_non_null(strstr(e.msg, "not finite"));
}

// Every matrix the fixture holds: what qrobust computes must equal, byte for
// byte, what bitsandbytes produced.
static void check_case(const char *name) {
    const Case *cs = NULL;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        if (!strcmp(CASES[i].name, name)) cs = &CASES[i];
    assert_non_null(cs);
    char key[128];
    const int64_t rows = cs->rows, cols = cs->cols, n = rows * cols;
    float *w = malloc(sizeof(float) * (size_t)n);
    snprintf(key, sizeof key, "%s.input", name);
    size_t nin = 0;
    const float *in = qt_get(&fx, key, &nin);
    if (in) {
        assert_int_equal(nin, (size_t)n * 4);
        memcpy(w, in, sizeof(float) * (size_t)n);
    } else {
        qt_gen(cs->seed, n, cs->scale, w);
    }
    QrNF4 q;
    QrErr e;
    assert_int_equal(qr_nf4_quantize(&q, w, rows, cols, &e), 0);
#define FIX(suffix, bytes) (snprintf(key, sizeof key, "%s." suffix, name), need(key, (bytes)))
    assert_memory_equal(q.packed, FIX("nf4.packed", (size_t)(n + 1) / 2), (size_t)(n + 1) / 2);
    assert_memory_equal(q.absmax_q, FIX("nf4.absmax_q", (size_t)q.nblocks), (size_t)q.nblocks);
    assert_memory_equal(q.absmax2, FIX("nf4.absmax2", (size_t)q.nblocks2 * 4), (size_t)q.nblocks2 * 4);
    assert_memory_equal(&q.offset, FIX("nf4.offset", 4), 4);
    // First stage alone.
    uint8_t *packed = malloc((size_t)(n + 1) / 2);
    float *absmax = malloc(sizeof(float) * (size_t)q.nblocks);
    qr_nf4_quantize_blocks(w, n, packed, absmax);
    assert_memory_equal(absmax, FIX("nf4.absmax_plain", (size_t)q.nblocks * 4), (size_t)q.nblocks * 4);
    // Dequantized weights (the fixture keeps all of them for small cases, the
    // first 4096 for large ones).
    float *d = malloc(sizeof(float) * (size_t)n);
    qr_nf4_dequantize(&q, d);
    size_t nd;
    snprintf(key, sizeof key, "%s.nf4.deq", name);
    const float *ref = qt_get(&fx, key, &nd);
    assert_non_null(ref);
    assert_memory_equal(d, ref, nd);
    // LLM.int8 weights + SCB.
    QrInt8 q8;
    assert_int_equal(qr_int8_quantize(&q8, w, rows, cols, &e), 0);
    assert_memory_equal(q8.w, FIX("int8.w", (size_t)n), (size_t)n);
    assert_memory_equal(q8.scb, FIX("int8.scb", (size_t)rows * 4), (size_t)rows * 4);
    assert_int_equal(qr_int8_validate(&q8, &e), 0);
#undef FIX
    qr_int8_free(&q8);
    qr_nf4_free(&q);
    free(packed);
    free(absmax);
    free(d);
    free(w);
}

static void test_fixture_small(void **st) { (void)st; check_case("small"); }
static void test_fixture_odd(void **st) { (void)st; check_case("odd"); }
static void test_fixture_tail(void **st) { (void)st; check_case("tail"); }
static void test_fixture_multi(void **st) { (void)st; check_case("multi"); }
static void test_fixture_large(void **st) { (void)st; check_case("large"); }
static void test_fixture_special(void **st) { (void)st; check_case("special"); }

// The SIMD quantizers and the scalar ones give the same bytes: every case again
// with the scalar code forced (the cases above ran the build's best level).
static void test_fixtures_scalar_path(void **st) {
    (void)st;
    qr_qisa_cap("scalar");
    assert_string_equal(qr_qisa_name(), "scalar");
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(CASES[i].name);
    qr_qisa_cap(NULL);
}

static void test_activation_quant(void **st) {
    (void)st;
    const float *x = need("act.x", 5 * 200 * 4);
    int8_t q[5 * 200];
    float sa[5];
    uint8_t oc[200];
    int64_t nout = qr_int8_quantize_act(x, 5, 200, 6.0f, q, sa, oc);
    size_t nb = 0;
    const int64_t *cols = qt_get(&fx, "act.t6.cols", &nb);
    assert_int_equal(nout, (int64_t)(nb / 8));
    for (int64_t k = 0; k < nout; k++) assert_int_equal(oc[cols[k]], 1);
    assert_memory_equal(q, need("act.t6.ca", 1000), 1000);
    assert_memory_equal(sa, need("act.t6.sca", 20), 20);
    nout = qr_int8_quantize_act(x, 5, 200, 0.0f, q, sa, NULL);
    assert_int_equal(nout, 0);
    assert_memory_equal(q, need("act.t0.ca", 1000), 1000);
    assert_memory_equal(sa, need("act.t0.sca", 20), 20);
    // One row (decode).
    nout = qr_int8_quantize_act(x, 1, 200, 6.0f, q, sa, oc);
    cols = qt_get(&fx, "act.row0.cols", &nb);
    assert_int_equal(nout, (int64_t)(nb / 8));
    assert_int_equal(oc[cols[0]], 1);
    assert_memory_equal(q, need("act.row0.ca", 200), 200);
    assert_memory_equal(sa, need("act.row0.sca", 4), 4);
}

// bitsandbytes tests/test_functional.py, TestQuantize4BitFunctional:
// test_4bit_quant (nf4, blocksize 64, randn(1024, 1024)): mean abs error
// 0.072798 +- 0.000074, mean relative error 0.203339 +- 0.000340 (mean, std
// over 200 samples); test_4bit_compressed_stats: with double quantization
// error < 0.11 and relative error < 0.28.
static void test_statistical_golden(void **st) {
    (void)st;
    const int64_t n = 1024 * 1024;
    float *a = malloc(sizeof(float) * (size_t)n), *d = malloc(sizeof(float) * (size_t)n);
    // Box-Muller over the splitmix stream: a seeded standard normal sample.
    uint64_t s = 0x5eed;
    for (int64_t i = 0; i < n; i += 2) {
        double u[2];
        for (int j = 0; j < 2; j++) {
            uint64_t z = (s += 0x9E3779B97F4A7C15ull);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            z = z ^ (z >> 31);
            u[j] = ((double)(z >> 11) + 0.5) * 0x1.0p-53;
        }
        const double r = sqrt(-2.0 * log(u[0]));
        a[i] = (float)(r * cos(2 * M_PI * u[1]));
        a[i + 1] = (float)(r * sin(2 * M_PI * u[1]));
    }
    // Single-level NF4 (compress_statistics=False).
    uint8_t *packed = malloc((size_t)n / 2);
    float *absmax = malloc(sizeof(float) * (size_t)(n / 64));
    qr_nf4_quantize_blocks(a, n, packed, absmax);
    double err = 0, rel = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t b = packed[i / 2];
        const float v = qr_nf4_code[(i & 1) ? (b & 15) : (b >> 4)] * absmax[i / 64];
        const double ad = fabs((double)a[i] - v);
        err += ad;
        rel += ad / (fabs((double)a[i]) + 1e-8);
    }
    err /= (double)n;
    rel /= (double)n;
    print_message("nf4 bs64: mean abs err %.6f, mean rel err %.6f\n", err, rel);
    assert_true(fabs(err - 0.0728) <= 0.0003);
    assert_true(fabs(rel - 0.2033) <= 0.001);
    // With double quantization.
    QrNF4 q;
    QrErr e;
    assert_int_equal(qr_nf4_quantize(&q, a, 1024, 1024, &e), 0);
    qr_nf4_dequantize(&q, d);
    double err2 = 0, rel2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const double ad = fabs((double)a[i] - d[i]);
        err2 += ad;
        rel2 += ad / (fabs((double)a[i]) + 1e-15);
    }
    err2 /= (double)n;
    rel2 /= (double)n;
    print_message("nf4 bs64 + double quant: mean abs err %.6f, mean rel err %.6f\n", err2, rel2);
    assert_true(err2 < 0.11);
    assert_true(rel2 < 0.28);
    // Double quantization of the scales costs almost nothing here: within 0.5%.
    assert_true(err2 <= err * 1.005);
    qr_nf4_free(&q);
    free(packed);
    free(absmax);
    free(a);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nf4_table),
        cmocka_unit_test(test_dynamic_map),
        cmocka_unit_test(test_torch_sum),
        cmocka_unit_test(test_nf4_layout_by_hand),
        cmocka_unit_test(test_int8_layout_by_hand),
        cmocka_unit_test(test_fixture_small),
        cmocka_unit_test(test_fixture_odd),
        cmocka_unit_test(test_fixture_tail),
        cmocka_unit_test(test_fixture_multi),
        cmocka_unit_test(test_fixture_large),
        cmocka_unit_test(test_fixture_special),
        cmocka_unit_test(test_fixtures_scalar_path),
        cmocka_unit_test(test_activation_quant),
        cmocka_unit_test(test_statistical_golden),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
