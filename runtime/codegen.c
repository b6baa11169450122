// CodeGen (Salesforce/codegen-350M/2B/6B/16B-mono|multi|nl), the GPT-J
// block: one LayerNorm (weight and bias) feeds attention and MLP in
// parallel and both are added to the residual,
//     x = (attn(ln_1(x)) + mlp(ln_1(x))) + x,
// multi-head attention (no grouping) whose q, k and v come from one fused
// qkv_proj (no bias) laid out for 4-way model parallelism, rotary embeddings
// on the first rotary_dim dimensions of each head in the GPT-J interleaved
// (rotate-every-two) form with theta 10000, out_proj without bias, an MLP
// fc_in -> gelu_new -> fc_out with biases, a final ln_f, and lm_head WITH a
// bias. Semantics follow transformers' models/codegen/modeling_codegen.py.
//
// The fused projection. qkv_proj.weight is [3 * dim, dim]; its output row of
// 3 * dim values is read as mp_num = 4 chunks of 3 * dim / 4, each chunk
// holding [q | v | k] (that order) for heads mp * H/4 .. (mp + 1) * H/4 - 1:
//     q of head h = out[mp * 3D/4 + 0 * D/4 + j * head_dim ...]
//     v of head h = out[mp * 3D/4 + 1 * D/4 + j * head_dim ...]
//     k of head h = out[mp * 3D/4 + 2 * D/4 + j * head_dim ...]
// with mp = h / (H/4), j = h % (H/4). The weight stays as the checkpoint
// stores it (one linear layer, as bitsandbytes quantizes it and as weight
// noise indexes it); the forward pass computes the fused product once and
// scatters it into q, k, v.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "runtime/archutil.h"
#include "runtime/model.h"

#define MP_NUM 4 // hard-coded in CodeGenAttention.forward

typedef struct {
    float *ln_w, *ln_b; // [dim]  ln_1
    QrLinear qkv;       // [3 * dim, dim]  attn.qkv_proj (mp_num = 4 layout above)
    QrLinear out;       // [dim, dim]      attn.out_proj
    QrLinear fc_in;     // [ffn_dim, dim] + bias  mlp.fc_in
    QrLinear fc_out;    // [dim, ffn_dim] + bias  mlp.fc_out
} CgLayer;

typedef struct {
    QrLinear wte;         // [vocab, dim]  transformer.wte (also the head's weight when tied)
    CgLayer *layers;      // [n_layers]
    float *lnf_w, *lnf_b; // [dim]  transformer.ln_f
    QrLinear head;        // [vocab, dim]  lm_head (untied)
    float *head_b;        // [vocab]  lm_head.bias (present tied or not)
} CgWeights;

typedef struct {
    float *x;   // [B, dim] residual stream
    float *xb;  // [B, dim] ln_1 output, then the final norm rows
    float *qkv; // [B, 3 * dim] fused projection
    float *q, *k, *v; // [B, dim] heads in natural order
    float *att; // [B, dim] attention output
    float *xb2; // [B, dim] out_proj, then + mlp
    float *hb;  // [B, ffn_dim]
    float *sc;  // [n_sc][max_seq] attention scores
    int n_sc;
    float *block; // the allocation all of the above live in
} CgState;

// ---- config ----
static const char *const HF_TYPES[] = {"codegen", NULL};

// CodeGenConfig names (n_embd, ...) with the attribute_map aliases
// (hidden_size, ...) transformers also accepts.
static int geti(const json_t *j, const char *key, const char *alias, int req, long long def, long long lo,
                long long hi, int *dst, const char *file, QrErr *e) {
    long long v;
    const json_t *x = json_object_get(j, key);
    if ((!x || json_is_null(x)) && alias) key = alias;
    if (qr_json_int(j, key, req, def, lo, hi, &v, file, e)) return -1;
    *dst = (int)v;
    return 0;
}

