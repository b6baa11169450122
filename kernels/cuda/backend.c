// CUDA backend: weights uploaded once in their stored formats, the llama
// forward pass as a sequence of kernels (kernels/cuda/qcuda.h) on one stream,
// and the decode step captured once per batch size as a CUDA graph.
//
// Every CUDA / cuBLASLt call goes through CK / CKL, which turn a failure into a
// QrErr naming this file, the line, the call and the runtime's message; device
// allocations go through dev_alloc, which names what was being allocated and
// how much memory the device has left.
#include "kernels/cuda/backend.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise_model.h"
#include "kernels/cuda/qcuda.h"
#include "kernels/ops.h"
#include "quant/bnb.h"
#include "runtime/qlinear.h"

#define CK(call)                                                                                             \
    do {                                                                                                     \
        cudaError_t ck_r_ = (call);                                                                          \
        if (ck_r_ != cudaSuccess)                                                                            \
            return qr_fail(e, "%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, cudaGetErrorString(ck_r_),   \
                           cudaGetErrorName(ck_r_));                                                         \
    } while (0)
#define CKL(call)                                                                                            \
    do {                                                                                                     \
        cublasStatus_t ck_s_ = (call);                                                                       \
        if (ck_s_ != CUBLAS_STATUS_SUCCESS)                                                                  \
            return qr_fail(e, "%s:%d: %s: %s", __FILE__, __LINE__, #call, cublasLtGetStatusString(ck_s_));  \
    } while (0)

typedef struct {
    QcLinear wq, wk, wv, wo, gate, up, down;
    float *attn_norm, *ffn_norm; // [dim]
} DevLayer;

// Host object -> its device copy (for noise on the device).
typedef struct {
    const void *host; // QrLinear* for matrices, the float* for vectors
    void *dev;        // device buffer (float formats / vectors)
    QcLinear *lin;    // the device layer (matrices)
    int fmt;
    size_t n;
} DevMap;

struct QrCuda {
    QrConfig cfg;
    int device;
    char name[256];
    cudaStream_t st;
    cublasLtHandle_t lt;
    void **allocs; // every device allocation (weights: [0, n_weight_allocs); then KV/state)
    int n_allocs, cap, n_weight_allocs;
    size_t weight_bytes;
    int uploaded;
    // weights
    QcLinear embed, head;
    float *norm;
    DevLayer *layers;
    float *inv_freq;
    DevMap *map;
    int n_map;
    // KV cache and activations for B tokens
    float *kc, *vc; // [n_layers][n_slots][max_seq][kv_dim]
    int n_slots, max_seq, kv_dim, B;
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2, *att, *logits;
    int *d_in, *h_in; // [4][B]: tokens, pos, seq, wanted-row index (h_in pinned)
    int *d_ids, *h_ids;  // [B] argmax results
    QcScratch sc;
    // decode graphs, one per batch size n (index n), all rows wanted
    cudaGraphExec_t *graphs;
    int use_graphs;
    size_t bytes_per_token; // weights read per decoded token
};

static int dev_alloc(QrCuda *g, void **p, size_t bytes, const char *what, QrErr *e) {
    *p = NULL;
    if (!bytes) bytes = 1;
    cudaError_t r = cudaMalloc(p, bytes);
    if (r == cudaErrorMemoryAllocation) {
        cudaGetLastError(); // clear the sticky-free error state
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        return qr_fail(e, "out of GPU memory allocating %s (%.1f MiB; %.1f MiB free of %.1f MiB on %s)", what,
                       bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0, g->name);
    }
    CK(r);
    if (g->n_allocs == g->cap) {
        int nc = g->cap ? 2 * g->cap : 256;
        void **na = realloc(g->allocs, (size_t)nc * sizeof *na);
        if (!na) {
            cudaFree(*p);
            return qr_fail(e, "out of host memory");
        }
        g->allocs = na, g->cap = nc;
    }
    g->allocs[g->n_allocs++] = *p;
    return 0;
}

static int upload(QrCuda *g, void **dst, const void *src, size_t bytes, const char *what, QrErr *e) {
    if (dev_alloc(g, dst, bytes, what, e)) return -1;
    CK(cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice));
    g->weight_bytes += bytes;
    return 0;
}

static int add_map(QrCuda *g, const void *host, void *dev, QcLinear *lin, int fmt, size_t n, QrErr *e) {
    DevMap *nm = realloc(g->map, (size_t)(g->n_map + 1) * sizeof *nm);
    if (!nm) return qr_fail(e, "out of host memory");
    g->map = nm;
    g->map[g->n_map++] = (DevMap){host, dev, lin, fmt, n};
    return 0;
}

static int up_vec(QrCuda *g, const float *v, int n, const char *what, float **dst, QrErr *e) {
    *dst = NULL;
    if (!v) return 0;
    if (upload(g, (void **)dst, v, (size_t)n * sizeof(float), what, e)) return -1;
    return add_map(g, v, *dst, NULL, QC_F32, (size_t)n, e);
}

static int up_linear(QrCuda *g, const QrLinear *L, QcLinear *d, QrErr *e) {
    memset(d, 0, sizeof *d);
    d->fmt = (int)L->fmt;
    d->out = L->out, d->in = L->in;
    size_t n = (size_t)L->out * L->in;
    void *p;
    switch (L->fmt) {
    case QR_WF_F32:
    case QR_WF_F16:
    case QR_WF_BF16:
        if (upload(g, &p, L->w, n * (L->fmt == QR_WF_F32 ? 4 : 2), L->name, e)) return -1;
        d->w = p;
        if (add_map(g, L, p, d, d->fmt, n, e)) return -1;
        break;
    case QR_WF_NF4: {
        const QrQLinear *q = L->q;
        const QrNF4 *w = &q->nf4;
        void *a, *b, *c1, *c2;
        if (upload(g, &p, w->packed, (size_t)((w->rows * w->cols + 1) / 2), L->name, e) ||
            upload(g, &a, w->absmax_q, (size_t)w->nblocks, L->name, e) ||
            upload(g, &b, w->absmax2, (size_t)w->nblocks2 * sizeof(float), L->name, e) ||
            upload(g, &c1, w->code, sizeof w->code, L->name, e) || upload(g, &c2, w->code2, sizeof w->code2, L->name, e))
            return -1;
        d->w = p, d->absmax_q = a, d->absmax2 = b, d->code = c1, d->code2 = c2;
        d->offset = w->offset;
        d->compute = (int)q->compute;
        if (add_map(g, L, NULL, d, d->fmt, n, e)) return -1;
        break;
    }
    case QR_WF_INT8: {
        const QrQLinear *q = L->q;
        void *s;
        if (upload(g, &p, q->int8.w, n, L->name, e) ||
            upload(g, &s, q->int8.scb, (size_t)L->out * sizeof(float), L->name, e))
            return -1;
        d->w = p, d->scb = s;
        d->threshold = q->threshold;
        if (add_map(g, L, NULL, d, d->fmt, n, e)) return -1;
        break;
    }
    }
    const QrNoiseKey *k = qr_noise_kernel_key(L);
    if (k) {
        d->has_noise = 1;
        memcpy(d->noise.key, k->key, sizeof d->noise.key);
        d->noise.dist = (int)k->dist;
        d->noise.level = k->level;
    }
    float *bias;
    if (up_vec(g, L->bias, L->out, L->name, &bias, e)) return -1;
    d->bias = bias;
    return 0;
}

// Role of a parameter of the llama architecture, by its HF or GGUF name.
enum { R_NONE, R_EMBED, R_NORM, R_HEAD, R_ATTN_NORM, R_Q, R_K, R_V, R_O, R_FFN_NORM, R_GATE, R_UP, R_DOWN };
static int ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}
static int role_of(const char *name) {
    static const struct { const char *hf, *gguf; int role; } T[] = {
        {"embed_tokens.weight", "token_embd.weight", R_EMBED},
        {"model.norm.weight", "output_norm.weight", R_NORM},
        {"lm_head.weight", "output.weight", R_HEAD},
        {"input_layernorm.weight", ".attn_norm.weight", R_ATTN_NORM},
        {"q_proj.weight", ".attn_q.weight", R_Q},
        {"k_proj.weight", ".attn_k.weight", R_K},
        {"v_proj.weight", ".attn_v.weight", R_V},
        {"o_proj.weight", ".attn_output.weight", R_O},
        {"post_attention_layernorm.weight", ".ffn_norm.weight", R_FFN_NORM},
        {"gate_proj.weight", ".ffn_gate.weight", R_GATE},
        {"up_proj.weight", ".ffn_up.weight", R_UP},
        {"down_proj.weight", ".ffn_down.weight", R_DOWN},
    };
    if (!strcmp(name, "output.weight")) return R_HEAD;
    if (!strcmp(name, "output_norm.weight")) return R_NORM;
    for (size_t i = 0; i < sizeof T / sizeof *T; i++)
        if (ends(name, T[i].hf) || ends(name, T[i].gguf)) return T[i].role;
    return R_NONE;
}

static int upload_weights(QrModel *m, QrCuda *g, QrErr *e) {
    const QrConfig *c = &m->cfg;
    g->cfg = m->cfg;
    g->layers = calloc((size_t)c->n_layers, sizeof *g->layers);
    if (!g->layers) return qr_fail(e, "out of host memory");
    int have_head = 0;
    for (int i = 0; i < m->n_params; i++) {
        const QrParam *p = &m->params[i];
        int role = role_of(p->name);
        if (role == R_NONE) continue; // biases: uploaded with their layer
        DevLayer *L = p->layer >= 0 && p->layer < c->n_layers ? &g->layers[p->layer] : NULL;
        if (role >= R_ATTN_NORM && !L) return qr_fail(e, "%s: block parameter without a layer index", p->name);
        int rc = 0;
        switch (role) {
        case R_EMBED: rc = up_linear(g, p->lin, &g->embed, e); break;
        case R_HEAD: rc = up_linear(g, p->lin, &g->head, e), have_head = 1; break;
        case R_NORM: rc = up_vec(g, p->vec, p->n, p->name, &g->norm, e); break;
        case R_ATTN_NORM: rc = up_vec(g, p->vec, p->n, p->name, &L->attn_norm, e); break;
        case R_FFN_NORM: rc = up_vec(g, p->vec, p->n, p->name, &L->ffn_norm, e); break;
        case R_Q: rc = up_linear(g, p->lin, &L->wq, e); break;
        case R_K: rc = up_linear(g, p->lin, &L->wk, e); break;
        case R_V: rc = up_linear(g, p->lin, &L->wv, e); break;
        case R_O: rc = up_linear(g, p->lin, &L->wo, e); break;
        case R_GATE: rc = up_linear(g, p->lin, &L->gate, e); break;
        case R_UP: rc = up_linear(g, p->lin, &L->up, e); break;
        case R_DOWN: rc = up_linear(g, p->lin, &L->down, e); break;
        }
        if (rc) return -1;
    }
    if (g->embed.fmt > QC_BF16) return qr_fail(e, "CUDA: the token embedding must be f32/f16/bf16");
    if (!have_head) g->head = g->embed, g->head.bias = NULL; // tied
    for (int l = 0; l < c->n_layers; l++) {
        DevLayer *L = &g->layers[l];
        if (!L->attn_norm || !L->ffn_norm || !L->wq.w || !L->wk.w || !L->wv.w || !L->wo.w || !L->gate.w ||
            !L->up.w || !L->down.w)
            return qr_fail(e, "CUDA: layer %d: a tensor of the llama block was not found among the parameters", l);
    }
    if (!g->norm || !g->embed.w) return qr_fail(e, "CUDA: final norm or embedding not found among the parameters");
    if (upload(g, (void **)&g->inv_freq, m->inv_freq, (size_t)(c->rope_dim / 2 + 1) * sizeof(float), "rope frequencies", e))
        return -1;
    g->n_weight_allocs = g->n_allocs;
    g->uploaded = 1;
    g->bytes_per_token = qr_model_bytes_per_token(m);
    return 0;
}

static void free_graphs(QrCuda *g) {
    if (!g->graphs) return;
    for (int n = 0; n <= g->B; n++)
        if (g->graphs[n]) cudaGraphExecDestroy(g->graphs[n]);
    free(g->graphs);
    g->graphs = NULL;
}

// Frees allocations from index `from` on.
static void free_allocs(QrCuda *g, int from) {
    for (int i = from; i < g->n_allocs; i++) cudaFree(g->allocs[i]);
    g->n_allocs = from;
}

int qr_cuda_check(const QrModel *m, QrErr *e) {
    if (strcmp(m->arch->name, "llama"))
        return qr_fail(e, "%s: the CUDA backend runs the llama architecture; '%s' runs on the CPU only (--device cpu)",
                       m->ckpt.path, m->arch->name);
    if (m->cfg.sliding_window) return qr_fail(e, "%s: CUDA: sliding-window attention is not supported", m->ckpt.path);
    int n = 0;
    cudaError_t r = cudaGetDeviceCount(&n);
    if (r != cudaSuccess || n < 1)
        return qr_fail(e, "no CUDA device (%s): run with --device cpu", r ? cudaGetErrorString(r) : "0 devices");
    return 0;
}

static int init(QrCuda **out, QrErr *e) {
    if (*out) return 0;
    QrCuda *g = calloc(1, sizeof *g);
    if (!g) return qr_fail(e, "out of host memory");
    *out = g;
    CK(cudaGetDevice(&g->device));
    struct cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, g->device));
    snprintf(g->name, sizeof g->name, "%s", pr.name);
    CK(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking));
    CKL(cublasLtCreate(&g->lt));
    const char *ev = getenv("QROBUST_CUDA_GRAPHS");
    g->use_graphs = !(ev && !strcmp(ev, "0"));
    return 0;
}

