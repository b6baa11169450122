// LLaMA (and the checkpoints that share its architecture: DeepSeek-Coder base,
// Llama 2/3.x, TinyLlama, llama2.c models in GGUF): RMSNorm, rotary position
// embeddings (rope_theta; rope_scaling linear or llama3), grouped-query
// attention, SwiGLU MLP, tied or untied output head. Semantics follow
// transformers' models/llama/modeling_llama.py; GGUF files follow llama.cpp
// (tensor names blk.N.*, rotary pairs interleaved because llama.cpp's
// converter permutes q/k rows into that order).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "runtime/model.h"
#include "runtime/qlinear.h"

typedef struct {
    float *attn_norm;  // [dim]  input_layernorm
    QrLinear wq;       // [n_heads * head_dim, dim]
    QrLinear wk;       // [n_kv_heads * head_dim, dim]
    QrLinear wv;       // [n_kv_heads * head_dim, dim]
    QrLinear wo;       // [dim, n_heads * head_dim]
    float *ffn_norm;   // [dim]  post_attention_layernorm
    QrLinear w_gate;   // [ffn_dim, dim]
    QrLinear w_up;     // [ffn_dim, dim]
    QrLinear w_down;   // [dim, ffn_dim]
} LlamaLayer;

typedef struct {
    QrLinear embed;    // [vocab, dim]  (lookup rows; also the head when tied)
    LlamaLayer *layers; // [n_layers]
    float *norm;       // [dim]  final norm
    QrLinear head;     // [vocab, dim]  unused when tied
} LlamaWeights;

// Activations for a batch of up to B tokens.
typedef struct {
    int B;
    float *x;    // [B, dim] residual stream
    float *xb;   // [B, max(dim, q_dim)] normed input / attention output
    float *xb2;  // [B, dim] block output before the residual add
    float *q;    // [B, n_heads * head_dim]
    float *k;    // [B, kv_dim]
    float *v;    // [B, kv_dim]
    float *hb;   // [B, ffn_dim] gate, then silu(gate) * up
    float *hb2;  // [B, ffn_dim] up
    float *att_scratch; // [n_att_scratch][max_seq] attention scores
    int n_att_scratch;
} LlamaState;

// ---- config ----
static const char *const HF_TYPES[] = {"llama", NULL};
static const char *const GGUF_ARCHS[] = {"llama", NULL};

static int parse_rope_scaling(const json_t *rs, const char *file, QrConfig *c, QrErr *e) {
    const char *type;
    if (qr_json_str(rs, "rope_type", &type, file, e)) return -1;
    if (!type && qr_json_str(rs, "type", &type, file, e)) return -1;
    if (!type || !strcmp(type, "default")) {
        c->rope_type = QR_ROPE_DEFAULT;
        return 0;
    }
    if (!strcmp(type, "linear")) {
        c->rope_type = QR_ROPE_LINEAR;
        return qr_json_num(rs, "factor", 1, 0, &c->rope_factor, file, e);
    }
    if (!strcmp(type, "llama3")) {
        c->rope_type = QR_ROPE_LLAMA3;
        long long omp;
        if (qr_json_num(rs, "factor", 1, 0, &c->rope_factor, file, e) ||
            qr_json_num(rs, "low_freq_factor", 1, 0, &c->rope_low_freq_factor, file, e) ||
            qr_json_num(rs, "high_freq_factor", 1, 0, &c->rope_high_freq_factor, file, e) ||
            qr_json_int(rs, "original_max_position_embeddings", 1, 0, 1, 1 << 24, &omp, file, e))
            return -1;
        c->rope_orig_max_pos = (int)omp;
        return 0;
    }
    return qr_fail(e, "%s: rope scaling type '%s' is not supported (default, linear, llama3)", file, type);
}

