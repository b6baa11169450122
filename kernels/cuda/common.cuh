// Device helpers shared by the .cu files: launch checking, warp reductions,
// half conversions and the weight-noise generator of attacks/noise.h.
//
// The noise code below is a transcription of attacks/noise.c with every
// product and sum written as an explicitly rounded intrinsic (__fmul_rn,
// __fadd_rn, __fdiv_rn, __fsqrt_rn, __fmaf_rn): nvcc may contract a plain
// a * b + c into an FMA, which would change bits; these intrinsics are never
// contracted, so the device computes exactly the CPU's IEEE-754 binary32
// operation sequence.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include "kernels/cuda/qcuda.h"

#define QC_LAUNCHED() cudaGetLastError()

static inline unsigned qc_blocks(size_t n, unsigned t) { return (unsigned)((n + t - 1) / t); }

__device__ __forceinline__ float qc_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double qc_warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float qc_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float qc_bf16_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
__device__ __forceinline__ float qc_f16_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t qc_f32_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
__device__ __forceinline__ uint16_t qc_f32_f16(float f) { return __half_as_ushort(__float2half_rn(f)); }
__device__ __forceinline__ float qc_round_half(float f) { return __half2float(__float2half_rn(f)); }
__device__ __forceinline__ float qc_round_bf16(float f) { return __bfloat162float(__float2bfloat16_rn(f)); }

template <int FMT> __device__ __forceinline__ float qc_load_w(const void *w, size_t i) {
    if (FMT == QC_F32) return ((const float *)w)[i];
    if (FMT == QC_F16) return qc_f16_f32(((const uint16_t *)w)[i]);
    return qc_bf16_f32(((const uint16_t *)w)[i]);
}

// ---- weight noise (attacks/noise.h, attacks/rng.h) ----
#define QC_PHILOX_M0 0xD2511F53u
#define QC_PHILOX_M1 0xCD9E8D57u
#define QC_PHILOX_W0 0x9E3779B9u
#define QC_PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ void qc_philox(uint32_t c0, uint32_t c1, uint32_t k0, uint32_t k1, uint32_t x[4]) {
    uint32_t c2 = 0, c3 = 0;
#pragma unroll
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += QC_PHILOX_W0;
            k1 += QC_PHILOX_W1;
        }
        uint32_t hi0 = __umulhi(QC_PHILOX_M0, c0), lo0 = QC_PHILOX_M0 * c0;
        uint32_t hi1 = __umulhi(QC_PHILOX_M1, c2), lo1 = QC_PHILOX_M1 * c2;
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    x[0] = c0, x[1] = c1, x[2] = c2, x[3] = c3;
}

// The float constants of attacks/noise.c, bit for bit.
#define QC_K_SQRT2 0x1.6a09e6p+0f
#define QC_K_LN2 0x1.62e430p-1f
#define QC_K_I3 0x1.555556p-2f
#define QC_K_I5 0x1.99999ap-3f
#define QC_K_I7 0x1.24924ap-3f
#define QC_K_I9 0x1.c71c72p-4f
#define QC_K_I11 0x1.745d18p-4f
#define QC_K_PI_2_23 0x1.921fb6p-22f
#define QC_K_S3 -0x1.555556p-3f
#define QC_K_S5 0x1.111112p-7f
#define QC_K_S7 -0x1.a01a02p-13f
#define QC_K_S9 0x1.71de3ap-19f
#define QC_K_C2 -0x1.000000p-1f
#define QC_K_C4 0x1.555556p-5f
#define QC_K_C6 -0x1.6c16c2p-10f
#define QC_K_C8 0x1.a01a02p-16f
#define QC_K_C10 -0x1.27e4fcp-22f
#define QC_K_2M24 0x1p-24f

__device__ __forceinline__ float qc_noise_ln_u(uint32_t m) {
    int e = 31 - __clz((int)m);
    float f = ldexpf((float)m, -e); // exact
    if (f > QC_K_SQRT2) {
        f = __fmul_rn(f, 0.5f);
        e += 1;
    }
    float s = __fdiv_rn(__fsub_rn(f, 1.0f), __fadd_rn(f, 1.0f));
    float t = __fmul_rn(s, s);
    float p = __fmaf_rn(t, QC_K_I11, QC_K_I9);
    p = __fmaf_rn(t, p, QC_K_I7);
    p = __fmaf_rn(t, p, QC_K_I5);
    p = __fmaf_rn(t, p, QC_K_I3);
    p = __fmaf_rn(t, p, 1.0f);
    float lnf = __fmul_rn(__fadd_rn(s, s), p);
    return __fmaf_rn((float)(e - 24), QC_K_LN2, lnf);
}

__device__ __forceinline__ void qc_noise_cossin(uint32_t k2, float *c, float *s) {
    uint32_t q = k2 >> 22, r = k2 & 0x3FFFFFu;
    int swap = r > (1u << 21);
    uint32_t rr = swap ? (1u << 22) - r : r;
    float t = __fmul_rn((float)rr, QC_K_PI_2_23);
    float t2 = __fmul_rn(t, t);
    float ps = __fmaf_rn(t2, QC_K_S9, QC_K_S7);
    ps = __fmaf_rn(t2, ps, QC_K_S5);
    ps = __fmaf_rn(t2, ps, QC_K_S3);
    float t3 = __fmul_rn(t, t2);
    float sn = __fmaf_rn(t3, ps, t);
    float pc = __fmaf_rn(t2, QC_K_C10, QC_K_C8);
    pc = __fmaf_rn(t2, pc, QC_K_C6);
    pc = __fmaf_rn(t2, pc, QC_K_C4);
    pc = __fmaf_rn(t2, pc, QC_K_C2);
    float cs = __fmaf_rn(t2, pc, 1.0f);
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

// The noise of elements 4*block .. 4*block+3 (times level): qr_noise_block.
__device__ __forceinline__ void qc_noise_block(const QcNoise &k, uint64_t block, float out[4]) {
    uint32_t x[4];
    qc_philox((uint32_t)block, (uint32_t)(block >> 32), k.key[0], k.key[1], x);
    if (k.dist == 1) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int32_t kk = (int32_t)(x[j] >> 8);
            float v = __fmul_rn((float)(2 * kk + 1 - (1 << 24)), QC_K_2M24);
            out[j] = __fmul_rn(k.level, v);
        }
        return;
    }
#pragma unroll
    for (int a = 0; a < 4; a += 2) {
        float lnu = qc_noise_ln_u((x[a] >> 8) + 1);
        float R = __fsqrt_rn(__fmul_rn(-2.0f, lnu));
        float c, s;
        qc_noise_cossin(x[a + 1] >> 8, &c, &s);
        out[a] = __fmul_rn(k.level, __fmul_rn(R, c));
        out[a + 1] = __fmul_rn(k.level, __fmul_rn(R, s));
    }
}

__device__ __forceinline__ float qc_noise_at(const QcNoise &k, uint64_t i) {
    float b[4];
    qc_noise_block(k, i >> 2, b);
    return b[i & 3];
}