int qr_cuda_reserve(QrModel *m, QrErr *e) {
    QrCuda **gp = (QrCuda **)&m->cuda;
    if (init(gp, e)) return -1;
    if (!(*gp)->uploaded) {
        CK(cudaStreamSynchronize((*gp)->st));
        free_graphs(*gp);
        free_allocs(*gp, 0);
        if (upload_weights(m, *gp, e)) return -1;
    }
    return qr_cuda_alloc_state(*gp, m->kv.n_slots, m->kv.max_seq, m->max_batch, e);
}

int qr_cuda_alloc_state(QrCuda *g, int n_slots, int max_seq, int max_batch, QrErr *e) {
    const QrConfig *c = &g->cfg;
    CK(cudaStreamSynchronize(g->st));
    free_graphs(g);
    free_allocs(g, g->n_weight_allocs);
    if (g->h_in) cudaFreeHost(g->h_in), g->h_in = NULL;
    if (g->h_ids) cudaFreeHost(g->h_ids), g->h_ids = NULL;
    g->n_slots = n_slots, g->max_seq = max_seq, g->kv_dim = c->n_kv_heads * c->head_dim, g->B = max_batch;
    size_t B = (size_t)g->B, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)g->kv_dim, dim = (size_t)c->dim;
    size_t xbd = qd > dim ? qd : dim, ffn = (size_t)c->ffn_dim;
    size_t kvn = (size_t)c->n_layers * g->n_slots * g->max_seq * kvd;
    char what[128];
    snprintf(what, sizeof what, "the KV cache (%d sequences x %d positions)", g->n_slots, g->max_seq);
    size_t max_in = xbd > ffn ? xbd : ffn, max_out = max_in > kvd ? max_in : kvd;
    if (dev_alloc(g, (void **)&g->kc, kvn * 4, what, e) || dev_alloc(g, (void **)&g->vc, kvn * 4, what, e) ||
        dev_alloc(g, (void **)&g->x, B * dim * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->xb, B * xbd * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->xb2, B * xbd * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->q, B * qd * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->k, B * kvd * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->v, B * kvd * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->hb, B * ffn * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->hb2, B * ffn * 4, "activations", e) ||
        dev_alloc(g, (void **)&g->att, B * c->n_heads * (size_t)g->max_seq * 4, "attention scores", e) ||
        dev_alloc(g, (void **)&g->logits, B * (size_t)c->vocab_size * 4, "logits", e) ||
        dev_alloc(g, (void **)&g->d_in, 4 * B * sizeof(int), "batch indices", e) ||
        dev_alloc(g, (void **)&g->d_ids, B * sizeof(int), "sampled ids", e) ||
        dev_alloc(g, &g->sc.xh, B * max_in * 2, "fp16/bf16 activations", e) ||
        dev_alloc(g, (void **)&g->sc.xq, B * max_in, "int8 activations", e) ||
        dev_alloc(g, (void **)&g->sc.sca, B * 4, "int8 row scales", e) ||
        dev_alloc(g, (void **)&g->sc.acc, B * max_out * 4, "int32 products", e) ||
        dev_alloc(g, (void **)&g->sc.outl_idx, (max_in + 1) * 4 + max_in, "outlier columns", e) ||
        dev_alloc(g, &g->sc.ws, 32u << 20, "the cuBLASLt workspace", e))
        return -1;
    CK(cudaMemsetAsync(g->kc, 0, kvn * 4, g->st));
    CK(cudaMemsetAsync(g->vc, 0, kvn * 4, g->st));
    CK(cudaHostAlloc((void **)&g->h_in, 4 * B * sizeof(int), cudaHostAllocDefault));
    CK(cudaHostAlloc((void **)&g->h_ids, B * sizeof(int), cudaHostAllocDefault));
    g->sc.max_n = g->B, g->sc.max_in = (int)max_in, g->sc.max_out = (int)max_out;
    g->sc.ws_bytes = 32u << 20;
    g->sc.lt = g->lt;
    g->graphs = calloc(B + 1, sizeof *g->graphs);
    if (!g->graphs) return qr_fail(e, "out of host memory");
    CK(cudaStreamSynchronize(g->st));
    return 0;
}

