// mBART encoder-decoder: config, weights, forward passes, beam search
// (attacks/mbart.h). The tokenizer and the translation glue are in
// attacks/mbart_tok.c.
#include "attacks/mbart.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "util/fileio.h"

// ---- config ----

static int get_int(const json_t *j, const char *key, long long def, long long lo, long long hi, int *out,
                   const char *file, QrErr *e) {
    long long v;
    if (qr_json_int(j, key, 0, def, lo, hi, &v, file, e)) return -1;
    *out = (int)v;
    return 0;
}

static int get_bool(const json_t *j, const char *key, int def, int *out, const char *file, QrErr *e) {
    const json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) *out = def;
    else if (json_is_boolean(v)) *out = json_is_true(v);
    else return qr_fail(e, "%s: \"%s\" is not a boolean", file, key);
    return 0;
}

static int read_config(const json_t *j, const char *file, MbartConfig *c, QrErr *e) {
    const char *mt;
    if (qr_json_str(j, "model_type", &mt, file, e)) return -1;
    if (!mt || strcmp(mt, "mbart"))
        return qr_fail(e, "%s: model_type '%s' is not an mBART checkpoint (\"mbart\" expected)", file, mt ? mt : "(none)");
    // Defaults: transformers' MBartConfig.
    if (get_int(j, "vocab_size", 50265, 4, 1 << 22, &c->vocab_size, file, e) ||
        get_int(j, "d_model", 1024, 1, 1 << 16, &c->d_model, file, e) ||
        get_int(j, "encoder_layers", 12, 0, 256, &c->enc_layers, file, e) ||
        get_int(j, "decoder_layers", 12, 1, 256, &c->dec_layers, file, e) ||
        get_int(j, "encoder_attention_heads", 16, 1, 1024, &c->enc_heads, file, e) ||
        get_int(j, "decoder_attention_heads", 16, 1, 1024, &c->dec_heads, file, e) ||
        get_int(j, "encoder_ffn_dim", 4096, 1, 1 << 20, &c->enc_ffn, file, e) ||
        get_int(j, "decoder_ffn_dim", 4096, 1, 1 << 20, &c->dec_ffn, file, e) ||
        get_int(j, "max_position_embeddings", 1024, 1, 1 << 20, &c->max_pos, file, e) ||
        get_int(j, "pad_token_id", 1, -1, 1 << 22, &c->pad_id, file, e) ||
        get_int(j, "bos_token_id", 0, -1, 1 << 22, &c->bos_id, file, e) ||
        get_int(j, "eos_token_id", 2, -1, 1 << 22, &c->eos_id, file, e) ||
        get_bool(j, "scale_embedding", 0, &c->scale_embedding, file, e) ||
        get_bool(j, "tie_word_embeddings", 1, &c->tie_embeddings, file, e))
        return -1;
    if (c->d_model % c->enc_heads || c->d_model % c->dec_heads)
        return qr_fail(e, "%s: d_model %d is not a multiple of the attention heads (%d, %d)", file, c->d_model,
                       c->enc_heads, c->dec_heads);
    static const struct { const char *name; MbartAct act; } ACTS[] = {
        {"gelu", MBART_ACT_GELU}, {"relu", MBART_ACT_RELU}, {"gelu_new", MBART_ACT_GELU_TANH},
        {"gelu_pytorch_tanh", MBART_ACT_GELU_TANH}, {"silu", MBART_ACT_SILU}, {"swish", MBART_ACT_SILU},
    };
    const char *act;
    if (qr_json_str(j, "activation_function", &act, file, e)) return -1;
    if (!act) act = "gelu";
    size_t k = 0;
    while (k < sizeof ACTS / sizeof *ACTS && strcmp(act, ACTS[k].name)) k++;
    if (k == sizeof ACTS / sizeof *ACTS)
        return qr_fail(e, "%s: activation_function '%s' is not supported (gelu, relu, gelu_new, silu)", file, act);
    c->act = ACTS[k].act;
    c->ln_eps = 1e-5f;
    return 0;
}

// eos_token_id as an int or a list of ints.
static int read_ids(const json_t *v, int *ids, int max, int *n, const char *key, const char *file, QrErr *e) {
    *n = 0;
    if (json_is_integer(v)) {
        ids[(*n)++] = (int)json_integer_value(v);
        return 0;
    }
    size_t i;
    const json_t *x;
    if (!json_is_array(v)) return qr_fail(e, "%s: \"%s\" is not an integer or a list of integers", file, key);
    json_array_foreach(v, i, x) {
        if (!json_is_integer(x) || *n >= max) return qr_fail(e, "%s: \"%s\": up to %d integer ids expected", file, key, max);
        ids[(*n)++] = (int)json_integer_value(x);
    }
    return 0;
}

