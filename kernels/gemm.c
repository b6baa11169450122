#include "kernels/gemm.h"
#include "kernels/qisa.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __AVX2__
#include <immintrin.h>
#endif

// A fused multiply-add where the hardware has one. The portable build (no FMA)
// rounds twice; it is then its own reference (scalar = "fast" path there).
#ifdef __FMA__
#define QR_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define QR_FMA(a, b, c) ((a) * (b) + (c))
#endif

static inline float w_at(QrDType wt, const void *W, size_t i) {
    switch (wt) {
    case QR_DT_BF16: return qr_bf16_to_f32(((const uint16_t *)W)[i]);
    case QR_DT_F16: return qr_f16_to_f32(((const uint16_t *)W)[i]);
    default: return ((const float *)W)[i];
    }
}

static inline float hsum8_ref(const float s[8]) {
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

void qr_gemm_ref(QrDType wt, const void *W, int out, int in, const float *x, int n, float *y) {
    for (int r = 0; r < n; r++)
        for (int c = 0; c < out; c++) {
            float s[8] = {0};
            const float *xr = x + (size_t)r * in;
            size_t wo = (size_t)c * in;
            for (int k = 0; k < in; k++) s[k & 7] = QR_FMA(xr[k], w_at(wt, W, wo + k), s[k & 7]);
            y[(size_t)r * out + c] = hsum8_ref(s);
        }
}

float qr_dot_ref(const float *a, const float *b, int n) {
    float s[8] = {0};
    for (int k = 0; k < n; k++) s[k & 7] = QR_FMA(a[k], b[k], s[k & 7]);
    return hsum8_ref(s);
}

// Atomic: the first call can come from inside a parallel region.
static _Atomic int g_decode_rows;

static int default_decode_rows(void) {
    const char *env = getenv("QROBUST_DECODE_ROWS");
    if (env && (!strcmp(env, "1") || !strcmp(env, "8"))) return atoi(env);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return 1;
#endif
    return 8;
}

int qr_gemm_decode_rows(void) {
    int v = atomic_load_explicit(&g_decode_rows, memory_order_relaxed);
    if (!v) {
        v = default_decode_rows();
        atomic_store_explicit(&g_decode_rows, v, memory_order_relaxed);
    }
    return v;
}

void qr_gemm_set_decode_rows(int rows) {
    atomic_store_explicit(&g_decode_rows, rows == 1 || rows == 8 ? rows : 0, memory_order_relaxed);
}

#ifndef __AVX2__
void qr_axpy(float a, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] = QR_FMA(a, x[i], y[i]);
}
void qr_gemm(QrDType wt, const void *W, int out, int in, const float *x, int n, float *y) {
    // Portable build: the reference, split across threads by output row.
#pragma omp parallel for schedule(static)
    for (int c = 0; c < out; c++)
        for (int r = 0; r < n; r++) {
            float s[8] = {0};
            const float *xr = x + (size_t)r * in;
            for (int k = 0; k < in; k++) s[k & 7] = QR_FMA(xr[k], w_at(wt, W, (size_t)c * in + k), s[k & 7]);
            y[(size_t)r * out + c] = hsum8_ref(s);
        }
}
float qr_dot(const float *a, const float *b, int n) { return qr_dot_ref(a, b, n); }
#else

static inline float hsum8(__m256 v) {
    // Same tree as hsum8_ref: (s0+s4, s1+s5, s2+s6, s3+s7) -> (a0+a2, a1+a3) -> sum.
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

// Eight weights starting at element k of a row, as f32.
static inline __attribute__((always_inline)) __m256 load_w8(QrDType wt, const void *row, int k) {
    switch (wt) {
    case QR_DT_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case QR_DT_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    default: return _mm256_loadu_ps((const float *)row + k);
    }
}

static inline size_t wsize(QrDType wt) { return wt == QR_DT_F32 ? 4 : 2; }

// One register tile: R activation rows x C weight rows over the full depth.
// R and C are compile-time constants in every instantiation below, so the
// accumulator array lives in registers.
static inline __attribute__((always_inline)) void tile(QrDType wt, const float *x, int in, const void *W, int out,
                                                       int r0, int c0, float *y, const int R, const int C) {
    __m256 acc[4][8];
    const void *wr[8];
    const float *xr[4];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) wr[c] = (const char *)W + (size_t)(c0 + c) * in * wsize(wt);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) xr[r] = x + (size_t)(r0 + r) * in;
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    // Decode's 8-row tiles prefetch the same line of the next tile's rows (the
    // hardware prefetcher alone ramps up too late on 8 short streams). Measured
    // on the Ice Lake VM, 110M model: bf16 decode 54-57% -> 76-78% of the read
    // bandwidth, f32 91% -> 93-95% (16 rows ahead: no better; 1-4 KB ahead: worse).
    const size_t pf = (size_t)8 * in * wsize(wt);
    int k = 0;
    // Unrolled (same accumulators, same order): fewer loop µops per row lets
    // the core keep more rows' FMA chains in flight.
