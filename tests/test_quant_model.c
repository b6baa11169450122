// Quantized models end to end: quantize-on-load against bitsandbytes'
// arithmetic (reference logits written by tools/quant_fixtures.py), loading
// checkpoints that transformers + bitsandbytes saved, `qrobust quantize`
// writing those same bytes, the round trip, logit drift versus fp32 on the
// tiny fixtures and stories260K, decode == prefill, and bad pre-quantized
// checkpoints rejected with one clear message.
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
#include <unistd.h>
#include "runtime/model.h"
#include "tests/hf_ref.h"
#include "runtime/qsave.h"
#include "util/fileio.h"
#include "weights/st_write.h"

#define QDIR "tests/fixtures/quant/"
#define TINY QDIR "tiny-llama"
#define STORIES "tests/fixtures/stories260K/stories260K.gguf"

static QrModel *load(const char *path, QrWeightFormat q, float threshold, int set_threshold) {
    QrLoadOpts o = {0};
    o.quant.fmt = q;
    o.quant.int8_threshold = threshold;
    o.quant.set_threshold = set_threshold;
    QrModel *m;
    QrErr e;
    if (qr_model_load(&m, path, &o, &e)) fail_msg("%s", e.msg);
    if (qr_model_reserve(m, 1, 64, 64, &e)) fail_msg("%s", e.msg);
    return m;
}

// The same logits, one token per forward call (KV cache).
static void decode_logits(QrModel *m, const int *ids, int n, float *out) {
    int pos[64], seq[1] = {0};
    for (int i = 0; i < n; i++) pos[i] = i;
    qr_model_clear_seq(m, 0);
    QrErr e;
    for (int i = 0; i < n; i++) {
        QrBatch b = {1, &ids[i], &pos[i], seq, NULL};
        if (qr_model_forward(m, &b, out + (size_t)i * m->cfg.vocab_size, &e)) fail_msg("%s", e.msg);
    }
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

// ---- against bitsandbytes' arithmetic ---------------------------------------------
typedef struct {
    int n, vocab, ids[64];
    float *fp32, *nf4, *int8;
} QRef;

static float *ref_array(json_t *j, const char *key, int n, int vocab) {
    json_t *a = json_object_get(j, key);
    float *v = malloc((size_t)n * vocab * 4);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < vocab; k++)
            v[(size_t)i * vocab + k] = (float)json_real_value(json_array_get(json_array_get(a, i), k));
    return v;
}

static void load_qref(QRef *r) {
    json_error_t je;
    json_t *j = json_load_file(QDIR "reference.json", 0, &je);
    if (!j) fail_msg("reference.json: %s", je.text);
    json_t *ids = json_object_get(j, "input_ids");
    r->n = (int)json_array_size(ids);
    r->vocab = (int)json_array_size(json_array_get(json_object_get(j, "fp32"), 0));
    for (int i = 0; i < r->n; i++) r->ids[i] = (int)json_integer_value(json_array_get(ids, i));
    r->fp32 = ref_array(j, "fp32", r->n, r->vocab);
    r->nf4 = ref_array(j, "nf4", r->n, r->vocab);
    r->int8 = ref_array(j, "int8", r->n, r->vocab);
    json_decref(j);
}

static void free_qref(QRef *r) {
    free(r->fp32);
    free(r->nf4);
    free(r->int8);
}

static void test_logits_vs_bitsandbytes(void **st) {
    (void)st;
    QRef r;
    load_qref(&r);
    const size_t N = (size_t)r.n * r.vocab;
    float *lg = malloc(N * 4);
    struct { QrWeightFormat f; const float *ref; const char *what; double tol; } C[] = {
        {QR_WF_F32, r.fp32, "fp32", 1e-5},
        // NF4 + double quant: the same dequantized weights, float32 products;
        // only the summation order differs.
        {QR_WF_NF4, r.nf4, "nf4", 1e-5},
        // LLM.int8 vs bitsandbytes' CPU backend: identical int8 codes, but its
        // dequantization constant is 1.8e-6 relative off 1/127^2 and, with
        // float32 activations, its outlier columns stay float32 where qrobust
        // rounds them to float16 (the study's float16 arithmetic on CUDA).
        // Measured 3.9e-3; with those two CPU-backend choices instead, 2.7e-7.
        {QR_WF_INT8, r.int8, "int8", 6e-3},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        QrModel *m = load(TINY, C[c].f, 0, 0);
        prefill_all(m, 0, r.ids, r.n, lg);
        const double err = max_rel_err(lg, C[c].ref, N);
        print_message("tiny-llama %-4s logits vs bitsandbytes reference: max |diff| / max |ref| = %.2e\n", C[c].what,
                      err);
        assert_true(err <= C[c].tol);
        qr_model_free(m);
    }
    free(lg);
    free_qref(&r);
}