// Generation parameters: generation_config.json when the directory has one,
// else the legacy keys of config.json (transformers' from_model_config);
// special token ids missing from the former come from config.json. dir NULL:
// config.json only.
static int read_gen(const json_t *cfg, const char *cfg_file, const char *dir, const MbartConfig *c, MbartGen *g,
                    QrErr *e) {
    char path[4096] = "";
    if (dir) snprintf(path, sizeof path, "%s/generation_config.json", dir);
    json_t *gj = NULL;
    const json_t *j = cfg;
    const char *file = cfg_file;
    if (dir && qr_file_exists(path)) {
        json_error_t je;
        if (!(gj = json_load_file(path, 0, &je))) return qr_fail(e, "%s: line %d: %s", path, je.line, je.text);
        if (!json_is_object(gj)) {
            json_decref(gj);
            return qr_fail(e, "%s: not a JSON object", path);
        }
        j = gj;
        file = path;
    }
    int rc = -1;
    if (get_int(j, "num_beams", 1, 1, 64, &g->num_beams, file, e) ||
        get_int(j, "max_length", 20, 1, 1 << 20, &g->max_length, file, e) ||
        get_int(j, "min_length", 0, 0, 1 << 20, &g->min_length, file, e) ||
        qr_json_num(j, "length_penalty", 0, 1.0, &g->length_penalty, file, e))
        goto out;
    const json_t *mnt = json_object_get(j, "max_new_tokens");
    if (json_is_integer(mnt)) g->max_length = 1 + (int)json_integer_value(mnt); // decoder prompt: the start token
    const json_t *es = json_object_get(j, "early_stopping");
    if (!es || json_is_null(es) || json_is_false(es)) g->early_stopping = MBART_EARLY_FALSE;
    else if (json_is_true(es)) g->early_stopping = MBART_EARLY_TRUE;
    else if (json_is_string(es) && !strcmp(json_string_value(es), "never")) g->early_stopping = MBART_EARLY_NEVER;
    else {
        qr_fail(e, "%s: \"early_stopping\" must be true, false or \"never\"", file);
        goto out;
    }
    // Options this engine does not implement must be at their neutral values.
    double rp = 1.0;
    long long nr = 0, ng = 1, nrs = 1;
    if (qr_json_num(j, "repetition_penalty", 0, 1.0, &rp, file, e) ||
        qr_json_int(j, "no_repeat_ngram_size", 0, 0, 0, 1 << 20, &nr, file, e) ||
        qr_json_int(j, "num_beam_groups", 0, 1, 1, 1 << 20, &ng, file, e) ||
        qr_json_int(j, "num_return_sequences", 0, 1, 1, 1 << 20, &nrs, file, e))
        goto out;
    if (json_is_true(json_object_get(j, "do_sample")) || rp != 1.0 || nr || ng != 1 || nrs != 1) {
        qr_fail(e, "%s: unsupported generation option (do_sample, repetition_penalty, no_repeat_ngram_size, "
                   "num_beam_groups and num_return_sequences must keep their defaults)", file);
        goto out;
    }
    // Special tokens: this file, else config.json.
    const json_t *v = json_object_get(j, "decoder_start_token_id");
    if (!json_is_integer(v)) v = json_object_get(cfg, "decoder_start_token_id");
    g->decoder_start_id = json_is_integer(v) ? (int)json_integer_value(v) : c->bos_id;
    v = json_object_get(j, "forced_eos_token_id");
    if (!v) v = json_object_get(cfg, "forced_eos_token_id");
    g->forced_eos_id = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    v = json_object_get(j, "eos_token_id");
    if (!v || json_is_null(v)) v = json_object_get(cfg, "eos_token_id");
    if (!v || json_is_null(v)) {
        g->eos_ids[0] = c->eos_id;
        g->n_eos = c->eos_id >= 0;
    } else if (read_ids(v, g->eos_ids, 4, &g->n_eos, "eos_token_id", file, e)) {
        goto out;
    }
    if (g->max_length < 2) {
        qr_fail(e, "%s: max_length %d leaves no room for a generated token", file, g->max_length);
        goto out;
    }
    int ids[3] = {g->decoder_start_id, g->forced_eos_id, g->n_eos ? g->eos_ids[0] : 0};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= c->vocab_size || (i == 0 && ids[i] < 0)) {
            qr_fail(e, "%s: special token id %d outside the vocabulary of %d", file, ids[i], c->vocab_size);
            goto out;
        }
    rc = 0;
out:
    json_decref(gj);
    return rc;
}

// ---- weights ----

// Tensor names are "<prefix>.weight" / "<prefix>.bias"; prefixes fit in 160 bytes.
static int load_linear(const QrCheckpoint *ck, const char *prefix, int out, int in, int bias, QrLinear *L, QrErr *e) {
    char name[176];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const QrTensor *t = qr_ckpt_need(ck, name, e);
    if (!t || qr_linear_from_tensor(L, t, out, in, 0, QR_WF_F32, e)) return -1;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        if (!(L->bias = qr_ckpt_vec(ck, name, out, e))) return -1;
    }
    return 0;
}

static int load_norm(const QrCheckpoint *ck, const char *prefix, int d, float **w, float **b, QrErr *e) {
    char name[176];
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!(*w = qr_ckpt_vec(ck, name, d, e))) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return (*b = qr_ckpt_vec(ck, name, d, e)) ? 0 : -1;
}

static int load_attn(const QrCheckpoint *ck, const char *prefix, const char *ln, int d, MbartAttn *a, QrErr *e) {
    char p[160];
    static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    QrLinear *L[4] = {&a->q, &a->k, &a->v, &a->o};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.%s", prefix, proj[i]);
        if (load_linear(ck, p, d, d, 1, L[i], e)) return -1;
    }
    return load_norm(ck, ln, d, &a->ln_w, &a->ln_b, e);
}

