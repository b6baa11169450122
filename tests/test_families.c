// The model families beyond LLaMA (issue 5): CodeGen, StarCoder2, Qwen2 on
// tiny random checkpoints written by transformers (tools/make_family_fixtures.py)
// — logits at every position against transformers' own forward pass, 64
// greedy tokens, the KV cache against full recomputation, batched decoding
// against one sequence at a time — plus the published configs of the study's
// checkpoints (parameter counts), clear errors for unsupported options, and
// the new kernels (LayerNorm, GELU) against scalar references.
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
#include <sys/wait.h>
#include <unistd.h>
#include "kernels/ops.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/presets.h"
#include "tests/hf_ref.h"
#include "tokenizer/tokenizer.h"

#define FIX "tests/fixtures/families/"

static QrModel *load(const char *dir, int slots) {
    QrModel *m;
    QrErr e;
    if (qr_model_load(&m, dir, NULL, &e)) fail_msg("%s", e.msg);
    if (qr_model_reserve(m, slots, 128, 32, &e)) fail_msg("%s", e.msg);
    return m;
}

// Against transformers: all-position logits within 1e-4 relative max error,
// and 64 greedy tokens equal. Returns the model for more checks.
static QrModel *check_against_hf(const char *name, Ref *r) {
    char dir[128];
    snprintf(dir, sizeof dir, FIX "%s", name);
    load_ref(dir, r);
    QrModel *m = load(dir, 3);
    assert_int_equal(m->cfg.vocab_size, r->vocab);
    float *lg = malloc((size_t)r->n * r->vocab * sizeof(float));
    double err = rel_err(m, r, lg);
    printf("  %-18s logits vs transformers: max relative error %.2e\n", name, err);
    assert_true(err < 1e-4);
    int g[64];
    greedy(m, r->gp, r->ngp, 64, g);
    for (int i = 0; i < 64; i++)
        if (g[i] != r->greedy[i]) fail_msg("%s: greedy step %d: %d, transformers %d", name, i, g[i], r->greedy[i]);
    free(lg);
    return m;
}

// The KV cache path (prefill 5, then one token at a time) against one full
// recompute of the whole sequence, and three sequences decoded as one batch
// against each decoded alone. The GEMM and attention reduce in a fixed order
// whatever the batch, so all three must agree to the bit.
static void check_cache_and_batch(QrModel *m, const Ref *r) {
    int n = r->n, V = r->vocab, pre = 5;
    float *full = malloc((size_t)n * V * sizeof(float)), *inc = malloc((size_t)n * V * sizeof(float));
    prefill_all(m, 0, r->ids, n, full);
    // incremental: prefill `pre` tokens with all their logits, then 1 per call
    prefill_all(m, 1, r->ids, pre, inc);
    QrErr e;
    for (int i = pre; i < n; i++) {
        int seq = 1;
        QrBatch d = {1, &r->ids[i], &i, &seq, NULL};
        if (qr_model_forward(m, &d, inc + (size_t)i * V, &e)) fail_msg("%s", e.msg);
    }
    assert_memory_equal(full, inc, (size_t)n * V * sizeof(float));

    // three sequences with different prompts (suffixes of the reference ids)
    // and lengths, prefilled together, then decoded together for 8 steps
    enum { S = 3, STEPS = 8 };
    const int off[S] = {0, 3, 7}, len[S] = {6, 9, 4};
    int ids[64], pos[64], seq[64];
    int nb = 0;
    for (int s = 0; s < S; s++) {
        qr_model_clear_seq(m, s);
        for (int i = 0; i < len[s]; i++) ids[nb] = r->ids[off[s] + i], pos[nb] = i, seq[nb] = s, nb++;
    }
    uint8_t want[64] = {0};
    for (int s = 0, k = 0; s < S; s++) want[(k += len[s]) - 1] = 1;
    float *bl = malloc((size_t)S * V * sizeof(float));
    QrBatch b = {nb, ids, pos, seq, want};
    if (qr_model_forward(m, &b, bl, &e)) fail_msg("%s", e.msg);
    int batch_tok[S][STEPS];
    for (int t = 0; t < STEPS; t++) {
        int di[S], dp[S], ds[S];
        for (int s = 0; s < S; s++) {
            di[s] = batch_tok[s][t] = argmax(bl + (size_t)s * V, V);
            dp[s] = len[s] + t, ds[s] = s;
        }
        uint8_t all[S] = {1, 1, 1};
        QrBatch d = {S, di, dp, ds, all};
        if (qr_model_forward(m, &d, bl, &e)) fail_msg("%s", e.msg);
    }
    float *last_batch = malloc((size_t)S * V * sizeof(float));
    memcpy(last_batch, bl, (size_t)S * V * sizeof(float));
    // each alone in slot 0
    for (int s = 0; s < S; s++) {
        int one[STEPS];
        greedy(m, &r->ids[off[s]], len[s], STEPS, one);
        assert_memory_equal(one, batch_tok[s], sizeof one);
    }
    free(bl);
    free(last_batch);
    free(full);
    free(inc);
}