static int config_hf(const json_t *j, const char *file, QrConfig *c, QrErr *e) {
    // Defaults: CodeGenConfig (the 6B shape).
    if (geti(j, "n_embd", "hidden_size", 0, 4096, 1, 1 << 16, &c->dim, file, e) ||
        geti(j, "n_layer", "num_hidden_layers", 0, 28, 1, 1024, &c->n_layers, file, e) ||
        geti(j, "n_head", "num_attention_heads", 0, 16, 1, 1024, &c->n_heads, file, e) ||
        geti(j, "n_positions", "max_position_embeddings", 0, 2048, 1, 1 << 24, &c->max_pos, file, e) ||
        geti(j, "vocab_size", NULL, 0, 50400, 1, 1 << 22, &c->vocab_size, file, e) ||
        geti(j, "rotary_dim", NULL, 0, 64, 2, 1024, &c->rope_dim, file, e))
        return -1;
    // rotary_dim null asks HF for rotary over all of n_embd, which only fits
    // one head: not a working configuration
    const json_t *rd = json_object_get(j, "rotary_dim");
    if (rd && json_is_null(rd)) return qr_fail(e, "%s: \"rotary_dim\": null is not supported for codegen", file);
    // n_inner null: 4 * n_embd (CodeGenBlock)
    if (geti(j, "n_inner", NULL, 0, 4LL * c->dim, 1, 1 << 20, &c->ffn_dim, file, e)) return -1;
    if (c->n_heads % MP_NUM || c->dim % c->n_heads)
        return qr_fail(e, "%s: codegen needs n_head (%d) divisible by mp_num %d and n_embd (%d) by n_head", file,
                       c->n_heads, MP_NUM, c->dim);
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->dim / c->n_heads;
    c->rope_interleaved = 1;  // rotate_every_two
    c->rope_theta = 10000.0;  // create_sinusoidal_positions: fixed base
    c->rope_type = QR_ROPE_DEFAULT;
    const char *const rope_keys[] = {"rope_scaling", "rope_parameters"}; // not CodeGen options
    for (int i = 0; i < 2; i++) {
        const json_t *x = json_object_get(j, rope_keys[i]);
        if (x && !json_is_null(x)) return qr_fail(e, "%s: \"%s\" is not supported for codegen", file, rope_keys[i]);
    }
    double d;
    if (qr_json_num(j, "layer_norm_epsilon", 0, 1e-5, &d, file, e)) return -1;
    c->norm_eps = (float)d;
    unsigned gelus = 1u << QR_ACT_GELU | 1u << QR_ACT_GELU_TANH;
    if (qr_hf_act(j, "activation_function", QR_ACT_GELU_TANH, gelus, "codegen", &c->act, file, e)) return -1;
    if (qr_hf_bool(j, "tie_word_embeddings", 0, &c->tie_embeddings, file, e)) return -1;
    c->attn_bias = c->o_bias = 0;
    c->mlp_bias = 1;
    // CodeGenConfig defaults bos/eos to 50256 (<|endoftext|>).
    if (qr_hf_special_tokens(j, file, c, e) || qr_hf_dtype(j, file, c, e)) return -1;
    if (!json_object_get(j, "bos_token_id")) c->bos_id = 50256;
    if (!json_object_get(j, "eos_token_id")) c->eos_ids[c->n_eos++] = 50256;
    return 0;
}

// ---- tensor names ----
enum { T_WTE, T_LNF, T_HEAD, T_LN1, T_QKV, T_OUT, T_FC_IN, T_FC_OUT, T_COUNT };