static int load_stack(const QrCheckpoint *ck, const MbartConfig *c, int dec, MbartStack *s, QrErr *e) {
    const char *side = dec ? "model.decoder" : "model.encoder";
    int d = c->d_model;
    char p[160], q[160];
    s->n_layers = dec ? c->dec_layers : c->enc_layers;
    s->n_heads = dec ? c->dec_heads : c->enc_heads;
    s->ffn = dec ? c->dec_ffn : c->enc_ffn;
    snprintf(p, sizeof p, "%s.embed_positions", side);
    if (load_linear(ck, p, c->max_pos + 2, d, 0, &s->pos, e)) return -1;
    snprintf(p, sizeof p, "%s.layernorm_embedding", side);
    if (load_norm(ck, p, d, &s->ln_emb_w, &s->ln_emb_b, e)) return -1;
    snprintf(p, sizeof p, "%s.layer_norm", side);
    if (load_norm(ck, p, d, &s->ln_w, &s->ln_b, e)) return -1;
    if (!(s->layers = calloc((size_t)s->n_layers, sizeof *s->layers))) return qr_fail(e, "out of memory");
    for (int l = 0; l < s->n_layers; l++) {
        MbartLayer *L = &s->layers[l];
        snprintf(p, sizeof p, "%s.layers.%d.self_attn", side, l);
        snprintf(q, sizeof q, "%s.layers.%d.self_attn_layer_norm", side, l);
        if (load_attn(ck, p, q, d, &L->self, e)) return -1;
        if (dec) {
            snprintf(p, sizeof p, "%s.layers.%d.encoder_attn", side, l);
            snprintf(q, sizeof q, "%s.layers.%d.encoder_attn_layer_norm", side, l);
            if (load_attn(ck, p, q, d, &L->cross, e)) return -1;
        }
        snprintf(p, sizeof p, "%s.layers.%d.final_layer_norm", side, l);
        if (load_norm(ck, p, d, &L->ffn_ln_w, &L->ffn_ln_b, e)) return -1;
        snprintf(p, sizeof p, "%s.layers.%d.fc1", side, l);
        if (load_linear(ck, p, s->ffn, d, 1, &L->fc1, e)) return -1;
        snprintf(p, sizeof p, "%s.layers.%d.fc2", side, l);
        if (load_linear(ck, p, d, s->ffn, 1, &L->fc2, e)) return -1;
    }
    return 0;
}

static void free_attn(MbartAttn *a) {
    qr_linear_free(&a->q);
    qr_linear_free(&a->k);
    qr_linear_free(&a->v);
    qr_linear_free(&a->o);
    free(a->ln_w);
    free(a->ln_b);
}

static void free_stack(MbartStack *s) {
    for (int l = 0; s->layers && l < s->n_layers; l++) {
        MbartLayer *L = &s->layers[l];
        free_attn(&L->self);
        free_attn(&L->cross);
        free(L->ffn_ln_w);
        free(L->ffn_ln_b);
        qr_linear_free(&L->fc1);
        qr_linear_free(&L->fc2);
    }
    free(s->layers);
    qr_linear_free(&s->pos);
    free(s->ln_emb_w);
    free(s->ln_emb_b);
    free(s->ln_w);
    free(s->ln_b);
}

void mbart_free(MbartModel *m) {
    if (!m) return;
    free_stack(&m->enc);
    free_stack(&m->dec);
    qr_linear_free(&m->embed);
    qr_linear_free(&m->head);
    free(m->logits_bias);
    qr_ckpt_close(&m->ckpt);
    free(m);
}

int mbart_from_checkpoint(MbartModel **out, QrCheckpoint *ck_in, const char *gen_dir, QrErr *e) {
    *out = NULL;
    MbartModel *m = calloc(1, sizeof *m);
    if (!m) {
        qr_ckpt_close(ck_in);
        return qr_fail(e, "out of memory");
    }
    m->ckpt = *ck_in;
    memset(ck_in, 0, sizeof *ck_in);
    const QrCheckpoint *ck = &m->ckpt;
    if (!ck->config) {
        qr_fail(e, "%s: an mBART translator is a Hugging Face checkpoint directory (config.json + safetensors)", ck->path);
        goto fail;
    }
    const char *cfg_file = ck->config_path ? ck->config_path : ck->path;
    MbartConfig *c = &m->cfg;
    if (read_config(ck->config, cfg_file, c, e) || read_gen(ck->config, cfg_file, gen_dir, c, &m->gen, e)) goto fail;
    int d = c->d_model;
    // The shared embedding; older checkpoints also (or only) carry the tied copies.
    const char *emb = qr_ckpt_find(ck, "model.shared.weight") ? "model.shared" : "model.encoder.embed_tokens";
    if (load_linear(ck, emb, c->vocab_size, d, 0, &m->embed, e)) goto fail;
    if (!c->tie_embeddings && load_linear(ck, "lm_head", c->vocab_size, d, 0, &m->head, e)) goto fail;
    if (qr_ckpt_find(ck, "final_logits_bias")) {
        if (!(m->logits_bias = qr_ckpt_vec(ck, "final_logits_bias", c->vocab_size, e))) goto fail;
    } else if (!(m->logits_bias = calloc((size_t)c->vocab_size, sizeof(float)))) {
        qr_fail(e, "out of memory");
        goto fail;
    }
    if (load_stack(ck, c, 0, &m->enc, e) || load_stack(ck, c, 1, &m->dec, e)) goto fail;
    m->embed_scale = c->scale_embedding ? (float)sqrt((double)d) : 1.0f;
    *out = m;
    return 0;
fail:
    mbart_free(m);
    return -1;
}