static void test_codegen(void **st) {
    (void)st;
    Ref r;
    QrModel *m = check_against_hf("codegen", &r);
    const QrConfig *c = &m->cfg;
    assert_string_equal(c->arch, "codegen");
    assert_int_equal(c->dim, 96);
    assert_int_equal(c->head_dim, 12);
    assert_int_equal(c->rope_dim, 8); // partial rotary
    assert_int_equal(c->rope_interleaved, 1);
    assert_int_equal(c->ffn_dim, 384); // n_inner null: 4 * n_embd
    assert_int_equal(c->act, QR_ACT_GELU_TANH);
    assert_int_equal(c->dtype, QR_DT_F16);
    // the fused projection is one linear layer, kept as stored (f16, HF layout)
    assert_string_equal(m->params[3].name, "transformer.h.0.attn.qkv_proj.weight");
    assert_true(m->params[3].block_linear);
    assert_int_equal(m->params[3].lin->fmt, QR_WF_F16);
    assert_int_equal(m->params[3].lin->out, 288);
    assert_true(m->params[0].embedding && !m->params[1].lin && m->params[1].n == 96);
    check_cache_and_batch(m, &r);
    // wte + per layer (ln 2*96, qkv 288*96, out 96*96, fc_in 384*96+384, fc_out 96*384+96) + ln_f + lm_head (+bias)
    int64_t layer = 2 * 96 + 288 * 96 + 96 * 96 + 384 * 96 + 384 + 96 * 384 + 96;
    assert_int_equal(qr_model_n_params(m), 320 * 96 + 2 * layer + 2 * 96 + 320 * 96 + 320);
    free(r.logits);
    qr_model_free(m);
}

static void test_starcoder2(void **st) {
    (void)st;
    Ref r;
    QrModel *m = check_against_hf("starcoder2", &r);
    const QrConfig *c = &m->cfg;
    assert_string_equal(c->arch, "starcoder2");
    assert_int_equal(c->sliding_window, 8); // shorter than the 24 reference positions
    assert_int_equal(c->n_kv_heads, 2);
    assert_int_equal(c->tie_embeddings, 1);
    assert_true(c->attn_bias && c->o_bias && c->mlp_bias);
    assert_true(fabs(c->rope_theta - 999999.4420358813) < 1e-9);
    check_cache_and_batch(m, &r);
    free(r.logits);
    qr_model_free(m);

    m = check_against_hf("starcoder2-untied", &r);
    assert_int_equal(m->cfg.tie_embeddings, 0);
    assert_int_equal(m->cfg.attn_bias | m->cfg.mlp_bias, 0);
    assert_int_equal(m->cfg.sliding_window, 0);
    assert_int_equal(m->cfg.dtype, QR_DT_BF16);
    check_cache_and_batch(m, &r);
    free(r.logits);
    qr_model_free(m);
}

static void test_qwen2(void **st) {
    (void)st;
    Ref r;
    QrModel *m = check_against_hf("qwen2", &r);
    const QrConfig *c = &m->cfg;
    assert_string_equal(c->arch, "llama");
    assert_string_equal(c->model_type, "qwen2");
    assert_int_equal(c->attn_bias, 1);
    assert_int_equal(c->o_bias, 0);
    assert_int_equal(c->tie_embeddings, 1);
    check_cache_and_batch(m, &r);
    // embed + per layer (2 norms, q 64x64+64, k/v 32x64+32, o 64x64, 3 MLP 88x64) + norm
    int64_t layer = 2 * 64 + 64 * 64 + 64 + 2 * (32 * 64 + 32) + 64 * 64 + 3 * 88 * 64;
    assert_int_equal(qr_model_n_params(m), 320 * 64 + 2 * layer + 64);
    free(r.logits);
    qr_model_free(m);
}

