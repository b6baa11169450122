// See kernels/nf4_matmul.h for the arithmetic. SIMD layout: a 64-element block
// is 32 packed bytes = eight 32-bit lanes; shifting every lane right by 4p
// exposes nibble p of each lane, i.e. elements 8d + (p^1) for d = 0..7. x is
// reordered once per call to match: xp[b*64 + p*8 + d] = x[b*64 + 8d + (p^1)].
// AVX2 looks the 16 levels up as four byte planes with vpshufb and joins the
// bytes into floats with unpacks; AVX-512 does it with one 16-lane vpermps over
// two blocks at once. The block scales of a row are decoded ahead, SC_CHUNK at
// a time, into a small array that the vector loop reads with broadcast loads
// (no shuffle-port work per block).
#ifndef __clang__
#pragma GCC optimize("fp-contract=off") // the reference spells out every fma
#endif
#include "kernels/nf4_matmul.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qisa.h"
#include "quant/half.h"
#include "util/bigalloc.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define QR_HAVE_AVX2 1
#if defined(__GNUC__) || defined(__clang__)
#define QR_HAVE_AVX512 1
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
    float acc[2][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        float sc;
        qr_nf4_block_scales(w, r * nb + b, 1, &sc);
        const uint8_t *pb = w->packed + (r * w->cols + b * QR_NF4_BLOCK) / 2;
        const float *xb = x + b * QR_NF4_BLOCK;
        for (int d = 0; d < 8; d++) {
            float s[2] = {0.0f, 0.0f}; // chains over even and odd nibbles
            for (int p = 0; p < 8; p++) {
                const uint8_t byte = pb[4 * d + p / 2];
                const float c = w->code[(p & 1) ? byte >> 4 : byte & 15];
                s[p & 1] = fmaf(c, xb[8 * d + (p ^ 1)], s[p & 1]);
            }
            const float t = s[0] + s[1];
            acc[b & 1][d] = fmaf(t, sc, acc[b & 1][d]);
        }
    }
    float t[8];
    for (int d = 0; d < 8; d++) t[d] = acc[0][d] + acc[1][d];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
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

// ---- block scales ------------------------------------------------------------------
// A row's scales are decoded SC_CHUNK blocks at a time (qr_nf4_block_scales:
// code2[absmax_q] * absmax2 + offset, two roundings) into a stack array; even,
// so that a block pair never straddles two chunks.
enum { SC_CHUNK = 64 };

// Scalar, for the AVX2 and prefill paths (AVX-512 decode: chunk_scales_avx512).
static inline void chunk_scales(const QrNF4 *w, int64_t bg, int64_t n, float *sc) {
    for (int64_t i = 0; i < n; i++) {
        const uint64_t b = (uint64_t)(bg + i);
        const float v = w->code2[w->absmax_q[b]] * w->absmax2[b / QR_NF4_BLOCK2]; // unsigned: a plain shift
        sc[i] = v + w->offset;
    }
}

// ---- AVX2 -------------------------------------------------------------------------
#ifdef QR_HAVE_AVX2
// Decode prefetch: into L1 2 KiB ahead of the weight stream and into L2 8 KiB
// ahead. Measured on two threads over 560 MB of NF4 weights on huge pages
// (bench/RESULTS.md): 42.0 G weights/s with the L1 prefetch alone, 44.8 with
// both; 4 and 16 KiB distances no better.
enum { PF_L1 = 2048, PF_L2 = 8192 };
// Columns of the 8x8 float matrix at m (row d = m[8d .. 8d+7]): t[j][d] = m[8d + j].
static inline void transpose8(const float *m, __m256 t[8]) {
    __m256 r[8], u[8];
    for (int d = 0; d < 8; d++) r[d] = _mm256_loadu_ps(m + 8 * d);
    for (int i = 0; i < 4; i++) {
        u[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);     // r0[0] r1[0] r0[1] r1[1] | [4] [5]
        u[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]); // [2] [3] | [6] [7]
    }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++) {
            const __m256 a = u[4 * i + k], b = u[4 * i + 2 + k]; // rows 4i..4i+3, column pairs 2k, 2k+1 (+4)
            r[4 * i + 2 * k] = _mm256_shuffle_ps(a, b, 0x44);     // column 2k of rows 4i..4i+3 | column 2k+4
            r[4 * i + 2 * k + 1] = _mm256_shuffle_ps(a, b, 0xEE); // column 2k+1 | 2k+5
        }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        t[j + 4] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
}