// ---- pre-quantized checkpoints and the round trip -----------------------------------
static void expect_same_model(QrModel *a, QrModel *b) {
    QRef r;
    load_qref(&r);
    const size_t N = (size_t)r.n * r.vocab;
    float *la = malloc(N * 4), *lb = malloc(N * 4);
    prefill_all(a, 0, r.ids, r.n, la);
    prefill_all(b, 0, r.ids, r.n, lb);
    assert_memory_equal(la, lb, N * 4);
    int ga[40], gb[40];
    greedy(a, r.ids, 4, 40, ga);
    greedy(b, r.ids, 4, 40, gb);
    assert_memory_equal(ga, gb, sizeof ga);
    free(la);
    free(lb);
    free_qref(&r);
}

static void test_transformers_checkpoints_load(void **st) {
    (void)st;
    const struct { QrWeightFormat f; const char *dir; } C[] = {{QR_WF_NF4, QDIR "tiny-llama-nf4"},
                                                              {QR_WF_INT8, QDIR "tiny-llama-int8"}};
    for (int c = 0; c < 2; c++) {
        QrModel *pre = load(C[c].dir, QR_WF_F32, 0, 0), *onload = load(TINY, C[c].f, 0, 0);
        assert_int_equal(qr_model_quant_format(pre), C[c].f);
        // The quantized layers are views into the mapped file, not copies.
        size_t bytes = qr_model_weight_bytes(pre);
        assert_int_equal(bytes, qr_model_weight_bytes(onload));
        expect_same_model(pre, onload);
        qr_model_free(pre);
        qr_model_free(onload);
    }
}

static int files_equal(const char *a, const char *b) {
    QrMap x, y;
    QrErr e;
    if (qr_map_file(&x, a, &e)) fail_msg("%s", e.msg);
    if (qr_map_file(&y, b, &e)) fail_msg("%s", e.msg);
    int eq = x.size == y.size && (x.size == 0 || !memcmp(x.data, y.data, x.size));
    qr_unmap(&x);
    qr_unmap(&y);
    return eq;
}

// `qrobust quantize` writes exactly the bytes transformers + bitsandbytes
// save_pretrained wrote, and loading them gives the tokens of quantize-on-load.
static void test_quantize_round_trip(void **st) {
    (void)st;
    char tmp[] = "/tmp/qrquantXXXXXX";
    assert_non_null(mkdtemp(tmp));
    const struct { QrWeightFormat f; const char *name; } C[] = {{QR_WF_NF4, "nf4"}, {QR_WF_INT8, "int8"}};
    for (int c = 0; c < 2; c++) {
        char out[256], p1[300], p2[300];
        snprintf(out, sizeof out, "%s/%s", tmp, C[c].name);
        QrModel *m = load(TINY, C[c].f, 0, 0);
        QrErr e;
        if (qr_model_save_quantized(m, out, 0, &e)) fail_msg("%s", e.msg);
        // A second save into the same directory needs force.
        assert_int_equal(qr_model_save_quantized(m, out, 0, &e), -1);
        assert_non_null(strstr(e.msg, "--force"));
        snprintf(p1, sizeof p1, "%s/model.safetensors", out);
        snprintf(p2, sizeof p2, QDIR "tiny-llama-%s/model.safetensors", C[c].name);
        assert_true(files_equal(p1, p2));
        snprintf(p1, sizeof p1, "%s/config.json", out);
        snprintf(p2, sizeof p2, QDIR "tiny-llama-%s/config.json", C[c].name);
        json_t *j1 = json_load_file(p1, 0, NULL), *j2 = json_load_file(p2, 0, NULL);
        assert_non_null(j1);
        // Same config, quantization_config included (transformers adds its version string).
        json_object_del(j1, "transformers_version");
        json_object_del(j2, "transformers_version");
        assert_true(json_equal(j1, j2));
        json_decref(j1);
        json_decref(j2);
        QrModel *back = load(out, QR_WF_F32, 0, 0);
        expect_same_model(back, m);
        qr_model_free(back);
        qr_model_free(m);
        snprintf(p1, sizeof p1, "rm -rf '%s'", out);
        assert_int_equal(system(p1), 0);
    }
    rmdir(tmp);
}