static int config_hf(const json_t *j, const char *file, QrConfig *c, QrErr *e) {
    long long v;
#define GETI(key, req, def, lo, hi, dst)                                 \
    do {                                                                 \
        if (qr_json_int(j, key, req, def, lo, hi, &v, file, e)) return -1; \
        dst = (int)v;                                                    \
    } while (0)
    GETI("hidden_size", 1, 0, 1, 1 << 16, c->dim);
    GETI("num_hidden_layers", 1, 0, 1, 1024, c->n_layers);
    GETI("num_attention_heads", 1, 0, 1, 1024, c->n_heads);
    GETI("num_key_value_heads", 0, c->n_heads, 1, 1024, c->n_kv_heads);
    GETI("intermediate_size", 1, 0, 1, 1 << 20, c->ffn_dim);
    GETI("vocab_size", 1, 0, 1, 1 << 22, c->vocab_size);
    GETI("max_position_embeddings", 0, 2048, 1, 1 << 24, c->max_pos);
    GETI("head_dim", 0, c->dim / c->n_heads, 1, 1024, c->head_dim);
    c->rope_dim = c->head_dim;
    c->rope_interleaved = 0;
    double d;
    if (qr_json_num(j, "rms_norm_eps", 0, 1e-6, &d, file, e)) return -1;
    c->norm_eps = (float)d;
    const char *act;
    if (qr_json_str(j, "hidden_act", &act, file, e)) return -1;
    if (act && strcmp(act, "silu"))
        return qr_fail(e, "%s: hidden_act '%s' is not supported for llama (silu)", file, act);
    const json_t *tie = json_object_get(j, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie) && !json_is_null(tie))
        return qr_fail(e, "%s: \"tie_word_embeddings\" is not a boolean", file);
    c->tie_embeddings = json_is_true(tie); // LlamaConfig default: False
    const json_t *ab = json_object_get(j, "attention_bias"), *mb = json_object_get(j, "mlp_bias");
    c->attn_bias = json_is_true(ab);
    c->mlp_bias = json_is_true(mb);
    // Rotary: transformers >= 5 writes "rope_parameters" {rope_type, rope_theta, ...};
    // earlier versions "rope_theta" + "rope_scaling" {type|rope_type, factor, ...}.
    const json_t *rp = json_object_get(j, "rope_parameters");
    const json_t *rs = json_object_get(j, "rope_scaling");
    if (rp && !json_is_null(rp)) {
        if (!json_is_object(rp)) return qr_fail(e, "%s: \"rope_parameters\" is not an object", file);
        if (qr_json_num(rp, "rope_theta", 0, 10000.0, &c->rope_theta, file, e)) return -1;
        if (parse_rope_scaling(rp, file, c, e)) return -1;
        double prf;
        if (qr_json_num(rp, "partial_rotary_factor", 0, 1.0, &prf, file, e)) return -1;
        if (prf != 1.0) return qr_fail(e, "%s: partial_rotary_factor %g is not supported for llama", file, prf);
    } else {
        if (qr_json_num(j, "rope_theta", 0, 10000.0, &c->rope_theta, file, e)) return -1;
        if (rs && !json_is_null(rs)) {
            if (!json_is_object(rs)) return qr_fail(e, "%s: \"rope_scaling\" is not an object", file);
            if (parse_rope_scaling(rs, file, c, e)) return -1;
        }
    }
    GETI("bos_token_id", 0, -1, -1, 1 << 22, c->bos_id);
    const json_t *eos = json_object_get(j, "eos_token_id");
    if (json_is_integer(eos)) {
        c->eos_ids[c->n_eos++] = (int)json_integer_value(eos);
    } else if (json_is_array(eos)) {
        size_t i;
        const json_t *x;
        json_array_foreach(eos, i, x) {
            if (!json_is_integer(x) || c->n_eos >= QR_MAX_EOS)
                return qr_fail(e, "%s: \"eos_token_id\" must be an integer or a list of up to %d integers", file,
                               QR_MAX_EOS);
            c->eos_ids[c->n_eos++] = (int)json_integer_value(x);
        }
    } else if (eos && !json_is_null(eos)) {
        return qr_fail(e, "%s: \"eos_token_id\" must be an integer or a list of integers", file);
    }
    const char *td;
    if (qr_json_str(j, "torch_dtype", &td, file, e)) return -1;
    if (!td && qr_json_str(j, "dtype", &td, file, e)) return -1;
    c->dtype = td && !strcmp(td, "bfloat16") ? QR_DT_BF16 : td && !strcmp(td, "float16") ? QR_DT_F16 : QR_DT_F32;
