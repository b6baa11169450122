#include "attacks/noise_model.h"
#include <stdlib.h>

// w[0..n) in format fmt (f32/f16/bf16) += sign * noise(start + j).
static void add_u16(const QrNoiseKey *k, uint16_t *w, size_t n, int sign, int bf16) {
    const size_t CH = 4096;
    size_t nch = (n + CH - 1) / CH;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nch; c++) {
        float buf[4096];
        size_t off = c * CH, len = n - off < CH ? n - off : CH;
        qr_noise_fill(k, off, len, buf);
        for (size_t j = 0; j < len; j++) {
            float v = bf16 ? qr_bf16_to_f32(w[off + j]) : qr_f16_to_f32(w[off + j]);
            v = sign >= 0 ? v + buf[j] : v - buf[j];
            w[off + j] = bf16 ? qr_f32_to_bf16(v) : qr_f32_to_f16(v);
        }
    }
}

int qr_noise_model(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                   int64_t *n_deferred, QrErr *e) {
    int64_t done = 0, deferred = 0;
    for (int i = 0; i < m->n_params; i++) {
        QrParam *p = &m->params[i];
        QrNoiseSite site = qr_noise_site(s->target, p->block_linear, model_quantized);
        int64_t n = p->lin ? (int64_t)p->lin->out * p->lin->in : p->n;
        if (site == QR_NOISE_SKIP) continue;
        if (site != QR_NOISE_IN_PLACE) {
            deferred += n;
            continue;
        }
        QrNoiseKey k;
        qr_noise_key(&k, s, p->name);
        if (p->vec) {
            qr_noise_add_f32(&k, 0, p->vec, (size_t)p->n, sign);
        } else if (p->lin) {
            QrLinear *L = p->lin;
            if (qr_wf_dtype(L->fmt) == QR_DT_COUNT)
                return qr_fail(e, "%s: weight noise in place needs float weights, the layer is %s", p->name,
                               qr_wf_name(L->fmt));
            if (qr_linear_make_owned(L, e)) return -1;
            if (L->fmt == QR_WF_F32) qr_noise_add_f32(&k, 0, L->w, (size_t)n, sign);
            else add_u16(&k, L->w, (size_t)n, sign, L->fmt == QR_WF_BF16);
        } else continue;
        done += n;
    }
    if (n_elems) *n_elems = done;
    if (n_deferred) *n_deferred = deferred;
    return 0;
}
