// See kernels/int8_matmul.h.
//
// AVX2 integer dot product: vpmaddubsw multiplies unsigned by signed bytes, so
// the activation row is kept as |q| (unsigned) and its sign is moved onto the
// weight with vpsignb. Both are within [-127, 127] (bitsandbytes never makes
// -128; loaded checkpoints are validated), so a pair sum is at most
// 2 * 127 * 127 = 32258 and the int16 step cannot saturate; vpmaddwd then
// widens to int32. Every sum is exact, so the result equals the scalar
// reference bit for bit.
#ifndef __clang__
#pragma GCC optimize("fp-contract=off") // the epilogue rounds like the reference
#endif
#include "kernels/int8_matmul.h"
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

// The activation side of one call, shared by the reference and the fast path.
typedef struct {
    int8_t *q;       // [m, cols] int8 activations, outlier columns zeroed
    uint8_t *qabs;   // [m, cols] |q| (fast path only)
    float *sa;       // [m] row absmax (SCA)
    uint8_t *is_out; // [cols]
    int64_t *outc;   // [nout] outlier column indices, ascending
    float *x16o;     // [m, nout] float16-rounded activations of the outlier columns
    int64_t nout;
} Act;

static void act_free(Act *a) {
    free(a->q);
    free(a->qabs);
    free(a->sa);
    free(a->is_out);
    free(a->outc);
    free(a->x16o);
}

static int act_prepare(Act *a, const float *x, int64_t m, int64_t cols, float threshold, int want_abs, QrErr *e) {
    memset(a, 0, sizeof *a);
    a->q = malloc((size_t)(m * cols));
    a->sa = malloc(sizeof(float) * (size_t)m);
    a->is_out = malloc((size_t)cols);
    if (want_abs) a->qabs = malloc((size_t)(m * cols));
    if (!a->q || !a->sa || !a->is_out || (want_abs && !a->qabs)) goto oom;
    a->nout = qr_int8_quantize_act(x, m, cols, threshold, a->q, a->sa, a->is_out);
    if (a->nout > 0) {
        a->outc = malloc(sizeof(int64_t) * (size_t)a->nout);
        a->x16o = malloc(sizeof(float) * (size_t)(m * a->nout));
        if (!a->outc || !a->x16o) goto oom;
        int64_t k = 0;
        for (int64_t c = 0; c < cols; c++)
            if (a->is_out[c]) a->outc[k++] = c;
        for (int64_t i = 0; i < m; i++)
            for (k = 0; k < a->nout; k++) a->x16o[i * a->nout + k] = qr_round_half(x[i * cols + a->outc[k]]);
    }
    if (want_abs)
        for (int64_t i = 0; i < m * cols; i++) a->qabs[i] = (uint8_t)(a->q[i] < 0 ? -a->q[i] : a->q[i]);
    return 0;
oom:
    act_free(a);
    return qr_fail(e, "int8 matmul: out of memory for activations [%lld, %lld]", (long long)m, (long long)cols);
}

// float16 dequantized weights of row o at the outlier columns (w16[nout]).
static void outlier_weights(const QrInt8 *w, const Act *a, int64_t o, float *w16) {
    for (int64_t k = 0; k < a->nout; k++) {
        float v = (float)w->w[o * w->cols + a->outc[k]] * w->scb[o];
        w16[k] = qr_round_half(v * QR_INT8_INV127);
    }
}

static inline const float *x16_row(const Act *a, int64_t i) { return a->nout ? a->x16o + i * a->nout : NULL; }

// Float epilogue for output (i, o): identical code for both paths.
static inline float finish(int32_t acc, float sa, float sb, const float *x16o, const float *w16, int64_t nout) {
    float y = (float)acc * sa;
    y = y * sb;
    y = y * QR_INT8_DEQUANT_CONST;
    float s = 0.0f;
    for (int64_t k = 0; k < nout; k++) {
        float p = x16o[k] * w16[k]; // exact: two float16 values
        s = s + p;
    }
    return y + s;
}

