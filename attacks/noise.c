// Weight noise (see noise.h for the exact algorithm). Every floating-point
// operation here is written so that no multiply can be fused with an add by the
// compiler (products only feed other products, sqrt, or an explicit fmaf), so
// -ffp-contract=fast, -march=x86-64-v3 and PORTABLE=1 all give the same bits.
#include "attacks/noise.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/rng.h"

// Float constants, written in hex so that a port reads the very same values.
#define K_SQRT2 0x1.6a09e6p+0f
#define K_LN2 0x1.62e430p-1f
#define K_I3 0x1.555556p-2f
#define K_I5 0x1.99999ap-3f
#define K_I7 0x1.24924ap-3f
#define K_I9 0x1.c71c72p-4f
#define K_I11 0x1.745d18p-4f
#define K_PI_2_23 0x1.921fb6p-22f // pi / 2^23: t = r * pi/2^23 maps r in [0, 2^21] to [0, pi/4]
#define K_S3 -0x1.555556p-3f      // -1/3!
#define K_S5 0x1.111112p-7f       //  1/5!
#define K_S7 -0x1.a01a02p-13f     // -1/7!
#define K_S9 0x1.71de3ap-19f      //  1/9!
#define K_C2 -0x1.000000p-1f      // -1/2!
#define K_C4 0x1.555556p-5f       //  1/4!
#define K_C6 -0x1.6c16c2p-10f     // -1/6!
#define K_C8 0x1.a01a02p-16f      //  1/8!
#define K_C10 -0x1.27e4fcp-22f    // -1/10!
#define K_2M24 0x1p-24f

float qr_noise_ln_u(uint32_t m) {
    int e = 31 - __builtin_clz(m);
    float f = ldexpf((float)m, -e); // m < 2^25 is exact in float; scaling by 2^-e is exact
    if (f > K_SQRT2) {
        f = f * 0.5f;
        e += 1;
    }
    float s = (f - 1.0f) / (f + 1.0f);
    float t = s * s;
    float p = fmaf(t, K_I11, K_I9);
    p = fmaf(t, p, K_I7);
    p = fmaf(t, p, K_I5);
    p = fmaf(t, p, K_I3);
    p = fmaf(t, p, 1.0f);
    float lnf = (s + s) * p;
    return fmaf((float)(e - 24), K_LN2, lnf);
}

void qr_noise_cossin(uint32_t k2, float *c, float *s) {
    uint32_t q = k2 >> 22, r = k2 & 0x3FFFFFu;
    int swap = r > (1u << 21);
    uint32_t rr = swap ? (1u << 22) - r : r;
    float t = (float)rr * K_PI_2_23;
    float t2 = t * t;
    float ps = fmaf(t2, K_S9, K_S7);
    ps = fmaf(t2, ps, K_S5);
    ps = fmaf(t2, ps, K_S3);
    float t3 = t * t2;
    float sn = fmaf(t3, ps, t);
    float pc = fmaf(t2, K_C10, K_C8);
    pc = fmaf(t2, pc, K_C6);
    pc = fmaf(t2, pc, K_C4);
    pc = fmaf(t2, pc, K_C2);
    float cs = fmaf(t2, pc, 1.0f);
    if (swap) {
        float tmp = sn;
        sn = cs;
        cs = tmp;
    }
    switch (q) {
    case 0: *c = cs, *s = sn; break;
    case 1: *c = -sn, *s = cs; break;
    case 2: *c = -cs, *s = -sn; break;
    default: *c = sn, *s = -cs; break;
    }
}

static inline float uniform_unit(uint32_t x) {
    int32_t k = (int32_t)(x >> 8);
    return (float)(2 * k + 1 - (1 << 24)) * K_2M24;
}

void qr_noise_block(const QrNoiseKey *k, uint64_t block, float out[4]) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0}, x[4];
    qr_philox4x32_10(ctr, k->key, x);
    if (k->dist == QR_NOISE_UNIFORM) {
        for (int j = 0; j < 4; j++) out[j] = k->level * uniform_unit(x[j]);
        return;
    }
    for (int a = 0; a < 4; a += 2) {
        float lnu = qr_noise_ln_u((x[a] >> 8) + 1);
        float R = sqrtf(-2.0f * lnu);
        float c, s;
        qr_noise_cossin(x[a + 1] >> 8, &c, &s);
        float z0 = R * c, z1 = R * s;
        out[a] = k->level * z0;
        out[a + 1] = k->level * z1;
    }
}

