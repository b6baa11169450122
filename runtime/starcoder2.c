// StarCoder2 (bigcode/starcoder2-3b/7b/15b): the Mistral block with
// LayerNorm (weight and bias) instead of RMSNorm, biases on q/k/v/o and on
// the two MLP projections (config use_bias), a plain two-layer MLP
// c_fc -> gelu_pytorch_tanh -> c_proj, grouped-query attention, RoPE
// (rotate_half pairs) with the config's rope_theta, attention limited to the
// last `sliding_window` positions, and an output head tied to the embedding
// unless tie_word_embeddings is false. Semantics follow transformers'
// models/starcoder2/modeling_starcoder2.py (residual stream:
// x += attn(ln1(x)); x += mlp(ln2(x)); logits = head(norm(x))).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "runtime/archutil.h"
#include "runtime/model.h"

typedef struct {
    float *ln1_w, *ln1_b; // [dim]  input_layernorm
    QrLinear wq;          // [n_heads * head_dim, dim] (+ bias)
    QrLinear wk;          // [n_kv_heads * head_dim, dim] (+ bias)
    QrLinear wv;          // [n_kv_heads * head_dim, dim] (+ bias)
    QrLinear wo;          // [dim, n_heads * head_dim] (+ bias)
    float *ln2_w, *ln2_b; // [dim]  post_attention_layernorm
    QrLinear fc;          // [ffn_dim, dim] (+ bias)  mlp.c_fc
    QrLinear proj;        // [dim, ffn_dim] (+ bias)  mlp.c_proj
} Sc2Layer;

typedef struct {
    QrLinear embed;       // [vocab, dim]  (also the head when tied)
    Sc2Layer *layers;     // [n_layers]
    float *norm_w, *norm_b; // [dim]  model.norm
    QrLinear head;        // [vocab, dim]  only when untied
} Sc2Weights;

typedef struct {
    float *x;    // [B, dim] residual stream
    float *xb;   // [B, max(dim, q_dim)] normed input / attention output
    float *xb2;  // [B, dim] block output before the residual add
    float *q;    // [B, q_dim]
    float *k, *v; // [B, kv_dim]
    float *hb;   // [B, ffn_dim]
    float *att;  // [n_att][max_seq] attention scores
    int n_att;
    float *block; // the allocation all of the above live in
} Sc2State;

// ---- config ----
static const char *const HF_TYPES[] = {"starcoder2", NULL};

static int config_hf(const json_t *j, const char *file, QrConfig *c, QrErr *e) {
    long long v;
#define GETI(key, req, def, lo, hi, dst)                                   \
    do {                                                                   \
        if (qr_json_int(j, key, req, def, lo, hi, &v, file, e)) return -1; \
        dst = (int)v;                                                      \
    } while (0)
    GETI("hidden_size", 1, 0, 1, 1 << 16, c->dim);
    GETI("num_hidden_layers", 1, 0, 1, 1024, c->n_layers);
    GETI("num_attention_heads", 1, 0, 1, 1024, c->n_heads);
    GETI("num_key_value_heads", 0, c->n_heads, 1, 1024, c->n_kv_heads);
    GETI("intermediate_size", 1, 0, 1, 1 << 20, c->ffn_dim);
    GETI("vocab_size", 1, 0, 1, 1 << 22, c->vocab_size);
    GETI("max_position_embeddings", 0, 4096, 1, 1 << 24, c->max_pos); // Starcoder2Config default 4096
    GETI("sliding_window", 0, 0, 0, 1 << 24, c->sliding_window);       // null: full attention
#undef GETI
    if (c->dim % c->n_heads)
        return qr_fail(e, "%s: hidden_size %d is not a multiple of num_attention_heads %d", file, c->dim, c->n_heads);
    c->head_dim = c->dim / c->n_heads; // Starcoder2 has no head_dim key
    c->rope_dim = c->head_dim;
    c->rope_interleaved = 0;
    double d;
    if (qr_json_num(j, "norm_epsilon", 0, 1e-5, &d, file, e)) return -1;
    c->norm_eps = (float)d;
    // Keys the original checkpoints carry that transformers does not read:
    // accept the values the architecture implements, refuse the others.
    const char *nt, *mt;
    if (qr_json_str(j, "norm_type", &nt, file, e) || qr_json_str(j, "mlp_type", &mt, file, e)) return -1;
    if (nt && strcmp(nt, "layer_norm"))
        return qr_fail(e, "%s: norm_type '%s' is not supported for starcoder2 (layer_norm)", file, nt);
    if (mt && strcmp(mt, "default"))
        return qr_fail(e, "%s: mlp_type '%s' is not supported for starcoder2 (default)", file, mt);
    unsigned gelus = 1u << QR_ACT_GELU | 1u << QR_ACT_GELU_TANH;
    if (qr_hf_act(j, "hidden_act", QR_ACT_GELU_TANH, gelus, "starcoder2", &c->act, file, e)) return -1;
    int bias;
    if (qr_hf_bool(j, "use_bias", 1, &bias, file, e)) return -1;
    c->attn_bias = c->o_bias = c->mlp_bias = bias;
    // Starcoder2Config defaults tie_word_embeddings to True (starcoder2-3b's
    // config.json omits the key and its checkpoint has no lm_head.weight).
    if (qr_hf_bool(j, "tie_word_embeddings", 1, &c->tie_embeddings, file, e)) return -1;
    if (qr_hf_rope(j, file, "starcoder2", 10000.0, c, e) || qr_hf_special_tokens(j, file, c, e) ||
        qr_hf_dtype(j, file, c, e))
        return -1;
    return 0;
}