// Enqueues the whole forward pass of n tokens (inputs already in d_in) up to
// the logits of the n_out wanted rows in g->logits.
static int enqueue(QrCuda *g, int n, int n_out, QrErr *e) {
    const QrConfig *c = &g->cfg;
    cudaStream_t st = g->st;
    const int *tok = g->d_in, *pos = g->d_in + g->B, *seq = g->d_in + 2 * g->B, *idx = g->d_in + 3 * g->B;
    int dim = c->dim, hd = c->head_dim, kvd = g->kv_dim;
    float scale = 1.0f / sqrtf((float)hd);
    size_t lstride = (size_t)g->n_slots * g->max_seq * kvd;
    QcScratch *sc = &g->sc;
    CK(qc_embed(g->embed.fmt, g->embed.w, tok, n, dim, g->x, st));
    for (int l = 0; l < c->n_layers; l++) {
        DevLayer *L = &g->layers[l];
        CK(qc_rmsnorm(g->xb, g->x, L->attn_norm, n, dim, c->norm_eps, st));
        CK(qc_linear(&L->wq, g->xb, n, g->q, sc, st));
        CK(qc_linear(&L->wk, g->xb, n, g->k, sc, st));
        CK(qc_linear(&L->wv, g->xb, n, g->v, sc, st));
        CK(qc_rope(g->q, n, c->n_heads, hd, c->rope_dim, pos, g->inv_freq, c->rope_interleaved, st));
        CK(qc_rope(g->k, n, c->n_kv_heads, hd, c->rope_dim, pos, g->inv_freq, c->rope_interleaved, st));
        float *kc = g->kc + l * lstride, *vc = g->vc + l * lstride;
        CK(qc_kv_store(kc, vc, g->k, g->v, n, pos, seq, g->max_seq, kvd, st));
        CK(qc_attention(g->q, g->xb, n, c->n_heads, c->n_kv_heads, hd, scale, kc, vc, g->max_seq, kvd, pos, seq,
                        c->sliding_window, g->att, st));
        CK(qc_linear(&L->wo, g->xb, n, g->xb2, sc, st));
        CK(qc_add(g->x, g->xb2, (size_t)n * dim, st));
        CK(qc_rmsnorm(g->xb, g->x, L->ffn_norm, n, dim, c->norm_eps, st));
        CK(qc_linear(&L->gate, g->xb, n, g->hb, sc, st));
        CK(qc_linear(&L->up, g->xb, n, g->hb2, sc, st));
        CK(qc_silu_mul(g->hb, g->hb2, (size_t)n * c->ffn_dim, st));
        CK(qc_linear(&L->down, g->hb, n, g->xb2, sc, st));
        CK(qc_add(g->x, g->xb2, (size_t)n * dim, st));
    }
    if (!n_out) return 0;
    CK(qc_gather_rows(g->x, idx, n_out, dim, g->xb2, st));
    CK(qc_rmsnorm(g->xb, g->xb2, g->norm, n_out, dim, c->norm_eps, st));
    CK(qc_linear(&g->head, g->xb, n_out, g->logits, sc, st));
    return 0;
}

