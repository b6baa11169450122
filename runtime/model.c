#include "runtime/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/ops.h"
#include "runtime/sampler.h"
#include "util/bigalloc.h"
#ifdef QR_CUDA
#include "kernels/cuda/backend.h"
#endif

// ---- the architectures this build knows (issue 5 adds a line each) ----
extern const QrArch qr_arch_llama, qr_arch_codegen, qr_arch_starcoder2;
static const QrArch *const ARCHS[] = {&qr_arch_llama, &qr_arch_codegen, &qr_arch_starcoder2};
#define NARCH (int)(sizeof ARCHS / sizeof ARCHS[0])

static int in_list(const char *const *l, const char *s) {
    for (; l && *l; l++)
        if (!strcmp(*l, s)) return 1;
    return 0;
}

const QrArch *qr_arch_by_model_type(const char *mt) {
    for (int i = 0; i < NARCH; i++)
        if (in_list(ARCHS[i]->hf_model_types, mt)) return ARCHS[i];
    return NULL;
}

const QrArch *qr_arch_by_gguf(const char *ga) {
    for (int i = 0; i < NARCH; i++)
        if (in_list(ARCHS[i]->gguf_archs, ga)) return ARCHS[i];
    return NULL;
}

const char *qr_arch_list(void) {
    static char buf[256];
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < NARCH; i++)
        for (const char *const *l = ARCHS[i]->hf_model_types; *l && o < sizeof buf; l++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? ", " : "", *l);
    return buf;
}

// ---- config ----
int qr_config_read(const QrCheckpoint *ck, const QrArch **arch, QrConfig *c, QrErr *e) {
    memset(c, 0, sizeof *c);
    c->bos_id = -1;
    if (ck->kind == QR_CKPT_GGUF) {
        GgufStr s;
        if (gguf_get_str(ck->gguf, "general.architecture", &s, e)) return -1;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
        *arch = qr_arch_by_gguf(name);
        if (!*arch) return qr_fail(e, "%s: unknown architecture '%s' (supported: %s)", ck->path, name, qr_arch_list());
        snprintf(c->model_type, sizeof c->model_type, "%.31s", name);
        snprintf(c->arch, sizeof c->arch, "%s", (*arch)->name);
        if ((*arch)->config_gguf(ck->gguf, c, e)) return -1;
        return qr_config_check(c, ck->path, e);
    }
    const char *file = ck->config_path ? ck->config_path : ck->path;
    const char *mt;
    if (qr_json_str(ck->config, "model_type", &mt, file, e)) return -1;
    if (!mt) return qr_fail(e, "%s: no \"model_type\" (cannot tell the architecture)", file);
    *arch = qr_arch_by_model_type(mt);
    if (!*arch) return qr_fail(e, "%s: unknown architecture model_type '%s' (supported: %s)", file, mt, qr_arch_list());
    snprintf(c->model_type, sizeof c->model_type, "%.31s", mt);
    snprintf(c->arch, sizeof c->arch, "%s", (*arch)->name);
    if ((*arch)->config_hf(ck->config, file, c, e)) return -1;
    return qr_config_check(c, file, e);
}

int qr_config_check(const QrConfig *c, const char *file, QrErr *e) {
    // Bounds keep every size product far from overflow and catch typos.
    struct { const char *k; int v, lo, hi; } F[] = {
        {"hidden_size", c->dim, 1, 1 << 16},        {"num_hidden_layers", c->n_layers, 1, 1024},
        {"num_attention_heads", c->n_heads, 1, 1024}, {"num_key_value_heads", c->n_kv_heads, 1, 1024},
        {"head_dim", c->head_dim, 2, 1024},        {"intermediate_size", c->ffn_dim, 1, 1 << 20},
        {"vocab_size", c->vocab_size, 1, 1 << 22}, {"max_position_embeddings", c->max_pos, 1, 1 << 24},
        {"rotary dims", c->rope_dim, 0, 1024},
    };
    for (size_t i = 0; i < sizeof F / sizeof *F; i++)
        if (F[i].v < F[i].lo || F[i].v > F[i].hi)
            return qr_fail(e, "%s: %s = %d outside [%d, %d]", file, F[i].k, F[i].v, F[i].lo, F[i].hi);
    if (c->n_heads % c->n_kv_heads)
        return qr_fail(e, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", file, c->n_heads,
                       c->n_kv_heads);
    if (c->rope_dim % 2 || c->rope_dim > c->head_dim)
        return qr_fail(e, "%s: rotary dims %d must be even and at most head_dim %d", file, c->rope_dim, c->head_dim);
    if (!(c->norm_eps > 0) || !(c->rope_theta > 0))
        return qr_fail(e, "%s: norm epsilon and rope_theta must be positive", file);
    if (c->rope_type != QR_ROPE_DEFAULT && !(c->rope_factor > 0))
        return qr_fail(e, "%s: rope scaling factor must be positive", file);
    if (c->rope_type == QR_ROPE_LLAMA3 &&
        (!(c->rope_high_freq_factor > c->rope_low_freq_factor) || !(c->rope_low_freq_factor > 0) ||
         c->rope_orig_max_pos <= 0))
        return qr_fail(e, "%s: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and "
                          "original_max_position_embeddings > 0", file);
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] < 0 || c->eos_ids[i] >= c->vocab_size)
            return qr_fail(e, "%s: eos token id %d outside the vocabulary (%d)", file, c->eos_ids[i], c->vocab_size);
    return 0;
}