float qr_noise_at(const QrNoiseKey *k, uint64_t i) {
    float b[4];
    qr_noise_block(k, i >> 2, b);
    return b[i & 3];
}

#ifdef __AVX2__
#include <immintrin.h>

// Eight Philox4x32-10 blocks at once (lane l: counter block0 + l), the same
// integer operations as qr_philox4x32_10. Requires block0 + 7 < 2^32 within the
// same high word (the caller keeps runs inside one 2^32-block window).
static inline void philox8(__m256i c0, __m256i c1, uint32_t k0, uint32_t k1, __m256i x[4]) {
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    const __m256i m0 = _mm256_set1_epi32((int)QR_PHILOX_M0), m1 = _mm256_set1_epi32((int)QR_PHILOX_M1);
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += QR_PHILOX_W0;
            k1 += QR_PHILOX_W1;
        }
        // 32x32 -> 64 products of the even lanes, then of the odd lanes.
        __m256i pe0 = _mm256_mul_epu32(c0, m0), po0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
        __m256i pe1 = _mm256_mul_epu32(c2, m1), po1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
        __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
        __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
        __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
        __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    x[0] = c0, x[1] = c1, x[2] = c2, x[3] = c3;
}

static inline __m256 fma8(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }

// qr_noise_ln_u on 8 lanes (m in [1, 2^24]): the same operations in the same order.
static inline __m256 ln_u8(__m256i m) {
    __m256 mf = _mm256_cvtepi32_ps(m); // exact below 2^24 + 1
    __m256i bits = _mm256_castps_si256(mf);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
    __m256 f = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)),
                                                   _mm256_set1_epi32(0x3F800000)));
    __m256 big = _mm256_cmp_ps(f, _mm256_set1_ps(K_SQRT2), _CMP_GT_OQ);
    f = _mm256_blendv_ps(f, _mm256_mul_ps(f, _mm256_set1_ps(0.5f)), big);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big)); // big lanes are -1: e + 1
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 sv = _mm256_div_ps(_mm256_sub_ps(f, one), _mm256_add_ps(f, one));
    __m256 t = _mm256_mul_ps(sv, sv);
    __m256 p = fma8(t, _mm256_set1_ps(K_I11), _mm256_set1_ps(K_I9));
    p = fma8(t, p, _mm256_set1_ps(K_I7));
    p = fma8(t, p, _mm256_set1_ps(K_I5));
    p = fma8(t, p, _mm256_set1_ps(K_I3));
    p = fma8(t, p, one);
    __m256 lnf = _mm256_mul_ps(_mm256_add_ps(sv, sv), p);
    __m256 ef = _mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_set1_epi32(24)));
    return fma8(ef, _mm256_set1_ps(K_LN2), lnf);
}

