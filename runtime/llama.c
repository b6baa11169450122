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
#include "runtime/archutil.h"
#include "runtime/model.h"

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
    float *block; // the one allocation behind the arrays above, 64-byte aligned slices
} LlamaState;

// ---- config ----
// Qwen2 / Qwen2.5(-Coder) is LLaMA with q/k/v biases (see config_hf).
static const char *const HF_TYPES[] = {"llama", "qwen2", NULL};
static const char *const GGUF_ARCHS[] = {"llama", NULL};

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
#undef GETI
    c->rope_dim = c->head_dim;
    c->rope_interleaved = 0;
    double d;
    if (qr_json_num(j, "rms_norm_eps", 0, 1e-6, &d, file, e)) return -1;
    c->norm_eps = (float)d;
    if (qr_hf_act(j, "hidden_act", QR_ACT_SILU, 1u << QR_ACT_SILU, c->model_type, &c->act, file, e)) return -1;
    int qwen2 = !strcmp(c->model_type, "qwen2");
    // LlamaConfig and Qwen2Config both default tie_word_embeddings to False.
    if (qr_hf_bool(j, "tie_word_embeddings", 0, &c->tie_embeddings, file, e)) return -1;
    if (qwen2) {
        // Qwen2Attention: q/k/v always carry biases, o_proj never; MLP none.
        c->attn_bias = 1;
        c->o_bias = c->mlp_bias = 0;
        // Sliding-window layers (use_sliding_window, or "sliding_attention" in
        // layer_types) would need a per-layer window: refuse rather than
        // silently attend to the full context.
        int sw;
        if (qr_hf_bool(j, "use_sliding_window", 0, &sw, file, e)) return -1;
        const json_t *lt = json_object_get(j, "layer_types");
        size_t i;
        const json_t *x;
        if (json_is_array(lt))
            json_array_foreach(lt, i, x) sw |= json_is_string(x) && strcmp(json_string_value(x), "full_attention");
        if (sw) return qr_fail(e, "%s: qwen2 sliding-window attention layers (use_sliding_window) are not supported", file);
    } else {
        if (qr_hf_bool(j, "attention_bias", 0, &c->attn_bias, file, e) ||
            qr_hf_bool(j, "mlp_bias", 0, &c->mlp_bias, file, e))
            return -1;
        c->o_bias = c->attn_bias;
    }
    if (qr_hf_rope(j, file, c->model_type, 10000.0, c, e) || qr_hf_special_tokens(j, file, c, e) ||
        qr_hf_dtype(j, file, c, e))
        return -1;
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
    if (which >= T_Q && which <= T_V) return c->attn_bias;
    if (which == T_O) return c->o_bias;
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
static int load_linear(QrModel *m, int which, int layer, QrLinear *L, QrErr *e) {
    char name[128];
    int64_t rows, cols;
    tname(name, sizeof name, which, layer, m->ckpt.kind);
    tshape(&m->cfg, which, &rows, &cols);
    int block = which >= T_ATTN_NORM;
    return qr_arch_linear(m, name, (int)rows, (int)cols, has_bias(&m->cfg, which), block ? layer : -1,
                          block ? QR_P_BLOCK : which == T_EMBED ? QR_P_EMBED : 0, L, e);
}

static float *load_norm(QrModel *m, int which, int layer, QrErr *e) {
    char name[128];
    tname(name, sizeof name, which, layer, m->ckpt.kind);
    return qr_arch_vec(m, name, m->cfg.dim, which == T_NORM ? -1 : layer, e);
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
    free(s->block);
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
    s->n_att_scratch = omp_get_max_threads();
    // One block of cache-line aligned slices: from malloc (16-byte aligned)
    // every other 32-byte load of q, of an attention output row or of silu's
    // operands straddled two cache lines.
    float **const p[] = {&s->x, &s->xb, &s->xb2, &s->q, &s->k, &s->v, &s->hb, &s->hb2, &s->att_scratch};
    const size_t n[] = {B * c->dim, B * xbd, B * c->dim, B * qd, B * kvd, B * kvd, B * c->ffn_dim, B * c->ffn_dim,
                        (size_t)s->n_att_scratch * m->kv.max_seq};
    if (!(s->block = qr_arch_buffers(p, n, 9))) {
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
    float scale = 1.0f / sqrtf((float)hd);

    for (int i = 0; i < n; i++) qr_linear_row(&w->embed, b->tokens[i], s->x + (size_t)i * dim);

    for (int l = 0; l < c->n_layers; l++) {
        LlamaLayer *L = &w->layers[l];
        qr_rmsnorm(s->xb, s->x, L->attn_norm, n, dim, c->norm_eps);
        const QrLinear *qkv[3] = {&L->wq, &L->wk, &L->wv};
        qr_linear_forward_multi(qkv, 3, s->xb, n, (float *const[]){s->q, s->k, s->v});
        qr_rope(s->q, n, c->n_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        qr_rope(s->k, n, c->n_kv_heads, hd, c->rope_dim, b->pos, m->inv_freq, c->rope_interleaved);
        QrKVLayer kvl = qr_kv_store(m, l, b, s->k, s->v);
        qr_attention(s->q, s->xb, n, c->n_heads, c->n_kv_heads, hd, scale, &kvl, b->pos, b->seq, c->sliding_window,
                     s->att_scratch, s->n_att_scratch);
        qr_linear_forward(&L->wo, s->xb, n, s->xb2);
        qr_add(s->x, s->xb2, (size_t)n * dim);

        qr_rmsnorm(s->xb, s->x, L->ffn_norm, n, dim, c->norm_eps);
        const QrLinear *gate_up[2] = {&L->w_gate, &L->w_up};
        qr_linear_forward_multi(gate_up, 2, s->xb, n, (float *const[]){s->hb, s->hb2});
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