// ---- loading ----
int qr_model_from_checkpoint(QrModel **out, QrCheckpoint *ck, const QrLoadOpts *opts, QrErr *e) {
    *out = NULL;
    QrModel *m = calloc(1, sizeof *m);
    if (!m) {
        qr_ckpt_close(ck);
        return qr_fail(e, "out of memory");
    }
    m->ckpt = *ck;
    memset(ck, 0, sizeof *ck);
    QrLoadOpts def = {0};
    if (!opts) opts = &def;
#ifndef QR_CUDA
    if (opts->device != QR_DEVICE_CPU) {
        qr_fail(e, "%s: this build has no CUDA backend (build with make CUDA=1)", m->ckpt.path);
        goto fail;
    }
#endif
    m->device = opts->device;
    if (qr_config_read(&m->ckpt, &m->arch, &m->cfg, e)) goto fail;
    m->inv_freq = calloc((size_t)m->cfg.rope_dim / 2 + 1, sizeof *m->inv_freq);
    if (!m->inv_freq) {
        qr_fail(e, "out of memory");
        goto fail;
    }
    qr_rope_freqs(m->inv_freq, m->cfg.rope_dim, m->cfg.rope_theta, (int)m->cfg.rope_type, m->cfg.rope_factor,
                  m->cfg.rope_low_freq_factor, m->cfg.rope_high_freq_factor, m->cfg.rope_orig_max_pos);
    if (m->arch->load(m, &m->ckpt, e)) goto fail;
    if (opts->convert)
        for (int i = 0; i < m->n_params; i++) {
            QrLinear *L = m->params[i].lin;
            if (L && qr_wf_dtype(L->fmt) != QR_DT_COUNT && qr_linear_convert(L, opts->weight_format, e)) goto fail;
        }
    if (qr_model_quantize(m, &opts->quant, e)) goto fail;
#ifdef QR_CUDA
    if (m->device == QR_DEVICE_CUDA && qr_cuda_check(m, e)) goto fail;
#endif
    *out = m;
    return 0;
fail:
    qr_model_free(m);
    return -1;
}

int qr_model_load(QrModel **out, const char *path, const QrLoadOpts *opts, QrErr *e) {
    QrCheckpoint ck;
    *out = NULL;
    if (qr_ckpt_open(&ck, path, e)) return -1;
    return qr_model_from_checkpoint(out, &ck, opts, e);
}

static void kv_free(QrKVCache *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->len);
    memset(kv, 0, sizeof *kv);
}

int qr_model_reserve(QrModel *m, int n_slots, int max_seq, int max_batch, QrErr *e) {
    const QrConfig *c = &m->cfg;
    if (n_slots < 1 || max_seq < 1 || max_batch < 1)
        return qr_fail(e, "reserve: slots, sequence length and batch must be positive");
    if (max_seq > c->max_pos) max_seq = c->max_pos;
    kv_free(&m->kv);
    int kv_dim = c->n_kv_heads * c->head_dim;
    size_t n = (size_t)c->n_layers * n_slots * max_seq * kv_dim;
#ifdef QR_CUDA
    if (m->device == QR_DEVICE_CUDA) { // the cache lives on the device
        m->kv.len = calloc((size_t)n_slots, sizeof(int));
        if (!m->kv.len) return qr_fail(e, "out of memory");
        m->kv.n_layers = c->n_layers, m->kv.n_slots = n_slots, m->kv.max_seq = max_seq, m->kv.kv_dim = kv_dim;
        m->max_batch = max_batch;
        return qr_cuda_reserve(m, e);
    }
#endif
    m->kv.k = qr_alloc_weights(n * sizeof(float)); // read like the weights, once per token and layer
    m->kv.v = qr_alloc_weights(n * sizeof(float));
    m->kv.len = calloc((size_t)n_slots, sizeof(int));
    if (!m->kv.k || !m->kv.v || !m->kv.len) {
        kv_free(&m->kv);
        return qr_fail(e, "out of memory for a KV cache of %d sequences x %d positions (%.1f MiB)", n_slots, max_seq,
                       2.0 * n * 4 / 1048576.0);
    }
    m->kv.n_layers = c->n_layers;
    m->kv.n_slots = n_slots;
    m->kv.max_seq = max_seq;
    m->kv.kv_dim = kv_dim;
    m->max_batch = max_batch;
    return m->arch->alloc_state(m, e);
}

