// IEEE half <-> float conversions for the LLM.int8 path (bitsandbytes casts
// activations and weights to float16 before quantizing). Round to nearest
// even, overflow to infinity, subnormals kept: what torch's .to(float16) and
// the F16C instruction vcvtps2ph do. The portable code is used without F16C
// and is checked against the instruction in tests/test_quant_int8.c.
#pragma once
#include <stdint.h>
#include <string.h>
#ifdef __F16C__
#include <immintrin.h>
#endif

static inline uint16_t qr_half_from_float_sw(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u)); // NaN, inf
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // >= 65520 rounds to inf
    if (ax < 0x38800000u) {
        // Below the smallest normal half (2^-14): adding 0.5 aligns the value so
        // that the float's rounding leaves the half subnormal in the low bits.
        float a, t;
        memcpy(&a, &ax, 4);
        t = a + 0.5f;
        uint32_t tb;
        memcpy(&tb, &t, 4);
        return (uint16_t)(sign | (tb - 0x3f000000u));
    }
    const uint32_t odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + odd; // exponent rebias (-112 << 23) plus round-half-even
    return (uint16_t)(sign | (ax >> 13));
}

static inline float qr_half_to_float_sw(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        if (m == 0) {
            bits = sign;
        } else { // subnormal: normalize
            e = 113;
            while (!(m & 0x400u)) { m <<= 1; e--; }
            bits = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t qr_half_from_float(float f) {
#ifdef __F16C__
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
    return qr_half_from_float_sw(f);
#endif
}

static inline float qr_half_to_float(uint16_t h) {
#ifdef __F16C__
    return _cvtsh_ss(h);
#else
    return qr_half_to_float_sw(h);
#endif
}

// Float rounded to the nearest half, returned as float (the value a float16
// tensor holds).
static inline float qr_round_half(float f) { return qr_half_to_float(qr_half_from_float(f)); }

// Float rounded to bfloat16 (round to nearest even, NaN kept quiet), as float.
static inline float qr_round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        u |= 0x00400000u;
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
    }
    u &= 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}