// Runs the batch; leaves the logits of the wanted rows in g->logits. Returns n_out.
static int run(QrCuda *g, const QrBatch *b, int *n_out, QrErr *e) {
    int n = b->n, k = 0;
    if (n > g->B) return qr_fail(e, "CUDA forward: %d tokens exceed the reserved batch of %d", n, g->B);
    for (int i = 0; i < n; i++) {
        g->h_in[i] = b->tokens[i];
        g->h_in[g->B + i] = b->pos[i];
        g->h_in[2 * g->B + i] = b->seq[i];
        if (b->want_logits[i]) g->h_in[3 * g->B + k++] = i;
    }
    *n_out = k;
    CK(cudaMemcpyAsync(g->d_in, g->h_in, 4 * (size_t)g->B * sizeof(int), cudaMemcpyHostToDevice, g->st));
    if (!g->use_graphs || k != n) return enqueue(g, n, k, e);
    // Decode-shaped batch (every row wanted): replay the graph of this n,
    // capturing it on first use. Inputs live in fixed device buffers, so the
    // graph is valid for any tokens / positions / slots.
    if (!g->graphs[n]) {
        cudaGraph_t graph;
        CK(cudaStreamBeginCapture(g->st, cudaStreamCaptureModeThreadLocal));
        int rc = enqueue(g, n, k, e);
        cudaError_t r = cudaStreamEndCapture(g->st, &graph);
        if (rc) {
            if (r == cudaSuccess) cudaGraphDestroy(graph);
            return -1;
        }
        CK(r);
        r = cudaGraphInstantiate(&g->graphs[n], graph, 0);
        cudaGraphDestroy(graph);
        CK(r);
    }
    CK(cudaGraphLaunch(g->graphs[n], g->st));
    return 0;
}