void qr_model_clear_seq(QrModel *m, int slot) {
    if (slot >= 0 && slot < m->kv.n_slots) m->kv.len[slot] = 0;
}

// The common body of qr_model_forward / qr_model_forward_ids: exactly one of
// logits (copy the wanted rows' logits) and ids (their argmax) is non-NULL.
static int forward_impl(QrModel *m, const QrBatch *b, float *logits, int *ids, QrErr *e);

int qr_model_forward(QrModel *m, const QrBatch *b, float *logits, QrErr *e) {
    return forward_impl(m, b, logits, NULL, e);
}

int qr_model_forward_ids(QrModel *m, const QrBatch *b, int *ids, QrErr *e) {
    return forward_impl(m, b, NULL, ids, e);
}

static int chunk_forward(QrModel *m, const QrBatch *sub, int n_out, float *logits, int *ids, QrErr *e) {
#ifdef QR_CUDA
    if (m->device == QR_DEVICE_CUDA)
        return ids ? qr_cuda_forward_argmax(m, sub, ids, e) : qr_cuda_forward(m, sub, logits, e);
#endif
    if (logits) return m->arch->forward(m, sub, logits) ? qr_fail(e, "forward failed") : 0;
    size_t vocab = (size_t)m->cfg.vocab_size;
    float *lg = malloc((size_t)(n_out ? n_out : 1) * vocab * sizeof *lg);
    if (!lg) return qr_fail(e, "out of memory for %d rows of logits", n_out);
    int rc = m->arch->forward(m, sub, lg);
    for (int i = 0; i < n_out && !rc; i++) ids[i] = qr_argmax(lg + (size_t)i * vocab, (int)vocab);
    free(lg);
    return rc ? qr_fail(e, "forward failed") : 0;
}

static int forward_impl(QrModel *m, const QrBatch *b, float *logits, int *ids, QrErr *e) {
    if (!m->kv.len) return qr_fail(e, "forward: no KV cache reserved (qr_model_reserve)");
    // Validate everything first: a bad id must not index out of bounds.
    for (int i = 0; i < b->n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= m->cfg.vocab_size)
            return qr_fail(e, "token id %d outside the vocabulary (0..%d)", b->tokens[i], m->cfg.vocab_size - 1);
        if (b->seq[i] < 0 || b->seq[i] >= m->kv.n_slots)
            return qr_fail(e, "sequence slot %d outside the KV cache (%d slots)", b->seq[i], m->kv.n_slots);
        if (b->pos[i] < 0 || b->pos[i] >= m->kv.max_seq)
            return qr_fail(e, "position %d outside the context (%d positions)", b->pos[i], m->kv.max_seq);
    }
    uint8_t last_only[1] = {1};
    size_t vocab = (size_t)m->cfg.vocab_size;
    for (int s = 0; s < b->n; s += m->max_batch) {
        QrBatch sub = *b;
        sub.n = b->n - s < m->max_batch ? b->n - s : m->max_batch;
        sub.tokens += s;
        sub.pos += s;
        sub.seq += s;
        uint8_t *want = NULL;
        if (b->want_logits) sub.want_logits += s;
        else {
            // only the batch's last token: it is in the last chunk
            want = calloc((size_t)sub.n, 1);
            if (!want) return qr_fail(e, "out of memory");
            if (s + sub.n == b->n) want[sub.n - 1] = last_only[0];
            sub.want_logits = want;
        }
        int n_out = 0;
        for (int i = 0; i < sub.n; i++) n_out += sub.want_logits[i] != 0;
        int rc = chunk_forward(m, &sub, n_out, logits, ids, e);
        free(want);
        if (rc) return -1;
        if (logits) logits += (size_t)n_out * vocab;
        else ids += n_out;
        for (int i = 0; i < sub.n; i++)
            if (m->kv.len[sub.seq[i]] < sub.pos[i] + 1) m->kv.len[sub.seq[i]] = sub.pos[i] + 1;
    }
    return 0;
}