int qr_int8_matmul_ref(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y, QrErr *e) {
    const int64_t rows = w->rows, cols = w->cols;
    Act a;
    if (act_prepare(&a, x, m, cols, threshold, 0, e) != 0) return -1;
    float *w16 = malloc(sizeof(float) * (size_t)(a.nout > 0 ? a.nout : 1));
    if (!w16) {
        act_free(&a);
        return qr_fail(e, "int8 matmul: out of memory");
    }
    for (int64_t o = 0; o < rows; o++) {
        outlier_weights(w, &a, o, w16);
        const int8_t *wr = w->w + o * cols;
        for (int64_t i = 0; i < m; i++) {
            const int8_t *qi = a.q + i * cols;
            int32_t acc = 0;
            for (int64_t c = 0; c < cols; c++) acc += (int32_t)qi[c] * (int32_t)wr[c];
            y[i * rows + o] = finish(acc, a.sa[i], w->scb[o], x16_row(&a, i), w16, a.nout);
        }
    }
    free(w16);
    act_free(&a);
    return 0;
}

#ifdef __AVX2__
static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// acc[j] = sum_c q[c] * w_j[c] for NR weight rows (NR <= 4), exact int32.
static inline void dot_rows(const uint8_t *qa, const int8_t *q, const int8_t *const *wr, int nr, int64_t cols,
                            int32_t *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        const __m256i xa = _mm256_loadu_si256((const __m256i *)(qa + c));
        const __m256i xs = _mm256_loadu_si256((const __m256i *)(q + c));
        for (int j = 0; j < nr; j++) {
            const __m256i wv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(wr[j] + c)), xs);
            s[j] = _mm256_add_epi32(s[j], _mm256_madd_epi16(_mm256_maddubs_epi16(xa, wv), ones));
        }
    }
    for (int j = 0; j < nr; j++) {
        int32_t t = hsum_epi32(s[j]);
        for (int64_t k = c; k < cols; k++) t += (int32_t)q[k] * (int32_t)wr[j][k];
        acc[j] = t;
    }
}
#endif

int qr_int8_matmul(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y, QrErr *e) {
    if (m <= 0) return 0;
#ifdef __AVX2__
    if (qr_qisa() == QR_ISA_SCALAR) return qr_int8_matmul_ref(w, x, m, threshold, y, e);
    const int64_t rows = w->rows, cols = w->cols;
    Act a;
    if (act_prepare(&a, x, m, cols, threshold, 1, e) != 0) return -1;
    int fail = 0;
    enum { NR = 4 };
#pragma omp parallel
    {
        float *w16 = malloc(sizeof(float) * (size_t)(NR * (a.nout > 0 ? a.nout : 1)));
        if (!w16) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t o0 = 0; o0 < rows; o0 += NR) {
            if (!w16) continue;
            const int nr = (int)(o0 + NR <= rows ? NR : rows - o0);
            const int8_t *wr[NR];
            for (int j = 0; j < nr; j++) {
                wr[j] = w->w + (o0 + j) * cols;
                outlier_weights(w, &a, o0 + j, w16 + j * a.nout);
            }
            for (int64_t i = 0; i < m; i++) {
                int32_t acc[NR];
                dot_rows(a.qabs + i * cols, a.q + i * cols, wr, nr, cols, acc);
                for (int j = 0; j < nr; j++)
                    y[i * rows + o0 + j] =
                        finish(acc[j], a.sa[i], w->scb[o0 + j], x16_row(&a, i), w16 + j * a.nout, a.nout);
            }
        }
        free(w16);
    }
    act_free(&a);
    if (fail) return qr_fail(e, "int8 matmul: out of memory for per-thread scratch");
    return 0;
#else
    return qr_int8_matmul_ref(w, x, m, threshold, y, e);
#endif
}
