// See quant/nf4.h. The first stage follows bitsandbytes' default (torch)
// quantize_4bit, which is what its CPU backend runs:
//   scaled = clamp(A * (1 / absmax.clamp(min=1e-38)), -1, 1)   full blocks
//   scaled = clamp(A_tail / am, -1, 1)                          short last block
//   q = bucketize(scaled, (code[:-1] + code[1:]) / 2)           count of midpoints < scaled
// and double quantization follows functional.quantize_4bit(compress_statistics=True).
#ifndef __clang__
#pragma GCC optimize("fp-contract=off") // one rounding per operation, as the reference
#endif
#include "quant/nf4.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "util/bigalloc.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

// torch's absmax.clamp(min=1e-38): the Python float 1e-38 becomes the float
// nearest to it (a subnormal), so an all-zero block gets scale 1/that.
#define MIN_ABSMAX 1e-38f

static inline float clamp1(float v) { return v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v); }

static void midpoints(float mid[15]) {
    for (int j = 0; j < 15; j++) {
        float s = qr_nf4_code[j] + qr_nf4_code[j + 1];
        mid[j] = s / 2.0f;
    }
}

// torch.bucketize(right=False): the number of midpoints strictly below v.
static inline uint8_t nearest_code(const float mid[15], float v) {
    int c = 0;
    for (int j = 0; j < 15; j++) c += mid[j] < v;
    return (uint8_t)c;
}

// One full block: absmax, then codes of x * (1/absmax).
static void block_scalar(const float *x, const float mid[15], uint8_t *p, float *absmax) {
    float m = 0.0f;
    for (int i = 0; i < QR_NF4_BLOCK; i++) m = fmaxf(m, fabsf(x[i]));
    *absmax = m;
    const float r = 1.0f / fmaxf(m, MIN_ABSMAX);
    for (int i = 0; i < QR_NF4_BLOCK; i += 2) {
        float s0 = x[i] * r, s1 = x[i + 1] * r;
        p[i / 2] = (uint8_t)(nearest_code(mid, clamp1(s0)) << 4 | nearest_code(mid, clamp1(s1)));
    }
}

#ifdef __AVX2__
// The same with 8 lanes: the same IEEE operations and comparisons, so the same
// codes (max is exact; 15 compares count the midpoints below each value).
static void block_avx2(const float *x, const __m256 mid[15], uint8_t *p, float *absmax) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mv = _mm256_setzero_ps();
    for (int i = 0; i < QR_NF4_BLOCK; i += 8) mv = _mm256_max_ps(mv, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float m = _mm_cvtss_f32(h);
    *absmax = m;
    const __m256 r = _mm256_set1_ps(1.0f / fmaxf(m, MIN_ABSMAX));
    const __m256 lo = _mm256_set1_ps(-1.0f), hi = _mm256_set1_ps(1.0f);
    int32_t c[QR_NF4_BLOCK];
    for (int i = 0; i < QR_NF4_BLOCK; i += 8) {
        const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), r), lo), hi);
        __m256i k = _mm256_setzero_si256();
        for (int j = 0; j < 15; j++) k = _mm256_sub_epi32(k, _mm256_castps_si256(_mm256_cmp_ps(mid[j], v, _CMP_LT_OQ)));
        _mm256_storeu_si256((__m256i *)(c + i), k);
    }
    for (int i = 0; i < QR_NF4_BLOCK; i += 2) p[i / 2] = (uint8_t)(c[i] << 4 | c[i + 1]);
}
#endif

void qr_nf4_quantize_blocks(const float *w, int64_t n, uint8_t *packed, float *absmax) {
    float mid[15];
    midpoints(mid);
    const int64_t nfull = n / QR_NF4_BLOCK;
#ifdef __AVX2__
    const int simd = qr_qisa() != QR_ISA_SCALAR;
    __m256 vmid[15];
    for (int j = 0; j < 15; j++) vmid[j] = _mm256_set1_ps(mid[j]);
#endif
    // Each full block fills exactly 32 bytes, so blocks are independent.
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nfull; b++) {
#ifdef __AVX2__
        if (simd) {
            block_avx2(w + b * QR_NF4_BLOCK, vmid, packed + b * (QR_NF4_BLOCK / 2), absmax + b);
            continue;
        }
#endif
        block_scalar(w + b * QR_NF4_BLOCK, mid, packed + b * (QR_NF4_BLOCK / 2), absmax + b);
    }
    const int64_t lo = nfull * QR_NF4_BLOCK;
    if (lo == n) return;
    // The short last block divides instead of multiplying by the reciprocal.
    float m = 0.0f;
    for (int64_t i = lo; i < n; i++) m = fmaxf(m, fabsf(w[i]));
    m = fmaxf(m, MIN_ABSMAX);
    absmax[nfull] = m;
    for (int64_t i = lo; i < n; i += 2) {
        float s0 = w[i] / m;
        float s1 = i + 1 < n ? w[i + 1] / m : 0.0f; // odd count: padded with 0
        packed[i / 2] = (uint8_t)(nearest_code(mid, clamp1(s0)) << 4 | nearest_code(mid, clamp1(s1)));
    }
}