#undef GETI
    return 0;
}

static int config_gguf(const GgufFile *g, QrConfig *c, QrErr *e) {
    // llama.cpp key names (gguf-py constants.py): <arch>.embedding_length etc.
    int64_t v;
    struct { const char *k; int *dst; int req; int def; } I[] = {
        {"llama.embedding_length", &c->dim, 1, 0},
        {"llama.block_count", &c->n_layers, 1, 0},
        {"llama.attention.head_count", &c->n_heads, 1, 0},
        {"llama.feed_forward_length", &c->ffn_dim, 1, 0},
        {"llama.context_length", &c->max_pos, 0, 2048},
    };
    for (size_t i = 0; i < sizeof I / sizeof *I; i++) {
        if (!gguf_find(g, I[i].k) && !I[i].req) {
            *I[i].dst = I[i].def;
            continue;
        }
        if (gguf_get_int(g, I[i].k, &v, e)) return -1;
        if (v < 0 || v > (1 << 24)) return qr_fail(e, "%s: %s = %lld out of range", g->path, I[i].k, (long long)v);
        *I[i].dst = (int)v;
    }
    c->n_kv_heads = c->n_heads;
    if (gguf_find(g, "llama.attention.head_count_kv")) {
        if (gguf_get_int(g, "llama.attention.head_count_kv", &v, e)) return -1;
        c->n_kv_heads = (int)(v > 0 && v < 4096 ? v : 0);
    }
    c->head_dim = c->n_heads ? c->dim / c->n_heads : 0;
    c->rope_dim = c->head_dim;
    if (gguf_find(g, "llama.rope.dimension_count")) {
        if (gguf_get_int(g, "llama.rope.dimension_count", &v, e)) return -1;
        c->rope_dim = (int)(v >= 0 && v <= 4096 ? v : -1);
    }
    // Vocabulary size: the embedding's row count (ne[1]).
    const GgufTensor *emb = gguf_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return qr_fail(e, "%s: tensor 'token_embd.weight' is missing", g->path);
    c->vocab_size = emb->ne[1] < (1u << 22) ? (int)emb->ne[1] : -1;
    double d;
    if (gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d, e)) return -1;
    c->norm_eps = (float)d;
    c->rope_theta = 10000.0;
    if (gguf_find(g, "llama.rope.freq_base") && gguf_get_float(g, "llama.rope.freq_base", &c->rope_theta, e))
        return -1;
    if (gguf_find(g, "llama.rope.scaling.type")) {
        GgufStr s;
        if (gguf_get_str(g, "llama.rope.scaling.type", &s, e)) return -1;
        if (gguf_str_eq(s, "linear")) {
            c->rope_type = QR_ROPE_LINEAR;
            if (gguf_get_float(g, "llama.rope.scaling.factor", &c->rope_factor, e)) return -1;
        } else if (!gguf_str_eq(s, "none")) {
            return qr_fail(e, "%s: llama.rope.scaling.type '%.*s' is not supported", g->path, (int)s.len, s.ptr);
        }
    }
    c->rope_interleaved = 1;
    c->tie_embeddings = gguf_tensor(g, "output.weight") == NULL;
    c->bos_id = -1;
    if (gguf_find(g, "tokenizer.ggml.bos_token_id") && !gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v, e))
        c->bos_id = (int)v;
    if (gguf_find(g, "tokenizer.ggml.eos_token_id")) {
        if (gguf_get_int(g, "tokenizer.ggml.eos_token_id", &v, e)) return -1;
        c->eos_ids[c->n_eos++] = (int)v;
    }
    c->dtype = emb->ggml_type == GGML_F16 ? QR_DT_F16 : emb->ggml_type == GGML_BF16 ? QR_DT_BF16 : QR_DT_F32;
    return 0;
}

