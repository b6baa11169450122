#include "attacks/noise_model.h"

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
            qr_noise_add(&k, 0, L->w, qr_wf_dtype(L->fmt), (size_t)n, sign);
        } else continue;
        done += n;
    }
    if (n_elems) *n_elems = done;
    if (n_deferred) *n_deferred = deferred;
    return 0;
}
