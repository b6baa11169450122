// See kernels/nf4_matmul.h for the arithmetic. SIMD layout: a 64-element block
// is 32 packed bytes = eight 32-bit lanes; shifting every lane right by 4p
// exposes nibble p of each lane, i.e. elements 8d + (p^1) for d = 0..7. x is
// reordered once per call to match: xp[b*64 + p*8 + d] = x[b*64 + 8d + (p^1)].
// AVX2 looks the 16 levels up from two 8-float registers (vpermps on the low 3
// bits, blendv on bit 3 moved to the sign bit); AVX-512 does it with one
// 16-lane vpermps over two blocks at once.
#ifndef __clang__
#pragma GCC optimize("fp-contract=off") // the reference spells out every fma
#endif
#include "kernels/nf4_matmul.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define QR_HAVE_AVX2 1
#if defined(__GNUC__) || defined(__clang__)
#define QR_HAVE_AVX512 1
#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif
#endif

static inline float round_ct(float v, QrComputeType ct) {
    return ct == QR_COMPUTE_F16 ? qr_round_half(v) : ct == QR_COMPUTE_BF16 ? qr_round_bf16(v) : v;
}

static inline int canonical(const QrNF4 *w, QrComputeType ct) {
    return ct == QR_COMPUTE_F32 && w->cols % QR_NF4_BLOCK == 0;
}

// ---- scalar references ----------------------------------------------------------

// Row r in the canonical order (cols % 64 == 0).
static float dot_canonical(const QrNF4 *w, int64_t r, const float *x) {
    const int64_t nb = w->cols / QR_NF4_BLOCK;
    float acc[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        float s;
        qr_nf4_block_scales(w, r * nb + b, 1, &s);
        const uint8_t *pb = w->packed + (r * w->cols + b * QR_NF4_BLOCK) / 2;
        const float *xb = x + b * QR_NF4_BLOCK;
        for (int d = 0; d < 8; d++) {
            float s0 = 0.0f, s1 = 0.0f;
            for (int p = 0; p < 8; p++) {
                const uint8_t byte = pb[4 * d + p / 2];
                const float c = w->code[(p & 1) ? byte >> 4 : byte & 15];
                const float xv = xb[8 * d + (p ^ 1)];
                if (p & 1) s1 = fmaf(c, xv, s1);
                else s0 = fmaf(c, xv, s0);
            }
            const float t = s0 + s1;
            acc[d] = fmaf(t, s, acc[d]);
        }
    }
    const float a = (acc[0] + acc[4]) + (acc[2] + acc[6]);
    const float c = (acc[1] + acc[5]) + (acc[3] + acc[7]);
    return a + c;
}

// Row r dequantized weight by weight (any shape), a left-to-right sum.
static float dot_sequential(const QrNF4 *w, int64_t r, const float *x, QrComputeType ct) {
    const int64_t lo = r * w->cols, hi = lo + w->cols;
    float acc = 0.0f;
    for (int64_t i = lo; i < hi;) {
        const int64_t b = i / QR_NF4_BLOCK;
        const int64_t end = (b + 1) * QR_NF4_BLOCK < hi ? (b + 1) * QR_NF4_BLOCK : hi;
        float s;
        qr_nf4_block_scales(w, b, 1, &s);
        for (; i < end; i++) {
            const uint8_t byte = w->packed[i / 2];
            const float wv = round_ct(w->code[(i & 1) ? (byte & 15) : (byte >> 4)] * s, ct);
            const float p = round_ct(x[i - lo], ct) * wv;
            acc = acc + p;
        }
    }
    return round_ct(acc, ct);
}

void qr_nf4_matmul_ref(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y) {
    const int canon = canonical(w, ct);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < w->rows; r++)
        for (int64_t i = 0; i < m; i++)
            y[i * w->rows + r] = canon ? dot_canonical(w, r, x + i * w->cols) : dot_sequential(w, r, x + i * w->cols, ct);
}

// ---- block scales, decoded where they are used ---------------------------------
// The scales of one weight row: scale(b) = code2[absmax_q[b0 + b]] *
// absmax2[(b0 + b) / 256] + offset, two roundings as qr_nf4_block_scales
// (this file is compiled without FMA contraction). Decoding them inside the
// block loop costs a few scalar loads that overlap the vector work.
typedef struct {
    const uint8_t *aq; // absmax codes from the row's first block
    const float *a2, *code2;
    int64_t b0;        // index of the row's first block
    float offset;
} RowScales;

static inline RowScales row_scales(const QrNF4 *w, int64_t r) {
    const int64_t b0 = r * (w->cols / QR_NF4_BLOCK);
    return (RowScales){w->absmax_q + b0, w->absmax2, w->code2, b0, w->offset};
}

static inline float bscale(const RowScales *s, int64_t b) {
    const float v = s->code2[s->aq[b]] * s->a2[(uint64_t)(s->b0 + b) / QR_NF4_BLOCK2]; // unsigned: a plain shift
    return v + s->offset;
}