int qr_cuda_forward(QrModel *m, const QrBatch *b, float *logits, QrErr *e) {
    QrCuda *g = m->cuda;
    int k;
    if (!g || !g->graphs) return qr_fail(e, "CUDA forward: no KV cache reserved");
    if (run(g, b, &k, e)) return -1;
    if (k) CK(cudaMemcpyAsync(logits, g->logits, (size_t)k * g->cfg.vocab_size * sizeof(float), cudaMemcpyDeviceToHost, g->st));
    CK(cudaStreamSynchronize(g->st));
    return 0;
}

int qr_cuda_forward_argmax(QrModel *m, const QrBatch *b, int *ids, QrErr *e) {
    return qr_cuda_step(m->cuda, b, ids, e);
}

int qr_cuda_step(QrCuda *g, const QrBatch *b, int *ids, QrErr *e) {
    int k;
    if (!g || !g->graphs) return qr_fail(e, "CUDA forward: no KV cache reserved");
    if (run(g, b, &k, e)) return -1;
    CK(qc_argmax(g->logits, k, g->cfg.vocab_size, g->d_ids, g->st));
    CK(cudaMemcpyAsync(g->h_ids, g->d_ids, (size_t)k * sizeof(int), cudaMemcpyDeviceToHost, g->st));
    CK(cudaStreamSynchronize(g->st));
    memcpy(ids, g->h_ids, (size_t)k * sizeof(int));
    return 0;
}

