// See quant/int8.h. One float rounding per torch operation, in torch's order.
#ifndef __clang__
#pragma GCC optimize("fp-contract=off")
#endif
#include "quant/int8.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#include "util/bigalloc.h"
#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#endif

// ---- one row: float16 rounding, absmax, codes -----------------------------------
// absmax of float16(x) over the elements below thr (thr <= 0: all of them).
static float row_absmax_scalar(const float *x, int64_t n, float thr) {
    float m = 0.0f;
    for (int64_t c = 0; c < n; c++) {
        const float a = fabsf(qr_round_half(x[c]));
        if (!(thr > 0.0f && a >= thr)) m = fmaxf(m, a);
    }
    return m;
}

// q[c] = round(float16(x[c]) * scale), or 0 where drop[c] (drop may be NULL).
static void row_quant_scalar(const float *x, int64_t n, float scale, const uint8_t *drop, int8_t *q) {
    for (int64_t c = 0; c < n; c++) q[c] = drop && drop[c] ? 0 : qr_int8_quant1(qr_round_half(x[c]), scale);
}

#if defined(__AVX2__) && defined(__F16C__)
// The same with 8 lanes (vcvtps2ph rounds to nearest even as torch's cast,
// vroundps to nearest even as torch.round); the same bits as the scalar code.
static inline __m256 half8(const float *x) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x), _MM_FROUND_TO_NEAREST_INT));
}

static float row_absmax_avx2(const float *x, int64_t n, float thr) {
    const __m256 sign = _mm256_set1_ps(-0.0f), vt = _mm256_set1_ps(thr);
    __m256 mv = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m256 a = _mm256_andnot_ps(sign, half8(x + c));
        if (thr > 0.0f) a = _mm256_andnot_ps(_mm256_cmp_ps(a, vt, _CMP_GE_OQ), a); // outliers count as 0
        mv = _mm256_max_ps(mv, a);
    }
    float t[8], m = row_absmax_scalar(x + c, n - c, thr);
    _mm256_storeu_ps(t, mv);
    for (int k = 0; k < 8; k++) m = fmaxf(m, t[k]);
    return m;
}

static void row_quant_avx2(const float *x, int64_t n, float scale, const uint8_t *drop, int8_t *q) {
    const __m256 vs = _mm256_set1_ps(scale);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int64_t c = 0;
    for (; c + 32 <= n; c += 32) {
        __m256i k[4];
        for (int j = 0; j < 4; j++)
            k[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(half8(x + c + 8 * j), vs),
                                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        // int32 -> int8 (values within [-127, 127]); packs interleave the 128-bit lanes, the permute restores order.
        __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(k[0], k[1]), _mm256_packs_epi32(k[2], k[3]));
        b = _mm256_permutevar8x32_epi32(b, order);
        if (drop) b = _mm256_andnot_si256(_mm256_cmpgt_epi8(_mm256_loadu_si256((const __m256i *)(drop + c)),
                                                            _mm256_setzero_si256()), b);
        _mm256_storeu_si256((__m256i *)(q + c), b);
    }
    row_quant_scalar(x + c, n - c, scale, drop ? drop + c : NULL, q + c);
}
#endif

// outlier[c] = 1 where |float16(x[c])| >= thr.
static void mark_outliers(const float *x, int64_t n, float thr, uint8_t *outlier) {
    int64_t c = 0;
#if defined(__AVX2__) && defined(__F16C__)
    if (qr_qisa() != QR_ISA_SCALAR) {
        const __m256 sign = _mm256_set1_ps(-0.0f), vt = _mm256_set1_ps(thr);
        for (; c + 8 <= n; c += 8) {
            int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, half8(x + c)), vt, _CMP_GE_OQ));
            for (; bits; bits &= bits - 1) outlier[c + __builtin_ctz((unsigned)bits)] = 1;
        }
    }
#endif
    for (; c < n; c++)
        if (fabsf(qr_round_half(x[c])) >= thr) outlier[c] = 1;
}

static float row_absmax(const float *x, int64_t n, float thr) {
#if defined(__AVX2__) && defined(__F16C__)
    if (qr_qisa() != QR_ISA_SCALAR) return row_absmax_avx2(x, n, thr);
#endif
    return row_absmax_scalar(x, n, thr);
}

// Codes of a row with absmax m; an all-zero absmax gives all zeros (the scale
// is then inf and 0 * inf = NaN, which torch's int8 cast turns into 0 on x86).
static void row_quant(const float *x, int64_t n, float m, const uint8_t *drop, int8_t *q) {
    if (m == 0.0f) {
        memset(q, 0, (size_t)n);
        return;
    }
    const float s = qr_int8_row_scale(m);
#if defined(__AVX2__) && defined(__F16C__)
    if (qr_qisa() != QR_ISA_SCALAR) {
        row_quant_avx2(x, n, s, drop, q);
        return;
    }
#endif
    row_quant_scalar(x, n, s, drop, q);
}


int qr_int8_quantize(QrInt8 *q, const float *w, int64_t rows, int64_t cols, QrErr *e) {
    memset(q, 0, sizeof *q);
    if (rows <= 0 || cols <= 0) return qr_fail(e, "int8: empty weight [%lld, %lld]", (long long)rows, (long long)cols);
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || fabsf(w[i]) >= 65520.0f) // float16 would overflow to inf
            return qr_fail(e, "int8: weight element %lld (row %lld, col %lld) = %g is not a finite float16",
                           (long long)i, (long long)(i / cols), (long long)(i % cols), (double)w[i]);
    // One allocation: the int8 weight (first, on the allocation's alignment) | SCB.
    const size_t scb_at = ((size_t)n + 63) / 64 * 64;
    char *buf = qr_alloc_weights(scb_at + sizeof(float) * (size_t)rows);
    if (!buf) return qr_fail(e, "int8: out of memory for a [%lld, %lld] weight", (long long)rows, (long long)cols);
    int8_t *cw = (int8_t *)buf;
    float *scb = (float *)(buf + scb_at);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        scb[r] = row_absmax(w + r * cols, cols, 0.0f);
        row_quant(w + r * cols, cols, scb[r], NULL, cw + r * cols);
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
        for (int64_t r = 0; r < rows; r++) mark_outliers(x + r * cols, cols, threshold, outlier_col);
        for (int64_t c = 0; c < cols; c++) nout += outlier_col[c];
    }
    for (int64_t r = 0; r < rows; r++) {
        // Outlier ELEMENTS are left out of the absmax; other elements of an
        // outlier column still count towards it. Outlier COLUMNS are zeroed.
        stats[r] = row_absmax(x + r * cols, cols, sparse ? threshold : 0.0f);
        row_quant(x + r * cols, cols, stats[r], sparse ? outlier_col : NULL, q + r * cols);
    }
    return nout;
}
