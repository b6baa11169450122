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
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

// ---- the float arithmetic shared by both paths ------------------------------------
// ((float)acc * SCA) * SCB * (1/127^2): csrc/kernels.cu kdequant_mm_int32_fp16.
static inline float epilogue_int8(int32_t acc, float sa, float sb) {
    float y = (float)acc * sa;
    y = y * sb;
    return y * QR_INT8_DEQUANT_CONST;
}

// float16((W[o,c] * SCB[o]) * (1/127)): int8_vectorwise_dequant, then .to(float16).
static inline float outlier_weight(const QrInt8 *w, int64_t o, int64_t c) {
    float v = (float)w->w[o * w->cols + c] * w->scb[o];
    return qr_round_half(v * QR_INT8_INV127);
}

// ---- scalar reference: everything computed on the fly, no allocation -----------
static inline float x16_at(const float *x, int64_t cols, int64_t i, int64_t c) { return qr_round_half(x[i * cols + c]); }

static int is_outlier_col(const float *x, int64_t m, int64_t cols, int64_t c, float thr) {
    if (!(thr > 0.0f)) return 0;
    for (int64_t i = 0; i < m; i++)
        if (fabsf(x16_at(x, cols, i, c)) >= thr) return 1;
    return 0;
}

void qr_int8_matmul_ref(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y) {
    const int64_t rows = w->rows, cols = w->cols;
    const float thr = threshold > 0.0f ? qr_round_half(threshold) : 0.0f; // torch compares in float16
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < rows; o++)
        for (int64_t i = 0; i < m; i++) {
            // Row absmax of x16 with the outlier ELEMENTS left out (other elements
            // of an outlier column still count).
            float sa = 0.0f;
            for (int64_t c = 0; c < cols; c++) {
                const float a = fabsf(x16_at(x, cols, i, c));
                if (!(thr > 0.0f && a >= thr)) sa = fmaxf(sa, a);
            }
            const float scale = qr_int8_row_scale(sa);
            int32_t acc = 0;
            for (int64_t c = 0; c < cols; c++)
                if (!is_outlier_col(x, m, cols, c, thr))
                    acc += (int32_t)qr_int8_quant1(x16_at(x, cols, i, c), scale) * (int32_t)w->w[o * cols + c];
            float s = 0.0f;
            for (int64_t c = 0; c < cols; c++)
                if (is_outlier_col(x, m, cols, c, thr)) {
                    float p = x16_at(x, cols, i, c) * outlier_weight(w, o, c); // exact: two float16 values
                    s = s + p;
                }
            y[i * rows + o] = epilogue_int8(acc, sa, w->scb[o]) + s;
        }
}

// ---- AVX2 -------------------------------------------------------------------------
#ifdef __AVX2__
static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

enum { NR = 4 };         // weight rows per step (shared activation loads)
enum { PF_AHEAD = 2048 }; // bytes prefetched ahead in a weight row in decode (1024-4096 measured alike)

// sum_c |q[c]| * (w[c] * sign(q[c])), 32 columns, into the int32 lanes of acc.
static inline __m256i madd32(__m256i acc, __m256i xa, __m256i xs, const int8_t *w) {
    const __m256i wv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)w), xs);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(xa, wv), _mm256_set1_epi16(1)));
}

static inline int32_t tail_dot(const int8_t *q, const int8_t *w, int64_t c, int64_t cols) {
    int32_t t = 0;
    for (; c < cols; c++) t += (int32_t)q[c] * (int32_t)w[c];
    return t;
}

// acc[j] = sum_c q[c] * w_j[c] for 4 weight rows sharing the activation loads
// (prefill: several activation rows per weight row, compute-bound); exact int32.
static inline void dot_rows4(const uint8_t *qa, const int8_t *q, const int8_t *const *wr, int64_t cols, int32_t *acc) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        const __m256i xa = _mm256_loadu_si256((const __m256i *)(qa + c));
        const __m256i xs = _mm256_loadu_si256((const __m256i *)(q + c));
        s0 = madd32(s0, xa, xs, wr[0] + c);
        s1 = madd32(s1, xa, xs, wr[1] + c);
        s2 = madd32(s2, xa, xs, wr[2] + c);
        s3 = madd32(s3, xa, xs, wr[3] + c);
    }
    acc[0] = hsum_epi32(s0) + tail_dot(q, wr[0], c, cols);
    acc[1] = hsum_epi32(s1) + tail_dot(q, wr[1], c, cols);
    acc[2] = hsum_epi32(s2) + tail_dot(q, wr[2], c, cols);
    acc[3] = hsum_epi32(s3) + tail_dot(q, wr[3], c, cols);
}