// Name, shape and bias of each tensor. A tied head reuses wte's weight but
// keeps its own bias.
static QrTensorSpec spec(const QrConfig *c, int which) {
    int D = c->dim, F = c->ffn_dim, V = c->vocab_size;
    switch (which) {
    case T_WTE: return (QrTensorSpec){"transformer.wte.weight", V, D, 0, 0, 0, QR_P_EMBED};
    case T_LNF: return (QrTensorSpec){"transformer.ln_f.weight", D, 0, 0, 0, 1, 0};
    case T_HEAD: return (QrTensorSpec){"lm_head.weight", V, D, 0, c->tie_embeddings, 1, 0};
    case T_LN1: return (QrTensorSpec){"transformer.h.%d.ln_1.weight", D, 0, 1, 0, 1, 0};
    case T_QKV: return (QrTensorSpec){"transformer.h.%d.attn.qkv_proj.weight", 3 * D, D, 1, 0, 0, 0};
    case T_OUT: return (QrTensorSpec){"transformer.h.%d.attn.out_proj.weight", D, D, 1, 0, 0, 0};
    case T_FC_IN: return (QrTensorSpec){"transformer.h.%d.mlp.fc_in.weight", F, D, 1, 0, 1, 0};
    default: return (QrTensorSpec){"transformer.h.%d.mlp.fc_out.weight", D, F, 1, 0, 1, 0};
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

static int cg_load(QrModel *m, const QrCheckpoint *ck, QrErr *e) {
    (void)ck;
    const QrConfig *c = &m->cfg;
    CgWeights *w = calloc(1, sizeof *w);
    if (!w) return qr_fail(e, "out of memory");
    m->w = w;
    if (!(w->layers = calloc((size_t)c->n_layers, sizeof *w->layers))) return qr_fail(e, "out of memory");
    if (load_linear(m, T_WTE, 0, &w->wte, e)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        CgLayer *L = &w->layers[l];
        if (load_norm(m, T_LN1, l, &L->ln_w, &L->ln_b, e) || load_linear(m, T_QKV, l, &L->qkv, e) ||
            load_linear(m, T_OUT, l, &L->out, e) || load_linear(m, T_FC_IN, l, &L->fc_in, e) ||
            load_linear(m, T_FC_OUT, l, &L->fc_out, e))
            return -1;
    }
    if (load_norm(m, T_LNF, -1, &w->lnf_w, &w->lnf_b, e)) return -1;
    if (c->tie_embeddings) {
        w->head_b = qr_arch_vec(m, "lm_head.bias", c->vocab_size, -1, e);
        return w->head_b ? 0 : -1;
    }
    if (load_linear(m, T_HEAD, 0, &w->head, e)) return -1;
    w->head_b = w->head.bias;
    return 0;
}

static void free_state(CgState *s) {
    if (s) free(s->block);
    free(s);
}

static int cg_alloc_state(QrModel *m, QrErr *e) {
    const QrConfig *c = &m->cfg;
    free_state(m->state);
    CgState *s = m->state = calloc(1, sizeof *s);
    if (!s) return qr_fail(e, "out of memory");
    size_t B = (size_t)m->max_batch, D = (size_t)c->dim;
    s->n_sc = omp_get_max_threads();
    float **const p[] = {&s->x, &s->xb, &s->qkv, &s->q, &s->k, &s->v, &s->att, &s->xb2, &s->hb, &s->sc};
    const size_t n[] = {B * D, B * D, B * 3 * D, B * D, B * D, B * D, B * D, B * D, B * c->ffn_dim,
                        (size_t)s->n_sc * m->kv.max_seq};
    if (!(s->block = qr_arch_buffers(p, n, 10))) {
        free_state(s);
        m->state = NULL;
        return qr_fail(e, "out of memory for activations of %d tokens", m->max_batch);
    }
    return 0;
}

// ---- forward ----

// Splits the fused qkv rows [n, 3D] into q, k, v [n, D] (head h at h * hd).
static void split_qkv(const float *qkv, int n, int dim, int n_heads, float *q, float *k, float *v) {
    int hd = dim / n_heads, per = n_heads / MP_NUM, local = dim / MP_NUM;
    size_t chunk = (size_t)3 * local, bytes = (size_t)hd * sizeof(float);
    for (int i = 0; i < n; i++) {
        const float *row = qkv + (size_t)i * 3 * dim;
        for (int h = 0; h < n_heads; h++) {
            const float *src = row + (size_t)(h / per) * chunk + (size_t)(h % per) * hd;
            size_t dst = (size_t)i * dim + (size_t)h * hd;
            memcpy(q + dst, src, bytes);
            memcpy(v + dst, src + local, bytes);
            memcpy(k + dst, src + 2 * local, bytes);
        }
    }
}

static int cg_forward(QrModel *m, const QrBatch *b, float *logits) {
    const QrConfig *c = &m->cfg;
    CgWeights *w = m->w;
    CgState *s = m->state;
    int n = b->n, dim = c->dim, hd = c->head_dim;
    float scale = 1.0f / sqrtf((float)hd);

    for (int i = 0; i < n; i++) qr_linear_row(&w->wte, b->tokens[i], s->x + (size_t)i * dim);
    for (int l = 0; l < c->n_layers; l++) {
        CgLayer *L = &w->layers[l];
        qr_layernorm(s->xb, s->x, L->ln_w, L->ln_b, n, dim, c->norm_eps);
        // attention branch
        qr_linear_forward(&L->qkv, s->xb, n, s->qkv);
        split_qkv(s->qkv, n, dim, c->n_heads, s->q, s->k, s->v);
        qr_rope(s->q, n, c->n_heads, hd, c->rope_dim, b->pos, m->inv_freq, 1);
        qr_rope(s->k, n, c->n_heads, hd, c->rope_dim, b->pos, m->inv_freq, 1);
        QrKVLayer kvl = qr_kv_store(m, l, b, s->k, s->v);
        qr_attention(s->q, s->att, n, c->n_heads, c->n_heads, hd, scale, &kvl, b->pos, b->seq, 0, s->sc, s->n_sc);
        qr_linear_forward(&L->out, s->att, n, s->xb2);
        // MLP branch on the same normed input; (attn + mlp) + residual as HF adds them
        qr_linear_forward(&L->fc_in, s->xb, n, s->hb);
        qr_arch_gelu(c->act, s->hb, (size_t)n * c->ffn_dim);
        qr_linear_forward(&L->fc_out, s->hb, n, s->att);
        qr_add(s->xb2, s->att, (size_t)n * dim);
        qr_add(s->x, s->xb2, (size_t)n * dim);
    }
    int n_out = qr_gather_wanted(b, s->x, dim, s->xb);
    if (!n_out) return 0;
    qr_layernorm(s->xb, s->xb, w->lnf_w, w->lnf_b, n_out, dim, c->norm_eps);
    if (!c->tie_embeddings) {
        qr_linear_forward(&w->head, s->xb, n_out, logits); // adds lm_head.bias
        return 0;
    }
    qr_linear_forward(&w->wte, s->xb, n_out, logits);
    for (int r = 0; r < n_out; r++)
        for (int v = 0; v < c->vocab_size; v++) logits[(size_t)r * c->vocab_size + v] += w->head_b[v];
    return 0;
}

static void cg_free(QrModel *m) {
    CgWeights *w = m->w;
    free_state(m->state);
    m->state = NULL;
    if (!w) return;
    qr_linear_free(&w->wte);
    qr_linear_free(&w->head); // frees head_b when untied
    if (w->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            CgLayer *L = &w->layers[l];
            free(L->ln_w), free(L->ln_b);
            QrLinear *lin[] = {&L->qkv, &L->out, &L->fc_in, &L->fc_out};
            for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) qr_linear_free(lin[i]);
        }
    if (m->cfg.tie_embeddings) free(w->head_b);
    free(w->layers);
    free(w->lnf_w);
    free(w->lnf_b);
    free(w);
    m->w = NULL;
}

const QrArch qr_arch_codegen = {
    .name = "codegen",
    .hf_model_types = HF_TYPES,
    .gguf_archs = NULL,
    .config_hf = config_hf,
    .each_tensor = each_tensor,
    .load = cg_load,
    .alloc_state = cg_alloc_state,
    .forward = cg_forward,
    .free = cg_free,
};