// The LLaMA-architecture checkpoints of the study through the same checks
// (their logits against transformers are tests/test_hf_llama.c's): the
// DeepSeek-Coder shape (linear rope scaling, factor 4, untied) and the
// LLaMA-3.2 shape (llama3 rope scaling, tied head, GQA).
static void test_llama_shapes_cache_and_batch(void **st) {
    (void)st;
    const char *dirs[] = {"tests/fixtures/llama-tiny/linear-f32", "tests/fixtures/llama-tiny/tied-f32"};
    const QrRopeType rope[] = {QR_ROPE_LINEAR, QR_ROPE_LLAMA3};
    for (int k = 0; k < 2; k++) {
        Ref r;
        load_ref(dirs[k], &r);
        QrModel *m = load(dirs[k], 3);
        assert_int_equal(m->cfg.rope_type, rope[k]);
        assert_int_equal(m->cfg.tie_embeddings, k);
        float *lg = malloc((size_t)r.n * r.vocab * sizeof(float));
        assert_true(rel_err(m, &r, lg) < 1e-4);
        check_cache_and_batch(m, &r);
        free(lg);
        free(r.logits);
        qr_model_free(m);
    }
}

// ---- a model directory as users have it: weights + tokenizer.json ----

// A temporary directory holding the family fixture's config.json and
// model.safetensors and the family's tokenizer (tokenizer.json.gz +
// tokenizer_config.json from the tokenizer fixtures), as links.
static void make_model_dir(char *dir, const char *fixture, const char *tok) {
    strcpy(dir, "/tmp/qrobust-fam-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char cwd[512], src[1024], dst[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *files[4][2] = {{FIX, "config.json"}, {FIX, "model.safetensors"},
                               {"tests/fixtures/tok/hf/", "tokenizer.json.gz"},
                               {"tests/fixtures/tok/hf/", "tokenizer_config.json"}};
    for (int i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/%s%s/%s", cwd, files[i][0], i < 2 ? fixture : tok, files[i][1]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i][1]);
        assert_int_equal(symlink(src, dst), 0);
    }
}

static void remove_model_dir(const char *dir) {
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json.gz", "tokenizer_config.json"};
    char p[1024];
    for (int i = 0; i < 4; i++) snprintf(p, sizeof p, "%s/%s", dir, files[i]), unlink(p);
    rmdir(dir);
}

// Text in, text out: the family's tokenizer loaded from the model directory
// encodes the prompts to the ids HF tokenizers gives (prompts chosen so that
// every id falls inside the fixtures' 320-token vocabulary), qr_generate
// decodes two prompts as one batch with the tokens of one-at-a-time greedy
// decoding, and the completion text is the tokenizer's decoding of them.
// (DeepSeek-Coder's tokenizer always starts with BOS 32013, outside any tiny
// vocabulary; its tokenizer and its LLaMA body are tested separately.)
static void test_generate_with_tokenizer(void **st) {
    (void)st;
    struct { const char *fixture, *tok; int ids[2][6], n[2]; } F[] = {
        {"codegen", "codegen", {{64, 13, 65, 7, 66, 8}, {69, 7, 87, 8}}, {6, 4}},
        {"starcoder2", "starcoder2", {{102, 51, 103, 45, 104, 46}, {107, 45, 125, 46}}, {6, 4}},
    };
    const char *text[2] = {"a.b(c)", "f(x)"};
    for (int f = 0; f < 2; f++) {
        char dir[64];
        make_model_dir(dir, F[f].fixture, F[f].tok);
        QrModel *m;
        Tokenizer *tok;
        QrErr e;
        if (qr_model_load(&m, dir, NULL, &e) || tok_load(&tok, dir, &e)) fail_msg("%s", e.msg);
        int32_t *ids[2];
        int n[2];
        for (int k = 0; k < 2; k++) {
            size_t nn;
            if (tok_encode(tok, text[k], strlen(text[k]), TOK_ADD_SPECIAL, &ids[k], &nn, &e)) fail_msg("%s", e.msg);
            n[k] = (int)nn;
            assert_int_equal(n[k], F[f].n[k]);
            for (int i = 0; i < n[k]; i++) assert_int_equal(ids[k][i], F[f].ids[k][i]);
        }
        QrGenParams p = {.max_new_tokens = 10, .temperature = 0, .top_p = 1, .ignore_eos = 1};
        QrCompletion out[2];
        const int32_t *const pr[2] = {ids[0], ids[1]};
        if (qr_generate(m, tok, pr, n, 2, &p, out, &e)) fail_msg("%s", e.msg);
        if (qr_model_reserve(m, 1, 128, 32, &e)) fail_msg("%s", e.msg);
        for (int k = 0; k < 2; k++) {
            int want[10], prompt[8];
            for (int i = 0; i < n[k]; i++) prompt[i] = ids[k][i];
            greedy(m, prompt, n[k], 10, want);
            assert_int_equal(out[k].n_tokens, 10);
            for (int i = 0; i < 10; i++) assert_int_equal(out[k].tokens[i], want[i]);
            size_t len;
            char *dec = tok_decode(tok, out[k].tokens, 10, 0, &len, &e);
            assert_non_null(dec);
            assert_int_equal(out[k].len, len);
            assert_memory_equal(out[k].text, dec, len);
            printf("  %-10s %-8s -> %d tokens (%d %d %d ...), %zu bytes of text\n", F[f].fixture, text[k],
                   out[k].n_tokens, want[0], want[1], want[2], len);
            free(dec);
            qr_completion_free(&out[k]);
            free(ids[k]);
        }
        tok_free(tok);
        qr_model_free(m);
        remove_model_dir(dir);
    }
}