// xp[b*64 + p*8 + d] = x[b*64 + 8d + (p^1)]: per block, the columns of its 8x8
// matrix with neighbours swapped (a scalar loop took 1.8 us per 2048 values,
// ten such per layer while the other thread waited).
static void permute_x(const float *x, int64_t cols, float *xp) {
    for (int64_t b = 0; b < cols; b += QR_NF4_BLOCK) {
        __m256 t[8];
        transpose8(x + b, t);
        for (int p = 0; p < 8; p++) _mm256_storeu_ps(xp + b + p * 8, t[p ^ 1]);
    }
}

// ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The 16 levels as four byte planes (plane k: byte k of every level's float),
// each a 16-byte table in both 128-bit lanes, for vpshufb.
typedef struct {
    __m256i p[4];
} Nf4Planes;

static inline Nf4Planes planes_avx2(const float code[16]) {
    uint8_t b[4][16];
    for (int q = 0; q < 16; q++) {
        uint32_t u;
        memcpy(&u, &code[q], 4);
        for (int k = 0; k < 4; k++) b[k][q] = (uint8_t)(u >> (8 * k));
    }
    Nf4Planes t;
    for (int k = 0; k < 4; k++) t.p[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b[k]));
    return t;
}

// The levels of 32 nibble indices (one per byte of idx) as four vectors of 8
// floats: D_m lane L holds byte i = 4m + (L & 3) + 16 (L >> 2). 12 shuffles per
// 32 levels, but vpshufb and the unpacks issue on two ports (p1, p5) of recent
// Intel cores where vpermps has one; the former two vpermps + blendv per 8
// levels ran at 12.1 against 16.6 G weights/s here (bench/RESULTS.md).
static inline void levels32(__m256i idx, const Nf4Planes *t, __m256 d[4]) {
    const __m256i p0 = _mm256_shuffle_epi8(t->p[0], idx), p1 = _mm256_shuffle_epi8(t->p[1], idx);
    const __m256i p2 = _mm256_shuffle_epi8(t->p[2], idx), p3 = _mm256_shuffle_epi8(t->p[3], idx);
    const __m256i l01 = _mm256_unpacklo_epi8(p0, p1), h01 = _mm256_unpackhi_epi8(p0, p1);
    const __m256i l23 = _mm256_unpacklo_epi8(p2, p3), h23 = _mm256_unpackhi_epi8(p2, p3);
    d[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(l01, l23));
    d[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(l01, l23));
    d[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(h01, h23));
    d[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(h01, h23));
}

// The block's 32 bytes with a 4x4 byte transpose in each 128-bit lane, which
// puts byte 4L + m where levels32 reads it for D_m lane L.
static inline __m256i transpose_block(const uint8_t *src) {
    const __m256i tr = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, //
                                        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)src), tr);
}

// Levels of a transposed block v: odd = 0 gives d[m] lane d = nibble 2m of
// dword d (the low nibble of its byte m), odd = 1 nibble 2m + 1, i.e. nibble p
// of the file header's layout, element 8d + (p ^ 1) of the block.
static inline void nibble_levels(__m256i v, int odd, const Nf4Planes *t, __m256 d[4]) {
    levels32(_mm256_and_si256(odd ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0F)), t, d);
}

// One fma chain of the canonical order: sum over m of d[m] * x[16m .. 16m+7]
// (x at nibble 0 for the even-p chain, at nibble 1 for the odd one).
static inline __m256 chain4(const __m256 d[4], const float *x) {
    __m256 s = _mm256_fmadd_ps(d[0], _mm256_loadu_ps(x), _mm256_setzero_ps());
    s = _mm256_fmadd_ps(d[1], _mm256_loadu_ps(x + 16), s);
    s = _mm256_fmadd_ps(d[2], _mm256_loadu_ps(x + 32), s);
    return _mm256_fmadd_ps(d[3], _mm256_loadu_ps(x + 48), s);
}

