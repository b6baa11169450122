// See kernels/nf4_matmul.h.
//
// Fast path layout facts. A 64-element block is 32 packed bytes; read as eight
// 32-bit lanes, lane d holds elements 8d..8d+7 and its nibble p (bits 4p..4p+3)
// is element 8d + (p ^ 1) (little-endian bytes, high nibble first). So "nibble
// p of every lane" is 8 elements that a single shift exposes, and x is
// reordered once per call to match: xp[b*64 + p*8 + d] = x[b*64 + 8d + (p^1)].
// The 16 NF4 levels live in two 8-float registers: vpermps looks up the low 3
// bits, blendv picks the half from bit 3 (moved to the lane's sign bit).
// Per block the 64 code*x products are summed, then multiplied by the block
// scale once (the scale factors out of the block's sum).
#ifndef __clang__
#pragma GCC optimize("fp-contract=off") // the scalar reference rounds like torch
#endif
#include "kernels/nf4_matmul.h"
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define QR_HAVE_AVX2 1
#endif

static inline float round_ct(float v, QrComputeType ct) {
    return ct == QR_COMPUTE_F16 ? qr_round_half(v) : ct == QR_COMPUTE_BF16 ? qr_round_bf16(v) : v;
}

// Row r of the dequantized weight (blocks may straddle rows when cols % 64 != 0).
static void dequant_row(const QrNF4 *w, int64_t r, float *out) {
    const int64_t lo = r * w->cols, hi = lo + w->cols;
    for (int64_t i = lo; i < hi;) {
        const int64_t b = i / QR_NF4_BLOCK;
        const int64_t end = (b + 1) * QR_NF4_BLOCK < hi ? (b + 1) * QR_NF4_BLOCK : hi;
        float s;
        qr_nf4_block_scales(w, b, 1, &s);
        for (; i < end; i++) {
            const uint8_t byte = w->packed[i / 2];
            out[i - lo] = w->code[(i & 1) ? (byte & 15) : (byte >> 4)] * s;
        }
    }
}

// The reference. Rows are independent, so it runs rows in parallel; each dot
// product is a plain left-to-right float32 sum.
static int matmul_rows_ref(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y) {
    const int64_t rows = w->rows, cols = w->cols;
    float *xr = malloc(sizeof(float) * (size_t)(m * cols));
    if (!xr) return -1;
    for (int64_t i = 0; i < m * cols; i++) xr[i] = round_ct(x[i], ct);
    int fail = 0;
#pragma omp parallel
    {
        float *wr = malloc(sizeof(float) * (size_t)cols);
        if (!wr) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (!wr) continue;
            dequant_row(w, r, wr);
            for (int64_t c = 0; c < cols; c++) wr[c] = round_ct(wr[c], ct);
            for (int64_t i = 0; i < m; i++) {
                const float *xi = xr + i * cols;
                float acc = 0.0f;
                for (int64_t c = 0; c < cols; c++) {
                    float p = xi[c] * wr[c];
                    acc = acc + p;
                }
                y[i * rows + r] = round_ct(acc, ct);
            }
        }
        free(wr);
    }
    free(xr);
    return fail ? -1 : 0;
}

int qr_nf4_matmul_ref(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y) {
    return matmul_rows_ref(w, x, m, ct, y);
}

#ifdef QR_HAVE_AVX2
// x reordered per 64-block to match the nibble order (see the top of the file).
static void permute_x(const float *x, int64_t cols, float *xp) {
    for (int64_t b = 0; b < cols; b += QR_NF4_BLOCK)
        for (int p = 0; p < 8; p++)
            for (int d = 0; d < 8; d++) xp[b + p * 8 + d] = x[b + 8 * d + (p ^ 1)];
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The 8 codes of nibble p in every lane of v, as floats.
#define NF4_LOOKUP(v, p, tlo, thi)                                                                      \
    _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo, _mm256_srli_epi32(v, 4 * (p))),                     \
                     _mm256_permutevar8x32_ps(thi, _mm256_srli_epi32(v, 4 * (p))),                     \
                     _mm256_castsi256_ps(_mm256_slli_epi32(v, 28 - 4 * (p))))

