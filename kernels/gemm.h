// Matrix products of activations with float weights, the engine's hot path.
//
//   y[n, out] = x[n, in] . W[out, in]^T        (W row-major as checkpoints store it)
//
// W is f32, f16 or bf16 (converted to f32 in registers; compute is fp32).
//
// Every output element is reduced in ONE canonical order, whatever the batch
// size, thread count or instruction set: eight lane sums s[j] over the k with
// k % 8 == j, each a chain of fused multiply-adds in increasing k, then
// ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)). The AVX2 kernels and the scalar
// reference therefore give the same bits, a token's logits do not depend on
// which other sequences share its batch, and decoding with the KV cache gives
// exactly the logits of recomputing the whole sequence.
#pragma once
#include <stddef.h>
#include "weights/tensor.h"

// Fast path: AVX2/FMA register tiles, and for n > 1 on CPUs with AVX-512
// (kernels/qisa.h) 16-lane tiles that carry two activation rows per register
// (1.33x the AVX2 prefill on an Ice Lake VM); OpenMP across output rows (uses
// the current OpenMP thread count). wt is QR_DT_F32, QR_DT_F16 or QR_DT_BF16.
void qr_gemm(QrDType wt, const void *W, int out, int in, const float *x, int n, float *y);
// Decode (n == 1) streams the weight rows one at a time (one sequential
// memory stream per thread) or eight at a time (eight interleaved streams,
// eight FMA chains). Which is faster depends on the CPU (bench/RESULTS.md): on
// a Zen 4 VM one stream (1.5-2x); on an Ice Lake VM eight (f32 1.16x, bf16
// 1.1x). Default: 1 on AMD, 8 elsewhere; QROBUST_DECODE_ROWS=1|8 in the
// environment overrides. The bits are the same either way (every output
// keeps the canonical order); bench_engine measures both.
int qr_gemm_decode_rows(void);
void qr_gemm_set_decode_rows(int rows); // 1 or 8; 0: back to the default
// Scalar reference in the canonical order (single thread). Same bits as qr_gemm.
void qr_gemm_ref(QrDType wt, const void *W, int out, int in, const float *x, int n, float *y);

// Dot product of two f32 vectors in the canonical order (attention scores).
float qr_dot(const float *a, const float *b, int n);
float qr_dot_ref(const float *a, const float *b, int n);

// y[i] += a * x[i] (one fused multiply-add per element, so any vector width
// gives the same bits).
void qr_axpy(float a, const float *x, float *y, int n);