// ---- tensor names (HF only: llama.cpp's starcoder2 GGUF is not read) ----
enum { T_EMBED, T_NORM, T_HEAD, T_LN1, T_Q, T_K, T_V, T_O, T_LN2, T_FC, T_PROJ, T_COUNT };

// Name, shape and bias of each tensor; norms always carry a bias, the
// linears of the blocks when use_bias.
static QrTensorSpec spec(const QrConfig *c, int which) {
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim, D = c->dim, F = c->ffn_dim;
    int ab = c->attn_bias, mb = c->mlp_bias;
    switch (which) {
    case T_EMBED: return (QrTensorSpec){"model.embed_tokens.weight", c->vocab_size, D, 0, 0, 0, QR_P_EMBED};
    case T_NORM: return (QrTensorSpec){"model.norm.weight", D, 0, 0, 0, 1, 0};
    case T_HEAD: return (QrTensorSpec){"lm_head.weight", c->vocab_size, D, 0, c->tie_embeddings, 0, 0};
    case T_LN1: return (QrTensorSpec){"model.layers.%d.input_layernorm.weight", D, 0, 1, 0, 1, 0};
    case T_Q: return (QrTensorSpec){"model.layers.%d.self_attn.q_proj.weight", qd, D, 1, 0, ab, 0};
    case T_K: return (QrTensorSpec){"model.layers.%d.self_attn.k_proj.weight", kvd, D, 1, 0, ab, 0};
    case T_V: return (QrTensorSpec){"model.layers.%d.self_attn.v_proj.weight", kvd, D, 1, 0, ab, 0};
    case T_O: return (QrTensorSpec){"model.layers.%d.self_attn.o_proj.weight", D, qd, 1, 0, c->o_bias, 0};
    case T_LN2: return (QrTensorSpec){"model.layers.%d.post_attention_layernorm.weight", D, 0, 1, 0, 1, 0};
    case T_FC: return (QrTensorSpec){"model.layers.%d.mlp.c_fc.weight", F, D, 1, 0, mb, 0};
    default: return (QrTensorSpec){"model.layers.%d.mlp.c_proj.weight", D, F, 1, 0, mb, 0};
    }
}

static void each_tensor(const QrConfig *c, QrCkptKind kind, void *ctx,
                        void (*fn)(void *, const char *, int, const int64_t *)) {
    (void)kind;
    qr_arch_each_tensor(c, T_COUNT, spec, ctx, fn);
}

// ---- loading ----
static int load_linear(QrModel *m, int which, int layer, QrLinear *L, QrErr *e) {
    return qr_arch_load_linear(m, spec, which, layer, L, e);
}

static int load_norm(QrModel *m, int which, int layer, float **w, float **b, QrErr *e) {
    return qr_arch_load_layernorm(m, spec, which, layer, w, b, e);
}

static int sc2_load(QrModel *m, const QrCheckpoint *ck, QrErr *e) {
    (void)ck;
    const QrConfig *c = &m->cfg;
    Sc2Weights *w = calloc(1, sizeof *w);
    if (!w) return qr_fail(e, "out of memory");
    m->w = w;
    if (!(w->layers = calloc((size_t)c->n_layers, sizeof *w->layers))) return qr_fail(e, "out of memory");
    if (load_linear(m, T_EMBED, 0, &w->embed, e)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        Sc2Layer *L = &w->layers[l];
        if (load_norm(m, T_LN1, l, &L->ln1_w, &L->ln1_b, e) || load_linear(m, T_Q, l, &L->wq, e) ||
            load_linear(m, T_K, l, &L->wk, e) || load_linear(m, T_V, l, &L->wv, e) ||
            load_linear(m, T_O, l, &L->wo, e) || load_norm(m, T_LN2, l, &L->ln2_w, &L->ln2_b, e) ||
            load_linear(m, T_FC, l, &L->fc, e) || load_linear(m, T_PROJ, l, &L->proj, e))
            return -1;
    }
    if (load_norm(m, T_NORM, -1, &w->norm_w, &w->norm_b, e)) return -1;
    if (!c->tie_embeddings && load_linear(m, T_HEAD, 0, &w->head, e)) return -1;
    return 0;
}