// Dequantizes one block (in the permuted order) scaled by s into out[64].
static inline void decode_block_avx2(const uint8_t *src, float s, __m256 tlo, __m256 thi, float *out) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)src);
    const __m256 vs = _mm256_set1_ps(s);
    _mm256_storeu_ps(out + 0, _mm256_mul_ps(NF4_LOOKUP(v, 0, tlo, thi), vs));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(NF4_LOOKUP(v, 1, tlo, thi), vs));
    _mm256_storeu_ps(out + 16, _mm256_mul_ps(NF4_LOOKUP(v, 2, tlo, thi), vs));
    _mm256_storeu_ps(out + 24, _mm256_mul_ps(NF4_LOOKUP(v, 3, tlo, thi), vs));
    _mm256_storeu_ps(out + 32, _mm256_mul_ps(NF4_LOOKUP(v, 4, tlo, thi), vs));
    _mm256_storeu_ps(out + 40, _mm256_mul_ps(NF4_LOOKUP(v, 5, tlo, thi), vs));
    _mm256_storeu_ps(out + 48, _mm256_mul_ps(NF4_LOOKUP(v, 6, tlo, thi), vs));
    _mm256_storeu_ps(out + 56, _mm256_mul_ps(NF4_LOOKUP(v, 7, tlo, thi), vs));
}

// Two output rows against one permuted x (decode). scales: [2][nb].
static void matvec2_avx2(const uint8_t *wa, const uint8_t *wb, const float *sa, const float *sb, const float *xp,
                         int64_t nb, const float *code, float *ya, float *yb) {
    const __m256 tlo = _mm256_loadu_ps(code), thi = _mm256_loadu_ps(code + 8);
    __m256 acca = _mm256_setzero_ps(), accb = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256i va = _mm256_loadu_si256((const __m256i *)(wa + 32 * b));
        const __m256i vb = _mm256_loadu_si256((const __m256i *)(wb + 32 * b));
        const float *xb = xp + 64 * b;
        __m256 a0, a1, b0, b1, xv;
        xv = _mm256_loadu_ps(xb);
        a0 = _mm256_mul_ps(NF4_LOOKUP(va, 0, tlo, thi), xv);
        b0 = _mm256_mul_ps(NF4_LOOKUP(vb, 0, tlo, thi), xv);
        xv = _mm256_loadu_ps(xb + 8);
        a1 = _mm256_mul_ps(NF4_LOOKUP(va, 1, tlo, thi), xv);
        b1 = _mm256_mul_ps(NF4_LOOKUP(vb, 1, tlo, thi), xv);
#define STEP2(p, A, B)                                            \
    xv = _mm256_loadu_ps(xb + 8 * (p));                           \
    A = _mm256_fmadd_ps(NF4_LOOKUP(va, p, tlo, thi), xv, A);      \
    B = _mm256_fmadd_ps(NF4_LOOKUP(vb, p, tlo, thi), xv, B);
        STEP2(2, a0, b0)
        STEP2(3, a1, b1)
        STEP2(4, a0, b0)
        STEP2(5, a1, b1)
        STEP2(6, a0, b0)
        STEP2(7, a1, b1)
#undef STEP2
        acca = _mm256_fmadd_ps(_mm256_add_ps(a0, a1), _mm256_set1_ps(sa[b]), acca);
        accb = _mm256_fmadd_ps(_mm256_add_ps(b0, b1), _mm256_set1_ps(sb[b]), accb);
    }
    *ya = hsum256(acca);
    *yb = hsum256(accb);
}

static void matvec1_avx2(const uint8_t *wa, const float *sa, const float *xp, int64_t nb, const float *code,
                         float *ya) {
    const __m256 tlo = _mm256_loadu_ps(code), thi = _mm256_loadu_ps(code + 8);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(wa + 32 * b));
        const float *xb = xp + 64 * b;
        __m256 s0 = _mm256_mul_ps(NF4_LOOKUP(v, 0, tlo, thi), _mm256_loadu_ps(xb));
        __m256 s1 = _mm256_mul_ps(NF4_LOOKUP(v, 1, tlo, thi), _mm256_loadu_ps(xb + 8));
        s0 = _mm256_fmadd_ps(NF4_LOOKUP(v, 2, tlo, thi), _mm256_loadu_ps(xb + 16), s0);
        s1 = _mm256_fmadd_ps(NF4_LOOKUP(v, 3, tlo, thi), _mm256_loadu_ps(xb + 24), s1);
        s0 = _mm256_fmadd_ps(NF4_LOOKUP(v, 4, tlo, thi), _mm256_loadu_ps(xb + 32), s0);
        s1 = _mm256_fmadd_ps(NF4_LOOKUP(v, 5, tlo, thi), _mm256_loadu_ps(xb + 40), s1);
        s0 = _mm256_fmadd_ps(NF4_LOOKUP(v, 6, tlo, thi), _mm256_loadu_ps(xb + 48), s0);
        s1 = _mm256_fmadd_ps(NF4_LOOKUP(v, 7, tlo, thi), _mm256_loadu_ps(xb + 56), s1);
        acc = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), _mm256_set1_ps(sa[b]), acc);
    }
    *ya = hsum256(acc);
}

