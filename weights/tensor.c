#include "weights/tensor.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __F16C__
#include <immintrin.h>
#endif

static const struct {
    const char *name;
    size_t size;
} DT[QR_DT_COUNT] = {
    [QR_DT_F32] = {"F32", 4},    [QR_DT_F16] = {"F16", 2},         [QR_DT_BF16] = {"BF16", 2},
    [QR_DT_F64] = {"F64", 8},    [QR_DT_I8] = {"I8", 1},           [QR_DT_U8] = {"U8", 1},
    [QR_DT_I16] = {"I16", 2},    [QR_DT_U16] = {"U16", 2},         [QR_DT_I32] = {"I32", 4},
    [QR_DT_U32] = {"U32", 4},    [QR_DT_I64] = {"I64", 8},         [QR_DT_U64] = {"U64", 8},
    [QR_DT_BOOL] = {"BOOL", 1},  [QR_DT_F8_E4M3] = {"F8_E4M3", 1}, [QR_DT_F8_E5M2] = {"F8_E5M2", 1},
};

size_t qr_dtype_size(QrDType t) { return (unsigned)t < QR_DT_COUNT ? DT[t].size : 0; }
const char *qr_dtype_name(QrDType t) { return (unsigned)t < QR_DT_COUNT ? DT[t].name : "?"; }

int qr_dtype_from_name(const char *s, QrDType *t) {
    for (int i = 0; i < QR_DT_COUNT; i++)
        if (!strcmp(s, DT[i].name)) {
            *t = (QrDType)i;
            return 0;
        }
    return -1;
}

int64_t qr_tensor_numel(const QrTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

const char *qr_shape_str(const QrTensor *t, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < t->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

uint16_t qr_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {.f = f};
    if (isnan(f)) return (uint16_t)((v.u >> 16) | 0x40); // quiet NaN, sign kept
    uint32_t lsb = (v.u >> 16) & 1;
    v.u += 0x7fff + lsb; // round to nearest, ties to even
    return (uint16_t)(v.u >> 16);
}

float qr_f16_to_f32(uint16_t h) {
#ifdef __F16C__
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    union { uint32_t u; float f; } v;
    if (exp == 0) {
        // zero or subnormal: value = man * 2^-24, exact in f32
        v.f = (float)man * 0x1p-24f;
        v.u |= sign;
        return v.f;
    }
    if (exp == 31) v.u = sign | 0x7f800000u | (man << 13);
    else v.u = sign | ((exp + 112) << 23) | (man << 13);
    return v.f;
#endif
}

uint16_t qr_f32_to_f16(float f) {
#ifdef __F16C__
    return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
    union { float f; uint32_t u; } v = {.f = f};
    uint32_t sign = (v.u >> 16) & 0x8000, a = v.u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00); // NaN
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); // rounds to inf
    if (a < 0x38800000u) { // result is subnormal or zero: scale so rounding is done by the FPU
        union { float f; uint32_t u; } t = {.u = a};
        float s = t.f * 0x1p24f; // exact
        uint32_t m = (uint32_t)lrintf(s); // round-half-even (default rounding mode)
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0xfff + ((a >> 13) & 1) - (112u << 23);
    return (uint16_t)(sign | (r >> 13));
#endif
}

int qr_to_f32(QrDType t, const void *src, float *dst, size_t n) {
    switch (t) {
    case QR_DT_F32: memcpy(dst, src, n * 4); return 0;
    case QR_DT_BF16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = qr_bf16_to_f32(s[i]);
        return 0;
    }
    case QR_DT_F16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = qr_f16_to_f32(s[i]);
        return 0;
    }
    default: return -1;
    }
}