// acc += block b's sum times its scale (AVX2 x layout): the even-p chain
// finished before the odd-p chain's levels are made, so that four levels are
// live at a time (all eight at once spilled, with 16 ymm registers: 9.8 vs
// 16.6 G weights/s).
static inline __m256 block_acc_avx2(const uint8_t *wa, int64_t b, const float *xp, float scale, const Nf4Planes *t,
                                    __m256 acc) {
    const __m256i v = transpose_block(wa + 32 * b);
    const float *xb = xp + 64 * b;
    __m256 d[4];
    nibble_levels(v, 0, t, d);
    const __m256 s0 = chain4(d, xb);
    nibble_levels(v, 1, t, d);
    const __m256 s1 = chain4(d, xb + 8);
    return _mm256_fmadd_ps(_mm256_add_ps(s0, s1), _mm256_set1_ps(scale), acc);
}

// Decode: one weight row (blocks bg0.. of the whole weight), rows read one
// after the other by a thread, i.e. a single stream that the prefetch keeps
// ahead of (two rows at a time, i.e. two streams, measured slower: ~75 vs ~60
// ms of CPU per deepseek-coder-1.3b token on one core).
static float matvec_avx2(const QrNF4 *w, const Nf4Planes *t, const uint8_t *wa, int64_t bg0, const float *xp,
                         int64_t nb) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float sc[SC_CHUNK];
    for (int64_t c0 = 0; c0 < nb; c0 += SC_CHUNK) {
        const int64_t cn = nb - c0 < SC_CHUNK ? nb - c0 : SC_CHUNK;
        chunk_scales(w, bg0 + c0, cn, sc);
        int64_t j = 0;
        for (; j + 2 <= cn; j += 2) {
            const int64_t b = c0 + j;
            _mm_prefetch((const char *)(wa + 32 * b + PF_L1), _MM_HINT_T0);
            _mm_prefetch((const char *)(wa + 32 * b + PF_L2), _MM_HINT_T1);
            acc0 = block_acc_avx2(wa, b, xp, sc[j], t, acc0);
            acc1 = block_acc_avx2(wa, b + 1, xp, sc[j + 1], t, acc1);
        }
        if (j < cn) acc0 = block_acc_avx2(wa, c0 + j, xp, sc[j], t, acc0); // odd block count
    }
    return hsum256(_mm256_add_ps(acc0, acc1));
}

// Prefill / batch: one weight row against x rows [0, mc) of a chunk; each
// block's codes are decoded once and used for every x row.
enum { XCHUNK = 16 };
static void rows_chunk_avx2(const QrNF4 *w, const Nf4Planes *t, const uint8_t *wa, int64_t bg0, const float *xp,
                            int64_t cols, int mc, float *out /* [mc] */) {
    __m256 acc[2][XCHUNK];
    for (int i = 0; i < mc; i++) acc[0][i] = acc[1][i] = _mm256_setzero_ps();
    const int64_t nb = cols / QR_NF4_BLOCK;
    float sc[SC_CHUNK];
    for (int64_t b = 0; b < nb; b++) {
        if (b % SC_CHUNK == 0) chunk_scales(w, bg0 + b, nb - b < SC_CHUNK ? nb - b : SC_CHUNK, sc);
        const __m256i v = transpose_block(wa + 32 * b);
        __m256 lo[4], hi[4];
        nibble_levels(v, 0, t, lo);
        nibble_levels(v, 1, t, hi);
        const __m256 s = _mm256_set1_ps(sc[b % SC_CHUNK]);
        __m256 *a = acc[b & 1];
        for (int i = 0; i < mc; i++) {
            const float *xb = xp + i * cols + 64 * b;
            a[i] = _mm256_fmadd_ps(_mm256_add_ps(chain4(lo, xb), chain4(hi, xb + 8)), s, a[i]);
        }
    }
    for (int i = 0; i < mc; i++) out[i] = hsum256(_mm256_add_ps(acc[0][i], acc[1][i]));
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
        for (int h = 0; h < 2; h++) {
            __m256 t[8];
            transpose8(x + (b + h) * 64, t);
            for (int p = 0; p < 8; p++) _mm256_storeu_ps(xp + b * 64 + p * 16 + h * 8, t[p ^ 1]);
        }
    if (nb % 2) permute_x(x + (nb - 1) * 64, 64, xp + (nb - 1) * 64);
}