// Dot products of a panel of dequantized rows P[np][cols] with X[m][cols]
// (both in the permuted order): y[i*ldy + j] = X_i . P_j. 4 x-rows x 2 panel
// rows per step, 8 accumulators.
static void panel_dots_avx2(const float *P, int np, const float *X, int64_t m, int64_t cols, float *y,
                            int64_t ldy) {
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        int j = 0;
        for (; j + 2 <= np; j += 2) {
            __m256 acc[4][2];
            for (int a = 0; a < 4; a++) acc[a][0] = acc[a][1] = _mm256_setzero_ps();
            const float *p0 = P + (int64_t)j * cols, *p1 = p0 + cols;
            for (int64_t c = 0; c < cols; c += 8) {
                const __m256 w0 = _mm256_loadu_ps(p0 + c), w1 = _mm256_loadu_ps(p1 + c);
                for (int a = 0; a < 4; a++) {
                    const __m256 xv = _mm256_loadu_ps(X + (i + a) * cols + c);
                    acc[a][0] = _mm256_fmadd_ps(xv, w0, acc[a][0]);
                    acc[a][1] = _mm256_fmadd_ps(xv, w1, acc[a][1]);
                }
            }
            for (int a = 0; a < 4; a++) {
                y[(i + a) * ldy + j] = hsum256(acc[a][0]);
                y[(i + a) * ldy + j + 1] = hsum256(acc[a][1]);
            }
        }
        for (; j < np; j++)
            for (int a = 0; a < 4; a++) {
                __m256 acc = _mm256_setzero_ps();
                for (int64_t c = 0; c < cols; c += 8)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(X + (i + a) * cols + c),
                                          _mm256_loadu_ps(P + (int64_t)j * cols + c), acc);
                y[(i + a) * ldy + j] = hsum256(acc);
            }
    }
    for (; i < m; i++)
        for (int j = 0; j < np; j++) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t c = 0; c < cols; c += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(X + i * cols + c), _mm256_loadu_ps(P + (int64_t)j * cols + c),
                                      acc);
            y[i * ldy + j] = hsum256(acc);
        }
}
#endif // QR_HAVE_AVX2

#if defined(QR_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
#define QR_HAVE_AVX512 1
#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
// AVX-512: vpermps over 16 lanes takes the whole 4-bit nibble as its index, so
// one instruction looks up 16 weights. Two blocks (64 bytes) per iteration;
// lanes 0-7 belong to the first block, 8-15 to the second; x is permuted the
// same way per block, so two consecutive blocks of xp line up with the lanes
// as [p*8 + d] for each half -- loaded as two 8-float halves.
AVX512_FN static inline __m512 x_pair(const float *xb, int p) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(xb + 8 * p)), _mm256_loadu_ps(xb + 64 + 8 * p),
                              1);
}

AVX512_FN static void matvec1_avx512(const uint8_t *wa, const float *sa, const float *xp, int64_t nb,
                                     const float *code, float *ya) {
    const __m512 t = _mm512_loadu_ps(code);
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const __m512i v = _mm512_loadu_si512((const void *)(wa + 32 * b));
        const float *xb = xp + 64 * b;
        __m512 s0 = _mm512_mul_ps(_mm512_permutexvar_ps(v, t), x_pair(xb, 0));
        __m512 s1 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), t), x_pair(xb, 1));
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 8), t), x_pair(xb, 2), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 12), t), x_pair(xb, 3), s1);
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 16), t), x_pair(xb, 4), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 20), t), x_pair(xb, 5), s1);
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 24), t), x_pair(xb, 6), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 28), t), x_pair(xb, 7), s1);
        const __m512 sc = _mm512_insertf32x8(_mm512_set1_ps(sa[b]), _mm256_set1_ps(sa[b + 1]), 1);
        acc = _mm512_fmadd_ps(_mm512_add_ps(s0, s1), sc, acc);
    }
    float y = _mm512_reduce_add_ps(acc);
    if (b < nb) { // odd block count: the last block with AVX2
        float tail;
        matvec1_avx2(wa + 32 * b, sa + b, xp + 64 * b, 1, code, &tail);
        y += tail;
    }
    *ya = y;
}
#endif