int mbart_load(MbartModel **out, const char *dir, QrErr *e) {
    *out = NULL;
    QrCheckpoint ck;
    if (qr_ckpt_open(&ck, dir, e)) return -1;
    if (ck.kind != QR_CKPT_HF) {
        qr_ckpt_close(&ck);
        return qr_fail(e, "%s: an mBART translator is a Hugging Face checkpoint directory (config.json + safetensors)", dir);
    }
    return mbart_from_checkpoint(out, &ck, qr_is_dir(dir) ? dir : NULL, e);
}

// ---- forward pieces ----

// x[i] = embed[ids[i]] * scale + pos[p + 2], then layernorm_embedding, where
// p = first_pos + i for the tokens of one sequence (step 1), or first_pos for
// every row when the rows are beams at the same position (step 0).
static int embed_rows(const MbartModel *m, const MbartStack *s, const int32_t *ids, int n, int first_pos, int step,
                      float *x, float *tmp, QrErr *e) {
    int d = m->cfg.d_model;
    for (int i = 0; i < n; i++) {
        int p = first_pos + i * step;
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return qr_fail(e, "mbart: token id %d outside the vocabulary of %d", (int)ids[i], m->cfg.vocab_size);
        if (p + 2 >= s->pos.out)
            return qr_fail(e, "mbart: position %d beyond max_position_embeddings %d", p, m->cfg.max_pos);
        float *xr = x + (size_t)i * d;
        qr_linear_row(&m->embed, ids[i], xr);
        qr_linear_row(&s->pos, p + 2, tmp);
        for (int j = 0; j < d; j++) xr[j] = xr[j] * m->embed_scale + tmp[j];
    }
    qr_layernorm(x, x, s->ln_emb_w, s->ln_emb_b, n, d, m->cfg.ln_eps);
    return 0;
}

static void activation(MbartAct a, float *x, size_t n) {
    switch (a) {
    case MBART_ACT_GELU: qr_gelu(x, n); break;
    case MBART_ACT_GELU_TANH: qr_gelu_tanh(x, n); break;
    case MBART_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i]; // NaN stays NaN, as torch.relu
        break;
    case MBART_ACT_SILU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    }
}

// x += fc2(act(fc1(LN(x)))) for n rows. h: [n, d], f: [n, ffn].
static void ffn_block(const MbartModel *m, const MbartLayer *L, float *x, int n, float *h, float *f) {
    int d = m->cfg.d_model;
    qr_layernorm(h, x, L->ffn_ln_w, L->ffn_ln_b, n, d, m->cfg.ln_eps);
    qr_linear_forward(&L->fc1, h, n, f);
    activation(m->cfg.act, f, (size_t)n * L->fc1.out);
    qr_linear_forward(&L->fc2, f, n, h);
    qr_add(x, h, (size_t)n * d);
}

static int n_threads(void) { return omp_get_max_threads(); }