// qr_noise_cossin on 8 lanes.
static inline void cossin8(__m256i k2, __m256 *c, __m256 *s) {
    __m256i q = _mm256_srli_epi32(k2, 22), r = _mm256_and_si256(k2, _mm256_set1_epi32(0x3FFFFF));
    __m256i swap = _mm256_cmpgt_epi32(r, _mm256_set1_epi32(1 << 21));
    __m256i rr = _mm256_blendv_epi8(r, _mm256_sub_epi32(_mm256_set1_epi32(1 << 22), r), swap);
    __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(rr), _mm256_set1_ps(K_PI_2_23));
    __m256 t2 = _mm256_mul_ps(t, t);
    __m256 ps = fma8(t2, _mm256_set1_ps(K_S9), _mm256_set1_ps(K_S7));
    ps = fma8(t2, ps, _mm256_set1_ps(K_S5));
    ps = fma8(t2, ps, _mm256_set1_ps(K_S3));
    __m256 sn = fma8(_mm256_mul_ps(t, t2), ps, t);
    __m256 pc = fma8(t2, _mm256_set1_ps(K_C10), _mm256_set1_ps(K_C8));
    pc = fma8(t2, pc, _mm256_set1_ps(K_C6));
    pc = fma8(t2, pc, _mm256_set1_ps(K_C4));
    pc = fma8(t2, pc, _mm256_set1_ps(K_C2));
    __m256 cs = fma8(t2, pc, _mm256_set1_ps(1.0f));
    __m256 sw = _mm256_castsi256_ps(swap);
    __m256 s0 = _mm256_blendv_ps(sn, cs, sw), c0 = _mm256_blendv_ps(cs, sn, sw);
    // Quarter turns: q=1 (-s, c), q=2 (-c, -s), q=3 (s, -c).
    __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
    __m256 cc = _mm256_blendv_ps(c0, s0, odd), ss = _mm256_blendv_ps(s0, c0, odd);
    __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 negc = _mm256_castsi256_ps(_mm256_or_si256(_mm256_cmpeq_epi32(q, _mm256_set1_epi32(1)),
                                                      _mm256_cmpeq_epi32(q, _mm256_set1_epi32(2))));
    __m256 negs = _mm256_castsi256_ps(_mm256_or_si256(_mm256_cmpeq_epi32(q, _mm256_set1_epi32(2)),
                                                      _mm256_cmpeq_epi32(q, _mm256_set1_epi32(3))));
    *c = _mm256_xor_ps(cc, _mm256_and_ps(negc, sign));
    *s = _mm256_xor_ps(ss, _mm256_and_ps(negs, sign));
}

// The noise of 32 consecutive elements, blocks b0 .. b0+7 (b0 + 7 in the same
// 2^32-block window), into out[32] in element order.
static void fill32(const QrNoiseKey *k, uint64_t b0, float *out) {
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)b0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32((int)(uint32_t)(b0 >> 32));
    __m256i x[4];
    philox8(c0, c1, k->key[0], k->key[1], x);
    __m256 lv = _mm256_set1_ps(k->level), z[4];
    if (k->dist == QR_NOISE_UNIFORM) {
        for (int j = 0; j < 4; j++) {
            __m256i kk = _mm256_srli_epi32(x[j], 8);
            __m256i v = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(kk, kk), _mm256_set1_epi32(1)),
                                         _mm256_set1_epi32(1 << 24));
            z[j] = _mm256_mul_ps(lv, _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(K_2M24)));
        }
    } else {
        for (int a = 0; a < 4; a += 2) {
            __m256i m = _mm256_add_epi32(_mm256_srli_epi32(x[a], 8), _mm256_set1_epi32(1));
            __m256 R = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), ln_u8(m)));
            __m256 c, sn;
            cossin8(_mm256_srli_epi32(x[a + 1], 8), &c, &sn);
            z[a] = _mm256_mul_ps(lv, _mm256_mul_ps(R, c));
            z[a + 1] = _mm256_mul_ps(lv, _mm256_mul_ps(R, sn));
        }
    }
    float t[4][8];
    for (int j = 0; j < 4; j++) _mm256_storeu_ps(t[j], z[j]);
    for (int l = 0; l < 8; l++)
        for (int j = 0; j < 4; j++) out[4 * l + j] = t[j][l];
}
#endif

void qr_noise_fill(const QrNoiseKey *k, uint64_t start, size_t n, float *out) {
    size_t j = 0;
    float b[4];
    while (j < n) {
        uint64_t i = start + j;
#ifdef __AVX2__
        // Whole runs of 8 blocks go through the 8-lane path (bit-identical);
        // the scalar path takes the edges and runs that cross a 2^32-block boundary.
        uint64_t blk = i >> 2;
        if ((i & 3) == 0 && n - j >= 32 && (uint32_t)blk <= 0xFFFFFFF8u) {
            fill32(k, blk, out + j);
            j += 32;
            continue;
        }
#endif
        qr_noise_block(k, i >> 2, b);
        for (unsigned lane = (unsigned)(i & 3); lane < 4 && j < n; lane++) out[j++] = b[lane];
    }
}