// ---- published configs ----

static int parse_config(const char *json_text, QrConfig *c, QrErr *e) {
    json_error_t je;
    json_t *j = json_loads(json_text, 0, &je);
    if (!j) return qr_fail(e, "bad JSON: %s", je.text);
    QrCheckpoint ck;
    qr_ckpt_init_memory(&ck, j, "config");
    json_decref(j); // the checkpoint holds its own reference
    const QrArch *arch;
    int rc = qr_config_read(&ck, &arch, c, e);
    qr_ckpt_close(&ck);
    return rc;
}

static int64_t count_params(const char *json_text) {
    json_error_t je;
    json_t *j = json_loads(json_text, 0, &je);
    QrCheckpoint ck;
    qr_ckpt_init_memory(&ck, j, "config");
    json_decref(j);
    QrModel m = {0};
    QrErr e;
    if (qr_config_read(&ck, &m.arch, &m.cfg, &e)) fail_msg("%s", e.msg);
    int64_t n = qr_model_n_params(&m);
    qr_ckpt_close(&ck);
    return n;
}

// Each preset's parameter count from its config equals the count
// transformers gives for the same config (recorded in the preset; e.g.
// deepseek-coder-1.3b-base: 1,346,471,936 as the issue states).
static void test_preset_param_counts(void **st) {
    (void)st;
    assert_true(qr_n_presets >= 13);
    for (int i = 0; i < qr_n_presets; i++) {
        const QrPreset *p = &qr_presets[i];
        int64_t n = count_params(p->config);
        printf("  %-26s %15lld parameters (published: %s)\n", p->name, (long long)n, p->published);
        if (n != p->n_params) fail_msg("%s: %lld parameters, expected %lld", p->name, (long long)n, (long long)p->n_params);
    }
    assert_int_equal(qr_preset_find("deepseek-coder-1.3b-base")->n_params, 1346471936LL);
    assert_ptr_equal(qr_preset_find("Qwen/Qwen2.5-Coder-0.5B"), qr_preset_find("qwen2.5-coder-0.5b"));
    assert_null(qr_preset_find("gpt-5"));
}

// Config specifics the study depends on, read from the real configs.
static void test_preset_configs(void **st) {
    (void)st;
    QrConfig c;
    QrErr e;
    assert_int_equal(parse_config(qr_preset_find("deepseek-coder-1.3b-base")->config, &c, &e), 0);
    assert_string_equal(c.arch, "llama");
    assert_int_equal(c.rope_type, QR_ROPE_LINEAR);
    assert_true(c.rope_factor == 4.0 && c.rope_theta == 100000.0);
    assert_int_equal(c.vocab_size, 32256);
    assert_int_equal(c.bos_id, 32013); // <｜begin▁of▁sentence｜>
    assert_int_equal(c.eos_ids[0], 32014);
    assert_int_equal(c.tie_embeddings, 0);

    assert_int_equal(parse_config(qr_preset_find("llama-3.2-1b")->config, &c, &e), 0);
    assert_int_equal(c.rope_type, QR_ROPE_LLAMA3);
    assert_true(c.rope_factor == 32.0 && c.rope_low_freq_factor == 1.0 && c.rope_high_freq_factor == 4.0);
    assert_int_equal(c.rope_orig_max_pos, 8192);
    assert_int_equal(c.tie_embeddings, 1);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.vocab_size, 128256);
    assert_int_equal(parse_config(qr_preset_find("llama-3.1-8b")->config, &c, &e), 0);
    assert_int_equal(c.tie_embeddings, 0);
    assert_true(c.rope_factor == 8.0);

    assert_int_equal(parse_config(qr_preset_find("codegen-350M-mono")->config, &c, &e), 0);
    assert_string_equal(c.arch, "codegen");
    assert_int_equal(c.rope_dim, 32);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.ffn_dim, 4096);
    assert_int_equal(c.max_pos, 2048);
    assert_int_equal(c.eos_ids[0], 50256);

    assert_int_equal(parse_config(qr_preset_find("starcoder2-3b")->config, &c, &e), 0);
    assert_int_equal(c.tie_embeddings, 1); // key absent: Starcoder2Config's default
    assert_int_equal(c.sliding_window, 4096);
    assert_int_equal(c.n_kv_heads, 2);
    assert_int_equal(c.act, QR_ACT_GELU_TANH);
    assert_int_equal(parse_config(qr_preset_find("starcoder2-15b")->config, &c, &e), 0);
    assert_int_equal(c.tie_embeddings, 0);

    assert_int_equal(parse_config(qr_preset_find("qwen2.5-coder-0.5b")->config, &c, &e), 0);
    assert_string_equal(c.model_type, "qwen2");
    assert_true(c.attn_bias && !c.o_bias && !c.mlp_bias && c.tie_embeddings);
    assert_int_equal(c.sliding_window, 0); // use_sliding_window false
}

