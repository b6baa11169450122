// kernels/nf4_matmul.c and kernels/int8_matmul.c against their scalar
// references, on every SIMD path this CPU has (QROBUST_SIMD caps the level),
// with and without outliers, on shapes that are not multiples of 64, 256 or the
// vector width.
//
// Tolerances: NF4 fast vs reference within 1e-5 of the largest |y_ref| of the
// call (the fast path sums in a different order and factors the block scale
// out of each block's sum); the reference itself equals bitsandbytes'
// dequantize-then-matmul up to summation order. Shapes whose blocks straddle
// rows (cols % 64 != 0) take the reference arithmetic: compared exactly.
// LLM.int8: the integer part is exact, so fast == reference bit for bit.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/int8_matmul.h"
#include "kernels/nf4_matmul.h"
#include "kernels/qisa.h"
#include "quant/half.h"
#include "tests/quant_testutil.h"

static const char *levels[] = {"scalar", "avx2", "avx512"};

// Runs fn once per SIMD level up to what the CPU supports.
static void for_each_isa(void (*fn)(const char *isa)) {
    qr_qisa_cap(NULL);
    const int top = qr_qisa();
    for (int l = 0; l <= top; l++) {
        qr_qisa_cap(levels[l]);
        assert_string_equal(qr_qisa_name(), levels[l]);
        fn(levels[l]);
    }
    qr_qisa_cap(NULL);
}

typedef struct { int64_t rows, cols, m; } Shape;

static const Shape nf4_shapes[] = {
    {64, 64, 1},  {2, 128, 1},  {3, 192, 1},   {37, 128, 1},  {130, 320, 1}, {1, 64, 1},   {256, 1024, 1},
    {64, 64, 2},  {37, 128, 3}, {130, 320, 5}, {17, 256, 17}, {9, 448, 8},   {65, 192, 4},
    {5, 200, 1},  {7, 9, 3},    {33, 70, 2},   {1, 1, 1},     {3, 100, 6}, // blocks straddle rows
};

static double g_worst_rel;

static double max_abs(const float *v, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

static void nf4_vs_ref(const char *isa) {
    for (size_t s = 0; s < sizeof nf4_shapes / sizeof nf4_shapes[0]; s++) {
        const Shape sh = nf4_shapes[s];
        const int64_t n = sh.rows * sh.cols;
        float *w = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)(sh.m * sh.cols));
        float *y = malloc(sizeof(float) * (size_t)(sh.m * sh.rows)), *yr = malloc(sizeof(float) * (size_t)(sh.m * sh.rows));
        float *y1 = malloc(sizeof(float) * (size_t)sh.rows);
        qt_gen(10 + s, n, 0.05, w);
        qt_gen(50 + s, sh.m * sh.cols, 1.0, x);
        QrNF4 q;
        QrErr e;
        assert_int_equal(qr_nf4_quantize(&q, w, sh.rows, sh.cols, &e), 0);
        (void)isa;
        qr_nf4_matmul_ref(&q, x, sh.m, QR_COMPUTE_F32, yr);
        qr_nf4_matmul(&q, x, sh.m, QR_COMPUTE_F32, y);
        // Every path gives the reference's bits (one canonical order).
        if (memcmp(y, yr, sizeof(float) * (size_t)(sh.m * sh.rows)) != 0)
            fail_msg("%s [%lld x %lld] m=%lld: fast path differs from the reference", isa, (long long)sh.rows,
                     (long long)sh.cols, (long long)sh.m);
        // Batch invariance: each x row alone gives the same bits.
        for (int64_t i = 0; i < sh.m; i++) {
            qr_nf4_matmul(&q, x + i * sh.cols, 1, QR_COMPUTE_F32, y1);
            if (memcmp(y1, yr + i * sh.rows, sizeof(float) * (size_t)sh.rows) != 0)
                fail_msg("%s [%lld x %lld]: row %lld of a batch of %lld differs from it alone", isa, (long long)sh.rows,
                         (long long)sh.cols, (long long)i, (long long)sh.m);
        }
        // The reference against dequantize-then-matmul with sequential float sums:
        // equal for straddling blocks, within 1e-5 of max |y| otherwise.
        float *d = malloc(sizeof(float) * (size_t)n), *ys = malloc(sizeof(float) * (size_t)(sh.m * sh.rows));
        qr_nf4_dequantize(&q, d);
        for (int64_t i = 0; i < sh.m; i++)
            for (int64_t r = 0; r < sh.rows; r++) {
                float acc = 0.0f;
                for (int64_t c = 0; c < sh.cols; c++) {
                    volatile float p = x[i * sh.cols + c] * d[r * sh.cols + c]; // no FMA: one rounding each
                    acc = acc + p;
                }
                ys[i * sh.rows + r] = acc;
            }
        const double ref = max_abs(ys, sh.m * sh.rows);
        double worst = 0;
        for (int64_t i = 0; i < sh.m * sh.rows; i++) worst = fmax(worst, fabs((double)ys[i] - yr[i]));
        if (sh.cols % 64 != 0) assert_true(worst == 0);
        else if (worst > 1e-5 * ref)
            fail_msg("[%lld x %lld] m=%lld: max diff %.3g > 1e-5 * %.3g", (long long)sh.rows, (long long)sh.cols,
                     (long long)sh.m, worst, ref);
        if (worst / ref > g_worst_rel) g_worst_rel = worst / ref;
        free(ys);
        free(d);
        qr_nf4_free(&q);
        free(w);
        free(x);
        free(y);
        free(yr);
        free(y1);
    }
}