int mbart_encode(const MbartModel *m, const int32_t *ids, int n, float *x, QrErr *e) {
    int d = m->cfg.d_model, H = m->enc.n_heads, hd = d / H;
    if (n < 1) return qr_fail(e, "mbart: empty input");
    if (n > m->cfg.max_pos) return qr_fail(e, "mbart: %d input tokens exceed max_position_embeddings %d", n, m->cfg.max_pos);
    int nt = n_threads();
    size_t nd = (size_t)n * d;
    float *h = malloc(nd * sizeof *h), *q = malloc(nd * sizeof *q), *k = malloc(nd * sizeof *k);
    float *v = malloc(nd * sizeof *v), *f = malloc((size_t)n * m->enc.ffn * sizeof *f);
    float *sc = malloc((size_t)nt * n * sizeof *sc);
    int *pos = malloc((size_t)n * sizeof *pos), *seq = calloc((size_t)n, sizeof *seq);
    int rc = -1;
    if (!h || !q || !k || !v || !f || !sc || !pos || !seq) {
        qr_fail(e, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) pos[i] = n - 1; // bidirectional: every query sees every key
    if (embed_rows(m, &m->enc, ids, n, 0, 1, x, h, e)) goto out;
    QrKVLayer kv = {k, v, n, d, (size_t)hd, (size_t)d}; // [pos][d] rows
    float scale = 1.0f / sqrtf((float)hd);
    for (int l = 0; l < m->enc.n_layers; l++) {
        const MbartLayer *L = &m->enc.layers[l];
        qr_layernorm(h, x, L->self.ln_w, L->self.ln_b, n, d, m->cfg.ln_eps);
        qr_linear_forward(&L->self.q, h, n, q);
        qr_linear_forward(&L->self.k, h, n, k);
        qr_linear_forward(&L->self.v, h, n, v);
        qr_attention(q, h, n, H, H, hd, scale, &kv, pos, seq, 0, sc, nt);
        qr_linear_forward(&L->self.o, h, n, q);
        qr_add(x, q, nd);
        ffn_block(m, L, x, n, h, f);
    }
    qr_layernorm(x, x, m->enc.ln_w, m->enc.ln_b, n, d, m->cfg.ln_eps);
    rc = 0;
out:
    free(h), free(q), free(k), free(v), free(f), free(sc), free(pos), free(seq);
    return rc;
}

// ---- decoder ----

struct MbartDecoder {
    const MbartModel *m;
    int n_beams, max_len, src_len;
    float *k, *v, *k2, *v2; // self-attention caches [layers][n_beams][max_len][d] (+ reorder buffers)
    float *ck, *cv;         // cross-attention keys/values [layers][src_len][d]
    float *x, *h, *q, *t;   // [n_beams, d] each
    float *f;               // [n_beams, ffn]
    float *sc;              // attention scores [threads][max(max_len, src_len)]
    int n_sc;
    int *pos, *seq, *cpos, *cseq;
};

void mbart_decoder_free(MbartDecoder *d) {
    if (!d) return;
    free(d->k), free(d->v), free(d->k2), free(d->v2), free(d->ck), free(d->cv);
    free(d->x), free(d->h), free(d->q), free(d->t), free(d->f), free(d->sc);
    free(d->pos), free(d->seq), free(d->cpos), free(d->cseq);
    free(d);
}

int mbart_decoder_new(MbartDecoder **out, const MbartModel *m, const float *enc, int src_len, int n_beams, int max_len,
                      QrErr *e) {
    *out = NULL;
    int dm = m->cfg.d_model, NL = m->dec.n_layers;
    MbartDecoder *d = calloc(1, sizeof *d);
    if (!d) return qr_fail(e, "out of memory");
    d->m = m;
    d->n_beams = n_beams;
    d->max_len = max_len;
    d->src_len = src_len;
    size_t cache = (size_t)NL * n_beams * max_len * dm, cross = (size_t)NL * src_len * dm;
    d->k = malloc(cache * sizeof(float));
    d->v = malloc(cache * sizeof(float));
    d->k2 = malloc(cache * sizeof(float));
    d->v2 = malloc(cache * sizeof(float));
    d->ck = malloc(cross * sizeof(float));
    d->cv = malloc(cross * sizeof(float));
    d->x = malloc((size_t)n_beams * dm * sizeof(float));
    d->h = malloc((size_t)n_beams * dm * sizeof(float));
    d->q = malloc((size_t)n_beams * dm * sizeof(float));
    d->t = malloc((size_t)n_beams * dm * sizeof(float));
    d->f = malloc((size_t)n_beams * m->dec.ffn * sizeof(float));
    d->n_sc = n_threads();
    d->sc = malloc((size_t)d->n_sc * (max_len > src_len ? max_len : src_len) * sizeof(float));
    d->pos = malloc((size_t)n_beams * sizeof(int));
    d->seq = malloc((size_t)n_beams * sizeof(int));
    d->cpos = malloc((size_t)n_beams * sizeof(int));
    d->cseq = calloc((size_t)n_beams, sizeof(int));
    if (!d->k || !d->v || !d->k2 || !d->v2 || !d->ck || !d->cv || !d->x || !d->h || !d->q || !d->t || !d->f || !d->sc ||
        !d->pos || !d->seq || !d->cpos || !d->cseq) {
        mbart_decoder_free(d);
        return qr_fail(e, "out of memory: decoder state for %d beams of %d tokens", n_beams, max_len);
    }
    // Cross-attention keys and values: once per source, shared by all beams.
    for (int l = 0; l < NL; l++) {
        const MbartAttn *a = &m->dec.layers[l].cross;
        qr_linear_forward(&a->k, enc, src_len, d->ck + (size_t)l * src_len * dm);
        qr_linear_forward(&a->v, enc, src_len, d->cv + (size_t)l * src_len * dm);
    }
    *out = d;
    return 0;
}

int mbart_decoder_step(MbartDecoder *d, const int32_t *tokens, int n, int pos, float *logits, QrErr *e) {
    const MbartModel *m = d->m;
    int dm = m->cfg.d_model, H = m->dec.n_heads, hd = dm / H;
    if (n > d->n_beams || pos >= d->max_len)
        return qr_fail(e, "mbart: decoder step beyond its state (%d beams, position %d of %d)", n, pos, d->max_len);
    if (embed_rows(m, &m->dec, tokens, n, pos, 0, d->x, d->h, e)) return -1;
    float scale = 1.0f / sqrtf((float)hd);
    size_t slot = (size_t)d->max_len * dm, layer = (size_t)d->n_beams * slot;
    for (int b = 0; b < n; b++) {
        d->pos[b] = pos;
        d->seq[b] = b;
        d->cpos[b] = d->src_len - 1;
    }
    for (int l = 0; l < m->dec.n_layers; l++) {
        const MbartLayer *L = &m->dec.layers[l];
        float *K = d->k + l * layer, *V = d->v + l * layer;
        // Causal self-attention over the beam's cache.
        qr_layernorm(d->h, d->x, L->self.ln_w, L->self.ln_b, n, dm, m->cfg.ln_eps);
        qr_linear_forward(&L->self.q, d->h, n, d->q);
        qr_linear_forward(&L->self.k, d->h, n, d->t);
        for (int b = 0; b < n; b++) memcpy(K + b * slot + (size_t)pos * dm, d->t + (size_t)b * dm, dm * sizeof(float));
        qr_linear_forward(&L->self.v, d->h, n, d->t);
        for (int b = 0; b < n; b++) memcpy(V + b * slot + (size_t)pos * dm, d->t + (size_t)b * dm, dm * sizeof(float));
        QrKVLayer kv = {K, V, d->max_len, dm, (size_t)hd, (size_t)dm};
        qr_attention(d->q, d->h, n, H, H, hd, scale, &kv, d->pos, d->seq, 0, d->sc, d->n_sc);
        qr_linear_forward(&L->self.o, d->h, n, d->q);
        qr_add(d->x, d->q, (size_t)n * dm);
        // Cross-attention over the source.
        qr_layernorm(d->h, d->x, L->cross.ln_w, L->cross.ln_b, n, dm, m->cfg.ln_eps);
        qr_linear_forward(&L->cross.q, d->h, n, d->q);
        QrKVLayer ckv = {d->ck + (size_t)l * d->src_len * dm, d->cv + (size_t)l * d->src_len * dm, d->src_len, dm,
                         (size_t)hd, (size_t)dm};
        qr_attention(d->q, d->h, n, H, H, hd, scale, &ckv, d->cpos, d->cseq, 0, d->sc, d->n_sc);
        qr_linear_forward(&L->cross.o, d->h, n, d->q);
        qr_add(d->x, d->q, (size_t)n * dm);
        ffn_block(m, L, d->x, n, d->h, d->f);
    }
    qr_layernorm(d->x, d->x, m->dec.ln_w, m->dec.ln_b, n, dm, m->cfg.ln_eps);
    qr_linear_forward(m->cfg.tie_embeddings ? &m->embed : &m->head, d->x, n, logits);
    int V = m->cfg.vocab_size;
    for (int b = 0; b < n; b++) qr_add(logits + (size_t)b * V, m->logits_bias, (size_t)V);
    return 0;
}

void mbart_decoder_reorder(MbartDecoder *d, const int *src, int n, int len) {
    int dm = d->m->cfg.d_model;
    size_t slot = (size_t)d->max_len * dm, layer = (size_t)d->n_beams * slot, bytes = (size_t)len * dm * sizeof(float);
    for (int l = 0; l < d->m->dec.n_layers; l++)
        for (int b = 0; b < n; b++) {
            memcpy(d->k2 + l * layer + b * slot, d->k + l * layer + (size_t)src[b] * slot, bytes);
            memcpy(d->v2 + l * layer + b * slot, d->v + l * layer + (size_t)src[b] * slot, bytes);
        }
    float *t = d->k;
    d->k = d->k2;
    d->k2 = t;
    t = d->v;
    d->v = d->v2;
    d->v2 = t;
}

// ---- generation ----

// In place, in torch's order: (x - max) - log(sum(exp(x - max))).
static void log_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)(x[i] - mx));
    float lse = (float)log(s);
    for (int i = 0; i < n; i++) x[i] = (x[i] - mx) - lse;
}