// ---- AVX2 -------------------------------------------------------------------------
#ifdef QR_HAVE_AVX2
enum { PF_AHEAD = 2048 }; // bytes of weights prefetched ahead in decode (best of 512, 2048, 4096)
static void permute_x(const float *x, int64_t cols, float *xp) {
    for (int64_t b = 0; b < cols; b += QR_NF4_BLOCK)
        for (int p = 0; p < 8; p++)
            for (int d = 0; d < 8; d++) xp[b + p * 8 + d] = x[b + 8 * d + (p ^ 1)];
}

// ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The 8 levels of nibble p of every lane of v.
#define NF4_LOOKUP(v, p, tlo, thi)                                                                      \
    _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo, _mm256_srli_epi32(v, 4 * (p))),                     \
                     _mm256_permutevar8x32_ps(thi, _mm256_srli_epi32(v, 4 * (p))),                     \
                     _mm256_castsi256_ps(_mm256_slli_epi32(v, 28 - 4 * (p))))

// s0 + s1 of one block: the two fma chains of the canonical order.
static inline __m256 block_sum(const __m256 c[8], const float *xb) {
    const __m256 z = _mm256_setzero_ps();
    __m256 s0 = _mm256_fmadd_ps(c[0], _mm256_loadu_ps(xb), z);
    __m256 s1 = _mm256_fmadd_ps(c[1], _mm256_loadu_ps(xb + 8), z);
    s0 = _mm256_fmadd_ps(c[2], _mm256_loadu_ps(xb + 16), s0);
    s1 = _mm256_fmadd_ps(c[3], _mm256_loadu_ps(xb + 24), s1);
    s0 = _mm256_fmadd_ps(c[4], _mm256_loadu_ps(xb + 32), s0);
    s1 = _mm256_fmadd_ps(c[5], _mm256_loadu_ps(xb + 40), s1);
    s0 = _mm256_fmadd_ps(c[6], _mm256_loadu_ps(xb + 48), s0);
    s1 = _mm256_fmadd_ps(c[7], _mm256_loadu_ps(xb + 56), s1);
    return _mm256_add_ps(s0, s1);
}

static inline void decode_codes(const uint8_t *src, __m256 tlo, __m256 thi, __m256 c[8]) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)src);
    c[0] = NF4_LOOKUP(v, 0, tlo, thi);
    c[1] = NF4_LOOKUP(v, 1, tlo, thi);
    c[2] = NF4_LOOKUP(v, 2, tlo, thi);
    c[3] = NF4_LOOKUP(v, 3, tlo, thi);
    c[4] = NF4_LOOKUP(v, 4, tlo, thi);
    c[5] = NF4_LOOKUP(v, 5, tlo, thi);
    c[6] = NF4_LOOKUP(v, 6, tlo, thi);
    c[7] = NF4_LOOKUP(v, 7, tlo, thi);
}

// Decode, blocks [b_first, b_first + nb) of one row. A thread's rows are
// contiguous, so reading them one after the other is a single stream that the
// prefetch keeps ahead of (two rows at a time, i.e. two streams, measured
// slower: ~75 vs ~60 ms of CPU per deepseek-coder-1.3b token on one core).
static __m256 matvec1_blocks_avx2(const uint8_t *wa, const RowScales *sa, int64_t b_first, const float *xp, int64_t nb,
                                  const float *code, __m256 acc) {
    const __m256 tlo = _mm256_loadu_ps(code), thi = _mm256_loadu_ps(code + 8);
    for (int64_t b = b_first; b < b_first + nb; b++) {
        if (!(b & 1)) _mm_prefetch((const char *)(wa + 32 * b + PF_AHEAD), _MM_HINT_T0);
        __m256 c[8];
        decode_codes(wa + 32 * b, tlo, thi, c);
        acc = _mm256_fmadd_ps(block_sum(c, xp + 64 * b), _mm256_set1_ps(bscale(sa, b)), acc);
    }
    return acc;
}

// Prefill / batch: one weight row against x rows [0, mc) of a chunk; each
// block's codes are decoded once and used for every x row.
enum { XCHUNK = 16 };
static void rows_chunk_avx2(const uint8_t *wa, const RowScales *sa, const float *xp, int64_t cols, int mc,
                            const float *code, float *out /* [mc] */) {
    const __m256 tlo = _mm256_loadu_ps(code), thi = _mm256_loadu_ps(code + 8);
    __m256 acc[XCHUNK];
    for (int i = 0; i < mc; i++) acc[i] = _mm256_setzero_ps();
    const int64_t nb = cols / QR_NF4_BLOCK;
    for (int64_t b = 0; b < nb; b++) {
        __m256 c[8];
        decode_codes(wa + 32 * b, tlo, thi, c);
        const __m256 sc = _mm256_set1_ps(bscale(sa, b));
        for (int i = 0; i < mc; i++) acc[i] = _mm256_fmadd_ps(block_sum(c, xp + i * cols + 64 * b), sc, acc[i]);
    }
    for (int i = 0; i < mc; i++) out[i] = hsum256(acc[i]);
}
#endif // QR_HAVE_AVX2