void qr_model_free(QrModel *m) {
    if (!m) return;
#ifdef QR_CUDA
    qr_cuda_free(m);
#endif
    if (m->arch && m->arch->free) m->arch->free(m);
    free(m->params);
    kv_free(&m->kv);
    free(m->inv_freq);
    qr_ckpt_close(&m->ckpt);
    free(m);
}

// ---- sizes ----
static void count_fn(void *ctx, const char *name, int ndim, const int64_t *shape) {
    (void)name;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    *(int64_t *)ctx += n;
}

int64_t qr_model_n_params(const QrModel *m) {
    int64_t n = 0;
    m->arch->each_tensor(&m->cfg, QR_CKPT_HF, &n, count_fn);
    return n;
}

size_t qr_model_weight_bytes(const QrModel *m) {
    size_t b = 0;
    for (int i = 0; i < m->n_params; i++) {
        const QrParam *p = &m->params[i];
        if (p->lin) b += qr_linear_bytes(p->lin) - (p->lin->bias ? (size_t)p->lin->out * 4 : 0);
        else b += (size_t)p->n * 4;
    }
    return b;
}

size_t qr_model_bytes_per_token(const QrModel *m) {
    // Everything is read once per decoded token except the embedding table,
    // of which one row is read (unless it is also the output head).
    size_t b = qr_model_weight_bytes(m);
    for (int i = 0; i < m->n_params; i++) {
        const QrParam *p = &m->params[i];
        if (p->lin && p->embedding && !m->cfg.tie_embeddings) {
            size_t all = qr_linear_bytes(p->lin);
            b -= all - all / (size_t)p->lin->out;
        }
    }
    return b;
}

// ---- random checkpoints ----
typedef struct {
    QrCheckpoint *ck;
    QrDType dt;
    float std;
    uint64_t s;
    int rc;
    QrErr *e;
} RandCtx;

static inline uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Sum of 4 uniforms, rescaled: close enough to a normal for random weights
// and much cheaper than Box-Muller for 100M+ values.
static inline float approx_normal(uint64_t *s) {
    uint64_t r = splitmix(s);
    float u = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) + (float)(r >> 48);
    return (u / 65536.0f - 2.0f) * 1.7320508f; // variance of the sum of 4 U(0,1) is 1/3
}

static void rand_fn(void *ctx, const char *name, int ndim, const int64_t *shape) {
    RandCtx *r = ctx;
    if (r->rc) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t es = qr_dtype_size(r->dt);
    void *buf = qr_alloc_weights((size_t)n * es);
    if (!buf) {
        r->rc = qr_fail(r->e, "out of memory for random tensor '%s'", name);
        return;
    }
    uint64_t s = r->s ^ (uint64_t)n;
    for (const char *p = name; *p; p++) s = s * 131 + (uint8_t)*p; // per-tensor stream
    for (int64_t i = 0; i < n; i++) {
        float v = approx_normal(&s) * r->std + (ndim == 1 ? 1.0f : 0.0f);
        if (r->dt == QR_DT_F32) ((float *)buf)[i] = v;
        else if (r->dt == QR_DT_BF16) ((uint16_t *)buf)[i] = qr_f32_to_bf16(v);
        else ((uint16_t *)buf)[i] = qr_f32_to_f16(v);
    }
    r->rc = qr_ckpt_add(r->ck, name, r->dt, ndim, shape, buf, r->e);
}

int qr_ckpt_random(QrCheckpoint *ck, json_t *config_json, QrDType dtype, float std, uint64_t seed, QrErr *e) {
    qr_ckpt_init_memory(ck, config_json, "(random weights)");
    const QrArch *arch;
    QrConfig c;
    RandCtx r = {ck, dtype, std, seed, 0, e};
    if (dtype != QR_DT_F32 && dtype != QR_DT_BF16 && dtype != QR_DT_F16)
        r.rc = qr_fail(e, "random weights: dtype %s not supported", qr_dtype_name(dtype));
    else if (qr_config_read(ck, &arch, &c, e)) r.rc = -1;
    else arch->each_tensor(&c, QR_CKPT_HF, &r, rand_fn);
    if (!r.rc) r.rc = qr_ckpt_finish(ck, e);
    if (r.rc) qr_ckpt_close(ck);
    return r.rc;
}