// Per-thread scratch of the fast path.
typedef struct {
    float *scales; // [2][nb]
    float *panel;  // [PANEL][cols]
} Scratch;

enum { PANEL = 8 };

int qr_nf4_matmul(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y, QrErr *e) {
    const int isa = qr_qisa();
    const int64_t rows = w->rows, cols = w->cols;
    if (m <= 0) return 0;
    if (isa == QR_ISA_SCALAR || ct != QR_COMPUTE_F32 || cols % QR_NF4_BLOCK != 0) {
        // Odd shapes (blocks straddling rows) and half compute types take the
        // reference arithmetic, parallel over rows.
        if (matmul_rows_ref(w, x, m, ct, y) != 0)
            return qr_fail(e, "nf4 matmul: out of memory for [%lld, %lld]", (long long)rows, (long long)cols);
        return 0;
    }
#ifdef QR_HAVE_AVX2
    const int64_t nb = cols / QR_NF4_BLOCK; // blocks per row
    float *xp = malloc(sizeof(float) * (size_t)(m * cols));
    if (!xp) return qr_fail(e, "nf4 matmul: out of memory for x [%lld, %lld]", (long long)m, (long long)cols);
    for (int64_t i = 0; i < m; i++) permute_x(x + i * cols, cols, xp + i * cols);
    const __m256 tlo = _mm256_loadu_ps(w->code), thi = _mm256_loadu_ps(w->code + 8);
    int fail = 0;
#pragma omp parallel
    {
        Scratch s = {malloc(sizeof(float) * (size_t)(PANEL * nb)),
                     m > 1 ? malloc(sizeof(float) * (size_t)(PANEL * cols)) : NULL};
        const int ok = s.scales && (m == 1 || s.panel);
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        if (m == 1) {
            // Decode: pairs of rows, fused lookup + dot.
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r += 2) {
                if (!ok) continue;
                const int two = r + 1 < rows;
                qr_nf4_block_scales(w, r * nb, (two ? 2 : 1) * nb, s.scales);
                const uint8_t *wa = w->packed + r * cols / 2;
#ifdef QR_HAVE_AVX512
                if (isa == QR_ISA_AVX512) {
                    matvec1_avx512(wa, s.scales, xp, nb, w->code, y + r);
                    if (two) matvec1_avx512(wa + cols / 2, s.scales + nb, xp, nb, w->code, y + r + 1);
                    continue;
                }
#endif
                if (two)
                    matvec2_avx2(wa, wa + cols / 2, s.scales, s.scales + nb, xp, nb, w->code, y + r, y + r + 1);
                else
                    matvec1_avx2(wa, s.scales, xp, nb, w->code, y + r);
            }
        } else {
            // Prefill / batch: dequantize PANEL rows once, then dot with every x row.
#pragma omp for schedule(static)
            for (int64_t r0 = 0; r0 < rows; r0 += PANEL) {
                if (!ok) continue;
                const int np = (int)(r0 + PANEL <= rows ? PANEL : rows - r0);
                qr_nf4_block_scales(w, r0 * nb, np * nb, s.scales);
                for (int j = 0; j < np; j++)
                    for (int64_t b = 0; b < nb; b++)
                        decode_block_avx2(w->packed + ((r0 + j) * cols + b * QR_NF4_BLOCK) / 2, s.scales[j * nb + b],
                                          tlo, thi, s.panel + j * cols + b * QR_NF4_BLOCK);
                panel_dots_avx2(s.panel, np, xp, m, cols, y + r0, rows);
            }
        }
        free(s.scales);
        free(s.panel);
    }
    free(xp);
    if (fail) return qr_fail(e, "nf4 matmul: out of memory for per-thread scratch");
    return 0;
#else
    (void)isa;
    return qr_fail(e, "nf4 matmul: internal: no SIMD path in this build");
#endif
}