// ---- logit drift -------------------------------------------------------------------
// Drift = max over positions and vocabulary of |logit_q - logit_fp32|, as a
// fraction of max |logit_fp32|. Bounds: the values measured when this test was
// written (printed below), with 50% headroom.
static void drift(const char *path, const int *ids, int n, double bound_int8, double bound_nf4) {
    QrModel *f = load(path, QR_WF_F32, 0, 0);
    const size_t N = (size_t)n * f->cfg.vocab_size;
    float *l0 = malloc(N * 4), *lq = malloc(N * 4);
    prefill_all(f, 0, ids, n, l0);
    const double scale = max_abs(l0, N);
    double d[2];
    const QrWeightFormat fm[2] = {QR_WF_INT8, QR_WF_NF4};
    for (int k = 0; k < 2; k++) {
        QrModel *q = load(path, fm[k], 0, 0);
        prefill_all(q, 0, ids, n, lq);
        d[k] = max_rel_err(lq, l0, N);
        qr_model_free(q);
    }
    print_message("%-40s logit drift vs fp32: int8 %.4f, nf4 %.4f (of max |logit| %.3g)\n", path, d[0], d[1], scale);
    assert_true(d[0] <= bound_int8);
    assert_true(d[1] <= bound_nf4);
    assert_true(d[0] > 0 && d[1] > 0); // quantization did happen
    free(l0);
    free(lq);
    qr_model_free(f);
}

static void test_logit_drift(void **st) {
    (void)st;
    const int ids[16] = {1, 17, 5, 88, 40, 3, 61, 29, 9, 73, 50, 12, 91, 44, 2, 36};
    // "Once upon a time, there was a little" with BOS
    const int story[12] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};
    // Measured: tiny-llama int8 0.0176, nf4 0.128; llama-tiny/untied int8
    // 0.0165, nf4 0.184; stories260K int8 0.0205, nf4 0.184.
    drift(TINY, ids, 16, 0.027, 0.19);
    drift("tests/fixtures/llama-tiny/untied-f32", ids, 16, 0.025, 0.28);
    drift(STORIES, story, 12, 0.031, 0.28);
}

// stories260K still tells its story when quantized (greedy, from BOS + "Once upon a time").
static void test_stories_generate(void **st) {
    (void)st;
    const int prompt[5] = {1, 403, 407, 261, 378};
    int g0[24], g8[24], g4[24];
    QrModel *m = load(STORIES, QR_WF_F32, 0, 0);
    greedy(m, prompt, 5, 24, g0);
    qr_model_free(m);
    m = load(STORIES, QR_WF_INT8, 0, 0);
    greedy(m, prompt, 5, 24, g8);
    qr_model_free(m);
    m = load(STORIES, QR_WF_NF4, 0, 0);
    greedy(m, prompt, 5, 24, g4);
    qr_model_free(m);
    int same8 = 0, same4 = 0;
    while (same8 < 24 && g8[same8] == g0[same8]) same8++;
    while (same4 < 24 && g4[same4] == g0[same4]) same4++;
    print_message("stories260K greedy: int8 agrees with fp32 for %d of 24 tokens, nf4 for %d\n", same8, same4);
    assert_true(same8 >= 20);
    assert_true(same4 >= 8);
}

