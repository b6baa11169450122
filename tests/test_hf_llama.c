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

#define FIX "tests/fixtures/llama-tiny/"

typedef struct {
    int n, vocab;
    int ids[64];
    float *logits; // [n, vocab]
    int gp[8], ngp;
    int greedy[64];
} Ref;

static void load_ref(const char *dir, Ref *r) {
    char p[256];
    snprintf(p, sizeof p, "%s/reference.json", dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    json_t *ids = json_object_get(j, "input_ids"), *lg = json_object_get(j, "logits");
    r->n = (int)json_array_size(ids);
    r->vocab = (int)json_array_size(json_array_get(lg, 0));
    r->logits = malloc((size_t)r->n * r->vocab * 4);
    for (int i = 0; i < r->n; i++) {
        r->ids[i] = (int)json_integer_value(json_array_get(ids, i));
        for (int v = 0; v < r->vocab; v++)
            r->logits[(size_t)i * r->vocab + v] = (float)json_real_value(json_array_get(json_array_get(lg, i), v));
    }
    json_t *gp = json_object_get(j, "greedy_prompt"), *g = json_object_get(j, "greedy");
    r->ngp = (int)json_array_size(gp);
    for (int i = 0; i < r->ngp; i++) r->gp[i] = (int)json_integer_value(json_array_get(gp, i));
    assert_int_equal(json_array_size(g), 64);
    for (int i = 0; i < 64; i++) r->greedy[i] = (int)json_integer_value(json_array_get(g, i));
    json_decref(j);
}

static QrModel *load(const char *dir) {
    QrModel *m;
    QrErr e;
    if (qr_model_load(&m, dir, NULL, &e)) fail_msg("%s", e.msg);
    if (qr_model_reserve(m, 1, 128, 32, &e)) fail_msg("%s", e.msg);
    return m;
}

// All-position logits of the reference ids; returns max |ours - ref| / max |ref|.
static double rel_err(QrModel *m, const Ref *r, float *out) {
    int pos[64], seq[64] = {0};
    uint8_t want[64];
    for (int i = 0; i < r->n; i++) pos[i] = i, want[i] = 1;
    qr_model_clear_seq(m, 0);
    QrErr e;
    QrBatch b = {r->n, r->ids, pos, seq, want};
    if (qr_model_forward(m, &b, out, &e)) fail_msg("%s", e.msg);
    double md = 0, mr = 0;
    for (size_t i = 0; i < (size_t)r->n * r->vocab; i++) {
        md = fmax(md, fabs((double)out[i] - r->logits[i]));
        mr = fmax(mr, fabs((double)r->logits[i]));
    }
    return md / mr;
}

static void greedy(QrModel *m, const int *prompt, int np, int steps, int *outt) {
    int ids[128], pos[128], seq[128] = {0};
    float *lg = malloc((size_t)m->cfg.vocab_size * 4);
    memcpy(ids, prompt, (size_t)np * sizeof *ids);
    for (int i = 0; i < 128; i++) pos[i] = i;
    qr_model_clear_seq(m, 0);
    QrErr e;
    QrBatch b = {np, ids, pos, seq, NULL};
    if (qr_model_forward(m, &b, lg, &e)) fail_msg("%s", e.msg);
    for (int t = 0; t < steps; t++) {
        int best = 0;
        for (int v = 1; v < m->cfg.vocab_size; v++)
            if (lg[v] > lg[best]) best = v;
        outt[t] = ids[np + t] = best;
        QrBatch d = {1, &ids[np + t], &pos[np + t], seq, NULL};
        if (qr_model_forward(m, &d, lg, &e)) fail_msg("%s", e.msg);
    }
    free(lg);
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