// Each family's tokenizer (the tokenizer stage's fixtures: tokenizer.json +
// tokenizer_config.json) agrees with the published config of its checkpoints
// on BOS/EOS and fits the embedding table: DeepSeek-Coder's BOS
// <｜begin▁of▁sentence｜> 32013, LLaMA-3's 128k vocabulary and BOS 128000,
// CodeGen's GPT-2 vocabulary plus its added whitespace tokens, StarCoder2's
// <|endoftext|> 0.
static void test_family_tokenizers_match_configs(void **st) {
    (void)st;
    struct { const char *tok, *preset, *bos_str; int bos, eos, n_vocab; } F[] = {
        {"deepseek-coder", "deepseek-coder-1.3b-base", "<｜begin▁of▁sentence｜>", 32013, 32014, 32022},
        {"llama3", "llama-3.2-1b", "<|begin_of_text|>", 128000, 128001, 128256},
        {"codegen", "codegen-350M-mono", NULL, -1, 50256, 50295},
        {"starcoder2", "starcoder2-3b", NULL, -1, 0, 49152},
    };
    for (size_t k = 0; k < sizeof F / sizeof *F; k++) {
        char dir[128];
        snprintf(dir, sizeof dir, "tests/fixtures/tok/hf/%s", F[k].tok);
        Tokenizer *t;
        QrErr e;
        if (tok_load(&t, dir, &e)) fail_msg("%s", e.msg);
        QrConfig c;
        assert_int_equal(parse_config(qr_preset_find(F[k].preset)->config, &c, &e), 0);
        assert_int_equal(tok_n_vocab(t), F[k].n_vocab);
        assert_true(tok_n_vocab(t) <= c.vocab_size); // every id has an embedding row
        assert_int_equal(tok_eos(t), F[k].eos);
        assert_int_equal(c.eos_ids[0], F[k].eos);
        int32_t *ids;
        size_t n;
        const char *text = "def f(x):\n    return x";
        if (tok_encode(t, text, strlen(text), TOK_ADD_SPECIAL, &ids, &n, &e)) fail_msg("%s", e.msg);
        if (F[k].bos >= 0) {
            assert_int_equal(tok_bos(t), F[k].bos);
            assert_int_equal(c.bos_id, F[k].bos);
            assert_string_equal(tok_token_str(t, F[k].bos), F[k].bos_str);
            // DeepSeek-Coder's tokenizer_config says add_bos_token; this llama3
            // tokenizer.json (an early Llama-3 file) has no template post-processor
            if (k == 0) assert_int_equal(ids[0], F[k].bos);
        }
        if (!strcmp(F[k].tok, "codegen")) { // the 4-space indent is one of CodeGen's added tokens
            int added = 0;
            for (size_t i = 0; i < n; i++) added += ids[i] >= 50257 && ids[i] <= 50294;
            assert_int_equal(added, 1);
        }
        free(ids);
        tok_free(t);
    }
}

// ---- unsupported options: a clear error naming the key, never wrong numbers ----

static void expect_error(const char *json_text, const char *needle) {
    QrConfig c;
    QrErr e = {{0}};
    if (!parse_config(json_text, &c, &e)) fail_msg("accepted: %s", json_text);
    if (!strstr(e.msg, needle)) fail_msg("error '%s' does not mention '%s'", e.msg, needle);
}

