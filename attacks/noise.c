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

void qr_noise_fill(const QrNoiseKey *k, uint64_t start, size_t n, float *out) {
    size_t j = 0;
    float b[4];
    while (j < n) {
        uint64_t i = start + j;
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