#pragma GCC unroll 4
    for (; k + 8 <= in; k += 8) {
        __m256 xv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_ps(xr[r] + k);
        if (C == 8 && R == 1 && k % (int)(64 / wsize(wt)) == 0) {
#pragma GCC unroll 8
            for (int c = 0; c < C; c++) _mm_prefetch((const char *)wr[c] + (size_t)k * wsize(wt) + pf, _MM_HINT_T0);
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            __m256 wv = load_w8(wt, wr[c], k);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
        }
    }
    if (k < in) {
        // Tail: zero-padded copies, so lane j still gets exactly the k with k % 8 == j.
        int m = in - k;
        float xt[4][8] = {{0}}, wt8[8][8] = {{0}};
        for (int r = 0; r < R; r++) memcpy(xt[r], xr[r] + k, (size_t)m * 4);
        for (int c = 0; c < C; c++)
            for (int j = 0; j < m; j++) wt8[c][j] = w_at(wt, wr[c], (size_t)k + j);
        for (int c = 0; c < C; c++) {
            __m256 wv = _mm256_loadu_ps(wt8[c]);
            for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(xt[r]), wv, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) y[(size_t)(r0 + r) * out + c0 + c] = hsum8(acc[r][c]);
}

// Instantiations, one set per weight format (the format is a compile-time
// constant inside each, so the conversion is straight-line code): the decode
// shapes (one activation row against one weight row, or 8 weight rows = 8
// independent FMA chains), and the prefill shape (3 x 4 =
// 12 accumulators + 3 activations + 1 weight = the 16 ymm registers), plus the
// edges.
typedef void (*TileFn)(const float *, int, const void *, int, int, int, float *);
typedef void (*RowsFn)(const float *, int, const void *, int, int, int, float *);
typedef struct {
    RowsFn rows1;
    TileFn t18, t14, t11, t24, t21, t34, t31;
} TileSet;

#define TILE_FN(DT, S, R, C)                                                                                   \
    static void tile_##S##_##R##_##C(const float *x, int in, const void *W, int out, int r0, int c0, float *y) { \
        tile(DT, x, in, W, out, r0, c0, y, R, C);                                                              \
    }
#define TILE_SET(DT, S)                                                                                        \
    static void rows1_##S(const float *x, int in, const void *W, int out, int c0, int c1, float *y) {          \
        for (int c = c0; c < c1; c++) tile(DT, x, in, W, out, 0, c, y, 1, 1);                                 \
    }                                                                                                          \
    TILE_FN(DT, S, 1, 8)                                                                                       \
    TILE_FN(DT, S, 1, 4)                                                                                       \
    TILE_FN(DT, S, 1, 1)                                                                                       \
    TILE_FN(DT, S, 2, 4)                                                                                       \
    TILE_FN(DT, S, 2, 1)                                                                                       \
    TILE_FN(DT, S, 3, 4)                                                                                       \
    TILE_FN(DT, S, 3, 1)                                                                                       \
    static const TileSet TILES_##S = {rows1_##S, tile_##S##_1_8, tile_##S##_1_4, tile_##S##_1_1, tile_##S##_2_4,          \
                                      tile_##S##_2_1, tile_##S##_3_4, tile_##S##_3_1};
TILE_SET(QR_DT_F32, f32)
TILE_SET(QR_DT_BF16, bf16)
TILE_SET(QR_DT_F16, f16)

// ---- AVX-512 prefill / batch -------------------------------------------------
// One 16-lane FMA serves two activation rows against one weight row: lanes
// 0-7 are row r's eight lane sums, lanes 8-15 row r+1's, each the same chain as
// in the AVX2 tiles (k % 8 == lane, increasing k, from +0, the same zero-padded
// tail), so the bits are those of the reference. x is packed once per call into
// row pairs, [pair][k / 8][row of the pair][8] (zero-padded to a multiple of 8
// in k and to an even row count); each weight chunk of 8 is loaded into both
// halves. Tiles of 3 pairs x 8 weight rows: 24 accumulators + 3 x + 1 w of the
// 32 registers. Taken when the CPU has AVX-512 (kernels/qisa.h) and n > 1;
// measured on the Ice Lake VM: see bench/RESULTS.md (engine section).
#if defined(__GNUC__) || defined(__clang__)
#define QR_GEMM_AVX512 1

