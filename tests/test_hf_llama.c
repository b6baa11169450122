// The tiny Hugging Face LLaMA fixtures (tools/make_llama_fixtures.py): logits
// against transformers' own forward pass, greedy tokens, the same weights in
// f32/bf16/f16, sharded loading, tied/untied heads, llama3 and linear rope
// scaling, legacy and current config spellings.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/model.h"
#include "tests/hf_ref.h"

#define FIX "tests/fixtures/llama-tiny/"

static QrModel *load(const char *dir) {
    QrModel *m;
    QrErr e;
    if (qr_model_load(&m, dir, NULL, &e)) fail_msg("%s", e.msg);
    if (qr_model_reserve(m, 1, 128, 32, &e)) fail_msg("%s", e.msg);
    return m;
}

static void check_fixture(const char *name, QrModel **keep, float **keep_logits) {
    char dir[128];
    snprintf(dir, sizeof dir, FIX "%s", name);
    Ref r;
    load_ref(dir, &r);
    QrModel *m = load(dir);
    assert_int_equal(m->cfg.vocab_size, r.vocab);
    float *lg = malloc((size_t)r.n * r.vocab * 4);
    double err = rel_err(m, &r, lg);
    printf("  %-12s logits vs transformers: max relative error %.2e\n", name, err);
    assert_true(err < 1e-4);
    int g[64];
    greedy(m, r.gp, r.ngp, 64, g);
    for (int i = 0; i < 64; i++)
        if (g[i] != r.greedy[i]) fail_msg("%s: greedy step %d: %d, transformers %d", name, i, g[i], r.greedy[i]);
    free(r.logits);
    if (keep) *keep = m, *keep_logits = lg;
    else qr_model_free(m), free(lg);
}

static void test_untied_llama3_sharded(void **st) {
    (void)st;
    QrModel *m;
    float *lg;
    check_fixture("untied-f32", &m, &lg);
    assert_int_equal(m->ckpt.n_shards, 3);
    assert_int_equal(m->cfg.n_kv_heads, 2);
    assert_int_equal(m->cfg.tie_embeddings, 0);
    assert_int_equal(m->cfg.rope_type, QR_ROPE_LLAMA3);
    // The same numbers stored as bf16 and f16 give bit-identical logits and
    // tokens (the fixture's weights are exactly representable in both).
    const char *other[] = {"untied-bf16", "untied-f16"};
    const QrDType want_dt[] = {QR_DT_BF16, QR_DT_F16};
    Ref r;
    load_ref(FIX "untied-f32", &r);
    int g32[64];
    greedy(m, r.gp, r.ngp, 64, g32);
    for (int k = 0; k < 2; k++) {
        char dir[128];
        snprintf(dir, sizeof dir, FIX "%s", other[k]);
        QrModel *m2 = load(dir);
        assert_int_equal(m2->cfg.dtype, want_dt[k]);
        assert_true(m2->params[2].block_linear);
        assert_int_equal(m2->params[2].lin->fmt, k == 0 ? QR_WF_BF16 : QR_WF_F16);
        float *lg2 = malloc((size_t)r.n * r.vocab * 4);
        rel_err(m2, &r, lg2);
        assert_memory_equal(lg, lg2, (size_t)r.n * r.vocab * 4);
        int g[64];
        greedy(m2, r.gp, r.ngp, 64, g);
        assert_memory_equal(g, g32, sizeof g);
        free(lg2);
        qr_model_free(m2);
    }
    // Converting at load (f32 -> bf16) also gives the same bits here.
    QrModel *m3;
    QrErr e;
    QrLoadOpts o = {.convert = 1, .weight_format = QR_WF_BF16};
    assert_int_equal(qr_model_load(&m3, FIX "untied-f32", &o, &e), 0);
    assert_int_equal(qr_model_reserve(m3, 1, 64, 32, &e), 0);
    float *lg3 = malloc((size_t)r.n * r.vocab * 4);
    rel_err(m3, &r, lg3);
    assert_memory_equal(lg, lg3, (size_t)r.n * r.vocab * 4);
    free(lg3);
    qr_model_free(m3);
    free(r.logits);
    free(lg);
    qr_model_free(m);
}

static void test_tied_legacy_config_bias(void **st) {
    (void)st;
    QrModel *m;
    float *lg;
    check_fixture("tied-f32", &m, &lg);
    assert_int_equal(m->cfg.tie_embeddings, 1);
    assert_int_equal(m->cfg.attn_bias, 1);
    assert_true(m->cfg.rope_theta == 500000.0);
    assert_int_equal(m->cfg.rope_type, QR_ROPE_LLAMA3);
    assert_int_equal(m->cfg.rope_orig_max_pos, 64);
    free(lg);
    qr_model_free(m);
}

static void test_linear_rope(void **st) {
    (void)st;
    QrModel *m;
    float *lg;
    check_fixture("linear-f32", &m, &lg);
    assert_int_equal(m->cfg.rope_type, QR_ROPE_LINEAR);
    assert_true(m->cfg.rope_factor == 4.0);
    assert_int_equal(m->cfg.n_kv_heads, 4);
    free(lg);
    qr_model_free(m);
}

// Parameter count and bytes follow from the config: embed 256x64, per layer
// q 64x64, k/v 32x64, o 64x64, gate/up 88x64, down 64x88, 2 norms; final norm, head.
static void test_param_count(void **st) {
    (void)st;
    QrModel *m = load(FIX "untied-f32");
    int64_t per_layer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 88 * 64 + 2 * 64;
    int64_t want = 256 * 64 + 2 * per_layer + 64 + 256 * 64;
    assert_int_equal(qr_model_n_params(m), want);
    assert_int_equal(qr_model_weight_bytes(m), (size_t)want * 4);
    // per token: everything but all embedding rows except one
    assert_int_equal(qr_model_bytes_per_token(m), (size_t)(want - 255 * 64) * 4);
    qr_model_free(m);
    m = load(FIX "tied-f32");
    int64_t bias = 64 + 32 + 32 + 64;
    assert_int_equal(qr_model_n_params(m), 256 * 64 + 2 * (per_layer + bias) + 64);
    qr_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untied_llama3_sharded),
        cmocka_unit_test(test_tied_legacy_config_bias),
        cmocka_unit_test(test_linear_rope),
        cmocka_unit_test(test_param_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