// One weight row. Decode goes row by row: a thread's rows are contiguous, so
// this is one stream for the prefetcher (four rows at a time, four streams,
// measured half as fast: ~9.5 vs ~20 GB/s on one core).
static inline int32_t dot_row1(const uint8_t *qa, const int8_t *q, const int8_t *w, int64_t cols) {
    __m256i s = _mm256_setzero_si256();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        if (!(c & 63)) _mm_prefetch((const char *)(w + c + PF_AHEAD), _MM_HINT_T0);
        s = madd32(s, _mm256_loadu_si256((const __m256i *)(qa + c)), _mm256_loadu_si256((const __m256i *)(q + c)), w + c);
    }
    return hsum_epi32(s) + tail_dot(q, w, c, cols);
}

static inline void dot_rows(const uint8_t *qa, const int8_t *q, const int8_t *const *wr, int nr, int64_t m,
                            int64_t cols, int32_t *acc) {
    if (nr == 4 && m > 1) dot_rows4(qa, q, wr, cols, acc);
    else
        for (int j = 0; j < nr; j++) acc[j] = dot_row1(qa, q, wr[j], cols);
}

// The activation side of one call: quantized rows, their |q|, row absmax,
// the outlier columns and their float16 activations.
typedef struct {
    int8_t *q;       // [m, cols], outlier columns zeroed
    uint8_t *qabs;   // [m, cols]
    float *sa;       // [m]
    uint8_t *is_out; // [cols]
    int64_t *outc;   // [nout] ascending
    float *x16o;     // [m, nout]
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

static int act_prepare(Act *a, const float *x, int64_t m, int64_t cols, float threshold) {
    memset(a, 0, sizeof *a);
    a->q = malloc((size_t)(m * cols));
    a->qabs = malloc((size_t)(m * cols));
    a->sa = malloc(sizeof(float) * (size_t)m);
    a->is_out = malloc((size_t)cols);
    if (!a->q || !a->qabs || !a->sa || !a->is_out) goto oom;
    a->nout = qr_int8_quantize_act(x, m, cols, threshold, a->q, a->sa, a->is_out);
    if (a->nout > 0) {
        a->outc = malloc(sizeof(int64_t) * (size_t)a->nout);
        a->x16o = malloc(sizeof(float) * (size_t)(m * a->nout));
        if (!a->outc || !a->x16o) goto oom;
        int64_t k = 0;
        for (int64_t c = 0; c < cols; c++)
            if (a->is_out[c]) a->outc[k++] = c;
        for (int64_t i = 0; i < m; i++)
            for (k = 0; k < a->nout; k++) a->x16o[i * a->nout + k] = x16_at(x, cols, i, a->outc[k]);
    }
    for (int64_t i = 0; i < m * cols; i++) a->qabs[i] = (uint8_t)(a->q[i] < 0 ? -a->q[i] : a->q[i]);
    return 0;
oom:
    act_free(a);
    return -1;
}
#endif

void qr_int8_matmul(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y) {
    if (m <= 0) return;
#ifdef __AVX2__
    Act a;
    if (qr_qisa() == QR_ISA_SCALAR || act_prepare(&a, x, m, w->cols, threshold) != 0) {
        qr_int8_matmul_ref(w, x, m, threshold, y); // scalar level, or no memory
        return;
    }
    const int64_t rows = w->rows, cols = w->cols, nout = a.nout;
#pragma omp parallel
    {
        float *w16 = malloc(sizeof(float) * (size_t)(NR * (nout > 0 ? nout : 1)));
#pragma omp for schedule(static)
        for (int64_t o0 = 0; o0 < rows; o0 += NR) {
            const int nr = (int)(o0 + NR <= rows ? NR : rows - o0);
            const int8_t *wr[NR];
            for (int j = 0; j < nr; j++) wr[j] = w->w + (o0 + j) * cols;
            for (int64_t i = 0; i < m; i++) {
                int32_t acc[NR];
                dot_rows(a.qabs + i * cols, a.q + i * cols, wr, nr, m, cols, acc);
                for (int j = 0; j < nr; j++) {
                    float s = 0.0f;
                    for (int64_t k = 0; k < nout; k++) {
                        // Outlier weights are cached per row group when there is scratch.
                        const float wk = w16 ? (i == 0 ? (w16[j * nout + k] = outlier_weight(w, o0 + j, a.outc[k]))
                                                       : w16[j * nout + k])
                                             : outlier_weight(w, o0 + j, a.outc[k]);
                        float p = a.x16o[i * nout + k] * wk;
                        s = s + p;
                    }
                    y[i * rows + o0 + j] = epilogue_int8(acc[j], a.sa[i], w->scb[o0 + j]) + s;
                }
            }
        }
        free(w16);
    }
    act_free(&a);
#else
    qr_int8_matmul_ref(w, x, m, threshold, y);
#endif
}