// NF4 reduces in one canonical order: a token decoded alone (KV cache) gets the
// bits it gets inside the prompt batch. LLM.int8 without outliers likewise;
// with outliers the decomposition depends on the batch (as in bitsandbytes).
static void test_decode_equals_prefill(void **st) {
    (void)st;
    const int ids[10] = {1, 17, 5, 88, 40, 3, 61, 29, 9, 73};
    const struct { QrWeightFormat f; float thr; int set; } C[] = {{QR_WF_NF4, 0, 0}, {QR_WF_INT8, 0.0f, 1}};
    for (int c = 0; c < 2; c++) {
        QrModel *m = load(TINY, C[c].f, C[c].thr, C[c].set);
        const size_t N = (size_t)10 * m->cfg.vocab_size;
        float *a = malloc(N * 4), *b = malloc(N * 4);
        prefill_all(m, 0, ids, 10, a);
        decode_logits(m, ids, 10, b);
        assert_memory_equal(a, b, N * 4);
        free(a);
        free(b);
        qr_model_free(m);
    }
}

// ---- bad pre-quantized checkpoints ---------------------------------------------------
// Rewrites the transformers NF4 / int8 fixture into dir with one change.
typedef void (*Mutate)(QrTensor *t, int *n, json_t *cfg, void *scratch);

static void write_variant(const char *src, const char *dir, Mutate mut) {
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    QrSafetensors st;
    QrErr e;
    if (qr_st_open(&st, p, &e)) fail_msg("%s", e.msg);
    QrTensor *t = malloc(sizeof *t * (size_t)(st.n + 1));
    memcpy(t, st.tensors, sizeof *t * (size_t)st.n);
    int n = st.n;
    snprintf(p, sizeof p, "%s/config.json", src);
    json_t *cfg = json_load_file(p, 0, NULL);
    static uint8_t scratch[1 << 16]; // holds a modified copy of one tensor
    mut(t, &n, cfg, scratch);
    snprintf(p, sizeof p, "mkdir -p '%s'", dir);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (qr_st_write(p, t, n, NULL, &e)) fail_msg("%s", e.msg);
    snprintf(p, sizeof p, "%s/config.json", dir);
    assert_int_equal(json_dump_file(cfg, p, JSON_INDENT(1)), 0);
    json_decref(cfg);
    free(t);
    qr_st_close(&st);
}

static QrTensor *find(QrTensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    fail_msg("fixture lacks %s", name);
    return NULL;
}

#define QP "model.layers.1.mlp.up_proj.weight"
static void drop_absmax(QrTensor *t, int *n, json_t *c, void *s) {
    (void)c, (void)s;
    QrTensor *a = find(t, *n, QP ".absmax");
    *a = t[--*n];
}
static void no_config(QrTensor *t, int *n, json_t *c, void *s) {
    (void)t, (void)n, (void)s;
    json_object_del(c, "quantization_config");
}
static void fp4_config(QrTensor *t, int *n, json_t *c, void *s) {
    (void)t, (void)n, (void)s;
    json_object_set_new(json_object_get(c, "quantization_config"), "bnb_4bit_quant_type", json_string("fp4"));
}
static void no_double_quant(QrTensor *t, int *n, json_t *c, void *s) {
    (void)t, (void)n, (void)s;
    json_object_set_new(json_object_get(c, "quantization_config"), "bnb_4bit_use_double_quant", json_false());
}
static void blocksize_128(QrTensor *t, int *n, json_t *c, void *s) {
    (void)c;
    QrTensor *q = find(t, *n, QP ".quant_state.bitsandbytes__nf4");
    char *js = s;
    memcpy(js, q->data, q->nbytes);
    js[q->nbytes] = 0;
    char *b = strstr(js, "\"blocksize\": 64");
    assert_non_null(b);
    memcpy(b, "\"blocksize\": 28", 15); // same length
    q->data = js;
}
static void truncated_absmax(QrTensor *t, int *n, json_t *c, void *s) {
    (void)c, (void)s;
    QrTensor *a = find(t, *n, QP ".absmax");
    a->shape[0]--;
    a->nbytes--;
}
static void int8_minus128(QrTensor *t, int *n, json_t *c, void *s) {
    (void)c;
    QrTensor *w = find(t, *n, QP);
    assert_true(w->nbytes <= (1 << 16));
    memcpy(s, w->data, w->nbytes);
    ((int8_t *)s)[5] = -128;
    w->data = s;
}
static void int8_no_scb(QrTensor *t, int *n, json_t *c, void *s) {
    (void)c, (void)s;
    QrTensor *a = find(t, *n, "model.layers.1.mlp.up_proj.SCB");
    *a = t[--*n];
}