// ---- AVX-512 (decode) -----------------------------------------------------------
#ifdef QR_HAVE_AVX512
// x for the AVX-512 path: blocks in pairs, each pair's 128 values as
// [p][block of the pair][d], so that one 16-float load feeds nibble p of both
// blocks; a trailing unpaired block keeps the AVX2 layout.
static void permute_x_pairs(const float *x, int64_t cols, float *xp) {
    const int64_t nb = cols / QR_NF4_BLOCK;
    for (int64_t b = 0; b + 2 <= nb; b += 2)
        for (int p = 0; p < 8; p++)
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 8; d++)
                    xp[b * 64 + p * 16 + h * 8 + d] = x[(b + h) * 64 + 8 * d + (p ^ 1)];
    if (nb % 2) permute_x(x + (nb - 1) * 64, 64, xp + (nb - 1) * 64);
}

// One weight row, two blocks per step: lanes 0-7 block b, 8-15 block b+1. The
// halves are folded into the 8-lane accumulator one after the other, in block
// order (the canonical order).
AVX512_FN static float matvec_avx512(const uint8_t *wa, const RowScales *sa, const float *xp, int64_t nb,
                                     const float *code) {
    const __m512 t = _mm512_loadu_ps(code), z = _mm512_setzero_ps();
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        _mm_prefetch((const char *)(wa + 32 * b + PF_AHEAD), _MM_HINT_T0);
        const __m512i v = _mm512_loadu_si512((const void *)(wa + 32 * b));
        const float *xb = xp + 64 * b;
        __m512 s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(v, t), _mm512_loadu_ps(xb), z);
        __m512 s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), t), _mm512_loadu_ps(xb + 16), z);
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 8), t), _mm512_loadu_ps(xb + 32), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 12), t), _mm512_loadu_ps(xb + 48), s1);
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 16), t), _mm512_loadu_ps(xb + 64), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 20), t), _mm512_loadu_ps(xb + 80), s1);
        s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 24), t), _mm512_loadu_ps(xb + 96), s0);
        s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 28), t), _mm512_loadu_ps(xb + 112), s1);
        const __m512 s2 = _mm512_add_ps(s0, s1);
        acc = _mm256_fmadd_ps(_mm512_castps512_ps256(s2), _mm256_set1_ps(bscale(sa, b)), acc);
        acc = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s2, 1), _mm256_set1_ps(bscale(sa, b + 1)), acc);
    }
    if (b < nb) acc = matvec1_blocks_avx2(wa, sa, b, xp, 1, code, acc); // odd block count: AVX2 layout
    return hsum256(acc);
}
#endif

// ---- dispatch ---------------------------------------------------------------------
void qr_nf4_matmul(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y) {
    const int isa = qr_qisa();
    if (m <= 0) return;
#ifdef QR_HAVE_AVX2
    const int64_t rows = w->rows, cols = w->cols, nb = cols / QR_NF4_BLOCK;
    float *xp = NULL;
    if (isa != QR_ISA_SCALAR && canonical(w, ct)) xp = malloc(sizeof(float) * (size_t)(m * cols));
    if (!xp) {
        qr_nf4_matmul_ref(w, x, m, ct, y); // odd shape, half compute, scalar level, or no memory
        return;
    }
    const int use512 = isa == QR_ISA_AVX512 && m == 1;
#ifdef QR_HAVE_AVX512
    if (use512) permute_x_pairs(x, cols, xp);
    else
#endif
        for (int64_t i = 0; i < m; i++) permute_x(x + i * cols, cols, xp + i * cols);
#pragma omp parallel
    {
        if (m == 1) {
            // Decode: row by row, fused lookup + dot.
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) {
                const RowScales sa = row_scales(w, r);
                const uint8_t *wa = w->packed + r * cols / 2;
#ifdef QR_HAVE_AVX512
                if (use512) {
                    y[r] = matvec_avx512(wa, &sa, xp, nb, w->code);
                    continue;
                }
#endif
                y[r] = hsum256(matvec1_blocks_avx2(wa, &sa, 0, xp, nb, w->code, _mm256_setzero_ps()));
            }
        } else {
            // Prefill / batch: each block decoded once per weight row, used for every x row.
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) {
                const RowScales sa = row_scales(w, r);
                float out[XCHUNK];
                for (int64_t i0 = 0; i0 < m; i0 += XCHUNK) {
                    const int mc = (int)(m - i0 < XCHUNK ? m - i0 : XCHUNK);
                    rows_chunk_avx2(w->packed + r * cols / 2, &sa, xp + i0 * cols, cols, mc, w->code, out);
                    for (int i = 0; i < mc; i++) y[(i0 + i) * rows + r] = out[i];
                }
            }
        }
    }
    (void)use512;
    free(xp);
#else
    (void)isa;
    qr_nf4_matmul_ref(w, x, m, ct, y);
#endif
}
