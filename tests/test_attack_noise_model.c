// Weight noise where it is applied: pre-quant and post-quant on a small NF4 and
// LLM.int8 layer against scalar references, the post-quant noise term's thread
// independence, and in-place noise on a loaded tiny LLaMA for each target.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise.h"
#include "attacks/noise_model.h"
#include "attacks/rng.h"
#include "kernels/int8_matmul.h"
#include "kernels/nf4_matmul.h"
#include "quant/int8.h"
#include "quant/nf4.h"
#include "runtime/model.h"
#include "runtime/qlinear.h"

enum { ROWS = 24, COLS = 200, M = 3 };

static void fill_normalish(float *v, size_t n, uint64_t seed, float scale) {
    QrRng r;
    qr_rng_init(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 4; k++) s += qr_rng_uniform(&r) - 0.5;
        v[i] = (float)(s * scale);
    }
}

static QrNoiseKey layer_key(float level) {
    QrNoiseSpec sp = {QR_NOISE_GAUSSIAN, level, 11, QR_NOISE_PRE_QUANT};
    QrNoiseKey k;
    qr_noise_key(&k, &sp, "model.layers.0.mlp.up_proj.weight");
    return k;
}

static float max_abs(const float *v, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(v[i]));
    return m;
}

// Production path: parallel in-place noise, then quantize. Reference: the same
// weights with noise added element by element by the scalar qr_noise_at.
static void test_pre_quant(void **st) {
    (void)st;
    static float w[ROWS * COLS], wn[ROWS * COLS], wr[ROWS * COLS], x[M * COLS];
    fill_normalish(w, ROWS * COLS, 1, 0.05f);
    fill_normalish(x, M * COLS, 2, 1.0f);
    QrNoiseKey k = layer_key(1e-2f);
    memcpy(wn, w, sizeof w);
    qr_noise_add_f32(&k, 0, wn, ROWS * COLS, 1);
    for (int i = 0; i < ROWS * COLS; i++) wr[i] = w[i] + qr_noise_at(&k, (uint64_t)i);
    assert_memory_equal(wn, wr, sizeof wn);
    QrErr e;
    // NF4: same codes and scales as quantizing the reference weights; the fast
    // kernel within its tolerance of a double dot product over the dequantized
    // weights; and the noise did change the quantized layer.
    QrNF4 q, qr, q0;
    assert_int_equal(qr_nf4_quantize(&q, wn, ROWS, COLS, &e), 0);
    assert_int_equal(qr_nf4_quantize(&qr, wr, ROWS, COLS, &e), 0);
    assert_int_equal(qr_nf4_quantize(&q0, w, ROWS, COLS, &e), 0);
    assert_memory_equal(q.packed, qr.packed, ROWS * COLS / 2);
    assert_memory_equal(q.absmax_q, qr.absmax_q, (size_t)q.nblocks);
    assert_true(memcmp(q.packed, q0.packed, ROWS * COLS / 2) != 0);
    float y[M * ROWS], deq[ROWS * COLS];
    qr_nf4_matmul(&q, x, M, QR_COMPUTE_F32, y);
    qr_nf4_dequantize(&qr, deq);
    for (int i = 0; i < M; i++)
        for (int r = 0; r < ROWS; r++) {
            double ref = 0;
            for (int c = 0; c < COLS; c++) ref += (double)x[i * COLS + c] * deq[r * COLS + c];
            assert_true(fabs(y[i * ROWS + r] - ref) <= 1e-5 * max_abs(y, M * ROWS));
        }
    qr_nf4_free(&q);
    qr_nf4_free(&qr);
    qr_nf4_free(&q0);
    // LLM.int8: same codes; the fast kernel is bit-identical to its reference.
    QrInt8 a, ar;
    assert_int_equal(qr_int8_quantize(&a, wn, ROWS, COLS, &e), 0);
    assert_int_equal(qr_int8_quantize(&ar, wr, ROWS, COLS, &e), 0);
    assert_memory_equal(a.w, ar.w, ROWS * COLS);
    assert_memory_equal(a.scb, ar.scb, ROWS * sizeof(float));
    float y8[M * ROWS], y8r[M * ROWS];
    qr_int8_matmul(&a, x, M, QR_INT8_THRESHOLD_DEFAULT, y8);
    qr_int8_matmul_ref(&ar, x, M, QR_INT8_THRESHOLD_DEFAULT, y8r);
    assert_memory_equal(y8, y8r, sizeof y8);
    qr_int8_free(&a);
    qr_int8_free(&ar);
}

