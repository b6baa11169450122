#include "runtime/linear.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/gemm.h"
#include "runtime/qlinear.h"
#include "util/bigalloc.h"

QrDType qr_wf_dtype(QrWeightFormat f) {
    switch (f) {
    case QR_WF_F32: return QR_DT_F32;
    case QR_WF_F16: return QR_DT_F16;
    case QR_WF_BF16: return QR_DT_BF16;
    default: return QR_DT_COUNT;
    }
}

int qr_wf_from_dtype(QrDType t, QrWeightFormat *f) {
    switch (t) {
    case QR_DT_F32: *f = QR_WF_F32; return 0;
    case QR_DT_F16: *f = QR_WF_F16; return 0;
    case QR_DT_BF16: *f = QR_WF_BF16; return 0;
    default: return -1;
    }
}

const char *qr_wf_name(QrWeightFormat f) {
    static const char *N[] = {"f32", "f16", "bf16", "nf4", "int8"};
    return (unsigned)f < sizeof N / sizeof *N ? N[f] : "?";
}

size_t qr_linear_bytes(const QrLinear *L) {
    size_t b = L->bias ? (size_t)L->out * 4 : 0;
    QrDType dt = qr_wf_dtype(L->fmt);
    if (dt != QR_DT_COUNT) return b + (size_t)L->out * L->in * qr_dtype_size(dt);
    return b + qr_qlinear_bytes(L);
}

static void add_bias(const QrLinear *L, int n, float *y) {
    if (L->bias)
        for (int r = 0; r < n; r++) {
            float *yr = y + (size_t)r * L->out;
            for (int c = 0; c < L->out; c++) yr[c] += L->bias[c];
        }
}

void qr_linear_forward(const QrLinear *L, const float *x, int n, float *y) {
    switch (L->fmt) {
    case QR_WF_F32:
    case QR_WF_F16:
    case QR_WF_BF16: qr_gemm(qr_wf_dtype(L->fmt), L->w, L->out, L->in, x, n, y); break;
    case QR_WF_NF4:
    case QR_WF_INT8: qr_qlinear_forward(L, x, n, y); break;
    }
    add_bias(L, n, y);
}

void qr_linear_forward_multi(const QrLinear *const *L, int k, const float *x, int n, float *const *y) {
    int nf4 = 1;
    for (int i = 0; i < k; i++) nf4 = nf4 && L[i]->fmt == QR_WF_NF4;
    if (!nf4 || qr_qlinear_forward_multi(L, k, x, n, y) != 0) {
        for (int i = 0; i < k; i++) qr_linear_forward(L[i], x, n, y[i]);
        return;
    }
    for (int i = 0; i < k; i++) add_bias(L[i], n, y[i]);
}

static int convert_into(QrLinear *L, QrDType src_dt, const void *src, QrWeightFormat to, QrErr *e) {
    size_t n = (size_t)L->out * L->in;
    QrDType dt = qr_wf_dtype(to);
    void *buf = qr_alloc_weights(n * qr_dtype_size(dt));
    if (!buf) return qr_fail(e, "%s: out of memory converting %zu elements", L->name, n);
    const size_t CH = 4096;
    float tmp[4096];
    for (size_t i = 0; i < n; i += CH) {
        size_t m = n - i < CH ? n - i : CH;
        qr_to_f32(src_dt, (const char *)src + i * qr_dtype_size(src_dt), tmp, m);
        if (dt == QR_DT_F32) memcpy((float *)buf + i, tmp, m * 4);
        else if (dt == QR_DT_BF16)
            for (size_t j = 0; j < m; j++) ((uint16_t *)buf)[i + j] = qr_f32_to_bf16(tmp[j]);
        else
            for (size_t j = 0; j < m; j++) ((uint16_t *)buf)[i + j] = qr_f32_to_f16(tmp[j]);
    }
    if (L->owned) free(L->w);
    L->w = buf;
    L->owned = 1;
    L->fmt = to;
    return 0;
}

int qr_linear_from_tensor(QrLinear *L, const QrTensor *t, int out, int in, int convert, QrWeightFormat to,
                          QrErr *e) {
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "%s", t->name);
    char sh[96];
    if (t->ndim != 2 || t->shape[0] != out || t->shape[1] != in)
        return qr_fail(e, "%s: tensor '%s' has shape %s, the config implies [%d, %d]", t->file, t->name,
                       qr_shape_str(t, sh, sizeof sh), out, in);
    QrWeightFormat f;
    if (qr_wf_from_dtype(t->dtype, &f))
        return qr_fail(e, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)", t->file, t->name,
                       qr_dtype_name(t->dtype));
    L->out = out;
    L->in = in;
    L->fmt = f;
    L->w = (void *)t->data;
    if (convert && to != f) return convert_into(L, t->dtype, t->data, to, e);
    if ((uintptr_t)t->data % qr_dtype_size(t->dtype)) return convert_into(L, t->dtype, t->data, f, e);
    return 0;
}

int qr_linear_make_owned(QrLinear *L, QrErr *e) {
    if (L->owned) return 0;
    QrDType dt = qr_wf_dtype(L->fmt);
    if (dt == QR_DT_COUNT) return qr_fail(e, "%s: only float weights can be made writable", L->name);
    return convert_into(L, dt, L->w, L->fmt, e);
}

int qr_linear_convert(QrLinear *L, QrWeightFormat to, QrErr *e) {
    QrDType dt = qr_wf_dtype(L->fmt);
    if (dt == QR_DT_COUNT || qr_wf_dtype(to) == QR_DT_COUNT)
        return qr_fail(e, "%s: cannot convert %s to %s here", L->name, qr_wf_name(L->fmt), qr_wf_name(to));
    if (to == L->fmt) return 0;
    return convert_into(L, dt, L->w, to, e);
}

void qr_linear_free(QrLinear *L) {
    if (L->owned) free(L->w);
    free(L->bias);
    if (L->q && L->q_free) L->q_free(L->q);
    memset(L, 0, sizeof *L);
}

void qr_linear_row(const QrLinear *L, int row, float *dst) {
    QrDType dt = qr_wf_dtype(L->fmt);
    qr_to_f32(dt, (const char *)L->w + (size_t)row * L->in * qr_dtype_size(dt), dst, (size_t)L->in);
}