// Eight weights from element k of a row (k + 8 <= in), in both halves.
QR_AVX512_FN static inline __attribute__((always_inline)) __m512 load_w16(QrDType wt, const void *row, int k) {
    switch (wt) {
    case QR_DT_BF16: {
        const __m256i h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case QR_DT_F16:
        return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k))));
    default: return _mm512_broadcast_f32x8(_mm256_loadu_ps((const float *)row + k));
    }
}

// The last, partial chunk of 8 (m < 8 weights), zero-padded, in both halves.
QR_AVX512_FN static inline __m512 load_w16_tail(QrDType wt, const void *row, int k, int m) {
    float t[8] = {0};
    for (int j = 0; j < m; j++) t[j] = w_at(wt, row, (size_t)k + j);
    return _mm512_broadcast_f32x8(_mm256_loadu_ps(t));
}

QR_AVX512_FN static inline float hsum8_512lo(__m512 v) { return hsum8(_mm512_castps512_ps256(v)); }
QR_AVX512_FN static inline float hsum8_512hi(__m512 v) { return hsum8(_mm512_extractf32x8_ps(v, 1)); }

// P row pairs (from pair p0) x C weight rows (from c0). xp: packed x, kc
// chunks of 8 per pair (the last possibly partial: `in` says).
QR_AVX512_FN static inline __attribute__((always_inline)) void tile512(QrDType wt, const float *xp, int kc, int in,
                                                                    const void *W, int out, int n, int p0, int c0,
                                                                    float *y, const int P, const int C) {
    __m512 acc[3][8];
    const void *wr[8];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) wr[c] = (const char *)W + (size_t)(c0 + c) * in * wsize(wt);
#pragma GCC unroll 3
    for (int p = 0; p < P; p++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) acc[p][c] = _mm512_setzero_ps();
    const int full = in / 8;
    for (int q = 0; q < kc; q++) {
        __m512 xv[3];
#pragma GCC unroll 3
        for (int p = 0; p < P; p++) xv[p] = _mm512_loadu_ps(xp + ((size_t)(p0 + p) * kc + q) * 16);
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const __m512 wv = q < full ? load_w16(wt, wr[c], 8 * q) : load_w16_tail(wt, wr[c], 8 * q, in - 8 * q);
#pragma GCC unroll 3
            for (int p = 0; p < P; p++) acc[p][c] = _mm512_fmadd_ps(xv[p], wv, acc[p][c]);
        }
    }
#pragma GCC unroll 3
    for (int p = 0; p < P; p++) {
        const int r = 2 * (p0 + p);
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            y[(size_t)r * out + c0 + c] = hsum8_512lo(acc[p][c]);
            if (r + 1 < n) y[(size_t)(r + 1) * out + c0 + c] = hsum8_512hi(acc[p][c]);
        }
    }
}

// Output rows [c_begin, c_end) for all n activation rows: weight-row blocks
// that stay in L2 while every pair tile passes over them, as gemm_rows.
QR_AVX512_FN static inline __attribute__((always_inline)) void rows512(QrDType wt, const float *xp, int kc, int in,
                                                                    const void *W, int out, int n, int c_begin,
                                                                    int c_end, float *y) {
    const int np = (n + 1) / 2, CB = 64;
    for (int cb = c_begin; cb < c_end; cb += CB) {
        const int ce = cb + CB < c_end ? cb + CB : c_end;
        for (int p = 0; p < np; p += 3) {
            const int P = np - p >= 3 ? 3 : np - p;
            int c = cb;
            for (; c + 8 <= ce; c += 8) {
                if (P == 3) tile512(wt, xp, kc, in, W, out, n, p, c, y, 3, 8);
                else if (P == 2) tile512(wt, xp, kc, in, W, out, n, p, c, y, 2, 8);
                else tile512(wt, xp, kc, in, W, out, n, p, c, y, 1, 8);
            }
            for (; c < ce; c++) {
                if (P == 3) tile512(wt, xp, kc, in, W, out, n, p, c, y, 3, 1);
                else if (P == 2) tile512(wt, xp, kc, in, W, out, n, p, c, y, 2, 1);
                else tile512(wt, xp, kc, in, W, out, n, p, c, y, 1, 1);
            }
        }
    }
}

// One instantiation per weight format (the format a constant inside).
#define ROWS512(DT, S)                                                                                         \
    QR_AVX512_FN static void rows512_##S(const float *xp, int kc, int in, const void *W, int out, int n, int cb,   \
                                      int ce, float *y) {                                                      \
        rows512(DT, xp, kc, in, W, out, n, cb, ce, y);                                                         \
    }
