// See quant/int8.h. One float rounding per torch operation, in torch's order.
#ifndef __clang__
#pragma GCC optimize("fp-contract=off")
#endif
#include "quant/int8.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant/half.h"

int qr_int8_quantize(QrInt8 *q, const float *w, int64_t rows, int64_t cols, QrErr *e) {
    memset(q, 0, sizeof *q);
    if (rows <= 0 || cols <= 0) return qr_fail(e, "int8: empty weight [%lld, %lld]", (long long)rows, (long long)cols);
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || fabsf(w[i]) >= 65520.0f) // float16 would overflow to inf
            return qr_fail(e, "int8: weight element %lld (row %lld, col %lld) = %g is not a finite float16",
                           (long long)i, (long long)(i / cols), (long long)(i % cols), (double)w[i]);
    char *buf = malloc(sizeof(float) * (size_t)rows + (size_t)n);
    if (!buf) return qr_fail(e, "int8: out of memory for a [%lld, %lld] weight", (long long)rows, (long long)cols);
    float *scb = (float *)buf;
    int8_t *cw = (int8_t *)(scb + rows);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = w + r * cols;
        float m = 0.0f;
        for (int64_t c = 0; c < cols; c++) m = fmaxf(m, fabsf(qr_round_half(x[c])));
        scb[r] = m;
        const float s = qr_int8_row_scale(m);
        for (int64_t c = 0; c < cols; c++) cw[r * cols + c] = qr_int8_quant1(qr_round_half(x[c]), s);
    }
    q->rows = rows;
    q->cols = cols;
    q->w = cw;
    q->scb = scb;
    q->owned = buf;
    return 0;
}

void qr_int8_free(QrInt8 *q) {
    free(q->owned);
    memset(q, 0, sizeof *q);
}

void qr_int8_dequantize(const QrInt8 *q, float *out) {
    for (int64_t r = 0; r < q->rows; r++)
        for (int64_t c = 0; c < q->cols; c++) {
            float v = (float)q->w[r * q->cols + c] * q->scb[r];
            out[r * q->cols + c] = v * QR_INT8_INV127;
        }
}

int qr_int8_validate(const QrInt8 *q, QrErr *e) {
    const int64_t n = q->rows * q->cols;
    for (int64_t i = 0; i < n; i++)
        if (q->w[i] == -128)
            return qr_fail(e, "int8 weight element %lld (row %lld) is -128, outside bitsandbytes' range [-127, 127]",
                           (long long)i, (long long)(i / q->cols));
    for (int64_t r = 0; r < q->rows; r++)
        if (!isfinite(q->scb[r]) || q->scb[r] < 0.0f)
            return qr_fail(e, "int8 SCB[%lld] = %g is not a finite non-negative row absmax", (long long)r,
                           (double)q->scb[r]);
    return 0;
}

int64_t qr_int8_quantize_act(const float *x, int64_t rows, int64_t cols, float threshold, int8_t *q,
                             float *stats, uint8_t *outlier_col) {
    int64_t nout = 0;
    const int sparse = threshold > 0.0f;
    // torch compares the float16 tensor with the threshold cast to float16.
    threshold = qr_round_half(threshold);
    if (sparse) {
        memset(outlier_col, 0, (size_t)cols);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                if (fabsf(qr_round_half(x[r * cols + c])) >= threshold) outlier_col[c] = 1;
        for (int64_t c = 0; c < cols; c++) nout += outlier_col[c];
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        int8_t *qr = q + r * cols;
        // Outlier ELEMENTS are zeroed before the absmax; other elements of an
        // outlier column still count towards it.
        float m = 0.0f;
        for (int64_t c = 0; c < cols; c++) {
            const float a = fabsf(qr_round_half(xr[c]));
            if (!(sparse && a >= threshold)) m = fmaxf(m, a);
        }
        stats[r] = m;
        const float s = qr_int8_row_scale(m);
        for (int64_t c = 0; c < cols; c++)
            qr[c] = (sparse && outlier_col[c]) ? 0 : qr_int8_quant1(qr_round_half(xr[c]), s);
    }
    return nout;
}