static void test_bad_prequantized(void **st) {
    (void)st;
    const struct { const char *src; Mutate m; const char *expect; } C[] = {
        {QDIR "tiny-llama-nf4", drop_absmax, QP ".absmax' is missing"},
        {QDIR "tiny-llama-nf4", no_config, "declares no bitsandbytes quantization"},
        {QDIR "tiny-llama-nf4", fp4_config, "bnb_4bit_quant_type 'fp4' is not supported"},
        {QDIR "tiny-llama-nf4", no_double_quant, "without bnb_4bit_use_double_quant"},
        {QDIR "tiny-llama-nf4", blocksize_128, "blocksize is not 64"},
        {QDIR "tiny-llama-nf4", truncated_absmax, QP ".absmax' has 175 elements, expected 176"},
        {QDIR "tiny-llama-int8", int8_minus128, "is -128"},
        {QDIR "tiny-llama-int8", int8_no_scb, "up_proj.SCB' is missing"},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        char dir[] = "/tmp/qrbadXXXXXX";
        assert_non_null(mkdtemp(dir));
        write_variant(C[c].src, dir, C[c].m);
        QrModel *m;
        QrErr e;
        QrLoadOpts o = {0};
        assert_int_equal(qr_model_load(&m, dir, &o, &e), -1);
        if (!strstr(e.msg, C[c].expect)) fail_msg("case %zu: message '%s' lacks '%s'", c, e.msg, C[c].expect);
        assert_null(strchr(e.msg, '\n'));
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
    // Asking for the other format than the checkpoint's.
    QrModel *m;
    QrErr e;
    QrLoadOpts o = {0};
    o.quant.fmt = QR_WF_INT8;
    assert_int_equal(qr_model_load(&m, QDIR "tiny-llama-nf4", &o, &e), -1);
    assert_non_null(strstr(e.msg, "already quantized as nf4"));
}

// ---- the command line --------------------------------------------------------------
static int run(const char *args) {
    const char *bin = getenv("QROBUST_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", bin ? bin : "./qrobust", args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **st) {
    (void)st;
    char tmp[] = "/tmp/qrcliXXXXXX";
    assert_non_null(mkdtemp(tmp));
    char a[512];
    snprintf(a, sizeof a, "quantize --model " TINY " --precision nf4 --out %s/q", tmp);
    assert_int_equal(run(a), 0);
    assert_int_equal(run(a), 2); // exists: needs --force
    snprintf(a, sizeof a, "quantize --model " TINY " --precision nf4 --out %s/q --force", tmp);
    assert_int_equal(run(a), 0);
    snprintf(a, sizeof a, "quantize --model " TINY " --precision fp8 --out %s/r", tmp);
    assert_int_equal(run(a), 2);
    snprintf(a, sizeof a, "quantize --model " STORIES " --precision int8 --out %s/s", tmp);
    assert_int_equal(run(a), 2); // GGUF: not the Hugging Face layout
    snprintf(a, sizeof a, "generate --model %s/q --ids '1 5 9' --max-new-tokens 4", tmp);
    assert_int_equal(run(a), 0);
    snprintf(a, sizeof a, "generate --model %s/q --ids '1 5 9' --max-new-tokens 4 --precision fp32", tmp);
    assert_int_equal(run(a), 2); // a quantized checkpoint cannot be read as fp32
    assert_int_equal(run("generate --model " STORIES " --ids '1 403' --max-new-tokens 4 --precision nf4"), 0);
    assert_int_equal(run("generate --model " STORIES " --ids '1 403' --max-new-tokens 4 --precision int4"), 2);
    assert_int_equal(run("generate --model " STORIES " --ids '1 403' --precision int8 --int8-threshold -1"), 2);
    assert_int_equal(run("quantize --help"), 0);
    snprintf(a, sizeof a, "rm -rf '%s'", tmp);
    assert_int_equal(system(a), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_vs_bitsandbytes), cmocka_unit_test(test_transformers_checkpoints_load),
        cmocka_unit_test(test_quantize_round_trip),    cmocka_unit_test(test_logit_drift),
        cmocka_unit_test(test_stories_generate),       cmocka_unit_test(test_decode_equals_prefill),
        cmocka_unit_test(test_bad_prequantized),       cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