static int is_eos(const MbartGen *g, int tok) {
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos_ids[i] == tok) return 1;
    return 0;
}

// The logits processors transformers builds from these parameters, in its
// order: MinLength, ForcedBOS, ForcedEOS. cur_len: tokens so far (start included).
static void process(const MbartGen *g, int cur_len, int forced_bos, float *row, int V) {
    if (cur_len < g->min_length)
        for (int i = 0; i < g->n_eos; i++) row[g->eos_ids[i]] = -INFINITY;
    if (forced_bos >= 0 && cur_len == 1) {
        for (int i = 0; i < V; i++) row[i] = -INFINITY;
        row[forced_bos] = 0.0f;
    }
    if (g->forced_eos_id >= 0 && cur_len == g->max_length - 1) {
        for (int i = 0; i < V; i++) row[i] = -INFINITY;
        row[g->forced_eos_id] = 0.0f;
    }
}

typedef struct {
    float score;
    int beam, tok;
} Cand;

// The k best (score descending; equal scores: lower beam * V + token first)
// of the n rows of V scores, into c[0..k). Returns how many were found.
static int top_k(const float *s, int n, int V, int k, Cand *c) {
    int m = 0;
    for (int b = 0; b < n; b++)
        for (int t = 0; t < V; t++) {
            float v = s[(size_t)b * V + t];
            if (v != v) continue;
            if (m == k && !(v > c[k - 1].score)) continue;
            int i = m < k ? m++ : k - 1;
            while (i > 0 && v > c[i - 1].score) {
                c[i] = c[i - 1];
                i--;
            }
            c[i] = (Cand){v, b, t};
        }
    return m;
}