// Post-quant: kernel output + qr_noise_matmul_acc against a scalar double
// product with (dequantized W + N), N from the scalar qr_noise_at.
static void test_post_quant(void **st) {
    (void)st;
    static float w[ROWS * COLS], x[M * COLS], deq[ROWS * COLS];
    fill_normalish(w, ROWS * COLS, 3, 0.05f);
    fill_normalish(x, M * COLS, 4, 1.0f);
    x[5] = 9.0f; // an LLM.int8 outlier column
    QrNoiseKey k = layer_key(5e-3f);
    QrErr e;
    for (int fmt = 0; fmt < 2; fmt++) {
        float y[M * ROWS], yclean[M * ROWS];
        QrNF4 q;
        QrInt8 a;
        if (fmt == 0) {
            assert_int_equal(qr_nf4_quantize(&q, w, ROWS, COLS, &e), 0);
            qr_nf4_matmul(&q, x, M, QR_COMPUTE_F32, y);
            qr_nf4_dequantize(&q, deq);
        } else {
            assert_int_equal(qr_int8_quantize(&a, w, ROWS, COLS, &e), 0);
            qr_int8_matmul(&a, x, M, QR_INT8_THRESHOLD_DEFAULT, y);
            qr_int8_matmul_ref(&a, x, M, QR_INT8_THRESHOLD_DEFAULT, yclean);
        }
        if (fmt == 0) memcpy(yclean, y, sizeof y);
        qr_noise_matmul_acc(&k, x, M, ROWS, COLS, y);
        float scale = max_abs(y, M * ROWS);
        double dmax = 0;
        for (int i = 0; i < M; i++)
            for (int r = 0; r < ROWS; r++) {
                double nterm = 0, ref;
                for (int c = 0; c < COLS; c++)
                    nterm += (double)x[i * COLS + c] * qr_noise_at(&k, (uint64_t)r * COLS + c);
                if (fmt == 0) { // NF4 computes with the dequantized weights: W~ + N directly
                    ref = 0;
                    for (int c = 0; c < COLS; c++)
                        ref += (double)x[i * COLS + c] *
                               ((double)deq[r * COLS + c] + qr_noise_at(&k, (uint64_t)r * COLS + c));
                } else { // LLM.int8 quantizes x too: its own product plus x N^T
                    ref = yclean[i * ROWS + r] + nterm;
                }
                double d = fabs(y[i * ROWS + r] - ref);
                if (d > dmax) dmax = d;
                assert_true(fabs(nterm) > 0);
            }
        assert_true(dmax <= 1e-5 * scale);
        if (fmt == 0) qr_nf4_free(&q);
        else qr_int8_free(&a);
    }
}

static void test_noise_term_threads(void **st) {
    (void)st;
    enum { R = 67, C = 129, MM = 5 };
    static float x[MM * C], ref[MM * R], y[MM * R];
    fill_normalish(x, MM * C, 5, 1.0f);
    QrNoiseKey k = layer_key(1e-3f);
    int th[3] = {1, 2, 4};
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(th[t]);
        memset(y, 0, sizeof y);
        qr_noise_matmul_acc(&k, x, MM, R, C, y);
        if (t == 0) memcpy(ref, y, sizeof y);
        else assert_memory_equal(ref, y, sizeof y);
    }
    omp_set_num_threads(omp_get_num_procs());
}