int qr_noise_add(const QrNoiseKey *k, uint64_t start, void *w, QrDType dt, size_t n, int sign) {
    if (dt != QR_DT_F32 && dt != QR_DT_F16 && dt != QR_DT_BF16) return -1;
    // Chunks of 4096 elements: enough work per chunk to amortize scheduling, and
    // each chunk's noise depends only on its element indices.
    const size_t CH = 4096;
    size_t nch = (n + CH - 1) / CH;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nch; c++) {
        float buf[4096];
        size_t off = c * CH, len = n - off < CH ? n - off : CH;
        qr_noise_fill(k, start + off, len, buf);
        if (sign < 0)
            for (size_t j = 0; j < len; j++) buf[j] = -buf[j];
        if (dt == QR_DT_F32) {
            float *p = (float *)w + off;
            for (size_t j = 0; j < len; j++) p[j] = p[j] + buf[j];
        } else {
            uint16_t *p = (uint16_t *)w + off;
            if (dt == QR_DT_BF16)
                for (size_t j = 0; j < len; j++) p[j] = qr_f32_to_bf16(qr_bf16_to_f32(p[j]) + buf[j]);
            else
                for (size_t j = 0; j < len; j++) p[j] = qr_f32_to_f16(qr_f16_to_f32(p[j]) + buf[j]);
        }
    }
    return 0;
}

void qr_noise_add_f32(const QrNoiseKey *k, uint64_t start, float *w, size_t n, int sign) {
    qr_noise_add(k, start, w, QR_DT_F32, n, sign);
}

void qr_noise_key(QrNoiseKey *k, const QrNoiseSpec *s, const char *tensor_name) {
    const char *parts[1] = {tensor_name};
    uint64_t key = qr_key64(s->seed, parts, 1);
    k->key[0] = (uint32_t)key;
    k->key[1] = (uint32_t)(key >> 32);
    k->dist = s->dist;
    k->level = s->level;
}

QrNoiseSite qr_noise_site(QrNoiseTarget t, int quantizable, int model_quantized) {
    switch (t) {
    case QR_NOISE_ALL:
        if (!quantizable || !model_quantized) return QR_NOISE_IN_PLACE;
        return QR_NOISE_IN_KERNEL;
    case QR_NOISE_UNQUANTIZED_ONLY: return quantizable ? QR_NOISE_SKIP : QR_NOISE_IN_PLACE;
    case QR_NOISE_PRE_QUANT:
        if (!quantizable) return QR_NOISE_SKIP;
        return model_quantized ? QR_NOISE_BEFORE_QUANT : QR_NOISE_IN_PLACE;
    case QR_NOISE_POST_QUANT:
        if (!quantizable) return QR_NOISE_SKIP;
        return model_quantized ? QR_NOISE_IN_KERNEL : QR_NOISE_IN_PLACE;
    }
    return QR_NOISE_SKIP;
}

static const char *DIST_NAMES[] = {"gaussian", "uniform"};
static const char *TARGET_NAMES[] = {"all", "unquantized-only", "pre-quant", "post-quant"};

const char *qr_noise_dist_name(QrNoiseDist d) { return (unsigned)d < 2 ? DIST_NAMES[d] : "?"; }
const char *qr_noise_target_name(QrNoiseTarget t) { return (unsigned)t < 4 ? TARGET_NAMES[t] : "?"; }

int qr_noise_parse_dist(const char *s, QrNoiseDist *out, QrErr *e) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(s, DIST_NAMES[i])) return *out = (QrNoiseDist)i, 0;
    return qr_fail(e, "noise distribution '%s': expected gaussian or uniform", s);
}

int qr_noise_parse_target(const char *s, QrNoiseTarget *out, QrErr *e) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, TARGET_NAMES[i])) return *out = (QrNoiseTarget)i, 0;
    return qr_fail(e, "noise target '%s': expected all, unquantized-only, pre-quant or post-quant", s);
}

void qr_noise_matmul_acc(const QrNoiseKey *k, const float *x, int64_t m, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel
    {
        float *nrow = malloc((size_t)cols * sizeof *nrow);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (!nrow) continue;
            qr_noise_fill(k, (uint64_t)r * (uint64_t)cols, (size_t)cols, nrow);
            for (int64_t i = 0; i < m; i++) {
                const float *xi = x + i * cols;
                double acc = 0;
                for (int64_t c = 0; c < cols; c++) acc += (double)xi[c] * nrow[c];
                y[i * rows + r] += (float)acc;
            }
        }
        free(nrow);
    }
}
