#include "attacks/noise_model.h"
#include <string.h>

static void noise_term(const void *ctx, const float *x, int n, int out, int in, float *y) {
    qr_noise_matmul_acc(ctx, x, n, out, in, y);
}

_Static_assert(sizeof(QrNoiseKey) <= sizeof(((QrQLinear *)0)->extra_data), "QrNoiseKey fits QrQLinear.extra_data");

const QrNoiseKey *qr_noise_kernel_key(const QrLinear *L) {
    if (!L || qr_wf_dtype(L->fmt) != QR_DT_COUNT || !L->q) return NULL;
    const QrQLinear *q = L->q;
    return q->extra == noise_term ? (const QrNoiseKey *)q->extra_ctx : NULL;
}

int qr_noise_model(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                   int64_t *n_kernel, QrErr *e) {
    int64_t done = 0, kern = 0;
    for (int i = 0; i < m->n_params; i++) {
        QrParam *p = &m->params[i];
        QrNoiseSite site = qr_noise_site(s->target, p->block_linear, model_quantized);
        int64_t n = p->lin ? (int64_t)p->lin->out * p->lin->in : p->n;
        if (site == QR_NOISE_SKIP || (!p->vec && !p->lin)) continue;
        QrNoiseKey k;
        qr_noise_key(&k, s, p->name);
        QrLinear *L = p->lin;
        int quantized = L && qr_wf_dtype(L->fmt) == QR_DT_COUNT;
        if (site == QR_NOISE_IN_KERNEL) {
            if (!quantized)
                return qr_fail(e, "%s: %s noise goes into the quantized kernels: quantize the model first",
                               p->name, qr_noise_target_name(s->target));
            QrQLinear *q = L->q;
            if (sign >= 0) {
                memcpy(q->extra_data, &k, sizeof k);
                q->extra_ctx = q->extra_data;
                q->extra = noise_term;
            } else {
                q->extra = NULL;
                q->extra_ctx = NULL;
            }
            kern += n;
            continue;
        }
        if (quantized)
            return qr_fail(e, "%s: %s noise needs the float weights, the layer is already %s (apply it before "
                              "quantizing; a checkpoint saved quantized cannot take it)",
                           p->name, qr_noise_target_name(s->target), qr_wf_name(L->fmt));
        if (p->vec) qr_noise_add_f32(&k, 0, p->vec, (size_t)p->n, sign);
        else {
            if (qr_linear_make_owned(L, e)) return -1;
            qr_noise_add(&k, 0, L->w, qr_wf_dtype(L->fmt), (size_t)n, sign);
        }
        done += n;
    }
    if (n_elems) *n_elems = done;
    if (n_kernel) *n_kernel = kern;
    return 0;
}
