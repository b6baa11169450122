#include "runtime/archutil.h"
#include "kernels/ops.h"
#include "runtime/qlinear.h"
#include "util/bigalloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- config.json ----

static int rope_scaling(const json_t *rs, const char *file, QrConfig *c, QrErr *e) {
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

int qr_hf_rope(const json_t *j, const char *file, const char *family, double def_theta, QrConfig *c, QrErr *e) {
    const json_t *rp = json_object_get(j, "rope_parameters");
    const json_t *rs = json_object_get(j, "rope_scaling");
    c->rope_type = QR_ROPE_DEFAULT;
    if (rp && !json_is_null(rp)) {
        if (!json_is_object(rp)) return qr_fail(e, "%s: \"rope_parameters\" is not an object", file);
        if (qr_json_num(rp, "rope_theta", 0, def_theta, &c->rope_theta, file, e)) return -1;
        if (rope_scaling(rp, file, c, e)) return -1;
        double prf;
        if (qr_json_num(rp, "partial_rotary_factor", 0, 1.0, &prf, file, e)) return -1;
        if (prf != 1.0)
            return qr_fail(e, "%s: partial_rotary_factor %g is not supported for %s", file, prf, family);
        return 0;
    }
    if (qr_json_num(j, "rope_theta", 0, def_theta, &c->rope_theta, file, e)) return -1;
    if (rs && !json_is_null(rs)) {
        if (!json_is_object(rs)) return qr_fail(e, "%s: \"rope_scaling\" is not an object", file);
        if (rope_scaling(rs, file, c, e)) return -1;
    }
    return 0;
}

int qr_hf_special_tokens(const json_t *j, const char *file, QrConfig *c, QrErr *e) {
    long long v;
    if (qr_json_int(j, "bos_token_id", 0, -1, -1, 1 << 22, &v, file, e)) return -1;
    c->bos_id = (int)v;
    c->n_eos = 0;
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
    return 0;
}

int qr_hf_dtype(const json_t *j, const char *file, QrConfig *c, QrErr *e) {
    const char *td;
    if (qr_json_str(j, "torch_dtype", &td, file, e)) return -1;
    if (!td && qr_json_str(j, "dtype", &td, file, e)) return -1;
    c->dtype = td && !strcmp(td, "bfloat16") ? QR_DT_BF16 : td && !strcmp(td, "float16") ? QR_DT_F16 : QR_DT_F32;
    return 0;
}

int qr_hf_bool(const json_t *j, const char *key, int def, int *out, const char *file, QrErr *e) {
    const json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return qr_fail(e, "%s: \"%s\" is not a boolean", file, key);
    *out = json_is_true(v);
    return 0;
}

int qr_hf_act(const json_t *j, const char *key, QrAct def, unsigned allowed, const char *family, QrAct *out,
              const char *file, QrErr *e) {
    // transformers' ACT2FN names; gelu_new and gelu_pytorch_tanh compute the
    // same tanh approximation (gelu_new in Python ops, the other in one kernel).
    static const struct { const char *name; QrAct act; } A[] = {
        {"silu", QR_ACT_SILU}, {"swish", QR_ACT_SILU}, {"gelu", QR_ACT_GELU},
        {"gelu_new", QR_ACT_GELU_TANH}, {"gelu_pytorch_tanh", QR_ACT_GELU_TANH},
    };
    const char *s;
    if (qr_json_str(j, key, &s, file, e)) return -1;
    if (!s) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < sizeof A / sizeof *A; i++)
        if (!strcmp(s, A[i].name) && (allowed >> A[i].act & 1)) {
            *out = A[i].act;
            return 0;
        }
    char list[128] = "";
    size_t o = 0;
    for (size_t i = 0; i < sizeof A / sizeof *A && o < sizeof list; i++)
        if (allowed >> A[i].act & 1) o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", A[i].name);
    return qr_fail(e, "%s: %s '%s' is not supported for %s (%s)", file, key, s, family, list);
}

// ---- loading ----

int qr_arch_add_param(QrModel *m, const char *name, QrLinear *lin, float *vec, int n, int layer, int flags) {
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
    p->block_linear = !!(flags & QR_P_BLOCK);
    p->embedding = !!(flags & QR_P_EMBED);
    return 0;
}

float *qr_arch_vec(QrModel *m, const char *name, int n, int layer, QrErr *e) {
    float *v = qr_ckpt_vec(&m->ckpt, name, n, e);
    if (!v) return NULL;
    if (qr_arch_add_param(m, name, NULL, v, n, layer, 0)) {
        free(v);
        qr_fail(e, "out of memory");
        return NULL;
    }
    return v;
}

