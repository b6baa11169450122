// runtime/: the LLaMA forward pass on the real stories260K checkpoint (GGUF),
// the KV cache against full recomputation, batched decoding against one
// sequence at a time, and the GEMM kernels against their scalar reference.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/qisa.h"
#include "runtime/model.h"

#define STORIES "tests/fixtures/stories260K/stories260K.gguf"

// BOS + "Once upon a time" in the stories260K vocabulary (SentencePiece BPE
// over tok512: ▁Once ▁upon ▁a ▁time).
static const int PROMPT[] = {1, 403, 407, 261, 378};
// Greedy continuation: ", there was a little girl named Lily. She loved to play
// outside in the park. One day, she saw a big, red ball. She wanted to play
// with it, but it was too high" (shared/README.md, llama2.c's reference).
static const int EXPECT[] = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410,
                             408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370,
                             432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286,
                             267, 414, 270, 333, 415};
#define NEXP (int)(sizeof EXPECT / sizeof *EXPECT)

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static QrModel *load_stories(int slots, int batch) {
    QrModel *m;
    QrErr e;
    if (qr_model_load(&m, STORIES, NULL, &e)) fail_msg("%s", e.msg);
    if (qr_model_reserve(m, slots, 128, batch, &e)) fail_msg("%s", e.msg);
    return m;
}

static void test_stories_greedy(void **st) {
    (void)st;
    QrModel *m = load_stories(1, 16);
    assert_int_equal(m->cfg.dim, 64);
    assert_int_equal(m->cfg.n_kv_heads, 4);
    assert_int_equal(m->cfg.vocab_size, 512);
    assert_int_equal(m->cfg.tie_embeddings, 0);
    int ids[128], pos[128], seq[128] = {0};
    int n = (int)(sizeof PROMPT / sizeof *PROMPT);
    memcpy(ids, PROMPT, sizeof PROMPT);
    for (int i = 0; i < 128; i++) pos[i] = i;
    float *lg = malloc(512 * sizeof *lg);
    QrErr e;
    QrBatch b = {n, ids, pos, seq, NULL};
    assert_int_equal(qr_model_forward(m, &b, lg, &e), 0);
    for (int t = 0; t < NEXP; t++) {
        ids[n] = argmax(lg, 512);
        if (ids[n] != EXPECT[t]) fail_msg("step %d: token %d, expected %d", t, ids[n], EXPECT[t]);
        QrBatch b1 = {1, ids + n, pos + n, seq, NULL};
        n++;
        assert_int_equal(qr_model_forward(m, &b1, lg, &e), 0);
    }
    free(lg);
    qr_model_free(m);
}

// Logits of every position, computed (a) in one prefill pass over the whole
// sequence and (b) token by token through the KV cache, are identical: every
// reduction has one canonical order whatever the batch shape.
static void test_kv_cache_equals_recompute(void **st) {
    (void)st;
    QrModel *m = load_stories(1, 64);
    int n = 40, ids[40], pos[40], seq[40] = {0};
    uint8_t all[40];
    for (int i = 0; i < n; i++) {
        ids[i] = i < 5 ? PROMPT[i] : EXPECT[i - 5];
        pos[i] = i;
        all[i] = 1;
    }
    float *full = malloc((size_t)n * 512 * 4), *inc = malloc((size_t)n * 512 * 4);
    QrErr e;
    QrBatch b = {n, ids, pos, seq, all};
    assert_int_equal(qr_model_forward(m, &b, full, &e), 0);
    qr_model_clear_seq(m, 0);
    for (int i = 0; i < n; i++) {
        QrBatch b1 = {1, ids + i, pos + i, seq, NULL};
        assert_int_equal(qr_model_forward(m, &b1, inc + (size_t)i * 512, &e), 0);
    }
    assert_memory_equal(full, inc, (size_t)n * 512 * 4);
    // And a prefill split into uneven chunks (7 + 33) gives the same bits too.
    qr_model_clear_seq(m, 0);
    float *chunk = malloc((size_t)n * 512 * 4);
    QrBatch c1 = {7, ids, pos, seq, all}, c2 = {33, ids + 7, pos + 7, seq, all};
    assert_int_equal(qr_model_forward(m, &c1, chunk, &e), 0);
    assert_int_equal(qr_model_forward(m, &c2, chunk + 7 * 512, &e), 0);
    assert_memory_equal(full, chunk, (size_t)n * 512 * 4);
    free(full);
    free(inc);
    free(chunk);
    qr_model_free(m);
}