static void test_unsupported(void **st) {
    (void)st;
    expect_error("{\"model_type\": \"gpt_bigcode\", \"n_embd\": 64}", "unknown architecture model_type 'gpt_bigcode'");
    const char *llama = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 1, "
                        "\"num_attention_heads\": 4, \"intermediate_size\": 96, \"vocab_size\": 100, ";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}}", llama);
    expect_error(buf, "rope scaling type 'yarn' is not supported");
    snprintf(buf, sizeof buf, "%s\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 8.0}}", llama);
    expect_error(buf, "rope scaling type 'dynamic'");
    snprintf(buf, sizeof buf, "%s\"hidden_act\": \"gelu\"}", llama);
    expect_error(buf, "hidden_act 'gelu' is not supported for llama");
    snprintf(buf, sizeof buf, "%s\"rope_scaling\": {\"type\": \"linear\"}}", llama);
    expect_error(buf, "missing \"factor\"");
    const char *qwen = "{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                       "\"num_attention_heads\": 4, \"intermediate_size\": 96, \"vocab_size\": 100, ";
    snprintf(buf, sizeof buf, "%s\"use_sliding_window\": true, \"sliding_window\": 16, \"max_window_layers\": 1}",
             qwen);
    expect_error(buf, "sliding-window attention layers");
    snprintf(buf, sizeof buf, "%s\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", qwen);
    expect_error(buf, "sliding-window attention layers");
    const char *sc2 = "{\"model_type\": \"starcoder2\", \"hidden_size\": 64, \"num_hidden_layers\": 1, "
                      "\"num_attention_heads\": 4, \"intermediate_size\": 96, \"vocab_size\": 100, ";
    snprintf(buf, sizeof buf, "%s\"norm_type\": \"rms_norm\"}", sc2);
    expect_error(buf, "norm_type 'rms_norm' is not supported for starcoder2");
    snprintf(buf, sizeof buf, "%s\"hidden_act\": \"relu\"}", sc2);
    expect_error(buf, "hidden_act 'relu' is not supported for starcoder2");
    snprintf(buf, sizeof buf, "%s\"rope_parameters\": {\"rope_type\": \"longrope\", \"rope_theta\": 1e4}}", sc2);
    expect_error(buf, "rope scaling type 'longrope'");
    const char *cg = "{\"model_type\": \"codegen\", \"n_embd\": 96, \"n_layer\": 1, \"vocab_size\": 100, ";
    snprintf(buf, sizeof buf, "%s\"n_head\": 6, \"rotary_dim\": 8}", cg);
    expect_error(buf, "divisible by mp_num 4");
    snprintf(buf, sizeof buf, "%s\"n_head\": 8, \"rotary_dim\": null}", cg);
    expect_error(buf, "\"rotary_dim\": null is not supported");
    snprintf(buf, sizeof buf, "%s\"n_head\": 8, \"rotary_dim\": 16}", cg);
    expect_error(buf, "rotary dims 16 must be even and at most head_dim 12");
    snprintf(buf, sizeof buf, "%s\"n_head\": 8, \"rotary_dim\": 8, \"activation_function\": \"relu\"}", cg);
    expect_error(buf, "activation_function 'relu' is not supported for codegen");
    snprintf(buf, sizeof buf, "%s\"n_head\": 8, \"rotary_dim\": 8, \"rope_scaling\": {\"type\": \"linear\"}}", cg);
    expect_error(buf, "\"rope_scaling\" is not supported for codegen");
}

