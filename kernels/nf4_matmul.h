// NF4 linear layers on the CPU: y[m, rows] = x[m, cols] . W^T with W an NF4
// double-quantized weight (quant/nf4.h), the dequantization fused into the
// product -- the float32 weight is never materialized beyond a small panel.
//
//   qr_nf4_matmul_ref  scalar reference: each weight dequantized exactly as
//                      bitsandbytes does (code * scale, float32), then a float32
//                      dot product in column order. This is what
//                      dequantize_4bit + torch.nn.functional.linear computes up
//                      to the summation order.
//   qr_nf4_matmul      the fast path (OpenMP over output rows; AVX2, and AVX-512
//                      when the CPU has it). Agrees with the reference within
//                      1e-5 of max|y_ref| per output row (tests/test_quant_kernels.c).
//
// Compute dtype (bnb_4bit_compute_dtype): F32 as in the study; F16/BF16 round
// x and each dequantized weight to that type, accumulate in float32 and round
// the result, as torch's half/bfloat16 linear does.
#pragma once
#include <stdint.h>
#include "quant/nf4.h"
#include "util/err.h"

typedef enum { QR_COMPUTE_F32 = 0, QR_COMPUTE_F16, QR_COMPUTE_BF16 } QrComputeType;

// Returns -1 only when out of memory (scratch of a few rows).
int qr_nf4_matmul_ref(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y);
int qr_nf4_matmul(const QrNF4 *w, const float *x, int64_t m, QrComputeType ct, float *y, QrErr *e);