// "x.weight" -> "x.bias" (any other name: name + ".bias")
static void bias_name(char *bn, size_t n, const char *name) {
    size_t len = strlen(name);
    if (len > 7 && !strcmp(name + len - 7, ".weight")) snprintf(bn, n, "%.*s.bias", (int)(len - 7), name);
    else snprintf(bn, n, "%s.bias", name);
}

int qr_arch_linear(QrModel *m, const char *name, int rows, int cols, int bias, int layer, int flags, QrLinear *L,
                   QrErr *e) {
    const QrTensor *t = qr_ckpt_need(&m->ckpt, name, e);
    if (!t || qr_linear_load(L, &m->ckpt, t, rows, cols, e)) return -1; // float or bitsandbytes-quantized
    if (qr_arch_add_param(m, name, L, NULL, 0, layer, flags)) return qr_fail(e, "out of memory");
    if (!bias) return 0;
    char bn[128];
    bias_name(bn, sizeof bn, name);
    return (L->bias = qr_arch_vec(m, bn, rows, layer, e)) ? 0 : -1;
}

void qr_arch_each_tensor(const QrConfig *c, int n, QrSpecFn spec, void *ctx,
                         void (*fn)(void *ctx, const char *name, int ndim, const int64_t *shape)) {
    char name[128], bn[128];
    for (int w = 0; w < n; w++) {
        QrTensorSpec t = spec(c, w);
        for (int l = 0; l < (t.per_layer ? c->n_layers : 1); l++) {
            int64_t sh[2] = {t.rows, t.cols};
            snprintf(name, sizeof name, t.name, l);
            if (!t.absent) fn(ctx, name, t.cols ? 2 : 1, sh);
            if (t.bias) {
                bias_name(bn, sizeof bn, name);
                fn(ctx, bn, 1, sh);
            }
        }
    }
}

int qr_arch_load_linear(QrModel *m, QrSpecFn spec, int which, int layer, QrLinear *L, QrErr *e) {
    QrTensorSpec t = spec(&m->cfg, which);
    char name[128];
    snprintf(name, sizeof name, t.name, layer);
    return qr_arch_linear(m, name, t.rows, t.cols, t.bias, t.per_layer ? layer : -1,
                          t.per_layer ? QR_P_BLOCK : t.flags, L, e);
}

int qr_arch_load_layernorm(QrModel *m, QrSpecFn spec, int which, int layer, float **w, float **b, QrErr *e) {
    QrTensorSpec t = spec(&m->cfg, which);
    char name[128], bn[128];
    snprintf(name, sizeof name, t.name, layer);
    bias_name(bn, sizeof bn, name);
    if (!(*w = qr_arch_vec(m, name, t.rows, layer, e))) return -1;
    return (*b = qr_arch_vec(m, bn, t.rows, layer, e)) ? 0 : -1;
}

float *qr_arch_buffers(float **const ptrs[], const size_t sizes[], int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (sizes[i] + 15) / 16 * 16; // 64-byte aligned slices
    float *block = qr_alloc_lines(total * sizeof(float));
    if (!block) return NULL;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        *ptrs[i] = block + off;
        off += (sizes[i] + 15) / 16 * 16;
    }
    return block;
}

// ---- forward helpers ----

void qr_arch_gelu(QrAct act, float *a, size_t n) {
    if (act == QR_ACT_GELU) qr_gelu(a, n);
    else qr_gelu_tanh(a, n);
}

QrKVLayer qr_kv_store(QrModel *m, int l, const QrBatch *b, const float *k, const float *v) {
    size_t kvd = (size_t)m->kv.kv_dim;
    size_t layer_stride = (size_t)m->kv.n_slots * m->kv.max_seq * kvd;
    float *kc = m->kv.k + l * layer_stride, *vc = m->kv.v + l * layer_stride;
    const size_t hd = (size_t)m->cfg.head_dim, hs = (size_t)m->kv.max_seq * hd; // [slot][kv_head][pos][hd]
    for (int i = 0; i < b->n; i++)
        for (size_t h = 0; h < kvd / hd; h++) {
            const size_t off = (size_t)b->seq[i] * m->kv.max_seq * kvd + h * hs + (size_t)b->pos[i] * hd;
            memcpy(kc + off, k + i * kvd + h * hd, hd * sizeof(float));
            memcpy(vc + off, v + i * kvd + h * hd, hd * sizeof(float));
        }
    return (QrKVLayer){kc, vc, m->kv.max_seq, (int)kvd, hs, hd};
}

int qr_gather_wanted(const QrBatch *b, const float *x, int dim, float *out) {
    int n_out = 0;
    for (int i = 0; i < b->n; i++)
        if (b->want_logits[i]) {
            if (out + (size_t)n_out * dim != x + (size_t)i * dim)
                memmove(out + (size_t)n_out * dim, x + (size_t)i * dim, (size_t)dim * sizeof *out);
            n_out++;
        }
    return n_out;
}