// Every parameter of the tiny LLaMA: perturbed by exactly its noise, or not at all.
static void check_model(const char *dir, QrNoiseTarget target, int model_quantized) {
    QrModel *m, *orig;
    QrErr e;
    QrLoadOpts o = {0};
    assert_int_equal(qr_model_load(&m, dir, &o, &e), 0);
    assert_int_equal(qr_model_load(&orig, dir, &o, &e), 0);
    QrNoiseSpec sp = {QR_NOISE_UNIFORM, 3e-2f, 77, target};
    int64_t done, deferred, total = 0, want_done = 0, want_def = 0;
    assert_int_equal(qr_noise_model(m, &sp, model_quantized, 1, &done, &deferred, &e), 0);
    // On a float model every site but IN_KERNEL changes values in place
    // (BEFORE_QUANT: the caller quantizes next).
    for (int i = 0; i < m->n_params; i++) {
        QrParam *p = &m->params[i], *p0 = &orig->params[i];
        assert_string_equal(p->name, p0->name);
        QrNoiseSite site = qr_noise_site(target, p->block_linear, model_quantized);
        if (site == QR_NOISE_BEFORE_QUANT) site = QR_NOISE_IN_PLACE;
        QrNoiseKey k;
        qr_noise_key(&k, &sp, p->name);
        int64_t n = p->lin ? (int64_t)p->lin->out * p->lin->in : p->n;
        total += n;
        if (site == QR_NOISE_IN_PLACE) want_done += n;
        else if (site != QR_NOISE_SKIP) want_def += n;
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        if (p->vec) {
            memcpy(a, p->vec, (size_t)n * 4);
            memcpy(b, p0->vec, (size_t)n * 4);
        } else {
            for (int r = 0; r < p->lin->out; r++) {
                qr_linear_row(p->lin, r, a + (size_t)r * p->lin->in);
                qr_linear_row(p0->lin, r, b + (size_t)r * p->lin->in);
            }
        }
        QrWeightFormat f = p->lin ? p->lin->fmt : QR_WF_F32;
        for (int64_t j = 0; j < n; j++) {
            float want = b[j];
            if (site == QR_NOISE_IN_PLACE) {
                want = b[j] + qr_noise_at(&k, (uint64_t)j);
                if (f == QR_WF_BF16) want = qr_bf16_to_f32(qr_f32_to_bf16(want));
                if (f == QR_WF_F16) want = qr_f16_to_f32(qr_f32_to_f16(want));
            }
            if (memcmp(&want, &a[j], 4)) fail_msg("%s[%lld]: %a, want %a", p->name, (long long)j, (double)a[j], (double)want);
        }
        free(a);
        free(b);
    }
    assert_int_equal(done, want_done);
    assert_int_equal(deferred, want_def);
    assert_true(want_done + want_def > 0 && want_done + want_def <= total);
    // Undo: f32 weights come back within one rounding.
    if (!strstr(dir, "bf16")) {
        assert_int_equal(qr_noise_model(m, &sp, model_quantized, -1, NULL, NULL, &e), 0);
        for (int i = 0; i < m->n_params; i++)
            if (m->params[i].vec)
                for (int j = 0; j < m->params[i].n; j++)
                    assert_true(fabsf(m->params[i].vec[j] - orig->params[i].vec[j]) <= 1e-6f);
    }
    qr_model_free(m);
    qr_model_free(orig);
}

static void test_model_targets(void **st) {
    (void)st;
    check_model("tests/fixtures/llama-tiny/untied-f32", QR_NOISE_ALL, 0);
    check_model("tests/fixtures/llama-tiny/untied-f32", QR_NOISE_UNQUANTIZED_ONLY, 1);
    check_model("tests/fixtures/llama-tiny/untied-f32", QR_NOISE_PRE_QUANT, 1);
    check_model("tests/fixtures/llama-tiny/untied-f32", QR_NOISE_PRE_QUANT, 0);
    check_model("tests/fixtures/llama-tiny/untied-f32", QR_NOISE_POST_QUANT, 0);
    check_model("tests/fixtures/llama-tiny/untied-bf16", QR_NOISE_ALL, 0);
}

static void last_logits(QrModel *m, float *out) {
    static const int toks[5] = {1, 17, 42, 7, 99};
    int pos[5] = {0, 1, 2, 3, 4}, seq[5] = {0};
    QrErr e;
    qr_model_clear_seq(m, 0);
    QrBatch b = {5, toks, pos, seq, NULL};
    if (qr_model_forward(m, &b, out, &e)) fail_msg("%s", e.msg);
}