void qr_nf4_free(QrNF4 *q) {
    free(q->owned);
    memset(q, 0, sizeof *q);
}

int qr_nf4_quantize(QrNF4 *q, const float *w, int64_t rows, int64_t cols, QrErr *e) {
    memset(q, 0, sizeof *q);
    if (rows <= 0 || cols <= 0) return qr_fail(e, "nf4: empty weight [%lld, %lld]", (long long)rows, (long long)cols);
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(w[i]))
            return qr_fail(e, "nf4: weight element %lld (row %lld, col %lld) is not finite", (long long)i,
                           (long long)(i / cols), (long long)(i % cols));
    q->rows = rows;
    q->cols = cols;
    q->nblocks = (n + QR_NF4_BLOCK - 1) / QR_NF4_BLOCK;
    q->nblocks2 = (q->nblocks + QR_NF4_BLOCK2 - 1) / QR_NF4_BLOCK2;
    const size_t npacked = (size_t)((n + 1) / 2);
    // One allocation kept: packed | absmax_q | absmax2 (packed first, so it starts
    // on the allocation's alignment); the plain absmax is scratch.
    const size_t a2_at = (npacked + (size_t)q->nblocks + 63) / 64 * 64;
    const size_t bytes = a2_at + sizeof(float) * (size_t)q->nblocks2;
    char *buf = qr_alloc_weights(bytes);
    float *absmax = malloc(sizeof(float) * (size_t)q->nblocks);
    if (!buf || !absmax) {
        free(buf);
        free(absmax);
        memset(q, 0, sizeof *q);
        return qr_fail(e, "nf4: out of memory for a [%lld, %lld] weight", (long long)rows, (long long)cols);
    }
    uint8_t *packed = (uint8_t *)buf;
    uint8_t *absmax_q = packed + npacked;
    float *absmax2 = (float *)(buf + a2_at);
    qr_nf4_quantize_blocks(w, n, packed, absmax);

    memcpy(q->code, qr_nf4_code, sizeof q->code);
    qr_bnb_dynamic_map(q->code2);
    const float sum = qr_torch_sum_f32(absmax, q->nblocks);
    q->offset = sum / (float)q->nblocks; // torch mean: sum, then one float division
    for (int64_t i = 0; i < q->nblocks; i++) absmax[i] = absmax[i] - q->offset;
    qr_bnb_quantize_blockwise8(q->code2, absmax, q->nblocks, QR_NF4_BLOCK2, absmax_q, absmax2);
    free(absmax);

    q->packed = packed;
    q->absmax_q = absmax_q;
    q->absmax2 = absmax2;
    q->owned = buf;
    return 0;
}

void qr_nf4_block_scales(const QrNF4 *q, int64_t first, int64_t n, float *scale) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = first + i;
        float s = q->code2[q->absmax_q[b]] * q->absmax2[b / QR_NF4_BLOCK2];
        scale[i] = s + q->offset;
    }
}

void qr_nf4_dequantize(const QrNF4 *q, float *out) {
    const int64_t n = q->rows * q->cols;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < q->nblocks; b++) {
        float s;
        qr_nf4_block_scales(q, b, 1, &s);
        const int64_t lo = b * QR_NF4_BLOCK, hi = lo + QR_NF4_BLOCK < n ? lo + QR_NF4_BLOCK : n;
        for (int64_t i = lo; i < hi; i++) {
            const uint8_t byte = q->packed[i / 2];
            const int c = (i & 1) ? (byte & 15) : (byte >> 4);
            out[i] = q->code[c] * s;
        }
    }
}