// Three sequences of different lengths decoded together in one batch give the
// logits each gets alone.
static void test_batched_decode(void **st) {
    (void)st;
    QrModel *m = load_stories(3, 32);
    const int len[3] = {5, 9, 2};
    int toks[3][12];
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 12; i++) toks[s][i] = i < 5 ? PROMPT[i] : EXPECT[(i + 3 * s) % NEXP];
    float alone[3][512], together[3 * 512];
    QrErr e;
    int pos[16], seq[16];
    for (int i = 0; i < 16; i++) pos[i] = i;
    for (int s = 0; s < 3; s++) {
        // prefill len[s] tokens, then one decode step with token len[s]
        for (int i = 0; i < 16; i++) seq[i] = s;
        QrBatch b = {len[s], toks[s], pos, seq, NULL};
        assert_int_equal(qr_model_forward(m, &b, alone[s], &e), 0);
        QrBatch d = {1, &toks[s][len[s]], &pos[len[s]], seq, NULL};
        assert_int_equal(qr_model_forward(m, &d, alone[s], &e), 0);
        qr_model_clear_seq(m, s);
    }
    // Prefill all three in one mixed batch, then decode the three together.
    int bt[16], bp[16], bs[16], k = 0;
    uint8_t want[16] = {0};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < len[s]; i++) {
            bt[k] = toks[s][i];
            bp[k] = i;
            bs[k] = s;
            k++;
        }
    QrBatch pre = {k, bt, bp, bs, want};
    assert_int_equal(qr_model_forward(m, &pre, together, &e), 0);
    int dt[3], dp[3], ds[3];
    uint8_t dw[3] = {1, 1, 1};
    for (int s = 0; s < 3; s++) {
        dt[s] = toks[s][len[s]];
        dp[s] = len[s];
        ds[s] = s;
    }
    QrBatch dec = {3, dt, dp, ds, dw};
    assert_int_equal(qr_model_forward(m, &dec, together, &e), 0);
    for (int s = 0; s < 3; s++) assert_memory_equal(alone[s], together + s * 512, sizeof alone[s]);
    qr_model_free(m);
}

static void test_forward_rejects_bad_batches(void **st) {
    (void)st;
    QrModel *m = load_stories(1, 8);
    float lg[512];
    QrErr e;
    int tok = 512, pos = 0, seq = 0;
    QrBatch b = {1, &tok, &pos, &seq, NULL};
    assert_int_equal(qr_model_forward(m, &b, lg, &e), -1);
    assert_non_null(strstr(e.msg, "token id 512"));
    tok = 1;
    seq = 1;
    assert_int_equal(qr_model_forward(m, &b, lg, &e), -1);
    assert_non_null(strstr(e.msg, "slot 1"));
    seq = 0;
    pos = 128;
    assert_int_equal(qr_model_forward(m, &b, lg, &e), -1);
    assert_non_null(strstr(e.msg, "position 128"));
    qr_model_free(m);
}

// The AVX2 register tiles give exactly the bits of the scalar reference for
// every weight format, on shapes that are not multiples of the tile or vector
// sizes, for every batch size of the tile edges.
// qr_model_forward_ids (greedy on the device for CUDA; on the CPU the argmax
// of the same logits): the stories260K reference continuation, 3 rows at once.
static void test_forward_ids(void **st) {
    (void)st;
    QrModel *m = load_stories(1, 32);
    int toks[5 + NEXP], pos[5 + NEXP], seq[5 + NEXP] = {0}, ids[5];
    uint8_t want[5] = {0, 0, 1, 1, 1};
    memcpy(toks, PROMPT, sizeof PROMPT);
    for (int i = 0; i < 5 + NEXP; i++) pos[i] = i;
    QrErr e;
    float lg[3 * 512];
    QrBatch b = {5, toks, pos, seq, want};
    assert_int_equal(qr_model_forward(m, &b, lg, &e), 0);
    qr_model_clear_seq(m, 0);
    assert_int_equal(qr_model_forward_ids(m, &b, ids, &e), 0);
    for (int r = 0; r < 3; r++) assert_int_equal(ids[r], argmax(lg + r * 512, 512));
    assert_int_equal(ids[2], EXPECT[0]);
    for (int i = 0; i < 20; i++) { // greedy decode through the ids path
        toks[5 + i] = ids[0 == i ? 2 : 0];
        QrBatch d = {1, &toks[5 + i], &pos[5 + i], seq, NULL};
        assert_int_equal(qr_model_forward_ids(m, &d, ids, &e), 0);
        assert_int_equal(ids[0], EXPECT[i + 1]);
    }
    qr_model_free(m);
#ifndef QR_CUDA
    // A CPU-only build refuses --device cuda with a message saying how to get it.
    QrLoadOpts o = {0};
    o.device = QR_DEVICE_CUDA;
    assert_int_not_equal(qr_model_load(&m, STORIES, &o, &e), 0);
    assert_non_null(strstr(e.msg, "make CUDA=1"));
#endif
}