int qr_cuda_sync_weights(QrModel *m, QrErr *e) {
    QrCuda *g = m->cuda;
    if (!g || !g->uploaded) return 0; // uploaded at the next reserve
    CK(cudaStreamSynchronize(g->st));
    free_graphs(g);
    free_allocs(g, 0);
    free(g->layers), g->layers = NULL;
    free(g->map), g->map = NULL, g->n_map = 0;
    g->weight_bytes = 0;
    g->uploaded = 0;
    g->n_weight_allocs = 0;
    return qr_cuda_reserve(m, e);
}

int qr_cuda_noise(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                  int64_t *n_kernel, QrErr *e) {
    QrCuda *g = m->cuda;
    int64_t done = 0, kern = 0;
    if (!g || !g->uploaded) return qr_fail(e, "CUDA noise: the weights are not on the device yet (reserve first)");
    CK(cudaStreamSynchronize(g->st));
    for (int i = 0; i < m->n_params; i++) {
        const QrParam *p = &m->params[i];
        QrNoiseSite site = qr_noise_site(s->target, p->block_linear, model_quantized);
        if (site == QR_NOISE_SKIP) continue;
        const void *key = p->lin ? (const void *)p->lin : (const void *)p->vec;
        DevMap *d = NULL;
        for (int j = 0; j < g->n_map && !d; j++)
            if (g->map[j].host == key) d = &g->map[j];
        if (!d) continue; // not used by the device forward
        QrNoiseKey k;
        qr_noise_key(&k, s, p->name);
        QcNoise qk = {{k.key[0], k.key[1]}, (int)k.dist, k.level};
        if (site == QR_NOISE_BEFORE_QUANT)
            return qr_fail(e, "%s: pre-quant noise must be applied on the host before quantizing", p->name);
        if (site == QR_NOISE_IN_KERNEL) {
            if (!d->lin || d->fmt <= QC_BF16)
                return qr_fail(e, "%s: %s noise goes into the quantized kernels: quantize the model first", p->name,
                               qr_noise_target_name(s->target));
            d->lin->has_noise = sign >= 0;
            d->lin->noise = qk;
            kern += (int64_t)d->n;
            continue;
        }
        if (!d->dev)
            return qr_fail(e, "%s: %s noise needs the float weights, the layer is %s on the device", p->name,
                           qr_noise_target_name(s->target), d->fmt == QC_NF4 ? "nf4" : "int8");
        CK(qc_noise_add(&qk, 0, d->dev, d->fmt, d->n, sign, g->st));
        done += (int64_t)d->n;
    }
    // Tied head: it shares the embedding's buffer; its QcLinear copy needs no change.
    free_graphs(g); // kernels parameters (noise keys) are baked into the graphs
    g->graphs = calloc((size_t)g->B + 1, sizeof *g->graphs);
    if (!g->graphs) return qr_fail(e, "out of host memory");
    // The per-layer QcLinear structs were modified in place; the tied head copies the embedding's.
    CK(cudaStreamSynchronize(g->st));
    if (n_elems) *n_elems = done;
    if (n_kernel) *n_kernel = kern;
    return 0;
}