// The same scales, 16 at a time: the absmax codes widened and looked up in
// code2 with a gather; absmax2 broadcast (blended where the 16 blocks cross a
// group of 256). Scalar per block this costs two p0 uops per block, as much
// as a sixth of a short row's vector work.
QR_AVX512_FN static inline void chunk_scales_avx512(const QrNF4 *w, int64_t bg, int64_t n, float *sc) {
    const __m512 off = _mm512_set1_ps(w->offset);
    for (int64_t i = 0; i < n; i += 16) {
        const int k = n - i < 16 ? (int)(n - i) : 16;
        const __mmask16 m = (__mmask16)((1u << k) - 1);
        const uint64_t b = (uint64_t)(bg + i), g = b / QR_NF4_BLOCK2;
        const __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w->absmax_q + b));
        const __m512 c2 = _mm512_i32gather_ps(q, w->code2, 4);
        __m512 a2 = _mm512_set1_ps(w->absmax2[g]);
        const int first = QR_NF4_BLOCK2 - (int)(b % QR_NF4_BLOCK2); // lanes still in group g
        if (first < k) a2 = _mm512_mask_blend_ps((__mmask16)(0xFFFFu << first), a2, _mm512_set1_ps(w->absmax2[g + 1]));
        _mm512_mask_storeu_ps(sc + i, m, _mm512_add_ps(_mm512_mul_ps(c2, a2), off));
    }
}

// One weight row, two blocks per step: lanes 0-7 block b (even), 8-15 block
// b+1, so the 16-lane accumulator holds acc[0] and acc[1] of the canonical
// order and each half takes its block's scale by a masked fma whose scale is a
// broadcast load.
QR_AVX512_FN static float matvec_avx512(const QrNF4 *w, const Nf4Planes *pl, const uint8_t *wa, int64_t bg0,
                                        const float *xp, int64_t nb) {
    const __m512 t = _mm512_loadu_ps(w->code), z = _mm512_setzero_ps();
    __m512 acc = z;
    float sc[SC_CHUNK];
    for (int64_t c0 = 0; c0 < nb; c0 += SC_CHUNK) {
        const int64_t cn = nb - c0 < SC_CHUNK ? nb - c0 : SC_CHUNK;
        chunk_scales_avx512(w, bg0 + c0, cn, sc);
        int64_t j = 0;
        for (; j + 2 <= cn; j += 2) {
            const int64_t b = c0 + j;
            _mm_prefetch((const char *)(wa + 32 * b + PF_L1), _MM_HINT_T0);
            _mm_prefetch((const char *)(wa + 32 * b + PF_L2), _MM_HINT_T1);
            const __m512i v = _mm512_loadu_si512((const void *)(wa + 32 * b));
            const float *xb = xp + 64 * b;
            // Two chains (even and odd nibbles): one chain of eight dependent fmas
            // is latency-bound (llvm-mca: 18.4 vs 13.7 cycles per pair; measured
            // 22.6 vs 23.6 G weights/s on one thread with the weight in L2).
            __m512 s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(v, t), _mm512_loadu_ps(xb), z);
            __m512 s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), t), _mm512_loadu_ps(xb + 16), z);
            s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 8), t), _mm512_loadu_ps(xb + 32), s0);
            s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 12), t), _mm512_loadu_ps(xb + 48), s1);
            s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 16), t), _mm512_loadu_ps(xb + 64), s0);
            s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 20), t), _mm512_loadu_ps(xb + 80), s1);
            s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 24), t), _mm512_loadu_ps(xb + 96), s0);
            s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 28), t), _mm512_loadu_ps(xb + 112), s1);
            const __m512 s = _mm512_add_ps(s0, s1);
            acc = _mm512_mask3_fmadd_ps(s, _mm512_set1_ps(sc[j]), acc, 0x00FF);
            acc = _mm512_mask3_fmadd_ps(s, _mm512_set1_ps(sc[j + 1]), acc, 0xFF00);
        }
        if (j < cn) { // odd block count: the last (even) block, AVX2 layout, into acc[0]
            const __m256 lo = block_acc_avx2(wa, c0 + j, xp, sc[j], pl, _mm512_castps512_ps256(acc));
            acc = _mm512_insertf32x8(acc, lo, 0);
        }
    }
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)));
}
#endif

// ---- dispatch ---------------------------------------------------------------------
enum { MULTI_MAX = 4 };