static void test_gemm_matches_reference(void **st) {
    (void)st;
    const int shapes[][2] = {{1, 1}, {7, 3}, {13, 37}, {64, 64}, {33, 129}, {100, 8}, {9, 200}, {21, 67}};
    const QrDType dts[] = {QR_DT_F32, QR_DT_BF16, QR_DT_F16};
    uint64_t s = 42;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (size_t di = 0; di < 3; di++)
            for (int n = 1; n <= 14; n += n < 8 ? 1 : 5) { // 1..8, 13: every pair-tile edge
                int out = shapes[si][0], in = shapes[si][1];
                QrDType dt = dts[di];
                size_t es = qr_dtype_size(dt);
                void *W = malloc((size_t)out * in * es);
                float *x = malloc((size_t)n * in * 4), *y1 = malloc((size_t)n * out * 4),
                      *y2 = malloc((size_t)n * out * 4);
                for (size_t i = 0; i < (size_t)out * in; i++) {
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    float v = (float)((int32_t)(s >> 33) % 20000) / 10000.0f;
                    if (dt == QR_DT_F32) ((float *)W)[i] = v;
                    else if (dt == QR_DT_BF16) ((uint16_t *)W)[i] = qr_f32_to_bf16(v);
                    else ((uint16_t *)W)[i] = qr_f32_to_f16(v);
                }
                for (size_t i = 0; i < (size_t)n * in; i++) {
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    x[i] = (float)((int32_t)(s >> 33) % 20000) / 7000.0f;
                }
                qr_gemm_ref(dt, W, out, in, x, n, y2);
                // Both decode row groupings (kernels/gemm.h) and every SIMD level of
                // this CPU (AVX-512 prefill tiles, AVX2) give the reference's bits.
                for (int lv = 0; lv < 2; lv++) {
                    qr_qisa_cap(lv ? "avx2" : NULL);
                    for (int rows = 1; rows <= 8; rows += 7) {
                        qr_gemm_set_decode_rows(rows);
                        assert_int_equal(qr_gemm_decode_rows(), rows);
                        qr_gemm(dt, W, out, in, x, n, y1);
                        if (memcmp(y1, y2, (size_t)n * out * 4))
                            fail_msg("gemm %s out=%d in=%d n=%d (%s, decode rows %d) differs from the reference",
                                     qr_dtype_name(dt), out, in, n, qr_qisa_name(), rows);
                    }
                }
                qr_qisa_cap(NULL);
                qr_gemm_set_decode_rows(0);
                // and the reference is a dot product within float rounding
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < out; c++) {
                        double d = 0, mag = 0;
                        for (int k = 0; k < in; k++) {
                            float w = dt == QR_DT_F32 ? ((float *)W)[(size_t)c * in + k]
                                      : dt == QR_DT_BF16 ? qr_bf16_to_f32(((uint16_t *)W)[(size_t)c * in + k])
                                                         : qr_f16_to_f32(((uint16_t *)W)[(size_t)c * in + k]);
                            d += (double)w * x[(size_t)r * in + k];
                            mag += fabs((double)w * x[(size_t)r * in + k]);
                        }
                        assert_true(fabs(d - y2[(size_t)r * out + c]) <= 1e-6 * mag + 1e-30);
                    }
                free(W);
                free(x);
                free(y1);
                free(y2);
            }
}

static void test_dtype_conversions(void **st) {
    (void)st;
    // bf16: round to nearest even on the dropped 16 bits
    assert_int_equal(qr_f32_to_bf16(1.0f), 0x3f80);
    union { uint32_t u; float f; } v = {.u = 0x3f808000u}; // exactly halfway, even below
    assert_int_equal(qr_f32_to_bf16(v.f), 0x3f80);
    v.u = 0x3f818000u; // halfway, odd below -> up
    assert_int_equal(qr_f32_to_bf16(v.f), 0x3f82);
    assert_true(qr_bf16_to_f32(0xc000) == -2.0f);
    // f16 round trips and special values
    assert_int_equal(qr_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(qr_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(qr_f32_to_f16(65520.0f), 0x7c00); // rounds to inf
    assert_int_equal(qr_f32_to_f16(5.9604645e-08f), 0x0001); // smallest subnormal
    assert_true(qr_f16_to_f32(0x0001) == 5.9604645e-08f);
    assert_true(qr_f16_to_f32(0xc400) == -4.0f);
    for (uint32_t h = 0; h < 0x7c00; h += 7) assert_int_equal(qr_f32_to_f16(qr_f16_to_f32((uint16_t)h)), h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_greedy),       cmocka_unit_test(test_kv_cache_equals_recompute),
        cmocka_unit_test(test_batched_decode),       cmocka_unit_test(test_forward_rejects_bad_batches),
        cmocka_unit_test(test_gemm_matches_reference), cmocka_unit_test(test_dtype_conversions),
        cmocka_unit_test(test_forward_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