static void test_nf4_kernels(void **st) {
    (void)st;
    for_each_isa(nf4_vs_ref);
    print_message("nf4: largest |canonical - dequantize-then-matmul| / max|y| = %.3g\n", g_worst_rel);
}

// qr_nf4_matmul_multi (q, k, v in one pass) gives each weight's own bits:
// three widths of one input (GQA: k and v narrower), decode and a batch,
// plus a set it must split (cols differ) and a straddling width (reference).
static void nf4_multi_vs_single(const char *isa) {
    const int64_t R[4] = {96, 32, 32, 40}, C[4] = {256, 256, 256, 192};
    QrNF4 q[4];
    QrErr e;
    for (int k = 0; k < 4; k++) {
        float *w = malloc(sizeof(float) * (size_t)(R[k] * C[k]));
        qt_gen(70 + k, R[k] * C[k], 0.05, w);
        assert_int_equal(qr_nf4_quantize(&q[k], w, R[k], C[k], &e), 0);
        free(w);
    }
    for (int64_t m = 1; m <= 3; m += 2) {
        float x[3 * 256], *y[4], *ys[4];
        qt_gen(80 + m, m * 256, 1.0, x);
        for (int k = 0; k < 4; k++) {
            y[k] = calloc((size_t)(m * R[k]), sizeof(float));
            ys[k] = calloc((size_t)(m * R[k]), sizeof(float));
            qr_nf4_matmul(&q[k], x, m, QR_COMPUTE_F32, ys[k]);
        }
        const QrNF4 *same[3] = {&q[0], &q[1], &q[2]}, *mixed[2] = {&q[0], &q[3]};
        qr_nf4_matmul_multi(same, 3, x, m, QR_COMPUTE_F32, y);
        qr_nf4_matmul_multi(mixed, 2, x, m, QR_COMPUTE_F32, (float *const[]){y[0] + 0, y[3]});
        for (int k = 0; k < 4; k++)
            if (memcmp(y[k], ys[k], sizeof(float) * (size_t)(m * R[k])) != 0)
                fail_msg("%s: multi weight %d (m=%lld) differs from its own call", isa, k, (long long)m);
        assert_true(ys[1][0] != 0.0f && ys[3][R[3] - 1] != 0.0f);
        for (int k = 0; k < 4; k++) free(y[k]), free(ys[k]);
    }
    for (int k = 0; k < 4; k++) qr_nf4_free(&q[k]);
}

static void test_nf4_multi(void **st) {
    (void)st;
    for_each_isa(nf4_multi_vs_single);
}