// A checkpoint missing a family tensor, or holding one of the wrong shape,
// is refused naming the tensor.
static void test_bad_checkpoint(void **st) {
    (void)st;
    json_error_t je;
    const char *cfgs[] = {
        "{\"model_type\": \"codegen\", \"n_embd\": 32, \"n_layer\": 1, \"n_head\": 4, \"rotary_dim\": 4, \"tie_word_embeddings\": true, "
        "\"vocab_size\": 50, \"bos_token_id\": 1, \"eos_token_id\": 2}",
        "{\"model_type\": \"starcoder2\", \"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
        "\"num_key_value_heads\": 2, \"intermediate_size\": 48, \"vocab_size\": 50}",
    };
    const char *drop[] = {"lm_head.bias", "model.layers.0.post_attention_layernorm.bias"};
    for (int k = 0; k < 2; k++) {
        // a complete random checkpoint loads ...
        QrCheckpoint ck;
        QrErr e;
        json_t *j = json_loads(cfgs[k], 0, &je);
        assert_int_equal(qr_ckpt_random(&ck, j, QR_DT_F32, 0.02f, 1, &e), 0);
        QrModel *m;
        if (qr_model_from_checkpoint(&m, &ck, NULL, &e)) fail_msg("%s", e.msg);
        // ... and one with a tensor left out does not
        QrCheckpoint part;
        qr_ckpt_init_memory(&part, j, "(partial)");
        for (int i = 0; i < m->ckpt.n_tensors; i++) {
            const QrTensor *t = &m->ckpt.tensors[i];
            if (!strcmp(t->name, drop[k])) continue;
            void *buf = malloc(t->nbytes);
            memcpy(buf, t->data, t->nbytes);
            assert_int_equal(qr_ckpt_add(&part, t->name, t->dtype, t->ndim, t->shape, buf, &e), 0);
        }
        assert_int_equal(qr_ckpt_finish(&part, &e), 0);
        QrModel *m2;
        assert_int_not_equal(qr_model_from_checkpoint(&m2, &part, NULL, &e), 0);
        if (!strstr(e.msg, drop[k]) || !strstr(e.msg, "missing")) fail_msg("unexpected error: %s", e.msg);
        qr_model_free(m);
        json_decref(j);
    }
}

// ---- the CLI: qrobust info --arch, qrobust bench --arch ----

// Runs `qrobust ARGS` (the binary `make test` built), returns its stdout.
static char *run_cli(const char *args, int *status) {
    const char *bin = getenv("QROBUST_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin ? bin : "./qrobust", args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    while (n + 1 < cap && (n += fread(out + n, 1, cap - 1 - n, f)) && !feof(f)) {
    }
    out[n] = 0;
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static void commas(char *buf, long long v) {
    char t[32];
    int len = snprintf(t, sizeof t, "%lld", v), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = t[i];
    }
    buf[o] = 0;
}

// `qrobust info --arch NAME` names the family and the exact parameter count
// of every published config (no weights needed).
static void test_cli_info_arch(void **st) {
    (void)st;
    for (int i = 0; i < qr_n_presets; i++) {
        char args[128], want[96], pc[32];
        snprintf(args, sizeof args, "info --arch %s", qr_presets[i].name);
        int status;
        char *out = run_cli(args, &status);
        assert_int_equal(status, 0);
        commas(pc, qr_presets[i].n_params);
        snprintf(want, sizeof want, "parameters:  %s\n", pc);
        if (!strstr(out, want)) fail_msg("%s: no '%s' in:\n%s", qr_presets[i].name, want, out);
        const char *fam = strstr(qr_presets[i].config, "\"codegen\"")      ? "family:      codegen"
                          : strstr(qr_presets[i].config, "\"starcoder2\"") ? "family:      starcoder2"
                                                                              : "family:      llama";
        if (!strstr(out, fam)) fail_msg("%s: no '%s' in:\n%s", qr_presets[i].name, fam, out);
        free(out);
    }
    int status;
    char *out = run_cli("info --arch no-such-model", &status);
    assert_int_equal(status, 2);
    assert_non_null(strstr(out, "qrobust: 'no-such-model' is neither a known checkpoint"));
    free(out);
}

// `qrobust bench --arch` on a config.json file: a random model of that shape,
// timed; the JSON report carries the numbers.
static void test_cli_bench(void **st) {
    (void)st;
    int status;
    char *out = run_cli("bench --arch " FIX "codegen/config.json --prompt 6 --gen 3 --batch 2 --reps 1 --no-bandwidth "
                        "--json --threads 1", &status);
    assert_int_equal(status, 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j) fail_msg("not JSON (%s): %s", je.text, out);
    assert_string_equal(json_string_value(json_object_get(j, "family")), "codegen");
    assert_int_equal(json_integer_value(json_object_get(j, "parameters")), 284480);
    assert_int_equal(json_integer_value(json_object_get(j, "batch")), 2);
    assert_true(json_real_value(json_object_get(j, "prefill_tokens_per_s")) > 0);
    assert_true(json_real_value(json_object_get(j, "decode_tokens_per_s")) > 0);
    // bf16 matrices (2 bytes a parameter), norm weights and biases held as f32:
    // 2 x (ln_1 192 + fc_in bias 384 + fc_out bias 96) + ln_f 192 + lm_head bias 320 = 1856
    assert_int_equal(json_integer_value(json_object_get(j, "weight_bytes")), (284480 - 1856) * 2 + 1856 * 4);
    json_decref(j);
    free(out);
    out = run_cli("bench --arch codegen-350M-mono --dtype f8", &status);
    assert_int_equal(status, 2);
    assert_non_null(strstr(out, "--dtype 'f8'"));
    free(out);
}