int qr_cuda_read_kv(const QrModel *m, int layer, float *k, float *v, QrErr *e) {
    const QrCuda *g = m->cuda;
    if (!g || !g->kc) return qr_fail(e, "CUDA: no KV cache reserved");
    size_t n = (size_t)g->n_slots * g->max_seq * g->kv_dim;
    CK(cudaStreamSynchronize(g->st));
    CK(cudaMemcpy(k, g->kc + layer * n, n * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(v, g->vc + layer * n, n * 4, cudaMemcpyDeviceToHost));
    return 0;
}

void qr_cuda_free(QrModel *m) {
    qr_cuda_destroy(m->cuda);
    m->cuda = NULL;
}

void qr_cuda_destroy(QrCuda *g) {
    if (!g) return;
    if (g->st) cudaStreamSynchronize(g->st);
    free_graphs(g);
    free_allocs(g, 0);
    if (g->h_in) cudaFreeHost(g->h_in);
    if (g->h_ids) cudaFreeHost(g->h_ids);
    if (g->lt) cublasLtDestroy(g->lt);
    if (g->st) cudaStreamDestroy(g->st);
    free(g->allocs);
    free(g->layers);
    free(g->map);
    free(g);
}

size_t qr_cuda_weight_bytes(const QrModel *m) { return m->cuda ? ((const QrCuda *)m->cuda)->weight_bytes : 0; }
const char *qr_cuda_device_name(const QrModel *m) { return m->cuda ? ((const QrCuda *)m->cuda)->name : "none"; }

size_t qr_cuda_bytes_per_token(const QrCuda *g) { return g->bytes_per_token; }

// ---- random-weight models for benchmarks ----
static int rand_linear(QrCuda *g, int fmt, int out, int in, uint64_t seed, float *tmp, QcLinear *d, QrErr *e) {
    memset(d, 0, sizeof *d);
    d->fmt = fmt, d->out = out, d->in = in;
    size_t n = (size_t)out * in;
    void *p;
    if (fmt <= QC_BF16) {
        if (dev_alloc(g, &p, n * (fmt == QC_F32 ? 4 : 2), "random weights", e)) return -1;
        CK(qc_fill_normal_f32(tmp, n, 0.02f, seed, g->st));
        CK(qc_convert_f32(tmp, p, fmt, n, g->st));
        d->w = p;
        g->bytes_per_token += n * (fmt == QC_F32 ? 4 : 2);
        return 0;
    }
    if (fmt == QC_INT8) {
        void *s;
        if (dev_alloc(g, &p, n, "random int8 weights", e) || dev_alloc(g, &s, (size_t)out * 4, "SCB", e)) return -1;
        CK(qc_fill_random(p, n, seed, g->st)); // random codes (-128 included: harmless for timing)
        float *scb = malloc((size_t)out * 4);
        if (!scb) return qr_fail(e, "out of host memory");
        for (int i = 0; i < out; i++) scb[i] = 0.05f; // a plausible row absmax
        cudaError_t r = cudaMemcpy(s, scb, (size_t)out * 4, cudaMemcpyHostToDevice);
        free(scb);
        CK(r);
        d->w = p, d->scb = s;
        d->threshold = 6.0f;
        g->bytes_per_token += n + (size_t)out * 4;
        return 0;
    }
    // NF4 with double quant: random codes; scales of a plausible size.
    size_t nb = (n + 63) / 64, nb2 = (nb + 255) / 256;
    void *a, *b2, *c1, *c2;
    float code2[256], ones[256];
    qr_bnb_dynamic_map(code2);
    for (int i = 0; i < 256; i++) ones[i] = 0.01f;
    if (dev_alloc(g, &p, (n + 1) / 2, "random NF4 codes", e) || dev_alloc(g, &a, nb, "NF4 absmax codes", e) ||
        dev_alloc(g, &b2, nb2 * 4, "NF4 nested absmax", e) || dev_alloc(g, &c1, 64, "NF4 code", e) ||
        dev_alloc(g, &c2, 1024, "NF4 nested code", e))
        return -1;
    CK(qc_fill_random(p, (n + 1) / 2, seed, g->st));
    CK(qc_fill_random(a, nb, seed ^ 0x55, g->st));
    for (size_t i = 0; i < nb2; i += 256)
        CK(cudaMemcpyAsync((float *)b2 + i, ones, (nb2 - i < 256 ? nb2 - i : 256) * 4, cudaMemcpyHostToDevice, g->st));
    CK(cudaMemcpyAsync(c1, qr_nf4_code, 64, cudaMemcpyHostToDevice, g->st));
    CK(cudaMemcpyAsync(c2, code2, 1024, cudaMemcpyHostToDevice, g->st));
    CK(cudaStreamSynchronize(g->st));
    d->w = p, d->absmax_q = a, d->absmax2 = b2, d->code = c1, d->code2 = c2;
    d->offset = 0.02f;
    g->bytes_per_token += (n + 1) / 2 + nb + nb2 * 4;
    return 0;
}

int qr_cuda_random_model(QrCuda **out, const QrConfig *c, int fmt, uint64_t seed, QrErr *e) {
    *out = NULL;
    if (init(out, e)) return -1;
    QrCuda *g = *out;
    g->cfg = *c;
    g->layers = calloc((size_t)c->n_layers, sizeof *g->layers);
    float *ones = malloc((size_t)c->dim * 4), *fr = calloc((size_t)c->rope_dim / 2 + 1, 4);
    if (!g->layers || !ones || !fr) {
        free(ones), free(fr);
        return qr_fail(e, "out of host memory");
    }
    for (int i = 0; i < c->dim; i++) ones[i] = 1.0f;
    qr_rope_freqs(fr, c->rope_dim, c->rope_theta, (int)c->rope_type, c->rope_factor, c->rope_low_freq_factor,
                  c->rope_high_freq_factor, c->rope_orig_max_pos);
    size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t big = (size_t)c->vocab_size * c->dim, f = (size_t)c->ffn_dim * c->dim;
    if (f > big) big = f;
    float *tmp;
    int rc = dev_alloc(g, (void **)&tmp, big * 4, "random-weight staging", e);
    uint64_t sd = seed;
    if (!rc) rc = rand_linear(g, QC_BF16, c->vocab_size, c->dim, ++sd, tmp, &g->embed, e);
    g->bytes_per_token = (size_t)c->dim * 2; // one embedding row
    for (int l = 0; l < c->n_layers && !rc; l++) {
        DevLayer *L = &g->layers[l];
        rc = upload(g, (void **)&L->attn_norm, ones, (size_t)c->dim * 4, "norm", e) ||
             upload(g, (void **)&L->ffn_norm, ones, (size_t)c->dim * 4, "norm", e) ||
             rand_linear(g, fmt, (int)qd, c->dim, ++sd, tmp, &L->wq, e) ||
             rand_linear(g, fmt, (int)kvd, c->dim, ++sd, tmp, &L->wk, e) ||
             rand_linear(g, fmt, (int)kvd, c->dim, ++sd, tmp, &L->wv, e) ||
             rand_linear(g, fmt, c->dim, (int)qd, ++sd, tmp, &L->wo, e) ||
             rand_linear(g, fmt, c->ffn_dim, c->dim, ++sd, tmp, &L->gate, e) ||
             rand_linear(g, fmt, c->ffn_dim, c->dim, ++sd, tmp, &L->up, e) ||
             rand_linear(g, fmt, c->dim, c->ffn_dim, ++sd, tmp, &L->down, e);
        g->bytes_per_token += (size_t)c->dim * 8;
    }
    if (!rc) rc = upload(g, (void **)&g->norm, ones, (size_t)c->dim * 4, "norm", e);
    if (!rc && c->tie_embeddings) g->head = g->embed, g->bytes_per_token += (size_t)c->vocab_size * c->dim * 2;
    else if (!rc) rc = rand_linear(g, QC_BF16, c->vocab_size, c->dim, ++sd, tmp, &g->head, e);
    if (!rc) rc = upload(g, (void **)&g->inv_freq, fr, (size_t)(c->rope_dim / 2 + 1) * 4, "rope frequencies", e);
    free(ones), free(fr);
    if (rc) return -1;
    CK(cudaStreamSynchronize(g->st));
    g->n_weight_allocs = g->n_allocs;
    g->uploaded = 1;
    return 0;
}

const QcLinear *qr_cuda_layer_linear(const QrCuda *g, int layer, int which) {
    if (!g || !g->layers || layer < 0 || layer >= g->cfg.n_layers) return NULL;
    const DevLayer *L = &g->layers[layer];
    const QcLinear *t[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    return which >= 0 && which < 7 ? t[which] : NULL;
}