ROWS512(QR_DT_F32, f32)
ROWS512(QR_DT_BF16, bf16)
ROWS512(QR_DT_F16, f16)

// x[n, in] packed as [pair][chunk of 8][row of the pair][8], zero-padded; NULL
// if out of memory (the caller then takes the AVX2 path).
static float *pack_pairs(const float *x, int n, int in, int kc) {
    const int np = (n + 1) / 2;
    float *xp = calloc((size_t)np * kc * 16, sizeof *xp);
    if (!xp) return NULL;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < in; k++) xp[((size_t)(r / 2) * kc + k / 8) * 16 + (r % 2) * 8 + k % 8] = x[(size_t)r * in + k];
    return xp;
}
#endif

// Output rows [c_begin, c_end) for all n activation rows.
static void gemm_rows(const TileSet *T, const void *W, int out, int in, const float *x, int n, float *y,
                      int c_begin, int c_end) {
    if (n == 1) {
        // Decode, rows one or eight at a time (qr_gemm_decode_rows). One row: each
        // thread reads ONE sequential stream, and the FMA chain of a row (in/8
        // dependent steps) overlaps with the next row's out of order.
        int c = c_begin;
        if (qr_gemm_decode_rows() == 8)
            for (; c + 8 <= c_end; c += 8) T->t18(x, in, W, out, 0, c, y);
        T->rows1(x, in, W, out, c, c_end, y);
        return;
    }
    // Blocks of weight rows small enough to stay in L2 while every activation
    // tile passes over them; within a block, 3-row activation tiles (L1).
    const int CB = 64;
    for (int cb = c_begin; cb < c_end; cb += CB) {
        int ce = cb + CB < c_end ? cb + CB : c_end;
        for (int r = 0; r < n; r += 3) {
            int R = n - r >= 3 ? 3 : n - r;
            TileFn f4 = R == 3 ? T->t34 : R == 2 ? T->t24 : T->t14;
            TileFn f1 = R == 3 ? T->t31 : R == 2 ? T->t21 : T->t11;
            int c = cb;
            for (; c + 4 <= ce; c += 4) f4(x, in, W, out, r, c, y);
            for (; c < ce; c++) f1(x, in, W, out, r, c, y);
        }
    }
}

void qr_gemm(QrDType wt, const void *W, int out, int in, const float *x, int n, float *y) {
    const TileSet *T = wt == QR_DT_BF16 ? &TILES_bf16 : wt == QR_DT_F16 ? &TILES_f16 : &TILES_f32;
    float *xp = NULL; // packed row pairs: the AVX-512 path (n > 1)
    const int kc = (in + 7) / 8;
#ifdef QR_GEMM_AVX512
    if (n > 1 && qr_qisa() == QR_ISA_AVX512) xp = pack_pairs(x, n, in, kc);
#endif
    // Split output rows evenly (in multiples of 8) across threads: each output
    // element is computed by one thread, so the thread count never changes bits.
#pragma omp parallel
    {
        int nt = 1, t = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        int units = (out + 7) / 8;
        int ub = (int)((long)units * t / nt), ue = (int)((long)units * (t + 1) / nt);
        int cb = ub * 8, ce = ue * 8 < out ? ue * 8 : out;
        if (cb < ce && !xp) gemm_rows(T, W, out, in, x, n, y, cb, ce);
#ifdef QR_GEMM_AVX512
        if (cb < ce && xp)
            (wt == QR_DT_BF16 ? rows512_bf16 : wt == QR_DT_F16 ? rows512_f16 : rows512_f32)(xp, kc, in, W, out, n, cb,
                                                                                            ce, y);
#endif
    }
    free(xp);
}

// Element-wise, so the same bits as the scalar loop; written out because the
// compiler does not vectorize it at -O2 (x and y may alias), and attention
// calls it once per cached position and head (6% of the samples of a 128-step
// deepseek-coder-1.3b nf4 decode when scalar).
void qr_axpy(float a, const float *x, float *y, int n) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = QR_FMA(a, x[i], y[i]);
}

float qr_dot(const float *a, const float *b, int n) {
    __m256 acc = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    if (k < n) {
        float at[8] = {0}, bt[8] = {0};
        memcpy(at, a + k, (size_t)(n - k) * 4);
        memcpy(bt, b + k, (size_t)(n - k) * 4);
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(at), _mm256_loadu_ps(bt), acc);
    }
    return hsum8(acc);
}
#endif