// ---- kernels ----

static void test_layernorm_gelu(void **st) {
    (void)st;
    enum { N = 3, D = 37 };
    float x[N * D], w[D], b[D], y[N * D];
    uint64_t s = 7;
    for (int i = 0; i < N * D; i++) s = s * 6364136223846793005ull + 1, x[i] = (float)((s >> 40) % 2001) / 100 - 10;
    for (int j = 0; j < D; j++) w[j] = 0.5f + 0.01f * j, b[j] = 0.1f * (j % 5) - 0.2f;
    qr_layernorm(y, x, w, b, N, D, 1e-5f);
    for (int r = 0; r < N; r++) {
        double mu = 0, var = 0;
        for (int j = 0; j < D; j++) mu += x[r * D + j];
        mu /= D;
        for (int j = 0; j < D; j++) var += (x[r * D + j] - mu) * (x[r * D + j] - mu);
        var /= D;
        for (int j = 0; j < D; j++) {
            double want = (x[r * D + j] - mu) / sqrt(var + 1e-5) * w[j] + b[j];
            assert_true(fabs(y[r * D + j] - want) < 1e-5 * (1 + fabs(want)));
        }
    }
    // in place gives the same bits
    float z[N * D];
    memcpy(z, x, sizeof z);
    qr_layernorm(z, z, w, b, N, D, 1e-5f);
    assert_memory_equal(z, y, sizeof z);

    // GELU: tanh form (gelu_new / gelu_pytorch_tanh) and erf form, against
    // double references and a few known values (gelu(1) = 0.8413447460685429
    // exactly; tanh form 0.8411919906082768).
    float g[N * D], h[N * D];
    memcpy(g, x, sizeof g);
    memcpy(h, x, sizeof h);
    qr_gelu_tanh(g, N * D);
    qr_gelu(h, N * D);
    for (int i = 0; i < N * D; i++) {
        double v = x[i];
        double t = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        double f = 0.5 * v * (1 + erf(v / sqrt(2)));
        assert_true(fabs(g[i] - t) < 2e-6 * (1 + fabs(t)));
        assert_true(fabs(h[i] - f) < 2e-6 * (1 + fabs(f)));
    }
    float one[2] = {1, 1};
    qr_gelu_tanh(one, 1);
    qr_gelu(one + 1, 1);
    assert_true(fabs(one[0] - 0.8411919906082768) < 1e-7);
    assert_true(fabs(one[1] - 0.8413447460685429) < 1e-7);
}

// GPT-J rotary on the first rope_dim dims of each head (pairs 2j, 2j+1), the
// rest untouched, against the formula of transformers' apply_rotary_pos_emb
// for CodeGen: x * cos + rotate_every_two(x) * sin.
static void test_rope_partial_interleaved(void **st) {
    (void)st;
    enum { H = 2, HD = 12, RD = 8 };
    float x[H * HD], y[H * HD], inv[RD / 2];
    for (int i = 0; i < H * HD; i++) x[i] = (float)(i % 7) - 3.0f + 0.25f * i;
    qr_rope_freqs(inv, RD, 10000.0, 0, 1, 1, 1, 1);
    memcpy(y, x, sizeof y);
    int pos = 5;
    qr_rope(y, 1, H, HD, RD, &pos, inv, 1);
    for (int h = 0; h < H; h++) {
        const float *a = x + h * HD, *o = y + h * HD;
        for (int j = 0; j < RD / 2; j++) {
            double ang = pos * (1.0 / pow(10000.0, 2.0 * j / RD)), c = cos(ang), s = sin(ang);
            assert_true(fabs(o[2 * j] - (a[2 * j] * c - a[2 * j + 1] * s)) < 1e-5);
            assert_true(fabs(o[2 * j + 1] - (a[2 * j + 1] * c + a[2 * j] * s)) < 1e-5);
        }
        for (int d = RD; d < HD; d++) assert_true(o[d] == a[d]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codegen),
        cmocka_unit_test(test_starcoder2),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_llama_shapes_cache_and_batch),
        cmocka_unit_test(test_generate_with_tokenizer),
        cmocka_unit_test(test_preset_param_counts),
        cmocka_unit_test(test_preset_configs),
        cmocka_unit_test(test_family_tokenizers_match_configs),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_bad_checkpoint),
        cmocka_unit_test(test_cli_info_arch),
        cmocka_unit_test(test_cli_bench),
        cmocka_unit_test(test_layernorm_gelu),
        cmocka_unit_test(test_rope_partial_interleaved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