static void free_state(Sc2State *s) {
    if (s) free(s->block);
    free(s);
}

static int sc2_alloc_state(QrModel *m, QrErr *e) {
    const QrConfig *c = &m->cfg;
    free_state(m->state);
    Sc2State *s = m->state = calloc(1, sizeof *s);
    if (!s) return qr_fail(e, "out of memory");
    size_t B = (size_t)m->max_batch, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)m->kv.kv_dim;
    size_t xbd = qd > (size_t)c->dim ? qd : (size_t)c->dim;
    s->n_att = omp_get_max_threads();
    float **const p[] = {&s->x, &s->xb, &s->xb2, &s->q, &s->k, &s->v, &s->hb, &s->att};
    const size_t n[] = {B * c->dim, B * xbd, B * c->dim, B * qd, B * kvd, B * kvd, B * c->ffn_dim,
                        (size_t)s->n_att * m->kv.max_seq};
    if (!(s->block = qr_arch_buffers(p, n, 8))) {
        free_state(s);
        m->state = NULL;
        return qr_fail(e, "out of memory for activations of %d tokens", m->max_batch);
    }
    return 0;
}

// ---- forward ----
static int sc2_forward(QrModel *m, const QrBatch *b, float *logits) {
    const QrConfig *c = &m->cfg;
    Sc2Weights *w = m->w;
    Sc2State *s = m->state;
    int n = b->n, dim = c->dim, hd = c->head_dim;
    float scale = 1.0f / sqrtf((float)hd);

    for (int i = 0; i < n; i++) qr_linear_row(&w->embed, b->tokens[i], s->x + (size_t)i * dim);
    for (int l = 0; l < c->n_layers; l++) {
        Sc2Layer *L = &w->layers[l];
        qr_layernorm(s->xb, s->x, L->ln1_w, L->ln1_b, n, dim, c->norm_eps);
        const QrLinear *qkv[3] = {&L->wq, &L->wk, &L->wv};
        qr_linear_forward_multi(qkv, 3, s->xb, n, (float *const[]){s->q, s->k, s->v});
        qr_rope(s->q, n, c->n_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        qr_rope(s->k, n, c->n_kv_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        QrKVLayer kvl = qr_kv_store(m, l, b, s->k, s->v);
        qr_attention(s->q, s->xb, n, c->n_heads, c->n_kv_heads, hd, scale, &kvl, b->pos, b->seq, c->sliding_window,
                     s->att, s->n_att);
        qr_linear_forward(&L->wo, s->xb, n, s->xb2);
        qr_add(s->x, s->xb2, (size_t)n * dim);

        qr_layernorm(s->xb, s->x, L->ln2_w, L->ln2_b, n, dim, c->norm_eps);
        qr_linear_forward(&L->fc, s->xb, n, s->hb);
        qr_arch_gelu(c->act, s->hb, (size_t)n * c->ffn_dim);
        qr_linear_forward(&L->proj, s->hb, n, s->xb2);
        qr_add(s->x, s->xb2, (size_t)n * dim);
    }
    int n_out = qr_gather_wanted(b, s->x, dim, s->xb);
    if (n_out) {
        qr_layernorm(s->xb, s->xb, w->norm_w, w->norm_b, n_out, dim, c->norm_eps);
        qr_linear_forward(c->tie_embeddings ? &w->embed : &w->head, s->xb, n_out, logits);
    }
    return 0;
}

static void sc2_free(QrModel *m) {
    Sc2Weights *w = m->w;
    free_state(m->state);
    m->state = NULL;
    if (!w) return;
    qr_linear_free(&w->embed);
    qr_linear_free(&w->head);
    if (w->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            Sc2Layer *L = &w->layers[l];
            free(L->ln1_w), free(L->ln1_b), free(L->ln2_w), free(L->ln2_b);
            QrLinear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->fc, &L->proj};
            for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) qr_linear_free(lin[i]);
        }
    free(w->layers);
    free(w->norm_w);
    free(w->norm_b);
    free(w);
    m->w = NULL;
}

const QrArch qr_arch_starcoder2 = {
    .name = "starcoder2",
    .hf_model_types = HF_TYPES,
    .gguf_archs = NULL,
    .config_hf = config_hf,
    .each_tensor = each_tensor,
    .load = sc2_load,
    .alloc_state = sc2_alloc_state,
    .forward = sc2_forward,
    .free = sc2_free,
};