// Half compute types: x and each dequantized weight rounded, float32 sums,
// result rounded. Checked on one case by an independent loop.
static void test_nf4_half_compute(void **st) {
    (void)st;
    const int64_t rows = 6, cols = 128, m = 2;
    float w[6 * 128], x[2 * 128], y[12], d[6 * 128];
    qt_gen(3, rows * cols, 0.1, w);
    qt_gen(4, m * cols, 1.0, x);
    QrNF4 q;
    QrErr e;
    assert_int_equal(qr_nf4_quantize(&q, w, rows, cols, &e), 0);
    qr_nf4_dequantize(&q, d);
    for (int ct = QR_COMPUTE_F16; ct <= QR_COMPUTE_BF16; ct++) {
        qr_nf4_matmul(&q, x, m, (QrComputeType)ct, y);
        for (int64_t i = 0; i < m; i++)
            for (int64_t r = 0; r < rows; r++) {
                float acc = 0.0f;
                for (int64_t c = 0; c < cols; c++) {
                    const float xv = ct == QR_COMPUTE_F16 ? qr_round_half(x[i * cols + c]) : qr_round_bf16(x[i * cols + c]);
                    const float wv = ct == QR_COMPUTE_F16 ? qr_round_half(d[r * cols + c]) : qr_round_bf16(d[r * cols + c]);
                    volatile float p = xv * wv;
                    acc = acc + p;
                }
                acc = ct == QR_COMPUTE_F16 ? qr_round_half(acc) : qr_round_bf16(acc);
                assert_memory_equal(&acc, &y[i * rows + r], 4);
            }
    }
    qr_nf4_free(&q);
}

static const Shape i8_shapes[] = {
    {64, 64, 1}, {37, 33, 1}, {5, 200, 3}, {130, 320, 5}, {3, 1, 2}, {16, 96, 17}, {200, 2048, 1}, {7, 70, 4},
};

static void int8_vs_ref(const char *isa) {
    for (size_t s = 0; s < sizeof i8_shapes / sizeof i8_shapes[0]; s++) {
        const Shape sh = i8_shapes[s];
        const int64_t n = sh.rows * sh.cols;
        float *w = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)(sh.m * sh.cols));
        float *y = malloc(sizeof(float) * (size_t)(sh.m * sh.rows)), *yr = malloc(sizeof(float) * (size_t)(sh.m * sh.rows));
        qt_gen(70 + s, n, 0.05, w);
        qt_gen(90 + s, sh.m * sh.cols, 1.5, x); // sd 1.5: some |x| >= 6
        if (sh.cols > 3) {
            x[2] = 7.0f;                   // an outlier column in row 0
            x[(sh.m - 1) * sh.cols + 3] = -6.0f; // exactly the threshold counts
        }
        QrInt8 q;
        QrErr e;
        assert_int_equal(qr_int8_quantize(&q, w, sh.rows, sh.cols, &e), 0);
        const float thresholds[] = {6.0f, 0.0f, 2.0f};
        for (int t = 0; t < 3; t++) {
            qr_int8_matmul_ref(&q, x, sh.m, thresholds[t], yr);
            qr_int8_matmul(&q, x, sh.m, thresholds[t], y);
            if (memcmp(y, yr, sizeof(float) * (size_t)(sh.m * sh.rows)) != 0)
                fail_msg("%s int8 [%lld x %lld] m=%lld threshold %g: fast path differs from the reference", isa,
                         (long long)sh.rows, (long long)sh.cols, (long long)sh.m, thresholds[t]);
            // Without outliers every row is quantized on its own: batch invariant.
            if (thresholds[t] == 0.0f)
                for (int64_t i = 0; i < sh.m; i++) {
                    qr_int8_matmul(&q, x + i * sh.cols, 1, 0.0f, y);
                    assert_memory_equal(y, yr + i * sh.rows, sizeof(float) * (size_t)sh.rows);
                }
            // Close to the float product with the dequantized weights (int8 error scale).
            double worst = 0, ref = 0;
            for (int64_t i = 0; i < sh.m; i++)
                for (int64_t r = 0; r < sh.rows; r++) {
                    double acc = 0;
                    for (int64_t c = 0; c < sh.cols; c++)
                        acc += (double)x[i * sh.cols + c] * w[r * sh.cols + c];
                    worst = fmax(worst, fabs(acc - yr[i * sh.rows + r]));
                    ref = fmax(ref, fabs(acc));
                }
            assert_true(worst <= 0.05 * ref + 1e-6);
        }
        qr_int8_free(&q);
        free(w);
        free(x);
        free(y);
        free(yr);
    }
}