// ---- tensor names ----
enum { T_EMBED, T_NORM, T_HEAD, T_ATTN_NORM, T_Q, T_K, T_V, T_O, T_FFN_NORM, T_GATE, T_UP, T_DOWN, T_COUNT };
// {HF name, GGUF name}; %d is the layer.
static const char *const NAMES[T_COUNT][2] = {
    [T_EMBED] = {"model.embed_tokens.weight", "token_embd.weight"},
    [T_NORM] = {"model.norm.weight", "output_norm.weight"},
    [T_HEAD] = {"lm_head.weight", "output.weight"},
    [T_ATTN_NORM] = {"model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [T_Q] = {"model.layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"},
    [T_K] = {"model.layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"},
    [T_V] = {"model.layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"},
    [T_O] = {"model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
    [T_FFN_NORM] = {"model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [T_GATE] = {"model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight"},
    [T_UP] = {"model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight"},
    [T_DOWN] = {"model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
};

static void tname(char *buf, size_t n, int which, int layer, QrCkptKind kind) {
    snprintf(buf, n, NAMES[which][kind == QR_CKPT_GGUF], layer);
}

// Shape [rows, cols] of each tensor (cols 0: a vector).
static void tshape(const QrConfig *c, int which, int64_t *rows, int64_t *cols) {
    int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t R[T_COUNT] = {c->vocab_size, c->dim, c->vocab_size, c->dim, qd, kvd, kvd, c->dim, c->dim, c->ffn_dim,
                          c->ffn_dim, c->dim};
    int64_t C[T_COUNT] = {c->dim, 0, c->dim, 0, c->dim, c->dim, c->dim, qd, 0, c->dim, c->dim, c->ffn_dim};
    *rows = R[which];
    *cols = C[which];
}

static int has_bias(const QrConfig *c, int which) {
    if (which >= T_Q && which <= T_O) return c->attn_bias;
    if (which >= T_GATE && which <= T_DOWN) return c->mlp_bias;
    return 0;
}

static void each_tensor(const QrConfig *c, QrCkptKind kind, void *ctx,
                        void (*fn)(void *, const char *, int, const int64_t *)) {
    char name[128];
    int64_t sh[2];
    for (int w = 0; w < T_COUNT; w++) {
        int per_layer = w >= T_ATTN_NORM;
        if (w == T_HEAD && c->tie_embeddings) continue;
        for (int l = 0; l < (per_layer ? c->n_layers : 1); l++) {
            tname(name, sizeof name, w, l, kind);
            tshape(c, w, &sh[0], &sh[1]);
            fn(ctx, name, sh[1] ? 2 : 1, sh);
            if (has_bias(c, w)) {
                char *dot = strrchr(name, '.');
                snprintf(dot, sizeof name - (size_t)(dot - name), ".bias");
                fn(ctx, name, 1, sh);
            }
        }
    }
}

// ---- loading ----
static const QrTensor *need(const QrCheckpoint *ck, const char *name, QrErr *e) {
    const QrTensor *t = qr_ckpt_find(ck, name);
    if (!t) qr_fail(e, "%s: tensor '%s' is missing", ck->path, name);
    return t;
}

// A vector parameter as owned f32.
static float *load_vec(const QrCheckpoint *ck, const char *name, int64_t n, QrErr *e) {
    const QrTensor *t = need(ck, name, e);
    if (!t) return NULL;
    char sh[96];
    if (t->ndim != 1 || t->shape[0] != n) {
        qr_fail(e, "%s: tensor '%s' has shape %s, the config implies [%lld]", t->file, name,
                qr_shape_str(t, sh, sizeof sh), (long long)n);
        return NULL;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        qr_fail(e, "out of memory");
        return NULL;
    }
    if (qr_to_f32(t->dtype, t->data, v, (size_t)n)) {
        qr_fail(e, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)", t->file, name, qr_dtype_name(t->dtype));
        free(v);
        return NULL;
    }
    return v;
}

static int add_param(QrModel *m, const char *name, QrLinear *lin, float *vec, int n, int layer, int block_linear,
                     int embedding) {
    QrParam *np = realloc(m->params, (size_t)(m->n_params + 1) * sizeof *np);
    if (!np) return -1;
    m->params = np;
    QrParam *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->lin = lin;
    p->vec = vec;
    p->n = n;
    p->layer = layer;
    p->block_linear = block_linear;
    p->embedding = embedding;
    return 0;
}

static int load_linear(QrModel *m, int which, int layer, QrLinear *L, QrErr *e) {
    const QrCheckpoint *ck = &m->ckpt;
    char name[128];
    int64_t rows, cols;
    tname(name, sizeof name, which, layer, ck->kind);
    tshape(&m->cfg, which, &rows, &cols);
    const QrTensor *t = need(ck, name, e);
    if (!t || qr_linear_load(L, ck, t, (int)rows, (int)cols, e)) return -1;
    int block = which >= T_ATTN_NORM;
    if (add_param(m, name, L, NULL, 0, block ? layer : -1, block, which == T_EMBED))
        return qr_fail(e, "out of memory");
    if (has_bias(&m->cfg, which)) {
        char *dot = strrchr(name, '.');
        snprintf(dot, sizeof name - (size_t)(dot - name), ".bias");
        if (!(L->bias = load_vec(ck, name, rows, e))) return -1;
        if (add_param(m, name, NULL, L->bias, (int)rows, block ? layer : -1, 0, 0)) return qr_fail(e, "out of memory");
    }
    return 0;
}

static float *load_norm(QrModel *m, int which, int layer, QrErr *e) {
    char name[128];
    tname(name, sizeof name, which, layer, m->ckpt.kind);
    float *v = load_vec(&m->ckpt, name, m->cfg.dim, e);
    if (v && add_param(m, name, NULL, v, m->cfg.dim, which == T_NORM ? -1 : layer, 0, 0)) {
        free(v);
        qr_fail(e, "out of memory");
        return NULL;
    }
    return v;
}

static int llama_load(QrModel *m, const QrCheckpoint *ck, QrErr *e) {
    (void)ck; // m->ckpt is the same checkpoint
    const QrConfig *c = &m->cfg;
    LlamaWeights *w = calloc(1, sizeof *w);
    if (!w) return qr_fail(e, "out of memory");
    m->w = w;
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) return qr_fail(e, "out of memory");
    if (load_linear(m, T_EMBED, 0, &w->embed, e)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        LlamaLayer *L = &w->layers[l];
        if (!(L->attn_norm = load_norm(m, T_ATTN_NORM, l, e)) || load_linear(m, T_Q, l, &L->wq, e) ||
            load_linear(m, T_K, l, &L->wk, e) || load_linear(m, T_V, l, &L->wv, e) ||
            load_linear(m, T_O, l, &L->wo, e) || !(L->ffn_norm = load_norm(m, T_FFN_NORM, l, e)) ||
            load_linear(m, T_GATE, l, &L->w_gate, e) || load_linear(m, T_UP, l, &L->w_up, e) ||
            load_linear(m, T_DOWN, l, &L->w_down, e))
            return -1;
    }
    if (!(w->norm = load_norm(m, T_NORM, 0, e))) return -1;
    if (!c->tie_embeddings && load_linear(m, T_HEAD, 0, &w->head, e)) return -1;
    return 0;
}

static void free_state(LlamaState *s) {
    if (!s) return;
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->att_scratch);
    free(s);
}

static int llama_alloc_state(QrModel *m, QrErr *e) {
    const QrConfig *c = &m->cfg;
    free_state(m->state);
    LlamaState *s = m->state = calloc(1, sizeof *s);
    if (!s) return qr_fail(e, "out of memory");
    size_t B = (size_t)m->max_batch, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)m->kv.kv_dim;
    size_t xbd = qd > (size_t)c->dim ? qd : (size_t)c->dim;
    s->B = m->max_batch;
    s->x = malloc(B * c->dim * 4);
    s->xb = malloc(B * xbd * 4);
    s->xb2 = malloc(B * c->dim * 4);
    s->q = malloc(B * qd * 4);
    s->k = malloc(B * kvd * 4);
    s->v = malloc(B * kvd * 4);
    s->hb = malloc(B * c->ffn_dim * 4);
    s->hb2 = malloc(B * c->ffn_dim * 4);
    s->n_att_scratch = omp_get_max_threads();
    s->att_scratch = malloc((size_t)s->n_att_scratch * m->kv.max_seq * 4);
    if (!s->x || !s->xb || !s->xb2 || !s->q || !s->k || !s->v || !s->hb || !s->hb2 || !s->att_scratch) {
        free_state(s);
        m->state = NULL;
        return qr_fail(e, "out of memory for activations of %d tokens", m->max_batch);
    }
    return 0;
}

// ---- forward ----
static int llama_forward(QrModel *m, const QrBatch *b, float *logits) {
    const QrConfig *c = &m->cfg;
    LlamaWeights *w = m->w;
    LlamaState *s = m->state;
    int n = b->n, dim = c->dim, hd = c->head_dim;
    size_t kvd = (size_t)m->kv.kv_dim;
    size_t layer_stride = (size_t)m->kv.n_slots * m->kv.max_seq * kvd;
    float scale = 1.0f / sqrtf((float)hd);

    for (int i = 0; i < n; i++) qr_linear_row(&w->embed, b->tokens[i], s->x + (size_t)i * dim);

    for (int l = 0; l < c->n_layers; l++) {
        LlamaLayer *L = &w->layers[l];
        qr_rmsnorm(s->xb, s->x, L->attn_norm, n, dim, c->norm_eps);
        qr_linear_forward(&L->wq, s->xb, n, s->q);
        qr_linear_forward(&L->wk, s->xb, n, s->k);
        qr_linear_forward(&L->wv, s->xb, n, s->v);
        qr_rope(s->q, n, c->n_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        qr_rope(s->k, n, c->n_kv_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        float *kc = m->kv.k + l * layer_stride, *vc = m->kv.v + l * layer_stride;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)b->seq[i] * m->kv.max_seq + b->pos[i]) * kvd;
            memcpy(kc + off, s->k + i * kvd, kvd * 4);
            memcpy(vc + off, s->v + i * kvd, kvd * 4);
        }
        QrKVLayer kvl = {kc, vc, m->kv.max_seq, (int)kvd};
        qr_attention(s->q, s->xb, n, c->n_heads, c->n_kv_heads, hd, scale, &kvl, b->pos, b->seq, c->sliding_window,
                     s->att_scratch, s->n_att_scratch);
        qr_linear_forward(&L->wo, s->xb, n, s->xb2);
        qr_add(s->x, s->xb2, (size_t)n * dim);

        qr_rmsnorm(s->xb, s->x, L->ffn_norm, n, dim, c->norm_eps);
        qr_linear_forward(&L->w_gate, s->xb, n, s->hb);
        qr_linear_forward(&L->w_up, s->xb, n, s->hb2);
        qr_silu_mul(s->hb, s->hb2, (size_t)n * c->ffn_dim);
        qr_linear_forward(&L->w_down, s->hb, n, s->xb2);
        qr_add(s->x, s->xb2, (size_t)n * dim);
    }
    // Final norm and head only for the rows whose logits are wanted.
    int n_out = 0;
    for (int i = 0; i < n; i++)
        if (b->want_logits[i]) {
            qr_rmsnorm(s->xb + (size_t)n_out * dim, s->x + (size_t)i * dim, w->norm, 1, dim, c->norm_eps);
            n_out++;
        }
    if (n_out) qr_linear_forward(c->tie_embeddings ? &w->embed : &w->head, s->xb, n_out, logits);
    return 0;
}

static void llama_free(QrModel *m) {
    LlamaWeights *w = m->w;
    free_state(m->state);
    m->state = NULL;
    if (!w) return;
    qr_linear_free(&w->embed);
    qr_linear_free(&w->head);
    if (w->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            LlamaLayer *L = &w->layers[l];
            free(L->attn_norm);
            free(L->ffn_norm);
            QrLinear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) qr_linear_free(lin[i]);
        }
    free(w->layers);
    free(w->norm);
    free(w);
    m->w = NULL;
}

const QrArch qr_arch_llama = {
    .name = "llama",
    .hf_model_types = HF_TYPES,
    .gguf_archs = GGUF_ARCHS,
    .config_hf = config_hf,
    .config_gguf = config_gguf,
    .each_tensor = each_tensor,
    .load = llama_load,
    .alloc_state = llama_alloc_state,
    .forward = llama_forward,
    .free = llama_free,
};