// Quantized models: post-quant (and `all`) put the noise term into every block
// linear's forward; one layer's output is its kernel's plus x N^T; removing it
// gives back the clean logits bit for bit. Pre-quant: noise, then quantize,
// gives the codes of quantize(W + N). Wrong orders are errors.
static void test_quantized_model(void **st) {
    (void)st;
    const char *dir = "tests/fixtures/llama-tiny/untied-f32";
    QrErr e;
    QrLoadOpts lo = {0};
    for (int f = 0; f < 2; f++) {
        QrQuantOpts qo = {.fmt = f ? QR_WF_INT8 : QR_WF_NF4};
        QrModel *m;
        assert_int_equal(qr_model_load(&m, dir, &lo, &e), 0);
        QrNoiseSpec post = {QR_NOISE_GAUSSIAN, 1e-2f, 9, QR_NOISE_POST_QUANT};
        assert_int_equal(qr_noise_model(m, &post, 1, 1, NULL, NULL, &e), -1); // not quantized yet
        assert_non_null(strstr(e.msg, "quantize the model first"));
        assert_int_equal(qr_model_quantize(m, &qo, &e), 0);
        assert_int_equal(qr_model_reserve(m, 1, 16, 8, &e), 0);
        int V = m->cfg.vocab_size;
        float *clean = malloc((size_t)V * 4), *noisy = malloc((size_t)V * 4), *back = malloc((size_t)V * 4);
        last_logits(m, clean);
        int64_t n_in, n_k, block = 0;
        assert_int_equal(qr_noise_model(m, &post, 1, 1, &n_in, &n_k, &e), 0);
        for (int i = 0; i < m->n_params; i++)
            if (m->params[i].block_linear) block += (int64_t)m->params[i].lin->out * m->params[i].lin->in;
        assert_int_equal(n_in, 0);
        assert_int_equal(n_k, block);
        last_logits(m, noisy);
        assert_true(memcmp(clean, noisy, (size_t)V * 4) != 0);
        // One layer: forward = kernel + x N^T.
        QrParam *p = NULL;
        for (int i = 0; i < m->n_params && !p; i++)
            if (m->params[i].block_linear) p = &m->params[i];
        QrLinear *L = p->lin;
        QrQLinear *q = L->q;
        assert_non_null(q->extra);
        float x[2 * 512], y[2 * 512], yk[2 * 512];
        assert_true(L->in <= 512 && L->out <= 512);
        fill_normalish(x, (size_t)(2 * L->in), 6, 1.0f);
        qr_linear_forward(L, x, 2, y);
        if (f) qr_int8_matmul_ref(&q->int8, x, 2, q->threshold, yk);
        else qr_nf4_matmul_ref(&q->nf4, x, 2, q->compute, yk);
        QrNoiseKey k;
        qr_noise_key(&k, &post, p->name);
        for (int i = 0; i < 2; i++)
            for (int r = 0; r < L->out; r++) {
                double ref = yk[i * L->out + r] + (L->bias ? L->bias[r] : 0);
                for (int c = 0; c < L->in; c++) ref += (double)x[i * L->in + c] * qr_noise_at(&k, (uint64_t)r * L->in + c);
                assert_true(fabs(y[i * L->out + r] - ref) <= 1e-5 * (1 + fabs(ref)));
            }
        // Removed: the clean logits again, bit for bit.
        assert_int_equal(qr_noise_model(m, &post, 1, -1, NULL, NULL, &e), 0);
        last_logits(m, back);
        assert_memory_equal(clean, back, (size_t)V * 4);
        // `all` on the quantized model: floats in place, block linears in the kernels.
        QrNoiseSpec all = post;
        all.target = QR_NOISE_ALL;
        assert_int_equal(qr_noise_model(m, &all, 1, 1, &n_in, &n_k, &e), 0);
        assert_int_equal(n_k, block);
        assert_true(n_in > 0);
        // Pre-quant after quantization is refused.
        QrNoiseSpec pre = post;
        pre.target = QR_NOISE_PRE_QUANT;
        assert_int_equal(qr_noise_model(m, &pre, 1, 1, NULL, NULL, &e), -1);
        assert_non_null(strstr(e.msg, "before quantizing"));
        qr_model_free(m);
        // Pre-quant: noise on the float model, then quantize: the codes of quantize(W + N).
        QrModel *a, *b;
        assert_int_equal(qr_model_load(&a, dir, &lo, &e), 0);
        assert_int_equal(qr_model_load(&b, dir, &lo, &e), 0);
        assert_int_equal(qr_noise_model(a, &pre, 1, 1, &n_in, &n_k, &e), 0);
        assert_int_equal(n_in, block);
        assert_int_equal(qr_model_quantize(a, &qo, &e), 0);
        int checked = 0;
        for (int i = 0; i < b->n_params; i++) {
            QrParam *pb = &b->params[i];
            if (!pb->block_linear) continue;
            size_t n = (size_t)pb->lin->out * pb->lin->in;
            float *w = malloc(n * 4);
            for (int r = 0; r < pb->lin->out; r++) qr_linear_row(pb->lin, r, w + (size_t)r * pb->lin->in);
            qr_noise_key(&k, &pre, pb->name);
            for (size_t j = 0; j < n; j++) w[j] = w[j] + qr_noise_at(&k, j);
            const QrQLinear *qa = a->params[i].lin->q;
            if (f) {
                QrInt8 ref;
                assert_int_equal(qr_int8_quantize(&ref, w, pb->lin->out, pb->lin->in, &e), 0);
                assert_memory_equal(ref.w, qa->int8.w, n);
                qr_int8_free(&ref);
            } else {
                QrNF4 ref;
                assert_int_equal(qr_nf4_quantize(&ref, w, pb->lin->out, pb->lin->in, &e), 0);
                assert_memory_equal(ref.packed, qa->nf4.packed, (n + 1) / 2);
                qr_nf4_free(&ref);
            }
            free(w);
            checked++;
        }
        assert_true(checked > 0);
        qr_model_free(a);
        qr_model_free(b);
        free(clean);
        free(noisy);
        free(back);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pre_quant),
        cmocka_unit_test(test_post_quant),
        cmocka_unit_test(test_noise_term_threads),
        cmocka_unit_test(test_model_targets),
        cmocka_unit_test(test_quantized_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