static int greedy(const MbartModel *m, const MbartGen *g, MbartDecoder *d, int forced_bos, int32_t *seq, int *n_out,
                  float *logits, QrErr *e) {
    int V = m->cfg.vocab_size, cur = 1;
    seq[0] = g->decoder_start_id;
    for (;;) {
        if (mbart_decoder_step(d, seq + cur - 1, 1, cur - 1, logits, e)) return -1;
        // transformers' greedy search processes the raw logits, then argmax (first maximum).
        process(g, cur, forced_bos, logits, V);
        int best = 0;
        for (int t = 1; t < V; t++)
            if (logits[t] > logits[best]) best = t;
        seq[cur++] = best;
        if (is_eos(g, best) || cur >= g->max_length) break;
    }
    *n_out = cur;
    return 0;
}

// transformers' vectorized beam search (generation/utils.py _beam_search) for
// one source sentence: keep the top K = max(2, 1 + n_eos) * B continuations,
// the B best that did not stop run on, those among the first B that stopped
// (</s> or max_length) compete for the B finished slots with score
// sum_logprobs / generated_len^length_penalty; stop when early_stopping and B
// hypotheses are finished, when no running beam can beat the worst finished
// one (the early-stop heuristic), or at max_length.
static int beam_search(const MbartModel *m, const MbartGen *g, MbartDecoder *d, int forced_bos, int32_t *out,
                       int *n_out, float *logits, QrErr *e) {
    const int B = g->num_beams, V = m->cfg.vocab_size, L = g->max_length;
    const int K = (g->n_eos + 1 > 2 ? g->n_eos + 1 : 2) * B;
    const float NEG = -1.0e9f;
    int rc = -1;
    int32_t *run = malloc((size_t)B * L * sizeof *run), *nrun = malloc((size_t)B * L * sizeof *nrun);
    int32_t *fin = malloc((size_t)B * L * sizeof *fin), *nfin = malloc((size_t)B * L * sizeof *nfin);
    float *run_sc = malloc((size_t)B * sizeof(float)), *nrun_sc = malloc((size_t)B * sizeof(float));
    float *fin_sc = malloc((size_t)(B + K) * sizeof(float));
    int *fin_len = malloc((size_t)(B + K) * sizeof(int)), *fin_done = malloc((size_t)B * sizeof(int));
    int *src = malloc((size_t)B * sizeof(int)), *hits = malloc((size_t)K * sizeof(int));
    int *order = malloc((size_t)(B + K) * sizeof(int));
    int32_t *tok = malloc((size_t)B * sizeof *tok);
    Cand *c = malloc((size_t)K * sizeof *c), *r = malloc((size_t)K * sizeof *r);
    if (!run || !nrun || !fin || !nfin || !run_sc || !nrun_sc || !fin_sc || !fin_len || !fin_done || !src || !hits ||
        !order || !tok || !c || !r) {
        qr_fail(e, "out of memory");
        goto out;
    }
    for (int b = 0; b < B; b++) {
        run[(size_t)b * L] = g->decoder_start_id;
        run_sc[b] = b ? NEG : 0.0f; // only the first beam's continuations count at the first step
        fin_sc[b] = NEG;
        fin_done[b] = 0;
        fin_len[b] = 1;
        fin[(size_t)b * L] = g->decoder_start_id;
    }
    int unsat = 1;
    for (int cur = 1;; cur++) {
        for (int b = 0; b < B; b++) tok[b] = run[(size_t)b * L + cur - 1];
        if (mbart_decoder_step(d, tok, B, cur - 1, logits, e)) goto out;
        for (int b = 0; b < B; b++) {
            float *row = logits + (size_t)b * V;
            log_softmax(row, V);
            process(g, cur, forced_bos, row, V);
            for (int t = 0; t < V; t++) row[t] += run_sc[b];
        }
        int nk = top_k(logits, B, V, K, c);
        int all_hit = nk == K;
        for (int k = 0; k < nk; k++) {
            hits[k] = cur + 1 >= L || is_eos(g, c[k].tok);
            all_hit &= hits[k];
        }
        // Running beams for the next step: the best B, stopped ones pushed down by 1e9.
        for (int k = 0; k < nk; k++) r[k] = (Cand){hits[k] ? c[k].score + NEG : c[k].score, k, 0};
        for (int i = 1; i < nk; i++) // stable insertion sort, descending
            for (int j = i; j > 0 && r[j].score > r[j - 1].score; j--) {
                Cand t = r[j];
                r[j] = r[j - 1];
                r[j - 1] = t;
            }
        for (int j = 0; j < B; j++) {
            const Cand *ck = &c[r[j < nk ? j : nk - 1].beam];
            src[j] = ck->beam;
            memcpy(nrun + (size_t)j * L, run + (size_t)ck->beam * L, (size_t)cur * sizeof *run);
            nrun[(size_t)j * L + cur] = ck->tok;
            nrun_sc[j] = r[j < nk ? j : nk - 1].score;
        }
        // Finished hypotheses: the old ones and those of the first B candidates that stopped.
        float lenfac = (float)pow((double)cur, g->length_penalty);
        int nf = 0;
        for (int b = 0; b < B; b++)
            if (fin_done[b]) order[nf++] = b;
        int nold = nf;
        for (int k = 0; k < B && k < nk; k++)
            if (hits[k]) {
                fin_sc[B + k] = c[k].score / lenfac;
                fin_len[B + k] = cur + 1;
                order[nf++] = B + k;
            }
        if (nf > nold) {
            for (int i = 1; i < nf; i++)
                for (int j = i; j > 0 && fin_sc[order[j]] > fin_sc[order[j - 1]]; j--) {
                    int t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
            float nsc[64];
            int nlen[64];
            for (int j = 0; j < B; j++) {
                if (j < nf) {
                    int o = order[j];
                    if (o < B) {
                        memcpy(nfin + (size_t)j * L, fin + (size_t)o * L, (size_t)fin_len[o] * sizeof *fin);
                    } else {
                        const Cand *ck = &c[o - B];
                        memcpy(nfin + (size_t)j * L, run + (size_t)ck->beam * L, (size_t)cur * sizeof *run);
                        nfin[(size_t)j * L + cur] = ck->tok;
                    }
                    nsc[j] = fin_sc[o];
                    nlen[j] = fin_len[o];
                } else {
                    nsc[j] = NEG;
                    nlen[j] = 1;
                    nfin[(size_t)j * L] = g->decoder_start_id;
                }
            }
            for (int j = 0; j < B; j++) {
                fin_sc[j] = nsc[j];
                fin_len[j] = nlen[j];
                fin_done[j] = j < nf;
            }
            int32_t *t = fin;
            fin = nfin;
            nfin = t;
        }
        int32_t *t = run;
        run = nrun;
        nrun = t;
        memcpy(run_sc, nrun_sc, (size_t)B * sizeof *run_sc);
        // Stopping: the heuristic first (it is updated even on the last step).
        int next = cur + 1;
        int best_len = g->early_stopping == MBART_EARLY_NEVER && g->length_penalty > 0.0 ? L - 1 : next - 1;
        float best = run_sc[0] / (float)pow((double)best_len, g->length_penalty);
        int all_done = 1;
        float worst = fin_sc[0];
        for (int j = 0; j < B; j++) {
            all_done &= fin_done[j];
            worst = fin_sc[j] < worst ? fin_sc[j] : worst;
        }
        int any = 0;
        for (int j = 0; j < B; j++) any |= best > (fin_done[j] ? worst : NEG);
        unsat = unsat && any;
        if (!unsat || (all_done && g->early_stopping == MBART_EARLY_TRUE) || all_hit) break;
        mbart_decoder_reorder(d, src, B, next - 1);
    }
    *n_out = fin_len[0];
    memcpy(out, fin, (size_t)fin_len[0] * sizeof *out);
    rc = 0;
out:
    free(run), free(nrun), free(fin), free(nfin), free(run_sc), free(nrun_sc), free(fin_sc), free(fin_len);
    free(fin_done), free(src), free(hits), free(order), free(tok), free(c), free(r);
    return rc;
}

int mbart_generate(const MbartModel *m, const MbartGen *g, const int32_t *src_ids, int n_src, int forced_bos,
                   int32_t **out, int *n_out, QrErr *e) {
    *out = NULL;
    *n_out = 0;
    const MbartConfig *c = &m->cfg;
    if (g->num_beams < 1 || g->num_beams > 64) return qr_fail(e, "mbart: num_beams %d out of range 1..64", g->num_beams);
    if (g->max_length < 2) return qr_fail(e, "mbart: max_length %d leaves no room for a token", g->max_length);
    if (g->max_length - 1 > c->max_pos)
        return qr_fail(e, "mbart: max_length %d exceeds max_position_embeddings %d", g->max_length, c->max_pos);
    if (forced_bos >= c->vocab_size || g->decoder_start_id < 0 || g->decoder_start_id >= c->vocab_size ||
        g->forced_eos_id >= c->vocab_size)
        return qr_fail(e, "mbart: a forced or start token id is outside the vocabulary of %d", c->vocab_size);
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos_ids[i] < 0 || g->eos_ids[i] >= c->vocab_size)
            return qr_fail(e, "mbart: eos id %d is outside the vocabulary of %d", g->eos_ids[i], c->vocab_size);
    float *enc = malloc((size_t)n_src * c->d_model * sizeof *enc);
    float *logits = malloc((size_t)g->num_beams * c->vocab_size * sizeof *logits);
    int32_t *seq = malloc((size_t)g->max_length * sizeof *seq);
    MbartDecoder *d = NULL;
    int rc = -1;
    if (!enc || !logits || !seq) {
        qr_fail(e, "out of memory");
        goto out;
    }
    if (mbart_encode(m, src_ids, n_src, enc, e) ||
        mbart_decoder_new(&d, m, enc, n_src, g->num_beams, g->max_length, e))
        goto out;
    rc = g->num_beams == 1 ? greedy(m, g, d, forced_bos, seq, n_out, logits, e)
                           : beam_search(m, g, d, forced_bos, seq, n_out, logits, e);
    if (!rc) {
        *out = seq;
        seq = NULL;
    }
out:
    mbart_decoder_free(d);
    free(enc), free(logits), free(seq);
    return rc;
}
