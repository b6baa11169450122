// NF4 linear layers on the CPU: y[m, rows] = x[m, cols] . W^T with W an NF4
// double-quantized weight (quant/nf4.h). The dequantization is fused into the
// product; no float copy of the weight is ever made.
//
// Canonical order (cols % 64 == 0, float32 compute). Like kernels/gemm.h, every
// output element is reduced in ONE order, whatever the batch size, thread
// count or instruction set, so decode and prefill agree bit for bit and a
// token's logits do not depend on its batch. For a weight row and x:
//   per 64-block b (ascending), h = b & 1, per lane d = 0..7 (elements 8d..8d+7):
//     s0 = fma chain over p = 0,2,4,6 of code[q(8d+(p^1))] * x(8d+(p^1)), from +0
//     s1 = fma chain over p = 1,3,5,7, the same way
//     acc[h][d] = fma(s0 + s1, scale_b, acc[h][d])
//   t[d] = acc[0][d] + acc[1][d]
//   y = ((t0+t4) + (t2+t6)) + ((t1+t5) + (t3+t7))
// (nibble p of the 32-bit lane d is element 8d + (p^1): bytes little-endian,
// high nibble first). The block scale factors out of the block's sum; even
// and odd blocks keep separate accumulators so that AVX-512 can hold a block
// pair in one 16-lane register and scale it with two masked fmas.
//
// Otherwise (cols % 64 != 0: blocks straddle rows; or a float16/bfloat16
// compute dtype) each weight is dequantized as bitsandbytes does
// (code * scale, rounded to the compute dtype) and the dot product is a plain
// left-to-right sum, rounded to the compute dtype -- what torch's
// dequantize_4bit + linear computes up to summation order.
//
//   qr_nf4_matmul_ref  scalar reference of the above (no allocation)
//   qr_nf4_matmul      AVX2, AVX-512 (decode) and OpenMP; the same bits as the
//                      reference (tests/test_quant_kernels.c). Never fails: if
//                      its scratch cannot be allocated it computes the reference.
//
// Both agree with dequantize-then-float32-matmul within 1e-5 of max |y|.
#pragma once
#include <stdint.h>
#include "quant/nf4.h"

typedef enum { QR_COMPUTE_F32 = 0, QR_COMPUTE_F16, QR_COMPUTE_BF16 } QrComputeType;

void qr_nf4_matmul_ref(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y);
void qr_nf4_matmul(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y);
// k weights against one x (q, k and v; gate and up): y[i] = x . w[i]^T with the
// same bits as k calls of qr_nf4_matmul, in one parallel pass when all have
// the same cols, the canonical order and k <= 4 (one thread hand-off instead of
// k; otherwise k calls).
void qr_nf4_matmul_multi(const QrNF4 *const *w, int k, const float *x, int64_t m, QrComputeType ct, float *const *y);