// Rows of all k weights as one range, so that one parallel pass (one thread
// hand-off) serves them all; each output row is computed exactly as alone.
static void matmul_fast(const QrNF4 *const *w, int k, const float *x, int64_t m, float *const *y, int isa) {
#ifdef QR_HAVE_AVX2
    const int64_t cols = w[0]->cols, nb = cols / QR_NF4_BLOCK;
    int64_t off[MULTI_MAX + 1] = {0};
    for (int i = 0; i < k; i++) off[i + 1] = off[i] + w[i]->rows;
    // Decode: each thread reorders x into its own copy, in parallel, rather
    // than one thread for both: the other thread then fetched the whole copy
    // from the first one's cache (a 2 x 5504 matvec took 8.7 us on two threads
    // against 4.6 on one). Prefill: one shared copy, reordered row-parallel.
    const int nt = m == 1 ? omp_get_max_threads() : 1;
    const int64_t xstride = (m * cols + 15) / 16 * 16; // whole cache lines per copy
    float *xbuf = qr_alloc_lines(sizeof(float) * (size_t)(xstride * nt));
    if (!xbuf) { // no memory for the reordered x: the reference
        for (int i = 0; i < k; i++) qr_nf4_matmul_ref(w[i], x, m, QR_COMPUTE_F32, y[i]);
        return;
    }
    const int use512 = isa == QR_ISA_AVX512 && m == 1;
    Nf4Planes planes[MULTI_MAX]; // the level tables, once per call rather than per row
    for (int i = 0; i < k; i++) planes[i] = planes_avx2(w[i]->code);
#pragma omp parallel
    {
        if (m == 1) {
            float *xp = xbuf + xstride * omp_get_thread_num(); // team size <= nt
#ifdef QR_HAVE_AVX512
            if (use512) permute_x_pairs(x, cols, xp);
            else
#endif
                permute_x(x, cols, xp);
            // Decode: row by row, fused lookup + dot.
#pragma omp for schedule(static)
            for (int64_t g = 0; g < off[k]; g++) {
                int i = 0;
                while (g >= off[i + 1]) i++;
                const QrNF4 *wi = w[i];
                const int64_t r = g - off[i];
                const uint8_t *wa = wi->packed + r * cols / 2;
#ifdef QR_HAVE_AVX512
                if (use512) {
                    y[i][r] = matvec_avx512(wi, &planes[i], wa, r * nb, xp, nb);
                    continue;
                }
#endif
                y[i][r] = matvec_avx2(wi, &planes[i], wa, r * nb, xp, nb);
            }
        } else {
            // Prefill / batch: each block decoded once per weight row, used for every x row.
            float *xp = xbuf;
#pragma omp for schedule(static)
            for (int64_t i = 0; i < m; i++) permute_x(x + i * cols, cols, xp + i * cols);
#pragma omp for schedule(static)
            for (int64_t g = 0; g < off[k]; g++) {
                int i = 0;
                while (g >= off[i + 1]) i++;
                const QrNF4 *wi = w[i];
                const int64_t r = g - off[i], rows = wi->rows;
                float out[XCHUNK];
                for (int64_t i0 = 0; i0 < m; i0 += XCHUNK) {
                    const int mc = (int)(m - i0 < XCHUNK ? m - i0 : XCHUNK);
                    rows_chunk_avx2(wi, &planes[i], wi->packed + r * cols / 2, r * nb, xp + i0 * cols, cols, mc, out);
                    for (int j = 0; j < mc; j++) y[i][(i0 + j) * rows + r] = out[j];
                }
            }
        }
    }
    (void)use512;
    free(xbuf);
#else
    (void)w, (void)k, (void)x, (void)m, (void)y, (void)isa;
#endif
}

void qr_nf4_matmul_multi(const QrNF4 *const *w, int k, const float *x, int64_t m, QrComputeType ct, float *const *y) {
    if (m <= 0 || k <= 0) return;
    const int isa = qr_qisa();
    int fast = isa != QR_ISA_SCALAR && k <= MULTI_MAX;
#ifndef QR_HAVE_AVX2
    fast = 0;
#endif
    for (int i = 0; i < k && fast; i++) fast = canonical(w[i], ct) && w[i]->cols == w[0]->cols;
    if (fast) {
        matmul_fast(w, k, x, m, y, isa);
        return;
    }
    for (int i = 0; i < k; i++) { // odd shape, half compute, scalar level, different widths
        if (k > 1) qr_nf4_matmul_multi(&w[i], 1, x, m, ct, &y[i]);
        else qr_nf4_matmul_ref(w[i], x, m, ct, y[i]);
    }
}

void qr_nf4_matmul(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y) {
    qr_nf4_matmul_multi(&w, 1, x, m, ct, &y);
}