static void test_int8_kernels(void **st) {
    (void)st;
    for_each_isa(int8_vs_ref);
}

// The LLM.int8 arithmetic by hand on a 2 x 3 weight and two activation rows.
static void test_int8_by_hand(void **st) {
    (void)st;
    const float w[6] = {1.0f, -0.5f, 0.25f, 0.5f, 0.5f, -1.0f};
    // W codes: row 0 absmax 1: [127, -64, 32]; row 1 absmax 1: [64, 64, -127]
    // (0.5 * 127 = 63.5 -> 64, half to even).
    QrInt8 q;
    QrErr e;
    assert_int_equal(qr_int8_quantize(&q, w, 2, 3, &e), 0);
    const int8_t wq[6] = {127, -64, 32, 64, 64, -127};
    assert_memory_equal(q.w, wq, 6);
    // x row 0 = [2, 8, -1]: column 1 is an outlier (|8| >= 6) -> int8 part over
    // columns 0 and 2 with absmax 2: [127, 0, -64] (-1 * 63.5 -> -64).
    // x row 1 = [1, 0.5, 0]: absmax 1 (the 0.5 in the outlier column still
    // counts): [127, 0 (outlier column), 0].
    const float x[6] = {2.0f, 8.0f, -1.0f, 1.0f, 0.5f, 0.0f};
    float y[4];
    qr_int8_matmul_ref(&q, x, 2, 6.0f, y);
    // y[0][0]: acc = 127*127 + (-64)*32 = 14081 -> 14081 * 2 * 1 / 16129, plus
    // outlier 8 * f16((-64 * 1) / 127 = -0.503937) = 8 * -0.50390625.
    const float c = QR_INT8_DEQUANT_CONST;
    float e00 = ((float)14081 * 2.0f) * 1.0f;
    e00 = e00 * c;
    e00 = e00 + 8.0f * qr_round_half((-64.0f * 1.0f) * QR_INT8_INV127);
    assert_memory_equal(&y[0], &e00, 4);
    // y[0][1]: acc = 127*64 + (-64)*(-127) = 16256; outlier 8 * f16(64/127).
    float e01 = ((float)16256 * 2.0f) * 1.0f;
    e01 = e01 * c;
    e01 = e01 + 8.0f * qr_round_half((64.0f * 1.0f) * QR_INT8_INV127);
    assert_memory_equal(&y[1], &e01, 4);
    // y[1][0]: acc = 127*127; outlier column 1: 0.5 * f16(-64/127).
    float e10 = ((float)16129 * 1.0f) * 1.0f;
    e10 = e10 * c;
    e10 = e10 + 0.5f * qr_round_half(-64.0f * QR_INT8_INV127);
    assert_memory_equal(&y[2], &e10, 4);
    assert_true(fabsf(y[0] - (2.0f * 1.0f + 8.0f * -0.5f + -1.0f * 0.25f)) < 0.05f);
    // Threshold 0: pure int8, x row 0 absmax 8: [32, 127, -16].
    qr_int8_matmul_ref(&q, x, 2, 0.0f, y);
    float p00 = ((float)(32 * 127 + 127 * -64 + -16 * 32) * 8.0f) * 1.0f;
    p00 = p00 * c;
    assert_memory_equal(&y[0], &p00, 4);
    qr_int8_free(&q);
}

static void test_int8_validate(void **st) {
    (void)st;
    int8_t wv[4] = {1, -128, 3, 4};
    float scb[2] = {1.0f, 2.0f};
    QrInt8 q = {.rows = 2, .cols = 2, .w = wv, .scb = scb};
    QrErr e;
    assert_int_equal(qr_int8_validate(&q, &e), -1);
    assert_non_null(strstr(e.msg, "-128"));
    wv[1] = -127;
    scb[1] = NAN;
    assert_int_equal(qr_int8_validate(&q, &e), -1);
    assert_non_null(strstr(e.msg, "SCB[1]"));
    scb[1] = 2.0f;
    assert_int_equal(qr_int8_validate(&q, &e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nf4_kernels),      cmocka_unit_test(test_nf4_half_compute),
        cmocka_unit_test(test_nf4_multi),
        cmocka_unit_test(test_int8_kernels),     cmocka_unit_test(test_int8_by_hand),
        cmocka_unit_test(test_int8_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
